"""Summary Dataset <-> tidy records: one flat object per output x statistic x scenario.

The records are what ``overhang run --json`` and ``--csv`` print, for tools that want rows
rather than arrays (``jq``, ``pandas.json_normalize``, spreadsheets). Every record has
the same fields, in this order:

``output``
    the output (for P(main >= t) and the variance shares of a weighted axis: the main output);
``statistic``
    the summary variable it comes from: ``mean``, ``quantile``, ``eti_lower``,
    ``eti_upper`` (equal-tailed interval), ``hdi_lower``, ``hdi_upper``,
    ``prob_at_least``, ``prob_zero``, ``binary``; ``pooled_*`` for the mixture over a
    weighted axis, and ``variance_share``, ``between_variance``, ``total_variance``,
    ``conditional_mean`` for its variance decomposition;
``scale``, ``prob``, ``interval``, ``threshold``
    ``linear`` or ``log10``; the quantile's probability; the interval's mass; the
    threshold t of P(main >= t) (null where they do not apply);
one field per scenario axis
    the scenario's value on that axis (null for a pooled statistic's own axis);
``value``, ``mcse``
    the estimate and its Monte Carlo standard error (spread between chains; null if
    there is none, e.g. with one chain);
``unit``, ``long_name``
    the unit of ``value`` (``log10(instance)`` on the log10 scale, ``1`` for a
    probability) and what the output is.

In JSON a value that is not finite (the log10 of a zero, NaN) is written as null; CSV
keeps ``nan`` and ``-inf``, which :func:`pandas.read_csv` and :func:`from_csv` read back.
:func:`summary_from_records` rebuilds the summary Dataset from the records.

Examples
--------
From the shell, the median of every output::

    overhang run --json | jq '.[] | select(.statistic == "quantile" and .prob == 0.5
                                          and .scale == "linear") | {output, value, unit}'

In pandas, P(main >= t) per scenario of ``required_speed_sweep.toml``::

    table = pandas.json_normalize(json.loads(text))
    table.query("statistic == 'prob_at_least'").pivot(index="threshold", columns="required_tokens_per_s",
                                                      values="value")
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import math

import numpy as np
import xarray as xr

from .summaries import main_output

__all__ = ["FIELDS", "comparison_records", "from_csv", "records", "summary_from_records", "to_csv", "to_json"]

LABELS = ("scale", "prob", "interval", "threshold")
FIELDS = ("output", "statistic", *LABELS)
TRAILING = ("value", "mcse", "unit", "long_name")
TEXT_FIELDS = ("output", "statistic", "scale", "unit", "long_name", "a", "b")
MAIN_ONLY = ("prob_at_least", "variance_share", "between_variance", "total_variance", "conditional_mean")
PROBABILITIES = ("prob_at_least", "prob_zero", "binary", "variance_share", "p_a_greater")
NO_MCSE = ("binary",)
#: Statistics with no Monte Carlo error of their own (k̂ carries an asymptotic standard error instead).
NO_PARTNER = ("tail_shape", "tail_shape_se")
COMPARISONS = ("p_a_greater", "median_log10_ratio")


def _statistics(summary: xr.Dataset) -> list[str]:
    """The summary's statistics: its variables but their ``*_mcse`` partners and any samples."""
    return [str(n) for n in summary.data_vars
            if not str(n).endswith("_mcse") and not {"chain", "draw"} & set(summary[n].dims)]


def _unit(statistic: str, scale, unit: str) -> str:
    """The unit of a record's value."""
    base = statistic.removeprefix("pooled_")
    if base in PROBABILITIES:
        return "1"
    if base in ("between_variance", "total_variance"):
        return f"log10({unit})^2"
    return f"log10({unit})" if scale == "log10" or base == "conditional_mean" else unit


def _scenario_dims(summary: xr.Dataset) -> list[str]:
    return [str(d) for d in summary.dims if d not in ("output", *LABELS)]


def records(summary: xr.Dataset) -> list[dict]:
    """Every statistic of a summary as flat records (see the module's description of the fields).

    Parameters
    ----------
    summary : xarray.Dataset
        A :func:`~overhang_sim.summaries.summarize` result, or the summary part of a run
        with scenario axes (:func:`~overhang_sim.tables.summary_part`).

    Returns
    -------
    list of dict
        One dict per output x statistic x scenario (x scale, probability, interval or
        threshold), every one with the same keys.
    """
    main, axes = main_output(summary), _scenario_dims(summary)
    units = dict(zip(summary["output"].values.tolist(), summary["unit"].values.tolist()))
    names = dict(zip(summary["output"].values.tolist(), summary["long_name"].values.tolist()))
    keys = ("output", "statistic", *LABELS, *axes, *TRAILING)
    rows = []
    for name in _statistics(summary):
        da = summary[name]
        n, labels = da.size, _labels(da)
        output = labels.get("output", [main] * n)
        scale = labels.get("scale", [None] * n)
        error = (summary[f"{name}_mcse"].transpose(*da.dims).values.astype(float).ravel().tolist()
                 if f"{name}_mcse" in summary else [None] * n)
        unit = {(s, o): _unit(name, s, units.get(o, "")) for s, o in set(zip(scale, output))}
        columns = [output, [name] * n, *(labels.get(k, [None] * n) for k in (*LABELS, *axes)),
                   da.values.astype(float).ravel().tolist(), error,
                   [unit[s, o] for s, o in zip(scale, output)], [names.get(o, o) for o in output]]
        rows += [dict(zip(keys, row)) for row in zip(*columns)]
    return rows


