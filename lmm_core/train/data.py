"""Training windows from the canonical corpus: sampling, mirror augmentation and task masks (numpy)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import canonical as cn
from .. import dataset
from ..errors import LMMError
from ..mirror import mirror_label

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
    """Clips of one split held in memory; windows drawn uniformly over all valid start frames."""

    def __init__(self, corpus: Path, split: str, sources: tuple[str, ...], actions: tuple[str, ...], styles: tuple[str, ...]):
        clips, arrays = dataset.load(corpus, split, list(sources))
        if not clips:
            raise LMMError(f"no {split} clips from {', '.join(sources)} in {corpus}; build it with `lmm dataset build`")
        self.clips = clips
        self.rot, self.root, self.contacts = arrays["rotations"], arrays["root"], arrays["contacts"]
        lengths = np.array([c.frames for c in clips])
        self.starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        self.lengths = lengths
        a_index = {a: i for i, a in enumerate(actions)}
        s_index = {s: i for i, s in enumerate(styles)}
        self.action = np.array([a_index[c.action] for c in clips])
        self.action_mirrored = np.array([a_index[mirror_label(c.action)] for c in clips])
        self.style = np.array([s_index[c.style] for c in clips])

    @property
    def frames(self) -> int:
        return int(self.lengths.sum())

    def sample(self, rng: np.random.Generator, batch: int, window: int, mirror: bool = True) -> Batch:
        valid = np.maximum(self.lengths - window + 1, 0)
        if valid.sum() == 0:
            raise LMMError(f"no clip is {window} frames long")
        clip = rng.choice(len(valid), size=batch, p=valid / valid.sum())
        offset = (rng.random(batch) * valid[clip]).astype(int)
        idx = (self.starts[clip] + offset)[:, None] + np.arange(window)[None]
        rot = self.rot[idx].astype(np.float64)
        root = self.root[idx].astype(np.float64)
        contacts = self.contacts[idx].copy()
        action = self.action[clip].copy()
        flip = rng.random(batch) < 0.5 if mirror else np.zeros(batch, dtype=bool)
        if flip.any():
            # The canonical rest pose is symmetric across x = 0: swapping sides and reflecting each
            # local rotation (w, x, y, z) -> (w, x, -y, -z) mirrors the motion.
            r = rot[flip][:, :, _MIRROR]
            r[..., 2:] *= -1
            rot[flip] = r
            root[flip, :, 0] *= -1
            contacts[flip] = contacts[flip][..., _CONTACT_MIRROR]
            action[flip] = self.action_mirrored[clip[flip]]
        return Batch(rot, root, contacts, action, self.style[clip].copy())


def task_masks(rng: np.random.Generator, batch: int, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Known-group masks ``(B, W, 22)`` for a mix of tasks, and which items hide their labels ``(B,)``.

    In-betweening (60%): 10 context frames and a key 1-60 frames later, sometimes with extra keys in
    the gap or a key that fixes only the root path or some joints. Completion (20%): the first 1-40
    frames. Generation (12%): nothing or only the first frame. Intent (8%): the first 10-60 frames
    with labels hidden. Labels are also hidden at random elsewhere, so the model works without them.
    """
    known = np.zeros((batch, window, 22), dtype=bool)
    hide = rng.random(batch) < 0.3
    for b in range(batch):
        r = rng.random()
        if r < 0.6:
            gap = int(rng.integers(1, min(60, window - 11) + 1))
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
        elif r < 0.8:
            known[b, : int(rng.integers(1, 41))] = True
        elif r < 0.92:
            if rng.random() < 0.5:
                known[b, 0] = True
        else:
            known[b, : int(rng.integers(10, min(60, window) + 1))] = True
            hide[b] = True
    return known, hide
