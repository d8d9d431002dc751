"""Run Dataset -> summary Dataset: quantiles, intervals, exceedance, Monte Carlo error.

Every figure is given on two scales: ``linear`` and ``log10`` (orders of
magnitude). Monte Carlo standard errors come from the spread between chains,
``sd(per-chain estimates) / sqrt(chains)``, which is honest for plain Monte Carlo
and for randomised QMC alike; with a single chain they are NaN.

Each output is sorted once per chain and once pooled, into scratch arrays a thread
reuses (one output's size and a few chains' rows, :func:`workspace_bytes`): quantiles are
read at their ranks with :func:`numpy.quantile`'s own arithmetic (:func:`sorted_quantiles`),
log10 is taken in place of the sorted copies (it keeps the order; quantiles on the log10
scale are log10 of the linear ones), and the highest-density intervals on both scales
come from the sorted copies by the algorithm of :func:`arviz.hdi`, which would sort
again on every call. The tests check the numbers equal, bit for bit, those of
``np.quantile`` and a sort per statistic. An HDI endpoint's Monte Carlo error comes
from the spread of the per-chain endpoints, scaled for its cube-root rate of
convergence (:func:`hdi_chain_error`). Each output is two tasks, its pooled sample and
its chains (:data:`PARTS`), run on parallel threads (numpy releases the GIL while it
sorts), so even a single output uses two cores.

Every kernel works along the last axis of ``(..., chain, draw)`` values: a run with leading
dims (a group of a grid's scenarios, ``(scenario_index, chain, draw)``) is summarised in one
pass of numpy calls for all of them, each index with exactly the numbers it has alone (the
tests check it bit for bit); a single run is the same code without leading dims.

A streamed run (no kept draws) is summarised from its chains' parts (:func:`block_part`,
:func:`merge_parts`): quantile sketches, exact sums and counts. A group of scenarios streamed
together keeps each block's parts as rows (:func:`block_rows`, :func:`merge_row_parts`) and is
summarised in one pass (:func:`summaries_from_rows`); a single run is the same code with one row.

P(main >= t) is computed for the run's main output (``main_output`` attr; the
instance count for the throughput and compute paths).
"""

from __future__ import annotations

import json
import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import xarray as xr

from . import sketch as sk
from .config import SummarySpec
from .errors import ConfigError
from .tails import tail_shapes_of_sorted

__all__ = ["DEFAULT_OUTPUTS", "block_part", "block_rows", "chain_error", "compare", "hdi_bounds", "hdi_chain_error", "hdi_of_sorted", "main_output",
           "merge_parts", "merge_row_parts", "part_rows", "sorted_quantiles", "summaries_from_parts", "summaries_from_rows", "summarize", "summary_from_parts", "summary_threads", "workspace_bytes"]

DEFAULT_OUTPUTS = ("instances", "cluster_tokens_per_s", "tokens_per_gpu_s", "params",
                   "serial_speedup", "tasks_per_day", "human_to_model_data_ratio",
                   "human_training_bits", "model_training_bits", "usd_per_pflops_day",
                   "streams_per_gpu", "max_stream_tokens_per_s", "compute_binds", "bandwidth_binds",
                   "capacity_binds", "latency_floor_binds")
SCALES = ("linear", "log10")


def chain_error(per_chain: np.ndarray, axis: int = 0) -> np.ndarray:
    """Standard error of a pooled estimate from its per-chain values along `axis`.

    Zero when every chain agrees exactly (a point-value run); NaN for one chain.
    """
    per_chain = np.asarray(per_chain, dtype=float)
    chains = per_chain.shape[axis]
    if chains < 2:
        return np.full(np.delete(per_chain.shape, axis), np.nan)
    with np.errstate(invalid="ignore"):
        return np.std(per_chain, axis=axis, ddof=1) / np.sqrt(chains)


def hdi_chain_error(per_chain: np.ndarray, axis: int = 0) -> np.ndarray:
    """Standard error of a pooled HDI endpoint from the chains' own HDI endpoints along `axis`.

    An HDI endpoint is the location of a minimum and converges at the cube-root rate,
    ``n**(-1/3)`` (Kim & Pollard 1990), not ``n**(-1/2)``: the pooled endpoint's error
    is the per-chain spread times ``chains**(-1/3)``, which is :func:`chain_error` times
    ``chains**(1/6)`` (1.41 for 8 chains).
    """
    chains = np.shape(per_chain)[axis]
    return chain_error(per_chain, axis) * chains ** (1 / 6)


def _log10(x, out=None):
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log10(x, out=out)


HDI_BLOCK = 2**16  # widths compared at a time by the HDI search (bounds its scratch memory)


def sorted_quantiles(ordered: np.ndarray, probs) -> np.ndarray:
    """``np.quantile(ordered, probs, axis=-1)`` of samples sorted along their last axis, read at the needed ranks.

    `ordered` has shape ``(..., n)`` (one sample per row); the result ``(..., len(probs))``.
    The same arithmetic as numpy's default (``linear``, Hyndman & Fan's type 7) on the
    two order statistics around each virtual index ``(n - 1) p``, so the result is bit
    for bit numpy's, without its partition of the whole sample. NaN in a row whose sample has a NaN.
    """
    probs = np.asarray(probs, dtype=float)
    n = ordered.shape[-1]
    virtual = (n - 1) * probs
    previous = np.floor(virtual)
    following = previous + 1
    previous[virtual >= n - 1] = following[virtual >= n - 1] = -1
    previous, following = previous.astype(np.intp), following.astype(np.intp)
    gamma = virtual - previous
    a, b = ordered[..., previous], ordered[..., following]
    with np.errstate(invalid="ignore"):
        diff = b - a
        result = a + diff * gamma
        np.subtract(b, diff * (1 - gamma), out=result, where=gamma >= 0.5)
    if n:
        result[np.isnan(ordered[..., -1])] = np.nan
    return result


