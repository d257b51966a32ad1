"""Hostile and careless inputs, the kinds benchmarks/fuzz_campaign.py throws at every command: broken and
extreme motion files, non-finite and huge numbers on the command line, output paths that are not files.
Each must end in one line ``lmm <command>: error: ...``, a non-zero exit, no traceback and nothing written;
good inputs in odd clothes (a byte-order mark, a 0600 file, a symbolic link) must work."""
from __future__ import annotations

import gzip
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from lmm_core import read_bvh
from lmm_core.cli import main
from lmm_core.errors import LMMError, MotionFileError
from lmm_core.io import atomic
from lmm_core.io.bvh import format_bvh, frame_time_text
from lmm_core.validate import max_frames

ROOT = Path(__file__).resolve().parents[1]
HOP = ROOT / "tests" / "data" / "cmu_131_03_hop_excerpt.bvh.xz"


@pytest.fixture(scope="module")
def hop_text() -> str:
    return format_bvh(read_bvh(HOP).slice(0, 40))


@pytest.fixture()
def hop(tmp_path, hop_text) -> Path:
    path = tmp_path / "hop.bvh"
    path.write_text(hop_text)
    return path


def refused(capsys, argv: list[str], *needles: str) -> str:
    """Run ``lmm argv`` in-process; it must fail with one error line holding every needle."""
    status = main([str(a) for a in argv])
    err = capsys.readouterr().err
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert status == 2, err
    assert len(lines) == 1 and lines[0].startswith(f"lmm {argv[0]}: error: "), err
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def _replace_line(text: str, prefix: str, line: str) -> str:
    return "\n".join(line if ln.startswith(prefix) else ln for ln in text.splitlines()) + "\n"


# ---- motion files --------------------------------------------------------------------------------------

@pytest.mark.parametrize("frame_time, needle", [
    ("5e-324", "0.0001 to 10 seconds"), ("1e-300", "0.0001 to 10 seconds"), ("1e300", "0.0001 to 10 seconds"),
    ("0.000001", "0.0001 to 10 seconds"), ("1000", "0.0001 to 10 seconds"), ("nan", "0.0001 to 10 seconds"),
    ("-0", "0.0001 to 10 seconds"), ("fast", "must be a number of seconds"),
])
def test_frame_times_out_of_range_are_refused(tmp_path, hop_text, capsys, frame_time, needle):
    bad = tmp_path / "bad.bvh"
    bad.write_text(_replace_line(hop_text, "Frame Time:", f"Frame Time: {frame_time}"))
    refused(capsys, ["info", bad], needle, "bad.bvh, line")


@pytest.mark.parametrize("where, value", [("position", "1e300"), ("angle", "1e12"), ("offset", "1e300")])
def test_huge_values_are_refused_with_their_line(tmp_path, hop_text, capsys, where, value):
    lines = hop_text.splitlines()
    if where == "offset":
        k = next(i for i, ln in enumerate(lines) if "OFFSET" in ln)
        lines[k] = lines[k].split("OFFSET")[0] + f"OFFSET {value} 0 0"
    else:
        k = next(i for i, ln in enumerate(lines) if ln.startswith("Frame Time")) + 1
        row = lines[k].split()
        row[0 if where == "position" else 3] = value
        lines[k] = " ".join(row)
    bad = tmp_path / "bad.bvh"
    bad.write_text("\n".join(lines) + "\n")
    refused(capsys, ["info", bad], "out of range", f"line {k + 1}")


