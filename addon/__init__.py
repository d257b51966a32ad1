"""LMM, the Blender extension: register and unregister only.

Layout: ``operators`` (what the user runs; the work is in ``animate``, ``engine_export`` and ``mapping``),
``panels`` (the sidebar tab), ``properties`` (panel settings, bone map lists), ``preferences``, ``model``
(loading the model), ``bridge`` (the only converter between Blender data and ``lmm_core.Motion``) and
``_core`` (where ``lmm_core`` comes from). See docs/addon.md.
"""
from __future__ import annotations

import bpy

from . import capture_import, operators, panels, preferences, properties

_CLASSES = (*preferences.CLASSES, *properties.CLASSES, *operators.CLASSES, *capture_import.CLASSES, *panels.CLASSES)
_MENUS = (*operators.MENUS, *capture_import.MENUS)


def register() -> None:
    for cls in _CLASSES:
        bpy.utils.register_class(cls)
    properties.register()
    for menu, draw in _MENUS:
        getattr(bpy.types, menu).append(draw)


def unregister() -> None:
    for menu, draw in reversed(_MENUS):
        getattr(bpy.types, menu).remove(draw)
    properties.unregister()
    for cls in reversed(_CLASSES):
        bpy.utils.unregister_class(cls)
