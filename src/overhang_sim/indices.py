"""Array kernels of the sensitivity analysis: ndarrays in, ndarrays out, no labels.

:mod:`overhang_sim.sensitivity_analysis` builds their inputs from an experiment or a run and
labels their answers; the estimators and their references are described there.
Shapes: ``x`` is ``(n, d)`` inputs, ``y`` is ``(n, m)`` outputs.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np
from scipy import stats

from .designs import ScrambledSobol, stable_key

__all__ = [
    "SobolIndices",
    "chain_interval",
    "interval_width",
    "rank_first_order",
    "saltelli_outputs",
    "sobol_indices",
    "sobol_indices_from_function",
    "spearman",
    "voi_narrowing",
]

BOOTSTRAP_GROUPS = 2**12
BOOTSTRAP_BLOCK = 1000
QUANTILE_METHOD = "normal_unbiased"


def _stream(seed: int, part: str, *keys: int) -> np.random.SeedSequence:
    return np.random.SeedSequence(seed, spawn_key=(stable_key("sensitivity"), stable_key(part), *keys))


# --------------------------------------------------------------------------- Sobol' kernels


class SobolIndices(NamedTuple):
    """First-order and total indices with their percentile intervals.

    Indices have shape ``(d, m)`` (``(d,)`` for one output); intervals ``(2, d, m)``
    (lower, upper).
    """

    first: np.ndarray
    total: np.ndarray
    first_interval: np.ndarray
    total_interval: np.ndarray


def saltelli_outputs(f: Callable[[np.ndarray], np.ndarray], ppfs: Sequence[Callable], n: int, *,
                     seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Evaluate `f` on a Saltelli design of `n` scrambled Sobol' points.

    Parameters
    ----------
    f : callable
        ``f(x)`` with `x` of shape ``(rows, d)`` returns ``(rows,)`` or ``(rows, m)``.
    ppfs : sequence of callable
        Inverse CDF of each input, mapping uniforms to values.
    n : int
        Base samples (a power of two keeps the Sobol' balance); ``n (d + 2)`` runs of `f`.
    seed : int
        Root of the design's stream.

    Returns
    -------
    fa, fb : ndarray, shape (n,) or (n, m)
        Outputs on the two base matrices A and B.
    fab : ndarray, shape (d, n) or (d, n, m)
        Outputs on A with column i taken from B.
    """
    d = len(ppfs)
    u = ScrambledSobol(2 * d, _stream(seed, "sobol")).random(n)
    xa = np.column_stack([ppf(u[:, j]) for j, ppf in enumerate(ppfs)])
    xb = np.column_stack([ppf(u[:, d + j]) for j, ppf in enumerate(ppfs)])
    fab = []
    for i in range(d):
        xab = xa.copy()
        xab[:, i] = xb[:, i]
        fab.append(f(xab))
    return f(xa), f(xb), np.stack(fab)


def _terms(a, b, ab):
    """Per-row terms whose means give every estimator: (rows, 2 + 2d, m)."""
    return np.concatenate([(a + b)[:, None], (a * a + b * b)[:, None],
                           np.moveaxis(b * (ab - a), 0, 1), np.moveaxis(0.5 * (a - ab) ** 2, 0, 1)], axis=1)


