"""One self-contained HTML report: tables, figures (embedded PNG), priors and provenance.

:func:`report_html` turns results that already exist into a page; nothing here
samples. The page needs no network: styles are inline and figures are base64 PNGs.
Nothing is wider than the page: tables scroll inside their own container and images
shrink to its width.

An estimate indistinguishable from zero is written "≈ 0": a Monte Carlo estimate
whose absolute value is at most :data:`ZERO_MCSE` (2) standard errors (an exact 0
from sampling included: it only says the probability is below about 1/samples), and a
sensitivity index whose interval contains 0.
"""

from __future__ import annotations

import base64
import html
import io
import itertools
import json
import math

import numpy as np
import xarray as xr

from .distributions import describe, implied
from .errors import ConfigError, OverhangError
from .summaries import main_output
from .tables import format_value, is_binary, spread, summary_part

__all__ = ["MAX_DISTRIBUTIONS", "ZERO_MCSE", "report_html"]

#: An estimate within this many Monte Carlo standard errors of 0 is written "≈ 0".
ZERO_MCSE = 2.0
#: The most scenarios that get a distribution figure (and, from ``overhang report``, a sensitivity
#: analysis) each; of a larger grid, that many evenly spaced from the first to the last, and a note.
MAX_DISTRIBUTIONS = 24

STYLE = """
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1b1b1b;
       max-width: 1100px; margin: 2em auto; padding: 0 1em; background: #fff; }
h1 { font-size: 1.7em; margin-bottom: .2em; } h2 { margin-top: 2em; border-bottom: 1px solid #ddd; }
.lede { font-size: 1.15em; background: #f3f6fa; border-left: 4px solid #0072b2; padding: .8em 1em; }
h1, h2, h3, p, li, figcaption { overflow-wrap: anywhere; }
.scroll { max-width: 100%; overflow-x: auto; }
table { border-collapse: collapse; margin: 1em 0; font-variant-numeric: tabular-nums; }
th, td { padding: .25em .7em; border-bottom: 1px solid #e5e5e5; text-align: right; vertical-align: top; }
th { background: #fafafa; } td.l, th.l { text-align: left; }
td, th { white-space: nowrap; } td.l, th.l { white-space: normal; overflow-wrap: anywhere; }
figure { margin: 1.5em 0; } img { max-width: 100%; height: auto; }
figcaption { color: #555; font-size: .92em; } .note { color: #666; font-size: .92em; }
pre { background: #f7f7f7; padding: 1em; overflow-x: auto; font-size: .85em; }
"""


def _e(text) -> str:
    return html.escape(str(text))


def _drawn(draw, caption: str, kind: str = "", scenario: str = "") -> str:
    """The figure ``draw()`` makes, or a note saying why this result cannot give it."""
    try:
        fig = draw()
    except OverhangError as error:
        return f"<p class=note>{_e(caption)}: not drawn, {_e(error.problem)}.</p>"
    return _figure(fig, caption, kind, scenario)


