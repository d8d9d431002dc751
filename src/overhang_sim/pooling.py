"""Structural uncertainty as a weighted axis: the mixture of the scenarios along one axis.

Weights on an axis (the credence in each value: a model, a prior set, a horizon)
make its scenarios the components of one *pooled* distribution, the mixture
``sum_s w_s P_s``: each of the N draws of scenario s weighs ``w_s / N``. :func:`pool`
summarises it as :func:`~overhang_sim.summaries.summarize` does one scenario (same
variables, dims and attrs); :func:`axis_variance_share` says how much of the pooled
variance of log10(output) the choice explains; :func:`check_weights` checks weights.

Definitions, chosen so that equal weights give what ``summarize`` gives:

quantile
    ``summarize`` uses numpy's default rule (linear interpolation, Hyndman & Fan
    type 7): the sorted draws ``x_(0..N-1)`` sit at probabilities ``k / (N - 1)``
    with straight lines between. The inverse of that quantile function is a
    piecewise-linear CDF ``F_s``; the pooled quantile inverts the mixture CDF
    ``F = sum_s w_s F_s``. One scenario (or copies of one) gives ``F = F_s``, so
    the rule *is* type 7 there, and as ``F`` depends on each scenario only through
    ``F_s``, copies and zero weights change nothing. (The weighted inverted-CDF
    rule, type 1, was not taken: with equal weights it differs from ``summarize``
    by up to one spacing between order statistics.)
highest-density interval
    The narrowest interval between two pooled draws holding *more than* ``mass``
    of the weight (to within :data:`MASS_TOLERANCE`, for rounding): with equal
    weights, exactly the ``floor(mass N) + 1`` draws of
    :func:`~overhang_sim.summaries.hdi_of_sorted` (and ArviZ).
mean, P(>= t)
    ``sum_s w_s`` times the scenario's own estimate.
Monte Carlo error
    Chain c of every scenario is pooled into chain c of the mixture. Chains are
    independent, and common random numbers pair draws only within a chain, so
    :func:`~overhang_sim.summaries.chain_error` of the per-chain pooled estimates
    is the MCSE, as in ``summarize``.

A scenario of weight 0 is dropped before anything is computed (NaN or inf draws
there are harmless). With one positive weight the mixture *is* that scenario and
is summarised by ``summarize``'s own kernels, bit for bit.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence

import numpy as np
import xarray as xr

from .config import SummarySpec
from .errors import ConfigError, did_you_mean
from .scenarios import RESERVED
from .summaries import (
    DEFAULT_OUTPUTS,
    _exceedance,
    _log10,
    _zeros,
    _one_output,
    _probs,
    _spec_of,
    _statistics,
    _summary_dataset,
    chain_error,
    hdi_chain_error,
    main_output,
)
from .tails import tail_statistics

__all__ = ["MASS_TOLERANCE", "axis_variance_share", "check_weights", "hdi_of_weighted_sorted",
           "mixture_quantiles", "pool", "share_scale"]

MASS_TOLERANCE = 1e-12  # an interval must hold more than mass + this (cumulative weights carry rounding)
SUM_TOLERANCE = 1e-9  # weights must sum to 1 within this


# --------------------------------------------------------------------------- weights


def check_weights(weights, values: Sequence, key: str) -> np.ndarray:
    """The weights of an axis (as written, e.g. ``[0.5, 0.3, 0.2]``) as float64, checked.

    Raises
    ------
    ConfigError
        One line naming `key` (or ``key[i]``, e.g. ``axes[0].weights[1]``): not a list
        of finite numbers, a negative weight, not one weight per entry of `values`,
        all zero, or a sum off 1 by more than 1e-9.
    """
    if isinstance(weights, str | bytes) or not isinstance(weights, list | tuple | np.ndarray):
        raise ConfigError(f"must be a list of numbers, one per value, not {weights!r:.40}", key=key)
    numbers = [_weight(w, f"{key}[{i}]") for i, w in enumerate(list(weights))]
    if len(numbers) != len(values):
        raise ConfigError(f"has {len(numbers)} weight(s) for {len(values)} value(s); give one weight per value",
                          key=key)
    total = math.fsum(numbers)
    if total == 0:
        raise ConfigError("are all 0; give at least one value a positive weight", key=key)
    if abs(total - 1) > SUM_TOLERANCE:
        raise ConfigError(f"must sum to 1, but they sum to {total:.12g}", key=key)
    return np.array(numbers, dtype=float)


def _weight(w, key: str) -> float:
    if isinstance(w, bool | np.bool_) or not isinstance(w, int | float | np.integer | np.floating):
        raise ConfigError(f"must be a number, not {w!r:.40}", key=key)
    value = float(w) if not isinstance(w, int) or abs(w) < 2**1024 else math.inf  # 10**400 is an int
    if not math.isfinite(value):
        raise ConfigError(f"must be a finite number, not {w!r:.40}", key=key)
    if value < 0:
        raise ConfigError(f"must be >= 0 (a credence), not {value:g}", key=key)
    return value


# --------------------------------------------------------------------------- array kernels


def _type7_cdf(ordered: np.ndarray, x: np.ndarray, side: str) -> np.ndarray:
    """The CDF whose inverse is numpy's linear quantile of `ordered`, at `x`.

    ``side="right"``: F(x) (right-continuous); ``side="left"``: its left limit F(x-).
    """
    n = len(ordered)
    if n == 1:
        return (x >= ordered[0] if side == "right" else x > ordered[0]).astype(float)
    k = np.searchsorted(ordered, x, side=side) - 1  # x_(k) <= x < x_(k+1) (right) or x_(k) < x <= x_(k+1)
    kc = np.clip(k, 0, n - 2)
    lo, hi = ordered[kc], ordered[kc + 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        inside = (kc + (x - lo) / (hi - lo)) / (n - 1)
    return np.where(k < 0, 0.0, np.where(k >= n - 1, 1.0, inside))


def mixture_quantiles(ordered: Sequence[np.ndarray], weights: Sequence[float], probs,
                      knots: np.ndarray | None = None) -> np.ndarray:
    """Quantiles of the mixture ``sum_s w_s F_s`` of sorted samples (type-7 ``F_s``).

    Parameters
    ----------
    ordered : sequence of numpy.ndarray
        One sorted sample per component (NaN last, as :func:`numpy.sort` leaves them).
    weights : sequence of float
        Positive, summing to 1, one per component.
    probs : array_like
        Probabilities in [0, 1], shape ``(p,)``.
    knots : numpy.ndarray, optional
        All the components' values in order, if already at hand.

    Returns
    -------
    numpy.ndarray
        Shape ``(p,)``, in the samples' unit; for one component :func:`numpy.quantile`
        to rounding. NaN if a component holds NaN or inf.
    """
    probs = np.atleast_1d(np.asarray(probs, dtype=float))
    if not all(np.isfinite(o[0]) and np.isfinite(o[-1]) for o in ordered):
        return np.full(probs.shape, np.nan)
    knots = np.sort(np.concatenate(ordered)) if knots is None else knots  # F is linear between two knots

    def cdf(x, side="right"):
        return sum(w * _type7_cdf(o, x, side) for o, w in zip(ordered, weights))

    lo, hi = np.zeros(probs.shape, dtype=np.int64), np.full(probs.shape, len(knots) - 1)
    while np.any(lo < hi):  # bisection for the first knot u_j with F(u_j) >= p (else the last)
        mid = (lo + hi) // 2
        reached = cdf(knots[mid]) >= probs
        lo, hi = np.where(reached, lo, mid + 1), np.where(reached, mid, hi)
    j, i = hi, np.maximum(hi - 1, 0)
    below, left = cdf(knots[i]), cdf(knots[j], "left")
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.clip((probs - below) / (left - below), 0.0, 1.0)
    on_ramp = (j > 0) & (probs <= left) & (left > below)  # else p falls in F's jump at u_j
    return np.where(on_ramp, knots[i] + t * (knots[j] - knots[i]), knots[j])


def hdi_of_weighted_sorted(ordered: np.ndarray, cumulative: np.ndarray, mass: float) -> tuple[float, float]:
    """Narrowest interval between values of a weighted sorted sample holding more than `mass`.

    Parameters
    ----------
    ordered : numpy.ndarray
        Sorted values, shape ``(n,)``.
    cumulative : numpy.ndarray
        Weight of ``ordered[:k]`` for k = 0 .. n, shape ``(n + 1,)``, from 0 to 1.
    mass : float
        Probability in (0, 1).

    Returns
    -------
    (float, float)
        ``ordered[i], ordered[j]`` of least width whose weight ``cumulative[j + 1] -
        cumulative[i]`` exceeds ``mass + MASS_TOLERANCE`` (the first such i): with
        equal weights, :func:`~overhang_sim.summaries.hdi_of_sorted`'s. A constant
        sample gives its value twice; NaN or inf gives NaN.
    """
    if ordered[0] == ordered[-1]:
        return float(ordered[0]), float(ordered[0])
    if not (np.isfinite(ordered[0]) and np.isfinite(ordered[-1])):
        return np.nan, np.nan
    end = np.searchsorted(cumulative, cumulative[:-1] + mass + MASS_TOLERANCE, side="right") - 1
    starts = np.flatnonzero(end < len(ordered))  # a prefix: later starts run out of weight
    if starts.size == 0:
        return float(ordered[0]), float(ordered[-1])
    i = int(starts[np.argmin(ordered[end[starts]] - ordered[starts])])
    return float(ordered[i]), float(ordered[end[i]])


def _merged(ordered, weights):
    """All values in order and their cumulative weight ``sum_s w_s count_s / N_s`` (exact counts:
    a few ulps of rounding however many draws)."""
    values = np.concatenate(ordered)
    order = np.argsort(values, kind="stable")
    labels = np.repeat(np.arange(len(ordered)), [len(o) for o in ordered])[order]
    cumulative = np.zeros(len(values) + 1)
    for s, (o, w) in enumerate(zip(ordered, weights)):
        cumulative[1:] += w * (np.cumsum(labels == s) / len(o))
    return values[order], cumulative


# --------------------------------------------------------------------------- one output, one cell


def _mixture_output(samples: list[np.ndarray], weights: np.ndarray, spec: SummarySpec) -> dict:
    """One output's statistics, as ``summaries._one_output``; `samples`: (chain, draw) per scenario."""
    if len(samples) == 1:
        return _one_output(samples[0], spec)
    pooled = _quantiles_and_hdi([np.sort(x, axis=None) for x in samples], weights, spec)
    chains = [_quantiles_and_hdi([np.sort(x[c]) for x in samples], weights, spec) for c in range(len(samples[0]))]
    per_chain = np.stack([q for q, _ in chains], axis=1)  # (prob, chain)
    quant = np.stack([pooled[0], _log10(pooled[0])])
    quant_se = np.stack([chain_error(per_chain, 1), chain_error(_log10(per_chain), 1)])
    hdi_se = hdi_chain_error(np.stack([h for _, h in chains]), 0)
    stats = _statistics(spec, *_mixture_means(samples, weights), quant, quant_se, pooled[1], hdi_se)
    return {**stats, **_mixture_zeros(samples, weights), **_mixture_tail(samples, weights)}


