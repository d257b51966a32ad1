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
