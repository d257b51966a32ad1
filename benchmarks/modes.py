"""How far apart a model's modes are (``lmm_core/model/modes.py``), on held-out windows of the canonical
corpus posed as training poses them: per model file with modes, the mean joint error of its average (the
deterministic answer), of each window's nearest mode, and of a draw (each mode's error weighted by the
choice's probability), how far the modes' joints are from their mean, and the entropy of the choice.

The nearest mode against the average says what the modes could give were the right one always drawn; a
nearest mode no better than the average means every draw is the average again.

Usage: python benchmarks/modes.py MODEL.npz [MODEL.npz ...] [--corpus out/corpus_all] [--batches 6]
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
from lmm_core.errors import LMMError  # noqa: E402
from lmm_core.kinematics import fk  # noqa: E402
from lmm_core.model import network, runtime  # noqa: E402
from lmm_core.model.modes import probabilities  # noqa: E402
from lmm_core.model.sampling import with_flow  # noqa: E402
from lmm_core.model.window import finish  # noqa: E402
from lmm_core.train.data import TASKS, Corpus, task_masks  # noqa: E402

SOURCES = ("bandai1", "bandai2", "reactidle", "cmu", "cmu_iclone")
# The tasks measured: generation (two-second continuations, 96-frame windows) and blocking keys.
POSED = {"generation": "generate", "blocking": "blocking"}


def measure(m: runtime.Model, corpus: Corpus, task: str, batches: int, seed: int = 5) -> dict[str, float]:
    """The figures of one task over ``batches`` x 8 windows of 96 frames (metres, nats)."""
    mix = tuple(1.0 if t == task else 0.0 for t in TASKS)
    rng = np.random.default_rng(seed)
    offsets, parents = np.asarray(m.body.offsets), m.body.parents

    def joints(rot, pos):
        local = np.broadcast_to(offsets, rot.shape[:2] + (3,)).copy()
        local[:, 0] = pos
        return fk(rot, local, parents)[1]

    out = {"average": [], "nearest": [], "drawn": [], "apart": [], "choice": []}
    for _ in range(batches):
        b = corpus.sample(rng, 8, 96, False)
        known, hide, _ = task_masks(rng, 8, 96, mix, 60)
        for i in range(8):
            made = ~known[i].all(axis=1)
            if not made.any():
                continue
            win = m.prepare(b.rotations[i], b.root[i], known[i])
            x = with_flow(win.x, np.zeros(win.base.shape), 0.0, m.cfg.pos_freqs) if m.cfg.sampling else win.x
            labels = (np.array([0 if hide[i] else b.action[i]]), np.array([0 if hide[i] else b.style[i]]))
            avg, _, _, modes, choice = network.forward_modes(m.params, m.cfg, x[None], *labels)
            truth = joints(b.rotations[i], b.root[i])[made]
            answers = []
            for o in [avg[0]] + list(modes[0]):
                r, p, _ = finish(win, o.astype(np.float64), m.mean, m.std, m.scale)
                answers.append(joints(r, p)[made])
            err = [float(np.linalg.norm(a - truth, axis=-1).mean()) for a in answers]
            p = probabilities(choice[0], 1.0)
            mode_joints = np.stack(answers[1:])
            out["average"].append(err[0])
            out["nearest"].append(min(err[1:]))
            out["drawn"].append(float(np.dot(p, err[1:])))
            out["apart"].append(float(np.linalg.norm(mode_joints - mode_joints.mean(0), axis=-1).mean()))
            out["choice"].append(float(-(p * np.log(p + 1e-12)).sum()))
    return {k: float(np.mean(v)) for k, v in out.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="+")
    ap.add_argument("--corpus", type=Path, default=Path("out/corpus_all"))
    ap.add_argument("--batches", type=int, default=6)
    args = ap.parse_args()
    print("| model | task | windows | average cm | nearest mode cm | a draw cm | modes apart cm | choice entropy (nats; even: ln M) |")
    print("|---|---|---|---|---|---|---|---|")
    for path in args.models:
        m = runtime.load(path)
        if not m.cfg.modes:
            raise LMMError(f"{path} has no modes (it was not trained with --modes)")
        corpus = Corpus.from_corpus(args.corpus, "val", SOURCES, m.cfg.actions, m.cfg.styles)
        for name, task in POSED.items():
            r = measure(m, corpus, task, args.batches)
            print(f"| {Path(path).name} | {name} | {8 * args.batches} | {100 * r['average']:.1f} | {100 * r['nearest']:.1f} | "
                  f"{100 * r['drawn']:.1f} | {100 * r['apart']:.1f} | {r['choice']:.2f} of {np.log(m.cfg.modes):.2f} |")


if __name__ == "__main__":
    main()
