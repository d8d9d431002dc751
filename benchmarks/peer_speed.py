"""Time overhang-sim against squigglepy on the same models: whole processes, then the Python API.

Two models, each at 1e6 and 1e7 samples (``--sizes``):

- **throughput**: 3 lognormal inputs, ``instances = cluster_gpus * tokens_per_gpu_s /
  required_tokens_per_s``;
- **compute**: the 8 sampled inputs of the compute path (5 lognormal, 2 PERT, 1
  log-uniform; no correlation), Chinchilla-style ``params = sqrt(train_flop / (6 r H))``
  and ``instances = cluster_flop_per_s * inference_utilization / (2 params) /
  required_tokens_per_s``.

Whole process: ``overhang run FILE --samples N`` (its default summary of ``instances``:
p5/p25/p50/p75/p95, mean, 90 % HDI, Monte Carlo errors) against a squigglepy script
that samples each input with ``sq.sample``, computes the model with numpy and prints
p5/p25/p50/p75/p95 and the mean. API: the same work timed inside each interpreter, after
its imports (``simulate`` + ``summarize`` against ``sq.sample`` + numpy). Each case is
run ``--repeats`` times, interleaved; best times and ratios (squigglepy / overhang-sim:
above 1, overhang-sim is faster; target >= 2 for whole processes) are printed, with
both medians of ``instances`` as a check that the models agree.

squigglepy lives in its own environment (it pins its own numpy)::

    python3 -m venv /work/venv-peer && /work/venv-peer/bin/pip install squigglepy==0.30
    PEER_PYTHON=/work/venv-peer/bin/python PYTHONPATH=src python benchmarks/peer_speed.py

Both sides run with their modules' bytecode cached, as installed packages do (pip compiles
them): where ``PYTHONDONTWRITEBYTECODE`` is set (as in some sandboxes) a source checkout would
compile its ~40 modules in every process, so both interpreters get it unset and one temporary
``PYTHONPYCACHEPREFIX``, filled by an untimed warm-up run of each.

When dask is installed (the ``dask`` and ``test`` extras), xarray imports ``dask.array`` at
its first Variable, ~0.5 s of every ``overhang run``; a plain ``pip install overhang-sim`` has no
dask. The process is then timed a second time as that install runs it (``dask`` hidden from the
interpreter), and both ratios are printed.

Without ``PEER_PYTHON`` (or when it cannot import squigglepy) only overhang-sim's
times are printed, with a note saying why.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LOGNORMAL = 'dist = "lognormal"\np05 = {}\np95 = {}\nunit = "{}"'
PERT = 'dist = "pert"\nlow = {}\nmode = {}\nhigh = {}\nunit = "1"\nprecision = "bf16"'
SUMMARY = '[summary]\noutputs = ["instances"]\nquantiles = [0.05, 0.25, 0.5, 0.75, 0.95]\nintervals = [0.9]'

MODELS = {
    "throughput": {
        "model": "throughput",
        "priors": {
            "cluster_gpus": LOGNORMAL.format(5e4, 1e6, "GPU") + '\naccelerator = "physical"',
            "tokens_per_gpu_s": LOGNORMAL.format(300, 1.1e4, "token/s/GPU") + '\naccelerator = "physical"',
            "required_tokens_per_s": LOGNORMAL.format(5, 50, "token/s"),
        },
        "squiggle": """
gpus = sq.sample(sq.lognorm(5e4, 1e6), n=N)
per_gpu = sq.sample(sq.lognorm(300, 1.1e4), n=N)
required = sq.sample(sq.lognorm(5, 50), n=N)
instances = gpus * per_gpu / required
""",
    },
    "compute": {
        "model": "compute",
        "priors": {
            "cluster_gpus": LOGNORMAL.format(5e4, 1e6, "GPU") + '\naccelerator = "physical"',
            "gpu_peak_flop_per_s": LOGNORMAL.format(9.89e14, 2.5e15, "FLOP/s/GPU")
            + '\nprecision = "bf16"\naccelerator = "physical"',
            "train_utilization": PERT.format(0.2, 0.4, 0.6),
            "inference_utilization": PERT.format(0.04, 0.3, 0.5),
            "train_days": LOGNORMAL.format(60, 200, "day"),
            "chinchilla_ratio": LOGNORMAL.format(20, 250, "data point/parameter"),
            "horizon_length": 'dist = "loguniform"\nlow = 1\nhigh = 100\nunit = "token/data point"',
            "required_tokens_per_s": LOGNORMAL.format(5, 50, "token/s"),
        },
        "squiggle": """
