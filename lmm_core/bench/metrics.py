"""The LAFAN1 metrics, L2Q, L2P and NPSS, and the position statistics that L2P is normalised by.

Shapes: ``W`` windows, ``N`` scored frames (the transition), ``J`` joints. Quaternions are global
(world-frame) ``(w, x, y, z)``; positions are global, in the skeleton's units, in each window's frame.
All three follow the original benchmark's formulas, quirks included (see each function).
"""
from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from ..errors import LMMError
from ..io.atomic import atomic_binary_writer


def l2q(pred: np.ndarray, gt: np.ndarray) -> float:
    """Mean over windows and frames of the L2 norm of the difference of global quaternions.

    ``pred``, ``gt``: ``(W, N, J, 4)``. The norm runs over all ``J * 4`` numbers of a frame; signs are
    compared as they are (no hemisphere matching), as in the original.
    """
    return float(np.mean(np.sqrt(np.sum((pred - gt) ** 2, axis=(-2, -1)))))


def normalise_positions(pos: np.ndarray, x_mean: np.ndarray, x_std: np.ndarray) -> np.ndarray:
    """``(W, N, J, 3)`` global positions -> ``(W, N, J * 3)``, each coordinate minus its mean over its std.

    ``x_mean``, ``x_std``: ``(J * 3,)`` in joint-major order (``j * 3 + axis``).
    """
    flat = pos.reshape(pos.shape[:-2] + (-1,))
    return (flat - x_mean) / x_std


def l2p(pred: np.ndarray, gt: np.ndarray, x_mean: np.ndarray, x_std: np.ndarray) -> float:
    """Mean over windows and frames of the L2 norm of the difference of normalised global positions.

    ``pred``, ``gt``: ``(W, N, J, 3)``; ``x_mean``, ``x_std``: ``(J * 3,)``.
    """
    d = normalise_positions(pred, x_mean, x_std) - normalise_positions(gt, x_mean, x_std)
    return float(np.mean(np.sqrt(np.sum(d ** 2, axis=-1))))


