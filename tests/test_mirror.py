"""Mirroring: exact reflection of the partners' positions, identity when done twice, on every dataset."""
from __future__ import annotations

import numpy as np
import pytest

from lmm_core import LMMError, Motion, Skeleton, read_bvh
from lmm_core import rotations as R
from lmm_core.kinematics import end_site_positions
from lmm_core.mirror import (lateral_axis, mirror, mirror_frames, mirror_label, mirror_labels, mirror_on_rig,
                              partner_indices)

# One real clip per dataset; long clips are cut to keep the suite quick.
CLIPS = {
    "lafan1": "lafan1/walk4_subject1.bvh.xz",
    "bandai1": "bandai/dataset-1/dataset-1_bow_active_001.bvh.xz",
    "bandai2": "bandai/dataset-2/dataset-2_walk-turn-left_active_001.bvh.xz",
    "cmu": "cmu/131_01.bvh.xz",
    "reactidle": "reactidle/acted/001_acted.bvh.xz",
}
MAX_FRAMES = 1200


@pytest.fixture(scope="module", params=sorted(CLIPS))
def clip(request, shared_data) -> tuple[str, Motion, Motion]:
    path = shared_data / CLIPS[request.param]
    if not path.exists():
        pytest.skip(f"{path} is missing")
    motion = read_bvh(path)
    motion = motion.slice(0, min(motion.num_frames, MAX_FRAMES))
    return request.param, motion, mirror(motion)


def _best_reflection(src: np.ndarray, dst: np.ndarray) -> tuple[np.ndarray, float]:
    """Least-squares improper orthogonal ``Q`` with ``dst ~ src @ Q.T`` (points ``(N, 3)``), and the residual."""
    u, _, vt = np.linalg.svd(dst.T @ src)
    d = np.ones(3)
    if np.linalg.det(u @ vt) > 0:
        d[-1] = -1.0
    q = (u * d) @ vt
    return q, float(np.abs(src @ q.T - dst).max())


def test_mirror_twice_gives_back_the_input(clip):
    name, motion, once = clip
    twice = mirror(once)
    g_rot, g_pos = motion.fk()
    g_rot2, g_pos2 = twice.fk()
    assert np.abs(g_pos2 - g_pos).max() < 1e-6, name
    assert R.angle(R.inv_mul(g_rot, g_rot2)).max() < 1e-6, name
    assert np.abs(twice.skeleton.offsets - motion.skeleton.offsets).max() < 1e-6
    assert twice.labels == motion.labels


def test_mirrored_positions_are_the_reflected_partners(clip):
    name, motion, once = clip
    sigma = partner_indices(motion.skeleton)
    pos = motion.global_positions()
    pos_m = once.global_positions()
    parents = motion.skeleton.parents
    trunk = [j for j in range(1, len(sigma)) if sigma[j] != j and sigma[parents[j]] == parents[j]]
    centre = pos[0, trunk].mean(axis=0)
    # The plane passes through the character: the midpoint of its hips and shoulders stays put in frame 0.
    assert np.abs(pos_m[0, trunk].mean(axis=0) - centre).max() < 1e-9 * motion.height()
    src = (pos[:, sigma] - centre).reshape(-1, 3)
    dst = (pos_m - centre).reshape(-1, 3)
    q, residual = _best_reflection(src, dst)
    assert residual < 1e-9 * motion.height(), name
    # ...and that plane is vertical, with the character's left as its normal.
    up = np.eye(3)[motion.skeleton.up_index]
    assert np.allclose(q @ up, up, atol=1e-9)
    normal = lateral_axis(motion)
    assert abs(normal @ up) < 1e-12
    assert np.allclose(q, np.eye(3) - 2 * np.outer(normal, normal), atol=1e-9)
    # End sites follow their joints' partners too.
    g_rot, g_pos = motion.fk()
    g_rot_m, g_pos_m = once.fk()
    for j in once.skeleton.end_sites:
        tip_m = end_site_positions(g_rot_m, g_pos_m, {j: once.skeleton.end_sites[j]})[:, 0]
        k = int(sigma[j])
        tip = end_site_positions(g_rot, g_pos, {k: motion.skeleton.end_sites[k]})[:, 0]
        assert np.abs(tip_m - centre - (tip - centre) @ q.T).max() < 1e-9 * motion.height()


