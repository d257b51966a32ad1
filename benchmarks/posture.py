"""Posture of generated motion against the real takes of each action: how far the torso leans, how the hips
turn about the thigh, how often joints pass their limits, before and after the clean-up.

Why: a convention the retargeter leaves in one source (the Character Creator takes' zero rest pose twisted
their thighs 24-35 degrees; their back is cut unlike SMPL's) is learned by the generator and shows in what it
makes; joint limits fitted without that source bend it back in the clean-up (generated dances came out of it
stooped 33 degrees where the network made 17). For each action, ``--seeds`` clips of ``--seconds`` per
generator file, measured raw (the network's frames) and as users get them (joint limits and feet), against
the action's takes in the corpus (both splits):

- lean: the angle of the pelvis-to-neck line from vertical, degrees, mean over frames;
- hip twist: each thigh's mean turn about its bone (the joint limits' bone frames), degrees, mean of both;
- limits: the share of (frame, joint) pairs past the shipped joint limits, over the 21 limited joints (as
  `benchmarks/joint_limits.py` counts).

Usage: python benchmarks/posture.py [--next-frame-model A.npz,B.npz] [--corpus out/corpus_all] [--seeds 4]
       [--seconds 6] [--plot docs/images/posture.png] [--no-write]
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
from lmm_core.canonical import JOINT_INDEX, canonical_skeleton  # noqa: E402
from lmm_core.cleanup.apply import clean_up  # noqa: E402
from lmm_core.cleanup.limits import JointLimits, swing_twist  # noqa: E402
from lmm_core.model import next_frame  # noqa: E402
from lmm_core.motion import Motion  # noqa: E402

SECTION = "Model: posture of generated motion (lean, hip twist, limits)"
ACTIONS = ("dance", "jump", "climb", "swordplay", "dribble", "punch", "walk", "run", "idle")
SOURCES = ["bandai1", "bandai2", "reactidle", "cmu", "cmu_iclone"]
HIPS = (JOINT_INDEX["left_hip"], JOINT_INDEX["right_hip"])


def posture(rot: np.ndarray, root: np.ndarray, limits: JointLimits) -> np.ndarray:
    """``(3,)`` lean (degrees), hip twist (degrees), share of the limited joints' frames past ``limits`` of one clip
    (``rot (T, 22, 4)``, ``root (T, 3)`` metres)."""
    m = Motion(canonical_skeleton(), rot, root, 30.0)
    pos = m.global_positions()
    line = pos[:, JOINT_INDEX["neck"]] - pos[:, JOINT_INDEX["pelvis"]]
    lean = np.degrees(np.arccos(np.clip(line[:, 1] / np.linalg.norm(line, axis=-1), -1.0, 1.0))).mean()
    _, twist = swing_twist(rot, limits.frames)
    hips = twist[:, list(HIPS)]
    turn = np.degrees(np.abs(np.arctan2(np.sin(hips).mean(0), np.cos(hips).mean(0)))).mean()
    return np.array([lean, turn, limits.violations(m)[:, limits.limited].mean()])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--next-frame-model", help="generator files, comma-separated (default: the shipped one)")
    ap.add_argument("--corpus", type=Path, default=Path("out/corpus_all"))
    ap.add_argument("--seeds", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=6.0)
    ap.add_argument("--plot", type=Path, default=Path("docs/images/posture.png"))
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    t0 = time.perf_counter()
    limits = JointLimits.load()
    infos, arrays = dataset.load(args.corpus, None, SOURCES)
    real: dict[str, list[np.ndarray]] = {}
    start = 0
    for c in infos:
        if c.action in ACTIONS:
            real.setdefault(c.action, []).append(posture(arrays["rotations"][start:start + c.frames].astype(np.float64),
                                                         arrays["root"][start:start + c.frames].astype(np.float64), limits))
        start += c.frames
    files = args.next_frame_model.split(",") if args.next_frame_model else [None]
    rows = []  # (file name, action, raw (3,), clean (3,), real (3,))
    frames = int(round(args.seconds * 30))
    for path in files:
        nf = next_frame.load(path)
        name = Path(path).stem if path else next_frame.DEFAULT.stem
        for a in ACTIONS:
            if a not in nf.cfg.actions or a not in real:
                continue
            raw, clean = [], []
            for seed in range(args.seeds):
                rot, root, contacts = nf.generate(frames, nf.action_index(a), 0, seed, 1.0)
                raw.append(posture(rot, root, limits))
                done = clean_up(Motion(canonical_skeleton(), rot, root, 30.0), limits=limits, contacts=contacts > 0.5)
                clean.append(posture(done.rotations, done.root_positions, limits))
            rows.append((name, a, np.mean(raw, 0), np.mean(clean, 0), np.mean(real[a], 0)))
            print(f"{name} {a}: lean {rows[-1][2][0]:.1f} / {rows[-1][3][0]:.1f} (real {rows[-1][4][0]:.1f}), "
                  f"hip twist {rows[-1][2][1]:.1f} / {rows[-1][3][1]:.1f} (real {rows[-1][4][1]:.1f})", flush=True)
    lines = [
        "| generator | action | real takes | lean (deg): made / cleaned / real | hip twist (deg): made / cleaned / real | "
        "past a limit: made / cleaned / real |",
        "|---|---|---|---|---|---|",
    ]
    for name, a, raw, clean, r in rows:
        lines.append(f"| {name} | {a} | {len(real[a])} | {raw[0]:.1f} / {clean[0]:.1f} / {r[0]:.1f} | "
                     f"{raw[1]:.1f} / {clean[1]:.1f} / {r[1]:.1f} | {raw[2]:.3f} / {clean[2]:.3f} / {r[2]:.3f} |")
    lines += ["", f"{args.seeds} seeds x {args.seconds:g} s per action at variation 1, the default guidance; cleaned: the "
              "clean-up users get (joint limits, feet on the network's contacts). Real: the action's takes in the corpus "
              f"(both splits). Lean: pelvis-to-neck line from vertical; hip twist: each thigh's mean turn about its bone. "
              f"{time.perf_counter() - t0:.0f} s."]
    body = "\n".join(lines)
    print(body)
    if not args.no_write:
        _plot(rows, args.plot)
        command = "python benchmarks/posture.py" + (f" --next-frame-model {args.next_frame_model}" if args.next_frame_model else "")
        update_section(SECTION, body + f"\n\n![lean and hip twist per action]({args.plot})", command)


def _plot(rows, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = sorted({r[0] for r in rows}, key=[r[0] for r in rows].index)
    actions = sorted({r[1] for r in rows}, key=[r[1] for r in rows].index)
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
    width = 0.8 / (2 * len(names) + 1)
    for k, (title, col) in enumerate((("lean of the pelvis-to-neck line (deg)", 0), ("hip twist about the thigh (deg)", 1))):
        ax = axes[k]
        x = np.arange(len(actions))
        real = [next(r[4][col] for r in rows if r[1] == a) for a in actions]
        ax.bar(x, real, width, color="black", label="real takes")
        for i, n in enumerate(names):
            made = [next((r[2][col] for r in rows if r[0] == n and r[1] == a), np.nan) for a in actions]
            clean = [next((r[3][col] for r in rows if r[0] == n and r[1] == a), np.nan) for a in actions]
            ax.bar(x + (2 * i + 1) * width, made, width, label=f"{n}, made")
            ax.bar(x + (2 * i + 2) * width, clean, width, label=f"{n}, cleaned", alpha=0.6)
        ax.set_xticks(x + 0.4 - width / 2)
        ax.set_xticklabels(actions, rotation=30, fontsize=8)
        ax.set_title(title, fontsize=9)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=70)


if __name__ == "__main__":
    main()
