"""LMM, the Blender extension: register and unregister only.

Layout: ``operators`` (what the user runs), ``panels`` (the sidebar tab), ``preferences``, ``bridge`` (the
only converter between Blender data and ``lmm_core.Motion``) and ``_core`` (where ``lmm_core`` comes
from). See docs/addon.md.
"""
from __future__ import annotations

import bpy

from . import operators, panels, preferences

_CLASSES = (*preferences.CLASSES, *operators.CLASSES, *panels.CLASSES)


def register() -> None:
    for cls in _CLASSES:
        bpy.utils.register_class(cls)
    for menu, draw in operators.MENUS:
        getattr(bpy.types, menu).append(draw)


def unregister() -> None:
    for menu, draw in reversed(operators.MENUS):
        getattr(bpy.types, menu).remove(draw)
    for cls in reversed(_CLASSES):
        bpy.utils.unregister_class(cls)
