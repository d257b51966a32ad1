"""The judge of generated motion: features of real windows, a classifier trained on them, Fréchet
distance, diversity and nearest-window novelty."""
from __future__ import annotations

import numpy as np
import pytest

from lmm_core import read_bvh
from lmm_core.bench import generation as G
from lmm_core.model import tasks


@pytest.fixture(scope="module")
def two_kinds(test_data):
    """A hop (CMU) and an idle (ReActIdle) on the canonical body at 30 fps."""
    out = {}
    for kind, name in (("hop", "cmu_131_03_hop_excerpt.bvh.xz"), ("idle", "reactidle_001_acted_excerpt.bvh.xz")):
        c = tasks.to_canonical(read_bvh(test_data / name), 30.0)
        out[kind] = (c.rotations, c.root_positions)
    return out


def test_features_do_not_depend_on_where_the_character_stands_or_faces(two_kinds):
    from lmm_core import rotations as R

    rot, root = two_kinds["idle"][0][:60], two_kinds["idle"][1][:60]
    turn = R.from_axis_angle(np.array([0.0, 1.0, 0.0]), 1.2)
    moved_rot = rot.copy()
    moved_rot[:, 0] = R.mul(turn, rot[:, 0])
    moved_root = R.mul_vec(turn, root) + [3.0, 0.0, -2.0]
    f = G.window_features(rot, root)
    assert f.shape == (G.FEATURES_PER_WINDOW,)
    np.testing.assert_allclose(G.window_features(moved_rot, moved_root), f, atol=1e-6)
    np.testing.assert_allclose(G.pose_trace(moved_rot, moved_root), G.pose_trace(rot, root), atol=1e-6)


def test_the_classifier_tells_a_hop_from_an_idle_and_the_distances_behave(two_kinds):
    feats, labels, traces = [], [], []
    for i, kind in enumerate(("hop", "idle")):
        for w in G.windows_of(*two_kinds[kind], stride=5):
            feats.append(G.window_features(*w))
            labels.append(i)
            traces.append(G.pose_trace(*w))
    feats, labels = np.array(feats), np.array(labels)
    clf = G.Classifier(feats, labels, ("hop", "idle"), steps=200)
    assert np.mean(clf.predict(feats) == labels) > 0.95
    hop, idle = clf.standardise(feats[labels == 0]), clf.standardise(feats[labels == 1])
    assert G.frechet(idle, idle) == pytest.approx(0.0, abs=1e-3)
    assert G.frechet(idle[: len(idle) // 2], idle[len(idle) // 2:]) < G.frechet(hop, idle)
    bank = np.array(traces)
    assert np.allclose(G.nearest(bank[:3], bank), 0.0, atol=1e-6)  # a copy is no distance from its source
    assert (G.nearest(bank[:3] + 0.1, bank) > 0.05).all()
    rot, root = two_kinds["idle"]
    assert G.diversity([(rot, root), (rot, root)]) == 0.0
    assert G.diversity([two_kinds["hop"], (rot[:90], root[:90])]) > 0.05
