"""Generated motion against real motion: is it recognisable, varied, new, and distributed like the real thing?

Everything is measured on 2 s windows (60 frames at 30 fps) of canonical-body motion, in a feature space
that does not come from the model being judged (its intent head would grade its own homework):

- ``window_features``: per window, where each joint sits relative to the pelvis (turned to the pelvis's
  heading each frame) on average and how much it moves about, joint speeds, pelvis height, travel speed
  and turning speed: ``FEATURES_PER_WINDOW`` numbers.
- ``Classifier``: multinomial logistic regression on those features, trained on the real training
  clips' windows. Recognition = the share of windows whose most likely action is the one asked for.
- ``frechet``: the Fréchet distance between two sets of windows in the classifier's (standardised)
  feature space, as FID measures images.
- ``diversity``: mean distance between the pelvis-relative joint positions of two clips (metres).
- ``nearest``: each window's distance to its nearest training window (pelvis-relative positions every 5
  frames, heading-aligned at the window's first frame): a generator that copies its training data scores
  near 0, real held-out takes score what new motion of the same kind does.
"""
from __future__ import annotations

import numpy as np

from .. import rotations as R
from ..canonical import canonical_skeleton
from ..model.features import heading
from ..motion import Motion

WINDOW = 60  # frames (2 s at 30 fps)
STRIDE = 30
_J = 22
FEATURES_PER_WINDOW = _J * 3 * 2 + _J * 2 + 6


def _positions(rot: np.ndarray, root: np.ndarray) -> np.ndarray:
    return Motion(canonical_skeleton(), rot, root, 30.0).global_positions()


def _unyaw(rot: np.ndarray) -> np.ndarray:
    """``(T, 4)`` rotations about +Y that turn each frame's pelvis heading (``features.heading``) to +Z."""
    return R.from_axis_angle(np.array([0.0, 1.0, 0.0]), -heading(rot[:, 0]))


def local_positions(rot: np.ndarray, root: np.ndarray, pos: np.ndarray | None = None) -> np.ndarray:
    """``(T, 22, 3)`` joint positions relative to the pelvis, turned so the pelvis faces +Z each frame
    (``pos``: the global positions, when already computed)."""
    pos = _positions(rot, root) if pos is None else pos
    return R.mul_vec(_unyaw(rot)[:, None], pos - pos[:, :1])


def window_features(rot: np.ndarray, root: np.ndarray) -> np.ndarray:
    """``(FEATURES_PER_WINDOW,)`` of one window: rotations ``(W, 22, 4)``, root ``(W, 3)`` metres, 30 fps."""
    pos = _positions(rot, root)
    local = local_positions(rot, root, pos)
    speed = np.linalg.norm(np.diff(pos, axis=0), axis=-1) * 30.0  # (W - 1, 22) m/s
    yaw = np.unwrap(heading(rot[:, 0]))
    travel = np.linalg.norm(np.diff(root[:, [0, 2]], axis=0), axis=-1) * 30.0
    turn = np.abs(np.diff(yaw)) * 30.0
    return np.concatenate([local.mean(0).ravel(), local.std(0).ravel(), speed.mean(0), speed.std(0),
                           [root[:, 1].mean(), root[:, 1].std(), travel.mean(), travel.std(), turn.mean(), turn.std()]])


def windows_of(rot: np.ndarray, root: np.ndarray, stride: int = STRIDE) -> list[tuple[np.ndarray, np.ndarray]]:
    """The ``WINDOW``-frame windows of a clip, every ``stride`` frames (none if it is shorter)."""
    return [(rot[s:s + WINDOW], root[s:s + WINDOW]) for s in range(0, len(root) - WINDOW + 1, stride)]


