"""Sensitivity Dataset -> what ``overhang sensitivity`` prints by default: the ranking in 80 columns.

Per output, the inputs in order of importance, the measure they are ranked by with its
interval, and each other measure's estimate for as many measures as fit `width`; a measure
left out is named. Every measure with its interval is in
:func:`overhang_sim.tables.sensitivity_table` (``overhang sensitivity --full``). Pure: a
Dataset in, lines of text out.
"""

from __future__ import annotations

import json

import numpy as np
import xarray as xr

from .screen import WIDTH, fit_table, wrap
from .tables import RANK_BY, SENSITIVITY_HEADS, aligned, format_value, sensitivity_cell, sensitivity_header

__all__ = ["SHORT_HEADS", "sensitivity_lines"]

SHORT_HEADS = {"sobol_first": "Sobol' 1st", "sobol_total": "Sobol' tot", "given_data_first": "given-data",
               "spearman": "Spearman", "tornado": "tornado", "voi": "VOI", "shapley": "Shapley"}


def _header_lines(ds: xr.Dataset, width: int) -> list[str]:
    """:func:`~overhang_sim.tables.sensitivity_header`, each line wrapped to `width`."""
    lines = []
    for line in sensitivity_header(ds):
        indent = line[: len(line) - len(line.lstrip())]
        lines += wrap(line.strip(), width, indent=indent)
    return lines


def _rows(ds: xr.Dataset, output: str, key: str, measures: list[str]) -> list[list[str]]:
    """Heads, then one row per input in the order of `key`.

    A row is the rank, the input, `key`'s estimate with its interval and the estimates of `measures`.
    """
    s = ds.sel(output=output)
    confidence = ds.attrs.get("confidence", 0.95)
    rows = [["#", "input", SENSITIVITY_HEADS[key], *(SHORT_HEADS[m] for m in measures)]]
    for rank, i in enumerate(np.argsort(s["rank"].sel(measure=key).values, kind="stable"), start=1):
        r = s.isel(input=i)

        def cell(m, interval):
            bounds = (float(r[v].sel(measure=m)) for v in ("estimate", "lower", "upper"))
            return sensitivity_cell(m, *bounds, confidence, interval=interval)

        rows.append([str(rank), str(r["input"].item()), cell(key, True), *(cell(m, False) for m in measures)])
    return rows


def _widest(rows: list[list[str]]) -> int:
    return max(map(len, aligned(rows, left=(1,), gap="  ")))


def _output_lines(ds: xr.Dataset, output: str, width: int) -> tuple[list[str], list[str]]:
    """One output's block in `width` columns, and the measures that did not fit."""
    s = ds.sel(output=output)
    measures = [str(m) for m in ds["measure"].values]
    key = next(m for m in RANK_BY if m in measures)
    others = [m for m in measures if m != key]
    shown = len(others)
    while shown and _widest(_rows(ds, output, key, others[:shown])) > width:  # drop measures, not names
        shown -= 1
    in_oom = {"tornado", "voi"} & {key, *others[:shown]}
    units = " (tornado and VOI in orders of magnitude)" if in_oom else ""
    lines = ["", *wrap(f"{output} [{s['output_unit'].item()}]  {s['output_long_name'].item()}", width)]
    if "voi_width" in s and np.isfinite(float(s["voi_width"])):
        mass, spans = 100 * ds.attrs.get("voi_mass", 0.9), format_value(float(s["voi_width"]))
        lines += wrap(f"its {mass:g} % interval spans {spans} orders of magnitude; VOI = how much knowing the "
                      "input would narrow it", width, indent="  ")
    confidence = 100 * ds.attrs.get("confidence", 0.95)
    lines += wrap(f"ranked by {SENSITIVITY_HEADS[key]}, with its {confidence:g} % interval{units}", width,
                  indent="  ")
    lines += fit_table(_rows(ds, output, key, others[:shown]), width, left=(1,), shrink=1)
    return lines, others[shown:]


def sensitivity_lines(ds: xr.Dataset, width: int = WIDTH) -> list[str]:
    """A sensitivity Dataset (:func:`~overhang_sim.sensitivity_analysis.sensitivity`) in `width` columns.

    Parameters
    ----------
    ds : xarray.Dataset
        One experiment's (or one scenario's) sensitivity result.
    width : int
        The most characters any line may have.

    Returns
    -------
    list of str
        The header, then per output its inputs ranked, then what was left out and where it is.
    """
    lines, left_out = _header_lines(ds, width), set()
    for output in ds["output"].values:
        block, dropped = _output_lines(ds, str(output), width)
        lines += block
        left_out |= set(dropped)
    skipped = ds["skipped_outputs"].item() if "skipped_outputs" in ds.data_vars else \
        ds.attrs.get("skipped_outputs")
    for output, why in json.loads(skipped or "{}").items():
        lines += ["", *wrap(f"{output}: not analysed, it {why}", width)]
    missing = ", ".join(SENSITIVITY_HEADS[m] for m in ds["measure"].values if m in left_out)
    text = ("Every measure with its interval: --full (wider than 80 columns)" +
            (f"; not shown here for lack of room: {missing}." if missing else "."))
    return lines + ["", *wrap(text, width, hang="")]
