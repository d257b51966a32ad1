"""Training checkpoints and warm starts (torch).

A checkpoint holds only tensors and plain values (numbers, strings, lists, dicts) and is loaded with
``torch.load(weights_only=True)``: a file handed to ``--resume`` or ``--init-from`` can never run code
(pickle), whatever it holds.
"""
from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from ..errors import LMMError
from ..io.atomic import atomic_path
from ..model import features as Fe
from ..model.config import ModelConfig
from ..model.network import FLOW_INPUTS, INPUT, KEY_TIME
from ..model.runtime import FORMAT, load

# Feature statistics and the position spread: numpy arrays in memory, tensors in the file.
ARRAYS = ("mean", "std", "scale", "vel_std", "position_spread", "flow_unit")
_NUMPY_ARRAYS = [np.core.multiarray._reconstruct, np.ndarray, np.dtype, type(np.dtype(np.float64)),
                 type(np.dtype(np.float32)), np.core.multiarray.scalar]


def save(path: Path, payload: dict) -> None:
    """Write a checkpoint atomically; numpy arrays among ``ARRAYS`` are stored as tensors."""
    payload = {k: torch.as_tensor(v) if k in ARRAYS and v is not None else v for k, v in payload.items()}
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


def read(path: Path) -> dict:
    """A checkpoint written by ``save``, with ``ARRAYS`` back as float64 numpy arrays; an ``LMMError`` naming
    the file when it is not one (a pickle of other objects, a truncated file, another format)."""
    try:
        # Checkpoints before 2026-12-05 stored the statistics as numpy arrays: let the unpickler rebuild
        # plain float arrays too (numpy's array and dtype constructors), and nothing else.
        with torch.serialization.safe_globals(_NUMPY_ARRAYS):
            state = torch.load(path, weights_only=True, map_location="cpu")
    except Exception as exc:  # torch raises UnpicklingError, RuntimeError, EOFError ... for a bad file
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise LMMError(f"{path}: not a readable LMM training checkpoint ({first[:160]}); "
                       "give a checkpoint.pt that lmm train wrote, or an exported .npz model") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise LMMError(f"{path} is not an LMM training checkpoint (format {FORMAT!r})")
    for k in ARRAYS:
        if state.get(k) is not None:
            value = state[k]
            state[k] = np.asarray(value.numpy() if isinstance(value, torch.Tensor) else value, dtype=np.float64)
    return state


def warm_start(path: Path) -> dict:
    """What a warm start takes from a training checkpoint or an exported weights file (``.npz``): the
    model configuration, the network's weights and the feature statistics."""
    if not path.is_file():
        raise LMMError(f"--init-from {path}: no such file; give a checkpoint.pt or an exported .npz model")
    if path.suffix != ".npz":
        return read(path)
    model = load(path)
    return {"model_config": asdict(model.cfg), "mean": model.mean, "std": model.std, "scale": model.scale,
            "vel_std": model.vel_std, "flow_unit": model.flow_unit,
            "model": {f"p.{k}": torch.as_tensor(v) for k, v in model.params.items()}}


# The optional input blocks of a frame token, in ``network.input_size``'s order: (option, width, flag).
_INPUT_BLOCKS = (("velocity_inputs", Fe.FEATURES, "--velocity-inputs"), ("key_time_inputs", KEY_TIME, "--key-time-inputs"),
                 ("sampling", FLOW_INPUTS, "--sampling"))


def check_warm_start(old: ModelConfig, new: ModelConfig) -> None:
    """An ``LMMError`` naming the flag to keep when a network configured ``old`` cannot be continued as ``new``
    (an input block, relative attention or layers it has and ``new`` lacks); the training loop asks before
    it reads any data, so a wrong command stops at once."""
    for name, _, flag in _INPUT_BLOCKS:
        if getattr(old, name) and not getattr(new, name):
            raise LMMError(f"a model trained with {flag} continues only with {flag}")
    if old.rel_frames and new.rel_frames != old.rel_frames:
        raise LMMError(f"the warm start has relative attention over {old.rel_frames} frames: continue it with "
                       f"--rel-frames {old.rel_frames}")
    if new.layers < old.layers:
        raise LMMError(f"the warm start has {old.layers} layers; a model continued from it cannot have {new.layers}")


def fit_inputs(weights: dict, old: ModelConfig, new: ModelConfig) -> dict:
    """A warm start's weights (of a network configured ``old``) for a network configured ``new``: input
    blocks that ``new`` takes and ``old`` did not (velocity inputs, a sampling model's flow inputs) get zero
    input rows at their place in the layout (``network.input_size``), so the network starts out computing
    exactly what it did. A block ``old`` had and ``new`` lacks is an ``LMMError``."""
    check_warm_start(old, new)
    w = weights["p.in_w"]
    parts, at = [w[:INPUT]], INPUT
    for name, size, flag in _INPUT_BLOCKS:
        had, wants = getattr(old, name), getattr(new, name)
        if wants:
            parts.append(w[at:at + size] if had else torch.zeros(size, w.shape[1], dtype=w.dtype))
        at += size if had else 0
    parts.append(w[at:])
    return {**weights, "p.in_w": torch.cat(parts)}


