"""The sampling model (flow matching on the network's correction): input layout shared by training and
the runtime, the warm start that keeps the regressor, draws that keep keys and follow their seed."""
from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from lmm_core import read_bvh
from lmm_core.model import network, runtime, tasks
from lmm_core.model.config import ModelConfig
from lmm_core.model.features import FEATURES
from lmm_core.model.runtime import Sample
from lmm_core.model.sampling import euler_step, noisy, with_flow

torch = pytest.importorskip("torch")
from lmm_core.train.checkpoint import fit_inputs  # noqa: E402
from lmm_core.train.network import Network  # noqa: E402

CFG = ModelConfig(d_model=64, layers=2, heads=4, actions=("<unknown>", "walk"), styles=("<unknown>", "normal"))
SAMPLING = replace(CFG, sampling=True)


def test_flow_inputs_sit_before_the_frame_positions():
    x = np.arange(2 * 5 * (network.INPUT + 2 * CFG.pos_freqs), dtype=np.float32).reshape(2, 5, -1)
    z = np.full((2, 5, FEATURES), -1.0)
    y = with_flow(x, z, np.array([0.25, 0.75]), CFG.pos_freqs)
    assert y.shape[-1] == network.input_size(SAMPLING)
    np.testing.assert_array_equal(y[..., : network.INPUT], x[..., : network.INPUT])
    np.testing.assert_array_equal(y[..., network.INPUT:network.INPUT + FEATURES], z)
    assert (y[0, :, network.INPUT + FEATURES] == 0.25).all() and (y[1, :, network.INPUT + FEATURES] == 0.75).all()
    np.testing.assert_array_equal(y[..., -2 * CFG.pos_freqs:], x[..., -2 * CFG.pos_freqs:])


def test_the_flow_walks_straight_to_the_predicted_answer():
    z1, noise = np.ones((1, 3, 2)), np.zeros((1, 3, 2))
    np.testing.assert_allclose(noisy(z1, noise, np.array([0.3])), 0.3)
    # From t = 0.5 at 0.5 towards 1.0, half of the remaining way in a step of 0.25.
    np.testing.assert_allclose(euler_step(np.full(2, 0.5), np.ones(2), 0.5, 0.75), 0.75)


def _warm(seed: int = 0) -> tuple[Network, Network]:
    torch.manual_seed(seed)
    old = Network(CFG)
    with torch.no_grad():
        old.p["head_w"].normal_(0, 0.05)
    new = Network(SAMPLING)
    new.load_state_dict(fit_inputs(old.state_dict(), CFG, SAMPLING))
    return old, new


def test_a_warm_started_sampling_model_is_the_regressor_until_trained():
    """Zero rows for the new inputs: at t = 0 with no guess, and with any guess, it computes what it did."""
    old, new = _warm()
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 30, network.input_size(CFG))).astype(np.float32)
    a = s = np.array([1, 0])
    before = network.forward(old.numpy_parameters(), CFG, x, a, s)[0]
    for z in (np.zeros((2, 30, FEATURES)), rng.normal(size=(2, 30, FEATURES))):
        after = network.forward(new.numpy_parameters(), SAMPLING, with_flow(x, z, 0.5, CFG.pos_freqs), a, s)[0]
        np.testing.assert_allclose(after, before, atol=1e-5)
    with torch.no_grad():  # and the torch twin agrees with numpy on the wider input
        xt = with_flow(x, rng.normal(size=(2, 30, FEATURES)), np.array([0.1, 0.9]), CFG.pos_freqs)
        new.p["in_w"].normal_(0, 0.05)
        np.testing.assert_allclose(new(torch.as_tensor(xt), torch.as_tensor(a), torch.as_tensor(s))[0].numpy(),
                                   network.forward(new.numpy_parameters(), SAMPLING, xt, a, s)[0], atol=1e-4)
    with pytest.raises(Exception, match="continues only with --sampling"):
        fit_inputs(new.state_dict(), SAMPLING, CFG)


def test_draws_keep_the_keys_follow_their_seed_and_differ_between_seeds(test_data):
    _, net = _warm(2)
    with torch.no_grad():  # a network that listens to its guess, as a trained one does
        net.p["in_w"].normal_(0, 0.05)
    model = runtime.Model(net.numpy_parameters(), SAMPLING, np.zeros(FEATURES), np.ones(FEATURES))
    clip = tasks.to_canonical(read_bvh(test_data / "cmu_131_03_hop_excerpt.bvh.xz"), 30.0).slice(0, 60)
    known = np.zeros(60, dtype=bool)
    known[:10] = known[45:] = True
    args = (clip.rotations, clip.root_positions, known)
    det = model.fill(*args)
    a, b, a2 = (model.fill(*args, sample=Sample.seeded(seed)) for seed in (0, 1, 0))
    for rot, pos, _ in (det, a, b):
        np.testing.assert_array_equal(pos[known], clip.root_positions[known])
        np.testing.assert_array_equal(rot[known], clip.rotations[known])
    np.testing.assert_array_equal(a[1], a2[1])  # a seed is one draw, every time
    assert np.abs(a[1] - b[1])[~known].max() > 1e-3  # another seed, another draw
    assert np.abs(a[1] - det[1])[~known].max() > 1e-3
    # Temperature 0 is the deterministic answer.
    np.testing.assert_allclose(model.fill(*args, sample=Sample.seeded(0, temperature=0.0))[1], det[1])


