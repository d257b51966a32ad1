"""Training pieces that need no corpus on disk: the position spread L2P normalises by, the loss measured
in it, and which stretch of a take the generation bank keeps (torch)."""
from __future__ import annotations

import numpy as np
import pytest

from lmm_core import rotations as R
from lmm_core.model.body import Body

torch = pytest.importorskip("torch")
from lmm_core.train import export as E  # noqa: E402
from lmm_core.train.batches import Prepared  # noqa: E402
from lmm_core.train.config import TrainConfig  # noqa: E402
from lmm_core.train.losses import losses  # noqa: E402
from lmm_core.train.network import Network  # noqa: E402
from lmm_core.train.stats import position_spread  # noqa: E402
from lmm_core.train.data import Corpus  # noqa: E402


def bobbing_corpus(frames: int = 400, bob: float = 0.03, speed: float = 1.5) -> Corpus:
    """One clip: the rest pose walking along +Z at ``speed`` m/s while the pelvis bobs ``bob`` m (sine,
    period 30 frames); the knees bend more and more over the clip (so its later frames are more active)."""
    t = np.arange(frames)
    rot = np.broadcast_to(R.identity(), (frames, 22, 4)).copy()
    swing = 0.1 + 0.8 * t / frames
    rot[:, 4] = R.from_axis_angle(np.array([1.0, 0, 0]), swing * np.sin(2 * np.pi * t / 30))
    rot[:, 5] = R.from_axis_angle(np.array([1.0, 0, 0]), -swing * np.sin(2 * np.pi * t / 30))
    root = np.stack([np.zeros(frames), 0.9 + bob * np.sin(2 * np.pi * t / 30), speed / 30 * t], axis=1)
    con = np.zeros((frames, 4), dtype=bool)
    one = np.array([1])
    return Corpus(["clip"], rot, root, con, np.array([frames]), one, one, one, (rot, root, con))


def test_position_spread_is_each_coordinates_spread_over_windows():
    sp = position_spread(bobbing_corpus(), np.random.default_rng(0), 64, Body.from_dict(None), length=50)
    assert sp.shape == (22, 3)
    # The pelvis: its height spreads as a sine of amplitude 3 cm (std 2.1 cm); forward, a window of 50
    # frames at 5 cm a frame centred on its mean spreads 0.05 * 50 / sqrt(12) = 0.72 m; sideways not at all.
    assert sp[0, 1] == pytest.approx(0.03 / np.sqrt(2), rel=0.1)
    assert sp[0, 2] == pytest.approx(0.05 * 50 / np.sqrt(12), rel=0.05)
    assert sp[0, 0] == pytest.approx(1e-3)  # the floor that keeps a still coordinate from dividing by zero


def test_spread_loss_weighs_a_height_error_by_how_little_heights_vary():
    """The same 1 cm error costs far more in the spread loss up than forward, and nothing when it is 0."""
    from lmm_core.model.config import ModelConfig

    cfg = TrainConfig(spread_weight=1.0, batch=2, windows=(32,))
    mc = ModelConfig(d_model=32, layers=1, heads=4, actions=("<unknown>", "walk"), styles=("<unknown>", "normal"),
                     baseline="interpolation")
    corpus = bobbing_corpus()
    body = Body.from_dict(None)
    spread = position_spread(corpus, np.random.default_rng(0), 32, body)
    from lmm_core.model.features import FEATURES

    rng = np.random.default_rng(1)
    batch = corpus.sample(rng, 2, 32, mirror=False)
    known = np.zeros((2, 32, 22), dtype=bool)
    known[:, :10] = known[:, 25] = True
    prep = Prepared(batch, known, np.zeros(2, dtype=bool), np.zeros(FEATURES), np.ones(FEATURES), mc.pos_freqs,
                       np.ones(FEATURES), body, baseline="interpolation")
    net = Network(mc)
    args = (torch.zeros(FEATURES), torch.ones(FEATURES), torch.as_tensor(np.array(body.offsets), dtype=torch.float32),
            body.parents, cfg, torch.as_tensor(spread, dtype=torch.float32))

    def spread_loss(shift):
        # Targets moved by ``shift`` metres on the unknown frames: the network's (zero) correction misses by it.
        p = Prepared.__new__(Prepared)
        p.__dict__.update(prep.__dict__)
        p.base = prep.target.clone()
        p.positions = prep.positions + torch.as_tensor(shift, dtype=torch.float32) * (~prep.known.all(-1))[..., None, None]
        return float(losses(net, p, *args)["pos_spread"].detach())

    assert spread_loss([0.0, 0.0, 0.0]) == pytest.approx(0.0, abs=1e-3)
    up, forward = spread_loss([0.0, 0.01, 0.0]), spread_loss([0.0, 0.0, 0.01])
    assert up > 10 * forward > 0
    assert float(losses(net, prep, *args[:4], TrainConfig(spread_weight=0.0), None)["pos_spread"].detach()) == 0.0  # 0: off


