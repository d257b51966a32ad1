"""The built extension in real Blender: build.py's zip, installed with Blender's own extension installer
(into a throwaway local repository), enabled, and its operators run on real motion capture."""
from __future__ import annotations

import importlib
import lzma
import tomllib
import types
import zipfile
from pathlib import Path

import numpy as np
import pytest

bpy = pytest.importorskip("bpy", reason="needs the bpy module (real headless Blender): pip install bpy==5.0.1")

import addon_utils  # noqa: E402  (ships with bpy)
import blender_rigs as rigs  # noqa: E402
import lmm_core  # noqa: E402
from lmm_core import read_bvh  # noqa: E402

pytestmark = pytest.mark.blender

ROOT = Path(__file__).resolve().parents[1]
CLIPS = {  # name: (fixture of the folder, file, a bone near the top, a bone near the feet)
    "lafan1": ("shared_data", "lafan1/push1_subject2.bvh.xz", "Head", "LeftToe"),
    "reactidle": ("shared_data", "reactidle/genuine/010_genuine.bvh.xz", "face", "foot.L"),
    "cmu_excerpt": ("test_data", "cmu_131_03_hop_excerpt.bvh.xz", "Head", "LeftToe"),
}


def clip_path(request, name: str) -> Path:
    folder, file = CLIPS[name][:2]
    path = request.getfixturevalue(folder) / file
    if not path.is_file():
        pytest.skip(f"{path} is missing")
    return path


@pytest.fixture(scope="module")
def built_zip() -> Path:
    """``python build.py`` into a temporary build and dist folder, once per test process."""
    return rigs.built_zip()


@pytest.fixture(scope="module")
def installed(built_zip):
    """The zip installed with Blender's own installer into a throwaway local repository (the user's
    extension folders are never touched): that folder and the add-on's module name, ``bl_ext.<repo>.lmm``."""
    yield rigs.installed_extension()
    bpy.ops.wm.read_factory_settings(use_empty=True)  # disables the add-on and forgets the repository


@pytest.fixture
def scene(installed):
    """A fresh factory scene with the installed extension enabled. Factory settings forget the repository
    and disable add-ons, so both come back here; the installed files stay in the folder."""
    rigs.enable_extension()
    return bpy.context.scene


def test_zip_holds_the_addon_and_core_without_training_code(built_zip):
    with zipfile.ZipFile(built_zip) as zf:
        names = set(zf.namelist())
        manifest = tomllib.loads(zf.read("blender_manifest.toml").decode())
    assert built_zip.name == f"lmm-{lmm_core.__version__}.zip"
    assert {"__init__.py", "bridge/__init__.py", "operators.py", "panels.py", "preferences.py", "_core.py"} <= names
    assert {"lmm_core/__init__.py", "lmm_core/io/bvh.py", "lmm_core/rotations.py"} <= names
    assert not any(n.startswith("lmm_core/train/") or "__pycache__" in n or n.endswith(".pyc") for n in names)
    assert (manifest["id"], manifest["version"], manifest["type"]) == ("lmm", lmm_core.__version__, "add-on")
    assert manifest["license"] == ["SPDX:GPL-3.0-or-later"] and manifest["blender_version_min"] == "4.2.0"


def test_installed_extension_registers_and_uses_its_own_core(scene, installed):
    directory, module = installed
    for op in (bpy.types.LMM_OT_import_bvh, bpy.types.LMM_OT_export_bvh):
        assert {"REGISTER", "UNDO"} <= op.bl_options
    assert bpy.ops.lmm.import_bvh.poll() and bpy.ops.lmm.export_bvh.poll()
    assert bpy.types.VIEW3D_PT_lmm.bl_category == "LMM"
    prefs = bpy.context.preferences.addons[module].preferences
    assert (prefs.model_path, prefs.threads) == ("", 0)
    core = importlib.import_module(f"{module}._core")
    assert core.CORE_NAME == f"{module}.lmm_core"  # the vendored copy, not the repository's
    assert Path(core.lmm_core.__file__).is_relative_to(directory)
    used = [m for m in vars(core).values() if isinstance(m, types.ModuleType)]
    assert len(used) > 10 and all(m.__name__.startswith(core.CORE_NAME) for m in used)
    if any(p.is_file() for p in (ROOT / "presets").rglob("*")):  # same layout as the repository
        assert (Path(core.lmm_core.__file__).parent.parent / "presets").is_dir()
    addon_utils.disable(module)  # unregisters cleanly, and registers again
    assert not hasattr(bpy.types, "LMM_OT_import_bvh")
    addon_utils.enable(module, default_set=True)
    assert hasattr(bpy.types, "LMM_OT_import_bvh")


