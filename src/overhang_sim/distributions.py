"""Prior families as frozen specs, each sampled by its inverse CDF.

Every family maps uniforms ``u`` in (0, 1) to values through :meth:`ppf`, so any
design (Monte Carlo, Latin hypercube, Sobol') and any copula works with any family.
Families also give :meth:`cdf`, :meth:`sf` (the survival function, accurate in the
upper tail), :meth:`support`, :meth:`expectation` and :meth:`describe`.

:data:`FAMILIES` is the one registry of the families: each entry holds the name a
prior file uses (``dist = "lognormal"``), the class, its required and optional
parameters. Beta, PERT and mixtures are sampled through a
:class:`~overhang_sim.ppftable.PPFTable` of their exact inverse CDF.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, fields
from typing import NamedTuple, Protocol

import numpy as np

from .errors import PriorError
from .ppftable import PPFTable, table_of

__all__ = [
    "FAMILIES",
    "Beta",
    "Distribution",
    "Empirical",
    "Family",
    "Fixed",
    "LogNormal",
    "LogUniform",
    "Mixture",
    "Normal",
    "PPFTable",
    "Pert",
    "Truncated",
    "Uniform",
    "describe",
    "implied",
    "reaches_zero",
    "writes_into",
]

# scipy.special.ndtri(0.95) and ndtri(1 - 2**-53), written out (tests check them): scipy.special is
# imported by the methods that call it, since importing it costs 0.2-0.3 s (it loads numpy.f2py and
# numpy.testing too) and a run whose priors are uniform or tabulated needs none of it.
Z95 = np.float64(1.6448536269514722)  # a 90 % interval spans +-Z95 standard deviations
Z_FARTHEST = 8.209536151601387  # the farthest standard normal a draw of u in (0, 1) reaches
LOG_TINY, LOG_HUGE = math.log(2.0**-1022), math.log(np.finfo(float).max)  # normal doubles, in log
WEIGHT_SUM_TOLERANCE = 1e-6


class Distribution(Protocol):
    """What every prior family provides."""

    def ppf(self, u: np.ndarray) -> np.ndarray:
        """Inverse CDF: values for uniforms `u` in (0, 1).

        The families a run draws most (lognormal, normal, uniform, log-uniform, beta, PERT) also
        take ``out=``, a float64 array of `u`'s shape the values are written into (`u` itself
        may be it); :func:`writes_into` says which do.
        """

    def cdf(self, x: np.ndarray) -> np.ndarray:
        """Cumulative probability of values `x`."""

    def sf(self, x: np.ndarray) -> np.ndarray:
        """Survival function ``P(X > x)``, accurate where the CDF rounds to 1."""

    def isf(self, q: np.ndarray) -> np.ndarray:
        """Inverse survival function: the value exceeded with probability `q`."""

    def support(self) -> tuple[float, float]:
        """Smallest and largest value the family can produce."""

    def expectation(self) -> float:
        """The mean (inf where it does not exist); named so that ``Normal.mean`` can be a parameter."""

    def describe(self) -> str:
        """One line, e.g. ``lognormal(p05=2e+04, p95=2e+05)``."""


def writes_into(dist) -> bool:
    """Whether ``dist.ppf`` takes ``out=`` (writes its values into an array given)."""
    return type(dist) in _WRITES_INTO


class Family(NamedTuple):
    """One registry entry: the class and the parameters a prior file gives it."""

    cls: type
    required: tuple[str, ...]
    optional: tuple[str, ...] = ()


FAMILIES: dict[str, Family] = {}


def family(name: str, required: tuple[str, ...], optional: tuple[str, ...] = ()):
    """Class decorator: register a family under the name prior files use."""
    def register(cls):
        cls.family_name = name
        FAMILIES[name] = Family(cls, required, optional)
        return cls
    return register


# --------------------------------------------------------------------------- checks


def _finite(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
        raise PriorError(f"must be a number, not {type(value).__name__} {value!r:.40}", key=name)
    try:
        value = float(value)
    except OverflowError:
        raise PriorError("is too large for a float", key=name) from None
    if not math.isfinite(value):
        raise PriorError(f"must be finite, not {value}", key=name)
    return value


def _positive(name: str, value: float) -> float:
    if _finite(name, value) <= 0:
        raise PriorError(f"must be > 0 for a log-scale family, not {value}", key=name)
    return float(value)


def _ordered(low_name: str, low: float, high_name: str, high: float) -> None:
    if not low < high:
        raise PriorError(f"must be less than {high_name} = {high}, not {low}", key=low_name)


def _weights(weights, count: int, what: str, normalised: bool) -> None:
    if len(weights) != count:
        raise PriorError(f"has {len(weights)} entries but there are {count} {what}", key="weights")
    for i, w in enumerate(weights):
        if _finite(f"weights[{i}]", w) < 0:
            raise PriorError(f"must be >= 0, not {w}", key=f"weights[{i}]")
    total = math.fsum(weights)
    if total <= 0:
        raise PriorError("must not all be zero", key="weights")
    if normalised and abs(total - 1) > WEIGHT_SUM_TOLERANCE:
        raise PriorError(f"must sum to 1 (they are probabilities), not {total:.9g}", key="weights")


def _log_or_minus_inf(x):
    """Natural log of `x`, with -inf for x <= 0 (where a log-scale family has no mass)."""
    x = np.asarray(x, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(x > 0, np.log(x), -np.inf)


def _parameters(dist) -> str:
    return ", ".join(f"{f.name}={getattr(dist, f.name):g}" for f in fields(dist) if f.init)


class _Describe:
    """``describe()`` from the family name and the parameters; ``isf`` and ``sf`` by default."""

    def describe(self) -> str:
        return f"{self.family_name}({_parameters(self)})"

    def sf(self, x):
        return 1.0 - self.cdf(x)

    def isf(self, q):
        return self.ppf(1.0 - np.asarray(q, dtype=float))


def _quadrature_mean(dist) -> float:
    """The integral of the inverse CDF over (0, 1), kept one ulp inside (0, 1)."""
    from scipy import integrate

    inside = np.nextafter(1.0, 0.0)
    mean, _ = integrate.quad(lambda u: float(dist.ppf(np.array([min(max(u, 1 - inside), inside)]))[0]),
                             0.0, 1.0, limit=200)
    return float(mean)


# --------------------------------------------------------------------------- families


@family("fixed", ("value",))
@dataclass(frozen=True)
class Fixed(_Describe):
    """A known value: every sample equals `value`."""

    value: float

    def __post_init__(self):
        _finite("value", self.value)

    def ppf(self, u):
        return np.full(np.shape(u), float(self.value))

    def cdf(self, x):
        return np.where(np.asarray(x) >= self.value, 1.0, 0.0)

    def support(self):
        return (float(self.value), float(self.value))

    def expectation(self):
        return float(self.value)


@family("lognormal", ("p05", "p95"))
@dataclass(frozen=True)
class LogNormal(_Describe):
    """Log-normal given by its 90 % interval, like Squiggle's ``p05 to p95``."""

    p05: float
    p95: float

    def __post_init__(self):
        _positive("p05", self.p05)
        _positive("p95", self.p95)
        _ordered("p05", self.p05, "p95", self.p95)
        reach = Z_FARTHEST * self.sigma  # the farthest a draw goes, in log
        if not (LOG_TINY < self.mu - reach and self.mu + reach < LOG_HUGE):
            raise PriorError(f"a 90 % interval [{self.p05:g}, {self.p95:g}] puts draws beyond what float64 holds "
                             "(they would be 0 or inf)", key="p95")

    @property
    def mu(self) -> float:
        """Mean of the log (natural log of the median)."""
        return 0.5 * (math.log(self.p05) + math.log(self.p95))

    @property
    def sigma(self) -> float:
        """Standard deviation of the natural log."""
        return (math.log(self.p95) - math.log(self.p05)) / (2 * Z95)

    def ppf(self, u, out=None):
        from scipy import special
        z = special.ndtri(u, out=np.empty(np.shape(u)) if out is None else out)
        z *= self.sigma
        z += self.mu
        return np.exp(z, out=z)

    def cdf(self, x):
        from scipy import special
        return special.ndtr((_log_or_minus_inf(x) - self.mu) / self.sigma)

    def sf(self, x):
        from scipy import special
        return special.ndtr((self.mu - _log_or_minus_inf(x)) / self.sigma)

    def isf(self, q):
        from scipy import special
        return np.exp(self.mu - self.sigma * special.ndtri(q))

    def expectation(self) -> float:
        """Exact mean, ``exp(mu + sigma**2 / 2)`` (inf if that overflows)."""
        exponent = self.mu + self.sigma**2 / 2
        return math.exp(exponent) if exponent < 709 else math.inf

    def support(self):
        return (0.0, math.inf)


