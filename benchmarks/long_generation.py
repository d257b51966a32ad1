"""Long generation: does made motion keep going for 30 s without freezing, drifting off or jittering?

For a few actions, each method makes ``--seconds`` of motion per seed; per block of 5 s it reports the
pelvis's ground speed (m/s), the joints' mean turning speed (degrees/s) and the 99th-percentile joint
acceleration (m/s^2), against the same figures over the action's real clips (both splits of the corpus),
and plots the pelvis and joint speeds over time.

Usage: python benchmarks/long_generation.py [--corpus out/corpus_all] [--methods segments,network,next-frame]
       [--model presets/models/lmm_sampling.npz] [--next-frame-model FILE] [--seconds 30] [--seeds 3]
       [--actions walk,run,idle,wave-right-hand,dance] [--plot docs/images/long_generation.png] [--no-write]
"""
from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.report import update_section  # noqa: E402
from lmm_core import dataset  # noqa: E402
from lmm_core import rotations as R  # noqa: E402
from lmm_core.canonical import canonical_skeleton  # noqa: E402
from lmm_core.model import next_frame, runtime, tasks  # noqa: E402
from lmm_core.motion import Motion  # noqa: E402
from lmm_core.progress import progress  # noqa: E402

SOURCES = ["bandai1", "bandai2", "reactidle", "cmu", "cmu_iclone"]
BLOCK = 150  # frames: 5 s at 30 fps


