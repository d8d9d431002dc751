"""summarize(): known answers for products and quotients of lognormals, and the layout
and arithmetic of the summary Dataset.

Closed form: if log X_i ~ N(mu_i, s_i^2) independently, then log(prod X_i^a_i) is
N(sum a_i mu_i, sum a_i^2 s_i^2). The throughput path is G T / R; the compute path
with its scale inputs lognormal and utilizations fixed is

    instances = sqrt(G P r H / D) * u_i sqrt(k_t) / (k_i sqrt(u_t 86400)) / R,

so both give lognormal instances whose quantiles, log-mean and exceedance
probabilities are exact.

Statistical tolerance: summarize's MCSE is sd(per-chain estimates) / sqrt(chains).
With 16 independent chains (independent scrambles for LHS/Sobol'), and per-chain
estimates close to normal at 2**14 draws, (estimate - exact) / mcse is Student-t with
15 degrees of freedom (the pooled estimate is, to first order, the mean of the
per-chain ones; the O(1/n) bias of sample quantiles is ~100x below the standard
error). K is the t_15 quantile for a two-sided family-wise false-alarm rate of 1e-6
over all N_CHECKS comparisons (Bonferroni). So that a too-large MCSE cannot make the
test pass by itself, the MCSE is also bounded: below 0.05 in log10, and below what
plain MC would give (QMC only does better) times the 1 - 1e-6/N_CHECKS quantile of
sqrt(chi2_15 / 15), the sampling spread of an estimated standard deviation.
"""

from __future__ import annotations

import dataclasses
import math
import os
import warnings

import numpy as np
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from strategies import COMPUTE_PRIORS, THROUGHPUT_PRIORS, experiment_toml, lognormal_log_moments

from overhang_sim import ConfigError, SummarySpec, load_experiment, simulate, summarize
from overhang_sim.summaries import chain_error, hdi_of_sorted

CHAINS = 16
DRAWS = 2**14
METHODS = ("mc", "lhs", "sobol")
PROBS = (0.05, 0.25, 0.5, 0.75, 0.95)
# per case and method: 5 quantiles on each of 2 scales, the log10 mean, 3 exceedance probabilities
N_CHECKS = 2 * len(METHODS) * (2 * len(PROBS) + 1 + 3)
K = stats.t.ppf(1 - 1e-6 / N_CHECKS / 2, CHAINS - 1)
SD_RATIO_BOUND = math.sqrt(stats.chi2.ppf(1 - 1e-6 / N_CHECKS, CHAINS - 1) / (CHAINS - 1))


def throughput_log_moments():
    mu = sigma2 = 0.0
    for name, sign in (("cluster_gpus", 1), ("tokens_per_gpu_s", 1), ("required_tokens_per_s", -1)):
        m, s = lognormal_log_moments(THROUGHPUT_PRIORS[name]["p05"], THROUGHPUT_PRIORS[name]["p95"])
        mu, sigma2 = mu + sign * m, sigma2 + s**2
    return mu, math.sqrt(sigma2)


def compute_log_moments():
    p = COMPUTE_PRIORS
    powers = {"cluster_gpus": 0.5, "gpu_peak_flop_per_s": 0.5, "chinchilla_ratio": 0.5, "horizon_length": 0.5,
              "train_days": -0.5, "required_tokens_per_s": -1.0}
    u_t, u_i = p["train_utilization"]["value"], p["inference_utilization"]["value"]
    mu = math.log(u_i) + 0.5 * math.log(6.0) - math.log(2.0) - 0.5 * math.log(u_t * 86_400)
    sigma2 = 0.0
    for name, a in powers.items():
        m, s = lognormal_log_moments(p[name]["p05"], p[name]["p95"])
        mu, sigma2 = mu + a * m, sigma2 + (a * s) ** 2
    return mu, math.sqrt(sigma2)


CASES = {"throughput": (THROUGHPUT_PRIORS, throughput_log_moments),
         "compute": (COMPUTE_PRIORS, compute_log_moments)}


