"""The LAFAN1 benchmark end to end on a real file, and its command line."""
from __future__ import annotations

import argparse
import json

import numpy as np
import pytest

from lmm_core import LMMError
from lmm_core.bench.cli import add_bench_arguments, run_bench
from lmm_core.bench.harness import training_stats
from lmm_core.bench.lafan1 import ROOT_FORWARD, read_clips, run_lafan1, subject_of
from lmm_core.bench.metrics import save_stats

FILE = "push1_subject2.bvh.xz"  # the shortest LAFAN1 file here: 3066 frames, 76 test windows


def bench(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="lmm bench")
    add_bench_arguments(parser)
    return run_bench(parser.parse_args(list(argv)))


@pytest.fixture(scope="module")
def lafan_file(shared_data):
    path = shared_data / "lafan1" / FILE
    if not path.exists():
        pytest.skip(f"{path} not found")
    return path


@pytest.fixture(scope="module")
def stats_file(lafan_file, tmp_path_factory):
    skeleton, clips = read_clips([lafan_file])
    return save_stats(tmp_path_factory.mktemp("stats") / "stats.npz", *training_stats(clips, skeleton, ROOT_FORWARD))


def test_subjects_come_from_file_names(tmp_path):
    assert subject_of(tmp_path / "walk1_subject5.bvh") == 5
    assert subject_of(tmp_path / "dance2_subject12.bvh.xz") == 12
    assert subject_of(tmp_path / "walk1.bvh") is None


def test_interpolation_beats_zero_velocity_on_a_real_file(lafan_file, stats_file, tmp_path):
    out = tmp_path / "res.json"
    assert bench("lafan1", "--test", str(lafan_file), "--test-subjects", "2", "--stats", str(stats_file),
                 "--json", str(out)) == 0
    res = json.loads(out.read_text())
    assert set(res) == {"zerovel", "interp"}
    for method in res.values():
        assert set(method) == {"L2Q", "L2P", "NPSS"}
        for metric in method.values():
            assert set(metric) == {"5", "15", "30", "45"}
            assert all(np.isfinite(v) and v > 0 for v in metric.values())
            assert metric["5"] < metric["15"] < metric["30"] < metric["45"]  # longer gaps are harder
    assert res["interp"]["L2P"]["30"] < 0.6 * res["zerovel"]["L2P"]["30"]
    for metric in ("L2Q", "L2P", "NPSS"):
        assert all(res["interp"][metric][n] < res["zerovel"][metric][n] for n in ("5", "15", "30", "45"))
    # Same order of magnitude as the published interpolation (L2P@30 2.32 on subject 5).
    assert 0.5 < res["interp"]["L2P"]["30"] < 5.0


def test_bad_inputs_give_clear_errors(lafan_file, stats_file, tmp_path):
    with pytest.raises(LMMError, match="no BVH files"):
        bench("lafan1", "--test", str(tmp_path), "--stats", str(stats_file))
    with pytest.raises(LMMError, match="subjects present: 2"):
        bench("lafan1", "--test", str(lafan_file), "--stats", str(stats_file))  # default test subject is 5
    with pytest.raises(LMMError, match="no BVH files match"):
        bench("lafan1", "--test", str(tmp_path / "*_subject5.bvh"), "--stats", str(stats_file))
    with pytest.raises(LMMError, match="--train"):
        bench("lafan1", "--test", str(lafan_file), "--test-subjects", "2")
    with pytest.raises(LMMError, match="both the training and the test"):
        run_lafan1(lafan_file, lafan_file, train_subjects=(2,), test_subjects=(2,))
    with pytest.raises(LMMError, match="x_mean"):
        np.savez(tmp_path / "wrong.npz", mean=np.zeros(66))
        bench("lafan1", "--test", str(lafan_file), "--test-subjects", "2", "--stats", str(tmp_path / "wrong.npz"))
