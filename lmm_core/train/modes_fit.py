"""Fitting a warm start's modes before training (``lmm train --modes M --mode-init fit``): hard EM for a
mixture of linear regressions on the network's own final tokens (torch for the tokens, numpy for the rest).

Modes that start as copies of the average part slowly under gradient descent: every mode is nearly as
near every window, so each learns from a random share of them and stays the average (measured, model
card run 9: after 1,750 steps the best of 8 modes was 3% nearer the truth than the average, the modes
1.9 cm apart on two-second continuations). A mode is a linear readout of the trunk's frame tokens, so
with the trunk held fixed the modes are a mixture of linear regressions, which alternating exact steps
fit in seconds: assign each window to the mode that writes it best, then solve each mode's readout by
least squares on its windows, kept near the average's by a ridge. The first assignment is k-means on
what the average got wrong in each window (its residual at the start, middle and end of the made frames),
so the modes start apart along the directions the windows actually differ in.
"""
from __future__ import annotations

import numpy as np
import torch

from ..model import features as Fe
from ..model.network import CONTACTS
from .network import Network

# Ridge towards the average's readout, as a share of the mean diagonal of a mode's weighted Gram matrix.
RIDGE = 0.05
# Principal directions of the average's residuals that the first assignment clusters in.
PRINCIPAL = 3


def collect(net: Network, prepared) -> dict[str, np.ndarray]:
    """Rows for the fit from ``prepared`` (``Prepared`` batches, a sampling model's at t = 0), one per frame
    with something to make: ``h (N, d + 1)`` final frame tokens with a 1 for the bias, ``y (N, F)`` the
    correction each feature needed in the network's output units (the average's own output where the
    entry is known: no pull), ``w (N, F)`` each entry's weight, ``(gate * scale)^2`` on made entries and
    0 on known ones (so errors are squared normalised feature errors), ``window (N,)``."""
    hs, ys, ws, wins = [], [], [], []
    first = 0
    was_training = net.training
    net.eval()  # the fit reads the network as the runtime will: no dropout
    try:
        with torch.no_grad():
            for prep in prepared:
                h = net.trunk(prep.x, prep.action, prep.style)[:, 3:].float()
                out = (h @ net.p["head_w"] + net.p["head_b"])[..., :Fe.FEATURES]
                made = (~prep.known) & prep.scored[..., None]
                g = prep.gate * prep.scale
                need = (prep.target - prep.base) / g.clamp_min(1e-6)
                y = torch.where(made, need, out)
                w = torch.where(made, g * g, torch.zeros(()))
                rows = made.any(dim=-1)  # (B, W)
                b_idx = torch.nonzero(rows)[:, 0]
                hs.append(torch.cat([h[rows], torch.ones(int(rows.sum()), 1)], dim=1).numpy())
                ys.append(y[rows].numpy())
                ws.append(w[rows].numpy())
                wins.append(b_idx.numpy() + first)
                first += prep.x.shape[0]
    finally:
        net.train(was_training)
    return {"h": np.concatenate(hs).astype(np.float32), "y": np.concatenate(ys).astype(np.float32),
            "w": np.concatenate(ws).astype(np.float32), "window": np.concatenate(wins)}


def _window_errors(rows: dict[str, np.ndarray], readouts: list[np.ndarray], windows: int) -> np.ndarray:
    """``(windows, M)``: each mode's mean absolute normalised feature error over each window's made entries
    (the measure training's winner is chosen by, ``losses.mode_losses``)."""
    h, y, g, win = rows["h"], rows["y"], np.sqrt(rows["w"]), rows["window"]
    count = np.bincount(win, weights=(g > 0).sum(axis=1), minlength=windows)
    errs = []
    for W in readouts:
        e = (np.abs((h @ W) - y) * g).sum(axis=1)
        errs.append(np.bincount(win, weights=e, minlength=windows) / np.maximum(count, 1))
    return np.stack(errs, axis=1)


def _solve(rows: dict[str, np.ndarray], pick: np.ndarray, base: np.ndarray, reweight: int = 2) -> np.ndarray:
    """A readout ``(d + 1, F)`` fitted on the rows ``pick``: ``base`` plus the ridge-regularised weighted
    least-squares fit of what ``base`` leaves, reweighted ``reweight`` times towards the absolute error
    (each row weighted by one over its current error: the losses are absolute errors, and the errors are
    heavy-tailed, so a plain squared fit chases a few windows' root travel). One weight per row: a whole
    frame is made or kept in most windows, so the entries of a row weigh nearly the same."""
    h, y, w = rows["h"][pick], rows["y"][pick], rows["w"][pick]
    g = np.sqrt(w)
    W = base
    for _ in range(reweight + 1):
        err = (np.abs(h @ W - y) * g).mean(axis=1, keepdims=True)
        r = w.mean(axis=1, keepdims=True) / np.maximum(err, 0.05 * float(np.median(err)) + 1e-9)
        hr = h * r
        gram = hr.T @ h
        lam = RIDGE * float(np.mean(np.diag(gram))) + 1e-6
        W = base + np.linalg.solve(gram + lam * np.eye(len(gram), dtype=gram.dtype), hr.T @ (y - h @ base))
    return W


