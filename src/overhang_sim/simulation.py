"""Experiment -> :class:`xarray.Dataset` of samples, with dims ``(chain, draw)``.

This is the only module that spawns random streams. Chain ``c`` gets
``SeedSequence(seed, spawn_key=(c,))`` and each input a child of it keyed by a hash
of its name, so results are the same for any chunk size and do not change when
an unrelated input is added (plain Monte Carlo; the QMC designs are joint over all
sampled inputs). Chains are independent, so the spread between chains gives
honest Monte Carlo errors for every design.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable

import numpy as np
import xarray as xr

from .config import Experiment, located_check
from .designs import correlated_columns, make_design, sobol_balance
from .distributions import writes_into
from .errors import ConfigError, DesignWarning, DomainError
from .provenance import now, provenance

__all__ = ["chain_design", "check_memory", "summary_bytes", "draw_inputs", "draw_range", "evaluate", "fixed_inputs", "input_ppf", "result_bytes", "run_dataset",
           "sample_chain", "simulate", "variable_attrs", "warn_about_design"]

CHUNK_SIZE = 2**18


def result_bytes(experiment: Experiment) -> int:
    """Bytes the samples of a run take in memory: every sampled input and output, float64."""
    variables = len(experiment.sampled) + len(experiment.model_spec.outputs)
    return experiment.chains * experiment.draws * variables * 8


def _physical_memory() -> int:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def summary_bytes(experiment: Experiment) -> int:
    """Scratch memory :func:`~overhang_sim.summaries.summarize` holds at once for `experiment`'s kept samples.

    One output's worth (and one chain's row) per summary thread, as many threads as outputs or cores.
    """
    from .summaries import summary_threads, workspace_bytes

    outputs = len(experiment.summary.outputs) or len(experiment.model_spec.outputs)
    return (summary_threads(outputs, experiment.chains * experiment.draws)
            * workspace_bytes(experiment.chains, experiment.draws))


def check_memory(experiments) -> None:
    """Raise :class:`ConfigError` (key ``samples``) if the samples of `experiments` and the scratch memory
    their summary needs (:func:`summary_bytes`, one scenario at a time) exceed this machine's RAM."""
    samples = sum(result_bytes(e) for e in experiments)
    need, have = samples + max(summary_bytes(e) for e in experiments), _physical_memory()
    if need > have:
        first = experiments[0]
        raise ConfigError(f"{first.samples:.3g} samples need {samples / 1e9:.3g} GB to hold in memory "
                          f"and {(need - samples) / 1e9:.3g} GB more to summarise; this machine has "
                          f"{have / 1e9:.3g} GB", file=first.path, key="samples")


def warn_about_design(experiment: Experiment) -> None:
    """A :class:`~overhang_sim.errors.DesignWarning` if the design loses accuracy as configured."""
    note = sobol_balance(experiment.draws) if experiment.method == "sobol" else ""
    if note:
        warnings.warn(DesignWarning(f"{experiment.path or experiment.name}: samples: {note}"), stacklevel=3)


def simulate(experiment: Experiment, *, seed: int | None = None, chunk_size: int = CHUNK_SIZE,
             threads: int | None = None) -> xr.Dataset:
    """Sample the priors, run the model and return every input and output.

    Parameters
    ----------
    experiment : Experiment
        A checked experiment (see :func:`~overhang_sim.config.load_experiment`).
    seed : int, optional
        Overrides ``experiment.seed``.
    chunk_size : int
        Draws evaluated at a time; changes memory use, never the result.
    threads : int, optional
        Chains drawn at once on threads of this process (numpy releases the GIL in its
        fills and ufuncs; each chain writes its own rows). Default: as ``overhang run``,
        every usable core from :data:`~overhang_sim.executors.PARALLEL_MIN_SAMPLES` samples
        on (:func:`~overhang_sim.executors.default_threads`), else 1. Never changes the result.

    Returns
    -------
    xarray.Dataset
        Sampled inputs and all outputs with dims ``(chain, draw)``; fixed inputs
        are 0-d. Each variable has ``units`` and ``long_name``; the root attrs
        carry the experiment text, seed, method and package version.

    Raises
    ------
    ConfigError
        If the samples would not fit in this machine's memory (key ``samples``).
    """
    from .executors import default_threads  # imported when a run starts, not with the package

    seed = experiment.seed if seed is None else seed
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, not {chunk_size}")
    threads = min(default_threads(experiment.samples) if threads is None else threads, experiment.chains)
    if threads < 1:
        raise ValueError(f"threads must be >= 1, not {threads}")
    check_memory([experiment])
    warn_about_design(experiment)
    started = now()
    chains, draws = experiment.chains, experiment.draws
    arrays: dict[str, np.ndarray] = {}

    def final(name):  # each draw is written once, into its final (chain, draw) array
        if name not in arrays:  # setdefault: chains on threads at once make one array, not one each
            arrays.setdefault(name, np.empty((chains, draws)))
        return arrays[name]

    def chain_rows(chain):
        sample_chain(experiment, seed, chain, lambda name: final(name)[chain], chunk_size)

    _each_chain(experiment, chain_rows, threads)
    run = run_dataset(experiment, arrays)
    run.attrs = provenance([experiment], text=experiment.text, path=experiment.path, seed=seed,
                           keep_samples=True, started=started)
    return run


