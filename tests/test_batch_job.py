"""``lmm batch`` without Blender: job files and their errors, sharding, resume planning, and the runner
driving a stand-in worker (failures, crashes and time-outs of single tasks)."""
from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from lmm_core.batch import JobError, load_job, parse_job, parse_shard, plan, run_job, shard_tasks
from lmm_core.batch.plan import MANIFEST, finished, read_manifest, record_output
from lmm_core.cli import main
from lmm_core.errors import LMMError

ROOT = Path(__file__).resolve().parents[1]
CLIP = ROOT / "tests" / "data" / "cmu_131_03_hop_excerpt.bvh.xz"


def job_text(tasks: str, job: str = "", preview: str = "") -> str:
    output = "" if re.search(r"^output\s*=", job, re.M) else 'output = "out"'
    return f"[job]\n{output}\n{job}\n{preview}\n" + textwrap.dedent(tasks)


def parse(tmp_path: Path, tasks: str, job: str = "", preview: str = ""):
    path = tmp_path / "job.toml"
    path.write_text(job_text(tasks, job, preview))
    return load_job(path)


def bad(tmp_path: Path, tasks: str, *needles: str, job: str = "", preview: str = "") -> str:
    with pytest.raises(JobError) as info:
        parse(tmp_path, tasks, job, preview)
    message = str(info.value)
    assert str(tmp_path / "job.toml") in message
    for needle in needles:
        assert needle in message, message
    return message


RETARGET = f"""
    [[task]]
    id = "hop"
    type = "retarget"
    input = "{CLIP}"
    outputs = ["unity", "bvh", "preview", "plot"]
"""


def test_a_good_job_resolves_defaults_paths_and_files(tmp_path):
    (tmp_path / "clips").mkdir()
    (tmp_path / "clips" / "a.bvh").write_bytes(CLIP.read_bytes())
    job = parse(tmp_path, """
        [[task]]
        type = "retarget"
        input = "clips/a.bvh"

        [[task]]
        id = "walk"
        type = "generate"
        action = "walk"
        seconds = 2
        outputs = ["godot", "preview"]
        """, job='character = "mannequin"\noutputs = ["unity", "bvh"]', preview="[preview]\nformats = [\"gif\", \"mp4\"]")
    first, second = job.tasks
    assert first.id == "retarget_a" and first.input == str((tmp_path / "clips" / "a.bvh").resolve())
    assert [o.files for o in first.outputs] == [("retarget_a_unity.fbx",), ("retarget_a.bvh",)]
    assert first.character["kind"] == "mannequin" and first.params == {"in_place": False, "fix_feet": True}
    # The generation method's own variation: the next-frame network's full spread (segments' would be 0.5).
    assert second.params == {"action": "walk", "method": "next-frame", "seconds": 2.0, "seed": 0, "variation": 1.0}
    walk = parse(tmp_path, '[[task]]\ntype = "generate"\naction = "walk"\nmethod = "next-frame"\nto = [1, 2.5]\nat = 2')
    assert walk.tasks[0].params == {"action": "walk", "method": "next-frame", "to": [1.0, 2.5], "at": 2.0, "seconds": 4.0,
                                    "seed": 0, "variation": 1.0}
    segments = parse(tmp_path, '[[task]]\ntype = "generate"\naction = "walk"\nmethod = "segments"')
    assert segments.tasks[0].params["variation"] == 0.5
    # The method is part of the fingerprint: a finished task made by segments is not taken for a next-frame one.
    assert segments.tasks[0].fingerprint != parse(tmp_path, '[[task]]\ntype = "generate"\naction = "walk"\n'
                                                            'variation = 0.5').tasks[0].fingerprint
    # Actions only the next-frame generator knows (the cmu_iclone takes) are accepted for it.
    assert parse(tmp_path, '[[task]]\ntype = "generate"\naction = "dance"').tasks[0].params["action"] == "dance"
    assert [o.files for o in second.outputs] == [("walk_godot.glb",), ("walk_preview.gif", "walk_preview.mp4")]
    assert job.output == (tmp_path / "out").resolve() and first.folder == str(job.output / "retarget_a")
    assert first.fingerprint != second.fingerprint
    # The next-frame in-betweener's rollouts per long gap, as `lmm inbetween --rollouts`; part of the fingerprint.
    gap = f'[[task]]\ntype = "inbetween"\ninput = "clips/a.bvh"\ngap = [10, 70]\n'
    fast = parse(tmp_path, gap + "rollouts = 1").tasks[0]
    assert fast.params == {"gap": [10, 70], "rollouts": 1}
    assert fast.fingerprint != parse(tmp_path, gap).tasks[0].fingerprint
    # A retarget task's rest_frame, as `lmm retarget --rest-frame N`; part of the fingerprint.
    plain = '[[task]]\ntype = "retarget"\ninput = "clips/a.bvh"\n'
    rested = parse(tmp_path, plain + "rest_frame = 12").tasks[0]
    assert rested.params["rest_frame"] == 12 and rested.fingerprint != parse(tmp_path, plain).tasks[0].fingerprint


