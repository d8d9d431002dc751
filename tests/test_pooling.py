"""pool(), axis_variance_share() and check_weights(): a weighted axis as a mixture.

Known answers. A hand-built result holds, on an axis ``model``, three scenarios with
log10 Y_s ~ N(mu_s + shift_year, sigma_s^2), drawn with common random numbers (one
standard normal per draw, shared by every scenario, as a run of one file shares its
draws). The pooled distribution over ``model`` with weights w is the mixture of
normals in log10, whose CDF, mean, exceedance probabilities, HDI (numerically) and
law-of-total-variance split are closed forms; an explicit mixture sample (each draw
picks its component with probability w_s, independently of the result) is a second,
model-free reference.

Statistical tolerance (as in test_summaries): a reported MCSE is sd(per-chain) /
sqrt(16) with 15 degrees of freedom, so (estimate - exact) / mcse is close to
Student-t with 15 d.o.f.; against the explicit sample, the difference over
sqrt(mcse_a^2 + mcse_b^2) has at least 15 d.o.f. K is the t_15 quantile for a
two-sided family-wise false-alarm rate of 1e-6 over all checks of a test
(Bonferroni). An HDI endpoint converges at the cube-root rate (it is the location of a
"shorth", Kim & Pollard 1990); its reported MCSE (summaries.hdi_chain_error) carries the
chains^(1/6) that this needs on top of the chains' spread.
A too-large MCSE cannot make a check pass: the log10 mean's MCSE is checked against
its exact standard error, and the wrong weights are shown to fail the same checks.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import optimize, stats
from strategies import SWEEP, run_on

from overhang_sim import SummarySpec, summarize
from overhang_sim.errors import ConfigError
from overhang_sim.pooling import (
    axis_variance_share,
    check_weights,
    hdi_of_weighted_sorted,
    mixture_quantiles,
    pool,
)
from overhang_sim.scenarios import load_scenarios
from overhang_sim.summaries import hdi_of_sorted
from overhang_sim.tables import summary_part, summary_table

CHAINS = 16
DRAWS = 2**13
ALPHA = 1e-6  # family-wise false-alarm rate of each statistical test
MUS = np.array([5.0, 5.6, 6.3])  # log10 of the instance count, per model
SIGMAS = np.array([0.5, 0.4, 0.6])
WEIGHTS = np.array([0.5, 0.3, 0.2])
SHIFTS = np.array([0.0, 0.7])  # per year
THRESHOLDS = tuple(10.0 ** np.array([5.2, 5.6, 6.0, 6.4]))
SPEC = SummarySpec(outputs=("instances",), quantiles=(0.05, 0.25, 0.5, 0.75, 0.95), intervals=(0.5, 0.9),
                   thresholds=THRESHOLDS)
OUTPUT_ATTRS = {"units": "instance", "long_name": "concurrent model instances", "role": "output"}
SUMMARY_VARS = ("mean", "mean_mcse", "quantile", "quantile_mcse", "eti_lower", "eti_upper", "eti_lower_mcse",
                "eti_upper_mcse", "hdi_lower", "hdi_upper", "hdi_lower_mcse", "hdi_upper_mcse", "prob_at_least",
                "prob_at_least_mcse", "prob_zero", "prob_zero_mcse", "binary", "tail_shape", "tail_shape_se")
ROOT_PRIORS = SWEEP.split('priors = ["')[1].split('"]')[0]


def k_of(checks: int) -> float:
    """Bound on |t_15| for `checks` comparisons at family-wise rate ALPHA."""
    return float(stats.t.ppf(1 - ALPHA / checks / 2, CHAINS - 1))


# --------------------------------------------------------------------------- builders


def lognormal_result(mus=MUS, sigmas=SIGMAS, seed=0) -> xr.Dataset:
    """A result with axes (model, year) like batch.run's: log10 instances = mu_s + shift + sigma_s z."""
    z = np.random.default_rng(seed).standard_normal((CHAINS, DRAWS))  # common random numbers
    logs = (np.asarray(mus)[:, None, None, None] + SHIFTS[None, :, None, None]
            + np.asarray(sigmas)[:, None, None, None] * z)
    dims = ("model", "year", "chain", "draw")
    params = {"units": "param", "long_name": "parameters", "role": "output"}
    return xr.Dataset({"instances": (dims, 10.0**logs, OUTPUT_ATTRS), "params": (dims, 10.0 ** (logs / 2), params)},
                      coords={"model": ["compute", "throughput", "models/tokens.toml"], "year": [2024, 2030],
                              "chain": np.arange(CHAINS), "draw": np.arange(DRAWS)},
                      attrs={"main_output": "instances", "experiment_name": "lognormal mixture"})


