"""Which tasks a shard runs, and which of their outputs are still to make (resume).

Sharding: ``--shard i/n`` (``1 <= i <= n``) takes the tasks whose rank is ``i - 1`` modulo ``n`` when the
job's tasks are sorted by a hash of their ids. The split depends on the ids alone (not on the order of the
tasks in the file, the machine or the Python version), the shards are disjoint, together they hold every
task, and their sizes differ by at most one.

Resume: a task folder holds a small manifest (``.lmm-batch.json``) written by the worker after each output
is in place: the task's fingerprint (its settings and its inputs' sizes and times) and, per output, the
files with their sizes and SHA-256 hashes. An output counts as finished only when the manifest has it under
the current fingerprint and every file is there with the recorded size and content; anything else (a file
left by a killed run, a truncated or corrupted copy, even one of the same size, a changed task, a manifest
from before hashes were kept) is made again. Files are written under temporary names and renamed, so a
killed task never leaves a file that looks finished.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from ..errors import LMMError
from ..io.atomic import atomic_text_writer
from .job import Job, Task

MANIFEST = ".lmm-batch.json"
MAX_SHARDS = 100_000


def parse_shard(text: str | None) -> tuple[int, int]:
    """``"i/n"`` -> ``(i, n)`` with ``1 <= i <= n``; ``None`` -> ``(1, 1)``."""
    if text is None:
        return 1, 1
    parts = str(text).split("/")
    try:
        i, n = (int(p) for p in parts)
        if len(parts) != 2:
            raise ValueError
    except ValueError:
        raise LMMError(f"--shard must look like i/n (this machine's shard i of n, 1-based), got {text!r}") from None
    if n > MAX_SHARDS:
        raise LMMError(f"--shard {text}: at most {MAX_SHARDS} shards; give i/n with n up to {MAX_SHARDS}")
    if n < 1 or not 1 <= i <= n:
        raise LMMError(f"--shard {text}: i must be between 1 and n (1-based: shards 1/{max(n, 1)} to "
                       f"{max(n, 1)}/{max(n, 1)}); for a 0-based array index use $((INDEX + 1))/{max(n, 1)}")
    return i, n


def _hash(task_id: str) -> str:
    return hashlib.sha256(task_id.encode("utf-8")).hexdigest()


def shard_tasks(tasks: list[Task], shard: tuple[int, int]) -> list[Task]:
    """The tasks of shard ``(i, n)``, in job-file order (see the module docstring)."""
    i, n = shard
    ranked = sorted(tasks, key=lambda t: (_hash(t.id), t.id))
    mine = {t.id for rank, t in enumerate(ranked) if rank % n == i - 1}
    return [t for t in tasks if t.id in mine]


# ---- manifest -----------------------------------------------------------------------------------------


def read_manifest(folder: str | Path) -> dict:
    """The task folder's manifest, or an empty one when it is missing or unreadable."""
    try:
        data = json.loads((Path(folder) / MANIFEST).read_text(encoding="utf-8"))
        return data if isinstance(data, dict) and isinstance(data.get("outputs"), dict) else {"outputs": {}}
    except (OSError, ValueError):
        return {"outputs": {}}


def write_json_atomic(path: Path, data) -> None:
    """``data`` as JSON at ``path``, written to a temporary sibling and renamed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_text_writer(path) as f:
        json.dump(data, f, indent=1, sort_keys=True)


def file_hash(path: Path) -> str:
    """The SHA-256 of a file's content, hex."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def file_records(folder: Path, files: list[str] | tuple[str, ...]) -> dict[str, dict]:
    """``{relative path: {"size": bytes, "sha256": hex}}`` for the output's files; a folder entry lists the
    files inside it."""
    records: dict[str, dict] = {}

    def record(rel: str, path: Path) -> None:
        records[rel] = {"size": path.stat().st_size, "sha256": file_hash(path)}

    for rel in files:
        path = folder / rel
        if path.is_dir():
            for child in sorted(path.iterdir()):
                if child.is_file():
                    record(f"{rel}/{child.name}", child)
        else:
            record(rel, path)
    return records


def record_output(folder: str | Path, fingerprint: str, key: str, files: list[str] | tuple[str, ...],
                  seconds: float | None = None) -> None:
    """Note in the manifest that output ``key`` is finished (call after its files are in place)."""
    folder = Path(folder)
    data = read_manifest(folder)
    if data.get("fingerprint") != fingerprint:
        data = {"fingerprint": fingerprint, "outputs": {}}
    entry: dict = {"files": file_records(folder, files)}
    if seconds is not None:
        entry["seconds"] = round(seconds, 3)
    data["outputs"][key] = entry
    write_json_atomic(folder / MANIFEST, data)


def finished(task: Task, manifest: dict, key: str) -> bool:
    """Whether output ``key`` of ``task`` is in place as recorded (see the module docstring)."""
    if manifest.get("fingerprint") != task.fingerprint:
        return False
    entry = manifest.get("outputs", {}).get(key)
    if not isinstance(entry, dict) or not isinstance(entry.get("files"), dict) or not entry["files"]:
        return False
    output = next((o for o in task.outputs if o.key == key), None)
    if output is None:
        return False
    folder = Path(task.folder)
    recorded = entry["files"]
    for rel in output.files:  # every file (or folder) the output makes must be recorded
        if rel not in recorded and not any(r.startswith(rel + "/") for r in recorded):
            return False
    for rel, rec in recorded.items():
        if not isinstance(rec, dict) or not isinstance(rec.get("sha256"), str):
            return False  # a manifest from before hashes were kept: make it again rather than trust a size
        try:
            if (folder / rel).stat().st_size != rec.get("size") or file_hash(folder / rel) != rec["sha256"]:
                return False
        except OSError:
            return False
    return True


@dataclass
class Planned:
    """A task and the keys of its outputs still to make (empty: all finished, skip)."""

    task: Task
    todo: list[str]


def plan(job: Job, shard: tuple[int, int] = (1, 1), force: bool = False) -> list[Planned]:
    """The shard's tasks with what each still has to make."""
    out = []
    for task in shard_tasks(job.tasks, shard):
        manifest = {} if force else read_manifest(task.folder)
        todo = [o.key for o in task.outputs if force or not finished(task, manifest, o.key)]
        out.append(Planned(task, todo))
    return out