def _kmeans(x: np.ndarray, k: int, rng: np.random.Generator, iterations: int = 20) -> np.ndarray:
    """Cluster labels of the rows of ``x`` (k-means, k-means++ seeding)."""
    centres = [x[rng.integers(len(x))]]
    for _ in range(1, k):
        d = np.min(((x[:, None] - np.array(centres)[None]) ** 2).sum(-1), axis=1)
        centres.append(x[rng.choice(len(x), p=d / d.sum())])
    c = np.array(centres)
    for _ in range(iterations):
        label = ((x[:, None] - c[None]) ** 2).sum(-1).argmin(1)
        c = np.array([x[label == j].mean(0) if np.any(label == j) else c[j] for j in range(k)])
    return label


def fit(rows: dict[str, np.ndarray], head_w: np.ndarray, head_b: np.ndarray, modes: int, rng: np.random.Generator,
        iterations: int = 8, report=None) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[dict]]:
    """Modes' readouts fitted to ``rows`` (``collect``) by hard EM from k-means on the average's residuals.

    Returns ``(mode_w (d, M * (F + 4)), mode_b (M * (F + 4),), choice_b (M,), history)``: the contact
    columns are the average's in every mode, ``choice_b`` the log of each mode's share of the windows, and
    ``history`` per iteration the mean window error of the average and of each window's best mode."""
    F = Fe.FEATURES
    base = np.concatenate([head_w[:, :F], head_b[None, :F]]).astype(np.float32)
    windows = int(rows["window"].max()) + 1
    # The first assignment: k-means on the average's weighted residual in the first, middle and last
    # third of each window's made frames (what the average got wrong, and when).
    res = (rows["h"] @ base - rows["y"]) * np.sqrt(rows["w"])
    summary = np.zeros((windows, 3 * F))
    order = np.argsort(rows["window"], kind="stable")
    starts = np.searchsorted(rows["window"][order], np.arange(windows + 1))
    for i in range(windows):
        idx = order[starts[i]:starts[i + 1]]
        for part, chunk in enumerate(np.array_split(idx, 3)):
            if len(chunk):
                summary[i, part * F:(part + 1) * F] = res[chunk].mean(axis=0)
    has = starts[1:] > starts[:-1]
    # Robust units (median and median absolute deviation), clipped: residuals are heavy-tailed, and plain
    # standardising gave one cluster of 90% of the windows and seven of a few outliers each.
    med = np.median(summary[has], axis=0)
    mad = np.median(np.abs(summary[has] - med), axis=0) + 1e-6
    summary = np.clip((summary - med) / mad, -3.0, 3.0)
    # k-means on the few directions the residuals vary most in (their principal components): in all 405
    # dimensions, distances are mostly noise and k-means++ seeds on outliers (measured: one cluster of 93%
    # of the windows); along the main directions the clusters split the windows where they differ most.
    centred = summary[has] - summary[has].mean(0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    label = np.full(windows, -1)
    label[has] = _kmeans(centred @ vt[:PRINCIPAL].T, modes, rng)
    history = []
    avg_err = _window_errors(rows, [base], windows)[has, 0]
    readouts = [base] * modes
    for it in range(iterations):
        row_label = label[rows["window"]]
        readouts = [_solve(rows, row_label == k, base) if np.any(row_label == k) else base for k in range(modes)]
        err = _window_errors(rows, readouts, windows)
        label = np.where(has, err.argmin(1), -1)
        history.append({"iteration": it + 1, "average": float(avg_err.mean()), "best": float(err[has].min(1).mean()),
                        "shares": np.bincount(label[has], minlength=modes).tolist()})
        if report is not None:
            report(history[-1])
    share = np.bincount(label[has], minlength=modes) / max(int(has.sum()), 1)
    d = head_w.shape[0]
    mode_w = np.zeros((d, modes * (F + CONTACTS)), dtype=np.float32)
    mode_b = np.zeros(modes * (F + CONTACTS), dtype=np.float32)
    for k, W in enumerate(readouts):
        at = k * (F + CONTACTS)
        mode_w[:, at:at + F], mode_b[at:at + F] = W[:-1], W[-1]
        mode_w[:, at + F:at + F + CONTACTS], mode_b[at + F:at + F + CONTACTS] = head_w[:, F:], head_b[F:]
    return mode_w, mode_b, np.log(np.maximum(share, 1e-3)).astype(np.float32), history
