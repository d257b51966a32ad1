"""Telling each frame where the keys are: the key-time inputs and relative attention (issue 24's input
ablations), in numpy and torch alike, added to a trained network without changing what it computes."""
from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from lmm_core import LMMError
from lmm_core.model import network, runtime
from lmm_core.model.config import ModelConfig
from lmm_core.model.features import FEATURES
from lmm_core.model.window import KEY_HORIZON, key_times

torch = pytest.importorskip("torch")
from lmm_core.train.checkpoint import fit_attention, fit_inputs  # noqa: E402
from lmm_core.train.network import Network  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CFG = ModelConfig(d_model=64, layers=2, heads=4, actions=("<unknown>", "walk"), styles=("<unknown>", "normal"))


def _net(cfg: ModelConfig, seed: int = 0) -> Network:
    torch.manual_seed(seed)
    net = Network(cfg)
    with torch.no_grad():
        net.p["head_w"].normal_(0, 0.05)
    return net


def test_key_times_say_how_far_each_frame_is_from_the_keys():
    known = np.zeros((41, 22), dtype=bool)
    known[:10] = True  # context
    known[40] = True  # the key, 30 frames after the last context frame
    known[25, 5] = True  # a partial key (not the root) is not a key here
    kt = key_times(known)
    assert kt.shape == (41, network.KEY_TIME)
    since, until = np.expm1(kt[:, 0] * np.log1p(KEY_HORIZON)), np.expm1(kt[:, 3] * np.log1p(KEY_HORIZON))
    np.testing.assert_allclose(since[:10], 0, atol=1e-9)  # a known frame is its own key
    np.testing.assert_allclose(since[10:40], np.arange(1, 31), atol=1e-6)  # the last context frame is 9
    np.testing.assert_allclose(until[10:40], np.arange(30, 0, -1), atol=1e-6)
    np.testing.assert_allclose(kt[24, 6], 15 / 31)  # 15 frames after the last context frame, 16 before the key
    np.testing.assert_allclose(kt[10, 1], np.exp(-1 / 4))
    np.testing.assert_allclose(kt[[5, 40], 6], 0.5)  # on a key
    # Frames after the last key: "none" reads as the horizon; nothing known at all, the same everywhere.
    tail = key_times(known[:25])
    np.testing.assert_allclose(np.expm1(tail[10:, 3] * np.log1p(KEY_HORIZON)), KEY_HORIZON, atol=1e-6)
    empty = key_times(np.zeros((7, 22), dtype=bool))
    assert np.allclose(empty, empty[0]) and np.isfinite(empty).all()


def test_relative_attention_agrees_in_numpy_and_torch_and_starts_as_no_bias():
    cfg = replace(CFG, rel_frames=6)
    net = _net(cfg)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 20, network.input_size(cfg))).astype(np.float32)
    a, s = np.array([0, 1]), np.array([1, 0])
    plain = Network(CFG)
    plain.load_state_dict({k: v for k, v in net.state_dict().items() if "rel_w" not in k})
    # Zero biases: the same as the network without them.
    np.testing.assert_allclose(network.forward(net.numpy_parameters(), cfg, x, a, s)[0],
                               network.forward(plain.numpy_parameters(), CFG, x, a, s)[0], atol=1e-5)
    with torch.no_grad():
        for i in range(cfg.layers):
            net.p[f"l{i}_rel_w"].normal_(0, 1.0)
        out_t = net(torch.as_tensor(x), torch.as_tensor(a), torch.as_tensor(s))
    out_n = network.forward(net.numpy_parameters(), cfg, x, a, s)
    for t, n in zip(out_t, out_n):
        np.testing.assert_allclose(n, t.numpy(), atol=1e-4)
    assert np.abs(out_n[0] - network.forward(plain.numpy_parameters(), CFG, x, a, s)[0]).max() > 1e-2
    # Rows are queries, columns keys, and the column of rel_w is the key's offset from the query (j - i):
    # a key 3 frames after its query uses column 2 + 2 (clipped), one 3 frames before column 0.
    index = network.relative_index(4, 2)
    assert index[0, 3] == 4 and index[3, 0] == 0 and index[1, 2] == 3 and index[2, 2] == 2
    lop = np.zeros((4, 13), dtype=np.float32)
    lop[:, 12] = 5.0  # only "the key is 6 or more frames later" is favoured
    b = network.relative_bias(lop, 20, 6)
    assert b[0, 3 + 0, 3 + 10] == 5.0 and b[0, 3 + 10, 3 + 0] == 0.0
    # The bias reaches frame pairs only: offsets beyond rel_frames share the outermost column.
    bias = network.relative_bias(net.numpy_parameters()["l0_rel_w"], 20, 6)
    assert bias.shape == (4, 23, 23) and not bias[:, :3].any() and not bias[:, :, :3].any()
    np.testing.assert_array_equal(bias[:, 3, 3 + 19], bias[:, 3, 3 + 6])
    np.testing.assert_array_equal(bias[:, 3 + 19, 3], bias[:, 3 + 6, 3])


