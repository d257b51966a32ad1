"""The animator's panel in real Blender: every operator of the installed extension on rigs built here
(Rigify-style, Mixamo-style) and on a rig imported from a real BVH, with a small model made for the test.

What is checked: key frames are hit exactly and the animator's keys never move (In-between, Extend);
generated and retargeted frames exist and are finite; mirroring twice gives the action back; clean-up
brings joints inside their limits; Limit Rotation constraints equal the learned limits on the canonical
body; exports re-import with the same bones and frames; bad input is one reported sentence.
"""
from __future__ import annotations

import importlib
import json
import math
from pathlib import Path

import numpy as np
import pytest

bpy = pytest.importorskip("bpy", reason="needs the bpy module (real headless Blender): pip install bpy==5.0.1")

import blender_rigs as rigs  # noqa: E402
from mathutils import Quaternion, Vector  # noqa: E402

from lmm_core import read_bvh  # noqa: E402
from lmm_core import rotations as R  # noqa: E402
from lmm_core.model import network  # noqa: E402
from lmm_core.model.config import ModelConfig  # noqa: E402
from lmm_core.model.features import FEATURES  # noqa: E402

pytestmark = pytest.mark.blender

CFG = ModelConfig(d_model=32, layers=1, heads=2, pos_freqs=8, actions=("<unknown>", "walk", "idle"),
                  styles=("<unknown>", "normal", "happy"))
RIGS = ("rigify", "mixamo", "bvh")


# ---- a small model, written as `lmm_core.train.export.export` writes one --------------------------------


def _tiny_weights(cfg: ModelConfig, seed: int = 0) -> dict[str, np.ndarray]:
    """Random parameters with the numpy network's names and shapes (no torch needed)."""
    rng = np.random.default_rng(seed)
    d, ff, n_in = cfg.d_model, cfg.d_model * cfg.ff_mult, network.INPUT + 2 * cfg.pos_freqs
    p = {"in_w": rng.normal(0, 0.02, (n_in, d)), "in_b": np.zeros(d), "cls": rng.normal(0, 0.02, d),
         "act_emb": rng.normal(0, 0.02, (len(cfg.actions), d)), "sty_emb": rng.normal(0, 0.02, (len(cfg.styles), d))}
    for i in range(cfg.layers):
        pre = f"l{i}_"
        p.update({pre + "ln1_g": np.ones(d), pre + "ln1_b": np.zeros(d), pre + "qkv_w": rng.normal(0, 0.02, (d, 3 * d)),
                  pre + "qkv_b": np.zeros(3 * d), pre + "out_w": rng.normal(0, 0.01, (d, d)), pre + "out_b": np.zeros(d),
                  pre + "ln2_g": np.ones(d), pre + "ln2_b": np.zeros(d), pre + "ff1_w": rng.normal(0, 0.02, (d, ff)),
                  pre + "ff1_b": np.zeros(ff), pre + "ff2_w": rng.normal(0, 0.01, (ff, d)), pre + "ff2_b": np.zeros(d)})
    out = FEATURES + network.CONTACTS
    p.update({"lnf_g": np.ones(d), "lnf_b": np.zeros(d), "head_w": rng.normal(0, 0.02, (d, out)),
              "head_b": np.zeros(out), "act_w": rng.normal(0, 0.02, (d, len(cfg.actions))),
              "act_b": np.zeros(len(cfg.actions)), "sty_w": rng.normal(0, 0.02, (d, len(cfg.styles))),
              "sty_b": np.zeros(len(cfg.styles))})
    return {k: v.astype(np.float32) for k, v in p.items()}


@pytest.fixture(scope="module")
def model_file(tmp_path_factory) -> Path:
    rng = np.random.default_rng(0)
    rest = np.tile([1.0, 0.0, 0.0, 0.0], (4, 16, 22, 1)) + rng.normal(0, 0.05, (4, 16, 22, 4))
    arrays = {f"p.{k}": v for k, v in _tiny_weights(CFG).items()}
    arrays.update({
        "mean": np.zeros(FEATURES), "std": np.ones(FEATURES), "scale": np.ones(FEATURES),
        "bank_rotations": R.normalize(rest).astype(np.float16),
        "bank_root": (rng.normal(0, 0.05, (4, 16, 3)) + [0, 0.94, 0]).astype(np.float16),
        "bank_action": np.array([1, 1, 2, 2], dtype=np.int16), "bank_style": np.array([1, 2, 1, 2], dtype=np.int16),
    })
    meta = {"format": "lmm-model-1", "model_config": json.loads(CFG.to_json()), "train_config": {}, "step": 0}
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    path = tmp_path_factory.mktemp("model") / "tiny.npz"
    np.savez(path, **arrays)
    return path


# ---- the installed extension, a scene, rigs ----------------------------------------------------------


