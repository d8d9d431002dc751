"""Figures: labels with units, log axes as powers of ten, the right number of elements, clear errors."""

from __future__ import annotations

import dataclasses
import itertools
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.ticker import LogFormatterMathtext
from strategies import SWEEP

from overhang_sim import batch, load_experiment, sensitivity, simulate, summarize
from overhang_sim.errors import ConfigError
from overhang_sim.plotting import (
    MAX_FOREST_ROWS,
    REFERENCES,
    plot_convergence,
    plot_distribution,
    plot_scenarios,
    plot_sensitivity,
    save_figure,
)
from overhang_sim.scenarios import load_scenarios

ROOT = Path(__file__).resolve().parents[1]
CELL = {"required_tokens_per_s": 30, "year": 2026}


@pytest.fixture(scope="module")
def sweep_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("plotting") / "sweep.toml"
    path.write_text(SWEEP, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def sweep(sweep_file):
    return batch.run(load_scenarios(sweep_file))


@pytest.fixture(scope="module")
def streamed(sweep_file):
    return batch.run(load_scenarios(sweep_file), keep_samples=False)


@pytest.fixture(scope="module")
def baseline():
    return dataclasses.replace(load_experiment(ROOT / "experiments" / "baseline.toml"), samples=4000, chains=4)


@pytest.fixture(scope="module")
def run(baseline):
    """A plain run: samples only, dims (chain, draw)."""
    return simulate(baseline, seed=3)


@pytest.fixture(scope="module")
def sens(baseline):
    """Independent inputs: every measure, Sobol' included."""
    return sensitivity(dataclasses.replace(baseline, correlations=()), seed=1, sobol_samples=256)


@pytest.fixture(scope="module")
def sens_correlated(baseline):
    """The baseline correlates two utilizations: no Sobol', given-data indices instead."""
    return sensitivity(baseline, seed=1)


def is_powers_of_ten(axis):
    return isinstance(axis.get_major_formatter(), LogFormatterMathtext)


def texts(fig):
    """Every visible tick label, axis label, title and legend text, drawn with Agg."""
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    found = [t for t in fig.legends for t in t.get_texts()]
    for ax in fig.axes:
        found += [ax.title, ax.xaxis.label, ax.yaxis.label, *(t for leg in [ax.get_legend()] if leg
                                                            for t in leg.get_texts())]
        for axis, limits in ((ax.xaxis, ax.get_xlim()), (ax.yaxis, ax.get_ylim())):
            if not axis.get_visible():
                continue
            low, high = sorted(limits)
            index = 0 if axis is ax.xaxis else 1
            found += [t for t in axis.get_ticklabels()
                      if low - 1e-9 * abs(low) <= t.get_position()[index] <= high + 1e-9 * abs(high)]
    found = [t for t in found if t.get_visible() and t.get_text()]
    return [(t.get_text(), t.get_window_extent(canvas.get_renderer())) for t in found], fig.bbox


def reference_lines(ax):
    return [line for line in ax.lines if line.get_gid() == "reference"]


# --------------------------------------------------------------------------- distribution


def test_references_are_the_design_tables_instance_counts():
    assert sorted(REFERENCES.values()) == [4.6e5, 6.2e5, 1.2e6, 1.6e6]


def test_distribution_of_a_plain_run(run):
    fig = plot_distribution(run)
    ax, twin = fig.axes
    assert ax.get_xscale() == "log" and is_powers_of_ten(ax.xaxis)
    assert ax.get_xlabel() == "concurrent copies" and ax.get_ylabel() == "density per order of magnitude"
    assert "cumulative probability" == twin.get_ylabel()
    low, high = ax.get_xlim()
    inside = [v for v in REFERENCES.values() if low <= v <= high]
    assert inside and sorted(line.get_xdata()[0] for line in reference_lines(ax)) == sorted(inside)
    assert len([line for line in ax.lines if line.get_gid() == "median"]) == 1
    assert {p.get_gid() for p in ax.patches} >= {"interval-0.5", "interval-0.9"}
    assert [line.get_gid() for line in twin.lines] == ["cdf"]


def test_distribution_intervals_come_from_the_summary(run):
    summary = summarize(run)
    fig = plot_distribution(run.merge(summary))
    span = next(p for p in fig.axes[0].patches if p.get_gid() == "interval-0.9")
    expected = summary["eti_lower"].sel(output="instances", scale="linear", interval=0.9)
    np.testing.assert_allclose(span.get_x(), float(expected), rtol=1e-12)


def test_distribution_draws_only_references_in_range(run):
    fig = plot_distribution(run, references={"far away": 1e30, "inside": float(run["instances"].median())})
    assert [line.get_label() for line in reference_lines(fig.axes[0])] == [
        f"inside: {float(run['instances'].median()):.2g}"]
    # the default references are instance counts: not drawn on another output
    assert reference_lines(plot_distribution(run, "cluster_tokens_per_s").axes[0]) == []


def test_distribution_of_one_scenario(sweep):
    fig = plot_distribution(sweep, scenario=CELL)
    assert "required speed per copy = 30 tokens/s" in fig.axes[0].get_title()
    span = next(p for p in fig.axes[0].patches if p.get_gid() == "interval-0.5")
    expected = sweep["eti_upper"].sel(CELL).sel(output="instances", scale="linear", interval=0.5)
    np.testing.assert_allclose(span.get_x() + span.get_width(), float(expected), rtol=1e-12)


@pytest.mark.parametrize(("scenario", "key"), [
    (None, "scenario"),
    ({"required_tokens_per_s": 30}, "year"),
    ({"required_tokens_per_s": 31, "year": 2026}, "required_tokens_per_s"),
    ({**CELL, "yeer": 2024}, "yeer"),
])
def test_distribution_needs_one_scenario(sweep, scenario, key):
    with pytest.raises(ConfigError) as error:
        plot_distribution(sweep, scenario=scenario)
    assert error.value.key == key and "\n" not in str(error.value)


def test_an_axis_with_one_value_needs_no_choosing(sweep):
    one = sweep.sel(required_tokens_per_s=[30], year=[2026])
    assert "year = 2026" in plot_distribution(one).axes[0].get_title()
    assert "year = 2026" in plot_convergence(one).axes[0].get_title()
    with pytest.raises(ConfigError) as error:
        plot_distribution(sweep.sel(year=[2026]), scenario={"year": 2024})
    assert error.value.key == "year"


def test_distribution_of_a_streamed_result_names_the_samples(streamed):
    with pytest.raises(ConfigError, match=r"no samples of 'instances' \(it was streamed\)") as error:
        plot_distribution(streamed, scenario=CELL)
    assert error.value.key == "instances"


def test_distribution_of_an_unknown_output(run):
    with pytest.raises(ConfigError, match="did you mean 'instances'") as error:
        plot_distribution(run, "instance")
    assert error.value.key == "instance"


# --------------------------------------------------------------------------- sensitivity


def test_sensitivity_tornado_and_sobol(sens):
    fig = plot_sensitivity(sens)
    tornado, sobol = fig.axes
    ranked = int(np.isfinite(sens["rank"].sel(output="instances", measure="tornado")).sum())
    bars = [p for p in tornado.patches if p.get_gid() == "tornado"]
    assert len(bars) == 2 * ranked and len(tornado.get_yticklabels()) == ranked
    assert tornado.get_xscale() == "log" and is_powers_of_ten(tornado.xaxis)
    assert tornado.get_xlabel() == "concurrent copies"
    # sorted by swing, largest on top
    swing = (sens["tornado_at_p95"] - sens["tornado_at_p05"]).sel(output="instances")
    assert tornado.get_yticklabels()[-1].get_text() == str(swing["input"].values[np.argmax(np.abs(swing.values))])
    index_bars = [p for p in sobol.patches if p.get_gid() == "index"]
    ranked = int(np.isfinite(sens["rank"].sel(output="instances", measure="sobol_total")).sum())
    assert len(index_bars) == 2 * ranked
    assert all(p.get_width() >= 0 for p in index_bars)  # estimates below 0 at 0
    assert "Sobol" in sobol.get_title() and sobol.get_xlabel() == "variance share of log10(concurrent copies)"


def test_sensitivity_falls_back_to_given_data(sens_correlated):
    assert "sobol_first" not in sens_correlated["measure"].values
    sobol = plot_sensitivity(sens_correlated).axes[1]
    assert "given data" in sobol.get_title()
    assert len([p for p in sobol.patches if p.get_gid() == "index"]) == sens_correlated.sizes["input"]


def test_sensitivity_without_a_measure_says_so(sens):
    fig = plot_sensitivity(sens.sel(measure=["tornado"]))
    assert "not computed" in fig.axes[1].texts[0].get_text()


@pytest.mark.parametrize(("select", "key"), [
    (lambda s: s.sel(measure=["spearman", "voi"]), "measure"),
    (lambda s: s.drop_vars("estimate"), "estimate"),
])
def test_sensitivity_lacking_measures_is_an_error(sens, select, key):
    with pytest.raises(ConfigError) as error:
        plot_sensitivity(select(sens))
    assert error.value.key == key


# --------------------------------------------------------------------------- scenarios


@pytest.mark.parametrize("which", ["sweep", "streamed"])
def test_scenarios_forest_and_trend(which, request):
    result = request.getfixturevalue(which)
    fig = plot_scenarios(result)
    forest, trend = fig.axes
    rows = [line for line in forest.lines if line.get_gid() == "forest-row"]
    assert len(rows) == 1 and len(rows[0].get_xdata()) == 6 and len(forest.get_yticklabels()) == 6
    assert forest.get_yticklabels()[0].get_text() == "required speed per copy = 10 tokens/s, year = 2024"
    assert forest.get_xscale() == "log" and is_powers_of_ten(forest.xaxis)
    assert forest.get_xlabel() == "concurrent copies"
    assert trend.get_xlabel() == "required speed per copy (tokens/s)"  # the first numeric axis
    assert trend.get_yscale() == "log" and is_powers_of_ten(trend.yaxis) and trend.get_ylabel() == "concurrent copies"
    lines = [line for line in trend.lines if line.get_gid() == "median"]
    assert len(lines) == 2  # one per year
    expected = result["quantile"].sel(year=2024, output="instances", scale="linear", prob=0.5)
    np.testing.assert_allclose(lines[0].get_ydata(), expected.values)


LONG = 2 * MAX_FOREST_ROWS + 17  # scenarios of the long sweep


@pytest.fixture(scope="module")
def long_sweep(tmp_path_factory):
    """One axis of LONG required speeds from 10 to 50 token/s (most of them not round), samples kept."""
    path = tmp_path_factory.mktemp("long") / "long.toml"
    path.write_text(f'''name = "long"
model = "throughput"
priors = ["{(ROOT / "priors" / "baseline.toml").as_posix()}"]
samples = 160

[[axes]]
name = "required_tokens_per_s"
values = {[float(v) for v in np.linspace(10, 50, LONG)]}
''', encoding="utf-8")
    return batch.run(load_scenarios(path), quiet=True)


def test_a_long_sweep_draws_max_forest_rows_spread_over_its_range(long_sweep):
    """Of more than MAX_FOREST_ROWS scenarios, the forest draws that many, the first and the last among them and
    evenly spaced, each at its own scenario's median, in a figure that no longer grows with the grid (it was
    0.32 in a row: 320 in for 1,000 scenarios); the trend keeps every scenario."""
    values, result = LONG, long_sweep
    fig = plot_scenarios(result)
    forest, trend = fig.axes
    picked = np.linspace(0, values - 1, MAX_FOREST_ROWS).round().astype(int)
    medians = result["quantile"].sel(output="instances", scale="linear", prob=0.5).values
    (row,) = [line for line in forest.lines if line.get_gid() == "forest-row"]
    np.testing.assert_array_equal(row.get_xdata(), medians[picked])
    ticks = [t.get_text() for t in forest.get_yticklabels()]
    assert len(ticks) == MAX_FOREST_ROWS
    assert ticks[0].endswith("= 10 tokens/s") and ticks[-1].endswith("= 50 tokens/s")
    assert forest.get_title().endswith(f"({MAX_FOREST_ROWS} of {values}, evenly spaced)")
    assert ticks[1] == f"required speed per copy = {result['required_tokens_per_s'].values[picked[1]]:.4g} tokens/s"
    assert fig.get_size_inches()[1] <= 0.32 * MAX_FOREST_ROWS + 1.6 + 1e-9
    (line,) = [ln for ln in trend.lines if ln.get_gid() == "median"]
    np.testing.assert_array_equal(line.get_ydata(), medians)
    assert line.get_marker() == "None"  # 97 dots would merge into a thick line


def test_scenarios_along_another_axis(sweep):
    trend = plot_scenarios(sweep, axis="year").axes[1]
    assert trend.get_xlabel() == "year" and len([ln for ln in trend.lines if ln.get_gid() == "median"]) == 3


def test_scenarios_with_no_numeric_axis_have_one_panel(sweep):
    named = sweep.assign_coords(year=["low", "high"], required_tokens_per_s=["a", "b", "c"])
    assert len(plot_scenarios(named).axes) == 1
    with pytest.raises(ConfigError, match="not numeric") as error:
        plot_scenarios(named, axis="year")
    assert error.value.key == "axis"


@pytest.mark.parametrize(("which", "key"), [("run", "axes"), ("summary", "axes"), ("sweep", "axis")])
def test_scenarios_errors(which, key, run, sweep):
    result = {"run": run, "summary": summarize(run), "sweep": sweep}[which]
    with pytest.raises(ConfigError, match="no scenario ax") as error:
        plot_scenarios(result, axis="yeer" if which == "sweep" else None)
    assert error.value.key == key


# --------------------------------------------------------------------------- convergence


def test_convergence(run):
    fig = plot_convergence(run, probs=(0.1, 0.5, 0.9))
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and is_powers_of_ten(ax.xaxis)
    assert ax.get_xlabel().startswith("samples used") and ax.get_ylabel() == "log10 of concurrent copies"
    lines = [line for line in ax.lines if line.get_gid() == "quantile"]
    assert len(lines) == 3 and len([c for c in ax.collections if c.get_gid() == "mcse-band"]) == 3
    x = lines[0].get_xdata()
    assert x[-1] == run.sizes["chain"] * run.sizes["draw"] and np.all(np.diff(x) > 0)
    logs = np.log10(run["instances"].values)
    np.testing.assert_allclose([line.get_ydata()[-1] for line in lines], np.quantile(logs, [0.1, 0.5, 0.9]))


def test_convergence_of_one_scenario(sweep):
    assert "year = 2026" in plot_convergence(sweep, scenario=CELL).axes[0].get_title()


@pytest.mark.parametrize(("which", "key", "message"), [
    ("streamed", "instances", "it was streamed"),
    ("one_chain", "chain", "at least 2"),
])
def test_convergence_errors(which, key, message, streamed, run):
    result = {"streamed": streamed, "one_chain": run.isel(chain=[0])}[which]
    with pytest.raises(ConfigError, match=message) as error:
        plot_convergence(result, scenario=CELL if which == "streamed" else None)
    assert error.value.key == key


# --------------------------------------------------------------------------- files and layout


@pytest.mark.parametrize("suffix", ["png", "svg", "pdf"])
def test_save_figure_writes_each_format(suffix, run, tmp_path):
    path = save_figure(plot_convergence(run), tmp_path / f"figure.{suffix}")
    assert path == tmp_path / f"figure.{suffix}" and path.stat().st_size > 1000
    magic = {"png": b"\x89PNG", "svg": b"<?xml", "pdf": b"%PDF"}[suffix]
    assert path.read_bytes().startswith(magic)


def test_save_figure_format_argument_and_refusal(run, tmp_path):
    fig = plot_convergence(run)
    assert save_figure(fig, tmp_path / "figure", format="svg").read_bytes().startswith(b"<?xml")
    with pytest.raises(ConfigError, match="'jpg'.*png, svg or pdf") as error:
        save_figure(fig, tmp_path / "figure.jpg")
    assert error.value.key == "format" and not (tmp_path / "figure.jpg").exists()


@pytest.mark.parametrize("figure", ["distribution", "sensitivity", "given_data", "scenarios", "convergence",
                                    "distributions", "exceedance", "long_scenarios", "long_exceedance"])
def test_no_text_overlaps_or_leaves_the_figure(figure, run, sens, sens_correlated, sweep, long_sweep):
    from overhang_sim.distribution_figures import plot_distributions, plot_exceedance

    fig = {
        "distributions": lambda: plot_distributions(sweep),
        "exceedance": lambda: plot_exceedance(sweep),
        "distribution": lambda: plot_distribution(sweep, scenario=CELL),
        "sensitivity": lambda: plot_sensitivity(sens),
        "given_data": lambda: plot_sensitivity(sens_correlated),
        "scenarios": lambda: plot_scenarios(sweep),
        "convergence": lambda: plot_convergence(run),
        "long_scenarios": lambda: plot_scenarios(long_sweep),
        "long_exceedance": lambda: plot_exceedance(long_sweep),
    }[figure]()
    boxes, page = texts(fig)
    assert len(boxes) > 10
    for text, box in boxes:
        assert page.x0 - 1 <= box.x0 and box.x1 <= page.x1 + 1, f"{text!r} leaves the figure"
        assert page.y0 - 1 <= box.y0 and box.y1 <= page.y1 + 1, f"{text!r} leaves the figure"
    for (a, box_a), (b, box_b) in itertools.combinations(boxes, 2):
        overlap_x = min(box_a.x1, box_b.x1) - max(box_a.x0, box_b.x0)
        overlap_y = min(box_a.y1, box_b.y1) - max(box_a.y0, box_b.y0)
        assert overlap_x <= 0.5 or overlap_y <= 0.5, f"{a!r} overlaps {b!r}"


def test_plotting_never_imports_pyplot():
    code = "import sys, overhang_sim.plotting; sys.exit('matplotlib.pyplot' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
