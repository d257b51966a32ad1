"""The canonical training corpus: every dataset in ``../shared/data`` on the canonical body, labelled, in shards.

``build(data_root, out_dir)`` reads each source's BVH files, retargets them onto the canonical body
(feet pinned), resamples to ``FPS``, and writes shards of uncompressed ``.npz`` (fast to load) plus a
``index.json`` describing every clip: source, license, take, action, style, split, frame range.

Arrays in a shard (``N`` frames of all its clips back to back):
    rotations   (N, 22, 4) float32  local joint rotations, canonical joint order
    root        (N, 3)     float32  pelvis position in metres, Y up
    contacts    (N, 4)     bool     left ankle, right ankle, left toe, right toe on the ground
    clip_start  (C + 1,)   int64    frame offsets of the shard's C clips
"""
from __future__ import annotations

import csv
import functools
import itertools
import json
import re
import zlib
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from . import feet as F
from . import rotations as R
from .bonemap import bone_map_for
from .canonical import CONTACT_JOINTS, canonical_skeleton
from .errors import LMMError
from .io import read_bvh
from .io.atomic import atomic_binary_writer, atomic_text_writer
from .motion import Motion
from .progress import progress
from .retarget import bind, retarget

FPS = 30.0
VALIDATION_SHARE = 0.1


@dataclass(frozen=True)
class Source:
    """One dataset: where its files are, which rig preset it uses, its license and its labels."""

    name: str
    pattern: str  # glob under the data root
    rig: str | None  # preset in presets/rigs; None: the automatic bone map
    license: str
    labels: Callable[[Path], dict[str, str]]
    skip: int = 0  # leading frames that are not performance (a converter's added T-pose)
    # A take whose first frame is the rig's T-pose, for a source whose BVH rest pose is no pose at all
    # (``Motion.with_rest``): every take of that rig is re-posed into it before binding.
    rest_take: str | None = None


@dataclass
class ClipInfo:
    source: str
    file: str
    take: str
    action: str
    style: str
    license: str
    split: str
    shard: int
    start: int
    frames: int
    source_fps: float


def _bandai_labels(path: Path) -> dict[str, str]:
    """Action and style from the take's JSON, which indexes the dataset's cfg/ lists."""
    meta = path.with_name(path.name.split(".")[0] + ".json")
    cfg = path.parent / "cfg"
    if meta.exists() and (cfg / "content_label.txt").exists():
        idx = json.loads(meta.read_text())
        contents = [s.strip() for s in (cfg / "content_label.txt").read_text().splitlines() if s.strip()]
        styles = [s.strip() for s in (cfg / "style_label.txt").read_text().splitlines() if s.strip()]
        strip = lambda s: re.sub(r"^dataset-\d+_", "", s)  # noqa: E731
        return {"action": strip(contents[idx["content"]]), "style": strip(styles[idx["style"]])}
    # Fall back on the file name: dataset-2_{content}_{style}_{id}
    parts = path.name.split(".")[0].split("_")
    return {"action": parts[1], "style": parts[2]}


def name_labels(path: Path) -> dict[str, str]:
    """Action from a LAFAN1-style file name (the take before `_`, digits dropped), style "normal"."""
    # dance1_subject1 -> dance; fallAndGetUp2_subject3 -> fallAndGetUp
    return {"action": re.sub(r"\d+$", "", path.name.split("_")[0]), "style": "normal"}


def _reactidle_labels(path: Path) -> dict[str, str]:
    return {"action": "idle", "style": path.parent.name}  # acted / genuine


_CMU_KEYWORDS = ("walk", "run", "hop", "jump", "dance", "kick", "punch")


def _cmu_labels(path: Path) -> dict[str, str]:
    take = path.name.split(".")[0]
    readme = path.parent / "README.md"
    desc = ""
    if readme.exists():
        for line in readme.read_text().splitlines():
            if line.startswith(take):
                desc = line[len(take):].strip().lower()
    action = next((k for k in _CMU_KEYWORDS if k in desc), desc.replace(" ", "-") or "unknown")
    return {"action": action, "style": "normal"}


