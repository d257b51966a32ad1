"""Cutting a capture into clips at pauses, and ``lmm capture --split``."""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from capture_fixtures import IDLE, footage, source
from lmm_core import read_bvh
from lmm_core.capture import synthetic as S
from lmm_core.capture.keypoints import COCO17, write_npz
from lmm_core.capture.calibration import write_calibration
from lmm_core.capture.segment import segment
from lmm_core.cli import main


def _take_with_pauses():
    """A real hop, then a held pose, then the hop backwards, with holds of 40 frames (1.3 s) around both.

    The hop itself starts standing still for about 20 frames, so the first movement begins near frame 60.
    """
    hop = source()  # 90 frames at 30 fps
    idx = np.concatenate([np.zeros(40, int), np.arange(90), np.full(40, 89), np.arange(89, -1, -1), np.zeros(40, int)])
    take = replace(hop, rotations=hop.rotations[idx], root_positions=hop.root_positions[idx], translations=None)
    return take, idx


def test_segments_are_the_movements_between_pauses():
    take, _ = _take_with_pauses()
    clips = segment(take)
    assert len(clips) == 2, clips
    (a0, b0), (a1, b1) = clips
    assert a0 <= 70 and 125 <= b0 <= 150     # the hop, ending in the hold that follows it
    assert 150 <= a1 <= 175 and b1 >= 235    # the hop backwards
    assert segment(source(str(IDLE))) == []  # an idle take never moves enough
    still = replace(take, rotations=take.rotations[:1].repeat(50, 0), root_positions=take.root_positions[:1].repeat(50, 0))
    assert segment(still) == []
    assert segment(take.slice(60, 130)) == [(0, 70)]  # movement without pauses: one clip


def test_command_line_split_writes_numbered_clips(tmp_path, capsys):
    take, _ = _take_with_pauses()
    P, calib, kp, _ = footage(take, COCO17, 4, S.Corruption(noise_px=1.0, max_offset=0), seed=3)
    write_calibration(calib, tmp_path / "calib.json")
    write_npz(kp, tmp_path / "kp.npz")
    code = main(["capture", str(tmp_path / "calib.json"), str(tmp_path / "kp.npz"), "-o", str(tmp_path / "take.bvh.gz"),
                 "--split", "--fps", "30", "--label"])
    out = capsys.readouterr().out
    assert code == 0, out
    files = sorted(p.name for p in tmp_path.glob("take_*.bvh.gz"))
    assert files == ["take_001.bvh.gz", "take_002.bvh.gz"]
    assert "clips     2" in out and out.count("action:") == 2
    lengths = [read_bvh(tmp_path / f).num_frames for f in files]
    assert all(60 <= n <= 110 for n in lengths), lengths
