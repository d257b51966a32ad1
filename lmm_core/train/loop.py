"""``lmm train``'s loop (torch): device and torchrun set-up, a new run, a resumed run or a warm start,
the optimiser steps, the log and the checkpoints.

Runs in one process or under ``torchrun`` (DistributedDataParallel, gloo on CPU, nccl on GPU). The
typed ``TrainConfig`` and ``ModelConfig`` are saved in every checkpoint and read back strictly.
"""
from __future__ import annotations

import json
import math
import os
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist

from ..errors import LMMError
from ..model.body import Body
from ..model.config import ModelConfig
from ..progress import progress
from . import checkpoint, modes_fit
from .batches import batches
from .config import DEVICES, RESUMABLE, TrainConfig, saved_config
from .losses import losses
from .network import Network
from .sources import default_model_config, gate, load_corpus, vocabulary_for_warm_start
from .stats import feature_stats, flow_unit_table, position_spread, velocity_std


def device_for(name: str) -> torch.device:
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


def _learning_rate(cfg: TrainConfig, step: int) -> float:
    """Linear warm-up over ``cfg.warmup`` steps, then cosine decay to 0 at ``cfg.steps``."""
    return cfg.lr * min(1.0, (step + 1) / cfg.warmup) * 0.5 * (1 + math.cos(math.pi * min(step / cfg.steps, 1.0)))


# A model's modes (``model/modes.py``): their output and choice weights.
MODE_PARAMETERS = ("mode_w", "mode_b", "choice_w", "choice_b")


def param_groups(net: Network, cfg: TrainConfig) -> list[dict]:
    """The optimiser's parameter groups, each with ``lr_scale``, its share of the run's learning rate:
    the modes' heads at ``cfg.mode_lr / cfg.lr`` where ``mode_lr`` is set, everything else at 1.

    Why a learning rate of their own: modes warm-started as copies of the average part only as fast as
    Adam moves their weights, about the learning rate per step, while the corrections they must part by
    are about 0.2 of a unit; at a warm start's 1.5e-4 the nearest of 8 modes was 3% better than the average
    after 1,750 steps (model card, run 9M1)."""
    modes = [p for k, p in net.p.items() if k in MODE_PARAMETERS]
    rest = [p for k, p in net.p.items() if k not in MODE_PARAMETERS]
    scale = cfg.mode_lr / cfg.lr if (cfg.mode_lr and cfg.lr) else 1.0
    return [g for g in ({"params": rest, "lr_scale": 1.0}, {"params": modes, "lr_scale": scale}) if g["params"]]


# Batches of the run's own windows the modes are fitted on (``--mode-init fit``; about 65,000 frames).
MODE_FIT_BATCHES = 40


def _fit_modes(net: Network, cfg: TrainConfig, model_cfg: ModelConfig, corpus, stats, body: Body, unit_table,
               out: Path, show: bool, write: bool = True) -> None:
    """Fit ``net``'s modes on its own frame tokens (``modes_fit``) from a batch stream no training batch
    replays (the trailing 3); the fit's history goes to ``out / "modes_fit.json"`` (with ``write``: rank 0;
    every rank fits the same, and DistributedDataParallel starts from rank 0's weights anyway)."""
    stream = batches(corpus, replace(cfg, steps=MODE_FIT_BATCHES), model_cfg, stats, body, (cfg.seed, 0, 0, 3), 0, unit_table)
    rows = modes_fit.collect(net, progress(stream, total=MODE_FIT_BATCHES, desc="mode fit", unit="batch", enabled=show))
    bar = progress(None, total=8, desc="mode EM", unit="it", enabled=show)  # driven by hand

    def report(h: dict) -> None:
        bar.postfix = f"average's error {h['average']:.4f}, the best mode's {h['best']:.4f}"
        bar.update()

    p = {k: v.detach().cpu().numpy() for k, v in net.p.items() if k in ("head_w", "head_b")}
    mode_w, mode_b, choice_b, history = modes_fit.fit(rows, p["head_w"], p["head_b"], model_cfg.modes,
                                                      np.random.default_rng(cfg.seed), report=report)
    with torch.no_grad():
        net.p["mode_w"].copy_(torch.as_tensor(mode_w))
        net.p["mode_b"].copy_(torch.as_tensor(mode_b))
        net.p["choice_b"].copy_(torch.as_tensor(choice_b))
    bar.close()
    if write:
        (out / "modes_fit.json").write_text(json.dumps(history, indent=1))


