"""Files in and out: text with transparent ``.gz``/``.xz`` by suffix, and writes that never leave half a file
(``atomic_path``, ``atomic_binary_writer``, ``atomic_text_writer``)."""
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
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temporary file's path to write to, which becomes ``path`` only if the block succeeds.

    The temporary file is made (empty) in ``path``'s folder, named ``.<name>.<random>.tmp<suffix>`` with
    ``path``'s last suffix, so writers that go by the name (``np.savez`` appends ``.npz`` to any other
    name; image writers pick the format) write what ``path`` asks for. When the block ends, the file gets
    the permissions a plain ``open`` gives (``set_default_mode``) and is renamed over ``path`` (atomic on
    one file system). On any exception it is removed and ``path`` is left as it was. The folder must
    exist.

    For code that needs a file name (``torch.save(obj, tmp)``, ``np.savez(tmp, ...)``, a renderer);
    ``atomic_binary_writer`` and ``atomic_text_writer`` give a stream instead.
    """
    path = Path(path)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp" + path.suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        set_default_mode(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


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
