"""The LAFAN1 in-betweening benchmark (Harvey et al. 2020) on the dataset's own BVH files.

The official split trains on subjects 1-4 and tests on subject 5; subjects are read from file names
(``dance1_subject5.bvh``, optionally ``.gz``/``.xz``). Data stay on the LAFAN1 skeleton, in its units
(cm), as the original code reads them: local Euler ZYX rotations in degrees become quaternions with
their sign flips along time removed, the root keeps its position channels, and the other joints sit at
their offsets. See ``docs/bench.md`` for the protocol step by step.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Callable

import numpy as np

from ..errors import LMMError
from ..io import read_bvh
from ..skeleton import Skeleton
from .files import motion_files
from .harness import Inbetweener, Results, score, training_stats
from .metrics import load_stats
from .windows import Clip, make_windows

ROOT_FORWARD = np.array([0.0, 1.0, 0.0])  # LAFAN1's Hips face along their local +Y (the original's rotate_at_frame)
OFFICIAL_TRAIN_SUBJECTS = (1, 2, 3, 4)
OFFICIAL_TEST_SUBJECTS = (5,)
_SUBJECT = re.compile(r"_subject(\d+)\.bvh(\.gz|\.xz)?$", re.IGNORECASE)


def _row(*values: float) -> dict[str, float]:
    return dict(zip(("5", "15", "30", "45"), values))


# Harvey et al. 2020, on the official test set (subject 5, 2,232 windows).
PUBLISHED: Results = {
    "zerovel": {"L2Q": _row(0.56, 1.10, 1.51, 1.81), "L2P": _row(1.5230, 3.6944, 6.6002, 9.3289),
                "NPSS": _row(0.0053, 0.0522, 0.2318, 0.4918)},
    "interp": {"L2Q": _row(0.22, 0.62, 0.98, 1.25), "L2P": _row(0.3729, 1.2488, 2.3158, 3.4469),
               "NPSS": _row(0.0023, 0.0391, 0.2013, 0.4493)},
}


def subject_of(path: Path) -> int | None:
    """The subject number in a LAFAN1 file name (``walk1_subject5.bvh`` -> 5), or ``None``."""
    m = _SUBJECT.search(Path(path).name)
    return int(m.group(1)) if m else None


def select_subjects(paths: list[Path], subjects: tuple[int, ...], what: str) -> list[Path]:
    """The files of the given subjects, in the order given; ``what`` is ``"train"`` or ``"test"``. An
    ``LMMError`` that lists the subjects present when none is left."""
    keep = [p for p in paths if subject_of(p) in subjects]
    if not keep:
        present = sorted({s for s in map(subject_of, paths) if s is not None})
        listed = ", ".join(map(str, present)) if present else "none (names must end in _subjectN.bvh)"
        raise LMMError(f"no {what} files of subject(s) {', '.join(map(str, subjects))} among {len(paths)} "
                       f"file(s); subjects present: {listed}. Choose with --{what}-subjects")
    return keep


def read_clips(paths: list[Path], skeleton: Skeleton | None = None) -> tuple[Skeleton, list[Clip]]:
    """Each file as a ``Clip`` on its own skeleton (all must have the same joints), and that skeleton."""
    clips = []
    for path in paths:
        motion = read_bvh(path)
        if skeleton is None:
            skeleton = motion.skeleton
        elif motion.skeleton.names != skeleton.names:
            raise LMMError(f"{path}: its joints differ from the other LAFAN1 files'; is it a LAFAN1 file?")
        if motion.fps != 30.0:
            raise LMMError(f"{path}: {motion.fps:g} fps; the LAFAN1 protocol is defined at 30 fps")
        clips.append(Clip(path.name, motion.rotations, motion.root_positions))
    assert skeleton is not None
    return skeleton, clips


def run_lafan1(train: str | Path | None, test: str | Path, *, stats: str | Path | None = None,
               model: Inbetweener | None = None, train_subjects: tuple[int, ...] = OFFICIAL_TRAIN_SUBJECTS,
               test_subjects: tuple[int, ...] = OFFICIAL_TEST_SUBJECTS, save_stats_to: str | Path | None = None,
               methods: dict[str, Inbetweener] | None = None, show_progress: bool = False,
               log: Callable[[str], None] = lambda s: None) -> Results:
    """The LAFAN1 benchmark: zero-velocity, interpolation and (when given) a model.

    Args:
        train: folder, glob or file of training BVH files, for the L2P statistics (unused with ``stats``).
        test: folder, glob or file of test BVH files.
        stats: an ``.npz`` with ``x_mean`` and ``x_std`` ``(66,)`` (any shape of 66 numbers) instead of
            computing them from ``train``.
        model: an in-betweener on the LAFAN1 skeleton, scored as ``"model"``.
        train_subjects, test_subjects: subjects kept from ``train`` and ``test`` (official: 1-4 and 5).
        save_stats_to: write the statistics used to this ``.npz``.
        methods: the baselines to run (default zero-velocity and interpolation).
        log: called with one line per step (what was read, how many windows).

    Returns:
        ``{"zerovel"|"interp"|"model": {"L2Q"|"L2P"|"NPSS": {"5"|"15"|"30"|"45": value}}}``.
    """

    test_files = select_subjects(motion_files(test, "test"), tuple(test_subjects), "test")
    skeleton, test_clips = read_clips(test_files)
    windows = make_windows(test_clips, skeleton, ROOT_FORWARD, fps=30.0)
    log(f"test: {len(test_files)} file(s) of subject(s) {', '.join(map(str, test_subjects))}, "
        f"{windows.num_windows} windows of 65 frames every 40")
    if stats is not None:
        x_mean, x_std = load_stats(stats, skeleton.num_joints)
        log(f"statistics: {stats}")
    else:
        if train is None:
            raise LMMError("L2P needs normalisation statistics: give --train (training files) or --stats FILE")
        train_files = select_subjects(motion_files(train, "training"), tuple(train_subjects), "train")
        overlap = sorted({p.resolve() for p in train_files} & {p.resolve() for p in test_files})
        if overlap:
            raise LMMError(f"{len(overlap)} file(s) are in both the training and the test set (e.g. {overlap[0].name}); "
                           "choose disjoint --train-subjects and --test-subjects")
        _, train_clips = read_clips(train_files, skeleton)
        x_mean, x_std = training_stats(train_clips, skeleton, ROOT_FORWARD)
        log(f"statistics: {len(train_files)} training file(s) of subject(s) {', '.join(map(str, train_subjects))}, "
            "windows of 50 frames every 20")
    return score(windows, skeleton, x_mean, x_std, methods, model, save_stats_to, log, show_progress)
