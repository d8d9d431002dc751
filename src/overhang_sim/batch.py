"""Run every scenario of an experiment file: on any executor, resumable, in bounded memory.

The unit of work is one chain of one scenario, or a whole scenario (all its
chains, reduced on the worker) when a file has :data:`SCENARIO_TASKS_MIN` scenarios
or more; scenarios that differ only in fixed inputs then run :data:`GROUP_SCENARIOS` to
a task, each block of sampled inputs drawn once for the group (:func:`group_task`). A chain depends only on the scenario's experiment, the seed and the chain
number (see :func:`~overhang_sim.simulation.chain_design`), and a scenario is reduced
from its chains in chain order, never in the order tasks finish, so the result is
bit-identical for any executor: this process, local workers or a dask.distributed
cluster (:mod:`~overhang_sim.executors`). Scenarios share their draws (common random
numbers), so comparisons between them are paired.

Two kinds of result:

``samples`` (the default when they fit in :data:`KEEP_SAMPLES_BYTES`)
    Every input and output with dims ``(*axes, chain, draw)`` and exact summaries.
``streamed`` (``keep_samples=False``)
    Each task reduces its chain, block by block as the blocks are drawn, to quantile
    sketches (:mod:`~overhang_sim.sketch`), exact exceedance counts and exact sums;
    the summaries come from those, so memory does not grow with the sample count.

With ``out``, each finished task is saved in ``OUT.partial`` (a
:class:`~overhang_sim.storage.Checkpoint`); ``resume=True`` reuses what is saved
there, and the folder is removed once the result is saved.
"""

from __future__ import annotations

import concurrent.futures as cf
import dataclasses
import json
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import xarray as xr

from .config import Experiment
from .errors import CheckpointWarning, ConfigError
from .executors import in_process, listening, report_progress
from .pooling import axis_variance_share, pool, share_scale
from .provenance import now, provenance
from .scenarios import POOLED, ScenarioSet, stack_scenarios
from .simulation import (
    chain_design,
    check_memory,
    draw_inputs,
    draw_range,
    evaluate,
    fixed_inputs,
    result_bytes,
    run_dataset,
    sample_chain,
    variable_attrs,
    warn_about_design,
)
from .storage import Checkpoint, check_writable, save
from .summaries import (
    DEFAULT_OUTPUTS,
    block_part,
    block_rows,
    merge_parts,
    merge_row_parts,
    part_rows,
    summaries_from_rows,
    summarize,
    summary_from_parts,
)

__all__ = ["BLOCK", "KEEP_SAMPLES_BYTES", "run"]

BLOCK = 2**16  # draws a task evaluates at a time: fixed, so sums never depend on the split
KEEP_SAMPLES_BYTES = 2 * 10**9  # keep raw samples by default up to this size
SKETCH_ALPHA = 1e-3  # relative accuracy of streamed quantiles
SCENARIO_TASKS_MIN = 8  # with this many scenarios a task is a whole scenario, else one chain
GROUP_SCENARIOS = 25  # scenarios per task when they share their draws (group_task): 40 tasks for 1,000


# --------------------------------------------------------------------------- tasks


def chain_task(experiment: Experiment, seed: int, chain: int, keep: bool, outputs: tuple[str, ...],
               task: object = None, rows=None, shared: dict | None = None) -> dict:
    """Everything one chain of one scenario contributes (runs on a worker).

    Progress is reported block by block as ``(task, draws)``. In this process, `rows`
    (``rows(name)`` -> the chain's ``(draws,)`` row of the final ``(chain, draw)`` array)
    has the kept draws written straight where they end up; a local worker does the same through
    `shared` (name -> ``.npy`` file of the final array, memory-mapped by this process and the
    parent alike) and returns only what is not there; any other worker fills arrays of its own.

    Returns
    -------
    dict
        ``{"samples": {name: (draws,) array}}`` when `keep`; otherwise
        ``{"parts": {output: arrays}}``: the chain's quantile sketch, sums and
        exceedance counts per output (:func:`~overhang_sim.summaries.merge_parts`),
        merged as each block is drawn.
    """
    draws = experiment.draws
    def progress(n):
        report_progress(task, n)

    if keep:
        samples: dict[str, np.ndarray] = {}

        written: dict[str, np.ndarray] = {}

        def row(name):
            if shared and name in shared:
                if name not in written:
                    written[name] = np.load(shared[name], mmap_mode="r+")[chain]
                return written[name]
            if name not in samples:
                samples[name] = rows(name) if rows is not None else np.empty(draws)
            return samples[name]

        sample_chain(experiment, seed, chain, row, BLOCK, on_block=progress)
        return {"samples": samples}
    design = chain_design(experiment, seed, chain)
    merged: dict[str, dict] = {}
    for start in range(0, draws, BLOCK):
        stop = min(draws, start + BLOCK)
        _add_block(merged, experiment, draw_range(experiment, design, start, stop), outputs, stop - start)
        progress(stop - start)
    return {"parts": merged}


