"""Time the full pipeline at 1e7 plain-MC samples against numpy's own samplers.

The pipeline is the baseline experiment as shipped (its sampled inputs, rank
correlation, compute path and its own ``[summary]`` spec), changed only to
``samples`` and ``method = "mc"``: ``simulate`` followed by ``summarize``. The bare
baseline draws the same number of variates for the same sampled inputs with
numpy's samplers (``rng.lognormal``, ``rng.beta``, ``exp(rng.uniform)``, ...) and
runs no model. Both are timed in this process, interleaved, best of ``--repeats``: the
pipeline as the API runs it by default (chains drawn, and each output's pooled sample and
chains summarised, on threads where there are cores) and on one thread (``threads=1``;
the bare draws are one thread too).

Peak memory is measured in a fresh (spawned) child process: the tracemalloc peak
during ``simulate`` + ``summarize`` (numpy reports its buffers to tracemalloc) and,
as a cross-check, the growth of the OS peak RSS; both against ``run.nbytes``.

Then numpy's transparent-huge-page advice (``NUMPY_MADVISE_HUGEPAGE``; numpy asks for
huge pages on large arrays when the kernel's THP mode is ``madvise``): the pipeline
and the bare draws in spawned children with the advice on and off, interleaved, with
their user and system CPU and minor page faults, to see whether fewer, larger page
faults (or the kernel's compaction for them) pay on this machine.

Last, the beta route: for each beta or PERT prior of the baseline, the error of
the interpolation table behind ``ppf`` and the time of ``scipy.stats.beta.ppf``,
``rng.beta`` and the package's ``ppf`` for the same number of values.

Run from the repository root::

    PYTHONPATH=src python benchmarks/pipeline_speed.py [--samples 1e7] [--repeats 3]
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import multiprocessing
import resource
import time
import tracemalloc
from pathlib import Path

import numpy as np
from scipy import stats

import overhang_sim as oh

EXPERIMENT = Path(__file__).resolve().parents[1] / "experiments" / "baseline.toml"
TIME_TARGET = 1.5  # pipeline / bare draws
MEMORY_TARGET = 3.0  # peak memory / run.nbytes


def baseline(samples: int, method: str = "mc") -> oh.Experiment:
    """The shipped baseline experiment with `samples` and `method` replaced."""
    return dataclasses.replace(oh.load_experiment(EXPERIMENT), samples=samples, method=method)


def pipeline(experiment: oh.Experiment):
    """Sample, run the model, summarise with the experiment's own spec."""
    run = oh.simulate(experiment)
    return run, oh.summarize(run, experiment.summary)


def numpy_draws(dist, rng: np.random.Generator, n: int) -> np.ndarray:
    """`n` values of `dist` from numpy's own sampler for its family."""
    if isinstance(dist, oh.Pert):
        dist = dist.as_beta
    if isinstance(dist, oh.LogNormal):
        return rng.lognormal(dist.mu, dist.sigma, n)
    if isinstance(dist, oh.Beta):
        x = rng.beta(dist.alpha, dist.beta, n)
        x *= dist.high - dist.low
        x += dist.low
        return x
    if isinstance(dist, oh.LogUniform):
        return np.exp(rng.uniform(math.log(dist.low), math.log(dist.high), n))
    if isinstance(dist, oh.Uniform):
        return rng.uniform(dist.low, dist.high, n)
    if isinstance(dist, oh.Normal):
        return rng.normal(dist.mean, dist.sd, n)
    raise TypeError(f"no numpy sampler for {oh.describe(dist)}")


def bare_draws(experiment: oh.Experiment) -> dict[str, np.ndarray]:
    """The bare baseline: every sampled input drawn with numpy, no model."""
    rng = np.random.default_rng(np.random.SeedSequence(experiment.seed))
    n = experiment.chains * experiment.draws
    return {name: numpy_draws(experiment.priors[name].dist, rng, n) for name in experiment.sampled}


def timed(fn, *args, repeats: int = 1) -> float:
    """Seconds the fastest of `repeats` calls of ``fn(*args)`` takes (results are dropped)."""
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn(*args)
        best = min(best, time.perf_counter() - start)
        del result
    return best