def test_frame_count_limit_is_stated_and_overridable(tmp_path, capsys, monkeypatch):
    head = "HIERARCHY\nROOT a\n{\n OFFSET 0 0 0\n CHANNELS 3 Xposition Yposition Zposition\n}\nMOTION\n"
    clip = tmp_path / "long.bvh"
    clip.write_text(head + "Frames: 2000\nFrame Time: 0.01\n" + "0 1 0\n" * 2000)
    monkeypatch.setenv("LMM_MAX_FRAMES", "1000")
    refused(capsys, ["info", clip], "more than the limit of 1,000 frames", "LMM_MAX_FRAMES")
    monkeypatch.setenv("LMM_MAX_FRAMES", "5000")
    assert main(["info", str(clip)]) == 0
    monkeypatch.setenv("LMM_MAX_FRAMES", "lots")
    refused(capsys, ["info", clip], "$LMM_MAX_FRAMES must be a whole number")


def test_a_gzip_bomb_stops_at_the_input_limit(tmp_path, capsys, monkeypatch):
    bomb = tmp_path / "bomb.bvh.gz"
    with gzip.open(bomb, "wb", compresslevel=1) as f:
        f.write(b"HIERARCHY\n" + b"0 " * (8 << 20))  # 16 MiB inflated
    monkeypatch.setenv("LMM_MAX_INPUT_BYTES", str(1 << 20))
    refused(capsys, ["info", bomb], "more than 1,048,576 bytes once decompressed", "LMM_MAX_INPUT_BYTES")


def test_pipes_and_folders_are_not_read(tmp_path, capsys):
    os.mkfifo(tmp_path / "pipe.bvh")  # reading it would wait for a writer forever
    refused(capsys, ["info", tmp_path / "pipe.bvh"], "named pipe")
    (tmp_path / "dir.bvh").mkdir()
    refused(capsys, ["info", tmp_path / "dir.bvh"], "is a folder")


def test_a_byte_order_mark_and_utf16_are_read(tmp_path, hop_text, capsys):
    (tmp_path / "bom.bvh").write_bytes(b"\xef\xbb\xbf" + hop_text.encode())
    (tmp_path / "utf16.bvh").write_bytes(hop_text.encode("utf-16"))
    for name in ("bom.bvh", "utf16.bvh"):
        assert read_bvh(tmp_path / name).num_frames == 40


def test_a_tiny_frame_time_is_written_so_that_it_reads_back(tmp_path, hop_text):
    fast = tmp_path / "fast.bvh"
    fast.write_text(_replace_line(hop_text, "Frame Time:", "Frame Time: 0.000123"))
    out = tmp_path / "out.bvh"
    assert main(["convert", str(fast), str(out)]) == 0
    assert read_bvh(out).fps == read_bvh(fast).fps  # once written as 'Frame Time: 0.00000000', unreadable
    assert frame_time_text(30) == "0.03333333" and frame_time_text(120) == "0.00833333"
    assert abs(1 / float(frame_time_text(7777.5)) - 7777.5) < 1e-3


# ---- numbers on the command line -------------------------------------------------------------------------

