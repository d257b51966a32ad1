"""Shared fixtures: where the real motion capture lives, and small real clips shipped in tests/data."""
from __future__ import annotations

import os
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
