"""Figures from result Datasets: pure functions ``Dataset -> matplotlib.figure.Figure``.

Only matplotlib's object-oriented API is used (``Figure()`` directly, never ``pyplot``),
so nothing depends on a GUI backend or global state; only :func:`save_figure` writes a
file. Every figure uses one colour-blind-safe palette (:data:`PALETTE`, Okabe & Ito
2008), labels its axes with units, shows log axes with tick labels as powers of ten
and is laid out with ``layout="constrained"``. Artists callers may look for carry a
``gid``: ``"reference"``, ``"median"``, ``"interval-0.5"``, ``"interval-0.9"``, ``"cdf"``,
``"forest-row"``, ``"tornado"``, ``"index"``, ``"quantile"``, ``"mcse-band"``.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import xarray as xr
from matplotlib.figure import Figure
from matplotlib.ticker import LogFormatterSciNotation, LogLocator, NullFormatter

from .errors import ConfigError, StorageError, did_you_mean
from .labels import axis_label, human_unit, quantity_label
from .summaries import main_output
from .tables import spread

__all__ = ["FORMATS", "MAX_FOREST_ROWS", "PALETTE", "REFERENCES", "plot_convergence", "plot_distribution",
           "plot_frontier", "plot_scenarios", "plot_sensitivity", "save_figure"]

#: Okabe & Ito's colour-blind-safe palette, in the order the figures use it.
PALETTE: Mapping[str, str] = {
    "blue": "#0072B2", "orange": "#E69F00", "green": "#009E73", "vermillion": "#D55E00",
    "purple": "#CC79A7", "sky": "#56B4E9", "yellow": "#F0E442", "black": "#000000",
}

#: The source essays' point estimates of the instance count [instance] (the table in docs/howto/reproduce.md).
REFERENCES: Mapping[str, float] = {
    "seed 000 text (40 tok/s)": 1.2e6,
    "seed 000 comments (30 tok/s)": 1.6e6,
    "seed 001 lower bound (50 tok/s)": 6.2e5,
    "seed 001, 55.65 % utilization": 4.6e5,
}

#: File formats :func:`save_figure` writes.
FORMATS = ("png", "svg", "pdf")

#: The most scenario rows :func:`plot_scenarios` draws (the figure grows 0.32 in a row); of more, that
#: many evenly spaced from the first to the last.
MAX_FOREST_ROWS = 40

SAMPLE_DIMS = ("chain", "draw")
SUMMARY_DIMS = ("output", "scale", "prob", "interval", "threshold")
_COLORS = tuple(PALETTE.values())
_REFERENCE_STYLES = tuple(zip(("green", "purple", "black", "orange", "yellow"),
                              ("--", "-.", ":", (0, (5, 1, 1, 1, 1, 1)), (0, (1, 3))), strict=True))


def _figure(width: float, height: float) -> Figure:
    return Figure(figsize=(width, height), layout="constrained")


def _log(ax, which: str = "x") -> None:
    """Make `which` axis of `ax` logarithmic, its tick labels powers of ten (call after plotting)."""
    (ax.set_xscale if which == "x" else ax.set_yscale)("log")
    low, high = sorted(ax.get_xlim() if which == "x" else ax.get_ylim())
    decades = np.log10(high / low)
    few = decades < 1.5  # label 2 and 5 x 10^k too, or every k x 10^j inside one decade
    subs = (1.0,) if not few else (1.0, 2.0, 5.0) if decades > 0.6 else np.arange(1.0, 10.0)
    axis = ax.xaxis if which == "x" else ax.yaxis
    axis.set_major_locator(LogLocator(base=10, subs=subs))
    # the LogFormatterMathtext that writes 2e6 as 2 x 10^6, not 10^6.30
    axis.set_major_formatter(LogFormatterSciNotation(labelOnlyBase=not few, minor_thresholds=(np.inf,) * 2))
    axis.set_minor_formatter(NullFormatter())


def _summarized(result: xr.Dataset, output: str) -> bool:
    return "output" in result.coords and output in result["output"].values


def _need_output(result: xr.Dataset, output: str) -> None:
    if not _summarized(result, output):
        known = [str(o) for o in result["output"].values] if "output" in result.coords else []
        raise ConfigError(f"the result has no output {output!r}{did_you_mean(output, known)}", key=output)


def _unit(result: xr.Dataset, output: str) -> str:
    """The unit of `output`: its ``units`` attr in a run, the ``unit`` coordinate in a summary."""
    if output in result.data_vars and "units" in result[output].attrs:
        return str(result[output].attrs["units"])
    coord = next((c for c in ("unit", "output_unit") if c in result.coords), None)
    return str(result[coord].sel(output=output).item()) if coord and _summarized(result, output) else "1"


def _long_name(result: xr.Dataset | None, name: str) -> str | None:
    """The model's ``long_name`` of `name`: a variable's attr, or the ``long_name`` coordinate of a summary."""
    if result is None:
        return None
    if name in result.variables and "long_name" in result[name].attrs:
        return str(result[name].attrs["long_name"])
    if "long_name" in result.coords and _summarized(result, name):
        return str(result["long_name"].sel(output=name).item())
    return None


def _label(name: str, unit: str, result: xr.Dataset | None = None) -> str:
    """The human axis label of `name` (see :mod:`overhang_sim.labels`)."""
    return axis_label(name, unit, _long_name(result, name))


def _samples(result: xr.Dataset, output: str, caller: str) -> xr.DataArray:
    """The samples of `output`, or a one-line error saying why there are none."""
    if output in result.data_vars and set(SAMPLE_DIMS) <= set(result[output].dims):
        return result[output]
    names = [n for n, v in result.data_vars.items() if set(SAMPLE_DIMS) <= set(v.dims)]
    why = " (it was streamed)" if _summarized(result, output) else did_you_mean(output, names)
    raise ConfigError(f"the result has no samples of {output!r}{why}; {caller} needs samples", key=output)


def _summary(result: xr.Dataset, name: str, output: str, caller: str) -> xr.DataArray:
    """Summary variable `name` of `output` on the linear scale."""
    if name not in result.data_vars:
        raise ConfigError(f"the result has no summary variable {name!r}; {caller} needs a batch.run "
                          "result or summarize()", key=name)
    _need_output(result, output)
    return result[name].sel(output=output, scale="linear")


def _select(result, axes: Sequence[str], scenario: Mapping | None) -> tuple:
    """`result` at the one scenario `scenario` names (axis -> value; an axis of one value needs none)."""
    given = dict(scenario or {})
    if not given and any(result.sizes[a] > 1 for a in axes):
        raise ConfigError(f"the result has scenario axes ({', '.join(axes)}); pass "
                          "scenario={axis: value} to choose one", key="scenario")
    chosen = {**{a: result[a].values[0] for a in axes if result.sizes[a] == 1}, **given}
    for name in [*chosen, *(a for a in axes if a not in chosen)]:
        if name not in axes:
            raise ConfigError(f"the result has no scenario axis {name!r}{did_you_mean(name, axes)}", key=name)
        if chosen.get(name) not in list(result[name].values):
            choices = ", ".join(map(str, result[name].values))
            raise ConfigError(f"scenario must set {name!r} to one of {choices}", key=name)
    return (result.sel(chosen) if chosen else result), chosen


def _at(da: xr.DataArray | None, dim: str, value: float) -> float | None:
    """The element of `da` at float coordinate `value` along `dim`, or None."""
    hits = np.flatnonzero(np.isclose(da[dim].values, value)) if da is not None else []
    return float(da.isel({dim: hits[0]})) if len(hits) else None


def _scenario_text(labels: Mapping, result: xr.Dataset | None = None) -> str:
    """``required speed per copy = 10 tokens/s, ...`` for one scenario's axis values (a float to 4 significant
    digits: a sweep's ``np.linspace`` values are read, not copied)."""
    def one(name, value):
        if name == "scenario":
            return str(value)
        unit = human_unit(result[name].attrs.get("units")) if result is not None and name in result.coords else ""
        value = f"{value:.4g}" if isinstance(value, float | np.floating) else value
        return f"{quantity_label(name) if result is not None else name} = {value}" + (f" {unit}" if unit else "")

    return ", ".join(one(k, v) for k, v in labels.items())