def _add_block(merged: dict, experiment: Experiment, values: dict, outputs: tuple[str, ...], n: int) -> None:
    """One block's `n` draws of `outputs` merged into a chain's streamed parts (output -> part), in place."""
    thresholds = experiment.summary.thresholds
    for o in outputs:
        if o in values:
            x = np.broadcast_to(values[o], (n,))
            part = block_part(x, SKETCH_ALPHA, thresholds if o == experiment.main else ())
            merged[o] = merge_parts([merged[o], part]) if o in merged else part


def scenario_task(experiment: Experiment, seed: int, keep: bool, outputs: tuple[str, ...],
                  task: object = None) -> xr.Dataset:
    """Every chain of one scenario, reduced to its Dataset (runs on a worker).

    Used when a file has enough scenarios to keep every worker busy: only the small
    reduced Dataset travels back, not each chain's sketches.
    """
    if keep:
        arrays: dict[str, np.ndarray] = {}
        for c in range(experiment.chains):
            chain_task(experiment, seed, c, keep, outputs, task, rows=_final_rows(arrays, experiment, c))
        return _scenario_dataset(experiment, arrays, keep, outputs)
    chains = [chain_task(experiment, seed, c, keep, outputs, task) for c in range(experiment.chains)]
    return _scenario_dataset(experiment, chains, keep, outputs)


