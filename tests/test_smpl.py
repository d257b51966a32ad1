"""SMPL / SMPL+H / SMPL-X (AMASS) import, checked by hand and against ``smplx``'s own forward pass."""
from __future__ import annotations

import sys

import numpy as np
import pytest

from lmm_core import LMMError, MotionFileError
from lmm_core import rotations as R
from lmm_core.io.smpl import SMPL_JOINT_NAMES, load_body_model, read_amass
from lmm_core.mirror import mirror

from smpl_fixture import BODY_JOINTS, smplx_body, write_model

pytest.importorskip("smplx")
torch = pytest.importorskip("torch")

POSE_WIDTH = {"smpl": 72, "smplh": 156, "smplx": 165}


def _write_motion(path, poses, trans, betas, **extra):
    np.savez(path, poses=poses, trans=trans, betas=betas, **extra)
    return path


def _stand_up(t: int, width: int) -> np.ndarray:
    """Poses ``(t, width)`` with the root turned +90 degrees about X: how AMASS stands a body in Z up."""
    poses = np.zeros((t, width))
    poses[:, 0] = np.pi / 2
    return poses


def test_knee_bend_by_hand(tmp_path):
    model = write_model(tmp_path / "SMPL_MALE.npz", "smpl")
    poses = _stand_up(2, 72)
    poses[1, 3 * 4] = np.pi / 2  # frame 1: left knee (joint 4) +90 degrees about X
    betas = np.zeros(10)
    betas[:2] = [0.5, -1.0]  # 5 % taller, 10 % narrower
    trans = np.array([[1.0, 2.0, 0.9], [1.0, 2.0, 0.9]])
    motion = read_amass(_write_motion(tmp_path / "knee.npz", poses, trans, betas, mocap_framerate=120.0), model)

    assert motion.skeleton.names == SMPL_JOINT_NAMES and motion.fps == 120.0
    assert motion.skeleton.up_axis == "y" and motion.skeleton.units == "m"
    # Shaped rest joints: heights x 1.05, widths x 0.9. Left knee from left hip: (0.01, -0.37, 0.01).
    assert np.allclose(motion.skeleton.offsets[4], [0.1 * 0.9 - 0.09 * 0.9, (0.50 - 0.87) * 1.05, 0.01])
    # Root: (trans + rest pelvis) in AMASS's Z-up world, (1, 2 + 0.9975, 0.9), turned to Y up:
    # (x, y, z) -> (x, z, -y). The stood-up root rotation becomes the identity.
    assert np.allclose(motion.root_positions, [[1.0, 0.9, -2.9975]] * 2)
    assert np.allclose(R.angle(motion.rotations[:, 0]), 0.0)
    pos = motion.global_positions()
    knee = [1.0 + 0.09, 0.9 + (0.50 - 0.95) * 1.05, -2.9975 + 0.01]  # (1.09, 0.4275, -2.9875)
    assert np.allclose(pos[:, 4], knee)
    # Frame 0 stands straight: the ankle is 0.441 m below the knee and 4 cm behind it.
    assert np.allclose(pos[0, 7], [1.09, 0.4275 - 0.441, -2.9875 - 0.04])
    # Frame 1: the 90-degree bend swings the shin (0, -0.441, -0.04) to (0, 0.04, -0.441), behind the knee.
    assert np.allclose(pos[1, 7], [1.09, 0.4275 + 0.04, -2.9875 - 0.441])
    # The rest of the body does not move.
    assert np.allclose(pos[1, [0, 1, 2, 5, 8, 15, 21]], pos[0, [0, 1, 2, 5, 8, 15, 21]])


