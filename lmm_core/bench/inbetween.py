"""The LAFAN1 protocol on any motion, on the canonical body; and the hook that loads our model.

Clips come from a folder (or glob) of BVH files, each retargeted onto the canonical body with its
automatic bone map and resampled to 30 fps, or from a split of a built corpus (``lmm dataset build``),
which is on the canonical body at 30 fps already. Windows, baselines and metrics are the LAFAN1
protocol's (``harness``), with the pelvis's forward axis (+Z in its own frame) turned to face +X at
frame 9. L2P is normalised by, in this order: a statistics file, the model's own statistics (its
``x_mean``/``x_std`` attributes, when it has them), or the training windows (50 frames every 20) of the
corpus's train split.
"""
from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Callable

import numpy as np

from .. import canonical, dataset
from ..bonemap import bone_map_for
from ..errors import LMMError, MotionFileError
from .. import rotations as R
from ..io import read_bvh
from ..model import next_frame as NF
from ..model import runtime
from ..retarget import retarget
from ..skeleton import UNITS_TO_METRES, Skeleton
from .files import motion_files
from .harness import Inbetweener, Results, score, training_stats
from .metrics import check_stats, load_stats
from .windows import Clip, make_windows

FPS = 30.0
ROOT_FORWARD = canonical.FORWARD  # the pelvis's frame is parallel to the world at rest, facing +Z


