"""``overhang frontier`` and ``overhang sensitivity`` print 80 columns by default, as ``overhang run`` does.

Every line of every shipped experiment's default output is checked; the wide tables
(every band, every measure with its interval) stay behind ``--full``/``--wide``. An
experiment a command cannot handle gives the one-line error instead (file, key, problem).
"""

from __future__ import annotations

import dataclasses

import pytest
from strategies import EXPERIMENTS

from overhang_sim import load_experiment
from overhang_sim.screen import WIDTH

SHIPPED = sorted(p.name for p in EXPERIMENTS.glob("*.toml"))


def _fits(out: str, width: int = WIDTH) -> None:
    too_wide = [line for line in out.splitlines() if len(line) > width]
    assert not too_wide, "\n".join(too_wide)


def _one_line_error(code: int, out: str, err: str, name: str) -> None:
    assert code == 2 and out == "", err
    assert err.startswith(f"overhang: error: {EXPERIMENTS / name}: ") and err.count("\n") == 1, err


@pytest.mark.parametrize("name", SHIPPED)
def test_frontier_fits_80_columns(run_cli, name):
    chains = load_experiment(EXPERIMENTS / name).chains
    code, out, err = run_cli(["frontier", EXPERIMENTS / name, "--samples", str(50 * chains)])
    if code:  # a model without the speed input (data_volume, hardware_price)
        _one_line_error(code, out, err, name)
        return
    assert err == "", err
    _fits(out)
    assert out.splitlines()[0].startswith("frontier")
    assert any(line.split()[:2] == ["speed", "median"] or line.split()[:1] == ["speed"]
               for line in out.splitlines())


@pytest.mark.parametrize("name", SHIPPED)
def test_sensitivity_fits_80_columns(run_cli, name):
    chains = load_experiment(EXPERIMENTS / name).chains
    code, out, err = run_cli(["sensitivity", EXPERIMENTS / name, "--samples", str(1000 * chains),
                              "--sobol-samples", "256"])
    if code:  # every input fixed: nothing to rank
        _one_line_error(code, out, err, name)
        return
    _fits(out)
    heads = [line for line in out.splitlines() if line.split()[:2] == ["#", "input"]]
    assert heads, out
    assert "--full" in out


def test_the_wide_forms_stay_behind_full(run_cli):
    """--wide keeps every band of the frontier and every measure's interval (wider than 80 columns)."""
    path = EXPERIMENTS / "path_comparison.toml"
    code, out, err = run_cli(["frontier", path, "--samples", "800", "--wide"])
    assert code == 0
    assert out.count("50 % band") == out.count("90 % band") == 2  # one block per scenario
    code, out, err = run_cli(["sensitivity", EXPERIMENTS / "baseline.toml", "--samples", "8000",
                              "--sobol-samples", "256", "--full"])
    assert code == 0
    row = next(line for line in out.splitlines() if line.split()[:1] == ["1"])
    assert row.count("[") == 3 and max(map(len, out.splitlines())) > WIDTH  # Spearman and VOI with intervals too


def test_sensitivity_keeps_the_ranking_and_its_interval_in_80_columns():
    """The 80-column ranking: the same order and the same interval of the measure it ranks by."""
    from overhang_sim.sensitivity_analysis import sensitivity
    from overhang_sim.sensitivity_screen import sensitivity_lines
    from overhang_sim.tables import sensitivity_table

    experiment = load_experiment(EXPERIMENTS / "baseline.toml")
    ds = sensitivity(dataclasses.replace(experiment, samples=8000), methods=("given_data", "voi", "tornado"))
    wide = [line.split() for line in sensitivity_table(ds).splitlines() if line.split()[:1] == ["1"]]
    narrow = [line.split() for line in sensitivity_lines(ds, width=60) if line.split()[:1] == ["1"]]
    assert narrow and [row[:5] for row in narrow] == [row[:5] for row in wide]  # rank, input, estimate [lo, hi]
    assert all(len(line) <= 60 for line in sensitivity_lines(ds, width=60))
