"""``TrainConfig``: every option of a training run, declared once (the field, its default and its help).

``lmm train``'s flags are built from these fields (``add_arguments``) and read back into a config
(``from_arguments``), so a new option is one field here. This module imports no torch: the command line
builds its parser from it without paying for torch. Measurements behind the defaults are in
docs/training.md.
"""
from __future__ import annotations

import argparse
import math
from dataclasses import dataclass, field, fields
from typing import Any

from ..errors import LMMError
from ..model.config import ModelConfig, strict_from_dict
from .data import DEFAULT_MIX, TASKS

DEVICES = ("auto", "cpu", "cuda")


def _opt(default: Any, help: str, low: float | None = None, high: float | None = None, **extra: Any) -> Any:
    """A ``TrainConfig`` field: its default, its ``--flag``'s help, and the accepted range of a number
    (``low``/``high`` inclusive; numbers must also be finite)."""
    return field(default=default, metadata={"help": help, "low": low, "high": high, **extra})


@dataclass(frozen=True)
class TrainConfig:
    """Everything a training run depends on (with ``ModelConfig``). Saved in every checkpoint and read back
    strictly; a resumed run may change only ``RESUMABLE``'s fields."""

    corpus: str = _opt("out/corpus", "built canonical corpus (lmm dataset build)")
    out: str = _opt("out/train", "run folder: checkpoint.pt, config.json, log.jsonl")
    sources: tuple[str, ...] = _opt(("bandai1", "bandai2", "reactidle", "cmu"), "corpus sources to train on")
    bvh: str = _opt("", "train on these BVH files' own 22-joint skeleton (folder, glob or file) instead of the "
                        "canonical corpus, e.g. the LAFAN1 benchmark model; every file trains", metavar="FILES")
    steps: int = _opt(5500, "optimiser steps of the whole run (a resumed run may lengthen it)", 1, 10_000_000)
    batch: int = _opt(24, "windows per step (per process under torchrun)", 1, 4096)
    windows: tuple[int, ...] = _opt((64, 96, 128), "window lengths drawn, frames", 12, ModelConfig.max_frames)
    task_mix: tuple[float, ...] = _opt(DEFAULT_MIX, "weights of in-betweening, completion, generation, intent and "
                                                    "blocking windows (data.task_masks; four numbers: no blocking)", 0, 1e6,
                                       count=(len(TASKS) - 1, len(TASKS)))
    max_gap: int = _opt(60, "longest in-betweening gap drawn, frames", 1, ModelConfig.max_frames - 11)
    protocol_windows: bool = _opt(False, "train only on in-betweening windows posed as the LAFAN1 benchmark poses "
                                         "them (10 context frames, a gap of 1..--max-gap frames, one full key, "
                                         "nothing after it, no labels): for benchmark models")
    lr: float = _opt(4e-4, "peak learning rate (cosine decay after the warm-up; 0 trains nothing)", 0.0, 1.0)
    warmup: int = _opt(150, "steps of learning-rate warm-up", 1, 10_000_000)
    weight_decay: float = _opt(0.01, "AdamW weight decay", 0.0, 10.0)
    dropout: float = _opt(0.0, "share of attention weights and of each layer's residual outputs dropped while "
                               "training (a regulariser for small data such as LAFAN1; inference never drops)", 0.0, 0.9)
    position_weight: float = _opt(10.0, "weight of the joint-position loss (metres)", 0.0, 1e6)
    spread_weight: float = _opt(0.25, "weight of the position loss in units of each joint coordinate's spread "
                                      "over training windows, the way L2P measures (0: off)", 0.0, 1e6)
    rotation_weight: float = _opt(0.0, "weight of a loss on global joint rotations, the way L2Q measures (0: off)",
                                  0.0, 1e6)
    contact_weight: float = _opt(0.1, "weight of the foot-contact loss", 0.0, 1e6)
    skate_weight: float = _opt(0.0, "weight of a foot-skate loss: the made feet's horizontal velocity against the "
                                    "capture's (metres/frame) while the capture's foot is planted (0: off)", 0.0, 1e6)
    intent_weight: float = _opt(0.2, "weight of the action and style recognition loss", 0.0, 1e6)
    mirror: bool = _opt(True, "mirror augmentation (half the windows left-right mirrored)")
    speed_augment: float = _opt(0.0, "pace augmentation: each window played at its own speed, from 1/(1+S) to 1+S "
                                     "times the capture's (0: off)", 0.0, 1.0)
    init_from: str = _opt("", "start from this checkpoint's (or exported .npz model's) weights and statistics "
                              "(a warm start)")
    velocity_inputs: bool = _opt(False, "frame tokens also carry each feature's change from the previous frame "
                                        "(an ablation for the LAFAN1 benchmark; in no shipped model; a warm start "
                                        "from a model without them adds them with zero weights)")
    key_time_inputs: bool = _opt(False, "frame tokens also carry each frame's place between the keys (frames since the "
                                        "last, to the next, the gap's length; window.key_times); a warm start from a "
                                        "model without them adds them with zero weights")
    rel_frames: int = _opt(0, "attention between frames learns a bias per frame offset up to this many frames either "
                              "way (0: off); a warm start from a model without it starts the biases at zero", 0, 1024)
    grow_layers: int = _opt(0, "add this many transformer layers on top of a warm start's, each starting as the "
                               "identity (its output projections zero), so the deeper network first computes what "
                               "the warm start did (needs --init-from)", 0, 64)
    sampling: bool = _opt(False, "train the network to sample (flow matching on its correction, "
                                 "model/sampling.py); a warm start from a model without it adds its inputs with "
                                 "zero weights, so it starts as the regressor it was")
    flow_zero_share: float = _opt(0.25, "share of a sampling model's windows trained at flow time 0 with no "
                                        "guess: its deterministic mode, the regressor", 0.0, 1.0)
    noise_frames: float | None = _opt(None, "time scale in frames of a sampling model's noise (0: white; default: a "
                                            "warm start's own, else ModelConfig's)", 0.0, 100.0)
    flow_scale_frames: float | None = _opt(None, "a sampling model's noise grows with the distance from the nearest "
                                                 "key, one unit per this many frames up to 8 (sampling.distance_scale; "
                                                 "0: off; default: a warm start's own, else 8 for a new sampling model)",
                                           0.0, 1000.0)
    flow_skip: bool = _opt(False, "a sampling model's prediction adds the noisy guess, weighted by the flow time "
                                  "(sampling.skip_weight; ModelConfig.flow_skip); a warm start from such a model keeps it")
    flow_unit: bool = _opt(False, "measure a sampling model's flow unit per feature and key distance on the run's own "
                                  "windows before training (sampling.flow_unit; ModelConfig.flow_unit); a warm start "
                                  "from such a model keeps its table (then leave this out)")
    flow_unit_statistic: str = _opt("rms", "what --flow-unit measures: the corrections' rms, or 1.4826 times their "
                                           "median size (stats.flow_unit_table says when each)", choices=("rms", "median"))
    guess_in_output_units: bool = _opt(False, "a sampling model reads its guess in its output's units "
                                              "(sampling.guess_input; ModelConfig.guess_in_output_units); a warm "
                                              "start from such a model keeps it")
    modes: int = _opt(0, "a mixture of modes (model/modes.py): the network also writes this many whole-window "
                         "answers, each learning the windows it is nearest on, and a choice among them; a draw "
                         "picks one in one pass (0: none; a warm start from a model without them copies its "
                         "answer into each; from a model with them, keeps its count)", 0, 64)
    mode_init: str = _opt("copy", "how a warm start without modes starts them: copies of its average, or fitted "
                                  "on its own frame tokens first (modes_fit.py, a minute or two)", choices=("copy", "fit"))
    mode_lr: float = _opt(0.0, "peak learning rate of the modes' output and choice (0: --lr; loop.param_groups "
                               "says why higher)", 0.0, 1.0)
    push_share: float = _opt(0.0, "share of completion windows whose context is pushed off its course (the "
                                  "pelvis and spine leaning 15-40 degrees) with the frames after it recovering "
                                  "within half a second (data.perturb): training for recovery", 0.0, 1.0)
    gate_frames: float | None = _opt(None, "frames over which the network's correction fades in away from a key "
                                           "(default: a warm start's own, else ModelConfig's); a warm start "
                                           "switches to it", 1e-3, 1e3)
    seed: int = _opt(0, "random seed of the batches and the new weights; a warm start that should not replay "
                        "its first run's batches takes another", 0, 2**63 - 1)
    stats_windows: int = _opt(1500, "training windows measured for the feature statistics", 16, 10_000_000)
    bf16: bool = _opt(False, "run the network's matrix products in bfloat16 (the loss stays float32)")
    threads: int = _opt(0, "torch threads (0: torch's default)", 0, 1024)
    device: str = _opt("auto", "where the network trains: auto (a CUDA GPU when torch sees one), cpu or cuda",
                       choices=DEVICES)
    checkpoint_every: int = _opt(250, "steps between checkpoints", 1, 10_000_000)

    def __post_init__(self) -> None:
        for f in fields(self):
            _check(f, getattr(self, f.name))
        flow = [_flag(k) for k in ("flow_unit", "flow_skip", "guess_in_output_units") if getattr(self, k)]
        if flow and not self.sampling:
            raise LMMError(f"{', '.join(flow)} shape{'s' if len(flow) == 1 else ''} a sampling model's flow: add --sampling")
        if self.modes == 1:
            raise LMMError("--modes 1 is one more average: give 0 (none) or 2 or more modes")
        if self.mode_init == "fit" and not self.init_from:
            raise LMMError("--mode-init fit fits a warm start's modes on its frame tokens: add --init-from MODEL "
                           "(a new model's modes start with it and need no fit)")
        if self.grow_layers and not self.init_from:
            raise LMMError("--grow-layers adds layers to a warm start: add --init-from MODEL (a new model's depth is "
                           "--layers)")
        if self.modes and self.flow_skip:
            raise LMMError("--modes and --flow-skip are two ways to draw; a model has one (leave out --flow-skip)")