def _narrowest(rows: np.ndarray, k: int, start: np.ndarray) -> np.ndarray:
    """Per row of `rows` ``(r, n)``, the first ``i >= start`` minimising ``rows[i + k] - rows[i]``.

    Widths are compared a block of columns at a time (about :data:`HDI_BLOCK` widths for all rows
    together), keeping each row's first minimum, so the answer does not depend on the blocks.
    """
    r, m = rows.shape[0], rows.shape[1] - k
    best, where = np.full(r, np.inf), start.astype(np.intp, copy=True)
    step = max(1, HDI_BLOCK // max(r, 1))
    masked = bool(np.any(start > 0))
    with np.errstate(invalid="ignore"):
        for first in range(0, m, step):
            stop = min(m, first + step)
            widths = rows[:, first + k:stop + k] - rows[:, first:stop]
            if masked:  # the -inf atom before `start` is no interval's lower end
                widths[np.arange(first, stop) < start[:, None]] = np.inf
            i = np.argmin(widths, axis=1)
            w = widths[np.arange(r), i]
            better = w < best
            best[better], where[better] = w[better], first + i[better]
    return where


def hdi_bounds(ordered: np.ndarray, mass: float) -> tuple[np.ndarray, np.ndarray]:
    """Narrowest interval holding `mass` of each row of `ordered` ``(..., n)``, sorted along its last axis.

    Returns (lower, upper), each of shape ``ordered.shape[:-1]``. The algorithm of
    :func:`arviz.hdi` (``k = floor(mass * n)``; the first ``i`` that minimises
    ``ordered[i + k] - ordered[i]``) without its sort, for every row at once. A constant
    sample gives its value at both ends; a sample with NaN or +inf gives NaN. Values of -inf
    (log10 of zero instances) are an atom no finite interval reaches: the HDI is the narrowest
    interval of the finite values if they hold the mass, else ``[-inf, ordered[k]]``.
    """
    n = ordered.shape[-1]
    k = int(np.floor(mass * n))
    rows = ordered.reshape(-1, n)
    first, last = rows[:, 0], rows[:, -1]
    atom = (first == -np.inf) & np.isfinite(last)  # log10 of zeros: an atom at -inf
    atoms = np.where(atom, np.count_nonzero(rows == -np.inf, axis=1) if atom.any() else 0, 0)
    reaches = atom & (n - atoms <= k)  # every interval holding the mass reaches the atom
    regular = np.isfinite(last) & (atom | np.isfinite(first)) & ~reaches
    i = np.minimum(_narrowest(rows, k, atoms), n - 1)
    r = np.arange(rows.shape[0])
    lower, upper = rows[r, i], rows[r, np.minimum(i + k, n - 1)]
    lower = np.where(regular, lower, np.where(reaches, -np.inf, np.nan))
    upper = np.where(regular, upper, np.where(reaches, rows[:, min(k, n - 1)], np.nan))
    constant = first == last
    lower, upper = np.where(constant, first, lower), np.where(constant, first, upper)
    return lower.reshape(ordered.shape[:-1]), upper.reshape(ordered.shape[:-1])


def _quantiles(x, probs):
    """Pooled quantiles and their errors on both scales; x has dims (chain, draw)."""
    ordered = np.sort(x, axis=None)
    pooled = sorted_quantiles(ordered, probs)
    per_chain = np.stack([sorted_quantiles(np.sort(c), probs) for c in x], axis=1)  # (prob, chain)
    return _quantile_stats(pooled, per_chain)


def _quantile_stats(pooled, per_chain):
    """Quantiles on both scales (log10 of the linear ones) and their errors; pooled is (..., prob),
    per_chain (..., prob, chain); both results (..., scale, prob)."""
    return (np.stack([pooled, _log10(pooled)], axis=-2),
            np.stack([chain_error(per_chain, -1), chain_error(_log10(per_chain), -1)], axis=-2))


def hdi_of_sorted(ordered: np.ndarray, mass: float) -> tuple[float, float]:
    """Narrowest interval holding `mass` of the sorted 1-d sample `ordered`: :func:`hdi_bounds` of one row."""
    lower, upper = hdi_bounds(np.asarray(ordered)[None], mass)
    return float(lower[0]), float(upper[0])


def _hdis(ordered, intervals):
    return [hdi_of_sorted(ordered, mass) for mass in intervals]


def _hdi_both_scales(ordered, intervals):
    """HDI bounds of one sorted sample on both scales, shape (scale, interval, 2)."""
    bounds = [_hdis(ordered, intervals), _hdis(_log10(ordered), intervals)]
    return np.array(bounds, dtype=float).reshape(2, len(intervals), 2)


def _hdi(x, intervals):
    """Pooled HDI bounds and their errors (between chains), each of shape (scale, interval, 2)."""
    per_chain = np.stack([_hdi_both_scales(np.sort(c), intervals) for c in x])
    return _hdi_both_scales(np.sort(x, axis=None), intervals), hdi_chain_error(per_chain, 0)


def _exceedance(x, thresholds):
    """P(x >= t) and its error from ``(..., chain, draw)`` values."""
    per_chain = np.stack([(x >= t).mean(axis=-1) for t in thresholds], axis=-2)  # (..., threshold, chain)
    return _exceedance_stats(per_chain)


def _exceedance_stats(per_chain):
    """P(main >= t) and its error from the per-chain shares, (..., threshold, chain)."""
    return per_chain.mean(axis=-1), chain_error(per_chain, -1)


def _probs(spec):
    """The quantiles asked for, then the tails of each interval (for the equal-tailed ones)."""
    tails = [p for i in spec.intervals for p in ((1 - i) / 2, (1 + i) / 2)]
    return np.array([*spec.quantiles, *tails], dtype=float)


def _zeros(per_chain_zeros, per_chain_n, nonbinary, batch=()):
    """P(output = 0) with its error between chains, and whether every draw is 0 or 1 (an indicator);
    the counts are (..., chain), `batch` names the leading dims."""
    n = np.asarray(per_chain_n, dtype=float)
    zeros = np.asarray(per_chain_zeros, dtype=float)
    return {"prob_zero": (batch, zeros.sum(axis=-1) / n.sum(axis=-1)),
            "prob_zero_mcse": (batch, chain_error(zeros / n, -1)), "binary": (batch, np.logical_not(nonbinary))}


def _statistics(spec, mean, mean_se, quant, quant_se, hdi, hdi_se, batch=()):
    """One output's statistics, labelled by dims; `quant` holds :func:`_probs` on both scales.

    Every array has the leading dims `batch` (names; none for one run), then ``scale`` ....
    """
    n = len(spec.quantiles)
    intervals = len(spec.intervals)
    lead = np.shape(mean)[:-1]
    eti = quant[..., n:].reshape(*lead, 2, intervals, 2)
    eti_se = quant_se[..., n:].reshape(*lead, 2, intervals, 2)
    hdi = np.reshape(hdi, (*lead, 2, intervals, 2))
    hdi_se = np.reshape(hdi_se, (*lead, 2, intervals, 2))
    scale, prob, interval = (*batch, "scale"), (*batch, "scale", "prob"), (*batch, "scale", "interval")
    return {
        "mean": (scale, mean),
        "mean_mcse": (scale, mean_se),
        "quantile": (prob, quant[..., :n]),
        "quantile_mcse": (prob, quant_se[..., :n]),
        "eti_lower": (interval, eti[..., 0]),
        "eti_upper": (interval, eti[..., 1]),
        "eti_lower_mcse": (interval, eti_se[..., 0]),
        "eti_upper_mcse": (interval, eti_se[..., 1]),
        "hdi_lower": (interval, hdi[..., 0]),
        "hdi_upper": (interval, hdi[..., 1]),
        "hdi_lower_mcse": (interval, hdi_se[..., 0]),
        "hdi_upper_mcse": (interval, hdi_se[..., 1]),
    }


def _count(ordered, value, side_low="left", side_high="right"):
    """How many of the sorted values equal `value` (NaN sorts last, as in :func:`numpy.sort`)."""
    return int(np.searchsorted(ordered, value, side_high) - np.searchsorted(ordered, value, side_low))


def _at_least(ordered, thresholds):
    """How many of the sorted values are >= each threshold (NaN is not, as ``x >= t`` says)."""
    below_nan = np.searchsorted(ordered, np.nan, "left")
    return np.array([below_nan - np.searchsorted(ordered, t, "left") for t in thresholds], dtype=float)


def summary_threads(outputs: int, values: int | None = None) -> int:
    """Threads :func:`summarize` uses for `outputs` outputs of `values` values each: one per task (two
    an output), one per core at most; one (the caller's) below :data:`THREADED_SUMMARY_MIN` values,
    where starting a pool costs more than the tasks (~20 ms against ~5 ms an output at 1e4)."""
    if values is not None and values < THREADED_SUMMARY_MIN:
        return 1
    return max(1, min(len(PARTS) * outputs, os.cpu_count() or 1))


def workspace_bytes(chains: int, draws: int) -> int:
    """Scratch memory one summary thread holds for an output of ``(chains, draws)`` float64 values:
    the pooled sample, the chains sorted at once (:func:`_rows_at_once`) and a block of HDI widths."""
    return chains * draws * 8 + _rows_at_once(draws, chains) * draws * 8 + min(chains * draws, HDI_BLOCK) * 8


ROWS_AT_ONCE = 2**18  # values of chains sorted at once by the chains part (one chain at least)


def _rows_at_once(draws: int, rows: int) -> int:
    """How many chains (rows of `draws`) of `rows` the chains part sorts at once: :data:`ROWS_AT_ONCE` values."""
    return max(1, min(rows, ROWS_AT_ONCE // max(draws, 1)))


def _scratch(scratch: dict, key: str, shape: tuple[int, ...]) -> np.ndarray:
    """``scratch[key]``, a float64 array of `shape` the thread reuses (made when missing or of another shape)."""
    array = scratch.get(key)
    if array is None or array.shape != shape:
        array = scratch[key] = np.empty(shape)
    return array


def _pooled_part(x, spec, scratch):
    """The statistics of one output's pooled ``(..., chain, draw)`` values (a pooled sample per leading
    index): means (and the chains' means, for their error), quantiles, whether it is an indicator, tail
    shape and HDIs, from one sort along the last axis into ``scratch["pooled"]``."""
    pooled = _scratch(scratch, "pooled", x.shape)
    probs, intervals = _probs(spec), spec.intervals
    lead = x.shape[:-2]
    logx = _log10(x, out=pooled)
    out = {"mean": np.stack([x.reshape(*lead, -1).mean(axis=-1), logx.reshape(*lead, -1).mean(axis=-1)], axis=-1),
           "mean_se": np.stack([chain_error(x.mean(axis=-1), -1), chain_error(logx.mean(axis=-1), -1)], axis=-1)}
    flat = pooled.reshape(*lead, -1)
    np.copyto(pooled, x)
    flat.sort(axis=-1)
    out["quant"] = sorted_quantiles(flat, probs)
    out["nonbinary"] = np.count_nonzero((flat == 0.0) | (flat == 1.0), axis=-1) < flat.shape[-1]
    out["tail"] = tail_shapes_of_sorted(flat)  # before log10 overwrites the sorted values
    linear = _hdi_rows(flat, intervals)
    out["hdi"] = np.stack([linear, _hdi_rows(_log10(flat, out=flat), intervals)], axis=-3)  # (..., scale, interval, 2)
    return out


def _hdi_rows(ordered, intervals) -> np.ndarray:
    """HDI bounds of each row of `ordered` (sorted along its last axis), shape (..., interval, 2)."""
    bounds = [np.stack(hdi_bounds(ordered, mass), axis=-1) for mass in intervals]
    return np.stack(bounds, axis=-2) if bounds else np.empty((*ordered.shape[:-1], 0, 2))


def _chains_part(x, spec, thresholds, scratch):
    """Each chain's quantiles, zeros, shares >= `thresholds` and HDIs (both scales) of ``(..., chain, draw)``
    values, :func:`_rows_at_once` chains at a time sorted into ``scratch["rows"]``."""
    *lead, chains, draws = x.shape
    rows = x.reshape(-1, draws)
    at_once = _rows_at_once(draws, rows.shape[0])
    buffer = _scratch(scratch, "rows", (at_once, draws))
    probs, intervals = _probs(spec), spec.intervals
    quant, hdi = np.empty((rows.shape[0], probs.size)), np.empty((rows.shape[0], 2, len(intervals), 2))
    zeros, at_least = np.empty(rows.shape[0], np.int64), np.empty((rows.shape[0], len(thresholds)))
    for start in range(0, rows.shape[0], at_once):
        stop = min(rows.shape[0], start + at_once)
        part = buffer[:stop - start]
        np.copyto(part, rows[start:stop])
        part.sort(axis=-1)
        quant[start:stop] = sorted_quantiles(part, probs)
        zeros[start:stop] = np.count_nonzero(part == 0.0, axis=-1)
        for j, t in enumerate(thresholds):  # NaN is not >= t, as ``x >= t`` says
            at_least[start:stop, j] = np.count_nonzero(part >= t, axis=-1) / draws
        hdi[start:stop, 0] = _hdi_rows(part, intervals)
        hdi[start:stop, 1] = _hdi_rows(_log10(part, out=part), intervals)

    def by_chain(a):  # (rows, ...) -> (..., chain, ...)
        return a.reshape(*lead, chains, *a.shape[1:])

    return {"shape": (chains, draws), "quant": np.ascontiguousarray(np.swapaxes(by_chain(quant), -1, -2)),
            "zeros": by_chain(zeros), "at_least": np.ascontiguousarray(np.swapaxes(by_chain(at_least), -1, -2)),
            "hdi": by_chain(hdi)}


THREADED_SUMMARY_MIN = 2**18  # values an output needs before its summary tasks go to threads
PARTS = ("pooled", "chains")  # the two tasks of an output, run on threads of their own where there are cores


def _part(name: str, x, spec, thresholds=(), scratch=None):
    """Part `name` (one of :data:`PARTS`) of one output's statistics."""
    scratch = scratch if scratch is not None else {}
    return _pooled_part(x, spec, scratch) if name == "pooled" else _chains_part(x, spec, thresholds, scratch)


def _from_parts(pooled, chains, spec, thresholds=(), batch=()):
    """One output's statistics, labelled by dims, from its two parts (:func:`_pooled_part`, :func:`_chains_part`);
    `batch` names the leading dims of the values they were computed from."""
    n_chains, draws = chains["shape"]
    quant, quant_se = _quantile_stats(pooled["quant"], chains["quant"])
    hdi_se = hdi_chain_error(chains["hdi"], -4)  # (..., chain, scale, interval, 2)
    k, k_se = pooled["tail"]
    out = {**_statistics(spec, pooled["mean"], pooled["mean_se"], quant, quant_se, pooled["hdi"], hdi_se, batch),
           **_zeros(chains["zeros"], np.full(n_chains, draws), pooled["nonbinary"], batch),
           "tail_shape": (batch, k), "tail_shape_se": (batch, k_se)}
    if len(thresholds):
        out["_at_least"] = chains["at_least"]  # (..., threshold, chain)
    return out


def _one_output(x, spec, thresholds=(), scratch=None, batch=()):
    """One output's statistics from its ``(..., chain, draw)`` values, in :func:`workspace_bytes` of scratch.

    Each chain is sorted once into a row of scratch, the pooled sample once into an
    array of the output's size; quantiles are read at their ranks (:func:`sorted_quantiles`)
    and log10 is taken in place of sorted copies (log10 keeps the order). Leading dims (named
    `batch`) are summarised along, each index on its own, the same numbers as one at a time. With
    `thresholds`, the per-chain shares of draws >= each are returned under ``"_at_least"``.
    `scratch` (``{"pooled": x.shape, "rows": (chains, draw)}``) lets a thread reuse its arrays.
    """
    x = np.asarray(x, dtype=float)
    scratch = scratch if scratch is not None else {}
    parts = {name: _part(name, x, spec, thresholds, scratch) for name in PARTS}
    return _from_parts(parts["pooled"], parts["chains"], spec, thresholds, batch)


ATTRS = {
    "mean": "mean (log10 scale: mean of log10, i.e. log10 of the geometric mean)",
    "mean_mcse": "Monte Carlo standard error of the mean",
    "quantile": "quantile",
    "quantile_mcse": "Monte Carlo standard error of the quantile",
    "eti_lower": "lower bound of the equal-tailed credible interval",
    "eti_upper": "upper bound of the equal-tailed credible interval",
    "hdi_lower": "lower bound of the highest-density interval",
    "hdi_upper": "upper bound of the highest-density interval",
    "eti_lower_mcse": "Monte Carlo standard error of eti_lower",
    "eti_upper_mcse": "Monte Carlo standard error of eti_upper",
    "hdi_lower_mcse": "Monte Carlo standard error of hdi_lower (chains' own HDIs, cube-root rate)",
    "hdi_upper_mcse": "Monte Carlo standard error of hdi_upper (chains' own HDIs, cube-root rate)",
    "prob_zero": "probability that the output is 0 (e.g. no instance meets the required speed)",
    "prob_zero_mcse": "Monte Carlo standard error of prob_zero",
    "binary": "every draw is 0 or 1 (an indicator: its mean is a probability)",
    "tail_shape": "generalized-Pareto shape k of the upper tail (PSIS, arviz.psislw); >= 0.5: variance "
                  "not finite, >= 1: mean not finite",
    "tail_shape_se": "asymptotic standard error of tail_shape, (1 + k) / sqrt(tail draws)",
    "prob_at_least": "probability that the main output >= threshold",
    "prob_at_least_mcse": "Monte Carlo standard error of prob_at_least",
}


def main_output(result: xr.Dataset) -> str:
    """The main output of a run: its ``main_output`` attr, else ``instances`` or its first output."""
    main = result.attrs.get("main_output")
    if isinstance(main, str) and main:
        return main
    outputs = [n for n in result.data_vars if result[n].attrs.get("role") == "output"]
    if "output" in result.coords:
        outputs = outputs or [str(o) for o in result["output"].values]
    return "instances" if "instances" in outputs else (outputs[0] if outputs else "instances")


def _spec_of(run: xr.Dataset) -> SummarySpec:
    """The experiment's ``[summary]`` as saved with the run, or the defaults."""
    try:
        return SummarySpec(**{k: tuple(v) for k, v in json.loads(run.attrs["summary_spec"]).items()})
    except (KeyError, TypeError, ValueError):
        return SummarySpec()


def summarize(run: xr.Dataset, spec: SummarySpec | None = None, *, threads: int | None = None) -> xr.Dataset:
    """Summarise the outputs of a run.

    Parameters
    ----------
    run : xarray.Dataset
        A result of :func:`~overhang_sim.simulation.simulate` (dims ``chain``, ``draw``).
    spec : SummarySpec, optional
        Outputs, quantiles, interval masses and thresholds of the main output; by
        default the experiment's ``[summary]`` (saved with the run), else the
        5/25/50/75/95 % quantiles, 50 % and 90 % intervals and P(main >= 1e5, 1e6,
        1e7, 1e8).
    threads : int, optional
        Threads running the tasks (two an output: its pooled sample and its chains); default
        :func:`summary_threads`; 1 runs them in this thread. Never changes the result.

    Returns
    -------
    xarray.Dataset
        Dims ``output``, ``scale`` (``linear``, ``log10``), ``prob`` (of the quantiles),
        ``interval`` and ``threshold``; each statistic has a ``*_mcse`` partner
        (its Monte Carlo standard error, between chains). Values on the linear
        scale are in each output's ``unit`` (a coordinate along ``output``).

    Raises
    ------
    ConfigError
        If the run has no outputs, or lacks one `spec` asks for.
    """
    spec = spec or _spec_of(run)
    available = [n for n in run.data_vars if run[n].attrs.get("role") == "output"]
    if not available:
        raise ConfigError("the result has no outputs (no variable with role = 'output'); is it an "
                          "overhang-sim run?", key="outputs")
    outputs = list(spec.outputs) or [n for n in DEFAULT_OUTPUTS if n in available] or available
    missing = [n for n in outputs if n not in available]
    if missing:
        raise ConfigError(f"the run has no output named {missing[0]!r}; it has {', '.join(available)}",
                          key="outputs")
    main = main_output(run)
    thresholds = tuple(spec.thresholds) if main in available else ()
    batch = tuple(d for d in run[outputs[0]].dims if d not in ("chain", "draw"))
    local = threading.local()  # each thread's scratch arrays, reused for its next task

    def values(name):  # kept samples, (*batch, chain, draw), C-ordered (a view when they are): sums in one order
        return np.ascontiguousarray(run[name].transpose(*batch, "chain", "draw").values, dtype=float)

    def one(task):
        name, part = task
        if not hasattr(local, "scratch"):
            local.scratch = {}
        return _part(part, values(name), spec, thresholds if name == main else (), local.scratch)

    tasks = [(name, part) for name in outputs for part in PARTS]
    if threads is None:
        threads = summary_threads(len(outputs), math.prod(run[outputs[0]].shape))
    if threads < 1:
        raise ValueError(f"threads must be >= 1, not {threads}")
    if threads == 1:
        parts = {task: one(task) for task in tasks}
    else:
        pool = ThreadPoolExecutor(max_workers=threads)
        try:
            parts = dict(zip(tasks, pool.map(one, tasks), strict=True))
        finally:  # on Ctrl-C, the tasks not yet started are dropped rather than run
            pool.shutdown(wait=True, cancel_futures=True)
    local = None  # this thread's scratch arrays go before the Dataset is built
    per_output = [_from_parts(parts[(n, "pooled")], parts[(n, "chains")], spec, thresholds if n == main else (),
                              batch) for n in outputs]
    exceedance = None
    if thresholds:
        shares = [p.pop("_at_least") for p in per_output if "_at_least" in p]
        exceedance = _exceedance_stats(shares[0]) if shares else _exceedance(values(main), thresholds)
    meta = {n: (run[n].attrs.get("units", ""), run[n].attrs.get("long_name", n)) for n in outputs}
    return _summary_dataset(per_output, exceedance, spec, outputs, meta, {**run.attrs, "main_output": main}, batch)


def _summary_dataset(per_output, exceedance, spec, outputs, meta, attrs, batch=()):
    """Label the per-output statistics (one dict each) as a summary Dataset; `batch` names their
    leading dims, which come before ``output``."""
    lead = len(batch)
    data = {
        key: ((*batch, "output", *per_output[0][key][0][lead:]), np.stack([p[key][1] for p in per_output], axis=lead))
        for key in per_output[0]
    }
    if exceedance is not None:
        data["prob_at_least"] = ((*batch, "threshold"), exceedance[0])
        data["prob_at_least_mcse"] = ((*batch, "threshold"), exceedance[1])
    coords = {
        "output": outputs,
        "scale": list(SCALES),
        "prob": list(spec.quantiles),
        "interval": list(spec.intervals),
        "threshold": list(spec.thresholds),
        "unit": ("output", [meta[n][0] for n in outputs]),
        "long_name": ("output", [meta[n][1] for n in outputs]),
    }
    summary = xr.Dataset(data, coords=coords)
    for key, text in ATTRS.items():
        if key in summary:
            summary[key].attrs["long_name"] = text
    keep = ("experiment_name", "experiment_sha256", "model", "main_output", "method", "seed", "samples",
            "chains", "overhang_sim_version")
    summary.attrs = {k: attrs[k] for k in keep if k in attrs}
    return summary


# --------------------------------------------------------------------------- streamed


def block_part(x: np.ndarray, alpha: float, thresholds=()) -> dict:
    """What one block of one output's draws contributes to a streamed summary.

    Returns
    -------
    dict
        ``n``; ``sum`` and ``log10_sum`` of the block; ``at_least``, exact counts of
        values >= each threshold; and the block's quantile sketch (relative accuracy
        `alpha`) as ``sketch/...`` arrays. :func:`merge_parts` adds blocks up.
    """
    x = np.asarray(x, dtype=float)
    arrays = sk.sketch(x, alpha).to_arrays()
    return {"n": np.int64(x.size), "sum": np.float64(np.sum(x)), "log10_sum": np.float64(np.sum(_log10(x))),
            "at_least": np.array([np.count_nonzero(x >= t) for t in thresholds], dtype=np.int64),
            "zeros": np.int64(np.count_nonzero(x == 0)), "nonbinary": np.int64(np.count_nonzero((x != 0) & (x != 1))),
            **{f"sketch/{k}": v for k, v in arrays.items()}}


def merge_parts(parts: list[dict]) -> dict:
    """Blocks' (or chains') parts added up: counts and sketches exactly, sums by :func:`math.fsum`.

    Every step is exact or correctly rounded, so the result does not depend on the
    order of `parts`; with a fixed block size it does not depend on how they were
    grouped either.
    """
    merged = sk.merge_all(_sketch_of(p) for p in parts).to_arrays()
    return {"n": np.int64(sum(int(p["n"]) for p in parts)),
            "sum": np.float64(math.fsum(float(p["sum"]) for p in parts)),
            "log10_sum": np.float64(math.fsum(float(p["log10_sum"]) for p in parts)),
            "at_least": np.sum([p["at_least"] for p in parts], axis=0, dtype=np.int64),
            **{k: np.int64(sum(int(p.get(k, k == "nonbinary")) for p in parts)) for k in ("zeros", "nonbinary")},
            **{f"sketch/{k}": v for k, v in merged.items()}}


def _sketch_of(part):
    return sk.from_arrays({k.removeprefix("sketch/"): v for k, v in part.items() if k.startswith("sketch/")})


def block_rows(x: np.ndarray, alpha: float, thresholds=()) -> dict:
    """:func:`block_part` of each row of `x` ``(rows, n)`` (one block of several scenarios' draws) at once.

    Returns
    -------
    dict
        The same numbers as ``block_part(x[r], ...)`` for each row ``r``, as arrays with a first
        dim of rows (``at_least`` ``(rows, threshold)``), and the sketches as one
        :class:`~overhang_sim.sketch.Sketches` under ``sketch``. :func:`merge_row_parts` adds blocks up.
    """
    x = np.asarray(x, dtype=float)
    at_least = [np.count_nonzero(x >= t, axis=-1) for t in thresholds]
    return {"n": np.full(x.shape[0], x.shape[1], np.int64), "sum": np.sum(x, axis=-1),
            "log10_sum": np.sum(_log10(x), axis=-1),
            "at_least": np.stack(at_least, axis=-1).astype(np.int64) if at_least else np.zeros((x.shape[0], 0), np.int64),
            "zeros": np.count_nonzero(x == 0, axis=-1).astype(np.int64),
            "nonbinary": np.count_nonzero((x != 0) & (x != 1), axis=-1).astype(np.int64),
            "sketch": sk.sketch_rows(x, alpha)}


def merge_row_parts(parts: list[dict]) -> dict:
    """:func:`merge_parts` row by row of parts made by :func:`block_rows` (or :func:`_rows_of`), the same numbers."""
    sums = {key: np.array([math.fsum(float(p[key][r]) for p in parts) for r in range(parts[0]["n"].size)])
            for key in ("sum", "log10_sum")}
    return {"n": np.sum([p["n"] for p in parts], axis=0, dtype=np.int64), **sums,
            **{k: np.sum([p[k] for p in parts], axis=0, dtype=np.int64) for k in ("at_least", "zeros", "nonbinary")},
            "sketch": sk.merge_rows([p["sketch"] for p in parts])}


def part_rows(part: dict, start: int, stop: int) -> dict:
    """Rows `start` to `stop` of a part of :func:`block_rows` (views of its arrays where they can be)."""
    return {k: sk.row_range(v, start, stop) if k == "sketch" else v[start:stop] for k, v in part.items()}


def _rows_of(parts: list[dict]) -> dict:
    """Parts of :func:`block_part` or :func:`merge_parts` (one a row) as the rows of one part of :func:`block_rows`."""
    return {"n": np.array([int(p["n"]) for p in parts], np.int64),
            **{k: np.array([float(p[k]) for p in parts]) for k in ("sum", "log10_sum")},
            "at_least": np.stack([np.asarray(p["at_least"], np.int64) for p in parts]),
            "zeros": np.array([int(p.get("zeros", 0)) for p in parts], np.int64),
            "nonbinary": np.array([int(p.get("nonbinary", 1)) for p in parts], np.int64),
            "sketch": sk.stack([_sketch_of(p) for p in parts])}


def _streamed_output(chains: list[dict], spec, batch=()):
    """Statistics of one output of several runs (rows) from its chains' parts, one :func:`block_rows`
    part a chain with a row a run: every array has a first dim of rows, named by `batch`."""
    probs = _probs(spec)
    rows, n_chains = chains[0]["n"].size, len(chains)
    both = (None, _log10)  # HDIs on both scales, with the quantiles from one histogram of each sketch
    pooled = sk.merge_rows([ch["sketch"] for ch in chains])
    quant, hdi = sk.quantiles_and_hdis_rows(pooled, probs, spec.intervals, both)  # (row, prob), (row, scale, interval, 2)
    chain_quant, chain_hdi = sk.quantiles_and_hdis_rows(sk.concat([ch["sketch"] for ch in chains]), probs,
                                                        spec.intervals, both)  # rows (chain, row)
    per_chain = np.ascontiguousarray(np.moveaxis(chain_quant.reshape(n_chains, rows, -1), 0, -1))  # (row, prob, chain)
    # The per-chain quantiles move in steps of a sketch bucket, so with many draws their spread
    # understates the error; the bucket's own uncertainty (uniform within +-alpha) is a floor.
    alpha = pooled.alpha
    resolution = np.stack([alpha * np.abs(quant), np.full_like(quant, np.log10(1 + alpha))], axis=-2)
    quant = np.stack([quant, _log10(quant)], axis=-2)  # (row, scale, prob)
    quant_se = np.stack([chain_error(per_chain, -1), chain_error(_log10(per_chain), -1)], axis=-2)
    with np.errstate(invalid="ignore"):
        quant_se = np.fmax(quant_se, resolution / np.sqrt(3))
    n = np.stack([ch["n"] for ch in chains], axis=-1).astype(float)  # (row, chain)
    sums = [np.stack([ch[key] for ch in chains], axis=-1) for key in ("sum", "log10_sum")]
    mean = np.array([[math.fsum(s[r]) for s in sums] for r in range(rows)]).reshape(rows, 2) / n.sum(axis=-1)[:, None]
    mean_se = np.stack([chain_error(s / n, -1) for s in sums], axis=-1)
    hdi_chains = np.ascontiguousarray(np.moveaxis(chain_hdi.reshape(n_chains, rows, *chain_hdi.shape[1:]), 0, 1))
    hdi_se = hdi_chain_error(hdi_chains, 1)  # from the chains' own HDIs
    zeros = _zeros(np.stack([ch["zeros"] for ch in chains], axis=-1), n,
                   np.sum([ch["nonbinary"] for ch in chains], axis=0), batch)
    return {**_statistics(spec, mean, mean_se, quant, quant_se, hdi, hdi_se, batch), **zeros}


def summary_from_parts(parts: dict, spec: SummarySpec, meta: dict, attrs: dict) -> xr.Dataset:
    """The summary of a streamed run: `parts` maps each output to its chains' merged parts.

    Quantiles, intervals and their errors come from the sketches (relative error
    ``alpha`` in value); a quantile's reported error is at least the sketch's own,
    ``alpha |q| / sqrt(3)``. Means and exceedance probabilities are exact.
    """
    rows = {o: [_rows_of([p]) for p in chains] for o, chains in parts.items()}
    per_output, exceedance = _streamed_statistics(rows, spec, attrs, ("_run",))
    per_output = [{key: (dims[1:], value[0]) for key, (dims, value) in stats.items()} for stats in per_output]
    exceedance = None if exceedance is None else tuple(e[0] for e in exceedance)
    return _summary_dataset(per_output, exceedance, spec, list(parts), meta, attrs)


def summaries_from_parts(parts: list[dict], spec: SummarySpec, meta: dict, attrs: dict,
                         dim: str = "scenario_index") -> xr.Dataset:
    """:func:`summary_from_parts` of several streamed runs with the same outputs, stacked along a first dim `dim`:
    the same numbers, labelled once (one Dataset for a group of scenarios rather than one each)."""
    rows = {o: [_rows_of([p[o][c] for p in parts]) for c in range(len(parts[0][o]))] for o in parts[0]}
    return summaries_from_rows(rows, spec, meta, attrs, dim)


def summaries_from_rows(parts: dict[str, list[dict]], spec: SummarySpec, meta: dict, attrs: dict,
                        dim: str = "scenario_index") -> xr.Dataset:
    """:func:`summaries_from_parts` from each output's chains' parts of :func:`block_rows` (a row a run):
    every run's statistics in one pass of numpy calls, the same numbers as each run's own summary."""
    per_output, exceedance = _streamed_statistics(parts, spec, attrs, (dim,))
    return _summary_dataset(per_output, exceedance, spec, list(parts), meta, attrs, (dim,))


def _streamed_statistics(parts: dict, spec: SummarySpec, attrs: dict, batch):
    """Per-output statistics (a dict each, as :func:`_streamed_output`) and the exceedance of the main output,
    each with a first dim of rows named by `batch`; `parts` maps outputs to their chains' row parts."""
    per_output = [_streamed_output(parts[o], spec, batch) for o in parts]
    exceedance = None
    main = attrs.get("main_output", "instances")
    if main in parts and spec.thresholds:
        chains = parts[main]
        counts = np.stack([p["at_least"] for p in chains], axis=-1).astype(float)  # (row, threshold, chain)
        n = np.stack([p["n"] for p in chains], axis=-1).astype(float)  # (row, chain)
        exceedance = (counts.sum(axis=-1) / n.sum(axis=-1)[:, None], chain_error(counts / n[:, None, :], -1))
    return per_output, exceedance


# --------------------------------------------------------------------------- paired comparisons


def compare(result: xr.Dataset, a: dict, b: dict, output: str | None = None) -> dict:
    """P(A > B) and the median of log10(A / B) for two scenarios of a run with samples.

    Scenarios of one file share their draws (common random numbers, with every
    method), so the comparison is paired draw by draw.

    Parameters
    ----------
    result : xarray.Dataset
        A :func:`overhang_sim.batch.run` result with samples.
    a, b : dict
        Axis values selecting one scenario each, e.g. ``{"required_tokens_per_s": 10}``.
    output : str, optional
        The output compared (default: the main output).

    Returns
    -------
    dict
        ``p_a_greater`` and ``median_log10_ratio`` (orders of magnitude), each with
        its Monte Carlo standard error (between chains), and ``paired`` (True).
    """
    output = output or main_output(result)
    if output not in result or "draw" not in result[output].dims:
        raise ConfigError(f"the result has no samples of {output!r}; run with samples kept", key="compare")
    try:
        xa, xb = result[output].sel(a), result[output].sel(b)
    except (KeyError, ValueError) as error:
        raise ConfigError(f"no scenario matches: {error}", key="compare") from None
    if set(xa.dims) != {"chain", "draw"} or set(xb.dims) != {"chain", "draw"}:
        raise ConfigError("each side must select exactly one scenario (give a value for every axis)",
                          key="compare")
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.log10(xa.transpose("chain", "draw").values) - np.log10(xb.transpose("chain", "draw").values)
    greater = (ratio > 0).mean(axis=1)
    medians = np.median(ratio, axis=1)
    return {"p_a_greater": float((ratio > 0).mean()), "p_a_greater_mcse": float(chain_error(greater)),
            "median_log10_ratio": float(np.median(ratio)), "median_log10_ratio_mcse": float(chain_error(medians)),
            "output": output}
