"""Pre-training data for the LAFAN1 benchmark model: our canonical corpus retargeted onto LAFAN1's skeleton.

The benchmark model (``benchmarks/models/lafan1.npz``) reads and writes LAFAN1's own 22-joint skeleton, so
capture from the other sources must first be put on that skeleton. This writes one BVH per take of the
corpus's training split (Bandai 1-2, ReActIdle, CMU 131, cmu_iclone; never LAFAN1, never a validation take)
retargeted onto the skeleton of a LAFAN1 file, named ``pre<source>_<n>.bvh`` so that the file-name labels
(``dataset.name_labels``: the part before the first ``_``) say where each came from. The files are training
data for a research benchmark artefact under their sources' licences (see the model card); they are
written to ``out/`` and never committed.

    python benchmarks/lafan1_pretrain_data.py --corpus out/corpus_all --out out/lafan1_pre

Then train on them and LAFAN1 together (``lmm train --bvh out/lafan1_pre``, after linking the LAFAN1
training files into the same folder; the model card has the commands).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lmm_core import dataset  # noqa: E402
from lmm_core.bonemap import bone_map_for  # noqa: E402
from lmm_core.canonical import canonical_skeleton  # noqa: E402
from lmm_core.io.bvh import read_bvh, write_bvh  # noqa: E402
from lmm_core.motion import Motion  # noqa: E402
from lmm_core.progress import progress  # noqa: E402
from lmm_core.retarget import retarget  # noqa: E402

SOURCES = ["bandai1", "bandai2", "reactidle", "cmu", "cmu_iclone"]
# Shorter takes cannot hold one protocol window (10 context frames, a 45-frame gap, the key).
MIN_FRAMES = 56


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", default="out/corpus_all", help="a built canonical corpus (lmm dataset build)")
    ap.add_argument("--lafan1", default=str(Path(__file__).resolve().parents[2] / "shared/data/lafan1/walk4_subject1.bvh.xz"),
                    help="any LAFAN1 file: its skeleton is the target")
    ap.add_argument("--out", default="out/lafan1_pre", help="output folder for the BVH files")
    args = ap.parse_args(argv)

    target = read_bvh(args.lafan1).skeleton
    canon = canonical_skeleton()
    src_map, tgt_map = bone_map_for(canon), bone_map_for(target)
    infos, arrays = dataset.load(Path(args.corpus), split="train", sources=SOURCES)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    start, written, frames = 0, 0, 0
    count = {s: 0 for s in SOURCES}
    for info in progress(infos, desc="retarget onto LAFAN1", unit="take"):
        rot = np.asarray(arrays["rotations"][start:start + info.frames], dtype=np.float64)
        root = np.asarray(arrays["root"][start:start + info.frames], dtype=np.float64)
        start += info.frames
        if info.frames < MIN_FRAMES:
            continue
        motion = Motion(canon, rot, root, 30.0)  # a built corpus is at 30 fps whatever the source was
        moved = retarget(motion, src_map, target, tgt_map)
        count[info.source] += 1
        write_bvh(moved, out / f"pre{info.source.replace('_', '')}_{count[info.source]:04d}.bvh")
        written += 1
        frames += info.frames
    print(f"{written} takes, {frames} frames ({frames / 30 / 3600:.2f} h at 30 fps) in {out}: "
          + ", ".join(f"{s} {n}" for s, n in count.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