gpus = sq.sample(sq.lognorm(5e4, 1e6), n=N)
peak = sq.sample(sq.lognorm(9.89e14, 2.5e15), n=N)
train_u = sq.sample(sq.pert(0.2, 0.4, 0.6), n=N)
infer_u = sq.sample(sq.pert(0.04, 0.3, 0.5), n=N)
days = sq.sample(sq.lognorm(60, 200), n=N)
ratio = sq.sample(sq.lognorm(20, 250), n=N)
horizon = np.exp(sq.sample(sq.uniform(0.0, np.log(100.0)), n=N))
required = sq.sample(sq.lognorm(5, 50), n=N)
cluster = gpus * peak
params = np.sqrt(cluster * train_u * days * 86400.0 / (6.0 * ratio * horizon))
instances = cluster * infer_u / (2.0 * params) / required
""",
    },
}

PEER_SCRIPT = """
import sys, time
N = int(sys.argv[1])
import numpy as np
import squigglepy as sq
sq.set_seed(1)
start = time.perf_counter()
{body}
p = np.percentile(instances, [5, 25, 50, 75, 95])
mean = instances.mean()
elapsed = time.perf_counter() - start
print(" ".join(f"{{v:.4g}}" for v in p), f"{{mean:.4g}}")
print("API", elapsed, p[2])
"""

OURS_API = """
import sys, time, dataclasses
import overhang_sim as oh
e = dataclasses.replace(oh.load_experiment(sys.argv[1]), samples=int(sys.argv[2]))
oh.simulate(dataclasses.replace(e, samples=8000))  # the first call's one-off costs (tables, caches)
start = time.perf_counter()
summary = oh.summarize(oh.simulate(e), e.summary)
elapsed = time.perf_counter() - start
median = float(summary["value"].sel(output="instances", stat="p50")) if "stat" in summary.dims else float("nan")
print("API", elapsed, median)
"""


def experiment_text(name: str) -> str:
    spec = MODELS[name]
    priors = "\n\n".join(f"[overrides.{k}]\n{v}" for k, v in spec["priors"].items())
    return (f'name = "peer_{name}"\nmodel = "{spec["model"]}"\nsamples = 1000\nchains = 8\nmethod = "mc"\n'
            f"seed = 1\n\n{SUMMARY}\n\n{priors}\n")


WITHOUT_DASK = ("import sys; sys.modules['dask'] = None\n"  # as if the optional extra were not installed
                "from overhang_sim.cli import main; sys.exit(main(sys.argv[1:]))")


def overhang() -> list[str]:
    script = Path(sys.executable).with_name("overhang")
    return [str(script)] if script.exists() else [sys.executable, "-m", "overhang_sim.cli"]


def timed(argv: list[str], env: dict | None = None) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, env=env, check=True)
    return time.perf_counter() - start, done.stdout


def api_line(stdout: str) -> tuple[float, float]:
    line = next(x for x in stdout.splitlines() if x.startswith("API "))
    _, elapsed, median = line.split()
    return float(elapsed), float(median)


def peer_python() -> tuple[str | None, str]:
    """The peer's interpreter from $PEER_PYTHON, or None and why not."""
    python = os.environ.get("PEER_PYTHON")
    if not python:
        return None, "PEER_PYTHON is not set (see this script's docstring for the squigglepy environment)"
    try:
        version = subprocess.run([python, "-c", "import squigglepy; print(squigglepy.__version__)"],
                                 capture_output=True, text=True, check=True, timeout=120).stdout.strip()
    except (OSError, subprocess.SubprocessError) as error:
        return None, f"PEER_PYTHON={python} cannot import squigglepy ({type(error).__name__})"
    return python, f"squigglepy {version} ({python})"


