"""How much of the network's correction to trust on a clip, measured on the clip's own keys.

The network corrects a simple guess between keys (``ModelConfig.baseline``). On motion like its training
data the correction makes the frames better; on motion it has never seen it can make them much worse
than the guess. Motion retargeted from a rig whose spine, neck and head are laid out unlike the
training sources' is such motion even when the movement itself is ordinary: on LAFAN1 subject 4 with a
key every 8 frames the network's frames were 4.8 times further from the capture than interpolation's,
and the default model, which never trained on the cmu_iclone takes, 5.3 times on those.

Two checks, both on the window's own keys. First, do the keys look like the training data? In the
model's normalised features (``(value - mean) / std`` of the training set) fewer than 1% of the
entries of held-out in-domain windows' keys lie beyond ``OUTLIER_Z`` standard deviations for 95% of
windows (measured 2026-12-06, the sampling model, keys every 30 frames); LAFAN1's, 7-14%. Keys with
more than ``UNUSUAL_SHARE`` of their entries that far out are unusual, and only then is the network's
correction checked (checking every window cost in-domain windows accuracy: a hidden key doubles the
gap around it, where the network is least sure, so the check is biased against it).

Then the model is asked to predict keys it was not shown: every other isolated key
of the window (a key with made frames on both sides) is hidden, the window is filled, and the filled
frames at the hidden keys are compared with the keys themselves, against the baseline's frames there.
Where the network's frames there are nearer the keys than the baseline's, it keeps its whole
correction; otherwise the correction is scaled by the factor that would have served best on those keys
(least squares on joint positions, clipped to [0, 1]). A window with no isolated inner key (two keys,
or context frames and one key as the benchmarks pose) has nothing to check against and keeps the whole
correction: over long gaps the network's moving legs are worth more than the baseline's glide.

The next-frame in-betweener (``NextFrameModel.checked_inbetween``) weighs two parts of its correction apart
(``trust_parts``): the pelvis's path and the pose. On LAFAN1 subject 4 (falls, crawling, obstacles; nothing
like them in the training data) its poses were as near the capture as interpolation's where its pelvis path
was further (keys every 8 frames: the network's frames with interpolation's pelvis path 1.00 of
interpolation's error, its own 1.17), so one share for both took the poses away with the path.

``Model.key_trust`` runs the check (one share per clip, pooled over the windows of a long one) and
``tasks.fill_checked`` also scales the network's foot-contact probabilities by the share, so the
clean-up does not pin feet where a mistrusted network put them down.
"""
from __future__ import annotations

import numpy as np

# A normalised feature this many standard deviations from the training mean is an outlier; keys with
# more than this share of outlying entries are unusual (see the module docstring).
OUTLIER_Z = 4.0
UNUSUAL_SHARE = 0.03
# Below this many square metres of correction at the hidden keys the network changed nothing worth
# checking (a few millimetres): keep it whole rather than divide noise by noise.
MIN_CORRECTION = 1e-6


def unusual(keys: np.ndarray, share: float = UNUSUAL_SHARE) -> bool:
    """Whether key entries ``(N,)`` in normalised feature units lie off the training data: more than
    ``share`` of them beyond ``OUTLIER_Z`` standard deviations."""
    keys = np.abs(np.asarray(keys, dtype=np.float64).ravel())
    return bool(len(keys)) and float((keys > OUTLIER_Z).mean()) > share


def check_frames(known: np.ndarray) -> np.ndarray:
    """Frames to hide for the check: every other isolated inner key, the first included.

    ``known`` is ``(T, G)`` bool per frame and joint group. An isolated inner key is a frame with every
    group known whose neighbours both miss some group and which has a whole key before and after it.
    Returns ``(K,)`` frame indices, empty when there is none.
    """
    whole = np.asarray(known, dtype=bool).all(axis=1)
    keys = np.flatnonzero(whole)
    if len(keys) < 3:
        return np.zeros(0, dtype=int)
    inner = [k for k in keys[1:-1] if not whole[k - 1] and not whole[k + 1]]
    return np.asarray(inner[::2], dtype=int)


