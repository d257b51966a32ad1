"""``lmm bench blocking``: in-betweening as an animator blocks a shot, keys only, on held-out takes.

An animator keys a pose every 15-30 frames and nothing else, or two poses far apart; the benchmarks of
papers give 10 frames of context and one key. Here each window of a held-out take (canonical body, 30
fps) keeps only its key frames: every 8, 15 or 30 frames over 121 frames, or two keys 30-120 frames
apart. On the frames made, each method is scored against the capture and against the capture's own
numbers:

- ``error_m``: mean joint position error, metres (global positions, every joint and made frame);
  ``error_ratio``: that over plain interpolation's on the same keys.
- ``skate`` / ``skate_capture``: foot-skate ratio (``feet.foot_skate``) on the made frames,
  mean over windows, of the method and of the capture; ``skate_ratio`` the first over the second.
- ``acc99`` / ``acc99_capture``: 99th percentile of joint accelerations (metres/frame^2) on the made
  frames; ``acc_ratio``: pops show here.
- ``key_jump``: mean change of joint velocity across each inner key (metres/frame), and the capture's.

Methods: ``interp`` (lerp/slerp between keys), ``model`` (deterministic, then the clean-up users get:
limits and locked feet), and for a sampling model ``sampled`` (one draw per window, seed = window
index, ``variation`` its temperature, then the same clean-up). A next-frame in-betweener
(``next_frame_methods``) gives the same two, rolled from key to key. Both model methods run as users get
them, the key check included (``Model.check_keys``, ``model/trust.py``); set it False on the model to
score the network's whole correction.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from ..canonical import JOINT_INDEX, TOE_JOINTS, canonical_skeleton
from ..feet import RULES, foot_skate
from ..model.next_frame import NextFrameModel
from ..model.runtime import Model
from ..model.tasks import inbetween
from ..motion import Motion
from ..progress import progress
from .baselines import interpolation
from .inbetween import corpus_clips

FPS = 30.0
# (name, key spacing in frames, window length in frames): keys at 0, spacing, 2 * spacing ... window - 1.
SETTINGS = (("every 8", 8, 121), ("every 15", 15, 121), ("every 30", 30, 121),
            ("gap 30", 30, 31), ("gap 60", 60, 61), ("gap 90", 90, 91), ("gap 120", 120, 121))
IN_DOMAIN = ("bandai1", "bandai2", "reactidle", "cmu", "cmu_iclone")
TOES = tuple(JOINT_INDEX[n] for n in TOE_JOINTS)  # the canonical body's toe (ball of the foot) joints


@dataclass
class Group:
    """Held-out takes scored together: ``clips`` of ``(name, rotations (T, 22, 4), root (T, 3))``."""

    name: str
    clips: list


def held_out_groups(corpus: str | Path, off_domain_subject: int = 4, raised: float = 0.3) -> list[Group]:
    """In-domain: the validation split of every source the shipped model trains on. Off-domain: LAFAN1's
    takes of subject ``off_domain_subject`` (obstacles, falls, dances; the shipped model never sees LAFAN1).
    With ``raised`` (metres, 0: none), the in-domain takes again standing that much higher, as on a
    platform or a stair: the character standing somewhere other than where the capture stood."""
    val = corpus_clips(corpus, "val", list(IN_DOMAIN))
    held = {(c["source"], c["split"]) for c in json.loads((Path(corpus) / "index.json").read_text())["clips"]}
    lafan = [c for split in ("train", "val") if ("lafan1", split) in held for c in corpus_clips(corpus, split, ["lafan1"])
             if c.name.endswith(f"_subject{off_domain_subject}")]
    groups = [Group("in-domain", [(c.name, c.rotations, c.root) for c in val])]
    if raised:
        up = np.array([0.0, raised, 0.0])
        groups.append(Group(f"in-domain, {raised:g} m up", [(c.name, c.rotations, c.root + up) for c in val]))
    if lafan:
        groups.append(Group(f"LAFAN1 subject {off_domain_subject}", [(c.name, c.rotations, c.root) for c in lafan]))
    return groups


def windows(clips: list, length: int, count: int, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """Up to ``count`` windows of ``length`` frames, spread over the clips (at most one per ``length``
    frames of each clip), drawn with a fixed seed so every method sees the same ones."""
    starts = [(i, s) for i, (_, _, root) in enumerate(clips) for s in range(0, len(root) - length + 1, length)]
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(starts), size=min(count, len(starts)), replace=False) if starts else []
    out = []
    for k in sorted(pick):
        i, s = starts[k]
        _, rot, root = clips[i]
        out.append((np.asarray(rot[s:s + length], dtype=np.float64), np.asarray(root[s:s + length], dtype=np.float64)))
    return out


def key_mask(length: int, spacing: int) -> np.ndarray:
    """``(length,)`` bool: keys at 0, spacing, 2 * spacing, ... and the last frame."""
    known = np.zeros(length, dtype=bool)
    known[::spacing] = True
    known[-1] = True
    return known


def _positions(rot: np.ndarray, root: np.ndarray) -> np.ndarray:
    return Motion(canonical_skeleton(), rot, root, FPS).global_positions()


def _accelerations(pos: np.ndarray, made: np.ndarray) -> np.ndarray:
    """Joint acceleration norms ``(n,)`` (metres/frame^2) at the made frames that have both neighbours."""
    acc = np.linalg.norm(pos[2:] - 2 * pos[1:-1] + pos[:-2], axis=-1)  # (T - 2, J)
    return acc[made[1:-1]].ravel()


def _stance(pos: np.ndarray, made: np.ndarray, ground: np.ndarray, band: float) -> tuple[float, float]:
    """Two height-blind checks of the feet on the made frames of ``pos (T, 22, 3)``: the mean horizontal speed of
    the slower toe (m/s; in a walk one foot is always down, so when the slower one moves, a foot slides), and
    the share of frames with both toes more than ``band`` (metres) above ``ground`` ``(2,)``, each toe's ground
    level in the capture of the window (``_toe_ground``), so feet held up for a whole gap count too. The skate
    ratio counts only feet within that band, so feet held off the floor lower it without standing any stiller;
    these two show it."""
    toes = pos[:, TOES]
    speed = np.linalg.norm(np.gradient(toes[..., [0, 2]], axis=0), axis=-1) * FPS
    lift = toes[..., 1] - ground
    return float(speed.min(axis=1)[made].mean()), float(np.mean((lift.min(axis=1) > band)[made]))


def _toe_ground(rot: np.ndarray, root: np.ndarray) -> tuple[np.ndarray, float]:
    """Of a captured window: each toe's ground level ``(2,)`` and the ground band, metres, as the skate measure
    finds them (``feet.detect`` with ``RULES["ground"]``: the 2nd percentile of the height, 2% of the body's
    height above it)."""
    motion = Motion(canonical_skeleton(), rot, root, FPS)
    toes = motion.global_positions()[:, TOES, 1]
    return np.percentile(toes, 2, axis=0), RULES["ground"].max_lift * motion.height()


def _key_jumps(pos: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Mean over joints of the change of velocity across each inner key, metres/frame."""
    keys = np.flatnonzero(known)
    keys = keys[(keys > 0) & (keys < len(known) - 1)]
    return np.array([np.linalg.norm((pos[k + 1] - pos[k]) - (pos[k] - pos[k - 1]), axis=-1).mean() for k in keys])