@pytest.fixture(scope="module")
def installed():
    yield rigs.installed_extension()
    bpy.ops.wm.read_factory_settings(use_empty=True)


@pytest.fixture
def addon(installed, model_file, tmp_path, monkeypatch):
    """The installed add-on's package, enabled in a fresh scene, using the test model; saved rig presets
    go to a temporary folder."""
    module = rigs.enable_extension()
    bpy.context.preferences.addons[module].preferences.model_path = str(model_file)
    mapping = importlib.import_module(f"{module}.mapping")
    monkeypatch.setattr(mapping, "user_rig_dir", lambda: tmp_path / "rigs")
    return importlib.import_module(module)


def _select(obj) -> None:
    for other in bpy.context.view_layer.objects:
        other.select_set(False)
    obj.select_set(True)
    bpy.context.view_layer.objects.active = obj


def _key_pose_frames(obj, poses: dict[int, dict[str, tuple]]) -> None:
    """Key the given poses (frame -> bone -> (rotation quaternion, location or None)) with keyframe_insert."""
    for frame, pose in poses.items():
        for name, (q, loc) in pose.items():
            pb = obj.pose.bones[name]
            if pb.rotation_mode == "QUATERNION":
                pb.rotation_quaternion = q
                pb.keyframe_insert("rotation_quaternion", frame=frame)
            else:
                pb.rotation_euler = Quaternion(q).to_euler(pb.rotation_mode)
                pb.keyframe_insert("rotation_euler", frame=frame)
            if loc is not None:
                pb.location = loc
                pb.keyframe_insert("location", frame=frame)


def _sparse_from_bvh(test_data, frames=(1, 31, 61)):
    """An armature imported from a real BVH (CMU, 31 joints) whose action keeps only ``frames``, re-keyed
    from its own evaluated pose, like an animator's blocking pass."""
    assert bpy.ops.lmm.import_bvh(filepath=str(test_data / "cmu_131_03_hop_excerpt.bvh.xz")) == {"FINISHED"}
    obj = bpy.context.active_object
    scene = bpy.context.scene
    poses = {}
    for frame in frames:
        scene.frame_set(frame)
        poses[frame] = {pb.name: (pb.rotation_quaternion.copy(), pb.location.copy() if pb.parent is None else None)
                        for pb in obj.pose.bones}
    obj.animation_data.action = None
    _key_pose_frames(obj, poses)
    return obj


def make_rig(kind: str, test_data, keyed=range(1, 41, 13)):
    """A keyed rig: Rigify-style (Euler bones), Mixamo-style (object turned and scaled 0.01) or imported
    from a real BVH; keyed on ``keyed`` frames."""
    if kind == "bvh":
        obj = _sparse_from_bvh(test_data, tuple(keyed))
    elif kind == "rigify":
        obj = rigs.make_rig(rigs.RIGIFY_STYLE, "rigify_rig", rotation_modes=rigs.RIGIFY_ROTATION_MODES)
        rigs.key_random_motion(obj, keyed, seed=3, max_angle=0.4)
    else:
        obj = rigs.make_rig(rigs.MIXAMO_STYLE, "mixamo_rig", transform=rigs.mixamo_import_transform())
        rigs.key_random_motion(obj, keyed, seed=4, max_angle=0.4)
    _select(obj)
    return obj


def _keys(obj) -> dict[tuple[str, int], np.ndarray]:
    """Every keyframe point of the rig's action: (data path, index) -> (N, 2) frames and values."""
    out = {}
    for fc in rigs.fcurves_of(obj):
        co = np.empty(2 * len(fc.keyframe_points), dtype=np.float32)
        fc.keyframe_points.foreach_get("co", co)
        out[fc.data_path, fc.array_index] = co.reshape(-1, 2)
    return out


def _points(obj, frames) -> np.ndarray:
    """World heads and tails of every bone on ``frames``, ``(T, 2, B, 3)``, read through mathutils."""
    names = [b.name for b in obj.data.bones]
    heads, tails = rigs.world_bone_points(obj, frames, names)
    return np.stack([heads, tails], axis=1)


def _size(obj) -> float:
    p = _points(obj, [bpy.context.scene.frame_current])
    return float(np.ptp(p.reshape(-1, 3), axis=0).max())


