"""The capture pipeline: calibration + 2D keypoints in, a ``Motion`` on the canonical body out.

Steps (each in its own module):

1. match keypoint cameras to calibrated ones by name (``keypoints``, ``calibration``);
2. undistort every detection to normalised image coordinates (``cameras``);
3. estimate each camera's frame offset from the keypoints and shift them onto one timeline (``sync``);
4. triangulate every keypoint of every frame, robustly (``triangulate``), and refit the points on rigid
   segments with each segment held to one length for the take (``rigid``);
5. turn the world so Y is up, smooth and fill gaps (``smoothing``);
6. fit the performer's bone lengths and solve joint rotations within the joint limits (``solve``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from ..errors import LMMError, MotionFileError
from ..motion import Motion
from ..progress import progress as progress_bar
from . import image_offsets, rigid
from .calibration import Calibration, read_calibration
from .consistency import foreign, refine
from .keypoints import Keypoints2D, read_keypoints
from .smoothing import sample_weights, smooth
from .solve import fit_skeleton, solve
from .stance import pin_planted
from .sync import apply_offsets, estimate_offsets, search_limit
from .triangulate import reprojection_errors, triangulate
from .video import detect_videos, redetect_performer, video_files

DEFAULT_FPS = 30.0
REDETECT_ROUNDS = 3  # looking for the performer again in frames a camera was left out of (videos only)
_CHUNK = 256  # frames triangulated at once (bounded memory, and the progress bar's step)
# The cameras' image offsets (``image_offsets``): rounds of measuring and triangulating again, until a round
# moves no camera by more than the tolerance. Measured on Pose2Sim's demo (2026-12-05): each round's step is about
# 0.45 of the last (4.6, 2.1, 0.9, 0.4, 0.1 px for the camera that moved most).
OFFSET_ROUNDS = 6
OFFSET_TOLERANCE_PX = 0.2
# Geometry a capture cannot be made from. Depth comes from the angle between two cameras' rays to the same
# point: cameras (nearly) at one place, or whose rays to the performer are nearly parallel, give points
# anywhere along the ray (two cameras at one place made a 19 m torso). Real rigs see the performer from
# 20 degrees apart or more.
MIN_BASELINE_M = 0.01
MIN_PARALLAX_DEG = 2.0
# A camera whose detections lie, by the median, further than the agreement threshold (--threshold) from
# where the triangulated points project does not belong to its calibration: its keypoints are another
# camera's, or the cameras are in another order. Measured on synthetic footage (2026-12-05): 2 to 6 cameras
# with 4 px noise, 5% outliers and 5% left/right swaps, medians of 1.8-4.5 px; keypoints swapped between two
# of three cameras, 8 and 37 px.
# A performer's torso (mid-hips to mid-shoulders), thigh and shin, metres: a body outside these is a wrong
# calibration (units, cameras mixed up), not a person.
BODY_RANGES_M = {"torso": (0.2, 1.2), "left_thigh": (0.15, 1.0), "left_shin": (0.15, 1.0)}


@dataclass(frozen=True)
class CaptureOptions:
    """Settings of ``capture``; the defaults suit 25 to 120 fps video and 1 to 5 px detector noise.

    Attributes:
        fps: frame rate of the footage (default: what the keypoints file says, else 30).
        sync: estimate per-camera frame offsets (off: the cameras are genlocked).
        max_offset: the largest offset searched, frames either way.
        threshold_px: reprojection error under which a camera agrees with a triangulated point.
        smooth_s: the smoothing window's standard deviation, seconds (0: no smoothing).
        limits: keep joints inside the learned joint limits.
        body_check: decide keypoints the cameras split on evenly by the body's segment lengths
            (``consistency``).
        pin_feet: hold each foot still while it is down (``feet.pin_feet`` on the "lock" contacts), two-bone
            IK on the legs, and at one orientation while it stands flat (``stance``): the centimetre of
            slide detector noise leaves on a planted foot goes.
        refine_cameras: measure each camera's constant image offset on the take and take it off before the
            final triangulation (``image_offsets``; three cameras or more): a few pixels of calibration or
            detector bias.
        flip: video input: detect each frame also mirrored and average the two (``video.detect``); twice
            the detection time.
        length_sd: refit the triangulated keypoints with each rigid segment (limbs, hips, feet) held to one
            length for the take, within this share of it (``rigid``); 0: each point as triangulated.
    """

    fps: float | None = None
    sync: bool = True
    max_offset: int = 30
    threshold_px: float = 20.0
    smooth_s: float = 0.05
    limits: bool = True
    body_check: bool = True
    pin_feet: bool = False
    refine_cameras: bool = True
    flip: bool = True
    length_sd: float = rigid.LENGTH_SD


@dataclass(eq=False)
class CaptureResult:
    """What ``capture`` made, with what it measured on the way.

    Attributes:
        motion: the solved motion on the canonical body (the performer's bone lengths), metres, Y up.
        points: ``(T, K, 3)`` smoothed, gap-free keypoints, metres, Y up (what the solver fitted).
        raw_points: ``(T, K, 3)`` triangulated keypoints before smoothing (NaN where none).
        error_px: ``(T, K)`` mean reprojection error of the inlier cameras, pixels.
        views: ``(T, K)`` number of cameras agreeing on each point.
        filled: ``(T, K)`` points that smoothing filled in (no triangulation there).
        offsets: ``(C,)`` frames each camera ran ahead of the first camera (see ``sync``).
        start: the first camera's frame at which the motion starts (its frame ``start + k`` is the
            motion's frame ``k``; negative where another camera started recording earlier).
        cameras: camera names, in the keypoints' order.
        lengths: the measured bone lengths, metres.
        left_out: ``(C, T)`` the frames in which a camera's detections were left out as another
            person's (``consistency.foreign``), on the motion's frames.
        image_offsets_px: ``(C, 2)`` each camera's constant image offset taken off its detections, pixels
            (``image_offsets``; zeros where not measured): the calibration's projection plus it is where the
            camera sees a point.
    """

    motion: Motion
    points: np.ndarray
    raw_points: np.ndarray
    error_px: np.ndarray
    views: np.ndarray
    filled: np.ndarray
    offsets: np.ndarray
    start: int
    cameras: tuple[str, ...]
    lengths: dict[str, float] = field(default_factory=dict)
    left_out: np.ndarray | None = None
    image_offsets_px: np.ndarray | None = None

    def summary(self) -> str:
        """A few lines for the command line."""
        err = self.error_px[np.isfinite(self.error_px)]
        offs = ", ".join(f"{n} {int(o):+d}" for n, o in zip(self.cameras, self.offsets))
        return "\n".join([
            f"cameras   {len(self.cameras)}; frame offsets {offs}",
            f"frames    {self.motion.num_frames} at {self.motion.fps:g} fps (from frame {self.start} of {self.cameras[0]})",
            f"keypoints triangulated {100 * np.mean(~np.isnan(self.raw_points[..., 0])):.1f}%, filled {100 * self.filled.mean():.1f}%, "
            f"mean views {self.views.mean():.2f}, reprojection error median {np.median(err) if err.size else float('nan'):.1f} px",
            f"body      torso {self.lengths.get('torso', 0) * 100:.1f} cm, legs {self.lengths.get('left_thigh', 0) * 100 + self.lengths.get('left_shin', 0) * 100:.1f} cm, "
            f"arms {self.lengths.get('left_upper_arm', 0) * 100 + self.lengths.get('left_forearm', 0) * 100:.1f} cm (left side)",
        ])


def _match_cameras(calib: Calibration, kp: Keypoints2D) -> Calibration:
    if kp.cameras is None:
        if kp.num_cameras != len(calib.cameras):
            raise MotionFileError(kp.source, f"the keypoints hold {kp.num_cameras} cameras but the calibration has "
                                  f"{len(calib.cameras)}; store camera names in the keypoints (npz 'cameras') or match the counts")
        return calib
    missing = [n for n in kp.cameras if n not in calib.names]
    if missing:
        raise MotionFileError(calib.source, f"no calibration for camera(s) {', '.join(missing)}; "
                              f"the calibration has: {', '.join(calib.names)}")
    return calib.select(kp.cameras)


def check_baselines(cams: list, source) -> None:
    """Refuse cameras that all stand within ``MIN_BASELINE_M`` of each other: no depth can be measured."""
    centres = np.stack([c.centre for c in cams])
    gaps = np.linalg.norm(centres[:, None] - centres[None], axis=-1)
    if gaps.max() < MIN_BASELINE_M:
        i, j = np.unravel_index(np.argmax(gaps - np.tri(len(cams))), gaps.shape)  # a pair, not one camera twice
        raise MotionFileError(source, f"the cameras stand at one place (at most {100 * gaps.max():.1f} cm apart, "
                              f"{cams[i].name} and {cams[j].name}): depth cannot be measured. Check the calibration's "
                              "translations and --units, or film from places at least a metre apart")


def check_agreement(errors: list[np.ndarray], names, threshold_px: float, source) -> None:
    """Refuse cameras whose detections lie, by the median, further than ``threshold_px`` from the triangulated
    points' projections (``errors``: per camera, pixels): their keypoints do not fit their calibration."""
    medians = [float(np.median(e)) if e.size else 0.0 for e in errors]
    bad = [f"{n} (median {m:.0f} px)" for n, m in zip(names, medians) if m > threshold_px]
    if bad:
        raise MotionFileError(source, f"the keypoints of camera(s) {', '.join(bad)} do not agree with their calibration: "
                              f"they lie further than {threshold_px:g} px from where the other cameras put the "
                              "points. Check that each camera's keypoints are filed under its own name (or in the "
                              "calibration's order), the calibration's units, and that the camera does not follow someone else")


# A camera left out (as watching someone else) of more than this share of the frames is refused.
MAX_LEFT_OUT = 0.5


def check_followed(away: np.ndarray, names, source) -> None:
    """Refuse cameras left out of more than ``MAX_LEFT_OUT`` of the frames (``away``: ``(C, T)``) as
    watching someone else: they follow another person, or their keypoints are another camera's."""
    share = away.mean(axis=1) if away.size else np.zeros(len(names))
    bad = [f"{n} ({100 * s:.0f}% of the frames)" for n, s in zip(names, share) if s > MAX_LEFT_OUT]
    if bad:
        raise MotionFileError(source, f"the detections of camera(s) {', '.join(bad)} disagree with the other cameras on "
                              "the whole body: they follow another person, or belong to another camera. Keep other "
                              "people out of that camera's view (or leave the camera out), and check that each camera's "
                              "keypoints are filed under its own name")


def check_parallax(raw: np.ndarray, cams: list, source) -> None:
    """Refuse a take that no two cameras see from directions ``MIN_PARALLAX_DEG`` apart (``raw``: ``(T, K, 3)``
    triangulated points, calibration world)."""
    pts = raw.reshape(-1, 3)
    pts = pts[np.all(np.isfinite(pts), axis=1)]
    centre = np.median(pts, axis=0)
    rays = np.stack([centre - c.centre for c in cams])
    rays /= np.maximum(np.linalg.norm(rays, axis=1, keepdims=True), 1e-12)
    angles = np.degrees(np.arccos(np.clip(rays @ rays.T, -1.0, 1.0)))
    best = float(angles.max())
    if best < MIN_PARALLAX_DEG:
        i, j = np.unravel_index(np.argmax(angles - 1e3 * np.tri(len(cams))), angles.shape)
        raise MotionFileError(source, f"no two cameras see the performer from directions more than {best:.2f} degrees "
                              f"apart (best: {cams[i].name} and {cams[j].name}; at least {MIN_PARALLAX_DEG:g} needed): "
                              "depth cannot be measured. Check the calibration's translations and --units, or place "
                              "cameras around the performer")


def check_body(lengths: dict[str, float], source) -> None:
    """Refuse a solved body whose torso or leg lengths no person has (``BODY_RANGES_M``)."""
    for name, (low, high) in BODY_RANGES_M.items():
        value = lengths.get(name)
        if value is not None and not low <= value <= high:
            raise MotionFileError(source, f"the solved body's {name.replace('_', ' ')} is {value:.2f} m long (a person's "
                                  f"is {low:g} to {high:g} m): the calibration does not fit this footage. Check its "
                                  "units (--units), that camera names match the keypoints, and that the cameras are "
                                  "not at one place")


def _triangulate_take(obs_a: np.ndarray, conf_a: np.ndarray, poses: np.ndarray, focal: np.ndarray, joint_set,
                      options: CaptureOptions, report: Callable[[float], None], show_progress: bool):
    """Steps 4 and 4b on the aligned detections ``obs_a (C, T, K, 2)`` (normalised) and ``conf_a (C, T, K)``.

    Returns ``raw (T, K, 3)`` (calibration world, NaN where not triangulated), ``err``, ``views``, ``tconf``
    ``(T, K)``, ``miss``: per chunk of frames the detections' reprojection errors ``(C, frames, K)`` px, and
    ``away (C, T)``: the frames a camera was left out of as watching someone else.
    """
    C, T, K = conf_a.shape
    raw = np.full((T, K, 3), np.nan)
    err = np.full((T, K), np.nan)
    views = np.zeros((T, K), dtype=int)
    tconf = np.zeros((T, K))
    miss: list[np.ndarray] = []
    starts = list(range(0, T, _CHUNK))
    for i, a in enumerate(progress_bar(starts, desc="triangulating", unit="chunk", enabled=show_progress)):
        b = min(T, a + _CHUNK)
        o = obs_a[:, a:b].reshape(C, -1, 2)
        w = conf_a[:, a:b].reshape(C, -1)
        tri = triangulate(np.where((w > 0)[..., None], o, np.nan), w, poses, focal, threshold_px=options.threshold_px)
        raw[a:b] = tri.points.reshape(b - a, K, 3)
        err[a:b] = tri.error_px.reshape(b - a, K)
        views[a:b] = tri.views.reshape(b - a, K)
        tconf[a:b] = tri.confidence.reshape(b - a, K)
        e = reprojection_errors(tri.points, np.where((w > 0)[..., None], o, np.nan), poses, focal)
        miss.append(np.where(w > 0, e, np.nan).reshape(C, b - a, K).astype(np.float32))
        report((i + 1) / len(starts))
    # 4b. one person (``consistency``): a camera watching someone else in a frame is left out of that frame,
    # and keypoints on which the cameras split evenly are decided by the body's segment lengths.
    valid_a = conf_a > 0
    obs_nan = np.where(valid_a[..., None], obs_a, np.nan)
    away = foreign(obs_nan, valid_a, raw, poses, focal, options.threshold_px)
    if away.any():
        conf_a = np.where(away[..., None], 0.0, conf_a)
        frames = np.flatnonzero(away.any(axis=0))
        o = obs_nan[:, frames].reshape(C, -1, 2)
        w = conf_a[:, frames].reshape(C, -1)
        tri = triangulate(np.where((w > 0)[..., None], o, np.nan), w, poses, focal, threshold_px=options.threshold_px)
        n = len(frames)
        raw[frames], err[frames] = tri.points.reshape(n, K, 3), tri.error_px.reshape(n, K)
        views[frames], tconf[frames] = tri.views.reshape(n, K), tri.confidence.reshape(n, K)
    if options.body_check:
        refine(np.where((conf_a > 0)[..., None], obs_a, np.nan), conf_a, poses, focal, joint_set, options.threshold_px,
               raw, err, views, tconf)
    return raw, err, views, tconf, miss, away


def _hold_lengths(raw: np.ndarray, error: np.ndarray, obs: np.ndarray, conf: np.ndarray, poses: np.ndarray,
                  focal: np.ndarray, joint_set, options: CaptureOptions) -> tuple[np.ndarray, np.ndarray]:
    """Step 4c (``rigid``): the triangulated points ``raw (T, K, 3)`` refitted to the cameras that agree on them
    (``obs (C, T, K, 2)``, ``conf (C, T, K)``) with one length per rigid segment; returns them and the mean
    reprojection error ``(T, K)``, px, over those cameras, measured again for every point (the ones the refit
    leaves alone too, by the same cameras); ``error`` (the triangulation's) where no camera agrees any more."""
    C, T, K = conf.shape
    o = np.where((conf > 0)[..., None], obs, np.nan).reshape(C, -1, 2)
    agree = (conf > 0) & (reprojection_errors(raw.reshape(-1, 3), o, poses, focal).reshape(C, T, K) < options.threshold_px)
    held, _ = rigid.hold_lengths(raw, obs, np.where(agree, conf, 0.0), poses, focal, joint_set, length_sd=options.length_sd)
    e = reprojection_errors(held.reshape(-1, 3), o, poses, focal).reshape(C, T, K)
    n = agree.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        err = np.where(n > 0, np.where(agree, e, 0.0).sum(axis=0) / np.maximum(n, 1), error)
    return held, np.where(np.isfinite(held[..., 0]), err, np.nan)


def capture(calib: Calibration, kp: Keypoints2D, options: CaptureOptions = CaptureOptions(), *,
            progress: Callable[[float], None] | None = None, show_progress: bool = False, strict: bool = True) -> CaptureResult:
    """Run the pipeline (see the module docstring).

    ``strict=False`` skips the checks that cameras agree with each other (``check_agreement``,
    ``check_followed``): for a first pass whose disagreeing frames are looked at again (video input).

    Args:
        progress: called with the fraction done (0 to 1), e.g. Blender's progress bar.
        show_progress: draw a progress bar on stderr (the command line).
    """
    report = progress or (lambda f: None)
    calib = _match_cameras(calib, kp)
    C = kp.num_cameras
    if C < 2:
        raise LMMError(f"triangulation needs at least 2 cameras, the keypoints have {C}")
    if not (np.isfinite(options.length_sd) and options.length_sd >= 0):
        raise LMMError(f"length_sd (--length-sd) must be a finite number, 0 or more, got {options.length_sd}")
    fps = float(options.fps or kp.fps or DEFAULT_FPS)
    if not (np.isfinite(fps) and fps > 0):
        raise LMMError(f"fps must be a positive number, got {fps}")
    cams = list(calib.cameras)
    check_baselines(cams, calib.source)
    valid = kp.data[..., 2] > 0
    if not valid.any():
        raise MotionFileError(kp.source, "no keypoint was detected in any camera (every confidence is 0)")
    # 2. undistort
    obs = np.stack([cam.undistort(kp.data[c, ..., :2]) for c, cam in enumerate(cams)])
    valid &= np.all(np.isfinite(obs), axis=-1)
    conf = np.where(valid, kp.data[..., 2], 0.0)
    report(0.05)
    # 3. sync
    offsets = np.zeros(C, dtype=int)
    if options.sync:
        offsets = estimate_offsets(obs, valid, cams, options.max_offset)
        limit = search_limit(options.max_offset, kp.num_frames)
        pinned = [calib.names[c] for c in range(C) if limit and abs(int(offsets[c])) >= limit]
        if pinned:
            raise LMMError(f"the frame offset of camera(s) {', '.join(pinned)} reached the search limit ({limit} frames "
                           "either way): either they started further apart (raise --max-offset), or their keypoints "
                           "belong to other cameras (check the camera names in the keypoints against the calibration); "
                           "if the cameras are synchronised, give --no-sync")
    packed = np.concatenate([np.where(valid[..., None], obs, 0.0), conf[..., None]], axis=-1)
    aligned, start = apply_offsets(packed, offsets)
    if aligned.shape[1] == 0:
        raise LMMError("after aligning the cameras' frames no frame is seen by two cameras; check the frame offsets or use --no-sync")
    obs_a, conf_a = aligned[..., :2], aligned[..., 2]
    report(0.15)
    # 4. triangulate (with the one-person checks), then measure each camera's constant image offset and
    # triangulate again with it taken off (``image_offsets``)
    poses = np.stack([c.pose for c in cams])
    focal = np.array([c.focal for c in cams])
    shift = np.zeros((C, 2))  # normalised image coordinates
    rounds = OFFSET_ROUNDS if options.refine_cameras and C >= image_offsets.MIN_CAMERAS else 0
    valid_a = conf_a > 0
    for r in range(rounds + 1):
        obs_r = obs_a - shift[:, None, None]
        raw, err, views, tconf, miss, away = _triangulate_take(
            obs_r, conf_a, poses, focal, kp.joint_set, options,
            lambda f, r=r: report(0.15 + 0.6 * (r + f) / (rounds + 1)), show_progress and r == 0)
        if r == rounds:
            break
        step = image_offsets.measure(np.where(valid_a[..., None], obs_r, np.nan), valid_a & ~away[..., None], raw,
                                     poses, focal, options.threshold_px)
        shift += step
        if float(np.max(np.abs(step) * focal[:, None])) < OFFSET_TOLERANCE_PX:
            rounds = r + 1  # settled: one more triangulation with it, then stop
    if options.length_sd > 0:
        raw, err = _hold_lengths(raw, err, obs_r, conf_a * ~away[..., None], poses, focal, kp.joint_set, options)
    if np.all(np.isnan(raw)):
        raise LMMError("no keypoint was seen by two cameras that agree on it; check that the calibration belongs to this footage "
                       "(camera names, order, units)")
    # Frames at the ends that no two cameras agree on (a camera started late, the performer walked in)
    # would only be held copies of the first and last seen poses: leave them out.
    seen = np.flatnonzero(np.isfinite(raw[..., 0]).any(axis=1))
    raw, err, views, tconf = (a[seen[0]:seen[-1] + 1] for a in (raw, err, views, tconf))
    away = away[:, seen[0]:seen[-1] + 1]
    start += int(seen[0])
    # 5. Y up, smooth, fill
    if strict:
        # Judged on the frames each camera was not left out of as watching someone else, unless that is most
        # of them: such a camera is judged on all its frames (its keypoints may be another camera's).
        e_all = np.concatenate(miss, axis=1)[:, seen[0]:seen[-1] + 1]
        per_camera = [e_all[c] if away[c].mean() > MAX_LEFT_OUT else e_all[c][~away[c]] for c in range(C)]
        check_agreement([m[np.isfinite(m)] for m in per_camera], calib.names, options.threshold_px, calib.source)
        check_followed(away, calib.names, calib.source)
    check_parallax(raw, cams, calib.source)
    W = calib.to_y_up()
    raw = raw @ W.T
    never = [kp.joint_set.names[k] for k in range(raw.shape[1]) if np.all(np.isnan(raw[:, k, 0]))]
    if never:
        raise LMMError(f"keypoints never triangulated: {', '.join(never)}; at least two cameras must see each of them")
    points, filled = smooth(raw, sample_weights(tconf, views, err), fps, options.smooth_s)
    report(0.85)
    # 6. solve
    skeleton, lengths = fit_skeleton(points, kp.joint_set)
    check_body(lengths, calib.source)
    motion = solve(points, kp.joint_set, fps, limits=options.limits, skeleton=skeleton)
    if options.pin_feet:
        # Contacts by the motion's own ground level: the calibration's floor need not be the one stood on.
        motion = pin_planted(motion, floor=None)
    report(1.0)
    return CaptureResult(motion, points, raw, err, views, filled, offsets, start, tuple(calib.names), lengths, away,
                         shift * focal[:, None])


def capture_files(calibration: str | Path, keypoints, options: CaptureOptions = CaptureOptions(), *, fmt: str = "auto",
                  units: str | None = None, up: str | None = None, progress: Callable[[float], None] | None = None,
                  show_progress: bool = False, cache: Path | None = None,
                  cancel: Callable[[], bool] | None = None) -> CaptureResult:
    """``capture`` on files: a calibration (``read_calibration``) and keypoints (``read_keypoints``: one
    ``.npz`` or one JSON folder per camera) or videos (one per camera, named after it, or folders of them:
    BlazePose detects the keypoints, ``video.py``).

    Args:
        cache: where video detections are cached (``video.cache_folder(output)``); ``None``: not cached.
        cancel: called between video frames; True stops the detection with an ``LMMError``.
    """
    calib = read_calibration(calibration, units=units, up=up)
    videos = video_files([keypoints] if isinstance(keypoints, (str, Path)) else keypoints)
    if videos is None:
        kp = read_keypoints(keypoints, fmt)
        return capture(calib, kp, options, progress=progress, show_progress=show_progress)
    if fmt not in ("auto", "blazepose"):
        raise LMMError(f"videos are detected with BlazePose; --format {fmt} applies to keypoint files only")
    missing = [v.stem for v in videos if v.stem not in calib.names]
    if missing:  # before minutes of detection
        raise MotionFileError(calib.source, f"no calibration for the video(s) {', '.join(missing)}: each video is named after its "
                              f"camera, and the calibration has: {', '.join(calib.names)}")
    report = progress or (lambda f: None)
    kp, _ = detect_videos(videos, cache, flip=options.flip, show_progress=show_progress, progress=lambda f: report(0.7 * f), cancel=cancel)
    result = capture(calib, kp, options, progress=lambda f: report(0.7 + 0.1 * f), show_progress=show_progress, strict=False)
    # A camera that followed somebody else for some frames: look again there, in a crop around where the
    # other cameras put the performer, and keep what agrees with them. A repaired camera can change the
    # triangulation enough to leave out other frames: a few rounds, until every frame left out has been
    # looked at (the cache remembers them, so a re-run does not look again). The last pass checks that the
    # cameras agree (``strict``).
    for i in range(REDETECT_ROUNDS):
        if result.left_out is None or not result.left_out.any():
            break
        again = redetect_performer(videos, calib.select(kp.cameras or calib.names), kp, result, options.threshold_px, cache,
                                   flip=options.flip, show_progress=show_progress)
        if again is None:
            break
        kp = again
        result = capture(calib, kp, options, progress=lambda f, i=i: report(0.8 + 0.15 * (i + f) / REDETECT_ROUNDS),
                         strict=False)
    else:  # out of rounds: what is left out now stays so, on a re-run too
        redetect_performer(videos, calib.select(kp.cameras or calib.names), kp, result, options.threshold_px, cache, flip=options.flip,
                           look=False)
    result = capture(calib, kp, options, strict=True)
    report(1.0)
    return result
