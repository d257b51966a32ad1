"""``lmm batch``: headless motion work by the hundred (pure Python; the Blender side is addon/batch_worker.py).

- ``job``: the job file (TOML) schema, strict validation, resolved tasks.
- ``plan``: sharding (``--shard i/n``) and resume (which outputs are finished).
- ``runner``: worker processes (``--jobs N``), results, the summary.
- ``lock``: one run per shard of a job's output folder, one per task folder.
- ``demo``: the built-in demo job that ``lmm demo`` runs.

See docs/batch.md.
"""
from __future__ import annotations

from .job import Job, JobError, Output, Task, check_tasks, load_job, parse_job
from .plan import parse_shard, plan, shard_tasks
from .runner import Summary, TaskResult, run_job

__all__ = ["Job", "JobError", "Output", "Task", "check_tasks", "load_job", "parse_job", "parse_shard", "plan", "shard_tasks",
           "Summary", "TaskResult", "run_job"]
