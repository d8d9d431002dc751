"""Regression tests for the defects a new user, a reviewer and a fuzzer found (issue 8).

Each test names the item it guards and failed before its fix. Results that were
silently wrong come first, then inputs that ended in a traceback, then limits.
"""

from __future__ import annotations

import dataclasses
import importlib
import math

import numpy as np
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import (
    EXPERIMENTS,
    PRIORS,
    THROUGHPUT_PRIORS,
    experiment_toml,
    fixed,
    lognormal,
    run_on,
    uniform,
)

from overhang_sim import (
    ConfigError,
    DomainError,
    LogNormal,
    PriorError,
    Truncated,
    load_experiment,
    sensitivity,
    simulate,
    summarize,
)
from overhang_sim.config import parse_distribution
from overhang_sim.designs import gaussian_copula, make_design, pearson_from_spearman
from overhang_sim.scenarios import load_scenarios
from overhang_sim.summaries import compare

# --------------------------------------------------------------------------- silently wrong results


@pytest.mark.parametrize("method", ["mc", "lhs", "sobol"])
@settings(max_examples=20)
@given(seed=st.integers(0, 2**32 - 1), start=st.integers(0, 5000))
def test_no_design_hands_an_inverse_cdf_0_or_1(method, seed, start):
    """Item 6: scipy's Sobol' points are multiples of 2**-30, so one can be exactly 0."""
    design = make_design(method, ["a", "b", "c"], start + 64, np.random.SeedSequence(seed))
    u = design.points(start, start + 64)
    assert np.all((u > 0) & (u < 1))


def test_the_copula_never_rounds_to_0_or_1():
    """Item 6: ndtr of a large normal score is exactly 1.0 in float64."""
    rank = 0.999
    cholesky = np.linalg.cholesky(np.array([[1, pearson_from_spearman(rank)], [pearson_from_spearman(rank), 1]]))
    u = np.array([[1e-300, 1e-300], [1 - 2**-53, 1 - 2**-53], [0.5, 1 - 2**-53]])
    out = gaussian_copula(u, cholesky * 5)  # a scaled factor pushes the scores far out
    assert np.all((out > 0) & (out < 1))


def test_the_reported_sobol_zero_run_is_finite(write_experiment):
    """Item 6, the reproduction: throughput, sobol, 200,000 samples, seed 1053 printed mean inf."""
    experiment = load_experiment(write_experiment(priors=THROUGHPUT_PRIORS, samples=200_000, method="sobol",
                                                  seed=1053))
    summary = summarize(simulate(experiment))
    for name in ("mean", "hdi_lower", "hdi_upper", "quantile"):
        assert np.isfinite(summary[name].values).all(), name


@pytest.mark.parametrize("method", ["mc", "lhs", "sobol"])
def test_compare_is_paired_for_every_method(method):
    """Item 7: scenarios that sample different inputs share one design, so shared inputs match."""
    scenarios = load_scenarios(EXPERIMENTS / "path_comparison.toml")
    experiments = tuple(dataclasses.replace(e, samples=4096, method=method) for e in scenarios.experiments)
    result = run_on(dataclasses.replace(scenarios, experiments=experiments))
    shared = set(experiments[0].sampled) & set(experiments[1].sampled)
    assert shared >= {"cluster_gpus", "required_tokens_per_s"}
    for name in shared:
        np.testing.assert_array_equal(result[name].sel(model="compute").values,
                                      result[name].sel(model="throughput").values)
    found = compare(result, {"model": "compute"}, {"model": "throughput"})
    assert 0 < found["p_a_greater"] < 1


def test_a_correlation_naming_an_unknown_input_is_an_error(write_experiment):
    """Item 8: it was dropped without a word."""
    path = write_experiment(priors=THROUGHPUT_PRIORS,
                            correlations=[{"inputs": ["cluster_gpu", "tokens_per_gpu_s"], "rank": 0.5}])
    with pytest.raises(ConfigError, match=r"correlations\[0\]\.inputs: 'cluster_gpu' .*did you mean 'cluster_gpus'"):
        load_experiment(path)