# CMU's descriptions (cmu_iclone/CMU_data.csv) to an action label: the first keyword found, in this order
# ("playground - climb, jump down" is climbing); other takes are named by their first phrase.
_ICLONE_ACTIONS = (("basketball", "dribble"), ("dance", "dance"), ("swordplay", "swordplay"), ("climb", "climb"),
                   ("jump", "jump"), ("run", "run"), ("walk", "walk"), ("punch", "punch"))


@functools.lru_cache(maxsize=4)
def _cmu_descriptions(csv_path: Path) -> dict[tuple[int, int], str]:
    """``{(subject, trial): description}`` of the CMU database listing."""
    if not csv_path.exists():
        return {}
    with open(csv_path, newline="", encoding="utf-8-sig") as f:
        return {(int(r["Subject"]), int(r["Trial #"])): r["Motion Description"] for r in csv.DictReader(f)}


def _iclone_labels(path: Path) -> dict[str, str]:
    subject, trial = (int(n) for n in path.name.split(".")[0].split("_"))
    desc = _cmu_descriptions(path.parent / "CMU_data.csv").get((subject, trial), "").lower()
    action = next((label for word, label in _ICLONE_ACTIONS if word in desc), None)
    if action is None:
        first = desc.split(",")[0].split(" - ")[-1].strip()
        action = re.sub(r"[^a-z]+", "-", first).strip("-") or "unknown"
    return {"action": action, "style": "normal"}


SOURCES = (
    Source("bandai1", "bandai/dataset-1/*.bvh*", "bandai", "CC BY-NC 4.0", _bandai_labels),
    Source("bandai2", "bandai/dataset-2/*.bvh*", "bandai", "CC BY-NC 4.0", _bandai_labels),
    Source("reactidle", "reactidle/*/*.bvh*", "reactidle", "MIT", _reactidle_labels),
    Source("cmu", "cmu/*.bvh*", "cmu", "CMU (free to use, no resale)", _cmu_labels),
    Source("cmu_iclone", "cmu_iclone/*.bvh*", None, "CMU (free to use, no resale)", _iclone_labels, skip=1,
           rest_take="007_06.bvh.xz"),
    Source("lafan1", "lafan1/*.bvh*", "lafan1", "CC BY-NC-ND 4.0", name_labels),
)


def split_of(take: str) -> str:
    """``"val"`` for a stable 10% of takes (by CRC32 of the take id), else ``"train"``."""
    return "val" if zlib.crc32(take.encode()) % 1000 < VALIDATION_SHARE * 1000 else "train"


def read_take(path: str | Path, source: str) -> Motion:
    """A take of ``source`` as the corpus converts it: read, re-posed into its rig's T-pose where the
    source names one (``Source.rest_take``), its leading non-performance frames dropped."""
    src = next((s for s in SOURCES if s.name == source), None)
    if src is None:
        raise LMMError(f"unknown source {source!r}; use one of {', '.join(s.name for s in SOURCES)}")
    motion = read_bvh(path)
    if src.rest_take:
        motion = motion.with_rest(_rest_turns(str(Path(path).with_name(src.rest_take)), motion, str(path)))
    if src.skip:
        motion = motion.slice(src.skip, motion.num_frames)
    return motion


