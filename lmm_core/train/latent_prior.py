"""The next-frame generator's latent prior per action, fitted to what its encoder makes of the training frames.

The generator is trained with each frame's latent drawn from its encoder's posterior (which sees the true next
frame), pulled towards N(0, I) by the KL term; at run time it draws from a prior instead. For most actions the
posteriors pooled over the action's training frames are N(0, I) to within a few tenths of a nat, but not for
all: on the shipped generator (2026-12-07) dance's pooled posterior sat 0.5 away from the origin with some
directions over twice as wide (variance up to 4.7; 5.9 nats from N(0, I)), climb's 4.0, dance-short's 2.0. Drawn from N(0, I),
dances stood nearly still (joints turning 38 degrees/s against the capture's 107, the pelvis 0.16 m/s against
0.40); drawn from the fitted Gaussian, 75-91 degrees/s and 0.43 m/s.

Where N(0, I) already describes an action's posteriors (under ``MIN_KL`` nats from the fitted Gaussian), the
action keeps it: the fitted Gaussian there moved the generation benchmark's Fréchet distance from 67.9 to
75.7 (12 seeds x 17 actions, recognition unchanged), a shift the runs' noise (about 3) does not explain.
Actions with few frames are drawn towards N(0, I) before that test (``SHRINK_FRAMES``).
"""
from __future__ import annotations

import numpy as np

from ..model import next_frame as NF
from ..model.body import Body
from ..progress import progress
from .data import Corpus

MIN_KL = 1.0  # nats: below it an action keeps N(0, I)
SHRINK_FRAMES = 300  # an action's fitted mean and covariance weigh n / (n + 300) against N(0, I)'s (10 s of motion)


def _elu(x: np.ndarray) -> np.ndarray:
    return np.where(x > 0, x, np.expm1(np.minimum(x, 0)))


def posteriors(encoder: dict[str, np.ndarray], cond: np.ndarray, target: np.ndarray,
               latent: int) -> tuple[np.ndarray, np.ndarray]:
    """The encoder's posterior means and variances ``(N, latent)`` each for conditions ``cond (N, cond_size)``
    and normalised next frames ``target (N, FRAME)``; ``encoder``: the torch encoder's arrays by their names
    (``enc.0.weight`` ``(out, in)``, ...), float32 as it was trained."""
    h = np.concatenate([cond, target], axis=1).astype(np.float32)
    for i in (0, 2):
        h = _elu(h @ encoder[f"enc.{i}.weight"].T + encoder[f"enc.{i}.bias"])
    out = (h @ encoder["enc.4.weight"].T + encoder["enc.4.bias"]).astype(np.float64)
    return out[:, :latent], np.exp(np.clip(out[:, latent:], -10, 5))  # the trainer's clamp of the log-variance


def fit_latent_prior(encoder: dict[str, np.ndarray], cfg: NF.NextFrameConfig, mean: np.ndarray, std: np.ndarray,
                     pose_mean: np.ndarray | None, pose_std: np.ndarray | None, body: Body, corpus: Corpus,
                     show_progress: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per action, the Gaussian of the encoder's posteriors pooled over every training frame of the action
    (each clip and its mirror image, under the mirrored action's label), shrunk towards N(0, I) by
    ``SHRINK_FRAMES``, and N(0, I) where that Gaussian lies under ``MIN_KL`` nats from it. ``mean``, ``std``,
    ``pose_mean``, ``pose_std``: the run's frame statistics. Returns ``prior_mean (A, latent)``, ``prior_scale
    (A, latent, latent)`` (lower-triangular: the covariance's Cholesky factor) and each action's fitted
    Gaussian's KL from N(0, I) in nats ``(A,)`` (before the ``MIN_KL`` test)."""
    A, S, L = len(cfg.actions), len(cfg.styles), cfg.latent
    count, first, second = np.zeros(A), np.zeros((A, L)), np.zeros((A, L, L))
    spread = np.zeros((A, L))  # the posteriors' own variances, summed
    clips = range(len(corpus.lengths))
    for c in (progress(clips, desc="latent prior", unit="clip") if show_progress else clips):
        a0, n = int(corpus.starts[c]), int(corpus.lengths[c])
        if n < 4:
            continue
        for rot, root, act in ((corpus.rot, corpus.root, corpus.action[c]),
                               (corpus.rot_m, corpus.root_m, corpus.action_mirrored[c])):
            vec = NF.encode(rot[a0:a0 + n].astype(np.float64), root[a0:a0 + n].astype(np.float64), body)
            prev, cur, nxt = vec[:-2], vec[1:-1], vec[2:]
            k = len(prev)
            parts = [(prev - mean) / std, (cur - mean) / std]
            if cfg.positions:
                parts.append((NF.pose_inputs(prev, cur, body) - pose_mean) / pose_std)
            labels = np.zeros((k, A + S))
            labels[:, act] = 1.0
            labels[:, A + int(corpus.style[c])] = 1.0
            mu, var = posteriors(encoder, np.concatenate(parts + [labels], axis=1), (nxt - mean) / std, L)
            count[act] += k
            first[act] += mu.sum(axis=0)
            second[act] += mu.T @ mu
            spread[act] += var.sum(axis=0)
    n = np.maximum(count, 1.0)[:, None]
    m = first / n
    cov = second / n[:, :, None] - m[:, :, None] * m[:, None, :] + spread[:, :, None] / n[:, :, None] * np.eye(L)
    w = (count / (count + SHRINK_FRAMES))[:, None]
    prior_mean = w * m
    prior_cov = w[:, :, None] * cov + (1 - w[:, :, None]) * np.eye(L)
    kl = 0.5 * (np.trace(prior_cov, axis1=1, axis2=2) + (prior_mean ** 2).sum(axis=1) - L
                - np.linalg.slogdet(prior_cov)[1])
    keep = (kl >= MIN_KL) & (count > 0)
    keep[0] = False  # the unlabelled condition: what the KL term pulled every posterior towards
    prior_mean[~keep] = 0.0
    prior_cov[~keep] = np.eye(L)
    return prior_mean, np.linalg.cholesky(prior_cov), kl
