"""The add-on's operators: each is a few lines that call ``lmm_core`` through ``bridge``.

``bridge``, the work modules (``animate``, ``mapping``, ``model``, ``engine_export``) and ``_core`` (numpy, the
core) are imported inside ``execute``, as Blender's own importers do, so enabling the add-on stays instant.
Every operator can be undone, shows window-manager progress while it works, and turns an ``LMMError`` (a bad
file, nothing selected, ...) into one reported sentence, not a traceback.
"""
# No "from __future__ import annotations": Blender reads property annotations as live objects.
from pathlib import Path
from typing import Callable

import bpy
from bpy.props import BoolProperty, EnumProperty, FloatProperty, IntProperty, StringProperty
from bpy_extras.io_utils import ExportHelper, ImportHelper

from .properties import ROOT_MOTION, export_preset_items, rig_preset_items

_BVH_GLOB = "*.bvh;*.bvh.gz;*.bvh.xz"

_UNITS = (
    ("m", "Metres", "Lengths in the file are metres"),
    ("cm", "Centimetres", "Lengths in the file are centimetres (LAFAN1, Bandai, Mixamo)"),
    ("mm", "Millimetres", "Lengths in the file are millimetres"),
    ("in", "Inches", "Lengths in the file are inches"),
)

_FIT_SCENE = "Set the scene's frame range to the new clip's (else the scene's range is left as it is)"
_FROM_CHARACTER = ("Start where the character stands on the current frame, facing its way (else where the motion "
                   "was made or recorded)")

_ORDERS = tuple((o, o.upper(), f"Rotation channels {o.upper()} on every joint") for o in ("zyx", "xyz", "yxz", "yzx", "zxy", "xzy"))


# lmm_core's errors name the command line's options (they are shared with `lmm ...`); in Blender the same
# settings carry their panel names. Longest first, so "--method next-frame" is not read as "--method".
_PANEL_NAMES = (("--method next-frame", "Method Next Frame"), ("--method network", "Method Window Network"),
                ("--method auto", "Method Auto"), ("--method", "Method"), ("--variation", "Variation"),
                ("--seconds", "Seconds"), ("--frames", "Frames"))


def error_text(exc: Exception) -> str:
    """An ``LMMError`` as one line for Blender's report, the command line's option names turned into the panel's."""
    text = " ".join(str(exc).split())
    for flag, name in _PANEL_NAMES:
        text = text.replace(flag, name)
    return text


def _run(
    op: bpy.types.Operator,
    context: bpy.types.Context,
    work: Callable[[Callable[[float], None]], str],
    status: str | None = None,
) -> set[str]:
    """Run ``work(progress)`` with window-manager progress (0 to 1) and ``status`` in the status bar, and
    report its result sentence.

    An ``LMMError`` is the user's problem and becomes one ``ERROR`` report (one line) and ``CANCELLED``;
    any other exception is a bug and propagates with its traceback.
    """
    from ._core import LMMError

    wm = context.window_manager
    workspace = getattr(context, "workspace", None)
    if status and workspace is not None:
        workspace.status_text_set(status)
    wm.progress_begin(0.0, 1.0)
    try:
        message = work(wm.progress_update)
    except LMMError as exc:
        op.report({"ERROR"}, error_text(exc))
        return {"CANCELLED"}
    finally:
        wm.progress_end()
        if status and workspace is not None:
            workspace.status_text_set(None)
    op.report({"INFO"}, message)
    return {"FINISHED"}


def selected_armature(context: bpy.types.Context) -> bpy.types.Object:
    """The active object if it is an armature, else the one selected armature; an ``LMMError`` otherwise."""
    from ._core import LMMError

    obj = context.active_object
    if obj is not None and obj.type == "ARMATURE":
        return obj
    armatures = [o for o in context.selected_objects if o.type == "ARMATURE"]
    if len(armatures) == 1:
        return armatures[0]
    if armatures:
        raise LMMError("several armatures are selected; click the one to use so that it is the active object")
    raise LMMError("no armature selected; select the character's armature in the viewport and try again")


def _motion_name(filepath: str) -> str:
    """``walk_01`` from ``/data/walk_01.bvh.xz``."""
    name = Path(filepath).name
    for suffix in (".gz", ".xz", ".bvh"):
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
    return name or "Motion"