def _mass_label(mass: float) -> str:
    return f"{100 * mass:g} % interval"


def _intervals(cell: xr.Dataset, output: str, values: np.ndarray) -> tuple[float, dict]:
    """Median and 90/50 % equal-tailed intervals: from the summary when it has them."""
    has = "quantile" in cell.data_vars and _summarized(cell, output)
    quantile, lower, upper = ((cell[v].sel(output=output, scale="linear") if has else None)
                              for v in ("quantile", "eti_lower", "eti_upper"))
    median = _at(quantile, "prob", 0.5)
    bands = {m: (_at(lower, "interval", m), _at(upper, "interval", m)) for m in (0.9, 0.5)}
    for mass, ends in bands.items():
        if None in ends:
            bands[mass] = tuple(np.quantile(values, [(1 - mass) / 2, (1 + mass) / 2]))
    return (float(np.median(values)) if median is None else median), bands


def plot_distribution(result: xr.Dataset, output: str | None = None, *, scenario: Mapping | None = None,
                      references: Mapping[str, float] = REFERENCES) -> Figure:
    """Histogram of an output's samples on a log axis, with its CDF, intervals and the essays' numbers.

    Parameters
    ----------
    result : xarray.Dataset
        A run with samples, dims ``(*axes, chain, draw)``: from
        :func:`~overhang_sim.simulation.simulate` or :func:`~overhang_sim.batch.run`.
    output : str
        The output drawn, in its unit (default: the run's main output).
    scenario : dict, optional
        Axis values selecting one scenario, e.g. ``{"required_tokens_per_s": 10}``;
        required when the result has scenario axes.
    references : mapping of str to float
        Labelled values in the output's unit, drawn as vertical lines where they fall
        in the samples' range. The default, :data:`REFERENCES` (instance counts), is
        drawn for ``instances`` only.

    Returns
    -------
    matplotlib.figure.Figure
        Density per order of magnitude [1/decade] (left axis) and cumulative
        probability [1] (right axis) of the output [its unit, log axis]; the 50 % and
        90 % equal-tailed intervals shaded (from the summary variables when present)
        and the median as a solid line.
    """
    output = output or main_output(result)
    samples = _samples(result, output, "plot_distribution")
    axes = [d for d in samples.dims if d not in SAMPLE_DIMS]
    cell, scenario = _select(result, axes, scenario)
    values = np.asarray(cell[output].values, dtype=float).ravel()
    zero_share = float(np.mean(values == 0)) if values.size else 0.0  # e.g. no instance meets the speed
    values = values[np.isfinite(values) & (values > 0)]
    if values.size == 0:
        raise ConfigError(f"{output!r} has no positive finite values to draw on a log axis", key=output)
    if values.min() == values.max():
        raise ConfigError(f"{output!r} has a single value ({values[0]:.4g}: every input it depends on is fixed), "
                          "so there is no distribution to draw", key=output)
    median, bands = _intervals(cell, output, values)
    low, high = float(values.min()), float(values.max())
    low, high = (low / 2, high * 2) if low == high else (low, high)
    bins = int(np.clip(np.sqrt(values.size), 10, 60)) | 1  # odd: a point value sits mid-bin
    per_decade = bins / np.log10(high / low) / values.size  # each sample adds this to the density

    fig = _figure(7.5, 4.8)
    ax = fig.add_subplot()
    for (mass, (lo, hi)), alpha in zip(bands.items(), (0.18, 0.38), strict=True):
        ax.axvspan(lo, hi, color=PALETTE["sky"], alpha=alpha, lw=0, gid=f"interval-{mass:g}",
                   label=_mass_label(mass))
    ax.hist(values, bins=np.geomspace(low, high, bins + 1), weights=np.full(values.size, per_decade),
            color=PALETTE["blue"], alpha=0.75, gid="histogram", label="samples")
    ax.axvline(median, color=PALETTE["black"], lw=1.8, gid="median", label=f"median {median:.3g}")
    if references is not REFERENCES or output == "instances":
        inside = [(k, v) for k, v in references.items() if low <= v <= high]
        for (name, value), (color, dash) in zip(inside, itertools.cycle(_REFERENCE_STYLES)):
            ax.axvline(value, color=PALETTE[color], ls=dash, lw=1.6, gid="reference",
                       label=f"{name}: {value:.2g}")
    ax.set_xlim(low, high)
    _log(ax, "x")
    ax.set_xlabel(_label(output, _unit(result, output), result))
    ax.set_ylabel("density per order of magnitude")
    twin = ax.twinx()
    grid = np.geomspace(low, high, 512)
    cdf = np.searchsorted(np.sort(values), grid, side="right") / values.size
    twin.plot(grid, cdf, color=PALETTE["vermillion"], lw=1.5, gid="cdf", label="cumulative probability")
    twin.set_ylim(0, 1.02)
    twin.set_ylabel("cumulative probability")
    ax.set_title(f"Distribution of {quantity_label(output, _long_name(result, output))}"
                 + (f": {_scenario_text(scenario, result)}" if scenario else "")
                 + (f" (P({output} = 0) = {zero_share:.3g}, not drawn)" if zero_share > 0 else ""))
    handles = ax.get_legend_handles_labels()[0] + twin.get_legend_handles_labels()[0]
    fig.legend(handles=handles, loc="outside lower center", ncols=3, fontsize="small", frameon=False)
    return fig


