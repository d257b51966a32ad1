"""``lmm train``: fit the network on the canonical corpus (torch), checkpoint, resume, export.

Runs in one process or under ``torchrun`` (DistributedDataParallel, gloo on CPU, nccl on GPU). The
typed ``TrainConfig`` and ``ModelConfig`` are saved in every checkpoint and read back strictly.
"""
from __future__ import annotations

import functools
import json
import math
import os
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist

from .. import rotations as R
from ..errors import LMMError
from ..model import features as Fe
from ..model.body import Body, body_from_motions
from ..model.config import ModelConfig, strict_from_dict
from ..model.window import GATE_FRAMES, choose_anchor, prepare
from . import rotations_torch as RT
from .data import DEFAULT_MIX, Corpus, protocol_masks, task_masks, vocabularies
from .network import Network

FORMAT = "lmm-model-1"


@dataclass(frozen=True)
class TrainConfig:
    """Everything a training run depends on (with ``ModelConfig``)."""

    corpus: str = "out/corpus"
    out: str = "out/train"
    sources: tuple[str, ...] = ("bandai1", "bandai2", "reactidle", "cmu")
    steps: int = 5500
    batch: int = 24
    windows: tuple[int, ...] = (64, 96, 128)
    lr: float = 4e-4
    warmup: int = 150
    weight_decay: float = 0.01
    position_weight: float = 10.0
    # Weight of a second position loss measured the way the in-betweening benchmarks' L2P is: each
    # coordinate of each joint divided by its spread over training windows (``position_spread``), and
    # the per-frame L2 norm of those. In metres a centimetre is a centimetre whichever way it points, yet
    # on standing motion heights spread only centimetres (Bandai: 2.5-5 cm for all but the arms, against
    # 20-45 cm horizontally), so in L2P a height error of 1 cm counts as much as 10-17 cm forward, and
    # on screen a pelvis bobbing or a foot floating by 1 cm shows. 0 turns it off. Measured (2026-12-04, 750
    # steps of fine-tuning the default model at 0.25 against 0): L2P 0.716 / 0.538 / 0.613 / 0.639 of
    # interpolation's against 0.765 / 0.557 / 0.628 / 0.648 at 5 / 15 / 30 / 45 frames, L2Q no worse.
    spread_weight: float = 0.25
    # Weight of a loss on global joint rotations measured the way the benchmarks' L2Q is: per frame, the
    # L2 norm over joints of each joint's world rotation error (``losses``). The feature loss scores
    # local rotations joint by joint; L2Q scores where each bone ends up pointing, so a hip error counts
    # once in the first and again through every joint below it in the second. 0 turns it off.
    rotation_weight: float = 0.0
    contact_weight: float = 0.1
    intent_weight: float = 0.2
    mirror: bool = True
    seed: int = 0
    threads: int = 0
    checkpoint_every: int = 250
    stats_windows: int = 1500
    init_from: str = ""  # start from this checkpoint's (or exported .npz's) weights and statistics: a warm start
    # What the network learns to correct (``features.BASELINES``); a warm start switches to it.
    baseline: str = "hermite"
    # Frame tokens also carry each feature's change from the previous frame; a warm start from a model
    # without them adds them (their input weights start at zero, so the model starts as it was).
    # Opt-in until a trained model has shown what they give (no shipped model has them yet).
    velocity_inputs: bool = False
    # Train on these BVH files' own 22-joint skeleton (folder, glob or file) instead of the canonical
    # corpus: how the LAFAN1 benchmark model is made. All of them train; nothing is held out.
    bvh: str = ""
    task_mix: tuple[float, ...] = DEFAULT_MIX  # in-betweening, completion, generation, intent
    max_gap: int = 60  # longest in-betweening gap drawn, frames
    # Run the network's matrix products in bfloat16 (torch autocast; measured 1.44x faster steps on the
    # project's 2-core AMD EPYC). The loss, forward kinematics included, stays float32, and the
    # exported weights are float32 either way. The shipped default model's last 10,000 steps used it.
    bf16: bool = False
    # Prepare batches (sampling, masks, baselines, targets: a quarter to a third of a step's time on a
    # CPU) in a second process while the network trains on the previous one. It pays where cores are to
    # spare: on 2 cores the worker only takes one from the network (measured: no gain). Machine-
    # dependent, like threads: a resumed run may change it. The batches are the same either way.
    prefetch: bool = False
    # Where the network trains: "cpu", "cuda" (torch's CUDA GPU; under torchrun each process takes the GPU
    # of its LOCAL_RANK) or "auto" (CUDA when torch sees one). Batches are prepared on the CPU either way.
    # Machine-dependent, like threads: a resumed run may change it.
    device: str = "auto"
    # The network's gate fade-in, frames (``ModelConfig.gate_frames``); a warm start switches to it.
    # None: a warm start keeps its model's, a new model takes ModelConfig's default.
    gate_frames: float | None = None
    # Train on in-betweening windows posed exactly as the LAFAN1 benchmark poses them (``protocol_masks``):
    # each batch draws one gap of 1..max_gap frames, and its windows are 10 context frames, the gap and
    # one full key, nothing after it, without action or style labels; ``windows`` and ``task_mix`` are
    # then unused. For the benchmark model, which is judged on nothing else: the general mix spends
    # most windows on partial keys, extra keys, known frames after the key and other tasks, and its
    # 64-frame windows carry ~30 frames past the key that the loss does not score but every step still
    # computes. Measured (2026-12-05, LAFAN1, 12,000 steps from the shipped benchmark model): L2P 0.562 /
    # 0.614 / 0.675 / 0.709 of interpolation against 0.646 / 0.656 / 0.710 / 0.733 before; 11,000 steps
    # on the general windows had not moved it (benchmarks/models/LAFAN1_MODEL_CARD.md).
    protocol_windows: bool = False


