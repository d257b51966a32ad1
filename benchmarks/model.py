"""The model's measures (issue 4): in-betweening on Bandai's validation split, speed on one thread,
and generation quality (foot skate, joint limits, diversity, recognisability).

Usage: python benchmarks/model.py [--model presets/models/lmm_default.npz] [--corpus out/corpus] [--no-write]
Needs a built corpus (`lmm dataset build --out out/corpus`).
"""
from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.report import update_section  # noqa: E402
from lmm_core import canonical as cn  # noqa: E402
from lmm_core import dataset  # noqa: E402
from lmm_core.bench.baselines import BASELINES  # noqa: E402
from lmm_core.bench.inbetween import load_model_inbetweener, run_inbetween  # noqa: E402
from lmm_core.feet import foot_skate  # noqa: E402
from lmm_core.cleanup.limits import JointLimits  # noqa: E402
from lmm_core.model import runtime, tasks  # noqa: E402
from lmm_core.motion import Motion  # noqa: E402

LENGTHS = ("5", "15", "30", "45")
# Published LAFAN1 results as ratios to interpolation (L2P), for orientation only: other data.
PUBLISHED = {"ERD-QV (Harvey 2020)": {"30": 1.28 / 2.3158}, "Two-stage transformer (Qin 2022)": {"5": 0.1049 / 0.3729, "15": 0.3943 / 1.2488, "30": 0.8948 / 2.3158}}


def inbetween_section(model_path: Path, corpus: Path) -> tuple[str, dict]:
    model = load_model_inbetweener(model_path, cn.canonical_skeleton())
    own = f"{model.model.cfg.baseline} (the model's baseline, no network)"
    res = run_inbetween(corpus=corpus, split="val", sources=["bandai1", "bandai2"], model=model,
                        methods={**BASELINES, own: model.baseline_only()})
    rows = []
    for metric in ("L2Q", "L2P", "NPSS"):
        for name in ("zerovel", "interp", own, "model"):
            vals = res[name][metric]
            rows.append(f"| {metric} | {name} | " + " | ".join(f"{vals[n]:.4f}" for n in LENGTHS) + " |")
    ratio = {n: res["model"]["L2P"][n] / res["interp"]["L2P"][n] for n in LENGTHS}
    rows.append(f"| L2P / interp | {own} | " + " | ".join(f"{res[own]['L2P'][n] / res['interp']['L2P'][n]:.3f}" for n in LENGTHS) + " |")
    rows.append("| L2P / interp | model | " + " | ".join(f"{ratio[n]:.3f}" for n in LENGTHS) + " |")
    for name, vals in PUBLISHED.items():
        rows.append(f"| L2P / interp (LAFAN1, published) | {name} | " + " | ".join(f"{vals[n]:.3f}" if n in vals else "" for n in LENGTHS) + " |")
    body = ("Bandai validation split (takes never trained on), canonical body at 30 fps, the LAFAN1 protocol: windows "
            "of 65 frames every 40, 10 context frames, key at 10+n; L2P normalised by training-window statistics.\n\n"
            "| metric | method | 5 | 15 | 30 | 45 |\n|---|---|---|---|---|---|\n" + "\n".join(rows) +
            f"\n\nGoal: L2P at 30 at most 0.45 of interpolation's; measured {ratio['30']:.3f}.")
    return body, res


def timed(fn, repeat: int = 5) -> float:
    fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def speed_section(model_path: Path, clip_rot: np.ndarray, clip_root: np.ndarray) -> str:
    load_s = timed(lambda: runtime.load(model_path), 3)
    m = runtime.load(model_path)
    known = np.zeros(41, dtype=bool)
    known[:10] = True
    known[40] = True
    ib = timed(lambda: m.inbetween(clip_rot[:41], clip_root[:41], known))
    walk = m.action_index("walk")
    gen = timed(lambda: m.generate(300, walk, 0, seed=1), 3)
    m.symmetric = False  # one pass instead of two (the shipped default averages a mirrored pass in)
    ib1 = timed(lambda: m.inbetween(clip_rot[:41], clip_root[:41], known))
    gen1 = timed(lambda: m.generate(300, walk, 0, seed=1), 3)
    return ("| task | time (one thread) | one pass, not mirror-averaged | goal |\n|---|---|---|---|\n"
            f"| load the weights file | {load_s * 1000:.0f} ms | | < 500 ms |\n"
            f"| 30-frame in-between (41-frame window) | {ib * 1000:.1f} ms | {ib1 * 1000:.1f} ms | < 50 ms |\n"
            f"| 10 s of generated walking (300 frames) | {gen:.2f} s | {gen1:.2f} s | < 1 s |")


