"""build.py without Blender: what gets staged, and the messages when something is missing or wrong.

(Building and installing the real zip is in test_addon_operators.py.)
"""
from __future__ import annotations

import ast
import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _load_build_script():
    # Loaded from its path: "import build" could find PyPA's `build` package instead.
    spec = importlib.util.spec_from_file_location("lmm_build_script", ROOT / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


build = _load_build_script()


@pytest.fixture
def fake_repo(tmp_path) -> Path:
    """A copy of the add-on, core and manifest, plus training code, caches and a preset to sort out."""
    root = tmp_path / "repo"
    ignore = shutil.ignore_patterns("__pycache__")
    shutil.copytree(ROOT / "addon", root / "addon", ignore=ignore)
    shutil.copytree(ROOT / "lmm_core", root / "lmm_core", ignore=ignore)
    shutil.copy2(ROOT / build.MANIFEST, root / build.MANIFEST)
    (root / "lmm_core" / "train").mkdir(exist_ok=True)
    (root / "lmm_core" / "train" / "loop.py").write_text("import torch\n")
    (root / "lmm_core" / "io" / "__pycache__").mkdir()
    (root / "lmm_core" / "io" / "__pycache__" / "bvh.cpython-311.pyc").write_bytes(b"\0")
    (root / "presets" / "rigs").mkdir(parents=True)
    (root / "presets" / "rigs" / "mixamo.json").write_text("{}\n")
    (root / "presets" / "models").mkdir()
    (root / "presets" / "models" / "lmm_sampling.npz").write_bytes(b"\0")
    (root / "presets" / "models" / "lmm_next_frame.npz").write_bytes(b"\0")
    (root / "presets" / "models" / "lmm_next_frame_keys.npz").write_bytes(b"\0")
    return root


def test_stage_ships_addon_core_presets_and_manifest_only(fake_repo):
    staged = build.stage(fake_repo, fake_repo / "build")
    files = {p.relative_to(staged).as_posix() for p in staged.rglob("*") if p.is_file()}
    assert {"__init__.py", "_core.py", "bridge/__init__.py", "bridge/read.py", "bridge/write.py"} <= files
    assert build.MANIFEST in files
    assert {"lmm_core/__init__.py", "lmm_core/io/bvh.py", "presets/rigs/mixamo.json"} <= files
    assert not any(f.startswith("lmm_core/train") or "__pycache__" in f for f in files)
    assert "presets/models/lmm_sampling.npz" not in files  # the panels offer no draws yet
    assert "presets/models/lmm_next_frame.npz" in files  # Generate's Next Frame method
    assert "presets/models/lmm_next_frame_keys.npz" in files  # In-between's Next Frame method
    assert "lmm_core/model/next_frame.py" in files  # numpy: tasks imports it
    # Staging again replaces the folder as a whole and leaves no temporary folders behind.
    (staged / "stale.txt").write_text("old\n")
    assert build.stage(fake_repo, fake_repo / "build") == staged
    assert not (staged / "stale.txt").exists()
    assert [p.name for p in (fake_repo / "build").iterdir()] == ["extension"]


def test_version_mismatch_is_refused(fake_repo):
    manifest = fake_repo / build.MANIFEST
    manifest.write_text(re.sub(r'^version = "', 'version = "9', manifest.read_text(), flags=re.M))
    with pytest.raises(build.BuildError, match="make them equal"):
        build.read_manifest(fake_repo)


def test_missing_pieces_are_named(fake_repo):
    (fake_repo / build.MANIFEST).unlink()
    with pytest.raises(build.BuildError, match="manifest"):
        build.read_manifest(fake_repo)
    with pytest.raises(build.BuildError, match="blender_ext.py"):
        build.find_blender_ext(fake_repo / "nowhere" / "blender_ext.py")


def test_command_line_reports_one_line_and_fails(tmp_path):
    result = subprocess.run(
        [sys.executable, str(ROOT / "build.py"), "--blender-ext", str(tmp_path / "missing.py"),
         "--build-dir", str(tmp_path / "build"), "--dist-dir", str(tmp_path / "dist")],
        capture_output=True, text=True, check=False,
    )
    assert result.returncode == 1
    assert result.stderr.startswith("build.py: ") and "Traceback" not in result.stderr
    assert not (tmp_path / "dist").exists()


def _imports(nodes) -> set[tuple[str, str, str]]:
    """``(module, name, as)`` of the import statements among ``nodes``, a leading ``.lmm_core`` or ``lmm_core``
    written as ``lmm_core``."""
    found = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found |= {(a.name, "", a.asname or a.name) for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            module = "." * node.level + (node.module or "")
            module = re.sub(r"^\.lmm_core", "lmm_core", module)
            found |= {(module, a.name, a.asname or a.name) for a in node.names}
    return {("lmm_core", "", "lmm_core") if f == (".", "lmm_core", "lmm_core") else f for f in found}


def test_core_is_imported_alike_from_the_vendored_copy_and_the_repository():
    tree = ast.parse((ROOT / "addon" / "_core.py").read_text(encoding="utf-8"))
    branch = next(n for n in tree.body if isinstance(n, ast.If))
    vendored, repository = _imports(branch.body), _imports(branch.orelse)
    assert vendored == repository
    assert ("lmm_core.model", "tasks", "tasks") in vendored


def test_only_core_module_imports_lmm_core():
    """Every other add-on module imports the core through ``_core``: the add-on's edges to the core are
    the names ``_core`` lists, and none is loaded by name."""
    for path in sorted((ROOT / "addon").rglob("*.py")):
        if path.name == "_core.py":
            continue
        text = path.read_text(encoding="utf-8")
        modules = {m for m, _, _ in _imports(ast.walk(ast.parse(text)))}
        assert not any(m.startswith(("lmm_core", ".lmm_core")) for m in modules), path
        assert "importlib" not in text, path