def ours_median(stdout: str) -> str:
    """The median of instances on ``overhang run``'s first screen (its 'median' line)."""
    for line in stdout.splitlines():
        if line.split()[:1] == ["median"]:
            return line.split()[1]
    return "?"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1e6,1e7")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--models", default="throughput,compute")
    parser.add_argument("--smoke", action="store_true",
                        help="the compute model (the larger), one repeat at 2e4 samples (CI's smoke step)")
    args = parser.parse_args(argv)
    if args.smoke:  # each model costs four processes (~10 s on CI) at any size
        args.sizes, args.repeats, args.models = "2e4", 1, "compute"
    sizes = [int(float(s)) for s in args.sizes.split(",")]
    peer, about = peer_python()
    folder = Path(tempfile.mkdtemp(prefix="overhang-peer-"))
    # bytecode cached on both sides, as installed packages run (see the docstring)
    env = {**{k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"},
           "OVERHANG_CACHE_DIR": str(folder / "cache"), "PYTHONPYCACHEPREFIX": str(folder / "pyc")}
    print(f"overhang-sim against {about}; {os.cpu_count()} cores, best of {args.repeats}, "
          f"load average {os.getloadavg()[0]:.1f}")
    if peer is None:
        print("  note: squigglepy is skipped; only overhang-sim's times are shown")
    dask = importlib.util.find_spec("dask") is not None
    for name in args.models.split(","):
        path = folder / f"{name}.toml"
        path.write_text(experiment_text(name), encoding="utf-8")
        script = folder / f"{name}_squigglepy.py"
        script.write_text(PEER_SCRIPT.format(body=MODELS[name]["squiggle"]), encoding="utf-8")
        api = folder / "ours_api.py"
        api.write_text(OURS_API, encoding="utf-8")
        subprocess.run([*overhang(), "run", str(path), "--samples", "1000", "--quiet"], env=env,
                       stdout=subprocess.DEVNULL, check=True)  # tables and bytecode into the caches
        subprocess.run([sys.executable, str(api), str(path), "1000"], env=env, stdout=subprocess.DEVNULL, check=True)
        if peer is not None:
            subprocess.run([peer, str(script), "1000"], env=env, stdout=subprocess.DEVNULL, check=True)
        for n in sizes:
            best = dict.fromkeys(("ours", "peer", "ours_api", "peer_api", "no_dask"), float("inf"))
            medians = {}
            command = ["run", str(path), "--samples", str(n), "--quiet"]
            for _ in range(args.repeats):
                t, out = timed([*overhang(), *command], env)
                best["ours"], medians["ours"] = min(best["ours"], t), ours_median(out)
                if dask:
                    t = timed([sys.executable, "-c", WITHOUT_DASK, *command], env)[0]
                    best["no_dask"] = min(best["no_dask"], t)
                t_api, median = api_line(timed([sys.executable, str(api), str(path), str(n)], env)[1])
                best["ours_api"] = min(best["ours_api"], t_api)
                if peer is not None:
                    t, out = timed([peer, str(script), str(n)], env)
                    best["peer"] = min(best["peer"], t)
                    t_api, median = api_line(out)
                    best["peer_api"], medians["peer"] = min(best["peer_api"], t_api), f"{median:.3g}"
            line = f"  {name:<10} {n:7.0e}  process: overhang {best['ours']:6.2f} s"
            if peer is not None:
                line += (f", squigglepy {best['peer']:6.2f} s, ratio {best['peer'] / best['ours']:4.2f}"
                         f"{'' if best['peer'] / best['ours'] >= 2 else ' (target >= 2 not met)'}")
            if dask:
                line += f"; without dask {best['no_dask']:6.2f} s" + (
                    f", ratio {best['peer'] / best['no_dask']:4.2f}" if peer is not None else "")
            line += f" | API: overhang {best['ours_api']:6.2f} s"
            if peer is not None:
                line += f", squigglepy {best['peer_api']:6.2f} s, ratio {best['peer_api'] / best['ours_api']:4.2f}"
            print(line + f" | p50 instances: overhang {medians.get('ours')}, squigglepy {medians.get('peer', '-')}")
    shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