# ---- in-between and extend ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", RIGS)
def test_inbetween_hits_keys_and_keeps_the_animators_keys(addon, test_data, kind):
    obj = make_rig(kind, test_data)
    keyed = [1, 14, 27, 40]
    if kind == "rigify":  # partial keying: one bone keyed on a frame of its own
        fa = obj.pose.bones["forearm.L"]
        fa.rotation_euler = (0.3, 0.2, -0.4)
        fa.keyframe_insert("rotation_euler", frame=20)
        keyed = [1, 14, 20, 27, 40]
    before_keys = _keys(obj)
    before = _points(obj, keyed)
    scene = bpy.context.scene
    scene.frame_start, scene.frame_end = 1, 40

    assert bpy.ops.lmm.inbetween(every_frame=True) == {"FINISHED"}  # sparse keys: tests/test_addon_keys.py

    size = _size(obj)
    np.testing.assert_allclose(_points(obj, keyed), before, atol=1e-5 * size)  # keys hit exactly
    after_keys = _keys(obj)
    for channel, points in before_keys.items():  # every key of the animator is still there, unchanged
        have = after_keys[channel]
        for frame, value in points:
            match = have[np.abs(have[:, 0] - frame) < 1e-6]
            assert len(match) == 1 and abs(match[0, 1] - value) < 1e-6, (channel, frame)
    # Every frame between the keys is now keyed on the mapped bones, with finite values.
    pelvis = {"rigify": "spine", "mixamo": "mixamorig:Hips", "bvh": "Hips"}[kind]
    path = f'pose.bones["{pelvis}"].rotation_quaternion'
    frames = after_keys[path, 0][:, 0]
    assert set(range(1, 41)) <= set(np.round(frames).astype(int))
    assert all(np.isfinite(v).all() for v in after_keys.values())
    # New values continue the animator's: no Euler jumps by whole turns, no quaternion sign flips, so the
    # curves never spin the long way round between a key and its new neighbour.
    for (path, index), points in after_keys.items():
        if path.endswith("rotation_euler"):
            assert np.abs(np.diff(points[:, 1])).max() < 1.0, path
    for path in {p for p, _ in after_keys if p.endswith("rotation_quaternion")}:
        q = np.stack([after_keys[path, i][:, 1] for i in range(4)], axis=1)
        assert np.all(np.sum(q[1:] * q[:-1], axis=1) > 0), path
    # The model made poses between the keys, not copies of them; frames move smoothly (no pops).
    made = _points(obj, range(1, 41))
    assert np.abs(made[8] - made[0]).max() > 1e-3 * size
    step = np.linalg.norm(np.diff(made, axis=0), axis=-1).max(axis=(1, 2))
    assert step.max() < 0.5 * size


def test_inbetween_custom_range_and_a_bone_never_keyed(addon, test_data):
    obj = make_rig("rigify", test_data, keyed=(1, 10, 20, 30))
    fcurves = rigs.fcurves_of(obj)
    for fc in [fc for fc in fcurves if fc.data_path.startswith('pose.bones["spine.001"]')]:
        fcurves.remove(fc)  # spine.001: no keys at all
    obj.pose.bones["spine.001"].rotation_quaternion = Quaternion((0, 0, 1), 0.3)  # posed, never keyed
    before, posed = _keys(obj), _points(obj, [10, 20])
    assert not any(p.startswith('pose.bones["spine.001"]') for p, _ in before)
    assert bpy.ops.lmm.inbetween(use_range=True, frame_start=10, frame_end=20, every_frame=True) == {"FINISHED"}
    after = _keys(obj)
    frames = np.round(after['pose.bones["spine"].rotation_quaternion', 0][:, 0]).astype(int)
    assert sorted(frames) == [1, *range(10, 21), 30]  # nothing outside the range
    assert all(len(after[c]) >= len(before[c]) for c in before)
    # The unkeyed bone got keys on the key frames with the pose it had, and new ones between.
    frames = np.round(after['pose.bones["spine.001"].rotation_quaternion', 0][:, 0]).astype(int)
    assert sorted(frames) == list(range(10, 21))
    np.testing.assert_allclose(_points(obj, [10, 20]), posed, atol=1e-5 * _size(obj))


def test_extend_adds_frames_after_the_last_key(addon, test_data):
    obj = make_rig("mixamo", test_data, keyed=(1, 15, 30))
    last = _points(obj, [30])
    assert bpy.ops.lmm.extend(frames=20, every_frame=True) == {"FINISHED"}
    keys = _keys(obj)
    frames = np.round(keys['pose.bones["mixamorig:Hips"].location', 0][:, 0]).astype(int)
    assert sorted(frames) == [1, 15, *range(30, 51)]
    np.testing.assert_allclose(_points(obj, [30]), last, atol=1e-5 * _size(obj))
    new = _points(obj, range(31, 51))
    assert np.isfinite(new).all() and np.abs(new[-1] - last[0]).max() > 0