@pytest.fixture(scope="module", params=[(c, m) for c in CASES for m in METHODS], ids=lambda p: f"{p[0]}-{p[1]}")
def lognormal_case(request, tmp_path_factory):
    case, method = request.param
    priors, moments = CASES[case]
    mu, sigma = moments()
    # thresholds at the exact 10 %, 50 % and 90 % quantiles, so no probability is near 0 or 1
    thresholds = [float(math.exp(mu + sigma * stats.norm.ppf(q))) for q in (0.1, 0.5, 0.9)]
    path = tmp_path_factory.mktemp(case) / f"{method}.toml"
    path.write_text(experiment_toml(priors, model=case, samples=CHAINS * DRAWS, chains=CHAINS, method=method,
                                    seed=20250101), encoding="utf-8")
    run = simulate(load_experiment(path))
    spec = SummarySpec(outputs=("instances",), quantiles=PROBS, intervals=(0.9,), thresholds=tuple(thresholds))
    return summarize(run, spec).sel(output="instances"), mu, sigma, thresholds


def _mc_quantile_se_log10(sigma, p, n):
    """Standard error of the p-quantile of n plain MC draws of a normal with sd sigma (log10 units)."""
    return sigma / math.log(10) * math.sqrt(p * (1 - p) / n) / stats.norm.pdf(stats.norm.ppf(p))


def test_quantiles_match_closed_form(lognormal_case):
    summary, mu, sigma, _ = lognormal_case
    z = stats.norm.ppf(PROBS)
    exact = {"log10": (mu + sigma * z) / math.log(10), "linear": np.exp(mu + sigma * z)}
    for scale in ("log10", "linear"):
        s = summary.sel(scale=scale)
        estimate, mcse = s["quantile"].values, s["quantile_mcse"].values
        assert np.all(np.abs(estimate - exact[scale]) <= K * mcse), (scale, estimate, exact[scale], mcse)
    log_mcse = summary.sel(scale="log10")["quantile_mcse"].values
    mc_se = np.array([_mc_quantile_se_log10(sigma, p, CHAINS * DRAWS) for p in PROBS])
    assert np.all(log_mcse < 0.05)
    assert np.all(log_mcse <= SD_RATIO_BOUND * mc_se), (log_mcse, mc_se)
    assert np.all(log_mcse > 0)


def test_log10_mean_matches_closed_form(lognormal_case):
    summary, mu, sigma, _ = lognormal_case
    s = summary.sel(scale="log10")
    estimate, mcse = float(s["mean"]), float(s["mean_mcse"])
    assert abs(estimate - mu / math.log(10)) <= K * mcse
    mc_se = sigma / math.log(10) / math.sqrt(CHAINS * DRAWS)
    assert 0 < mcse <= SD_RATIO_BOUND * mc_se


def test_exceedance_matches_closed_form(lognormal_case):
    summary, _, _, thresholds = lognormal_case
    exact = np.array([0.9, 0.5, 0.1])
    estimate, mcse = summary["prob_at_least"].values, summary["prob_at_least_mcse"].values
    np.testing.assert_array_equal(summary["threshold"].values, thresholds)
    assert np.all(np.abs(estimate - exact) <= K * mcse), (estimate, mcse)
    mc_se = np.sqrt(exact * (1 - exact) / (CHAINS * DRAWS))
    assert np.all((mcse > 0) & (mcse <= SD_RATIO_BOUND * mc_se))


# ---------------------------------------------------------------------------- layout and arithmetic


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    path = tmp_path_factory.mktemp("small") / "small.toml"
    priors = {**THROUGHPUT_PRIORS, "fast_stream_tokens_per_s": {"value": 300.0}}
    path.write_text(experiment_toml(priors, samples=4000, chains=4, seed=3), encoding="utf-8")
    return simulate(load_experiment(path))


