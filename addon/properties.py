"""What the panel remembers: the scene's LMM settings and each armature's bone map list.

``Scene.lmm`` holds the values the sidebar shows before an operator runs; the panel copies them into the
operator's own properties (which the redo panel and scripts use). ``Object.lmm_map`` is an armature's
bone map as rows the user can fix (see ``mapping``).

Enum items that come from files (rig presets, export presets, the model's actions and styles) are made by
functions; Blender needs Python to keep the item strings alive, hence the module-level caches.
"""
# No "from __future__ import annotations": Blender reads property annotations as live objects.
import bpy
from bpy.props import (BoolProperty, CollectionProperty, EnumProperty, FloatProperty, IntProperty, PointerProperty,
                       StringProperty)

_ITEMS: dict[str, list] = {}  # keeps dynamic enum strings referenced (Blender requires it)
_NONE = ("NONE", "(none)", "")


def _keep(key: str, items: list) -> list:
    _ITEMS[key] = items or [_NONE]
    return _ITEMS[key]


# The item functions import ``mapping``, ``engine_export`` and ``model`` when called: those load numpy and the
# core, which registering the add-on does not.


def rig_preset_items(self, context):
    from . import mapping

    try:
        return _keep("rig", mapping.preset_items())
    except Exception:  # noqa: BLE001 (drawing must never fail; the operator reports the real problem)
        return _keep("rig", [(mapping.AUTO, "Automatic", "")])


def export_preset_items(self, context):
    from . import engine_export

    try:
        return _keep("export", [(k, p.name, p.description) for k, p in engine_export.presets().items()])
    except Exception:  # noqa: BLE001
        return _keep("export", [])


def _generate_method(settings) -> str:
    """The generation method the settings choose (``tasks.GENERATION_METHODS``' name)."""
    return "segments" if getattr(settings, "generate_method", "NEXT_FRAME") == "SEGMENTS" else "next-frame"


def _label_item(name: str, first: bool = False) -> tuple[str, str, str, int]:
    """An action or style as an enum item numbered from its name: Blender stores a dynamic enum's number, so a
    list that changes (the Method's actions, an action's styles) keeps the chosen name rather than whatever
    now stands at its old place. ``first``: numbered 0, the number a new scene holds (its default)."""
    import zlib

    number = 0 if first else 1 + zlib.crc32(name.encode()) % 0x7FFFFFFE
    return (name, name.replace("_", " ").title(), name, number)


DEFAULT_ACTION = "walk"  # what a new scene's Generate shows, where the list holds it (else its first action)


def _generate_method_update(self, context):
    """Switching Generate's Method brings that method's own Variation (``tasks.GENERATION_VARIATION``: the
    generator's full spread 1, segments' switching chance 0.5) unless the user had set another."""
    from ._core import tasks

    now = _generate_method(self)
    before = "segments" if now == "next-frame" else "next-frame"
    if abs(self.variation - tasks.GENERATION_VARIATION[before]) < 1e-6:
        self.variation = tasks.GENERATION_VARIATION[now]


def _vocabulary_items(which: int, key: str):
    def items(self, context):
        from . import model

        names = model.vocabulary(context, _generate_method(self))[which]
        first = DEFAULT_ACTION if DEFAULT_ACTION in names else (names[0] if names else None)
        return _keep(key, [_label_item(n, which == 0 and n == first) for n in names])

    return items


action_items = _vocabulary_items(0, "action")

ANY_STYLE = "ANY"  # the style list's first item: segments of the action in whatever style the model holds


def style_items(self, context):
    """"Any", then the styles the model holds the chosen action in (no others: those would not be honoured)."""
    from . import model

    names: tuple[str, ...] = ()
    try:
        action = getattr(self, "action", "")
        method = _generate_method(self)
        names = (model.styles_for(context, action, method) if action and action != _NONE[0]
                 else model.vocabulary(context, method)[1])
    except Exception:  # noqa: BLE001 (drawing must never fail; the operator reports the real problem)
        pass
    any_item = (ANY_STYLE, "Any", "Whatever styles the model holds the action in", 0)
    return _keep("style", [any_item] + [_label_item(n) for n in names])


def _is_armature(self, obj) -> bool:
    return obj.type == "ARMATURE"


