"""Summary Dataset -> the first screen of ``overhang run``: the answer in plain words, in 80 columns.

What a reader needs first is the main output's median, the interval to quote, and how
sure the run is that the count reaches each threshold, P(main >= t) with its Monte Carlo
standard error. The rest follows in one line per output (median and interval), and the
whole screen fits `width` columns (80 by default): prose is wrapped, tables are aligned
and, if a name is too long, shortened with ``…``. Every statistic of every output is in
:func:`overhang_sim.tables.scenario_tables` (``overhang run --full``).

**Which interval to quote.** The **equal-tailed** 90 % interval, from the 5th to the 95th percentile, not an HDI:

* it does not depend on the scale: the same draws give the same interval whether read in
  instances or in orders of magnitude (a quantile of log10(x) is log10 of the quantile of
  x), while the highest-density interval of the count and that of its log10 are different
  intervals (the linear HDI of a quantity spanning orders of magnitude is pulled towards 0);
* its ends are quantiles, whose Monte Carlo error shrinks as ``n**-1/2``; an HDI end
  converges at the cube-root rate (:func:`overhang_sim.summaries.hdi_chain_error`), so
  it needs far more draws for the same digits;
* it reads the way the priors are written (``p05``/``p95``) and the way forecasters state
  a "90 % credible interval", and it says "5 % of the draws lie above": a statement about
  the tails that P(main >= t) complements.

The log10 HDI is in ``--full`` for readers who want the narrowest interval in orders of
magnitude; for a near-lognormal output the two nearly coincide.

All functions here are pure: a Dataset in, lines of text out.
"""

from __future__ import annotations

import json
import math
import textwrap

import numpy as np
import xarray as xr

from .labels import human_unit
from .summaries import main_output
from .tables import aligned, cell_labels, cell_values, format_value, is_binary, is_point, spread, summary_part

__all__ = ["MAX_ROWS", "QUOTED_MASS", "WIDTH", "comparison_lines", "first_screen", "fit_table", "frontier_lines",
           "lead_output", "point_lines", "quoted_mass", "run_lines", "scenario_lines", "wrap"]

WIDTH = 80
QUOTED_MASS = 0.9
ELLIPSIS = "…"
MAX_ROWS = 20  # the most scenario rows a first screen shows; beyond it, MAX_ROWS spread evenly over them


def _spread_note(shown: int, total: int, rows: str, width: int) -> list[str]:
    """Where :func:`~overhang_sim.tables.spread` showed `shown` of `total` rows, a line saying so and where
    they all are."""
    if shown == total:
        return []
    return wrap(f"{shown} of the {total} {rows}, evenly spaced from the first to the last; all of them: --full, "
                "--json or --csv.", width, hang="")


def quoted_mass(summary: xr.Dataset) -> float | None:
    """The mass of the interval to quote: 0.9 if the summary has it, else its widest (None if it has none)."""
    masses = [float(m) for m in summary["interval"].values]
    return QUOTED_MASS if QUOTED_MASS in masses else max(masses, default=None)


def _name(mass: float | None) -> str:
    return "interval" if mass is None else f"{100 * mass:g} % interval"


def lead_output(summary: xr.Dataset) -> str:
    """The output the screen opens with: the main output, or the first summarised one if it is not."""
    main, outputs = main_output(summary), [str(o) for o in summary["output"].values]
    return main if main in outputs else outputs[0]


def wrap(text: str, width: int = WIDTH, indent: str = "", hang: str = "  ") -> list[str]:
    """`text` as lines of at most `width` characters, continuation lines indented by `hang` more."""
    return textwrap.wrap(text, width=width, initial_indent=indent, subsequent_indent=indent + hang,
                         break_on_hyphens=False) or [""]


def fit_table(rows: list[list[str]], width: int = WIDTH, left=(0,), shrink: int = 0) -> list[str]:
    """:func:`~overhang_sim.tables.aligned` rows, column `shrink` shortened with ``…`` until they fit `width`."""
    lines = aligned(rows, left=left, gap="  ")
    excess = max(map(len, lines)) - width
    if excess <= 0:
        return lines
    longest = max(len(row[shrink]) for row in rows)
    keep = max(longest - excess, 4)
    cut = [[_shorten(c, keep) if j == shrink else c for j, c in enumerate(row)] for row in rows]
    return aligned(cut, left=left, gap="  ")


