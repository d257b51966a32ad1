"""The training losses of one batch (torch): features, joint positions (metres, and in units of their
spread as L2P measures), global rotations (as L2Q measures), foot contacts and intent."""
from __future__ import annotations

import numpy as np
import torch

from ..model import features as Fe
from . import rotations_torch as RT
from .batches import Prepared
from .config import TrainConfig


def global_pose(feats: torch.Tensor, offsets: torch.Tensor, parents) -> tuple[torch.Tensor, torch.Tensor]:
    """Global joint positions ``(B, W, J, 3)`` and rotation matrices ``(B, W, J, 3, 3)`` from denormalised
    features ``(B, W, F)`` (anchor frame): the root position, then each joint's 6D rotation."""
    B, W, _ = feats.shape
    J = offsets.shape[0]
    d6 = torch.cat([feats[..., 3:9].unsqueeze(2), feats[..., 9:].reshape(B, W, J - 1, 6)], dim=2)
    local_pos = torch.cat([feats[..., None, :3], offsets[1:].expand(B, W, J - 1, 3)], dim=2)
    g_rot, g_pos = RT.fk(RT.matrix_from_6d(d6), local_pos, parents)
    return g_pos, g_rot


def per_item_mean(err: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Mean of ``err`` over each item's weighted entries, then over the items that have any.

    Every window counts the same whatever the length of its gap: pooled over all entries, long gaps
    (many unknown frames) would drown short ones, and a 5-frame in-between would learn little."""
    dims = tuple(range(1, err.dim()))
    w = weight.expand_as(err)
    total, count = (err * w).sum(dims), w.sum(dims)
    has = count > 0
    return (total[has] / count[has]).sum() / has.sum().clamp_min(1)


# Relaxed winner-takes-all (Rupprecht et al. 2017): the modes' feature errors, averaged over the modes, are
# added at this weight, so a mode that is not the winner still learns ``RELAX / M`` as much as the winner
# learns from its feature loss (1/160 with 8 modes): without it a mode that never wins is never moved.
RELAX = 0.05
# The weight of the choice among modes (cross-entropy against the nearest; ~log(M) untrained).
CHOICE_WEIGHT = 0.1
# The most windows of a batch one mode may learn from, as a multiple of an even share (``assign``).
CAPACITY = 2.0


def assign(err: torch.Tensor, capacity: float = CAPACITY) -> torch.Tensor:
    """Which mode learns each window: ``err (B, M)`` (each mode's error on each window) -> ``(B,)`` mode
    indices. The nearest mode, except that no mode takes more than ``capacity`` times an even share of the
    batch (``ceil(capacity * B / M)``): pairs are taken from the smallest error up, and a window whose
    nearest modes are full goes to its nearest one with room.

    Why: with the nearest mode alone (plain winner-takes-all), the mode that first drifts nearest the
    average is nearest on most windows, learns from most, and stays nearest: measured (model card, run 9)
    with the modes' learning rate at 1.5e-3, within 200 steps one mode took nearly every window (the
    choice's cross-entropy 0.3-0.5 nats of 2.08) and the others stopped learning. Capped, every mode keeps
    learning from the windows it is relatively nearest on, so the modes part instead of one winning."""
    B, M = err.shape
    cap = int(np.ceil(capacity * B / M))
    out = torch.full((B,), -1, dtype=torch.long)
    counts = [0] * M
    for flat in torch.argsort(err.detach().flatten().cpu()).tolist():
        b, k = divmod(flat, M)
        if out[b] < 0 and counts[k] < cap:
            out[b] = k
            counts[k] += 1
    return out.to(err.device)


def answer_losses(out: torch.Tensor, prep: Prepared, mean_t, std_t, offsets_t, parents, cfg: TrainConfig,
                  spread_t: torch.Tensor | None) -> dict[str, torch.Tensor]:
    """The losses of one answer ``out (B, W, F + 4)`` (a correction and contact logits, float32): features,
    joint positions, their spread-normalised norm, global rotations and contacts (unweighted)."""
    pred = torch.where(prep.known, prep.base, prep.base + (out[..., : Fe.FEATURES] * prep.gate + prep.skip) * prep.scale)
    feat = per_item_mean((pred - prep.target).abs(), (~prep.known).float() * prep.scored.float()[..., None])
    pos, g_rot = global_pose(pred * std_t + mean_t, offsets_t, parents)
    pos_l = per_item_mean((pos - prep.positions).abs(), prep.scored.float()[..., None, None])
    if cfg.spread_weight:
        # Per frame, the L2 norm over every joint coordinate in units of its spread (L2P's measure).
        norm = (((pos - prep.positions) / spread_t) ** 2).sum(dim=(2, 3)).add(1e-8).sqrt()
        spread = per_item_mean(norm, prep.scored.float())
    else:
        spread = pos_l * 0.0
    if cfg.rotation_weight:
        # Per frame, the L2 norm over joints of global quaternion differences (L2Q's measure), through
        # matrices, which have no sign to pick: for an angle t between two rotations |R1 - R2|_F^2 / 8 =
        # sin^2(t/2), and |q1 - q2|^2 = 4 sin^2(t/4) is within 7% of it up to t = 60 degrees.
        diff = ((g_rot - prep.rotations) ** 2).sum(dim=(2, 3, 4))
        rot_l = per_item_mean((diff / 8.0).add(1e-8).sqrt(), prep.scored.float())
    else:
        rot_l = pos_l * 0.0
    contact = torch.nn.functional.binary_cross_entropy_with_logits(out[..., Fe.FEATURES:], prep.contacts)
    skate = _skate(pos, prep) if cfg.skate_weight else pos_l * 0.0
    return {"feat": feat, "pos_m": pos_l, "pos_spread": spread, "rot_global": rot_l, "contact": contact,
            "skate": skate}


def _skate(pos: torch.Tensor, prep: Prepared) -> torch.Tensor:
    """Foot skate as a loss: on every step ``t - 1 -> t`` where the capture's foot joint is planted on both
    frames (the corpus's contacts) and either frame is made, the distance (metres) between the made
    foot's horizontal step and the capture's. The position loss alone lets an average of possible steps
    glide: a foot a centimetre off where it stands costs as much as one drifting a centimetre a frame,
    and only the second slides."""
    j = prep.contact_joints
    step = pos[:, 1:, j][..., [0, 2]] - pos[:, :-1, j][..., [0, 2]]  # (B, W - 1, 4, 2), y is up
    true = prep.positions[:, 1:, j][..., [0, 2]] - prep.positions[:, :-1, j][..., [0, 2]]
    made = (prep.scored[:, 1:] | prep.scored[:, :-1]).float()[..., None]
    planted = prep.contacts[:, 1:] * prep.contacts[:, :-1] * made  # (B, W - 1, 4)
    return per_item_mean((step - true).square().sum(-1).add(1e-10).sqrt(), planted)


def _weighted(parts: dict[str, torch.Tensor], cfg: TrainConfig) -> torch.Tensor:
    return (parts["feat"] + cfg.position_weight * parts["pos_m"] + cfg.spread_weight * parts["pos_spread"]
            + cfg.rotation_weight * parts["rot_global"] + cfg.contact_weight * parts["contact"]
            + cfg.skate_weight * parts["skate"])


def mode_losses(modes: torch.Tensor, choice: torch.Tensor, prep: Prepared, mean_t, std_t, offsets_t, parents,
                cfg: TrainConfig, spread_t: torch.Tensor | None) -> dict[str, torch.Tensor]:
    """A ``modes`` model's losses (``model/modes.py``) from its answers ``modes (B, M, W, F + 4)`` and choice
    logits ``choice (B, M)``. A mode's error on a window is the mean absolute normalised feature error of
    its made entries; each window's winner (``assign``: the nearest mode with room) gets every loss the
    average gets, every mode ``RELAX / M`` times its feature error, and the choice learns to name the nearest
    mode. Windows with nothing to make (intent windows) count for none of it."""
    made = ((~prep.known) & prep.scored[..., None]).float()[:, None]  # (B, 1, W, F)
    pred = prep.base[:, None] + (modes[..., : Fe.FEATURES] * prep.gate[:, None] + prep.skip) * prep.scale
    err = ((pred - prep.target[:, None]).abs() * made).sum(dim=(2, 3)) / made.sum(dim=(2, 3)).clamp_min(1.0)  # (B, M)
    has = made.sum(dim=(1, 2, 3)) > 0
    nearest = err.detach().argmin(dim=1)
    winner = nearest.clone()
    if has.any():
        winner[has] = assign(err[has])
    chosen = modes[torch.arange(len(winner), device=modes.device), winner]
    parts = answer_losses(chosen, prep, mean_t, std_t, offsets_t, parents, cfg, spread_t)
    if has.any():
        relax = err[has].mean()
        pick = torch.nn.functional.cross_entropy(choice[has], nearest[has])
    else:
        relax = pick = choice.sum() * 0.0
    total = _weighted(parts, cfg) + RELAX * relax + CHOICE_WEIGHT * pick
    return {"modes": total, "mode_feat": parts["feat"], "mode_pos_m": parts["pos_m"], "choice": pick}


def losses(net, prep: Prepared, mean_t, std_t, offsets_t, parents, cfg: TrainConfig,
           spread_t: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """The training losses of one batch; ``spread_t (J, 3)`` (``stats.position_spread``) is needed when
    ``cfg.spread_weight`` is not 0. A ``modes`` model adds ``mode_losses``' to the average's."""
    device = "cuda" if prep.x.is_cuda else "cpu"
    with torch.autocast(device, dtype=torch.bfloat16, enabled=cfg.bf16):
        outs = net(prep.x, prep.action, prep.style)
    # Everything below in float32: joint positions come from chains of rotations, which bfloat16's
    # 8 bits of mantissa would blur by millimetres.
    out, act_logits, sty_logits = (o.float() for o in outs[:3])
    parts = answer_losses(out, prep, mean_t, std_t, offsets_t, parents, cfg, spread_t)
    h = prep.hide
    if h.any():
        intent = torch.nn.functional.cross_entropy(act_logits[h], prep.true_action[h]) + \
            torch.nn.functional.cross_entropy(sty_logits[h], prep.true_style[h])
    else:
        intent = (act_logits.sum() + sty_logits.sum()) * 0.0  # keeps every parameter in the graph (DDP)
    total = _weighted(parts, cfg) + cfg.intent_weight * intent
    if len(outs) == 5:
        extra = mode_losses(outs[3].float(), outs[4].float(), prep, mean_t, std_t, offsets_t, parents, cfg, spread_t)
        total = total + extra["modes"]
        parts |= extra
    return {"loss": total, **parts, "intent": intent}
