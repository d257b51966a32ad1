"""Goals for generation, as the root keys the network is conditioned on: walk to a point (a position and
facing at a frame), follow a root path (numpy).

The network was trained with windows that fix only the pelvis (its position and rotation, joint group 0)
at some frames (``train.data.task_masks``: one root key 30-120 frames on, or root keys every 8-30 frames),
so a goal is a few such keys and the network makes the steps that get there. Positions are metres in the
canonical world (Y up, the ground the XZ plane); facings are degrees about +Y, 0 facing +Z (the
canonical body's forward) and 90 facing +X.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import rotations as R
from ..errors import LMMError

# Longest stretch between two root keys: a goal farther than this gets keys on the way, so every window
# of ``Model.complete`` (64 new frames) holds one, as training windows did (keys 8-120 frames apart).
MAX_SPACING = 45
# Frames between the keys of a followed path (training spaced them 8-30).
PATH_SPACING = 10
_UP = np.array([0.0, 1.0, 0.0])


@dataclass(frozen=True)
class RootKeys:
    """Pelvis keys: ``frames (K,)`` int (counted from the first frame they steer), ``rotations (K, 4)``
    world pelvis rotations, ``positions (K, 3)`` metres."""

    frames: np.ndarray
    rotations: np.ndarray
    positions: np.ndarray

    def shifted(self, by: int) -> "RootKeys":
        """The same keys counted from ``by`` frames later (keys before that are dropped)."""
        keep = self.frames - by >= 0
        return RootKeys(self.frames[keep] - by, self.rotations[keep], self.positions[keep])


def heading(pelvis: np.ndarray, forward: np.ndarray) -> np.ndarray:
    """Facing in degrees (0: +Z, 90: +X) of pelvis rotations ``(..., 4)`` whose own forward axis is
    ``forward (3,)``."""
    f = R.mul_vec(pelvis, np.broadcast_to(forward, np.shape(pelvis)[:-1] + (3,)))
    return np.degrees(np.arctan2(f[..., 0], f[..., 2]))


def facing(pelvis: np.ndarray, forward: np.ndarray, degrees: np.ndarray) -> np.ndarray:
    """Pelvis rotations ``(..., 4)`` turned about +Y to face ``degrees`` (their lean and tilt kept)."""
    turn = np.radians(np.asarray(degrees, dtype=np.float64) - heading(pelvis, forward))
    return R.mul(R.from_axis_angle(np.broadcast_to(_UP, np.shape(turn) + (3,)), turn), pelvis)


def toward(pelvis: np.ndarray, root: np.ndarray, forward: np.ndarray, to_xz: tuple[float, float], at: int,
           face: float | None = None, spacing: int = MAX_SPACING) -> RootKeys:
    """Keys that walk the pelvis from ``root (3,)`` (rotation ``pelvis (4,)``) to ground point ``to_xz`` at
    frame ``at`` (counted from the first frame after the start, at least 1), facing ``face`` degrees there
    (default: the way it travels, or its start facing if it does not move).

    On the way (goals farther than ``spacing`` frames, ``MAX_SPACING`` for the window network) keys fall
    evenly along the straight line, facing the way it travels: the network gets the destination a window at
    a time. The pelvis keeps its start height."""
    if at < 1:
        raise LMMError(f"--at must be after the first frame (at least one frame from the start), got frame {at}")
    target = np.array([to_xz[0], root[1], to_xz[1]], dtype=np.float64)
    travel = target - root
    start_facing = float(heading(pelvis, forward))
    moving = float(np.hypot(travel[0], travel[2])) > 0.05
    along = float(np.degrees(np.arctan2(travel[0], travel[2]))) if moving else start_facing
    end_facing = along if face is None else float(face)
    count = int(np.ceil(at / spacing))
    frames = np.round(np.arange(1, count + 1) * at / count).astype(int)
    share = (frames / at)[:, None]
    positions = root + share * travel
    degrees = np.full(count, along)
    degrees[-1] = end_facing
    rotations = facing(np.broadcast_to(pelvis, (count, 4)), forward, degrees)
    return RootKeys(frames - 1, rotations, positions)


def along_path(pelvis: np.ndarray, root: np.ndarray, forward: np.ndarray, path: np.ndarray,
               spacing: int = PATH_SPACING) -> RootKeys:
    """Keys every ``spacing`` frames along ``path (N, 2)``: ground points (x, z, metres) per frame, ``path[0]``
    now and ``path[i]`` ``i`` frames later, shifted so that it starts where the pelvis stands (``root (3,)``);
    the pelvis faces the way the path goes (its start facing while the path stands still)."""
    path = np.asarray(path, dtype=np.float64)
    if path.ndim != 2 or path.shape[1] != 2 or len(path) < 2:
        raise LMMError(f"a root path needs at least 2 points of (x, z), got an array of shape {path.shape}")
    if not np.isfinite(path).all():
        raise LMMError("the root path holds a value that is not a number (nan or inf); fix the file")
    ground = path - path[0] + root[[0, 2]]
    # ``path[0]`` is where the pelvis stands now: ``path[i]`` is ``i`` frames later (new frame ``i - 1``).
    frames = np.arange(spacing, len(path), spacing)
    if len(frames) == 0 or frames[-1] != len(path) - 1:
        frames = np.append(frames, len(path) - 1).astype(int)
    step = np.gradient(ground, axis=0)
    degrees = np.degrees(np.arctan2(step[:, 0], step[:, 1]))
    still = np.hypot(step[:, 0], step[:, 1]) < 1e-3  # under 3 cm/s at 30 fps: keep the last facing
    current = float(heading(pelvis, forward))
    for i in range(len(degrees)):
        current = current if still[i] else float(degrees[i])
        degrees[i] = current
    positions = np.column_stack([ground[frames, 0], np.full(len(frames), root[1]), ground[frames, 1]])
    rotations = facing(np.broadcast_to(pelvis, (len(frames), 4)), forward, degrees[frames])
    return RootKeys(frames - 1, rotations, positions)


def read_path_csv(path: Path, fps: float) -> np.ndarray:
    """``(N, 2)`` ground points per frame at ``fps`` from a CSV of ``time,x,z`` rows (seconds, metres; a
    header row is allowed), linearly resampled."""
    from ..io.atomic import read_text  # noqa: PLC0415 (io is above the model package)

    text = read_text(path, "root path (a CSV of time,x,z rows)")
    rows = [r for r in csv.reader(text.splitlines()) if r and any(c.strip() for c in r)]
    try:
        float(rows[0][0])
    except (IndexError, ValueError):
        rows = rows[1:]  # a header
    try:
        data = np.array([[float(c) for c in r[:3]] for r in rows], dtype=np.float64)
    except ValueError as e:
        raise LMMError(f"{path}: every row of a root path is time,x,z in seconds and metres ({e})") from None
    if data.ndim != 2 or data.shape[1] != 3 or len(data) < 2:
        raise LMMError(f"{path}: a root path needs at least 2 rows of time,x,z (seconds, metres)")
    if not np.isfinite(data).all():
        raise LMMError(f"{path}: a value is not a number (nan or inf)")
    t = data[:, 0] - data[0, 0]
    if np.any(np.diff(t) <= 0):
        raise LMMError(f"{path}: times must increase from row to row")
    frames = np.arange(0.0, t[-1] + 1e-9, 1.0 / fps)
    return np.column_stack([np.interp(frames, t, data[:, 1]), np.interp(frames, t, data[:, 2])])


# Limbs a reach moves: the end joint, the two joints the leg's or arm's IK turns, and the joints above
# them that the key also holds (so the network cannot move the shoulder the hand hangs from).
REACH_CHAINS: dict[str, tuple[tuple[int, int, int], tuple[int, ...]]] = {
    "left_wrist": ((16, 18, 20), (3, 6, 9, 13)),
    "right_wrist": ((17, 19, 21), (3, 6, 9, 14)),
    "left_ankle": ((1, 4, 7), ()),
    "right_ankle": ((2, 5, 8), ()),
}
# How far either side of a reach the frames are made again around its key, frames.
REACH_SPAN = 20


def reach_key(rotations: np.ndarray, root: np.ndarray, offsets: np.ndarray, parents: tuple[int, ...],
              joint: str, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One frame's pose with ``joint`` (a key of ``REACH_CHAINS``) moved to ``target (3,)`` (metres, world)
    by two-bone IK on its limb: ``rotations (22, 4)`` local and ``groups (22,)`` bool, the joints the key
    fixes (the pelvis, the limb and what it hangs from). A target out of reach is reached towards."""
    from ..ik import two_bone  # noqa: PLC0415 (ik is used only here in the model package)
    from ..kinematics import fk  # noqa: PLC0415

    if joint not in REACH_CHAINS:
        raise LMMError(f"cannot reach with {joint!r}; reach with one of {', '.join(REACH_CHAINS)}")
    target = np.asarray(target, dtype=np.float64)
    if target.shape != (3,) or not np.isfinite(target).all():
        raise LMMError(f"a reach target is three finite numbers X,Y,Z in metres, got {target!r}")
    (a, b, c), above = REACH_CHAINS[joint]
    rot = np.array(rotations, dtype=np.float64)
    local = np.array(offsets, dtype=np.float64)
    local[0] = root
    g_rot, g_pos = fk(rot[None], local[None], np.array(parents))
    qa, qb = two_bone(g_pos[:, a], g_pos[:, b], g_pos[:, c], target[None])
    ga = R.mul(qa, g_rot[:, a])
    gb = R.mul(R.mul(qa, qb), g_rot[:, b])
    rot[a] = R.mul(R.conj(g_rot[0, parents[a]]), ga[0])
    rot[b] = R.mul(R.conj(ga[0]), gb[0])
    groups = np.zeros(len(parents), dtype=bool)
    groups[[0, a, b, *above]] = True
    return rot, groups
