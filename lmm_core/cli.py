"""The ``lmm`` command line.

Each subcommand is a ``(name, add_arguments, run)`` entry; ``run`` gets the parsed arguments and
returns an exit status. Errors the user can fix (``LMMError``) print as one line on stderr with a
non-zero exit; anything else is a bug and keeps its traceback.
"""
from __future__ import annotations

import argparse
import json
import math
import re
import sys
from pathlib import Path
from typing import Callable

import numpy as np

from . import __version__
from . import validate
from .bonemap import bone_map_for
from .errors import LMMError
from .io import read_bvh, write_bvh
from .io.atomic import check_output, check_output_folder
from .mirror import mirror
from .model.next_frame import load as load_next_frame
from .model.runtime import load as load_model
from .model.tasks import (COMPLETE_METHODS, GENERATION_METHODS, INBETWEEN_METHODS, check_rollouts, complete, generate, inbetween, intent,
                          goal_note, network_note)
from .results import numbered, target_rig, write_result
from .retarget import retarget, zero_pose_frame
from .rotations import EULER_ORDERS
from .skeleton import UNITS_TO_METRES

# The commands that work on motion files (info ... intent) import their modules above. The rest
# (dataset, capture, train, bench, demo, batch) import theirs when they run, as Blender's importers do:
# `lmm info` and `lmm inbetween` do not pay for batch, capture or the benchmarks, and `lmm train` alone
# imports torch. Only the command being run builds its arguments (``build_parser(only=...)``).

Command = tuple[str, str, Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int]]


def _describe(path: Path) -> dict:
    motion = read_bvh(path)
    sk = motion.skeleton
    height = motion.height()
    return {
        "file": str(path),
        "joints": sk.num_joints,
        "joint_names": list(sk.names),
        "root": sk.names[0],
        "frames": motion.num_frames,
        "fps": motion.fps,
        "duration_s": motion.duration,
        "units": sk.units,
        "height": height,
        "height_m": height * UNITS_TO_METRES[sk.units],
        "rotation_orders": sorted(set(sk.rotation_orders)),
        "left_right_pairs": len(sk.pairs),
        "end_sites": len(sk.end_sites),
        "animated_joint_translations": motion.translations is not None,
    }


def _info_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("files", nargs="+", type=Path, help="motion files (.bvh, .bvh.gz, .bvh.xz)")
    p.add_argument("--json", action="store_true", help="print one JSON object per file")


def _info(args: argparse.Namespace) -> int:
    for path in args.files:
        d = _describe(path)
        if args.json:
            print(json.dumps(d))
            continue
        print(f"{d['file']}")
        print(f"  joints    {d['joints']} (root {d['root']}, {d['left_right_pairs']} left/right pairs, {d['end_sites']} end sites)")
        print(f"  frames    {d['frames']} at {d['fps']:g} fps = {d['duration_s']:.2f} s")
        print(f"  height    {d['height']:.3f} {d['units']} (about {d['height_m']:.2f} m; units guessed from the leg length)")
        print(f"  rotations Euler {', '.join(d['rotation_orders'])}"
              + ("; joints other than the root have animated translations" if d["animated_joint_translations"] else ""))
    return 0


def _convert_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("input", type=Path, help="input BVH (.bvh, .bvh.gz, .bvh.xz)")
    p.add_argument("output", type=Path, help="output BVH (compressed when it ends in .gz or .xz)")
    p.add_argument("--order", help="Euler order for every joint, e.g. zyx or xyz (default: keep each joint's)")
    p.add_argument("--scale", type=float, default=1.0, help="multiply every length (e.g. 0.01 for cm to m)")
    p.add_argument("--fps", type=float, help="resample to this frame rate (slerp, not frame dropping)")


def _convert(args: argparse.Namespace) -> int:
    if args.order is not None and args.order.lower() not in EULER_ORDERS:
        raise LMMError(f"unknown Euler order {args.order!r}; use one of {', '.join(EULER_ORDERS)}")
    motion = read_bvh(args.input)  # --scale and --fps were range-checked before (_preflight)
    if args.scale != 1.0:
        motion = motion.scaled(args.scale)
    if args.fps is not None:
        validate.frame_count(int(np.ceil(motion.duration * args.fps)) + 1, f"{args.input} resampled to {args.fps:g} fps")
        motion = motion.resampled(args.fps)
    write_bvh(motion, args.output, order=args.order)
    print(f"wrote {args.output}: {motion.num_frames} frames at {motion.fps:g} fps, {motion.skeleton.num_joints} joints")
    return 0


def _retarget_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("input", type=Path, help="source motion (BVH)")
    p.add_argument("--to", required=True, metavar="RIG", help="'canonical' or a BVH file whose skeleton and rest pose are the target")
    p.add_argument("-o", "--output", type=Path, required=True, help="output BVH")
    p.add_argument("--source-map", help="bone map preset or .toml for the source (default: automatic mapping)")
    p.add_argument("--target-map", help="bone map preset or .toml for the target (default: automatic mapping)")
    p.add_argument("--in-place", action="store_true", help="remove horizontal root travel (turns and heights stay)")
    p.add_argument("--no-feet", action="store_true", help="do not pin feet during contacts")
    p.add_argument("--rest-frame", type=int, metavar="N",
                   help="take the source's rest pose from its frame N (numbered from 0), one where it stands with its "
                        "legs down, a T-pose best (a BVH exported with a zero rest pose, as Character Creator's, whose "
                        "legs point up at rest, is otherwise bound as it stands on its first upright frame)")


