"""Training windows (the canonical corpus, or clips on a rig's own skeleton): sampling, mirror augmentation
and task masks (numpy)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import canonical as cn
from .. import dataset
from .. import rotations as R
from ..errors import LMMError
from ..feet import detect
from ..mirror import mirror, mirror_frames, mirror_label
from ..skeleton import UNITS_TO_METRES

# Contacts are stored [left_ankle, right_ankle, left_toe, right_toe].
_CONTACT_MIRROR = np.array([1, 0, 3, 2])
_MIRROR = np.array(cn.MIRROR_INDEX)


def vocabularies(corpus: Path, sources: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Action and style vocabularies (index 0 = unknown) over every clip of the sources, both splits,
    and the mirrored action names, so that augmentation never meets an unknown label."""
    clips, _ = dataset.load(corpus, None, list(sources), arrays=False)
    actions = {c.action for c in clips} | {mirror_label(c.action) for c in clips}
    styles = {c.style for c in clips}
    return ("<unknown>",) + tuple(sorted(actions)), ("<unknown>",) + tuple(sorted(styles))


@dataclass
class Batch:
    rotations: np.ndarray  # (B, W, 22, 4) local, world frame
    root: np.ndarray  # (B, W, 3) metres
    contacts: np.ndarray  # (B, W, 4) bool
    action: np.ndarray  # (B,) vocabulary index
    style: np.ndarray  # (B,)


