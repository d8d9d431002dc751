"""Summary Dataset -> plain text: a table that shows only the digits the Monte Carlo error supports."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from statistics import NormalDist

import numpy as np
import xarray as xr

from .summaries import main_output

__all__ = ["aligned", "cell_labels", "cell_values", "each_cell", "format_value", "is_binary", "is_point",
           "frontier_table", "scenario_tables", "spread", "sensitivity_cell", "sensitivity_header",
           "sensitivity_table", "summary_json", "summary_part", "summary_table"]

MAX_DIGITS = 6


def format_value(value: float, error: float = math.nan) -> str:
    """Round `value` to the decimal place of its standard error `error`.

    With no usable error (NaN) four significant digits are shown; with an error of
    exactly zero (a point-value run) six.

    Examples
    --------
    >>> format_value(1234567.0, 2.1e4)
    '1.23e+06'
    >>> format_value(6.1234, 0.004)
    '6.123'
    """
    if not math.isfinite(value):
        return str(value)
    if value == 0:
        return "0"
    if math.isnan(error):
        digits = 4
    elif error == 0:
        digits = MAX_DIGITS
    else:
        digits = math.floor(math.log10(abs(value))) - math.floor(math.log10(error)) + 1
    return f"{value:.{min(max(digits, 1), MAX_DIGITS)}g}"


def each_cell(ds: xr.Dataset, dims) -> list[xr.Dataset]:
    """`ds` at each combination of the scenario `dims` (C order: the last dim varies fastest).

    Unlike ``ds.stack(cell=dims)`` this works when another dimension is empty (a
    ``[summary]`` with ``intervals = []`` or ``quantiles = []``): numpy cannot reshape an
    empty array to ``(..., 0, -1)``, so stacking fails there. Each cell keeps its labels
    as scalar coordinates (``cell[dim].item()``).
    """
    dims = list(dims)
    return [ds.isel(dict(zip(dims, index))) for index in np.ndindex(*(ds.sizes[d] for d in dims))]


def cell_labels(ds: xr.Dataset, dims, order=None) -> list[list[str]]:
    """The labels of each cell of `dims` (C order, as :func:`each_cell`), as text, in `order` (default
    `dims`)."""
    names = {d: [str(v) for v in ds[d].values.tolist()] for d in dims}
    cells = (dict(zip(dims, index)) for index in np.ndindex(*(ds.sizes[d] for d in dims)))
    return [[names[d][at[d]] for d in (order or dims)] for at in cells]


def spread(items: Sequence, limit: int) -> Sequence:
    """`items` if there are at most `limit` of them, else `limit` of them evenly spaced from the first to the
    last: the whole range of a sweep, not only its start.

    Examples
    --------
    >>> spread(list(range(10)), 4)
    [0, 3, 6, 9]
    >>> spread([1, 2], 4)
    [1, 2]
    """
    if len(items) <= limit:
        return items
    return [items[i] for i in np.linspace(0, len(items) - 1, limit).round().astype(int)]


def cell_values(da: xr.DataArray, dims) -> np.ndarray:
    """`da`'s values with one row for each cell of `dims` (C order, as :func:`each_cell`), its other
    dims after: shape ``(cells, *other sizes)``. One selection for every cell, where ``each_cell``
    makes one a cell."""
    rest = [d for d in da.dims if d not in dims]
    return da.transpose(*dims, *rest).values.reshape(math.prod(da.sizes[d] for d in dims),
                                                      *(da.sizes[d] for d in rest))


def _binary_cells(s: xr.Dataset, dims) -> np.ndarray:
    """:func:`is_binary` of each cell of `dims` of `s` (one output), as one boolean array."""
    if "binary" not in s:
        return np.zeros(math.prod(s.sizes[d] for d in dims), bool)
    flag = cell_values(s["binary"], dims).astype(bool)
    top = (s["quantile"] if s.sizes.get("prob", 0) else s["mean"]).sel(scale="linear")
    top = np.fmax.reduce(cell_values(top, dims).reshape(len(flag), -1), axis=1)  # NaN-skipping, as .max()
    return flag & np.isfinite(top) & (top <= 1)


def _cells(values, errors) -> list[str]:
    return [format_value(float(v), float(e)) for v, e in zip(values, errors)]


def aligned(rows: list[list[str]], left=(), indent: str = "  ", gap: str = "   ") -> list[str]:
    """Rows of cells as lines whose columns line up: each column as wide as its widest cell.

    Columns whose index is in `left` are left-aligned, the others right-aligned (numbers),
    so a header always sits over its own column, whatever the cells' widths.
    """
    widths = [max(len(row[j]) for row in rows if j < len(row)) for j in range(max(map(len, rows)))]
    return [(indent + gap.join(c.ljust(w) if j in left else c.rjust(w) for j, (c, w) in enumerate(zip(row, widths))))
            .rstrip() for row in rows]


def _interval(low, high, low_error=math.nan, high_error=math.nan):
    return f"[{format_value(float(low), float(low_error))}, {format_value(float(high), float(high_error))}]"


def is_point(summary: xr.Dataset) -> bool:
    """Whether every output has one value: its quantiles, interval ends and mean all agree (every input fixed)."""
    linear = summary.sel(scale="linear")
    values = [linear["quantile"].rename(prob="k")]
    values += [linear[n].rename(interval="k") for n in ("eti_lower", "eti_upper", "hdi_lower", "hdi_upper")
               if n in linear and linear.sizes.get("interval", 0)]
    stacked = xr.concat(values, dim="k")
    if not stacked.sizes["k"]:  # the [summary] asks for no quantile and no interval: only the mean tells
        return bool((linear["mean_mcse"] == 0).all()) if "mean_mcse" in linear else False
    same = (stacked.max("k") == stacked.min("k")) & np.isclose(linear["mean"], stacked.min("k"), rtol=1e-12)
    return bool(same.all())


def _point_table(summary):
    lines = [f"{summary.attrs.get('experiment_name', '')}: point values (every input fixed)", ""]
    for output in summary["output"].values:
        s = summary.sel(output=output, scale="linear")
        value = format_value(float(s["quantile"].isel(prob=0)), 0.0)
        lines.append(f"  {output:<28}{value:>14}  {s['unit'].item():<20}{s['long_name'].item()}")
    return "\n".join(lines)


def summary_table(summary: xr.Dataset) -> str:
    """Render a summary as a text table: per output, a value row and a log10 row.

    Quantiles and means show the digits their Monte Carlo error supports; the
    highest-density intervals follow. A run whose inputs are all fixed prints one
    line per output instead.
    """
    if is_point(summary):
        return _point_table(summary)
    probs = summary["prob"].values
    heads = ["", "mean", *(f"p{100 * p:g}" for p in probs),
             *(f"{100 * i:g} % HDI" for i in summary["interval"].values)]
    attrs = summary.attrs
    lines = [(f"{attrs.get('experiment_name', '')}: {attrs.get('samples', '?')} samples in "
              f"{attrs.get('chains', '?')} chains, method {attrs.get('method', '?')}, seed {attrs.get('seed', '?')}")]
    indicators = [o for o in summary["output"].values if is_binary(summary.sel(output=o))]
    for output in (o for o in summary["output"].values if o not in indicators):
        s = summary.sel(output=output)
        lines += ["", f"{output} [{s['unit'].item()}]  {s['long_name'].item()}"]
        rows = [heads]
        for scale in summary["scale"].values:
            r = s.sel(scale=scale)
            errors = [r[f"hdi_{k}_mcse"].values if f"hdi_{k}_mcse" in r else np.full(r["hdi_lower"].shape, np.nan)
                      for k in ("lower", "upper")]
            rows.append([scale if scale == "log10" else "value", *_mean_cell(r, s, scale),
                         *_cells(r["quantile"].values, r["quantile_mcse"].values),
                         *(_interval(*bounds) for bounds in zip(r["hdi_lower"].values, r["hdi_upper"].values,
                                                                 *errors))])
        lines += aligned(rows, left=(0,))
        lines += [f"  {w}" for w in [_tail_line(s)] if w]
        if float(s.get("prob_zero", 0.0)) > 0:
            lines.append(f"  P({output} = 0) = {_probability(s['prob_zero'], s['prob_zero_mcse'])}"
                         "  (log10 quantiles and mean of the zeros are -inf)")
    if indicators:
        lines += ["", "P(indicator = 1): the share of draws in which each holds (e.g. which bound binds)"]
        lines += [f"  {o:<28}{_probability(1 - summary['prob_zero'].sel(output=o), summary['prob_zero_mcse'].sel(output=o))}"
                  f"  {summary['long_name'].sel(output=o).item()}" for o in indicators]
    if "prob_at_least" in summary:
        lines += ["", f"P({main_output(summary)} >= threshold)"]
        for t in summary["threshold"].values:
            st = summary.sel(threshold=t)
            p, e = float(st["prob_at_least"]), float(st["prob_at_least_mcse"])
            shown = format_value(p, e) if e > 0 else format_value(p)
            lines.append(f"  >= {t:<8.0e}{shown:>10}" + (f"  (s.e. {e:.1g})" if e > 0 else ""))
    lines += ["", "Digits shown are those the Monte Carlo standard error (s.e., the spread between chains) "
              "supports."]
    return "\n".join(lines)


def _tail_shape(s) -> float:
    """The upper tail's Pareto k̂ of one summarised output (NaN when the summary has none)."""
    return float(s["tail_shape"]) if "tail_shape" in s else math.nan


