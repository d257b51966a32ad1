"""Motion from multi-camera footage: 2D keypoints of calibrated cameras -> a ``Motion`` on the canonical body.

Modules: ``keypoints`` (joint sets, detector file readers and writers), ``opencv_yaml`` and ``calibration``
(camera files), ``cameras`` (projection, distortion), ``sync`` (frame offsets), ``triangulate``,
``smoothing``, ``solve`` (skeleton solving), ``segment`` (clips at pauses), ``pipeline`` (all of it),
``synthetic`` (cameras and detections made from real motion capture, for tests and benchmarks),
``qualisys`` (QTM calibrations), ``consistency`` (one person across cameras), ``video`` (BlazePose on
video files; imports MediaPipe and OpenCV only when called), ``monocular`` (one camera, no calibration).
See docs/capture.md. numpy only, but for ``video``'s detector.
"""
from .calibration import Calibration, read_calibration, write_calibration
from .cameras import Camera
from .keypoints import BODY25, COCO17, Keypoints2D, read_keypoints
from .pipeline import CaptureOptions, CaptureResult, capture, capture_files
from .segment import segment

__all__ = [
    "Calibration", "Camera", "read_calibration", "write_calibration", "Keypoints2D", "read_keypoints", "COCO17",
    "BODY25", "CaptureOptions", "CaptureResult", "capture", "capture_files", "segment",
]
