"""Every file under ../shared/data: read, write, read again reproduces global joint positions."""
from __future__ import annotations

import numpy as np
import pytest

from lmm_core import read_bvh
from lmm_core.io.bvh import format_bvh, parse_bvh


@pytest.mark.slow
def test_every_shared_file_round_trips(shared_data):
    files = sorted(shared_data.rglob("*.bvh*"))
    assert len(files) > 2800, "expected the whole shared data folder"
    worst, failures = 0.0, []
    for path in files:
        m = read_bvh(path)
        back = parse_bvh(format_bvh(m))
        assert back.num_frames == m.num_frames and back.fps == m.fps
        # Per frame, relative to the performer's height.
        err = np.abs(back.global_positions(True) - m.global_positions(True)).max(axis=(1, 2)).max() / m.height()
        worst = max(worst, err)
        if err > 1e-4:
            failures.append((path.name, err))
    assert not failures, f"{len(failures)} files over 1e-4 of height, e.g. {failures[:3]}"
    print(f"{len(files)} files, worst error {worst:.2e} of height")
