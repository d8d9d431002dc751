"""Prior families: agreement with scipy.stats, inverse-CDF contract, support, validation.

Tolerances:
- closed-form families (lognormal, normal, uniform, loguniform, truncated normal) are
  the same formula scipy evaluates, up to a few roundings: rel=1e-12 (and an absolute
  floor of 1e-12 times the scale where values cross zero);
- Beta, PERT and mixtures use an interpolation table whose worst error the table
  measures itself (``table.max_error``); the module documents it below 1e-8 of the
  range, which is what the table test asks;
- in probability space (cdf(ppf(u)) against u) a value error dx becomes at most
  max_pdf * dx, so that is the tolerance where a table is involved.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from strategies import PRIORS, beta_params, interval_params, lognormal_params, pert_params, unit_grid

from overhang_sim import (
    Beta,
    Empirical,
    Fixed,
    LogNormal,
    LogUniform,
    Mixture,
    Normal,
    Pert,
    PriorError,
    Truncated,
    Uniform,
    describe,
    implied,
    load_priors,
)
from overhang_sim.distributions import writes_into

EPS = np.finfo(float).eps
U = unit_grid()



def _lognorm(d: LogNormal):
    return stats.lognorm(d.sigma, scale=math.exp(d.mu))


# ---------------------------------------------------------------------------- contract, every family

FAMILIES = {
    "fixed": Fixed(3.5),
    "lognormal": LogNormal(300.0, 1.1e4),
    "normal": Normal(2.0, 3.0),
    "uniform": Uniform(-1.0, 4.0),
    "loguniform": LogUniform(1.0, 100.0),
    "beta": Beta(2.0, 3.0, 1.0, 5.0),
    "pert": Pert(0.2, 0.4, 0.6),
    "empirical": Empirical((3.0, 1.0, 2.0), (1.0, 2.0, 1.0)),
    "mixture": Mixture((Normal(0.0, 1.0), Normal(5.0, 2.0)), (0.3, 0.7)),
    "truncated": Truncated(Normal(0.0, 1.0), -0.5, 2.0),
    "truncated_lognormal": Truncated(LogNormal(1.0, 10.0), 2.0, math.inf),
}
SUPPORTS = {
    "fixed": (3.5, 3.5),
    "lognormal": (0.0, math.inf),
    "normal": (-math.inf, math.inf),
    "uniform": (-1.0, 4.0),
    "loguniform": (1.0, 100.0),
    "beta": (1.0, 5.0),
    "pert": (0.2, 0.6),
    "empirical": (1.0, 3.0),
    "mixture": (-math.inf, math.inf),
    "truncated": (-0.5, 2.0),
    "truncated_lognormal": (2.0, math.inf),
}


class TestContract:
    """What every family promises: frozen spec, ppf/cdf/support consistent with each other."""

    @pytest.fixture(params=sorted(FAMILIES))
    def family(self, request):
        return request.param, FAMILIES[request.param]

    def test_frozen(self, family):
        _, dist = family
        field = dataclasses.fields(dist)[0].name
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(dist, field, 1.0)

    def test_support(self, family):
        name, dist = family
        assert dist.support() == SUPPORTS[name]

    def test_ppf_inside_support_and_monotone(self, family):
        _, dist = family
        x = dist.ppf(U)
        assert x.shape == U.shape
        low, high = dist.support()
        assert np.all((x >= low) & (x <= high))
        assert np.all(np.diff(x) >= 0)

    def test_ppf_keeps_shape(self, family):
        _, dist = family
        u = np.linspace(0.01, 0.99, 12).reshape(3, 4)
        assert dist.ppf(u).shape == (3, 4)
        np.testing.assert_array_equal(dist.ppf(u).ravel(), dist.ppf(u.ravel()))

    def test_cdf_is_a_cdf(self, family):
        # values below a log-scale family's support: see test_log_scale_cdf_below_zero
        _, dist = family
        ends = [e for e in dist.support() if math.isfinite(e)]
        x = np.sort(np.concatenate([dist.ppf(U), ends]))
        p = dist.cdf(x)
        assert np.all((p >= 0) & (p <= 1))
        assert np.all(np.diff(p) >= 0)

    def test_cdf_inverts_ppf(self, family):
        """cdf(ppf(u)) >= u always (generalized inverse); == u for continuous families."""
        name, dist = family
        u = U[(U > 1e-9) & (U < 1 - 1e-9)]
        p = dist.cdf(dist.ppf(u))
        if name in ("fixed", "empirical"):
            assert np.all(p >= u)
            return
        table = getattr(dist, "table", None) or getattr(getattr(dist, "as_beta", None), "table", None)
        # a few roundings in closed forms; for tables, max_pdf * max_error (module docstring)
        tolerance = 1e-12
        if table is not None:
            lo, hi = np.quantile(dist.ppf(u), [0.0, 1.0])
            grid = np.linspace(lo, hi, 20_001)
            max_pdf = np.max(np.diff(dist.cdf(grid)) / np.diff(grid)) * 1.01  # pdf smooth on this grid
            tolerance += max_pdf * table.max_error
        np.testing.assert_allclose(p, u, rtol=0, atol=tolerance)


# ---------------------------------------------------------------------------- closed forms vs scipy

CLOSED_FORMS = [
    ("lognormal", LogNormal(300.0, 1.1e4), _lognorm(LogNormal(300.0, 1.1e4))),
    ("lognormal_wide", LogNormal(1e-3, 1e9), _lognorm(LogNormal(1e-3, 1e9))),
    ("normal", Normal(2.0, 3.0), stats.norm(2.0, 3.0)),
    ("uniform", Uniform(-1.0, 4.0), stats.uniform(-1.0, 5.0)),
    ("loguniform", LogUniform(1.0, 100.0), stats.loguniform(1.0, 100.0)),
]


@pytest.mark.parametrize(("dist", "frozen"), [c[1:] for c in CLOSED_FORMS], ids=[c[0] for c in CLOSED_FORMS])
def test_closed_form_ppf_and_cdf_match_scipy(dist, frozen):
    x = dist.ppf(U)
    scale = float(np.ptp(frozen.ppf([0.05, 0.95])))
    np.testing.assert_allclose(x, frozen.ppf(U), rtol=1e-12, atol=1e-12 * scale)
    np.testing.assert_allclose(dist.cdf(x), frozen.cdf(x), rtol=1e-12, atol=1e-15)


@settings(max_examples=200)
@given(lognormal_params())
def test_lognormal_reproduces_its_p05_and_p95(params):
    p05, p95 = params
    d = LogNormal(p05, p95)
    np.testing.assert_allclose(d.ppf(np.array([0.05, 0.95])), [p05, p95], rtol=1e-12)
    np.testing.assert_allclose(d.ppf(np.array([0.5])), [math.sqrt(p05 * p95)], rtol=1e-12)


@settings(max_examples=50)
@given(lognormal_params())
def test_lognormal_ppf_matches_scipy(params):
    d = LogNormal(*params)
    np.testing.assert_allclose(d.ppf(U), _lognorm(d).ppf(U), rtol=1e-12)


# ---------------------------------------------------------------------------- Beta and PERT tables

TABLE_CASES = [
    pytest.param(Beta(0.5, 0.5), id="beta(0.5,0.5)"),
    pytest.param(Beta(1.0, 1.0, -2.0, 3.0), id="beta(1,1)"),
    pytest.param(Beta(2.0, 2.0), id="beta(2,2)"),
    pytest.param(Beta(2.0, 5.0), id="beta(2,5)"),
    pytest.param(Pert(0.2, 0.4, 0.6), id="pert-train_utilization"),
    pytest.param(Pert(0.04, 0.3, 0.5), id="pert-inference_utilization"),
]


def _as_beta(dist):
    return dist.as_beta if isinstance(dist, Pert) else dist


def _scipy_beta(dist):
    b = _as_beta(dist)
    return stats.beta(b.alpha, b.beta, loc=b.low, scale=b.high - b.low)


def _table_u():
    """Many u: the shared grid (tails to 1e-15) plus every cell midpoint of a 2**18 table."""
    midpoints = (np.arange(2**18) + 0.5) / 2**18
    return np.unique(np.concatenate([U, midpoints]))


@pytest.mark.parametrize("dist", TABLE_CASES)
def test_table_ppf_within_2e8_of_the_range(dist):
    """The module docstring: within 2e-8 of the range for the shipped PERT priors and smooth betas."""
    u = _table_u()
    low, high = dist.support()
    error = np.max(np.abs(dist.ppf(u) - _scipy_beta(dist).ppf(u)))
    assert error <= 2e-8 * (high - low)


@pytest.mark.parametrize("dist", [Beta(2.0, 3.0, 1.0, 5.0), Pert(0.2, 0.4, 0.6), Pert(0.04, 0.3, 0.5),
                                  Beta(0.7, 9.0)])
def test_table_reports_its_own_error_honestly(dist):
    """max_error is measured at cell midpoints; the true maximum of a linear interpolant's
    error in a cell is at the midpoint when f'' is constant over the cell, and f'' changes by
    at most a few % across one 2**-18 cell beyond the 2**-9 tails, so 1 % slack is ample."""
    table = _as_beta(dist).table
    u = np.random.default_rng(7).random(2**20)
    low, high = dist.support()
    error = np.max(np.abs(dist.ppf(u) - _scipy_beta(dist).ppf(u)))
    assert error <= 1.01 * table.max_error + 4 * EPS * (high - low)


@pytest.mark.parametrize("dist", [Beta(2.0, 3.0, 1.0, 5.0), Pert(0.04, 0.3, 0.5)])
def test_table_tails_are_exact(dist):
    tail = 2.0**-9
    u = U[(U < tail) | (U > 1 - tail)]
    np.testing.assert_allclose(dist.ppf(u), _scipy_beta(dist).ppf(u), rtol=1e-14, atol=0)


@settings(max_examples=25)
@given(beta_params())
def test_beta_exact_functions_are_scipy_stats_bit_for_bit(params):
    """Beta calls scipy.special itself (a run then imports no scipy.stats): the same bits as
    scipy.stats.beta's ppf, cdf and sf, ends, outside values and NaN included."""
    d = Beta(*params)
    frozen = _scipy_beta(d)
    grid = unit_grid(2001)
    u = np.concatenate([[0.0, 1.0, -0.5, 1.5, np.nan], grid])
    x = np.concatenate([[d.low, d.high, d.low - 1.0, d.high + 1.0, -np.inf, np.inf, np.nan], d.exact_ppf(grid)])
    np.testing.assert_array_equal(d.exact_ppf(u), frozen.ppf(u))
    np.testing.assert_array_equal(d.cdf(x), frozen.cdf(x))
    np.testing.assert_array_equal(d.sf(x), frozen.sf(x))
    assert d.cdf(d.low + 0.5 * (d.high - d.low)) == frozen.cdf(d.low + 0.5 * (d.high - d.low))