class LMM_OT_import_bvh(bpy.types.Operator, ImportHelper):
    """Import a BVH motion file as a new armature with its action"""

    bl_idname = "lmm.import_bvh"
    bl_label = "Import BVH"
    bl_options = {"REGISTER", "UNDO"}

    filename_ext = ".bvh"
    filter_glob: StringProperty(default=_BVH_GLOB, options={"HIDDEN"})
    units: EnumProperty(
        name="File Units",
        items=(("AUTO", "Automatic", "Guess the file's units from the performer's leg length"),) + _UNITS,
        default="AUTO",
    )
    scale: FloatProperty(
        name="Scale", description="Extra factor on lengths after converting the file's units to metres",
        default=1.0, min=1e-6, soft_min=0.001, soft_max=1000.0,
    )
    update_scene: BoolProperty(
        name="Update Scene", description="Set the scene's frame rate and frame range to the motion's", default=True,
    )

    def execute(self, context):
        from . import bridge
        from ._core import read_bvh

        def work(progress):
            scene = context.scene
            motion = read_bvh(self.filepath, units=None if self.units == "AUTO" else self.units)
            progress(0.05)
            scale = bridge.blender_scale(motion.skeleton.units, scene) * self.scale
            obj = bridge.armature_from_motion(
                motion, scale=scale, name=_motion_name(self.filepath), frame_start=scene.frame_start, progress=progress
            )
            if self.update_scene:  # only once the import has worked: a cancelled operator is not undone
                bridge.fit_scene_to_motion(scene, motion, scene.frame_start)
            note = ""
            if abs(bridge.scene_fps(scene) - motion.fps) > 1e-6 * motion.fps:
                note = f"; the scene runs at {bridge.scene_fps(scene):g} fps, so it plays at another speed"
            return (f"Imported {obj.name!r}: {motion.skeleton.num_joints} bones, {motion.num_frames} frames "
                    f"at {motion.fps:g} fps, units {motion.skeleton.units}{note}")

        return _run(self, context, work, "LMM: importing BVH...")


class LMM_OT_export_bvh(bpy.types.Operator, ExportHelper):
    """Export the selected armature's animation to a BVH motion file"""

    bl_idname = "lmm.export_bvh"
    bl_label = "Export BVH"
    bl_options = {"REGISTER", "UNDO"}

    filename_ext = ".bvh"
    filter_glob: StringProperty(default=_BVH_GLOB, options={"HIDDEN"})
    units: EnumProperty(name="File Units", items=_UNITS, default="m")
    rotation_order: EnumProperty(name="Rotation Order", items=_ORDERS, default="zyx")
    frame_range: EnumProperty(
        name="Frames",
        items=(
            ("ACTION", "Action", "The frames of the armature's action"),
            ("SCENE", "Scene", "The scene's frame range"),
        ),
        default="ACTION",
    )

    def invoke(self, context, event):
        obj = context.active_object
        if not self.filepath and obj is not None:
            self.filepath = bpy.path.clean_name(obj.name) + self.filename_ext
        return super().invoke(context, event)

    def execute(self, context):
        from . import bridge, engine_export
        from ._core import LMMError, write_bvh

        def work(progress):
            scene = context.scene
            obj = selected_armature(context)
            frames = (scene.frame_start, scene.frame_end) if self.frame_range == "SCENE" else None
            action = obj.animation_data.action if obj.animation_data else None
            if frames is None and action is not None and engine_export.key_count(obj) == 0:
                raise LMMError(f"action {action.name!r} of {obj.name!r} has no keys, so its frames are not known; key "
                               "the animation, or export the scene's frame range (Frames: Scene)")
            motion = bridge.motion_from_armature(
                obj, scale=bridge.blender_scale(self.units, scene), units=self.units, frame_range=frames,
                progress=progress,
            )
            path = write_bvh(motion, self.filepath, order=self.rotation_order)
            return f"Exported {obj.name!r} to {path.name}: {motion.skeleton.num_joints} bones, {motion.num_frames} frames"

        return _run(self, context, work, "LMM: exporting BVH...")


# ---- the animator's panel -----------------------------------------------------------------------------
# Each operator reads the selected armature and hands the work to ``animate`` (or ``engine_export``), which
# is imported inside ``execute`` with numpy and the core.


