"""The Blender side of ``lmm batch``: a worker process that carries out tasks in the bpy module, no window.

Started by ``lmm_core.batch.runner`` as ``python -m addon.batch_worker`` (the repository on
``PYTHONPATH``). It reads one task per line on standard input (the JSON of ``lmm_core.batch.job.Task
.to_worker``) and answers with event lines on standard output, each ``PREFIX`` + JSON: ``ready`` once
(bpy is imported), then per task ``stage`` (what it is doing), ``output`` (one output finished and recorded in the task folder's manifest), then ``done`` or
``failed`` (with the error in one sentence). Everything else Blender prints goes to the same stream and
ends up in the worker's log.

A task, on a fresh scene each time:

1. the character: the built-in mannequin, a BVH rig (its skeleton dressed in capsules), or the armature
   of a ``.blend`` or ``.fbx`` file (the one named by ``armature``, else the only or largest one);
2. the motion: generated, in-betweened, completed, mirrored or read from the input, then retargeted onto
   the character through the canonical body and keyed as a new action (``addon.bridge``);
3. the outputs, each written under a temporary name and renamed, then recorded: exports with the engine
   presets (``addon.engine_export``), the preview render (``addon.preview``) and the plot
   (``lmm_core.plots``).

With ``$LMM_BATCH_PROFILE`` set to a folder, each task runs under cProfile and its statistics are saved
there as ``<task id>.prof``.
"""
from __future__ import annotations

import cProfile
import json
import os
import sys
import time
import traceback
from pathlib import Path

import bpy
import numpy as np

from . import animate, bridge, engine_export, fbx_import, preview
from . import mannequin as mannequin_mesh
from ._core import (LMMError, batch_runner, bonemap, canonical, mannequin, mirror, plots, read_bvh, record_output,
                    retarget, tasks)
from .model import load_file as load_model

PREFIX = batch_runner.PREFIX


def emit(event: str, task: str, **data) -> None:
    sys.stdout.write(PREFIX + json.dumps({"event": event, "task": task, **data}) + "\n")
    sys.stdout.flush()


# ---- the character --------------------------------------------------------------------------------------


class Character:
    """The armature the motion goes on, its skeleton (as the retargeter sees it), bone map and scale."""

    def __init__(self, obj, skeleton, bone_map, scale: float, keep_scene_fps: bool):
        self.obj, self.skeleton, self.bone_map, self.scale = obj, skeleton, bone_map, scale
        self.keep_scene_fps = keep_scene_fps


def _pick_armature(objects, wanted: str | None, where: str):
    armatures = [o for o in objects if o.type == "ARMATURE"]
    if wanted:
        found = [o for o in armatures if o.name == wanted]
        if not found:
            names = ", ".join(sorted(o.name for o in armatures)) or "none"
            raise LMMError(f"{where} has no armature named {wanted!r} (armatures: {names}); fix armature in the job")
        return found[0]
    if not armatures:
        raise LMMError(f"{where} holds no armature; give a character with a rigged mesh, or 'mannequin'")
    most = max(len(o.data.bones) for o in armatures)
    best = [o for o in armatures if len(o.data.bones) == most]
    if len(best) > 1:
        raise LMMError(f"{where} has {len(best)} armatures with {most} bones ({', '.join(o.name for o in best)}); "
                       "name the one to use with armature = \"...\" in the job")
    return best[0]


