"""``lmm bench blocking``: keys only, as an animator blocks, scored against the capture."""
from __future__ import annotations

import numpy as np
import pytest

from lmm_core import read_bvh
from lmm_core.bench.blocking import SETTINGS, Group, key_mask, run_blocking, windows
from lmm_core.cli import main
from lmm_core.model import tasks


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
    assert longest == 299 and set(res) == {name for name, _, length in SETTINGS if length <= longest}
    for row in res.values():
        assert row["interp"]["error_ratio"] == pytest.approx(1.0)
        c = row["capture"]
        assert c["error_m"] == 0.0 and c["error_ratio"] == 0.0
        assert c["acc99"] == pytest.approx(c["acc99_capture"]) and c["key_jump"] == pytest.approx(c["key_jump_capture"])
        assert c["skate"] == pytest.approx(c["skate_capture"])
    # Interpolation runs straight between keys and turns at them: its velocity jumps at keys beyond the
    # capture's, and its accelerations elsewhere are below the capture's.
    for setting in ("every 8", "every 15"):
        v = res[setting]["interp"]
        assert v["error_m"] > 0 and v["key_jump"] > v["key_jump_capture"] and v["acc99"] < v["acc99_capture"]


def test_the_command_line_scores_the_shipped_model_on_a_corpus(tmp_path, capsys):
    assert main(["bench", "blocking", "--corpus", str(tmp_path / "none")]) == 2
    assert "not a built corpus" in capsys.readouterr().err
    assert main(["bench", "blocking", "--corpus", str(tmp_path), "--windows", "0"]) == 2
    assert "--windows must be from 1 to 10000, got 0" in capsys.readouterr().err
