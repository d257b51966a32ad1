"""Where the feet slide when the model fills long gaps between blocking keys (docs/sampling.md, "Where the feet
slide on long gaps"), and two fixes that need no training, measured on the blocking benchmark's windows.

- ``diagnose``: for each sliding frame of the made frames (a foot within the "ground" rule's height moving
  more than 2 cm a frame, ``feet.foot_skate``'s definition), whether the clean-up was holding that foot
  (the network's contacts or its own detector) on both frames, one, or neither, and how far it moved.
- ``rolling``: long gaps filled a piece at a time (commit ``--piece`` made frames, add them to the keys,
  fill again until at most ``--last`` frames are left), against the whole gap at once and interpolation.
- ``best``: the best of ``--draws`` seeded draws by their own foot skate (no truth used), against one draw
  and the deterministic answer.

    python benchmarks/long_gap_skate.py diagnose --model presets/models/lmm_sampling.npz --corpus out/corpus_all
    python benchmarks/long_gap_skate.py rolling --model presets/models/lmm_sampling.npz --corpus out/corpus_all
    python benchmarks/long_gap_skate.py best --model presets/models/lmm_sampling.npz --corpus out/corpus_all

Prints; writes nothing. Needs a built corpus with validation takes (``lmm dataset build``).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lmm_core import canonical as cn  # noqa: E402
from lmm_core.bench.baselines import interpolation  # noqa: E402
from lmm_core.bench.blocking import FPS, _accelerations, _positions, held_out_groups, key_mask, windows  # noqa: E402
from lmm_core.canonical import canonical_skeleton  # noqa: E402
from lmm_core.feet import foot_contacts, foot_skate  # noqa: E402
from lmm_core.model import tasks  # noqa: E402
from lmm_core.model.runtime import load  # noqa: E402
from lmm_core.motion import Motion  # noqa: E402
from lmm_core.threads import set_blas_threads  # noqa: E402

SETTINGS = {"gap 120": (120, 121), "gap 60": (60, 61), "every 30": (30, 121), "every 15": (15, 121)}


def _motion(rot: np.ndarray, root: np.ndarray) -> Motion:
    return Motion(canonical_skeleton(), rot, root, FPS)


def diagnose(model, wins, known) -> str:
    """Sliding frames by what the clean-up was doing with that foot, and their step sizes."""
    made = ~known
    feet = [cn.JOINT_INDEX[j] for j in cn.CONTACT_JOINTS]
    held = np.zeros(3, dtype=int)
    pairs, steps, cap, out = 0, [], [], []
    for rot, root in wins:
        cap.append(foot_skate(_motion(rot, root), frames=made))
        r, p, con, _ = tasks.fill_checked(model, rot, root, known)
        down = (con > 0.5) | foot_contacts(_motion(r, p))  # what ``tasks.clean_made`` locks
        fin = tasks.inbetween(_motion(rot, root), np.flatnonzero(known), model, method="network")
        out.append(foot_skate(fin, frames=made))
        pos = fin.global_positions()[:, feet]
        ground = foot_contacts(fin, rule="ground") & made[:, None]
        step = np.linalg.norm(np.diff(pos[..., [0, 2]], axis=0), axis=-1)
        both = ground[1:] & ground[:-1]
        bad = both & (step > 0.02)
        n_down = down[1:].astype(int) + down[:-1]
        held += [int((bad & (n_down == k)).sum()) for k in (2, 1, 0)]
        pairs += int(both.sum())
        steps.append(step[bad])
    s = np.concatenate(steps) * 100
    sizes = ("step cm p25/50/75/90 " + " / ".join(f"{v:.1f}" for v in np.percentile(s, [25, 50, 75, 90]))
             if s.size else "no sliding frame")
    return (f"skate {np.mean(out):.3f} (capture {np.mean(cap):.3f}); sliding frames: foot held on both frames {held[0]}, "
            f"one {held[1]}, neither {held[2]} (of {pairs} ground pairs); {sizes}")


def _rolling(model, rot, root, known, piece: int, last: int):
    """Fill, commit the first ``piece`` made frames of every gap longer than ``last``, repeat."""
    rot, root, known = rot.copy(), root.copy(), known.copy()
    con = np.zeros((len(root), 4))
    while True:
        r, p, c = model.fill(rot, root, known, correction=1.0)
        ks = np.flatnonzero(known)
        gaps = [(a, b) for a, b in zip(ks[:-1], ks[1:]) if b - a > last]
        if not gaps:
            con[~known] = c[~known]
            made = tasks.clean_made(_motion(r, p), con, True, floor_frames=~known, anchor_frames=known, widen_limits=True)
            return made.rotations, made.root_positions
        for a, _ in gaps:
            s = slice(a + 1, a + 1 + piece)
            rot[s], root[s], con[s] = r[s], p[s], c[s]
            known[s] = True


def _score(wins, known, method) -> tuple[float, float, float]:
    """Mean joint error (m), skate, p99 acceleration of ``method(rot, root) -> (rot, root)`` on the made frames."""
    made = ~known
    err, sk, acc = [], [], []
    for rot, root in wins:
        r, p = method(rot, root)
        pos = _positions(r, p)
        err.append(np.linalg.norm(pos - _positions(rot, root), axis=-1)[made].mean())
        sk.append(foot_skate(_motion(r, p), frames=made))
        acc.append(_accelerations(pos, made))
    return float(np.mean(err)), float(np.mean(sk)), float(np.percentile(np.concatenate(acc), 99))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("what", choices=("diagnose", "rolling", "best"))
    ap.add_argument("--model", default="presets/models/lmm_sampling.npz")
    ap.add_argument("--corpus", default="out/corpus_all")
    ap.add_argument("--windows", type=int, default=20)
    ap.add_argument("--settings", default="gap 120,gap 60,every 30")
    ap.add_argument("--piece", type=int, default=10)
    ap.add_argument("--last", type=int, default=30)
    ap.add_argument("--draws", type=int, default=6)
    args = ap.parse_args(argv)
    if not 1 <= args.piece <= args.last:
        ap.error(f"--piece must be from 1 to --last ({args.last}) frames: a piece is committed only where more than "
                 f"--last frames of the gap are left, so it never reaches the far key; got {args.piece}")
    set_blas_threads(1)
    model = load(args.model)
    group = held_out_groups(args.corpus, raised=0)[0]
    for name in args.settings.split(","):
        spacing, length = SETTINGS[name.strip()]
        wins = windows(group.clips, length, args.windows)
        known = key_mask(length, spacing)
        made = ~known
        cap = max(float(np.mean([foot_skate(_motion(r, p), frames=made) for r, p in wins])), 1e-3)
        cap_acc = np.percentile(np.concatenate([_accelerations(_positions(r, p), made) for r, p in wins]), 99)
        if args.what == "diagnose":
            print(f"{name}: {diagnose(model, wins, known)}", flush=True)
            continue

        def users(rot, root, seed=0, variation=0.0):
            out = tasks.inbetween(_motion(rot, root), np.flatnonzero(known), model, seed=seed, variation=variation,
                                  method="network")
            return out.rotations, out.root_positions

        methods = {"interpolation": lambda rot, root: interpolation(rot, root, known), "whole gap": users}
        if args.what == "rolling":
            methods["in pieces"] = lambda rot, root: _rolling(model, rot, root, known, args.piece, args.last)
        else:
            methods["one draw"] = lambda rot, root: users(rot, root, 0, 1.0)

            def best(rot, root):
                draws = [users(rot, root, s, 1.0) for s in range(args.draws)]
                return min(draws, key=lambda d: foot_skate(_motion(*d), frames=made))

            methods[f"best of {args.draws}"] = best
        scores = {k: _score(wins, known, m) for k, m in methods.items()}
        ref = scores["interpolation"][0]
        print(f"{name}: " + "; ".join(f"{k}: error {e / ref:.2f} of interpolation's, skate {s / cap:.2f} and p99 "
                                      f"acceleration {a / cap_acc:.2f} of the capture's" for k, (e, s, a) in scores.items()),
              flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