@pytest.mark.parametrize("tasks, needles", [
    ('[[task]]\ntype = "retarge"\ninput = "x.bvh"', ["unknown type 'retarge'", "did you mean 'retarget'", "generate"]),
    ('[[task]]\ninput = "x.bvh"', ["has no type", "use one of"]),
    ('[[task]]\nid = "a"\ntype = "retarget"\ninput = "missing.bvh"', ["task 'a'", "input 'missing.bvh' not found",
                                                                      "relative to the job file"]),
    ('[[task]]\nid = "a"\ntype = "retarget"', ["task 'a'", "needs 'input'"]),
    (RETARGET.replace('"unity"', '"unty"'), ["task 'hop'", "unknown output 'unty'", "did you mean 'unity'"]),
    (RETARGET.replace('"bvh", "preview"', '"bvh", "bvh"'), ["'bvh' is listed twice"]),
    (RETARGET + 'seconds = 3\n', ["unknown key 'seconds' for a retarget task"]),
    (RETARGET.replace('id = "hop"', 'id = "a b"'), ["id 'a b' must be"]),
    (RETARGET + RETARGET, ["id 'hop' is already used by [[task]] number 1"]),
    (RETARGET + 'character = "hero.blend"\n', ["character 'hero.blend' not found"]),
    (RETARGET + 'character = "hero.obj"\n', ["must be 'mannequin' or a .blend, .fbx or .bvh file"]),
    (RETARGET + 'range = [10, 5]\n', ["range must be [first, last]"]),
    ('[[task]]\nid = "g"\ntype = "generate"\naction = "walk"\nseconds = -1', ["task 'g'", "seconds must be positive"]),
    ('[[task]]\nid = "g"\ntype = "generate"\naction = "walk"\nseed = 1.5', ["seed must be a whole number"]),
    ('[[task]]\nid = "g"\ntype = "generate"\naction = "wlak"', ["task 'g'", "unknown action 'wlak'",
                                                                 "did you mean 'walk'", "generator knows: bend-over, bow"]),
    ('[[task]]\nid = "g"\ntype = "generate"\naction = "wlak"\nmethod = "segments"',
     ["unknown action 'wlak'", "the model knows: bow"]),
    ('[[task]]\nid = "g"\ntype = "generate"\naction = "walk"\nstyle = "grumpy"', ["unknown style 'grumpy'"]),
    ('[[task]]\nid = "g"\ntype = "generate"\naction = "idle"\nstyle = "happy"',
     ["trained on no 'idle' in style 'happy'", "acted, genuine"]),
    ('[[task]]\nid = "g"\ntype = "generate"\naction = "walk"\nmethod = "segments"\nmodel = "none.npz"',
     ["model 'none.npz' not found"]),
    ('[[task]]\nid = "g"\ntype = "generate"\naction = "walk"\nmodel = "none.npz"',
     ["a next-frame generate task does not use", 'method = "segments"']),
    (f'[[task]]\nid = "i"\ntype = "inbetween"\ninput = "{CLIP}"', ["needs either keys", "or gap"]),
    (f'[[task]]\nid = "i"\ntype = "inbetween"\ninput = "{CLIP}"\ngap = [10, 11]', ["leaves no frame to make"]),
    (f'[[task]]\nid = "c"\ntype = "complete"\ninput = "{CLIP}"\nframes = 0', ["frames must be positive"]),
    ('[[task]]\nid = "g"\ntype = "generate"\naction = "walk"\nrange = [0, 9]', ["generate task has none"]),
    ('[[task]]\nid = "g"\ntype = "generate"\naction = "walk"\nmethod = "next_frame"', ["method of a generate task",
                                                                          "next-frame, segments, network"]),
    (f'[[task]]\nid = "i"\ntype = "inbetween"\ninput = "{CLIP}"\ngap = [1, 9]\nmethod = "segments"',
     ["method of an inbetween task is one of auto, network, next-frame"]),
    (f'[[task]]\nid = "i"\ntype = "inbetween"\ninput = "{CLIP}"\ngap = [1, 40]\nrollouts = 0',
     ["task 'i'", "rollouts must be between 1 and 64, got 0"]),
    (f'[[task]]\nid = "i"\ntype = "inbetween"\ninput = "{CLIP}"\ngap = [1, 40]\nrollouts = 2.5',
     ["rollouts must be a whole number"]),
    (f'[[task]]\nid = "i"\ntype = "inbetween"\ninput = "{CLIP}"\ngap = [1, 40]\nmethod = "network"\nrollouts = 4',
     ["rollouts counts the next-frame in-betweener's rollouts", 'method = "network" does not use']),
    (f'[[task]]\nid = "i"\ntype = "inbetween"\ninput = "{CLIP}"\ngap = [1, 40]\nrollouts = 4\n'
     f'model = "{ROOT / "presets" / "models" / "lmm_default.npz"}"',
     ["with a model named, method \"auto\" gives every gap to that window network", 'method = "next-frame"']),
    ('[[task]]\nid = "g"\ntype = "generate"\naction = "walk"\nto = [1, "a"]', ["to is the ground point", "[x, z]"]),
    ('[[task]]\nid = "g"\ntype = "generate"\naction = "walk"\nfacing = 90', ["give to = [x, z] as well"]),
    (RETARGET + 'rest_frame = -1\n', ["task 'hop'", "rest_frame must be between 0 and"]),
    (RETARGET + 'rest_frame = 2.5\n', ["rest_frame must be a whole number"]),
    ('[[task]]\nid = "g"\ntype = "generate"\naction = "walk"\nrest_frame = 3', ["unknown key 'rest_frame' for a generate task"]),
    ('[[task]]\nid = "g"\ntype = "generate"\naction = "walk"\nmethod = "segments"\nto = [1, 2]',
     ["to steers a network", "leave method out (next-frame, the default)"]),
    ('[[task]]\nid = "g"\ntype = "generate"\naction = "walk"\nmethod = "next-frame"\nto = [1, 2]\nat = 9\nseconds = 2',
     ["at = 9 s is not inside the clip of seconds = 2"]),
    ("", ["no tasks"]),
])
def test_bad_tasks_name_the_task_and_the_fix(tmp_path, tasks, needles):
    bad(tmp_path, tasks, *needles)


