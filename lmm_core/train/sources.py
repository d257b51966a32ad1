"""What a training run trains on: the canonical corpus's train split, or BVH files on their own 22-joint
skeleton (the LAFAN1 benchmark model), and a new model's configuration for that data."""
from __future__ import annotations

import functools
from dataclasses import replace
from pathlib import Path

from ..bench.files import motion_files
from ..bonemap import bone_map_for
from ..dataset import name_labels
from ..errors import LMMError
from ..io import read_bvh
from ..mirror import mirror_label
from ..model.body import Body, body_from_motions
from ..model.config import ModelConfig
from .config import TrainConfig
from .data import Corpus, vocabularies


@functools.lru_cache(maxsize=1)
def bvh_clips(spec: str, fps: float) -> tuple[list[str], list, list[dict[str, str]], dict[str, str]]:
    """The training BVH files named by ``spec`` at ``fps``: take names, motions, labels (from the file
    names, LAFAN1's convention) and the bone map (canonical joint -> rig joint) of their skeleton."""
    paths = motion_files(spec, "training")
    motions = [read_bvh(p) for p in paths]
    motions = [m if m.fps == fps else m.resampled(fps) for m in motions]
    for p, m in zip(paths, motions):
        if m.skeleton.names != motions[0].skeleton.names:
            raise LMMError(f"{p}: its joints differ from {paths[0].name}'s; train on one skeleton at a time")
    joint_map = dict(bone_map_for(motions[0].skeleton).bones)
    return [p.name.split(".")[0] for p in paths], motions, [name_labels(p) for p in paths], joint_map


def default_model_config(cfg: TrainConfig, **shape) -> ModelConfig:
    """A new model's configuration for ``cfg``'s data: label vocabularies and, for ``cfg.bvh``, the body
    measured from those files; ``shape`` overrides network sizes (``d_model``, ``layers`` ...). New models
    correct the Hermite baseline."""
    options = dict(baseline="hermite", velocity_inputs=cfg.velocity_inputs, key_time_inputs=cfg.key_time_inputs,
                   rel_frames=cfg.rel_frames, sampling=cfg.sampling, **gate(cfg), **shape)
    if not cfg.bvh:
        actions, styles = vocabularies(Path(cfg.corpus), cfg.sources)
        return ModelConfig(actions=actions, styles=styles, **options)
    _, motions, _, joint_map = bvh_clips(cfg.bvh, ModelConfig.fps)
    body = body_from_motions(motions, joint_map)
    acts, stys = bvh_vocabularies(cfg.bvh)
    return ModelConfig(actions=("<unknown>",) + acts, styles=("<unknown>",) + stys, body=body.to_dict(), **options)


def bvh_vocabularies(spec: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The actions (with their mirror images) and styles the file names of ``spec``'s BVH files carry
    (``dataset.name_labels``), sorted, without ``<unknown>``; reads no motion."""
    labels = [name_labels(p) for p in motion_files(spec, "training")]
    acts = {lb["action"] for lb in labels} | {mirror_label(lb["action"]) for lb in labels}
    return tuple(sorted(acts)), tuple(sorted({lb["style"] for lb in labels}))


def vocabulary_for_warm_start(cfg: TrainConfig, model_cfg: ModelConfig) -> ModelConfig:
    """``model_cfg`` (a warm start's) with the labels of ``cfg``'s training data that it lacks appended to
    its vocabularies (a new source's actions, say; for BVH files, the labels their names carry)."""
    if cfg.bvh:
        actions, styles = bvh_vocabularies(cfg.bvh)
    else:
        actions, styles = vocabularies(Path(cfg.corpus), cfg.sources)
    more_actions = tuple(a for a in actions if a not in model_cfg.actions)
    more_styles = tuple(s for s in styles if s not in model_cfg.styles)
    return replace(model_cfg, actions=model_cfg.actions + more_actions, styles=model_cfg.styles + more_styles)


# A sampling model's noise time scale when none is asked for (docs/sampling.md: white noise jitters).
NOISE_FRAMES = 3.0
# Frames from a key per unit of a new sampling model's noise (``sampling.distance_scale``): corrections
# 8 frames from a key are about 1.8 typical ones, 64 frames away 8.4 (docs/sampling.md).
FLOW_SCALE_FRAMES = 8.0


def gate(cfg: TrainConfig, base: ModelConfig | None = None) -> dict:
    """``ModelConfig`` keywords for ``cfg.gate_frames``, ``cfg.noise_frames`` and ``cfg.flow_scale_frames`` (a
    warm start keeps ``base``'s where they are None); a model that starts sampling here gets
    ``NOISE_FRAMES`` and ``FLOW_SCALE_FRAMES`` where none is asked for."""
    out = {k: getattr(cfg, k) for k in ("gate_frames", "noise_frames", "flow_scale_frames") if getattr(cfg, k) is not None}
    if cfg.flow_skip:
        out["flow_skip"] = True
    if cfg.guess_in_output_units:
        out["guess_in_output_units"] = True
    if cfg.modes:
        if base is not None and base.flow_skip:
            raise LMMError("the warm start was trained with --flow-skip, which a model with modes cannot have; start "
                           "the modes from a model without it (presets/models/lmm_sampling.npz, say)")
        if base is not None and base.modes and base.modes != cfg.modes:
            raise LMMError(f"the warm start has {base.modes} modes; continue it with --modes {base.modes} or leave --modes out")
        out["modes"] = cfg.modes
    if cfg.sampling and not (base is not None and base.sampling):
        if cfg.noise_frames is None:
            out["noise_frames"] = NOISE_FRAMES
        if cfg.flow_scale_frames is None:
            out["flow_scale_frames"] = FLOW_SCALE_FRAMES
    return out


def load_corpus(cfg: TrainConfig, model_cfg: ModelConfig) -> Corpus:
    """The training clips: the canonical corpus's train split, or ``cfg.bvh`` on the model's own body."""
    if not cfg.bvh:
        return Corpus.from_corpus(Path(cfg.corpus), "train", cfg.sources, model_cfg.actions, model_cfg.styles)
    names, motions, labels, _ = bvh_clips(cfg.bvh, model_cfg.fps)
    body = Body.from_dict(model_cfg.body)
    if body.names != motions[0].skeleton.names:
        raise LMMError(f"{cfg.bvh}: the files' joints are not the model's body's; train a new model on them")
    return Corpus.from_motions(names, motions, labels, body, model_cfg.actions, model_cfg.styles)

