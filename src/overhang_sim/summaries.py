"""Run Dataset -> summary Dataset: quantiles, intervals, exceedance, Monte Carlo error.

Every figure is given on two scales: ``linear`` and ``log10`` (orders of
magnitude). Monte Carlo standard errors come from the spread between chains,
``sd(per-chain estimates) / sqrt(chains)``, which is honest for plain Monte Carlo
and for randomised QMC alike; with a single chain they are NaN.

Each output is sorted once: the highest-density intervals on both scales come from
that one sorted copy (log10 keeps the order) by the algorithm of
:func:`arviz.hdi`, which would sort again on every call (four sorts per output, most
of the time at 1e7 samples); the tests check the two agree exactly. Outputs are
summarised in parallel threads (numpy releases the GIL while it sorts).
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import xarray as xr

from . import sketch as sk
from .config import SummarySpec

__all__ = ["DEFAULT_OUTPUTS", "block_part", "chain_error", "hdi_of_sorted", "merge_parts", "summarize", "summary_from_parts"]

DEFAULT_OUTPUTS = ("instances", "cluster_tokens_per_s", "tokens_per_gpu_s", "params",
                   "serial_speedup", "tasks_per_day", "human_to_model_data_ratio",
                   "human_training_bits", "model_training_bits", "usd_per_pflops_day")
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


def _log10(x):
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log10(x)


def _quantiles(x, probs):
    """Pooled quantiles and their errors on both scales; x has dims (chain, draw)."""
    pooled = np.quantile(x, probs)
    per_chain = np.quantile(x, probs, axis=1)  # (prob, chain)
    return (np.stack([pooled, _log10(pooled)]),
            np.stack([chain_error(per_chain, 1), chain_error(_log10(per_chain), 1)]))


def _means(x, logx):
    return (np.array([x.mean(), logx.mean()]),
            np.array([chain_error(x.mean(axis=1)), chain_error(logx.mean(axis=1))]))


def hdi_of_sorted(ordered: np.ndarray, mass: float) -> tuple[float, float]:
    """Narrowest interval holding `mass` of the sorted sample `ordered`.

    The algorithm of :func:`arviz.hdi` (``k = floor(mass * n)``; the ``i`` that
    minimises ``ordered[i + k] - ordered[i]``) without its sort. A constant sample
    gives its value at both ends; a sample with NaN or inf gives NaN.
    """
    if ordered[0] == ordered[-1]:
        return float(ordered[0]), float(ordered[0])
    if not (np.isfinite(ordered[0]) and np.isfinite(ordered[-1])):
        return np.nan, np.nan
    n = len(ordered)
    k = int(np.floor(mass * n))
    i = int(np.argmin(ordered[k:] - ordered[: n - k]))
    return float(ordered[i]), float(ordered[i + k])


def _hdi(x, intervals):
    """HDI bounds on both scales, shape (scale, interval, 2)."""
    ordered = np.sort(x, axis=None)
    scales = (ordered, _log10(ordered))
    return np.array([[hdi_of_sorted(values, mass) for mass in intervals] for values in scales])


def _exceedance(x, thresholds):
    per_chain = np.stack([(x >= t).mean(axis=1) for t in thresholds])  # (threshold, chain)
    return per_chain.mean(axis=1), chain_error(per_chain, 1)


def _probs(spec):
    """The quantiles asked for, then the tails of each interval (for the equal-tailed ones)."""
    tails = [p for i in spec.intervals for p in ((1 - i) / 2, (1 + i) / 2)]
    return np.array([*spec.quantiles, *tails])


def _statistics(spec, mean, mean_se, quant, quant_se, hdi):
    """One output's statistics, labelled by dims; `quant` holds :func:`_probs` on both scales."""
    n = len(spec.quantiles)
    eti = quant[:, n:].reshape(2, -1, 2)
    return {
        "mean": (("scale",), mean),
        "mean_mcse": (("scale",), mean_se),
        "quantile": (("scale", "prob"), quant[:, :n]),
        "quantile_mcse": (("scale", "prob"), quant_se[:, :n]),
        "eti_lower": (("scale", "interval"), eti[..., 0]),
        "eti_upper": (("scale", "interval"), eti[..., 1]),
        "hdi_lower": (("scale", "interval"), hdi[..., 0]),
        "hdi_upper": (("scale", "interval"), hdi[..., 1]),
    }


def _one_output(x, spec):
    quant, quant_se = _quantiles(x, _probs(spec))
    mean, mean_se = _means(x, _log10(x))
    return _statistics(spec, mean, mean_se, quant, quant_se, _hdi(x, spec.intervals))


ATTRS = {
    "mean": "mean (log10 scale: mean of log10, i.e. log10 of the geometric mean)",
    "mean_mcse": "Monte Carlo standard error of the mean",
    "quantile": "quantile",
    "quantile_mcse": "Monte Carlo standard error of the quantile",
    "eti_lower": "lower bound of the equal-tailed credible interval",
    "eti_upper": "upper bound of the equal-tailed credible interval",
    "hdi_lower": "lower bound of the highest-density interval",
    "hdi_upper": "upper bound of the highest-density interval",
    "prob_at_least": "probability that instances >= threshold",
    "prob_at_least_mcse": "Monte Carlo standard error of prob_at_least",
}