def test_a_correlation_naming_an_output_of_the_model_is_an_error(write_experiment):
    """Item 8, the review's case: tokens_per_gpu_s is an output of the compute path."""
    text = (f'name = "x"\nmodel = "compute"\npriors = ["{PRIORS / "baseline.toml"}"]\n'
            '[[correlations]]\ninputs = ["cluster_gpus", "tokens_per_gpu_s"]\nrank = 0.5\n')
    with pytest.raises(ConfigError, match="'tokens_per_gpu_s' is an output, not an input of the compute model"):
        load_scenarios(write_experiment(text))


def test_a_correlation_used_by_one_scenario_of_a_file_is_fine():
    """Item 8: path_comparison correlates the utilizations, which only its compute scenario has."""
    scenarios = load_scenarios(EXPERIMENTS / "path_comparison.toml")
    assert [len(e.correlations) for e in scenarios.experiments] == [1, 0]


def test_sensitivity_refuses_a_run_of_other_inputs(make_experiment):
    """Item 9: the run's inputs were labelled with the experiment's names."""
    experiment = make_experiment({**THROUGHPUT_PRIORS, "fast_stream_tokens_per_s": lognormal(100.0, 500.0)},
                                 samples=8000)
    other = simulate(make_experiment(THROUGHPUT_PRIORS, filename="other.toml", samples=8000))
    with pytest.raises(ConfigError, match="the run samples .* but the experiment samples"):
        sensitivity(experiment, run=other, methods=["given_data"])


def test_a_fixed_input_is_never_an_output():
    """Item 10: seed 001 fixes cluster_flop_per_s, which the compute path also returned."""
    run = simulate(load_experiment(EXPERIMENTS / "seed001_lower_bound.toml"))
    assert run["cluster_flop_per_s"].attrs["role"] == "input"
    assert float(run["cluster_flop_per_s"]) == 1e21
    with pytest.raises(ConfigError, match="no output named 'cluster_flop_per_s'"):
        summarize(run, dataclasses.replace(load_experiment(EXPERIMENTS / "seed001_lower_bound.toml").summary,
                                           outputs=("cluster_flop_per_s",)))


def test_truncation_deep_in_the_upper_tail_is_finite_and_in_bounds():
    """Item 11: Truncated(LogNormal(1e4, 1e5), lower=1e7) returned inf draws."""
    dist = Truncated(LogNormal(1e4, 1e5), lower=1e7)
    x = dist.ppf(np.linspace(2**-54, 1 - 2**-53, 10_001))
    assert np.isfinite(x).all() and (x >= 1e7).all()
    assert np.all(np.diff(x) >= 0)
    # far in the tail, log(X / 1e7) given X > 1e7 is nearly exponential with rate z / sigma (Mills ratio):
    # its median is about log(2) sigma / z
    base = LogNormal(1e4, 1e5)
    z = (math.log(1e7) - base.mu) / base.sigma
    expected = 1e7 * math.exp(math.log(2) * base.sigma / z)
    assert float(np.median(x)) == pytest.approx(expected, rel=0.01)


def test_truncation_with_too_little_mass_is_refused():
    """Item 11: below what float64 can sample."""
    with pytest.raises(PriorError, match="too little to sample|too far in the tail"):
        Truncated(LogNormal(1e4, 1e5), lower=1e40)


@pytest.mark.parametrize("entry, words", [
    (uniform(0.0, 50.0), "reaches 0 and the throughput model divides by it"),
    (fixed(0.0), "reaches 0|outside the physical domain"),
    ({"dist": "pert", "low": 0.0, "mode": 0.0, "high": 50.0}, "reaches 0"),
    ({"dist": "beta", "alpha": 0.5, "beta": 2.0, "low": 0.0, "high": 50.0}, "reaches 0"),
])
def test_a_divisor_prior_reaching_zero_is_refused(make_experiment, entry, words):
    """Item 12: the mean of instances is infinite; a finite mean was printed."""
    with pytest.raises(DomainError, match=words):
        make_experiment({**THROUGHPUT_PRIORS, "required_tokens_per_s": entry})


