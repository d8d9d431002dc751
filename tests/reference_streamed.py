"""The streamed summary as it was before the row rewrite: one Sketch object per chain and block,
merged and read one at a time (``sketch.quantiles_and_hdis`` per sketch).

tests/test_summaries.py checks that ``summaries.summary_from_parts`` and ``summaries_from_rows``
give these numbers bit for bit.
"""

from __future__ import annotations

import math

import numpy as np

from overhang_sim import sketch as sk
from overhang_sim.summaries import _log10, _probs, _sketch_of, _statistics, _zeros, chain_error, hdi_chain_error


def one_output(parts, spec):
    """Statistics of one output from its chains' parts (``summaries.block_part`` / ``merge_parts``)."""
    probs = _probs(spec)
    sketches = [_sketch_of(p) for p in parts]
    pooled = sk.merge_all(sketches)
    both = (None, _log10)
    quant, hdi = sk.quantiles_and_hdis(pooled, probs, spec.intervals, both)
    chains = [sk.quantiles_and_hdis(s, probs, spec.intervals, both) for s in sketches]
    per_chain = np.stack([q for q, _ in chains], axis=1)  # (prob, chain)
    resolution = np.stack([pooled.alpha * np.abs(quant), np.full_like(quant, np.log10(1 + pooled.alpha))])
    quant = np.stack([quant, _log10(quant)])
    quant_se = np.stack([chain_error(per_chain, 1), chain_error(_log10(per_chain), 1)])
    with np.errstate(invalid="ignore"):
        quant_se = np.fmax(quant_se, resolution / np.sqrt(3))
    n = np.array([float(p["n"]) for p in parts])
    sums = np.array([[float(p["sum"]) for p in parts], [float(p["log10_sum"]) for p in parts]])
    mean = np.array([math.fsum(sums[0]), math.fsum(sums[1])]) / n.sum()
    mean_se = np.array([chain_error(sums[0] / n), chain_error(sums[1] / n)])
    hdi_se = hdi_chain_error(np.stack([h for _, h in chains]), 0)
    zeros = _zeros([int(p.get("zeros", 0)) for p in parts], n, sum(int(p.get("nonbinary", 1)) for p in parts))
    return {**_statistics(spec, mean, mean_se, quant, quant_se, hdi, hdi_se), **zeros}


def exceedance(parts):
    """P(main >= t) and its error from the main output's chains' parts."""
    counts = np.stack([p["at_least"] for p in parts], axis=1).astype(float)  # (threshold, chain)
    n = np.array([float(p["n"]) for p in parts])
    return counts.sum(axis=1) / n.sum(), chain_error(counts / n, 1)