class _FrameRange:
    """Operator properties for an optional frame range (default: the scene's, or the action's).

    A custom range whose frames were never given (a script passing only ``use_range=True``) is that default
    too, not a fixed 1-250."""

    use_range: BoolProperty(name="Custom Range", description="Use the frames below", default=False)
    frame_start: IntProperty(name="Start", default=0)
    frame_end: IntProperty(name="End", default=0)

    def chosen_range(self, context, default_to_scene: bool) -> "tuple[int, int] | None":
        from ._core import LMMError

        given = self.properties.is_property_set("frame_start") or self.properties.is_property_set("frame_end")
        if self.use_range and given:
            first, last = self.frame_start, self.frame_end
        elif default_to_scene:
            first, last = context.scene.frame_start, context.scene.frame_end
        else:
            return None
        if last < first:
            raise LMMError(f"the frame range {first}-{last} is empty; set an end frame after the start frame")
        return first, last


class _KeyOptions:
    """Operator properties for how In-between and Extend key the rig, and for a draw of a sampling model."""

    tolerance: FloatProperty(name="Tolerance (mm)", description="Sparse keys play the made motion back within this "
                             "distance at the feet, hands and head", default=0.9, min=0.01, soft_max=20.0)
    every_frame: BoolProperty(name="Every Frame", description="A key on every new frame instead of sparse keys",
                              default=False)
    selected_only: BoolProperty(name="Selected Bones Only", description="Key only the selected bones; the others "
                                "keep their curves", default=False)
    seed: IntProperty(name="Seed", description="Which draw of a sampling model (Re-roll takes the next)", default=0,
                      min=0)
    variation: FloatProperty(name="Variation", description="With a sampling model, how freely it draws (0: its one "
                             "deterministic answer)", default=0.0, min=0.0, max=1.0, subtype="FACTOR")

    def key_options(self):
        from .animate import KeyOptions

        return KeyOptions(tolerance=self.tolerance / 1000.0, every_frame=self.every_frame,
                          selected_only=self.selected_only, seed=self.seed, variation=self.variation)


class _Modal:
    """Long work as a modal operator: progress in the status bar, Esc to cancel with nothing changed.

    ``job(context, report)`` returns a ``jobs.Job`` (``report`` hears its progress). ``start`` steps it from a
    timer (Blender stays responsive); ``execute`` (scripts, the redo panel, Repeat Last) runs it at once.
    """

    status = "LMM: working..."
    cancelled_note = "Cancelled; the action is as it was"
    running = None  # what the modal job under way is doing, or None (class-wide: one job at a time)

    def job(self, context, report=None):
        raise NotImplementedError

    def execute(self, context):
        return _run(self, context, lambda progress: self.job(context, progress).run(), self.status)

    def start(self, context):
        """Run the job in steps from a timer; all at once where there is no window to hold one."""
        from ._core import LMMError

        wm = context.window_manager
        if context.window is None:  # no window to hold a timer (a script, the background): all at once
            return _Modal.execute(self, context)
        if _Modal.running is not None:  # one at a time: two jobs would key the same action, or fight over the CPU
            self.report({"ERROR"}, f"LMM is still working ({_Modal.running}); wait for it, or press Esc to stop it")
            return {"CANCELLED"}
        try:
            self._job = self.job(context, wm.progress_update)
        except LMMError as exc:
            self.report({"ERROR"}, error_text(exc))
            return {"CANCELLED"}
        wm.progress_begin(0.0, 1.0)
        self._say(context, 0.0)
        _Modal.running = self.status.removeprefix("LMM: ").rstrip(".")
        self._timer = wm.event_timer_add(0.01, window=context.window)
        wm.modal_handler_add(self)
        return {"RUNNING_MODAL"}

    def invoke(self, context, event):
        return self.start(context)

    def _say(self, context, fraction: float) -> None:
        workspace = getattr(context, "workspace", None)
        if workspace is not None:
            workspace.status_text_set(f"{self.status} {100 * fraction:.0f}% (Esc to cancel)")

    def _end(self, context) -> None:
        _Modal.running = None
        wm = context.window_manager
        wm.event_timer_remove(self._timer)
        wm.progress_end()
        workspace = getattr(context, "workspace", None)
        if workspace is not None:
            workspace.status_text_set(None)

    def cancel(self, context):
        """Blender ends the modal itself (a file opened, the window closed): stop the job, nothing written."""
        self._job.cancel()
        self._end(context)

    def modal(self, context, event):
        from ._core import LMMError

        if event.type == "ESC":
            self._job.cancel()
            self._end(context)
            self.report({"WARNING"}, self.cancelled_note)
            return {"CANCELLED"}
        if event.type != "TIMER":
            return {"PASS_THROUGH"}
        try:
            done = self._job.step(0.05)  # a twentieth of a second of work, then Blender redraws
        except LMMError as exc:
            self._end(context)
            self.report({"ERROR"}, error_text(exc))
            return {"CANCELLED"}
        except BaseException:
            self._end(context)
            raise
        if not done:
            self._say(context, self._job.progress)
            return {"RUNNING_MODAL"}
        self._end(context)
        self.report({"INFO"}, self._job.message or "")
        return {"FINISHED"}


