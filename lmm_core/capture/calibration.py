"""Camera calibrations: reading them from TOML, JSON or OpenCV YAML, and writing them.

A calibration is a list of named ``Camera``\\ s plus two facts about the world frame they share: its
length unit (translations are converted to metres) and which of its axes points up (the solved motion is
Y up, as the canonical body). See docs/capture.md for the formats, with examples.

TOML / JSON (the simple format; Anipose's ``calibration.toml`` reads as it is)::

    units = "m"           # of translations: m, cm, mm (default m)
    up = "y"              # the world's up axis: x, y, z, -x, -y, -z (default y)
    [cameras.left]        # or any top-level table holding a "matrix"; its "name" key wins if present
    size = [1920, 1080]
    matrix = [[1400, 0, 960], [0, 1400, 540], [0, 0, 1]]   # or fx, fy, cx, cy
    distortions = [-0.1, 0.02, 0, 0, 0]                      # k1 k2 p1 p2 k3 ("distortion", "dist" too)
    rotation = [0.1, 2.5, 0.0]            # world -> camera: a rotation vector or a 3x3 matrix
    translation = [0.2, 1.1, 5.0]         # world -> camera

OpenCV YAML (``%YAML:1.0``), either one file for all cameras (``names`` lists them; ``K_<name>``,
``dist_<name>``, ``R_<name>`` or ``Rot_<name>``, ``T_<name>``: the layout of ``intri.yml``/``extri.yml``
pairs, which may be given as the folder holding them), or a folder of one file per camera named after
it with ``camera_matrix``, ``distortion_coefficients``, ``R``/``rvec``, ``T``/``tvec``,
``image_width``/``image_height`` (OpenCV's calibration sample's names, and common variants).

Qualisys QTM ``.qca.txt`` (XML): see ``qualisys.py`` (millimetres, Z up). Pose2Sim writes its
calibrations as Anipose's TOML (``[cam_01]`` tables, metres; ``fisheye = true`` is refused: the lens model
here is Brown-Conrady).

Where a file in Anipose's layout (no ``cameras`` table) does not say which way is up, the up axis is
taken from the cameras (``guess_up``): the world axis nearest to where their images' "up" points, on
average; cameras on tripods or held upright make it plain (Pose2Sim's worlds are Z up, Anipose's are often
the first camera's, -Y up). Where the cameras do not agree it stays Y.
"""
from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import rotations as R
from ..errors import LMMError, MotionFileError
from ..io.atomic import atomic_text_writer, read_text
from ..skeleton import UNITS_TO_METRES
from .cameras import Camera, rotation_vector
from .opencv_yaml import format_opencv_yaml, read_opencv_yaml
from .qualisys import is_qca, read_qca

_UPS = ("x", "y", "z", "-x", "-y", "-z")
_YAML_SUFFIXES = (".yml", ".yaml")


@dataclass(frozen=True, eq=False)
class Calibration:
    """Cameras sharing one world frame.

    Attributes:
        cameras: the cameras, in file order; translations already in metres.
        up: the world axis that points up (``"y"``, ``"-y"``, ``"z"``, ...); ``to_y_up`` turns world
            points into the canonical body's Y-up frame.
        source: the file it came from, for messages.
    """

    cameras: tuple[Camera, ...]
    up: str = "y"
    source: Path | None = None

    def __post_init__(self) -> None:
        if self.up not in _UPS:
            raise LMMError(f"calibration up axis must be one of {', '.join(_UPS)}, got {self.up!r}")
        names = [c.name for c in self.cameras]
        if len(set(names)) != len(names):
            raise MotionFileError(self.source, f"camera names must be unique, got {', '.join(names)}")

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.cameras)

    def camera(self, name: str) -> Camera:
        for cam in self.cameras:
            if cam.name == name:
                return cam
        raise MotionFileError(self.source, f"no camera named {name!r} in the calibration; it has: {', '.join(self.names)}")

    def select(self, names) -> "Calibration":
        """The cameras named, in that order (an error names a missing one and lists those there are)."""
        return Calibration(tuple(self.camera(n) for n in names), self.up, self.source)

    def to_y_up(self) -> np.ndarray:
        """``(3, 3)`` rotation taking world points into a Y-up frame (a right-handed turn, no mirror)."""
        sign = -1.0 if self.up.startswith("-") else 1.0
        axis = "xyz".index(self.up[-1])
        up = np.zeros(3)
        up[axis] = sign
        # The smallest rotation carrying `up` onto +Y keeps the other axes as near as possible.
        return R.to_matrix(R.between(up, np.array([0.0, 1.0, 0.0])))


