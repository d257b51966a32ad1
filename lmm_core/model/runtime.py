"""Load an exported model and run it in plain numpy (what the Blender extension and the CLI use).

The weights file is an ``.npz`` written by ``lmm_core.train.export.export``: the network's float32
parameters (``p.<name>``), feature statistics (``mean``, ``std``), a JSON ``meta`` record (format,
model and training configuration) and, optionally, a bank of real motion segments per action and style
(``bank_rotations``, ``bank_root``, ``bank_action``, ``bank_style``, ``bank_contacts``) that
``--method segments`` joins (``segments``), either in the file or in a segments file beside it that
``meta["segments_file"]`` names (``read_segments``: the shipped model keeps its recorded Bandai excerpts
apart, so that a model file holds no recorded motion), and ``scale``, the
per-feature size of one unit of the network's correction, and (models with velocity inputs) ``vel_std``,
the typical frame-to-frame change of each normalised feature.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import LMMError
from ..io.atomic import atomic_path
from ..io.npz import read_weights
from ..mirror import mirror_label
from ..motion import Motion
from ..validate import MAX_FPS, MIN_FPS
from . import network
from .body import Body
from .floor import ground
from .config import ModelConfig
from .features import FEATURES, GROUP_OF_FEATURE
from .modes import choose
from .sampling import STEPS, UNIT_BUCKETS, euler_step, flow_unit, guess_input, noise, skip_weight, with_flow
from .goals import RootKeys
from .segments import CONTEXT, plan
from .trust import check_frames, trust, unusual
from .window import Window, choose_anchor, finish, key_distance, prepare

FORMAT = "lmm-model-1"
DEFAULT_MODEL = Path(__file__).resolve().parents[2] / "presets" / "models" / "lmm_default.npz"
# The format of a segments file (``write_segments``, ``read_segments``).
SEGMENTS_FORMAT = "lmm-segments-1"


@dataclass
class Sample:
    """How a sampling model draws (``Model.run_window``): ``rng`` the random stream (a fixed seed makes
    the draw repeatable), ``temperature`` the size of the starting noise (0: the deterministic regressor,
    1: the distribution as trained; between, draws nearer the average; for a model with modes, the
    temperature of the choice among them, lower picking the likelier modes more often), ``steps`` Euler
    steps (a flow's; a model with modes draws in one pass)."""

    rng: np.random.Generator
    temperature: float = 1.0
    steps: int = STEPS

    @classmethod
    def seeded(cls, seed: int, temperature: float = 1.0, steps: int = STEPS) -> "Sample":
        return cls(np.random.default_rng(seed), temperature, steps)


class Model:
    """A loaded model. Arrays are on the model's body (``self.body``; the canonical body for every shipped
    model): rotations ``(T, 22, 4)`` local (joint 0 the pelvis in the world, Y up), root ``(T, 3)`` pelvis
    positions in metres, at ``cfg.fps``."""

    def __init__(self, params: dict[str, np.ndarray], cfg: ModelConfig, mean: np.ndarray, std: np.ndarray,
                 bank: dict[str, np.ndarray] | None = None, meta: dict | None = None, path: Path | None = None,
                 scale: np.ndarray | None = None, vel_std: np.ndarray | None = None,
                 flow_unit: np.ndarray | None = None):
        self.params, self.cfg, self.mean, self.std = params, cfg, mean, std
        if cfg.sampling and cfg.flow_unit and flow_unit is None:
            raise LMMError(f"{path or 'model'}: a model with a measured flow unit needs its table (flow_unit)")
        # ``(len(UNIT_BUCKETS), F)``: the flow's unit by key distance and feature (``sampling.flow_unit``).
        self.flow_unit = flow_unit if (cfg.sampling and cfg.flow_unit) else None
        if cfg.velocity_inputs and vel_std is None:
            raise LMMError(f"{path or 'model'}: a model with velocity inputs needs their statistics (vel_std)")
        self.vel_std = vel_std if cfg.velocity_inputs else None
        self.scale = np.ones_like(mean) if scale is None else scale
        self.meta = meta or {}
        self.path = path
        self._bank = bank or {}
        # Segments kept in a file of their own are read when first asked for (``bank``): only
        # ``--method segments`` needs them, and they are a third of the shipped model's bytes.
        named = self.meta.get("segments_file")
        if named is not None and (not isinstance(named, str) or Path(named).name != named or named in ("", ".", "..")):
            # A bare name beside the model: a model file must not point LMM at files elsewhere.
            raise LMMError(f"{path}: its segments file must be named as a file beside it, got {named!r}; the file "
                           "is damaged")
        self._bank_file = (Path(path).parent / named) if (named and not self._bank and path is not None) else None
        self._bank_error: LMMError | None = None
        self.body = Body.from_dict(cfg.body)
        # Run every window twice, as given and mirrored, and average the two (``run_window``).
        self.symmetric = True
        # Scale the network's correction by how well it predicts the window's own hidden keys
        # (``model/trust.py``); False takes the correction whole, as models before 2026-12-06 did.
        self.check_keys = True
        # Show the network each window standing on its own ground (``model/floor.py``; canonical bodies).
        self.ground_keys = self.body.is_canonical
        index = {a: i for i, a in enumerate(cfg.actions)}
        # The action each action becomes mirrored (wave-left-hand <-> wave-right-hand; itself if unsided).
        self._mirror_action = np.array([index.get(mirror_label(a), i) for i, a in enumerate(cfg.actions)])

    @property
    def bank(self) -> dict[str, np.ndarray]:
        """The recorded segments ``generate`` joins (``bank_*`` arrays; empty when the model has none), from
        the model file or the segments file its record names (read on first use; ``read_segments``)."""
        if self._bank_error is not None:
            raise self._bank_error  # read once: a missing or bad file is not read again at every ask (a panel redraws)
        if self._bank_file is not None:
            try:
                self._bank, self._bank_file = read_segments(self._bank_file, self.cfg, self.path), None
            except LMMError as exc:
                self._bank_error = exc
                raise
        return self._bank

    @bank.setter
    def bank(self, value: dict[str, np.ndarray] | None) -> None:
        self._bank, self._bank_file, self._bank_error = value or {}, None, None

    @property
    def samples(self) -> bool:
        """Whether the model draws (``Sample``): a flow (``cfg.sampling``) or modes (``cfg.modes``)."""
        return bool(self.cfg.sampling or self.cfg.modes)

    @property
    def skeleton(self):
        """The body as a ``Skeleton`` (metres, Y up): the joints the arrays are given on."""
        return self.body.skeleton()

    # ---- labels -------------------------------------------------------------------------------------

    def action_index(self, action: str | None) -> int:
        return self._index(action, self.cfg.actions, "action")

    def style_index(self, style: str | None) -> int:
        return self._index(style, self.cfg.styles, "style")

    @staticmethod
    def _index(name: str | None, vocab: tuple[str, ...], what: str) -> int:
        if name is None or name == "":
            return 0
        if name not in vocab:
            raise LMMError(f"unknown {what} {name!r}; this model knows: {', '.join(vocab[1:])}")
        return vocab.index(name)

    def generatable_actions(self) -> tuple[str, ...]:
        """The actions ``generate`` can make: those its bank holds motion segments of."""
        held = set(self.bank["bank_action"].tolist()) if self.bank else set()
        return tuple(a for i, a in enumerate(self.cfg.actions) if i and i in held)

    # ---- one window ------------------------------------------------------------------------------

    def prepare(self, rotations: np.ndarray, root: np.ndarray, known: np.ndarray) -> Window:
        return prepare(rotations, root, known, self.mean, self.std, self.cfg.pos_freqs, choose_anchor(known),
                       self.body.forward, self.cfg.baseline, self.vel_std, self.cfg.gate_frames, self.cfg.key_time_inputs)

    def run_window(self, rotations: np.ndarray, root: np.ndarray, known: np.ndarray, action: int = 0, style: int = 0,
                   sample: "Sample | None" = None, correction: float | None = None):
        """One window of up to ``cfg.max_frames`` frames.

        ``correction`` is the share of the network's correction of its baseline to take (``fill`` decides
        it once for a whole clip). ``None``: with ``self.check_keys`` (the default) and isolated inner keys
        to check against, this window's own ``key_trust`` (one more deterministic answer), so motion unlike
        the training data falls back towards the baseline instead of away from the keys; else 1.

        With ``sample`` (a sampling model, ``Sample.temperature > 0``) the window is one draw of what may
        fill it: one mode, whole, for a model with modes (``model/modes.py``, one pass), else the flow's
        draw (``model/sampling.py``), in one pass per flow step and without the mirror average (the
        average of two draws is no draw). Otherwise the answer is the deterministic regressor's.

        With ``self.symmetric`` (the default) the network runs on the window and on its mirror image
        (left and right swapped, sided actions too), and the two answers, the second mirrored back,
        are averaged: the model then treats a motion and its mirror image alike, as a body does, and
        the average of two views is a little closer to the truth than either (the model shipped on
        2026-12-02, on the Bandai validation split: L2P at 30 frames 0.585 of interpolation's against
        0.593 in one pass). It costs a second pass.

        Args:
            rotations, root: ``(T, 22, 4)``, ``(T, 3)``; entries where ``known`` is False are ignored.
            known: ``(T, 22)`` bool per frame and joint group (group 0: root position + pelvis rotation).

        Returns:
            ``(rotations, root, contacts (T, 4), action_logits (A,), style_logits (S,))``; known entries
            come back exactly as given.
        """
        if len(root) > self.cfg.max_frames:
            raise LMMError(f"a window holds at most {self.cfg.max_frames} frames, got {len(root)}")
        rotations, root = np.asarray(rotations, dtype=np.float64), np.asarray(root, dtype=np.float64)
        g = np.asarray(known, dtype=bool)
        if correction is None:
            correction = self.key_trust(rotations, root, g, action, style) if self.check_keys else 1.0
        return self._answer(rotations, root, g, action, style, sample, correction)

    def key_trust(self, rotations: np.ndarray, root: np.ndarray, known: np.ndarray, action: int = 0,
                  style: int = 0) -> float:
        """The share of the network's correction to take on a clip, in [0, 1] (``model/trust.py``): when its
        keys lie off the training data, every other isolated inner key hidden (window by window for a clip
        longer than a window, pooled into one share) and the deterministic answer's joint positions there
        set against the keys', relative to the baseline's. 1 when the keys look like the training data or
        there is no such key. ``known`` is ``(T,)`` or ``(T, 22)``."""
        known = np.asarray(known, dtype=bool)
        if known.ndim == 1:
            known = np.repeat(known[:, None], self.body.num_joints, axis=1)
        rotations, root = np.asarray(rotations, dtype=np.float64), np.asarray(root, dtype=np.float64)
        spans = self._check_spans(known)
        if not spans:
            return 1.0
        keys = [self.prepare(rotations[a:b], self._grounded(rotations[a:b], root[a:b], known[a:b])[0], known[a:b])
                for a, b in spans]
        if not unusual(np.concatenate([w.base[w.known] for w in keys])):
            return 1.0
        found = [self._key_evidence(rotations[a:b], root[a:b], known[a:b], action, style) for a, b in spans]
        return trust(*(np.concatenate(part) for part in zip(*found)))

    def _check_spans(self, known: np.ndarray) -> list[tuple[int, int]]:
        """``[(start, stop)]`` windows of at most ``cfg.max_frames`` frames covering a clip, cut at whole
        keys where one falls inside (the key then ends one window and starts the next), keeping only those
        with an isolated inner key to hide (``check_frames``)."""
        T, most = len(known), self.cfg.max_frames
        whole = known.all(axis=1)
        spans, a = [], 0
        while a < T - 1:
            b = min(T, a + most)
            if b < T:
                cut = np.flatnonzero(whole[a + 1:b])
                b = a + 1 + int(cut[-1]) + 1 if len(cut) else b
            spans.append((a, b))
            a = b - 1 if b < T and whole[b - 1] else b
        return [(a, b) for a, b in spans if len(check_frames(known[a:b]))]

    def _key_evidence(self, rotations: np.ndarray, root: np.ndarray, known: np.ndarray, action: int,
                      style: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Joint positions ``(K, J, 3)`` at the keys ``check_frames`` hides in one window: the deterministic
        answer's with them hidden, the baseline's, and the keys' own."""
        hide = check_frames(known)
        shown = known.copy()
        shown[hide] = False
        rot, pos, *_ = self._answer(rotations, root, shown, action, style, None, 1.0)
        low, lift = self._grounded(rotations, root, shown)
        b_rot, b_pos, _ = finish(self.prepare(rotations, low, shown), np.zeros((len(root), FEATURES + 4)),
                                 self.mean, self.std, self.scale)
        b_pos = b_pos + lift
        sk = self.skeleton

        def at_keys(r, p):
            return Motion(sk, r[hide], p[hide], self.cfg.fps).global_positions()

        return at_keys(rot, pos), at_keys(b_rot, b_pos), at_keys(rotations, root)

    def _grounded(self, rotations: np.ndarray, root: np.ndarray, known: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(root lowered onto the window's own ground, the lift (T, 3) that undoes it)``: ``model/floor.py``;
        zeros where the keys stand on the floor, or with ``ground_keys`` off."""
        lift = np.zeros_like(root)
        if self.ground_keys:
            level = ground(rotations, root, known, self.body.offsets, self.body.parents, list(self.body.contacts[:2]))
            if level is not None:
                lift[:, 1] = level
        return root - lift, lift

    def _answer(self, rotations: np.ndarray, root: np.ndarray, g: np.ndarray, action: int, style: int,
                sample: "Sample | None", correction: float):
        """``run_window`` with the correction's share given (``key_trust``), on the window's own ground."""
        low, lift = self._grounded(rotations, root, g)
        if lift.any():
            rot, pos, contacts, act, sty = self._answer_on_floor(rotations, low, g, action, style, sample, correction)
            pos = pos + lift
            pos[g[:, 0]] = root[g[:, 0]]  # keys exactly as given, not lowered and raised again
            return rot, pos, contacts, act, sty
        return self._answer_on_floor(rotations, root, g, action, style, sample, correction)

    def _answer_on_floor(self, rotations: np.ndarray, root: np.ndarray, g: np.ndarray, action: int, style: int,
                         sample: "Sample | None", correction: float):
        """The answer for a window already standing on the floor the network knows: one pass, or (the
        deterministic answer of a symmetric model) the average of the window's and its mirror image's."""
        if not (self.samples and sample is not None and sample.temperature > 0):
            sample = None
        rot, pos, contacts, act, sty = self._one_pass(rotations, root, g, action, style, sample, correction)
        if self.symmetric and sample is None:
            sigma = np.array(self.body.mirror)
            m_rot, m_pos = self.body.mirrored(rotations, root)
            r2, p2, c2, a2, s2 = self._one_pass(m_rot, m_pos, g[:, sigma], int(self._mirror_action[action]), style,
                                                None, correction)
            r2, p2 = self.body.mirrored(r2, p2)
            r2 = np.where((np.sum(rot * r2, axis=-1) < 0)[..., None], -r2, r2)
            rot = rot + r2
            rot /= np.linalg.norm(rot, axis=-1, keepdims=True)  # the halfway rotation (slerp at 0.5)
            pos = 0.5 * (pos + p2)
            contacts = 0.5 * (contacts + c2[:, [1, 0, 3, 2]])  # contacts are (left, right) ankle, then toe
            act, sty = 0.5 * (act + a2[self._mirror_action]), 0.5 * (sty + s2)
        # Keys are hit exactly: copy them rather than trust the 6D round trip.
        rot[g] = rotations[g]
        pos[g[:, 0]] = root[g[:, 0]]
        return rot, pos, contacts, act, sty

    def _one_pass(self, rotations: np.ndarray, root: np.ndarray, known: np.ndarray, action: int, style: int,
                  sample: "Sample | None" = None, correction: float = 1.0):
        win = self.prepare(rotations, root, known)
        labels = np.array([action]), np.array([style])
        if self.cfg.modes and sample is not None:
            # One pass (a sampling model's flow inputs at t = 0 with no guess, as modes are trained); the
            # answer is one mode, whole (``model/modes.py``).
            x = with_flow(win.x, np.zeros(win.base.shape), 0.0, self.cfg.pos_freqs) if self.cfg.sampling else win.x
            _, act, sty, modes, choice = network.forward_modes(self.params, self.cfg, x[None], *labels)
            out = modes[:, choose(choice[0], sample.rng, sample.temperature)]
        elif not self.cfg.sampling:
            out, act, sty = network.forward(self.params, self.cfg, win.x[None], *labels)
        else:
            # Deterministic: one pass at t = 0 with no guess. Sampled: noise on the unknown entries, walked
            # to t = 1 in ``steps`` Euler steps; the last pass's prediction is the answer.
            unknown = ~win.known
            unit = flow_unit(key_distance(known)[:, GROUP_OF_FEATURE], self.cfg.flow_scale_frames, self.flow_unit)
            steps = 1 if sample is None else sample.steps
            z = np.zeros(win.base.shape) if sample is None else \
                noise(sample.rng, win.base.shape, self.cfg.noise_frames) * sample.temperature * unknown
            for k in range(steps):
                t = k / steps
                x = with_flow(win.x, guess_input(z, unit, win.gate, self.cfg.guess_in_output_units), t, self.cfg.pos_freqs)
                out, act, sty = network.forward(self.params, self.cfg, x[None], *labels)
                skip = skip_weight(t) * z * unknown if self.cfg.flow_skip else 0.0
                if k + 1 < steps:
                    z = euler_step(z, out[0, :, : FEATURES] * win.gate * unknown / unit + skip, t, (k + 1) / steps)
            if self.cfg.flow_skip and sample is not None:
                # The answer is the last prediction, skip included, in the network's output units (the
                # gate is at least 0.28 on unknown entries: they are a frame or more from a key).
                out = out.copy()
                out[0, :, :FEATURES] += np.where(unknown, skip * unit / np.maximum(win.gate, 1e-6), 0.0)
        out = out[0].astype(np.float64)
        out[:, :FEATURES] *= correction  # the share of the correction this window trusts (``key_trust``)
        rot, pos, contacts = finish(win, out, self.mean, self.std, self.scale)
        return rot, pos, contacts, act[0], sty[0]

    # ---- the benchmark interface -------------------------------------------------------------------

    def inbetween(self, rotations: np.ndarray, root: np.ndarray, known: np.ndarray, fps: float = 30.0,
                  action: int = 0, style: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """Fill the frames (or joint groups) not ``known``; see ``lmm_core.model.tasks.inbetween``."""
        rot, pos, _ = self.fill(rotations, root, known, action, style)
        return rot, pos

    def fill(self, rotations, root, known, action: int = 0, style: int = 0, context: int = 10,
             sample: Sample | None = None, correction: float | None = None):
        """Fill every gap; long clips are done gap by gap, each with ``context`` frames either side.

        ``known`` is ``(T,)`` (whole frames) or ``(T, 22)``. ``correction``: the share of the network's
        correction to take, one for the whole clip; ``None``: ``key_trust``'s (with ``self.check_keys``),
        else 1. Returns rotations, root, contacts.
        """
        rotations = np.asarray(rotations, dtype=np.float64)
        root = np.asarray(root, dtype=np.float64)
        known = np.asarray(known, dtype=bool)
        if known.ndim == 1:
            known = np.repeat(known[:, None], self.body.num_joints, axis=1)
        if correction is None:
            # One share for the clip: window by window, each gap of a long clip would rest on the one key
            # hidden next to it, and neighbouring gaps would swing between the network and the baseline.
            correction = self.key_trust(rotations, root, known, action, style) if self.check_keys else 1.0
        T = len(root)
        if T <= self.cfg.max_frames:
            rot, pos, con, _, _ = self.run_window(rotations, root, known, action, style, sample, correction)
            return rot, pos, con
        rot, pos = rotations.copy(), root.copy()
        con = np.zeros((T, 4))
        done = known.copy()
        gaps = np.flatnonzero(~known.all(axis=1))
        while len(gaps):
            a = gaps[0]
            b = a
            while b + 1 < T and not known[b + 1].all():
                b += 1
            lo = max(0, a - context)
            hi = min(T, b + 1 + context)
            if hi - lo > self.cfg.max_frames:
                # A gap longer than a window: fill its first part, which then serves as context.
                hi = lo + self.cfg.max_frames
                b = hi - 1
            r, p, c, _, _ = self.run_window(rot[lo:hi], pos[lo:hi], done[lo:hi], action, style, sample, correction)
            rot[lo:hi], pos[lo:hi], con[lo:hi] = r, p, c
            done[lo:b + 1] = True
            gaps = np.flatnonzero(~done.all(axis=1))
        return rot, pos, con

    def complete(self, rotations: np.ndarray, root: np.ndarray, frames: int, action: int = 0, style: int = 0,
                 context: int = 32, window: int = 96, sample: Sample | None = None,
                 root_keys: "RootKeys | None" = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Continue ``(T, 22, 4)``, ``(T, 3)`` by ``frames`` new frames, one window at a time: each pass
        keeps the last ``context`` frames as keys and makes ``window - context`` new ones (one draw of them
        with ``sample``, see ``run_window``). ``root_keys`` (``goals.RootKeys``, frames counted from the first
        new frame) fix the pelvis there: each window carries the keys that fall inside it, so keep them
        closer than ``window - context`` frames apart (``goals.toward`` does). Returns the whole sequence
        (old frames unchanged) and the contact probabilities ``(frames, 4)`` of the new ones."""
        rot, pos = np.asarray(rotations, dtype=np.float64), np.asarray(root, dtype=np.float64)
        contacts = []
        made = 0
        while made < frames:
            ctx = min(context, len(pos))
            new = min(window - ctx, frames - made)
            r = np.concatenate([rot[-ctx:], np.repeat(rot[-1:], new, axis=0)])
            p = np.concatenate([pos[-ctx:], np.repeat(pos[-1:], new, axis=0)])
            known = np.zeros((ctx + new, self.body.num_joints), dtype=bool)
            known[:ctx] = True
            if root_keys is not None:
                inside = (root_keys.frames >= made) & (root_keys.frames < made + new)
                at = ctx + root_keys.frames[inside] - made
                r[at, 0], p[at], known[at, 0] = root_keys.rotations[inside], root_keys.positions[inside], True
            r, p, c, _, _ = self.run_window(r, p, known, action, style, sample)
            rot = np.concatenate([rot, r[ctx:]])
            pos = np.concatenate([pos, p[ctx:]])
            contacts.append(c[ctx:])
            made += new
        return rot, pos, np.concatenate(contacts) if contacts else np.zeros((0, 4))

    def intent(self, rotations: np.ndarray, root: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Action and style probabilities ``(A,), (S,)`` (index 0, unknown, excluded: it is 0) from the
        first frames of a motion (up to ``max_frames``)."""
        n = min(len(root), self.cfg.max_frames)
        known = np.ones((n, self.body.num_joints), dtype=bool)
        *_, act, sty = self.run_window(rotations[:n], root[:n], known)
        return _softmax_known(act), _softmax_known(sty)

    def generate_network(self, frames: int, action: int = 0, style: int = 0, sample: Sample | None = None,
                         start: tuple[np.ndarray, np.ndarray] | None = None,
                         window: int = 96, context: int = 32,
                         root_keys: "RootKeys | None" = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``frames`` frames of motion made by the network alone, one window at a time: the first from
        nothing (or ``start``'s last ``context`` frames), each next one continuing the last ``context``
        frames made. With a sampling model and ``sample``, every window is a draw (the same seed, the same
        motion); without, the regressor's average, which slows to a stand within seconds. ``root_keys``
        (``goals.RootKeys``, frames counted from the first frame after ``start``, which it needs) steer the
        pelvis, see ``complete``.

        Returns ``(rotations (frames, 22, 4), root (frames, 3), contact probabilities (frames, 4))``.
        """
        J = self.body.num_joints
        if root_keys is not None and start is None:
            raise LMMError("root keys steer a continuation: give generate_network a start (tasks.generate makes one)")
        if start is None:
            first = min(window, frames)
            rot, pos, first_con, _, _ = self.run_window(np.tile(np.eye(1, 4), (first, J, 1)), np.zeros((first, 3)),
                                                        np.zeros((first, J), dtype=bool), action, style, sample)
            con, made = [first_con], first
        else:
            rot, pos = np.asarray(start[0], dtype=np.float64), np.asarray(start[1], dtype=np.float64)
            con, made = [], 0
        if made < frames:
            rot, pos, more = self.complete(rot, pos, frames - made, action, style, context, window, sample, root_keys)
            con.append(more)
        skip = len(pos) - frames
        return rot[skip:], pos[skip:], np.concatenate(con)[-frames:]

    def generate(self, frames: int, action: int = 0, style: int = 0, seed: int = 0, variation: float = 0.5,
                 start: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``frames`` frames of new motion for an action and style: real segments of it from the model's
        bank joined by the network's transitions (``lmm_core.model.segments``; why there).

        ``seed`` picks the segments and the first one's starting point; ``variation`` (0 to 1) is the
        chance at each join of switching to another segment of the action rather than repeating one.
        ``start`` (rotations ``(S, 22, 4)``, root ``(S, 3)``) is real motion to carry on from; the
        frames returned come after it.

        Returns ``(rotations (frames, 22, 4), root (frames, 3), contact probabilities (frames, 4), made
        (frames,) bool)``, ``made`` marking the frames the network made (the others are recorded).
        """
        if action and self.bank and self.cfg.actions[action] not in self.generatable_actions():
            raise LMMError(f"this model holds no motion of {self.cfg.actions[action]!r} to generate from (no training "
                           f"clip of it was long enough); it can generate: {', '.join(self.generatable_actions())}")
        rot, pos, con, known, first = plan(self.bank, frames, action, style, seed, variation, self.body.forward, start)
        con = con.astype(np.float64)
        edges = np.flatnonzero(np.diff(np.concatenate([[0], (~known).astype(np.int8), [0]])))
        for a, b in zip(edges[::2], edges[1::2]):
            lo, hi = max(0, a - CONTEXT), min(len(pos), b + CONTEXT)
            keys = np.repeat(known[lo:hi, None], self.body.num_joints, axis=1)
            r, p, c, _, _ = self.run_window(rot[lo:hi], pos[lo:hi], keys, action, style)
            rot[a:b], pos[a:b] = r[a - lo:b - lo], p[a - lo:b - lo]
            # Contacts the plan took from real frames matched to the transition stand; the network's
            # own fill in where it has none.
            con[a:b] = np.where(con[a:b] > 0, con[a:b], c[a - lo:b - lo])
        end = first + frames
        return rot[first:end], pos[first:end], con[first:end], ~known[first:end]


def _softmax_known(logits: np.ndarray) -> np.ndarray:
    z = np.array(logits, dtype=np.float64)
    z[0] = -np.inf
    z = np.exp(z - z.max())
    return z / z.sum()


def expected_arrays(cfg: ModelConfig) -> dict[str, tuple[int, ...]]:
    """The arrays a weights file for ``cfg`` must hold and their shapes: the network's parameters
    (``p.<name>``, as ``lmm_core.train.network.Network`` names them), the feature statistics and the
    correction scale (``(FEATURES,)`` each), and ``vel_std`` for a model with velocity inputs."""
    d, ff, a, s = cfg.d_model, cfg.d_model * cfg.ff_mult, len(cfg.actions), len(cfg.styles)
    out_width = FEATURES + network.CONTACTS
    shapes: dict[str, tuple[int, ...]] = {"p.in_w": (network.input_size(cfg), d), "p.in_b": (d,), "p.cls": (d,),
                                          "p.act_emb": (a, d), "p.sty_emb": (s, d)}
    for i in range(cfg.layers):
        pre = f"p.l{i}_"
        shapes |= {pre + "ln1_g": (d,), pre + "ln1_b": (d,), pre + "qkv_w": (d, 3 * d), pre + "qkv_b": (3 * d,),
                   pre + "out_w": (d, d), pre + "out_b": (d,), pre + "ln2_g": (d,), pre + "ln2_b": (d,),
                   pre + "ff1_w": (d, ff), pre + "ff1_b": (ff,), pre + "ff2_w": (ff, d), pre + "ff2_b": (d,)}
        if cfg.rel_frames:
            shapes[pre + "rel_w"] = (cfg.heads, 2 * cfg.rel_frames + 1)
    shapes |= {"p.lnf_g": (d,), "p.lnf_b": (d,), "p.head_w": (d, out_width), "p.head_b": (out_width,),
               "p.act_w": (d, a), "p.act_b": (a,), "p.sty_w": (d, s), "p.sty_b": (s,),
               "mean": (FEATURES,), "std": (FEATURES,), "scale": (FEATURES,)}
    if cfg.velocity_inputs:
        shapes["vel_std"] = (FEATURES,)
    if cfg.sampling and cfg.flow_unit:
        shapes["flow_unit"] = (len(UNIT_BUCKETS), FEATURES)
    if cfg.modes:
        shapes |= {"p.mode_w": (d, cfg.modes * out_width), "p.mode_b": (cfg.modes * out_width,),
                   "p.choice_w": (d, cfg.modes), "p.choice_b": (cfg.modes,)}
    return shapes


# (type, lowest, highest) of the configuration's numbers, checked before the network is built from them.
_CONFIG_NUMBERS = {"d_model": (int, 1, 1 << 16), "layers": (int, 1, 1024), "heads": (int, 1, 1024),
                   "ff_mult": (int, 1, 64), "pos_freqs": (int, 1, 4096), "max_frames": (int, 1, 100_000),
                   "fps": (float, MIN_FPS, MAX_FPS), "gate_frames": (float, 1e-6, 1e6),
                   "noise_frames": (float, 0, 100), "flow_scale_frames": (float, 0, 1000), "modes": (int, 0, 64),
                   "rel_frames": (int, 0, 1024)}


def check_config(raw, path: Path) -> ModelConfig:
    """The model configuration of a weights file's metadata, every value checked (``LMMError`` naming the
    file, the key and what it should be)."""
    where = f"{path}: the model configuration"
    if not isinstance(raw, dict):
        raise LMMError(f"{where} is missing or not a JSON object; re-export the model with `lmm train --export`")
    for key, (kind, low, high) in _CONFIG_NUMBERS.items():
        if key not in raw:
            continue
        value = raw[key]
        ok = isinstance(value, int) if kind is int else isinstance(value, (int, float))
        if isinstance(value, bool) or not ok or not (np.isfinite(value) and low <= value <= high):
            raise LMMError(f"{where}'s {key} must be {'a whole number' if kind is int else 'a number'} from {low:g} to "
                           f"{high:g}, got {value!r}")
    if raw.get("d_model", 1) % raw.get("heads", 1):
        raise LMMError(f"{where}: d_model {raw['d_model']} is not a multiple of heads {raw['heads']}")
    for key in ("actions", "styles"):
        value = raw.get(key, ["<unknown>"])
        if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
            raise LMMError(f"{where}'s {key} must be a non-empty list of names, got {str(value)[:80]}")
    for key in ("velocity_inputs", "sampling", "flow_skip", "flow_unit", "guess_in_output_units", "key_time_inputs"):
        if not isinstance(raw.get(key, False), bool):
            raise LMMError(f"{where}'s {key} must be true or false, got {raw[key]!r}")
    if not isinstance(raw.get("baseline", ""), str) or not isinstance(raw.get("body") or {}, dict):
        raise LMMError(f"{where}: baseline must be a name and body an object")
    cfg = ModelConfig.from_dict(raw, where)
    try:
        Body.from_dict(cfg.body)
    except LMMError as exc:
        raise LMMError(f"{where}'s body: {exc}") from None
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise LMMError(f"{where}'s body is incomplete or malformed ({type(exc).__name__}: {exc})") from None
    return cfg


def _check_bank(bank: dict[str, np.ndarray], cfg: ModelConfig, path: Path) -> None:
    """The generation bank's arrays agree with each other and with the configuration."""
    where = f"{path}: the generation bank"
    if not bank:
        return
    need = ("bank_rotations", "bank_root", "bank_action", "bank_style")
    missing = [k for k in need if k not in bank]
    if missing:
        raise LMMError(f"{where} lacks {', '.join(missing)}; re-export the model with `lmm train --export`")
    rot, root, act, sty = (bank[k] for k in need)
    j = Body.from_dict(cfg.body).num_joints
    for k in ("bank_rotations", "bank_root"):
        if not np.issubdtype(bank[k].dtype, np.floating) or not np.all(np.isfinite(bank[k])):
            raise LMMError(f"{where}'s {k} must hold finite numbers")
    for k in ("bank_action", "bank_style", "bank_lengths"):
        if k in bank and not np.issubdtype(bank[k].dtype, np.integer):
            raise LMMError(f"{where}'s {k} must hold whole numbers, not {bank[k].dtype}")
    if rot.ndim == 4:  # banks written before segments could differ in length: (N, S, J, 4)
        n, frames = rot.shape[0], rot.shape[0] * rot.shape[1]
        shapes_ok = rot.shape[2:] == (j, 4) and root.shape == rot.shape[:2] + (3,)
    else:
        lengths = bank.get("bank_lengths")
        frames = len(rot)
        n = 0 if lengths is None else len(lengths)
        shapes_ok = (rot.shape[1:] == (j, 4) and root.shape == (frames, 3) and lengths is not None
                     and lengths.ndim == 1 and bool(np.all(lengths >= 1)) and int(lengths.sum()) == frames)
    shapes_ok = shapes_ok and act.shape == (n,) and sty.shape == (n,)
    if "bank_contacts" in bank:
        shapes_ok = shapes_ok and bank["bank_contacts"].size == frames * 4
    if not shapes_ok:
        raise LMMError(f"{where}'s arrays disagree in shape (rotations {rot.shape}, root {root.shape}, lengths "
                       f"{np.shape(bank.get('bank_lengths'))}, actions {act.shape}, styles {sty.shape}); the file is damaged")
    if n and (act.min() < 0 or act.max() >= len(cfg.actions) or sty.min() < 0 or sty.max() >= len(cfg.styles)):
        raise LMMError(f"{where} names actions or styles the model does not have; the file is damaged")


def write_segments(path: str | Path, bank: dict[str, np.ndarray], cfg: ModelConfig) -> Path:
    """Write a model's segments (``bank_*`` arrays) as a file of their own, with the vocabulary and body their
    labels and arrays refer to (checked by ``read_segments``); written whole or not at all."""
    _check_bank(bank, cfg, Path(path))
    meta = {"format": SEGMENTS_FORMAT, "actions": list(cfg.actions), "styles": list(cfg.styles), "fps": cfg.fps,
            "joints": list(Body.from_dict(cfg.body).names)}
    arrays = {k: v for k, v in bank.items() if k.startswith("bank_")}
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    path = Path(path)
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez(f, **arrays)
    return path


def read_segments(path: Path, cfg: ModelConfig, model_path: Path | None = None) -> dict[str, np.ndarray]:
    """The segments file ``path`` (``write_segments``) for a model of configuration ``cfg``: its labels must
    be the model's vocabulary and its joints the model's body, or an ``LMMError`` says which."""
    whose = f" (the recorded segments of {model_path.name})" if model_path is not None else ""
    if not Path(path).exists():
        raise LMMError(f"segments file {path}{whose} not found: generating by recorded segments needs it; generate "
                       "with the next-frame network (the default method; Blender: Method Next Frame), or put the file "
                       "back beside the model")
    data, meta = read_weights(Path(path), "segments file", "`write_segments`")
    if meta.get("format") != SEGMENTS_FORMAT:
        raise LMMError(f"{path} has format {meta.get('format')!r}; a segments file has {SEGMENTS_FORMAT!r}")
    if (meta.get("actions") != list(cfg.actions) or meta.get("styles") != list(cfg.styles)
            or meta.get("joints") != list(Body.from_dict(cfg.body).names) or meta.get("fps") != cfg.fps):
        raise LMMError(f"{path}{whose} was written for another model (its actions, styles, joints or frame rate "
                       "differ); give the segments file written with this model")
    bank = {k: v for k, v in data.items() if k.startswith("bank_")}
    if not bank:
        raise LMMError(f"{path} holds no segments (no bank_* arrays); the file is damaged")
    _check_bank(bank, cfg, Path(path))
    return bank


def load(path: str | Path | None = None) -> Model:
    """Load a weights file (the shipped default when ``path`` is None).

    Everything is checked before the model is built: that the file is an ``.npz`` (read without pickle,
    within ``validate.max_array_bytes()``), its metadata (JSON, format, model configuration), every array the
    configuration calls for (present, numeric, its shape, finite) and the generation bank. Each problem is
    an ``LMMError`` naming the file and what is wrong.
    """
    path = Path(path) if path else DEFAULT_MODEL
    if not path.exists() and not path.is_symlink():
        hint = "the shipped model is missing from this checkout" if path == DEFAULT_MODEL else "check the path"
        raise LMMError(f"model file {path} not found ({hint}); pass --model PATH to a file written by `lmm train`")
    data, meta = read_weights(path, "model file", "`lmm train --export`")
    if meta.get("format") != FORMAT:
        raise LMMError(f"{path} has format {meta.get('format')!r}; this LMM reads {FORMAT!r}")
    cfg = check_config(meta.get("model_config"), path)
    if "scale" not in data:
        raise LMMError(f"{path} lacks the correction scale; re-export it with this version of `lmm train`")
    shapes = expected_arrays(cfg)
    missing = [k for k in shapes if k not in data]
    if missing:
        raise LMMError(f"{path} lacks {len(missing)} array(s) its configuration calls for ({', '.join(missing[:5])}"
                       f"{', ...' if len(missing) > 5 else ''}); the file is damaged or from another version of LMM")
    for key, shape in shapes.items():
        a = data[key]
        if a.shape != shape:
            raise LMMError(f"{path}: array {key} has shape {a.shape}, expected {shape} for this configuration; the file "
                           "is damaged")
        if not np.issubdtype(a.dtype, np.floating) or not np.all(np.isfinite(a)):
            raise LMMError(f"{path}: array {key} must hold finite floating-point numbers; the file is damaged")
    for key in ("std", "scale", "vel_std", "flow_unit"):
        if key in shapes and not np.all(data[key] > 0):
            raise LMMError(f"{path}: array {key} must be positive everywhere; the file is damaged")
    params = {k[2:]: v for k, v in data.items() if k.startswith("p.")}
    bank = {k: v for k, v in data.items() if k.startswith("bank_")}
    _check_bank(bank, cfg, path)
    return Model(params, cfg, data["mean"], data["std"], bank, meta, path, data["scale"], data.get("vel_std"),
                 data.get("flow_unit"))


def load_seconds(path: str | Path | None = None) -> float:
    """How long ``load`` takes (for the benchmark)."""
    t = time.perf_counter()
    load(path)
    return time.perf_counter() - t

