"""A sampling model's flow unit measured per feature and key distance: the lookup, the measurement on
training windows, the same unit in training batches and at run time, and the weights file's table."""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from lmm_core import read_bvh
from lmm_core.errors import LMMError
from lmm_core.model import features as Fe
from lmm_core.model import tasks
from lmm_core.model.body import Body
from lmm_core.model.config import ModelConfig
from lmm_core.model.runtime import DEFAULT_MODEL, load
from lmm_core.model.sampling import UNIT_BUCKETS, distance_scale, flow_unit, unit_bucket

torch = pytest.importorskip("torch")
from lmm_core.train.batches import Prepared  # noqa: E402
from lmm_core.train.data import Batch  # noqa: E402
from lmm_core.train.stats import flow_unit_table  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def test_buckets_split_key_distances_at_powers_of_two_and_hold_no_key_in_the_last():
    d = np.array([0.0, 1, 2, 3, 4, 7, 8, 15, 16, 31, 32, 63, 64, 500, np.inf])
    np.testing.assert_array_equal(unit_bucket(d), [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 6])
    assert len(UNIT_BUCKETS) == 7


def test_a_measured_unit_is_looked_up_per_feature_and_a_missing_table_keeps_the_old_curve():
    table = np.arange(7 * Fe.FEATURES, dtype=float).reshape(7, Fe.FEATURES) + 1
    d = np.full((2, 5, Fe.FEATURES), 3.0)
    d[1, :, 4] = np.inf
    u = flow_unit(d, 8.0, table)
    assert u.shape == d.shape
    np.testing.assert_array_equal(u[0, 0], table[1])
    assert u[1, 0, 4] == table[6, 4] and u[1, 0, 5] == table[1, 5]
    np.testing.assert_array_equal(flow_unit(d, 8.0, None), distance_scale(d, 8.0))