def test_a_warm_start_adds_both_with_the_answers_unchanged():
    old = _net(CFG)
    cfg = replace(CFG, key_time_inputs=True, rel_frames=8)
    new = Network(cfg)
    new.load_state_dict(fit_inputs(fit_attention(dict(old.state_dict()), CFG, cfg), CFG, cfg))
    rng = np.random.default_rng(2)
    x = rng.normal(size=(2, 30, network.input_size(CFG))).astype(np.float32)
    kt = rng.normal(size=(2, 30, network.KEY_TIME)).astype(np.float32)
    wide = np.concatenate([x[..., :network.INPUT], kt, x[..., network.INPUT:]], axis=-1)
    assert wide.shape[-1] == network.input_size(cfg)
    a, s = np.array([1, 0]), np.array([0, 1])
    np.testing.assert_allclose(network.forward(new.numpy_parameters(), cfg, wide, a, s)[0],
                               network.forward(old.numpy_parameters(), CFG, x, a, s)[0], atol=1e-5)
    # What a warm start cannot do, each said with the way out.
    with pytest.raises(LMMError, match="continues only with --key-time-inputs"):
        fit_inputs(dict(new.state_dict()), cfg, replace(cfg, key_time_inputs=False))
    with pytest.raises(LMMError, match="continue it with --rel-frames 8"):
        fit_attention(dict(new.state_dict()), cfg, replace(cfg, rel_frames=0))
    with pytest.raises(LMMError, match="continue it with --rel-frames 8"):
        fit_attention(dict(new.state_dict()), cfg, replace(cfg, rel_frames=4))


def test_a_weights_file_with_them_loads_checked_and_runs(tmp_path):
    import json

    from lmm_core.train import checkpoint
    from lmm_core.train.export import export

    cfg = replace(CFG, key_time_inputs=True, rel_frames=8)
    net = _net(cfg)
    ckpt = tmp_path / "checkpoint.pt"
    checkpoint.save(ckpt, {"format": checkpoint.FORMAT, "step": 1, "model": net.state_dict(), "optimizer": {},
                           "train_config": {}, "model_config": json.loads(cfg.to_json()), "mean": np.zeros(FEATURES),
                           "std": np.ones(FEATURES), "scale": np.ones(FEATURES), "vel_std": None})
    path = export(ckpt, tmp_path / "m.npz", bank=False)
    m = runtime.load(path)
    assert m.cfg.key_time_inputs and m.cfg.rel_frames == 8
    rng = np.random.default_rng(0)
    from lmm_core import rotations as R
    rot = R.normalize(rng.normal(size=(31, 22, 4)) * 0.1 + [1, 0, 0, 0])
    root = np.cumsum(np.full((31, 3), [0.02, 0.0, 0.0]), axis=0) + [0, 0.9, 0]
    known = np.zeros(31, dtype=bool)
    known[[0, 30]] = True
    out_rot, out_root, _ = m.fill(rot, root, known, correction=1.0)
    np.testing.assert_allclose(out_rot[[0, 30]], rot[[0, 30]], atol=1e-6)  # keys exact
    assert np.isfinite(out_rot).all() and np.isfinite(out_root).all()
    win = m.prepare(rot, root, np.repeat(known[:, None], 22, axis=1))
    np.testing.assert_allclose(win.x[:, network.INPUT:network.INPUT + network.KEY_TIME],
                               key_times(np.repeat(known[:, None], 22, axis=1)), atol=1e-6)
    # A file whose rel_w is missing or the wrong shape is refused by name.
    arrays = dict(np.load(path, allow_pickle=False))
    bad = tmp_path / "bad.npz"
    np.savez(bad, **{k: v for k, v in arrays.items() if k != "p.l1_rel_w"})
    with pytest.raises(LMMError, match="l1_rel_w"):
        runtime.load(bad)
    with pytest.raises(LMMError, match="rel_frames"):
        ModelConfig(rel_frames=-1)


