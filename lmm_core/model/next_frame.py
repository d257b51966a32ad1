"""The next-frame network: motion sampled one frame at a time, as a language model samples the next word
(numpy only; ``lmm_core.train.next_frame`` trains it).

Why a second network: the in-betweening transformer predicts whole windows, and where the future is
uncertain it predicts the average of the futures it has seen, which for generation is a shuffle that
slows to a stand (docs/sampling.md). Drawing one whole window from it did not help on this compute
(the flow and the modes). Here the choice is made where it is small: each next frame, given the two
before it, the action and style, and a latent draw ``z``. Small choices compound into distinct motions.

Each frame is a vector of ``FRAME = 136`` numbers in that frame's own *heading frame* (no absolute
position or facing: a step looks the same wherever it is taken and whichever way it faces)::

    [0]       pelvis height above the floor, metres
    [1:3]     pelvis travel since the previous frame (x to the side, z forward), metres, this frame's heading
    [3]       turn since the previous frame about +Y, radians
    [4:10]    pelvis rotation relative to the heading, 6D
    [10:136]  local rotations of joints 1..21 (the body's order: the canonical body's but in benchmark models), 6D

The network is a conditional VAE's decoder (Ling et al. 2020, "Character Controllers Using Motion
VAEs", in kind): ``cond = [x_{t-1}, x_t]`` (normalised), their joints' positions and velocities
(``pose_inputs``), for an in-betweener the next key (``key_inputs``), and one-hot action and style; ``z``
fed to every layer, ELU hidden layers, and out comes the change to ``x_{t+1}`` (normalised) and four
foot-contact logits. ``z ~ N(0, variation^2 I)``, or for a generator's actions whose training posteriors
N(0, I) misses (dance, climb) ``z = m_a + variation * L_a eps`` from the file's prior per action
(``NextFrameModel.latent``, ``train/latent_prior.py``): ``variation = 0`` is one deterministic motion, 1 the
trained spread.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from .. import rotations as R
from ..errors import LMMError
from ..io.npz import read_weights
from ..kinematics import fk
from .body import NUM_JOINTS, Body, canonical_body
from .features import fill_baseline
from .floor import ground, start_level
from .trust import check_frames, trust_parts, unusual

FRAME = 10 + (NUM_JOINTS - 1) * 6  # 136
POSE = 2 * NUM_JOINTS * 3  # joint positions and velocities, the network's extra inputs (``pose_inputs``)
TTA = 4  # the time-to-arrival numbers of the key inputs (``tta_features``)
KEYS = NUM_JOINTS * 3 + NUM_JOINTS * 6 + 2 + TTA  # the next key as the network sees it (``key_inputs``): 204
# The entries of ``key_inputs`` a key of the pelvis alone leaves unknown (``NextFrameConfig.root_keys``): every
# joint's position but the pelvis's, and every rotation (the pelvis's tilt included). Known: the pelvis's
# position, the heading left to turn and the frames left.
KEY_HIDDEN = np.zeros(KEYS, dtype=bool)  # (KEYS,)
KEY_HIDDEN[3:NUM_JOINTS * 3 + NUM_JOINTS * 6] = True
CONTACTS = 4  # left ankle, right ankle, left toe, right toe
ROT6 = slice(4, FRAME)  # the 6D columns (22 rotations)
ROOT = 4  # height, travel (2) and turn: the columns before them
FORMAT = "lmm-next-frame-1"
DEFAULT = Path(__file__).resolve().parents[2] / "presets" / "models" / "lmm_next_frame.npz"
DEFAULT_KEYS = DEFAULT.with_name("lmm_next_frame_keys.npz")  # the in-betweener (``NextFrameConfig.keys``)
_Y = np.array([0.0, 1.0, 0.0])
# Classifier-free guidance of the labels by default for a generator (``NextFrameModel.step``), at twice the cost
# per labelled frame (10 s in 0.24 s on one thread). G1's draws at 1.5 were recognised as their action 0.84 of the
# time against 0.78 at 1 (12 seeds x 17 actions, 2026-12-07). R2, shipped since, over 48 seeds: 0.825 at 1.5,
# 0.841 at 1.75 (seeds 0-23 and 24-47: 0.842 and 0.840; the goal 0.829), 0.837 at 2; the Fréchet distance to
# real held-out windows 53 / 73 / 105; its 30 s walks, runs and dances the same at 1.5 and 1.75. Hence 1.75.
# An in-betweener follows its keys: none.
GUIDANCE = 1.75
# Keys with more than this share of their normalised height and rotation entries beyond ``trust.OUTLIER_Z``
# standard deviations are unusual (``NextFrameModel.unusual_keys``). Measured 2026-12-06 on 40 held-out
# windows per setting (keys every 8 or 30 frames, two keys 30 or 120 apart): in-domain 95% of windows
# under 0.4%, all under 0.9%; LAFAN1 subject 4 (a rig and motion never trained on) median 3.6-5.3%.
UNUSUAL_KEYS = 0.01
# Where unusual keys leave no inner key to hide (two keys, or context frames and one key), the network is
# trusted when it arrives at each key in a pose near the key's on its own, before the miss is eased in:
# within this many degrees, the mean over joints and gaps. Measured 2026-12-06 on two-key windows 30-120
# frames long (40 per length and group, the latent at its mean): in-domain takes arrive within a median 4
# degrees (96% within 15), LAFAN1 subject 4's within 26-29 (1 of 160 within 15, there 2.6 times
# interpolation's error). Two in-domain windows of those 160 count as unusual: one arrived within 13 degrees
# (its interpolation glided 3 m on sliding feet), one within 22.
ARRIVAL_TRUST = 15.0
# ... unless two keys alone (no given motion before the first) lie so far apart that interpolation would carry
# the body across the floor on frozen feet faster than this over a gap of 20 frames or more (metres a frame:
# 2 cm, where the skate measure counts a foot as sliding): then the network's own motion is kept. Not after
# given motion: on the LAFAN1 protocol (10 context frames, then a key) it took subject 4's L2P from 1.18 / 1.03
# / 1.01 / 1.01 of interpolation's to 1.87 / 1.55 / 1.55 / 1.49 (the context's own speed counted as a glide).
# Measured 2026-12-07 (two keys 30 / 60 / 90 / 120 frames apart, 40 windows each, the candidates below):
# in-domain, runs of 6-9 m over 60-90 frames were glided across on every contact frame (skate 1.85 of the
# capture's on one draw of windows, 1.07 with this); LAFAN1 subject 4 skate 6.3 / 5.5 / 7.2 / 5.4 -> 4.2 / 2.9 /
# 2.8 / 1.9 of the capture's at 1.19 / 1.13 / 1.00 / 1.01 of interpolation's error (0.99-1.01 before): a further
# error for motion that walks instead of gliding.
GLIDE_SPEED = 0.02
# Rollouts drawn for each gap of an in-between (``NextFrameModel.candidates_for``): ``(at least this many
# frames, this many)``; the one whose slower toe travels least over the ground, once the keys' misses are
# eased in, is kept (``_gap_costs``). The first is the draw asked for (the latent's mean by default), the
# others drawn about the latent's mean at ``CANDIDATE_SPREAD`` of its learned spread (or the variation asked
# for, where that is more), from a stream of their own (fixed at variation 0). Why: the mean rollout of a long gap walks a pace of its own and
# the keys' miss, eased in, slides the planted feet; among a few draws one nearly always keeps its feet. Measured
# 2026-12-07, 40 in-domain windows per setting on two draws of windows (seeds 0 and 1), as users get it: skate
# on two keys 30 / 60 / 90 / 120 apart 1.38 / 1.41 / 1.55 / 1.05 and 1.52 / 1.85 / 1.40 / 1.40 of the capture's
# with one rollout, 1.22 / 1.12 / 1.03 / 1.08 and 1.34 / 1.07 / 1.01 / 1.08 with these (glide rule included),
# errors within +-0.04 of interpolation's share either way; one rollout below 20 frames, where the keys leave
# little room (a key every 8 or 15: skate 1.00-1.09 already). Cost (the network alone, one thread, float64
# then): a 30-frame gap 25 ms with one rollout, 48 ms with 8, about 61 with 16, 89 with 32; 32 on the long gaps
# was no better than 16. In float32 (``load``): 20 ms with one, 35 with 8.
CANDIDATES = ((20, 8), (45, 16))
CANDIDATE_SPREAD = 0.75
# Frames before a key over which ``NextFrameModel.inbetween`` eases in what the pose missed the key by.
# Measured 2026-12-06 (the shipped in-betweener, 20 held-out windows each, the network's frames before the
# clean-up), foot skate / mean joint error (m) with the miss spread over the whole gap, then over the last
# 30, 15, 10 and 6 frames: two keys 60 apart 0.092 / 0.0520, 0.076 / 0.0508, 0.071 / 0.0494, 0.076 / 0.0490,
# 0.070 / 0.0493 (the capture's skate 0.054); 90 apart 0.060 / 0.0587, 0.063 / 0.0591, 0.060 / 0.0593,
# 0.067 / 0.0597, 0.056 / 0.0601; a key every 30 0.053 / 0.0234, 0.053 / 0.0234, 0.049 / 0.0230,
# 0.054 / 0.0232, 0.059 / 0.0237.
EASE = 15
# Frames over which ``NextFrameModel.inbetween`` lets a gap's first made frame, set where the given motion before
# it carries on at constant velocity, return to the network's own course (0: the network's first frame as made).
# Measured 2026-12-06, the LAFAN1 protocol (10 context frames, L2P / interpolation at 5 / 15 / 30 / 45 frames):
# the shipped in-betweener on Bandai validation 0.405 / 0.373 / 0.410 / 0.460 at 0, 0.394 / 0.377 / 0.413 / 0.461
# at 20 (L2Q a little worse): nothing to gain, so 0. A network trained on less (LAFAN1's, benchmarks/models) gains
# 0.2 at 5 frames, and its benchmark passes 20.
START_EASE = 0
# How a gap's pelvis takes in what its rollout missed the next key's place by (``NextFrameModel._fit_gap``). A
# smoothstep takes it in at rest at both keys; where keys follow one another (a key every 8-30 frames) the
# network's pace at each key is then its own, and a pace it misses by the same share in every gap is made up
# in the gaps' middles: the pelvis surges and slows between keys. Where another gap follows, the miss goes in
# on a cubic that starts at rest and reaches the key at the gap's mean rate of the miss (2x^2 - x^3, x the
# share of the gap made), which the next gap's rollout carries on from. Measured 2026-12-07 (40 windows per
# setting, as users get it, with the key check of one share then): error / interpolation's with a key every 8
# / 15 / 30 frames in-domain 0.539 / 0.533 / 0.490 -> 0.527 / 0.525 / 0.477, skate and p99 acceleration within
# 0.02 of the capture's share; on LAFAN1 subject 4 1.159 / 1.033 / 1.077 -> 1.088 / 0.988 / 1.076. The same
# cubic on a gap that ends the keys (nothing to carry on into): two keys 30 apart 0.523 -> 0.540, skate
# 1.17 -> 1.23, hence the smoothstep there.
PLACE_CARRIES = True
# ``NextFrameModel.steer``: the share of the heading error towards the next pelvis key turned each frame, the
# most it turns a frame (radians: 4 degrees, 120 degrees a second), and the frames before a key over which it
# turns to the facing asked there. Measured 2026-12-06 (keys 2.2-2.9 m off ahead, to the side and behind,
# 70-90 frames on, four seeds): gains 0.1 and 0.2 missed the keys by 0.34-0.35 m before the ease against
# 1.2-1.6 m with no turning, feet sliding no more than in the network's own walking.
STEER_GAIN = 0.2
STEER_MAX = np.radians(4.0)
STEER_FACE = 30


@dataclass(frozen=True)
class NextFrameConfig:
    """Shape of the next-frame network; ``actions``/``styles`` are the label vocabularies (index 0 = unknown)."""

    # The network also sees each frame's joint positions and velocities (``pose_inputs``): where the
    # feet are and whether they move, which the travel it predicts must agree with.
    positions: bool = True
    # The labels go into every layer beside z, not only the first: a network that sees them once lets the
    # motion it is making outweigh them (an idle that wanders off into a walk).
    label_layers: bool = True
    # The height, travel and turn (the first ``ROOT`` numbers) are predicted as they are, not as a change
    # from the current frame's: a change summed frame after frame is a random walk, and a turn rate that
    # random-walks makes every walk curve off one way.
    absolute_root: bool = True
    # An in-betweener: each step is also told the next key (where it stands and faces from here, its pose)
    # and how many frames away it is (``key_inputs``), as Harvey et al. 2020 tell their recurrent network.
    keys: bool = False
    # An in-betweener that may also be told a key of the pelvis alone (where it stands and faces, no pose):
    # the pose entries of such a key are hidden (``KEY_HIDDEN``) and one more input says so. What a goal (walk
    # to a point, follow a path) gives it.
    root_keys: bool = False
    hidden: int = 512
    layers: int = 3
    latent: int = 32
    fps: float = 30.0
    actions: tuple[str, ...] = ("<unknown>",)
    styles: tuple[str, ...] = ("<unknown>",)
    # The skeleton (``Body.to_dict``) for a network trained on a rig's own 22 joints (LAFAN1's, for the
    # published benchmark); None: the canonical body, which every product command works on.
    body: dict | None = None

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> "NextFrameConfig":
        d = json.loads(text)
        known = set(cls.__dataclass_fields__)
        if not isinstance(d, dict) or set(d) - known:
            raise LMMError(f"next-frame model configuration has unknown keys: {sorted(set(d) - known)}")
        for k in ("actions", "styles"):
            if k in d:
                d[k] = tuple(d[k])
        return cls(**d)

    @property
    def side_size(self) -> int:
        """What every layer gets besides the one before: ``z``, and the labels with ``label_layers``."""
        return self.latent + (len(self.actions) + len(self.styles) if self.label_layers else 0)

    @property
    def cond_size(self) -> int:
        return (2 * FRAME + (POSE if self.positions else 0) + self.key_size
                + len(self.actions) + len(self.styles))

    @property
    def key_size(self) -> int:
        """The key's inputs: ``KEYS`` numbers, and with ``root_keys`` the flag that its pose is unknown."""
        return (KEYS + (1 if self.root_keys else 0)) if self.keys else 0


