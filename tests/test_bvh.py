"""BVH reading and writing: real excerpts, hand-made files with known answers, and every bad input."""
from __future__ import annotations

import gzip
import lzma
from pathlib import Path

import numpy as np
import pytest

from lmm_core import LMMError, MotionFileError, read_bvh, write_bvh
from lmm_core import rotations as R
from lmm_core.io.bvh import format_bvh, fps_from_frame_time, parse_bvh

# A two-joint file: root with 6 channels, a child 10 units up with rotations in XYZ order, an end site.
SIMPLE = """HIERARCHY
ROOT Hips
{
\tOFFSET 0 0 0
\tCHANNELS 6 Xposition Yposition Zposition Zrotation Yrotation Xrotation
\tJOINT Spine
\t{
\t\tOFFSET 0 10 0
\t\tCHANNELS 3 Xrotation Yrotation Zrotation
\t\tEnd Site
\t\t{
\t\t\tOFFSET 0 5 0
\t\t}
\t}
}
MOTION
Frames: 2
Frame Time: 0.0333333
1.0 2.0 3.0 0 0 0 0 0 0
0 0 0 90 0 0 0 0 90
"""


def write_text(tmp_path: Path, text: str, name: str = "clip.bvh") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode())
    return path


def test_simple_file_by_hand(tmp_path):
    m = read_bvh(write_text(tmp_path, SIMPLE))
    assert m.skeleton.names == ("Hips", "Spine")
    assert m.fps == 30.0 and m.num_frames == 2
    assert m.skeleton.rotation_orders == ("zyx", "xyz")
    pos = m.global_positions(end_sites=True)
    np.testing.assert_allclose(pos[0], [[1, 2, 3], [1, 12, 3], [1, 17, 3]], atol=1e-9)
    # Frame 2: root yaws 90 degrees about Z (X up-vector goes to Y), spine rolls 90 degrees about its Z.
    # The spine offset (0, 10, 0) rotated by Rz(90) is (-10, 0, 0); the end site (0, 5, 0) turns twice: (0, -5, 0).
    np.testing.assert_allclose(pos[1], [[0, 0, 0], [-10, 0, 0], [-10, -5, 0]], atol=1e-9)


def test_crlf_tabs_scientific_notation_and_compression(tmp_path):
    text = SIMPLE.replace("\n", "\r\n").replace("1.0 2.0 3.0", "1e0\t2.0E+00   3.0e-0")
    plain = read_bvh(write_text(tmp_path, text))
    gz = tmp_path / "clip.bvh.gz"
    gz.write_bytes(gzip.compress(text.encode()))
    xz = tmp_path / "clip.bvh.xz"
    xz.write_bytes(lzma.compress(text.encode()))
    for m in (read_bvh(gz), read_bvh(xz)):
        np.testing.assert_allclose(m.global_positions(), plain.global_positions())
    np.testing.assert_allclose(plain.root_positions[0], [1, 2, 3])


def test_position_channels_on_a_child_replace_its_offset(tmp_path):
    text = SIMPLE.replace("CHANNELS 3 Xrotation Yrotation Zrotation", "CHANNELS 6 Xrotation Yposition Zposition Xposition Yrotation Zrotation")
    text = text.replace("1.0 2.0 3.0 0 0 0 0 0 0\n0 0 0 90 0 0 0 0 90", "0 0 0 0 0 0 0 20 0 0 0 0\n0 0 0 0 0 0 0 10 0 4 0 0")
    m = read_bvh(write_text(tmp_path, text))
    assert m.translations is not None
    pos = m.global_positions()
    np.testing.assert_allclose(pos[:, 1], [[0, 20, 0], [4, 10, 0]], atol=1e-9)
    # And it survives a write/read.
    back = parse_bvh(format_bvh(m))
    np.testing.assert_allclose(back.global_positions(), pos, atol=1e-6)


