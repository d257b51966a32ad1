"""BVH motion files in and out (no Blender, numpy only).

Reads what real files contain: any Euler order per joint, 3 or 6 channels on any joint (position
channels give the joint's local translation, replacing its OFFSET; for the root, files that store it
relative to the OFFSET are recognised, see ``_root_position_convention``), End Sites, CRLF or mixed line
ends, tabs, scientific notation, a UTF-8 byte-order mark, ``.bvh.gz`` / ``.bvh.xz``. Every problem is a
``MotionFileError`` naming the file, the line and what is wrong; numbers are checked for finiteness and range
(a frame rate from ``validate.MIN_FPS`` to ``MAX_FPS``, at most ``validate.max_frames()`` frames, no value
larger than ``MAX_VALUE``) and the decompressed text for size (``validate.max_input_bytes()``).
"""
from __future__ import annotations

import lzma
import zlib
from dataclasses import replace
from pathlib import Path

import numpy as np

from .. import canonical as C
from .. import rotations as R
from ..bonemap import bone_map_for
from ..errors import LMMError, MotionFileError
from ..motion import Motion
from ..skeleton import Skeleton, guess_units
from ..validate import MAX_FPS, MIN_FPS, max_frames
from .atomic import atomic_text_writer, decode_text, read_bytes

_POS = {"xposition": 0, "yposition": 1, "zposition": 2}
_ROT = {"xrotation": "x", "yrotation": "y", "zrotation": "z"}
# The largest magnitude of an OFFSET or channel value (10,000 km in millimetres; 2.8 million turns in
# degrees): anything larger is a broken file, and would overflow the arithmetic downstream.
MAX_VALUE = 1e10


def fps_from_frame_time(frame_time: float) -> float:
    """Frames per second from a BVH ``Frame Time``, snapped to a whole number when within 1e-4 of one.

    Files print the frame time with few digits (``.0083333`` for 120 fps), so the exact rate is the
    nearby integer; rates such as 29.97 stay as they are.
    """
    fps = 1.0 / frame_time
    whole = round(fps)
    return float(whole) if whole > 0 and abs(fps - whole) <= 1e-4 * whole else fps


class _Joint:
    __slots__ = ("name", "parent", "offset", "channels", "line", "end_site")

    def __init__(self, name: str, parent: int, line: int):
        self.name = name
        self.parent = parent
        self.offset: np.ndarray | None = None
        self.channels: list[str] = []
        self.line = line
        self.end_site: np.ndarray | None = None


def read_bvh(path: str | Path, *, units: str | None = None, up_axis: str = "y") -> Motion:
    """Read a BVH file (optionally ``.gz``/``.xz`` compressed) into a ``Motion``.

    Args:
        path: the file.
        units: length units of the file; guessed from the leg's length when ``None`` (``guess_motion_units``).
        up_axis: the file's up axis (BVH files are almost always Y up).
    """
    path = Path(path)
    try:
        raw = read_bytes(path)
    except FileNotFoundError:
        raise MotionFileError(path, "file not found; check the path") from None
    except IsADirectoryError:
        raise MotionFileError(path, "is a folder, not a BVH file") from None
    except (OSError, EOFError, lzma.LZMAError, zlib.error) as exc:
        raise MotionFileError(path, f"cannot read or decompress the file ({exc})") from None
    try:
        text = decode_text(raw)
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    return parse_bvh(text, path=path, units=units, up_axis=up_axis)


def _header_tokens(lines: list[str], path: Path | None) -> tuple[list[tuple[str, int]], int]:
    """Tokens ``(text, line_number)`` of the hierarchy, and the index of the ``MOTION`` line."""
    tokens: list[tuple[str, int]] = []
    for i, line in enumerate(lines):
        parts = line.split()
        if parts and parts[0].upper() == "MOTION":
            return tokens, i
        tokens.extend((p, i + 1) for p in parts)
    raise MotionFileError(path, "no MOTION section: the file is truncated or not a BVH file", len(lines))