def test_bad_job_and_preview_tables(tmp_path):
    bad(tmp_path, RETARGET, "unknown key 'outptus' in [job]", "did you mean 'outputs'", job='outptus = ["bvh"]')
    bad(tmp_path, RETARGET, "[preview] width must be", preview="[preview]\nwidth = 2")
    bad(tmp_path, RETARGET, "[preview] formats", preview='[preview]\nformats = ["avi"]')
    bad(tmp_path, RETARGET, "[preview] engine", preview='[preview]\nengine = "cycles"')
    path = tmp_path / "job.toml"
    path.write_text(RETARGET + "\n[jobs]\n")
    with pytest.raises(JobError, match=r"unknown table 'jobs' \(did you mean 'job'\?\)"):
        load_job(path)
    path.write_text("[job\n")
    with pytest.raises(JobError, match="not valid TOML"):
        load_job(path)
    with pytest.raises(JobError, match="job file not found"):
        load_job(tmp_path / "nope.toml")


def test_output_folder_problems(tmp_path):
    (tmp_path / "out").write_text("a file where the output folder should be")
    bad(tmp_path, RETARGET, "output", "is not a folder")
    bad(tmp_path, RETARGET, "cannot be created", f"{tmp_path / 'out'} is a file", job='output = "out/sub"')


def test_unknown_preset_file_and_custom_preset(tmp_path):
    bad(tmp_path, RETARGET.replace('"unity"', '"studio.toml"'), "export preset file 'studio.toml' not found")
    (tmp_path / "studio.toml").write_text('[preset]\nname = "Studio"\nformat = "fbx"\nextension = ".fbx"\n[options]\n')
    job = parse(tmp_path, RETARGET.replace('"unity"', '"studio.toml"'))
    assert job.tasks[0].outputs[0].files == ("hop_studio.fbx",)


@pytest.mark.parametrize("text", ["3/2", "0/2", "1/0", "a/b", "2", "1/2/3", "-1/2"])
def test_bad_shard_specs(text):
    with pytest.raises(LMMError, match="--shard"):
        parse_shard(text)