def test_summary_layout(small_run):
    summary = summarize(small_run)
    assert set(summary.dims) == {"output", "scale", "prob", "interval", "threshold"}
    assert list(summary["scale"].values) == ["linear", "log10"]
    assert list(summary["prob"].values) == [0.05, 0.25, 0.5, 0.75, 0.95]
    assert list(summary["interval"].values) == [0.5, 0.9]
    assert list(summary["threshold"].values) == [1e5, 1e6, 1e7, 1e8]
    assert list(summary["output"].values) == ["instances", "cluster_tokens_per_s", "serial_speedup"]
    dims = {
        "mean": ("output", "scale"), "mean_mcse": ("output", "scale"),
        "quantile": ("output", "scale", "prob"), "quantile_mcse": ("output", "scale", "prob"),
        "eti_lower": ("output", "scale", "interval"), "eti_upper": ("output", "scale", "interval"),
        "hdi_lower": ("output", "scale", "interval"), "hdi_upper": ("output", "scale", "interval"),
        "prob_at_least": ("threshold",), "prob_at_least_mcse": ("threshold",),
    }
    for name, d in dims.items():
        assert summary[name].dims == d, name
    assert summary["unit"].sel(output="instances").item() == "instance"
    assert summary.attrs["samples"] == 4000 and summary.attrs["chains"] == 4


def test_summary_arithmetic(small_run):
    """Point statistics are plain numpy on the pooled draws: exact up to summation order."""
    summary = summarize(small_run)
    for output in summary["output"].values:
        x = small_run[output].values
        s = summary.sel(output=output)
        lin, log = s.sel(scale="linear"), s.sel(scale="log10")
        np.testing.assert_allclose(lin["quantile"], np.quantile(x, [0.05, 0.25, 0.5, 0.75, 0.95]), rtol=1e-12)
        np.testing.assert_allclose(float(lin["mean"]), x.mean(), rtol=1e-12)
        np.testing.assert_allclose(float(log["mean"]), np.log10(x).mean(), rtol=1e-12)
        np.testing.assert_allclose(float(lin["mean_mcse"]), x.mean(axis=1).std(ddof=1) / 2, rtol=1e-12)
        np.testing.assert_allclose(lin["eti_lower"], np.quantile(x, [0.25, 0.05]), rtol=1e-12)
        np.testing.assert_allclose(lin["eti_upper"], np.quantile(x, [0.75, 0.95]), rtol=1e-12)
        per_chain = np.quantile(x, 0.5, axis=1)
        np.testing.assert_allclose(float(lin["quantile_mcse"].sel(prob=0.5)), per_chain.std(ddof=1) / 2,
                                   rtol=1e-12)
    x = small_run["instances"].values
    for t in summary["threshold"].values:
        np.testing.assert_allclose(float(summary["prob_at_least"].sel(threshold=t)), (x >= t).mean(),
                                   rtol=1e-12, atol=1e-15)


def test_hdi_holds_its_mass_and_is_no_wider_than_the_eti(small_run):
    summary = summarize(small_run)
    n = small_run.sizes["chain"] * small_run.sizes["draw"]
    for output in summary["output"].values:
        for scale, x in (("linear", small_run[output].values), ("log10", np.log10(small_run[output].values))):
            s = summary.sel(output=output, scale=scale)
            for mass in summary["interval"].values:
                lo, hi = float(s["hdi_lower"].sel(interval=mass)), float(s["hdi_upper"].sel(interval=mass))
                inside = np.mean((x >= lo) & (x <= hi))
                assert mass <= inside <= mass + 2 / n
                # shortest interval holding that many draws; the ETI holds the same count to within 2
                eti = float(s["eti_upper"].sel(interval=mass)) - float(s["eti_lower"].sel(interval=mass))
                assert hi - lo <= eti + 2 * np.max(np.diff(np.sort(x.ravel())))


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(-1e6, 1e6), min_size=2, max_size=300), st.floats(0.05, 0.95))
def test_hdi_of_sorted_is_arvizs_hdi(values, mass):
    """The one-sort HDI is ArviZ's algorithm: bit-identical bounds on any sample."""
    with warnings.catch_warnings():  # arviz 0.x announces its 1.0 refactor on import
        warnings.simplefilter("ignore", FutureWarning)
        import arviz as az

    x = np.array(values)
    if np.ptp(x) == 0:
        assert hdi_of_sorted(np.sort(x), mass) == (x[0], x[0])
    else:
        assert hdi_of_sorted(np.sort(x), mass) == tuple(az.hdi(x, hdi_prob=mass))


def test_no_thresholds_means_no_exceedance(small_run):
    summary = summarize(small_run, SummarySpec(thresholds=()))
    assert "prob_at_least" not in summary and summary.sizes["threshold"] == 0


