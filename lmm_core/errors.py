"""The project's error types.

Every problem a user can cause (a bad file, a bad argument, an unmappable rig) is raised as an
``LMMError`` whose message names the problem and, where there is one, the fix. The command line and the
Blender add-on print these in one line; anything else is a bug in the project.
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
