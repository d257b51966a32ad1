"""Learned joint limits: identity inside, projection onto the boundary outside, idempotence, real data."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from lmm_core import LMMError, Motion, Skeleton, read_bvh
from lmm_core import canonical as cn
from lmm_core import rotations as R
from lmm_core.bonemap import bone_map_for
from lmm_core.cleanup import DEFAULT_PATH, JointLimits, clean_up, clean_up_rig
from lmm_core.retarget import retarget
from lmm_core.cleanup.limits import HYPEREXTENSION, _wrap, from_swing_twist, swing_twist

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "out" / "corpus"
SOURCES = ["bandai1", "bandai2", "reactidle", "cmu"]  # never LAFAN1 (no derivatives)
SK = cn.canonical_skeleton()


@pytest.fixture(scope="module")
def limits() -> JointLimits:
    return JointLimits.load()


@pytest.fixture(scope="module")
def validation():
    if not (CORPUS / "index.json").exists():
        pytest.skip(f"no canonical corpus at {CORPUS}; build it with `lmm dataset build --out out/corpus`")
    from lmm_core import dataset

    clips, arrays = dataset.load(CORPUS, split="val", sources=SOURCES)
    return clips, arrays


def motion(rotations: np.ndarray) -> Motion:
    t = len(rotations)
    return Motion(SK, rotations, np.tile(SK.offsets[0], (t, 1)), 30.0)


def inside_rotations(limits: JointLimits, n: int = 50, seed: int = 0) -> np.ndarray:
    """``(n, 22, 4)`` rotations strictly inside every limit: swings shrunk towards the polygon's centroid,
    twists inside their interval."""
    rng = np.random.default_rng(seed)
    swing = np.zeros((n, cn.NUM_JOINTS, 2))
    twist = np.zeros((n, cn.NUM_JOINTS))
    for j in np.flatnonzero(limits.limited):
        poly = limits._polygon_of(j)
        c = poly.mean(axis=0)
        v = poly[rng.integers(len(poly), size=n)]
        swing[:, j] = c + rng.uniform(0.0, 0.9, size=(n, 1)) * (v - c)
        twist[:, j] = limits.twist_centre[j] + rng.uniform(limits.twist_lo[j], limits.twist_hi[j], size=n) * 0.9
    q = from_swing_twist(swing, twist, limits.frames)
    q[:, 0] = R.normalize(rng.normal(size=(n, 4)))  # the pelvis is free
    return q


def test_shipped_file_is_small_and_complete(limits):
    assert DEFAULT_PATH.stat().st_size < 100_000
    assert limits.limited.sum() == cn.NUM_JOINTS - 1 and not limits.limited[0]
    assert "bandai2" in limits.info["data"] and "lafan1" not in limits.info["data"]
    # Twist intervals are real intervals and every polygon has area.
    assert np.all(limits.twist_hi[1:] > limits.twist_lo[1:])
    for j in np.flatnonzero(limits.limited):
        x, y = limits._polygon_of(j).T
        assert 0.5 * abs(x @ np.roll(y, 1) - y @ np.roll(x, 1)) > 1e-4, cn.JOINT_NAMES[j]


def test_swing_twist_round_trip():
    q = R.normalize(np.random.default_rng(1).normal(size=(200, cn.NUM_JOINTS, 4)))
    frames = JointLimits.load().frames
    sw, tw = swing_twist(q, frames)
    back = from_swing_twist(sw, tw, frames)
    assert np.allclose(np.abs(np.sum(back * q, axis=-1)), 1.0, atol=1e-9)


def test_motion_inside_the_limits_is_unchanged(limits):
    q = inside_rotations(limits)
    m = motion(q)
    assert not limits.violations(m).any()
    assert np.abs(limits.clamp(m).rotations - q).max() < 1e-9
    assert limits.excess(m).max() < 1e-9


def test_rotation_far_past_a_face_is_clamped_onto_it(limits):
    knee = cn.JOINT_INDEX["left_knee"]
    normals, h = limits.normals, limits.swing_h[knee]
    # A face whose foot point h_k n_k lies on the polygon: a swing pushed out along n_k has that foot
    # point as its nearest point of the polygon, a swing about the same axis.
    k = next(k for k in range(len(h)) if h[k] > 0.05 and np.all(normals @ (h[k] * normals[k]) <= h + 1e-9))
    beyond = 0.5  # radians past the face
    twist = limits.twist_centre + 0.5 * (limits.twist_lo + limits.twist_hi)
    q = inside_rotations(limits, n=1)
    q[0, knee] = from_swing_twist((h[k] + beyond) * normals[k][None, None], twist[None, knee:knee + 1],
                                  limits.frames[knee:knee + 1])[0, 0]
    m = motion(q)
    out = limits.clamp(m)
    assert limits.violations(m)[0].tolist() == [j == knee for j in range(cn.NUM_JOINTS)]
    # Back onto the face, exactly, by exactly the distance it was pushed past it.
    sw, tw = swing_twist(out.rotations, limits.frames)
    assert abs(sw[0, knee] @ normals[k] - h[k]) < 1e-9
    assert np.max(sw[0, knee] @ normals.T - h) < 1e-9
    assert limits.excess(m)[0, knee] == pytest.approx(beyond, abs=1e-9)
    assert abs(_wrap(tw[0, knee] - twist[knee])) < 1e-9  # twist was inside: untouched
    # Other joints are untouched, bit for bit.
    others = np.arange(cn.NUM_JOINTS) != knee
    assert np.array_equal(out.rotations[:, others], m.rotations[:, others])


def test_twist_past_its_interval_is_clipped_to_the_end(limits):
    elbow = cn.JOINT_INDEX["right_elbow"]
    q = inside_rotations(limits, n=1)
    sw, tw = swing_twist(q, limits.frames)
    tw[0, elbow] = limits.twist_centre[elbow] + limits.twist_hi[elbow] + 0.3
    q = from_swing_twist(sw, tw, limits.frames)
    out = limits.clamp(motion(q))
    sw2, tw2 = swing_twist(out.rotations, limits.frames)
    assert _wrap(tw2[0, elbow] - limits.twist_centre[elbow]) == pytest.approx(limits.twist_hi[elbow], abs=1e-9)
    assert np.allclose(sw2[0, elbow], sw[0, elbow], atol=1e-9)
    assert limits.excess(motion(q))[0, elbow] == pytest.approx(0.3, abs=1e-9)


def test_clamp_is_idempotent_and_stays_continuous(limits):
    rng = np.random.default_rng(2)
    q = R.normalize(rng.normal(size=(300, cn.NUM_JOINTS, 4)))  # mostly far outside
    once = limits.clamp(motion(q))
    twice = limits.clamp(once)
    assert np.abs(twice.rotations - once.rotations).max() < 1e-9
    assert not limits.violations(once).any()
    # The quaternion sign of the input is kept, so an unrolled sequence stays unrolled.
    assert np.all(np.sum(once.rotations * q, axis=-1) >= -1e-12)


@pytest.mark.parametrize("knee", ["left_knee", "right_knee"])
def test_a_knee_bent_backwards_is_clamped_to_the_hyperextension_cap(limits, knee):
    """Keyed 20, 70 or 100 degrees backwards, a knee comes back to 5 degrees past the T-pose, not the 20-25
    the percentile hull alone allowed; bent forwards it is left alone. The Euler box Blender's Limit
    Rotation gets stops the hinge axis there too."""
    j = cn.JOINT_INDEX[knee]
    cap = np.degrees(HYPEREXTENSION[knee])
    q = R.identity((4, cn.NUM_JOINTS))
    for f, degrees in enumerate((20.0, 70.0, 100.0, -60.0)):  # about -X: the shin forwards, the knee backwards
        q[f, j] = R.from_axis_angle(np.array([-1.0, 0.0, 0.0]), np.radians(degrees))
    out = limits.clamp(motion(q))
    swing, _ = swing_twist(out.rotations, limits.frames)
    assert np.allclose(np.degrees(swing[:3, j, 0]), cap, atol=1e-6)  # bone +X is backwards
    assert np.array_equal(out.rotations[3, j], q[3, j])
    assert not limits.violations(out).any()
    box = limits.euler_limits()[j]
    assert box.use[0] and cap < np.degrees(box.max[0]) < cap + 1.0 and np.degrees(box.min[0]) < -100


def test_violation_rate_on_held_out_clips_is_small(limits, validation):
    _, arrays = validation
    q = R.normalize(arrays["rotations"][::3].astype(np.float64))
    m = motion(q)
    v = limits.violations(m)[:, limits.limited]
    assert v.mean() < 0.02, v.mean()
    # Most of what is past a limit is only just past it.
    assert (limits.excess(m)[:, limits.limited] > np.radians(5)).mean() < 0.005


def test_euler_boxes_hold_the_whole_region(limits):
    boxes = limits.euler_limits()
    assert boxes[0] is None and all(b is not None for b in boxes[1:])
    q = limits.clamp_rotations(R.normalize(np.random.default_rng(3).normal(size=(400, cn.NUM_JOINTS, 4))))
    q = np.concatenate([q, inside_rotations(limits, 400)])
    for j, box in enumerate(boxes):
        if box is None:
            continue
        order = box.order.lower()[::-1]  # Blender's extrinsic name -> intrinsic order
        assert box.order in ("XYZ", "XZY", "YXZ", "YZX", "ZXY", "ZYX")
        angles = R.to_euler(R.mul(R.conj(limits.frames[j]), R.mul(q[:, j], limits.frames[j])), order)
        for col, axis in enumerate(order):
            i = "xyz".index(axis)
            if box.use[i]:
                assert box.min[i] - 1e-3 <= angles[:, col].min() and angles[:, col].max() <= box.max[i] + 1e-3, (box, axis)


def test_save_and_load_round_trip(limits, tmp_path):
    path = tmp_path / "limits.npz"
    limits.save(path)
    back = JointLimits.load(path)
    for name in ("frames", "limited", "normals", "swing_h", "twist_centre", "twist_lo", "twist_hi"):
        assert np.array_equal(getattr(back, name), getattr(limits, name))
    assert back.info == limits.info
    assert not list(tmp_path.glob(".*tmp"))


def test_fit_counts_a_still_joint_once_and_allows_its_pose():
    rng = np.random.default_rng(4)
    moving = R.normalize(np.array([1.0, 0, 0, 0]) + 0.2 * rng.normal(size=(3000, cn.NUM_JOINTS, 4)))
    still = np.tile(R.from_axis_angle(np.array([1.0, 0, 0]), 1.2), (2000, cn.NUM_JOINTS, 1))
    rot = np.concatenate([moving, still])
    fitted = JointLimits.fit(rot, np.array([0, 3000, 5000]))
    # The still clip's pose is allowed, and the moving clip still sets the range.
    assert not fitted.violations(motion(still[:1])).any()
    assert fitted.violations(motion(moving)).mean() < 0.05


def test_a_motion_not_on_the_canonical_body_is_refused(limits):
    sk = Skeleton(names=("root", "a", "b"), parents=np.array([-1, 0, 1]), offsets=np.zeros((3, 3)))
    m = Motion(sk, R.identity((4, 3)), np.zeros((4, 3)), 30.0)
    with pytest.raises(LMMError, match="22-joint canonical body.*retarget"):
        limits.clamp(m)
    with pytest.raises(LMMError, match="retarget"):
        clean_up(m)


def test_clean_up_rig_changes_only_what_the_clean_up_changes(limits, test_data):
    """On a rig of its own (CMU, 31 joints): a knee bent 100 degrees backwards comes back inside the limits,
    measured on the canonical body; bones the bone map leaves out keep their rotations, and a clean-up
    that changes nothing gives the motion back exactly, not a retarget round trip's approximation."""
    m = read_bvh(test_data / "cmu_131_03_hop_excerpt.bvh.xz").slice(0, 60)
    knee = m.skeleton.names.index("LeftKnee")
    rotations = m.rotations.copy()
    rotations[[10, 31], knee] = R.mul(R.from_axis_angle(np.array([1.0, 0, 0]), np.radians(-100)),
                                      rotations[[10, 31], knee])
    bent = replace(m, rotations=rotations)
    bone_map = bone_map_for(bent.skeleton, pose=bent.global_positions()[0])

    def excess(x: Motion) -> np.ndarray:
        canon = retarget(x, bone_map, SK, bone_map_for(SK, "canonical"), fix_feet=False)
        return limits.excess(canon)

    cleaned = clean_up_rig(bent, bone_map, limits=limits, feet=False)
    assert cleaned.skeleton is bent.skeleton and cleaned.num_frames == 60
    assert excess(bent).max() > np.radians(40) and excess(cleaned).max() < np.radians(0.1)
    change = R.angle(R.inv_mul(bent.rotations, cleaned.rotations))  # (T, J)
    driven = {*bone_map.bones.values(), *bone_map.shared}
    unmapped = [j for j, n in enumerate(bent.skeleton.names) if n not in driven]
    assert "LThumb" in [bent.skeleton.names[j] for j in unmapped] and change[:, unmapped].max() < 1e-9
    np.testing.assert_array_equal(cleaned.root_positions, bent.root_positions)  # limits never move the root
    same = clean_up_rig(bent, bone_map, limits=False, feet=False)
    assert R.angle(R.inv_mul(bent.rotations, same.rotations)).max() < 1e-9
    np.testing.assert_array_equal(same.root_positions, bent.root_positions)