def _parse_hierarchy(tokens: list[tuple[str, int]], path: Path | None, eof_line: int) -> list[_Joint]:
    joints: list[_Joint] = []
    stack: list[int] = []  # joint indices; -2 marks an End Site block
    pending: int | None = None  # joint (or -2) whose '{' comes next
    k = 0

    def take(what: str) -> tuple[str, int]:
        nonlocal k
        if k >= len(tokens):
            raise MotionFileError(path, f"hierarchy ends while expecting {what} (truncated file?)", eof_line)
        tok = tokens[k]
        k += 1
        return tok

    def number(what: str) -> float:
        tok, line = take(what)
        try:
            value = float(tok)
        except ValueError:
            raise MotionFileError(path, f"expected a number for {what}, found {tok!r}", line) from None
        if not np.isfinite(value):
            raise MotionFileError(path, f"non-finite value {tok!r} in {what}", line)
        if abs(value) > MAX_VALUE:
            raise MotionFileError(path, f"{what} {tok} is out of range (at most {MAX_VALUE:g} either way)", line)
        return value

    tok, line = take("HIERARCHY")
    if tok.upper() != "HIERARCHY":
        raise MotionFileError(path, f"expected HIERARCHY at the start of a BVH file, found {tok!r}", line)
    names: set[str] = set()
    while k < len(tokens):
        tok, line = take("a keyword")
        key = tok.upper()
        if key in ("ROOT", "JOINT"):
            if key == "ROOT" and (stack or joints):
                raise MotionFileError(path, "more than one ROOT (or ROOT inside a joint); LMM reads one skeleton per file", line)
            if key == "JOINT" and not stack:
                raise MotionFileError(path, "JOINT outside the ROOT's braces", line)
            name, _ = take("a joint name")
            if name in names:
                raise MotionFileError(path, f"duplicate joint name {name!r}; joint names must be unique", line)
            names.add(name)
            joints.append(_Joint(name, stack[-1] if stack else -1, line))
            pending = len(joints) - 1
        elif key == "END":
            site, _ = take("'Site'")
            if site.upper() != "SITE" or not stack or stack[-1] < 0:
                raise MotionFileError(path, "misplaced 'End Site'", line)
            pending = -2
        elif tok == "{":
            if pending is None:
                raise MotionFileError(path, "'{' without a joint before it", line)
            stack.append(pending)
            pending = None
        elif tok == "}":
            if not stack:
                raise MotionFileError(path, "unbalanced '}'", line)
            stack.pop()
        elif key == "OFFSET":
            if not stack:
                raise MotionFileError(path, "OFFSET outside a joint", line)
            offset = np.array([number("OFFSET x"), number("OFFSET y"), number("OFFSET z")])
            if stack[-1] == -2:
                joints[stack[-2]].end_site = offset
            else:
                joints[stack[-1]].offset = offset
        elif key == "CHANNELS":
            if not stack or stack[-1] < 0:
                raise MotionFileError(path, "CHANNELS outside a joint", line)
            count_tok, _ = take("the channel count")
            if not count_tok.isdigit():
                raise MotionFileError(path, f"expected a channel count after CHANNELS, found {count_tok!r}", line)
            channels = []
            for _ in range(int(count_tok)):
                name, ch_line = take("a channel name")
                low = name.lower()
                if low not in _POS and low not in _ROT:
                    raise MotionFileError(
                        path, f"unknown channel name {name!r}; expected X/Y/Z followed by 'position' or 'rotation'", ch_line
                    )
                channels.append(low)
            if len(set(channels)) != len(channels):
                raise MotionFileError(path, "a channel is listed twice for one joint", line)
            joints[stack[-1]].channels = channels
        else:
            raise MotionFileError(path, f"unexpected {tok!r} in the hierarchy", line)
    if stack:
        raise MotionFileError(path, f"joint {joints[stack[-1]].name!r} is not closed with '}}' before MOTION", eof_line)
    if not joints:
        raise MotionFileError(path, "the hierarchy has no joints", eof_line)
    for j in joints:
        if j.offset is None:
            raise MotionFileError(path, f"joint {j.name!r} has no OFFSET", j.line)
    return joints


