"""What the model does, on any rig: in-between, complete, generate, read intent.

Each task moves the input onto the canonical body (retargeting), runs the numpy model at its frame
rate, and moves the result back onto the input's rig at the input's frame rate. Frames the user gave
are returned *exactly*: the small difference a retarget round trip leaves at the kept frames is
measured there and blended away over the frames between them, so nothing pops. Generation has no input
rig: it makes motion on the canonical body, and ``from_canonical`` puts that on any rig.
"""
from __future__ import annotations

import copy

import functools
from dataclasses import replace
from pathlib import Path

import numpy as np

from .. import rotations as R
from ..bonemap import BoneMap, bone_map_for
from ..canonical import FORWARD as _CANON_FORWARD
from ..canonical import canonical_skeleton
from ..cleanup import clean_up
from ..errors import LMMError
from ..feet import foot_contacts
from ..motion import Motion
from ..retarget import Binding, bind_motion, retarget
from ..skeleton import Skeleton
from . import goals
from .body import canonical_body
from .floor import ground, start_level
from .next_frame import DEFAULT as DEFAULT_GENERATOR
from .next_frame import DEFAULT_KEYS, NextFrameModel
from .next_frame import load as load_next_frame
from .runtime import Model, Sample, load
from .segments import held_styles

_CANON = canonical_skeleton()
_BODY = canonical_body()
_CANON_MAP = bone_map_for(_CANON, "canonical")


def _model(model: Model | str | None) -> Model:
    m = model if isinstance(model, Model) else load(model)
    if not m.body.is_canonical:
        # Such models (the LAFAN1 benchmark's) read and write one rig's own joints; the tasks here go
        # through the canonical body to work on any rig.
        raise LMMError(f"{m.path} works on a rig's own skeleton ({', '.join(m.body.names[:3])}, ...), not on the "
                       "canonical body; it is a benchmark model (`lmm bench lafan1 --model`), not one for these commands")
    return m


def to_canonical(motion: Motion, fps: float, source_map=None) -> Motion:
    """The motion on the canonical body at ``fps`` (feet not pinned: the model sees the source as is)."""
    if motion.skeleton.names == _CANON.names and np.allclose(motion.skeleton.offsets[1:], _CANON.offsets[1:]):
        if source_map is not None:
            bone_map_for(motion.skeleton, source_map)  # a map given must still fit (its error names the bones)
        canon = motion  # no map needed: telling the rig's preset apart took 4 ms of a 30-frame in-between's 57
    else:
        canon = retarget(motion, bone_map_for(motion.skeleton, source_map), _CANON, _CANON_MAP, fix_feet=False)
    return canon if canon.fps == fps else canon.resampled(fps)


def _resample_to(motion: Motion, fps: float, frames: int) -> Motion:
    """Resample and pad/crop to exactly ``frames`` frames (holding the last)."""
    m = motion if motion.fps == fps else motion.resampled(fps)
    if m.num_frames < frames:
        pad = frames - m.num_frames
        m = replace(m, rotations=np.concatenate([m.rotations, np.repeat(m.rotations[-1:], pad, 0)]),
                    root_positions=np.concatenate([m.root_positions, np.repeat(m.root_positions[-1:], pad, 0)]),
                    translations=None if m.translations is None else np.concatenate([m.translations, np.repeat(m.translations[-1:], pad, 0)]))
    return m.slice(0, frames)


def from_canonical(canon: Motion, target: Skeleton, target_map: BoneMap | Binding | str | Path | None = None, *,
                   root_motion: str = "keep", fix_feet: bool = True) -> Motion:
    """A motion on the canonical body (``generate``'s) on the rig ``target``.

    Args:
        canon: ``T`` frames on the canonical body: ``(T, 22, 4)`` local rotations, ``(T, 3)`` root path in
            metres, Y up.
        target: the rig, ``J`` joints; its rest pose is its reference.
        target_map: the rig's ``BoneMap`` or ``Binding`` as is, a preset name or bone map file fitted to it,
            or ``None`` to detect the preset (else map automatically; ``bonemap.bone_map_for``).
        root_motion, fix_feet: as for ``retarget.retarget``.

    Returns:
        ``T`` frames at ``canon``'s frame rate on ``target``: ``(T, J, 4)`` local rotations, root path in
        the target's units and up axis.
    """
    if not isinstance(target_map, (BoneMap, Binding)):
        target_map = bone_map_for(target, target_map)
    return retarget(canon, _CANON_MAP, target, target_map, root_motion=root_motion, fix_feet=fix_feet)


def _back_onto(canon: Motion, like: Motion, frames: int, source_map=None) -> Motion:
    """A canonical result back on ``like``'s rig (bound to its pose) and frame rate, ``frames`` long."""
    if like.skeleton.names == _CANON.names and np.allclose(like.skeleton.offsets[1:], _CANON.offsets[1:]):
        out = canon
    else:
        smap = bone_map_for(like.skeleton, source_map)
        out = from_canonical(canon, like.skeleton, bind_motion(like, smap))
    return _resample_to(out, like.fps, frames)


def match_keys(result: Motion, original: Motion, keys: np.ndarray) -> Motion:
    """``result`` with frames ``keys`` equal to ``original``'s, the correction eased across the frames
    between keys (slerp of rotation corrections, lerp of translation corrections), held beyond the
    first and last key. Both motions share skeleton and frame count."""
    keys = np.unique(np.asarray(keys, dtype=int))
    T = result.num_frames
    delta_rot = R.inv_mul(result.rotations[keys], original.rotations[keys])  # (K, J, 4)
    delta_rot = R.unroll(delta_rot)
    delta_root = original.root_positions[keys] - result.root_positions[keys]
    t = np.arange(T)
    nxt = np.clip(np.searchsorted(keys, t, side="left"), 0, len(keys) - 1)
    prv = np.clip(nxt - 1, 0, len(keys) - 1)
    exact = keys[nxt] == t
    prv = np.where(exact | (t < keys[0]), nxt, prv)
    span = np.maximum(keys[nxt] - keys[prv], 1)
    w = np.where(keys[nxt] == keys[prv], 0.0, (t - keys[prv]) / span)
    w = np.clip(w, 0, 1)
    d = R.slerp(delta_rot[prv], delta_rot[nxt], np.broadcast_to(w[:, None], delta_rot[prv].shape[:-1]))
    rotations = R.mul(result.rotations, d)
    rotations[keys] = original.rotations[keys]
    root = result.root_positions + delta_root[prv] * (1 - w[:, None]) + delta_root[nxt] * w[:, None]
    root[keys] = original.root_positions[keys]
    translations = result.translations
    if original.translations is not None:
        if translations is None:
            translations = result.local_positions()
        dt = original.translations[keys] - translations[keys]
        translations = translations + dt[prv] * (1 - w[:, None, None]) + dt[nxt] * w[:, None, None]
        translations[keys] = original.translations[keys]
    return replace(result, rotations=rotations, root_positions=root, translations=translations)