@settings(max_examples=10)
@given(beta_params())
def test_beta_ppf_monotone_and_in_support(params):
    d = Beta(*params)
    x = d.ppf(U)
    assert np.all(np.diff(x) >= 0)
    assert np.all((x >= d.low) & (x <= d.high))


@settings(max_examples=10)
@given(pert_params())
def test_pert_is_the_documented_beta(params):
    low, mode, high, lam = params
    d = Pert(low, mode, high, lam)
    width = high - low
    b = d.as_beta
    assert b.alpha == pytest.approx(1 + lam * (mode - low) / width, rel=1e-12)
    assert b.beta == pytest.approx(1 + lam * (high - mode) / width, rel=1e-12)
    x = d.ppf(U)
    assert np.all(np.diff(x) >= 0)
    assert np.all((x >= low) & (x <= high))


def test_pert_mean_is_the_textbook_mean():
    d = Pert(0.04, 0.3, 0.5)
    assert _scipy_beta(d).mean() == pytest.approx((0.04 + 4 * 0.3 + 0.5) / 6, rel=1e-12)


# ---------------------------------------------------------------------------- monotone ppf, all families


@settings(max_examples=60)
@given(st.one_of(
    lognormal_params().map(lambda p: LogNormal(*p)),
    interval_params().map(lambda p: Uniform(*p)),
    interval_params(positive_low=True).map(lambda p: LogUniform(*p)),
    st.tuples(st.floats(-1e6, 1e6), st.floats(1e-3, 1e6)).map(lambda p: Normal(*p)),
))
def test_closed_form_ppf_monotone(dist):
    x = dist.ppf(U)
    assert np.all(np.diff(x) >= 0)
    if not isinstance(dist, LogUniform):  # see test_loguniform_ppf_stays_in_its_bounds
        low, high = dist.support()
        assert np.all((x >= low) & (x <= high))


