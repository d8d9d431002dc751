"""Prior families as frozen specs, each sampled by its inverse CDF.

Every family maps uniforms ``u`` in [0, 1) to values through :meth:`ppf`, so any
design (Monte Carlo, Latin hypercube, Sobol) and any copula works with any family.
Families also give :meth:`cdf` and :meth:`support`, which truncation and the
domain checks need.

Beta, PERT and mixtures have no cheap closed-form inverse CDF. They use
:class:`PPFTable`: the exact quantile function on a uniform grid of 2**18 cells,
linear interpolation between nodes and the exact function in the outer 2**-9 of
each tail. Its worst error, measured against the exact function at every cell's
midpoint when the table is built, is kept in :attr:`PPFTable.max_error`: about
1e-8 of the distribution's range (at most 2e-8) for smooth shapes such as Beta(2, 5) and the
shipped PERT priors (linear interpolation error ~ h**2 / 8 * |ppf''| with h = 2**-18),
far below the Monte Carlo error of any run. Sampling 1e7 values this way takes
about 0.2 s, against 14 s for ``scipy.stats.beta.ppf`` and 0.4 s for ``rng.beta``;
building a table takes about 0.5 s, once per prior.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
from scipy import integrate, special, stats
from scipy.optimize import elementwise

from .errors import PriorError

__all__ = [
    "Beta",
    "Distribution",
    "Empirical",
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
]

Z95 = special.ndtri(0.95)  # 1.6448536...: a 90 % interval spans +-Z95 standard deviations


class Distribution(Protocol):
    """What every prior family provides."""

    def ppf(self, u: np.ndarray) -> np.ndarray:
        """Inverse CDF: values for uniforms `u` in [0, 1)."""

    def cdf(self, x: np.ndarray) -> np.ndarray:
        """Cumulative probability of values `x`."""

    def support(self) -> tuple[float, float]:
        """Smallest and largest value the family can produce."""


def _finite(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
        raise PriorError(f"must be a number, not {type(value).__name__} {value!r}", key=name)
    if not math.isfinite(value):
        raise PriorError(f"must be finite, not {value}", key=name)
    return float(value)


def _positive(name: str, value: float) -> float:
    if _finite(name, value) <= 0:
        raise PriorError(f"must be > 0 for a log-scale family, not {value}", key=name)
    return float(value)


def _ordered(low_name: str, low: float, high_name: str, high: float) -> None:
    if not low < high:
        raise PriorError(f"must be less than {high_name} = {high}, not {low}", key=low_name)


def _log_or_minus_inf(x):
    """Natural log of `x`, with -inf for x <= 0 (where a log-scale family has no mass)."""
    x = np.asarray(x, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(x > 0, np.log(x), -np.inf)


@dataclass(frozen=True)
class Fixed:
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


@dataclass(frozen=True)
class LogNormal:
    """Log-normal given by its 90 % interval, like Squiggle's ``p05 to p95``."""

    p05: float
    p95: float

    def __post_init__(self):
        _positive("p05", self.p05)
        _positive("p95", self.p95)
        _ordered("p05", self.p05, "p95", self.p95)

    @property
    def mu(self) -> float:
        """Mean of the log (natural log of the median)."""
        return 0.5 * (math.log(self.p05) + math.log(self.p95))

    @property
    def sigma(self) -> float:
        """Standard deviation of the natural log."""
        return (math.log(self.p95) - math.log(self.p05)) / (2 * Z95)

    def ppf(self, u):
        z = special.ndtri(u, out=np.empty(np.shape(u)))
        z *= self.sigma
        z += self.mu
        return np.exp(z, out=z)

    def cdf(self, x):
        return special.ndtr((_log_or_minus_inf(x) - self.mu) / self.sigma)

    def mean(self) -> float:
        """Exact mean, ``exp(mu + sigma**2 / 2)``."""
        return math.exp(self.mu + self.sigma**2 / 2)

    def support(self):
        return (0.0, math.inf)


@dataclass(frozen=True)
class Normal:
    """Normal with mean `mean` and standard deviation `sd`."""

    mean: float
    sd: float

    def __post_init__(self):
        _finite("mean", self.mean)
        if _finite("sd", self.sd) <= 0:
            raise PriorError(f"must be > 0, not {self.sd}", key="sd")

    def ppf(self, u):
        z = special.ndtri(u)
        z *= self.sd
        z += self.mean
        return z

    def cdf(self, x):
        return special.ndtr((np.asarray(x) - self.mean) / self.sd)

    def support(self):
        return (-math.inf, math.inf)


@dataclass(frozen=True)
class Uniform:
    """Uniform on [`low`, `high`]."""

    low: float
    high: float

    def __post_init__(self):
        _finite("low", self.low)
        _finite("high", self.high)
        _ordered("low", self.low, "high", self.high)

    def ppf(self, u):
        return self.low + (self.high - self.low) * np.asarray(u)

    def cdf(self, x):
        return np.clip((np.asarray(x) - self.low) / (self.high - self.low), 0.0, 1.0)

    def support(self):
        return (float(self.low), float(self.high))


