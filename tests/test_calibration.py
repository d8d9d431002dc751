"""The shipped MLPerf table and the fit of the throughput curve's knee and slope."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from overhang_sim import ConfigError
from overhang_sim.calibration import COLUMNS, curve, fit_throughput_curve, load_mlperf, mlperf_path
from overhang_sim.modelspec import builtin_models


def test_the_table_is_shipped_with_its_sources():
    table = load_mlperf()
    assert tuple(table.columns) == COLUMNS
    assert len(table) == 6
    row = table[(table.scenario == "interactive")].iloc[0]
    assert (row.model.startswith("DeepSeek-R1"), row.system, row.tokens_per_gpu_s) == (True, "GB300", 870)
    assert (table.loc[table.scenario == "offline", "per_user_tokens_per_s"] == 0).all()
    assert table.source.str.contains("MLPerf Inference v").all()


def test_the_fitted_curve_reproduces_the_table_through_the_shipped_model_file():
    """Each per-GPU figure, from the fitted parameters through throughput.toml's formula,
    lies within twice the fit's stated error of the measurement."""
    fit = fit_throughput_curve()
    _, log_error = fit.predict()
    model = builtin_models()["throughput"]
    groups = fit.table["group"].to_numpy()
    out = model({"cluster_gpus": 1.0, "required_tokens_per_s": fit.table["per_user_tokens_per_s"].to_numpy(),
                 "tokens_per_gpu_s_max": np.exp(fit.estimate[groups]), "knee_tokens_per_s": fit.knee,
                 "throughput_slope": fit.slope, "knee_sharpness": fit.sharpness})
    measured = fit.table["tokens_per_gpu_s"].to_numpy(dtype=float)
    assert np.all(np.abs(np.log(out["tokens_per_gpu_s"] / measured)) <= 2 * log_error)
    assert np.all(log_error > 0)


def test_the_fit_and_its_stated_numbers():
    fit = fit_throughput_curve()
    assert fit.sharpness == 2.0 and fit.sigma == 0.1
    assert fit.knee == pytest.approx(12.45, rel=1e-3)
    assert fit.slope == pytest.approx(1.355, rel=1e-3)
    # gamma 4 gives the two-point slope between the server and interactive rows, about 1.1
    assert fit_throughput_curve(sharpness=4.0).slope == pytest.approx(1.12, abs=0.01)
    prior = fit.prior()
    assert prior["knee_tokens_per_s"]["p05"] < fit.knee < prior["knee_tokens_per_s"]["p95"]
    assert prior["throughput_slope"]["p05"] < fit.slope < prior["throughput_slope"]["p95"]
    assert 0 < prior["rank"] < 1


def test_the_prior_shipped_in_frontier_2027_is_the_fit():
    import tomllib

    from strategies import PRIORS

    shipped = tomllib.loads((PRIORS / "frontier_2027.toml").read_text())
    prior = fit_throughput_curve().prior()
    for name in ("knee_tokens_per_s", "throughput_slope"):
        for key in ("p05", "p95"):
            assert shipped[name][key] == pytest.approx(prior[name][key], rel=5e-3), (name, key)


def _synthetic(knee=15.0, slope=1.3, sharpness=2.0, speeds=(0.0, 3.0, 10.0, 30.0, 100.0, 300.0)):
    rows = [{"round": "x", "year": 2026, "model": "m", "system": "s", "gpus": 8, "precision": "", "scenario": "t",
             "per_user_tokens_per_s": s, "tokens_per_gpu_s": float(curve(s, 5000.0, knee, slope, sharpness)),
             "source": "synthetic (2026)"} for s in speeds]
    return pd.DataFrame(rows, columns=list(COLUMNS))


def test_noise_free_data_give_back_their_parameters():
    fit = fit_throughput_curve(_synthetic())
    assert (fit.knee, fit.slope) == pytest.approx((15.0, 1.3), rel=1e-8)
    assert np.exp(fit.estimate[0]) == pytest.approx(5000.0, rel=1e-9)


def test_the_stated_error_is_the_spread_of_refits_to_noisy_data():
    """The covariance from the Jacobian matches the spread of 300 refits of simulated data."""
    table = _synthetic()
    fit = fit_throughput_curve(table, sigma=0.05)
    rng = np.random.default_rng(20261202)
    knees, slopes = [], []
    for _ in range(300):
        noisy = table.copy()
        noisy["tokens_per_gpu_s"] = table["tokens_per_gpu_s"] * np.exp(rng.normal(0, 0.05, len(table)))
        refit = fit_throughput_curve(noisy, sigma=0.05)
        knees.append(np.log(refit.knee))
        slopes.append(np.log(refit.slope))
    # the sd of 300 normal draws has a relative standard error of 1/sqrt(600) = 4 %; allow 5 of them
    assert np.std(knees) == pytest.approx(fit.log_error("log_knee_tokens_per_s"), rel=0.2)
    assert np.std(slopes) == pytest.approx(fit.log_error("log_throughput_slope"), rel=0.2)


def test_a_table_without_speed_targets_cannot_fit_a_knee(tmp_path):
    table = load_mlperf()
    with pytest.raises(ConfigError, match="per_user_tokens_per_s: needs results at two or more per-user speeds"):
        fit_throughput_curve(table[table.scenario == "offline"])


def test_a_bad_table_names_its_file_and_column(tmp_path):
    text = mlperf_path().read_text()
    bad = tmp_path / "mlperf.csv"
    bad.write_text(text.replace(",source", ",sources"))
    with pytest.raises(ConfigError, match=rf"{bad}: source: is missing"):
        load_mlperf(bad)
    bad.write_text(text.replace("(MLCommons, 2024)", "(MLCommons)"))
    with pytest.raises(ConfigError, match="source: every row cites its source with a year"):
        load_mlperf(bad)
    bad.write_text(text.replace(",870,", ",-870,"))
    with pytest.raises(ConfigError, match="tokens_per_gpu_s: must be a positive number"):
        load_mlperf(bad)
