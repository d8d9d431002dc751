"""Sensitivity analysis: which input drives each output, each figure with an interval.

Array kernels (ndarrays in, ndarrays out) come first; a thin layer builds their
inputs from an experiment or a run and labels the answer. :func:`sensitivity` runs
the four methods and returns one Dataset with dims ``(input, output, measure)``
(not ``method``: that name would clash with the ``method=`` argument of
:meth:`xarray.Dataset.sel`). The measures are:

``sobol_first``, ``sobol_total``
    Variance-based Sobol' indices (Saltelli 2010 first-order, Jansen 1999 total
    estimators) on R (default 8) independently scrambled Saltelli designs of
    n / R Sobol' points each, every output in one pass of the model. The estimates
    pool all n rows; the intervals come from the spread of the estimates of the R
    replicates, which is valid because they are independent randomisations of the
    design (randomised quasi-Monte Carlo; L'Ecuyer & Lemieux 2002). Rows of one
    scrambled sequence are not independent, so a row bootstrap would overstate the
    error many times over. Sobol' indices assume independent inputs, so experiments
    with ``[[correlations]]`` are refused.
``given_data_first``, ``spearman``
    From an existing run, no special design: a first-order index from rank
    neighbours (sort by the input; half the mean squared difference of consecutive
    outputs estimates E[Var(Y | X_i)]; Gamboa, Klein & Lagnoux 2022) and Spearman's
    rank correlation. Both stay meaningful when inputs are correlated: the
    first-order index then includes what an input carries of its partners.
``tornado``
    The swing of log10(output), in orders of magnitude, as one input moves from its
    5 % to its 95 % quantile with the others at their medians. Exact (no sampling
    error); it ignores correlations by construction.
``shapley`` (only when asked for)
    Shapley effects over the output's variance (:mod:`~overhang_sim.shapley`):
    shares that add up to 1 with or without ``[[correlations]]`` (through the
    Gaussian copula), with percentile bootstrap intervals; they cost model runs of
    their own (``shapley_samples``, default the experiment's samples).
``voi``
    Value of information: how much the 90 % interval of log10(output) narrows, in
    orders of magnitude, if the input were known exactly, averaged over what it
    could turn out to be. Estimated from the run by cutting it into equal-count
    bins of the input (at most 100, of at least 100 draws per chain); the residual
    spread of the input inside a bin makes it slightly conservative.

Sobol', given-data and VOI intervals are the pooled estimate +- t * sd(per chain) /
sqrt(chains), the package's Monte Carlo error, with the Sobol' replicates as the chains.
Estimates are stored raw (a share near zero can come out below zero); tables show
those as about 0. Streams come from
``SeedSequence(seed, spawn_key=(key("sensitivity"), key(part), ...))`` with
:func:`~overhang_sim.designs.stable_key`, so they never coincide with a run's chains.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from importlib.metadata import version
from typing import NamedTuple

import numpy as np
import xarray as xr

from .config import Experiment
from .errors import ConfigError, did_you_mean
from .indices import REPLICATES as SOBOL_REPLICATES
from .indices import (
    SobolIndices,
    chain_interval,
    interval_width,
    rank_first_order,
    saltelli_outputs,
    sobol_indices,
    sobol_indices_from_function,
    spearman,
    voi_narrowing,
)
from .designs import gaussian_copula, stable_key
from .scenarios import stack_scenarios
from .simulation import fixed_inputs, input_ppf, simulate
from .summaries import DEFAULT_OUTPUTS, main_output

__all__ = [
    "INDICES",
    "METHODS",
    "SobolIndices",
    "given_data",
    "rank_first_order",
    "saltelli_outputs",
    "scenario_sensitivity",
    "sensitivity",
    "sobol",
    "sobol_indices",
    "sobol_indices_from_function",
    "spearman",
    "tornado",
    "voi_narrowing",
]

METHODS = ("sobol", "given_data", "tornado", "voi", "shapley")
OPT_IN = ("shapley",)  # costs model runs of its own: only when asked for
OOM = "orders of magnitude"
# measure coordinate -> (unit, long name, signed: ranked by |estimate| rather than clipped at 0)
INDICES = {
    "sobol_first": ("1", "first-order Sobol' index (Saltelli 2010)", False),
    "sobol_total": ("1", "total Sobol' index (Jansen 1999)", False),
    "given_data_first": ("1", "first-order index from given data (rank neighbours)", False),
    "spearman": ("1", "Spearman rank correlation of input and output", True),
    "tornado": (OOM, "swing of log10(output) as the input goes p5 -> p95, others at medians", True),
    "voi": (OOM, "narrowing of the central (voi_mass) interval of log10(output) if the input were known",
            False),
    "shapley": ("1", "Shapley effect over Var(output), correlations allowed (Owen 2014; Song, Nelson & Staum "
                "2016)", False),
}
MIN_SOBOL_SAMPLES = 2**8
MIN_REPLICATE_SAMPLES = 2**5  # per Sobol' replicate; the t intervals are calibrated from there on
MIN_DRAWS_PER_CHAIN = 1_000
VOI_MAX_BINS = 100
VOI_MIN_BIN = 100
PSEUDO_CHAINS = 8
SHAPLEY_PILOT = 1_000



# --------------------------------------------------------------------------- labelled results


class _Part(NamedTuple):
    """One method's answer before labelling: each measure's arrays are (input, output)."""

    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    indices: dict  # measure -> (estimate, lower, upper)
    extras: dict  # variable -> (dims, values, attrs)
    attrs: dict
    skipped: dict  # output -> why it was left out


def _dataset(parts: list[_Part], fixed: dict, attrs: dict, notes: list[str], labels: dict) -> xr.Dataset:
    """Label the methods' answers; `labels` maps each quantity to its (unit, long name)."""
    ranked = list(dict.fromkeys(o for p in parts for o in json.loads(p.attrs.get("rank_scale_outputs", "[]"))))
    every = [o for p in parts for o in p.outputs]
    outputs = [o for o in dict.fromkeys(every) if all(o in p.outputs for p in parts) or o in ranked]
    skipped = {k: v for p in parts for k, v in p.skipped.items() if k not in outputs}
    skipped.update({o: "not produced by every method" for p in parts for o in p.outputs
                    if o not in outputs and o not in skipped})
    if ranked:  # measures in orders of magnitude (tornado, VOI) are NaN for them
        notes = [*notes, f"{', '.join(ranked)}: draws = 0 (an answer, e.g. no copy at the required speed), "
                 "where log10 is undefined, so the Sobol' and given-data indices are of the output's rank "
                 "(its mid-CDF, ordered as log10 orders it); a measure in orders of magnitude (tornado, VOI) is "
                 "left out (NaN) where its draws include 0"]
    if not outputs:
        why = "; ".join(f"{k}: {v}" for k, v in skipped.items())
        raise ConfigError(f"no output can be analysed ({why})", key="outputs",
                          file=attrs.get("experiment_path"))
    data, measures = {}, []
    for p in parts:
        cols = [p.outputs.index(o) if o in p.outputs else -1 for o in outputs]
        missing = np.array([c < 0 for c in cols])

        def columns(v, cols=cols, missing=missing):
            v = np.asarray(v, dtype=float)
            return np.where(missing, np.nan, v[..., [max(c, 0) for c in cols]]) if v.shape[-1] else \
                np.full((*v.shape[:-1], len(cols)), np.nan)

        for measure, values in p.indices.items():
            measures.append(measure)
            for name, v in zip(("estimate", "lower", "upper"), values):
                data.setdefault(name, []).append(columns(v))
        for name, (dims, v, var_attrs) in p.extras.items():
            data[name] = xr.Variable(dims, columns(v), var_attrs)
    confidence = attrs.get("confidence")
    for name in ("estimate", "lower", "upper"):
        long_name = _LONG_NAMES[name].format(f"{confidence:g} confidence interval" if confidence else
                                             "interval (the estimate: no sampling error)")
        data[name] = xr.Variable(("input", "output", "measure"), np.stack(data[name], axis=-1),
                                 {"long_name": long_name})
    data["rank"] = xr.Variable(("input", "output", "measure"), _ranks(data["estimate"].values, measures),
                               {"long_name": "rank by importance, 1 = most important (|estimate| if signed)"})
    inputs = list(parts[0].inputs)
    coords = {
        "input": inputs, "output": outputs, "measure": measures,
        "input_unit": ("input", [labels[n][0] for n in inputs]),
        "output_unit": ("output", [labels[n][0] for n in outputs]),
        "output_long_name": ("output", [labels[n][1] for n in outputs]),
        "measure_unit": ("measure", [INDICES[m][0] for m in measures]),
        "measure_long_name": ("measure", [INDICES[m][1] for m in measures]),
    }
    fixed = {n: {"value": v, "unit": labels[n][0]} for n, v in fixed.items()}
    attrs = {**attrs, **{k: v for p in parts for k, v in p.attrs.items()}, "fixed_inputs": json.dumps(fixed),
             "skipped_outputs": json.dumps(skipped), "notes": json.dumps(notes),
             "overhang_sim_version": version("overhang-sim")}
    return xr.Dataset(data, coords=coords, attrs={k: v for k, v in attrs.items() if v is not None})


