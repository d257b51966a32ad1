"""The capture pipeline: calibration + 2D keypoints in, a ``Motion`` on the canonical body out.

Steps (each in its own module):

1. match keypoint cameras to calibrated ones by name (``keypoints``, ``calibration``);
2. undistort every detection to normalised image coordinates (``cameras``);
3. estimate each camera's frame offset from the keypoints and shift them onto one timeline (``sync``);
4. triangulate every keypoint of every frame, robustly (``triangulate``);
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
from .calibration import Calibration, read_calibration
from .keypoints import Keypoints2D, read_keypoints
from .smoothing import sample_weights, smooth
from .solve import fit_skeleton, solve
from .sync import apply_offsets, estimate_offsets
from .triangulate import triangulate

DEFAULT_FPS = 30.0
_CHUNK = 256  # frames triangulated at once (bounded memory, and the progress bar's step)


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
    """

    fps: float | None = None
    sync: bool = True
    max_offset: int = 30
    threshold_px: float = 20.0
    smooth_s: float = 0.05
    limits: bool = True


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


def capture(calib: Calibration, kp: Keypoints2D, options: CaptureOptions = CaptureOptions(), *,
            progress: Callable[[float], None] | None = None, show_progress: bool = False) -> CaptureResult:
    """Run the pipeline (see the module docstring).

    Args:
        progress: called with the fraction done (0 to 1), e.g. Blender's progress bar.
        show_progress: draw a progress bar on stderr (the command line).
    """
    report = progress or (lambda f: None)
    calib = _match_cameras(calib, kp)
    C = kp.num_cameras
    if C < 2:
        raise LMMError(f"triangulation needs at least 2 cameras, the keypoints have {C}")
    fps = float(options.fps or kp.fps or DEFAULT_FPS)
    if not (np.isfinite(fps) and fps > 0):
        raise LMMError(f"fps must be a positive number, got {fps}")
    cams = list(calib.cameras)
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
    packed = np.concatenate([np.where(valid[..., None], obs, 0.0), conf[..., None]], axis=-1)
    aligned, start = apply_offsets(packed, offsets)
    if aligned.shape[1] == 0:
        raise LMMError("after aligning the cameras' frames no frame is seen by two cameras; check the frame offsets or use --no-sync")
    obs_a, conf_a = aligned[..., :2], aligned[..., 2]
    report(0.15)
    # 4. triangulate, in chunks of frames
    T, K = obs_a.shape[1:3]
    poses = np.stack([c.pose for c in cams])
    focal = np.array([c.focal for c in cams])
    raw = np.full((T, K, 3), np.nan)
    err = np.full((T, K), np.nan)
    views = np.zeros((T, K), dtype=int)
    tconf = np.zeros((T, K))
    starts = list(range(0, T, _CHUNK))
    a: int
    for i, a in enumerate(progress_bar(starts, desc="triangulating", unit="chunk", enabled=show_progress)):
        b = min(T, a + _CHUNK)
        o = obs_a[:, a:b].reshape(C, -1, 2)
        w = conf_a[:, a:b].reshape(C, -1)
        tri = triangulate(np.where((w > 0)[..., None], o, np.nan), w, poses, focal, threshold_px=options.threshold_px)
        raw[a:b] = tri.points.reshape(b - a, K, 3)
        err[a:b] = tri.error_px.reshape(b - a, K)
        views[a:b] = tri.views.reshape(b - a, K)
        tconf[a:b] = tri.confidence.reshape(b - a, K)
        report(0.15 + 0.6 * (i + 1) / len(starts))
    if np.all(np.isnan(raw)):
        raise LMMError("no keypoint was seen by two cameras that agree on it; check that the calibration belongs to this footage "
                       "(camera names, order, units)")
    # Frames at the ends that no two cameras agree on (a camera started late, the performer walked in)
    # would only be held copies of the first and last seen poses: leave them out.
    seen = np.flatnonzero(np.isfinite(raw[..., 0]).any(axis=1))
    raw, err, views, tconf = (a[seen[0]:seen[-1] + 1] for a in (raw, err, views, tconf))
    start += int(seen[0])
    # 5. Y up, smooth, fill
    W = calib.to_y_up()
    raw = raw @ W.T
    never = [kp.joint_set.names[k] for k in range(K) if np.all(np.isnan(raw[:, k, 0]))]
    if never:
        raise LMMError(f"keypoints never triangulated: {', '.join(never)}; at least two cameras must see each of them")
    points, filled = smooth(raw, sample_weights(tconf, views, err), fps, options.smooth_s)
    report(0.85)
    # 6. solve
    skeleton, lengths = fit_skeleton(points, kp.joint_set)
    motion = solve(points, kp.joint_set, fps, limits=options.limits, skeleton=skeleton)
    report(1.0)
    return CaptureResult(motion, points, raw, err, views, filled, offsets, start, tuple(calib.names), lengths)


def capture_files(calibration: str | Path, keypoints, options: CaptureOptions = CaptureOptions(), *, fmt: str = "auto",
                  units: str | None = None, up: str | None = None, progress: Callable[[float], None] | None = None,
                  show_progress: bool = False) -> CaptureResult:
    """``capture`` on files: a calibration (``read_calibration``) and keypoints (``read_keypoints``: one
    ``.npz`` or one JSON folder per camera)."""
    calib = read_calibration(calibration, units=units, up=up)
    kp = read_keypoints(keypoints, fmt)
    return capture(calib, kp, options, progress=progress, show_progress=show_progress)