def _shorten(text: str, keep: int) -> str:
    return text if len(text) <= keep else text[: keep - 1] + ELLIPSIS


def _pm(error: float) -> str:
    """`` ± 0.0009``: one standard error, to one significant digit (nothing if there is none)."""
    return f" ± {error:.1g}" if math.isfinite(error) and error > 0 else ""


def _value(s: xr.Dataset, name: str, **where) -> tuple[float, float]:
    """A statistic and its Monte Carlo error (NaN if it has none)."""
    error = s[f"{name}_mcse"].sel(where) if f"{name}_mcse" in s else math.nan
    return float(s[name].sel(where)), float(error)


def _number(value: float, error: float) -> str:
    return "n/a" if math.isnan(value) else format_value(value, error)


def _interval(s: xr.Dataset, mass: float, scale: str = "linear", joiner: str = ", ") -> str:
    """The equal-tailed interval of mass `mass` as ``[lower, upper]`` (``fixed`` if it has no width)."""
    if mass is None:
        return "n/a"
    return _interval_text(*_value(s, "eti_lower", scale=scale, interval=mass),
                          *_value(s, "eti_upper", scale=scale, interval=mass), joiner)


def _interval_text(low: float, low_error: float, high: float, high_error: float, joiner: str = ", ") -> str:
    if math.isnan(low) or math.isnan(high):
        return "n/a"
    if low == high:
        return "fixed"
    text = f"{format_value(low, low_error)}{joiner}{format_value(high, high_error)}"
    return text if joiner != ", " else f"[{text}]"


def _median(s: xr.Dataset, scale: str = "linear") -> tuple[float, float]:
    return _value(s, "quantile", scale=scale, prob=0.5) if 0.5 in s["prob"].values else (math.nan, math.nan)


def _probability(p: float, error: float) -> str:
    return format_value(p, error) if math.isfinite(error) and error > 0 else format_value(p)


def _header(attrs: dict, scenarios: int = 0) -> str:
    each = f"{scenarios} scenarios, {attrs.get('samples', '?')} samples each" if scenarios else \
        f"{attrs.get('samples', '?')} samples"
    chains = attrs.get("chains", "?")
    return (f"{attrs.get('experiment_name', '')}: {each} in {chains} chain{'' if chains == 1 else 's'}, "
            f"method {attrs.get('method', '?')}, seed {attrs.get('seed', '?')}")


def _headline(summary: xr.Dataset, output: str, mass: float, width: int) -> list[str]:
    """The main output in plain words: median, interval, P(= 0) and P(>= each threshold)."""
    s = summary.sel(output=output)
    unit = s["unit"].item()
    lines = wrap(f"{output}: {s['long_name'].item()} [{unit}]", width)
    median, median_log = _median(s), _median(s, "log10")
    rows = [["median", f"{_number(*median)} {human_unit(unit)}".rstrip() if math.isfinite(median[0])
             else _number(*median),
             f"(10^{_number(*median_log)})" if math.isfinite(median_log[0]) else ""],
            *([[f"{100 * mass:g} % interval", _interval(s, mass, joiner=" to "),
                f"(10^{_interval(s, mass, 'log10', ' to 10^')})" if math.isfinite(
                    float(s["eti_lower"].sel(scale="log10", interval=mass))) else ""]] if mass else [])]
    p0, p0_error = _value(s, "prob_zero") if "prob_zero" in s else (0.0, math.nan)
    if p0 > 0:
        rows.append([f"P({output} = 0)", _probability(p0, p0_error), _pm(p0_error).strip()])
    if "prob_at_least" in summary and output == main_output(summary):
        for t in summary["threshold"].values:
            p, e = _value(summary, "prob_at_least", threshold=t)
            rows.append([f"P({output} >= {format_value(float(t))})", _probability(p, e), _pm(e).strip()])
    return lines + fit_table(rows, width, left=(0, 1, 2), shrink=0)