class ModelInbetweener:
    """A model from ``lmm_core.model.runtime`` as an in-betweener (see ``harness.Inbetweener``).

    Attributes:
        model: the loaded runtime model; ``model.inbetween(rotations, root, known, fps=...)`` fills frames.
        fps: the frame rate passed to it.
        x_mean, x_std: ``(J * 3,)`` position statistics of the model's training data, or ``None``.
        metres: metres per unit of the benchmark's root positions (models work in metres; LAFAN1 is cm).
    """

    def __init__(self, model, fps: float = FPS, x_mean: np.ndarray | None = None, x_std: np.ndarray | None = None,
                 metres: float = 1.0):
        self.model, self.fps, self.x_mean, self.x_std, self.metres = model, fps, x_mean, x_std, metres

    def __call__(self, rotations: np.ndarray, root: np.ndarray, known: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        rot, pos = self.model.inbetween(rotations, np.asarray(root) * self.metres, known, fps=self.fps)
        return rot, pos / self.metres

    def baseline_only(self) -> "ModelInbetweener":
        """The same model with its correction head zeroed: what the model's own baseline (``ModelConfig.baseline``)
        does without the network, so a benchmark can show what the network adds."""
        bare = copy.copy(self.model)
        bare.params = {**self.model.params, "head_w": np.zeros_like(self.model.params["head_w"]),
                       "head_b": np.zeros_like(self.model.params["head_b"])}
        return ModelInbetweener(bare, self.fps, self.x_mean, self.x_std, self.metres)


def load_model_inbetweener(path: str | Path, skeleton: Skeleton, fps: float = FPS) -> ModelInbetweener:
    """Load our model from ``path`` as an in-betweener on ``skeleton``.

    Loads it with ``lmm_core.model.runtime.load``; the joints it works on (``model.skeleton.names``)
    must be ``skeleton``'s. When it has ``x_mean`` and ``x_std``, they are kept for L2P.
    """
    path = Path(path)
    if not path.exists():
        raise LMMError(f"model file {path} not found")
    model = runtime.load(path)
    names = model.skeleton.names
    if tuple(names) != tuple(skeleton.names):
        raise LMMError(f"{path}: the model works on {len(names)} joints ({', '.join(list(names)[:3])}, ...), the "
                       f"benchmark data on {skeleton.num_joints} ({', '.join(skeleton.names[:3])}, ...)")
    x_mean, x_std = getattr(model, "x_mean", None), getattr(model, "x_std", None)
    if x_mean is not None and x_std is not None:
        x_mean, x_std = check_stats(x_mean, x_std, skeleton.num_joints, f"{path} (the model's statistics)")
    else:
        x_mean = x_std = None
    return ModelInbetweener(model, fps, x_mean, x_std, metres=UNITS_TO_METRES[skeleton.units])


class NextFrameInbetweener:
    """A next-frame in-betweener (``NextFrameModel`` trained with keys) as an in-betweener (see
    ``harness.Inbetweener``), rolled from key to key (``NextFrameModel.inbetween``) with the latent at its
    mean by default: the deterministic mode benchmarks score.

    Attributes:
        model: the loaded ``NextFrameModel``; ``variation``: the latent's scale (0: its mean); ``metres``: metres
        per unit of the benchmark's root positions; ``start_ease``: ``NextFrameModel.inbetween``'s (None: its
        default, ``next_frame.START_EASE``); ``x_mean``, ``x_std``: ``None`` (statistics come from the
        benchmark's training windows).
    """

    x_mean = x_std = None

    def __init__(self, model: NF.NextFrameModel, metres: float = 1.0, variation: float = 0.0, seed: int = 0,
                 start_ease: int | None = None):
        if not model.cfg.keys:
            raise LMMError("that next-frame network generates but does not in-between (trained without --keys)")
        self.model, self.metres, self.variation, self.seed = model, metres, variation, seed
        self.start_ease = start_ease

    def __call__(self, rotations: np.ndarray, root: np.ndarray, known: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        rot, pos, _ = self.model.inbetween(rotations, np.asarray(root) * self.metres, known, seed=self.seed,
                                           variation=self.variation, start_ease=self.start_ease)
        return rot, pos / self.metres


class Blend:
    """Two in-betweeners' answers blended (see ``harness.Inbetweener``): each made frame's local rotations
    slerped and root lerped ``weight`` of the way from ``first``'s to ``second``'s; the known frames as given.
    Two models that err differently (a window network that sees the whole window, a next-frame network that
    rolls from the context) err less together; ``weight`` is chosen on held-out data, never on the test set.

    Attributes:
        first, second: in-betweeners on the same skeleton; ``weight``: in [0, 1]; ``x_mean``, ``x_std``:
        ``first``'s.
    """

    def __init__(self, first, second, weight: float):
        if not 0.0 <= weight <= 1.0:
            raise LMMError(f"a blend's weight must be from 0 to 1, got {weight}")
        self.first, self.second, self.weight = first, second, float(weight)
        self.x_mean, self.x_std = getattr(first, "x_mean", None), getattr(first, "x_std", None)

    def __call__(self, rotations: np.ndarray, root: np.ndarray, known: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        r1, p1 = (np.asarray(a, dtype=np.float64) for a in self.first(rotations.copy(), root.copy(), known.copy()))
        r2, p2 = (np.asarray(a, dtype=np.float64) for a in self.second(rotations.copy(), root.copy(), known.copy()))
        r2 = np.where(np.sum(r1 * r2, axis=-1, keepdims=True) < 0, -r2, r2)  # the same hemisphere, the short way
        rot = R.slerp(r1, r2, np.full(r1.shape[:-1], self.weight))
        pos = (1.0 - self.weight) * p1 + self.weight * p2
        known = np.asarray(known, dtype=bool)
        rot[known], pos[known] = np.asarray(rotations)[known], np.asarray(root)[known]
        return rot, pos


def _format(path: Path) -> str | None:
    """The ``format`` a weights file's metadata names, read without decompressing its arrays (``None`` when
    it cannot be read so: the loader that follows names the problem)."""
    try:
        with np.load(path) as data:
            return json.loads(np.asarray(data["meta"]).tobytes().decode("utf-8")).get("format")
    except Exception:  # any unreadable file: left to the full loader's checks and messages
        return None


def load_inbetweener(path: str | Path, skeleton: Skeleton, fps: float = FPS,
                     start_ease: int | None = None) -> ModelInbetweener | NextFrameInbetweener:
    """Our model at ``path`` as an in-betweener on ``skeleton``: the window network (``load_model_inbetweener``)
    or a next-frame in-betweener (``NextFrameInbetweener``, told apart by the file's format, with
    ``start_ease``); either must work on ``skeleton``'s joints."""
    path = Path(path)
    if not path.exists():
        raise LMMError(f"model file {path} not found")
    if _format(path) != NF.FORMAT:
        return load_model_inbetweener(path, skeleton, fps)  # it also says what is wrong with a damaged file
    nf = NF.load(path)
    if tuple(nf.body.names) != tuple(skeleton.names):
        raise LMMError(f"{path}: the network works on {NF.NUM_JOINTS} joints ({', '.join(nf.body.names[:3])}, ...), "
                       f"the benchmark data on {skeleton.num_joints} ({', '.join(skeleton.names[:3])}, ...)")
    if abs(nf.cfg.fps - fps) > 1e-6:
        raise LMMError(f"{path}: the network makes {nf.cfg.fps:g} frames a second; the benchmark's are {fps:g}")
    return NextFrameInbetweener(nf, metres=UNITS_TO_METRES[skeleton.units], start_ease=start_ease)


def canonical_clips(spec: str | Path) -> list[Clip]:
    """The BVH files that ``spec`` names (folder, glob or file), each on the canonical body at 30 fps.

    Each is retargeted with the bone map that fits its rig (a preset or the automatic mapping), feet
    pinned, as ``lmm retarget --to canonical`` does.
    """
    target = canonical.canonical_skeleton()
    target_map = bone_map_for(target, "canonical")
    clips = []
    for path in motion_files(spec, "test"):
        motion = read_bvh(path)
        try:
            out = retarget(motion, bone_map_for(motion.skeleton), target, target_map)
        except MotionFileError:
            raise
        except LMMError as exc:
            raise LMMError(f"{path}: cannot put it on the canonical body: {exc}") from None
        if out.fps != FPS:
            out = out.resampled(FPS)
        clips.append(Clip(path.name, out.rotations, out.root_positions))
    return clips


def corpus_clips(corpus: str | Path, split: str, sources: list[str] | None = None) -> list[Clip]:
    """The clips of one split (``"train"`` or ``"val"``) of a corpus built by ``lmm dataset build``."""
    corpus = Path(corpus)
    index = corpus / "index.json"
    if not index.is_file():
        raise LMMError(f"{corpus} is not a built corpus (no index.json); build one with `lmm dataset build --out {corpus}`")
    infos, arrays = dataset.load(corpus, split=split, sources=sources)
    if not infos:
        meta = json.loads(index.read_text())["clips"]
        have = sorted({(c["source"], c["split"]) for c in meta})
        listed = ", ".join(f"{s}/{sp}" for s, sp in have)
        raise LMMError(f"no clips in split {split!r}" + (f" of sources {', '.join(sources)}" if sources else "")
                       + f" in {corpus}; it holds (source/split): {listed}")
    clips, start = [], 0
    for info in infos:
        stop = start + info.frames
        clips.append(Clip(info.take, arrays["rotations"][start:stop], arrays["root"][start:stop]))  # float32 views
        start = stop
    return clips


def run_inbetween(test: str | Path | None = None, *, corpus: str | Path | None = None, split: str = "val",
                  sources: list[str] | None = None, model: ModelInbetweener | Inbetweener | None = None,
                  stats: str | Path | None = None, save_stats_to: str | Path | None = None,
                  methods: dict[str, Inbetweener] | None = None, show_progress: bool = False,
                  log: Callable[[str], None] = lambda s: None) -> Results:
    """The in-betweening benchmark on the canonical body.

    Args:
        test: folder, glob or file of BVH clips to test on; ``None`` to test on ``split`` of ``corpus``.
        corpus: a built corpus: the test clips when ``test`` is ``None``, and its train split gives the L2P
            statistics when neither ``stats`` nor the model gives them.
        split, sources: which corpus clips to test on (and, for ``sources``, to take statistics from).
        model: an in-betweener on the canonical body, scored as ``"model"``.
        stats: an ``.npz`` with ``x_mean`` and ``x_std`` (66 numbers each, metres).
        save_stats_to: write the statistics used to this ``.npz``.

    Returns:
        ``{"zerovel"|"interp"|"model": {"L2Q"|"L2P"|"NPSS": {"5"|"15"|"30"|"45": value}}}``.
    """

    if test is None and corpus is None:
        raise LMMError("give --test (a folder or glob of BVH clips) or --corpus (a built corpus; --split picks the clips)")
    skeleton = canonical.canonical_skeleton()
    if test is not None:
        clips = canonical_clips(test)
        where = f"{len(clips)} clip(s) from {test}, retargeted to the canonical body at 30 fps"
    else:
        assert corpus is not None
        clips = corpus_clips(corpus, split, sources)
        where = f"{len(clips)} clip(s) of the {split!r} split of {corpus}" + (f" ({', '.join(sources)})" if sources else "")
    windows = make_windows(clips, skeleton, ROOT_FORWARD, FPS)
    log(f"test: {where}, {windows.num_windows} windows of 65 frames every 40")
    model_mean, model_std = getattr(model, "x_mean", None), getattr(model, "x_std", None)
    if stats is not None:
        x_mean, x_std = load_stats(stats, skeleton.num_joints)
        log(f"statistics: {stats}")
    elif model_mean is not None and model_std is not None:
        x_mean, x_std = check_stats(model_mean, model_std, skeleton.num_joints, "the model's statistics")
        log("statistics: the model's")
    elif corpus is not None:
        x_mean, x_std = training_stats(corpus_clips(corpus, "train", sources), skeleton, ROOT_FORWARD)
        log(f"statistics: training windows (50 frames every 20) of the 'train' split of {corpus}")
    else:
        raise LMMError("L2P needs normalisation statistics: give --stats FILE, a --model that carries them, "
                       "or --corpus DIR (its train split)")
    return score(windows, skeleton, x_mean, x_std, methods, model, save_stats_to, log, show_progress)
