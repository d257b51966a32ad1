"""``lmm bench``: the in-betweening benchmarks on the command line.

``add_bench_arguments(parser)`` adds the subcommands ``lafan1`` and ``inbetween`` to the ``bench``
parser; ``run_bench(args)`` runs the chosen one, prints a table and writes the JSON results.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .. import canonical
from ..errors import LMMError
from ..io.atomic import atomic_text_writer
from ..model.runtime import load
from ..model.next_frame import DEFAULT_KEYS
from ..model.next_frame import load as load_next_frame
from .blocking import format_blocking, held_out_groups, model_methods, next_frame_methods, run_blocking
from .files import motion_files
from .harness import format_table
from .inbetween import load_inbetweener, run_inbetween
from .lafan1 import PUBLISHED, read_clips, run_lafan1, select_subjects


def _subjects(text: str) -> tuple[int, ...]:
    try:
        subjects = tuple(int(s) for s in text.replace(" ", "").split(",") if s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"subjects must be numbers separated by commas, e.g. 1,2,3; got {text!r}") from None
    if not subjects:
        raise argparse.ArgumentTypeError("give at least one subject")
    return subjects


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", type=Path, metavar="PATH", help="our model file: the window network (lmm train) or a next-frame "
                   "in-betweener (lmm train-next-frame --keys, scored with its latent at its mean); scored as 'model'")
    p.add_argument("--stats", type=Path, metavar="FILE", help="an .npz with x_mean and x_std (joints x 3 numbers each) that normalise L2P")
    p.add_argument("--save-stats", type=Path, metavar="FILE", help="write the statistics used to this .npz")
    p.add_argument("--json", type=Path, metavar="OUT", help="write the results here as JSON")
    p.add_argument("--progress", action="store_true", help="show a progress bar per method and length")


def add_bench_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``lafan1`` and ``inbetween`` subcommands (their choice lands in ``args.bench``)."""
    sub = parser.add_subparsers(dest="bench", required=True, metavar="BENCHMARK")
    p = sub.add_parser("lafan1", help="the LAFAN1 in-betweening benchmark (Harvey et al. 2020), exactly",
                       description="The LAFAN1 in-betweening benchmark on LAFAN1's BVH files: zero-velocity, "
                                   "interpolation and (with --model) our model; L2Q, L2P and NPSS at 5, 15, 30, 45 frames.")
    p.add_argument("--train", metavar="DIR", help="training BVH files (folder or glob) for the L2P statistics; not needed with --stats")
    p.add_argument("--test", required=True, metavar="DIR", help="test BVH files (folder or glob)")
    p.add_argument("--train-subjects", type=_subjects, default=(1, 2, 3, 4), metavar="N,N",
                   help="subjects (from file names, *_subjectN.bvh) kept from --train (default 1,2,3,4: official)")
    p.add_argument("--test-subjects", type=_subjects, default=(5,), metavar="N,N",
                   help="subjects kept from --test (default 5: official)")
    _common(p)
    p = sub.add_parser("inbetween", help="the LAFAN1 protocol on any clips, on the canonical body",
                       description="The LAFAN1 in-betweening protocol on BVH clips retargeted to the canonical body, "
                                   "or on a split of a built corpus.")
    p.add_argument("--test", metavar="DIR", help="BVH clips (folder or glob), retargeted to the canonical body at 30 fps")
    p.add_argument("--corpus", type=Path, metavar="DIR", help="a built corpus: tested on --split unless --test is given; its "
                                               "train split gives the L2P statistics when nothing else does")
    p.add_argument("--split", default="val", help="corpus split to test on (default val)")
    p.add_argument("--sources", nargs="+", metavar="SOURCE", help="only these corpus sources (e.g. bandai1 bandai2)")
    _common(p)
    p = sub.add_parser("blocking", help="keys only, as an animator blocks: every 8/15/30 frames, or two keys 30-120 apart",
                       description="In-betweening from keys alone on held-out takes of a built corpus (the validation "
                                   "split, and LAFAN1 subject 4 as motion unlike the training data): joint error against "
                                   "interpolation's, foot skate and 99th-percentile acceleration against the capture's, "
                                   "velocity jumps at keys.")
    p.add_argument("--corpus", type=Path, required=True, metavar="DIR", help="a built corpus (lmm dataset build)")
    p.add_argument("--model", type=Path, metavar="PATH", help="model file (default: the shipped model)")
    p.add_argument("--method", choices=("network", "next-frame"), default="network",
                   help="network (default): the window network (--model); next-frame: the next-frame in-betweener "
                        "(--next-frame-model)")
    p.add_argument("--next-frame-model", type=Path, metavar="PATH",
                   help="with --method next-frame: its weights (default: the shipped lmm_next_frame_keys.npz)")
    p.add_argument("--variation", type=float, default=1.0,
                   help="temperature of a sampling model's draws, scored as 'sampled' (default 1; 0: not scored)")
    p.add_argument("--windows", type=int, default=40, help="windows per setting and group (default 40)")
    p.add_argument("--no-clean", action="store_true", help="score the network's output before the clean-up users get")
    p.add_argument("--json", type=Path, metavar="OUT", help="write the results here as JSON")
    p.add_argument("--progress", action="store_true", help="show a progress bar per setting and method")