def _others(summary: xr.Dataset, main: str, mass: float, width: int) -> list[str]:
    """One line per other output: median and interval; indicators as the share of draws where they hold."""
    rows, flags = [], []
    for output in (str(o) for o in summary["output"].values if str(o) != main):
        s = summary.sel(output=output)
        if is_binary(s):
            p, e = 1 - float(s["prob_zero"]), float(s["prob_zero_mcse"])
            flags.append([output, _probability(p, e) + _pm(e)])
        else:
            rows.append([output, _number(*_median(s)), _interval(s, mass), human_unit(s["unit"].item())])
    lines = []
    if rows:
        lines += ["", f"Other outputs: median and {_name(mass)}"]
        lines += fit_table([["output", "median", _name(mass), "unit"], *rows], width,
                           left=(0, 3), shrink=0)
    if flags:
        lines += ["", *wrap("P(indicator = 1): the share of draws in which each holds (e.g. which bound binds)",
                            width)]
        lines += fit_table(flags, width, left=(0, 1), shrink=0)
    return lines


def _footer(mass: float, width: int) -> list[str]:
    quote = "Quote the median (the [summary] asks for no interval)." if mass is None else (
        f"Quote the median and the equal-tailed {_name(mass)} (the {50 * (1 - mass):g}th to "
        f"{50 * (1 + mass):g}th percentile; the same on any scale).")
    text = (f"{quote} ± is one Monte Carlo standard error "
            "(s.e., the spread between chains); only the digits it supports are shown. Every statistic of every "
            "output (mean, quartiles, HDIs on both scales): --full.")
    return ["", *wrap(text, width, hang="")]


def point_lines(summary: xr.Dataset, width: int = WIDTH) -> list[str]:
    """A run whose inputs are all fixed: one line per output, its value and unit."""
    rows = []
    for output in summary["output"].values:
        s = summary.sel(output=output, scale="linear")
        rows.append([str(output), format_value(float(s["quantile"].isel(prob=0)), 0.0), s["unit"].item(),
                     s["long_name"].item()])
    return [*wrap(f"{summary.attrs.get('experiment_name', '')}: point values (every input fixed)", width), "",
            *fit_table(rows, width, left=(0, 2, 3), shrink=3)]


def run_lines(summary: xr.Dataset, width: int = WIDTH) -> list[str]:
    """The first screen of a run without axes: the main output in plain words, then the others."""
    if is_point(summary):
        return point_lines(summary, width)
    main, mass = lead_output(summary), quoted_mass(summary)
    lines = [*wrap(_header(summary.attrs), width), "", *_headline(summary, main, mass, width)]
    return lines + _others(summary, main, mass, width) + _footer(mass, width)


def _numeric(labels) -> bool:
    """Whether every label reads as a number (such a column is right-aligned)."""
    try:
        [float(label) for label in labels if label != "pooled"]
    except ValueError:
        return False
    return True


def _pooled(result: xr.Dataset) -> xr.Dataset:
    names = [n for n in result.data_vars if n.startswith("pooled_")]
    return result[names].rename({n: n.removeprefix("pooled_") for n in names})


def _scenario_row(cells: dict, i: int, labels: list[str], mass: float, thresholds) -> list[str]:
    """Labels, median, interval and P(>= t) of cell `i` of `cells` (:func:`_columns`): ``n/a`` where the
    scenario's model lacks the output (its mean is NaN)."""
    row = [*labels, _number(*cells["median"][:, i]),
           *([_interval_text(*cells["interval"][:, i])] if mass else [])]
    for t in thresholds:
        row.append("n/a" if cells["lacks"][i] else _probability(*cells[t][:, i]))
    return row


def _flat(s: xr.Dataset, name: str, dims, **where) -> np.ndarray:
    """Statistic `name` of `s` at `where` and its Monte Carlo error (NaN if it has none), ``(2, cells)`` with
    the cells of `dims` in C order (as :func:`~overhang_sim.tables.each_cell`): one selection for every cell."""
    value = cell_values(s[name].sel(where), dims)
    error = cell_values(s[f"{name}_mcse"].sel(where), dims) if f"{name}_mcse" in s else \
        np.full(value.shape, np.nan)
    return np.stack([value, error])