@pytest.mark.parametrize("kind", ["smpl", "smplh", "smplx"])
def test_joints_match_smplx(tmp_path, kind, monkeypatch):
    """Our numpy forward kinematics puts every body joint where ``smplx``'s model does, to 1e-6 m
    (smplx rounds the model's arrays to float32 when it loads them, whatever its dtype)."""
    rng = np.random.default_rng(7)
    path = write_model(tmp_path / f"{kind.upper()}_NEUTRAL.npz", kind, simple=False, seed=3)
    t, width = 6, POSE_WIDTH[kind]
    num_betas = 16 if kind == "smplh" else 10
    poses = rng.normal(0.0, 0.6, (t, width))
    trans = rng.normal(0.0, 1.0, (t, 3))
    betas = rng.normal(0.0, 1.5, num_betas)
    if kind == "smplh":
        betas[10:] = 0.0  # smplx keeps 10 betas of a 16-component model; 10..15 get their own test
    motion = read_amass(_write_motion(tmp_path / "m.npz", poses, trans, betas, mocap_frame_rate=60.0), path)

    body = smplx_body(path, kind, num_betas=10, monkeypatch=monkeypatch)
    p = torch.from_numpy(poses)
    args = dict(
        betas=torch.from_numpy(betas[None, :10]).expand(t, -1), global_orient=p[:, :3], transl=torch.from_numpy(trans)
    )
    if kind == "smpl":
        args["body_pose"] = p[:, 3:72]
    else:
        args["body_pose"] = p[:, 3:66]
        hands = 75 if kind == "smplx" else 66
        args["left_hand_pose"], args["right_hand_pose"] = p[:, hands : hands + 45], p[:, hands + 45 : hands + 90]
        if kind == "smplx":
            args.update(jaw_pose=p[:, 66:69], leye_pose=p[:, 69:72], reye_pose=p[:, 72:75])
            args["expression"] = torch.zeros((t, 10), dtype=torch.float64)
    with torch.no_grad():
        z_up = body(**args).joints[:, :22].numpy()
    y_up = np.stack([z_up[..., 0], z_up[..., 2], -z_up[..., 1]], axis=-1)
    assert np.abs(motion.global_positions() - y_up).max() < 1e-6
    # The body really moved: joints spread over more than the noise of the comparison.
    assert np.ptp(y_up[:, 21], axis=0).max() > 0.1


def test_all_sixteen_smplh_betas_are_used(tmp_path):
    """AMASS fits SMPL+H with 16 betas; betas 10..15 change the bones (smplx alone would drop them)."""
    model = load_body_model(write_model(tmp_path / "model.npz", "smplh", simple=False, seed=1))
    assert model.kind == "smplh" and model.num_betas == 16
    betas = np.zeros(16)
    betas[12] = 2.0
    expected = model.j_regressor @ (model.v_template + model.shapedirs[:, :, 12] * 2.0)
    assert np.allclose(model.rest_joints(betas), expected[:22])
    assert np.abs(model.rest_joints(betas) - model.rest_joints(np.zeros(16))).max() > 1e-3


def test_smplx_expressions_do_not_shape_the_body(tmp_path):
    model = load_body_model(write_model(tmp_path / "SMPLX_MALE.npz", "smplx"))
    assert model.kind == "smplx" and model.num_betas == 10
    betas = np.zeros(10)
    betas[0] = 1.0
    assert np.allclose(model.rest_joints(betas), BODY_JOINTS * [1.0, 1.1, 1.0])


def test_mirrored_import_bends_the_other_knee(tmp_path):
    """The imported body is a symmetric T-pose rig, so mirroring maps the left knee onto the right."""
    model = write_model(tmp_path / "model.npz", "smpl")
    poses = _stand_up(1, 72)
    poses[0, 12:15] = [np.pi / 2, 0.0, 0.3]
    path = _write_motion(tmp_path / "m.npz", poses, np.zeros((1, 3)), np.zeros(10), mocap_framerate=30)
    motion = read_amass(path, model)
    once = mirror(motion)
    assert once.skeleton is motion.skeleton
    expected = R.from_scaled_axis(np.array([np.pi / 2, 0.0, -0.3]))  # X kept, the sideways part flips
    assert R.angle(R.inv_mul(once.rotations[0, 5], expected)) < 1e-9
    assert R.angle(once.rotations[0, 4]) < 1e-9


def test_gender_is_kept_and_a_mismatched_model_warns(tmp_path):
    model = write_model(tmp_path / "SMPL_MALE.npz", "smpl")
    path = tmp_path / "m.npz"
    np.savez(path, **_arrays(poses=_stand_up(2, 72), gender=np.array("female")))
    with pytest.warns(UserWarning, match="female subject"):
        motion = read_amass(path, model)
    assert motion.labels == {"gender": "female"}
    np.savez(path, **_arrays(poses=_stand_up(2, 72), gender=np.array(b"male")))
    assert read_amass(path, model).labels == {"gender": "male"}