def _retarget(args: argparse.Namespace) -> int:
    motion = read_bvh(args.input)
    if args.rest_frame is not None:
        if args.rest_frame >= motion.num_frames:
            raise LMMError(f"--rest-frame {args.rest_frame}: {args.input} has frames 0-{motion.num_frames - 1}")
        motion = motion.rest_from(args.rest_frame)
    target = target_rig(args.to)
    src_map = bone_map_for(motion.skeleton, args.source_map)
    frame = zero_pose_frame(motion, src_map)
    if frame is not None:
        print(f"note: {args.input.name}'s rest pose has its legs pointing up (a zero pose, as Character Creator "
              f"exports), so its bones are aimed as it stands on frame {frame} instead; --rest-frame N picks "
              "another frame where it stands with its legs down (a T-pose best)", file=sys.stderr)
    tgt_map = bone_map_for(target, "canonical" if args.to == "canonical" else args.target_map)
    out = retarget(motion, src_map, target, tgt_map, root_motion="in_place" if args.in_place else "keep",
                   fix_feet=not args.no_feet)
    write_bvh(out, args.output)
    print(f"wrote {args.output}: {out.num_frames} frames on {target.num_joints} joints "
          f"(source map {src_map.source or src_map.rig}, target map {tgt_map.source or tgt_map.rig})")
    return 0


def _mirror_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("input", type=Path, help="motion (BVH)")
    p.add_argument("-o", "--output", type=Path, required=True, help="output BVH")


def _mirror(args: argparse.Namespace) -> int:
    motion = read_bvh(args.input)
    write_bvh(mirror(motion), args.output)
    print(f"wrote {args.output}: {motion.num_frames} frames mirrored across the character's sagittal plane")
    return 0


def _dataset_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", choices=["build"], help="build: convert every dataset onto the canonical body")
    p.add_argument("--out", type=Path, required=True, help="output folder for shards and index.json")
    p.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data",
                   help="the motion capture folder (default ../shared/data)")
    p.add_argument("--sources", nargs="*", help="only these sources (bandai1 bandai2 reactidle cmu cmu_iclone lafan1)")
    p.add_argument("--jobs", type=int, default=1, help="worker processes")


def _dataset(args: argparse.Namespace) -> int:
    from .dataset import build, summary

    index = build(args.data, args.out, sources=args.sources, jobs=args.jobs)
    print(summary(index))
    print(f"wrote {args.out}/index.json and {len({c.shard for c in index})} shard(s)")
    return 0


def _model_args(p: argparse.ArgumentParser, output: bool = True) -> None:
    p.add_argument("--model", type=Path, help="model weights (.npz); default: the shipped model")
    if output:
        p.add_argument("-o", "--output", type=Path, required=True, help="output BVH")
        p.add_argument("--rig", help="write onto this rig instead: 'canonical' or a BVH whose skeleton and rest pose are the target")


def _write_result(motion, args: argparse.Namespace) -> None:
    write_result(motion, args.output, getattr(args, "rig", None))


def _parse_keys(text: str) -> list[int]:
    try:
        keys = [int(k) for k in text.replace(" ", "").split(",") if k]
    except ValueError:
        raise LMMError(f"--keys must be frame numbers separated by commas, like 0,20,45; got {text!r}") from None
    for k in keys:
        validate.number(k, "each of --keys", 0, validate.max_frames() - 1, integer=True,
                        hint="frames count from 0")
    if len(set(keys)) < 2:
        raise LMMError(f"--keys needs at least two different frames to in-between, like 0,20,45; got {text!r}")
    return keys


def _inbetween_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("input", type=Path, help="motion (BVH) holding the key frames")
    p.add_argument("--keys", required=True, help="frames to keep, e.g. 0,20,45; all others are made")
    p.add_argument("--action", help="optional action label to steer the in-between")
    p.add_argument("--style", help="optional style label")
    p.add_argument("--method", choices=INBETWEEN_METHODS, default="auto",
                   help="auto (default): with --model alone, the window network; with --next-frame-model alone, "
                        "the next-frame in-betweener; else each gap to one network: the window network for gaps of "
                        "more than 30 frames (at 30 fps) after 3 frames' time keyed frame by frame (motion to "
                        "carry on), the next-frame in-betweener for keys alone, shorter gaps and any draw; network: "
                        "the window network for every gap; next-frame: the next-frame in-betweener for every gap, "
                        "which steps from key to key where the window network glides")
    p.add_argument("--next-frame-model", type=Path, metavar="FILE",
                   help="the next-frame in-betweener's weights for --method next-frame and auto (default: the "
                        "shipped one)")
    p.add_argument("--rollouts", type=int, metavar="N",
                   help="the next-frame in-betweener's rollouts per gap of 20 frames or more, the one that keeps its "
                        "feet kept (default 8, 16 from 45 frames; 1: about twice as fast, feet slide more)")
    _draw_args(p)
    _model_args(p)


def _draw_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--variation", type=float, default=0.0,
                   help="0 to 1: with a next-frame network or a sampling window model, draw one of the motions that "
                        "fit (the temperature of the draw); 0 (default): the deterministic answer")
    p.add_argument("--seed", type=int, default=0, help="which draw (with --variation above 0); the same seed, the same motion")