def _from_sums(sums, weight, d):
    """First-order and total indices from summed terms ``(..., 2 + 2d, m)`` over `weight` rows."""
    w = np.asarray(weight, dtype=float)[..., None]
    mean = sums[..., 0, :] / (2 * w)
    var = (sums[..., 1, :] / (2 * w) - mean**2)[..., None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        return sums[..., 2 : 2 + d, :] / w[..., None] / var, sums[..., 2 + d :, :] / w[..., None] / var


@functools.cache
def _poisson_table() -> np.ndarray:
    """Poisson(1) variates for each 16-bit integer: the inverse CDF at the cell midpoints."""
    cells = (np.arange(2**16) + 0.5) / 2**16
    return np.searchsorted(stats.poisson.cdf(np.arange(20), 1.0), cells, side="right").astype(float)


def _bootstrap(terms, resamples, seed):
    """Weighted sums of the terms ``(resamples, columns)`` and of the rows, per bootstrap replicate.

    The rows are dealt at random into at most :data:`BOOTSTRAP_GROUPS` groups, and
    each replicate gives every group an independent Poisson(1) weight, the
    large-sample form of resampling with replacement (Hanley & MacGibbon 2006):
    all replicates are one matrix of weights times the group sums. Group sums of
    exchangeable rows are i.i.d., so resampling groups estimates the same sampling
    distribution as resampling rows (means and their cumulants scale alike), at a
    cost that does not grow with the rows; up to that many rows a group is a row.
    """
    rng = np.random.default_rng(_stream(seed, "bootstrap"))
    n = len(terms)
    groups = min(n, BOOTSTRAP_GROUPS)
    starts = (np.arange(groups) * n) // groups
    sums = np.append(np.add.reduceat(terms[rng.permutation(n)], starts, axis=0),
                     np.diff(starts, append=n)[:, None], axis=1)  # last column: rows per group
    out = np.empty((resamples, sums.shape[1]))
    for block in range(0, resamples, BOOTSTRAP_BLOCK):  # bounds the memory of the weights
        size = min(BOOTSTRAP_BLOCK, resamples - block)
        out[block : block + size] = _poisson_table()[rng.integers(0, 2**16, (size, groups), np.uint16)] @ sums
    return out[:, :-1], out[:, -1]


def sobol_indices(fa: np.ndarray, fb: np.ndarray, fab: np.ndarray, *, resamples: int = 1000,
                  confidence: float = 0.95, seed: int = 0) -> SobolIndices:
    """First-order (Saltelli 2010) and total (Jansen 1999) indices with bootstrap intervals.

    ``S_i = mean(fb (fab_i - fa)) / V`` and ``ST_i = mean((fa - fab_i)**2) / 2 / V`` with
    ``V`` the variance of ``fa`` and ``fb`` pooled; outputs are centred first (as SALib does).

    Parameters
    ----------
    fa, fb : ndarray, shape (n,) or (n, m)
        Model outputs on the base matrices A and B (see :func:`saltelli_outputs`).
    fab : ndarray, shape (d, n) or (d, n, m)
        Outputs on A with column i from B.
    resamples : int
        Bootstrap replicates, all computed in one vectorised pass.
    confidence : float
        Mass of the percentile intervals.
    seed : int
        Root of the bootstrap stream.

    Returns
    -------
    SobolIndices
        Raw estimates (a zero index can come out slightly negative) and intervals.
    """
    squeeze = np.ndim(fa) == 1
    fa, fb = (np.asarray(f, dtype=float).reshape(len(f), -1) for f in (fa, fb))
    fab = np.asarray(fab, dtype=float).reshape(len(fab), *fa.shape)
    centre = (fa.sum(0) + fb.sum(0) + fab.sum((0, 1))) / (len(fa) * (len(fab) + 2))
    fa, fb, fab = fa - centre, fb - centre, fab - centre
    d = len(fab)
    terms = _terms(fa, fb, fab)
    first, total = _from_sums(terms.sum(axis=0), len(fa), d)
    sums, rows = _bootstrap(terms.reshape(len(fa), -1), resamples, seed)
    boot_first, boot_total = _from_sums(sums.reshape(resamples, -1, fa.shape[1]), rows, d)
    tails = [(1 - confidence) / 2, (1 + confidence) / 2]
    out = [first, total, np.quantile(boot_first, tails, axis=0), np.quantile(boot_total, tails, axis=0)]
    return SobolIndices(*(x[..., 0] if squeeze else x for x in out))


def sobol_indices_from_function(f: Callable[[np.ndarray], np.ndarray], ppfs: Sequence[Callable], n: int, *,
                                seed: int = 0, resamples: int = 1000,
                                confidence: float = 0.95) -> SobolIndices:
    """Sobol' indices of `f` with independent inputs given by their inverse CDFs.

    Examples
    --------
    >>> import numpy as np
    >>> s = sobol_indices_from_function(lambda x: x[:, 0] + 2 * x[:, 1], [lambda u: u] * 2, 1024, seed=1)
    >>> np.round(s.first, 2)
    array([0.2, 0.8])
    """
    fa, fb, fab = saltelli_outputs(f, ppfs, n, seed=seed)
    return sobol_indices(fa, fb, fab, resamples=resamples, confidence=confidence, seed=seed)


# --------------------------------------------------------------------------- given-data kernels


def _order(x, order):
    return np.argsort(x, axis=0, kind="stable") if order is None else order


def rank_first_order(x: np.ndarray, y: np.ndarray, *, order: np.ndarray | None = None) -> np.ndarray:
    """First-order indices from given data by rank neighbours, shape ``(d, m)``.

    Sorted by input i, consecutive draws share (nearly) the same ``x_i``, so half
    their mean squared output difference estimates ``E[Var(Y | X_i)]`` and
    ``S_i = 1 - that / Var(Y)``; the bias is O(1/N). `x` is ``(N, d)``, `y` ``(N, m)``;
    `order` is ``argsort(x, axis=0)`` if already known.
    """
    order = _order(x, order)
    var = y.var(axis=0)
    out = np.empty((x.shape[1], y.shape[1]))
    for i in range(x.shape[1]):
        step = np.diff(y[order[:, i]], axis=0)
        out[i] = 1.0 - np.mean(step * step, axis=0) / (2.0 * var)
    return out


def _average_ranks(x, order):
    """1-based ranks of each column of `x`, ties sharing their mean rank."""
    ranks = np.empty(x.shape)
    for i in range(x.shape[1]):
        xs = x[order[:, i], i]
        new = np.r_[True, xs[1:] != xs[:-1]]
        first = np.flatnonzero(new)
        ranks[order[:, i], i] = (0.5 * (first + np.r_[first[1:], len(xs)] + 1))[np.cumsum(new) - 1]
    return ranks


def spearman(x: np.ndarray, y: np.ndarray, *, order: np.ndarray | None = None) -> np.ndarray:
    """Spearman rank correlation of each input column with each output column, ``(d, m)``."""
    rx, ry = _average_ranks(x, _order(x, order)), _average_ranks(y, _order(y, None))
    rx -= rx.mean(axis=0)
    ry -= ry.mean(axis=0)
    return (rx.T @ ry) / np.sqrt(np.outer((rx * rx).sum(axis=0), (ry * ry).sum(axis=0)))


def interval_width(y, mass, axis=0):
    low, high = np.quantile(y, [(1 - mass) / 2, (1 + mass) / 2], axis=axis, method=QUANTILE_METHOD)
    return high - low


def voi_narrowing(x: np.ndarray, y: np.ndarray, *, bins: int, mass: float = 0.9,
                  order: np.ndarray | None = None) -> np.ndarray:
    """How much the central `mass` interval of `y` narrows if ``x_i`` were known, ``(d, m)``.

    The draws are sorted by input i and cut into `bins` equal-count bins; the mean
    interval width within a bin estimates the expected width once ``x_i`` is known
    (quantiles by the ``normal_unbiased`` rule, nearly unbiased in small bins).
    Same units as `y`: orders of magnitude when `y` is a log10.
    """
    order = _order(x, order)
    n = len(y)
    rows = (np.arange(bins)[:, None] * n) // bins + np.arange(n // bins)
    width = interval_width(y, mass)
    out = np.empty((x.shape[1], y.shape[1]))
    for i in range(x.shape[1]):
        out[i] = width - interval_width(y[order[:, i]][rows], mass, axis=1).mean(axis=0)
    return out


def chain_interval(kernel, arrays, confidence):
    """Pooled estimates of `kernel` and +- t * sd(per chain) / sqrt(chains) for each.

    `arrays` are (chains, draws, k); `kernel` maps their per-draw slices to a tuple
    of estimates. Returns one (estimate, lower, upper) per estimate.
    """
    pooled = kernel(*(a.reshape(-1, a.shape[-1]) for a in arrays))
    per_chain = [kernel(*chain) for chain in zip(*arrays)]
    chains = len(arrays[0])
    t = stats.t.ppf((1 + confidence) / 2, chains - 1)
    out = []
    for k, estimate in enumerate(pooled):
        half = t * np.std([c[k] for c in per_chain], axis=0, ddof=1) / np.sqrt(chains)
        out.append((estimate, estimate - half, estimate + half))
    return out
