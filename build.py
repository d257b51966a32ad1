"""Build the Blender extension zip with Blender's own extension builder.

    python build.py [--build-dir build] [--dist-dir dist] [--blender-ext PATH]

1. Stage into ``build/extension/``: the contents of ``addon/`` (the package root), ``lmm_core/`` without its
   training code (torch never ships), ``presets/`` when it has files, and ``blender_manifest.toml``.
2. Package with ``blender_ext.py build`` (it ships in the bpy wheel under
   ``<version>/scripts/addons_core/bl_pkg/cli/``) and check the zip with ``blender_ext.py validate``,
   tags checked against Blender's own list.
3. Move the zip to ``dist/<id>-<version>.zip``; it is built under a temporary name, so a failed build
   never leaves a half-written or stale-looking zip.

Every problem ends the build with one message naming it and the fix (exit status 1).
"""
from __future__ import annotations

import argparse
import glob
import os
import re
import shutil
import site
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent
MANIFEST = "blender_manifest.toml"
CORE_EXCLUDE = ("train",)  # lmm_core subpackages that need torch or data, never shipped
# Preset files the extension does not ship: the sampling model (19 MB) until the panels offer its draws. The
# next-frame networks ship (6 and 7 MB): Generate offers the generator as a Method (and Walk To 3D Cursor),
# In-between the in-betweener.
PRESETS_EXCLUDE = ("lmm_sampling.npz",)
_BUILDER_IN_BPY = "scripts/addons_core/bl_pkg/cli/blender_ext.py"
_TAGS_IN_BPY = "scripts/modules/_bpy_internal/extensions/tags.py"


class BuildError(Exception):
    """A build problem the user can fix; the message says how."""


def find_blender_ext(explicit: str | Path | None = None) -> Path:
    """Path of Blender's extension builder: ``explicit``, ``$LMM_BLENDER_EXT``, or the bpy wheel's copy."""
    for given in (explicit, os.environ.get("LMM_BLENDER_EXT")):
        if given:
            path = Path(given)
            if not path.is_file():
                raise BuildError(f"Blender's extension builder not found at {path}; pass the path of blender_ext.py")
            return path
    roots = [*site.getsitepackages(), site.getusersitepackages(), *sys.path]
    for root in dict.fromkeys(roots):
        found = sorted(glob.glob(os.path.join(root, "bpy", "*", _BUILDER_IN_BPY)))
        if found:
            return Path(found[-1])
    try:  # a bpy installed somewhere unusual still knows where its scripts are
        import bpy  # noqa: PLC0415 (slow, only as a last resort)

        path = Path(bpy.utils.system_resource("SCRIPTS")) / "addons_core/bl_pkg/cli/blender_ext.py"
        if path.is_file():
            return path
    except ImportError:
        pass
    raise BuildError(
        "Blender's extension builder (blender_ext.py) was not found: install the bpy wheel in this Python "
        "(pip install bpy==5.0.1) or pass --blender-ext PATH"
    )


def read_manifest(root: Path = ROOT) -> dict:
    """The manifest, checked for what the build relies on (id, version equal to ``lmm_core.__version__``)."""
    path = root / MANIFEST
    if not path.is_file():
        raise BuildError(f"{path} is missing; the extension needs its manifest at the repository top level")
    try:
        manifest = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise BuildError(f"{path} is not valid TOML: {exc}") from None
    for key in ("id", "version"):
        if not isinstance(manifest.get(key), str):
            raise BuildError(f"{path} has no {key!r}; add it")
    init = root / "lmm_core" / "__init__.py"
    if not init.is_file():
        raise BuildError(f"{init} is missing; run build.py from the repository")
    match = re.search(r'^__version__\s*=\s*["\']([^"\']+)["\']', init.read_text(encoding="utf-8"), re.M)
    if match is None or match.group(1) != manifest["version"]:
        found = match.group(1) if match else "none"
        raise BuildError(
            f"{MANIFEST} says version {manifest['version']} but lmm_core.__version__ is {found}; make them equal"
        )
    return manifest