def test_loguniform_ppf_stays_in_its_bounds():
    for low, high in [(0.2, 10.0), (3.0, 10.0), (5.0, 10.0), (7.0, 100.0)]:
        x = LogUniform(low, high).ppf(np.array([0.0, 1 - 2**-53]))
        assert low <= x[0] and x[1] <= high, (low, high, x)


# ---------------------------------------------------------------------------- mixtures


def _mixture_tolerance(m: Mixture, lo: float, hi: float) -> float:
    grid = np.linspace(lo, hi, 200_001)
    max_pdf = np.max(np.diff(m.cdf(grid)) / np.diff(grid)) * 1.01
    return max_pdf * m.table.max_error + 1e-12


@settings(max_examples=5)
@given(st.floats(0.05, 0.95), st.floats(-5, 5), st.floats(0.3, 3.0))
def test_mixture_of_normals_ppf_inverts_cdf(w, shift, sd):
    m = Mixture((Normal(0.0, 1.0), Normal(shift, sd)), (w, 1 - w))
    u = U[(U > 1e-9) & (U < 1 - 1e-9)]
    x = m.ppf(u)
    assert np.all(np.diff(x) >= 0)
    tol = _mixture_tolerance(m, float(x[0]), float(x[-1]))
    np.testing.assert_allclose(m.cdf(x), u, rtol=0, atol=tol)