def group_task(experiments: tuple[Experiment, ...], seed: int, keep: bool, outputs: tuple[str, ...],
               task: object = None) -> xr.Dataset:
    """:func:`scenario_task` for scenarios that differ only in fixed inputs (runs on a worker).

    Such scenarios draw the same sampled inputs (common random numbers: :func:`shares_draws`),
    so each block's inputs are drawn once and only the model is evaluated per scenario:
    the same values as each scenario's own :func:`scenario_task`, in a fraction of the time
    when scenarios are small. The group comes back as one Dataset with a first dim
    ``scenario_index`` (:func:`_group_dataset`), summarised in one pass along it. Streamed, each
    block of every output is sketched and counted for all the scenarios at once, a row each
    (:func:`_add_rows`), when they summarise alike (:func:`_summarised_alike`). Chains of fewer
    than :data:`BLOCK` draws are drawn and evaluated several at once, up to :data:`BLOCK` draws
    (a model is elementwise: each chain gets its own values): a grid of small scenarios calls the
    model once a scenario, not once a chain.
    """
    first = experiments[0]
    rows = not keep and _summarised_alike(experiments)  # streamed parts with a row a scenario
    arrays: dict[str, np.ndarray] = {}  # name -> (scenario, chain, draw)
    chains: list = []  # per chain: output -> part of every scenario's rows, or each scenario's parts
    together = max(1, BLOCK // max(first.draws, 1))  # small chains are evaluated several at once
    for c0 in range(0, first.chains, together):
        these = range(c0, min(first.chains, c0 + together))
        designs = [chain_design(first, seed, c) for c in these]
        merged = [{} if rows else [{} for _ in experiments] for _ in these]
        for start in range(0, first.draws, BLOCK):
            stop = min(first.draws, start + BLOCK)
            shared = _draw_shared(experiments, designs, start, stop)  # of `these` chains end to end
            if rows:
                _add_rows(merged, first, shared, outputs, stop - start)
            for k, values in enumerate(shared if not rows else ()):
                by_chain = {name: _by_chain(v, len(these), stop - start) for name, v in values.items()}
                if keep:
                    for name, v in by_chain.items():
                        if name not in arrays:
                            arrays[name] = _plain_pages((len(experiments), first.chains, first.draws))
                        arrays[name][k, these.start:these.stop, start:stop] = v
                else:
                    for i in range(len(these)):
                        _add_block(merged[i][k], experiments[k], {name: v[i] for name, v in by_chain.items()},
                                   outputs, stop - start)
            report_progress(task, (stop - start) * len(these) * len(experiments))
        chains.extend(merged)
    return _group_dataset(experiments, arrays if keep else chains, keep, outputs)


def _by_chain(v, chains: int, n: int) -> np.ndarray:
    """A value drawn for `chains` chains end to end (``(chains * n,)``, or a float where fixed) as ``(chains, n)``."""
    return np.reshape(np.broadcast_to(v, (chains * n,)), (chains, n))


def _summarised_alike(experiments) -> bool:
    """Whether the experiments summarise the same outputs the same way (one summary pass for all of them)."""
    first = experiments[0]
    return all(e.summary == first.summary and set(e.priors) == set(first.priors) for e in experiments)


def _add_rows(merged: list[dict], experiment: Experiment, values: list[dict], outputs: tuple[str, ...],
              n: int) -> None:
    """:func:`_add_block` for a block of several scenarios (`values`, one dict each, summarised as `experiment`) and
    chains (``len(merged)``, each `n` draws end to end): each output's draws sketched and counted as the rows
    ``(chain, scenario)`` of one part, which each chain's `merged` (output -> part) gets its rows of, in place."""
    thresholds = experiment.summary.thresholds
    chains, scenarios = len(merged), len(values)
    for o in outputs:
        if all(o in v for v in values):
            x = np.empty((chains, scenarios, n))
            for k, v in enumerate(values):
                x[:, k] = _by_chain(v[o], chains, n)  # a fixed output broadcasts
            part = block_rows(x.reshape(chains * scenarios, n), SKETCH_ALPHA,
                              thresholds if o == experiment.main else ())
            for c, into in enumerate(merged):
                mine = part_rows(part, c * scenarios, (c + 1) * scenarios)
                into[o] = merge_row_parts([into[o], mine]) if o in into else mine


def _group_dataset(experiments, results, keep: bool, outputs) -> xr.Dataset:
    """The Datasets of a group's scenarios (:func:`_scenario_dataset`) stacked along a first dim ``scenario_index``,
    built and summarised once for the group: `results` is name -> ``(scenario, chain, draw)`` when kept, else per
    chain the parts of :func:`_add_rows` (output -> rows) or, for scenarios not summarised alike, each one's."""
    first = experiments[0]
    if not keep and isinstance(results[0], dict):
        present = [o for o in outputs if o in results[0]]
        parts = {o: [chain[o] for chain in results] for o in present}
        return summaries_from_rows(parts, _spec(first, tuple(present)), _meta(first, present),
                                   {"main_output": first.main})
    if keep and _summarised_alike(experiments):
        run = _stacked_run(experiments, results)
        run.attrs = {"main_output": first.main}
        summary = summarize(run, _spec(first, tuple(o for o in outputs if o in run)))
        return xr.merge([run, summary], combine_attrs="override")
    each = [_scenario_dataset(e, {n: a[k] for n, a in results.items()} if keep else
                              [{"parts": chain[k]} for chain in results], keep, outputs)
            for k, e in enumerate(experiments)]
    return xr.concat(each, dim="scenario_index", data_vars="all", coords="minimal", compat="override",
                     join="outer", combine_attrs="override")


def _stacked_run(experiments, arrays: dict[str, np.ndarray]) -> xr.Dataset:
    """:func:`~overhang_sim.simulation.run_dataset` of each scenario stacked along ``scenario_index``, from
    ``(scenario, chain, draw)`` arrays: the first scenario's layout and attrs, each one's fixed inputs."""
    layout = run_dataset(experiments[0], {n: a[0] for n, a in arrays.items()})
    fixed = [fixed_inputs(e) for e in experiments]
    data = {}
    for name in layout.data_vars:
        variable = layout.variables[name]
        values = arrays[name] if variable.dims else np.array([f[name] for f in fixed], dtype=float)
        data[name] = xr.Variable(("scenario_index", *variable.dims), values, variable.attrs)
    return xr.Dataset(data, coords=layout.coords)


def _draw_shared(experiments, designs, start: int, stop: int) -> list[dict[str, np.ndarray]]:
    """:func:`~overhang_sim.simulation.draw_range` of each of `experiments` for draws `start` to `stop` of each
    chain of `designs`, end to end: their shared sampled inputs drawn once, and the model evaluated once a
    scenario for all the chains (a model is elementwise, so these are each chain's own values)."""
    drawn = [draw_inputs(experiments[0], design, start, stop) for design in designs]
    sampled = {n: drawn[0][n] if len(drawn) == 1 else np.concatenate([d[n] for d in drawn])
               for n in experiments[0].sampled}
    return [{**sampled, **evaluate(e, {**fixed_inputs(e), **sampled})} for e in experiments]


def shares_draws(scenarios: ScenarioSet) -> bool:
    """Whether the scenarios differ only in fixed inputs (every axis fixes an input), so draw the same sampled inputs."""
    first = scenarios.experiments[0]
    same = ("sampled", "design", "method", "draws", "chains", "main")

    def alike(e: Experiment) -> bool:
        return e.model_spec is first.model_spec and all(getattr(e, a) == getattr(first, a) for a in same) \
            and _same_matrix(e.cholesky, first.cholesky)

    return bool(scenarios.dims) and set(scenarios.dims) <= set(scenarios.fixed_axes) and \
        all(alike(e) for e in scenarios.experiments)


def _same_matrix(a, b) -> bool:
    return (a is None and b is None) or (a is not None and b is not None and np.array_equal(a, b))


def _groups(scenarios: list[int], size: int) -> list[tuple[int, ...]]:
    """`scenarios` (ascending indices) in groups of at most `size` consecutive indices (a gap, such as a
    scenario resumed from a checkpoint, starts a new group), so that a group's Dataset is one block of
    the grid along ``scenario_index``."""
    runs: list[list[int]] = []
    for s in scenarios:
        if runs and s == runs[-1][-1] + 1 and len(runs[-1]) < size:
            runs[-1].append(s)
        else:
            runs.append([s])
    return [tuple(r) for r in runs]


def _final_rows(arrays: dict, experiment: Experiment, chain: int):
    """``rows(name)``: row `chain` of ``arrays[name]``, a ``(chain, draw)`` array made when first asked for."""
    def rows(name):
        if name not in arrays:  # setdefault: chains drawn on threads at once make one array, not one each
            arrays.setdefault(name, _plain_pages((experiment.chains, experiment.draws)))
        return arrays[name][chain]
    return rows


def _plain_pages(shape: tuple[int, ...]) -> np.ndarray:
    """An uninitialised float64 array in anonymous memory of its own (``mmap``), not ``np.empty``.

    numpy asks the kernel for huge pages on arrays from 4 MB (``madvise``); where transparent
    huge pages are 'madvise' (a common default), the first write of each 2 MB waits for the
    kernel to find and clear a huge page. On a busy 2-core machine the first write of 800 MB
    (a 1e7-sample run's kept draws) took 0.66-3.45 s in a fresh process that way, 0.67-0.74 s
    on plain pages, and the whole run lost about 1.5 s of system time, more than the threads
    save. Small arrays come from numpy as usual.
    """
    import mmap

    size = int(np.prod(shape)) * 8
    if size < 1 << 22:
        return np.empty(shape)
    return np.frombuffer(mmap.mmap(-1, size), dtype=np.float64).reshape(shape)


def _shared_files(experiment: Experiment, seed: int, folder: Path, s: int) -> tuple[dict, dict]:
    """``.npy`` files for the final ``(chain, draw)`` arrays of scenario `s`'s inputs and outputs.

    Returns (name -> path, name -> the array memory-mapped here). The names are those one draw
    gives; local workers write their chains' rows into the same files, and anything else they
    draw is returned as before.
    """
    names = list(draw_range(experiment, chain_design(experiment, seed, 0), 0, 1))
    paths, arrays = {}, {}
    for i, name in enumerate(names):
        paths[name] = str(folder / f"s{s:06d}_{i:04d}.npy")
        mapped = np.lib.format.open_memmap(paths[name], mode="w+", dtype=np.float64,
                                           shape=(experiment.chains, experiment.draws))
        arrays[name] = np.asarray(mapped)  # a plain ndarray view; the mapping lives as long as it does
    return paths, arrays


def _shared_folder(executor, keep: bool, by_scenario: bool, need: int):
    """A temporary folder in shared memory for local workers' kept draws, or None (then they are sent back).

    Only for :class:`~overhang_sim.executors.LocalPool` (workers on this machine), one chain per task,
    and when ``/dev/shm`` has room for every kept sample. Folders left by killed runs are removed first
    (:func:`overhang_sim.shared_folders.remove_stale`).
    """
    import shutil

    from . import shared_folders
    from .executors import LocalPool

    shm = shared_folders.SHARED_MEMORY
    if not (keep and not by_scenario and isinstance(executor, LocalPool) and shm.is_dir()):
        return None
    try:
        shared_folders.remove_stale(shm)
        if shutil.disk_usage(shm).free < 1.1 * need:
            return None
        return shared_folders.owned_folder(shm)
    except OSError:
        return None


def _store(arrays: dict, experiment: Experiment, chain: int, samples: dict) -> None:
    """A chain's kept draws (from a worker or a checkpoint) copied into their final rows, once."""
    rows = _final_rows(arrays, experiment, chain)
    for name, values in samples.items():
        row = rows(name)
        if not np.shares_memory(row, values):  # drawn in this process: already in place
            row[...] = values


# --------------------------------------------------------------------------- the run


def _fingerprint(scenarios: ScenarioSet, seed: int, keep: bool) -> dict:
    """Every setting that changes the draws or their reduction (see :class:`~overhang_sim.storage.Checkpoint`)."""
    from importlib.metadata import version

    return {"scenarios": [e.identity for e in scenarios.experiments], "axes": list(scenarios.dims),
            "seed": int(seed), "keep_samples": bool(keep), "block": BLOCK, "sketch_alpha": SKETCH_ALPHA,
            "overhang_sim_version": version("overhang-sim")}


def _flatten(tree: dict, prefix: str = "") -> Iterator[tuple[str, np.ndarray]]:
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            yield from _flatten(value, name + "/")
        else:
            yield name, np.asarray(value)


def _unflatten(arrays: dict[str, np.ndarray]) -> dict:
    """The task result :func:`_flatten` flattened: ``samples/NAME`` or ``parts/OUTPUT/FIELD``."""
    out: dict = {}
    for key, value in arrays.items():
        top, name, *field = key.split("/", 2)
        if field:
            out.setdefault(top, {}).setdefault(name, {})[field[0]] = value
        else:
            out.setdefault(top, {})[name] = value
    return out


class _Saved:
    """The finished tasks of a run in its checkpoint (or nowhere, without one)."""

    def __init__(self, box: Checkpoint | None):
        self.box = box

    def load(self, key):
        if self.box is None:
            return None
        if key[0] == "scenario":
            return self.box.load_dataset(f"s{key[1]:06d}.npz")
        arrays = self.box.load_arrays(f"s{key[1][0]:06d}_c{key[1][1]:04d}.npz")
        return None if arrays is None else _unflatten(arrays)

    def save(self, key, result) -> None:
        if self.box is None:
            return
        if key[0] == "scenario":
            self.box.save_dataset(f"s{key[1]:06d}.npz", result)
        else:
            self.box.save_arrays(f"s{key[1][0]:06d}_c{key[1][1]:04d}.npz", dict(_flatten(result)))


def _completed(executor, jobs: dict) -> Iterator[tuple[object, object]]:
    """Run ``fn(*args)`` for each job (key -> (fn, args)); yield (key, result) as they finish."""
    if executor is None:
        for key, (fn, args) in jobs.items():
            yield key, fn(*args)
        return
    futures = {executor.submit(fn, *args): key for key, (fn, args) in jobs.items()}
    try:
        for future in cf.as_completed(futures):
            yield futures.pop(future), future.result()  # popped: a finished result is not kept alive
    except (Exception, GeneratorExit):  # not on Ctrl-C: the executor then stops its workers at once
        for future in futures:
            future.cancel()
        raise


class _Bar:
    """Progress in draws: reports as blocks finish, topped up to a task's size when it ends."""

    def __init__(self, total: int, quiet: bool):
        self.seen: dict = {}
        self.bar = None
        if not quiet and sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit="draw", unit_scale=True, desc="overhang run", file=sys.stderr,
                            dynamic_ncols=True)

    def advance(self, task, draws: int) -> None:
        self.seen[task] = self.seen.get(task, 0) + draws
        if self.bar is not None:
            self.bar.update(draws)

    def finish(self, task, draws: int) -> None:
        self.advance(task, max(draws - self.seen.pop(task, 0), 0))

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def run(scenarios: ScenarioSet, *, seed: int | None = None, keep_samples: bool | None = None,
        executor=None, out: str | Path | None = None, resume: bool = False, overwrite: bool = False,
        quiet: bool = True, chain_results: dict | None = None) -> xr.Dataset:
    """Run every scenario and return one Dataset with the axes as dims.

    Parameters
    ----------
    scenarios : ScenarioSet
        From :func:`~overhang_sim.scenarios.load_scenarios`.
    seed : int, optional
        Overrides the file's seed.
    keep_samples : bool, optional
        Keep every draw (exact summaries); default: when they fit in
        :data:`KEEP_SAMPLES_BYTES`. Otherwise summaries are streamed.
    executor : optional
        Where the tasks run: None (this process), or anything with ``submit`` such as
        :func:`~overhang_sim.executors.executor_for` gives (threads, local workers, dask).
    out : path, optional
        Save the result here (netCDF, or zarr for ``*.zarr``). Finished tasks are kept
        in ``OUT.partial`` meanwhile, and that folder is removed once the result is saved.
    resume : bool
        Continue from the tasks already saved in ``OUT.partial``.
    overwrite : bool
        Replace an existing `out`; without it an existing `out` is refused before
        anything runs.
    quiet : bool
        No progress bar.
    chain_results : dict, optional
        Finished chains by ``(scenario, chain)``: those found are reused, those run
        are added (every task is then one chain). A chain depends only on its
        scenario's draws per chain, the seed and its number, so a run with more
        chains can reuse those of a run with fewer (:mod:`~overhang_sim.precision`).

    Returns
    -------
    xarray.Dataset
        Summaries with dims ``(*axes, output, ...)`` and, when kept, samples with
        dims ``(*axes, chain, draw)``.

    Raises
    ------
    ConfigError, StorageError
        Bad settings, an existing `out` (without `overwrite`), a checkpoint that does
        not belong to this run, a failed save (then ``OUT.partial`` is left for ``resume``).
    """
    base = scenarios.base
    seed = base.seed if seed is None else seed
    keep = sum(result_bytes(e) for e in scenarios.experiments) <= KEEP_SAMPLES_BYTES \
        if keep_samples is None else keep_samples
    if scenarios.weights and not keep:
        raise ConfigError(f"the weighted axis {next(iter(scenarios.weights))!r} is pooled from every draw; keep "
                          "the samples (drop --no-keep-samples, or use fewer samples)", key="keep_samples",
                          file=scenarios.path)
    if keep:
        check_memory(scenarios.experiments)
    warn_about_design(base)
    outputs = _summary_outputs(scenarios)
    if out:
        check_writable(out, overwrite=overwrite)
    box = Checkpoint(f"{out}.partial", _fingerprint(scenarios, seed, keep), resume, scenarios.path) if out else None
    saved = _Saved(box)
    by_scenario = len(scenarios.experiments) >= SCENARIO_TASKS_MIN and chain_results is None
    grouped = by_scenario and shares_draws(scenarios)  # the scenarios still to run, a group of them per task
    jobs, done, reduced, sizes, todo = {}, {}, {}, {}, []
    finals: dict[int, dict[str, np.ndarray]] = {}  # kept draws, scenario -> name -> (chain, draw)
    shared: dict[int, dict[str, str]] = {}  # scenario -> name -> file local workers write into
    folder = _shared_folder(executor, keep, by_scenario, sum(result_bytes(e) for e in scenarios.experiments))

    def arrived(s: int, c: int, result: dict) -> None:
        """A chain's result: kept draws go into their final arrays at once (nothing waits to be stacked)."""
        if keep:
            _store(finals.setdefault(s, {}), scenarios.experiments[s], c, result["samples"])
            result = None
        done[(s, c)] = result
    for s, experiment in enumerate(scenarios.experiments):
        if folder is not None:  # before any saved chain is stored: its rows go into the shared arrays too
            shared[s], finals[s] = _shared_files(experiment, seed, Path(folder.name), s)
        tasks = [("scenario", s)] if by_scenario else [("chain", (s, c)) for c in range(experiment.chains)]
        for key in tasks:
            result = saved.load(key) if resume else None
            if result is None and chain_results is not None:
                result = chain_results.get(key[1])
            if result is None and grouped:
                todo.append(s)  # run in a group below
                continue
            sizes[key] = experiment.samples if by_scenario else experiment.draws
            if result is None:
                rows = _final_rows(finals.setdefault(s, {}), experiment, key[1][1]) \
                    if keep and in_process(executor) and not by_scenario else None
                args = (experiment, seed, keep, outputs, key) if by_scenario else \
                    (experiment, seed, key[1][1], keep, outputs, key, rows, shared.get(s))
                jobs[key] = (scenario_task if by_scenario else chain_task, args)
            elif by_scenario:
                reduced[s] = result
            else:
                arrived(*key[1], result)
    for group in _groups(todo, GROUP_SCENARIOS):
        key = ("group", group)
        sizes[key] = sum(scenarios.experiments[s].samples for s in group)
        jobs[key] = (group_task, (tuple(scenarios.experiments[s] for s in group), seed, keep, outputs, key))
    started = now()

    def reduce_if_complete(s: int) -> None:
        """A scenario whose chains are all in becomes its Dataset at once; its parts are freed."""
        chains = scenarios.experiments[s].chains
        if all((s, c) in done for c in range(chains)):
            parts = [done.pop((s, c)) for c in range(chains)]
            reduced[s] = _scenario_dataset(scenarios.experiments[s], finals.pop(s) if keep else parts, keep,
                                           outputs)

    for s in {s for s, _ in done}:
        reduce_if_complete(s)
    bar = _Bar(sum(sizes.values()), quiet)
    bar.advance(None, sum(sizes[k] for k in sizes if k not in jobs))
    try:
        with listening(executor, bar.advance):
            for key, result in _completed(executor, jobs):
                if not by_scenario and key[1][0] in shared:  # the rows the worker wrote in place
                    s, c = key[1]
                    result = {"samples": {**{n: finals[s][n][c] for n in shared[s]}, **result["samples"]}}
                if key[0] == "group":  # one Dataset along scenario_index; saved scenario by scenario
                    if saved.box is not None:
                        for k, s in enumerate(key[1]):
                            saved.save(("scenario", s), result.isel(scenario_index=k))
                    reduced[key[1][0]] = result
                    bar.finish(key, sizes[key])
                    continue
                saved.save(key, result)
                if chain_results is not None:
                    chain_results[key[1]] = result
                bar.finish(key, sizes[key])
                if by_scenario:
                    reduced[key[1]] = result
                else:
                    arrived(*key[1], result)
                    del result
                    reduce_if_complete(key[1][0])
    finally:
        bar.close()
        if folder is not None:  # the files go; this process's mappings keep the draws
            folder.cleanup()
    result = stack_scenarios(scenarios, _in_order(reduced, len(scenarios.experiments)))
    result.attrs = provenance(scenarios.experiments, text=scenarios.text, path=scenarios.path, seed=seed,
                              keep_samples=keep, axes=scenarios.dims, started=started,
                              quantiles_from="samples (exact)" if keep else
                              f"sketches (relative error {SKETCH_ALPHA:g})")
    result = _with_pooled(result, scenarios)
    if box is not None and box.discarded:
        warnings.warn(CheckpointWarning(f"{len(box.discarded)} saved task file(s) in {box.folder} did not match "
                                        f"their checksum and were computed again: {', '.join(box.discarded[:3])}"),
                      stacklevel=2)
    if out:
        save(result, out, overwrite=overwrite)
        box.remove()
    return result


