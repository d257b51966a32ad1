"""Long work in steps, so that Blender stays responsive and Esc can stop it.

A job is a generator that yields its progress (0 to 1) between steps and returns a ``finish`` function:
everything before ``finish`` reads the rig and computes (the model, the key fit) without changing the
animator's data, and ``finish()`` writes the result and returns the sentence to report, or returns a
generator that writes in steps and returns that sentence (it must undo its writes when closed part way).
A modal operator steps the job from a timer a few tens of milliseconds at a time; cancelling between steps
(Esc) leaves every action exactly as it was. ``run`` does all of it at once (the
operator's ``execute``: scripts, the redo panel, tests). ``in_background`` runs a long computation that
touches no Blender data (the model) in a worker thread as one part of a job.
"""
from __future__ import annotations

import math
import threading
import time
import types
from typing import Callable, Generator, TypeVar

Finish = Callable[[], str]
Work = Generator[float, None, Finish]
T = TypeVar("T")
_FINISHING = 0.95  # the progress a job reports when it starts writing


class Stopped(Exception):
    """Raised inside a background worker's progress report once its job was cancelled: the worker stops there."""


def in_background(work: Callable[..., T], expected: float = 1.0, poll: float = 0.02,
                  reports: bool = False) -> Generator[float, None, T]:
    """Job part: run ``work`` in a worker thread and yield its progress (0 to below 1) every ``poll`` seconds
    until it is done; returns what it returns, or raises what it raised.

    Without ``reports`` the progress is an estimate from ``expected`` seconds. With ``reports``, ``work`` is
    called as ``work(report)`` and says its own progress through ``report(fraction)``; once the job is
    cancelled that call raises ``Stopped``, and ``report.stopped()`` turns True (for a worker's own cancel
    hook), so a long worker (minutes of video detection) ends at its next report or check instead of
    running on unseen.

    ``work`` must touch no Blender data (only numpy and ``lmm_core``: the model, a key fit, a capture), since
    Blender's data is not thread-safe. The model's answer is then the same as in one piece (cutting the action
    into pieces for the model would change it: the model and its clean-up see the whole motion), while
    Blender redraws and hears Esc. A cancelled job drops the result.
    """
    box: dict = {"progress": 0.0}

    def report(fraction: float) -> None:
        if box.get("stop"):
            raise Stopped()
        box["progress"] = min(max(float(fraction), 0.0), 0.999)

    # For workers that also take a cancel hook (``capture_files(cancel=...)``, asked every video frame).
    report.stopped = lambda: bool(box.get("stop"))  # type: ignore[attr-defined]

    def target() -> None:
        try:
            box["value"] = work(report) if reports else work()
        except Stopped:
            pass
        except BaseException as exc:  # noqa: BLE001 (re-raised in the job, on Blender's thread)
            box["error"] = exc

    thread = threading.Thread(target=target, name="lmm-job", daemon=True)
    start = time.perf_counter()
    thread.start()
    try:
        while thread.is_alive():
            thread.join(poll)
            if reports:
                yield box["progress"]
            else:
                yield 1.0 - math.exp(-(time.perf_counter() - start) / max(expected, 1e-3))
    finally:
        box["stop"] = True  # closed part way (cancelled): the worker stops at its next report
    if "error" in box:
        raise box["error"]
    return box["value"]


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
        self._finishing = False

    def step(self, seconds: float = 0.05) -> bool:
        """Advance for about ``seconds`` (at least one step); ``True`` when the job has finished."""
        if self.done or self.cancelled:
            return self.done
        end = time.perf_counter() + seconds
        while True:
            try:
                fraction = next(self._work)
            except StopIteration as stop:
                result = stop.value
                if not self._finishing:  # the work returned ``finish``: run it
                    self._finishing = True
                    result = result() if result is not None else ""
                    if isinstance(result, types.GeneratorType):  # it writes in steps too
                        self._work = result
                        continue
                self.message = result or ""
                self.done = True
                self._tell(1.0)
                return True
            self._tell(_FINISHING + (1 - _FINISHING) * fraction if self._finishing else fraction)
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
