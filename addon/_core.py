"""Where the add-on gets ``lmm_core`` from: the one import point for the rest of ``addon/``.

Installed, the extension is the package ``bl_ext.<repo>.lmm`` and ``build.py`` has copied ``lmm_core``
inside it (``bl_ext.<repo>.lmm.lmm_core``): a stock Blender has no pip, so the core must travel with the
add-on, and a relative import keeps two installed copies (or a ``lmm_core`` on ``sys.path``) from mixing.
In the repository (tests, development) there is no vendored copy and the top-level ``lmm_core`` is used.
The two branches below import the same names (tests/test_addon_build.py checks it).

Only the absence of the vendored copy selects the fallback: an import error *inside* a vendored copy is a
real error and is raised, not hidden behind another copy of the core.

Other add-on modules write ``from ._core import Motion, rotations`` and never import ``lmm_core`` directly,
so this file lists every core module the add-on uses. ``PRESETS_DIR`` is the ``presets/`` folder that travels
with the core (rig maps, export presets, models).
"""
from __future__ import annotations

from importlib.util import find_spec
from pathlib import Path

if find_spec(f"{__package__}.lmm_core") is not None:  # the built extension
    from . import lmm_core
    from .lmm_core import (bonemap, canonical, capture, cleanup, kinematics, mannequin, mirror, placement, plots,
                           retarget, rotations, skeleton, threads)
    from .lmm_core.batch import runner as batch_runner
    from .lmm_core.batch.plan import record_output  # lmm_core.batch's own "plan" is a function
    from .lmm_core.io import atomic
    from .lmm_core import keys
    from .lmm_core.model import runtime, tasks
else:  # the repository
    import lmm_core
    from lmm_core import (bonemap, canonical, capture, cleanup, kinematics, mannequin, mirror, placement, plots,
                          retarget, rotations, skeleton, threads)
    from lmm_core.batch import runner as batch_runner
    from lmm_core.batch.plan import record_output  # lmm_core.batch's own "plan" is a function
    from lmm_core.io import atomic
    from lmm_core import keys
    from lmm_core.model import runtime, tasks

CORE_NAME = lmm_core.__name__

# presets/ sits beside lmm_core, in the repository and in the staged extension alike (see build.py).
PRESETS_DIR = Path(lmm_core.__file__).resolve().parent.parent / "presets"

Motion = lmm_core.Motion
Skeleton = lmm_core.Skeleton
LMMError = lmm_core.LMMError
read_bvh = lmm_core.read_bvh
write_bvh = lmm_core.write_bvh
UNITS_TO_METRES = skeleton.UNITS_TO_METRES

__all__ = [
    "CORE_NAME", "lmm_core", "atomic", "batch_runner", "record_output", "bonemap", "canonical", "capture", "cleanup",
    "keys", "kinematics", "mannequin", "mirror", "placement", "plots", "retarget", "rotations", "runtime", "skeleton", "tasks", "threads",
    "PRESETS_DIR", "Motion", "Skeleton", "LMMError", "read_bvh", "write_bvh", "UNITS_TO_METRES",
]
