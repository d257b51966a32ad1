"""Shared fixtures: where the real motion capture lives, and small real clips shipped in tests/data."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TEST_DATA = ROOT / "tests" / "data"
SHARED_DATA = Path(os.environ.get("LMM_SHARED_DATA", ROOT.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` (or ``$LMM_SHARED_DATA``); tests that need it skip where it is missing."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real motion capture not found at {SHARED_DATA} (set LMM_SHARED_DATA)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def test_data() -> Path:
    """Small real clips shipped with the repository (ReActIdle, CMU excerpts)."""
    return TEST_DATA


@pytest.fixture
def hop_corpus(tmp_path: Path) -> Path:
    """A built canonical corpus (``lmm dataset build``) of the shipped CMU hop excerpt, every clip in the train
    split: the smallest real corpus a training run can read (source ``cmu``)."""
    import json
    import shutil

    from lmm_core import dataset

    data = tmp_path / "data"
    (data / "cmu").mkdir(parents=True)
    shutil.copy(TEST_DATA / "cmu_131_03_hop_excerpt.bvh.xz", data / "cmu" / "131_03.bvh.xz")
    corpus = tmp_path / "corpus"
    index = dataset.build(data, corpus, show_progress=False)
    for c in index:
        c.split = "train"
    (corpus / "index.json").write_text(json.dumps({"fps": 30.0, "clips": [c.__dict__ for c in index]}))
    return corpus


# ---- bpy 4.2: end the process before Blender's own teardown crashes it --------------------------------------


def pytest_sessionfinish(session, exitstatus) -> None:
    session.config.lmm_exitstatus = int(exitstatus)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config) -> None:
    """bpy 4.2.0 segfaults at exit, after the interpreter is gone, once any class with a Python property
    callback (``update``, ``items``, ``poll``) has been registered, even if unregistered again: a C++ static
    destructor frees Blender's space types and calls back into Python (``bpy_class_free``). Every add-on with
    such a property (LMM's settings, Rigify) triggers it; a three-line PropertyGroup does too. The report is
    written by now, so exit with pytest's own status before that teardown. bpy 5.0.1 exits normally."""
    bpy = sys.modules.get("bpy")
    if bpy is not None and bpy.app.version[:2] == (4, 2):
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(getattr(config, "lmm_exitstatus", 1))