def _check_method_files(args: argparse.Namespace) -> None:
    """``--model`` belongs to the window network, ``--next-frame-model`` to the next-frame one: one given for the
    other method would be ignored, so it is refused."""
    if args.method == "next-frame" and args.model is not None:
        raise LMMError("--model is the window network's file; with --method next-frame give --next-frame-model (or "
                       "leave both out for the shipped files)")
    if args.method == "network" and args.next_frame_model is not None:
        raise LMMError("--next-frame-model is the next-frame network's file, which --method network does not use; "
                       "leave it out, or give --method next-frame")


def _inbetween(args: argparse.Namespace) -> int:
    _check_method_files(args)
    keys = _parse_keys(args.keys)
    if args.rollouts is not None:  # before the clip is read
        if args.method == "network":
            raise LMMError("--rollouts counts the next-frame in-betweener's rollouts, which --method network does not use")
        if args.method == "auto" and args.model is not None and args.next_frame_model is None:
            raise LMMError("--rollouts counts the next-frame in-betweener's rollouts; with --model named alone, --method "
                           "auto gives every gap to that window network: leave --rollouts out, or add --method "
                           "next-frame or --next-frame-model")
        check_rollouts(args.rollouts)
    motion = read_bvh(args.input)
    result = inbetween(motion, keys, args.model, action=args.action, style=args.style, seed=args.seed,
                       variation=args.variation, method=args.method, next_frame=args.next_frame_model,
                       rollouts=args.rollouts)
    _write_result(result, args)
    note = network_note(result)
    if note:
        print(f"note: {note}", file=sys.stderr)
    first, last, end = min(keys), max(keys), motion.num_frames - 1
    if first > 0 or last < end:  # only frames between keys are made: say what the ends became
        held = " and ".join(f"{a}-{b}" for a, b in ((0, first - 1), (last + 1, end)) if a <= b)
        ends = ",".join(str(f) for f, outside in ((0, first > 0), (end, last < end)) if outside)
        print(f"note: frames {held} are outside the keys ({first}-{last}) and hold the nearest key's pose (only frames "
              f"between keys are made); add {ends} to --keys to have them made too, or list them all to keep them as "
              "they were", file=sys.stderr)
    return 0


def _complete_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("input", type=Path, help="motion (BVH) to continue")
    p.add_argument("--frames", type=int, required=True, help="how many frames to add (at the input's frame rate)")
    p.add_argument("--action", help="optional action label")
    p.add_argument("--style", help="optional style label")
    p.add_argument("--samples", type=int, default=1,
                   help="draw this many futures (seeds --seed, --seed+1, ...; needs --variation above 0), written as "
                        "OUTPUT_001.bvh, OUTPUT_002.bvh, ...")
    p.add_argument("--method", choices=COMPLETE_METHODS, default="network",
                   help="network (default): the window network (--model); next-frame: the next-frame generator "
                        "carrying the motion on one frame at a time")
    p.add_argument("--next-frame-model", type=Path, metavar="FILE",
                   help="the next-frame generator's weights for --method next-frame (default: the shipped one)")
    p.add_argument("--guidance", type=float, metavar="G",
                   help="with --method next-frame and --action or --style: how much more the labels weigh than the "
                        "motion so far (classifier-free guidance; default the file's own: 1.75 for the shipped "
                        "generator; 1: none)")
    _draw_args(p)
    _model_args(p)


def _complete(args: argparse.Namespace) -> int:
    if not 1 <= args.samples <= 100:
        raise LMMError(f"--samples must be from 1 to 100, got {args.samples}")
    if args.samples > 1 and args.variation == 0:
        raise LMMError("--samples above 1 draws several futures: give --variation above 0 (e.g. 1)")
    if args.guidance is not None and args.method != "next-frame":
        raise LMMError("--guidance weighs the next-frame generator's labels: give --method next-frame")
    _check_method_files(args)
    motion = read_bvh(args.input)
    if args.method == "next-frame":
        model, nf = None, load_next_frame(args.next_frame_model)  # once for every future
    else:
        model, nf = load_model(args.model), None
    for i in range(args.samples):
        made = complete(motion, args.frames, model, action=args.action, style=args.style, seed=args.seed + i,
                        variation=args.variation, method=args.method, next_frame=nf, guidance=args.guidance)
        out = args.output if args.samples == 1 else numbered(args.output, i + 1)
        write_result(made, out, getattr(args, "rig", None))
    return 0


