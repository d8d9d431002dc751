"""experiments/structure_matters.toml: the throughput, compute and roofline paths on the same
draws as a weighted model axis, pooled, with the roofline's binding shares and the frontier."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import xarray as xr
from strategies import EXPERIMENTS

from overhang_sim import batch, load_experiment
from overhang_sim.frontier import scenario_frontier
from overhang_sim.pooling import _mid_cdf, axis_variance_share
from overhang_sim.scenarios import load_scenarios

STUDY = EXPERIMENTS / "structure_matters.toml"
MODELS = ("roofline", "throughput", "compute")
WEIGHTS = np.array([0.45, 0.35, 0.2])
SHARED = {"cluster_gpus": MODELS, "fleet_multiplier": MODELS, "serving_share": MODELS,
          "required_tokens_per_s": MODELS, "context_tokens": ("roofline", "compute"),
          "n_layers": ("roofline", "compute")}
BOUNDS = ("compute_binds", "bandwidth_binds", "capacity_binds", "latency_floor_binds")


def small(samples: int = 8_000):
    scenarios = load_scenarios(STUDY)
    return dataclasses.replace(scenarios, experiments=tuple(dataclasses.replace(e, samples=samples)
                                                            for e in scenarios.experiments))


@pytest.fixture(scope="module")
def study():
    return small(), batch.run(small(), quiet=True)


def test_the_study_is_a_weighted_model_axis_over_the_three_paths(study):
    scenarios, result = study
    assert scenarios.dims == ("model",) and scenarios.coords["model"] == MODELS
    assert scenarios.weights == {"model": tuple(WEIGHTS)}
    assert load_experiment(STUDY).model == "roofline"  # the file alone loads (test_data_files runs it)
    assert set(result["model"].values) == set(MODELS)
    assert "pooled_quantile" in result and "variance_share" in result


def test_the_paths_share_their_common_inputs_draw_for_draw(study):
    scenarios, result = study
    run_of = {m: batch.run(dataclasses.replace(scenarios, experiments=(e,), dims=(), coords={}, weights={}),
                           quiet=True) for m, e in zip(MODELS, scenarios.experiments)}
    for name, models in SHARED.items():
        first = run_of[models[0]][name].values
        assert first.std() > 0, name  # a sampled input, not a constant
        for m in models[1:]:
            np.testing.assert_array_equal(run_of[m][name].values, first, err_msg=f"{name} in {m}")
    # the roofline serves on the training cluster: serving_gpus is cluster_gpus itself
    roofline = run_of["roofline"]
    np.testing.assert_array_equal(roofline["serving_gpus"].values, roofline["cluster_gpus"].values)
    # and the model axis run draws what the three separate runs draw
    np.testing.assert_array_equal(result["instances"].sel(model="compute").values,
                                  run_of["compute"]["instances"].values)


def test_pooled_answer_is_the_weighted_mixture_of_the_paths(study):
    _, result = study
    x = [result["instances"].sel(model=m).values.ravel() for m in MODELS]
    n = min(len(v) for v in x)
    pooled = result["pooled_quantile"].sel(output="instances", scale="linear")
    for p in result["prob"].values:
        q = float(pooled.sel(prob=p))
        below = sum(w * np.mean(v < q) for w, v in zip(WEIGHTS, x))
        at_most = sum(w * np.mean(v <= q) for w, v in zip(WEIGHTS, x))
        assert below - 2 / n <= p <= at_most + 2 / n, (p, q, below, at_most)  # q inverts the mixture CDF
    # P(>= t) of the mixture is the weighted sum of the paths' own, to rounding
    own = result["prob_at_least"].transpose("model", "threshold").values
    np.testing.assert_allclose(result["pooled_prob_at_least"].values, WEIGHTS @ own, rtol=1e-12)
    # and it agrees with a hand-drawn mixture (each draw picks a path with probability w) within MC error
    rng = np.random.default_rng(7)
    pick = rng.choice(3, size=n, p=WEIGHTS)
    mixed = np.choose(pick, [v[:n] for v in x])
    for t in result["threshold"].values:
        exact = float(result["pooled_prob_at_least"].sel(threshold=t))
        mcse = np.sqrt(exact * (1 - exact) / n) + 1e-12
        assert abs(np.mean(mixed >= t) - exact) < 5 * mcse + 1e-3, t


def test_binding_shares_are_probabilities_of_the_roofline_only(study):
    _, result = study
    roofline = result.sel(model="roofline")
    shares = [1 - float(roofline["prob_zero"].sel(output=b)) for b in BOUNDS]
    errors = [float(roofline["prob_zero_mcse"].sel(output=b)) for b in BOUNDS]
    assert all(0 <= s <= 1 for s in shares) and all(e >= 0 for e in errors)
    assert sum(shares) >= 1 - 5 * np.sqrt(np.sum(np.square(errors)))
    every_draw = sum(roofline[b].values for b in BOUNDS)
    assert np.all(every_draw >= 1)  # some bound always binds (ties may name more than one)
    assert shares[BOUNDS.index("capacity_binds")] > 0.05 and shares[BOUNDS.index("bandwidth_binds")] > 0.05
    for other in ("throughput", "compute"):  # no binding bound outside the roofline, and none pooled
        assert np.isnan(result["mean"].sel(model=other, output="compute_binds", scale="linear"))
    assert bool(result["pooled_quantile"].sel(output="compute_binds").isnull().all())


def test_variance_share_uses_the_pooled_rank_when_instances_has_zeros(study):
    _, result = study
    zero = result["instances"].copy()
    zero.loc[{"model": "roofline", "chain": 0, "draw": 0}] = 0.0  # an answer: no copy meets the speed
    broken = result.assign(instances=zero)
    share = axis_variance_share(broken, "model", WEIGHTS, scale="rank")
    assert 0 <= float(share["variance_share"]) <= 1 and share.attrs["scale"] == "rank"
    with pytest.raises(Exception, match="undefined"):
        axis_variance_share(broken, "model", WEIGHTS)  # log10 stays refused


def test_mid_cdf_of_a_hand_computed_mixture():
    parts = np.array([[0.0, 0.0, 1.0, 2.0], [0.0, 3.0, 3.0, 3.0]])
    found = _mid_cdf(parts, np.array([0.5, 0.5]))
    # atoms: 0 has mass 3/8, 1 and 2 have 1/8 each, 3 has 3/8
    expected = np.array([[3 / 16, 3 / 16, 3 / 8 + 1 / 16, 1 / 2 + 1 / 16], [3 / 16, 5 / 8 + 3 / 16, 13 / 16, 13 / 16]])
    np.testing.assert_allclose(found, expected)
    assert np.isclose((found * 0.125).sum(), 0.5)  # the mid-CDF of any distribution has mean 1/2


def test_frontier_of_every_path_and_the_pooled_mixture(tmp_path, run_cli):
    scenarios = small(1_600)
    front = scenario_frontier(scenarios)
    assert front["median"].dims == ("model", "speed")
    np.testing.assert_allclose(front["pooled_prob_zero"].values, WEIGHTS @ front["prob_zero"].values, rtol=1e-12)
    compute = front["median"].sel(model="compute").values
    speeds = front["speed"].values
    np.testing.assert_allclose(compute * speeds, compute[0] * speeds[0], rtol=1e-9)  # 1/speed: compute-bound
    lo, hi = front["median"].min("model"), front["median"].max("model")
    assert bool(((front["pooled_median"] >= lo) & (front["pooled_median"] <= hi)).all())
    out = tmp_path / "structure.nc"
    code, text, _ = run_cli(["run", str(STUDY), "--samples", "1600", "--out", str(out), "--quiet"])
    assert code == 0
    assert "P(indicator = 1)" in text and "roofline  throughput   compute    pooled" in text  # the first screen
    code, full, _ = run_cli(["run", str(STUDY), "--samples", "1600", "--full", "--quiet"])
    assert code == 0
    assert "P(indicator = 1) in the scenarios whose model has it" in full and "pooled over model" in full
    saved = xr.open_dataset(tmp_path / "structure.frontier.nc")
    assert set(saved["model"].values) == set(MODELS) and "pooled_median" in saved
    saved.close()


def test_sensitivity_ranks_an_output_with_zero_draws_instead_of_skipping_it(tmp_path):
    from overhang_sim import simulate
    from overhang_sim.sensitivity_analysis import sensitivity

    path = tmp_path / "zeros.toml"
    path.write_text(f'''# speeds past the roofline's serial ceiling: instances = 0 in many draws
name = "zeros"
model = "roofline"
priors = ["{(EXPERIMENTS.parent / "priors" / "roofline.toml").as_posix()}"]
samples = 16000
chains = 8
seed = 3
[overrides.required_tokens_per_s]
dist = "lognormal"
p05 = 50
p95 = 1000
unit = "token/s"
source = "test (2026): speeds past the serial ceiling"
[summary]
outputs = ["instances"]
''', encoding="utf-8")
    experiment = load_experiment(path)
    run = simulate(experiment)
    zeros = float((run["instances"] == 0).mean())
    assert 0.05 < zeros < 0.95
    ds = sensitivity(experiment, run=run, sobol_samples=2**10, outputs=["instances"])
    s = ds.sel(output="instances")  # analysed, not skipped
    for measure in ("sobol_first", "sobol_total", "given_data_first"):
        estimate = s["estimate"].sel(measure=measure).values
        assert np.isfinite(estimate).all() and (estimate > -0.1).all() and (estimate < 1.1).all(), measure
    top = str(s["input"].values[np.argmax(s["estimate"].sel(measure="sobol_total").values)])
    assert top == "required_tokens_per_s"  # the speed decides whether any copy runs
    if "voi" in ds["measure"].values:  # in orders of magnitude: undefined at 0
        assert np.isnan(s["estimate"].sel(measure="voi").values).all()
    assert "instances" not in ds.attrs["skipped_outputs"] and "rank" in ds.attrs["notes"]


def test_the_first_screen_shows_binding_shares_and_every_paths_frontier(study):
    """`overhang run` on the study, in 80 columns: P(each bound binds) for the roofline (its own
    numbers), and a frontier column per path plus the pooled one, each the frontier's median."""
    from overhang_sim.frontier import frontier_spec
    from overhang_sim.screen import first_screen, frontier_lines
    from overhang_sim.tables import format_value, summary_part

    scenarios, result = study
    lines = first_screen(result, scenarios.dims)
    summary = summary_part(result).sel(model="roofline")
    for bound in ("compute_binds", "bandwidth_binds", "capacity_binds"):
        s = summary.sel(output=bound)
        share = format_value(1 - float(s["prob_zero"]), float(s["prob_zero_mcse"]))
        assert any(line.split()[:3] == [bound, "roofline", share] for line in lines), (bound, share, lines)
    front = scenario_frontier(scenarios, spec=frontier_spec(scenarios.base))
    shown = frontier_lines(front)
    assert all(len(line) <= 80 for line in lines + shown)
    header = next(line.split() for line in shown if line.split()[:1] == ["speed"])
    assert header == ["speed", "roofline", "throughput", "compute", "pooled"]
    first = next(line.split() for line in shown if line.split()[:1] == [f"{front['speed'].values[0]:.4g}"])
    expected = [format_value(float(front["median"].sel(model=m).isel(speed=0)),
                             float(front["median_mcse"].sel(model=m).isel(speed=0)))
                for m in ("roofline", "throughput", "compute")]
    assert first[1:4] == expected