_LONG_NAMES = {
    "estimate": "point estimate, raw (a share near zero can come out below zero: read it as about 0)",
    "lower": "lower bound of the {}",
    "upper": "upper bound of the {}",
}


def _ranks(estimate, measures):
    signed = np.array([INDICES[m][2] for m in measures])
    importance = np.where(signed, np.abs(estimate), np.maximum(estimate, 0.0))
    return np.argsort(np.argsort(-importance, axis=0, kind="stable"), axis=0) + 1


def _usable(y, outputs, log, ranks=False):
    """Indices of the outputs worth analysing, and why the others are not; y is (..., m).

    With `ranks`, an output with draws = 0 (and none below) is usable on the log scale:
    :func:`_transform` takes it to its ranks.
    """
    keep, skipped = [], {}
    for j, name in enumerate(outputs):
        values = y[..., j]
        if not np.isfinite(values).all():
            skipped[name] = "has non-finite values"
        elif log and (values < 0).any():
            skipped[name] = "has values < 0, so no log10 scale (use scale='linear')"
        elif log and not ranks and (values == 0).any():
            skipped[name] = (f"has values = 0 (P = {np.mean(values == 0):.2g}), so no log10 scale; its Sobol' and "
                             "given-data indices are on ranks, this measure is in orders of magnitude")
        elif np.ptp(values) <= 1e-12 * np.abs(values).max():
            skipped[name] = "does not vary (zero variance): no sampled input moves it"
        else:
            keep.append(j)
    return keep, skipped


