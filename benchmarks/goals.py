"""Goal-directed generation (`lmm generate --to/--path`) by the window network (the sampling model) and by
the next-frame networks (the in-betweener walking to pelvis keys, the generator carrying on): how exactly
the goals are hit, whether the character walks there (foot skate against real walking's), and a top-down
plot of the pelvis and feet against the goals (docs/images/goals.png, one row of plots per method).

Usage: python benchmarks/goals.py [--model presets/models/lmm_sampling.npz] [--methods network,next-frame]
       [--next-frame-keys FILE] [--corpus out/corpus_all] [--seeds 4] [--no-write]

With ``--corpus``, the same foot-skate measure on real walking: the held-out walks of the corpus cut into
4-second clips (the measure counts a foot near the floor that moves, so real walking is not 0).
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
from lmm_core.model import goals, next_frame, runtime, tasks  # noqa: E402

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


def run(model, seeds: int, method: str = "network", steer=None) -> tuple[list[str], dict]:
    rows, tracks = [], {}
    extra = {"next_frame_keys": steer} if method == "next-frame" else {}
    for name, kw, seconds in GOALS:
        err, face, skate, times, detour = [], [], [], [], []
        for seed in range(seeds):
            t = time.perf_counter()
            made = tasks.generate("walk", seconds=seconds, seed=seed, variation=1.0, model=model, method=method,
                                  **extra, **kw)
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
        rows.append(f"| {method} | {name} | {seeds} | {np.max(err) * 1000:.3f} | "
                    f"{(f'{np.max(face):.4f}' if face else '-')} | {np.mean(detour):.2f} | {np.mean(skate):.3f} | "
                    f"{np.mean(times):.2f} |")
    return rows, tracks


def real_walking_skate(corpus: Path, seconds: float = 4.0) -> tuple[float, int]:
    """Mean ``foot_skate`` of the held-out walks (Bandai's validation takes named walk) cut into clips of
    ``seconds``, and how many clips."""
    from lmm_core.bench.inbetween import corpus_clips
    from lmm_core.canonical import canonical_skeleton
    from lmm_core.motion import Motion

    n = int(seconds * 30)
    values = [foot_skate(Motion(canonical_skeleton(), c.rotations[s:s + n], c.root[s:s + n], 30.0))
              for c in corpus_clips(corpus, "val", ["bandai1", "bandai2"]) if "walk" in c.name.lower()
              for s in range(0, len(c.root) - n + 1, n)]
    return float(np.mean(values)), len(values)


def plot(by_method: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(by_method), len(GOALS), figsize=(3.2 * len(GOALS), 3.4 * len(by_method)), squeeze=False)
    for row, (method, tracks) in zip(axes, by_method.items()):
        _plot_row(row, method, tracks)
    fig.suptitle("walking to goals: pelvis (lines) and planted toes (dots), top view; one row per method", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=80)


def _plot_row(axes, method: str, tracks: dict) -> None:
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
        ax.set_title(f"{method}: {name}", fontsize=8)
        ax.set_aspect("equal")
        ax.set_xlabel("x (m)")
        ax.set_ylabel("z (m)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=5)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", default="presets/models/lmm_sampling.npz")
    ap.add_argument("--methods", default="network,next-frame")
    ap.add_argument("--next-frame-keys", default=None, help="the next-frame in-betweener (default: the shipped one)")
    ap.add_argument("--corpus", type=Path, help="a built corpus: real walking's skate beside the table's")
    ap.add_argument("--seeds", type=int, default=4)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    model = runtime.load(args.model)
    steer = next_frame.load(args.next_frame_keys) if args.next_frame_keys else None
    gen = next_frame.load(next_frame.DEFAULT)
    steering = tasks._steering(steer, gen)
    steered = (f"`{args.next_frame_keys}`" if args.next_frame_keys else
               "the generator `presets/models/lmm_next_frame.npz`" if steering is gen else
               "the in-betweener `presets/models/lmm_next_frame_keys.npz`")
    rows, by_method = [], {}
    for method in args.methods.split(","):
        r, by_method[method] = run(model, args.seeds, method, steer)
        rows += r
    body = ("`lmm generate --action walk --method M --variation 1` with goals, one draw per seed: `network` the window "
            f"network (`{args.model}`), `next-frame` a next-frame network turned towards the pelvis keys as it "
            f"walks (`NextFrameModel.steer`: here {steered}; keys at most {tasks.NEXT_FRAME_SPACING} frames apart, on "
            f"a path every {tasks.NEXT_FRAME_PATH_SPACING}) and the generator carrying on after the last. Hit: the "
            "largest distance over seeds between the pelvis and its goal on the ground at the goal's frame (for a "
            f"path, every 10 frames along it: the window network has a root key there, the next-frame one every "
            f"{tasks.NEXT_FRAME_PATH_SPACING}), and the facing error there. Skate: `feet.foot_skate` of "
            "the whole clip. Time: one clip, one "
            "thread. Pelvis path: its length on the ground over the goal's own (1.0: no detour).\n\n| method | goal | seeds | hit, mm (worst) | facing error, degrees (worst) | pelvis path / goal's | foot skate | time s |\n"
            "|---|---|---|---|---|---|---|---|\n" + "\n".join(rows) + "\n\n![goals](docs/images/goals.png)")
    if args.corpus:
        real, clips = real_walking_skate(args.corpus)
        body = body.replace("\n\n![goals]", f"\n\nReal walking, the same skate measure: {real:.3f} (the held-out Bandai "
                            f"walks cut into {clips} clips of 4 s; a foot near the floor that moves counts, so real "
                            "walking is not 0).\n\n![goals]")
    print(body)
    if not args.no_write:
        plot(by_method, ROOT / "docs" / "images" / "goals.png")
        command = f"python benchmarks/goals.py --model {args.model} --methods {args.methods}" + \
            (f" --next-frame-keys {args.next_frame_keys}" if args.next_frame_keys else "") + \
            (f" --corpus {args.corpus}" if args.corpus else "")
        update_section("Model: goals (walk to a point, follow a path)", body, command)


if __name__ == "__main__":
    main()