def explicit_mixture_summary(shift, weights, seed) -> xr.Dataset:
    """summarize() of a mixture sample drawn directly: each draw picks model s with probability w_s."""
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(weights), size=(CHAINS, DRAWS), p=weights)
    logs = MUS[pick] + shift + SIGMAS[pick] * rng.standard_normal((CHAINS, DRAWS))
    run = xr.Dataset({"instances": (("chain", "draw"), 10.0**logs, OUTPUT_ATTRS)}, attrs={"main_output": "instances"})
    return summarize(run, SPEC).sel(output="instances")


def mixture_cdf(y, shift, weights=WEIGHTS):
    return np.sum(weights * stats.norm.cdf((np.asarray(y)[..., None] - MUS - shift) / SIGMAS), axis=-1)


def mixture_pdf(y, shift, weights=WEIGHTS):
    return np.sum(weights * stats.norm.pdf((np.asarray(y)[..., None] - MUS - shift) / SIGMAS) / SIGMAS, axis=-1)


def mixture_hdi(mass, shift):
    """The exact HDI of the (unimodal) log10 mixture: the level set {pdf >= c} holding `mass`."""
    lo, hi = MUS.min() + shift - 8, MUS.max() + shift + 8
    mode = optimize.minimize_scalar(lambda y: -mixture_pdf(y, shift), bounds=(lo, hi), method="bounded").x

    def ends(level):
        return (optimize.brentq(lambda y: mixture_pdf(y, shift) - level, lo, mode),
                optimize.brentq(lambda y: mixture_pdf(y, shift) - level, mode, hi))

    level = optimize.brentq(lambda c: np.diff(mixture_cdf(ends(c), shift))[0] - mass, 1e-9,
                            mixture_pdf(mode, shift) * (1 - 1e-9))
    return ends(level)


def _write(tmp_path, text, name):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return load_scenarios(path)


@pytest.fixture(scope="module")
def lognormal():
    return lognormal_result()


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    """batch.run on the shared sweep: axes required_tokens_per_s (10, 30, 50) x year (2024, 2026)."""
    return run_on(_write(tmp_path_factory.mktemp("sweep"), SWEEP, "sweep.toml"))


@pytest.fixture(scope="module")
def paths(tmp_path_factory):
    """batch.run with a structural axis: the model (compute or throughput path) x required speed."""
    text = (f'name = "paths"\nmodel = "compute"\npriors = ["{ROOT_PRIORS}"]\nsamples = 2000\nchains = 4\nseed = 5\n'
            '[[axes]]\nname = "model"\nvalues = ["compute", "throughput"]\n'
            '[[axes]]\nname = "required_tokens_per_s"\nvalues = [10, 50]\n')
    return run_on(_write(tmp_path_factory.mktemp("paths"), text, "paths.toml"))


@pytest.fixture(scope="module")
def copies(tmp_path_factory):
    """Three identical scenarios (an axis whose values all set the same thing) x two years."""
    text = SWEEP.replace('name = "required_tokens_per_s"\nvalues = [10, 30, 50]',
                         'name = "copy"\nvalues = [1, 2, 3]\nset.required_tokens_per_s = [30, 30, 30]')
    return run_on(_write(tmp_path_factory.mktemp("copies"), text, "copies.toml"))


# --------------------------------------------------------------------------- (a) explicit mixture sample