def _frame_header(lines: list[str], start: int, path: Path | None) -> tuple[int, float, int]:
    """``(frames, frame_time, index of the first data line)`` from the lines after ``MOTION``."""
    found: dict[str, tuple[str, int]] = {}
    i = start
    while i < len(lines) and len(found) < 2:
        text = lines[i].strip()
        i += 1
        if not text:
            continue
        low = text.lower()
        if low.startswith("frames:"):
            found["frames"] = (text[7:].strip(), i)
        elif low.startswith("frame time:"):
            found["time"] = (text[11:].strip(), i)
        else:
            raise MotionFileError(path, f"expected 'Frames:' and 'Frame Time:' after MOTION, found {text[:40]!r}", i)
    if len(found) < 2:
        raise MotionFileError(path, "the file ends before 'Frames:' and 'Frame Time:' (truncated file?)", len(lines))
    value, line = found["frames"]
    if not value.isdigit():
        raise MotionFileError(path, f"'Frames:' must be a whole number, found {value!r}", line)
    frames = int(value)
    if frames == 0:
        raise MotionFileError(path, "the file has zero frames; there is no motion to read", line)
    if frames > max_frames():
        raise MotionFileError(path, f"'Frames: {frames}' is more than the limit of {max_frames():,} frames; if the "
                                    "clip is genuine, set LMM_MAX_FRAMES to allow more", line)
    value, line = found["time"]
    try:
        frame_time = float(value)
    except ValueError:
        raise MotionFileError(path, f"'Frame Time:' must be a number of seconds, found {value!r}", line) from None
    if not (np.isfinite(frame_time) and 1.0 / MAX_FPS <= frame_time <= 1.0 / MIN_FPS):
        raise MotionFileError(path, f"'Frame Time:' must be from {1.0 / MAX_FPS:g} to {1.0 / MIN_FPS:g} seconds "
                                    f"({MIN_FPS:g} to {MAX_FPS:g} frames per second), found {value!r}", line)
    return frames, frame_time, i


def _frame_data(lines: list[str], first: int, frames: int, channels: int, path: Path | None) -> np.ndarray:
    """The channel values ``(frames, channels)`` from the data lines starting at index ``first``."""
    rows: list[list[str]] = []
    numbers: list[int] = []  # 1-based line number of each row
    for i in range(first, len(lines)):
        parts = lines[i].split()
        if parts:
            rows.append(parts)
            numbers.append(i + 1)
    counts = np.fromiter(map(len, rows), dtype=np.int64, count=len(rows))
    wrong = np.nonzero(counts != channels)[0]
    if len(wrong):
        r = int(wrong[0])
        if r == len(rows) - 1 and len(rows) <= frames and counts[r] < channels:
            problem = f"the last frame has {counts[r]} of {channels} values: the file is truncated"
        else:
            problem = f"expected {channels} values per frame (the hierarchy's channels), found {counts[r]}"
        raise MotionFileError(path, problem, numbers[r])
    if len(rows) < frames:
        raise MotionFileError(
            path, f"the header says {frames} frames but the file ends after {len(rows)}: it is truncated", len(lines)
        )
    if len(rows) > frames:
        raise MotionFileError(
            path, f"the header says {frames} frames but there are {len(rows)} frame lines; fix 'Frames:'", numbers[frames]
        )
    try:
        data = np.array(rows, dtype=np.float64)
    except ValueError:
        for r, row in enumerate(rows):
            for tok in row:
                try:
                    float(tok)
                except ValueError:
                    raise MotionFileError(path, f"{tok!r} is not a number", numbers[r]) from None
        raise
    bad = ~np.isfinite(data)
    if bad.any():
        r, c = np.argwhere(bad)[0]
        raise MotionFileError(path, f"non-finite value {rows[r][c]!r} in channel {c + 1}", numbers[r])
    big = np.abs(data) > MAX_VALUE
    if big.any():
        r, c = np.argwhere(big)[0]
        raise MotionFileError(path, f"value {rows[r][c]} in channel {c + 1} is out of range (at most {MAX_VALUE:g} "
                                    "either way)", numbers[r])
    return data


