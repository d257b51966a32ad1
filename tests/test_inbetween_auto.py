"""In-between's default method (``tasks.window_frames``) and the next-frame in-betweener's arrival check, with the
shipped networks on real capture."""

from __future__ import annotations

import numpy as np
import pytest

from lmm_core import read_bvh
from lmm_core.model import next_frame as NF
from lmm_core.model import tasks


@pytest.fixture(scope="module")
def in_betweener():
    return NF.load(NF.DEFAULT_KEYS)


def test_auto_gives_long_gaps_after_given_motion_to_the_window_network_and_the_rest_to_the_next_frame_one():
    w = lambda keys, frames, fps=30.0, variation=0.0: tasks.window_frames(keys, fps, frames, variation)  # noqa: E731
    assert not w([0, 15, 30, 45, 90], 91).any()  # blocking, even a 44-frame gap
    assert not w(list(range(10)) + [40], 41).any()  # context and a 30-frame gap
    np.testing.assert_array_equal(np.flatnonzero(w(list(range(10)) + [50, 60], 61)), np.arange(10, 50))
    assert not w([0, 1, 50], 61).any()  # two keys in a row are still blocking
    assert w([7, 8, 9, 50], 61).sum() == 40
    assert not w(list(range(10)) + [50], 61, variation=0.5).any()  # a draw: the next-frame in-betweener's
    # Given motion is three 30 fps frames' time keyed frame by frame, gaps are counted at 30 fps: 10 keys in a row
    # at 24 fps, then a 39-frame gap (48 at 30 fps); at 60 fps a 60-frame gap is 30 there; at 120 fps three keys a
    # frame apart (a sixtieth of a second) are not given motion, nine are.
    np.testing.assert_array_equal(np.flatnonzero(w(list(range(10)) + [49], 62, fps=24.0)), np.arange(12, 61))
    assert not w(list(range(10)) + [70], 36, fps=60.0).any()
    assert not w([0, 1, 2, 240], 61, fps=120.0).any()
    assert w(list(range(9)) + [240], 61, fps=120.0).sum() == 57
    assert not w(list(range(1, 9)) + [240], 61, fps=120.0).any()


def test_default_in_between_gives_each_gap_to_its_network(test_data):
    """``tasks.inbetween`` without a method: keys every half second give the next-frame in-betweener's frames,
    context frames and a key 50 frames on (at 30 fps) the window network's; both mixed, each gap its own
    network's; keys exact."""
    clip = read_bvh(test_data / "reactidle_001_acted_excerpt.bvh.xz")
    blocking = [0, 12, 24, 36]
    made = tasks.inbetween(clip, blocking)
    assert tasks.network_note(made) is None  # the keys look like the training data: the network's frames whole
    np.testing.assert_array_equal(made.rotations, tasks.inbetween(clip, blocking, method="next-frame").rotations)
    assert np.abs(made.rotations - tasks.inbetween(clip, blocking, method="network").rotations).max() > 1e-3
    for k in blocking:
        np.testing.assert_allclose(made.rotations[k], clip.rotations[k], atol=1e-9)
        np.testing.assert_allclose(made.root_positions[k], clip.root_positions[k], atol=1e-9)
    # At 120 fps (the shipped CMU hop excerpt) a run of keys is a run at 30 fps too: the window network alone.
    hop = read_bvh(test_data / "cmu_131_03_hop_excerpt.bvh.xz")
    given = list(range(40)) + [240]
    np.testing.assert_array_equal(tasks.inbetween(hop, given).rotations,
                                  tasks.inbetween(hop, given, method="network").rotations)
    # At 24 fps the run's frames fall between 30 fps frames: those and the short gaps are the next-frame
    # in-betweener's, the long gap the window network's.
    mixed = list(range(10)) + [49, 61, 73]  # a 39-frame gap (48 at 30 fps), then two 12-frame ones (15)
    made = tasks.inbetween(clip, mixed)
    # Told apart by the joints' rotations: this idle clip's pelvis hardly travels (the two networks' roots differ
    # by 4 mm in the second span, their rotations by 0.04).
    by = {m: tasks.inbetween(clip, mixed, method=m).rotations for m in ("network", "next-frame")}
    for span, near, far in ((slice(10, 49), "network", "next-frame"), (slice(50, 73), "next-frame", "network")):
        assert np.abs(made.rotations[span] - by[near][span]).max() < 0.2 * np.abs(by[far][span] - by[near][span]).max()
    for k in mixed:
        np.testing.assert_allclose(made.root_positions[k], clip.root_positions[k], atol=1e-9)


