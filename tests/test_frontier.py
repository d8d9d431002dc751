"""The copies x speed frontier: 1/s where only compute binds, the same draws at every speed, files, CLI."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from overhang_sim import ConfigError
from overhang_sim import simulation as simulation_module
from overhang_sim.config import load_experiment
from overhang_sim.frontier import FrontierSpec, default_speeds, frontier, frontier_spec, parse_speeds
from overhang_sim.plotting import plot_frontier
from overhang_sim.simulation import simulate

ROOT = Path(__file__).resolve().parents[1]
SPEEDS = [1.0, 3.0, 10.0, 30.0, 100.0, 1000.0]


def small(path=None, samples=2000, **changes):
    experiment = load_experiment(path)
    return dataclasses.replace(experiment, samples=samples, **changes)


@pytest.mark.parametrize("model", ["compute", "throughput"])
def test_compute_and_throughput_paths_are_exactly_inverse_in_speed(model):
    path = ROOT / "experiments" / ("baseline.toml" if model == "compute" else "baseline_throughput.toml")
    result = frontier(small(path), SPEEDS)
    scaled = result["quantile"] * result["speed"]  # instances x speed: the same at every speed
    np.testing.assert_allclose(scaled.values, np.broadcast_to(scaled.values[0], scaled.shape), rtol=1e-12)
    assert float(result["prob_zero"].max()) == 0


def test_roofline_compute_bound_is_inverse_in_speed_up_to_whole_streams(tmp_path):
    text = _roofline_file(tmp_path, """
        [overrides.gpu_memory_bytes]
        value = 1e18
        unit = "byte/GPU"
        [overrides.memory_bandwidth_bytes_per_s]
        value = 1e18
        unit = "byte/s/GPU"
        [overrides.step_latency_floor_s]
        value = 1e-9
        unit = "s"
        """)
    experiment = small(text, samples=1600)
    speeds = [1.0, 10.0, 100.0]
    result = frontier(experiment, speeds)
    scaled = result["median"].values * np.array(speeds)
    # a batch is a whole number of streams: floor() costs at most one stream per replica
    np.testing.assert_allclose(scaled, scaled[0], rtol=2e-3)
    run = simulate(dataclasses.replace(experiment, samples=800))
    assert float(run["compute_binds"].mean()) == 1.0


def test_the_same_draws_serve_every_speed(monkeypatch):
    """Inputs are drawn once per chunk, not once per speed; each speed equals a run at that fixed speed."""
    experiment = small(ROOT / "experiments" / "roofline_gb300.toml", samples=1600)
    calls = []
    original = simulation_module.draw_inputs
    monkeypatch.setattr("overhang_sim.frontier.draw_inputs",
                        lambda *a, **k: calls.append(1) or original(*a, **k))
    result = frontier(experiment, [5.0, 50.0, 500.0])
    assert len(calls) == experiment.chains  # one chunk per chain, whatever the number of speeds
    for speed in (5.0, 500.0):
        fixed = _with_fixed_speed(experiment, speed)
        run = simulate(fixed)
        assert float(run["instances"].median()) == float(result["median"].sel(speed=speed))
        assert float((run["instances"] == 0).mean()) == float(result["prob_zero"].sel(speed=speed))


def test_roofline_frontier_never_rises_with_speed_and_reaches_zero():
    result = frontier(small(ROOT / "experiments" / "roofline_gb300.toml", samples=1600), default_speeds(12, 1, 1e4))
    for name in ("median", "band_lower", "band_upper"):
        values = result[name].values
        assert (np.diff(values, axis=-1) <= 0).all(), name
    assert float(result["prob_zero"][-1]) == 1.0 and float(result["median"][-1]) == 0.0
    assert result["speed"].attrs["units"] == "token/s" and result["median"].attrs["units"] == "instance"
    fig = plot_frontier(result)  # zeros at the fast end are drawn, not an error
    assert any(line.get_gid() == "mark" for line in fig.axes[0].lines)


def test_spec_from_the_experiment_file():
    spec = frontier_spec(load_experiment(ROOT / "experiments" / "roofline_gb300.toml"))
    assert spec.speeds[0] == 2.0 and len(spec.marks) == 2 and spec.marks[1].speed == 67
    assert frontier_spec(load_experiment()) is None
    assert len(FrontierSpec().grid) == 20 and FrontierSpec().grid[0] == 1.0


def test_marks_travel_with_the_dataset():
    result = frontier(small(ROOT / "experiments" / "roofline_gb300.toml", samples=800), [10.0])
    marks = json.loads(result.attrs["marks"])
    assert marks[0]["instances"] == 4.32e7


@pytest.mark.parametrize(("text", "problem"), [("1,,x", "numbers separated by commas"),
                                               ([1.0, -2.0], "positive number"), ([3.0, 3.0], "twice")])
def test_bad_speeds(text, problem):
    with pytest.raises(ConfigError, match=problem):
        parse_speeds(text)


@pytest.mark.parametrize(("table", "key"), [
    ("[frontier]\nspeed = [1, 2]\n", "frontier.speed: unknown key (did you mean 'speeds'?)"),
    ("[frontier]\nspeeds = [0, 2]\n", "frontier.speeds[0]: must be a positive number"),
    ("[frontier]\ninput = 'speed'\n", "frontier.input: is not an input of the roofline model"),
    ("[[frontier.marks]]\nspeed = 1\n", "frontier.marks[0]: must be a table with speed and instances"),
])
def test_bad_frontier_tables_are_one_line_exit_2(tmp_path, table, key):
    path = _roofline_file(tmp_path, table)
    done = subprocess.run([sys.executable, "-m", "overhang_sim.cli", "run", str(path), "--samples", "800",
                           "--quiet", "--out", str(tmp_path / "r.nc")], capture_output=True, text=True)
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert f"{path}: {key}" in done.stderr
    assert not (tmp_path / "r.nc").exists()


def test_cli_frontier_and_run_print_and_save(tmp_path):
    out = tmp_path / "f.nc"
    done = subprocess.run([sys.executable, "-m", "overhang_sim.cli", "frontier",
                           str(ROOT / "experiments" / "baseline.toml"), "--speeds", "1,10,100",
                           "--samples", "800", "--out", str(out)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "P(instances = 0)" in done.stdout and out.exists()
    done = subprocess.run([sys.executable, "-m", "overhang_sim.cli", "frontier", "--speeds", "1,0"],
                          capture_output=True, text=True)
    assert done.returncode == 2 and "command line: --speeds[1]: must be a positive number" in done.stderr
    run_out = tmp_path / "run.nc"
    done = subprocess.run([sys.executable, "-m", "overhang_sim.cli", "run",
                           str(ROOT / "experiments" / "roofline_gb300.toml"), "--samples", "800", "--quiet",
                           "--out", str(run_out)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "frontier of instances" in done.stdout and "P(indicator = 1)" in done.stdout
    assert (tmp_path / "run.frontier.nc").exists()
    plotted = subprocess.run([sys.executable, "-m", "overhang_sim.cli", "plot", str(tmp_path / "run.frontier.nc"),
                              "--out-dir", str(tmp_path)], capture_output=True, text=True)
    assert plotted.returncode == 0 and (tmp_path / "run.frontier.png").exists(), plotted.stderr


def _with_fixed_speed(experiment, speed):
    from overhang_sim.config import Prior
    from overhang_sim.distributions import Fixed

    priors = {**experiment.priors, "required_tokens_per_s": Prior("required_tokens_per_s", Fixed(speed), "token/s")}
    return dataclasses.replace(experiment, priors=priors)


def _roofline_file(tmp_path, extra: str) -> Path:
    path = tmp_path / "e.toml"
    path.write_text(textwrap.dedent(f"""\
        name = "t"
        model = "roofline"
        priors = ["{ROOT / 'priors' / 'roofline.toml'}"]
        samples = 800
        chains = 4
        seed = 3
        """) + textwrap.dedent(extra))
    return path


def test_plot_without_marks():
    result = frontier(small(ROOT / "experiments" / "baseline.toml", samples=800), [1.0, 10.0, 100.0])
    fig = plot_frontier(result)
    assert not any(line.get_gid() == "mark" for line in fig.axes[0].lines)
    assert any(line.get_gid() == "inverse-speed" for line in fig.axes[0].lines)


@pytest.mark.parametrize(("samples", "chains"), [(1600, 4), (1203, 3)])
def test_summaries_equal_numpy_on_runs_at_each_fixed_speed(samples, chains):
    """Every variable is what np.quantile / np.median / mean(== 0) give on runs at each speed (odd and even draws)."""
    from overhang_sim.summaries import chain_error

    experiment = small(ROOT / "experiments" / "roofline_gb300.toml", samples=samples, chains=chains)
    speeds = [2.0, 20.0, 200.0, 2000.0]  # the fastest is past the serial ceiling: ties at zero
    result = frontier(experiment, speeds)
    runs = np.stack([simulate(_with_fixed_speed(experiment, s))["instances"].transpose("chain", "draw").values
                     for s in speeds])  # (speed, chain, draw)
    pooled = runs.reshape(len(speeds), -1)
    quant = np.quantile(pooled, result["prob"].values, axis=1).T
    np.testing.assert_array_equal(result["quantile"].values, quant)
    np.testing.assert_array_equal(result["median"].values, np.quantile(pooled, 0.5, axis=1))
    np.testing.assert_array_equal(result["median_mcse"].values, chain_error(np.median(runs, axis=2), 1))
    for m in result["interval"].values:
        lo, hi = np.quantile(pooled, [(1 - m) / 2, (1 + m) / 2], axis=1)
        np.testing.assert_allclose(result["band_lower"].sel(interval=m).values, lo, rtol=1e-12, atol=0)
        np.testing.assert_allclose(result["band_upper"].sel(interval=m).values, hi, rtol=1e-12, atol=0)
    zeros = (runs == 0).mean(axis=2)
    np.testing.assert_array_equal(result["prob_zero"].values, zeros.mean(axis=1))
    np.testing.assert_allclose(result["prob_zero_mcse"].values, chain_error(zeros, 1), rtol=1e-12, atol=1e-15)
    assert 0 < float(result["prob_zero"][2]) < float(result["prob_zero"][3]) < 1  # zeros tie partly


def test_partial_selection_reads_the_same_quantiles_as_numpy():
    """_select places exactly the order statistics sorted_quantiles reads: np.quantile's numbers bit for bit,
    for any length, with ties and with NaN (which makes every quantile NaN, as numpy's)."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from overhang_sim.frontier import PROBS, _ranks, _select
    from overhang_sim.summaries import sorted_quantiles

    values = st.lists(st.one_of(st.floats(-1e6, 1e6), st.sampled_from([0.0, 1.0, np.nan])), min_size=1,
                      max_size=300)

    @settings(max_examples=300, deadline=None)
    @given(values)
    def check(sample):
        x = np.array(sample)
        buffer = x.copy()
        _select(buffer, _ranks(len(x), PROBS))
        np.testing.assert_array_equal(sorted_quantiles(buffer, PROBS), np.quantile(x, PROBS))
        np.testing.assert_array_equal(np.sort(buffer), np.sort(x))  # a permutation of the draws

    check()


def _small_scenarios(path, samples, **changes):
    from overhang_sim.scenarios import load_scenarios

    scenarios = load_scenarios(path)
    return dataclasses.replace(scenarios, experiments=tuple(dataclasses.replace(e, samples=samples, **changes)
                                                            for e in scenarios.experiments))


def _no_sampling(monkeypatch):
    """Make any draw of the frontier's inputs an error: the run's draws must serve."""
    def refuse(*args, **kwargs):
        raise AssertionError("the frontier drew inputs again")

    monkeypatch.setattr("overhang_sim.frontier.draw_inputs", refuse)


@pytest.mark.parametrize("name", ["roofline_gb300.toml", "structure_matters.toml"])
def test_a_runs_frontier_reuses_its_draws_and_equals_a_redrawn_one(monkeypatch, name):
    """The frontier from a run's kept draws samples nothing, and (plain MC, the speed uncorrelated) its
    numbers are exactly those of the frontier that draws the inputs again from the same seed (pooled too)."""
    from overhang_sim import batch
    from overhang_sim.frontier import scenario_frontier

    scenarios = _small_scenarios(ROOT / "experiments" / name, 1600)
    run = batch.run(scenarios, keep_samples=True)
    redrawn = scenario_frontier(scenarios)
    with monkeypatch.context() as patched:
        _no_sampling(patched)
        reused = scenario_frontier(scenarios, run=run)
    assert reused.attrs["draws"] == "run" and redrawn.attrs["draws"] == "drawn"
    assert ("pooled_median" in reused) == (name == "structure_matters.toml")
    assert reused.attrs["seed"] == redrawn.attrs["seed"] == run.attrs["seed"]
    xr.testing.assert_identical(reused.drop_attrs(deep=False), redrawn.drop_attrs(deep=False))


def test_a_runs_frontier_is_the_model_on_the_runs_inputs_at_each_speed(monkeypatch):
    """A Latin hypercube changes once the speed's dimension is dropped, so only the run's draws give these
    numbers: np.quantile / mean(== 0) of the model evaluated by hand on the run's inputs at each speed."""
    from overhang_sim import batch
    from overhang_sim.frontier import PROBS, scenario_frontier
    from overhang_sim.simulation import fixed_inputs

    scenarios = _small_scenarios(ROOT / "experiments" / "roofline_gb300.toml", 1200, method="lhs")
    experiment = scenarios.base
    run = batch.run(scenarios, keep_samples=True)
    speeds = [5.0, 200.0]  # 200 token/s is past some draws' serial ceiling: zeros
    with monkeypatch.context() as patched:
        _no_sampling(patched)
        reused = scenario_frontier(scenarios, speeds, run=run)
    given = {n: run[n].values for n in experiment.sampled if n != "required_tokens_per_s"}
    fixed = fixed_inputs(experiment)

    def at(speed, chain):
        return experiment.model_spec({**fixed, **{n: a[chain] for n, a in given.items()},
                                      "required_tokens_per_s": speed})["instances"]

    by_hand = np.stack([np.concatenate([at(s, c) for c in range(experiment.chains)])
                        for s in speeds])  # (speed, pooled draws), chain after chain
    np.testing.assert_allclose(reused["quantile"].values, np.quantile(by_hand, PROBS, axis=1).T, rtol=1e-12)
    np.testing.assert_allclose(reused["prob_zero"].values, (by_hand == 0).mean(axis=1), rtol=1e-12)
    assert 0 < float(reused["prob_zero"].sel(speed=200.0)) < 1
    redrawn = scenario_frontier(scenarios, speeds)
    assert not np.array_equal(redrawn["quantile"].values, reused["quantile"].values)  # other draws


def test_a_run_that_streamed_has_its_frontier_drawn_again(monkeypatch):
    from overhang_sim import batch
    from overhang_sim.frontier import run_inputs, scenario_frontier

    scenarios = _small_scenarios(ROOT / "experiments" / "roofline_gb300.toml", 1600)
    streamed = batch.run(scenarios, keep_samples=False)
    assert run_inputs(streamed, scenarios.base, "required_tokens_per_s") is None
    front = scenario_frontier(scenarios, [5.0, 50.0], run=streamed)
    assert front.attrs["draws"] == "drawn"
    xr.testing.assert_identical(front, scenario_frontier(scenarios, [5.0, 50.0]))


def test_given_inputs_must_be_every_sampled_input_in_one_shape():
    experiment = small(ROOT / "experiments" / "baseline.toml", samples=800)
    run = simulate(experiment)
    inputs = {n: run[n].values for n in experiment.sampled if n != "required_tokens_per_s"}
    assert frontier(experiment, [1.0], inputs=inputs).attrs["draws"] == "run"
    with pytest.raises(ValueError, match="lacks the sampled input"):
        frontier(experiment, [1.0], inputs=dict(list(inputs.items())[1:]))
    first = next(iter(inputs))
    with pytest.raises(ValueError, match="one \\(chain, draw\\) shape"):
        frontier(experiment, [1.0], inputs={**inputs, first: inputs[first][:, :10]})


def test_overhang_run_saves_a_frontier_of_its_own_draws(tmp_path, run_cli):
    path = ROOT / "experiments" / "roofline_gb300.toml"
    for flags, draws in (([], "run"), (["--no-keep-samples"], "drawn")):
        out = tmp_path / f"r{len(flags)}.nc"
        code, _, err = run_cli(["run", path, "--samples", "800", "--quiet", "--out", out, *flags])
        assert code == 0, err
        with xr.open_dataset(tmp_path / f"r{len(flags)}.frontier.nc") as saved:
            assert saved.attrs["draws"] == draws


def test_run_inputs_takes_the_runs_chains_and_the_scenarios_draws():
    """A precise run's extra chains are used; a stacked run's padding (another scenario's longer chains)
    is not."""
    from overhang_sim.frontier import run_inputs

    experiment = small(ROOT / "experiments" / "baseline.toml", samples=800, chains=4)  # 200 draws a chain
    names = [n for n in experiment.sampled if n != "required_tokens_per_s"]
    padded = xr.Dataset({n: (("chain", "draw"), np.arange(6 * 300.0).reshape(6, 300)) for n in names})
    got = run_inputs(padded, experiment, "required_tokens_per_s")
    assert set(got) == set(names) and got[names[0]].shape == (4, 200)
    np.testing.assert_array_equal(got[names[0]], padded[names[0]].values[:4, :200])
    precise = padded.assign_attrs(precision_chains=6)
    assert run_inputs(precise, experiment, "required_tokens_per_s")[names[0]].shape == (6, 200)
    assert run_inputs(precise.assign_attrs(precision_chains=7), experiment, "required_tokens_per_s") is None
    assert run_inputs(padded.drop_vars(names[0]), experiment, "required_tokens_per_s") is None
    assert run_inputs(None, experiment, "required_tokens_per_s") is None
