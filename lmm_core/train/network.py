"""Torch twin of ``lmm_core.model.network`` (same parameters, same arithmetic), used for training."""
from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from ..model.config import ModelConfig
from ..model.features import FEATURES
from ..model.network import CONTACTS, input_size, relative_index


class Network(nn.Module):
    """Pre-LayerNorm transformer over frames; see ``lmm_core.model.network`` for the token layout."""

    def __init__(self, cfg: ModelConfig, dropout: float = 0.0):
        """``dropout``: the share of attention weights and of each residual branch's output zeroed while
        training (``TrainConfig.dropout``); evaluation and the numpy runtime never drop anything."""
        super().__init__()
        self.cfg = cfg
        self.dropout = float(dropout)
        d, ff = cfg.d_model, cfg.d_model * cfg.ff_mult
        n_in = input_size(cfg)
        P = lambda *shape, std=0.02: nn.Parameter(torch.randn(*shape) * std)  # noqa: E731
        Z = lambda *shape: nn.Parameter(torch.zeros(*shape))  # noqa: E731
        O = lambda *shape: nn.Parameter(torch.ones(*shape))  # noqa: E731
        self.p = nn.ParameterDict()
        self.p["in_w"], self.p["in_b"] = P(n_in, d), Z(d)
        self.p["cls"] = P(d)
        self.p["act_emb"] = P(len(cfg.actions), d)
        self.p["sty_emb"] = P(len(cfg.styles), d)
        for i in range(cfg.layers):
            pre = f"l{i}_"
            self.p[pre + "ln1_g"], self.p[pre + "ln1_b"] = O(d), Z(d)
            self.p[pre + "qkv_w"], self.p[pre + "qkv_b"] = P(d, 3 * d), Z(3 * d)
            self.p[pre + "out_w"], self.p[pre + "out_b"] = P(d, d, std=0.02 / math.sqrt(2 * cfg.layers)), Z(d)
            self.p[pre + "ln2_g"], self.p[pre + "ln2_b"] = O(d), Z(d)
            self.p[pre + "ff1_w"], self.p[pre + "ff1_b"] = P(d, ff), Z(ff)
            self.p[pre + "ff2_w"], self.p[pre + "ff2_b"] = P(ff, d, std=0.02 / math.sqrt(2 * cfg.layers)), Z(d)
            if cfg.rel_frames:  # no preference for any offset at the start
                self.p[pre + "rel_w"] = Z(cfg.heads, 2 * cfg.rel_frames + 1)
        self.p["lnf_g"], self.p["lnf_b"] = O(d), Z(d)
        # The correction head starts at zero: an untrained model returns the interpolation baseline.
        self.p["head_w"], self.p["head_b"] = Z(d, FEATURES + CONTACTS), Z(FEATURES + CONTACTS)
        self.p["act_w"], self.p["act_b"] = P(d, len(cfg.actions)), Z(len(cfg.actions))
        self.p["sty_w"], self.p["sty_b"] = P(d, len(cfg.styles)), Z(len(cfg.styles))
        if cfg.modes:
            # A new model's modes start as its average (zero) and choose evenly; a warm start copies its
            # average into them (``checkpoint.fit_modes``).
            width = cfg.modes * (FEATURES + CONTACTS)
            self.p["mode_w"], self.p["mode_b"] = P(d, width, std=1e-3), Z(width)
            self.p["choice_w"], self.p["choice_b"] = Z(d, cfg.modes), Z(cfg.modes)

    def forward(self, x: torch.Tensor, action: torch.Tensor, style: torch.Tensor):
        """Same contract as ``lmm_core.model.network.forward`` with tensors; a ``modes`` model returns
        ``forward_modes``' five outputs."""
        p, cfg = self.p, self.cfg
        B, T, _ = x.shape
        h = self.trunk(x, action, style)
        out = h[:, 3:] @ p["head_w"] + p["head_b"]
        act, sty = h[:, 0] @ p["act_w"] + p["act_b"], h[:, 0] @ p["sty_w"] + p["sty_b"]
        if not cfg.modes:
            return out, act, sty
        modes = (h[:, 3:] @ p["mode_w"] + p["mode_b"]).reshape(B, T, cfg.modes, -1).transpose(1, 2)
        return out, act, sty, modes, h[:, 0] @ p["choice_w"] + p["choice_b"]

    def trunk(self, x: torch.Tensor, action: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        """The final normalised tokens ``(B, 3 + T, d_model)``, as ``lmm_core.model.network.trunk``."""
        p, cfg = self.p, self.cfg
        B, T, _ = x.shape
        d, H = cfg.d_model, cfg.heads
        frames = x @ p["in_w"] + p["in_b"]
        special = torch.stack([p["cls"].expand(B, d), p["act_emb"][action], p["sty_emb"][style]], dim=1)
        h = torch.cat([special, frames], dim=1)
        n = h.shape[1]
        index = torch.as_tensor(relative_index(T, cfg.rel_frames), device=x.device) if cfg.rel_frames else None
        drop = self.dropout if self.training else 0.0
        branch = (lambda t: nn.functional.dropout(t, drop, training=True)) if drop else (lambda t: t)  # noqa: E731
        for i in range(cfg.layers):
            pre = f"l{i}_"
            a = nn.functional.layer_norm(h, (d,), p[pre + "ln1_g"], p[pre + "ln1_b"], eps=1e-5)
            qkv = (a @ p[pre + "qkv_w"] + p[pre + "qkv_b"]).reshape(B, n, 3, H, d // H)
            q, k, v = (qkv[:, :, j].transpose(1, 2) for j in range(3))
            bias = None
            if index is not None:  # as ``network.relative_bias``: only between frame tokens
                bias = nn.functional.pad(p[pre + "rel_w"][:, index], (3, 0, 3, 0)).to(q.dtype)
            o = nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=bias, dropout_p=drop)
            h = h + branch(o.transpose(1, 2).reshape(B, n, d) @ p[pre + "out_w"] + p[pre + "out_b"])
            a = nn.functional.layer_norm(h, (d,), p[pre + "ln2_g"], p[pre + "ln2_b"], eps=1e-5)
            ff = nn.functional.gelu(a @ p[pre + "ff1_w"] + p[pre + "ff1_b"], approximate="tanh")
            h = h + branch(ff @ p[pre + "ff2_w"] + p[pre + "ff2_b"])
        return nn.functional.layer_norm(h, (d,), p["lnf_g"], p["lnf_b"], eps=1e-5)

    def numpy_parameters(self) -> dict[str, np.ndarray]:
        """Parameters as float32 arrays for ``lmm_core.model.network.forward``."""
        return {k: v.detach().cpu().numpy().astype(np.float32) for k, v in self.p.items()}