def test_selected_outputs_and_unknown_output(small_run):
    summary = summarize(small_run, SummarySpec(outputs=("cluster_tokens_per_s",)))
    assert list(summary["output"].values) == ["cluster_tokens_per_s"]
    with pytest.raises(ConfigError, match="no output named 'params'"):
        summarize(small_run, SummarySpec(outputs=("params",)))


def test_one_chain_has_nan_mcse(small_run):
    summary = summarize(small_run.isel(chain=[0]))
    assert np.all(np.isnan(summary["quantile_mcse"].values))
    assert np.all(np.isnan(summary["mean_mcse"].values))
    assert np.all(np.isfinite(summary["quantile"].values))


@pytest.mark.parametrize(("per_chain", "expected"), [
    ([1.0, 2.0, 3.0, 4.0], np.std([1.0, 2.0, 3.0, 4.0], ddof=1) / 2),
    ([5.0, 5.0, 5.0], 0.0),
    ([7.0], np.nan),
])
def test_chain_error(per_chain, expected):
    np.testing.assert_equal(chain_error(np.array(per_chain)), expected)


def test_chain_error_along_an_axis():
    x = np.arange(12.0).reshape(3, 4)  # (prob, chain)
    np.testing.assert_allclose(chain_error(x, axis=1), x.std(axis=1, ddof=1) / 2, rtol=1e-15)


def test_spec_sets_the_summary_axes(small_run):
    spec = dataclasses.replace(SummarySpec(), quantiles=(0.0, 0.5, 1.0), intervals=(0.8,), thresholds=(1e6,))
    summary = summarize(small_run, spec)
    assert isinstance(summary, xr.Dataset)
    assert (summary.sizes["prob"], summary.sizes["interval"], summary.sizes["threshold"]) == (3, 1, 1)
    x = small_run["instances"].values
    q = summary["quantile"].sel(output="instances", scale="linear").values
    np.testing.assert_array_equal(q[[0, 2]], [x.min(), x.max()])


# --------------------------------------------------------------------------- one sort per output, same numbers


_KINDS = (
    st.floats(1e-300, 1e300),  # positive, wide
    st.sampled_from([0.0, 1.0, 2.5, 1e6]),  # many ties and zeros (an atom at -inf in log10)
    st.sampled_from([0.0, 1.0]),  # an indicator
    st.floats(-1e6, 1e6),  # signed: log10 is NaN below 0
    st.sampled_from([0.0, np.inf, 3.0]),  # +inf: NaN HDIs
)


@st.composite
def sample_arrays(draw):
    """(chain, draw) samples of a few shapes: ties, zeros, indicators, signs, +inf, constants."""
    chains, draws = draw(st.integers(1, 5)), draw(st.integers(1, 40))
    if draw(st.integers(0, 5)) == 0:  # a constant array
        return np.full((chains, draws), draw(st.sampled_from([0.0, 1.0, 7.0])))
    kind = draw(st.sampled_from(_KINDS))
    values = draw(st.lists(kind, min_size=chains * draws, max_size=chains * draws))
    return np.array(values, dtype=float).reshape(chains, draws)


SPECS = st.builds(SummarySpec, outputs=st.just(()),
                  quantiles=st.lists(st.floats(0.0, 1.0), min_size=1, max_size=4, unique=True).map(tuple),
                  intervals=st.lists(st.floats(0.01, 0.99), max_size=3, unique=True).map(tuple),
                  thresholds=st.lists(st.sampled_from([0.5, 1.0, 3.0, 1e6]), max_size=3,
                                      unique=True).map(tuple))


def _assert_same(new, old):
    assert set(new) == set(old)
    for key in old:
        assert new[key][0] == old[key][0], key
        np.testing.assert_array_equal(np.asarray(new[key][1]), np.asarray(old[key][1]), err_msg=key)