def _mean_cell(r, s, scale) -> list[str]:
    """The mean with its digits; ``—`` on the linear scale when k̂ >= 1 (the mean is not finite)."""
    from .tails import MEAN_NOT_FINITE

    if scale == "linear" and _tail_shape(s) >= MEAN_NOT_FINITE:
        return ["—"]
    return _cells([r["mean"]], [r["mean_mcse"]])


def _tail_line(s) -> str | None:
    """The heavy-tail warning of one summarised output, or None."""
    from .tails import tail_warning

    return tail_warning(str(s["output"].item()), _tail_shape(s))


def is_binary(s) -> bool:
    """Whether a summarised output is a 0/1 indicator (its mean is a probability).

    Its largest quantile (its mean if the ``[summary]`` asks for none) is at most 1, so a
    scenario whose model lacks the output (NaN) is not one.
    """
    if "binary" not in s or not bool(s["binary"]):
        return False
    top = s["quantile"] if s.sizes.get("prob", 0) else s["mean"]
    top = float(top.sel(scale="linear").max())
    return math.isfinite(top) and top <= 1


def _probability(p, error) -> str:
    p, e = float(p), float(error)
    return f"{format_value(p, e) if e > 0 else format_value(p):>10}" + (f"  (s.e. {e:.1g})" if e > 0 else "")