def pipeline_stages(experiment: oh.Experiment, threads: int | None = None) -> tuple[float, float]:
    """Seconds for simulate and for summarize, in one pipeline run (on `threads`; default: the API's)."""
    start = time.perf_counter()
    run = oh.simulate(experiment, threads=threads)
    middle = time.perf_counter()
    oh.summarize(run, experiment.summary, threads=threads)
    return middle - start, time.perf_counter() - middle


def current_rss() -> int:
    """Resident set size of this process now, in bytes (Linux)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()


def peak_memory(samples: int) -> dict[str, float]:
    """Run the pipeline once and report its memory (meant for a fresh child process)."""
    experiment = baseline(samples)
    pipeline(baseline(10_000))  # imports, PPF tables: not part of the peak
    rss_before = current_rss()
    tracemalloc.start()
    run, _ = pipeline(experiment)
    traced_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    max_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux
    return {"nbytes": run.nbytes, "traced_peak": traced_peak, "rss_growth": max_rss - rss_before}


def peak_memory_in_child(samples: int) -> dict[str, float]:
    """:func:`peak_memory` in a spawned process, so earlier runs cannot hide the peak."""
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(peak_memory, (samples,))


def _set_hugepage(enabled: bool) -> bool:
    """numpy's madvise(MADV_HUGEPAGE) for large arrays on or off; the previous setting."""
    core = getattr(np, "_core", None) or np.core
    return core.multiarray._set_madvise_hugepage(enabled)


def hugepage_round(samples: int, enabled: bool) -> dict[str, float]:
    """One bare draw and one pipeline with huge-page advice `enabled` (meant for a fresh child)."""
    _set_hugepage(enabled)
    experiment = baseline(samples)
    pipeline(baseline(10_000))  # imports, PPF tables
    out = {}
    for key, fn in (("bare", bare_draws), ("pipeline", pipeline)):
        before, start = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
        result = fn(experiment)
        wall, after = time.perf_counter() - start, resource.getrusage(resource.RUSAGE_SELF)
        del result
        out[key] = (wall, after.ru_utime - before.ru_utime, after.ru_stime - before.ru_stime,
                    after.ru_minflt - before.ru_minflt)
    return out


def report_hugepage(samples: int, repeats: int) -> None:
    """Pipeline / bare with numpy's huge-page advice on and off, each in its own spawned child."""
    mode = Path("/sys/kernel/mm/transparent_hugepage/enabled")
    print(f"huge pages (kernel THP: {mode.read_text().strip() if mode.exists() else 'unknown'}; "
          f"numpy's advice is this process's default {'on' if _set_hugepage(True) else 'off'}):")
    _set_hugepage(_set_hugepage(True))  # leave it as it was
    rounds = {True: [], False: []}
    with multiprocessing.get_context("spawn").Pool(1, maxtasksperchild=1) as pool:
        for _ in range(repeats):
            for enabled in (True, False):
                rounds[enabled].append(pool.apply(hugepage_round, (samples, enabled)))
    for enabled, found in rounds.items():
        best = {k: min((r[k] for r in found), key=lambda t: t[0]) for k in ("bare", "pipeline")}
        parts = [f"{k} {w:.2f} s (user {u:.2f} s, sys {s_:.2f} s, {f / 1e3:.0f}k minor faults)"
                 for k, (w, u, s_, f) in best.items()]
        print(f"  advice {'on ' if enabled else 'off'}: {'; '.join(parts)}; ratio "
              f"{best['pipeline'][0] / best['bare'][0]:.2f} (best of {len(found)})")


def verified_table_error(beta: oh.Beta, n: int, seed: int = 0) -> float:
    """Largest |package ppf - scipy's exact ppf| at `n` random uniforms (an independent check)."""
    u = np.random.default_rng(seed).random(n)
    exact = stats.beta.ppf(u, beta.alpha, beta.beta, loc=beta.low, scale=beta.high - beta.low)
    return float(np.max(np.abs(beta.ppf(u) - exact)))