@dataclass(frozen=True)
class LogUniform:
    """Uniform in the logarithm on [`low`, `high`], both > 0."""

    low: float
    high: float

    def __post_init__(self):
        _positive("low", self.low)
        _positive("high", self.high)
        _ordered("low", self.low, "high", self.high)

    def ppf(self, u):
        a, b = math.log(self.low), math.log(self.high)
        return np.clip(np.exp(a + (b - a) * np.asarray(u, dtype=float)), self.low, self.high)

    def cdf(self, x):
        a, b = math.log(self.low), math.log(self.high)
        return np.clip((_log_or_minus_inf(x) - a) / (b - a), 0.0, 1.0)

    def support(self):
        return (float(self.low), float(self.high))


@dataclass(frozen=True)
class PPFTable:
    """Fast inverse CDF: exact nodes on a uniform grid, linear in between.

    Parameters
    ----------
    exact : callable
        Vectorised exact inverse CDF, used for the nodes, the tails and the error check.
    cells : int
        Number of grid cells on [0, 1].
    tail : float
        Probability in each tail where `exact` is used instead of the table.
    """

    exact: object
    cells: int = 2**18
    tail: float = 2.0**-9
    nodes: np.ndarray = field(init=False, repr=False, compare=False)
    max_error: float = field(init=False, compare=False)

    def __post_init__(self):
        grid = np.linspace(0.0, 1.0, self.cells + 1)
        nodes = self.exact(grid)
        object.__setattr__(self, "nodes", nodes)
        mid = (grid[:-1] + 0.5 / self.cells)[self._interior(grid[:-1])]
        error = np.max(np.abs(self._interpolate(mid) - self.exact(mid)), initial=0.0)
        object.__setattr__(self, "max_error", float(error))

    def _interior(self, u):
        return (u >= self.tail) & (u <= 1.0 - self.tail)

    def _interpolate(self, u):
        x = np.multiply(u, self.cells)
        i = np.minimum(x.astype(np.intp), self.cells - 1)
        x -= i
        left = self.nodes[i]
        x *= self.nodes[i + 1] - left
        x += left
        return x

    def __call__(self, u):
        shape = np.shape(u)
        u = np.ravel(np.asarray(u, dtype=float))
        with np.errstate(invalid="ignore"):  # infinite end nodes: those cells are tails, replaced below
            out = self._interpolate(u)
        tails = ~self._interior(u)
        out[tails] = self.exact(u[tails])
        return out.reshape(shape)


@functools.lru_cache(maxsize=256)
def _table_of(dist) -> PPFTable:
    """The PPF table of a Beta or Mixture, built once per distinct (equal, hashable) spec.

    Building one takes about 0.5 s; scenarios and workers that share a prior share it.
    """
    return PPFTable(dist._frozen.ppf if isinstance(dist, Beta) else dist._exact_ppf)


@dataclass(frozen=True)
class Beta:
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

    @functools.cached_property
    def _frozen(self):
        return stats.beta(self.alpha, self.beta, loc=self.low, scale=self.high - self.low)

    @property
    def table(self) -> PPFTable:
        """The interpolation table behind :meth:`ppf` (see :class:`PPFTable`), one per parameter set."""
        return _table_of(self)

    def ppf(self, u):
        return self.table(u)

    def cdf(self, x):
        return self._frozen.cdf(x)

    def support(self):
        return (float(self.low), float(self.high))


@dataclass(frozen=True)
class Pert:
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

    @functools.cached_property
    def as_beta(self) -> Beta:
        """The equivalent scaled :class:`Beta`."""
        width = self.high - self.low
        alpha = 1 + self.lam * (self.mode - self.low) / width
        beta = 1 + self.lam * (self.high - self.mode) / width
        return Beta(alpha, beta, self.low, self.high)

    def ppf(self, u):
        return self.as_beta.ppf(u)

    def cdf(self, x):
        return self.as_beta.cdf(x)

    def support(self):
        return (float(self.low), float(self.high))


@dataclass(frozen=True)
class Empirical:
    """The discrete distribution of `values`, with optional `weights` (default equal)."""

    values: tuple[float, ...]
    weights: tuple[float, ...] | None = None

    def __post_init__(self):
        if len(self.values) == 0:
            raise PriorError("must hold at least one value", key="values")
        for i, v in enumerate(self.values):
            _finite(f"values[{i}]", v)
        if self.weights is not None:
            if len(self.weights) != len(self.values):
                raise PriorError(
                    f"has {len(self.weights)} entries but values has {len(self.values)}", key="weights"
                )
            for i, w in enumerate(self.weights):
                if _finite(f"weights[{i}]", w) < 0:
                    raise PriorError(f"must be >= 0, not {w}", key=f"weights[{i}]")
            if sum(self.weights) <= 0:
                raise PriorError("must not all be zero", key="weights")

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


