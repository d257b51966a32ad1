"""Mirroring a motion across the character's own sagittal plane, for any skeleton with left/right pairs.

The mirror of a pose puts each joint where its partner's reflection is: with ``M`` the reflection
across a vertical plane through the character and ``sigma`` the left/right swap,

    P'_j = c + M (P_sigma(j) - c)            (global joint positions)
    G'_j = M G_sigma(j) K_j                  (global joint rotations, 3x3)

``K_j`` is the joint's *mirror frame*: the improper (det -1) orthogonal matrix, constant in time, that
relates the local axes of joint ``j`` to those of its partner when the body is symmetric. Rigs whose
rest pose is a symmetric pose with world-aligned joint frames (the canonical body, SMPL, LAFAN1, CMU,
ReActIdle) have ``K_j = M0``, the reflection of the rest pose, for every joint. Rigs built with
mirrored bone axes (Bandai: bones along +X on the left and -X on the right, with rolls) need one ``K``
per joint; ``mirror_frames`` works them out from the rest offsets and, where offsets leave a bone's
roll open, from the motion itself.

Local rotations and offsets follow from the two formulas above:

    L'_j = K_p^T L_sigma(j) K_j               (p = parent of j)
    o'_j = K_sigma(p) o_sigma(j)              (rest offsets; likewise animated translations)

so mirrored positions are exact for any ``K``, and the mirrored skeleton equals the input skeleton
when the rig is symmetric (up to the rig's own left/right differences, which travel with the sides).
Mirroring twice gives back the input because ``K_sigma(j) K_j = I``.
"""
from __future__ import annotations

import itertools
import re
from dataclasses import replace
from typing import Sequence

import numpy as np

from . import rotations as R
from .errors import LMMError
from .motion import Motion
from .skeleton import Skeleton

__all__ = [
    "mirror", "mirror_on_rig", "mirror_frames", "lateral_axis", "partner_indices", "mirror_label", "mirror_labels",
]

PairsArg = Sequence[tuple[int | str, int | str]] | None

# A rest pose counts as mirror-symmetric when every joint lies within this fraction of the rest pose's
# size from its partner's reflection (CMU's rig is off by 4 %, Bandai's bones-along-X rest by 160 %).
_REST_SYMMETRY_TOL = 0.06
# A rest symmetry plane this close to an axis plane (about 3 degrees) is taken as that plane: rigs are
# built axis-aligned, and small left/right differences in bone lengths should not tilt the mirror.
_AXIS_SNAP_COS = 0.9986
# A candidate mirror frame must map each child offset to the partner's within this fraction of its
# length (about 20 degrees).
_OFFSET_TOL = 0.35
_OFFSET_SLACK = 0.05
# Frames vote on a joint's mirror frame only where its limb is posed symmetrically (bone directions of
# it and its ancestors within this angle of their partners' mirror images): a raised left hand says
# nothing about how the two arms' axes relate.
_SYMMETRIC_POSE_RAD = np.radians(25.0)
_MIN_VOTERS = 3
# Deeper pair levels only break ties when the top-level pairs coincide (CMU's zero-length hip joints).
_LEVEL_WEIGHT = 1e-3


# --- pairs -------------------------------------------------------------------------------------------


def partner_indices(skeleton: Skeleton, pairs: PairsArg = None) -> np.ndarray:
    """The left/right swap ``sigma`` as ``(J,)`` joint indices (unpaired joints map to themselves).

    ``pairs`` are ``(left, right)`` joint indices or names; ``None`` uses ``skeleton.pairs``. Pairs the
    tree implies are added: when ``LFingers``/``RFingers`` are a pair, their parents ``lhand``/``rhand``
    must be one too, whatever their names. Raises ``LMMError`` when there are no pairs, a joint is in
    two pairs, the root is paired, or the pairs disagree with the tree.
    """
    return _partners(skeleton, pairs)[0]