def _generate_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--action", required=True, help="e.g. walk, run, wave-right-hand, bow, idle (an unknown one lists what the model can generate)")
    p.add_argument("--style", help="e.g. normal, tired, happy, elderly")
    p.add_argument("--seconds", type=float,
                   help="length of the new motion (default 4; with --to and no --at, until it arrives)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--method", choices=GENERATION_METHODS, default=GENERATION_METHODS[0],
                   help="next-frame (default): the next-frame network alone, sampling one frame at a time (no "
                        "recorded motion); segments: recorded segments of the action joined by the window network "
                        "(the segments file shipped beside the model); network: the window network alone, window "
                        "after window (a sampling model's draws; a model that does not sample gives its average, "
                        "which slows to a stand)")
    p.add_argument("--variation", type=float,
                   help="0 to 1: with next-frame, the spread of each frame's draw (default 1, the spread it "
                        "learned); with segments, the chance at each join of switching to another recorded segment "
                        "rather than repeating one (default 0.5; seeds differ at 0 too); with network, the draws' "
                        "temperature (default 0.5)")
    p.add_argument("--next-frame-model", type=Path, metavar="FILE",
                   help="the next-frame network's weights for --method next-frame (default: the shipped one)")
    p.add_argument("--guidance", type=float, metavar="G",
                   help="with --method next-frame: how much more the action and style weigh than the motion so far "
                        "(classifier-free guidance; default the file's own: 1.75 for a generator; 1: none; more makes "
                        "the action plainer and the motion less varied)")
    goal = p.add_argument_group("goals (with --method next-frame or network)")
    goal.add_argument("--to", type=_ground_point, metavar="X,Z",
                      help="walk to this ground point, metres (Y up: X and Z are the floor), from where it starts")
    goal.add_argument("--facing", type=float, metavar="DEG",
                      help="facing there, degrees about the up axis (0: +Z, 90: +X; default: the way it walked)")
    goal.add_argument("--at", type=float, metavar="SECONDS",
                      help="when it gets there (default: at the action's own pace, or the end of the clip if later)")
    goal.add_argument("--path", type=Path, metavar="FILE",
                      help="follow a root path: a CSV of time,x,z rows (seconds, metres) or a BVH whose pelvis track "
                           "to follow, moved to start where the character stands")
    p.add_argument("--reach", nargs=3, action="append", metavar=("JOINT", "X,Y,Z", "SECONDS"),
                   help="bring a wrist or ankle (left_wrist, right_wrist, left_ankle, right_ankle) to a point in "
                        "metres (Y up) at a time; repeatable; either method")
    _model_args(p)


def _ground_point(text: str) -> tuple[float, float]:
    """``--to X,Z``: two finite numbers."""
    try:
        x, z = (float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"give the point as X,Z in metres, e.g. --to 3,-1.5 (got {text!r})") from None
    if not (np.isfinite(x) and np.isfinite(z)):
        raise argparse.ArgumentTypeError(f"--to needs finite numbers, got {text!r}")
    return x, z


def _reach_arg(values: list[str]) -> tuple[str, tuple[float, float, float], float]:
    """``--reach JOINT X,Y,Z SECONDS`` as ``generate``'s ``reach`` item."""
    joint, point, seconds = values
    try:
        x, y, z = (float(v) for v in point.split(","))
        at = float(seconds)
    except ValueError:
        raise LMMError(f"--reach {' '.join(values)}: give JOINT X,Y,Z SECONDS, e.g. --reach right_wrist 0.3,1.5,0.4 "
                       "2.0") from None
    return joint, (x, y, z), at


def _generate(args: argparse.Namespace) -> int:
    if args.model is not None and args.method == "next-frame" and not args.reach:
        # Before 2026-12-07 --model alone chose the window model whose segments to join: say so, not ignore it.
        raise LMMError("--model names a window model, which the next-frame generator (the default method) uses only "
                       "for --reach; give --method segments (its recorded segments) or --method network to generate "
                       "with it, or --next-frame-model for another next-frame file")
    # Walking to a point with neither --seconds nor --at: the clip ends where it arrives, as Blender's Walk To 3D
    # Cursor does (it used to walk on past the point until the 4 s default ran out).
    until_there = args.to is not None and args.seconds is None and args.at is None
    seconds = args.seconds if args.seconds is not None else (
        min(120.0, float(np.hypot(*args.to)) / 0.4 + 2.0) if until_there else 4.0)  # long enough for a slow walk
    reach = [_reach_arg(r) for r in args.reach or []]
    made = generate(args.action, args.style, seconds, args.seed, args.variation, args.model,
                    method=args.method, to=args.to, facing=args.facing, at=args.at, path=args.path,
                    reach=reach, next_frame=args.next_frame_model, guidance=args.guidance)
    for joint, target, at in reach:  # a point out of the limb's range is reached towards, not reached: say so
        if joint in made.skeleton.names:
            frame = min(int(round(at * made.fps)), made.num_frames - 1)
            miss = float(np.linalg.norm(made.global_positions()[frame, made.skeleton.names.index(joint)] - target))
            if miss > 0.01:
                print(f"note: {joint} ends {miss * 100:.0f} cm from {','.join(f'{v:g}' for v in target)} at {at:g} s: "
                      "the point is out of its reach from where the body stands (the character's right is -X)",
                      file=sys.stderr)
    said = goal_note(made)  # a goal sooner than the action's own pace: the feet slide; say so
    if said:
        print(f"note: {said}", file=sys.stderr)
    if until_there:  # the pelvis is exactly at the point on the frame it arrives
        arrive = int(np.argmin(np.linalg.norm(made.root_positions[:, [0, 2]] - np.asarray(args.to), axis=1)))
        made = made.slice(0, arrive + 1)
    _write_result(made, args)
    return 0


def _intent_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("input", type=Path, help="motion (BVH)")
    p.add_argument("--seconds", type=float, help="read only the first seconds (default: the first window)")
    p.add_argument("--top", type=int, default=5, help="how many labels to print")
    p.add_argument("--json", action="store_true")
    _model_args(p, output=False)


def _intent(args: argparse.Namespace) -> int:
    result = intent(read_bvh(args.input), args.model, args.seconds)
    if args.json:
        print(json.dumps(result))
        return 0
    for kind in ("action", "style"):
        top = list(result[kind].items())[: args.top]
        print(f"{kind:<7}" + "  ".join(f"{name} {p:.0%}" for name, p in top))
    return 0


