"""How ``read_bvh`` guesses a file's units: by the leg (``io.bvh.guess_motion_units``) against the old guess by
standing height, over the motion capture in ../shared/data (or ``--data``). Prints one line per file whose
guess changed and a count per (height guess, leg guess); writes nothing.

    python benchmarks/units.py                 # LAFAN1, Bandai dataset-1, every 20th of dataset-2, CMU, CC, ReActIdle
"""
from __future__ import annotations

import argparse
import time
from collections import Counter
from pathlib import Path

from lmm_core import read_bvh
from lmm_core.io.bvh import leg_length
from lmm_core.skeleton import UNITS_TO_METRES, guess_units

ROOT = Path(__file__).resolve().parents[1]


def files(data: Path) -> list[Path]:
    out = sorted((data / "lafan1").glob("*.bvh.xz")) + sorted((data / "bandai/dataset-1").glob("*.bvh.xz"))
    out += sorted((data / "bandai/dataset-2").glob("*.bvh.xz"))[19::20]
    out += sorted((data / "cmu").glob("*.bvh.xz")) + sorted((data / "cmu_iclone").glob("*.bvh.xz"))
    return out + sorted((data / "reactidle").rglob("*.bvh.xz"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    args = parser.parse_args()
    counts: Counter = Counter()
    legs: dict[str, list[float]] = {}
    start = time.perf_counter()
    paths = files(args.data)
    for path in paths:
        motion = read_bvh(path)
        by_height, by_leg = guess_units(motion.height()), motion.skeleton.units
        leg = leg_length(motion)
        leg_m = None if leg is None else leg * UNITS_TO_METRES[by_leg]
        counts[by_height, by_leg] += 1
        legs.setdefault(path.relative_to(args.data).parts[0], []).append(leg_m or 0.0)
        if by_height != by_leg:
            print(f"{path.name:40s} height {motion.height():7.1f} -> {by_height:4s}  leg -> {by_leg:4s} ({leg_m:.2f} m)")
    print(f"{len(paths)} files in {time.perf_counter() - start:.1f} s; (by height, by leg): count")
    for key, n in sorted(counts.items()):
        print(f"  {key}: {n}")
    for folder, values in sorted(legs.items()):
        print(f"  {folder}: leg {min(values):.2f}-{max(values):.2f} m")


if __name__ == "__main__":
    main()
