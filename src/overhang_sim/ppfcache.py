"""The on-disk cache of PPF tables: built once per machine, not once per process.

Building a :class:`~overhang_sim.ppftable.PPFTable` evaluates the exact inverse CDF
about 5e5 times (≈ 0.7 s for a Beta or PERT prior); reading it back from here takes
a few milliseconds. An entry is the table's nodes and measured error, stored bit for
bit, so a run gives the same draws from a cached table as from a fresh one.

An entry's name is the SHA-256 of everything its bits depend on: the prior's spec
(its ``repr``, exact for floats), the grid, the source of the modules that compute
the nodes, the package, numpy and scipy versions and the platform. A table made by
other code or other libraries is never served. Each file carries a checksum of its
contents: a truncated or corrupted file is ignored (and replaced by the next build).

Where: ``$OVERHANG_CACHE_DIR`` if set (an empty value turns the cache off), else
``$XDG_CACHE_HOME/overhang-sim`` (default ``~/.cache/overhang-sim``), in ``ppf/``.
A folder that cannot be created or written is no error: the table is just computed.
At most :data:`MAX_ENTRIES` tables are kept; the least recently used go first.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import sys
import threading
from pathlib import Path

import numpy as np

__all__ = ["MAX_ENTRIES", "cache_folder", "read", "table_key", "write"]

MAX_ENTRIES = 64  # about 2 MB each at 2**18 cells
MAGIC = b"overhang-sim ppf table 1\n"
_DIGEST = hashlib.sha256().digest_size


def cache_folder() -> Path | None:
    """The folder of the PPF tables, or None when the cache is turned off."""
    folder = os.environ.get("OVERHANG_CACHE_DIR")
    if folder is None:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        folder = os.path.join(base, "overhang-sim")
    return Path(folder, "ppf") if folder else None


def table_key(spec: object, cells: int, tail: float) -> str:
    """The name of the entry of `spec`'s table on a grid of `cells` with exact `tail`s (hex SHA-256)."""
    digest = hashlib.sha256(_code_digest())
    for part in (repr(spec), repr(cells), float(tail).hex()):
        digest.update(part.encode() + b"\0")
    return digest.hexdigest()


def read(key: str, cells: int) -> tuple[np.ndarray, float] | None:
    """The nodes (read-only, ``cells + 1`` values) and max error stored under `key`, or None.

    None when the cache is off, the entry is missing, or its file is damaged.
    """
    path = _path(key)
    if path is None:
        return None
    try:
        data = path.read_bytes()
    except OSError:
        return None
    header = len(MAGIC) + _DIGEST
    payload = memoryview(data)[header:]
    if (not data.startswith(MAGIC) or len(payload) != 8 * (cells + 2)
            or hashlib.sha256(payload).digest() != data[len(MAGIC):header]):
        return None
    values = np.frombuffer(payload, dtype="<f8")
    with contextlib.suppress(OSError):  # recently used: kept longest
        os.utime(path)
    return values[1:], float(values[0])


def write(key: str, nodes: np.ndarray, max_error: float) -> None:
    """Store `nodes` and `max_error` under `key`, atomically; silently nothing if that fails."""
    path = _path(key)
    if path is None:
        return
    payload = np.concatenate([[max_error], nodes]).astype("<f8").tobytes()
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(temporary, "xb") as file:
            file.write(MAGIC + hashlib.sha256(payload).digest() + payload)
        os.replace(temporary, path)
    except OSError:
        with contextlib.suppress(OSError):
            temporary.unlink()
        return
    _prune(path.parent)


def _path(key: str) -> Path | None:
    folder = cache_folder()
    return None if folder is None else folder / f"{key}.table"


def _prune(folder: Path) -> None:
    """Delete the least recently used entries beyond :data:`MAX_ENTRIES`."""
    with contextlib.suppress(OSError):
        entries = sorted(folder.glob("*.table"), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in entries[MAX_ENTRIES:]:
            with contextlib.suppress(OSError):
                old.unlink()


@functools.cache
def _code_digest() -> bytes:
    """SHA-256 of the code and libraries a table's bits depend on (the same for every table)."""
    import platform

    import scipy

    from . import distributions, ppftable

    digest = hashlib.sha256()
    for part in (MAGIC.decode(), _package_version(), np.__version__, scipy.__version__, sys.platform,
                 platform.machine(), sys.byteorder):
        digest.update(part.encode() + b"\0")
    for module in (distributions, ppftable, sys.modules[__name__]):
        digest.update(_source(module) + b"\0")
    return digest.digest()


def _source(module) -> bytes:
    try:
        return Path(module.__file__).read_bytes()
    except (OSError, TypeError, AttributeError):  # no source file (a zip, a frozen build): the versions decide
        return b""


def _package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("overhang-sim")
    except PackageNotFoundError:
        return "unknown"