def _check_options(confidence, replicates=SOBOL_REPLICATES):
    if not (isinstance(confidence, (int, float)) and 0 < confidence < 1):
        raise ConfigError(f"must be a probability in (0, 1), not {confidence!r}", key="confidence")
    if not (isinstance(replicates, (int, np.integer)) and replicates >= 2 and not replicates & (replicates - 1)):
        raise ConfigError(f"must be a power of two, at least 2 (the interval needs two replicates, and "
                          f"n / replicates must stay a power of two for the Sobol' balance), not {replicates!r}",
                          key="sobol_replicates")


def _scale(y, scale):
    if scale not in ("log10", "linear"):
        raise ConfigError(f"must be 'log10' or 'linear', not {scale!r}", key="scale")
    return np.log10(y) if scale == "log10" else y


def _ranked(y, scale) -> list[int]:
    """Columns of y (..., m) that the log10 scale takes to ranks: those with draws = 0."""
    return [j for j in range(y.shape[-1]) if scale == "log10" and (y[..., j] == 0).any()] if y.size else []


def _transform(arrays, scale):
    """`arrays` (each (..., m)) on `scale`; on log10, a column with draws = 0 becomes its mid-ranks instead.

    Instances = 0 is an answer (no copy meets the speed), an atom log10 cannot hold. Ranks
    order the draws as log10 does (a monotone transform) and give the zeros one tied rank,
    so Sobol' and given-data indices stay defined: they are the indices of the output's
    rank, ``F(y-) + P(Y = y) / 2`` over all the arrays together (so every array is on one
    transform, as the Sobol' estimators need), and the ``rank_scale_outputs`` attr names them.
    """
    arrays = [np.asarray(a, dtype=float) for a in arrays]
    ranked = _ranked(np.concatenate([a.reshape(-1, a.shape[-1]) for a in arrays]), scale)
    if not ranked:
        return [_scale(a, scale) for a in arrays]
    out = [np.where(np.isin(np.arange(a.shape[-1]), ranked), 0.0, _scale(np.where(a > 0, a, 1.0), scale))
           for a in arrays]
    for j in ranked:
        values = np.concatenate([a[..., j].ravel() for a in arrays])
        unique, where, counts = np.unique(values, return_inverse=True, return_counts=True)
        mid = (np.cumsum(counts) - counts / 2) / values.size
        start = 0
        for a, o in zip(arrays, out):
            size = a[..., j].size
            o[..., j] = mid[where[start:start + size]].reshape(a[..., j].shape)
            start += size
    return out


# --------------------------------------------------------------------------- from an experiment


def _labels(experiment: Experiment) -> dict:
    return {n: (q.unit, q.long_name or n) for n, q in experiment.model_spec.quantities.items()}