def train(cfg: TrainConfig, model_cfg: ModelConfig | None = None, resume: bool = False, show_progress: bool = True) -> Path:
    """Train; returns the path of the final checkpoint. See ``TrainConfig``."""
    device = device_for(cfg.device)  # first: a bad --device is said before any work is done
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
        state = checkpoint.read(ckpt_path)
        cfg_saved = saved_config(state["train_config"], f"{ckpt_path} train config")
        # Resuming may lengthen the run and use another machine; everything else must match.
        if replace(cfg_saved, **{k: getattr(cfg, k) for k in RESUMABLE}) != cfg:
            raise LMMError(f"{ckpt_path} was trained with another configuration; use a new --out or the same options")
        model_cfg = ModelConfig.from_dict(state["model_config"], f"{ckpt_path} model config")
        mean, std, scale, vel_std = state["mean"], state["std"], state["scale"], state.get("vel_std")
        spread = state.get("position_spread")
        unit_table = state.get("flow_unit")
    warm = checkpoint.warm_start(Path(cfg.init_from)) if (state is None and cfg.init_from) else None
    if warm is not None:
        warm_cfg = ModelConfig.from_dict(warm["model_config"], f"{cfg.init_from} model config")
        model_cfg = vocabulary_for_warm_start(cfg, replace(warm_cfg, velocity_inputs=cfg.velocity_inputs,
                                                           key_time_inputs=cfg.key_time_inputs,
                                                           rel_frames=cfg.rel_frames,
                                                           layers=warm_cfg.layers + cfg.grow_layers,
                                                           sampling=cfg.sampling, **gate(cfg, warm_cfg)))
        checkpoint.check_warm_start(warm_cfg, model_cfg)  # before any data is read
    if model_cfg is None:
        model_cfg = default_model_config(cfg)
    if cfg.mode_lr and not model_cfg.modes:
        raise LMMError("--mode-lr sets the learning rate of a model's modes, and this one has none: add --modes M")
    if cfg.mode_init == "fit" and not model_cfg.modes:
        raise LMMError("--mode-init fit fits a model's modes, and this one has none: add --modes M")
    if state is None and cfg.mode_init == "fit" and warm is not None and warm_cfg.modes:
        raise LMMError(f"--init-from {cfg.init_from} already has modes, which the warm start keeps; leave out --mode-init fit")
    body = Body.from_dict(model_cfg.body)
    corpus = load_corpus(cfg, model_cfg)
    # Each process's batch stream, and a resumed run's from where it stopped; as one entropy tuple so that
    # no other seed, rank or step lands on the same stream. The trailing 1 tags it as the batch stream:
    # SeedSequence ignores trailing zeros, so (seed, 0, 0) would replay feature_stats' default_rng(seed).
    rng_seed: tuple[int, ...] = (cfg.seed, rank, 0, 1)
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
    if state is None:
        unit_table = warm.get("flow_unit") if (warm is not None and model_cfg.flow_unit) else None
        if unit_table is not None and cfg.flow_unit:
            raise LMMError(f"--init-from {cfg.init_from} already has a measured flow unit, which the warm start keeps; "
                           "leave out --flow-unit (and --flow-unit-statistic)")
        if model_cfg.sampling and cfg.flow_unit and unit_table is None:
            # Measured on the run's own task mix, from a stream no training batch replays (the trailing 2).
            n = 150
            unit_table = flow_unit_table(progress(
                batches(corpus, replace(cfg, steps=n), model_cfg, (mean, std, scale, vel_std), body, (cfg.seed, 0, 0, 2), 0),
                total=n, desc="flow unit", unit="batch", enabled=show_progress and rank == 0), statistic=cfg.flow_unit_statistic)
            model_cfg = replace(model_cfg, flow_unit=True)
    if not model_cfg.sampling:
        unit_table = None
    net = Network(model_cfg, dropout=cfg.dropout)
    if warm is not None:
        weights = checkpoint.fit_vocabulary(warm["model"], warm_cfg, model_cfg)
        weights = checkpoint.fit_modes(weights, warm_cfg, model_cfg, cfg.seed)
        weights = checkpoint.fit_attention(weights, warm_cfg, model_cfg)
        weights = checkpoint.fit_depth(weights, warm_cfg, model_cfg, cfg.seed)
        net.load_state_dict(checkpoint.fit_inputs(weights, warm_cfg, model_cfg))
        if model_cfg.modes and not warm_cfg.modes and cfg.mode_init == "fit":
            _fit_modes(net, cfg, model_cfg, corpus, (mean, std, scale, vel_std), body, unit_table, out,
                       show_progress and rank == 0, rank == 0)
    net.to(device)
    opt = torch.optim.AdamW(param_groups(net, cfg), lr=cfg.lr, weight_decay=cfg.weight_decay)
    step = 0
    if state is not None:
        net.load_state_dict(state["model"])
        try:
            opt.load_state_dict(state["optimizer"])
        except ValueError as exc:  # a run with modes saved before their heads had a parameter group of their own
            raise LMMError(f"{ckpt_path}: its optimiser state does not fit this version's ({exc}); continue it as a "
                           f"warm start instead: --init-from {ckpt_path} with a new --out") from None
        step = state["step"]
        rng_seed = (cfg.seed, rank, step, 1)
    if world > 1:
        model = torch.nn.parallel.DistributedDataParallel(net, device_ids=[device.index] if device.type == "cuda" else None)
    else:
        model = net
    on = lambda a: torch.as_tensor(np.asarray(a), dtype=torch.float32).to(device)  # noqa: E731
    mean_t, std_t, offsets_t, spread_t = on(mean), on(std), on(body.offsets), on(spread)

    def payload(step: int) -> dict:
        return {
            "format": checkpoint.FORMAT, "step": step, "model": net.state_dict(), "optimizer": opt.state_dict(),
            "train_config": asdict(cfg), "model_config": asdict(model_cfg), "mean": mean, "std": std, "scale": scale,
            "vel_std": vel_std, "position_spread": spread, "flow_unit": unit_table,
        }

    if rank == 0:
        (out / "config.json").write_text(json.dumps({"train": asdict(cfg), "model": asdict(model_cfg)}, indent=1))
    bar = progress(range(step, cfg.steps), total=cfg.steps - step, desc="train", unit="step",
                   enabled=show_progress and rank == 0)
    log = open(out / "log.jsonl", "a") if rank == 0 else None
    t0, ema = time.perf_counter(), None
    stream = batches(corpus, cfg, model_cfg, (mean, std, scale, vel_std), body, rng_seed, step, unit_table)
    for step in bar:
        lr = _learning_rate(cfg, step)
        for g in opt.param_groups:
            g["lr"] = lr * g.get("lr_scale", 1.0)
        prep = next(stream).to(device)
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
            checkpoint.save(ckpt_path, payload(step + 1))
    if log is not None:
        log.close()
    if world > 1:
        dist.barrier()
    return ckpt_path
