"""Running a job's tasks in Blender worker processes, collecting results, and the summary.

Each worker is a separate Python process that imports ``bpy`` (``python -m addon.batch_worker``, with the
repository on ``PYTHONPATH``): one per ``--jobs``. The runner hands tasks out one at a time over the
worker's standard input (a JSON line each, once the worker has said it is ready), so a slow task never
holds up the others, and reads the worker's answers from its standard output: lines starting with ``PREFIX`` are events (JSON), everything
else Blender prints goes to the worker's log file under ``<output>/logs``. A task that fails is reported
and the worker goes on with the next; a worker that dies (a crash inside Blender) or runs past the task
timeout is ended, its task counted failed, and a fresh worker takes the remaining tasks.
"""
from __future__ import annotations

import importlib.util
import json
import os
import queue
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, TextIO

from ..errors import LMMError
from ..progress import progress
from .job import REPO_ROOT, Job, check_tasks
from .lock import TASK_LOCK, LockHeld, hold, lock_name
from .plan import Planned, plan, write_json_atomic

PREFIX = "@@lmm-batch "
WORKER_MODULE = "addon.batch_worker"
STARTUP_TIMEOUT = 300.0  # seconds a worker may take to import bpy and say it is ready


class _StartError(Exception):
    """A worker process that exited or hung before it was ready."""


@dataclass
class TaskResult:
    """What became of one task."""

    id: str
    status: str  # "done" | "skipped" | "failed"
    seconds: float = 0.0
    made: list[str] = field(default_factory=list)
    error: str = ""
    log: str = ""


@dataclass
class Summary:
    job: str
    shard: tuple[int, int]
    results: list[TaskResult]
    seconds: float
    output: Path
    workers: int

    @property
    def failed(self) -> list[TaskResult]:
        return [r for r in self.results if r.status == "failed"]

    def count(self, status: str) -> int:
        return sum(r.status == status for r in self.results)

    def to_dict(self) -> dict:
        return {
            "job": self.job, "shard": f"{self.shard[0]}/{self.shard[1]}", "seconds": round(self.seconds, 3),
            "workers": self.workers, "output": str(self.output),
            "counts": {s: self.count(s) for s in ("done", "skipped", "failed")},
            "tasks": [r.__dict__ for r in self.results],
        }

    def text(self) -> str:
        i, n = self.shard
        lines = [f"batch {self.job!r}" + (f" shard {i}/{n}" if n > 1 else "") +
                 f": {len(self.results)} tasks in {self.seconds:.1f} s with {self.workers} worker(s): "
                 f"{self.count('done')} done, {self.count('skipped')} already finished (skipped), "
                 f"{self.count('failed')} failed"]
        for r in self.failed:
            lines.append(f"  FAILED {r.id}: {r.error}" + (f" (log: {r.log})" if r.log else ""))
        lines.append(f"outputs in {self.output}/")
        return "\n".join(lines)


def worker_command(python: str | None = None) -> list[str]:
    """The command that starts a worker (``$LMM_BATCH_PYTHON`` or this Python, ``-m addon.batch_worker``)."""
    exe = python or os.environ.get("LMM_BATCH_PYTHON") or sys.executable
    return [exe, "-m", WORKER_MODULE]


def _check_worker_available(python: str | None) -> None:
    if not (REPO_ROOT / "addon" / "batch_worker.py").is_file():
        raise LMMError(f"the Blender batch worker (addon/batch_worker.py) is not next to lmm_core in {REPO_ROOT}; "
                       "run lmm batch from a checkout of the repository")
    if not (python or os.environ.get("LMM_BATCH_PYTHON")):
        if importlib.util.find_spec("bpy") is None:  # found without importing it
            raise LMMError("lmm batch runs its tasks in Blender's Python module, and this Python has no bpy: "
                           "pip install bpy==5.0.1 (see requirements.txt), or set LMM_BATCH_PYTHON to a Python "
                           "that has it")