def _columns(s: xr.Dataset, dims, mass, thresholds) -> dict:
    """The numbers of every scenario row of `s` (one output; dims `dims`), each ``(2, cells)`` (value, error):
    ``median``, ``interval`` (``(4, cells)``: lower, its error, upper, its error), each threshold's P(>= t);
    and ``lacks``, where the mean is NaN."""
    cells = math.prod(s.sizes[d] for d in dims)
    nan = np.full((2, cells), np.nan)
    columns = {"median": _flat(s, "quantile", dims, scale="linear", prob=0.5) if 0.5 in s["prob"].values else nan,
               "lacks": np.isnan(cell_values(s["mean"].sel(scale="linear"), dims)) if "mean" in s
               else np.zeros(cells, bool)}
    if mass:
        columns["interval"] = np.concatenate([_flat(s, f"eti_{end}", dims, scale="linear", interval=mass)
                                              for end in ("lower", "upper")])
    for t in thresholds:
        columns[t] = _flat(s, "prob_at_least", dims, threshold=t)
    return columns


def _nearest_thresholds(s: xr.Dataset, has_prob: bool) -> list[float]:
    """The thresholds in order of closeness (in orders of magnitude) to the scenarios' middle median."""
    if not has_prob:
        return []
    medians = s["quantile"].sel(scale="log10", prob=0.5).values if 0.5 in s["prob"].values else np.array([])
    medians = medians[np.isfinite(medians)]
    middle = float(np.median(medians)) if medians.size else 0.0
    return sorted((float(t) for t in s["threshold"].values), key=lambda t: abs(math.log10(t) - middle))


def _scenario_cells(result: xr.Dataset, s: xr.Dataset, output: str, dims) -> list[tuple[xr.Dataset, tuple, list]]:
    """The scenario rows to show, as blocks ``(statistics, their dims, each cell's labels)``: the scenarios of `s`
    (`output` alone); then the pooled ones of a weighted axis."""
    blocks = [(s, tuple(dims))]
    axis = result.attrs.get("weighted_axis")
    if axis in dims:
        others = [d for d in dims if d != axis]
        blocks.append((_pooled(result).sel(output=output).expand_dims({axis: ["pooled"]}), (*others, axis)))
    return [(block, order, cell_labels(block, order, dims)) for block, order in blocks]


def _scenario_rows(shown, dims, mass, thresholds) -> list[list[str]]:
    """The header and a row for each ``(cells, i, labels)`` of `shown` (:func:`_scenario_row`)."""
    heads = [*dims, "median", *([_name(mass)] if mass else []), *(f"P>={format_value(t)}" for t in thresholds)]
    return [heads, *(_scenario_row(*row, mass, thresholds) for row in shown)]


def _fitting_thresholds(shown, dims, mass, candidates, width) -> list[float]:
    """The first of `candidates` (the main threshold), and each next one while the table fits `width`."""
    chosen: list[float] = []
    for t in candidates:
        trial = sorted([*chosen, t])
        if chosen and max(map(len, aligned(_scenario_rows(shown, dims, mass, trial), gap="  "))) > width:
            break
        chosen = trial
    return chosen


def _pooled_note(result: xr.Dataset, output: str, width: int) -> list[str]:
    axis = result.attrs["weighted_axis"]
    share = ", ".join(format_value(float(v), float(e)) for v, e in zip(
        np.ravel(result["variance_share"].values), np.ravel(result["variance_share_mcse"].values)))
    weights = ", ".join(f"{w:g}" for w in json.loads(result.attrs.get("weights", "[]")))
    of = f"log10({output})" if result.attrs.get("variance_share_scale", "log10") == "log10" else \
        f"the rank of {output} (some draws are 0, where log10 is undefined)"
    return ["", *wrap(f"pooled: the mixture over {axis} with weights {weights}; the choice of {axis} "
                      f"explains a share {share} of the pooled variance of {of}.", width)]


def _along(values: xr.DataArray, dims, name: str) -> xr.DataArray:
    """`values` with the scenario `dims` as one dimension `name` (stacked; one axis is renamed, so
    its labels stay plain values rather than 1-tuples)."""
    return values.stack({name: list(dims)}) if len(dims) > 1 else values.rename({dims[0]: name})