def test_missing_or_bad_file_names_the_fix(tmp_path):
    with pytest.raises(LMMError, match="not found.*--fit"):
        JointLimits.load(tmp_path / "none.npz")
    bad = tmp_path / "bad.npz"
    np.savez(bad, x=np.zeros(3))
    with pytest.raises(LMMError, match="not a joint limits file"):
        JointLimits.load(bad)


def test_the_torso_clamp_keeps_the_chest_neck_and_head_turned_as_they_were(limits):
    """A back bent unevenly, as a retargeted rig may hold it (spine2 122 degrees back, spine3 93 forward; the
    Character Creator takes hold 72 and 43, within the limits since they are fitted on them): ``clamp`` hands
    what it takes off a torso joint to its children, so the head keeps its turn in the world, the collars
    most of theirs, and every joint ends inside; clamped joint by joint (``clamp_rotations`` alone, what
    ``excess`` measures) the whole upper body would tip over by the spine's excess."""
    from lmm_core import kinematics

    q = inside_rotations(limits, n=8)
    s2, s3 = cn.JOINT_INDEX["spine2"], cn.JOINT_INDEX["spine3"]
    q[:, [cn.JOINT_INDEX[n] for n in ("spine1", "spine2", "spine3", "neck", "head")]] = R.identity()  # upright
    for name in ("left_collar", "right_collar"):  # collars in the middle of their range, room to take a turn
        j = cn.JOINT_INDEX[name]
        swing = np.zeros((1, cn.NUM_JOINTS, 2))
        swing[0, j] = limits._polygon_of(j).mean(axis=0)
        q[:, j] = from_swing_twist(swing, np.tile(limits.twist_centre, (1, 1)), limits.frames)[0, j]
    x = np.array([1.0, 0.0, 0.0])
    q[:, s2] = R.from_axis_angle(x, np.radians(-122.0))
    q[:, s3] = R.from_axis_angle(x, np.radians(93.0))
    m = motion(q)
    assert limits.violations(m)[:, s2].all()
    out = limits.clamp(m)
    assert not limits.violations(out).any()
    world = lambda rot: kinematics.fk(rot, np.zeros((cn.NUM_JOINTS, 3)), cn.PARENTS)[0]  # noqa: E731
    before, after, alone = world(q), world(out.rotations), world(limits.clamp_rotations(q))
    for name in ("head", "left_collar", "right_collar"):
        j = cn.JOINT_INDEX[name]
        kept = np.degrees(R.angle(R.inv_mul(before[:, j], after[:, j])))
        tipped = np.degrees(R.angle(R.inv_mul(before[:, j], alone[:, j])))
        assert tipped.min() > 15.0, (name, tipped)
        if name.endswith("collar"):
            # A collar handed the chest's correction passes its own limit and is clamped in its turn: it
            # keeps part of its turn (here 8.5 of the 16 degrees it would tip), not all.
            assert kept.max() < 0.75 * tipped.min(), (name, kept, tipped)
        else:
            assert kept.max() < 1e-6, (name, kept)
    # Joints below the torso's first clamped one are untouched, bit for bit.
    legs = [cn.JOINT_INDEX[n] for n in ("pelvis", "left_hip", "right_hip", "left_knee", "right_knee", "spine1")]
    assert np.array_equal(out.rotations[:, legs], q[:, legs])