def test_mixture_cdf_is_weighted_sum():
    a, b = LogNormal(1.0, 10.0), LogNormal(50.0, 500.0)
    m = Mixture((a, b), (1.0, 3.0))
    x = np.logspace(-2, 4, 50)
    np.testing.assert_allclose(m.cdf(x), 0.25 * _lognorm(a).cdf(x) + 0.75 * _lognorm(b).cdf(x),
                               rtol=1e-12, atol=1e-15)
    u = U[(U > 1e-9) & (U < 1 - 1e-9)]
    xs = m.ppf(u)
    np.testing.assert_allclose(m.cdf(xs), u, rtol=0, atol=_mixture_tolerance(m, 1e-3, 1e5))


def test_unbounded_mixture_ppf_is_warning_free():
    import warnings

    m = FAMILIES["mixture"]
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        x = m.ppf(np.array([1e-6, 0.5, 1 - 1e-6]))
    assert np.all(np.isfinite(x))


def test_mixture_of_normal_and_lognormal():
    m = Mixture((Normal(0.0, 1.0), LogNormal(1.0, 10.0)), (0.5, 0.5))
    u = np.array([0.1, 0.3, 0.5, 0.9])
    x = m.ppf(u)
    assert np.all(np.isfinite(x))
    np.testing.assert_allclose(m.cdf(x), u, atol=_mixture_tolerance(m, -3.0, 50.0))


