"""Figures for papers: human labels, a distribution per scenario, exceedance curves with their band."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from strategies import SWEEP

from overhang_sim import batch
from overhang_sim.distribution_figures import (MAX_CURVES, MAX_PANELS, exceedance_curve, plot_distributions,
                                               plot_exceedance)
from overhang_sim.labels import LABELS, axis_label, human_unit
from overhang_sim.plotting import REFERENCES, plot_convergence, plot_distribution, plot_scenarios
from overhang_sim.scenarios import load_scenarios


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    path = tmp_path_factory.mktemp("figures") / "sweep.toml"
    path.write_text(SWEEP, encoding="utf-8")
    return batch.run(load_scenarios(path))


@pytest.mark.parametrize(("unit", "written"), [
    ("token/s", "tokens/s"), ("FLOP/s/GPU", "FLOP/s per GPU"), ("task/day", "tasks/day"),
    ("data point/parameter", "data points per parameter"), ("FLOP/parameter/token", "FLOP per parameter per token"),
    ("1", ""), ("", ""), ("day", "days"), ("FLOP", "FLOP"),
])
def test_units_as_people_write_them(unit, written):
    assert human_unit(unit) == written


def test_labels_name_the_quantity_and_drop_pure_numbers_and_bare_counts():
    assert axis_label("instances", "instance") == "concurrent copies" == LABELS["instances"]
    assert axis_label("inference_utilization", "1", "FLOP utilization while serving") == \
        "FLOP utilization while serving"
    assert axis_label("x", "token/s") == "x (tokens/s)"  # no label, no long_name: the variable's name


def test_no_figure_writes_a_unit_in_brackets(sweep):
    for fig in (plot_distribution(sweep, scenario={"required_tokens_per_s": 30, "year": 2026}),
                plot_scenarios(sweep), plot_distributions(sweep), plot_exceedance(sweep),
                plot_convergence(sweep, scenario={"required_tokens_per_s": 30, "year": 2026})):
        for ax in fig.axes:
            for text in (ax.get_xlabel(), ax.get_ylabel(), ax.get_title()):
                assert "[" not in text, text


def test_one_panel_per_scenario_on_a_shared_axis(sweep):
    fig = plot_distributions(sweep)
    cells = sweep.sizes["required_tokens_per_s"] * sweep.sizes["year"]
    hists = [ax for ax in fig.axes if any(p.get_gid() == "scenario-distribution" for p in ax.patches)]
    assert len(hists) == cells == 6
    assert len({ax.get_xlim() for ax in hists}) == 1  # shared x: the scenarios compare at a glance
    assert hists[0].get_title(loc="left").startswith("required speed per copy = 10 tokens/s, year = 2024")
    for ax in hists:  # the median line of each panel is the median of that scenario's draws
        median = next(line for line in ax.lines if line.get_gid() == "median").get_xdata()[0]
        assert median > 0


def test_every_reference_line_is_in_the_legend(sweep):
    for fig in (plot_distributions(sweep), plot_exceedance(sweep)):
        labels = [t.get_text() for t in fig.legends[0].get_texts()]
        drawn = {line.get_label() for ax in fig.axes for line in ax.lines
                 if line.get_gid() == "reference" and not line.get_label().startswith("_")}
        assert drawn and drawn <= set(labels)
        assert all(any(name in text for text in labels) for name, value in REFERENCES.items()
                   if any(np.isclose(line.get_xdata()[0], value) for ax in fig.axes for line in ax.lines
                          if line.get_gid() == "reference"))


def test_more_scenarios_than_panels_draws_max_panels_spread_over_them(sweep):
    """Of more than MAX_PANELS scenarios, that many panels evenly spaced from the first to the last (it was an
    error, so `overhang plot` of a large grid skipped the figure), each its own scenario's histogram."""
    many = sweep.isel(required_tokens_per_s=[0, 1, 2] * 5)  # 2 years x 15 = 30 > MAX_PANELS
    many = many.assign_coords(required_tokens_per_s=10.0 + np.arange(many.sizes["required_tokens_per_s"]))
    axes = [d for d in many["instances"].dims if d not in ("chain", "draw")]
    cells = [dict(zip(axes, key)) for key in itertools.product(*(many[a].values for a in axes))]
    fig = plot_distributions(many)
    picked = [cells[i] for i in np.linspace(0, len(cells) - 1, MAX_PANELS).round().astype(int)]
    assert len(fig.axes) == MAX_PANELS and picked[-1] == cells[-1]
    for ax, cell in zip(fig.axes, picked, strict=True):
        draws = many["instances"].sel(cell).values.ravel()
        median = [line for line in ax.lines if line.get_gid() == "median"][0].get_xdata()[0]
        assert median == pytest.approx(float(np.median(draws[draws > 0])))
    assert fig.get_suptitle().endswith(f"({MAX_PANELS} of {len(cells)} scenarios, evenly spaced)")


