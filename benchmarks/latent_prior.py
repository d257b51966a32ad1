"""The next-frame generator's latent prior per action: its actions drawn from N(0, I) and from the file's prior.

For each action the file gives a prior of its own (``meta["latent_prior"]["fitted"]``: dance, climb, ...) and a
few that keep N(0, I) for comparison, it generates ``--seconds`` per seed both ways and reports the pelvis's
ground speed (m/s), the joints' mean turning speed (degrees/s) and the 99th-percentile joint acceleration
(m/s^2) against the action's real clips (both splits of the corpus); it draws the first seed's motion both ways
as stick figures with the joints' turning speed over time beneath.

Usage: python benchmarks/latent_prior.py [--next-frame-model FILE] [--corpus out/corpus_all] [--seeds 6]
       [--seconds 10] [--plot docs/images/latent_prior.png] [--no-write]
"""
from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.long_generation import SOURCES, measures  # noqa: E402
from benchmarks.report import update_section  # noqa: E402
from lmm_core import dataset  # noqa: E402
from lmm_core.model import next_frame  # noqa: E402

SECTION = "Model: the generator's latent prior per action"
COMPARED = ("walk", "wave-right-hand")  # actions that keep N(0, I): their rows must not move


def _without_prior(nf: next_frame.NextFrameModel) -> next_frame.NextFrameModel:
    """The same network drawing every action from N(0, I) (a shallow copy: the weights are shared)."""
    import copy

    plain = copy.copy(nf)
    plain.prior_mean = np.zeros_like(nf.prior_mean)
    plain.prior_scale = np.broadcast_to(np.eye(nf.cfg.latent), nf.prior_scale.shape)
    return plain


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--next-frame-model", type=Path)
    ap.add_argument("--corpus", type=Path, default=Path("out/corpus_all"))
    ap.add_argument("--seeds", type=int, default=6)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--plot", type=Path, default=Path("docs/images/latent_prior.png"))
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    t0 = time.perf_counter()
    nf = next_frame.load(args.next_frame_model)
    record = nf.meta.get("latent_prior")
    if record is None:
        sys.exit(f"{args.next_frame_model or next_frame.DEFAULT} has no latent prior (a file from before 2026-12-07, or "
                 "an in-betweener): nothing to compare")
    fitted = [a for a in record["fitted"] if a in nf.cfg.actions]
    actions = fitted + [a for a in COMPARED if a in nf.cfg.actions]
    ways = {"N(0, I)": _without_prior(nf), "its prior": nf}
    infos, arrays = dataset.load(args.corpus, None, SOURCES)
    real: dict[str, list[dict[str, np.ndarray]]] = {}
    start = 0
    for c in infos:
        if c.action in actions and c.frames >= 3:
            real.setdefault(c.action, []).append(measures(arrays["rotations"][start:start + c.frames].astype(np.float64),
                                                          arrays["root"][start:start + c.frames].astype(np.float64)))
        start += c.frames
    frames = int(round(args.seconds * 30))
    made: dict[tuple[str, str], list[dict[str, np.ndarray]]] = {}
    first: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = {}
    for a in actions:
        for way, model in ways.items():
            for seed in range(args.seeds):
                rot, root, _ = model.generate(frames, model.action_index(a), 0, seed, 1.0)
                made.setdefault((a, way), []).append(measures(rot, root))
                if seed == 0:
                    first[(a, way)] = (rot, root)

    def row(ms: list[dict[str, np.ndarray]]) -> str:
        ground = np.mean([m["ground"].mean() for m in ms])
        turn = np.mean([m["turn"].mean() for m in ms])
        acc = np.percentile(np.concatenate([m["acc"].ravel() for m in ms]), 99)
        return f"{ground:.2f} | {turn:.0f} | {acc:.1f}"

    lines = ["| action | KL of its posteriors from N(0, I), nats | motion | pelvis ground speed m/s | joint turning speed "
             "deg/s | p99 joint acceleration m/s² |", "|---|---|---|---|---|---|"]
    for a in actions:
        kl = record["kl"].get(a, float("nan"))
        lines.append(f"| {a} | {kl:.2f} | real clips ({len(real.get(a, []))}) | " + (row(real[a]) if a in real else "- | - | -")
                     + " |")
        for way in ways:
            given = "its own prior" if a in fitted else "N(0, I) (under 1 nat: kept)"
            label = "drawn from N(0, I)" if way == "N(0, I)" else f"the file's: {given}"
            lines.append(f"| {a} | | {label} | {row(made[(a, way)])} |")
    body = ("\n".join(lines) + f"\n\n`{Path(args.next_frame_model or next_frame.DEFAULT).name}`, {args.seeds} seeds x "
            f"{args.seconds:g} s per action and way, variation 1, the file's label guidance, no clean-up; real: every clip "
            f"of the action in the corpus, both splits. The prior is kept for actions whose pooled posteriors lie at "
            f"least {record['min_kl']:g} nat from N(0, I) (`lmm_core/train/latent_prior.py`). "
            f"{time.perf_counter() - t0:.0f} s.")
    print(body)
    if not args.no_write:
        _plot(first, made, real, fitted, list(ways), args.plot)
        update_section(SECTION, body + f"\n\n![seed 0 drawn both ways, and the joints' turning speed]({args.plot})",
                       "python benchmarks/latent_prior.py")


def _plot(first, made, real, actions, ways, path: Path, every: int = 15) -> None:
    """Per action with a prior of its own: seed 0 as stick figures every ``every`` frames, drawn from N(0, I)
    and from its prior (each seen from its right), and the joints' turning speed over time, seeds averaged."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from lmm_core.canonical import PARENTS, canonical_skeleton
    from lmm_core.motion import Motion

    fig, axes = plt.subplots(len(actions), 2, figsize=(16, 2.6 * len(actions)), squeeze=False,
                             gridspec_kw={"width_ratios": [3, 1]})
    colours = {"N(0, I)": "#999999", "its prior": "#1f77b4"}
    for i, a in enumerate(actions):
        ax = axes[i, 0]
        for r, way in enumerate(ways):
            rot, root = first[(a, way)]
            pos = Motion(canonical_skeleton(), rot, root, 30.0).global_positions()
            for k, f in enumerate(range(0, min(len(rot), 150), every)):
                yaw = next_frame._heading(rot[f, 0])
                p = pos[f] - root[f] * [1, 0, 1]
                ahead = p[:, 0] * np.sin(yaw) + p[:, 2] * np.cos(yaw)
                for j, par in enumerate(PARENTS):
                    if par >= 0:
                        ax.plot([k * 0.9 + ahead[j], k * 0.9 + ahead[par]], [p[j, 1] - 2.2 * r, p[par, 1] - 2.2 * r],
                                color=colours[way], lw=1)
            ax.text(-0.9, 1.9 - 2.2 * r, f"{a}, drawn from {way}", fontsize=9)
        ax.set_aspect("equal")
        ax.axis("off")
        ax = axes[i, 1]
        for way in ways:
            turn = np.mean([m["turn"][:299] for m in made[(a, way)] if len(m["turn"]) >= 299], axis=0)
            smooth = np.convolve(turn, np.ones(15) / 15, mode="valid")  # half a second's mean, no edge effects
            ax.plot((np.arange(len(smooth)) + 7) / 30.0, smooth, color=colours[way], label=f"drawn from {way}")
        if a in real:
            ax.axhline(np.mean([m["turn"].mean() for m in real[a]]), color="black", ls="--", lw=1, label="real clips")
        ax.set_xlabel("s")
        ax.set_ylabel("joint turning, deg/s")
        ax.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=70)


if __name__ == "__main__":
    main()
