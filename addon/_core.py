"""Where the add-on gets ``lmm_core`` from: the one import point for the rest of ``addon/``.

Installed, the extension is the package ``bl_ext.<repo>.lmm`` and ``build.py`` has copied ``lmm_core``
inside it (``bl_ext.<repo>.lmm.lmm_core``): a stock Blender has no pip, so the core must travel with the
add-on, and a relative import keeps two installed copies (or a ``lmm_core`` on ``sys.path``) from mixing.
In the repository (tests, development) there is no vendored copy and the top-level ``lmm_core`` is used.

Only the absence of the vendored copy selects the fallback: an import error *inside* a vendored copy is a
real error and is raised, not hidden behind another copy of the core.

Other add-on modules write ``from ._core import Motion, rotations`` and never import ``lmm_core`` directly.
``PRESETS_DIR`` is the ``presets/`` folder that travels with the core (rig maps, export presets, models).
"""
from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path


def _find_core_name() -> str:
    vendored = f"{__package__}.lmm_core"
    return vendored if importlib.util.find_spec(vendored) is not None else "lmm_core"


CORE_NAME = _find_core_name()
lmm_core = importlib.import_module(CORE_NAME)
rotations = importlib.import_module(f"{CORE_NAME}.rotations")
kinematics = importlib.import_module(f"{CORE_NAME}.kinematics")
bonemap = importlib.import_module(f"{CORE_NAME}.bonemap")
canonical = importlib.import_module(f"{CORE_NAME}.canonical")
retarget = importlib.import_module(f"{CORE_NAME}.retarget")
mirror = importlib.import_module(f"{CORE_NAME}.mirror")
cleanup = importlib.import_module(f"{CORE_NAME}.cleanup")
runtime = importlib.import_module(f"{CORE_NAME}.model.runtime")
tasks = importlib.import_module(f"{CORE_NAME}.model.tasks")
threads = importlib.import_module(f"{CORE_NAME}.threads")

# presets/ sits beside lmm_core, in the repository and in the staged extension alike (see build.py).
PRESETS_DIR = Path(lmm_core.__file__).resolve().parent.parent / "presets"

Motion = lmm_core.Motion
Skeleton = lmm_core.Skeleton
LMMError = lmm_core.LMMError
read_bvh = lmm_core.read_bvh
write_bvh = lmm_core.write_bvh
UNITS_TO_METRES = importlib.import_module(f"{CORE_NAME}.skeleton").UNITS_TO_METRES

__all__ = [
    "CORE_NAME", "lmm_core", "rotations", "kinematics", "bonemap", "canonical", "retarget", "mirror", "cleanup",
    "runtime", "tasks", "PRESETS_DIR", "Motion", "Skeleton", "LMMError", "read_bvh", "write_bvh", "UNITS_TO_METRES",
]
