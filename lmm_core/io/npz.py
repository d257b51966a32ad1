"""Reading ``.npz`` archives that a user hands over (models, keypoints, statistics), never with pickle.

``read_npz`` returns plain arrays or raises a ``MotionFileError`` naming the file and the problem: missing,
not a regular file, not an ``.npz`` at all (a single ``.npy`` array, a pickle, text), truncated or damaged,
holding Python objects (which only pickle can read, and a pickle can run code), or holding more than
``validate.max_array_bytes()`` once decompressed (checked from the archive's directory, before reading).
"""
from __future__ import annotations

import json
import os
import stat
import zipfile
import zlib
from pathlib import Path

import numpy as np

from ..errors import LMMError, MotionFileError
from ..validate import max_array_bytes


def _what_it_is(head: bytes) -> str:
    if head.startswith(b"\x93NUMPY"):
        return "a single .npy array, not an .npz archive"
    if head[:1] == b"\x80":
        return "a Python pickle, not an .npz archive (LMM never unpickles a file: a pickle can run code)"
    if not head:
        return "empty"
    if head.startswith(b"PK"):
        return "a truncated or damaged .npz archive (its zip directory is missing)"
    return "not an .npz archive (not a zip file)"


def read_npz(path: str | Path, what: str = "file", keys: tuple[str, ...] | None = None,
             required: tuple[str, ...] = ()) -> dict[str, np.ndarray]:
    """The arrays of an ``.npz`` (only ``keys`` when given), read without pickle.

    Args:
        what: what the file should be, for messages ("model file", "keypoints file").
        keys: the arrays to read (others are left unread); ``None`` reads them all.
        required: arrays that must be there.
    """
    path = Path(path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise MotionFileError(path, f"{what} not found; check the path") from None
    except OSError as exc:
        raise MotionFileError(path, f"cannot read the {what} ({exc.strerror or exc})") from None
    if stat.S_ISDIR(st.st_mode):
        raise MotionFileError(path, f"is a folder, not a {what} (.npz)")
    if not stat.S_ISREG(st.st_mode):
        raise MotionFileError(path, f"is not a regular file; give the {what} (.npz)")
    try:
        with open(path, "rb") as f:
            head = f.read(8)
        if not zipfile.is_zipfile(path):
            raise MotionFileError(path, f"is {_what_it_is(head)}; give the {what} (.npz)")
        with zipfile.ZipFile(path) as zf:
            members = {i.filename[:-4]: i for i in zf.infolist() if i.filename.endswith(".npy")}
    except MotionFileError:
        raise
    except (OSError, EOFError, ValueError, zipfile.BadZipFile, zlib.error) as exc:
        raise MotionFileError(path, f"the {what} is damaged or truncated ({exc})") from None
    missing = [k for k in required if k not in members]
    if missing:
        raise MotionFileError(path, f"the {what} has no {', '.join(missing)} (it has: "
                                    f"{', '.join(sorted(members)[:12]) or 'nothing'})")
    wanted = [k for k in members if keys is None or k in keys]
    total = sum(members[k].file_size for k in wanted)
    limit = max_array_bytes()
    if total > limit:
        raise MotionFileError(path, f"its arrays hold {total:,} bytes once decompressed, more than the limit of "
                                    f"{limit:,}; if the {what} is genuine, set LMM_MAX_ARRAY_BYTES to allow more")
    out: dict[str, np.ndarray] = {}
    try:
        with np.load(path, allow_pickle=False) as z:
            for k in wanted:
                out[k] = z[k]
    except ValueError as exc:
        if "allow_pickle" in str(exc) or "Object arrays" in str(exc):
            raise MotionFileError(path, f"the {what} holds Python objects, which LMM never unpickles (a pickle can "
                                        "run code); save plain numeric arrays") from None
        raise MotionFileError(path, f"the {what} is damaged or truncated ({exc})") from None
    except (OSError, EOFError, KeyError, zipfile.BadZipFile, zlib.error, MemoryError) as exc:
        raise MotionFileError(path, f"the {what} is damaged or truncated ({exc or type(exc).__name__})") from None
    return out


def read_weights(path: Path, what: str, writer: str) -> tuple[dict[str, np.ndarray], dict]:
    """``(arrays, meta)`` of a weights file that carries a JSON ``meta`` record (the model files): read as
    ``read_npz`` reads, each problem an ``LMMError`` naming the file; ``what`` names the kind of file
    ("model file"), ``writer`` the command that writes one."""
    try:
        data = read_npz(path, what)
    except MotionFileError as exc:
        raise LMMError(f"{exc}; a {what} is the .npz that {writer} writes") from None
    if "meta" not in data:
        raise LMMError(f"{path} is not an LMM {what} (no meta record); give a file written by {writer}")
    try:
        meta = json.loads(np.asarray(data["meta"]).tobytes().decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise LMMError(f"{path}: the {what}'s metadata is not JSON ({str(exc)[:80]}); the file is damaged") from None
    if not isinstance(meta, dict):
        raise LMMError(f"{path}: the {what}'s metadata is not a JSON object; the file is damaged")
    return data, meta
