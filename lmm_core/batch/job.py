"""Job files for ``lmm batch``: the TOML schema, strict validation and the resolved tasks.

A job file (see docs/batch.md and examples/batch_job.toml) has a ``[job]`` table with defaults, an optional
``[preview]`` table and one ``[[task]]`` table per task. Validation is strict: an unknown key, a value of
the wrong kind, a missing input or character, an unknown output or an output folder that cannot be
written is a ``JobError`` naming the file, the task and the fix. Nothing here touches Blender: the tasks are
resolved into plain dictionaries (``Task.to_worker``) that the Blender worker (``addon/batch_worker.py``)
carries out.
"""
from __future__ import annotations

import difflib
import hashlib
import json
import math
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import validate
from ..bonemap import bone_map_for
from ..errors import LMMError, RigMappingError
from ..io import read_bvh
from ..io.atomic import check_output_folder, read_text
from ..model.runtime import load
from ..model.tasks import (COMPLETE_METHODS, GENERATION_METHODS, GENERATION_VARIATION, INBETWEEN_METHODS, actions_for,
                           check_trained_pair, styles_for)

REPO_ROOT = Path(__file__).resolve().parents[2]
EXPORT_PRESETS_DIR = REPO_ROOT / "presets" / "export"
MOTION_SUFFIXES = (".bvh", ".bvh.gz", ".bvh.xz", ".fbx")
CHARACTER_SUFFIXES = (".blend", ".fbx", ".bvh", ".bvh.gz", ".bvh.xz")
MANNEQUIN = "mannequin"
PREVIEW_OUTPUTS = ("preview", "plot")  # made by LMM itself; every other output is an export preset
PREVIEW_FORMATS = ("gif", "mp4", "png")
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


class JobError(LMMError):
    """A job file that cannot be run as written; the message names the file, the task and the fix."""


# ---- schema -------------------------------------------------------------------------------------------

# Keys every task may have (they default to the [job] table's), then each type's own: (required, optional).
COMMON_KEYS = {"id", "type", "character", "armature", "target_map", "outputs", "fps", "model", "range"}
TASK_TYPES: dict[str, tuple[set[str], set[str]]] = {
    "generate": ({"action"}, {"style", "seconds", "seed", "variation", "method", "to", "facing", "at"}),
    "inbetween": ({"input"}, {"keys", "gap", "action", "style", "source_map", "method", "rollouts"}),
    "complete": ({"input", "frames"}, {"action", "style", "source_map", "method"}),
    "retarget": ({"input"}, {"source_map", "in_place", "fix_feet", "rest_frame"}),
    "mirror": ({"input"}, {"source_map"}),
}
JOB_KEYS = {"name", "output", "character", "armature", "target_map", "outputs", "fps", "model"}
PREVIEW_KEYS = {"width", "height", "fps", "formats", "engine", "seconds", "frames"}
PREVIEW_DEFAULTS: dict[str, Any] = {
    "width": 320, "height": 240, "fps": 15.0, "formats": ["gif", "png"], "engine": "workbench", "seconds": 0.0,
    "frames": 0,
}
ENGINES = ("workbench", "eevee")


def export_presets(folder: Path = EXPORT_PRESETS_DIR) -> dict[str, Path]:
    """The shipped export presets by name (file stem): unity, unreal, godot, bvh."""
    return {p.stem: p for p in sorted(folder.glob("*.toml"))} if folder.is_dir() else {}


def _preset_extension(path: Path) -> str:
    """The ``extension`` a preset file declares (read without Blender; Blender checks the options)."""
    try:
        head = tomllib.loads(read_text(path, "export preset")).get("preset", {})
    except (LMMError, tomllib.TOMLDecodeError) as exc:
        raise JobError(f"export preset {path} cannot be read: {exc}") from None
    fmt = head.get("format") if isinstance(head, dict) else None
    if fmt not in ("fbx", "gltf", "bvh"):
        raise JobError(f"export preset {path}: format must be fbx, gltf or bvh, got {fmt!r}")
    return str(head.get("extension", "." + fmt))