Method = Callable[[np.ndarray, np.ndarray, np.ndarray, int], tuple[np.ndarray, np.ndarray]]


def model_methods(model: Model, variation: float = 1.0, clean: bool = True) -> dict[str, Method]:
    """The model's methods: deterministic, and (a sampling model) one seeded draw per window, each exactly as
    users get it: ``tasks.inbetween`` on the window's keys (the key check, the clean-up, ``match_keys``)."""
    def run(amount):
        def method(rot, root, known, index):
            motion = Motion(canonical_skeleton(), rot, root, FPS)
            made = inbetween(motion, np.flatnonzero(known), model, clean=clean, seed=index, variation=amount,
                             method="network")
            return made.rotations, made.root_positions
        return method

    methods = {"model": run(0.0)}
    if model.samples and variation > 0:
        methods["sampled"] = run(variation)
    return methods


def next_frame_methods(nf: NextFrameModel, variation: float = 1.0, clean: bool = True) -> dict[str, Method]:
    """A next-frame in-betweener's methods, as users get them (``tasks.inbetween(method="next-frame")``):
    ``model`` draws with the latent at its mean (variation 0), ``sampled`` one seeded draw per window."""
    def run(amount):
        def method(rot, root, known, index):
            motion = Motion(canonical_skeleton(), rot, root, FPS)
            made = inbetween(motion, np.flatnonzero(known), clean=clean, seed=index, variation=amount,
                             method="next-frame", next_frame=nf)
            return made.rotations, made.root_positions
        return method

    return {"model": run(0.0)} | ({"sampled": run(variation)} if variation > 0 else {})