def _run_labels(run: xr.Dataset) -> dict:
    return {n: (run[n].attrs.get("units", ""), run[n].attrs.get("long_name", n)) for n in run.data_vars}


def _fixed(experiment):
    return dict(sorted(fixed_inputs(experiment).items()))


def _check_inputs(names, file):
    if len(names) < 2:
        what = f"only {names[0]} varies, so it accounts for all of every output's variance" if names \
            else "every input is fixed"
        raise ConfigError(f"{what}: there is nothing to rank (give two or more inputs a distribution)",
                          key="priors", file=file)


def _evaluator(experiment, outputs):
    fixed, names = _fixed(experiment), experiment.sampled

    def evaluate(x):
        result = experiment.model_spec({**fixed, **{n: x[:, j] for j, n in enumerate(names)}})
        return np.stack([np.broadcast_to(result[o], (len(x),)) for o in outputs], axis=1)

    return evaluate


def _outputs(experiment, requested=None):
    produced = experiment.model_spec({n: input_ppf(experiment, n)(np.full(1, 0.5)) for n in experiment.priors})
    for name in requested or ():
        if name not in produced:
            raise ConfigError(f"{name!r} is not an output of this experiment{did_you_mean(name, produced)}",
                              key="outputs", file=experiment.path)
    wanted = list(requested or experiment.summary.outputs or DEFAULT_OUTPUTS)
    wanted = [o for o in wanted if o in produced]
    return tuple(sorted(wanted, key=lambda o: o != experiment.main))


def _base_samples(experiment, samples, replicates):
    least = max(MIN_SOBOL_SAMPLES, replicates * MIN_REPLICATE_SAMPLES)
    if samples is None:
        per_design = experiment.samples // (len(experiment.sampled) + 2)
        samples = max(least, 1 << max(per_design.bit_length() - 1, 0))
    if samples < least:
        raise ConfigError(f"{samples} base samples are too few for Sobol' indices worth ranking in "
                          f"{replicates} replicates; use at least {least}", key="sobol_samples",
                          file=experiment.path)
    return 1 << (int(samples) - 1).bit_length()  # powers of two (n and n / replicates) keep the balance


def _refuse_correlated(experiment):
    if experiment.correlations:
        pairs = ", ".join(" and ".join(c.inputs) for c in experiment.correlations)
        raise ConfigError(
            f"Sobol' indices need independent inputs, but this experiment correlates {pairs}; use the "
            "given-data method instead (methods=('given_data', 'voi'), or --methods given_data voi), "
            "which stays meaningful when inputs are correlated", key="correlations", file=experiment.path)


def _flat_in_a_replicate(fa, fb, replicates):
    """Per output, whether A and B are constant within some replicate (whose indices would be 0 / 0)."""
    ab = np.concatenate([f.reshape(replicates, -1, f.shape[-1]) for f in (fa, fb)], axis=1)
    return (np.ptp(ab, axis=1) <= 1e-12 * np.abs(ab).max(axis=1)).any(axis=0)


def _sobol_part(experiment, samples, seed, outputs, scale, confidence, replicates):
    _refuse_correlated(experiment)
    _check_inputs(experiment.sampled, experiment.path)
    n = _base_samples(experiment, samples, replicates)
    ppfs = [input_ppf(experiment, name) for name in experiment.sampled]
    fa, fb, fab = saltelli_outputs(_evaluator(experiment, outputs), ppfs, n, seed=seed, replicates=replicates)
    keep, skipped = _usable(np.concatenate([fa, fb, *fab]), outputs, scale == "log10", ranks=True)
    flat = _flat_in_a_replicate(fa, fb, replicates)
    skipped.update({outputs[j]: f"does not vary within one of the {replicates} Sobol' replicates (it varies "
                    "in too few draws); use more sobol_samples" for j in keep if flat[j]})
    keep = [j for j in keep if not flat[j]]
    if not keep:
        return _Part(experiment.sampled, (), {}, {}, {}, skipped)
    ta, tb, tab = _transform([fa[..., keep], fb[..., keep], fab[..., keep]], scale)
    s = sobol_indices(ta, tb, tab, replicates=replicates, confidence=confidence)
    indices = {"sobol_first": (s.first, *s.first_interval), "sobol_total": (s.total, *s.total_interval)}
    attrs = {"sobol_base_samples": n, "sobol_model_runs": n * (len(ppfs) + 2), "sobol_replicates": replicates}
    ranked = _ranked(np.concatenate([fa[..., keep], fb[..., keep], *fab[..., keep]]), scale)
    if ranked:
        attrs["rank_scale_outputs"] = json.dumps([outputs[keep[j]] for j in ranked])
    return _Part(experiment.sampled, tuple(outputs[j] for j in keep), indices, {}, attrs, skipped)


