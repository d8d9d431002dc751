"""Saving and loading results: netCDF (h5netcdf engine), written atomically."""

from __future__ import annotations

import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import xarray as xr

from .errors import StorageError

__all__ = ["check_writable", "load", "save"]

ENGINE = "h5netcdf"


def save(result: xr.Dataset, path: str | Path) -> Path:
    """Write `result` to `path` as netCDF, atomically.

    The file is written under a temporary name in the same folder and renamed
    into place, so an interrupted write never leaves a file that looks complete
    and an existing file is replaced only by a complete one. A ``saved`` attribute
    (UTC time) is added to the file, not to `result`.

    Raises
    ------
    StorageError
        If the folder does not exist or is not writable.
    """
    path = Path(path)
    folder = check_writable(path)
    stamped = result.copy()
    stamped.attrs = {**result.attrs, "saved": datetime.now(UTC).isoformat(timespec="seconds")}
    try:
        handle, temporary = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
        os.close(handle)
    except OSError as error:
        raise StorageError(f"cannot write here: {error.strerror}", file=str(path)) from None
    try:
        stamped.to_netcdf(temporary, engine=ENGINE, invalid_netcdf=False)
        os.replace(temporary, path)
    except OSError as error:
        raise StorageError(f"cannot write: {error}", file=str(path)) from None
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
    return path


def check_writable(path: str | Path) -> Path:
    """Return the folder `path` would be written to; raise :class:`StorageError` if it cannot be.

    Call it before a long computation so a bad ``--out`` fails at once.
    """
    path = Path(path)
    folder = path.parent
    if not folder.is_dir():
        raise StorageError(f"the folder {str(folder)!r} does not exist", file=str(path))
    if path.is_dir():
        raise StorageError("is a folder, not a file name", file=str(path))
    if not os.access(folder, os.W_OK):
        raise StorageError(f"the folder {str(folder)!r} is not writable", file=str(path))
    return folder


def load(path: str | Path) -> xr.Dataset:
    """Read a saved result fully into memory."""
    try:
        with xr.open_dataset(path, engine=ENGINE) as ds:
            return ds.load()
    except FileNotFoundError:
        raise StorageError("no such file", file=str(path)) from None
    except OSError as error:
        raise StorageError(f"cannot read: {error}", file=str(path)) from None