def _tornado(ax, sens: xr.Dataset, output: str) -> None:
    at_05 = sens["tornado_at_p05"].sel(output=output).dropna("input")
    at_95 = sens["tornado_at_p95"].sel(output=output, input=at_05["input"])
    order = np.argsort(np.abs(at_95.values - at_05.values), kind="stable")  # largest on top
    center = 10.0 ** float(sens["tornado_median"].sel(output=output))
    y = np.arange(order.size)
    for ends, name, color in ((at_05, "5 %", "blue"), (at_95, "95 %", "orange")):
        ax.barh(y, 10.0 ** ends.values[order] - center, left=center, height=0.7, color=PALETTE[color],
                gid="tornado", label=f"input at its {name} quantile")
    ax.axvline(center, color=PALETTE["black"], lw=1, label="every input at its median")
    ax.set_yticks(y, at_05["input"].values[order])
    _log(ax, "x")
    ax.set_xlabel(_label(output, _unit(sens, output), sens))
    ax.set_title("Tornado: p5 to p95 swing")
    ax.legend(loc="lower right", fontsize="small")


def _indices(ax, sens: xr.Dataset, output: str) -> None:
    sobol = "sobol_first" in sens["measure"].values
    measures = {"sobol_first": "first order", "sobol_total": "total"} if sobol else {
        "given_data_first": "first order"}
    picked = sens.sel(output=output, measure=list(measures))
    key = picked["estimate"].sel(measure=list(measures)[-1]).dropna("input")
    inputs = key["input"].values[np.argsort(key.values, kind="stable")]  # largest on top
    height = 0.8 / len(measures)
    for i, (measure, name) in enumerate(measures.items()):
        est, low, high = (np.maximum(picked[v].sel(measure=measure, input=inputs).values, 0.0)
                          for v in ("estimate", "lower", "upper"))  # below 0 is drawn at 0
        y = np.arange(inputs.size) + ((len(measures) - 1) / 2 - i) * height  # first measure on top
        ax.barh(y, est, height=height, xerr=np.maximum([est - low, high - est], 0.0), color=_COLORS[2 * i],
                gid="index", label=name, error_kw={"elinewidth": 1, "capsize": 2, "ecolor": PALETTE["black"]})
    ax.set_yticks(np.arange(inputs.size), inputs)
    name = quantity_label(output, _long_name(sens, output))
    target = f"log10({name})" if sens.attrs.get("scale", "log10") == "log10" else name
    ax.set_xlabel(f"variance share of {target}")
    ax.set_xlim(0, None)
    ax.set_title("Sobol' indices" if sobol else "First-order index (given data; no Sobol')")
    ax.legend(loc="lower right", fontsize="small")