def test_fps_from_frame_time():
    assert fps_from_frame_time(0.0083333) == 120.0
    assert fps_from_frame_time(0.033333) == 30.0
    assert fps_from_frame_time(1 / 24) == 24.0
    assert abs(fps_from_frame_time(1 / 29.97) - 29.97) < 1e-9


def test_real_reactidle_excerpt(test_data):
    m = read_bvh(test_data / "reactidle_001_acted_excerpt.bvh.xz")
    assert (m.num_frames, m.fps, m.skeleton.num_joints) == (240, 24.0, 19)
    assert m.skeleton.names[:3] == ("pelvis", "spine", "spine.001")
    assert m.skeleton.units == "m"
    # Blender's exporter writes the root position relative to the OFFSET (0, 0.719631, 0): the first
    # data line starts with the pelvis channels, and the reader must add the offset back.
    first = lzma.decompress((test_data / "reactidle_001_acted_excerpt.bvh.xz").read_bytes()).decode().split("Frame Time:")[1].split("\n")[1]
    np.testing.assert_allclose(m.root_positions[0], np.array([float(v) for v in first.split()[:3]]) + [0, 0.719631, 0])
    # So the performer stands on the floor: the lowest point of the body is within 5 cm of y = 0.
    assert abs(np.percentile(m.global_positions(end_sites=True)[..., 1].min(axis=1), 2)) < 0.05
    assert 1.2 < m.height() < 2.0


def test_real_cmu_excerpt_mixed_line_endings(test_data):
    m = read_bvh(test_data / "cmu_131_03_hop_excerpt.bvh.xz")
    assert (m.num_frames, m.fps, m.skeleton.num_joints) == (360, 120.0, 31)
    assert m.skeleton.units == "cmu"
    assert len(m.skeleton.pairs) == 11


@pytest.mark.parametrize("order", ["xyz", "yzx", "zxy", None])
def test_write_in_any_order_keeps_positions(test_data, tmp_path, order):
    m = read_bvh(test_data / "cmu_131_03_hop_excerpt.bvh.xz")
    out = write_bvh(m, tmp_path / "out.bvh", order=order)
    back = read_bvh(out)
    if order:
        assert set(back.skeleton.rotation_orders) == {order}
    err = np.abs(back.global_positions(True) - m.global_positions(True)).max()
    assert err < 1e-5 * m.height()


def test_compressed_output(test_data, tmp_path):
    m = read_bvh(test_data / "reactidle_001_acted_excerpt.bvh.xz")
    out = write_bvh(m, tmp_path / "out.bvh.gz")
    assert gzip.decompress(out.read_bytes()).startswith(b"HIERARCHY")
    np.testing.assert_allclose(read_bvh(out).global_positions(), m.global_positions(), atol=1e-5)


# --- bad input -------------------------------------------------------------------------------

def _bad(tmp_path, text):
    path = write_text(tmp_path, text)
    with pytest.raises(MotionFileError) as info:
        read_bvh(path)
    err = info.value
    assert err.path == path
    assert str(path) in str(err)
    return err


def test_truncated_in_the_data(tmp_path):
    err = _bad(tmp_path, SIMPLE[: SIMPLE.rindex("90 0 0") + 3])
    assert err.line == 20 and "truncated" in err.problem


def test_truncated_missing_frames(tmp_path):
    err = _bad(tmp_path, SIMPLE.replace("Frames: 2", "Frames: 5"))
    assert "truncated" in err.problem and "5 frames" in err.problem


def test_truncated_in_the_hierarchy(tmp_path):
    err = _bad(tmp_path, SIMPLE[: SIMPLE.index("\tJOINT Spine")])
    assert "MOTION" in err.problem


def test_wrong_number_of_values(tmp_path):
    err = _bad(tmp_path, SIMPLE.replace("1.0 2.0 3.0 0 0 0 0 0 0", "1.0 2.0 3.0 0 0 0 0 0 0 7"))
    assert err.line == 19 and "expected 9 values" in err.problem and "found 10" in err.problem