def _train_args(p: argparse.ArgumentParser) -> None:
    from .train import config as train_config  # no torch: that is imported only when training runs

    train_config.add_arguments(p)
    p.add_argument("--resume", action="store_true", help="continue from the run folder's checkpoint")
    p.add_argument("--export", type=Path, help="write the numpy weights file here at the end")


def _train(args: argparse.Namespace) -> int:
    from .train import config as train_config

    cfg = train_config.from_arguments(args)  # every value checked before any work
    shape = train_config.new_model_shape(args)
    if args.export is not None and not args.export.parent.is_dir():
        raise LMMError(f"--export {args.export}: the folder {args.export.parent} does not exist; create it first")
    try:  # the one command that needs torch
        from .train.export import export
        from .train.loop import rank, train
        from .train.sources import default_model_config
    except ImportError as exc:
        if not ((exc.name or "").startswith("torch") or "torch" in str(exc)):
            raise  # another missing piece is a bug, not a missing install
        raise LMMError(f"lmm train needs torch ({exc}); install it with `pip install torch`") from None
    if args.init_from and not args.resume:
        from .train.checkpoint import warm_start

        warm_start(Path(args.init_from))  # a broken file is refused before the run folder is made

    model_cfg = None
    if not args.resume and not args.init_from:
        model_cfg = default_model_config(cfg, **shape)
    ckpt = train(cfg, model_cfg, resume=args.resume)
    if rank() != 0:  # under torchrun only the first process reports and exports
        return 0
    print(f"checkpoint: {ckpt}")
    if args.export:
        print(f"weights: {export(ckpt, args.export)}")
    return 0


def _train_next_frame_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--corpus", type=Path, default=Path("out/corpus"), help="built corpus (lmm dataset build)")
    p.add_argument("--out", type=Path, default=Path("out/next_frame"), help="run folder (checkpoint, log.jsonl)")
    p.add_argument("--sources", default="bandai1,bandai2,reactidle,cmu,cmu_iclone", help="corpus sources, comma-separated")
    p.add_argument("--bvh", metavar="FILES",
                   help="train on these BVH files (folder or glob) on their own 22-joint skeleton instead of the "
                        "corpus, labelled by their names: a benchmark model (LAFAN1's protocol); the product's "
                        "commands refuse it")
    p.add_argument("--steps", type=int, default=12_000,
                   help="training steps (0 with --init-from: that network saved as it is, e.g. with new --start-pairs)")
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--rollout", type=int, default=8, help="frames each window is rolled out on its own predictions")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--beta", type=float, default=0.3, help="weight of the latent's KL term")
    p.add_argument("--hidden", type=int, default=512)
    p.add_argument("--layers", type=int, default=3)
    p.add_argument("--latent", type=int, default=32)
    p.add_argument("--speed-augment", type=float, default=0.1, help="each window at its own pace, up to 1+S times")
    p.add_argument("--label-dropout", type=float, default=0.1, help="share of windows shown without their labels")
    p.add_argument("--skate-weight", type=float, default=0.01, help="weight of the planted-foot loss (0: off)")
    p.add_argument("--skim-weight", type=float, default=0.0,
                   help="weight of the skimming-foot loss: how much more made feet within 3.4 cm of their standing "
                        "height move sideways than the captured ones at that frame (0: off)")
    p.add_argument("--start-pairs", type=int, default=None, metavar="N",
                   help="start pairs per action, the real frames generation may begin from, drawn anew with --seed "
                        "(default: a run with --init-from keeps its file's, a fresh run draws 8)")
    p.add_argument("--stance-weight", type=float, default=0.0,
                   help="weight of the standing-foot loss: how much faster the made slower toe moves sideways than "
                        "the captured one at that frame, at any height (0: off)")
    p.add_argument("--first-layer-labels", dest="label_layers", action="store_false",
                   help="give the labels to the first layer only (the default gives them to every layer)")
    p.add_argument("--schedule", type=_shares, default=(0.1, 0.5), metavar="A,B",
                   help="shares of the run between which the frames fed back go from true to the network's own "
                        "(default 0.1,0.5; 0,0: its own from the start, for a run that goes on from another)")
    p.add_argument("--relative-root", dest="absolute_root", action="store_false",
                   help="predict the height, travel and turn as a change from the last frame's (the default "
                        "predicts them as they are)")
    p.add_argument("--no-positions", dest="positions", action="store_false",
                   help="do not show the network the joints' positions and velocities")
    p.add_argument("--keys", action="store_true",
                   help="train an in-betweener: each step is told the next key and how far off it is (goes on "
                        "from a generator's --init-from with the key inputs added)")
    p.add_argument("--max-gap", type=int, default=120, help="with --keys: the farthest a key lies ahead, frames")
    p.add_argument("--still-start", type=float, default=0.25,
                   help="with --keys: share of windows begun from a standing key, as keys-only blocking starts")
    p.add_argument("--root-keys", type=float, default=0.0, metavar="SHARE",
                   help="with --keys: share of windows whose key is the pelvis alone (where it stands and faces), "
                        "as goals give it (walk to a point, follow a path); 0: the network takes whole poses only")
    p.add_argument("--arrive", type=float, default=0.0, metavar="SHARE",
                   help="with --keys: share of steps rolled out the whole way to a key 30 to --max-gap frames off "
                        "(fewer windows, as many frames)")
    p.add_argument("--protocol-gaps", action="store_true",
                   help="with --keys: every step rolls from true frames the whole way to a key after 1 to --max-gap made "
                        "frames, as the in-betweening benchmark (LAFAN1's protocol) poses its windows")
    p.add_argument("--push-share", type=float, default=0.0, metavar="SHARE",
                   help="share of windows pushed 15-40 degrees over where the rollout starts, the capture to follow "
                        "returning to its course within half a second: the network learns to recover from a shove")
    p.add_argument("--balance", type=float, default=0.0, metavar="P",
                   help="draw rarer actions' windows more often: each clip's weigh (its action's frames) ** -P "
                        "(0: every window alike, the default; 0.5: a 2,000-frame gesture six times as often against "
                        "80,000 frames of idle)")
    p.add_argument("--prior-share", type=float, default=0.0, metavar="SHARE",
                   help="share of windows rolled out with the latent at its mean (z = 0, as --variation 0 rolls at run "
                        "time where the action has no prior of its own) instead of the encoder's draw (default 0)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--init-from", type=Path, help="go on from a checkpoint.pt or an exported weights file")
    p.add_argument("--export", type=Path, help="write the numpy weights file here at the end")