def _tornado_part(experiment, outputs):
    _check_inputs(experiment.sampled, experiment.path)
    d = len(experiment.sampled)
    u = np.full((2 * d + 1, d), 0.5)
    u[2 * np.arange(d), np.arange(d)], u[2 * np.arange(d) + 1, np.arange(d)] = 0.05, 0.95
    x = np.column_stack([input_ppf(experiment, n)(u[:, j]) for j, n in enumerate(experiment.sampled)])
    y = _evaluator(experiment, outputs)(x)
    keep, skipped = _usable(y, outputs, True)
    y = np.log10(y[:, keep])
    low, high = y[0 : 2 * d : 2], y[1 : 2 * d : 2]
    extras = {
        "tornado_at_p05": (("input", "output"), low, {"units": OOM, "long_name": "log10(output) with "
                           "this input at its 5 % quantile and the others at their medians"}),
        "tornado_at_p95": (("input", "output"), high, {"units": OOM, "long_name": "log10(output) with "
                           "this input at its 95 % quantile and the others at their medians"}),
        "tornado_median": (("output",), y[-1], {"units": OOM, "long_name": "log10(output) with every "
                           "input at its median"}),
    }
    indices = {"tornado": (high - low, high - low, high - low)}  # exact: no sampling error
    return _Part(experiment.sampled, tuple(outputs[j] for j in keep), indices, extras, {}, skipped)


def _shapley_part(experiment, samples, seed, outputs, scale, confidence):
    from .shapley import shapley_effects

    _check_inputs(experiment.sampled, experiment.path)
    runs = int(samples or experiment.samples)
    cholesky = experiment.cholesky
    correlation = None if cholesky is None else cholesky @ cholesky.T
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(stable_key("sensitivity"),
                                                                        stable_key("shapley"))))
    ppfs = [input_ppf(experiment, name) for name in experiment.sampled]
    u = rng.random((SHAPLEY_PILOT, len(ppfs)))  # a pilot: which outputs vary (and are positive, for log10)
    u = u if cholesky is None else gaussian_copula(u, cholesky)
    pilot = _evaluator(experiment, outputs)(np.column_stack([ppf(u[:, j]) for j, ppf in enumerate(ppfs)]))
    keep, skipped = _usable(pilot, outputs, scale == "log10")
    if not keep:
        return _Part(experiment.sampled, (), {}, {}, {}, skipped)
    found = shapley_effects(lambda x: _evaluator(experiment, outputs)(x)[:, keep], ppfs, correlation, runs=runs,
                            confidence=confidence, rng=rng,
                            transform=np.log10 if scale == "log10" else None)
    attrs = {"shapley_model_runs": found.model_runs + SHAPLEY_PILOT, "shapley_exact_permutations": int(found.exact)}
    return _Part(experiment.sampled, tuple(outputs[j] for j in keep),
                 {"shapley": (found.share, found.lower, found.upper)}, {}, attrs, skipped)


def sobol(experiment: Experiment, *, samples: int | None = None, seed: int | None = None,
          outputs: Sequence[str] | None = None, scale: str = "log10", confidence: float = 0.95,
          replicates: int = SOBOL_REPLICATES) -> xr.Dataset:
    """First-order and total Sobol' indices of every output, with intervals over independent replicates.

    Parameters
    ----------
    experiment : Experiment
        Must have no ``[[correlations]]`` (Sobol' indices need independent inputs).
    samples : int, optional
        Base samples ``n`` of all replicates together, rounded up to a power of two; the
        model runs ``n (d + 2)`` times. Default: about ``experiment.samples / (d + 2)``,
        at least 256 and at least 32 per replicate (fewer are refused).
    seed : int, optional
        Overrides ``experiment.seed``.
    outputs : sequence of str, optional
        Default: the experiment's summary outputs, instances first.
    scale : {"log10", "linear"}
        Indices of log10(output) (default) or of the output itself.
    confidence : float
        Mass of the intervals, ``estimate +- t_(R-1) sd(per replicate) / sqrt(R)``.
    replicates : int
        R, the independently scrambled Saltelli designs of ``n / R`` base samples each;
        a power of two (anything else would break the Sobol' balance, so it is refused).
        The price of honest intervals: one scramble of n points converges faster than R
        of n / R, so on smooth models the estimates' error is about 2-3 times that of a
        single design at R = 8 (Ishigami and lognormal products, n = 2**12 to 2**16).

    Returns
    -------
    xarray.Dataset
        ``estimate``, ``lower``, ``upper`` and ``rank`` with dims ``(input, output, measure)``.
    """
    seed = experiment.seed if seed is None else seed
    _check_options(confidence, replicates)
    part = _sobol_part(experiment, samples, seed, _outputs(experiment, outputs), scale, confidence, replicates)
    return _dataset([part], _fixed(experiment), _experiment_attrs(experiment, seed, scale, confidence), [],
                    _labels(experiment))


