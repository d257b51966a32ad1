"""The add-on's capture import in real Blender (bpy): footage of a real clip in, an armature with the
solved motion out; bad input is one reported sentence and leaves nothing behind."""
from __future__ import annotations

import numpy as np
import pytest

bpy = pytest.importorskip("bpy", reason="needs the bpy module (real headless Blender): pip install bpy==5.0.1")

from capture_fixtures import footage, source  # noqa: E402
from footage_fixtures import demo_footage, have_mediapipe, pose2sim_wheel  # noqa: E402,F401  (fixtures)
from lmm_core import canonical as cn  # noqa: E402
from lmm_core.capture import synthetic as S  # noqa: E402
from lmm_core.capture.calibration import write_calibration  # noqa: E402
from lmm_core.capture.keypoints import BODY25, write_openpose_folder  # noqa: E402

pytestmark = pytest.mark.blender


@pytest.fixture
def operator():
    from addon import capture_import

    bpy.ops.wm.read_factory_settings(use_empty=True)
    for cls in capture_import.CLASSES:
        bpy.utils.register_class(cls)
    yield bpy.ops.lmm.import_capture
    for cls in reversed(capture_import.CLASSES):
        bpy.utils.unregister_class(cls)


def test_import_capture_makes_an_armature_that_moves_like_the_source(operator, tmp_path):
    motion = source(frames=60)
    _, calib, kp, _ = footage(motion, BODY25, 4, S.Corruption(noise_px=1.0, max_offset=2), seed=11)
    write_calibration(calib, tmp_path / "calib.yml")
    for c, name in enumerate(calib.names):
        write_openpose_folder(kp.data[c], tmp_path / "take" / name, prefix=name)
    scene = bpy.context.scene
    scene.render.fps = 30
    assert operator(calibration=str(tmp_path / "calib.yml"), keypoints=str(tmp_path / "take")) == {"FINISHED"}
    obj = bpy.data.objects["take"]
    assert obj.type == "ARMATURE" and set(b.name for b in obj.data.bones) == set(cn.JOINT_NAMES)
    action = obj.animation_data.action
    assert action is not None and scene.frame_end - scene.frame_start + 1 >= 55
    # The wrist's world position at a middle frame matches the source's (metres; scene unit scale 1).
    frame = scene.frame_start + 30
    scene.frame_set(frame)
    wrist = np.array(obj.matrix_world @ obj.pose.bones["left_wrist"].head)
    # Blender is Z up, facing -Y: the bridge turns the Y-up body +90 degrees about X, (x, y, z) -> (x, -z, y).
    want = motion.global_positions()[30, cn.JOINT_INDEX["left_wrist"]]
    assert np.linalg.norm(wrist - np.array([want[0], -want[2], want[1]])) < 0.05, (wrist, want)


def test_import_capture_holds_the_bones_as_the_command_does(operator, tmp_path):
    """The dialog's Bone Length Spread starts at the core's default and reaches the pipeline: held bones (the
    default) keep the limbs at one length where free points (0) stretch with the detector's noise."""
    from lmm_core.capture import rigid

    from addon import capture_import

    props = capture_import.LMM_OT_import_capture.__annotations__["bone_spread"]
    assert props.keywords["default"] == pytest.approx(rigid.LENGTH_SD)
    motion = source(frames=45)
    _, calib, kp, _ = footage(motion, BODY25, 4, S.Corruption(noise_px=4.0, max_offset=0), seed=5)
    write_calibration(calib, tmp_path / "calib.yml")
    for c, name in enumerate(calib.names):
        write_openpose_folder(kp.data[c], tmp_path / "held" / name, prefix=name)
        write_openpose_folder(kp.data[c], tmp_path / "free" / name, prefix=name)
    bpy.context.scene.render.fps = 30
    wrists = {}
    for name, spread in (("held", 0.02), ("free", 0.0)):
        assert operator(calibration=str(tmp_path / "calib.yml"), keypoints=str(tmp_path / name), bone_spread=spread) == {"FINISHED"}
        obj = bpy.data.objects[name]
        bones = obj.pose.bones
        wrists[name] = (bones["left_wrist"].head - bones["left_elbow"].head).length  # the solved forearm (rest)
    # The solved skeleton's forearm is measured from the points: held to one length they give another
    # (and steadier) measure than free ones, so the setting reached the pipeline.
    assert abs(wrists["held"] - wrists["free"]) > 1e-4, wrists


