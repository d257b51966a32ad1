"""Bone maps in the panel: a rig's map as an editable list on the armature object, and user presets.

The list (``Object.lmm_map``, see ``properties``) has one row per canonical joint with the rig bone
that plays it, or none. A row left empty means: an optional joint (toes, collars, wrists) is absent; a
spine or neck joint is merged into the nearest mapped spine, neck or head joint (the one the detected
map merged it into, if still mapped); a required joint is an error. Shared bones (extra spine and neck
bones) and the root bone of a detected map are kept with the list. Saved presets are TOML files in the
user's config folder (``<Blender config>/lmm/rigs``), in the format of ``presets/rigs`` (docs/rigs.md).

A control rig (Rigify's generated rig, ``bridge.controls``) lists its deforming bones, and beside each the
control that is keyed for it; its controls, switches and twist segments travel with the list and into a
saved preset (docs/control_rigs.md).
"""
from __future__ import annotations

import json
from pathlib import Path

import bpy

from . import bridge
from ._core import LMMError, atomic, bonemap, canonical

USER_PREFIX = "user:"
AUTO = "AUTO"


def user_rig_dir() -> Path:
    """Where saved rig presets go: ``<Blender user config>/lmm/rigs``."""
    return Path(bpy.utils.user_resource("CONFIG", path="lmm/rigs"))


def preset_items() -> list[tuple[str, str, str]]:
    """Enum items: automatic, the shipped rig presets, then the user's saved ones (``user:<name>``)."""
    items = [(AUTO, "Automatic", "Use the shipped preset that fits the rig, else map from bone names and shape")]
    items += [(name, name, f"Shipped rig preset {name!r}") for name in bonemap.list_rig_presets()]
    folder = user_rig_dir()
    if folder.is_dir():
        items += [(USER_PREFIX + p.stem, f"{p.stem} (saved)", str(p)) for p in sorted(folder.glob("*.toml"))]
    return items


def resolve_preset(preset: str):
    """``None`` for automatic, the path of a saved preset, or the shipped preset's name."""
    if not preset or preset == AUTO:
        return None
    if preset.startswith(USER_PREFIX):
        return user_rig_dir() / f"{preset[len(USER_PREFIX):]}.toml"
    return preset


def fill(obj: bpy.types.Object, bone_map) -> None:
    """Show ``bone_map`` (an ``lmm_core`` ``BoneMap``) in ``obj``'s list, replacing what was there."""
    rig_map = obj.lmm_map
    rig_map.rows.clear()
    rig = bridge.controls.control_rig(obj)
    controls = dict(rig.bone_map.controls) if rig is not None else {}
    for joint in canonical.JOINT_NAMES:
        row = rig_map.rows.add()
        row.joint = joint
        row.bone = bone_map.bones.get(joint, "")
        row.confidence = float(bone_map.confidence.get(joint, 0.0))
        if hasattr(row, "control"):
            row.control = controls.get(joint, "") if row.bone else ""
    rig_map.source = bone_map.source or bone_map.rig
    rig_map.extra = json.dumps({
        "rig": bone_map.rig, "merged": dict(bone_map.merged), "absent": dict(bone_map.absent),
        "shared": dict(bone_map.shared), "root_bone": bone_map.root_bone, "description": bone_map.description,
        "notes": bone_map.notes, "controls": controls,
        "switches": {b: dict(v) for b, v in rig.bone_map.switches.items()} if rig is not None else {},
        "twist": {b: list(t) for b, t in rig.bone_map.twist.items()} if rig is not None else {},
    })
    rig_map.index = 0


def _merge_target(joint: str, bones: dict[str, str], hint: str | None) -> str | None:
    """The spine, neck or head joint an unmapped spine or neck joint merges into."""
    if hint in bones and hint != "pelvis":
        return hint
    chain = list(canonical.SPINE_CHAIN)
    i = chain.index(joint)
    for j in (*reversed(chain[1:i]), *chain[i + 1:]):  # up the spine first, then down
        if j in bones:
            return j
    return None


def from_list(obj: bpy.types.Object):
    """The ``BoneMap`` that ``obj``'s list says; an ``LMMError`` naming the row to fix."""
    rig_map = obj.lmm_map
    extra = json.loads(rig_map.extra or "{}")
    bones = {row.joint: row.bone.strip() for row in rig_map.rows if row.bone.strip()}
    lacking = [b for b in bones.values() if obj.data.bones.get(b) is None]
    if lacking:
        raise LMMError(
            f"the bone map of {obj.name!r} names bones the armature lacks ({', '.join(lacking[:5])}); "
            "pick them again in the Retarget panel's list or press Detect"
        )
    merged, absent = {}, {}
    for joint in canonical.JOINT_NAMES:
        if joint in bones:
            continue
        if joint in canonical.OPTIONAL_JOINTS:
            absent[joint] = extra.get("absent", {}).get(joint, "left empty in the LMM panel")
        elif joint in canonical.MERGEABLE_JOINTS and _merge_target(joint, bones, extra.get("merged", {}).get(joint)):
            merged[joint] = _merge_target(joint, bones, extra.get("merged", {}).get(joint))
        else:
            raise LMMError(
                f"the bone map of {obj.name!r} gives {joint!r} no bone, and it needs one; pick its bone in the "
                "Retarget panel's list"
            )
    shared = {b: j for b, j in extra.get("shared", {}).items() if j in bones and obj.data.bones.get(b) is not None}
    root = extra.get("root_bone")
    confidence = {row.joint: min(max(row.confidence, 0.0), 1.0) for row in rig_map.rows if row.joint in bones}
    # A control rig's controls hold while every listed joint keeps one; a list edited beyond that is plain.
    controls = {j: c for j, c in extra.get("controls", {}).items() if j in bones}
    if set(controls) != set(bones):
        controls = {}
    return bonemap.BoneMap(
        rig=extra.get("rig") or obj.name, bones=bones, confidence=confidence, merged=merged, absent=absent,
        shared=shared, root_bone=root if root and obj.data.bones.get(root) is not None else None,
        description=extra.get("description", ""), notes=extra.get("notes", ""), source=f"list:{obj.name}",
        controls=controls, switches=extra.get("switches", {}) if controls else {},
        twist={b: tuple(t) for b, t in extra.get("twist", {}).items() if b in bones.values()} if controls else {},
    )


