"""Video files in, 2D keypoints out: decoding each camera's video and detecting BlazePose's 33 landmarks.

The detector is BlazePose (MediaPipe Pose, "full" model), whose model files ship inside the ``mediapipe``
0.10.14 wheel (``mediapipe/modules/pose_landmark/``, ``pose_detection/``): nothing is downloaded when it
runs, and it runs on the CPU. MediaPipe and OpenCV (which decodes the video) are an optional extra
(``pip install 'lmm[capture]'``, or ``make capture-deps``): they are imported only here and only when a
video is given, so ``lmm_core`` and the Blender extension need neither.

Detections are cached per camera next to the output: ``take.bvh``'s are in ``take.keypoints/cam01.npz``
(``keypoints.write_npz``'s layout, plus the key below). A re-run reads the cache when the video's size and
modification time and the detector's settings are unchanged, and detects again otherwise. A cache file
also works as a keypoints file for ``lmm capture`` on its own.

One person per frame: BlazePose tracks the person it found first (the landmark model's region follows
them from frame to frame) and looks for a person again only when it loses them. Where several people
are in view (``docs/capture.md``), the triangulation keeps the cameras that agree on one person; see
``pipeline``.
"""
from __future__ import annotations

import contextlib
import os
import sys
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from ..errors import LMMError, MotionFileError
from ..io.atomic import atomic_binary_writer
from ..io.npz import read_npz
from ..progress import progress as progress_bar
from .keypoints import BLAZEPOSE, Keypoints2D

VIDEO_SUFFIXES = (".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg")
INSTALL_HINT = "video input needs MediaPipe and OpenCV: pip install 'lmm[capture]' (or make capture-deps)"
MEDIAPIPE_VERSION = "0.10.14"
# What a cache file was made with: a cache made otherwise is detected again.
DETECTOR = f"blazepose-full mediapipe {MEDIAPIPE_VERSION} min_detection 0.5 min_tracking 0.5 no_smoothing pixel_centres"


def detector_key(flip: bool) -> str:
    """What a cache file records as its detector: ``DETECTOR``, plus ``flip`` for the mirrored second pass."""
    return DETECTOR + (" flip_averaged" if flip else "")


def _swap_sides(name: str) -> str:
    for a, b in (("left", "right"), ("right", "left")):
        if a in name:
            return name.replace(a, b)
    return name


# BlazePose's landmarks in a mirrored image are the other side's: landmark k of the mirrored pass is the
# performer's MIRROR[k].
MIRROR = np.array([BLAZEPOSE.index(_swap_sides(n)) for n in BLAZEPOSE.names])
# Where the two passes put a landmark further apart than this share of the body's height (the confident
# landmarks' extent), they did not see the same thing (a limb's sides swapped, or each pass followed
# someone else): the more visible one is kept instead of a point between them.
FLIP_AGREE = 0.1


