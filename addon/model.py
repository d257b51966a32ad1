"""The model the operators and the batch worker run, and the one cache of loaded models.

The operators run the file set in the preferences, or the one shipped with the add-on; a batch task names
its own. A model is loaded once and kept while its file stays the same (path, size and modification time),
so the panel's action and style lists, repeated operators and a worker's tasks never reload it.
"""
from __future__ import annotations

from pathlib import Path

import bpy

from . import preferences
from ._core import LMMError, runtime, tasks, threads

_LOADED: dict[Path, tuple[tuple[int, int], runtime.Model]] = {}  # path -> ((size, mtime), model)


def load_file(path: str | Path | None = None) -> runtime.Model:
    """The model in ``path`` (the shipped ``presets/models/lmm_default.npz`` when ``None``), from the cache
    while the file is unchanged; ``runtime.load``'s ``LMMError`` for a missing or bad file."""
    path = Path(path) if path else runtime.DEFAULT_MODEL
    try:
        stat = path.stat()
    except OSError:
        return runtime.load(path)  # its error names the problem and the fix
    stamp = (stat.st_size, stat.st_mtime_ns)
    cached = _LOADED.get(path)
    if cached is None or cached[0] != stamp:
        cached = _LOADED[path] = (stamp, runtime.load(path))
    return cached[1]


def model_path(context: bpy.types.Context) -> Path:
    """The weights file to use: the preference when set, else the shipped ``presets/models/lmm_default.npz``."""
    chosen = preferences.get(context).model_path.strip()
    return Path(bpy.path.abspath(chosen)) if chosen else runtime.DEFAULT_MODEL


def chosen(context: bpy.types.Context) -> bool:
    """Whether the user set a Model File in Preferences (rather than using the shipped model)."""
    return bool(preferences.get(context).model_path.strip())


def load(context: bpy.types.Context) -> runtime.Model:
    """The model the preferences choose (``model_path``); an ``LMMError`` that says how to fix a missing or
    bad file."""
    path = model_path(context)
    if not path.is_file():
        if preferences.get(context).model_path.strip():
            raise LMMError(f"model file {path} not found; fix Model File in Preferences > Add-ons > LMM")
        raise LMMError(
            "no model file: the add-on's shipped model is missing; set Model File in Preferences > Add-ons > LMM "
            "to a .npz written by `lmm train`"
        )
    apply_threads(context)
    return load_file(path)


def apply_threads(context: bpy.types.Context) -> None:
    """The Threads preference: numpy's BLAS is told at run time (Blender's numpy is already loaded). Every
    operator that runs a network calls it, whichever network (the next-frame ones need no Model File)."""
    threads.set_blas_threads(preferences.get(context).threads)


def vocabulary(context: bpy.types.Context, method: str = "next-frame") -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The actions ``method`` can generate (``tasks.actions_for``: the shipped next-frame generator's, or
    those the Preferences model holds segments of) and the style names (without ``<unknown>``); empty when
    that model does not load."""
    try:
        if method == "next-frame":
            return tasks.actions_for(method), tasks.styles_for("", method=method)
        m = load(context)
        return tasks.actions_for(method, m), tuple(m.cfg.styles[1:])
    except LMMError:
        return (), ()


def styles_for(context: bpy.types.Context, action: str, method: str = "next-frame") -> tuple[str, ...]:
    """The styles ``method`` can generate ``action`` in (``tasks.styles_for``); empty when its model does not
    load."""
    try:
        return tasks.styles_for(action, load(context) if method == "segments" else None, method)
    except LMMError:
        return ()