class _Steps(_Modal):
    """A modal job on the selected armature's animation.

    ``work(context, obj)`` returns a job generator (``jobs``): it reads and computes in steps and returns
    the ``finish`` that writes. With ``preview`` ticked, ``finish`` runs on a trial action (``proposal``).
    ``trial_copy``: the work adds keys to the rig's action (the trial is a copy of it), or assigns a new
    action.
    """

    preview: BoolProperty(name="Preview", description="Show the result on a trial action first; Apply, Discard or "
                          "Re-roll it in the panel", default=False)
    trial_copy = True

    def work(self, context, obj):
        raise NotImplementedError

    def job(self, context, report=None):
        from . import jobs, proposal

        obj = selected_armature(context)
        work = self.work(context, obj)
        if self.preview:
            props = self.properties
            arguments = {k: getattr(props, k) for k in props.bl_rna.properties.keys() if k != "rna_type"}
            name = self.bl_idname.split("_OT_", 1)[-1].split(".", 1)[-1].lower()  # "LMM_OT_inbetween": "inbetween"

            def on_trial(inner):
                finish = yield from inner
                return lambda: proposal.show(obj, finish, self.trial_copy, name, arguments)

            work = on_trial(work)
        return jobs.Job(work, report)


INBETWEEN_METHODS = [  # numbered as the panel's setting (properties.py): Auto came last
    ("AUTO", "Auto", "With the shipped model, each gap to one network: Window Network for gaps of over 30 frames (at "
     "30 fps) after three or more keyed frames in a row (motion to carry on), Next Frame for blocking keys, shorter "
     "gaps and any draw. With a Model File set in Preferences, that model makes every gap", 2),
    ("NETWORK", "Window Network", "The model in Preferences fills each stretch between keys at once", 0),
    ("NEXT_FRAME", "Next Frame", "The shipped next-frame in-betweener steps from key to key, one frame at a time: "
     "feet that plant and step over long gaps where the window network glides", 1),
]
_METHOD_NAMES = {"AUTO": "auto", "NETWORK": "network", "NEXT_FRAME": "next-frame"}
GENERATE_METHODS = [  # numbered as the panel's setting (properties.py): Segments came first
    ("NEXT_FRAME", "Next Frame", "The shipped next-frame network alone, one frame at a time (no recorded motion); "
     "it can walk to the 3D cursor", 1),
    ("SEGMENTS", "Segments", "The model in Preferences: recorded segments of the action, joined by its network", 0),
]
_GENERATE_NAMES = {"SEGMENTS": "segments", "NEXT_FRAME": "next-frame"}
_VARIATION = ("Next Frame: how far each frame's draw strays from the network's likeliest (1: the spread it learned; 0: "
              "one motion per seed's start). Segments: the chance at each join of switching to another recorded "
              "segment of the action rather than repeating one")
_WALK_TO = ("With Next Frame: walk from where the character stands to the 3D cursor at the action's own pace; the "
            "clip ends on arrival (Seconds is not used)")


