"""Our LAFAN1-trained model on the LAFAN1 in-betweening protocol (train subjects 1-3, test subject 4),
as ratios to interpolation beside the published methods' ratios, and against the issue's goals.

The model is the development model ``benchmarks/models/lafan1_dev.npz`` (subjects 1-3, so subject 4 is
held out); the protocol's artefact ``benchmarks/models/lafan1.npz`` trained on subjects 1-4 and is scored
on subject 5 elsewhere (see the model card). Neither is bundled with the extension (LAFAN1 is CC BY-NC-ND
4.0). ``--model`` may also be a next-frame in-betweener trained on LAFAN1's skeleton (``lmm
train-next-frame --bvh ... --keys``), scored with its latent at its mean; ``--section`` names the section
of BENCHMARKS.md it writes.

``--blend FILE --blend-weight W`` scores ``--model`` blended with a second in-betweener (``bench.inbetween.Blend``:
rotations slerped, root lerped ``W`` of the way to the second's).

Usage: python benchmarks/lafan1_model.py [--model PATH] [--data ../shared/data] [--no-write] [--plot PNG]
       [--section TITLE] [--blend FILE --blend-weight W]

Writes BENCHMARKS.md's section and, unless ``--no-write``, the picture of the ratios beside the
published ones (``docs/images/lafan1_ratios.png``; ``--plot`` writes it elsewhere, even with ``--no-write``).
"""
from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.lafan1_baselines import LENGTHS, OTHERS, PUBLISHED  # noqa: E402
from benchmarks.report import update_section  # noqa: E402
from lmm_core.bench.baselines import BASELINES  # noqa: E402
from lmm_core.bench.inbetween import Blend, ModelInbetweener, load_inbetweener  # noqa: E402
from lmm_core.bench.lafan1 import read_clips, run_lafan1, select_subjects  # noqa: E402
from lmm_core.bench.files import motion_files  # noqa: E402
from lmm_core.errors import LMMError  # noqa: E402
from lmm_core.threads import set_blas_threads  # noqa: E402

HERE = Path(__file__).resolve().parent
PLOT = HERE.parent / "docs" / "images" / "lafan1_ratios.png"
ERD_QV = "ERD-QV (Harvey et al. 2020)"
QIN = "Two-stage transformer (Qin et al. 2022)"
L2P30_GOAL = 0.45  # issue 24's step on the way to the two-stage transformer's 0.386
SECTION = "LAFAN1 in-betweening: our LAFAN1-trained model"