def test_training_with_them_from_a_model_without(hop_corpus, tmp_path):
    """``lmm train --key-time-inputs --rel-frames N --grow-layers 1`` continues a plain model: at learning
    rate 0 its export answers as the plain model did."""
    corpus = hop_corpus
    env = {**__import__("os").environ, "PYTHONPATH": str(ROOT)}
    base = [sys.executable, "-m", "lmm_core", "train", "--corpus", str(corpus), "--batch", "2", "--d-model", "32",
            "--layers", "1", "--sources", "cmu", "--protocol-windows"]
    r = subprocess.run(base + ["--out", str(tmp_path / "a"), "--steps", "2", "--export", str(tmp_path / "a.npz")],
                       cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    r = subprocess.run(base + ["--out", str(tmp_path / "b"), "--steps", "1", "--lr", "0", "--init-from", str(tmp_path / "a.npz"),
                               "--key-time-inputs", "--rel-frames", "16", "--grow-layers", "1",
                               "--export", str(tmp_path / "b.npz")],
                       cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    # Continuing it without the flags it was made with stops at once, naming the flag to keep.
    r = subprocess.run(base + ["--out", str(tmp_path / "c"), "--steps", "1", "--init-from", str(tmp_path / "b.npz"),
                               "--rel-frames", "16"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode != 0 and "continues only with --key-time-inputs" in r.stderr, r.stderr[-2000:]
    assert "Traceback" not in r.stderr
    a, b = runtime.load(tmp_path / "a.npz"), runtime.load(tmp_path / "b.npz")
    assert b.cfg.key_time_inputs and b.cfg.rel_frames == 16 and not a.cfg.key_time_inputs
    assert (a.cfg.layers, b.cfg.layers) == (1, 2)
    rng = np.random.default_rng(4)
    from lmm_core import rotations as R
    rot = R.normalize(rng.normal(size=(41, 22, 4)) * 0.1 + [1, 0, 0, 0])
    root = np.cumsum(np.full((41, 3), [0.03, 0.0, 0.0]), axis=0) + [0, 0.9, 0]
    known = np.zeros(41, dtype=bool)
    known[:10] = known[40] = True
    for m in (a, b):
        m.check_keys = False
    ra, pa, _ = a.fill(rot, root, known)
    rb, pb, _ = b.fill(rot, root, known)
    np.testing.assert_allclose(pb, pa, atol=1e-4)
    np.testing.assert_allclose(rb, ra, atol=1e-4)


def test_growing_a_warm_start_by_layers_keeps_its_answers_until_trained():
    """``--grow-layers``: new layers on top start as the identity (zero output projections); the deeper
    network computes what the warm start did, in numpy and torch, and trains its new layers."""
    from lmm_core.train.checkpoint import fit_depth
    from lmm_core.train.config import TrainConfig

    old = _net(CFG)
    cfg = replace(CFG, layers=CFG.layers + 2)
    new = Network(cfg)
    new.load_state_dict(fit_depth(dict(old.state_dict()), CFG, cfg, seed=1))
    rng = np.random.default_rng(5)
    x = rng.normal(size=(2, 25, network.input_size(CFG))).astype(np.float32)
    a, s = np.array([1, 0]), np.array([0, 1])
    before = network.forward(old.numpy_parameters(), CFG, x, a, s)
    after = network.forward(new.numpy_parameters(), cfg, x, a, s)
    for b, n in zip(before, after):
        np.testing.assert_allclose(n, b, atol=1e-5)
    # The new layers learn: their output projections get gradients at once.
    out = new(torch.as_tensor(x), torch.as_tensor(a), torch.as_tensor(s))[0]
    out.square().mean().backward()
    assert float(new.p["l3_ff2_w"].grad.abs().max()) > 0 and float(new.p["l2_out_w"].grad.abs().max()) > 0
    with pytest.raises(LMMError, match="cannot have 1"):
        fit_depth(dict(old.state_dict()), CFG, replace(CFG, layers=1))
    with pytest.raises(LMMError, match="add --init-from"):
        TrainConfig(grow_layers=2)


def test_dropout_acts_only_while_training():
    """``--dropout`` (issue 24's regulariser): a training network drops a share of attention weights and
    residual outputs, so two passes differ; in evaluation it is the same function as a network without it,
    the one the numpy runtime computes."""
    plain = _net(CFG, seed=3)
    dropped = Network(CFG, dropout=0.3)
    dropped.load_state_dict(plain.state_dict())
    x = torch.randn(2, 20, network.input_size(CFG))
    labels = torch.zeros(2, dtype=torch.long)
    with torch.no_grad():
        dropped.train()
        a, b = dropped(x, labels, labels)[0], dropped(x, labels, labels)[0]
        assert (a - b).abs().max() > 1e-3
        dropped.eval()
        plain.eval()
        np.testing.assert_array_equal(dropped(x, labels, labels)[0].numpy(), plain(x, labels, labels)[0].numpy())
    p = plain.numpy_parameters()
    want = network.forward(p, CFG, x.numpy(), labels.numpy(), labels.numpy())[0]
    np.testing.assert_allclose(want, dropped(x, labels, labels)[0].detach().numpy(), atol=2e-4)
