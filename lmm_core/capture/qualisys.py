"""Qualisys Track Manager calibrations (``.qca.txt``, XML), as QTM exports them and Pose2Sim's demo ships.

What the file holds, per ``<camera serial="...">`` (the serial is the camera's name):

- ``<transform x y z r11 ... r33>``: the camera's position in the world, millimetres, and a rotation whose
  rows are the camera's axes in the world, QTM's way round: the camera looks down its own -Z with +Y up
  the image. OpenCV's camera (looking down +Z, +Y down the image) is that turned half a turn about X, so
  world -> camera is ``diag(1, -1, -1) @ r`` and ``t = -R @ position`` (checked on Pose2Sim's four-camera
  demo: every camera sees the performer in front of it, and the BlazePose detections of its videos agree
  with each other's triangulations within a few pixels).
- ``<intrinsic focalLengthU/V centerPointU/V sensorMinU/MaxU ...>``: in 1/64 pixel of the sensor
  (``sensorMaxU`` is 64 x the last pixel column); ``radialDistortion1..3`` (k1, k2, k3) and
  ``tangentalDistortion1..2`` (p1, p2), Brown-Conrady as OpenCV's.
- ``<fov_video left top right bottom>``: the part of the sensor the video shows, pixels (inclusive): its
  size is the image size, and the principal point is moved by its top-left corner. Where the video is
  read out at another resolution than the sensor's, pixels are scaled by the ratio.

The world is QTM's lab frame: millimetres (converted to metres) and Z up unless the file is given with
``--up``. The XML is read with no DTD or entities (a file declaring any is refused).
"""
from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from ..errors import LMMError, MotionFileError
from ..io.atomic import read_text
from ..skeleton import UNITS_TO_METRES
from .cameras import Camera

_FLIP = np.diag([1.0, -1.0, -1.0])  # QTM's camera axes (looking down -Z, Y up) -> OpenCV's
_SUBPIXEL = 64.0


def is_qca(path: Path) -> bool:
    name = path.name.lower()
    return name.endswith(".qca.txt") or name.endswith(".qca")


def _number(attrs: dict, key: str, path: Path, camera: str, default: float | None = None) -> float:
    if key not in attrs and default is not None:
        return default
    if key not in attrs:
        raise MotionFileError(path, f"camera {camera!r}: its <{attrs.get('_tag', 'element')}> has no {key!r}")
    try:
        value = float(attrs[key])
    except ValueError:
        raise MotionFileError(path, f"camera {camera!r}: {key}={attrs[key]!r} is not a number") from None
    if not np.isfinite(value):
        raise MotionFileError(path, f"camera {camera!r}: {key} must be a finite number")
    return value


def _child(cam: ET.Element, tag: str, path: Path, name: str) -> dict:
    el = cam.find(tag)
    if el is None:
        raise MotionFileError(path, f"camera {name!r} has no <{tag}>; is this a complete QTM calibration export?")
    return dict(el.attrib, _tag=tag)


def read_qca(path: str | Path, units: str | None = None) -> list[Camera]:
    """The active cameras of a QTM ``.qca.txt`` calibration, translations in metres (see the module docstring).

    Args:
        units: the translations' unit, overriding QTM's millimetres.
    """
    path = Path(path)
    text = read_text(path, "calibration file")
    if "<!DOCTYPE" in text or "<!ENTITY" in text:
        raise MotionFileError(path, "the calibration declares a DTD or entities, which a QTM export never does; "
                                    "LMM does not expand them (re-export it from QTM)")
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        line = exc.position[0] if getattr(exc, "position", None) else None
        raise MotionFileError(path, f"not valid XML ({str(exc).split(':')[0]})", line) from None
    if root.tag != "calibration":
        raise MotionFileError(path, f"not a Qualisys calibration: the XML's root is <{root.tag}>, not <calibration>")
    scale = UNITS_TO_METRES[units or "mm"]
    cameras: list[Camera] = []
    for cam in root.iter("camera"):
        name = cam.attrib.get("serial") or f"cam{len(cameras) + 1:02d}"
        if cam.attrib.get("active", "1").strip() == "0":
            continue
        tr = _child(cam, "transform", path, name)
        it = _child(cam, "intrinsic", path, name)
        fov = _child(cam, "fov_video", path, name)
        r = np.array([[_number(tr, f"r{i}{j}", path, name) for j in (1, 2, 3)] for i in (1, 2, 3)])
        position = np.array([_number(tr, k, path, name) for k in "xyz"]) * scale
        left, top, right, bottom = (_number(fov, k, path, name) for k in ("left", "top", "right", "bottom"))
        width, height = int(right - left + 1), int(bottom - top + 1)
        if width <= 1 or height <= 1:
            raise MotionFileError(path, f"camera {name!r}: <fov_video> is {width} x {height} pixels")
        # Sensor pixels per video pixel: 1 unless the video is read out binned or scaled.
        sensor_w = (_number(it, "sensorMaxU", path, name) - _number(it, "sensorMinU", path, name, 0.0)) / _SUBPIXEL + 1.0
        sensor_h = (_number(it, "sensorMaxV", path, name) - _number(it, "sensorMinV", path, name, 0.0)) / _SUBPIXEL + 1.0
        if sensor_w <= 1 or sensor_h <= 1:
            raise MotionFileError(path, f"camera {name!r}: the sensor size (sensorMaxU, sensorMaxV) must be positive")
        su = 1.0 if abs(sensor_w - width) < 2 else width / sensor_w
        sv = 1.0 if abs(sensor_h - height) < 2 else height / sensor_h
        fu = _number(it, "focalLengthU", path, name) / _SUBPIXEL * su
        fv = _number(it, "focalLengthV", path, name) / _SUBPIXEL * sv
        cu = _number(it, "centerPointU", path, name) / _SUBPIXEL * su - left
        cv = _number(it, "centerPointV", path, name) / _SUBPIXEL * sv - top
        skew = _number(it, "skew", path, name, 0.0) if it.get("skew") not in (None, "") else 0.0
        K = np.array([[fu, skew, cu], [0.0, fv, cv], [0.0, 0.0, 1.0]])
        dist = np.array([_number(it, k, path, name) for k in ("radialDistortion1", "radialDistortion2", "tangentalDistortion1",
                                                              "tangentalDistortion2", "radialDistortion3")])
        R = _FLIP @ r
        try:
            cameras.append(Camera(name, K, dist, R, -R @ position, (width, height)))
        except LMMError as exc:
            raise MotionFileError(path, str(exc)) from None
    if not cameras:
        raise MotionFileError(path, "the calibration has no active <camera> elements")
    return cameras