DEVICES = ("auto", "cpu", "cuda")


def _device(name: str) -> torch.device:
    """The torch device for ``TrainConfig.device``; an ``LMMError`` that names the fix when it cannot be had."""
    if name not in DEVICES:
        raise LMMError(f"--device must be one of {', '.join(DEVICES)}, got {name!r}")
    if name == "cuda" and not torch.cuda.is_available():
        raise LMMError("--device cuda: this torch sees no CUDA GPU (torch.cuda.is_available() is False); "
                       "use --device cpu, or install a CUDA build of torch on a machine with an NVIDIA GPU")
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cpu":
        return torch.device("cpu")
    index = int(os.environ.get("LOCAL_RANK", 0))
    torch.cuda.set_device(index)
    return torch.device("cuda", index)


def rank() -> int:
    """This process's rank under torchrun (0 when not distributed)."""
    return _rank()[0]


def _rank() -> tuple[int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


@functools.lru_cache(maxsize=1)
def _bvh_clips(spec: str, fps: float) -> tuple[list[str], list, list[dict[str, str]], dict[str, str]]:
    """The training BVH files named by ``spec`` at ``fps``: take names, motions, labels (from the file
    names, LAFAN1's convention) and the bone map (canonical joint -> rig joint) of their skeleton."""
    from ..bench.files import motion_files
    from ..bonemap import bone_map_for
    from ..dataset import name_labels
    from ..io import read_bvh

    paths = motion_files(spec, "training")
    motions = [read_bvh(p) for p in paths]
    motions = [m if m.fps == fps else m.resampled(fps) for m in motions]
    for p, m in zip(paths, motions):
        if m.skeleton.names != motions[0].skeleton.names:
            raise LMMError(f"{p}: its joints differ from {paths[0].name}'s; train on one skeleton at a time")
    joint_map = dict(bone_map_for(motions[0].skeleton).bones)
    return [p.name.split(".")[0] for p in paths], motions, [name_labels(p) for p in paths], joint_map


def _gate(cfg: TrainConfig) -> dict:
    """``ModelConfig`` keyword for ``cfg.gate_frames``: none when it is None (keep what there is)."""
    return {} if cfg.gate_frames is None else {"gate_frames": cfg.gate_frames}


def default_model_config(cfg: TrainConfig, **shape) -> ModelConfig:
    """A new model's configuration for ``cfg``'s data: label vocabularies and, for ``cfg.bvh``, the body
    measured from those files; ``shape`` overrides network sizes (``d_model``, ``layers`` ...)."""
    if not cfg.bvh:
        actions, styles = vocabularies(Path(cfg.corpus), cfg.sources)
        return ModelConfig(actions=actions, styles=styles, baseline=cfg.baseline, velocity_inputs=cfg.velocity_inputs,
                           **_gate(cfg), **shape)
    from ..mirror import mirror_label

    _, motions, labels, joint_map = _bvh_clips(cfg.bvh, ModelConfig.fps)
    body = body_from_motions(motions, joint_map)
    actions = {lb["action"] for lb in labels} | {mirror_label(lb["action"]) for lb in labels}
    styles = {lb["style"] for lb in labels}
    return ModelConfig(actions=("<unknown>",) + tuple(sorted(actions)), styles=("<unknown>",) + tuple(sorted(styles)),
                       body=body.to_dict(), baseline=cfg.baseline, velocity_inputs=cfg.velocity_inputs,
                       **_gate(cfg), **shape)


def load_corpus(cfg: TrainConfig, model_cfg: ModelConfig) -> Corpus:
    """The training clips: the canonical corpus's train split, or ``cfg.bvh`` on the model's own body."""
    if not cfg.bvh:
        return Corpus.from_corpus(Path(cfg.corpus), "train", cfg.sources, model_cfg.actions, model_cfg.styles)
    names, motions, labels, _ = _bvh_clips(cfg.bvh, model_cfg.fps)
    body = Body.from_dict(model_cfg.body)
    if body.names != motions[0].skeleton.names:
        raise LMMError(f"{cfg.bvh}: the files' joints are not the model's body's; train a new model on them")
    return Corpus.from_motions(names, motions, labels, body, model_cfg.actions, model_cfg.styles)


def feature_stats(corpus: Corpus, rng: np.random.Generator, n: int, pos_freqs: int = 16,
                  body: Body | None = None, baseline: str = "interpolation") -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Feature statistics ``(F,)`` each: ``mean`` and ``std`` of ground-truth windows in their anchor
    frames; ``scale``, the typical size (RMS, in normalised units) of what the network must add to
    the baseline when in-betweening; and ``velocity``, the RMS frame-to-frame change of each feature
    (unnormalised). The network's correction is multiplied by ``scale``, so one unit of
    output is one typical correction whatever the feature: the root's forward position varies by
    metres across windows but needs corrections of centimetres."""
    body = body or Body.from_dict(None)
    feats = []
    batches = []
    for _ in range(max(n // 16, 1)):
        b = corpus.sample(rng, 16, 64)
        batches.append(b)
        for i in range(16):
            anchor = int(rng.integers(0, 20))
            yaw, origin = Fe.anchor_transform(b.rotations[i], b.root[i], anchor, body.forward)
            rot = b.rotations[i].copy()
            rot[:, 0], pos = Fe.to_anchor(rot, b.root[i], yaw, origin)
            feats.append(Fe.encode(rot, pos))
    f = np.concatenate(feats)
    mean, std = f.mean(0), np.maximum(f.std(0), 1e-3)
    velocity = np.sqrt(np.mean(np.concatenate([np.diff(w, axis=0) for w in feats]) ** 2, axis=0))
    sq, count = np.zeros(Fe.FEATURES), np.zeros(Fe.FEATURES)
    for b in batches[: max(len(batches) // 4, 1)]:
        # Sized on in-betweening (the task where corrections must be precise): 10 context frames, a key
        # 1-30 frames later, the rest known.
        known = np.ones((16, 64, Fe.NUM_GROUPS), dtype=bool)
        for i in range(16):
            known[i, 10:10 + int(rng.integers(1, 31))] = False
        prep = _Prepared(b, known, np.zeros(16, dtype=bool), mean, std, pos_freqs, np.ones(Fe.FEATURES), body,
                         baseline=baseline)
        unknown = ~prep.known.numpy()
        res = (prep.target.numpy() - prep.base.numpy()) * unknown
        sq += (res ** 2).sum(axis=(0, 1))
        count += unknown.sum(axis=(0, 1))
    scale = np.clip(np.sqrt(sq / np.maximum(count, 1)), 0.02, 1.0)
    return mean, std, scale, velocity


def velocity_std(velocity: np.ndarray, std: np.ndarray) -> np.ndarray:
    """``vel_std (F,)`` for ``window.prepare``: the RMS frame-to-frame change of raw features in the units of
    the features normalised by ``std``, kept away from zero for features that never move."""
    return np.maximum(velocity / std, 1e-3)


def position_spread(corpus: Corpus, rng: np.random.Generator, n: int, body: Body | None = None,
                    length: int = 50, at: int = 9) -> np.ndarray:
    """``(22, 3)`` the spread (std, metres) of each global joint coordinate over ``n`` training windows of
    ``length`` frames, each centred on its mean pelvis XZ and turned to face +Z at frame ``at``: the
    statistics L2P normalises by (the LAFAN1 protocol's, with +Z for +X), in the frame the loss measures
    positions in (the anchor frame, also facing +Z)."""
    from ..kinematics import fk

    body = body or Body.from_dict(None)
    offsets, parents = np.asarray(body.offsets), np.array(body.parents)
    sums, sq, count = np.zeros((22, 3)), np.zeros((22, 3)), 0
    for _ in range(max(n // 16, 1)):
        b = corpus.sample(rng, 16, length)
        for i in range(16):
            yaw, _ = Fe.anchor_transform(b.rotations[i], b.root[i], at, body.forward)
            origin = b.root[i].mean(axis=0) * [1.0, 0.0, 1.0]
            rot = b.rotations[i].copy()
            rot[:, 0], pos = Fe.to_anchor(rot, b.root[i], yaw, origin)
            local = np.broadcast_to(offsets, (length, 22, 3)).copy()
            local[:, 0] = pos
            p = fk(rot, local, parents)[1]
            sums += p.sum(axis=0)
            sq += (p ** 2).sum(axis=0)
            count += length
    mean = sums / count
    return np.sqrt(np.maximum(sq / count - mean ** 2, 0.0)).clip(min=1e-3)


class _Prepared:
    """A batch turned into tensors: network inputs, targets and loss masks."""

    def __init__(self, batch, known, hide, mean, std, pos_freqs, scale, body: Body, scored: np.ndarray | None = None,
                 baseline: str = "interpolation", vel_std: np.ndarray | None = None, gate_frames: float = GATE_FRAMES):
        from ..kinematics import fk

        B, W = known.shape[:2]
        xs, bases, knowns, targets, positions, rotations, gates = [], [], [], [], [], [], []
        offsets, parents = np.asarray(body.offsets), np.array(body.parents)
        for b in range(B):
            anchor = choose_anchor(known[b])
            win = prepare(batch.rotations[b], batch.root[b], known[b], mean, std, pos_freqs, anchor, body.forward, baseline,
                          vel_std, gate_frames)
            # Targets in the same anchor frame; generation from nothing is scored in frame 0's frame.
            ref = anchor if anchor is not None else 0
            yaw, origin = Fe.anchor_transform(batch.rotations[b], batch.root[b], ref, body.forward)
            if anchor is None:
                win.yaw, win.origin = yaw, origin
            rot = batch.rotations[b].copy()
            rot[:, 0], pos = Fe.to_anchor(rot, batch.root[b], yaw, origin)
            targets.append((Fe.encode(rot, pos) - mean) / std)
            local = np.broadcast_to(offsets, (W, 22, 3)).copy()
            local[:, 0] = pos
            g_rot, g_pos = fk(rot, local, parents)
            positions.append(g_pos)
            rotations.append(R.to_matrix(g_rot))
            xs.append(win.x)
            gates.append(win.gate)
            bases.append(win.base)
            knowns.append(win.known)
        t = lambda a, dt=torch.float32: torch.as_tensor(np.stack(a), dtype=dt)  # noqa: E731
        self.x, self.base, self.known, self.gate = t(xs), t(bases), t(knowns, torch.bool), t(gates)
        self.target, self.positions, self.rotations = t(targets), t(positions), t(rotations)
        # Frames the loss counts: something to predict, and not excluded by the task (``task_masks``).
        scored = np.ones(known.shape[:2], dtype=bool) if scored is None else scored
        self.scored = torch.as_tensor(~known.all(axis=2) & scored)
        self.contacts = torch.as_tensor(batch.contacts, dtype=torch.float32)
        self.action = torch.as_tensor(np.where(hide, 0, batch.action))
        self.style = torch.as_tensor(np.where(hide, 0, batch.style))
        self.true_action = torch.as_tensor(batch.action)
        self.true_style = torch.as_tensor(batch.style)
        self.hide = torch.as_tensor(hide)
        self.scale = torch.as_tensor(scale, dtype=torch.float32)

    def to(self, device: torch.device) -> "_Prepared":
        """The same batch with every tensor on ``device``."""
        for name, value in vars(self).items():
            if isinstance(value, torch.Tensor):
                setattr(self, name, value.to(device, non_blocking=True))
        return self


def _global_pose(feats: torch.Tensor, offsets: torch.Tensor, parents) -> tuple[torch.Tensor, torch.Tensor]:
    """Global joint positions ``(B, W, 22, 3)`` and rotation matrices ``(B, W, 22, 3, 3)`` from denormalised
    features ``(B, W, F)`` (anchor frame)."""
    B, W, _ = feats.shape
    d6 = torch.cat([feats[..., 3:9].unsqueeze(2), feats[..., 9:].reshape(B, W, 21, 6)], dim=2)
    mats = RT.matrix_from_6d(d6)
    g_rot, g_pos = [], []
    for j, p in enumerate(parents):
        if p < 0:
            g_rot.append(mats[:, :, j])
            g_pos.append(feats[..., :3])
        else:
            g_rot.append(g_rot[p] @ mats[:, :, j])
            g_pos.append(g_pos[p] + (g_rot[p] @ offsets[j].reshape(3, 1)).squeeze(-1))
    return torch.stack(g_pos, dim=2), torch.stack(g_rot, dim=2)


def _per_item_mean(err: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Mean of ``err`` over each item's weighted entries, then over the items that have any.

    Every window counts the same whatever the length of its gap: pooled over all entries, long gaps
    (many unknown frames) would drown short ones, and a 5-frame in-between would learn little."""
    dims = tuple(range(1, err.dim()))
    w = weight.expand_as(err)
    total, count = (err * w).sum(dims), w.sum(dims)
    has = count > 0
    return (total[has] / count[has]).sum() / has.sum().clamp_min(1)


def losses(net, prep: _Prepared, mean_t, std_t, offsets_t, parents, cfg: TrainConfig,
           spread_t: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """The training losses of one batch; ``spread_t (22, 3)`` (``position_spread``) is needed when
    ``cfg.spread_weight`` is not 0."""
    device = "cuda" if prep.x.is_cuda else "cpu"
    with torch.autocast(device, dtype=torch.bfloat16, enabled=cfg.bf16):
        out, act_logits, sty_logits = net(prep.x, prep.action, prep.style)
    # Everything below in float32: joint positions come from chains of rotations, which bfloat16's
    # 8 bits of mantissa would blur by millimetres.
    out, act_logits, sty_logits = out.float(), act_logits.float(), sty_logits.float()
    pred = torch.where(prep.known, prep.base, prep.base + out[..., : Fe.FEATURES] * prep.scale * prep.gate)
    feat = _per_item_mean((pred - prep.target).abs(), (~prep.known).float() * prep.scored.float()[..., None])
    pos, g_rot = _global_pose(pred * std_t + mean_t, offsets_t, parents)
    pos_l = _per_item_mean((pos - prep.positions).abs(), prep.scored.float()[..., None, None])
    if cfg.spread_weight:
        # Per frame, the L2 norm over every joint coordinate in units of its spread (L2P's measure).
        norm = (((pos - prep.positions) / spread_t) ** 2).sum(dim=(2, 3)).add(1e-8).sqrt()
        spread = _per_item_mean(norm, prep.scored.float())
    else:
        spread = pos_l * 0.0
    if cfg.rotation_weight:
        # Per frame, the L2 norm over joints of global quaternion differences (L2Q's measure), through
        # matrices, which have no sign to pick: for an angle t between two rotations |R1 - R2|_F^2 / 8 =
        # sin^2(t/2), and |q1 - q2|^2 = 4 sin^2(t/4) is within 7% of it up to t = 60 degrees.
        diff = ((g_rot - prep.rotations) ** 2).sum(dim=(2, 3, 4))
        rot_l = _per_item_mean((diff / 8.0).add(1e-8).sqrt(), prep.scored.float())
    else:
        rot_l = pos_l * 0.0
    contact = torch.nn.functional.binary_cross_entropy_with_logits(out[..., Fe.FEATURES:], prep.contacts)
    h = prep.hide
    if h.any():
        intent = torch.nn.functional.cross_entropy(act_logits[h], prep.true_action[h]) + \
            torch.nn.functional.cross_entropy(sty_logits[h], prep.true_style[h])
    else:
        intent = (act_logits.sum() + sty_logits.sum()) * 0.0  # keeps every parameter in the graph (DDP)
    total = (feat + cfg.position_weight * pos_l + cfg.spread_weight * spread + cfg.rotation_weight * rot_l
             + cfg.contact_weight * contact + cfg.intent_weight * intent)
    return {"loss": total, "feat": feat, "pos_m": pos_l, "pos_spread": spread, "rot_global": rot_l, "contact": contact,
            "intent": intent}


class _Batches(torch.utils.data.IterableDataset):
    """The prepared batches of steps ``start .. cfg.steps - 1``, drawn from ``rng_seed``'s generator in
    order (window length, clips, task masks), so a worker process yields exactly what the training
    process would have made itself."""

    def __init__(self, corpus: Corpus, cfg: TrainConfig, model_cfg: ModelConfig, stats: tuple, body: Body,
                 rng_seed: int | tuple[int, ...], start: int):
        super().__init__()
        self.corpus, self.cfg, self.model_cfg, self.stats, self.body = corpus, cfg, model_cfg, stats, body
        self.rng_seed, self.start = rng_seed, start

    def __iter__(self):
        cfg, mc = self.cfg, self.model_cfg
        mean, std, scale, vel_std = self.stats
        rng = np.random.default_rng(self.rng_seed)
        for _ in range(self.start, cfg.steps):
            if cfg.protocol_windows:
                window = 11 + int(rng.integers(1, cfg.max_gap + 1))
                batch = self.corpus.sample(rng, cfg.batch, window, cfg.mirror)
                known, hide, scored = protocol_masks(cfg.batch, window)
            else:
                window = int(rng.choice(cfg.windows))
                batch = self.corpus.sample(rng, cfg.batch, window, cfg.mirror)
                known, hide, scored = task_masks(rng, cfg.batch, window, cfg.task_mix, cfg.max_gap)
            yield _Prepared(batch, known, hide, mean, std, mc.pos_freqs, scale, self.body, scored, mc.baseline, vel_std,
                            mc.gate_frames)


def _batches(corpus: Corpus, cfg: TrainConfig, model_cfg: ModelConfig, stats: tuple, body: Body,
             rng_seed: int | tuple[int, ...], start: int):
    """Iterator over the prepared batches of ``_Batches``, made ahead of use by a worker process with
    ``cfg.prefetch``."""
    data = _Batches(corpus, cfg, model_cfg, stats, body, rng_seed, start)
    if not cfg.prefetch:
        return iter(data)
    # One worker: one stream of batches (more would each replay the same generator). It is forked with
    # the corpus already in memory and hands batches back through shared memory.
    return iter(torch.utils.data.DataLoader(data, batch_size=None, num_workers=1, prefetch_factor=4))


def _warm_start(path: Path) -> dict:
    """What a warm start takes from a training checkpoint or an exported weights file (``.npz``): the
    model configuration, the network's weights and the feature statistics."""
    if not path.is_file():
        raise LMMError(f"--init-from {path}: no such file; give a checkpoint.pt or an exported .npz model")
    if path.suffix != ".npz":
        return torch.load(path, weights_only=False, map_location="cpu")
    from ..model.runtime import load

    model = load(path)
    return {"model_config": asdict(model.cfg), "mean": model.mean, "std": model.std, "scale": model.scale,
            "vel_std": model.vel_std,
            "model": {f"p.{k}": torch.as_tensor(v) for k, v in model.params.items()}}


def _fit_inputs(weights: dict, net: Network) -> dict:
    """A warm start's weights for ``net``: where ``net`` takes velocity inputs that the weights' network did
    not, zero input rows are inserted for them (before the frame-position rows), so the network starts
    out computing exactly what it did."""
    from ..model.network import INPUT

    w = weights["p.in_w"]
    want = net.p["in_w"].shape[0]
    if w.shape[0] == want:
        return weights
    if want - w.shape[0] != Fe.FEATURES:
        raise LMMError(f"the warm start's network takes {w.shape[0]} inputs per frame, this one {want}; a model "
                       "trained with velocity inputs continues only with --velocity-inputs")
    zeros = torch.zeros(Fe.FEATURES, w.shape[1], dtype=w.dtype)
    return {**weights, "p.in_w": torch.cat([w[:INPUT], zeros, w[INPUT:]])}


def _save(path: Path, payload: dict) -> None:
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    torch.save(payload, tmp)
    os.replace(tmp, path)


def train(cfg: TrainConfig, model_cfg: ModelConfig | None = None, resume: bool = False, show_progress: bool = True) -> Path:
    """Train; returns the path of the final checkpoint. See ``TrainConfig``."""
    from ..progress import progress

    device = _device(cfg.device)  # first: a bad --device is said before any work is done
    if "WORLD_SIZE" in os.environ and int(os.environ["WORLD_SIZE"]) > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    rank, world = _rank()
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    ckpt_path = out / "checkpoint.pt"

    state = None
    if resume and ckpt_path.exists():
        state = torch.load(ckpt_path, weights_only=False, map_location="cpu")
        cfg_saved = strict_from_dict(TrainConfig, state["train_config"], f"{ckpt_path} train config")
        # Resuming may lengthen the run and use another machine's threads; everything else must match.
        if replace(cfg_saved, steps=cfg.steps, threads=cfg.threads, checkpoint_every=cfg.checkpoint_every,
                   prefetch=cfg.prefetch, device=cfg.device) != cfg:
            raise LMMError(f"{ckpt_path} was trained with another configuration; use a new --out or the same options")
        model_cfg = ModelConfig.from_dict(state["model_config"], f"{ckpt_path} model config")
        mean, std, scale, vel_std = state["mean"], state["std"], state["scale"], state.get("vel_std")
        spread = state.get("position_spread")
    warm = _warm_start(Path(cfg.init_from)) if (state is None and cfg.init_from) else None
    if warm is not None:
        model_cfg = replace(ModelConfig.from_dict(warm["model_config"], f"{cfg.init_from} model config"),
                            baseline=cfg.baseline, velocity_inputs=cfg.velocity_inputs, **_gate(cfg))
    if model_cfg is None:
        model_cfg = default_model_config(cfg)
    body = Body.from_dict(model_cfg.body)
    corpus = load_corpus(cfg, model_cfg)
    # Each process's batch stream, and a resumed run's from where it stopped; as one entropy tuple so that
    # no other seed, rank or step lands on the same stream.
    rng_seed: tuple[int, ...] = (cfg.seed, rank, 0)
    torch.manual_seed(cfg.seed)
    if state is None:
        mean, std, scale, velocity = feature_stats(corpus, np.random.default_rng(cfg.seed), cfg.stats_windows,
                                                   model_cfg.pos_freqs, body, model_cfg.baseline)
        if warm is not None:  # the network was trained on these; velocities are measured in its units
            mean, std, scale = warm["mean"], warm["std"], warm["scale"]
        vel_std = warm.get("vel_std") if warm is not None else None
        if vel_std is None and model_cfg.velocity_inputs:
            vel_std = velocity_std(velocity, std)
        spread = None
    if spread is None:
        spread = position_spread(corpus, np.random.default_rng(cfg.seed + 1), cfg.stats_windows, body)
    if not model_cfg.velocity_inputs:
        vel_std = None
    net = Network(model_cfg)
    if warm is not None:
        net.load_state_dict(_fit_inputs(warm["model"], net))
    net.to(device)
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    step = 0
    if state is not None:
        net.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        step = state["step"]
        rng_seed = (cfg.seed, rank, step)
    if world > 1:
        model = torch.nn.parallel.DistributedDataParallel(net, device_ids=[device.index] if device.type == "cuda" else None)
    else:
        model = net
    on = lambda a: torch.as_tensor(np.asarray(a), dtype=torch.float32).to(device)  # noqa: E731
    mean_t, std_t, offsets_t, spread_t = on(mean), on(std), on(body.offsets), on(spread)

    def payload(step: int) -> dict:
        return {
            "format": FORMAT, "step": step, "model": net.state_dict(), "optimizer": opt.state_dict(),
            "train_config": asdict(cfg), "model_config": asdict(model_cfg), "mean": mean, "std": std, "scale": scale,
            "vel_std": vel_std, "position_spread": spread,
        }

    if rank == 0:
        (out / "config.json").write_text(json.dumps({"train": asdict(cfg), "model": asdict(model_cfg)}, indent=1))
    bar = progress(range(step, cfg.steps), total=cfg.steps - step, desc="train", unit="step",
                   enabled=show_progress and rank == 0)
    log = open(out / "log.jsonl", "a") if rank == 0 else None
    t0, ema = time.perf_counter(), None
    batches = _batches(corpus, cfg, model_cfg, (mean, std, scale, vel_std), body, rng_seed, step)
    for step in bar:
        lr = cfg.lr * min(1.0, (step + 1) / cfg.warmup) * 0.5 * (1 + math.cos(math.pi * min(step / cfg.steps, 1.0)))
        for g in opt.param_groups:
            g["lr"] = lr
        prep = next(batches).to(device)
        parts = losses(model, prep, mean_t, std_t, offsets_t, body.parents, cfg, spread_t)
        opt.zero_grad()
        parts["loss"].backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        vals = {k: float(v.detach()) for k, v in parts.items()}
        ema = vals if ema is None else {k: 0.98 * ema[k] + 0.02 * vals[k] for k in vals}
        bar.postfix = f"loss {ema['loss']:.3f} pos {100 * ema['pos_m']:.1f}cm lr {lr:.1e}"
        if log is not None:
            log.write(json.dumps({"step": step + 1, "lr": lr, "time_s": time.perf_counter() - t0, **vals}) + "\n")
            log.flush()
        if rank == 0 and ((step + 1) % cfg.checkpoint_every == 0 or step + 1 == cfg.steps):
            _save(ckpt_path, payload(step + 1))
    if log is not None:
        log.close()
    if world > 1:
        dist.barrier()
    return ckpt_path


# How much more of its ground-contact frames a bank stretch may slide on than its take's cleanest
# candidate stretch (``segment_bank``).
SKATE_MARGIN = 0.02


def _stretch_skate(rot: np.ndarray, root: np.ndarray) -> float:
    """Foot-skate ratio of a stretch of canonical-body frames (``rot (T, 22, 4)``, ``root (T, 3)``)."""
    from ..canonical import canonical_skeleton
    from ..cleanup.feet import foot_skate
    from ..motion import Motion

    return foot_skate(Motion(canonical_skeleton(), rot, root, ModelConfig.fps))


def segment_bank(cfg: TrainConfig, model_cfg: ModelConfig, per_pair: int = 2, frames: int = 120, shortest: int = 40,
                 seed: int = 0) -> dict[str, np.ndarray]:
    """Real motion segments for generation (``lmm_core.model.segments``): for every (action, style) pair of
    the training split, ``per_pair`` segments (each from another clip where there are enough) of up to
    ``frames`` frames; clips shorter than ``shortest`` are left out. Segments are stored one after another
    (``bank_lengths``): float16 rotations and root, bool contacts.

    A clip longer than ``frames`` gives its most active stretch (largest summed joint rotation speed)
    among a few candidates whose feet slide little: a bow or a kick, not the idle frames around it. Of
    the candidates, those whose foot-skate ratio (``cleanup.feet.foot_skate``) is more than
    ``SKATE_MARGIN`` above the cleanest one's are passed over: generated motion is these recordings
    played back, and a take's stretch where the performer shuffled or the capture slid (one of
    ReActIdle's idles: 0.14, against 0.00 for the rest of its take) would slide in every clip made from
    it. The sizes keep the shipped model file under 20 MB."""
    from .. import rotations as R

    rng = np.random.default_rng(seed)
    corpus = load_corpus(cfg, model_cfg)
    skate = _stretch_skate if model_cfg.body is None else (lambda rot, root: 0.0)
    rots, roots, cons, lengths, acts, stys = [], [], [], [], [], []
    pairs: dict[tuple[int, int], list[int]] = {}
    for i in range(len(corpus.lengths)):
        if corpus.lengths[i] >= shortest:
            pairs.setdefault((int(corpus.action[i]), int(corpus.style[i])), []).append(i)
    for (a, s), clips in sorted(pairs.items()):
        for i in rng.choice(clips, size=min(per_pair, len(clips)), replace=False):
            first, n = corpus.starts[i], min(frames, int(corpus.lengths[i]))
            span = corpus.lengths[i] - n + 1
            offsets = np.unique(rng.integers(0, span, size=12).tolist() + [span // 2])
            rot = corpus.rot[first:first + corpus.lengths[i]].astype(np.float64)
            root = corpus.root[first:first + corpus.lengths[i]].astype(np.float64)
            speed = R.angle(R.inv_mul(rot[:-1, 1:], rot[1:, 1:])).sum(axis=1)
            activity = np.array([speed[o:o + n - 1].sum() for o in offsets])
            slide = np.array([skate(rot[o:o + n], root[o:o + n]) for o in offsets])
            activity[slide > slide.min() + SKATE_MARGIN] = -np.inf
            start = first + int(offsets[np.argmax(activity)])
            rots.append(corpus.rot[start:start + n])
            roots.append(corpus.root[start:start + n])
            cons.append(corpus.contacts[start:start + n])
            lengths.append(n)
            acts.append(a)
            stys.append(s)
    return {
        "bank_rotations": np.concatenate(rots).astype(np.float16), "bank_root": np.concatenate(roots).astype(np.float16),
        "bank_contacts": np.concatenate(cons).astype(bool), "bank_lengths": np.array(lengths, dtype=np.int32),
        "bank_action": np.array(acts, dtype=np.int16), "bank_style": np.array(stys, dtype=np.int16),
    }


def export(checkpoint: Path, path: Path, bank: bool = True) -> Path:
    """Write the plain-array weights file the numpy runtime loads (``.npz``, float32), atomically.

    With ``bank``, real motion segments from the training corpus go in too (``segment_bank``, for
    ``generate``; canonical models only).
    """
    state = torch.load(checkpoint, weights_only=False, map_location="cpu")
    if state.get("format") != FORMAT:
        raise LMMError(f"{checkpoint} is not an LMM training checkpoint")
    model_cfg = ModelConfig.from_dict(state["model_config"])
    net = Network(model_cfg)
    net.load_state_dict(state["model"])
    arrays = {f"p.{k}": v for k, v in net.numpy_parameters().items()}
    arrays["mean"] = np.asarray(state["mean"], dtype=np.float64)
    arrays["std"] = np.asarray(state["std"], dtype=np.float64)
    arrays["scale"] = np.asarray(state["scale"], dtype=np.float64)
    if state.get("vel_std") is not None:
        arrays["vel_std"] = np.asarray(state["vel_std"], dtype=np.float64)
    if bank and model_cfg.body is None:
        # Only canonical models generate (the commands that do work through the canonical body); a
        # benchmark model on a rig's own skeleton carries no segments of its data.
        arrays.update(segment_bank(strict_from_dict(TrainConfig, state["train_config"], "train config"), model_cfg))
    meta = {"format": FORMAT, "model_config": state["model_config"], "train_config": state["train_config"], "step": state["step"]}
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    path = Path(path)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp.npz")
    np.savez(tmp, **arrays)
    os.replace(tmp, path)
    return path
