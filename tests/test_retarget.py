"""Retargeting on real clips: round trips, feet on the floor, no added foot skate, and bad rigs."""
from __future__ import annotations

import numpy as np
import pytest

from lmm_core import LMMError, Skeleton, read_bvh
from lmm_core import canonical as cn
from lmm_core import ik
from lmm_core import rotations as R
from lmm_core.bonemap import bone_map_for
from lmm_core.feet import drift, foot_contacts, foot_skate
from lmm_core.retarget import bind, bind_motion, foot_joints, retarget, source_foot_slope, upright_frames
from lmm_core.skeleton import UNITS_TO_METRES

CANON = cn.canonical_skeleton()
CANON_MAP = bone_map_for(CANON, "canonical")


def end_effector_error(a, b, binding) -> np.ndarray:
    """Per-frame, per-effector distance ``(T, 5)`` between two motions on the same rig."""
    idx = [binding.joint_of[CANON.names.index(n)] for n in cn.END_EFFECTORS]
    return np.linalg.norm(a.global_positions()[:, idx] - b.global_positions()[:, idx], axis=-1)


def stature(binding) -> float:
    up = binding.ref_positions[:, binding.skeleton.up_index]
    return float(up.max() - up.min())


@pytest.fixture(scope="module")
def lafan(shared_data):
    m = read_bvh(shared_data / "lafan1" / "walk4_subject1.bvh.xz").slice(0, 900)
    return m, bone_map_for(m.skeleton, "lafan1")


@pytest.fixture(scope="module")
def bandai(shared_data):
    m = read_bvh(shared_data / "bandai" / "dataset-2" / "dataset-2_walk_normal_001.bvh.xz")
    return m, bone_map_for(m.skeleton, "bandai")


def test_lafan_to_bandai_and_back(lafan, bandai):
    (m, lmap), (b, bmap) = lafan, bandai
    there = retarget(m, lmap, b.skeleton, bmap, fix_feet=False)
    back = retarget(there, bmap, m.skeleton, bind_motion(m, lmap), fix_feet=False)
    lb = bind(m.skeleton, lmap)
    err = end_effector_error(back, m, lb) / stature(lb)
    assert err.mean() < 0.01, err.mean()
    assert there.skeleton is b.skeleton and there.num_frames == m.num_frames


def test_bandai_to_canonical_and_back(bandai):
    b, bmap = bandai
    canon = retarget(b, bmap, CANON, CANON_MAP, fix_feet=False)
    back = retarget(canon, CANON_MAP, b.skeleton, bind_motion(b, bmap), fix_feet=False)
    bb = bind(b.skeleton, bmap)
    assert (end_effector_error(back, b, bb) / stature(bb)).mean() < 0.01


def test_walk_lands_upright_facing_forward_on_the_floor(bandai):
    b, bmap = bandai
    out = retarget(b, bmap, CANON, CANON_MAP)
    g_rot, g = out.fk()
    ankle = CANON.names.index("left_ankle")
    # Feet stand at the canonical body's own ankle height, not sunk or floating.
    assert abs(np.median(g[:, ankle, 1]) - cn.ANKLE_HEIGHT) < 0.02
    assert np.all(g[:, CANON.names.index("head"), 1] > g[:, 0, 1] + 0.4)
    # The pelvis faces where it walks (canonical forward is +Z in the pelvis frame).
    vel = np.gradient(g[:, 0], axis=0)[:, [0, 2]]
    fwd = R.mul_vec(g_rot[:, 0], np.array([0.0, 0.0, 1.0]))[:, [0, 2]]
    moving = np.linalg.norm(vel, axis=1) > 0.3 * np.linalg.norm(vel, axis=1).max()
    cos = np.sum(vel[moving] * fwd[moving], axis=1) / np.linalg.norm(vel[moving], axis=1) / np.linalg.norm(fwd[moving], axis=1)
    assert cos.mean() > 0.9
    # Units: Bandai is in centimetres, the canonical body in metres.
    assert 1.4 < out.height() < 1.9


