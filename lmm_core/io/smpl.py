"""SMPL, SMPL+H and SMPL-X body motion (AMASS-style ``.npz``) onto a ``Motion``, through ``smplx``.

An AMASS file holds per-frame axis-angle joint rotations (``poses``), the root's translation
(``trans``), the subject's body shape (``betas``) and the frame rate; the joint *locations* are not in
it. They come from the licensed body model the user downloads: the shaped body's joints are
``J_regressor @ (v_template + shapedirs . betas)``, computed with ``smplx``'s own blend-shape and
joint-regression functions. This module keeps the 22 body joints (pelvis .. right_wrist, SMPL's order
and parents); hands, jaw and eyes are dropped.

Axes: SMPL's body is modelled Y up, facing +Z, its left at +X, in metres; AMASS places it in a Z-up
world (``poses[:, :3]`` includes the turn that stands the body up). The import converts the world to
Y up by rotating it -90 degrees about X, so a ``Motion`` from here is Y up like every other source,
and the rest pose (identity rotations) is SMPL's T-pose facing +Z.

Only ``smplx`` and ``torch`` are imported lazily, where the model's joints are computed; the rest
(reading and checking files, building the motion) is numpy.
"""
from __future__ import annotations

import pickle
import re
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import rotations as R
from ..errors import LMMError, MotionFileError
from ..motion import Motion
from ..skeleton import Skeleton

__all__ = [
    "SMPL_JOINT_NAMES",
    "SMPL_PARENTS",
    "BodyModel",
    "load_body_model",
    "motion_from_smpl",
    "read_amass",
]

SMPL_JOINT_NAMES = (
    "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2", "left_ankle",
    "right_ankle", "spine3", "left_foot", "right_foot", "neck", "left_collar", "right_collar", "head",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
)  # fmt: skip
SMPL_PARENTS = (-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19)
NUM_BODY_JOINTS = len(SMPL_JOINT_NAMES)

_MODEL_KEYS = ("v_template", "shapedirs", "J_regressor", "kintree_table")
# What reading a broken or foreign model file raises (pickle can raise almost anything).
_UNREADABLE = (OSError, EOFError, ValueError, ImportError, AttributeError, pickle.UnpicklingError, zipfile.BadZipFile)
# Joints in each model's kinematic tree; the first 22 are the same body in all three.
_MODEL_KINDS = {24: "smpl", 52: "smplh", 55: "smplx"}
# Width of ``poses`` -> the models it was made with. SMPL and SMPL+H share one body; SMPL-X's differs.
_POSE_WIDTHS = {66: ("smpl", "smplh"), 72: ("smpl", "smplh"), 156: ("smpl", "smplh"), 165: ("smplx",)}
_AMASS_KEYS = ("poses", "trans", "betas", "mocap_framerate", "mocap_frame_rate", "gender")
# SMPL-X stores 300 shape components, then expression components, in one ``shapedirs``.
_SMPLX_SHAPE_DIM = 300

# World rotation from AMASS's Z up to Y up: -90 degrees about X, (x, y, z) -> (x, z, -y).
_Z_UP_TO_Y_UP = R.from_axis_angle(np.array([1.0, 0.0, 0.0]), -np.pi / 2)

_DOWNLOAD_HELP = (
    "the body model is licensed and not shipped with LMM: register and download it, then pass the "
    "file as model_path. AMASS SMPL+H files (poses with 156 columns): 'Extended SMPL+H model' from "
    "https://mano.is.tue.mpg.de (Downloads), e.g. smplh/male/model.npz. AMASS SMPL-X files (165 "
    "columns): SMPL-X from https://smpl-x.is.tue.mpg.de, e.g. models/smplx/SMPLX_MALE.npz. SMPL (72 "
    "columns): https://smpl.is.tue.mpg.de. Use the model of the subject's gender (the file's 'gender')."
)