class Corpus:
    """Clips held in memory, with their mirror images; windows drawn uniformly over all valid start frames.

    Arrays are on the model's body: ``rot (N, 22, 4)`` local rotations, ``root (N, 3)`` metres,
    ``contacts (N, 4)`` bool, every clip's frames one after another (``starts``, ``lengths``).
    """

    def __init__(self, names: list[str], rot: np.ndarray, root: np.ndarray, contacts: np.ndarray,
                 lengths: np.ndarray, action: np.ndarray, action_mirrored: np.ndarray, style: np.ndarray,
                 mirrored: tuple[np.ndarray, np.ndarray, np.ndarray]):
        self.names = names
        self.rot, self.root, self.contacts = rot, root, contacts
        self.rot_m, self.root_m, self.contacts_m = mirrored
        self.lengths = np.asarray(lengths)
        self.starts = np.concatenate([[0], np.cumsum(self.lengths)[:-1]]).astype(int)
        self.action, self.action_mirrored, self.style = action, action_mirrored, style

    @classmethod
    def from_corpus(cls, corpus: Path, split: str, sources: tuple[str, ...], actions: tuple[str, ...],
                    styles: tuple[str, ...]) -> "Corpus":
        """One split of a built canonical corpus (``lmm dataset build``)."""
        clips, arrays = dataset.load(corpus, split, list(sources))
        if not clips:
            raise LMMError(f"no {split} clips from {', '.join(sources)} in {corpus}; build it with `lmm dataset build`")
        rot, root, contacts = arrays["rotations"], arrays["root"], arrays["contacts"]
        # The canonical rest pose is symmetric across x = 0: swapping sides and reflecting each local
        # rotation (w, x, y, z) -> (w, x, -y, -z) mirrors the motion.
        rot_m = rot[:, _MIRROR].copy()
        rot_m[..., 2:] *= -1
        root_m = root.copy()
        root_m[:, 0] *= -1
        a_index, s_index = _index(actions), _index(styles)
        return cls([c.take for c in clips], rot, root, contacts, np.array([c.frames for c in clips]),
                   np.array([a_index[c.action] for c in clips]),
                   np.array([a_index[mirror_label(c.action)] for c in clips]),
                   np.array([s_index[c.style] for c in clips]), (rot_m, root_m, contacts[:, _CONTACT_MIRROR]))

    @classmethod
    def from_motions(cls, names: list[str], motions: list, labels: list[dict[str, str]], body,
                     actions: tuple[str, ...], styles: tuple[str, ...]) -> "Corpus":
        """Clips on a rig's own skeleton (``body``, see ``model.body``), mirrored with ``lmm_core.mirror``
        because such rigs' joint frames are not symmetric at rest (LAFAN1's lie along each bone)."""
        frames = mirror_frames(motions[0])
        a_index, s_index = _index(actions), _index(styles)
        parts: dict[str, list] = {k: [] for k in ("rot", "root", "con", "rot_m", "root_m", "con_m")}
        for m in motions:
            metres = UNITS_TO_METRES[m.skeleton.units]
            for suffix, clip in (("", m), ("_m", mirror(m, frames=frames))):
                pos = clip.global_positions() * metres
                parts["rot" + suffix].append(clip.rotations.astype(np.float32))
                parts["root" + suffix].append((clip.root_positions * metres).astype(np.float32))
                parts["con" + suffix].append(detect(pos[:, list(body.contacts)], clip.fps, clip.height() * metres))
        cat = {k: np.concatenate(v) for k, v in parts.items()}
        return cls(names, cat["rot"], cat["root"], cat["con"], np.array([m.num_frames for m in motions]),
                   np.array([a_index[lb["action"]] for lb in labels]),
                   np.array([a_index[mirror_label(lb["action"])] for lb in labels]),
                   np.array([s_index[lb["style"]] for lb in labels]), (cat["rot_m"], cat["root_m"], cat["con_m"]))

    @property
    def frames(self) -> int:
        return int(self.lengths.sum())

    def sample(self, rng: np.random.Generator, batch: int, window: int, mirror: bool = True,
               speed: float = 0.0, weights: np.ndarray | None = None) -> Batch:
        """``batch`` windows of ``window`` frames. ``speed`` > 0 plays each window at its own pace, drawn
        log-uniformly from ``1 / (1 + speed)`` to ``1 + speed`` times the capture's (rotations slerped and the
        root lerped between the captured frames, contacts from the nearest): the same motion done faster
        or slower, as another performer might (``TrainConfig.speed_augment``). Every window is cut from a
        span long enough for the slowest pace, so clips shorter than that are left out. 0 draws exactly as
        before. ``weights (clips,)``: each clip's windows weigh this much more (``action_weights``); None: every
        window alike, each clip drawn by how many it holds."""
        span = window if speed <= 0 else int(np.ceil((window - 1) * (1 + speed))) + 1
        valid = np.maximum(self.lengths - span + 1, 0)
        if valid.sum() == 0:
            raise LMMError(f"no clip is {span} frames long" + (f" (a window of {window} at up to {1 + speed:g} times "
                           "the pace: --speed-augment)" if speed > 0 else ""))
        share = valid if weights is None else valid * np.asarray(weights, dtype=np.float64)
        clip = rng.choice(len(valid), size=batch, p=share / share.sum())
        offset = (rng.random(batch) * valid[clip]).astype(int)
        flip = (rng.random(batch) < 0.5) if mirror else np.zeros(batch, dtype=bool)
        f = flip[:, None]
        # Frames ``i (B, W)`` of ``arr``, or of its mirror image where the window is flipped.
        pick = lambda arr, arr_m, i: np.where(f.reshape((batch, 1) + (1,) * (arr.ndim - 1)), arr_m[i], arr[i])  # noqa: E731
        if speed <= 0:
            idx = (self.starts[clip] + offset)[:, None] + np.arange(window)[None]
            rot = pick(self.rot, self.rot_m, idx).astype(np.float64)
            root = pick(self.root, self.root_m, idx)
            contacts = pick(self.contacts, self.contacts_m, idx)
        else:
            pace = np.exp(rng.uniform(-np.log1p(speed), np.log1p(speed), batch))
            at = pace[:, None] * np.arange(window)[None]  # frames after the window's first, (B, W)
            lo = np.minimum(np.floor(at).astype(int), span - 2)
            frac = at - lo
            first = (self.starts[clip] + offset)[:, None]
            a, b = first + lo, first + lo + 1
            ra, rb = pick(self.rot, self.rot_m, a).astype(np.float64), pick(self.rot, self.rot_m, b).astype(np.float64)
            rot = R.slerp(ra, rb, np.broadcast_to(frac[..., None], ra.shape[:-1]))
            root = pick(self.root, self.root_m, a) * (1 - frac[..., None]) + pick(self.root, self.root_m, b) * frac[..., None]
            contacts = np.where((frac < 0.5)[..., None], pick(self.contacts, self.contacts_m, a),
                                pick(self.contacts, self.contacts_m, b))
        action = np.where(flip, self.action_mirrored[clip], self.action[clip])
        return Batch(rot, root.astype(np.float64), contacts, action, self.style[clip].copy())