def _scenario_indicators(summary: xr.Dataset, dims: tuple[str, ...], width: int) -> list[str]:
    """P(indicator = 1) of each 0/1 output (e.g. which bound binds) in the scenarios that have it."""
    rows = []
    for output in (str(o) for o in summary["output"].values):
        s = summary.sel(output=output)
        if "prob_zero" not in s or not bool(np.all(s["binary"].values[np.isfinite(s["prob_zero"].values)])):
            continue
        p0, e0 = _along(s["prob_zero"], dims, "cell"), _along(s["prob_zero_mcse"], dims, "cell")
        for j, cell in enumerate(p0["cell"].values):
            if math.isfinite(float(p0.values[j])):
                label = ", ".join(map(str, cell)) if isinstance(cell, tuple) else str(cell)
                rows.append([output, label, _probability(1 - float(p0.values[j]), float(e0.values[j])) +
                             _pm(float(e0.values[j]))])
    if not rows:
        return []
    shown = spread(rows, MAX_ROWS)
    return ["", *wrap("P(indicator = 1): the share of draws in which each holds (e.g. which bound binds)", width),
            *fit_table(shown, width, left=(0, 1, 2), shrink=0),
            *_spread_note(len(shown), len(rows), "rows", width)]


def scenario_lines(result: xr.Dataset, dims: tuple[str, ...], width: int = WIDTH) -> list[str]:
    """The first screen of a run with axes: one line per scenario, the main output's median first.

    Each line has the scenario's labels, the median and the quoted interval of the main
    output, and P(main >= t) for as many thresholds as fit, nearest the middle median
    first (the main threshold: where the scenarios differ most); a weighted axis adds its
    pooled rows and the share of the variance the axis explains. Of more than
    :data:`MAX_ROWS` rows, that many are shown, evenly spaced from the first to the last
    (a sweep's whole range), and a line says so and where every row is.
    """
    summary = summary_part(result)
    summary = summary if summary.attrs else summary.assign_attrs(result.attrs)
    output, mass = lead_output(summary), quoted_mass(summary)
    s = summary.sel(output=output)
    has_prob = "prob_at_least" in summary and summary.sizes.get("threshold", 0) > 0 \
        and output == main_output(summary)
    candidates = _nearest_thresholds(s, has_prob)
    parts = [(_columns(block, order, mass, candidates), labels)
             for block, order, labels in _scenario_cells(result, s, output, dims)]
    every = [(cells, i, row_labels) for cells, labels in parts for i, row_labels in enumerate(labels)]
    shown = spread(every, MAX_ROWS)
    chosen = _fitting_thresholds(shown, dims, mass, candidates, width)
    rows = _scenario_rows(shown, dims, mass, chosen)
    left = [j for j in range(len(dims)) if not _numeric(row[j] for row in rows[1:])]
    lines = [*wrap(_header(summary.attrs, math.prod(summary.sizes[d] for d in dims)), width), "",
             *wrap(f"{output}: {s['long_name'].item()} [{s['unit'].item()}], per scenario", width),
             *fit_table(rows, width, left=left, shrink=0),
             *_spread_note(len(shown), len(every), "scenario rows", width)]
    if result.attrs.get("weighted_axis") in dims:
        lines += _pooled_note(result, output, width)
    lines += _scenario_indicators(summary, dims, width)
    meaning = "; P>=t: the probability of at least t" if chosen else ""
    quote = f"median of {output} (quote it; the [summary] asks for no interval)" if mass is None else \
        f"median and equal-tailed {_name(mass)} of {output} (quote these; the same on any scale)"
    if 0.5 not in summary["prob"].values:
        quote += "; the median is n/a: the [summary] quantiles leave out 0.5"
    text = (f"{quote}{meaning}. Digits shown are those the Monte Carlo error "
            f"(spread between chains) supports. Every output, quantile and threshold: --full.")
    return lines + ["", *wrap(text, width, hang="")]