def _range_update(prefix: str, of_action: bool):
    """Ticking a panel's Custom Range fills a never-set range (0-0) with the scene's frame range, or with the
    active armature's action's (Mirror and Clean Up work on the action): a start, not 1-250."""

    def update(self, context):
        unset = (getattr(self, f"{prefix}_start"), getattr(self, f"{prefix}_end")) == (0, 0)
        if not (getattr(self, f"{prefix}_use_range") and unset):
            return
        scene = context.scene
        first, last = scene.frame_start, scene.frame_end
        obj = context.active_object
        anim = obj.animation_data if of_action and obj is not None and obj.type == "ARMATURE" else None
        if anim is not None and anim.action is not None:
            first, last = (int(round(f)) for f in anim.action.frame_range)
        setattr(self, f"{prefix}_start", first)
        setattr(self, f"{prefix}_end", last)

    return update


# Shared by the scene settings and the operators, so both say the same.
ROOT_MOTION = (
    ("keep", "Keep", "The hips travel as in the source, scaled to this rig's legs"),
    ("in_place", "In Place", "Remove horizontal travel; turning and vertical motion are kept"),
)


class LMM_PG_map_row(bpy.types.PropertyGroup):
    joint: StringProperty(name="Joint", description="Joint of LMM's canonical body")
    bone: StringProperty(name="Bone", description="The rig's bone that plays this joint; empty: none")
    confidence: FloatProperty(name="Confidence", description="How sure the automatic mapping was", min=0.0, max=1.0)
    control: StringProperty(name="Control", description="A control rig's control that is keyed for this joint "
                            "(its deforming bone follows it); empty on a rig keyed on its bones")


class LMM_PG_rig_map(bpy.types.PropertyGroup):
    rows: CollectionProperty(type=LMM_PG_map_row)
    index: IntProperty(name="Row")
    source: StringProperty(name="Source", description="Where the map came from")
    extra: StringProperty(name="Extra", description="Merged, absent and shared bones of the detected map (JSON)")