class LMM_OT_inbetween(_FrameRange, _KeyOptions, _Steps, bpy.types.Operator):
    """Fill the frames between the selected armature's keyed poses with the model's motion (keys stay as they are)"""

    bl_idname = "lmm.inbetween"
    bl_label = "In-between"
    bl_options = {"REGISTER", "UNDO"}
    status = "LMM: in-betweening..."

    method: EnumProperty(name="Method", description="What makes the frames between the keys", items=INBETWEEN_METHODS,
                         default="AUTO")
    rollouts: IntProperty(name="Rollouts", description="How many ways the next-frame in-betweener rolls each gap of 20 frames or more, keeping the one whose feet stay planted best: more is steadier feet and slower, 1 the fastest; 0: automatic (8 for gaps under 45 frames, 16 from 45)", default=0, min=0, max=64)

    def work(self, context, obj):
        from dataclasses import replace

        from . import animate, model

        frames = self.chosen_range(context, default_to_scene=True)
        opts = replace(self.key_options(), method=_METHOD_NAMES[self.method], rollouts=self.rollouts or None)
        # Next Frame brings its own network: a missing or broken Model File in Preferences must not stop it. Auto
        # takes a Model File set there as the user's choice for every gap, as `lmm inbetween --model` does;
        # without one it gives each gap to a shipped network (``tasks.inbetween``).
        chosen = opts.method == "network" or (opts.method == "auto" and model.chosen(context))
        model.apply_threads(context)
        loaded = model.load(context) if chosen else None
        return animate.inbetween(context, obj, loaded, frames, opts)


class LMM_OT_extend(_KeyOptions, _Steps, bpy.types.Operator):
    """Continue the selected armature's action past its last key with the model's motion"""

    bl_idname = "lmm.extend"
    bl_label = "Extend"
    bl_options = {"REGISTER", "UNDO"}

    frames: IntProperty(name="Frames", description="How many frames to add after the last key", default=30, min=1,
                        soft_max=600)

    status = "LMM: extending..."

    def work(self, context, obj):
        from . import animate, model

        return animate.extend(context, obj, model.load(context), self.frames, self.key_options())


class LMM_OT_generate(_Steps, bpy.types.Operator):
    """Make new motion with the model (an action in a style) as a new action on the selected armature"""

    bl_idname = "lmm.generate"
    bl_label = "Generate"
    bl_options = {"REGISTER", "UNDO"}

    action: StringProperty(name="Action", description="One of the model's actions (e.g. walk)")
    style: StringProperty(name="Style", description="One of the model's styles; empty for any")
    seconds: FloatProperty(name="Seconds", default=4.0, min=0.1, soft_max=60.0)
    seed: IntProperty(name="Seed", default=0, min=0)
    variation: FloatProperty(name="Variation", description=_VARIATION, default=1.0, min=0.0, max=1.0, subtype="FACTOR")
    fit_scene: BoolProperty(name="Fit Scene Range", description=_FIT_SCENE, default=False)
    from_character: BoolProperty(name="From Where It Stands", description=_FROM_CHARACTER, default=True)
    method: EnumProperty(name="Method", description="What makes the motion", items=GENERATE_METHODS, default="NEXT_FRAME")
    walk_to_cursor: BoolProperty(name="Walk To 3D Cursor", description=_WALK_TO, default=False)

    status = "LMM: generating..."
    trial_copy = False  # a new action: on trial, the old one comes back on Discard

    def work(self, context, obj):
        from . import animate, model

        # Next Frame brings its own network: a missing or broken Model File in Preferences must not stop it.
        model.apply_threads(context)
        loaded = model.load(context) if self.method == "SEGMENTS" else None
        yield 0.0  # the clip is made and written in one step (a few seconds of motion: well under a second)
        walk_to = tuple(context.scene.cursor.location) if self.walk_to_cursor else None
        return lambda: animate.generate(context, obj, loaded, self.action, self.style, self.seconds, self.seed,
                                        self.variation, self.fit_scene, lambda f: None, self.from_character,
                                        _GENERATE_NAMES[self.method], walk_to)


class LMM_OT_map_detect(bpy.types.Operator):
    """Map the selected armature's bones to LMM's body (with a preset, or automatically) into the editable list"""

    bl_idname = "lmm.map_detect"
    bl_label = "Detect Mapping"
    bl_options = {"REGISTER", "UNDO"}

    preset: EnumProperty(name="Preset", items=rig_preset_items)

    def execute(self, context):
        def work(progress):
            from . import animate, mapping

            obj = selected_armature(context)
            skeleton = animate.rig_skeleton(obj, context.scene)
            bone_map = mapping.rig_bone_map(obj, skeleton, preset=self.preset or mapping.AUTO)
            mapping.fill(obj, bone_map)
            unsure = [j for j, c in bone_map.confidence.items() if c < 0.7]
            note = f"; check {', '.join(unsure)}" if unsure else ""
            return f"Mapped {len(bone_map.bones)} of 22 body joints of {obj.name!r} ({bone_map.source}){note}"

        return _run(self, context, work)


