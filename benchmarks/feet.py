"""Planted feet: how far they drift before and after Clean Up and retargeting with pinned feet (issue 20).

For every clip, the frames where a foot joint is planted are found on the motion a user starts from
(``feet.RULES["planted"]``: within 5% of the performer's height of the joint's ground level and slower
than 0.15 heights per second). Drift is, on each of those frames, the joint's horizontal distance from
where it was on the first frame of that contact (``feet.drift``); the table gives its median and 95th
percentile in cm, for ankles and toes, on:

- the clip as it is, then after Clean Up as the add-on's operator runs it (``cleanup.clean_up_rig``,
  joint limits and lock feet on) and with lock feet alone;
- the clip retargeted onto another rig without pinning and with pinned feet (``retarget``), planted
  frames still the source's.

Clips: a LAFAN1 walk (walk4_subject1, frames 300-1200) on its own skeleton, a Bandai walk
(dataset-2_walk_normal_001) on its own skeleton and retargeted onto LAFAN1's, a walk made by
``lmm generate --action walk`` with the shipped model (6 s, seed 0) on the canonical body and
retargeted onto Bandai's skeleton. Then the round trip LAFAN1 obstacles1_subject1 -> a Bandai take's
skeleton -> LAFAN1 (feet pinned both ways, and not), scored as frames with a joint more than 5% of the
body's height from the source, and each knee's worst.

Usage: python benchmarks/feet.py [--data ../shared/data]
"""
from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import sys  # noqa: E402
from dataclasses import replace  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from lmm_core import canonical as cn  # noqa: E402
from lmm_core import feet as F  # noqa: E402
from lmm_core import read_bvh  # noqa: E402
from lmm_core.bonemap import bone_map_for  # noqa: E402
from lmm_core.cleanup import clean_up_rig  # noqa: E402
from lmm_core.model.tasks import generate  # noqa: E402
from lmm_core.motion import Motion  # noqa: E402
from lmm_core.retarget import retarget  # noqa: E402
from lmm_core.skeleton import UNITS_TO_METRES  # noqa: E402


def feet_of(motion: Motion, bone_map) -> list[int]:
    """Rig joint indices of the left and right ankle, then the left and right toe."""
    return [motion.skeleton.names.index(bone_map.bones[n]) for n in cn.CONTACT_JOINTS]


def planted(motion: Motion, joints: list[int]) -> np.ndarray:
    """``(T, 4)`` bool: the frames where each foot joint is planted (the strict "planted" rule)."""
    return F.foot_contacts(motion, joints, rule="planted")


def drift_cm(motion: Motion, joints: list[int], down: np.ndarray) -> tuple[float, float, float, float]:
    """Median and 95th percentile drift (cm) of planted ankles, then of planted toes."""
    d = F.drift(motion.global_positions()[:, joints], down, UNITS_TO_METRES[motion.skeleton.units],
                motion.skeleton.up_index)
    ankles, toes = np.concatenate(d[:2]) * 100, np.concatenate(d[2:]) * 100
    return (float(np.median(ankles)), float(np.percentile(ankles, 95)),
            float(np.median(toes)), float(np.percentile(toes, 95)))


def row(name: str, what: str, motion: Motion, joints: list[int], down: np.ndarray) -> str:
    a50, a95, t50, t95 = drift_cm(motion, joints, down)
    return f"| {name} | {what} | {a50:.1f} / {a95:.1f} | {t50:.1f} / {t95:.1f} |"


def clip(motion: Motion, start: int, stop: int) -> Motion:
    return replace(motion, rotations=motion.rotations[start:stop], root_positions=motion.root_positions[start:stop],
                   translations=None if motion.translations is None else motion.translations[start:stop])


def clean_up_rows(name: str, motion: Motion) -> list[str]:
    bone_map = bone_map_for(motion.skeleton, "canonical" if motion.skeleton.names == list(cn.JOINT_NAMES) else None)
    joints = feet_of(motion, bone_map)
    down = planted(motion, joints)
    return [row(name, "as it is", motion, joints, down),
            row(name, "Clean Up (limits + lock feet)", clean_up_rig(motion, bone_map), joints, down),
            row(name, "Clean Up (lock feet only)", clean_up_rig(motion, bone_map, limits=False), joints, down)]


def retarget_rows(name: str, motion: Motion, target: Motion) -> list[str]:
    src_map = bone_map_for(motion.skeleton, "canonical" if motion.skeleton.names == list(cn.JOINT_NAMES) else None)
    tgt_map = bone_map_for(target.skeleton)
    down = planted(motion, feet_of(motion, src_map))
    joints = feet_of(target, tgt_map)
    out = []
    for what, pin in (("retargeted, feet not pinned", False), ("retargeted, feet pinned", True)):
        there = retarget(motion, src_map, target.skeleton, tgt_map, fix_feet=pin)
        out.append(row(name, what, there, joints, down))
    return out


def round_trip(source: Motion, other: Motion) -> list[str]:
    """LAFAN1 -> another rig -> LAFAN1, as ``lmm retarget`` there and back (target maps found automatically)."""
    s_map, o_map = bone_map_for(source.skeleton), bone_map_for(other.skeleton)
    knees = [source.skeleton.names.index(s_map.bones[n]) for n in ("left_knee", "right_knee")]
    out = []
    for pin in (False, True):
        there = retarget(source, s_map, other.skeleton, o_map, fix_feet=pin)
        back = retarget(there, o_map, source.skeleton, s_map, fix_feet=pin)
        err = np.linalg.norm(source.global_positions() - back.global_positions(), axis=-1) / source.height()
        out.append(f"| feet {'pinned' if pin else 'not pinned'} | {(err.max(axis=1) > 0.05).sum()} of {len(err)} "
                   f"| {100 * err.max():.1f}% | {100 * err[:, knees[0]].max():.1f}% / {100 * err[:, knees[1]].max():.1f}% |")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    args = parser.parse_args()
    lafan = clip(read_bvh(args.data / "lafan1" / "walk4_subject1.bvh.xz"), 300, 1200)
    bandai = read_bvh(args.data / "bandai" / "dataset-2" / "dataset-2_walk_normal_001.bvh.xz")
    # Recorded segments joined by the window network, as the section's row was measured (the default until
    # 2026-12-07; the next-frame generator's feet are measured in "Model: generation against real motion").
    made = generate("walk", seconds=6.0, seed=0, method="segments", variation=0.5)
    lines = ["| clip | motion | planted ankle drift, cm (median / p95) | planted toe drift, cm (median / p95) |",
             "|---|---|---|---|"]
    lines += clean_up_rows("LAFAN1 walk4_subject1 (900 frames)", lafan)
    lines += clean_up_rows("Bandai walk_normal_001", bandai)
    lines += retarget_rows("Bandai walk_normal_001 -> LAFAN1 skeleton", bandai, lafan)
    lines += clean_up_rows("generated walk (6 s, seed 0)", made)
    lines += retarget_rows("generated walk -> Bandai skeleton", made, bandai)
    print("\n".join(lines))
    obstacles = read_bvh(args.data / "lafan1" / "obstacles1_subject1.bvh.xz")
    take = read_bvh(args.data / "bandai" / "dataset-1" / "dataset-1_bow_active_001.bvh.xz")
    print("\nRound trip LAFAN1 obstacles1_subject1 -> Bandai skeleton -> LAFAN1 skeleton")
    print("| | frames with a joint > 5% of height off | worst joint | worst knee (left / right) |\n|---|---|---|---|")
    print("\n".join(round_trip(obstacles, take)))


if __name__ == "__main__":
    main()
