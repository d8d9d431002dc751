"""Scale `overhang_sim.batch.run`: worker speed-up, streamed memory, sketch quantile error.

Every grid is the baseline experiment as shipped (priors, rank correlation, compute
path, its own ``[summary]``) with one ``[[axes]]`` added: ``required_tokens_per_s``
fixed at N evenly spaced values from 5 to 100 token/s, one scenario each. The
experiment is written as a temporary TOML file (the priors file by absolute path)
and read back with :func:`overhang_sim.scenarios.load_scenarios`.

1. Worker speed-up: a 100-scenario x 1e5-sample grid run with ``keep_samples=False``
   on ``workers=1`` (in this process) and ``workers=2`` (local processes), interleaved,
   best of ``--repeats``; the two results must be identical (after ``drop_attrs``: the
   provenance holds the start and finish times). A small warm-up run first builds the
   beta PPF tables, which forked workers then inherit: not counted. The CPU time of
   the main process and of the workers (RUSAGE_SELF / RUSAGE_CHILDREN growth) says
   how much of a run is serial and whether other load on the machine slowed it.
2. Streaming: for each of ``--scenarios``, a grid of ``--total`` samples (``total /
   scenarios`` each), ``keep_samples=False``, ``--workers`` workers, run in a fresh
   (spawned) child process. Memory, in GB of 1e9 bytes:

   * main process peak: ``ru_maxrss`` (RUSAGE_SELF) of the child, exact;
   * worker peaks: each worker's ``VmHWM`` (its own peak RSS) from
     ``/proc/PID/status``, read every ``--interval`` s while it runs. Not
     ``ru_maxrss`` for RUSAGE_CHILDREN: that is the largest waited-for child, and
     ``batch.run`` ends by running ``git rev-parse``, which (vfork + exec) inherits
     the main process's peak as its own;
   * bound: main peak + workers x largest worker peak, an upper bound on the tree's
     peak (forked workers share the main process's pages at the fork and each counts
     them; the peaks need not coincide);
   * sampled tree PSS: the largest sum, over the child and all its descendants, of
     ``Pss`` from ``/proc/PID/smaps_rollup`` (shared pages divided among the
     processes sharing them, so the sum is the memory the tree really uses), every
     ``--interval`` s: a spike between samples can be missed.

   The target (<= 2 GB) is judged on both. The main process keeps every finished
   task's result until all are done, so the scenario count matters as well as the
   sample count: the default runs 1,000 x 1e6 and 100 x 1e7.
3. Quantile error: one scenario (the baseline, its ``required_tokens_per_s`` prior
   kept) with ``--quantile-samples`` samples, run with ``keep_samples=False`` and
   ``keep_samples=True``. For each summary output and quantile probability, the
   streamed quantile is compared with ``np.quantile(kept draws, p,
   method="inverted_cdf")`` (the rank the sketch reports); the largest relative error
   is printed next to ``batch.SKETCH_ALPHA``, and the Monte Carlo standard error of
   the same quantiles (the streamed summary's ``quantile_mcse``, relative) for scale.

Run from the repository root (2 cores: 10 to 13 minutes at the default sizes;
``--quick`` takes well under a minute)::

    PYTHONPATH=src python benchmarks/batch_scaling.py [--repeats 3] [--total 1e9] [--scenarios 1000 100]
    PYTHONPATH=src python benchmarks/batch_scaling.py --quick
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import tempfile
import threading
import time
import traceback
from pathlib import Path

import numpy as np
import xarray as xr

from overhang_sim import batch
from overhang_sim.executors import executor_for


def _run(scenarios, workers=1, **options):
    with executor_for(workers) as executor:
        return batch.run(scenarios, executor=executor, **options)
from overhang_sim.config import read_toml
from overhang_sim.scenarios import load_scenarios

EXPERIMENT = Path(__file__).resolve().parents[1] / "experiments" / "baseline.toml"
AXIS = "required_tokens_per_s"
AXIS_RANGE = (5.0, 100.0)  # token/s
SPEEDUP_TARGET = 1.7  # workers=1 time / workers=2 time
MEMORY_TARGET = 2e9  # bytes, the whole process tree of a streamed 1e9-sample run
GB = 1e9


# --------------------------------------------------------------------------- experiment files


def _toml(value) -> str:
    """`value` (from a parsed TOML file) as a TOML value; tables become inline tables."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)  # finite: the file was parsed and checked
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)} = {_toml(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"cannot write {value!r} as TOML")


def write_grid(folder: Path, samples: int, scenarios: int | None) -> Path:
    """The baseline with `samples`, and `scenarios` values of AXIS (None: no axis), as a file."""
    _, table = read_toml(EXPERIMENT)
    table = dict(table, name="batch_scaling", samples=int(samples))
    table["priors"] = [str((EXPERIMENT.parent / p).resolve()) for p in table.get("priors", [])]
    if scenarios is not None:
        values = [float(v) for v in np.linspace(*AXIS_RANGE, scenarios)] if scenarios > 1 else [AXIS_RANGE[0]]
        table["axes"] = [{"name": AXIS, "values": values}]
    text = "".join(f"{key} = {_toml(value)}\n" for key, value in table.items())
    path = folder / f"grid_{scenarios}x{samples}.toml"
    path.write_text(text, encoding="utf-8")
    return path


def timed(fn, *args, **kwargs):
    """(seconds, result) of one call."""
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return time.perf_counter() - start, result


def _cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def timed_run(grid, workers: int) -> tuple[float, float, float, xr.Dataset]:
    """(wall s, this process's CPU s, workers' CPU s, result) of one streamed batch run.

    The workers' CPU time is RUSAGE_CHILDREN's growth: the pool joins its workers
    before ``batch.run`` returns (it also holds the run's ``git rev-parse``, a few ms).
    """
    self_cpu, children_cpu = _cpu(resource.RUSAGE_SELF), _cpu(resource.RUSAGE_CHILDREN)
    seconds, result = timed(_run, grid, workers=workers, keep_samples=False)
    return (seconds, _cpu(resource.RUSAGE_SELF) - self_cpu, _cpu(resource.RUSAGE_CHILDREN) - children_cpu,
            result)


# --------------------------------------------------------------------------- 1. speed-up


def speedup(folder: Path, scenarios: int, samples: int, workers: int, repeats: int) -> None:
    grid = load_scenarios(write_grid(folder, samples, scenarios))
    warm = load_scenarios(write_grid(folder, 1_000, 2))
    setup, _ = timed(_run, warm, workers=1, keep_samples=False)
    print(f"setup (warm-up run: imports, beta PPF tables): {setup:.2f} s, not counted below")
    load = os.getloadavg()[0]
    runs: dict[int, list[tuple]] = {1: [], workers: []}
    results = {}
    for r in range(repeats):  # interleaved, the order alternating between rounds
        for w in ((1, workers) if r % 2 == 0 else (workers, 1)):
            *measured, results[w] = timed_run(grid, w)
            runs[w].append(tuple(measured))
    best1, bestw = min(runs[1]), min(runs[workers])
    ratio = best1[0] / bestw[0]
    chains = grid.base.chains
    print(f"grid: {len(grid.experiments)} scenarios x {samples:.0e} samples ({chains} chains of "
          f"{grid.base.draws} draws; {_tasks(len(grid.experiments), chains)}), keep_samples=False; "
          f"start method {multiprocessing.get_start_method()!r}")
    print(f"workers=1: {best1[0]:.2f} s; workers={workers}: {bestw[0]:.2f} s; speed-up {ratio:.2f}x "
          f"(target >= {SPEEDUP_TARGET:g}x: {'met' if ratio >= SPEEDUP_TARGET else 'MISSED'})")
    print(f"  all rounds: workers=1 {', '.join(f'{t[0]:.2f}' for t in runs[1])} s; "
          f"workers={workers} {', '.join(f'{t[0]:.2f}' for t in runs[workers])} s; "
          f"1-min load average {load:.2f} before, {os.getloadavg()[0]:.2f} after")
    parent, pool = bestw[1], bestw[2]
    print(f"  CPU s of the best runs: workers=1 {best1[1]:.2f}; workers={workers}: main process {parent:.2f} "
          f"(submitting, collecting, assembling: serial) + workers {pool:.2f}; wall if the workers "
          f"split their CPU evenly and the main process ran alone after them: {parent + pool / workers:.2f} s "
          f"(speed-up {best1[0] / (parent + pool / workers):.2f}x)")
    try:
        xr.testing.assert_identical(results[1].drop_attrs(), results[workers].drop_attrs())
        print(f"results of workers=1 and workers={workers}: identical (xr.testing.assert_identical "
              "after drop_attrs)")
    except AssertionError as error:
        print(f"results of workers=1 and workers={workers}: DIFFER\n{error}")


# --------------------------------------------------------------------------- 2. streaming memory


def _tree(root: int) -> list[int]:
    """`root` and every process descended from it (by the parent pid in /proc/PID/stat)."""
    parents: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as f:
                stat = f.read()
        except OSError:  # gone meanwhile
            continue
        ppid = int(stat[stat.rindex(")") + 2:].split()[1])  # the name may hold spaces
        parents.setdefault(ppid, []).append(int(entry.name))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo += parents.get(pid, [])
    return tree


def _rollup(pid: int) -> tuple[int, int]:
    """(Rss, Pss) of process `pid` in bytes, (0, 0) if it is gone."""
    return _fields(f"/proc/{pid}/smaps_rollup", "Rss:", "Pss:")


def _fields(path: str, *names: str) -> tuple[int, ...]:
    """The kB values of lines `names` of a /proc file, in bytes (0 if missing or gone)."""
    found = dict.fromkeys(names, 0)
    try:
        with open(path) as f:
            for line in f:
                key = line.split(maxsplit=1)[0]
                if key in found:
                    found[key] = int(line.split()[1]) * 1024
    except OSError:
        pass
    return tuple(found.values())


def _exe(pid: int) -> str:
    try:
        return os.readlink(f"/proc/{pid}/exe")
    except OSError:
        return ""


class TreeSampler(threading.Thread):
    """Samples the memory of this process's tree until stopped; keeps the peaks.

    Per tick: the summed Pss and Rss over the tree, and each Python descendant's
    (worker's) VmHWM, its own peak RSS so far.
    """

    def __init__(self, interval: float):
        super().__init__(daemon=True)
        self.interval, self.stopped = interval, threading.Event()
        self.peak_pss = self.peak_rss = self.most_processes = self.ticks = 0
        self.worker_hwm: dict[int, int] = {}

    def run(self) -> None:
        root, python = os.getpid(), _exe(os.getpid())
        while not self.stopped.wait(self.interval):
            pids = _tree(root)
            sizes = [_rollup(pid) for pid in pids]
            self.peak_rss = max(self.peak_rss, sum(s[0] for s in sizes))
            self.peak_pss = max(self.peak_pss, sum(s[1] for s in sizes))
            self.most_processes = max(self.most_processes, len(pids))
            for pid in pids[1:]:
                if _exe(pid) == python:  # a worker, not the git subprocess of the provenance
                    hwm = _fields(f"/proc/{pid}/status", "VmHWM:")[0]
                    self.worker_hwm[pid] = max(self.worker_hwm.get(pid, 0), hwm)
            self.ticks += 1


def streamed_run(folder: str, scenarios: int, samples: int, workers: int, interval: float) -> dict:
    """One streamed batch run with its memory (meant for a fresh child process)."""
    load_s, grid = timed(load_scenarios, write_grid(Path(folder), samples, scenarios))
    rss_before = _rollup(os.getpid())[0]
    sampler = TreeSampler(interval)
    sampler.start()
    load = os.getloadavg()[0]
    seconds, main_cpu, workers_cpu, result = timed_run(grid, workers)
    sampler.stopped.set()
    sampler.join()
    return {
        "main_cpu": main_cpu, "workers_cpu": workers_cpu, "load": (load, os.getloadavg()[0]),
        "load_s": load_s, "seconds": seconds, "scenarios": len(grid.experiments), "chains": grid.base.chains,
        "samples": sum(e.chains * e.draws for e in grid.experiments), "draws": grid.base.draws,
        "rss_before": rss_before, "result_nbytes": result.nbytes,
        "parent_peak": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,  # KiB on Linux
        "worker_peaks": sorted(sampler.worker_hwm.values(), reverse=True),
        "tree_pss": sampler.peak_pss, "tree_rss": sampler.peak_rss,
        "processes": sampler.most_processes, "ticks": sampler.ticks,
    }


def _child(connection, *args) -> None:
    try:
        connection.send(("ok", streamed_run(*args)))
    except Exception:  # noqa: BLE001 -- any failure goes back to the parent as a traceback
        connection.send(("error", traceback.format_exc()))
    finally:
        connection.close()


def streamed_run_in_child(*args) -> dict:
    """:func:`streamed_run` in a spawned, non-daemonic process (it starts its own workers)."""
    context = multiprocessing.get_context("spawn")
    receive, send = context.Pipe(duplex=False)
    process = context.Process(target=_child, args=(send, *args))
    process.start()
    send.close()
    status, value = receive.recv()
    process.join()
    if status != "ok":
        raise RuntimeError(f"the streamed run failed in the child process:\n{value}")
    return value


def _tasks(scenarios: int, chains: int) -> str:
    """How batch.run splits the work: a task per scenario, or per chain for few scenarios."""
    if scenarios >= batch.SCENARIO_TASKS_MIN:
        return f"{scenarios} tasks, one per scenario"
    return f"{scenarios * chains} tasks, one per chain"


def streaming(folder: Path, total: int, scenarios: int, workers: int, interval: float) -> None:
    samples = total // scenarios
    m = streamed_run_in_child(str(folder), scenarios, samples, workers, interval)
    print(f"grid: {m['scenarios']} scenarios x {samples:.3g} samples = {m['samples']:.3g} samples "
          f"({m['chains']} chains of {m['draws']} draws; {_tasks(m['scenarios'], m['chains'])}), "
          f"keep_samples=False, workers={workers}, in a spawned child "
          f"(scenarios loaded in {m['load_s']:.1f} s, not counted)")
    print(f"time {m['seconds']:.1f} s: {m['samples'] / m['seconds']:.3g} samples/s "
          f"({m['samples'] / m['seconds'] / workers:.3g} per worker); CPU s: main process {m['main_cpu']:.1f} "
          f"(includes the memory sampler), workers {m['workers_cpu']:.1f} ({m['samples'] / m['workers_cpu']:.3g} "
          f"samples per CPU s); 1-min load average {m['load'][0]:.2f} before, {m['load'][1]:.2f} after")
    largest = m["worker_peaks"][0] if m["worker_peaks"] else 0
    print(f"peak RSS: main process {m['parent_peak'] / GB:.3f} GB (ru_maxrss; {m['rss_before'] / GB:.3f} GB before "
          f"the run); workers {', '.join(f'{p / GB:.3f}' for p in m['worker_peaks']) or '(none seen)'} GB "
          f"(VmHWM); result Dataset {m['result_nbytes'] / 1e6:.2f} MB")
    sampled = (f"sampled tree PSS, every {interval:g} s ({m['ticks']} samples, up to {m['processes']} "
               f"processes; summed RSS {m['tree_rss'] / GB:.3f} GB)")
    bound = m["parent_peak"] + workers * largest
    for label, value in ((f"main + {workers} x largest worker peak (upper bound)", bound), (sampled, m["tree_pss"])):
        print(f"memory {label}: {value / GB:.3f} GB "
              f"(target <= {MEMORY_TARGET / GB:g} GB: {'met' if value <= MEMORY_TARGET else 'MISSED'})")


# --------------------------------------------------------------------------- 3. quantile error


def quantile_error(folder: Path, samples: int, workers: int) -> None:
    grid = load_scenarios(write_grid(folder, samples, None))
    streamed = _run(grid, workers=workers, keep_samples=False)
    kept = _run(grid, workers=workers, keep_samples=True)
    probs = streamed["prob"].values
    print(f"one scenario, {samples:.0e} samples ({grid.base.chains} chains), workers={workers}; "
          f"probs {', '.join(f'{p:g}' for p in probs)}; stated bound SKETCH_ALPHA = {batch.SKETCH_ALPHA:g}")
    worst, worst_at, worst_ratio = 0.0, "", 0.0
    for output in streamed["output"].values:
        exact = np.quantile(kept[output].values.ravel(), probs, method="inverted_cdf")
        got = streamed["quantile"].sel(output=output, scale="linear").values
        mcse = streamed["quantile_mcse"].sel(output=output, scale="linear").values
        error = np.abs(got / exact - 1)
        relative_se = mcse / np.abs(exact)
        i = int(np.argmax(error))
        print(f"  {output:22s} max rel error {error.max():.2e} (p={probs[i]:g}); rel MCSE "
              f"{relative_se.min():.1e} to {relative_se.max():.1e}; error / MCSE <= {np.max(error / relative_se):.3f}")
        if error.max() > worst:
            worst, worst_at = float(error.max()), f"{output} p={probs[i]:g}"
        worst_ratio = max(worst_ratio, float(np.max(error / relative_se)))
    print(f"largest relative error {worst:.2e} ({worst_at}); bound {batch.SKETCH_ALPHA:g}: "
          f"{'met' if worst <= batch.SKETCH_ALPHA else 'MISSED'}; at most {worst_ratio:.3f} of the "
          "Monte Carlo standard error")
    linear = kept["quantile"].sel(scale="linear")  # the exact summary interpolates (method="linear")
    exact = xr.concat([xr.DataArray(np.quantile(kept[o].values.ravel(), probs, method="inverted_cdf"),
                                    dims="prob", coords={"prob": probs}) for o in linear["output"].values],
                      dim=linear["output"])
    print(f"  (kept summary's quantiles, method='linear', vs inverted_cdf: max rel difference "
          f"{float(np.abs(linear / exact - 1).max()):.1e})")


# --------------------------------------------------------------------------- main


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="rounds of the speed-up timing (best of)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--grid-scenarios", type=int, default=100, help="scenarios of the speed-up grid")
    parser.add_argument("--grid-samples", type=float, default=1e5, help="samples per scenario, speed-up grid")
    parser.add_argument("--total", type=float, default=1e9, help="samples of the streamed run, all scenarios")
    parser.add_argument("--scenarios", type=int, nargs="+", default=[1000, 100],
                        help="scenarios of the streamed run (one run for each)")
    parser.add_argument("--quantile-samples", type=float, default=1e7)
    parser.add_argument("--interval", type=float, default=0.2, help="seconds between memory samples")
    parser.add_argument("--quick", action="store_true",
                        help="small sizes for a check: --repeats 1 --grid-samples 1e4 --total 1e7 "
                             "--scenarios 100 --quantile-samples 1e6")
    parser.add_argument("--smoke", action="store_true", help="a tiny size, for CI (does the script still run)")
    args = parser.parse_args(argv)
    if args.smoke:
        args.repeats, args.grid_scenarios, args.grid_samples, args.total, args.quantile_samples = 1, 8, 800, 8e4, 1e4
        args.scenarios = [8]
    if args.quick:
        args.repeats, args.grid_samples, args.total, args.quantile_samples = 1, 1e4, 1e7, 1e6
        args.scenarios = [100]
    if args.workers < 2:
        parser.error("--workers must be at least 2")
    if args.total < max(args.scenarios) * 8:
        parser.error("--total must give each scenario at least one draw per chain")
    with tempfile.TemporaryDirectory(prefix="batch_scaling_") as folder:
        folder = Path(folder)
        print(f"baseline {EXPERIMENT.name} with axis {AXIS} from {AXIS_RANGE[0]:g} to {AXIS_RANGE[1]:g} "
              f"token/s; {os.cpu_count()} cores")
        print("1. worker speed-up")
        speedup(folder, args.grid_scenarios, int(args.grid_samples), args.workers, args.repeats)
        print("2. streaming in bounded memory")
        for scenarios in args.scenarios:
            streaming(folder, int(args.total), scenarios, args.workers, args.interval)
        print("3. quantile error of the streamed summary")
        quantile_error(folder, int(args.quantile_samples), args.workers)


if __name__ == "__main__":
    main()
