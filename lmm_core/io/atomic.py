"""Files in and out: reads that refuse what is not a regular file or is too large, text with transparent
``.gz``/``.xz`` by suffix and a tolerated byte-order mark, and writes that never leave half a file
(``atomic_path``, ``atomic_binary_writer``, ``atomic_text_writer``).

Writes replace only regular files: an output path that is a folder, a named pipe, a device or a socket is
refused, and one that is a symbolic link writes the file it points to (the link stays). A file replaced
keeps its permissions. Temporary files are named after the output, this host and this process
(``.<name>.<host>-<pid>-<random>.tmp<suffix>``), so a later write of the same output removes those that a
killed run left behind (their process is gone, or they are over a day old).
"""
from __future__ import annotations

import contextlib
import errno
import gzip
import hashlib
import io
import lzma
import os
import re
import socket
import stat
import tempfile
import time
from pathlib import Path
from typing import IO, Iterator

from ..errors import LMMError, MotionFileError
from ..validate import max_input_bytes

# A temporary file whose process cannot be checked (another host, or named before the process was) is
# taken for abandoned after this long without a change.
STALE_SECONDS = 24 * 3600
_HOST = hashlib.sha256(socket.gethostname().encode()).hexdigest()[:4]
_NAME_KEEP = 80  # characters of the output's name kept in its temporary file's name (names max out at 255)
# Errors of writing that are the machine's, not the program's: said in one line (while the data is written,
# only those that writing itself raises; a writer's other errors are its own).
_FULL_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EIO}
_WRITE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EIO, errno.EACCES, errno.EPERM,
                 errno.ENAMETOOLONG, errno.ENOENT, errno.ENOTDIR, errno.EISDIR, errno.ELOOP, errno.EBUSY,
                 errno.EXDEV, errno.ETXTBSY}


def _open(path: Path, mode: str, suffix_of: Path) -> IO:
    """Open ``path`` in binary ``mode``, (de)compressing as ``suffix_of``'s suffix says."""
    suffix = suffix_of.suffix.lower()
    if suffix == ".gz":
        return gzip.open(path, mode)
    if suffix == ".xz":
        return lzma.open(path, mode)
    return open(path, mode)


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def read_bytes(path: str | Path, limit: int | None = None) -> bytes:
    """The whole file, decompressed when its name ends in ``.gz`` or ``.xz``.

    Only regular files are read (a named pipe or a device would block or never end: ``MotionFileError``);
    a missing file or a folder raise ``FileNotFoundError`` / ``IsADirectoryError`` as ``open`` does. At
    most ``limit`` bytes (default ``validate.max_input_bytes()``) are read; a file that holds more once
    decompressed is a ``MotionFileError`` saying how to raise the limit.
    """
    path = Path(path)
    st = os.stat(path)
    if stat.S_ISDIR(st.st_mode):
        raise IsADirectoryError(errno.EISDIR, "Is a directory", str(path))
    if not stat.S_ISREG(st.st_mode):
        raise MotionFileError(path, f"is {_kind(st.st_mode)}, not a regular file; give a file")
    limit = max_input_bytes() if limit is None else limit
    with _open(path, "rb", path) as f:
        data = f.read(limit + 1)
    if len(data) > limit:
        packed = " once decompressed" if path.suffix.lower() in (".gz", ".xz") else ""
        raise MotionFileError(path, f"holds more than {limit:,} bytes{packed}, the input limit; if it is genuine, "
                                    "set LMM_MAX_INPUT_BYTES to allow more")
    return data