# ---- reading -----------------------------------------------------------------------------------------

# How near (degrees) the cameras' mean image-up direction must lie to a world axis for ``guess_up`` to take it.
_UP_GUESS_DEG = 30.0


def guess_up(cameras) -> str | None:
    """The world axis (``"z"``, ``"-y"``, ...) the cameras' images show as up, or ``None`` where their mean
    image-up direction is not within ``_UP_GUESS_DEG`` of an axis (cameras rolled, or looking straight down).

    A camera's image up is its -Y axis (OpenCV: +Y runs down the image), in the world: ``-R[1]``.
    """
    ups = np.stack([-np.asarray(c.R)[1] for c in cameras])
    mean = ups.mean(axis=0)
    n = float(np.linalg.norm(mean))
    if n < 1e-6:
        return None
    mean /= n
    axis = int(np.argmax(np.abs(mean)))
    if np.degrees(np.arccos(min(1.0, abs(float(mean[axis]))))) > _UP_GUESS_DEG:
        return None
    return ("-" if mean[axis] < 0 else "") + "xyz"[axis]


def _num_array(value, shape_ok, what: str, path, camera: str) -> np.ndarray:
    try:
        a = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise MotionFileError(path, f"camera {camera!r}: {what} must be numbers") from None
    if not shape_ok(a.shape):
        raise MotionFileError(path, f"camera {camera!r}: {what} has the wrong shape {a.shape}")
    return a


def _camera_from_table(name: str, t: dict, scale: float, path) -> Camera:
    """A camera from a TOML/JSON table (see the module docstring for the keys)."""
    if "matrix" in t:
        K = _num_array(t["matrix"], lambda s: s == (3, 3), "matrix", path, name)
    elif all(k in t for k in ("fx", "fy", "cx", "cy")):
        K = np.array([[t["fx"], t.get("skew", 0.0), t["cx"]], [0.0, t["fy"], t["cy"]], [0.0, 0.0, 1.0]], dtype=np.float64)
    else:
        raise MotionFileError(path, f"camera {name!r}: give the intrinsics as matrix = [[fx, 0, cx], [0, fy, cy], [0, 0, 1]] or fx, fy, cx, cy")
    dist_key = next((k for k in ("distortions", "distortion", "dist") if k in t), None)
    dist = np.zeros(5) if dist_key is None else _num_array(t[dist_key], lambda s: len(s) == 1 and 0 < s[0] <= 8, dist_key, path, name)
    for key in ("rotation", "translation"):
        if key not in t:
            raise MotionFileError(path, f"camera {name!r}: missing {key!r} (world -> camera extrinsics)")
    rot = _num_array(t["rotation"], lambda s: s in ((3,), (3, 3)), "rotation", path, name)
    trans = _num_array(t["translation"], lambda s: s == (3,), "translation", path, name) * scale
    size = t.get("size")
    if size is not None:
        size = _num_array(size, lambda s: s == (2,), "size", path, name)
    try:
        return Camera(name, K, dist, rot, trans, None if size is None else (int(size[0]), int(size[1])))
    except LMMError as exc:
        raise MotionFileError(path, str(exc)) from None


def _from_document(doc: dict, path) -> Calibration:
    units = str(doc.get("units", "m"))
    if units not in UNITS_TO_METRES:
        raise MotionFileError(path, f"units = {units!r} is not one of {', '.join(UNITS_TO_METRES)}")
    up = str(doc.get("up", "y")).lower()
    if up not in _UPS:
        raise MotionFileError(path, f"up = {up!r} is not one of {', '.join(_UPS)}")
    scale = UNITS_TO_METRES[units]
    anipose = "cameras" not in doc
    tables: list[tuple[str, dict]] = []
    cams = doc.get("cameras")
    if isinstance(cams, dict):
        tables = [(str(k), v) for k, v in cams.items() if isinstance(v, dict)]
    elif isinstance(cams, list):
        tables = [(str(v.get("name", f"cam{i}")), v) for i, v in enumerate(cams) if isinstance(v, dict)]
    else:  # Anipose layout: [cam_0], [cam_1], ... with a name inside
        tables = [(k, v) for k, v in doc.items() if isinstance(v, dict) and ("matrix" in v or "fx" in v)]
    if not tables:
        raise MotionFileError(path, "no cameras found: expected [cameras.NAME] tables (or tables with a 'matrix')")
    for k, t in tables:
        if t.get("fisheye") is True:
            raise MotionFileError(path, f"camera {str(t.get('name', k))!r} is calibrated with the fisheye lens model, which "
                                        "LMM does not read; calibrate it with the standard (Brown-Conrady) model")
    cameras = tuple(_camera_from_table(str(t.get("name", k)), t, scale, path) for k, t in tables)
    if anipose and "up" not in doc:
        up = guess_up(cameras) or up
    return Calibration(cameras, up, Path(path) if path else None)