def test_arrival_vouches_for_the_network_where_no_inner_key_can(test_data, in_betweener, shared_data, monkeypatch):
    """Two keys leave no inner key to hide. On capture like the training data (the ReActIdle excerpt) the network
    reaches the second key's pose on its own within ``ARRIVAL_TRUST`` degrees; on LAFAN1 (a rig and motion it
    never trained on) it arrives far off, and the frames are interpolation's, unless interpolation would glide
    the body between keys that far apart."""
    canon = tasks.to_canonical(read_bvh(test_data / "reactidle_001_acted_excerpt.bvh.xz"), 30.0)
    two = np.zeros(canon.num_frames, dtype=bool)
    two[[0, 40]] = True
    *_, arrival = in_betweener._inbetween(canon.rotations, canon.root_positions, two, variation=0.0)
    assert 0.0 < arrival < NF.ARRIVAL_TRUST

    lafan = tasks.to_canonical(read_bvh(shared_data / "lafan1" / "obstacles3_subject4.bvh.xz").slice(1000, 1061), 30.0)
    rot, root = lafan.rotations, lafan.root_positions
    two = np.zeros(len(root), dtype=bool)
    two[[0, 60]] = True
    assert in_betweener.unusual_keys(rot, root, two)
    *_, arrival = in_betweener._inbetween(rot, root, two, variation=0.0)
    assert arrival > NF.ARRIVAL_TRUST
    # These keys lie 3.6 m apart over 2 s: interpolation would glide the body there faster than the skate
    # measure's 2 cm a frame, so by default the network's walk is kept (``GLIDE_SPEED``) ...
    assert NF._glides(root, two) > NF.GLIDE_SPEED
    assert in_betweener.checked_inbetween(rot, root, two, variation=0.0)[3] == 1.0
    # ... and without that rule the arrival test alone gives interpolation's frames.
    monkeypatch.setattr(in_betweener, "glide_speed", np.inf)
    r, p, con, share = in_betweener.checked_inbetween(rot, root, two, variation=0.0)
    gr, gp = NF._interpolated(rot, root, two)
    assert share == 0.0 and not con.any()
    np.testing.assert_allclose(p, gp, atol=1e-12)
    # Trusted however far it arrives: the network's own frames, whole.
    monkeypatch.setattr(NF, "ARRIVAL_TRUST", 180.0)
    r, p, con, share = in_betweener.checked_inbetween(rot, root, two, variation=0.0)
    assert share == 1.0
    np.testing.assert_array_equal(p, in_betweener.inbetween(rot, root, two, variation=0.0)[1])


def test_auto_checks_a_named_file_even_where_no_gap_needs_it(test_data, tmp_path):
    """Context and a long gap need no next-frame network, blocking keys no window network: a file named for
    either is still read, and a bad one is refused with its name, before anything is made."""
    from lmm_core.errors import LMMError

    hop = read_bvh(test_data / "cmu_131_03_hop_excerpt.bvh.xz")
    bad = tmp_path / "broken.npz"
    bad.write_bytes(b"not a weights file")
    with pytest.raises(LMMError, match="broken.npz"):
        tasks.inbetween(hop, list(range(40)) + [240], next_frame=bad)
    with pytest.raises(LMMError, match="broken.npz"):
        tasks.inbetween(hop, [0, 60, 120], model=bad)


def test_auto_refuses_to_splice_networks_of_another_frame_rate(test_data, monkeypatch):
    """Splicing gap by gap needs both networks at ``AUTO_FPS``; a window network at another rate is refused with
    the way out (one method for every gap), not spliced on mismatched frames."""
    from lmm_core.errors import LMMError

    hop = read_bvh(test_data / "cmu_131_03_hop_excerpt.bvh.xz")
    monkeypatch.setattr(tasks, "AUTO_FPS", 24.0)  # the shipped networks run at 30 fps
    with pytest.raises(LMMError, match="--method network or --method next-frame"):
        tasks.inbetween(hop, list(range(40)) + [240, 260])