# ---- generate ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ("rigify", "mixamo"))
def test_generate_makes_a_new_finite_action(addon, test_data, kind):
    obj = make_rig(kind, test_data)
    old = obj.animation_data.action
    scene = bpy.context.scene
    scene.render.fps = 24
    assert bpy.ops.lmm.generate(action="walk", style="happy", seconds=2.0, seed=1) == {"FINISHED"}
    action = obj.animation_data.action
    assert action is not old and action.name.startswith("walk_happy")
    assert old.use_fake_user  # the animator's action is kept in the file
    assert (scene.frame_start, scene.frame_end) == (1, 250)  # left as it was: Fit Scene Range is off
    points = _points(obj, range(1, 49))
    assert np.isfinite(points).all()
    assert np.abs(np.diff(points, axis=0)).max() > 0  # it moves
    keys = _keys(obj)
    assert all(len(v) == 48 for v in keys.values())
    # Another seed, another take.
    first = points.copy()
    assert bpy.ops.lmm.generate(action="walk", style="happy", seconds=2.0, seed=2) == {"FINISHED"}
    assert np.abs(_points(obj, range(1, 49)) - first).max() > 1e-3 * _size(obj)
    # The Preferences model's recorded segments, on request: another motion again.
    assert bpy.ops.lmm.generate(action="walk", style="happy", seconds=2.0, method="SEGMENTS") == {"FINISHED"}
    assert np.isfinite(_points(obj, range(1, 49))).all()
    assert np.abs(_points(obj, range(1, 49)) - first).max() > 1e-3 * _size(obj)


def test_generate_lists_the_models_actions_and_styles(addon):
    """The lists follow the Method: the shipped next-frame generator's actions (and the styles it was
    trained on for the chosen one), or with Segments the Preferences model's."""
    settings = bpy.context.scene.lmm
    assert settings.generate_method == "NEXT_FRAME"  # the default
    actions = [i[0] for i in addon.properties.action_items(settings, bpy.context)]
    assert {"walk", "run", "idle", "dance", "jump", "wave-right-hand"} <= set(actions)
    settings.action = "idle"
    assert [i[0] for i in addon.properties.style_items(settings, bpy.context)] == ["ANY", "acted", "genuine"]
    assert settings.variation == 1.0  # the generator's own
    settings.generate_method = "SEGMENTS"
    assert [i[0] for i in addon.properties.action_items(settings, bpy.context)] == ["walk", "idle"]
    assert [i[0] for i in addon.properties.style_items(settings, bpy.context)] == ["ANY", "normal", "happy"]
    # The chosen action is kept by name though the list changed (items are numbered from their names), and the
    # Variation becomes the method's own.
    assert settings.action == "idle" and settings.variation == 0.5
    settings.action, settings.style = "walk", "happy"
    assert (settings.action, settings.style) == ("walk", "happy")
    settings.variation = 0.3  # the user's: kept on the way back
    settings.generate_method = "NEXT_FRAME"
    assert (settings.action, settings.style) == ("walk", "happy") and abs(settings.variation - 0.3) < 1e-6
    settings.variation = 1.0


# ---- retarget and the bone map list ---------------------------------------------------------------------


def test_retarget_from_an_armature_and_from_a_bvh_file(addon, test_data):
    scene = bpy.context.scene
    assert bpy.ops.lmm.import_bvh(filepath=str(test_data / "cmu_131_03_hop_excerpt.bvh.xz")) == {"FINISHED"}
    source = bpy.context.active_object
    source_motion = read_bvh(test_data / "cmu_131_03_hop_excerpt.bvh.xz")
    target = make_rig("rigify", test_data)
    assert bpy.ops.lmm.retarget(source=source.name) == {"FINISHED"}
    action = target.animation_data.action
    assert action.name.startswith(source.name)
    n = source_motion.num_frames
    assert (scene.frame_start, scene.frame_end) == (1, n)
    heads, _ = rigs.world_bone_points(target, range(1, n + 1, 7), ["spine.006", "foot.L", "foot.R", "spine"])
    assert np.isfinite(heads).all()
    assert np.all(heads[:, 0, 2] > heads[:, 1:3, 2].max(axis=1) + 0.8)  # the head stays well above the feet
    # The hop: the source's pelvis rises and falls; the target's follows, scaled to its size.
    src, _ = rigs.world_bone_points(source, range(1, n + 1, 7), ["Hips"])
    rise_src = np.ptp(src[:, 0, 2]) / src[0, 0, 2]
    rise_tgt = np.ptp(heads[:, 3, 2]) / heads[0, 3, 2]
    assert rise_src > 0.05 and abs(rise_tgt - rise_src) < 0.35 * rise_src

    mixamo = make_rig("mixamo", test_data)
    path = test_data / "cmu_131_03_hop_excerpt.bvh.xz"
    assert bpy.ops.lmm.retarget(filepath=str(path), root_motion="in_place") == {"FINISHED"}
    heads, _ = rigs.world_bone_points(mixamo, range(1, n + 1, 7), ["mixamorig:Hips"])
    assert np.isfinite(heads).all() and np.ptp(heads[:, 0, :2], axis=0).max() < 1e-4  # in place


