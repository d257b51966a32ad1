"""Goal-directed generation (`lmm generate --to/--path`, `--reach`) with the sampling model: how exactly
the goals are hit, whether the character walks there (foot skate against real walking's), and a top-down
plot of the pelvis and feet against the goals (docs/images/goals.png).

Usage: python benchmarks/goals.py [--model presets/models/lmm_sampling.npz] [--seeds 4] [--no-write]
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
from lmm_core.feet import foot_skate  # noqa: E402
from lmm_core.model import goals, runtime, tasks  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
FORWARD = np.array([0.0, 0.0, 1.0])
# (name, generate keywords): a point ahead, a point to the side arriving turned, a curved path.
CURVE = np.column_stack([np.linspace(0.0, 4.0, 181), 1.2 * np.sin(np.linspace(0.0, np.pi, 181))])
FAST_CURVE = np.column_stack([np.linspace(0.0, 4.0, 106), 1.2 * np.sin(np.linspace(0.0, np.pi, 106))])
LINE = np.column_stack([np.zeros(181), np.linspace(0.0, 4.0, 181)])
GOALS = (("to (0, 3) at 3 s", {"to": (0.0, 3.0), "at": 3.0}, 4.0),
         ("to (2.5, 1.5) facing 90, at its pace", {"to": (2.5, 1.5), "facing": 90.0}, 4.0),
         ("to (2.5, 1.5) facing 90 at 3 s", {"to": (2.5, 1.5), "at": 3.0, "facing": 90.0}, 4.0),
         ("path: 4 m straight over 6 s", {"path": LINE}, 6.5),
         ("path: an arc 4.8 m long over 3.5 s", {"path": FAST_CURVE}, 4.0),
         ("path: an arc 4.8 m long over 6 s", {"path": CURVE}, 6.5))


def run(model, seeds: int) -> tuple[list[str], dict]:
    rows, tracks = [], {}
    for name, kw, seconds in GOALS:
        err, face, skate, times, detour = [], [], [], [], []
        for seed in range(seeds):
            t = time.perf_counter()
            made = tasks.generate("walk", seconds=seconds, seed=seed, variation=1.0, model=model, method="network", **kw)
            times.append(time.perf_counter() - t)
            root = made.root_positions
            start = tasks._GOAL_START - 1
            if "to" in kw:
                # Where the pelvis is nearest the goal is when it arrived (the default --at is the model's own).
                f = int(round(kw["at"] * 30)) if "at" in kw else int(np.argmin(np.linalg.norm(root[:, [0, 2]] - kw["to"], axis=1)))
                err.append(np.linalg.norm(root[f, [0, 2]] - np.array(kw["to"])))
                walked = np.linalg.norm(np.diff(root[start:f + 1, [0, 2]], axis=0), axis=1).sum()
                detour.append(walked / max(np.linalg.norm(root[f, [0, 2]] - root[start, [0, 2]]), 1e-6))
                if "facing" in kw:
                    face.append(abs(float(goals.heading(made.rotations[f, 0], FORWARD)) - kw["facing"]))
            else:
                pts = kw["path"] - kw["path"][0] + root[start, [0, 2]]
                keys = np.arange(10, len(pts), 10)
                err.append(np.abs(root[keys + start][:, [0, 2]] - pts[keys]).max())
                walked = np.linalg.norm(np.diff(root[start:start + len(pts), [0, 2]], axis=0), axis=1).sum()
                detour.append(walked / np.linalg.norm(np.diff(pts, axis=0), axis=1).sum())
            skate.append(foot_skate(made))
            tracks.setdefault(name, []).append(made.global_positions())
        rows.append(f"| {name} | {seeds} | {np.max(err) * 1000:.3f} | "
                    f"{(f'{np.max(face):.4f}' if face else '-')} | {np.mean(detour):.2f} | {np.mean(skate):.3f} | "
                    f"{np.mean(times):.2f} |")
    return rows, tracks


def plot(tracks: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, (len(GOALS) + 1) // 2, figsize=(13, 8.5))
    axes = axes.ravel()
    for ax, (name, kw, _) in zip(axes, GOALS):
        for i, pos in enumerate(tracks[name]):
            ax.plot(pos[:, 0, 0], pos[:, 0, 2], color=f"C{i}", lw=1.4, label=f"seed {i} pelvis")
            for foot in (10, 11):  # toes: where they stop is where the feet were planted
                speed = np.linalg.norm(np.diff(pos[:, foot], axis=0), axis=1) * 30
                down = np.flatnonzero(speed < 0.3)
                ax.scatter(pos[down, foot, 0], pos[down, foot, 2], s=2, color=f"C{i}", alpha=0.5)
        if "to" in kw:
            ax.scatter([kw["to"][0]], [kw["to"][1]], marker="x", color="red", s=80, label="goal")
        else:
            start = tracks[name][0][tasks._GOAL_START - 1, 0, [0, 2]]
            pts = kw["path"] - kw["path"][0] + start
            ax.plot(pts[:, 0], pts[:, 1], color="red", ls="--", lw=0.8, label="path")
        ax.set_title(name, fontsize=9)
        ax.set_aspect("equal")
        ax.set_xlabel("x (m)")
        ax.set_ylabel("z (m)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=6)
    fig.suptitle("walking to goals: pelvis (lines) and planted toes (dots), top view", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=90)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", default="presets/models/lmm_sampling.npz")
    ap.add_argument("--seeds", type=int, default=4)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    model = runtime.load(args.model)
    rows, tracks = run(model, args.seeds)
    body = ("`lmm generate --action walk --method network --variation 1` with goals, one draw per seed. Hit: the "
            "largest distance over seeds between the pelvis and its goal on the ground at the goal's frame (for a "
            "path, at every root key, every 10 frames), and the facing error there. Skate: `feet.foot_skate` of "
            "the whole clip (real held-out walking: about 0.05, `benchmarks/generation.py`). Time: one clip, one "
            "thread. Pelvis path: its length on the ground over the goal's own (1.0: no detour).\n\n| goal | seeds | hit, mm (worst) | facing error, degrees (worst) | pelvis path / goal's | foot skate | time s |\n"
            "|---|---|---|---|---|---|---|\n" + "\n".join(rows) + "\n\n![goals](docs/images/goals.png)")
    print(body)
    if not args.no_write:
        plot(tracks, ROOT / "docs" / "images" / "goals.png")
        update_section("Model: goals (walk to a point, follow a path)", body, f"python benchmarks/goals.py --model {args.model}")


if __name__ == "__main__":
    main()
