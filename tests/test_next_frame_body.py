"""The next-frame network on a rig's own skeleton (LAFAN1's, for the published benchmark): frame vectors on
that body, a real training run on a LAFAN1 take with ``--bvh``, the protocol's harness scoring it, and the
product's commands refusing it."""
from __future__ import annotations

import copy

import numpy as np
import pytest

from lmm_core import LMMError, read_bvh
from lmm_core import rotations as R
from lmm_core.bench.harness import fill, known_mask
from lmm_core.bench.baselines import BASELINES
from lmm_core.bench.inbetween import Blend, NextFrameInbetweener, load_inbetweener
from lmm_core.bonemap import bone_map_for
from lmm_core.cli import main
from lmm_core.kinematics import fk
from lmm_core.model import next_frame as NF
from lmm_core.model import tasks
from lmm_core.model.body import body_from_motions

torch = pytest.importorskip("torch")
from lmm_core.train import next_frame as T  # noqa: E402

WALK = "walk4_subject1.bvh.xz"


@pytest.fixture(scope="module")
def lafan(shared_data):
    """A LAFAN1 walk (600 frames), its body, and its rotations and root in metres."""
    m = read_bvh(shared_data / "lafan1" / WALK).slice(0, 600)
    body = body_from_motions([m], bone_map_for(m.skeleton).bones)
    return m, body, m.rotations, m.root_positions * 0.01


@pytest.fixture(scope="module")
def trained(shared_data, tmp_path_factory):
    """A next-frame in-betweener trained for a few steps on one LAFAN1 take with --bvh, exported."""
    out = tmp_path_factory.mktemp("nf_lafan")
    tc = T.NextFrameTrainConfig(bvh=str(shared_data / "lafan1" / WALK), out=out / "run", steps=3, batch=8, rollout=4,
                                hidden=32, layers=2, latent=4, keys=True, max_gap=12, still_start=0.0)
    return T.export(T.train_next_frame(tc), out / "nf.npz")


def test_frame_vectors_on_the_lafan1_body_give_back_its_motion(lafan):
    _, body, rot, root = lafan
    vec = NF.encode(rot, root, body)
    back_rot, back_root = NF.decode(vec, float(NF._heading(rot[0, 0], body)), root[0, [0, 2]])
    np.testing.assert_allclose(back_root, root[1:], atol=1e-9)
    np.testing.assert_allclose(np.abs(np.sum(back_rot * rot[1:], axis=-1)), 1.0, atol=1e-9)
    # The heading is the body's own forward axis (LAFAN1's hips face along local +Y), not the canonical +Z:
    # a walk's heading follows its travel.
    yaw = NF._heading(rot[:, 0], body)
    travel = root[60] - root[0]
    assert abs(np.degrees(NF._wrap(yaw[30] - np.arctan2(travel[0], travel[2])))) < 30
    # Joint positions from a frame vector are the body's forward kinematics, seen from the heading frame.
    local = np.broadcast_to(body.offsets, (1, 22, 3)).copy()
    local[0, 0] = root[100]
    world = fk(rot[100:101], local, body.parents)[1][0]
    head = R.from_axis_angle(np.array([0.0, 1.0, 0.0]), yaw[100])
    seen = R.inv_mul_vec(head, world - root[100] * [1.0, 0.0, 1.0])
    np.testing.assert_allclose(NF.positions(vec[99], body), seen, atol=1e-9)
    assert not np.allclose(NF.positions(vec[99]), seen, atol=1e-2)  # the canonical bones are other bones


def test_torch_positions_agree_with_numpy_on_the_body(lafan):
    _, body, rot, root = lafan
    vec = NF.encode(rot[:40], root[:40], body)
    got = T.positions(torch.as_tensor(vec, dtype=torch.float64), body).numpy()
    np.testing.assert_allclose(got, NF.positions(vec, body), atol=1e-9)