def test_retarget_from_an_fbx_file_leaves_the_scene_as_it_was(addon, test_data, tmp_path):
    source = make_rig("bvh", test_data, keyed=(1, 60, 120, 180, 240))  # CMU: stands, then crouches to hop
    fbx = tmp_path / "clip.fbx"
    assert bpy.ops.lmm.export_engine(preset="unity", filepath=str(fbx)) == {"FINISHED"}
    target = make_rig("mixamo", test_data)
    scene = bpy.context.scene
    scene.frame_start, scene.frame_end = 1, 10
    scene.frame_set(1)  # the clip starts on the current frame
    counts = {k: len(getattr(bpy.data, k)) for k in ("objects", "armatures", "actions", "meshes")}
    assert bpy.ops.lmm.retarget(filepath=str(fbx), fit_scene=False) == {"FINISHED"}
    assert {k: len(getattr(bpy.data, k)) for k in counts} == {**counts, "actions": counts["actions"] + 1}
    assert (scene.frame_start, scene.frame_end, scene.frame_current) == (1, 10, 1)
    assert bpy.context.active_object is target
    action = target.animation_data.action
    assert tuple(round(f) for f in action.frame_range) == (1, 240)
    # The retargeted head goes down and up with the source's, within proportions.
    src, _ = rigs.world_bone_points(source, range(1, 241, 12), ["Head"])
    tgt, _ = rigs.world_bone_points(target, range(1, 241, 12), ["mixamorig:Head"])
    assert np.isfinite(tgt).all()
    assert np.ptp(src[:, 0, 2]) > 0.1 and np.corrcoef(src[:, 0, 2], tgt[:, 0, 2])[0, 1] > 0.9


def test_bone_map_list_is_used_edited_and_saved(addon, test_data, tmp_path):
    from lmm_core.bonemap import load_bone_map

    assert bpy.ops.lmm.import_bvh(filepath=str(test_data / "cmu_131_03_hop_excerpt.bvh.xz")) == {"FINISHED"}
    source = bpy.context.active_object
    target = make_rig("rigify", test_data)
    assert bpy.ops.lmm.map_detect(preset="AUTO") == {"FINISHED"}
    rows = {r.joint: r for r in target.lmm_map.rows}
    assert len(rows) == 22 and rows["left_shoulder"].bone == "upper_arm.L" and rows["left_toe"].bone == ""
    assert bpy.ops.lmm.retarget(source=source.name) == {"FINISHED"}
    straight = _points(target, range(1, 60, 10))

    # Swap the arms in the list: the retargeted arms swap too, so the list is what is used.
    rows["left_shoulder"].bone, rows["right_shoulder"].bone = "upper_arm.R", "upper_arm.L"
    rows["left_elbow"].bone, rows["right_elbow"].bone = "forearm.R", "forearm.L"
    _select(target)
    assert bpy.ops.lmm.retarget(source=source.name) == {"FINISHED"}
    assert np.abs(_points(target, range(1, 60, 10)) - straight).max() > 0.05

    # Save the fixed list as a preset; it reads back as the same map, and Detect offers it.
    rows["neck"].bone = ""  # merged into the nearest spine joint
    assert bpy.ops.lmm.map_save(name="my rig") == {"FINISHED"}
    saved = tmp_path / "rigs" / "my_rig.toml"
    loaded = load_bone_map(saved)
    assert loaded.bones["left_shoulder"] == "upper_arm.R" and "neck" in loaded.merged
    assert dict(loaded.bones) == {r.joint: r.bone for r in target.lmm_map.rows if r.bone}
    assert "user:my_rig" in [i[0] for i in addon.mapping.preset_items()]
    assert bpy.ops.lmm.map_detect(preset="user:my_rig") == {"FINISHED"}
    assert {r.joint: r.bone for r in target.lmm_map.rows}["left_shoulder"] == "upper_arm.R"


# ---- mirror ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", RIGS)
def test_mirror_twice_gives_the_action_back(addon, test_data, kind):
    obj = make_rig(kind, test_data, keyed=(1, 12, 24))
    original = obj.animation_data.action
    frames = range(1, 25)
    before = _points(obj, frames)
    assert bpy.ops.lmm.mirror() == {"FINISHED"}
    once = obj.animation_data.action
    assert once is not original and original.use_fake_user
    mirrored = _points(obj, frames)
    size = _size(obj)
    assert np.abs(mirrored - before).max() > 1e-2 * size
    # A reflection keeps distances: left hand to head now is right hand to head before.
    names = [b.name for b in obj.data.bones]
    left, right, head = {"rigify": ("forearm.L", "forearm.R", "spine.006"),
                         "mixamo": ("mixamorig:LeftForeArm", "mixamorig:RightForeArm", "mixamorig:Head"),
                         "bvh": ("LeftElbow", "RightElbow", "Head")}[kind]
    li, ri, hi = names.index(left), names.index(right), names.index(head)
    d_before = np.linalg.norm(before[:, 1, ri] - before[:, 0, hi], axis=-1)
    d_after = np.linalg.norm(mirrored[:, 1, li] - mirrored[:, 0, hi], axis=-1)
    tolerance = 1e-5 if kind != "bvh" else 0.03  # CMU's rig is 4 % asymmetric: distances differ by that
    np.testing.assert_allclose(d_after, d_before, atol=tolerance * size)
    assert bpy.ops.lmm.mirror() == {"FINISHED"}
    np.testing.assert_allclose(_points(obj, frames), before, atol=1e-5 * size)


