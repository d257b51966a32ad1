"""A picture of a motion to look at instead of reading numbers: the root's path seen from above with the
footprints, and the feet's height over time with their ground contacts.

matplotlib is imported only when a plot is made (never when ``lmm_core`` is imported), with the
non-interactive Agg backend, so it works headless and on render farms.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .feet import detect
from .errors import LMMError
from .io.atomic import atomic_binary_writer
from .motion import Motion
from .skeleton import UNITS_TO_METRES

_COLOURS = ("#3b6fd4", "#e0772b", "#6aa0f0", "#f2a86a")  # left, right (ankles), then toes lighter


def foot_contacts(motion: Motion, feet: dict[str, int]) -> np.ndarray:
    """``(T, K)`` ground contacts of the ``feet`` joints (low and slow: ``feet.detect``, the "planted" rule)."""
    idx = list(feet.values())
    if not idx:
        return np.zeros((motion.num_frames, 0), dtype=bool)
    pos = motion.global_positions()[:, idx]
    return detect(pos, motion.fps, motion.height(), motion.skeleton.up_index)


def plot_motion(motion: Motion, feet: dict[str, int], path: str | Path, title: str = "",
                contacts: np.ndarray | None = None, made: list[tuple[float, float]] | None = None) -> Path:
    """Write a PNG (written to a temporary sibling and renamed) with two panels.

    - Top view: the root's path on the floor (start marked with a circle, end with a square, a dot each
      second) and a footprint wherever a foot joint starts a ground contact.
    - Over time: each foot joint's height above its lowest point, its contact frames shaded.

    Args:
        motion: any rig; positions are shown in metres.
        feet: display name -> joint index of the foot joints (ankles, toes) to show.
        contacts: ``(T, K)`` bool in ``feet``'s order (default: ``foot_contacts``).
        made: time spans ``(start, end)`` in seconds that the model made (in-betweened or continued),
            shaded on the time axis and drawn in another colour on the root path.
    """
    try:  # here, not at the top: optional, and slow to import for the many commands that draw nothing
        import matplotlib

        matplotlib.use("Agg", force=True)
        import matplotlib.pyplot as plt
    except ImportError:
        raise LMMError("plots need matplotlib: pip install matplotlib (see requirements.txt)") from None
    path = Path(path)
    k = UNITS_TO_METRES[motion.skeleton.units]
    up = motion.skeleton.up_index
    # Top view axes: for Y up (x, z) seen from above with +Z (where the canonical body faces) upwards;
    # for Z up (x, y).
    horiz = (0, 2) if up == 1 else (0, 1)
    pos = motion.global_positions() * k
    root = motion.root_positions * k
    contacts = foot_contacts(motion, feet) if contacts is None else contacts
    t = np.arange(motion.num_frames) / motion.fps

    fig, (top, side) = plt.subplots(1, 2, figsize=(10, 4.2), gridspec_kw={"width_ratios": [1, 1.4]})
    try:
        top.plot(root[:, horiz[0]], root[:, horiz[1]], color="#444444", lw=1.5, label="root path")
        step = max(int(round(motion.fps)), 1)
        top.plot(root[::step, horiz[0]], root[::step, horiz[1]], ".", color="#444444", ms=4)
        for k, (a, b) in enumerate(made or []):
            span = slice(int(round(a * motion.fps)), int(round(b * motion.fps)) + 1)
            top.plot(root[span, horiz[0]], root[span, horiz[1]], color="#d4a017", lw=2.5,
                     label="made by the model" if k == 0 else None)
        top.plot(*root[0, list(horiz)], "o", color="#2a9d4b", ms=8, label="start")
        top.plot(*root[-1, list(horiz)], "s", color="#c0392b", ms=7, label="end")
        for n, (name, j) in enumerate(feet.items()):
            c = contacts[:, n]
            starts = np.flatnonzero(c & ~np.concatenate([[False], c[:-1]]))
            if len(starts):
                top.plot(pos[starts, j, horiz[0]], pos[starts, j, horiz[1]], "x" if n < 2 else "+",
                         color=_COLOURS[n % 4], ms=6, label=f"{name} down")
        top.set_aspect("equal", adjustable="datalim")
        top.set_xlabel("x (m)")
        top.set_ylabel("z (m), forward" if up == 1 else "y (m)")
        top.set_title("root path, from above")
        top.grid(alpha=0.3)
        top.legend(fontsize=7, loc="best")

        lows = pos[:, list(feet.values()), up].min(axis=0) if feet else np.zeros(0)
        if not feet:
            side.text(0.5, 0.5, "no foot joints mapped on this rig", ha="center", transform=side.transAxes)
        for n, (name, j) in enumerate(feet.items()):
            colour = _COLOURS[n % 4]
            height = pos[:, j, up] - lows[n]
            side.plot(t, height, color=colour, lw=1.2, label=name)
            c = contacts[:, n]
            if c.any():
                side.fill_between(t, -0.03 * (n + 1), -0.03 * n, where=c, color=colour, step="mid", alpha=0.8)
        for k, (a, b) in enumerate(made or []):
            side.axvspan(a, b, color="#f3e3a0", alpha=0.6, lw=0, label="made by the model" if k == 0 else None)
        side.axhline(0, color="#888888", lw=0.5)
        side.set_xlabel("time (s)")
        side.set_ylabel("foot height (m); bars: ground contact")
        side.set_title(f"feet over time: {motion.num_frames} frames at {motion.fps:g} fps")
        side.grid(alpha=0.3)
        if feet or made:
            side.legend(fontsize=7, loc="upper right")
        if title:
            fig.suptitle(title, fontsize=10)
        fig.tight_layout()
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_binary_writer(path) as f:
            fig.savefig(f, dpi=80, format="png")
    finally:
        plt.close(fig)
    return path
