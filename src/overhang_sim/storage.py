"""Saving and loading results: netCDF (h5netcdf engine) or zarr, written atomically."""

from __future__ import annotations

import os
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import xarray as xr

from .errors import StorageError

__all__ = ["check_writable", "load", "save"]

ENGINE = "h5netcdf"


def save(result: xr.Dataset, path: str | Path) -> Path:
    """Write `result` to `path`, atomically: netCDF, or zarr when the name ends in ``.zarr``.

    The result is written under a temporary name in the same folder and renamed
    into place, so an interrupted write never leaves a file that looks complete
    and an existing file is replaced only by a complete one. A ``saved`` attribute
    (UTC time) is added to the file, not to `result`. Zarr stores are chunked along
    ``draw`` (at most 2**20 draws a chunk), for runs too large for one netCDF read.

    Raises
    ------
    StorageError
        If the folder does not exist or is not writable.
    """
    path = Path(path)
    folder = check_writable(path)
    stamped = result.copy()
    stamped.attrs = {**result.attrs, "saved": datetime.now(UTC).isoformat(timespec="seconds")}
    zarr = path.suffix == ".zarr"
    try:
        temporary = tempfile.mkdtemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp") if zarr else \
            _temporary_file(folder, path)
    except OSError as error:
        raise StorageError(f"cannot write here: {error.strerror}", file=str(path)) from None
    try:
        if zarr:
            chunks = {"draw": min(stamped.sizes["draw"], 2**20)} if "draw" in stamped.dims else {}
            stamped.chunk(chunks).to_zarr(temporary, mode="w", zarr_format=2, consolidated=True)
            if path.exists():  # a folder cannot be replaced in one step: move the old one aside first
                old = f"{temporary}.old"
                os.replace(path, old)
                os.replace(temporary, path)
                shutil.rmtree(old)
                return path
        else:
            stamped.to_netcdf(temporary, engine=ENGINE, invalid_netcdf=False)
        os.replace(temporary, path)
    except OSError as error:
        raise StorageError(f"cannot write: {error}", file=str(path)) from None
    finally:
        if os.path.isdir(temporary):
            shutil.rmtree(temporary)
        elif os.path.exists(temporary):
            os.unlink(temporary)
    return path


def _temporary_file(folder: Path, path: Path) -> str:
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
    os.close(handle)
    return temporary


def check_writable(path: str | Path) -> Path:
    """Return the folder `path` would be written to; raise :class:`StorageError` if it cannot be.

    Call it before a long computation so a bad ``--out`` fails at once.
    """
    path = Path(path)
    folder = path.parent
    if not folder.is_dir():
        raise StorageError(f"the folder {str(folder)!r} does not exist", file=str(path))
    if path.is_dir() and path.suffix != ".zarr":
        raise StorageError("is a folder, not a file name", file=str(path))
    if not os.access(folder, os.W_OK):
        raise StorageError(f"the folder {str(folder)!r} is not writable", file=str(path))
    return folder


def load(path: str | Path) -> xr.Dataset:
    """Read a saved result fully into memory."""
    try:
        engine = "zarr" if Path(path).suffix == ".zarr" else ENGINE
        with xr.open_dataset(path, engine=engine) as ds:
            return ds.load()
    except FileNotFoundError:
        raise StorageError("no such file", file=str(path)) from None
    except OSError as error:
        raise StorageError(f"cannot read: {error}", file=str(path)) from None
