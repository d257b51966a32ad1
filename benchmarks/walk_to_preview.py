"""A preview of Generate > Next Frame > Walk To 3D Cursor in real headless Blender (Workbench), to look at:
the built-in mannequin standing at (1, -1) turned 60 degrees, the 3D cursor 3 m off to its left front (a red
marker), the walk rendered from a fixed camera above and behind at five moments, tiled into one picture
(docs/images/walk_to_cursor.png). Also prints where the pelvis ended against the cursor.

Usage: python benchmarks/walk_to_preview.py [--out docs/images/walk_to_cursor.png] [--seed 0]
"""
from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import math  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import bpy  # noqa: E402
from mathutils import Euler, Vector  # noqa: E402

import blender_rigs as rigs  # noqa: E402

CURSOR = (3.0, 1.5, 0.0)  # Blender world, metres (Z up)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "images" / "walk_to_cursor.png")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    module = rigs.enable_extension()
    import importlib

    mannequin = importlib.import_module(f"{module}.mannequin")
    animate = importlib.import_module(f"{module}.animate")
    scene = bpy.context.scene
    scene.render.fps = 30
    obj, _ = mannequin.add_mannequin("Mannequin", scene)
    obj.location = (1.0, -1.0, 0.0)
    obj.rotation_euler = Euler((0.0, 0.0, math.radians(60.0)))
    for other in bpy.context.view_layer.objects:
        other.select_set(other == obj)
    bpy.context.view_layer.objects.active = obj
    scene.frame_set(1)
    scene.cursor.location = CURSOR
    bpy.ops.mesh.primitive_cylinder_add(radius=0.12, depth=0.02, location=CURSOR)
    marker = bpy.context.active_object
    marker.color = (0.9, 0.1, 0.1, 1.0)
    bpy.context.view_layer.objects.active = obj
    for other in bpy.context.view_layer.objects:
        other.select_set(other == obj)
    assert bpy.ops.lmm.generate(action="walk", seed=args.seed, method="NEXT_FRAME", walk_to_cursor=True) == {"FINISHED"}
    motion = animate.read(obj, scene)
    last = scene.frame_current + motion.num_frames - 1
    end = motion.root_positions[-1]
    print(f"{motion.num_frames} frames; the pelvis ends over ({end[0]:.3f}, {-end[2]:.3f}), the cursor is at "
          f"({CURSOR[0]:.3f}, {CURSOR[1]:.3f})")

    # A fixed camera above and behind the start, looking over the walk; Workbench with object colours.
    mid = (np.array(obj.location[:2]) + np.array(CURSOR[:2])) / 2
    bpy.ops.object.camera_add(location=(mid[0] - 2.5, mid[1] - 5.5, 4.5))
    cam = bpy.context.active_object
    direction = Vector((mid[0], mid[1], 0.6)) - cam.location
    cam.rotation_euler = direction.to_track_quat("-Z", "Y").to_euler()
    scene.camera = cam
    bpy.ops.mesh.primitive_plane_add(size=60, location=(mid[0], mid[1], 0.0))
    scene.render.engine = "BLENDER_WORKBENCH"
    scene.display.shading.color_type = "OBJECT"
    scene.render.resolution_x, scene.render.resolution_y = 360, 300
    frames = np.linspace(1, last, 5).round().astype(int)
    from PIL import Image

    tiles = []
    with tempfile.TemporaryDirectory() as tmp:
        for f in frames:
            scene.frame_set(int(f))
            scene.render.filepath = str(Path(tmp) / f"f{f:04d}.png")
            bpy.ops.render.render(write_still=True)
            tiles.append(Image.open(scene.render.filepath).convert("RGB"))
    sheet = Image.new("RGB", (sum(t.width for t in tiles), tiles[0].height), "white")
    x = 0
    for t in tiles:
        sheet.paste(t, (x, 0))
        x += t.width
    args.out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(args.out)
    print(f"frames {', '.join(str(f) for f in frames)} -> {args.out}")


if __name__ == "__main__":
    main()
