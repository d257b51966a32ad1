"""Recovery: a character pushed off its course mid-clip, and what the model makes after the push.

Each window of a held-out take keeps ``CONTEXT`` frames whose last 5 lean ``degrees`` over (the pelvis
and spine turned about a horizontal axis, ``train.data.push``: a shove, or a key that is off), and the
model completes ``FOLLOW`` frames from it. Scored per frame after the push, against the capture's own
continuation of the unpushed take:

- ``lean_error``: how far the torso's up axis (the third spine joint's) is from the capture's, degrees.
  The capture's continuation is one plausible future; the model's completion of the same *unpushed*
  context (``unpushed``) shows how far any plausible future lies from it, the floor of the measure.
- ``held``: the pushed pose kept still (what no recovery looks like).

Recovered within half a second: ``lean_error`` 15 frames after the push no more than ``unpushed``'s plus a
few degrees. Methods: the model deterministic, and a sampling model's seeded draw.
"""
from __future__ import annotations

import numpy as np

from .. import rotations as R
from ..model.runtime import Model, Sample
from ..train.data import push, push_weights
from .blocking import windows

CONTEXT = 30
FOLLOW = 45
_SPINE3, _CHAIN = 9, (0, 3, 6, 9)
_UP = np.array([0.0, 1.0, 0.0])


def torso_up(rotations: np.ndarray) -> np.ndarray:
    """``(T, 3)`` the torso's up axis in the world (the third spine joint's local +Y) from canonical local
    rotations ``(T, 22, 4)``."""
    g = rotations[:, _CHAIN[0]]
    for j in _CHAIN[1:]:
        g = R.mul(g, rotations[:, j])
    return R.mul_vec(g, np.broadcast_to(_UP, g.shape[:-1] + (3,)))


def angle_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Degrees between unit vectors ``(..., 3)``."""
    return np.degrees(np.arccos(np.clip(np.sum(a * b, axis=-1), -1.0, 1.0)))


def pushed(rotations: np.ndarray, degrees: float, heading: float) -> np.ndarray:
    """The context ``(T, 22, 4)`` with its last 5 frames leaning ``degrees`` about the horizontal axis at
    ``heading`` (radians, pelvis frame), whole at the last frame."""
    axis = np.array([np.cos(heading), 0.0, np.sin(heading)])
    w = push_weights(len(rotations), len(rotations) - 1, 10**6)
    return push(rotations, axis, degrees, w)


class NextFrameCompleter:
    """The next-frame generator behind ``Model.complete``'s interface (what ``run_recovery`` calls): it carries
    the context on from its last frames (``NextFrameModel.generate``); ``sample`` is ``None`` for the draw at
    the latent's mean, else a ``Sample`` whose random stream seeds the draw and whose temperature is its
    variation."""

    samples = True

    def __init__(self, nf):
        self.nf = nf

    def complete(self, rotations: np.ndarray, root: np.ndarray, frames: int, sample: Sample | None = None):
        seed, amount = (0, 0.0) if sample is None else (int(sample.rng.integers(2**31)), sample.temperature)
        r, p, c = self.nf.generate(frames, seed=seed, variation=amount, start=(rotations, root))
        return np.concatenate([rotations, r]), np.concatenate([root, p]), c  # contacts of the new frames, as there


def run_recovery(clips: list, model: Model, degrees: tuple[float, ...] = (20.0, 35.0), count: int = 40,
                 variation: float = 1.0) -> dict:
    """``{degrees: {method: lean_error (FOLLOW,) mean over windows}}`` for methods ``held``, ``model``,
    ``unpushed`` and (a sampling model) ``sampled``; see the module docstring. ``clips`` are
    ``(name, rotations (T, 22, 4), root (T, 3))`` on the canonical body at 30 fps."""
    wins = windows(clips, CONTEXT + FOLLOW, count, seed=1)
    rng = np.random.default_rng(0)
    headings = rng.uniform(0, 2 * np.pi, len(wins))
    out: dict = {}
    for deg in degrees:
        curves: dict[str, list] = {"held": [], "unpushed": [], "model": []}
        if model.samples and variation > 0:
            curves["sampled"] = []
        for i, (rot, root) in enumerate(wins):
            truth = torso_up(rot[CONTEXT:])
            ctx_rot, ctx_root = rot[:CONTEXT], root[:CONTEXT]
            bent = pushed(ctx_rot, deg, headings[i])
            curves["held"].append(angle_between(np.broadcast_to(torso_up(bent[-1:]), truth.shape), truth))
            runs = {"unpushed": (ctx_rot, None), "model": (bent, None)}
            if "sampled" in curves:
                runs["sampled"] = (bent, Sample.seeded(i, temperature=variation))
            for name, (context, sample) in runs.items():
                r, _, _ = model.complete(context, ctx_root, FOLLOW, sample=sample)
                curves[name].append(angle_between(torso_up(r[CONTEXT:]), truth))
        out[deg] = {name: np.mean(c, axis=0) for name, c in curves.items()}
    return out


def format_recovery(results: dict, at: tuple[int, ...] = (1, 5, 10, 15, 30, 45)) -> str:
    """One line per push size and method: the lean error (degrees) ``at`` frames after the push."""
    lines = [f"  {'push':>5} {'method':<9} " + " ".join(f"{'+' + str(f):>6}" for f in at)]
    for deg, methods in results.items():
        for name, curve in methods.items():
            lines.append(f"  {deg:>5.0f} {name:<9} " + " ".join(f"{curve[f - 1]:>6.1f}" for f in at))
    return "\n".join(lines)