def test_missing_model_says_what_to_download(tmp_path):
    with pytest.raises(LMMError, match=r"mano\.is\.tue\.mpg\.de.*smpl-x\.is\.tue\.mpg\.de"):
        load_body_model(tmp_path / "smplh" / "male" / "model.npz")
    with pytest.raises(LMMError, match="is a folder"):
        load_body_model(tmp_path)


def test_bad_model_files(tmp_path):
    chumpy = tmp_path / "basicModel_m_lbs_10_207_0_v1.0.0.pkl"
    chumpy.write_bytes(b"cchumpy.ch\nCh\n.")  # a pickle that needs chumpy, like SMPL's original files
    with pytest.raises(LMMError, match="is a Python pickle.*npz release.*trust_pickle=True"):
        load_body_model(chumpy)  # never unpickled unless the caller says the file is trusted
    with pytest.raises(LMMError, match="chumpy.*npz release"):
        load_body_model(chumpy, trust_pickle=True)
    np.savez(tmp_path / "half.npz", v_template=np.zeros((3, 3)))
    with pytest.raises(LMMError, match="missing shapedirs, J_regressor, kintree_table"):
        load_body_model(tmp_path / "half.npz")
    mano = dict(shapedirs=np.zeros((3, 3, 2)), J_regressor=np.ones((16, 3)) / 3, kintree_table=np.zeros((2, 16)))
    np.savez(tmp_path / "mano.npz", v_template=np.zeros((3, 3)), **mano)
    with pytest.raises(LMMError, match="16 joints; SMPL has 24"):
        load_body_model(tmp_path / "mano.npz")
    (tmp_path / "model.obj").write_text("v 0 0 0\n")
    with pytest.raises(LMMError, match="expected a .npz"):
        load_body_model(tmp_path / "model.obj")


@pytest.fixture()
def smpl_model(tmp_path):
    return load_body_model(write_model(tmp_path / "SMPL_NEUTRAL.npz", "smpl"))


def _arrays(drop: tuple[str, ...] = (), **changes) -> dict[str, np.ndarray]:
    """A valid two-frame SMPL motion file's arrays, with keys dropped or replaced."""
    arrays = dict(poses=np.zeros((2, 72)), trans=np.zeros((2, 3)), betas=np.zeros(10), mocap_framerate=30)
    arrays.update(changes)
    return {k: v for k, v in arrays.items() if k not in drop}


NAN_POSES = np.full((2, 72), np.nan)
INF_TRANS = np.array([[0, 0, 0], [0, np.inf, 0]])


@pytest.mark.parametrize(
    "arrays, problem",
    [
        (_arrays(drop=("poses",)), "no 'poses' array"),
        (dict(betas=np.zeros(10)), "body shape but no motion"),
        (_arrays(drop=("trans",)), "no 'trans' array"),
        (_arrays(drop=("betas",)), "no 'betas' array"),
        (_arrays(poses=np.zeros((2, 60))), r"'poses' has shape \(2, 60\)"),
        (_arrays(poses=np.zeros((0, 72)), trans=np.zeros((0, 3))), "no frames"),
        (_arrays(trans=np.zeros((3, 3))), r"'trans' has shape \(3, 3\)"),
        (_arrays(betas=np.zeros((2, 10))), "'betas' has shape"),
        (_arrays(poses=NAN_POSES), r"'poses' holds non-finite values .* index \(0, 0\)"),
        (_arrays(trans=INF_TRANS), r"'trans' holds non-finite .* \(1, 1\)"),
        (_arrays(drop=("mocap_framerate",)), "no frame rate"),
        (_arrays(mocap_framerate=0.0), "not a positive frame rate"),
        (_arrays(gender=np.array([{"x": 1}], dtype=object)), "cannot read it as a .npz"),  # a pickle
        (_arrays(poses=np.array([["a"] * 72] * 2)), "holds <U1 values"),
    ],
)
def test_bad_motion_files(tmp_path, smpl_model, arrays, problem):
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(MotionFileError, match=problem) as err:
        read_amass(path, smpl_model)
    assert err.value.path == path


def test_missing_and_unreadable_motion_files(tmp_path, smpl_model):
    with pytest.raises(MotionFileError, match="file not found"):
        read_amass(tmp_path / "nope.npz", smpl_model)
    (tmp_path / "text.npz").write_text("poses")
    with pytest.raises(MotionFileError, match="cannot read it as a .npz"):
        read_amass(tmp_path / "text.npz", smpl_model)