def _sampling_model_file(tmp_path) -> str:
    """A small sampling model written as ``lmm train --export`` writes one (canonical body, no bank)."""
    from lmm_core.train import checkpoint
    from lmm_core.train.export import export

    _, net = _warm(3)
    with torch.no_grad():
        net.p["in_w"].normal_(0, 0.05)
    ckpt = tmp_path / "checkpoint.pt"
    checkpoint.save(ckpt, {"format": checkpoint.FORMAT, "step": 1, "model": net.state_dict(), "optimizer": {},
                           "train_config": {}, "model_config": json.loads(SAMPLING.to_json()),
                           "mean": np.zeros(FEATURES), "std": np.ones(FEATURES), "scale": np.full(FEATURES, 0.3)})
    return str(export(ckpt, tmp_path / "sampling.npz", bank=False))


def test_complete_draws_several_futures_from_the_command_line(test_data, tmp_path, capsys):
    from lmm_core.cli import main

    model = _sampling_model_file(tmp_path)
    clip = test_data / "cmu_131_03_hop_excerpt.bvh.xz"
    out = tmp_path / "future.bvh"
    assert main(["complete", str(clip), "--frames", "20", "--samples", "3", "--variation", "1", "--model", model,
                 "-o", str(out)]) == 0
    futures = [read_bvh(tmp_path / f"future_{i:03d}.bvh") for i in (1, 2, 3)]
    given = read_bvh(clip)
    for f in futures:
        assert f.num_frames == given.num_frames + 20
        np.testing.assert_allclose(f.root_positions[: given.num_frames], given.root_positions, atol=1e-3)
    assert np.abs(futures[0].root_positions - futures[1].root_positions).max() > 1e-3
    # The same seed again is the same future; asking several futures of no variation is refused.
    assert main(["complete", str(clip), "--frames", "20", "--seed", "1", "--variation", "1", "--model", model,
                 "-o", str(tmp_path / "again.bvh")]) == 0
    np.testing.assert_allclose(read_bvh(tmp_path / "again.bvh").root_positions, futures[1].root_positions, atol=1e-4)
    capsys.readouterr()
    assert main(["complete", str(clip), "--frames", "20", "--samples", "2", "--model", model, "-o", str(out)]) == 2
    assert "give --variation above 0" in capsys.readouterr().err


def test_a_model_that_does_not_sample_says_so(test_data, tmp_path, capsys):
    from lmm_core.cli import main

    reg = runtime.Model(Network(CFG).numpy_parameters(), CFG, np.zeros(FEATURES), np.ones(FEATURES))
    clip = read_bvh(test_data / "cmu_131_03_hop_excerpt.bvh.xz")
    with pytest.raises(Exception, match="does not sample.*use --variation 0"):
        tasks.inbetween(clip, [0, 30], reg, variation=0.5, method="network")
    assert main(["inbetween", str(test_data / "cmu_131_03_hop_excerpt.bvh.xz"), "--keys", "0,30", "--variation", "2",
                 "-o", str(tmp_path / "x.bvh")]) == 2
    assert "--variation must be a number from 0 to 1, got 2" in capsys.readouterr().err
    assert not (tmp_path / "x.bvh").exists()


def test_the_network_generates_alone_window_after_window(tmp_path):
    """--method network: a sampling model's draws, any length, the same for the same seed, another for
    another seed; at variation 0, and from a model that does not sample, the deterministic average."""
    _, net = _warm(4)
    with torch.no_grad():
        net.p["in_w"].normal_(0, 0.05)
    model = runtime.Model(net.numpy_parameters(), SAMPLING, np.zeros(FEATURES), np.ones(FEATURES))
    a = tasks.generate("walk", seconds=5.0, seed=3, variation=1.0, model=model, method="network", clean=False)
    b = tasks.generate("walk", seconds=5.0, seed=3, variation=1.0, model=model, method="network", clean=False)
    c = tasks.generate("walk", seconds=5.0, seed=4, variation=1.0, model=model, method="network", clean=False)
    assert a.num_frames == 150 and a.fps == 30.0 and a.labels["action"] == "walk"
    np.testing.assert_array_equal(a.root_positions, b.root_positions)
    assert np.abs(a.root_positions - c.root_positions).max() > 1e-3
    assert np.isfinite(a.rotations).all() and np.allclose(np.linalg.norm(a.rotations, axis=-1), 1.0)
    det = tasks.generate("walk", seconds=5.0, seed=3, variation=0.0, model=model, method="network", clean=False)
    assert np.abs(det.root_positions - a.root_positions).max() > 1e-3
    reg = runtime.Model(_warm(4)[0].numpy_parameters(), CFG, np.zeros(FEATURES), np.ones(FEATURES))
    r1, r2 = (tasks.generate("walk", seconds=4.0, seed=s, variation=1.0, model=reg, method="network", clean=False)
              for s in (0, 1))
    np.testing.assert_array_equal(r1.root_positions, r2.root_positions)
    with pytest.raises(Exception, match="--method must be one of next-frame, segments, network"):
        tasks.generate("walk", model=model, method="dream")


