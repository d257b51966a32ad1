"""The model: numpy/torch parity, weights files, keys hit exactly, tasks on real clips, DDP training."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lmm_core import LMMError, read_bvh
from lmm_core.model import network, runtime, tasks
from lmm_core.model.config import ModelConfig
from lmm_core.model.features import FEATURES, decode, encode, fill_baseline
from lmm_core import rotations as R

torch = pytest.importorskip("torch")
from lmm_core.train.network import Network  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CFG = ModelConfig(d_model=64, layers=2, heads=4, actions=("<unknown>", "walk", "idle"), styles=("<unknown>", "normal"))


def random_network(seed: int = 0) -> Network:
    torch.manual_seed(seed)
    net = Network(CFG)
    with torch.no_grad():  # the head starts at zero; give it weights so outputs are not trivially equal
        net.p["head_w"].normal_(0, 0.05)
        net.p["head_b"].normal_(0, 0.05)
    return net


def model_of(net: Network) -> runtime.Model:
    rng = np.random.default_rng(0)
    # Four segments (walk, walk, idle, idle) of 50, 45, 40, 50 frames, one after another.
    lengths = np.array([50, 45, 40, 50], dtype=np.int32)
    bank = {
        "bank_rotations": R.normalize(rng.normal(size=(lengths.sum(), 22, 4))).astype(np.float16),
        "bank_root": (rng.normal(size=(lengths.sum(), 3)) * 0.1 + [0, 0.9, 0]).astype(np.float16),
        "bank_contacts": rng.random((lengths.sum(), 4)) < 0.5, "bank_lengths": lengths,
        "bank_action": np.array([1, 1, 2, 2], dtype=np.int16), "bank_style": np.array([1, 1, 1, 1], dtype=np.int16),
    }
    return runtime.Model(net.numpy_parameters(), CFG, np.zeros(FEATURES), np.ones(FEATURES), bank)


def test_numpy_and_torch_forward_agree():
    net = random_network()
    rng = np.random.default_rng(1)
    x = rng.normal(size=(3, 40, network.INPUT + 2 * CFG.pos_freqs)).astype(np.float32)
    a, s = np.array([0, 1, 2]), np.array([1, 0, 1])
    out_np, act_np, sty_np = network.forward(net.numpy_parameters(), CFG, x, a, s)
    with torch.no_grad():
        out_t, act_t, sty_t = net(torch.as_tensor(x), torch.as_tensor(a), torch.as_tensor(s))
    assert np.abs(out_t.numpy()).max() > 1e-3
    np.testing.assert_allclose(out_np, out_t.numpy(), atol=1e-4)
    np.testing.assert_allclose(act_np, act_t.numpy(), atol=1e-4)
    np.testing.assert_allclose(sty_np, sty_t.numpy(), atol=1e-4)


def test_velocity_inputs_warm_start_from_a_model_without_them():
    """Adding velocity inputs to a trained network (zero input rows) leaves its output as it was, in torch
    and in numpy, and the two forwards agree on the wider input."""
    from dataclasses import replace

    from lmm_core.train.checkpoint import fit_inputs

    old = random_network()
    cfg = replace(CFG, velocity_inputs=True)
    assert network.input_size(cfg) == network.input_size(CFG) + FEATURES
    new = Network(cfg)
    new.load_state_dict(fit_inputs(old.state_dict(), CFG, cfg))
    rng = np.random.default_rng(3)
    x = rng.normal(size=(2, 30, network.input_size(CFG))).astype(np.float32)
    vel = rng.normal(size=(2, 30, FEATURES)).astype(np.float32)
    wide = np.concatenate([x[..., :network.INPUT], vel, x[..., network.INPUT:]], axis=-1)
    a, st = np.array([1, 2]), np.array([1, 0])
    before = network.forward(old.numpy_parameters(), CFG, x, a, st)[0]
    after = network.forward(new.numpy_parameters(), cfg, wide, a, st)[0]
    np.testing.assert_allclose(after, before, atol=1e-5)
    with torch.no_grad():
        new.p["in_w"].normal_(0, 0.05)  # now the velocities count: torch and numpy still agree
        out_t = new(torch.as_tensor(wide), torch.as_tensor(a), torch.as_tensor(st))[0].numpy()
    np.testing.assert_allclose(network.forward(new.numpy_parameters(), cfg, wide, a, st)[0], out_t, atol=1e-4)
    assert np.abs(out_t - before).max() > 1e-3
    with pytest.raises(LMMError, match="velocity inputs needs their statistics"):
        runtime.Model(new.numpy_parameters(), cfg, np.zeros(FEATURES), np.ones(FEATURES))
    m = runtime.Model(new.numpy_parameters(), cfg, np.zeros(FEATURES), np.ones(FEATURES), vel_std=np.full(FEATURES, 0.1))
    known = np.zeros((41, 22), dtype=bool)
    known[:10] = known[40] = True
    canon = tasks.to_canonical(read_bvh(ROOT / "tests" / "data" / "cmu_131_03_hop_excerpt.bvh.xz"), 30.0)
    win = m.prepare(canon.rotations[:41], canon.root_positions[:41], known)
    assert win.x.shape == (41, network.input_size(cfg))
    # The velocity columns are the base's frame-to-frame change in vel_std units.
    np.testing.assert_allclose(win.x[5, network.INPUT:network.INPUT + FEATURES], (win.base[5] - win.base[4]) / 0.1, atol=1e-4)


def test_features_round_trip_and_baseline():
    rng = np.random.default_rng(2)
    rot = R.normalize(rng.normal(size=(30, 22, 4)))
    pos = rng.normal(size=(30, 3))
    r2, p2 = decode(encode(rot, pos))
    np.testing.assert_allclose(np.abs(np.sum(r2 * rot, axis=-1)), 1.0, atol=1e-9)
    np.testing.assert_allclose(p2, pos)
    known = np.zeros((30, 22), dtype=bool)
    known[[3, 13]] = True
    fr, fp, have = fill_baseline(rot, pos, known)
    # Halfway between keys 3 and 13 (frame 8) is the exact slerp / lerp midpoint; before the first key it holds.
    mid = R.slerp(R.unroll(rot)[3], R.unroll(rot)[13], np.full(22, 0.5))
    np.testing.assert_allclose(np.abs(np.sum(fr[8] * mid, axis=-1)), 1.0, atol=1e-9)
    np.testing.assert_allclose(fp[8], (pos[3] + pos[13]) / 2)
    np.testing.assert_allclose(fp[0], pos[3])
    assert have.all()


def test_hermite_baseline_keeps_the_velocity_at_keys():
    """A 20-frame gap inside a clip (frames known on both sides) and the same gap with only context before
    it: the Hermite fill follows an accelerating root and an accelerating joint better than lerp/slerp,
    most when both sides' velocities are known; it equals them on steady motion and on sparse keys, and
    never changes a known frame."""
    T = 41
    t = np.arange(T, dtype=float)
    root = np.stack([0.02 * t + 0.002 * t ** 2, 0.9 + 0.01 * np.sin(t / 5), 0.01 * t], axis=1)
    angle = 0.0015 * t ** 2  # radians, about the joint's local x (under pi throughout)
    rot = np.tile(R.identity(), (T, 22, 1))
    rot[:, 5] = R.from_axis_angle(np.array([1.0, 0.0, 0.0]), angle)
    gap = slice(10, 30)
    for after, share in ((True, 0.2), (False, 0.7)):
        known = np.zeros((T, 22), dtype=bool)
        known[:10] = True
        known[30:] = after
        known[30] = True
        lin_r, lin_p, _ = fill_baseline(rot, root, known)
        her_r, her_p, _ = fill_baseline(rot, root, known, "hermite")
        lin_err = np.abs(lin_p[gap] - root[gap]).max()
        assert np.abs(her_p[gap] - root[gap]).max() < share * lin_err and lin_err > 0.05
        her_angle = np.abs(R.to_scaled_axis(her_r[gap, 5])[:, 0] - angle[gap]).max()
        lin_angle = np.abs(R.to_scaled_axis(lin_r[gap, 5])[:, 0] - angle[gap]).max()
        assert her_angle < share * lin_angle and lin_angle > 0.1
        np.testing.assert_allclose(her_p[known[:, 0]], root[known[:, 0]])
        np.testing.assert_allclose(np.abs(np.sum(her_r[known] * rot[known], axis=-1)), 1.0, atol=1e-12)
    # Steady motion: the key velocities are the gap's mean velocity, so Hermite is the straight fill.
    steady = np.stack([0.03 * t, np.full(T, 0.9), np.zeros(T)], axis=1)
    rot[:, 5] = R.from_axis_angle(np.array([1.0, 0.0, 0.0]), 0.05 * t)
    a_r, a_p, _ = fill_baseline(rot, steady, known)
    b_r, b_p, _ = fill_baseline(rot, steady, known, "hermite")
    np.testing.assert_allclose(b_p, a_p, atol=1e-12)
    np.testing.assert_allclose(np.abs(np.sum(a_r * b_r, axis=-1)), 1.0, atol=1e-9)
    # Sparse keys (no known neighbour outside any gap): the same as interpolation.
    sparse = np.zeros((T, 22), dtype=bool)
    sparse[[3, 13, 29]] = True
    a_r, a_p, _ = fill_baseline(rot, root, sparse)
    b_r, b_p, _ = fill_baseline(rot, root, sparse, "hermite")
    np.testing.assert_array_equal(a_p, b_p)
    np.testing.assert_array_equal(a_r, b_r)
    with pytest.raises(ValueError, match="unknown baseline"):
        fill_baseline(rot, root, sparse, "cubic")
    # Unknown frames may hold anything, NaN included: the fill never reads them (0 * NaN would be NaN).
    # Context before the gap, the closing key with nothing after it: frame 31's NaN sits beside the key.
    known = np.zeros((T, 22), dtype=bool)
    known[:10] = True
    known[30] = True
    holed_rot, holed_root = rot.copy(), root.copy()
    holed_rot[~known] = np.nan
    holed_root[~known[:, 0]] = np.nan
    want_r, want_p, _ = fill_baseline(rot, root, known, "hermite")
    got_r, got_p, _ = fill_baseline(holed_rot, holed_root, known, "hermite")
    np.testing.assert_array_equal(got_p, want_p)
    np.testing.assert_array_equal(got_r, want_r)


def test_untrained_model_is_the_interpolation_baseline():
    net = Network(CFG)  # zero head: no correction
    m = model_of(net)
    clip = read_bvh(ROOT / "tests" / "data" / "cmu_131_03_hop_excerpt.bvh.xz")
    canon = tasks.to_canonical(clip, 30.0)
    known = np.zeros(canon.num_frames, dtype=bool)
    known[[0, 40]] = True
    rot, pos = m.inbetween(canon.rotations, canon.root_positions, known)
    np.testing.assert_allclose(pos[20], (canon.root_positions[0] + canon.root_positions[40]) / 2, atol=1e-5)


def test_baseline_only_drops_the_network_and_leaves_the_model_alone():
    from lmm_core.bench.baselines import interpolation
    from lmm_core.bench.inbetween import ModelInbetweener

    m = ModelInbetweener(model_of(random_network()))
    head = m.model.params["head_w"].copy()
    canon = tasks.to_canonical(read_bvh(ROOT / "tests" / "data" / "cmu_131_03_hop_excerpt.bvh.xz"), 30.0)
    rot, pos = canon.rotations[:41], canon.root_positions[:41]
    known = np.zeros(41, dtype=bool)
    known[:10] = True
    known[40] = True
    full_rot, full_pos = m(rot, pos, known)
    bare_rot, bare_pos = m.baseline_only()(rot, pos, known)
    ref_rot, ref_pos = interpolation(rot, pos, known)
    np.testing.assert_allclose(bare_pos, ref_pos, atol=1e-6)
    np.testing.assert_allclose(np.abs(np.sum(bare_rot * ref_rot, axis=-1)), 1.0, atol=1e-6)
    assert np.abs(full_pos - bare_pos).max() > 1e-4  # the full model's random head does change the fill
    np.testing.assert_array_equal(m.model.params["head_w"], head)


def test_inbetween_hits_keys_exactly_on_the_users_rig(test_data):
    m = model_of(random_network())
    clip = read_bvh(test_data / "cmu_131_03_hop_excerpt.bvh.xz")
    keys = [0, 50, 130, 359]
    out = tasks.inbetween(clip, keys, m, method="network")
    assert out.skeleton is clip.skeleton and out.num_frames == clip.num_frames and out.fps == clip.fps
    np.testing.assert_allclose(out.global_positions()[keys], clip.global_positions()[keys], atol=1e-9)
    assert np.all(np.isfinite(out.rotations))
    # Something was made between keys: frame 90 is not a copy of the input.
    assert np.abs(out.global_positions()[90] - clip.global_positions()[90]).max() > 1e-3
    # No pop at a key: the step into key 50 is like the steps around it.
    step = np.linalg.norm(np.diff(out.global_positions()[44:57], axis=0), axis=-1).max(axis=1)
    assert step[5] < 4 * np.median(step) + 1e-6


def test_complete_keeps_the_given_frames(test_data):
    m = model_of(random_network())
    clip = read_bvh(test_data / "reactidle_001_acted_excerpt.bvh.xz").slice(0, 60)
    out = tasks.complete(clip, 30, m)
    assert out.num_frames == 90
    np.testing.assert_allclose(out.global_positions()[:60], clip.global_positions(), atol=1e-9)


def test_generate_seeds_differ_and_intent_is_a_distribution():
    m = model_of(random_network())
    a = tasks.generate("walk", "normal", seconds=2, seed=0, model=m, method="segments")
    b = tasks.generate("walk", "normal", seconds=2, seed=3, model=m, method="segments")
    assert a.num_frames == 60 and a.fps == 30
    assert np.abs(a.global_positions() - b.global_positions()).max() > 1e-3
    probs = tasks.intent(a, m)
    assert abs(sum(probs["action"].values()) - 1) < 1e-9 and set(probs["action"]) == {"walk", "idle"}
    with pytest.raises(LMMError, match="unknown action 'fly'"):
        tasks.generate("fly", model=m, method="segments")
    # An action the model knows but holds no recorded motion of: say what it can generate.
    m.bank = {k: v[:95] if k in ("bank_rotations", "bank_root", "bank_contacts") else v[:2] for k, v in m.bank.items()}
    with pytest.raises(LMMError, match="holds no motion of 'idle' to generate from.*it can generate: walk$"):
        tasks.generate("idle", model=m, method="segments")
    assert m.generatable_actions() == ("walk",)


def test_bad_inputs(test_data, tmp_path):
    m = model_of(random_network())
    clip = read_bvh(test_data / "cmu_131_03_hop_excerpt.bvh.xz")
    with pytest.raises(LMMError, match="key frames must lie in 0..359"):
        tasks.inbetween(clip, [0, 400], m, method="network")
    with pytest.raises(LMMError, match="not found"):
        runtime.load(tmp_path / "missing.npz")
    bad = tmp_path / "bad.npz"
    np.savez(bad, x=np.zeros(3))
    with pytest.raises(LMMError, match="not an LMM model file"):
        runtime.load(bad)
    with pytest.raises(LMMError, match="unknown key"):
        ModelConfig.from_dict({"d_model": 8, "colour": "red"})
    with pytest.raises(LMMError, match="unknown baseline 'spline'; one of interpolation, hermite"):
        ModelConfig.from_dict({"baseline": "spline"})
    # A weights file from before the baseline was a choice corrects plain interpolation.
    assert ModelConfig.from_dict({"d_model": 8}).baseline == "interpolation"
    with pytest.raises(LMMError, match="gate_frames must be a positive number of frames, got 0"):
        ModelConfig.from_dict({"gate_frames": 0})
    assert ModelConfig.from_dict({"d_model": 8}).gate_frames == 3.0  # what every model before it used


def test_gate_fades_the_correction_in_over_the_models_gate_frames(test_data):
    """The window's gate is ``1 - exp(-d / gate_frames)`` of the model's own ``gate_frames``, and the
    model's output follows it: keys exact, next to them a smaller share of the correction."""
    from dataclasses import replace

    canon = tasks.to_canonical(read_bvh(test_data / "cmu_131_03_hop_excerpt.bvh.xz"), 30.0)
    rot, root = canon.rotations[:41], canon.root_positions[:41]
    known = np.zeros((41, 22), dtype=bool)
    known[:10] = known[40] = True
    t = np.arange(41)
    d = np.minimum(np.maximum(t - 9, 0), np.abs(t - 40)).astype(float)  # frames to the nearest known frame
    net = random_network()
    params = net.numpy_parameters()
    bare = {**params, "head_w": np.zeros_like(params["head_w"]), "head_b": np.zeros_like(params["head_b"])}
    moved = {}
    for frames in (3.0, 1.0):
        cfg = replace(CFG, gate_frames=frames)
        m, base = (runtime.Model(p, cfg, np.zeros(FEATURES), np.ones(FEATURES)) for p in (params, bare))
        m.symmetric = base.symmetric = False
        np.testing.assert_allclose(m.prepare(rot, root, known).gate[:, 0], 1 - np.exp(-d / frames))
        r, p, *_ = m.run_window(rot, root, known)
        assert np.array_equal(r[known], rot[known]) and np.array_equal(p[known[:, 0]], root[known[:, 0]])
        moved[frames] = np.linalg.norm(p - base.run_window(rot, root, known)[1], axis=-1)
    # The root's correction is the network's output times the gate: at frame 10, one frame after the
    # last context frame, the 1-frame gate passes (1 - e^-1) / (1 - e^-1/3) = 2.23 times the 3-frame one.
    np.testing.assert_allclose(moved[1.0][10] / moved[3.0][10], (1 - np.exp(-1)) / (1 - np.exp(-1 / 3)), rtol=1e-4)