CANON = canonical_body()


def _heading(pelvis: np.ndarray, body: Body = CANON) -> np.ndarray:
    """Heading ``(...)`` in radians about +Y (0 = facing +Z) of world pelvis rotations ``(..., 4)``."""
    fwd = R.mul_vec(pelvis, body.forward)
    return np.arctan2(fwd[..., 0], fwd[..., 2])


def _wrap(a: np.ndarray) -> np.ndarray:
    return (a + np.pi) % (2 * np.pi) - np.pi


def encode(rotations: np.ndarray, root: np.ndarray, body: Body = CANON) -> np.ndarray:
    """Frame vectors ``(..., T - 1, FRAME)`` of frames 1..T-1 of motion on ``body`` (local rotations
    ``(..., T, 22, 4)``, pelvis positions ``(..., T, 3)`` in metres, Y up), each against the one before."""
    yaw = _heading(rotations[..., 0, :], body)  # (..., T)
    head = R.from_axis_angle(_Y, yaw[..., 1:])  # (..., T-1, 4)
    step = R.inv_mul_vec(head, root[..., 1:, :] - root[..., :-1, :])
    pelvis = R.inv_mul(head, rotations[..., 1:, 0, :])
    d6 = R.to_6d(rotations[..., 1:, 1:, :])
    lead = d6.shape[:-2]
    return np.concatenate([root[..., 1:, 1:2], step[..., [0, 2]], _wrap(np.diff(yaw, axis=-1))[..., None],
                           R.to_6d(pelvis), d6.reshape(lead + (-1,))], axis=-1)


def standing(rotations: np.ndarray, root: np.ndarray, body: Body = CANON) -> np.ndarray:
    """Frame vectors ``(..., FRAME)`` of single frames (rotations ``(..., 22, 4)``, pelvis ``(..., 3)``) as if
    standing still: no travel, no turn. What a key is to the network (``key_inputs``) and to the key check."""
    return encode(np.stack([rotations, rotations], axis=-3), np.stack([root, root], axis=-2), body)[..., 0, :]


