"""Foot locking: a sliding foot held still, bone lengths kept, far frames untouched, real clips skate less."""
from __future__ import annotations

import numpy as np
import pytest

from lmm_core import LMMError, Motion, read_bvh
from lmm_core import canonical as cn
from lmm_core import feet as F
from lmm_core import rotations as R
from lmm_core.bonemap import bone_map_for
from lmm_core.cleanup import clean_up, clean_up_rig
from lmm_core.feet import Leg, canonical_legs, foot_contacts, foot_skate, pin_feet
from lmm_core.retarget import retarget
from lmm_core.skeleton import UNITS_TO_METRES

SK = cn.canonical_skeleton()
J = cn.JOINT_INDEX
FEET = [J[n] for n in cn.CONTACT_JOINTS]
T = 60
CONTACT = slice(15, 40)  # left foot down on frames 15..39
EASE = 4


def bent_knees_pose(t: int) -> np.ndarray:
    """``(t, 22, 4)``: standing with both knees bent 30 degrees (thighs forward 15, feet flat)."""
    q = R.identity((t, cn.NUM_JOINTS))
    x = np.array([1.0, 0.0, 0.0])
    for side in ("left", "right"):
        hip, knee, ankle = (J[n] for n in cn.LEG_CHAINS[side])
        q[:, hip] = R.from_axis_angle(x, -np.radians(15))  # thigh swings forward (+Z)
        q[:, knee] = R.from_axis_angle(x, np.radians(30))   # shin swings back
        q[:, ankle] = R.from_axis_angle(x, -np.radians(15))  # foot level again
    return q


@pytest.fixture(scope="module")
def sliding() -> Motion:
    """The body glides forward 6 mm per frame while the left foot is meant to be planted."""
    root = np.tile(SK.offsets[0], (T, 1))
    root[:, 1] -= 0.03  # knees bent: the pelvis is lower, the feet just above the floor
    root[:, 2] += 0.006 * np.arange(T)
    return Motion(SK, bent_knees_pose(T), root, 30.0)


def contacts_left() -> np.ndarray:
    c = np.zeros((T, 4), dtype=bool)
    c[CONTACT, 0] = c[CONTACT, 2] = True
    return c


def test_sliding_foot_is_held_still_to_a_millimetre(sliding):
    out = pin_feet(sliding, contacts_left(), ease=EASE)
    ankle = out.global_positions()[:, J["left_ankle"]]
    before = sliding.global_positions()[:, J["left_ankle"]]
    assert np.ptp(before[CONTACT, 2]) > 0.14  # it slid 14 cm
    assert np.linalg.norm(ankle[CONTACT] - ankle[CONTACT.start], axis=1).max() < 1e-3
    assert np.linalg.norm(ankle[CONTACT.start] - before[CONTACT.start]) < 1e-6  # pinned where it landed
    toe = out.global_positions()[:, J["left_toe"]]
    assert np.linalg.norm(toe[CONTACT] - toe[CONTACT.start], axis=1).max() < 1e-3


def test_a_contact_is_held_where_the_first_trusted_frame_has_the_foot(sliding):
    """``anchor_frames``: a contact that reaches a trusted (recorded) frame is held where that frame has
    the foot, still held still; the trusted frame then keeps its foot exactly."""
    trusted = np.zeros(T, dtype=bool)
    trusted[25:] = True  # the contact (frames 15..39) reaches them at frame 25
    out = pin_feet(sliding, contacts_left(), ease=EASE, anchor_frames=trusted)
    ankle = out.global_positions()[:, J["left_ankle"]]
    before = sliding.global_positions()[:, J["left_ankle"]]
    assert np.linalg.norm(ankle[CONTACT] - ankle[25], axis=1).max() < 1e-3
    assert np.linalg.norm(ankle[25] - before[25]) < 1e-6
    assert np.linalg.norm(ankle[CONTACT.start] - before[CONTACT.start]) > 0.05  # moved to meet it
    # A contact that never reaches a trusted frame lands where it always did.
    out = pin_feet(sliding, contacts_left(), ease=EASE, anchor_frames=np.arange(T) >= 45)
    ankle = out.global_positions()[:, J["left_ankle"]]
    assert np.linalg.norm(ankle[CONTACT] - before[CONTACT.start], axis=1).max() < 1e-3
    with pytest.raises(LMMError, match="anchor_frames must be"):
        pin_feet(sliding, contacts_left(), anchor_frames=trusted[:-1])


