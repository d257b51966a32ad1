"""Preview renders of a motion on its character: a small Workbench (or EEVEE) render, headless.

``render_preview`` adds a checkered floor, a camera that follows the character from a three-quarter front
view (from where it faces on the first frame) and studio lighting with shadows, renders every n-th frame
to PNG and assembles an animated GIF (Pillow) and, on request, an MP4 (Blender's own FFmpeg). Every file
is written under a temporary name and renamed, and the frames' folder is filled under a temporary name and
renamed as a whole, so a killed render never leaves a preview that looks finished.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path

import bpy
import numpy as np
from mathutils import Vector

from . import bridge
from ._core import LMMError, Motion, atomic
from .mannequin import material


def _engine_id(engine: str) -> str:
    items = {e.identifier for e in bpy.types.RenderSettings.bl_rna.properties["engine"].enum_items}
    if engine == "workbench":
        return "BLENDER_WORKBENCH"
    for name in ("BLENDER_EEVEE", "BLENDER_EEVEE_NEXT"):
        if name in items:
            return name
    raise LMMError("this Blender has no EEVEE; use engine = \"workbench\" in [preview]")


def _world_points(motion: Motion, scale: float) -> np.ndarray:
    """``(T, N, 3)`` joints and end sites in Blender world coordinates (the bridge keeps motion world =
    Blender world through ``C``, whatever the armature object's transform)."""
    axes = bridge.to_blender_axes(motion.skeleton.up_axis)
    return motion.global_positions(end_sites=True) @ axes.T * scale


def _smooth_path(path: np.ndarray, window: int) -> np.ndarray:
    if window <= 1 or len(path) < 3:
        return path
    pad = np.pad(path, ((window, window), (0, 0)), mode="edge")
    kernel = np.ones(window) / window
    out = np.stack([np.convolve(pad[:, i], kernel, mode="same") for i in range(path.shape[1])], axis=1)
    return out[window:-window]


def _floor(scene: bpy.types.Scene, centre: np.ndarray, half: float, z: float, tile: float) -> bpy.types.Object:
    """A checkered floor: ``2 * half`` wide square of ``tile``-sized quads in two materials."""
    n = max(2, min(int(np.ceil(2 * half / tile)), 80))
    xs = centre[0] - n * tile / 2 + tile * np.arange(n + 1)
    ys = centre[1] - n * tile / 2 + tile * np.arange(n + 1)
    verts = [(x, y, z) for y in ys for x in xs]
    faces, parity = [], []
    for r in range(n):
        for c in range(n):
            a = r * (n + 1) + c
            faces.append((a, a + 1, a + n + 2, a + n + 1))
            parity.append((r + c) % 2)
    mesh = bpy.data.meshes.new("LMM floor")
    mesh.from_pydata(verts, [], faces)
    for name, grey in (("LMM floor light", 0.80), ("LMM floor dark", 0.66)):
        mesh.materials.append(material(name, (grey, grey, grey * 1.02, 1.0), roughness=0.8))
    mesh.polygons.foreach_set("material_index", np.array(parity, dtype=np.int32))
    obj = bpy.data.objects.new("LMM floor", mesh)
    scene.collection.objects.link(obj)
    return obj


def _key_location(obj: bpy.types.Object, frames: np.ndarray, values: np.ndarray) -> None:
    """Key ``obj``'s location ``values (T, 3)`` on ``frames``, linear, in a new action."""
    _, new_fcurve = bridge.new_action(obj, f"{obj.name} path")
    for i in range(3):
        bridge.fill_fcurve(new_fcurve("location", i, "Object Transforms"), frames, values[:, i])


def setup(scene: bpy.types.Scene, motion: Motion, scale: float, frame_start: int, forward: np.ndarray | None,
          settings: dict) -> bpy.types.Object:
    """Floor, camera (following the character), light and render settings for ``motion`` as keyed on the
    scene from ``frame_start``; returns the camera."""
    points = _world_points(motion, scale)  # (T, N, 3)
    root = points[:, 0]
    height = float(np.ptp(points[..., 2], axis=1).max()) or 1.0
    low = float(points[..., 2].min())
    floor_z = 0.0 if -0.02 * height <= low <= 0.15 * height else low - 0.01 * height

    # Follow the root (smoothed over a second) unless it hardly travels; frame what strays from it.
    follow = _smooth_path(root[:, :2], int(round(motion.fps)))
    if np.ptp(root[:, :2], axis=0).max() < 0.5 * height:
        follow = np.repeat(root[:, :2].mean(axis=0, keepdims=True), len(root), axis=0)
    reach = float(np.linalg.norm(points[..., :2] - follow[:, None], axis=-1).max())
    if forward is None or np.linalg.norm(forward[:2]) < 1e-6:
        forward = np.array([0.0, -1.0, 0.0])
    f = forward[:2] / np.linalg.norm(forward[:2])
    turn = np.radians(35.0)
    view = np.array([f[0] * np.cos(turn) - f[1] * np.sin(turn), f[0] * np.sin(turn) + f[1] * np.cos(turn)])
    aspect = settings["width"] / settings["height"]
    cam_data = bpy.data.cameras.new("LMM preview")
    cam_data.lens, cam_data.sensor_fit = 50.0, "AUTO"
    fov = 2 * np.arctan(36.0 / 2 / cam_data.lens)  # across the longer side
    v_fov = fov if aspect < 1 else 2 * np.arctan(np.tan(fov / 2) / aspect)
    h_fov = fov if aspect >= 1 else 2 * np.arctan(np.tan(fov / 2) * aspect)
    span_v = (height - (floor_z - low if low > floor_z else 0)) * 1.25
    distance = max(span_v / 2 / np.tan(v_fov / 2), (reach * 1.3 + 0.1 * height) / np.tan(h_fov / 2)) + reach * 0.5
    elevation = np.radians(12.0)
    target_z = floor_z + 0.5 * (points[..., 2].max() - floor_z)
    offset = np.array([view[0] * np.cos(elevation), view[1] * np.cos(elevation), np.sin(elevation)]) * distance
    camera = bpy.data.objects.new("LMM preview camera", cam_data)
    scene.collection.objects.link(camera)
    direction = -offset / np.linalg.norm(offset)
    camera.rotation_mode = "QUATERNION"
    camera.rotation_quaternion = Vector(direction.tolist()).to_track_quat("-Z", "Y")
    frames = frame_start + np.arange(len(follow), dtype=np.float64)
    locs = np.column_stack([follow + offset[:2], np.full(len(follow), target_z + offset[2])])
    if np.ptp(follow, axis=0).max() > 0:
        _key_location(camera, frames, locs)
    else:
        camera.location = locs[0].tolist()
    scene.camera = camera
    span = np.ptp(points[..., :2].reshape(-1, 2), axis=0).max()
    _floor(scene, points[..., :2].reshape(-1, 2).mean(axis=0), 0.5 * span + distance, floor_z, 0.5)

    render = scene.render
    render.engine = _engine_id(settings.get("engine", "workbench"))
    render.resolution_x, render.resolution_y, render.resolution_percentage = settings["width"], settings["height"], 100
    render.film_transparent = False
    threads = int(os.environ.get("LMM_BATCH_THREADS", "0") or 0)
    if threads > 0:
        render.threads_mode, render.threads = "FIXED", threads
    shading = scene.display.shading
    shading.light, shading.color_type = "STUDIO", "MATERIAL"
    shading.show_shadows, shading.shadow_intensity = True, 0.35
    shading.show_cavity = True
    scene.display.shading.cavity_type = "WORLD"
    scene.display.render_aa = "FXAA"  # 4x faster than 8 samples at this size, and smooth enough
    if scene.world is None:
        scene.world = bpy.data.worlds.new("LMM preview")
    scene.world.color = (0.58, 0.63, 0.70)
    tree = scene.world.node_tree  # what EEVEE shows (Blender 5 gives new worlds a Background node)
    background = next((n for n in tree.nodes if n.type == "BACKGROUND"), None) if tree else None
    if background is not None:
        background.inputs["Color"].default_value = (0.58, 0.63, 0.70, 1.0)
    if render.engine != "BLENDER_WORKBENCH":
        sun = bpy.data.objects.new("LMM sun", bpy.data.lights.new("LMM sun", "SUN"))
        sun.rotation_euler = (np.radians(40), 0.0, np.radians(30))
        scene.collection.objects.link(sun)
    return camera


def _frame_list(first: int, last: int, fps: float, settings: dict) -> tuple[int, list[int]]:
    step = max(1, int(round(fps / settings["fps"])))
    if settings.get("seconds"):
        last = min(last, first + int(round(settings["seconds"] * fps)) - 1)
    frames = list(range(first, last + 1, step))
    if settings.get("frames"):
        frames = frames[: settings["frames"]]
    return step, frames


@contextlib.contextmanager
def _temporary_dir(parent: Path, stem: str):
    tmp = Path(tempfile.mkdtemp(prefix=f".{stem}.", suffix=".tmp", dir=parent))
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _replace_dir(src: Path, dst: Path) -> None:
    """Put folder ``src`` at ``dst``: any old ``dst`` is moved aside first and removed after."""
    old = None
    if dst.exists():
        old = dst.with_name(f".{dst.name}.old-{os.getpid()}")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(dst, old)
    os.replace(src, dst)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _write_gif(pngs: list[Path], path: Path, frame_ms: float) -> None:
    from PIL import Image  # Pillow: only GIF previews (batch jobs) need it, never the panel

    images = [Image.open(p).convert("RGB") for p in pngs]
    palette = images[len(images) // 2].quantize(colors=255, method=Image.Quantize.MEDIANCUT)
    frames = [im.quantize(palette=palette, dither=Image.Dither.NONE) for im in images]
    with atomic.atomic_path(path) as tmp:
        frames[0].save(tmp, format="GIF", save_all=True, append_images=frames[1:], loop=0,
                       duration=max(int(round(frame_ms)), 20), optimize=False, disposal=1)


def _write_mp4(scene: bpy.types.Scene, frames: list[int], step: int, path: Path) -> None:
    settings = scene.render.image_settings
    if hasattr(settings, "media_type"):  # Blender 5.0: video is a media type of its own
        settings.media_type = "VIDEO"
    settings.file_format = "FFMPEG"
    scene.render.ffmpeg.format, scene.render.ffmpeg.codec = "MPEG4", "H264"
    scene.render.ffmpeg.constant_rate_factor = "MEDIUM"
    saved = scene.frame_start, scene.frame_end, scene.frame_step, scene.render.fps, scene.render.fps_base
    try:
        scene.frame_start, scene.frame_end, scene.frame_step = frames[0], frames[-1], step
        scene.render.use_file_extension = False
        with atomic.atomic_path(path) as tmp:
            tmp.unlink()  # FFmpeg writes the file itself
            scene.render.filepath = str(tmp)
            bpy.ops.render.render(animation=True)
            if not tmp.is_file():
                raise LMMError(f"Blender's FFmpeg did not write {path.name}; drop mp4 from [preview] formats")
    finally:
        scene.frame_start, scene.frame_end, scene.frame_step = saved[:3]
        scene.render.use_file_extension = True
        if hasattr(settings, "media_type"):
            settings.media_type = "IMAGE"
        settings.file_format = "PNG"


def render_preview(scene: bpy.types.Scene, folder: Path, files: list[str], first: int, last: int,
                   settings: dict) -> list[str]:
    """Render frames ``first..last`` (every n-th, for ``settings['fps']``) into the preview ``files``
    (``*_preview.gif``, ``*_preview.mp4``, ``*_frames`` folder) in ``folder``; returns the files written."""
    fps = bridge.scene_fps(scene)
    step, frames = _frame_list(first, last, fps, settings)
    frames_dir = next((f for f in files if f.endswith("_frames")), None)
    stem = files[0].rsplit("_", 1)[0]
    image = scene.render.image_settings
    if hasattr(image, "media_type"):
        image.media_type = "IMAGE"
    image.file_format, image.color_mode, image.compression = "PNG", "RGB", 50
    written: list[str] = []
    with _temporary_dir(folder, f"{stem}_frames") as tmp:
        saved = scene.frame_start, scene.frame_end, scene.frame_step
        try:
            scene.frame_start, scene.frame_end, scene.frame_step = frames[0], frames[-1], step
            scene.render.filepath = str(tmp / "frame_####")
            bpy.ops.render.render(animation=True)
        finally:
            scene.frame_start, scene.frame_end, scene.frame_step = saved
        pngs = sorted(tmp.glob("frame_*.png"))
        if len(pngs) != len(frames):
            raise LMMError(f"the preview render wrote {len(pngs)} of {len(frames)} frames; see the worker log")
        for name in files:
            if name.endswith(".gif"):
                _write_gif(pngs, folder / name, 1000.0 * step / fps)
                written.append(name)
        if "mp4" in [f.rsplit(".", 1)[-1] for f in files]:
            name = next(f for f in files if f.endswith(".mp4"))
            _write_mp4(scene, frames, step, folder / name)
            written.append(name)
        if frames_dir:
            atomic.set_default_mode(tmp, folder=True)
            for png in pngs:
                atomic.set_default_mode(png)
            _replace_dir(tmp, folder / frames_dir)
            tmp.mkdir()  # the context manager removes its (now empty) stand-in
            written.append(frames_dir)
    return written