def _log(line: str) -> None:
    print(line, file=sys.stderr)


def run_bench(args: argparse.Namespace) -> int:
    """Run the benchmark that ``args.bench`` names; print the table; write ``args.json``. Returns 0."""
    if args.bench == "blocking":
        return _run_blocking(args)
    if args.bench == "lafan1":
        if args.train is None and args.stats is None:
            raise LMMError("give --train (training files for the L2P statistics) or --stats FILE")
        model = None
        if args.model is not None:
            # The model must work on the test files' skeleton: read it from the first test file.
            first = select_subjects(motion_files(args.test, "test"), args.test_subjects, "test")[:1]
            model = load_inbetweener(args.model, read_clips(first)[0])
        results = run_lafan1(args.train, args.test, stats=args.stats, model=model, train_subjects=args.train_subjects,
                             test_subjects=args.test_subjects, save_stats_to=args.save_stats,
                             show_progress=args.progress, log=_log)
        table = format_table(results, reference=PUBLISHED, reference_label="Harvey 2020, subject 5")
    elif args.bench == "inbetween":
        model = load_inbetweener(args.model, canonical.canonical_skeleton()) if args.model is not None else None
        results = run_inbetween(args.test, corpus=args.corpus, split=args.split, sources=args.sources, model=model,
                                stats=args.stats, save_stats_to=args.save_stats, show_progress=args.progress, log=_log)
        table = format_table(results)
    else:  # argparse only lets the two through
        raise LMMError(f"unknown benchmark {args.bench!r}; use lafan1 or inbetween")
    print(table, end="")
    if args.json is not None:
        with atomic_text_writer(args.json) as f:
            json.dump(results, f, indent=2)
            f.write("\n")
        _log(f"wrote {args.json}")
    return 0


def _run_blocking(args: argparse.Namespace) -> int:
    if not 0 <= args.variation <= 1:
        raise LMMError(f"--variation must be from 0 to 1, got {args.variation}")
    if not 1 <= args.windows <= 10_000:
        raise LMMError(f"--windows must be from 1 to 10000, got {args.windows}")
    if args.method == "next-frame":
        nf = load_next_frame(args.next_frame_model or DEFAULT_KEYS)
        nf.require_canonical("the blocking benchmark (the canonical body's held-out takes)")
        if not nf.cfg.keys:
            raise LMMError(f"{args.next_frame_model} generates but does not in-between (trained without --keys); leave "
                           f"--next-frame-model out for the shipped in-betweener ({DEFAULT_KEYS.name})")
        methods = next_frame_methods(nf, args.variation, clean=not args.no_clean)
    else:
        model = load(args.model)
        if not model.body.is_canonical:
            raise LMMError(f"{args.model}: the blocking benchmark runs on the canonical body; this model works on its own rig")
        methods = model_methods(model, args.variation, clean=not args.no_clean)
    results = run_blocking(held_out_groups(args.corpus), methods, args.windows, show_progress=args.progress)
    print(format_blocking(results))
    if args.json is not None:
        with atomic_text_writer(args.json) as f:
            json.dump(results, f, indent=1)
    return 0