@pytest.mark.parametrize("dist", [LogNormal(1.0, 10.0), LogUniform(1.0, 10.0)], ids=["lognormal", "loguniform"])
def test_log_scale_cdf_below_zero(dist):
    x = np.array([-np.inf, -1.0, 0.0])
    np.testing.assert_array_equal(dist.cdf(x), [0.0, 0.0, 0.0])


# ---------------------------------------------------------------------------- empirical


@settings(max_examples=50)
@given(st.lists(st.tuples(st.floats(-1e6, 1e6), st.integers(0, 20)), min_size=1, max_size=8)
       .filter(lambda pairs: sum(w for _, w in pairs) > 0))
def test_empirical_weights(pairs):
    """On the stratified grid u_i = (i + 1/2)/n the share of each value is its weight within 1/n."""
    values = tuple(v for v, _ in pairs)
    weights = tuple(float(w) for _, w in pairs)
    d = Empirical(values, weights)
    n = 10_000
    x = d.ppf((np.arange(n) + 0.5) / n)
    total = {}
    for v, w in pairs:
        total[v] = total.get(v, 0.0) + w
    for v, w in total.items():
        share = np.mean(x == v)
        assert abs(share - w / sum(weights)) <= 1 / n + 1e-12


def test_empirical_matches_scipy_off_the_jumps():
    values, weights = (3.0, 1.0, 2.0, 7.5), (1.0, 2.0, 1.0, 4.0)
    d = Empirical(values, weights)
    ref = stats.rv_discrete(values=(values, np.array(weights) / sum(weights)))
    jumps = np.cumsum(np.array(weights)[np.argsort(values)]) / sum(weights)
    # off the jumps; u = 0 too, where scipy's discrete ppf returns min(values) - 1 by convention
    u = U[np.all(np.abs(U[:, None] - jumps[None, :]) > 1e-12, axis=1) & (U > 0)]
    np.testing.assert_array_equal(d.ppf(u), ref.ppf(u))
    x = np.array([0.0, 1.0, 1.5, 2.0, 3.0, 7.5, 8.0])
    np.testing.assert_allclose(d.cdf(x), ref.cdf(x), rtol=1e-12)


def test_empirical_equal_weights_by_default():
    d = Empirical((5.0, 6.0, 7.0, 8.0))
    np.testing.assert_array_equal(d.ppf(np.array([0.1, 0.3, 0.6, 0.9])), [5.0, 6.0, 7.0, 8.0])


def test_empirical_ppf_at_a_jump_is_the_generalized_inverse():
    d = Empirical((1.0, 2.0, 3.0, 4.0))
    ref = stats.rv_discrete(values=((1.0, 2.0, 3.0, 4.0), (0.25,) * 4))
    np.testing.assert_array_equal(d.ppf(np.array([0.25, 0.5, 0.75])), ref.ppf([0.25, 0.5, 0.75]))


# ---------------------------------------------------------------------------- truncation


@settings(max_examples=40)
@given(st.floats(-100, 100), st.floats(0.1, 10), st.floats(-2.5, 2.0), st.floats(0.2, 3.0))
def test_truncated_normal_matches_truncnorm(mean, sd, a, width):
    """Truncated.ppf evaluates the base ppf at p = F(lower) + (F(upper) - F(lower)) u; p carries
    an absolute rounding error of a few eps, which moves x by sd * eps / phi(z): that, plus a
    relative 1e-12 for the rest, is the tolerance at each point."""
    lower, upper = mean + a * sd, mean + (a + width) * sd
    d = Truncated(Normal(mean, sd), lower, upper)
    x = d.ppf(U)
    assert np.all((x >= lower) & (x <= upper))
    ref = stats.truncnorm(a, a + width, loc=mean, scale=sd)
    expected = ref.ppf(U)
    tol = sd * 8 * EPS / stats.norm.pdf((expected - mean) / sd) + 1e-12 * (sd + np.abs(expected))
    assert np.all(np.abs(x - expected) <= tol)
    np.testing.assert_allclose(d.cdf(x), ref.cdf(x), rtol=0, atol=1e-12)
    assert d.support() == (lower, upper)


