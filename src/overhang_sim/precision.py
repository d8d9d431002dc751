"""Run until precise enough: add chains until the main output's Monte Carlo errors meet a target.

Each round runs the scenarios with more chains of the same length. Chain ``c``
depends only on the seed, its number and the draws per chain
(:func:`~overhang_sim.simulation.chain_design`), so the chains of earlier rounds are
reused, never drawn again, and the result is exactly a plain run with the final
number of chains (``--chains C --samples C * draws``): the model is evaluated on
those draws and no others.

The rule stops when, in every scenario,

* every reported quantile of log10(main output) (the summary's quantiles and the
  bounds of its equal-tailed intervals) has a Monte Carlo standard error at most
  `quantile` orders of magnitude, and
* every P(main >= t) at the summary's thresholds has one at most `prob`,

or when the next round would pass `max_samples` per scenario. The errors are the
package's (the spread between chains over sqrt(chains)); an error that is not a
number (a quantile inside an atom at 0) is left out of the rule. After a round
that misses, the chains needed are predicted from the 1/sqrt(samples) law with a
10 % margin, at least one chain more and at most :data:`MAX_GROWTH` times as many.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
import xarray as xr

from .errors import ConfigError

__all__ = ["DEFAULT_MAX_SAMPLES", "DEFAULT_PROB", "MAX_GROWTH", "PrecisionTarget", "achieved_errors",
           "chains_needed", "run_until_precise"]

DEFAULT_PROB = 0.005  # absolute MCSE of each P(main >= t)
DEFAULT_MAX_SAMPLES = 10**8  # per scenario
MAX_GROWTH = 16  # at most this many times the chains of the round before
MARGIN = 1.1


@dataclass(frozen=True)
class PrecisionTarget:
    """What "precise enough" means.

    Parameters
    ----------
    quantile : float
        Largest MCSE of a reported quantile of log10(main output), in orders of magnitude.
    prob : float
        Largest MCSE of each P(main >= t), a probability.
    max_samples : int
        Budget: samples per scenario the rule may reach.
    """

    quantile: float
    prob: float = DEFAULT_PROB
    max_samples: int = DEFAULT_MAX_SAMPLES

    def __post_init__(self):
        for key, value in (("precision", self.quantile), ("precision_prob", self.prob)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < math.inf:
                raise ConfigError(f"must be a positive number, not {value!r}", key=key)
        if isinstance(self.max_samples, bool) or not isinstance(self.max_samples, int) or self.max_samples < 1:
            raise ConfigError(f"must be a positive whole number, not {self.max_samples!r}", key="max_samples")


def _worst(values: xr.DataArray) -> float:
    finite = values.values[np.isfinite(values.values)]
    return float(finite.max()) if finite.size else 0.0


def achieved_errors(result: xr.Dataset, main: str) -> dict[str, float]:
    """The largest MCSE of the quantiles of log10(`main`) and of its P(>= t), over every scenario.

    Returns
    -------
    dict
        ``{"quantile": orders of magnitude, "prob": probability}``; 0 where there is nothing to measure.
    """
    log = {"output": main, "scale": "log10"}
    quantile = max([_worst(result[v].sel(log)) for v in ("quantile_mcse", "eti_lower_mcse", "eti_upper_mcse")
                    if v in result] or [0.0])
    prob = 0.0
    if "prob_at_least_mcse" in result:  # thresholds are of the main output only
        found = result["prob_at_least_mcse"]
        prob = _worst(found.sel(output=main) if "output" in found.dims else found)
    return {"quantile": quantile, "prob": prob}


def chains_needed(chains: int, errors: dict[str, float], target: PrecisionTarget) -> int:
    """Chains the 1/sqrt(samples) law says meet `target`, given `errors` with `chains` (at least chains + 1)."""
    ratio = max(errors["quantile"] / target.quantile, errors["prob"] / target.prob)
    wanted = math.ceil(chains * MARGIN * ratio**2)
    return int(min(max(wanted, chains + 1), chains * MAX_GROWTH))


def _met(errors: dict[str, float], target: PrecisionTarget) -> bool:
    return errors["quantile"] <= target.quantile and errors["prob"] <= target.prob


def _with_chains(scenarios, chains: int, draws: int):
    experiments = tuple(dataclasses.replace(e, chains=chains, samples=chains * draws) for e in scenarios.experiments)
    return dataclasses.replace(scenarios, experiments=experiments)


class _Chains(dict):
    """Finished chains by (scenario, chain), in memory and, with a checkpoint, on disk too."""

    def __init__(self, saved):
        super().__init__()
        self.saved = saved

    def get(self, key, default=None):
        if key not in self:
            found = self.saved.load(("chain", key))
            if found is None:
                return default
            super().__setitem__(key, found)
        return self[key]

    def __setitem__(self, key, value):
        super().__setitem__(key, value)
        self.saved.save(("chain", key), value)


def _checkpoint(scenarios, seed, keep, draws, out, resume):
    """Where finished chains are kept for ``resume``: ``OUT.partial``, fingerprinted by draws per chain, not chains."""
    from .batch import _fingerprint, _Saved
    from .storage import Checkpoint

    if not out:
        return None, _Saved(None)
    fingerprint = {**_fingerprint(_with_chains(scenarios, 1, draws), seed, keep), "precision_draws_per_chain": draws}
    box = Checkpoint(f"{out}.partial", fingerprint, resume, scenarios.path)
    return box, _Saved(box)


def run_until_precise(scenarios, target: PrecisionTarget, *, seed: int | None = None,
                      keep_samples: bool | None = None, executor=None, quiet: bool = True,
                      out: str | None = None, resume: bool = False, overwrite: bool = False) -> xr.Dataset:
    """Run `scenarios`, adding chains until the main output's errors meet `target` or the budget ends.

    Parameters
    ----------
    scenarios : ScenarioSet
        As for :func:`~overhang_sim.batch.run`; its chains and samples are the first round.
    target : PrecisionTarget
    seed, executor, quiet
        As for :func:`~overhang_sim.batch.run`.
    out : path, optional
        Save the result here; meanwhile every finished chain is kept in ``OUT.partial``,
        removed once the result is saved.
    resume : bool
        Continue from the chains saved in ``OUT.partial`` (the rounds are replayed
        from them, so they choose the same chains).
    overwrite : bool
        Replace an existing `out`; without it an existing `out` is refused before
        anything runs.
    keep_samples : bool, optional
        Decided once, for the whole budget (default: keep them when `max_samples`
        per scenario fit in :data:`~overhang_sim.batch.KEEP_SAMPLES_BYTES`, or the file
        has a weighted axis), so every round reduces its chains the same way.

    Returns
    -------
    xarray.Dataset
        The result of :func:`~overhang_sim.batch.run` with the final chains, with root
        attrs ``precision_target``, ``precision_prob_target``, ``precision_max_samples``,
        ``precision_quantile_mcse`` and ``precision_prob_mcse`` (achieved),
        ``precision_met`` (1 or 0), ``precision_rounds`` and ``precision_samples``
        (per scenario; the model was evaluated on exactly these draws).
    """
    from . import batch
    from .simulation import result_bytes

    base = scenarios.base
    draws = base.draws
    if any(e.draws != draws for e in scenarios.experiments):
        raise ConfigError("the scenarios have different draws per chain; give them one samples and chains",
                          key="samples", file=scenarios.path)
    if keep_samples is None and scenarios.weights:
        keep_samples = True  # a weighted axis is pooled from every draw
    if keep_samples is None:
        most = _with_chains(scenarios, max(target.max_samples // draws, base.chains), draws)
        keep_samples = sum(result_bytes(e) for e in most.experiments) <= batch.KEEP_SAMPLES_BYTES
    seed = base.seed if seed is None else seed
    if out:
        from .storage import check_writable

        check_writable(out, overwrite=overwrite)
    box, saved = _checkpoint(scenarios, seed, keep_samples, draws, out, resume)
    cache = _Chains(saved)
    chains, rounds = base.chains, 0
    while True:
        current = _with_chains(scenarios, chains, draws)
        result = batch.run(current, seed=seed, keep_samples=keep_samples, executor=executor, quiet=quiet,
                           chain_results=cache)
        rounds += 1
        errors = achieved_errors(result, base.main)
        met = _met(errors, target)
        affordable = target.max_samples // draws
        if met or chains >= affordable:
            break
        chains = min(chains_needed(chains, errors, target), affordable)
    result.attrs.update({
        "precision_target": target.quantile, "precision_prob_target": target.prob,
        "precision_max_samples": target.max_samples, "precision_quantile_mcse": errors["quantile"],
        "precision_prob_mcse": errors["prob"], "precision_met": int(met), "precision_rounds": rounds,
        "precision_samples": chains * draws, "precision_chains": chains})
    if out:
        from .storage import save

        save(result, out, overwrite=overwrite)
        box.remove()
    return result
