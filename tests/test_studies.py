"""The scenario studies in experiments/: they load, run, and say what they claim to.

- seed_reproductions.toml: each named scenario is exactly its single-file reference
  experiment, and matches the reference table of docs/howto/reproduce.md (the rows of test_reference).
- required_speed_sweep.toml: common random numbers make 10 tok/s exactly 3x 30 tok/s.
- cluster_by_year.toml: one trajectory model on a year axis; draws are comonotone across years
  when growth is the only uncertain input; the median instance count grows year on year.
- path_comparison.toml: the compute and throughput paths side by side on one axis.
"""

from __future__ import annotations

import dataclasses
import itertools
import math

import numpy as np
import pytest
from strategies import EXPERIMENTS
from test_reference import REFERENCE_ROWS, _round_sig

from overhang_sim import batch, load_experiment, simulate
from overhang_sim.scenarios import load_scenarios, scenarios_from_table
from overhang_sim.summaries import compare

SAMPLES = 4000  # per scenario: enough for the claims below, quick enough for the suite

# Scenario name in seed_reproductions.toml -> the single-file experiment it reproduces.
SEED_SCENARIOS = {
    "seed 000 text": "seed000_text",
    "seed 000 comments": "seed000_comments",
    "seed 000 appendix": "seed000_appendix",
    "seed 001 lower bound": "seed001_lower_bound",
    "seed 001 55pct": "seed001_55pct",
    "llama3 70b crosscheck": "llama3_70b_crosscheck",
    "seed 003 price v100": "seed003_price_v100",
    "seed 003 price rtx2080ti": "seed003_price_rtx2080ti",
}
ORIGINAL_TO_SCENARIO = {v: k for k, v in SEED_SCENARIOS.items()}

# Every scenario of a file builds its own prior objects, and each PERT prior builds its
# inverse-CDF table on first use (about 0.7 s). Sharing equal priors between scenarios
# builds each table once; the distributions, and so the draws, are unchanged.
_SHARED_PRIORS: dict = {}


def _small(scenarios, samples=SAMPLES):
    """The scenario set with `samples` per scenario and equal priors shared between scenarios."""
    experiments = tuple(
        dataclasses.replace(e, samples=samples,
                            priors={n: _SHARED_PRIORS.setdefault(p, p) for n, p in e.priors.items()})
        for e in scenarios.experiments)
    return dataclasses.replace(scenarios, experiments=experiments)


def _run(filename):
    return batch.run(_small(load_scenarios(EXPERIMENTS / filename)))


# --------------------------------------------------------------------------- seed reproductions


@pytest.fixture(scope="module")
def seed_scenarios():
    return load_scenarios(EXPERIMENTS / "seed_reproductions.toml")


@pytest.fixture(scope="module")
def seed_runs(seed_scenarios):
    """(scenario run, original run) per scenario name, both from plain simulate()."""
    runs = {}
    for i, experiment in enumerate(seed_scenarios.experiments):
        name = seed_scenarios.labels(i)["scenario"]
        original = load_experiment(EXPERIMENTS / f"{SEED_SCENARIOS[name]}.toml")
        runs[name] = (simulate(experiment), simulate(original))
    return runs


def test_seed_reproductions_cover_every_reference_experiment(seed_scenarios):
    assert seed_scenarios.dims == ("scenario",)
    assert set(seed_scenarios.coords["scenario"]) == set(SEED_SCENARIOS)
    assert {row[0] for row in REFERENCE_ROWS} <= set(SEED_SCENARIOS.values())
    originals = {p.stem for p in EXPERIMENTS.glob("seed[0-9][0-9][0-9]_*.toml")} | {"llama3_70b_crosscheck"}
    assert originals == set(SEED_SCENARIOS.values())


@pytest.mark.parametrize("name", list(SEED_SCENARIOS))
def test_scenario_equals_its_single_file_experiment(seed_scenarios, seed_runs, name):
    experiment = seed_scenarios.experiments[seed_scenarios.coords["scenario"].index(name)]
    original = load_experiment(EXPERIMENTS / f"{SEED_SCENARIOS[name]}.toml")
    for key in ("model", "samples", "chains", "method", "seed", "summary", "correlations"):
        assert getattr(experiment, key) == getattr(original, key), key
    assert experiment.sampled == original.sampled == ()
    run, reference = seed_runs[name]
    assert set(run.data_vars) == set(reference.data_vars)
    for variable in reference.data_vars:
        np.testing.assert_array_equal(run[variable].values, reference[variable].values, err_msg=variable)
        # the translated [overrides] keep the original's unit, prior and source
        assert run[variable].attrs == reference[variable].attrs, variable
    if "instances" in reference:
        assert run["instances"].shape == (1, 1)