@settings(max_examples=300, deadline=None)
@given(sample_arrays(), SPECS)
def test_one_sort_summary_equals_the_reference_bit_for_bit(x, spec):
    """_one_output (one sort per chain and one pooled, quantiles at their ranks) gives what
    np.quantile, a per-chain sort + merge and log10 of every sorted copy gave, to the bit."""
    import reference_summary as ref

    from overhang_sim.summaries import _one_output

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # inf - inf in the reference's np.quantile
        old = ref.one_output(x, spec)
        new = _one_output(x, spec, spec.thresholds)
        old_exceedance = ref.exceedance(x, spec.thresholds) if spec.thresholds else None
    shares = new.pop("_at_least", None)
    _assert_same(new, old)
    if spec.thresholds:
        from overhang_sim.summaries import _exceedance_stats

        for a, b in zip(_exceedance_stats(shares), old_exceedance):
            np.testing.assert_array_equal(a, b)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(allow_nan=True, allow_infinity=True, width=64), min_size=1, max_size=200),
       st.lists(st.floats(0.0, 1.0), min_size=1, max_size=6))
def test_sorted_quantiles_is_np_quantile(values, probs):
    from overhang_sim.summaries import sorted_quantiles

    x = np.sort(np.array(values, dtype=float))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        np.testing.assert_array_equal(sorted_quantiles(x, probs), np.quantile(x, probs))


def test_blockwise_hdi_search_equals_one_pass(monkeypatch):
    """The HDI search compares widths a block at a time; the first minimum wins across blocks too."""
    import reference_summary as ref

    from overhang_sim import summaries

    rng = np.random.default_rng(3)
    x = np.sort(np.round(rng.lognormal(0, 1, 5000), 1))  # many ties: equal widths in different blocks
    monkeypatch.setattr(summaries, "HDI_BLOCK", 7)
    for mass in (0.1, 0.5, 0.9):
        assert summaries.hdi_of_sorted(x, mass) == ref.hdi_of_sorted(x, mass)


def test_summarize_equals_the_reference_on_a_run(small_run):
    import reference_summary as ref

    spec = SummarySpec(outputs=("instances", "cluster_tokens_per_s"), intervals=(0.5, 0.9), thresholds=(1e3, 1e5))
    summary = summarize(small_run, spec)
    for name in spec.outputs:
        old = ref.one_output(small_run[name].transpose("chain", "draw").values, spec)
        for key, (_, value) in old.items():
            np.testing.assert_array_equal(summary[key].sel(output=name).values, value, err_msg=key)
    old = ref.exceedance(small_run["instances"].transpose("chain", "draw").values, spec.thresholds)
    np.testing.assert_array_equal(summary["prob_at_least"].values, old[0])
    np.testing.assert_array_equal(summary["prob_at_least_mcse"].values, old[1])


def test_summary_does_not_depend_on_threads(small_run):
    """Issue 11: each output is two tasks (pooled, chains) on the thread pool; one thread, run in
    the caller's, and any number of threads give the same bits."""
    spec = SummarySpec(outputs=("instances", "cluster_tokens_per_s"), intervals=(0.5, 0.9), thresholds=(1e3, 1e5))
    alone = summarize(small_run, spec, threads=1)
    for threads in (2, 3, 5):
        xr.testing.assert_identical(summarize(small_run, spec, threads=threads), alone)
    with pytest.raises(ValueError, match="threads"):
        summarize(small_run, spec, threads=0)


@pytest.mark.parametrize("keep", [True, False])
def test_no_intervals_asked_for(small_run, keep):
    """``[summary] intervals = []`` (benchmarks/qmc_efficiency.py): quantiles only, no interval rows."""
    spec = SummarySpec(outputs=("instances",), quantiles=(0.05, 0.95), intervals=(), thresholds=(1e6,))
    if keep:
        summary = summarize(small_run, spec)
    else:
        from overhang_sim.summaries import block_part, summary_from_parts

        x = small_run["instances"].transpose("chain", "draw").values
        parts = {"instances": [block_part(c, 1e-3, spec.thresholds) for c in x]}
        summary = summary_from_parts(parts, spec, {"instances": ("", "instances")}, {"main_output": "instances"})
    assert summary.sizes["interval"] == 0 and summary["hdi_lower"].shape == (1, 2, 0)
    assert np.all(np.isfinite(summary["quantile"].sel(scale="log10").values))


