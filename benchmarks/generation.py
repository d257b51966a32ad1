"""Generation quality against real motion (the sampling-model issue's measures): recognisability by a
classifier trained on real clips, Fréchet distance in its feature space, diversity between seeds against
diversity between real takes, novelty (distance to the nearest training window), foot skate and joint
limits; for each generation method of the model.

Usage: python benchmarks/generation.py [--model presets/models/lmm_default.npz] [--corpus out/corpus]
       [--methods segments,network,next-frame] [--next-frame-model FILE] [--seeds 4] [--first-seed 0] [--seconds 6] [--no-write]
Needs a built corpus (`lmm dataset build --out out/corpus`).
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
from lmm_core.bench import generation as G  # noqa: E402
from lmm_core.canonical import canonical_skeleton  # noqa: E402
from lmm_core.feet import foot_skate  # noqa: E402
from lmm_core.cleanup.limits import JointLimits  # noqa: E402
from lmm_core.model import next_frame, runtime, tasks  # noqa: E402
from lmm_core.motion import Motion  # noqa: E402
from lmm_core.progress import progress  # noqa: E402

SOURCES = ["bandai1", "bandai2", "reactidle", "cmu", "cmu_iclone"]


def clips_of(corpus: Path, split: str) -> list[tuple[str, np.ndarray, np.ndarray]]:
    infos, arrays = dataset.load(corpus, split, SOURCES)
    out, start = [], 0
    for c in infos:
        out.append((c.action, arrays["rotations"][start:start + c.frames].astype(np.float64),
                    arrays["root"][start:start + c.frames].astype(np.float64)))
        start += c.frames
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", type=Path, default=runtime.DEFAULT_MODEL)
    ap.add_argument("--corpus", type=Path, default=Path("out/corpus"))
    ap.add_argument("--methods", default="segments,network")
    ap.add_argument("--variation", type=float, default=1.0, help="the network and next-frame methods' temperature")
    ap.add_argument("--guidance", help="the next-frame network's label guidance, or several comma-separated "
                                       "(default: the runtime's)")
    ap.add_argument("--next-frame-model", help="the next-frame network, or several comma-separated files "
                                               "(default: the shipped one)")
    ap.add_argument("--seeds", type=int, default=4)
    ap.add_argument("--first-seed", type=int, default=0,
                    help="the first seed (seeds FIRST to FIRST+SEEDS-1): another draw of the same measure, to see its spread")
    ap.add_argument("--seconds", type=float, default=6.0)
    ap.add_argument("--per-action", action="store_true",
                    help="also print each action's share recognised, real held-out and generated (not written)")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    t0 = time.perf_counter()
    model = runtime.load(args.model)
    # Every (method, next-frame file, guidance) to generate with; the window methods have no file.
    runs: list[tuple[str, str, next_frame.NextFrameModel | None]] = []
    for method in args.methods.split(","):
        if method != "next-frame":
            runs.append((method, f"generated ({method})", None))
            continue
        paths = args.next_frame_model.split(",") if args.next_frame_model else [None]
        for path in paths:
            for g in (args.guidance.split(",") if args.guidance else [None]):
                nf = next_frame.load(path)
                if g is not None:
                    nf.guidance = float(g)
                name = Path(path).stem if path else next_frame.DEFAULT.stem
                runs.append((method, f"generated (next-frame, {name}, guidance {nf.guidance:g})", nf))
    limits = JointLimits.load()
    canon = canonical_skeleton()
    train, val = clips_of(args.corpus, "train"), clips_of(args.corpus, "val")

    # The judge: a classifier of real training windows, and the training windows for novelty.
    feats, labels, traces = [], [], []
    classes = tuple(sorted({a for a, _, _ in train}))
    for action, rot, root in progress(train, desc="train windows", unit="clip"):
        for r, p in G.windows_of(rot, root):
            feats.append(G.window_features(r, p))
            labels.append(classes.index(action))
            traces.append(G.pose_trace(r, p))
    clf = G.Classifier(np.array(feats), np.array(labels), classes)
    bank = np.array(traces)
    train_acc = float(np.mean(clf.predict(np.array(feats)) == np.array(labels)))

    frames = int(round(args.seconds * 30))
    actions = sorted({a for a, _, _ in val} & set(classes) & set(model.cfg.actions[1:]))
    real = {"windows": [], "labels": [], "traces": [], "skate": [], "viol": [], "diversity": []}
    for a in actions:
        takes = [(r, p) for act, r, p in val if act == a]
        for r, p in takes:
            for w in G.windows_of(r, p):
                real["windows"].append(G.window_features(*w))
                real["labels"].append(classes.index(a))
                real["traces"].append(G.pose_trace(*w))
        per = [(foot_skate(Motion(canon, r, p, 30.0)), limits.violations(Motion(canon, r, p, 30.0)).mean()) for r, p in takes]
        real["skate"].append(np.mean([s for s, _ in per]))
        real["viol"].append(np.mean([v for _, v in per]))
        long = [(r[:frames], p[:frames]) for r, p in takes if len(p) >= frames]
        if len(long) >= 2:
            real["diversity"].append(G.diversity(long[:8]))
    rw = np.array(real["windows"])
    # The measure's floor: two random halves of the real held-out windows (not split by action).
    half = np.random.default_rng(0).permutation(len(rw))
    rows = {"real held-out": {
        "recognised": float(np.mean(clf.predict(rw) == np.array(real["labels"]))),
        "frechet": G.frechet(clf.standardise(rw[half[: len(rw) // 2]]), clf.standardise(rw[half[len(rw) // 2:]])),
        "diversity": float(np.mean(real["diversity"])) if real["diversity"] else float("nan"),
        "nearest": G.nearest(np.array(real["traces"]), bank),
        "skate": float(np.mean(real["skate"])), "viol": float(np.mean(real["viol"])), "windows": len(rw)}}

    for method, row_name, nf in runs:
        wins, labs, trs, skate, viol, div = [], [], [], [], [], []
        for a in progress(actions, desc=row_name, unit="action"):
            outs = []
            variation = {"network": args.variation if model.samples else 0.0, "next-frame": args.variation}.get(method, 0.5)
            if method == "segments" and a not in model.generatable_actions():
                continue
            for seed in range(args.first_seed, args.first_seed + args.seeds):
                mo = tasks.generate(a, None, args.seconds, seed, variation, model=model, method=method, next_frame=nf)
                outs.append((mo.rotations, mo.root_positions))
                skate.append(foot_skate(mo))
                viol.append(limits.violations(mo).mean())
                for w in G.windows_of(mo.rotations, mo.root_positions):
                    wins.append(G.window_features(*w))
                    labs.append(classes.index(a))
                    trs.append(G.pose_trace(*w))
            div.append(G.diversity(outs))
        if not wins:  # a model file without a bank of recorded segments
            print(f"{method}: nothing generated (the model holds no segments of these actions)", file=sys.stderr)
            continue
        gw = np.array(wins)
        if args.per_action:
            got, want = clf.predict(gw), np.array(labs)
            rl, rp = np.array(real["labels"]), clf.predict(rw)
            print(f"\n{row_name}: share recognised per action (real held-out / generated; what it is taken for most)")
            for a in actions:
                i = classes.index(a)
                mine = got[want == i]
                if not len(mine):  # segments of an action the bank holds none of
                    continue
                other = np.bincount(mine[mine != i], minlength=len(classes))
                print(f"  {a:20s} {np.mean(rp[rl == i] == i):.2f} / {np.mean(mine == i):.2f}"
                      + (f"  ({classes[int(other.argmax())]} {other.max() / len(mine):.2f})" if other.any() else ""))
        rows[row_name] = {
            "recognised": float(np.mean(clf.predict(gw) == np.array(labs))),
            "frechet": G.frechet(clf.standardise(gw), clf.standardise(rw)),
            "diversity": float(np.mean(div)), "nearest": G.nearest(np.array(trs), bank),
            "skate": float(np.mean(skate)), "viol": float(np.mean(viol)), "windows": len(gw)}

    lines = ["| clips | windows | recognised | Fréchet distance to real held-out | diversity (cm) | nearest training "
             "window, mean / 5th pct (cm) | foot skate | limit violations |", "|---|---|---|---|---|---|---|---|"]
    for name, r in rows.items():
        near = r["nearest"] * 100
        lines.append(f"| {name} | {r['windows']} | {r['recognised']:.3f} | {r['frechet']:.1f} | {r['diversity'] * 100:.1f} | "
                     f"{near.mean():.1f} / {np.percentile(near, 5):.1f} | {r['skate']:.3f} | {r['viol']:.4f} |")
    body = ("\n".join(lines) + f"\n\nModel `{args.model}`; {args.seeds} seeds (from {args.first_seed}) x {len(actions)} actions ({', '.join(actions)}: "
            f"those of the validation split the model knows), {args.seconds:g} s each, no style; the network method at "
            f"temperature {args.variation:g}" + (f", the next-frame network at temperature {args.variation:g}"
                                                if "next-frame" in args.methods else "") + f". The judge: logistic regression on {len(feats)} real training windows of 2 s "
            f"({len(classes)} actions; {train_acc:.2f} of its own training windows right). The real held-out row's Fréchet "
            f"distance is between its two halves (the floor of this measure). Diversity: mean joint distance "
            f"(pelvis-relative) between seeds, and for real motion between takes of the same action. "
            f"{time.perf_counter() - t0:.0f} s.")
    print(body)
    if not args.no_write:
        update_section("Model: generation against real motion (classifier, Fréchet, novelty)", body,
                       "python benchmarks/generation.py")


if __name__ == "__main__":
    main()