def _mixture_tail(samples, weights) -> dict:
    """The mixture's upper-tail shape: that of its heaviest-tailed scenario of positive weight."""
    fits = [tail_statistics(x) for x, w in zip(samples, weights) if w > 0]
    return max(fits, key=lambda f: -np.inf if np.isnan(f["tail_shape"][1]) else f["tail_shape"][1])


def _mixture_zeros(samples, weights) -> dict:
    """P(output = 0) of the mixture with its error between chains, and whether it is a 0/1 indicator."""
    per_chain = sum(w * (x == 0).mean(axis=1) for x, w in zip(samples, weights))
    nonbinary = any(np.any((x != 0) & (x != 1)) for x in samples)
    return _zeros(per_chain, np.ones_like(per_chain), nonbinary)  # shares of equal-sized chains


def _quantiles_and_hdi(ordered, weights, spec):
    """Mixture quantiles at :func:`~overhang_sim.summaries._probs` and HDIs, shape (scale, interval, 2)."""
    values, cumulative = _merged(ordered, weights)
    bounds = [[hdi_of_weighted_sorted(v, cumulative, m) for m in spec.intervals] for v in (values, _log10(values))]
    hdi = np.array(bounds, dtype=float).reshape(2, len(spec.intervals), 2)
    return mixture_quantiles(ordered, weights, _probs(spec), knots=values), hdi