def _convert(job: tuple[str, str | None, str]) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Worker: one file onto the canonical body. Returns (rotations, root, contacts, source fps)."""
    path, rig, source = job
    motion = read_take(path, source)
    target = canonical_skeleton()
    src_map = bone_map_for(motion.skeleton, rig)
    canon_map = {n: n for n in target.names}
    out = retarget(motion, src_map, target, canon_map, fix_feet=True)
    if out.fps != FPS:
        out = out.resampled(FPS)
    binding = bind(target, canon_map)
    feet = [int(binding.joint_of[target.names.index(n)]) for n in CONTACT_JOINTS]
    pos = out.global_positions()[:, feet]
    contact = F.detect(pos, out.fps, out.height(), 1, "planted")
    return out.rotations.astype(np.float32), out.root_positions.astype(np.float32), contact, motion.fps


@functools.lru_cache(maxsize=2)
def _t_pose(path: str) -> tuple[tuple[str, ...], np.ndarray, np.ndarray]:
    """A rig's T-pose from the first frame of a take: its joint names (``J``), ``(J, 3)`` offsets in the file's
    units, ``(J, 4)`` turns relative to the root (read-only: the cache hands the same arrays to every caller)."""
    m = read_bvh(path)
    offsets, turns = m.skeleton.offsets.copy(), m.pose_turns(0)
    offsets.setflags(write=False)
    turns.setflags(write=False)
    return m.skeleton.names, offsets, turns


def _rest_turns(path: str, motion: Motion, take: str = "this take") -> np.ndarray:
    """``(J, 4)`` the T-pose of ``path``'s first frame for ``motion``'s joints, by name (``Motion.with_rest``).

    Raises:
        LMMError: the motion (``take``, named in the message) is not on that take's rig (no such root bone,
            more than one bone above it, or a joint of both with another bone length), or the T-pose take
            is missing.
    """
    leave_out = "move it out of the source's folder, or build without that source (--sources)"
    if not Path(path).exists():
        raise LMMError(f"{path} is missing: it holds the T-pose this source's takes are re-posed into; restore it "
                       "from the dataset's download, or build without that source (--sources)")
    names, offsets, turns = _t_pose(path)
    sk = motion.skeleton
    if names[0] not in sk.names:
        raise LMMError(f"{take}: this rig has no {names[0]} bone, so it is not the rig of {Path(path).name}, whose "
                       f"T-pose the source's takes are re-posed into; {leave_out}")
    hips = sk.names.index(names[0])
    if sk.parents[hips] >= 0 and sk.parents[sk.parents[hips]] >= 0:
        raise LMMError(f"{take}: {names[0]} hangs under {sk.names[sk.parents[hips]]} and more bones; one bone above "
                       f"it is the most this source's re-posing knows; {leave_out}")
    index = {n: i for i, n in enumerate(names)}
    out = np.tile(R.identity(), (sk.num_joints, 1))
    if sk.parents[hips] >= 0:
        # A bone added above the T-pose take's root (Character Creator's RL_BoneRoot) converts axes, Z up to
        # Y up: its rest is turned back by that conversion, the quarter turns nearest the hips' turn under
        # it on the first frame (the take's own lean left out), so the re-posed body stands upright.
        g, _ = motion.slice(0, 1).fk()
        out[0] = R.conj(_nearest_quarter_turns(R.inv_mul(g[0, 0], g[0, hips])))
    for j, name in enumerate(sk.names):
        i = index.get(name)
        if i is None:
            continue  # a bone the T-pose take lacks (the added root) keeps its rest
        if i and not np.allclose(sk.offsets[j], offsets[i], atol=1e-3):
            raise LMMError(f"{take}: {name} is {sk.offsets[j]} from its parent here and {offsets[i]} in "
                           f"{Path(path).name}: not the same rig, so its T-pose does not apply; {leave_out}")
        out[j] = turns[i]
    return out


def _quarter_turn_rotations() -> np.ndarray:
    """``(24, 3, 3)`` the rotations made of quarter turns about the axes (signed permutations, determinant 1)."""
    out = []
    for perm in itertools.permutations(range(3)):
        for signs in itertools.product((1.0, -1.0), repeat=3):
            m = np.zeros((3, 3))
            m[list(perm), range(3)] = signs
            if np.linalg.det(m) > 0:
                out.append(m)
    return np.array(out)


def _nearest_quarter_turns(q: np.ndarray) -> np.ndarray:
    """``(4,)`` the rotation made of quarter turns about the axes (one of 24) nearest ``q`` ``(4,)``: the one
    whose matrix agrees most with ``q``'s (largest trace of ``S^T M``, the smallest angle between them)."""
    candidates = _quarter_turn_rotations()
    best = candidates[int(np.argmax(np.einsum("kij,ij->k", candidates, R.to_matrix(q))))]
    return R.from_matrix(best)


def _jobs(data_root: Path, sources: list[str] | None) -> Iterator[tuple[Source, Path]]:
    for src in SOURCES:
        if sources and src.name not in sources:
            continue
        for path in sorted(data_root.glob(src.pattern)):
            yield src, path