def test_shards_are_a_deterministic_balanced_partition(tmp_path):
    tasks = "".join(f'\n[[task]]\nid = "t{i:03d}"\ntype = "generate"\naction = "walk"\n' for i in range(37))
    job = parse(tmp_path, tasks)
    ids = [t.id for t in job.tasks]
    for n in (1, 2, 3, 8, 37, 50):
        shards = [[t.id for t in shard_tasks(job.tasks, (i, n))] for i in range(1, n + 1)]
        flat = [t for s in shards for t in s]
        assert sorted(flat) == sorted(ids) and len(flat) == len(set(flat))  # union is all, disjoint
        sizes = [len(s) for s in shards]
        assert max(sizes) - min(sizes) <= 1
        # The split depends on the ids only: the same with the tasks in another order.
        again = [[t.id for t in shard_tasks(list(reversed(job.tasks)), (i, n))] for i in range(1, n + 1)]
        assert [sorted(s) for s in again] == [sorted(s) for s in shards]
    # The documented rule, worked out here: rank by SHA-256 of the id, shard i takes ranks i-1 mod n.
    ranked = sorted(ids, key=lambda i: hashlib.sha256(i.encode()).hexdigest())
    assert [t.id for t in shard_tasks(job.tasks, (2, 3))] == sorted(ranked[1::3])
    assert [t.id for t in shard_tasks(job.tasks, (2, 3))][:4] == ["t000", "t001", "t002", "t004"]


def _finish(task, key: str, content: bytes = b"data") -> None:
    folder = Path(task.folder)
    folder.mkdir(parents=True, exist_ok=True)
    output = next(o for o in task.outputs if o.key == key)
    for name in output.files:
        if name.endswith("_frames"):
            (folder / name).mkdir(exist_ok=True)
            (folder / name / "frame_0001.png").write_bytes(content)
        else:
            (folder / name).write_bytes(content)
    record_output(folder, task.fingerprint, key, output.files)


def test_resume_skips_finished_outputs_and_redoes_half_written_ones(tmp_path):
    job = parse(tmp_path, RETARGET)
    task = job.tasks[0]
    assert plan(job)[0].todo == ["unity", "bvh", "preview", "plot"]
    for key in ("unity", "bvh", "preview"):
        _finish(task, key)
    folder = Path(task.folder)
    (folder / "hop_plot.png").write_bytes(b"left by a killed run, never recorded")
    assert plan(job)[0].todo == ["plot"]
    # A file cut short (a killed copy, a full disk) no longer matches the size recorded: made again.
    (folder / "hop.bvh").write_bytes(b"da")
    (folder / "hop_frames" / "frame_0001.png").unlink()
    assert plan(job)[0].todo == ["bvh", "preview", "plot"]
    assert plan(job, force=True)[0].todo == ["unity", "bvh", "preview", "plot"]
    # A changed task (another fingerprint) makes everything again.
    _finish(task, "bvh")
    changed = parse(tmp_path, RETARGET + "in_place = true\n")
    assert changed.tasks[0].fingerprint != task.fingerprint
    assert plan(changed)[0].todo == ["unity", "bvh", "preview", "plot"]
    assert read_manifest(folder)["fingerprint"] == task.fingerprint
    # An unreadable manifest counts as nothing finished.
    (folder / MANIFEST).write_text("{not json")
    assert not finished(task, read_manifest(folder), "unity")


# ---- the runner with a stand-in worker ------------------------------------------------------------------

FAKE_WORKER = r'''
import json, os, sys, time
from pathlib import Path
from lmm_core.batch.plan import record_output
from lmm_core.batch.runner import PREFIX

def emit(event, task, **data):
    print(PREFIX + json.dumps({"event": event, "task": task, **data}), flush=True)

emit("ready", "")
for line in sys.stdin:
    item = json.loads(line)
    tid = item["id"]
    print(f"worker {os.getpid()} starts {tid}", flush=True)
    if "crash" in tid:
        os._exit(3)
    if "slow" in tid:
        time.sleep(30)
    if "bad" in tid:
        emit("failed", tid, error="the input is broken; fix it")
        continue
    folder = Path(item["folder"])
    folder.mkdir(parents=True, exist_ok=True)
    for out in item["outputs"]:
        for name in out["files"]:
            (folder / name).write_text(f"{tid} {out['key']}")
        record_output(folder, item["fingerprint"], out["key"], out["files"])
        emit("output", tid, key=out["key"])
    emit("done", tid, seconds=0.01)
'''


