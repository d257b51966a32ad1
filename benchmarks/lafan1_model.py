"""Our LAFAN1-trained model on the LAFAN1 in-betweening protocol (train subjects 1-3, test subject 4),
as ratios to interpolation beside the published methods' ratios, and against the issue's goals.

The model is the benchmark artefact ``benchmarks/models/lafan1.npz`` (see its model card); it is never
bundled with the extension (LAFAN1 is CC BY-NC-ND 4.0).

Usage: python benchmarks/lafan1_model.py [--model PATH] [--data ../shared/data] [--no-write]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.lafan1_baselines import LENGTHS, OTHERS, PUBLISHED  # noqa: E402
from benchmarks.report import update_section  # noqa: E402
from lmm_core.bench.baselines import BASELINES  # noqa: E402
from lmm_core.bench.inbetween import load_model_inbetweener  # noqa: E402
from lmm_core.bench.lafan1 import read_clips, run_lafan1, select_subjects  # noqa: E402
from lmm_core.bench.files import motion_files  # noqa: E402
from lmm_core.threads import set_blas_threads  # noqa: E402

HERE = Path(__file__).resolve().parent
ERD_QV = "ERD-QV (Harvey et al. 2020)"
QIN = "Two-stage transformer (Qin et al. 2022)"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", type=Path, default=HERE / "models" / "lafan1.npz")
    ap.add_argument("--data", type=Path, default=HERE.parents[1] / "shared" / "data")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    set_blas_threads(1)
    lafan = args.data / "lafan1"
    test_files = select_subjects(motion_files(lafan, "test"), (4,), "test")
    model = load_model_inbetweener(args.model, read_clips(test_files[:1])[0])
    t = time.perf_counter()
    own = f"{model.model.cfg.baseline} (the model's baseline, no network)"
    res = run_lafan1(lafan, lafan, model=model, train_subjects=(1, 2, 3), test_subjects=(4,),
                     methods={**BASELINES, own: model.baseline_only()})
    seconds = time.perf_counter() - t

    rows = []
    for metric in ("L2Q", "L2P", "NPSS"):
        for name in ("interp", own, "model"):
            rows.append(f"| {metric} | {name} | " + " / ".join(f"{res[name][metric][n]:.4f}" for n in LENGTHS) + " |")
    ratio_rows = []
    verdicts = []
    for metric in ("L2Q", "L2P", "NPSS"):
        ours = [res["model"][metric][n] / res["interp"][metric][n] for n in LENGTHS]
        ratio_rows.append(f"| {metric} | **ours, subject 4** | " + " / ".join(f"{v:.3f}" for v in ours) + " |")
        bare = [res[own][metric][n] / res["interp"][metric][n] for n in LENGTHS]
        ratio_rows.append(f"| {metric} | {own}, subject 4 | " + " / ".join(f"{v:.3f}" for v in bare) + " |")
        if metric in ("L2Q", "L2P"):
            interp = PUBLISHED["interp"][metric]
            for name, vals in OTHERS.items():
                r = [f"{v / i:.3f}" if v is not None else "-" for v, i in zip(vals[metric], interp)]
                ratio_rows.append(f"| {metric} | {name}, subject 5 | " + " / ".join(r) + " |")
            erd = OTHERS[ERD_QV][metric][2] / interp[2]
            verdicts.append(f"{metric} at 30 frames {ours[2]:.3f} of interpolation vs ERD-QV's {erd:.3f}: "
                            f"{'below' if ours[2] < erd else 'not below'}")
    qin = OTHERS[QIN]["L2P"][2] / PUBLISHED["interp"]["L2P"][2]
    l2p30 = res["model"]["L2P"]["30"] / res["interp"]["L2P"]["30"]
    verdicts.append(f"L2P at 30 frames {l2p30:.3f} of interpolation vs the two-stage transformer's {qin:.3f}: "
                    f"{'met' if l2p30 <= qin else 'not met'}")
    meta = model.model.meta
    body = (f"Model: `{args.model.relative_to(HERE.parent) if args.model.is_relative_to(HERE.parent) else args.model}` "
            f"(trained on subjects 1-3, {meta.get('step')} steps in its last run; benchmarks/models/LAFAN1_MODEL_CARD.md has every run). "
            "Statistics from subjects 1-3 (windows of 50 frames every 20), test windows from subject 4 (576 windows); "
            f"subject 5, the official test set, is not in ../shared/data. Scoring took {seconds:.0f} s on one thread.\n\n"
            "| metric | method | 5 / 15 / 30 / 45 |\n|---|---|---|\n" + "\n".join(rows) +
            "\n\nRatios to interpolation on each method's own test windows (ERD-QV reports only 30 frames):\n\n"
            "| metric | method | 5 / 15 / 30 / 45 |\n|---|---|---|\n" + "\n".join(ratio_rows) +
            "\n\nGoals (issue 5): " + "; ".join(verdicts) + ".")
    print(body)
    if not args.no_write:
        update_section("LAFAN1 in-betweening: our LAFAN1-trained model", body, "python benchmarks/lafan1_model.py")


if __name__ == "__main__":
    main()
