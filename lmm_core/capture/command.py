"""``lmm capture``: the command line of the capture pipeline (``lmm_core/cli.py`` holds only its table entry)."""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from ..errors import LMMError
from ..model.tasks import intent
from ..results import numbered, write_result
from ..skeleton import UNITS_TO_METRES
from .pipeline import CaptureOptions, capture_files
from .rigid import LENGTH_SD
from .segment import segment
from .video import Detections, cache_folder, detect_videos, is_video


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("calibration", type=Path,
                   help="camera calibration: .toml (Anipose, Pose2Sim), .json, OpenCV .yml/.yaml, Qualisys .qca.txt, or a folder "
                        "of .yml files; or, alone, one video: one camera with no calibration (BlazePose's 3D landmarks)")
    p.add_argument("keypoints", nargs="*", type=Path,
                   help="one video per camera (or a folder of them), named as in the calibration (BlazePose detects the keypoints; "
                        "needs pip install 'lmm[capture]'); or 2D keypoints: one .npz (cameras, frames, joints, 3), or one folder of "
                        "JSON files per camera")
    p.add_argument("-o", "--output", type=Path, required=True, help="output BVH (with --split: OUT_001.bvh, OUT_002.bvh, ...)")
    p.add_argument("--format", default="auto", choices=["auto", "coco17", "body25", "blazepose"],
                   help="keypoint set: COCO-17 JSON, OpenPose BODY_25 JSON, BlazePose (default: detected from the files)")
    p.add_argument("--fps", type=float, help="frame rate of the footage (default: the video's or the .npz's, else 30)")
    p.add_argument("--focal", type=float,
                   help="one camera: its focal length in pixels (default: a 65-degree horizontal field of view)")
    p.add_argument("--no-sync", action="store_true", help="the cameras are synchronised (genlock): do not estimate frame offsets")
    p.add_argument("--max-offset", type=int, default=30, help="largest frame offset between cameras searched, either way (default 30)")
    p.add_argument("--threshold", type=float, default=20.0, help="reprojection error in pixels under which a camera agrees (default 20)")
    p.add_argument("--smooth", type=float, default=0.05, help="smoothing window in seconds (Gaussian sigma; 0: off; default 0.05)")
    p.add_argument("--no-limits", action="store_true", help="do not keep joints inside the learned joint limits")
    p.add_argument("--no-flip", action="store_true",
                   help="videos: detect each frame once, not also mirrored and averaged (detection 2 to 2.5 times "
                        "as fast; on Pose2Sim's demo a higher mean reprojection error and median bone-length "
                        "variation, a lower worst one: BENCHMARKS.md)")
    p.add_argument("--no-refine-cameras", action="store_true",
                   help="do not measure and take off each camera's constant image offset (3 or more cameras)")
    p.add_argument("--pin-feet", action="store_true", help="hold each foot still while it is down (leg IK on its contacts)")
    p.add_argument("--length-sd", type=float, default=LENGTH_SD,
                   help="refit the triangulated keypoints with each limb, the hips and the heels held to one length for the "
                        f"take, within this share of it (0 to 1; default {LENGTH_SD:g}; 0: each point as triangulated)")
    p.add_argument("--units", choices=sorted(UNITS_TO_METRES), help="units of the calibration's translations (default: the file's, else m)")
    p.add_argument("--up", choices=["x", "y", "z", "-x", "-y", "-z"], help="the calibration world's up axis (default: the file's, else y)")
    p.add_argument("--rig", help="write onto this rig instead: 'canonical' or a BVH whose skeleton and rest pose are the target")
    p.add_argument("--split", action="store_true", help="cut the take into clips at pauses and write one file per clip")
    p.add_argument("--min-pause", type=float, default=0.5, help="seconds of stillness that make a pause (default 0.5)")
    p.add_argument("--pause-speed", type=float, default=0.15, help="mean joint speed in m/s under which the body is still (default 0.15)")
    p.add_argument("--label", action="store_true", help="print the model's most likely action for each clip")
    p.add_argument("--model", type=Path, help="model weights for --label (default: the shipped model)")


def run(args: argparse.Namespace) -> int:
    if not args.output.parent.is_dir():
        raise LMMError(f"{args.output}: the folder {args.output.parent} does not exist; create it first")
    if args.fps is not None and not args.fps > 0:
        raise LMMError(f"--fps must be positive, got {args.fps}")
    if args.max_offset < 0 or args.smooth < 0 or not args.threshold > 0:
        raise LMMError("--max-offset and --smooth must not be negative, and --threshold must be positive")
    options = CaptureOptions(fps=args.fps, sync=not args.no_sync, max_offset=args.max_offset, threshold_px=args.threshold,
                             smooth_s=args.smooth, limits=not args.no_limits, pin_feet=args.pin_feet,
                             refine_cameras=not args.no_refine_cameras, flip=not args.no_flip,
                             length_sd=args.length_sd)
    if not args.keypoints:
        motion = _one_camera(args)
    else:
        # Video detections are kept beside the output (take.keypoints/), so a re-run skips detection.
        result = capture_files(args.calibration, args.keypoints, options, fmt=args.format, units=args.units, up=args.up,
                               show_progress=True, cache=cache_folder(args.output))
        print(result.summary())
        motion = result.motion
    if not args.split:
        clips = [(0, motion.num_frames)]
    else:
        clips = segment(motion, speed_threshold=args.pause_speed, min_pause_s=args.min_pause)
        if not clips:
            raise LMMError("the performer never moves faster than --pause-speed; nothing to split (write it without --split)")
        print(f"clips     {len(clips)} between pauses of at least {args.min_pause:g} s")
    for i, (a, b) in enumerate(clips, start=1):
        clip = motion if (a, b) == (0, motion.num_frames) else motion.slice(a, b)
        out = numbered(args.output, i) if args.split else args.output
        if args.split:
            print(f"clip {i:03d}  frames {a}-{b - 1} ({(b - a) / motion.fps:.2f} s)")
        if args.label:
            top = next(iter(intent(clip, args.model)["action"].items()), None)
            print(f"          action: {top[0]} ({top[1]:.0%})" if top else "          action: (none)")
        write_result(clip, out, args.rig)
    return 0


def _one_camera(args: argparse.Namespace):
    """``lmm capture VIDEO -o OUT``: one camera, no calibration (``monocular``)."""
    video = args.calibration
    if not is_video(video):
        raise LMMError(f"{video}: give the keypoints or videos after the calibration (or one video alone, for one camera "
                       "with no calibration)")
    if not video.is_file():
        raise LMMError(f"{video}: video not found; check the path")
    from .monocular import monocular

    _, dets = detect_videos([video], cache_folder(args.output), flip=not args.no_flip, show_progress=True)
    det = dets[0]
    if args.fps is not None:
        det = Detections(det.keypoints, det.world, args.fps, det.size, det.checked, det.flip)
    motion, points = monocular(det, focal_px=args.focal, smooth_s=args.smooth, limits=not args.no_limits, pin_feet=args.pin_feet)
    seen = float(np.mean(det.keypoints[..., 2].max(axis=1) > 0))
    print(f"one camera {video.stem}: {motion.num_frames} frames at {motion.fps:g} fps, person found in {100 * seen:.0f}% of them; "
          f"height {motion.height():.2f} m (scale and distance are BlazePose's guess: see docs/capture.md)")
    return motion


__all__ = ["add_arguments", "run"]