def npss(gt: np.ndarray, pred: np.ndarray) -> float:
    """Normalised power spectrum similarity (Gopalakrishnan et al. 2019) as the LAFAN1 code computes it.

    ``gt``, ``pred``: ``(W, N, D)`` (D = J * 4 global quaternion numbers). Along time, each of the
    ``W * D`` series is Fourier transformed; its "power" is the square of the *real part* of the
    coefficients (the original's choice, not the squared magnitude, so a pure phase shift at one
    frequency scores 0), normalised to sum to 1 over the ``N`` bins. The earth mover's distance between
    the cumulative sums of ``pred`` and ``gt`` is averaged over series, weighted by each ``gt`` series'
    total power. Lower is better; identical sequences give 0.

    A series with no power at all (the original divides by zero there) counts as an all-zero spectrum;
    if every ``gt`` series is powerless, the result is NaN.
    """
    if gt.shape != pred.shape or gt.ndim != 3:
        raise LMMError(f"NPSS needs two (W, N, D) arrays of one shape, got {gt.shape} and {pred.shape}")

    def spectrum(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        power = np.real(np.fft.fft(x, axis=1)) ** 2
        total = power.sum(axis=1)  # (W, D)
        return power / np.where(total > 0, total, 1.0)[:, None, :], total

    gt_norm, gt_total = spectrum(gt)
    pred_norm, _ = spectrum(pred)
    emd = np.sum(np.abs(np.cumsum(pred_norm, axis=1) - np.cumsum(gt_norm, axis=1)), axis=1)  # (W, D)
    if not gt_total.sum() > 0:
        return float("nan")
    return float(np.average(emd, weights=gt_total))


class PositionStats:
    """Running per-coordinate mean and (population) standard deviation of global joint positions.

    ``add(positions (..., J, 3))`` any number of times, then ``result()`` gives ``(x_mean, x_std)``, each
    ``(J * 3,)`` in joint-major order: the original's ``np.mean``/``np.std`` over every frame of every
    training window. Batches are merged with Chan's formula, so the order of ``add`` calls does not matter.
    """

    def __init__(self) -> None:
        self.count = 0
        self.mean: np.ndarray | None = None
        self.m2: np.ndarray | None = None

    def add(self, positions: np.ndarray) -> None:
        x = np.asarray(positions, dtype=float)
        x = x.reshape(-1, x.shape[-2] * x.shape[-1])
        if len(x) == 0:
            return
        n, mean = len(x), x.mean(axis=0)
        m2 = ((x - mean) ** 2).sum(axis=0)
        if self.mean is None:
            self.count, self.mean, self.m2 = n, mean, m2
            return
        if mean.shape != self.mean.shape:
            raise LMMError(f"position statistics mix skeletons: {mean.size // 3} and {self.mean.size // 3} joints")
        total = self.count + n
        delta = mean - self.mean
        self.mean = self.mean + delta * (n / total)
        self.m2 = self.m2 + m2 + delta ** 2 * (self.count * n / total)
        self.count = total

    def result(self) -> tuple[np.ndarray, np.ndarray]:
        if self.mean is None or self.m2 is None:
            raise LMMError("no training windows to compute position statistics from (every clip is too short?)")
        return self.mean.copy(), np.sqrt(self.m2 / self.count)


def check_stats(x_mean: np.ndarray, x_std: np.ndarray, num_joints: int, where: str) -> tuple[np.ndarray, np.ndarray]:
    """``(J * 3,)`` float arrays from any shape holding ``J * 3`` numbers (the original stores
    ``(1, J * 3, 1)``); an ``LMMError`` naming ``where`` when they do not fit or a std is not positive."""
    mean = np.asarray(x_mean, dtype=float).reshape(-1)
    std = np.asarray(x_std, dtype=float).reshape(-1)
    want = num_joints * 3
    if mean.size != want or std.size != want:
        raise LMMError(f"{where}: x_mean and x_std must hold {want} numbers ({num_joints} joints x 3), "
                       f"got {mean.size} and {std.size}; were they computed for another skeleton?")
    if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(std)) and np.all(std > 0)):
        raise LMMError(f"{where}: x_mean must be finite and every x_std positive")
    return mean, std


def load_stats(path: str | Path, num_joints: int) -> tuple[np.ndarray, np.ndarray]:
    """``(x_mean, x_std)``, each ``(J * 3,)``, from an ``.npz`` with arrays ``x_mean`` and ``x_std``."""
    path = Path(path)
    if not path.is_file():
        raise LMMError(f"{path}: statistics file not found; give an .npz with arrays x_mean and x_std")
    try:
        z = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        # A pickle (the original code's train_stats.pkl) lands here too: allow_pickle is off on purpose.
        raise LMMError(f"{path}: not a readable .npz archive ({exc}); save x_mean and x_std with numpy.savez") from None
    if not isinstance(z, np.lib.npyio.NpzFile):
        raise LMMError(f"{path}: a single array, not an .npz archive with x_mean and x_std")
    with z:
        missing = [k for k in ("x_mean", "x_std") if k not in z.files]
        if missing:
            raise LMMError(f"{path}: no {' or '.join(missing)} in the archive (it has: {', '.join(z.files) or 'nothing'})")
        mean, std = z["x_mean"], z["x_std"]
    return check_stats(mean, std, num_joints, str(path))


def save_stats(path: str | Path, x_mean: np.ndarray, x_std: np.ndarray) -> Path:
    """Write ``x_mean`` and ``x_std`` to an ``.npz`` (through a temporary name, so never half a file)."""
    path = Path(path)
    with atomic_binary_writer(path) as f:
        np.savez(f, x_mean=np.asarray(x_mean, dtype=float), x_std=np.asarray(x_std, dtype=float))
    return path
