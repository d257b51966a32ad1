"""The next-frame network (model/next_frame.py, train/next_frame.py): the frame vectors' round trip and
their indifference to where the body stands and faces, numpy/torch parity of a step, the weights file's
checks, a real training run on shipped capture and generation from it, and the option errors."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from lmm_core import read_bvh
from lmm_core import rotations as R
from lmm_core.cli import main
from lmm_core.errors import LMMError
from lmm_core.model import next_frame as NF
from lmm_core.canonical import canonical_skeleton
from lmm_core.model import runtime, tasks
from lmm_core.motion import Motion

torch = pytest.importorskip("torch")
from lmm_core.train import next_frame as T  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CFG = NF.NextFrameConfig(hidden=24, layers=2, latent=5, actions=("<unknown>", "walk", "hop"), styles=("<unknown>", "normal"))


@pytest.fixture(scope="module")
def clip(test_data):
    """The shipped ReActIdle excerpt on the canonical body: rotations (T, 22, 4), root (T, 3)."""
    c = tasks.to_canonical(read_bvh(test_data / "reactidle_001_acted_excerpt.bvh.xz"), 30.0)
    return c.rotations, c.root_positions


def test_frame_vectors_give_back_the_motion_where_it_stood(clip):
    rot, root = clip
    vec = NF.encode(rot, root)
    assert vec.shape == (len(root) - 1, NF.FRAME)
    back_rot, back_root = NF.decode(vec, float(NF._heading(rot[0, 0])), root[0, [0, 2]])
    np.testing.assert_allclose(back_root, root[1:], atol=1e-9)
    np.testing.assert_allclose(np.abs(np.sum(back_rot * rot[1:], axis=-1)), 1.0, atol=1e-6)


def test_frame_vectors_do_not_depend_on_where_the_body_stands_or_faces(clip):
    rot, root = clip
    turn = R.from_axis_angle(np.array([0.0, 1.0, 0.0]), 2.0)
    moved_rot = rot.copy()
    moved_rot[:, 0] = R.mul(turn, rot[:, 0])
    moved_root = R.mul_vec(turn, root) + np.array([3.0, 0.0, -5.0])
    np.testing.assert_allclose(NF.encode(moved_rot, moved_root), NF.encode(rot, root), atol=1e-9)


def test_pose_inputs_are_the_joints_world_positions_and_velocities_seen_from_the_heading(clip):
    rot, root = clip
    vec = NF.encode(rot[:12], root[:12])  # frame i + 1 of the clip is vec[i]
    world = Motion(canonical_skeleton(), rot[:12], root[:12], 30.0).global_positions()
    head = R.from_axis_angle(np.array([0.0, 1.0, 0.0]), NF._heading(rot[10, 0]))
    pose = NF.pose_inputs(vec[8], vec[9]).reshape(2, 22, 3)
    np.testing.assert_allclose(pose[0], R.inv_mul_vec(head, world[10] - root[10] * [1, 0, 1]), atol=1e-6)
    np.testing.assert_allclose(pose[1], R.inv_mul_vec(head, world[10] - world[9]), atol=1e-6)
    t = lambda a: torch.as_tensor(a, dtype=torch.float64)  # noqa: E731
    both = T.pose_inputs(T.positions(t(vec[8:9])), T.positions(t(vec[9:10])), t(vec[9:10]))
    np.testing.assert_allclose(both.numpy()[0], pose.ravel(), atol=1e-9)


def _random_model(tmp_path: Path, seed: int = 0, cfg: NF.NextFrameConfig = CFG) -> tuple[T.Net, NF.NextFrameModel]:
    torch.manual_seed(seed)
    net = T.Net(cfg)
    with torch.no_grad():
        net.out.weight.normal_(0, 0.05)
        net.out.bias.normal_(0, 0.05)
    rng = np.random.default_rng(seed)
    mean, std = rng.normal(0, 0.1, NF.FRAME), rng.uniform(0.05, 0.5, NF.FRAME)
    stats = (mean, std, rng.normal(0, 0.1, NF.POSE), rng.uniform(0.05, 0.5, NF.POSE)) + \
        ((rng.normal(0, 0.1, NF.KEYS), rng.uniform(0.05, 0.5, NF.KEYS)) if cfg.keys else ())
    T._save(tmp_path / "checkpoint.pt", net, cfg, stats, (rng.normal(0, 1, (3, 2, NF.FRAME)), np.array([1, 1, 2])),
            T.NextFrameTrainConfig(), 1)
    out = T.export(tmp_path / "checkpoint.pt", tmp_path / "nf.npz")
    return net, NF.load(out)


@pytest.mark.parametrize("variant", [{}, {"label_layers": False, "absolute_root": False}, {"positions": False},
                                     {"keys": True}, {"keys": True, "root_keys": True}])
def test_a_numpy_step_is_the_torch_decoders(tmp_path, clip, variant):
    cfg = NF.NextFrameConfig(**(CFG.__dict__ | variant))
    net, m = _random_model(tmp_path, cfg=cfg)
    rot, root = clip
    vec = NF.encode(rot[:12], root[:12])
    prev, cur = vec[3:6], vec[4:7]
    action, style = np.array([1, 2, 0]), np.array([1, 0, 1])
    z = np.random.default_rng(1).normal(size=(3, CFG.latent))
    to_key = np.random.default_rng(2).normal(size=(3, 3))
    key_in = NF.key_inputs(cur, to_key, vec[8:11], np.array([0, 5, 40])) if cfg.keys else None
    root_only = np.array([True, False, True]) if cfg.root_keys else None
    nxt, con = m.step(prev, cur, action, style, z, keys=key_in, root_only=root_only)
    mean, std = torch.as_tensor(m.mean, dtype=torch.float32), torch.as_tensor(m.std, dtype=torch.float32)
    n = lambda a: (torch.as_tensor(a, dtype=torch.float32) - mean) / std  # noqa: E731
    labels = torch.cat([T._onehot(action, len(CFG.actions)), T._onehot(style, len(CFG.styles))], dim=1)
    t = lambda a: torch.as_tensor(a, dtype=torch.float32)  # noqa: E731
    pose = [(T.pose_inputs(T.positions(t(prev)), T.positions(t(cur)), t(cur)) - t(m.pose_mean)) / t(m.pose_std)] \
        if cfg.positions else []
    if cfg.keys:
        torch_keys = T.key_inputs(t(cur), t(to_key), T.positions(t(vec[8:11])), t(vec[8:11]), torch.as_tensor([0, 5, 40]))
        np.testing.assert_allclose(torch_keys.numpy(), key_in, atol=1e-5)
        kin = (torch_keys - t(m.key_mean)) / t(m.key_std)
        pose.append(T.hide_poses(kin, torch.as_tensor(root_only)) if cfg.root_keys else kin)
        if cfg.root_keys:  # a key of the pelvis alone: its pose is not read
            other = NF.key_inputs(cur, to_key, vec[[2, 3, 1]], np.array([0, 5, 40]))
            other[:, :3], other[:, NF.KEYS - NF.TTA - 2:] = key_in[:, :3], key_in[:, NF.KEYS - NF.TTA - 2:]
            moved = m.step(prev, cur, action, style, z, keys=other, root_only=root_only)[0]
            np.testing.assert_allclose(moved[root_only], nxt[root_only], atol=1e-12)
            assert np.abs(moved[~root_only] - nxt[~root_only]).max() > 1e-6, np.abs(moved - nxt).max()
        else:
            with pytest.raises(LMMError, match="keys of the pelvis alone"):
                m.step(prev, cur, action, style, z, keys=key_in, root_only=np.array([True, False, False]))
        with pytest.raises(LMMError, match="needs the next key"):
            m.step(prev, cur, action, style, z)
    base = n(cur)
    if cfg.absolute_root:
        base[:, :NF.ROOT] = 0.0
    with torch.no_grad():
        out = net.decode(torch.cat([n(prev), n(cur), *pose, labels], dim=1), torch.as_tensor(z, dtype=torch.float32), labels)
        want = T._project(base + out[:, :NF.FRAME], mean, std) * std + mean
    np.testing.assert_allclose(nxt, want.numpy(), atol=2e-4)
    np.testing.assert_allclose(con, torch.sigmoid(out[:, NF.FRAME:]).numpy(), atol=1e-5)
    # What is fed back is a valid rotation in every 6D block.
    d6 = nxt[:, NF.ROT6].reshape(3, -1, 6)
    np.testing.assert_allclose(np.linalg.norm(d6[..., :3], axis=-1), 1.0, atol=1e-9)
    np.testing.assert_allclose(np.sum(d6[..., :3] * d6[..., 3:], axis=-1), 0.0, atol=1e-9)


def test_guidance_pushes_the_step_away_from_the_unlabelled_one(tmp_path, clip):
    _, m = _random_model(tmp_path)
    vec = NF.encode(clip[0][:5], clip[1][:5])
    prev, cur, z = vec[1:2], vec[2:3], np.zeros((1, CFG.latent))
    raw = lambda a, g: m.step(prev, cur, np.array([a]), np.array([0]), z, g)[0]  # noqa: E731
    np.testing.assert_allclose(raw(1, 1.0), m.step(prev, cur, np.array([1]), np.array([0]), z)[0])
    plain, labelled, pushed = raw(0, 1.0), raw(1, 1.0), raw(1, 2.0)
    # Away from the unlabelled step, beyond the labelled one (the 6D blocks are re-projected, so compare
    # the unprojected numbers: height, travel and turn).
    np.testing.assert_allclose(pushed[:, :NF.ROOT] - plain[:, :NF.ROOT], 2 * (labelled[:, :NF.ROOT] - plain[:, :NF.ROOT]),
                               atol=1e-9)


def test_a_checkpoint_is_read_without_running_code(tmp_path):
    import pickle

    class Boom:
        def __reduce__(self):
            return (print, ("ran",))

    (tmp_path / "evil.pt").write_bytes(pickle.dumps({"net": Boom(), "config": {}}, protocol=2))
    with pytest.raises(LMMError, match="not a next-frame checkpoint"):
        T.read_checkpoint(tmp_path / "evil.pt")
    with pytest.raises(LMMError, match="not a next-frame checkpoint"):
        T.export(tmp_path / "evil.pt", tmp_path / "out.npz")
    assert not (tmp_path / "out.npz").exists()


def test_the_weights_file_is_checked(tmp_path):
    _, m = _random_model(tmp_path)
    with pytest.raises(LMMError, match="not a next-frame model file"):
        NF.load(runtime.DEFAULT_MODEL)
    with pytest.raises(LMMError, match="not found"):
        NF.load(tmp_path / "missing.npz")
    with np.load(tmp_path / "nf.npz") as data:
        arrays = dict(data)
    bad = dict(arrays, **{"p.out_b": np.zeros(3, np.float32)})
    np.savez(tmp_path / "bad_shape.npz", **bad)
    with pytest.raises(LMMError, match="p.out_b"):
        NF.load(tmp_path / "bad_shape.npz")
    nan = dict(arrays, std=np.full(NF.FRAME, np.nan, np.float32))
    np.savez(tmp_path / "nan.npz", **nan)
    with pytest.raises(LMMError, match="not finite"):
        NF.load(tmp_path / "nan.npz")
    with pytest.raises(LMMError, match="unknown action 'fly' \\(the next-frame model does not know it\\)"):
        m.action_index("fly")


def test_a_training_run_generates_motion_that_carries_on_and_differs_by_seed(tmp_path, hop_corpus):
    tc = T.NextFrameTrainConfig(corpus=hop_corpus, out=tmp_path / "run", sources=("cmu",), steps=3, batch=8,
                                rollout=3, hidden=32, layers=2, latent=4)
    ckpt = T.train_next_frame(tc)
    rows = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert rows[-1]["step"] == 2 and np.isfinite(rows[-1]["rec"])
    m = NF.load(T.export(ckpt, tmp_path / "nf.npz"))
    assert len(m.cfg.actions) == 2 and len(m.starts) >= 1  # the excerpt's one label
    action = m.cfg.actions[1]
    gen = lambda seed, variation=1.0, **kw: tasks.generate(action, None, 2.0, seed, variation, method="next-frame",  # noqa: E731
                                                           next_frame=m, clean=False, **kw)
    a, b, a2 = gen(0), gen(1), gen(0)
    assert a.num_frames == 60 and np.isfinite(a.rotations).all()
    np.testing.assert_array_equal(a.rotations, a2.rotations)  # the seed fixes the draw
    assert not np.allclose(a.rotations, b.rotations)
    # Carrying on from motion: the first made frame stands next to the start's last, not at the origin.
    # Carrying on from motion turned and moved: the first made frame stands next to the start's last and
    # faces as it faced, not at the origin facing +Z.
    turn = R.from_axis_angle(np.array([0.0, 1.0, 0.0]), 2.5)
    start = a.slice(0, 30)
    start.rotations[:, 0] = R.mul(turn, start.rotations[:, 0])
    start.root_positions[:] = R.mul_vec(turn, start.root_positions) + np.array([4.0, 0.0, -2.0])
    more = gen(2, start=start)
    assert np.linalg.norm(more.root_positions[0, [0, 2]] - start.root_positions[-1, [0, 2]]) < 0.2
    facing = lambda q: NF._heading(q)  # noqa: E731
    assert abs(NF._wrap(facing(more.rotations[0, 0]) - facing(start.rotations[-1, 0]))) < 0.3
    broken = (start.rotations.copy(), start.root_positions.copy())
    broken[1][-1, 0] = np.nan
    with pytest.raises(LMMError, match="NaN"):
        m.generate(10, 1, 0, start=broken)
    # Going on from the exported file (which carries the encoder) is the same network.
    warm = T.warm_state(tmp_path / "nf.npz")
    net = T.Net(m.cfg)
    net.load_state_dict(warm["net"])
    with pytest.raises(LMMError, match="absolute_root True .*--relative-root"):
        T.check_warm_start(T.NextFrameTrainConfig(hidden=32, layers=2, latent=4, absolute_root=False,
                                                  init_from=tmp_path / "nf.npz"))
    with pytest.raises(LMMError, match="another network: hidden 32"):
        T.train_next_frame(T.NextFrameTrainConfig(corpus=hop_corpus, out=tmp_path / "run2", sources=("cmu",), steps=1,
                                                  batch=4, rollout=2, hidden=16, layers=2, latent=4,
                                                  init_from=tmp_path / "nf.npz"))


def test_cli_errors_name_the_problem(tmp_path, capsys):
    assert main(["train-next-frame", "--corpus", str(tmp_path / "none"), "--steps", "1"]) == 2
    assert "holds no built corpus" in capsys.readouterr().err
    assert main(["train-next-frame", "--beta", "-1"]) == 2
    assert "--beta" in capsys.readouterr().err
    assert main(["generate", "--action", "walk", "--method", "next-frame", "--next-frame-model",
                 str(runtime.DEFAULT_MODEL), "-o", str(tmp_path / "x.bvh")]) == 2
    assert "not a next-frame model file" in capsys.readouterr().err
    assert not (tmp_path / "x.bvh").exists()
    assert main(["generate", "--action", "walk", "--method", "segments", "--guidance", "1.5", "-o",
                 str(tmp_path / "x.bvh")]) == 2
    assert "give --method next-frame (the default)" in capsys.readouterr().err
    assert main(["generate", "--action", "walk", "--method", "next-frame", "--guidance", "-1", "-o", str(tmp_path / "x.bvh")]) == 2
    assert "--guidance" in capsys.readouterr().err
    assert not (tmp_path / "x.bvh").exists()


def test_the_shipped_network_walks_on_idles_in_place_and_knows_every_action():
    """The shipped file (presets/models/lmm_next_frame.npz, NEXT_FRAME_MODEL_CARD.md): a 20-second walk
    keeps walking (no slowing to a stand), an idle stays where it is, and every action of its vocabulary
    generates finite motion on the floor."""
    m = NF.load()
    walk = tasks.generate("walk", None, 20.0, 0, 1.0, method="next-frame", next_frame=m)
    step = np.linalg.norm(np.diff(walk.root_positions[:, [0, 2]], axis=0), axis=1) * 30  # m/s
    assert 0.7 < step[:300].mean() < 1.8 and 0.7 < step[-150:].mean() < 1.8  # real walks: 1.2 m/s
    idle = tasks.generate("idle", None, 10.0, 0, 1.0, method="next-frame", next_frame=m)
    assert np.linalg.norm(idle.root_positions[-1, [0, 2]] - idle.root_positions[0, [0, 2]]) < 1.0
    for action in m.cfg.actions[1:]:
        rot, root, con = m.generate(60, m.action_index(action), 0, seed=1)
        assert np.isfinite(rot).all() and np.isfinite(root).all(), action
        assert 0.5 < root[:, 1].mean() < 1.2, action  # the pelvis at a body's height, not sunk or flying


def test_a_run_without_joint_inputs_goes_on_from_its_export(tmp_path, hop_corpus):
    small = dict(corpus=hop_corpus, sources=("cmu",), steps=2, batch=4, rollout=2, hidden=16, layers=1, latent=3,
                 positions=False)
    first = T.export(T.train_next_frame(T.NextFrameTrainConfig(out=tmp_path / "a", **small)), tmp_path / "a.npz")
    again = T.train_next_frame(T.NextFrameTrainConfig(out=tmp_path / "b", init_from=first, **small))
    assert NF.load(T.export(again, tmp_path / "b.npz")).pose_mean is None


def test_a_run_that_goes_on_keeps_the_start_pairs_generation_begins_from(tmp_path, hop_corpus):
    """A warm start (from an export or a checkpoint) keeps its start pairs, whatever this run's seed: drawn anew
    they change where every generation begins, and with it generation's figures."""
    small = dict(corpus=hop_corpus, sources=("cmu",), steps=1, batch=4, rollout=2, hidden=16, layers=1, latent=3)
    first = T.export(T.train_next_frame(T.NextFrameTrainConfig(out=tmp_path / "a", seed=1, **small)), tmp_path / "a.npz")
    fresh = NF.load(T.export(T.train_next_frame(T.NextFrameTrainConfig(out=tmp_path / "f", seed=2, **small)), tmp_path / "f.npz"))
    assert not np.array_equal(fresh.starts, NF.load(first).starts)  # another seed draws other pairs
    for src in (first, tmp_path / "a" / "checkpoint.pt"):
        again = T.train_next_frame(T.NextFrameTrainConfig(out=tmp_path / "b", seed=2, init_from=src, **small))
        went_on = NF.load(T.export(again, tmp_path / "b.npz"))
        np.testing.assert_array_equal(went_on.starts, NF.load(first).starts)
        np.testing.assert_array_equal(went_on.start_action, NF.load(first).start_action)
    # --start-pairs N draws up to N per action (from different clips) anew, and --steps 0 saves the network as it is with them
    redrawn = T.train_next_frame(T.NextFrameTrainConfig(out=tmp_path / "c", seed=2, init_from=first, start_pairs=3,
                                                        **(small | {"steps": 0})))
    more = NF.load(T.export(redrawn, tmp_path / "c.npz"))
    np.testing.assert_array_equal(more.starts, fresh.starts)  # drawn anew with seed 2, as a fresh run draws them
    assert [h["steps"] for h in more.meta["history"]] == [1] and more.meta["history"][0]["train"]["seed"] == 1
    assert more.meta["steps"] == 0 and more.meta["train"]["start_pairs"] == 3
    for k, v in NF.load(first).p.items():
        np.testing.assert_array_equal(more.p[k], v)