def plot_sensitivity(sens: xr.Dataset, output: str | None = None) -> Figure:
    """Tornado chart and Sobol' indices of one output, side by side.

    Parameters
    ----------
    sens : xarray.Dataset
        A :func:`~overhang_sim.sensitivity_analysis.sensitivity` result, dims ``(input, output, measure)``.
    output : str
        The output whose inputs are ranked.

    Returns
    -------
    matplotlib.figure.Figure
        Left: the output [its unit, log axis] with each input at its 5 % (blue) and
        95 % (orange) quantile and the others at their medians, the largest swing (in
        orders of magnitude) on top. Right: first-order and total Sobol' indices [1,
        share of the variance of log10(output)] with their intervals as whiskers, or
        the given-data first-order index when Sobol' is absent (the title says so);
        estimates below 0 are drawn at 0. A panel whose measure is absent says so.
    """
    output = output or main_output(sens)
    if "estimate" not in sens.data_vars or "measure" not in sens.dims:
        raise ConfigError("the Dataset is not a sensitivity result (no 'estimate' by measure); "
                          "plot_sensitivity needs overhang_sim.sensitivity() (a sensitivity result)", key="estimate")
    _need_output(sens, output)
    measures = set(sens["measure"].values)
    panels = {"tornado": ("tornado" in measures and "tornado_at_p05" in sens.data_vars, _tornado),
              "sobol_first": (bool({"sobol_first", "given_data_first"} & measures), _indices)}
    if not any(present for present, _ in panels.values()):
        raise ConfigError("the sensitivity result has neither 'tornado' nor 'sobol_first' or "
                          "'given_data_first'; plot_sensitivity needs one", key="measure")
    fig = _figure(11, max(3.2, 0.38 * sens.sizes["input"] + 1.6))
    for ax, (name, (present, draw)) in zip(fig.subplots(1, 2), panels.items(), strict=True):
        if present:
            draw(ax, sens, output)
        else:
            ax.set_axis_off()
            ax.text(0.5, 0.5, f"measure {name!r} not computed", ha="center", transform=ax.transAxes)
    return fig