@pytest.mark.parametrize("entry", [uniform(1.0, 50.0), lognormal(1.0, 50.0),
                                   {"dist": "beta", "alpha": 2.0, "beta": 2.0, "low": 0.0, "high": 50.0}])
def test_a_divisor_prior_that_vanishes_at_zero_is_fine(make_experiment, entry):
    make_experiment({**THROUGHPUT_PRIORS, "required_tokens_per_s": entry})


def test_streamed_hdi_holds_the_stated_bound():
    """Item 13: a streamed HDI is within the sketch's bound of the exact one on the same draws.

    The bound that holds (sketch.py): the streamed interval holds at least the mass
    once widened by alpha at each end, and is no wider than the exact narrowest
    interval plus alpha (|L| + |U|). Its endpoints need not be near the exact ones
    where the density is flat, so no endpoint bound is claimed.
    """
    from overhang_sim import batch

    scenarios = load_scenarios(EXPERIMENTS / "baseline_throughput.toml")
    scenarios = dataclasses.replace(scenarios, experiments=tuple(dataclasses.replace(e, samples=200_000)
                                                                 for e in scenarios.experiments))
    exact, streamed = run_on(scenarios, keep_samples=True), run_on(scenarios, keep_samples=False)
    alpha = batch.SKETCH_ALPHA
    x = np.sort(exact["instances"].values.ravel())
    for mass in streamed["interval"].values:
        lo, hi = (float(streamed[f"hdi_{k}"].sel(output="instances", scale="linear", interval=mass))
                  for k in ("lower", "upper"))
        low, up = (float(exact[f"hdi_{k}"].sel(output="instances", scale="linear", interval=mass))
                   for k in ("lower", "upper"))
        inside = np.count_nonzero((x >= lo / (1 + alpha)) & (x <= hi / (1 - alpha)))
        assert inside >= math.floor(mass * x.size)
        assert hi - lo <= (up - low) + alpha * (abs(low) + abs(up)) * (1 + 1e-9)


def test_hdi_endpoints_have_monte_carlo_errors(make_experiment):
    """Item 14: HDI endpoints had no MCSE but printed four digits."""
    run = simulate(make_experiment(THROUGHPUT_PRIORS, samples=16_000, chains=8))
    summary = summarize(run)
    x = run["instances"].values
    per_chain = []
    for chain in np.sort(x, axis=1):
        k = int(np.floor(0.9 * chain.size))
        i = int(np.argmin(chain[k:] - chain[: chain.size - k]))
        per_chain.append(chain[i])
    # the chains' spread, scaled for the cube-root rate at which an HDI endpoint converges
    expected = np.std(per_chain, ddof=1) / np.sqrt(len(per_chain)) * len(per_chain) ** (1 / 6)
    got = float(summary["hdi_lower_mcse"].sel(output="instances", scale="linear", interval=0.9))
    assert got == pytest.approx(expected, rel=1e-12)


def test_hdi_errors_are_calibrated():
    """The reported HDI error matches the endpoints' real spread over seeds (cube-root rate).

    log10 of a log-normal is normal, whose HDI is the central interval: the exact endpoints
    are mu -+ z sigma. Over R independent runs of C chains, (estimate - exact) / mcse is
    about Student t with C - 1 degrees of freedom if the MCSE is right, whose sd is
    sqrt(nu / (nu - 2)) = 1.18 for 8 chains; with the plain chain spread it would be
    C**(1/6) = 1.41 times that. The bounds are the chi-square spread of an estimated sd
    (two-sided false alarm 1e-6), widened by 15 % because the endpoint's limit law is
    not normal (cube-root asymptotics, Kim & Pollard 1990).
    """
    from scipy import stats

    from overhang_sim.summaries import _hdi

    runs, chains, draws, mass = 300, 8, 2**12, 0.9
    z = stats.norm.ppf((1 + mass) / 2)
    rng = np.random.default_rng(20261202)
    scores = []
    for _ in range(runs):
        x = 10 ** rng.standard_normal((chains, draws))
        bounds, errors = _hdi(x, (mass,))
        scores += [(bounds[1, 0, 0] + z) / errors[1, 0, 0], (bounds[1, 0, 1] - z) / errors[1, 0, 1]]
    spread = float(np.std(scores, ddof=1)) / math.sqrt((chains - 1) / (chains - 3))
    low, high = (math.sqrt(stats.chi2.ppf(q, len(scores) - 1) / (len(scores) - 1)) for q in (5e-7, 1 - 5e-7))
    assert low / 1.15 <= spread <= high * 1.15, spread
    assert spread * chains ** (1 / 6) > high * 1.15  # the uncorrected error would fail


