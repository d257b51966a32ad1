"""Recreate the small real excerpts in tests/data from ../shared/data (run from the repo root).

Only datasets whose licenses allow redistribution of excerpts are used: ReActIdle (MIT) and CMU
(free to use). The header and the first frames are copied byte for byte; only ``Frames:`` changes,
so the excerpts keep the real files' quirks (CRLF, mixed line ends, channel layouts).
"""
from __future__ import annotations

import lzma
import re
import sys
from pathlib import Path

EXCERPTS = [
    ("reactidle/acted/001_acted.bvh.xz", "reactidle_001_acted_excerpt.bvh.xz", 240),
    ("cmu/131_03.bvh.xz", "cmu_131_03_hop_excerpt.bvh.xz", 360),
]


def excerpt(src: Path, dst: Path, frames: int) -> None:
    raw = lzma.decompress(src.read_bytes())
    head, _, body = raw.partition(b"MOTION")
    lines = body.splitlines(keepends=True)
    # lines[0] is the rest of the MOTION line, then Frames:, Frame Time:, data.
    out = [b"MOTION", lines[0]]
    out.append(re.sub(rb"\d+", str(frames).encode(), lines[1], count=1))
    out.append(lines[2])
    out.extend(lines[3 : 3 + frames])
    dst.write_bytes(lzma.compress(head + b"".join(out)))


if __name__ == "__main__":
    shared = Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/data")
    here = Path(__file__).resolve().parent
    for src, dst, n in EXCERPTS:
        excerpt(shared / src, here / dst, n)
        print("wrote", here / dst)