def report_beta(experiment: oh.Experiment, n: int) -> None:
    """Table error and scipy / numpy / package times for the beta-family priors.

    The table is checked against scipy's exact ppf at ``min(1e6, n)`` random uniforms
    (scipy takes ~3 s a million).
    """
    checked = min(10**6, n)
    rng = np.random.default_rng(1)
    u = rng.random(n)
    betas = [(name, experiment.priors[name].dist) for name in experiment.sampled
             if isinstance(experiment.priors[name].dist, (oh.Beta, oh.Pert))]
    for i, (name, dist) in enumerate(betas):
        beta = dist.as_beta if isinstance(dist, oh.Pert) else dist
        width = beta.high - beta.low
        build = timed(lambda: oh.ppftable.PPFTable(beta.exact_ppf))  # a fresh build, past both caches
        table = beta.table
        print(f"  {name}: {oh.describe(dist)} = beta({beta.alpha:.4g}, {beta.beta:.4g}) on "
              f"[{beta.low:g}, {beta.high:g}]")
        print(f"    table ({table.cells} cells, exact in tails < {table.tail:g}, built in {build:.2f} s): "
              f"max_error {table.max_error:.2e} ({table.max_error / width:.1e} of the range) at cell midpoints; "
              f"{verified_table_error(beta, checked):.2e} at {checked:.0e} random u")
        package = timed(dist.ppf, u, repeats=3)
        numpy = timed(rng.beta, beta.alpha, beta.beta, n, repeats=3)
        line = f"    {n:.0e} values (best of 3): package ppf {package:.2f} s; rng.beta {numpy:.2f} s"
        if i == 0:  # scipy's exact ppf is slow; time it once
            scipy = timed(stats.beta.ppf, u, beta.alpha, beta.beta)
            line += f"; scipy.stats.beta.ppf (once) {scipy:.2f} s ({scipy / numpy:.0f}x rng.beta)"
        print(line + f"; package / rng.beta {package / numpy:.2f}")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=float, default=1e7)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--smoke", action="store_true", help="a tiny size, for CI (does the script still run)")
    args = parser.parse_args(argv)
    if args.smoke:
        args.samples, args.repeats = 2e4, 1
    samples = int(args.samples)
    experiment = baseline(samples)
    print(f"baseline experiment {experiment.name!r}: {len(experiment.sampled)} sampled inputs, "
          f"{experiment.chains} chains, model {experiment.model}, "
          f"{len(experiment.correlations)} rank correlation(s)")
    setup = timed(pipeline, baseline(10_000))
    print(f"setup (first small run: PPF tables): {setup:.2f} s, not counted below")

    bare, stages, alone = [], [], []
    for _ in range(args.repeats):  # interleaved; the first round also warms fresh memory
        bare.append(timed(bare_draws, experiment))
        stages.append(pipeline_stages(experiment))
        alone.append(pipeline_stages(experiment, threads=1))
    full = [sum(s) for s in stages]
    simulate_s, summarize_s = min(stages, key=sum)
    ratio = min(full) / min(bare)
    print(f"pipeline {samples:.0e} mc: {min(full):.2f} s (simulate {simulate_s:.2f} s + summarize "
          f"{summarize_s:.2f} s); bare numpy draws: {min(bare):.2f} s; ratio {ratio:.2f} "
          f"(target <= {TIME_TARGET:g}: {'met' if ratio <= TIME_TARGET else 'MISSED'})")
    one = min(alone, key=sum)
    print(f"  on one thread (threads=1): {sum(one):.2f} s (simulate {one[0]:.2f} s + summarize {one[1]:.2f} s); "
          f"ratio {sum(one) / min(bare):.2f}")
    print(f"  all rounds: pipeline {', '.join(f'{t:.2f}' for t in full)} s; one thread "
          f"{', '.join(f'{sum(t):.2f}' for t in alone)} s; bare {', '.join(f'{t:.2f}' for t in bare)} s")

    memory = peak_memory_in_child(samples)
    nbytes = memory["nbytes"]
    for key, label in (("traced_peak", "tracemalloc peak"), ("rss_growth", "peak RSS growth")):
        r = memory[key] / nbytes
        print(f"memory {samples:.0e} mc: {label} {memory[key] / 1e9:.2f} GB; run.nbytes {nbytes / 1e9:.2f} GB;"
              f" ratio {r:.2f} (target <= {MEMORY_TARGET:g}: {'met' if r <= MEMORY_TARGET else 'MISSED'})")

    report_hugepage(samples, args.repeats)

    print("beta-family priors (inverse CDF by interpolation table):")
    report_beta(experiment, samples)


if __name__ == "__main__":
    main()