def test_a_take_on_the_floor_stands_like_the_rigs_standing_takes(shared_data):
    """A fall and get-up spends most of its frames kneeling and lying: its foot slope and standing ankle
    height come from its upright frames, so its standing frames land on the canonical floor flat-footed
    like a standing take of the same performer (before: slope -8 degrees against 20, ankles 1.7 cm up
    against 6.7, and the canonical feet on tiptoe 5-9 cm in the air)."""
    def canonical(name):
        m = read_bvh(shared_data / "lafan1" / name)
        bmap = bone_map_for(m.skeleton, "lafan1")
        b = bind_motion(m, bmap)
        out = retarget(m, bmap, CANON, CANON_MAP)
        return m, bmap, b, out

    m, bmap, fall, fall_out = canonical("fallAndGetUp1_subject4.bvh.xz")
    _, _, walk, walk_out = canonical("multipleActions1_subject4.bvh.xz")
    assert abs(np.degrees(source_foot_slope(m, bmap)) - 19.1) < 3  # the standing takes' own: 18-21
    assert abs(fall.ankle_height - walk.ankle_height) < 0.5  # cm
    upright = upright_frames(m.global_positions(), fall.joint_of, fall.leg_length, m.skeleton.up_index)
    assert 0.2 < upright.mean() < 0.6  # most of the take is on the floor
    # Standing frames of the canonical result: the standing ankle at the canonical body's own height, the
    # toes on the floor, the feet pitched as a standing take's are (ankle above toe by a few
    # centimetres, not a tiptoe's 10).
    ankles = [CANON.names.index(n) for n in ("left_ankle", "right_ankle")]
    toes = [CANON.names.index(n) for n in ("left_toe", "right_toe")]
    for out in (fall_out, walk_out):
        g = out.global_positions()
        stand = upright_frames(g, np.arange(CANON.num_joints), bind(CANON, CANON_MAP).leg_length, 1)
        assert abs(np.median(g[stand][:, ankles, 1].min(axis=1)) - cn.ANKLE_HEIGHT) < 0.015
        assert abs(np.percentile(g[stand][:, toes, 1], 2)) < 0.015  # toes on the floor, not above it
        drop = np.median(g[stand][:, ankles, 1] - g[stand][:, toes, 1])
        assert 0.0 < drop < 0.06, drop


def test_a_take_never_upright_keeps_the_rest_pose_calibration(shared_data):
    """With no upright frame to measure (a clip cut from the floor work), the slope is not guessed from
    kneeling feet, nor the ankles' height from lying ones: the binding falls back to the reference pose's."""
    m = read_bvh(shared_data / "lafan1" / "fallAndGetUp1_subject4.bvh.xz")
    bmap = bone_map_for(m.skeleton, "lafan1")
    b = bind_motion(m, bmap)
    low = ~upright_frames(m.global_positions(), b.joint_of, b.leg_length, m.skeleton.up_index)
    start = int(np.flatnonzero(low)[0])
    stop = start + int(np.argmax(~low[start:]))  # the first floor stretch
    assert stop - start > 60
    floor = m.slice(start, stop)
    assert source_foot_slope(floor, bmap) is None
    assert bind_motion(floor, bmap).ankle_height == bind(m.skeleton, bmap).ankle_height  # the reference pose's
    # Retargeted, it lies on the canonical floor (its lowest joints a median 2.4 cm up).
    low_joint = retarget(floor, bmap, CANON, CANON_MAP, fix_feet=False).global_positions()[..., 1].min(axis=1)
    assert abs(np.median(low_joint)) < 0.05
    joint_of = b.joint_of.copy()
    joint_of[CANON.names.index("left_ankle")] = -1
    with pytest.raises(LMMError, match="pelvis and both ankles"):
        upright_frames(m.global_positions(), joint_of, b.leg_length, 1)