def _mixture_means(samples, weights):
    """Pooled means on both scales and their errors (between chains)."""
    with np.errstate(invalid="ignore"):
        logs = [_log10(x) for x in samples]
        mean = np.array([sum(w * x.mean() for x, w in zip(v, weights)) for v in (samples, logs)])
        per_chain = [sum(w * x.mean(axis=1) for x, w in zip(v, weights)) for v in (samples, logs)]
    return mean, np.array([chain_error(p) for p in per_chain])


def _mixture_exceedance(samples, weights, thresholds):
    """P(main >= t) of the mixture and its error; ``summarize``'s own for one scenario."""
    if len(samples) == 1:
        return _exceedance(samples[0], thresholds)
    per_chain = sum(w * np.stack([(x >= t).mean(axis=1) for t in thresholds]) for x, w in zip(samples, weights))
    return per_chain.mean(axis=1), chain_error(per_chain, 1)


# --------------------------------------------------------------------------- datasets


def _axis_values(result: xr.Dataset, axis: str) -> list:
    if axis in RESERVED or axis not in result.dims:
        axes = [str(d) for d in result.dims if d not in RESERVED]
        raise ConfigError(f"the result has no scenario axis {axis!r}{did_you_mean(axis, axes)}; its axes are "
                          f"{', '.join(axes) or 'none'}", key="axis")
    return list(result[axis].values)


