"""A model with modes (model/modes.py): numpy/torch parity, the warm start that copies the average into
every mode, the winner-takes-all losses, a draw that returns one mode whole, the weights file's arrays,
the option errors, and a real training run."""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from lmm_core import read_bvh
from lmm_core.errors import LMMError
from lmm_core.model import modes, network, runtime, tasks
from lmm_core.model.config import ModelConfig
from lmm_core.model.features import FEATURES

torch = pytest.importorskip("torch")
from lmm_core.train import checkpoint  # noqa: E402
from lmm_core.train.config import TrainConfig  # noqa: E402
from lmm_core.train.network import Network  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CFG = ModelConfig(d_model=32, layers=1, heads=4, actions=("<unknown>", "walk"), styles=("<unknown>", "normal"), modes=3)
OUT = FEATURES + network.CONTACTS


def _net(cfg: ModelConfig = CFG, seed: int = 0) -> Network:
    torch.manual_seed(seed)
    net = Network(cfg)
    with torch.no_grad():  # heads start at zero (the average) or near it (modes); make their outputs differ
        for k in ("head_w", "head_b", "mode_w", "mode_b", "choice_w", "choice_b"):
            if k in net.p:
                net.p[k].normal_(0, 0.05)
    return net


def test_numpy_and_torch_agree_on_every_mode_and_the_choice():
    net = _net()
    x = np.random.default_rng(1).normal(size=(2, 20, network.input_size(CFG))).astype(np.float32)
    a, s = np.array([0, 1]), np.array([1, 0])
    out, act, sty, mode_out, choice = network.forward_modes(net.numpy_parameters(), CFG, x, a, s)
    with torch.no_grad():
        t = net(torch.as_tensor(x), torch.as_tensor(a), torch.as_tensor(s))
    assert len(t) == 5 and mode_out.shape == (2, 3, 20, OUT) and choice.shape == (2, 3)
    for mine, theirs in zip((out, act, sty, mode_out, choice), t):
        np.testing.assert_allclose(mine, theirs.numpy(), atol=1e-4)
    # The plain forward pass is the average's, the same as before modes existed.
    np.testing.assert_allclose(network.forward(net.numpy_parameters(), CFG, x, a, s)[0], out, atol=1e-6)
    # Mode k's frame outputs are columns k * OUT .. (k + 1) * OUT of mode_w.
    h = network.trunk(net.numpy_parameters(), CFG, x, a, s)
    p = net.numpy_parameters()
    np.testing.assert_allclose(mode_out[:, 2], h[:, 3:] @ p["mode_w"][:, 2 * OUT:] + p["mode_b"][2 * OUT:], atol=1e-5)


def test_a_warm_start_copies_the_average_into_every_mode_and_chooses_evenly():
    plain = replace(CFG, modes=0)
    old = _net(plain)
    weights = checkpoint.fit_modes(dict(old.state_dict()), plain, CFG, seed=3)
    new = Network(CFG)
    new.load_state_dict(weights)
    x = np.random.default_rng(2).normal(size=(1, 16, network.input_size(CFG))).astype(np.float32)
    out, _, _, mode_out, choice = network.forward_modes(new.numpy_parameters(), CFG, x, np.array([1]), np.array([1]))
    spread = np.abs(out).mean()
    assert np.abs(mode_out - out[:, None]).max() < 0.1 * spread  # each mode starts as the average ...
    assert np.abs(mode_out[:, 0] - mode_out[:, 1]).max() > 0  # ... not exactly: the first windows pick one
    np.testing.assert_array_equal(choice, 0.0)
    assert checkpoint.fit_modes(weights, CFG, CFG) is weights  # a model with modes keeps them
    with pytest.raises(LMMError, match="3 modes"):
        checkpoint.fit_modes(weights, CFG, replace(CFG, modes=5))


class _Prep:
    """The fields of ``batches.Prepared`` the losses read, for one window of 4 frames."""

    def __init__(self, target: torch.Tensor, known: torch.Tensor):
        B, W, F = target.shape
        self.target, self.known, self.base = target, known, torch.where(known, target, 0.0)
        self.gate, self.scale, self.skip = torch.ones_like(target), torch.ones(F), torch.zeros(())
        self.scored = torch.ones(B, W, dtype=torch.bool)
        self.contacts = torch.zeros(B, W, 4)


