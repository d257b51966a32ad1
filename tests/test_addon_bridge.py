"""``addon.bridge`` in real Blender: Motion <-> armature + action, checked against Blender's own evaluation.

The bridge is imported from the repository (development layout, top-level ``lmm_core``); the installed
extension is tested in test_addon_operators.py.
"""
from __future__ import annotations

import functools
import math
from pathlib import Path

import numpy as np
import pytest

bpy = pytest.importorskip("bpy", reason="needs the bpy module (real headless Blender): pip install bpy==5.0.1")

import blender_rigs as rigs  # noqa: E402  (tests/ helper; needs bpy)
from addon import bridge  # noqa: E402
from lmm_core import LMMError, Motion, Skeleton, read_bvh  # noqa: E402
from lmm_core import rotations as R  # noqa: E402

pytestmark = pytest.mark.blender

CLIPS = {  # name: (fixture of the folder, file)
    "lafan1": ("shared_data", "lafan1/push1_subject2.bvh.xz"),  # 22 joints, cm
    "reactidle": ("shared_data", "reactidle/genuine/010_genuine.bvh.xz"),  # animated joint translations
    "cmu": ("shared_data", "cmu/131_01.bvh.xz"),  # 31 joints, 120 fps
    "bandai": ("shared_data", "bandai/dataset-1/dataset-1_bow_normal_001.bvh.xz"),  # 6 channels everywhere
    "cmu_excerpt": ("test_data", "cmu_131_03_hop_excerpt.bvh.xz"),  # shipped: runs without shared data
    "reactidle_excerpt": ("test_data", "reactidle_001_acted_excerpt.bvh.xz"),
}
FRAMES = 90


@functools.cache
def _read_clip(path: str) -> Motion:
    return read_bvh(path).slice(0, FRAMES)


def clip_path(request, name: str) -> Path:
    folder, file = CLIPS[name]
    path = request.getfixturevalue(folder) / file
    if not path.is_file():
        pytest.skip(f"{path} is missing")
    return path


@pytest.fixture
def clip(request) -> Motion:
    return _read_clip(str(clip_path(request, request.param)))


@pytest.fixture(autouse=True)
def fresh_scene():
    bpy.ops.wm.read_factory_settings(use_empty=True)


def _y_up_to_blender(p: np.ndarray) -> np.ndarray:
    """(x, y, z) Y-up -> (x, -z, y) Z-up, written out here independently of the bridge."""
    return np.stack([p[..., 0], -p[..., 2], p[..., 1]], axis=-1)


def _import(motion: Motion) -> tuple[bpy.types.Object, float]:
    scene = bpy.context.scene
    bridge.fit_scene_to_motion(scene, motion)
    scale = bridge.blender_scale(motion.skeleton.units, scene)
    return bridge.armature_from_motion(motion, scale=scale, name="clip"), scale


@pytest.mark.parametrize("clip", list(CLIPS), indirect=True)
def test_armature_pose_is_the_motion_in_blender_axes(clip):
    """Blender's evaluated bone heads are the motion's joints, turned Z up and converted to metres."""
    obj, scale = _import(clip)
    assert [b.name for b in obj.data.bones] == list(clip.skeleton.names)
    assert all(b.length > 0 for b in obj.data.bones)
    frames = range(1, FRAMES + 1, 11)
    heads, _ = rigs.world_bone_points(obj, frames, list(clip.skeleton.names))
    expected = _y_up_to_blender(clip.global_positions()[[f - 1 for f in frames]]) * scale
    height = clip.height() * scale
    assert 1.0 < height < 2.2  # a person, in metres, standing along Blender's Z
    assert np.abs(heads - expected).max() < 1e-5 * height


@pytest.mark.parametrize("clip", list(CLIPS), indirect=True)
def test_round_trip_reproduces_the_motion(clip):
    obj, scale = _import(clip)
    seen = []
    back = bridge.motion_from_armature(obj, scale=scale, units=clip.skeleton.units, progress=seen.append)
    sk, sk2 = clip.skeleton, back.skeleton
    assert sk2.names == sk.names and np.array_equal(sk2.parents, sk.parents)
    assert (sk2.units, sk2.up_axis, back.fps, back.num_frames) == (sk.units, "y", clip.fps, FRAMES)
    assert (back.translations is None) == (clip.translations is None)
    height = clip.height()
    assert np.abs(sk2.offsets - sk.offsets).max() < 1e-5 * height
    assert np.abs(back.global_positions() - clip.global_positions()).max() < 1e-4 * height
    assert R.angle(R.inv_mul(back.rotations, clip.rotations)).max() < 1e-4  # radians
    assert seen == sorted(seen) and seen[-1] == 1.0