@settings(max_examples=40)
@given(lognormal_params(), st.floats(0.05, 0.9))
def test_truncated_lognormal_below_stays_in_bounds(params, q):
    base = LogNormal(*params)
    lower = float(base.ppf(np.array([q]))[0])
    d = Truncated(base, lower, math.inf)
    x = d.ppf(U)
    assert np.all(x >= lower)
    ref = _lognorm(base)
    mass_below = ref.cdf(lower)
    p = mass_below + (1 - mass_below) * U
    # Conditioning: p carries an absolute rounding error of a few eps, which moves
    # z = ndtri(p) by eps / phi(z) and x = exp(mu + sigma z) by sigma * eps / phi(z) relative.
    z = stats.norm.ppf(p)
    rtol = base.sigma * 8 * EPS / stats.norm.pdf(z) + 1e-13
    assert np.all(np.abs(x - ref.ppf(p)) <= rtol * np.abs(ref.ppf(p)))


@pytest.mark.parametrize("base", [LogNormal(1.0, 10.0), LogUniform(1.0, 10.0)], ids=["lognormal", "loguniform"])
def test_truncated_log_scale_with_only_an_upper_bound(base):
    d = Truncated(base, upper=5.0)
    x = d.ppf(U)
    assert np.all((x >= base.support()[0]) & (x <= 5.0))  # lognormal ppf(0) = 0, as scipy's
    assert np.all(x[U > 0] > 0)
    assert d.support() == (base.support()[0], 5.0)


def test_truncated_with_no_mass_is_rejected():
    with pytest.raises(PriorError):
        Truncated(Uniform(0.0, 1.0), 2.0, 3.0)


# ---------------------------------------------------------------------------- scalars

@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_ppf_of_a_scalar(name):
    dist = FAMILIES[name]
    assert float(dist.ppf(0.3)) == float(dist.ppf(np.array([0.3]))[0])


# ---------------------------------------------------------------------------- validation

INVALID = [
    (lambda: LogNormal(10.0, 10.0), "p05"),
    (lambda: LogNormal(20.0, 10.0), "p05"),
    (lambda: LogNormal(0.0, 10.0), "p05"),
    (lambda: LogNormal(-1.0, 10.0), "p05"),
    (lambda: LogNormal(1.0, math.inf), "p95"),
    (lambda: LogUniform(0.0, 1.0), "low"),
    (lambda: Normal(0.0, 0.0), "sd"),
    (lambda: Normal(math.nan, 1.0), "mean"),
    (lambda: Uniform(1.0, 1.0), "low"),
    (lambda: Beta(0.0, 1.0), "alpha"),
    (lambda: Beta(1.0, -1.0), "beta"),
    (lambda: Pert(0.0, 2.0, 1.0), "mode"),
    (lambda: Pert(0.0, 0.5, 1.0, lam=0.0), "lam"),
    (lambda: Fixed(math.nan), "value"),
    (lambda: Fixed("40"), "value"),
    (lambda: Empirical(()), "values"),
    (lambda: Empirical((1.0, 2.0), (1.0,)), "weights"),
    (lambda: Empirical((1.0, 2.0), (1.0, -1.0)), "weights[1]"),
    (lambda: Empirical((1.0, 2.0), (0.0, 0.0)), "weights"),
    (lambda: Mixture((Normal(0, 1),), (1.0, 2.0)), "weights"),
    (lambda: Truncated(Normal(0.0, 1.0), math.nan, 1.0), "lower"),
    (lambda: Truncated(Normal(0.0, 1.0), 2.0, 1.0), "lower"),
]