def _outputs(result: xr.Dataset, spec: SummarySpec) -> list[str]:
    """The outputs to pool: `spec`'s, else those the result summarises, else summarize's default."""
    available = [n for n in result.data_vars if result[n].attrs.get("role") == "output"]
    if not available:
        raise ConfigError("the result has no samples of its outputs (a streamed run keeps only summaries); "
                          "pooling needs them: run with samples kept" if "output" in result.coords else
                          "the result has no outputs (no variable with role = 'output')", key="outputs")
    if spec.outputs:
        outputs = list(spec.outputs)
    elif "output" in result.coords:
        outputs = [str(o) for o in result["output"].values]
    else:
        outputs = [n for n in DEFAULT_OUTPUTS if n in available] or available
    for n in outputs:
        if n not in available:
            raise ConfigError(f"the result has no output named {n!r}; it has {', '.join(available)}", key="outputs")
        if not {"chain", "draw"} <= set(result[n].dims):
            raise ConfigError(f"the result has no samples of {n!r}; pooling needs them (run with samples kept)",
                              key="outputs")
    return outputs


def _other_axes(result: xr.Dataset, names: list[str], axis: str) -> list[str]:
    dims = [d for n in names for d in result[n].dims if d not in (axis, "chain", "draw")]
    return list(dict.fromkeys(dims))


def _samples(result: xr.Dataset, name: str, axis: str, others: list[str]) -> np.ndarray:
    """Samples of `name` as an array of dims ``(axis, *others, chain, draw)``."""
    x = result[name]
    x = x.expand_dims({d: result.sizes[d] for d in (axis, *others) if d not in x.dims})
    return x.transpose(axis, *others, "chain", "draw").values


