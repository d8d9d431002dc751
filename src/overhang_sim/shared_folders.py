"""Folders in shared memory (``/dev/shm``) where local worker processes write a run's kept draws.

A folder is named after the process that owns it, ``overhang-<pid>-<random>``, and removed
when its run ends. A run whose process was killed (SIGKILL, out of memory) cannot remove
its folder, and ``/dev/shm`` is memory: so each run first removes every folder whose
owner is no longer alive. A folder of a live process, one named otherwise, or one that
cannot be removed (another user's) is left alone.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path

__all__ = ["PREFIX", "SHARED_MEMORY", "owned_folder", "owner", "remove_stale"]

SHARED_MEMORY = Path("/dev/shm")
PREFIX = "overhang-"
_OWNER = re.compile(rf"{PREFIX}(\d+)-")


def owner(name: str) -> int | None:
    """The PID in a folder name ``overhang-<pid>-…``, or None for a name of another form."""
    found = _OWNER.match(name)
    return int(found.group(1)) if found else None


def _alive(pid: int) -> bool:
    """Whether process `pid` exists (signal 0 checks without sending anything)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, another user's
        return True
    except OverflowError:  # not a PID at all
        return False
    return True


def remove_stale(folder: Path | None = None) -> list[Path]:
    """Remove the run folders in `folder` (default: :data:`SHARED_MEMORY`) whose owner has died.

    Returns
    -------
    list of Path
        The folders removed.
    """
    folder = SHARED_MEMORY if folder is None else folder
    removed = []
    try:
        entries = list(folder.iterdir())
    except OSError:
        return removed
    for path in entries:
        pid = owner(path.name)
        if pid is None or pid == os.getpid() or _alive(pid) or not path.is_dir() or path.is_symlink():
            continue
        shutil.rmtree(path, ignore_errors=True)
        if not path.exists():
            removed.append(path)
    return removed


def owned_folder(folder: Path | None = None) -> tempfile.TemporaryDirectory:
    """A new temporary folder in `folder` (default: :data:`SHARED_MEMORY`) named after this process."""
    folder = SHARED_MEMORY if folder is None else folder
    return tempfile.TemporaryDirectory(prefix=f"{PREFIX}{os.getpid()}-", dir=folder)