def training_subjects(meta: dict, data: Path) -> tuple[list[int] | None, str]:
    """The LAFAN1 subjects of the BVH files the model's last run trained on (its ``train_config``'s ``bvh``)
    and how they were told: the files the spec names (as given, from the repository root, or its file
    pattern in ``data / "lafan1"``), else the subject numbers written in the pattern itself
    (``_subject[123]``, ``_subject4``); ``None`` when neither tells."""
    spec = (meta.get("train_config") or meta.get("train") or {}).get("bvh")
    if not spec:
        return None, "not recorded (not trained on BVH files)"
    for where in (Path(spec), HERE.parent / spec, data / "lafan1" / Path(spec).name):
        try:
            files = motion_files(where, "training")
        except LMMError:
            continue
        found = sorted({int(m.group(1)) for p in files if (m := re.search(r"_subject(\d+)", p.name))})
        if found:
            return found, f"read from the files of `{spec}`"
    m = re.search(r"_subject(\[\d+\]|\d)", spec)
    if m:
        return sorted({int(c) for c in m.group(1).strip("[]")}), f"read from the file pattern `{spec}` (its files are not here)"
    return None, f"recorded as `{spec}`, whose files are not here"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", type=Path, default=HERE / "models" / "lafan1_dev.npz")
    ap.add_argument("--data", type=Path, default=HERE.parents[1] / "shared" / "data")
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--plot", type=Path, help=f"write the ratio plot here (default {PLOT.relative_to(HERE.parent)} "
                                              "unless --no-write)")
    ap.add_argument("--section", default=SECTION, help=f"the BENCHMARKS.md section to write (default {SECTION!r})")
    ap.add_argument("--blend", type=Path, help="a second in-betweener's file to blend --model's answers with")
    ap.add_argument("--blend-weight", type=float, default=0.25, help="how far towards --blend's answer (0 to 1)")
    ap.add_argument("--start-ease", type=int, help="a next-frame in-betweener's start_ease (NextFrameModel.inbetween; "
                                                   "default next_frame.START_EASE)")
    args = ap.parse_args()
    default_model = args.model.resolve() == (HERE / "models" / "lafan1_dev.npz").resolve() and args.blend is None
    if not args.no_write and not default_model and args.section == SECTION:
        # The section and its picture are the development model's; another file's figures go elsewhere.
        raise SystemExit(f"lafan1_model.py: --model {args.model} is not the development model, whose section this is: "
                         "give --section TITLE for its own section (or --no-write)")
    set_blas_threads(1)
    lafan = args.data / "lafan1"
    test_files = select_subjects(motion_files(lafan, "test"), (4,), "test")
    skeleton = read_clips(test_files[:1])[0]
    model = load_inbetweener(args.model, skeleton, start_ease=args.start_ease)
    second = load_inbetweener(args.blend, skeleton, start_ease=args.start_ease) if args.blend is not None else None
    t = time.perf_counter()
    # The window network's own baseline (its network's output zeroed) shows what the network adds; a
    # next-frame network has no baseline to start from, so it stands beside interpolation alone.
    window = isinstance(model, ModelInbetweener)
    own = f"{model.model.cfg.baseline} (the model's baseline, no network)" if window else None
    res = run_lafan1(lafan, lafan, model=Blend(model, second, args.blend_weight) if second is not None else model,
                     train_subjects=(1, 2, 3), test_subjects=(4,),
                     methods={**BASELINES, **({own: model.baseline_only()} if window else {})})
    seconds = time.perf_counter() - t

    rows = []
    for metric in ("L2Q", "L2P", "NPSS"):
        for name in ("interp", own, "model"):
            if name is not None:
                rows.append(f"| {metric} | {name} | " + " / ".join(f"{res[name][metric][n]:.4f}" for n in LENGTHS) + " |")
    ratio_rows = []
    verdicts = []
    for metric in ("L2Q", "L2P", "NPSS"):
        ours = [res["model"][metric][n] / res["interp"][metric][n] for n in LENGTHS]
        ratio_rows.append(f"| {metric} | **ours, subject 4** | " + " / ".join(f"{v:.3f}" for v in ours) + " |")
        if window:
            bare = [res[own][metric][n] / res["interp"][metric][n] for n in LENGTHS]
            ratio_rows.append(f"| {metric} | {own}, subject 4 | " + " / ".join(f"{v:.3f}" for v in bare) + " |")
        if metric in ("L2Q", "L2P"):
            interp = PUBLISHED["interp"][metric]
            for name, vals in OTHERS.items():
                r = [f"{v / i:.3f}" if v is not None else "-" for v, i in zip(vals[metric], interp)]
                ratio_rows.append(f"| {metric} | {name}, subject 5 | " + " / ".join(r) + " |")
            # Issue 24: below ERD-QV's ratio at 5, 15 and 30 frames, on both metrics.
            erd = [v / i for v, i in zip(OTHERS[ERD_QV][metric][:3], interp[:3])]
            below = [o < e for o, e in zip(ours[:3], erd)]
            verdicts.append(f"{metric} at 5 / 15 / 30 frames " + " / ".join(f"{o:.3f}" for o in ours[:3])
                            + " of interpolation vs ERD-QV's " + " / ".join(f"{e:.3f}" for e in erd) + ": "
                            + ("below at every length" if all(below) else
                               "below at " + (", ".join(n for n, b in zip(LENGTHS, below) if b) or "none")))
    qin = OTHERS[QIN]["L2P"][2] / PUBLISHED["interp"]["L2P"][2]
    l2p30 = res["model"]["L2P"]["30"] / res["interp"]["L2P"]["30"]
    verdicts.append(f"L2P at 30 frames {l2p30:.3f} of interpolation: at most {L2P30_GOAL} {'met' if l2p30 <= L2P30_GOAL else 'not met'}, "
                    f"the two-stage transformer's {qin:.3f} {'met' if l2p30 <= qin else 'not met'}")
    meta = model.model.meta
    subjects, told = training_subjects(meta, args.data)
    ease = (f", its first made frame set where the context carries on at constant velocity and returning to its "
            f"own course over {args.start_ease} frames") if args.start_ease else ""
    kind = ("" if window else "a next-frame in-betweener, rolled from the last context frame to the key a frame at a time "
            f"with its latent at its mean{ease}; ")
    if second is not None:
        other, other_told = training_subjects(second.model.meta, args.data)
        kind = (f"blended with `{args.blend}` ({args.blend_weight:g} of the way to its answer: rotations slerped, root "
                f"lerped{ease}; that file's last run trained on subjects {', '.join(map(str, other or []))}, {other_told}); ") + kind
        warning_subjects = set(other or [])
    else:
        warning_subjects = set()
    trained = (("subjects " + ", ".join(map(str, subjects)) + f", {told}") if subjects
               else f"subjects unknown: {told}")
    warning_subjects |= set(subjects or [])
    # A model that trained on the test subject scores its own training data: say so before the figures.
    warning = ("**In-sample: this model trained on subject 4, the test subject here; these figures are not a "
               "held-out result** (its held-out test is subject 5, the protocol's). ") if 4 in warning_subjects else ""
    body = (warning + f"Model: `{args.model.relative_to(HERE.parent) if args.model.is_relative_to(HERE.parent) else args.model}` "
            f"({kind}its last run trained on {trained}, {meta.get('step', meta.get('steps'))} steps; "
            "benchmarks/models/LAFAN1_MODEL_CARD.md has every run). "
            "Statistics from subjects 1-3 (windows of 50 frames every 20), test windows from subject 4 (576 windows); "
            f"subject 5, the official test set, is not in ../shared/data. Scoring took {seconds:.0f} s on one thread.\n\n"
            "| metric | method | 5 / 15 / 30 / 45 |\n|---|---|---|\n" + "\n".join(rows) +
            "\n\nRatios to interpolation on each method's own test windows (the published methods report 5, 15 and 30 frames):\n\n"
            "| metric | method | 5 / 15 / 30 / 45 |\n|---|---|---|\n" + "\n".join(ratio_rows) +
            "\n\nGoals (issue 24): " + "; ".join(verdicts) + ".")
    # Another section's picture is named for its model, so it does not overwrite the default model's.
    stem = args.model.stem + (f"_{args.blend.stem}" if args.blend is not None else "")
    default_plot = PLOT if args.section == SECTION else PLOT.with_name(f"lafan1_ratios_{stem}.png")
    plot = args.plot or (None if args.no_write else default_plot)
    if plot == default_plot:
        body += f"\n\n![L2Q and L2P ratios to interpolation against the transition length]({plot.relative_to(HERE.parent)})"
    print(body)
    if plot is not None:
        plot_ratios(res, own, plot)
        print(f"plot: {plot}")
    if not args.no_write:
        shown = args.model.resolve().relative_to(HERE.parent) if args.model.resolve().is_relative_to(HERE.parent) else args.model
        command = "python benchmarks/lafan1_model.py" + ("" if default_model else f" --model {shown}") + (
            "" if args.blend is None else f" --blend {args.blend} --blend-weight {args.blend_weight:g}") + (
            "" if args.start_ease is None else f" --start-ease {args.start_ease}") + (
            "" if args.section == SECTION else f" --section '{args.section}'")
        update_section(args.section, body, command)