def _ignore_for(core_dir: Path):
    """A ``copytree`` ignore: caches and dot-files everywhere, ``CORE_EXCLUDE`` at the top of lmm_core,
    ``PRESETS_EXCLUDE`` among the presets."""

    def ignore(directory: str, names: list[str]) -> set[str]:
        skip = {n for n in names if n == "__pycache__" or n.endswith(".pyc") or n.startswith(".")}
        if Path(directory) == core_dir:
            skip |= set(CORE_EXCLUDE) & set(names)
        if Path(directory).parent.name == "presets" or Path(directory).name == "presets":
            skip |= set(PRESETS_EXCLUDE) & set(names)
        return skip

    return ignore


def stage(root: Path = ROOT, build_dir: Path | None = None) -> Path:
    """Stage the extension's files into ``<build_dir>/extension`` (replaced as a whole); returns it."""
    build_dir = Path(build_dir or root / "build")
    addon, core, presets = root / "addon", root / "lmm_core", root / "presets"
    if not (addon / "__init__.py").is_file():
        raise BuildError(f"{addon / '__init__.py'} is missing; the add-on package is incomplete")
    if (addon / "lmm_core").exists():
        raise BuildError(f"{addon / 'lmm_core'} exists, but build.py places lmm_core there; remove it")
    build_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".extension-", dir=build_dir))
    try:
        ignore = _ignore_for(core)
        shutil.copytree(addon, tmp, ignore=ignore, dirs_exist_ok=True)
        shutil.copytree(core, tmp / "lmm_core", ignore=ignore)
        if presets.is_dir() and any(p.is_file() for p in presets.rglob("*")):
            shutil.copytree(presets, tmp / "presets", ignore=ignore)
        shutil.copy2(root / MANIFEST, tmp / MANIFEST)
        final = build_dir / "extension"
        if final.exists():
            old = Path(tempfile.mkdtemp(prefix=".old-", dir=build_dir))
            os.replace(final, old / "extension")
            shutil.rmtree(old)
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def _run_builder(builder: Path, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, str(builder), *args], capture_output=True, text=True, check=False
    )
    output = (result.stdout + result.stderr).strip()
    if result.returncode != 0:
        raise BuildError(f"blender_ext.py {args[0]} failed:\n{output}")
    return output


def package(staged: Path, dist_dir: Path, builder: Path, manifest: dict) -> Path:
    """Build and validate ``<dist_dir>/<id>-<version>.zip`` from the staged folder; returns its path."""
    dist_dir.mkdir(parents=True, exist_ok=True)
    name = f"{manifest['id']}-{manifest['version']}.zip"
    tags = builder.parents[3] / _TAGS_IN_BPY  # .../<version>/scripts/... -> Blender's list of valid tags
    tag_args = [f"--valid-tags={tags}"] if tags.is_file() else []
    tmp = Path(tempfile.mkdtemp(prefix=".build-", dir=dist_dir))
    try:
        zip_tmp = tmp / name
        _run_builder(builder, "build", "--source-dir", str(staged), "--output-filepath", str(zip_tmp), *tag_args)
        _run_builder(builder, "validate", *tag_args, str(zip_tmp))
        final = dist_dir / name
        os.replace(zip_tmp, final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final


def build(root: Path = ROOT, build_dir: Path | None = None, dist_dir: Path | None = None,
          blender_ext: str | Path | None = None) -> Path:
    """Stage and package the extension; returns the zip's path."""
    manifest = read_manifest(root)
    builder = find_blender_ext(blender_ext)
    staged = stage(root, build_dir)
    return package(staged, Path(dist_dir or root / "dist"), builder, manifest)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build-dir", type=Path, help="staging folder's parent (default: build/)")
    parser.add_argument("--dist-dir", type=Path, help="where the zip goes (default: dist/)")
    parser.add_argument("--blender-ext", help="path of Blender's blender_ext.py (default: found in the bpy wheel)")
    args = parser.parse_args(argv)
    try:
        path = build(ROOT, args.build_dir, args.dist_dir, args.blender_ext)
    except BuildError as exc:
        print(f"build.py: {exc}", file=sys.stderr)
        return 1
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
