"""In-between's default method (``tasks.auto_method``) and the next-frame in-betweener's arrival check, with the
shipped networks on real capture."""

from __future__ import annotations

import numpy as np
import pytest

from lmm_core import read_bvh
from lmm_core.cli import main
from lmm_core.model import next_frame as NF
from lmm_core.model import runtime, tasks


@pytest.fixture(scope="module")
def in_betweener():
    return NF.load(NF.DEFAULT_KEYS)


def test_auto_picks_the_next_frame_in_betweener_for_blocking_and_the_window_network_for_given_motion():
    assert tasks.auto_method([0, 15, 30, 45], 30.0) == "next-frame"
    assert tasks.auto_method([0, 1, 30], 30.0) == "next-frame"  # two frames in a row: still blocking
    assert tasks.auto_method(list(range(10)) + [40], 30.0) == "network"  # context frames and a key
    assert tasks.auto_method([0, 30, 31, 32, 60], 30.0) == "network"
    # Runs are counted at the networks' 30 fps: three keys in a row at 60 fps are a frame and a half apart there.
    assert tasks.auto_method([10, 11, 12, 80], 60.0) == "next-frame"
    assert tasks.auto_method(list(range(20, 30)) + [80], 60.0) == "network"
    # A file says which network; a draw is the next-frame network's (the shipped window network does not sample).
    assert tasks.auto_method([0, 15, 30], 30.0, model="any.npz") == "network"
    assert tasks.auto_method(list(range(10)) + [40], 30.0, next_frame="nf.npz") == "next-frame"
    assert tasks.auto_method(list(range(10)) + [40], 30.0, variation=1.0) == "next-frame"


def test_default_in_between_is_what_auto_picks(test_data):
    """``tasks.inbetween`` without a method on the shipped ReActIdle excerpt (24 fps): keys every half second
    give the next-frame in-betweener's frames, context frames and a key the window network's; keys exact."""
    clip = read_bvh(test_data / "reactidle_001_acted_excerpt.bvh.xz")
    blocking = [0, 12, 24, 36]
    made = tasks.inbetween(clip, blocking)
    assert tasks.network_note(made) is None  # the keys look like the training data: the network's frames whole
    np.testing.assert_array_equal(made.rotations, tasks.inbetween(clip, blocking, method="next-frame").rotations)
    assert np.abs(made.rotations - tasks.inbetween(clip, blocking, method="network").rotations).max() > 1e-3
    for k in blocking:
        np.testing.assert_allclose(made.rotations[k], clip.rotations[k], atol=1e-9)
        np.testing.assert_allclose(made.root_positions[k], clip.root_positions[k], atol=1e-9)
    given = list(range(10)) + [36]
    made = tasks.inbetween(clip, given)
    np.testing.assert_array_equal(made.rotations, tasks.inbetween(clip, given, method="network").rotations)


def test_cli_auto_refuses_both_networks_files(test_data, tmp_path, capsys):
    out = tmp_path / "no.bvh"
    assert main(["inbetween", str(test_data / "cmu_131_03_hop_excerpt.bvh.xz"), "--keys", "0,20",
                 "--model", str(runtime.DEFAULT_MODEL), "--next-frame-model", str(NF.DEFAULT_KEYS), "-o", str(out)]) == 2
    assert "give one of them" in capsys.readouterr().err and not out.exists()


def test_arrival_vouches_for_the_network_where_no_inner_key_can(test_data, in_betweener, shared_data, monkeypatch):
    """Two keys leave no inner key to hide. On capture like the training data (the ReActIdle excerpt) the network
    reaches the second key's pose on its own within ``ARRIVAL_TRUST`` degrees; on LAFAN1 (a rig and motion it
    never trained on) it arrives far off, and the frames are interpolation's."""
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
    r, p, con, share = in_betweener.checked_inbetween(rot, root, two, variation=0.0)
    gr, gp = NF._interpolated(rot, root, two)
    assert share == 0.0 and not con.any()
    np.testing.assert_allclose(p, gp, atol=1e-12)
    # Trusted however far it arrives: the network's own frames, whole.
    monkeypatch.setattr(NF, "ARRIVAL_TRUST", 180.0)
    r, p, con, share = in_betweener.checked_inbetween(rot, root, two, variation=0.0)
    assert share == 1.0
    np.testing.assert_array_equal(p, in_betweener.inbetween(rot, root, two, variation=0.0)[1])