@dataclass(frozen=True)
class Output:
    """One thing a task writes: an export with a preset, the preview render or the plot.

    ``files`` are paths relative to the task's folder; ``preset`` is the preset file for exports.
    """

    key: str
    kind: str  # "export" | "preview" | "plot"
    files: tuple[str, ...]
    preset: str | None = None


@dataclass(frozen=True)
class Task:
    """One resolved task of a job (paths absolute, defaults filled in)."""

    id: str
    type: str
    index: int  # position in the job file, 1-based (for messages)
    params: dict
    input: str | None
    range: tuple[int, int] | None
    character: dict
    outputs: tuple[Output, ...]
    fps: float | None
    model: str | None
    folder: str
    fingerprint: str = ""

    def to_worker(self, todo: list[str] | None = None, preview: dict | None = None) -> dict:
        """What the Blender worker needs, as JSON-ready data; ``todo`` limits the outputs made."""
        keys = set(todo) if todo is not None else {o.key for o in self.outputs}
        return {
            "id": self.id, "type": self.type, "params": self.params, "input": self.input,
            "range": list(self.range) if self.range else None, "character": self.character,
            "fps": self.fps, "model": self.model, "folder": self.folder, "fingerprint": self.fingerprint,
            "outputs": [{"key": o.key, "kind": o.kind, "files": list(o.files), "preset": o.preset}
                        for o in self.outputs if o.key in keys],
            "preview": preview or {},
        }


@dataclass
class Job:
    """A parsed, validated job file."""

    path: Path
    name: str
    output: Path
    tasks: list[Task]
    preview: dict = field(default_factory=lambda: dict(PREVIEW_DEFAULTS))

    def task(self, task_id: str) -> Task:
        for t in self.tasks:
            if t.id == task_id:
                return t
        raise KeyError(task_id)


# ---- parsing ------------------------------------------------------------------------------------------


class _Where:
    """Builds error messages that name the file and the task."""

    def __init__(self, path: Path):
        self.path = path

    def error(self, message: str, task: dict | None = None, index: int | None = None) -> JobError:
        where = str(self.path)
        if index is not None:
            tid = task.get("id") if isinstance(task, dict) else None
            where += f", task {tid!r} ([[task]] number {index})" if isinstance(tid, str) else f", [[task]] number {index}"
        return JobError(f"{where}: {message}")


def _suggest(word: str, choices) -> str:
    close = difflib.get_close_matches(str(word), list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _resolve(base: Path, text: str) -> Path:
    path = Path(os.path.expandvars(os.path.expanduser(text)))
    return path if path.is_absolute() else (base / path)


def _has_suffix(path: Path, suffixes) -> bool:
    name = path.name.lower()
    return any(name.endswith(s) for s in suffixes)


def _number(value, what: str, w: _Where, task, index, *, integer: bool = False, positive: bool = False,
            minimum: float | None = None, maximum: float | None = None):
    ok = isinstance(value, int) if integer else isinstance(value, (int, float))
    if isinstance(value, bool) or not ok:
        kind = "a whole number" if integer else "a number"
        raise w.error(f"{what} must be {kind}, got {value!r}", task, index)
    if not math.isfinite(value):
        raise w.error(f"{what} must be a finite number, got {value!r}", task, index)
    if positive and not value > 0:
        raise w.error(f"{what} must be positive, got {value!r}", task, index)
    if minimum is not None and value < minimum or maximum is not None and value > maximum:
        lo, hi = (v if isinstance(v, int) or v is None else f"{v:g}" for v in (minimum, maximum))
        bounds = (f"between {lo} and {hi}" if lo is not None and hi is not None else
                  f"at least {lo}" if lo is not None else f"at most {hi}")
        raise w.error(f"{what} must be {bounds}, got {value!r}", task, index)
    return value


def _string(value, what: str, w: _Where, task, index) -> str:
    if not isinstance(value, str) or not value.strip():
        raise w.error(f"{what} must be a non-empty string, got {value!r}", task, index)
    return value.strip()


def _frames_pair(value, what: str, w: _Where, task, index) -> tuple[int, int]:
    if (not isinstance(value, list) or len(value) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in value)):
        raise w.error(f"{what} must be two frame numbers [first, last], got {value!r}", task, index)
    a, b = value
    if a < 0 or b <= a or b >= validate.max_frames():
        raise w.error(f"{what} must be [first, last] with 0 <= first < last < {validate.max_frames():,} (LMM_MAX_FRAMES), "
                      f"got {value!r}", task, index)
    return a, b


