"""Typed model configuration, saved next to every checkpoint and read back strictly."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from typing import Any

from ..errors import LMMError
from .features import BASELINES

# How fast the network's correction fades in away from a key by default (``ModelConfig.gate_frames``).
GATE_FRAMES = 3.0


@dataclass(frozen=True)
class ModelConfig:
    """Shape of the network. ``actions``/``styles`` are the label vocabularies (index 0 = unknown)."""

    d_model: int = 256
    layers: int = 4
    heads: int = 4
    ff_mult: int = 4
    pos_freqs: int = 16
    max_frames: int = 192
    fps: float = 30.0
    actions: tuple[str, ...] = ("<unknown>",)
    styles: tuple[str, ...] = ("<unknown>",)
    # The skeleton the model works on (``body.Body.to_dict``); None: the canonical body.
    body: dict[str, Any] | None = None
    # What the network corrects (``features.BASELINES``): models from before it was a choice corrected
    # plain interpolation, so that stays the default a weights file without the key gets.
    baseline: str = "interpolation"
    # Frame tokens also carry each feature's change from the previous frame (``window.prepare``).
    velocity_inputs: bool = False
    # How fast the network's correction fades in away from a key (``window.prepare``'s gate): the share
    # it takes ``d`` frames from the nearest key of its joint is ``1 - exp(-d / gate_frames)``. Every
    # model before this was a choice used 3 frames, so that stays the default a file without the key gets.
    gate_frames: float = GATE_FRAMES
    # The network samples (``model/sampling.py``): frame tokens also carry a noisy guess of the correction
    # and the flow time ``t``, and the network learns to predict the clean correction from them (flow
    # matching). At ``t = 0`` with no guess it is the deterministic regressor every earlier model was.
    sampling: bool = False
    # The time scale, in frames, of a sampling model's noise (``sampling.noise``; 0: white noise).
    noise_frames: float = 0.0
    # A sampling model's noise grows with each entry's distance from the nearest key of its joint
    # (``sampling.distance_scale``): the correction far from any key is several times the typical
    # in-betweening one (8 times with no key at all), and noise much smaller than what it stands for
    # leaves a draw no room to differ from the average. 0: off (models before 2026-12-05).
    flow_scale_frames: float = 0.0
    # The prediction of the clean correction adds ``sampling.skip_weight(t) * z_t`` to the network's
    # output (a skip from the noisy guess, as EDM's preconditioning has): at t = 0 nothing (the regressor
    # is unchanged), towards t = 1 the guess itself, so a draw follows its noise unless the network says
    # otherwise. Without it, measured on 2026-12-05's models, the network barely read the guess: given 90%
    # of the true correction it predicted it only 20% better than given none, and every draw of a
    # generated wave ended within 3 mm of the others.
    flow_skip: bool = False
    # The flow's unit is measured per feature and key distance on the training windows (the weights file's
    # ``flow_unit``, ``(len(sampling.UNIT_BUCKETS), FEATURES)``; ``sampling.flow_unit``) instead of
    # ``flow_scale_frames``' one curve for every feature. False: every shipped model (the option came on 2026-12-05, after the third cut).
    flow_unit: bool = False
    # The network reads its guess in the units it writes its correction in (``sampling.guess_input``:
    # ``z * unit / gate``) instead of the flow's own units, in which the unit differs between entries by
    # up to three orders of magnitude (a key next to the entry, or a second of walking away from any):
    # in its output's units, returning the guess is the identity. Measured, it did not make the network
    # read its guess (docs/sampling.md, model card runs 7C and 7C2); an option for experiments. False:
    # every shipped model (the option came on 2026-12-05, after the third cut).
    guess_in_output_units: bool = False
    # Mixture of modes (``model/modes.py``): besides its correction (the average, trained as before) the
    # network writes ``modes`` more whole-window answers, each trained only on the windows where it is the
    # nearest to the truth (winner takes all), and a choice among them from the window's summary token. A
    # draw picks one mode in one pass: where the future is uncertain the modes split it (a fast and a slow
    # walk, a step with either foot) instead of averaging it. 0: none (every model before 2026-12-06).
    modes: int = 0
    # Frame tokens also carry where the keys are (``window.key_times``): frames since the last frame whose
    # root is known, frames to the next, and where between the two this frame lies. A transformer told
    # only which frames are known must find the nearest ones through attention; published in-betweening
    # ablations (Qin et al. 2022, SILK 2024) gain most from telling each frame its place in the gap.
    # False: every model before 2026-12-06.
    key_time_inputs: bool = False
    # Attention between frames gets a learned bias per layer and head for each frame offset up to
    # ``rel_frames`` either way (farther offsets share the outermost), added to the dot products: a
    # relative position, which absolute sinusoids make the network compute. 0: off (every model before
    # 2026-12-06). Zero at the start, so a warm start computes what it did.
    rel_frames: int = 0

    def __post_init__(self) -> None:
        if self.baseline not in BASELINES:
            raise LMMError(f"model config: unknown baseline {self.baseline!r}; one of {', '.join(BASELINES)}")
        if not 0 < self.gate_frames < float("inf"):
            raise LMMError(f"model config: gate_frames must be a positive number of frames, got {self.gate_frames!r}")
        if not (isinstance(self.noise_frames, (int, float)) and 0 <= self.noise_frames <= 100):
            raise LMMError(f"model config: noise_frames must be a number of frames from 0 to 100, got {self.noise_frames!r}")
        if isinstance(self.modes, bool) or not (isinstance(self.modes, int) and self.modes in (0, *range(2, 65))):
            raise LMMError(f"model config: modes must be 0 (none) or a whole number from 2 to 64, got {self.modes!r}")
        if isinstance(self.rel_frames, bool) or not (isinstance(self.rel_frames, int) and 0 <= self.rel_frames <= 1024):
            raise LMMError(f"model config: rel_frames must be a whole number of frames from 0 to 1024, got {self.rel_frames!r}")
        if self.modes and self.flow_skip:
            raise LMMError("model config: a model with modes draws by choosing one; it has no flow skip")
        if not (isinstance(self.flow_scale_frames, (int, float)) and 0 <= self.flow_scale_frames <= 1000):
            raise LMMError("model config: flow_scale_frames must be a number of frames from 0 to 1000, "
                           f"got {self.flow_scale_frames!r}")

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    def saved_dict(self) -> dict[str, Any]:
        """The config as a weights file stores it: every field, except the later options (``OPTIONAL``) left
        at their defaults, so that a runtime from before an option still reads a model that does not use it."""
        default = ModelConfig()
        return {k: v for k, v in asdict(self).items() if not (k in OPTIONAL and v == getattr(default, k))}

    @classmethod
    def from_dict(cls, data: dict[str, Any], what: str = "model config") -> "ModelConfig":
        return strict_from_dict(cls, data, what)


# Options that came after the first shipped models. Each one's default is what a file without the key means
# (the comments above say so), so a weights file may leave it out.
OPTIONAL = ("baseline", "velocity_inputs", "gate_frames", "sampling", "noise_frames", "flow_scale_frames",
            "flow_skip", "flow_unit", "guess_in_output_units", "modes", "key_time_inputs", "rel_frames")


def strict_from_dict(cls, data: dict[str, Any], what: str):
    """Build dataclass ``cls`` from ``data``; an unknown key is an error, not a silent default."""
    names = {f.name: f for f in fields(cls)}
    unknown = sorted(set(data) - set(names))
    if unknown:
        raise LMMError(f"{what}: unknown key(s) {', '.join(unknown)}; known keys are {', '.join(names)}")
    kwargs = {}
    for k, v in data.items():
        kwargs[k] = tuple(v) if isinstance(v, list) else v
    return cls(**kwargs)

