"""Impossible capture geometry and hostile batch jobs: cameras at one place, keypoints filed under the wrong
camera, job files with non-finite or out-of-range values that used to pass ``--dry-run`` and fail in Blender,
outputs corrupted to the same size, and two runs of one job at once."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from lmm_core.batch import JobError, check_tasks, load_job, plan, run_job
from lmm_core.batch.lock import LockHeld, hold, lock_name
from lmm_core.batch.plan import MANIFEST, finished, read_manifest, record_output
from lmm_core.capture import synthetic as S
from lmm_core.capture.calibration import Calibration, write_calibration
from lmm_core.capture.cameras import Camera
from lmm_core.capture.keypoints import COCO17, Keypoints2D, write_npz
from lmm_core.capture.pipeline import CaptureOptions, capture, check_body
from lmm_core.cli import main
from lmm_core.errors import LMMError, MotionFileError

ROOT = Path(__file__).resolve().parents[1]
HOP = ROOT / "tests" / "data" / "cmu_131_03_hop_excerpt.bvh.xz"


# ---- capture -----------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def scene():
    motion = S.source_motion(HOP, fps=30.0)
    points = S.keypoints_3d(motion, COCO17)
    calib = S.camera_ring(3, points, seed=0)
    kp, _ = S.render(points, calib, COCO17, S.Corruption(max_offset=0), seed=1, fps=30.0)
    return points, calib, kp


def _render(points, calib):
    return S.render(points, calib, COCO17, S.Corruption(max_offset=0), seed=1, fps=30.0)[0]


@pytest.mark.parametrize("shift", [0.0, 0.002])
def test_cameras_at_one_place_are_refused(scene, shift):
    points, calib, _ = scene
    c1 = calib.cameras[0]
    twin = Calibration((c1, Camera("cam2", c1.K, c1.dist, c1.R, c1.t + np.array([shift, 0, 0]), c1.size)), "y")
    with pytest.raises(MotionFileError, match=r"stand at one place .*cam1 and cam2.*depth cannot be measured"):
        capture(twin, _render(points, twin))


def test_cameras_looking_from_one_direction_are_refused(scene):
    points, calib, _ = scene
    c1 = calib.cameras[0]
    # 30 cm apart along the line of sight: a baseline, but no angle between the rays to the performer.
    behind = Camera("cam2", c1.K, c1.dist, c1.R, c1.t + np.array([0, 0, 0.3]), c1.size)
    inline = Calibration((c1, behind), "y")
    with pytest.raises(MotionFileError, match="degrees apart.*depth cannot be measured"):
        capture(inline, _render(points, inline), CaptureOptions(sync=False))


def test_keypoints_swapped_between_cameras_are_caught(scene):
    _, calib, kp = scene
    swapped = Keypoints2D(kp.data[[1, 0, 2]], COCO17, kp.cameras, kp.fps)
    with pytest.raises(LMMError, match=r"frame offset of camera\(s\) cam2 reached the search limit \(30 frames"):
        capture(calib, swapped)
    # Refused by whichever check meets it first (the one-person check, or the calibration's agreement since
    # the image offsets re-triangulate): both name the camera and say to check whose keypoints it holds.
    with pytest.raises(MotionFileError, match=r"camera\(s\) cam2 \(.*(do not agree|disagree with the other cameras)"
                                              r"(.|\n)*filed under its own name"):
        capture(calib, swapped, CaptureOptions(sync=False))
    # The true footage passes both checks.
    result = capture(calib, kp)
    assert list(result.offsets) == [0, 0, 0] and 0.4 < result.lengths["torso"] < 0.7


def test_a_body_no_person_has_is_refused():
    check_body({"torso": 0.5, "left_thigh": 0.45, "left_shin": 0.4}, None)
    with pytest.raises(MotionFileError, match="torso is 19.00 m long.*--units"):
        check_body({"torso": 19.0, "left_thigh": 0.45, "left_shin": 0.4}, None)


def test_capture_command_says_it_in_one_line_and_writes_nothing(scene, tmp_path, capsys):
    points, calib, _ = scene
    c1 = calib.cameras[0]
    twin = Calibration((c1, Camera("cam2", c1.K, c1.dist, c1.R, c1.t, c1.size)), "y")
    write_calibration(twin, tmp_path / "calib.toml")
    write_npz(_render(points, twin), tmp_path / "kp.npz")
    (tmp_path / "bom.toml").write_bytes(b"\xef\xbb\xbf" + (tmp_path / "calib.toml").read_bytes())
    for calib_file in ("calib.toml", "bom.toml"):  # a byte-order mark reads; the geometry is still refused
        status = main(["capture", str(tmp_path / calib_file), str(tmp_path / "kp.npz"), "-o", str(tmp_path / "o.bvh")])
        err = capsys.readouterr().err.strip().splitlines()
        assert status == 2 and len(err) == 1 and "stand at one place" in err[0], err
    assert not (tmp_path / "o.bvh").exists()


# ---- batch jobs ---------------------------------------------------------------------------------------------

GEN = '[[task]]\ntype = "generate"\naction = "walk"\n'
INB = f'[[task]]\ntype = "inbetween"\ninput = "{HOP}"\n'

BAD_VALUES = [
    (GEN + "seconds = inf\n", "seconds must be a finite number"),
    (GEN + "seconds = nan\n", "seconds must be a finite number"),
    (GEN + "seconds = 1e12\n", "seconds must be between 0.1 and 6666.67"),
    (GEN + "seed = -1\n", "seed must be between 0 and"),
    (GEN + "variation = nan\n", "variation must be a finite number"),
    (GEN + "fps = inf\n", "fps must be a finite number"),
    (GEN + "fps = 1e9\n", "fps must be between 0.1 and 10000"),
    (GEN + 'id = "Walk"\n' + GEN + 'id = "walk"\n', "differs only in case from 'Walk'"),
    (INB + "keys = [5, 5]\n", "two or more different frame numbers"),
    (INB + "keys = [0, 9223372036854775807]\n", "two or more different frame numbers"),
    (f'[[task]]\ntype = "complete"\ninput = "{HOP}"\nframes = 1000000000\n', "frames must be at most"),
    (GEN + 'outputs = ["preview"]\n[preview]\nfps = inf\n', "[preview] fps must be a finite number"),
]


def _job(tmp_path: Path, body: str, bom: bool = False) -> Path:
    path = tmp_path / "job.toml"
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + f'[job]\noutput = "{tmp_path / "out"}"\n{body}'.encode())
    return path


@pytest.mark.parametrize("body, needle", BAD_VALUES, ids=[n for _, n in BAD_VALUES])
def test_job_values_are_finite_and_in_range(tmp_path, capsys, body, needle):
    assert main(["batch", str(_job(tmp_path, body)), "--dry-run"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and needle in err[0], err


def _nonhuman(tmp_path: Path) -> Path:
    rig = tmp_path / "arm.bvh"
    rig.write_text("HIERARCHY\nROOT base\n{\n OFFSET 0 0 0\n CHANNELS 6 Xposition Yposition Zposition Zrotation "
                   "Xrotation Yrotation\n JOINT arm\n {\n  OFFSET 0 1 0\n  CHANNELS 3 Zrotation Xrotation Yrotation\n"
                   "  End Site\n  {\n   OFFSET 0 1 0\n  }\n }\n}\nMOTION\nFrames: 2\nFrame Time: 0.0333333\n"
                   + "0 0 0 0 0 0 0 0 0\n" * 2)
    return rig


def test_dry_run_finds_what_a_run_would(tmp_path, capsys):
    garbage = tmp_path / "garbage.bvh"
    garbage.write_bytes(os.urandom(2000))
    (tmp_path / "fake.fbx").write_bytes(b"not an fbx")
    body = (GEN + 'id = "fine"\n'
            + GEN + f'id = "arm"\ncharacter = "{_nonhuman(tmp_path)}"\n'
            + INB + 'id = "late"\nkeys = [0, 500]\n'
            + f'[[task]]\nid = "junk"\ntype = "mirror"\ninput = "{garbage}"\n'
            + f'[[task]]\nid = "fbx"\ntype = "retarget"\ninput = "{tmp_path / "fake.fbx"}"\n'
            + f'[[task]]\nid = "cut"\ntype = "retarget"\ninput = "{HOP}"\nrange = [0, 5000]\n'
            + f'[[task]]\nid = "rest"\ntype = "retarget"\ninput = "{HOP}"\nrest_frame = 5000\n')
    job = _job(tmp_path, body)
    assert main(["batch", str(job), "--dry-run"]) == 2
    out, err = capsys.readouterr()
    lines = {ln.split()[0]: ln for ln in out.splitlines() if ln and not ln[0].isdigit()}
    assert "WOULD FAIL" not in lines["fine"]
    assert "character cannot be used" in lines["arm"] and "target_map" in lines["arm"]
    assert "key frame 500 is past the clip's last frame 359" in lines["late"]
    assert "input cannot be used" in lines["junk"] and "is not a FBX file" in lines["fbx"]
    assert "range [0, 5000] runs past" in lines["cut"]
    assert "rest_frame 5000 is past the input's last frame 359" in lines["rest"]
    assert len(err.strip().splitlines()) == 1 and "6 task(s) would fail" in err
    problems = check_tasks(load_job(job))
    assert sorted(problems) == ["arm", "cut", "fbx", "junk", "late", "rest"]
    assert all("job.toml, task '" in p for p in problems.values())


def test_a_run_fails_such_tasks_at_once_and_runs_the_others(tmp_path):
    (tmp_path / "worker.py").write_text(textwrap.dedent('''
        import json, sys
        from pathlib import Path
        from lmm_core.batch.plan import record_output
        from lmm_core.batch.runner import PREFIX
        def emit(event, task, **data):
            print(PREFIX + json.dumps({"event": event, "task": task, **data}), flush=True)
        emit("ready", "")
        for line in sys.stdin:
            item = json.loads(line)
            folder = Path(item["folder"])
            for out in item["outputs"]:
                for name in out["files"]:
                    (folder / name).write_text("made")
                record_output(folder, item["fingerprint"], out["key"], out["files"])
                emit("output", item["id"], key=out["key"])
            emit("done", item["id"], seconds=0.01)
    '''))
    job = load_job(_job(tmp_path, GEN + 'id = "fine"\n' + INB + 'id = "late"\nkeys = [0, 500]\n'))
    summary = run_job(job, worker=[sys.executable, str(tmp_path / "worker.py")], show_progress=False)
    status = {r.id: (r.status, r.error) for r in summary.results}
    assert status["fine"] == ("done", "")
    assert status["late"][0] == "failed" and "key frame 500 is past" in status["late"][1]
    assert not (job.output / "late").exists()  # never handed to a worker
    assert not list(job.output.glob("*.lock")) and not list((job.output / "fine").glob("*.lock"))


def test_a_job_file_with_a_byte_order_mark_reads(tmp_path, capsys):
    assert main(["batch", str(_job(tmp_path, GEN, bom=True)), "--dry-run"]) == 0
    assert "1 to run" in capsys.readouterr().out


def test_a_same_size_corruption_is_made_again(tmp_path):
    job = load_job(_job(tmp_path, f'[[task]]\nid = "hop"\ntype = "retarget"\ninput = "{HOP}"\noutputs = ["bvh"]\n'))
    task = job.tasks[0]
    folder = Path(task.folder)
    folder.mkdir(parents=True)
    (folder / "hop.bvh").write_bytes(b"the real motion")
    record_output(folder, task.fingerprint, "bvh", ["hop.bvh"])
    assert plan(job)[0].todo == []
    (folder / "hop.bvh").write_bytes(b"the real motioN")  # same size, one byte flipped
    assert plan(job)[0].todo == ["bvh"]
    # A manifest from before hashes were kept (sizes only) is not trusted either.
    (folder / "hop.bvh").write_bytes(b"the real motion")
    (folder / MANIFEST).write_text(f'{{"fingerprint": "{task.fingerprint}", "outputs": {{"bvh": {{"files": '
                                   '{"hop.bvh": 15}}}}')
    assert not finished(task, read_manifest(folder), "bvh")


def test_two_runs_of_one_job_do_not_race(tmp_path, capsys):
    path = _job(tmp_path, GEN)
    job = load_job(path)
    lock = job.output / lock_name((1, 1))
    with hold(lock, "testing"):
        with pytest.raises(LockHeld, match=rf"process {os.getpid()} on .* started .*lmm"):
            with hold(lock, "testing"):
                pass
        # A second run from another process is refused with who holds it, in one line.
        r = subprocess.run([sys.executable, "-m", "lmm_core", "batch", str(path)], cwd=ROOT, capture_output=True,
                           text=True, timeout=300, env=dict(os.environ, LMM_BATCH_PYTHON=sys.executable))
        lines = r.stderr.strip().splitlines()
        assert r.returncode == 2 and len(lines) == 1 and "another lmm batch run is making shard 1/1" in lines[0]
        assert f"process {os.getpid()}" in lines[0] and "Traceback" not in r.stderr
        # Another shard of the same job may share the folder (farm machines do).
        with hold(job.output / lock_name((2, 2)), "testing"):
            pass
    assert not lock.exists()  # released and removed: a killed run leaves nothing that blocks the next
    with hold(lock, "testing"):
        pass


def test_job_errors_name_the_file_and_task(tmp_path):
    with pytest.raises(JobError, match=r"job.toml, task 'walk' \(\[\[task\]\] number 2\): id 'walk' differs only"):
        load_job(_job(tmp_path, GEN + 'id = "WALK"\n' + GEN + 'id = "walk"\n'))