def _shares(text: str) -> tuple[float, float]:
    """``--schedule A,B``: two shares of a run, 0 <= A <= B <= 1."""
    try:
        a, b = (float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"give two shares of the run as A,B, e.g. 0.1,0.5 (got {text!r})") from None
    if not 0 <= a <= b <= 1:
        raise argparse.ArgumentTypeError(f"the shares must satisfy 0 <= A <= B <= 1, got {text!r}")
    return a, b


def _train_next_frame(args: argparse.Namespace) -> int:
    if args.export is not None and not args.export.parent.is_dir():
        raise LMMError(f"--export {args.export}: the folder {args.export.parent} does not exist; create it first")
    if not args.bvh and not (args.corpus / "index.json").exists():
        raise LMMError(f"--corpus {args.corpus} holds no built corpus; build one with `lmm dataset build --out {args.corpus}` "
                       "(or train on BVH files of one skeleton with --bvh)")
    try:
        from .train.next_frame import NextFrameTrainConfig, export, train_next_frame
    except ImportError as exc:
        if not ((exc.name or "").startswith("torch") or "torch" in str(exc)):
            raise
        raise LMMError(f"lmm train-next-frame needs torch ({exc}); install it with `pip install torch`") from None
    tc = NextFrameTrainConfig(corpus=args.corpus, bvh=args.bvh, out=args.out, sources=tuple(s for s in args.sources.split(",") if s),
                              steps=args.steps, batch=args.batch, rollout=args.rollout, lr=args.lr, beta=args.beta,
                              hidden=args.hidden, layers=args.layers, latent=args.latent,
                              speed_augment=args.speed_augment, label_dropout=args.label_dropout,
                              skate_weight=args.skate_weight, skim_weight=args.skim_weight, stance_weight=args.stance_weight, label_layers=args.label_layers,
                              positions=args.positions,
                              absolute_root=args.absolute_root, schedule=args.schedule, keys=args.keys,
                              max_gap=args.max_gap, still_start=args.still_start,
                              root_keys=args.root_keys, arrive=args.arrive, protocol_gaps=args.protocol_gaps, push_share=args.push_share, balance=args.balance, prior_share=args.prior_share, start_pairs=args.start_pairs or 0, threads=args.threads, seed=args.seed, init_from=args.init_from)
    if tc.init_from is not None:
        from .train.next_frame import check_warm_start

        check_warm_start(tc)  # a wrong file is refused before minutes of data loading
    ckpt = train_next_frame(tc)
    print(f"checkpoint: {ckpt}")
    if args.export:
        print(f"weights: {export(ckpt, args.export)}")
    return 0


def _batch_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("job", type=Path, help="job file (TOML; see docs/batch.md and examples/batch_job.toml)")
    p.add_argument("--shard", metavar="I/N", help="run only shard I of N (1-based), e.g. one per farm machine")
    p.add_argument("--jobs", type=int, default=1, help="Blender worker processes on this machine (default 1)")
    p.add_argument("--out", type=Path, help="output folder (default: the job's [job] output)")
    p.add_argument("--force", action="store_true", help="make every output again, finished or not")
    p.add_argument("--task-timeout", type=float, metavar="S", help="stop a task (and its worker) after S seconds")
    p.add_argument("--dry-run", action="store_true", help="check the job and list what would run; run nothing")
    p.add_argument("--profile", type=Path, metavar="DIR", help="save cProfile statistics of each task in DIR")


def _batch(args: argparse.Namespace) -> int:
    from .batch import check_tasks, load_job, parse_shard, plan, run_job

    shard = parse_shard(args.shard)  # --jobs and --task-timeout were range-checked before (_preflight)
    job = load_job(args.job, args.out)
    if args.dry_run:
        planned = plan(job, shard, args.force)
        # What a run would find before Blender: inputs readable, rigs mappable, keys in range, models readable.
        problems = check_tasks(job, [p.task for p in planned if p.todo])
        for p in planned:
            state = f"make {', '.join(p.todo)}" if p.todo else "finished (skip)"
            if p.task.id in problems:
                state = "WOULD FAIL: " + problems[p.task.id].split("): ", 1)[-1]
            print(f"{p.task.id:<32} {p.task.type:<10} {state}")
        print(f"{len(planned)} of {len(job.tasks)} tasks in shard {shard[0]}/{shard[1]}; "
              f"{sum(bool(p.todo) for p in planned)} to run; outputs in {job.output}/")
        if problems:
            first = next(iter(problems.values()))
            more = f" (and {len(problems) - 1} more listed above)" if len(problems) > 1 else ""
            raise LMMError(f"{len(problems)} task(s) would fail: {first}{more}")
        return 0
    summary = run_job(job, shard, args.jobs, force=args.force, task_timeout=args.task_timeout,
                      profile_dir=args.profile)
    print(summary.text())
    return 1 if summary.failed else 0