@family("normal", ("mean", "sd"))
@dataclass(frozen=True)
class Normal(_Describe):
    """Normal with mean `mean` and standard deviation `sd`."""

    mean: float
    sd: float

    def __post_init__(self):
        _finite("mean", self.mean)
        if _finite("sd", self.sd) <= 0:
            raise PriorError(f"must be > 0, not {self.sd}", key="sd")

    def ppf(self, u, out=None):
        from scipy import special
        z = special.ndtri(u, out=out)
        z *= self.sd
        z += self.mean
        return z

    def cdf(self, x):
        from scipy import special
        return special.ndtr((np.asarray(x) - self.mean) / self.sd)

    def sf(self, x):
        from scipy import special
        return special.ndtr((self.mean - np.asarray(x)) / self.sd)

    def isf(self, q):
        from scipy import special
        return self.mean - self.sd * special.ndtri(q)

    def support(self):
        return (-math.inf, math.inf)

    def expectation(self):
        return float(self.mean)


@family("uniform", ("low", "high"))
@dataclass(frozen=True)
class Uniform(_Describe):
    """Uniform on [`low`, `high`]."""

    low: float
    high: float

    def __post_init__(self):
        _finite("low", self.low)
        _finite("high", self.high)
        _ordered("low", self.low, "high", self.high)

    def ppf(self, u, out=None):
        x = np.multiply(u, self.high - self.low, out=out)  # (high - low) u + low, as scipy
        x += self.low
        return x

    def cdf(self, x):
        return np.clip((np.asarray(x) - self.low) / (self.high - self.low), 0.0, 1.0)

    def sf(self, x):
        return np.clip((self.high - np.asarray(x)) / (self.high - self.low), 0.0, 1.0)

    def isf(self, q):
        return self.high - (self.high - self.low) * np.asarray(q)

    def support(self):
        return (float(self.low), float(self.high))

    def expectation(self):
        return 0.5 * (self.low + self.high)


