"""Multi-camera capture accuracy on real motion capture filmed by synthetic calibrated cameras (issue 8).

Each clip (several datasets) is retargeted onto the canonical body; its COCO-17 keypoints (and BODY_25 for
one row set) are projected into a ring of 4 or 8 cameras (1920x1080, f about 1400 px, lens distortion),
with Gaussian pixel noise of 0, 1, 2 or 5 px, 10% dropouts, occluded limbs, 2% outlier detections, 1%
left/right swaps and a frame offset of up to 5 frames per camera. The pipeline (sync, triangulation,
smoothing, skeleton solving with joint limits) runs on the detections alone, and its output is compared
with the clip that went in, in world coordinates (no alignment):

- keypoints: MPJPE of the smoothed, gap-filled keypoints (what the solver fits) and of the raw
  triangulation (where it has a point), mm;
- solved body: MPJPE of the solved skeleton's joints, over the 12 joints the keypoints mark (hips, knees,
  ankles, shoulders, elbows, wrists) and over all 22 canonical joints, mm;
- joint angles: mean angle between solved and source local joint rotations, all 22 joints, degrees; and
  the mean angle between solved and source directions of the 8 limb bones (thighs, shins, upper arms,
  forearms), degrees, which keypoints determine (a rotation's twist about its bone they do not);
- sync: share of cameras whose frame offset was found exactly.

Usage: python benchmarks/capture.py [--data ../shared/data] [--frames 300] [--no-write]
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
from lmm_core import rotations as R  # noqa: E402
from lmm_core.capture import synthetic as S  # noqa: E402
from lmm_core.capture.keypoints import BODY25, COCO17  # noqa: E402
from lmm_core.capture.pipeline import CaptureOptions, capture  # noqa: E402

# (dataset, file, first frame at 30 fps); 30 fps throughout (CMU is resampled from 120, ReActIdle from 24).
CLIPS = [
    ("LAFAN1", "lafan1/dance1_subject2.bvh.xz", 300),
    ("LAFAN1", "lafan1/fallAndGetUp1_subject1.bvh.xz", 600),
    ("Bandai", "bandai/dataset-2/dataset-2_wave-both-hands_feminine_002.bvh.xz", 0),
    ("Bandai", "bandai/dataset-2/dataset-2_walk-turn-left_elderly_013.bvh.xz", 0),
    ("CMU", "cmu/131_03.bvh.xz", 0),
    ("ReActIdle", "reactidle/acted/001_acted.bvh.xz", 0),
]
NOISE = (0.0, 1.0, 2.0, 5.0)
CAMERAS = (4, 8)
OBSERVED = [cn.JOINT_INDEX[f"{s}_{j}"] for j in ("hip", "knee", "ankle", "shoulder", "elbow", "wrist") for s in ("left", "right")]
# Limb bones as (joint, child): thighs, shins, upper arms, forearms.
BONES = [(cn.JOINT_INDEX[f"{s}_{a}"], cn.JOINT_INDEX[f"{s}_{b}"]) for a, b in (("hip", "knee"), ("knee", "ankle"),
         ("shoulder", "elbow"), ("elbow", "wrist")) for s in ("left", "right")]


def bone_angles(pos: np.ndarray, src: np.ndarray) -> np.ndarray:
    """``(T, 8)`` degrees between the solved and source directions of the limb bones."""
    a = np.stack([pos[:, c] - pos[:, j] for j, c in BONES], axis=1)
    b = np.stack([src[:, c] - src[:, j] for j, c in BONES], axis=1)
    cos = np.sum(a * b, -1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


def evaluate(motion, js, cams: int, noise: float, seed: int, limits: bool = True, smooth_s: float = 0.05,
             length_sd: float | None = None) -> dict[str, float]:
    corruption = S.Corruption(noise_px=noise, dropout=0.10, occlusion=0.05, outliers=0.02, swaps=0.01, max_offset=5)
    P = S.keypoints_3d(motion, js)
    calib = S.camera_ring(cams, P, seed=seed)
    kp, truth = S.render(P, calib, js, corruption, seed=seed + 1000, fps=motion.fps)
    t0 = time.perf_counter()
    held = {} if length_sd is None else {"length_sd": length_sd}
    res = capture(calib, kp, CaptureOptions(fps=motion.fps, limits=limits, smooth_s=smooth_s, **held))
    seconds = time.perf_counter() - t0
    # Result frame k is the first camera's frame start + k, which shows source frame start + k.
    a = max(0, -res.start)
    b = min(res.motion.num_frames, motion.num_frames - res.start)
    got, want = slice(a, b), slice(res.start + a, res.start + b)
    pos, src = res.motion.global_positions()[got], motion.global_positions()[want]
    err = np.linalg.norm(pos - src, axis=-1) * 1000
    raw = np.linalg.norm(res.raw_points[got] - P[want], axis=-1) * 1000
    ang = np.degrees(R.angle(R.inv_mul(res.motion.rotations[got], motion.rotations[want])))
    return {
        "kp": float(np.mean(np.linalg.norm(res.points[got] - P[want], axis=-1)) * 1000),
        "raw": float(np.nanmean(raw)),
        "obs": float(err[:, OBSERVED].mean()),
        "all": float(err.mean()),
        "ang": float(ang.mean()),
        "ang_limb": float(bone_angles(pos, src).mean()),
        "sync": float(np.mean(res.offsets == truth)),
        "frames": float(b - a),
        "seconds": seconds,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    ap.add_argument("--frames", type=int, default=300, help="frames per clip at 30 fps (default 300: 10 s)")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    clips = []
    for dataset, rel, start in CLIPS:
        m = S.source_motion(args.data / rel, fps=30.0, start=start, frames=args.frames)
        clips.append((dataset, Path(rel).name.split(".")[0], m))
        print(f"{dataset} {rel}: {m.num_frames} frames", flush=True)
    rows, per_clip = [], []
    goal: dict[str, float] = {}
    total_frames, total_seconds = 0.0, 0.0
    # (keypoints, cameras, noise, joint limits, smoothing window s): the grid, then BODY_25 and two ablations.
    settings = ([(COCO17, c, n, True, 0.05) for c in CAMERAS for n in NOISE]
                + [(BODY25, 4, 2.0, True, 0.05), (COCO17, 4, 2.0, False, 0.05), (COCO17, 4, 2.0, True, 0.0)])
    for js, cams, noise, limits, smooth_s in settings:
        results = []
        for i, (dataset, name, m) in enumerate(clips):
            r = evaluate(m, js, cams, noise, seed=100 * i + cams, limits=limits, smooth_s=smooth_s)
            results.append(r)
            total_frames += r["frames"]
            total_seconds += r["seconds"]
            if js is COCO17 and cams == 4 and noise == 2.0 and limits and smooth_s:
                per_clip.append(f"| {dataset} | {name} | {r['frames']:.0f} | {r['kp']:.1f} | {r['obs']:.1f} | {r['all']:.1f} "
                                f"| {r['ang_limb']:.1f} | {r['ang']:.1f} | {100 * r['sync']:.0f}% |")
        mean = {k: float(np.mean([r[k] for r in results])) for k in results[0]}
        variant = ("" if limits else ", no joint limits") + ("" if smooth_s else ", no smoothing")
        row = (f"| {'COCO-17' if js is COCO17 else 'BODY_25'}{variant} | {cams} | {noise:g} | {mean['kp']:.1f} | {mean['raw']:.1f} "
               f"| {mean['obs']:.1f} | {mean['all']:.1f} | {mean['ang_limb']:.1f} | {mean['ang']:.1f} | {100 * mean['sync']:.0f}% |")
        rows.append(row)
        if js is COCO17 and cams == 4 and noise == 2.0 and limits and smooth_s:
            goal = mean
        print(row, flush=True)
    body = (
        f"{len(clips)} real clips ({', '.join(sorted({d for d, _, _ in clips}))}), {args.frames} frames each at 30 fps, on the "
        "canonical body. Cameras: a ring of 4 or 8 around the performer, 1920x1080, f about 1400 px, lens distortion "
        "(k1 -0.15 to 0.05). Detections: Gaussian pixel noise as listed, 10% dropouts, 5% of frames with a limb occluded, "
        "2% outlier detections, 1% left/right swaps, every camera but the first offset by up to 5 frames. Errors are "
        "world-space (no alignment) means over clips and frames; the pipeline sees only the detections and the calibration.\n\n"
        "| keypoints | cameras | noise px | keypoints mm | raw triangulation mm | solved, 12 marked joints mm "
        "| solved, all 22 joints mm | limb bone directions deg | local rotations, all joints deg | offsets found |\n"
        "|---|---|---|---|---|---|---|---|---|---|\n" + "\n".join(rows) + "\n\n"
        "Per clip, COCO-17, 4 cameras, 2 px:\n\n"
        "| dataset | clip | frames | keypoints mm | solved, 12 marked joints mm | solved, all 22 mm | limb bones deg "
        "| local rotations deg | offsets found |\n|---|---|---|---|---|---|---|---|---|\n" + "\n".join(per_clip) + "\n\n"
        f"Speed: {total_frames / total_seconds:,.0f} frames/s over {total_frames:.0f} frames (whole pipeline: sync, "
        "triangulation, smoothing, solving; one core, no GPU).\n\n"
        "Goal (issue 8): under 20 mm MPJPE at 2 px with 4 cameras and 10% dropouts. Measured there (COCO-17): keypoints "
        f"{goal['kp']:.1f} mm ({'met' if goal['kp'] < 20 else 'not met'}), solved joints the keypoints mark "
        f"{goal['obs']:.1f} mm ({'met' if goal['obs'] < 20 else 'not met'}), all 22 solved joints {goal['all']:.1f} mm "
        f"({'met' if goal['all'] < 20 else 'not met'}). The spine, neck and collars have no keypoints: they are placed by the solver's "
        "torso model, and where a source's retargeted spine bends differently (each dataset's rig does), that shows in the "
        "all-joints column; so do angles about a bone's own axis (forearm and upper-arm twist, hands, feet with COCO-17), "
        "which keypoints cannot see. Synthetic keypoints sit where the solver's keypoint model puts them "
        "(`JointSet.markers`), so a real detector's different idea of where a hip is would add to these figures."
    )
    print(body)
    if not args.no_write:
        update_section("Capture: triangulation and skeleton solving", body, "python benchmarks/capture.py")


if __name__ == "__main__":
    main()
