"""Where the commands' motion goes: the target rig of ``--to``/``--rig`` and the written result file.

Shared by ``lmm_core.cli`` and ``lmm_core.capture.command`` (each command's module imports this one;
neither imports the other)."""
from __future__ import annotations

from pathlib import Path

from .bonemap import bone_map_for
from .canonical import canonical_skeleton
from .errors import LMMError
from .io import read_bvh, write_bvh
from .motion import Motion
from .retarget import retarget
from .skeleton import Skeleton


def target_rig(spec: str, flag: str = "--to") -> Skeleton:
    """A target rig from ``--to``/``--rig`` (``flag``, for the error): ``canonical`` or a motion file whose
    skeleton and rest pose are the target."""
    if spec == "canonical":
        return canonical_skeleton()
    path = Path(spec)
    if not path.exists():
        raise LMMError(
            f"{flag} {spec!r} is neither 'canonical' nor an existing file; give a BVH whose skeleton and rest pose are the target rig"
        )
    return read_bvh(path).skeleton


def numbered(output: Path, i: int) -> Path:
    """``take_003.bvh.gz`` from ``take.bvh.gz`` for ``i = 3`` (compressed suffixes kept): one file of several."""
    name = output.name
    for suffix in (".bvh.gz", ".bvh.xz", ".bvh"):
        if name.lower().endswith(suffix):
            return output.with_name(f"{name[: -len(suffix)]}_{i:03d}{name[-len(suffix):]}")
    return output.with_name(f"{name}_{i:03d}")


def write_result(motion: Motion, output: Path, rig: str | None = None, source_map: str | None = None) -> None:
    """Write ``motion`` to ``output`` (BVH), first retargeted onto ``rig`` (see ``target_rig``) when given,
    and say what was written."""
    if rig:
        target = target_rig(rig, "--rig")
        motion = retarget(motion, bone_map_for(motion.skeleton, source_map), target,
                          bone_map_for(target, "canonical" if rig == "canonical" else None))
    write_bvh(motion, output)
    print(f"wrote {output}: {motion.num_frames} frames at {motion.fps:g} fps on {motion.skeleton.num_joints} joints")