def test_a_contact_the_body_walks_away_from_is_released():
    """A contact held for the whole clip while the body glides 1.2 m: the pin holds while the leg can
    reach it without locking straight, then lets go, instead of dragging the foot up behind the body."""
    root = np.tile(SK.offsets[0], (T, 1))
    root[:, 1] -= 0.03
    root[:, 2] += 0.02 * np.arange(T)
    glide = Motion(SK, bent_knees_pose(T), root, 30.0)
    c = np.zeros((T, 4), dtype=bool)
    c[:, 0] = c[:, 2] = True
    out = pin_feet(glide, c, ease=EASE)
    ankle = out.global_positions()[:, J["left_ankle"]]
    before = glide.global_positions()[:, J["left_ankle"]]
    held = np.linalg.norm(ankle[:, [0, 2]] - ankle[0, [0, 2]], axis=1) < 1e-3
    # The bent leg (ankle 0.97 leg lengths from the hip) reaches 9 frames back before it would lock.
    assert 6 < held.sum() < 40 and held[:6].all()
    hip = out.global_positions()[:, J["left_hip"]]
    legs = np.linalg.norm(SK.offsets[J["left_knee"]]) + np.linalg.norm(SK.offsets[J["left_ankle"]])
    own = np.linalg.norm(before - glide.global_positions()[:, J["left_hip"]], axis=1)
    assert (np.linalg.norm(ankle - hip, axis=1) <= np.maximum(own, 0.99 * legs) + 1e-9).all()  # never locked straight
    # Not dragged up behind the body: a few centimetres while the straight leg nears its reach and the
    # correction eases out (without the cut, the ankle climbed half a metre).
    assert ankle[:, 1].max() - before[:, 1].max() < 0.1
    assert np.abs(ankle[-20:] - before[-20:]).max() < 1e-6  # released: the input, well before the end


def test_bones_keep_their_lengths_and_the_foot_its_orientation(sliding):
    out = pin_feet(sliding, contacts_left(), ease=EASE)
    g_rot, g = out.fk()
    g0_rot, _ = sliding.fk()
    lengths = np.linalg.norm(g[:, 1:] - g[:, SK.parents[1:]], axis=-1)
    assert np.abs(lengths - np.linalg.norm(SK.offsets[1:], axis=-1)).max() < 1e-9
    for name in ("left_ankle", "left_toe"):
        assert np.allclose(np.abs(np.sum(g_rot[:, J[name]] * g0_rot[:, J[name]], axis=-1)), 1.0, atol=1e-9)
    # The knee still bends forward, in (nearly) the plane it bent in.
    hip, knee, ankle = (J[n] for n in cn.LEG_CHAINS["left"])
    n0 = np.cross(sliding.global_positions()[:, knee] - sliding.global_positions()[:, hip],
                  sliding.global_positions()[:, ankle] - sliding.global_positions()[:, knee])
    n1 = np.cross(g[:, knee] - g[:, hip], g[:, ankle] - g[:, knee])
    cos = np.sum(n0 * n1, axis=1) / np.linalg.norm(n0, axis=1) / np.linalg.norm(n1, axis=1)
    assert cos.min() > np.cos(np.radians(5))


def test_frames_far_from_contact_are_untouched(sliding):
    out = pin_feet(sliding, contacts_left(), ease=EASE)
    far = np.r_[0:CONTACT.start - EASE, CONTACT.stop + EASE:T]
    assert np.array_equal(out.rotations[far], sliding.rotations[far])
    assert np.array_equal(out.root_positions, sliding.root_positions)
    # The right leg had no contact: nothing of it moved at all.
    right = [J[n] for n in cn.LIMB_CHAINS["right_leg"]]
    assert np.array_equal(out.rotations[:, right], sliding.rotations[:, right])
    # Easing: the correction grows towards the contact and fades after it, never jumps.
    a0, a1 = sliding.global_positions()[:, J["left_ankle"]], out.global_positions()[:, J["left_ankle"]]
    corr = np.linalg.norm(a1 - a0, axis=1)
    assert np.all(np.diff(corr[CONTACT.stop - 1:CONTACT.stop + EASE + 1]) < 0)
    assert np.abs(np.diff(a1[:, 2])).max() < 0.05  # 6 mm/frame glide plus a smooth catch-up