def test_bone_lengths_are_kept(clip):
    name, motion, once = clip
    sk = motion.skeleton
    sigma = partner_indices(sk)
    pos, pos_m = motion.global_positions(), once.global_positions()
    j = np.arange(1, sk.num_joints)
    length = np.linalg.norm(pos[:, j] - pos[:, sk.parents[j]], axis=-1)
    length_m = np.linalg.norm(pos_m[:, j] - pos_m[:, sk.parents[j]], axis=-1)
    # Each side keeps its own bones: the mirrored left leg is the input's right leg.
    assert np.abs(length_m - length[:, sigma[j] - 1]).max() < 1e-9 * motion.height()
    assert np.allclose(np.linalg.norm(once.skeleton.offsets, axis=-1)[j], np.linalg.norm(sk.offsets[sigma[j]], axis=-1))


def test_mirrored_rest_pose_is_the_same_rig(clip):
    """The mirror frames must fit the rig: mirrored rest offsets equal the input's (up to the rig's own
    left/right differences), including Bandai, whose right-side bones point along -X."""
    name, motion, once = clip
    sk = motion.skeleton
    ground_children = sk.children(0) if name.startswith("bandai") else []  # joint_Root is a ground root
    keep = [j for j in range(1, sk.num_joints) if j not in ground_children]
    tolerance = {"cmu": 0.25, "lafan1": 1e-3, "reactidle": 5e-3}.get(name, 0.05)  # the rigs' own asymmetry
    assert np.abs(once.skeleton.offsets[keep] - sk.offsets[keep]).max() < tolerance


@pytest.mark.parametrize(
    "clip_path",
    [
        CLIPS["bandai1"],
        # One arm up or waving most of the take: only the symmetric frames may vote on the arms' axes.
        "bandai/dataset-2/dataset-2_raise-up-left-hand_active_004.bvh.xz",
        "bandai/dataset-2/dataset-2_wave-right-hand_active_001.bvh.xz",
        # Legs crossed throughout: no frame may vote on the legs, so the rig-level preference decides.
        "bandai/dataset-1/dataset-1_byebye_feminine_001.bvh.xz",
    ],
)
def test_bandai_mirror_frames_follow_its_bone_axes(shared_data, clip_path):
    """Bandai's left and right limbs both point along their local X (right side along -X), so the
    mirror frame of every limb joint is -I; spine joints reflect their lateral local axis. The same
    on every take, asymmetric ones included."""
    path = shared_data / clip_path
    if not path.exists():
        pytest.skip(f"{path} is missing")
    motion = read_bvh(path)
    k = mirror_frames(motion)
    names = motion.skeleton.names
    for limb in ("Shoulder_L", "UpperArm_L", "LowerArm_R", "Hand_L", "UpperLeg_R", "LowerLeg_L", "Foot_L", "Toes_R"):
        assert np.array_equal(k[names.index(limb)], -np.eye(3)), limb
    assert np.array_equal(k[names.index("Hips")], np.diag([1.0, -1.0, 1.0]))
    for trunk in ("Spine", "Chest", "Neck", "Head"):
        assert np.array_equal(k[names.index(trunk)], np.diag([1.0, 1.0, -1.0])), trunk


@pytest.mark.parametrize("key, lateral", [("lafan1", 2), ("cmu", 0), ("reactidle", 0)])
def test_symmetric_rest_rigs_mirror_across_their_rest_plane(shared_data, key, lateral):
    """BVH rigs whose rest pose is symmetric (bones along X for LAFAN1, a T-pose for CMU and ReActIdle)
    use one reflection of the rest pose for every joint, exactly axis-aligned, whatever the take."""
    path = shared_data / CLIPS[key]
    if not path.exists():
        pytest.skip(f"{path} is missing")
    motion = read_bvh(path).slice(0, 200)
    expected = np.eye(3)
    expected[lateral, lateral] = -1.0
    assert np.array_equal(mirror_frames(motion), np.broadcast_to(expected, (motion.skeleton.num_joints, 3, 3)))