@pytest.mark.parametrize(("experiment", "output", "shown", "digits", "exact"), REFERENCE_ROWS,
                         ids=[f"{r[0]}-{r[1]}" for r in REFERENCE_ROWS])
def test_scenario_matches_reference_table(seed_runs, experiment, output, shown, digits, exact):
    run, _ = seed_runs[ORIGINAL_TO_SCENARIO[experiment]]
    value = float(run[output].values[0, 0])
    assert _round_sig(value, digits) == shown
    assert value == pytest.approx(exact, rel=1e-12)


def test_seed_reproductions_through_batch_run(seed_scenarios, seed_runs):
    """`overhang run` on the file (mixed models on one axis) gives every scenario's numbers."""
    result = batch.run(seed_scenarios)
    assert list(result["scenario"].values) == list(seed_scenarios.coords["scenario"])
    for experiment, output, shown, digits, _ in REFERENCE_ROWS:
        name = ORIGINAL_TO_SCENARIO[experiment]
        value = float(result[output].sel(scenario=name).values.item())
        assert value == float(seed_runs[name][1][output].values.item())
        assert _round_sig(value, digits) == shown


# --------------------------------------------------------------------------- required speed sweep


@pytest.fixture(scope="module")
def speed_sweep():
    return _run("required_speed_sweep.toml")


def test_speed_sweep_axis_and_correlation_of_the_baseline():
    scenarios = load_scenarios(EXPERIMENTS / "required_speed_sweep.toml")
    baseline = load_experiment(EXPERIMENTS / "baseline.toml")
    assert scenarios.dims == ("required_tokens_per_s",)
    assert scenarios.coords["required_tokens_per_s"] == (10, 30, 50)
    assert scenarios.fixed_axes == ("required_tokens_per_s",)
    for experiment, speed in zip(scenarios.experiments, (10, 30, 50)):
        assert experiment.model == "compute"
        assert experiment.correlations == baseline.correlations
        assert experiment.priors["required_tokens_per_s"].dist.value == speed
        assert experiment.sampled == tuple(n for n in baseline.sampled if n != "required_tokens_per_s")


def test_speed_sweep_is_paired_draw_by_draw(speed_sweep):
    result = speed_sweep
    assert result["instances"].dims == ("required_tokens_per_s", "chain", "draw")
    fast = result.sel(required_tokens_per_s=10)
    slow = result.sel(required_tokens_per_s=30)
    # everything upstream of the required speed is the same draw in every scenario
    np.testing.assert_array_equal(fast["cluster_tokens_per_s"].values, slow["cluster_tokens_per_s"].values)
    np.testing.assert_allclose(fast["instances"].values / slow["instances"].values, 3.0, rtol=4e-16)
    found = compare(result, {"required_tokens_per_s": 10}, {"required_tokens_per_s": 30})
    assert found["p_a_greater"] == 1.0
    assert found["p_a_greater_mcse"] == 0.0
    assert found["median_log10_ratio"] == pytest.approx(math.log10(3), abs=1e-12)


# --------------------------------------------------------------------------- cluster by year


@pytest.fixture(scope="module")
def by_year():
    return _run("cluster_by_year.toml")


def test_cluster_by_year_is_one_trajectory_model_on_a_year_axis():
    scenarios = load_scenarios(EXPERIMENTS / "cluster_by_year.toml")
    assert scenarios.dims == ("year",)
    assert scenarios.coords["year"] == tuple(range(2024, 2031))
    assert scenarios.fixed_axes == ("year",)
    first = scenarios.experiments[0]
    for experiment in scenarios.experiments:
        assert experiment.priors["gpu_peak_flop_per_s"].dist.value == 9.89e14
        assert experiment.correlations  # kept from the baseline
        # no per-year priors: every year samples the same anchors and growth rates
        assert experiment.sampled == first.sampled
        assert {"cluster_gpus_growth", "train_days_growth"} <= set(experiment.sampled)
        assert "cluster_gpus" not in experiment.priors and "train_days" not in experiment.priors
        assert {n: p for n, p in experiment.priors.items() if n != "year"} == \
            {n: p for n, p in first.priors.items() if n != "year"}