# --- the body model ----------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class BodyModel:
    """The parts of a SMPL-family model file that locate the joints.

    Attributes:
        path: the model file.
        kind: ``"smpl"`` (24 joints), ``"smplh"`` (52) or ``"smplx"`` (55).
        v_template: ``(V, 3)`` mean-shape vertices, metres, Y up, facing +Z.
        shapedirs: ``(V, 3, B)`` shape blend shapes (SMPL-X's expression components left out).
        j_regressor: ``(J, V)`` joint locations as weighted sums of vertices.
        parents: ``(J,)`` kinematic tree, ``-1`` for the root.
    """

    path: Path
    kind: str
    v_template: np.ndarray
    shapedirs: np.ndarray
    j_regressor: np.ndarray
    parents: np.ndarray

    @property
    def num_betas(self) -> int:
        """How many shape coefficients the model has (SMPL 10, AMASS's SMPL+H 16, SMPL-X 300)."""
        return int(self.shapedirs.shape[-1])

    def rest_joints(self, betas: np.ndarray) -> np.ndarray:
        """Rest-pose locations ``(22, 3)`` of the body joints for shape ``betas (B,)``, metres, body frame.

        Betas beyond the model's ``num_betas`` are ignored (with a warning when they are not zero); a
        shorter ``betas`` leaves the remaining components at zero, as ``smplx`` does.
        """
        torch, lbs = _import_smplx()
        betas = np.asarray(betas, dtype=np.float64).reshape(-1)
        n = min(len(betas), self.num_betas)
        if np.any(betas[n:] != 0):
            warnings.warn(
                f"{self.path.name} has {self.num_betas} shape coefficients; the motion's betas "
                f"{n}..{len(betas) - 1} are ignored, so the body shape is approximate",
                stacklevel=3,
            )
        with torch.no_grad():
            shapedirs = torch.from_numpy(np.ascontiguousarray(self.shapedirs[..., :n]))
            v_shaped = torch.from_numpy(self.v_template)[None] + lbs.blend_shapes(
                torch.from_numpy(betas[None, :n]), shapedirs
            )
            joints = lbs.vertices2joints(torch.from_numpy(self.j_regressor), v_shaped)
        return joints[0, :NUM_BODY_JOINTS].numpy().astype(np.float64)


def _import_smplx():
    """``(torch, smplx.lbs)``, or an ``LMMError`` saying what to install."""
    try:  # here, not at the top: optional and heavy, and nothing on the inference path may import torch
        import torch
        from smplx import lbs
    except ImportError as exc:
        raise LMMError(
            f"SMPL/AMASS import needs the 'torch' and 'smplx' packages ({exc}); install them with "
            "pip install 'lmm[smpl]' (or: pip install torch smplx)"
        ) from None
    return torch, lbs


def _dense(array) -> np.ndarray:
    """A numpy float64 array from what model files hold (numpy, scipy.sparse, chumpy)."""
    if hasattr(array, "toarray"):  # scipy.sparse, as in SMPL's J_regressor
        array = array.toarray()
    return np.array(array, dtype=np.float64)


_TRUST_HELP = ("a pickle can run code when it is read, so LMM reads only plain arrays unless told the file is "
               "trusted: use the model's .npz release, or, for a file from the model's own site, "
               "load_body_model(path, trust_pickle=True)")


