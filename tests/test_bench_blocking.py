"""``lmm bench blocking``: keys only, as an animator blocks, scored against the capture."""
from __future__ import annotations

import numpy as np
import pytest

from lmm_core import read_bvh
from lmm_core.bench.blocking import SETTINGS, Group, key_mask, run_blocking, windows
from lmm_core.cli import main
from lmm_core.model import tasks
from lmm_core.model.next_frame import DEFAULT as NEXT_FRAME_GENERATOR


def test_key_masks_and_windows():
    assert np.flatnonzero(key_mask(121, 30)).tolist() == [0, 30, 60, 90, 120]
    assert np.flatnonzero(key_mask(31, 30)).tolist() == [0, 30]
    assert np.flatnonzero(key_mask(20, 8)).tolist() == [0, 8, 16, 19]  # the last frame is always a key
    clips = [("a", np.zeros((250, 22, 4)), np.zeros((250, 3))), ("b", np.zeros((100, 22, 4)), np.zeros((100, 3)))]
    assert len(windows(clips, 121, 10)) == 2  # two of a (0, 121), none of b (too short)
    assert len(windows(clips, 31, 3)) == 3 and len(windows(clips, 31, 99)) == 8 + 3


@pytest.fixture(scope="module")
def takes(test_data):
    clips = [tasks.to_canonical(read_bvh(test_data / name), 30.0)
             for name in ("cmu_131_03_hop_excerpt.bvh.xz", "reactidle_001_acted_excerpt.bvh.xz")]
    return Group("takes", [(f"take{i}", c.rotations, c.root_positions) for i, c in enumerate(clips)])


def test_interpolation_is_its_own_reference_and_the_capture_scores_as_itself(takes):
    capture = {"capture": lambda rot, root, known, i: (rot, root)}
    res = run_blocking([takes], capture, per_setting=2)["takes"]
    longest = max(len(root) for _, _, root in takes.clips)
    assert set(res) == {name for name, _, length in SETTINGS if length <= longest} and "gap 120" in res
    for row in res.values():
        assert row["interp"]["error_ratio"] == pytest.approx(1.0)
        c = row["capture"]
        assert c["error_m"] == 0.0 and c["error_ratio"] == 0.0
        assert c["acc99"] == pytest.approx(c["acc99_capture"]) and c["key_jump"] == pytest.approx(c["key_jump_capture"])
        assert c["skate"] == pytest.approx(c["skate_capture"])
        assert c["stance_speed"] == pytest.approx(c["stance_speed_capture"]) and c["both_up"] == pytest.approx(c["both_up_capture"])
        assert c["stance_ratio"] == pytest.approx(1.0) or c["stance_speed_capture"] < 1e-3
    # Feet held off the floor: the skate ratio cannot see them (no foot within the ground band moves), the
    # height-blind columns do: every frame has both toes up.
    floating = {"floating": lambda rot, root, known, i: (rot, root + np.where(~known[:, None], [0.0, 0.3, 0.0], 0.0))}
    up = run_blocking([takes], floating, per_setting=2)["takes"]
    for setting in ("gap 30", "gap 120"):  # held up for a whole long gap too (the ground is the capture's)
        assert up[setting]["floating"]["both_up"] == pytest.approx(1.0, abs=0.05) and up[setting]["floating"]["both_up_capture"] < 0.5
    # Interpolation runs straight between keys and turns at them: its velocity jumps at keys beyond the
    # capture's, and its accelerations elsewhere are below the capture's.
    for setting in ("every 8", "every 15"):
        v = res[setting]["interp"]
        assert v["error_m"] > 0 and v["key_jump"] > v["key_jump_capture"] and v["acc99"] < v["acc99_capture"]


def test_the_command_line_scores_the_shipped_model_on_a_corpus(test_data, tmp_path, capsys):
    """A corpus of the two shipped clips, both held out (no LAFAN1 in it): the shipped model is scored on
    every setting its takes are long enough for, and the JSON holds what the table shows."""
    import json
    import shutil

    from lmm_core import dataset

    data = tmp_path / "data"
    (data / "cmu").mkdir(parents=True)
    (data / "reactidle" / "acted").mkdir(parents=True)
    shutil.copy(test_data / "cmu_131_03_hop_excerpt.bvh.xz", data / "cmu" / "131_03.bvh.xz")
    shutil.copy(test_data / "reactidle_001_acted_excerpt.bvh.xz", data / "reactidle" / "acted" / "001_acted.bvh.xz")
    index = dataset.build(data, tmp_path / "corpus", show_progress=False)
    for c in index:
        c.split = "val"
    (tmp_path / "corpus" / "index.json").write_text(json.dumps({"fps": 30.0, "clips": [c.__dict__ for c in index]}))
    assert main(["bench", "blocking", "--corpus", str(tmp_path / "corpus"), "--windows", "1",
                 "--json", str(tmp_path / "r.json")]) == 0
    res = json.loads((tmp_path / "r.json").read_text())
    assert list(res) == ["in-domain", "in-domain, 0.3 m up"] and "every 30" in res["in-domain"]
    row = res["in-domain"]["every 30"]
    assert set(row) == {"interp", "model"} and row["model"]["windows"] == 1 and row["model"]["error_m"] > 0
    # Raised, the same window is made as well as on the floor (the window's own ground, model/floor.py).
    up = res["in-domain, 0.3 m up"]["every 30"]["model"]["error_m"]
    assert up == pytest.approx(row["model"]["error_m"], rel=0.25)  # shown as it stands: 5-8 times worse
    assert "every 30" in capsys.readouterr().out
    # The shipped next-frame in-betweener on the same windows: scored the same way, and as well raised.
    assert main(["bench", "blocking", "--corpus", str(tmp_path / "corpus"), "--windows", "1", "--method", "next-frame",
                 "--json", str(tmp_path / "nf.json")]) == 0
    nf = json.loads((tmp_path / "nf.json").read_text())
    row = nf["in-domain"]["every 30"]
    assert set(row) == {"interp", "model", "sampled"} and row["model"]["error_m"] > 0
    assert nf["in-domain, 0.3 m up"]["every 30"]["model"]["error_m"] == pytest.approx(row["model"]["error_m"], rel=0.25)
    capsys.readouterr()
    assert main(["bench", "blocking", "--corpus", str(tmp_path / "corpus"), "--method", "next-frame",
                 "--next-frame-model", str(NEXT_FRAME_GENERATOR)]) == 2
    assert "does not in-between" in capsys.readouterr().err
    assert main(["bench", "blocking", "--corpus", str(tmp_path / "none")]) == 2
    assert "not a built corpus" in capsys.readouterr().err
    assert main(["bench", "blocking", "--corpus", str(tmp_path), "--windows", "0"]) == 2
    assert "--windows must be from 1 to 10000, got 0" in capsys.readouterr().err