def test_mirror_a_frame_range(addon, test_data):
    obj = make_rig("rigify", test_data, keyed=(1, 12, 24))
    assert bpy.ops.lmm.mirror(use_range=True, frame_start=5, frame_end=15) == {"FINISHED"}
    action = obj.animation_data.action
    assert tuple(round(f) for f in action.frame_range) == (5, 15)


# ---- clean up ---------------------------------------------------------------------------------------


def _canonical_excess(obj) -> np.ndarray:
    """How far (radians) each joint of the rig's action is past the learned limits, ``(T, 22)``, measured on
    the canonical body."""
    from lmm_core import canonical
    from lmm_core.bonemap import bone_map_for
    from lmm_core.cleanup import JointLimits
    from lmm_core.retarget import retarget

    bridge = importlib.import_module(f"{_module()}.bridge")
    motion = bridge.motion_from_armature(obj)
    canon = retarget(motion, bone_map_for(motion.skeleton), canonical.canonical_skeleton(),
                     bone_map_for(canonical.canonical_skeleton(), "canonical"), fix_feet=False)
    return JointLimits.load().excess(canon)


def _module() -> str:
    return next(m for m in bpy.context.preferences.addons.keys() if m.startswith("bl_ext.") and m.endswith(".lmm"))


def test_clean_up_brings_joints_inside_their_limits(addon, test_data):
    obj = make_rig("bvh", test_data, keyed=range(1, 61, 3))
    # Bend a knee backwards on two frames: far outside any human limit.
    knee = obj.pose.bones["LeftKnee"]
    for frame in (10, 31):
        bpy.context.scene.frame_set(frame)
        knee.rotation_quaternion = Quaternion((1, 0, 0), math.radians(-100)) @ knee.rotation_quaternion
        knee.keyframe_insert("rotation_quaternion", frame=frame)
    before = _canonical_excess(obj)
    original = obj.animation_data.action
    assert bpy.ops.lmm.clean_up(lock_feet=False) == {"FINISHED"}
    assert obj.animation_data.action is not original and obj.animation_data.action.name.endswith(".clean")
    assert original.use_fake_user
    after = _canonical_excess(obj)
    assert before.max() > math.radians(40) and (before > 1e-3).sum() > 100
    # Within 3 degrees: the clamp now also turns the children of a clamped torso joint (the CMU rig's back is
    # past spine1's limit on most frames), and that change, carried onto the Blender rig through the canonical
    # body and read back, leaves one shoulder 1.8 degrees past on one frame (2026-12-07; on the BVH's own rig in
    # Python, ``clean_up_rig``, 0); with the limits refitted on the Character Creator takes too, the left
    # collar 2.7. A second clamping pass on the rig leaves it 2.7: the rig's merged back shares the chest's
    # turn otherwise than the canonical body, so that collar's share is not the rig's to change.
    assert after.max() < math.radians(3), (np.unravel_index(after.argmax(), after.shape), np.degrees(after.max(axis=0)))


def test_clean_up_locks_sliding_feet(addon, test_data):
    """The character stands (CMU, first frames) while its hips drift 12 cm: both feet slide. Locked, they
    stay where they landed."""
    obj = make_rig("bvh", test_data, keyed=(1, 40))
    hips = obj.pose.bones["Hips"]
    bpy.context.scene.frame_set(40)
    hips.location = hips.location + Vector((0.12, 0.0, 0.0))  # bone space: sideways, metres
    hips.keyframe_insert("location", frame=40)
    feet = ["LeftAnkle", "RightAnkle"]
    before, _ = rigs.world_bone_points(obj, range(1, 41), feet)
    assert bpy.ops.lmm.clean_up(clamp_limits=False) == {"FINISHED"}
    after, _ = rigs.world_bone_points(obj, range(1, 41), feet)
    slide_before = np.ptp(before[..., :2], axis=0).max()
    slide_after = np.ptp(after[..., :2], axis=0).max()
    assert slide_before > 0.05 and slide_after < 0.3 * slide_before