def test_import_capture_errors_are_one_sentence(operator, tmp_path):
    objects = len(bpy.data.objects)
    with pytest.raises(RuntimeError) as info:
        operator(calibration=str(tmp_path / "missing.toml"), keypoints=str(tmp_path))
    message = str(info.value).strip()
    assert "calibration not found" in message and "\n" not in message and "Traceback" not in message
    (tmp_path / "calib.toml").write_text("[cameras.a\n")
    with pytest.raises(RuntimeError, match="not valid TOML"):
        operator(calibration=str(tmp_path / "calib.toml"), keypoints=str(tmp_path))
    with pytest.raises(RuntimeError, match="choose a calibration"):
        operator()
    assert len(bpy.data.objects) == objects


def test_the_addon_registers_the_operator_and_its_import_menu_entry():
    import addon
    from addon import capture_import

    bpy.ops.wm.read_factory_settings(use_empty=True)
    addon.register()
    try:
        assert bpy.ops.lmm.import_capture.poll()
        draws = getattr(bpy.types.TOPBAR_MT_file_import, "_dyn_ui_initialize")()
        assert capture_import.menu_import in draws
    finally:
        addon.unregister()
    assert not hasattr(bpy.types, "LMM_OT_import_capture")


def test_import_capture_from_a_folder_of_real_videos(operator, demo_footage):
    """Pose2Sim's four-camera demo: the Qualisys calibration and the folder of videos make an armature;
    the detections are cached beside the folder."""
    if not have_mediapipe():
        pytest.skip("video capture needs MediaPipe and OpenCV: pip install '.[capture]'")
    scene = bpy.context.scene
    videos = demo_footage / "videos"
    assert operator(calibration=str(demo_footage / "calibration" / "Calib.qca.txt"), keypoints=str(videos)) == {"FINISHED"}
    obj = bpy.data.objects["videos"]
    assert obj.type == "ARMATURE" and obj.animation_data.action is not None
    assert scene.render.fps == 60 and scene.frame_end - scene.frame_start + 1 >= 95
    assert sorted(p.name for p in (demo_footage / "videos.keypoints").iterdir()) == ["cam01.npz", "cam02.npz", "cam03.npz", "cam04.npz"]
    # Blender is Z up: the head stays above the hips all through the take.
    for frame in (scene.frame_start, scene.frame_start + 50, scene.frame_end):
        scene.frame_set(frame)
        head = obj.matrix_world @ obj.pose.bones["head"].head
        pelvis = obj.matrix_world @ obj.pose.bones["pelvis"].head
        assert head.z > pelvis.z + 0.3


