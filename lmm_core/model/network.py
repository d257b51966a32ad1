"""The network's forward pass in numpy: a pre-LayerNorm transformer over frames.

Tokens: ``[CLS, ACTION, STYLE, frame_0 .. frame_{T-1}]``. A frame token is a linear map of
``[normalised baseline features (F), known flags (22), baseline-present flags (22), (with
``velocity_inputs``) each feature's change from the previous frame (F), (with ``key_time_inputs``) the
frame's place between the keys (``KEY_TIME``, ``window.key_times``), (with ``sampling``) the flow's
noisy correction (F) and its time t (1), sinusoidal frame position (2 * pos_freqs)]``. The frame outputs are a correction to the baseline (``F``) and foot
contact logits (4); with ``rel_frames`` attention between frames adds a learned bias per layer, head and
frame offset (``rel_w``, ``relative_bias``). The CLS output gives action and style logits (intent). A model with ``modes``
(``ModelConfig.modes``, M) also writes M more frame outputs of the same kind (``mode_w``), one per mode,
and from the CLS output the logits of the choice among them (``choice_w``); see ``model/modes.py``.

``lmm_core.train.network`` is the torch twin with the same parameter names; ``tests/test_model.py``
keeps the two within 1e-4.
"""
from __future__ import annotations

import numpy as np

from .config import ModelConfig
from .features import FEATURES, NUM_GROUPS

CONTACTS = 4
INPUT = FEATURES + 2 * NUM_GROUPS  # before velocities, key times, flow inputs and positions
FLOW_INPUTS = FEATURES + 1  # a sampling model's noisy correction and flow time
KEY_TIME = 8  # ``window.key_times``' numbers per frame


def input_size(cfg: ModelConfig) -> int:
    """Numbers per frame token fed to the network (``Window.x``'s width) for ``cfg``."""
    return (INPUT + (FEATURES if cfg.velocity_inputs else 0) + (KEY_TIME if cfg.key_time_inputs else 0)
            + (FLOW_INPUTS if cfg.sampling else 0) + 2 * cfg.pos_freqs)


def relative_index(t: int, frames: int) -> np.ndarray:
    """``(t, t)`` int: the column of ``rel_w`` for each pair of frames (query i, key j), the offset ``j - i``
    clipped to ``-frames .. frames`` and shifted to ``0 .. 2 * frames``."""
    off = np.arange(t)[None, :] - np.arange(t)[:, None]
    return np.clip(off, -frames, frames) + frames


def relative_bias(rel_w: np.ndarray, t: int, frames: int) -> np.ndarray:
    """``(H, 3 + t, 3 + t)`` attention bias from one layer's ``rel_w (H, 2 * frames + 1)``: the learned bias
    between frame tokens, zero wherever the CLS, ACTION or STYLE token takes part."""
    bias = np.zeros((rel_w.shape[0], 3 + t, 3 + t), dtype=np.float32)
    bias[:, 3:, 3:] = rel_w[:, relative_index(t, frames)]
    return bias


def positional(t: int, freqs: int) -> np.ndarray:
    """``(t, 2 * freqs)`` sin/cos of frame indices, periods from 2 to about 1000 frames."""
    periods = 2.0 * (500.0 ** (np.arange(freqs) / max(freqs - 1, 1)))
    ang = 2 * np.pi * np.arange(t)[:, None] / periods[None]
    return np.concatenate([np.sin(ang), np.cos(ang)], axis=1)


def gelu(x: np.ndarray) -> np.ndarray:
    """GELU, tanh form (the same in torch with ``approximate='tanh'``)."""
    return 0.5 * x * (1.0 + np.tanh(0.7978845608028654 * (x + 0.044715 * x * x * x)))


def layer_norm(x: np.ndarray, g: np.ndarray, b: np.ndarray, eps: float = 1e-5) -> np.ndarray:
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * g + b


def forward(p: dict[str, np.ndarray], cfg: ModelConfig, x: np.ndarray, action: np.ndarray, style: np.ndarray):
    """Run the network (a model with modes: the average only; ``forward_modes`` gives them all).

    Args:
        p: parameters (float32 arrays, names as in the torch twin).
        x: ``(B, T, input_size(cfg))`` frame inputs (see module docstring).
        action, style: ``(B,)`` label indices (0 = unknown).

    Returns:
        ``(frame_out (B, T, F + 4), action_logits (B, A), style_logits (B, S))``.
    """
    h = trunk(p, cfg, x, action, style)
    out = h[:, 3:] @ p["head_w"] + p["head_b"]
    return out, h[:, 0] @ p["act_w"] + p["act_b"], h[:, 0] @ p["sty_w"] + p["sty_b"]


def forward_modes(p: dict[str, np.ndarray], cfg: ModelConfig, x: np.ndarray, action: np.ndarray, style: np.ndarray):
    """``forward``'s outputs and a ``modes`` model's: ``(frame_out, action_logits, style_logits, mode_out
    (B, M, T, F + 4), choice_logits (B, M))``, ``M = cfg.modes``."""
    h = trunk(p, cfg, x, action, style)
    out = h[:, 3:] @ p["head_w"] + p["head_b"]
    B, T, M = h.shape[0], h.shape[1] - 3, cfg.modes
    modes = (h[:, 3:] @ p["mode_w"] + p["mode_b"]).reshape(B, T, M, -1).transpose(0, 2, 1, 3)
    return (out, h[:, 0] @ p["act_w"] + p["act_b"], h[:, 0] @ p["sty_w"] + p["sty_b"], modes,
            h[:, 0] @ p["choice_w"] + p["choice_b"])


def trunk(p: dict[str, np.ndarray], cfg: ModelConfig, x: np.ndarray, action: np.ndarray, style: np.ndarray) -> np.ndarray:
    """The transformer's final normalised tokens ``(B, 3 + T, d_model)`` (CLS, ACTION, STYLE, frames)."""
    B, T, _ = x.shape
    d, H = cfg.d_model, cfg.heads
    frames = x @ p["in_w"] + p["in_b"]
    special = np.stack([np.broadcast_to(p["cls"], (B, d)), p["act_emb"][action], p["sty_emb"][style]], axis=1)
    h = np.concatenate([special, frames], axis=1).astype(np.float32)
    n = h.shape[1]
    for i in range(cfg.layers):
        pre = f"l{i}_"
        a = layer_norm(h, p[pre + "ln1_g"], p[pre + "ln1_b"])
        qkv = (a @ p[pre + "qkv_w"] + p[pre + "qkv_b"]).reshape(B, n, 3, H, d // H)
        q, k, v = qkv[:, :, 0].transpose(0, 2, 1, 3), qkv[:, :, 1].transpose(0, 2, 1, 3), qkv[:, :, 2].transpose(0, 2, 1, 3)
        s = q @ k.transpose(0, 1, 3, 2) / np.sqrt(d // H)
        if cfg.rel_frames:
            s = s + relative_bias(p[pre + "rel_w"], T, cfg.rel_frames)
        s = np.exp(s - s.max(-1, keepdims=True))
        s /= s.sum(-1, keepdims=True)
        o = (s @ v).transpose(0, 2, 1, 3).reshape(B, n, d)
        h = h + o @ p[pre + "out_w"] + p[pre + "out_b"]
        a = layer_norm(h, p[pre + "ln2_g"], p[pre + "ln2_b"])
        h = h + gelu(a @ p[pre + "ff1_w"] + p[pre + "ff1_b"]) @ p[pre + "ff2_w"] + p[pre + "ff2_b"]
    return layer_norm(h, p["lnf_g"], p["lnf_b"])