def plot_ratios(res: dict, own: str | None, path: Path) -> None:
    """L2Q and L2P of each method as a ratio to interpolation against the transition length, ours (subject
    4) beside the published methods (subject 5), the issue's goals marked; a PNG at ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x = [int(n) for n in LENGTHS]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.8), sharey=True)
    for ax, metric in zip(axes, ("L2Q", "L2P")):
        ratio = lambda name: [res[name][metric][n] / res["interp"][metric][n] for n in LENGTHS]  # noqa: E731
        ax.axhline(1.0, color="#888888", lw=1, ls=":", label="interpolation (= 1)")
        if own is not None:
            ax.plot(x, ratio(own), "o--", color="#9aa7b8", label="Hermite baseline, no network (subject 4)")
        ax.plot(x, ratio("model"), "o-", color="#3b6fd4", lw=2.2, label="ours (subject 4)")
        interp = PUBLISHED["interp"][metric]
        for (name, vals), colour in zip(OTHERS.items(), ("#e0772b", "#6aa84f", "#b04fc2")):
            pts = [(n, v / i) for n, v, i in zip(x, vals[metric], interp) if v is not None]
            ax.plot(*zip(*pts), "s-" if len(pts) > 1 else "s", color=colour, label=f"{name} (subject 5)")
        # Issue 24's goals: below ERD-QV's ratio at 5, 15 and 30 frames (dashed), and L2P at 30 at most 0.45.
        for n, v, i in zip(x, OTHERS[ERD_QV][metric], interp):
            if v is not None:
                ax.plot([n - 3, n + 3], [v / i, v / i], color="#e0772b", lw=1, ls="--")
        if metric == "L2P":
            ax.plot([27, 33], [L2P30_GOAL, L2P30_GOAL], color="#3b6fd4", lw=1, ls="--")
            ax.annotate(f"goal at 30: at most {L2P30_GOAL}", (30, L2P30_GOAL), (33, L2P30_GOAL - 0.1), fontsize=8,
                        arrowprops={"arrowstyle": "->", "color": "#3b6fd4"})
        ax.set_title(f"{metric} / interpolation (lower is better)")
        ax.set_xlabel("transition length, frames")
        ax.set_xticks(x)
        ax.set_ylim(0.2, 1.1)
        ax.grid(alpha=0.3)
    fig.legend(*axes[0].get_legend_handles_labels(), loc="lower center", ncol=3, fontsize=8, frameon=False)
    fig.suptitle("LAFAN1 in-betweening, ratio to interpolation (goal: below ERD-QV's, dashed, at 5, 15 and 30 frames)", fontsize=10)
    fig.tight_layout(rect=(0, 0.13, 1, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.png")
    fig.savefig(tmp, dpi=90)
    plt.close(fig)
    tmp.replace(path)


if __name__ == "__main__":
    main()