def generation_section(model_path: Path, corpus: Path, seeds: int = 4, seconds: float = 6.0) -> str:
    m = runtime.load(model_path)
    limits = JointLimits.load()
    canon = cn.canonical_skeleton()
    clips, arrays = dataset.load(corpus, "val", ["bandai1", "bandai2", "reactidle", "cmu"])
    actions = sorted({c.action for c in clips} & set(m.generatable_actions()))
    # Real held-out clips: skate and limit violations per action (of the actions generated, averaged per
    # action as the generated ones are: validation holds ten times more waves than runs), and the intent
    # head's accuracy over every clip.
    real: dict[str, list] = {}
    stretches: dict[str, list] = {}  # real clips cut to generated clips' length (every half of it): like with like
    frames = int(seconds * 30)
    real_hits, start = [], 0
    for c in clips:
        r, p = arrays["rotations"][start:start + c.frames].astype(float), arrays["root"][start:start + c.frames].astype(float)
        start += c.frames
        mo = Motion(canon, r, p, 30.0)
        real.setdefault(c.action, []).append((foot_skate(mo), limits.violations(mo).mean()))
        for s0 in range(0, max(c.frames - frames, 0) + 1, frames // 2):
            stretches.setdefault(c.action, []).append(foot_skate(Motion(canon, r[s0:s0 + frames], p[s0:s0 + frames], 30.0)))
        pa, _ = m.intent(r, p)
        real_hits.append(m.cfg.actions[int(pa.argmax())] == c.action)
    real_skate, real_viol = np.mean([np.mean(real[a], axis=0) for a in actions], axis=0)
    every = np.concatenate([v for v in real.values()])
    gen_skate, gen_viol, gen_hits, diversity, raw_skate, raw_viol = [], [], [], [], [], []
    made_skate, kept_skate = [], []  # cleaned clips' skate on the frames the network made / kept from the bank
    stretch_skate = np.mean([np.mean(stretches[a]) for a in actions])
    for a in actions:
        outs = []
        for seed in range(seeds):
            r, p, _, made = m.generate(frames, m.action_index(a), 0, seed=seed)
            raw = Motion(canon, r, p, 30.0)
            raw_skate.append(foot_skate(raw))
            raw_viol.append(limits.violations(raw).mean())
            # What users of segments get (cleaned); the section scores the window model's segments, not the
            # next-frame generator that became the default on 2026-12-07 (BENCHMARKS "generation against real motion").
            mo = tasks.generate(a, None, seconds, seed, model=m, method="segments", variation=0.5)
            outs.append(mo.global_positions())
            gen_skate.append(foot_skate(mo))
            made_skate.append(foot_skate(mo, frames=made))
            kept_skate.append(foot_skate(mo, frames=~made))
            gen_viol.append(limits.violations(mo).mean())
            pa, _ = m.intent(mo.rotations, mo.root_positions)
            gen_hits.append(m.cfg.actions[int(pa.argmax())] == a)
        # Diversity: mean distance between seeds' joint positions (pelvis-relative), metres.
        rel = [o - o[:, :1] for o in outs]
        diversity.append(np.mean([np.linalg.norm(rel[i] - rel[j], axis=-1).mean() for i in range(seeds) for j in range(i + 1, seeds)]))
    return ("| measure | real held-out clips (same actions, per action) | generated (cleaned, as shipped) | generated (before clean-up) |\n|---|---|---|---|\n"
            f"| foot-skate ratio (2 cm/frame) | {real_skate:.3f} | {np.mean(gen_skate):.3f} | {np.mean(raw_skate):.3f} |\n"
            f"| foot skate on the frames the network made (transitions) | | {np.mean(made_skate):.3f} | |\n"
            f"| foot skate on the frames kept from recorded segments | | {np.mean(kept_skate):.3f} | |\n"
            f"| joint-limit violations (share of joint-frames) | {real_viol:.4f} | {np.mean(gen_viol):.4f} | {np.mean(raw_viol):.4f} |\n"
            f"| action recognised by the intent head | {np.mean(real_hits):.2f} ({len(real_hits)} clips) | {np.mean(gen_hits):.2f} ({len(gen_hits)} clips) | |\n"
            f"| diversity between seeds (mean joint distance, pelvis-relative) | | {np.mean(diversity) * 100:.1f} cm | |\n\n"
            f"{seeds} seeds x {len(actions)} actions ({', '.join(actions)}: those of the validation split that the model "
            f"holds recorded segments of), {seconds:g} s each, no style given. Over all {len(every)} real held-out clips, "
            f"each weighing the same: skate {every[:, 0].mean():.3f}, limit violations {every[:, 1].mean():.4f}. The real clips "
            f"cut into {seconds:g} s stretches (every {seconds / 2:g} s), per action as above: skate {stretch_skate:.3f}.")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", type=Path, default=runtime.DEFAULT_MODEL)
    ap.add_argument("--corpus", type=Path, default=Path("out/corpus"))
    ap.add_argument("--json", type=Path, help="also write the in-betweening results as JSON")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    cmd = "python benchmarks/model.py"
    ib, res = inbetween_section(args.model, args.corpus)
    print(ib)
    if args.json:  # the format: the two baselines and the model
        args.json.write_text(json.dumps({k: res[k] for k in ("zerovel", "interp", "model")}, indent=1))
    clips, arrays = dataset.load(args.corpus, "val", ["bandai2"])
    sp = speed_section(args.model, arrays["rotations"][:60].astype(float), arrays["root"][:60].astype(float))
    print(sp)
    gen = generation_section(args.model, args.corpus)
    print(gen)
    if not args.no_write:
        update_section("Model: in-betweening (Bandai validation split)", ib, cmd)
        update_section("Model: speed of the numpy runtime", sp, cmd)
        update_section("Model: generation quality", gen, cmd)


if __name__ == "__main__":
    main()