def _each_chain(experiment: Experiment, chain_rows: Callable[[int], None], threads: int) -> None:
    """``chain_rows(c)`` for every chain, on `threads` threads (1: in this one)."""
    if threads == 1:
        for chain in range(experiment.chains):
            chain_rows(chain)
        return
    from concurrent.futures import ThreadPoolExecutor

    for name in experiment.sampled:  # PPF tables built (or read) once, not by every thread
        input_ppf(experiment, name)(np.full(1, 0.5))
    pool = ThreadPoolExecutor(threads, thread_name_prefix="overhang-chain")
    try:
        for done in [pool.submit(chain_rows, c) for c in range(experiment.chains)]:
            done.result()
    finally:  # on an error or Ctrl-C, the chains not yet started are dropped
        pool.shutdown(wait=True, cancel_futures=True)


def sample_chain(experiment: Experiment, seed: int, chain: int, row, chunk_size: int = CHUNK_SIZE,
                 on_block: Callable[[int], None] | None = None) -> None:
    """Write every input and output of one chain, `chunk_size` draws at a time.

    ``row(name)`` gives the ``(draws,)`` array to fill for `name` (a row of a
    ``(chain, draw)`` array, or an array of its own); ``on_block(draws)`` is told
    after each chunk.
    """
    design = chain_design(experiment, seed, chain)
    for start in range(0, experiment.draws, chunk_size):
        stop = min(experiment.draws, start + chunk_size)
        targets: dict[str, np.ndarray] = {}

        def target(name, start=start, stop=stop):
            if name not in targets:
                targets[name] = row(name)[start:stop]
            return targets[name]

        for name, values in draw_range(experiment, design, start, stop, out=target).items():
            if values is not target(name):  # inputs are drawn where they end up
                target(name)[...] = values
        if on_block is not None:
            on_block(stop - start)


def run_dataset(experiment: Experiment, arrays: dict[str, np.ndarray]) -> xr.Dataset:
    """The run Dataset from ``(chain, draw)`` arrays of every sampled input and output (no root attrs)."""
    inputs = {n: arrays[n] for n in experiment.sampled}
    outputs = {n: a for n, a in arrays.items() if n not in inputs}
    return _dataset(experiment, inputs, fixed_inputs(experiment), outputs)


def fixed_inputs(experiment: Experiment) -> dict[str, float]:
    """The inputs whose prior is a fixed value, by name, in the model's units."""
    return {n: float(p.dist.value) * experiment.scales.get(n, 1.0) for n, p in experiment.priors.items() if p.fixed}


def chain_design(experiment: Experiment, seed: int, chain: int):
    """The uniforms of one chain: ``SeedSequence(seed, spawn_key=(chain,))`` and the method.

    The streams depend only on the seed, the chain and the sampled inputs' names, never
    on a scenario's other settings: scenarios that share an input share its draws
    (common random numbers), and any worker can compute any range of draws.
    """
    chain_seed = np.random.SeedSequence(seed, spawn_key=(chain,))
    return make_design(experiment.method, list(experiment.design), experiment.draws, chain_seed)


