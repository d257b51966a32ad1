"""Joint limits and foot locking on real clips (issue 4's clean-up measures).

- Fits (with ``--fit``) the joint limits on the training split of the canonical corpus, Bandai 1 and 2,
  ReActIdle, CMU and the CMU takes on the Character Creator rig (every source but LAFAN1, whose license
  forbids derivatives), and writes
  ``presets/models/joint_limits.npz``.
- Violation rates of the shipped limits on the training split and on the held-out validation split:
  share of (frame, joint) pairs past a limit (the 21 limited joints), share of frames with any joint past,
  the same beyond 2 degrees, and the Blender Euler boxes' rate.
- Foot skate (share of ground-contact frames whose foot joint moves > 2 cm horizontally in a frame,
  contacts by height from the input, as ``lmm_core.feet.skate``) before and after ``feet.pin_feet``,
  on validation walks and runs: as stored in the corpus (already pinned by the retargeter), with
  sliding added by stretching the root's horizontal path, and retargeted from their BVH files without
  pinning. Also: skate over the frames ``feet.pin_feet`` locks, pins it could not reach, and frames far
  from any contact that changed.

Usage: python benchmarks/joint_limits.py [--corpus out/corpus] [--data ../shared/data] [--fit] [--no-write]
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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks.report import update_section  # noqa: E402
from lmm_core import Motion, dataset  # noqa: E402
from lmm_core import canonical as cn  # noqa: E402
from lmm_core import feet as F  # noqa: E402
from lmm_core import rotations as R  # noqa: E402
from lmm_core.bonemap import bone_map_for  # noqa: E402
from lmm_core.cleanup import JointLimits  # noqa: E402
from lmm_core.cleanup.limits import DEFAULT_PATH  # noqa: E402
from lmm_core.retarget import retarget  # noqa: E402

SOURCES = ["bandai1", "bandai2", "reactidle", "cmu", "cmu_iclone"]
RIGS = {s.name: s.rig for s in dataset.SOURCES}
FEET = [cn.JOINT_INDEX[n] for n in cn.CONTACT_JOINTS]
SKELETON = cn.canonical_skeleton()


def clip_starts(clips) -> np.ndarray:
    return np.concatenate([[0], np.cumsum([c.frames for c in clips])]).astype(np.int64)


def violation_rates(limits: JointLimits, rotations: np.ndarray) -> dict[str, float]:
    """Rates over ``(N, 22, 4)`` rotations, in chunks to keep memory small."""
    lim = np.flatnonzero(limits.limited)
    counts = np.zeros(4)
    n_frames = 0
    euler = limits.euler_limits()
    for a in range(0, len(rotations), 50_000):
        q = R.normalize(rotations[a:a + 50_000].astype(np.float64))
        ex = R.angle(R.inv_mul(q, limits.clamp_rotations(q)))[:, lim]
        counts[0] += (ex > 1e-9).sum()
        counts[1] += (ex > 1e-9).any(axis=1).sum()
        counts[2] += (ex > np.radians(2)).sum()
        out = np.zeros(ex.shape, dtype=bool)
        for c, j in enumerate(lim):
            e = euler[j]
            qf = R.mul(R.conj(limits.frames[j]), R.mul(q[:, j], limits.frames[j]))
            ang = R.to_euler(qf, e.order.lower()[::-1])
            for col, axis in enumerate(e.order.lower()[::-1]):
                i = "xyz".index(axis)
                if e.use[i]:
                    out[:, c] |= (ang[:, col] < e.min[i] - 1e-9) | (ang[:, col] > e.max[i] + 1e-9)
        counts[3] += out.sum()
        n_frames += len(q)
    pairs = n_frames * len(lim)
    return {"pairs": counts[0] / pairs, "frames": counts[1] / n_frames, "pairs_2deg": counts[2] / pairs,
            "euler": counts[3] / pairs}


def feet_case(motions: list[Motion]) -> dict[str, float]:
    """Skate before/after pin_feet, summed over clips (ratios of frame counts)."""
    tot = dict(contacts=0, before=0, after=0, lock_pairs=0, lock_before=0, lock_after=0, locked=0, unreached=0,
               slide_before=0.0, slide_after=0.0, far=0, far_changed=0, frames=0, seconds=0.0)
    for m in motions:
        p0 = m.global_positions()[:, FEET]
        hc = F.detect(p0, m.fps, m.height(), 1, "ground")
        dc = F.foot_contacts(m)
        t0 = time.perf_counter()
        out = F.pin_feet(m, dc)
        tot["seconds"] += time.perf_counter() - t0
        p1 = out.global_positions()[:, FEET]
        d0 = np.linalg.norm(np.diff(p0[..., [0, 2]], axis=0), axis=-1)
        d1 = np.linalg.norm(np.diff(p1[..., [0, 2]], axis=0), axis=-1)
        s0, s1 = d0 > 0.02, d1 > 0.02
        both, lock = hc[1:] & hc[:-1], dc[1:] & dc[:-1]
        tot["contacts"] += both.sum()
        tot["before"] += (both & s0).sum()
        tot["after"] += (both & s1).sum()
        tot["lock_pairs"] += lock.sum()
        tot["lock_before"] += (lock & s0).sum()
        tot["lock_after"] += (lock & s1).sum()
        tot["slide_before"] += d0[lock].sum()
        tot["slide_after"] += d1[lock].sum()
        # Pins not held: a frame (and the one before) with the foot down in which neither its ankle nor its
        # toe stays within 1 mm horizontally (a target out of the leg's reach).
        foot = (dc[1:, :2] | dc[1:, 2:]) & (dc[:-1, :2] | dc[:-1, 2:])
        tot["locked"] += foot.sum()
        tot["unreached"] += (foot & (d1[:, :2] > 1e-3) & (d1[:, 2:] > 1e-3)).sum()
        # Frames more than the easing (4) away from any contact must not change (the floor check aside,
        # which may lift a foot anywhere: measured without it).
        down = dc.any(axis=1)
        near = np.convolve(down.astype(float), np.ones(9), mode="same") > 0
        free = F.pin_feet(m, dc, floor=None)
        tot["far"] += (~near).sum()
        tot["far_changed"] += (~near & np.any(np.abs(free.rotations - m.rotations) > 1e-12, axis=(1, 2))).sum()
        tot["frames"] += m.num_frames
    return {
        "before": tot["before"] / max(tot["contacts"], 1), "after": tot["after"] / max(tot["contacts"], 1),
        "lock_before": tot["lock_before"] / max(tot["lock_pairs"], 1), "lock_after": tot["lock_after"] / max(tot["lock_pairs"], 1),
        "slide_before_mm": 1e3 * tot["slide_before"] / max(tot["lock_pairs"], 1),
        "slide_after_mm": 1e3 * tot["slide_after"] / max(tot["lock_pairs"], 1),
        "unreached": tot["unreached"] / max(tot["locked"], 1), "far_changed": int(tot["far_changed"]), "far": int(tot["far"]),
        "us_per_frame": 1e6 * tot["seconds"] / max(tot["frames"], 1), "clips": len(motions), "frames": tot["frames"],
    }


def stretched(m: Motion, factor: float) -> Motion:
    """The clip with the root's horizontal path stretched: the body travels further than its steps, so
    planted feet slide (the classic artefact of a network or a retarget that gets speed wrong)."""
    root = m.root_positions.copy()
    root[:, [0, 2]] = root[:1, [0, 2]] + (root[:, [0, 2]] - root[:1, [0, 2]]) * factor
    return Motion(m.skeleton, m.rotations, root, m.fps, dict(m.labels))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--corpus", type=Path, default=ROOT / "out" / "corpus")
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--fit", action="store_true", help="refit the limits on the training split and save them")
    ap.add_argument("--stretch", type=float, nargs="*", default=[1.3, 1.6])
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    train_clips, train = dataset.load(args.corpus, split="train", sources=SOURCES)
    val_clips, val = dataset.load(args.corpus, split="val", sources=SOURCES)
    if args.fit:
        t0 = time.perf_counter()
        limits = JointLimits.fit(train["rotations"], clip_starts(train_clips), info={
            "data": "canonical corpus, training split: " + ", ".join(SOURCES),
            "clips": str(len(train_clips)), "date": time.strftime("%Y-%m-%d"),
            "command": "python benchmarks/joint_limits.py --fit" + (f" --corpus {args.corpus}"
                                                                   if args.corpus != ap.get_default("corpus") else "")})
        limits.save(DEFAULT_PATH)
        print(f"fitted on {len(train['rotations'])} frames of {len(train_clips)} clips in {time.perf_counter() - t0:.1f} s "
              f"-> {DEFAULT_PATH} ({DEFAULT_PATH.stat().st_size} bytes)")
    limits = JointLimits.load()
    rates = {"train": violation_rates(limits, train["rotations"]), "validation": violation_rates(limits, val["rotations"])}
    # Per source: CMU is another rig (and 0.2% of the frames), a check of how the limits carry over.
    source_of = np.concatenate([[c.source] * c.frames for c in train_clips])
    for name in SOURCES:
        rates[f"train, {name} only"] = violation_rates(limits, train["rotations"][source_of == name])
    for k, v in rates.items():
        print(k, {a: round(b, 4) for a, b in v.items()})

    starts = clip_starts(val_clips)
    loco = [i for i, c in enumerate(val_clips) if any(w in c.action for w in ("walk", "run"))]
    stored = [Motion(SKELETON, val["rotations"][starts[i]:starts[i + 1]], val["root"][starts[i]:starts[i + 1]], dataset.FPS)
              for i in loco]
    cases = {"as stored (pinned at build)": stored}
    for factor in args.stretch:
        cases[f"root path stretched x{factor:g}"] = [stretched(m, factor) for m in stored]
    raw = []
    cmap = {n: n for n in cn.JOINT_NAMES}
    for i in loco:
        c = val_clips[i]
        src = dataset.read_take(args.data / c.file, c.source)
        raw.append(retarget(src, bone_map_for(src.skeleton, RIGS[c.source]), SKELETON, cmap, fix_feet=False).resampled(dataset.FPS))
    cases["retargeted without pinning"] = raw
    feet = {name: feet_case(ms) for name, ms in cases.items()}
    for k, v in feet.items():
        print(k, {a: (round(b, 4) if isinstance(b, float) else b) for a, b in v.items()})

    pct = lambda x: f"{100 * x:.2f}%"  # noqa: E731
    info = limits.info
    lines = [
        f"Joint limits: `presets/models/joint_limits.npz` ({DEFAULT_PATH.stat().st_size // 1024} KB), fitted on "
        f"{info.get('frames', '?')} training frames ({info.get('data', '?')}); swing polygon with "
        f"{info.get('directions', '?')} faces and twist interval per joint, {info.get('percentile', '?')}th percentile per face.",
        "",
        "| split | (frame, joint) pairs past a limit | frames with any joint past | pairs past by > 2 deg | pairs outside the Blender Euler box |",
        "|---|---|---|---|---|",
    ]
    for k, v in rates.items():
        lines.append(f"| {k} | {pct(v['pairs'])} | {pct(v['frames'])} | {pct(v['pairs_2deg'])} | {pct(v['euler'])} |")
    lines += [
        "",
        f"Foot locking (`pin_feet`, default contacts, ease 4 frames) on the validation split's walks and runs "
        f"({feet['as stored (pinned at build)']['clips']} clips, {feet['as stored (pinned at build)']['frames']} frames at 30 fps). "
        "Skate: share of ground-contact frames (by height, within 2% of stature of the joint's ground level, from "
        "the input) whose ankle or toe moves more than 2 cm horizontally; part of it is feet landing and taking "
        "off fast within that height band, which no lock should freeze. Locked skate: the same over the frames "
        "`pin_feet` locks; slide: their mean horizontal movement per frame (a toe still rolls with its foot "
        "while the heel is held). Pins not held: foot-down frames in which neither ankle nor toe stays within "
        "1 mm, a target beyond the straight leg's reach (the root is never moved).",
        "",
        "| clips | skate before | skate after | locked skate before / after | locked slide before / after | pins not held (out of reach) | frames > 4 from a contact changed (no floor) | time per frame |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for k, v in feet.items():
        lines.append(f"| {k} | {pct(v['before'])} | {pct(v['after'])} | {pct(v['lock_before'])} / {pct(v['lock_after'])} | "
                     f"{v['slide_before_mm']:.1f} / {v['slide_after_mm']:.2f} mm | "
                     f"{pct(v['unreached'])} | {v['far_changed']} of {v['far']} | {v['us_per_frame']:.0f} us |")
    body = "\n".join(lines)
    print(body)
    if not args.no_write:
        update_section("Clean-up (joint limits, foot locking)", body, "python benchmarks/joint_limits.py" + (" --fit" if args.fit else ""))


if __name__ == "__main__":
    main()
