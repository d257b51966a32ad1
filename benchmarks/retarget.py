"""Retargeting quality and speed on real clips (issue 3's measures).

- Round trips LAFAN1 -> Bandai -> LAFAN1 and Bandai -> canonical -> Bandai: end-effector (head, wrists,
  ankles) position error as a share of stature, mean and 95th percentile over frames.
- Foot-skate ratio (share of ground-contact frames whose foot moves > 2 cm horizontally in a frame)
  of the source and of the retargeted clip, contacts taken from the source, with and without pinning.
- Smoothness: the largest frame-to-frame acceleration of any joint (m/frame^2), source against
  retargeted, on the clips above and on a spread of Bandai takes retargeted onto the canonical body as
  the corpus is: a pin that pulls a leg too far flips it, which shows as a jump.
- Speed in frames per second (one core).

Usage: python benchmarks/retarget.py [--data ../shared/data] [--no-write]
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
from lmm_core import canonical as cn  # noqa: E402
from lmm_core import read_bvh  # noqa: E402
from lmm_core.bonemap import bone_map_for  # noqa: E402
from lmm_core.feet import foot_contacts, foot_skate  # noqa: E402
from lmm_core.retarget import bind, bind_motion, foot_joints, retarget  # noqa: E402
from lmm_core.skeleton import UNITS_TO_METRES  # noqa: E402

LAFAN = ["walk4_subject1", "dance1_subject2", "obstacles1_subject1", "multipleActions1_subject3"]
BANDAI = ["dataset-2_walk_normal_001", "dataset-2_run_active_001", "dataset-2_walk-turn-left_elderly_013",
          "dataset-2_wave-both-hands_feminine_002"]


def ee_error(a, b, binding) -> np.ndarray:
    csk = cn.canonical_skeleton()
    idx = [binding.joint_of[csk.names.index(n)] for n in cn.END_EFFECTORS]
    up = binding.ref_positions[:, binding.skeleton.up_index]
    return np.linalg.norm(a.global_positions()[:, idx] - b.global_positions()[:, idx], axis=-1) / np.ptp(up)


def worst_acceleration(motion) -> float:
    """Largest frame-to-frame acceleration of any joint, metres per frame per frame."""
    g = motion.global_positions() * UNITS_TO_METRES[motion.skeleton.units]
    return float(np.linalg.norm(np.diff(g, 2, axis=0), axis=-1).max())


def smoothness_scan(data: Path, canon, cmap) -> str:
    """Every 4th take of Bandai dataset-1 and every 120th of dataset-2 onto the canonical body."""
    bandai = data / "bandai"
    files = sorted((bandai / "dataset-1").glob("*.bvh*"))[::4] + sorted((bandai / "dataset-2").glob("*.bvh*"))[::120]
    worst = {"source": [], "no pinning": [], "pinned": []}
    for path in files:
        m = read_bvh(path)
        smap = bone_map_for(m.skeleton, "bandai")
        worst["source"].append(worst_acceleration(m))
        worst["no pinning"].append(worst_acceleration(retarget(m, smap, canon, cmap, fix_feet=False)))
        worst["pinned"].append(worst_acceleration(retarget(m, smap, canon, cmap)))
    cells = "; ".join(f"{k}: {sum(np.array(v) > 0.3)} clips, mean {np.mean(v):.3f}, max {np.max(v):.2f}"
                      for k, v in worst.items())
    return (f"Smoothness over {len(files)} Bandai takes onto the canonical body (every 4th of dataset-1, every 120th "
            f"of dataset-2), clips whose worst joint acceleration passes 0.3 m/frame^2, and the worst per clip: {cells}.")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    canon = cn.canonical_skeleton()
    cmap = bone_map_for(canon, "canonical")
    bandai_rig = read_bvh(args.data / "bandai" / "dataset-2" / f"{BANDAI[0]}.bvh.xz").skeleton
    bmap = bone_map_for(bandai_rig, "bandai")
    rows, frames, seconds = [], 0, 0.0
    for kind, names in (("LAFAN1 -> Bandai -> LAFAN1", LAFAN), ("Bandai -> canonical -> Bandai", BANDAI)):
        for name in names:
            path = args.data / ("lafan1" if kind.startswith("LAFAN") else "bandai/dataset-2") / f"{name}.bvh.xz"
            m = read_bvh(path)
            smap = bone_map_for(m.skeleton, "lafan1" if kind.startswith("LAFAN") else "bandai")
            mid_rig, mid_map = (bandai_rig, bmap) if kind.startswith("LAFAN") else (canon, cmap)
            t0 = time.perf_counter()
            there = retarget(m, smap, mid_rig, mid_map)
            seconds += time.perf_counter() - t0
            frames += m.num_frames
            loose = retarget(m, smap, mid_rig, mid_map, fix_feet=False)
            # The way back binds the original rig as its own clip shows it (how high its ankles stand).
            back = retarget(loose, mid_map, m.skeleton, bind_motion(m, smap), fix_feet=False)
            sb, mb = bind(m.skeleton, smap), bind(mid_rig, mid_map)
            err = ee_error(back, m, sb)
            contact = foot_contacts(m, foot_joints(sb), rule="ground")
            smooth = f"{worst_acceleration(m):.3f} / {worst_acceleration(there):.3f}"
            rows.append(
                f"| {kind} | {name} | {m.num_frames} | {100 * err.mean():.2f}% | {100 * np.percentile(err, 95):.2f}% "
                f"| {100 * foot_skate(m, contact, joints=foot_joints(sb)):.1f}% | {100 * foot_skate(loose, contact, joints=foot_joints(mb)):.1f}% "
                f"| {100 * foot_skate(there, contact, joints=foot_joints(mb)):.1f}% | {smooth} |"
            )
    body = (
        "| round trip | clip | frames | end-effector error, mean | 95th pct | skate: source | target, no pinning "
        "| target, pinned | worst joint acceleration, source / pinned (m/frame^2) |\n|---|---|---|---|---|---|---|---|---|\n"
        + "\n".join(rows) + "\n\n" + smoothness_scan(args.data, canon, cmap) + "\n\n"
        f"Speed (one way, feet pinned, one core): {frames / seconds:,.0f} frames/s over {frames} frames.\n\n"
        "Errors are a share of stature (the rig's reference-pose height), round trips without pinning (pinning "
        "changes the feet on purpose). Skate is the share of ground-contact frames whose ankle or toe moves more "
        "than 2 cm horizontally in one frame, contacts detected on the source by height. Goals: round trip under "
        "1% of height; retargeting adds no skate over the source's."
    )
    print(body)
    if not args.no_write:
        update_section("Retargeting (round trips, foot skate, speed)", body, "python benchmarks/retarget.py")


if __name__ == "__main__":
    main()
