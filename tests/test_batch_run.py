"""``lmm batch`` end to end in real Blender worker processes: retarget onto the mannequin, a .blend character
and a BVH rig, generate a walk to a point, export FBX and BVH, render previews and plots, then read every
output back. A task that
fails does not stop the others and makes the exit status non-zero; a second run skips what is finished
and makes again what was cut short."""
from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pytest

bpy = pytest.importorskip("bpy", reason="needs the bpy module (real headless Blender): pip install bpy==5.0.1")

import blender_rigs as rigs  # noqa: E402
from addon import bridge  # noqa: E402
from lmm_core import canonical as cn  # noqa: E402
from lmm_core import read_bvh  # noqa: E402
from lmm_core.batch import load_job, run_job  # noqa: E402
from lmm_core.bonemap import bone_map_for  # noqa: E402
from lmm_core.cli import main  # noqa: E402
from lmm_core.retarget import retarget  # noqa: E402

pytestmark = pytest.mark.blender

ROOT = Path(__file__).resolve().parents[1]
HOP = ROOT / "tests" / "data" / "cmu_131_03_hop_excerpt.bvh.xz"  # CMU, 120 fps, 31 joints
IDLE = ROOT / "tests" / "data" / "reactidle_001_acted_excerpt.bvh.xz"  # ReActIdle, 24 fps


def _blend_character(path: Path) -> None:
    """A Mixamo-style rig as an FBX import leaves it (turned, scaled 0.01), with a mesh skinned to it."""
    bpy.ops.wm.read_factory_settings(use_empty=True)
    rig = rigs.make_rig(rigs.MIXAMO_STYLE, "Hero", transform=rigs.mixamo_import_transform())
    bpy.ops.mesh.primitive_cube_add(size=20.0, location=(0.5, -1.0, 1.0))
    cube = bpy.context.object
    cube.name = "HeroBody"
    group = cube.vertex_groups.new(name="mixamorig:Hips")
    group.add(list(range(len(cube.data.vertices))), 1.0, "REPLACE")
    cube.parent = rig
    cube.matrix_parent_inverse = rig.matrix_world.inverted()
    cube.modifiers.new("Armature", "ARMATURE").object = rig
    bpy.ops.wm.save_as_mainfile(filepath=str(path), check_existing=False)
    bpy.ops.wm.read_factory_settings(use_empty=True)


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    folder = tmp_path_factory.mktemp("batch")
    _blend_character(folder / "hero.blend")
    job = folder / "job.toml"
    job.write_text(textwrap.dedent(f"""
        [job]
        output = "out"

        [preview]
        width = 160
        height = 120
        fps = 30
        frames = 4
        formats = ["gif", "mp4", "png"]

        [[task]]
        id = "hop_mannequin"
        type = "retarget"
        input = "{HOP}"
        range = [0, 59]
        outputs = ["unity", "bvh", "preview", "plot"]

        [[task]]
        id = "hop_rest"
        type = "retarget"
        input = "{HOP}"
        range = [0, 59]
        rest_frame = 10
        outputs = ["bvh"]

        [[task]]
        id = "idle_hero"
        type = "retarget"
        input = "{IDLE}"
        range = [0, 23]
        character = "hero.blend"
        outputs = ["unreal", "bvh"]

        [[task]]
        id = "broken"
        type = "inbetween"
        input = "{IDLE}"
        keys = [0, 500]

        [[task]]
        id = "walk_to"
        type = "generate"
        action = "walk"
        method = "next-frame"
        to = [0.5, 2.0]
        at = 1.5
        seconds = 2
        outputs = ["bvh"]

        [[task]]
        id = "idle_mirrored_on_cmu"
        type = "mirror"
        input = "{IDLE}"
        range = [0, 23]
        character = "{HOP}"
        outputs = ["bvh"]
        """))
    status = main(["batch", str(job), "--jobs", "2"])
    return job, folder / "out", status


def _expected_on_canonical(frames: int):
    src = read_bvh(HOP).slice(0, frames)
    canon = cn.canonical_skeleton()
    smap = bone_map_for(src.skeleton, pose=src.global_positions()[0])
    return retarget(src, smap, canon, bone_map_for(canon, "canonical"))