def _check_output_folder(output: Path, w: _Where) -> None:
    """The output folder must be a folder (or creatable) and writable."""
    if output.exists() and not output.is_dir():
        raise w.error(f"output {output} exists and is not a folder; point [job] output at a folder")
    probe = output
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise w.error(f"output {output} cannot be created: {probe} is a file; point [job] output elsewhere")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise w.error(f"output folder {probe} is not writable; point [job] output at a folder you can write to")
    try:  # access() says yes to root everywhere: make (and remove) a file there to be sure
        check_output_folder(output, "output folder")
    except LMMError as exc:
        raise w.error(str(exc)) from None


def _character(value, armature, target_map, base: Path, w: _Where, task, index) -> dict:
    text = _string(value, "character", w, task, index)
    if text.lower() == MANNEQUIN:
        return {"kind": "mannequin", "path": None, "armature": None, "map": None}
    path = _resolve(base, text)
    if not _has_suffix(path, CHARACTER_SUFFIXES):
        raise w.error(f"character {text!r} must be 'mannequin' or a .blend, .fbx or .bvh file", task, index)
    if not path.is_file():
        raise w.error(f"character {text!r} not found (looked for {path}); paths are relative to the job file's "
                      "folder", task, index)
    kind = "blend" if path.suffix.lower() == ".blend" else "fbx" if path.suffix.lower() == ".fbx" else "bvh"
    return {"kind": kind, "path": str(path.resolve()), "armature": armature, "map": target_map}