def _labels(da: xr.DataArray) -> dict[str, list]:
    """Each dim's label at every cell of `da`, cells in C order (``da.values.ravel()``'s): one list a dim."""
    sizes = da.shape
    return {str(d): [x for x in da[d].values.tolist() for _ in range(math.prod(sizes[k + 1:]))]
            * math.prod(sizes[:k]) for k, d in enumerate(da.dims)}


def comparison_records(found: list[tuple[str, str, dict]]) -> list[dict]:
    """Paired comparisons (:func:`~overhang_sim.summaries.compare`) as records, with fields ``a`` and ``b``.

    `found` holds ``(label_a, label_b, result)`` triples; each gives a ``p_a_greater`` and a
    ``median_log10_ratio`` record (statistics :func:`summary_from_records` leaves out).
    """
    rows = []
    for a, b, f in found:
        for statistic, scale, unit in (("p_a_greater", None, "1"), ("median_log10_ratio", "log10", "1")):
            rows.append({"output": f["output"], "statistic": statistic, **dict.fromkeys(LABELS),
                         "scale": scale, "value": f[statistic], "mcse": f[f"{statistic}_mcse"], "unit": unit,
                         "long_name": f"{statistic} of {a} against {b} (paired draws)", "a": a, "b": b})
    return rows


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _variable(rows: list[dict], statistic: str, axes: list[str]) -> dict[str, xr.DataArray]:
    """One statistic's records as its DataArray (and its ``_mcse`` partner), dims in summary order."""
    scenario = [d for d in axes if any(not _missing(r.get(d)) for r in rows)]
    labels = [k for k in LABELS if any(not _missing(r.get(k)) for r in rows)]
    dims = [*scenario, *([] if statistic.removeprefix("pooled_") in MAIN_ONLY else ["output"]), *labels]
    coords = {d: list(dict.fromkeys(r[d] for r in rows)) for d in dims}
    where = {d: {c: i for i, c in enumerate(coords[d])} for d in dims}
    shape = tuple(len(coords[d]) for d in dims)
    value, error = np.full(shape, np.nan), np.full(shape, np.nan)
    for r in rows:
        index = tuple(where[d][r[d]] for d in dims)
        value[index] = np.nan if r["value"] is None else r["value"]
        error[index] = np.nan if _missing(r.get("mcse")) else r["mcse"]
    if statistic.removeprefix("pooled_") in NO_MCSE:
        return {statistic: xr.DataArray(value.astype(bool), coords=coords, dims=dims)}
    if statistic.removeprefix("pooled_") in NO_PARTNER:
        return {statistic: xr.DataArray(value, coords=coords, dims=dims)}
    return {statistic: xr.DataArray(value, coords=coords, dims=dims),
            f"{statistic}_mcse": xr.DataArray(error, coords=coords, dims=dims)}


def summary_from_records(rows: list[dict], attrs: dict | None = None) -> xr.Dataset:
    """The summary Dataset back from :func:`records` (or their JSON or CSV, read back).

    Records of statistics that are not summary variables (the paired comparisons) are
    left out. Each output's ``unit`` and ``long_name`` become coordinates along
    ``output``, as in :func:`~overhang_sim.summaries.summarize`.
    """
    axes = list(dict.fromkeys(k for r in rows for k in r if k not in (*FIELDS, *TRAILING, "a", "b")))
    groups: dict[str, list[dict]] = {}
    for r in rows:
        if r["statistic"] not in COMPARISONS:
            groups.setdefault(r["statistic"], []).append(r)
    data = {}
    for statistic, group in groups.items():
        data.update(_variable(group, statistic, axes))
    summary = xr.Dataset(data, attrs=dict(attrs or {}))
    outputs = summary["output"].values.tolist()
    linear = {r["output"]: r["unit"] for r in rows if r.get("scale") == "linear"}
    names = {r["output"]: r["long_name"] for r in rows}
    return summary.assign_coords(unit=("output", [linear.get(o, "") for o in outputs]),
                                 long_name=("output", [names.get(o, o) for o in outputs]))


def to_json(rows: list[dict]) -> str:
    """Records as a strict JSON list, one record per line; NaN and infinities written as null."""
    encode = json.JSONEncoder(allow_nan=False).encode  # json.dumps(..., allow_nan=False) made one a record
    body = ",\n".join(encode({k: None if isinstance(v, float) and not math.isfinite(v) else v
                               for k, v in r.items()}) for r in rows)
    return f"[\n{body}\n]" if rows else "[]"


def to_csv(rows: list[dict]) -> str:
    """Records as CSV with a header row: the fields of :func:`records` (and of comparisons) as columns."""
    fields = list(dict.fromkeys(itertools.chain.from_iterable(rows)))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(fields)
    writer.writerows(["" if v is None else v for v in map(r.get, fields)] for r in rows)
    return buffer.getvalue()


def _parsed(key: str, text: str):
    if text == "":
        return None
    if key in TEXT_FIELDS:
        return text
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def from_csv(text: str) -> list[dict]:
    """Records read back from :func:`to_csv`: empty cells as None, numbers as numbers."""
    return [{k: _parsed(k, v) for k, v in row.items()} for row in csv.DictReader(io.StringIO(text))]