def _figure(fig, caption: str, kind: str = "", scenario: str = "") -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    attrs = (f' class="{_e(kind)}"' if kind else "") + (f' data-scenario="{_e(scenario)}"' if scenario else "")
    return (f'<figure{attrs}><img alt="{_e(caption)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{_e(caption)}</figcaption></figure>")


def _estimate(value: float, error: float) -> str:
    """`value` rounded to its Monte Carlo error, or "≈ 0" within :data:`ZERO_MCSE` errors of 0."""
    if math.isfinite(value) and math.isfinite(error) and abs(value) <= ZERO_MCSE * error:
        return "≈ 0"
    return format_value(value, error)


def _from_log10(value: float, error: float) -> str:
    """10**`value` rounded to its error (`error` in orders of magnitude: relative error ln(10) x `error`)."""
    if not math.isfinite(value):  # log10 of a share of zeros: no interval on that scale
        return "0" if value == -math.inf else "—"
    linear = 10.0 ** value
    return format_value(linear, linear * math.log(10) * error if math.isfinite(error) else math.nan)


def _index(value: float, lower: float, upper: float) -> str:
    """A sensitivity index with its interval, "≈ 0" when the interval contains 0."""
    if not math.isfinite(value):
        return str(value)
    shown = "≈ 0" if lower <= 0 <= upper else format_value(value, math.nan)
    return f"{shown} [{format_value(lower)}, {format_value(upper)}]"


def _table(head: list[str], rows: list[list[str]], left: int = 1) -> str:
    def cls(j):
        return ' class="l"' if j < left else ""

    out = ['<div class="scroll"><table><thead><tr>', *(f"<th{cls(j)}>{_e(h)}</th>" for j, h in enumerate(head)), "</tr></thead><tbody>"]
    for row in rows:
        out.append("<tr>" + "".join(f"<td{cls(j)}>{_e(c)}</td>" for j, c in enumerate(row)) + "</tr>")
    return "".join(out) + "</tbody></table></div>"


def _cells(summary: xr.Dataset) -> list[dict]:
    """Axis values of every scenario of a summary ([{}] without axes)."""
    dims = [d for d in summary["quantile"].dims if d not in ("output", "scale", "prob")]
    return [{d: v.item() for d, v in zip(dims, combo)}
            for combo in itertools.product(*(summary[d].values for d in dims))]


def _label(cell: dict) -> str:
    return ", ".join(f"{k} = {v}" for k, v in cell.items()) or "—"


def _headline(summary: xr.Dataset, cells: list[dict], main: str) -> str:
    lines = []
    what = "copies" if main == "instances" else f"{main} [{summary['unit'].sel(output=main).item()}]"
    for cell in cells:
        s = summary.sel(cell).sel(output=main, scale="linear")
        mid = float(s["quantile"].sel(prob=0.5)) if 0.5 in s["prob"] else math.nan
        lo, hi = (float(s[f"eti_{k}"].sel(interval=0.9)) for k in ("lower", "upper")) \
            if 0.9 in s["interval"] else (math.nan, math.nan)
        where = f" ({_e(_label(cell))})" if cell else ""
        lines.append(f"<li><b>{mid:.2g}</b> {_e(what)} at the median{where}; 90 % credible interval "
                     f"{lo:.2g} to {hi:.2g}</li>")
    question = "How many copies can the training hardware run at once?" if main == "instances" else \
        f"{_e(summary['long_name'].sel(output=main).item())}:"
    return f'<div class="lede">{question}<ul>{"".join(lines)}</ul></div>'


def _scenario_table(summary: xr.Dataset, cells: list[dict], output: str) -> str:
    """One row per scenario: log10 quantiles of `output` (the main one) and P(output >= t)."""
    probs = [float(p) for p in summary["prob"].values]
    has_prob = "prob_at_least" in summary and summary.sizes.get("threshold", 0)
    thresholds = [float(t) for t in summary["threshold"].values] if has_prob else []
    rows = []
    for cell in cells:
        s = summary.sel(cell)
        o = s.sel(output=output, scale="log10")
        row = [_label(cell), *(format_value(float(v), float(e)) for v, e in
                               zip(o["quantile"].values, o["quantile_mcse"].values))]
        if has_prob:
            row += [_estimate(float(p), float(e)) for p, e in
                    zip(s["prob_at_least"].values, s["prob_at_least_mcse"].values)]
        rows.append(row)
    head = ["scenario", *(f"p{100 * p:g}" for p in probs), *(f"P(≥{t:.0e})" for t in thresholds)]
    return (f"<p class=note>log10({_e(output)}) per scenario (orders of magnitude); digits shown are those "
            "the Monte Carlo error supports.</p>" + _table(head, rows))


def _summary_tables(summary: xr.Dataset, cells: list[dict], main: str) -> str:
    if len(cells) > 1 and main in summary["output"].values:
        return _scenario_table(summary, cells, main)
    out = []
    probs = [float(p) for p in summary["prob"].values]
    for cell in cells:
        s = summary.sel(cell)
        rows = []
        for output in s["output"].values:
            o = s.sel(output=output, scale="log10")
            q, e = o["quantile"].values, o["quantile_mcse"].values
            if np.all(np.isnan(q)):
                continue
            rows.append([str(output), str(o["unit"].item()),
                         *(format_value(float(v), float(err)) for v, err in zip(q, e))])
        if cell:
            out.append(f"<h3>{_e(_label(cell))}</h3>")
        out.append(_table(["output", "unit", *(f"p{100 * p:g}" for p in probs)], rows, left=2))
    return "<p class=note>log10 of each output (orders of magnitude); digits shown are those the " \
           "Monte Carlo error supports.</p>" + "".join(out)


def _per_scenario(sens) -> list[tuple[dict, xr.Dataset]]:
    """`sens` as (axis values, analysis) pairs: a list of pairs as given, or a Dataset split by its extra dims."""
    if sens is None or not isinstance(sens, xr.Dataset):
        return list(sens or [])
    dims = [d for d in sens["estimate"].dims if d not in ("input", "output", "measure")]
    combos = itertools.product(*(sens[d].values for d in dims))
    return [(cell, sens.sel(cell)) for cell in ({d: v.item() for d, v in zip(dims, c)} for c in combos)]


def _tail_section(summary: xr.Dataset) -> str:
    """Warnings for outputs whose upper tail is so heavy (Pareto k̂ >= 0.5) that their mean misleads; '' if none."""
    from .tails import tail_warning

    if "tail_shape" not in summary:
        return ""
    shapes = summary["tail_shape"]
    notes = []
    for output in summary["output"].values:
        k = shapes.sel(output=output)
        worst = float(k.max()) if k.notnull().any() else math.nan  # the heaviest tail over scenarios
        note = tail_warning(str(output), worst)
        if note:
            notes.append(f"<p class=note><b>{_e(note)}</b> (generalized-Pareto shape of the largest draws, as "
                         "ArviZ's PSIS fits it)</p>")
    return "".join(notes)


def _sensitivity_section(sens, output: str) -> str:
    if sens is None:
        return "<p class=note>Not computed: this report was made from a saved result; " \
               "<code>overhang report EXPERIMENT.toml</code> computes it.</p>"
    pairs = _per_scenario(sens)
    parts = ["<p class=note>95 % intervals in brackets; an index whose interval contains 0 is written ≈ 0 "
             "(indistinguishable from zero).</p>"]
    for cell, one in pairs:
        if cell:
            parts.append(f"<h3>{_e(_label(cell))}</h3>")
        parts.append(_one_sensitivity(one, output, _label(cell) if cell else ""))
    return "".join(parts)


def _one_sensitivity(sens: xr.Dataset, output: str, where: str) -> str:
    from .plotting import plot_sensitivity

    measure = next(m for m in ("sobol_total", "given_data_first", "voi", "tornado")
                   if m in sens["measure"].values)
    if output not in sens["output"].values:  # e.g. log10 of an output with zeros (no instance at that speed)
        skipped = sens.attrs.get("skipped_outputs", "")
        return f"<p class=note>Not computed for {_e(output)}: {_e(skipped or 'the analysis left it out')}.</p>"
    r = sens.sel(output=output)
    order = np.argsort(-np.nan_to_num(np.abs(r["estimate"].sel(measure=measure).values), nan=-1))
    head = ["#", "input", *(str(m) for m in r["measure"].values)]
    rows = []
    for i, k in enumerate(order):
        name = str(r["input"].values[k])
        cells = [_index(float(v), float(lo), float(hi))
                 for v, lo, hi in zip(r["estimate"].isel(input=k).values, r["lower"].isel(input=k).values,
                                      r["upper"].isel(input=k).values)]
        rows.append([str(i + 1), name, *cells])
    note = f"<p class=note>Ranked by {measure}.</p>"
    caption = f"Tornado swings and variance shares of log10({output})" + (f" ({where})" if where else "")
    return note + _table(head, rows, left=2) + _drawn(lambda: plot_sensitivity(sens, output), caption,
                                                       "sensitivity", where)


def _certainty_section(summary: xr.Dataset, cells: list[dict], main: str) -> str:
    """Per scenario: median, 50/90 % HDIs (of log10, shown in the unit) and P(main ≥ t), with their errors."""
    has_prob = "prob_at_least" in summary and summary.sizes.get("threshold", 0)
    thresholds = [float(t) for t in summary["threshold"].values] if has_prob else []
    masses = [float(m) for m in summary["interval"].values] if "hdi_lower" in summary else []
    rows = []
    for cell in cells:
        s = summary.sel(cell)
        linear, log = s.sel(output=main, scale="linear"), s.sel(output=main, scale="log10")
        median = linear.sel(prob=0.5) if 0.5 in linear["prob"] else None
        row = [_label(cell), "—" if median is None else _estimate(float(median["quantile"]),
                                                                   float(median["quantile_mcse"]))]
        for m in masses:
            ends = [_from_log10(float(log[f"hdi_{k}"].sel(interval=m)), float(log[f"hdi_{k}_mcse"].sel(interval=m)))
                    for k in ("lower", "upper")]
            row.append(" – ".join(ends))
        if has_prob:
            row += [_estimate(float(p), float(e)) for p, e in zip(s["prob_at_least"].values,
                                                                  s["prob_at_least_mcse"].values)]
        rows.append(row)
    head = ["scenario", "median", *(f"{100 * m:g} % HDI" for m in masses),
            *(f"P(≥ {t:.0e})" for t in thresholds)]
    return (f"<p class=note>{_e(main)} ({_e(summary['unit'].sel(output=main).item())}): the median, the "
            "highest-density intervals of log10 (the interval to quote for a count spanning orders of "
            "magnitude), shown in the unit, and the probability of at least each threshold, with the digits "
            f"the Monte Carlo error supports; ≈ 0 is within {ZERO_MCSE:g} standard errors of zero.</p>"
            + _table(head, rows))


def _distributions(result: xr.Dataset, cells: list[dict], main: str) -> str:
    """One distribution figure per scenario (up to :data:`MAX_DISTRIBUTIONS`) and the exceedance curves."""
    from .distribution_figures import plot_exceedance
    from .plotting import plot_distribution

    parts = [_drawn(lambda cell=cell: plot_distribution(result, main, scenario=cell or None),
                    f"Distribution of {main}" + (f" ({_label(cell)})" if cell else ""),
                    "distribution", _label(cell) if cell else "")
             for cell in spread(cells, MAX_DISTRIBUTIONS)]
    if len(cells) > MAX_DISTRIBUTIONS:
        parts.append(f"<p class=note>Distribution figures of {MAX_DISTRIBUTIONS} of the {len(cells)} "
                     "scenarios, evenly spaced from the first to the last; <code>overhang plot</code> draws any "
                     "other.</p>")
    parts.append(_drawn(lambda: plot_exceedance(result, main), f"P({main} ≥ x) per scenario, ±2 Monte Carlo "
                        "standard errors", "exceedance"))
    return "".join(parts)


def _priors_section(scenarios) -> str:
    if scenarios is None:
        return "<p class=note>The priors could not be read back (their files have moved).</p>"
    experiment = scenarios.base
    rows = []
    for name, prior in sorted(experiment.priors.items()):
        stats = implied(prior.dist)
        rows.append([name, prior.unit, describe(prior.dist),
                     *(format_value(stats[k]) for k in ("p01", "p50", "p99", "mean")), prior.source])
    note = "<p class=note>The first scenario's priors; each scenario's are in the provenance.</p>" \
        if scenarios.dims else ""
    return note + _table(["input", "unit", "prior", "p01", "p50", "p99", "mean", "source"], rows, left=3)


def _provenance(result: xr.Dataset) -> str:
    keep = {k: v for k, v in result.attrs.items() if k != "experiment_text"}
    rows = [[k, v if isinstance(v, str) else json.dumps(v, default=str)] for k, v in keep.items()]
    text = result.attrs.get("experiment_text", "")
    return _table(["attribute", "value"], rows, left=2) + (f"<pre>{_e(text)}</pre>" if text else "")


def _shares_section(summary: xr.Dataset, main: str) -> str:
    """P(indicator = 1) for the 0/1 outputs (which bound binds) and P(main = 0), with their errors; '' if none."""
    if "binary" not in summary or "prob_zero" not in summary:
        return ""
    rows = []
    flat = summary.isel({d: 0 for d in summary["prob_zero"].dims if d != "output"})  # the first scenario
    for output in flat["output"].values:
        s = flat.sel(output=output)
        p, e = float(s["prob_zero"]), float(s["prob_zero_mcse"])
        if is_binary(s):
            rows.append([f"P({output} = 1)", _estimate(1 - p, e), f"{e:.1g}", str(s["long_name"].item())])
        elif output == main and p > 0:
            rows.append([f"P({output} = 0)", _estimate(p, e), f"{e:.1g}", "no instance meets the required speed"])
    if not rows:
        return ""
    return ("<h2>Shares of draws</h2><p class=note>Means of 0/1 outputs (e.g. which roofline bound binds) and the "
            "share of zero instances, with Monte Carlo standard errors between chains.</p>"
            + _table(["", "probability", "s.e.", "meaning"], rows, left=1))


def _frontier_section(frontier: xr.Dataset | None) -> str:
    if frontier is None:
        return ""
    from .plotting import plot_frontier

    output = frontier.attrs.get("output", "instances")
    head = ["required speed (tokens/s)", "median", *(f"{100 * m:g} % band" for m in frontier["interval"].values),
            f"P({output} = 0)"]
    tables = "".join((f"<h3>{_e(label)}</h3>" if label else "") + _table(head, _frontier_rows(one), left=0)
                     for label, one in _frontier_blocks(frontier))
    return ("<h2>Copies against speed</h2><p class=note>The same draws at every speed: only the required speed "
            "changes.</p>" + tables
            + _drawn(lambda: plot_frontier(frontier), f"{output} against the required speed per stream"))


def _frontier_blocks(frontier: xr.Dataset) -> list[tuple[str, xr.Dataset]]:
    """``(label, frontier over speed alone)``: the one frontier, or each scenario's and then the pooled one."""
    axes = [d for d in frontier["median"].dims if d != "speed"]
    if not axes:
        return [("", frontier)]
    per = frontier[[n for n in frontier.data_vars if not n.startswith("pooled_")]].stack(cell=axes)
    blocks = []
    for i in range(per.sizes["cell"]):
        cell = per.isel(cell=i)
        blocks.append((", ".join(f"{d} = {cell[d].item()}" for d in axes),
                       cell.drop_vars(["cell", *axes], errors="ignore")))
    names = [n for n in frontier.data_vars if n.startswith("pooled_")]
    if names:
        weights = ", ".join(f"{w:g}" for w in json.loads(frontier.attrs.get("weights", "[]")))
        blocks.append((f"pooled over {frontier.attrs.get('weighted_axis')} (weights {weights})",
                       frontier[names].rename({n: n.removeprefix("pooled_") for n in names})))
    return blocks


def _frontier_rows(frontier: xr.Dataset) -> list[list[str]]:
    """One table row per speed of a frontier over speed alone."""
    return [[f"{v:.4g}", format_value(float(f["median"]), float(f["median_mcse"])),
             *(f"{format_value(float(f['band_lower'].sel(interval=m)))} - "
               f"{format_value(float(f['band_upper'].sel(interval=m)))}" for m in frontier["interval"].values),
             format_value(float(f["prob_zero"]))]
            for v, f in ((float(v), frontier.isel(speed=i)) for i, v in enumerate(frontier["speed"].values))]


def report_html(result: xr.Dataset, *, sensitivity: xr.Dataset | None = None, scenarios=None,
                frontier: xr.Dataset | None = None) -> str:
    """The report page for a run `result` (from :func:`overhang_sim.batch.run`).

    Parameters
    ----------
    result : xarray.Dataset
        A run with summary variables (and samples, for the distribution and
        convergence figures).
    sensitivity : xarray.Dataset or sequence of (dict, xarray.Dataset), optional
        From :func:`overhang_sim.sensitivity_analysis.sensitivity`: one Dataset (split by any
        scenario dims it has) or one ``(axis values, Dataset)`` pair per scenario; every
        scenario's ranking is shown. Its section says why it is missing otherwise.
    scenarios : ScenarioSet, optional
        The experiment behind `result`, for the priors and their sources.
    frontier : xarray.Dataset, optional
        From :func:`overhang_sim.frontier.scenario_frontier` (or :func:`~overhang_sim.frontier.frontier`):
        a section with a table per scenario (and the pooled one) and the figure.

    Returns
    -------
    str
        A complete HTML document.
    """
    from .plotting import plot_convergence, plot_scenarios

    summary = summary_part(result)
    if "estimate" in result.data_vars:
        raise ConfigError("is a sensitivity result; a report is made from a run (overhang run --out FILE) or "
                          "an experiment file", key="result")
    if "quantile" not in summary:
        raise ConfigError("has no summary variables (quantile, eti_*); give a result saved by overhang run",
                          key="result")
    main = main_output(result)
    cells = _cells(summary)
    name = result.attrs.get("experiment_name", "overhang-sim run")
    a = result.attrs
    parts = [f"<h1>{_e(name)}</h1>",
             (f"<p class=note>{_e(a.get('samples', '?'))} samples in {_e(a.get('chains', '?'))} chains per "
              f"scenario, method {_e(a.get('method', '?'))}, seed {_e(a.get('seed', '?'))}; "
              f"overhang-sim {_e(a.get('overhang_sim_version', ''))}</p>")]
    if main in summary["output"].values:
        parts.append(_headline(summary, cells, main))
    has_samples = main in result.data_vars and "draw" in result[main].dims
    if main in summary["output"].values:
        parts += ["<h2>How sure</h2>", _certainty_section(summary, cells, main)]
    if has_samples:
        parts += ["<h2>Distributions</h2>", _distributions(result, cells, main)]
    parts += ["<h2>Summary</h2>", _summary_tables(summary, cells, main), _tail_section(summary),
              _shares_section(summary, main),
              _frontier_section(frontier)]
    if len(cells) > 1:
        parts += ["<h2>Scenario comparison</h2>",
                  _drawn(lambda: plot_scenarios(result, main), "Median, 50 % and 90 % intervals per scenario")]
    parts += ["<h2>Which assumption matters</h2>", _sensitivity_section(sensitivity, main)]
    if has_samples and result.sizes.get("chain", 1) > 1 and len(cells) == 1:
        parts += ["<h2>Convergence</h2>", _drawn(lambda: plot_convergence(result, main),
                                                  "Quantile estimates and their Monte Carlo error")]
    parts += ["<h2>Priors and their sources</h2>", _priors_section(scenarios),
              "<h2>Provenance</h2>", _provenance(result)]
    return ("<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8>"
            f"<meta name=viewport content='width=device-width, initial-scale=1'><title>{_e(name)}</title>"
            f"<style>{STYLE}</style></head><body>{''.join(parts)}</body></html>\n")
