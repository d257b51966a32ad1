"""Mixture of modes: how a ``ModelConfig.modes`` model draws (numpy; the trainer's losses are in
``lmm_core.train.losses.mode_losses``).

Where the future is uncertain (two keys 60 frames apart, a walk two seconds on), a regressor writes the
average of the motions that could happen: a shuffle between a fast and a slow walk, a step with neither
foot. A modes model writes, besides that average, ``M`` whole-window answers; in training each window
teaches only the answer nearest its truth (winner takes all, relaxed: the others learn ``RELAX / M`` as
much, 1/160 with 8 modes), so the answers part into the distinct ways a window goes, and a choice head (from the window's
summary token) learns how often each is the nearest. A draw is one pass: pick a mode with the choice's
probabilities and return its answer whole. A mode is itself the average of the windows it won, so it is
crisper than the regressor's average, not a sample of every detail; consecutive windows of generation
each pick again, which is where variety over a long clip comes from.

Why this and not the flow the earlier sampling models used (``model/sampling.py``): measured on
2026-12-05 (docs/sampling.md, "Why draws still end near the average"), a few thousand steps on two CPU
cores did not teach the transformer to read a noisy guess and denoise it; a mode needs no new reading,
only a new output, and its average warm-starts from the regressor exactly (every mode a copy of it,
nudged by 1% noise).
"""
from __future__ import annotations

import numpy as np


def probabilities(logits: np.ndarray, temperature: float) -> np.ndarray:
    """The choice's probabilities ``(M,)`` from its logits ``(M,)`` at ``temperature`` (above 0; 1: as
    trained, lower: the likelier modes more often)."""
    z = np.asarray(logits, dtype=np.float64) / max(float(temperature), 1e-6)
    z = np.exp(z - z.max())
    return z / z.sum()


def choose(logits: np.ndarray, rng: np.random.Generator, temperature: float) -> int:
    """One mode drawn from the choice ``logits (M,)`` at ``temperature`` with ``rng`` (a fixed seed, the
    same mode)."""
    p = probabilities(logits, temperature)
    return int(rng.choice(len(p), p=p))