def test_feet_are_kept_above_the_floor():
    root = np.tile(SK.offsets[0], (T, 1))
    root[:, 1] -= 0.05  # legs straight, pelvis sunk: feet 5 cm into the floor
    m = Motion(SK, R.identity((T, cn.NUM_JOINTS)), root, 30.0)
    out = pin_feet(m, np.zeros((T, 4), dtype=bool))
    for leg in canonical_legs(out):
        g_rot, g = out.fk()
        low = np.min([g[:, j, 1] + R.mul_vec(g_rot[:, j], np.array(o))[:, 1] for j, o in leg.soles], axis=0)
        assert low.min() > -1e-6
    assert pin_feet(m, np.zeros((T, 4), dtype=bool), floor=None).rotations.tolist() == m.rotations.tolist()
    # Only the frames given may be lifted (generation leaves recorded feet where they were recorded).
    lift = np.zeros(T, dtype=bool)
    lift[10:20] = True
    standing = root.copy()
    standing[~lift, 1] += 0.05  # the other frames stand on the floor
    m2 = Motion(SK, m.rotations, standing, 30.0)
    part = pin_feet(m2, np.zeros((T, 4), dtype=bool), floor_frames=lift)
    np.testing.assert_array_equal(part.rotations[~lift], m2.rotations[~lift])
    np.testing.assert_allclose(part.rotations[lift], out.rotations[lift])

    def lowest(motion):
        g_rot, g = motion.fk()
        leg = canonical_legs(motion)[0]
        return np.min([g[:, j, 1] + R.mul_vec(g_rot[:, j], np.array(o))[:, 1] for j, o in leg.soles], axis=0)

    # Where the frames left alone stand 5 cm into the floor (motion capture whose feet dip through it),
    # the given ones are held at that level, not lifted to the floor: no pop up and back down.
    deeper = root.copy()
    deeper[lift, 1] -= 0.03
    m3 = Motion(SK, m.rotations, deeper, 30.0)
    held = lowest(pin_feet(m3, np.zeros((T, 4), dtype=bool), floor_frames=lift))
    np.testing.assert_allclose(held, lowest(m), atol=1e-4)  # every frame at the others' -5 cm
    assert lowest(m)[0] == pytest.approx(-0.05, abs=0.01)
    with pytest.raises(LMMError, match=rf"floor_frames must be \({T},\) bool"):
        pin_feet(m, np.zeros((T, 4), dtype=bool), floor_frames=lift[:5])


def test_foot_contacts_finds_planted_and_lifted_feet(sliding):
    standing = Motion(SK, R.identity((T, cn.NUM_JOINTS)), np.tile(SK.offsets[0], (T, 1)), 30.0)
    assert foot_contacts(standing).all()
    q = R.identity((T, cn.NUM_JOINTS))
    q[20:40, J["left_hip"]] = R.from_axis_angle(np.array([1.0, 0, 0]), -np.radians(60))  # leg raised
    c = foot_contacts(Motion(SK, q, np.tile(SK.offsets[0], (T, 1)), 30.0))
    assert not c[22:38, [0, 2]].any() and c[:, [1, 3]].all() and c[:15, 0].all()


def test_skate_drops_on_a_real_clip_with_sliding(shared_data):
    src = read_bvh(shared_data / "bandai" / "dataset-2" / "dataset-2_walk_normal_001.bvh.xz")
    m = retarget(src, bone_map_for(src.skeleton, "bandai"), SK, {n: n for n in cn.JOINT_NAMES}, fix_feet=False)
    # The body travels 1.5 times as far as the legs step: planted feet slide, as in a network's output
    # that gets its speed wrong.
    root = m.root_positions.copy()
    root[:, [0, 2]] = root[:1, [0, 2]] + 1.5 * (root[:, [0, 2]] - root[:1, [0, 2]])
    m = Motion(SK, m.rotations, root, m.fps)
    pos = m.global_positions()[:, FEET]
    by_height = F.detect(pos, m.fps, m.height(), 1, "ground")
    down = foot_contacts(m)
    out = pin_feet(m)
    before, after = foot_skate(m, by_height), foot_skate(out, by_height)
    assert before > 0.5 and after < 0.7 * before, (before, after)
    assert foot_skate(m, down) > 0.3 and foot_skate(out, down) < 0.02
    assert clean_up(m).num_frames == m.num_frames


def test_skate_counted_on_chosen_frames(shared_data):
    """``frames`` counts only those frames: a clip whose second half slides scores on that half alone."""
    src = read_bvh(shared_data / "bandai" / "dataset-2" / "dataset-2_walk_normal_001.bvh.xz")
    m = retarget(src, bone_map_for(src.skeleton, "bandai"), SK, {n: n for n in cn.JOINT_NAMES}, fix_feet=False)
    half = m.num_frames // 2
    root = m.root_positions.copy()
    root[half:, [0, 2]] = root[half, [0, 2]] + 1.5 * (root[half:, [0, 2]] - root[half, [0, 2]])
    sliding = Motion(SK, m.rotations, root, m.fps)
    second = np.arange(m.num_frames) > half
    # Heights are untouched, so contacts are the same: the first half scores as the clip did.
    assert foot_skate(sliding, frames=~second) == foot_skate(m, frames=~second)
    assert foot_skate(sliding, frames=second) > 2 * foot_skate(m, frames=second) > 0
    whole = foot_skate(sliding)
    assert foot_skate(sliding, frames=~second) < whole < foot_skate(sliding, frames=second)
    with pytest.raises(LMMError, match="frames must be"):
        foot_skate(sliding, frames=second[:-1])


