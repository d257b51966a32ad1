"""The protocol on canonical-body clips, and the hook that loads our model."""
from __future__ import annotations

import numpy as np
import pytest

from lmm_core import LMMError, canonical
from lmm_core.model import runtime
from lmm_core.bench.baselines import interpolation
from lmm_core.bench.harness import training_stats
from lmm_core.bench.inbetween import ROOT_FORWARD, canonical_clips, load_model_inbetweener, run_inbetween
from lmm_core.bench.metrics import save_stats

SK = canonical.canonical_skeleton()


@pytest.fixture(scope="module")
def clips(test_data):
    return canonical_clips(test_data / "reactidle_001_acted_excerpt.bvh.xz")


def test_folder_clips_are_on_the_canonical_body_at_30_fps(clips):
    (clip,) = clips
    assert clip.rotations.shape == (299, SK.num_joints, 4)  # 240 frames at 24 fps span 9.96 s: 299 at 30 fps
    assert 0.7 < np.median(clip.root[:, 1]) < 1.1  # a standing pelvis, in metres


def test_run_on_a_folder_with_a_model(clips, test_data, tmp_path, monkeypatch):
    stats = save_stats(tmp_path / "s.npz", *training_stats(clips, SK, ROOT_FORWARD))
    calls = []

    class FakeModel:  # what lmm_core.model.runtime.load will return
        skeleton = SK

        def inbetween(self, rotations, root, known, fps=30.0):
            calls.append(fps)
            return interpolation(rotations, root, known)

    monkeypatch.setattr(runtime, "load", lambda path: FakeModel())
    (tmp_path / "model.npz").write_bytes(b"")
    model = load_model_inbetweener(tmp_path / "model.npz", SK)
    res = run_inbetween(str(test_data / "reactidle_*.bvh.xz"), model=model, stats=stats)
    assert set(res) == {"zerovel", "interp", "model"}
    assert res["model"] == res["interp"] and set(calls) == {30.0}
    assert res["interp"]["L2P"]["5"] < res["zerovel"]["L2P"]["5"]


def test_model_hook_errors(tmp_path):
    with pytest.raises(LMMError, match="not found"):
        load_model_inbetweener(tmp_path / "none.npz", SK)
    (tmp_path / "m.npz").write_bytes(b"not a model")
    with pytest.raises(LMMError, match=r"m.npz: is not an .npz archive"):
        load_model_inbetweener(tmp_path / "m.npz", SK)


def test_missing_statistics_or_corpus_are_named(tmp_path):
    with pytest.raises(LMMError, match="--test"):
        run_inbetween()
    with pytest.raises(LMMError, match="not a built corpus"):
        run_inbetween(corpus=tmp_path)