def test_rotation_loss_is_l2q_of_global_rotations():
    """The rotation loss is L2Q's per-frame norm of global quaternion errors: 0 on target, the same for a
    turn however it is signed, and a hip turned counts the thigh, knee and foot below it too."""
    from lmm_core.model.config import ModelConfig
    from lmm_core.model.features import FEATURES

    cfg = TrainConfig(rotation_weight=1.0, spread_weight=0.0)
    mc = ModelConfig(d_model=32, layers=1, heads=4, actions=("<unknown>", "walk"), styles=("<unknown>", "normal"),
                     baseline="interpolation")
    body = Body.from_dict(None)
    batch = bobbing_corpus().sample(np.random.default_rng(1), 2, 32, mirror=False)
    known = np.zeros((2, 32, 22), dtype=bool)
    known[:, :10] = known[:, 25:] = True  # only the gap's 15 frames are scored
    prep = Prepared(batch, known, np.zeros(2, dtype=bool), np.zeros(FEATURES), np.ones(FEATURES), mc.pos_freqs,
                       np.ones(FEATURES), body, baseline="interpolation")
    args = (torch.zeros(FEATURES), torch.ones(FEATURES), torch.as_tensor(np.array(body.offsets), dtype=torch.float32),
            body.parents, cfg, None)
    net = Network(mc)

    def rotation_loss(joint, angle):
        # The base (what a zero correction returns) is the target with one joint turned about X on the gap frames.
        rot = batch.rotations.copy()
        rot[:, 10:25, joint] = R.mul(R.from_axis_angle(np.array([1.0, 0, 0]), angle), rot[:, 10:25, joint])
        p = Prepared(type(batch)(rot, batch.root, batch.contacts, batch.action, batch.style), known,
                        np.zeros(2, dtype=bool), np.zeros(FEATURES), np.ones(FEATURES), mc.pos_freqs, np.ones(FEATURES),
                        body, baseline="interpolation")
        q = Prepared.__new__(Prepared)
        q.__dict__.update(prep.__dict__)
        q.base = torch.where(prep.known, prep.target, p.target)
        return float(losses(net, q, *args)["rot_global"].detach())

    assert rotation_loss(0, 0.0) == pytest.approx(0.0, abs=1e-3)
    # One joint turned by 0.2 rad, alone: sqrt(n) * 2 sin(0.05) per frame, n = the joints it turns in the world.
    ankle, hip = body.names.index("left_ankle"), body.names.index("left_hip")
    below_hip = sum(1 for j in range(22) if _descends(body.parents, j, hip))
    assert rotation_loss(ankle, 0.2) == pytest.approx(np.sqrt(sum(1 for j in range(22) if _descends(body.parents, j, ankle)))
                                                      * 2 * np.sin(0.05), rel=0.02)
    assert rotation_loss(hip, 0.2) == pytest.approx(np.sqrt(below_hip) * 2 * np.sin(0.05), rel=0.02)
    # A target quaternion's sign is no error (matrices have none), as L2Q's unrolled quaternions have none.
    neg = Prepared(type(batch)(-batch.rotations, batch.root, batch.contacts, batch.action, batch.style), known,
                      np.zeros(2, dtype=bool), np.zeros(FEATURES), np.ones(FEATURES), mc.pos_freqs, np.ones(FEATURES),
                      body, baseline="interpolation")
    assert torch.allclose(neg.rotations, prep.rotations, atol=1e-6)
    # It counts in the total at its weight, and not at all by default.
    on = losses(net, prep, *args)
    off = losses(net, prep, *args[:4], TrainConfig(spread_weight=0.0), None)
    assert float(off["rot_global"].detach()) == 0.0
    assert float((on["loss"] - off["loss"]).detach()) == pytest.approx(float(on["rot_global"].detach()), rel=1e-4)


def _descends(parents, j: int, ancestor: int) -> bool:
    while j >= 0:
        if j == ancestor:
            return True
        j = parents[j]
    return False


