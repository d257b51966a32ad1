"""The ``lmm`` command line: info, convert, and one-line errors with a non-zero exit."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lmm_core import read_bvh
from lmm_core.cli import main

ROOT = Path(__file__).resolve().parents[1]


def run_lmm(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lmm_core", *args], cwd=ROOT, capture_output=True, text=True)


def test_info_reports_the_clip(test_data, capsys):
    assert main(["info", "--json", str(test_data / "reactidle_001_acted_excerpt.bvh.xz")]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["joints"] == 19 and d["frames"] == 240 and d["fps"] == 24.0
    assert abs(d["duration_s"] - 10.0) < 1e-9
    assert 1.2 < d["height_m"] < 2.0


def test_convert_resamples_reorders_and_scales(test_data, tmp_path):
    src = test_data / "cmu_131_03_hop_excerpt.bvh.xz"
    out = tmp_path / "hop30.bvh"
    assert main(["convert", str(src), str(out), "--fps", "30", "--order", "xyz", "--scale", "2"]) == 0
    m, back = read_bvh(src), read_bvh(out)
    assert back.fps == 30 and back.num_frames == 90
    assert set(back.skeleton.rotation_orders) == {"xyz"}
    np.testing.assert_allclose(back.global_positions(), 2 * m.global_positions()[::4], atol=1e-4)


def test_bad_file_prints_one_line_and_fails(tmp_path):
    bad = tmp_path / "bad.bvh"
    bad.write_text("HIERARCHY\nROOT Hips\n{\n OFFSET 0 0 0\n CHANNELS 3 Xrotation Yrotation Qrotation\n}\nMOTION\nFrames: 1\nFrame Time: 0.1\n0 0 0\n")
    r = run_lmm("info", str(bad))
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "bad.bvh, line 5" in lines[0] and "Qrotation" in lines[0]
    assert "Traceback" not in r.stderr


def test_missing_file_and_bad_arguments(tmp_path, test_data):
    r = run_lmm("convert", str(tmp_path / "missing.bvh"), str(tmp_path / "o.bvh"))
    assert r.returncode == 2 and "file not found" in r.stderr and not (tmp_path / "o.bvh").exists()
    r = run_lmm("convert", str(test_data / "cmu_131_03_hop_excerpt.bvh.xz"), str(tmp_path / "o.bvh"), "--order", "abc")
    assert r.returncode == 2 and "unknown Euler order 'abc'" in r.stderr and not (tmp_path / "o.bvh").exists()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.blender
def test_demo_runs_the_demo_job_and_says_where_things_are(tmp_path, capsys):
    pytest.importorskip("bpy", reason="the demo runs Blender headless: pip install bpy==5.0.1")
    assert main(["demo", "--out", str(tmp_path), "--preview-frames", "2"]) == 0
    out = capsys.readouterr().out
    assert "4 done" in out and "0 failed" in out
    shown = re.findall(re.escape(str(tmp_path)) + r"/[^\s/]+/[^\s/]+", out)  # every file it says it made
    assert len(shown) >= 18 and all(Path(p).exists() for p in shown)
    run = read_bvh(tmp_path / "generated_run" / "generated_run.bvh")
    assert run.skeleton.num_joints == 22 and run.num_frames == 90 and run.fps == 30
    hop = read_bvh(tmp_path / "hop_inbetween" / "hop_inbetween.bvh")
    assert hop.skeleton.num_joints == 22 and hop.num_frames == 360 and hop.fps == 120
    other = read_bvh(tmp_path / "hop_on_reactidle_rig" / "hop_on_reactidle_rig.bvh")
    assert other.skeleton.num_joints == 19 and other.num_frames == 360 and "face" in other.skeleton.names
    assert len(list((tmp_path / "hop_on_mannequin" / "hop_on_mannequin_frames").glob("*.png"))) == 2
    # A second run reuses what is finished.
    assert main(["demo", "--out", str(tmp_path), "--preview-frames", "2"]) == 0
    assert "4 already finished" in capsys.readouterr().out


def test_commands_other_than_train_run_where_torch_cannot_be_imported(test_data, tmp_path):
    """`lmm info` and `lmm inbetween` (the shipped model, numpy only) work with torch unimportable; `lmm train`
    says in one line that it needs torch, and `lmm train --help` still lists its options."""
    blocker = tmp_path / "no_torch" / "torch"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text("raise ImportError('torch is blocked for this test')\n")
    env = {**__import__("os").environ, "PYTHONPATH": f"{blocker.parent}:{ROOT}"}
    clip = test_data / "cmu_131_03_hop_excerpt.bvh.xz"

    def lmm(*args):
        return subprocess.run([sys.executable, "-m", "lmm_core", *args], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=300)

    r = lmm("info", str(clip))
    assert r.returncode == 0 and "joints    31" in r.stdout, r.stderr
    out = tmp_path / "made.bvh"
    r = lmm("inbetween", str(clip), "--keys", "0,20,40", "-o", str(out))
    assert r.returncode == 0, r.stderr
    assert read_bvh(out).num_frames == read_bvh(clip).num_frames
    r = lmm("train", "--help")
    assert r.returncode == 0 and "--rotation-weight" in r.stdout
    r = lmm("train", "--out", str(tmp_path / "run"), "--steps", "1")
    assert r.returncode == 2 and "lmm train needs torch" in r.stderr and "Traceback" not in r.stderr


def test_train_refuses_out_of_range_options_before_any_work(tmp_path):
    for option, value, says in (("--lr", "nan", "--lr must be a finite number from 0 to 1, got nan"),
                                ("--batch", "0", "--batch must be a finite number from 1 to 4096, got 0"),
                                ("--warmup", "0", "--warmup must be a finite number from 1"),
                                ("--warmup", "-5", "--warmup must be a finite number from 1"),
                                ("--steps", "0", "--steps must be a finite number from 1"),
                                ("--d-model", "0", "--d-model must be from 8 to 4096, got 0"),
                                ("--d-model", "30", "--d-model must be a multiple of the 4 attention heads"),
                                ("--layers", "-1", "--layers must be from 1 to 64, got -1"),
                                ("--task-mix", "0,0,0,0", "--task-mix must not be all zero"),
                                ("--windows", "64,x", "--windows takes comma-separated numbers, got '64,x'"),
                                ("--export", str(tmp_path / "missing" / "m.npz"), "the folder")):
        out = tmp_path / "run"
        code = main(["train", option, value, "--out", str(out)])
        assert code == 2 and not out.exists(), (option, value)
    r = subprocess.run([sys.executable, "-m", "lmm_core", "train", "--lr", "inf", "--out", str(tmp_path / "run")],
                       cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and r.stderr.strip() == "lmm train: error: --lr must be a finite number from 0 to 1, got inf"


def test_an_option_the_command_lacks_is_refused_with_that_commands_usage(capsys, tmp_path):
    """``lmm complete --rollouts 3`` (an in-between option) used to print lmm's own usage, which lists no options."""
    with pytest.raises(SystemExit) as exc:
        main(["complete", str(tmp_path / "x.bvh"), "--frames", "3", "-o", str(tmp_path / "y.bvh"), "--rollouts", "3"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "usage: lmm complete" in err and "lmm complete: error: unrecognized arguments: --rollouts 3" in err
    assert not (tmp_path / "y.bvh").exists()


def test_retarget_binds_a_zero_rest_pose_as_the_clip_stands_and_says_so(shared_data, tmp_path, capsys):
    """A Character Creator BVH rests with its legs pointing up: bound from that rest, its canonical thighs came out
    twisted over 20 degrees. ``bind_motion`` binds it as it stands on its first upright frame instead, and
    ``lmm retarget`` says so, naming the frame and ``--rest-frame`` (a T-pose frame given: no note)."""
    from lmm_core import rotations as R
    from lmm_core.bonemap import bone_map_for
    from lmm_core.canonical import canonical_skeleton
    from lmm_core.cleanup.body import bone_frames
    from lmm_core.cleanup.limits import swing_twist
    from lmm_core.retarget import _bind_motion, retarget

    take = shared_data / "cmu_iclone" / "007_06.bvh.xz"  # its first frame is the rig's T-pose
    if not take.exists():
        pytest.skip("../shared/data/cmu_iclone is not here")
    canon = canonical_skeleton()
    hips = [canon.names.index("left_hip"), canon.names.index("right_hip")]

    def thigh_twist(m):  # degrees, each thigh's mean turn about its bone
        _, tw = swing_twist(R.normalize(m.rotations[:, [m.skeleton.names.index(n) for n in canon.names]]), bone_frames())
        return np.degrees(np.abs(np.arctan2(np.sin(tw[:, hips]).mean(0), np.cos(tw[:, hips]).mean(0))))

    raw = read_bvh(take).slice(1)  # standing from its first frame on
    smap = bone_map_for(raw.skeleton)
    as_rest = retarget(raw, _bind_motion(raw, smap), canon, bone_map_for(canon, "canonical"), fix_feet=False)
    assert thigh_twist(as_rest).min() > 20
    for label, extra in (("as it stands", []), ("T-pose", ["--rest-frame", "0"])):
        out = tmp_path / f"{label}.bvh"
        assert main(["retarget", str(take), "--to", "canonical", "-o", str(out), *extra]) == 0
        err = capsys.readouterr().err
        assert ("legs pointing up" in err and "on frame 0" in err and "--rest-frame N" in err) == (label == "as it stands")
        assert thigh_twist(read_bvh(out)).max() < 10, label
    with pytest.raises(SystemExit) as exc:
        raise SystemExit(main(["retarget", str(take), "--to", "canonical", "-o", str(tmp_path / "x.bvh"), "--rest-frame", "9999"]))
    assert exc.value.code == 2 and "has frames 0-208" in capsys.readouterr().err and not (tmp_path / "x.bvh").exists()


def test_an_unknown_option_before_the_command_is_lmms_and_a_negative_rest_frame_is_refused(capsys, test_data, tmp_path):
    with pytest.raises(SystemExit):
        main(["--bogus", "info", str(test_data / "cmu_131_03_hop_excerpt.bvh.xz")])
    assert "lmm: error: unrecognized arguments: --bogus" in capsys.readouterr().err
    assert main(["retarget", str(test_data / "cmu_131_03_hop_excerpt.bvh.xz"), "--to", "canonical", "-o",
                 str(tmp_path / "o.bvh"), "--rest-frame", "-1"]) == 2
    assert "--rest-frame must be a whole number from 0" in capsys.readouterr().err and not (tmp_path / "o.bvh").exists()
