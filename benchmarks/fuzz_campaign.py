"""A hostile and careless user's campaign against every ``lmm`` command (issue 22's measure).

Builds a few hundred malformed or extreme inputs (broken and truncated motion, model, calibration,
keypoint and job files; non-finite, negative and huge numbers; output paths that are folders, FIFOs,
device nodes, symlinks, read-only or missing), runs each as ``python -m lmm_core ...`` in a subprocess
with a time limit, and sorts the outcomes:

- ``clean``: the expected outcome. For a bad input: a non-zero exit, no traceback, the last line of
  stderr ``lmm <command>: error: ...`` and the only line that says ``error``, nothing written where the
  output was asked for (a file already there unchanged, no temporary file left). For a good input
  (a byte-order mark, a 0600 output file, a symlink to a file): exit 0 and an output that reads back.
- ``traceback``: a Python traceback on either stream.
- ``hang``: still running at the time limit (killed).
- ``silent``: exit status 0 for an input that should have been refused (garbage with status 0).
- ``messy``: refused, but not in one line, or after writing or changing an output, or a good input refused.

Usage::

    python benchmarks/fuzz_campaign.py [--only WORD] [--jobs 2] [--timeout 90] [--keep DIR] [--json OUT]
                                       [--write [--before BEFORE.json]]

``--only`` keeps the cases whose name contains WORD. ``--write`` puts the counts into BENCHMARKS.md (with
``--before``, next to those of an earlier run's ``--json``). The exit status is 1 when any case is not clean.
Memory per case is capped (``RLIMIT_AS``, 8 GiB) so a runaway case fails instead of taking the machine.
"""
from __future__ import annotations

import argparse
import concurrent.futures as cf
import gzip
import hashlib
import json
import lzma
import os
import pickle
import re
import resource
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

HOP = ROOT / "tests" / "data" / "cmu_131_03_hop_excerpt.bvh.xz"
MODEL = ROOT / "presets" / "models" / "lmm_default.npz"
MEMORY_CAP = 8 << 30


@dataclass
class Case:
    name: str
    argv: list[str]
    # "error" | "ok" | "any" (a clean error or a success whose outputs read back) | "task-failed" (lmm batch:
    # exit status 1, the task reported FAILED with a reason, nothing made)
    expect: str = "error"
    outputs: list[Path] = field(default_factory=list)  # must not be created or changed by a refused command
    check: Callable[[], str | None] | None = None  # after a success: None when fine, else what is wrong
    timeout: float | None = None
    memory: bool = True  # cap the address space (off for commands that start Blender or torch)
    sentinel: Path | None = None  # a file whose existence afterwards means code from a file ran


# ---- fixtures -----------------------------------------------------------------------------------------


def _hop_text(frames: int = 60) -> str:
    from lmm_core.io import read_bvh
    from lmm_core.io.bvh import format_bvh
    return format_bvh(read_bvh(HOP).slice(0, frames))


def _replace_line(text: str, prefix: str, line: str) -> str:
    out = []
    for old in text.splitlines():
        out.append(line if old.strip().lower().startswith(prefix.lower()) else old)
    return "\n".join(out) + "\n"


def _first_data_row(text: str, edit: Callable[[list[str]], list[str]]) -> str:
    lines = text.splitlines()
    i = next(k for k, ln in enumerate(lines) if ln.lower().startswith("frame time")) + 1
    lines[i] = " ".join(edit(lines[i].split()))
    return "\n".join(lines) + "\n"


def _one_joint_bvh(frames: int, frame_time: str = "0.0333333") -> str:
    head = "HIERARCHY\nROOT a\n{\n OFFSET 0 0 0\n CHANNELS 3 Xposition Yposition Zposition\n}\nMOTION\n"
    return head + f"Frames: {frames}\nFrame Time: {frame_time}\n" + "0 1 0\n" * frames


def _three_joint_bvh() -> str:
    return ("HIERARCHY\nROOT base\n{\n OFFSET 0 0 0\n CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation\n"
            " JOINT arm\n {\n  OFFSET 0 1 0\n  CHANNELS 3 Zrotation Xrotation Yrotation\n  JOINT hand\n  {\n"
            "   OFFSET 0 1 0\n   CHANNELS 3 Zrotation Xrotation Yrotation\n   End Site\n   {\n    OFFSET 0 0.2 0\n   }\n"
            "  }\n }\n}\nMOTION\nFrames: 10\nFrame Time: 0.0333333\n" + "0 0 0 0 0 0 0 0 0 0 0 0\n" * 10)