def test_bank_passes_over_a_stretch_whose_feet_slide(monkeypatch):
    """The most active stretch is kept unless its feet slide more than SKATE_MARGIN beyond the cleanest one's."""
    from lmm_core.model.config import ModelConfig

    corpus = bobbing_corpus(frames=400)
    monkeypatch.setattr(E, "load_corpus", lambda cfg, mc: corpus)
    mc = ModelConfig(actions=("<unknown>", "walk"), styles=("<unknown>", "normal"))

    def first_frame(root: np.ndarray) -> int:  # the clip walks along +Z: a stretch's start from its position
        return int(np.argmin(np.abs(corpus.root[:, 2] - float(root[0, 2]))))

    # Without sliding the most active stretch (late in the clip, where the knees swing most) is kept.
    monkeypatch.setattr(E, "_stretch_skate", lambda rot, root: 0.0)
    bank = E.segment_bank(TrainConfig(), mc, per_pair=1, frames=120)
    assert bank["bank_lengths"].tolist() == [120] and first_frame(bank["bank_root"]) > 200
    # Stretches starting past frame 150 slide (0.2 against 0.05): one before it is kept.
    monkeypatch.setattr(E, "_stretch_skate", lambda rot, root: 0.2 if first_frame(root) > 150 else 0.05)
    bank = E.segment_bank(TrainConfig(), mc, per_pair=1, frames=120)
    assert first_frame(bank["bank_root"]) <= 150
    # A margin's worth of sliding is tolerated for the sake of activity.
    monkeypatch.setattr(E, "_stretch_skate", lambda rot, root: 0.05 + E.SKATE_MARGIN / 2 if first_frame(root) > 150 else 0.05)
    assert first_frame(E.segment_bank(TrainConfig(), mc, per_pair=1, frames=120)["bank_root"]) > 200


def test_skate_loss_counts_a_planted_foot_that_glides_not_one_that_stands_off():
    """A planted foot a fixed 2 cm off where the capture has it costs nothing in the skate loss; the same
    foot drifting 1 cm a frame costs 1 cm; frames where the capture's foot is up cost nothing; off, 0."""
    from lmm_core.model.config import ModelConfig
    from lmm_core.model.features import FEATURES
    from lmm_core.train.losses import _skate

    mc = ModelConfig(d_model=32, layers=1, heads=4, actions=("<unknown>", "walk"), styles=("<unknown>", "normal"),
                     baseline="interpolation")
    body = Body.from_dict(None)
    corpus = bobbing_corpus()
    batch = corpus.sample(np.random.default_rng(2), 1, 32, mirror=False)
    batch.contacts[:] = False
    batch.contacts[0, 10:20, 0] = True  # the left ankle planted on frames 10-19 (inside the gap)
    known = np.zeros((1, 32, 22), dtype=bool)
    known[:, :5] = known[:, 31] = True
    prep = Prepared(batch, known, np.zeros(1, dtype=bool), np.zeros(FEATURES), np.ones(FEATURES), mc.pos_freqs,
                    np.ones(FEATURES), body, baseline="interpolation")
    ankle = list(body.contacts)[0]
    off = prep.positions.clone()
    off[0, :, ankle, 0] += 0.02
    assert float(_skate(off, prep)) == pytest.approx(0.0, abs=1e-4)
    drift = prep.positions.clone()
    drift[0, :, ankle, 2] += 0.01 * torch.arange(32, dtype=torch.float32)
    assert float(_skate(drift, prep)) == pytest.approx(0.01, rel=1e-3)
    up = prep.positions.clone()
    up[0, 25:, ankle, 2] += 0.05 * torch.arange(7, dtype=torch.float32)  # moves only after the contact
    assert float(_skate(up, prep)) == pytest.approx(0.0, abs=1e-4)
    net = Network(mc)
    args = (torch.zeros(FEATURES), torch.ones(FEATURES), torch.as_tensor(np.array(body.offsets), dtype=torch.float32),
            body.parents)
    assert float(losses(net, prep, *args, TrainConfig(spread_weight=0.0), None)["skate"]) == 0.0  # weight 0: off
    on = losses(net, prep, *args, TrainConfig(spread_weight=0.0, skate_weight=2.0), None)
    off = losses(net, prep, *args, TrainConfig(spread_weight=0.0), None)
    assert float(on["skate"]) > 0.0  # an untrained network's feet do not stand still
    assert float(on["loss"] - off["loss"]) == pytest.approx(2.0 * float(on["skate"]), rel=1e-4, abs=1e-6)