def test_retargeting_adds_no_foot_skate(lafan, bandai):
    (m, lmap), (b, bmap) = lafan, bandai
    out = retarget(m, lmap, b.skeleton, bmap)
    src_feet, tgt_feet = foot_joints(bind(m.skeleton, lmap)), foot_joints(bind(b.skeleton, bmap))
    contact = foot_contacts(m, src_feet, rule="ground")
    before = foot_skate(m, contact, joints=src_feet)
    after = foot_skate(out, contact, joints=tgt_feet)
    assert after <= before + 1e-9, (before, after)
    # Pinning is what holds planted feet: without it the target's planted feet wander much further.
    loose = retarget(m, lmap, b.skeleton, bmap, fix_feet=False)
    down = foot_contacts(m, src_feet, rule="planted")

    def planted_drift(motion):  # metres, median over planted frames of all four foot joints
        d = drift(motion.global_positions()[:, tgt_feet], down, UNITS_TO_METRES[motion.skeleton.units], 1)
        return float(np.median(np.concatenate(d)))

    assert planted_drift(out) < 0.005 and planted_drift(loose) > 2 * planted_drift(out)  # 2.8 and 7.5 mm


def test_pinned_feet_do_not_wreck_the_knees_of_a_rig_bound_from_a_bvh(shared_data):
    """LAFAN1 rests with its bones along X, not in a T-pose. Retargeted onto a Bandai rig and back, feet
    pinned both ways (as ``lmm retarget ... --to``), pins held ankles where the leg could not reach and
    snapped knees straight: 1,014 of 5,391 frames had a joint more than 5% of the height off the source,
    knees up to 18%. Without pinning the worst joint is 1.8%."""
    src = read_bvh(shared_data / "lafan1" / "obstacles1_subject1.bvh.xz")
    rig = read_bvh(shared_data / "bandai" / "dataset-1" / "dataset-1_bow_active_001.bvh.xz").skeleton
    smap, rmap = bone_map_for(src.skeleton), bone_map_for(rig)
    back = retarget(retarget(src, smap, rig, rmap), rmap, src.skeleton, smap)
    err = np.linalg.norm(src.global_positions() - back.global_positions(), axis=-1) / src.height()
    knees = [src.skeleton.names.index(smap.bones[n]) for n in ("left_knee", "right_knee")]
    assert (err.max(axis=1) > 0.05).sum() <= 0.002 * len(err)  # 0 now
    assert err[:, knees].max() < 0.07  # 0.05 now


def test_a_foot_dragged_backwards_is_not_pinned_into_a_flipped_leg(shared_data):
    """In this take (a sad backward walk) the performer drags the feet along the floor: long low "contacts"
    whose mean lies far from the foot. Pinned there, the legs straightened and the hips flipped (an ankle
    jumped a metre in one frame). Pins that far from the foot now fade out, so no joint jumps, and the
    planted feet of an ordinary walk are still held (test above)."""
    m = read_bvh(shared_data / "bandai" / "dataset-1" / "dataset-1_walk-back_sad_001.bvh.xz")
    out = retarget(m, bone_map_for(m.skeleton, "bandai"), CANON, CANON_MAP)

    def worst_acceleration(motion):  # metres per frame per frame, any joint
        g = motion.global_positions() * UNITS_TO_METRES[motion.skeleton.units]
        return np.linalg.norm(np.diff(g, 2, axis=0), axis=-1).max()

    assert worst_acceleration(m) < 0.05
    assert worst_acceleration(out) < 0.3  # 1.02 before


def test_shipped_cmu_clip_round_trip_and_fps(test_data):
    m = read_bvh(test_data / "cmu_131_03_hop_excerpt.bvh.xz")
    cmap = bone_map_for(m.skeleton, "cmu")
    canon = retarget(m, cmap, CANON, CANON_MAP, fix_feet=False)
    assert canon.fps == 120 and canon.skeleton.units == "m"
    cb = bind(m.skeleton, cmap)
    assert cb.ankle_height is None  # CMU rests with the hips at the origin: no floor in its rest pose
    # Bound from its rest pose alone, the way back cannot know how high CMU's ankles stand and keeps the
    # canonical body's, scaled: a constant height offset of about 1% of stature, all else matching.
    err = end_effector_error(retarget(canon, CANON_MAP, m.skeleton, cmap, fix_feet=False), m, cb) / stature(cb)
    assert 0.005 < err.mean() < 0.015 and np.ptp(err, axis=0).max() < 0.01
    # Bound from its own clip, it knows, and the round trip closes.
    back = retarget(canon, CANON_MAP, m.skeleton, bind_motion(m, cmap), fix_feet=False)
    assert (end_effector_error(back, m, cb) / stature(cb)).mean() < 0.005


