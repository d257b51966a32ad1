"""The add-on's keys and long work, in real headless Blender (issue 20's measures).

Every In-between here is Method Window Network (the shipped default model), the figures' method since issue 20;
the panel's default since 2026-12-06 is Auto (next-frame in-betweener for blocking keys).

- Blender's human metarig keyed on two poses 55 frames apart, In-between with the shipped default model:
  keys written (sparse at several tolerances, every frame) and the worst distance of the feet, hands and head
  (heads and tails of foot, toe, hand, head) from the every-frame result, which plays the made motion exactly.
- A 22-bone rig (LAFAN1's, imported from obstacles1_subject1) keyed on frames 1 and 61: the operators'
  wall time for that 60-frame gap (In-between sparse and every frame, Extend by 60, Clean Up, Generate 2 s),
  median of 3 runs on fresh copies of the rig.
- The same take, all 5,391 frames, keyed every 30 frames (blocking): In-between as the modal operator runs
  it (the job stepped a twentieth of a second at a time): steps, the longest step (how long Blender does
  not redraw), total time, keys; and cancelling after a second (the action unchanged).

Prints the figures (BENCHMARKS.md gets a paragraph by hand). Usage:
    python benchmarks/addon_keys.py [--data ../shared/data]
"""
from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import bpy  # noqa: E402  (before addon_utils, which ships with it)
import addon_utils  # noqa: E402
from mathutils import Quaternion, Vector  # noqa: E402

import blender_rigs as rigs  # noqa: E402

HELD = ("foot.L", "foot.R", "toe.L", "toe.R", "hand.L", "hand.R", "spine.006")  # spine.006: the head


def _key_count(obj) -> int:
    from addon.bridge.action import assigned_fcurves

    fcurves, _ = assigned_fcurves(obj)
    return sum(len(fc.keyframe_points) for fc in fcurves)


def _metarig(seed: int = 0):
    bpy.ops.object.armature_human_metarig_add()
    obj = bpy.context.active_object
    rng = np.random.default_rng(seed)
    for f in (1, 56):
        for pb in obj.pose.bones:
            if pb.name.startswith(("thigh", "shin", "upper_arm", "forearm", "spine")):
                q = Quaternion(Vector(rng.normal(size=3)).normalized(), float(rng.uniform(-0.3, 0.3)))
                if pb.rotation_mode == "QUATERNION":
                    pb.rotation_quaternion = q
                    pb.keyframe_insert("rotation_quaternion", frame=f)
                else:
                    pb.rotation_euler = q.to_euler(pb.rotation_mode)
                    pb.keyframe_insert("rotation_euler", frame=f)
        obj.pose.bones["spine"].location = (0.0, 0.1 * f / 56, 0.0)
        obj.pose.bones["spine"].keyframe_insert("location", frame=f)
    bpy.context.scene.frame_start, bpy.context.scene.frame_end = 1, 56
    return obj


def _held_points(obj) -> np.ndarray:
    heads, tails = rigs.world_bone_points(obj, range(1, 57), list(HELD))
    return np.concatenate([heads, tails], axis=1)


def metarig() -> None:
    dense = _metarig()
    before = _key_count(dense)
    bpy.ops.lmm.inbetween(every_frame=True, method="NETWORK")
    truth = _held_points(dense)
    print(f"metarig, 2 key frames 55 apart: every frame {_key_count(dense) - before} keys added "
          f"({_key_count(dense)} in the action)")
    for tolerance in (0.5, 0.9, 2.0, 5.0):
        obj = _metarig()
        start = time.perf_counter()
        bpy.ops.lmm.inbetween(tolerance=tolerance, method="NETWORK")
        took = time.perf_counter() - start
        error = np.linalg.norm(_held_points(obj) - truth, axis=-1).max() * 1000
        print(f"  tolerance {tolerance} mm: {_key_count(obj) - before} keys added ({_key_count(obj)} in the action), "
              f"feet, hands and head within {error:.2f} mm of every-frame, {took:.2f} s")


def _blocked(obj, every: int, last: int | None = None) -> None:
    """Keep only every ``every``-th frame's keys (from frame 1), up to ``last``."""
    from addon.bridge.action import assigned_fcurves

    fcurves, _ = assigned_fcurves(obj)
    for fc in fcurves:
        pts = fc.keyframe_points
        co = np.empty(2 * len(pts), dtype=np.float32)
        pts.foreach_get("co", co)
        frames = np.round(co[0::2]).astype(int)
        keep = ((frames - 1) % every == 0) & (frames <= (last or frames.max()))
        kept = co.reshape(-1, 2)[keep]
        pts.clear()
        pts.add(len(kept))
        pts.foreach_set("co", kept.ravel())
        fc.update()


