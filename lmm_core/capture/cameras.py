"""Pinhole cameras with Brown-Conrady lens distortion: projection, undistortion, rotation vectors.

Conventions (OpenCV's, which calibration tools write):

- A world point ``X`` (metres) is seen at camera coordinates ``Xc = R @ X + t`` (``R`` world -> camera,
  ``t`` in metres), with the camera looking down its own +Z, +X to the image's right, +Y down the image.
- Normalised image coordinates are ``(Xc_x / Xc_z, Xc_y / Xc_z)``; distortion acts on them
  (``distort``), then the intrinsic matrix ``K`` turns them into pixels.
- Distortion coefficients are ``(k1, k2, p1, p2, k3)``: radial ``1 + k1 r^2 + k2 r^4 + k3 r^6`` and
  tangential ``p1, p2``, on normalised coordinates.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .. import rotations as Rq  # not R: a camera's rotation matrix is ``R`` here
from ..errors import LMMError


@dataclass(frozen=True, eq=False)
class Camera:
    """One calibrated camera.

    Attributes:
        name: the camera's name; keypoint files are matched to cameras by it.
        K: ``(3, 3)`` intrinsic matrix, pixels.
        dist: ``(5,)`` distortion ``(k1, k2, p1, p2, k3)``, unitless, on normalised coordinates.
        R: ``(3, 3)`` rotation world -> camera.
        t: ``(3,)`` translation world -> camera, metres.
        size: ``(width, height)`` of the image in pixels, or ``None`` where the calibration does not say.
    """

    name: str
    K: np.ndarray
    dist: np.ndarray = field(default_factory=lambda: np.zeros(5))
    R: np.ndarray = field(default_factory=lambda: np.eye(3))
    t: np.ndarray = field(default_factory=lambda: np.zeros(3))
    size: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        K = np.asarray(self.K, dtype=np.float64)
        dist = np.zeros(5)
        d = np.asarray(self.dist, dtype=np.float64).reshape(-1)
        if d.size > 5 and np.any(d[5:] != 0):
            raise LMMError(f"camera {self.name!r}: only 5 distortion coefficients (k1, k2, p1, p2, k3) are supported, got {d.size}")
        dist[: min(5, d.size)] = d[:5]
        Rm = np.asarray(self.R, dtype=np.float64)
        if Rm.shape in ((3,), (3, 1), (1, 3)):
            Rm = rodrigues(Rm.reshape(3))
        t = np.asarray(self.t, dtype=np.float64).reshape(-1)
        if K.shape != (3, 3) or Rm.shape != (3, 3) or t.shape != (3,):
            raise LMMError(f"camera {self.name!r}: needs a 3x3 intrinsic matrix, a rotation (3x3 or a 3-vector) and a "
                           f"3-vector translation; got {K.shape}, {Rm.shape}, {t.shape}")
        if not (np.all(np.isfinite(K)) and np.all(np.isfinite(Rm)) and np.all(np.isfinite(t)) and np.all(np.isfinite(dist))):
            raise LMMError(f"camera {self.name!r}: calibration values must be finite numbers")
        if K[0, 0] <= 0 or K[1, 1] <= 0:
            raise LMMError(f"camera {self.name!r}: focal lengths must be positive, got fx={K[0, 0]}, fy={K[1, 1]}")
        if abs(np.linalg.det(Rm) - 1.0) > 1e-3 or np.abs(Rm @ Rm.T - np.eye(3)).max() > 1e-3:
            raise LMMError(f"camera {self.name!r}: the rotation is not a rotation matrix (det {np.linalg.det(Rm):.4f})")
        for name, value in (("K", K), ("dist", dist), ("R", Rm), ("t", t)):
            value.setflags(write=False)
            object.__setattr__(self, name, value)
        if self.size is not None:
            object.__setattr__(self, "size", (int(self.size[0]), int(self.size[1])))

    @property
    def focal(self) -> float:
        """Mean focal length in pixels: turns normalised-coordinate errors into (approximate) pixel errors."""
        return 0.5 * float(self.K[0, 0] + self.K[1, 1])

    @property
    def centre(self) -> np.ndarray:
        """``(3,)`` the camera's optical centre in world coordinates, metres."""
        return -self.R.T @ self.t

    @property
    def pose(self) -> np.ndarray:
        """``(3, 4)`` ``[R | t]``: world -> camera, the projection matrix in normalised coordinates."""
        return np.concatenate([self.R, self.t[:, None]], axis=1)

    def project(self, points: np.ndarray, distort_points: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """Pixels of world points.

        Args:
            points: ``(..., 3)`` world positions, metres.
            distort_points: apply the lens distortion (``False``: the ideal pinhole image).
        Returns:
            ``pixels (..., 2)`` and ``depth (...)`` (metres along the optical axis; ``<= 0`` is behind the camera).
        """
        cam = np.asarray(points, dtype=np.float64) @ self.R.T + self.t
        z = cam[..., 2]
        safe = np.where(np.abs(z) > 1e-9, z, 1e-9)
        xy = cam[..., :2] / safe[..., None]
        if distort_points:
            xy = distort(xy, self.dist)
        return normalised_to_pixels(xy, self.K), z

    def undistort(self, pixels: np.ndarray, iterations: int = 20) -> np.ndarray:
        """Normalised, undistorted image coordinates ``(..., 2)`` of pixels ``(..., 2)`` (see ``undistort``)."""
        return undistort(pixels_to_normalised(pixels, self.K), self.dist, iterations)


def normalised_to_pixels(xy: np.ndarray, K: np.ndarray) -> np.ndarray:
    """Pixels ``(..., 2)`` of normalised coordinates ``(..., 2)`` through the intrinsic matrix (skew included)."""
    return np.stack([K[0, 0] * xy[..., 0] + K[0, 1] * xy[..., 1] + K[0, 2], K[1, 1] * xy[..., 1] + K[1, 2]], axis=-1)


def pixels_to_normalised(px: np.ndarray, K: np.ndarray) -> np.ndarray:
    """Normalised (still distorted) coordinates ``(..., 2)`` of pixels ``(..., 2)``: the inverse of ``K``."""
    y = (px[..., 1] - K[1, 2]) / K[1, 1]
    x = (px[..., 0] - K[0, 2] - K[0, 1] * y) / K[0, 0]
    return np.stack([x, y], axis=-1)


def distort(xy: np.ndarray, dist: np.ndarray) -> np.ndarray:
    """Brown-Conrady distortion of normalised coordinates ``(..., 2)``; ``dist`` is ``(k1, k2, p1, p2, k3)``."""
    k1, k2, p1, p2, k3 = (float(v) for v in dist)
    x, y = xy[..., 0], xy[..., 1]
    r2 = x * x + y * y
    radial = 1 + r2 * (k1 + r2 * (k2 + r2 * k3))
    xd = x * radial + 2 * p1 * x * y + p2 * (r2 + 2 * x * x)
    yd = y * radial + p1 * (r2 + 2 * y * y) + 2 * p2 * x * y
    return np.stack([xd, yd], axis=-1)


def undistort(xy_d: np.ndarray, dist: np.ndarray, iterations: int = 20) -> np.ndarray:
    """Undistorted normalised coordinates ``(..., 2)`` of distorted ones ``(..., 2)``.

    The distortion has no closed-form inverse. Each step solves ``distort(x) = x_d`` by Newton's method
    with the exact 2x2 Jacobian of ``distort``, so strong lenses (wide angle, ``|k1|`` of 0.3 and more)
    converge in a handful of steps where the usual fixed-point iteration oscillates near the edges.
    A step that would not reduce the error is halved, and points that never converge (outside the lens's
    valid field) come back as NaN rather than as a wrong position.
    """
    xy_d = np.asarray(xy_d, dtype=np.float64)
    if not np.any(dist):
        return xy_d.copy()
    k1, k2, p1, p2, k3 = (float(v) for v in dist)
    x = xy_d.copy()
    for _ in range(iterations):
        u, v = x[..., 0], x[..., 1]
        r2 = u * u + v * v
        radial = 1 + r2 * (k1 + r2 * (k2 + r2 * k3))
        dradial = k1 + r2 * (2 * k2 + 3 * k3 * r2)  # d radial / d r2
        res = distort(x, dist) - xy_d
        # Jacobian of distort at x.
        j00 = radial + 2 * u * u * dradial + 2 * p1 * v + 6 * p2 * u
        j01 = 2 * u * v * dradial + 2 * p1 * u + 2 * p2 * v
        j10 = 2 * u * v * dradial + 2 * p1 * u + 2 * p2 * v
        j11 = radial + 2 * v * v * dradial + 6 * p1 * v + 2 * p2 * u
        det = j00 * j11 - j01 * j10
        det = np.where(np.abs(det) > 1e-12, det, 1e-12)
        dx = (j11 * res[..., 0] - j01 * res[..., 1]) / det
        dy = (-j10 * res[..., 0] + j00 * res[..., 1]) / det
        step = np.stack([dx, dy], axis=-1)
        cand = x - step
        worse = np.linalg.norm(distort(cand, dist) - xy_d, axis=-1) > np.linalg.norm(res, axis=-1)
        cand = np.where(worse[..., None], x - 0.5 * step, cand)
        x = cand
    err = np.linalg.norm(distort(x, dist) - xy_d, axis=-1)
    return np.where((err < 1e-6)[..., None], x, np.nan)


def rodrigues(v: np.ndarray) -> np.ndarray:
    """Rotation matrix ``(3, 3)`` of a rotation vector ``(3,)`` (axis times angle, radians), as OpenCV's ``Rodrigues``."""
    v = np.asarray(v, dtype=np.float64).reshape(3)
    theta = float(np.linalg.norm(v))
    if theta < 1e-12:
        return np.eye(3)
    k = v / theta
    kx = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + np.sin(theta) * kx + (1 - np.cos(theta)) * (kx @ kx)


def rotation_vector(Rm: np.ndarray) -> np.ndarray:
    """Rotation vector ``(3,)`` of a rotation matrix ``(3, 3)`` (inverse of ``rodrigues``)."""
    return Rq.to_scaled_axis(Rq.from_matrix(np.asarray(Rm, dtype=np.float64)))


def look_at(eye: np.ndarray, target: np.ndarray, up: np.ndarray = np.array([0.0, 1.0, 0.0])) -> tuple[np.ndarray, np.ndarray]:
    """``(R, t)`` of a camera at ``eye`` looking at ``target`` with the world's ``up`` at the top of the image.

    OpenCV axes: the camera's +Z towards the target, +Y down the image (so world ``up`` maps to -Y).
    """
    eye, target, up = (np.asarray(a, dtype=np.float64) for a in (eye, target, up))
    z = target - eye
    z /= np.linalg.norm(z)
    x = np.cross(z, up)  # image right: forward x up, so up ends at -Y
    if np.linalg.norm(x) < 1e-9:
        raise LMMError("look_at: the view direction is parallel to the up direction")
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    Rm = np.stack([x, y, z])  # rows: camera axes in world coordinates
    return Rm, -Rm @ eye
