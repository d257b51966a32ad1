"""numpy's BLAS thread count set at run time (the add-on's Threads preference)."""
from __future__ import annotations

import pytest

from lmm_core import threads


def test_set_and_read_back():
    before = threads.get_blas_threads()
    if before is None:
        pytest.skip("this numpy has no bundled OpenBLAS to ask")
    try:
        assert threads.set_blas_threads(1) and threads.get_blas_threads() == 1
        assert threads.set_blas_threads(0)  # all cores
        assert threads.get_blas_threads() >= 1
    finally:
        threads.set_blas_threads(before)
