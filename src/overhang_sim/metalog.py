"""The metalog distribution (Keelin 2016): a closed-form quantile function through given quantiles.

``M(y) = sum_j a_j b_j(y)`` in Keelin's basis ``1, L, (y - 1/2) L, (y - 1/2), (y - 1/2)^2,
…`` with ``L = ln(y / (1 - y))``; the ``a_j`` come from the quantiles by least squares
(exactly with as many terms as quantiles). Bounds make it a log-metalog (below), its
mirror (above) or a logit-metalog (both). A set of coefficients is *feasible* when
``M`` increases on (0, 1); :class:`Metalog` refuses any other with a :class:`PriorError`
saying how many terms would fit. :mod:`overhang_sim.elicitation` builds one from a prior
table.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
from scipy import special

from . import distributions as d
from .errors import PriorError

__all__ = ["MAX_TERMS", "Metalog", "feasible", "fit_coefficients", "metalog_basis"]

MAX_TERMS = 16
FEASIBILITY_GRID = special.expit(np.linspace(-34.0, 34.0, 4001))  # y from 1.7e-15 to 1 - 1.7e-15


def metalog_basis(y: np.ndarray, terms: int) -> np.ndarray:
    """Keelin's (2016) metalog basis at probabilities `y`: shape ``(len(y), terms)``.

    ``1, L, (y - 1/2) L, (y - 1/2), (y - 1/2)^2, (y - 1/2)^2 L, (y - 1/2)^3, …`` with
    ``L = ln(y / (1 - y))``.
    """
    y = np.asarray(y, dtype=float)
    logit, c = special.logit(y), y - 0.5
    columns = [np.ones_like(y), logit, c * logit, c]
    for j in range(5, terms + 1):
        columns.append(c ** ((j - 1) // 2) if j % 2 else c ** (j // 2 - 1) * logit)
    return np.stack(columns[:terms], axis=-1)


def _basis_slope(y: np.ndarray, terms: int) -> np.ndarray:
    """d/dy of :func:`metalog_basis`, shape ``(len(y), terms)``."""
    logit, c, dlogit = special.logit(y), y - 0.5, 1.0 / (y * (1.0 - y))
    columns = [np.zeros_like(y), dlogit, logit + c * dlogit, np.ones_like(y)]
    for j in range(5, terms + 1):
        if j % 2:
            k = (j - 1) // 2
            columns.append(k * c ** (k - 1))
        else:
            k = j // 2 - 1
            columns.append(k * c ** (k - 1) * logit + c**k * dlogit)
    return np.stack(columns[:terms], axis=-1)


def _tail_slopes(a: np.ndarray) -> tuple[float, float]:
    """The coefficient of L as y -> 0 and as y -> 1: both must be > 0 for an unbounded support."""
    low = high = 0.0
    for j, coefficient in enumerate(a, start=1):
        if j == 2:
            low, high = low + coefficient, high + coefficient
        elif j == 3:
            low, high = low - 0.5 * coefficient, high + 0.5 * coefficient
        elif j >= 6 and j % 2 == 0:
            k = j // 2 - 1
            low, high = low + (-0.5) ** k * coefficient, high + 0.5**k * coefficient
    return low, high


def feasible(a: np.ndarray) -> bool:
    """Whether the metalog with coefficients `a` has a quantile function that increases on (0, 1)."""
    if len(a) < 2:
        return False
    low, high = _tail_slopes(a)
    return bool(low > 0 and high > 0 and np.all(_basis_slope(FEASIBILITY_GRID, len(a)) @ a > 0))


@dataclass(frozen=True)
class Metalog(d._Describe):
    """The metalog distribution (Keelin 2016) through given quantiles.

    Its quantile function is a closed form, ``M(y) = sum_j a_j b_j(y)`` in Keelin's
    basis (:func:`metalog_basis`), with the ``a_j`` fitted to ``(probs, values)`` by
    least squares (exactly when ``terms == len(probs)``). With `lower` the quantity is
    ``lower + exp(M)`` (log-metalog), with `upper` ``upper - exp(-M)``, with both
    ``lower + (upper - lower) expit(M)`` (logit-metalog).

    Parameters
    ----------
    probs, values : tuple of float
        Probabilities in (0, 1) and the quantiles at them, in the quantity's unit.
    terms : int, optional
        Number of basis terms, 2 to ``min(len(probs), 16)``; default as many as quantiles.
    lower, upper : float, optional
        Bounds of the support (default unbounded).

    Examples
    --------
    >>> m = Metalog((0.1, 0.5, 0.9), (2e4, 8e4, 5e5), lower=0.0)
    >>> [f"{v:.4g}" for v in m.ppf(np.array([0.1, 0.5, 0.9]))]
    ['2e+04', '8e+04', '5e+05']
    """

    probs: tuple[float, ...]
    values: tuple[float, ...]
    terms: int = 0
    lower: float = -math.inf
    upper: float = math.inf

    family_name = "metalog"

    def __post_init__(self):
        n = len(self.probs)
        if n < 2 or len(self.values) != n:
            raise PriorError(f"a metalog needs at least 2 quantiles, got {n}", key="quantiles")
        terms = self.terms or min(n, MAX_TERMS)
        if isinstance(terms, bool) or not isinstance(terms, int) or not 2 <= terms <= min(n, MAX_TERMS):
            raise PriorError(f"must be a whole number from 2 to {min(n, MAX_TERMS)} (the quantiles given, at most "
                             f"{MAX_TERMS}), not {terms!r:.20}", key="terms")
        object.__setattr__(self, "terms", terms)
        for name in ("lower", "upper"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
                raise PriorError(f"must be a number, not {value!r:.40}", key=name)
        if not self.lower < min(self.values) or not max(self.values) < self.upper:
            raise PriorError(f"the quantiles must lie strictly inside the bounds [{self.lower:g}, {self.upper:g}]",
                             key="lower" if min(self.values) <= self.lower else "upper")
        if not feasible(self.coefficients):
            raise PriorError(self._infeasible(), key="quantiles")

    def _infeasible(self) -> str:
        fewer = [k for k in range(self.terms - 1, 1, -1)
                 if feasible(fit_coefficients(self.probs, self._z(np.array(self.values)), k))]
        hint = f"; terms = {fewer[0]} fits them" if fewer else ""
        return (f"no {self.terms}-term metalog through these quantiles is a distribution (its quantile function "
                f"would decrease somewhere){hint}, or give other quantiles or bounds")

    def _z(self, x):
        """The quantity in the metalog's unbounded scale."""
        lo, hi = self.lower, self.upper
        with np.errstate(divide="ignore", invalid="ignore"):
            if math.isfinite(lo) and math.isfinite(hi):
                return np.log((x - lo) / (hi - x))
            if math.isfinite(lo):
                return np.log(x - lo)
            if math.isfinite(hi):
                return -np.log(hi - x)
        return np.asarray(x, dtype=float)

    def _x(self, z):
        """The inverse of :meth:`_z`."""
        lo, hi = self.lower, self.upper
        with np.errstate(over="ignore"):
            if math.isfinite(lo) and math.isfinite(hi):
                return lo + (hi - lo) * special.expit(z)
            if math.isfinite(lo):
                return lo + np.exp(z)
            if math.isfinite(hi):
                return hi - np.exp(-z)
        return z

    @functools.cached_property
    def coefficients(self) -> np.ndarray:
        """The ``a_j`` of the quantile function in the unbounded scale."""
        return fit_coefficients(self.probs, self._z(np.array(self.values, dtype=float)), self.terms)

    def ppf(self, u):
        u = np.asarray(u, dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            z = metalog_basis(u.ravel(), self.terms) @ self.coefficients
        return self._x(z).reshape(u.shape)

    def cdf(self, x):
        """Inverts the quantile function: interpolation on a grid in ``logit(y)``, then Newton steps."""
        x = np.asarray(x, dtype=float)
        z = self._z(np.clip(x, self.lower, self.upper)).ravel()
        grid_z, grid_t = self._grid
        t = np.interp(z, grid_z, grid_t)
        for _ in range(3):  # Newton on M(expit(t)) = z; dM/dt = m(y) y (1 - y)
            y = special.expit(t)
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                step = (metalog_basis(y, self.terms) @ self.coefficients - z) / (
                    (_basis_slope(y, self.terms) @ self.coefficients) * y * (1 - y))
            t = np.clip(t - np.where(np.isfinite(step), step, 0.0), grid_t[0], grid_t[-1])
        y = np.where(z <= grid_z[0], 0.0, np.where(z >= grid_z[-1], 1.0, special.expit(t)))
        return y.reshape(x.shape)

    @functools.cached_property
    def _grid(self):
        """``M(expit(t))`` on a grid of ``t`` from -36 to 36 (y from 2e-16 to 1 - 2e-16), and that grid."""
        t = np.linspace(-36.0, 36.0, 2001)
        return metalog_basis(special.expit(t), self.terms) @ self.coefficients, t

    def support(self):
        return (float(self.lower), float(self.upper))

    def expectation(self):
        low, high = _tail_slopes(self.coefficients)
        if math.isinf(self.upper) and math.isfinite(self.lower) and high >= 1:
            return math.inf  # log-metalog: a Pareto-like upper tail of index 1 / high
        if math.isinf(self.lower) and math.isfinite(self.upper) and low >= 1:
            return -math.inf
        return d._quadrature_mean(self)

    def describe(self):
        points = ", ".join(f"p{100 * p:g}={v:.4g}" for p, v in zip(self.probs, self.values))
        bounds = "".join(f", {k}={getattr(self, k):g}" for k in ("lower", "upper") if math.isfinite(getattr(self, k)))
        return f"metalog({self.terms} terms through {points}{bounds})"


def fit_coefficients(probs, z, terms: int) -> np.ndarray:
    """Least-squares metalog coefficients (exact for as many terms as points)."""
    basis = metalog_basis(np.asarray(probs, dtype=float), terms)
    return np.linalg.lstsq(basis, np.asarray(z, dtype=float), rcond=None)[0]