# Options that runs before 2026-12-05 saved and no run uses any more (docs/training.md, "Retired options").
RETIRED = ("baseline", "prefetch")


def saved_config(data: dict[str, Any], what: str) -> TrainConfig:
    """The ``TrainConfig`` a checkpoint saved, read strictly, except that retired options are dropped (a
    run that used them at their only remaining value, or not at all, reads as it was)."""
    return strict_from_dict(TrainConfig, {k: v for k, v in data.items() if k not in RETIRED}, what)


# What a resumed run may change: the length of the run and the machine it runs on.
RESUMABLE = ("steps", "threads", "checkpoint_every", "device")

# Network sizes of a new model (``ModelConfig`` fields), flags of ``lmm train`` beside ``TrainConfig``'s.
NEW_MODEL = {"d_model": ("width of the network (a new model only)", 8, 4096),
             "layers": ("transformer layers (a new model only)", 1, 64)}


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _check(f, value: Any) -> None:
    """An ``LMMError`` naming the flag and the accepted range when ``value`` is out of ``f``'s range."""
    low, high = f.metadata.get("low"), f.metadata.get("high")
    if isinstance(value, bool) or value is None:
        return
    if "choices" in f.metadata and value not in f.metadata["choices"]:
        raise LMMError(f"{_flag(f.name)} must be one of {', '.join(f.metadata['choices'])}, got {value!r}")
    values = value if isinstance(value, tuple) else (value,)
    if not all(isinstance(v, (int, float)) for v in values):
        return
    if "count" in f.metadata and len(values) not in f.metadata["count"]:
        raise LMMError(f"{_flag(f.name)} takes {' or '.join(map(str, f.metadata['count']))} numbers, got {len(values)}")
    if isinstance(value, tuple) and values and not any(values):
        raise LMMError(f"{_flag(f.name)} must not be all zero")
    for v in values:
        if not math.isfinite(v) or (low is not None and v < low) or (high is not None and v > high):
            raise LMMError(f"{_flag(f.name)} must be a finite number from {low:g} to {high:g}, got {v!r}")


