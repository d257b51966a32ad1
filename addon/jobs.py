"""Long work in steps, so that Blender stays responsive and Esc can stop it.

A job is a generator that yields its progress (0 to 1) between steps and returns a ``finish`` function:
everything before ``finish`` reads the rig and computes (the model, the key fit) without changing the
animator's data, and ``finish()`` writes the result and returns the sentence to report. A modal operator
steps the job from a timer a few tens of milliseconds at a time; cancelling between steps (Esc) leaves
every action exactly as it was, since nothing has been written yet. ``run`` does all of it at once (the
operator's ``execute``: scripts, the redo panel, tests).
"""
from __future__ import annotations

import time
from typing import Callable, Generator

Finish = Callable[[], str]
Work = Generator[float, None, Finish]


class Job:
    """Steps ``work`` (a generator of progress fractions that returns ``finish``) until it is done.

    ``step(seconds)`` runs steps for about that long and returns ``True`` once ``finish`` has run (its
    sentence in ``message``); ``cancel()`` closes the generator unfinished. ``progress`` is the last
    fraction reported; ``report`` is called with each one (window-manager progress, status text).
    """

    def __init__(self, work: Work, report: Callable[[float], None] | None = None):
        self._work = work
        self._report = report
        self.progress = 0.0
        self.message: str | None = None
        self.done = False
        self.cancelled = False

    def step(self, seconds: float = 0.05) -> bool:
        """Advance for about ``seconds`` (at least one step); ``True`` when the job has finished."""
        if self.done or self.cancelled:
            return self.done
        end = time.perf_counter() + seconds
        while True:
            try:
                fraction = next(self._work)
            except StopIteration as stop:
                finish = stop.value
                self.message = finish() if finish is not None else ""
                self.done = True
                self._tell(1.0)
                return True
            self._tell(fraction)
            if time.perf_counter() >= end:
                return False

    def _tell(self, fraction: float) -> None:
        self.progress = max(self.progress, min(max(float(fraction), 0.0), 1.0))
        if self._report is not None:
            self._report(self.progress)

    def cancel(self) -> None:
        """Stop between steps: nothing the job would write has been written."""
        if not self.done:
            self._work.close()
            self.cancelled = True

    def run(self) -> str:
        """All steps at once; the sentence ``finish`` returns."""
        while not self.step(float("inf")):
            pass
        return self.message or ""
