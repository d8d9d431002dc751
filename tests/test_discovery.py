"""PRIM scenario discovery: a planted box is found, its figures are honest, and the CLI fails in one line."""

from __future__ import annotations

import json
import math
import re

import numpy as np
from strategies import EXPERIMENTS
import pytest
import xarray as xr

from overhang_sim.cli import main
from overhang_sim.discovery import discover, explain_text, peel
from overhang_sim.errors import ConfigError

INSIDE, OUTSIDE = 0.9, 0.05
BOX_LOW_X0, BOX_HIGH_X1 = 0.6, 0.3


def planted_run(seed: int, chains: int = 4, draws: int = 5000, inputs: int = 4) -> xr.Dataset:
    """Uniform inputs; the outcome is 1 with probability 0.9 inside x0 > 0.6 and x1 < 0.3, else 0.05."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(size=(inputs, chains, draws))
    inside = (x[0] > BOX_LOW_X0) & (x[1] < BOX_HIGH_X1)
    y = (rng.uniform(size=inside.shape) < np.where(inside, INSIDE, OUTSIDE)).astype(float)
    run = xr.Dataset({f"x{i}": (("chain", "draw"), x[i], {"role": "input", "units": "1"}) for i in range(inputs)})
    run["outcome"] = (("chain", "draw"), y, {"role": "output", "units": "1"})
    run.attrs = {"main_output": "outcome", "experiment_name": "planted"}
    return run


@pytest.mark.parametrize("seed", range(3))
def test_prim_recovers_a_planted_box(seed):
    boxes = discover(planted_run(seed), 0.5)
    first = boxes.isel(box=0)
    # the bounds sit within two peels (2 x 5 % of the box's width) of the planted ones ...
    assert abs(float(first["lower"].sel(input="x0")) - BOX_LOW_X0) < 0.04
    assert abs(float(first["upper"].sel(input="x1")) - BOX_HIGH_X1) < 0.04
    # ... and nothing else is restricted: the irrelevant inputs and the far sides were pruned
    lower, upper = first["lower"].values, first["upper"].values
    assert np.isfinite(lower).tolist() == [True, False, False, False]
    assert np.isfinite(upper).tolist() == [False, True, False, False]
    # density and coverage match the planted values within 3 held-out standard errors (+ the bounds' slack)
    assert abs(float(first["density"]) - INSIDE) < 3 * float(first["density_se"]) + 0.01
    coverage = INSIDE * 0.12 / (INSIDE * 0.12 + OUTSIDE * 0.88)
    assert abs(float(first["coverage"]) - coverage) < 3 * float(first["coverage_se"]) + 0.06


def test_standard_errors_are_binomial_on_the_held_out_half():
    run = planted_run(0)
    boxes = discover(run, 0.5)
    first = boxes.isel(box=0)
    held_out = run.sizes["draw"] * 2  # chains 1 and 3 of 4
    n_box = float(first["support"]) * held_out
    d = (float(first["density"]) * n_box + 0.5) / (n_box + 1)  # Jeffreys' half count: no error of 0 at 0 or 1
    assert float(first["density_se"]) == pytest.approx(math.sqrt(d * (1 - d) / n_box), rel=1e-6)
    assert boxes.attrs["base_rate"] == pytest.approx(float((run["outcome"] >= 0.5).mean()))


def test_no_signal_gives_no_box():
    run = planted_run(1)
    run["outcome"][:] = (np.random.default_rng(5).uniform(size=run["outcome"].shape) < 0.2).astype(float)
    boxes = discover(run, 0.5)
    assert boxes.sizes["box"] == 0 and "no box of inputs" in explain_text(boxes)


def test_one_chain_splits_alternate_draws():
    boxes = discover(planted_run(2, chains=1, draws=20_000), 0.5)
    assert boxes.sizes["box"] >= 1 and "every other draw" in explain_text(boxes)


def test_peeling_stops_at_the_minimum_support():
    run = planted_run(3)
    x = np.stack([run[f"x{i}"].values.ravel() for i in range(4)], axis=1)
    y = run["outcome"].values.ravel() >= 0.5
    lower, upper = peel(x, y, alpha=0.05, min_support=0.1)[-1]
    inside = np.all((x >= lower) & (x <= upper), axis=1)
    assert 0.1 <= inside.mean() < 0.1 / 0.95 + 0.01


def test_text_reads_as_conditions():
    text = explain_text(discover(planted_run(0), 0.5))
    assert re.search(r"box 1: x0 >= 0\.6\d* and x1 <= 0\.[23]\d*\n", text)
    assert "against 0.15" in text and "of such draws" in text


@pytest.mark.parametrize(("threshold", "words"), [(2.0, "no draw"), (-1.0, "every draw")])
def test_threshold_outside_the_draws_is_an_error(threshold, words):
    with pytest.raises(ConfigError, match=words):
        discover(planted_run(0, draws=200), threshold)


def test_scenario_axes_and_missing_samples_are_errors():
    run = planted_run(0, draws=200)
    with pytest.raises(ConfigError, match="scenario axes"):
        discover(run.expand_dims(year=[2025, 2026]), 0.5)
    with pytest.raises(ConfigError, match="no draws"):
        discover(run.isel(draw=0, drop=True), 0.5)


# --------------------------------------------------------------------------- CLI


def one_line_error(capsys, argv) -> str:
    try:
        status = main(argv)
    except SystemExit as exit_:  # argparse's usage errors exit from inside parse_args
        status = exit_.code
    assert status == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    return err


def test_cli_picks_a_scenario(capsys, tmp_path):
    from overhang_sim.storage import save

    path = tmp_path / "axes.nc"
    save(xr.concat([planted_run(0), planted_run(1)], dim=xr.DataArray([10, 30], dims="speed", name="speed")), path)
    assert "--scenario speed=VALUE" in one_line_error(capsys, ["explain", str(path), "--above", "0.5"])
    assert main(["explain", str(path), "--above", "0.5", "--scenario", "speed=30"]) == 0
    assert "box 1: x0 >= 0.6" in capsys.readouterr().out
    assert "has no value '20'" in one_line_error(capsys, ["explain", str(path), "--above", "0.5", "--scenario",
                                                          "speed=20"])


def test_cli_bad_file(capsys, tmp_path):
    assert "no such file" in one_line_error(capsys, ["explain", str(tmp_path / "missing.nc"), "--above", "1e8"])
    bad = tmp_path / "bad.nc"
    bad.write_text("not netcdf")
    assert "bad.nc" in one_line_error(capsys, ["explain", str(bad), "--above", "1e8"])


def test_cli_threshold_not_a_number(capsys, tmp_path):
    assert "--above" in one_line_error(capsys, ["explain", str(tmp_path / "x.nc"), "--above", "lots"])


def test_cli_on_a_saved_run(capsys, tmp_path):
    from overhang_sim.storage import save

    path = tmp_path / "planted.nc"
    save(planted_run(0), path)
    assert main(["explain", str(path), "--above", "0.5"]) == 0
    assert "box 1: x0 >= 0.6" in capsys.readouterr().out
    err = one_line_error(capsys, ["explain", str(path), "--above", "7"])
    assert str(path) in err and "--above" in err and "no draw of outcome is >= 7" in err


def test_cli_on_an_experiment_file(capsys):
    path = EXPERIMENTS / "baseline_throughput.toml"
    assert main(["explain", str(path), "--above", "3e6", "--samples", "4000", "--json"]) == 0
    boxes = json.loads(capsys.readouterr().out)
    assert boxes["attrs"]["draws"] == 4000 and boxes["attrs"]["threshold"] == 3e6
