"""Import motion from multi-camera footage: the capture pipeline (``lmm_core.capture``) on a calibration and
2D keypoints, then a new armature with the solved motion (``bridge.armature_from_motion``).

Keypoints are one ``.npz`` file or one folder of JSON files per camera (COCO-17 or OpenPose BODY_25): give
the folder that holds the camera folders. Or give the folder of the cameras' videos (``cam01.mp4``, ...,
named after the calibration's cameras): BlazePose detects the keypoints, which needs MediaPipe in
Blender's Python (``pip install 'lmm[capture]'``; without it the import says so in one sentence), and the
detections are cached beside the folder (``videos.keypoints/``) so a second import is quick. Bad input is
one reported sentence, as for every LMM operator.

From the File menu the import runs in the background (``operators._Modal``): the status bar shows its
progress, Blender stays responsive, and Esc stops it with nothing imported (the detection stops at its next
frame; cameras already detected stay cached). From a script it runs at once.
"""
# No "from __future__ import annotations": Blender reads property annotations as live objects.
from pathlib import Path

import bpy
from bpy.props import BoolProperty, EnumProperty, FloatProperty, StringProperty

from .operators import _Modal


class LMM_OT_import_capture(_Modal, bpy.types.Operator):
    """Make an armature's motion from calibrated cameras' 2D keypoints (triangulate, solve the skeleton)"""

    bl_idname = "lmm.import_capture"
    bl_label = "Import Multi-Camera Capture"
    bl_options = {"REGISTER", "UNDO"}

    calibration: StringProperty(
        name="Calibration", subtype="FILE_PATH",
        description="Camera calibration: .toml, .json, OpenCV .yml, or a folder of OpenCV .yml files",
    )
    keypoints: StringProperty(
        name="Keypoints or Videos", subtype="FILE_PATH",
        description="2D keypoints (one .npz, or the folder holding one folder of JSON files per camera), or the folder "
                    "of the cameras' videos, named after them (BlazePose; needs MediaPipe)",
    )
    keypoint_format: EnumProperty(
        name="Format",
        items=(("auto", "Automatic", "Tell COCO-17 from OpenPose BODY_25 by the files"),
               ("coco17", "COCO-17", "COCO keypoint JSON (17 points)"),
               ("body25", "OpenPose BODY_25", "OpenPose JSON (25 points)")),
        default="auto",
    )
    fps: FloatProperty(name="Frame Rate", description="Of the footage; 0: from the keypoints file, else the scene's",
                       default=0.0, min=0.0, soft_max=240.0)
    sync: BoolProperty(name="Synchronise Cameras", description="Find each camera's frame offset from the keypoints", default=True)
    limits: BoolProperty(name="Joint Limits", description="Keep joints inside the learned joint limits", default=True)
    # ``lmm_core.capture.rigid.LENGTH_SD`` (the add-on does not load the core to register; a test keeps them equal).
    bone_spread: FloatProperty(
        name="Bone Length Spread",
        description="Refit the triangulated keypoints with each limb, the hips and the heels held to one length for "
                    "the take, within this share of it (0: each point as triangulated)",
        default=0.02, min=0.0, max=0.5, precision=3, step=0.1)
    update_scene: BoolProperty(name="Update Scene", description="Set the scene's frame rate and range to the motion's", default=True)
    in_steps: BoolProperty(options={"HIDDEN", "SKIP_SAVE"}, default=False)  # set by the menu's dialog: run modal

    status = "LMM: capturing..."
    cancelled_note = "Cancelled; nothing was imported"

    def invoke(self, context, event):
        self.in_steps = True
        return context.window_manager.invoke_props_dialog(self, width=480)

    def execute(self, context):
        # Right after the menu's dialog: in steps, in the background. From a script, the redo panel or Repeat
        # Last: at once (the flag is cleared here, so a redo of a finished import never starts a modal job).
        if self.in_steps:
            self.in_steps = False
            return self.start(context)
        return _Modal.execute(self, context)

    def job(self, context, report=None):
        """Read the inputs on Blender's thread, solve the capture in a worker thread (``jobs.in_background``:
        no Blender data there), then make the armature on Blender's thread."""
        # Imported here, as the operators do: enabling the add-on does not load numpy and the core.
        from . import bridge, jobs
        from ._core import LMMError, capture

        if not self.calibration or not self.keypoints:
            raise LMMError("choose a calibration file and the keypoints (an .npz, or the folder of camera folders)")
        calibration = bpy.path.abspath(self.calibration)
        source = Path(bpy.path.abspath(self.keypoints))
        scene_fps = bridge.scene_fps(context.scene)
        fps, sync, limits, layout = self.fps, self.sync, self.limits, self.keypoint_format
        spread = self.bone_spread
        update_scene = self.update_scene

        def solve(progress):
            if source.exists() and capture.video.video_files([source]) is not None:
                # Videos: detection, then the pipeline; the detections are kept beside the folder.
                cache = source.with_name(source.name.split(".")[0] + ".keypoints")
                options = capture.CaptureOptions(fps=fps or None, sync=sync, limits=limits, length_sd=spread)
                return capture.capture_files(calibration, [source], options, progress=progress, cache=cache,
                                             cancel=progress.stopped)
            calib = capture.read_calibration(calibration)
            kp = capture.read_keypoints(str(source), layout)
            options = capture.CaptureOptions(fps=fps or kp.fps or scene_fps, sync=sync, limits=limits, length_sd=spread)
            return capture.capture(calib, kp, options, progress=progress)

        def work():
            result = yield from jobs.in_background(solve, reports=True)

            def finish():
                scene = bpy.context.scene  # the scene now: the user may have switched while the solve ran
                motion = result.motion
                name = source.name.split(".")[0] or "Capture"
                obj = bridge.armature_from_motion(motion, scale=bridge.blender_scale("m", scene), name=name,
                                                  frame_start=scene.frame_start)
                if update_scene:
                    bridge.fit_scene_to_motion(scene, motion, scene.frame_start)
                offsets = ", ".join(f"{n} {int(o):+d}" for n, o in zip(result.cameras, result.offsets))
                return (f"Captured {obj.name!r}: {motion.num_frames} frames at {motion.fps:g} fps from "
                        f"{len(result.cameras)} cameras (frame offsets {offsets})")

            return finish

        return jobs.Job(work(), report)


def menu_import(self, context):
    self.layout.operator(LMM_OT_import_capture.bl_idname, text="Multi-Camera Capture (LMM)")


CLASSES = (LMM_OT_import_capture,)
MENUS = (("TOPBAR_MT_file_import", menu_import),)