def test_exceedance_curve_known_answer_and_mcse():
    """Uniform draws: P(X >= x) = 1 - x; the MCSE is the binomial one, sqrt(p(1-p)/n), to within 30 %."""
    rng = np.random.default_rng(7)
    chains, draws = 64, 2000
    samples = rng.uniform(size=(chains, draws))
    grid = np.array([0.1, 0.5, 0.9])
    p, mcse = exceedance_curve(samples, grid)
    binomial = np.sqrt(grid * (1 - grid) / (chains * draws))
    assert np.all(np.abs(p - (1 - grid)) <= 4 * binomial)
    np.testing.assert_allclose(mcse, binomial, rtol=0.3)
    exact = exceedance_curve(np.array([[1.0, 2.0, 3.0, 4.0]]), np.array([2.0, 4.0, 5.0]))[0]
    np.testing.assert_allclose(exact, [0.75, 0.25, 0.0])  # "at least": ties count


def test_exceedance_band_contains_the_curve(sweep):
    fig = plot_exceedance(sweep)
    ax = fig.axes[0]
    curves = [line for line in ax.lines if line.get_gid() == "exceedance"]
    bands = [c for c in ax.collections if c.get_gid() == "mcse-band"]
    assert len(curves) == len(bands) == 6
    assert ax.get_ylabel() == "P(concurrent copies ≥ x)" and ax.get_xscale() == "log"
    for line in curves:
        y = line.get_ydata()
        assert np.all(np.diff(y) <= 1e-12) and y[0] == pytest.approx(1.0, abs=1e-3)


def test_exceedance_of_many_scenarios_draws_max_curves_spread_over_them(sweep):
    """Of more than MAX_CURVES scenarios, that many curves, one colour each, evenly spaced from the first scenario
    to the last (a 1,000-scenario grid drew 1,000 curves, its legend collapsing the axes), each the exceedance of
    its own scenario's draws; the title says so."""
    many = sweep.isel(required_tokens_per_s=[0, 1, 2] * 3)  # 2 years x 9 = 18 scenarios
    many = many.assign_coords(required_tokens_per_s=10.0 + np.arange(many.sizes["required_tokens_per_s"]))
    axes = [d for d in many["instances"].dims if d not in ("chain", "draw")]  # grid order: the last fastest
    cells = [dict(zip(axes, key)) for key in itertools.product(*(many[a].values for a in axes))]
    ax = plot_exceedance(many).axes[0]
    curves = [line for line in ax.lines if line.get_gid() == "exceedance"]
    assert len(curves) == MAX_CURVES == len({line.get_color() for line in curves})
    picked = [cells[i] for i in np.linspace(0, len(cells) - 1, MAX_CURVES).round().astype(int)]
    assert picked[0] == cells[0] and picked[-1] == cells[-1]
    for line, cell in zip(curves, picked, strict=True):
        draws = many["instances"].sel(cell).transpose("chain", "draw").values
        np.testing.assert_allclose(line.get_ydata(), exceedance_curve(draws, line.get_xdata())[0])
    assert ax.get_title().endswith(f"({MAX_CURVES} of {len(cells)} scenarios, evenly spaced)")
    assert "evenly spaced" not in plot_exceedance(sweep).axes[0].get_title()
