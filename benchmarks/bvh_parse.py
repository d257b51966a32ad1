"""BVH parsing speed: every file of Bandai dataset-2 (about 350k frames, 6 channels on all 22 joints), one core.

Usage: python benchmarks/bvh_parse.py [--data ../shared/data] [--no-write]
Target (issue 2): the whole folder in under 30 s.
"""
from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.report import update_section  # noqa: E402
from lmm_core import read_bvh  # noqa: E402
from lmm_core.io.atomic import read_bytes  # noqa: E402
from lmm_core.io.bvh import parse_bvh  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    ap.add_argument("--no-write", action="store_true", help="print only; leave BENCHMARKS.md alone")
    args = ap.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    files = sorted((args.data / "bandai" / "dataset-2").glob("*.bvh*"))
    if not files:
        sys.exit(f"no BVH files in {args.data / 'bandai' / 'dataset-2'}; pass --data")
    frames = 0
    t_io = t_parse = 0.0
    t0 = time.perf_counter()
    for path in files:
        a = time.perf_counter()
        text = read_bytes(path).decode("utf-8")
        b = time.perf_counter()
        frames += parse_bvh(text, path=path).num_frames
        t_io += b - a
        t_parse += time.perf_counter() - b
    total = time.perf_counter() - t0
    # read_bvh is the same two steps; check once that nothing else is paid through the public entry point.
    read_bvh(files[0])
    body = (
        "| files | frames | total s | decompress s | parse s | frames/s (total) | frames/s (parse only) |\n"
        "|---|---|---|---|---|---|---|\n"
        f"| {len(files)} | {frames} | {total:.1f} | {t_io:.1f} | {t_parse:.1f} | {frames / total:,.0f} | {frames / t_parse:,.0f} |\n\n"
        f"Target: the whole folder in under 30 s on one core: {'met' if total < 30 else 'NOT met'}."
    )
    print(body)
    if not args.no_write:
        update_section("BVH parsing (Bandai dataset-2, one core)", body, "python benchmarks/bvh_parse.py")


if __name__ == "__main__":
    main()