def _only_growth_uncertain():
    """A year axis over the trajectory model with every input fixed but the cluster's growth."""
    fixed = {"cluster_gpus_2024": (4e4, "GPU"), "train_days_2024": (78, "day"), "train_days_growth": (1.4, "1"),
             "gpu_peak_flop_per_s": (9.89e14, "FLOP/s/GPU"), "train_utilization": (0.4, "1"),
             "inference_utilization": (0.3, "1"), "chinchilla_ratio": (20, "data point/parameter"),
             "required_tokens_per_s": (30, "token/s")}
    overrides = {n: {"value": v, "unit": u} for n, (v, u) in fixed.items()}
    overrides["cluster_gpus_growth"] = {"dist": "lognormal", "p05": 2.9, "p95": 3.6, "unit": "1"}
    table = {"name": "growth_only", "model": "models/compute_by_year.toml", "samples": 2000, "chains": 4,
             "seed": 7, "overrides": overrides, "axes": [{"name": "year", "values": [2025, 2027, 2030]}]}
    return scenarios_from_table(table, "", EXPERIMENTS / "growth_only.toml")


def test_trajectory_draws_are_comonotone_across_years():
    result = batch.run(_only_growth_uncertain())
    growth = result["cluster_gpus_growth"].values  # (year, chain, draw): one draw for every year
    np.testing.assert_array_equal(growth[0], growth[1])
    np.testing.assert_array_equal(growth[0], growth[2])
    ranks = [np.argsort(result["instances"].sel(year=y).values.ravel(), kind="stable") for y in (2025, 2027, 2030)]
    np.testing.assert_array_equal(ranks[0], ranks[1])
    np.testing.assert_array_equal(ranks[0], ranks[2])
    assert np.all(np.diff(result["instances"].sel(year=2030).values.ravel()[ranks[0]]) > 0)  # no ties
    # and the closed form: instances ~ sqrt(cluster_gpus / train_days), so log10 grows by
    # (log10 growth - log10 1.4) / 2 per year, draw by draw
    step = np.log10(result["instances"].sel(year=2030) / result["instances"].sel(year=2027)).values / 3
    np.testing.assert_allclose(step, (np.log10(growth[0]) - np.log10(1.4)) / 2, rtol=1e-12)


def test_extends_rejects_a_model_that_is_not_shipped():
    from overhang_sim.errors import ConfigError
    from overhang_sim.modelspec import FormulaModel

    with pytest.raises(ConfigError, match="extends.*shipped model.*compute"):
        FormulaModel.from_table({"name": "x", "extends": "compte", "main": "instances",
                                 "quantities": {"year": {"unit": "1"}}}, file="x.toml")


def test_median_instances_grow_every_year_beyond_mc_error(by_year):
    median = by_year["quantile"].sel(output="instances", scale="linear", prob=0.5)
    error = by_year["quantile_mcse"].sel(output="instances", scale="linear", prob=0.5)
    assert median.dims == ("year",)
    years = list(by_year["year"].values)
    assert years == list(range(2024, 2031))
    for a, b in itertools.pairwise(years):
        step = float(median.sel(year=b) - median.sel(year=a))
        noise = math.hypot(float(error.sel(year=a)), float(error.sel(year=b)))
        assert step > 5 * noise, (a, b, step, noise)


# --------------------------------------------------------------------------- path comparison


@pytest.fixture(scope="module")
def paths():
    return _run("path_comparison.toml")


def test_path_comparison_has_both_models(paths):
    assert list(paths["model"].values) == ["compute", "throughput"]
    assert paths["instances"].dims == ("model", "chain", "draw")
    assert paths["instances"].shape[1] * paths["instances"].shape[2] >= SAMPLES
    assert np.all(np.isfinite(paths["instances"].values))
    # inputs both paths use are the same draws (a paired comparison)
    np.testing.assert_array_equal(paths["cluster_gpus"].sel(model="compute").values,
                                  paths["cluster_gpus"].sel(model="throughput").values)
    found = compare(paths, {"model": "compute"}, {"model": "throughput"})
    assert 0.0 < found["p_a_greater"] < 1.0