def test_the_table_says_its_plus_minus_is_a_standard_error(run_cli):
    code, out, err = run_cli(["run", EXPERIMENTS / "baseline_throughput.toml", "--samples", "8000", "--quiet"])
    assert code == 0, err
    assert "s.e." in out and "+-" not in out


# --------------------------------------------------------------------------- tracebacks a user could reach


def test_a_mixture_written_in_toml_is_sampled(make_experiment):
    """Item 15: weights stayed a list and the PPF-table cache could not hash it."""
    mixture = {"dist": "mixture", "weights": [0.3, 0.7],
               "components": [{"dist": "lognormal", "p05": 1e4, "p95": 5e4},
                              {"dist": "lognormal", "p05": 1e5, "p95": 5e5}]}
    experiment = make_experiment({**THROUGHPUT_PRIORS, "cluster_gpus": mixture}, samples=4000)
    assert isinstance(experiment.priors["cluster_gpus"].dist.weights, tuple)
    run = simulate(experiment)
    assert np.isfinite(run["cluster_gpus"].values).all()


def test_lists_become_tuples_in_every_family():
    for entry in ({"dist": "empirical", "values": [1.0, 2.0], "weights": [1.0, 3.0]},
                  {"dist": "mixture", "weights": [1, 1], "components": [{"value": 1.0}, {"value": 2.0}]}):
        dist = parse_distribution(entry)
        hash(dist)  # frozen specs are hashable, so tables can be shared
        assert all(not isinstance(getattr(dist, f), list) for f in ("weights",))


def test_an_axis_named_like_a_result_coordinate_is_refused(write_experiment):
    """Item 20: an axis named `unit` crashed when the scenarios were stacked."""
    for name in ("unit", "long_name", "quantile", "input"):
        text = (f'name = "x"\nmodel = "throughput"\npriors = ["{PRIORS / "baseline.toml"}"]\n'
                f'[[axes]]\nname = "{name}"\nvalues = [1, 2]\nset.required_tokens_per_s = [10, 20]\n')
        with pytest.raises(ConfigError, match="reserved"):
            load_scenarios(write_experiment(text))


def test_summarize_a_dataset_without_roles_is_a_clear_error():
    """Smaller defect: `max_workers must be greater than 0`."""
    ds = xr.Dataset({"instances": (("chain", "draw"), np.ones((2, 10)))})
    with pytest.raises(ConfigError, match="no outputs"):
        summarize(ds)


def test_summarize_uses_the_experiments_summary_spec():
    """Smaller defect: summarize(run) gave 6 outputs where the CLI gave the file's 7."""
    experiment = dataclasses.replace(load_experiment(EXPERIMENTS / "baseline.toml"), samples=4000)
    summary = summarize(simulate(experiment))
    assert list(summary["output"].values) == list(experiment.summary.outputs)


def test_submodules_are_not_shadowed_by_the_functions():
    """Smaller defect: `import overhang_sim.simulate as m` gave the function."""
    import overhang_sim

    for name in ("simulation", "sensitivity_analysis", "summaries", "storage"):
        module = importlib.import_module(f"overhang_sim.{name}")
        assert getattr(overhang_sim, name) is module
    assert callable(overhang_sim.simulate) and callable(overhang_sim.sensitivity)


# --------------------------------------------------------------------------- limits


