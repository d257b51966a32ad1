"""Training batches: windows drawn from the corpus, posed as a task (masks), turned into the network's
inputs and the loss's targets (numpy, then torch tensors)."""
from __future__ import annotations

import numpy as np
import torch

from .. import rotations as R
from ..kinematics import fk
from ..model import features as Fe
from ..model.body import Body
from ..model.config import ModelConfig
from ..model.sampling import noise as sample_noise
from ..model.sampling import flow_unit as unit_of, guess_input, noisy, skip_weight, with_flow
from ..model.config import GATE_FRAMES
from ..model.window import choose_anchor, key_distance, prepare
from .config import TrainConfig
from .data import Batch, Corpus, perturb, protocol_masks, task_masks


class Prepared:
    """A batch turned into tensors: network inputs, targets and loss masks.

    ``x (B, W, I)`` inputs, ``base``/``target (B, W, F)`` normalised features (the baseline the network
    corrects, and the truth), ``known (B, W, F)``, ``gate (B, W, F)``, ``positions (B, W, J, 3)`` global joint
    positions (metres, anchor frame), ``rotations (B, W, J, 3, 3)`` global joint rotation matrices,
    ``scored (B, W)`` frames the loss counts, ``contacts (B, W, 4)``, labels ``(B,)``.

    ``flow`` (a sampling model's batches: a random generator and the share of windows at ``t = 0`` with no
    guess, the deterministic mode) adds the flow inputs to ``x`` (``model.sampling``): each window a time
    ``t``, and the true correction ``(target - base) / scale`` noised to it on the unknown entries, with
    noise of ``noise_frames``' time scale (``sampling.noise``), in units that grow with the distance from
    the nearest key (``sampling.flow_unit``: the measured table ``flow_unit``, else ``flow_scale_frames``).
    """

    def __init__(self, batch: Batch, known: np.ndarray, hide: np.ndarray, mean: np.ndarray, std: np.ndarray,
                 pos_freqs: int, scale: np.ndarray, body: Body, scored: np.ndarray | None = None,
                 baseline: str = "interpolation", vel_std: np.ndarray | None = None, gate_frames: float = GATE_FRAMES,
                 flow: tuple[np.random.Generator, float] | None = None, noise_frames: float = 0.0,
                 flow_scale_frames: float = 0.0, flow_skip: bool = False, flow_unit: np.ndarray | None = None,
                 guess_in_output_units: bool = False, key_time: bool = False):
        B, W = known.shape[:2]
        J = len(body.names)
        self.skip = torch.zeros(())  # the flow's skip term (``flow_skip``), in ``scale`` units
        xs, bases, knowns, targets, positions, rotations, gates = [], [], [], [], [], [], []
        offsets, parents = np.asarray(body.offsets), np.array(body.parents)
        for b in range(B):
            anchor = choose_anchor(known[b])
            win = prepare(batch.rotations[b], batch.root[b], known[b], mean, std, pos_freqs, anchor, body.forward, baseline,
                          vel_std, gate_frames, key_time)
            # Targets in the same anchor frame; generation from nothing is scored in frame 0's frame.
            ref = anchor if anchor is not None else 0
            yaw, origin = Fe.anchor_transform(batch.rotations[b], batch.root[b], ref, body.forward)
            rot = batch.rotations[b].copy()
            rot[:, 0], pos = Fe.to_anchor(rot, batch.root[b], yaw, origin)
            targets.append((Fe.encode(rot, pos) - mean) / std)
            local = np.broadcast_to(offsets, (W, J, 3)).copy()
            local[:, 0] = pos
            rotations.append(rot)
            positions.append(local)
            xs.append(win.x)
            gates.append(win.gate)
            bases.append(win.base)
            knowns.append(win.known)
        # The targets' global rotations and positions: one forward kinematics pass for the whole batch.
        g_rot, g_pos = fk(np.stack(rotations), np.stack(positions), parents)
        positions, rotations = g_pos, R.to_matrix(g_rot)
        t = lambda a, dt=torch.float32: torch.as_tensor(np.stack(a), dtype=dt)  # noqa: E731
        self.x, self.base, self.known, self.gate = t(xs), t(bases), t(knowns, torch.bool), t(gates)
        self.target, self.positions, self.rotations = t(targets), t(positions), t(rotations)
        if flow is not None:
            rng, zero_share = flow
            unknown = ~np.stack(knowns)
            # The flow's unit by key distance (and feature, where measured: ``sampling.flow_unit``), as the
            # runtime's.
            unit = np.stack([unit_of(key_distance(k)[:, Fe.GROUP_OF_FEATURE], flow_scale_frames, flow_unit) for k in known])
            z1 = (np.stack(targets) - np.stack(bases)) / scale / unit * unknown
            times = np.where(rng.random(B) < zero_share, 0.0, rng.random(B))
            noise = sample_noise(rng, z1.shape, noise_frames) * unknown * (times > 0)[:, None, None]
            z_t = noisy(z1, noise, times)
            guess = guess_input(z_t, unit, np.stack(gates), guess_in_output_units)
            self.x = torch.as_tensor(with_flow(np.stack(xs), guess, times, pos_freqs), dtype=torch.float32)
            if flow_skip:
                # What a ``flow_skip`` model adds to its output before the scale (``sampling.skip_weight``).
                skip = skip_weight(times)[:, None, None] * z_t * unit * unknown
                self.skip = torch.as_tensor(skip, dtype=torch.float32)
        # Frames the loss counts: something to predict, and not excluded by the task (``task_masks``).
        scored = np.ones(known.shape[:2], dtype=bool) if scored is None else scored
        self.scored = torch.as_tensor(~known.all(axis=2) & scored)
        self.contacts = torch.as_tensor(batch.contacts, dtype=torch.float32)
        self.contact_joints = list(body.contacts)  # the joints of ``contacts``' columns
        self.action = torch.as_tensor(np.where(hide, 0, batch.action))
        self.style = torch.as_tensor(np.where(hide, 0, batch.style))
        self.true_action = torch.as_tensor(batch.action)
        self.true_style = torch.as_tensor(batch.style)
        self.hide = torch.as_tensor(hide)
        self.scale = torch.as_tensor(scale, dtype=torch.float32)

    def to(self, device: torch.device) -> "Prepared":
        """The same batch with every tensor on ``device``."""
        for name, value in vars(self).items():
            if isinstance(value, torch.Tensor):
                setattr(self, name, value.to(device, non_blocking=True))
        return self


