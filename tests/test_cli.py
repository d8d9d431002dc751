"""The ``overhang`` command: run (table, JSON, --out, overrides) and priors.

Bad input through the CLI is covered in test_config_errors.py.
"""

from __future__ import annotations

import dataclasses
import json
import re

import numpy as np
import pytest
import xarray as xr
from strategies import EXPERIMENTS

import overhang_sim
from overhang_sim import load, load_experiment, simulate, summarize
from overhang_sim.tables import format_value


def _strict_json(text):
    def refuse(constant):
        raise ValueError(f"not JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


def test_run_embedded_default_opens_with_the_answer(run_cli, embedded_default):
    code, out, err = run_cli(["run", "--samples", "2000"])
    assert (code, err) == (0, "")
    assert out.startswith("baseline: 2000 samples in 8 chains, method mc")
    lines = out.splitlines()
    assert lines[2].startswith("instances: ")
    assert lines[3].split()[0] == "median" and lines[4].strip().startswith("90 % interval")
    assert any(line.strip().startswith("P(instances >= 1e+06)") for line in lines[5:10])
    assert "equal-tailed 90 % interval" in out and max(map(len, lines)) <= 80


def test_run_full_prints_every_table(run_cli, embedded_default):
    code, out, err = run_cli(["run", "--samples", "2000", "--full"])
    assert (code, err) == (0, "")
    assert "instances [instance]" in out
    assert re.search(r"^  value +\S+", out, re.MULTILINE) and re.search(r"^  log10 +\S+", out, re.MULTILINE)
    assert "P(instances >= threshold)" in out
    assert run_cli(["run", "--samples", "2000", "--wide"])[1] == out


def test_run_json_parses(run_cli, embedded_default):
    code, out, err = run_cli(["run", "--samples", "2000", "--json"])
    assert (code, err) == (0, "")
    records = _strict_json(out)
    assert isinstance(records, list) and len({tuple(r) for r in records}) == 1  # the same fields in each
    assert {"instances", "params"} <= {r["output"] for r in records}
    assert {"quantile", "eti_lower", "hdi_lower", "prob_at_least"} <= {r["statistic"] for r in records}
    median = next(r for r in records if (r["output"], r["statistic"], r["scale"], r["prob"])
                  == ("instances", "quantile", "linear", 0.5))
    assert median["unit"] == "instance" and median["mcse"] > 0


def test_run_json_of_a_point_value_run_is_strict_json(run_cli):
    """One chain: every MCSE is NaN, which must be written as null, not NaN."""
    code, out, err = run_cli(["run", EXPERIMENTS / "seed000_text.toml", "--json"])
    assert code == 0
    records = _strict_json(out)
    median = next(r for r in records if (r["output"], r["statistic"], r["scale"], r["prob"])
                  == ("instances", "quantile", "linear", 0.5))
    assert median["mcse"] is None and median["value"] == 1_200_000


def test_run_out_writes_a_loadable_file(run_cli, tmp_path):
    path = EXPERIMENTS / "baseline_throughput.toml"
    out_file = tmp_path / "run.nc"
    code, out, err = run_cli(["run", path, "--samples", "800", "--seed", "7", "--out", out_file])
    assert (code, err) == (0, "")
    assert out.rstrip().endswith(f"saved {out_file}")
    saved = load(out_file)
    experiment = dataclasses.replace(load_experiment(path), samples=800)
    expected = simulate(experiment, seed=7)
    samples = saved[list(expected.data_vars)].drop_vars(["output", "unit", "long_name"], errors="ignore")
    xr.testing.assert_identical(samples.drop_attrs(), expected.drop_attrs())
    for name in expected.data_vars:
        assert saved[name].attrs == expected[name].attrs
    stamps = ("started", "finished")  # one provenance schema: the same attrs, but the times
    assert {k: saved.attrs[k] for k in expected.attrs if k not in stamps} == \
        {k: v for k, v in expected.attrs.items() if k not in stamps}
    summary = summarize(expected, experiment.summary)
    xr.testing.assert_identical(saved[list(summary.data_vars)].drop_attrs(), summary.drop_attrs())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.nc"]


@pytest.mark.parametrize("command", [
    ["run", "--samples", "800"],
    ["run", "--samples", "800", "--precision", "0.5", "--max-samples", "1600"],
    ["sensitivity", "--samples", "8000", "--methods", "given_data"],
    ["frontier", "--samples", "800", "--speeds", "10,100"],
], ids=["run", "precision", "sensitivity", "frontier"])
def test_out_refuses_an_existing_file_before_running(run_cli, tmp_path, monkeypatch, command):
    """A saved result is never replaced by accident: exit 2, one line naming it, before any work."""
    import overhang_sim.batch
    import overhang_sim.frontier
    import overhang_sim.sensitivity_analysis

    out_file = tmp_path / "result.nc"
    out_file.write_bytes(b"an earlier result")

    def never(*args, **kwargs):
        raise AssertionError("ran although --out exists")

    for module, name in [(overhang_sim.batch, "run"), (overhang_sim.sensitivity_analysis, "scenario_sensitivity"),
                         (overhang_sim.frontier, "scenario_frontier")]:
        monkeypatch.setattr(module, name, never)
    code, out, err = run_cli([*command, "--out", out_file])
    assert code == 2 and out == ""
    assert err == f"overhang: error: {out_file}: already exists and is kept; --overwrite (overwrite=True in " \
                  "Python) replaces it\n"
    assert out_file.read_bytes() == b"an earlier result"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["result.nc"]  # no OUT.partial either


@pytest.mark.parametrize("command", [
    ["run", "--samples", "800", "--quiet"],
    ["sensitivity", "--samples", "8000", "--methods", "given_data"],
    ["frontier", "--samples", "800", "--speeds", "10,100"],
], ids=["run", "sensitivity", "frontier"])
def test_overwrite_replaces_an_existing_file(run_cli, tmp_path, command):
    out_file = tmp_path / "result.nc"
    out_file.write_bytes(b"an earlier result")
    code, out, err = run_cli([*command, "--out", out_file, "--overwrite"])
    assert (code, err) == (0, "")
    assert load(out_file).sizes  # a complete result where the old bytes were
    assert sorted(p.name for p in tmp_path.iterdir()) == ["result.nc"]


def test_run_refuses_an_existing_frontier_file_before_running(run_cli, tmp_path):
    """A run with [frontier] saves X.frontier.nc next to X.nc; an existing one is refused before the run."""
    out_file = tmp_path / "run.nc"
    frontier_file = tmp_path / "run.frontier.nc"
    frontier_file.write_bytes(b"an earlier frontier")
    code, out, err = run_cli(["run", EXPERIMENTS / "roofline_gb300.toml", "--samples", "800", "--quiet",
                              "--out", out_file])
    assert code == 2 and out == "" and err.startswith(f"overhang: error: {frontier_file}: already exists")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.frontier.nc"]


def test_run_overrides_reach_the_run(run_cli, tmp_path):
    out_file = tmp_path / "run.nc"
    code, out, err = run_cli(["run", EXPERIMENTS / "baseline.toml", "--samples", "1024", "--chains", "4",
                              "--seed", "3", "--method", "sobol", "--json", "--out", out_file])
    assert (code, err) == (0, "")  # 256 draws per chain: Sobol' balance kept, so no warning
    assert isinstance(_strict_json(out), list)
    run = load(out_file)
    attrs = run.attrs
    assert (attrs["samples"], attrs["chains"], attrs["seed"], attrs["method"]) == (1024, 4, 3, "sobol")
    assert dict(run["instances"].sizes) == {"chain": 4, "draw": 256}
    assert "saved" not in out  # --json prints only JSON


@pytest.mark.parametrize("path", sorted(EXPERIMENTS.glob("*.toml")), ids=lambda p: p.name)
def test_run_every_shipped_experiment(run_cli, path):
    experiment = load_experiment(path)
    code, out, err = run_cli(["run", path, "--samples", str(16 * experiment.chains)])
    assert (code, err) == (0, "")
    assert out.startswith(experiment.name + ": ")
    assert experiment.model_spec.outputs[0] in out


def test_run_point_values(run_cli):
    code, out, err = run_cli(["run", EXPERIMENTS / "seed000_comments.toml"])
    assert (code, err) == (0, "")
    assert "point values" in out
    instances = next(line for line in out.splitlines() if line.strip().startswith("instances"))
    assert "1.6e+06" in instances
    speedup = next(line for line in out.splitlines() if line.strip().startswith("serial_speedup"))
    assert re.search(r"\s10\s", speedup)


def test_priors_lists_implied_quantiles(run_cli):
    path = EXPERIMENTS / "baseline.toml"
    code, out, err = run_cli(["priors", path])
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == "baseline: priors of the compute model"
    assert lines[1].split()[:6] == ["input", "unit", "p01", "p50", "p99", "mean"]
    experiment = load_experiment(path)
    for name, prior in experiment.priors.items():
        row = next(line for line in lines if line.startswith(name + " "))
        assert prior.unit in row
    # the values shown are the prior's own quantiles, to 4 significant digits
    row = next(line for line in lines if line.startswith("train_days "))
    p01, p50, p99 = experiment.priors["train_days"].dist.ppf(np.array([0.01, 0.5, 0.99]))
    assert [format_value(v) for v in (p01, p50, p99)] == row.split()[2:5]
    assert "source: " in out


def test_priors_of_the_embedded_default(run_cli, embedded_default):
    code, out, err = run_cli(["priors"])
    assert (code, err) == (0, "")
    assert "cluster_gpus" in out and "p99" in out


def test_priors_of_a_model_axis_list_every_model_s_inputs(run_cli):
    """A model axis: the priors of every model are listed (not only the first scenario's), each input
    that some models lack with the scenarios that have it."""
    from overhang_sim.scenarios import load_scenarios

    path = EXPERIMENTS / "structure_matters.toml"
    code, out, err = run_cli(["priors", path])
    assert (code, err) == (0, "")
    lines = out.splitlines()
    scenarios = load_scenarios(path)
    models = [e.model for e in scenarios.experiments]
    assert lines[0] == f"structure_matters: priors of the {', '.join(models)} models"
    for name in {n for e in scenarios.experiments for n in e.priors}:
        having = [e.model for e in scenarios.experiments if name in e.priors]
        at = next(i for i, line in enumerate(lines) if line.startswith(name + " "))
        label = lines[at + 1].strip()
        if len(having) < len(models):
            assert label == f"in: model={','.join(having)}", name
        else:
            assert not label.startswith("in: "), name


def test_priors_that_an_axis_changes_are_listed_per_value(run_cli, tmp_path):
    """An axis that sets an input's prior: one row per value, each with its own quantiles and scenarios."""
    (tmp_path / "study.toml").write_text(
        f'name = "study"\nmodel = "compute"\npriors = ["{EXPERIMENTS.parent / "priors" / "baseline.toml"}"]\n\n[[axes]]\nname = "year"\nvalues = [2024, 2025]\n'
        'set.cluster_gpus = [{dist = "lognormal", p05 = 2e4, p95 = 8e4}, {dist = "lognormal", p05 = 5e4, '
        'p95 = 2e5}]\n', encoding="utf-8")
    code, out, err = run_cli(["priors", tmp_path / "study.toml"])
    assert (code, err) == (0, "")
    lines = out.splitlines()
    rows = [i for i, line in enumerate(lines) if line.startswith("cluster_gpus ")]
    assert len(rows) == 2
    for i, year, median in zip(rows, (2024, 2025), (np.sqrt(2e4 * 8e4), np.sqrt(5e4 * 2e5))):
        assert lines[i].split()[3] == format_value(median) and lines[i + 1].strip() == f"in: year={year}"
    row = next(line for line in lines if line.startswith("train_days "))  # the same in both years
    assert not lines[lines.index(row) + 1].strip().startswith("in: ")


def test_scenario_label_names_a_block_by_its_axes_and_other_sets_one_by_one():
    from overhang_sim.cli import _scenario_label
    from overhang_sim.scenarios import ScenarioSet

    grid = ScenarioSet(dims=("a", "b"), coords={"a": (1, 2), "b": ("x", "y", "z")}, experiments=(None,) * 6)
    assert _scenario_label(grid, [0, 1, 2]) == "a=1"
    assert _scenario_label(grid, [1, 4]) == "b=y"
    assert _scenario_label(grid, [0, 1, 3, 4]) == "b=x,y"  # every value of a: not named
    assert _scenario_label(grid, [0, 4]) == "(a=1, b=x) (a=2, b=y)"
    assert _scenario_label(grid, [0, 4], most=1) == "(a=1, b=x) and 1 more"


def test_version(run_cli):
    code, out, err = run_cli(["--version"])
    assert code == 0
    assert out.strip() == f"overhang-sim {overhang_sim.__version__}"


@pytest.mark.parametrize(("value", "error", "shown"), [
    (1234567.0, 2.1e4, "1.23e+06"),
    (6.1234, 0.004, "6.123"),
    (6.1234, float("nan"), "6.123"),
    (1.2e6, 0.0, "1.2e+06"),
    (0.0, 0.1, "0"),
    (123.456, 1e6, "1e+02"),  # at least one digit even when the error exceeds the value
])
def test_format_value_shows_the_supported_digits(value, error, shown):
    assert format_value(value, error) == shown


def test_priors_of_a_study_name_what_its_axes_fix(run_cli, tmp_path):
    """An input an axis fixes was listed with the prior file's distribution (required_speed_sweep's
    lognormal required_tokens_per_s, never drawn), or not at all when no file gives it a prior."""
    priors = (EXPERIMENTS.parent / "priors" / "baseline.toml").read_text(encoding="utf-8")
    start = priors.index("[horizon_length]")
    end = priors.index("\n[", start + 1)
    (tmp_path / "priors.toml").write_text(priors[:start] + priors[end + 1:], encoding="utf-8")
    (tmp_path / "study.toml").write_text('name = "study"\nmodel = "compute"\npriors = ["priors.toml"]\n'
                                         '\n[[axes]]\nname = "horizon_length"\nvalues = [1000, 2000]\n',
                                         encoding="utf-8")
    for path, name, values in [(tmp_path / "study.toml", "horizon_length", "1000, 2000"),
                               (EXPERIMENTS / "required_speed_sweep.toml", "required_tokens_per_s", "10, 30, 50")]:
        code, out, err = run_cli(["priors", path])
        assert (code, err) == (0, "")
        row = next(line for line in out.splitlines() if line.startswith(name + " "))
        assert row.endswith(f"set per scenario by [[axes]] {name}: {values}") and "lognormal" not in row