def test_the_nearest_mode_wins_alone_and_the_choice_learns_to_name_it():
    from lmm_core.model.body import Body
    from lmm_core.train import losses as L
    from lmm_core.train.losses import global_pose, mode_losses

    body = Body.from_dict(None)
    rng = np.random.default_rng(4)
    target = torch.as_tensor(rng.normal(size=(2, 4, FEATURES)) * 0.1, dtype=torch.float32)
    known = torch.zeros(2, 4, FEATURES, dtype=torch.bool)
    known[:, 0] = True  # frame 0 is a key, the rest are made
    prep = _Prep(target, known)
    offsets, parents = torch.as_tensor(body.offsets, dtype=torch.float32), body.parents
    prep.positions, prep.rotations = (v.detach() for v in global_pose(target, offsets, parents))
    # Window 0's truth is mode 2, window 1's mode 0; the other modes are off by 0.5 everywhere.
    m = (target[:, None] + 0.5).repeat(1, 3, 1, 1)
    m[0, 2], m[1, 0] = target[0], target[1]
    out = torch.cat([m, torch.zeros(2, 3, 4, 4)], dim=-1).requires_grad_()
    choice = torch.zeros(2, 3, requires_grad=True)
    cfg = TrainConfig()
    parts = mode_losses(out, choice, prep, torch.zeros(FEATURES), torch.ones(FEATURES), offsets, parents, cfg,
                        torch.ones(22, 3))
    assert float(parts["mode_feat"].detach()) < 1e-6 and float(parts["mode_pos_m"].detach()) < 1e-5  # the winners are exact
    np.testing.assert_allclose(float(parts["choice"].detach()), np.log(3), rtol=1e-5)  # even choice, untrained
    parts["modes"].backward()
    g = choice.grad.numpy()
    assert g[0, 2] < 0 and g[1, 0] < 0  # descending raises the winners' logits
    # The losers learn RELAX as much through the feature error; the winners nothing more (exact).
    assert float(out.grad[0, 0, 1:, :FEATURES].abs().sum()) > 0 and float(out.grad[0, 2, 1:, :FEATURES].abs().sum()) == 0
    assert L.RELAX < 0.1


