"""Control rigs in real headless Blender (issue 20): a Rigify rig generated from the human metarig.

- Deforming-bone error of motion written through the controls: a real clip (LAFAN1 walk4_subject1, or the
  shipped CMU excerpt without ../shared) retargeted onto the rig, keyed on its FK controls by the bridge
  (``write_action``), read back from its DEF bones: joint position error (cm, max and mean over frames
  and joints), orientation error (degrees) of the limbs and of every joint, and the time per frame.
- In-between on the rig: two FK poses keyed 60 frames apart, the operator's wall time with the shipped
  default model (median of 3 runs on fresh copies of the rig).

Prints the figures (BENCHMARKS.md gets a paragraph by hand). Usage:
    python benchmarks/control_rig.py [--data ../shared/data] [--frames 300]
"""
from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]

import bpy  # noqa: E402  (before addon_utils, which ships with it)
import addon_utils  # noqa: E402
from mathutils import Quaternion  # noqa: E402

LEGS = ("thigh_parent.L", "thigh_parent.R", "upper_arm_parent.L", "upper_arm_parent.R")


def _rig_file(folder: Path) -> Path:
    bpy.ops.wm.read_factory_settings(use_empty=True)
    addon_utils.enable("rigify", default_set=True)
    bpy.ops.object.armature_human_metarig_add()
    bpy.ops.pose.rigify_generate()
    path = folder / "rigify.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(path), copy=True)
    return path


def _open(path: Path):
    bpy.ops.wm.open_mainfile(filepath=str(path))
    addon_utils.enable("addon", default_set=True)  # the repository's add-on, with its preferences
    obj = bpy.data.objects["rig"]
    for other in bpy.context.view_layer.objects:
        other.select_set(False)
    obj.select_set(True)
    bpy.context.view_layer.objects.active = obj
    return obj


def write_read(path: Path, clip: Path, frames: int) -> None:
    from addon import animate, bridge, mapping
    from lmm_core import bonemap, read_bvh, retarget
    from lmm_core import rotations as R

    rig = _open(path)
    scene = bpy.context.scene
    source = read_bvh(clip)
    skeleton = animate.rig_skeleton(rig, scene)
    motion = retarget.retarget(source, bonemap.bone_map_for(source.skeleton, pose=source.global_positions()[0]),
                               skeleton, mapping.rig_bone_map(rig, skeleton))
    motion = motion.slice(0, min(frames, motion.num_frames))
    start = time.perf_counter()
    bridge.write_action(rig, motion, scale=1.0, frame_start=1)
    took = time.perf_counter() - start
    back = animate.read(rig, scene, (1, motion.num_frames))
    error = np.linalg.norm(back.global_positions() - motion.global_positions(), axis=-1) * 100
    turn = np.degrees(R.angle(R.inv_mul(back.fk()[0], motion.fk()[0])))
    names = back.skeleton.names
    limbs = [names.index(n) for n in names if n.startswith(("DEF-forearm", "DEF-shin", "DEF-hand", "DEF-foot",
                                                            "DEF-toe", "DEF-shoulder"))]
    worst = {n: round(float(v), 2) for n, v in zip(names, turn.max(axis=0)) if v > 0.1}
    print(f"{clip.name}: {motion.num_frames} frames at {motion.fps:g} fps, written through the controls in "
          f"{took:.2f} s ({1000 * took / motion.num_frames:.1f} ms/frame)")
    print(f"  DEF joint position error: max {error.max():.4f} cm, mean {error.mean():.5f} cm")
    print(f"  orientation error: forearms, shins, hands, feet, toes, collars max {turn[:, limbs].max():.3f} deg; "
          f"over 0.1 deg: {worst}")


def inbetween_time(path: Path, runs: int = 3) -> None:
    times = []
    for _ in range(runs):
        rig = _open(path)
        for bone in LEGS:
            rig.pose.bones[bone]["IK_FK"] = 1.0
        for frame, angle, forward in ((1, 0.0, 0.0), (61, 0.5, -0.6)):
            for name, axis in (("thigh_fk.L", (1, 0, 0)), ("thigh_fk.R", (1, 0, 0)), ("shin_fk.L", (1, 0, 0)),
                               ("upper_arm_fk.L", (0, 1, 0)), ("torso", (0, 0, 1))):
                pb = rig.pose.bones[name]
                pb.rotation_quaternion = Quaternion(axis, angle if name != "thigh_fk.R" else -angle)
                pb.keyframe_insert("rotation_quaternion", frame=frame)
            rig.pose.bones["torso"].location = (0.0, 0.0, forward)
            rig.pose.bones["torso"].keyframe_insert("location", frame=frame)
        start = time.perf_counter()
        assert bpy.ops.lmm.inbetween(method="NETWORK") == {"FINISHED"}  # the window network, as measured
        times.append(time.perf_counter() - start)
    print(f"In-between, 60-frame gap on the Rigify rig (shipped default model): median {np.median(times):.2f} s "
          f"over {runs} runs ({', '.join(f'{t:.2f}' for t in times)})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--frames", type=int, default=300)
    args = parser.parse_args()
    clip = args.data / "lafan1" / "walk4_subject1.bvh.xz"
    if not clip.is_file():
        clip = ROOT / "tests" / "data" / "cmu_131_03_hop_excerpt.bvh.xz"
    with tempfile.TemporaryDirectory() as folder:
        path = _rig_file(Path(folder))
        write_read(path, clip, args.frames)
        inbetween_time(path)


if __name__ == "__main__":
    main()
