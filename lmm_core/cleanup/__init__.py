"""Motion clean-up: learned joint limits and foot-contact locking (numpy only; see docs/cleanup.md).

- ``limits``: ``JointLimits`` learned from the canonical corpus; ``violations``, ``excess``, ``clamp``,
  and Blender Limit Rotation settings (``euler_limits``).
- ``feet``: ``detect_contacts`` and ``lock_feet`` (pin feet while down, two-bone leg IK, floor).
- ``apply``: ``clean_up``, both in the order the Blender "Clean up" operator applies them, on the canonical
  body; ``clean_up_rig``, the same on any rig through the canonical body.

``limits`` and ``feet`` work on motions on the canonical body; retarget other rigs onto it first
(``lock_feet`` also takes explicit ``Leg``\\ s and contacts for any rig), or use ``clean_up_rig``.
"""
from __future__ import annotations

from .apply import clean_up, clean_up_rig
from .body import bone_frames, require_canonical
from .feet import Leg, canonical_legs, detect_contacts, foot_skate, lock_feet
from .limits import DEFAULT_PATH, EulerLimit, JointLimits, driven_mask

__all__ = [
    "JointLimits", "EulerLimit", "DEFAULT_PATH", "driven_mask", "bone_frames", "require_canonical",
    "Leg", "canonical_legs", "detect_contacts", "lock_feet", "foot_skate", "clean_up", "clean_up_rig",
]
