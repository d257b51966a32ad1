"""Exporting a trained network as the plain-array weights file the numpy runtime loads, with the
generation bank of recorded segments (torch to read the checkpoint, numpy to write)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .. import rotations as R
from ..canonical import canonical_skeleton
from ..feet import foot_skate
from ..io.atomic import atomic_path
from ..model.config import ModelConfig
from ..motion import Motion
from . import checkpoint
from .config import TrainConfig, saved_config
from .network import Network
from .sources import load_corpus

# How much more of its ground-contact frames a bank stretch may slide on than its take's cleanest
# candidate stretch (``segment_bank``).
SKATE_MARGIN = 0.02


def _stretch_skate(rot: np.ndarray, root: np.ndarray) -> float:
    """Foot-skate ratio of a stretch of canonical-body frames (``rot (T, 22, 4)``, ``root (T, 3)``)."""
    return foot_skate(Motion(canonical_skeleton(), rot, root, ModelConfig.fps))


def segment_bank(cfg: TrainConfig, model_cfg: ModelConfig, per_pair: int = 2, frames: int = 120, shortest: int = 40,
                 seed: int = 0) -> dict[str, np.ndarray]:
    """Real motion segments for generation (``lmm_core.model.segments``): for every (action, style) pair of
    the training split, ``per_pair`` segments (each from another clip where there are enough) of up to
    ``frames`` frames; clips shorter than ``shortest`` are left out. Segments are stored one after another
    (``bank_lengths``): float16 rotations and root, bool contacts.

    A clip longer than ``frames`` gives its most active stretch (largest summed joint rotation speed)
    among a few candidates whose feet slide little: a bow or a kick, not the idle frames around it. Of
    the candidates, those whose foot-skate ratio (``feet.foot_skate``) is more than
    ``SKATE_MARGIN`` above the cleanest one's are passed over: generated motion is these recordings
    played back, and a take's stretch where the performer shuffled or the capture slid (one of
    ReActIdle's idles: 0.14, against 0.00 for the rest of its take) would slide in every clip made from
    it. The sizes keep the shipped model file under 20 MB."""
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


def export(checkpoint_path: Path, path: Path, bank: bool = True) -> Path:
    """Write the plain-array weights file the numpy runtime loads (``.npz``, float32), atomically.

    With ``bank``, real motion segments from the training corpus go in too (``segment_bank``, for
    ``generate``; canonical models only).
    """
    state = checkpoint.read(Path(checkpoint_path))
    model_cfg = ModelConfig.from_dict(state["model_config"])
    net = Network(model_cfg)
    net.load_state_dict(state["model"])
    arrays = {f"p.{k}": v for k, v in net.numpy_parameters().items()}
    arrays["mean"] = np.asarray(state["mean"], dtype=np.float64)
    arrays["std"] = np.asarray(state["std"], dtype=np.float64)
    arrays["scale"] = np.asarray(state["scale"], dtype=np.float64)
    if state.get("vel_std") is not None:
        arrays["vel_std"] = np.asarray(state["vel_std"], dtype=np.float64)
    if state.get("flow_unit") is not None:
        arrays["flow_unit"] = np.asarray(state["flow_unit"], dtype=np.float64)
    if bank and model_cfg.body is None:
        # Only canonical models generate (the commands that do work through the canonical body); a
        # benchmark model on a rig's own skeleton carries no segments of its data.
        arrays.update(segment_bank(saved_config(state["train_config"], "train config"), model_cfg))
    meta = {"format": checkpoint.FORMAT, "model_config": model_cfg.saved_dict(), "train_config": state["train_config"], "step": state["step"]}
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    path = Path(path)
    with atomic_path(path) as tmp, open(tmp, "wb") as f:  # a file object: np.savez adds no ".npz" to it
        np.savez(f, **arrays)
    return path