def test_protocol_windows_pose_in_betweening_as_the_benchmark_does(test_data):
    """``--protocol-windows`` batches: one gap per batch, 10 context frames, the gap, one full key; all
    gap frames scored, labels hidden; a window too short for that is refused."""
    from lmm_core.model.body import Body
    from lmm_core.train.batches import batches
    from lmm_core.train.config import TrainConfig
    from lmm_core.train.data import Corpus, protocol_masks

    known, hide, scored = protocol_masks(3, 20)
    assert known.shape == (3, 20, 22) and known[:, :10].all() and known[:, 19].all() and not known[:, 10:19].any()
    assert scored.all() and hide.all()  # the benchmark gives no action or style
    with pytest.raises(LMMError, match="at least 12 frames, not 11"):
        protocol_masks(2, 11)
    clips = [tasks.to_canonical(read_bvh(test_data / name), 30.0)
             for name in ("cmu_131_03_hop_excerpt.bvh.xz", "reactidle_001_acted_excerpt.bvh.xz")]
    label = {"action": "<unknown>", "style": "<unknown>"}
    corpus = Corpus.from_motions(["a", "b"], clips, [label, label], Body.from_dict(None), ("<unknown>",), ("<unknown>",))
    cfg = TrainConfig(batch=2, steps=12, max_gap=20, protocol_windows=True, windows=(128,))
    mc = ModelConfig(d_model=32, layers=1, heads=4)
    stats = (np.zeros(FEATURES), np.ones(FEATURES), np.ones(FEATURES), None)
    lengths = set()
    for prep in batches(corpus, cfg, mc, stats, Body.from_dict(None), 0, 0):
        W = prep.x.shape[1]
        lengths.add(W)
        assert 12 <= W <= 31  # 10 context frames, a gap of 1..20, the key; never the 128 of --windows
        assert prep.known[:, :10].all() and prep.known[:, -1].all() and not prep.known[:, 10:-1].any()
        assert prep.scored[:, 10:-1].all() and not prep.scored[:, :10].any() and not prep.scored[:, -1].any()
        assert prep.hide.all() and (prep.action == 0).all() and (prep.style == 0).all()
    assert len(lengths) > 3