def test_action_is_keyed_in_bulk_on_channels(request):
    """One key per frame, linear, grouped by bone; 5.0 layered action: one slot, layer, strip, bag."""
    clip = _read_clip(str(clip_path(request, "reactidle_excerpt")))
    obj, _ = _import(clip)
    action = obj.animation_data.action
    assert clip.translations is not None  # this clip animates translations beyond the root
    if hasattr(action, "slots"):
        assert len(action.slots) == 1 and len(action.layers) == 1 and len(action.layers[0].strips) == 1
        assert obj.animation_data.action_slot == action.slots[0]
    fcurves = rigs.fcurves_of(obj)
    n_moving = int((np.abs(clip.translations - clip.skeleton.offsets)[:, 1:].max(axis=(0, 2))
                    > 1e-7 * np.abs(clip.skeleton.offsets).max()).sum())
    assert len(fcurves) == 4 * clip.skeleton.num_joints + 3 * (1 + n_moving)
    for fc in fcurves:
        assert len(fc.keyframe_points) == FRAMES
        assert fc.group is not None and fc.group.name in fc.data_path
    assert {k.interpolation for k in fcurves[0].keyframe_points} == {"LINEAR"}
    assert tuple(action.frame_range) == (1.0, float(FRAMES))


@pytest.mark.parametrize(
    "spec, transform, modes",
    [
        (rigs.MIXAMO_STYLE, rigs.mixamo_import_transform(), None),
        (rigs.RIGIFY_STYLE, None, rigs.RIGIFY_ROTATION_MODES),
    ],
    ids=["mixamo", "rigify"],
)
def test_reads_and_writes_rigs_built_elsewhere(spec, transform, modes):
    """A rig with its own rolls, connected bones, object transform or Euler bones: the read motion is
    where Blender shows the bones, and writing it back poses the rig exactly as before."""
    obj = rigs.make_rig(spec, "rig", transform, modes)
    frames = range(1, 9)
    rigs.key_random_motion(obj, frames, seed=3)
    names = [b.name for b in obj.data.bones]
    heads, tails = rigs.world_bone_points(obj, frames, names)

    motion = bridge.motion_from_armature(obj)  # metres, Y up
    assert motion.skeleton.names == tuple(names) and motion.num_frames == len(frames)
    g_rot, g_pos = motion.fk()
    assert np.abs(_y_up_to_blender(g_pos) - heads).max() < 1e-5
    # Tails turn with their joints: rest head->tail vector (Blender world) turned by the joint.
    rest_vec = np.array([(obj.matrix_world @ b.tail_local) - (obj.matrix_world @ b.head_local) for b in obj.data.bones])
    rest_vec_y_up = np.stack([rest_vec[:, 0], rest_vec[:, 2], -rest_vec[:, 1]], axis=-1)
    tails_from_motion = _y_up_to_blender(g_pos + R.mul_vec(g_rot, rest_vec_y_up))
    assert np.abs(tails_from_motion - tails).max() < 1e-5

    old = obj.animation_data.action
    action = bridge.write_action(obj, motion, frame_start=1, name="written")
    assert obj.animation_data.action == action != old
    heads2, tails2 = rigs.world_bone_points(obj, frames, names)
    assert np.abs(heads2 - heads).max() < 1e-5 and np.abs(tails2 - tails).max() < 1e-5
    if modes:  # the animator's rotation modes are kept
        assert {n: obj.pose.bones[n].rotation_mode for n in modes} == modes


def test_bad_rigs_raise_lmm_errors():
    empty = bpy.data.objects.new("empty", None)
    bpy.context.scene.collection.objects.link(empty)
    with pytest.raises(LMMError, match="armature"):
        bridge.motion_from_armature(empty)

    two_roots = rigs.make_rig(rigs.RIGIFY_STYLE + [("prop", None, (1, 0, 0), (1, 0, 0.2), 0, False)], "two")
    with pytest.raises(LMMError, match="2 root bones"):
        bridge.motion_from_armature(two_roots)
    only_body = [b.name for b in two_roots.data.bones if b.name != "prop"]
    assert bridge.motion_from_armature(two_roots, bones=only_body).skeleton.num_joints == len(only_body)

    small = rigs.make_rig(rigs.RIGIFY_STYLE[:3], "small")
    with pytest.raises(LMMError, match="lacks bones"):
        bridge.write_action(small, bridge.motion_from_armature(two_roots, bones=only_body))

    bpy.context.view_layer.objects.active = small
    bpy.ops.object.mode_set(mode="EDIT")
    with pytest.raises(LMMError, match="Edit Mode"):
        bridge.motion_from_armature(small)
    bpy.ops.object.mode_set(mode="OBJECT")

    long_name = Skeleton(names=("root", "j" * 64), parents=[-1, 0], offsets=[[0, 0, 0], [0, 1, 0]])
    with pytest.raises(LMMError, match="longer than Blender allows"):
        bridge.create_armature(long_name)

    squashed = rigs.make_rig(rigs.RIGIFY_STYLE, "squashed")
    squashed.scale = (1.0, 2.0, 1.0)
    with pytest.raises(LMMError, match="non-uniform"):
        bridge.motion_from_armature(squashed)


def test_scene_rate_follows_the_motion():
    scene = bpy.context.scene
    skeleton = Skeleton(names=("root", "tip"), parents=[-1, 0], offsets=[[0, 0, 0], [0, 1, 0]])
    motion = Motion(skeleton=skeleton, rotations=R.identity((5, 2)), root_positions=np.zeros((5, 3)), fps=29.97)
    bridge.fit_scene_to_motion(scene, motion, frame_start=10)
    assert math.isclose(bridge.scene_fps(scene), 29.97, rel_tol=1e-6)
    assert (scene.frame_start, scene.frame_end) == (10, 14)