def _demo_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", type=Path, default=Path("out/demo"), help="output folder (default out/demo)")
    p.add_argument("--jobs", type=int, default=2, help="Blender worker processes (default 2)")
    p.add_argument("--force", action="store_true", help="make everything again (default: reuse finished results)")
    p.add_argument("--preview-frames", type=int, metavar="N", help="render at most N frames per preview (a quick look)")


def _demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    return run_demo(args.out, jobs=args.jobs, force=args.force, preview_frames=args.preview_frames)


def _capture_args(p: argparse.ArgumentParser) -> None:
    from .capture.command import add_arguments

    add_arguments(p)


def _capture(args: argparse.Namespace) -> int:
    from .capture.command import run

    return run(args)


def _bench_args(p: argparse.ArgumentParser) -> None:
    from .bench.cli import add_bench_arguments

    add_bench_arguments(p)


def _bench(args: argparse.Namespace) -> int:
    from .bench.cli import run_bench

    return run_bench(args)


COMMANDS: list[Command] = [
    ("info", "print what a motion file holds: joints, frames, fps, duration, height", _info_args, _info),
    ("convert", "BVH to BVH with another rotation order, scale or frame rate", _convert_args, _convert),
    ("retarget", "put a motion onto another rig (bone maps from presets or automatic)", _retarget_args, _retarget),
    ("mirror", "mirror a motion left-right across the character's own sagittal plane", _mirror_args, _mirror),
    ("dataset", "build the canonical training corpus from ../shared/data", _dataset_args, _dataset),
    ("inbetween", "keep the listed frames of a clip and make the frames between them", _inbetween_args, _inbetween),
    ("complete", "continue a clip for N frames (prediction, trajectory included)", _complete_args, _complete),
    ("generate", "make new motion for an action and style", _generate_args, _generate),
    ("intent", "which action and style a clip's first frames show", _intent_args, _intent),
    ("capture", "motion from calibrated cameras' videos (BlazePose) or 2D keypoints (COCO-17, BODY_25): triangulate, solve, BVH", _capture_args, _capture),
    ("train", "train the model on the canonical corpus (needs torch)", _train_args, _train),
    ("train-next-frame", "train the next-frame network that generates one frame at a time (needs torch)",
     _train_next_frame_args, _train_next_frame),
    ("bench", "in-betweening benchmarks: the LAFAN1 protocol, or any clips on the canonical body", _bench_args, _bench),
    ("demo", "the newcomer's demo in headless Blender: generate, in-between, retarget, export, preview", _demo_args,
     _demo),
    ("batch", "run a job file of tasks headless in Blender: exports, previews, resumable, sharded", _batch_args,
     _batch),
]


def _range(low, high, integer: bool = False, low_open: bool = False):
    return lambda value, name: validate.number(value, name, low, high, integer=integer, low_open=low_open)


_SEED = lambda value, name: validate.seed(value, name)  # noqa: E731
_SHARE = _range(0.0, 1.0)
_WORKERS = _range(1, 256, integer=True)
# Every numeric option's accepted range, by command and option (its ``dest``), checked before the command
# runs (``_preflight``); a float option not listed here must still be finite. lmm train checks its own
# (train/config.py).
OPTION_RANGES: dict[str, dict[str, Callable]] = {
    "convert": {"fps": lambda v, n: validate.fps(v, n), "scale": _range(1e-6, 1e6)},
    "dataset": {"jobs": _WORKERS},
    "retarget": {"rest_frame": _range(0, 10 ** 9, integer=True)},
    "inbetween": {"seed": _SEED, "variation": _SHARE},
    "complete": {"frames": lambda v, n: validate.frames(v, n), "seed": _SEED, "variation": _SHARE,
                 "samples": _range(1, 100, integer=True), "guidance": _range(0.0, 10.0)},
    "generate": {"seconds": lambda v, n: validate.seconds(v, n), "seed": _SEED, "variation": _SHARE,
                 "at": lambda v, n: validate.seconds(v, n), "guidance": _range(0.0, 10.0)},
    "intent": {"seconds": lambda v, n: validate.seconds(v, n), "top": _range(1, 10_000, integer=True)},
    "capture": {"fps": lambda v, n: validate.fps(v, n), "max_offset": _range(0, 10_000, integer=True),
                "threshold": _range(0.0, 1e5, low_open=True), "smooth": _range(0.0, 60.0),
                "min_pause": _range(0.0, 3600.0, low_open=True), "pause_speed": _range(0.0, 100.0, low_open=True),
                "length_sd": _range(0.0, 1.0)},
    "train-next-frame": {"steps": _range(0, 10_000_000, integer=True), "start_pairs": _range(1, 1000, integer=True), "batch": _range(1, 65_536, integer=True),
                         "rollout": _range(1, 120, integer=True), "lr": _range(0.0, 1.0, low_open=True),
                         "beta": _range(0.0, 1e3), "hidden": _range(8, 8192, integer=True),
                         "layers": _range(1, 16, integer=True), "latent": _range(1, 1024, integer=True),
                         "speed_augment": _range(0.0, 1.0), "label_dropout": _SHARE, "skate_weight": _range(0.0, 1e3),
                         "skim_weight": _range(0.0, 1e3), "stance_weight": _range(0.0, 1e3), "max_gap": _range(2, 1000, integer=True), "still_start": _SHARE, "root_keys": _SHARE, "arrive": _SHARE, "push_share": _SHARE, "balance": _range(0.0, 2.0), "prior_share": _SHARE,
                         "threads": _range(1, 256, integer=True), "seed": _SEED},
    "batch": {"jobs": _WORKERS, "task_timeout": _range(0.0, 1e7, low_open=True)},
    "demo": {"jobs": _WORKERS, "preview_frames": lambda v, n: validate.frames(v, n)},
}
# Text options that must not be empty (an empty --action would generate from every action at once).
NON_EMPTY = {"generate": ("action",)}
# Options that name an output file (checked to be writable before any work) or an output folder.
OUTPUT_FILES = {"convert": ("output",), "retarget": ("output",), "mirror": ("output",), "inbetween": ("output",),
                "complete": ("output",), "generate": ("output",), "capture": ("output",), "train": ("export",), "train-next-frame": ("export",),
                "bench": ("json", "save_stats")}
