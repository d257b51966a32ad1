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



def test_an_in_between_on_a_platform_locks_its_feet_as_on_the_floor(shared_data, monkeypatch):
    """``tasks.inbetween`` cleans keys standing 0.3 m up on their own ground: the clean-up's contact detection
    caps the ground at the floor (y = 0), so on a platform no foot counted as down and the feet's glides were not
    locked. A Bandai walk keyed every 15 frames, three windows: the feet skate about as much raised as on the
    floor (measured 2026-12-07: 0.000 / 0.033 / 0.007 more; before, 0.040 / 0.107 / 0.060)."""
    from dataclasses import replace

    from lmm_core.feet import foot_skate

    walk = tasks.to_canonical(read_bvh(shared_data / "bandai" / "dataset-2" / "dataset-2_walk_normal_001.bvh.xz"), 30.0)
    keys = list(range(0, 121, 15))
    made = np.ones(121, dtype=bool)
    made[keys] = False
    up = np.array([0.0, 0.3, 0.0])

    def extra_skate() -> float:
        more = []
        for start in (0, 60, 120):
            clip = walk.slice(start, start + 121)
            floor = tasks.inbetween(clip, keys)
            raised = tasks.inbetween(replace(clip, root_positions=clip.root_positions + up), keys)
            np.testing.assert_allclose(raised.root_positions[keys], clip.root_positions[keys] + up, atol=1e-9)
            lowered = replace(raised, root_positions=raised.root_positions - up)  # measured on the same ground
            more.append(foot_skate(lowered, frames=made) - foot_skate(floor, frames=made))
        return float(np.mean(more))

    assert extra_skate() < 0.03
    monkeypatch.setattr(tasks, "ground", lambda *a, **k: None)  # cleaned on y = 0, as before
    assert extra_skate() > 0.05


def test_completing_motion_on_a_platform_carries_on_from_its_ground(shared_data, monkeypatch):
    """``tasks.complete`` (the next-frame generator) of a walk standing 0.3 m up carries on from the ground the
    walk stands on (``NextFrameModel.generate``: the network reads the pelvis's height above the one floor it
    learned) and is cleaned on it: its feet slide about as much as on the floor and stay on the platform.
    Measured 2026-12-07: skate 0.128 raised, 0.120 on the floor; before, 0.330 with the toes 6.5 cm into it."""
    from dataclasses import replace

    from lmm_core.feet import foot_skate
    from lmm_core.model import next_frame

    walk = tasks.to_canonical(read_bvh(shared_data / "bandai" / "dataset-2" / "dataset-2_walk_normal_001.bvh.xz"), 30.0)
    walk = walk.slice(0, 60)
    up = np.array([0.0, 0.3, 0.0])

    def made(motion, lift):
        new = tasks.complete(motion, 60, method="next-frame").slice(60, 120)
        lowered = replace(new, root_positions=new.root_positions - lift)
        return foot_skate(lowered), float(lowered.global_positions()[:, [10, 11], 1].min())

    floor_skate, _ = made(walk, 0.0 * up)
    raised_skate, lowest = made(replace(walk, root_positions=walk.root_positions + up), up)
    assert raised_skate < floor_skate + 0.04 and lowest > -0.03
    # Generating on from it (``generate(start=)``) too: the same frames as on the floor, raised.
    on_floor = tasks.generate("walk", seconds=2.0, seed=1, start=walk)
    raised = tasks.generate("walk", seconds=2.0, seed=1, start=replace(walk, root_positions=walk.root_positions + up))
    np.testing.assert_allclose(raised.root_positions[:, [0, 2]], on_floor.root_positions[:, [0, 2]], atol=0.02)
    assert abs(foot_skate(replace(raised, root_positions=raised.root_positions - up)) - foot_skate(on_floor)) < 0.03
    monkeypatch.setattr(next_frame, "start_level", lambda *a, **k: 0.0)  # shown to the network floating, as before
    monkeypatch.setattr(tasks, "ground", lambda *a, **k: None)
    assert made(replace(walk, root_positions=walk.root_positions + up), up)[0] > floor_skate + 0.1


def test_a_start_is_read_for_its_ground_over_its_last_second_and_not_from_a_few_frames(shared_data):
    """``floor.start_level``: a walk raised 0.3 m ends on a 0.3 m ground; its last frames alone (under
    ``START_LEAST``) say nothing (a body in mid-air looks the same), and a walk that steps up 0.3 m more than a
    second before its end ends on the higher ground."""
    from lmm_core.model.floor import START_LEAST, start_level

    walk = tasks.to_canonical(read_bvh(shared_data / "bandai" / "dataset-2" / "dataset-2_walk_normal_001.bvh.xz"), 30.0)
    rot, root = walk.rotations[:90], walk.root_positions[:90]
    body = runtime.load().body
    args = (body.offsets, body.parents, list(body.contacts[:2]))
    assert start_level(rot, root, *args) == 0.0
    assert start_level(rot, root + [0.0, 0.3, 0.0], *args) == pytest.approx(0.3, abs=0.06)
    assert start_level(rot[-(START_LEAST - 1):], root[-(START_LEAST - 1):] + [0.0, 0.3, 0.0], *args) == 0.0
    stepped = root.copy()
    stepped[40:, 1] += 0.3
    assert start_level(rot, stepped, *args) == pytest.approx(0.3, abs=0.06)