def load_character(spec: dict) -> Character:
    kind, path = spec["kind"], spec.get("path")
    scene = bpy.context.scene
    if kind == "mannequin":
        obj, _ = mannequin_mesh.add_mannequin("Mannequin", scene)
        skeleton = canonical.canonical_skeleton()
        return Character(obj, skeleton, bonemap.bone_map_for(skeleton, "canonical"), bridge.blender_scale("m", scene),
                         False)
    if kind == "bvh":
        skeleton = read_bvh(path).skeleton
        scale = bridge.blender_scale(skeleton.units, scene)
        obj = bridge.create_armature(skeleton, scale=scale, name=Path(path).name.split(".")[0])
        mannequin_mesh.add_skinned_mesh(obj, mannequin.rig_mesh(skeleton), skeleton, scale=scale,
                                        name=f"{obj.name}Body")
        return Character(obj, skeleton, _bone_map(obj, skeleton, spec.get("map")), scale, False)
    if kind == "blend":
        try:
            bpy.ops.wm.open_mainfile(filepath=path, load_ui=False, use_scripts=False)  # never run a file's scripts
        except RuntimeError as exc:
            raise LMMError(f"{path}: Blender cannot open it ({' '.join(str(exc).split())})") from None
        scene = bpy.context.scene
        obj = _pick_armature(scene.objects, spec.get("armature"), path)
        keep_fps = True
    elif kind == "fbx":
        obj = _pick_armature(fbx_import.import_objects(path), spec.get("armature"), path)
        keep_fps = False
    else:
        raise LMMError(f"unknown character kind {kind!r}")
    if obj.animation_data is not None:
        obj.animation_data.action = None  # read the rest of the rig, not a pose from an old action
    for pose_bone in obj.pose.bones:
        pose_bone.matrix_basis.identity()
    for o in bpy.context.view_layer.objects:
        o.select_set(False)
    bpy.context.view_layer.objects.active = obj
    skeleton = animate.rig_skeleton(obj, scene)
    return Character(obj, skeleton, _bone_map(obj, skeleton, spec.get("map")), bridge.blender_scale("m", scene),
                     keep_fps)


def _bone_map(obj, skeleton, preset: str | None):
    try:
        return bonemap.bone_map_for(skeleton, preset)
    except bonemap.RigMappingError as exc:
        raise LMMError(f"armature {obj.name!r} cannot be mapped to LMM's body ({' '.join(str(exc).split())[:200]}); "
                       "set target_map to a rig preset or a .toml bone map in the job") from None


# ---- the motion ---------------------------------------------------------------------------------------------


def _read_input(item: dict):
    """The input clip (re-posed to rest as its ``rest_frame`` stands, then cut to ``range``) and its bone map."""
    path = item["input"]
    motion = fbx_import.read_motion(bpy.context, path) if path.lower().endswith(".fbx") else read_bvh(path)
    rest = item["params"].get("rest_frame")
    if rest is not None:  # a retarget task's ``rest_frame``: the file's frame numbers, before ``range`` cuts it
        if rest >= motion.num_frames:
            raise LMMError(f"rest_frame {rest} is past the input's last frame {motion.num_frames - 1}; give a frame "
                           "where the character stands (a T-pose best)")
        motion = motion.rest_from(rest)
    bone_map = bonemap.bone_map_for(motion.skeleton, item["params"].get("source_map"),
                                    pose=motion.global_positions()[0])
    if item.get("range"):
        a, b = item["range"]
        if b >= motion.num_frames:
            raise LMMError(f"range [{a}, {b}] runs past the clip's last frame {motion.num_frames - 1}; fix range")
        motion = motion.slice(a, b + 1)
    return motion, bone_map