def _z_against_explicit(pooled, weights):
    """|difference| / combined MCSE of every checked statistic, pooled vs an explicit mixture sample."""
    z = []
    for i, shift in enumerate(SHIFTS):
        p = pooled.isel(year=i).sel(output="instances")
        m = explicit_mixture_summary(shift, weights, seed=100 + i)
        pairs = [(p["quantile"].sel(scale="log10"), m["quantile"].sel(scale="log10"),
                  p["quantile_mcse"].sel(scale="log10"), m["quantile_mcse"].sel(scale="log10")),
                 (p["mean"], m["mean"], p["mean_mcse"], m["mean_mcse"]),
                 (p["prob_at_least"], m["prob_at_least"], p["prob_at_least_mcse"], m["prob_at_least_mcse"])]
        for a, b, sa, sb in pairs:
            z.extend(np.abs(a.values - b.values).ravel() / np.hypot(sa.values, sb.values).ravel())
    return np.array(z)


def test_pooled_estimates_match_an_explicit_mixture_sample(lognormal):
    z = _z_against_explicit(pool(lognormal, "model", WEIGHTS, SPEC), WEIGHTS)
    assert z.size == 2 * (5 + 2 + 4)
    assert np.all(z < k_of(z.size)), (z.max(), k_of(z.size))
    # the tolerance is not vacuous: equal weights, a plausible mistake, fail the same comparison
    wrong = _z_against_explicit(pool(lognormal, "model", [1 / 3] * 3, SPEC), WEIGHTS)
    assert wrong.max() > 3 * k_of(z.size)


# --------------------------------------------------------------------------- (b) closed forms


def test_pooled_summary_matches_the_lognormal_mixture_closed_form(lognormal):
    pooled = pool(lognormal, "model", WEIGHTS, SPEC)
    k = k_of(2 * (5 + 4 + 2 + 4 + 4))
    for i, shift in enumerate(SHIFTS):
        s = pooled.isel(year=i).sel(output="instances")
        log = s.sel(scale="log10")
        # CDF at the reported quantile = its probability, within the delta-method error pdf(q) * mcse(q)
        q, q_se = log["quantile"].values, log["quantile_mcse"].values
        assert np.all(np.abs(mixture_cdf(q, shift) - SPEC.quantiles) <= k * mixture_pdf(q, shift) * q_se)
        tails = np.array([[(1 - m) / 2, (1 + m) / 2] for m in SPEC.intervals])
        eti = np.stack([log["eti_lower"].values, log["eti_upper"].values], axis=-1)
        eti_se = np.stack([log["eti_lower_mcse"].values, log["eti_upper_mcse"].values], axis=-1)
        assert np.all(np.abs(mixture_cdf(eti, shift) - tails) <= k * mixture_pdf(eti, shift) * eti_se)
        # means: sum_s w_s mu_s in log10; sum_s w_s E[Y_s] with E[10^N(m, s^2)] = 10^(m + s^2 ln(10) / 2)
        exact_mean = [np.sum(WEIGHTS * (MUS + shift)),
                      np.sum(WEIGHTS * 10 ** (MUS + shift + SIGMAS**2 * math.log(10) / 2))]
        assert abs(float(log["mean"]) - exact_mean[0]) <= k * float(log["mean_mcse"])
        lin = s.sel(scale="linear")
        assert abs(float(lin["mean"]) - exact_mean[1]) <= k * float(lin["mean_mcse"])
        # the log10 mean's MCSE against its exact value: per chain, the pooled log-mean is
        # sum_s w_s (mu_s + shift + sigma_s zbar_c), so its sd is sum_s w_s sigma_s / sqrt(draws)
        exact_se = np.sum(WEIGHTS * SIGMAS) / math.sqrt(DRAWS * CHAINS)
        spread = np.sqrt(stats.chi2.ppf([ALPHA / 4, 1 - ALPHA / 4], CHAINS - 1) / (CHAINS - 1))  # 2 checks
        assert spread[0] * exact_se <= float(log["mean_mcse"]) <= spread[1] * exact_se
        exceed = 1 - mixture_cdf(np.log10(THRESHOLDS), shift)
        assert np.all(np.abs(s["prob_at_least"].values - exceed) <= k * s["prob_at_least_mcse"].values)
        for j, mass in enumerate(SPEC.intervals):
            exact = mixture_hdi(mass, shift)
            for end, value in zip(("lower", "upper"), exact):
                found, se = float(log[f"hdi_{end}"].isel(interval=j)), float(log[f"hdi_{end}_mcse"].isel(interval=j))
                assert abs(found - value) <= k * se, (mass, end, found, value, se)  # se has the cube-root rate