def _bands(result: xr.Dataset, output: str, caller: str) -> tuple[xr.DataArray, dict]:
    """Median and {mass: (lower, upper)} of `output` on the linear scale, dims = scenario axes."""
    quantile = _summary(result, "quantile", output, caller)
    lower, upper = (_summary(result, name, output, caller) for name in ("eti_lower", "eti_upper"))
    half = np.flatnonzero(np.isclose(quantile["prob"].values, 0.5))
    if not half.size:
        raise ConfigError(f"the summary has no median (prob 0.5); {caller} needs it", key="prob")
    masses = sorted((float(m) for m in lower["interval"].values), reverse=True)
    return quantile.isel(prob=half[0]), {m: (lower.sel(interval=m), upper.sel(interval=m)) for m in masses}


def _cells(da: xr.DataArray, axes: Sequence[str]) -> list[dict]:
    """Every combination of the values of `axes`, in the order of the grid (last axis fastest)."""
    return [dict(zip(axes, key, strict=True)) for key in itertools.product(*(da[a].values for a in axes))]


def _forest(ax, median, bands, axes, output, unit, result=None) -> None:
    every = _cells(median, axes)
    cells = spread(every, MAX_FOREST_ROWS)
    y = np.arange(len(cells))[::-1]  # first scenario on top

    def pick(da):
        return np.array([float(da.sel(c)) for c in cells])

    for k, (mass, (lower, upper)) in enumerate(bands.items()):
        ax.hlines(y, pick(lower), pick(upper), color=PALETTE["blue"], lw=1.5 + 4 * k, gid=f"interval-{mass:g}",
                  label=_mass_label(mass))
    ax.plot(pick(median), y, "o", color=PALETTE["orange"], mec=PALETTE["black"], gid="forest-row",
            label="median")
    ax.set_yticks(y, [_scenario_text(c, result) for c in cells])
    ax.set_ylim(-0.7, y.size - 0.3)
    _log(ax, "x")
    ax.set_xlabel(_label(output, unit, result))
    some = "" if len(cells) == len(every) else f"\n({len(cells)} of {len(every)}, evenly spaced)"
    ax.set_title(f"{quantity_label(output, _long_name(result, output))} by scenario{some}")