def test_a_failing_task_does_not_stop_the_others(batch, capsys):
    job, out, status = batch
    assert status == 1  # one task failed
    summary = (out / "batch-summary.json").read_text()
    assert '"done": 5' in summary and '"failed": 1' in summary
    assert "key frame 500 is past the clip's last frame" in summary
    assert (out / "idle_hero" / "idle_hero.bvh").is_file() and (out / "idle_mirrored_on_cmu" / "idle_mirrored_on_cmu.bvh").is_file()


def test_bvh_output_is_the_retargeted_motion(batch):
    _, out, _ = batch
    written = read_bvh(out / "hop_mannequin" / "hop_mannequin.bvh")
    expected = _expected_on_canonical(60)
    assert set(written.skeleton.names) == set(cn.JOINT_NAMES) and written.num_frames == 60 and written.fps == 120
    assert written.skeleton.units == "cm"
    order = [written.skeleton.index(n) for n in cn.JOINT_NAMES]  # BVH files list joints depth first
    err = np.abs(written.global_positions()[:, order] * 0.01 - expected.global_positions()).max()
    assert err < 1e-3, err


def test_a_retarget_task_binds_the_input_as_it_stands_on_its_rest_frame(batch):
    """``rest_frame = 10`` (``lmm retarget --rest-frame 10``): the input's bones are aimed as they stand on its
    frame 10 (numbered in the file, before ``range`` cuts it), not at its rest pose."""
    _, out, _ = batch
    written = read_bvh(out / "hop_rest" / "hop_rest.bvh")
    src = read_bvh(HOP).rest_from(10).slice(0, 60)
    canon = cn.canonical_skeleton()
    expected = retarget(src, bone_map_for(src.skeleton, pose=src.global_positions()[0]), canon,
                        bone_map_for(canon, "canonical"))
    order = [written.skeleton.index(n) for n in cn.JOINT_NAMES]
    assert np.abs(written.global_positions()[:, order] * 0.01 - expected.global_positions()).max() < 1e-3
    plain = read_bvh(out / "hop_mannequin" / "hop_mannequin.bvh")
    assert np.abs(written.global_positions() - plain.global_positions()).max() > 1.0  # cm: another binding


def test_fbx_output_reimports_with_mesh_and_motion(batch):
    _, out, _ = batch
    bpy.ops.wm.read_factory_settings(use_empty=True)
    bpy.ops.import_scene.fbx(filepath=str(out / "hop_mannequin" / "hop_mannequin_unity.fbx"))
    objects = list(bpy.context.scene.objects)
    armature = next(o for o in objects if o.type == "ARMATURE")
    meshes = [o for o in objects if o.type == "MESH"]
    assert {b.name for b in armature.data.bones} == set(cn.JOINT_NAMES)
    assert len(meshes) == 1 and len(meshes[0].vertex_groups) == cn.NUM_JOINTS
    assert meshes[0].find_armature() == armature
    first, last = bridge.action_frames(armature, bpy.context.scene)
    assert last - first + 1 == 60
    motion = bridge.motion_from_armature(armature, scale=bridge.blender_scale("m", bpy.context.scene), units="m")
    expected = _expected_on_canonical(60)
    order = [motion.skeleton.index(n) for n in cn.JOINT_NAMES]
    err = np.abs(motion.global_positions()[:, order] - expected.global_positions()).max()
    assert err < 2e-3, err


def test_blend_character_and_bvh_rig(batch):
    _, out, _ = batch
    hero = read_bvh(out / "idle_hero" / "idle_hero.bvh")
    assert hero.num_frames == 24 and all(n.startswith("mixamorig:") for n in hero.skeleton.names)
    assert 1.5 < hero.height() * 0.01 < 2.0  # the rig's own size (it was built in cm, scaled 0.01)
    bpy.ops.wm.read_factory_settings(use_empty=True)
    bpy.ops.import_scene.fbx(filepath=str(out / "idle_hero" / "idle_hero_unreal.fbx"))
    kinds = sorted(o.type for o in bpy.context.scene.objects)
    assert kinds == ["ARMATURE", "MESH"]
    mirrored = read_bvh(out / "idle_mirrored_on_cmu" / "idle_mirrored_on_cmu.bvh")
    assert mirrored.skeleton.names == read_bvh(HOP).skeleton.names and mirrored.num_frames == 24