def parse_bvh(text: str, *, path: str | Path | None = None, units: str | None = None, up_axis: str = "y") -> Motion:
    """Parse BVH text into a ``Motion`` (see ``read_bvh``); ``path`` is only used in error messages."""
    path = None if path is None else Path(path)
    lines = text.splitlines()
    tokens, motion_line = _header_tokens(lines, path)
    joints = _parse_hierarchy(tokens, path, motion_line + 1)
    frames, frame_time, first = _frame_header(lines, motion_line + 1, path)
    n_channels = sum(len(j.channels) for j in joints)
    data = _frame_data(lines, first, frames, n_channels, path)

    n = len(joints)
    offsets = np.stack([j.offset for j in joints])
    local_pos = np.broadcast_to(offsets, (frames, n, 3)).copy()
    local_rot = np.empty((frames, n, 4))
    orders: list[str] = []
    col = 0
    by_order: dict[str, tuple[list[int], list[list[int]]]] = {}
    animated_translation = np.zeros(n, dtype=bool)
    for ji, joint in enumerate(joints):
        rot_cols, rot_axes = [], ""
        for ch in joint.channels:
            if ch in _POS:
                local_pos[:, ji, _POS[ch]] = data[:, col]
                animated_translation[ji] = True
            else:
                rot_cols.append(col)
                rot_axes += _ROT[ch]
            col += 1
        if len(rot_axes) == 3 and len(set(rot_axes)) == 3:
            js, cols = by_order.setdefault(rot_axes, ([], []))
            js.append(ji)
            cols.append(rot_cols)
            orders.append(rot_axes)
        else:
            # 0 to 2 rotation channels: compose them one axis at a time.
            q = R.identity((frames,))
            for c, axis in zip(rot_cols, rot_axes):
                unit = np.zeros(3)
                unit["xyz".index(axis)] = 1.0
                q = R.mul(q, R.from_axis_angle(unit, np.radians(data[:, c])))
            local_rot[:, ji] = q
            orders.append("zyx")
    for order, (js, cols) in by_order.items():
        angles = np.radians(data[:, np.array(cols)])  # (T, Jg, 3)
        local_rot[:, js] = R.from_euler(angles, order)

    parents = np.array([j.parent for j in joints])
    end_sites = {i: j.end_site for i, j in enumerate(joints) if j.end_site is not None}
    try:
        skeleton = Skeleton(
            names=tuple(j.name for j in joints),
            parents=parents,
            offsets=offsets,
            units=units or "m",
            up_axis=up_axis,
            end_sites=end_sites,
            rotation_orders=tuple(orders),
        )
    except LMMError as exc:
        raise MotionFileError(path, str(exc)) from None
    # Keep per-joint translations only where a non-root joint really moves away from its offset.
    translations = None
    moving = animated_translation.copy()
    moving[0] = False
    if moving.any():
        scale = max(np.abs(offsets).max(), 1e-9)
        if np.abs(local_pos[:, moving] - offsets[moving]).max() > 1e-7 * scale:
            translations = local_pos
    motion = Motion(
        skeleton=skeleton,
        rotations=local_rot,
        root_positions=local_pos[:, 0].copy(),
        fps=fps_from_frame_time(frame_time),
        translations=translations,
    )
    if animated_translation[0] and offsets[0, skeleton.up_index] != 0.0:
        motion = _root_position_convention(motion)
    if units is None:
        motion = replace(motion, skeleton=replace(skeleton, units=guess_motion_units(motion)))
    return motion