BVH_OUTPUTS = {"convert", "retarget", "mirror", "inbetween", "complete", "generate", "capture"}  # -o is a BVH
OUTPUT_FOLDERS = {"dataset": ("out",), "train": ("out",), "train-next-frame": ("out",), "batch": ("out", "profile"), "demo": ("out",)}


def _flag(dest: str) -> str:
    return "--" + dest.replace("_", "-")


def _preflight(args: argparse.Namespace) -> None:
    """Before a command does any work: every numeric option finite and in its range (``OPTION_RANGES``), every
    output file writable and every output folder makeable (``io.atomic``); an ``LMMError`` otherwise."""
    ranges = OPTION_RANGES.get(args.command, {})
    for dest, value in vars(args).items():
        if value is None or isinstance(value, bool) or not isinstance(value, (int, float)) or args.command == "train":
            continue  # (lmm train checks each of its options in train/config.py)
        if dest in ranges:
            ranges[dest](value, _flag(dest))
        elif isinstance(value, float) and not math.isfinite(value):
            raise LMMError(f"{_flag(dest)} must be a finite number, got {value}")
    for dest in NON_EMPTY.get(args.command, ()):
        if not str(getattr(args, dest, "") or "").strip():
            raise LMMError(f"{_flag(dest)} must not be empty; give a name, e.g. {_flag(dest)} walk")
    for dest in OUTPUT_FILES.get(args.command, ()):
        path = getattr(args, dest, None)
        if path is not None and dest == "output" and args.command in BVH_OUTPUTS \
                and not str(path).lower().endswith((".bvh", ".bvh.gz", ".bvh.xz")):
            # A BVH written under another name (out.fbx) is a file no engine reads as what it says it is.
            raise LMMError(f"-o {path}: lmm {args.command} writes BVH; name it .bvh (or .bvh.gz, .bvh.xz). For FBX "
                           "or glTF for Unity, Unreal or Godot, use `lmm batch` with outputs = [\"unity\"] (docs/"
                           "batch.md) or Blender's export")
        if path is not None:
            several = getattr(args, "split", False) or getattr(args, "samples", 1) > 1
            check_output(numbered(path, 1) if several else path)
    for dest in OUTPUT_FOLDERS.get(args.command, ()):
        if getattr(args, dest, None) is not None:
            check_output_folder(getattr(args, dest), _flag(dest))


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The ``lmm`` parser; with ``only``, the other commands are listed but their arguments not built."""
    parser = argparse.ArgumentParser(prog="lmm", description="LMM, the Large Movement Model: motion tools for animators and engines.")
    parser.add_argument("--version", action="version", version=f"lmm {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, help_text, add_arguments, run in COMMANDS:
        p = sub.add_parser(name, help=help_text, description=help_text)
        if only is None or name == only:
            add_arguments(p)
        p.set_defaults(run=run, command_parser=p)
    return parser


# A list of coordinates that starts with a minus (``--to -2,-1.5``, ``--reach right_wrist -0.3,1.4,0.4 2``): argparse
# would take it for an option. No option holds a comma, so such a token is given a leading space, which the
# number parsers ignore.
_COORDINATES = re.compile(r"^-[0-9.]+(,-?[0-9.]*)+$")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    argv = [" " + a if _COORDINATES.match(a) else a for a in argv]
    named = next((a for a in argv if not a.startswith("-")), None)
    parser = build_parser(named if named in {c[0] for c in COMMANDS} else None)
    args, extra = parser.parse_known_args(argv)
    if extra:  # what follows the command is refused by its own parser, so the usage printed is the command's
        before = argv[:argv.index(args.command)] if args.command in argv else argv
        wrong = [a.strip() for a in extra]
        (parser if any(a in before for a in extra) else args.command_parser).error(
            "unrecognized arguments: " + " ".join(wrong))
    try:
        _preflight(args)
        return args.run(args)
    except LMMError as exc:
        print(f"lmm {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"lmm {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
