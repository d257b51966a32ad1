"""How many CPU threads numpy's BLAS may use, set at run time (Blender's numpy can't be restarted
with ``OMP_NUM_THREADS``). Works with the OpenBLAS that numpy wheels bundle; elsewhere it says so."""
from __future__ import annotations

import ctypes
import os
import sys
from pathlib import Path

import numpy

_SET = ("openblas_set_num_threads64_", "openblas_set_num_threads", "scipy_openblas_set_num_threads64_",
        "scipy_openblas_set_num_threads")
_GET = ("openblas_get_num_threads64_", "openblas_get_num_threads", "scipy_openblas_get_num_threads64_",
        "scipy_openblas_get_num_threads")


def _libraries() -> list[Path]:
    """OpenBLAS libraries next to the imported numpy (wheels put them in ``numpy.libs`` or ``numpy/.libs``)."""
    root = Path(numpy.__file__).resolve().parent
    found = []
    for folder in (root.parent / "numpy.libs", root / ".libs", root.parent / "numpy" / ".dylibs"):
        if folder.is_dir():
            found += sorted(p for p in folder.iterdir() if "openblas" in p.name.lower())
    return found


def _call(names: tuple[str, ...], *args):
    for lib_path in _libraries():
        try:
            lib = ctypes.CDLL(str(lib_path), mode=getattr(ctypes, "RTLD_NOLOAD", 0) | ctypes.RTLD_GLOBAL) \
                if sys.platform != "win32" else ctypes.CDLL(str(lib_path))
        except OSError:
            continue
        for name in names:
            fn = getattr(lib, name, None)
            if fn is not None:
                return fn(*args)
    return None


def set_blas_threads(count: int) -> bool:
    """Let numpy's BLAS use ``count`` threads (0: all cores). ``False`` when no OpenBLAS was found."""
    count = count if count > 0 else (os.cpu_count() or 1)
    _call(_SET, ctypes.c_int(count))
    return get_blas_threads() == count


def get_blas_threads() -> int | None:
    """Threads numpy's BLAS uses now, or ``None`` when it can't be asked."""
    value = _call(_GET)
    return int(value) if value is not None else None