def load_body_model(model_path: str | Path, *, trust_pickle: bool = False) -> BodyModel:
    """Read a SMPL, SMPL+H or SMPL-X model file (``.npz``, or ``.pkl`` when trusted) as ``smplx`` stores them.

    Load it once and pass the ``BodyModel`` to ``read_amass`` for many files. Raises ``LMMError``
    naming what to download when the file is missing, and what is wrong when it is not a body model.

    Formats trusted: ``.npz`` arrays, read without pickle (the releases of SMPL+H from MANO and of SMPL-X
    hold plain arrays in the keys used here). A ``.pkl`` file (the original SMPL releases) or an ``.npz``
    whose needed arrays hold Python objects is a pickle, which can run code when read: it is refused unless
    ``trust_pickle`` says the file comes from a source you trust (the model's own download site).
    """
    path = Path(model_path)
    if not path.is_file():
        where = "is a folder; pass the model file inside it" if path.is_dir() else "not found"
        raise LMMError(f"body model {path} {where}. {_DOWNLOAD_HELP}")
    try:
        if path.suffix.lower() == ".npz":
            # Only the arrays needed, without pickle unless the caller trusts the file.
            with np.load(path, allow_pickle=trust_pickle) as npz:
                try:
                    data = {k: npz[k] for k in _MODEL_KEYS if k in npz.files}
                except ValueError as exc:
                    if "allow_pickle" not in str(exc):
                        raise
                    raise LMMError(f"body model {path}: its arrays hold Python objects (a pickle); {_TRUST_HELP}") from None
        elif path.suffix.lower() == ".pkl":
            if not trust_pickle:
                raise LMMError(f"body model {path} is a Python pickle (.pkl); {_TRUST_HELP}")
            with open(path, "rb") as f:
                data = pickle.load(f, encoding="latin1")
        else:
            raise LMMError(f"body model {path}: expected a .npz (or a trusted .pkl) file. {_DOWNLOAD_HELP}")
    except ModuleNotFoundError as exc:
        raise LMMError(
            f"body model {path} was saved with the '{exc.name}' package (the original SMPL .pkl files "
            "use chumpy); install it, or use the model's .npz release"
        ) from None
    except _UNREADABLE as exc:
        raise LMMError(f"body model {path}: cannot read it ({exc}); is it a SMPL-family model?") from None
    if not isinstance(data, dict):
        raise LMMError(f"body model {path}: holds a {type(data).__name__}, not a SMPL-family model")
    missing = [k for k in _MODEL_KEYS if k not in data]
    if missing:
        raise LMMError(f"body model {path}: missing {', '.join(missing)}; is it a SMPL-family model file?")
    v_template = _dense(data["v_template"])
    shapedirs = _dense(data["shapedirs"])
    j_regressor = _dense(data["J_regressor"])
    kintree = np.asarray(data["kintree_table"]).astype(np.int64)
    if shapedirs.ndim == 2:
        shapedirs = shapedirs[:, :, None]
    v = v_template.shape[0] if v_template.ndim else 0
    if v == 0 or v_template.shape != (v, 3) or shapedirs.shape[:2] != (v, 3) or j_regressor.shape[1:] != (v,):
        raise LMMError(
            f"body model {path}: array shapes disagree (v_template {v_template.shape}, shapedirs "
            f"{shapedirs.shape}, J_regressor {j_regressor.shape})"
        )
    j = j_regressor.shape[0]
    kind = _MODEL_KINDS.get(j)
    if kind is None or kintree.shape != (2, j):
        raise LMMError(
            f"body model {path}: {j} joints; SMPL has 24, SMPL+H 52, SMPL-X 55 (is it a SMPL-family model?)"
        )
    parents = kintree[0].copy()
    parents[0] = -1  # stored as an unsigned 'no parent'
    if tuple(parents[:NUM_BODY_JOINTS]) != SMPL_PARENTS:
        raise LMMError(f"body model {path}: its first 22 joints are not SMPL's body tree")
    if kind == "smplx" and shapedirs.shape[-1] > _SMPLX_SHAPE_DIM:
        shapedirs = shapedirs[..., :_SMPLX_SHAPE_DIM]  # the rest are expressions
    elif kind == "smplx":
        shapedirs = shapedirs[..., :10]  # smplx's layout for small files: 10 shape, then expressions
    return BodyModel(path, kind, v_template, shapedirs, j_regressor, parents)


# --- the motion --------------------------------------------------------------------------------------