def action_weights(corpus: Corpus, balance: float) -> np.ndarray:
    """``(clips,)`` per-clip window weights that draw rarer actions more often: (the clip's action's frames in
    the corpus) ** -``balance`` (0: all 1, every window alike), mean 1 over the corpus's frames. Half the
    windows are drawn mirrored, under the mirrored action's label (walk-turn-left's are walk-turn-right's), so
    an action's frames and a clip's weight are each the mean over the two."""
    n = int(max(corpus.action.max(), corpus.action_mirrored.max())) + 1
    frames = 0.5 * (np.bincount(corpus.action, weights=corpus.lengths, minlength=n)
                    + np.bincount(corpus.action_mirrored, weights=corpus.lengths, minlength=n))
    w = 0.5 * (frames[corpus.action] ** -float(balance) + frames[corpus.action_mirrored] ** -float(balance))
    return w / (w * corpus.lengths).sum() * corpus.lengths.sum()


def _index(vocab: tuple[str, ...]) -> dict[str, int]:
    return {name: i for i, name in enumerate(vocab)}


TASKS = ("inbetween", "complete", "generate", "intent", "blocking")
DEFAULT_MIX = (0.6, 0.2, 0.12, 0.08, 0.0)


def protocol_masks(batch: int, window: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``task_masks``'s three arrays for in-betweening windows posed as the LAFAN1 benchmark poses them:
    the first 10 frames and the last (a full key) known, the ``window - 11`` between scored, and the
    labels hidden, as the benchmark gives none (the intent head learns to name them instead)."""
    if window < 12:
        raise LMMError(f"a benchmark window needs 10 context frames, a gap and a key: at least 12 frames, not {window}")
    known = np.zeros((batch, window, 22), dtype=bool)
    known[:, :10] = True
    known[:, -1] = True
    return known, np.ones(batch, dtype=bool), np.ones((batch, window), dtype=bool)


def task_masks(rng: np.random.Generator, batch: int, window: int, mix: tuple[float, ...] = DEFAULT_MIX,
               max_gap: int = 60) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Known-group masks ``(B, W, 22)`` for a mix of tasks, which items hide their labels ``(B,)``, and
    which frames the loss scores ``(B, W)``.

    ``mix`` weighs the tasks of ``TASKS`` (default 60/20/12/8/0%). In-betweening: 10 context frames and a
    key 1-``max_gap`` frames later, sometimes with extra keys in the gap or a key that fixes only the
    root path or some joints. Completion: the first 1-40 frames. Generation: nothing or only the first
    frame, or (two windows in five) the first frame and where the root is later (one root key 30-120
    frames on, or root keys every 8-30 frames: walking to a point, following a path). Intent: the first 10-60 frames with labels hidden. Blocking, as an animator keys: full poses
    every 8-40 frames from the first frame and nothing else, or (one window in five) two keys up to 120
    frames apart. Labels are also hidden at random elsewhere, so the model works without them.

    An in-betweening window without frames known after its last key scores only the frames up to that
    key: what follows is completion's job, and counted here it would outweigh a short gap many times
    over (a 5-frame gap in a 64-frame window leaves ~50 frames after the key).
    """
    known = np.zeros((batch, window, 22), dtype=bool)
    scored = np.ones((batch, window), dtype=bool)
    hide = rng.random(batch) < 0.3
    p = np.zeros(len(TASKS))
    p[: len(mix)] = mix  # a mix from before blocking windows existed gives them no weight
    task = rng.choice(len(TASKS), size=batch, p=p / p.sum())
    for b in range(batch):
        if task[b] == 0:
            gap = int(rng.integers(1, min(max_gap, window - 11) + 1))
            key = 10 + gap
            known[b, :10] = True
            if rng.random() < 0.2:
                # Partial key: the root path only, or a random subset of joints (root always).
                groups = np.zeros(22, dtype=bool)
                groups[0] = True
                if rng.random() < 0.5:
                    groups |= rng.random(22) < 0.5
                known[b, key] = groups
            else:
                known[b, key] = True
            if rng.random() < 0.3 and gap > 4:
                extra = rng.choice(np.arange(11, key), size=int(rng.integers(1, 4)), replace=False)
                known[b, extra] = True
            if rng.random() < 0.5:
                known[b, key + 1:] = True  # more future context, as when filling a gap inside a clip
            else:
                scored[b, key + 1:] = False
        elif task[b] == 1:
            known[b, : int(rng.integers(1, 41))] = True
        elif task[b] == 2:
            r = rng.random()
            if r < 0.6:
                if r < 0.3:
                    known[b, 0] = True
            else:
                # Goal-directed generation: from the first frame to where the root will be (the pelvis
                # position and facing, ``tasks.generate``'s ``--to``) at one frame 30-120 frames on, or
                # along a root path keyed every 8-30 frames (``--path``).
                known[b, 0] = True
                if r < 0.8:
                    known[b, int(rng.integers(min(30, window - 1), min(120, window - 1) + 1)), 0] = True
                else:
                    spacing = int(rng.integers(8, 31))
                    known[b, spacing::spacing, 0] = True
        elif task[b] == 3:
            known[b, : int(rng.integers(10, min(60, window) + 1))] = True
            hide[b] = True
        else:
            if rng.random() < 0.2:
                keys = np.array([0, int(rng.integers(min(41, window - 1), min(120, window - 1) + 1))])
            else:
                spacing = int(rng.integers(8, 41))
                keys = np.arange(0, window, spacing) + rng.integers(-spacing // 4, spacing // 4 + 1, size=len(range(0, window, spacing)))
                keys = np.unique(np.clip(keys, 0, window - 1))
                keys[0] = 0
            known[b, keys] = True
            scored[b, keys[-1] + 1:] = False  # after the last key is completion's job
    return known, hide, scored


# The joints a push moves (canonical order): the pelvis, the three spine joints, and the hips, which turn
# back so that the legs keep their direction in the world while the body above them leans.
_PELVIS, _SPINE, _HIPS = 0, (3, 6, 9), (1, 2)


def push_weights(frames: int, at: int, recover: int) -> np.ndarray:
    """``(frames,)`` how much of a push each frame carries: easing in over the 5 frames up to ``at`` (where
    it is whole), then easing out to nothing ``recover`` frames later."""
    t = np.arange(frames, dtype=np.float64)
    rise = np.clip((t - (at - 5)) / 5.0, 0.0, 1.0)
    fall = np.clip((t - at) / max(recover, 1), 0.0, 1.0)
    ease = lambda x: 0.5 - 0.5 * np.cos(np.pi * x)  # noqa: E731
    return ease(rise) * (1.0 - ease(fall))


def push(rotations: np.ndarray, axis: np.ndarray, degrees: float, weights: np.ndarray) -> np.ndarray:
    """``rotations (T, 22, 4)`` (canonical local, world-frame pelvis) with the body pushed over: a turn of
    ``degrees`` about ``axis (3,)`` (the pelvis's own frame), 40% of it at the pelvis and 20% at each spine
    joint, scaled per frame by ``weights (T,)``; the hips turn back by the pelvis's share so the legs keep
    their direction. Used to train recovery and to test it (``tests/test_sampling.py``)."""
    out = np.array(rotations, dtype=np.float64)
    axis = np.asarray(axis, dtype=np.float64) / np.linalg.norm(axis)
    angle = np.radians(degrees) * np.asarray(weights, dtype=np.float64)
    pelvis = R.from_axis_angle(np.broadcast_to(axis, (len(angle), 3)), 0.4 * angle)
    spine = R.from_axis_angle(np.broadcast_to(axis, (len(angle), 3)), 0.2 * angle)
    out[:, _PELVIS] = R.mul(out[:, _PELVIS], pelvis)
    for h in _HIPS:
        out[:, h] = R.mul(R.conj(pelvis), out[:, h])
    for j in _SPINE:
        out[:, j] = R.mul(spine, out[:, j])
    return out


def perturb(rng: np.random.Generator, batch: Batch, known: np.ndarray, share: float,
            hide: np.ndarray | None = None) -> int:
    """Push ``share`` of the completion windows (``known``: whole frames from the start, nothing after; not
    ``hide``'s windows, whose labels are hidden: every intent window, whose poses name the action)
    off their course, in place: the last context frames lean 15-40 degrees about a random horizontal axis
    (``push``) and the frames after them return to the capture within 8-15 frames (half a second). The
    model learns that a context it has never seen (a character shoved, a bad key) is recovered from, not
    continued. Returns how many windows were pushed."""
    pushed = 0
    W = known.shape[1]
    for b in range(known.shape[0]):
        frames = known[b].all(axis=1)
        c = int(frames.sum())
        if hide is not None and hide[b]:
            continue
        if not (6 <= c <= W - 16 and frames[:c].all() and not known[b, c:].any()) or rng.random() >= share:
            continue
        heading = rng.uniform(0, 2 * np.pi)
        axis = np.array([np.cos(heading), 0.0, np.sin(heading)])  # horizontal in the pelvis frame (y up)
        w = push_weights(W, c - 1, int(rng.integers(8, 16)))
        batch.rotations[b] = push(batch.rotations[b], axis, float(rng.uniform(15, 40)), w)
        pushed += 1
    return pushed