def test_a_bvh_run_keeps_its_body_and_in_betweens_a_protocol_window(trained, lafan):
    m, body, rot, root = lafan
    nf = NF.load(trained)
    assert nf.cfg.body is not None and nf.body.names == m.skeleton.names
    # Measured on the whole take (the fixture's body on its first 600 frames): LAFAN1's hips face along +Y.
    assert np.degrees(np.arccos(np.clip(nf.body.forward @ body.forward, -1, 1))) < 5
    assert nf.meta["train"]["bvh"].endswith(WALK)
    # The protocol's harness: 10 context frames and a key 15 frames on, the key and context given back exactly.
    method = load_inbetweener(trained, m.skeleton)
    assert isinstance(method, NextFrameInbetweener) and method.metres == pytest.approx(0.01)
    known = known_mask(15)
    window = slice(200, 200 + len(known))
    out_rot, out_root = fill(method, "next-frame", m.rotations[window], m.root_positions[window], known, 1e-3)
    np.testing.assert_allclose(out_root[known], m.root_positions[window][known], atol=1e-6)
    assert np.all(np.isfinite(out_rot)) and np.all(np.abs(np.linalg.norm(out_rot, axis=-1) - 1) < 1e-6)
    # Made frames lie between the context and the key, not somewhere off: within a metre of the straight line.
    line = np.linspace(m.root_positions[209], m.root_positions[200 + 25], 17)[1:-1]
    assert np.abs(out_root[10:25] - line).max() < 100.0  # centimetres
    # The rollout reads the window on the network's own body: the same network told the canonical body's
    # bones and forward axis makes other frames.
    wrong = copy.copy(nf)
    wrong.body = NF.CANON
    again = NextFrameInbetweener(wrong, metres=0.01)(m.rotations[window], m.root_positions[window], known)
    assert np.abs(again[1][10:25] - out_root[10:25]).max() > 0.5  # centimetres


def test_the_products_commands_refuse_a_benchmark_skeleton_network(trained, test_data):
    motion = read_bvh(test_data / "reactidle_001_acted_excerpt.bvh.xz")
    with pytest.raises(LMMError, match="another skeleton.*canonical corpus"):
        tasks.inbetween(motion, [0, 30], method="next-frame", next_frame=trained)
    with pytest.raises(LMMError, match="another skeleton"):
        tasks.complete(motion.slice(0, 20), 10, method="next-frame", next_frame=trained)
    c = tasks.to_canonical(motion, 30.0)
    with pytest.raises(LMMError, match="another skeleton"):
        NF.load(trained).steer((c.rotations[:3], c.root_positions[:3]), np.array([30]), c.root_positions[[40]],
                               np.array([0.0]))


def test_bvh_runs_refuse_what_does_not_fit(trained, shared_data, tmp_path, hop_corpus, capsys):
    walk = str(shared_data / "lafan1" / WALK)
    # A canonical run cannot go on from a LAFAN1 network, nor a LAFAN1 run from a canonical one, nor a run on
    # another rig's files from a LAFAN1 network.
    small = dict(hidden=32, layers=2, latent=4, keys=True)
    with pytest.raises(LMMError, match="another skeleton"):
        T.check_warm_start(T.NextFrameTrainConfig(corpus=hop_corpus, sources=("cmu",), out=tmp_path / "c", init_from=trained,
                                                  **small))
    canonical = T.export(T.train_next_frame(T.NextFrameTrainConfig(corpus=hop_corpus, sources=("cmu",), out=tmp_path / "k",
                                                                   steps=1, batch=4, rollout=2, max_gap=4, **small)),
                         tmp_path / "k.npz")
    with pytest.raises(LMMError, match="canonical corpus; a run on --bvh files"):
        T.check_warm_start(T.NextFrameTrainConfig(bvh=walk, out=tmp_path / "c2", init_from=canonical, **small))
    with pytest.raises(LMMError, match="another skeleton .* than the --bvh files"):
        T.check_warm_start(T.NextFrameTrainConfig(bvh=str(shared_data / "cmu" / "131_03.bvh.xz"), out=tmp_path / "c3",
                                                  init_from=trained, **small))
    with pytest.raises(LMMError, match="--push-share"):
        T.train_next_frame(T.NextFrameTrainConfig(bvh=walk, out=tmp_path / "p", steps=1, push_share=0.2))
    # The command line: --bvh needs no corpus; a missing file is named.
    assert main(["train-next-frame", "--bvh", str(tmp_path / "none*.bvh"), "--out", str(tmp_path / "r"), "--steps", "1"]) != 0
    assert "no BVH files match the training pattern" in capsys.readouterr().err
    assert not (tmp_path / "r" / "checkpoint.pt").exists()