def _yaml_camera(name: str, d: dict, path) -> Camera:
    """A camera from an OpenCV per-camera file's mapping."""
    def pick(*keys):
        for k in keys:
            if k in d and d[k] is not None:
                return d[k]
        return None

    K = pick("camera_matrix", "cameraMatrix", "K", "intrinsic", "intrinsics", "M")
    if K is None:
        raise MotionFileError(path, f"camera {name!r}: no camera_matrix (or K) in the file")
    dist = pick("distortion_coefficients", "dist_coeffs", "distCoeffs", "dist", "D")
    rot = pick("Rot", "R", "rvec", "rotation")
    trans = pick("T", "tvec", "t", "translation")
    if rot is None or trans is None:
        raise MotionFileError(path, f"camera {name!r}: needs extrinsics R (or rvec) and T (or tvec)")
    w, h = d.get("image_width"), d.get("image_height")
    size = (int(w), int(h)) if w is not None and h is not None else None
    try:
        return Camera(name, np.asarray(K, dtype=float).reshape(3, 3), np.zeros(5) if dist is None else np.asarray(dist, dtype=float).reshape(-1),
                      np.asarray(rot, dtype=float).reshape((3, 3) if np.size(rot) == 9 else (3,)),
                      np.asarray(trans, dtype=float).reshape(3), size)
    except (LMMError, ValueError) as exc:
        raise MotionFileError(path, str(exc) if isinstance(exc, LMMError) else f"camera {name!r}: {exc}") from None


def _from_yaml_mappings(docs: list[tuple[Path, dict]], path: Path, units: str | None, up: str | None) -> Calibration:
    merged: dict = {}
    for _, d in docs:
        merged.update(d)
    units = units or str(merged.get("units", "m"))
    up = (up or str(merged.get("up", "y"))).lower()
    if units not in UNITS_TO_METRES or up not in _UPS:
        raise MotionFileError(path, f"units {units!r} or up {up!r} not understood; units: {', '.join(UNITS_TO_METRES)}; up: {', '.join(_UPS)}")
    scale = UNITS_TO_METRES[units]
    if "names" in merged:
        names = merged["names"] if isinstance(merged["names"], list) else [merged["names"]]
        cameras = []
        for n in (str(n) for n in names):
            d = {"K": merged.get(f"K_{n}"), "dist": merged.get(f"dist_{n}", merged.get(f"D_{n}")),
                 "Rot": merged.get(f"Rot_{n}"), "R": merged.get(f"R_{n}"), "T": merged.get(f"T_{n}"),
                 "image_width": merged.get(f"W_{n}"), "image_height": merged.get(f"H_{n}")}
            if d["K"] is None:
                raise MotionFileError(path, f"camera {n!r} is listed in names but has no K_{n}")
            cameras.append(_yaml_camera(n, d, path))
    else:
        cameras = [_yaml_camera(p.name.split(".")[0], d, p) for p, d in docs]
    cameras = [Camera(c.name, c.K, c.dist, c.R, c.t * scale, c.size) for c in cameras]
    return Calibration(tuple(cameras), up, path)