def leg_length(motion: Motion) -> float | None:
    """Hip socket to ankle along the thigh and shin, in the motion's units: the median over frames, averaged
    over both legs; ``None`` when the skeleton cannot be mapped to a body with hips, knees and ankles.

    Bone lengths are measured between the joints' positions (a file with animated translations may rest
    its joints elsewhere), so a performer lying on the floor measures the same as one standing."""
    pos = motion.global_positions()
    try:
        bone_map = bone_map_for(motion.skeleton, pose=pos[0])
    except LMMError:  # not a body this can map: the caller falls back on the height
        return None
    index = {n: i for i, n in enumerate(motion.skeleton.names)}
    legs = []
    for side in ("left", "right"):
        chain = [bone_map.bones.get(f"{side}_{joint}") for joint in ("hip", "knee", "ankle")]
        if None in chain:
            return None
        h, k, a = (pos[:, index[b]] for b in chain)
        legs.append(np.median(np.linalg.norm(k - h, axis=-1) + np.linalg.norm(a - k, axis=-1)))
    leg = float(np.mean(legs))
    return leg if leg > 0 else None


def guess_motion_units(motion: Motion) -> str:
    """The file's likely length units: its leg length against the canonical body's (``canonical.LEG_LENGTH``,
    0.78 m), else, for a skeleton with no legs to find, its standing height against 1.7 m.

    Standing height misleads on floor-heavy clips (LAFAN1's ground and fall clips measured 34-77 cm tall in
    centimetres, guessed inches or CMU units: a 2.2 m leg); a leg is the same length in any pose."""
    leg = leg_length(motion)
    return guess_units(motion.height()) if leg is None else guess_units(leg, C.LEG_LENGTH)


def _root_position_convention(motion: Motion) -> Motion:
    """Decide whether the root's position channels replace its OFFSET or add to it.

    Most files (LAFAN1, Bandai, CMU, ours) store the root's position itself; Blender's exporter
    (ReActIdle) stores it relative to the OFFSET. The file does not say, so pick the reading that puts
    the lowest point of the body (2nd percentile over frames) nearer the floor at zero.
    """
    sk = motion.skeleton
    up = sk.up_index
    lowest = float(np.percentile(motion.global_positions(end_sites=True)[..., up].min(axis=1), 2))
    if abs(lowest + sk.offsets[0, up]) < abs(lowest):
        return replace(motion, root_positions=motion.root_positions + sk.offsets[0])
    return motion


def _dfs_order(skeleton: Skeleton) -> list[int]:
    order: list[int] = []
    stack = [0]
    while stack:
        j = stack.pop()
        order.append(j)
        stack.extend(reversed(skeleton.children(j)))
    return order