def test_training_poses_the_flow_inputs_as_the_runtime_reads_them(test_data):
    """A training batch's flow inputs are ``with_flow`` of the runtime's window inputs, with the true
    correction noised to the window's time; and a network that predicts the truth draws exactly it."""
    from lmm_core.model.body import Body
    from lmm_core.model.window import prepare
    from lmm_core.train.batches import Prepared
    from lmm_core.train.data import Batch

    clip = tasks.to_canonical(read_bvh(test_data / "cmu_131_03_hop_excerpt.bvh.xz"), 30.0).slice(0, 48)
    known = np.zeros((1, 48, 22), dtype=bool)
    known[:, :10] = known[:, 40:] = True
    batch = Batch(clip.rotations[None], clip.root_positions[None], np.zeros((1, 48, 4), dtype=bool), np.array([0]),
                  np.array([0]))
    mean, std, scale = np.zeros(FEATURES), np.ones(FEATURES), np.full(FEATURES, 0.5)
    body = Body.from_dict(None)
    plain = Prepared(batch, known, np.zeros(1, dtype=bool), mean, std, CFG.pos_freqs, scale, body, baseline="hermite")
    t_rng = np.random.default_rng(9)
    t_rng.random(1)  # the draw that picks t = 0 for a share of windows (none here)
    t = float(t_rng.random(1)[0])  # the window's time, as the batch draws it from the same seed
    flow = Prepared(batch, known, np.zeros(1, dtype=bool), mean, std, CFG.pos_freqs, scale, body, baseline="hermite",
                    flow=(np.random.default_rng(9), 0.0), noise_frames=3.0)
    win = prepare(clip.rotations, clip.root_positions, known[0], mean, std, CFG.pos_freqs, 9, body.forward, "hermite")
    x = flow.x[0].numpy()
    np.testing.assert_allclose(x[:, : network.INPUT], plain.x[0, :, : network.INPUT].numpy(), atol=1e-6)
    np.testing.assert_allclose(x[:, -2 * CFG.pos_freqs:], win.x[:, -2 * CFG.pos_freqs:], atol=1e-6)
    assert np.allclose(x[:, network.INPUT + FEATURES], t)  # every frame carries the window's time
    z1 = (plain.target[0].numpy() - plain.base[0].numpy()) / scale * ~win.known
    z = x[:, network.INPUT:network.INPUT + FEATURES]
    assert (z[win.known] == 0).all()  # known entries carry no guess
    assert np.corrcoef(z[~win.known], z1[~win.known])[0, 1] > 0.5 * t  # the truth shows through the noise

    # An oracle network (its correction is the truth's, whatever the guess) gives the truth in a draw.
    cfg = replace(SAMPLING, noise_frames=3.0, baseline="hermite")
    model = runtime.Model(Network(cfg).numpy_parameters(), cfg, mean, std, scale=scale)
    true_out = np.concatenate([np.where(win.gate > 0, z1 / np.maximum(win.gate, 1e-9), 0.0), np.zeros((48, 4))], axis=1)

    def oracle(p, cfg, xs, a, s):
        return true_out[None].astype(np.float32), np.zeros((1, len(cfg.actions))), np.zeros((1, len(cfg.styles)))

    import lmm_core.model.runtime as rt
    real_forward = rt.network.forward
    rt.network.forward = oracle
    try:
        rot, pos, _ = model.fill(clip.rotations, clip.root_positions, known[0], sample=Sample.seeded(1))
    finally:
        rt.network.forward = real_forward
    np.testing.assert_allclose(pos, clip.root_positions, atol=1e-4)


def test_sampling_noise_has_the_motions_time_scale():
    """Unit variance either way; white noise is uncorrelated frame to frame, smoothed noise of 3 frames is
    correlated as a Gaussian of 3 frames makes it (exp(-1 / 36) at one frame); the same seed, the same noise."""
    from lmm_core.model.sampling import noise

    rng = np.random.default_rng
    white, smooth = noise(rng(0), (64, 300, 8), 0.0), noise(rng(0), (64, 300, 8), 3.0)
    for n in (white, smooth):
        assert n.std() == pytest.approx(1.0, abs=0.02)
    lag1 = lambda n: np.corrcoef(n[:, :-1].ravel(), n[:, 1:].ravel())[0, 1]  # noqa: E731
    assert abs(lag1(white)) < 0.02 and lag1(smooth) == pytest.approx(np.exp(-1 / 36), abs=0.01)
    np.testing.assert_array_equal(noise(rng(5), (2, 30, 4), 3.0), noise(rng(5), (2, 30, 4), 3.0))
