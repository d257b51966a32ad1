"""Models on a rig's own skeleton (the LAFAN1 benchmark model) and the training objective's details."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lmm_core import LMMError, read_bvh, write_bvh
from lmm_core import canonical as cn
from lmm_core.bonemap import bone_map_for
from lmm_core.mirror import mirror
from lmm_core.model import runtime, tasks
from lmm_core.model.body import Body, body_from_motions, canonical_body
from lmm_core.model.config import ModelConfig
from lmm_core.model.features import FEATURES

torch = pytest.importorskip("torch")
from lmm_core.train.data import Corpus, task_masks  # noqa: E402
from lmm_core.train.network import Network  # noqa: E402
from lmm_core.train.losses import per_item_mean  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def lafan_clip(shared_data):
    m = read_bvh(shared_data / "lafan1" / "walk4_subject1.bvh.xz")
    return m.slice(0, 300)


def test_canonical_body_is_the_canonical_skeleton():
    b = canonical_body()
    assert b.is_canonical and b.symmetric_rest
    assert b.mirror == cn.MIRROR_INDEX
    assert [b.names[i] for i in b.contacts] == ["left_ankle", "right_ankle", "left_toe", "right_toe"]
    assert Body.from_dict(None).names == b.names
    again = Body.from_dict(b.to_dict())
    np.testing.assert_allclose(again.offsets, b.offsets, atol=1e-6)


def test_lafan1_body_measured_from_its_motion(lafan_clip):
    body = body_from_motions([lafan_clip], bone_map_for(lafan_clip.skeleton).bones)
    names = body.names
    assert not body.is_canonical and not body.symmetric_rest
    assert [names[i] for i in body.contacts] == ["LeftFoot", "RightFoot", "LeftToe", "RightToe"]
    assert names[body.mirror[names.index("LeftHand")]] == "RightHand"
    assert names[body.mirror[names.index("Spine1")]] == "Spine1"
    # LAFAN1's hips face along their local +Y (the original benchmark code's rotate_at_frame uses it).
    assert np.degrees(np.arccos(np.clip(body.forward @ [0.0, 1.0, 0.0], -1, 1))) < 15
    # Offsets in metres: a LAFAN1 thigh is about 0.4 m (43 cm in the file).
    thigh = np.linalg.norm(body.offsets[names.index("LeftLeg")])
    assert 0.3 < thigh < 0.55
    with pytest.raises(LMMError, match="22 joints"):
        body_from_motions([read_bvh(ROOT / "tests" / "data" / "cmu_131_03_hop_excerpt.bvh.xz")], {})


def test_general_mirror_agrees_with_the_canonical_shortcut(test_data):
    """For the canonical body both mirror paths must give the same local rotations (non-root joints)."""
    src = read_bvh(test_data / "cmu_131_03_hop_excerpt.bvh.xz")
    canon = tasks.to_canonical(src, 30.0).slice(0, 60)
    general = mirror(canon)
    fast = canon.rotations[:, list(cn.MIRROR_INDEX)].copy()
    fast[..., 2:] *= -1
    dots = np.abs(np.sum(general.rotations[:, 1:] * fast[:, 1:], axis=-1))
    assert dots.min() > 1 - 1e-6


def test_body_mirrors_a_rigs_own_frames_as_lmm_core_mirror_does(lafan_clip):
    """LAFAN1's joint frames lie along its bones, not the world's axes: the body's array mirror (what the
    runtime averages over) agrees with ``lmm_core.mirror`` on the clip, and mirroring twice gives it back."""
    body = body_from_motions([lafan_clip], bone_map_for(lafan_clip.skeleton).bones)
    clip = lafan_clip.slice(0, 40)
    rot, root = body.mirrored(clip.rotations, clip.root_positions)
    ref = mirror(clip, axis=[1.0, 0.0, 0.0], frames=body.mirror_frames())
    assert np.abs(np.sum(rot * ref.rotations, axis=-1)).min() > 1 - 1e-9
    assert np.allclose(root[:, 1:], clip.root_positions[:, 1:]) and np.allclose(root[:, 0], -clip.root_positions[:, 0])
    again, _ = body.mirrored(rot, root)
    assert np.abs(np.sum(again * clip.rotations, axis=-1)).min() > 1 - 1e-9
    # A left foot's global position mirrored is where the right foot's mirror image stands.
    left, right = body.contacts[0], body.contacts[1]
    from lmm_core.motion import Motion

    pos = Motion(body.skeleton(), clip.rotations, clip.root_positions * 0.01, 30.0).global_positions()
    m_pos = Motion(body.skeleton(), rot, root * 0.01, 30.0).global_positions()
    assert np.allclose(m_pos[:, right], pos[:, left] * [-1, 1, 1], atol=1e-6)


def test_corpus_from_motions_mirrors_and_samples(lafan_clip):
    body = body_from_motions([lafan_clip], bone_map_for(lafan_clip.skeleton).bones)
    corpus = Corpus.from_motions(["walk4"], [lafan_clip], [{"action": "walk", "style": "normal"}], body,
                                 ("<unknown>", "walk"), ("<unknown>", "normal"))
    assert corpus.frames == 300
    # The mirrored copy swaps the feet: left-foot contacts of the mirror are the right foot's of the clip.
    assert corpus.contacts.mean() > 0.1
    same = (corpus.contacts_m[:, 0] == corpus.contacts[:, 1]).mean()
    assert same > 0.9
    # Root in metres (LAFAN1 is cm): the hips stand about 0.9 m high.
    assert 0.7 < np.median(corpus.root[:, 1]) < 1.1
    b = corpus.sample(np.random.default_rng(0), 6, 64)
    assert b.rotations.shape == (6, 64, 22, 4) and b.root.shape == (6, 64, 3) and b.contacts.shape == (6, 64, 4)


def test_task_mix_chooses_the_tasks():
    rng = np.random.default_rng(0)
    known, hide, scored = task_masks(rng, 64, 64, mix=(1, 0, 0, 0), max_gap=45)
    assert known[:, :10].all() and not known[:, 10].all(axis=-1).any()  # 10 context frames, then the gap
    open_ended = 0
    for b in range(64):
        last = np.flatnonzero(known[b].any(axis=1))[-1]
        assert last <= 55 or known[b, 56:].all()  # the key lies at most 45 frames after the context
        if last < 63:
            # Nothing given after the last key: those frames are not scored (no extrapolation in the loss).
            open_ended += 1
            assert not scored[b, last + 1:].any() and scored[b, : last + 1].all()
        else:
            assert scored[b].all()
    assert 10 < open_ended < 54
    known, hide, scored = task_masks(rng, 32, 64, mix=(0, 0, 0, 1))
    assert hide.all() and known[:, :10].all() and scored.all()
    # Blocking: whole-pose keys only (every group or none), the first frame keyed, keys 6-50 frames apart
    # (8-40 with a quarter's jitter) or two keys up to 120 apart; nothing scored after the last key.
    known, hide, scored = task_masks(rng, 200, 128, mix=(0, 0, 0, 0, 1))
    assert (known.all(axis=2) == known.any(axis=2)).all() and known[:, 0].all()
    two_keys = 0
    for b in range(200):
        keys = np.flatnonzero(known[b, :, 0])
        gaps = np.diff(keys)
        if len(keys) == 2 and gaps[0] > 50:
            two_keys += 1
            assert gaps[0] <= 120
        else:
            assert len(keys) >= 2 and gaps.min() >= 1 and gaps.max() <= 60
        assert scored[b, : keys[-1] + 1].all() and not scored[b, keys[-1] + 1:].any()
    assert 20 < two_keys < 70


def test_every_window_weighs_the_same_whatever_its_gap():
    err = torch.ones(2, 50, 3)
    err[0] *= 4.0  # item 0: error 4 on a 5-frame gap; item 1: error 1 on a 45-frame gap
    weight = torch.zeros(2, 50, 1)
    weight[0, 10:15] = 1
    weight[1, 10:55] = 1
    assert float(per_item_mean(err, weight)) == pytest.approx(2.5)
    empty = torch.zeros(2, 50, 1)
    assert float(per_item_mean(err, empty)) == 0.0


def _lafan_model(body: Body) -> runtime.Model:
    cfg = ModelConfig(d_model=32, layers=1, heads=4, body=body.to_dict())
    net = Network(cfg)
    return runtime.Model(net.numpy_parameters(), cfg, np.zeros(FEATURES), np.ones(FEATURES), path=Path("lafan.npz"))


def test_tasks_refuse_a_model_on_another_skeleton(lafan_clip):
    model = _lafan_model(body_from_motions([lafan_clip], bone_map_for(lafan_clip.skeleton).bones))
    assert model.skeleton.names == lafan_clip.skeleton.names
    with pytest.raises(LMMError, match="benchmark model"):
        tasks.inbetween(lafan_clip.slice(0, 40), [0, 39], model=model, method="network")


def test_benchmark_hook_gives_the_model_metres(lafan_clip):
    from lmm_core.bench.inbetween import ModelInbetweener

    seen = {}

    class Probe:
        def inbetween(self, rotations, root, known, fps):
            seen["root"] = root
            return rotations, root + 0.01  # one centimetre, in the model's metres

    hook = ModelInbetweener(Probe(), metres=0.01)
    root = lafan_clip.root_positions[:20]
    _, out = hook(lafan_clip.rotations[:20], root, np.ones(20, dtype=bool))
    np.testing.assert_allclose(seen["root"], root * 0.01)
    np.testing.assert_allclose(out, root + 1.0)  # back in the file's centimetres


@pytest.mark.slow
def test_train_on_a_rigs_own_skeleton_and_bench_it(lafan_clip, tmp_path):
    """`lmm train --bvh` makes a LAFAN1-skeleton model that `lmm bench lafan1 --model` scores."""
    data = tmp_path / "lafan"
    data.mkdir()
    write_bvh(lafan_clip.slice(0, 200), data / "walk4_subject1.bvh")
    write_bvh(lafan_clip.slice(100, 300), data / "walk4_subject2.bvh")
    out, weights = tmp_path / "run", tmp_path / "m.npz"
    cmd = [sys.executable, "-m", "lmm_core", "train", "--bvh", str(data / "*_subject1.bvh"), "--out", str(out),
           "--steps", "2", "--batch", "2", "--d-model", "32", "--layers", "1", "--task-mix", "1,0,0,0",
           "--windows", "64", "--max-gap", "30", "--export", str(weights)]
    r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    m = runtime.load(weights)
    assert m.body.names == lafan_clip.skeleton.names and m.cfg.actions == ("<unknown>", "walk")
    r = subprocess.run([sys.executable, "-m", "lmm_core", "bench", "lafan1", "--train", str(data), "--test", str(data),
                        "--train-subjects", "1", "--test-subjects", "2", "--model", str(weights), "--json",
                        str(tmp_path / "r.json")], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    import json

    res = json.loads((tmp_path / "r.json").read_text())
    assert set(res) == {"zerovel", "interp", "model"}
    assert np.isfinite(res["model"]["L2P"]["30"])


def test_train_rejects_a_bad_task_mix(tmp_path):
    r = subprocess.run([sys.executable, "-m", "lmm_core", "train", "--task-mix", "1,2", "--out", str(tmp_path)],
                       cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "--task-mix takes 4 or 5 numbers, got 2" in r.stderr
    r = subprocess.run([sys.executable, "-m", "lmm_core", "train", "--init-from", str(tmp_path / "none.npz"),
                        "--out", str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "none.npz: no such file; give a checkpoint.pt or an exported .npz model" in r.stderr
    for option, value, says in (("--gate-frames", "0", "--gate-frames must be a finite number from 0.001 to 1000, got 0.0"),
                                ("--gate-frames", "inf", "--gate-frames must be a finite number from 0.001 to 1000, got inf"),
                                ("--max-gap", "0", "--max-gap must be a finite number from 1 to 181, got 0"),
                                ("--max-gap", "190", "--max-gap must be a finite number from 1 to 181, got 190")):
        out = tmp_path / "run"
        r = subprocess.run([sys.executable, "-m", "lmm_core", "train", option, value, "--protocol-windows", "--out", str(out)],
                           cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert r.returncode == 2 and says in r.stderr and not out.exists()
