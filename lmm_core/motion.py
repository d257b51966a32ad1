"""``Motion``: the one representation of movement that flows through the project.

A motion is a skeleton, per-frame local joint rotations, the root's path and a frame rate. Converters
(BVH, SMPL/AMASS, Blender) live at the edges and produce or consume this type.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from . import kinematics
from . import rotations as R
from .errors import LMMError
from .skeleton import Skeleton


@dataclass(eq=False)
class Motion:
    """Animated skeleton.

    Attributes:
        skeleton: the joint tree and rest pose.
        rotations: ``(T, J, 4)`` unit quaternions ``(w, x, y, z)``, each joint relative to its parent.
        root_positions: ``(T, 3)`` world position of the root joint, in ``skeleton.units``.
        fps: frames per second (> 0).
        labels: free-form tags, e.g. ``{"action": "walk", "style": "tired"}``.
        translations: optional ``(T, J, 3)`` local joint translations for sources that animate them on
            non-root joints (Bandai puts position channels on every joint). ``None`` means every
            non-root joint sits at its rest offset. Where given, its root column is ignored in favour
            of ``root_positions``.
    """

    skeleton: Skeleton
    rotations: np.ndarray
    root_positions: np.ndarray
    fps: float
    labels: dict[str, str] = field(default_factory=dict)
    translations: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.rotations = np.asarray(self.rotations, dtype=np.float64)
        self.root_positions = np.asarray(self.root_positions, dtype=np.float64)
        j = self.skeleton.num_joints
        if self.rotations.ndim != 3 or self.rotations.shape[1:] != (j, 4):
            raise LMMError(f"rotations must be (T, {j}, 4), got {self.rotations.shape}")
        t = self.rotations.shape[0]
        if t == 0:
            raise LMMError("a motion needs at least one frame")
        if self.root_positions.shape != (t, 3):
            raise LMMError(f"root_positions must be ({t}, 3), got {self.root_positions.shape}")
        if self.translations is not None:
            self.translations = np.asarray(self.translations, dtype=np.float64)
            if self.translations.shape != (t, j, 3):
                raise LMMError(f"translations must be ({t}, {j}, 3), got {self.translations.shape}")
        if not (np.isfinite(self.fps) and self.fps > 0):
            raise LMMError(f"fps must be a positive number, got {self.fps}")
        self.fps = float(self.fps)

    @property
    def num_frames(self) -> int:
        return self.rotations.shape[0]

    @property
    def duration(self) -> float:
        """Seconds from the first frame to one frame past the last, ``T / fps``."""
        return self.num_frames / self.fps

    def local_positions(self) -> np.ndarray:
        """Local joint translations ``(T, J, 3)``: rest offsets (or animated ones), root from ``root_positions``."""
        if self.translations is not None:
            local = self.translations.copy()
        else:
            local = np.broadcast_to(self.skeleton.offsets, (self.num_frames,) + self.skeleton.offsets.shape).copy()
        local[:, 0] = self.root_positions
        return local

    def fk(self) -> tuple[np.ndarray, np.ndarray]:
        """Global rotations ``(T, J, 4)`` and positions ``(T, J, 3)`` in the world frame."""
        return kinematics.fk(self.rotations, self.local_positions(), self.skeleton.parents)

    def global_positions(self, end_sites: bool = False) -> np.ndarray:
        """World joint positions ``(T, J, 3)``; with ``end_sites``, ``(T, J + E, 3)`` with tips appended."""
        g_rot, g_pos = self.fk()
        if end_sites and self.skeleton.end_sites:
            tips = kinematics.end_site_positions(g_rot, g_pos, self.skeleton.end_sites)
            return np.concatenate([g_pos, tips], axis=1)
        return g_pos

    def height(self) -> float:
        """Standing height in ``skeleton.units``: the median over frames of the vertical extent of all
        joints and end sites. Rest poses are no guide (LAFAN1 and Bandai rest with bones along X), and
        the median ignores frames where the arms are raised or the body is on the ground."""
        up = self.global_positions(end_sites=True)[..., self.skeleton.up_index]
        return float(np.median(up.max(axis=1) - up.min(axis=1)))

    def scaled(self, factor: float, units: str | None = None) -> "Motion":
        """Every length times ``factor``; rotations unchanged."""
        return replace(
            self,
            skeleton=self.skeleton.scaled(factor, units),
            root_positions=self.root_positions * factor,
            translations=None if self.translations is None else self.translations * factor,
            labels=dict(self.labels),
        )

    def slice(self, start: int, stop: int | None = None) -> "Motion":
        """Frames ``start:stop`` as a new motion."""
        s = slice(start, stop)
        return replace(
            self,
            rotations=self.rotations[s].copy(),
            root_positions=self.root_positions[s].copy(),
            translations=None if self.translations is None else self.translations[s].copy(),
            labels=dict(self.labels),
        )

    def rest_from(self, frame: int) -> "Motion":
        """The same movement on a skeleton whose rest pose is frame ``frame``'s body pose (``with_rest``).

        Args:
            frame: ``0 <= frame < T``; its joints' turns relative to the root become the rest. The root keeps
                its own rest orientation, so a rig whose root bone converts axes (Character Creator's
                ``RL_BoneRoot``: Z up to Y up) rests lying along that root's axes (binding still works: each
                bone's reference comes from where it points).

        Raises:
            LMMError: ``frame`` is outside the motion.
        """
        return self.with_rest(self.pose_turns(frame))

    def pose_turns(self, frame: int) -> np.ndarray:
        """``(J, 4)`` each joint's world turn on ``frame`` relative to the root's (the root's own: identity): the
        turns ``with_rest`` takes to make that frame's body pose the rest.

        Raises:
            LMMError: ``frame`` is outside the motion.
        """
        if not 0 <= frame < self.num_frames:
            raise LMMError(f"frame {frame} is outside the motion's frames 0-{self.num_frames - 1}")
        g, _ = self.slice(frame, frame + 1).fk()
        return R.mul(R.conj(g[0, :1]), g[0])

    def with_rest(self, turns: np.ndarray) -> "Motion":
        """The same movement on a skeleton re-posed into another rest pose.

        Args:
            turns: ``(J, 4)`` each joint's turn in the new rest pose relative to the old rest, in the old
                rest's world (the root's own entry identity to keep its rest orientation).

        Every joint's world position is unchanged on every frame, and its world turn changes by the same
        constant ``G0[j]^-1`` on every frame (its new rest frame); the offsets (and the animated translations,
        end sites) are re-expressed in the new rest frames, and each local rotation becomes relative to them:
        ``q'_j = G0[parent] q_j G0[j]^-1`` (the root's path unchanged).

        Raises:
            LMMError: ``turns`` is not ``(J, 4)``, or holds a non-finite or zero quaternion (named by joint).

        Why: a BVH exported with a zero rest pose (Character Creator's, offsets in each bone's own frame:
        its legs and arms point up) says nothing about how the body stands, and binding it to the
        canonical body swings each leg half a turn, which leaves its twist to chance (29 degrees in the
        CMU takes on Character Creator's rig). Re-posed into the rig's T-pose, the legs point down.
        """
        sk = self.skeleton
        g0 = np.asarray(turns, dtype=np.float64)
        if g0.shape != (sk.num_joints, 4):
            raise LMMError(f"a rest pose needs one turn per joint, ({sk.num_joints}, 4); got {g0.shape}")
        bad = ~np.isfinite(g0).all(axis=1) | (np.linalg.norm(np.nan_to_num(g0), axis=1) < 1e-6)
        if bad.any():
            raise LMMError(f"the rest pose's turn of {', '.join(sk.names[j] for j in np.flatnonzero(bad))} is not a "
                           "rotation (a zero or non-finite quaternion); give unit quaternions (w, x, y, z)")
        g0 = R.normalize(g0)
        par = sk.parents
        has_parent = par >= 0
        # The parent's turn carries a vector from the old rest frame into the new one.
        parent_turn = np.where(has_parent[:, None], g0[np.maximum(par, 0)], R.identity()[None])  # root: identity
        rotations = R.mul(R.mul(parent_turn[None], self.rotations), R.conj(g0)[None])
        offsets = R.mul_vec(parent_turn, sk.offsets)
        end_sites = {j: R.mul_vec(g0[j], v) for j, v in sk.end_sites.items()}
        translations = None if self.translations is None else R.mul_vec(parent_turn[None], self.translations)
        return replace(self, skeleton=replace(sk, offsets=offsets, end_sites=end_sites), rotations=R.normalize(rotations),
                       translations=translations, labels=dict(self.labels))

    def resampled(self, fps: float) -> "Motion":
        """The motion at another frame rate: rotations by slerp, positions by linear interpolation.

        The first frame is kept; the new frames sample the same time span, so a 4 s clip stays 4 s
        (to within one new frame).
        """
        if not (np.isfinite(fps) and fps > 0):
            raise LMMError(f"fps must be a positive number, got {fps}")
        t_old = self.num_frames
        n_new = int(np.floor((t_old - 1) * fps / self.fps + 1e-9)) + 1
        src = np.arange(n_new) * (self.fps / fps)
        i0 = np.clip(np.floor(src).astype(int), 0, t_old - 1)
        i1 = np.minimum(i0 + 1, t_old - 1)
        w = src - i0
        rot = R.unroll(self.rotations)
        rotations = R.slerp(rot[i0], rot[i1], np.broadcast_to(w[:, None], rot[i0].shape[:-1]))

        def lerp(x: np.ndarray) -> np.ndarray:
            ww = w.reshape((-1,) + (1,) * (x.ndim - 1))
            return x[i0] * (1 - ww) + x[i1] * ww

        return replace(
            self,
            rotations=rotations,
            root_positions=lerp(self.root_positions),
            translations=None if self.translations is None else lerp(self.translations),
            fps=float(fps),
            labels=dict(self.labels),
        )