@family("loguniform", ("low", "high"))
@dataclass(frozen=True)
class LogUniform(_Describe):
    """Uniform in the logarithm on [`low`, `high`], both > 0."""

    low: float
    high: float

    def __post_init__(self):
        _positive("low", self.low)
        _positive("high", self.high)
        _ordered("low", self.low, "high", self.high)

    @property
    def _logs(self):
        return math.log(self.low), math.log(self.high)

    def ppf(self, u, out=None):
        a, b = self._logs
        if out is None:
            return np.clip(np.exp(a + (b - a) * np.asarray(u, dtype=float)), self.low, self.high)
        x = np.multiply(u, b - a, out=out)  # the same arithmetic, in place
        x += a
        np.exp(x, out=x)
        return np.clip(x, self.low, self.high, out=x)

    def cdf(self, x):
        a, b = self._logs
        return np.clip((_log_or_minus_inf(x) - a) / (b - a), 0.0, 1.0)

    def sf(self, x):
        a, b = self._logs
        return np.clip((b - _log_or_minus_inf(x)) / (b - a), 0.0, 1.0)

    def isf(self, q):
        a, b = self._logs
        return np.clip(np.exp(b - (b - a) * np.asarray(q, dtype=float)), self.low, self.high)

    def support(self):
        return (float(self.low), float(self.high))

    def expectation(self):
        a, b = self._logs
        return (self.high - self.low) / (b - a)


