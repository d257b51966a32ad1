"""A small terminal progress bar for long jobs (no dependencies, so the Blender build can carry it).

``progress(iterable, total, desc)`` yields the items and redraws one line on stderr: a bar, count,
rate, elapsed and remaining time, and an optional postfix set through ``bar.postfix = "loss 0.12"`` (or
``set_postfix``, which also redraws). A bar can also be driven by hand: ``update()`` then ``close()``.
When stderr is not a terminal it prints at most one line every ``interval`` seconds instead.
"""
from __future__ import annotations

import sys
import time
from typing import Iterable, Iterator, TypeVar

T = TypeVar("T")


def _fmt(seconds: float) -> str:
    seconds = int(max(seconds, 0))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


class progress:
    """Iterate with a progress bar; see the module docstring."""

    def __init__(self, iterable: Iterable[T], total: int | None = None, desc: str = "", unit: str = "it",
                 stream=None, interval: float = 0.2, enabled: bool = True):
        self.iterable = iterable
        self.total = total if total is not None else (len(iterable) if hasattr(iterable, "__len__") else None)  # type: ignore[arg-type]
        self.desc, self.unit, self.postfix = desc, unit, ""
        self.stream = stream or sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.interval = interval if self.tty else max(interval, 10.0)
        self.enabled = enabled
        self.n = 0
        self._start = self._last = time.perf_counter()
        self._drawn_n: int | None = None  # the count on the last line written to a log

    def _line(self) -> str:
        elapsed = time.perf_counter() - self._start
        rate = self.n / elapsed if elapsed > 0 else 0.0
        if self.total:
            frac = min(self.n / self.total, 1.0)
            bar = "#" * int(frac * 24) + "-" * (24 - int(frac * 24))
            eta = (self.total - self.n) / rate if rate > 0 else 0.0
            core = f"{self.desc} [{bar}] {self.n}/{self.total} {rate:.1f} {self.unit}/s {_fmt(elapsed)}<{_fmt(eta)}"
        else:
            core = f"{self.desc} {self.n} {rate:.1f} {self.unit}/s {_fmt(elapsed)}"
        return core + (f" {self.postfix}" if self.postfix else "")

    def _draw(self, final: bool = False) -> None:
        if not self.enabled:
            return
        if self.tty:
            self.stream.write("\r" + self._line() + ("\n" if final else "\x1b[K"))
        else:
            self._drawn_n = self.n
            self.stream.write(self._line() + "\n")
        self.stream.flush()

    def _tick(self) -> None:
        """Redraw, at most every ``interval`` seconds."""
        now = time.perf_counter()
        if now - self._last >= self.interval:
            self._last = now
            self._draw()

    def update(self, n: int = 1) -> None:
        self.n += n
        self._tick()

    def set_postfix(self, text: str) -> None:
        """Show ``text`` after the bar (redrawn at most every ``interval`` seconds)."""
        self.postfix = text
        self._tick()

    def close(self) -> None:
        """Draw the final line (for a bar driven by ``update`` rather than iteration); in a log (not a
        terminal) only when the count moved since the last line."""
        if self.tty or self.n != self._drawn_n:
            self._draw(final=True)

    def __iter__(self) -> Iterator[T]:
        for item in self.iterable:
            yield item
            self.update()
        self._draw(final=True)