def run_blocking(groups: list[Group], methods: dict[str, Method], per_setting: int = 40,
                 show_progress: bool = False) -> dict:
    """Scores ``{group: {setting: {method: {metric: value}}}}`` (see the module docstring); ``interp`` is
    always scored, as the reference of ``error_ratio``."""
    methods = {"interp": lambda rot, root, known, i: interpolation(rot, root, known), **methods}
    results: dict = {}
    for group in groups:
        results[group.name] = {}
        for name, spacing, length in SETTINGS:
            wins = windows(group.clips, length, per_setting)
            if not wins:  # no take of the group is that long
                continue
            known = key_mask(length, spacing)
            made = ~known
            truth = [_positions(rot, root) for rot, root in wins]
            cap_skate = [foot_skate(Motion(canonical_skeleton(), rot, root, FPS), frames=made) for rot, root in wins]
            cap_acc = np.concatenate([_accelerations(p, made) for p in truth])
            cap_jump = np.concatenate([_key_jumps(p, known) for p in truth])
            grounds = [_toe_ground(rot, root) for rot, root in wins]
            cap_stance = np.array([_stance(p, made, *gb) for p, gb in zip(truth, grounds)])
            row = {}
            for mname, method in methods.items():
                err, skate, acc, jump, stance = [], [], [], [], []
                bar = progress(list(enumerate(wins)), desc=f"{group.name} {name} {mname}", unit="window",
                               enabled=show_progress)
                for i, (rot, root) in bar:
                    r, p = method(rot, root, known, i)
                    pos = _positions(r, p)
                    err.append(np.linalg.norm(pos - truth[i], axis=-1)[made].mean())
                    skate.append(foot_skate(Motion(canonical_skeleton(), r, p, FPS), frames=made))
                    acc.append(_accelerations(pos, made))
                    jump.append(_key_jumps(pos, known))
                    stance.append(_stance(pos, made, *grounds[i]))
                jumps = np.concatenate(jump)
                row[mname] = {
                    "windows": len(wins), "error_m": float(np.mean(err)), "skate": float(np.mean(skate)),
                    "skate_capture": float(np.mean(cap_skate)),
                    "acc99": float(np.percentile(np.concatenate(acc), 99)), "acc99_capture": float(np.percentile(cap_acc, 99)),
                    # Two-key windows have no inner key.
                    "key_jump": float(np.mean(jumps)) if len(jumps) else 0.0,
                    "key_jump_capture": float(np.mean(cap_jump)) if len(cap_jump) else 0.0,
                    "stance_speed": float(np.mean([a for a, _ in stance])), "stance_speed_capture": float(cap_stance[:, 0].mean()),
                    "both_up": float(np.mean([b for _, b in stance])), "both_up_capture": float(cap_stance[:, 1].mean()),
                }
            ref = row["interp"]["error_m"]
            for v in row.values():
                v["error_ratio"] = v["error_m"] / ref if ref > 0 else float("nan")
                v["skate_ratio"] = v["skate"] / max(v["skate_capture"], 1e-3)
                v["acc_ratio"] = v["acc99"] / max(v["acc99_capture"], 1e-9)
                v["stance_ratio"] = v["stance_speed"] / max(v["stance_speed_capture"], 1e-3)
            results[group.name][name] = row
    return results


def format_blocking(results: dict) -> str:
    """A table per group: one line per setting and method."""
    lines = []
    for group, settings in results.items():
        lines.append(f"{group}")
        lines.append(f"  {'setting':<9} {'method':<8} {'windows':>7} {'error m':>8} {'/interp':>7} {'skate':>6} "
                     f"{'/capture':>8} {'acc99':>7} {'/capture':>8} {'key jump':>8} {'capture':>8} {'stance':>6} {'/capture':>8} "
                     f"{'both up':>7} {'capture':>7}")
        for setting, row in settings.items():
            for method, v in row.items():
                lines.append(f"  {setting:<9} {method:<8} {v['windows']:>7d} {v['error_m']:>8.3f} {v['error_ratio']:>7.2f} "
                             f"{v['skate']:>6.3f} {v['skate_ratio']:>8.2f} {v['acc99']:>7.4f} {v['acc_ratio']:>8.2f} "
                             f"{v['key_jump']:>8.4f} {v['key_jump_capture']:>8.4f} {v['stance_speed']:>6.3f} {v['stance_ratio']:>8.2f} "
                             f"{v['both_up']:>7.3f} {v['both_up_capture']:>7.3f}")
    return "\n".join(lines)