def _outputs(value, task_id: str, base: Path, w: _Where, task, index) -> tuple[Output, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise w.error(f"outputs must be a non-empty list of names, like [\"unity\", \"bvh\", \"preview\"], got "
                      f"{value!r}", task, index)
    presets = export_presets()
    known = [*presets, *PREVIEW_OUTPUTS]
    out: list[Output] = []
    for name in value:
        if name in PREVIEW_OUTPUTS:
            continue  # their files depend on [preview]; added by the caller
        if name.lower().endswith(".toml"):
            path = _resolve(base, name)
            if not path.is_file():
                raise w.error(f"export preset file {name!r} not found (looked for {path})", task, index)
            key = path.stem
        elif name in presets:
            path, key = presets[name], name
        else:
            raise w.error(f"unknown output {name!r}{_suggest(name, known)}; use one of {', '.join(known)}, or the "
                          "path of an export preset .toml", task, index)
        ext = _preset_extension(path)
        stem = task_id if key == ext.lstrip(".").lower() else f"{task_id}_{key}"
        out.append(Output(key, "export", (stem + ext,), str(path.resolve())))
    keys = [o.key for o in out] + [n for n in value if n in PREVIEW_OUTPUTS]
    dup = sorted({k for k in keys if keys.count(k) > 1})
    if dup:
        raise w.error(f"output {dup[0]!r} is listed twice; list each output once", task, index)
    names = [f for o in out for f in o.files]
    if len(set(names)) != len(names):
        raise w.error("two outputs would write the same file; give custom presets distinct file names", task, index)
    return tuple(out)


def _preview(table, w: _Where) -> dict:
    if not isinstance(table, dict):
        raise w.error("[preview] must be a table")
    bad = set(table) - PREVIEW_KEYS
    if bad:
        key = sorted(bad)[0]
        raise w.error(f"unknown key {key!r} in [preview]{_suggest(key, PREVIEW_KEYS)}; allowed: "
                      f"{', '.join(sorted(PREVIEW_KEYS))}")
    p = dict(PREVIEW_DEFAULTS) | table
    for key in ("width", "height"):
        _number(p[key], f"[preview] {key}", w, None, None, integer=True, minimum=16, maximum=4096)
    _number(p["fps"], "[preview] fps", w, None, None, minimum=validate.MIN_FPS, maximum=validate.MAX_FPS)
    _number(p["seconds"], "[preview] seconds", w, None, None, minimum=0, maximum=1e6)
    _number(p["frames"], "[preview] frames", w, None, None, integer=True, minimum=0, maximum=100000)
    if (not isinstance(p["formats"], list) or not p["formats"]
            or any(f not in PREVIEW_FORMATS for f in p["formats"])):
        raise w.error(f"[preview] formats must be a list drawn from {', '.join(PREVIEW_FORMATS)}, got {p['formats']!r}")
    if p["engine"] not in ENGINES:
        raise w.error(f"[preview] engine must be one of {', '.join(ENGINES)}, got {p['engine']!r}")
    p["fps"] = float(p["fps"])
    return p


def preview_files(task_id: str, preview: dict) -> tuple[str, ...]:
    """Files of the ``preview`` output: the animation(s) and, with ``png``, the frames' folder index."""
    files = [f"{task_id}_preview.{f}" for f in preview["formats"] if f != "png"]
    if "png" in preview["formats"]:
        files.append(f"{task_id}_frames")  # a folder of frame_0001.png ...
    return tuple(files)


def _default_id(task: dict, index: int) -> str:
    kind = task.get("type", "task")
    if kind == "generate":
        parts = [task.get("action"), task.get("style"), f"seed{task.get('seed', 0)}"]
        stem = "_".join(str(p) for p in parts if p)
    else:
        name = Path(str(task.get("input", ""))).name
        stem = name.split(".")[0] if name else str(index)
    return re.sub(r"[^A-Za-z0-9._-]+", "-", f"{kind}_{stem}").strip("-.") or f"task{index}"


def _fingerprint(data: dict, files: list[Path]) -> str:
    """A hash of what decides a task's outputs: its settings and its input files' sizes and times."""
    stats = []
    for f in files:
        try:
            st = f.stat()
            stats.append([f.name, st.st_size, int(st.st_mtime)])
        except OSError:
            stats.append([f.name, None, None])
    text = json.dumps({"task": data, "files": stats}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _task(raw, index: int, job: dict, base: Path, preview: dict, w: _Where) -> Task:
    if not isinstance(raw, dict):
        raise w.error("each [[task]] must be a table", None, index)
    kind = raw.get("type")
    if kind not in TASK_TYPES:
        what = "has no type" if kind is None else f"has unknown type {kind!r}{_suggest(kind, TASK_TYPES)}"
        raise w.error(f"{what}; use one of {', '.join(TASK_TYPES)}", raw, index)
    required, optional = TASK_TYPES[kind]
    allowed = COMMON_KEYS | required | optional
    bad = sorted(set(raw) - allowed)
    if bad:
        raise w.error(f"unknown key {bad[0]!r} for a {kind} task{_suggest(bad[0], allowed)}; allowed: "
                      f"{', '.join(sorted(allowed))}", raw, index)
    missing = sorted(required - set(raw))
    if missing:
        raise w.error(f"a {kind} task needs {missing[0]!r}; add it", raw, index)
    task_id = raw.get("id", _default_id(raw, index))
    if not isinstance(task_id, str) or not _ID.match(task_id):
        raise w.error(f"id {task_id!r} must be 1-100 letters, digits, '.', '_' or '-' (it names the task's output "
                      "folder)", raw, index)
    params: dict[str, Any] = {}
    files: list[Path] = []
    input_path = None
    if "input" in raw:
        text = _string(raw["input"], "input", w, raw, index)
        path = _resolve(base, text)
        if not _has_suffix(path, MOTION_SUFFIXES):
            raise w.error(f"input {text!r} must be a motion file ({', '.join(MOTION_SUFFIXES)})", raw, index)
        if not path.is_file():
            raise w.error(f"input {text!r} not found (looked for {path}); paths are relative to the job file's folder",
                          raw, index)
        input_path = str(path.resolve())
        files.append(path)
    frame_range = _frames_pair(raw["range"], "range", w, raw, index) if "range" in raw else None
    if frame_range and input_path is None:
        raise w.error("range cuts an input clip, and a generate task has none; remove it", raw, index)
    for key in ("action", "style", "source_map"):
        if key in raw:
            params[key] = _string(raw[key], key, w, raw, index)
    if "method" in raw:
        allowed = {"generate": GENERATION_METHODS, "inbetween": INBETWEEN_METHODS}.get(kind, COMPLETE_METHODS)
        params["method"] = _string(raw["method"], "method", w, raw, index)
        if params["method"] not in allowed:
            article = "an" if kind[0] in "aeiou" else "a"
            raise w.error(f"method of {article} {kind} task is one of {', '.join(allowed)}, got {raw['method']!r}",
                          raw, index)
    if "to" in raw:
        to = raw["to"]
        if not (isinstance(to, list) and len(to) == 2 and all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                                               and math.isfinite(v) for v in to)):
            raise w.error(f"to is the ground point to walk to, [x, z] in metres, got {to!r}", raw, index)
        params["to"] = [float(v) for v in to]
    for key in ("facing", "at"):
        if key in raw:
            if "to" not in raw:
                raise w.error(f"{key} says how to arrive at a point: give to = [x, z] as well", raw, index)
            params[key] = float(_number(raw[key], key, w, raw, index, minimum=-360.0 if key == "facing" else 0.0,
                                        maximum=360.0 if key == "facing" else validate.max_frames() / 30.0))
    if kind == "generate":
        # The method is always recorded, so that a task's fingerprint says which network made its outputs
        # (the default changed on 2026-12-07: a finished task from before is made again, not reused).
        params.setdefault("method", GENERATION_METHODS[0])
        if "model" in raw and params["method"] == "next-frame":
            raise w.error("model names a window model, which a next-frame generate task does not use; remove it, or "
                          'give method = "segments" (its recorded segments) or "network"', raw, index)
        params["seconds"] = float(_number(raw.get("seconds", 4.0), "seconds", w, raw, index, positive=True,
                                          minimum=0.1, maximum=validate.max_frames() / 30.0))
        params["seed"] = _number(raw.get("seed", 0), "seed", w, raw, index, integer=True, minimum=0,
                                 maximum=validate.MAX_SEED)
        own = GENERATION_VARIATION[params["method"]]  # the method's default
        params["variation"] = float(_number(raw.get("variation", own), "variation", w, raw, index, minimum=0, maximum=1))
        if "to" in params and params["method"] == "segments":
            raise w.error('to steers a network: leave method out (next-frame, the default) or give "network"', raw,
                          index)
        if params.get("at", 0.0) >= params["seconds"]:
            raise w.error(f"at = {params['at']:g} s is not inside the clip of seconds = {params['seconds']:g}; arrive "
                          "earlier or make the clip longer", raw, index)
    if kind == "inbetween":
        if ("keys" in raw) == ("gap" in raw):
            raise w.error("an inbetween task needs either keys = [frames to keep] or gap = [first, last] (the frames "
                          "strictly between are made)", raw, index)
        if "keys" in raw:
            keys = raw["keys"]
            if (not isinstance(keys, list)
                    or not all(isinstance(k, int) and not isinstance(k, bool) and 0 <= k < validate.max_frames()
                               for k in keys) or len(set(keys)) < 2):
                raise w.error(f"keys must list two or more different frame numbers (0-based), like [0, 20, 45], got "
                              f"{keys!r}", raw, index)
            params["keys"] = sorted(set(keys))
        else:
            a, b = _frames_pair(raw["gap"], "gap", w, raw, index)
            if b - a < 2:
                raise w.error(f"gap {raw['gap']!r} leaves no frame to make; the frames strictly between are made",
                              raw, index)
            params["gap"] = [a, b]
        if "rollouts" in raw:  # the next-frame in-betweener's rollouts per long gap (``tasks.inbetween``)
            if params.get("method") == "network":
                raise w.error('rollouts counts the next-frame in-betweener\'s rollouts, which method = "network" does '
                              'not use; leave rollouts out or the method ("auto", "next-frame")', raw, index)
            if params.get("method", "auto") == "auto" and (raw.get("model", job.get("model")) is not None):
                raise w.error('rollouts counts the next-frame in-betweener\'s rollouts; with a model named, method '
                              '"auto" gives every gap to that window network: leave rollouts out, or give method = '
                              '"next-frame"', raw, index)
            params["rollouts"] = _number(raw["rollouts"], "rollouts", w, raw, index, integer=True, minimum=1,
                                         maximum=64)
    if kind == "complete":
        params["frames"] = _number(raw["frames"], "frames", w, raw, index, integer=True, positive=True,
                                   maximum=validate.max_frames())
    if kind == "retarget":
        for key, default in (("in_place", False), ("fix_feet", True)):
            value = raw.get(key, default)
            if not isinstance(value, bool):
                raise w.error(f"{key} must be true or false, got {value!r}", raw, index)
            params[key] = value
        if "rest_frame" in raw:  # the input's frame its bones are aimed on, as `lmm retarget --rest-frame N`
            params["rest_frame"] = _number(raw["rest_frame"], "rest_frame", w, raw, index, integer=True, minimum=0,
                                           maximum=validate.max_frames())

    def setting(key):
        return raw.get(key, job.get(key))

    armature = setting("armature")
    if armature is not None:
        armature = _string(armature, "armature", w, raw, index)
    target_map = setting("target_map")
    if target_map is not None:
        target_map = _string(target_map, "target_map", w, raw, index)
    character = _character(setting("character") or MANNEQUIN, armature, target_map, base, w, raw, index)
    if character["path"]:
        files.append(Path(character["path"]))
    names = setting("outputs") or ["bvh"]
    outputs = list(_outputs(names, task_id, base, w, raw, index))
    if "preview" in names:
        outputs.append(Output("preview", "preview", preview_files(task_id, preview)))
    if "plot" in names:
        outputs.append(Output("plot", "plot", (f"{task_id}_plot.png",)))
    fps = setting("fps")
    if fps is not None:
        fps = float(_number(fps, "fps", w, raw, index, minimum=validate.MIN_FPS, maximum=validate.MAX_FPS))
    model = setting("model")
    if model is not None:
        mpath = _resolve(base, _string(model, "model", w, raw, index))
        if not mpath.is_file():
            raise w.error(f"model {model!r} not found (looked for {mpath})", raw, index)
        model = str(mpath.resolve())
        files.append(mpath)
    task = Task(id=task_id, type=kind, index=index, params=params, input=input_path, range=frame_range,
                character=character, outputs=tuple(outputs), fps=fps, model=model, folder="")
    decided = {"type": kind, "params": params, "range": frame_range, "fps": fps,
               "character": {k: v for k, v in character.items() if k != "path"},
               "outputs": sorted((o.key, o.files, Path(o.preset).name if o.preset else None) for o in outputs),
               "preview": preview if "preview" in names else None}
    if any(o.kind == "export" for o in outputs):
        files += [Path(o.preset) for o in outputs if o.preset]
    return Task(**{**task.__dict__, "fingerprint": _fingerprint(decided, files)})


def parse_job(text: str, path: Path, output: Path | None = None, preview: dict | None = None) -> Job:
    """Parse and validate a job from TOML ``text``; relative paths are taken from ``path``'s folder.

    ``output`` overrides the job's ``[job] output`` folder, ``preview`` keys of its ``[preview]`` table
    (before the tasks' fingerprints are taken, so outputs made with other settings are made again).
    """
    path = Path(path)
    w = _Where(path)
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise w.error(f"not valid TOML ({exc}); fix the syntax there") from None
    base = path.resolve().parent
    bad = sorted(set(doc) - {"job", "preview", "task"})
    if bad:
        raise w.error(f"unknown table {bad[0]!r}{_suggest(bad[0], ['job', 'preview', 'task'])}; a job file has "
                      "[job], [preview] and [[task]] tables")
    job = doc.get("job", {})
    if not isinstance(job, dict):
        raise w.error("[job] must be a table")
    bad = sorted(set(job) - JOB_KEYS)
    if bad:
        raise w.error(f"unknown key {bad[0]!r} in [job]{_suggest(bad[0], JOB_KEYS)}; allowed: {', '.join(sorted(JOB_KEYS))}")
    table = doc.get("preview", {})
    preview = _preview(table | (preview or {}) if isinstance(table, dict) else table, w)
    raw_tasks = doc.get("task", [])
    if not isinstance(raw_tasks, list) or not raw_tasks:
        raise w.error("no tasks: add at least one [[task]] table (see docs/batch.md)")
    if output is None:
        out_text = job.get("output")
        if out_text is None:
            out = base / "out" / path.name.split(".")[0]
        else:
            out = _resolve(base, _string(out_text, "[job] output", w, None, None))
    else:
        out = Path(output)
    out = out.resolve()
    _check_output_folder(out, w)
    tasks: list[Task] = []
    seen: dict[str, tuple[str, int]] = {}
    for i, raw in enumerate(raw_tasks, start=1):
        task = _task(raw, i, job, base, preview, w)
        # Ids name folders, and folders on Windows and macOS ignore case: "Walk" and "walk" would be one folder.
        if task.id.lower() in seen:
            other, number = seen[task.id.lower()]
            same = "is already used" if other == task.id else f"differs only in case from {other!r}"
            raise w.error(f"id {task.id!r} {same} by [[task]] number {number}; give each task its own id (it names "
                          "the task's output folder)", raw, i)
        seen[task.id.lower()] = (task.id, i)
        tasks.append(Task(**{**task.__dict__, "folder": str(out / task.id)}))
    _check_labels(tasks, raw_tasks, w)
    name = job.get("name", path.name.split(".")[0])
    return Job(path=path, name=str(name), output=out, tasks=tasks, preview=preview)


def _check_labels(tasks: list[Task], raw_tasks: list, w: _Where) -> None:
    """Actions and styles must be ones the task's model knows (each model file is read once): a next-frame
    generate task's, the shipped generator's (and a pair of them it was trained on)."""
    models: dict[str | None, Any] = {}
    for task, raw in zip(tasks, raw_tasks):
        labels = [(k, task.params[k]) for k in ("action", "style") if k in task.params]
        if not labels:
            continue
        if task.type == "generate" and task.params.get("method") == "next-frame":
            try:
                actions = actions_for("next-frame")
                action = task.params["action"]
                if action not in actions:
                    raise LMMError(f"unknown action {action!r}{_suggest(action, actions)}; the next-frame generator "
                                   f"knows: {', '.join(actions)}")
                style = task.params.get("style")
                known = styles_for("", method="next-frame")  # every style it knows
                if style and style not in known:
                    raise LMMError(f"unknown style {style!r}{_suggest(style, known)}; the next-frame generator knows: "
                                   f"{', '.join(known)}")
                check_trained_pair(action, style)
            except LMMError as exc:
                raise w.error(str(exc), raw, task.index) from None
            continue
        if task.model not in models:
            try:
                models[task.model] = load(task.model)
            except LMMError as exc:
                raise w.error(f"its model cannot be read: {exc}", raw, task.index) from None
        cfg = models[task.model].cfg
        for key, value in labels:
            vocab = [v for v in (cfg.actions if key == "action" else cfg.styles)][1:]  # [0] is "<unknown>"
            if value not in vocab:
                raise w.error(f"unknown {key} {value!r}{_suggest(value, vocab)}; the model knows: {', '.join(vocab)}",
                              raw, task.index)


def load_job(path: str | Path, output: Path | None = None, preview: dict | None = None) -> Job:
    """Read and validate a job file (``JobError`` when it cannot be run as written); see ``parse_job``."""
    path = Path(path)
    try:
        text = read_text(path, "job file")  # a byte-order mark is fine; pipes, devices and huge files are not
    except LMMError as exc:
        raise JobError(str(exc)) from None
    return parse_job(text, path, output, preview)


# ---- what a run would find ------------------------------------------------------------------------------

# How the files a character or input may be start (Blender files may be compressed with gzip or zstd).
_MAGIC = {".fbx": (b"Kaydara FBX Binary", b"; FBX"), ".blend": (b"BLENDER", b"\x1f\x8b", b"\x28\xb5\x2f\xfd")}


def _check_magic(path: Path, what: str) -> None:
    kinds = _MAGIC[path.suffix.lower()]
    try:
        with open(path, "rb") as f:
            head = f.read(64).lstrip(b"\xef\xbb\xbf \t\r\n")
    except OSError as exc:
        raise JobError(f"its {what} {path} cannot be read ({exc.strerror or exc})") from None
    if not head.startswith(kinds):
        raise JobError(f"its {what} {path} is not a {path.suffix.lower()[1:].upper()} file (it does not start as one); "
                       "give the file itself")


def check_tasks(job: Job, tasks: list[Task] | None = None) -> dict[str, str]:
    """What a run of ``tasks`` (default: all) would find wrong before it starts Blender, by task id: every
    input and BVH character readable and mappable to LMM's body (FBX and .blend files are checked to be such
    files; only Blender reads them), ``range``, ``keys`` and ``gap`` inside the clip, every model readable.
    Each message names the file, the task and the fix. ``parse_job`` has already checked every value for
    type, finiteness and range. ``lmm batch --dry-run`` lists these; ``run_job`` fails those tasks at once
    and runs the others."""
    w = _Where(job.path)
    motions: dict[tuple[str, str | None], Any] = {}
    models: dict[str | None, str | None] = {}
    problems: dict[str, str] = {}

    def motion_of(path: str, preset: str | None, what: str):
        key = (path, preset)
        if key not in motions:
            try:
                motion = read_bvh(path)
                bone_map_for(motion.skeleton, preset, pose=motion.global_positions()[0])
                motions[key] = motion
            except LMMError as exc:
                text = " ".join(str(exc).split())
                fix = f"; set {'target_map' if what == 'character' else 'source_map'} to a rig preset or a .toml bone map" \
                    if isinstance(exc, RigMappingError) else ""
                motions[key] = JobError(f"its {what} cannot be used: {text[:300]}{fix}")
        if isinstance(motions[key], JobError):
            raise motions[key]
        return motions[key]

    def problem(task: Task) -> None:
        char = task.character
        if char["path"]:
            if char["kind"] == "bvh":
                motion_of(char["path"], char.get("map"), "character")
            else:
                _check_magic(Path(char["path"]), "character")
        if task.input is not None:
            if Path(task.input).suffix.lower() == ".fbx":
                _check_magic(Path(task.input), "input")
            else:
                _check_frames(task, motion_of(task.input, task.params.get("source_map"), "input").num_frames)
        if task.type in ("generate", "inbetween", "complete"):
            if task.model not in models:
                try:
                    load(task.model)
                    models[task.model] = None
                except LMMError as exc:
                    models[task.model] = f"its model cannot be read: {exc}"
            if models[task.model]:
                raise JobError(models[task.model])

    for task in job.tasks if tasks is None else tasks:
        try:
            problem(task)
        except JobError as exc:
            problems[task.id] = str(w.error(str(exc), {"id": task.id}, task.index))
    return problems


def _check_frames(task: Task, frames: int) -> None:
    """``rest_frame``, ``range``, ``keys`` and ``gap`` of ``task`` inside an input clip of ``frames`` frames."""
    rest = task.params.get("rest_frame")
    if rest is not None and rest >= frames:  # numbered in the whole input, before ``range`` cuts it
        raise JobError(f"rest_frame {rest} is past the input's last frame {frames - 1}; give a frame where the "
                       "character stands (a T-pose best)")
    if task.range is not None:
        a, b = task.range
        if b >= frames:
            raise JobError(f"range [{a}, {b}] runs past the clip's last frame {frames - 1}; fix range")
        frames = b - a + 1
    p = task.params
    if "keys" in p and p["keys"][-1] >= frames:
        raise JobError(f"key frame {p['keys'][-1]} is past the clip's last frame {frames - 1}; fix keys")
    if "gap" in p and p["gap"][1] >= frames:
        raise JobError(f"gap {p['gap']} runs past the clip's last frame {frames - 1}; fix gap")
