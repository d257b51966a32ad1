"""Blender data <-> ``lmm_core.Motion``: the only package that converts between the two.

``read`` (Blender -> Motion: ``motion_from_armature``, ``action_frames``, ``keyed_frames``), ``write``
(Motion -> Blender: ``create_armature``, ``armature_from_motion``, ``write_action``, ``insert_keys``,
``fit_scene_to_motion``), ``keys`` (a made motion as sparse Bezier keys that play it back within a
tolerance: ``plan_keys``, ``write_keys``), and what both use: ``space`` (axes, lengths, frame rate, an armature's rest and
placement) and ``action`` (F-curves in Blender 4.2's and 4.4+'s action layouts). ``controls``: a control
rig (Rigify's generated rig) is read from its deforming bones and written as keys on its controls; ``read``
and ``write`` turn to it by themselves (docs/control_rigs.md).

Frames of reference
-------------------
*Motion world*: the motion's own world frame, up along ``skeleton.up_axis`` (BVH: Y up, character facing
+Z). ``C`` (3x3) maps it to *Blender world* (Z up, character facing -Y): a +90 degree turn about X for
Y-up motion, the identity for Z-up motion.

*Joint frames*: as in BVH, every joint's frame is parallel to the motion world in the rest pose (all
rotations identity), so a joint's local rotation says how it turned away from rest.

*Bone frames*: a bone's rest orientation ``B`` (3x3, armature space) has its Y axis along the bone; the
bone is rigidly attached to its joint. With ``E = C^T R_w B`` (the bone's rest axes seen from the motion
world; ``R_w`` is the armature object's world rotation) a joint with local rotation ``L`` (relative to its
parent joint) is the pose bone rotation ``E^T L E``, and the inverse holds when reading. Locations are
solved the same way from the rig's own rest heads, so a rig built elsewhere reads and writes consistently.

Lengths: Blender length = motion length x ``scale`` (Blender units per motion unit, see ``blender_scale``).
Frames: motion frame ``t`` (0-based) is scene frame ``frame_start + t``.
"""
from .action import fill_fcurve, keep_action, new_action
from .keys import KeyPlan, fit_keys, plan_keys, write_key_steps, write_keys
from .read import action_frames, keyed_frames, motion_from_armature
from .space import blender_scale, bone_axes, scene_fps, to_blender_axes
from .write import armature_from_motion, create_armature, fit_scene_to_motion, insert_keys, write_action

__all__ = [
    "KeyPlan", "plan_keys", "fit_keys", "write_keys", "write_key_steps",
    "motion_from_armature", "action_frames", "keyed_frames", "create_armature", "armature_from_motion", "write_action",
    "insert_keys", "fit_scene_to_motion", "keep_action", "new_action", "fill_fcurve", "blender_scale", "scene_fps",
    "bone_axes", "to_blender_axes",
]