class _Worker:
    """One Blender worker process, restarted when it dies."""

    def __init__(self, number: int, logs: Path, command: list[str], env: dict, timeout: float | None,
                 on_event: Callable[[dict], None]):
        self.number, self.command, self.env, self.timeout = number, command, env, timeout
        self.log_path = logs / f"worker{number}.log"
        self.on_event = on_event
        self.proc: subprocess.Popen | None = None
        self.lines: queue.Queue = queue.Queue()
        self.log: TextIO | None = None

    def _start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.log = open(self.log_path, "a", encoding="utf-8", errors="replace")
        self.proc = subprocess.Popen(
            self.command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=self.env,
            cwd=str(REPO_ROOT), text=True, encoding="utf-8", errors="replace", bufsize=1,
        )
        self.lines = queue.Queue()
        threading.Thread(target=self._pump, args=(self.proc, self.lines, self.log), daemon=True).start()
        # Start-up (importing bpy) is not part of any task's time: wait for the worker to say it is ready.
        while True:
            try:
                event = self.lines.get(timeout=STARTUP_TIMEOUT)
            except queue.Empty:
                event = None
            if event is None:
                self.stop(kill=True)
                raise _StartError(f"the Blender worker did not start (see {self.log_path})")
            if event.get("event") == "ready":
                return

    @staticmethod
    def _pump(proc: subprocess.Popen, lines: queue.Queue, log: TextIO) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith(PREFIX):
                try:
                    lines.put(json.loads(line[len(PREFIX):]))
                    continue
                except ValueError:
                    pass
            log.write(line)
            log.flush()
        lines.put(None)  # end of output: the process is gone

    def stop(self, kill: bool = False) -> None:
        proc, self.proc = self.proc, None
        if proc is not None:
            try:
                if kill:
                    proc.kill()
                elif proc.stdin:
                    proc.stdin.close()
                proc.wait(timeout=30)
            except (OSError, subprocess.TimeoutExpired):
                proc.kill()
                proc.wait()
        if self.log:
            self.log.close()
            self.log = None

    def run(self, item: dict) -> TaskResult:
        tid = item["id"]
        if self.proc is None or self.proc.poll() is not None:
            self.stop()
            try:
                self._start()
            except _StartError as exc:
                return TaskResult(tid, "failed", 0.0, [], str(exc), str(self.log_path))
        assert self.proc is not None and self.proc.stdin is not None and self.log is not None
        self.log.write(f"\n==== task {tid} ====\n")
        self.log.flush()
        start = time.perf_counter()
        try:
            self.proc.stdin.write(json.dumps(item) + "\n")
            self.proc.stdin.flush()
        except OSError:
            pass  # it died; the read below finds out
        deadline = None if not self.timeout else start + self.timeout
        made: list[str] = []
        while True:
            wait = None if deadline is None else max(deadline - time.perf_counter(), 0.0)
            try:
                event = self.lines.get(timeout=wait)
            except queue.Empty:
                self.stop(kill=True)
                return TaskResult(tid, "failed", time.perf_counter() - start, made,
                                  f"timed out after {self.timeout:g} s (--task-timeout); the worker was stopped",
                                  str(self.log_path))
            if event is None:
                code = self.proc.wait() if self.proc else None
                self.stop()
                return TaskResult(tid, "failed", time.perf_counter() - start, made,
                                  f"the Blender worker died (exit status {code}) during this task; see its log",
                                  str(self.log_path))
            if event.get("task") != tid:
                continue
            self.on_event(event)
            kind = event.get("event")
            if kind == "output":
                made.append(event["key"])
            elif kind == "done":
                return TaskResult(tid, "done", float(event.get("seconds", time.perf_counter() - start)), made)
            elif kind == "failed":
                return TaskResult(tid, "failed", float(event.get("seconds", time.perf_counter() - start)), made,
                                  str(event.get("error", "unknown error")), str(self.log_path))