@family("beta", ("alpha", "beta"), ("low", "high"))
@dataclass(frozen=True)
class Beta(_Describe):
    """Beta(`alpha`, `beta`) scaled to [`low`, `high`] (default [0, 1])."""

    alpha: float
    beta: float
    low: float = 0.0
    high: float = 1.0

    def __post_init__(self):
        for name in ("alpha", "beta"):
            if _finite(name, getattr(self, name)) <= 0:
                raise PriorError(f"must be > 0, not {getattr(self, name)}", key=name)
        _finite("low", self.low)
        _finite("high", self.high)
        _ordered("low", self.low, "high", self.high)
        if not math.isfinite(self.high - self.low):
            raise PriorError(f"the range [{self.low:g}, {self.high:g}] is too wide for float64", key="high")

    # scipy.stats.beta's arithmetic, bit for bit (tests/test_distributions.py checks it), on
    # the scipy.special functions it calls: importing scipy.stats costs more than a small run.
    def _standard(self, x):
        """`x` mapped onto [0, 1], outside values clipped to its ends."""
        return np.clip((np.asarray(x, dtype=float) - self.low) / (self.high - self.low), 0.0, 1.0)

    def exact_ppf(self, u):
        """The exact inverse CDF, behind the table."""
        from scipy import special
        return special.betaincinv(self.alpha, self.beta, np.asarray(u, dtype=float)) * (self.high - self.low) + self.low

    @property
    def table(self) -> PPFTable:
        """The interpolation table behind :meth:`ppf`, one per parameter set."""
        return table_of(self)

    def ppf(self, u, out=None):
        return self.table(u, out=out)

    def cdf(self, x):
        from scipy import special
        return special.betainc(self.alpha, self.beta, self._standard(x))

    def sf(self, x):
        from scipy import special
        return special.betaincc(self.alpha, self.beta, self._standard(x))

    def support(self):
        return (float(self.low), float(self.high))

    def expectation(self):
        return self.low + (self.high - self.low) * self.alpha / (self.alpha + self.beta)


@family("pert", ("low", "mode", "high"), ("lam",))
@dataclass(frozen=True)
class Pert(_Describe):
    """PERT on [`low`, `high`] with mode `mode`: a beta with shape ``lam`` (default 4)."""

    low: float
    mode: float
    high: float
    lam: float = 4.0

    def __post_init__(self):
        for name in ("low", "mode", "high", "lam"):
            _finite(name, getattr(self, name))
        _ordered("low", self.low, "high", self.high)
        if not self.low <= self.mode <= self.high:
            raise PriorError(f"must lie in [low, high] = [{self.low}, {self.high}], not {self.mode}", key="mode")
        if self.lam <= 0:
            raise PriorError(f"must be > 0, not {self.lam}", key="lam")
        if not math.isfinite(self.high - self.low):
            raise PriorError(f"the range [{self.low:g}, {self.high:g}] is too wide for float64", key="high")
        try:
            self.as_beta  # noqa: B018 -- its checks are this prior's too
        except PriorError as error:
            raise PriorError(f"gives the beta shape {error.key} that {error.problem}", key="lam") from None

    @functools.cached_property
    def as_beta(self) -> Beta:
        """The equivalent scaled :class:`Beta`."""
        def shape(part):  # lam * part / width, without overflowing near the largest doubles
            value = self.lam * part / width
            return value if math.isfinite(value) else self.lam * (part / width)

        width = self.high - self.low
        return Beta(1 + shape(self.mode - self.low), 1 + shape(self.high - self.mode), self.low, self.high)

    def ppf(self, u, out=None):
        return self.as_beta.ppf(u, out=out)

    def cdf(self, x):
        return self.as_beta.cdf(x)

    def sf(self, x):
        return self.as_beta.sf(x)

    def support(self):
        return (float(self.low), float(self.high))

    def expectation(self):
        return self.as_beta.expectation()