def clean_made(canon: Motion, contacts: np.ndarray, clean: bool = True, floor_frames: np.ndarray | None = None,
           anchor_frames: np.ndarray | None = None, widen_limits: bool = False) -> Motion:
    """The model's output cleaned: joints inside the learned limits, feet locked on its predicted contacts
    ``(T, 4)`` and wherever the motion itself shows a foot down (kept above the floor on ``floor_frames``,
    default all; held where ``anchor_frames`` have them)."""
    if not clean:
        return canon
    # The given contacts (the network's, or a bank's found by the corpus's strict rule: slower than
    # 0.26 m/s) miss the feet that are down but gliding, and those are the ones to lock. The clean-up's
    # own detector (within 3.4 cm of the ground, slower than 0.85 m/s) finds them. Measured 2026-12-05
    # on model card step 14's file, foot-skate ratio with / without it: generated clips (16 actions x
    # 12 seeds, 6 s) 0.037 / 0.046, their recorded frames 0.035 / 0.044, their transitions 0.051 /
    # 0.064; 30- and 15-frame in-betweens of validation clips 0.044 / 0.054 (those frames of the real
    # clips: 0.038). The feet's worst frame-to-frame accelerations did not grow.
    down = (contacts > 0.5) | foot_contacts(canon)
    return clean_up(canon, contacts=down, floor_frames=floor_frames, anchor_frames=anchor_frames,
                    widen_limits=widen_limits)


# ``_clean_on_ground`` cleans on the keys' ground only where it is one ground (metres of spread): a platform.
ONE_GROUND = 0.05


def _clean_on_ground(canon: Motion, contacts: np.ndarray, clean: bool, known: np.ndarray, **kw) -> Motion:
    """``clean_made`` on the ground the frames ``known (T,)`` (keys, given motion) stand on (``floor.ground``)
    where that is one ground (``ONE_GROUND``: a platform, a box), as the networks roll on it: on y = 0 a foot on
    a platform never counted as down (``foot_contacts`` caps the ground at the floor), so its glides were not
    locked, and the clean-up's floor let it sink below the platform. Measured 2026-12-07, the blocking benchmark's in-domain
    windows standing 0.3 m up (40 each, as users get it): in-betweens' skate / the capture's with a key every 15
    1.15 -> 1.02, two keys 30 / 60 apart 1.39 / 1.19 -> 1.29 / 1.02 (on the floor the same bit for bit: no
    ground is found there); a Bandai walk completed 2 s from 0.3 m up slid 0.315 where on the floor 0.120."""
    if not clean:
        return canon
    level = ground(canon.rotations, canon.root_positions,
                   np.broadcast_to(np.asarray(known, dtype=bool)[:, None], canon.rotations.shape[:2]),
                   _BODY.offsets, _BODY.parents, list(_BODY.contacts[:2]))
    if level is None or np.ptp(level) > ONE_GROUND:
        # A ground that changes between the keys (a step up, or a pose keyed in the air) is left to the floor, as
        # before: its ramp between keys pinned feet mid-stride (two Rigify poses keyed 60 frames apart, the second
        # lifted 0.6 m: a bone jumped 14 cm in a frame).
        return clean_made(canon, contacts, clean, **kw)
    return _clean_lifted(canon, contacts, clean, level, **kw)


def _clean_lifted(made: Motion, contacts: np.ndarray, clean: bool, level: float | np.ndarray, **kw) -> Motion:
    """``clean_made`` with the motion lowered by ``level`` (metres: one, or ``(T,)``) and raised again after."""
    lift = np.zeros_like(made.root_positions)
    lift[:, 1] = level
    cleaned = clean_made(replace(made, root_positions=made.root_positions - lift), contacts, clean, **kw)
    return replace(cleaned, root_positions=cleaned.root_positions + lift)


def _clean_from_start(made: Motion, contacts: np.ndarray, clean: bool,
                      start: tuple[np.ndarray, np.ndarray] | None) -> Motion:
    """``clean_made`` on new frames that carry ``start`` (canonical rotations and root) on, on the ground the
    start ends on (``_clean_on_ground`` says why); on the floor without a start."""
    if start is None or not clean:
        return clean_made(made, contacts, clean)
    level = start_level(start[0], start[1], _BODY.offsets, _BODY.parents, list(_BODY.contacts[:2]))
    return _clean_lifted(made, contacts, clean, level) if level else clean_made(made, contacts, clean)


def _sample(m: Model, seed: int, variation: float) -> Sample | None:
    """The draw asked for: ``None`` (the deterministic answer) at variation 0; a seeded draw otherwise,
    which only a sampling model can make."""
    if not 0 <= variation <= 1:
        raise LMMError(f"--variation must be from 0 to 1, got {variation}")
    if variation == 0:
        return None
    if not m.samples:
        raise LMMError(f"{m.path or 'this model'} does not sample (it was not trained with --sampling or --modes); "
                       "use --variation 0, or a sampling model")
    return Sample.seeded(seed, temperature=variation)