@pytest.mark.parametrize("key", list(CLIPS))
def test_import_then_export_reproduces_the_file(scene, request, tmp_path, key):
    path = clip_path(request, key)
    top, bottom = CLIPS[key][2:]
    original = read_bvh(path)
    assert bpy.ops.lmm.import_bvh(filepath=str(path)) == {"FINISHED"}
    obj = bpy.context.active_object
    assert obj.type == "ARMATURE" and len(obj.data.bones) == original.skeleton.num_joints
    assert (scene.render.fps, scene.frame_start, scene.frame_end) == (original.fps, 1, original.num_frames)
    # Z up in metres: at the first frame the head is well above the foot.
    heads, _ = rigs.world_bone_points(obj, range(1, 2), [top, bottom])
    scale = lmm_core.skeleton.UNITS_TO_METRES[original.skeleton.units]
    assert heads[0, 0, 2] - heads[0, 1, 2] > 0.5 * original.height() * scale

    out = tmp_path / "out.bvh"
    assert bpy.ops.lmm.export_bvh(filepath=str(out), units="m") == {"FINISHED"}
    back = read_bvh(out, units="m")
    assert back.skeleton.names == original.skeleton.names
    assert (back.num_frames, back.fps) == (original.num_frames, original.fps)
    error = np.abs(back.global_positions() - original.global_positions() * scale).max()
    assert error < 1e-4 * original.height() * scale


def test_import_scale_multiplies_lengths(scene, request):
    path = clip_path(request, "cmu_excerpt")
    bpy.ops.lmm.import_bvh(filepath=str(path))
    full = np.array([b.head_local for b in bpy.context.active_object.data.bones])
    bpy.ops.lmm.import_bvh(filepath=str(path), scale=0.5, units="cm")  # not CMU units but cm, then half
    half = np.array([b.head_local for b in bpy.context.active_object.data.bones])
    factor = 0.5 * 0.01 / lmm_core.skeleton.UNITS_TO_METRES["cmu"]
    assert np.allclose(half, full * factor, rtol=1e-5, atol=1e-6)


def _truncated_copy(request, tmp_path: Path) -> Path:
    text = lzma.decompress(clip_path(request, "cmu_excerpt").read_bytes())
    path = tmp_path / "truncated.bvh"
    path.write_bytes(text[: int(len(text) * 0.6)])
    return path


@pytest.mark.parametrize(
    "case, expected",
    [
        ("export_nothing_selected", "no armature selected"),
        ("export_empty_active", "no armature selected"),
        ("export_missing_folder", "does not exist"),
        ("import_missing_file", "file not found"),
        ("import_truncated", "truncated"),
        ("import_not_bvh", "not a BVH file"),
    ],
)
def test_bad_input_is_reported_in_one_sentence(scene, request, tmp_path, case, expected):
    """Bad input cancels with one reported line (bpy raises it as RuntimeError "Error: ..."), no traceback,
    and leaves neither objects nor files behind."""
    if case == "export_empty_active":
        empty = bpy.data.objects.new("empty", None)
        scene.collection.objects.link(empty)
        bpy.context.view_layer.objects.active = empty
    if case == "export_missing_folder":
        rigs.make_rig(rigs.RIGIFY_STYLE, "rig")
    objects = len(bpy.data.objects)
    path = {
        "import_missing_file": tmp_path / "missing.bvh",
        "import_truncated": _truncated_copy(request, tmp_path) if case == "import_truncated" else None,
        "import_not_bvh": tmp_path / "notes.bvh",
        "export_missing_folder": tmp_path / "no" / "such" / "folder" / "out.bvh",
    }.get(case, tmp_path / "out.bvh")
    if case == "import_not_bvh":
        path.write_text("these are my notes, not motion\n")
    op = bpy.ops.lmm.export_bvh if case.startswith("export") else bpy.ops.lmm.import_bvh
    with pytest.raises(RuntimeError) as info:
        op(filepath=str(path))
    message = str(info.value).strip()
    assert expected in message and "Traceback" not in message and "\n" not in message
    assert len(bpy.data.objects) == objects
    if case.startswith("export"):
        assert not path.exists()