def test_the_reference_mixture_is_unimodal():
    """mixture_hdi assumes one mode: the log10 density rises, then falls."""
    for shift in SHIFTS:
        slope = np.sign(np.diff(mixture_pdf(np.linspace(2, 10, 20_001), shift)))
        assert np.count_nonzero(np.diff(slope)) == 1


def test_variance_share_matches_the_law_of_total_variance(lognormal):
    found = axis_variance_share(lognormal, "model", WEIGHTS)
    grand = np.sum(WEIGHTS * MUS)
    between = np.sum(WEIGHTS * (MUS - grand) ** 2)
    total = between + np.sum(WEIGHTS * SIGMAS**2)
    k = k_of(2 * 3 + 2 * 3)
    for name, exact in (("variance_share", between / total), ("between_variance", between),
                        ("total_variance", total)):
        assert np.all(np.abs(found[name].values - exact) <= k * found[f"{name}_mcse"].values), name
        assert np.all(found[f"{name}_mcse"].values < 0.01)
    conditional = MUS[:, None] + SHIFTS[None, :]
    assert found["conditional_mean"].dims == ("model", "year")
    assert np.all(np.abs(found["conditional_mean"].values - conditional)
                  <= k * found["conditional_mean_mcse"].values)
    np.testing.assert_array_equal(found["weight"].values, WEIGHTS)
    assert found["variance_share"].attrs["units"] == "1"
    assert found["total_variance"].attrs["units"] == "(log10 instance)^2"


# --------------------------------------------------------------------------- (c) weights (1, 0)


def assert_same_summary(pooled, reference, exact=True):
    """Every summary variable of `pooled` equals `reference`'s (a scenario of a result), with dims and attrs."""
    assert set(pooled.data_vars) == {v for v in SUMMARY_VARS if v in reference}
    for name in pooled.data_vars:
        found, expected = pooled[name], reference[name].transpose(*pooled[name].dims)
        assert found.attrs == expected.attrs, name
        if exact or name.startswith("hdi_") and not name.endswith("_mcse"):
            np.testing.assert_array_equal(found.values, expected.values, err_msg=name)
        else:
            np.testing.assert_allclose(found.values, expected.values, rtol=1e-12, atol=0, err_msg=name)
    for coord in ("output", "unit", "long_name", "scale", "prob", "interval", "threshold"):
        np.testing.assert_array_equal(pooled[coord].values, reference[coord].values)


@pytest.mark.parametrize(("axis", "weights", "chosen"), [("year", [1, 0], 2024), ("year", [0.0, 1.0], 2026),
                                                         ("required_tokens_per_s", [0, 1, 0], 30)])
def test_a_single_positive_weight_reproduces_that_scenario_exactly(sweep, axis, weights, chosen):
    pooled = pool(sweep, axis, weights)
    others = [d for d in ("required_tokens_per_s", "year") if d != axis]
    assert pooled["quantile"].dims == (*others, "output", "scale", "prob")
    assert_same_summary(pooled, summary_part(sweep).sel({axis: chosen}).drop_vars(axis))


def test_a_single_positive_weight_on_a_model_axis_reproduces_that_path(paths):
    for weights, model in (([1, 0], "compute"), ([0, 1], "throughput")):
        reference = summary_part(paths).sel(model=model).drop_vars("model")
        assert_same_summary(pool(paths, "model", weights), reference)


def test_zero_weight_scenarios_may_hold_nan_and_inf(sweep):
    poisoned = sweep.copy(deep=True)
    for name, bad in (("instances", np.nan), ("cluster_tokens_per_s", np.inf), ("serial_speedup", -np.inf)):
        poisoned[name].loc[{"year": 2026}] = bad
    poisoned["tasks_per_day"].loc[{"year": 2026, "chain": 1}] = 0.0  # log10 undefined
    assert_same_summary(pool(poisoned, "year", [1, 0]), summary_part(sweep).sel(year=2024).drop_vars("year"))
    share = axis_variance_share(poisoned, "year", [1, 0], output="tasks_per_day")
    np.testing.assert_array_equal(share["between_variance"].values, 0.0)
    assert np.isnan(share["conditional_mean"].sel(year=2026)).all()