def format_bvh(motion: Motion, *, order: str | None = None, precision: int = 6) -> str:
    """BVH text for a motion.

    Args:
        order: one Euler order (``"zyx"``, ``"xyz"``, ...) for every joint; ``None`` keeps each joint's
            ``skeleton.rotation_orders``.
        precision: decimals for angles (degrees) and positions.
    """
    sk = motion.skeleton
    if not (np.all(np.isfinite(motion.rotations)) and np.all(np.isfinite(motion.root_positions))):
        raise LMMError("the motion holds non-finite values (NaN or infinity); nothing was written")
    orders = [order.lower()] * sk.num_joints if order else list(sk.rotation_orders)
    for o in orders:
        if o not in R.EULER_ORDERS:
            raise LMMError(f"unknown Euler order {o!r}; use one of {', '.join(R.EULER_ORDERS)}")
    local_pos = motion.local_positions()
    has_pos = np.zeros(sk.num_joints, dtype=bool)
    has_pos[0] = True
    if motion.translations is not None:
        has_pos |= np.abs(local_pos - sk.offsets).max(axis=(0, 2)) > 0

    rot = R.unroll(motion.rotations)
    euler = np.empty(rot.shape[:-1] + (3,))
    for o in set(orders):
        js = [j for j in range(sk.num_joints) if orders[j] == o]
        euler[:, js] = R.to_euler(rot[:, js], o)
    # Unwrapping each angle over time keeps the same rotations and makes curves continuous for editors.
    euler = np.degrees(np.unwrap(euler, axis=0))

    out: list[str] = ["HIERARCHY"]
    columns: list[np.ndarray] = []
    fmt = f"{{:.{precision}f}}"
    dfs = _dfs_order(sk)
    depth = {0: 0}
    open_stack: list[int] = []  # joints whose braces are open, innermost last

    def close_to(parent: int) -> None:
        while open_stack and open_stack[-1] != parent:
            j = open_stack.pop()
            ind = "\t" * depth[j]
            if j in sk.end_sites:
                e = sk.end_sites[j]
                out.append(f"{ind}\tEnd Site\n{ind}\t{{\n{ind}\t\tOFFSET {' '.join(fmt.format(v) for v in e)}\n{ind}\t}}")
            out.append(f"{ind}}}")

    for j in dfs:
        p = int(sk.parents[j])
        if p >= 0:
            close_to(p)
            depth[j] = depth[p] + 1
        ind = "\t" * depth[j]
        out.append(f"{ind}{'ROOT' if p < 0 else 'JOINT'} {sk.names[j]}")
        out.append(f"{ind}{{")
        out.append(f"{ind}\tOFFSET {' '.join(fmt.format(v) for v in sk.offsets[j])}")
        chans = []
        if has_pos[j]:
            chans += ["Xposition", "Yposition", "Zposition"]
            columns.append(local_pos[:, j])
        chans += [f"{a.upper()}rotation" for a in orders[j]]
        columns.append(euler[:, j])
        out.append(f"{ind}\tCHANNELS {len(chans)} {' '.join(chans)}")
        open_stack.append(j)
    close_to(-1)
    data = np.concatenate(columns, axis=1)
    out.append("MOTION")
    out.append(f"Frames: {motion.num_frames}")
    out.append(f"Frame Time: {frame_time_text(motion.fps)}")
    row = " ".join([f"%.{precision}f"] * data.shape[1])
    out.extend(row % tuple(r) for r in data.tolist())
    out.append("")
    return "\n".join(out)


def frame_time_text(fps: float) -> str:
    """The ``Frame Time`` for ``fps`` with enough digits to read back as the same rate: eight decimals as
    most files have (``0.03333333``), more where eight would not give ``fps`` back (``fps_from_frame_time``)."""
    if not (np.isfinite(fps) and MIN_FPS <= fps <= MAX_FPS):
        raise LMMError(f"a frame rate of {fps:g} cannot be written; BVH files here hold {MIN_FPS:g} to {MAX_FPS:g} fps")
    for digits in (8, 10, 12, 15):
        text = f"{1.0 / fps:.{digits}f}"
        if abs(fps_from_frame_time(float(text)) - fps) <= 1e-6 * fps:
            return text
    return repr(1.0 / fps)


def write_bvh(motion: Motion, path: str | Path, *, order: str | None = None, precision: int = 6) -> Path:
    """Write a motion as BVH (``.gz``/``.xz`` compressed by suffix), atomically; returns the path.

    See ``format_bvh`` for the arguments. The text is produced before the file is opened, so a bad
    motion writes nothing, and the file appears only when complete.
    """
    path = Path(path)
    text = format_bvh(motion, order=order, precision=precision)
    if not path.parent.is_dir():
        raise MotionFileError(path, f"the folder {path.parent} does not exist; create it first")
    with atomic_text_writer(path) as f:  # refuses folders, pipes, devices; follows a link; keeps the mode
        f.write(text)
    return path
