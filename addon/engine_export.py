"""Export one baked clip of the selected armature for a game engine, with the settings read from a preset.

Presets are TOML files in ``presets/export/`` (shipped next to the core)::

    [preset]
    name = "Unity"                  # shown in the panel
    description = "..."
    format = "fbx"                  # fbx | gltf | bvh
    extension = ".fbx"

    [options]                       # keyword arguments of Blender's exporter (export_scene.fbx / .gltf),
    add_leaf_bones = false          # or, for bvh, units and rotation_order of lmm_core.write_bvh

Read strictly: an unknown key in ``[preset]``, or an option the exporter in this Blender does not have,
is an error naming the file and the key. The add-on always exports the selected armature (and meshes
parented to it) only, over its action's frame range, to a temporary file renamed on success.
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import bpy

from . import bridge
from ._core import PRESETS_DIR, LMMError, atomic, write_bvh
from .bridge.action import assigned_fcurves

FORMATS = ("fbx", "gltf", "bvh")
_PRESET_KEYS = {"name", "description", "format", "extension"}
_BVH_OPTIONS = {"units", "rotation_order"}
_SET_BY_LMM = {"filepath", "use_selection", "check_existing"}  # what the operator decides itself


@dataclass(frozen=True)
class ExportPreset:
    key: str
    name: str
    format: str
    extension: str
    description: str = ""
    options: dict = field(default_factory=dict)
    path: Path | None = None


def preset_dir() -> Path:
    return PRESETS_DIR / "export"


def _exporter(fmt: str):
    return bpy.ops.export_scene.fbx if fmt == "fbx" else bpy.ops.export_scene.gltf


def read_preset(path: Path) -> ExportPreset:
    """One export preset file, checked (see the module docstring)."""
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise LMMError(f"export preset {path} cannot be read: {exc}") from None
    unknown = set(doc) - {"preset", "options"}
    head, options = doc.get("preset", {}), doc.get("options", {})
    if unknown or not isinstance(head, dict) or not isinstance(options, dict):
        raise LMMError(f"export preset {path}: only [preset] and [options] tables are allowed")
    bad = set(head) - _PRESET_KEYS
    if bad:
        raise LMMError(f"export preset {path}: unknown key(s) {', '.join(sorted(bad))} in [preset]")
    fmt = head.get("format")
    if fmt not in FORMATS:
        raise LMMError(f"export preset {path}: format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    if fmt == "bvh":
        allowed = _BVH_OPTIONS
    else:
        allowed = {p.identifier for p in _exporter(fmt).get_rna_type().properties} - {"rna_type"} - _SET_BY_LMM
    bad = set(options) - allowed
    if bad:
        raise LMMError(
            f"export preset {path}: {', '.join(sorted(bad))} is not an option of the {fmt.upper()} exporter "
            f"in Blender {bpy.app.version_string}; remove it"
        )
    return ExportPreset(
        key=path.stem, name=str(head.get("name", path.stem)), format=fmt,
        extension=str(head.get("extension", "." + fmt)), description=str(head.get("description", "")),
        options=dict(options), path=path,
    )


def presets() -> dict[str, ExportPreset]:
    """The shipped export presets by file stem, in a stable order (Unity, Unreal, Godot, BVH first)."""
    folder = preset_dir()
    files = sorted(folder.glob("*.toml")) if folder.is_dir() else []
    order = {"unity": 0, "unreal": 1, "godot": 2, "bvh": 3}
    files.sort(key=lambda p: (order.get(p.stem, 9), p.stem))
    return {p.stem: read_preset(p) for p in files}


def output_path(filepath: str | Path, preset: ExportPreset) -> Path:
    """``filepath`` with the preset's extension: another export format's extension is replaced (``x.fbx`` ->
    ``x.glb`` for Godot), anything else is kept and the extension added (``take.01`` -> ``take.01.glb``)."""
    path = Path(filepath)
    ext = preset.extension.lower()
    if path.name.lower().endswith(ext):
        return path
    known = {p.extension.lower() for p in presets().values()} | {".fbx", ".glb", ".gltf", ".bvh"}
    if path.suffix.lower() in known:
        return path.with_suffix(preset.extension)
    return path.with_name(path.name + preset.extension)


def key_count(obj: bpy.types.Object) -> int:
    """How many keys the F-curves of ``obj``'s action (its slot's, in Blender 4.4+) hold."""
    fcurves, _ = assigned_fcurves(obj)
    return 0 if fcurves is None else sum(len(fc.keyframe_points) for fc in fcurves)


def _exporter_kwargs(preset: ExportPreset) -> dict:
    rna = _exporter(preset.format).get_rna_type().properties
    kwargs = {}
    for key, value in preset.options.items():
        prop = rna[key]
        kwargs[key] = set(value) if prop.type == "ENUM" and prop.is_enum_flag else value
    return kwargs


def export(context: bpy.types.Context, obj: bpy.types.Object, preset: ExportPreset, filepath: str,
           progress: Callable[[float], None]) -> str:
    """Write ``obj``'s action as one clip to ``filepath`` with ``preset``; returns the report sentence."""
    path = output_path(bpy.path.abspath(filepath), preset)
    if not path.parent.is_dir():
        raise LMMError(f"folder {path.parent} does not exist; pick an existing folder")
    anim = obj.animation_data
    action = anim.action if anim is not None else None
    if action is None:
        raise LMMError(f"{obj.name!r} has no action to export; assign or make one first")
    if key_count(obj) == 0:  # its frame range would be one made-up frame
        raise LMMError(f"action {action.name!r} of {obj.name!r} has no keys, so there is no clip to export; key the "
                       "animation (or assign an action with keys) first")
    first, last = (int(round(f)) for f in action.frame_range)
    scene = context.scene

    if preset.format == "bvh":
        units = preset.options.get("units", "cm")
        motion = bridge.motion_from_armature(obj, scale=bridge.blender_scale(units, scene), units=units,
                                             frame_range=(first, last), progress=progress)
        write_bvh(motion, path, order=preset.options.get("rotation_order", "zyx"))
        return f"Exported {obj.name!r} for {preset.name}: {path.name}, {motion.num_frames} frames"

    kwargs = _exporter_kwargs(preset)
    selected = [o for o in context.view_layer.objects if o.select_get()]
    active, mode = context.view_layer.objects.active, obj.mode
    saved_range = scene.frame_start, scene.frame_end, scene.frame_current
    try:
        if mode != "OBJECT":
            context.view_layer.objects.active = obj
            bpy.ops.object.mode_set(mode="OBJECT")
        for o in selected:
            o.select_set(False)
        for o in (obj, *(c for c in obj.children_recursive if c.type == "MESH")):
            if context.view_layer.objects.get(o.name) is not None:
                o.select_set(True)
        context.view_layer.objects.active = obj
        scene.frame_start, scene.frame_end = first, last  # FBX bakes the scene's range
        progress(0.1)
        with atomic.atomic_path(path) as tmp:
            result = _exporter(preset.format)(filepath=str(tmp), use_selection=True, check_existing=False, **kwargs)
            if result != {"FINISHED"} or not tmp.is_file() or not tmp.stat().st_size:
                raise LMMError(f"Blender's {preset.format.upper()} exporter did not write {path.name}; see the console")
    finally:
        scene.frame_start, scene.frame_end = saved_range[:2]
        scene.frame_set(saved_range[2])
        for o in context.view_layer.objects:
            o.select_set(o in selected)
        context.view_layer.objects.active = active
        if mode != "OBJECT" and context.view_layer.objects.active is obj:
            bpy.ops.object.mode_set(mode=mode)
    progress(1.0)
    return (f"Exported {obj.name!r} for {preset.name}: {path.name}, one clip of {last - first + 1} frames "
            f"({first}-{last})")