def _trend(ax, median, bands, axes, axis, output, unit, result=None) -> None:
    others = [a for a in axes if a != axis]
    x = median[axis].values
    for g, cell in enumerate(_cells(median, others)):
        color = _COLORS[g % len(_COLORS)]
        for k, (lower, upper) in enumerate(bands.values()):
            ax.fill_between(x, lower.sel(cell).transpose(axis).values, upper.sel(cell).transpose(axis).values,
                            color=color, alpha=0.15 + 0.15 * k, lw=0)
        style = "o-" if x.size <= MAX_FOREST_ROWS else "-"  # a dot a scenario while the dots stay apart
        ax.plot(x, median.sel(cell).transpose(axis).values, style, color=color, gid="median",
                label=_scenario_text(cell, result) or "median")
    ax.set_xlabel(_label(axis, median[axis].attrs.get("units"), result))
    if (x > 0).all() and x.max() / x.min() >= 100:
        _log(ax, "x")
    _log(ax, "y")
    ax.set_ylabel(_label(output, unit, result))
    ax.set_title("Median, 50 % and 90 % intervals")
    if others:
        ax.legend(loc="best", fontsize="small")


def plot_scenarios(result: xr.Dataset, output: str | None = None, *, axis: str | None = None) -> Figure:
    """Forest plot of an output across the scenarios of a run, and its trend along a numeric axis.

    Parameters
    ----------
    result : xarray.Dataset
        A :func:`~overhang_sim.batch.run` result (samples kept or streamed) with
        scenario axes and the summary variables ``quantile``, ``eti_lower``, ``eti_upper``.
    output : str
        The output drawn, in its unit.
    axis : str, optional
        A numeric scenario axis for the second panel; default: the first numeric
        axis, if any (no second panel otherwise).

    Returns
    -------
    matplotlib.figure.Figure
        Left: one row per scenario (labelled by its axis values) with the median (dot)
        and the 50 % (thick) and 90 % (thin) equal-tailed intervals of the output [its
        unit, log axis]; of more than :data:`MAX_FOREST_ROWS` scenarios, that many,
        evenly spaced from the first to the last (the title says so). Right: the median
        against `axis` as a line, the intervals as bands, one colour per combination of
        the other axes (log y).
    """
    output = output or main_output(result)
    axes = [d for d in result.dims if d not in (*SAMPLE_DIMS, *SUMMARY_DIMS)]
    if not axes:
        raise ConfigError("the result has no scenario axes; plot_scenarios needs a run of an experiment "
                          "with [[axes]] or [[scenarios]]", key="axes")
    median, bands = _bands(result, output, "plot_scenarios")
    axes = list(median.dims)  # in the order of the summary variables
    numeric = [a for a in axes if np.issubdtype(result[a].dtype, np.number) and result[a].dtype != bool]
    if axis is not None and axis not in axes:
        raise ConfigError(f"the result has no scenario axis {axis!r}{did_you_mean(axis, axes)}", key="axis")
    if axis is not None and axis not in numeric:
        raise ConfigError(f"scenario axis {axis!r} is not numeric; plot_scenarios draws a trend only "
                          "along a numeric axis", key="axis")
    axis = axis or (numeric[0] if numeric else None)
    rows = min(int(np.prod([result.sizes[a] for a in axes])), MAX_FOREST_ROWS)
    fig = _figure(11 if axis else 6.5, max(3.2, 0.32 * rows + 1.6))
    panels = fig.subplots(1, 2 if axis else 1, squeeze=False)[0]
    unit = _unit(result, output)
    _forest(panels[0], median, bands, axes, output, unit, result)
    if axis:
        _trend(panels[1], median, bands, axes, axis, output, unit, result)
    fig.legend(*panels[0].get_legend_handles_labels(), loc="outside lower center", ncols=3, fontsize="small",
               frameon=False)
    return fig