def build(data_root: Path, out_dir: Path, *, sources: list[str] | None = None, shard_frames: int = 200_000,
          jobs: int = 1, show_progress: bool = True) -> list[ClipInfo]:
    """Convert the datasets under ``data_root`` into shards in ``out_dir``; returns the clip index.

    Args:
        sources: names from ``SOURCES`` to include (all by default).
        shard_frames: frames per shard (about 19 MB each at 200k).
        jobs: worker processes.
    """
    data_root, out_dir = Path(data_root), Path(out_dir)
    todo = list(_jobs(data_root, sources))
    if not todo:
        raise LMMError(f"no motion files found under {data_root}; point --data at the shared data folder")
    out_dir.mkdir(parents=True, exist_ok=True)
    index: list[ClipInfo] = []
    buf: dict[str, list[np.ndarray]] = {"rotations": [], "root": [], "contacts": []}
    shard, start = 0, 0

    def flush() -> None:
        nonlocal shard, start
        if not buf["rotations"]:
            return
        lengths = [len(r) for r in buf["rotations"]]
        arrays = {k: np.concatenate(v) for k, v in buf.items()}
        arrays["clip_start"] = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        with atomic_binary_writer(out_dir / f"shard_{shard:03d}.npz") as f:
            np.savez(f, **arrays)
        for v in buf.values():
            v.clear()
        shard, start = shard + 1, 0

    work = [(str(p), s.rig, s.name) for s, p in todo]
    with ProcessPoolExecutor(max_workers=jobs) if jobs > 1 else _Serial() as pool:
        results = pool.map(_convert, work, chunksize=8) if jobs > 1 else map(_convert, work)
        bar = progress(zip(todo, results), total=len(todo), desc="dataset", unit="clips", enabled=show_progress)
        for (src, path), (rot, root, contact, src_fps) in bar:
            labels = src.labels(path)
            take = f"{src.name}/{path.name.split('.')[0]}"
            index.append(ClipInfo(src.name, str(path.relative_to(data_root)), take, labels["action"], labels["style"],
                                  src.license, split_of(take), shard, start, len(rot), src_fps))
            buf["rotations"].append(rot)
            buf["root"].append(root)
            buf["contacts"].append(contact)
            start += len(rot)
            if start >= shard_frames:
                flush()
    flush()
    with atomic_text_writer(out_dir / "index.json") as f:
        json.dump({"fps": FPS, "clips": [asdict(c) for c in index]}, f, indent=0)
    return index


class _Serial:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def summary(index: list[ClipInfo]) -> str:
    """Hours and frames per source, as printed by ``lmm dataset build``."""
    rows = ["source      clips    frames    hours  license"]
    by: dict[str, list[ClipInfo]] = {}
    for c in index:
        by.setdefault(c.source, []).append(c)
    total = 0
    for name, clips in by.items():
        frames = sum(c.frames for c in clips)
        total += frames
        rows.append(f"{name:<10} {len(clips):>6} {frames:>9} {frames / FPS / 3600:>8.2f}  {clips[0].license}")
    rows.append(f"{'all':<10} {len(index):>6} {total:>9} {total / FPS / 3600:>8.2f}")
    return "\n".join(rows)


def load(out_dir: Path, split: str | None = None, sources: list[str] | None = None,
         arrays: bool = True) -> tuple[list[ClipInfo], dict[str, np.ndarray]]:
    """The index and all frames of a built corpus (optionally one split / some sources; ``arrays=False``
    reads the index only)."""
    out_dir = Path(out_dir)
    index = out_dir / "index.json"
    if not index.exists():
        raise LMMError(f"no corpus at {out_dir} (index.json missing); build it with `lmm dataset build --out {out_dir}`")
    meta = json.loads(index.read_text())
    clips = [ClipInfo(**c) for c in meta["clips"]]
    if not arrays:
        return [c for c in clips if (split is None or c.split == split) and (sources is None or c.source in sources)], {}
    keep = [c for c in clips if (split is None or c.split == split) and (sources is None or c.source in sources)]
    shards = {}
    for c in keep:
        if c.shard not in shards:
            with np.load(out_dir / f"shard_{c.shard:03d}.npz") as z:
                shards[c.shard] = {k: z[k] for k in z.files}
    parts: dict[str, list[np.ndarray]] = {"rotations": [], "root": [], "contacts": []}
    for c in keep:
        sh = shards[c.shard]
        for k in parts:
            parts[k].append(sh[k][c.start:c.start + c.frames])
    return keep, {k: np.concatenate(v) if v else np.zeros((0,)) for k, v in parts.items()}