def test_export_and_load(tmp_path):
    from lmm_core.train import checkpoint
    from lmm_core.train.config import TrainConfig
    from lmm_core.train.export import export

    net = random_network()
    ckpt = tmp_path / "checkpoint.pt"
    checkpoint.save(ckpt, {"format": checkpoint.FORMAT, "step": 1, "model": net.state_dict(), "optimizer": {},
                           "train_config": {}, "model_config": json.loads(CFG.to_json()), "mean": np.zeros(FEATURES),
                           "std": np.ones(FEATURES), "scale": np.full(FEATURES, 0.5), "vel_std": None})
    path = export(ckpt, tmp_path / "m.npz", bank=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.pt", "m.npz"]  # no temporary left
    m = runtime.load(path)
    assert m.cfg == CFG
    # Options at their defaults are left out, so a runtime from before them still reads the file.
    saved = json.loads(bytes(np.load(path)["meta"]).decode())["model_config"]
    assert "rel_frames" not in saved and "modes" not in saved and "sampling" not in saved and saved["d_model"] == CFG.d_model
    assert ModelConfig.from_dict(saved) == CFG
    np.testing.assert_array_equal(m.scale, np.full(FEATURES, 0.5))
    x = np.random.default_rng(0).normal(size=(1, 12, network.INPUT + 2 * CFG.pos_freqs)).astype(np.float32)
    np.testing.assert_allclose(network.forward(m.params, m.cfg, x, np.array([1]), np.array([1]))[0],
                               network.forward(net.numpy_parameters(), CFG, x, np.array([1]), np.array([1]))[0], atol=1e-6)
    assert TrainConfig().steps > 0


class _Payload:
    """Unpickling this runs ``Path.touch`` on a file: what a crafted checkpoint would do."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (Path.touch, (self.path,))


def test_a_pickle_payload_in_a_checkpoint_is_never_run(tmp_path):
    """--resume, --init-from and export read checkpoints without unpickling objects: a crafted file is refused
    with one line naming it, and its payload does not run."""
    from lmm_core.train import checkpoint

    ran = tmp_path / "payload_ran"
    bad = tmp_path / "evil.pt"
    torch.save({"format": checkpoint.FORMAT, "step": 1, "x": _Payload(ran)}, bad)
    with pytest.raises(LMMError, match="evil.pt: not a readable LMM training checkpoint"):
        checkpoint.read(bad)
    with pytest.raises(LMMError, match="evil.pt: not a readable LMM training checkpoint"):
        checkpoint.warm_start(bad)
    r = subprocess.run([sys.executable, "-m", "lmm_core", "train", "--init-from", str(bad), "--out", str(tmp_path / "run"),
                        "--corpus", str(tmp_path / "none")], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and "evil.pt: not a readable LMM training checkpoint" in r.stderr
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not ran.exists()
    # The loader itself is not at fault: the same file read with pickle enabled runs it.
    torch.load(bad, weights_only=False)
    assert ran.exists()


def test_training_device_is_checked_before_any_work(tmp_path):
    from lmm_core.train.config import TrainConfig
    from lmm_core.train.loop import device_for as _device
    from lmm_core.train.loop import train

    with pytest.raises(LMMError, match="--device must be one of auto, cpu, cuda, got 'tpu'"):
        train(TrainConfig(corpus=str(tmp_path / "none"), out=str(tmp_path / "run"), device="tpu"))
    assert _device("cpu") == torch.device("cpu")
    if torch.cuda.is_available():
        assert _device("auto").type == "cuda"
    else:
        assert _device("auto") == torch.device("cpu")
        with pytest.raises(LMMError, match="sees no CUDA GPU.*use --device cpu"):
            train(TrainConfig(corpus=str(tmp_path / "none"), out=str(tmp_path / "run"), device="cuda"))
    assert not (tmp_path / "run").exists()  # nothing written


def test_inference_path_does_not_import_torch():
    code = "import sys, lmm_core.model.tasks, lmm_core.model.runtime; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.slow
def test_training_runs_under_torchrun_with_two_processes(test_data, tmp_path):
    """Two CPU processes (gloo) train a tiny model on a corpus built from the shipped clips."""
    from lmm_core import dataset

    data = tmp_path / "data"
    (data / "cmu").mkdir(parents=True)
    (data / "reactidle" / "acted").mkdir(parents=True)
    shutil.copy(test_data / "cmu_131_03_hop_excerpt.bvh.xz", data / "cmu" / "131_03.bvh.xz")
    shutil.copy(test_data / "reactidle_001_acted_excerpt.bvh.xz", data / "reactidle" / "acted" / "001_acted.bvh.xz")
    corpus = tmp_path / "corpus"
    index = dataset.build(data, corpus, show_progress=False)
    for c in index:  # both clips train
        c.split = "train"
    (corpus / "index.json").write_text(json.dumps({"fps": 30.0, "clips": [c.__dict__ for c in index]}))
    from lmm_core.model.body import Body
    from lmm_core.train import checkpoint
    from lmm_core.train.batches import batches
    from lmm_core.train.config import TrainConfig
    from lmm_core.train.sources import default_model_config, load_corpus

    # A batch stream replays exactly from its seed and step (what a resumed run relies on).
    cfg = TrainConfig(corpus=str(corpus), sources=("cmu", "reactidle"), batch=2, steps=3, windows=(64,))
    mc = default_model_config(cfg, d_model=32, layers=1)
    stats = (np.zeros(FEATURES), np.ones(FEATURES), np.ones(FEATURES), None)
    here = list(batches(load_corpus(cfg, mc), cfg, mc, stats, Body.from_dict(None), 7, 1))
    there = list(batches(load_corpus(cfg, mc), cfg, mc, stats, Body.from_dict(None), 7, 1))
    other = list(batches(load_corpus(cfg, mc), cfg, mc, stats, Body.from_dict(None), 8, 1))
    assert len(here) == len(there) == 2
    for a, b in zip(here, there):
        assert torch.equal(a.x, b.x) and torch.equal(a.target, b.target) and torch.equal(a.scored, b.scored)
    assert not torch.equal(here[0].target, other[0].target)
    out = tmp_path / "run"
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29531",
           "-m", "lmm_core", "train", "--corpus", str(corpus), "--out", str(out), "--steps", "3", "--batch", "2",
           "--d-model", "32", "--layers", "1", "--sources", "cmu", "reactidle", "--velocity-inputs", "--bf16",
           "--spread-weight", "0.5", "--export", str(tmp_path / "m.npz")]
    r = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    state = checkpoint.read(out / "checkpoint.pt")
    assert state["step"] == 3 and state["model_config"]["d_model"] == 32
    assert state["position_spread"].shape == (22, 3) and state["train_config"]["spread_weight"] == 0.5
    assert all(json.loads(line)["pos_spread"] > 0 for line in (out / "log.jsonl").read_text().splitlines())
    assert len((out / "log.jsonl").read_text().splitlines()) == 3  # rank 0 logs; both ranks stepped together
    m = runtime.load(tmp_path / "m.npz")
    assert m.cfg.d_model == 32 and {"bank_rotations", "bank_lengths", "bank_contacts"} <= set(m.bank)
    # Resume continues the same run.
    r = subprocess.run([sys.executable, "-m", "lmm_core", "train", "--corpus", str(corpus), "--out", str(out), "--steps", "4",
                        "--batch", "2", "--sources", "cmu", "reactidle", "--velocity-inputs", "--bf16", "--resume",
                        "--spread-weight", "0.5"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    assert checkpoint.read(out / "checkpoint.pt")["step"] == 4
    # A warm start from an exported weights file takes its weights and statistics, and keeps its baseline
    # (new models correct Hermite); at learning rate 0 nothing moves.
    assert m.cfg.baseline == "hermite" and m.cfg.velocity_inputs and m.vel_std.shape == (FEATURES,)
    r = subprocess.run([sys.executable, "-m", "lmm_core", "train", "--corpus", str(corpus), "--out", str(tmp_path / "warm"),
                        "--steps", "1", "--batch", "2", "--lr", "0", "--sources", "cmu", "reactidle", "--init-from",
                        str(tmp_path / "m.npz"), "--velocity-inputs", "--gate-frames", "1.5",
                        "--protocol-windows", "--seed", "3", "--export", str(tmp_path / "w.npz")],
                       cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    w = runtime.load(tmp_path / "w.npz")
    assert w.cfg.baseline == "hermite" and w.cfg.gate_frames == 1.5 and w.cfg.d_model == 32
    warm_cfg = checkpoint.read(tmp_path / "warm" / "checkpoint.pt")["train_config"]
    assert warm_cfg["protocol_windows"] and warm_cfg["seed"] == 3
    # Without --gate-frames a warm start keeps its model's gate.
    r = subprocess.run([sys.executable, "-m", "lmm_core", "train", "--corpus", str(corpus), "--out", str(tmp_path / "warm3"),
                        "--steps", "1", "--batch", "2", "--lr", "0", "--sources", "cmu", "reactidle", "--init-from",
                        str(tmp_path / "w.npz"), "--velocity-inputs"],
                       cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    assert checkpoint.read(tmp_path / "warm3" / "checkpoint.pt")["model_config"]["gate_frames"] == 1.5
    for k, v in m.params.items():
        np.testing.assert_array_equal(w.params[k], v)
    np.testing.assert_array_equal(w.scale, m.scale)
    np.testing.assert_array_equal(w.vel_std, m.vel_std)
    # Without the flag the velocity model cannot continue: one line saying so.
    r = subprocess.run([sys.executable, "-m", "lmm_core", "train", "--corpus", str(corpus), "--out", str(tmp_path / "warm2"),
                        "--steps", "1", "--batch", "2", "--sources", "cmu", "reactidle", "--init-from", str(tmp_path / "m.npz")],
                       cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 2 and "continues only with --velocity-inputs" in r.stderr


def test_symmetric_model_treats_a_motion_and_its_mirror_alike(test_data):
    """Mirrored input gives the mirrored output (left and right swapped, sided intent too), keys exact; one
    pass alone does not."""
    from lmm_core.model.body import canonical_body

    body = canonical_body()
    rng = np.random.default_rng(3)
    rot = R.normalize(R.identity() + rng.normal(scale=0.2, size=(40, 22, 4)))
    root = np.cumsum(rng.normal(scale=0.02, size=(40, 3)), axis=0) + [0.3, 0.9, 0.0]
    m_rot, m_root = body.mirrored(rot, root)
    back_rot, back_root = body.mirrored(m_rot, m_root)
    assert np.allclose(np.abs(np.sum(back_rot * rot, -1)), 1) and np.allclose(back_root, root)
    # The canonical body mirrors as the training data does: sides swapped, (w, x, y, z) -> (w, x, -y, -z).
    expect = rot[:, list(body.mirror)] * [1, 1, -1, -1]
    assert np.allclose(np.abs(np.sum(m_rot * expect, -1)), 1)
    known = np.zeros((40, 22), dtype=bool)
    known[:10] = known[30] = True
    known[20, :5] = True  # a partial key: sided joints among them
    cfg = ModelConfig(d_model=64, layers=2, heads=4, actions=("<unknown>", "wave-left-hand", "wave-right-hand", "walk"),
                      styles=("<unknown>", "normal"))
    torch.manual_seed(0)
    net = Network(cfg)
    with torch.no_grad():
        net.p["head_w"].normal_(0, 0.05)
        net.p["act_w"].normal_(0, 0.5)
    m = runtime.Model(net.numpy_parameters(), cfg, np.zeros(FEATURES), np.ones(FEATURES))
    sigma = list(body.mirror)
    for symmetric in (True, False):
        m.symmetric = symmetric
        r1, p1, c1, a1, _ = m.run_window(rot, root, known, action=1)
        r2, p2, c2, a2, _ = m.run_window(m_rot, m_root, known[:, sigma], action=2)
        r2, p2 = body.mirrored(r2, p2)
        same = (np.allclose(np.abs(np.sum(r1 * r2, -1)), 1, atol=1e-6) and np.allclose(p1, p2, atol=1e-6)
                and np.allclose(c1, c2[:, [1, 0, 3, 2]], atol=1e-6) and np.allclose(a1[[0, 2, 1, 3]], a2, atol=1e-6))
        assert same == symmetric
        assert np.array_equal(r1[known], rot[known]) and np.array_equal(p1[known[:, 0]], root[known[:, 0]])


def test_a_warm_start_takes_new_labels_and_keeps_the_old_answers():
    """New actions (a new source's) are appended: the old labels' embeddings, and their recognition among
    themselves, are as they were; the new ones are all but never named before training."""
    from dataclasses import replace

    from lmm_core.train.checkpoint import fit_vocabulary

    old = random_network()
    cfg = replace(CFG, actions=CFG.actions + ("climb", "dribble"), styles=CFG.styles + ("slow",))
    new = Network(cfg)
    new.load_state_dict(fit_vocabulary(old.state_dict(), CFG, cfg))
    x = np.random.default_rng(2).normal(size=(2, 30, network.input_size(CFG))).astype(np.float32)
    a, s = np.array([1, 2]), np.array([1, 0])
    out_o, act_o, sty_o = network.forward(old.numpy_parameters(), CFG, x, a, s)
    out_n, act_n, sty_n = network.forward(new.numpy_parameters(), cfg, x, a, s)
    np.testing.assert_allclose(out_n, out_o, atol=1e-5)
    np.testing.assert_allclose(act_n[:, :3], act_o, atol=1e-5)
    assert (act_n[:, 3:] < act_o.min() - 5).all() and (sty_n[:, 2:] < sty_o.min() - 5).all()
    with pytest.raises(LMMError, match="not a prefix"):
        fit_vocabulary(old.state_dict(), CFG, replace(CFG, actions=("<unknown>", "idle", "walk")))


def test_a_warm_start_on_bvh_files_takes_the_labels_their_names_carry(tmp_path):
    """Warm-starting on BVH files whose names carry actions the model lacks (pre-training data retargeted
    onto a benchmark body, say) appends those actions and their mirror images; it used to stop with a
    KeyError deep in the data loader."""
    import shutil
    from dataclasses import replace

    from lmm_core.train.config import TrainConfig
    from lmm_core.train.sources import vocabulary_for_warm_start

    for name in ("prebandai1_0001.bvh.xz", "walk1_subject1.bvh.xz", "kickLeft2_subject2.bvh.xz"):
        shutil.copy(ROOT / "tests" / "data" / "cmu_131_03_hop_excerpt.bvh.xz", tmp_path / name)
    warm = replace(CFG, actions=("<unknown>", "walk"))
    got = vocabulary_for_warm_start(TrainConfig(bvh=str(tmp_path)), warm)
    assert got.actions[:2] == ("<unknown>", "walk")  # the old ones first, in place
    assert set(got.actions[2:]) == {"prebandai", "kickLeft", "kickRight"} and len(got.actions) == 5
    assert got.styles == CFG.styles  # "normal" was there
    assert vocabulary_for_warm_start(TrainConfig(bvh=str(tmp_path)), got) == got


def test_a_checkpoint_from_before_the_split_still_reads(tmp_path):
    """Runs before 2026-12-05 stored their statistics as numpy arrays and two options since retired: such
    a checkpoint resumes, warm-starts and exports as it did."""
    from lmm_core.train import checkpoint
    from lmm_core.train.config import TrainConfig, saved_config

    net = random_network()
    old = tmp_path / "checkpoint.pt"
    torch.save({"format": checkpoint.FORMAT, "step": 3, "model": net.state_dict(), "optimizer": {},
                "train_config": {"steps": 9, "baseline": "hermite", "prefetch": False},
                "model_config": json.loads(CFG.to_json()), "mean": np.zeros(FEATURES), "std": np.ones(FEATURES),
                "scale": np.full(FEATURES, 0.5), "vel_std": None, "position_spread": np.ones((22, 3))}, old)
    state = checkpoint.read(old)
    assert state["step"] == 3 and state["scale"].dtype == np.float64 and state["position_spread"].shape == (22, 3)
    assert saved_config(state["train_config"], "old") == TrainConfig(steps=9)
    with pytest.raises(LMMError, match="unknown key"):
        saved_config({"steps": 9, "invented": 1}, "old")
