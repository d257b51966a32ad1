"""The smaller fixes of issue 20, each in real Blender with the installed extension: an action held only in the
NLA, exporting an action with no keys, the Godot preset given another format's extension, the style list
("Any", and only the styles the model holds the action in), the bone map's own panel, each panel's own
frame range, and BVH units guessed from the legs on a floor-heavy LAFAN1 clip."""
from __future__ import annotations

import importlib

import numpy as np
import pytest

bpy = pytest.importorskip("bpy", reason="needs the bpy module (real headless Blender): pip install bpy==5.0.1")

import blender_rigs as rigs  # noqa: E402

pytestmark = pytest.mark.blender

KEYED = (1, 14, 27, 40)


@pytest.fixture(scope="module")
def installed():
    yield rigs.installed_extension()
    bpy.ops.wm.read_factory_settings(use_empty=True)


@pytest.fixture
def addon(installed):
    """The installed add-on's package in a fresh scene, with the shipped model."""
    return importlib.import_module(rigs.enable_extension())


def _module(addon, name: str):
    return importlib.import_module(f"{addon.__name__}.{name}")


def _select(obj) -> None:
    for other in bpy.context.view_layer.objects:
        other.select_set(False)
    obj.select_set(True)
    bpy.context.view_layer.objects.active = obj


def _keyed_rig(name: str = "rig"):
    obj = rigs.make_rig(rigs.RIGIFY_STYLE, name, rotation_modes=rigs.RIGIFY_ROTATION_MODES)
    rigs.key_random_motion(obj, KEYED, seed=3, max_angle=0.4)
    _select(obj)
    return obj


def _key_span(obj) -> tuple[int, int]:
    frames = [p.co[0] for fc in rigs.fcurves_of(obj) for p in fc.keyframe_points]
    return round(min(frames)), round(max(frames))


# ---- an action held only in an NLA strip ------------------------------------------------------------------


def test_an_action_held_only_in_an_nla_strip_is_read_from_the_strip(addon):
    obj = _keyed_rig()
    anim = obj.animation_data
    action = anim.action
    strip = anim.nla_tracks.new().strips.new(action.name, 101, action)  # "Push Down", then moved and slowed
    strip.scale = 2.0
    anim.action = None
    bridge = _module(addon, "bridge")
    scene = bpy.context.scene
    # Keys play at 101 + 2 * (frame - 1); the strip ends at 101 + 2 * 39.
    np.testing.assert_array_equal(bridge.keyed_frames(obj), [101, 127, 153, 179])
    np.testing.assert_array_equal(bridge.keyed_frames(obj, ["spine"], (120, 160)), [127, 153])
    assert bridge.action_frames(obj, scene) == (101, 179)
    # In-between and Extend key the rig's own action, which the strip's frames do not line up with: refused
    # with the way out, nothing written.
    points = sum(len(fc.keyframe_points) for fc in rigs.fcurves_of(action))
    for op in (lambda: bpy.ops.lmm.inbetween(), lambda: bpy.ops.lmm.extend()):
        with pytest.raises(RuntimeError, match="press Tab in the NLA editor"):
            op()
        assert anim.action is None and sum(len(fc.keyframe_points) for fc in rigs.fcurves_of(action)) == points
    # Mirror reads the frames the strip plays (it read the scene's 1-250 before).
    assert bpy.ops.lmm.mirror() == {"FINISHED"}
    assert _key_span(obj) == (101, 179)
    # A muted track holds nothing that plays.
    anim.action = None
    anim.nla_tracks[0].mute = True
    assert len(bridge.keyed_frames(obj)) == 0 and bridge.action_frames(obj, scene) == (scene.frame_start, scene.frame_end)


# ---- exports -------------------------------------------------------------------------------------------


def test_exporting_an_action_with_no_keys_is_refused(addon, tmp_path):
    obj = rigs.make_rig(rigs.RIGIFY_STYLE, "keyless")
    _select(obj)
    obj.animation_data_create().action = bpy.data.actions.new("empty")
    calls = {
        "a.fbx": lambda p: bpy.ops.lmm.export_engine(preset="unity", filepath=p),
        "a.glb": lambda p: bpy.ops.lmm.export_engine(preset="godot", filepath=p),
        "a.bvh": lambda p: bpy.ops.lmm.export_bvh(filepath=p),
    }
    for name, call in calls.items():
        with pytest.raises(RuntimeError, match="'empty' of 'keyless' has no keys") as info:
            call(str(tmp_path / name))
        assert "\n" not in str(info.value).strip()
    assert list(tmp_path.iterdir()) == []  # nothing written, not even a one-frame clip
    # The scene's range can still be exported as BVH: it says which frames.
    assert bpy.ops.lmm.export_bvh(filepath=str(tmp_path / "a.bvh"), frame_range="SCENE") == {"FINISHED"}