def test_a_file_records_the_label_pairs_it_was_trained_on_and_generation_keeps_to_them(tmp_path, hop_corpus):
    """``label_pairs``: the (action, style) pairs of the training clips (mirrored actions too) go into the
    checkpoint and the export's record, a run that goes on keeps the pairs it started with, a malformed record
    is refused when the file loads, and the shipped generator lists and checks styles by its pairs."""
    small = dict(corpus=hop_corpus, sources=("cmu",), steps=1, batch=4, rollout=2, hidden=16, layers=1, latent=3)
    first = T.export(T.train_next_frame(T.NextFrameTrainConfig(out=tmp_path / "a", **small)), tmp_path / "a.npz")
    m = NF.load(first)
    corpus = T.training_data(T.NextFrameTrainConfig(**small))[1]
    want = sorted(set(zip(corpus.action.tolist(), corpus.style.tolist()))
                  | set(zip(corpus.action_mirrored.tolist(), corpus.style.tolist())))
    assert [tuple(q) for q in m.meta["label_pairs"]] == want and want
    a, st = want[0]
    assert m.styles_of(a) == tuple(m.cfg.styles[q] for b, q in want if b == a and q)
    # A warm start from an export whose record holds a pair these clips do not keeps it.
    data = dict(np.load(first))
    meta = json.loads(data["meta"].tobytes())
    extra = [len(m.cfg.actions) - 1, len(m.cfg.styles) - 1]
    meta["label_pairs"] = meta["label_pairs"] + [extra]
    data["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    np.savez(tmp_path / "more.npz", **data)
    went_on = NF.load(T.export(T.train_next_frame(T.NextFrameTrainConfig(out=tmp_path / "b", init_from=tmp_path / "more.npz",
                                                                         **small)), tmp_path / "b.npz"))
    assert extra in went_on.meta["label_pairs"]
    for bad in ([[0]], [[999, 0]], "all", [[0.5, 1]]):
        meta["label_pairs"] = bad
        data["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
        np.savez(tmp_path / "bad.npz", **data)
        with pytest.raises(LMMError, match="label_pairs.*damaged"):
            NF.load(tmp_path / "bad.npz")
    # The shipped generator: every action it knows, the styles each was trained in, and a pair it never saw
    # refused with the styles it has (a style is conditioning for it, not a recording, but one it was never
    # shown with that action is not a style it learned).
    assert {"walk", "dance", "jump", "idle"} <= set(tasks.actions_for("next-frame"))
    assert tasks.styles_for("idle", method="next-frame") == ("acted", "genuine")
    assert "tired" in tasks.styles_for("walk", method="next-frame")
    with pytest.raises(LMMError, match="trained on no 'idle' in style 'happy'; its styles of 'idle': acted, genuine"):
        tasks.generate("idle", "happy", seconds=1.0)
    assert tasks.generate("idle", "genuine", seconds=1.0).num_frames == 30


def test_each_generation_method_has_its_own_variation_by_default():
    """``tasks.GENERATION_VARIATION``: the next-frame generator at its full learned spread (its figures are at
    1), segments' switching chance and the window network's temperature at 0.5; an explicit value wins."""
    assert tasks.GENERATION_METHODS[0] == "next-frame"
    assert tasks.GENERATION_VARIATION == {"next-frame": 1.0, "segments": 0.5, "network": 0.5}
    default = tasks.generate("walk", seconds=1.0, seed=3)
    np.testing.assert_array_equal(default.rotations, tasks.generate("walk", seconds=1.0, seed=3, variation=1.0).rotations)
    assert not np.allclose(default.rotations, tasks.generate("walk", seconds=1.0, seed=3, variation=0.5).rotations)


def test_a_generator_guides_its_labels_by_default_and_an_in_betweener_does_not():
    assert NF.GUIDANCE == 1.75 and NF.load(NF.DEFAULT).guidance == NF.GUIDANCE
    assert NF.load(NF.DEFAULT_KEYS).guidance == 1.0


def test_steps_zero_needs_a_network_to_save(tmp_path, hop_corpus, capsys):
    """``--steps 0`` without ``--init-from`` is refused by name before any work; ``--start-pairs 0`` too."""
    assert main(["train-next-frame", "--corpus", str(hop_corpus), "--out", str(tmp_path / "x"), "--steps", "0"]) == 2
    assert "--steps 0 saves the --init-from network" in capsys.readouterr().err
    assert main(["train-next-frame", "--corpus", str(hop_corpus), "--out", str(tmp_path / "x"), "--start-pairs", "0"]) == 2
    assert "--start-pairs" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
    with pytest.raises(LMMError, match="--steps 0"):
        T.train_next_frame(T.NextFrameTrainConfig(corpus=hop_corpus, out=tmp_path / "y", steps=0))


def test_key_inputs_see_the_key_from_where_the_body_stands_and_follow_it_frame_by_frame(clip):
    """The key's joints as ``key_inputs`` gives them are its world positions seen from the current frame's
    heading and pelvis ground point, wherever the clip stands and faces; ``advance`` (numpy and torch)
    keeps the key's place up to date through the frames between, arriving at nothing left to go."""
    rot, root = clip[0][:60].copy(), clip[1][:60].copy()
    turn = R.from_axis_angle(np.array([0.0, 1.0, 0.0]), 0.7)
    rot[:, 0] = R.mul(turn, rot[:, 0])
    root = R.mul_vec(turn, root) + np.array([3.0, 0.0, -2.0])
    vec = NF.encode(rot, root)  # frame i + 1 is vec[i]
    yaw = NF._heading(rot[:, 0])
    a, b = 10, 50
    to_key = NF.to_key_from(root[a], yaw[a], root[b], yaw[b])
    key = NF.encode(rot[[b, b]], root[[b, b]])[0]
    seen = NF.key_inputs(vec[a - 1], to_key, key, np.array(b - a - 1))
    world = Motion(canonical_skeleton(), rot, root, 30.0).global_positions()[b]
    head = R.from_axis_angle(np.array([0.0, 1.0, 0.0]), yaw[a])
    np.testing.assert_allclose(seen[:66].reshape(22, 3), R.inv_mul_vec(head, world - root[a] * [1, 0, 1]), atol=1e-6)
    np.testing.assert_allclose(seen[-NF.TTA:], NF.tta_features(np.array(b - a - 1)), atol=1e-12)
    t = lambda x: torch.as_tensor(x, dtype=torch.float64)  # noqa: E731
    left, left_t = to_key, t(to_key[None])
    for f in range(a + 1, b + 1):
        left, left_t = NF.advance(left, vec[f - 1]), T.advance(left_t, t(vec[f - 1:f]))
        if f == 30:
            np.testing.assert_allclose(left, NF.to_key_from(root[30], yaw[30], root[b], yaw[b]), atol=1e-9)
    np.testing.assert_allclose(left, 0.0, atol=1e-9)
    np.testing.assert_allclose(left_t.numpy()[0], left, atol=1e-9)


def test_an_in_betweener_keeps_its_keys_and_rolls_on_its_own_ground(tmp_path, clip):
    """``NextFrameModel.inbetween`` (an untrained network): the keys come back exactly, the frames between are
    finite, the same keys standing 0.3 m up give the same motion 0.3 m
    up (rolled on their own ground), and a generator (no key inputs) is refused."""
    _, m = _random_model(tmp_path, cfg=NF.NextFrameConfig(**(CFG.__dict__ | {"keys": True})))
    rot, root = clip[0][:61], clip[1][:61]
    known = np.zeros(61, dtype=bool)
    known[[0, 20, 60]] = True
    r, p, con = m.inbetween(rot, root, known, seed=3)
    np.testing.assert_array_equal(r[known], rot[known])
    np.testing.assert_array_equal(p[known], root[known])
    assert np.isfinite(r).all() and np.isfinite(p).all() and con.shape == (61, 4)
    up = np.array([0.0, 0.3, 0.0])
    r2, p2, _ = m.inbetween(rot, root + up, known, seed=3)
    r3, p3, _ = m.inbetween(rot, root + 2 * up, known, seed=3)
    np.testing.assert_allclose(p3, p2 + up, atol=1e-9)
    np.testing.assert_allclose(r3, r2, atol=1e-9)
    # On the floor the ground is snapped to y = 0 (``floor.SNAP``), off it the ankles say where it is: the
    # two agree to the few millimetres a captured sole sinks or floats.
    np.testing.assert_allclose(p2, p + up, atol=0.02)
    (tmp_path / "g").mkdir()
    _, gen = _random_model(tmp_path / "g")
    with pytest.raises(LMMError, match="not trained to in-between"):
        gen.inbetween(rot, root, known)


def test_a_generator_learns_keys_and_in_betweens_a_bvh_through_the_cli(tmp_path, hop_corpus, test_data, capsys):
    """A generator's export goes on as an in-betweener (``--keys``: the key inputs start at zero weight, so it
    begins as the generator), and ``lmm inbetween --method next-frame`` gives back the BVH's keys exactly."""
    small = dict(corpus=hop_corpus, sources=("cmu",), batch=8, rollout=3, hidden=32, layers=2, latent=4)
    gen = T.export(T.train_next_frame(T.NextFrameTrainConfig(out=tmp_path / "g", steps=2, **small)), tmp_path / "g.npz")
    warm = T.warm_state(gen)
    widened = T.widen_for_keys(warm["net"], NF.NextFrameConfig(**(warm["config"] | {"keys": True})))
    at = 2 * NF.FRAME + NF.POSE
    assert torch.equal(widened["dec.0.weight"][:, at:at + NF.KEYS], torch.zeros(32, NF.KEYS))
    assert torch.equal(widened["dec.0.weight"][:, at + NF.KEYS:], warm["net"]["dec.0.weight"][:, at:])
    keys = T.export(T.train_next_frame(T.NextFrameTrainConfig(out=tmp_path / "k", steps=2, keys=True, max_gap=12,
                                                              init_from=gen, **small)), tmp_path / "k.npz")
    assert NF.load(keys).cfg.keys
    with pytest.raises(LMMError, match="keys True .*--keys"):
        T.check_warm_start(T.NextFrameTrainConfig(init_from=keys, **small))
    src = test_data / "cmu_131_03_hop_excerpt.bvh.xz"
    out = tmp_path / "between.bvh"
    assert main(["inbetween", str(src), "--keys", "0,20,50", "--method", "next-frame", "--next-frame-model", str(keys),
                 "-o", str(out)]) == 0
    given, made = read_bvh(src), read_bvh(out)
    for k in (0, 20, 50):
        np.testing.assert_allclose(made.rotations[k], given.rotations[k], atol=1e-4)
        np.testing.assert_allclose(made.root_positions[k], given.root_positions[k], atol=1e-3)
    assert main(["inbetween", str(src), "--keys", "0,20", "--method", "next-frame", "--next-frame-model", str(gen),
                 "-o", str(tmp_path / "no.bvh")]) == 2
    assert "does not in-between" in capsys.readouterr().err and not (tmp_path / "no.bvh").exists()
    assert main(["train-next-frame", "--corpus", str(hop_corpus), "--keys", "--rollout", "20", "--max-gap", "10"]) == 2
    assert "--max-gap" in capsys.readouterr().err
    with pytest.raises(LMMError, match="--max-gap"):  # the Python API checks it too
        T.train_next_frame(T.NextFrameTrainConfig(out=tmp_path / "x", steps=1, keys=True, max_gap=2, **small))
    # Each file for its own method: refused, not ignored.
    assert main(["inbetween", str(src), "--keys", "0,20", "--method", "next-frame", "--model", str(runtime.DEFAULT_MODEL),
                 "-o", str(tmp_path / "no.bvh")]) == 2
    assert "--model is the window network's file" in capsys.readouterr().err
    assert main(["complete", str(src), "--frames", "10", "--next-frame-model", str(gen), "-o", str(tmp_path / "no.bvh")]) == 2
    assert "which --method network does not use" in capsys.readouterr().err
    assert main(["generate", "--action", "walk", "--method", "next-frame", "--next-frame-model", str(keys),
                 "-o", str(tmp_path / "no.bvh")]) == 2
    assert "cannot generate alone" in capsys.readouterr().err and not (tmp_path / "no.bvh").exists()


def test_keys_unlike_the_training_data_are_checked_and_lean_on_interpolation(tmp_path, clip):
    """``checked_inbetween``: keys that look like the data the statistics came from keep the network's frames
    whole; the same keys with a joint turned far off every key are unusual, and with no inner key to check
    the frames are interpolation's (share 0), with inner keys a share in [0, 1] that blends the two."""
    _, m = _random_model(tmp_path, cfg=NF.NextFrameConfig(**(CFG.__dict__ | {"keys": True})))
    rot, root = clip[0][:61], clip[1][:61]
    vec = NF.encode(rot, root)
    m.mean, m.std = vec.mean(axis=0), np.maximum(vec.std(axis=0), 0.05)  # this clip is the "training data"
    two = np.zeros(61, dtype=bool)
    two[[0, 60]] = True
    r, p, con, share = m.checked_inbetween(rot, root, two, seed=1)
    assert share == 1.0
    assert not m.unusual_keys(rot, root + np.array([0.0, 0.5, 0.0]), two)  # on a box: heights on its own ground
    np.testing.assert_array_equal(r, m.inbetween(rot, root, two, seed=1)[0])
    odd = rot.copy()
    odd[:, 15] = R.mul(odd[:, 15], R.from_axis_angle(np.array([1.0, 0.0, 0.0]), 2.5))  # the head turned far back,
    odd[:, 3] = R.mul(odd[:, 3], R.from_axis_angle(np.array([0.0, 0.0, 1.0]), 2.0))  # the spine bent sideways
    assert m.unusual_keys(odd, root, two)
    r, p, con, share = m.checked_inbetween(odd, root, two, seed=1)
    gr, gp = NF._interpolated(odd, root, two)
    assert share == 0.0 and not con.any()
    np.testing.assert_allclose(p, gp, atol=1e-12)
    np.testing.assert_allclose(np.abs(np.sum(r * gr, axis=-1)), 1.0, atol=1e-9)
    many = np.zeros(61, dtype=bool)
    many[::10] = True
    r, p, con, share = m.checked_inbetween(odd, root, many, seed=1)
    np.testing.assert_array_equal(p[many], root[many])
    # Two shares blend the network's frames with interpolation's (1: the network's alone), one for the pelvis's
    # path and one for the poses, fitted on the hidden keys (``trust_parts``); ``checked_inbetween`` says the smaller.
    from lmm_core.model.trust import check_frames, trust_parts

    hide = check_frames(many[:, None])
    fewer = many.copy()
    fewer[hide] = False
    hr, hp, _ = m.inbetween(odd, root, fewer, seed=1)
    hgr, hgp = NF._interpolated(odd, root, fewer)
    at = lambda q, x: NF._world(q[hide], x[hide])  # noqa: E731
    path, pose = trust_parts(at(hr, hp), at(hgr, hgp), at(odd, root), hp[hide] - hgp[hide])
    assert m.checked_parts(odd, root, many, seed=1)[3] == (path, pose) and share == min(path, pose)
    nr, np_, ncon = m.inbetween(odd, root, many, seed=1)
    gr, gp = NF._interpolated(odd, root, many)
    assert 0.0 < path < 1.0  # a blend, not either end (this clip: the path 0.08 of the way, the poses none)
    np.testing.assert_allclose(p, gp + path * (np_ - gp), atol=1e-9)
    np.testing.assert_allclose(np.abs(np.sum(r * R.slerp(gr, nr, np.full(nr.shape[:-1], pose)), axis=-1)), 1.0,
                               atol=1e-9)
    np.testing.assert_allclose(con, ncon * pose, atol=1e-12)


def test_unusual_keys_far_apart_keep_the_network_rather_than_glide(tmp_path, clip, monkeypatch):
    """``checked_inbetween``'s glide rule: two unusual keys whose network arrival is not trusted fall back to
    interpolation, unless interpolation would carry the body across the floor faster than ``GLIDE_SPEED``
    (2 cm a frame) on frozen feet; then the network's walk is kept."""
    _, m = _random_model(tmp_path, cfg=NF.NextFrameConfig(**(CFG.__dict__ | {"keys": True})))
    rot, root = clip[0][:61].copy(), clip[1][:61].copy()
    vec = NF.encode(rot, root)
    m.mean, m.std = vec.mean(axis=0), np.maximum(vec.std(axis=0), 0.05)
    rot[:, 15] = R.mul(rot[:, 15], R.from_axis_angle(np.array([1.0, 0.0, 0.0]), 2.5))  # unusual keys
    two = np.zeros(61, dtype=bool)
    two[[0, 60]] = True
    assert m.unusual_keys(rot, root, two)
    m.candidates = 1
    monkeypatch.setattr(NF, "ARRIVAL_TRUST", -1.0)  # the network's arrival never vouches for it here
    for ahead, kept in ((0.6, 0.0), (1.5, 1.0)):  # 1 and 2.5 cm a frame
        moved = root.copy()
        moved[60, [0, 2]] = root[0, [0, 2]] + np.array([0.0, ahead])
        assert (NF._glides(moved, two) > NF.GLIDE_SPEED) == bool(kept)
        r, p, con, share = m.checked_inbetween(rot, moved, two, seed=1)
        assert share == kept
        np.testing.assert_array_equal(p[two], moved[two])
        if not kept:  # interpolation's frames
            np.testing.assert_allclose(p, NF._interpolated(rot, moved, two)[1], atol=1e-12)
    # After given motion (frames 0-2 known) the gap is not keys alone: the rule does not apply (on the LAFAN1
    # protocol it counted the context's own speed), nor to gaps under 20 frames.
    given = two.copy()
    given[:3] = True
    assert NF._glides(moved, given) == 0.0 and NF._glides(moved[:16], np.r_[True, np.zeros(14, bool), True]) == 0.0
    assert m.checked_inbetween(rot, moved, given, seed=1)[3] == 0.0


def test_a_long_gap_keeps_the_rollout_whose_feet_stay_planted(shared_data):
    """The shipped in-betweener draws several rollouts for a gap of 20 frames or more (``CANDIDATES``) and keeps
    the one whose slower toe travels least over the ground once the keys' misses are eased in. A Bandai
    walk keyed 60 frames apart (2.5-2.7 m): one rollout's standing toe travels 0.32-0.36 m over the gap,
    the capture's 0.25-0.26; the kept one's must come near the capture's, the keys stay exact, and the same
    seed gives the same motion."""
    clip = tasks.to_canonical(read_bvh(shared_data / "bandai" / "dataset-2" / "dataset-2_walk_normal_001.bvh.xz"), 30.0)
    m = NF.load(NF.DEFAULT_KEYS)
    assert m.candidates_for(60) == 16 and m.candidates_for(30) == 8 and m.candidates_for(15) == 1

    def slide(r, p):  # the slower toe's travel over the ground, metres
        return float(m._gap_costs(r[None, 1:], p[None, 1:], r[0], p[0])[0])

    two = np.zeros(61, dtype=bool)
    two[[0, 60]] = True
    for start in (30, 90):
        rot, root = clip.rotations[start:start + 61], clip.root_positions[start:start + 61]
        m.candidates = NF.CANDIDATES
        many = m.inbetween(rot, root, two, seed=0, variation=0.0)
        np.testing.assert_array_equal(m.inbetween(rot, root, two, seed=0, variation=0.0)[1], many[1])
        m.candidates = 1
        one = m.inbetween(rot, root, two, seed=0, variation=0.0)
        assert slide(*many[:2]) < 0.8 * slide(*one[:2]), start
        assert slide(*many[:2]) < 1.25 * slide(rot, root), start
        for r, p, _ in (many, one):
            np.testing.assert_array_equal(r[two], rot[two])
            np.testing.assert_array_equal(p[two], root[two])


def test_rollouts_choose_how_many_a_long_gap_draws(test_data, tmp_path, capsys):
    """``tasks.inbetween(rollouts=N)`` / ``lmm inbetween --rollouts N``: 1 is the single rollout (the fastest),
    on a copy of the shared in-betweener (the loaded one keeps its default); out of range or with the window
    network alone, refused by name."""
    clip = read_bvh(test_data / "reactidle_001_acted_excerpt.bvh.xz")
    keys = [0, clip.num_frames - 1]
    single = NF.load(NF.DEFAULT_KEYS)
    single.candidates = 1
    a = tasks.inbetween(clip, keys, method="next-frame", rollouts=1)
    np.testing.assert_array_equal(a.root_positions, tasks.inbetween(clip, keys, method="next-frame",
                                                                    next_frame=single).root_positions)
    assert tasks._next_frame(None, in_betweens=True).candidates == NF.CANDIDATES
    for bad in (0, 65, 2.5, True):
        with pytest.raises(LMMError, match="--rollouts must be a whole number from 1 to 64"):
            tasks.inbetween(clip, keys, method="next-frame", rollouts=bad)
    assert main(["inbetween", str(test_data / "reactidle_001_acted_excerpt.bvh.xz"), "--keys", "0,30", "--method",
                 "network", "--rollouts", "2", "-o", str(tmp_path / "x.bvh")]) == 2
    assert "--rollouts counts the next-frame in-betweener's rollouts" in capsys.readouterr().err
    assert not (tmp_path / "x.bvh").exists()
    # Checked before the clip is read (a missing file is not what it reports), and refused where a window model
    # named alone makes every gap.
    assert main(["inbetween", str(tmp_path / "missing.bvh"), "--keys", "0,30", "--rollouts", "0", "-o",
                 str(tmp_path / "x.bvh")]) == 2
    assert "--rollouts must be a whole number from 1 to 64" in capsys.readouterr().err
    assert main(["inbetween", str(tmp_path / "missing.bvh"), "--keys", "0,30", "--model", str(runtime.DEFAULT_MODEL),
                 "--rollouts", "2", "-o", str(tmp_path / "x.bvh")]) == 2
    assert "with --model named alone, --method auto gives every gap to that window network" in capsys.readouterr().err
    # Frames outside the keys hold the nearest key's pose: said, with the keys to add.
    clip_path = test_data / "reactidle_001_acted_excerpt.bvh.xz"
    assert main(["inbetween", str(clip_path), "--keys", "30,60", "-o", str(tmp_path / "ends.bvh")]) == 0
    err = capsys.readouterr().err
    assert "frames 0-29 and 61-239 are outside the keys (30-60)" in err and "add 0,239 to --keys" in err
    assert main(["inbetween", str(clip_path), "--keys", "0,239", "-o", str(tmp_path / "all.bvh")]) == 0
    assert "outside the keys" not in capsys.readouterr().err


def test_complete_carries_a_clip_on_with_the_next_frame_generator(test_data, tmp_path, capsys):
    """``lmm complete --method next-frame``: the given frames come back exactly, the new ones start where the
    clip ends (no jump), futures differ by seed, and an in-betweener file is refused."""
    src = test_data / "reactidle_001_acted_excerpt.bvh.xz"
    given = read_bvh(src)
    a = tasks.complete(given, 48, seed=1, variation=1.0, method="next-frame")
    b = tasks.complete(given, 48, seed=2, variation=1.0, method="next-frame")
    n = given.num_frames
    assert a.num_frames == n + 48
    np.testing.assert_allclose(a.rotations[:n], given.rotations, atol=1e-6)
    np.testing.assert_allclose(a.root_positions[:n], given.root_positions, atol=1e-6)
    step = np.linalg.norm(np.diff(a.root_positions[n - 3:n + 3], axis=0), axis=1)
    assert step.max() < 5 * max(np.linalg.norm(np.diff(given.root_positions[-6:], axis=0), axis=1).max(), 0.01)
    assert not np.allclose(a.rotations[n:], b.rotations[n:])
    out = tmp_path / "future.bvh"
    assert main(["complete", str(src), "--frames", "24", "--method", "next-frame", "--samples", "2", "--variation", "1",
                 "-o", str(out)]) == 0
    assert (tmp_path / "future_001.bvh").exists() and (tmp_path / "future_002.bvh").exists()
    assert main(["complete", str(src), "--frames", "24", "--method", "next-frame", "--next-frame-model",
                 str(NF.DEFAULT_KEYS), "-o", str(tmp_path / "no.bvh")]) == 2
    assert "nor carry motion on alone" in capsys.readouterr().err and not (tmp_path / "no.bvh").exists()
    # --guidance: how much the labels weigh (NF.GUIDANCE by default; 1 none), only with the generator.
    waved = lambda g: tasks.complete(given, 24, action="wave-right-hand", seed=1, method="next-frame", guidance=g)  # noqa: E731
    plain, default, strong = waved(1.0), waved(None), waved(3.0)
    np.testing.assert_allclose(default.rotations, waved(NF.GUIDANCE).rotations, atol=1e-12)
    assert not np.allclose(plain.rotations[n:], strong.rotations[n:])
    assert main(["complete", str(src), "--frames", "24", "--method", "next-frame", "--action", "wave-right-hand",
                 "--guidance", "2", "-o", str(tmp_path / "g.bvh")]) == 0 and (tmp_path / "g.bvh").exists()
    assert main(["complete", str(src), "--frames", "24", "--guidance", "2", "-o", str(tmp_path / "g2.bvh")]) == 2
    assert "give --method next-frame" in capsys.readouterr().err and not (tmp_path / "g2.bvh").exists()
    assert main(["complete", str(src), "--frames", "24", "--method", "next-frame", "--guidance", "-1", "-o",
                 str(tmp_path / "g3.bvh")]) == 2
    assert "--guidance" in capsys.readouterr().err and not (tmp_path / "g3.bvh").exists()


def test_a_miss_is_eased_in_over_the_last_half_second_before_the_key():
    """``ease_weights``: a long gap keeps the network's pose until ``EASE`` frames before the key, then takes the
    miss in smoothly to all of it at the key; a short gap spreads it over the whole gap, starting small."""
    long, short = NF.ease_weights(60), NF.ease_weights(8)
    assert not long[:60 - NF.EASE].any() and long[-1] == 1.0 and np.all(np.diff(long) >= 0)
    assert 0 < short[0] < 0.1 and short[-1] == 1.0 and np.all(np.diff(short) > 0)
    np.testing.assert_allclose(NF.ease_weights(NF.EASE), NF.ease_weights(NF.EASE, NF.EASE + 10))


def test_steering_meets_pelvis_keys_exactly_from_where_the_clip_stands(tmp_path, clip):
    """``steer`` carries a clip on to keys of the pelvis alone: each key's place on the ground and facing
    met exactly, the frames between eased (no jump); a network without such keys refuses."""
    cfg = NF.NextFrameConfig(**(CFG.__dict__ | {"keys": True, "root_keys": True}))
    _, m = _random_model(tmp_path, cfg=cfg)
    rot, root = clip
    start = (rot[:20], root[:20] + np.array([4.0, 0.0, -2.0]))  # away from the origin
    frames = np.array([29, 59])
    at = start[1][-1] + np.array([[0.3, 0.0, 1.5], [1.5, 0.0, 2.0]])
    yaw = np.radians([10.0, 90.0])
    r, p, c = m.steer(start, frames, at, yaw, seed=1)
    assert r.shape == (60, 22, 4) and p.shape == (60, 3) and c.shape == (60, 4)
    np.testing.assert_allclose(p[frames][:, [0, 2]], at[:, [0, 2]], atol=1e-9)
    np.testing.assert_allclose(NF._heading(r[frames, 0]), yaw, atol=1e-9)
    step = np.linalg.norm(np.diff(np.concatenate([start[1][-1:], p])[:, [0, 2]], axis=0), axis=1)
    assert step.max() < 0.25  # metres per frame: no jump into a key
    with pytest.raises(LMMError, match="increasing frames"):
        m.steer(start, np.array([30, 10]), at, yaw)
    (tmp_path / "k").mkdir()
    _, plain = _random_model(tmp_path / "k", cfg=NF.NextFrameConfig(**(CFG.__dict__ | {"keys": True})))
    with pytest.raises(LMMError, match="--root-keys"):
        plain.steer(start, frames, at, yaw)


def test_an_in_betweener_learns_pelvis_keys_and_whole_gaps(tmp_path, hop_corpus, capsys):
    """``--root-keys`` widens an in-betweener by its flag (zero weight: it starts as it was) and ``--arrive``
    rolls some steps the whole way to the key; both need ``--keys``, and a network that takes pelvis keys
    cannot go on without them."""
    small = dict(corpus=hop_corpus, sources=("cmu",), batch=8, rollout=3, hidden=32, layers=2, latent=4, max_gap=12)
    gen = T.export(T.train_next_frame(T.NextFrameTrainConfig(out=tmp_path / "g", steps=1, **{k: v for k, v in small.items()
                                                                                           if k != "max_gap"})), tmp_path / "g.npz")
    keys = T.export(T.train_next_frame(T.NextFrameTrainConfig(out=tmp_path / "k", steps=1, keys=True, init_from=gen, **small)),
                    tmp_path / "k.npz")
    warm = T.warm_state(keys)
    cfg = NF.NextFrameConfig(**(warm["config"] | {"root_keys": True}))
    widened = T.widen_for_keys(warm["net"], cfg, NF.KEYS)
    at = 2 * NF.FRAME + NF.POSE + NF.KEYS
    assert torch.equal(widened["dec.0.weight"][:, at], torch.zeros(32))
    assert torch.equal(widened["dec.0.weight"][:, :at], warm["net"]["dec.0.weight"][:, :at])
    assert torch.equal(widened["dec.0.weight"][:, at + 1:], warm["net"]["dec.0.weight"][:, at:])
    root = T.export(T.train_next_frame(T.NextFrameTrainConfig(out=tmp_path / "r", steps=3, keys=True, root_keys=0.5,
                                                              arrive=1.0, init_from=keys, **small)), tmp_path / "r.npz")
    assert NF.load(root).cfg.root_keys
    rows = [json.loads(line) for line in (tmp_path / "r" / "log.jsonl").read_text().splitlines()]
    assert rows[0]["rollout"] >= 12  # --arrive 1: every step the whole way to the key
    with pytest.raises(LMMError, match="root_keys True"):
        T.check_warm_start(T.NextFrameTrainConfig(init_from=root, keys=True, **small))
    with pytest.raises(LMMError, match="add --keys"):
        T.train_next_frame(T.NextFrameTrainConfig(out=tmp_path / "x", steps=1, root_keys=0.3, **small))
    assert main(["train-next-frame", "--corpus", str(hop_corpus), "--arrive", "1.5", "--keys"]) == 2
    assert "--arrive" in capsys.readouterr().err


def test_pushed_windows_lean_where_the_rollout_starts_and_return_to_the_capture(clip, hop_corpus, tmp_path):
    from lmm_core.bench.recovery import angle_between, torso_up

    rot = np.repeat(clip[0][None, :40], 6, axis=0)
    out = rot.copy()
    chosen = T.push_windows(out, np.random.default_rng(0), 0.5)
    assert 0 < chosen.sum() < 6
    np.testing.assert_array_equal(out[~chosen], rot[~chosen])
    for i in np.flatnonzero(chosen):
        lean = angle_between(torso_up(out[i]), torso_up(rot[i]))
        assert 14 < lean[2] < 41  # the pelvis 40% and the three spine joints 20% each: all of it, at frame 2
        assert lean[2] > lean[0] and lean[2] > lean[10] and lean[20:].max() < 1e-6  # eased in and out again
    T.train_next_frame(T.NextFrameTrainConfig(corpus=hop_corpus, sources=("cmu",), out=tmp_path / "push",
                                              steps=1, batch=8, rollout=3, hidden=16, layers=1, latent=2,
                                              push_share=1.0))


def test_the_recovery_benchmark_runs_the_next_frame_generator(clip):
    """``bench.recovery.NextFrameCompleter``: the generator behind ``Model.complete``'s interface (the context
    kept, the new frames after it, their contacts), scored by ``run_recovery``."""
    from lmm_core.bench.recovery import CONTEXT, FOLLOW, NextFrameCompleter, run_recovery

    nf = NextFrameCompleter(NF.load(NF.DEFAULT))
    rot, root = clip
    r, p, c = nf.complete(rot[:CONTEXT], root[:CONTEXT], 12)
    assert r.shape == (CONTEXT + 12, 22, 4) and p.shape == (CONTEXT + 12, 3) and c.shape == (12, 4)
    np.testing.assert_array_equal(r[:CONTEXT], rot[:CONTEXT])
    assert len(root) >= CONTEXT + FOLLOW  # one window of the benchmark fits the excerpt
    out = run_recovery([("clip", rot, root)], nf, degrees=(30.0,), count=1)
    assert set(out[30.0]) == {"held", "unpushed", "model", "sampled"}
    assert out[30.0]["held"][0] > 20 and out[30.0]["unpushed"][0] < 5


def test_the_shipped_generator_recovers_from_a_push(clip):
    """The issue's recovery: a context whose pelvis and spine were pushed 35 degrees over is carried on back to
    plausible motion: within half a second (15 frames) the torso is under half the push off the capture's course,
    and a second after it as near as the completion of the unpushed context (4 windows of the ReActIdle excerpt;
    the file before the shipped one stayed 25 degrees off at both)."""
    from lmm_core.bench.recovery import NextFrameCompleter, run_recovery

    rot, root = clip
    out = run_recovery([("clip", rot, root)], NextFrameCompleter(NF.load(NF.DEFAULT)), degrees=(35.0,), count=4)[35.0]
    assert out["model"][14] < 0.5 * out["held"][14]
    assert out["model"][29] < out["unpushed"][29] + 3.0


def test_generate_walks_to_a_point_with_a_given_steering_network(tmp_path):
    """``tasks.generate(method="next-frame", next_frame_keys=...)``: an in-betweener trained on pelvis keys
    steers (here an untrained one: the keys are still met), one of whole poses only is refused."""
    cfg = NF.NextFrameConfig(**(CFG.__dict__ | {"keys": True, "root_keys": True}))
    _, steer = _random_model(tmp_path, cfg=cfg)
    made = tasks.generate("walk", seconds=2.0, seed=0, method="next-frame", to=(0.5, 1.5), at=1.5,
                          next_frame_keys=steer)
    np.testing.assert_allclose(made.root_positions[45, [0, 2]], [0.5, 1.5], atol=1e-6)
    (tmp_path / "k").mkdir()
    _, whole = _random_model(tmp_path / "k", cfg=NF.NextFrameConfig(**(CFG.__dict__ | {"keys": True})))
    with pytest.raises(LMMError, match="not trained on keys of the pelvis alone"):
        tasks.generate("walk", seconds=2.0, method="next-frame", to=(0.5, 1.5), next_frame_keys=whole)


def test_the_skimming_foot_loss_counts_feet_that_glide_near_the_floor():
    """``--skim-weight``'s term: a foot sliding 2 cm a frame at its standing height costs (2 cm)^2, the same foot
    10 cm up or standing still nothing, against the capture only the excess, and the canonical feet's standing
    heights are the rest pose's."""
    stand = torch.as_tensor(T._rest_heights(NF.CANON)[list(NF.CANON.contacts)], dtype=torch.float32)
    np.testing.assert_allclose(stand.numpy(), [0.072, 0.072, 0.02, 0.02], atol=0.002)
    slide = torch.zeros(1, 4, 3)
    slide[0, 0, 0] = 0.02  # the left ankle, sideways
    low = stand[None].clone()
    assert T.skim_loss(slide, low, stand).item() == pytest.approx(4.0 / 4, rel=0.05)  # mean over the 4 joints
    up = low.clone()
    up[0, 0] += 0.10
    assert T.skim_loss(slide, up, stand).item() < 0.01 * T.skim_loss(slide, low, stand).item()
    rising = torch.zeros(1, 4, 3)
    rising[0, 0, 1] = 0.05  # lifting off is not skimming
    assert T.skim_loss(rising, low, stand).item() == 0.0
    # against the capture: only what glides more than the captured foot at that frame counts
    assert T.skim_loss(slide, low, stand, slide, low).item() == 0.0
    assert T.skim_loss(slide, low, stand, torch.zeros(1, 4, 3), low).item() == pytest.approx(1.0, rel=0.05)
    assert T.skim_loss(torch.zeros(1, 4, 3), low, stand, slide, low).item() == 0.0  # gliding less earns nothing


def test_a_training_run_with_the_skimming_foot_loss_logs_it(tmp_path, hop_corpus):
    """``--skim-weight`` reaches the loop: the feet's velocities and heights, the captured frame beside the made
    one, and a finite, positive term in the log (and none without it)."""
    small = dict(corpus=hop_corpus, sources=("cmu",), batch=8, rollout=3, hidden=32, layers=2, latent=4, steps=2)
    T.train_next_frame(T.NextFrameTrainConfig(out=tmp_path / "s", skim_weight=0.05, skate_weight=0.0, positions=False, **small))
    rows = [json.loads(line) for line in (tmp_path / "s" / "log.jsonl").read_text().splitlines()]
    assert all(np.isfinite(r["skim"]) for r in rows) and max(r["skim"] for r in rows) > 0
    T.train_next_frame(T.NextFrameTrainConfig(out=tmp_path / "n", **small))
    assert all(json.loads(line)["skim"] == 0 for line in (tmp_path / "n" / "log.jsonl").read_text().splitlines())


def test_the_standing_foot_loss_counts_the_slower_toe_at_any_height():
    """``--stance-weight``'s term: while one toe stands the other may swing at any speed; when the slower toe
    slides 2 cm a frame it costs (2 cm)^2 at whatever height; against the capture only the excess counts (a
    run's flight, both toes moving in the capture, costs nothing); ankles and vertical speed do not count."""
    swing = torch.zeros(1, 4, 3)
    swing[0, 3, 0] = 0.08  # the right toe swings 8 cm a frame, the left stands
    assert T.stance_loss(swing, torch.zeros(1, 4, 3)).item() == 0.0
    both = swing.clone()
    both[0, 2, 2] = 0.02  # the standing toe slides 2 cm forward
    assert T.stance_loss(both, torch.zeros(1, 4, 3)).item() == pytest.approx(4.0, rel=1e-4)
    assert T.stance_loss(both, both).item() == 0.0  # the capture's toes both move: a flight
    ankles = torch.zeros(1, 4, 3)
    ankles[0, :2, 0] = 0.05  # heels lifting off, toes planted
    ankles[0, 2:, 1] = 0.03  # and rising straight up
    assert T.stance_loss(ankles, torch.zeros(1, 4, 3)).item() == 0.0


def test_a_training_run_with_the_standing_foot_loss_logs_it(tmp_path, hop_corpus):
    """``--stance-weight`` reaches the loop through the command line's options: a finite term in the log."""
    small = dict(corpus=hop_corpus, sources=("cmu",), batch=8, rollout=3, hidden=32, layers=2, latent=4, steps=2)
    T.train_next_frame(T.NextFrameTrainConfig(out=tmp_path / "s", stance_weight=0.05, positions=False, **small))
    rows = [json.loads(line) for line in (tmp_path / "s" / "log.jsonl").read_text().splitlines()]
    assert all(np.isfinite(r["stance"]) for r in rows) and max(r["stance"] for r in rows) > 0


def test_prior_share_rolls_the_flagged_windows_with_the_latent_at_its_mean(tmp_path, hop_corpus, monkeypatch):
    """``--prior-share``: flagged windows decode z = 0 (the run time's default), the rest the encoder's draw;
    a run with it trains and logs finite losses."""
    mu, logvar = torch.full((4, 3), 2.0), torch.full((4, 3), -20.0)  # a draw within 1e-4 of mu
    prior = torch.tensor([[True], [False], [True], [False]])
    z = T.latent_draw(mu, logvar, prior)
    assert torch.all(z[[0, 2]] == 0) and torch.allclose(z[[1, 3]], mu[[1, 3]], atol=1e-3)
    assert torch.allclose(T.latent_draw(mu, logvar), mu, atol=1e-3)
    small = dict(corpus=hop_corpus, sources=("cmu",), batch=8, rollout=3, hidden=32, layers=2, latent=4, steps=2)
    seen = []
    real = T.latent_draw

    def spy(mu, logvar, prior=None):
        seen.append(None if prior is None else bool(prior.all()))
        return real(mu, logvar, prior)

    monkeypatch.setattr(T, "latent_draw", spy)
    T.train_next_frame(T.NextFrameTrainConfig(out=tmp_path / "p", prior_share=1.0, **small))
    rows = [json.loads(line) for line in (tmp_path / "p" / "log.jsonl").read_text().splitlines()]
    assert rows and all(np.isfinite(r["rec"]) for r in rows)
    assert seen and all(seen)  # every window of every step flagged
    seen.clear()
    T.train_next_frame(T.NextFrameTrainConfig(out=tmp_path / "q", **small))
    assert seen and all(v is None for v in seen)  # off by default: the encoder's draw everywhere


def test_a_pelvis_miss_goes_in_reaching_the_key_at_its_mean_rate_where_another_gap_follows(clip, monkeypatch):
    """``_fit_gap``: what a rollout missed the next key's place by goes in from rest at the key before; where
    another gap follows the key (``continues``) it reaches the key at the gap's mean rate of the miss, carried on
    by the next gap's rollout (no surge and slowing between keys a few frames apart), where none does at rest.
    ``inbetween`` says which: every gap but the last continues."""
    m = NF.load(NF.DEFAULT_KEYS)
    rot, root = clip
    vec = NF.encode(rot[:40], root[:40])
    yaw = float(NF._heading(rot[4, 0]))
    raw = NF.decode(vec[5:35], yaw, root[4, [0, 2]])[1]
    n = 30
    for continues in (False, True):
        p = m._fit_gap(vec[5:35], yaw, root[4], rot[34], root[34], None, 0, continues=continues)[1]
        np.testing.assert_allclose(p[-1], root[34], atol=1e-9)
        shift = (p - raw)[:, [0, 2]]  # the place's correction, frames 5 .. 34
        miss = shift[-1]
        assert np.linalg.norm(shift[0]) < 0.02 * np.linalg.norm(miss) + 1e-9  # from rest at the key before
        last_step = np.linalg.norm(shift[-1] - shift[-2])
        if continues:  # the cubic 2x^2 - x^3: its last step within a few percent of the mean rate
            assert abs(last_step - np.linalg.norm(miss) / n) < 0.1 * np.linalg.norm(miss) / n
        else:  # the smoothstep: at rest at the key
            assert last_step < 0.01 * np.linalg.norm(miss)
    seen = []
    fit = NF.NextFrameModel._fit_gap
    monkeypatch.setattr(NF.NextFrameModel, "_fit_gap",
                        lambda self, *a, continues=False, **k: seen.append(continues) or fit(self, *a, continues=continues, **k))
    known = np.zeros(41, dtype=bool)
    known[[0, 12, 25, 40]] = True
    m.inbetween(rot[:41], root[:41], known, variation=0.0)
    assert seen == [True, True, False]
    seen.clear()
    known[25:] = True  # given motion after the key at 25 (as auto mode gives the window network's frames): no gap
    m.inbetween(rot[:41], root[:41], known, variation=0.0)  # rolled from it, so the gap before it ends at rest
    assert seen == [True, False]


def test_a_gaps_rollouts_are_fitted_at_once_as_each_alone_and_the_decoder_follows_its_weights(clip):
    """``_fit_gap`` fits k rollouts in one batch (leading dimensions through ``decode`` and ``_continued``):
    each comes out as it does alone, with and without given motion carried on. And the float32 decoder's
    transposed layers are remade when a weight array is replaced."""
    m = NF.load(NF.DEFAULT_KEYS)
    rot, root = clip
    vec = NF.encode(rot[:40], root[:40])
    rolls = np.stack([vec[5:35], vec[6:36], vec[8:38]])  # (3, 30, FRAME): three "rollouts"
    yaw = float(NF._heading(rot[4, 0]))
    for carry in (None, (rot[3:5], root[3:5])):
        r, p, miss = m._fit_gap(rolls, yaw, root[4], rot[34], root[34], carry, 20)
        assert r.shape == (3, 30, 22, 4) and p.shape == (3, 30, 3) and miss.shape == (3,)
        for i in range(3):
            r1, p1, miss1 = m._fit_gap(rolls[i], yaw, root[4], rot[34], root[34], carry, 20)
            np.testing.assert_allclose(r[i], r1, atol=1e-12)
            np.testing.assert_allclose(p[i], p1, atol=1e-12)
            assert abs(miss[i] - miss1) < 1e-9
        np.testing.assert_allclose(p[:, -1], np.broadcast_to(root[34], (3, 3)), atol=1e-9)  # each ends on the key
    costs = m._gap_costs(r, p, rot[4], root[4])
    for i in range(3):
        assert abs(costs[i] - m._gap_costs(r[i:i + 1], p[i:i + 1], rot[4], root[4])[0]) < 1e-12
    state = [np.zeros((2, m.cfg.cond_size - len(m.cfg.actions) - len(m.cfg.styles)))]
    z, a1, s1 = np.zeros((2, m.cfg.latent)), np.eye(len(m.cfg.actions))[[1, 2]], np.eye(len(m.cfg.styles))[[0, 0]]
    before = m._decode(state, z, a1, s1)
    assert m.p["out_w"].dtype == np.float32 and before.dtype == np.float64
    m.p["out_b"] = m.p["out_b"] + np.float32(1.0)  # a replaced array: the layers are made again
    np.testing.assert_allclose(m._decode(state, z, a1, s1), before + 1.0, atol=1e-5)