class LMM_OT_map_save(bpy.types.Operator):
    """Save the selected armature's bone map list as a rig preset in your Blender config folder"""

    bl_idname = "lmm.map_save"
    bl_label = "Save Preset"
    bl_options = {"REGISTER", "UNDO"}

    name: StringProperty(name="Name", default="my_rig")

    def execute(self, context):
        def work(progress):
            from . import mapping

            path = mapping.save_preset(selected_armature(context), self.name)
            return f"Saved rig preset {path.stem!r} to {path}"

        return _run(self, context, work)


class LMM_OT_retarget(bpy.types.Operator):
    """Copy another armature's animation, or a BVH or FBX file, onto the selected armature as a new action"""

    bl_idname = "lmm.retarget"
    bl_label = "Retarget"
    bl_options = {"REGISTER", "UNDO"}

    source: StringProperty(name="Source Armature", description="Name of the armature to copy from")
    filepath: StringProperty(name="File", description="A BVH or FBX file to copy from (instead of an armature)",
                             subtype="FILE_PATH")
    root_motion: EnumProperty(name="Root Motion", items=ROOT_MOTION, default="keep")
    fix_feet: BoolProperty(name="Pin Feet", default=True)
    fit_scene: BoolProperty(name="Fit Scene Range", description=_FIT_SCENE, default=False)
    from_character: BoolProperty(name="From Where It Stands", description=_FROM_CHARACTER, default=True)

    def execute(self, context):
        def work(progress):
            from . import animate
            from ._core import LMMError

            obj = selected_armature(context)
            source = bpy.data.objects.get(self.source) if self.source else None
            if self.source and source is None:
                raise LMMError(f"there is no object named {self.source!r}; pick the source armature again")
            if source is obj and not self.filepath:
                raise LMMError("the source is the selected armature itself; pick another armature or a BVH file")
            motion, source_map = animate.source_motion(context, source, self.filepath, lambda f: progress(0.3 * f))
            name = _motion_name(self.filepath) if self.filepath else source.name
            return animate.retarget_onto(context, obj, motion, source_map, name, self.root_motion, self.fix_feet,
                                         self.fit_scene, lambda f: progress(0.3 + 0.7 * f), self.from_character)

        return _run(self, context, work, "LMM: retargeting...")


class LMM_OT_mirror(_FrameRange, bpy.types.Operator):
    """Mirror the selected armature's action (or a frame range) left to right into a new action"""

    bl_idname = "lmm.mirror"
    bl_label = "Mirror"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context):
        def work(progress):
            from . import animate

            obj = selected_armature(context)
            return animate.mirror(context, obj, self.chosen_range(context, default_to_scene=False), progress)

        return _run(self, context, work, "LMM: mirroring...")


class LMM_OT_clean_up(_FrameRange, _Steps, bpy.types.Operator):
    """Lock feet while they touch the ground and keep joints within human limits (into a new action)"""

    bl_idname = "lmm.clean_up"
    bl_label = "Clean Up"
    bl_options = {"REGISTER", "UNDO"}

    lock_feet: BoolProperty(name="Lock Feet", default=True)
    clamp_limits: BoolProperty(name="Joint Limits", default=True)
    add_constraints: BoolProperty(name="Limit Rotation Constraints", default=False)

    selected_only: BoolProperty(name="Selected Bones Only", description="Clean up only the selected bones; the "
                                "others keep their motion", default=False)
    status = "LMM: cleaning up..."
    trial_copy = False  # a new action

    def work(self, context, obj):
        from . import animate

        frames = self.chosen_range(context, default_to_scene=False)
        yield 0.0
        return lambda: animate.clean_up(context, obj, frames, self.lock_feet, self.clamp_limits, self.add_constraints,
                                        lambda f: None, selected_only=self.selected_only)