@dataclass(frozen=True)
class Mixture:
    """A weighted mixture of other families, sampled by its exact inverse CDF."""

    components: tuple[Distribution, ...]
    weights: tuple[float, ...]

    def __post_init__(self):
        if len(self.components) < 1:
            raise PriorError("must hold at least one component", key="components")
        if len(self.weights) != len(self.components):
            raise PriorError(
                f"has {len(self.weights)} entries but there are {len(self.components)} components",
                key="weights",
            )
        for i, w in enumerate(self.weights):
            if _finite(f"weights[{i}]", w) < 0:
                raise PriorError(f"must be >= 0, not {w}", key=f"weights[{i}]")
        if sum(self.weights) <= 0:
            raise PriorError("must not all be zero", key="weights")

    @functools.cached_property
    def _probabilities(self):
        w = np.asarray(self.weights, float)
        return w / w.sum()

    def cdf(self, x):
        return sum(p * c.cdf(x) for p, c in zip(self._probabilities, self.components))

    def _exact_ppf(self, u):
        u = np.asarray(u, dtype=float)
        quantiles = np.stack([c.ppf(u) for c in self.components])
        low, high = quantiles.min(axis=0), quantiles.max(axis=0)
        solvable = low < high
        result = low.copy()
        if solvable.any():
            target = u[solvable]
            root = elementwise.find_root(
                lambda x, t: self.cdf(x) - t, (low[solvable], high[solvable]), args=(target,)
            )
            result[solvable] = root.x
        return result

    @property
    def table(self) -> PPFTable:
        """The interpolation table behind :meth:`ppf` (see :class:`PPFTable`), one per parameter set."""
        return _table_of(self)

    def ppf(self, u):
        return self.table(u)

    def support(self):
        lows, highs = zip(*(c.support() for c in self.components))
        return (min(lows), max(highs))


@dataclass(frozen=True)
class Truncated:
    """`base` restricted to [`lower`, `upper`] (either may be infinite)."""

    base: Distribution
    lower: float = -math.inf
    upper: float = math.inf

    def __post_init__(self):
        for name in ("lower", "upper"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
                raise PriorError(f"must be a number, not {value!r}", key=name)
        _ordered("lower", self.lower, "upper", self.upper)
        if not self._mass > 0:
            raise PriorError(
                f"bounds [{self.lower}, {self.upper}] leave no probability under {describe(self.base)}",
                key="lower",
            )

    @property
    def _cdf_bounds(self):
        return float(self.base.cdf(self.lower)), float(self.base.cdf(self.upper))

    @property
    def _mass(self):
        a, b = self._cdf_bounds
        return b - a

    def ppf(self, u):
        a, b = self._cdf_bounds
        return np.clip(self.base.ppf(a + (b - a) * np.asarray(u)), self.lower, self.upper)

    def cdf(self, x):
        a, b = self._cdf_bounds
        return np.clip((self.base.cdf(x) - a) / (b - a), 0.0, 1.0)

    def support(self):
        low, high = self.base.support()
        return (max(low, self.lower), min(high, self.upper))


def describe(dist: Distribution) -> str:
    """One-line description of a prior, e.g. ``lognormal(p05=20000, p95=200000)``."""
    if isinstance(dist, Truncated):
        return f"{describe(dist.base)} truncated to [{dist.lower:g}, {dist.upper:g}]"
    if isinstance(dist, Mixture):
        inner = ", ".join(f"{w:g}: {describe(c)}" for w, c in zip(dist.weights, dist.components))
        return f"mixture({inner})"
    if isinstance(dist, Empirical):
        return f"empirical({len(dist.values)} values)"
    names = [f.name for f in dist.__dataclass_fields__.values() if f.init]
    args = ", ".join(f"{n}={getattr(dist, n):g}" for n in names)
    return f"{FAMILY_NAMES[type(dist)]}({args})"


def implied(dist: Distribution) -> dict[str, float]:
    """The 1 %, 50 % and 99 % quantiles and the mean a prior implies.

    The mean is exact for fixed values, log-normals and mixtures of those; otherwise it
    is the integral of the inverse CDF over (0, 1), by adaptive quadrature.
    """
    p01, p50, p99 = dist.ppf(np.array([0.01, 0.5, 0.99]))
    return {"p01": float(p01), "p50": float(p50), "p99": float(p99), "mean": _mean(dist)}


def _mean(dist: Distribution) -> float:
    """Exact where there is a closed form, else the integral of the inverse CDF."""
    if isinstance(dist, Fixed):
        return float(dist.value)
    if isinstance(dist, LogNormal):
        return dist.mean()
    if isinstance(dist, Mixture):
        return float(sum(p * _mean(c) for p, c in zip(dist._probabilities, dist.components)))
    # u is kept one ulp inside (0, 1): quadrature nodes may round to 1.0, where a ppf is inf
    inside = np.nextafter(1.0, 0.0)
    mean, _ = integrate.quad(lambda u: float(dist.ppf(np.array([min(u, inside)]))[0]), 0.0, 1.0, limit=200)
    return float(mean)


FAMILY_NAMES = {
    Fixed: "fixed",
    LogNormal: "lognormal",
    Normal: "normal",
    Uniform: "uniform",
    LogUniform: "loguniform",
    Beta: "beta",
    Pert: "pert",
    Empirical: "empirical",
    Mixture: "mixture",
}
