"""Run every scenario of an experiment file: in parallel, resumable, in bounded memory.

The unit of work is one chain of one scenario, or a whole scenario (all its
chains, reduced on the worker) when a file has :data:`SCENARIO_TASKS_MIN` scenarios
or more. A chain depends only on the scenario's experiment, the seed and the chain
number (see :func:`~overhang_sim.simulate.chain_design`), and a scenario is reduced
from its chains in chain order, never in the order tasks finish, so the result is
bit-identical for any number of workers, local or on a dask.distributed cluster. Scenarios share
their draws (common random numbers), so comparisons between them are paired.

Two kinds of result:

``samples`` (the default when they fit in :data:`KEEP_SAMPLES_BYTES`)
    Every input and output with dims ``(*axes, chain, draw)`` and exact summaries.
``streamed`` (``keep_samples=False``)
    Each task reduces its chain to quantile sketches
    (:mod:`~overhang_sim.sketch`), exact exceedance counts and exact sums; the
    summaries come from those, so memory does not grow with the sample count.

A checkpoint folder (``OUT.partial``) holds one file per finished task (a chain's
arrays, or a scenario's Dataset), written atomically; :func:`run` with ``resume=True`` loads them and computes the rest.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import dataclasses
import hashlib
import json
import os
import pickle
import platform
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

import numpy as np
import scipy
import xarray as xr

from .config import Experiment
from .errors import ConfigError, StorageError
from .scenarios import ScenarioSet
from .simulate import (
    chain_design,
    check_memory,
    draw_range,
    result_bytes,
    run_dataset,
    sample_chain,
    variable_attrs,
)
from .summaries import DEFAULT_OUTPUTS, block_part, merge_parts, summarize, summary_from_parts

__all__ = ["BLOCK", "KEEP_SAMPLES_BYTES", "compare", "run", "stack_scenarios"]

BLOCK = 2**16  # draws a task evaluates at a time: fixed, so sums never depend on the split
KEEP_SAMPLES_BYTES = 2 * 10**9  # keep raw samples by default up to this size
SKETCH_ALPHA = 1e-3  # relative accuracy of streamed quantiles
PARALLEL_MIN_SAMPLES = 10**6  # smaller runs stay in this process unless workers are given
SCENARIO_TASKS_MIN = 8  # with this many scenarios a task is a whole scenario, else one chain


# --------------------------------------------------------------------------- tasks


def chain_task(experiment: Experiment, seed: int, chain: int, keep: bool, outputs: tuple[str, ...],
               thresholds: tuple[float, ...]) -> dict:
    """Everything one chain of one scenario contributes (runs on a worker).

    Returns
    -------
    dict
        ``{"samples": {name: (draws,) array}}`` when `keep`; otherwise
        ``{"parts": {output: arrays}}``: the chain's quantile sketch, sums and
        exceedance counts per output (:func:`~overhang_sim.summaries.merge_parts`).
    """
    draws = experiment.draws
    if keep:
        samples: dict[str, np.ndarray] = {}
        sample_chain(experiment, seed, chain, lambda name: samples.setdefault(name, np.empty(draws)), BLOCK)
        return {"samples": samples}
    design = chain_design(experiment, seed, chain)
    blocks: dict[str, list[dict]] = {}
    for start in range(0, draws, BLOCK):
        values = draw_range(experiment, design, start, min(draws, start + BLOCK))
        for o in outputs:
            if o in values:
                x = np.broadcast_to(values[o], (min(draws, start + BLOCK) - start,))
                blocks.setdefault(o, []).append(
                    block_part(x, SKETCH_ALPHA, thresholds if o == "instances" else ()))
    return {"parts": {o: merge_parts(b) for o, b in blocks.items()}}


def scenario_task(experiment: Experiment, seed: int, keep: bool, outputs: tuple[str, ...],
                  thresholds: tuple[float, ...]) -> xr.Dataset:
    """Every chain of one scenario, reduced to its Dataset (runs on a worker).

    Used when a file has enough scenarios to keep every worker busy: only the small
    reduced Dataset travels back, not each chain's sketches.
    """
    chains = [chain_task(experiment, seed, c, keep, outputs, thresholds) for c in range(experiment.chains)]
    return _scenario_dataset(experiment, chains, keep, outputs, seed)


# --------------------------------------------------------------------------- checkpoint


def _fingerprint(scenarios: ScenarioSet, seed: int, keep: bool) -> dict:
    return {"experiment_sha256": hashlib.sha256(scenarios.text.encode()).hexdigest(),
            "samples": scenarios.base.samples, "chains": scenarios.base.chains,
            "method": scenarios.base.method, "seed": int(seed), "keep_samples": bool(keep),
            "overhang_sim_version": version("overhang-sim")}


class Checkpoint:
    """A folder of finished tasks next to the output file, one ``.npz`` each, written atomically."""

    def __init__(self, folder: Path, fingerprint: dict, resume: bool, experiment_file: str):
        self.folder = folder
        manifest = folder / "manifest.json"
        if folder.exists() and not resume:
            raise StorageError(f"an unfinished run is saved in {str(folder)!r}; add --resume to continue it "
                               "or delete that folder", file=str(folder.with_suffix("")))
        if resume and manifest.exists():
            saved = json.loads(manifest.read_text())
            changed = [k for k in fingerprint if saved.get(k) != fingerprint[k]]
            if changed:
                what = ", ".join(f"{k} was {saved.get(k)!r}, now {fingerprint[k]!r}" if k != "experiment_sha256"
                                 else "the experiment file has changed" for k in changed)
                raise ConfigError(f"cannot resume: {what}; run without --resume into a new --out",
                                  file=experiment_file, key="--resume")
        folder.mkdir(parents=True, exist_ok=True)
        _atomic_write_bytes(manifest, json.dumps(fingerprint, indent=1).encode())

    def _path(self, scenario: int, chain: int) -> Path:
        return self.folder / f"s{scenario:06d}_c{chain:04d}.npz"

    def load(self, scenario: int, chain: int) -> dict | None:
        path = self._path(scenario, chain)
        if not path.exists():
            return None
        with np.load(path) as npz:
            arrays = {k: npz[k] for k in npz.files}
        out: dict = {}
        for key, value in arrays.items():
            top, name, *rest = key.split("/", 2)  # samples/NAME or parts/OUTPUT/FIELD
            if rest:
                out.setdefault(top, {}).setdefault(name, {})[rest[0]] = value
            else:
                out.setdefault(top, {})[name] = value
        return out

    def save(self, scenario: int, chain: int, result: dict) -> None:
        flat = dict(_flatten(result))
        path = self._path(scenario, chain)
        temporary = path.with_name(f".{path.name}.tmp")
        with open(temporary, "wb") as handle:
            np.savez(handle, **flat)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)

    def _scenario_path(self, scenario: int) -> Path:
        return self.folder / f"s{scenario:06d}.pickle"

    def load_scenario(self, scenario: int) -> xr.Dataset | None:
        """A finished scenario's Dataset (this folder's own pickle, written by :meth:`save_scenario`)."""
        path = self._scenario_path(scenario)
        if not path.exists():
            return None
        with open(path, "rb") as handle:
            return pickle.load(handle)

    def save_scenario(self, scenario: int, result: xr.Dataset) -> None:
        path = self._scenario_path(scenario)
        temporary = path.with_name(f".{path.name}.tmp")
        with open(temporary, "wb") as handle:
            pickle.dump(result, handle, protocol=pickle.HIGHEST_PROTOCOL)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def _flatten(tree: dict, prefix: str = "") -> Iterator[tuple[str, np.ndarray]]:
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            yield from _flatten(value, name + "/")
        else:
            yield name, np.asarray(value)


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)


# --------------------------------------------------------------------------- running


@contextlib.contextmanager
def executor_for(workers: int | None = None, scheduler: str | None = None) -> Iterator[cf.Executor | None]:
    """The executor tasks run on: None (this process), local processes, or a dask cluster.

    Parameters
    ----------
    workers : int, optional
        Local worker processes; default: every core. 1 runs in this process.
    scheduler : str, optional
        Address of a dask.distributed scheduler (``tcp://host:8786``); the tasks run there.
    """
    if scheduler:
        try:
            from distributed import Client
        except ImportError:
            raise ConfigError("--scheduler needs dask.distributed: pip install 'overhang-sim[dask]'",
                              key="scheduler") from None
        try:
            client = Client(scheduler, timeout="5s", set_as_default=False)
        except (OSError, TimeoutError) as error:
            raise ConfigError(f"cannot reach the dask scheduler at {scheduler!r}: {error}",
                              key="scheduler") from None
        try:
            yield client.get_executor(pure=False)
        finally:
            client.close()
        return
    workers = os.cpu_count() or 1 if workers is None else workers
    if workers < 1:
        raise ConfigError(f"must be at least 1, not {workers}", key="workers")
    if workers == 1:
        yield None
        return
    with cf.ProcessPoolExecutor(max_workers=workers) as pool:
        yield pool


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
    finally:
        for future in futures:
            future.cancel()


def _progress(total: int, quiet: bool, unit: str = "chain"):
    """A tqdm bar on stderr, or a stand-in when quiet or stderr is not a terminal."""
    if quiet or not sys.stderr.isatty():
        return contextlib.nullcontext(_Silent())
    from tqdm import tqdm

    return tqdm(total=total, unit=unit, desc="overhang run", file=sys.stderr, dynamic_ncols=True)


class _Silent:
    def update(self, n: int = 1) -> None:
        pass


def run(scenarios: ScenarioSet, *, seed: int | None = None, keep_samples: bool | None = None,
        workers: int | None = None, scheduler: str | None = None, checkpoint: str | Path | None = None,
        resume: bool = False, quiet: bool = True) -> xr.Dataset:
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
    workers : int, optional
        Local processes (default: every core, or this process alone for runs of
        fewer than :data:`PARALLEL_MIN_SAMPLES` samples); ignored with `scheduler`.
    scheduler : str, optional
        dask.distributed scheduler address.
    checkpoint : path, optional
        Folder for finished tasks (the CLI uses ``OUT.partial``); removed on success.
    resume : bool
        Continue from the tasks already in `checkpoint`.
    quiet : bool
        No progress bar.

    Returns
    -------
    xarray.Dataset
        Summaries with dims ``(*axes, output, ...)`` and, when kept, samples with
        dims ``(*axes, chain, draw)``.
    """
    base = scenarios.base
    seed = base.seed if seed is None else seed
    total_bytes = sum(result_bytes(e) for e in scenarios.experiments)
    keep = total_bytes <= KEEP_SAMPLES_BYTES if keep_samples is None else keep_samples
    if keep:
        check_memory(scenarios.experiments)
    spec = base.summary
    outputs = _summary_outputs(scenarios)
    box = Checkpoint(Path(checkpoint), _fingerprint(scenarios, seed, keep), resume, scenarios.path) \
        if checkpoint else None
    jobs, done, reduced = {}, {}, {}
    by_scenario = len(scenarios.experiments) >= SCENARIO_TASKS_MIN
    for s, experiment in enumerate(scenarios.experiments):
        if by_scenario:
            saved = box.load_scenario(s) if box and resume else None
            if saved is not None:
                reduced[s] = saved
            else:
                jobs["scenario", s] = (scenario_task, (experiment, seed, keep, outputs, spec.thresholds))
            continue
        for c in range(experiment.chains):
            saved = box.load(s, c) if box and resume else None
            if saved is not None:
                done[s, c] = saved
            else:
                jobs["chain", (s, c)] = (chain_task, (experiment, seed, c, keep, outputs, spec.thresholds))
    started = datetime.now(UTC).isoformat(timespec="seconds")
    if workers is None and sum(e.samples for e in scenarios.experiments) < PARALLEL_MIN_SAMPLES:
        workers = 1  # starting worker processes would take longer than the run

    def reduce_if_complete(s: int) -> None:
        """A scenario whose chains are all in becomes its Dataset at once; its parts are freed."""
        chains = scenarios.experiments[s].chains
        if all((s, c) in done for c in range(chains)):
            reduced[s] = _scenario_dataset(scenarios.experiments[s], [done.pop((s, c)) for c in range(chains)],
                                           keep, outputs, seed)

    finished = len(reduced) if by_scenario else len(done)  # tasks saved by an earlier, interrupted run
    for s in {s for s, _ in done}:
        reduce_if_complete(s)
    with executor_for(workers, scheduler) as executor, \
            _progress(len(jobs) + finished, quiet, "scenario" if by_scenario else "chain") as bar:
        bar.update(finished)
        for (kind, key), result in _completed(executor, jobs):
            if kind == "scenario":
                if box:
                    box.save_scenario(key, result)
                reduced[key] = result
            else:
                if box:
                    box.save(*key, result)
                done[key] = result
                reduce_if_complete(key[0])
            bar.update(1)
    result = stack_scenarios(scenarios, [reduced[s] for s in range(len(scenarios.experiments))])
    result.attrs.update(_provenance(scenarios, seed, keep, started))
    return result


def _summary_outputs(scenarios: ScenarioSet) -> tuple[str, ...]:
    spec = scenarios.base.summary
    produced = [set(e.model_spec.outputs) for e in scenarios.experiments]
    wanted = spec.outputs or DEFAULT_OUTPUTS
    return tuple(o for o in wanted if all(o in p for p in produced))


# --------------------------------------------------------------------------- assembling


def _scenario_dataset(experiment: Experiment, chains: list[dict], keep: bool, outputs, seed) -> xr.Dataset:
    """One scenario's Dataset from its chains' task results (in chain order)."""
    if keep:
        arrays = {name: np.stack([ch["samples"][name] for ch in chains]) for name in chains[0]["samples"]}
        run = run_dataset(experiment, seed, arrays)
        summary = summarize(run, _spec(experiment, tuple(o for o in outputs if o in run)))
        return xr.merge([run, summary], combine_attrs="override")
    present = [o for o in outputs if o in chains[0]["parts"]]
    parts = {o: [ch["parts"][o] for ch in chains] for o in present}
    meta = {o: (variable_attrs(o)["units"], variable_attrs(o)["long_name"]) for o in present}
    attrs = {"experiment_name": experiment.name, "model": experiment.model, "method": experiment.method,
             "seed": int(seed), "samples": experiment.chains * experiment.draws, "chains": experiment.chains}
    return summary_from_parts(parts, _spec(experiment, tuple(present)), meta, attrs)


def stack_scenarios(scenarios: ScenarioSet, datasets: list[xr.Dataset]) -> xr.Dataset:
    """One Dataset per scenario (grid order) -> one Dataset with the scenario axes as dims.

    Variables a scenario lacks are NaN there; an axis that fixes an input replaces
    that input's variable (the coordinate is the input).
    """
    if not scenarios.dims:
        return datasets[0]
    stacked = xr.concat(datasets, dim="scenario_index", data_vars="all", coords="minimal",
                        compat="override", join="outer", combine_attrs="override")
    index = {d: ("scenario_index", [scenarios.labels(i)[d] for i in range(len(datasets))])
             for d in scenarios.dims}
    stacked = stacked.drop_vars([d for d in scenarios.fixed_axes if d in stacked.data_vars])
    stacked = stacked.assign_coords(index)
    if "output" in stacked.coords and "unit" in stacked.coords:  # label outputs a first scenario lacks
        names = [str(o) for o in stacked["output"].values]
        stacked = stacked.assign_coords(unit=("output", [variable_attrs(o)["units"] for o in names]),
                                        long_name=("output", [variable_attrs(o)["long_name"] for o in names]))
    if len(scenarios.dims) == 1:
        return stacked.swap_dims(scenario_index=scenarios.dims[0])
    stacked = stacked.set_index(scenario_index=list(scenarios.dims))
    return stacked.unstack("scenario_index").transpose(*scenarios.dims, ...)


def _spec(experiment, outputs):
    return dataclasses.replace(experiment.summary, outputs=outputs)


def _provenance(scenarios: ScenarioSet, seed: int, keep: bool, started: str) -> dict:
    base = scenarios.base
    return {
        "title": f"overhang-sim run of experiment {base.name!r}",
        "experiment_name": base.name,
        "experiment_path": scenarios.path,
        "experiment_text": scenarios.text,
        "experiment_sha256": hashlib.sha256(scenarios.text.encode()).hexdigest(),
        "resolved_priors": json.dumps([{n: str(p.dist) for n, p in sorted(e.priors.items())}
                                       for e in scenarios.experiments]),
        "scenario_axes": json.dumps(list(scenarios.dims)),
        "model": ", ".join(dict.fromkeys(e.model for e in scenarios.experiments)),
        "seed": int(seed),
        "method": base.method,
        "samples": base.chains * base.draws,
        "chains": base.chains,
        "draws": base.draws,
        "keep_samples": int(keep),
        "quantiles_from": "samples (exact)" if keep else f"sketches (relative error {SKETCH_ALPHA:g})",
        "overhang_sim_version": version("overhang-sim"),
        "versions": json.dumps({"python": platform.python_version(), "numpy": np.__version__,
                                "scipy": scipy.__version__, "xarray": xr.__version__}),
        "git_commit": _git_commit(Path(scenarios.path).parent),
        "started": started,
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def _git_commit(folder: Path) -> str:
    try:
        out = subprocess.run(["git", "-C", str(folder), "rev-parse", "HEAD"], capture_output=True,
                             text=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.stdout.strip() if out.returncode == 0 else ""


# --------------------------------------------------------------------------- paired comparisons


def compare(result: xr.Dataset, a: dict, b: dict, output: str = "instances") -> dict:
    """P(A > B) and the median of log10(A / B) for two scenarios of a run with samples.

    Because scenarios share their draws, the comparison is paired draw by draw.

    Parameters
    ----------
    result : xarray.Dataset
        A :func:`run` result with samples.
    a, b : dict
        Axis values selecting one scenario each, e.g. ``{"required_tokens_per_s": 10}``.
    output : str
        The output compared.

    Returns
    -------
    dict
        ``p_a_greater`` and ``median_log10_ratio`` (orders of magnitude), each with
        its Monte Carlo standard error (between chains).
    """
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
    chains = ratio.shape[0]
    se = (lambda v: float(np.std(v, ddof=1) / np.sqrt(chains)) if chains > 1 else float("nan"))
    return {"p_a_greater": float((ratio > 0).mean()), "p_a_greater_mcse": se(greater),
            "median_log10_ratio": float(np.median(ratio)), "median_log10_ratio_mcse": se(medians)}