def test_summarize_holds_one_extra_output_per_thread():
    """tracemalloc peak of summarize <= threads x (one output + one chain row + an HDI block) + one output
    (numpy reports its buffers to tracemalloc); the earlier version held about 4.5 outputs' worth on 2 threads."""
    import tracemalloc

    from overhang_sim.summaries import summary_threads, workspace_bytes

    chains, draws, outputs = 4, 2**16, 6
    rng = np.random.default_rng(5)
    data = {f"y{i}": (("chain", "draw"), rng.lognormal(0, 1, (chains, draws)), {"role": "output"})
            for i in range(outputs)}
    run = xr.Dataset(data)
    spec = SummarySpec(outputs=tuple(data), thresholds=(1.0,))
    summarize(run, spec)  # warm: imports, caches
    tracemalloc.start()
    summarize(run, spec)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    allowed = summary_threads(outputs) * workspace_bytes(chains, draws)
    # plus one output's worth for what is not scratch (transient numpy buffers, the result's arrays while
    # another thread still works): measured 6.5-7.4 MB against 6.3 MB of scratch; the old code held 9 MB
    assert peak <= allowed + chains * draws * 8, (peak, allowed)


def test_small_summaries_start_no_thread_pool(monkeypatch):
    """A grid's scenarios of 1e4 samples paid ~20 ms each to start summarize's pool for ~5 ms of work
    an output: below THREADED_SUMMARY_MIN values the tasks run in the caller's thread, with the same
    numbers as on threads."""
    from overhang_sim import summaries
    from overhang_sim.summaries import THREADED_SUMMARY_MIN, summary_threads

    rng = np.random.default_rng(11)
    small = xr.Dataset({"y": (("chain", "draw"), rng.lognormal(0, 1, (4, 2500)), {"role": "output"})})
    spec = SummarySpec(outputs=("y",), thresholds=(1.0,))
    on_threads = summarize(small, spec, threads=2)
    monkeypatch.setattr(summaries, "ThreadPoolExecutor", None)  # any pool started now fails
    xr.testing.assert_identical(summarize(small, spec), on_threads)
    assert summary_threads(3, THREADED_SUMMARY_MIN - 1) == 1
    assert summary_threads(3, THREADED_SUMMARY_MIN) == summary_threads(3) == min(6, os.cpu_count() or 1)


# --------------------------------------------------------------------------- along leading dims (a grid's scenarios)


@st.composite
def stacked_arrays(draw):
    """1-6 (chain, draw) samples of one shape, of mixed kinds (constants, ties, zeros, signs, +inf, NaN)."""
    chains, draws = draw(st.integers(1, 4)), draw(st.integers(1, 40))
    rows = []
    for _ in range(draw(st.integers(1, 6))):
        if draw(st.integers(0, 5)) == 0:
            rows.append(np.full((chains, draws), draw(st.sampled_from([0.0, 1.0, 7.0, np.nan]))))
            continue
        kind = draw(st.sampled_from(_KINDS))
        rows.append(np.array(draw(st.lists(kind, min_size=chains * draws, max_size=chains * draws)),
                             dtype=float).reshape(chains, draws))
    return np.stack(rows)


@settings(max_examples=200, deadline=None)
@given(stacked_arrays(), SPECS)
def test_statistics_along_a_leading_dim_equal_each_sample_alone_bit_for_bit(x, spec):
    """Issue 11 target 4: a group's (scenario, chain, draw) values are summarised at once; every number is
    the one of that scenario's (chain, draw) values summarised alone."""
    from overhang_sim.summaries import _one_output

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        together = _one_output(x, spec, spec.thresholds, batch=("s",))
        alone = [_one_output(row, spec, spec.thresholds) for row in x]
    assert set(together) == set(alone[0])
    if spec.thresholds:  # the chains' shares >= each threshold, (s, threshold, chain)
        np.testing.assert_array_equal(together.pop("_at_least"), np.stack([each.pop("_at_least") for each in alone]))
    for key, (dims, values) in together.items():
        assert dims == ("s", *alone[0][key][0]), key
        for k, each in enumerate(alone):
            np.testing.assert_array_equal(np.asarray(values)[k], np.asarray(each[key][1]), err_msg=key)


