"""Small synthetic SMPL / SMPL+H / SMPL-X model files in the layout ``smplx`` loads (no licensed data).

Two flavours:
- ``simple=True``: one vertex per joint at the joint, ``J_regressor`` the identity, and two shape
  components that scale heights (beta 0) and widths (beta 1) by 10 % per unit, so joint locations
  can be worked out by hand.
- ``simple=False``: every joint regressed from three noisy vertices, random shape, pose blend shapes
  and skinning weights; for comparing against ``smplx``'s own forward pass.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

# Rest joints of the 22-joint body, metres, Y up, facing +Z, the body's left at +X.
BODY_JOINTS = np.array([
    [0.00, 0.95, 0.00],    # pelvis
    [0.09, 0.87, 0.00],    # left_hip
    [-0.09, 0.87, 0.00],   # right_hip
    [0.00, 1.05, -0.01],   # spine1
    [0.10, 0.50, 0.01],    # left_knee
    [-0.10, 0.50, 0.01],   # right_knee
    [0.00, 1.18, 0.00],    # spine2
    [0.10, 0.08, -0.03],   # left_ankle
    [-0.10, 0.08, -0.03],  # right_ankle
    [0.00, 1.24, 0.01],    # spine3
    [0.11, 0.02, 0.10],    # left_foot
    [-0.11, 0.02, 0.10],   # right_foot
    [0.00, 1.48, -0.01],   # neck
    [0.07, 1.40, 0.00],    # left_collar
    [-0.07, 1.40, 0.00],   # right_collar
    [0.00, 1.58, 0.03],    # head
    [0.18, 1.42, -0.01],   # left_shoulder
    [-0.18, 1.42, -0.01],  # right_shoulder
    [0.44, 1.42, -0.02],   # left_elbow
    [-0.44, 1.42, -0.02],  # right_elbow
    [0.68, 1.42, -0.01],   # left_wrist
    [-0.68, 1.42, -0.01],  # right_wrist
])  # fmt: skip
BODY_PARENTS = [-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19]

NUM_JOINTS = {"smpl": 24, "smplh": 52, "smplx": 55}
NUM_SHAPE = {"smpl": 10, "smplh": 16, "smplx": 20}  # SMPL-X's small layout: 10 shape + 10 expression

# smplx appends joints taken from these vertices (nose, eyes, toes, finger tips); real models use ids in
# the thousands, so tests hand a model this map of small ids instead.
VERTEX_IDS = {
    name: i
    for i, name in enumerate(
        ["nose", "reye", "leye", "rear", "lear", "LBigToe", "LSmallToe", "LHeel", "RBigToe", "RSmallToe", "RHeel"]
        + [side + tip for side in "lr" for tip in ("thumb", "index", "middle", "ring", "pinky")]
    )
}


def _parents(kind: str) -> list[int]:
    """The model's kinematic tree: SMPL's body, then hands (and SMPL-X's jaw and eyes)."""
    parents = list(BODY_PARENTS)
    if kind == "smpl":
        return parents + [20, 21]
    if kind == "smplx":
        parents += [15, 15, 15]  # jaw, left eye, right eye
    for wrist in (20, 21):
        for _finger in range(5):
            base = len(parents)
            parents += [wrist, base, base + 1]
    return parents


def _joints(kind: str) -> np.ndarray:
    """Rest joints ``(J, 3)``: the body, plus extra joints a few centimetres from their parents."""
    parents = _parents(kind)
    joints = np.zeros((len(parents), 3))
    joints[:22] = BODY_JOINTS
    for j in range(22, len(parents)):
        p = parents[j]
        side = np.sign(joints[p, 0]) or 1.0
        joints[j] = joints[p] + [0.03 * side, 0.01 * (j % 3), 0.02 * ((j % 5) - 2)]
    return joints


def model_arrays(kind: str = "smpl", *, simple: bool = True, seed: int = 0) -> dict[str, np.ndarray]:
    """The arrays of a model file of ``kind`` (``"smpl"``, ``"smplh"``, ``"smplx"``)."""
    rng = np.random.default_rng(seed)
    joints = _joints(kind)
    j = len(joints)
    b = NUM_SHAPE[kind]
    if simple:
        v_template = np.concatenate([joints, joints[:6] + [0.0, 0.0, 0.05]])
        v = len(v_template)
        j_regressor = np.zeros((j, v))
        j_regressor[np.arange(j), np.arange(j)] = 1.0
        shapedirs = np.zeros((v, 3, b))
        shapedirs[:, 1, 0] = 0.1 * v_template[:, 1]  # beta 0: taller
        shapedirs[:, 0, 1] = 0.1 * v_template[:, 0]  # beta 1: wider
        if kind == "smplx":
            shapedirs[:, :, 10:] = rng.normal(0.0, 0.02, (v, 3, b - 10))  # expressions: must not move joints
        posedirs = np.zeros((v, 3, (j - 1) * 9))
    else:
        v_template = np.repeat(joints, 3, axis=0) + rng.normal(0.0, 0.02, (3 * j, 3))
        v = len(v_template)
        j_regressor = np.zeros((j, v))
        for i in range(j):
            j_regressor[i, 3 * i : 3 * i + 3] = rng.dirichlet(np.ones(3))
        shapedirs = rng.normal(0.0, 0.01, (v, 3, b))
        posedirs = rng.normal(0.0, 0.001, (v, 3, (j - 1) * 9))
    weights = rng.random((v, j)) if not simple else np.eye(v, j) + 1e-3
    weights /= weights.sum(axis=1, keepdims=True)
    kintree = np.array([_parents(kind), np.arange(j)], dtype=np.int64)
    kintree[0, 0] = 4294967295  # as real files store 'no parent'
    arrays = {
        "v_template": v_template,
        "shapedirs": shapedirs,
        "posedirs": posedirs,
        "J_regressor": j_regressor,
        "weights": weights,
        "kintree_table": kintree,
        "f": np.array([[i, i + 1, i + 2] for i in range(v - 2)], dtype=np.int64),
    }
    if kind in ("smplh", "smplx"):
        for side in "lr":
            arrays[f"hands_components{side}"] = np.eye(45)
            arrays[f"hands_mean{side}"] = np.zeros(45)
    if kind == "smplx":
        arrays["lmk_faces_idx"] = np.arange(4, dtype=np.int64)
        arrays["lmk_bary_coords"] = np.full((4, 3), 1.0 / 3.0)
    return arrays


def write_model(path: Path, kind: str = "smpl", *, simple: bool = True, seed: int = 0) -> Path:
    """Write a synthetic model ``.npz`` and return its path."""
    np.savez(path, **model_arrays(kind, simple=simple, seed=seed))
    return Path(path)


def smplx_body(path: Path, kind: str, num_betas: int, monkeypatch):
    """The ``smplx`` module of that kind for a synthetic model file, float64, hands given as full poses.

    SMPL-X always takes its extra-joint vertex ids from ``smplx``'s table, so ``monkeypatch`` (pytest's
    fixture) swaps in the small ids for the duration of the test.
    """
    import smplx
    import torch
    from smplx.utils import Struct

    hands = dict(use_pca=False, flat_hand_mean=True)
    if kind == "smplx":
        monkeypatch.setitem(smplx.body_models.VERTEX_IDS, "smplx", VERTEX_IDS)
        return smplx.SMPLX(
            str(path), ext="npz", num_betas=num_betas, dtype=torch.float64, use_face_contour=False, **hands
        )
    with np.load(path) as npz:
        data = Struct(**{k: npz[k] for k in npz.files})
    common = dict(data_struct=data, num_betas=num_betas, dtype=torch.float64, vertex_ids=VERTEX_IDS)
    if kind == "smpl":
        return smplx.SMPL(str(path), **common)
    return smplx.SMPLH(str(path), **common, **hands)