def test_limit_rotation_constraints_match_the_learned_limits(addon):
    """On the canonical body the constraints must be exactly the limits' Euler boxes."""
    from lmm_core import canonical
    from lmm_core.cleanup import JointLimits
    from lmm_core.motion import Motion

    bridge = importlib.import_module(f"{_module()}.bridge")
    sk = canonical.canonical_skeleton()
    still = Motion(sk, np.tile([1.0, 0, 0, 0], (3, sk.num_joints, 1)), np.tile([0, 0.94, 0], (3, 1)), 30.0)
    obj = bridge.armature_from_motion(still, name="canonical")
    _select(obj)
    assert bpy.ops.lmm.clean_up(lock_feet=False, clamp_limits=False, add_constraints=True) == {"FINISHED"}
    expected = JointLimits.load().euler_limits()
    count = 0
    for joint, limit in zip(canonical.JOINT_NAMES, expected):
        con = obj.pose.bones[joint].constraints.get("LMM Limit Rotation")
        if limit is None:
            assert con is None
            continue
        count += 1
        assert con.owner_space == "LOCAL" and con.euler_order == limit.order
        for i, axis in enumerate("xyz"):
            assert getattr(con, f"use_limit_{axis}") == limit.use[i]
            if limit.use[i]:
                assert abs(getattr(con, f"min_{axis}") - limit.min[i]) < 1e-5
                assert abs(getattr(con, f"max_{axis}") - limit.max[i]) < 1e-5
    assert count == 21


def test_limit_rotation_constraints_on_a_user_rig(addon, test_data):
    obj = make_rig("rigify", test_data)
    assert bpy.ops.lmm.clean_up(lock_feet=False, clamp_limits=False, add_constraints=True) == {"FINISHED"}
    constrained = [pb.name for pb in obj.pose.bones if pb.constraints.get("LMM Limit Rotation")]
    assert {"thigh.L", "shin.L", "forearm.R"} <= set(constrained)
    # Run again: the constraints are replaced, not stacked.
    assert bpy.ops.lmm.clean_up(lock_feet=False, clamp_limits=False, add_constraints=True) == {"FINISHED"}
    assert all(len(obj.pose.bones[n].constraints) == 1 for n in constrained)


# ---- export -----------------------------------------------------------------------------------------


def _skin(obj) -> None:
    """A small mesh skinned to every bone (engines export characters, and glTF needs a skin for bones)."""
    mesh = bpy.data.meshes.new("body")
    verts, faces = [], []
    for i, b in enumerate(obj.data.bones):  # a small triangle at every bone's head
        head = obj.matrix_world @ b.head_local
        verts += [tuple(head), tuple(head + Vector((0.02, 0, 0))), tuple(head + Vector((0, 0, 0.02)))]
        faces.append((3 * i, 3 * i + 1, 3 * i + 2))
    mesh.from_pydata(verts, [], faces)
    body = bpy.data.objects.new("body", mesh)
    bpy.context.scene.collection.objects.link(body)
    body.parent = obj
    body.matrix_parent_inverse = obj.matrix_world.inverted()
    for i, b in enumerate(obj.data.bones):
        body.vertex_groups.new(name=b.name).add([3 * i, 3 * i + 1, 3 * i + 2], 1.0, "REPLACE")
    body.modifiers.new("Armature", "ARMATURE").object = obj


@pytest.mark.parametrize("preset", ("unity", "unreal", "godot", "bvh"))
def test_export_reimports_with_the_same_bones_and_frames(addon, test_data, tmp_path, preset):
    obj = make_rig("bvh", test_data, keyed=(1, 20, 40))
    _skin(obj)
    _select(obj)
    bones = len(obj.data.bones)
    ext = {"unity": ".fbx", "unreal": ".fbx", "godot": ".glb", "bvh": ".bvh"}[preset]
    out = tmp_path / f"clip{ext}"
    assert bpy.ops.lmm.export_engine(preset=preset, filepath=str(out)) == {"FINISHED"}
    assert out.is_file() and not list(tmp_path.glob(".*tmp*"))
    names = set(bpy.data.objects.keys())
    if preset == "bvh":
        back = read_bvh(out)
        assert (back.skeleton.num_joints, back.num_frames, back.skeleton.units) == (bones, 40, "cm")
        return
    if ext == ".fbx":
        assert bpy.ops.import_scene.fbx(filepath=str(out)) == {"FINISHED"}
    else:
        assert bpy.ops.import_scene.gltf(filepath=str(out)) == {"FINISHED"}
    new = [bpy.data.objects[n] for n in set(bpy.data.objects.keys()) - names]
    armatures = [o for o in new if o.type == "ARMATURE"]
    assert len(armatures) == 1
    back = armatures[0]
    assert len(back.data.bones) == bones
    start, end = back.animation_data.action.frame_range
    assert round(end - start) + 1 == 40


# ---- bad input ----------------------------------------------------------------------------------------