def read_calibration(path: str | Path, *, units: str | None = None, up: str | None = None) -> Calibration:
    """Read a calibration: ``.toml``, ``.json``, an OpenCV ``.yml``/``.yaml``, a Qualisys ``.qca.txt``, or a
    folder of OpenCV YAML files (one per camera, or ``intri.yml`` + ``extri.yml``).

    Args:
        units: length unit of the translations, overriding the file's ``units`` (YAML files have none:
            metres unless given).
        up: the world's up axis, overriding the file's ``up``.
    """
    path = Path(path)
    if not path.exists():
        raise MotionFileError(path, "calibration not found; check the path")
    if units is not None and units not in UNITS_TO_METRES:
        raise LMMError(f"units must be one of {', '.join(UNITS_TO_METRES)}, got {units!r}")
    if path.is_file() and is_qca(path):
        calib = Calibration(tuple(read_qca(path, units)), up or "z", path)
    elif path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in _YAML_SUFFIXES)
        if not files:
            raise MotionFileError(path, "the folder holds no OpenCV .yml/.yaml calibration files")
        calib = _from_yaml_mappings([(p, read_opencv_yaml(p)) for p in files], path, units, up)
    else:
        suffix = path.suffix.lower()
        if suffix in _YAML_SUFFIXES:
            calib = _from_yaml_mappings([(path, read_opencv_yaml(path))], path, units, up)
        elif suffix in (".toml", ".json"):
            text = read_text(path, "calibration file")  # a byte-order mark is fine
            try:
                doc = tomllib.loads(text) if suffix == ".toml" else json.loads(text)
            except tomllib.TOMLDecodeError as exc:
                line = getattr(exc, "lineno", None)
                raise MotionFileError(path, f"not valid TOML ({str(exc).split(' (at line')[0]})", line) from None
            except json.JSONDecodeError as exc:
                raise MotionFileError(path, f"not valid JSON ({exc.msg})", exc.lineno) from None
            if not isinstance(doc, dict):
                raise MotionFileError(path, "the calibration must be an object/table at the top level")
            if units is not None:
                doc = dict(doc, units=units)
            if up is not None:
                doc = dict(doc, up=up)
            calib = _from_document(doc, path)
        else:
            raise MotionFileError(path, "unknown calibration format; use .toml, .json, .yml/.yaml (OpenCV), Qualisys .qca.txt "
                                        "or a folder of .yml files")
    if not calib.cameras:
        raise MotionFileError(path, "the calibration holds no cameras")
    return calib


# ---- writing -----------------------------------------------------------------------------------------

def _toml_list(a) -> str:
    a = np.asarray(a)
    if a.ndim == 1:
        return "[" + ", ".join(repr(float(v)) for v in a) + "]"
    return "[" + ", ".join(_toml_list(r) for r in a) + "]"


def write_calibration(calib: Calibration, path: str | Path) -> Path:
    """Write a calibration as ``.toml``, ``.json`` or one OpenCV ``.yml`` (``names`` + ``K_``/``dist_``/
    ``Rot_``/``T_`` per camera), by the suffix; atomically. Translations in metres."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".toml":
        lines = ['units = "m"', f'up = "{calib.up}"', ""]
        for c in calib.cameras:
            lines += [f'[cameras."{c.name}"]']
            if c.size:
                lines.append(f"size = [{c.size[0]}, {c.size[1]}]")
            lines += [f"matrix = {_toml_list(c.K)}", f"distortions = {_toml_list(c.dist)}",
                      f"rotation = {_toml_list(rotation_vector(c.R))}", f"translation = {_toml_list(c.t)}", ""]
        text = "\n".join(lines)
    elif suffix == ".json":
        cams: dict[str, dict] = {}
        for c in calib.cameras:
            cams[c.name] = ({"size": list(c.size)} if c.size else {}) | {
                "matrix": c.K.tolist(), "distortions": c.dist.tolist(), "rotation": c.R.tolist(), "translation": c.t.tolist()}
        text = json.dumps({"units": "m", "up": calib.up, "cameras": cams}, indent=1)
    elif suffix in _YAML_SUFFIXES:
        values: dict = {"units": "m", "up": calib.up, "names": [c.name for c in calib.cameras]}
        for c in calib.cameras:
            values[f"K_{c.name}"] = c.K
            values[f"dist_{c.name}"] = c.dist[None]
            values[f"Rot_{c.name}"] = c.R
            values[f"T_{c.name}"] = c.t[:, None]
        text = format_opencv_yaml(values)
    else:
        raise LMMError(f"{path}: write calibrations as .toml, .json or .yml")
    with atomic_text_writer(path) as f:
        f.write(text)
    return path