def tornado(experiment: Experiment, *, outputs: Sequence[str] | None = None) -> xr.Dataset:
    """Swing of log10(output), in orders of magnitude, as each input goes from p5 to p95.

    The other inputs stay at their medians (correlations are ignored by design).
    The swing is signed: negative when the output falls as the input rises. It has
    no sampling error, so ``lower == upper == estimate``.
    """
    part = _tornado_part(experiment, _outputs(experiment, outputs))
    return _dataset([part], _fixed(experiment), _experiment_attrs(experiment, None, "log10", None), [],
                    _labels(experiment))


def _experiment_attrs(experiment, seed, scale, confidence):
    return {"title": f"sensitivity analysis of experiment {experiment.name!r}",
            "experiment_name": experiment.name, "experiment_path": experiment.path or None,
            "experiment_sha256": experiment.digest, "model": experiment.model, "main_output": experiment.main,
            "seed": seed,
            "scale": scale, "confidence": confidence}


# --------------------------------------------------------------------------- from a run


def _run_arrays(run, outputs, file):
    """Sampled inputs (chains, draws, d), outputs (chains, draws, m), fixed inputs, names, note."""
    role = {n: run[n].attrs.get("role") for n in run.data_vars}
    inputs = tuple(sorted(n for n, r in role.items() if r == "input" and run[n].ndim == 2))
    fixed = {n: float(run[n]) for n, r in sorted(role.items()) if r == "input" and run[n].ndim == 0}
    available = [n for n, r in role.items() if r == "output"]
    outputs = [o for o in outputs or DEFAULT_OUTPUTS if o in available]
    main = main_output(run)
    outputs = tuple(sorted(outputs, key=lambda o: o != main))
    _check_inputs(inputs, file)
    x = np.stack([run[n].transpose("chain", "draw").values for n in inputs], axis=-1)
    y = np.stack([np.broadcast_to(run[o].values, x.shape[:2]) for o in outputs], axis=-1) if outputs \
        else np.empty((*x.shape[:2], 0))
    note = None
    if x.shape[0] == 1:  # one chain: consecutive batches stand in for chains
        size = x.shape[1] // PSEUDO_CHAINS
        x, y = (a[0, : size * PSEUDO_CHAINS].reshape(PSEUDO_CHAINS, size, -1) for a in (x, y))
        note = (f"one chain: intervals from {PSEUDO_CHAINS} consecutive batches of it "
                "(valid for plain Monte Carlo, conservative for LHS and Sobol' runs)")
    if x.shape[1] < MIN_DRAWS_PER_CHAIN:
        raise ConfigError(f"{x.shape[1]} draws per chain are too few for given-data indices; "
                          f"use at least {MIN_DRAWS_PER_CHAIN} per chain", key="samples", file=file)
    return x, y, fixed, inputs, outputs, note


