"""Locks that keep two ``lmm batch`` runs from making the same outputs at once.

A run holds a lock on its output folder for its shard (``.lmm-batch.lock``, or
``.lmm-batch-shard-3-of-8.lock``): a second run of the same job and shard is refused at once with who holds
it (process, host, start time, command), while other shards of the job may share the folder as a farm's
machines do. Each task's folder is locked too while the task runs (``.lmm-batch-task.lock``), so runs
that overlap in another way (``--shard 1/2`` beside a run of the whole job) never write one task's files
together: the second finds the task taken and reports it failed, to be run again later.

The locks are ``flock`` locks on small files that hold the holder's description, removed when the run
ends: the operating system releases a lock when its process ends, however it ends, so a killed run never
leaves one that blocks the next (only its file, which the next run takes over). Where ``fcntl`` is missing
(Windows), runs are not locked.
"""
from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
import time
from pathlib import Path
from typing import Iterator

from ..errors import LMMError

try:
    import fcntl
except ImportError:  # Windows: no flock
    fcntl = None  # type: ignore[assignment]

TASK_LOCK = ".lmm-batch-task.lock"


class LockHeld(LMMError):
    """Another process holds the lock; ``holder`` describes it (may be empty)."""

    def __init__(self, message: str, holder: str):
        super().__init__(message)
        self.holder = holder


def lock_name(shard: tuple[int, int]) -> str:
    """The output folder's lock file for a shard."""
    return ".lmm-batch.lock" if shard == (1, 1) else f".lmm-batch-shard-{shard[0]}-of-{shard[1]}.lock"


def _describe(raw: str) -> str:
    try:
        d = json.loads(raw)
        started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(d["started"]))
        return f"process {d['pid']} on {d['host']}, started {started}: {d['command']}"
    except (ValueError, KeyError, TypeError, OverflowError, OSError):
        return "a process that did not say who it is"


@contextlib.contextmanager
def hold(path: Path, what: str) -> Iterator[None]:
    """Hold the lock file ``path`` for the block, or raise ``LockHeld`` at once when another process holds it
    (the message names the holder and ``what`` it is doing). The file is removed when the block ends."""
    if fcntl is None:
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _describe(os.pread(fd, 4096, 0).decode("utf-8", "replace"))
            os.close(fd)
            raise LockHeld(f"another lmm batch run is {what} ({holder}); wait for it to finish, or stop it, then "
                           f"run again (lock: {path})", holder) from None
        except BaseException:
            os.close(fd)
            raise
        try:  # the holder before us may have removed the file we opened: then lock the new one
            if os.stat(path).st_ino == os.fstat(fd).st_ino:
                break
        except FileNotFoundError:
            pass
        os.close(fd)
    try:
        me = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time(),
              "command": " ".join(["lmm", *sys.argv[1:]])[:300]}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(me).encode(), 0)
        yield
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)  # while still held, so nobody can lock the file on its way out
        os.close(fd)  # releases the lock
