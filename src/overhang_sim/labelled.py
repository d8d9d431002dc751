"""xarray Variables and Datasets built from numpy arrays without xarray's duck-array probe.

xarray asks of the data of every Variable it builds the ordinary way whether it is
a dask array, and answering imports dask (0.5-1 s of a small run) whenever dask is
installed, though a run's data never is one. ``fastpath=True`` skips the question
for data that is already a numpy array (or, for a dimension coordinate, a pandas
Index); the functions here give every array that form first, so the Datasets they
build equal those of ``xr.Dataset(data, coords=coords)`` with the same arguments.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd  # xarray imports it
import xarray as xr


def variable(dims, values, attrs=None) -> xr.Variable:
    """A Variable over ``np.asarray(values)`` (`dims` a name or a tuple of names)."""
    return xr.Variable(dims, np.asarray(values), attrs, fastpath=True)


def index(dim: str, values, attrs=None) -> xr.IndexVariable:
    """A dimension coordinate: an IndexVariable over ``pd.Index(np.asarray(values))``."""
    return xr.IndexVariable((dim,), pd.Index(np.asarray(values)), attrs, fastpath=True)


def _entry(name, entry, coordinate: bool):
    if isinstance(entry, xr.Variable):
        return entry
    if isinstance(entry, tuple):
        return variable(*entry)
    if coordinate:
        return index(name, entry)  # a bare sequence names its own dimension, as in xr.Dataset
    raise TypeError(f"{name!r}: give a Variable or a (dims, values[, attrs]) tuple")


def dataset(data: Mapping, coords: Mapping | None = None, attrs: Mapping | None = None) -> xr.Dataset:
    """``xr.Dataset(data, coords, attrs)`` with every entry made a numpy-backed Variable first.

    An entry is a Variable, a ``(dims, values[, attrs])`` tuple or, for a coordinate, a
    sequence along the dimension of its own name.
    """
    variables = {name: _entry(name, entry, False) for name, entry in data.items()}
    coordinates = {}
    for name, entry in (coords or {}).items():
        made = _entry(name, entry, True)
        if made.dims == (name,) and not isinstance(made, xr.IndexVariable):
            made = index(name, made.values, made.attrs)
        coordinates[name] = made
    return xr.Dataset(variables, coords=coordinates, attrs=attrs)
