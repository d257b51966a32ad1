"""One validation layer for numbers: every numeric option and every number read from a file is checked here
for finiteness and a sensible range before work starts, with one line naming the value and the range.

The limits that protect memory and time are overridable with environment variables (docs/limits.md):

- ``LMM_MAX_FRAMES`` (default 200,000): the most frames a motion read, made or resampled may have
  (1.9 hours at 30 fps, 28 minutes at 120 fps). A clip longer than that is refused rather than left to
  exhaust memory; raise it for longer takes.
- ``LMM_MAX_INPUT_BYTES`` (default 256 MiB): the most bytes a text input (BVH, JSON, TOML) may hold
  once decompressed; a ``.bvh.gz`` that inflates past it is refused after reading that much.
- ``LMM_MAX_ARRAY_BYTES`` (default 2 GiB): the most bytes the arrays of one ``.npz`` (a model, keypoints,
  statistics) may hold once decompressed, checked before they are read.
"""
from __future__ import annotations

import math
import numbers
import os

from .errors import LMMError

DEFAULT_MAX_FRAMES = 200_000
DEFAULT_MAX_INPUT_BYTES = 256 << 20
DEFAULT_MAX_ARRAY_BYTES = 2 << 30
# Frame rates outside this are refused (a BVH 'Frame Time', --fps, a keypoints file's fps).
MIN_FPS, MAX_FPS = 0.1, 10_000.0
# The largest seed: numpy's generators take any non-negative integer; 2^63 - 1 keeps seeds in an int64.
MAX_SEED = 2**63 - 1


def _env_int(name: str, default: int) -> int:
    text = os.environ.get(name)
    if text is None or not text.strip():
        return default
    try:
        value = int(text.strip().replace("_", ""))
    except ValueError:
        raise LMMError(f"${name} must be a whole number, got {text!r}; unset it for the default {default}") from None
    if value < 1:
        raise LMMError(f"${name} must be at least 1, got {value}; unset it for the default {default}")
    return value


def max_frames() -> int:
    """The most frames a motion may have (``$LMM_MAX_FRAMES``, default 200,000)."""
    return _env_int("LMM_MAX_FRAMES", DEFAULT_MAX_FRAMES)


def max_input_bytes() -> int:
    """The most bytes a decompressed text input may hold (``$LMM_MAX_INPUT_BYTES``, default 256 MiB)."""
    return _env_int("LMM_MAX_INPUT_BYTES", DEFAULT_MAX_INPUT_BYTES)


def max_array_bytes() -> int:
    """The most bytes the arrays of one ``.npz`` may hold (``$LMM_MAX_ARRAY_BYTES``, default 2 GiB)."""
    return _env_int("LMM_MAX_ARRAY_BYTES", DEFAULT_MAX_ARRAY_BYTES)


def _fmt(x) -> str:
    if isinstance(x, float) and x.is_integer() and abs(x) < 1e15:
        return str(int(x))
    return f"{x:g}" if isinstance(x, float) else str(x)


def number(value, name: str, low: float | None = None, high: float | None = None, *, integer: bool = False,
           low_open: bool = False, hint: str = ""):
    """``value`` if it is a finite number (a whole one with ``integer``) in ``[low, high]`` (``(low, high]``
    with ``low_open``), else an ``LMMError`` naming ``name``, the value and the accepted range, then ``hint``."""
    kind = "a whole number" if integer else "a number"
    ok = isinstance(value, numbers.Integral) if integer else isinstance(value, numbers.Real)
    if isinstance(value, bool) or not ok:
        raise LMMError(f"{name} must be {kind}, got {value!r}" + (f"; {hint}" if hint else ""))
    if not integer and not math.isfinite(value):
        raise LMMError(f"{name} must be a finite number, got {_fmt(value)}" + _range(low, high, low_open)
                       + (f"; {hint}" if hint else ""))
    below = low is not None and (value <= low if low_open else value < low)
    above = high is not None and value > high
    if below or above:
        raise LMMError(f"{name} must be {kind}{_range(low, high, low_open, lead='')}, got {_fmt(value)}"
                       + (f"; {hint}" if hint else ""))
    return value


def _range(low, high, low_open: bool, lead: str = " (accepted:") -> str:
    if low is None and high is None:
        return ""
    if low is not None and high is not None:
        text = f" {'above' if low_open else 'from'} {_fmt(low)} {'up ' if low_open else ''}to {_fmt(high)}"
    elif low is not None:
        text = f" {'above' if low_open else 'of at least'} {_fmt(low)}"
    else:
        text = f" of at most {_fmt(high)}"
    return f"{lead}{text})" if lead else text


def fps(value, name: str = "--fps"):
    """A frame rate: finite, from ``MIN_FPS`` to ``MAX_FPS``."""
    return number(value, name, MIN_FPS, MAX_FPS)


def frames(value, name: str = "--frames", low: int = 1):
    """A frame count from ``low`` to ``max_frames()``."""
    return number(value, name, low, max_frames(), integer=True, hint=_frames_hint())


def frame_count(count: int, what: str) -> int:
    """``count`` frames of ``what`` (a clip being read, resampled or made), refused past ``max_frames()``."""
    limit = max_frames()
    if count > limit:
        raise LMMError(f"{what} would have {count:,} frames, more than the limit of {limit:,}; "
                       f"{_frames_hint()}")
    return count


def _frames_hint() -> str:
    return f"the limit protects memory; set LMM_MAX_FRAMES (now {max_frames():,}) to allow more"


def seconds(value, name: str = "--seconds", fps_: float = 30.0, low: float = 0.1):
    """A duration in seconds: finite, from ``low`` to ``max_frames()`` frames at ``fps_``."""
    return number(value, name, low, max_frames() / fps_, hint=f"the longest is the frame limit at {_fmt(fps_)} fps; "
                                                              f"{_frames_hint()}")


def seed(value, name: str = "--seed"):
    """A random seed: a whole number from 0 to 2^63 - 1."""
    return number(value, name, 0, MAX_SEED, integer=True)


def share(value, name: str):
    """A share from 0 to 1."""
    return number(value, name, 0.0, 1.0)