def test_any_rig_with_explicit_legs(test_data):
    """On a BVH rig (CMU's) with its own leg chains: the contact frames' ankle stays put."""
    m = read_bvh(test_data / "cmu_131_03_hop_excerpt.bvh.xz")
    bones = bone_map_for(m.skeleton, "cmu").bones
    idx = m.skeleton.names.index
    legs = tuple(Leg(*(idx(bones[n]) for n in cn.LEG_CHAINS[s]), idx(bones[cn.TOE_JOINTS[i]]))
                 for i, s in enumerate(("left", "right")))
    t = m.num_frames
    c = np.zeros((t, 4), dtype=bool)
    c[100:160, 0] = True
    # Slide the body sideways so that the planted foot would drift 6 cm over the contact.
    unit = UNITS_TO_METRES[m.skeleton.units]
    root = m.root_positions + np.outer(np.arange(t), [0.06 / 60 / unit, 0.0, 0.0])
    slid = Motion(m.skeleton, m.rotations, root, m.fps, translations=m.translations)
    out = pin_feet(slid, c, legs=legs, floor=None)
    flat = [i for i in range(3) if i != m.skeleton.up_index]  # pins are horizontal; heights follow the clip
    ankle = out.global_positions()[:, legs[0].ankle][:, flat]
    before = slid.global_positions()[:, legs[0].ankle][:, flat]
    assert np.linalg.norm(before[159] - before[100]) * unit > 0.05
    assert np.linalg.norm(ankle[100:160] - ankle[100], axis=1).max() * unit < 1e-3


def test_bad_input_names_the_fix(sliding, test_data):
    with pytest.raises(LMMError, match=r"contacts must be \(60, 4\)"):
        pin_feet(sliding, np.zeros((T, 2), dtype=bool))
    with pytest.raises(LMMError, match="ease"):
        pin_feet(sliding, contacts_left(), ease=-1)
    other = read_bvh(test_data / "cmu_131_03_hop_excerpt.bvh.xz")
    with pytest.raises(LMMError, match="22-joint canonical body.*retarget"):
        pin_feet(other)
    with pytest.raises(LMMError, match="22-joint canonical body"):
        foot_contacts(other)
    with pytest.raises(LMMError, match="not a hip -> knee -> ankle chain"):
        pin_feet(sliding, contacts_left()[:, :2], legs=(Leg(J["left_knee"], J["left_hip"], J["left_ankle"]),))


def test_the_model_commands_lock_gliding_feet_their_contacts_miss(sliding):
    """The network's contacts (or a bank's strict ones) may say no foot is down while one glides along the
    floor; the clean-up the commands run still finds and locks it."""
    from lmm_core.model.tasks import clean_made

    out = clean_made(sliding, np.zeros((T, 4)), True)
    ankle = out.global_positions()[:, J["left_ankle"]]
    assert np.ptp(sliding.global_positions()[CONTACT, J["left_ankle"], 2]) > 0.14
    # Both feet are down throughout, so both are locked, from frame 0 until the bent legs would have to
    # lock straight to reach back (about frame 29 at 6 mm a frame).
    reach = slice(CONTACT.start, 25)
    assert np.ptp(ankle[reach, 2]) < 0.005
    assert np.ptp(out.global_positions()[reach, J["right_ankle"], 2]) < 0.005
    assert clean_made(sliding, np.zeros((T, 4)), False) is sliding  # clean=False leaves it alone


def test_clean_up_rig_on_one_frame_or_none(test_data):
    """One frame (an action with one key) has nothing to slide on: feet are left alone, limits still apply,
    and nothing raises (the contact finder's arrays were empty: a numpy traceback)."""
    m = read_bvh(test_data / "cmu_131_03_hop_excerpt.bvh.xz")
    bone_map = bone_map_for(m.skeleton, "cmu")
    one = m.slice(10, 11)
    out = clean_up_rig(one, bone_map, limits=False)
    assert out.num_frames == 1 and np.array_equal(out.rotations, one.rotations)
    assert clean_up_rig(one, bone_map).num_frames == 1
