"""Sampling: the network as a flow-matching denoiser of its own correction (numpy; the trainer uses the
same inputs).

A sampling model (``ModelConfig.sampling``) is the in-betweening network with two more inputs per
frame: ``z``, a guess of the correction in units of each feature's typical correction (``scale``), and
the flow time ``t``. Training shows it ``z_t = t * z_1 + (1 - t) * noise`` for the true correction
``z_1`` and asks for ``z_1`` (predicting the clean answer, so every loss of the regressor applies
unchanged). Sampling starts from noise at ``t = 0`` and walks to ``t = 1`` in a few Euler steps; each
step commits to more of one particular future instead of the average of all of them, which is what a
regressor returns where the future is uncertain (a shuffle between two keys 60 frames apart). With no
noise and one step at ``t = 0`` the model is the deterministic regressor (``temperature = 0``).
Keys never change: known entries are copied, not sampled.
"""
from __future__ import annotations

import numpy as np

# Euler steps of a draw (each is one pass of the network). 2, not 4: measured on blocking keys (20 windows per
# setting, the 2026-12-05 models), 2 steps made the same error as 4 (0.54-1.06 of interpolation in-domain
# against 0.54-1.09) with a smaller 99th-percentile acceleration (0.77-0.99 of the capture's against 0.93-1.41)
# and half the time: the later steps added jitter, not detail.
STEPS = 2

# The largest noise scale ``distance_scale`` gives: the RMS correction of an entry with no key at all is
# about 8 typical in-betweening corrections (measured on the canonical corpus's validation windows:
# 0.4 / 0.8 / 1.3 / 1.8 / 2.6 / 4.8 / 8.4 at 1 / 2 / 4 / 8 / 16 / 32 / 64+ frames from a key, 8.0 with none).
MAX_DISTANCE_SCALE = 8.0


def noise(rng: np.random.Generator, shape: tuple[int, ...], frames: float) -> np.ndarray:
    """Standard normal noise ``shape = (..., T, F)``, smoothed along time (axis -2) by a Gaussian of
    ``frames`` frames (0: white) and rescaled to unit variance.

    Why smooth: motion and its corrections are smooth over a few frames, white noise is not. A network
    that starts its walk from white noise must remove every frame's noise exactly, and whatever a few
    Euler steps leave shows as jitter (measured on an early model: 99th-percentile joint accelerations 2-5
    times the capture's). Noise with the motion's own time scale leaves nothing that jitters."""
    if frames <= 0:
        return rng.standard_normal(shape)
    half = int(np.ceil(3 * frames))
    kernel = np.exp(-0.5 * (np.arange(-half, half + 1) / frames) ** 2)
    kernel /= np.sqrt(np.sum(kernel ** 2))  # unit variance after the sum
    T = shape[-2]
    padded = rng.standard_normal(shape[:-2] + (T + 2 * half, shape[-1]))
    out = np.zeros(shape)
    for k, w in enumerate(kernel):
        out += w * padded[..., k:k + T, :]
    return out


def distance_scale(distance: np.ndarray, frames: float) -> np.ndarray:
    """The size of the flow's unit at each entry, ``clip(distance / frames, 1, MAX_DISTANCE_SCALE)``, from
    ``distance`` (any shape), the frames to the nearest key of the entry's joint (``inf``: none); all ones
    when ``frames`` is 0 (models trained before the scale existed).

    The flow variable ``z`` is the correction in units of ``scale * distance_scale``, so its noise is as
    large as what it stands for at every distance: next to a key a draw varies by a typical in-betweening
    correction, with no key for seconds by a stride. Unit noise against a correction eight times larger
    (generation) leaves the first step nothing to choose by, and every draw ends at the average."""
    if frames <= 0:
        return np.ones(np.shape(distance))
    return np.clip(np.asarray(distance, dtype=np.float64) / frames, 1.0, MAX_DISTANCE_SCALE)


# The distance buckets of a measured flow unit (``ModelConfig.flow_unit``): bucket ``k`` holds the entries
# ``UNIT_BUCKETS[k]`` to ``UNIT_BUCKETS[k + 1] - 1`` frames from the nearest key of their joint, the last one
# every entry 64 or more frames from a key or with none at all.
UNIT_BUCKETS = (1, 2, 4, 8, 16, 32, 64)


