"""Joint limits that hold, in real Blender: a knee keyed bending backwards is brought back to (at most)
the knees' 5 degrees past the canonical rest pose (which stands with them 5 degrees bent), both by Clean
Up's clamp and by the Limit Rotation constraints the add-on puts on the rig, which must agree with it.

Knee angles are read from the evaluated bones (their world axes through mathutils), not through the
add-on's bridge: the signed angle from the thigh to the shin about the thigh's own X axis, positive when
the knee bends backwards, less the same angle in the rest pose.
"""
from __future__ import annotations

import importlib
import math

import numpy as np
import pytest

bpy = pytest.importorskip("bpy", reason="needs the bpy module (real headless Blender): pip install bpy==5.0.1")

import blender_rigs as rigs  # noqa: E402

from lmm_core import canonical as cn  # noqa: E402
from lmm_core import rotations as R  # noqa: E402
from lmm_core.cleanup.limits import HYPEREXTENSION  # noqa: E402
from lmm_core.motion import Motion  # noqa: E402

pytestmark = pytest.mark.blender

CAP = math.degrees(HYPEREXTENSION["left_knee"])
BACKWARDS = {5: 70.0, 12: 100.0}  # frame -> degrees the left knee is keyed bending backwards


@pytest.fixture(scope="module")
def installed():
    yield rigs.installed_extension()
    bpy.ops.wm.read_factory_settings(use_empty=True)


@pytest.fixture
def addon(installed):
    return importlib.import_module(rigs.enable_extension())


def _canonical_rig(addon, frames: int = 16):
    """The canonical body standing, its left knee bent backwards on the frames of ``BACKWARDS``."""
    bridge = importlib.import_module(f"{addon.__name__}.bridge")
    sk = cn.canonical_skeleton()
    q = R.identity((frames, sk.num_joints))
    for frame, degrees in BACKWARDS.items():
        # Joint frames are the world's at rest: a turn about -X swings the shin forwards, the knee backwards.
        q[frame, cn.JOINT_INDEX["left_knee"]] = R.from_axis_angle(np.array([-1.0, 0.0, 0.0]), np.radians(degrees))
    obj = bridge.armature_from_motion(Motion(sk, q, np.tile([0.0, 0.94, 0.0], (frames, 1)), 30.0), name="canonical")
    for other in bpy.context.view_layer.objects:
        other.select_set(False)
    obj.select_set(True)
    bpy.context.view_layer.objects.active = obj
    return obj


def _signed_bend(thigh, shin) -> float:
    t, s = thigh.col[1].xyz.normalized(), shin.col[1].xyz.normalized()
    return math.degrees(math.atan2(t.cross(s).dot(thigh.col[0].xyz.normalized()), t.dot(s)))


def _knee_backwards_degrees(obj, frame: int) -> float:
    bpy.context.scene.frame_set(frame)
    rest = _signed_bend(obj.data.bones["left_hip"].matrix_local, obj.data.bones["left_knee"].matrix_local)
    return _signed_bend(obj.pose.bones["left_hip"].matrix, obj.pose.bones["left_knee"].matrix) - rest


def test_clean_up_brings_a_knee_bent_backwards_to_the_cap(addon):
    obj = _canonical_rig(addon)
    before = {f: _knee_backwards_degrees(obj, f + 1) for f in BACKWARDS}
    for frame, degrees in BACKWARDS.items():
        assert abs(before[frame] - degrees) < 1.0  # the sign convention above: backwards is positive
    assert bpy.ops.lmm.clean_up(lock_feet=False) == {"FINISHED"}
    for frame in BACKWARDS:  # 20 degrees backwards was left before the cap
        assert CAP - 1.0 < _knee_backwards_degrees(obj, frame + 1) < CAP + 0.5
    assert abs(_knee_backwards_degrees(obj, 1)) < 0.5  # a straight knee stays straight


def test_limit_rotation_constraints_hold_the_knee_where_the_clamp_does(addon):
    obj = _canonical_rig(addon)
    assert bpy.ops.lmm.clean_up(lock_feet=False, clamp_limits=False, add_constraints=True) == {"FINISHED"}
    con = obj.pose.bones["left_knee"].constraints["LMM Limit Rotation"]
    assert con.use_limit_x and math.degrees(con.max_x) < CAP + 1.0  # the hinge axis: X in the bone's axes
    for frame in BACKWARDS:  # the action still says 70 and 100 degrees; the constraint holds it
        assert CAP - 1.0 < _knee_backwards_degrees(obj, frame + 1) < CAP + 1.0
    # Bent forwards, as knees bend, the constraint lets it be.
    obj.animation_data.action = None
    knee = obj.pose.bones["left_knee"]
    knee.rotation_mode = "QUATERNION"
    knee.rotation_quaternion = (math.cos(math.radians(30)), -math.sin(math.radians(30)), 0.0, 0.0)
    bpy.context.view_layer.update()
    assert abs(_knee_backwards_degrees(obj, 1) + 60.0) < 1.0