@family("empirical", ("values",), ("weights",))
@dataclass(frozen=True)
class Empirical(_Describe):
    """The discrete distribution of `values`, with optional relative `weights` (default equal)."""

    values: tuple[float, ...]
    weights: tuple[float, ...] | None = None

    def __post_init__(self):
        if len(self.values) == 0:
            raise PriorError("must hold at least one value", key="values")
        for i, v in enumerate(self.values):
            _finite(f"values[{i}]", v)
        if self.weights is not None:
            _weights(self.weights, len(self.values), "values", normalised=False)

    @functools.cached_property
    def _table(self):
        order = np.argsort(self.values, kind="stable")
        weights = np.ones(len(self.values)) if self.weights is None else np.asarray(self.weights, float)
        cumulative = np.cumsum(weights[order])
        return np.asarray(self.values, float)[order], cumulative / cumulative[-1]

    def ppf(self, u):
        """The smallest value whose cumulative probability is at least `u` (as scipy)."""
        values, cumulative = self._table
        index = np.searchsorted(cumulative, u, side="left")
        return values[np.minimum(index, len(values) - 1)]

    def cdf(self, x):
        values, cumulative = self._table
        index = np.searchsorted(values, x, side="right")
        return np.concatenate([[0.0], cumulative])[index]

    def support(self):
        return (float(min(self.values)), float(max(self.values)))

    def expectation(self):
        values, cumulative = self._table
        return float(np.sum(values * np.diff(cumulative, prepend=0.0)))

    def describe(self):
        return f"empirical({len(self.values)} values)"


@family("mixture", ("components", "weights"))
@dataclass(frozen=True)
class Mixture(_Describe):
    """A mixture of other families with relative `weights` (normalised to sum to 1)."""

    components: tuple[Distribution, ...]
    weights: tuple[float, ...]

    def __post_init__(self):
        if len(self.components) < 1:
            raise PriorError("must hold at least one component", key="components")
        _weights(self.weights, len(self.components), "components", normalised=False)

    @functools.cached_property
    def _probabilities(self):
        w = np.asarray(self.weights, float)
        return w / w.sum()

    def cdf(self, x):
        return sum(p * c.cdf(x) for p, c in zip(self._probabilities, self.components))

    def sf(self, x):
        return sum(p * c.sf(x) for p, c in zip(self._probabilities, self.components))

    def exact_ppf(self, u):
        """The exact inverse CDF, by bracketed root finding between the components' quantiles.

        The mixture's quantile lies between its components' quantiles at the same `u`.
        Where that bracket is positive the root is found in log space, so brackets
        spanning many orders of magnitude converge as fast as narrow ones.
        """
        from scipy.optimize import elementwise

        u = np.asarray(u, dtype=float)
        quantiles = np.stack([c.ppf(u) for c in self.components])
        low, high = quantiles.min(axis=0), quantiles.max(axis=0)
        result = low.copy()
        solvable = low < high
        positive = solvable & (low > 0) & np.isfinite(high)
        linear = solvable & ~positive
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            if positive.any():
                root = elementwise.find_root(lambda y, t: self.cdf(np.exp(y)) - t,
                                             (np.log(low[positive]), np.log(high[positive])), args=(u[positive],))
                result[positive] = np.exp(root.x)
            if linear.any():
                root = elementwise.find_root(lambda x, t: self.cdf(x) - t, (low[linear], high[linear]),
                                             args=(u[linear],))
                result[linear] = root.x
        return result

    @property
    def table(self) -> PPFTable:
        """The interpolation table behind :meth:`ppf`, one per parameter set."""
        return table_of(self)

    def ppf(self, u):
        return self.table(u)

    def support(self):
        lows, highs = zip(*(c.support() for c in self.components))
        return (min(lows), max(highs))

    def expectation(self):
        return float(sum(p * c.expectation() for p, c in zip(self._probabilities, self.components)))

    def describe(self):
        inner = ", ".join(f"{w:g}: {c.describe()}" for w, c in zip(self.weights, self.components))
        return f"mixture({inner})"


# The smallest probability a truncation may keep: below it, the uniforms that reach the
# kept range are too few (and too coarse) in float64 to sample it faithfully.
MIN_TRUNCATED_MASS = 1e-300