def _gzip_bomb(path: Path, size: int) -> None:
    head = _one_joint_bvh(1).split("Frames:")[0].encode()
    block = b"0 1 0\n" * (1 << 16)
    with gzip.open(path, "wb", compresslevel=1) as f:
        f.write(head + f"Frames: {size // 6}\nFrame Time: 0.01\n".encode())
        for _ in range(size // len(block)):
            f.write(block)


def _model_variants(d: Path) -> dict[str, Path]:
    """Broken copies of the shipped model, by name."""
    with np.load(MODEL) as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(arrays["meta"].tobytes().decode())
    out: dict[str, Path] = {}

    def save(name: str, data: dict, meta_obj=None, raw_meta: bytes | None = None) -> None:
        data = dict(data)
        if raw_meta is not None:
            data["meta"] = np.frombuffer(raw_meta, dtype=np.uint8)
        elif meta_obj is not None:
            data["meta"] = np.frombuffer(json.dumps(meta_obj).encode(), dtype=np.uint8)
        path = d / f"model_{name}.npz"
        with open(path, "wb") as f:
            np.savez(f, **data)
        out[name] = path

    def cfg(**changes):
        m = json.loads(json.dumps(meta))
        m["model_config"].update(changes)
        return m

    raw = MODEL.read_bytes()
    for name, n in (("truncated", 9_000_000), ("head", 300), ("tiny", 20)):
        p = d / f"model_{name}.npz"
        p.write_bytes(raw[:n])
        out[name] = p
    (d / "model_empty.npz").write_bytes(b"")
    out["empty"] = d / "model_empty.npz"
    np.save(d / "model_npy.npy", np.zeros((4, 4)))
    out["npy"] = d / "model_npy.npy"
    shutil.copy(d / "model_npy.npy", d / "model_npy_named.npz")
    out["npy_named"] = d / "model_npy_named.npz"
    (d / "model_text.npz").write_text("this is not a model\n")
    out["text"] = d / "model_text.npz"
    save("meta_garbage", arrays, raw_meta=b"\xff\xfe{not json")
    save("meta_list", arrays, [1, 2, 3])
    save("meta_no_config", arrays, {k: v for k, v in meta.items() if k != "model_config"})
    save("meta_format", arrays, {**meta, "format": "lmm-model-99"})
    save("no_meta", {k: v for k, v in arrays.items() if k != "meta"})
    save("config_type", arrays, cfg(d_model="wide"))
    save("config_negative", arrays, cfg(layers=-1))
    save("config_heads", arrays, cfg(heads=3))
    save("config_fps_nan", arrays, cfg(fps=float("nan")))
    save("config_max_frames", arrays, cfg(max_frames=0))
    save("config_unknown", arrays, cfg(colour="blue"))
    save("config_actions", arrays, cfg(actions=[1, 2]))
    save("config_body", arrays, cfg(body={"names": ["a"]}))
    save("missing_weight", {k: v for k, v in arrays.items() if k != "p.l0_qkv_w"})
    save("shape_weight", {**arrays, "p.in_w": arrays["p.in_w"].T.copy()})
    save("shape_head", {**arrays, "p.head_w": arrays["p.head_w"][:, :5].copy()})
    save("nan_weight", {**arrays, "p.l1_ff1_w": np.full_like(arrays["p.l1_ff1_w"], np.nan)})
    save("string_weight", {**arrays, "p.cls": np.array(["a"] * 256)})
    save("no_mean", {k: v for k, v in arrays.items() if k != "mean"})
    save("no_scale", {k: v for k, v in arrays.items() if k != "scale"})
    save("mean_shape", {**arrays, "mean": arrays["mean"][:10].copy()})
    save("std_zero", {**arrays, "std": np.zeros_like(arrays["std"])})
    save("bank_lengths", {**arrays, "bank_lengths": arrays["bank_lengths"] * 3})
    save("bank_action", {**arrays, "bank_action": np.full_like(arrays["bank_action"], 999)})
    save("bank_nan", {**arrays, "bank_root": np.full_like(arrays["bank_root"], np.nan)})
    # A member holding Python objects (needs pickle to read).
    p = d / "model_objects.npz"
    with zipfile.ZipFile(p, "w") as zf:
        for k, v in arrays.items():
            with zf.open(k + ".npy", "w") as f:
                np.lib.format.write_array(f, v)
        with zf.open("p.extra.npy", "w") as f:
            np.lib.format.write_array(f, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    out["objects"] = p
    # A member that inflates to 3 GiB (an array header claiming it, zeros compressed).
    p = d / "model_bomb.npz"
    with zipfile.ZipFile(p, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        with zf.open("meta.npy", "w") as f:
            np.lib.format.write_array(f, arrays["meta"])
        with zf.open("mean.npy", "w", force_zip64=True) as f:
            n = 3 << 30
            np.lib.format.write_array_header_1_0(f, {"descr": "<f8", "fortran_order": False, "shape": (n // 8,)})
            zero = bytes(1 << 24)
            for _ in range(n // len(zero)):
                f.write(zero)
    out["bomb"] = p
    return out


class _Payload:
    """Unpickling this runs ``touch <sentinel>``: proof that a file was unpickled."""

    def __init__(self, sentinel: Path):
        self.sentinel = sentinel

    def __reduce__(self):
        return (os.system, (f"touch {self.sentinel}",))


def _capture_fixtures(d: Path) -> dict[str, Path]:
    from lmm_core.capture import synthetic as S
    from lmm_core.capture.calibration import Calibration, write_calibration
    from lmm_core.capture.cameras import Camera
    from lmm_core.capture.keypoints import COCO17, Keypoints2D, write_npz

    m = S.source_motion(HOP, fps=30.0)
    P = S.keypoints_3d(m, COCO17)
    cal = S.camera_ring(3, P, seed=0)
    kp, _ = S.render(P, cal, COCO17, S.Corruption(max_offset=0), seed=1, fps=30.0)
    f: dict[str, Path] = {}
    write_calibration(cal, d / "calib.toml")
    write_npz(kp, d / "kp.npz")
    f["calib"], f["kp"] = d / "calib.toml", d / "kp.npz"
    text = (d / "calib.toml").read_text()
    (d / "calib_bom.toml").write_bytes(b"\xef\xbb\xbf" + text.encode())
    f["calib_bom"] = d / "calib_bom.toml"
    (d / "calib_garbage.toml").write_text("cameras = [[[\n")
    f["calib_garbage"] = d / "calib_garbage.toml"
    (d / "calib_inf.toml").write_text(text.replace("translation = [", "translation = [inf, ", 1).replace("[inf, ", "[inf, 0, 0] # ", 1))
    f["calib_inf"] = d / "calib_inf.toml"
    (d / "calib_huge_focal.toml").write_text(re.sub(r"matrix = \[\[[0-9.]+", "matrix = [[1e300", text, count=1))
    f["calib_huge_focal"] = d / "calib_huge_focal.toml"
    # Two cameras at one place (the same camera twice under two names), footage to match.
    c1 = cal.cameras[0]
    same = Calibration((c1, Camera("cam2", c1.K, c1.dist, c1.R, c1.t, c1.size)), "y")
    kp2, _ = S.render(P, same, COCO17, S.Corruption(max_offset=0), seed=1, fps=30.0)
    write_calibration(same, d / "calib_same.toml")
    write_npz(kp2, d / "kp_same.npz")
    f["calib_same"], f["kp_same"] = d / "calib_same.toml", d / "kp_same.npz"
    # Two cameras 2 mm apart, looking the same way.
    near = Calibration((c1, Camera("cam2", c1.K, c1.dist, c1.R, c1.t + np.array([0.002, 0, 0]), c1.size)), "y")
    kp3, _ = S.render(P, near, COCO17, S.Corruption(max_offset=0), seed=1, fps=30.0)
    write_calibration(near, d / "calib_near.toml")
    write_npz(kp3, d / "kp_near.npz")
    f["calib_near"], f["kp_near"] = d / "calib_near.toml", d / "kp_near.npz"
    # Keypoints swapped between cameras (cam1's detections filed as cam2's and the reverse).
    swapped = kp.data[[1, 0, 2]]
    write_npz(Keypoints2D(swapped, COCO17, kp.cameras, kp.fps, None), d / "kp_swapped.npz")
    f["kp_swapped"] = d / "kp_swapped.npz"
    data = kp.data.copy()
    data[0, 5, 3, 0] = np.nan
    write_npz(Keypoints2D(data, COCO17, kp.cameras, kp.fps, None), d / "kp_nan.npz")
    f["kp_nan"] = d / "kp_nan.npz"
    data = kp.data.copy()
    data[1, :, :, :2] = 1e300
    write_npz(Keypoints2D(data, COCO17, kp.cameras, kp.fps, None), d / "kp_huge.npz")
    f["kp_huge"] = d / "kp_huge.npz"
    np.savez(d / "kp_fps_inf.npz", keypoints=kp.data, cameras=np.array(kp.cameras), fps=np.array(np.inf))
    f["kp_fps_inf"] = d / "kp_fps_inf.npz"
    np.savez(d / "kp_fps_tiny.npz", keypoints=kp.data, cameras=np.array(kp.cameras), fps=np.array(1e-300))
    f["kp_fps_tiny"] = d / "kp_fps_tiny.npz"
    np.savez(d / "kp_shape.npz", keypoints=np.zeros((3, 10, 17)))
    f["kp_shape"] = d / "kp_shape.npz"
    np.savez(d / "kp_zero.npz", keypoints=np.zeros((3, 0, 17, 3)), cameras=np.array(kp.cameras))
    f["kp_zero"] = d / "kp_zero.npz"
    np.savez(d / "kp_one_cam.npz", keypoints=kp.data[:1], cameras=np.array(kp.cameras[:1]))
    f["kp_one_cam"] = d / "kp_one_cam.npz"
    np.savez(d / "kp_conf_neg.npz", keypoints=kp.data * np.array([1, 1, -1]), cameras=np.array(kp.cameras))
    f["kp_conf_neg"] = d / "kp_conf_neg.npz"
    np.savez(d / "kp_strings.npz", keypoints=np.array([["a"]]))
    f["kp_strings"] = d / "kp_strings.npz"
    (d / "kp_garbage.npz").write_bytes(os.urandom(3000))
    f["kp_garbage"] = d / "kp_garbage.npz"
    with open(d / "kp_pickle.npz", "wb") as fh:
        pickle.dump(_Payload(d / "PWNED_capture"), fh)
    f["kp_pickle"] = d / "kp_pickle.npz"
    for name, content in (("garbage", b"{{{"), ("bom", b"\xef\xbb\xbf" + json.dumps({"people": []}).encode()),
                          ("deep", b"[" * 100000 + b"]" * 100000), ("nan", json.dumps({"people": [{"pose_keypoints_2d": [float("nan")] * 75}]}).encode())):
        for cam in ("cam1", "cam2", "cam3"):
            folder = d / f"json_{name}" / cam
            folder.mkdir(parents=True)
            (folder / f"video_{0:012d}_keypoints.json").write_bytes(content)
        f[f"json_{name}"] = d / f"json_{name}"
    (d / "json_empty" / "cam1").mkdir(parents=True)
    (d / "json_empty" / "cam2").mkdir(parents=True)
    f["json_empty"] = d / "json_empty"
    return f


def _job(d: Path, name: str, body: str, bom: bool = False) -> Path:
    path = d / f"job_{name}.toml"
    text = f'[job]\noutput = "{d / ("batch_out_" + name)}"\n' + body
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode())
    return path


def build_fixtures(d: Path) -> dict:
    from lmm_core.io import read_bvh
    from lmm_core.io.bvh import format_bvh

    fx: dict = {"dir": d}
    hop = _hop_text(60)
    (d / "hop.bvh").write_text(hop)
    fx["hop"] = d / "hop.bvh"
    fx["hop_xz"] = HOP
    bvh: dict[str, bytes] = {}
    enc = str.encode
    bvh["empty"] = b""
    bvh["garbage"] = os.urandom(5000)
    bvh["nul"] = enc(hop[:400]) + b"\0" * 50 + enc(hop[400:])
    for frac in (0.02, 0.1, 0.5, 0.9, 0.999):
        bvh[f"truncated_{frac}"] = enc(hop[: int(len(hop) * frac)])
    for tag, value in (("5e-324", "5e-324"), ("1e300", "1e300"), ("1e-300", "1e-300"), ("zero", "0"), ("neg", "-0.1"),
                       ("nan", "nan"), ("inf", "inf"), ("word", "fast"), ("1e-6", "0.000001"), ("1000", "1000"),
                       ("negzero", "-0"), ("empty", "")):
        bvh[f"frametime_{tag}"] = enc(_replace_line(hop, "Frame Time:", f"Frame Time: {value}"))
    for tag, value in (("neg", "-1"), ("huge", "99999999999999999999"), ("zero", "0"), ("float", "60.0"),
                       ("more", "61"), ("fewer", "59"), ("billion", "1000000000")):
        bvh[f"frames_{tag}"] = enc(_replace_line(hop, "Frames:", f"Frames: {value}"))
    lines = hop.splitlines()
    k = next(i for i, ln in enumerate(lines) if "OFFSET" in ln)
    for tag, v in (("inf", "1e999"), ("nan", "nan"), ("huge", "1e300")):
        ls = list(lines)
        ls[k] = ls[k].split("OFFSET")[0] + f"OFFSET {v} 0 0"
        bvh[f"offset_{tag}"] = enc("\n".join(ls) + "\n")
    for tag, v in (("huge", "1e300"), ("big", "1e12"), ("nan", "nan"), ("inf", "inf")):
        bvh[f"position_{tag}"] = enc(_first_data_row(hop, lambda r: [v] + r[1:]))
        bvh[f"angle_{tag}"] = enc(_first_data_row(hop, lambda r: r[:3] + [v] + r[4:]))
    bvh["channels_huge"] = enc(hop.replace("CHANNELS 6", "CHANNELS 99999999999", 1))
    bvh["channels_neg"] = enc(hop.replace("CHANNELS 6", "CHANNELS -6", 1))
    bvh["no_motion"] = enc(hop.split("MOTION")[0])
    bvh["two_roots"] = enc(hop.replace("MOTION", "ROOT extra\n{\n OFFSET 0 0 0\n}\nMOTION", 1))
    bvh["bom"] = b"\xef\xbb\xbf" + enc(hop)
    bvh["utf16"] = hop.encode("utf-16")
    bvh["crlf"] = enc(hop.replace("\n", "\r\n"))
    bvh["latin1_name"] = hop.replace("Hips", "H\u00e9ps").encode("latin-1")
    deep = "HIERARCHY\nROOT j0\n{\n OFFSET 0 0 0\n CHANNELS 3 Zrotation Xrotation Yrotation\n"
    n = 3000
    for i in range(1, n):
        deep += f"JOINT j{i}\n{{\n OFFSET 0 0.001 0\n CHANNELS 3 Zrotation Xrotation Yrotation\n"
    deep += "}\n" * n + f"MOTION\nFrames: 2\nFrame Time: 0.0333333\n" + (" ".join(["0"] * (3 * n)) + "\n") * 2
    bvh["deep_chain"] = enc(deep)
    bvh["many_frames"] = enc(_one_joint_bvh(300_000))
    bvh["one_joint"] = enc(_one_joint_bvh(10))
    bvh["one_frame"] = enc(_replace_line(hop, "Frames:", "Frames: 1").split("MOTION")[0] + "MOTION\nFrames: 1\nFrame Time: 0.0083333\n"
                           + hop.split("Frame Time:")[1].split("\n", 1)[1].splitlines()[0] + "\n")
    bvh["dup_joint"] = enc(hop.replace("JOINT LeftUpLeg", "JOINT Hips", 1))
    bvh["three_joint"] = enc(_three_joint_bvh())
    for name, data in bvh.items():
        (d / f"bad_{name}.bvh").write_bytes(data)
    fx["bvh"] = {name: d / f"bad_{name}.bvh" for name in bvh}
    # Compressed ones.
    (d / "bad_gz_garbage.bvh.gz").write_bytes(os.urandom(2000))
    (d / "bad_xz_truncated.bvh.xz").write_bytes(lzma.compress(hop.encode())[:500])
    (d / "bad_gz_truncated.bvh.gz").write_bytes(gzip.compress(hop.encode())[:700])
    _gzip_bomb(d / "bad_gz_bomb.bvh.gz", 1 << 30)
    fx["bvh"].update({"gz_garbage": d / "bad_gz_garbage.bvh.gz", "xz_truncated": d / "bad_xz_truncated.bvh.xz",
                      "gz_truncated": d / "bad_gz_truncated.bvh.gz", "gz_bomb": d / "bad_gz_bomb.bvh.gz"})
    (d / "a_folder.bvh").mkdir()
    fx["bvh"]["folder"] = d / "a_folder.bvh"
    os.mkfifo(d / "fifo_in.bvh")
    fx["bvh"]["fifo"] = d / "fifo_in.bvh"
    os.symlink(d / "loop_b.bvh", d / "loop_a.bvh")
    os.symlink(d / "loop_a.bvh", d / "loop_b.bvh")
    fx["bvh"]["symlink_loop"] = d / "loop_a.bvh"
    fx["bvh"]["missing"] = d / "no_such_file.bvh"
    fx["tiny_time"] = d / "bad_frametime_1e-6.bvh"
    fx["models"] = _model_variants(d)
    with open(d / "model_pickle.npz", "wb") as fh:
        pickle.dump(_Payload(d / "PWNED_model"), fh)
    fx["models"]["pickle"] = d / "model_pickle.npz"
    fx["sentinel_model"] = d / "PWNED_model"
    fx["sentinel_capture"] = d / "PWNED_capture"
    fx["capture"] = _capture_fixtures(d)
    # Bone map files.
    (d / "map_garbage.toml").write_text("[[[[")
    (d / "map_bom.toml").write_bytes(b"\xef\xbb\xbf" + (ROOT / "presets" / "rigs" / "cmu.toml").read_bytes()
                                     if (ROOT / "presets" / "rigs" / "cmu.toml").is_file() else b"\xef\xbb\xbf[x]\n")
    fx["map_garbage"], fx["map_bom"] = d / "map_garbage.toml", d / "map_bom.toml"
    # Benchmark statistics.
    np.savez(d / "stats_nan.npz", x_mean=np.full(66, np.nan), x_std=np.ones(66))
    with open(d / "stats_pickle.npz", "wb") as fh:
        pickle.dump(_Payload(d / "PWNED_stats"), fh)
    fx["stats_nan"], fx["stats_pickle"], fx["sentinel_stats"] = d / "stats_nan.npz", d / "stats_pickle.npz", d / "PWNED_stats"
    (d / "empty_dir").mkdir()
    fx["empty_dir"] = d / "empty_dir"
    (d / "a_file").write_text("x")
    fx["a_file"] = d / "a_file"
    fx["jobs"] = _job_fixtures(d, fx)
    return fx


def _job_fixtures(d: Path, fx: dict) -> dict[str, Path]:
    hop = fx["hop"]
    gen = '[[task]]\ntype = "generate"\naction = "walk"\n'
    inb = f'[[task]]\ntype = "inbetween"\ninput = "{hop}"\n'
    jobs: dict[str, Path] = {}

    def add(name: str, body: str, bom: bool = False) -> None:
        jobs[name] = _job(d, name, body, bom)

    add("ok", gen + "seconds = 1\n")
    add("bom", gen + "seconds = 1\n", bom=True)
    add("garbage", "[[[task\n")
    add("seconds_inf", gen + "seconds = inf\n")
    add("seconds_nan", gen + "seconds = nan\n")
    add("seconds_huge", gen + "seconds = 1e12\n")
    add("seed_neg", gen + "seed = -1\n")
    add("seed_huge", gen + "seed = 9223372036854775807\n")
    add("variation_nan", gen + "variation = nan\n")
    add("fps_inf", gen + "fps = inf\n")
    add("fps_nan", gen + "fps = nan\n")
    add("fps_huge", gen + "fps = 1e9\n")
    jobs["fps_job_inf"] = d / "job_fps_job_inf.toml"
    jobs["fps_job_inf"].write_text(f'[job]\noutput = "{d / "batch_out_fps_job_inf"}"\nfps = inf\n' + gen)
    add("ids_case", gen + 'id = "Walk"\n' + gen + 'id = "walk"\n')
    add("character_nonhuman", gen + f'character = "{fx["bvh"]["three_joint"]}"\n')
    add("character_garbage", gen + f'character = "{fx["bvh"]["garbage"]}"\n')
    add("keys_range", inb + "keys = [0, 500]\n")
    add("keys_huge", inb + "keys = [0, 9223372036854775807]\n")
    add("keys_dup", inb + "keys = [5, 5]\n")
    add("gap_range", inb + "gap = [10, 900]\n")
    add("range_past", f'[[task]]\ntype = "retarget"\ninput = "{hop}"\nrange = [0, 10000]\n')
    add("input_garbage", f'[[task]]\ntype = "retarget"\ninput = "{fx["bvh"]["garbage"]}"\n')
    add("input_truncated", f'[[task]]\ntype = "mirror"\ninput = "{fx["bvh"]["truncated_0.5"]}"\n')
    add("input_nonhuman", f'[[task]]\ntype = "retarget"\ninput = "{fx["bvh"]["three_joint"]}"\n')
    add("input_fbx_garbage", f'[[task]]\ntype = "retarget"\ninput = "{d / "garbage.fbx"}"\n')
    (d / "garbage.fbx").write_bytes(os.urandom(1000))
    add("frames_huge", f'[[task]]\ntype = "complete"\ninput = "{hop}"\nframes = 1000000000\n')
    add("model_truncated", gen + f'model = "{fx["models"]["truncated"]}"\n')
    add("model_missing_weight", gen + f'model = "{fx["models"]["missing_weight"]}"\n')
    add("model_pickle", gen + f'model = "{fx["models"]["pickle"]}"\n')
    add("preview_fps_inf", gen + 'outputs = ["preview"]\n[preview]\nfps = inf\n')
    add("preview_seconds_nan", gen + '[preview]\nseconds = nan\n')
    add("unknown_key", gen + "speed = 3\n")
    add("source_map_garbage", f'[[task]]\ntype = "retarget"\ninput = "{hop}"\nsource_map = "{fx["map_garbage"]}"\n')
    add("utf16", "")
    jobs["utf16"].write_bytes(('[job]\n' + gen).encode("utf-16"))
    add("binary", "")
    jobs["binary"].write_bytes(os.urandom(3000))
    return jobs


# ---- output path traps ----------------------------------------------------------------------------------


def _snapshot(path: Path):
    try:
        st = os.lstat(path)
    except OSError:  # missing, or a name the file system cannot hold
        return None
    digest = None
    if stat.S_ISREG(st.st_mode):
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
    target = os.readlink(path) if stat.S_ISLNK(st.st_mode) else None
    return (stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode), digest, target)


def _temps(folder: Path) -> list[str]:
    try:
        return sorted(p.name for p in folder.iterdir() if p.name.startswith(".") and ".tmp" in p.name)
    except OSError:
        return []


def _reads_back(path: Path) -> Callable[[], str | None]:
    def check() -> str | None:
        from lmm_core.errors import LMMError
        from lmm_core.io import read_bvh
        try:
            m = read_bvh(path)
        except LMMError as exc:
            return f"the output does not read back: {exc}"
        if not np.all(np.isfinite(m.rotations)) or not np.all(np.isfinite(m.root_positions)):
            return "the output holds non-finite values"
        return None
    return check


def output_traps(fx: dict, tag: str) -> list[tuple[str, Path, str, Callable[[], str | None] | None]]:
    """``(name, output path, expectation, check)`` for one writing command (a fresh folder per command)."""
    d = fx["dir"] / f"traps_{tag}"
    d.mkdir()
    traps: list = []
    traps.append(("out_missing_folder", d / "no" / "such" / "out.bvh", "error", None))
    (d / "is_dir.bvh").mkdir()
    traps.append(("out_is_folder", d / "is_dir.bvh", "error", None))
    os.mkfifo(d / "fifo.bvh")
    traps.append(("out_fifo", d / "fifo.bvh", "error", None))
    try:
        os.mknod(d / "null.bvh", 0o666 | stat.S_IFCHR, os.makedev(1, 3))
        traps.append(("out_device", d / "null.bvh", "error", None))
    except (PermissionError, OSError):
        pass
    traps.append(("out_proc", Path("/proc/lmm_fuzz_out.bvh"), "error", None))
    traps.append(("out_sys", Path("/sys/lmm_fuzz_out.bvh"), "error", None))
    traps.append(("out_long_name", d / ("x" * 300 + ".bvh"), "error", None))
    traps.append(("out_parent_is_file", fx["a_file"] / "out.bvh", "error", None))
    (d / "private.bvh").write_text("old\n")
    os.chmod(d / "private.bvh", 0o600)

    def keeps_mode(path=d / "private.bvh"):
        mode = stat.S_IMODE(os.stat(path).st_mode)
        return None if mode == 0o600 else f"the output's mode became {oct(mode)}, was 0o600"
    traps.append(("out_mode_0600", d / "private.bvh", "ok", keeps_mode))
    (d / "target.bvh").write_text("old\n")
    os.symlink(d / "target.bvh", d / "link.bvh")

    def keeps_link(link=d / "link.bvh"):
        if not os.path.islink(link):
            return "the symlink was replaced by a regular file"
        return _reads_back(link)()
    traps.append(("out_symlink", d / "link.bvh", "ok", keeps_link))
    os.symlink(d / "nowhere" / "x.bvh", d / "dangling.bvh")
    traps.append(("out_dangling_symlink", d / "dangling.bvh", "error", None))
    stale = d / ".stale.bvh.12345678.tmp.bvh"
    stale.write_text("left by a killed run\n")
    old = time.time() - 3 * 86400
    os.utime(stale, (old, old))

    def cleans(folder=d, path=d / "stale.bvh"):
        left = [n for n in _temps(folder) if n.startswith(".stale.bvh.")]
        return (f"stale temporary files left: {left}" if left else None) or _reads_back(path)()
    traps.append(("out_stale_temp", d / "stale.bvh", "ok", cleans))
    return traps


# ---- the cases ----------------------------------------------------------------------------------------


def cases(fx: dict) -> list[Case]:
    d: Path = fx["dir"]
    out = d / "out"
    out.mkdir()
    hop, hop_s = fx["hop"], str(fx["hop"])
    bvh = fx["bvh"]
    models = fx["models"]
    cap = fx["capture"]
    cs: list[Case] = []

    def o(name: str, suffix: str = ".bvh") -> Path:
        return out / f"{name}{suffix}"

    def add(name, argv, expect="error", outputs=(), check=None, timeout=None, memory=True, sentinel=None):
        cs.append(Case(name, [str(a) for a in argv], expect, [Path(p) for p in outputs], check, timeout, memory, sentinel))

    good_ok = {"bom", "crlf", "latin1_name", "one_frame", "one_joint", "deep_chain"}
    any_ok = {"angle_big", "position_big", "utf16", "dup_joint", "three_joint", "frames_float"}
    # info: every broken motion file
    for name, path in bvh.items():
        expect = "ok" if name in good_ok else "any" if name in any_ok else "error"
        add(f"info/{name}", ["info", path], expect, timeout=120 if "bomb" in name else None)
    add("info/many_one_bad", ["info", hop, bvh["garbage"]])
    # convert: motion files, numbers, outputs
    for name in ("truncated_0.5", "frametime_1e-300", "frametime_5e-324", "frametime_1e300", "position_huge",
                 "angle_huge", "gz_bomb", "fifo", "bom", "crlf", "utf16", "frames_more", "many_frames", "deep_chain"):
        expect = "ok" if name in good_ok else "any" if name in any_ok else "error"
        target = o(f"convert_{name}")
        add(f"convert/in_{name}", ["convert", bvh[name], target], expect, [target] if expect == "error" else [],
            _reads_back(target), timeout=120 if "bomb" in name else None)
    target = o("convert_tiny_time")
    add("convert/tiny_frame_time", ["convert", fx["tiny_time"], target], "any", [], _reads_back(target))
    for flag, values in (("--fps", ["1e9", "inf", "nan", "0", "-30", "1e-300", "1e-9", "100000", "-0"]),
                         ("--scale", ["inf", "nan", "0", "-1", "1e300", "1e-300", "1e-12"]),
                         ("--order", ["abc", "xxy", ""])):
        for v in values:
            target = o(f"convert{flag}{v}")
            add(f"convert/{flag}={v}", ["convert", hop, target, flag, v], "error", [target])
    for tname, path, expect, check in output_traps(fx, "convert"):
        add(f"convert/{tname}", ["convert", hop, path], expect, [path] if expect == "error" else [],
            check or _reads_back(path))
    target = o("convert_same")
    shutil.copy(hop, target)
    add("convert/onto_itself", ["convert", target, target, "--fps", "30"], "ok", [], _reads_back(target))
    # retarget
    for name in ("garbage", "truncated_0.5", "three_joint", "one_joint", "frametime_nan", "gz_bomb", "bom"):
        expect = "ok" if name == "bom" else "error"
        target = o(f"retarget_{name}")
        add(f"retarget/in_{name}", ["retarget", bvh[name], "--to", "canonical", "-o", target], expect,
            [target] if expect == "error" else [], _reads_back(target), timeout=120 if "bomb" in name else None)
    for name, to in (("missing", d / "nope.bvh"), ("garbage", bvh["garbage"]), ("three_joint", bvh["three_joint"]),
                     ("folder", fx["empty_dir"]), ("fifo", bvh["fifo"]), ("empty_name", "")):
        target = o(f"retarget_to_{name}")
        add(f"retarget/to_{name}", ["retarget", hop, "--to", to, "-o", target], "error", [target])
    for name, m in (("garbage", fx["map_garbage"]), ("missing", d / "nope.toml"), ("folder", fx["empty_dir"]),
                    ("unknown_preset", "no_such_rig")):
        target = o(f"retarget_map_{name}")
        add(f"retarget/source_map_{name}", ["retarget", hop, "--to", "canonical", "-o", target, "--source-map", m],
            "error", [target])
    for tname, path, expect, check in output_traps(fx, "retarget"):
        add(f"retarget/{tname}", ["retarget", hop, "--to", "canonical", "-o", path], expect,
            [path] if expect == "error" else [], check or _reads_back(path))
    # mirror
    for name in ("garbage", "one_joint", "three_joint", "frametime_zero", "bom"):
        expect = "ok" if name == "bom" else "any" if name in ("one_joint", "three_joint") else "error"
        target = o(f"mirror_{name}")
        add(f"mirror/in_{name}", ["mirror", bvh[name], "-o", target], expect, [target] if expect == "error" else [],
            _reads_back(target))
    for tname, path, expect, check in output_traps(fx, "mirror"):
        add(f"mirror/{tname}", ["mirror", hop, "-o", path], expect, [path] if expect == "error" else [],
            check or _reads_back(path))
    # dataset
    for name, argv in (("jobs_zero", ["--jobs", "0"]), ("jobs_neg", ["--jobs", "-1"]), ("jobs_huge", ["--jobs", "100000"]),
                       ("data_missing", ["--data", d / "nope"]), ("data_file", ["--data", fx["a_file"]]),
                       ("data_empty", ["--data", fx["empty_dir"]]), ("sources_bogus", ["--sources", "nosuch"])):
        target = out / f"dataset_{name}"
        add(f"dataset/{name}", ["dataset", "build", "--out", target, *argv], "error", [target])
    add("dataset/out_is_file", ["dataset", "build", "--out", fx["a_file"], "--sources", "cmu"], "error")
    add("dataset/out_proc", ["dataset", "build", "--out", "/proc/lmm_fuzz", "--sources", "cmu"], "error")
    # model commands: every broken model file
    for name, path in models.items():
        target = o(f"generate_model_{name}")
        add(f"generate/model_{name}", ["generate", "--action", "walk", "--seconds", "1", "--model", path, "-o", target],
            "error", [target], sentinel=fx["sentinel_model"], timeout=180 if name == "bomb" else None)
    for name in ("truncated", "empty", "npy", "meta_garbage", "meta_no_config", "missing_weight", "shape_weight",
                 "nan_weight", "pickle", "objects"):
        target = o(f"inbetween_model_{name}")
        add(f"inbetween/model_{name}", ["inbetween", hop, "--keys", "0,30", "--model", models[name], "-o", target],
            "error", [target], sentinel=fx["sentinel_model"])
        target = o(f"complete_model_{name}")
        add(f"complete/model_{name}", ["complete", hop, "--frames", "10", "--model", models[name], "-o", target],
            "error", [target], sentinel=fx["sentinel_model"])
        add(f"intent/model_{name}", ["intent", hop, "--model", models[name]], "error", sentinel=fx["sentinel_model"])
    # generate: numbers and labels
    for flag, values in (("--seconds", ["inf", "nan", "1e9", "-1", "0", "1e-9", "1e308", "-inf"]),
                         ("--seed", ["-1", "18446744073709551616", "99999999999999999999999"]),
                         ("--variation", ["nan", "inf", "2", "-0.5"]),
                         ("--action", ["", "nosuchaction", "walk\n"]),
                         ("--style", ["nosuchstyle"])):
        for v in values:
            target = o(f"generate{flag}{abs(hash(v))}")
            argv = ["generate", "--action", "walk", "-o", target, flag, v] if flag != "--action" else ["generate", "--action", v, "-o", target]
            add(f"generate/{flag}={v!r}", argv, "error", [target])
    target = o("generate_ok_seed")
    add("generate/seed_large_ok", ["generate", "--action", "walk", "--seconds", "0.5", "--seed", "4294967296", "-o", target],
        "any", [], _reads_back(target))
    for name, rig in (("missing", d / "nope.bvh"), ("garbage", bvh["garbage"]), ("three_joint", bvh["three_joint"])):
        target = o(f"generate_rig_{name}")
        add(f"generate/rig_{name}", ["generate", "--action", "walk", "--seconds", "1", "--rig", rig, "-o", target], "error", [target])
    for tname, path, expect, check in output_traps(fx, "generate"):
        add(f"generate/{tname}", ["generate", "--action", "walk", "--seconds", "0.5", "-o", path], expect,
            [path] if expect == "error" else [], check or _reads_back(path))
    # inbetween: keys and inputs
    for v in ("5,5", "0,99999999999999999999999", "-1,5", "0,abc", "0", "", ",,,", "0,1e3", "0,5000", "0,-5",
              "0;30", "30,30,30", "0,59,60", "9223372036854775807,0"):
        target = o(f"inbetween_keys{abs(hash(v))}")
        add(f"inbetween/keys={v!r}", ["inbetween", hop, "--keys", v, "-o", target], "error", [target])
    target = o("inbetween_keys_unsorted")
    add("inbetween/keys_unsorted_ok", ["inbetween", hop, "--keys", "40,0,20", "-o", target], "ok", [], _reads_back(target))
    for name in ("garbage", "truncated_0.9", "one_joint", "three_joint", "frametime_1e-300", "position_huge", "gz_bomb"):
        target = o(f"inbetween_in_{name}")
        add(f"inbetween/in_{name}", ["inbetween", bvh[name], "--keys", "0,5", "-o", target], "error", [target],
            timeout=120 if "bomb" in name else None)
    for flag, v in (("--action", "nosuch"), ("--style", "nosuch")):
        target = o(f"inbetween{flag}")
        add(f"inbetween/{flag}={v}", ["inbetween", hop, "--keys", "0,30", flag, v, "-o", target], "error", [target])
    for tname, path, expect, check in output_traps(fx, "inbetween"):
        add(f"inbetween/{tname}", ["inbetween", hop, "--keys", "0,30", "-o", path], expect,
            [path] if expect == "error" else [], check or _reads_back(path))
    # complete
    for v in ("0", "-5", "1000000000", "99999999999999999999", "abc", "1e3"):
        target = o(f"complete_frames{abs(hash(v))}")
        add(f"complete/frames={v}", ["complete", hop, "--frames", v, "-o", target], "error", [target])
    for name in ("garbage", "one_joint", "frametime_1e-300", "frametime_1000"):
        target = o(f"complete_in_{name}")
        add(f"complete/in_{name}", ["complete", bvh[name], "--frames", "10", "-o", target], "error", [target])
    for tname, path, expect, check in output_traps(fx, "complete"):
        add(f"complete/{tname}", ["complete", hop, "--frames", "10", "-o", path], expect,
            [path] if expect == "error" else [], check or _reads_back(path))
    # intent
    for flag, values in (("--seconds", ["nan", "inf", "-1", "0", "1e9", "1e-9"]), ("--top", ["-1", "0", "99999999999999999999"])):
        for v in values:
            add(f"intent/{flag}={v}", ["intent", hop, flag, v], "error")
    for name in ("garbage", "one_joint", "three_joint", "frametime_nan", "fifo"):
        add(f"intent/in_{name}", ["intent", bvh[name]], "error")
    # capture
    c = cap
    target = o("capture_ok")
    add("capture/ok", ["capture", c["calib"], c["kp"], "-o", target], "ok", [], _reads_back(target))
    target = o("capture_bom")
    add("capture/calib_bom", ["capture", c["calib_bom"], c["kp"], "-o", target], "ok", [], _reads_back(target))
    for name in ("kp_nan", "kp_huge"):  # unreadable detections count as missing ones
        target = o(f"capture_{name}")
        add(f"capture/{name}", ["capture", c["calib"], c[name], "-o", target], "any", [], _reads_back(target))
    for name, calib, kp in (("same_place", c["calib_same"], c["kp_same"]), ("two_mm_apart", c["calib_near"], c["kp_near"]),
                            ("swapped_cameras", c["calib"], c["kp_swapped"]), ("calib_garbage", c["calib_garbage"], c["kp"]),
                            ("calib_inf", c["calib_inf"], c["kp"]), ("calib_huge_focal", c["calib_huge_focal"], c["kp"]),
                            ("calib_missing", d / "nope.toml", c["kp"]), ("calib_bvh", hop, c["kp"]),
                            ("calib_folder_empty", fx["empty_dir"], c["kp"]),
                            ("swapped_no_sync", c["calib"], c["kp_swapped"]),
                            ("kp_fps_inf", c["calib"], c["kp_fps_inf"]), ("kp_fps_tiny", c["calib"], c["kp_fps_tiny"]),
                            ("kp_shape", c["calib"], c["kp_shape"]), ("kp_zero_frames", c["calib"], c["kp_zero"]),
                            ("kp_one_camera", c["calib"], c["kp_one_cam"]), ("kp_conf_negative", c["calib"], c["kp_conf_neg"]),
                            ("kp_strings", c["calib"], c["kp_strings"]), ("kp_garbage", c["calib"], c["kp_garbage"]),
                            ("kp_pickle", c["calib"], c["kp_pickle"]), ("kp_missing", c["calib"], d / "nope.npz"),
                            ("json_garbage", c["calib"], c["json_garbage"]), ("json_bom_empty", c["calib"], c["json_bom"]),
                            ("json_deep", c["calib"], c["json_deep"]), ("json_nan", c["calib"], c["json_nan"]),
                            ("json_empty", c["calib"], c["json_empty"])):
        target = o(f"capture_{name}")
        extra = ["--no-sync"] if name == "swapped_no_sync" else []
        add(f"capture/{name}", ["capture", calib, kp, "-o", target, *extra], "error", [target],
            sentinel=fx["sentinel_capture"])
    for flag, values in (("--fps", ["inf", "nan", "0", "1e9", "-30"]), ("--max-offset", ["-1", "1000000000", "99999999999999999999"]),
                         ("--threshold", ["nan", "inf", "0", "-1"]), ("--smooth", ["nan", "inf", "-1", "1e9"]),
                         ("--min-pause", ["nan", "-1", "inf"]), ("--pause-speed", ["nan", "-1", "inf"])):
        for v in values:
            target = o(f"capture{flag}{abs(hash(v))}")
            extra = ["--split"] if flag in ("--min-pause", "--pause-speed") else []
            add(f"capture/{flag}={v}", ["capture", c["calib"], c["kp"], "-o", target, flag, v, *extra], "error", [target])
    for tname, path, expect, check in output_traps(fx, "capture"):
        add(f"capture/{tname}", ["capture", c["calib"], c["kp"], "-o", path], expect, [path] if expect == "error" else [],
            check or _reads_back(path))
    # train (torch: no address-space cap)
    corpus = d / "no_corpus"
    for name in ("truncated", "empty", "meta_no_config", "missing_weight", "shape_weight", "pickle"):
        add(f"train/init_from_{name}", ["train", "--corpus", corpus, "--out", out / f"train_{name}", "--init-from",
                                        models[name], "--steps", "1"], "error", [out / f"train_{name}"], memory=False,
            sentinel=fx["sentinel_model"])
    for flag, v in (("--lr", "nan"), ("--lr", "inf"), ("--steps", "-1"), ("--batch", "0"), ("--threads", "0")):
        add(f"train/{flag}={v}", ["train", "--corpus", corpus, "--out", out / "train_num", flag, v], "error",
            [out / "train_num"], memory=False)
    add("train/export_missing_folder", ["train", "--corpus", corpus, "--out", out / "train_x", "--export",
                                        d / "nope" / "m.npz"], "error", [out / "train_x"], memory=False)
    add("train/export_is_folder", ["train", "--corpus", corpus, "--out", out / "train_y", "--export", fx["empty_dir"]],
        "error", [out / "train_y"], memory=False)
    add("train/corpus_missing", ["train", "--corpus", corpus, "--out", out / "train_z", "--steps", "1"], "error",
        memory=False)
    # bench
    add("bench/lafan1_test_missing", ["bench", "lafan1", "--test", d / "nope", "--stats", fx["stats_nan"]], "error")
    add("bench/lafan1_no_train", ["bench", "lafan1", "--test", hop], "error")
    add("bench/lafan1_stats_nan", ["bench", "lafan1", "--test", hop, "--stats", fx["stats_nan"]], "error")
    add("bench/lafan1_stats_pickle", ["bench", "lafan1", "--test", hop, "--stats", fx["stats_pickle"]], "error",
        sentinel=fx["sentinel_stats"])
    add("bench/lafan1_subjects_empty", ["bench", "lafan1", "--test", hop, "--train", hop, "--test-subjects", ","], "error")
    add("bench/lafan1_test_garbage", ["bench", "lafan1", "--test", bvh["garbage"], "--train", hop], "error")
    for name in ("truncated", "empty", "missing_weight", "pickle", "shape_weight"):
        add(f"bench/inbetween_model_{name}", ["bench", "inbetween", "--test", hop, "--model", models[name]], "error",
            sentinel=fx["sentinel_model"])
    add("bench/inbetween_nothing", ["bench", "inbetween"], "error")
    add("bench/inbetween_corpus_missing", ["bench", "inbetween", "--corpus", d / "nope"], "error")
    add("bench/inbetween_corpus_file", ["bench", "inbetween", "--corpus", fx["a_file"]], "error")
    add("bench/inbetween_test_empty", ["bench", "inbetween", "--test", fx["empty_dir"]], "error")
    add("bench/inbetween_test_garbage", ["bench", "inbetween", "--test", bvh["garbage"]], "error")
    for name, path in (("missing_folder", d / "nope" / "r.json"), ("folder", fx["empty_dir"]), ("proc", "/proc/lmm.json")):
        add(f"bench/json_{name}", ["bench", "inbetween", "--test", hop, "--json", path], "error", [path])
    add("bench/save_stats_missing_folder", ["bench", "inbetween", "--test", hop, "--save-stats", d / "nope" / "s.npz"],
        "error", [d / "nope" / "s.npz"])
    # batch (job files; dry runs need no Blender; the real runs here must fail before starting one)
    jobs = fx["jobs"]
    for name, path in jobs.items():
        expect = "ok" if name in ("ok", "bom", "utf16", "seed_huge") else "error"  # 2^63 - 1: the largest seed
        add(f"batch/dry_{name}", ["batch", path, "--dry-run"], expect, sentinel=fx["sentinel_model"])
    for name in ("seconds_inf", "seed_neg", "fps_inf", "ids_case", "frames_huge", "model_truncated"):
        add(f"batch/run_{name}", ["batch", jobs[name]], "error", [d / f"batch_out_{name}"], memory=False, timeout=180)
    # A task that cannot run fails on its own (the others would run), before any Blender work.
    for name in ("character_nonhuman", "keys_range", "input_garbage", "gap_range", "range_past", "input_fbx_garbage"):
        add(f"batch/run_{name}", ["batch", jobs[name]], "task-failed", memory=False, timeout=180)
    for flag, v in (("--jobs", "0"), ("--jobs", "-1"), ("--shard", "0/0"), ("--shard", "2/1"), ("--shard", "a/b"),
                    ("--shard", "1/0"), ("--shard", "1/99999999999999999999"), ("--task-timeout", "nan"),
                    ("--task-timeout", "inf"), ("--task-timeout", "-1"), ("--task-timeout", "0")):
        add(f"batch/{flag}={v}", ["batch", jobs["ok"], "--dry-run", flag, v], "error")
        add(f"batch/run{flag}={v}", ["batch", jobs["ok"], flag, v], "error", [d / "batch_out_ok"], memory=False, timeout=180)
    add("batch/missing", ["batch", d / "nope.toml", "--dry-run"], "error")
    add("batch/folder", ["batch", fx["empty_dir"], "--dry-run"], "error")
    add("batch/fifo", ["batch", bvh["fifo"], "--dry-run"], "error")
    add("batch/out_is_file", ["batch", jobs["ok"], "--dry-run", "--out", fx["a_file"]], "error")
    add("batch/out_proc", ["batch", jobs["ok"], "--dry-run", "--out", "/proc/lmm_fuzz"], "error")
    add("batch/profile_is_file", ["batch", jobs["ok"], "--profile", fx["a_file"]], "error", memory=False, timeout=180)
    # demo (fails before Blender starts)
    for flag, v in (("--jobs", "0"), ("--jobs", "-1"), ("--preview-frames", "-1"), ("--preview-frames", "0"),
                    ("--preview-frames", "99999999999999999999"), ("--out", str(fx["a_file"])), ("--out", "/proc/lmm_demo")):
        add(f"demo/{flag}={v}", ["demo", flag, v], "error", memory=False, timeout=180)
    return cs


# ---- running ------------------------------------------------------------------------------------------

_ERROR_LINE = re.compile(r"^lmm [\w-]+( [\w-]+)?: error: ")


def _limit(memory: bool):
    def apply():
        if memory:
            resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))
    return apply


def run_case(case: Case, timeout: float) -> dict:
    try:
        return _run_case(case, timeout)
    except Exception as exc:  # the campaign's own failure must not hide the other cases' results
        return {"name": case.name, "argv": case.argv, "expect": case.expect, "rc": None, "seconds": 0.0,
                "stderr_tail": [], "outcome": "messy", "why": f"campaign error: {exc!r}"}


def _run_case(case: Case, timeout: float) -> dict:
    before = {p: _snapshot(p) for p in case.outputs}
    folders = {p.parent for p in case.outputs}
    temps_before = {f: _temps(f) for f in folders}
    env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1")
    start = time.perf_counter()
    limit = case.timeout or timeout
    proc = subprocess.Popen([sys.executable, "-m", "lmm_core", *case.argv], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, errors="replace", env=env, stdin=subprocess.DEVNULL,
                            preexec_fn=_limit(case.memory), start_new_session=True)
    try:
        stdout, stderr = proc.communicate(timeout=limit)
        rc = proc.returncode
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # its own session: Blender workers it started go too
        stdout, stderr = proc.communicate()
        rc = None
    seconds = time.perf_counter() - start
    result = {"name": case.name, "argv": case.argv, "expect": case.expect, "rc": rc, "seconds": round(seconds, 2),
              "stderr_tail": stderr.strip().splitlines()[-3:]}
    if rc is None:
        return result | {"outcome": "hang", "why": f"still running after {limit:g} s"}
    if "Traceback (most recent call last)" in stderr + stdout:
        return result | {"outcome": "traceback", "why": _last_line(stderr)}
    if case.sentinel is not None and case.sentinel.exists():
        case.sentinel.unlink()
        return result | {"outcome": "messy", "why": "code in a file ran (pickle payload)"}
    if case.expect == "task-failed":
        failed = [ln for ln in stdout.splitlines() if ln.strip().startswith("FAILED")]
        if rc == 1 and failed and "0 done" in stdout:
            return result | {"outcome": "clean", "why": failed[0].strip()[:200]}
        return result | {"outcome": "silent" if rc == 0 else "messy",
                         "why": f"expected the task to fail on its own (exit 1, FAILED): {_last_line(stderr or stdout)}"}
    if rc == 0:
        if case.expect == "error":
            return result | {"outcome": "silent", "why": "exit status 0: " + _last_line(stdout)}
        why = case.check() if case.check else None
        return result | ({"outcome": "messy", "why": why} if why else {"outcome": "clean", "why": "succeeded"})
    # refused
    lines = [ln for ln in stderr.strip().splitlines() if ln.strip()]
    last = lines[-1] if lines else ""
    errors = [ln for ln in lines if ": error: " in ln]
    problems = []
    if case.expect == "ok":
        problems.append("a good input was refused")
    if not _ERROR_LINE.match(last):
        problems.append(f"the last line is not 'lmm <command>: error: ...' ({last[:80]!r})")
    elif len(errors) != 1:
        problems.append(f"{len(errors)} error lines")
    for p in case.outputs:
        if _snapshot(p) != before[p]:
            problems.append(f"{p.name} was written or changed")
    for f in folders:
        new = sorted(set(_temps(f)) - set(temps_before[f]))
        if new:
            problems.append(f"temporary files left in {f}: {new[:3]}")
    if problems:
        return result | {"outcome": "messy", "why": "; ".join(problems)}
    return result | {"outcome": "clean", "why": last[:200]}


OUTCOMES = ("clean", "traceback", "hang", "silent", "messy")


def _write_report(counts: dict, per_command: dict, results: list[dict], args, seconds: float) -> None:
    from benchmarks.report import update_section

    before = json.loads(args.before.read_text()) if args.before else None
    head = "| | cases | " + " | ".join(OUTCOMES) + " |\n|---|" + "---|" * (len(OUTCOMES) + 1) + "\n"
    rows = []
    if before:
        rows.append(f"| {args.before_label} | " + str(sum(before["counts"].values())) + " | "
                    + " | ".join(str(before["counts"].get(k, 0)) for k in OUTCOMES) + " |")
    rows.append("| now | " + str(len(results)) + " | " + " | ".join(str(counts[k]) for k in OUTCOMES) + " |")
    per = "| command | cases | " + ("not clean before | " if before else "") + "not clean now |\n|---|---|" + \
          ("---|" if before else "") + "---|\n"
    for cmd, c in sorted(per_command.items()):
        bad = sum(v for k, v in c.items() if k != "clean")
        was = ""
        if before:
            b = before["per_command"].get(cmd, {})
            was = f"{sum(v for k, v in b.items() if k != 'clean')} | "
        per += f"| {cmd} | {sum(c.values())} | {was}{bad} |\n"
    left = [r for r in results if r["outcome"] != "clean"]
    body = (head + "\n".join(rows) + "\n\n" + per + "\n"
            f"{len(results)} malformed or extreme inputs over all 14 commands (motion, model, calibration, keypoint and "
            "job files broken, truncated, inflated or holding non-finite and out-of-range numbers; command-line "
            "numbers; output paths that are folders, pipes, devices, links, read-only or missing; degenerate "
            "camera geometry), each run as `python -m lmm_core ...` with a 90 s limit and 8 GiB of address space. "
            "clean: the expected outcome (one line `lmm <command>: error: ...`, non-zero exit, nothing written; "
            "or, for good inputs in odd form, a success that reads back); traceback; hang: killed at the limit; "
            "silent: exit status 0 for an input that should have been refused; messy: refused in more than one "
            "line, or after writing, or a good input refused. "
            f"Wall time {seconds / 60:.0f} min (one case at a time). The limits and overrides are in docs/limits.md."
            + ("\n\nNot clean now: " + "; ".join(f"{r['name']} ({r['outcome']}: {r['why'][:100]})" for r in left)
               if left else ""))
    if before:
        body += ("\n\nThe first row is the same script run on a checkout of the code it names (`git archive`, "
                 "`--json`), its hangs each waiting out the limit; the second is this checkout.")
    update_section("Reliability: the fuzz campaign", body, "python benchmarks/fuzz_campaign.py --write"
                   + (" --before BEFORE.json" if before else ""))


def _last_line(text: str) -> str:
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1][:200] if lines else ""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", help="run only the cases whose name contains this")
    ap.add_argument("--jobs", type=int, default=1, help="cases run at once (default 1)")
    ap.add_argument("--timeout", type=float, default=90.0, help="seconds a case may run (default 90)")
    ap.add_argument("--keep", type=Path, help="build the fixtures in this (new) folder and keep it")
    ap.add_argument("--json", type=Path, help="write every result here")
    ap.add_argument("--list", action="store_true", help="list the cases and stop")
    ap.add_argument("--write", action="store_true", help="write the counts into BENCHMARKS.md")
    ap.add_argument("--before", type=Path, help="with --write: an earlier run's --json, shown beside this one")
    ap.add_argument("--before-label", default="before", help="with --before: what that run ran on (a commit)")
    args = ap.parse_args(argv)
    if args.keep:
        args.keep.mkdir(parents=True)
        work = args.keep.resolve()
    else:
        work = Path(tempfile.mkdtemp(prefix="lmm-fuzz-"))
    try:
        t0 = time.perf_counter()
        fx = build_fixtures(work)
        all_cases = cases(fx)
        chosen = [c for c in all_cases if not args.only or args.only in c.name]
        print(f"{len(chosen)} cases over {len({c.argv[0] for c in chosen})} commands "
              f"(fixtures built in {time.perf_counter() - t0:.0f} s in {work})", flush=True)
        if args.list:
            for c in chosen:
                print(f"  {c.name}: lmm {' '.join(c.argv)[:160]}")
            return 0
        results = []
        with cf.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            futures = {pool.submit(run_case, c, args.timeout): c for c in chosen}
            for k, fut in enumerate(cf.as_completed(futures), 1):
                r = fut.result()
                results.append(r)
                if r["outcome"] != "clean":
                    print(f"[{k}/{len(chosen)}] {r['outcome'].upper():<9} {r['name']}: {r['why']}", flush=True)
        counts = {k: sum(r["outcome"] == k for r in results) for k in ("clean", "traceback", "hang", "silent", "messy")}
        per_command: dict[str, dict[str, int]] = {}
        for r in results:
            cmd = r["argv"][0]
            per_command.setdefault(cmd, {}).setdefault(r["outcome"], 0)
            per_command[cmd][r["outcome"]] += 1
        print(f"\n{len(results)} cases in {time.perf_counter() - t0:.0f} s: " + ", ".join(f"{v} {k}" for k, v in counts.items()))
        for cmd, c in sorted(per_command.items()):
            print(f"  {cmd:<10} " + ", ".join(f"{v} {k}" for k, v in sorted(c.items())))
        if args.json:
            args.json.write_text(json.dumps({"counts": counts, "per_command": per_command,
                                             "results": sorted(results, key=lambda r: r["name"])}, indent=1))
        if args.write:
            _write_report(counts, per_command, results, args, time.perf_counter() - t0)
        return 0 if counts["clean"] == len(results) else 1
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
