"""The project's error types.

Every problem a user can cause (a bad file, a bad argument, an unmappable rig) is raised as an
``LMMError`` whose message names the problem and, where there is one, the fix. The command line and the
Blender add-on print these in one line; anything else is a bug in the project. ``listing`` is how a
message lists names (bones, joints) that may run to hundreds.
"""
from __future__ import annotations

from pathlib import Path


class LMMError(Exception):
    """Base class of every error the project raises on purpose."""


class MotionFileError(LMMError):
    """A motion file that cannot be read or written.

    Attributes:
        path: the file.
        line: 1-based line number of the problem, or ``None`` when it is not tied to a line.
        problem: what is wrong, in words.
    """

    def __init__(self, path: str | Path | None, problem: str, line: int | None = None):
        self.path = None if path is None else Path(path)
        self.line = line
        self.problem = problem
        where = "<memory>" if path is None else str(path)
        if line is not None:
            where += f", line {line}"
        super().__init__(f"{where}: {problem}")


class RigMappingError(LMMError):
    """A rig that a bone map does not fit, or that automatic mapping cannot place.

    Attributes:
        missing_joints: canonical joints that got no bone.
        unplaced_bones: the rig's bones that the mapping could not place (or, for a preset, the bones
            it names that the skeleton lacks).
    """

    def __init__(self, message: str, missing_joints: tuple[str, ...] = (), unplaced_bones: tuple[str, ...] = ()):
        super().__init__(message)
        self.missing_joints = tuple(missing_joints)
        self.unplaced_bones = tuple(unplaced_bones)


def listing(names, limit: int = 40) -> str:
    """``names`` joined by commas for a message, the first ``limit`` of them and a count of the rest."""
    names = list(names)
    shown = ", ".join(names[:limit])
    return shown + (f", ... ({len(names) - limit} more)" if len(names) > limit else "")