@pytest.fixture(scope="module")
def hop_batches():
    """Prepared batches of the hop excerpt: 10 context frames, then a gap to a key (in-betweening), and a
    window with only its first frame known (generation), sampled at many offsets."""
    clip = tasks.to_canonical(read_bvh(ROOT / "tests" / "data" / "cmu_131_03_hop_excerpt.bvh.xz"), 30.0)
    W, B = 80, 12
    rng = np.random.default_rng(0)
    starts = rng.integers(0, clip.num_frames - W, size=B)
    batch = Batch(np.stack([clip.rotations[s:s + W] for s in starts]), np.stack([clip.root_positions[s:s + W] for s in starts]),
                  np.zeros((B, W, 4), dtype=bool), np.zeros(B, dtype=int), np.zeros(B, dtype=int))
    known = np.zeros((B, W, 22), dtype=bool)
    known[: B // 2, :10] = True
    known[: B // 2, 50] = True
    known[B // 2:, 0] = True
    mean, std, scale = np.zeros(Fe.FEATURES), np.ones(Fe.FEATURES), np.full(Fe.FEATURES, 0.5)
    prep = Prepared(batch, known, np.zeros(B, dtype=bool), mean, std, 16, scale, Body.from_dict(None))
    return [prep] * 3, known


def test_the_table_is_the_typical_correction_by_key_distance(hop_batches):
    preps, known = hop_batches
    table = flow_unit_table(preps, floor=1e-6, statistic="median")
    rms = flow_unit_table(preps, floor=1e-6)
    assert table.shape == (len(UNIT_BUCKETS), Fe.FEATURES) and np.all(table > 0)
    # Feature 10 (the first joint's rotation), by hand, in bucket 3 (8-15 frames from a key).
    p = preps[0]
    z = (p.target.numpy() - p.base.numpy()) / 0.5
    from lmm_core.model.window import key_distance
    d = np.stack([key_distance(k)[:, Fe.GROUP_OF_FEATURE] for k in known])
    pick = (~p.known.numpy()) & (unit_bucket(d) == 3)
    f = 10
    assert pick[..., f].sum() >= 200 / 3
    # 1.4826 times the median size (a normal's standard deviation), read from 5%-wide bins.
    np.testing.assert_allclose(table[3, f], 1.4826 * np.median(np.abs(z[..., f][pick[..., f]])), rtol=0.06)
    np.testing.assert_allclose(rms[3, f], np.sqrt(np.mean(z[..., f][pick[..., f]] ** 2)), rtol=1e-6)
    with pytest.raises(ValueError, match="rms or median"):
        flow_unit_table(preps, statistic="mean")
    # Far from keys the correction is larger than next to one, for most features.
    assert np.mean(table[5] > table[0]) > 0.8
    # A floor keeps every unit above it; too few entries anywhere is said.
    assert flow_unit_table(preps, floor=10.0).min() == 10.0
    assert flow_unit_table(preps, floor=1e-6, ceiling=0.1).max() == 0.1
    with pytest.raises(LMMError, match="fewer than 200"):
        flow_unit_table(preps[:1][:0])


def test_a_batch_poses_its_guess_in_the_measured_unit(hop_batches):
    preps, known = hop_batches
    p0 = preps[0]
    table = np.full((len(UNIT_BUCKETS), Fe.FEATURES), 3.0)
    table[:, :9] = 7.0
    B = known.shape[0]
    clipb = p0  # the same windows, now with the flow at t = 1 (no noise): the guess is the truth in units
    prep = Prepared(_batch_of(p0, known), known, np.zeros(B, dtype=bool), np.zeros(Fe.FEATURES), np.ones(Fe.FEATURES), 16,
                    np.full(Fe.FEATURES, 0.5), Body.from_dict(None), flow=(_ones_rng(), 0.0), flow_unit=table)
    from lmm_core.model.network import INPUT
    z = prep.x.numpy()[..., INPUT:INPUT + Fe.FEATURES]
    truth = (clipb.target.numpy() - clipb.base.numpy()) / 0.5 * ~clipb.known.numpy()
    np.testing.assert_allclose(z[..., :9], truth[..., :9] / 7.0, atol=1e-5)
    np.testing.assert_allclose(z[..., 9:], truth[..., 9:] / 3.0, atol=1e-5)


class _ones_rng:
    """A generator whose flow times are all 1 (no noise left), for reading the guess exactly."""

    def __init__(self):
        self._rng = np.random.default_rng(0)

    def random(self, n):
        return np.full(n, 0.999999999)

    def standard_normal(self, shape):
        return self._rng.standard_normal(shape)


def _batch_of(prep, known):
    clip = tasks.to_canonical(read_bvh(ROOT / "tests" / "data" / "cmu_131_03_hop_excerpt.bvh.xz"), 30.0)
    W, B = known.shape[1], known.shape[0]
    rng = np.random.default_rng(0)
    starts = rng.integers(0, clip.num_frames - W, size=B)
    return Batch(np.stack([clip.rotations[s:s + W] for s in starts]), np.stack([clip.root_positions[s:s + W] for s in starts]),
                 np.zeros((B, W, 4), dtype=bool), np.zeros(B, dtype=int), np.zeros(B, dtype=int))


def _save(path: Path, arrays: dict, meta: dict) -> Path:
    arrays = dict(arrays)
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    with open(path, "wb") as f:
        np.savez(f, **arrays)
    return path


def test_a_weights_file_with_a_measured_unit_must_carry_its_table(tmp_path):
    with np.load(DEFAULT_MODEL) as z:
        arrays = {k: z[k] for k in z.files if not k.startswith("bank_")}
    meta = json.loads(arrays.pop("meta").tobytes().decode())
    cfg = ModelConfig.from_dict(meta["model_config"])
    sampling = replace(cfg, sampling=True, flow_unit=True)
    from lmm_core.train.checkpoint import fit_inputs
    from lmm_core.train.network import Network
    weights = {k: torch.as_tensor(v) for k, v in arrays.items() if k.startswith("p.")}
    net = Network(sampling)
    net.load_state_dict(fit_inputs(weights, cfg, sampling))
    new = {f"p.{k}": v for k, v in net.numpy_parameters().items()}
    new |= {k: arrays[k] for k in ("mean", "std", "scale")}
    meta["model_config"] = json.loads(sampling.to_json())
    with pytest.raises(LMMError, match=r"lacks 1 array.*flow_unit"):
        load(_save(tmp_path / "no_table.npz", new, meta))
    bad = np.full((len(UNIT_BUCKETS), Fe.FEATURES), 1.0)
    bad[2, 3] = 0.0
    with pytest.raises(LMMError, match="flow_unit must be positive"):
        load(_save(tmp_path / "zero.npz", new | {"flow_unit": bad}, meta))
    good = np.full((len(UNIT_BUCKETS), Fe.FEATURES), 2.0)
    m = load(_save(tmp_path / "good.npz", new | {"flow_unit": good}, meta))
    assert m.cfg.flow_unit and m.flow_unit.shape == good.shape


def test_a_model_that_reads_its_guess_in_output_units_sees_the_correction_it_must_write(hop_batches):
    """At t = 1 the guess it reads is exactly the output that returns the truth: ``(target - base) /
    scale / gate``; so reading its guess back is the identity whatever the entry's unit."""
    preps, known = hop_batches
    B = known.shape[0]
    table = np.full((len(UNIT_BUCKETS), Fe.FEATURES), 3.0)
    table[:, :9] = 40.0
    prep = Prepared(_batch_of(preps[0], known), known, np.zeros(B, dtype=bool), np.zeros(Fe.FEATURES), np.ones(Fe.FEATURES),
                    16, np.full(Fe.FEATURES, 0.5), Body.from_dict(None), flow=(_ones_rng(), 0.0), flow_unit=table,
                    guess_in_output_units=True)
    from lmm_core.model.network import INPUT
    z = prep.x.numpy()[..., INPUT:INPUT + Fe.FEATURES]
    unknown = ~prep.known.numpy()
    gate = np.where(unknown, prep.gate.numpy(), 1.0)  # known entries are at a key: gate 0, no guess
    out = (prep.target.numpy() - prep.base.numpy()) / 0.5 / gate
    np.testing.assert_allclose(z[unknown], out[unknown], rtol=1e-4, atol=1e-4)
    assert (z[~unknown] == 0).all()
    from lmm_core.model.sampling import guess_input
    g = np.random.default_rng(0).normal(size=(4, 6))
    np.testing.assert_array_equal(guess_input(g, np.full((4, 6), 5.0), np.ones((4, 6)), False), g)


def test_flow_options_without_sampling_are_refused():
    from lmm_core.train.config import TrainConfig
    for opts in ({"flow_unit": True}, {"flow_skip": True}, {"guess_in_output_units": True}):
        with pytest.raises(LMMError, match="add --sampling"):
            TrainConfig(**opts)
    TrainConfig(sampling=True, flow_unit=True, flow_unit_statistic="median")  # fine


@pytest.mark.parametrize("output_units", [False, True])
def test_a_draw_reads_its_guess_in_the_tables_unit(output_units):
    """The runtime poses the guess as training does: noise in the table's unit, read as ``guess_input``
    (flow units, or the network's own output units); and the step back to flow units divides by the same
    unit, so a network that returns its guess (in output units) keeps it."""
    import lmm_core.model.runtime as rt
    from lmm_core.model import network
    from lmm_core.model.sampling import guess_input, noise
    from lmm_core.model.window import key_distance
    from lmm_core.train.network import Network

    cfg = ModelConfig(d_model=32, layers=1, heads=4, actions=("<unknown>", "walk"), styles=("<unknown>",), sampling=True,
                      noise_frames=3.0, flow_unit=True, guess_in_output_units=output_units, baseline="hermite")
    table = np.linspace(0.5, 3.0, len(UNIT_BUCKETS))[:, None] * np.linspace(1.0, 2.0, Fe.FEATURES)[None]
    model = rt.Model(Network(cfg).numpy_parameters(), cfg, np.zeros(Fe.FEATURES), np.ones(Fe.FEATURES),
                     scale=np.full(Fe.FEATURES, 0.5), flow_unit=table)
    clip = tasks.to_canonical(read_bvh(ROOT / "tests" / "data" / "cmu_131_03_hop_excerpt.bvh.xz"), 30.0).slice(0, 40)
    known = np.zeros((40, 22), dtype=bool)
    known[:10] = known[35:] = True
    seen = []
    real = rt.network.forward

    def spy(p, c, x, a, s):
        seen.append(x[0].copy())
        return real(p, c, x, a, s)

    rt.network.forward = spy
    try:
        model._one_pass(clip.rotations, clip.root_positions, known, 1, 0, rt.Sample.seeded(5, steps=1))
    finally:
        rt.network.forward = real
    win = model.prepare(clip.rotations, clip.root_positions, known)
    unknown = ~win.known
    unit = flow_unit(key_distance(known)[:, Fe.GROUP_OF_FEATURE], cfg.flow_scale_frames, table)
    z0 = noise(np.random.default_rng(5), win.base.shape, cfg.noise_frames) * unknown
    split = network.INPUT
    np.testing.assert_allclose(seen[0][:, split:split + Fe.FEATURES], guess_input(z0, unit, win.gate, output_units),
                               rtol=1e-5, atol=1e-5)
    read = seen[0][:, split:split + Fe.FEATURES]
    # In flow units the network reads the noise itself; in output units, scaled by unit / gate per entry.
    assert np.allclose(read, z0, atol=1e-5) != output_units


def test_training_measures_the_table_and_keeps_it_through_export_and_warm_start(tmp_path, hop_corpus):
    """`lmm train --sampling --flow-unit` on a corpus of the shipped clips: the checkpoint and the exported
    file carry the table; a warm start keeps it unchanged, and asking it to measure again is refused."""
    from lmm_core.model import runtime
    from lmm_core.train import checkpoint
    from lmm_core.train.config import TrainConfig
    from lmm_core.train.export import export
    from lmm_core.train.loop import train

    corpus = hop_corpus
    cfg = TrainConfig(corpus=str(corpus), sources=("cmu",), out=str(tmp_path / "run"), batch=8, steps=1, windows=(64,),
                      sampling=True, flow_unit=True, stats_windows=32, threads=1, task_mix=(0.3, 0.2, 0.3, 0.0, 0.2))
    ckpt = train(cfg, show_progress=False)
    table = checkpoint.read(ckpt)["flow_unit"]
    assert table.shape == (len(UNIT_BUCKETS), Fe.FEATURES) and np.all(table >= 0.02) and np.all(table <= 64.0)
    assert np.median(table[-1]) > np.median(table[0])  # far from keys the correction is larger
    model = runtime.load(export(ckpt, tmp_path / "m.npz", bank=False))
    assert model.cfg.flow_unit and np.array_equal(model.flow_unit, table)
    again = replace(cfg, out=str(tmp_path / "run2"), flow_unit=False, init_from=str(tmp_path / "m.npz"))
    np.testing.assert_array_equal(checkpoint.read(train(again, show_progress=False))["flow_unit"], table)
    with pytest.raises(LMMError, match="already has a measured flow unit"):
        train(replace(again, out=str(tmp_path / "run3"), flow_unit=True), show_progress=False)