def trust(corrected: np.ndarray, guess: np.ndarray, truth: np.ndarray) -> float:
    """The least-squares scale of the correction ``corrected - guess`` towards ``truth - guess``, in [0, 1].

    All three are joint positions ``(K, J, 3)`` in metres at the hidden keys: the network's, the
    baseline's (the network's correction scaled to zero) and the keys'.
    """
    c = (np.asarray(corrected) - guess).ravel()
    e = (np.asarray(truth) - guess).ravel()
    cc = float(c @ c)
    if cc < MIN_CORRECTION or float((c - e) @ (c - e)) <= float(e @ e):
        return 1.0
    return float(np.clip((c @ e) / cc, 0.0, 1.0))


def trust_parts(corrected: np.ndarray, guess: np.ndarray, truth: np.ndarray,
                shift: np.ndarray) -> tuple[float, float]:
    """``trust`` for a correction in two parts: the pelvis's move and the pose's. Returns the shares
    ``(path, pose)``, each in [0, 1], that bring the guess nearest the truth (least squares on joint positions).

    ``corrected``, ``guess``, ``truth``: joint positions ``(K, J, 3)`` in metres at the hidden keys, as
    ``trust``'s; ``shift (K, 3)``: the corrected pelvis minus the guessed one there (metres), which moves every
    joint alike. The pose's part is the rest of the correction. Both are 1 where the correction changes nothing
    worth checking, and a part that changes nothing so is 1 with the other fitted alone. Unlike ``trust``, the whole correction is not kept merely for beating the guess: with two
    shares the fit itself says how much of each part to keep, and keeping both whole on that rule took LAFAN1
    subject 4's made frames from 1.00 / 0.99 / 1.04 to 1.08 / 1.00 / 1.09 of interpolation's error (keys every
    8 / 15 / 30 frames, 40 windows each, 2026-12-07); in-domain keys are seldom checked at all.
    """
    c = np.asarray(corrected, dtype=np.float64) - guess
    e = (np.asarray(truth, dtype=np.float64) - guess).ravel()
    path = np.broadcast_to(np.asarray(shift, dtype=np.float64)[:, None, :], c.shape)
    pose = (c - path).ravel()
    path = path.ravel()
    c = c.ravel()
    if float(c @ c) < MIN_CORRECTION:
        return 1.0, 1.0
    # A part that changes nothing worth checking is kept whole (there is nothing of it to take or leave) and
    # the other fitted alone: else a tie would give it 0 and the share said to the user would read 0.
    if float(path @ path) < MIN_CORRECTION or float(pose @ pose) < MIN_CORRECTION:
        alone = pose if float(path @ path) < MIN_CORRECTION else path
        share = float(np.clip((alone @ e) / (alone @ alone), 0.0, 1.0))
        return (1.0, share) if alone is pose else (share, 1.0)
    # Least squares over the unit square: the unconstrained answer where it lies inside, else the best on
    # its edges (each a one-dimensional fit with the other share held at 0 or 1).
    a = np.stack([path, pose], axis=1)  # (N, 2)
    gram, rhs = a.T @ a, a.T @ e
    tries = []
    if abs(np.linalg.det(gram)) > 1e-12 * max(float(np.trace(gram)) ** 2, 1e-300):
        tries.append(np.linalg.solve(gram, rhs))
    for i in (0, 1):
        for held in (0.0, 1.0):
            j = 1 - i
            rest = e - held * a[:, j]
            den = float(a[:, i] @ a[:, i])
            x = np.zeros(2)
            x[j] = held
            x[i] = float(a[:, i] @ rest) / den if den > 0 else 0.0
            tries.append(x)
    tries = [np.clip(x, 0.0, 1.0) for x in tries]
    best = min(tries, key=lambda x: float((e - a @ x) @ (e - a @ x)))
    return float(best[0]), float(best[1])