def _bad(case: str, test_data, tmp_path):
    """Set up ``case`` and return the call that must fail."""
    ops = bpy.ops.lmm
    if case == "nothing_selected":
        return lambda: ops.inbetween()
    if case == "one_key":
        make_rig("rigify", test_data, keyed=(5,))
        return lambda: ops.inbetween()
    if case == "no_gap":
        make_rig("rigify", test_data, keyed=(5, 6))
        return lambda: ops.inbetween()
    if case == "no_keys_to_extend":
        obj = rigs.make_rig(rigs.RIGIFY_STYLE, "bare")
        _select(obj)
        return lambda: ops.extend()
    if case == "no_model":
        make_rig("rigify", test_data)
        bpy.context.preferences.addons[_module()].preferences.model_path = str(tmp_path / "missing.npz")
        return lambda: ops.generate(action="walk", method="SEGMENTS")  # Next Frame needs no Model File
    if case == "unknown_action":
        make_rig("rigify", test_data)
        return lambda: ops.generate(action="fly")
    if case == "unmappable_rig":
        spec = [("a", None, (0, 0, 0), (0, 0, 1), 0, False), ("b", "a", (0, 0, 1), (0, 0, 2), 0, True)]
        obj = rigs.make_rig(spec, "stick")
        rigs.key_random_motion(obj, (1, 10), seed=0)
        _select(obj)
        return lambda: ops.inbetween()
    if case == "retarget_no_source":
        make_rig("rigify", test_data)
        return lambda: ops.retarget()
    if case == "save_without_map":
        make_rig("rigify", test_data)
        return lambda: ops.map_save(name="x")
    if case == "export_missing_folder":
        make_rig("rigify", test_data)
        return lambda: ops.export_engine(preset="unity", filepath=str(tmp_path / "no" / "such" / "clip.fbx"))
    raise AssertionError(case)


@pytest.mark.parametrize(
    "case, expected",
    [
        ("nothing_selected", "no armature selected"),
        ("one_key", "at least two keyed frames"),
        ("no_gap", "nothing to fill"),
        ("no_keys_to_extend", "has no keys to extend"),
        ("no_model", "not found"),
        ("unknown_action", "unknown action 'fly'"),
        ("unmappable_rig", "stick"),
        ("retarget_no_source", "pick the armature"),
        ("save_without_map", "press Detect"),
        ("export_missing_folder", "does not exist"),
    ],
)
def test_bad_input_is_reported_in_one_sentence(addon, test_data, tmp_path, case, expected):
    call = _bad(case, test_data, tmp_path)
    actions = len(bpy.data.actions)
    with pytest.raises(RuntimeError) as info:
        call()
    message = str(info.value).strip()
    assert expected in message and "Traceback" not in message and "\n" not in message
    assert len(bpy.data.actions) == actions  # nothing half-made


def test_every_operator_can_be_undone_and_is_registered(addon):
    for name in ("inbetween", "extend", "generate", "map_detect", "map_save", "retarget", "mirror", "clean_up",
                 "export_engine"):
        op = getattr(bpy.types, f"LMM_OT_{name}")
        assert {"REGISTER", "UNDO"} <= op.bl_options
    panels = [c for c in dir(bpy.types) if c.startswith("VIEW3D_PT_lmm")]
    assert len(panels) == 7 and all(getattr(bpy.types, p).bl_category == "LMM" for p in panels)


class _Layout:
    """A stand-in for ``UILayout`` (drawing needs a window): records calls, checks that every property shown
    exists and that buttons only set properties their operator has."""

    def __init__(self, calls: list):
        self.calls = calls

    def __getattr__(self, name):
        def method(*args, **kwargs):
            self.calls.append(name)
            if name == "operator":
                return _OperatorButton(args[0])
            if name in ("prop", "prop_search"):
                data, prop = args[0], args[1]
                assert prop in data.bl_rna.properties, prop
            if name == "template_list":
                assert args[0] in dir(bpy.types), args[0]
            return _Layout(self.calls) if name in ("row", "column", "box", "split") else None

        return method


class _OperatorButton:
    def __init__(self, idname: str):
        object.__setattr__(self, "props", getattr(bpy.ops.lmm, idname.split(".")[1]).get_rna_type().properties)

    def __setattr__(self, name, value):
        assert name in self.props, name


def test_panels_draw_with_and_without_an_armature(addon, test_data):
    panels = [getattr(bpy.types, p) for p in dir(bpy.types) if p.startswith("VIEW3D_PT_lmm")]
    for with_rig in (False, True):
        if with_rig:
            obj = make_rig("rigify", test_data)
            assert bpy.ops.lmm.map_detect() == {"FINISHED"}  # the bone map list shows too
        for panel in panels:
            calls: list = []
            panel.draw(type("Panel", (), {"layout": _Layout(calls)})(), bpy.context)
            assert calls
    assert len(obj.lmm_map.rows) == 22