def _partners(skeleton: Skeleton, pairs: PairsArg) -> tuple[np.ndarray, np.ndarray]:
    """``partner_indices`` and a ``(J,)`` bool mask of the left members of the pairs."""
    names = skeleton.names
    raw = skeleton.pairs if pairs is None else pairs
    if not raw:
        raise LMMError(
            "cannot mirror: the skeleton has no left/right joint pairs (joints named with Left/Right, "
            ".L/.R, _l/_r, ...); rename the joints or pass pairs=[(left, right), ...]"
        )
    j_count = skeleton.num_joints
    sigma = np.arange(j_count)
    is_left = np.zeros(j_count, dtype=bool)

    def resolve(x: int | str) -> int:
        i = skeleton.index(x) if isinstance(x, str) else int(x)
        if not 0 <= i < j_count:
            raise LMMError(f"pair joint index {i} is out of range for a skeleton of {j_count} joints")
        return i

    def link(a: int, b: int) -> None:
        if a == b:
            raise LMMError(f"joint {names[a]!r} is paired with itself; a pair needs two joints")
        for i in (a, b):
            if sigma[i] != i:
                raise LMMError(f"joint {names[i]!r} is in two left/right pairs; give each joint one partner")
        sigma[a], sigma[b] = b, a

    for left, right in raw:
        a = resolve(left)
        link(a, resolve(right))
        is_left[a] = True
    parents = skeleton.parents
    # A pair whose parents are two different unpaired joints makes those parents a pair (CMU's
    # lhand/rhand above LFingers/RFingers); repeat until nothing changes, for chains of such joints.
    changed = True
    while changed:
        changed = False
        for j in range(1, j_count):
            k = sigma[j]
            pj, pk = parents[j], parents[k]
            if k != j and pj != pk and sigma[pj] == pj and sigma[pk] == pk and pj > 0 and pk > 0:
                link(int(pj), int(pk))
                is_left[pj if is_left[j] else pk] = True
                changed = True
    if sigma[0] != 0:
        raise LMMError(f"the root joint {names[0]!r} cannot have a left/right partner")
    for j in range(1, j_count):
        if parents[sigma[j]] != sigma[parents[j]]:
            raise LMMError(
                f"left/right pairs disagree with the tree: {names[j]!r} (child of {names[parents[j]]!r}) is "
                f"paired with {names[sigma[j]]!r} (child of {names[parents[sigma[j]]]!r}); pair joints whose "
                "parents are partners, or the same joint"
            )
    return sigma, is_left


def _pair_levels(sigma: np.ndarray, parents: np.ndarray) -> list[np.ndarray]:
    """Left joints of the pairs grouped by how many paired ancestors they have: ``[(P0,), (P1,), ...]``.

    Level 0 holds the pairs closest to the trunk (hips, shoulders or collars), the steadiest witnesses
    of where the character's left is.
    """
    depth = {}
    levels: dict[int, list[int]] = {}
    for j in range(len(sigma)):
        p = parents[j]
        depth[j] = 0 if p < 0 else depth[p] + (1 if sigma[p] != p else 0)
        if sigma[j] > j:  # count each pair once; which member comes first does not matter
            levels.setdefault(depth[j], []).append(j)
    return [np.array(levels[k]) for k in sorted(levels)]


def _side_vectors(positions: np.ndarray, sigma: np.ndarray, is_left: np.ndarray, parents: np.ndarray) -> np.ndarray:
    """Right-to-left vectors ``(..., 3)``: left minus right positions summed over pairs, trunk pairs first.

    ``positions`` is ``(..., J, 3)``; ``is_left`` ``(J,)`` marks the left member of each pair (the
    first of ``(left, right)``), so the result points to the character's left.
    """
    out = np.zeros(positions.shape[:-2] + (3,))
    for k, firsts in enumerate(_pair_levels(sigma, parents)):
        lefts = np.where(is_left[firsts], firsts, sigma[firsts])
        d = positions[..., lefts, :] - positions[..., sigma[lefts], :]
        out = out + _LEVEL_WEIGHT**k * d.sum(axis=-2)
    return out