def fit_attention(weights: dict, old: ModelConfig, new: ModelConfig) -> dict:
    """A warm start's weights for a network with relative attention biases (``ModelConfig.rel_frames``):
    a network without them gets zero biases (it computes what it did); one with them keeps its own, and
    must have as many offsets."""
    check_warm_start(old, new)
    if not new.rel_frames or old.rel_frames:
        return weights
    dtype = weights["p.in_w"].dtype
    return {**weights, **{f"p.l{i}_rel_w": torch.zeros(new.heads, 2 * new.rel_frames + 1, dtype=dtype)
                          for i in range(new.layers)}}


def fit_depth(weights: dict, old: ModelConfig, new: ModelConfig, seed: int = 0) -> dict:
    """A warm start's weights for a deeper network (``--grow-layers``): the layers ``old`` lacks go on top,
    each initialised as a new model's layer but with its attention and feed-forward output projections
    (and their biases) zero, so each is the identity on its residual stream and the network computes
    exactly what ``old`` did until training moves them. Fewer layers than ``old`` is an ``LMMError``."""
    check_warm_start(old, new)
    if new.layers == old.layers:
        return weights
    gen = torch.Generator().manual_seed(seed)
    dtype = weights["p.in_w"].dtype
    d, ff = new.d_model, new.d_model * new.ff_mult
    out = dict(weights)
    for i in range(old.layers, new.layers):
        pre = f"p.l{i}_"
        out |= {pre + "ln1_g": torch.ones(d, dtype=dtype), pre + "ln1_b": torch.zeros(d, dtype=dtype),
                pre + "qkv_w": torch.randn(d, 3 * d, generator=gen, dtype=dtype) * 0.02,
                pre + "qkv_b": torch.zeros(3 * d, dtype=dtype),
                pre + "out_w": torch.zeros(d, d, dtype=dtype), pre + "out_b": torch.zeros(d, dtype=dtype),
                pre + "ln2_g": torch.ones(d, dtype=dtype), pre + "ln2_b": torch.zeros(d, dtype=dtype),
                pre + "ff1_w": torch.randn(d, ff, generator=gen, dtype=dtype) * 0.02,
                pre + "ff1_b": torch.zeros(ff, dtype=dtype),
                pre + "ff2_w": torch.zeros(ff, d, dtype=dtype), pre + "ff2_b": torch.zeros(d, dtype=dtype)}
        if new.rel_frames:
            out[pre + "rel_w"] = torch.zeros(new.heads, 2 * new.rel_frames + 1, dtype=dtype)
    return out


def fit_vocabulary(weights: dict, old: ModelConfig, new: ModelConfig) -> dict:
    """A warm start's weights for a model whose label vocabularies extend ``old``'s (new labels appended
    after the old ones, as ``sources.vocabulary_for_warm_start`` makes them): the new labels' embeddings
    start small and random, like a new model's, and their recognition logits far below the others' (a
    bias of -10) and flat, so the old labels' probabilities are what they were until training moves them."""
    out = dict(weights)
    for kind, vocab_old, vocab_new in (("act", old.actions, new.actions), ("sty", old.styles, new.styles)):
        if vocab_new[: len(vocab_old)] != vocab_old:
            raise LMMError(f"the warm start's {kind} labels are not a prefix of the new model's")
        extra = len(vocab_new) - len(vocab_old)
        if not extra:
            continue
        emb, w, b = out[f"p.{kind}_emb"], out[f"p.{kind}_w"], out[f"p.{kind}_b"]
        out[f"p.{kind}_emb"] = torch.cat([emb, torch.randn(extra, emb.shape[1], dtype=emb.dtype) * 0.02])
        out[f"p.{kind}_w"] = torch.cat([w, torch.zeros(w.shape[0], extra, dtype=w.dtype)], dim=1)
        out[f"p.{kind}_b"] = torch.cat([b, torch.full((extra,), -10.0, dtype=b.dtype)])
    return out


def fit_modes(weights: dict, old: ModelConfig, new: ModelConfig, seed: int = 0) -> dict:
    """A warm start's weights for a ``modes`` model (``model/modes.py``): a network without modes gets
    ``new.modes`` copies of its average answer as its modes, each nudged by noise 1% of the answer's
    weights' spread so that the first windows have a nearest mode and the copies part, and an even
    choice among them (zero weights). A network with modes keeps them (their count must agree)."""
    if not new.modes:
        return weights
    if old.modes:
        if old.modes != new.modes:
            raise LMMError(f"the warm start has {old.modes} modes, the new model {new.modes}")
        return weights
    gen = torch.Generator().manual_seed(seed)
    w, b = weights["p.head_w"], weights["p.head_b"]
    noise = torch.randn(w.shape[0], new.modes * w.shape[1], generator=gen, dtype=w.dtype) * (0.01 * float(w.std()))
    return {**weights, "p.mode_w": w.repeat(1, new.modes) + noise, "p.mode_b": b.repeat(new.modes),
            "p.choice_w": torch.zeros(w.shape[0], new.modes, dtype=w.dtype),
            "p.choice_b": torch.zeros(new.modes, dtype=w.dtype)}
