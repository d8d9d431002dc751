"""The kept-sample summary as it was before the one-sort rewrite: np.quantile pooled and per
chain, a sort per chain then a stable merge, log10 of every sorted copy, arviz's HDI algorithm.

tests/test_summaries.py checks that ``summaries._one_output`` gives these numbers bit for bit.
"""

from __future__ import annotations

import numpy as np

from overhang_sim.summaries import _probs, _statistics, _zeros, chain_error, hdi_chain_error
from overhang_sim.tails import tail_statistics


def _log10(x):
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log10(x)


def quantiles(x, probs):
    pooled = np.quantile(x, probs)
    per_chain = np.quantile(x, probs, axis=1)  # (prob, chain)
    return (np.stack([pooled, _log10(pooled)]),
            np.stack([chain_error(per_chain, 1), chain_error(_log10(per_chain), 1)]))


def hdi_of_sorted(ordered, mass):
    if ordered[0] == ordered[-1]:
        return float(ordered[0]), float(ordered[0])
    n = len(ordered)
    k = int(np.floor(mass * n))
    if ordered[0] == -np.inf and np.isfinite(ordered[-1]):
        finite = ordered[np.searchsorted(ordered, -np.inf, side="right"):]
        if len(finite) <= k:
            return -np.inf, float(ordered[k])
        ordered = finite
    if not (np.isfinite(ordered[0]) and np.isfinite(ordered[-1])):
        return np.nan, np.nan
    i = int(np.argmin(ordered[k:] - ordered[: len(ordered) - k]))
    return float(ordered[i]), float(ordered[i + k])


def _hdi_both_scales(ordered, intervals):
    bounds = [[hdi_of_sorted(values, mass) for mass in intervals] for values in (ordered, _log10(ordered))]
    return np.array(bounds, dtype=float).reshape(2, len(intervals), 2)


def hdi(x, intervals):
    chains = np.sort(x, axis=1)
    per_chain = np.stack([_hdi_both_scales(c, intervals) for c in chains])
    pooled = np.sort(chains, axis=None, kind="stable")
    return _hdi_both_scales(pooled, intervals), hdi_chain_error(per_chain, 0)


def exceedance(x, thresholds):
    per_chain = np.stack([(x >= t).mean(axis=1) for t in thresholds])
    return per_chain.mean(axis=1), chain_error(per_chain, 1)


def one_output(x, spec):
    quant, quant_se = quantiles(x, _probs(spec))
    logx = _log10(x)
    mean = np.array([x.mean(), logx.mean()])
    mean_se = np.array([chain_error(x.mean(axis=1)), chain_error(logx.mean(axis=1))])
    zeros = _zeros(np.count_nonzero(x == 0, axis=1), np.full(x.shape[0], x.shape[1]),
                   np.any((x != 0) & (x != 1)))
    return {**_statistics(spec, mean, mean_se, quant, quant_se, *hdi(x, spec.intervals)), **zeros, **tail_statistics(x)}
