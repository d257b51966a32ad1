"""The built-in mannequin: a closed, skinned mesh on the canonical body that deforms with it, in numpy and
in real Blender (vertex groups + Armature modifier, checked against Blender's own evaluated mesh)."""
from __future__ import annotations

import numpy as np
import pytest

from lmm_core import canonical as cn
from lmm_core import read_bvh
from lmm_core import rotations as R
from lmm_core.mannequin import PARTS, mannequin, rig_mesh, skin


@pytest.fixture(scope="module")
def body():
    return mannequin()


def test_every_vertex_is_weighted_and_weights_sum_to_one(body):
    v, w = body.vertices, body.weights
    assert v.shape[1] == 3 and w.shape == (len(v), cn.NUM_JOINTS) and body.bone_names == cn.JOINT_NAMES
    assert np.all(w >= 0) and np.allclose(w.sum(axis=1), 1.0, atol=1e-9)
    assert np.all(w.max(axis=1) >= 0.5)  # every vertex belongs mostly to one or two bones
    used = np.unique(np.concatenate([list(f) for f in body.faces]))
    assert len(used) == len(v)  # no stray vertex
    assert set(np.unique(body.face_parts)) == {0, 1, 2} and len(body.face_parts) == len(body.faces)


def test_it_is_a_person_standing_on_the_floor(body):
    v = body.vertices
    assert -0.02 < v[:, 1].min() < 0.02 and abs(v[:, 1].max() - cn.HEIGHT) < 0.03
    span = np.ptp(v[:, 0])  # arms out in the T-pose
    assert 1.5 < span < 1.8 and np.allclose(v[:, 0].mean(), 0.0, atol=1e-9)
    # Closed surface: every edge is shared by exactly two faces, each way round once (outward normals).
    edges: dict[tuple[int, int], int] = {}
    for f in body.faces:
        for a, b in zip(f, f[1:] + f[:1]):
            edges[(a, b)] = edges.get((a, b), 0) + 1
    assert all(n == 1 for n in edges.values()) and all((b, a) in edges for a, b in edges)


def test_it_deforms_with_the_skeleton(body):
    sk = cn.canonical_skeleton()
    rest = np.tile([1.0, 0.0, 0.0, 0.0], (cn.NUM_JOINTS, 1))
    assert np.allclose(skin(body, sk, rest, sk.offsets[0]), body.vertices, atol=1e-12)
    bent = rest.copy()
    knee = cn.JOINT_INDEX["left_knee"]
    bent[knee] = R.from_axis_angle(np.array([1.0, 0.0, 0.0]), np.radians(90.0))
    posed = skin(body, sk, bent, sk.offsets[0])
    moved = np.linalg.norm(posed - body.vertices, axis=1)
    shin = body.weights[:, knee] > 0.99
    others = body.weights[:, [cn.JOINT_INDEX[n] for n in ("left_knee", "left_ankle", "left_toe")]].sum(axis=1) < 1e-9
    assert shin.sum() >= 24 and np.all(moved[shin] > 0.01) and np.all(moved[others] < 1e-12)
    # The shin turns rigidly about the knee joint.
    pos = cn.rest_positions()
    r = R.mul_vec(bent[knee], body.vertices[shin] - pos[knee]) + pos[knee]
    assert np.allclose(posed[shin], r, atol=1e-9)
    # The knee blends thigh and shin: bent 90 degrees, the skin around the joint keeps most of its
    # thickness (linear blending at 50/50 keeps cos 45 = 0.71 of it at worst), it neither collapses nor bulges.
    hip = cn.JOINT_INDEX["left_hip"]
    ring = (body.weights[:, knee] > 0.3) & (body.weights[:, hip] > 0.3)
    before = np.linalg.norm(body.vertices[ring] - pos[knee], axis=1)
    after = np.linalg.norm(posed[ring] - pos[knee], axis=1)
    assert ring.sum() >= 12 and np.all(moved[ring] > 0)
    assert 0.65 < (after / before).min() and (after / before).max() < 1.05


def test_rig_mesh_dresses_any_skeleton(test_data):
    sk = read_bvh(test_data / "cmu_131_03_hop_excerpt.bvh.xz").skeleton
    mesh = rig_mesh(sk)
    assert mesh.weights.shape == (len(mesh.vertices), sk.num_joints)
    assert np.allclose(mesh.weights.sum(axis=1), 1.0) and np.all(mesh.weights.max(axis=1) == 1.0)
    left = {a for a, _ in sk.pairs}
    assert PARTS[1] == "left" and set(np.unique(mesh.face_parts)) == {0, 1, 2} and left


@pytest.mark.blender
def test_the_blender_mannequin_is_skinned_and_follows_its_armature(body):
    bpy = pytest.importorskip("bpy", reason="needs the bpy module (real headless Blender)")
    from addon import bridge
    from addon.mannequin import add_mannequin

    bpy.ops.wm.read_factory_settings(use_empty=True)
    armature, mesh_obj = add_mannequin("M")
    mesh = mesh_obj.data
    assert mesh_obj.parent is armature and mesh_obj.modifiers["Armature"].object is armature
    assert len(mesh.vertices) == len(body.vertices) and len(mesh.polygons) == len(body.faces)
    groups = {g.index: g.name for g in mesh_obj.vertex_groups}
    assert set(groups.values()) <= {b.name for b in armature.data.bones}
    weights = np.zeros((len(mesh.vertices), cn.NUM_JOINTS))
    for v in mesh.vertices:
        assert len(v.groups) >= 1  # every vertex weighted
        for g in v.groups:
            weights[v.index, cn.JOINT_INDEX[groups[g.group]]] = g.weight
    assert np.allclose(weights.sum(axis=1), 1.0, atol=1e-5)
    # Pose it with a motion through the bridge; Blender's deformed mesh is numpy's skinning, Z up.
    sk = cn.canonical_skeleton()
    rot = np.tile([1.0, 0.0, 0.0, 0.0], (2, cn.NUM_JOINTS, 1))
    rot[1, cn.JOINT_INDEX["left_knee"]] = R.from_axis_angle(np.array([1.0, 0.0, 0.0]), np.radians(80.0))
    rot[1, cn.JOINT_INDEX["right_shoulder"]] = R.from_axis_angle(np.array([0.0, 0.0, 1.0]), np.radians(-60.0))
    rot[1, 0] = R.from_axis_angle(np.array([0.0, 1.0, 0.0]), np.radians(30.0))
    root = np.array([sk.offsets[0], sk.offsets[0] + [0.3, -0.1, 0.5]])
    from lmm_core import Motion

    motion = Motion(sk, rot, root, 30.0)
    bridge.write_action(armature, motion, scale=1.0, frame_start=1)
    bpy.context.scene.frame_set(2)
    evaluated = mesh_obj.evaluated_get(bpy.context.evaluated_depsgraph_get()).to_mesh()
    got = np.array([mesh_obj.matrix_world @ v.co for v in evaluated.vertices])
    mesh_obj.to_mesh_clear()
    expected = skin(body, sk, rot[1], root[1])
    expected = np.stack([expected[:, 0], -expected[:, 2], expected[:, 1]], axis=1)  # Y up -> Blender's Z up
    assert np.abs(got - expected).max() < 1e-4
    assert np.abs(got - np.array([v.co for v in mesh.vertices])).max() > 0.3  # it really moved
