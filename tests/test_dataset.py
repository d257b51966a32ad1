"""`lmm dataset build` on the shipped clips: shards, labels, splits, and the canonical body."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from lmm_core import LMMError, dataset, read_bvh
from lmm_core.cli import main


@pytest.fixture
def data(test_data, tmp_path):
    root = tmp_path / "data"
    (root / "cmu").mkdir(parents=True)
    (root / "reactidle" / "genuine").mkdir(parents=True)
    shutil.copy(test_data / "cmu_131_03_hop_excerpt.bvh.xz", root / "cmu" / "131_03.bvh.xz")
    (root / "cmu" / "README.md").write_text("131_03\tStart Hop Stop\n")
    shutil.copy(test_data / "reactidle_001_acted_excerpt.bvh.xz", root / "reactidle" / "genuine" / "001_genuine.bvh.xz")
    return root


def test_build_converts_and_labels(data, tmp_path, capsys):
    out = tmp_path / "corpus"
    assert main(["dataset", "build", "--data", str(data), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "cmu" in printed and "reactidle" in printed and "hours" in printed
    clips, arrays = dataset.load(out)
    by = {c.source: c for c in clips}
    assert by["cmu"].action == "hop" and by["reactidle"].action == "idle" and by["reactidle"].style == "genuine"
    # Resampled to 30 fps over the same span: 360 frames at 120 fps -> 90; 240 at 24 -> floor(239 * 30 / 24) + 1 = 299.
    assert by["cmu"].frames == 90 and by["reactidle"].frames == 299
    assert arrays["rotations"].shape == (389, 22, 4) and arrays["contacts"].shape == (389, 4)
    np.testing.assert_allclose(np.linalg.norm(arrays["rotations"], axis=-1), 1.0, atol=1e-5)
    # On the canonical body, the performers stand upright at about the canonical pelvis height.
    assert 0.7 < np.median(arrays["root"][:, 1]) < 1.1
    assert {c.split for c in clips} <= {"train", "val"}
    assert json.loads((out / "index.json").read_text())["fps"] == 30.0


def test_split_is_stable_by_take():
    assert dataset.split_of("bandai2/dataset-2_walk_normal_001") == dataset.split_of("bandai2/dataset-2_walk_normal_001")
    shares = [dataset.split_of(f"x/{i}") == "val" for i in range(2000)]
    assert 0.07 < np.mean(shares) < 0.13


def test_empty_data_folder(tmp_path):
    with pytest.raises(LMMError, match="no motion files found"):
        dataset.build(tmp_path, tmp_path / "out")
    with pytest.raises(LMMError, match="no corpus"):
        dataset.load(tmp_path / "nothing")


def test_cmu_iclone_takes_are_labelled_from_the_listing_and_lose_their_added_t_pose(shared_data, tmp_path):
    """The Character Creator takes: automatic bone map (no preset), CMU's descriptions as actions, and the
    converter's T-pose (the first frame) dropped."""
    folder = shared_data / "cmu_iclone"
    if not folder.is_dir():
        pytest.skip("../shared/data/cmu_iclone is not here")
    labels = {p.name.split(".")[0]: dataset._iclone_labels(p)["action"] for p in folder.glob("*.bvh*")}
    assert labels["001_08"] == "climb" and labels["006_02"] == "dribble" and labels["005_02"] == "dance"
    assert labels["002_03"] == "run" and labels["002_10"] == "wash-self" and labels["007_04"] == "walk"
    data = tmp_path / "data" / "cmu_iclone"
    data.mkdir(parents=True)
    shutil.copy(folder / "007_06.bvh.xz", data)
    shutil.copy(folder / "CMU_data.csv", data)
    index = dataset.build(tmp_path / "data", tmp_path / "corpus", show_progress=False)
    (clip,) = index
    raw = read_bvh(folder / "007_06.bvh.xz")
    assert clip.action == "walk" and clip.source_fps == 60.0
    assert clip.frames == int((raw.num_frames - 2) * 30 / 60) + 1  # 60 -> 30 fps after the first frame is dropped
    _, arrays = dataset.load(tmp_path / "corpus")
    assert 0.8 < np.median(arrays["root"][:, 1]) < 1.0  # standing, not a T-pose frame