def test_the_godot_preset_replaces_another_formats_extension(addon, tmp_path):
    _keyed_rig()
    assert bpy.ops.lmm.export_engine(preset="godot", filepath=str(tmp_path / "x.fbx")) == {"FINISHED"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.glb"]
    export = _module(addon, "engine_export")
    presets = export.presets()
    cases = [("take.01", "godot", "take.01.glb"), ("x.GLB", "godot", "x.GLB"), ("x.glb", "unity", "x.fbx"),
             ("x.gltf", "godot", "x.glb"), ("dir/x.bvh", "unreal", "dir/x.fbx"), ("x.fbx", "bvh", "x.bvh")]
    for given, preset, expected in cases:
        assert str(export.output_path(given, presets[preset])) == expected, (given, preset)


# ---- the style list -------------------------------------------------------------------------------------


def test_a_new_scene_generates_a_walk_in_any_style(addon):
    """A new scene's Generate shows the generator's walk (not the list's first action alphabetically) in Any style."""
    settings = bpy.context.scene.lmm
    assert (settings.generate_method, settings.action, settings.style) == ("NEXT_FRAME", "walk", "ANY")


def test_the_style_list_offers_any_and_only_the_styles_the_action_has(addon):
    settings = bpy.context.scene.lmm
    properties = _module(addon, "properties")
    assert settings.style == "ANY"  # the default: not "acted", an idle-only label
    settings.action = "idle"
    assert [i[0] for i in properties.style_items(settings, bpy.context)] == ["ANY", "acted", "genuine"]
    settings.action = "walk"
    walk = [i[0] for i in properties.style_items(settings, bpy.context)]
    assert walk[0] == "ANY" and "tired" in walk and "acted" not in walk and "genuine" not in walk
    # A style the model holds no walk in is refused, not silently swapped for another style.
    _keyed_rig()
    actions = len(bpy.data.actions)
    with pytest.raises(RuntimeError, match="no 'walk' in style 'acted'.*tired"):
        bpy.ops.lmm.generate(action="walk", style="acted", seconds=1.0)
    assert len(bpy.data.actions) == actions
    assert bpy.ops.lmm.generate(action="walk", style="", seconds=1.0) == {"FINISHED"}  # Any


# ---- panels ---------------------------------------------------------------------------------------------


class _Recorder:
    """A stand-in for ``UILayout`` that records the calls of a panel's ``draw`` (drawing needs a window)."""

    def __init__(self, calls: list):
        self.calls = calls

    def __getattr__(self, name):
        def method(*args, **kwargs):
            self.calls.append(name)
            if name == "operator":
                return type("Button", (), {})()
            return _Recorder(self.calls) if name in ("row", "column", "box", "split") else None

        return method


def _draw(panel) -> list:
    calls: list = []
    panel.draw(type("Panel", (), {"layout": _Recorder(calls)})(), bpy.context)
    return calls


def test_the_bone_map_has_its_own_panel_before_the_operators(addon):
    panels = _module(addon, "panels")
    order = [c.__name__ for c in panels.CLASSES]
    assert order.index("VIEW3D_PT_lmm_bone_map") < min(order.index(p) for p in (
        "VIEW3D_PT_lmm_animate", "VIEW3D_PT_lmm_generate", "VIEW3D_PT_lmm_retarget", "VIEW3D_PT_lmm_cleanup"))
    _keyed_rig()
    assert bpy.ops.lmm.map_detect() == {"FINISHED"}
    assert "template_list" in _draw(bpy.types.VIEW3D_PT_lmm_bone_map)
    assert "template_list" not in _draw(bpy.types.VIEW3D_PT_lmm_retarget)


def test_in_between_and_clean_up_have_their_own_ranges_from_the_scene_and_the_action(addon):
    scene = bpy.context.scene
    scene.frame_start, scene.frame_end = 5, 80
    obj = _keyed_rig()
    settings = scene.lmm
    settings.inbetween_use_range = True
    settings.cleanup_use_range = True
    assert (settings.inbetween_start, settings.inbetween_end) == (5, 80)  # the scene's
    assert (settings.cleanup_start, settings.cleanup_end) == (1, 40)  # the action's
    settings.inbetween_start = 12
    assert (settings.cleanup_start, settings.cleanup_end) == (1, 40)  # one range each
    settings.cleanup_use_range = False
    settings.cleanup_use_range = True
    assert (settings.cleanup_start, settings.cleanup_end) == (1, 40)  # a range once set is kept
    # An operator asked for a custom range without frames uses the action's, not 1-250.
    assert bpy.ops.lmm.mirror(use_range=True) == {"FINISHED"}
    assert _key_span(obj) == (1, 40)


# ---- units ----------------------------------------------------------------------------------------------


def test_import_bvh_reads_a_floor_heavy_lafan1_clip_in_centimetres(addon, shared_data):
    path = shared_data / "lafan1" / "ground1_subject1.bvh.xz"  # lies on the floor: 34 cm "tall"
    if not path.is_file():
        pytest.skip(f"{path} is missing")
    assert bpy.ops.lmm.import_bvh(filepath=str(path), update_scene=False) == {"FINISHED"}
    obj = bpy.context.active_object
    world = np.array(obj.matrix_world)

    def head(name: str) -> np.ndarray:
        return (world @ np.array([*obj.data.bones[name].head_local, 1.0]))[:3]

    leg = np.linalg.norm(head("LeftLeg") - head("LeftUpLeg")) + np.linalg.norm(head("LeftFoot") - head("LeftLeg"))
    assert 0.8 < leg < 0.9  # metres (read as CMU units before: a 4.9 m leg)