def test_nan_in_a_weighted_scenario_makes_its_cell_nan_as_summarize_does(lognormal):
    broken = lognormal.copy(deep=True)
    broken["instances"][1, 0, 3, 7] = np.nan  # model 1, year 2024, chain 3
    pooled = pool(broken, "model", WEIGHTS, SPEC).sel(output="instances")
    for name in ("quantile", "eti_lower", "hdi_upper", "mean", "quantile_mcse", "hdi_lower_mcse"):
        assert np.isnan(pooled[name].isel(year=0)).all() and not np.isnan(pooled[name].isel(year=1)).any(), name
    alone = summarize(broken.isel(model=1, year=0), SPEC).sel(output="instances")
    assert np.isnan(alone["quantile"]).all() and np.isnan(alone["hdi_upper"]).all()


def test_without_a_spec_every_default_output_is_pooled(lognormal):
    pooled = pool(lognormal, "model", WEIGHTS)
    assert list(pooled["output"].values) == ["instances", "params"]
    assert list(pooled["unit"].values) == ["instance", "param"]
    np.testing.assert_allclose(pooled["mean"].sel(output="params", scale="log10"),
                               pooled["mean"].sel(output="instances", scale="log10") / 2, rtol=1e-12)


# --------------------------------------------------------------------------- (d) identical copies


@pytest.mark.parametrize("weights", [[1 / 3, 1 / 3, 1 / 3], [0.6, 0.3, 0.1]])
def test_weights_over_identical_copies_reproduce_one_copy(copies, weights):
    for name in ("instances", "cluster_gpus"):
        np.testing.assert_array_equal(copies[name].sel(copy=1).values, copies[name].sel(copy=3).values)
    # the general mixture path (three components), equal to one copy's summary to rounding; HDIs exactly
    assert_same_summary(pool(copies, "copy", weights), summary_part(copies).sel(copy=1).drop_vars("copy"),
                        exact=False)


# --------------------------------------------------------------------------- (e) properties

weight_lists = st.lists(st.one_of(st.just(0.0), st.floats(0.01, 1.0)), min_size=3, max_size=3).filter(
    lambda w: sum(w) > 0).map(lambda w: [x / math.fsum(w) for x in w])


def _positive_scenarios(result, axis, weights):
    return summary_part(result).isel({axis: [i for i, w in enumerate(weights) if w > 0]})


@settings(max_examples=30)
@given(weight_lists)
def test_pooled_estimates_lie_between_the_scenarios(sweep, weights):
    """At each probability the pooled quantile lies between the scenarios'; so do means and P(>= t)."""
    pooled = pool(sweep, "required_tokens_per_s", weights)
    scenarios = _positive_scenarios(sweep, "required_tokens_per_s", weights)
    for name in ("quantile", "eti_lower", "eti_upper", "mean", "prob_at_least"):
        low = scenarios[name].min("required_tokens_per_s")
        high = scenarios[name].max("required_tokens_per_s")
        slack = 1e-12 * np.maximum(abs(low), abs(high))
        assert bool(((pooled[name] >= low - slack) & (pooled[name] <= high + slack)).all()), name


@settings(max_examples=30)
@given(st.lists(st.floats(0.0, 1.0), min_size=2, max_size=8, unique=True), st.floats(0.01, 0.99))
def test_pooled_quantiles_are_monotone_in_prob(paths, probs, w):
    spec = SummarySpec(quantiles=tuple(sorted(probs)), intervals=(0.2, 0.5, 0.9), thresholds=(1e5,))
    pooled = pool(paths, "model", [w, 1 - w], spec)
    assert bool((pooled["quantile"].diff("prob") >= 0).all())
    assert bool((pooled["eti_lower"].diff("interval") <= 0).all() & (pooled["eti_upper"].diff("interval") >= 0).all())
    assert bool((pooled["hdi_lower"] <= pooled["hdi_upper"]).all())


