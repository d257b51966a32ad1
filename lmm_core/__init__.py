"""LMM core: motion representation, kinematics, file formats and the model runtime. Never imports bpy or torch."""
from .errors import LMMError, MotionFileError
from .io import read_bvh, write_bvh
from .motion import Motion
from .skeleton import Skeleton

__version__ = "0.1.0"
__all__ = ["Motion", "Skeleton", "LMMError", "MotionFileError", "read_bvh", "write_bvh", "__version__"]