def decode_text(raw: bytes) -> str:
    """UTF-8 text without its byte-order mark (Windows tools write one); UTF-16 with its mark is read too.
    Raises ``UnicodeDecodeError`` for anything else that is not UTF-8."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16")
    return raw.decode("utf-8-sig")


def read_text(path: str | Path, what: str = "file") -> str:
    """A UTF-8 (or marked UTF-16) text file, decompressed by suffix, as ``read_bytes`` reads it; every problem
    is a ``MotionFileError`` naming the file (``what`` says what it should have been)."""
    path = Path(path)
    try:
        raw = read_bytes(path)
    except FileNotFoundError:
        raise MotionFileError(path, f"{what} not found; check the path") from None
    except IsADirectoryError:
        raise MotionFileError(path, f"is a folder, not a {what}") from None
    except (OSError, EOFError, lzma.LZMAError) as exc:
        raise MotionFileError(path, f"cannot read the {what} ({_reason(exc)})") from None
    try:
        return decode_text(raw)
    except UnicodeDecodeError as exc:
        raise MotionFileError(path, f"is not UTF-8 text (byte {exc.start}); save the {what} as UTF-8") from None


def _reason(exc: BaseException) -> str:
    return exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc) or type(exc).__name__


# ---- writing ------------------------------------------------------------------------------------------


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def set_default_mode(path: str | Path, folder: bool = False) -> None:
    """Give a temporary file (``mkstemp`` makes them 0600) or folder (``mkdtemp``: 0700) the permissions a
    plain ``open`` or ``mkdir`` would have (0666 or 0777 less the umask), before it is renamed into place."""
    with contextlib.suppress(OSError):
        os.chmod(path, (0o777 if folder else 0o666) & ~_umask())


def output_target(path: str | Path) -> Path:
    """The file a write to ``path`` replaces: ``path``, or the file it points to when it is a symbolic link.

    Raises ``LMMError`` naming the problem and the fix when the path is a folder, a named pipe, a device or
    a socket (only regular files are replaced), a link to nothing, or in a folder that does not exist.
    """
    path = Path(path)
    if path.name in ("", ".", ".."):
        raise LMMError(f"{path}: give a file name to write, not a folder")
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise LMMError(f"{path}: cannot write there ({_reason(exc)}); choose another output") from None
    if st is not None and stat.S_ISLNK(st.st_mode):
        try:
            st = os.stat(path)
        except FileNotFoundError:
            raise LMMError(f"{path} is a symbolic link to {os.readlink(path)}, which is in no existing folder or "
                           "does not exist; remove the link or give another output") from None
        except OSError as exc:
            raise LMMError(f"{path} is a symbolic link that cannot be followed ({_reason(exc)}); remove it or give "
                           "another output") from None
        path = Path(os.path.realpath(path))
    if st is not None and not stat.S_ISREG(st.st_mode):
        raise LMMError(f"{path} is {_kind(st.st_mode)}; LMM writes only to new or regular files: give a file name")
    parent = path.parent
    if not parent.is_dir():
        if parent.exists():
            raise LMMError(f"{path}: {parent} is not a folder; give an output inside a folder")
        raise LMMError(f"{path}: the folder {parent} does not exist; create it first")
    return path


def check_output(path: str | Path) -> Path:
    """``output_target(path)``, after proving that its folder takes a new file (one is made and removed), so
    that a command can refuse an output it could not write before it does any work."""
    target = output_target(path)
    with _temporary(target) as tmp:
        tmp.unlink()
    return target


def check_output_folder(folder: str | Path, what: str = "output folder") -> Path:
    """``folder`` if it is a folder that takes new files, or can be made as one (its nearest existing
    ancestor is a writable folder); else an ``LMMError`` naming the problem. Nothing is left behind."""
    folder = Path(folder)
    probe = folder
    while not probe.exists() and not probe.is_symlink() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        if probe == folder:
            raise LMMError(f"{what} {folder} exists and is not a folder; give a folder")
        raise LMMError(f"{what} {folder} cannot be made: {probe} is not a folder; give another")
    try:
        fd, name = tempfile.mkstemp(prefix=".lmm-probe-", dir=probe)
    except OSError as exc:
        where = "" if probe == folder else f" (it would be made in {probe})"
        raise LMMError(f"{what} {folder} cannot be written{where}: {_reason(exc)}; choose another folder or fix "
                       "its permissions") from None
    os.close(fd)
    os.unlink(name)
    return folder


def _prefix(path: Path) -> str:
    return f".{path.name[:_NAME_KEEP]}."


def _temp_suffix(path: Path) -> str:
    return ".tmp" + path.suffix[:16]


@contextlib.contextmanager
def _temporary(target: Path) -> Iterator[Path]:
    """An empty temporary file beside ``target`` (see the module docstring for its name)."""
    try:
        fd, name = tempfile.mkstemp(prefix=f"{_prefix(target)}{_HOST}-{os.getpid()}-", suffix=_temp_suffix(target),
                                    dir=target.parent)
    except OSError as exc:
        raise LMMError(f"{target}: cannot write in the folder {target.parent} ({_reason(exc)}); choose another "
                       "output or fix the folder's permissions") from None
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


_TAGGED = re.compile(r"([0-9a-f]{4})-(\d+)-")


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def clean_stale(target: str | Path) -> list[Path]:
    """Remove the temporary files that killed writes of ``target`` left (see the module docstring); returns
    them. Files of live processes, and untagged ones younger than ``STALE_SECONDS``, stay."""
    target = Path(target)
    prefix, suffix = _prefix(target), _temp_suffix(target)
    removed = []
    try:
        names = [n for n in os.listdir(target.parent) if n.startswith(prefix) and n.endswith(suffix)]
    except OSError:
        return removed
    now = time.time()
    for name in names:
        path = target.parent / name
        try:
            st = os.lstat(path)
        except OSError:
            continue
        if not stat.S_ISREG(st.st_mode):
            continue
        tag = _TAGGED.match(name[len(prefix):])
        if tag and tag.group(1) == _HOST:
            stale = not _alive(int(tag.group(2)))
        else:
            stale = now - st.st_mtime > STALE_SECONDS
        if stale:
            with contextlib.suppress(OSError):
                path.unlink()
                removed.append(path)
    return removed


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temporary file's path to write to, which becomes ``path`` only if the block succeeds.

    The temporary file is made (empty) in ``path``'s folder with ``path``'s last suffix, so writers that go
    by the name (``np.savez`` appends ``.npz`` to any other name; image writers pick the format) write what
    ``path`` asks for. When the block ends, the file gets the permissions of the file it replaces (or those
    a plain ``open`` gives, ``set_default_mode``) and is renamed over ``path`` (atomic on one file system).
    On any exception it is removed and ``path`` is left as it was. What ``output_target`` refuses (a
    folder, a pipe, a device, a missing folder) is an ``LMMError`` before anything is written, and so are
    the machine's write errors (a full disk, a read-only file system).

    For code that needs a file name (``torch.save(obj, tmp)``, ``np.savez(tmp, ...)``, a renderer);
    ``atomic_binary_writer`` and ``atomic_text_writer`` give a stream instead.
    """
    target = output_target(path)
    clean_stale(target)
    with _temporary(target) as tmp:
        try:
            yield tmp
        except OSError as exc:
            if exc.errno in _FULL_ERRNOS:
                raise _write_error(target, exc) from None
            raise
        try:
            st = os.stat(target)
        except FileNotFoundError:
            st = None
        if st is not None and not stat.S_ISREG(st.st_mode):  # it changed while we wrote
            raise LMMError(f"{target} became {_kind(st.st_mode)} while it was written; nothing was replaced")
        if st is None:
            set_default_mode(tmp)
        else:
            with contextlib.suppress(OSError):
                os.chmod(tmp, stat.S_IMODE(st.st_mode))
        try:
            os.replace(tmp, target)
        except OSError as exc:
            if exc.errno in _WRITE_ERRNOS:
                raise _write_error(target, exc) from None
            raise


