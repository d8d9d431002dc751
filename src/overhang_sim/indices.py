"""Array kernels of the sensitivity analysis: ndarrays in, ndarrays out, no labels.

:mod:`overhang_sim.sensitivity_analysis` builds their inputs from an experiment or a run and
labels their answers; the estimators and their references are described there.
Shapes: ``x`` is ``(n, d)`` inputs, ``y`` is ``(n, m)`` outputs. Sobol' outputs come in
R independently scrambled replicates of ``n / R`` consecutive rows; every interval is
:func:`chain_interval`'s, over chains or over those replicates.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np
from scipy import stats

from .designs import ScrambledSobol, stable_key
from .errors import ConfigError

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

REPLICATES = 8
QUANTILE_METHOD = "normal_unbiased"


def _stream(seed: int, part: str, *keys: int) -> np.random.SeedSequence:
    return np.random.SeedSequence(seed, spawn_key=(stable_key("sensitivity"), stable_key(part), *keys))


# --------------------------------------------------------------------------- Sobol' kernels


class SobolIndices(NamedTuple):
    """First-order and total indices with their intervals over independent replicates.

    Indices have shape ``(d, m)`` (``(d,)`` for one output); intervals ``(2, d, m)``
    (lower, upper).
    """

    first: np.ndarray
    total: np.ndarray
    first_interval: np.ndarray
    total_interval: np.ndarray


def _replicate_rows(n: int, replicates: int, *, balanced: bool) -> int:
    """Rows per replicate, ``n // replicates``; refuses what leaves no interval or breaks the balance."""
    if not (isinstance(replicates, (int, np.integer)) and replicates >= 2):
        raise ConfigError(f"must be a whole number >= 2 (the interval needs the spread between replicates), "
                          f"not {replicates!r}", key="replicates")
    rows, rest = divmod(n, replicates)
    if balanced and (rest or rows < 1 or n & (n - 1) or rows & (rows - 1)):
        raise ConfigError(f"{n} base samples in {replicates} replicates: n and n / replicates must be powers "
                          "of two to keep the Sobol' balance", key="n")
    if rest or rows < 1:
        raise ConfigError(f"{n} rows do not split into {replicates} equal replicates", key="replicates")
    return rows


