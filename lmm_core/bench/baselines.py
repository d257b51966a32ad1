"""The two baselines of the LAFAN1 protocol, written to the benchmark's model interface.

An in-betweener is any callable ``inbetween(rotations (T, J, 4), root (T, 3), known (T,) bool) ->
(rotations (T, J, 4), root (T, 3))`` on the data's skeleton: local joint rotations ``(w, x, y, z)``
and the root's world position; frames where ``known`` is False are to be filled and known frames come
back unchanged. Both baselines work for any mask: each run of unknown frames is filled from the known
frames around it; unknown frames before the first known frame or after the last take the nearest one.

- ``zero_velocity``: every unknown frame repeats the last known frame before it (in the protocol,
  frame 9).
- ``interpolation``: between known frames ``a < t < b``, the root is lerped and every local quaternion
  slerped with weight ``(t - a) / (b - a)``, using the original benchmark's slerp (``protocol_slerp``).
"""
from __future__ import annotations

import numpy as np

from .. import rotations as R
from ..errors import LMMError


def check_inputs(rotations: np.ndarray, root: np.ndarray, known: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The inputs as float/bool arrays, or an ``LMMError`` saying which shape is wrong."""
    rotations = np.asarray(rotations, dtype=float)
    root = np.asarray(root, dtype=float)
    known = np.asarray(known, dtype=bool)
    t = known.shape[0] if known.ndim == 1 else -1
    if rotations.ndim != 3 or rotations.shape[0] != t or rotations.shape[2] != 4 or root.shape != (t, 3):
        raise LMMError(f"in-betweening needs rotations (T, J, 4), root (T, 3) and known (T,); got "
                       f"{rotations.shape}, {root.shape} and {known.shape}")
    if not known.any():
        raise LMMError("in-betweening needs at least one known frame")
    return rotations, root, known


def protocol_slerp(a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Slerp as the original benchmark computes it, ``(..., 4)`` from ``a``, ``b`` ``(..., 4)`` and ``t`` ``(...)``.

    Takes the short way (``b`` negated where ``a . b < 0``) and, where ``1 - |a . b| < 0.01`` (closer than
    about 16 degrees), blends linearly instead; the result is normalised. The blend differs from true
    slerp by well under a thousandth of a radian there, but the interpolation baseline should be the
    published one to the digit. At ``t = 0.5`` both are exactly the normalised sum.
    """
    a = R.normalize(np.asarray(a, dtype=float))
    b = R.normalize(np.asarray(b, dtype=float))
    t = np.asarray(t, dtype=float)
    dot = np.sum(a * b, axis=-1)
    b = np.where((dot < 0)[..., None], -b, b)
    dot = np.abs(dot)
    linear = (1.0 - dot) < 0.01
    omega = np.arccos(np.clip(np.where(linear, 0.0, dot), -1.0, 1.0))  # dummy angle where linear
    sin_omega = np.where(linear, 1.0, np.sin(omega))
    wa = np.where(linear, 1.0 - t, np.sin((1.0 - t) * omega) / sin_omega)
    wb = np.where(linear, t, np.sin(t * omega) / sin_omega)
    return R.normalize(wa[..., None] * a + wb[..., None] * b)


def _neighbours(known: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each frame ``(T,)``: the last known frame at or before it and the first at or after it (each
    falls back on the other where there is none)."""
    t = np.arange(known.shape[0])
    prev = np.maximum.accumulate(np.where(known, t, -1))
    nxt = np.minimum.accumulate(np.where(known, t, known.shape[0])[::-1])[::-1]
    prev = np.where(prev < 0, nxt, prev)
    nxt = np.where(nxt >= known.shape[0], prev, nxt)
    return prev, nxt


def zero_velocity(rotations: np.ndarray, root: np.ndarray, known: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unknown frames repeat the last known frame before them; see the module docstring for shapes."""
    rotations, root, known = check_inputs(rotations, root, known)
    prev, _ = _neighbours(known)
    return rotations[prev].copy(), root[prev].copy()


def interpolation(rotations: np.ndarray, root: np.ndarray, known: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unknown frames lerp the root and slerp local rotations between the known frames around them."""
    rotations, root, known = check_inputs(rotations, root, known)
    prev, nxt = _neighbours(known)
    span = nxt - prev
    w = np.where(span > 0, (np.arange(len(known)) - prev) / np.maximum(span, 1), 0.0)  # (T,)
    out_root = root[prev] + w[:, None] * (root[nxt] - root[prev])
    out_rot = protocol_slerp(rotations[prev], rotations[nxt], np.broadcast_to(w[:, None], rotations.shape[:2]))
    # Known frames bit for bit as given (slerp at w = 0 would renormalise them).
    out_rot[known] = rotations[known]
    out_root[known] = root[known]
    return out_rot, out_root


BASELINES = {"zerovel": zero_velocity, "interp": interpolation}