def unmirror(keypoints: np.ndarray, world: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Landmarks detected in a horizontally mirrored frame, carried back onto the frame: ``keypoints
    (..., 33, 3)`` (pixels of the mirrored frame, visibility) and ``world (..., 33, 3)`` (metres, camera
    axes) -> the same in the frame's pixels and axes, with left and right swapped back."""
    kp = keypoints[..., MIRROR, :].copy()
    kp[..., 0] = np.where(kp[..., 2] > 0, (width - 1) - kp[..., 0], 0.0)  # OpenCV pixel centres: i <-> w - 1 - i
    wo = world[..., MIRROR, :].copy()
    wo[..., 0] = -wo[..., 0]
    return kp, wo


def merge_flipped(kp_a: np.ndarray, world_a: np.ndarray, kp_b: np.ndarray, world_b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One frame's landmarks from the plain pass ``a`` and the un-mirrored pass ``b`` (``(33, 3)`` each, as
    ``Detections``): their visibility-weighted mean, visibility the mean of the two. Where only one pass
    found the person, that pass; where the two put a landmark further apart than ``FLIP_AGREE`` of the
    body's height, the more visible one; where they do so for most landmarks, the more visible pass whole."""
    va, vb = kp_a[:, 2], kp_b[:, 2]
    if not (va > 0).any():
        return kp_b, world_b
    if not (vb > 0).any():
        return kp_a, world_a
    s = np.maximum(va + vb, 1e-9)[:, None]
    kp = np.concatenate([(va[:, None] * kp_a[:, :2] + vb[:, None] * kp_b[:, :2]) / s, 0.5 * (va + vb)[:, None]], axis=1)
    wa, wb = np.isfinite(world_a).all(axis=1), np.isfinite(world_b).all(axis=1)
    world = np.where((wa & wb)[:, None], (va[:, None] * np.nan_to_num(world_a) + vb[:, None] * np.nan_to_num(world_b)) / s,
                     np.where(wa[:, None], world_a, world_b))
    sure = kp_a[va > 0.5, :2]
    height = float(np.ptp(sure[:, 1])) if len(sure) >= 2 else float(np.ptp(kp_a[:, 1]))
    apart = np.linalg.norm(kp_a[:, :2] - kp_b[:, :2], axis=1) > FLIP_AGREE * max(height, 1.0)
    if apart.mean() > 0.5:  # two different people (or bodies): keep one pass whole, not a mixture of two
        return (kp_a, world_a) if va.mean() >= vb.mean() else (kp_b, world_b)
    keep_a = apart & (va >= vb)
    keep_b = apart & ~(va >= vb)
    kp[keep_a], world[keep_a] = kp_a[keep_a], world_a[keep_a]
    kp[keep_b], world[keep_b] = kp_b[keep_b], world_b[keep_b]
    return kp, world


def _landmarks(res, w: int, h: int) -> tuple[np.ndarray, np.ndarray]:
    """MediaPipe's result -> ``keypoints (33, 3)`` (pixels of the ``w`` x ``h`` image it was given,
    visibility; zeros where nobody was found) and ``world (33, 3)`` (NaN where none)."""
    kp = np.zeros((BLAZEPOSE.size, 3))
    world = np.full((BLAZEPOSE.size, 3), np.nan)
    if res.pose_landmarks is not None:
        # MediaPipe's 0..1 spans the image's edges; OpenCV's pixel i is centred at i.
        kp[:] = [(p.x * w - 0.5, p.y * h - 0.5, p.visibility) for p in res.pose_landmarks.landmark]
        if res.pose_world_landmarks is not None:
            world[:] = [(p.x, p.y, p.z) for p in res.pose_world_landmarks.landmark]
    return kp, world


def is_video(path: Path) -> bool:
    return path.suffix.lower() in VIDEO_SUFFIXES


def video_files(paths) -> list[Path] | None:
    """The videos among the inputs, one per camera, or ``None`` where the inputs are keypoint files.

    A folder counts as videos when it holds video files (each one a camera, in name order); video files
    and keypoint inputs cannot be mixed.
    """
    paths = [Path(p) for p in paths]
    found: list[Path] = []
    other: list[Path] = []
    for p in paths:
        if p.is_dir():
            vids = sorted(q for q in p.iterdir() if q.is_file() and is_video(q) and not q.name.startswith("."))
            (found.extend(vids) if vids else other.append(p))
        elif is_video(p):
            if not p.is_file():
                raise MotionFileError(p, "video not found; check the path")
            found.append(p)
        else:
            other.append(p)
    if not found:
        return None
    if other:
        raise MotionFileError(other[0], "give either videos (files or folders of them) or keypoint files, not a mix")
    stems = [p.stem for p in found]
    dup = sorted({s for s in stems if stems.count(s) > 1})
    if dup:
        raise LMMError(f"two videos are named {dup[0]!r}: each camera's video must be named after its camera in the calibration")
    return found


def _modules():
    """``(cv2, mediapipe pose solution)``, or the one-line install hint."""
    # MediaPipe logs every graph start to stderr through glog, and its protobuf use warns; neither is news
    # to a user.
    os.environ.setdefault("GLOG_minloglevel", "2")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        import cv2
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from mediapipe.python.solutions import pose as mp_pose
    except ImportError:
        raise LMMError(INSTALL_HINT) from None
    return cv2, mp_pose


_QUIET_LOCK = threading.Lock()
_quiet = {"depth": 0, "saved": None}


@contextlib.contextmanager
def _quiet_native_stderr():
    """Silence what MediaPipe's C++ side prints to the process's stderr (file descriptor 2) while its
    graph starts: TensorFlow Lite and absl log lines no user needs. Python's own stderr is untouched
    between these calls.

    Reentrant across threads (Blender's capture import detects in a worker thread, and a cancelled
    worker may still be finishing a frame when the next import starts): the first to enter saves the real
    stderr and the last to leave puts it back, so overlapping detections never leave it silenced."""
    with _QUIET_LOCK:
        if _quiet["depth"] == 0:
            try:
                sys.stderr.flush()
                saved = os.dup(2)
            except (OSError, ValueError):
                saved = None
            if saved is not None:
                with open(os.devnull, "wb") as null:
                    os.dup2(null.fileno(), 2)
            _quiet["saved"] = saved
        _quiet["depth"] += 1
    try:
        yield
    finally:
        with _QUIET_LOCK:
            _quiet["depth"] -= 1
            if _quiet["depth"] == 0 and _quiet["saved"] is not None:
                os.dup2(_quiet["saved"], 2)
                os.close(_quiet["saved"])
                _quiet["saved"] = None


def _stamp(path: Path) -> str:
    st = os.stat(path)
    return f"{st.st_size}:{st.st_mtime_ns}"


@dataclass(frozen=True)
class Detections:
    """One camera's BlazePose detections.

    Attributes:
        keypoints: ``(T, 33, 3)``: x, y in pixels of the video frame, and visibility in ``[0, 1]`` (0: no
            person found in that frame).
        world: ``(T, 33, 3)`` BlazePose's own 3D landmarks, metres, origin between the hips, camera axes
            (x right, y down, z away from the camera); NaN where no person was found.
        fps: the video's frame rate.
        size: ``(width, height)`` of the frames, pixels.
        checked: ``(T,)`` frames already looked at again in a crop (``redetect_performer``), or ``None``.
        flip: detected twice, on the frame and on its mirror image, and averaged (``detect``).
    """

    keypoints: np.ndarray
    world: np.ndarray
    fps: float
    size: tuple[int, int]
    checked: np.ndarray | None = None
    flip: bool = False


def detect(path: Path, *, flip: bool = False, show_progress: bool = False, progress: Callable[[float], None] | None = None,
           cancel: Callable[[], bool] | None = None) -> Detections:
    """Decode a video and detect BlazePose's landmarks in every frame (CPU).

    Args:
        flip: test-time flip augmentation: detect also in the horizontally mirrored frame (its own
            tracker: MediaPipe's region of interest follows each pass's person from frame to frame, and a
            mirrored region must not steer the plain pass), swap left and right back and average the two
            (``merge_flipped``). Twice the time; a detector's one-sided placement errors average out.
        show_progress: draw a progress bar on stderr, named after the video.
        progress: called with the fraction of frames done.
        cancel: called between frames; when it returns True, detection stops with an ``LMMError``.
    """
    cv2, mp_pose = _modules()
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise MotionFileError(path, "cannot be read as a video (OpenCV could not open it); convert it to .mp4 (H.264)")
    try:
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        kps: list[np.ndarray] = []
        worlds: list[np.ndarray] = []
        size = (0, 0)
        # The "full" model (complexity 1) is the one the wheel ships; the others would be downloaded.
        # MediaPipe's own temporal smoothing is off: the pipeline smooths, and lag would blur the sync.
        with _quiet_native_stderr():
            poses = [mp_pose.Pose(static_image_mode=False, model_complexity=1, smooth_landmarks=False,
                                  enable_segmentation=False, min_detection_confidence=0.5, min_tracking_confidence=0.5)
                     for _ in range(2 if flip else 1)]
        with contextlib.ExitStack() as stack, warnings.catch_warnings():
            for pose in poses:
                stack.enter_context(pose)
            warnings.simplefilter("ignore")  # protobuf's deprecation warning on every result
            bar = progress_bar((), total=total or None, desc=path.stem, unit="frame", enabled=show_progress)
            while True:
                ok, frame = cap.read()
                if not ok:
                    break
                if cancel is not None and cancel():
                    raise LMMError("detection cancelled")
                h, w = frame.shape[:2]
                size = (w, h)
                rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
                with _quiet_native_stderr():  # the models start lazily, logging as they do
                    kp, world = _landmarks(poses[0].process(rgb), w, h)
                    if flip:
                        kp, world = merge_flipped(kp, world, *unmirror(*_landmarks(
                            poses[1].process(np.ascontiguousarray(rgb[:, ::-1])), w, h), w))
                kps.append(kp)
                worlds.append(world)
                bar.update()
                if progress is not None and total:
                    progress(min(1.0, len(kps) / total))
            bar.close()
    finally:
        cap.release()
    if not kps:
        raise MotionFileError(path, "no frame could be decoded from the video")
    if not fps > 0:
        fps = 30.0
    return Detections(np.stack(kps), np.stack(worlds), fps, size, flip=flip)


def cache_folder(output: Path) -> Path:
    """Where the detections for ``output`` (a BVH) are cached: ``take.bvh`` -> ``take.keypoints/``."""
    return output.with_name(output.name.split(".")[0] + ".keypoints")


def _cache_file(folder: Path, video: Path) -> Path:
    return folder / f"{video.stem}.npz"


def read_cache(folder: Path, video: Path, flip: bool = False) -> Detections | None:
    """The cached detections of ``video`` (made with ``flip`` as asked), or ``None`` where there are none or
    they are stale."""
    f = _cache_file(folder, video)
    if not f.is_file():
        return None
    try:
        z = read_npz(f, "keypoints cache")
        if str(z.get("video_stamp", "")) != _stamp(video) or str(z.get("detector", "")) != detector_key(flip):
            return None
        kp = np.asarray(z["keypoints"], dtype=np.float64)[0]
        world = np.asarray(z["world"], dtype=np.float64)
        size = tuple(int(v) for v in z["size"])
        checked = np.asarray(z["checked"], dtype=bool) if "checked" in z else None
        return Detections(kp, world, float(z["fps"]), (size[0], size[1]), checked, flip)
    except (LMMError, KeyError, ValueError, IndexError):
        return None  # a damaged cache is a missing one: detect again


def write_cache(folder: Path, video: Path, det: Detections) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    f = _cache_file(folder, video)
    with atomic_binary_writer(f) as out:
        np.savez_compressed(out, keypoints=det.keypoints[None], joint_set=np.array(BLAZEPOSE.name),
                            cameras=np.array([video.stem]), fps=np.array(det.fps), world=det.world,
                            size=np.array(det.size), video_stamp=np.array(_stamp(video)), detector=np.array(detector_key(det.flip)),
                            **({} if det.checked is None else {"checked": det.checked}))
    return f


def detect_videos(videos: list[Path], cache: Path | None = None, *, flip: bool = False, show_progress: bool = False,
                  progress: Callable[[float], None] | None = None,
                  cancel: Callable[[], bool] | None = None) -> tuple[Keypoints2D, list[Detections]]:
    """BlazePose keypoints of every camera's video (named by the video's stem), from ``cache`` where fresh.

    Returns the keypoints ``(C, T, 33, 3)`` (shorter videos padded with missing detections) and each
    camera's detections (with BlazePose's 3D world landmarks). ``flip``: see ``detect``.
    """
    dets: list[Detections] = []
    for i, video in enumerate(videos):
        det = read_cache(cache, video, flip) if cache is not None else None
        if det is None:
            sub = None if progress is None else (lambda f, i=i: progress((i + f) / len(videos)))
            det = detect(video, flip=flip, show_progress=show_progress, progress=sub, cancel=cancel)
            if cache is not None:
                write_cache(cache, video, det)
        elif show_progress:
            print(f"{video.stem}: {len(det.keypoints)} frames of keypoints from the cache ({cache})")
        dets.append(det)
    rates = {round(d.fps, 2) for d in dets}
    if len(rates) > 1:
        raise LMMError(f"the videos have different frame rates ({', '.join(f'{r:g}' for r in sorted(rates))} fps); "
                       "convert them to one rate first")
    length = max(len(d.keypoints) for d in dets)
    data = np.zeros((len(dets), length, BLAZEPOSE.size, 3))
    for c, d in enumerate(dets):
        data[c, : len(d.keypoints)] = d.keypoints
    return Keypoints2D(data, BLAZEPOSE, tuple(v.stem for v in videos), dets[0].fps, videos[0].parent), dets


def _detect_in_crops(path: Path, boxes: dict[int, tuple[int, int, int, int]], flip: bool = False) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """BlazePose on single frames of a video, each in a crop ``(x0, y0, x1, y1)`` (pixels): frame ->
    ``(keypoints (33, 3) in the full frame's pixels, world (33, 3))``; frames with nobody found are left out.
    ``flip``: also in the mirrored crop, averaged (``detect``)."""
    cv2, mp_pose = _modules()
    found: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise MotionFileError(path, "cannot be read as a video (OpenCV could not open it); convert it to .mp4 (H.264)")
    with _quiet_native_stderr():
        poses = [mp_pose.Pose(static_image_mode=True, model_complexity=1, enable_segmentation=False, min_detection_confidence=0.3)
                 for _ in range(2 if flip else 1)]
    try:
        with contextlib.ExitStack() as stack, warnings.catch_warnings():
            for pose in poses:
                stack.enter_context(pose)
            warnings.simplefilter("ignore")
            last = max(boxes)
            t = 0
            while t <= last:
                ok, frame = cap.read()
                if not ok:
                    break
                if t in boxes:
                    x0, y0, x1, y1 = boxes[t]
                    crop = frame[y0:y1, x0:x1]
                    if crop.size:
                        rgb = cv2.cvtColor(crop, cv2.COLOR_BGR2RGB)
                        w, h = x1 - x0, y1 - y0
                        with _quiet_native_stderr():
                            kp, world = _landmarks(poses[0].process(rgb), w, h)
                            if flip:
                                kp_b, world_b = unmirror(*_landmarks(poses[1].process(np.ascontiguousarray(rgb[:, ::-1])), w, h), w)
                                kp, world = merge_flipped(kp, world, kp_b, world_b)
                        if (kp[:, 2] > 0).any():
                            kp[:, :2] += np.where(kp[:, 2:] > 0, (x0, y0), 0.0)
                            found[t] = (kp, world)
                t += 1
    finally:
        cap.release()
    return found


# A crop around the performer reaches this share of the body's size beyond it on every side.
CROP_MARGIN = 0.25


def redetect_performer(videos: list[Path], calib, kp: Keypoints2D, result, threshold_px: float, cache: Path | None = None,
                       *, flip: bool = False, show_progress: bool = False, look: bool = True) -> Keypoints2D | None:
    """Look for the performer again where a camera's tracker followed somebody else.

    For each frame a camera was left out of (``result.left_out``), the frame is cropped around where the
    other cameras put the performer (``result.points`` projected into it, plus ``CROP_MARGIN``) and BlazePose
    runs on the crop alone. A detection that agrees with the others (median reprojection under
    ``threshold_px``) replaces the old one; otherwise that frame of the camera is left empty. The cache is
    updated (with the frames looked at), so a re-run starts from the repaired keypoints and does not
    look again.

    Args:
        calib: the cameras in ``kp``'s order; ``result``: the capture that left them out.
        flip: detect in the mirrored crop too (``detect``), as the cache was made.
        look: False only marks the frames as looked at in the cache (the last round: a re-run must find
            what this run found) and returns ``None``.
    Returns:
        the keypoints with those frames replaced, or ``None`` where every such frame was looked at before.
    """
    W = calib.to_y_up()
    world = result.points @ W  # Y up -> the calibration's world
    data = kp.data.copy()
    T = data.shape[1]
    repaired = looked = 0
    for c, (video, cam) in enumerate(zip(videos, calib.cameras)):
        rows = np.flatnonzero(result.left_out[c])
        vidx = result.start + rows + int(result.offsets[c])
        det = read_cache(cache, video, flip) if cache is not None else None
        checked = np.zeros(T, dtype=bool)
        if det is not None and det.checked is not None:
            checked[: min(T, len(det.checked))] = det.checked[:T]
        inside = (vidx >= 0) & (vidx < T)
        inside[inside] &= ~checked[vidx[inside]]
        rows, vidx = rows[inside], vidx[inside]
        if not rows.size:
            continue
        looked += len(rows)
        if not look:
            if det is not None and cache is not None:
                checked[vidx] = True
                write_cache(cache, video, Detections(det.keypoints, det.world, det.fps, det.size, checked[: len(det.keypoints)], flip))
            continue
        px, _ = cam.project(world[rows])
        boxes: dict[int, tuple[int, int, int, int]] = {}
        wanted: dict[int, np.ndarray] = {}
        w_img, h_img = cam.size or (10**6, 10**6)
        for f, p in zip(vidx.tolist(), px):
            p = p[np.all(np.isfinite(p), axis=1)]
            if len(p) < 4:
                continue
            lo, hi = p.min(axis=0), p.max(axis=0)
            m = CROP_MARGIN * float(np.max(hi - lo))
            x0, y0 = int(max(0, lo[0] - m)), int(max(0, lo[1] - m))
            x1, y1 = int(min(w_img, hi[0] + m)), int(min(h_img, hi[1] + m))
            if x1 - x0 > 8 and y1 - y0 > 8:
                boxes[f] = (x0, y0, x1, y1)
        for f, p in zip(vidx.tolist(), px):
            wanted[f] = p
        found = _detect_in_crops(video, boxes, flip) if boxes else {}
        for f in vidx.tolist():
            new = found.get(f)
            data[c, f] = 0.0
            if new is None:
                continue
            k = new[0]
            seen = k[:, 2] > 0.5
            e = np.linalg.norm(k[:, :2] - wanted[f], axis=-1)[seen & np.all(np.isfinite(wanted[f]), axis=1)]
            if e.size >= 4 and float(np.median(e)) < threshold_px:
                data[c, f] = k
                repaired += 1
                if det is not None:
                    det.world[f] = new[1]
        if det is not None and cache is not None:
            n = min(len(det.keypoints), T)
            det.keypoints[:n] = data[c, :n]
            checked[vidx] = True
            write_cache(cache, video, Detections(det.keypoints, det.world, det.fps, det.size, checked[: len(det.keypoints)], flip))
    if not looked or not look:
        return None
    if show_progress:
        print(f"re-detected the performer in {repaired} of {looked} camera frames that followed someone else")
    return Keypoints2D(data, kp.joint_set, kp.cameras, kp.fps, kp.source)
