"""A small reader and writer for OpenCV's ``FileStorage`` YAML (``%YAML:1.0``), the calibration files
OpenCV-based tools write.

It understands what ``cv::FileStorage`` produces, not YAML at large: the ``%YAML:1.0`` header and ``---``,
``#`` comments, block mappings by indentation, block sequences (``- item``), flow sequences of scalars
(``[ 1., 2. ]``, possibly over several lines), quoted and plain scalars, and ``!!opencv-matrix``
(``rows``, ``cols``, ``dt``, ``data``) which becomes a numpy array of shape ``(rows, cols)`` (or
``(rows, cols, channels)`` for ``dt`` such as ``3d``). Anything else is an error naming the line.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ..errors import MotionFileError
from ..io.atomic import read_text

_KEY = re.compile(r"""^(?:"([^"]*)"|'([^']*)'|([^:\s][^:]*?))\s*:(?:\s+(.*))?$""")
_DT_CHANNELS = re.compile(r"^(\d*)([ucsifdhr])$")


def _strip_comment(line: str) -> str:
    """The line without a ``#`` comment (a ``#`` inside quotes is kept)."""
    quote = None
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1] in " \t"):
            return line[:i]
    return line


def _scalar(text: str):
    """A plain or quoted scalar: int, float (``.nan``, ``.inf``), or string."""
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        return text[1:-1]
    low = text.lower()
    if low in (".nan", "nan"):
        return float("nan")
    if low in (".inf", "+.inf", "inf"):
        return float("inf")
    if low in ("-.inf", "-inf"):
        return float("-inf")
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def _flow(text: str, path, line: int) -> list:
    """Items of a flow sequence ``[a, b, ...]`` of scalars."""
    inner = text.strip()
    if not (inner.startswith("[") and inner.endswith("]")):
        raise MotionFileError(path, f"expected a list in [brackets], got {text.strip()[:40]!r}", line)
    inner = inner[1:-1].strip()
    if "[" in inner or "{" in inner:
        raise MotionFileError(path, "nested lists or mappings inside [brackets] are not supported", line)
    if not inner:
        return []
    return [_scalar(item) for item in inner.split(",") if item.strip() != ""]


def _lines(text: str, path) -> list[tuple[int, int, str]]:
    """Logical lines ``(line_number, indent, content)``: comments and blank lines dropped, flow sequences
    that run over several lines joined into one."""
    out: list[tuple[int, int, str]] = []
    raw = text.splitlines()
    i = 0
    while i < len(raw):
        number = i + 1
        line = _strip_comment(raw[i]).rstrip()
        i += 1
        if not line.strip():
            continue
        if "\t" in line[: len(line) - len(line.lstrip())]:
            raise MotionFileError(path, "indentation with tabs; YAML needs spaces", number)
        # A "[" that is not closed on this line continues on the next ones.
        while line.count("[") > line.count("]"):
            if i >= len(raw):
                raise MotionFileError(path, "a list in [brackets] is never closed", number)
            line += " " + _strip_comment(raw[i]).strip()
            i += 1
        out.append((number, len(line) - len(line.lstrip()), line.strip()))
    return out