def test_previews_and_plot(batch):
    from PIL import Image

    _, out, _ = batch
    folder = out / "hop_mannequin"
    pngs = sorted((folder / "hop_mannequin_frames").glob("frame_*.png"))
    assert len(pngs) == 4 and Image.open(pngs[0]).size == (160, 120)
    # Something was drawn: the character is not the background.
    pixels = np.asarray(Image.open(pngs[0]).convert("L"), dtype=float)
    assert pixels.std() > 5
    gif = Image.open(folder / "hop_mannequin_preview.gif")
    assert gif.n_frames == 4 and gif.size == (160, 120)
    assert (folder / "hop_mannequin_preview.mp4").stat().st_size > 1000
    plot = Image.open(folder / "hop_mannequin_plot.png")
    assert plot.format == "PNG" and plot.size[0] > 400
    leftovers = [p for p in folder.iterdir() if p.name.startswith(".") and p.name != ".lmm-batch.json"]
    assert leftovers == []  # no temporary file or folder left behind
    # Renamed temporary files keep the permissions an ordinary file would have (mkstemp makes them 0600).
    probe = folder.parent / "probe.txt"
    probe.write_text("x")
    mode = probe.stat().st_mode & 0o777
    probe.unlink()
    for name in ("hop_mannequin.bvh", "hop_mannequin_plot.png", "hop_mannequin_preview.gif",
                 "hop_mannequin_unity.fbx", ".lmm-batch.json", "hop_mannequin_frames/frame_0001.png"):
        assert (folder / name).stat().st_mode & 0o777 == mode, name


def test_resume_skips_finished_and_redoes_a_cut_short_output(batch):
    job_path, out, _ = batch
    job = load_job(job_path)
    again = run_job(job, jobs=1, show_progress=False)
    status = {r.id: r.status for r in again.results}
    assert status == {"hop_mannequin": "skipped", "hop_rest": "skipped", "idle_hero": "skipped", "broken": "failed",
                      "walk_to": "skipped", "idle_mirrored_on_cmu": "skipped"}
    bvh = out / "hop_mannequin" / "hop_mannequin.bvh"
    good = bvh.read_bytes()
    bvh.write_bytes(good[: len(good) // 2])  # as a killed copy would leave it
    third = run_job(job, jobs=1, show_progress=False)
    hop = next(r for r in third.results if r.id == "hop_mannequin")
    assert hop.status == "done" and hop.made == ["bvh"]
    assert bvh.read_bytes() == good


def test_a_generate_task_walks_to_its_goal(batch):
    """``method = "next-frame"`` with ``to`` and ``at``: the mannequin's pelvis over the goal at 1.5 s."""
    from lmm_core.skeleton import UNITS_TO_METRES

    _, out, _ = batch
    made = read_bvh(out / "walk_to" / "walk_to.bvh")
    assert made.num_frames == 60
    metres = UNITS_TO_METRES[made.skeleton.units]
    np.testing.assert_allclose(made.root_positions[45, [0, 2]] * metres, [0.5, 2.0], atol=0.02)


def test_an_inbetween_task_rolls_as_many_ways_as_it_asks():
    """A job's ``rollouts`` reaches the next-frame in-betweener as ``lmm inbetween --rollouts`` does: the task's
    motion is ``tasks.inbetween``'s with that many rollouts per long gap."""
    from addon import batch_worker
    from lmm_core.model import tasks

    motion = read_bvh(IDLE).slice(0, 90)
    bone_map = bone_map_for(motion.skeleton)
    keys = [t for t in range(90) if t <= 10 or t >= 60]
    for rollouts in (1, 3):
        item = {"type": "inbetween", "params": {"gap": [10, 60], "rollouts": rollouts, "method": "next-frame"}}
        made = batch_worker._made_on_input(item, motion, bone_map)
        want = tasks.inbetween(motion, keys, None, source_map=bone_map, method="next-frame", rollouts=rollouts)
        np.testing.assert_allclose(made.rotations, want.rotations, atol=1e-12)
    one = tasks.inbetween(motion, keys, None, source_map=bone_map, method="next-frame", rollouts=1)
    assert not np.allclose(made.rotations, one.rotations)  # three rollouts kept another than the first