class LMM_PG_settings(bpy.types.PropertyGroup):
    # In-between's range and Mirror / Clean Up's, each its own (0-0: not set yet; ticking fills it in).
    inbetween_use_range: BoolProperty(
        name="Custom Range", description="In-between the frames below instead of the scene's frame range",
        default=False, update=_range_update("inbetween", of_action=False),
    )
    inbetween_start: IntProperty(name="Start", default=0)
    inbetween_end: IntProperty(name="End", default=0)
    cleanup_use_range: BoolProperty(
        name="Custom Range", description="Mirror or clean up the frames below instead of the whole action",
        default=False, update=_range_update("cleanup", of_action=True),
    )
    cleanup_start: IntProperty(name="Start", default=0)
    cleanup_end: IntProperty(name="End", default=0)
    extend_frames: IntProperty(name="Frames", description="How many frames to add after the last key", default=30,
                               min=1, soft_max=600)
    # How In-between and Extend key, the preview every model operator offers, and a sampling model's draw.
    key_tolerance: FloatProperty(name="Tolerance (mm)", description="Sparse keys play the made motion back within "
                                 "this distance at the feet, hands and head", default=0.9, min=0.01, soft_max=20.0)
    key_every_frame: BoolProperty(name="Every Frame", description="A key on every new frame instead of sparse keys",
                                  default=False)
    selected_only: BoolProperty(name="Selected Bones Only", description="In-between, Extend and Clean Up change only "
                                "the selected bones", default=False)
    preview: BoolProperty(name="Preview", description="Show the result on a trial action first; Apply, Discard or "
                          "Re-roll it", default=False)
    inbetween_method: EnumProperty(name="Method", description="What makes the frames between the keys: the model "
                                   "in Preferences all at once, or the next-frame in-betweener stepping from key to "
                                   "key (its feet plant over long gaps); Auto picks by the keys",
                                   # Numbered: a .blend stores the number, and files saved before Auto
                                   # existed hold 0 for Window Network and 1 for Next Frame.
                                   items=[("AUTO", "Auto", "With the shipped model: Next Frame for blocking keys and "
                                           "short gaps, Window Network for long gaps after three or more keyed frames "
                                           "in a row; with a Model File set in Preferences, that model", 2),
                                          ("NETWORK", "Window Network", "The model in Preferences", 0),
                                          ("NEXT_FRAME", "Next Frame", "The shipped next-frame in-betweener", 1)],
                                   default="AUTO")
    generate_method: EnumProperty(name="Method", description="What makes the new motion: the next-frame network "
                                  "alone, or recorded segments joined by the model in Preferences",
                                  # numbered as before Next Frame became the default and came first
                                  items=[("NEXT_FRAME", "Next Frame", "The shipped next-frame network, one frame at "
                                          "a time (no recorded motion); it can walk to the 3D cursor", 1),
                                         ("SEGMENTS", "Segments", "Recorded segments of the action joined by the "
                                          "model in Preferences", 0)],
                                  default="NEXT_FRAME", update=_generate_method_update)
    walk_to_cursor: BoolProperty(name="Walk To 3D Cursor", description="With Next Frame: walk from where the "
                                 "character stands to the 3D cursor at the action's own pace; the clip ends on "
                                 "arrival (Seconds is not used)", default=False)
    draw_seed: IntProperty(name="Seed", description="Which draw of a sampling model (Re-roll takes the next)",
                           default=0, min=0)
    inbetween_rollouts: IntProperty(name="Rollouts", description="How many ways the next-frame in-betweener rolls each gap of 20 frames or more, keeping the one whose feet stay planted best: more is steadier feet and slower, 1 the fastest; 0: automatic (8 for gaps under 45 frames, 16 from 45)", default=0, min=0, max=64)
    draw_variation: FloatProperty(name="Variation", description="With a sampling model, how freely In-between and "
                                  "Extend draw (0: its one deterministic answer)", default=0.0, min=0.0, max=1.0,
                                  subtype="FACTOR")
    action: EnumProperty(name="Action", description="What the character does (the model's actions)", items=action_items)
    style: EnumProperty(name="Style", description="How the character does it: Any, or a style the model holds the "
                        "action in", items=style_items)
    seconds: FloatProperty(name="Seconds", description="Length of the new motion", default=4.0, min=0.1, soft_max=60.0)
    seed: IntProperty(name="Seed", description="Another seed gives another take", default=0, min=0)
    variation: FloatProperty(name="Variation", description="Next Frame: how far each frame's draw strays from the network's likeliest (1: the spread it learned; 0: one motion per seed's start). Segments: the chance at each join of switching to another recorded segment of the action rather than repeating one", default=1.0, min=0.0,
                             max=1.0, subtype="FACTOR")
    fit_scene: BoolProperty(name="Fit Scene Range", description="Generate and Retarget set the scene's frame range "
                            "to the new clip's (else it is left as it is)", default=False)
    from_character: BoolProperty(name="From Where It Stands", description="Generate and Retarget start where the "
                                 "character stands on the current frame, facing its way", default=True)
    source_kind: EnumProperty(
        name="From",
        items=(("ARMATURE", "Armature", "Another armature in the scene"), ("FILE", "File", "A BVH or FBX file")),
        default="ARMATURE",
    )
    source_object: PointerProperty(name="Source", type=bpy.types.Object, poll=_is_armature,
                                   description="The armature whose animation is copied")
    source_file: StringProperty(name="File", subtype="FILE_PATH", description="The BVH or FBX file to retarget")
    rig_preset: EnumProperty(name="Preset", description="How Detect maps the selected rig", items=rig_preset_items)
    preset_name: StringProperty(name="Name", description="Name of the rig preset to save", default="my_rig")
    root_motion: EnumProperty(name="Root Motion", items=ROOT_MOTION, default="keep")
    fix_feet: BoolProperty(name="Pin Feet", description="Keep feet still while they touch the ground", default=True)
    lock_feet: BoolProperty(name="Lock Feet", description="Hold feet still while they touch the ground", default=True)
    clamp_limits: BoolProperty(name="Joint Limits", description="Move joints back inside human limits", default=True)
    add_constraints: BoolProperty(name="Limit Rotation Constraints",
                                  description="Also add Limit Rotation constraints from the learned joint limits",
                                  default=False)
    export_preset: EnumProperty(name="Engine", description="Export settings for a game engine",
                                items=export_preset_items)


CLASSES = (LMM_PG_map_row, LMM_PG_rig_map, LMM_PG_settings)


def register() -> None:
    bpy.types.Scene.lmm = PointerProperty(type=LMM_PG_settings)
    bpy.types.Object.lmm_map = PointerProperty(type=LMM_PG_rig_map)


def unregister() -> None:
    del bpy.types.Object.lmm_map
    del bpy.types.Scene.lmm