def decode(frames: np.ndarray, yaw0: float | np.ndarray = 0.0,
           at: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Canonical-body motion from frame vectors ``(..., T, FRAME)``: local rotations ``(..., T, 22, 4)`` and
    pelvis positions ``(..., T, 3)``, the travel and turns summed from a frame before the first that faced
    ``yaw0`` (radians about +Y, 0 = +Z; a number or ``(...)``) with its pelvis above ``at`` ``(..., 2)`` ``(x, z)``
    (the origin by default)."""
    frames = np.asarray(frames, dtype=np.float64)
    lead, T = frames.shape[:-2], frames.shape[-2]
    yaw = np.asarray(yaw0, dtype=np.float64)[..., None] + np.cumsum(frames[..., 3], axis=-1)
    head = R.from_axis_angle(_Y, yaw)
    step = np.stack([frames[..., 1], np.zeros(lead + (T,)), frames[..., 2]], axis=-1)
    start = np.zeros(lead + (1, 3))
    if at is not None:
        at = np.asarray(at, dtype=np.float64)
        start[..., 0, 0], start[..., 0, 2] = at[..., 0], at[..., 1]
    ground = np.cumsum(R.mul_vec(head, step), axis=-2) + start
    root = np.stack([ground[..., 0], frames[..., 0], ground[..., 2]], axis=-1)
    rot = R.from_6d(frames[..., 4:].reshape(lead + (T, NUM_JOINTS, 6)))
    rot[..., 0, :] = R.mul(head, rot[..., 0, :])
    return rot, root


def project(frames: np.ndarray) -> np.ndarray:
    """Frame vectors with every 6D block made orthonormal (Gram-Schmidt), as fed back to the network."""
    out = np.array(frames, dtype=np.float64)
    lead = out.shape[:-1]
    m = R.matrix_from_6d(out[..., ROT6].reshape(lead + (NUM_JOINTS, 6)))
    out[..., ROT6] = np.concatenate([m[..., :, 0], m[..., :, 1]], axis=-1).reshape(lead + (NUM_JOINTS * 6,))
    return out


OFFSETS = CANON.offsets * 1.0  # (22, 3) metres, the canonical body's bones
PARENTS = CANON.parents
FEET = CANON.contacts  # left ankle, right ankle, left toe, right toe: the contacts' joints (7, 8, 10, 11)


def positions(frames: np.ndarray, body: Body = CANON) -> np.ndarray:
    """Joint positions ``(..., 22, 3)`` in metres of frame vectors ``(..., FRAME)`` on ``body``, each in its
    own heading frame with the pelvis above the origin at its height."""
    lead = frames.shape[:-1]
    m = R.matrix_from_6d(frames[..., ROT6].reshape(lead + (NUM_JOINTS, 6)))
    g_rot, g_pos = [m[..., 0, :, :]], [np.stack([np.zeros(lead), frames[..., 0], np.zeros(lead)], axis=-1)]
    for j in range(1, NUM_JOINTS):
        p = body.parents[j]
        g_pos.append(g_pos[p] + g_rot[p] @ body.offsets[j])
        g_rot.append(g_rot[p] @ m[..., j, :, :])
    return np.stack(g_pos, axis=-2)


def pose_inputs(prev: np.ndarray, cur: np.ndarray, body: Body = CANON, p_prev: np.ndarray | None = None,
                p_cur: np.ndarray | None = None) -> np.ndarray:
    """``(..., POSE)``: the current frame's joint positions (``positions``) and their velocities in metres
    per frame, both in the current frame's heading; ``prev``, ``cur`` ``(..., FRAME)`` consecutive frames
    (``p_prev``, ``p_cur``: their ``positions`` where already known)."""
    p_prev = positions(prev, body) if p_prev is None else p_prev
    p_cur = positions(cur, body) if p_cur is None else p_cur
    c, s_ = np.cos(cur[..., 3])[..., None], np.sin(cur[..., 3])[..., None]
    # The previous frame's positions seen from the current heading: turned back by the turn between them
    # and moved back by the travel.
    x = c * p_prev[..., 0] - s_ * p_prev[..., 2] - cur[..., 1:2]
    z = s_ * p_prev[..., 0] + c * p_prev[..., 2] - cur[..., 2:3]
    vel = p_cur - np.stack([x, p_prev[..., 1], z], axis=-1)
    lead = cur.shape[:-1]
    return np.concatenate([p_cur.reshape(lead + (-1,)), vel.reshape(lead + (-1,))], axis=-1)


def tta_features(tta: np.ndarray) -> np.ndarray:
    """``(..., TTA)`` of the frames left to the key ``(...)``: a linear count (in seconds at 30 fps, held from
    5 s) and three decays (4, 12 and 36 frames) that tell the last frames apart finely."""
    t = np.asarray(tta, dtype=np.float64)[..., None]
    return np.concatenate([np.minimum(t, 150.0) / 30.0, np.exp(-t / np.array([4.0, 12.0, 36.0]))], axis=-1)


def key_inputs(cur: np.ndarray, to_key: np.ndarray, key: np.ndarray, tta: np.ndarray, body: Body = CANON,
               key_positions: np.ndarray | None = None) -> np.ndarray:
    """``(..., KEYS)``: the key as the network sees it from the current frame ``cur (..., FRAME)``.

    ``to_key (..., 3)``: the key's pelvis ground point ``(x, z)`` in metres and its heading in radians,
    relative to the current frame's (``to_key_from``, kept up with ``advance``); ``key (..., FRAME)``: the
    key's frame vector (its travel and turn unused); ``tta (...)``: frames from the one being made to the
    key (0: it is the key). Out come the key's joint positions in the current heading frame (pelvis
    ground point at the origin), its 6D rotations less the current frame's (what is left to turn), the
    cosine and sine of the heading left to turn, and ``tta_features``. ``key_positions``: ``positions(key)``
    when already known (a key is the same for every frame of a gap)."""
    pk = positions(key, body) if key_positions is None else key_positions  # (..., 22, 3), in the key's heading
    c, s_ = np.cos(to_key[..., 2])[..., None], np.sin(to_key[..., 2])[..., None]
    x = c * pk[..., 0] + s_ * pk[..., 2] + to_key[..., 0:1]
    z = -s_ * pk[..., 0] + c * pk[..., 2] + to_key[..., 1:2]
    lead = cur.shape[:-1]
    pos = np.stack([x, pk[..., 1], z], axis=-1).reshape(lead + (-1,))
    return np.concatenate([pos, key[..., ROT6] - cur[..., ROT6], c, s_, tta_features(tta)], axis=-1)


def to_key_from(root: np.ndarray, yaw: np.ndarray, key_root: np.ndarray, key_yaw: np.ndarray) -> np.ndarray:
    """``(..., 3)``: a key's pelvis ground point and heading (``key_root (..., 3)`` metres, ``key_yaw (...)``
    radians) seen from a frame's (``root (..., 3)``, ``yaw (...)``), as ``key_inputs`` takes them."""
    d = np.asarray(key_root, dtype=np.float64) - np.asarray(root, dtype=np.float64)
    c, s_ = np.cos(yaw), np.sin(yaw)
    return np.stack([c * d[..., 0] - s_ * d[..., 2], s_ * d[..., 0] + c * d[..., 2], _wrap(np.asarray(key_yaw) - yaw)],
                    axis=-1)


def advance(to_key: np.ndarray, frame: np.ndarray) -> np.ndarray:
    """``to_key (..., 3)`` seen from the next frame instead, ``frame (..., FRAME)`` (its travel and turn)."""
    t = frame[..., 3]
    c, s_ = np.cos(t), np.sin(t)
    x, z = to_key[..., 0], to_key[..., 1]
    return np.stack([c * x - s_ * z - frame[..., 1], s_ * x + c * z - frame[..., 2], _wrap(to_key[..., 2] - t)], axis=-1)


def _smoothstep(x: np.ndarray) -> np.ndarray:
    return x * x * (3 - 2 * x)


def ease_weights(n: int, frames: int = EASE) -> np.ndarray:
    """``(n,)`` how much of a miss at a key is taken in at each of the ``n`` frames after the previous key
    (the last is the key: 1): 0 until ``frames`` before the key, then a smoothstep; the whole gap when it is
    no longer than that."""
    first = max(n - frames, 0)  # the last frame left as the network made it
    return _smoothstep(np.clip((np.arange(1, n + 1) - first) / (n - first), 0.0, 1.0))


def _index(name: str | None, vocab: tuple[str, ...], what: str) -> int:
    """``name``'s place in a label vocabulary (0, unknown, for none); an ``LMMError`` listing it otherwise."""
    if not name:
        return 0
    if name not in vocab:
        raise LMMError(f"unknown {what} {name!r} (the next-frame model does not know it); it knows: {', '.join(vocab[1:])}")
    return vocab.index(name)


def _elu(x: np.ndarray) -> np.ndarray:
    return np.where(x > 0, x, np.expm1(np.minimum(x, 0)))


