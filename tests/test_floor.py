"""The window's own ground (``model/floor.py``): keys standing above the floor are shown to the network on it."""
from __future__ import annotations

import numpy as np
import pytest

from lmm_core import read_bvh
from lmm_core.canonical import canonical_skeleton
from lmm_core.model import runtime, tasks
from lmm_core.model.floor import ground
from lmm_core.motion import Motion


@pytest.fixture(scope="module")
def clip(test_data):
    motion = tasks.to_canonical(read_bvh(test_data / "reactidle_001_acted_excerpt.bvh.xz"), 30.0)
    return motion.rotations[:97], motion.root_positions[:97]


def every(spacing: int, length: int) -> np.ndarray:
    known = np.zeros(length, dtype=bool)
    known[::spacing] = True
    known[-1] = True
    return known


def made_error(model, rot, root, known) -> float:
    r, p, _ = model.fill(rot, root, known)
    assert np.array_equal(p[known], root[known]) and np.array_equal(r[known], rot[known])  # keys exact
    sk = canonical_skeleton()
    truth = Motion(sk, rot, root, 30.0).global_positions()
    return float(np.linalg.norm(Motion(sk, r, p, 30.0).global_positions() - truth, axis=-1)[~known].mean())


def test_ground_is_none_on_the_floor_and_the_platform_height_above_it(clip):
    rot, root = clip
    body = runtime.load().body
    known = np.repeat(every(8, len(root))[:, None], 22, axis=1)
    args = (body.offsets, body.parents, list(body.contacts[:2]))
    assert ground(rot, root, known, *args) is None  # standing on the floor: nothing to do
    level = ground(rot, root + [0.0, 0.5, 0.0], known, *args)
    assert level is not None and np.allclose(level, 0.5, atol=0.1)
    assert ground(rot, root, np.zeros_like(known), *args) is None  # no key: no ground to read


def test_a_character_on_a_platform_is_in_betweened_as_on_the_floor(clip):
    """Raised 0.5 m (a box, a stage), keys every 8 frames: the made frames are as near the capture as on the
    floor; shown to the network as they are, they sag towards the floor it learned, far from the capture."""
    rot, root = clip
    known = every(8, len(root))
    model = runtime.load()
    on_floor = made_error(model, rot, root, known)
    raised = made_error(model, rot, root + [0.0, 0.5, 0.0], known)
    assert raised < 1.3 * on_floor + 0.005
    model.ground_keys = False
    assert made_error(model, rot, root + [0.0, 0.5, 0.0], known) > 3 * raised