def test_hdi_bounds_of_rows_are_each_rows_hdi(monkeypatch):
    """hdi_bounds searches every row at once (blocks of columns; the -inf atom masked per row)."""
    import reference_summary as ref

    from overhang_sim import summaries

    rng = np.random.default_rng(7)
    rows = np.sort(np.round(rng.lognormal(0, 1, (6, 500)), 1), axis=1)
    rows[1, :40] = 0.0  # an atom at -inf in log10 that the mass does not reach
    rows[2, :480] = 0.0  # ... and one that it does
    rows[3] = 5.0  # constant
    rows[4, -1] = np.inf
    rows[5, -3:] = np.nan
    with np.errstate(divide="ignore", invalid="ignore"):
        log_rows = np.log10(rows)
    for block in (summaries.HDI_BLOCK, 7):
        monkeypatch.setattr(summaries, "HDI_BLOCK", block)
        for values in (rows, log_rows):
            for mass in (0.1, 0.5, 0.9):
                lower, upper = summaries.hdi_bounds(values, mass)
                for r in range(len(values)):
                    assert (lower[r], upper[r]) == pytest.approx(ref.hdi_of_sorted(values[r], mass), nan_ok=True)
                    np.testing.assert_array_equal([lower[r], upper[r]], ref.hdi_of_sorted(values[r], mass))


@pytest.mark.parametrize("scenarios", [1, 3, 8])
def test_summarize_a_run_with_a_scenario_dim_equals_each_scenario_summarized(small_run, scenarios):
    """summarize on (scenario_index, chain, draw) outputs: one Dataset, the numbers and layout of each
    scenario's own summary along scenario_index (before, summarize refused a third dim)."""
    spec = SummarySpec(outputs=("instances", "cluster_tokens_per_s"), intervals=(0.5, 0.9), thresholds=(1e3, 1e5))
    factors = xr.DataArray(np.geomspace(0.3, 30, scenarios), dims="scenario_index")
    run = small_run.assign({n: (small_run[n] * factors).assign_attrs(small_run[n].attrs) for n in spec.outputs})
    run = run.transpose("scenario_index", ...)
    together = summarize(run, spec)
    for k in range(scenarios):
        alone = summarize(run.isel(scenario_index=k), spec)
        xr.testing.assert_identical(together.isel(scenario_index=k), alone)


def test_streamed_summaries_along_scenarios_equal_each_alone(small_run):
    from overhang_sim.summaries import block_part, summaries_from_parts, summary_from_parts

    spec = SummarySpec(outputs=("instances", "cluster_tokens_per_s"), intervals=(0.5, 0.9), thresholds=(1e3,))
    meta = {o: ("", o) for o in spec.outputs}
    parts = [{o: [block_part(c * f, 1e-3, spec.thresholds if o == "instances" else ())
                  for c in small_run[o].transpose("chain", "draw").values] for o in spec.outputs}
             for f in (0.5, 1.0, 4.0)]
    attrs = {"main_output": "instances"}
    together = summaries_from_parts(parts, spec, meta, attrs)
    for k, p in enumerate(parts):
        xr.testing.assert_identical(together.isel(scenario_index=k), summary_from_parts(p, spec, meta, attrs))


def _group_values(rng, scenarios, chains, draws):
    """(scenario, chain, draw) values of the kinds outputs take: wide lognormal, with zeros, ties,
    negatives or +inf, one kind a scenario."""
    x = rng.lognormal(0.0, 4.0, (scenarios, chains, draws))
    for k, kind in enumerate(rng.integers(0, 5, scenarios)):
        if kind == 1:
            x[k][rng.random((chains, draws)) < 0.3] = 0.0
        elif kind == 2:
            x[k] = np.round(np.log(x[k]))
        elif kind == 3:
            x[k][rng.random((chains, draws)) < 0.02] = np.inf
        elif kind == 4:
            x[k] = 7.0  # a point value
    return x


def _assert_bits(a, b, name=""):
    a, b = np.asarray(a), np.asarray(b)
    np.testing.assert_array_equal(a, b, err_msg=name, strict=True)
    if a.dtype.kind == "f":
        assert np.array_equal(np.signbit(a), np.signbit(b)), name