# --- the mirror plane --------------------------------------------------------------------------------


def _up_vector(skeleton: Skeleton) -> np.ndarray:
    up = np.zeros(3)
    up[skeleton.up_index] = 1.0
    return up


def lateral_axis(motion: Motion, pairs: PairsArg = None) -> np.ndarray:
    """The character's left direction ``(3,)``, a horizontal unit vector in world coordinates.

    Taken from the left-minus-right positions of the pairs nearest the trunk, projected onto the
    ground plane, in the first frame where the character is upright enough for that to mean something
    (its left-right line at least 30 degrees from vertical), else in the most upright frame.
    """
    sigma, is_left = _partners(motion.skeleton, pairs)
    _, g_pos = motion.fk()
    return _lateral_from_positions(g_pos, sigma, is_left, motion.skeleton)[0]


def _lateral_from_positions(
    g_pos: np.ndarray, sigma: np.ndarray, is_left: np.ndarray, skeleton: Skeleton
) -> tuple[np.ndarray, int]:
    """``lateral_axis`` from world positions ``(T, J, 3)``, and the frame it was taken from."""
    d = _side_vectors(g_pos, sigma, is_left, skeleton.parents)  # (T, 3)
    up = _up_vector(skeleton)
    horizontal = d - (d @ up)[:, None] * up
    h_norm = np.linalg.norm(horizontal, axis=-1)
    full = np.linalg.norm(d, axis=-1)
    ratio = np.where(full > 0, h_norm / np.where(full > 0, full, 1.0), 0.0)
    upright = np.nonzero(ratio >= 0.5)[0]
    t = int(upright[0]) if len(upright) else int(np.argmax(ratio))
    if h_norm[t] <= 1e-9 * max(float(np.abs(g_pos[t]).max()), 1.0):
        raise LMMError(
            "cannot work out the character's left-right axis: its left and right joints coincide or line "
            "up vertically; pass axis= (the direction of the character's left)"
        )
    return horizontal[t] / h_norm[t], t


def _reflection(normal: np.ndarray) -> np.ndarray:
    return np.eye(3) - 2.0 * np.outer(normal, normal)


# --- mirror frames -----------------------------------------------------------------------------------


def _improper_signed_permutations() -> np.ndarray:
    """The 24 axis-aligned reflections and roto-reflections, ``(24, 3, 3)``."""
    out = []
    for perm in itertools.permutations(range(3)):
        for signs in itertools.product((1.0, -1.0), repeat=3):
            m = np.zeros((3, 3))
            m[range(3), perm] = signs
            if np.linalg.det(m) < 0:
                out.append(m)
    # Preference where the data cannot decide (see _vote): -I, then the diagonal ones, then the rest.
    out.sort(key=lambda m: (not np.array_equal(m, -np.eye(3)), np.count_nonzero(m - np.diag(np.diag(m)))))
    return np.array(out)


_CANDIDATES = _improper_signed_permutations()
# For an unpaired joint (spine, head) the mirror is a reflection of itself: a plane reflection, which
# the preference puts before -I.
_INVOLUTIONS = np.array(
    sorted((c for c in _CANDIDATES if np.allclose(c @ c, np.eye(3))), key=lambda c: np.array_equal(c, -np.eye(3)))
)


def _nearest_improper(a: np.ndarray) -> np.ndarray:
    """Nearest orthogonal matrix with determinant -1 to ``a (3, 3)`` (Procrustes)."""
    u, _, vt = np.linalg.svd(a)
    d = np.ones(3)
    if np.linalg.det(u @ vt) > 0:
        d[-1] = -1.0
    return (u * d) @ vt


def _nearest_reflection(a: np.ndarray) -> np.ndarray:
    """Reflection across a plane, ``(3, 3)``, nearest to ``a``: normal along its most negative direction."""
    _, v = np.linalg.eigh(0.5 * (a + a.T))
    return _reflection(v[:, 0])