def rig_bone_map(obj: bpy.types.Object, skeleton, preset: str | None = None, pose=None):
    """The bone map to use for ``obj`` read as ``skeleton``: ``preset`` when given (``AUTO``, a shipped
    name or ``user:<name>``), else the object's list when it has one, else detected (preset or automatic).
    A rig that cannot be mapped raises an ``LMMError`` (``RigMappingError``) saying why."""
    try:
        if preset:
            return bonemap.bone_map_for(skeleton, resolve_preset(preset), pose=pose)
        if len(obj.lmm_map.rows):
            bone_map = from_list(obj)
            bone_map.check(skeleton)
            return bone_map
        return bonemap.bone_map_for(skeleton, pose=pose)
    except bonemap.RigMappingError as exc:
        raise LMMError(
            f"armature {obj.name!r} cannot be mapped to LMM's body ({_reason(str(exc))}); pick another preset, "
            "or press Detect and fix the bone list in the LMM Retarget panel"
        ) from None


def _reason(message: str, limit: int = 160) -> str:
    """The first clause of a core mapping error, its long bone listings cut short for the status bar."""
    reason = " ".join(message.split(";")[0].split())
    if len(reason) > limit:
        cut = reason.rfind(",", 0, limit)
        reason = reason[: cut if cut > 0 else limit] + ", ..."
    return reason


def driven_bones(bone_map) -> list[str]:
    """The bones a bone map drives: the mapped ones and the ones sharing their rotation."""
    return [*bone_map.bones.values(), *bone_map.shared]


def _quote(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)  # a JSON string is a valid TOML basic string


def to_toml(bone_map, name: str) -> str:
    """``bone_map`` as a rig preset file (docs/rigs.md), readable by ``lmm_core.bonemap.load_bone_map``."""
    lines = ["# Saved from the LMM panel in Blender.", "[rig]", f"name = {_quote(name)}"]
    if bone_map.description:
        lines.append(f"description = {_quote(bone_map.description)}")
    if bone_map.root_bone:
        lines.append(f"root_bone = {_quote(bone_map.root_bone)}")
    for section, table in (("bones", bone_map.bones), ("merged", bone_map.merged), ("absent", bone_map.absent)):
        if table:
            lines += ["", f"[{section}]", *(f"{k} = {_quote(v)}" for k, v in table.items())]
    lines += ["", "[unmapped]", f"policy = {_quote(bone_map.unmapped_policy)}"]
    if bone_map.notes:
        lines.append(f"notes = {_quote(bone_map.notes)}")
    if bone_map.shared:
        lines += ["", "[unmapped.share]", *(f"{_quote(b)} = {_quote(j)}" for b, j in bone_map.shared.items())]
    if bone_map.controls:
        lines += ["", "[controls]", *(f"{k} = {_quote(v)}" for k, v in bone_map.controls.items())]
    if bone_map.switches:
        lines += ["", "[switches]", *(f"{_quote(b)} = {{ {', '.join(f'{_quote(k)} = {float(v)!r}' for k, v in props.items())} }}"
                                      for b, props in bone_map.switches.items())]
    if bone_map.twist:
        lines += ["", "[twist]", *(f"{_quote(b)} = {{ bone = {_quote(t)}, share = {float(share)!r} }}"
                                   for b, (t, share) in bone_map.twist.items())]
    return "\n".join(lines) + "\n"


def save_preset(obj: bpy.types.Object, name: str) -> Path:
    """Write ``obj``'s list as ``<user rig dir>/<name>.toml`` (atomically) and return the path."""
    stem = bpy.path.clean_name(name.strip())
    if not name.strip():
        raise LMMError("give the preset a name first")
    if not len(obj.lmm_map.rows):
        raise LMMError(f"{obj.name!r} has no bone map to save; press Detect first")
    bone_map = from_list(obj)
    folder = user_rig_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{stem}.toml"
    with atomic.atomic_path(path) as tmp:
        tmp.write_text(to_toml(bone_map, stem), encoding="utf-8")
        bonemap.load_bone_map(tmp)  # read back before it takes the name: a preset that loads, or none
    return path