SUMMARY_VARIABLES = ("mean", "mean_mcse", "quantile", "quantile_mcse", "eti_lower", "eti_upper",
                     "eti_lower_mcse", "eti_upper_mcse", "hdi_lower", "hdi_upper", "hdi_lower_mcse",
                     "hdi_upper_mcse", "prob_at_least", "prob_at_least_mcse", "prob_zero", "prob_zero_mcse",
                     "binary", "tail_shape", "tail_shape_se")


def summary_part(result: xr.Dataset) -> xr.Dataset:
    """The summary variables of a result (a run with samples keeps its samples too)."""
    kept = [v for v in result.data_vars if v in SUMMARY_VARIABLES or v.removeprefix("pooled_") in SUMMARY_VARIABLES
            or v.startswith(("variance_share", "between_variance", "total_variance", "conditional_mean"))]
    part = result[kept]
    return part.drop_vars([c for c in ("chain", "draw") if c in part.coords])


def summary_json(summary: xr.Dataset, comparisons: list | None = None) -> str:
    """The summary as JSON (``xarray.Dataset.to_dict``), NaN written as null; samples left out."""
    def clean(obj):
        if isinstance(obj, float):
            return obj if math.isfinite(obj) else None
        if isinstance(obj, dict):
            return {k: clean(v) for k, v in obj.items()}
        if isinstance(obj, list | tuple):
            return [clean(v) for v in obj]
        if isinstance(obj, np.generic):
            return clean(obj.item())
        return obj
    part = summary_part(summary) if any(v in summary for v in SUMMARY_VARIABLES) else summary
    data = part.to_dict(data="list")
    data["attrs"] = {k: v for k, v in data["attrs"].items() if k != "experiment_text"}
    if comparisons:
        data["comparisons"] = comparisons
    return json.dumps(clean(data), indent=1)