def test_frame_rate_and_betas_layouts(tmp_path, smpl_model):
    base = dict(poses=_stand_up(4, 72), trans=np.zeros((4, 3)))
    path = _write_motion(tmp_path / "a.npz", betas=np.zeros((1, 10)), **base)
    with pytest.raises(MotionFileError, match="no frame rate"):
        read_amass(path, smpl_model)
    assert read_amass(path, smpl_model, fps=50).fps == 50.0
    path = _write_motion(tmp_path / "b.npz", betas=np.zeros(16), mocap_frame_rate=np.array(59.94), **base)
    assert read_amass(path, smpl_model).fps == pytest.approx(59.94)
    with pytest.raises(LMMError, match="fps must be"):
        read_amass(path, smpl_model, fps=-1)
    betas = np.zeros(16)
    betas[13] = 1.0
    with pytest.warns(UserWarning, match="betas 10..15 are ignored"):
        read_amass(_write_motion(tmp_path / "c.npz", betas=betas, mocap_framerate=30, **base), smpl_model)


def test_poses_must_match_the_model(tmp_path, smpl_model):
    path = _write_motion(tmp_path / "x.npz", np.zeros((2, 165)), np.zeros((2, 3)), np.zeros(16), mocap_frame_rate=30)
    with pytest.raises(LMMError, match="165 columns come from a SMPL-X model.*SMPL model"):
        read_amass(path, smpl_model)
    smplx_model = load_body_model(write_model(tmp_path / "SMPLX_NEUTRAL.npz", "smplx"))
    path = _write_motion(tmp_path / "h.npz", np.zeros((2, 156)), np.zeros((2, 3)), np.zeros(16), mocap_framerate=30)
    with pytest.raises(LMMError, match="156 columns come from a SMPL or SMPL\\+H model"):
        read_amass(path, smplx_model)
    # SMPL and SMPL+H share a body, so SMPL+H poses read with a SMPL model.
    assert read_amass(path, smpl_model).num_frames == 2


def test_missing_smplx_is_a_clear_error(tmp_path, smpl_model, monkeypatch):
    monkeypatch.setitem(sys.modules, "smplx", None)  # makes 'import smplx' fail
    path = _write_motion(tmp_path / "m.npz", _stand_up(1, 72), np.zeros((1, 3)), np.zeros(10), mocap_framerate=30)
    with pytest.raises(LMMError, match=r"pip install 'lmm\[smpl\]'"):
        read_amass(path, smpl_model)


def test_lmm_core_does_not_import_torch():
    """Importing the SMPL reader costs nothing where torch is absent (Blender): smplx loads on use."""
    import os
    import subprocess
    from pathlib import Path

    root = str(Path(__file__).resolve().parents[1])
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([root, os.environ.get("PYTHONPATH", "")]))
    code = "import sys, lmm_core.io.smpl, lmm_core.mirror; print('torch' in sys.modules, 'smplx' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env, cwd=root)
    assert out.stdout.split() == ["False", "False"]


def test_motion_from_arrays_in_memory():
    """The array-level entry point: Y-up input is kept as it is with ``z_up=False``."""
    from lmm_core.io.smpl import motion_from_smpl

    poses = np.zeros((3, 66))
    poses[:, 3 * 18 + 2] = np.pi / 2  # left elbow +90 degrees about Z: the forearm turns up
    trans = np.array([[0.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 0.0, 2.0]])
    motion = motion_from_smpl(poses, trans, BODY_JOINTS, fps=30, z_up=False)
    pos = motion.global_positions()
    assert np.allclose(pos[:, 0], BODY_JOINTS[0] + trans)
    assert np.allclose(pos[0, 20], BODY_JOINTS[18] + [0.0, 0.24, 0.01])  # forearm (0.24, 0, 0.01) -> (0, 0.24, 0.01)
    with pytest.raises(LMMError, match="poses must be"):
        motion_from_smpl(np.zeros((3, 60)), trans, BODY_JOINTS, fps=30)
    with pytest.raises(LMMError, match="trans must be"):
        motion_from_smpl(poses, trans[:2], BODY_JOINTS, fps=30)