class _Parser:
    def __init__(self, text: str, path):
        self.path = path
        lines = _lines(text, path)
        # Header lines: %YAML:1.0 (or %YAML 1.0) and the document start "---".
        if lines and lines[0][2].startswith("%YAML"):
            lines = lines[1:]
        elif lines:
            raise MotionFileError(path, "not an OpenCV YAML file: the first line should be %YAML:1.0", lines[0][0])
        if lines and lines[0][2].startswith("---"):
            rest = lines[0][2][3:].strip()
            lines = lines[1:] if not rest else [(lines[0][0], 0, rest)] + lines[1:]
        self.lines = lines
        self.i = 0

    def error(self, problem: str, line: int | None = None) -> MotionFileError:
        if line is None and self.i < len(self.lines):
            line = self.lines[self.i][0]
        return MotionFileError(self.path, problem, line)

    def parse(self) -> dict:
        if not self.lines:
            return {}
        value = self.block(self.lines[0][1])
        if self.i < len(self.lines):
            raise self.error("unexpected indentation (a line starts left of its block)")
        if not isinstance(value, dict):
            raise self.error("the top level of an OpenCV YAML file must be a mapping (key: value)", self.lines[0][0])
        return value

    def block(self, indent: int):
        """The mapping or sequence whose lines start at ``indent``."""
        number, ind, content = self.lines[self.i]
        if ind != indent:
            raise self.error(f"unexpected indentation ({ind} spaces where {indent} were expected)")
        if content.startswith("- ") or content == "-":
            return self.sequence(indent)
        return self.mapping(indent)

    def sequence(self, indent: int) -> list:
        items = []
        while self.i < len(self.lines):
            number, ind, content = self.lines[self.i]
            if ind < indent:
                break
            if ind > indent or not (content.startswith("- ") or content == "-"):
                raise self.error("expected '- item' in a list")
            self.i += 1
            rest = content[1:].strip()
            if not rest:
                if self.i < len(self.lines) and self.lines[self.i][1] > indent:
                    items.append(self.block(self.lines[self.i][1]))
                else:
                    items.append(None)
            elif rest.startswith("["):
                items.append(_flow(rest, self.path, number))
            elif _KEY.match(rest) and not rest[0] in "\"'":
                raise self.error("mappings inside list items are not supported", number)
            else:
                items.append(_scalar(rest))
        return items

    def mapping(self, indent: int) -> dict:
        out: dict = {}
        while self.i < len(self.lines):
            number, ind, content = self.lines[self.i]
            if ind < indent:
                break
            if ind > indent:
                raise self.error("unexpected indentation")
            m = _KEY.match(content)
            if not m:
                raise self.error(f"expected 'key: value', got {content[:40]!r}")
            key = next(g for g in m.groups()[:3] if g is not None).strip()
            rest = (m.group(4) or "").strip()
            self.i += 1
            tag = None
            if rest.startswith("!!"):
                tag, _, rest = rest.partition(" ")
                rest = rest.strip()
            if rest:
                value = _flow(rest, self.path, number) if rest.startswith("[") else _scalar(rest)
            elif self.i < len(self.lines) and self.lines[self.i][1] > indent:
                value = self.block(self.lines[self.i][1])
            else:
                value = None
            if tag == "!!opencv-matrix":
                value = self.matrix(value, key, number)
            elif tag is not None and tag != "!!opencv-nd-matrix":
                raise MotionFileError(self.path, f"{key}: unsupported type {tag}", number)
            elif tag == "!!opencv-nd-matrix":
                value = self.nd_matrix(value, key, number)
            if key in out:
                raise MotionFileError(self.path, f"the key {key!r} appears twice", number)
            out[key] = value
        return out

    def _data(self, spec, key: str, line: int, need: tuple[str, ...]) -> tuple[np.ndarray, int]:
        if not isinstance(spec, dict) or any(k not in spec for k in need):
            raise MotionFileError(self.path, f"{key}: an opencv-matrix needs {', '.join(need)}", line)
        dt = str(spec["dt"]).strip()
        m = _DT_CHANNELS.match(dt)
        if not m:
            raise MotionFileError(self.path, f"{key}: unknown element type dt: {dt}", line)
        channels = int(m.group(1) or 1)
        data = spec["data"]
        if not isinstance(data, list):
            data = [data]
        try:
            values = np.array([float(v) for v in data], dtype=np.float64)
        except (TypeError, ValueError):
            raise MotionFileError(self.path, f"{key}: matrix data must be numbers", line) from None
        return values, channels

    def matrix(self, spec, key: str, line: int) -> np.ndarray:
        values, channels = self._data(spec, key, line, ("rows", "cols", "dt", "data"))
        try:
            rows, cols = int(spec["rows"]), int(spec["cols"])
        except (TypeError, ValueError):
            raise MotionFileError(self.path, f"{key}: rows and cols must be whole numbers", line) from None
        if values.size != rows * cols * channels:
            raise MotionFileError(self.path, f"{key}: {rows}x{cols} matrix of {channels} channel(s) needs "
                                  f"{rows * cols * channels} numbers, data has {values.size}", line)
        shape = (rows, cols) if channels == 1 else (rows, cols, channels)
        return values.reshape(shape)

    def nd_matrix(self, spec, key: str, line: int) -> np.ndarray:
        values, channels = self._data(spec, key, line, ("sizes", "dt", "data"))
        sizes = spec["sizes"] if isinstance(spec["sizes"], list) else [spec["sizes"]]
        shape = tuple(int(s) for s in sizes) + ((channels,) if channels > 1 else ())
        if values.size != int(np.prod(shape)):
            raise MotionFileError(self.path, f"{key}: sizes {shape} need {int(np.prod(shape))} numbers, data has {values.size}", line)
        return values.reshape(shape)


def parse_opencv_yaml(text: str, path: str | Path | None = None) -> dict:
    """The mapping an OpenCV ``FileStorage`` YAML text holds; matrices become numpy arrays.

    Raises ``MotionFileError(path, problem, line)`` on anything it cannot read.
    """
    return _Parser(text, path).parse()


def read_opencv_yaml(path: str | Path) -> dict:
    """``parse_opencv_yaml`` of a file."""
    return parse_opencv_yaml(read_text(path, "calibration file"), Path(path))


def _fmt_number(v: float) -> str:
    return repr(float(v))


def format_opencv_yaml(values: dict) -> str:
    """OpenCV ``FileStorage`` YAML text of a flat mapping: numpy arrays become ``!!opencv-matrix``
    (2-D, doubles), lists of strings or numbers become block or flow sequences, numbers and strings stay."""
    out = ["%YAML:1.0", "---"]
    for key, value in values.items():
        if isinstance(value, np.ndarray):
            a = np.atleast_2d(np.asarray(value, dtype=np.float64))
            data = ", ".join(_fmt_number(v) for v in a.reshape(-1))
            out += [f"{key}: !!opencv-matrix", f"   rows: {a.shape[0]}", f"   cols: {a.shape[1]}", "   dt: d",
                    f"   data: [ {data} ]"]
        elif isinstance(value, (list, tuple)):
            if all(isinstance(v, str) for v in value):
                out.append(f"{key}:")
                out += [f'   - "{v}"' for v in value]
            else:
                out.append(f"{key}: [ {', '.join(_fmt_number(v) for v in value)} ]")
        elif isinstance(value, str):
            out.append(f'{key}: "{value}"')
        elif isinstance(value, (int, np.integer)):
            out.append(f"{key}: {int(value)}")
        else:
            out.append(f"{key}: {_fmt_number(value)}")
    return "\n".join(out) + "\n"