def test_a_huge_grid_is_refused_before_it_is_expanded(write_experiment):
    """Item 26: a grid of 1e6 combinations expanded silently for minutes."""
    values = ", ".join(str(v) for v in range(1, 1001))
    text = (f'name = "x"\nmodel = "throughput"\npriors = ["{PRIORS / "baseline.toml"}"]\n'
            f'[[axes]]\nname = "required_tokens_per_s"\nvalues = [{values}]\n'
            f'[[axes]]\nname = "many"\nvalues = [{values}]\nset.fast_stream_tokens_per_s = [{values}]\n')
    with pytest.raises(ConfigError, match="1,000,000 scenarios"):
        load_scenarios(write_experiment(text))


def test_deep_mixtures_are_refused(write_experiment):
    """Item 26: a mixture nested 200 deep ended in a 3,000-line RecursionError."""
    inner = '{value = 1.0}'
    for depth in (20, 300):
        nested = inner
        for _ in range(depth):
            nested = f'{{dist = "mixture", weights = [1], components = [{nested}]}}'
        others = {k: v for k, v in THROUGHPUT_PRIORS.items() if k != "tokens_per_gpu_s"}
        text = (experiment_toml(others) + '\n[overrides.tokens_per_gpu_s]\nunit = "token/s/GPU"\n'
                f'dist = "mixture"\nweights = [1]\ncomponents = [{nested}]\n')
        with pytest.raises(ConfigError, match="nest more than|nested too deeply"):
            load_experiment(write_experiment(text))


@pytest.mark.parametrize("key, value, words", [
    ("samples", "1" + "0" * 400, r"must be at most 1e\+12 .*, not 1.00e\+400"),
    ("seed", "1" + "0" * 400, "from 0 to 2\\*\\*63 - 1"),
    ("seed", str(2**63), "from 0 to 2\\*\\*63 - 1"),
])
def test_numbers_too_large_for_float64_are_one_line_errors(write_experiment, key, value, words):
    """Item 26 / 16: `samples = 10**400` raised OverflowError; a seed beyond int64 failed at save."""
    text = experiment_toml(THROUGHPUT_PRIORS, **{key: None}, extra={key: int(value)})
    with pytest.raises(ConfigError, match=words):
        load_experiment(write_experiment(text))


# --------------------------------------------------------------------------- main output, files


@pytest.mark.parametrize("name", ["seed003_price_v100", "seed000_appendix"])
def test_report_of_a_model_without_instances(tmp_path, run_cli, name):
    """Item 19: `instances` was hard-coded; hardware_price and data_volume died with KeyError."""
    out = tmp_path / "r.html"
    code, _, err = run_cli(["report", EXPERIMENTS / f"{name}.toml", "--out", out, "--quiet"])
    assert code == 0, err
    main = load_experiment(EXPERIMENTS / f"{name}.toml").main
    assert main != "instances" and main in out.read_text(encoding="utf-8")


def test_report_and_plot_of_a_sampled_model_without_instances(tmp_path, run_cli, write_experiment):
    priors = {"unit_price_usd": lognormal(5e3, 4e4), "unit_flop_per_s": lognormal(3e13, 2e15),
              "amortization_days": lognormal(300.0, 1500.0)}
    path = write_experiment(priors=priors, model="hardware_price", samples=8000,
                            summary={"thresholds": [1.0, 100.0]})
    run = tmp_path / "run.nc"
    assert run_cli(["run", path, "--out", run, "--quiet"])[0] == 0
    from overhang_sim import load

    result = load(run)
    assert result.attrs["main_output"] == "usd_per_pflops_day"
    assert result["prob_at_least"].sizes["threshold"] == 2  # P(usd_per_pflops_day >= t)
    code, out, err = run_cli(["report", run, "--out", tmp_path / "r.html"])
    assert code == 0, err
    code, out, err = run_cli(["plot", run, "--out-dir", tmp_path / "figures"])
    assert code == 0 and "run_distribution.png" in out, err