class Classifier:
    """Multinomial logistic regression on ``window_features`` (standardised), L2-regularised, fitted by
    full-batch gradient descent with Adam's step sizes (numpy; a few seconds on tens of thousands of
    windows)."""

    def __init__(self, features: np.ndarray, labels: np.ndarray, classes: tuple[str, ...], steps: int = 600,
                 lr: float = 0.05, l2: float = 1e-3, seed: int = 0):
        self.classes = classes
        self.mean, self.std = features.mean(0), features.std(0) + 1e-6
        x = self.standardise(features)
        d, k = x.shape[1], len(classes)
        rng = np.random.default_rng(seed)
        w, b = rng.normal(0, 0.01, (d, k)), np.zeros(k)
        onehot = np.eye(k)[labels]
        # Every class weighs the same, however many windows it has (Bandai holds ten waves per run).
        weight = (1.0 / np.bincount(labels, minlength=k).clip(min=1))[labels]
        weight = weight / weight.sum()
        m = [np.zeros_like(w), np.zeros_like(b)]
        v = [np.zeros_like(w), np.zeros_like(b)]
        for t in range(1, steps + 1):
            p = _softmax(x @ w + b)
            g = (p - onehot) * weight[:, None]
            grads = [x.T @ g + l2 * w, g.sum(0)]
            for i, (param, grad) in enumerate(((w, grads[0]), (b, grads[1]))):
                m[i] = 0.9 * m[i] + 0.1 * grad
                v[i] = 0.999 * v[i] + 0.001 * grad ** 2
                param -= lr * (m[i] / (1 - 0.9 ** t)) / (np.sqrt(v[i] / (1 - 0.999 ** t)) + 1e-8)
        self.w, self.b = w, b

    def standardise(self, features: np.ndarray) -> np.ndarray:
        return (features - self.mean) / self.std

    def predict(self, features: np.ndarray) -> np.ndarray:
        """``(N,)`` class indices."""
        return np.argmax(self.standardise(features) @ self.w + self.b, axis=1)


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def frechet(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to feature sets ``a (N, D)`` and ``b (M, D)``:
    ``|mu_a - mu_b|^2 + tr(S_a + S_b - 2 (S_a^1/2 S_b S_a^1/2)^1/2)``."""
    mu_a, mu_b = a.mean(0), b.mean(0)
    sa, sb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    vals, vecs = np.linalg.eigh(sa)
    root_a = (vecs * np.sqrt(vals.clip(min=0))) @ vecs.T
    middle = np.linalg.eigvalsh(root_a @ sb @ root_a).clip(min=0)
    value = np.sum((mu_a - mu_b) ** 2) + np.trace(sa) + np.trace(sb) - 2 * np.sum(np.sqrt(middle))
    return float(max(value, 0.0))  # rounding takes identical sets a hair below 0


def diversity(clips: list[tuple[np.ndarray, np.ndarray]]) -> float:
    """Mean over pairs of clips of the mean distance between their pelvis-relative joint positions
    (metres), over their common length."""
    local = [local_positions(r, p) for r, p in clips]
    n = min(len(x) for x in local)
    pairs = [(i, j) for i in range(len(local)) for j in range(i + 1, len(local))]
    return float(np.mean([np.linalg.norm(local[i][:n] - local[j][:n], axis=-1).mean() for i, j in pairs])) if pairs else 0.0


def pose_trace(rot: np.ndarray, root: np.ndarray) -> np.ndarray:
    """A window as one vector for nearest-neighbour search: pelvis-relative joint positions every 5 frames
    and the pelvis path, all turned to the first frame's heading (metres)."""
    pos = _positions(rot, root)
    rel = R.mul_vec(_unyaw(rot[:1])[0], pos - pos[:1, :1] * np.array([1.0, 0.0, 1.0]))
    return rel[::5].ravel()


def nearest(queries: np.ndarray, bank: np.ndarray, chunk: int = 256) -> np.ndarray:
    """``(N,)`` each query's RMS joint distance (metres) to its nearest row of ``bank``."""
    bank_sq = (bank ** 2).sum(1)
    out = []
    for s in range(0, len(queries), chunk):
        q = queries[s:s + chunk]
        d2 = (q ** 2).sum(1)[:, None] + bank_sq[None] - 2 * q @ bank.T
        out.append(np.sqrt(d2.min(axis=1).clip(min=0) / (bank.shape[1] / 3)))
    return np.concatenate(out) if out else np.zeros(0)
