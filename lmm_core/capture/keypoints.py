"""2D keypoints as pose detectors write them, and the joint sets they use.

Formats read (one performer: where a frame holds several people, the most confident one is taken):

- **COCO-17 JSON**: a folder per camera, either one file per frame (a list of detections, or an object
  with ``annotations``, or one detection) or one file with every frame (detections carry ``image_id``).
  A detection's ``keypoints`` is ``[x1, y1, v1, ..., x17, y17, v17]``: ``v`` is the detector's score;
  files using COCO's visibility flags (only 0, 1, 2) read 2 as confidence 1 and 1 as 0.5.
- **OpenPose BODY_25 JSON**: a folder per camera, one ``*_keypoints.json`` per frame with
  ``people[i].pose_keypoints_2d`` (75 numbers: x, y, confidence of 25 points).
- **npz**: one file, array ``keypoints`` ``(cameras, frames, joints, 3)`` of x, y (pixels) and confidence;
  optionally ``cameras`` (names, matched to the calibration), ``joint_set`` (``coco17``/``body25``/
  ``blazepose``, else guessed from the joint count) and ``fps``. ``video.py`` writes BlazePose's 33
  landmarks detected in videos this way (its cache).

Frame numbers are taken from the last number in each file name (OpenPose's ``_000000000012_``), or the
file order where names have none. Confidence 0 means "not detected"; pixels are in the original,
distorted image.

A ``JointSet`` also says where each keypoint sits on the canonical body (``markers``): a canonical joint
and an offset in that joint's frame (metres at canonical size; the canonical rest frame is the world's,
+X left, +Y up, +Z forward). The skeleton solver reads keypoints through this model, and the synthetic
camera rig (``synthetic.py``) places keypoints by it.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import LMMError, MotionFileError
from ..io.atomic import atomic_binary_writer, atomic_text_writer, read_text
from ..io.npz import read_npz as read_arrays
from ..validate import MAX_FPS, MIN_FPS, max_frames

Vec = tuple[float, float, float]


@dataclass(frozen=True)
class JointSet:
    """A detector's keypoint set.

    Attributes:
        name: ``"coco17"`` or ``"body25"``.
        names: keypoint names in the detector's order.
        markers: per keypoint, ``(canonical joint, offset (3,) in that joint's frame, metres at canonical size)``.
    """

    name: str
    names: tuple[str, ...]
    markers: tuple[tuple[str, Vec], ...]

    @property
    def size(self) -> int:
        return len(self.names)

    def index(self, name: str) -> int:
        return self.names.index(name)

    def has(self, name: str) -> bool:
        return name in self.names


def _mirror(v: Vec) -> Vec:
    return (-v[0], v[1], v[2])


# Where face and foot points sit, in the head / ankle / toe joint's frame (metres, canonical size). The head
# joint is the top of the neck (atlas): ear canals a little above it and to the sides, eyes higher and in
# front, the nose tip in front between them. The heel is below and behind the ankle; the toes are ahead of
# the ball of the foot (the canonical toe joint), big toe on the inside.
_EAR: Vec = (0.075, 0.035, -0.005)
_EYE: Vec = (0.032, 0.06, 0.085)
_NOSE: Vec = (0.0, 0.035, 0.11)
_BIG_TOE: Vec = (-0.025, -0.01, 0.05)
_SMALL_TOE: Vec = (0.03, -0.01, 0.025)
_HEEL: Vec = (-0.005, -0.05, -0.065)
_MID_HIP: Vec = (0.0, -0.09095, -0.00555)  # the midpoint of the canonical hip joints, seen from the pelvis
_ZERO: Vec = (0.0, 0.0, 0.0)

COCO17 = JointSet(
    "coco17",
    ("nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder", "left_elbow",
     "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle",
     "right_ankle"),
    (("head", _NOSE), ("head", _EYE), ("head", _mirror(_EYE)), ("head", _EAR), ("head", _mirror(_EAR)))
    + tuple((f"{side}_{j}", _ZERO) for j in ("shoulder", "elbow", "wrist", "hip", "knee", "ankle") for side in ("left", "right")),
)

BODY25 = JointSet(
    "body25",
    ("Nose", "Neck", "RShoulder", "RElbow", "RWrist", "LShoulder", "LElbow", "LWrist", "MidHip", "RHip", "RKnee",
     "RAnkle", "LHip", "LKnee", "LAnkle", "REye", "LEye", "REar", "LEar", "LBigToe", "LSmallToe", "LHeel", "RBigToe",
     "RSmallToe", "RHeel"),
    (("head", _NOSE), ("neck", _ZERO), ("right_shoulder", _ZERO), ("right_elbow", _ZERO), ("right_wrist", _ZERO),
     ("left_shoulder", _ZERO), ("left_elbow", _ZERO), ("left_wrist", _ZERO), ("pelvis", _MID_HIP), ("right_hip", _ZERO),
     ("right_knee", _ZERO), ("right_ankle", _ZERO), ("left_hip", _ZERO), ("left_knee", _ZERO), ("left_ankle", _ZERO),
     ("head", _mirror(_EYE)), ("head", _EYE), ("head", _mirror(_EAR)), ("head", _EAR), ("left_toe", _BIG_TOE),
     ("left_toe", _SMALL_TOE), ("left_ankle", _HEEL), ("right_toe", _mirror(_BIG_TOE)), ("right_toe", _mirror(_SMALL_TOE)),
     ("right_ankle", _mirror(_HEEL))),
)

# BlazePose (MediaPipe Pose): 33 landmarks. The body points are COCO's; the face adds the eyes' corners and
# the mouth's, the hands three points each (seen from the wrist: pinky knuckle behind, index knuckle ahead,
# thumb ahead and below, on a left hand in the T-pose, palm down), the feet a heel and the tip of the foot
# (between the big and second toes, ahead of the ball of the foot).
_EYE_INNER: Vec = (0.018, 0.06, 0.09)
_EYE_OUTER: Vec = (0.048, 0.06, 0.078)
_MOUTH: Vec = (0.025, 0.0, 0.095)
_PINKY: Vec = (0.08, -0.01, -0.035)
_INDEX: Vec = (0.09, -0.01, 0.02)
_THUMB: Vec = (0.045, -0.025, 0.045)
_FOOT_INDEX: Vec = (-0.015, -0.01, 0.05)
BLAZEPOSE = JointSet(
    "blazepose",
    ("nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye", "right_eye_outer",
     "left_ear", "right_ear", "mouth_left", "mouth_right", "left_shoulder", "right_shoulder", "left_elbow",
     "right_elbow", "left_wrist", "right_wrist", "left_pinky", "right_pinky", "left_index", "right_index",
     "left_thumb", "right_thumb", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
     "left_heel", "right_heel", "left_foot_index", "right_foot_index"),
    (("head", _NOSE), ("head", _EYE_INNER), ("head", _EYE), ("head", _EYE_OUTER), ("head", _mirror(_EYE_INNER)),
     ("head", _mirror(_EYE)), ("head", _mirror(_EYE_OUTER)), ("head", _EAR), ("head", _mirror(_EAR)),
     ("head", _MOUTH), ("head", _mirror(_MOUTH)))
    + tuple((f"{side}_{j}", _ZERO) for j in ("shoulder", "elbow", "wrist") for side in ("left", "right"))
    + (("left_wrist", _PINKY), ("right_wrist", _mirror(_PINKY)), ("left_wrist", _INDEX), ("right_wrist", _mirror(_INDEX)),
       ("left_wrist", _THUMB), ("right_wrist", _mirror(_THUMB)))
    + tuple((f"{side}_{j}", _ZERO) for j in ("hip", "knee", "ankle") for side in ("left", "right"))
    + (("left_ankle", _HEEL), ("right_ankle", _mirror(_HEEL)), ("left_toe", _FOOT_INDEX), ("right_toe", _mirror(_FOOT_INDEX))),
)

JOINT_SETS: dict[str, JointSet] = {"coco17": COCO17, "body25": BODY25, "blazepose": BLAZEPOSE}
_BY_SIZE = {17: COCO17, 25: BODY25, 33: BLAZEPOSE}

# Names under which the solver looks a body point up in either set.
ALIASES: dict[str, dict[str, str]] = {
    "coco17": {n: n for n in COCO17.names},
    "body25": {"nose": "Nose", "neck": "Neck", "left_shoulder": "LShoulder", "right_shoulder": "RShoulder",
               "left_elbow": "LElbow", "right_elbow": "RElbow", "left_wrist": "LWrist", "right_wrist": "RWrist",
               "left_hip": "LHip", "right_hip": "RHip", "left_knee": "LKnee", "right_knee": "RKnee",
               "left_ankle": "LAnkle", "right_ankle": "RAnkle", "left_eye": "LEye", "right_eye": "REye",
               "left_ear": "LEar", "right_ear": "REar", "mid_hip": "MidHip", "left_big_toe": "LBigToe",
               "left_small_toe": "LSmallToe", "left_heel": "LHeel", "right_big_toe": "RBigToe",
               "right_small_toe": "RSmallToe", "right_heel": "RHeel"},
    "blazepose": {n: n for n in BLAZEPOSE.names},
}


def joint_set(name: str) -> JointSet:
    """A joint set by name (``coco17``, ``body25``, ``blazepose``; ``coco``, ``openpose`` and ``mediapipe``
    are accepted too)."""
    key = {"coco": "coco17", "openpose": "body25", "body_25": "body25", "mediapipe": "blazepose"}.get(name.lower(), name.lower())
    if key not in JOINT_SETS:
        raise LMMError(f"unknown keypoint set {name!r}; use coco17, body25 or blazepose")
    return JOINT_SETS[key]


@dataclass(eq=False)
class Keypoints2D:
    """Detections of one performer in several cameras.

    Attributes:
        data: ``(C, T, K, 3)``: x and y in pixels of the (distorted) image, and confidence in ``[0, 1]``
            (0: not detected; x and y are then meaningless).
        joint_set: the detector's keypoints, ``K`` of them.
        cameras: ``C`` camera names (matched to the calibration), or ``None`` to take the calibration's
            cameras in order.
        fps: frame rate where the file says it, else ``None``.
        source: where the keypoints were read from (for messages).
    """

    data: np.ndarray
    joint_set: JointSet
    cameras: tuple[str, ...] | None = None
    fps: float | None = None
    source: Path | None = None

    def __post_init__(self) -> None:
        d = np.array(self.data, dtype=np.float64)
        if d.ndim != 4 or d.shape[-1] != 3:
            raise MotionFileError(self.source, f"keypoints must be (cameras, frames, joints, 3) of x, y, confidence; got shape {d.shape}")
        if d.shape[2] != self.joint_set.size:
            raise MotionFileError(self.source, f"{self.joint_set.name} has {self.joint_set.size} keypoints, the data has {d.shape[2]}")
        if d.shape[1] == 0:
            raise MotionFileError(self.source, "the keypoints hold no frames")
        if self.cameras is not None:
            self.cameras = tuple(str(c) for c in self.cameras)
            if len(self.cameras) != d.shape[0]:
                raise MotionFileError(self.source, f"{len(self.cameras)} camera names for {d.shape[0]} cameras of keypoints")
        # Anything not finite, or with no confidence, is a missing detection.
        bad = ~np.all(np.isfinite(d), axis=-1) | ~(d[..., 2] > 0)
        d[bad] = 0.0
        d[..., 2] = np.clip(d[..., 2], 0.0, 1.0)
        self.data = d

    @property
    def num_cameras(self) -> int:
        return self.data.shape[0]

    @property
    def num_frames(self) -> int:
        return self.data.shape[1]


# ---- reading -----------------------------------------------------------------------------------------

def _frame_number(path: Path) -> int | None:
    nums = re.findall(r"\d+", path.name)
    return int(nums[-1]) if nums else None


def _load_json(path: Path):
    text = read_text(path, "keypoint file")  # UTF-8 with or without a byte-order mark, size-limited
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise MotionFileError(path, f"not valid JSON ({exc.msg})", exc.lineno) from None
    except RecursionError:
        raise MotionFileError(path, "not a keypoint file: its JSON is nested thousands of levels deep") from None


def _numbers(values, count: int, path: Path, what: str) -> np.ndarray:
    try:
        a = np.asarray(values, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise MotionFileError(path, f"{what} must be a list of numbers") from None
    if a.size != count:
        raise MotionFileError(path, f"{what} has {a.size} numbers; {count} expected ({count // 3} keypoints x (x, y, confidence))")
    return a.reshape(-1, 3)


def _best(people: list[np.ndarray], scores: list[float]) -> np.ndarray | None:
    """The most confident person of a frame (one performer is assumed)."""
    if not people:
        return None
    return people[int(np.argmax(scores))]


def _openpose_frame(doc, path: Path) -> np.ndarray | None:
    if not isinstance(doc, dict) or not isinstance(doc.get("people"), list):
        raise MotionFileError(path, "not an OpenPose file: expected an object with a 'people' list")
    people, scores = [], []
    for person in doc["people"]:
        if not isinstance(person, dict) or "pose_keypoints_2d" not in person:
            raise MotionFileError(path, "an OpenPose person without 'pose_keypoints_2d'")
        values = person["pose_keypoints_2d"]
        if isinstance(values, list) and len(values) == 54:
            raise MotionFileError(path, "OpenPose COCO-18 output (54 numbers); run OpenPose with the BODY_25 model")
        kp = _numbers(values, 75, path, "pose_keypoints_2d")
        people.append(kp)
        scores.append(float(np.nansum(kp[:, 2])))
    return _best(people, scores)


def _coco_detections(doc, path: Path) -> list[dict]:
    if isinstance(doc, dict) and "annotations" in doc:
        doc = doc["annotations"]
    elif isinstance(doc, dict) and "keypoints" in doc:
        doc = [doc]
    if not isinstance(doc, list) or not all(isinstance(d, dict) and "keypoints" in d for d in doc):
        raise MotionFileError(path, "not a COCO keypoint file: expected detections with 'keypoints' (a list, or 'annotations')")
    return doc


def _coco_pick(dets: list[dict], path: Path) -> np.ndarray | None:
    people, scores = [], []
    for d in dets:
        kp = _numbers(d["keypoints"], 51, path, "keypoints")
        people.append(kp)
        scores.append(float(d.get("score", np.nansum(kp[:, 2]))))
    return _best(people, scores)


def _visibility_flags(frames: list[np.ndarray]) -> bool:
    """Whether the third numbers are COCO's visibility flags (0, 1, 2) rather than detector scores."""
    v = np.concatenate([f[:, 2] for f in frames]) if frames else np.zeros(0)
    return v.size > 0 and bool(np.all(np.isin(v, (0.0, 1.0, 2.0)))) and bool(np.any(v == 2.0))


def _json_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise MotionFileError(folder, "not a folder of JSON keypoint files")
    files = [p for p in folder.iterdir() if p.suffix.lower() == ".json" and not p.name.startswith(".")]
    if not files:
        raise MotionFileError(folder, "the folder holds no .json keypoint files")
    numbers = [_frame_number(p) for p in files]
    if all(n is not None for n in numbers) and len(set(numbers)) == len(numbers):
        return [p for _, p in sorted(zip(numbers, files))]
    return sorted(files)


def detect_json_format(folder: Path) -> str:
    """``"body25"`` (OpenPose) or ``"coco17"`` from the first file of a folder."""
    first = _json_files(folder)[0]
    doc = _load_json(first)
    return "body25" if isinstance(doc, dict) and "people" in doc else "coco17"


def read_json_folder(folder: str | Path, fmt: str = "auto") -> np.ndarray:
    """One camera's keypoints ``(T, K, 3)`` from a folder of JSON files (see the module docstring)."""
    folder = Path(folder)
    files = _json_files(folder)
    fmt = detect_json_format(folder) if fmt == "auto" else joint_set(fmt).name
    numbered = all(_frame_number(p) is not None for p in files) and len({_frame_number(p) for p in files}) == len(files)
    frames: dict[int, np.ndarray | None] = {}
    if fmt == "body25":
        for i, p in enumerate(files):
            frames[_frame_number(p) if numbered else i] = _openpose_frame(_load_json(p), p)  # type: ignore[index]
    else:
        if len(files) == 1 and isinstance(doc := _load_json(files[0]), (list, dict)):
            dets = _coco_detections(doc, files[0])
            ids = [d.get("image_id") for d in dets]
            if len(dets) > 1 and all(i is not None for i in ids) and len(set(ids)) > 1:
                # One file for the whole video: frames by image id (order of "images" where listed).
                order = None
                if isinstance(doc, dict) and isinstance(doc.get("images"), list):
                    order = [im.get("id") for im in doc["images"] if isinstance(im, dict)]
                if order is None:
                    order = sorted(set(ids), key=lambda x: (not isinstance(x, int), x))
                    pos = {i: (i if isinstance(i, int) else k) for k, i in enumerate(order)}
                else:
                    pos = {i: k for k, i in enumerate(order)}
                for d in dets:
                    if d.get("image_id") not in pos:
                        raise MotionFileError(files[0], f"a detection's image_id {d.get('image_id')!r} is not among the images")
                grouped: dict[int, list[dict]] = {}
                for d in dets:
                    grouped.setdefault(pos[d["image_id"]], []).append(d)
                frames = {k: _coco_pick(v, files[0]) for k, v in grouped.items()}
            else:
                frames = {(_frame_number(files[0]) if numbered else 0): _coco_pick(dets, files[0])}  # type: ignore[dict-item]
        else:
            for i, p in enumerate(files):
                frames[_frame_number(p) if numbered else i] = _coco_pick(_coco_detections(_load_json(p), p), p)  # type: ignore[index]
    k = joint_set(fmt).size
    if not frames:
        raise MotionFileError(folder, "no frames found")
    if max(frames) >= max_frames() or min(frames) < 0:
        raise MotionFileError(folder, f"frame number {max(frames):,} (from the file names or image ids) is past the "
                                      f"limit of {max_frames():,} frames; if the take is genuine, set LMM_MAX_FRAMES")
    out = np.zeros((max(frames) + 1, k, 3))
    for f, kp in frames.items():
        if kp is not None:
            out[f] = kp
    if fmt == "coco17" and _visibility_flags([v for v in frames.values() if v is not None]):
        out[..., 2] /= 2.0
    return out


def read_npz(path: str | Path) -> Keypoints2D:
    """Keypoints from an ``.npz`` (see the module docstring)."""
    path = Path(path)
    z = read_arrays(path, "keypoints file")  # never unpickled; size-limited
    keys = list(z)
    key = "keypoints" if "keypoints" in keys else (keys[0] if len(keys) == 1 else None)
    if key is None:
        raise MotionFileError(path, f"no 'keypoints' array in the file (it has {', '.join(keys) or 'none'})")
    try:
        data = np.asarray(z[key], dtype=np.float64)
        cams = tuple(str(c) for c in np.atleast_1d(z["cameras"])) if "cameras" in keys else None
        set_name = str(z["joint_set"]) if "joint_set" in keys else None
        fps = float(z["fps"]) if "fps" in keys else None
    except (TypeError, ValueError) as exc:
        raise MotionFileError(path, f"keypoints, cameras, joint_set and fps must be numbers and names ({exc})") from None
    if data.ndim != 4 or data.shape[-1] != 3:
        raise MotionFileError(path, f"keypoints must be (cameras, frames, joints, 3) of x, y, confidence; got shape {data.shape}")
    if data.shape[1] > max_frames():
        raise MotionFileError(path, f"{data.shape[1]:,} frames is more than the limit of {max_frames():,}; if the take "
                                    "is genuine, set LMM_MAX_FRAMES to allow more")
    if fps is not None and not (np.isfinite(fps) and MIN_FPS <= fps <= MAX_FPS):
        raise MotionFileError(path, f"fps must be from {MIN_FPS:g} to {MAX_FPS:g}, got {fps:g}; fix it or give --fps")
    if set_name is None:
        if data.shape[2] not in _BY_SIZE:
            raise MotionFileError(path, f"{data.shape[2]} joints is neither COCO-17 nor BODY_25; store a 'joint_set' name")
        js = _BY_SIZE[data.shape[2]]
    else:
        try:
            js = joint_set(set_name)
        except LMMError as exc:
            raise MotionFileError(path, str(exc)) from None
    return Keypoints2D(data, js, cams, fps, path)


def read_keypoints(paths, fmt: str = "auto") -> Keypoints2D:
    """Keypoints from one ``.npz``, or from folders of JSON files (one folder per camera, named after
    the camera; a single folder whose subfolders are the cameras works too).

    Cameras' frame counts may differ (unsynchronised cameras start and stop at different times): shorter
    ones are padded with missing detections. Frames before the first one any camera has are dropped.
    """
    paths = [Path(p) for p in ([paths] if isinstance(paths, (str, Path)) else paths)]
    if not paths:
        raise LMMError("give the keypoints: one .npz, or one folder of JSON files per camera")
    for p in paths:
        if not p.exists():
            raise MotionFileError(p, "not found; check the path")
    if len(paths) == 1 and paths[0].is_file():
        if paths[0].suffix.lower() != ".npz":
            raise MotionFileError(paths[0], "a single keypoint file must be an .npz; JSON keypoints come as one folder per camera")
        kp = read_npz(paths[0])
        if fmt != "auto" and kp.joint_set.name != joint_set(fmt).name:
            raise MotionFileError(paths[0], f"the file holds {kp.joint_set.name} keypoints, not {joint_set(fmt).name}")
        return kp
    if any(p.is_file() for p in paths):
        bad = next(p for p in paths if p.is_file())
        raise MotionFileError(bad, "give either one .npz or folders of JSON files (one per camera), not a mix")
    if len(paths) == 1 and not any(p.suffix.lower() == ".json" for p in paths[0].iterdir()):
        subs = sorted(p for p in paths[0].iterdir() if p.is_dir() and not p.name.startswith("."))
        if subs:
            paths = subs
    if fmt == "auto":
        found = {detect_json_format(p) for p in paths}
        if len(found) > 1:
            raise LMMError(f"the camera folders mix keypoint formats ({', '.join(sorted(found))}); give --format")
        fmt = found.pop()
    arrays = [read_json_folder(p, fmt) for p in paths]
    length = max(a.shape[0] for a in arrays)
    data = np.zeros((len(arrays), length) + arrays[0].shape[1:])
    for i, a in enumerate(arrays):
        data[i, : a.shape[0]] = a
    seen = np.flatnonzero((data[..., 2] > 0).any(axis=(0, 2)))
    if seen.size:
        data = data[:, seen[0]:]
    return Keypoints2D(data, joint_set(fmt), tuple(p.name for p in paths), None, paths[0].parent)


# ---- writing -----------------------------------------------------------------------------------------

def write_npz(kp: Keypoints2D, path: str | Path) -> Path:
    """``kp`` as an ``.npz`` (``keypoints``, ``joint_set``, and ``cameras``/``fps`` where known), atomically."""
    path = Path(path)
    extra = {}
    if kp.cameras is not None:
        extra["cameras"] = np.array(kp.cameras)
    if kp.fps is not None:
        extra["fps"] = np.array(kp.fps)
    with atomic_binary_writer(path) as f:
        np.savez_compressed(f, keypoints=kp.data, joint_set=np.array(kp.joint_set.name), **extra)
    return path


def _json_dump(doc, path: Path) -> None:
    with atomic_text_writer(path) as f:
        json.dump(doc, f, separators=(",", ":"))


def _flat(kp: np.ndarray) -> list[float]:
    return [round(float(v), 3) for v in kp.reshape(-1)]


def write_openpose_folder(frames: np.ndarray, folder: str | Path, prefix: str = "video") -> Path:
    """One camera's BODY_25 keypoints ``(T, 25, 3)`` as OpenPose writes them: ``PREFIX_%012d_keypoints.json``
    per frame, ``people`` empty where nothing was detected."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for t, kp in enumerate(frames):
        people = [] if not np.any(kp[:, 2] > 0) else [{
            "person_id": [-1], "pose_keypoints_2d": _flat(kp), "face_keypoints_2d": [], "hand_left_keypoints_2d": [],
            "hand_right_keypoints_2d": [], "pose_keypoints_3d": [], "face_keypoints_3d": [],
            "hand_left_keypoints_3d": [], "hand_right_keypoints_3d": []}]
        _json_dump({"version": 1.3, "people": people}, folder / f"{prefix}_{t:012d}_keypoints.json")
    return folder


def write_coco_folder(frames: np.ndarray, folder: str | Path, one_file: bool = False) -> Path:
    """One camera's COCO-17 keypoints ``(T, 17, 3)`` as detectors write results: a list of detections
    (``image_id``, ``category_id`` 1, ``keypoints``, ``score``), one file per frame (``000012.json``) or,
    with ``one_file``, one ``results.json`` for all frames."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)

    def det(t: int, kp: np.ndarray) -> dict:
        return {"image_id": t, "category_id": 1, "keypoints": _flat(kp), "score": round(float(kp[:, 2].mean()), 4)}

    if one_file:
        _json_dump([det(t, kp) for t, kp in enumerate(frames) if np.any(kp[:, 2] > 0)], folder / "results.json")
    else:
        for t, kp in enumerate(frames):
            _json_dump([det(t, kp)] if np.any(kp[:, 2] > 0) else [], folder / f"{t:06d}.json")
    return folder
