"""Text files in and out: transparent ``.gz``/``.xz`` by suffix, and writes that never leave half a file."""
from __future__ import annotations

import contextlib
import io
import gzip
import lzma
import os
import tempfile
from pathlib import Path
from typing import IO, Iterator


def _open(path: Path, mode: str, suffix_of: Path) -> IO:
    """Open ``path`` in binary ``mode``, (de)compressing as ``suffix_of``'s suffix says."""
    suffix = suffix_of.suffix.lower()
    if suffix == ".gz":
        return gzip.open(path, mode)
    if suffix == ".xz":
        return lzma.open(path, mode)
    return open(path, mode)


def read_bytes(path: str | Path) -> bytes:
    """The whole file, decompressed when its name ends in ``.gz`` or ``.xz``."""
    path = Path(path)
    with _open(path, "rb", path) as f:
        return f.read()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def set_default_mode(path: str | Path, folder: bool = False) -> None:
    """Give a temporary file (``mkstemp`` makes them 0600) or folder (``mkdtemp``: 0700) the permissions a
    plain ``open`` or ``mkdir`` would have (0666 or 0777 less the umask), before it is renamed into place."""
    with contextlib.suppress(OSError):
        os.chmod(path, (0o777 if folder else 0o666) & ~_umask())


@contextlib.contextmanager
def atomic_text_writer(path: str | Path) -> Iterator[IO[str]]:
    """A UTF-8 text stream (LF line ends) that becomes ``path`` only if the block succeeds.

    Data goes to a temporary file in the same folder, compressed when ``path`` ends in ``.gz`` or
    ``.xz``, and is renamed over ``path`` at the end (atomic on one file system). On any exception the
    temporary file is removed and ``path`` is left as it was.
    """
    path = Path(path)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        with io.TextIOWrapper(_open(tmp, "wb", path), encoding="utf-8", newline="\n") as stream:
            yield stream
        set_default_mode(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