def test_a_draw_is_one_mode_whole_and_the_same_seed_draws_the_same():
    net = _net(replace(CFG, modes=4))
    with torch.no_grad():
        net.p["mode_b"].zero_()
        for k in range(4):  # mode k moves every made entry by k (so the drawn mode can be read off)
            net.p["mode_b"][k * OUT:k * OUT + FEATURES] = 0.3 * k
        net.p["choice_b"].copy_(torch.tensor([0.0, 0.0, 0.0, 1.0]))  # mode 3 the likeliest (p = 0.48)
    cfg = replace(CFG, modes=4)
    m = runtime.Model(net.numpy_parameters(), cfg, np.zeros(FEATURES), np.ones(FEATURES))
    T = 30
    rot = np.tile(np.array([1.0, 0, 0, 0]), (T, 22, 1))
    root = np.zeros((T, 3))
    root[:, 2] = np.linspace(0, 1, T)
    root[:, 1] = 0.9
    known = np.zeros((T, 22), dtype=bool)
    known[[0, T - 1]] = True
    det = m.run_window(rot, root, known)
    draws = {}
    for seed in range(12):
        r, p, *_ = m.run_window(rot, root, known, sample=runtime.Sample.seeded(seed))
        again = m.run_window(rot, root, known, sample=runtime.Sample.seeded(seed))
        np.testing.assert_array_equal(r, again[0])
        np.testing.assert_array_equal(p[[0, T - 1]], root[[0, T - 1]])  # keys are kept exactly
        draws[seed] = np.round(p[T // 2, 1] - det[1][T // 2, 1], 6)
    # Seeds draw different modes at temperature 1; a cold draw picks the likeliest only.
    assert len(set(draws.values())) >= 2
    cold = {np.round(m.run_window(rot, root, known, sample=runtime.Sample.seeded(s, temperature=0.05))[1][T // 2, 1], 6)
            for s in range(12)}
    assert len(cold) == 1


def test_the_choice_probabilities_follow_the_temperature():
    logits = np.array([0.0, 1.0, 2.0])
    p1 = modes.probabilities(logits, 1.0)
    np.testing.assert_allclose(p1, np.exp(logits) / np.exp(logits).sum())
    assert modes.probabilities(logits, 0.1)[2] > 0.99
    rng = np.random.default_rng(0)
    counts = np.bincount([modes.choose(logits, rng, 1.0) for _ in range(4000)], minlength=3) / 4000
    np.testing.assert_allclose(counts, p1, atol=0.03)


def test_a_weights_file_with_modes_must_carry_them(tmp_path):
    net = _net()
    arrays = {f"p.{k}": v for k, v in net.numpy_parameters().items() if not k.startswith("choice")}
    arrays |= {"mean": np.zeros(FEATURES), "std": np.ones(FEATURES), "scale": np.ones(FEATURES)}
    meta = {"format": runtime.FORMAT, "model_config": json.loads(CFG.to_json())}
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    path = tmp_path / "m.npz"
    np.savez(path, **arrays)
    with pytest.raises(LMMError, match="p.choice_"):
        runtime.load(path)
    meta["model_config"]["modes"] = 1
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    np.savez(path, **arrays)
    with pytest.raises(LMMError, match="modes must be 0"):
        runtime.load(path)


def test_mode_options_that_cannot_work_are_refused():
    with pytest.raises(LMMError, match="--modes 1"):
        TrainConfig(modes=1)
    with pytest.raises(LMMError, match="leave out --flow-skip"):
        TrainConfig(modes=4, sampling=True, flow_skip=True)
    with pytest.raises(LMMError, match="--modes must be"):
        TrainConfig(modes=65)
    with pytest.raises(LMMError, match="no flow skip"):
        ModelConfig(modes=4, sampling=True, flow_skip=True)
    with pytest.raises(LMMError, match="add --init-from"):
        TrainConfig(modes=4, mode_init="fit")
    from lmm_core.train.sources import gate
    with pytest.raises(LMMError, match="trained with --flow-skip"):
        gate(TrainConfig(modes=4, sampling=True), ModelConfig(sampling=True, flow_skip=True))


def test_training_with_modes_from_a_plain_model_draws_distinct_motions(tmp_path, hop_corpus):
    """`lmm train --modes 3` warm-started from a model without modes on a corpus of the shipped clips: the
    export loads, its deterministic answer is the average's, and seeds draw different motions that all
    hit the keys; a warm start asking for another count is refused."""
    from lmm_core.train.export import export
    from lmm_core.train.loop import train

    corpus = hop_corpus
    base = TrainConfig(corpus=str(corpus), sources=("cmu",), out=str(tmp_path / "plain"), batch=6, steps=2, windows=(48,),
                       stats_windows=32, threads=1, lr=1e-3, warmup=1, task_mix=(0.5, 0.2, 0.3, 0.0, 0.0))
    plain = export(train(base, show_progress=False), tmp_path / "plain.npz", bank=False)
    cfg = replace(base, out=str(tmp_path / "modes"), init_from=str(plain), modes=3, steps=6, mode_lr=1e-2)
    ckpt = train(cfg, show_progress=False)
    groups = checkpoint.read(ckpt)["optimizer"]["param_groups"]
    assert [g["lr_scale"] for g in groups] == [1.0, 10.0] and groups[1]["lr"] == pytest.approx(10 * groups[0]["lr"])
    assert checkpoint.read(train(replace(cfg, steps=8), resume=True, show_progress=False))["step"] == 8  # resumes
    log = [json.loads(line) for line in (tmp_path / "modes" / "log.jsonl").read_text().splitlines()]
    assert all(np.isfinite(r["modes"]) and np.isfinite(r["choice"]) for r in log)
    model = runtime.load(export(ckpt, tmp_path / "m.npz", bank=False))
    assert model.cfg.modes == 3 and model.samples
    clip = read_bvh(ROOT / "tests" / "data" / "cmu_131_03_hop_excerpt.bvh.xz").slice(0, 60)
    keys = [0, 30, 59]
    det = tasks.inbetween(clip, keys, model, clean=False, method="network")
    outs = [tasks.inbetween(clip, keys, model, clean=False, seed=s, variation=1.0, method="network") for s in range(6)]
    for o in outs:
        np.testing.assert_allclose(o.root_positions[keys], clip.root_positions[keys], atol=1e-6)
    made = [o.root_positions[10:25] for o in outs]
    assert max(np.abs(a - b).max() for a in made for b in made) > 1e-4  # seeds pick different modes
    # The deterministic answer is the average's: the same as the model with its modes taken away.
    bare = runtime.Model({k: v for k, v in model.params.items() if not k.startswith(("mode_", "choice_"))},
                         replace(model.cfg, modes=0), model.mean, model.std, scale=model.scale)
    np.testing.assert_allclose(det.root_positions, tasks.inbetween(clip, keys, bare, clean=False, method="network").root_positions, atol=1e-9)
    with pytest.raises(LMMError, match="--modes 3"):
        train(replace(cfg, out=str(tmp_path / "again"), init_from=str(tmp_path / "m.npz"), modes=4), show_progress=False)
    with pytest.raises(LMMError, match="add --modes M"):
        train(replace(base, out=str(tmp_path / "lr"), mode_lr=1e-3), show_progress=False)
    with pytest.raises(LMMError, match="already has modes"):
        train(replace(cfg, out=str(tmp_path / "refit"), init_from=str(tmp_path / "m.npz"), mode_init="fit"), show_progress=False)
    # Fitted first: the fit's history is written, and on its own windows the nearest mode beats the average.
    fitted = train(replace(cfg, out=str(tmp_path / "fit"), mode_init="fit", steps=1), show_progress=False)
    history = json.loads((tmp_path / "fit" / "modes_fit.json").read_text())
    assert len(history) == 8 and history[-1]["best"] < history[-1]["average"]
    assert sum(history[-1]["shares"]) > 0 and checkpoint.read(fitted)["model_config"]["modes"] == 3


def test_the_modes_heads_may_learn_at_their_own_rate():
    from lmm_core.train.loop import MODE_PARAMETERS, param_groups

    net = Network(CFG)
    rest, heads = param_groups(net, TrainConfig(lr=2e-4, mode_lr=2e-3))
    assert heads["lr_scale"] == pytest.approx(10.0) and rest["lr_scale"] == 1.0
    assert {id(p) for p in heads["params"]} == {id(net.p[k]) for k in MODE_PARAMETERS}
    assert len(rest["params"]) + len(heads["params"]) == len(list(net.parameters()))
    assert [g["lr_scale"] for g in param_groups(net, TrainConfig(lr=2e-4))] == [1.0, 1.0]  # 0: the run's rate
    assert len(param_groups(Network(replace(CFG, modes=0)), TrainConfig(mode_lr=1e-3))) == 1  # no modes, one group


def test_no_mode_learns_from_more_than_its_capacity_of_a_batch():
    from lmm_core.train.losses import assign

    # Mode 0 is nearest on all 8 windows; with 4 modes and capacity 2 it takes 4, the next nearest the rest.
    err = torch.tensor([[0.1, 0.5, 0.6, 0.9]] * 8) + torch.arange(8.0)[:, None] * 0.01
    got = assign(err, capacity=2.0)
    assert torch.bincount(got, minlength=4).tolist() == [4, 4, 0, 0]
    assert got[:4].tolist() == [0, 0, 0, 0]  # the windows it is nearest on keep it
    # Where every mode has room, each window learns its nearest mode.
    err = torch.rand(6, 3, generator=torch.Generator().manual_seed(0))
    assert assign(err, capacity=3.0).tolist() == err.argmin(dim=1).tolist()


def test_fitting_finds_two_ways_a_window_goes_that_the_average_splits():
    """Rows whose windows follow one of two linear readouts: the average (their mean) is wrong on every
    window; the fit from k-means on its residuals finds both, each taking its half."""
    from lmm_core.train import modes_fit

    rng = np.random.default_rng(0)
    d, windows, per = 8, 60, 12
    A = rng.normal(size=(d + 1, FEATURES)).astype(np.float32)
    B = A + rng.normal(size=(d + 1, FEATURES)).astype(np.float32)
    h = np.concatenate([rng.normal(size=(windows * per, d)), np.ones((windows * per, 1))], axis=1).astype(np.float32)
    window = np.repeat(np.arange(windows), per)
    second = (window % 2).astype(bool)
    y = np.where(second[:, None], h @ B, h @ A).astype(np.float32)
    rows = {"h": h, "y": y, "w": np.ones_like(y), "window": window}
    base = (A + B) / 2
    head_w = np.concatenate([base[:-1], np.zeros((d, network.CONTACTS))], axis=1)
    head_b = np.concatenate([base[-1], np.full(network.CONTACTS, 0.5)])
    mode_w, mode_b, choice_b, history = modes_fit.fit(rows, head_w, head_b, 2, rng)
    assert history[-1]["best"] < 0.05 * history[-1]["average"]
    assert sorted(history[-1]["shares"]) == [30, 30]
    np.testing.assert_allclose(np.exp(choice_b), [0.5, 0.5])
    fitted = [np.concatenate([mode_w[:, k * OUT:k * OUT + FEATURES], mode_b[None, k * OUT:k * OUT + FEATURES]]) for k in range(2)]
    truths = sorted([A, B], key=lambda M: float(np.abs(M - fitted[0]).mean()))
    np.testing.assert_allclose(fitted[0], truths[0], atol=0.1)
    np.testing.assert_allclose(fitted[1], truths[1], atol=0.1)
    np.testing.assert_array_equal(mode_b[FEATURES:OUT], head_b[FEATURES:])  # contacts: the average's