def measures(rot: np.ndarray, root: np.ndarray, fps: float = 30.0) -> dict[str, np.ndarray]:
    """Per frame: pelvis ground speed (m/s), mean joint turning speed (deg/s), and the joints' accelerations
    (m/s^2, one number per joint and frame) of canonical motion ``rot (T, 22, 4)``, ``root (T, 3)``."""
    pos = Motion(canonical_skeleton(), rot, root, fps).global_positions()
    ground = np.linalg.norm(np.diff(root[:, [0, 2]], axis=0), axis=1) * fps
    turn = np.degrees(R.angle(R.inv_mul(rot[:-1, 1:], rot[1:, 1:]))).mean(axis=1) * fps
    acc = np.linalg.norm(pos[2:] - 2 * pos[1:-1] + pos[:-2], axis=-1) * fps * fps
    return {"ground": ground, "turn": turn, "acc": acc}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--corpus", type=Path, default=Path("out/corpus_all"))
    ap.add_argument("--methods", default="segments,network,next-frame")
    ap.add_argument("--model", type=Path, default=runtime.DEFAULT_MODEL.parent / "lmm_sampling.npz",
                    help="the window model (segments, network); the default one never trained on cmu_iclone's dance")
    ap.add_argument("--guidance", type=float, help="the next-frame network's label guidance (default: the runtime's)")
    ap.add_argument("--next-frame-model", type=Path)
    ap.add_argument("--variation", type=float, default=1.0, help="the network and next-frame methods' temperature")
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--actions", default="walk,run,idle,wave-right-hand,dance")
    ap.add_argument("--plot", type=Path, default=Path("docs/images/long_generation.png"))
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    t0 = time.perf_counter()
    model = runtime.load(args.model)
    methods = args.methods.split(",")
    nf = next_frame.load(args.next_frame_model) if "next-frame" in methods else None
    if nf is not None and args.guidance is not None:
        nf.guidance = args.guidance
    actions = args.actions.split(",")
    infos, arrays = dataset.load(args.corpus, None, SOURCES)
    real: dict[str, dict[str, np.ndarray]] = {}
    start = 0
    for c in infos:
        if c.action in actions and c.frames >= 3:
            m = measures(arrays["rotations"][start:start + c.frames].astype(np.float64),
                         arrays["root"][start:start + c.frames].astype(np.float64))
            r = real.setdefault(c.action, {k: [] for k in m})
            for k, v in m.items():
                r[k].append(v)
        start += c.frames
    real = {a: {k: np.concatenate(v) for k, v in r.items()} for a, r in real.items()}
    frames = int(round(args.seconds * 30))
    blocks = max(1, frames // BLOCK)
    made: dict[tuple[str, str], list[dict[str, np.ndarray]]] = {}
    took: dict[str, list[float]] = {}  # seconds per 10 s of motion, clean-up included
    for method in methods:
        for a in progress(actions, desc=f"generate ({method})", unit="action"):
            variation = {"network": args.variation if model.samples else 0.0, "next-frame": args.variation}.get(method, 0.5)
            for seed in range(args.seeds):
                t = time.perf_counter()
                mo = tasks.generate(a, None, args.seconds, seed, variation, model=model, method=method, next_frame=nf)
                took.setdefault(method, []).append((time.perf_counter() - t) * 10 / args.seconds)
                made.setdefault((a, method), []).append(measures(mo.rotations, mo.root_positions))

    head = [f"{i * 5}-{(i + 1) * 5} s" for i in range(blocks)]
    lines = ["| action | motion | pelvis ground speed m/s by 5 s block: " + " / ".join(head) +
             " | joint turning speed deg/s, first / last block | p99 joint acceleration m/s², first / last block |",
             "|---|---|---|---|---|"]
    for a in actions:
        if a in real:
            r = real[a]
            lines.append(f"| {a} | real clips (all takes) | {r['ground'].mean():.2f} | {r['turn'].mean():.0f} | "
                         f"{np.percentile(r['acc'], 99):.1f} |")
        for method in methods:
            runs = made.get((a, method))
            if not runs:
                continue
            by = lambda k, i, f=np.mean: f(np.concatenate([m[k][i * BLOCK:(i + 1) * BLOCK].ravel() for m in runs]))  # noqa: E731
            p99 = lambda x: np.percentile(x, 99)  # noqa: E731
            lines.append(f"| {a} | {method} | " + " / ".join(f"{by('ground', i):.2f}" for i in range(blocks)) +
                         f" | {by('turn', 0):.0f} / {by('turn', blocks - 1):.0f} | "
                         f"{by('acc', 0, p99):.1f} / {by('acc', blocks - 1, p99):.1f} |")
    body = ("\n".join(lines) + f"\n\n{args.seeds} seeds per action and method, {args.seconds:g} s each, no style; "
            f"window model `{_shown(args.model)}`" + (f", next-frame model `{args.next_frame_model or next_frame.DEFAULT.name}` (label guidance {nf.guidance:g})" if nf else "")
            + f"; the network methods at temperature {args.variation:g}, segments at 0.5. Real: every clip of the "
            f"action in the corpus, both splits. Time to make 10 s of motion, clean-up included, one thread (median): "
            + ", ".join(f"{m} {np.median(v):.2f} s" for m, v in took.items()) + f". {time.perf_counter() - t0:.0f} s in all.")
    print(body)
    if not args.no_write:
        _plot(made, real, actions, methods, args.plot)
        if nf is not None:
            strip = args.plot.with_name(args.plot.stem + "_strip.png")
            _filmstrip(actions, model, nf, args.variation, strip)
            body += f"\n\n![the next-frame network's first 10 s of each action, every 12 frames, seen from its right]({strip})"
        update_section("Model: long generation (30 s without freezing, drift or jitter)", body +
                       f"\n\n![pelvis and joint speed over time]({args.plot})", "python benchmarks/long_generation.py")


def _shown(path: Path) -> str:
    """A path as the report shows it: relative to the repository where it lies inside it."""
    root = Path(__file__).resolve().parents[1]
    try:
        return str(path.resolve().relative_to(root))
    except ValueError:
        return str(path)


def _filmstrip(actions, model, nf, variation: float, path: Path, seconds: float = 10.0, every: int = 12) -> None:
    """Stick figures of the next-frame network's motion (seed 0), one row per action, every ``every``
    frames, each seen from its own right side (its heading to the right) and set side by side."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from lmm_core.canonical import PARENTS

    fig, axes = plt.subplots(len(actions), 1, figsize=(15, 1.9 * len(actions)), squeeze=False)
    for ax, a in zip(axes[:, 0], actions):
        mo = tasks.generate(a, None, seconds, 0, variation, model=model, method="next-frame", next_frame=nf)
        pos = mo.global_positions()
        travelled = np.linalg.norm(np.diff(mo.root_positions[:, [0, 2]], axis=0), axis=1).sum()
        for k, f in enumerate(range(0, mo.num_frames, every)):
            yaw = next_frame._heading(mo.rotations[f, 0])
            p = pos[f] - mo.root_positions[f] * [1, 0, 1]
            ahead = p[:, 0] * np.sin(yaw) + p[:, 2] * np.cos(yaw)
            for j, par in enumerate(PARENTS):
                if par >= 0:
                    ax.plot([k * 0.8 + ahead[j], k * 0.8 + ahead[par]], [p[j, 1], p[par, 1]], color="#333333", lw=1)
        ax.set_title(f"{a}: {seconds:g} s, every {every} frames; the pelvis travelled {travelled:.1f} m", fontsize=9)
        ax.set_aspect("equal")
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=70)


def _plot(made, real, actions, methods, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, len(actions), figsize=(3.2 * len(actions), 5.2), squeeze=False)
    for j, a in enumerate(actions):
        for i, k in enumerate(("ground", "turn")):
            ax = axes[i, j]
            if a in real:
                lo, hi = np.percentile(real[a][k], [25, 75])
                ax.axhspan(lo, hi, color="0.85", label="real, middle half")
            for method in methods:
                runs = made.get((a, method))
                if runs:
                    # One second's running mean: the per-frame figure of a stepping body swings within a stride.
                    curve = np.mean([np.convolve(m[k], np.ones(30) / 30, mode="valid") for m in runs], axis=0)
                    ax.plot(np.arange(len(curve)) / 30 + 0.5, curve, label=method)
            ax.set_title(a if i == 0 else "", fontsize=9)
            ax.set_ylabel("pelvis m/s" if k == "ground" else "joints deg/s", fontsize=8) if j == 0 else None
            ax.tick_params(labelsize=7)
            if i == 1:
                ax.set_xlabel("seconds", fontsize=8)
    axes[0, 0].legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)


if __name__ == "__main__":
    main()
