"""Statistics a new training run measures on its corpus once: feature normalisation, the typical
correction per feature, and the joint-position spread that L2P normalises by (numpy)."""
from __future__ import annotations

import numpy as np

from ..errors import LMMError
from ..kinematics import fk
from ..model import features as Fe
from ..model.body import Body
from ..model.sampling import UNIT_BUCKETS, unit_bucket
from ..model.window import key_distance
from .batches import Prepared
from .data import Corpus


def feature_stats(corpus: Corpus, rng: np.random.Generator, n: int, pos_freqs: int = 16,
                  body: Body | None = None, baseline: str = "interpolation") -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Feature statistics ``(F,)`` each: ``mean`` and ``std`` of ground-truth windows in their anchor
    frames; ``scale``, the typical size (RMS, in normalised units) of what the network must add to
    the baseline when in-betweening; and ``velocity``, the RMS frame-to-frame change of each feature
    (unnormalised). The network's correction is multiplied by ``scale``, so one unit of
    output is one typical correction whatever the feature: the root's forward position varies by
    metres across windows but needs corrections of centimetres."""
    body = body or Body.from_dict(None)
    feats = []
    batches = []
    for _ in range(max(n // 16, 1)):
        b = corpus.sample(rng, 16, 64)
        batches.append(b)
        for i in range(16):
            anchor = int(rng.integers(0, 20))
            yaw, origin = Fe.anchor_transform(b.rotations[i], b.root[i], anchor, body.forward)
            rot = b.rotations[i].copy()
            rot[:, 0], pos = Fe.to_anchor(rot, b.root[i], yaw, origin)
            feats.append(Fe.encode(rot, pos))
    f = np.concatenate(feats)
    mean, std = f.mean(0), np.maximum(f.std(0), 1e-3)
    velocity = np.sqrt(np.mean(np.concatenate([np.diff(w, axis=0) for w in feats]) ** 2, axis=0))
    sq, count = np.zeros(Fe.FEATURES), np.zeros(Fe.FEATURES)
    for b in batches[: max(len(batches) // 4, 1)]:
        # Sized on in-betweening (the task where corrections must be precise): 10 context frames, a key
        # 1-30 frames later, the rest known.
        known = np.ones((16, 64, Fe.NUM_GROUPS), dtype=bool)
        for i in range(16):
            known[i, 10:10 + int(rng.integers(1, 31))] = False
        prep = Prepared(b, known, np.zeros(16, dtype=bool), mean, std, pos_freqs, np.ones(Fe.FEATURES), body,
                        baseline=baseline)
        unknown = ~prep.known.numpy()
        res = (prep.target.numpy() - prep.base.numpy()) * unknown
        sq += (res ** 2).sum(axis=(0, 1))
        count += unknown.sum(axis=(0, 1))
    scale = np.clip(np.sqrt(sq / np.maximum(count, 1)), 0.02, 1.0)
    return mean, std, scale, velocity


def velocity_std(velocity: np.ndarray, std: np.ndarray) -> np.ndarray:
    """``vel_std (F,)`` for ``window.prepare``: the RMS frame-to-frame change of raw features in the units of
    the features normalised by ``std``, kept away from zero for features that never move."""
    return np.maximum(velocity / std, 1e-3)


def position_spread(corpus: Corpus, rng: np.random.Generator, n: int, body: Body | None = None,
                    length: int = 50, at: int = 9) -> np.ndarray:
    """``(J, 3)`` the spread (std, metres) of each global joint coordinate over ``n`` training windows of
    ``length`` frames, each centred on its mean pelvis XZ and turned to face +Z at frame ``at``: the
    statistics L2P normalises by (the LAFAN1 protocol's, with +Z for +X), in the frame the loss measures
    positions in (the anchor frame, also facing +Z)."""
    body = body or Body.from_dict(None)
    offsets, parents = np.asarray(body.offsets), np.array(body.parents)
    J = len(parents)
    sums, sq, count = np.zeros((J, 3)), np.zeros((J, 3)), 0
    for _ in range(max(n // 16, 1)):
        b = corpus.sample(rng, 16, length)
        for i in range(16):
            yaw, _ = Fe.anchor_transform(b.rotations[i], b.root[i], at, body.forward)
            origin = b.root[i].mean(axis=0) * [1.0, 0.0, 1.0]
            rot = b.rotations[i].copy()
            rot[:, 0], pos = Fe.to_anchor(rot, b.root[i], yaw, origin)
            local = np.broadcast_to(offsets, (length, J, 3)).copy()
            local[:, 0] = pos
            p = fk(rot, local, parents)[1]
            sums += p.sum(axis=0)
            sq += (p ** 2).sum(axis=0)
            count += length
    mean = sums / count
    return np.sqrt(np.maximum(sq / count - mean ** 2, 0.0)).clip(min=1e-3)


# Log-spaced bins of |correction| (scale units) for ``flow_unit_table``'s medians: 1e-4 to 1e4, 5% wide.
_BINS = np.geomspace(1e-4, 1e4, 378)


def flow_unit_table(prepared, floor: float = 0.02, statistic: str = "rms", ceiling: float = 64.0) -> np.ndarray:
    """A sampling model's flow unit ``(len(UNIT_BUCKETS), F)`` (``sampling.flow_unit``), in ``scale`` units:
    the size of the true correction ``(target - base) / scale`` on the unknown entries of ``prepared`` (an
    iterable of ``Prepared`` batches of the run's own task mix), per feature and distance bucket from the
    nearest key of the entry's joint: its RMS (``statistic="rms"``), or 1.4826 times its median absolute
    value (``"median"``: the standard deviation, were it normal).

    The two differ: corrections are heavy-tailed (on the canonical corpus's generation windows the RMS
    per feature is about 7 times the median size: a run's root travel among idles). Measured side by side
    on 1,200 steps from the same model (docs/sampling.md): without a skip (``flow_skip``) the RMS unit
    generated better (recognised 0.50 against 0.41); with the skip, only the median unit lets the network
    remove its noise (relative error at flow time 0.5: 0.45 against 0.69).

    A bucket with fewer than 200 entries of a feature takes the nearest bucket's value that has them
    (windows no longer than 128 frames rarely put an entry 64 frames from a key in every feature); no
    value is below ``floor``, so no noise vanishes, nor above ``ceiling``: the root's forward travel a
    second or more from any key measures 63, the largest real correction; above it are only the few
    features whose correction scale sits at its floor (a spine joint nearly still in in-betweening
    measured 1,099 in the RMS table), where noise that large is noise a skip passes on and nothing removes. The median is read from 5%-wide bins."""
    if statistic not in ("rms", "median"):
        raise ValueError(f"flow_unit_table: statistic must be rms or median, got {statistic!r}")
    buckets, F = len(UNIT_BUCKETS), Fe.FEATURES
    hist = np.zeros((buckets, F, len(_BINS) + 1))
    sq = np.zeros((buckets, F))
    cols = np.arange(F)
    for prep in prepared:
        known = prep.known.numpy()
        z = (prep.target.numpy() - prep.base.numpy()) / prep.scale.numpy()
        groups = np.zeros(known.shape[:2] + (Fe.NUM_GROUPS,), dtype=bool)
        for g in range(Fe.NUM_GROUPS):
            groups[..., g] = known[..., Fe.GROUP_OF_FEATURE == g].any(axis=-1)
        for b in range(known.shape[0]):
            bucket = unit_bucket(key_distance(groups[b])[:, Fe.GROUP_OF_FEATURE])  # (W, F)
            unknown = ~known[b]
            where = np.searchsorted(_BINS, np.abs(z[b][unknown]))
            at = (bucket[unknown], np.broadcast_to(cols, bucket.shape)[unknown])
            np.add.at(hist, at + (where,), 1)
            np.add.at(sq, at, z[b][unknown] ** 2)
    count = hist.sum(axis=2)
    enough = count >= 200
    cdf = np.cumsum(hist, axis=2)
    # The first bin whose cumulative count passes half; its upper edge (the last bin's lower one) as the median.
    k = np.argmax(cdf >= 0.5 * count[..., None], axis=2)
    median = _BINS[np.minimum(k, len(_BINS) - 1)]
    size = 1.4826 * median if statistic == "median" else np.sqrt(sq / np.maximum(count, 1))
    table = np.where(enough, size, np.nan)
    for f in range(F):
        have = np.flatnonzero(enough[:, f])
        if not len(have):
            raise LMMError(f"the flow unit could not be measured: feature {f} has fewer than 200 unknown entries in "
                           "every distance bucket of the measuring batches; use larger --batch or --windows, or a "
                           "task mix with generation or completion windows")
        for k in np.flatnonzero(~enough[:, f]):
            table[k, f] = table[have[np.argmin(np.abs(have - k))], f]
    return np.clip(table, floor, ceiling)