def _spans(mask: np.ndarray, fps: float) -> list[tuple[float, float]]:
    """Runs of ``True`` in ``mask`` as ``(start, end)`` seconds."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(np.int8), [0]])))
    return [(a / fps, (b - 1) / fps) for a, b in zip(edges[::2], edges[1::2])]


def made_spans(item: dict, motion) -> list[tuple[float, float]]:
    """The time spans (seconds) of ``motion`` that the model made, for the plot."""
    p = item["params"]
    if item["type"] == "inbetween":
        made = np.ones(motion.num_frames, dtype=bool)
        if "keys" in p:
            made[[k for k in p["keys"] if k < motion.num_frames]] = False
        else:
            made[: p["gap"][0] + 1] = made[p["gap"][1]:] = False
        return _spans(made, motion.fps)
    if item["type"] == "complete":
        first = motion.num_frames - p["frames"]
        return [(first / motion.fps, (motion.num_frames - 1) / motion.fps)]
    return []


def make_motion(item: dict, character: Character):
    """The task's motion on ``character`` (retargeted through the canonical body), at the motion's frame rate."""
    kind, p = item["type"], item["params"]
    onto = {"root_motion": "in_place" if p.get("in_place") else "keep", "fix_feet": p.get("fix_feet", True)}
    if kind == "generate":
        goal = {k: (tuple(p[k]) if k == "to" else p[k]) for k in ("to", "facing", "at") if k in p}
        method = p.get("method", tasks.GENERATION_METHODS[0])
        # The next-frame network needs the window model only for a named file (``tasks.generate``).
        window = load_model(item.get("model")) if (item.get("model") or method != "next-frame") else None
        made = tasks.generate(p["action"], p.get("style"), p["seconds"], p["seed"], p.get("variation"), window,
                              method=method, **goal)
        return tasks.from_canonical(made, character.skeleton, character.bone_map, **onto)
    motion, bone_map = _read_input(item)
    made = _made_on_input(item, motion, bone_map)
    return retarget.retarget(made, bone_map, character.skeleton, character.bone_map, **onto)


def _made_on_input(item: dict, motion, bone_map):
    """The motion of a task that has an input, on the input's rig."""
    kind, p = item["type"], item["params"]
    if kind == "retarget":
        return motion
    if kind == "mirror":
        pairs = None if motion.skeleton.pairs else bone_map.side_pairs(motion.skeleton)
        return mirror.mirror_on_rig(motion, pairs)
    model = load_model(item.get("model"))
    if kind == "inbetween":
        if "keys" in p:
            keys = p["keys"]
            if keys[-1] >= motion.num_frames:
                raise LMMError(f"key frame {keys[-1]} is past the clip's last frame {motion.num_frames - 1}; fix keys")
        else:
            a, b = p["gap"]
            if b >= motion.num_frames:
                raise LMMError(f"gap [{a}, {b}] runs past the clip's last frame {motion.num_frames - 1}; fix gap")
            keys = [t for t in range(motion.num_frames) if t <= a or t >= b]
        # A model the job names makes every gap (as `lmm inbetween --model`); without one, auto gives each gap
        # to a shipped network.
        named = model if item.get("model") else None
        return tasks.inbetween(motion, keys, named, source_map=bone_map, action=p.get("action"), style=p.get("style"),
                               method=p.get("method", "auto"), rollouts=p.get("rollouts"))
    if kind == "complete":
        return tasks.complete(motion, p["frames"], model, source_map=bone_map, action=p.get("action"),
                              style=p.get("style"), method=p.get("method", "network"))
    raise LMMError(f"unknown task type {kind!r}")


def _forward(motion, binding) -> np.ndarray | None:
    """Where the character faces on the first frame, Blender world (from its hips), or None."""
    csk = canonical.canonical_skeleton()
    lh, rh = (int(binding.joint_of[csk.names.index(n)]) for n in ("left_hip", "right_hip"))
    if lh < 0 or rh < 0:
        return None
    pos = motion.global_positions()[0]
    up = np.zeros(3)
    up[motion.skeleton.up_index] = 1.0
    forward = np.cross(pos[lh] - pos[rh], up)
    return bridge.to_blender_axes(motion.skeleton.up_axis) @ forward


# ---- one task -----------------------------------------------------------------------------------------------


def fresh_scene() -> None:
    """Blender's factory settings, empty scene: nothing of the previous task is left."""
    bpy.ops.wm.read_factory_settings(use_empty=True)