@dataclass(frozen=True)
class Truncated(_Describe):
    """`base` restricted to [`lower`, `upper`] (either may be infinite).

    Draws in the lower half of `base` come from its inverse CDF, draws in the upper
    half from its inverse survival function (``isf``), each from a probability
    computed on its own side, so a range deep in either tail keeps its precision
    instead of rounding to a CDF of 0 or 1.
    """

    base: Distribution
    lower: float = -math.inf
    upper: float = math.inf

    def __post_init__(self):
        for name in ("lower", "upper"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
                raise PriorError(f"must be a number, not {value!r:.40}", key=name)
        _ordered("lower", self.lower, "upper", self.upper)
        mass = self._mass
        if not mass >= MIN_TRUNCATED_MASS:
            raise PriorError(f"bounds [{self.lower:g}, {self.upper:g}] keep a probability of {mass:.3g} under "
                             f"{self.base.describe()}, too little to sample in float64", key="lower")
        probes = self.ppf(np.array([2.0**-54, 0.5, 1 - 2.0**-53]))
        if not np.all(np.isfinite(probes)):
            raise PriorError(f"bounds [{self.lower:g}, {self.upper:g}] lie too far in the tail of "
                             f"{self.base.describe()} to sample in float64", key="lower")

    @functools.cached_property
    def _bounds(self):
        """CDF and survival function of `base` at the bounds: (cdf_lower, cdf_upper, sf_lower, sf_upper)."""
        return (float(self.base.cdf(self.lower)), float(self.base.cdf(self.upper)),
                float(self.base.sf(self.lower)), float(self.base.sf(self.upper)))

    @property
    def _mass(self):
        a, b, sa, sb = self._bounds
        return sa - sb if a > 0.5 else b - a

    def ppf(self, u):
        a, b, sa, sb = self._bounds
        u = np.asarray(u, dtype=float)
        p = a + (b - a) * u  # the draw's CDF, accurate where it is small
        high = p > 0.5
        out = np.empty(np.shape(u))
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            out[~high] = self.base.ppf(p[~high])
            out[high] = self.base.isf(sb + (sa - sb) * (1.0 - u[high]))  # from its survival probability
        return np.clip(out, self.lower, self.upper)

    def cdf(self, x):
        a, b, sa, sb = self._bounds
        if a > 0.5:
            return np.clip((sa - self.base.sf(x)) / (sa - sb), 0.0, 1.0)
        return np.clip((self.base.cdf(x) - a) / (b - a), 0.0, 1.0)

    def support(self):
        low, high = self.base.support()
        return (max(low, self.lower), min(high, self.upper))

    def expectation(self):
        return _quadrature_mean(self)

    def describe(self):
        return f"{self.base.describe()} truncated to [{self.lower:g}, {self.upper:g}]"


def describe(dist: Distribution) -> str:
    """One-line description of a prior, e.g. ``lognormal(p05=20000, p95=200000)``."""
    return dist.describe()


def implied(dist: Distribution) -> dict[str, float]:
    """The 1 %, 50 % and 99 % quantiles and the mean a prior implies.

    The mean is exact where the family has a closed form; a truncated prior's is the
    integral of its inverse CDF over (0, 1), by adaptive quadrature.
    """
    p01, p50, p99 = dist.ppf(np.array([0.01, 0.5, 0.99]))
    return {"p01": float(p01), "p50": float(p50), "p99": float(p99), "mean": float(dist.expectation())}


def reaches_zero(dist: Distribution) -> bool:
    """Whether `dist` puts enough probability near 0 that ``1 / X`` has no finite mean.

    True for an atom at (or mass below) 0, and for a density that does not vanish at 0
    (``P(X < e)`` shrinking no faster than about ``e**1.1``: uniform(0, b), Beta with
    ``alpha <= 1.1``, a PERT whose mode is its lower end …). False for a log-normal or
    a log-uniform, whose mass near 0 vanishes faster than any power.
    """
    low, _ = dist.support()
    if low > 0:
        return False
    if float(dist.cdf(0.0)) > 0:
        return True
    scale = abs(float(dist.ppf(np.array([0.5]))[0]))
    if scale == 0:
        return True
    near, nearer = 1e-4 * scale, 1e-7 * scale
    p_near, p_nearer = float(dist.cdf(near)), float(dist.cdf(nearer))
    return p_nearer > 0 and p_nearer / nearer >= 0.5 * p_near / near


_WRITES_INTO = frozenset({LogNormal, Normal, Uniform, LogUniform, Beta, Pert})  # ppf(u, out=)
