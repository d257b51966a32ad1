"""Is the off-domain blocking goal out of reach for want of data, or of method? The blocking benchmark's
LAFAN1 subject 4 settings (keys every 8 / 15 / 30 frames, two keys 30-120 apart, windows drawn as it draws them)
scored for a next-frame in-betweener of the product's design trained on LAFAN1 subjects 1-3 on LAFAN1's own
skeleton (``benchmarks/models/lafan1_next_frame_dev.npz``: falls, ground work and obstacles like subject 4's),
against interpolation on the same keys.

The shipped in-betweener trains only on data whose licence lets its weights ship, which holds no falls, no
ground work and no obstacle runs; LAFAN1 (CC BY-NC-ND 4.0) may not be shipped in weights. Scored here: the
network's own frames (``NextFrameModel.inbetween``, the latent at its mean, one rollout, no key check, no
clean-up), mean joint position error over the made frames on LAFAN1's skeleton, and its ratio to
interpolation's; the share of windows where it is nearer than interpolation.

Usage: python benchmarks/blocking_off_domain.py [--model benchmarks/models/lafan1_next_frame_dev.npz]
       [--data ../shared/data] [--windows 40] [--no-write]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.report import update_section  # noqa: E402
from lmm_core.bench.baselines import interpolation  # noqa: E402
from lmm_core.bench.blocking import SETTINGS, key_mask, windows  # noqa: E402
from lmm_core.bench.inbetween import load_inbetweener  # noqa: E402
from lmm_core.bench.lafan1 import read_clips  # noqa: E402
from lmm_core.motion import Motion  # noqa: E402
from lmm_core.progress import progress  # noqa: E402

HERE = Path(__file__).resolve().parent
SECTION = "Model: blocking keys off-domain, a network trained on motion like it"


def score(model, skeleton, clips: list, per_setting: int) -> list[tuple[str, int, float, float, float]]:
    """Per setting: ``(name, windows, interpolation's error, the model's error, share of windows nearer)``,
    errors in the skeleton's units (mean joint position error over the made frames)."""
    rows = []
    for name, spacing, length in SETTINGS:
        wins = windows(clips, length, per_setting)
        known = key_mask(length, spacing)
        made = ~known
        e_interp, e_model = [], []
        for rot, root in progress(wins, desc=name, unit="window"):
            truth = Motion(skeleton, rot, root, 30.0).global_positions()
            for out, (r, p) in ((e_interp, interpolation(rot, root, known)), (e_model, model(rot, root, known))):
                out.append(np.linalg.norm(Motion(skeleton, r, p, 30.0).global_positions() - truth, axis=-1)[made].mean())
        rows.append((name, len(wins), float(np.mean(e_interp)), float(np.mean(e_model)),
                     float(np.mean(np.array(e_model) < np.array(e_interp)))))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", type=Path, default=HERE / "models" / "lafan1_next_frame_dev.npz")
    ap.add_argument("--data", type=Path, default=HERE.parents[1] / "shared" / "data")
    ap.add_argument("--subject", type=int, default=4)
    ap.add_argument("--windows", type=int, default=40)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    paths = sorted((args.data / "lafan1").glob(f"*_subject{args.subject}.bvh*"))
    if not paths:
        sys.exit(f"no LAFAN1 subject {args.subject} files in {args.data / 'lafan1'}; give --data (the shared data folder)")
    skeleton, clips = read_clips(paths)
    model = load_inbetweener(args.model, skeleton)
    rows = score(model, skeleton, [(c.name, c.rotations, c.root) for c in clips], args.windows)
    cm = 1.0 if skeleton.units == "cm" else 100.0
    lines = [f"| {n} | {w} | {ei * cm:.2f} | {em * cm:.2f} | {em / ei:.3f} | {share:.2f} |" for n, w, ei, em, share in rows]
    body = (f"LAFAN1 subject {args.subject}, the blocking benchmark's settings with windows drawn as it draws them "
            f"({args.windows} per setting), on LAFAN1's own skeleton: `{args.model.name}` (trained on subjects 1-3: motion like subject "
            f"{args.subject}'s, falls, ground work, obstacles; CC BY-NC-ND 4.0, a benchmark artefact that is never "
            "shipped) against interpolation on the same keys. The network's own frames: latent at its mean, one "
            "rollout, no key check, no clean-up.\n\n"
            "| keys | windows | interpolation error (cm) | network error (cm) | / interpolation | windows nearer than "
            "interpolation |\n|---|---|---|---|---|---|\n" + "\n".join(lines))
    print(body)
    if not args.no_write:
        shown = args.model.resolve()
        shown = shown.relative_to(HERE.parent) if shown.is_relative_to(HERE.parent) else shown
        update_section(SECTION, body, f"python benchmarks/blocking_off_domain.py --model {shown} "
                                      f"--windows {args.windows}")


if __name__ == "__main__":
    main()
