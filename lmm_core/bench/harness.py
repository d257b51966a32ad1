"""Scoring in-betweeners on framed windows with the LAFAN1 protocol, and the statistics L2P needs.

For each transition length ``n`` every window is cut to its first ``N_PAST + n + 1`` frames: frames
``0..9`` and frame ``10 + n`` are known, frames ``10 .. 9 + n`` are to be filled and are the only ones
scored. (The original cuts ``n + 20`` frames; the 9 after the target are never used.) A method gets
the unknown frames already filled by holding frame 9, so no ground truth reaches it, and must give the
known frames back unchanged. Sign flips along time are removed from what it returns, as the protocol
removes them from the data, so the sign a model happens to pick for a quaternion does not count; the
baselines' outputs are continuous already and are not changed by it.
"""
from __future__ import annotations

from typing import Callable, Iterable

import numpy as np

from .. import kinematics
from .. import rotations as R
from ..errors import LMMError
from ..progress import progress
from ..skeleton import Skeleton
from .baselines import BASELINES, zero_velocity
from .metrics import PositionStats, check_stats, l2p, l2q, npss, save_stats
from .windows import LENGTHS, N_PAST, TRAIN_STEP, TRAIN_WINDOW, Clip, WindowSet, make_windows

Inbetweener = Callable[[np.ndarray, np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]
METRICS = ("L2Q", "L2P", "NPSS")
Results = dict[str, dict[str, dict[str, float]]]  # method -> metric -> str(length) -> value


def known_mask(length: int, n_past: int = N_PAST) -> np.ndarray:
    """``(n_past + length + 1,)`` bool: the context frames and the target frame are known."""
    known = np.zeros(n_past + length + 1, dtype=bool)
    known[:n_past] = True
    known[-1] = True
    return known


def global_pose(skeleton: Skeleton, rotations: np.ndarray, root: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Global rotations ``(..., J, 4)`` and positions ``(..., J, 3)`` from local rotations ``(..., J, 4)``
    and root positions ``(..., 3)``; non-root joints sit at the skeleton's rest offsets, as in the
    protocol."""
    local = np.broadcast_to(skeleton.offsets, rotations.shape[:-1] + (3,)).copy()
    local[..., 0, :] = root
    return kinematics.fk(rotations, local, skeleton.parents)


def _tolerance(skeleton: Skeleton) -> float:
    """How far (skeleton units) a returned known root may drift: float32 round-off, not a real change."""
    return 1e-5 * float(np.linalg.norm(skeleton.offsets[1:], axis=-1).sum()) + 1e-6


def fill(method: Inbetweener, name: str, rotations: np.ndarray, root: np.ndarray, known: np.ndarray,
         root_tolerance: float) -> tuple[np.ndarray, np.ndarray]:
    """Run one in-betweener on one window and check what it returns.

    Args:
        rotations: ``(T, J, 4)`` ground-truth local rotations; unknown frames are replaced before the call.
        root: ``(T, 3)`` ground-truth root positions.
        known: ``(T,)`` bool.

    Returns:
        ``(rotations (T, J, 4), root (T, 3))`` as returned, with sign flips along time removed.
    """
    rot_in, root_in = zero_velocity(rotations, root, known)  # unknown frames hold the last known one
    out = method(rot_in.copy(), root_in.copy(), known.copy())
    try:
        rot_out, root_out = (np.asarray(a, dtype=float) for a in out)
    except (TypeError, ValueError):
        raise LMMError(f"{name}: an in-betweener must return (rotations, root); got {type(out).__name__}") from None
    if rot_out.shape != rot_in.shape or root_out.shape != root_in.shape:
        raise LMMError(f"{name}: returned rotations {rot_out.shape} and root {root_out.shape} for inputs "
                       f"{rot_in.shape} and {root_in.shape}")
    if not (np.all(np.isfinite(rot_out)) and np.all(np.isfinite(root_out))):
        raise LMMError(f"{name}: returned NaN or infinite values")
    q_err = np.minimum(np.linalg.norm(rot_out[known] - rot_in[known], axis=-1),
                       np.linalg.norm(rot_out[known] + rot_in[known], axis=-1)).max()
    p_err = np.abs(root_out[known] - root_in[known]).max()
    if q_err > 1e-4 or p_err > root_tolerance:
        raise LMMError(f"{name}: changed the known frames (quaternions by up to {q_err:.2g}, root by up to "
                       f"{p_err:.2g}); an in-betweener must return them unchanged")
    return R.unroll(rot_out), root_out


def evaluate(windows: WindowSet, methods: dict[str, Inbetweener], x_mean: np.ndarray, x_std: np.ndarray,
             lengths: Iterable[int] = LENGTHS, n_past: int = N_PAST, show_progress: bool = False) -> Results:
    """L2Q, L2P and NPSS of each method at each transition length.

    Args:
        windows: framed test windows, at least ``n_past + max(lengths) + 1`` frames long.
        methods: name -> in-betweener on ``windows.skeleton``.
        x_mean, x_std: ``(J * 3,)`` statistics that normalise positions for L2P.

    Returns:
        ``{method: {"L2Q"|"L2P"|"NPSS": {str(n): value}}}``, every value averaged over all windows.
    """
    lengths = tuple(int(n) for n in lengths)
    if windows.num_windows == 0:
        raise LMMError("no test windows: every clip is shorter than a window (65 frames and one more)")
    need = n_past + max(lengths) + 1
    if windows.rotations.shape[1] < need:
        raise LMMError(f"windows of {windows.rotations.shape[1]} frames are too short for transitions of "
                       f"{max(lengths)} (need {need})")
    sk, tol = windows.skeleton, _tolerance(windows.skeleton)
    results: Results = {name: {m: {} for m in METRICS} for name in methods}
    for n in lengths:
        known = known_mask(n, n_past)
        t = len(known)
        scored = slice(n_past, n_past + n)
        gt_q, gt_p = global_pose(sk, windows.rotations[:, scored], windows.root[:, scored])
        for name, method in methods.items():
            rots = np.empty((windows.num_windows, n, sk.num_joints, 4))
            roots = np.empty((windows.num_windows, n, 3))
            items: Iterable[int] = progress(range(windows.num_windows), desc=f"{name} n={n}", unit="windows",
                                            enabled=show_progress)
            for w in items:
                r, p = fill(method, f"{name} (window {w} of {windows.clip[w]})",
                            windows.rotations[w, :t], windows.root[w, :t], known, tol)
                rots[w], roots[w] = r[scored], p[scored]
            q, p = global_pose(sk, rots, roots)
            results[name]["L2Q"][str(n)] = l2q(q, gt_q)
            results[name]["L2P"][str(n)] = l2p(p, gt_p, x_mean, x_std)
            results[name]["NPSS"][str(n)] = npss(gt_q.reshape(gt_q.shape[:2] + (-1,)), q.reshape(q.shape[:2] + (-1,)))
    return results


def training_stats(clips: Iterable[Clip], skeleton: Skeleton, root_forward: np.ndarray,
                   length: int = TRAIN_WINDOW, step: int = TRAIN_STEP) -> tuple[np.ndarray, np.ndarray]:
    """``(x_mean, x_std)``, each ``(J * 3,)``: per-coordinate mean and std of global joint positions over
    every frame of the framed training windows (50 frames every 20). One clip at a time, so a whole
    corpus fits in memory."""
    acc = PositionStats()
    for clip in clips:
        ws = make_windows([clip], skeleton, root_forward, fps=30.0, length=length, step=step)
        if ws.num_windows:
            acc.add(global_pose(skeleton, ws.rotations, ws.root)[1])
    return acc.result()


def format_table(results: Results, lengths: Iterable[int] = LENGTHS, reference: Results | None = None,
                 reference_label: str = "published") -> str:
    """The results as a plain-text table: one block per metric, one row per method, and each method's
    ratio to interpolation where there is one; ``reference`` rows (e.g. published numbers) are added
    under their method name plus ``reference_label``."""
    cols = [str(n) for n in lengths]
    labels = list(results) + [f"{name} ({reference_label})" for name in reference or {}] + [f"{n} / interp" for n in results]
    width = max(len(label) for label in labels) + 1
    rows: list[str] = []
    for metric in METRICS:
        digits = 2 if metric == "L2Q" else 4
        rows.append(f"{metric:<{width + 2}}" + "".join(f"{n:>9}" for n in cols))
        for name, res in results.items():
            rows.append(f"  {name:<{width}}" + "".join(f"{res[metric][n]:>9.{digits}f}" for n in cols))
        for name, res in (reference or {}).items():
            if metric in res:
                rows.append(f"  {name + ' (' + reference_label + ')':<{width}}" + "".join(f"{res[metric][n]:>9.{digits}f}" for n in cols))
        interp = results.get("interp")
        if interp is not None:
            for name, res in results.items():
                if name != "interp":
                    ratio = [res[metric][n] / interp[metric][n] if interp[metric][n] else float("nan") for n in cols]
                    rows.append(f"  {name + ' / interp':<{width}}" + "".join(f"{r:>9.3f}" for r in ratio))
        rows.append("")
    return "\n".join(rows).rstrip() + "\n"


def score(windows: WindowSet, skeleton: Skeleton, x_mean: np.ndarray, x_std: np.ndarray,
          methods: dict[str, Inbetweener] | None, model: Inbetweener | None,
          save_stats_to=None, log: Callable[[str], None] = lambda s: None, show_progress: bool = False) -> Results:
    """The common end of every benchmark run: check (and optionally save) the L2P statistics, then
    evaluate the baselines (or ``methods``) plus ``model`` as ``"model"`` on ``windows``."""
    x_mean, x_std = check_stats(x_mean, x_std, skeleton.num_joints, "statistics")
    if save_stats_to is not None:
        save_stats(save_stats_to, x_mean, x_std)
        log(f"wrote statistics to {save_stats_to}")
    run = dict(BASELINES if methods is None else methods)
    if model is not None:
        run["model"] = model
    return evaluate(windows, run, x_mean, x_std, show_progress=show_progress)