def frontier_lines(frontier: xr.Dataset, width: int = WIDTH) -> list[str]:
    """The copies x speed frontier in `width` columns: speed, median, the quoted band, P(= 0).

    A frontier per scenario (:func:`~overhang_sim.frontier.scenario_frontier`) is shown as
    one column of medians per scenario, and the pooled one beside them, as many as fit.
    """
    output = frontier.attrs.get("output", "instances")
    if frontier["median"].ndim > 1:
        return _scenario_frontier_lines(frontier, output, width)
    masses = [float(m) for m in frontier["interval"].values]
    mass = QUOTED_MASS if QUOTED_MASS in masses else max(masses)
    rows = [["speed", "median", f"{100 * mass:g} % band", f"P({output} = 0)"]]
    for i, speed in enumerate(frontier["speed"].values):
        f = frontier.isel(speed=i)
        low, high = float(f["band_lower"].sel(interval=mass)), float(f["band_upper"].sel(interval=mass))
        p, e = float(f["prob_zero"]), float(f["prob_zero_mcse"])
        rows.append([f"{speed:.4g}", format_value(float(f["median"]), float(f["median_mcse"])),
                     f"[{format_value(low)}, {format_value(high)}]", _probability(p, e)])
    head = (f"frontier of {output} [{frontier['median'].attrs.get('units', '')}] against the required speed "
            f"[{frontier['speed'].attrs.get('units', '')}]: {frontier.attrs.get('samples', '?')} draws, the same "
            "for every speed (every band: --full)")
    return [*wrap(head, width), *fit_table(rows, width, left=(), shrink=0)]


def _scenario_frontier_lines(frontier: xr.Dataset, output: str, width: int) -> list[str]:
    medians = frontier["median"].transpose("speed", ...)
    dims = [d for d in medians.dims if d != "speed"]
    cells = _along(medians, dims, "scenario")
    errors = frontier["median_mcse"].transpose(*medians.dims)
    errors = _along(errors, dims, "scenario")
    heads = [",".join(map(str, v)) if isinstance(v, tuple) else str(v) for v in cells["scenario"].values]
    columns = [(h, cells.values[:, j], errors.values[:, j]) for j, h in enumerate(heads)]
    if "pooled_median" in frontier:
        columns.append(("pooled", frontier["pooled_median"].values, frontier["pooled_median_mcse"].values))
    speeds = [f"{v:.4g}" for v in frontier["speed"].values]
    shown = len(columns)
    while True:
        rows = [["speed", *(h for h, _, _ in columns[:shown])]]
        rows += [[speeds[i], *(format_value(float(m[i]), float(e[i])) for _, m, e in columns[:shown])]
                 for i in range(len(speeds))]
        lines = aligned(rows, left=(), gap="  ")
        if shown == 1 or max(map(len, lines)) <= width:
            break
        shown -= 1
    rest = "" if shown == len(columns) else f" (the first {shown} of {len(columns)})"
    head = (f"frontier: median {output} [{frontier['median'].attrs.get('units', '')}] against the required "
            f"speed [{frontier['speed'].attrs.get('units', '')}] per {', '.join(dims)}{rest}, "
            f"{frontier.attrs.get('samples', '?')} draws each, the same for every speed (bands and P(= 0): "
            "--full)")
    return [*wrap(head, width), *lines]


def comparison_lines(a: str, b: str, found: dict, width: int = WIDTH) -> list[str]:
    """A paired comparison (:func:`~overhang_sim.summaries.compare`) of scenarios `a` and `b` in `width` columns."""
    p = format_value(found["p_a_greater"], found["p_a_greater_mcse"])
    ratio = format_value(found["median_log10_ratio"], found["median_log10_ratio_mcse"])
    return [*wrap(f"Paired comparison (the same draws) of A: {a} and B: {b}", width),
            *wrap(f"P(A > B) = {p}; median log10(A / B) = {ratio} orders of magnitude", width, indent="  ")]


def first_screen(result: xr.Dataset, dims: tuple[str, ...] = (), width: int = WIDTH) -> list[str]:
    """What ``overhang run`` prints by default: :func:`run_lines` or, with axes, :func:`scenario_lines`.

    Parameters
    ----------
    result : xarray.Dataset
        A :func:`overhang_sim.batch.run` result or a summary Dataset.
    dims : tuple of str
        The scenario axes of the run (none for a single experiment).
    width : int
        The most characters any line may have.

    Returns
    -------
    list of str
        The lines, each at most `width` characters (a name too long is shortened with ``…``).
    """
    if dims:
        return scenario_lines(result, dims, width)
    return run_lines(summary_part(result), width)