def test_unknown_channel(tmp_path):
    err = _bad(tmp_path, SIMPLE.replace("Xrotation Yrotation Zrotation", "Xrotation Yrotation Wrotation"))
    assert err.line == 9 and "'Wrotation'" in err.problem


def test_duplicate_joint_names(tmp_path):
    err = _bad(tmp_path, SIMPLE.replace("JOINT Spine", "JOINT Hips"))
    assert err.line == 6 and "duplicate joint name 'Hips'" in err.problem


def test_zero_frames(tmp_path):
    text = SIMPLE.split("Frames:")[0] + "Frames: 0\nFrame Time: 0.0333333\n"
    err = _bad(tmp_path, text)
    assert err.line == 17 and "zero frames" in err.problem


@pytest.mark.parametrize("token", ["nan", "inf", "-Infinity"])
def test_non_finite_value(tmp_path, token):
    err = _bad(tmp_path, SIMPLE.replace("0 0 0 90 0 0 0 0 90", f"0 0 0 90 0 {token} 0 0 90"))
    assert err.line == 20 and "non-finite" in err.problem and "channel 6" in err.problem


def test_not_a_number(tmp_path):
    err = _bad(tmp_path, SIMPLE.replace("0 0 0 90 0 0 0 0 90", "0 0 0 90 0 abc 0 0 90"))
    assert err.line == 20 and "'abc'" in err.problem


def test_missing_and_garbage_files(tmp_path):
    with pytest.raises(MotionFileError, match="file not found"):
        read_bvh(tmp_path / "nope.bvh")
    bad_xz = tmp_path / "x.bvh.xz"
    bad_xz.write_bytes(b"not xz at all")
    with pytest.raises(MotionFileError, match="decompress"):
        read_bvh(bad_xz)
    err = _bad(tmp_path, "hello world\n")
    assert "MOTION" in err.problem


def test_failed_write_leaves_no_file_and_keeps_the_old_one(tmp_path):
    m = read_bvh(write_text(tmp_path, SIMPLE))
    target = tmp_path / "out.bvh"
    target.write_text("previous contents")
    m.rotations[1, 0] = np.nan
    with pytest.raises(LMMError, match="non-finite"):
        write_bvh(m, target)
    assert target.read_text() == "previous contents"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.bvh", "out.bvh"]
    with pytest.raises(MotionFileError, match="does not exist"):
        write_bvh(read_bvh(tmp_path / "clip.bvh"), tmp_path / "missing" / "out.bvh")


def test_interrupted_write_removes_the_temporary_file(tmp_path, monkeypatch):
    m = read_bvh(write_text(tmp_path, SIMPLE))
    import lmm_core.io.atomic as atomic

    real = atomic.os.replace

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(atomic.os, "replace", boom)
    with pytest.raises(OSError):
        write_bvh(m, tmp_path / "out.bvh")
    monkeypatch.setattr(atomic.os, "replace", real)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.bvh"]


def test_quaternions_are_unit_and_orders_respected(tmp_path):
    # A single 90 degree X rotation written in every order comes back as the same rotation.
    m = read_bvh(write_text(tmp_path, SIMPLE))
    q = R.from_axis_angle(np.array([1.0, 0, 0]), np.pi / 2)
    m.rotations[:, 1] = q
    for order in R.EULER_ORDERS:
        back = parse_bvh(format_bvh(m, order=order))
        np.testing.assert_allclose(np.abs(np.sum(back.rotations[:, 1] * q, axis=-1)), 1.0, atol=1e-10)
    np.testing.assert_allclose(np.linalg.norm(m.rotations, axis=-1), 1.0)


def test_two_roots(tmp_path):
    two = SIMPLE.replace("MOTION", "ROOT Other\n{\n\tOFFSET 0 0 0\n\tCHANNELS 3 Xrotation Yrotation Zrotation\n}\nMOTION")
    err = _bad(tmp_path, two)
    assert err.line == 16 and "more than one ROOT" in err.problem
