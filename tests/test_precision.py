"""The precision rule (``overhang run --precision``): stops within its target, reuses its
chains (the result is a plain run with the final chains), and reports calibrated errors.

Known answer: the main output is a lognormal X with log10 X ~ N(5, s^2), s = 1 / z_0.95
(p05 = 1e4, p95 = 1e6), so the q-quantile of log10 X is 5 + s z_q and
P(X >= t) = 1 - Phi((log10 t - 5) / s).

Calibration: over SEEDS seeds, each estimate (5 quantiles and 3 exceedance
probabilities per seed) should lie within 2 MCSE of the truth about 95 % of the time
(95.4 % for a normal error; a little less with the t spread of ~20 chains and the
optional stopping). With 8 * 40 = 320 checks, the binomial s.e. of the coverage is
sqrt(0.95 * 0.05 / 320) = 0.012, doubled because checks within a seed are correlated;
the bounds below are 0.95 -/+ about 3 of those (0.88, 0.995 capped).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from overhang_sim import batch
from overhang_sim.errors import ConfigError
from overhang_sim.precision import PrecisionTarget, achieved_errors, chains_needed, run_until_precise
from overhang_sim.scenarios import scenarios_from_table

S = 1 / stats.norm.ppf(0.95)
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
THRESHOLDS = (1e4, 1e5, 1e6)
SEEDS = 40
TARGET = PrecisionTarget(0.02, prob=0.01, max_samples=10**6)


def lognormal(seed=1, samples=2000, chains=8):
    table = {
        "name": "lognormal", "samples": samples, "chains": chains, "seed": seed,
        "model": {"name": "one_lognormal", "main": "instances",
                  "quantities": {"x": {"unit": "instance"},
                                 "instances": {"unit": "instance", "formula": "1 * x"}}},
        "overrides": {"x": {"dist": "lognormal", "p05": 1e4, "p95": 1e6, "unit": "instance"}},
        "summary": {"outputs": ["instances"], "quantiles": list(QUANTILES), "intervals": [0.9],
                    "thresholds": list(THRESHOLDS)},
    }
    return scenarios_from_table(table, "", "lognormal.toml")


def _truth():
    quantile = 5 + S * stats.norm.ppf(QUANTILES)
    prob = stats.norm.sf((np.log10(THRESHOLDS) - 5) / S)
    return quantile, prob


def test_stops_within_the_target_and_equals_a_plain_run_with_its_chains():
    scenarios = lognormal()
    result = run_until_precise(scenarios, TARGET)
    errors = achieved_errors(result, "instances")
    assert result.attrs["precision_met"] == 1
    assert errors["quantile"] <= TARGET.quantile and errors["prob"] <= TARGET.prob
    chains = result.attrs["precision_chains"]
    assert chains > 8  # the first round (2,000 draws) was not enough: s * 2.11 / sqrt(2000) = 0.029
    assert result.attrs["precision_samples"] == chains * 250 == result.sizes["chain"] * result.sizes["draw"]
    plain = batch.run(lognormal(samples=chains * 250, chains=chains))
    for name in ("instances", "quantile", "quantile_mcse", "prob_at_least", "prob_at_least_mcse"):
        np.testing.assert_array_equal(result[name].values, plain[name].values)


def test_reported_errors_are_calibrated_over_seeds():
    quantile, prob = _truth()
    inside = []
    for seed in range(SEEDS):
        result = run_until_precise(lognormal(seed=seed), TARGET)
        log = result.sel(output="instances", scale="log10")
        inside += list(np.abs(log["quantile"].values - quantile) <= 2 * log["quantile_mcse"].values)
        inside += list(np.abs(result["prob_at_least"].values - prob) <= 2 * result["prob_at_least_mcse"].values)
    coverage = np.mean(inside)
    assert 0.88 <= coverage <= 0.995, coverage


def test_the_budget_stops_a_target_it_cannot_reach():
    result = run_until_precise(lognormal(), PrecisionTarget(1e-4, max_samples=5000))
    assert result.attrs["precision_met"] == 0
    assert result.attrs["precision_samples"] == 5000 == result.sizes["chain"] * result.sizes["draw"]


def test_chains_needed_follows_the_square_root_law():
    target = PrecisionTarget(0.01)
    assert chains_needed(8, {"quantile": 0.02, "prob": 0.0}, target) == 36  # 8 * 1.1 * 4, rounded up
    assert chains_needed(8, {"quantile": 0.0101, "prob": 0.0}, target) == 9  # at least one more
    assert chains_needed(8, {"quantile": 1.0, "prob": 0.0}, target) == 128  # at most 16 times as many


@pytest.mark.parametrize("bad", [{"quantile": 0}, {"quantile": 0.01, "prob": -1}, {"quantile": float("nan")},
                                 {"quantile": 0.01, "max_samples": 0}])
def test_bad_targets_are_refused(bad):
    with pytest.raises(ConfigError):
        PrecisionTarget(**bad)


def test_command_line(capsys):
    from overhang_sim.cli import main

    assert main(["run", "--samples", "4000", "--precision", "0.02", "--quiet"]) == 0
    assert "precision met" in capsys.readouterr().out
    assert main(["run", "--max-samples", "1e6"]) == 2
    assert "--max-samples: needs --precision" in capsys.readouterr().err


def test_an_interrupted_precision_run_resumes_from_its_chains(tmp_path, monkeypatch):
    out = tmp_path / "run.nc"
    whole = run_until_precise(lognormal(), TARGET)
    real, calls = batch.chain_task, []

    def interrupted(*args):
        if len(calls) == 11:  # past the first round's 8 chains, inside the second round
            raise KeyboardInterrupt
        calls.append(args[2])
        return real(*args)

    monkeypatch.setattr(batch, "chain_task", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_until_precise(lognormal(), TARGET, out=out)
    assert (tmp_path / "run.nc.partial").is_dir() and not out.exists()
    calls.clear()
    monkeypatch.setattr(batch, "chain_task", lambda *args: calls.append(args[2]) or real(*args))
    resumed = run_until_precise(lognormal(), TARGET, out=out, resume=True)
    assert sorted(calls) == list(range(11, whole.attrs["precision_chains"]))  # each chain drawn once in all
    np.testing.assert_array_equal(resumed["instances"].values, whole["instances"].values)
    assert resumed.attrs["precision_chains"] == whole.attrs["precision_chains"]
    assert out.exists() and not (tmp_path / "run.nc.partial").exists()