def run_task(item: dict) -> list[str]:
    """Carry out one task; returns the keys of the outputs made."""
    tid = item["id"]
    folder = Path(item["folder"])
    folder.mkdir(parents=True, exist_ok=True)
    fresh_scene()
    emit("stage", tid, stage="loading the character")
    character = load_character(item["character"])
    scene = bpy.context.scene
    emit("stage", tid, stage=f"{item['type']}")
    result = make_motion(item, character)
    made_by_model = made_spans(item, result)
    fps = item.get("fps") or (bridge.scene_fps(scene) if character.keep_scene_fps else result.fps)
    if abs(result.fps - fps) > 1e-6 * fps:
        result = result.resampled(fps)
    if not character.keep_scene_fps or item.get("fps"):
        bridge.fit_scene_to_motion(scene, result)
    scene.frame_start, scene.frame_end = 1, result.num_frames
    bridge.write_action(character.obj, result, scale=character.scale, frame_start=1, name=tid)
    scene.frame_set(1)
    made = []
    for out in item["outputs"]:
        start = time.perf_counter()
        key = out["key"]
        emit("stage", tid, stage=f"{key}")
        if out["kind"] == "export":
            preset = engine_export.read_preset(Path(out["preset"]))
            engine_export.export(bpy.context, character.obj, preset, str(folder / out["files"][0]), lambda f: None)
            files = out["files"]
        elif out["kind"] == "preview":
            binding = retarget.bind(character.skeleton, character.bone_map)
            preview.setup(scene, result, character.scale, 1, _forward(result, binding), item["preview"])
            files = preview.render_preview(scene, folder, out["files"], 1, result.num_frames, item["preview"])
        elif out["kind"] == "plot":
            binding = retarget.bind(character.skeleton, character.bone_map)
            csk = canonical.canonical_skeleton()
            feet = {n.replace("_", " "): int(binding.joint_of[csk.names.index(n)])
                    for n in ("left_ankle", "right_ankle", "left_toe", "right_toe")
                    if binding.joint_of[csk.names.index(n)] >= 0}
            who = "the mannequin" if item["character"]["kind"] == "mannequin" else Path(
                item["character"]["path"]).name
            plots.plot_motion(result, feet, folder / out["files"][0], title=f"{tid}: {item['type']} on {who}",
                               made=made_by_model)
            files = out["files"]
        else:
            raise LMMError(f"unknown output kind {out['kind']!r}")
        record_output(folder, item["fingerprint"], key, files, time.perf_counter() - start)
        emit("output", tid, key=key)
        made.append(key)
    return made


def serve(stdin=None) -> int:
    """Read tasks from ``stdin`` until it closes; every task ends in a ``done`` or ``failed`` event."""
    stdin = stdin or sys.stdin
    profile_dir = os.environ.get("LMM_BATCH_PROFILE")
    emit("ready", "", pid=os.getpid(), blender=bpy.app.version_string)
    for line in stdin:
        if not line.strip():
            continue
        item = json.loads(line)
        tid = item.get("id", "?")
        start = time.perf_counter()
        profiler = cProfile.Profile() if profile_dir else None
        try:
            if profiler:
                profiler.enable()
            try:
                made = run_task(item)
            finally:
                if profiler:
                    profiler.disable()
                    profiler.dump_stats(str(Path(profile_dir) / f"{tid}.prof"))
            emit("done", tid, seconds=time.perf_counter() - start, made=made)
        except LMMError as exc:
            print(f"task {tid} failed: {exc}", flush=True)
            emit("failed", tid, seconds=time.perf_counter() - start, error=str(exc))
        except Exception as exc:  # a bug, or Blender refusing something: the next task still runs
            traceback.print_exc(file=sys.stdout)
            sys.stdout.flush()
            emit("failed", tid, seconds=time.perf_counter() - start,
                 error=f"internal error {type(exc).__name__}: {' '.join(str(exc).split())[:300]} (traceback in the log)")
    return 0


if __name__ == "__main__":
    sys.exit(serve())