@settings(deadline=None, max_examples=40)
@given(seed=st.integers(0, 2**32 - 1), scenarios=st.integers(1, 4), chains=st.integers(1, 4),
       draws=st.integers(1, 300), blocks=st.integers(1, 3))
def test_streamed_rows_equal_each_scenarios_sketches_one_at_a_time(seed, scenarios, chains, draws, blocks):
    """A group's draws sketched block by block as rows (block_rows, merge_row_parts, summaries_from_rows,
    as batch.group_task does) give each scenario the numbers of its own Sketch objects merged and read
    one at a time (tests/reference_streamed.py, the code before the row path), bit for bit; and a
    scenario's summary_from_parts the same as its row of the group."""
    import reference_streamed
    from overhang_sim.summaries import block_part, block_rows, merge_parts, merge_row_parts, summaries_from_rows, \
        summary_from_parts

    rng = np.random.default_rng(seed)
    spec = SummarySpec(outputs=("instances", "params"), quantiles=(0.05, 0.5, 0.95), intervals=(0.5, 0.9),
                       thresholds=(1.0, 10.0))
    values = {o: _group_values(rng, scenarios, chains, draws) for o in spec.outputs}
    cuts = np.unique(np.linspace(0, draws, blocks + 1).astype(int))
    rows: dict[str, list[dict]] = {o: [] for o in spec.outputs}
    alone = [{o: [] for o in spec.outputs} for _ in range(scenarios)]
    for o, x in values.items():
        thresholds = spec.thresholds if o == "instances" else ()
        for c in range(chains):
            merged, each = None, [None] * scenarios
            for a, b in zip(cuts[:-1], cuts[1:]):
                part = block_rows(x[:, c, a:b], 1e-3, thresholds)
                merged = part if merged is None else merge_row_parts([merged, part])
                for k in range(scenarios):
                    p = block_part(x[k, c, a:b], 1e-3, thresholds)
                    each[k] = p if each[k] is None else merge_parts([each[k], p])
            rows[o].append(merged)
            for k in range(scenarios):
                alone[k][o].append(each[k])
    meta, attrs = {o: ("", o) for o in spec.outputs}, {"main_output": "instances"}
    together = summaries_from_rows(rows, spec, meta, attrs)
    for k in range(scenarios):
        for j, o in enumerate(spec.outputs):
            for key, (_, expected) in reference_streamed.one_output(alone[k][o], spec).items():
                _assert_bits(together[key].isel(scenario_index=k, output=j).values, expected, f"{o} {key}")
        expected = reference_streamed.exceedance(alone[k]["instances"])
        _assert_bits(together["prob_at_least"].isel(scenario_index=k).values, expected[0])
        _assert_bits(together["prob_at_least_mcse"].isel(scenario_index=k).values, expected[1])
        xr.testing.assert_identical(together.isel(scenario_index=k), summary_from_parts(alone[k], spec, meta, attrs))


@settings(deadline=None, max_examples=30)
@given(seed=st.integers(0, 2**32 - 1), scenarios=st.integers(1, 5), draws=st.integers(0, 400))
def test_block_rows_equal_block_part_of_each_row(seed, scenarios, draws):
    """Sums, counts and sketch of each row of block_rows are those of block_part of that row, bit for bit,
    and so are those of part_rows of all but its first row."""
    from overhang_sim import sketch as sk
    from overhang_sim.summaries import block_part, block_rows, part_rows

    x = _group_values(np.random.default_rng(seed), scenarios, 1, draws)[:, 0]
    whole = block_rows(x, 1e-3, (1.0, 50.0))
    for rows, first in ((whole, 0), (part_rows(whole, 1, scenarios), 1)):
        for k in range(first, scenarios):
            alone = block_part(x[k], 1e-3, (1.0, 50.0))
            for key in ("n", "sum", "log10_sum", "at_least", "zeros", "nonbinary"):
                _assert_bits(rows[key][k - first], alone[key], key)
            sketch = rows["sketch"].row(k - first).to_arrays()
            for key, value in sk.from_arrays({n.removeprefix("sketch/"): v for n, v in alone.items()
                                              if n.startswith("sketch/")}).to_arrays().items():
                _assert_bits(sketch[key], value, key)