def saltelli_outputs(f: Callable[[np.ndarray], np.ndarray], ppfs: Sequence[Callable], n: int, *,
                     seed: int = 0, replicates: int = REPLICATES) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Evaluate `f` on `replicates` independently scrambled Saltelli designs of ``n`` base points in all.

    Replicate r is a Saltelli design of ``n / replicates`` scrambled Sobol' points with
    its own stream (a child of the seed keyed by r); `f` runs once per matrix on the
    rows of every replicate, replicate-major.

    Parameters
    ----------
    f : callable
        ``f(x)`` with `x` of shape ``(rows, d)`` returns ``(rows,)`` or ``(rows, m)``.
    ppfs : sequence of callable
        Inverse CDF of each input, mapping uniforms to values.
    n : int
        Base samples of all replicates together; ``n`` and ``n / replicates`` must be
        powers of two (the Sobol' balance). ``n (d + 2)`` runs of `f`.
    seed : int
        Root of the design's streams.
    replicates : int
        Independent scrambles, at least 2.

    Returns
    -------
    fa, fb : ndarray, shape (n,) or (n, m)
        Outputs on the two base matrices A and B; rows ``r n / replicates`` to
        ``(r + 1) n / replicates - 1`` are replicate r.
    fab : ndarray, shape (d, n) or (d, n, m)
        Outputs on A with column i taken from B.
    """
    rows = _replicate_rows(n, replicates, balanced=True)
    d = len(ppfs)
    u = np.concatenate([ScrambledSobol(2 * d, _stream(seed, "sobol", r)).random(rows) for r in range(replicates)])
    xa = np.column_stack([ppf(u[:, j]) for j, ppf in enumerate(ppfs)])
    xb = np.column_stack([ppf(u[:, d + j]) for j, ppf in enumerate(ppfs)])
    fab = []
    for i in range(d):
        xab = xa.copy()
        xab[:, i] = xb[:, i]
        fab.append(f(xab))
    return f(xa), f(xb), np.stack(fab)


def _estimates(a, b, ab):
    """First-order and total indices ``(d, m)`` from `a`, `b` ``(rows, m)`` and `ab` ``(rows, d, m)``.

    The outputs are centred on their mean over all three first (as SALib does); the
    variance is that of `a` and `b` pooled.
    """
    rows, d = ab.shape[:2]
    centre = (a.sum(0) + b.sum(0) + ab.sum((0, 1))) / (rows * (d + 2))
    a, b, ab = a - centre, b - centre, ab - centre
    var = np.mean(a * a + b * b, axis=0) / 2 - (np.mean(a + b, axis=0) / 2) ** 2
    with np.errstate(divide="ignore", invalid="ignore"):
        return (np.mean(b[:, None] * (ab - a[:, None]), axis=0) / var,
                np.mean(0.5 * (a[:, None] - ab) ** 2, axis=0) / var)


def sobol_indices(fa: np.ndarray, fb: np.ndarray, fab: np.ndarray, *, replicates: int = REPLICATES,
                  confidence: float = 0.95) -> SobolIndices:
    """First-order (Saltelli 2010) and total (Jansen 1999) indices with intervals over replicates.

    ``S_i = mean(fb (fab_i - fa)) / V`` and ``ST_i = mean((fa - fab_i)**2) / 2 / V`` with
    ``V`` the variance of ``fa`` and ``fb`` pooled; outputs are centred first (as SALib does).
    The estimates use all rows; the intervals are ``estimate +- t_(R-1) sd / sqrt(R)``
    with ``sd`` that of the same estimators on each of the R replicates alone
    (:func:`chain_interval`). That is valid when the replicates are independent
    randomisations, as :func:`saltelli_outputs` makes them; on consecutive blocks of
    one Sobol' sequence the estimates hold but the intervals do not.

    Parameters
    ----------
    fa, fb : ndarray, shape (n,) or (n, m)
        Model outputs on the base matrices A and B, replicate-major (see :func:`saltelli_outputs`).
    fab : ndarray, shape (d, n) or (d, n, m)
        Outputs on A with column i from B.
    replicates : int
        Independent replicates the rows come in, ``n / replicates`` consecutive rows each.
    confidence : float
        Mass of the intervals.

    Returns
    -------
    SobolIndices
        Raw estimates (a zero index can come out slightly negative) and intervals.
    """
    squeeze = np.ndim(fa) == 1
    fa, fb = (np.asarray(f, dtype=float).reshape(len(f), -1) for f in (fa, fb))
    fab = np.moveaxis(np.asarray(fab, dtype=float).reshape(len(fab), *fa.shape), 0, 1)  # (n, d, m)
    (n, m), d = fa.shape, fab.shape[1]
    _replicate_rows(n, replicates, balanced=False)
    blocks = [x.reshape(replicates, n // replicates, -1) for x in (fa, fb, fab)]
    (first, *first_bounds), (total, *total_bounds) = chain_interval(
        lambda a, b, ab: _estimates(a, b, ab.reshape(len(ab), d, m)), blocks, confidence)
    out = (first, total, np.stack(first_bounds), np.stack(total_bounds))
    return SobolIndices(*(x[..., 0] if squeeze else x for x in out))


def sobol_indices_from_function(f: Callable[[np.ndarray], np.ndarray], ppfs: Sequence[Callable], n: int, *,
                                seed: int = 0, replicates: int = REPLICATES,
                                confidence: float = 0.95) -> SobolIndices:
    """Sobol' indices of `f` with independent inputs given by their inverse CDFs.

    :func:`saltelli_outputs` then :func:`sobol_indices`; `n` counts the base samples of
    all `replicates` together.

    Examples
    --------
    >>> import numpy as np
    >>> s = sobol_indices_from_function(lambda x: x[:, 0] + 2 * x[:, 1], [lambda u: u] * 2, 1024, seed=1)
    >>> np.round(s.first, 2)
    array([0.2, 0.8])
    """
    fa, fb, fab = saltelli_outputs(f, ppfs, n, seed=seed, replicates=replicates)
    return sobol_indices(fa, fb, fab, replicates=replicates, confidence=confidence)


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
    """Spearman rank correlation of each input column with each output column, ``(d, m)``.

    NaN for a column that is constant (e.g. a 0/1 indicator that never holds in a small
    chain): it has no ranking, so no correlation.
    """
    rx, ry = _average_ranks(x, _order(x, order)), _average_ranks(y, _order(y, None))
    rx -= rx.mean(axis=0)
    ry -= ry.mean(axis=0)
    norm = np.sqrt(np.outer((rx * rx).sum(axis=0), (ry * ry).sum(axis=0)))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(norm > 0, rx.T @ ry / np.where(norm > 0, norm, 1.0), np.nan)


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
