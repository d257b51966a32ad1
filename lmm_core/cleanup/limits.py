"""Joint limits learned from motion capture: a swing region and a twist interval per joint.

The model. Each joint's local rotation ``q`` (relative to its parent, away from the canonical T-pose) is
seen in the joint's bone frame (``body.bone_frames``: Y along the bone) and split into a *twist* about
the bone (Y) applied first and a *swing* that tilts the bone, ``q_b = swing * twist``:

- twist: an angle ``tau`` in radians, limited to ``[centre + lo, centre + hi]`` (taken round the circle
  from ``centre``, so a range may straddle +-180 degrees);
- swing: its rotation vector (axis times angle, radians), which lies in the bone's XZ plane, as a 2D
  point ``s = (s_x, s_z)``. Its allowed region is a convex polygon, the intersection of ``K`` half-planes
  ``n_k . s <= h_k`` with unit normals ``n_k`` spread evenly round the circle. Each ``h_k`` is a high
  percentile of ``n_k . s`` over the training data (a robust support function), so the polygon is a
  robust convex hull: lopsided ranges (a shoulder lifts the arm far more than it pulls it back, a knee
  bends one way) come out lopsided, and one outlier frame moves nothing.

``clamp`` is the projection onto that set in these coordinates: twist clipped to its interval, swing
moved to the nearest point of the polygon. Rotations inside are returned bit for bit. The pelvis (the
root: the body's orientation in the world) has no limit. Down the torso (``TORSO``) what the clamp takes off
a joint is handed to its children, so the chest, neck and head keep their turn in the world
(``JointLimits.clamp_rotations(carry_torso=True)``, what ``clamp`` does).

Knees are hinges that stop at straight: their region is also cut at ``HYPEREXTENSION`` past the canonical
T-pose (whose knees stand 5 degrees bent, so about straight), by the swing half-plane along the bone's
+X, the extension side of both knees in these frames. The
percentile hull alone let a knee bend 25 degrees backwards, so the clamp left a knee keyed 70 or 100
degrees backwards at 20; the data itself hardly goes past 5 (Bandai and LAFAN1 clips on the canonical
body, 61,606 knee frames: 99.9th percentile 5.0 degrees, none past 10).
"""
from __future__ import annotations

import zipfile
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from .. import canonical as cn
from .. import rotations as R
from ..errors import LMMError
from ..io.atomic import atomic_binary_writer
from ..motion import Motion
from .body import bone_frames, require_canonical

DEFAULT_PATH = Path(__file__).resolve().parents[2] / "presets" / "models" / "joint_limits.npz"
_Y = np.array([0.0, 1.0, 0.0])
_INSIDE_TOL = 1e-9  # radians of slack when testing membership, so clamped rotations count as inside
# The torso's chain, each the next one's parent: ``JointLimits.clamp`` hands what it takes off each of the first
# four to its children, so the chest, neck and head keep their turn in the world.
TORSO = ("spine1", "spine2", "spine3", "neck")
# The furthest past straight a hinge joint may bend backwards, radians (see the module docstring).
HYPEREXTENSION = {"left_knee": np.radians(5.0), "right_knee": np.radians(5.0)}


def _wrap(a: np.ndarray) -> np.ndarray:
    """Angles wrapped into ``[-pi, pi)``."""
    return (a + np.pi) % (2 * np.pi) - np.pi


