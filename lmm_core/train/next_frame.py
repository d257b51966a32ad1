"""Training the next-frame network (``lmm_core.model.next_frame``): a conditional VAE over the next frame,
rolled out on its own predictions (torch).

Each step draws windows of ``2 + rollout + 1`` frames from the canonical corpus (or, with ``bvh``, from
BVH files on their own 22-joint skeleton: the LAFAN1 benchmark's; mirror-augmented, each window at its own
pace with ``speed_augment``), turns them into frame vectors, and walks the network
forward ``rollout`` frames from the first two. At each frame an encoder sees the true next frame and
proposes ``z``; the decoder predicts the next frame from the two before it, ``z`` and the labels. The loss
is the next frame's error (normalised features; the travel, turn and height weighted ``ROOT_WEIGHT``),
its foot contacts, and ``beta`` times the KL of ``z`` from N(0, I).

Scheduled sampling (Ling et al. 2020): the frame fed to the next step is the network's own prediction
with a probability that rises from 0 to 1 over the run (``schedule``): a network only ever shown true
frames drifts off them once it feeds on its own, which generation does for hundreds of frames.
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..bench.files import motion_files
from ..errors import LMMError
from ..io import read_bvh
from ..io.atomic import atomic_path
from ..model import next_frame as NF
from ..model.body import NUM_JOINTS, Body, body_from_motions
from ..progress import progress
from . import rotations_torch as RT
from .data import Corpus, action_weights, push, push_weights, vocabularies
from .latent_prior import MIN_KL, fit_latent_prior
from .sources import bvh_vocabularies, bvh_clips

START_PAIRS = 8  # a fresh run's start pairs per action (``NextFrameTrainConfig.start_pairs``)
SOURCES = ("bandai1", "bandai2", "reactidle", "cmu", "cmu_iclone")
ROOT_WEIGHT = 4.0  # height, travel and turn: a small error there is a sliding or drifting body
# The skimming-foot loss (``skim_weight``): a foot joint counts as on the floor up to SKIM_BAND above its
# standing height (the skate measure's "ground" rule: 2% of the height, 3.4 cm), with a soft edge of SKIM_SOFT.
SKIM_BAND = 0.034
SKIM_SOFT = 0.01


def _skimming(velocity: torch.Tensor, height: torch.Tensor, stand: torch.Tensor) -> torch.Tensor:
    """``(B, J)`` each foot joint's sideways speed squared, (centimetres per frame)^2, weighted by how near the
    floor it is (1 up to ``SKIM_BAND`` above its standing height, fading over ``SKIM_SOFT``)."""
    near = torch.sigmoid((stand + SKIM_BAND - height) / SKIM_SOFT)
    return near * (velocity[..., [0, 2]] ** 2).sum(-1) / 1e-4


def skim_loss(velocity: torch.Tensor, height: torch.Tensor, stand: torch.Tensor,
              true_velocity: torch.Tensor | None = None, true_height: torch.Tensor | None = None) -> torch.Tensor:
    """The skimming-foot loss of one made frame: how much more the made foot joints glide sideways near the
    floor than the captured ones at that frame (``_skimming``; all of it without the capture's), the mean over
    joints and windows. Only the excess counts: real feet skim the floor as they land and take off, and a
    loss on all of it taught the network to hold its feet above the floor (skate 0.1-0.3 of the capture's,
    made-frame error 0.70 of interpolation's against 0.54, 1,000 steps at weight 0.05).

    Args:
        velocity: ``(B, J, 3)`` the made foot joints' velocities, metres per frame, Y up.
        height: ``(B, J)`` their heights above the floor, metres; ``stand``: ``(J,)`` at rest.
        true_velocity, true_height: the capture's at the same frame.
    """
    made = _skimming(velocity, height, stand)
    if true_velocity is None:
        return made.mean()
    return torch.relu(made - _skimming(true_velocity, true_height, stand)).mean()


def stance_loss(velocity: torch.Tensor, true_velocity: torch.Tensor) -> torch.Tensor:
    """The standing-foot loss of one made frame: how much faster the made slower toe moves sideways than the
    captured slower toe at that frame, (centimetres per frame)^2, the mean over windows. Blind to height, so
    a network cannot pay for lifted swings by sliding the stance foot: in a walk one toe is always down, and
    when the slower one moves, a foot slides (or both are up, which the capture shows when it runs). Without
    it the skimming-foot loss met the skate goal while the preview showed both feet moving at once (run S01).

    Args:
        velocity, true_velocity: ``(B, 4, 3)`` the made and captured contact joints' velocities (``Body.contacts``
            order: ankles, then toes), metres per frame, Y up.
    """
    made = (velocity[:, 2:, [0, 2]] ** 2).sum(-1).min(dim=1).values / 1e-4
    true = (true_velocity[:, 2:, [0, 2]] ** 2).sum(-1).min(dim=1).values / 1e-4
    return torch.relu(made - true).mean()


def _rest_heights(body) -> np.ndarray:
    """``(22,)`` each joint's height in the body's rest pose, metres (the root's offset is its height)."""
    y = np.zeros(len(body.parents))
    for j, p in enumerate(body.parents):
        y[j] = float(body.offsets[j][1]) + (y[p] if p >= 0 else 0.0)
    return y


@dataclass
class NextFrameTrainConfig:
    corpus: Path = Path("out/corpus")
    # BVH files (folder, glob or file) on one 22-joint skeleton to train on instead of the corpus, labelled
    # by their names (LAFAN1's convention): a benchmark model on that skeleton (``NextFrameConfig.body``).
    bvh: str | None = None
    out: Path = Path("out/next_frame")
    sources: tuple[str, ...] = SOURCES
    steps: int = 12_000
    batch: int = 256
    rollout: int = 8
    lr: float = 1e-3
    beta: float = 0.3
    hidden: int = 512
    layers: int = 3
    latent: int = 32
    speed_augment: float = 0.1
    label_dropout: float = 0.1
    skate_weight: float = 0.01  # the planted-foot loss (``train_next_frame``); 0: off
    # The skimming-foot loss: how much more a made foot joint within ``SKIM_BAND`` of its standing height moves
    # sideways than the captured one at that frame (``skim_loss``); 0: off. Aimed at the shuffle: averaged swings
    # that glide along the floor.
    skim_weight: float = 0.0
    # The standing-foot loss: how much faster the made slower toe moves sideways than the captured one at that
    # frame (``stance_loss``); 0: off. The skimming-foot loss's counterweight: it lifts swings, this keeps a
    # foot standing while the other swings.
    stance_weight: float = 0.0
    positions: bool = True  # ``NextFrameConfig.positions``
    label_layers: bool = True  # ``NextFrameConfig.label_layers``
    absolute_root: bool = True  # ``NextFrameConfig.absolute_root``
    keys: bool = False  # ``NextFrameConfig.keys``: an in-betweener, told the next key
    max_gap: int = 120  # with keys: the farthest a key lies ahead of the rollout's start, frames
    still_start: float = 0.25  # with keys: share of windows begun from a standing key (no velocity), as keys-only blocking starts
    # With keys: share of windows whose key is of the pelvis alone (``NextFrameConfig.root_keys``; 0: none, and
    # the network has no such input).
    root_keys: float = 0.0
    # With keys: share of steps rolled out the whole way to a key 30 to ``max_gap`` frames off (fewer windows,
    # as many frames), so the network learns to arrive from far on its own frames, not only from the last
    # ``rollout`` frames of a gap.
    arrive: float = 0.0
    # With keys: every step is posed as the in-betweening benchmark poses it: rolled from true frames (no
    # still starts) the whole way to a key after a gap of 1 to ``max_gap`` made frames (uniform; the window
    # trainer's meaning of --max-gap; fewer windows for longer gaps, as many frames, at most four times
    # ``batch`` windows).
    protocol_gaps: bool = False
    # Share of windows pushed off their course (``train.data.push``): the frames up to the one the rollout
    # starts from lean 15-40 degrees over, and the capture the network must follow returns to its own course
    # within 8-15 frames. It learns that a pose it has never seen (a shove, an odd key) is recovered from.
    push_share: float = 0.0
    # Share of windows rolled out with the latent at the prior's mean (z = 0) instead of the encoder's draw,
    # which sees the frame to make: in-betweens and completions roll with z = 0 by default (``--variation
    # 0``), so without these the network never trains on the frames it then feeds itself there. The KL term
    # still counts every window (those windows pull the encoder towards the prior alone).
    prior_share: float = 0.0
    # How much rarer actions' windows are drawn more often: each clip's windows weigh (its action's training
    # frames) ** -balance against the frame-for-frame draw (0). 0.5 draws a gesture with 2,000 frames of clips
    # six times as often as before against idle's 80,000 (``data.action_weights``).
    balance: float = 0.0
    # Start pairs per action, the real frames generation may begin from, drawn from the training clips with the
    # run's seed; 0: a warm start keeps its own, a fresh run draws ``START_PAIRS``. More pairs, more beginnings:
    # seeds differ as much as real takes do (32: 10.6 cm apart against 9.4 with 8, real takes 9.9).
    start_pairs: int = 0
    threads: int = 1
    seed: int = 0
    init_from: Path | None = None
    # The share of the run (from its start) over which the fed-back frames go from true to predicted.
    schedule: tuple[float, float] = (0.1, 0.5)


class Net(nn.Module):
    """Encoder and decoder; the decoder's parameters are named as ``next_frame.expected_arrays`` lists them."""

    def __init__(self, cfg: NF.NextFrameConfig):
        super().__init__()
        h, z, c, side = cfg.hidden, cfg.latent, cfg.cond_size, cfg.side_size
        self.cfg = cfg
        self.enc = nn.Sequential(nn.Linear(c + NF.FRAME, h), nn.ELU(), nn.Linear(h, h), nn.ELU(), nn.Linear(h, 2 * z))
        self.dec = nn.ModuleList([nn.Linear(c + side, h)] + [nn.Linear(h + side, h) for _ in range(cfg.layers - 1)])
        self.out = nn.Linear(h + side, NF.FRAME + NF.CONTACTS)
        with torch.no_grad():  # start by predicting no change: the next frame is near the current one
            self.out.weight.mul_(0.1)
            self.out.bias.zero_()

    def decode(self, cond: torch.Tensor, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """``cond (B, cond_size)``, ``z (B, latent)``, ``labels (B, actions + styles)`` one-hot."""
        side = torch.cat([z, labels], dim=1) if self.cfg.label_layers else z
        h = cond
        for layer in self.dec:
            h = nn.functional.elu(layer(torch.cat([h, side], dim=1)))
        return self.out(torch.cat([h, side], dim=1))


def _project(x: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """Normalised frame vectors with every 6D block made orthonormal (as ``next_frame.project``)."""
    raw = x * std + mean
    m = RT.matrix_from_6d(raw[:, NF.ROT6].reshape(len(x), NUM_JOINTS, 6))
    rot = torch.cat([m[..., :, 0], m[..., :, 1]], dim=-1).reshape(len(x), -1)
    return torch.cat([raw[:, :NF.ROT6.start], rot], dim=1).sub(mean).div(std)


def frame_statistics(corpus: Corpus, rng: np.random.Generator, windows: int = 4000,
                     body: Body = NF.CANON) -> tuple[np.ndarray, ...]:
    """Mean and spread ``(FRAME,)`` of frame vectors, and of the pose inputs ``(POSE,)``, over ``windows``
    random windows (both mirror images); spreads floored so a nearly constant number (a 6D entry of a
    joint that hardly turns) is not blown up."""
    b = corpus.sample(rng, windows, 8)
    x = NF.encode(b.rotations, b.root, body)  # (windows, 7, FRAME)
    pose = NF.pose_inputs(x[:, :-1], x[:, 1:], body).reshape(-1, NF.POSE)
    x = x.reshape(-1, NF.FRAME)
    return (x.mean(axis=0), np.maximum(x.std(axis=0), np.r_[np.full(4, 1e-3), np.full(NF.FRAME - 4, 0.02)]),
            pose.mean(axis=0), np.maximum(pose.std(axis=0), 1e-3))


def positions(f: torch.Tensor, body: Body = NF.CANON) -> torch.Tensor:
    """``next_frame.positions`` in torch: joint positions ``(N, 22, 3)`` of raw frame vectors ``(N, FRAME)``."""
    n = len(f)
    m = RT.matrix_from_6d(f[:, NF.ROT6].reshape(n, NUM_JOINTS, 6))
    local = torch.as_tensor(body.offsets, dtype=f.dtype).expand(n, NUM_JOINTS, 3)
    zero = torch.zeros(n, 1, dtype=f.dtype)
    root = torch.cat([zero, f[:, :1], zero], dim=1)[:, None]  # the pelvis above the origin at its height
    return RT.fk(m, torch.cat([root, local[:, 1:]], dim=1), body.parents)[1]


def pose_inputs(p_prev: torch.Tensor, p_cur: torch.Tensor, cur: torch.Tensor) -> torch.Tensor:
    """``next_frame.pose_inputs`` in torch from the two frames' ``positions`` ``(B, 22, 3)`` and the current
    raw frame vector ``(B, FRAME)``: ``(B, POSE)``."""
    c, s = cur[:, 3:4].cos(), cur[:, 3:4].sin()
    x = c * p_prev[..., 0] - s * p_prev[..., 2] - cur[:, 1:2]
    z = s * p_prev[..., 0] + c * p_prev[..., 2] - cur[:, 2:3]
    vel = p_cur - torch.stack([x, p_prev[..., 1], z], dim=-1)
    return torch.cat([p_cur.reshape(len(cur), -1), vel.reshape(len(cur), -1)], dim=1)


def key_statistics(corpus: Corpus, rng: np.random.Generator, max_gap: int, windows: int = 4000,
                   body: Body = NF.CANON) -> tuple[np.ndarray, ...]:
    """Mean and spread ``(KEYS,)`` of the key inputs over ``windows`` random (frame, key ahead) pairs."""
    b = corpus.sample(rng, windows, max_gap + 2)
    i = np.arange(windows)
    k = rng.integers(2, max_gap + 2, windows)
    x = NF.encode(b.rotations[:, :2], b.root[:, :2], body)[:, 0]
    key = NF.standing(b.rotations[i, k], b.root[i, k], body)
    yaw = NF._heading(b.rotations[:, :, 0], body)
    to_key = NF.to_key_from(b.root[:, 1], yaw[:, 1], b.root[i, k], yaw[i, k])
    f = NF.key_inputs(x, to_key, key, k - 2, body)
    return f.mean(axis=0), np.maximum(f.std(axis=0), 1e-3)


def key_inputs(cur: torch.Tensor, to_key: torch.Tensor, key_pos: torch.Tensor, key: torch.Tensor,
               tta: torch.Tensor) -> torch.Tensor:
    """``next_frame.key_inputs`` in torch: raw ``cur (B, FRAME)``, ``to_key (B, 3)``, the key's ``positions``
    ``(B, 22, 3)`` and raw frame vector ``(B, FRAME)``, frames left ``tta (B,)``: ``(B, KEYS)``."""
    c, s = to_key[:, 2:3].cos(), to_key[:, 2:3].sin()
    x = c * key_pos[..., 0] + s * key_pos[..., 2] + to_key[:, 0:1]
    z = -s * key_pos[..., 0] + c * key_pos[..., 2] + to_key[:, 1:2]
    pos = torch.stack([x, key_pos[..., 1], z], dim=-1).reshape(len(cur), -1)
    t = tta.to(cur.dtype)[:, None]
    ttaf = torch.cat([t.clamp(max=150.0) / 30.0, torch.exp(-t / torch.tensor([4.0, 12.0, 36.0]))], dim=1)
    return torch.cat([pos, key[:, NF.ROT6] - cur[:, NF.ROT6], c, s, ttaf], dim=1)


def advance(to_key: torch.Tensor, frame: torch.Tensor) -> torch.Tensor:
    """``next_frame.advance`` in torch: ``to_key (B, 3)`` seen from raw ``frame (B, FRAME)``."""
    c, s = frame[:, 3].cos(), frame[:, 3].sin()
    x, z = to_key[:, 0], to_key[:, 1]
    yaw = torch.remainder(to_key[:, 2] - frame[:, 3] + np.pi, 2 * np.pi) - np.pi
    return torch.stack([c * x - s * z - frame[:, 1], s * x + c * z - frame[:, 2], yaw], dim=1)


def widen_for_keys(sd: dict, cfg: NF.NextFrameConfig, had: int = 0) -> dict:
    """A state dict of a network with ``had`` key inputs (0: a generator; ``KEYS``: an in-betweener of whole
    poses) given zero weights for the ones ``cfg`` adds (``cfg.key_size``), so a run that learns them starts
    as the network it goes on from."""
    at = 2 * NF.FRAME + (NF.POSE if cfg.positions else 0) + had
    out = dict(sd)
    for name in ("dec.0.weight", "enc.0.weight"):
        w = sd[name]
        out[name] = torch.cat([w[:, :at], torch.zeros(len(w), cfg.key_size - had, dtype=w.dtype), w[:, at:]], dim=1)
    return out


def hide_poses(k: torch.Tensor, root_only: torch.Tensor) -> torch.Tensor:
    """``NextFrameModel.key_state`` in torch: normalised key inputs ``(B, KEYS)`` with the pose entries of
    the keys of the pelvis alone (``root_only (B,)`` bool) at their mean, and the flag column: ``(B, KEYS + 1)``."""
    hide = torch.as_tensor(NF.KEY_HIDDEN)
    k = torch.where(root_only[:, None] & hide[None], torch.zeros_like(k), k)
    return torch.cat([k, root_only[:, None].to(k.dtype)], dim=1)


def latent_draw(mu: torch.Tensor, logvar: torch.Tensor, prior: torch.Tensor | None = None) -> torch.Tensor:
    """The latent a training step decodes ``(B, L)``: the encoder's draw (``mu + e * sigma``), except on the
    windows flagged ``prior (B, 1)`` bool, which get the prior's mean, 0, as in-betweens roll by default."""
    z = mu + torch.randn_like(mu) * (0.5 * logvar).exp()
    return z if prior is None else torch.where(prior, torch.zeros_like(z), z)


def start_pairs(corpus: Corpus, rng: np.random.Generator, per_action: int = 8,
                body: Body = NF.CANON) -> tuple[np.ndarray, np.ndarray]:
    """Up to ``per_action`` pairs of real frame vectors ``(S, 2, FRAME)`` per action, from different clips
    where there are enough, and their action indices ``(S,)``: where generation may begin."""
    pairs, acts = [], []
    for a in np.unique(corpus.action):
        clips = np.flatnonzero((corpus.action == a) & (corpus.lengths >= 3))
        for i in rng.choice(clips, size=min(per_action, len(clips)), replace=False):
            f = corpus.starts[i] + int(rng.integers(0, corpus.lengths[i] - 2))
            pairs.append(NF.encode(corpus.rot[f:f + 3].astype(np.float64), corpus.root[f:f + 3].astype(np.float64), body))
            acts.append(int(a))
    return np.array(pairs), np.array(acts)


def label_pairs(corpus: Corpus) -> np.ndarray:
    """The (action, style) pairs ``(P, 2)`` the clips hold, each also as mirrored (the mirror image of a
    left-hand wave is a right-hand wave in the same style), sorted: what the network was shown, so that
    generation can list and check the styles of an action (``NextFrameModel.styles_of``)."""
    pairs = set(zip(corpus.action.tolist(), corpus.style.tolist()))
    pairs |= set(zip(corpus.action_mirrored.tolist(), corpus.style.tolist()))
    return np.array(sorted(pairs), dtype=np.int64).reshape(-1, 2)


def push_windows(rotations: np.ndarray, rng: np.random.Generator, share: float) -> np.ndarray:
    """Push ``share`` of the windows ``rotations (B, T, 22, 4)`` over in place (``train.data.push``): whole at
    frame 2 (the frame a rollout starts from), eased in over the 5 frames before and out over the next 8-15,
    15-40 degrees about a random horizontal axis. Returns which windows ``(B,)`` were pushed."""
    chosen = rng.random(len(rotations)) < share
    for i in np.flatnonzero(chosen):
        heading = rng.uniform(0, 2 * np.pi)
        axis = np.array([np.cos(heading), 0.0, np.sin(heading)])
        w = push_weights(rotations.shape[1], 2, int(rng.integers(8, 16)))
        rotations[i] = push(rotations[i], axis, float(rng.uniform(15, 40)), w)
    return chosen


def schedule(step: int, steps: int, span: tuple[float, float]) -> float:
    """The chance that a step feeds the network its own prediction: 0 before ``span[0]`` of the run, 1
    after ``span[1]``, linear between."""
    a, b = span[0] * steps, span[1] * steps
    return float(np.clip((step - a) / max(b - a, 1.0), 0.0, 1.0))


def _onehot(index: np.ndarray, size: int) -> torch.Tensor:
    out = torch.zeros(len(index), size)
    out[torch.arange(len(index)), torch.as_tensor(index)] = 1.0
    return out


def train_next_frame(tc: NextFrameTrainConfig) -> Path:
    """Train (or go on training from ``tc.init_from``, a weights file or a run folder's checkpoint) and
    write ``tc.out / "checkpoint.pt"``; returns its path."""
    if (tc.root_keys or tc.arrive or tc.protocol_gaps) and not tc.keys:
        raise LMMError("--root-keys, --arrive and --protocol-gaps train an in-betweener: add --keys")
    if tc.protocol_gaps and tc.arrive:
        raise LMMError("--protocol-gaps rolls every step the whole way to its key already; leave --arrive out")
    if tc.keys and tc.rollout > tc.max_gap:
        raise LMMError(f"--rollout {tc.rollout} is longer than --max-gap {tc.max_gap}: the key must lie at or beyond the "
                       "rollout's last frame; lower --rollout or raise --max-gap")
    if tc.bvh and tc.push_share:
        raise LMMError("--push-share pushes the canonical body's pelvis and spine; leave it out with --bvh")
    torch.set_num_threads(tc.threads)
    torch.manual_seed(tc.seed)
    rng = np.random.default_rng(tc.seed)
    if tc.steps == 0 and tc.init_from is None:
        raise LMMError("--steps 0 saves the --init-from network as it is; give --init-from FILE, or train at least one step")
    state = check_warm_start(tc) if tc.init_from is not None else None
    body, corpus, actions, styles = training_data(tc)
    if state is not None and state["config"].get("body") is not None:
        # Going on from a benchmark model: keep its body (the forward axis measured on its first run's files),
        # as its statistics are kept below; the files must be on its skeleton (``check_warm_start``).
        body = Body.from_dict(state["config"]["body"])
    cfg = NF.NextFrameConfig(positions=tc.positions, label_layers=tc.label_layers, absolute_root=tc.absolute_root,
                             keys=tc.keys, root_keys=tc.root_keys > 0, hidden=tc.hidden, layers=tc.layers, latent=tc.latent,
                             actions=actions, styles=styles, body=body.to_dict() if tc.bvh else None)
    net = Net(cfg)
    mean, std, pose_mean, pose_std = frame_statistics(corpus, rng, body=body)
    key_mean, key_std = key_statistics(corpus, rng, tc.max_gap, body=body) if tc.keys else (None, None)
    pairs = label_pairs(corpus)
    starts = start_pairs(corpus, np.random.default_rng(tc.seed), per_action=tc.start_pairs or START_PAIRS, body=body)
    if state is not None:
        if tuple(state["config"]["actions"]) != actions or tuple(state["config"]["styles"]) != styles:
            raise LMMError(f"--init-from {tc.init_from} was trained on other labels; train from scratch on these clips")
        sd = state["net"]
        had = NF.NextFrameConfig(keys=bool(state["config"].get("keys")),
                                 root_keys=bool(state["config"].get("root_keys"))).key_size
        if cfg.key_size != had:
            sd = widen_for_keys(sd, cfg, had)  # a generator learning to in-between, or to take pelvis keys
        net.load_state_dict(sd)
        mean, std = state["mean"], state["std"]
        if state.get("pose_mean") is not None:
            pose_mean, pose_std = state["pose_mean"], state["pose_std"]
        if state.get("key_mean") is not None:
            key_mean, key_std = state["key_mean"], state["key_std"]
        if state.get("starts") is not None and not tc.start_pairs:
            # The start pairs are part of the model: where every generation begins. Drawn anew with this run's
            # seed, they changed generation's figures more than the training did (a 2,000-step run recognised 0.70
            # with its new pairs, 0.77 with its init file's; 12 seeds x 17 actions), so a run that goes on keeps them.
            starts = (np.asarray(state["starts"]), np.asarray(state["start_action"]))
    if state is not None and state.get("label_pairs") is not None:
        # What the network was shown before stays learned: a fine-tune on fewer clips keeps those pairs.
        pairs = np.unique(np.concatenate([pairs, np.asarray(state["label_pairs"], dtype=np.int64).reshape(-1, 2)]),
                          axis=0)
    # The runs this one goes on from, so that a file's record says how all of it was trained.
    history = [] if state is None else state.get("history", []) + ([{"steps": state.get("step"), "train": state["train"]}]
                                                                    if "train" in state else [])
    mean_t, std_t = torch.as_tensor(mean, dtype=torch.float32), torch.as_tensor(std, dtype=torch.float32)
    pmean_t, pstd_t = torch.as_tensor(pose_mean, dtype=torch.float32), torch.as_tensor(pose_std, dtype=torch.float32)
    if tc.keys:
        kmean_t, kstd_t = torch.as_tensor(key_mean, dtype=torch.float32), torch.as_tensor(key_std, dtype=torch.float32)
    feet = torch.as_tensor([NUM_JOINTS * 3 + 3 * j + k for j in body.contacts for k in range(3)])  # their velocities
    contact_joints = list(body.contacts)
    # Each contact joint's height above the floor standing at rest (the ankles' higher than the toes').
    stand = torch.as_tensor(_rest_heights(body)[contact_joints], dtype=torch.float32)
    weight = torch.ones(NF.FRAME)
    weight[:4] = ROOT_WEIGHT
    opt = torch.optim.Adam(net.parameters(), lr=tc.lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / 200) * 0.5 * (1 + np.cos(np.pi * min(s / max(tc.steps, 1), 1.0))) * 0.9 + 0.1)
    tc.out.mkdir(parents=True, exist_ok=True)
    log = open(tc.out / "log.jsonl", "a")
    A, S = len(actions), len(styles)
    clip_weights = action_weights(corpus, tc.balance) if tc.balance else None
    bar = progress(range(tc.steps), desc="next-frame training", unit="step")
    t0 = time.perf_counter()
    for step in bar:
        # With keys, the key lies ``ahead`` frames after the rollout's first frame's predecessor, at least
        # the rollout's length; the span drawn per step keeps short gaps as common as long ones.
        span = int(rng.choice([tc.rollout] + [min(max(tc.rollout, g), tc.max_gap) for g in (30, 60, tc.max_gap)])) \
            if tc.keys else tc.rollout
        rollout, batch = tc.rollout, tc.batch
        arrive = tc.keys and tc.arrive > 0 and rng.random() < tc.arrive  # no draw at 0: old runs' batches stay
        if arrive:  # the whole way to the key, on fewer windows of as many frames in all
            rollout = span = int(rng.choice([min(max(tc.rollout, g), tc.max_gap) for g in (30, 60, 90, tc.max_gap)]))
            batch = max(8, tc.batch * tc.rollout // rollout)
        if tc.protocol_gaps:  # ``gap`` made frames, then the key: rolled ``gap + 1`` frames, the key the last
            rollout = span = int(rng.integers(1, tc.max_gap + 1)) + 1
            batch = min(4 * tc.batch, max(8, tc.batch * tc.rollout // rollout))
        b = corpus.sample(rng, batch, span + 3, speed=tc.speed_augment, weights=clip_weights)
        if tc.push_share:
            push_windows(b.rotations, rng, tc.push_share)
        x = torch.as_tensor(((NF.encode(b.rotations[:, :rollout + 3], b.root[:, :rollout + 3], body) - mean) / std),
                            dtype=torch.float32)  # (B, R+2, F)
        con = torch.as_tensor(b.contacts[:, 3:rollout + 3], dtype=torch.float32)
        act, sty = b.action.copy(), b.style.copy()
        drop = rng.random(batch) < tc.label_dropout
        act[drop] = 0
        sty[rng.random(batch) < tc.label_dropout] = 0
        labels = torch.cat([_onehot(act, A), _onehot(sty, S)], dim=1)
        p_own = schedule(step, tc.steps, tc.schedule)
        if tc.keys:
            still = torch.as_tensor(rng.random(batch) < (0.0 if tc.protocol_gaps else tc.still_start))[:, None]
            standing = x[:, 1].clone()
            standing[:, 1:NF.ROOT] = torch.as_tensor(-mean[1:NF.ROOT] / std[1:NF.ROOT], dtype=torch.float32)
            x = x.clone()
            x[:, 0] = torch.where(still, standing, x[:, 0])
            x[:, 1] = torch.where(still, standing, x[:, 1])
        prev, cur = x[:, 0], x[:, 1]
        need_positions = cfg.positions or tc.skate_weight > 0 or tc.skim_weight > 0 or tc.stance_weight > 0
        if need_positions:  # the true frames' joints, once for the window
            true_p = positions((x * std_t + mean_t).reshape(-1, NF.FRAME), body).reshape(len(x), -1, NUM_JOINTS, 3)
            p_prev, p_cur = true_p[:, 0], true_p[:, 1]
        if tc.keys:
            i = np.arange(batch)
            ahead = rng.integers(rollout, span + 1, batch)  # frames from the window's frame 2 to the key
            root_only = torch.as_tensor(rng.random(batch) < tc.root_keys) if tc.root_keys else torch.zeros(batch, dtype=torch.bool)
            kf = 2 + ahead
            key = torch.as_tensor(NF.standing(b.rotations[i, kf], b.root[i, kf], body), dtype=torch.float32)
            key_pos = positions(key, body)
            yaw = NF._heading(b.rotations[:, :, 0], body)
            to_key = torch.as_tensor(NF.to_key_from(b.root[:, 2], yaw[:, 2], b.root[i, kf], yaw[i, kf]), dtype=torch.float32)
            ahead_t = torch.as_tensor(ahead)
        prior = torch.as_tensor(rng.random(batch) < tc.prior_share)[:, None] if tc.prior_share else None
        rec = kl = bce = skate = skim = stance = torch.zeros(())
        for k in range(rollout):
            target = x[:, k + 2]
            extra = [(pose_inputs(p_prev, p_cur, cur * std_t + mean_t) - pmean_t) / pstd_t] if cfg.positions else []
            if tc.keys:
                kin = (key_inputs(cur * std_t + mean_t, to_key, key_pos, key, ahead_t - k - 1) - kmean_t) / kstd_t
                extra.append(hide_poses(kin, root_only) if cfg.root_keys else kin)
            cond = torch.cat([prev, cur, *extra, labels], dim=1)
            mu, logvar = net.enc(torch.cat([cond, target], dim=1)).chunk(2, dim=1)
            logvar = logvar.clamp(-10, 5)
            z = latent_draw(mu, logvar, prior)
            out = net.decode(cond, z, labels)
            base = torch.cat([torch.zeros_like(cur[:, :NF.ROOT]), cur[:, NF.ROOT:]], dim=1) if cfg.absolute_root else cur
            pred = _project(base + out[:, :NF.FRAME], mean_t, std_t)
            rec = rec + (((pred - target) ** 2) * weight).mean()
            kl = kl + 0.5 * (mu ** 2 + logvar.exp() - 1 - logvar).sum(dim=1).mean()
            bce = bce + nn.functional.binary_cross_entropy_with_logits(out[:, NF.FRAME:], con[:, k])
            own = torch.as_tensor(rng.random(batch) < p_own)[:, None]
            if need_positions:
                p_pred = positions(pred * std_t + mean_t, body)
                if tc.skate_weight or tc.skim_weight or tc.stance_weight:  # the made contact joints' velocities
                    v = pose_inputs(p_cur, p_pred, pred * std_t + mean_t)[:, feet].reshape(-1, 4, 3)
                if tc.skate_weight:
                    # A foot the capture has down must not move (metres per frame, squared, per contact joint).
                    skate = skate + (con[:, k] * (v ** 2).sum(-1)).mean() / 1e-4
                if tc.skim_weight or tc.stance_weight:  # and the captured ones', to count only what is more
                    v_true = pose_inputs(true_p[:, k + 1], true_p[:, k + 2], target * std_t + mean_t)[:, feet].reshape(-1, 4, 3)
                if tc.skim_weight:
                    # A foot near the floor that moves sideways skims it: what the made foot does more of
                    # than the captured one at this frame counts (``skim_loss``).
                    skim = skim + skim_loss(v, p_pred[:, contact_joints, 1], stand,
                                            v_true, true_p[:, k + 2, contact_joints, 1])
                if tc.stance_weight:
                    # One foot stands while the other swings, at whatever height (``stance_loss``).
                    stance = stance + stance_loss(v, v_true)
                p_prev, p_cur = p_cur, torch.where(own[:, :, None], p_pred, true_p[:, k + 2])
            prev, cur = cur, torch.where(own, pred, target)
            if tc.keys:
                to_key = advance(to_key, cur * std_t + mean_t)
        loss = (rec + tc.beta * kl / NF.FRAME + 0.1 * bce + tc.skate_weight * skate + tc.skim_weight * skim
                + tc.stance_weight * stance) / rollout
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        sched.step()
        if step % 50 == 0 or step == tc.steps - 1:
            row = {"step": step, "rec": rec.item() / rollout, "kl": kl.item() / rollout, "bce": bce.item() / rollout,
                   "skate": skate.item() / rollout, "skim": skim.item() / rollout,
                   "stance": stance.item() / rollout, "rollout": rollout,
                   "own": p_own, "s": time.perf_counter() - t0}
            log.write(json.dumps(row) + "\n")
            log.flush()
            bar.postfix = f"rec {row['rec']:.3f} kl {row['kl']:.2f} own {p_own:.2f}"
        if (step + 1) % 1000 == 0 or step == tc.steps - 1:
            _save(tc.out / "checkpoint.pt", net, cfg, (mean, std, pose_mean, pose_std, key_mean, key_std), starts, tc,
                  step + 1, history, pairs)
    log.close()
    prior = None
    if not cfg.keys:  # a generator draws its latent from a prior fitted to its encoder (``latent_prior``)
        encoder = {k: v.detach().cpu().numpy() for k, v in net.state_dict().items() if k.startswith("enc.")}
        f64 = lambda a: None if a is None else np.asarray(a, dtype=np.float64)  # noqa: E731
        prior = fit_latent_prior(encoder, cfg, f64(mean), f64(std), f64(pose_mean), f64(pose_std), body, corpus)
    # The last save again with the prior (saved first without it: a failed fit loses no training), and with
    # ``--steps 0`` the only one: a warm start saved as it is (new start pairs, ``start_pairs``, or the prior).
    _save(tc.out / "checkpoint.pt", net, cfg, (mean, std, pose_mean, pose_std, key_mean, key_std), starts, tc,
          tc.steps, history, pairs, prior)
    return tc.out / "checkpoint.pt"


def training_data(tc: NextFrameTrainConfig) -> tuple[Body, Corpus, tuple[str, ...], tuple[str, ...]]:
    """The run's body, training clips and label vocabularies: the canonical corpus's train split, or
    ``tc.bvh``'s files on their own skeleton (its body measured from them, ``model.body.body_from_motions``)."""
    if not tc.bvh:
        actions, styles = vocabularies(tc.corpus, tc.sources)
        return NF.CANON, Corpus.from_corpus(tc.corpus, "train", tc.sources, actions, styles), actions, styles
    names, motions, labels, joint_map = bvh_clips(tc.bvh, NF.NextFrameConfig.fps)
    body = body_from_motions(motions, joint_map)
    acts, stys = bvh_vocabularies(tc.bvh)
    actions, styles = ("<unknown>",) + acts, ("<unknown>",) + stys
    return body, Corpus.from_motions(names, motions, labels, body, actions, styles), actions, styles


def _save(path: Path, net: Net, cfg: NF.NextFrameConfig, stats, starts, tc: NextFrameTrainConfig, step: int,
          history: list | None = None, pairs: np.ndarray | None = None,
          prior: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None) -> None:
    """``history``: the records (steps, options) of the runs this one went on from, oldest first; ``pairs``
    the training clips' (action, style) pairs (``label_pairs``); ``prior`` the latent prior per action
    (``fit_latent_prior``: mean, scale, KL), written at a run's end."""
    # Tensors and plain values only, so that reading it back (``weights_only=True``) can run no code.
    t = lambda a: torch.as_tensor(np.asarray(a))  # noqa: E731
    state = {"net": net.state_dict(), "config": asdict(cfg), "step": step,
             "mean": t(stats[0]), "std": t(stats[1]), "pose_mean": t(stats[2]), "pose_std": t(stats[3]),
             **({"key_mean": t(stats[4]), "key_std": t(stats[5])} if len(stats) > 4 and stats[4] is not None else {}),
             "starts": t(starts[0]), "start_action": t(starts[1]),
             "train": {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(tc).items()},
             "history": list(history or []),
             **({"label_pairs": t(pairs)} if pairs is not None else {}),
             **({"prior_mean": t(prior[0]), "prior_scale": t(prior[1]), "prior_kl": t(prior[2])} if prior else {})}
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


# What a warm start must share with the run it continues, and the option that sets each.
_STRUCTURE = {"hidden": "--hidden", "layers": "--layers", "latent": "--latent", "positions": "--no-positions",
              "label_layers": "--first-layer-labels", "absolute_root": "--relative-root"}


def check_warm_start(tc: NextFrameTrainConfig) -> dict:
    """``tc.init_from``'s state (``warm_state``), refused with the options to give when its network's
    structure differs from the run's; called before any data is loaded."""
    state = warm_state(Path(tc.init_from))
    differ = [f"{k} {state['config'].get(k)!r} (this run: {getattr(tc, k)!r}; {flag})"
              for k, flag in _STRUCTURE.items() if state["config"].get(k) != getattr(tc, k)]
    stored = state["config"].get("body")
    if (stored is None) != (not tc.bvh):
        raise LMMError(f"--init-from {tc.init_from} was trained on " + (
            "the canonical corpus; a run on --bvh files (another skeleton) starts from scratch" if tc.bvh else
            "another skeleton (--bvh files); a run on the canonical corpus starts from scratch or from a canonical network"))
    if stored is not None:  # the files' skeleton must be the stored body's: one file's header says so
        names = read_bvh(motion_files(tc.bvh, "training")[0]).skeleton.names
        if tuple(names) != tuple(stored["names"]):
            raise LMMError(f"--init-from {tc.init_from} was trained on another skeleton ({', '.join(stored['names'][:3])}, "
                           f"...) than the --bvh files' ({', '.join(names[:3])}, ...); train a new network on these files")
    if state["config"].get("keys") and not tc.keys:  # a generator may learn keys; an in-betweener cannot unlearn them
        differ.append("keys True (this run: False; --keys)")
    if state["config"].get("root_keys") and not tc.root_keys:
        differ.append("root_keys True (this run: 0; --root-keys SHARE)")
    if differ:
        raise LMMError(f"--init-from {tc.init_from} has another network: {'; '.join(differ)}; give the same options")
    return state


def warm_state(path: Path) -> dict:
    """The network, configuration and statistics to go on from: a run folder's ``checkpoint.pt`` or an
    exported weights file (which carries the encoder too, so a committed export continues a run)."""
    if not path.exists():
        raise LMMError(f"--init-from {path} not found")
    if path.suffix == ".npz":
        m = NF.load(path)
        with np.load(path) as data:
            if not any(k.startswith("e.") for k in data.files):
                raise LMMError(f"--init-from {path} holds no encoder; continue from its run folder's checkpoint.pt")
            sd = {k[2:]: torch.as_tensor(data[k].astype(np.float32)) for k in data.files if k.startswith("e.")}
        for i in range(m.cfg.layers):
            sd[f"dec.{i}.weight"] = torch.as_tensor(m.p[f"dec{i}_w"].T.astype(np.float32))
            sd[f"dec.{i}.bias"] = torch.as_tensor(m.p[f"dec{i}_b"].astype(np.float32))
        sd["out.weight"] = torch.as_tensor(m.p["out_w"].T.astype(np.float32))
        sd["out.bias"] = torch.as_tensor(m.p["out_b"].astype(np.float32))
        history = m.meta.get("history", []) + [{"steps": m.meta.get("steps"), "train": m.meta.get("train")}]
        return {"net": sd, "config": asdict(m.cfg), "mean": m.mean, "std": m.std, "pose_mean": m.pose_mean,
                "pose_std": m.pose_std, "key_mean": m.key_mean, "key_std": m.key_std,
                "starts": m.starts, "start_action": m.start_action, "history": history,
                "label_pairs": m.meta.get("label_pairs")}
    return read_checkpoint(path)


def read_checkpoint(path: Path) -> dict:
    """A run's ``checkpoint.pt``, read without unpickling anything but tensors and plain values; its
    statistics as numpy arrays."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several kinds for a file that is not its own
        raise LMMError(f"{path} is not a next-frame checkpoint or weights file ({str(exc)[:80]})") from None
    if not isinstance(state, dict) or "net" not in state or "config" not in state:
        raise LMMError(f"{path} is not a next-frame checkpoint (no network or configuration in it)")
    for k in ("mean", "std", "pose_mean", "pose_std", "key_mean", "key_std", "starts", "start_action", "label_pairs"):
        if isinstance(state.get(k), torch.Tensor):
            state[k] = state[k].numpy()
    state.setdefault("history", [])
    return state


def export(checkpoint: Path, out: Path) -> Path:
    """Write the numpy weights file (``next_frame.load`` reads it) from a checkpoint: the decoder only."""
    state = read_checkpoint(checkpoint)
    cfg = NF.NextFrameConfig(**{k: tuple(v) if k in ("actions", "styles") else v for k, v in state["config"].items()})
    sd = state["net"]
    arrays = {}
    for i in range(cfg.layers):
        arrays[f"p.dec{i}_w"] = sd[f"dec.{i}.weight"].T.numpy()
        arrays[f"p.dec{i}_b"] = sd[f"dec.{i}.bias"].numpy()
    arrays["p.out_w"], arrays["p.out_b"] = sd["out.weight"].T.numpy(), sd["out.bias"].numpy()
    # The encoder rides along (unused at run time) so that training can go on from this file.
    arrays |= {f"e.{k}": v.numpy() for k, v in sd.items() if k.startswith("enc.")}
    arrays = {k: v.astype(np.float32) for k, v in arrays.items()}
    meta = {"format": NF.FORMAT, "config": asdict(cfg), "steps": state["step"], "train": state["train"],
            "history": state.get("history", [])}
    if state.get("label_pairs") is not None:
        meta["label_pairs"] = np.asarray(state["label_pairs"]).tolist()
    if state.get("prior_mean") is not None:  # fitted where N(0, I) misses an action's posteriors (``latent_prior``)
        arrays |= {"prior_mean": np.asarray(state["prior_mean"], np.float32),
                   "prior_scale": np.tril(np.asarray(state["prior_scale"], np.float32))}
        kl = np.asarray(state["prior_kl"], np.float64)
        meta["latent_prior"] = {"min_kl": MIN_KL, "kl": {a: round(float(v), 3) for a, v in zip(cfg.actions, kl)},
                                "fitted": [a for a, v in zip(cfg.actions[1:], kl[1:]) if v >= MIN_KL]}
    if cfg.positions:
        arrays |= {"pose_mean": np.asarray(state["pose_mean"], np.float32), "pose_std": np.asarray(state["pose_std"], np.float32)}
    if cfg.keys:
        arrays |= {"key_mean": np.asarray(state["key_mean"], np.float32), "key_std": np.asarray(state["key_std"], np.float32)}
    arrays |= {"mean": np.asarray(state["mean"], np.float32), "std": np.asarray(state["std"], np.float32),
               "starts": np.asarray(state["starts"], np.float32), "start_action": np.asarray(state["start_action"], np.int16),
               "meta": np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)}
    with atomic_path(out) as tmp:
        np.savez_compressed(tmp, **arrays)
    return out