def _cells(result, name, axis, others, keep):
    """For each cell of `others` (C order), the contiguous (chain, draw) samples of `name` in each kept scenario."""
    x = _samples(result, name, axis, others)
    for cell in np.ndindex(*x.shape[1:-2]):
        yield [np.ascontiguousarray(x[(s, *cell)]) for s in keep]


def _label_cells(cells: list[xr.Dataset], result: xr.Dataset, others: list[str]) -> xr.Dataset:
    """Per-cell summaries (C order over `others`) -> one Dataset with `others` as the leading dims."""
    if not others:
        return cells[0]
    shape = tuple(result.sizes[d] for d in others)
    first = cells[0]
    data = {k: ((*others, *first[k].dims), np.stack([c[k].values for c in cells]).reshape(*shape, *first[k].shape),
                first[k].attrs) for k in first.data_vars}
    coords = {**{d: result[d].values for d in others}, **first.coords}
    return xr.Dataset(data, coords=coords, attrs=first.attrs)


def _positive(weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the positive weights, and those weights normalised to sum to 1."""
    keep = np.flatnonzero(weights > 0)
    return keep, weights[keep] / weights[keep].sum()


def pool(result: xr.Dataset, axis: str, weights: Sequence[float], spec: SummarySpec | None = None) -> xr.Dataset:
    """Summary of the mixture of the scenarios along `axis`, with `weights`.

    Parameters
    ----------
    result : xarray.Dataset
        A :func:`~overhang_sim.batch.run` result with samples (dims ``(*axes, chain, draw)``).
    axis : str
        The axis pooled over.
    weights : sequence of float
        Credence in each value of `axis`, in the order of ``result[axis]`` (see
        :func:`check_weights`).
    spec : SummarySpec, optional
        Quantiles, intervals and thresholds (default: the run's ``[summary]``);
        outputs: those it names, else those the result summarises.

    Returns
    -------
    xarray.Dataset
        What :func:`~overhang_sim.summaries.summarize` gives for one scenario, with
        the other axes as leading dims: ``mean``, ``quantile``, ``eti_*``, ``hdi_*``,
        ``prob_at_least`` (main output) and their ``*_mcse``, in each output's unit
        or its log10. Attrs ``pooled_axis``, ``pooled_values``, ``pooled_weights`` (JSON).

    Raises
    ------
    ConfigError
        Bad `weights` (key ``weights``), an unknown `axis`, a result without samples.
    """
    values = _axis_values(result, axis)
    keep, w = _positive(check_weights(weights, values, key="weights"))
    spec = spec or _spec_of(result)
    outputs, main = _outputs(result, spec), main_output(result)
    exceed = main in result.data_vars and result[main].attrs.get("role") == "output" and bool(spec.thresholds)
    others = _other_axes(result, outputs + [main] * exceed, axis)
    per_output = [[_mixture_output(parts, w, spec) for parts in _cells(result, n, axis, others, keep)]
                  for n in outputs]
    exceedance = [_mixture_exceedance(parts, w, spec.thresholds) for parts in _cells(result, main, axis, others, keep)] \
        if exceed else [None] * len(per_output[0])
    meta = {n: (result[n].attrs.get("units", ""), result[n].attrs.get("long_name", n)) for n in outputs}
    attrs = {**result.attrs, "main_output": main}
    cells = [_summary_dataset([p[i] for p in per_output], e, spec, outputs, meta, attrs) for i, e in enumerate(exceedance)]
    pooled = _label_cells(cells, result, others)
    pooled.attrs.update(pooled_axis=axis, pooled_values=json.dumps(result[axis].values.tolist()),
                        pooled_weights=json.dumps([float(x) for x in np.asarray(weights, dtype=float)]))
    return pooled


# --------------------------------------------------------------------------- variance share


def _total_variance(means, variances, weights):
    """Law of total variance over axis 0: (between, total), each without axis 0."""
    w = weights.reshape(-1, *([1] * (means.ndim - 1)))
    grand = (w * means).sum(axis=0)
    between = (w * (means - grand) ** 2).sum(axis=0)
    return between, between + (w * variances).sum(axis=0)


def _refuse_undefined(logs, keep, weights, result, axis, others, output):
    """ConfigError naming the first scenario of positive weight with a draw whose log10 is undefined."""
    bad = (~np.isfinite(logs)).sum(axis=(-2, -1))  # (positive scenarios, *others)
    if not bad.any():
        return
    first = np.unravel_index(int(np.argmax(bad > 0)), bad.shape)
    at = (keep[first[0]], *first[1:])
    label = ", ".join(f"{d}={result[d].values[i].item()!r}" for d, i in zip((axis, *others), at))
    raise ConfigError(f"log10({output}) is undefined (a draw <= 0, inf or NaN) for {bad[first]} of "
                      f"{logs.shape[-2] * logs.shape[-1]} draws at {label}, which has weight {weights[at[0]]:g}; "
                      "the variance share needs every draw of a scenario with positive weight", key="output")


def _mid_cdf(parts: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Each draw's mid-CDF in the mixture: ``F(y-) + P(Y = y) / 2``, the draws of part s weighing ``w_s / n``.

    `parts` is ``(scenario, ...)``; the result has its shape and lies in (0, 1). Ties
    (an atom such as instances = 0) share one value, so the transform is defined
    wherever log10 is not.
    """
    flat = parts.reshape(parts.shape[0], -1)
    each = np.repeat(weights / flat.shape[1], flat.shape[1])
    values, where = np.unique(flat.ravel(), return_inverse=True)
    mass = np.bincount(where, weights=each, minlength=len(values))
    mid = np.cumsum(mass) - mass / 2
    return mid[where].reshape(parts.shape)


def _rank_scale(parts: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """`parts` (scenario, *others, chain, draw) as mid-CDFs of the mixture, cell by cell of `others`."""
    out = np.empty_like(parts, dtype=float)
    for cell in np.ndindex(*parts.shape[1:-2]):
        index = (slice(None), *cell)
        out[index] = _mid_cdf(parts[index], weights)
    return out


def share_scale(result: xr.Dataset, axis: str, weights: Sequence[float], output: str | None = None) -> str:
    """``"log10"``, or ``"rank"`` when a scenario of positive weight has draws of `output` = 0 (none < 0, NaN or inf).

    Instances = 0 is an answer (a required speed above the roofline's serial ceiling),
    an atom log10 cannot hold: the variance share then uses the mixture's mid-CDF.
    """
    keep, _ = _positive(check_weights(weights, _axis_values(result, axis), key="weights"))
    output = output or main_output(result)
    x = result[output].transpose(axis, ...).values[keep]
    return "rank" if np.isfinite(x).all() and (x >= 0).all() and (x == 0).any() else "log10"


def axis_variance_share(result: xr.Dataset, axis: str, weights: Sequence[float],
                        output: str | None = None, scale: str = "log10") -> xr.Dataset:
    """Share of the pooled variance of log10(output) explained by the choice along `axis`.

    With ``m_s = E[log10 Y | s]`` and ``v_s = Var[log10 Y | s]`` (each scenario's
    draws, equally weighted), the law of total variance for the mixture gives
    ``between = sum_s w_s (m_s - sum_r w_r m_r)^2`` and ``total = between +
    sum_s w_s v_s``; the share is ``between / total`` (NaN when total is 0).

    With ``scale = "rank"`` the same decomposition is of ``U = F(Y)``, the mid-CDF of
    each draw in the pooled mixture (``F(y-) + P(Y = y) / 2``; between 0 and 1, and
    defined at an atom such as instances = 0, where log10 is not): the share of the
    pooled variance of the rank that the choice explains, a correlation ratio on ranks.
    :func:`share_scale` picks it when some draws are 0.

    Parameters
    ----------
    result, axis, weights
        As for :func:`pool`.
    output : str, optional
        Default: the main output.
    scale : {"log10", "rank"}
        The scale the variance is taken on (default log10).

    Returns
    -------
    xarray.Dataset
        Over the other axes: ``variance_share`` (dimensionless, in [0, 1]),
        ``between_variance`` and ``total_variance`` ((log10 unit)^2), each with a
        ``*_mcse`` from the per-chain values (chain c of every scenario); over
        ``(axis, *others)``: ``conditional_mean`` = E[log10 Y | s] (log10 unit) and
        its MCSE, for every scenario (NaN where some draw has no log10); the
        coordinate ``weight``.

    Raises
    ------
    ConfigError
        As :func:`pool`; and a draw <= 0, inf or NaN in a scenario of positive weight:
        it is refused, not dropped, as dropping it would reweight that scenario.
        Scenarios of weight 0 may hold anything.
    """
    values = _axis_values(result, axis)
    weights = check_weights(weights, values, key="weights")
    keep, w = _positive(weights)
    output = output or main_output(result)
    _outputs(result, SummarySpec(outputs=(output,)))
    others = _other_axes(result, [output], axis)
    if scale not in ("log10", "rank"):
        raise ConfigError(f"must be 'log10' or 'rank', not {scale!r:.40}", key="scale")
    with np.errstate(divide="ignore", invalid="ignore"):
        logs = np.log10(_samples(result, output, axis, others))
    if scale == "rank":
        raw = _samples(result, output, axis, others)
        _refuse_undefined(np.where(np.isnan(raw), np.nan, 0.0)[keep], keep, weights, result, axis, others, output)
        logs = np.full(raw.shape, np.nan)
        logs[keep] = _rank_scale(raw[keep], w)
    _refuse_undefined(logs[keep], keep, weights, result, axis, others, output)
    between, total = _total_variance(logs[keep].mean(axis=(-2, -1)), logs[keep].var(axis=(-2, -1)), w)
    chain_between, chain_total = _total_variance(logs[keep].mean(axis=-1), logs[keep].var(axis=-1), w)
    with np.errstate(divide="ignore", invalid="ignore"):
        defined = np.isfinite(logs).all(axis=(-2, -1))
        estimates = {"variance_share": (between / total, chain_between / chain_total),
                     "between_variance": (between, chain_between), "total_variance": (total, chain_total),
                     "conditional_mean": (np.where(defined, logs.mean(axis=(-2, -1)), np.nan),
                                          np.where(defined[..., None], logs.mean(axis=-1), np.nan))}
    unit = result[output].attrs.get("units", "")
    if scale == "rank":
        text = {"variance_share": ("1", f"share of Var[F({output})], its pooled mid-CDF, explained by {axis}"),
                "between_variance": ("1", f"Var over {axis} of E[F({output}) | {axis}]"),
                "total_variance": ("1", f"pooled Var[F({output})]"),
                "conditional_mean": ("1", f"E[F({output}) | {axis}], the mean pooled rank")}
    else:
        text = {}
    text = text or {"variance_share": ("1", f"share of Var[log10 {output}] explained by {axis} (between / total)"),
            "between_variance": (f"(log10 {unit})^2", f"Var over {axis} of E[log10 {output} | {axis}]"),
            "total_variance": (f"(log10 {unit})^2", f"pooled Var[log10 {output}]"),
            "conditional_mean": (f"log10 {unit}", f"E[log10 {output} | {axis}]")}
    data = {}
    for key, (estimate, per_chain) in estimates.items():
        dims = (axis, *others) if key == "conditional_mean" else tuple(others)
        data[key] = (dims, estimate, {"units": text[key][0], "long_name": text[key][1]})
        data[f"{key}_mcse"] = (dims, chain_error(per_chain, axis=-1), {"units": text[key][0], "long_name":
                                                                       f"Monte Carlo standard error of {key}"})
    coords = {axis: values, "weight": (axis, weights), **{d: result[d].values for d in others}}
    return xr.Dataset(data, coords, {"output": output, "axis": axis, "pooled_weights": json.dumps(list(weights)),
                                     "scale": scale})