def test_import_capture_runs_in_the_background_and_esc_leaves_nothing(operator, tmp_path):
    """From the File menu the import is a modal job: the solve runs in a worker thread with its progress in
    the status bar, and Esc stops it with no armature made (headless Blender has no window to run a modal
    operator in, so its methods are called on a stand-in for the running operator, as for the in-between)."""
    import threading
    import time
    import types

    from addon import capture_import

    motion = source(frames=600)
    _, calib, kp, _ = footage(motion, BODY25, 4, S.Corruption(noise_px=1.0, max_offset=2), seed=12)
    write_calibration(calib, tmp_path / "calib.yml")
    for c, name in enumerate(calib.names):
        write_openpose_folder(kp.data[c], tmp_path / "long" / name, prefix=name)
    bpy.context.scene.render.fps = 30
    ops = capture_import.LMM_OT_import_capture
    objects = len(bpy.data.objects)

    def running_import():
        reports = []
        running = types.SimpleNamespace(calibration=str(tmp_path / "calib.yml"), keypoints=str(tmp_path / "long"),
                                        keypoint_format="auto", fps=0.0, sync=True, limits=True, bone_spread=0.02, update_scene=True,
                                        status=ops.status, cancelled_note=ops.cancelled_note,
                                        report=lambda kind, text: reports.append(text))
        running._end = lambda context: ops._end(running, context)
        running._say = lambda context, fraction: ops._say(running, context, fraction)
        running._job = ops.job(running, bpy.context)
        running._timer = bpy.context.window_manager.event_timer_add(1.0)
        return running, reports

    running, reports = running_import()
    assert ops.modal(running, bpy.context, types.SimpleNamespace(type="TIMER")) == {"RUNNING_MODAL"}
    assert ops.modal(running, bpy.context, types.SimpleNamespace(type="ESC")) == {"CANCELLED"}
    assert reports == ["Cancelled; nothing was imported"] and len(bpy.data.objects) == objects
    # The worker stops at its next progress report: no thread left computing for nobody.
    start = time.perf_counter()
    while any(t.name == "lmm-job" for t in threading.enumerate()):
        assert time.perf_counter() - start < 60, "the cancelled capture kept running"
        time.sleep(0.05)
    # Run to the end: the same armature the import makes at once, after steps that each kept Blender free.
    running, reports = running_import()
    steps, start = 0, time.perf_counter()
    while (result := ops.modal(running, bpy.context, types.SimpleNamespace(type="TIMER"))) == {"RUNNING_MODAL"}:
        steps += 1
        assert time.perf_counter() - start < 120
    assert result == {"FINISHED"} and steps >= 2 and reports[-1].startswith("Captured 'long'")
    stepped = bpy.data.objects["long"]
    assert stepped.type == "ARMATURE" and len(bpy.data.objects) == objects + 1
    # The menu's path: the dialog sets in_steps and execute starts the modal job, once; the flag is cleared,
    # so executing again (the redo panel, Repeat Last) runs at once and never starts a second modal job.
    menu, _ = running_import()
    menu.in_steps, starts = True, []
    menu.start = lambda context: starts.append(context) or {"RUNNING_MODAL"}
    menu.job = lambda context, report=None: ops.job(menu, context, report)
    assert ops.execute(menu, bpy.context) == {"RUNNING_MODAL"} and len(starts) == 1 and not menu.in_steps
    assert ops.execute(menu, bpy.context) == {"FINISHED"} and len(starts) == 1
    at_once = bpy.data.objects["long.001"]
    scene = bpy.context.scene
    for frame in (scene.frame_start, scene.frame_start + 300, scene.frame_end):
        scene.frame_set(frame)
        for bone in ("pelvis", "left_wrist", "right_ankle"):
            a = stepped.matrix_world @ stepped.pose.bones[bone].head
            b = at_once.matrix_world @ at_once.pose.bones[bone].head
            assert (a - b).length < 1e-5, (frame, bone)


def test_a_cancelled_background_worker_stops_at_its_next_report():
    import time

    from addon import jobs

    seen = []

    def work(report):
        for i in range(10_000):
            report(i / 10_000)
            seen.append(i)
            time.sleep(0.001)
        return "done"

    part = jobs.in_background(work, reports=True, poll=0.01)
    fractions = [next(part) for _ in range(5)]
    assert 0 < fractions[-1] < 0.5 and fractions == sorted(fractions)
    part.close()  # the job was cancelled
    time.sleep(0.1)
    stopped_at = len(seen)
    time.sleep(0.1)
    assert len(seen) == stopped_at < 10_000

    def run_out(part):
        try:
            while True:
                next(part)
        except StopIteration as stop:
            return stop.value

    assert run_out(jobs.in_background(lambda report: (report(0.5), 7)[1], reports=True)) == 7
    with pytest.raises(ValueError, match="bad take"):  # the worker's own error, on the job's thread
        run_out(jobs.in_background(lambda report: int("bad take"), reports=True))
