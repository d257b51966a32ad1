"""The ``lmm`` command line.

Each subcommand is a ``(name, add_arguments, run)`` entry; ``run`` gets the parsed arguments and
returns an exit status. Errors the user can fix (``LMMError``) print as one line on stderr with a
non-zero exit; anything else is a bug and keeps its traceback.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Callable

from .errors import LMMError
from .skeleton import UNITS_TO_METRES

Command = tuple[str, str, Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int]]


def _describe(path: Path) -> dict:
    from .io import read_bvh

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
        print(f"  height    {d['height']:.3f} {d['units']} (about {d['height_m']:.2f} m; units guessed from the height)")
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
    from .io import read_bvh, write_bvh

    if not (args.scale > 0):
        raise LMMError(f"--scale must be positive, got {args.scale}")
    motion = read_bvh(args.input)
    if args.scale != 1.0:
        motion = motion.scaled(args.scale)
    if args.fps:
        motion = motion.resampled(args.fps)
    write_bvh(motion, args.output, order=args.order)
    print(f"wrote {args.output}: {motion.num_frames} frames at {motion.fps:g} fps, {motion.skeleton.num_joints} joints")
    return 0


def _target_rig(spec: str):
    """A target rig from ``--to``: ``canonical`` or a motion file whose skeleton and rest pose are the target."""
    from .canonical import canonical_skeleton
    from .io import read_bvh

    if spec == "canonical":
        return canonical_skeleton()
    path = Path(spec)
    if not path.exists():
        raise LMMError(
            f"--to {spec!r} is neither 'canonical' nor an existing file; give a BVH whose skeleton and rest pose are the target rig"
        )
    return read_bvh(path).skeleton


def _retarget_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("input", type=Path, help="source motion (BVH)")
    p.add_argument("--to", required=True, metavar="RIG", help="'canonical' or a BVH file whose skeleton and rest pose are the target")
    p.add_argument("-o", "--output", type=Path, required=True, help="output BVH")
    p.add_argument("--source-map", help="bone map preset or .toml for the source (default: automatic mapping)")
    p.add_argument("--target-map", help="bone map preset or .toml for the target (default: automatic mapping)")
    p.add_argument("--in-place", action="store_true", help="remove horizontal root travel (turns and heights stay)")
    p.add_argument("--no-feet", action="store_true", help="do not pin feet during contacts")


def _retarget(args: argparse.Namespace) -> int:
    from .bonemap import bone_map_for
    from .io import read_bvh, write_bvh
    from .retarget import retarget

    motion = read_bvh(args.input)
    target = _target_rig(args.to)
    src_map = bone_map_for(motion.skeleton, args.source_map)
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
    from .io import read_bvh, write_bvh
    from .mirror import mirror

    motion = read_bvh(args.input)
    write_bvh(mirror(motion), args.output)
    print(f"wrote {args.output}: {motion.num_frames} frames mirrored across the character's sagittal plane")
    return 0


def _dataset_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", choices=["build"], help="build: convert every dataset onto the canonical body")
    p.add_argument("--out", type=Path, required=True, help="output folder for shards and index.json")
    p.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data",
                   help="the motion capture folder (default ../shared/data)")
    p.add_argument("--sources", nargs="*", help="only these sources (bandai1 bandai2 reactidle cmu lafan1)")
    p.add_argument("--jobs", type=int, default=1, help="worker processes")


def _dataset(args: argparse.Namespace) -> int:
    from .dataset import build, summary

    index = build(args.data, args.out, sources=args.sources, jobs=args.jobs)
    print(summary(index))
    print(f"wrote {args.out}/index.json and {len({c.shard for c in index})} shard(s)")
    return 0


def _demo_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", type=Path, default=Path("out/demo"), help="output folder (default out/demo)")


def _demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    return run_demo(args.out)


COMMANDS: list[Command] = [
    ("info", "print what a motion file holds: joints, frames, fps, duration, height", _info_args, _info),
    ("convert", "BVH to BVH with another rotation order, scale or frame rate", _convert_args, _convert),
    ("retarget", "put a motion onto another rig (bone maps from presets or automatic)", _retarget_args, _retarget),
    ("mirror", "mirror a motion left-right across the character's own sagittal plane", _mirror_args, _mirror),
    ("dataset", "build the canonical training corpus from ../shared/data", _dataset_args, _dataset),
    ("demo", "run the newcomer's demo on the shipped clips and print where the results are", _demo_args, _demo),
]


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(prog="lmm", description="LMM, the Large Movement Model: motion tools for animators and engines.")
    parser.add_argument("--version", action="version", version=f"lmm {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, help_text, add_arguments, run in COMMANDS:
        p = sub.add_parser(name, help=help_text, description=help_text)
        add_arguments(p)
        p.set_defaults(run=run)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except LMMError as exc:
        print(f"lmm {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"lmm {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