def draw_range(experiment: Experiment, design, start: int, stop: int,
               out: Callable[[str], np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """Every sampled input and every output for draws `start` to `stop` of one chain.

    Parameters
    ----------
    experiment : Experiment
    design : Design
        The chain's design, from :func:`chain_design`.
    start, stop : int
        Draw numbers within the chain.
    out : callable, optional
        ``out(name)``: a ``(stop - start,)`` float64 array input `name` may be drawn into
        (see :func:`draw_inputs`).

    Returns
    -------
    dict of str to ndarray
        Sampled inputs, then the model's outputs, each of shape ``(stop - start,)``.
    """
    values = draw_inputs(experiment, design, start, stop, out)
    return {**{n: values[n] for n in experiment.sampled}, **evaluate(experiment, values)}


def evaluate(experiment: Experiment, values: dict[str, np.ndarray | float]) -> dict[str, np.ndarray]:
    """The model's outputs at `values` (every input, by name); a failed ``[[checks]]`` entry is
    raised as a one-line error located in the experiment's file (:func:`~overhang_sim.config.located_check`)."""
    try:
        return experiment.model_spec(values)
    except DomainError as error:  # a [[checks]] entry of the model failed in a draw
        raise located_check(error, experiment) from None


def draw_inputs(experiment: Experiment, design, start: int, stop: int,
                out: Callable[[str], np.ndarray] | None = None) -> dict[str, np.ndarray | float]:
    """Every input with a prior for draws `start` to `stop` of one chain: sampled arrays and fixed floats.

    With `out`, an input whose family writes in place (:func:`~overhang_sim.distributions.writes_into`)
    is drawn into ``out(name)`` (and that array is its value); the values are the same either way.
    """
    names = experiment.sampled
    values: dict[str, np.ndarray | float] = dict(fixed_inputs(experiment))
    if names:
        u = design.points(start, stop)
        # a design shared with other scenarios: this one's columns (views, not a copy)
        columns = [u[:, experiment.design.index(n)] for n in names] if experiment.design != names else \
            [u[:, j] for j in range(len(names))]
        if experiment.cholesky is not None:  # only the correlated columns change
            for j, column in correlated_columns(columns, experiment.cholesky).items():
                columns[j] = column
        for name, column in zip(names, columns, strict=True):
            values[name] = _draw(experiment, name, column, None if out is None else out(name))
    return values


def _draw(experiment: Experiment, name: str, u: np.ndarray, out: np.ndarray | None) -> np.ndarray:
    """Input `name` at uniforms `u`, into `out` where its family allows (the same values either way)."""
    dist, scale = experiment.priors[name].dist, experiment.scales.get(name)
    if out is None or not writes_into(dist):
        return input_ppf(experiment, name)(u)
    values = dist.ppf(u, out=out)
    return values if scale is None else np.multiply(values, scale, out=values)


def input_ppf(experiment: Experiment, name: str):
    """The inverse CDF of input `name`'s prior, in the model's unit (a prior may use another unit)."""
    ppf, scale = experiment.priors[name].dist.ppf, experiment.scales.get(name)
    if scale is None:
        return ppf
    return lambda u: np.multiply(ppf(u), scale)


def variable_attrs(experiment: Experiment, name: str) -> dict[str, str]:
    """``units`` and ``long_name`` of a quantity of `experiment`'s model."""
    quantity = experiment.model_spec.quantities[name]
    return {"units": quantity.unit, "long_name": quantity.long_name or name}


def _described(prior, experiment) -> str:
    """The prior as written, and the unit it was written in when that is not the model's."""
    if prior.name in experiment.scales:
        return f"{prior.dist.describe()} {prior.unit}"
    return prior.dist.describe()


def _dataset(experiment, inputs, fixed, outputs):
    dims = ("chain", "draw")
    order = [n for n in experiment.model_spec.outputs if n in outputs]
    order += [n for n in outputs if n not in order]
    data = {n: xr.Variable(dims, outputs[n], variable_attrs(experiment, n)) for n in order}
    for name, prior in sorted(experiment.priors.items()):
        values = fixed[name] if prior.fixed else inputs[name]
        attrs = {**variable_attrs(experiment, name), "role": "input", "prior": _described(prior, experiment),
                 "source": prior.source}
        data[name] = xr.Variable(() if prior.fixed else dims, values, attrs)
    for name in order:
        data[name].attrs["role"] = "output"
    coords = {"chain": np.arange(experiment.chains), "draw": np.arange(experiment.draws)}
    return xr.Dataset(data, coords=coords)
