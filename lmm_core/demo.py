"""The newcomer's first command (``make demo`` / ``lmm demo``): what the project does, on shipped data.

Today it reads the real clips shipped in ``tests/data``, writes each back out (the original frame rate
and a 30 fps copy resampled by slerp), checks that the written file reproduces the motion, retargets
each onto the canonical body (feet pinned), mirrors it, and prints what each clip holds and where the
results are; then, with the shipped model, generates a walk and in-betweens a gap in a real clip.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .bonemap import bone_map_for
from .canonical import canonical_skeleton
from .io import read_bvh, write_bvh
from .mirror import mirror
from .retarget import retarget
from .skeleton import UNITS_TO_METRES

SHIPPED_CLIPS = Path(__file__).resolve().parents[1] / "tests" / "data"


def run_demo(out: Path, clips: Path = SHIPPED_CLIPS) -> int:
    """Run the demo, writing into ``out``; returns a process exit status."""
    out.mkdir(parents=True, exist_ok=True)
    sources = sorted(clips.glob("*.bvh*"))
    if not sources:
        from .errors import LMMError

        raise LMMError(f"no shipped clips found in {clips}; run from a full checkout of the repository")
    for src in sources:
        motion = read_bvh(src)
        sk = motion.skeleton
        stem = src.name.split(".")[0]
        same = write_bvh(motion, out / f"{stem}.bvh")
        at30 = write_bvh(motion.resampled(30), out / f"{stem}_30fps.bvh")
        err = np.abs(read_bvh(same).global_positions() - motion.global_positions()).max() / motion.height()
        print(f"{src.name}")
        print(f"  {sk.num_joints} joints, {motion.num_frames} frames at {motion.fps:g} fps ({motion.duration:.1f} s), "
              f"performer about {motion.height() * UNITS_TO_METRES[sk.units]:.2f} m tall")
        print(f"  wrote {same} (round-trip error {err:.1e} of height) and {at30}")
        canon = retarget(motion, bone_map_for(sk), canonical_skeleton(), bone_map_for(canonical_skeleton(), "canonical"))
        on_canon = write_bvh(canon, out / f"{stem}_canonical.bvh")
        mirrored = write_bvh(mirror(canon), out / f"{stem}_canonical_mirrored.bvh")
        print(f"  retargeted onto the canonical body ({canon.height():.2f} m): {on_canon}; mirrored: {mirrored}")
    _model_demo(out, sources)
    print(f"done: results in {out}/")
    return 0


def _model_demo(out: Path, sources: list[Path]) -> None:
    """Generate a walk and in-between a gap in a real clip with the shipped model."""
    from .model import runtime, tasks

    model = runtime.load()
    walk = tasks.generate("walk", "normal", seconds=4.0, seed=0, model=model)
    print(f"generated 4 s of walking (seed 0) on the canonical body: {write_bvh(walk, out / 'generated_walk.bvh')}")
    clip = read_bvh(sources[0])
    keys = [0, clip.num_frames // 3, clip.num_frames - 1]
    made = tasks.inbetween(clip, keys, model)
    err = np.abs(made.global_positions()[keys] - clip.global_positions()[keys]).max()
    print(f"in-betweened {sources[0].name} between frames {keys} (keys hit to {err:.1e}): "
          f"{write_bvh(made, out / 'inbetween.bvh')}")