def summarize(run: xr.Dataset, spec: SummarySpec | None = None) -> xr.Dataset:
    """Summarise the outputs of a run.

    Parameters
    ----------
    run : xarray.Dataset
        A result of :func:`~overhang_sim.simulate.simulate` (dims ``chain``, ``draw``).
    spec : SummarySpec, optional
        Outputs, quantiles, interval masses and instance thresholds; the defaults
        give the 5/25/50/75/95 % quantiles, 50 % and 90 % intervals and
        P(instances >= 1e5, 1e6, 1e7, 1e8).

    Returns
    -------
    xarray.Dataset
        Dims ``output``, ``scale`` (``linear``, ``log10``), ``prob`` (of the quantiles),
        ``interval`` and ``threshold``; each statistic has a ``*_mcse`` partner
        where one is defined. Values on the linear scale are in each output's
        ``unit`` (a coordinate along ``output``).
    """
    spec = spec or SummarySpec()
    available = [n for n in run.data_vars if run[n].attrs.get("role") == "output"]
    outputs = list(spec.outputs) or [n for n in DEFAULT_OUTPUTS if n in available]
    missing = [n for n in outputs if n not in available]
    if missing:
        raise KeyError(f"the run has no output named {missing[0]!r}")
    with ThreadPoolExecutor(max_workers=min(len(outputs), os.cpu_count() or 1)) as pool:
        per_output = list(pool.map(lambda n: _one_output(run[n].transpose("chain", "draw").values, spec),
                                   outputs))
    exceedance = None
    if "instances" in run.data_vars and spec.thresholds:
        exceedance = _exceedance(run["instances"].transpose("chain", "draw").values, spec.thresholds)
    meta = {n: (run[n].attrs.get("units", ""), run[n].attrs.get("long_name", n)) for n in outputs}
    return _summary_dataset(per_output, exceedance, spec, outputs, meta, run.attrs)


def _summary_dataset(per_output, exceedance, spec, outputs, meta, attrs):
    """Label the per-output statistics (one dict each) as a summary Dataset."""
    data = {
        key: (("output", *per_output[0][key][0]), np.stack([p[key][1] for p in per_output]))
        for key in per_output[0]
    }
    if exceedance is not None:
        data["prob_at_least"] = (("threshold",), exceedance[0])
        data["prob_at_least_mcse"] = (("threshold",), exceedance[1])
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
    keep = ("experiment_name", "experiment_sha256", "model", "method", "seed", "samples", "chains",
            "overhang_sim_version")
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
            **{f"sketch/{k}": v for k, v in merged.items()}}


def _sketch_of(part):
    return sk.from_arrays({k.removeprefix("sketch/"): v for k, v in part.items() if k.startswith("sketch/")})


def _streamed_output(parts, spec):
    """Statistics of one output from its chains' parts (see :func:`block_part`)."""
    probs = _probs(spec)
    sketches = [_sketch_of(p) for p in parts]
    pooled = sk.merge_all(sketches)
    per_chain = np.stack([sk.quantile(s, probs) for s in sketches], axis=1)  # (prob, chain)
    quant = sk.quantile(pooled, probs)
    # The per-chain quantiles move in steps of a sketch bucket, so with many draws their spread
    # understates the error; the bucket's own uncertainty (uniform within +-alpha) is a floor.
    resolution = np.stack([pooled.alpha * np.abs(quant), np.full_like(quant, np.log10(1 + pooled.alpha))])
    quant = np.stack([quant, _log10(quant)])
    quant_se = np.stack([chain_error(per_chain, 1), chain_error(_log10(per_chain), 1)])
    with np.errstate(invalid="ignore"):
        quant_se = np.fmax(quant_se, resolution / np.sqrt(3))
    n = np.array([float(p["n"]) for p in parts])
    sums = np.array([[float(p["sum"]) for p in parts], [float(p["log10_sum"]) for p in parts]])
    mean = np.array([math.fsum(sums[0]), math.fsum(sums[1])]) / n.sum()
    mean_se = np.array([chain_error(sums[0] / n), chain_error(sums[1] / n)])
    hdi = np.array([[sk.hdi(pooled, m, transform=t) for m in spec.intervals] for t in (None, _log10)])
    return _statistics(spec, mean, mean_se, quant, quant_se, hdi)


def summary_from_parts(parts: dict, spec: SummarySpec, meta: dict, attrs: dict) -> xr.Dataset:
    """The summary of a streamed run: `parts` maps each output to its chains' merged parts.

    Quantiles, intervals and their errors come from the sketches (relative error
    ``alpha`` in value); a quantile's reported error is at least the sketch's own,
    ``alpha |q| / sqrt(3)``. Means and exceedance probabilities are exact.
    """
    outputs = list(parts)
    per_output = [_streamed_output(parts[o], spec) for o in outputs]
    exceedance = None
    if "instances" in parts and spec.thresholds:
        chains = parts["instances"]
        counts = np.stack([p["at_least"] for p in chains], axis=1).astype(float)  # (threshold, chain)
        n = np.array([float(p["n"]) for p in chains])
        exceedance = (counts.sum(axis=1) / n.sum(), chain_error(counts / n, 1))
    return _summary_dataset(per_output, exceedance, spec, outputs, meta, attrs)