def _in_order(reduced: dict[int, xr.Dataset], count: int) -> list[xr.Dataset]:
    """The scenarios' Datasets in grid order: one per scenario, or a group's (along ``scenario_index``)
    under its first scenario."""
    found, s = [], 0
    while s < count:
        found.append(reduced[s])
        s += reduced[s].sizes.get("scenario_index", 1)
    return found


def _with_pooled(result: xr.Dataset, scenarios: ScenarioSet) -> xr.Dataset:
    """`result` with the mixture over its weighted axis, if it has one: ``pooled_*`` and the variance share.

    The pooled summary has the variables of a scenario's (``pooled_quantile`` …) over
    the other axes; ``variance_share`` says how much of the pooled variance of
    log10(main output) the choice along the axis explains.
    """
    if not scenarios.weights:
        return result
    axis, weights = next(iter(scenarios.weights.items()))
    spec = dataclasses.replace(scenarios.base.summary, outputs=_pooled_outputs(scenarios, result))
    pooled = pool(result, axis, weights, spec)
    share = axis_variance_share(result, axis, weights, scale=share_scale(result, axis, weights))
    summary_names = [n for n in pooled.data_vars]
    result = result.assign({f"{POOLED}{n}": pooled[n] for n in summary_names})
    result = result.assign({n: share[n] for n in share.data_vars}).assign_coords(weight=(axis, list(weights)))
    result.attrs = {**result.attrs, "weighted_axis": axis, "weights": json.dumps(list(weights)),
                    "variance_share_scale": share.attrs["scale"]}
    return result