def plot_convergence(result: xr.Dataset, output: str | None = None, *,
                     probs: Sequence[float] = (0.05, 0.5, 0.95), scenario: Mapping | None = None) -> Figure:
    """Quantile estimates of log10(output) as more samples are used, with ±2 MCSE bands.

    Parameters
    ----------
    result : xarray.Dataset
        A run with samples and at least 2 chains.
    output : str
        The output whose quantiles are followed.
    probs : sequence of float
        Probabilities of the quantiles, in (0, 1).
    scenario : dict, optional
        Axis values selecting one scenario when the result has scenario axes.

    Returns
    -------
    matplotlib.figure.Figure
        Quantiles of log10(output) [orders of magnitude] from the first 16, 32, ...
        draws of every chain, pooled, against the samples used [sample, log axis];
        bands of ±2 Monte Carlo standard errors, sd(per-chain estimates) / sqrt(chains).
    """
    output = output or main_output(result)
    samples = _samples(result, output, "plot_convergence")
    cell, scenario = _select(samples, [d for d in samples.dims if d not in SAMPLE_DIMS], scenario)
    chains = cell.sizes["chain"]
    if chains < 2:
        raise ConfigError(f"the result has {chains} chain; plot_convergence needs at least 2 (its Monte "
                          "Carlo error is the spread between chains)", key="chain")
    probs = np.asarray(probs, dtype=float)
    if probs.ndim != 1 or probs.size == 0 or not ((probs > 0) & (probs < 1)).all():
        raise ConfigError(f"probs must be probabilities in (0, 1), not {probs.tolist()}", key="probs")
    values = np.asarray(cell.transpose("chain", "draw").values, dtype=float)
    if not (np.isfinite(values) & (values > 0)).all():
        raise ConfigError(f"{output!r} has values <= 0 or not finite; log10 is undefined", key=output)
    logs, top = np.log10(values), int(np.log2(values.shape[1]))
    steps = np.unique(np.append(2 ** np.arange(min(4, top), top + 1), values.shape[1]))  # draws per chain
    pooled = np.array([np.quantile(logs[:, :n], probs) for n in steps])  # (steps, probs)
    per_chain = np.array([np.quantile(logs[:, :n], probs, axis=1) for n in steps])  # (steps, probs, chains)
    mcse = per_chain.std(axis=2, ddof=1) / np.sqrt(chains)

    fig = _figure(7.5, 4.6)
    ax = fig.add_subplot()
    for j, (p, color) in enumerate(zip(probs, itertools.cycle(_COLORS))):
        ax.fill_between(steps * chains, pooled[:, j] - 2 * mcse[:, j], pooled[:, j] + 2 * mcse[:, j],
                        color=color, alpha=0.25, lw=0, gid="mcse-band")
        ax.plot(steps * chains, pooled[:, j], "o-", ms=3, color=color, gid="quantile",
                label=f"{100 * p:g} % quantile")
    _log(ax, "x")
    ax.set_xlabel(f"samples used ({chains} chains pooled)")
    ax.set_ylabel(f"log10 of {_label(output, _unit(result, output), result)}")
    ax.set_title(f"Convergence of the quantiles of {quantity_label(output, _long_name(result, output))} (±2 MCSE)"
                 + (f": {_scenario_text(scenario, result)}" if scenario else ""))
    fig.legend(loc="outside lower center", ncols=len(probs), fontsize="small", frameon=False)
    return fig