def motion_from_smpl(
    poses: np.ndarray,
    trans: np.ndarray,
    joints: np.ndarray,
    fps: float,
    *,
    z_up: bool = True,
    labels: dict[str, str] | None = None,
) -> Motion:
    """A ``Motion`` on SMPL's 22 body joints from SMPL parameters already in memory.

    Args:
        poses: ``(T, >= 66)`` axis-angle rotations in radians, joint-major (``[:, 3j:3j+3]`` is joint
            ``j``): the root's global orientation, then each body joint relative to its parent.
            Columns past 66 (hands, jaw, eyes) are ignored.
        trans: ``(T, 3)`` the model's translation (``transl`` in ``smplx``), metres, world frame.
        joints: ``(>= 22, 3)`` rest-pose joint locations of the shaped body (``BodyModel.rest_joints``).
        fps: frames per second.
        z_up: the world of ``poses``/``trans`` is Z up (AMASS); it is rotated to Y up. With
            ``False`` the world is taken as Y up already and kept.
        labels: labels for the motion.

    Returns:
        A Y-up ``Motion`` in metres whose joints are where ``smplx`` puts them: root at
        ``trans + joints[0]``, offsets ``joints[j] - joints[parent]``.
    """
    poses = np.asarray(poses, dtype=np.float64)
    trans = np.asarray(trans, dtype=np.float64)
    joints = np.asarray(joints, dtype=np.float64)
    if poses.ndim != 2 or poses.shape[1] < 3 * NUM_BODY_JOINTS or poses.shape[0] == 0:
        raise LMMError(f"poses must be (T >= 1, >= 66) axis-angle values, got {poses.shape}")
    if trans.shape != (poses.shape[0], 3):
        raise LMMError(f"trans must be ({poses.shape[0]}, 3), got {trans.shape}")
    if joints.ndim != 2 or joints.shape[0] < NUM_BODY_JOINTS or joints.shape[1] != 3:
        raise LMMError(f"joints must be (>= 22, 3) rest joint locations, got {joints.shape}")
    t = poses.shape[0]
    rotations = R.from_scaled_axis(poses[:, : 3 * NUM_BODY_JOINTS].reshape(t, NUM_BODY_JOINTS, 3))
    joints = joints[:NUM_BODY_JOINTS]
    parents = np.array(SMPL_PARENTS)
    offsets = joints - joints[np.maximum(parents, 0)]
    offsets[0] = joints[0]
    # The root joint turns about itself, so its world position is its rest location plus the translation.
    root_positions = trans + joints[0]
    if z_up:
        rotations[:, 0] = R.mul(_Z_UP_TO_Y_UP, rotations[:, 0])
        root_positions = R.mul_vec(_Z_UP_TO_Y_UP, root_positions)
    skeleton = Skeleton(SMPL_JOINT_NAMES, parents, offsets, units="m", up_axis="y")
    return Motion(skeleton, rotations, root_positions, fps=fps, labels=dict(labels or {}))


def _gender(value) -> str | None:
    """AMASS stores gender as a 0-d str or bytes array (``'male'``, ``b'female'``)."""
    item = np.asarray(value).reshape(-1)
    if item.size != 1:
        return None
    item = item[0]
    text = item.decode("utf-8", "replace") if isinstance(item, bytes) else str(item)
    return text.strip().lower() or None


def _gender_in_name(path: Path) -> str | None:
    for part in (path.name, path.parent.name):
        found = re.search(r"(?<![a-z])(female|male|neutral)(?![a-z])", part.lower())
        if found:
            return found.group(1)
    return None


def read_amass(path: str | Path, model: str | Path | BodyModel, *, fps: float | None = None) -> Motion:
    """Read an AMASS-style ``.npz`` onto SMPL's 22 body joints, Y up, metres.

    Args:
        path: the motion file, with ``poses (T, 156 | 72 | 165 | 66)``, ``trans (T, 3)``, ``betas (B,)``
            and ``mocap_framerate`` (or ``mocap_frame_rate``); ``gender`` is optional and kept in
            ``labels["gender"]``. Other arrays (``dmpls``, ...) are ignored.
        model: the body model file the data was made with (SMPL+H for 156 columns, SMPL-X for 165),
            or a ``BodyModel`` from ``load_body_model`` to reuse across files.
        fps: frame rate to use instead of the file's (required when the file has none).

    Raises:
        MotionFileError: the file is missing, unreadable, lacks a key, or holds arrays of the wrong
            shape, no frames or non-finite values.
        LMMError: the model file is missing (with where to download it) or does not fit the data.
    """
    path = Path(path)
    if fps is not None and not (np.isfinite(fps) and fps > 0):
        raise LMMError(f"fps must be a positive number, got {fps}")
    data = _read_npz(path)
    poses, trans, betas = _check_arrays(path, data)
    if fps is None:
        fps = _frame_rate(path, data)
    body = model if isinstance(model, BodyModel) else load_body_model(model)
    if body.kind not in _POSE_WIDTHS[poses.shape[1]]:
        made_with = "SMPL-X" if poses.shape[1] == 165 else "SMPL or SMPL+H"
        raise LMMError(
            f"{path}: poses with {poses.shape[1]} columns come from a {made_with} model, but {body.path.name} "
            f"is a {body.kind.upper()} model, whose joints differ; pass the model the data was made with"
        )
    labels = {}
    gender = _gender(data["gender"]) if "gender" in data else None
    if gender:
        labels["gender"] = gender
        named = _gender_in_name(body.path)
        if named and named != gender:
            warnings.warn(
                f"{path.name} is a {gender} subject but the body model {body.path} looks {named}; "
                "bone lengths will be off",
                stacklevel=2,
            )
    joints = body.rest_joints(betas)
    return motion_from_smpl(poses, trans, joints, fps, z_up=True, labels=labels)


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    """The arrays of an AMASS file that the import uses, by name."""
    if not path.is_file():
        raise MotionFileError(path, "file not found; check the path")
    try:
        # No pickles: a motion file has no business running code.
        with np.load(path, allow_pickle=False) as npz:
            data = {k: npz[k] for k in _AMASS_KEYS if k in npz.files}
            keys = sorted(npz.files)
    except (OSError, EOFError, ValueError, zipfile.BadZipFile) as exc:
        raise MotionFileError(path, f"cannot read it as a .npz archive ({exc})") from None
    if "poses" not in data and "trans" not in data and "betas" in data:
        raise MotionFileError(path, "holds a body shape but no motion (AMASS's shape.npz?); import the files beside it")
    for key in ("poses", "trans", "betas"):
        if key not in data:
            found = ", ".join(keys) or "nothing"
            raise MotionFileError(
                path, f"no '{key}' array; an AMASS motion has poses, trans, betas and mocap_framerate (found: {found})"
            )
    return data