def _run_parts(x, y, inputs, outputs, scale, confidence, methods, mass=0.9):
    """Given-data and VOI parts from one sort of each input per chain."""
    keep, skipped = _usable(y, outputs, scale == "log10", ranks=True)
    keep_log, skipped_log = _usable(y, outputs, True)
    bins = min(VOI_MAX_BINS, x.shape[1] // VOI_MIN_BIN)
    if "voi" in methods and not keep_log and keep and "given_data" in methods:
        methods = [m for m in methods if m != "voi"]  # no output VOI can take (draws = 0): given data goes on
    if ("given_data" in methods and not keep) or ("voi" in methods and not keep_log):
        return [_Part(inputs, (), {}, {}, {}, {**skipped_log, **skipped})]

    def kernel(xs, ys, logs):
        order = np.argsort(xs, axis=0, kind="stable")
        out = ()
        if "given_data" in methods:
            out += (rank_first_order(xs, ys, order=order), spearman(xs, ys, order=order))
        if "voi" in methods:
            out += (voi_narrowing(xs, logs, bins=bins, mass=mass, order=order),)
        return out

    ys = _transform([y[..., keep]], scale)[0] if keep else np.log10(y[..., keep_log])
    found = chain_interval(kernel, (x, ys, np.log10(y[..., keep_log]) if "voi" in methods else ys), confidence)
    parts = []
    if "given_data" in methods:
        first, rho = found[:2]
        rho = (rho[0], np.maximum(rho[1], -1.0), np.minimum(rho[2], 1.0))
        attrs = {"given_data_samples": x.shape[0] * x.shape[1], "given_data_chains": x.shape[0]}
        ranked = _ranked(y[..., keep], scale)
        if ranked:
            attrs["rank_scale_outputs"] = json.dumps([outputs[keep[j]] for j in ranked])
        parts.append(_Part(inputs, tuple(outputs[j] for j in keep),
                           {"given_data_first": first, "spearman": rho}, {}, attrs, skipped))
    if "voi" in methods:
        width = interval_width(np.log10(y[..., keep_log]).reshape(-1, len(keep_log)), mass)
        extras = {"voi_width": (("output",), width, {"units": OOM, "long_name": f"width of the {mass:g} "
                                                      "central interval of log10(output), nothing known"})}
        parts.append(_Part(inputs, tuple(outputs[j] for j in keep_log), {"voi": found[-1]}, extras,
                           {"voi_bins": bins, "voi_mass": mass}, skipped_log))
    return parts


def _matching(run: xr.Dataset, experiment: Experiment) -> xr.Dataset:
    """`run`, checked to be a run of `experiment`'s sampled inputs (else the labels would be wrong)."""
    sampled = tuple(sorted(n for n in run.data_vars if run[n].attrs.get("role") == "input" and run[n].ndim == 2))
    if sampled != experiment.sampled:
        raise ConfigError(f"the run samples {', '.join(sampled) or 'nothing'} but the experiment samples "
                          f"{', '.join(experiment.sampled)}; give a run of this experiment", key="run",
                          file=experiment.path or None)
    return run


def _run_attrs(run, scale, confidence):
    keep = ("experiment_name", "experiment_path", "experiment_sha256", "model", "main_output", "seed")
    return {**{k: run.attrs[k] for k in keep if k in run.attrs},
            "title": f"sensitivity analysis of a run of {run.attrs.get('experiment_name', '?')!r}",
            "scale": scale, "confidence": confidence}


def given_data(run: xr.Dataset, *, outputs: Sequence[str] | None = None, scale: str = "log10",
               confidence: float = 0.95) -> xr.Dataset:
    """First-order indices and Spearman correlations from an existing run.

    No special design is needed and correlated inputs are fine. Intervals come from
    the spread between chains (or between 8 consecutive batches of a single chain).

    Parameters
    ----------
    run : xarray.Dataset
        A result of :func:`~overhang_sim.simulation.simulate` with at least 1,000 draws per chain.
    outputs : sequence of str, optional
        Default: the standard outputs the run has, instances first.
    scale : {"log10", "linear"}
        Scale of the first-order index (Spearman's does not depend on it).
    confidence : float
        Mass of the intervals (Student t over chains).
    """
    file = run.attrs.get("experiment_path")
    _check_options(confidence)
    x, y, fixed, inputs, outputs, note = _run_arrays(run, outputs, file)
    parts = _run_parts(x, y, inputs, outputs, scale, confidence, ("given_data",))
    return _dataset(parts, fixed, _run_attrs(run, scale, confidence), [note] if note else [], _run_labels(run))


# --------------------------------------------------------------------------- everything at once


def _methods(experiment, methods):
    if methods is None:
        default = [m for m in METHODS if m not in OPT_IN]
        if experiment.correlations:
            return [m for m in default if m != "sobol"], [
                "Sobol' indices left out: the experiment correlates "
                + ", ".join(" and ".join(c.inputs) for c in experiment.correlations)
                + " and they need independent inputs; the given-data indices allow for it, and Shapley "
                "effects (methods=('shapley',)) give shares that add up"]
        return default, []
    for m in methods:
        if m not in METHODS:
            raise ConfigError(f"unknown method {m!r}{did_you_mean(str(m), METHODS)}; choose from "
                              f"{', '.join(METHODS)}", key="methods")
    if not methods:
        raise ConfigError(f"is empty; choose one or more of {', '.join(METHODS)}", key="methods")
    if "sobol" in methods:
        _refuse_correlated(experiment)
    return [m for m in METHODS if m in methods], []


def sensitivity(experiment: Experiment, *, methods: Sequence[str] | None = None, seed: int | None = None,
                sobol_samples: int | None = None, run: xr.Dataset | None = None,
                outputs: Sequence[str] | None = None, scale: str = "log10", confidence: float = 0.95,
                sobol_replicates: int = SOBOL_REPLICATES, shapley_samples: int | None = None) -> xr.Dataset:
    """Rank the inputs of `experiment` by importance for each output, by several methods.

    Parameters
    ----------
    experiment : Experiment
        A checked experiment with two or more sampled inputs.
    methods : sequence of {"sobol", "given_data", "tornado", "voi", "shapley"}, optional
        Default: all but Shapley, without Sobol' when the experiment correlates inputs
        (asking for Sobol' then raises :class:`~overhang_sim.errors.ConfigError`).
    seed : int, optional
        Overrides ``experiment.seed`` (for the run and the Sobol' designs).
    sobol_samples, sobol_replicates : int, optional
        Sobol' base samples and replicates (`samples` and `replicates` of :func:`sobol`).
    shapley_samples : int, optional
        Model runs the Shapley effects spend (default: the experiment's samples),
        plus an eighth of that on a pilot.
    run : xarray.Dataset, optional
        An existing run for the given-data methods; by default the experiment is simulated.
    outputs, scale, confidence
        As for :func:`sobol`.

    Returns
    -------
    xarray.Dataset
        Dims ``input`` (sampled inputs; fixed ones are in the ``fixed_inputs`` attr),
        ``output`` (instances first) and ``measure`` (``sobol_first``, ``sobol_total``,
        ``given_data_first``, ``spearman``, ``tornado``, ``voi``); variables ``estimate``
        (raw), ``lower``, ``upper``, ``rank``, the tornado's end points and ``voi_width``.
        Outputs that cannot be analysed are named in the ``skipped_outputs`` attr.

    Examples
    --------
    >>> from overhang_sim import load_experiment
    >>> from overhang_sim.sensitivity_analysis import sensitivity
    >>> result = sensitivity(load_experiment("experiments/baseline_throughput.toml"), seed=1)
    >>> result["estimate"].sel(output="instances", measure="sobol_total")  # doctest: +SKIP
    """
    seed = experiment.seed if seed is None else seed
    _check_options(confidence, sobol_replicates)
    chosen, notes = _methods(experiment, methods)
    _check_inputs(experiment.sampled, experiment.path)
    outputs = _outputs(experiment, outputs)
    _scale(np.ones(1), scale)
    parts = []
    if "sobol" in chosen:
        parts.append(_sobol_part(experiment, sobol_samples, seed, outputs, scale, confidence,
                                 sobol_replicates))
    if "given_data" in chosen or "voi" in chosen:
        run = simulate(experiment, seed=seed) if run is None else _matching(run, experiment)
        x, y, _, inputs, run_outputs, note = _run_arrays(run, outputs, experiment.path)
        notes += [note] if note else []
        parts += _run_parts(x, y, inputs, run_outputs, scale, confidence, chosen)
    if "tornado" in chosen:
        parts.append(_tornado_part(experiment, outputs))
    if "shapley" in chosen:
        parts.append(_shapley_part(experiment, shapley_samples, seed, outputs, scale, confidence))
    attrs = {**_experiment_attrs(experiment, seed, scale, confidence), "methods": json.dumps(chosen)}
    return _dataset(parts, _fixed(experiment), attrs, notes, _labels(experiment))


def scenario_sensitivity(scenarios, **options) -> xr.Dataset:
    """:func:`sensitivity` of every scenario of a :class:`~overhang_sim.scenarios.ScenarioSet`.

    Parameters
    ----------
    scenarios : ScenarioSet
        From :func:`~overhang_sim.scenarios.load_scenarios`.
    **options
        Passed to :func:`sensitivity` for each scenario.

    Returns
    -------
    xarray.Dataset
        Dims ``(*axes, input, output, measure)``; an input fixed (or absent) in one
        scenario is NaN there.
    """
    results = [sensitivity(e, **options) for e in scenarios.experiments]
    return stack_scenarios(scenarios, per_scenario_attrs(results))


def per_scenario_attrs(results: list[xr.Dataset]) -> list[xr.Dataset]:
    """Attrs that differ between scenarios (fixed inputs, notes, …) moved into 0-d variables.

    Stacking keeps one set of attrs; what differs must travel with each scenario.
    """
    differ = {k for r in results for k in r.attrs if any(o.attrs.get(k) != r.attrs.get(k) for o in results)}
    return [r.assign({k: ((), str(r.attrs.get(k, ""))) for k in sorted(differ)}) for r in results]