def plot_frontier(frontier: xr.Dataset, marks: Sequence[Mapping] | None = None) -> Figure:
    """The copies x speed frontier on log-log axes: median, 50 % and 90 % bands, and published points.

    Parameters
    ----------
    frontier : xarray.Dataset
        From :func:`overhang_sim.frontier.frontier` (dims ``speed``, ``interval``).
    marks : sequence of mappings, optional
        ``{"label", "speed", "instances"}`` points to mark; default: the Dataset's
        ``marks`` attr (the experiment's ``[[frontier.marks]]``).

    Returns
    -------
    matplotlib.figure.Figure
        The main output [its unit] against the required speed [token/s]; a dashed line
        proportional to 1/speed through the first median (what a compute bound alone
        gives); speeds where the band reaches zero are drawn at the bottom of the axis.
    """
    import json

    if "band_lower" not in frontier or "speed" not in frontier.dims:
        raise ConfigError("is not a frontier (no band_lower over speed); compute one with overhang frontier",
                          key="frontier")
    scenarios = None
    axes = [d for d in frontier["median"].dims if d != "speed"]
    if axes:  # several scenarios: the bands of the pooled mixture (else the first), a median line for each
        scenarios = frontier["median"].stack(cell=axes)
        names = [n for n in frontier.data_vars if n.startswith("pooled_")]
        frontier = (frontier[names].rename({n: n.removeprefix("pooled_") for n in names}) if names
                    else frontier.isel({d: 0 for d in axes})).assign_attrs(frontier.attrs)
    marks = json.loads(frontier.attrs.get("marks", "[]")) if marks is None else list(marks)
    speed, median = frontier["speed"].values, frontier["median"].values
    positive = np.concatenate([v[v > 0] for v in (median, frontier["band_lower"].values.ravel(),
                                                  frontier["band_upper"].values.ravel())])
    if positive.size == 0:
        raise ConfigError("every draw gives 0 at every speed: nothing to draw on a log axis", key="frontier")
    bottom = positive.min() / 3
    fig = _figure(7.5, 4.8)
    ax = fig.add_subplot()
    for k, mass in enumerate(frontier["interval"].values[::-1]):
        lower = frontier["band_lower"].sel(interval=mass).values
        upper = frontier["band_upper"].sel(interval=mass).values
        ax.fill_between(speed, np.maximum(lower, bottom), np.maximum(upper, bottom), color=PALETTE["sky"],
                        alpha=0.25 + 0.2 * k, lw=0, gid=f"interval-{mass:g}", label=_mass_label(mass))
    ax.plot(speed, np.where(median > 0, median, np.nan), "o-", color=PALETTE["blue"], lw=1.8, gid="median",
            label="median" if scenarios is None else "median, pooled")
    for i, (color, style) in zip(range(0 if scenarios is None else scenarios.sizes["cell"]),
                                 itertools.cycle(_REFERENCE_STYLES)):
        line = scenarios.isel(cell=i)
        label = ", ".join(str(line[d].item()) for d in axes)
        ax.plot(speed, np.where(line.values > 0, line.values, np.nan), color=PALETTE[color], ls=style, lw=1.2,
                gid="scenario-median", label=f"median, {label}")
    first = np.flatnonzero(median > 0)
    if first.size:
        i = first[0]
        ax.plot(speed, median[i] * speed[i] / speed, color=PALETTE["black"], ls="--", lw=1, gid="inverse-speed",
                label="proportional to 1/speed")
    for mark, (color, _) in zip(marks, itertools.cycle(_REFERENCE_STYLES)):
        ax.plot([mark["speed"]], [mark["instances"]], "D", color=PALETTE[color], ms=7, gid="mark",
                label=f"{mark.get('label') or 'published'}: {mark['instances']:.2g}")
    ax.set_ylim(bottom, max([positive.max(), *(m["instances"] for m in marks)]) * 2)
    output = frontier.attrs.get("output", "instances")
    ax.set_xlabel(_label("required_tokens_per_s", frontier["speed"].attrs.get("units", "token/s")))
    ax.set_ylabel(_label(output, frontier["median"].attrs.get("units", ""), frontier))
    _log(ax, "x")
    _log(ax, "y")
    ax.set_title(f"{output} against the required speed ({frontier.attrs.get('samples', '?')} draws, "
                 "the same at every speed)")
    fig.legend(loc="outside lower center", ncols=2, fontsize="small", frameon=False)
    return fig


def save_figure(fig: Figure, path: str | Path, format: str | None = None) -> Path:
    """Write `fig` as png, svg or pdf, the format from `format` or else the suffix of `path`.

    Returns
    -------
    pathlib.Path
        The file written.
    """
    path = Path(path)
    fmt = (format or path.suffix.lstrip(".")).lower()
    if fmt not in FORMATS:
        raise ConfigError(f"cannot save a figure as {fmt or 'a file without a suffix'!r}; use png, svg or "
                          "pdf", file=str(path), key="format")
    try:
        fig.savefig(path, format=fmt, dpi=150)
    except OSError as error:
        raise StorageError(f"cannot write the figure: {error.strerror or error}", file=str(path)) from None
    return path