def test_metarig_head_and_chest_land_upright(test_data):
    """ReActIdle's rig (a simplified Blender metarig) ends its head at the nose (an end site 3 cm
    forward) and starts neck and both shoulders at one point of the chest. A person standing idle must
    arrive with the head and chest near their T-pose orientation, not pitched or turned half round."""
    src = read_bvh(test_data / "reactidle_001_acted_excerpt.bvh.xz")
    canon_sk = cn.canonical_skeleton()
    out = retarget(src, bone_map_for(src.skeleton), canon_sk, bone_map_for(canon_sk, "canonical"), fix_feet=False)

    def degrees(joint: str) -> float:
        w = np.abs(out.rotations[:, cn.JOINT_INDEX[joint], 0])
        return float(np.median(np.degrees(2 * np.arccos(np.clip(w, 0, 1)))))

    assert degrees("head") < 30 and degrees("spine3") < 45
    # Shoulders not swapped by a half-turned chest (the clip's performer faces +Z).
    g = out.global_positions()
    left, right = g[:, cn.JOINT_INDEX["left_shoulder"]], g[:, cn.JOINT_INDEX["right_shoulder"]]
    assert np.median((left - right)[:, 0]) > 0.2  # the left shoulder is on the body's left (+X)


def test_in_place_removes_travel_but_keeps_height(bandai):
    b, bmap = bandai
    out = retarget(b, bmap, CANON, CANON_MAP, root_motion="in_place", fix_feet=False)
    keep = retarget(b, bmap, CANON, CANON_MAP, fix_feet=False)
    assert np.ptp(out.root_positions[:, [0, 2]], axis=0).max() < 1e-9
    assert np.ptp(keep.root_positions[:, [0, 2]], axis=0).max() > 0.5
    np.testing.assert_allclose(out.root_positions[:, 1], keep.root_positions[:, 1])


def test_two_bone_ik_reaches_and_keeps_the_pole():
    a, b, c = np.array([[0.0, 1.0, 0.0]]), np.array([[0.0, 0.55, 0.05]]), np.array([[0.0, 0.1, 0.0]])
    target = np.array([[0.1, 0.3, 0.1]])
    qa, qb = ik.two_bone(a, b, c, target)
    b2 = a + R.mul_vec(qa, b - a)
    c2 = b2 + R.mul_vec(R.mul(qa, qb), c - b)
    np.testing.assert_allclose(c2, target, atol=1e-9)
    np.testing.assert_allclose(np.linalg.norm(b2 - a), np.linalg.norm(b - a), atol=1e-12)
    assert b2[0, 2] > 0  # the knee still points forward


# --- bad rigs -------------------------------------------------------------------------------------

def test_rig_without_legs_is_a_clear_error():
    keep = [n for n in CANON.names if "hip" not in n and "knee" not in n and "ankle" not in n and "toe" not in n]
    idx = [CANON.names.index(n) for n in keep]
    parents = [-1 if CANON.parents[i] < 0 else idx.index(CANON.parents[i]) for i in idx]
    torso = Skeleton(tuple(keep), np.array(parents), CANON.offsets[idx], units="m")
    with pytest.raises(LMMError, match="without legs"):
        bind(torso, {n: n for n in keep})


def test_map_naming_a_missing_bone():
    with pytest.raises(LMMError, match="Femur_L"):
        bind(CANON, {**{n: n for n in CANON.names}, "left_hip": "Femur_L"})
    with pytest.raises(LMMError, match="not a canonical joint"):
        bind(CANON, {"tail": "pelvis"})


