"""Training windows for the sampling model: goal windows (root keys), pushed contexts that recover, and
the flow's unit that grows away from the keys, the same in training and at run time."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lmm_core import LMMError, read_bvh
from lmm_core.bench.recovery import angle_between, pushed, torso_up
from lmm_core.model.sampling import MAX_DISTANCE_SCALE, distance_scale
from lmm_core.model.tasks import to_canonical
from lmm_core.train.data import TASKS, Batch, perturb, push, push_weights, task_masks

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def clip():
    c = to_canonical(read_bvh(ROOT / "tests" / "data" / "cmu_131_03_hop_excerpt.bvh.xz"), 30.0)
    return c


def test_the_flow_unit_is_one_near_keys_and_grows_to_its_cap():
    d = np.array([0.0, 4.0, 8.0, 16.0, 64.0, 1000.0, np.inf])
    np.testing.assert_allclose(distance_scale(d, 8.0), [1, 1, 1, 2, 8, MAX_DISTANCE_SCALE, MAX_DISTANCE_SCALE])
    np.testing.assert_array_equal(distance_scale(d, 0.0), np.ones(7))  # older models: no scale


def test_generation_windows_include_walks_to_a_point_and_root_paths():
    rng = np.random.default_rng(0)
    mix = tuple(1.0 if t == "generate" else 0.0 for t in TASKS)
    known, _, _ = task_masks(rng, 400, 128, mix)
    root_only = known[:, :, 0] & ~known[:, :, 1:].any(axis=2)
    keys = root_only[:, 1:].sum(axis=1)
    assert known[:, 1:, 1:].sum() == 0  # only the first frame is ever a whole pose
    one_key, path = (keys == 1).mean(), (keys >= 3).mean()
    assert 0.1 < one_key < 0.3 and 0.1 < path < 0.3
    first = np.argmax(root_only[keys == 1, 1:], axis=1) + 1
    assert first.min() >= 30 and first.max() <= 120


def test_a_push_leans_the_torso_and_keeps_the_legs(clip):
    rot = clip.rotations[:50]
    w = push_weights(50, 34, 10)
    assert w[:29].max() == 0 and w[34] == 1 and w[44:].max() == 0  # in over 5 frames, out over 10
    bent = push(rot, np.array([1.0, 0.0, 0.0]), 30.0, w)
    lean = angle_between(torso_up(bent), torso_up(rot))
    assert lean[:29].max() < 1e-6 and abs(lean[34] - 30.0) < 1.5 and lean[-1] < 1e-6
    from lmm_core import rotations as R
    thigh = lambda r, hip: R.mul(r[:, 0], r[:, hip])  # noqa: E731  (the thigh's world rotation)
    for hip in (1, 2):
        np.testing.assert_allclose(np.abs(np.sum(thigh(bent, hip) * thigh(rot, hip), axis=-1)), 1.0, atol=1e-9)
    # The benchmark's push is the same lean, whole at the context's last frame.
    assert abs(angle_between(torso_up(pushed(rot, 20.0, 0.0)[-1:]), torso_up(rot[-1:]))[0] - 20.0) < 1.0


def test_only_completion_windows_are_pushed(clip):
    rng = np.random.default_rng(2)
    B, W = 6, 64
    rot = np.repeat(clip.rotations[None, :W], B, axis=0).copy()
    batch = Batch(rot.copy(), np.zeros((B, W, 3)), np.zeros((B, W, 4), bool), np.zeros(B, int), np.zeros(B, int))
    known = np.zeros((B, W, 22), dtype=bool)
    known[0, :20] = True          # completion: pushable
    known[1, :20] = True
    known[1, 40] = True           # a key later: in-betweening, not pushed
    known[2, :3] = True           # too little context
    known[3, :20, 0] = True       # root only: not whole frames
    known[4, :20] = True          # an intent window (labels hidden): its poses name the action, not pushed
    hide = np.zeros(B, dtype=bool)
    hide[4] = True
    assert perturb(rng, batch, known, share=1.0, hide=hide) == 1
    assert not np.allclose(batch.rotations[0], rot[0])
    for b in range(1, B):
        np.testing.assert_array_equal(batch.rotations[b], rot[b])


def test_the_skip_takes_none_of_the_guess_at_t0_and_all_of_it_at_the_end():
    from lmm_core.model.sampling import skip_weight
    np.testing.assert_allclose(skip_weight(np.array([0.0, 0.5, 1.0])), [0.0, 1.0, 1.0])
    assert 0 < skip_weight(0.25) < 1


def test_a_skip_model_is_the_same_regressor_at_t0_and_keeps_keys_when_drawing(clip):
    """``flow_skip`` changes nothing in the deterministic mode (t = 0 takes none of the guess), and a draw
    still returns the keys exactly."""
    from dataclasses import replace

    from lmm_core.model import runtime, tasks
    from lmm_core.model.runtime import Sample
    m = runtime.load(ROOT / "presets" / "models" / "lmm_sampling.npz")
    skip = runtime.Model(m.params, replace(m.cfg, flow_skip=True), m.mean, m.std, None, None, None, m.scale, m.vel_std)
    known = np.zeros(60, dtype=bool)
    known[:10] = known[59] = True
    a = m.fill(clip.rotations[:60], clip.root_positions[:60], known)
    b = skip.fill(clip.rotations[:60], clip.root_positions[:60], known)
    np.testing.assert_array_equal(a[0], b[0])
    r, p, _ = skip.fill(clip.rotations[:60], clip.root_positions[:60], known, sample=Sample.seeded(2))
    np.testing.assert_allclose(r[known], clip.rotations[:60][known], atol=1e-9)
    assert not np.allclose(r, a[0])


def test_pace_augmentation_plays_each_window_at_its_own_speed():
    """``--speed-augment S``: a clip walking at a steady 1.5 cm/frame comes out of each window at its own
    pace between 1/(1+S) and 1+S times that, steady within the window; rotations stay unit quaternions on
    the path between captured frames; contacts come from the nearest captured frame; and S = 0 draws exactly
    the plain windows."""
    from lmm_core import rotations as R
    from lmm_core.train.data import Corpus

    frames = 300
    t = np.arange(frames, dtype=float)
    rot = np.tile(R.identity(), (frames, 22, 1))
    rot[:, 3] = R.from_axis_angle(np.array([1.0, 0.0, 0.0]), 0.01 * t)  # a knee bending steadily
    root = np.stack([np.zeros(frames), np.full(frames, 0.9), 0.015 * t], axis=1)
    con = np.zeros((frames, 4), dtype=bool)
    con[:, 0] = (t.astype(int) // 10) % 2 == 0
    one = np.array([1])
    corpus = Corpus(["walk"], rot, root, con, np.array([frames]), one, one, one, (rot, root, con))
    b = corpus.sample(np.random.default_rng(0), 200, 40, mirror=False, speed=0.25)
    step = np.diff(b.root[..., 2], axis=1)  # (B, 39)
    pace = step[:, 0] / 0.015
    np.testing.assert_allclose(step, step[:, :1].repeat(39, axis=1), atol=1e-9)
    assert pace.min() >= 1 / 1.25 - 1e-9 and pace.max() <= 1.25 + 1e-9
    assert (pace < 0.9).mean() > 0.2 and (pace > 1.1).mean() > 0.2
    np.testing.assert_allclose(np.linalg.norm(b.rotations, axis=-1), 1.0, atol=1e-9)
    angle = R.to_scaled_axis(b.rotations[:, :, 3])[..., 0]
    np.testing.assert_allclose(np.diff(angle, axis=1), 0.01 * pace[:, None].repeat(39, axis=1), atol=1e-9)
    captured = np.round(b.root[..., 2] / 0.015).astype(int)
    np.testing.assert_array_equal(b.contacts[..., 0], con[captured, 0])
    # S = 0: the draws of the sampler before the option (one clip choice, offsets, mirror coins, in that order),
    # so every earlier run's batch stream is unchanged.
    plain = corpus.sample(np.random.default_rng(5), 8, 40, speed=0.0)
    rng = np.random.default_rng(5)
    valid = np.array([frames - 40 + 1])
    clip = rng.choice(1, size=8, p=valid / valid.sum())
    offset = (rng.random(8) * valid[clip]).astype(int)
    np.testing.assert_array_equal(plain.root, root[offset[:, None] + np.arange(40)])
    with pytest.raises(LMMError, match="260 at up to 1.25 times the pace: --speed-augment"):
        corpus.sample(np.random.default_rng(0), 2, 260, speed=0.25)


def test_balance_draws_rarer_actions_windows_more_often():
    """``--balance P``: each clip's windows weigh (its action's frames) ** -P. A corpus of 900 frames of one
    action and 100 of another: at 0 a window is the rare action's a tenth of the time; at 1 half the time;
    at 0.5 a quarter (1 / (1 + sqrt(9)))."""
    from lmm_core import rotations as R
    from lmm_core.train.data import Corpus, action_weights

    lengths = np.array([300, 300, 300, 100])
    frames = int(lengths.sum())
    rot = np.tile(R.identity(), (frames, 22, 1))
    root = np.zeros((frames, 3))
    con = np.zeros((frames, 4), dtype=bool)
    action = np.array([1, 1, 1, 2])
    corpus = Corpus(["a", "b", "c", "d"], rot, root, con, lengths, action, action, np.ones(4, int), (rot, root, con))
    np.testing.assert_allclose(action_weights(corpus, 0.0), 1.0)
    for balance, rare in ((0.0, 0.1), (0.5, 0.25), (1.0, 0.5)):
        w = action_weights(corpus, balance)
        np.testing.assert_allclose((w * lengths).sum(), frames)  # mean 1 over the frames
        b = corpus.sample(np.random.default_rng(1), 20000, 1, weights=w)
        assert abs(np.mean(b.action == 2) - rare) < 0.015, (balance, np.mean(b.action == 2))
