"""Real multi-camera footage for the capture tests and benchmarks: Pose2Sim's four-camera demo.

The ``pose2sim`` wheel (BSD-3-Clause) on the package index ships it: ``Pose2Sim/Demo_SinglePerson/videos/
cam01-04.mp4`` (1088 x 1920 portrait, 60 fps, 100 frames, one person) and ``calibration/Calib.qca.txt``
(Qualisys), and ``Demo_MultiPerson`` with two people. The wheel is fetched once with ``pip download`` into
the repository's ignored ``out/`` (or ``$LMM_FOOTAGE_CACHE``) and its files are read out of it with
``zipfile`` into a temporary folder; nothing of it is copied into the repository. Tests skip, saying why,
where the download fails (no network) or where MediaPipe is missing.
"""
from __future__ import annotations

import os
import subprocess
import sys
import zipfile
import zlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
POSE2SIM = "pose2sim==0.10.49"
WHEEL = "pose2sim-0.10.49-py3-none-any.whl"
CACHE = Path(os.environ.get("LMM_FOOTAGE_CACHE", ROOT / "out" / "footage"))
CAMERAS = ("cam01", "cam02", "cam03", "cam04")


def fetch_wheel(cache: Path = CACHE) -> Path:
    """The pose2sim wheel, downloaded into ``cache`` unless it is there; raises ``RuntimeError`` if it cannot be."""
    wheel = cache / WHEEL
    if wheel.is_file() and zipfile.is_zipfile(wheel):
        return wheel
    cache.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", POSE2SIM, "--no-deps", "--disable-pip-version-check", "-q", "-d", str(cache)]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise RuntimeError(f"pip download {POSE2SIM} failed: {exc}") from None
    if done.returncode != 0 or not wheel.is_file():
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"pip download {POSE2SIM} failed: {last}")
    return wheel


def extract_demo(wheel: Path, folder: Path, demo: str = "Demo_SinglePerson") -> Path:
    """The demo's videos and calibration read out of the wheel into ``folder``; returns ``folder/demo``
    holding ``videos/cam0N.mp4`` and ``calibration/Calib.qca.txt``."""
    prefix = f"Pose2Sim/{demo}/"
    with zipfile.ZipFile(wheel) as zf:
        for name in zf.namelist():
            if name.startswith(prefix) and (name.endswith(".mp4") or name.endswith("Calib.qca.txt")):
                out = folder / demo / name[len(prefix):]
                info = zf.getinfo(name)
                if out.is_file() and out.stat().st_size == info.file_size and zlib.crc32(out.read_bytes()) == info.CRC:
                    continue  # already there: rewriting it would make the detections cached for it stale
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_bytes(zf.read(name))
    if not (folder / demo / "calibration" / "Calib.qca.txt").is_file():
        raise RuntimeError(f"{wheel.name} holds no {prefix}calibration/Calib.qca.txt")
    return folder / demo


def have_mediapipe() -> bool:
    try:
        import cv2  # noqa: F401
        import mediapipe  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.fixture(scope="session")
def pose2sim_wheel() -> Path:
    try:
        return fetch_wheel()
    except RuntimeError as exc:
        pytest.skip(f"Pose2Sim's demo footage is not available: {exc}")


@pytest.fixture(scope="session")
def demo_footage(pose2sim_wheel, tmp_path_factory) -> Path:
    """Pose2Sim's single-person demo: ``videos/cam01..04.mp4`` and ``calibration/Calib.qca.txt``."""
    return extract_demo(pose2sim_wheel, tmp_path_factory.mktemp("pose2sim"))


@pytest.fixture(scope="session")
def multi_person_footage(pose2sim_wheel, tmp_path_factory) -> Path:
    """Pose2Sim's two-person demo (same layout)."""
    return extract_demo(pose2sim_wheel, tmp_path_factory.mktemp("pose2sim_multi"), "Demo_MultiPerson")


needs_mediapipe = pytest.mark.skipif(not have_mediapipe(), reason="video capture needs MediaPipe and OpenCV: pip install '.[capture]'")