def fake_job(tmp_path: Path, ids: list[str]) -> Path:
    tasks = "".join(f'\n[[task]]\nid = "{i}"\ntype = "generate"\naction = "walk"\noutputs = ["bvh"]\n' for i in ids)
    path = tmp_path / "job.toml"
    path.write_text(job_text(tasks))
    (tmp_path / "worker.py").write_text(FAKE_WORKER)
    return path


def test_one_bad_task_or_crash_does_not_stop_the_others(tmp_path):
    ids = ["a", "bad1", "b", "crash1", "c", "d", "slow1", "e"]
    job = load_job(fake_job(tmp_path, ids))
    worker = [sys.executable, str(tmp_path / "worker.py")]
    summary = run_job(job, jobs=2, task_timeout=2, worker=worker, show_progress=False)
    status = {r.id: r.status for r in summary.results}
    assert status == {"a": "done", "bad1": "failed", "b": "done", "crash1": "failed", "c": "done", "d": "done",
                      "slow1": "failed", "e": "done"}
    errors = {r.id: r.error for r in summary.failed}
    assert errors["bad1"] == "the input is broken; fix it"
    assert "died (exit status 3)" in errors["crash1"] and "timed out after 2 s" in errors["slow1"]
    assert all(Path(r.log).is_file() for r in summary.failed)
    for i in "abcde":
        assert (job.output / i / f"{i}.bvh").read_text() == f"{i} bvh"
    written = json.loads((job.output / "batch-summary.json").read_text())
    assert written["counts"] == {"done": 5, "skipped": 0, "failed": 3}
    assert "3 failed" in summary.text() and "FAILED crash1" in summary.text()
    # Run again: the finished ones are skipped, only the failed ones run.
    again = run_job(job, jobs=1, task_timeout=2, worker=worker, show_progress=False)
    assert {r.id: r.status for r in again.results if r.status != "failed"} == {i: "skipped" for i in "abcde"}


def test_a_worker_that_cannot_start_fails_its_tasks_with_a_reason(tmp_path):
    job = load_job(fake_job(tmp_path, ["a", "b"]))
    (tmp_path / "broken_worker.py").write_text("import sys\nprint('no bpy here')\nsys.exit(1)\n")
    summary = run_job(job, jobs=1, worker=[sys.executable, str(tmp_path / "broken_worker.py")], show_progress=False)
    assert [r.status for r in summary.results] == ["failed", "failed"]
    assert all("did not start" in r.error for r in summary.results)
    assert "no bpy here" in Path(summary.results[0].log).read_text()


def test_cli_exit_status_and_one_line_errors(tmp_path):
    job = fake_job(tmp_path, ["a"])
    r = subprocess.run([sys.executable, "-m", "lmm_core", "batch", str(job), "--shard", "3/2"], cwd=ROOT,
                       capture_output=True, text=True)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "--shard" in r.stderr
    (tmp_path / "broken.toml").write_text('[[task]]\ntype = "jump"\n')
    r = subprocess.run([sys.executable, "-m", "lmm_core", "batch", str(tmp_path / "broken.toml")], cwd=ROOT,
                       capture_output=True, text=True)
    assert r.returncode == 2 and "unknown type 'jump'" in r.stderr and "Traceback" not in r.stderr


def test_dry_run_lists_the_shard(tmp_path, capsys):
    job = fake_job(tmp_path, ["a", "b", "c", "d"])
    assert main(["batch", str(job), "--dry-run", "--shard", "1/2"]) == 0
    out = capsys.readouterr().out
    assert "2 of 4 tasks in shard 1/2; 2 to run" in out and "make bvh" in out
    assert not (tmp_path / "out" / "a").exists()


def test_preview_settings_are_part_of_the_fingerprint(tmp_path):
    path = tmp_path / "job.toml"
    path.write_text(job_text(RETARGET + RETARGET.replace('"hop"', '"hop2"').replace(', "preview", "plot"', "")))
    plain, capped = load_job(path), load_job(path, preview={"frames": 2})
    assert capped.preview["frames"] == 2
    assert plain.tasks[0].fingerprint != capped.tasks[0].fingerprint  # its preview would be another
    assert plain.tasks[1].fingerprint == capped.tasks[1].fingerprint  # no preview: nothing changes
    with pytest.raises(JobError, match="frames"):
        load_job(path, preview={"frames": -1})


def test_parse_job_from_text_uses_the_given_folder(tmp_path):
    job = parse_job(RETARGET, tmp_path / "virtual.toml", output=tmp_path / "elsewhere")
    assert job.output == (tmp_path / "elsewhere").resolve() and job.name == "virtual"
