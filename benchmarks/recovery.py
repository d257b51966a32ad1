"""Recovery from a push (`lmm_core/bench/recovery.py`) for one or more model files, into BENCHMARKS.md with
a plot (docs/images/recovery.png): the torso's lean error after a push of 20 and 35 degrees at the end of
30 frames of held-out context, per frame of the 45 completed, against the pushed pose held still and the
model's completion of the unpushed context; and a filmstrip of one window.

Usage: python benchmarks/recovery.py [--models A.npz,B.npz] [--next-frame-models G.npz] [--corpus out/corpus_all]
       [--windows 40] [--no-write]

``--next-frame-models``: next-frame generators (``lmm_next_frame.npz``), carrying the pushed context on a
frame at a time (what ``lmm complete --method next-frame`` does).
"""
from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.report import update_section  # noqa: E402
from lmm_core.bench.blocking import IN_DOMAIN, windows  # noqa: E402
from lmm_core.bench.inbetween import corpus_clips  # noqa: E402
from lmm_core.bench.recovery import CONTEXT, FOLLOW, NextFrameCompleter, format_recovery, pushed, run_recovery  # noqa: E402
from lmm_core.canonical import PARENTS, canonical_skeleton  # noqa: E402
from lmm_core.model import next_frame, runtime  # noqa: E402
from lmm_core.model.runtime import Sample  # noqa: E402
from lmm_core.motion import Motion  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SHOWN = (-6, 0, 5, 10, 15, 30)  # frames after the push in the filmstrip


def _side(ax, pos: np.ndarray, colour: str, dx: float) -> None:
    """A stick figure seen from the side (Z right, Y up), shifted ``dx`` metres."""
    for j, p in enumerate(PARENTS):
        if p >= 0:
            ax.plot([pos[j, 2] + dx, pos[p, 2] + dx], [pos[j, 1], pos[p, 1]], color=colour, lw=1.6)


def plot(results: dict[str, dict], strip: dict[str, np.ndarray], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    degrees = list(next(iter(results.values())))
    fig = plt.figure(figsize=(12, 3.4 * (len(degrees) + len(strip)) / 2 + 1))
    grid = fig.add_gridspec(2, max(len(degrees), 1), height_ratios=[1.0, 0.25 * len(strip) + 0.6])
    x = np.arange(1, FOLLOW + 1)
    for col, deg in enumerate(degrees):
        ax = fig.add_subplot(grid[0, col])
        first = next(iter(results.values()))[deg]
        ax.plot(x, first["held"], color="grey", ls="--", label="pushed pose held")
        ax.plot(x, first["unpushed"], color="black", ls=":", label="model, no push (the floor)")
        for name, res in results.items():
            for method in ("model", "sampled"):
                if method in res[deg]:
                    ax.plot(x, res[deg][method], label=f"{name} ({method})")
        ax.axvline(15, color="red", lw=0.8, label="half a second")
        ax.set_title(f"push of {deg:g} degrees: torso lean error")
        ax.set_xlabel("frames after the push (30 fps)")
        ax.set_ylabel("degrees")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    ax = fig.add_subplot(grid[1, :])
    for row, (name, pos) in enumerate(strip.items()):
        for k, f in enumerate(SHOWN):
            p = pos[CONTEXT - 1 + f] - [0.0, 2.1 * row, 0.0]
            p = p - [0.0, 0.0, pos[CONTEXT - 1 + f, 0, 2]]
            _side(ax, p, f"C{row}", 1.1 * k)
        ax.text(-0.9, -2.1 * row + 1.0, name, fontsize=8, ha="right")
    for k, f in enumerate(SHOWN):
        ax.text(1.1 * k, 2.0, f"{f:+d}", ha="center", fontsize=8)
    ax.set_aspect("equal")
    ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=90)


def filmstrip(clips: list, model, degrees: float = 35.0) -> dict[str, np.ndarray]:
    """Global positions of one held-out window: the capture, and the model's completions after a push."""
    rot, root = windows(clips, CONTEXT + FOLLOW, 40, seed=1)[3]
    sk = canonical_skeleton()
    bent = pushed(rot[:CONTEXT], degrees, 0.0)
    out = {"capture (no push)": Motion(sk, rot, root, 30.0).global_positions()}
    runs = {"model after the push": None}
    if model.samples:
        runs["a draw after the push"] = Sample.seeded(0, temperature=1.0)
    for name, sample in runs.items():
        r, p, _ = model.complete(bent, root[:CONTEXT], FOLLOW, sample=sample)
        out[name] = Motion(sk, r[: CONTEXT + FOLLOW], p[: CONTEXT + FOLLOW], 30.0).global_positions()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--models", default="presets/models/lmm_sampling.npz")
    ap.add_argument("--next-frame-models", default="")
    ap.add_argument("--corpus", type=Path, default=Path("out/corpus_all"))
    ap.add_argument("--windows", type=int, default=40)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    clips = [(c.name, c.rotations, c.root) for c in corpus_clips(args.corpus, "val", list(IN_DOMAIN))]
    results, text = {}, []
    models = [(path, runtime.load) for path in args.models.split(",") if path] + \
        [(path, lambda f: NextFrameCompleter(next_frame.load(f))) for path in args.next_frame_models.split(",") if path]
    for path, load in models:
        model = load(path)
        name = Path(path).stem
        results[name] = run_recovery(clips, model, count=args.windows)
        text.append(f"{name}:\n{format_recovery(results[name])}")
    table = "\n\n".join(text)
    body = ("A held-out take's context (30 frames, the validation takes of every in-domain source) whose last 5 "
            "frames lean over by a push of the pelvis and spine (20 or 35 degrees about a random horizontal "
            f"axis), completed by the model for {FOLLOW} frames. The torso's lean error against the capture's own "
            "continuation, in degrees, at frames after the push (mean over "
            f"{args.windows} windows): `held` is the pushed pose kept still (no recovery), `unpushed` the "
            "model's completion of the same context without the push (how far any plausible future lies "
            "from the capture's: the floor). Recovered within half a second: near `unpushed` by +15.\n\n"
            f"```\n{table}\n```\n\n![recovery](docs/images/recovery.png)")
    print(body)
    if not args.no_write:
        path, load = models[-1]
        plot(results, filmstrip(clips, load(path)), ROOT / "docs" / "images" / "recovery.png")
        update_section("Model: recovery from a push", body, f"python benchmarks/recovery.py --models {args.models}"
                       + (f" --next-frame-models {args.next_frame_models}" if args.next_frame_models else ""))


if __name__ == "__main__":
    main()
