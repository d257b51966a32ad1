"""Finding the motion files a benchmark runs on: a folder, a glob pattern or one file."""
from __future__ import annotations

import glob
from pathlib import Path

from ..errors import LMMError

BVH_SUFFIXES = (".bvh", ".bvh.gz", ".bvh.xz")


def is_bvh(path: Path) -> bool:
    return path.name.lower().endswith(BVH_SUFFIXES)


def motion_files(spec: str | Path, what: str = "motion") -> list[Path]:
    """The BVH files (``.bvh``, ``.bvh.gz``, ``.bvh.xz``) that ``spec`` names, sorted by path.

    ``spec`` is a folder (its files, not its subfolders), a glob pattern such as
    ``data/lafan1/*_subject4.bvh.xz``, or one file. ``what`` names the files in error messages
    ("test", "training").
    """
    text = str(spec)
    path = Path(text)
    if path.is_dir():
        found = sorted(p for p in path.iterdir() if p.is_file() and is_bvh(p))
        if not found:
            raise LMMError(f"no BVH files (.bvh, .bvh.gz, .bvh.xz) in the {what} folder {path}")
        return found
    if path.is_file():
        if not is_bvh(path):
            raise LMMError(f"{path}: not a BVH file (.bvh, .bvh.gz, .bvh.xz)")
        return [path]
    if glob.has_magic(text):
        found = sorted(Path(p) for p in glob.glob(text) if Path(p).is_file() and is_bvh(Path(p)))
        if not found:
            raise LMMError(f"no BVH files match the {what} pattern {text!r}")
        return found
    raise LMMError(f"{what} files: {text} is neither a folder, a file nor a glob pattern that exists")
