"""Heavy-tail diagnostics: the generalized-Pareto shape k̂ of each output's upper tail.

An output's upper tail is fitted by ArviZ's Pareto-smoothed importance sampling
(:func:`arviz.psislw`, Vehtari et al. 2024) with the output's values as the
weights, i.e. ``log_weights = log(x)``: ArviZ takes the largest
``min(n / 5, 3 sqrt(n))`` draws, fits a generalized Pareto distribution to their
excess over the cut-off (Zhang & Stephens 2009, with ArviZ's weak prior towards
k = 0.5) and returns its shape k̂. The tail index means:

- k̂ < 0.5: mean and variance finite; the mean's Monte Carlo error is trustworthy;
- 0.5 <= k̂ < 1: the variance is not finite, so the mean's MCSE is unreliable;
- k̂ >= 1: the mean itself is not finite; no mean should be printed.

The standard error is the asymptotic one of the fitted shape,
``(1 + k) / sqrt(m)`` for ``m`` tail draws (Smith 1987, valid for k > -0.5); the
tests check it against the spread of k̂ over repeated Pareto samples.
Only positive values enter the fit (zeros and negatives are ``log = -inf``, never
in the upper tail); with fewer than 5 positive draws in the tail k̂ is NaN.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

__all__ = ["MEAN_NOT_FINITE", "VARIANCE_NOT_FINITE", "tail_draws", "tail_shape", "tail_statistics", "tail_warning"]

VARIANCE_NOT_FINITE = 0.5
MEAN_NOT_FINITE = 1.0


def tail_draws(n: int) -> int:
    """How many of `n` draws ArviZ's PSIS fits the tail to: ``ceil(min(n / 5, 3 sqrt(n)))``."""
    return int(math.ceil(min(n / 5.0, 3 * math.sqrt(n))))


def tail_shape(x: np.ndarray) -> tuple[float, float]:
    """Generalized-Pareto shape k̂ of the upper tail of the draws `x`, and its standard error.

    Parameters
    ----------
    x : numpy.ndarray
        Draws of one output, any shape (pooled over chains); in the output's unit.

    Returns
    -------
    (float, float)
        k̂ (dimensionless; NaN when the tail has fewer than 5 positive draws or the
        draws are all equal) and its asymptotic standard error ``(1 + k̂) / sqrt(m)``.

    Examples
    --------
    >>> from scipy import stats
    >>> x = stats.genpareto(c=0.7).rvs(size=20_000, random_state=1)
    >>> k, se = tail_shape(x)
    >>> abs(k - 0.7) < 3 * se
    True
    """
    import arviz as az  # noqa: PLC0415 -- heavy import, only when a summary is made

    x = np.ravel(np.asarray(x, dtype=float))
    x = x[~np.isnan(x)]
    positive = x[x > 0]
    m = min(tail_draws(x.size), positive.size)  # the tail holds positive draws only
    if m < 5 or np.ptp(positive) == 0 or not np.all(np.isfinite(positive)):
        return math.nan, math.nan
    with np.errstate(divide="ignore", over="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ArviZ warns when k̂ > 0.7: that is the diagnosis, not an error
        _, k = az.psislw(np.log(np.where(x > 0, x, 0.0)), normalize=False)
    k = float(k)
    if not math.isfinite(k):
        return math.nan, math.nan
    return k, (1 + k) / math.sqrt(m)


def tail_statistics(x: np.ndarray) -> dict:
    """``tail_shape`` and ``tail_shape_se`` of one output, labelled for the summary Dataset."""
    k, se = tail_shape(x)
    return {"tail_shape": ((), k), "tail_shape_se": ((), se)}


def tail_warning(name: str, k: float) -> str | None:
    """One line warning about `name`'s upper tail for shape `k`, or None when its mean can be trusted."""
    if not math.isfinite(k) or k < VARIANCE_NOT_FINITE:
        return None
    if k >= MEAN_NOT_FINITE:
        return (f"warning: {name} has a very heavy upper tail (Pareto k̂ = {k:.2f} >= 1): its mean is not "
                "finite, so no mean is shown; quantiles are fine")
    return (f"warning: {name} has a heavy upper tail (Pareto k̂ = {k:.2f} >= 0.5): its variance is not "
            "finite, so the mean's Monte Carlo error is unreliable; quantiles are fine")