def scenario_tables(result: xr.Dataset, dims: tuple[str, ...]) -> str:
    """The summary table of a run; with scenario axes, one line per scenario for the instance count."""
    summary = summary_part(result)
    if not dims:
        return summary_table(summary)
    output = main_output(summary if summary.attrs else result)
    s = summary.sel(output=output, scale="log10")
    probs = [float(p) for p in s["prob"].values]
    a = summary.attrs if summary.attrs else result.attrs
    lines = [f"{a.get('experiment_name', '')}: {math.prod(summary.sizes[d] for d in dims)} scenarios, "
             f"{a.get('samples', '?')} samples each in {a.get('chains', '?')} chains, method "
             f"{a.get('method', '?')}, seed {a.get('seed', '?')}",
             f"log10({output}) [orders of magnitude of {s['unit'].item()}]", ""]
    heads = [*dims, *(f"p{100 * p:g}" for p in probs)]
    has_prob = "prob_at_least" in summary and summary.sizes.get("threshold", 0)
    thresholds = list(summary["threshold"].values) if has_prob else []
    heads += [f"P>={t:.0e}" for t in thresholds]
    rows = _scenario_rows(s, dims, has_prob)
    axis = result.attrs.get("weighted_axis")
    if axis in dims:
        pooled = _pooled(result).sel(output=output, scale="log10")
        others = [d for d in dims if d != axis]
        weights = json.loads(result.attrs.get("weights", "[]"))
        rows += _scenario_rows(pooled.expand_dims({axis: ["pooled"]}), [*others, axis], has_prob, order=dims)
        share = result["variance_share"]
    width = [max([len(h), 10, *(len(row[j]) for row in rows)]) for j, h in enumerate(heads)]
    lines.append("  ".join(h.rjust(w) for h, w in zip(heads, width)))
    lines += ["  ".join(c.rjust(w) for c, w in zip(row, width)) for row in rows]
    if axis in dims:
        shares = ", ".join(format_value(float(v), float(e)) for v, e in
                           zip(np.ravel(share.values), np.ravel(result["variance_share_mcse"].values)))
        of = f"log10({output})" if result.attrs.get("variance_share_scale", "log10") == "log10" else \
            f"the rank of {output} (its pooled mid-CDF: some draws are 0, where log10 is undefined)"
        lines += ["", f"pooled: the mixture over {axis} with weights {', '.join(f'{w:g}' for w in weights)}; "
                  f"the choice of {axis} explains a share {shares} of the pooled variance of {of}"]
    lines += _scenario_extras(summary, dims, output)
    lines += ["", "Digits shown are those the Monte Carlo error supports (spread between chains)."]
    return "\n".join(lines)


def _scenario_extras(summary: xr.Dataset, dims, output: str) -> list[str]:
    """Per scenario: P(main = 0) where it is positive, and P(indicator = 1) where a model has the indicator."""
    lines = []
    labels = [", ".join(f"{d}={v}" for d, v in zip(dims, cell)) for cell in cell_labels(summary, dims)]
    if "prob_zero" in summary and float(summary["prob_zero"].sel(output=output).fillna(0).max()) > 0:
        main = summary.sel(output=output)
        zero, error = cell_values(main["prob_zero"], dims), cell_values(main["prob_zero_mcse"], dims)
        lines += ["", f"P({output} = 0), an answer (no copy meets the required speed), not an error"]
        lines += [f"  {label:<28}{_probability(p, e)}" for label, p, e in zip(labels, zero, error)
                  if float(p) > 0]
    if "binary" not in summary:
        return lines
    header = ["", "P(indicator = 1) in the scenarios whose model has it (e.g. which bound binds)"]
    for o in (str(o) for o in summary["output"].values if o != output):
        s = summary.sel(output=o)
        zero, error = cell_values(s["prob_zero"], dims), cell_values(s["prob_zero_mcse"], dims)
        shown = np.flatnonzero(_binary_cells(s, dims))
        if shown.size:
            lines, header = lines + header, []
        lines += [f"  {o:<22}{labels[i]:<20}{_probability(1 - zero[i], error[i])}  {s['long_name'].item()}"
                  for i in shown]
    return lines


def _pooled(result: xr.Dataset) -> xr.Dataset:
    """The ``pooled_*`` summary of a result with a weighted axis, under the summary's own names."""
    names = [n for n in result.data_vars if n.startswith("pooled_")]
    return result[names].rename({n: n.removeprefix("pooled_") for n in names})


def _scenario_rows(s: xr.Dataset, dims, has_prob: bool, order=None) -> list[list[str]]:
    """One row per cell of `dims`: its labels (in `order`), quantiles and P(>= t), with their digits."""
    names = ["quantile", *(["prob_at_least"] if has_prob else [])]
    values = np.concatenate([cell_values(s[n], dims) for n in names], axis=1)
    errors = np.concatenate([cell_values(s[f"{n}_mcse"], dims) for n in names], axis=1)
    labels = cell_labels(s, dims, list(order or dims))
    return [[*cell, *_cells(v, e)] for cell, v, e in zip(labels, values, errors)]


# --------------------------------------------------------------------------- sensitivity

