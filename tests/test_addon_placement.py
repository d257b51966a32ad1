"""Where Generate and Retarget start, in real Blender with the installed extension and the shipped model: on
the current frame, where the character stands on it and facing its way (its object transform and its pose
there), with the scene's frame range left alone unless Fit Scene Range asks.

Where the rig stands is read here straight from Blender (bone heads through mathutils), not through the
add-on's bridge: the pelvis bone's head over the ground, and the facing ``(left thigh - right thigh) x up``.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

bpy = pytest.importorskip("bpy", reason="needs the bpy module (real headless Blender): pip install bpy==5.0.1")

import blender_rigs as rigs  # noqa: E402
from mathutils import Matrix, Quaternion  # noqa: E402

pytestmark = pytest.mark.blender

RIGIFY = ("spine", "thigh.L", "thigh.R")  # pelvis, left hip, right hip
MIXAMO = ("mixamorig:Hips", "mixamorig:LeftUpLeg", "mixamorig:RightUpLeg")
HOP = "cmu_131_03_hop_excerpt.bvh.xz"


@pytest.fixture(scope="module")
def installed():
    yield rigs.installed_extension()
    bpy.ops.wm.read_factory_settings(use_empty=True)


@pytest.fixture
def scene(installed):
    """A fresh scene with the extension enabled and the shipped model (no model file set)."""
    rigs.enable_extension()
    scene = bpy.context.scene
    scene.frame_start, scene.frame_end = 1, 250
    return scene


def _select(obj) -> None:
    for other in bpy.context.view_layer.objects:
        other.select_set(False)
    obj.select_set(True)
    bpy.context.view_layer.objects.active = obj


def _stance(obj, frame: int, bones: tuple[str, str, str]) -> tuple[np.ndarray, np.ndarray]:
    """Where ``obj`` stands on ``frame`` (its pelvis's ground point, (x, y) metres) and faces (a unit (x, y))."""
    heads, _ = rigs.world_bone_points(obj, range(frame, frame + 1), list(bones))
    pelvis, left, right = heads[0]
    forward = np.cross(left - right, [0.0, 0.0, 1.0])[:2]
    return pelvis[:2], forward / np.linalg.norm(forward)


def _degrees(a: np.ndarray, b: np.ndarray) -> float:
    return abs(math.degrees(math.atan2(a[0] * b[1] - a[1] * b[0], a @ b)))


def _key_span(obj) -> tuple[int, int]:
    """First and last key frame over every F-curve of the rig's action."""
    frames = [p.co[0] for fc in rigs.fcurves_of(obj) for p in fc.keyframe_points]
    return round(min(frames)), round(max(frames))


def _turned_rig():
    """A Rigify-style rig standing at (3, 2, 0), turned 90 degrees about Z: it faces +X."""
    transform = Matrix.Translation((3.0, 2.0, 0.0)) @ Matrix.Rotation(math.radians(90), 4, "Z")
    obj = rigs.make_rig(rigs.RIGIFY_STYLE, "turned", transform=transform, rotation_modes=rigs.RIGIFY_ROTATION_MODES)
    _select(obj)
    return obj


def test_generate_starts_where_the_turned_rig_stands_on_the_current_frame(scene):
    obj = _turned_rig()
    scene.frame_set(40)
    ground, facing = _stance(obj, 40, RIGIFY)
    np.testing.assert_allclose(facing, [1.0, 0.0], atol=1e-6)  # the rig's rest faces -Y; turned, +X
    assert np.linalg.norm(ground - [2.95, 2.0]) < 1e-4  # its pelvis 5 cm behind the origin (+Y at rest), turned

    assert bpy.ops.lmm.generate(action="walk", seconds=2.0, seed=0) == {"FINISHED"}
    frames = round(2.0 * scene.render.fps)
    assert _key_span(obj) == (40, 40 + frames - 1)  # from the current frame
    assert (scene.frame_start, scene.frame_end, scene.frame_current) == (1, 250, 40)  # the scene as it was
    now, now_facing = _stance(obj, 40, RIGIFY)
    assert np.linalg.norm(now - ground) < 1e-3 and _degrees(now_facing, facing) < 0.5
    # And it walks the way it faces: +X, not the -Y every clip walked along before.
    end, _ = _stance(obj, 40 + frames - 1, RIGIFY)
    travel = end - ground
    assert travel[0] > 1.0 and abs(travel[1]) < 0.4 * travel[0]


def test_generate_without_placement_and_with_fit_scene_range(scene):
    obj = _turned_rig()
    scene.frame_set(40)
    ground, _ = _stance(obj, 40, RIGIFY)
    assert bpy.ops.lmm.generate(action="walk", seconds=1.0, seed=0, from_character=False, fit_scene=True) == {"FINISHED"}
    frames = round(1.0 * scene.render.fps)
    assert (scene.frame_start, scene.frame_end) == (40, 40 + frames - 1)  # asked for
    now, _ = _stance(obj, 40, RIGIFY)
    assert np.linalg.norm(now - ground) > 2.0  # where the model made it (near the origin), not at the rig


def test_retarget_starts_where_the_rigs_pose_stands_on_the_current_frame(scene, test_data):
    # A Mixamo-style rig (object turned about X, scaled 0.01, moved) whose keyed pose on frame 30 has walked
    # off its rest place and turned: the clip starts from that pose, not from the object or the origin.
    obj = rigs.make_rig(rigs.MIXAMO_STYLE, "mixamo", transform=rigs.mixamo_import_transform())
    _select(obj)
    hips = obj.pose.bones["mixamorig:Hips"]
    for frame, (shift, angle) in {1: ((0, 0, 0), 0.0), 30: ((-80.0, 0.0, 150.0), 60.0)}.items():
        hips.location = shift  # bone axes: the Hips bone points up, so Y is up and X, Z lie on the ground
        hips.rotation_quaternion = Quaternion((0.0, 1.0, 0.0), math.radians(angle))
        hips.keyframe_insert("location", frame=frame)
        hips.keyframe_insert("rotation_quaternion", frame=frame)
    scene.frame_set(30)
    ground, facing = _stance(obj, 30, MIXAMO)
    rest_ground, rest_facing = _stance(obj, 1, MIXAMO)
    assert np.linalg.norm(ground - rest_ground) > 1.0 and _degrees(facing, rest_facing) > 30  # elsewhere, turned
    scene.frame_set(30)

    assert bpy.ops.lmm.retarget(filepath=str(test_data / HOP)) == {"FINISHED"}
    first, last = _key_span(obj)
    assert first == 30 and last > 60
    assert (scene.frame_start, scene.frame_end, scene.frame_current) == (1, 250, 30)
    now, now_facing = _stance(obj, 30, MIXAMO)
    assert np.linalg.norm(now - ground) < 1e-3 and _degrees(now_facing, facing) < 0.5


def test_a_rig_lying_on_its_side_is_a_clear_message(scene):
    # Turned 90 degrees about Y, one hip lies above the other: there is no facing to start from.
    obj = rigs.make_rig(rigs.RIGIFY_STYLE, "lying", transform=Matrix.Rotation(math.radians(90), 4, "Y"))
    _select(obj)
    actions = len(bpy.data.actions)
    with pytest.raises(RuntimeError, match="one above the other.*untick From Where It Stands"):
        bpy.ops.lmm.generate(action="walk", seconds=1.0)
    assert len(bpy.data.actions) == actions
    assert bpy.ops.lmm.generate(action="walk", seconds=1.0, from_character=False) == {"FINISHED"}


@pytest.mark.parametrize("rig", ["rigify", "mixamo"])
def test_walk_to_the_3d_cursor_ends_there(scene, rig):
    """Generate > Next Frame > Walk To 3D Cursor: from where the rig stands (turned, moved; the Mixamo one also
    scaled 0.01 and turned about X) to the cursor 2.5 m off, 40 degrees to its left, the pelvis over the cursor
    on the clip's last frame."""
    if rig == "rigify":
        obj, bones = _turned_rig(), RIGIFY
    else:
        obj, bones = rigs.make_rig(rigs.MIXAMO_STYLE, "mixamo", transform=rigs.mixamo_import_transform()), MIXAMO
        _select(obj)
    scene.frame_set(10)
    ground, facing = _stance(obj, 10, bones)
    c, s = math.cos(math.radians(40)), math.sin(math.radians(40))
    ahead = 2.5 * np.array([c * facing[0] - s * facing[1], s * facing[0] + c * facing[1]])  # 40 degrees to its left
    scene.cursor.location = (ground[0] + ahead[0], ground[1] + ahead[1], 0.0)
    assert bpy.ops.lmm.generate(action="walk", seed=0, method="NEXT_FRAME", walk_to_cursor=True) == {"FINISHED"}
    first, last = _key_span(obj)
    assert first == 10 and 40 < last - first < 150  # as long as a 2.5 m walk takes (about 2 s)
    start, _ = _stance(obj, 10, bones)
    assert np.linalg.norm(start - ground) < 1e-3  # from where it stood
    end, _ = _stance(obj, last, bones)
    assert np.linalg.norm(end - np.array(scene.cursor.location)[:2]) < 0.01  # to the cursor
    # Walked, not slid: most of the way covered in the middle of the clip, feet stepping (the pelvis path no
    # more than 1.3 times the straight line).
    heads, _ = rigs.world_bone_points(obj, range(first, last + 1), [bones[0]])
    path = np.linalg.norm(np.diff(heads[:, 0, :2], axis=0), axis=1).sum()
    assert path < 1.3 * 2.5
    with pytest.raises(RuntimeError, match="set Method to Next Frame"):
        bpy.ops.lmm.generate(action="walk", seed=0, method="SEGMENTS", walk_to_cursor=True)
