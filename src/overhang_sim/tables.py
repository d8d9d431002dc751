"""Summary Dataset -> plain text: a table that shows only the digits the Monte Carlo error supports."""

from __future__ import annotations

import json
import math
from statistics import NormalDist

import numpy as np
import xarray as xr

__all__ = ["format_value", "summary_json", "summary_table"]

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


def _cells(values, errors, width):
    return "".join(f"{format_value(float(v), float(e)):>{width}}" for v, e in zip(values, errors))


def _interval(low, high):
    return f"[{format_value(float(low))}, {format_value(float(high))}]"


def _is_point(summary):
    q = summary["quantile"].sel(scale="linear")
    return bool((q.max("prob") == q.min("prob")).all())


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
    if _is_point(summary):
        return _point_table(summary)
    width = 11
    probs = summary["prob"].values
    heads = ["mean", *(f"p{100 * p:g}" for p in probs)]
    lines = [f"{summary.attrs.get('experiment_name', '')}: {summary.attrs.get('samples', '?')} samples in "
             f"{summary.attrs.get('chains', '?')} chains, method {summary.attrs.get('method', '?')}, "
             f"seed {summary.attrs.get('seed', '?')}"]
    for output in summary["output"].values:
        s = summary.sel(output=output)
        lines += ["", f"{output} [{s['unit'].item()}]  {s['long_name'].item()}",
                  f"  {'':<6}" + "".join(f"{h:>{width}}" for h in heads)
                  + "".join(f"   {100 * i:g} % HDI" for i in summary["interval"].values)]
        for scale in summary["scale"].values:
            r = s.sel(scale=scale)
            row = f"  {scale if scale == 'log10' else 'value':<6}"
            row += _cells([r["mean"]], [r["mean_mcse"]], width)
            row += _cells(r["quantile"].values, r["quantile_mcse"].values, width)
            row += "".join(f"   {_interval(lo, hi)}" for lo, hi in zip(r["hdi_lower"].values,
                                                                      r["hdi_upper"].values))
            lines.append(row)
    if "prob_at_least" in summary:
        lines += ["", "P(instances >= threshold)"]
        for t in summary["threshold"].values:
            st = summary.sel(threshold=t)
            p, e = float(st["prob_at_least"]), float(st["prob_at_least_mcse"])
            shown = format_value(p, e) if e > 0 else format_value(p)
            lines.append(f"  >= {t:<8.0e}{shown:>10}" + (f"  (+- {e:.1g})" if e > 0 else ""))
    lines += ["", "Digits shown are those the Monte Carlo error supports (spread between chains)."]
    return "\n".join(lines)


def summary_json(summary: xr.Dataset) -> str:
    """The summary as JSON (``xarray.Dataset.to_dict``), NaN written as null."""
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
    return json.dumps(clean(summary.to_dict(data="list")), indent=1)