def _worker_env(jobs: int) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT), *filter(None, [env.get("PYTHONPATH")])])
    threads = str(max(1, (os.cpu_count() or 1) // max(jobs, 1)))
    for key in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env.setdefault(key, threads)
    env["LMM_BATCH_THREADS"] = threads
    env["PYTHONUNBUFFERED"] = "1"
    return env


def run_job(job: Job, shard: tuple[int, int] = (1, 1), jobs: int = 1, *, force: bool = False,
            task_timeout: float | None = None, profile_dir: Path | None = None, python: str | None = None,
            show_progress: bool = True, stream: TextIO | None = None, worker: list[str] | None = None) -> Summary:
    """Run the shard's unfinished tasks in ``jobs`` worker processes; returns the summary (also written to
    ``<output>/batch-summary[-shard-i-of-n].json``).

    ``worker`` replaces the worker command (tests use a stand-in that speaks the same protocol).
    """
    if jobs < 1:
        raise LMMError(f"--jobs must be at least 1, got {jobs}")
    if task_timeout is not None and not 0 < task_timeout <= 1e7:
        raise LMMError(f"--task-timeout must be a number of seconds above 0 up to 1e7, got {task_timeout}")
    if worker is None:
        _check_worker_available(python)
    # A second run of this job's shard would make the same outputs at the same time: refuse it, saying who runs.
    with hold(job.output / lock_name(shard), f"making shard {shard[0]}/{shard[1]} of this job in {job.output}"):
        return _run_locked(job, shard, jobs, force, task_timeout, profile_dir, python, show_progress, stream, worker)


def _run_locked(job: Job, shard: tuple[int, int], jobs: int, force: bool, task_timeout: float | None,
                profile_dir: Path | None, python: str | None, show_progress: bool, stream: TextIO | None,
                worker: list[str] | None) -> Summary:
    start = time.perf_counter()
    planned: list[Planned] = plan(job, shard, force)
    todo = [p for p in planned if p.todo]
    results: dict[str, TaskResult] = {p.task.id: TaskResult(p.task.id, "skipped") for p in planned if not p.todo}
    # Inputs, rigs, keys and models that would fail in Blender fail here, at once; the other tasks run.
    for tid, problem in check_tasks(job, [p.task for p in todo]).items():
        results[tid] = TaskResult(tid, "failed", 0.0, [], problem)
    todo = [p for p in todo if p.task.id not in results]
    job.output.mkdir(parents=True, exist_ok=True)
    n_workers = min(jobs, len(todo))
    tag = "" if shard == (1, 1) else f"-shard-{shard[0]}-of-{shard[1]}"
    logs = job.output / "logs" / (tag.lstrip("-") or "all")
    env = _worker_env(n_workers or 1)
    if profile_dir is not None:
        Path(profile_dir).mkdir(parents=True, exist_ok=True)
        env["LMM_BATCH_PROFILE"] = str(Path(profile_dir).resolve())
    command = worker or worker_command(python)
    stream = stream or sys.stderr
    bar = progress([], total=len(planned), desc=f"batch {job.name}", unit="task", stream=stream,
                   enabled=show_progress)
    bar.update(len(results))
    items: queue.Queue = queue.Queue()
    for p in todo:
        items.put(p.task.to_worker(p.todo, job.preview))
    done_q: queue.Queue = queue.Queue()
    stages: dict[str, str] = {}

    def on_event(event: dict) -> None:
        if event.get("event") == "stage":
            stages[event["task"]] = f"{event['task']}: {event.get('stage', '')}"
            bar.set_postfix(" | ".join(list(stages.values())[-max(n_workers, 1):]))

    cancelled = threading.Event()
    workers: list[_Worker] = []

    def serve(number: int) -> None:
        worker = _Worker(number, logs, command, env, task_timeout, on_event)
        workers.append(worker)
        try:
            while not cancelled.is_set():
                try:
                    item = items.get_nowait()
                except queue.Empty:
                    return
                try:
                    with hold(Path(item["folder"]) / TASK_LOCK, f"making task {item['id']}"):
                        result = worker.run(item)
                except LockHeld as exc:  # another run (another sharding of the job) is making it now
                    result = TaskResult(item["id"], "failed", 0.0, [], str(exc))
                except Exception as exc:  # the runner itself must never lose a task
                    worker.stop(kill=True)
                    result = TaskResult(item["id"], "failed", 0.0, [], f"runner error: {exc!r}", str(worker.log_path))
                stages.pop(item["id"], None)
                done_q.put(result)
        finally:
            worker.stop()

    threads = [threading.Thread(target=serve, args=(k + 1,), daemon=True) for k in range(n_workers)]
    for t in threads:
        t.start()
    try:
        for _ in range(len(todo)):
            result = done_q.get()
            results[result.id] = result
            failed = sum(r.status == "failed" for r in results.values())
            bar.postfix = f"{failed} failed" if failed else ""
            bar.update()
    except BaseException:  # Ctrl-C (or a bug): stop handing out tasks and end the workers now
        cancelled.set()
        for w in list(workers):
            w.stop(kill=True)
        raise
    finally:
        for t in threads:
            t.join(timeout=60)
        bar.close()
    ordered = [results[p.task.id] for p in planned]
    summary = Summary(job.name, shard, ordered, time.perf_counter() - start, job.output, n_workers)
    write_json_atomic(job.output / f"batch-summary{tag}.json", summary.to_dict())
    return summary
