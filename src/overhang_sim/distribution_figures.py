"""Figures of an output's distribution in every scenario: small multiples and exceedance curves.

:func:`plot_distributions` draws one panel per scenario on a shared log axis (the
figure a paper shows when it compares assumptions); :func:`plot_exceedance` draws
P(output ≥ x) for every scenario with its Monte Carlo error band. Both follow
:mod:`overhang_sim.plotting`: matplotlib's object API only, the Okabe & Ito palette,
human labels (:mod:`overhang_sim.labels`), and every line explained in the legend.
Artists carry a ``gid``: ``"scenario-distribution"`` (one histogram per panel),
``"median"``, ``"interval-0.9"``, ``"reference"``, ``"exceedance"``, ``"mcse-band"``.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping

import numpy as np
import xarray as xr
from matplotlib.figure import Figure

from .errors import ConfigError
from .labels import quantity_label
from .plotting import (PALETTE, REFERENCES, SAMPLE_DIMS, _COLORS, _REFERENCE_STYLES, _cells, _figure, _label,
                       _log, _long_name, _samples, _scenario_text, _unit)
from .summaries import main_output
from .tables import spread

__all__ = ["MAX_CURVES", "MAX_PANELS", "exceedance_curve", "plot_distributions", "plot_exceedance"]

#: The most scenarios :func:`plot_distributions` draws as panels (a taller figure is unreadable); of more,
#: that many evenly spaced from the first to the last.
MAX_PANELS = 24
#: The most scenarios :func:`plot_exceedance` draws, one colour each; of more, that many evenly spaced
#: from the first to the last.
MAX_CURVES = len(_COLORS)


def _scenario_values(result: xr.Dataset, output: str, caller: str,
                     limit: int | None = None) -> tuple[list[tuple[dict, np.ndarray]], int]:
    """(axis values, samples as (chain, draw)) of `output` for every scenario in grid order, or for `limit` of
    them (:func:`~overhang_sim.tables.spread`); and how many scenarios there are."""
    samples = _samples(result, output, caller)
    axes = [d for d in samples.dims if d not in SAMPLE_DIMS]
    cells = _cells(samples, axes) if axes else [{}]
    return [(cell, np.asarray(samples.sel(cell).transpose(*SAMPLE_DIMS).values, dtype=float))
            for cell in (cells if limit is None else spread(cells, limit))], len(cells)


def _references(output: str, references: Mapping[str, float], low: float, high: float) -> list:
    if references is REFERENCES and output != "instances":
        return []
    return [(k, v) for k, v in references.items() if low <= v <= high]


def plot_distributions(result: xr.Dataset, output: str | None = None, *,
                       references: Mapping[str, float] = REFERENCES) -> Figure:
    """One histogram of an output per scenario, stacked on a shared log axis (small multiples).

    Parameters
    ----------
    result : xarray.Dataset
        A run with samples, dims ``(*axes, chain, draw)``.
    output : str
        The output drawn (default: the run's main output).
    references : mapping of str to float
        Labelled values in the output's unit drawn as vertical lines in every panel;
        the default (:data:`~overhang_sim.plotting.REFERENCES`) for ``instances`` only.

    Returns
    -------
    matplotlib.figure.Figure
        One panel per scenario, labelled by its axis values (of more than
        :data:`MAX_PANELS` scenarios, that many evenly spaced from the first to the last;
        the title says so): density per order of magnitude of the output [its unit, log
        axis], its 90 % equal-tailed interval shaded and its median as a solid line; the
        share of draws equal to 0 (not drawable on a log axis) is written in the panel.
    """
    output = output or main_output(result)
    cells, scenarios = _scenario_values(result, output, "plot_distributions", MAX_PANELS)
    positive = np.concatenate([v[np.isfinite(v) & (v > 0)] for _, v in cells])
    if positive.size == 0 or positive.min() == positive.max():
        raise ConfigError(f"{output!r} has no spread of positive finite values to draw on a log axis", key=output)
    low, high = float(positive.min()), float(positive.max())
    edges = np.geomspace(low, high, 41)
    fig = _figure(7.5, 1.2 + 1.25 * len(cells))
    panels = fig.subplots(len(cells), 1, sharex=True, squeeze=False)[:, 0]
    for ax, (cell, values) in zip(panels, cells, strict=True):
        _panel(ax, values.ravel(), edges, _scenario_text(cell, result) or "all draws")
    for (name, value), (color, dash) in zip(_references(output, references, low, high),
                                            itertools.cycle(_REFERENCE_STYLES)):
        for k, ax in enumerate(panels):
            ax.axvline(value, color=PALETTE[color], ls=dash, lw=1.4, gid="reference",
                       label=f"{name}: {value:.2g}" if k == 0 else None)
    panels[-1].set_xlim(low, high)
    _log(panels[-1], "x")
    panels[-1].set_xlabel(_label(output, _unit(result, output), result))
    fig.supylabel("density per order of magnitude", fontsize="medium")
    some = "" if len(cells) == scenarios else f"\n({len(cells)} of {scenarios} scenarios, evenly spaced)"
    fig.suptitle(f"Distribution of {quantity_label(output, _long_name(result, output))} by scenario{some}")
    fig.legend(handles=panels[0].get_legend_handles_labels()[0], loc="outside lower center", ncols=3,
               fontsize="small", frameon=False)
    return fig


def _panel(ax, values: np.ndarray, edges: np.ndarray, title: str) -> None:
    zero_share = float(np.mean(values == 0)) if values.size else 0.0
    values = values[np.isfinite(values) & (values > 0)]
    per_decade = (edges.size - 1) / np.log10(edges[-1] / edges[0]) / max(values.size, 1)
    if values.size:
        lo, hi = np.quantile(values, [0.05, 0.95])
        ax.axvspan(lo, hi, color=PALETTE["sky"], alpha=0.3, lw=0, gid="interval-0.9", label="90 % interval")
        ax.hist(values, bins=edges, weights=np.full(values.size, per_decade), color=PALETTE["blue"], alpha=0.8,
                gid="scenario-distribution", label="samples")
        ax.axvline(float(np.median(values)), color=PALETTE["black"], lw=1.6, gid="median", label="median")
    note = f" (P(= 0) = {zero_share:.2g}, not drawn)" if zero_share > 0 else ""
    ax.set_title(title + note, loc="left", fontsize="small")
    ax.set_yticks([])


def exceedance_curve(samples: np.ndarray, grid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """P(X ≥ x) on `grid` from `samples` (chain, draw), and its Monte Carlo standard error.

    The estimate pools every chain; its standard error is the standard deviation of
    the per-chain estimates over sqrt(chains) (0 with one chain).

    Returns
    -------
    (ndarray, ndarray)
        Exceedance probability [1] and its standard error [1], each of shape ``grid.shape``.
    """
    samples = np.atleast_2d(samples)
    ordered = np.sort(samples, axis=1)
    at_least = samples.shape[1] - np.stack([np.searchsorted(row, grid, side="left") for row in ordered])
    per_chain = at_least / samples.shape[1]
    chains = samples.shape[0]
    mcse = per_chain.std(axis=0, ddof=1) / np.sqrt(chains) if chains > 1 else np.zeros(grid.shape)
    return per_chain.mean(axis=0), mcse


def plot_exceedance(result: xr.Dataset, output: str | None = None, *,
                    references: Mapping[str, float] = REFERENCES) -> Figure:
    """P(output ≥ x) against x for every scenario, with ±2 Monte Carlo standard error bands.

    Parameters
    ----------
    result : xarray.Dataset
        A run with samples, dims ``(*axes, chain, draw)``.
    output : str
        The output drawn (default: the run's main output).
    references : mapping of str to float
        Labelled values in the output's unit drawn as vertical lines (the default for
        ``instances`` only).

    Returns
    -------
    matplotlib.figure.Figure
        Exceedance probability [0 to 1] against the output [its unit, log axis], one
        colour per scenario (of more than :data:`MAX_CURVES`, that many evenly spaced from
        the first to the last; the title says so); the band is ±2 MCSE, the spread between
        chains.
    """
    output = output or main_output(result)
    cells, scenarios = _scenario_values(result, output, "plot_exceedance", MAX_CURVES)
    positive = np.concatenate([v[np.isfinite(v) & (v > 0)] for _, v in cells])
    if positive.size == 0 or positive.min() == positive.max():
        raise ConfigError(f"{output!r} has no spread of positive finite values to draw on a log axis", key=output)
    grid = np.geomspace(positive.min(), positive.max(), 256)
    fig = _figure(7.5, 4.8)
    ax = fig.add_subplot()
    for k, ((cell, values), color) in enumerate(zip(cells, itertools.cycle(_COLORS))):
        p, mcse = exceedance_curve(values, grid)
        ax.fill_between(grid, np.clip(p - 2 * mcse, 0, 1), np.clip(p + 2 * mcse, 0, 1), color=color, alpha=0.3,
                        lw=0, gid="mcse-band", label="±2 Monte Carlo s.e. (between chains)" if k == 0 else None)
        ax.plot(grid, p, color=color, lw=1.6, gid="exceedance", label=_scenario_text(cell, result) or "P(≥ x)")
    for (name, value), (color, dash) in zip(_references(output, references, grid[0], grid[-1]),
                                            itertools.cycle(_REFERENCE_STYLES)):
        ax.axvline(value, color=PALETTE[color], ls=dash, lw=1.4, gid="reference", label=f"{name}: {value:.2g}")
    ax.set_xlim(grid[0], grid[-1])
    ax.set_ylim(0, 1.02)
    _log(ax, "x")
    name = quantity_label(output, _long_name(result, output))
    ax.set_xlabel(_label(output, _unit(result, output), result) + " x")
    ax.set_ylabel(f"P({name} ≥ x)")
    some = "" if len(cells) == scenarios else f"\n({len(cells)} of {scenarios} scenarios, evenly spaced)"
    ax.set_title(f"Probability of at least x {name}{some}")
    fig.legend(loc="outside lower center", ncols=2, fontsize="small", frameon=False)
    return fig