def test_protocol_gaps_roll_every_step_to_its_key(shared_data, tmp_path):
    """``--protocol-gaps``: each step rolls from true frames the whole way to a key 1..max_gap frames off."""
    import json

    tc = T.NextFrameTrainConfig(bvh=str(shared_data / "lafan1" / WALK), out=tmp_path / "run", steps=60, batch=8, rollout=4,
                                hidden=16, layers=2, latent=4, keys=True, max_gap=12, still_start=0.0, protocol_gaps=True)
    T.train_next_frame(tc)
    rows = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    # ``gap`` made frames and the key: rolled 2..13 frames (max_gap 12 made frames, the window trainer's meaning).
    assert all(2 <= r["rollout"] <= 13 for r in rows) and len({r["rollout"] for r in rows}) > 1
    with pytest.raises(LMMError, match="add --keys"):
        T.train_next_frame(T.NextFrameTrainConfig(bvh=tc.bvh, out=tmp_path / "x", steps=1, protocol_gaps=True))
    with pytest.raises(LMMError, match="leave --arrive out"):
        T.train_next_frame(T.NextFrameTrainConfig(bvh=tc.bvh, out=tmp_path / "y", steps=1, keys=True, protocol_gaps=True,
                                                  arrive=0.5))


def test_a_blend_keeps_the_keys_and_lies_between_its_two_answers(trained, lafan):
    m = lafan[0]
    nf = load_inbetweener(trained, m.skeleton)
    known = known_mask(20)
    window = slice(300, 300 + len(known))
    rot, root = m.rotations[window], m.root_positions[window]
    interp = BASELINES["interp"]
    r0, p0 = Blend(interp, nf, 0.0)(rot, root, known)
    r1, p1 = Blend(interp, nf, 1.0)(rot, root, known)
    rh, ph = Blend(interp, nf, 0.5)(rot, root, known)
    ri, pi = interp(rot.copy(), root.copy(), known)
    rn, pn = nf(rot.copy(), root.copy(), known)
    np.testing.assert_allclose(p0, pi, atol=1e-9)
    np.testing.assert_allclose(p1, pn, atol=1e-9)
    np.testing.assert_allclose(ph, (pi + pn) / 2, atol=1e-9)
    np.testing.assert_allclose(np.abs(np.sum(r1 * rn, axis=-1)), 1.0, atol=1e-9)
    np.testing.assert_array_equal(rh[known], rot[known])
    np.testing.assert_array_equal(ph[known], root[known])
    with pytest.raises(LMMError, match="from 0 to 1"):
        Blend(interp, nf, 1.5)


def test_start_ease_carries_given_motion_on_and_leaves_made_frames_alone(trained, lafan):
    m, body = lafan[0], lafan[1]
    nf = NF.load(trained)
    rot, root = m.rotations[400:431], m.root_positions[400:431] * 0.01
    known = np.zeros(31, dtype=bool)
    known[:10] = known[-1] = True  # ten frames of context, then a key 21 frames on
    plain = nf.inbetween(rot, root, known, variation=0.0, start_ease=0)
    eased = nf.inbetween(rot, root, known, variation=0.0, start_ease=8)
    # The first made frame goes on at the context's velocity (the pelvis exactly; the rest of the way the
    # network's own course comes back), and nothing after the ease nor the key changes.
    ahead = 2 * root[9] - root[8]
    # (The key's miss, eased in over the whole gap, adds its first small share: under 2 mm here.)
    assert np.linalg.norm(eased[1][10] - ahead) < 0.002 < np.linalg.norm(plain[1][10] - ahead)
    np.testing.assert_allclose(eased[1][18:], plain[1][18:], atol=1e-9)
    np.testing.assert_allclose(eased[1][known], root[known], atol=1e-12)
    # A lone key (a made frame or nothing before it) starts as the network makes it.
    lone = np.zeros(31, dtype=bool)
    lone[[9, 30]] = True
    np.testing.assert_allclose(nf.inbetween(rot, root, lone, variation=0.0, start_ease=8)[1],
                               nf.inbetween(rot, root, lone, variation=0.0, start_ease=0)[1], atol=1e-12)