def _numbers(text: str, flag: str, kind: type) -> tuple:
    """``"0.6,0.4"`` -> ``(0.6, 0.4)``; an ``LMMError`` naming ``flag`` when it is not such a list."""
    try:
        return tuple(kind(v) for v in text.split(","))
    except ValueError:
        raise LMMError(f"{flag} takes comma-separated numbers, got {text!r}") from None


def add_arguments(p: argparse.ArgumentParser) -> None:
    """``lmm train``'s flags: one per ``TrainConfig`` field (and ``NEW_MODEL``), with its help and default."""
    for f in fields(TrainConfig):
        flag, meta, default = _flag(f.name), f.metadata, f.default
        if f.type in ("bool",) or isinstance(default, bool):
            if default:
                p.add_argument(f"--no-{f.name.replace('_', '-')}", dest=f.name, action="store_false",
                               help=f"turn off: {meta['help']}")
            else:
                p.add_argument(flag, action="store_true", help=meta["help"])
        elif f.name == "sources":
            p.add_argument(flag, nargs="*", default=list(default), help=f"{meta['help']} (default: {' '.join(default)})")
        elif isinstance(default, tuple):
            p.add_argument(flag, default=None, metavar="N,...",
                           help=f"{meta['help']} (default {','.join(f'{v:g}' for v in default)})")
        else:
            kind = float if "float" in str(f.type) else int if "int" in str(f.type) else str
            p.add_argument(flag, type=kind, default=default, choices=meta.get("choices"), metavar=meta.get("metavar"),
                           help=meta["help"] + ("" if default in ("", None) else " (default %(default)s)"))
    for name, (text, _, _) in NEW_MODEL.items():
        p.add_argument(_flag(name), type=int, default=getattr(ModelConfig, name), help=f"{text} (default %(default)s)")


def from_arguments(args: argparse.Namespace) -> TrainConfig:
    """The ``TrainConfig`` of parsed ``add_arguments`` flags; out-of-range values raise ``LMMError``."""
    values: dict[str, Any] = {}
    for f in fields(TrainConfig):
        value = getattr(args, f.name)
        if f.name == "sources":
            value = tuple(value)
        elif isinstance(f.default, tuple):
            if value is None:
                continue
            value = _numbers(value, _flag(f.name), float if f.name == "task_mix" else int)
        values[f.name] = value
    return TrainConfig(**values)


def new_model_shape(args: argparse.Namespace) -> dict[str, int]:
    """``ModelConfig`` sizes from the ``NEW_MODEL`` flags, range-checked."""
    shape = {}
    for name, (_, low, high) in NEW_MODEL.items():
        value = getattr(args, name)
        if not low <= value <= high:
            raise LMMError(f"{_flag(name)} must be from {low} to {high}, got {value}")
        shape[name] = value
    if shape["d_model"] % ModelConfig.heads:
        raise LMMError(f"--d-model must be a multiple of the {ModelConfig.heads} attention heads, got {shape['d_model']}")
    return shape