@pytest.mark.parametrize(("build", "key"), INVALID)
def test_invalid_parameters_raise_prior_error_naming_the_key(build, key):
    with pytest.raises(PriorError) as info:
        build()
    assert info.value.key == key
    assert isinstance(info.value, ValueError)


# ---------------------------------------------------------------------------- describe / implied


def test_describe():
    assert describe(LogNormal(2e4, 2e5)) == "lognormal(p05=20000, p95=200000)"
    assert describe(LogNormal(370_000, 1.8e7)) == "lognormal(p05=370000, p95=1.8e+07)"
    assert describe(Truncated(Normal(1.0, 2.0), 0.0)) == "normal(mean=1, sd=2) truncated to [0, inf]"
    assert describe(Empirical((1.0, 2.0))) == "empirical(2 values)"


def _exact_mean(dist):
    if isinstance(dist, LogNormal):
        return _lognorm(dist).mean()
    if isinstance(dist, LogUniform):
        return stats.loguniform(dist.low, dist.high).mean()
    if isinstance(dist, (Beta, Pert)):
        return _scipy_beta(dist).mean()
    if isinstance(dist, Fixed):
        return dist.value
    raise TypeError(dist)


BASELINE = load_priors(PRIORS / "baseline.toml")


@pytest.mark.parametrize("name", sorted(BASELINE))
def test_implied_for_baseline_priors(name):
    """p01/p50/p99 are the ppf itself; the mean must be right to the 4 significant digits
    `overhang priors` prints (half a unit of the 4th digit is >= 5e-5 relative)."""
    dist = BASELINE[name].dist
    out = implied(dist)
    np.testing.assert_array_equal([out["p01"], out["p50"], out["p99"]], dist.ppf(np.array([0.01, 0.5, 0.99])))
    assert out["mean"] == pytest.approx(_exact_mean(dist), rel=5e-5)


@pytest.mark.filterwarnings("ignore::scipy.integrate.IntegrationWarning")
@pytest.mark.parametrize("p95", [
    10.0, 1e3, 1e5,
    1e6,
])
def test_implied_mean_of_wide_lognormals(p95):
    dist = LogNormal(1.0, p95)
    assert implied(dist)["mean"] == pytest.approx(_exact_mean(dist), rel=5e-5)


def test_the_written_out_normal_quantiles_are_scipys():
    """distributions.py writes ndtri(0.95) and ndtri(1 - 2**-53) out so as not to import scipy.special."""
    from scipy import special

    from overhang_sim import distributions as d

    assert d.Z95 == special.ndtri(0.95) and type(d.Z95) is type(special.ndtri(0.95))
    assert d.Z_FARTHEST == special.ndtri(1 - 2.0**-53)


@pytest.mark.parametrize("dist", [LogNormal(2e4, 2e5), Normal(1.0, 2.0), Uniform(-1.0, 3.0), LogUniform(1.0, 100.0),
                                  Beta(2.0, 3.0, 1.0, 5.0), Pert(0.04, 0.3, 0.5)], ids=lambda d: type(d).__name__)
def test_ppf_into_an_array_gives_the_same_bits(dist):
    """Issue 11: the families a run draws most write into the final array (``out=``), in place of
    `u` too, with the values of ``ppf(u)``; the tails of a table are exact there as well."""
    u = np.concatenate([np.random.default_rng(7).random(5000), [2.0**-54, 1e-4, 0.5, 1 - 1e-4, 1 - 2.0**-53]])
    assert writes_into(dist)
    expected = dist.ppf(u)
    out = np.full_like(u, np.nan)
    assert dist.ppf(u, out=out) is out
    in_place = u.copy()
    dist.ppf(in_place, out=in_place)
    for got in (out, in_place):
        assert got.tobytes() == expected.tobytes()
    assert not writes_into(Mixture((Normal(0.0, 1.0), Normal(5.0, 2.0)), (0.3, 0.7)))
