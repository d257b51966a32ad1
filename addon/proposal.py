"""A result on trial: the model's work shown on a temporary action before the animator's action changes.

``show`` runs an operator's ``finish`` (which writes keys into the rig's action, or assigns a new action)
on trial: for work that adds keys, the rig first gets a copy of its action (``<name> [LMM preview]``) and
the keys go there. The rig plays the result; the animator's action is untouched. Then:

- ``apply``: the trial becomes the animator's action: every user of the old action (the rig, NLA strips)
  now uses the copy, which takes the old one's name (``ID.user_remap``); for a new action, it just stays.
- ``discard``: the rig gets its old action back and the trial is deleted; the action is as it was.
- re-roll (the operator ``lmm.preview_reroll``): discard, then the same operator again with the next seed.

One trial per rig, kept by the rig's name in this module (an undo that removes the trial action is
noticed: ``pending`` forgets a trial whose actions are gone).
"""
from __future__ import annotations

import types
from dataclasses import dataclass, field
from typing import Callable

import bpy

from ._core import LMMError

SUFFIX = " [LMM preview]"


@dataclass
class Trial:
    """A rig's result on trial: its action before (``original``, may be ``None``), the action on trial,
    whether the trial is a copy of the original (keys added) or a new action, and how to make it again."""

    rig: str
    original: str | None
    trial: str
    copy: bool
    operator: str  # e.g. "inbetween": bpy.ops.lmm.<operator>
    arguments: dict = field(default_factory=dict)


_TRIALS: dict[str, Trial] = {}


def _assign(obj: bpy.types.Object, action: bpy.types.Action | None, slot_identifier: str | None) -> None:
    anim = obj.animation_data or obj.animation_data_create()
    anim.action = action
    if action is not None and slot_identifier and hasattr(action, "slots"):
        slot = next((s for s in action.slots if s.identifier == slot_identifier), None)
        if slot is not None:
            anim.action_slot = slot


def _slot_identifier(obj: bpy.types.Object) -> str | None:
    anim = obj.animation_data
    slot = getattr(anim, "action_slot", None) if anim is not None else None
    return slot.identifier if slot is not None else None


def pending(obj: bpy.types.Object | None) -> Trial | None:
    """The rig's trial, if it has one whose action still exists."""
    if obj is None:
        return None
    trial = _TRIALS.get(obj.name)
    if trial is not None and bpy.data.actions.get(trial.trial) is None:
        del _TRIALS[obj.name]  # undone, or deleted by hand
        return None
    return trial


def show(obj: bpy.types.Object, finish: Callable[[], str], copy: bool, operator: str, arguments: dict):
    """Run ``finish`` on trial (see the module docstring); returns its sentence, or, when ``finish`` writes in
    steps (returns a generator, ``jobs``), a generator of those steps that returns it. A trial the rig
    already has is discarded first. If ``finish`` fails or is stopped, the rig keeps the action it had."""
    if pending(obj) is not None:
        discard(obj)
    anim = obj.animation_data
    original = anim.action if anim is not None else None
    slot = _slot_identifier(obj)
    working = None
    if copy:
        if original is None:
            raise LMMError(f"{obj.name!r} has no action to preview keys on; key a pose first")
        working = original.copy()
        working.name = original.name + SUFFIX
        working.use_fake_user = False
        _assign(obj, working, slot)
    try:
        result = finish()
    except BaseException:
        _back(obj, original, slot, working)
        raise
    if isinstance(result, types.GeneratorType):  # it writes in steps: so does the trial
        return _in_steps(obj, result, original, slot, working, copy, operator, arguments)
    return _opened(obj, result, original, copy, operator, arguments)


def _back(obj, original, slot, working) -> None:
    _assign(obj, original, slot)
    if working is not None:
        bpy.data.actions.remove(working)


def _in_steps(obj, steps, original, slot, working, copy: bool, operator: str, arguments: dict):
    try:
        message = yield from steps
    except BaseException:  # cancelled part way, or failed: the rig gets its action back
        _back(obj, original, slot, working)
        raise
    return _opened(obj, message, original, copy, operator, arguments)


def _opened(obj, message: str, original, copy: bool, operator: str, arguments: dict) -> str:
    new = obj.animation_data.action
    if not copy and original is not None:
        new.name = new.name if new.name.endswith(SUFFIX) else new.name + SUFFIX
    _TRIALS[obj.name] = Trial(obj.name, original.name if original is not None else None, new.name, copy, operator,
                              dict(arguments))
    return message + "; previewing: Apply or Discard it, or Re-roll, in the LMM panel"


def _take(obj: bpy.types.Object) -> tuple[Trial, bpy.types.Action, bpy.types.Action | None]:
    trial = pending(obj)
    if trial is None:
        raise LMMError(f"{obj.name!r} has no preview to apply or discard; run In-between, Extend, Generate or Clean Up "
                       "with Preview ticked first")
    del _TRIALS[obj.name]
    original = bpy.data.actions.get(trial.original) if trial.original else None
    return trial, bpy.data.actions[trial.trial], original


def apply(obj: bpy.types.Object) -> str:
    """Make the trial the rig's action for good; returns a sentence."""
    trial, working, original = _take(obj)
    if trial.copy and original is not None:
        name, fake = original.name, original.use_fake_user
        original.user_remap(working)  # the rig, NLA strips, other rigs: all now use the trial
        bpy.data.actions.remove(original)
        working.name, working.use_fake_user = name, fake
    else:
        working.name = working.name.removesuffix(SUFFIX)
    _assign(obj, working, _slot_identifier(obj))
    return f"Applied the preview to {obj.name!r}: its action is {working.name!r}"


def discard(obj: bpy.types.Object) -> str:
    """Give the rig its action back and delete the trial; returns a sentence."""
    trial, working, original = _take(obj)
    slot = _slot_identifier(obj)
    _assign(obj, original, slot)
    bpy.data.actions.remove(working)
    return f"Discarded the preview on {obj.name!r}" + (f"; its action is {original.name!r} again" if original else "")