class LMM_OT_export_engine(bpy.types.Operator):
    """Export the selected armature's action as one clip for a game engine (settings from presets/export)"""

    bl_idname = "lmm.export_engine"
    bl_label = "Export for Engine"
    bl_options = {"REGISTER", "UNDO"}

    preset: EnumProperty(name="Engine", items=export_preset_items)
    filepath: StringProperty(name="File", subtype="FILE_PATH")
    filter_glob: StringProperty(default="*.fbx;*.glb;*.gltf;*.bvh", options={"HIDDEN"})

    def _extension(self) -> str:
        from . import engine_export

        preset = engine_export.presets().get(self.preset)
        return preset.extension if preset else ""

    def invoke(self, context, event):
        obj = context.active_object
        if not self.filepath:
            folder = Path(bpy.path.abspath("//")) if bpy.data.filepath else Path.home()
            self.filepath = str(folder / (bpy.path.clean_name(obj.name if obj else "motion") + self._extension()))
        context.window_manager.fileselect_add(self)
        return {"RUNNING_MODAL"}

    def check(self, context):
        from . import engine_export

        preset = engine_export.presets().get(self.preset)
        if preset is not None and self.filepath and not self.filepath.lower().endswith(preset.extension.lower()):
            self.filepath = str(engine_export.output_path(self.filepath, preset))
            return True
        return False

    def execute(self, context):
        def work(progress):
            from . import engine_export
            from ._core import LMMError

            obj = selected_armature(context)
            preset = engine_export.presets().get(self.preset)
            if preset is None:
                raise LMMError(f"no export preset {self.preset!r}; the presets are in {engine_export.preset_dir()}")
            if not self.filepath:
                raise LMMError("choose a file to export to")
            return engine_export.export(context, obj, preset, self.filepath, progress)

        return _run(self, context, work, "LMM: exporting...")


class LMM_OT_preview_apply(bpy.types.Operator):
    """Keep the previewed result: it becomes the armature's action"""

    bl_idname = "lmm.preview_apply"
    bl_label = "Apply"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context):
        from . import proposal

        return _run(self, context, lambda progress: proposal.apply(selected_armature(context)))


class LMM_OT_preview_discard(bpy.types.Operator):
    """Drop the previewed result: the armature's action is as it was"""

    bl_idname = "lmm.preview_discard"
    bl_label = "Discard"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context):
        from . import proposal

        return _run(self, context, lambda progress: proposal.discard(selected_armature(context)))


class LMM_OT_preview_reroll(bpy.types.Operator):
    """Drop the previewed result and make another draw with the next seed (a sampling model's In-between and
    Extend; Generate's recorded segments)"""

    bl_idname = "lmm.preview_reroll"
    bl_label = "Re-roll"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context):
        from . import model, proposal
        from ._core import LMMError

        obj = None
        try:
            obj = selected_armature(context)
            trial = proposal.pending(obj)
            if trial is None:
                raise LMMError(f"{obj.name!r} has no preview to re-roll; run an operator with Preview ticked first")
            if "seed" not in trial.arguments:
                raise LMMError(f"{trial.operator.replace('_', ' ').title()} makes one answer, not draws; Apply or "
                               "Discard its preview")
            arguments = dict(trial.arguments, seed=trial.arguments["seed"] + 1, preview=True)
            # Next Frame draws whatever the Preferences model; so does Auto, which takes it for any draw.
            next_frame = trial.arguments.get("method") in ("NEXT_FRAME", "AUTO")
            if trial.operator in ("inbetween", "extend"):
                if not next_frame and not model.load(context).samples:
                    raise LMMError("the model in Preferences does not sample, so every seed gives the same motion; "
                                   "set Model File to a sampling model (lmm train --sampling or --modes) to re-roll")
                arguments["variation"] = arguments.get("variation") or 1.0  # a draw, at the model's own spread
        except LMMError as exc:
            self.report({"ERROR"}, error_text(exc))
            return {"CANCELLED"}
        proposal.discard(obj)
        run = getattr(bpy.ops.lmm, trial.operator)
        return run("INVOKE_DEFAULT" if context.window is not None else "EXEC_DEFAULT", **arguments)


def menu_import(self, context):
    self.layout.operator(LMM_OT_import_bvh.bl_idname, text="Motion BVH (LMM) (.bvh)")


def menu_export(self, context):
    self.layout.operator(LMM_OT_export_bvh.bl_idname, text="Motion BVH (LMM) (.bvh)")


CLASSES = (
    LMM_OT_import_bvh, LMM_OT_export_bvh, LMM_OT_inbetween, LMM_OT_extend, LMM_OT_generate, LMM_OT_map_detect,
    LMM_OT_map_save, LMM_OT_retarget, LMM_OT_mirror, LMM_OT_clean_up, LMM_OT_export_engine, LMM_OT_preview_apply,
    LMM_OT_preview_discard, LMM_OT_preview_reroll,
)
MENUS = (("TOPBAR_MT_file_import", menu_import), ("TOPBAR_MT_file_export", menu_export))