def _check_arrays(path: Path, data: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``poses (T, W)``, ``trans (T, 3)`` and ``betas (B,)`` as float64, or a ``MotionFileError``."""
    arrays = {key: np.asarray(data[key]) for key in ("poses", "trans", "betas")}
    for key, arr in arrays.items():
        if not np.issubdtype(arr.dtype, np.number):
            raise MotionFileError(path, f"'{key}' holds {arr.dtype} values, not numbers")
    poses, trans, betas = (arrays[k].astype(np.float64) for k in ("poses", "trans", "betas"))
    if poses.ndim != 2 or poses.shape[1] not in _POSE_WIDTHS:
        raise MotionFileError(
            path,
            f"'poses' has shape {poses.shape}; expected (frames, 156) for SMPL+H, (frames, 165) for SMPL-X "
            "or (frames, 72) for SMPL",
        )
    if poses.shape[0] == 0:
        raise MotionFileError(path, "no frames: 'poses' has 0 rows")
    if trans.shape != (poses.shape[0], 3):
        raise MotionFileError(path, f"'trans' has shape {trans.shape}; expected ({poses.shape[0]}, 3), a row per pose")
    if betas.ndim == 2 and betas.shape[0] == 1:
        betas = betas[0]
    if betas.ndim != 1:
        raise MotionFileError(path, f"'betas' has shape {betas.shape}; expected one shape vector (B,)")
    for key, arr in (("poses", poses), ("trans", trans), ("betas", betas)):
        bad = np.argwhere(~np.isfinite(arr))
        if len(bad):
            first = tuple(int(i) for i in bad[0])
            raise MotionFileError(path, f"'{key}' holds non-finite values (NaN or inf; the first at index {first})")
    return poses, trans, betas


def _frame_rate(path: Path, data: dict[str, np.ndarray]) -> float:
    """The file's frame rate (AMASS's SMPL+H files say ``mocap_framerate``, its SMPL-X files
    ``mocap_frame_rate``)."""
    key = next((k for k in ("mocap_framerate", "mocap_frame_rate") if k in data), None)
    if key is None:
        raise MotionFileError(path, "no frame rate ('mocap_framerate' or 'mocap_frame_rate'); pass fps=")
    rate = np.asarray(data[key]).reshape(-1)
    fps = float(rate[0]) if rate.size == 1 and np.issubdtype(rate.dtype, np.number) else float("nan")
    if not (np.isfinite(fps) and fps > 0):
        raise MotionFileError(path, f"'{key}' is {data[key]!r}, not a positive frame rate; pass fps=")
    return fps