def swing_twist(q: np.ndarray, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Swing vectors and twist angles of local rotations.

    Args:
        q: ``(..., J, 4)`` local rotations (w, x, y, z).
        frames: ``(J, 4)`` bone frames (bone axes -> joint frame), Y along each bone.

    Returns:
        ``swing (..., J, 2)``: the swing's rotation vector ``(x, z)`` in bone axes, radians;
        ``twist (..., J)``: the twist about the bone, radians in ``[-pi, pi)``.
    """
    qb = R.mul(R.conj(frames), R.mul(q, frames))
    # Twist is the part of q_b about Y: the normalised (w, 0, y, 0). Where w = y = 0 (a half-turn swing)
    # it is undefined and taken as zero.
    twist = _wrap(2.0 * np.arctan2(qb[..., 2], qb[..., 0]))
    sw = R.mul(qb, R.conj(R.from_axis_angle(_Y, twist)))
    v = R.to_scaled_axis(sw)
    return v[..., [0, 2]], twist


def from_swing_twist(swing: np.ndarray, twist: np.ndarray, frames: np.ndarray) -> np.ndarray:
    """Local rotations ``(..., J, 4)`` from swing vectors ``(..., J, 2)`` and twists ``(..., J)`` (inverse of ``swing_twist``)."""
    v = np.stack([swing[..., 0], np.zeros(swing.shape[:-1]), swing[..., 1]], axis=-1)
    qb = R.mul(R.from_scaled_axis(v), R.from_axis_angle(_Y, twist))
    return R.mul(frames, R.mul(qb, R.conj(frames)))


def driven_mask(rotations: np.ndarray, clip_start: np.ndarray, tolerance: float = 1e-4) -> np.ndarray:
    """``(N, J)`` bool: frames of clips in which the joint moves at all.

    A source that has no bone for a joint (Bandai has one spine bone where the canonical body has
    three) leaves it at one fixed rotation for the whole clip. Those frames say nothing about how far
    the joint can turn, and counting them would squeeze its limits onto that one rotation.

    Args:
        rotations: ``(N, J, 4)`` local rotations of clips stacked back to back.
        clip_start: ``(C + 1,)`` frame offsets of the clips (the corpus's ``clip_start``).
        tolerance: radians; a joint that never turns further than this from its first frame is still.
    """
    mask = np.zeros(rotations.shape[:2], dtype=bool)
    for a, b in zip(clip_start[:-1], clip_start[1:]):
        if b > a:
            moved = R.angle(R.inv_mul(rotations[a:a + 1], rotations[a:b])).max(axis=0) > tolerance
            mask[a:b] = moved[None]
    return mask


def _widen_arc(centre: float, lo: float, hi: float, angles: np.ndarray) -> tuple[float, float, float]:
    """The twist interval ``[centre + lo, centre + hi]`` (radians, taken round the circle) grown just enough
    to hold every angle of ``angles (N,)``, each end moved the shorter way round; returned as ``(centre,
    lo, hi)`` again, re-centred only when it grew (so an interval left alone clamps bit for bit as before)."""
    start, length = centre + lo, hi - lo
    grown = False
    for a in np.asarray(angles, dtype=np.float64):
        d = (a - start) % (2 * np.pi)
        if d <= length + _INSIDE_TOL:
            continue
        grown = True
        if d - length <= 2 * np.pi - d:  # past the end: move the end on
            length = d
        else:  # before the start: move the start back
            length += 2 * np.pi - d
            start = a
        if length >= 2 * np.pi:
            return centre, -np.pi, np.pi
    if not grown:
        return centre, lo, hi
    return float(_wrap(np.array(start + length / 2))), -length / 2, length / 2


def _directions(k: int) -> np.ndarray:
    a = np.arange(k) * (2 * np.pi / k)
    return np.stack([np.cos(a), np.sin(a)], axis=-1)


def _polygon(normals: np.ndarray, h: np.ndarray) -> np.ndarray:
    """Vertices ``(V, 2)`` (counter-clockwise) of ``{s : normals @ s <= h}``, clipped to ``|s| <= 2 pi``.

    Sutherland-Hodgman: start from a square that holds every rotation vector and cut it by each half-plane.
    """
    big = 2 * np.pi
    poly = np.array([[-big, -big], [big, -big], [big, big], [-big, big]])
    for n, c in zip(normals, h):
        d = poly @ n - c
        out = []
        for i in range(len(poly)):
            p, q, dp, dq = poly[i], poly[(i + 1) % len(poly)], d[i], d[(i + 1) % len(poly)]
            if dp <= 0:
                out.append(p)
            if dp * dq < 0:  # the edge crosses the line: keep the crossing point
                out.append(p + (q - p) * (dp / (dp - dq)))
        poly = np.array(out)
        if len(poly) < 3:
            raise LMMError("a joint's swing limits enclose no area; the limits file is corrupt, refit it")
    return poly


def _nearest_on_polygon(p: np.ndarray, poly: np.ndarray) -> np.ndarray:
    """Nearest points ``(M, 2)`` on the boundary of a convex polygon ``(V, 2)`` to points ``p (M, 2)``."""
    a = poly
    d = np.roll(poly, -1, axis=0) - a  # (V, 2) edges
    rel = p[:, None, :] - a[None]  # (M, V, 2)
    t = np.clip(np.sum(rel * d, axis=-1) / np.maximum(np.sum(d * d, axis=-1), 1e-30), 0.0, 1.0)
    c = a[None] + t[..., None] * d[None]
    best = np.argmin(np.sum((p[:, None, :] - c) ** 2, axis=-1), axis=1)
    return c[np.arange(len(p)), best]


@dataclass(frozen=True)
class EulerLimit:
    """A Blender Limit Rotation for one bone.

    Angles are radians about the bone's own X, Y (along the bone) and Z axes, in the frame given to
    ``JointLimits.euler_limits`` (the pose bone's local space). ``order`` is Blender's Euler order name
    (extrinsic: ``'YZX'`` turns about Y first, then Z, then X); set it as the constraint's
    ``euler_order``. ``use[i]`` is False where an axis needs no limit (its range spans the circle).
    """

    joint: str
    order: str
    min: tuple[float, float, float]
    max: tuple[float, float, float]
    use: tuple[bool, bool, bool]


_LOADED: dict[tuple[str, int, int], "JointLimits"] = {}  # ``JointLimits.load``'s files, by path, size and time


@dataclass(frozen=True, eq=False)
class JointLimits:
    """Per-joint rotation limits of the canonical body (see the module docstring for the model).

    Attributes:
        frames: ``(J, 4)`` bone frames the limits are expressed in (bone axes -> joint frame).
        limited: ``(J,)`` bool, joints that have limits (all but the pelvis).
        normals: ``(K, 2)`` unit normals of the swing half-planes, in the bone's (x, z) swing plane.
        swing_h: ``(J, K)`` half-plane offsets, radians: ``normals @ s <= swing_h[j]``.
        twist_centre: ``(J,)`` radians; twist is measured round the circle from here.
        twist_lo, twist_hi: ``(J,)`` radians, the allowed twist relative to ``twist_centre``.
        info: provenance (data, percentile, frame counts), strings.
    """

    frames: np.ndarray
    limited: np.ndarray
    normals: np.ndarray
    swing_h: np.ndarray
    twist_centre: np.ndarray
    twist_lo: np.ndarray
    twist_hi: np.ndarray
    info: dict[str, str] = field(default_factory=dict)
    # Vertices of each joint's swing polygon, derived from normals and swing_h when first needed (``_polygon_of``):
    # most clamps touch a few joints, and building all 22 took 5 ms of every clean-up.
    _polygons: dict[int, np.ndarray] = field(init=False, repr=False, default_factory=dict)

    def __post_init__(self) -> None:
        # Normals are spread from angle 0, so the first faces the bone's +X: the knees' extension side.
        if len(self.normals) and np.allclose(self.normals[0], (1.0, 0.0)):
            h = np.array(self.swing_h, dtype=np.float64, copy=True)
            for name, cap in HYPEREXTENSION.items():
                j = cn.JOINT_INDEX[name]
                if self.limited[j]:
                    h[j, 0] = min(h[j, 0], cap)
            object.__setattr__(self, "swing_h", h)
        object.__setattr__(self, "_polygons", {})

    def _polygon_of(self, j: int) -> np.ndarray:
        """Joint ``j``'s swing polygon vertices (a limited joint's), built once."""
        if j not in self._polygons:
            self._polygons[j] = _polygon(self.normals, self.swing_h[j])
        return self._polygons[j]

    # ---- fitting and files -----------------------------------------------------------------------

    @classmethod
    def fit(cls, rotations: np.ndarray, clip_start: np.ndarray | None = None, *, percentile: float = 99.9,
            directions: int = 16, min_frames: int = 200, info: dict[str, str] | None = None) -> "JointLimits":
        """Limits from canonical local rotations ``(N, 22, 4)`` of clips stacked back to back.

        Args:
            clip_start: ``(C + 1,)`` frame offsets of the clips. Where given, a joint that stays still
                for a whole clip (its source has no bone for it, see ``driven_mask``) counts that clip
                as one frame, not hundreds: the rotation it is held at is allowed, but does not crowd
                out the clips that really move the joint.
            percentile: applied per half-plane and to each end of the twist interval (``100 -
                percentile`` at the low end), so about ``100 - percentile`` percent of the data lies
                past each face.
            directions: the number of half-planes, ``K``.
            min_frames: a joint moved in fewer frames than this gets no limit (too little evidence).
        """
        rotations = np.asarray(rotations, dtype=np.float64)
        if rotations.ndim != 3 or rotations.shape[1:] != (cn.NUM_JOINTS, 4) or len(rotations) == 0:
            raise LMMError(f"joint limits are fitted on canonical rotations (N, {cn.NUM_JOINTS}, 4), got {rotations.shape}")
        if clip_start is None:
            mask = np.ones(rotations.shape[:2], dtype=bool)
        else:
            clip_start = np.asarray(clip_start, dtype=np.int64)
            if clip_start[0] != 0 or clip_start[-1] != len(rotations) or np.any(np.diff(clip_start) < 0):
                raise LMMError(f"clip_start must rise from 0 to the number of frames ({len(rotations)})")
            mask = driven_mask(rotations, clip_start)
        moved = mask.sum(axis=0)
        still = np.zeros_like(mask)  # one frame of each clip in which the joint stays still
        if clip_start is not None:
            firsts = clip_start[:-1][np.diff(clip_start) > 0]
            still[firsts] = ~mask[firsts]
        frames = bone_frames()
        normals = _directions(directions)
        swing, twist = swing_twist(R.normalize(rotations), frames)
        j_count = cn.NUM_JOINTS
        limited = np.zeros(j_count, dtype=bool)
        swing_h = np.full((j_count, directions), 2 * np.pi)
        centre, lo, hi = np.zeros(j_count), np.full(j_count, -np.pi), np.full(j_count, np.pi)
        for j in range(1, j_count):  # the root's rotation is the body's heading and lean: never limited
            m = mask[:, j]
            if moved[j] < min_frames:
                continue
            limited[j] = True
            swing_h[j] = np.percentile(swing[m, j] @ normals.T, percentile, axis=0)
            t = twist[m, j]
            centre[j] = np.arctan2(np.sin(t).mean(), np.cos(t).mean())
            rel = _wrap(t - centre[j])
            lo[j], hi[j] = np.percentile(rel, 100 - percentile), np.percentile(rel, percentile)
            s = still[:, j]
            if s.any():
                # A rotation a joint is held at for a whole clip is the retargeter's reference pose for
                # a source without that bone: always allowed, so the region grows to hold it.
                swing_h[j] = np.maximum(swing_h[j], (swing[s, j] @ normals.T).max(axis=0))
                rel_s = _wrap(twist[s, j] - centre[j])
                lo[j], hi[j] = min(lo[j], rel_s.min()), max(hi[j], rel_s.max())
        meta = {"percentile": f"{percentile:g}", "directions": str(directions), "frames": str(len(rotations))}
        meta.update(info or {})
        return cls(frames, limited, normals, swing_h, centre, lo, hi, meta)

    @classmethod
    def load(cls, path: str | Path | None = None) -> "JointLimits":
        """Read a limits file (default: the shipped ``presets/models/joint_limits.npz``); a file read before
        and unchanged since (size, modification time) is not read again (every clean-up loads the limits:
        7 ms of a 30-frame in-between's 68, 2026-12-07)."""
        path = Path(path) if path is not None else DEFAULT_PATH
        if not path.is_file():
            raise LMMError(f"joint limits file not found: {path}; fit one with `python benchmarks/joint_limits.py --fit`")
        st = path.stat()
        key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
        if key not in _LOADED:
            _LOADED[key] = cls._read(path)
        return _LOADED[key]

    @classmethod
    def _read(cls, path: Path) -> "JointLimits":
        try:
            with np.load(path, allow_pickle=False) as z:
                names = tuple(str(n) for n in z["names"])
                if names != cn.JOINT_NAMES:
                    raise LMMError(f"{path}: joint limits were fitted for other joints ({len(names)}); refit them")
                info = dict(zip((str(k) for k in z["info_keys"]), (str(v) for v in z["info_values"])))
                return cls(z["frames"], z["limited"].astype(bool), z["normals"], z["swing_h"],
                           z["twist_centre"], z["twist_lo"], z["twist_hi"], info)
        except (OSError, KeyError, ValueError, zipfile.BadZipFile) as e:
            raise LMMError(f"{path}: not a joint limits file ({e}); refit it or restore the shipped one") from None

    def save(self, path: str | Path) -> None:
        """Write the limits to ``path`` (``.npz``), through a temporary file so a failure leaves none."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_binary_writer(path) as f:
            np.savez_compressed(
                f, names=np.array(cn.JOINT_NAMES), frames=self.frames, limited=self.limited, normals=self.normals,
                swing_h=self.swing_h, twist_centre=self.twist_centre, twist_lo=self.twist_lo, twist_hi=self.twist_hi,
                info_keys=np.array(list(self.info.keys()), dtype=str), info_values=np.array(list(self.info.values()), dtype=str),
            )

    # ---- applying --------------------------------------------------------------------------------

    def clamp_rotations(self, q: np.ndarray, carry_torso: bool = False) -> np.ndarray:
        """Local rotations ``(..., 22, 4)`` moved into their limits; rotations already inside are kept exactly.

        Each joint on its own by default (what ``excess`` measures). ``carry_torso``: down the torso (spine1,
        spine2, spine3, neck) what a joint's clamp takes off is handed to its children, so the chest, neck and
        head keep their turn in the world and only the bend's share among the joints changes (``clamp``).
        Why: a retargeted rig can split one bend of the back unevenly, a joint far past its limit and the next
        turned back (the CMU takes on the Character Creator rig: spine2 -72 degrees, spine3 +43); clamped one by
        one, the first alone was undone and generated dances stooped 44 degrees forward instead of 13."""
        q = np.asarray(q, dtype=np.float64)
        flat = q.reshape(-1, cn.NUM_JOINTS, 4)
        out = flat.copy()
        carried = []
        if carry_torso:
            for j in (cn.JOINT_NAMES.index(n) for n in TORSO):
                new = self._clamped([j], out[:, [j]])[:, 0]
                moved = np.any(new != out[:, j], axis=-1)  # frames inside are kept bit for bit, children too
                delta = R.inv_mul(new[moved], out[moved, j])  # new * delta = what the joint held
                for child in np.flatnonzero(np.asarray(cn.PARENTS) == j):
                    out[moved, child] = R.mul(delta, out[moved, child])
                out[:, j] = new
                carried.append(j)
        rest = [j for j in np.flatnonzero(self.limited) if j not in carried]
        out[:, rest] = self._clamped(rest, out[:, rest])
        if carried:  # the input's quaternion signs, so that an unrolled sequence stays unrolled
            out = np.where(np.sum(out * flat, axis=-1, keepdims=True) < 0, -out, out)
        return out.reshape(q.shape)

    def _clamped(self, joints: list[int], q: np.ndarray) -> np.ndarray:
        """Local rotations ``q (N, len(joints), 4)`` of ``joints`` (limited ones) moved into their limits
        (minimal change in swing-twist coordinates); those inside kept exactly, the sign of each kept so clamped
        sequences stay continuous. The swing-twist split runs over all of them at once."""
        out = q.copy()
        swing, twist = swing_twist(q, self.frames[joints])
        for k, j in enumerate(joints):
            s = swing[:, k]
            rel = _wrap(twist[:, k] - self.twist_centre[j])
            tw = np.clip(rel, self.twist_lo[j], self.twist_hi[j])
            out_sw = np.any(s @ self.normals.T > self.swing_h[j] + _INSIDE_TOL, axis=1)
            out_tw = np.abs(tw - rel) > _INSIDE_TOL
            bad = out_sw | out_tw
            if not bad.any():
                continue
            s_new = s[bad].copy()
            if out_sw[bad].any():
                s_new[out_sw[bad]] = _nearest_on_polygon(s[bad][out_sw[bad]], self._polygon_of(j))
            new = from_swing_twist(s_new[:, None], (tw[bad] + self.twist_centre[j])[:, None],
                                   self.frames[j:j + 1])[:, 0]
            out[bad, k] = np.where(np.sum(new * q[bad, k], axis=-1, keepdims=True) < 0, -new, new)
        return out

    def widened(self, rotations: np.ndarray) -> "JointLimits":
        """These limits grown just enough to hold every rotation of ``rotations (..., 22, 4)``.

        Keys an animator set, or frames of a recording, are poses this character takes: a clamp tighter
        than them would pull the frames between two keys away from both. It matters most on rigs whose
        spine and neck the retargeter lays out unlike the training sources' (LAFAN1 subject 4, a key
        every 8 frames: the clamp alone moved the made frames 2.2 cm further from the capture).
        """
        q = np.asarray(rotations, dtype=np.float64).reshape(-1, cn.NUM_JOINTS, 4)
        if not len(q):
            return self
        swing, twist = swing_twist(R.normalize(q), self.frames)
        h = np.maximum(self.swing_h, np.einsum("njc,kc->njk", swing, self.normals).max(axis=0))
        centre, lo, hi = self.twist_centre.copy(), self.twist_lo.copy(), self.twist_hi.copy()
        for j in np.flatnonzero(self.limited):
            centre[j], lo[j], hi[j] = _widen_arc(centre[j], lo[j], hi[j], twist[:, j])
        keep = ~self.limited
        h[keep] = self.swing_h[keep]
        # The knees' hyperextension cap (``HYPEREXTENSION``) is applied again by the constructor: bending
        # backwards is not a convention of a rig, and a key past it is restored as given anyway.
        return JointLimits(self.frames, self.limited, self.normals, h, centre, lo, hi, dict(self.info))

    def excess(self, motion: Motion) -> np.ndarray:
        """How far each joint is past its limits, ``(T, 22)`` radians: the angle from its rotation to the
        clamped one (0 inside, and always 0 for the pelvis)."""
        require_canonical(motion, "joint limits")
        clamped = self.clamp_rotations(motion.rotations)
        return R.angle(R.inv_mul(motion.rotations, clamped))

    def violations(self, motion: Motion, tolerance: float = 0.0) -> np.ndarray:
        """``(T, 22)`` bool: joints more than ``tolerance`` radians past their limits."""
        return self.excess(motion) > max(tolerance, _INSIDE_TOL)

    def clamp(self, motion: Motion) -> Motion:
        """The motion with every joint rotation projected back inside its limits (minimal change in
        swing-twist coordinates); root path, fps, labels and translations unchanged."""
        require_canonical(motion, "joint limits")
        return replace(motion, rotations=self.clamp_rotations(motion.rotations, carry_torso=True),
                       labels=dict(motion.labels))

    # ---- Blender ---------------------------------------------------------------------------------

    def euler_limits(self, frames: np.ndarray | None = None, samples: int = 13,
                     margin: float = np.radians(0.5)) -> list[EulerLimit | None]:
        """Limit Rotation settings per joint (``None`` for the pelvis), the Euler box around each joint's region.

        Args:
            frames: ``(22, 4)`` the pose bones' rest axes seen from the joint frames (the add-on's
                ``E = C^T R_w B`` in ``bridge.write_action``); default: this model's bone frames, which
                are the axes ``bridge.create_armature`` gives a canonical rig.
            samples: points per polygon edge and across the twist interval when sampling the region.
            margin: radians added at both ends of each range, for what falls between the samples.

        The region (polygon interior and boundary times the twist interval) is sampled densely, each
        sample turned into Euler angles in the bone's frame, and the min/max per axis taken: so the box
        contains every rotation ``clamp`` accepts. Per joint the Euler order whose middle angle stays
        farthest from +-90 degrees (gimbal lock) over the region is chosen.
        """
        frames = self.frames if frames is None else np.asarray(frames, dtype=np.float64)
        if frames.shape != (cn.NUM_JOINTS, 4):
            raise LMMError(f"bone frames must be ({cn.NUM_JOINTS}, 4), got {frames.shape}")
        out: list[EulerLimit | None] = []
        u = np.linspace(0.0, 1.0, samples, endpoint=False)
        for j in range(cn.NUM_JOINTS):
            if not self.limited[j]:
                out.append(None)
                continue
            poly = self._polygon_of(j)
            edges = (poly[:, None] + u[None, :, None] * (np.roll(poly, -1, 0) - poly)[:, None]).reshape(-1, 2)
            centre = poly.mean(axis=0)
            pts = np.concatenate([centre + f * (edges - centre) for f in (0.0, 0.25, 0.5, 0.75, 1.0)])
            tw = self.twist_centre[j] + np.linspace(self.twist_lo[j], self.twist_hi[j], samples)
            sw = np.repeat(pts, len(tw), axis=0)
            tws = np.tile(tw, len(pts))
            q = from_swing_twist(sw[:, None], tws[:, None], self.frames[j:j + 1])[:, 0]
            qf = R.mul(R.conj(frames[j]), R.mul(q, frames[j]))  # the rotation in the pose bone's axes
            best: tuple[float, str, np.ndarray] | None = None
            for candidate in R.EULER_ORDERS:
                angles = R.to_euler(qf, candidate)
                room = float(np.pi / 2 - np.abs(angles[:, 1]).max())  # distance from gimbal lock
                if best is None or room > best[0]:
                    best = (room, candidate, angles)
            assert best is not None
            _, order, e = best
            lo, hi, use = np.zeros(3), np.zeros(3), [True] * 3
            for col, axis in enumerate(order):
                i = "xyz".index(axis)
                a = np.sort(e[:, col])
                gaps = np.diff(a)
                if a[-1] - a[0] > np.radians(300):
                    # Nearly the whole circle: a constraint would hardly limit anything, and sampling
                    # cannot pin down edges this close to +-180 degrees. Leave the axis free.
                    use[i], lo[i], hi[i] = False, -np.pi, np.pi
                elif a[0] + 2 * np.pi - a[-1] >= gaps.max(initial=0.0):
                    # The widest empty stretch of the circle holds +-180 degrees: a plain min/max range.
                    lo[i], hi[i] = a[0] - margin, a[-1] + margin
                else:
                    # The range runs through +-180 degrees, which a min/max pair in (-180, 180] cannot
                    # say: leave the axis free rather than forbid the range's middle.
                    use[i], lo[i], hi[i] = False, -np.pi, np.pi
            if not all(use):
                # One axis is free: the region reaches round the circle, and the box that samples give
                # the other axes cannot be trusted to hold it either. No constraint on this bone.
                use = [False, False, False]
            # Intrinsic "zxy" (Rz Rx Ry, Y applied first) is Blender's extrinsic "YXZ".
            out.append(EulerLimit(cn.JOINT_NAMES[j], order[::-1].upper(), (float(lo[0]), float(lo[1]), float(lo[2])),
                                  (float(hi[0]), float(hi[1]), float(hi[2])), (use[0], use[1], use[2])))
        return out