def test_figures_of_different_outputs_never_share_a_name(tmp_path, run_cli):
    """Smaller defect: `overhang plot --output X` gave the same file names as the main output."""
    run = tmp_path / "run.nc"
    assert run_cli(["run", EXPERIMENTS / "baseline_throughput.toml", "--samples", "8000", "--out", run,
                    "--quiet"])[0] == 0
    names = set()
    for output in (None, "cluster_tokens_per_s", "serial_speedup"):
        argv = ["plot", run, "--out-dir", tmp_path / "figures"] + (["--output", output] if output else [])
        code, out, err = run_cli(argv)
        assert code == 0, err
        written = {line.removeprefix("saved ") for line in out.splitlines() if line.startswith("saved ")}
        assert written and not written & names
        names |= written


def test_zarr_is_written_without_dask(tmp_path):
    """Item 1: --out NAME.zarr failed after the whole run because Dataset.chunk() needs dask."""
    import subprocess
    import sys

    script = (
        "import sys; sys.modules['dask'] = None\n"  # as if the optional extra were not installed
        "import overhang_sim as o, dataclasses\n"
        f"e = dataclasses.replace(o.load_experiment({str(EXPERIMENTS / 'baseline_throughput.toml')!r}), samples=4000)\n"
        f"o.save(o.simulate(e), {str(tmp_path / 'run.zarr')!r})\n"
        f"print(o.load({str(tmp_path / 'run.zarr')!r})['instances'].shape)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "(8, 500)"


def test_the_runtime_dependencies_include_h5py():
    """Item 1: h5netcdf >= 1.8 no longer pulls in h5py; the test extra hid that."""
    from importlib.metadata import requires

    runtime = [r for r in requires("overhang-sim") if "extra ==" not in r]
    assert any(r.startswith("h5py") for r in runtime), runtime


# --------------------------------------------------------------------------- what the fuzzer found last


def test_a_threshold_beyond_float64_is_a_one_line_error(write_experiment):
    with pytest.raises(ConfigError, match=r"summary\.thresholds\[1\]: must be a positive number"):
        load_experiment(write_experiment(priors=THROUGHPUT_PRIORS, summary={"thresholds": [1e5, 10**400]}))


@pytest.mark.parametrize("entry, key", [
    (lognormal(5e-324, 1e300), "p95"),  # draws would underflow to 0 and overflow to inf
    (lognormal(5e307, 1e308), "p95"),
    ({"dist": "pert", "low": -1e308, "mode": 0.0, "high": 1e308}, "high"),  # the width is inf
    ({"dist": "beta", "alpha": 2.0, "beta": 2.0, "low": -1e308, "high": 1e308}, "high"),
])
def test_priors_beyond_float64_are_refused_where_they_are_written(entry, key):
    """Fuzz: these failed at sampling time, with a message naming no file and a key nobody wrote."""
    with pytest.raises(PriorError) as error:
        parse_distribution(entry)
    assert error.value.key == key


def test_a_mixture_spanning_hundreds_of_orders_of_magnitude_inverts_its_cdf():
    """Fuzz: such a mixture's table took minutes to build (root finding on a linear bracket)."""
    dist = parse_distribution({"dist": "mixture", "weights": [1, 1, 1], "components": [
        {"dist": "uniform", "low": 5e299, "high": 1e300}, {"dist": "loguniform", "low": 1e6, "high": 1e12},
        {"dist": "loguniform", "low": 1e-300, "high": 1e-12}]})
    u = np.linspace(0.01, 0.99, 99)
    np.testing.assert_allclose(dist.cdf(dist.exact_ppf(u)), u, atol=1e-9)


def test_a_pert_near_the_largest_doubles_is_a_beta_not_an_overflow():
    """Fuzz: lam * (mode - low) overflowed to inf before the division, at sampling time."""
    dist = parse_distribution({"dist": "pert", "low": 5e307, "mode": 1e308, "high": 1e308})
    assert (dist.as_beta.alpha, dist.as_beta.beta) == (5.0, 1.0)


def test_an_empty_priors_entry_names_the_experiment_file(write_experiment):
    """Fuzz: `priors = [""]` named the experiments folder as the bad file."""
    path = write_experiment(priors=THROUGHPUT_PRIORS, prior_files=[""])
    with pytest.raises(ConfigError, match=r"priors\[0\]: must be a file name") as error:
        load_experiment(path)
    assert error.value.file == str(path)
