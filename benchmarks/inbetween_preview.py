"""A preview to look at, not a figure: one held-out walk blocked with two keys 60 frames apart, made by the
next-frame in-betweener (as shipped, and drawing one rollout a gap as it did before 2026-12-07), the window
network and interpolation beside the capture. Stick figures every 6
frames seen from the walker's side (set apart, each at its own place along the walk), and each method's
stance-foot speed: the slower toe's (in a walk one foot is always down; when that one moves, it slides). Writes docs/images/inbetween_next_frame.png.

Usage: python benchmarks/inbetween_preview.py [--corpus out/corpus_all] [--gap 60] [--window-model FILE]
       [--next-frame-model FILE[,FILE...]] [--out PNG]
(``--next-frame-model``: candidate in-betweeners, a row each, to look at before one is shipped; default the shipped one.)
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from lmm_core.bench.baselines import interpolation  # noqa: E402
from lmm_core.bench.blocking import TOES, held_out_groups, key_mask, windows  # noqa: E402
from lmm_core.canonical import PARENTS, canonical_skeleton  # noqa: E402
from lmm_core.model import next_frame, runtime, tasks  # noqa: E402
from lmm_core.motion import Motion  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def _one_rollout() -> "next_frame.NextFrameModel":
    """The shipped in-betweener drawing one rollout a gap (``next_frame.CANDIDATES`` off)."""
    m = next_frame.load(next_frame.DEFAULT_KEYS)
    m.candidates = 1
    return m


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--corpus", type=Path, default=Path("out/corpus_all"))
    ap.add_argument("--gap", type=int, default=60)
    ap.add_argument("--window-model", type=Path, default=ROOT / "presets" / "models" / "lmm_sampling.npz")
    ap.add_argument("--next-frame-model", help="in-betweener files, comma-separated (default: the shipped one)")
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "images" / "inbetween_next_frame.png")
    args = ap.parse_args()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    length = args.gap + 1
    clips = held_out_groups(args.corpus, raised=0)[0].clips
    clips = [c for c in clips if "walk" in c[0].lower()] or clips  # a held-out walk take where there is one
    # The first window (the benchmark's own draw) whose capture walks on: at least 1 m in the gap.
    rot, root = next((r, p) for r, p in windows(clips, length, 200)
                     if np.linalg.norm(p[-1, [0, 2]] - p[0, [0, 2]]) > 1.0)
    known = key_mask(length, args.gap)
    keys = np.flatnonzero(known)
    sk = canonical_skeleton()
    given = Motion(sk, rot, root, 30.0)
    made = {
        "capture": given,
        **{(f"next-frame in-betweener ({Path(f).stem})" if args.next_frame_model else "next-frame in-betweener"):
           tasks.inbetween(given, keys, method="next-frame", next_frame=f)
           for f in (args.next_frame_model.split(",") if args.next_frame_model else [None])},
        **({} if args.next_frame_model else {"next-frame in-betweener, one rollout (before 2026-12-07)": tasks.inbetween(
            given, keys, method="next-frame", next_frame=_one_rollout())}),
        f"window network ({args.window_model.stem})": tasks.inbetween(given, keys, runtime.load(args.window_model),
                                                                             method="network"),
        "interpolation": Motion(sk, *interpolation(rot, root, known), 30.0),
    }
    fig = plt.figure(figsize=(15, 2.0 * len(made) + 3))
    grid = fig.add_gridspec(len(made) + 1, 1, height_ratios=[1] * len(made) + [1.4])
    heading = next_frame._heading(rot[0, 0])
    fwd = np.array([np.sin(heading), 0.0, np.cos(heading)])
    speeds = {}
    for i, (name, mo) in enumerate(made.items()):
        ax = fig.add_subplot(grid[i])
        pos = mo.global_positions()
        for k, f in enumerate(range(0, mo.num_frames, 6)):
            x, y = (pos[f] - mo.root_positions[f] * [1, 0, 1]) @ fwd + 0.7 * k, pos[f][:, 1]
            for j, par in enumerate(PARENTS):
                if par >= 0:
                    ax.plot([x[j], x[par]], [y[j], y[par]], color="#333333" if f not in keys else "#c0392b", lw=1)
        ax.set_title(name, fontsize=9, loc="left")
        ax.set_aspect("equal")
        ax.axis("off")
        toes = pos[:, TOES]
        speeds[name] = np.linalg.norm(np.diff(toes[:, :, [0, 2]], axis=0), axis=-1).min(axis=1) * 30  # m/s
    ax = fig.add_subplot(grid[-1])
    for name, s in speeds.items():
        ax.plot(s, label=name, lw=1.2 if name != "capture" else 2.2,
                color="0.6" if name == "capture" else None)
    ax.set_xlabel("frame")
    ax.set_ylabel("slower toe's speed, m/s")
    ax.set_title(f"the stance foot should stand still between steps (keys at frames 0 and {args.gap}, in red above)",
                 fontsize=9, loc="left")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(args.out, dpi=70)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
