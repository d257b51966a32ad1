"""The LAFAN1 in-betweening protocol's baselines on the subjects we have (train 1-3, test 4), beside the
published subject-5 figures, as ratios to interpolation so the two test sets can be compared.

Usage: python benchmarks/lafan1_baselines.py [--data ../shared/data] [--no-write]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.report import update_section  # noqa: E402
from lmm_core.bench.lafan1 import run_lafan1  # noqa: E402

LENGTHS = ("5", "15", "30", "45")
PUBLISHED = {
    "zerovel": {"L2Q": (0.56, 1.10, 1.51, 1.81), "L2P": (1.5230, 3.6944, 6.6002, 9.3289), "NPSS": (0.0053, 0.0522, 0.2318, 0.4918)},
    "interp": {"L2Q": (0.22, 0.62, 0.98, 1.25), "L2P": (0.3729, 1.2488, 2.3158, 3.4469), "NPSS": (0.0023, 0.0391, 0.2013, 0.4493)},
}
OTHERS = {  # published L2Q / L2P on subject 5 (5, 15, 30 frames)
    "ERD-QV (Harvey et al. 2020)": {"L2Q": (0.17, 0.42, 0.69, None), "L2P": (0.23, 0.65, 1.28, None)},
    "Delta-Interpolator (Oreshkin et al. 2022)": {"L2Q": (0.114, 0.317, 0.572, None), "L2P": (0.129, 0.467, 0.995, None)},
    "Two-stage transformer (Qin et al. 2022)": {"L2Q": (0.0994, 0.2839, 0.5446, None), "L2P": (0.1049, 0.3943, 0.8948, None)},
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    lafan = args.data / "lafan1"
    res = run_lafan1(lafan, lafan, train_subjects=(1, 2, 3), test_subjects=(4,))
    rows = []
    for metric in ("L2Q", "L2P", "NPSS"):
        for name in ("zerovel", "interp"):
            ours = [res[name][metric][n] for n in LENGTHS]
            pub = PUBLISHED[name][metric]
            rows.append(f"| {metric} | {name} | " + " / ".join(f"{v:.4f}" for v in ours) + " | " + " / ".join(f"{v:.4f}" for v in pub) + " |")
    ratio_rows = []
    for metric in ("L2Q", "L2P"):
        interp = PUBLISHED["interp"][metric]
        for name, vals in OTHERS.items():
            r = [f"{v / i:.3f}" if v is not None else "-" for v, i in zip(vals[metric], interp)]
            ratio_rows.append(f"| {metric} | {name} | " + " / ".join(r) + " |")
        ours_z = [res["zerovel"][metric][n] / res["interp"][metric][n] for n in LENGTHS]
        pub_z = [z / i for z, i in zip(PUBLISHED["zerovel"][metric], interp)]
        ratio_rows.append(f"| {metric} | zero-velocity, ours (subject 4) | " + " / ".join(f"{v:.3f}" for v in ours_z) + " |")
        ratio_rows.append(f"| {metric} | zero-velocity, published (subject 5) | " + " / ".join(f"{v:.3f}" for v in pub_z) + " |")
    body = ("Protocol of Harvey et al. 2020 (see docs/bench.md); statistics from subjects 1-3 (19 files), test windows from "
            "subject 4 (5 files, 576 windows). Subject 5, the official test set, is not in ../shared/data.\n\n"
            "| metric | baseline | ours, subject 4 (5 / 15 / 30 / 45) | published, subject 5 |\n|---|---|---|---|\n" + "\n".join(rows) +
            "\n\nAs ratios to interpolation (the way results on other test windows compare):\n\n"
            "| metric | method | 5 / 15 / 30 / 45 |\n|---|---|---|\n" + "\n".join(ratio_rows) +
            "\n\nOur LAFAN1-trained benchmark model is scored in the section 'LAFAN1 in-betweening: our LAFAN1-trained model' (`benchmarks/lafan1_model.py`); the shipped "
            "model is trained without LAFAN1 (its licence).")
    print(body)
    if not args.no_write:
        update_section("LAFAN1 in-betweening protocol: baselines", body, "python benchmarks/lafan1_baselines.py")


if __name__ == "__main__":
    main()