@settings(max_examples=15)
@given(weight_lists)
def test_pooling_does_not_depend_on_the_order_of_the_axis(sweep, weights):
    forward = pool(sweep, "required_tokens_per_s", weights)
    backward = pool(sweep.isel(required_tokens_per_s=[2, 1, 0]), "required_tokens_per_s", weights[::-1])
    for name in forward.data_vars:
        np.testing.assert_allclose(forward[name].values, backward[name].values, rtol=1e-12, atol=1e-15,
                                   err_msg=name)


@settings(max_examples=50)
@given(st.lists(st.integers(-5, 5) | st.floats(-1e3, 1e3), min_size=1, max_size=60),
       st.lists(st.floats(0.0, 1.0), min_size=1, max_size=6))
def test_one_component_is_numpys_linear_quantile(values, probs):
    ordered = np.sort(np.array(values, dtype=float))
    np.testing.assert_allclose(mixture_quantiles([ordered], [1.0], probs), np.quantile(ordered, probs),
                               rtol=1e-12, atol=1e-12)


@settings(max_examples=50)
@given(st.lists(st.integers(-5, 5) | st.floats(-1e3, 1e3), min_size=2, max_size=60), st.integers(1, 999))
def test_equal_weights_give_hdi_of_sorted_exactly(values, per_mille):
    ordered = np.sort(np.array(values, dtype=float))
    cumulative = np.arange(len(ordered) + 1) / len(ordered)
    mass = per_mille / 1000
    assert hdi_of_weighted_sorted(ordered, cumulative, mass) == hdi_of_sorted(ordered, mass)


def test_mixture_quantiles_known_answers():
    """Two uniform-like components; and a point mass (a jump in the CDF) mixed with a ramp."""
    ramps = [np.array([0.0, 1.0]), np.array([2.0, 3.0])]
    np.testing.assert_allclose(mixture_quantiles(ramps, [0.5, 0.5], [0, 0.25, 0.5, 0.75, 1]), [0, 0.5, 1, 2.5, 3])
    jump = [np.array([1.0, 1.0, 1.0]), np.array([0.0, 2.0])]  # F = x/4 below 1, jumps 0.25 -> 0.75 at 1
    np.testing.assert_allclose(mixture_quantiles(jump, [0.5, 0.5], [0.2, 0.25, 0.5, 0.75, 0.9]),
                               [0.8, 1.0, 1.0, 1.0, 1.6])
    assert np.isnan(mixture_quantiles([np.array([0.0, np.nan])], [1.0], [0.5])).all()


def test_weighted_hdi_known_answers():
    values = np.array([0.0, 1.0, 2.0, 3.0, 10.0])
    cumulative = np.concatenate([[0], np.cumsum([0.1, 0.1, 0.6, 0.1, 0.1])])
    assert hdi_of_weighted_sorted(values, cumulative, 0.5) == (2.0, 2.0)  # one draw holds 0.6 > 0.5
    assert hdi_of_weighted_sorted(values, cumulative, 0.65) == (1.0, 2.0)  # first of two of width 1
    assert hdi_of_weighted_sorted(values, cumulative, 0.7) == (0.0, 2.0)  # 0.7 itself is not "more than"
    assert hdi_of_weighted_sorted(values, cumulative, 0.95) == (0.0, 10.0)


# --------------------------------------------------------------------------- layout, other outputs, errors


def test_pooled_summary_has_the_layout_of_summarize_and_renders(paths):
    pooled = pool(paths, "model", [0.7, 0.3])
    reference = summary_part(paths).isel(model=0, drop=True)
    assert set(pooled.data_vars) == set(reference.data_vars)
    for name in pooled.data_vars:
        assert pooled[name].dims == reference[name].dims and pooled[name].attrs == reference[name].attrs
    np.testing.assert_array_equal(pooled["output"].values, paths["output"].values)
    assert json.loads(pooled.attrs["pooled_weights"]) == [0.7, 0.3]
    assert json.loads(pooled.attrs["pooled_values"]) == ["compute", "throughput"]
    table = summary_table(pooled.sel(required_tokens_per_s=10))
    assert "instances [instance]" in table and "P(instances >= threshold)" in table


def test_variance_share_agrees_with_the_scenarios_own_log_means(paths):
    found = axis_variance_share(paths, "model", [0.7, 0.3])
    own = paths["mean"].sel(output="instances", scale="log10").transpose("model", "required_tokens_per_s")
    np.testing.assert_allclose(found["conditional_mean"].values, own.values, rtol=1e-12)
    assert bool(((found["variance_share"] >= 0) & (found["variance_share"] <= 1)).all())
    assert found["variance_share"].dims == ("required_tokens_per_s",)