SENSITIVITY_HEADS = {"sobol_first": "Sobol' first", "sobol_total": "Sobol' total",
                     "given_data_first": "given-data first", "spearman": "Spearman",
                     "tornado": "tornado swing", "voi": "VOI", "shapley": "Shapley"}
RANK_BY = ("sobol_total", "shapley", "given_data_first", "voi", "tornado", "spearman", "sobol_first")
SIGNED = ("spearman", "tornado")


def sensitivity_cell(measure: str, estimate: float, lower: float, upper: float, confidence: float,
                     interval: bool = True) -> str:
    """``0.412 [0.405, 0.419]``; a share below zero is ``≈ 0``, with bounds clipped at 0; ``n/a`` if not estimated.

    With ``interval=False`` only the estimate, with the digits its interval supports (``0.412``, ``≈ 0``).
    """
    if not math.isfinite(estimate):  # e.g. VOI, in orders of magnitude, of an output with draws = 0
        return "n/a"
    if lower == upper:  # no sampling error (the tornado)
        return format_value(estimate)
    error = (upper - lower) / (2 * NormalDist().inv_cdf((1 + confidence) / 2))  # about one standard error
    if measure not in SIGNED:
        lower, upper = max(lower, 0.0), max(upper, 0.0)
        if estimate <= 0:
            return f"≈ 0 [0, {format_value(upper, error)}]" if interval else "≈ 0"
    if not interval:
        return format_value(estimate, error)
    return f"{format_value(estimate, error)} [{format_value(lower, error)}, {format_value(upper, error)}]"


def _attr(ds: xr.Dataset, key: str, default=None):
    """An attr of `ds`, or a 0-d variable of that name (where stacking scenarios put what differed)."""
    if key in ds.data_vars and ds[key].ndim == 0:
        return ds[key].item()
    return ds.attrs.get(key, default)


def sensitivity_header(ds: xr.Dataset) -> list[str]:
    a = {**ds.attrs, **{k: _attr(ds, k) for k in ("fixed_inputs", "notes", "skipped_outputs") if _attr(ds, k)}}
    confidence = 100 * a.get("confidence", 0.95)
    lines = [(f"{a.get('experiment_name', '')}: which inputs drive each output "
              f"(indices of {a.get('scale', 'log10')}(output); {confidence:g} % intervals)")]
    if "sobol_base_samples" in a:
        lines.append(f"  Sobol': {a['sobol_base_samples']:,} base samples ({a['sobol_model_runs']:,} model "
                     f"runs) in {a['sobol_replicates']} independent scrambles, intervals from their spread")
    if "given_data_samples" in a or "voi_bins" in a:
        samples = a.get("given_data_samples", "")
        lines.append(f"  given data{f': {samples:,} samples' if samples else ''}, intervals from the spread "
                     f"between {a.get('given_data_chains', 'the')} chains"
                     + (f"; VOI from {a['voi_bins']} bins per input" if "voi_bins" in a else ""))
    if "tornado" in ds["measure"].values:
        lines.append("  tornado: log10(output) at the input's p95 minus at its p5, others at their medians "
                     "(exact, no sampling error)")
    fixed = json.loads(a.get("fixed_inputs", "{}"))
    if fixed:
        lines.append("  fixed (not ranked): " + ", ".join(f"{n} = {format_value(f['value'])} {f['unit']}"
                                                          for n, f in fixed.items()))
    lines += [f"  note: {note}" for note in json.loads(a.get("notes", "[]"))]
    return lines


def _sensitivity_output(ds: xr.Dataset, output: str) -> list[str]:
    s = ds.sel(output=output)
    measures = [str(m) for m in ds["measure"].values]
    key = next(m for m in RANK_BY if m in measures)
    order = np.argsort(s["rank"].sel(measure=key).values, kind="stable")
    lines = ["", f"{output} [{s['output_unit'].item()}]  {s['output_long_name'].item()}"]
    if "voi_width" in s and np.isfinite(float(s["voi_width"])):
        mass, width = 100 * ds.attrs.get("voi_mass", 0.9), format_value(float(s["voi_width"]))
        lines.append(f"  its {mass:g} % interval spans {width} orders of magnitude; "
                     "VOI = how much knowing the input would narrow it")
    units = "; tornado swing and VOI in orders of magnitude" if {"tornado", "voi"} & set(measures) else ""
    lines.append(f"  ranked by {SENSITIVITY_HEADS[key]}{units}")
    rows = [["#", "input", *(SENSITIVITY_HEADS[m] for m in measures)]]
    for rank, i in enumerate(order, start=1):
        r = s.isel(input=i)
        rows.append([str(rank), str(r["input"].item()), *(
            sensitivity_cell(m, *(float(r[v].sel(measure=m)) for v in ("estimate", "lower", "upper")),
                              ds.attrs.get("confidence", 0.95))
            for m in measures)])
    widths = [max(len(row[c]) for row in rows) for c in range(len(rows[0]))]
    for row in rows:
        lines.append("  " + "   ".join(cell.ljust(w) if c == 1 else cell.rjust(w)
                                       for c, (cell, w) in enumerate(zip(row, widths))).rstrip())
    return lines