def _child_vectors(skeleton: Skeleton, sigma: np.ndarray, j: int) -> tuple[np.ndarray, np.ndarray]:
    """Rest vectors that joint ``j``'s mirror frame must carry onto its partner's: ``(N, 3)`` each.

    Children's offsets (and the end site) in ``j``'s frame, paired with the partner's.
    """
    src, dst = [], []
    for c in skeleton.children(j):
        src.append(skeleton.offsets[c])
        dst.append(skeleton.offsets[sigma[c]])
    k = int(sigma[j])
    if j in skeleton.end_sites and k in skeleton.end_sites:
        src.append(skeleton.end_sites[j])
        dst.append(skeleton.end_sites[k])
    return np.array(src).reshape(-1, 3), np.array(dst).reshape(-1, 3)


def _fits_offsets(cands: np.ndarray, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Which candidates ``(C, 3, 3)`` carry the nonzero ``src`` vectors onto ``dst``: ``(C,)`` bool.

    Errors are relative to each vector's length; a candidate must be within ``_OFFSET_TOL`` and not
    clearly worse than the best (Bandai's spine leans 2.6 degrees, enough to tell its lateral axis).
    """
    size = np.maximum(np.linalg.norm(src, axis=-1), np.linalg.norm(dst, axis=-1))
    keep = size > 1e-9 * max(float(size.max(initial=0.0)), 1e-12)
    if not np.any(keep):
        return np.ones(len(cands), dtype=bool)
    mapped = np.einsum("cij,nj->cni", cands, src[keep])
    err = (np.linalg.norm(mapped - dst[keep], axis=-1) / size[keep]).max(axis=-1)
    return err <= min(_OFFSET_TOL, err.min() + _OFFSET_SLACK)


def _voters(asymmetry: np.ndarray) -> np.ndarray:
    """``(T,)`` bool: the frames symmetric enough to vote, or the most symmetric tenth when none is."""
    voters = asymmetry <= _SYMMETRIC_POSE_RAD
    return voters if np.any(voters) else asymmetry <= np.quantile(asymmetry, 0.1)


def _vote(cands: np.ndarray, estimates: np.ndarray, asymmetry: np.ndarray) -> np.ndarray:
    """The candidate ``(3, 3)`` that is nearest to the most per-frame estimates ``(T, 3, 3)``.

    Only frames whose ``asymmetry (T,)`` (radians) is small vote. Voting, rather than averaging, keeps
    the asymmetric frames that remain from tilting the answer; ties go to the candidate nearest the
    estimates on the whole. A take without such frames (legs crossed throughout) says nothing, so
    the first candidate in ``_CANDIDATES`` order wins: -I, the usual relation of mirrored limbs whose
    bones run along their own axis (Bandai; Maya's "behavior" mirroring), then the axis reflections.
    """
    voters = asymmetry <= _SYMMETRIC_POSE_RAD
    if voters.sum() < _MIN_VOTERS:
        return cands[0]
    scores = np.einsum("cij,tij->tc", cands, estimates[voters])  # trace(C^T A): larger is nearer
    votes = np.bincount(np.argmax(scores, axis=1), minlength=len(cands))
    best = np.lexsort((scores.sum(axis=0), votes))[-1]
    return cands[best]


def _is_ground_root(motion: Motion, sigma: np.ndarray) -> bool:
    """A root that never rotates and carries no paired joint (Bandai's ``joint_Root``, a UE5 ``root``).

    Such a root is a world-fixed frame rather than part of the body, so mirroring must keep it as it is.
    """
    q = motion.rotations[:, 0]
    if np.any(R.angle(R.inv_mul(q[:1], q)) > 1e-9):
        return False
    return all(sigma[c] == c for c in motion.skeleton.children(0))


def mirror_frames(motion: Motion, pairs: PairsArg = None, axis: np.ndarray | None = None) -> np.ndarray:
    """Per-joint mirror frames ``K (J, 3, 3)``, orthogonal with determinant -1, in each joint's local frame.

    ``K_j`` maps vectors in joint ``j``'s frame to its partner's frame as the mirror sees them
    (``G'_j = M G_sigma(j) K_j``). Found, in order of preference:

    1. A rest pose that is itself mirror-symmetric (T-pose and A-pose rigs, LAFAN1's rest with bones
       along X): ``K_j = M0``, the reflection of the rest pose, for every joint. Depends on the
       skeleton only.
    2. Otherwise (Bandai), per joint among the 24 axis-aligned reflections that carry the joint's
       child offsets onto its partner's: the parent's frame when it is one of them (bone axes follow
       one convention along a chain), else the one most frames vote for, counting only frames where
       the limb is posed symmetrically (each frame's estimate is ``L_partner^T K_parent L_joint``;
       for the root, ``G^T M_t G`` with ``M_t`` the body's instantaneous sagittal reflection). A rig
       whose axes are not aligned with its symmetry falls back to the nearest orthogonal matrix to
       the average estimate. Depends on the skeleton and, at the top of each limb, on the take.

    A ground root (never rotates, no paired children) keeps its frame: ``K = G0^T M G0``, with ``M``
    the mirror's reflection (``axis`` as for ``mirror``).
    """
    sigma, is_left = _partners(motion.skeleton, pairs)
    g_rot, g_pos = motion.fk()
    if axis is None:
        normal, _ = _lateral_from_positions(g_pos, sigma, is_left, motion.skeleton)
    else:
        normal = _check_axis(axis)
    return _mirror_frames(motion, sigma, is_left, g_rot, g_pos, normal)


def _mirror_frames(
    motion: Motion, sigma: np.ndarray, is_left: np.ndarray, g_rot: np.ndarray, g_pos: np.ndarray, normal: np.ndarray
) -> np.ndarray:
    """``mirror_frames`` given the partners, the global rotations ``(T, J, 4)`` and positions
    ``(T, J, 3)``, and the mirror plane's unit normal ``(3,)``."""
    skeleton = motion.skeleton
    parents = skeleton.parents
    j_count = skeleton.num_joints
    ground = _is_ground_root(motion, sigma)

    k_frames = np.empty((j_count, 3, 3))
    rest = skeleton.rest_positions()
    m0 = _rest_reflection(rest, sigma, is_left, parents)
    if m0 is not None:
        k_frames[:] = m0
    else:
        g_mat = R.to_matrix(g_rot)  # (T, J, 3, 3)
        l_mat = R.to_matrix(motion.rotations)
        # Reflection across the body's own sagittal plane in each frame, from the trunk pairs (3D, not
        # projected: a body lying on its side is still symmetric about its own plane).
        side = _side_vectors(g_pos, sigma, is_left, parents)
        norm = np.linalg.norm(side, axis=-1)
        ok = norm > 1e-9 * max(float(norm.max(initial=0.0)), 1e-12)
        n_t = side[ok] / norm[ok, None]
        m_t = np.eye(3) - 2.0 * n_t[:, :, None] * n_t[:, None, :]  # (T_ok, 3, 3)
        if not np.any(ok):  # every frame degenerate: let the rig's offsets alone decide
            ok[:1], m_t = True, np.eye(3)[None]
        asymmetry = np.zeros((j_count, int(ok.sum())))  # radians, per joint and frame
        done = np.zeros(j_count, dtype=bool)
        for j in range(j_count):
            if done[j]:
                continue
            k, p = int(sigma[j]), int(parents[j])
            src, dst = _child_vectors(skeleton, sigma, j)
            in_world = p < 0 or (p == 0 and ground)
            if in_world:
                # G_k^T M_t G_j: the root, and the body's top under a world-fixed root.
                est = np.swapaxes(g_mat[ok, k], -1, -2) @ m_t @ g_mat[ok, j]
                mine, theirs = m_t @ g_mat[ok, j], g_mat[ok, k]
            else:
                est = np.swapaxes(l_mat[ok, k], -1, -2) @ k_frames[p] @ l_mat[ok, j]
                mine, theirs = k_frames[p] @ l_mat[ok, j], l_mat[ok, k]
            # How far this frame's bones (in the parent's frame) are from their partners' mirror images,
            # here and up the limb; a twisted torso (measured against the world) does not count.
            bones = np.linalg.norm(src, axis=-1) * np.linalg.norm(dst, axis=-1) > 0
            own = R.vector_angle(src[bones] @ np.swapaxes(mine, -1, -2), dst[bones] @ np.swapaxes(theirs, -1, -2)).max(axis=-1, initial=0.0)
            above = 0.0 if in_world else asymmetry[p]
            asymmetry[j] = asymmetry[k] = np.maximum(own, above)
            cands = _INVOLUTIONS if k == j else _CANDIDATES
            fit = cands[_fits_offsets(cands, src, dst)]
            body_parent = p > 0 or (p == 0 and not ground)
            inherited = body_parent and any(np.array_equal(k_frames[p], c) for c in fit)
            if inherited:
                # Along a chain the bone axes follow one convention; only where the offsets rule the
                # parent's out (the top of a limb) do the frames vote. A head turned for a whole take
                # would otherwise out-vote the rig.
                kj = k_frames[p]
            elif len(fit):
                kj = _vote(fit, est, asymmetry[j])
            else:
                mean = est[_voters(asymmetry[j])].mean(axis=0)
                kj = _nearest_reflection(mean) if k == j else _nearest_improper(mean)
            k_frames[j] = kj
            k_frames[k] = kj.T  # K_partner K_j = I, so that mirroring twice is the identity
            done[j] = done[k] = True
    if ground:
        g0 = R.to_matrix(motion.rotations[0, 0])
        k_frames[0] = g0.T @ _reflection(normal) @ g0
    return k_frames


def _rest_reflection(
    rest: np.ndarray, sigma: np.ndarray, is_left: np.ndarray, parents: np.ndarray
) -> np.ndarray | None:
    """Reflection ``(3, 3)`` under which the rest pose ``(J, 3)`` is symmetric, or ``None``."""
    side = _side_vectors(rest[None], sigma, is_left, parents)[0]
    size = float(np.linalg.norm(rest - rest.mean(axis=0), axis=-1).max(initial=0.0))
    if size <= 0 or np.linalg.norm(side) <= 1e-9 * size:
        return None
    normal = side / np.linalg.norm(side)
    axis = int(np.argmax(np.abs(normal)))
    if abs(normal[axis]) >= _AXIS_SNAP_COS:
        normal = np.eye(3)[axis]
    m0 = _reflection(normal)
    paired = sigma != np.arange(len(sigma))
    centre = rest[paired].mean(axis=0)
    err = np.linalg.norm(rest[sigma] - centre - (rest - centre) @ m0.T, axis=-1)
    return m0 if err.max() <= _REST_SYMMETRY_TOL * size else None


def _check_axis(axis: np.ndarray | Sequence[float]) -> np.ndarray:
    a = np.asarray(axis, dtype=np.float64).reshape(-1)
    if a.shape != (3,) or not np.all(np.isfinite(a)) or np.linalg.norm(a) < 1e-12:
        raise LMMError(f"axis must be a nonzero direction (3,) (the character's left), got {axis!r}")
    return a / np.linalg.norm(a)


# --- mirroring ---------------------------------------------------------------------------------------


def mirror(
    motion: Motion,
    pairs: PairsArg = None,
    axis: np.ndarray | Sequence[float] | None = None,
    frames: np.ndarray | None = None,
) -> Motion:
    """The motion mirrored across the character's own sagittal plane, left and right swapped.

    Args:
        motion: any skeleton with left/right pairs.
        pairs: ``(left, right)`` joint indices or names; ``None`` uses ``motion.skeleton.pairs``.
        axis: ``(3,)`` world direction normal to the mirror plane; ``None`` takes the character's
            left direction in its first upright frame (``lateral_axis``), so the plane is the
            character's own sagittal plane. The plane passes through the midpoint of the trunk pairs
            (the pairs nearest the root: hips, shoulders) in that frame (frame 0 with ``axis``), so
            the mirrored character starts where the input does.
        frames: ``(J, 3, 3)`` mirror frames from ``mirror_frames`` to reuse (e.g. one rig, many clips);
            worked out from this motion when ``None``.

    Returns:
        A new ``Motion``: global joint positions (and end sites) are the reflection of the partners',
        exactly; rotations are local to the mirrored rest offsets ``o'_j = K_sigma(p) o_sigma(j)``,
        which equal the input's for a symmetric rig (the input ``Skeleton`` object is then reused);
        animated ``translations`` are mirrored the same way; sided labels are swapped
        (``mirror_labels``). Quaternions come out with ``w >= 0`` in the first frame and continuous
        in time.
    """
    skeleton = motion.skeleton
    sigma, is_left = _partners(skeleton, pairs)
    parents = skeleton.parents
    g_rot, g_pos = motion.fk()
    if axis is None:
        normal, t_ref = _lateral_from_positions(g_pos, sigma, is_left, skeleton)
    else:
        normal, t_ref = _check_axis(axis), 0
    m = _reflection(normal)
    if frames is None:
        k = _mirror_frames(motion, sigma, is_left, g_rot, g_pos, normal)
    else:
        k = np.asarray(frames, dtype=np.float64)
    if k.shape != (skeleton.num_joints, 3, 3):
        raise LMMError(f"frames must be ({skeleton.num_joints}, 3, 3), got {k.shape}")

    # The plane passes through the midpoint of the trunk pairs (hips, shoulders), which swinging limbs
    # do not move; it is the same for the mirrored motion, so mirroring twice lands where it started.
    top = _pair_levels(sigma, parents)[0]
    centre = 0.5 * (g_pos[t_ref, top] + g_pos[t_ref, sigma[top]]).mean(axis=0)
    k_parent = k[np.maximum(parents, 0)]  # (J, 3, 3); the root's row is unused
    k_parent_partner = k[sigma[np.maximum(parents, 0)]]

    # Local rotations: L'_j = K_p^T L_sigma(j) K_j; the root's parent is the world, reflected by M.
    local = R.to_matrix(motion.rotations)[:, sigma]  # (T, J, 3, 3)
    left = np.swapaxes(k_parent, -1, -2).copy()
    left[0] = m
    new_local = left @ local @ k
    rotations = R.unroll(R.from_matrix(new_local))
    rotations *= np.where(rotations[:1, :, :1] < 0, -1.0, 1.0)

    root_positions = centre + (motion.root_positions - centre) @ m.T
    offsets = np.einsum("jab,jb->ja", k_parent_partner, skeleton.offsets[sigma])
    offsets[0] = skeleton.offsets[0]  # the root's rest placement is not part of the animation
    end_sites = {
        j: k[sigma[j]] @ skeleton.end_sites[int(sigma[j])]
        for j in range(skeleton.num_joints)
        if int(sigma[j]) in skeleton.end_sites
    }
    translations = None
    if motion.translations is not None:
        translations = np.einsum("jab,tjb->tja", k_parent_partner, motion.translations[:, sigma])
        translations[:, 0] = root_positions

    # A symmetric rig mirrors onto itself: keep the very same Skeleton, which callers may compare by identity.
    tol = 1e-9 * max(float(np.abs(skeleton.offsets[1:]).max(initial=0.0)), 1e-12)
    same = np.allclose(offsets, skeleton.offsets, rtol=0, atol=tol)
    same = same and end_sites.keys() == skeleton.end_sites.keys()
    same = same and all(np.allclose(e, skeleton.end_sites[j], rtol=0, atol=tol) for j, e in end_sites.items())
    new_skeleton = skeleton if same else replace(skeleton, offsets=offsets, end_sites=end_sites)
    return Motion(
        skeleton=new_skeleton,
        rotations=rotations,
        root_positions=root_positions,
        fps=motion.fps,
        labels=mirror_labels(motion.labels),
        translations=translations,
    )


def mirror_on_rig(motion: Motion, pairs: PairsArg = None) -> Motion:
    """``mirror`` across a plane that belongs to the rig, so that mirroring twice on the same rig gives the
    motion back even when the rig is not quite symmetric (CMU's is 4 % off).

    ``mirror`` finds the plane from joint positions, which on an asymmetric rig differ between a motion
    and its mirror image written back onto the rig. Here the mirror frames come from the rest pose alone,
    the plane's normal is the rest pose's own mirror normal carried by the root's rotation on the first
    frame (made horizontal), and the plane passes through the root's first position; the mirror of the
    mirror then uses the very same plane. A character lying on its side on the first frame (no
    horizontal normal) is left to ``mirror`` to find the plane.

    Args:
        motion: ``T`` frames of any skeleton with left/right pairs: ``(T, J, 4)`` local rotations,
            ``(T, 3)`` root path in the skeleton's units and world axes.
        pairs: ``(left, right)`` joint indices or names; ``None`` uses ``motion.skeleton.pairs``.

    Returns:
        The mirrored motion (as ``mirror``), whose root starts at the input's first root position.
    """
    sk = motion.skeleton
    rest = Motion(sk, np.tile([1.0, 0.0, 0.0, 0.0], (1, sk.num_joints, 1)), sk.offsets[:1].copy(), motion.fps)
    frames = mirror_frames(rest, pairs)
    values, vectors = np.linalg.eigh(0.5 * (frames[0] + frames[0].T))
    if np.allclose(frames[0], frames[0].T, atol=1e-9) and values[0] < -0.999:
        normal = vectors[:, 0]  # the root's mirror frame is a reflection: its normal
    else:
        normal = lateral_axis(rest, pairs)
    axis = R.mul_vec(motion.rotations[0, 0], normal)
    axis[sk.up_index] = 0.0
    if np.linalg.norm(axis) < 1e-3:  # lying on its side on the first frame: let mirror find the plane
        return mirror(motion, pairs=pairs)
    out = mirror(motion, pairs=pairs, axis=axis / np.linalg.norm(axis), frames=frames)
    shift = motion.root_positions[0] - out.root_positions[0]  # along the normal: the plane through the root
    translations = out.translations
    if translations is not None:
        translations = translations.copy()
        translations[:, 0] += shift
    return Motion(out.skeleton, out.rotations, out.root_positions + shift, out.fps, out.labels, translations)


# --- labels ------------------------------------------------------------------------------------------

# "left"/"right" as words (wave-left-hand, turn_right), capitalised in camel case (turnLeft, LeftHand)
# or shouting (LEFT_HAND); never inside another word (upright, leftover, bright).
_SIDE_WORD = re.compile(
    r"(?<![A-Za-z])(left|right)(?![a-z])"  # wave-left-hand, turn_right
    r"|(?<![A-Z])(Left|Right)(?![a-z])"  # LeftHand, turnLeft
    r"|(?<![A-Za-z])(LEFT|RIGHT)(?![A-Z])"  # LEFT_HAND
)
_SWAP = {"left": "right", "right": "left", "Left": "Right", "Right": "Left", "LEFT": "RIGHT", "RIGHT": "LEFT"}


def mirror_label(text: str) -> str:
    """A label with its sides swapped: ``"wave-left-hand"`` -> ``"wave-right-hand"``.

    Swaps whole words ``left``/``right`` in lower, capitalised (camel case) or upper case; leaves
    words that merely contain them (``upright``, ``leftover``) alone.
    """
    return _SIDE_WORD.sub(lambda m: _SWAP[m.group(0)], text)


def mirror_labels(labels: dict[str, str]) -> dict[str, str]:
    """A copy of a motion's labels with every string value's sides swapped (keys are kept)."""
    return {k: mirror_label(v) if isinstance(v, str) else v for k, v in labels.items()}