def test_variance_share_refuses_undefined_log10_in_a_weighted_scenario(sweep):
    broken = sweep.copy(deep=True)
    broken["instances"].loc[{"year": 2026, "required_tokens_per_s": 30, "chain": 2, "draw": slice(0, 4)}] = 0.0
    with pytest.raises(ConfigError) as caught:
        axis_variance_share(broken, "year", [0.5, 0.5])
    message = str(caught.value)
    assert "\n" not in message and message.startswith("output: log10(instances) is undefined")
    assert "5 of 4000 draws at year=2026, required_tokens_per_s=30" in message, message


def test_pool_errors_are_one_line(sweep, tmp_path):
    cases = [(("yeer", [1, 0]), "axis: the result has no scenario axis 'yeer' (did you mean 'year'?)"),
             (("chain", [1, 0]), "axis: the result has no scenario axis 'chain'"),
             (("year", [0.5, 0.6]), "weights: must sum to 1, but they sum to 1.1")]
    for args, start in cases:
        with pytest.raises(ConfigError) as caught:
            pool(sweep, *args)
        assert str(caught.value).startswith(start) and "\n" not in str(caught.value), str(caught.value)
    streamed = run_on(_write(tmp_path, SWEEP, "s.toml"), keep_samples=False)
    with pytest.raises(ConfigError, match="no samples of its outputs"):
        pool(streamed, "year", [0.5, 0.5])
    with pytest.raises(ConfigError, match="no samples of 'instances'"):
        pool(sweep.isel(draw=0), "year", [0.5, 0.5])
    with pytest.raises(ConfigError, match="no samples"):
        axis_variance_share(streamed, "year", [0.5, 0.5])


# --------------------------------------------------------------------------- (f) bad weights

BAD_WEIGHTS = {
    "not a list": ("0.5, 0.5", "axes[0].weights", "must be a list of numbers"),
    "a table": ({"a": 1}, "axes[0].weights", "must be a list of numbers"),
    "a string inside": ([0.5, "0.5"], "axes[0].weights[1]", "must be a number"),
    "a boolean inside": ([True, 0], "axes[0].weights[0]", "must be a number"),
    "nan": ([float("nan"), 1.0], "axes[0].weights[0]", "finite"),
    "inf": ([float("inf"), 0.0], "axes[0].weights[0]", "finite"),
    "an integer beyond float": ([10**400, 0], "axes[0].weights[0]", "finite"),
    "negative": ([1.2, -0.2], "axes[0].weights[1]", "must be >= 0"),
    "sum below 1": ([0.5, 0.4], "axes[0].weights", "they sum to 0.9"),
    "sum above 1": ([0.5, 0.5 + 1e-8], "axes[0].weights", "they sum to 1.00000001"),
    "too few": ([1.0], "axes[0].weights", "has 1 weight(s) for 2 value(s)"),
    "too many": ([0.5, 0.25, 0.25], "axes[0].weights", "has 3 weight(s) for 2 value(s)"),
    "all zero": ([0, 0.0], "axes[0].weights", "are all 0"),
}


@pytest.mark.parametrize("case", sorted(BAD_WEIGHTS))
def test_bad_weights_are_one_line_errors_naming_the_key(case):
    weights, key, words = BAD_WEIGHTS[case]
    with pytest.raises(ConfigError) as caught:
        check_weights(weights, ["compute", "throughput"], key="axes[0].weights")
    message = str(caught.value)
    assert caught.value.key == key and message.startswith(f"{key}: ") and "\n" not in message, message
    assert words in message, message


def test_good_weights_pass_as_floats():
    found = check_weights([1, 0], ["compute", "throughput"], key="w")
    assert found.dtype == float and list(found) == [1.0, 0.0]
    assert list(check_weights((0.5, 0.3, 0.2), "abc", key="w")) == [0.5, 0.3, 0.2]
    check_weights([0.5, 0.5 + 5e-10], [1, 2], key="w")  # within 1e-9 of 1