CASES = [
    (["convert", "{hop}", "{out}", "--fps", "1e9"], "--fps must be a number from 0.1 to 10000"),
    (["convert", "{hop}", "{out}", "--fps", "0"], "--fps must be a number from 0.1 to 10000"),
    (["convert", "{hop}", "{out}", "--fps", "nan"], "--fps must be a finite number"),
    (["convert", "{hop}", "{out}", "--scale", "inf"], "--scale must be a finite number"),
    (["convert", "{hop}", "{out}", "--scale", "1e-300"], "--scale must be a number from"),
    (["convert", "{hop}", "{out}", "--order", ""], "unknown Euler order"),
    (["generate", "--action", "walk", "--seconds", "inf", "-o", "{out}"], "--seconds must be a finite number"),
    (["generate", "--action", "walk", "--seconds", "1e9", "-o", "{out}"], "LMM_MAX_FRAMES"),
    (["generate", "--action", "walk", "--seconds", "0", "-o", "{out}"], "--seconds must be a number from 0.1 to"),
    (["generate", "--action", "walk", "--seed", "-1", "-o", "{out}"], "--seed must be a whole number from 0"),
    (["generate", "--action", "walk", "--variation", "nan", "-o", "{out}"], "--variation must be a finite number"),
    (["intent", "{hop}", "--seconds", "nan"], "--seconds must be a finite number"),
    (["intent", "{hop}", "--top", "0"], "--top must be a whole number from 1"),
    (["inbetween", "{hop}", "--keys", "5,5", "-o", "{out}"], "at least two different frames"),
    (["inbetween", "{hop}", "--keys", "0,99999999999999999999999", "-o", "{out}"], "each of --keys must be"),
    (["inbetween", "{hop}", "--keys", "0,39,40", "-o", "{out}"], "key frames must lie in 0..39"),
    (["complete", "{hop}", "--frames", "1000000000", "-o", "{out}"], "--frames must be a whole number from 1 to"),
    (["complete", "{hop}", "--frames", "0", "-o", "{out}"], "--frames must be a whole number from 1 to"),
    (["dataset", "build", "--out", "{dir}/corpus", "--jobs", "0"], "--jobs must be a whole number from 1"),
    (["batch", "{dir}/job.toml", "--task-timeout", "inf"], "--task-timeout must be a finite number"),
    (["demo", "--preview-frames", "-1"], "--preview-frames must be a whole number from 1"),
    (["capture", "{dir}/c.toml", "{dir}/k.npz", "-o", "{out}", "--smooth", "nan"], "--smooth must be a finite number"),
    (["capture", "{dir}/c.toml", "{dir}/k.npz", "-o", "{out}", "--max-offset", "1000000000"], "--max-offset must be"),
]


@pytest.mark.parametrize("argv, needle", CASES, ids=[" ".join(a[:1] + a[-2:]) for a, _ in CASES])
def test_every_bad_number_is_one_line_before_any_work(tmp_path, hop, capsys, argv, needle):
    out = tmp_path / "out.bvh"
    args = [a.format(hop=hop, out=out, dir=tmp_path) for a in argv]
    refused(capsys, args, needle)
    assert not out.exists() and not (tmp_path / "corpus").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["hop.bvh"]  # nothing written, not even a temporary file


# ---- output paths ------------------------------------------------------------------------------------------

def test_outputs_that_are_not_files_are_refused_before_work(tmp_path, hop, capsys):
    (tmp_path / "folder.bvh").mkdir()
    os.mkfifo(tmp_path / "pipe.bvh")
    refused(capsys, ["convert", hop, tmp_path / "folder.bvh"], "is a folder", "give a file name")
    refused(capsys, ["convert", hop, tmp_path / "pipe.bvh"], "named pipe")
    refused(capsys, ["convert", hop, tmp_path / "no" / "out.bvh"], "does not exist; create it first")
    refused(capsys, ["generate", "--action", "walk", "-o", tmp_path / "pipe.bvh"], "named pipe")
    refused(capsys, ["convert", hop, tmp_path / ("x" * 300 + ".bvh")], "cannot write")
    refused(capsys, ["convert", hop, "/proc/lmm_out.bvh"], "cannot write in the folder /proc")
    os.symlink(tmp_path / "nowhere" / "x.bvh", tmp_path / "dangling.bvh")
    refused(capsys, ["convert", hop, tmp_path / "dangling.bvh"], "symbolic link")
    assert stat.S_ISFIFO(os.lstat(tmp_path / "pipe.bvh").st_mode)  # untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dangling.bvh", "folder.bvh", "hop.bvh", "pipe.bvh"]