def batches(corpus: Corpus, cfg: TrainConfig, model_cfg: ModelConfig, stats: tuple, body: Body,
            rng_seed: int | tuple[int, ...], start: int, flow_unit: np.ndarray | None = None):
    """The prepared batches of steps ``start .. cfg.steps - 1``, drawn from ``rng_seed``'s generator in
    order (window length, clips, task masks). ``stats`` is ``(mean, std, scale, vel_std)``; ``flow_unit``
    a sampling model's measured unit table (``sampling.flow_unit``)."""
    mean, std, scale, vel_std = stats
    rng = np.random.default_rng(rng_seed)
    for _ in range(start, cfg.steps):
        if cfg.protocol_windows:
            window = 11 + int(rng.integers(1, cfg.max_gap + 1))
            batch = corpus.sample(rng, cfg.batch, window, cfg.mirror, cfg.speed_augment)
            known, hide, scored = protocol_masks(cfg.batch, window)
        else:
            window = int(rng.choice(cfg.windows))
            batch = corpus.sample(rng, cfg.batch, window, cfg.mirror, cfg.speed_augment)
            known, hide, scored = task_masks(rng, cfg.batch, window, cfg.task_mix, cfg.max_gap)
            if cfg.push_share > 0:
                perturb(rng, batch, known, cfg.push_share, hide)
        # A model with modes draws by choosing a mode, not by the flow: every window at t = 0, no guess.
        flow = (rng, 1.0 if model_cfg.modes else cfg.flow_zero_share) if model_cfg.sampling else None
        yield Prepared(batch, known, hide, mean, std, model_cfg.pos_freqs, scale, body, scored, model_cfg.baseline,
                       vel_std, model_cfg.gate_frames, flow, model_cfg.noise_frames, model_cfg.flow_scale_frames,
                       model_cfg.flow_skip, flow_unit, model_cfg.guess_in_output_units, model_cfg.key_time_inputs)