def unit_bucket(distance: np.ndarray) -> np.ndarray:
    """The ``UNIT_BUCKETS`` index of each entry's key distance ``distance`` (any shape, frames; ``inf``: no key)."""
    d = np.nan_to_num(np.asarray(distance, dtype=np.float64), posinf=1e9)
    return np.clip(np.searchsorted(UNIT_BUCKETS, d, side="right") - 1, 0, len(UNIT_BUCKETS) - 1)


def flow_unit(distance: np.ndarray, frames: float, table: np.ndarray | None = None) -> np.ndarray:
    """The flow's unit at each entry ``distance (..., T, F)`` (frames to the nearest key of the entry's joint):
    ``table[unit_bucket(distance), feature]`` for a model with a measured unit (``table``:
    ``(len(UNIT_BUCKETS), F)``, in ``scale`` units), else ``distance_scale(distance, frames)``.

    Why measure it: a flow's noise should be as large as the thing it stands for. The growth by
    distance alone (``distance_scale``) is one curve for every feature, and measured on the third cut's
    generation windows the true correction in those units had a median RMS per feature of 0.32 (10th-90th
    percentile 0.19-0.90) and 6.5 for the root's forward travel: unit noise drowned most features'
    corrections until the flow's very end, and was a sixth of the root's travel, so no draw could walk
    at another pace than the average. What measuring it changed, and what it did not, is in
    docs/sampling.md ("Why draws still end near the average")."""
    if table is None:
        return distance_scale(distance, frames)
    return table[unit_bucket(distance), np.arange(table.shape[1])]


def guess_input(z: np.ndarray, unit: np.ndarray, gate: np.ndarray, output_units: bool) -> np.ndarray:
    """What the network reads of the guess ``z (..., T, F)`` (flow units): ``z`` itself, or for a
    ``ModelConfig.guess_in_output_units`` model ``z * unit / gate``, the correction in the network's own
    output units (its answer is ``base + out * gate * scale``, the guess's ``base + z * unit * scale``).
    ``unit`` is ``flow_unit``'s, ``gate`` the window's (``1 - exp(-1 / gate_frames)`` or more on an unknown
    entry, a frame or more from a key: 0.28 for the shipped models' 3 frames; known entries carry a zero
    guess)."""
    if not output_units:
        return z
    return z * unit / np.maximum(gate, 1e-3)


def skip_weight(t: float | np.ndarray) -> float | np.ndarray:
    """How much of the noisy guess ``z_t`` a ``ModelConfig.flow_skip`` model's prediction of ``z_1`` takes
    as it is: ``t / (t^2 + (1 - t)^2)``, the best linear guess of ``z_1`` from ``z_t`` when both it and
    the noise have unit size (0 at t = 0, 1 at t = 0.5 and t = 1)."""
    t = np.asarray(t, dtype=np.float64)
    return t / (t * t + (1.0 - t) ** 2)


def with_flow(x: np.ndarray, z: np.ndarray, t: float | np.ndarray, pos_freqs: int) -> np.ndarray:
    """Frame inputs ``x (..., T, I)`` with the flow inputs ``[z (..., T, F), t]`` inserted before the
    ``2 * pos_freqs`` frame-position columns, as ``network.input_size`` lays them out."""
    split = x.shape[-1] - 2 * pos_freqs
    t_col = np.broadcast_to(np.asarray(t, dtype=x.dtype)[..., None, None], x.shape[:-1] + (1,))
    return np.concatenate([x[..., :split], z.astype(x.dtype), t_col, x[..., split:]], axis=-1)


def noisy(z1: np.ndarray, noise: np.ndarray, t: np.ndarray) -> np.ndarray:
    """``z_t = t * z_1 + (1 - t) * noise`` for ``z1``, ``noise (B, T, F)`` and times ``t (B,)``."""
    t = t[:, None, None]
    return t * z1 + (1.0 - t) * noise


def euler_step(z: np.ndarray, z1: np.ndarray, t: float, t_next: float) -> np.ndarray:
    """One Euler step of the flow from ``t`` to ``t_next`` given the predicted clean ``z1``: the velocity
    of the straight path through ``z`` that ends at ``z1`` is ``(z1 - z) / (1 - t)``."""
    return z + (t_next - t) * (z1 - z) / (1.0 - t)