class NextFrameModel:
    """A trained next-frame network (``p``: the decoder's arrays, ``mean``/``std``: frame statistics,
    ``starts``: per action, up to a few pairs of real frame vectors generation may begin from)."""

    def __init__(self, cfg: NextFrameConfig, p: dict[str, np.ndarray], mean: np.ndarray, std: np.ndarray,
                 starts: np.ndarray, start_action: np.ndarray, pose_mean: np.ndarray | None = None,
                 pose_std: np.ndarray | None = None, key_mean: np.ndarray | None = None,
                 key_std: np.ndarray | None = None):
        self.cfg, self.p, self.mean, self.std = cfg, p, mean, std
        self.key_mean, self.key_std = key_mean, key_std  # (KEYS,) each where cfg.keys
        self.pose_mean, self.pose_std = pose_mean, pose_std  # (POSE,) each where cfg.positions
        self.starts, self.start_action = starts, start_action  # (S, 2, FRAME), (S,)
        self.guidance = 1.0 if cfg.keys else GUIDANCE  # what ``roll`` and ``generate`` use unless told (``step``)
        # Rollouts drawn for each gap of an in-between, the one that keeps its feet best kept (``CANDIDATES``).
        self.candidates: int | tuple[tuple[int, int], ...] = CANDIDATES
        self.candidate_spread = CANDIDATE_SPREAD
        self.glide_speed = GLIDE_SPEED  # metres a frame (``checked_inbetween``)
        self._positions_of: tuple | None = None  # (body, frames, their positions): ``step``
        self._transposed: tuple | None = None  # (ids of p's arrays, its layers): ``_layers``
        # The latent's prior per action: where a draw is centred ``(actions, latent)`` and its spread, a
        # lower-triangular square root of its covariance ``(actions, latent, latent)`` (``latent``). N(0, I)
        # unless the file carries one fitted to the encoder's posteriors (``fit_latent_prior`` in the trainer).
        self.prior_mean = np.zeros((len(cfg.actions), cfg.latent))
        self.prior_scale = np.broadcast_to(np.eye(cfg.latent), (len(cfg.actions), cfg.latent, cfg.latent))
        self.body = Body.from_dict(cfg.body)  # the skeleton its frames are on (the canonical body but for benchmarks)
        self.meta: dict = {}  # the weights file's record (``load``): steps, training options

    def require_canonical(self, what: str) -> None:
        """Refuse (an ``LMMError`` naming ``what``) a network trained on a rig's own skeleton, which only the
        benchmark of that skeleton's data can use: the product's commands work on the canonical body."""
        if self.cfg.body is not None:
            raise LMMError(f"this next-frame network was trained on another skeleton ({self.body.names[0]}, "
                           f"{self.body.names[1]}, ...: a benchmark model, `lmm train-next-frame --bvh`); for {what}, "
                           "use one trained on the canonical corpus, such as the shipped presets/models/lmm_next_frame*.npz")

    def action_index(self, action: str | None) -> int:
        return _index(action, self.cfg.actions, "action")

    def style_index(self, style: str | None) -> int:
        return _index(style, self.cfg.styles, "style")

    def step(self, prev: np.ndarray, cur: np.ndarray, action: np.ndarray, style: np.ndarray,
             z: np.ndarray, guidance: float = 1.0, keys: np.ndarray | None = None,
             root_only: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """One frame for each of ``B`` motions: ``prev``, ``cur`` ``(B, FRAME)`` (raw, not normalised),
        labels ``(B,)``, latent ``z (B, latent)``, and for an in-betweener (``cfg.keys``) the next key
        ``keys (B, KEYS)`` (``key_inputs``, raw); ``root_only (B,)`` bool marks keys of the pelvis alone
        (``cfg.root_keys``; their pose entries are ignored). Returns the next frame ``(B, FRAME)``
        (projected) and foot-contact probabilities ``(B, 4)``.

        ``guidance`` > 1 is classifier-free guidance: the network also runs without the labels (it was
        trained with a share of windows unlabelled) and the step is pushed ``guidance`` times as far from
        that unlabelled step as the labelled one lies, so the labels weigh more than the motion so far."""
        cfg = self.cfg
        B = len(cur)
        a1 = np.zeros((B, len(cfg.actions)))
        a1[np.arange(B), action] = 1.0
        s1 = np.zeros((B, len(cfg.styles)))
        s1[np.arange(B), style] = 1.0
        cn_ = (cur - self.mean) / self.std
        state = [(prev - self.mean) / self.std, cn_]
        if cfg.positions:
            # A rollout feeds each frame back as the next step's previous one: its joint positions are kept
            # from the step before (checked equal, so a caller that changes a frame in between gets them anew).
            known = self._positions_of
            p_prev = known[2] if (known is not None and known[0] is self.body and known[1].shape == prev.shape
                                  and np.array_equal(known[1], prev)) else positions(prev, self.body)
            p_cur = positions(cur, self.body)
            self._positions_of = (self.body, np.array(cur, copy=True), p_cur)
            state.append((pose_inputs(prev, cur, self.body, p_prev, p_cur) - self.pose_mean) / self.pose_std)
        if cfg.keys:
            if keys is None:
                raise LMMError("this next-frame network in-betweens: each step needs the next key (keys=)")
            state.append(self.key_state(keys, root_only))
        out = self._decode(state, z, a1, s1)
        if guidance != 1.0:
            none = np.zeros_like(a1)
            none[:, 0] = 1.0
            plain = self._decode(state, z, none, np.eye(1, len(cfg.styles)).repeat(B, axis=0))
            out = plain + guidance * (out - plain)
        base = cn_.copy()
        if cfg.absolute_root:
            base[:, :ROOT] = 0.0
        nxt = project((base + out[:, :FRAME]) * self.std + self.mean)
        return nxt, 1.0 / (1.0 + np.exp(-out[:, FRAME:]))

    def key_state(self, keys: np.ndarray, root_only: np.ndarray | None = None) -> np.ndarray:
        """The key inputs ``(B, KEYS)`` normalised, as the network takes them ``(B, cfg.key_size)``: with
        ``root_keys``, the pose entries of keys of the pelvis alone (``root_only (B,)``) set to their mean and
        a last column of 1 for those keys."""
        k = (keys - self.key_mean) / self.key_std
        only = np.zeros(len(k), dtype=bool) if root_only is None else np.asarray(root_only, dtype=bool)
        if not self.cfg.root_keys:
            if only.any():
                raise LMMError("this next-frame network was not trained on keys of the pelvis alone "
                               "(`lmm train-next-frame --root-keys`); give it whole poses")
            return k
        k[only[:, None] & KEY_HIDDEN[None]] = 0.0
        return np.concatenate([k, only[:, None].astype(k.dtype)], axis=1)

    def _decode(self, state: list[np.ndarray], z: np.ndarray, a1: np.ndarray, s1: np.ndarray) -> np.ndarray:
        """The decoder's output ``(B, FRAME + CONTACTS)`` float64 (normalised change, contact logits), computed
        in the weights' own precision (float32 from ``load``)."""
        layers = self._layers()
        dtype = layers[0][0].dtype
        # Feature-major (columns are motions): OpenBLAS multiplies a wide weight matrix by the few columns of a
        # rollout's batch about twice as fast as it multiplies those few rows by the matrix (measured with 8).
        h = np.concatenate(state + [a1, s1], axis=1).astype(dtype).T
        side = (np.concatenate([z, a1, s1], axis=1) if self.cfg.label_layers else z).astype(dtype).T
        for w, b in layers[:-1]:
            h = _elu(w @ np.concatenate([h, side]) + b)
        w, b = layers[-1]
        return (w @ np.concatenate([h, side]) + b).T.astype(np.float64)

    def _layers(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """The decoder's layers as ``_decode`` multiplies them: ``(W.T, b[:, None])`` each, made from ``self.p``
        once (again when ``self.p`` or any of its arrays is replaced; an array changed in place is not seen)."""
        names = [f"dec{i}" for i in range(self.cfg.layers)] + ["out"]
        held = tuple(id(self.p[f"{n}_{k}"]) for n in names for k in "wb")
        if self._transposed is None or self._transposed[0] != held:
            self._transposed = (held, [(np.ascontiguousarray(self.p[f"{n}_w"].T), self.p[f"{n}_b"][:, None])
                                       for n in names])
        return self._transposed[1]

    def latent(self, rng: np.random.Generator, action: int, variation: float, count: int = 1) -> np.ndarray:
        """``count`` latent draws ``(count, latent)`` for a motion of ``action``: the action's prior mean plus
        its scale times ``variation`` times standard normal numbers from ``rng`` (variation 0: the mean).

        Why per action: the encoder's posteriors over an action's training frames average to N(0, I) for
        walks, waves and idles, but not for dance (mean 0.5 away, some directions twice as wide: measured on
        the shipped generator, 2026-12-07), so draws from N(0, I) gave dances a fraction of their energy."""
        eps = rng.standard_normal((count, self.cfg.latent))
        return self.prior_mean[action] + (eps @ self.prior_scale[action].T) * variation

    def styles_of(self, action: int) -> tuple[str, ...] | None:
        """The styles the training clips held ``action`` in (the file's ``meta["label_pairs"]``, written by
        ``lmm train-next-frame``), in the vocabulary's order; None for a file written before it recorded them."""
        pairs = self.meta.get("label_pairs")
        if pairs is None:
            return None
        held = {int(s) for a, s in pairs if int(a) == action}
        return tuple(name for i, name in enumerate(self.cfg.styles) if i and i in held)

    def start_pair(self, action: int, seed: int) -> np.ndarray:
        """A pair of real frame vectors ``(2, FRAME)`` of the action (any action's when it has none) to
        begin from, picked by ``seed``."""
        pool = np.flatnonzero(self.start_action == action)
        if not len(pool):
            pool = np.arange(len(self.starts))
        return self.starts[pool[np.random.default_rng(seed).integers(len(pool))]]

    def roll(self, frames: int, action: int = 0, style: int = 0, seed: int = 0, variation: float = 1.0,
             start: np.ndarray | None = None, guidance: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``frames`` frame vectors ``(frames, FRAME)`` after ``start`` (two frame vectors ``(2, FRAME)``;
        default: a real pair of the action) and their contact probabilities ``(frames, 4)``. ``seed`` fixes
        the draw; ``variation`` scales ``z``; ``guidance`` (default ``self.guidance``, see ``step``)."""
        guidance = self.guidance if guidance is None else guidance
        rng = np.random.default_rng(seed)
        pair = self.start_pair(action, seed) if start is None else np.asarray(start, dtype=np.float64)
        prev, cur = pair[:1], pair[1:2]
        out, con = np.empty((frames, FRAME)), np.empty((frames, CONTACTS))
        a, s = np.array([action]), np.array([style])
        for t in range(frames):
            z = self.latent(rng, action, variation)
            nxt, c = self.step(prev, cur, a, s, z, guidance if action or style else 1.0)
            out[t], con[t] = nxt[0], c[0]
            prev, cur = cur, nxt
        return out, con

    def generate(self, frames: int, action: int = 0, style: int = 0, seed: int = 0, variation: float = 1.0,
                 start: tuple[np.ndarray, np.ndarray] | None = None,
                 guidance: float | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``frames`` frames of canonical-body motion: ``(rotations (frames, 22, 4), root (frames, 3),
        contact probabilities (frames, 4))``. With ``start`` (rotations ``(S >= 3, 22, 4)``, root
        ``(S, 3)``) it carries on from its last frames, where they stand and face; without, it begins from
        a real pair of the action's frames, the second of them (not returned) standing at the origin
        facing +Z."""
        if start is None:
            vec, con = self.roll(frames, action, style, seed, variation, guidance=guidance)
            rot, root = decode(vec)
            return rot, root, con
        srot, sroot = np.asarray(start[0], dtype=np.float64), np.asarray(start[1], dtype=np.float64)
        if srot.ndim != 3 or srot.shape[1:] != (NUM_JOINTS, 4) or sroot.shape != (len(srot), 3):
            raise LMMError(f"the motion to carry on from must be rotations (S, {NUM_JOINTS}, 4) and root (S, 3) on "
                           f"the network's body, got {srot.shape} and {sroot.shape}")
        if len(sroot) < 3:
            raise LMMError("carrying motion on needs at least 3 frames of it to start from")
        if not (np.isfinite(srot[-3:]).all() and np.isfinite(sroot[-3:]).all()):
            raise LMMError("the last 3 frames of the motion to carry on from hold NaN or infinite numbers; "
                           "repair or trim them first")
        # Motion standing above the floor (a box, a stage) carries on from its own ground, as ``inbetween`` rolls
        # between keys on theirs: the network reads the pelvis's height above the one floor it learned.
        body = self.body
        lift = np.array([0.0, start_level(srot, sroot, body.offsets, body.parents, list(body.contacts[:2])), 0.0])
        pair = encode(srot[-3:], sroot[-3:] - lift, body)
        vec, con = self.roll(frames, action, style, seed, variation, pair, guidance)
        rot, root = decode(vec, float(_heading(srot[-1, 0], body)), sroot[-1, [0, 2]])
        return rot, root + lift, con

    def inbetween(self, rotations: np.ndarray, root: np.ndarray, known: np.ndarray, seed: int = 0,
                  variation: float = 1.0, action: int = 0, style: int = 0,
                  start_ease: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The frames between known ones made by rolling the network from each key to the next.

        ``rotations (T, 22, 4)``, ``root (T, 3)``: motion on the network's body (``self.body``; the canonical
        body but for benchmark models; metres, Y up) of which the frames
        where ``known (T,)`` is True are read. Each gap is rolled out frame by frame from the two frames
        before it (a still start at the first key), the network told where the next key stands and how
        far off it is; what it misses the key by at arrival is eased in (no jump at either key: a smoothstep,
        or where another rolled gap follows the key a cubic that reaches it at the gap's mean rate of the miss,
        ``PLACE_CARRIES``), the pelvis's place across the gap, its height and the rotations over its last
        ``EASE`` frames, and
        the key is kept exactly. Frames before the first key and after the last hold those keys. ``seed`` fixes the draw, ``variation`` scales
        it (0: the latent's mean). A gap of 20 frames or more is rolled several times (``candidates_for``: the
        draw asked for and others around it) and the rollout whose slower toe travels least over the ground,
        misses eased in, is kept (``CANDIDATES`` says why). Returns rotations, root and contact probabilities
        ``(T, 4)`` (0 at held frames)."""
        rot, pos, con, _ = self._inbetween(rotations, root, known, seed, variation, action, style, start_ease)
        return rot, pos, con

    def _inbetween(self, rotations: np.ndarray, root: np.ndarray, known: np.ndarray, seed: int = 0,
                   variation: float = 1.0, action: int = 0, style: int = 0,
                   start_ease: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
        """``inbetween``, and how far the network's own arrival pose was from each key before the miss was
        eased in: degrees, the mean over joints and gaps (0 with no gap to roll)."""
        if not self.cfg.keys:
            raise LMMError("this next-frame network was not trained to in-between (`lmm train-next-frame --keys`)")
        start_ease = START_EASE if start_ease is None else int(start_ease)
        rot = np.array(rotations, dtype=np.float64)
        pos = np.array(root, dtype=np.float64)
        known = np.asarray(known, dtype=bool)
        T = len(rot)
        if rot.shape != (T, NUM_JOINTS, 4) or pos.shape != (T, 3) or known.shape != (T,):
            raise LMMError(f"in-betweening needs rotations (T, {NUM_JOINTS}, 4), root (T, 3) and known (T,) on the "
                           f"network's body, got {rot.shape}, {pos.shape} and {known.shape}")
        idx = np.flatnonzero(known)
        if len(idx) == 0:
            raise LMMError("in-betweening needs at least one key frame")
        if not (np.isfinite(rot[idx]).all() and np.isfinite(pos[idx]).all()):
            raise LMMError("a key frame holds NaN or infinite numbers; repair or remove that key")
        con = np.zeros((T, CONTACTS))
        # Keys standing above the floor (a box, a stair) are rolled between on their own ground, as the
        # window network does (``floor.py``): the network learned the pelvis height above one floor.
        body = self.body
        level = ground(rot, pos, np.broadcast_to(known[:, None], (T, NUM_JOINTS)), body.offsets, body.parents,
                       list(body.contacts[:2]))
        lift = np.zeros((T, 3))
        if level is not None:
            lift[:, 1] = level
            pos = pos - lift
        rot[:idx[0]], pos[:idx[0]] = rot[idx[0]], pos[idx[0]]
        rot[idx[-1] + 1:], pos[idx[-1] + 1:] = rot[idx[-1]], pos[idx[-1]]
        yaw = _heading(rot[:, 0], body)
        rng = np.random.default_rng(seed)
        # The other candidates draw from a stream of their own, so that the first is the very draw one rollout
        # makes, and at variation 0 from one fixed stream: the deterministic answer is the same for every seed.
        others = np.random.default_rng([seed, 1] if variation > 0 else [0, 1])
        act, sty = np.array([action]), np.array([style])
        arrival = []
        for a, b in zip(idx[:-1], idx[1:]):
            n = int(b - a)
            if n < 2:
                continue
            # The history: the frames made so far (or the key repeated where the motion begins: a still start).
            hist = [max(a - 2, idx[0]), max(a - 1, idx[0]), a]
            pair = encode(rot[hist], pos[hist], body)
            k = self.candidates_for(n)
            prev, cur = np.repeat(pair[:1], k, axis=0), np.repeat(pair[1:], k, axis=0)
            key = np.repeat(standing(rot[b], pos[b], body)[None], k, axis=0)  # (k, FRAME)
            to_key = np.repeat(to_key_from(pos[a], yaw[a], pos[b], yaw[b])[None], k, axis=0)
            spread = max(variation, self.candidate_spread)
            vecs, cs = np.empty((n, k, FRAME)), np.empty((n, k, CONTACTS))
            ak, sk = np.repeat(act, k), np.repeat(sty, k)
            key_at = positions(key, body)
            for t in range(n):
                z = self.latent(rng, action, variation)
                if k > 1:
                    z = np.concatenate([z, self.latent(others, action, spread, k - 1)])
                nxt, cs[t] = self.step(prev, cur, ak, sk, z, self.guidance if action or style else 1.0,
                                       key_inputs(cur, to_key, key, np.full(k, n - 1 - t), body, key_at))
                vecs[t] = nxt
                to_key = advance(to_key, nxt)
                prev, cur = cur, nxt
            carry = (rot[a - 1:a + 1], pos[a - 1:a + 1]) if (start_ease > 0 and a > 0 and known[a - 1]) else None
            fr, fp, fmiss = self._fit_gap(vecs.swapaxes(0, 1), float(yaw[a]), pos[a], rot[b], pos[b], carry,
                                          start_ease, continues=bool(b != idx[-1] and not known[b + 1]))
            best = int(np.argmin(self._gap_costs(fr, fp, rot[a], pos[a]))) if k > 1 else 0
            c = cs[:, best]
            arrival.append(float(fmiss[best]))
            rot[a + 1:b], pos[a + 1:b] = fr[best, :-1], fp[best, :-1]
            con[a + 1:b + 1] = c
        pos = pos + lift
        pos[idx] = np.asarray(root, dtype=np.float64)[idx]  # the keys exactly as given, not lowered and raised
        return rot, pos, con, float(np.mean(arrival)) if arrival else 0.0

    def candidates_for(self, n: int) -> int:
        """How many rollouts to draw for a gap of ``n`` frames (``self.candidates``: an int, or
        ``((at_least_frames, count), ...)`` in increasing order, the last that ``n`` reaches)."""
        if isinstance(self.candidates, int):
            return max(1, self.candidates)
        k = 1
        for frames, count in self.candidates:
            if n >= frames:
                k = count
        return max(1, int(k))

    def _fit_gap(self, vec: np.ndarray, yaw_a: float, pos_a: np.ndarray, key_rot: np.ndarray, key_pos: np.ndarray,
                 carry: tuple[np.ndarray, np.ndarray] | None, start_ease: int,
                 continues: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Rollouts ``vec (..., n, FRAME)`` from the key at ``pos_a`` facing ``yaw_a`` brought onto the next key
        (``key_rot (22, 4)``, ``key_pos (3,)``): rotations ``(..., n, 22, 4)`` and root ``(..., n, 3)`` of the
        frames after the key up to and including the next (which is then the key), and the mean joint angle each
        missed the key's pose by before that (degrees, ``(...)``). ``carry``: the two given frames before the
        gap, whose velocity the first ``start_ease`` frames carry on; ``continues``: another gap follows the
        key (``PLACE_CARRIES``). All rollouts at once: one at a time cost a tenth of a 30-frame in-between."""
        n = vec.shape[-2]
        r, p = decode(vec, yaw_a, pos_a[[0, 2]])  # frames a+1 .. b (b: where it arrived)
        if carry is not None:  # given motion before the gap: carry its velocity on
            r, p = _continued(r, p, carry[0], carry[1], start_ease)
        x = np.arange(1, n + 1) / n
        # The pelvis's place miss: from standing still at the key before (the rollout already carries the
        # velocity it arrived with), reaching the key at the gap's mean rate of the miss where another gap
        # follows (``PLACE_CARRIES``), at rest where none does.
        w = 2 * x * x - x ** 3 if (continues and PLACE_CARRIES) else _smoothstep(x)
        miss = R.inv_mul(r[..., -1:, :, :], key_rot)  # (..., 1, 22, 4): what is left to turn at the key
        # The pose's miss goes in over the last ``EASE`` frames only, the pelvis's place over the whole gap: spread
        # over the whole gap, a leg's miss bends every step on the way and the planted feet slide.
        w_pose = ease_weights(n)
        fix = R.slerp(R.identity(r.shape[:-1]), np.broadcast_to(miss, r.shape),
                      np.broadcast_to(w_pose[:, None], r.shape[:-1]))
        # The pelvis's height belongs to the pose (a key's bent knees lower it), so its miss goes in with
        # the pose's; spread over the whole gap it sank or lifted the body under planted feet, and the
        # clean-up's floor then dragged swing feet along the ground. Measured 2026-12-06 (40 in-domain
        # windows each, as users get it): foot skate / the capture's on two keys 30 / 60 / 90 / 120 apart
        # 1.42 / 1.66 / 1.71 / 1.17 -> 1.38 / 1.70 / 1.55 / 1.05, errors within 0.002; the LAFAN1 protocol
        # on Bandai validation L2P 0.410 / 0.460 -> 0.400 / 0.450 of interpolation's at 30 / 45 frames.
        shift = w[:, None] * (key_pos - p[..., -1:, :])
        shift[..., 1] = w_pose * (key_pos[1] - p[..., -1:, 1])
        return R.mul(r, fix), p + shift, np.degrees(R.angle(miss[..., 0, :, :])).mean(axis=-1)

    def _gap_costs(self, rot: np.ndarray, pos: np.ndarray, key_rot: np.ndarray, key_pos: np.ndarray) -> np.ndarray:
        """``(k,)`` how far the slower toe travels over the ground across each fitted gap (``_fit_gap``'s
        frames after the key ``key_rot (22, 4)``, ``key_pos (3,)``: rotations ``rot (k, n, 22, 4)``, root
        ``pos (k, n, 3)``), metres: blind to height, so that a foot held up does not hide a slide (in walking
        one toe is always down); what the keys' miss drags the body by counts too."""
        k = len(rot)
        rot = np.concatenate([np.broadcast_to(key_rot, (k, 1) + key_rot.shape), rot], axis=1)  # (k, n + 1, 22, 4)
        pos = np.concatenate([np.broadcast_to(key_pos, (k, 1, 3)), pos], axis=1)
        toes = _world(rot, pos, self.body)[..., list(self.body.contacts[2:]), :]  # (k, n + 1, 2, 3)
        speed = np.linalg.norm(np.diff(toes[..., [0, 2]], axis=1), axis=-1)  # (k, n, 2) metres a frame
        return speed.min(axis=-1).sum(axis=-1)

    def steer(self, start: tuple[np.ndarray, np.ndarray], key_frames: np.ndarray, key_root: np.ndarray,
              key_yaw: np.ndarray, action: int = 0, style: int = 0, seed: int = 0, variation: float = 1.0,
              guidance: float | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Motion that carries ``start`` on to keys of the pelvis alone (a goal: walk to a point, follow a
        path), made a frame at a time by this network, turned towards the next key as it goes.

        ``start``: rotations ``(S >= 3, 22, 4)`` and root ``(S, 3)`` (canonical body, metres) to go on from;
        ``key_frames (K,)`` increasing new-frame indices (0: the first frame after the start), ``key_root
        (K, 3)`` the pelvis there (metres, world: its place on the ground is met; its height is only told to an
        in-betweener), ``key_yaw (K,)`` its facing (radians about +Y, 0 facing +Z); ``guidance`` as ``step``'s
        (default the model's own). Returns ``key_frames[-1] + 1`` new frames: rotations, root and contact
        probabilities ``(n, 4)``.

        Each frame the network proposes (an in-betweener trained on pelvis keys is told the next one, where
        it stands and how far off: ``cfg.root_keys``; a generator walks on its own) is turned towards that key
        by ``STEER_GAIN`` of the heading error, at most ``STEER_MAX`` a frame, the last ``STEER_FACE`` frames
        before a key towards the facing asked there: the network sees the turn in what it is fed back and
        steps into it, as the turning walks it learned from do. Why: on its own it walks where it was walking
        and turns late (measured: keys 2.9 m off to the side missed by 1.2-1.6 m). What the pelvis still misses
        each key by (its pace) is eased in over the frames since the key before (smoothstep: no jump), its
        place and its facing, so the keys are met exactly."""
        self.require_canonical("walking to goals")
        if self.cfg.keys and not self.cfg.root_keys:
            raise LMMError("this next-frame network was not trained on keys of the pelvis alone "
                           "(`lmm train-next-frame --keys --root-keys`); it cannot walk to goals")
        srot, sroot = np.asarray(start[0], dtype=np.float64), np.asarray(start[1], dtype=np.float64)
        if srot.ndim != 3 or srot.shape[1:] != (NUM_JOINTS, 4) or sroot.shape != (len(srot), 3) or len(srot) < 3:
            raise LMMError(f"steering carries on from at least 3 frames of canonical-body motion (rotations "
                           f"(S, {NUM_JOINTS}, 4), root (S, 3)), got {srot.shape} and {sroot.shape}")
        if not (np.isfinite(srot[-3:]).all() and np.isfinite(sroot[-3:]).all()):
            raise LMMError("the last 3 frames of the motion to carry on from hold NaN or infinite numbers; "
                           "repair or trim them first")
        kf = np.asarray(key_frames, dtype=np.int64)
        key_root, key_yaw = np.asarray(key_root, dtype=np.float64), np.asarray(key_yaw, dtype=np.float64)
        if kf.ndim != 1 or len(kf) == 0 or kf[0] < 0 or np.any(np.diff(kf) <= 0) \
                or key_root.shape != (len(kf), 3) or key_yaw.shape != (len(kf),):
            raise LMMError("pelvis keys need increasing frames (K,) from 0, positions (K, 3) and facings (K,)")
        # A start above the floor walks on its own ground, as ``generate`` carries one on (the keys keep its height).
        lift = np.array([0.0, start_level(srot, sroot, CANON.offsets, CANON.parents, list(CANON.contacts[:2])), 0.0])
        sroot, key_root = sroot - lift, key_root - lift
        pair = encode(srot[-3:], sroot[-3:])
        prev, cur = pair[:1], pair[1:]
        yaw, root = float(_heading(srot[-1, 0])), sroot[-1].copy()
        n = int(kf[-1]) + 1
        vec, con = np.empty((n, FRAME)), np.empty((n, CONTACTS))
        rng = np.random.default_rng(seed)
        act, sty = np.array([action]), np.array([style])
        guidance = (self.guidance if guidance is None else guidance) if action or style else 1.0
        k = 0
        for t in range(n):
            while kf[k] < t:
                k += 1
            left = int(kf[k] - t)  # frames from the one being made to the key
            to_key = to_key_from(root, yaw, key_root[k], key_yaw[k])[None]
            z = self.latent(rng, action, variation)
            keys = None
            if self.cfg.keys:  # the key as a frame vector: only its height is read (its pose is hidden)
                key = cur.copy()
                key[0, 0] = key_root[k, 1]
                keys = key_inputs(cur, to_key, key, np.array([left]))
            nxt, con[t] = self.step(prev, cur, act, sty, z, guidance, keys, np.array([True]) if self.cfg.keys else None)
            # Head for the key; near it (or in its last frames), turn to the facing asked there.
            away = key_root[k, [0, 2]] - root[[0, 2]]
            want = np.arctan2(away[0], away[1]) if np.hypot(*away) > 0.3 else key_yaw[k]
            if left < STEER_FACE:
                want = want + (1.0 - left / STEER_FACE) * _wrap(key_yaw[k] - want)
            error = _wrap(want - (yaw + nxt[0, 3]))
            nxt[0, 3] += np.clip(STEER_GAIN * error, -STEER_MAX, STEER_MAX)
            vec[t] = nxt[0]
            yaw += float(nxt[0, 3])
            root = root + np.array([np.cos(yaw) * nxt[0, 1] + np.sin(yaw) * nxt[0, 2], 0.0,
                                    -np.sin(yaw) * nxt[0, 1] + np.cos(yaw) * nxt[0, 2]])
            prev, cur = cur, nxt
        rot, pos = decode(vec, float(_heading(srot[-1, 0])), sroot[-1, [0, 2]])
        # Each key's miss (place on the ground and facing) eased in from the key before.
        ground_fix, turn = np.zeros((n, 2)), np.zeros(n)
        last, carried, turned = -1, np.zeros(2), 0.0
        for f, p, y in zip(kf, key_root, key_yaw):
            w = _smoothstep(np.arange(1, f - last + 1) / (f - last))
            miss = p[[0, 2]] - pos[f, [0, 2]] - carried
            ground_fix[last + 1:f + 1] = carried + w[:, None] * miss
            dy = _wrap(y - _heading(rot[f, 0]) - turned)
            turn[last + 1:f + 1] = turned + w * dy
            last, carried, turned = int(f), ground_fix[f], turn[f]
        pos[:, [0, 2]] += ground_fix
        rot[:, 0] = R.mul(R.from_axis_angle(np.broadcast_to(_Y, (n, 3)), turn), rot[:, 0])
        return rot, pos + lift, con

    def unusual_keys(self, rotations: np.ndarray, root: np.ndarray, known: np.ndarray) -> bool:
        """Whether the key poses lie off the training data (``trust.unusual`` on their height and rotations in
        the network's normalised units): a rig laid out unlike the training sources' (LAFAN1's trunk), or
        motion unlike any of theirs."""
        idx = np.flatnonzero(known)
        rotations, root = np.asarray(rotations, dtype=np.float64), np.array(root, dtype=np.float64)
        body = self.body
        level = ground(rotations, root, np.broadcast_to(np.asarray(known, dtype=bool)[:, None], (len(root), NUM_JOINTS)),
                       body.offsets, body.parents, list(body.contacts[:2]))
        if level is not None:  # heights on the keys' own ground, as ``inbetween`` rolls them
            root[:, 1] -= level
        vec = standing(rotations[idx], root[idx], body)
        z = (vec - self.mean) / self.std
        return unusual(np.concatenate([z[:, :1], z[:, ROOT:]], axis=1), UNUSUAL_KEYS)

    def checked_inbetween(self, rotations: np.ndarray, root: np.ndarray, known: np.ndarray, seed: int = 0,
                          variation: float = 1.0, action: int = 0,
                          style: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
        """``checked_parts`` with the smaller of its two shares."""
        rot, pos, con, (path, pose) = self.checked_parts(rotations, root, known, seed, variation, action, style)
        return rot, pos, con, min(path, pose)

    def checked_parts(self, rotations: np.ndarray, root: np.ndarray, known: np.ndarray, seed: int = 0,
                      variation: float = 1.0, action: int = 0,
                      style: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[float, float]]:
        """``inbetween`` trusted as far as the clip's own keys vouch for it (the window network's key check,
        ``model/trust.py``, on this network): where the keys look unlike the training data
        (``unusual_keys``), every other inner key is hidden, the rest rolled between, and the shares of the
        network's pelvis path and of its poses over plain interpolation's that best predict the hidden keys are
        kept (``trust_parts``). With no inner key to hide, the network's own arrival vouches
        instead: all of its frames where it reached the keys' poses within ``ARRIVAL_TRUST`` degrees before
        their miss was eased in (with the latent at its mean: one decision for every draw), or where
        interpolation would glide the body between two keys faster than ``glide_speed`` (``GLIDE_SPEED``), else
        interpolation's. Returns rotations, root, contact probabilities (scaled by the poses' share) and the
        shares ``(pelvis path, poses)``, each in [0, 1]."""
        path = pose = 1.0
        if self.unusual_keys(rotations, root, known):
            hide = check_frames(np.asarray(known, dtype=bool)[:, None])
            if not len(hide):
                rot, pos, con, arrival = self._inbetween(rotations, root, known, seed, variation, action, style)
                if _glides(root, known) > self.glide_speed:  # interpolation would glide: no arrival to weigh
                    return rot, pos, con, (1.0, 1.0)
                if variation > 0:  # decided once for the keys, on the latent's mean, so every draw gets the same
                    arrival = self._inbetween(rotations, root, known, 0, 0.0, action, style)[3]
                if arrival <= ARRIVAL_TRUST:
                    return rot, pos, con, (1.0, 1.0)
                gr, gp = _interpolated(rotations, root, known)
                return gr, gp, np.zeros((len(gp), CONTACTS)), (0.0, 0.0)
            fewer = np.array(known, dtype=bool)
            fewer[hide] = False
            r, p, _ = self.inbetween(rotations, root, fewer, seed, variation, action, style)
            gr, gp = _interpolated(rotations, root, fewer)
            at = lambda q, x: _world(q[hide], x[hide], self.body)  # noqa: E731
            path, pose = trust_parts(at(r, p), at(gr, gp), at(np.asarray(rotations, dtype=np.float64),
                                                              np.asarray(root, dtype=np.float64)), p[hide] - gp[hide])
        if path == 0.0 and pose == 0.0:
            gr, gp = _interpolated(rotations, root, known)
            return gr, gp, np.zeros((len(gp), CONTACTS)), (0.0, 0.0)
        rot, pos, con = self.inbetween(rotations, root, known, seed, variation, action, style)
        if path >= 1.0 and pose >= 1.0:
            return rot, pos, con, (1.0, 1.0)
        gr, gp = _interpolated(rotations, root, known)
        # The feet's contacts are the poses': scaled with the pose's share, so the clean-up does not pin feet
        # where poses taken in part put them down.
        return (R.slerp(gr, rot, np.full(rot.shape[:-1], pose)), gp + path * (pos - gp), con * pose,
                (path, pose))


def _glides(root: np.ndarray, known: np.ndarray, shortest: int = 20) -> float:
    """The fastest ground speed (metres a frame) across a gap of at least ``shortest`` frames between two
    keys that stand alone (no given frame just before the first: keys, not motion to carry on) in ``known
    (T,)`` of ``root (T, 3)``: how fast interpolation would carry a body across the floor there on its keys'
    frozen feet; 0 where there is no such gap."""
    known = np.asarray(known, dtype=bool)
    idx = np.flatnonzero(known)
    best = 0.0
    for a, b in zip(idx[:-1], idx[1:]):
        if b - a >= shortest and not (a > 0 and known[a - 1]):
            d = float(np.linalg.norm(np.asarray(root, dtype=np.float64)[b, [0, 2]] - np.asarray(root)[a, [0, 2]]))
            best = max(best, d / (b - a))
    return best


def _continued(r: np.ndarray, p: np.ndarray, before_rot: np.ndarray, before_pos: np.ndarray,
               frames: int) -> tuple[np.ndarray, np.ndarray]:
    """A gap's made frames (local rotations ``r (..., n, 22, 4)``, root ``p (..., n, 3)``) with the first one
    moved onto the motion's own course: where the two frames before the gap (``before_rot (2, 22, 4)``,
    ``before_pos (2, 3)``) carry on at constant velocity, the move undone again over ``frames`` frames
    (smoothstep)."""
    n = p.shape[-2]
    ahead_p = 2 * before_pos[1] - before_pos[0]
    ahead_r = R.mul(before_rot[1], R.inv_mul(before_rot[0], before_rot[1]))
    off_p = ahead_p - p[..., :1, :]
    off_r = R.inv_mul(r[..., :1, :, :], ahead_r)  # r[0] * off_r = ahead_r: a turn in each joint's own frame
    fade = 1.0 - _smoothstep(np.clip(np.arange(n) / frames, 0.0, 1.0))  # 1 at the first frame, 0 from ``frames`` on
    p = p + fade[:, None] * off_p
    r = R.mul(r, R.slerp(R.identity(r.shape[:-1]), np.broadcast_to(off_r, r.shape),
                         np.broadcast_to(fade[:, None], r.shape[:-1])))
    return r, p


def _interpolated(rotations: np.ndarray, root: np.ndarray, known: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Plain interpolation between the known frames (slerp, lerp), the keys as given."""
    rot, pos, _ = fill_baseline(np.asarray(rotations, dtype=np.float64), np.asarray(root, dtype=np.float64),
                                np.broadcast_to(np.asarray(known, dtype=bool)[:, None], (len(root), NUM_JOINTS)))
    return rot, pos


def _world(rotations: np.ndarray, root: np.ndarray, body: Body = CANON) -> np.ndarray:
    """Joint positions ``(..., T, 22, 3)`` in metres of motion on ``body`` (rotations ``(..., T, 22, 4)``, root
    ``(..., T, 3)``)."""
    local = np.broadcast_to(body.offsets, root.shape[:-1] + (NUM_JOINTS, 3)).copy()
    local[..., 0, :] = root
    return fk(rotations, local, body.parents)[1]


def expected_arrays(cfg: NextFrameConfig) -> dict[str, tuple[int, ...]]:
    """The decoder's arrays and the statistics a weights file for ``cfg`` must hold, and their shapes."""
    h, z = cfg.hidden, cfg.side_size
    shapes = {"p.dec0_w": (cfg.cond_size + z, h), "p.dec0_b": (h,)}
    for i in range(1, cfg.layers):
        shapes |= {f"p.dec{i}_w": (h + z, h), f"p.dec{i}_b": (h,)}
    return shapes | {"p.out_w": (h + z, FRAME + CONTACTS), "p.out_b": (FRAME + CONTACTS,),
                     "mean": (FRAME,), "std": (FRAME,)} | ({"pose_mean": (POSE,), "pose_std": (POSE,)} if cfg.positions else {}) \
        | ({"key_mean": (KEYS,), "key_std": (KEYS,)} if cfg.keys else {})


def load(path: str | Path | None = None) -> NextFrameModel:
    """Load a next-frame weights file (the shipped one when ``path`` is None), every array checked first;
    each problem an ``LMMError`` naming the file and what is wrong."""
    path = Path(path) if path else DEFAULT
    if not path.exists():
        raise LMMError(f"next-frame model file {path} not found; pass a file written by `lmm train-next-frame`")
    data, meta = read_weights(path, "next-frame model file", "`lmm train-next-frame --export`")
    if meta.get("format") != FORMAT:
        raise LMMError(f"{path} is not a next-frame model file (format {meta.get('format')!r}, expected {FORMAT!r}); "
                       "the in-betweening model loads with --model")
    try:
        cfg = NextFrameConfig.from_json(json.dumps(meta["config"]))
    except (KeyError, TypeError) as exc:
        raise LMMError(f"{path}: bad next-frame model configuration ({exc})") from None
    want = expected_arrays(cfg) | {"starts": (-1, 2, FRAME), "start_action": (-1,)}
    arrays = {}
    for name, shape in want.items():
        if name not in data:
            raise LMMError(f"{path} lacks the array {name!r}; the file is damaged or from another version")
        a = np.asarray(data[name])
        if a.ndim != len(shape) or any(s not in (-1, d) for s, d in zip(shape, a.shape)):
            raise LMMError(f"{path}: array {name!r} has shape {a.shape}, expected {shape}")
        if not np.issubdtype(a.dtype, np.number) or (a.dtype.kind == "f" and not np.isfinite(a).all()):
            raise LMMError(f"{path}: array {name!r} is not finite numbers; the file is damaged")
        arrays[name] = a
    if len(arrays["starts"]) == 0 or len(arrays["starts"]) != len(arrays["start_action"]):
        raise LMMError(f"{path}: the start frames and their actions do not match; the file is damaged")
    if np.any(arrays["std"] <= 0) or (cfg.positions and np.any(arrays["pose_std"] <= 0)) \
            or (cfg.keys and np.any(arrays["key_std"] <= 0)):
        raise LMMError(f"{path}: a frame statistic's spread is not positive; the file is damaged")
    pairs = meta.get("label_pairs")
    if pairs is not None and not (isinstance(pairs, list) and all(
            isinstance(q, list) and len(q) == 2 and all(isinstance(v, int) for v in q)
            and 0 <= q[0] < len(cfg.actions) and 0 <= q[1] < len(cfg.styles) for q in pairs)):
        raise LMMError(f"{path}: its record of the labels it was trained on (label_pairs) is not (action, style) "
                       "pairs of its vocabulary; the file is damaged")
    prior = None
    if "prior_mean" in data or "prior_scale" in data:  # optional: files before 2026-12-07 draw from N(0, I)
        A, L = len(cfg.actions), cfg.latent
        pm, ps = (np.asarray(data[k]) if k in data else None for k in ("prior_mean", "prior_scale"))
        if pm is None or ps is None or pm.shape != (A, L) or ps.shape != (A, L, L) \
                or not (np.issubdtype(pm.dtype, np.floating) and np.issubdtype(ps.dtype, np.floating)) \
                or not (np.isfinite(pm).all() and np.isfinite(ps).all()) \
                or np.any(np.triu(ps, 1) != 0) or np.any(np.diagonal(ps, axis1=1, axis2=2) <= 0):
            raise LMMError(f"{path}: its latent prior is not a finite mean ({A}, {L}) and lower-triangular scale "
                           f"({A}, {L}, {L}) with a positive diagonal (prior_mean, prior_scale); the file is damaged")
        prior = (pm.astype(np.float64), ps.astype(np.float64))
    # The decoder runs in float32, the precision it was trained in (torch): on a CPU about twice as fast as
    # float64. In-betweens and walks come out within micrometres of float64's; a long dance, whose draws
    # compound, within 2 mm. Frames, statistics and kinematics stay float64.
    p = {k[2:]: v.astype(np.float32) for k, v in arrays.items() if k.startswith("p.")}
    f64 = lambda name: arrays[name].astype(np.float64) if name in arrays else None  # noqa: E731
    try:
        model = NextFrameModel(cfg, p, f64("mean"), f64("std"), f64("starts"), arrays["start_action"].astype(np.int64),
                               f64("pose_mean"), f64("pose_std"), f64("key_mean"), f64("key_std"))
    except LMMError as exc:  # the body record (``Body.from_dict``)
        raise LMMError(f"{path}: {exc}; the file is damaged or from another version") from None
    model.meta = meta
    if prior is not None:
        model.prior_mean, model.prior_scale = prior
    return model
