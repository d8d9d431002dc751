"""Priors from whatever quantiles an expert gives: metalogs, or a named family by least squares.

A prior table may give quantiles instead of a family's parameters::

    [cluster_gpus]
    quantiles = {"0.1" = 2e4, "0.5" = 8e4, "0.9" = 5e5}   # TOML needs the keys quoted
    lower = 0                                              # log-metalog: a positive quantity
    unit = "GPU"

or as ``pNN`` keys (``p10``, ``p50``, ``p90`` = the 10, 50 and 90 % quantiles). With no
``dist`` (or ``dist = "metalog"``) the prior is a :class:`Metalog` (Keelin 2016)
through them: as many terms as quantiles (``terms`` may ask for fewer, fitted by least
squares), unbounded, or bounded below by ``lower`` (log-metalog), above by ``upper``,
or both (logit-metalog). With ``dist = "lognormal"`` (``normal``, ``uniform``,
``loguniform``, ``beta``, ``pert``) the named family is fitted to the quantiles by
least squares (:func:`scipy.optimize.least_squares`; on log values when every value is
positive), and ``lower``/``upper`` truncate it as for any family.

:func:`quantile_table` compares the quantiles asked for with those the fitted prior
gives (``overhang priors`` prints it).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

import numpy as np

from . import distributions as d
from .errors import PriorError

# scipy (.special 0.2-0.3 s, .optimize 0.3 s) and .metalog (which imports scipy.special) are
# imported by the functions that fit: config asks uses_quantiles of every prior, and a prior
# given by its parameters needs none of them.

__all__ = ["FITTED_FAMILIES", "asked_quantiles", "fit_family", "from_quantiles", "quantile_keys", "quantile_table",
           "uses_quantiles"]

QUANTILE_KEY = re.compile(r"p(\d{1,2})")  # p05, p10, p50, p90 ...: percent


# --------------------------------------------------------------------------- reading the quantiles


def _probability(text: str, key: str) -> float:
    try:
        p = float(text)
    except ValueError:
        raise PriorError(f"keys must be probabilities such as \"0.1\", not {text!r:.20}", key=key) from None
    if not 0 < p < 1:
        raise PriorError(f"a probability must lie strictly between 0 and 1, not {text}", key=key)
    return p


def _value(value, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise PriorError(f"must be a finite number, not {value!r:.40}", key=key)
    return float(value)


def quantile_keys(entry: Mapping) -> list[str]:
    """The ``pNN`` keys of a prior table (``p05``, ``p10`` …), in the order given."""
    return [k for k in entry if QUANTILE_KEY.fullmatch(k) and 0 < int(k[1:]) < 100]


def asked_quantiles(entry: Mapping, keys: list[str] | None = None) -> tuple[tuple[float, float], ...]:
    """The (probability, value) pairs a prior table asks for, sorted by probability.

    From its ``quantiles`` table and its ``pNN`` keys (all of them, or those in `keys`).

    Raises
    ------
    PriorError
        For a key that is not a probability, a value that is not a number, a
        probability given twice, or values that do not increase with the probability.
    """
    pairs = {}
    table = entry.get("quantiles", {})
    if not isinstance(table, Mapping):
        raise PriorError('must be a table such as {"0.1" = 2e4, "0.9" = 5e5}', key="quantiles")
    for text, value in table.items():
        pairs[_probability(text, f"quantiles.{text}")] = _value(value, f"quantiles.{text}")
    for key in quantile_keys(entry) if keys is None else keys:
        p = int(key[1:]) / 100
        if p in pairs:
            raise PriorError(f"gives the {100 * p:g} % quantile a second time", key=key)
        pairs[p] = _value(entry[key], key)
    ordered = tuple(sorted(pairs.items()))
    for (p0, v0), (p1, v1) in zip(ordered, ordered[1:]):
        if not v0 < v1:
            raise PriorError(f"values must increase with the probability: the {100 * p0:g} % quantile is {v0:g} "
                             f"but the {100 * p1:g} % one is {v1:g}", key="quantiles")
    return ordered


def uses_quantiles(entry: Mapping, family: str | None) -> bool:
    """Whether a prior table is to be fitted to quantiles rather than built from its parameters.

    Yes for a ``quantiles`` table, for ``dist = "metalog"``, for ``pNN`` keys without a
    ``dist``, and for ``pNN`` keys a named family does not take (a log-normal takes
    ``p05`` and ``p95``; ``p10``, ``p50`` and ``p90`` make it a fit).
    """
    if "quantiles" in entry or family == "metalog":
        return True
    if family is None:
        return bool(quantile_keys(entry))
    if family not in d.FAMILIES:
        return False  # an unknown family is reported as such
    own = set(d.FAMILIES[family].required + d.FAMILIES[family].optional)
    return any(k not in own for k in quantile_keys(entry))


# --------------------------------------------------------------------------- named families, least squares


def _lognormal(theta, _):
    mu, sigma = theta[0], math.exp(theta[1])
    return d.LogNormal(p05=math.exp(mu - d.Z95 * sigma), p95=math.exp(mu + d.Z95 * sigma))


def _loguniform(theta, _):
    return d.LogUniform(low=math.exp(theta[0]), high=math.exp(theta[0] + math.exp(theta[1])))


def _beta(theta, entry):
    extra = {k: entry[k] for k in ("low", "high") if k in entry}
    return d.Beta(alpha=math.exp(theta[0]), beta=math.exp(theta[1]), **extra)


def _pert(theta, entry):
    low = float(theta[0])
    mode = low + math.exp(theta[1])
    return d.Pert(low=low, mode=mode, high=mode + math.exp(theta[2]), **({"lam": entry["lam"]} if "lam" in entry else {}))


def _line(x, y):
    """Intercept and log of the slope of y against x (the start of a location-scale fit)."""
    slope, intercept = np.polyfit(x, y, 1) if len(x) > 1 else (1.0, y[0])
    return np.array([intercept, math.log(max(slope, 1e-12))])


def _starts(family, p, v):
    from scipy import special

    z = special.ndtri(p)
    if family == "lognormal":
        return _line(z, np.log(v))
    if family == "normal":
        return _line(z, v)
    if family == "uniform":
        return _line(p, v)
    if family == "loguniform":
        return _line(p, np.log(v))
    if family == "beta":
        return np.log([2.0, 2.0])
    span = v[-1] - v[0]
    return np.array([v[0] - 0.5 * span, math.log(0.5 * span + 1e-300), math.log(span)])


FITTED_FAMILIES = {
    "lognormal": _lognormal,
    "normal": lambda t, _: d.Normal(mean=float(t[0]), sd=math.exp(t[1])),
    "uniform": lambda t, _: d.Uniform(low=float(t[0]), high=float(t[0] + math.exp(t[1]))),
    "loguniform": _loguniform,
    "beta": _beta,
    "pert": _pert,
}


def _truncated(dist, entry):
    if "lower" in entry or "upper" in entry:
        return d.Truncated(dist, entry.get("lower", -math.inf), entry.get("upper", math.inf))
    return dist


def _exact_quantiles(dist, entry, p):
    """Quantiles of `dist` (truncated as `entry` says) by its exact inverse CDF, not an interpolation table."""
    base = dist.as_beta if isinstance(dist, d.Pert) else dist
    ppf = getattr(base, "exact_ppf", base.ppf)
    if "lower" in entry or "upper" in entry:
        a, b = (float(base.cdf(entry.get(k, default))) for k, default in (("lower", -math.inf), ("upper", math.inf)))
        if not b > a:
            raise PriorError("the bounds keep no probability", key="lower")
        return ppf(a + (b - a) * p)
    return ppf(p)


def fit_family(family: str, pairs, entry: Mapping | None = None) -> d.Distribution:
    """The `family` prior whose quantiles are nearest `pairs` in least squares.

    Residuals are taken on log values when every value is positive (relative
    errors), else on values divided by their span. ``lower``/``upper`` in `entry`
    truncate the family, and the fit is of the truncated prior's quantiles.

    Raises
    ------
    PriorError
        If `family` cannot be fitted, or no parameters give a valid prior.
    """
    entry = entry or {}
    if family not in FITTED_FAMILIES:
        raise PriorError(f"a {family} prior cannot be fitted to quantiles; use metalog or one of "
                         f"{', '.join(FITTED_FAMILIES)}", key="dist")
    p, v = (np.array(c, dtype=float) for c in zip(*pairs))
    build = FITTED_FAMILIES[family]
    positive = bool(np.all(v > 0))
    target = np.log(v) if positive else v / (v[-1] - v[0])

    def residuals(theta):
        try:
            q = _exact_quantiles(build(theta, entry), entry, p)
        except (PriorError, OverflowError, ValueError):
            return np.full(len(p), 1e6)
        with np.errstate(divide="ignore", invalid="ignore"):
            r = (np.log(q) if positive else q / (v[-1] - v[0])) - target
        return np.where(np.isfinite(r), r, 1e6)

    from scipy import optimize

    fit = optimize.least_squares(residuals, _starts(family, p, v), method="lm" if len(p) >= 3 else "trf")
    if np.any(residuals(fit.x) >= 1e6):
        raise PriorError(f"no {family} prior comes near these quantiles", key="quantiles")
    return _truncated(build(fit.x, entry), entry)


def from_quantiles(entry: Mapping) -> d.Distribution:
    """The prior a table of quantiles describes (see the module docstring)."""
    family = entry.get("dist", "metalog")
    pairs = asked_quantiles(entry)
    if family == "metalog":
        from .metalog import Metalog

        if len(pairs) < 2:
            raise PriorError(f"a metalog needs at least 2 quantiles, got {len(pairs)}", key="quantiles")
        probs, values = zip(*pairs)
        return Metalog(probs, values, terms=entry.get("terms", 0), lower=entry.get("lower", -math.inf),
                       upper=entry.get("upper", math.inf))
    if len(pairs) < 2:
        raise PriorError(f"fitting a {family} prior needs at least 2 quantiles, got {len(pairs)}", key="quantiles")
    return fit_family(family, pairs, entry)


# --------------------------------------------------------------------------- asked against fitted


def quantile_table(pairs, dist: d.Distribution, tolerance: float = 0.02) -> list[dict]:
    """Each quantile asked for beside the fitted prior's, and whether they differ by more than `tolerance`.

    The difference is relative to the asked value (to the values' span where that is 0).

    Returns
    -------
    list of dict
        ``prob``, ``asked``, ``fitted``, ``relative_error`` and ``off`` (a bool) per quantile.
    """
    p, v = (np.array(c, dtype=float) for c in zip(*pairs))
    fitted = dist.ppf(p)
    scale = np.where(v != 0, np.abs(v), v.max() - v.min())
    error = np.abs(fitted - v) / scale
    return [{"prob": float(a), "asked": float(b), "fitted": float(c), "relative_error": float(e),
             "off": bool(e > tolerance)} for a, b, c, e in zip(p, v, fitted, error)]