def sensitivity_table(ds: xr.Dataset) -> str:
    """Render a sensitivity Dataset: per output (instances first), the inputs ranked by importance.

    Every figure shows its interval as ``estimate [lower, upper]``, with the digits
    the interval supports. A share estimated below zero shows as ``≈ 0`` with its
    interval clipped at 0, never as a negative importance. Fixed inputs are listed,
    not ranked; outputs that could not be analysed are named with the reason.
    """
    lines = sensitivity_header(ds)
    for output in ds["output"].values:
        lines += _sensitivity_output(ds, str(output))
    for output, why in json.loads(_attr(ds, "skipped_outputs", "{}")).items():
        lines += ["", f"{output}: not analysed, it {why}"]
    return "\n".join(lines)


def frontier_table(frontier: xr.Dataset) -> str:
    """The copies x speed frontier (:func:`overhang_sim.frontier.frontier`) as text, one row per speed.

    A frontier of several scenarios (:func:`overhang_sim.frontier.scenario_frontier`)
    prints one block per scenario, then the pooled mixture's.
    """
    axes = [d for d in frontier["median"].dims if d != "speed"]
    if axes:
        return _scenario_frontier_table(frontier, axes)
    output, unit = frontier.attrs.get("output", "instances"), frontier["median"].attrs.get("units", "")
    speed_unit = frontier["speed"].attrs.get("units", "")
    heads = ["speed", "median", *(f"{100 * i:g} % band" for i in frontier["interval"].values), f"P({output} = 0)"]
    rows = []
    for i, speed in enumerate(frontier["speed"].values):
        f = frontier.isel(speed=i)
        bands = [_interval(f["band_lower"].sel(interval=m), f["band_upper"].sel(interval=m))
                 for m in frontier["interval"].values]
        p, e = float(f["prob_zero"]), float(f["prob_zero_mcse"])
        rows.append([f"{speed:.4g}", format_value(float(f["median"]), float(f["median_mcse"])), *bands,
                     format_value(p, e) if e > 0 else format_value(p)])
    widths = [max(len(r[j]) for r in [heads, *rows]) for j in range(len(heads))]
    lines = [f"frontier of {output} [{unit}] against the required speed [{speed_unit}]: "
             f"{frontier.attrs.get('samples', '?')} draws, the same for every speed",
             "  " + "  ".join(h.rjust(w) for h, w in zip(heads, widths))]
    lines += ["  " + "  ".join(c.rjust(w) for c, w in zip(r, widths)) for r in rows]
    return "\n".join(lines)


def _scenario_frontier_table(frontier: xr.Dataset, axes: list[str]) -> str:
    """One frontier block per scenario (labelled by its axis values), then the pooled one."""
    per = frontier[[n for n in frontier.data_vars if not n.startswith("pooled_")]]
    stacked = per.stack(cell=axes)
    blocks = []
    for i in range(stacked.sizes["cell"]):
        cell = stacked.isel(cell=i)
        label = ", ".join(f"{d}={cell[d].item()}" for d in axes)
        one = cell.drop_vars(["cell", *axes], errors="ignore").assign_attrs(per.attrs)
        blocks.append(frontier_table(one).replace(" against the required speed", f" ({label}) against the "
                                                  "required speed", 1))
    if "pooled_median" in frontier:
        names = [n for n in frontier.data_vars if n.startswith("pooled_")]
        pooled = frontier[names].rename({n: n.removeprefix("pooled_") for n in names}).assign_attrs(frontier.attrs)
        weights = ", ".join(f"{w:g}" for w in json.loads(frontier.attrs.get("weights", "[]")))
        blocks.append(frontier_table(pooled).replace(
            " against the required speed", f" (pooled over {frontier.attrs.get('weighted_axis')}, weights "
            f"{weights}) against the required speed", 1))
    return "\n\n".join(blocks)