def _write_error(target: Path, exc: OSError) -> LMMError:
    return LMMError(f"{target}: cannot write it ({_reason(exc)}); nothing was written. Free some space, fix the "
                    "permissions or choose another output")


@contextlib.contextmanager
def atomic_binary_writer(path: str | Path) -> Iterator[IO[bytes]]:
    """A binary stream that becomes ``path`` only if the block succeeds (``atomic_path``), written as is
    whatever the suffix (``np.savez(f, ...)``, ``fig.savefig(f, format="png")``, ``torch.save(obj, f)``)."""
    with atomic_path(path) as tmp, open(tmp, "wb") as stream:
        yield stream


@contextlib.contextmanager
def atomic_text_writer(path: str | Path) -> Iterator[IO[str]]:
    """A UTF-8 text stream (LF line ends) that becomes ``path`` only if the block succeeds.

    Data goes to a temporary file in the same folder (``atomic_path``), compressed when ``path`` ends in
    ``.gz`` or ``.xz``, and is renamed over ``path`` at the end (atomic on one file system). On any
    exception the temporary file is removed and ``path`` is left as it was.
    """
    path = Path(path)
    with atomic_path(path) as tmp, io.TextIOWrapper(_open(tmp, "wb", path), encoding="utf-8", newline="\n") as stream:
        yield stream
