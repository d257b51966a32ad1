"""Motion file formats (no Blender): BVH now; SMPL/AMASS parameters through ``smplx``."""
from .bvh import format_bvh, parse_bvh, read_bvh, write_bvh

__all__ = ["read_bvh", "write_bvh", "parse_bvh", "format_bvh"]