def test_character_creator_takes_are_re_posed_into_the_rigs_t_pose(shared_data):
    """The Character Creator BVHs rest in a zero pose (legs and arms pointing up): each take is re-posed
    into the rig's T-pose, also those with a Z-up root bone added above the hips, and their thighs then
    come onto the canonical body without the 24-35 degree twist the zero pose left."""
    from lmm_core.bonemap import bone_map_for
    from lmm_core.cleanup.body import bone_frames
    from lmm_core.cleanup.limits import swing_twist
    from lmm_core.canonical import canonical_skeleton
    from lmm_core.retarget import _bind_motion, retarget

    folder = shared_data / "cmu_iclone"
    if not folder.is_dir():
        pytest.skip("../shared/data/cmu_iclone is not here")
    hips = [dataset.canonical_skeleton().names.index(n) for n in ("left_hip", "right_hip")]
    rests = []
    for take in ("007_06", "001_01", "002_01"):  # the T-pose take itself; another; one with RL_BoneRoot above the hips
        path = folder / f"{take}.bvh.xz"
        raw, reposed = read_bvh(path), dataset.read_take(path, "cmu_iclone")
        assert reposed.num_frames == raw.num_frames - 1
        assert np.allclose(reposed.global_positions(), raw.global_positions()[1:], atol=1e-6)
        sk = reposed.skeleton
        rest = sk.rest_positions() - sk.rest_positions()[sk.names.index("CC_Base_Hip")]
        rests.append(rest[[sk.names.index(n) for n in ("CC_Base_L_Foot", "CC_Base_R_Hand", "CC_Base_Head")]])
        twists = []
        # Bound from its zero rest as it is (``_bind_motion``; ``bind_motion`` itself now binds such a rig as it
        # stands on a frame), then re-posed as the corpus reads it.
        for m, binding in ((raw.slice(1), _bind_motion), (reposed, None)):
            smap = bone_map_for(m.skeleton)
            canon = retarget(m, binding(m, smap) if binding else smap, canonical_skeleton(),
                             bone_map_for(canonical_skeleton(), "canonical"), fix_feet=False)
            _, tw = swing_twist(canon.rotations, bone_frames())
            twists.append(np.degrees(np.abs(np.arctan2(np.sin(tw[:, hips]).mean(0), np.cos(tw[:, hips]).mean(0)))))
        assert twists[0].max() > 20 and twists[1].max() < 10, (take, twists)
    for foot, hand, head in rests:  # standing, arms out: the same T-pose for every take
        assert foot[1] < -90 and hand[0] < -60 and abs(hand[1] - 47) < 5 and head[1] > 55
    assert np.allclose(rests[0], rests[2], atol=1e-6)


def test_another_rigs_take_is_not_re_posed_into_a_character_creator_t_pose(shared_data, test_data):
    folder = shared_data / "cmu_iclone"
    if not folder.is_dir():
        pytest.skip("../shared/data/cmu_iclone is not here")
    cmu = read_bvh(test_data / "cmu_131_03_hop_excerpt.bvh.xz")
    with pytest.raises(LMMError, match="not the rig of 007_06"):
        dataset._rest_turns(str(folder / "007_06.bvh.xz"), cmu)
    with pytest.raises(LMMError, match="is missing"):
        dataset._rest_turns(str(folder / "no_such_take.bvh.xz"), cmu)
    with pytest.raises(LMMError, match="unknown source"):
        dataset.read_take(folder / "007_06.bvh.xz", "nowhere")


def test_the_nearest_quarter_turns_are_a_rotation_within_63_degrees():
    """An axis-converting root bone's rest is turned back by the quarter turns nearest its turn: always one of
    the 24 rotations (snapping each axis alone made a non-rotation for 13% of random turns), never farther than
    62.8 degrees (the farthest any rotation lies from the nearest of them)."""
    from lmm_core import rotations as R

    assert len(dataset._quarter_turn_rotations()) == 24
    rng = np.random.default_rng(0)
    for q in R.normalize(rng.normal(size=(500, 4))):
        snapped = dataset._nearest_quarter_turns(q)
        m = R.to_matrix(snapped)
        assert np.allclose(np.abs(m).sum(axis=0), 1.0) and np.isclose(np.linalg.det(m), 1.0)
        assert np.degrees(R.angle(R.inv_mul(q, snapped))) < 62.9
    z_up = R.from_axis_angle(np.array([1.0, 0, 0]), np.radians(-86.0))  # RL_BoneRoot's turn, and a lean
    assert np.degrees(R.angle(R.inv_mul(dataset._nearest_quarter_turns(z_up),
                                        R.from_axis_angle(np.array([1.0, 0, 0]), -np.pi / 2)))) < 1e-6


def test_a_character_creator_take_of_other_proportions_or_deeper_root_is_refused_by_name(shared_data):
    """A take whose bones have other lengths than the T-pose take's, or with two bones above the hips, is not
    re-posed into that T-pose: the error names the take and the way out."""
    from dataclasses import replace

    from lmm_core import Motion, Skeleton

    folder = shared_data / "cmu_iclone"
    if not folder.is_dir():
        pytest.skip("../shared/data/cmu_iclone is not here")
    tpose = str(folder / "007_06.bvh.xz")
    m = read_bvh(folder / "001_01.bvh.xz").slice(0, 5)
    sk = m.skeleton
    offsets = sk.offsets.copy()
    knee = sk.names.index("CC_Base_L_Calf")
    offsets[knee] *= 1.2  # a longer thigh: another character
    longer = replace(m, skeleton=replace(sk, offsets=offsets))
    with pytest.raises(LMMError, match=r"001_01: CC_Base_L_Calf is .* not the same rig.*--sources"):
        dataset._rest_turns(tpose, longer, "001_01")
    # Two bones added above the hips (each at rest, the motion unchanged beneath them).
    n = sk.num_joints
    deeper_sk = Skeleton(("Top", "Mid") + sk.names, np.concatenate([[-1, 0], np.where(sk.parents < 0, 1, sk.parents + 2)]),
                         np.concatenate([np.zeros((2, 3)), sk.offsets]), sk.units, sk.up_axis)
    rot = np.concatenate([np.tile([1.0, 0, 0, 0], (m.num_frames, 2, 1)), m.rotations], axis=1)
    deeper = Motion(deeper_sk, rot, m.root_positions, m.fps)
    assert deeper.skeleton.num_joints == n + 2
    with pytest.raises(LMMError, match=r"001_01: CC_Base_Hip hangs under Mid and more bones.*--sources"):
        dataset._rest_turns(tpose, deeper, "001_01")
