"""The model the operators run: the file set in the preferences, or the one shipped with the add-on.

A model is loaded once and kept while its file stays the same (path, size and modification time), so
the panel's action and style lists and repeated operators never reload it.
"""
from __future__ import annotations

from pathlib import Path

import bpy

from . import preferences

_LOADED: dict[str, object] = {}  # "key" -> (path, size, mtime), "model" -> Model


def model_path(context: bpy.types.Context) -> Path:
    """The weights file to use: the preference when set, else the shipped ``presets/models/lmm_default.npz``."""
    from ._core import runtime

    chosen = preferences.get(context).model_path.strip()
    return Path(bpy.path.abspath(chosen)) if chosen else runtime.DEFAULT_MODEL


def load(context: bpy.types.Context):
    """The ``lmm_core`` model (``runtime.Model``); an ``LMMError`` that says how to fix a missing or bad file."""
    from ._core import LMMError, runtime

    path = model_path(context)
    if not path.is_file():
        if preferences.get(context).model_path.strip():
            raise LMMError(f"model file {path} not found; fix Model File in Preferences > Add-ons > LMM")
        raise LMMError(
            "no model file: the add-on's shipped model is missing; set Model File in Preferences > Add-ons > LMM "
            "to a .npz written by `lmm train`"
        )
    from ._core import threads

    # The Threads preference: numpy's BLAS is told at run time (Blender's numpy is already loaded).
    threads.set_blas_threads(preferences.get(context).threads)
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    if _LOADED.get("key") != key:
        _LOADED.clear()
        _LOADED["model"] = runtime.load(path)
        _LOADED["key"] = key
    return _LOADED["model"]


def vocabulary(context: bpy.types.Context) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The actions the model can generate and its style names (without ``<unknown>``); empty when no
    model loads."""
    from ._core import LMMError

    try:
        m = load(context)
    except LMMError:
        return (), ()
    return m.generatable_actions(), tuple(m.cfg.styles[1:])
