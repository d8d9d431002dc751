"""Files: results (netCDF or zarr), checkpoints of unfinished runs, atomic writes.

Everything the package writes goes through :func:`atomic_path`: the data are written
under a temporary name in the destination's folder (``.NAME.PID.tmp``), flushed to
disk and renamed into place, so a reader never sees a half-written file and an
existing file is only ever replaced by a complete one. Temporaries left by a process
that was killed are removed the next time anything is written to the same name.

netCDF is written in a forked child process where the platform allows it: when the
disk fills, HDF5 leaves its library state broken and the interpreter crashes at exit
(a segmentation fault after the error); the child takes that crash with it and the
parent reports one line. The free space is checked before writing, too.

Checkpoints (:class:`Checkpoint`) hold one file per finished task. Nothing the
package reads is unpickled: task files are ``.npz`` (read with ``allow_pickle=False``;
a scenario's Dataset is stored as its arrays plus JSON), and each is listed with its
SHA-256 in an append-only index, so a corrupt, truncated or foreign file is detected
and recomputed.

A run (a Dataset with ``chain`` and ``draw`` dimensions) is written in ArviZ's
InferenceData layout, one group per kind of variable, so ``arviz.from_netcdf`` and
``xarray.open_dataset(path, group="prior")`` read it directly:

``prior``
    every variable with draws (sampled inputs and outputs): forward draws from the
    priors, where ArviZ looks for them;
``constant_data``
    the fixed inputs (no draws), so ``az.summary(idata.prior)`` needs no ``var_names``;
``summary``
    everything else: the summaries a run with scenario axes carries.

The provenance attributes are on the root and on every group. :func:`load` merges the
groups back into one Dataset, and still reads files saved before this layout (one
flat group). Other Datasets (summaries, sensitivity results) are written flat.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
import sys
import tempfile
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import xarray as xr

from .errors import ConfigError, StorageError

__all__ = ["Checkpoint", "atomic_path", "atomic_write_bytes", "check_writable", "load", "save"]

ENGINE = "h5netcdf"
ZARR_CHUNK_DRAWS = 2**20
SAMPLE_DIMS = ("chain", "draw")
GROUPS = ("prior", "constant_data", "summary")
SPACE_MARGIN = 1.05  # a netCDF file is its arrays plus a little metadata


# --------------------------------------------------------------------------- atomic writes


def _temporary_name(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists() or path.is_symlink():
        path.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove_stale_temporaries(path: Path) -> None:
    """Delete ``.NAME.PID.tmp`` files next to `path` whose writing process is gone."""
    for leftover in path.parent.glob(f".{path.name}.*.tmp"):
        pid = leftover.name.removeprefix(f".{path.name}.").removesuffix(".tmp")
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            _remove(leftover)


def _fsync(path: Path) -> None:
    if path.is_dir():
        for child in path.rglob("*"):
            if child.is_file():
                _fsync(child)
    flags = os.O_RDONLY | (os.O_DIRECTORY if path.is_dir() else 0)
    with contextlib.suppress(OSError):  # some filesystems refuse to sync a folder
        fd = os.open(path, flags)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _oserror(error: OSError) -> str:
    """One line for an OSError (HDF5 puts its whole diagnosis, newlines and all, in the message)."""
    if error.errno:
        return os.strerror(error.errno)
    return " ".join(str(error).split())[:200]


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path to write; on success it is flushed and renamed to `path`.

    The temporary is removed if the block raises. A folder (a zarr store) replaces an
    existing one in two renames: the old one is moved aside first, then deleted.

    Raises
    ------
    StorageError
        If the data cannot be written or renamed (one line naming `path`).
    """
    path = Path(path)
    temporary = _temporary_name(path)
    _remove_stale_temporaries(path)
    _remove(temporary)
    try:
        yield temporary
        _fsync(temporary)
        if temporary.is_dir() and path.exists():
            aside = path.with_name(f".{path.name}.{os.getpid()}.old.tmp")
            os.replace(path, aside)
            os.replace(temporary, path)
            _remove(aside)
        else:
            os.replace(temporary, path)
        _fsync(path.parent)
    except OSError as error:
        raise StorageError(f"cannot write: {_oserror(error)}", file=str(path)) from None
    finally:
        _remove(temporary)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write `data` to `path` atomically (see :func:`atomic_path`)."""
    with atomic_path(path) as temporary, open(temporary, "wb") as handle:
        handle.write(data)


# --------------------------------------------------------------------------- results


def check_writable(path: str | Path, *, overwrite: bool = True) -> Path:
    """Create `path`'s folder if missing and return it; raise :class:`StorageError` if unusable.

    Call it before a long computation so a bad ``--out`` fails at once.

    Parameters
    ----------
    path : path
        The file (or ``*.zarr`` folder) to be written.
    overwrite : bool
        Whether an existing `path` may be replaced; without it an existing one is an
        error (a saved result is never replaced by accident).
    """
    path = Path(path)
    if path.is_dir() and path.suffix != ".zarr":
        raise StorageError("is a folder, not a file name", file=str(path))
    if not overwrite and os.path.lexists(path):
        raise StorageError("already exists and is kept; --overwrite (overwrite=True in Python) replaces it",
                           file=str(path))
    folder = path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise StorageError(f"cannot create the folder {str(folder)!r}: {_oserror(error)}",
                           file=str(path)) from None
    if not os.access(folder, os.W_OK):
        raise StorageError(f"the folder {str(folder)!r} is not writable", file=str(path))
    try:  # the kernel may still refuse: a read-only mount, /proc (root passes os.access)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        raise StorageError(f"cannot write in the folder {str(folder)!r}: {_oserror(error)}", file=str(path)) from None
    return folder


def _check_space(folder: Path, need: int, path: Path) -> None:
    try:
        stats = os.statvfs(folder)
    except (OSError, AttributeError):  # no statvfs (Windows): the write itself will tell
        return
    free = stats.f_bavail * stats.f_frsize
    if need > free:
        raise StorageError(f"needs about {need / 1e6:.3g} MB but the disk has {free / 1e6:.3g} MB free",
                           file=str(path))


def save(result: xr.Dataset, path: str | Path, *, overwrite: bool = False) -> Path:
    """Write `result` to `path` atomically: netCDF, or zarr when the name ends in ``.zarr``.

    A run (with ``chain`` and ``draw`` dims) is written in groups (``prior``,
    ``constant_data``, ``summary``; see the module docstring), anything else flat.
    Missing parent folders are created. A ``saved`` attribute (UTC time) is added to
    the file, not to `result`. Zarr stores are chunked along ``draw`` (at most
    2**20 draws a chunk) and written without dask.

    Parameters
    ----------
    result : xarray.Dataset
    path : path
    overwrite : bool
        Replace an existing `path` (atomically: the old file stays until the new one
        is complete). Without it an existing `path` is refused and left as it was.

    Raises
    ------
    StorageError
        One line naming `path`: it exists (without `overwrite`), the folder is not
        writable, the disk is full, …
    """
    path = Path(path)
    folder = check_writable(path, overwrite=overwrite)
    stamped = result.copy()
    stamped.attrs = {**result.attrs, "saved": datetime.now(UTC).isoformat(timespec="seconds")}
    _check_space(folder, int(SPACE_MARGIN * stamped.nbytes) + 2**20, path)
    tree = as_tree(stamped)
    with atomic_path(path) as temporary:
        if path.suffix == ".zarr":
            _write_zarr(tree, temporary)
        else:
            _isolated(lambda: tree.to_netcdf(temporary, engine=ENGINE, invalid_netcdf=False), path)
    return path


def _group_of(variable: xr.DataArray) -> str:
    if set(SAMPLE_DIMS) <= set(variable.dims):
        return "prior"
    return "constant_data" if variable.attrs.get("role") in ("input", "output") else "summary"


def as_tree(result: xr.Dataset) -> xr.DataTree:
    """`result` as the tree of groups it is saved as.

    A run (``chain`` and ``draw`` dims) becomes ArviZ's layout: the variables with draws in
    ``prior``, fixed inputs in ``constant_data``, the rest in ``summary``, the attributes on
    the root and every group; any other Dataset is the root alone.
    """
    if not set(SAMPLE_DIMS) <= set(result.dims):
        return xr.DataTree(result)
    names = {group: [n for n, v in result.data_vars.items() if _group_of(v) == group] for group in GROUPS}
    groups = {f"/{group}": result[vars_].assign_attrs(result.attrs) for group, vars_ in names.items() if vars_}
    return xr.DataTree.from_dict({"/": xr.Dataset(attrs=result.attrs), **groups})


def from_tree(tree: xr.DataTree) -> xr.Dataset:
    """The Dataset :func:`as_tree` made `tree` from (a flat file's root as it is)."""
    groups = [tree[group].to_dataset() for group in GROUPS if group in tree.children]
    if not groups:
        return tree.to_dataset()
    merged = xr.merge(groups, compat="identical", join="exact", combine_attrs="drop_conflicts")
    return merged.assign_attrs(tree.attrs)


def _write_zarr(tree: xr.DataTree, target: Path) -> None:
    encoding = {}
    for node in tree.subtree:
        chunks = {}
        for name, variable in node.dataset.variables.items():
            if "draw" in variable.dims:
                chunks[name] = {"chunks": tuple(min(n, ZARR_CHUNK_DRAWS) if d == "draw" else n
                                                for d, n in zip(variable.dims, variable.shape))}
        if chunks:
            encoding[node.path] = chunks
    tree.to_zarr(target, mode="w", zarr_format=2, consolidated=True, encoding=encoding)


def _isolated(write, path: Path) -> None:
    """Run `write()` in a forked child (POSIX) so a crash of the HDF5 library cannot take this process."""
    if not hasattr(os, "fork"):
        write()
        return
    read, send = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the child: write, report, and leave without any clean-up of the parent's state
        status = 0
        try:
            os.close(read)
            write()
        except BaseException as error:  # noqa: BLE001 -- everything is reported to the parent
            status = 1
            message = _oserror(error) if isinstance(error, OSError) else f"{type(error).__name__}: {error}"
            with contextlib.suppress(OSError):
                os.write(send, " ".join(message.split()).encode()[:1000])
        os._exit(status)
    os.close(send)
    with os.fdopen(read, "rb") as pipe:
        message = pipe.read().decode(errors="replace")
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        message = message or f"the writing process died of signal {os.WTERMSIG(status)}"
        raise OSError(message)
    if os.WEXITSTATUS(status) != 0:
        raise OSError(message or "the writing process failed")


def load(path: str | Path) -> xr.Dataset:
    """Read a saved result fully into memory, as one Dataset (the groups of a run merged).

    Raises
    ------
    StorageError
        One line naming `path` when it is missing, not a netCDF file or zarr store, or unreadable.
    """
    path = Path(path)
    if not path.exists():
        raise StorageError("no such file", file=str(path))
    zarr = path.suffix == ".zarr"
    if path.is_dir() != zarr:
        what = "a folder" if path.is_dir() else "a file"
        raise StorageError(f"is {what}; a result is a netCDF file (.nc) or a zarr folder (.zarr)",
                           file=str(path))
    try:
        with warnings.catch_warnings():  # a damaged store makes the backends warn before they fail
            warnings.simplefilter("ignore")
            with xr.open_datatree(path, engine="zarr" if zarr else ENGINE) as tree:
                return from_tree(tree.load())
    except Exception as error:  # noqa: BLE001 -- every backend has its own exceptions for a bad file
        kind = "zarr store" if zarr else "netCDF file"
        raise StorageError(f"cannot read it as a {kind}: {type(error).__name__}: "
                           f"{' '.join(str(error).split())[:160]}", file=str(path)) from None


# --------------------------------------------------------------------------- checkpoints


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Checkpoint:
    """The finished tasks of an unfinished run, in a folder next to its output (``OUT.partial``).

    ``manifest.json`` holds the run's fingerprint (every setting that changes the
    draws or their reduction); ``index.jsonl`` gets one line per finished task file
    with its SHA-256. A task file whose checksum does not match, or that is not
    listed, is treated as missing and recomputed; the names of such files are kept
    in :attr:`discarded`. The folder is created when the first task is saved.

    Parameters
    ----------
    folder : path
        The checkpoint folder.
    fingerprint : dict
        JSON-serialisable description of the run.
    resume : bool
        Whether the saved tasks may be used. Without it, an existing folder is refused
        (nothing saved is ever overwritten).
    blame : str
        The file named in errors (the experiment file).
    """

    def __init__(self, folder: str | Path, fingerprint: dict, resume: bool, blame: str = ""):
        self.folder = Path(folder)
        self.fingerprint = json.loads(json.dumps(fingerprint))
        self.discarded: list[str] = []
        self._index: dict[str, str] = {}
        if self.folder.exists() and not resume:
            raise StorageError(f"an unfinished run is saved in {str(self.folder)!r}; add --resume to continue "
                               "it or delete that folder", file=str(self.folder.with_suffix("")))
        if resume and self.folder.exists():
            self._check_manifest(blame)
            self._index = self._read_index()

    def _check_manifest(self, blame: str) -> None:
        manifest = self.folder / "manifest.json"
        try:
            saved = json.loads(manifest.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            saved = None
        if not isinstance(saved, dict):
            raise ConfigError(f"cannot resume: {str(manifest)!r} is missing or unreadable, so the saved tasks "
                              "cannot be checked against this run; delete the folder or use a new --out",
                              file=blame, key="--resume")
        changed = sorted(k for k in {*saved, *self.fingerprint} if saved.get(k) != self.fingerprint.get(k))
        if changed:
            raise ConfigError(f"cannot resume: {', '.join(_change(k, saved, self.fingerprint) for k in changed)} "
                              "since the run was started; run without --resume into a new --out",
                              file=blame, key="--resume")

    def _read_index(self) -> dict[str, str]:
        index = {}
        try:
            lines = (self.folder / "index.jsonl").read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            return index
        for line in lines:
            try:
                entry = json.loads(line)
                index[str(entry["file"])] = str(entry["sha256"])
            except (json.JSONDecodeError, KeyError, TypeError):
                continue  # a line cut short by a crash: that task is recomputed
        return index

    def _start(self) -> None:
        if not self.folder.exists():
            try:
                self.folder.mkdir(parents=True)
            except OSError as error:
                raise StorageError(f"cannot create the checkpoint folder: {_oserror(error)}",
                                   file=str(self.folder)) from None
            atomic_write_bytes(self.folder / "manifest.json", json.dumps(self.fingerprint, indent=1).encode())

    def _read(self, name: str) -> bytes | None:
        expected = self._index.get(name)
        path = self.folder / name
        if expected is None:
            return None
        try:
            data = path.read_bytes()
        except OSError:
            data = None
        if data is None or _sha256(data) != expected:
            self.discarded.append(name)
            return None
        return data

    def _write(self, name: str, data: bytes) -> None:
        self._start()
        atomic_write_bytes(self.folder / name, data)
        line = json.dumps({"file": name, "sha256": _sha256(data)}) + "\n"
        try:
            with open(self.folder / "index.jsonl", "a", encoding="utf-8") as handle:
                handle.write(line)
                handle.flush()
                os.fsync(handle.fileno())
        except OSError as error:
            raise StorageError(f"cannot write: {_oserror(error)}", file=str(self.folder / "index.jsonl")) from None
        self._index[name] = _sha256(data)

    def load_arrays(self, name: str) -> dict[str, np.ndarray] | None:
        """The arrays saved as `name` (an ``.npz``), or None if missing or corrupt."""
        data = self._read(name)
        if data is None:
            return None
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as npz:
                return {k: npz[k] for k in npz.files}
        except (ValueError, OSError, EOFError) as error:  # checksummed, so only a foreign file gets here
            self.discarded.append(f"{name} ({type(error).__name__})")
            return None

    def save_arrays(self, name: str, arrays: dict[str, np.ndarray]) -> None:
        """Save `arrays` as `name` (``.npz``, no pickled objects)."""
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        self._write(name, buffer.getvalue())

    def load_dataset(self, name: str) -> xr.Dataset | None:
        """The Dataset saved as `name` (an ``.npz`` of its arrays), or None if missing or corrupt."""
        arrays = self.load_arrays(name)
        if arrays is None:
            return None
        try:
            return _dataset_from_arrays(arrays)
        except (KeyError, ValueError, TypeError) as error:  # checksummed, so only a foreign file gets here
            self.discarded.append(f"{name} ({type(error).__name__})")
            return None

    def save_dataset(self, name: str, ds: xr.Dataset) -> None:
        """Save `ds` as `name`: its arrays in an ``.npz``, dims and attrs as JSON beside them."""
        self.save_arrays(name, _dataset_arrays(ds))

    def remove(self) -> None:
        """Delete the folder (after the run's result has been saved)."""
        shutil.rmtree(self.folder, ignore_errors=True)


def _dataset_arrays(ds: xr.Dataset) -> dict[str, np.ndarray]:
    """`ds` as plain arrays (no objects, so no pickles): ``v/NAME`` each, ``meta`` for the rest.

    Writing a small Dataset to netCDF costs about a second (HDF5 per variable); this
    costs milliseconds, and a checkpoint of a 1,000-scenario grid writes 1,000 of them.
    """
    variables = {}
    arrays = {}
    for name, variable in ds.variables.items():
        values = variable.values
        if values.dtype.kind == "O":
            values = values.astype(str)
        arrays[f"v/{name}"] = values
        variables[name] = {"dims": list(variable.dims), "attrs": _plain(variable.attrs),
                           "coord": name in ds.coords}
    arrays["meta"] = np.array(json.dumps({"variables": variables, "attrs": _plain(ds.attrs)}))
    return arrays


def _plain(attrs) -> dict:
    return {k: v.tolist() if isinstance(v, np.ndarray | np.generic) else v for k, v in attrs.items()}


def _dataset_from_arrays(arrays: dict[str, np.ndarray]) -> xr.Dataset:
    meta = json.loads(str(arrays["meta"]))
    made = {name: xr.Variable(spec["dims"], arrays[f"v/{name}"], spec["attrs"])
            for name, spec in meta["variables"].items()}
    coords = {n: v for n, v in made.items() if meta["variables"][n]["coord"]}
    return xr.Dataset({n: v for n, v in made.items() if n not in coords}, coords=coords, attrs=meta["attrs"])


def _change(key: str, saved: dict, now: dict) -> str:
    if key in ("scenarios", "experiment_sha256"):
        return "the experiment or its prior files have changed"
    return f"{key} was {saved.get(key)!r}, now {now.get(key)!r}"
