"""Motion clean-up: learned joint limits and foot-contact locking (numpy only; see docs/cleanup.md).

- ``limits``: ``JointLimits`` learned from the canonical corpus; ``violations``, ``excess``, ``clamp``,
  and Blender Limit Rotation settings (``euler_limits``).
- ``apply``: ``clean_up``, limits then feet pinned (``lmm_core.feet.pin_feet``), on the canonical body;
  ``clean_up_rig``, the same on any rig: limits through the canonical body, feet on the rig's own legs.

Feet (contacts, pinning, skate) live in ``lmm_core.feet``, shared with retargeting and the model.
"""
from __future__ import annotations

from .apply import clean_up, clean_up_rig
from .body import bone_frames, require_canonical
from .limits import DEFAULT_PATH, EulerLimit, JointLimits, driven_mask

__all__ = [
    "JointLimits", "EulerLimit", "DEFAULT_PATH", "driven_mask", "bone_frames", "require_canonical",
    "clean_up", "clean_up_rig",
]