def _chordal_mean(q: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh(np.einsum("ti,tj->ij", q, q))
    return v[:, -1]


@pytest.mark.parametrize("key", ["lafan1", "bandai2"])
def test_mirrored_walk_uses_natural_joint_angles(shared_data, key):
    """A mirrored walk is still a walk of the same rig: each limb joint's average local rotation stays
    close to the input's (a wrong bone roll in the mirror frames would put it 90 or 180 degrees off)."""
    path = shared_data / CLIPS[key]
    if not path.exists():
        pytest.skip(f"{path} is missing")
    motion = read_bvh(path).slice(0, MAX_FRAMES)
    once = mirror(motion)
    sk = motion.skeleton
    limbs = [j for pair in sk.pairs for j in pair]
    for j in limbs:
        off = np.degrees(R.angle(R.inv_mul(_chordal_mean(motion.rotations[:, j]), _chordal_mean(once.rotations[:, j]))))
        assert off < 35.0, sk.names[j]


def _yaw_change(motion: Motion, left: str, right: str) -> float:
    """Total turn in degrees (positive = to the character's left, counter-clockwise seen from above)."""
    sk = motion.skeleton
    pos = motion.global_positions()
    side = pos[:, sk.index(left)] - pos[:, sk.index(right)]
    facing = np.cross(side, np.eye(3)[sk.up_index])  # left x up = forward for a Y-up body
    yaw = np.unwrap(np.arctan2(facing[:, 0], facing[:, 2]))
    return float(np.degrees(yaw[-1] - yaw[0]))


def test_walk_turning_left_becomes_walk_turning_right(shared_data):
    path = shared_data / CLIPS["bandai2"]
    if not path.exists():
        pytest.skip(f"{path} is missing")
    motion = read_bvh(path)
    motion.labels["action"] = "walk-turn-left"
    once = mirror(motion)
    turn = _yaw_change(motion, "UpperLeg_L", "UpperLeg_R")
    turn_m = _yaw_change(once, "UpperLeg_L", "UpperLeg_R")
    assert turn > 60.0  # the take turns left by about 95 degrees
    assert turn_m == pytest.approx(-turn, abs=1e-6)
    # The body's own heading (the hips joint's rotation) turns the other way as well.
    g_rot, _ = motion.fk()
    g_rot_m, _ = once.fk()
    hips = motion.skeleton.index("Hips")
    def hips_turn(g):
        rel = R.mul(g[:, hips], R.inv(g[:1, hips]))
        fwd = R.mul_vec(rel, np.array([0.0, 0.0, 1.0]))
        return np.degrees(np.unwrap(np.arctan2(fwd[:, 0], fwd[:, 2])))[-1]
    assert hips_turn(g_rot) > 60.0 and hips_turn(g_rot_m) < -60.0
    assert once.labels["action"] == "walk-turn-right"


# --- mirroring on a rig: the plane belongs to the rig ----------------------------------------------


def _degrees_apart(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.degrees(R.angle(R.inv_mul(a, b))).max())


def test_mirror_on_rig_twice_gives_the_rotations_back_on_an_asymmetric_rig(test_data):
    """Written back onto the rig (its own bone lengths, as the add-on does), the mirror of the mirror is the
    input: CMU's rig is 4 % asymmetric, and ``mirror``, which finds its plane from the pose, ends degrees
    away. The plane passes through the root's first position."""
    motion = read_bvh(test_data / "cmu_131_03_hop_excerpt.bvh.xz")

    def on_rig(m: Motion) -> Motion:
        return Motion(motion.skeleton, m.rotations, m.root_positions, m.fps, m.labels, m.translations)

    once = mirror_on_rig(motion)
    np.testing.assert_allclose(once.root_positions[0], motion.root_positions[0], atol=1e-12)
    assert _degrees_apart(once.rotations, motion.rotations) > 10.0
    twice = mirror_on_rig(on_rig(once))
    assert _degrees_apart(twice.rotations, motion.rotations) < 1e-6
    np.testing.assert_allclose(twice.root_positions, motion.root_positions, atol=1e-9 * motion.height())
    assert _degrees_apart(mirror(on_rig(mirror(motion))).rotations, motion.rotations) > 1.0


def test_mirror_on_rig_of_a_character_lying_on_its_side_is_mirror(test_data):
    """With the rest pose's mirror normal vertical on the first frame there is no plane to carry: the
    plane is found as ``mirror`` finds it."""
    motion = read_bvh(test_data / "cmu_131_03_hop_excerpt.bvh.xz").slice(0, 20)
    rest = Motion(motion.skeleton, R.identity((1, motion.skeleton.num_joints)), motion.skeleton.offsets[:1], 120.0)
    assert np.allclose(mirror_frames(rest)[0], np.diag([-1.0, 1.0, 1.0]))  # the rest pose mirrors across x = 0
    up = np.eye(3)[motion.skeleton.up_index]
    to_vertical = R.between(R.mul_vec(motion.rotations[0, 0], np.eye(3)[0]), up)  # roll onto its side
    rotations = motion.rotations.copy()
    rotations[:, 0] = R.mul(to_vertical, rotations[:, 0])
    lying = Motion(motion.skeleton, rotations, motion.root_positions, motion.fps)
    np.testing.assert_allclose(mirror_on_rig(lying).rotations, mirror(lying).rotations, atol=1e-12)


# --- a small symmetric T-pose rig: numbers by hand ---------------------------------------------------


def _t_pose() -> Skeleton:
    names = ("Hips", "Spine", "LeftArm", "LeftHand", "RightArm", "RightHand", "LeftLeg", "RightLeg")
    parents = [-1, 0, 1, 2, 1, 4, 0, 0]
    offsets = [[0, 1, 0], [0, 0.5, 0], [0.2, 0, 0], [0.5, 0, 0], [-0.2, 0, 0], [-0.5, 0, 0]]
    offsets += [[0.1, -0.9, 0], [-0.1, -0.9, 0]]
    return Skeleton(names, parents, offsets, end_sites={3: [0.1, 0, 0], 5: [-0.1, 0, 0]})


def test_raised_left_arm_becomes_raised_right_arm():
    sk = _t_pose()
    rot = R.identity((2, sk.num_joints))
    rot[:, 2] = R.from_axis_angle(np.array([0.0, 0.0, 1.0]), np.radians(30.0))  # left arm up 30 degrees
    rot[:, 0] = R.from_axis_angle(np.array([0.0, 1.0, 0.0]), np.radians([0.0, 20.0]))  # turn left 20
    root = np.array([[2.0, 1.0, 3.0], [2.5, 1.0, 3.0]])
    motion = Motion(sk, rot, root, fps=30, labels={"action": "raise-up-left-hand"})
    once = mirror(motion)
    assert once.skeleton is sk  # a symmetric rig mirrors onto itself
    assert np.allclose(mirror_frames(motion), np.diag([-1.0, 1.0, 1.0]))
    # The right arm now rises by 30 degrees (about -Z, as it points along -X); the left arm rests.
    assert np.allclose(once.rotations[:, 4], R.from_axis_angle(np.array([0.0, 0.0, 1.0]), np.radians(-30.0)))
    assert np.allclose(once.rotations[:, 2], R.identity((2,)))
    # The hips turn right by 20 degrees, and the walk to +X mirrors about the plane x = 2 (the
    # character's centre in frame 0).
    assert np.allclose(once.rotations[1, 0], R.from_axis_angle(np.array([0.0, 1.0, 0.0]), np.radians(-20.0)))
    assert np.allclose(once.root_positions, [[2.0, 1.0, 3.0], [1.5, 1.0, 3.0]])
    hand = once.global_positions()[0, 5]
    c, s = np.cos(np.radians(30.0)), np.sin(np.radians(30.0))
    assert np.allclose(hand, [2.0 - 0.2 - 0.5 * c, 1.5 + 0.5 * s, 3.0])
    assert once.labels == {"action": "raise-up-right-hand"}


def test_pairs_can_be_given_by_name_and_axis_by_hand():
    sk = _t_pose()
    plain = Skeleton(("a", "b", "c", "d", "e", "f", "g", "h"), sk.parents, sk.offsets, pairs=())
    rot = R.from_axis_angle(np.array([0.0, 0.0, 1.0]), np.radians(np.linspace(0, 40, 3 * 8)).reshape(3, 8))
    motion = Motion(plain, rot, np.zeros((3, 3)), fps=30)
    with pytest.raises(LMMError, match="no left/right joint pairs"):
        mirror(motion)
    named = mirror(motion, pairs=[("c", "e"), ("d", "f"), ("g", "h")])
    by_index = mirror(Motion(sk, rot, np.zeros((3, 3)), fps=30))
    assert np.allclose(named.global_positions(), by_index.global_positions())
    # An axis along Z mirrors front to back instead: positions reflect z about the character's centre.
    front_back = mirror(motion, pairs=[("c", "e"), ("d", "f"), ("g", "h")], axis=[0, 0, 2])
    pos, pos_fb = motion.global_positions(), front_back.global_positions()
    sigma = partner_indices(plain, [("c", "e"), ("d", "f"), ("g", "h")])
    centre = pos[0, [2, 4, 6, 7]].mean(axis=0)
    expected = pos[:, sigma] * [1, 1, -1] + [0, 0, 2 * centre[2]]
    assert np.allclose(pos_fb, expected)


def test_bad_pairs_are_clear_errors():
    sk = _t_pose()
    motion = Motion(sk, R.identity((1, sk.num_joints)), np.zeros((1, 3)), fps=30)
    with pytest.raises(LMMError, match="disagree with the tree"):
        mirror(motion, pairs=[("LeftArm", "RightHand"), ("LeftHand", "RightArm"), ("LeftLeg", "RightLeg")])
    with pytest.raises(LMMError, match="two left/right pairs"):
        mirror(motion, pairs=[("LeftArm", "RightArm"), ("LeftArm", "LeftLeg")])
    with pytest.raises(LMMError, match="root joint"):
        mirror(motion, pairs=[("Hips", "Spine")])
    with pytest.raises(LMMError, match="no joint named"):
        mirror(motion, pairs=[("LeftElbow", "RightElbow")])
    with pytest.raises(LMMError, match="axis must be"):
        mirror(motion, axis=[0, 0, 0])


def test_implied_pairs_complete_cmu_hands():
    """CMU's ``lhand``/``rhand`` carry no side marker in a form the name rules read, but their children
    ``LFingers``/``RFingers`` are a pair, so they are partners too."""
    names = ("Hips", "LeftWrist", "lhand", "LFingers", "RightWrist", "rhand", "RFingers")
    offsets = [[0, 1, 0], [1, 0, 0], [0.2, 0, 0], [0.1, 0, 0], [-1, 0, 0], [-0.2, 0, 0], [-0.1, 0, 0]]
    sk = Skeleton(names, [-1, 0, 1, 2, 0, 4, 5], offsets)
    sigma = partner_indices(sk)
    assert sigma.tolist() == [0, 4, 5, 6, 1, 2, 3]


def test_sided_labels_swap():
    assert mirror_label("wave-left-hand") == "wave-right-hand"
    assert mirror_label("dataset-2_walk-turn-right") == "dataset-2_walk-turn-left"
    assert mirror_label("turnLeft then LEFT_HAND, right_foot") == "turnRight then RIGHT_HAND, left_foot"
    assert mirror_label("Left hand, upright, leftover, bright") == "Right hand, upright, leftover, bright"
    assert mirror_label("raise-up-both-hands") == "raise-up-both-hands"
    assert mirror_labels({"action": "wave-left-hand", "style": "elderly", "take": 3}) == {
        "action": "wave-right-hand",
        "style": "elderly",
        "take": 3,
    }