def _copy(obj):
    new = obj.copy()
    new.animation_data.action = obj.animation_data.action.copy()
    bpy.context.scene.collection.objects.link(new)
    for other in bpy.context.view_layer.objects:
        other.select_set(False)
    new.select_set(True)
    bpy.context.view_layer.objects.active = new
    return new


def _median_time(run, base) -> float:
    times = []
    for _ in range(3):
        obj = _copy(base)
        start = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - start)
        assert result == {"FINISHED"}, result
        bpy.data.objects.remove(obj)  # a scene of one rig (every frame change evaluates them all)
        bpy.context.view_layer.update()  # (its object list would still hold the removed rig)
    base.select_set(True)
    return float(np.median(times))


def gap(data: Path) -> None:
    bpy.ops.lmm.import_bvh(filepath=str(data / "lafan1" / "obstacles1_subject1.bvh.xz"))
    base = bpy.context.active_object
    _blocked(base, 60, 61)
    scene = bpy.context.scene
    scene.frame_start, scene.frame_end = 1, 61
    from addon import model

    model.load(bpy.context)  # loaded once, as in a session
    runs = {
        "In-between (sparse)": lambda: bpy.ops.lmm.inbetween(method="NETWORK"),
        "In-between (every frame)": lambda: bpy.ops.lmm.inbetween(every_frame=True, method="NETWORK"),
        "Extend by 60": lambda: bpy.ops.lmm.extend(frames=60),
        "Clean Up": lambda: bpy.ops.lmm.clean_up(),
        "Generate 2 s": lambda: bpy.ops.lmm.generate(action="walk", seconds=2.0),
    }
    print(f"22-bone rig ({len(base.data.bones)} bones), keys on frames 1 and 61 (a 60-frame gap):")
    for name, run in runs.items():
        print(f"  {name}: {_median_time(run, base):.3f} s (median of 3)")


def long_take(data: Path) -> None:
    bpy.ops.lmm.import_bvh(filepath=str(data / "lafan1" / "obstacles1_subject1.bvh.xz"))
    obj = bpy.context.active_object
    _blocked(obj, 30)
    scene = bpy.context.scene
    frames = (scene.frame_start, scene.frame_end)
    spare = _copy(obj)  # the same blocking, for the cancelled run
    from addon import animate, jobs, model
    from addon.bridge.action import assigned_fcurves

    loaded = model.load(bpy.context)

    def snapshot(rig):
        fcurves, _ = assigned_fcurves(rig)
        out = []
        for fc in fcurves:
            co = np.empty(2 * len(fc.keyframe_points), dtype=np.float32)
            fc.keyframe_points.foreach_get("co", co)
            out.append(co)
        return np.concatenate(out)

    keys_before = _key_count(obj)
    job = jobs.Job(animate.inbetween(bpy.context, obj, loaded, frames))
    steps, times, done = [], [], False
    start = time.perf_counter()
    while not done:
        s = time.perf_counter()
        done = job.step(0.05)
        times.append(time.perf_counter() - s)
        steps.append(job.progress)
    total = time.perf_counter() - start
    long = ", ".join(f"{t:.1f} s to {100 * p:.0f}%" for t, p in zip(times, steps) if t > 0.5)
    print(f"{frames[1] - frames[0] + 1}-frame take keyed every 30 frames, In-between as the modal runs it: "
          f"{total:.1f} s in {len(steps)} timer steps, median step {np.median(times):.2f} s, steps over 0.5 s: "
          f"{long or 'none'}; {_key_count(obj) - keys_before} keys added ({job.message})")

    # Cancelled after a second (its model thread runs on to its end and is dropped): the action as it was.
    before = snapshot(spare)
    job = jobs.Job(animate.inbetween(bpy.context, spare, loaded, frames))
    start = time.perf_counter()
    while time.perf_counter() - start < 1.0:
        job.step(0.05)
    t = time.perf_counter()
    job.cancel()
    unchanged = np.array_equal(snapshot(spare), before)
    print(f"  cancelled after 1 s at {100 * job.progress:.0f}% in {1000 * (time.perf_counter() - t):.1f} ms, "
          f"action unchanged: {unchanged}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    args = parser.parse_args()
    addon_utils.enable("rigify", default_set=True)
    addon_utils.enable("addon", default_set=True)
    for measure in (metarig, lambda: gap(args.data), lambda: long_take(args.data)):
        for obj in list(bpy.data.objects):  # each in a scene of its own rigs (a frame change evaluates them all)
            bpy.data.objects.remove(obj)
        bpy.context.view_layer.update()
        measure()


if __name__ == "__main__":
    main()