def fill_checked(m: Model, rotations: np.ndarray, root: np.ndarray, known: np.ndarray, action: int = 0, style: int = 0,
                 sample: Sample | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """``Model.fill`` with the key check's share (``Model.key_trust``; 1 with ``check_keys`` off) decided once
    for the clip and returned, and the network's contact probabilities scaled by it: its contacts are its
    output too, and where its correction was mistrusted so are they (LAFAN1 subject 4, a key every 8
    frames: pinning the feet on the network's contacts moved the made frames 1.0 cm further from the
    capture, on the clean-up's own contacts 0.0 cm). Returns rotations, root, contacts ``(T, 4)``, share."""
    share = m.key_trust(rotations, root, known, action, style) if m.check_keys else 1.0
    rot, pos, con = m.fill(rotations, root, known, action, style, sample=sample, correction=share)
    return rot, pos, con * share, share


def inbetween(motion: Motion, keys, model: Model | str | None = None, source_map=None,
              action: str | None = None, style: str | None = None, clean: bool = True, seed: int = 0,
              variation: float = 0.0, method: str = "auto",
              next_frame: "NextFrameModel | str | Path | None" = None, rollouts: int | None = None) -> Motion:
    """Keep frames ``keys`` of ``motion`` and make all the others.

    Args:
        motion: any rig, any frame rate; only the key frames are read.
        keys: frame indices (at least one; two or more to in-between).
        clean: keep joints inside their learned limits and lock feet on the predicted contacts and
            wherever the result shows a foot down (the key frames are restored exactly afterwards either way).
        seed, variation: with ``variation`` above 0 (0 to 1, the draw's temperature), one draw of what may
            happen between the keys (the next-frame in-betweener's, or a sampling window model's), the same for
            the same seed; at 0 the deterministic answer.
        method: ``"network"``, the in-betweening window network (``model``); ``"next-frame"``, the
            next-frame in-betweener (``next_frame``: a ``NextFrameModel`` trained with keys or its file, the
            shipped ``lmm_next_frame_keys.npz`` by default) rolled from key to key (``NextFrameModel.inbetween``),
            ``variation`` scaling its latent draws, checked on the keys as the window network is
            (``NextFrameModel.checked_inbetween``); or ``"auto"`` (default): ``model`` named alone, the window
            network; ``next_frame`` named alone, the next-frame in-betweener; else each gap to one of them
            (``window_frames``): the window network for gaps longer than ``LONG_GAP`` frames (at 30 fps) after
            given motion (``GIVEN_RUN`` frames' time keyed frame by frame), the next-frame in-betweener for the
            rest: keys alone, short gaps, any draw.
        rollouts: how many rollouts the next-frame in-betweener draws for each gap of 20 frames or more, the
            one that keeps its feet kept (``next_frame.CANDIDATES``; default 8, or 16 from 45 frames); 1 is the
            fastest (a 30-frame gap about half the time) and slides more.
    Returns:
        A motion on the same rig, frame rate and length whose key frames equal the input's exactly.
    """
    if method not in INBETWEEN_METHODS:
        raise LMMError(f"--method must be one of {', '.join(INBETWEEN_METHODS)}, got {method!r}")
    keys = np.unique(np.asarray(list(keys), dtype=int))
    if len(keys) == 0:
        raise LMMError("give at least one key frame (e.g. --keys 0,20,45)")
    if keys[0] < 0 or keys[-1] >= motion.num_frames:
        raise LMMError(f"key frames must lie in 0..{motion.num_frames - 1}, got {keys[0]}..{keys[-1]}")
    if not 0 <= variation <= 1:
        raise LMMError(f"--variation must be from 0 to 1, got {variation}")
    window = None  # (T,) bool: the made frames the window network makes; the next-frame in-betweener the rest
    if method == "auto":
        # A network file named is the user's choice for every gap (both named: each for its gaps, as shipped).
        if model is not None and next_frame is None:
            method = "network"
        elif next_frame is not None and model is None:
            method = "next-frame"
        else:
            canon, known = _known(motion, keys, AUTO_FPS, source_map)
            window = window_frames(keys, motion.fps, canon.num_frames, variation)
            idx = np.flatnonzero(known)
            gaps = ~known
            gaps[:idx[0]] = gaps[idx[-1] + 1:] = False  # held frames before the first key and after the last
            method = "next-frame" if not window.any() else "network" if window[gaps].all() else "auto"
    if method in ("network", "auto"):
        m = _model(model)
        sample = _sample(m, seed, variation)
        if window is None or m.cfg.fps != AUTO_FPS:  # else as auto read them
            canon, known = _known(motion, keys, m.cfg.fps, source_map)
        if method == "auto":
            nf = _with_rollouts(_next_frame(next_frame, in_betweens=True), rollouts)
            if m.cfg.fps != AUTO_FPS or nf.cfg.fps != AUTO_FPS:
                raise LMMError(f"--method auto gives gaps to two networks, which must both run at {AUTO_FPS:g} fps "
                               f"(these: {m.cfg.fps:g} and {nf.cfg.fps:g}); give --method network or --method "
                               "next-frame")
        rot, pos, con, share = fill_checked(m, canon.rotations, canon.root_positions, known,
                                            m.action_index(action), m.style_index(style), sample)
        shares = (share, share)  # the window network's check takes one share for both parts
        if method == "auto":
            # The next-frame in-betweener's gaps, rolled between the keys and the window network's frames (given
            # to it as known: it rolls, checks and eases only where it makes the frames).
            given = known | window
            rot_g, pos_g = canon.rotations.copy(), canon.root_positions.copy()
            rot_g[window], pos_g[window] = rot[window], pos[window]
            nrot, npos, ncon, nshares = nf.checked_parts(rot_g, pos_g, given, seed, variation,
                                                         nf.action_index(action), nf.style_index(style))
            rot[~given], pos[~given], con[~given] = nrot[~given], npos[~given], ncon[~given]
            shares = (min(share, nshares[0]), min(share, nshares[1]))
    else:
        nf = _with_rollouts(_next_frame(next_frame, in_betweens=True), rollouts)
        if window is None or nf.cfg.fps != AUTO_FPS:
            canon, known = _known(motion, keys, nf.cfg.fps, source_map)
        rot, pos, con, shares = nf.checked_parts(canon.rotations, canon.root_positions, known, seed, variation,
                                                 nf.action_index(action), nf.style_index(style))
    # Contacts reaching a key are held where the key has the foot: the keys come back exactly below. The
    # floor the made frames' feet are kept above is where the keys stand when that is lower than y = 0
    # (captured soles sink a centimetre or two), as generation holds made frames to its recorded ones.
    made = _clean_on_ground(replace(canon, rotations=rot, root_positions=pos), con, clean, known,
                            floor_frames=~known, anchor_frames=known, widen_limits=True)
    back = _back_onto(made, motion, motion.num_frames, source_map)
    out = match_keys(back, motion, keys)
    labels = {k: v for k, v in out.labels.items() if k != NETWORK_SHARE}  # an input's own note says nothing here
    if min(shares) < 0.995:  # a share that reads 100% is not worth a note
        # Said to the user (``network_note``): the frames lean on the baseline because the keys look
        # unlike the training data and the network mispredicted keys it was not shown.
        labels[NETWORK_SHARE] = f"{shares[0]:.2f},{shares[1]:.2f}"
    return replace(out, labels=labels)


INBETWEEN_METHODS = ("auto", "network", "next-frame")
COMPLETE_METHODS = ("network", "next-frame")
# In-between's default (``method="auto"``) gives each gap to one of two networks. The next-frame in-betweener
# takes keys alone (an animator's blocking) and short gaps after given motion; the window network, which reads
# both ends of a gap at once, takes gaps longer than ``LONG_GAP`` frames that follow given motion (a run of at
# least ``GIVEN_RUN`` key frames in a row: a take's frames, the benchmark's 10 context frames). Measured
# 2026-12-06 (Intel Xeon), the LAFAN1 protocol (10 context frames, L2P / interpolation's at 5 / 15 / 30 / 45
# frames), as users get each (key checks included): on Bandai validation the next-frame in-betweener 0.405 /
# 0.374 / 0.404 / 0.453, the window network 0.626 / 0.378 / 0.404 / 0.425; on LAFAN1 subject 4 (never trained
# on) 1.18 / 1.03 / 1.01 / 1.01 against 1.89 / 1.31 / 1.07 / 0.99. From keys alone (BENCHMARKS.md "Model:
# blocking keys"), error / interpolation's in-domain with a key every 8 / 15 / 30 frames: window network 1.12
# / 0.97 / 0.86, next-frame 0.54 / 0.53 / 0.49, its feet sliding 1.0-1.1 times the capture's against 1.7-3.3.
AUTO_FPS = 30.0  # both shipped networks' frame rate, at which gaps and runs are counted
GIVEN_RUN = 3
LONG_GAP = 30


def window_frames(keys, fps: float, frames: int, variation: float = 0.0) -> np.ndarray:
    """``(frames,)`` bool at ``AUTO_FPS``: the made frames ``inbetween(method="auto")`` gives the window network,
    for key frames ``keys`` (indices at the clip's ``fps``): those of each gap longer than ``LONG_GAP`` frames
    at ``AUTO_FPS`` that follows given motion: every frame of the clip keyed over the ``GIVEN_RUN`` frames at
    ``AUTO_FPS`` before it. None for a draw (``variation`` above 0): the shipped window network does not
    sample, so the next-frame in-betweener draws every gap."""
    keys = np.unique(np.asarray(keys, dtype=int))
    out = np.zeros(frames, dtype=bool)
    if variation > 0 or len(keys) < 2:
        return out
    at = np.clip(np.round(keys * AUTO_FPS / fps).astype(int), 0, frames - 1)
    have = set(keys.tolist())
    # Given motion: every frame of the clip keyed over the time GIVEN_RUN frames at AUTO_FPS span (at 120 fps
    # the last 9 frames, at 24 fps the last 3), so a fast clip's two or three keys a frame apart are not a run.
    need = int(np.ceil((GIVEN_RUN - 1) * fps / AUTO_FPS - 1e-9))
    for i in range(len(keys) - 1):
        a, b = at[i], at[i + 1]
        if b - a - 1 > LONG_GAP and all(keys[i] - j in have for j in range(1, need + 1)):
            out[a + 1:b] = True
    return out


def _next_frame(next_frame: "NextFrameModel | str | Path | None", in_betweens: bool) -> NextFrameModel:
    """The next-frame network asked for (a model or its file; by default the shipped in-betweener or
    generator), refused when it is the other kind."""
    if isinstance(next_frame, NextFrameModel):
        nf = next_frame
    else:
        nf = _cached(next_frame or (DEFAULT_KEYS if in_betweens else DEFAULT_GENERATOR))
    nf.require_canonical("in-betweening a clip" if in_betweens else "generating or completing a clip")
    if in_betweens and not nf.cfg.keys:
        raise LMMError("that next-frame file generates but does not in-between (trained without --keys); "
                       f"leave --next-frame-model out for the shipped in-betweener ({DEFAULT_KEYS.name})")
    if not in_betweens and nf.cfg.keys:
        raise LMMError("that next-frame file in-betweens (trained with --keys); it cannot generate alone, nor carry "
                       "motion on alone; leave --next-frame-model out for the shipped generator (lmm_next_frame.npz)")
    return nf


def check_rollouts(rollouts) -> None:
    """``--rollouts``: a whole number from 1 to 64, else an ``LMMError`` saying so."""
    if isinstance(rollouts, bool) or not isinstance(rollouts, (int, np.integer)) or not 1 <= rollouts <= 64:
        raise LMMError(f"--rollouts must be a whole number from 1 to 64, got {rollouts!r}")


def _with_rollouts(nf: NextFrameModel, rollouts: int | None) -> NextFrameModel:
    """``nf``, or a copy of it (the loaded one is shared) drawing ``rollouts`` per long gap."""
    if rollouts is None:
        return nf
    check_rollouts(rollouts)
    nf = copy.copy(nf)
    nf.candidates = ((20, int(rollouts)),)
    return nf


def _known(motion: Motion, keys: np.ndarray, fps: float, source_map) -> tuple[Motion, np.ndarray]:
    """``motion`` on the canonical body at ``fps`` and which of its frames ``(T,)`` are the keys."""
    canon = to_canonical(motion, fps, source_map)
    known = np.zeros(canon.num_frames, dtype=bool)
    known[np.clip(np.round(keys * fps / motion.fps).astype(int), 0, canon.num_frames - 1)] = True
    return canon, known


NETWORK_SHARE = "network_share"
# A goal (``generate(to=, at=)``) that asks the pelvis over the ground faster than the action goes on its own:
# ``"needed,own,distance"`` (m/s, m/s, metres), said to the user by ``goal_note``.
GOAL_PACE = "goal_pace"
# Noted when the pace a goal asks for is over this share of the action's own and at least this much faster
# (m/s). Why: the steps keep the action's pace and the pelvis is eased onto the keys, so the feet slide.
# Measured 2026-12-07 (the shipped generator, 3 seeds, a straight goal 3 s ahead, foot skate of the made
# frames): walks (their own pace 1.30 m/s) asked 0.5 / 0.8 / 1.2 / 1.6 / 2.0 / 2.6 m/s slid 0.12 / 0.16 / 0.17
# / 0.36 / 0.51 / 0.65 (free walking 0.14); runs (3.46 m/s) asked 3.2 / 4.2 slid 0.07 / 0.45 (free 0.08).
# Slower than their own pace walks slowed well and runs slid 0.23-0.34: not noted (a slower action is the fix
# there, and a run is not always wrong to ask slower).
FAST_GOAL = (1.2, 0.2)


def network_note(motion: Motion) -> str | None:
    """A sentence for the user when ``inbetween`` took less than the network's whole correction (the key
    check, ``model/trust.py``), else ``None``. ``NETWORK_SHARE`` holds the shares of the pelvis path and of the
    poses (one number: both)."""
    said = motion.labels.get(NETWORK_SHARE)
    if said is None:
        return None
    values = [float(v) for v in said.split(",")]
    path, pose = (values * 2)[:2]
    taken = (f"{path * 100:.0f}%" if abs(path - pose) < 0.005 else
             f"{path * 100:.0f}% for the pelvis's path and {pose * 100:.0f}% for the poses")
    return (f"the keys look unlike the model's training data (a rig laid out unlike its sources, or unusual motion), "
            f"and the network did worse than the plain curve between keys on keys it was not shown (or, given two "
            f"keys, missed the second key's pose on its own), so its correction was taken at {taken}: the rest is "
            f"the smooth curve through the keys (and a draw differs only in the part taken)")


def goal_note(motion: Motion) -> str | None:
    """A sentence for the user when ``generate`` (the next-frame method) was asked to reach a point sooner than
    the action's own pace gets there (``GOAL_PACE``), else ``None``."""
    said = motion.labels.get(GOAL_PACE)
    if said is None:
        return None
    needed, own, distance = (float(v) for v in said.split(","))
    action = motion.labels.get("action", "action")
    if own < 0.3:  # as ``_arrival``'s slowest pace: an action that does not travel
        return (f"the goal asks for {needed:.1f} m/s over the ground, and this {action} stays about where it is "
                f"({own:.1f} m/s on its own): the pelvis is pulled there while the feet stand, so they slide; give "
                f"an action that travels (walk, run) to go there")
    return (f"the goal asks for {needed:.1f} m/s over the ground, and this {action} goes about {own:.1f} m/s on its "
            f"own: the pelvis is pulled there faster than the steps carry it, so the feet slide; give a later --at "
            f"(about {distance / own:.1f} s at its own pace), leave --at out, or pick a faster action")


def complete(motion: Motion, frames: int, model: Model | str | None = None, source_map=None,
             action: str | None = None, style: str | None = None, clean: bool = True, seed: int = 0,
             variation: float = 0.0, method: str = "network",
             next_frame: "NextFrameModel | str | Path | None" = None, guidance: float | None = None) -> Motion:
    """The motion followed by ``frames`` new frames (at the motion's frame rate), same rig; ``seed`` and
    ``variation`` draw one of the futures a sampling model sees (see ``inbetween``). ``method``:
    ``"network"``, the window network (``model``); ``"next-frame"``, the next-frame generator (``next_frame``,
    the shipped ``lmm_next_frame.npz`` by default) carrying on from the motion's last frames one frame at a
    time, ``variation`` scaling its draws (0: the latent at its mean; every seed the same), ``guidance`` its
    label guidance where ``action`` or ``style`` is given (default the file's own: 1.5 for the shipped
    generator; 1: none; ``NextFrameModel.step``)."""
    if frames < 1:
        raise LMMError(f"--frames must be at least 1, got {frames}")
    if method not in COMPLETE_METHODS:
        raise LMMError(f"--method must be one of {', '.join(COMPLETE_METHODS)}, got {method!r}")
    if guidance is not None and method != "next-frame":
        raise LMMError("--guidance weighs the next-frame generator's labels: give --method next-frame")
    if guidance is not None and not 0 <= guidance <= 10:
        raise LMMError(f"--guidance must be from 0 to 10, got {guidance}")
    if method == "next-frame":
        if not 0 <= variation <= 1:
            raise LMMError(f"--variation must be from 0 to 1, got {variation}")
        nf = _next_frame(next_frame, in_betweens=False)
        canon = to_canonical(motion, nf.cfg.fps, source_map)
        new = int(np.ceil(frames * nf.cfg.fps / motion.fps)) + 1
        r, p, con = nf.generate(new, nf.action_index(action), nf.style_index(style), seed, variation,
                                (canon.rotations, canon.root_positions), guidance)
        rot, pos = np.concatenate([canon.rotations, r]), np.concatenate([canon.root_positions, p])
    else:
        m = _model(model)
        sample = _sample(m, seed, variation)
        canon = to_canonical(motion, m.cfg.fps, source_map)
        new = int(np.ceil(frames * m.cfg.fps / motion.fps)) + 1
        rot, pos, con = m.complete(canon.rotations, canon.root_positions, new, m.action_index(action),
                                   m.style_index(style), sample=sample)
    contacts = np.concatenate([np.zeros((canon.num_frames, 4)), con])  # the given frames are kept anyway
    given = np.arange(len(pos)) < canon.num_frames
    made = _clean_on_ground(replace(canon, rotations=rot, root_positions=pos), contacts, clean, given)
    total = motion.num_frames + frames
    back = _back_onto(made, motion, total, source_map)
    # The given frames come back exactly; the correction at the last one fades over the new frames.
    padded = _resample_to(motion, motion.fps, total)
    return match_keys(back, padded, np.arange(motion.num_frames))


GENERATION_METHODS = ("next-frame", "segments", "network")  # the first is the default
# Each method's ``variation`` when none is given: the next-frame network's figures (BENCHMARKS, "Model:
# generation against real motion") hold at its full learned spread, 1 (at 0.5 its walks are plainer and
# fewer are recognised, 0.80 against 0.84); segments' 0.5 is the chance of switching segment at a join.
GENERATION_VARIATION = {"next-frame": 1.0, "segments": 0.5, "network": 0.5}


def actions_for(method: str = "next-frame", model: Model | str | None = None,
                next_frame: "NextFrameModel | str | Path | None" = None) -> tuple[str, ...]:
    """The actions ``generate`` can make by ``method``, in the model's order: the next-frame generator's
    whole vocabulary (each action begins from its own recorded start poses, or any action's where it has
    none); the segments the window model's bank holds; or every action the window model knows."""
    if method not in GENERATION_METHODS:
        raise LMMError(f"--method must be one of {', '.join(GENERATION_METHODS)}, got {method!r}")
    if method == "next-frame":
        return tuple(_next_frame(next_frame, in_betweens=False).cfg.actions[1:])
    m = _model(model)
    return m.generatable_actions() if method == "segments" else tuple(m.cfg.actions[1:])


def styles_for(action: str, model: Model | str | None = None, method: str | None = None,
               next_frame: "NextFrameModel | str | Path | None" = None) -> tuple[str, ...]:
    """The styles ``generate`` can make ``action`` in by ``method`` (None: segments when a window ``model`` is
    given, as before the next-frame generator became the default, else next-frame), in the model's order. Segments: those
    the model's bank holds segments of it in (every style when the model has no bank or does not know the
    action). The next-frame generator: those its training clips held the action in (every style it knows for a
    file that did not record them, or an action it does not know). The window network: every style."""
    method = method or ("segments" if model is not None else "next-frame")
    if method == "next-frame":
        nf = _next_frame(next_frame, in_betweens=False)
        held = nf.styles_of(nf.cfg.actions.index(action)) if action in nf.cfg.actions[1:] else None
        return tuple(nf.cfg.styles[1:]) if held is None else held
    m = _model(model)
    styles = m.cfg.styles[1:]
    if method != "segments" or not m.bank or action not in m.cfg.actions[1:]:
        return tuple(styles)
    held = set(held_styles(m.bank, m.action_index(action)).tolist())
    return tuple(s for i, s in enumerate(m.cfg.styles) if i and i in held)


def check_trained_pair(action: str, style: str | None, next_frame: "NextFrameModel | str | Path | None" = None) -> None:
    """An ``LMMError`` where the next-frame generator was never shown ``action`` in ``style`` (its record's label
    pairs): labels it never saw together are not a style it learned, as segments refuse a style they hold none
    of. Nothing to check without a style, for an action or style it does not know (its vocabulary says so), or
    for a file that did not record its pairs."""
    nf = _next_frame(next_frame, in_betweens=False)
    if not style or action not in nf.cfg.actions[1:] or style not in nf.cfg.styles[1:]:
        return
    held = nf.styles_of(nf.cfg.actions.index(action))
    if held is not None and style not in held:
        raise LMMError(f"the next-frame generator was trained on no {action!r} in style {style!r}; its styles of "
                       f"{action!r}: {', '.join(held) or 'none'}; pick one of them, or none for any")


def generate(action: str, style: str | None = None, seconds: float = 4.0, seed: int = 0,
             variation: float | None = None, model: Model | str | None = None, start: Motion | None = None,
             clean: bool = True, method: str = "next-frame", to: tuple[float, float] | None = None,
             facing: float | None = None, at: float | None = None, path: np.ndarray | str | Path | None = None,
             reach: list[tuple[str, tuple[float, float, float], float]] | None = None,
             next_frame: "NextFrameModel | str | Path | None" = None, guidance: float | None = None,
             next_frame_keys: "NextFrameModel | str | Path | None" = None) -> Motion:
    """New motion on the canonical body (``from_canonical`` puts it on any rig), then cleaned.

    ``method``: ``"next-frame"`` (the default), the next-frame network (``next_frame``: a ``NextFrameModel``
    or its file, the shipped generator by default) sampling one frame at a time, ``variation`` scaling its
    latent draws (``lmm_core.model.next_frame``), ``guidance`` its label guidance (``NextFrameModel.step``;
    default the model's own: 1.5 for a generator, 1 (none) for an in-betweener); ``"segments"``, recorded
    segments of the action (and style: a style the bank holds none of the action in is an ``LMMError``, not
    another style's motion) joined by the network's transitions (``Model.generate``;
    ``lmm_core.model.segments`` says why), ``variation`` the chance at each join of switching segments; or
    ``"network"``, the network alone, window after window (``Model.generate_network``), a sampling model's
    draws at temperature ``variation`` (a model that does not sample gives its deterministic average
    whatever ``variation``).
    ``variation`` None: the method's own (``GENERATION_VARIATION``). ``start``: motion to carry on from (any
    rig); the result holds only the new frames. ``model`` (the window model) is read for ``"segments"`` and
    ``"network"``, and for a reach (it re-makes the frames around it).

    Goals (the network and next-frame methods; ``model.goals``): ``to`` a ground point ``(x, z)`` in metres reached at ``at``
    seconds (default: at the action's own pace, ``_arrival``, or at the end if that is later) facing ``facing`` degrees (0: +Z, 90: +X; default: the way it walked), or
    ``path`` a root path to follow, ``(N, 2)`` ground points per frame from now or a CSV of ``time,x,z`` rows
    (``goals.read_path_csv``). Without ``start`` the network first makes the 10 frames it starts from. The
    pelvis is exactly at its keys; feet locking moves only the legs. With ``"next-frame"`` a next-frame
    network is turned towards the pelvis keys as it walks (``NextFrameModel.steer``) and the generator carries
    on after the last: ``next_frame_keys`` (an in-betweener trained on pelvis keys, or a generator) when given,
    else the shipped in-betweener where it was trained on pelvis keys (``--root-keys``; the one shipped now is
    not), else the generator itself (``_steering``). ``reach``: ``(joint, (x, y, z), seconds)``
    items, a wrist or ankle (``goals.REACH_CHAINS``) brought to a point (metres) at a time, by either method:
    the limb is turned there by IK and the frames around it are in-betweened again with that pose as a key
    (the pelvis, the limb and what it hangs from), so the motion reaches for it and comes back."""
    if method not in GENERATION_METHODS:
        raise LMMError(f"--method must be one of {', '.join(GENERATION_METHODS)}, got {method!r}")
    if not seconds > 0:
        raise LMMError(f"--seconds must be positive, got {seconds}")
    if variation is None:
        variation = GENERATION_VARIATION[method]
    if not 0 <= variation <= 1:
        raise LMMError(f"--variation must be between 0 and 1, got {variation}")
    if guidance is not None and method != "next-frame":
        raise LMMError("--guidance weighs the next-frame network's labels: give --method next-frame (the default)")
    if method == "next-frame":
        nf = _next_frame(next_frame, in_betweens=False)
        # The window model only re-makes the frames around a reach: the shipped one is not read (13 MB)
        # without one; a model given is read, so that a bad file is named rather than passed over.
        m = _model(model) if (reach or model is not None) else None
    else:
        m = _model(model)
    fps = nf.cfg.fps if method == "next-frame" else m.cfg.fps  # the rate of the network that makes the frames
    frames = int(round(seconds * fps))
    start_arrays = None
    if start is not None:
        c = to_canonical(start, fps)
        start_arrays = (c.rotations, c.root_positions)
    labels = {"action": action} | ({"style": style} if style else {})
    if method == "next-frame":
        na, ns = nf.action_index(action), nf.style_index(style)  # its own vocabulary, checked first
        # The window model re-makes the frames around a reach; it may not know labels the next-frame one does.
        a = m.cfg.actions.index(action) if m is not None and action in m.cfg.actions else 0
        s = m.cfg.styles.index(style) if m is not None and style in m.cfg.styles else 0
    else:
        a, s = m.action_index(action), m.style_index(style)
    if method == "next-frame":
        check_trained_pair(action, style, nf)
    if method == "segments" and s and a and m.bank and s not in held_styles(m.bank, a):
        # The segments would come from other styles: say so rather than hand back another style's motion.
        raise LMMError(f"this model holds no {action!r} in style {style!r}; its styles of {action!r}: "
                       f"{', '.join(styles_for(action, m, 'segments')) or 'none'}; pick one of them, or none for any")
    goal = to is not None or path is not None
    if goal and method == "segments":
        raise LMMError("--to and --path steer a network: give --method next-frame (the default) or --method network")
    if to is not None and path is not None:
        raise LMMError("give a point to walk to (--to) or a path to follow (--path), not both")
    if (facing is not None or at is not None) and to is None:
        raise LMMError("--facing and --at say how to arrive at --to X,Z: give --to as well")
    reaches = _reach_frames(reach or [], frames, fps)
    if method == "network":
        # A model that does not sample can only give its average (which slows to a stand): no draw to ask for.
        sample = _sample(m, seed, variation) if m.samples else None
        if not goal:
            rot, pos, con = m.generate_network(frames, a, s, sample, start_arrays)
            rot, pos, con = _reach(m, rot, pos, con, reaches, a, s, sample)
            made = _clean_from_start(Motion(_CANON, rot, pos, m.cfg.fps, labels), con, clean, start_arrays)
            return _keep_reaches(made, rot, reaches)
        return _generate_to_goal(m, frames, a, s, sample, start_arrays, labels, clean, to, facing, at, path, reaches)
    if method == "next-frame":
        if goal:
            rot, pos, con = _next_frame_to_goal(nf, _steering(next_frame_keys, nf), frames, action, style, seed,
                                                variation, start_arrays, to, facing, at, path, guidance, labels)
        else:
            rot, pos, con = nf.generate(frames, na, ns, seed, variation, start_arrays, guidance)
        rot, pos, con = _reach(m, rot, pos, con, reaches, a, s, None)
        made = _clean_from_start(Motion(_CANON, rot, pos, fps, labels), con, clean, start_arrays)
        return _keep_reaches(made, rot, reaches)
    rot, pos, con, made = m.generate(frames, a, s, seed, variation, start_arrays)
    if reaches:
        rot, pos, con = _reach(m, rot, pos, con, reaches, a, s, None)
        made = made.copy()
        for _, _, f in reaches:
            made[max(0, f - goals.REACH_SPAN):f + goals.REACH_SPAN + 1] = True  # the network's frames now
    cleaned = clean_made(Motion(_CANON, rot, pos, m.cfg.fps, labels), con, clean, floor_frames=made, anchor_frames=~made)
    return _keep_reaches(cleaned, rot, reaches)


def _keep_reaches(cleaned: Motion, made: np.ndarray, reaches: list) -> Motion:
    """``cleaned`` with each reach's limb (and what it hangs from) back at the pose the key gave it: the
    clean-up's joint limits may turn an arm that IK stretched to its target, and a key must be hit. The
    limb eases from the cleaned motion to the key over half ``goals.REACH_SPAN`` either side (local
    rotations ``made (T, 22, 4)`` from before the clean-up)."""
    if not reaches:
        return cleaned
    rot = cleaned.rotations.copy()
    t = np.arange(len(rot))
    half = goals.REACH_SPAN // 2
    for joint, _, f in reaches:
        (a, b, _), above = goals.REACH_CHAINS[joint]
        w = 0.5 + 0.5 * np.cos(np.pi * np.clip(np.abs(t - f) / half, 0.0, 1.0))
        for j in (a, b, *above):
            rot[:, j] = R.slerp(rot[:, j], made[:, j], w)
    return replace(cleaned, rotations=rot)


def _reach_frames(reach: list, frames: int, fps: float) -> list[tuple[str, np.ndarray, int]]:
    """``generate``'s ``reach`` items checked, with their times as frames of the clip."""
    out = []
    for item in reach:
        try:
            joint, target, seconds = item
            target = np.asarray(target, dtype=np.float64).reshape(3)
            seconds = float(seconds)
        except (TypeError, ValueError):
            raise LMMError(f"a reach is (joint, (x, y, z), seconds), got {item!r}") from None
        if joint not in goals.REACH_CHAINS:
            raise LMMError(f"cannot reach with {joint!r}; reach with one of {', '.join(goals.REACH_CHAINS)}")
        if not np.isfinite(target).all():
            raise LMMError(f"the {joint} reach target must be finite numbers, got {target.tolist()}")
        f = int(round(seconds * fps)) if np.isfinite(seconds) else -1
        if not 0 < f < frames - 1:
            raise LMMError(f"the {joint} reach at {seconds} s lies outside the clip (0 to {frames / fps:.2f} s, "
                           "not its first or last frame)")
        out.append((joint, target, f))
    return out


def _reach(m: Model, rot: np.ndarray, pos: np.ndarray, con: np.ndarray, reaches: list, action: int, style: int,
           sample: Sample | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The motion with each reach keyed (``goals.reach_key``) and ``goals.REACH_SPAN`` frames either side of
    it made again around that key, the rest kept."""
    for joint, target, f in reaches:
        key, groups = goals.reach_key(rot[f], pos[f], m.body.offsets, m.body.parents, joint, target)
        known = np.ones((len(pos), m.body.num_joints), dtype=bool)
        known[max(1, f - goals.REACH_SPAN):f + goals.REACH_SPAN + 1] = False
        known[f] = groups
        rot = rot.copy()
        rot[f] = np.where(groups[:, None], key, rot[f])
        rot, pos, new_con = m.fill(rot, pos, known, action, style, sample=sample)
        span = ~known.all(axis=1)
        con = np.where(span[:, None], new_con, con)
    return rot, pos, con


# Frames the network makes first when a goal is given without a motion to start from.
_GOAL_START = 10


def _ground_speed(root: np.ndarray, fps: float) -> float:
    """Mean ground speed (m/s) of a root path ``(F, 3)`` in metres at ``fps``."""
    return float(np.linalg.norm(np.diff(root[:, [0, 2]], axis=0), axis=1).mean() * fps)


def _arrival(speed: float, start_root: np.ndarray, to: tuple[float, float], frames: int, fps: float) -> int:
    """Frames after the start's last pose (``start_root (3,)``) at which a walk to ``to`` arrives at the action's
    own pace ``speed`` (m/s; at least 0.3 m/s), arriving no sooner than 15 frames and no later than the clip's
    end (``frames`` new frames).

    Why: a goal keyed slower than the action's capture walks (a walk's 1.3 m/s held to 0.7) does not make
    the window network slow down; it overshoots each root key and is pulled back at the next (measured on a
    straight 4 m path: 19.7 m of pelvis travel at 0.67 m/s, 4.1 m at 1.14 m/s; benchmarks/goals.py)."""
    distance = float(np.hypot(to[0] - start_root[0], to[1] - start_root[2]))
    return int(np.clip(round(distance / max(speed, 0.3) * fps), 15, frames))


def _goal_keys(start: tuple[np.ndarray, np.ndarray], made_start: bool, frames: int, fps: float, forward: np.ndarray,
               to: tuple[float, float] | None, face: float | None, at: float | None,
               path: np.ndarray | str | Path | None, pace, spacing: int, path_spacing: int,
               labels: dict | None = None, own_pace=None) -> goals.RootKeys:
    """A goal's pelvis keys from the start's last pose, counted in new frames (``goals.toward``'s keys at most
    ``spacing`` apart, or ``goals.along_path``'s every ``path_spacing``). ``made_start``: the clip's first
    ``_GOAL_START`` frames are the start, made for it, so ``--at`` counts from the clip's first frame;
    ``pace()``: root positions ``(F, 3)`` the network makes freely from the start, asked for when ``at`` is not
    given and ``own_pace`` is not (``_arrival``). ``own_pace()``: the action's own ground speed (m/s) wherever it
    starts, the pace an arrival is keyed at; with ``labels``, an ``at`` given that asks for more than
    ``FAST_GOAL`` of it is noted in ``labels[GOAL_PACE]`` (``goal_note``)."""
    rot, pos = start
    before = _GOAL_START - 1 if made_start else -1  # the output frame of the start's last pose
    new = frames - (_GOAL_START if made_start else 0)
    if to is not None:
        if at is None:
            # The action's own pace where given (the next-frame generator's free roll: a start from a stand
            # would key a walk at its first steps' pace), else the last 20 frames made freely from the start.
            speed = own_pace() if own_pace is not None else _ground_speed(pace()[-20:], fps)
            at_frame = before + _arrival(speed, pos[-1], to, new, fps)
        else:
            at_frame = int(round(at * fps)) if np.isfinite(at) else -1
        if not 0 < at_frame - before <= new:
            raise LMMError(f"--at must lie inside the clip and after its start: more than "
                           f"{(before + 1) / fps:.2f} s and under {frames / fps:.2f} s, got {at}")
        if at is not None and labels is not None and own_pace is not None:
            distance = float(np.hypot(to[0] - pos[-1, 0], to[1] - pos[-1, 2]))
            needed = distance / ((at_frame - before) / fps)
            own = float(own_pace())
            if needed > FAST_GOAL[0] * own and needed > own + FAST_GOAL[1]:
                labels[GOAL_PACE] = f"{needed:.2f},{own:.2f},{distance:.2f}"
        return goals.toward(rot[-1, 0], pos[-1], forward, to, at_frame - before, face, spacing)
    points = _path_points(Path(path), fps) if isinstance(path, (str, Path)) else path
    keys = goals.along_path(rot[-1, 0], pos[-1], forward, points, path_spacing)
    keep = keys.frames < new  # a path longer than the clip is followed as far as the clip goes
    return goals.RootKeys(keys.frames[keep], keys.rotations[keep], keys.positions[keep])


# Longest stretch between the pelvis keys the next-frame network walks to (``NextFrameModel.steer``; an
# in-betweener trained on pelvis keys saw them 16-120 frames ahead): a goal farther off gets keys on the way.
NEXT_FRAME_SPACING = 90
# Frames between the keys of a path it follows. Measured 2026-12-06 (benchmarks/goals.py, its three paths,
# four seeds): keys every 10, 15 and 30 frames slid the feet alike (mean skate 0.24, 0.24, 0.26), and the
# pelvis strayed up to 0, 10 and 20 cm from the path between keys.
NEXT_FRAME_PATH_SPACING = goals.PATH_SPACING


def _shipped_in_betweener() -> NextFrameModel | None:
    """The shipped next-frame in-betweener (``_cached``); ``None`` where it is absent."""
    return _cached(DEFAULT_KEYS) if DEFAULT_KEYS.is_file() else None


@functools.lru_cache(maxsize=4)
def _load_once(path: str, size: int, mtime_ns: int) -> NextFrameModel:
    return load_next_frame(path)


def _cached(path: str | Path) -> NextFrameModel:
    """The next-frame file ``path``, read once per version of it (a batch in-betweens many clips with one file:
    reading the shipped in-betweener took 50 ms a clip, as long as the in-between itself)."""
    try:
        st = Path(path).stat()
    except OSError:
        return load_next_frame(path)  # its error names the file and the fix
    return _load_once(str(Path(path).resolve()), st.st_size, st.st_mtime_ns)


def _steering(given: "NextFrameModel | str | Path | None", gen: NextFrameModel) -> NextFrameModel:
    """The next-frame network that walks to pelvis keys (``NextFrameModel.steer``): ``given`` (a model or its
    file: an in-betweener trained on pelvis keys, or a generator), else the shipped in-betweener where it
    was trained on pelvis keys, else the generator ``gen`` itself."""
    if given is None:
        shipped = _shipped_in_betweener()
        return shipped if shipped is not None and shipped.cfg.root_keys else gen
    nf = given if isinstance(given, NextFrameModel) else _cached(given)
    nf.require_canonical("walking to goals")
    if nf.cfg.keys and not nf.cfg.root_keys:
        raise LMMError("that next-frame in-betweener was not trained on keys of the pelvis alone (`lmm "
                       "train-next-frame --keys --root-keys`), so it cannot walk to goals; leave it out")
    return nf


def _next_frame_to_goal(gen: NextFrameModel, steer: NextFrameModel, frames: int, action: str, style: str | None,
                        seed: int, variation: float, start: tuple[np.ndarray, np.ndarray] | None,
                        to: tuple[float, float] | None, face: float | None, at: float | None,
                        path: np.ndarray | str | Path | None, guidance: float | None,
                        labels: dict | None = None) -> tuple[np.ndarray, ...]:
    """``generate``'s next-frame method steered by pelvis keys (``goals``): the generator ``gen`` makes the
    start (without one) and carries on after the last key; ``steer`` (``_steering``'s choice) walks to the keys.
    ``labels``: the clip's, where a goal asked faster than the action goes is noted (``_goal_keys``)."""
    ga, gs = gen.action_index(action), gen.style_index(style)
    made_start = start is None
    if made_start:
        if frames <= _GOAL_START:
            raise LMMError(f"a clip with a goal needs more than {_GOAL_START} frames; ask for more --seconds")
        rot0, pos0, con0 = gen.generate(_GOAL_START, ga, gs, seed, variation, guidance=guidance)
        start = (rot0, pos0)
    rot, pos = start
    new = frames - (_GOAL_START if made_start else 0)
    pace = lambda: gen.generate(30, ga, gs, seed, variation, start, guidance)[1]  # noqa: E731
    # The action's own pace, from its own start (a given start may be standing still): the last second of two.
    free = lambda: _ground_speed(gen.generate(60, ga, gs, seed, variation, None, guidance)[1][-30:],  # noqa: E731
                                 gen.cfg.fps)
    keys = _goal_keys(start, made_start, frames, gen.cfg.fps, _CANON_FORWARD, to, face, at, path, pace,
                      NEXT_FRAME_SPACING, NEXT_FRAME_PATH_SPACING, labels, free)
    yaw = np.radians(goals.heading(keys.rotations, _CANON_FORWARD))
    r, p, c = (np.empty((0, _CANON.num_joints, 4)), np.empty((0, 3)), np.empty((0, 4))) if not len(keys.frames) else \
        steer.steer(start, keys.frames, keys.positions, yaw, steer.action_index(action), steer.style_index(style),
                    seed, variation, guidance)
    rest = new - len(p)
    if rest > 0:  # after the last key the generator carries on
        whole = (np.concatenate([rot, r]), np.concatenate([pos, p]))
        r2, p2, c2 = gen.generate(rest, ga, gs, seed + 1, variation, whole, guidance)
        r, p, c = np.concatenate([r, r2]), np.concatenate([p, p2]), np.concatenate([c, c2])
    if made_start:
        r, p, c = np.concatenate([rot, r]), np.concatenate([pos, p]), np.concatenate([con0, c])
    return r, p, c


def _path_points(path: Path, fps: float) -> np.ndarray:
    """``(N, 2)`` ground points per frame (metres) of a root path file: a CSV of ``time,x,z`` rows, or a
    motion (BVH) whose pelvis track is followed, on any rig."""
    if path.suffix.lower() == ".csv":
        return goals.read_path_csv(path, fps)
    from ..io import read_bvh  # noqa: PLC0415 (io imports this package's callers; a BVH path is rare)
    canon = to_canonical(read_bvh(path), fps)
    return canon.root_positions[:, [0, 2]]


def _generate_to_goal(m: Model, frames: int, action: int, style: int, sample: Sample | None,
                      start: tuple[np.ndarray, np.ndarray] | None, labels: dict, clean: bool,
                      to: tuple[float, float] | None, face: float | None, at: float | None,
                      path: np.ndarray | str | Path | None, reaches: list) -> Motion:
    """``generate``'s network method steered by root keys (``goals``); see ``generate``."""
    made_start = start is None
    if made_start:
        if frames <= _GOAL_START:
            raise LMMError(f"a clip with a goal needs more than {_GOAL_START} frames; ask for more --seconds")
        rot0, pos0, _ = m.generate_network(min(frames, m.cfg.max_frames // 2), action, style, sample)
        start = (rot0[:_GOAL_START], pos0[:_GOAL_START])
    new = frames - (_GOAL_START if made_start else 0)
    pace = lambda: m.complete(start[0], start[1], 30, action, style, sample=sample)[1]  # noqa: E731
    keys = _goal_keys(start, made_start, frames, m.cfg.fps, m.body.forward, to, face, at, path, pace,
                      goals.MAX_SPACING, goals.PATH_SPACING)
    rot, pos, con = m.generate_network(new, action, style, sample, start, root_keys=keys)
    if made_start:
        rot = np.concatenate([start[0], rot])
        pos = np.concatenate([start[1], pos])
        con = np.concatenate([np.zeros((_GOAL_START, 4)), con])
    rot, pos, con = _reach(m, rot, pos, con, reaches, action, style, sample)
    made = _clean_from_start(Motion(_CANON, rot, pos, m.cfg.fps, labels), con, clean, None if made_start else start)
    return _keep_reaches(made, rot, reaches)


def intent(motion: Motion, model: Model | str | None = None, seconds: float | None = None, source_map=None) -> dict:
    """Probabilities of the model's action and style labels from the first frames (``seconds``, default all
    that fit a window): ``{"action": {name: p}, "style": {name: p}}``, most likely first."""
    m = _model(model)
    canon = to_canonical(motion, m.cfg.fps, source_map)
    n = canon.num_frames if seconds is None else max(1, int(round(seconds * m.cfg.fps)))
    pa, ps = m.intent(canon.rotations[:n], canon.root_positions[:n])
    rank = lambda p, vocab: dict(sorted(((vocab[i], float(p[i])) for i in range(1, len(vocab))), key=lambda kv: -kv[1]))  # noqa: E731
    return {"action": rank(pa, m.cfg.actions), "style": rank(ps, m.cfg.styles)}