def test_zero_length_legs():
    offsets = CANON.offsets.copy()
    for n in ("left_knee", "right_knee", "left_ankle", "right_ankle"):
        offsets[CANON.names.index(n)] = 0.0
    flat = Skeleton(CANON.names, CANON.parents, offsets, units="m", end_sites=CANON.end_sites)
    with pytest.raises(LMMError, match="zero length|not below its pelvis"):
        bind(flat, {n: n for n in CANON.names})


def test_bad_root_motion_option(test_data):
    m = read_bvh(test_data / "cmu_131_03_hop_excerpt.bvh.xz")
    with pytest.raises(LMMError, match="root_motion"):
        retarget(m, bone_map_for(m.skeleton, "cmu"), CANON, CANON_MAP, root_motion="fly")


def test_a_rig_resting_with_its_legs_up_is_bound_as_it_stands(test_data):
    """The CMU clip re-posed so that its rest has the legs pointing up (as Character Creator exports BVH), every
    joint where it was on every frame: ``bind_motion`` sees the zero pose (``legs_up_at_rest``) and binds it on
    its first upright frame, so its thighs come onto the canonical body turned as the clip's own rest binds them,
    within the standing frame's own bend (5 degrees). (How the half turn from a legs-up rest goes wrong depends
    on the rig's bone frames: on the Character Creator takes by 24-35 degrees, ``tests/test_cli.py``; on this
    synthetic rest it happens to land right, so this test checks the detection and the re-binding only.)"""
    from lmm_core.cleanup.body import bone_frames
    from lmm_core.cleanup.limits import swing_twist
    from lmm_core.retarget import _bind_motion, legs_up_at_rest, zero_pose_frame

    clip = read_bvh(test_data / "cmu_131_03_hop_excerpt.bvh.xz").slice(0, 60)
    smap = bone_map_for(clip.skeleton)
    names = clip.skeleton.names
    turns = np.tile(R.identity(), (clip.skeleton.num_joints, 1))
    legs = [names.index(smap.bones[n]) for n in ("left_hip", "right_hip")]
    # Each thigh turned half over about a tilted axis: the leg points up at rest, rolled as no T-pose is.
    for j in legs:
        below = [k for k in range(len(names)) if k == j or j in _ancestors(clip.skeleton.parents, k)]
        turns[below] = R.from_axis_angle(np.array([1.0, 0.0, 0.6]) / np.hypot(1.0, 0.6), np.pi)
    up = clip.with_rest(turns)
    assert np.allclose(up.global_positions(), clip.global_positions(), atol=1e-6)
    assert legs_up_at_rest(up.skeleton, smap.indices(up.skeleton)) and not legs_up_at_rest(clip.skeleton, smap.indices(clip.skeleton))
    assert zero_pose_frame(up, smap) == 0 and zero_pose_frame(clip, smap) is None
    canon = cn.canonical_skeleton()
    cmap = bone_map_for(canon, "canonical")
    hips = [cn.JOINT_INDEX["left_hip"], cn.JOINT_INDEX["right_hip"]]

    def twist(m, binding):  # degrees, each thigh's mean turn about its bone on the canonical body
        _, tw = swing_twist(retarget(m, binding, canon, cmap, fix_feet=False).rotations, bone_frames())
        return np.degrees(np.arctan2(np.sin(tw[:, hips]).mean(0), np.cos(tw[:, hips]).mean(0)))

    own = twist(clip, bind_motion(clip, smap))
    assert np.abs(twist(up, bind_motion(up, smap)) - own).max() < 6.0
    # The binding is of the clip's own skeleton, its references in the rig's own (legs-up) rest frames.
    b = bind_motion(up, smap)
    assert b.skeleton is up.skeleton and not np.allclose(b.ref_global, _bind_motion(up, smap).ref_global, atol=1e-3)


def _ancestors(parents, k):
    out = []
    while parents[k] >= 0:
        k = int(parents[k])
        out.append(k)
    return out
