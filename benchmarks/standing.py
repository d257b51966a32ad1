"""How each LAFAN1 take stands once retargeted onto the canonical body: the calibration retargeting measures on
the take's upright frames (foot slope, standing ankle height; ``retarget.upright_frames``) beside the same
measures over all its frames, and where the canonical result's standing feet land.

A take that kneels, crawls or lies for part of its length measures, over all its frames, a foot slope and an
ankle height of those poses rather than of standing; its standing frames then came out on tiptoe in the air.

Usage: python benchmarks/standing.py [--data ../shared/data] [--no-write]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.report import update_section  # noqa: E402
from lmm_core import canonical as cn  # noqa: E402
from lmm_core import feet as F  # noqa: E402
from lmm_core.bonemap import bone_map_for  # noqa: E402
from lmm_core.io.bvh import read_bvh  # noqa: E402
from lmm_core.progress import progress  # noqa: E402
from lmm_core.retarget import _slope, bind, bind_motion, retarget, source_foot_slope, upright_frames  # noqa: E402

SECTION = "Retargeting: how a take stands (LAFAN1 onto the canonical body)"


def all_frames_calibration(motion, bmap) -> tuple[float | None, float]:
    """The foot slope (degrees) and ankle height (rig units) measured over every frame, as retargeting did
    before 2026-12-07: flat-footed frames by the "low" rule over the whole take, ankles' 2nd percentile."""
    sk = motion.skeleton
    pos = motion.global_positions()
    height = motion.height()
    ankles = [sk.names.index(bmap.bones[leg[2]]) for leg in cn.LEG_CHAINS.values()]
    toes = [sk.names.index(bmap.bones[t]) for t in cn.TOE_JOINTS]
    slopes = []
    for a, toe in zip(ankles, toes):
        feet = pos[:, [a, toe]]
        flat = F.detect(feet, motion.fps, height, sk.up_index, "low").all(axis=1)
        if flat.sum() >= 3:
            slopes.append(_slope(feet[flat, 0] - feet[flat, 1], sk.up_index))
    slope = float(np.degrees(np.median(np.concatenate(slopes)))) if slopes else None
    return slope, float(np.percentile(pos[:, ankles, sk.up_index], 2))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    t0 = time.perf_counter()
    canon = cn.canonical_skeleton()
    cmap = bone_map_for(canon, "canonical")
    legs = bind(canon, cmap).leg_length
    ankles = [cn.JOINT_INDEX[leg[2]] for leg in cn.LEG_CHAINS.values()]
    toes = [cn.JOINT_INDEX[t] for t in cn.TOE_JOINTS]
    rows = []
    for path in progress(sorted((args.data / "lafan1").glob("*.bvh*")), desc="LAFAN1 takes", unit="take"):
        m = read_bvh(path)
        bmap = bone_map_for(m.skeleton, "lafan1")
        slope = source_foot_slope(m, bmap)
        b = bind_motion(m, bmap)
        old_slope, old_ankle = all_frames_calibration(m, bmap)
        g = retarget(m, bmap, canon, cmap).global_positions()
        stand = upright_frames(g, np.arange(canon.num_joints), legs, 1)
        rows.append((path.name.split(".")[0], float(stand.mean()), old_slope,
                     None if slope is None else float(np.degrees(slope)), old_ankle, b.ankle_height,
                     float(np.median(g[stand][:, ankles, 1].min(axis=1))), float(np.percentile(g[stand][:, toes, 1], 2))))
    fmt = lambda v, f: "-" if v is None else f.format(v)  # noqa: E731
    lines = ["| take | upright frames | foot slope (deg): all frames / upright | ankle height (cm): all frames / upright "
             "| canonical standing ankle (cm; the body's own " + f"{cn.ANKLE_HEIGHT * 100:.1f}) | canonical toes, 2nd pct (cm) |",
             "|---|---|---|---|---|---|"]
    for name, up, s0, s1, a0, a1, ank, toe in rows:
        lines.append(f"| {name} | {up:.0%} | {fmt(s0, '{:.1f}')} / {fmt(s1, '{:.1f}')} | {a0:.1f} / {fmt(a1, '{:.1f}')} | "
                     f"{ank * 100:.1f} | {toe * 100:.1f} |")
    ank = np.array([r[6] for r in rows]) * 100
    body = ("\n".join(lines) + "\n\nEvery LAFAN1 file of the data folder (`lafan1/`) retargeted onto the canonical body as the "
            "corpus is built (`retarget(..., fix_feet=True)`). Upright: the pelvis at least 0.75 leg lengths above the "
            "lower ankle (`retarget.UPRIGHT_SHARE`). All frames: the same measures over the whole take (what "
            "retargeting used before 2026-12-07). Canonical standing ankle: the median of the lower ankle's height over "
            f"the result's upright frames (all takes: {ank.min():.1f}-{ank.max():.1f}). {time.perf_counter() - t0:.0f} s.")
    print(body)
    if not args.no_write:
        update_section(SECTION, body, "python benchmarks/standing.py")


if __name__ == "__main__":
    main()