def test_a_device_node_is_never_replaced(tmp_path, hop, capsys):
    node = tmp_path / "null.bvh"
    try:
        os.mknod(node, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    except PermissionError:
        pytest.skip("making a device node needs root")
    refused(capsys, ["convert", hop, node], "is a device")
    assert stat.S_ISCHR(os.lstat(node).st_mode)


def test_writing_keeps_the_mode_and_follows_a_link(tmp_path, hop):
    private = tmp_path / "private.bvh"
    private.write_text("old")
    os.chmod(private, 0o600)
    assert main(["convert", str(hop), str(private)]) == 0
    assert stat.S_IMODE(os.stat(private).st_mode) == 0o600 and read_bvh(private).num_frames == 40
    target = tmp_path / "target.bvh"
    target.write_text("old")
    os.symlink(target, tmp_path / "link.bvh")
    assert main(["convert", str(hop), str(tmp_path / "link.bvh")]) == 0
    assert os.path.islink(tmp_path / "link.bvh") and read_bvh(target).num_frames == 40


def test_stale_temporary_files_of_killed_runs_are_cleaned(tmp_path, hop):
    out = tmp_path / "out.bvh"
    # One of a process that is gone, one of a live process (this one), one old and untagged.
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead = tmp_path / f".out.bvh.{atomic._HOST}-{gone.stdout.strip()}-abcd.tmp.bvh"
    live = tmp_path / f".out.bvh.{atomic._HOST}-{os.getpid()}-efgh.tmp.bvh"
    old = tmp_path / ".out.bvh.k2j4h5.tmp.bvh"
    young = tmp_path / ".out.bvh.zz99zz.tmp.bvh"
    for p in (dead, live, old, young):
        p.write_text("half")
    week = time.time() - 7 * 86400
    os.utime(old, (week, week))
    assert main(["convert", str(hop), str(out)]) == 0
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == sorted(["hop.bvh", "out.bvh", live.name, young.name])


def test_a_full_disk_is_one_line_and_leaves_nothing(tmp_path, hop, capsys, monkeypatch):
    import errno

    real_replace = atomic.os.replace

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(atomic.os, "replace", full)
    refused(capsys, ["convert", hop, tmp_path / "out.bvh"], "No space left on device", "nothing was written")
    monkeypatch.setattr(atomic.os, "replace", real_replace)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hop.bvh"]


def test_output_checks_raise_lmm_errors(tmp_path):
    with pytest.raises(LMMError, match="is a folder"):
        atomic.output_target(tmp_path)
    with pytest.raises(LMMError, match="exists and is not a folder"):
        atomic.check_output_folder(Path(__file__))
    assert atomic.check_output_folder(tmp_path / "new" / "deeper") == tmp_path / "new" / "deeper"
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(MotionFileError, match="named pipe"):
        os.mkfifo(tmp_path / "p")
        atomic.read_text(tmp_path / "p")


# ---- the promise, end to end: a subprocess, no traceback ----------------------------------------------------

def test_no_traceback_from_the_worst_cases(tmp_path, hop):
    """A few of the campaign's cases that once gave tracebacks, hangs or garbage, run as a user runs them."""
    truncated = tmp_path / "t.npz"
    truncated.write_bytes((ROOT / "presets" / "models" / "lmm_default.npz").read_bytes()[:9_000_000])
    os.mkfifo(tmp_path / "fifo.bvh")
    cases = [
        ["generate", "--action", "walk", "--method", "segments", "--model", truncated, "-o", tmp_path / "o.bvh"],
        ["generate", "--action", "walk", "--seconds", "1e9", "-o", tmp_path / "o.bvh"],
        ["complete", hop, "--frames", "1000000000", "-o", tmp_path / "o.bvh"],
        ["info", tmp_path / "fifo.bvh"],
        ["convert", hop, "/proc/o.bvh"],
    ]
    for argv in cases:
        r = subprocess.run([sys.executable, "-m", "lmm_core", *map(str, argv)], cwd=ROOT, capture_output=True,
                           text=True, timeout=60)
        lines = r.stderr.strip().splitlines()
        assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
        assert len(lines) == 1 and lines[0].startswith(f"lmm {argv[0]}: error: "), r.stderr
    assert not (tmp_path / "o.bvh").exists()


def test_limits_default_and_the_frame_limit_value():
    assert max_frames() == 200_000 or "LMM_MAX_FRAMES" in os.environ
    assert np.isfinite(max_frames())