def _summary_outputs(scenarios: ScenarioSet) -> tuple[str, ...]:
    """The outputs every scenario produces, then those a scenario lists of its own model only.

    (A file with several models lists, per scenario, the outputs its model has:
    :func:`~overhang_sim.scenarios.scenarios_from_table`.)
    """
    spec = scenarios.base.summary
    produced = [set(e.model_spec.outputs) - set(e.priors) for e in scenarios.experiments]  # a prior replaces an output
    wanted = spec.outputs or DEFAULT_OUTPUTS
    found = tuple(o for o in wanted if all(o in p for p in produced))
    found = found or tuple(o for o in scenarios.base.model_spec.outputs if all(o in p for p in produced))
    own = (o for e, p in zip(scenarios.experiments, produced) for o in e.summary.outputs if o in p)
    return tuple(dict.fromkeys((*found, *own)))


def _pooled_outputs(scenarios: ScenarioSet, result: xr.Dataset) -> tuple[str, ...]:
    """The summarised outputs every scenario produces (one only some models have is not pooled)."""
    produced = [set(e.model_spec.outputs) - set(e.priors) for e in scenarios.experiments]
    return tuple(str(o) for o in result["output"].values if all(str(o) in p for p in produced))


def _scenario_dataset(experiment: Experiment, chains, keep: bool, outputs) -> xr.Dataset:
    """One scenario's Dataset: from its ``(chain, draw)`` arrays by name when kept, else from its
    chains' task results (in chain order)."""
    if keep:
        run = run_dataset(experiment, chains)
        run.attrs = {"main_output": experiment.main}
        summary = summarize(run, _spec(experiment, tuple(o for o in outputs if o in run)))
        return xr.merge([run, summary], combine_attrs="override")
    present = [o for o in outputs if o in chains[0]["parts"]]
    parts = {o: [ch["parts"][o] for ch in chains] for o in present}
    return summary_from_parts(parts, _spec(experiment, tuple(present)), _meta(experiment, present),
                              {"main_output": experiment.main})


def _meta(experiment, outputs) -> dict[str, tuple[str, str]]:
    """Each output's (units, long_name)."""
    return {o: (variable_attrs(experiment, o)["units"], variable_attrs(experiment, o)["long_name"]) for o in outputs}


def _spec(experiment, outputs):
    return dataclasses.replace(experiment.summary, outputs=outputs)

