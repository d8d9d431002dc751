"""Time the start-up of the ``overhang`` command against ``python -c "import numpy"``.

Each command runs as a fresh process, ``--repeats`` times, interleaved; the best and
the median wall times are printed, with the ratio of the best to the best of
``python -c "import numpy"`` (and ``python -c pass``) measured in the same run:

- ``overhang --help`` and ``overhang --version`` (target <= 0.3 s: no numpy at all);
- ``overhang run --samples 1000`` (target <= 1 s), with the PPF tables read from the
  disk cache (warm) and built (cold: an empty ``OVERHANG_CACHE_DIR``);
- the same run as without dask (xarray imports it when it is installed);
- the same run with the package's bytecode cached, when ``PYTHONDONTWRITEBYTECODE`` is
  set (as in some sandboxes): a source checkout then compiles its ~40 modules from
  source in every process (0.1-0.3 s), which an installed wheel (compiled by pip) never
  does; the cache goes to a temporary ``PYTHONPYCACHEPREFIX``, not into the checkout;
- then, for ``run --samples 1000``, the cumulative import time of the heavy modules
  from ``python -X importtime`` (one process).

Run from the repository root::

    PYTHONPATH=src python benchmarks/startup.py [--repeats 5] [--quick] [--smoke]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGETS = {"--help": 0.3, "--version": 0.3, "run --samples 1000": 1.0}
MODULES = ("numpy", "scipy.special", "scipy.stats", "pandas", "xarray", "dask", "importlib.metadata",
           "overhang_sim.config", "overhang_sim.batch", "overhang_sim.cli")


WITHOUT_DASK = ("import sys; sys.modules['dask'] = None\n"  # as if the optional extra were not installed
                "from overhang_sim.cli import main; sys.exit(main(['run', '--samples', '1000', '--quiet']))")


def overhang() -> list[str]:
    """The ``overhang`` entry point next to this Python, else ``python -m overhang_sim.cli``."""
    script = Path(sys.executable).with_name("overhang")
    return [str(script)] if script.exists() else [sys.executable, "-m", "overhang_sim.cli"]


def wall(argv: list[str], env: dict) -> float:
    start = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, check=True)
    return time.perf_counter() - start


def import_times(argv: list[str], env: dict) -> dict[str, float]:
    """Cumulative import time (s) of :data:`MODULES` in one process of `argv`, from -X importtime.

    A module's time is that of its own line or, without one, of its largest submodule's:
    scipy imports ``scipy.special`` through ``importlib.import_module`` (``from scipy
    import special``), which -X importtime does not time, so only its submodules appear.
    """
    done = subprocess.run([sys.executable, "-X", "importtime", *argv], capture_output=True, text=True, env=env,
                          check=True)
    found = {}
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        _, cumulative, name = line.split("|")
        name = name.strip()
        for module in MODULES:
            if (name == module or name.startswith(module + ".")) and cumulative.strip().isdigit():
                found[module] = max(found.get(module, 0.0), int(cumulative) / 1e6)
    return found


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="2 repeats")
    parser.add_argument("--smoke", action="store_true", help="1 repeat (CI's smoke step: does the script still run)")
    args = parser.parse_args(argv)
    repeats = 1 if args.smoke else 2 if args.quick else args.repeats
    warm_dir = tempfile.mkdtemp(prefix="overhang-startup-warm-")
    env = {**os.environ, "OVERHANG_CACHE_DIR": warm_dir}
    cold_dirs = []

    def cold_env():
        folder = tempfile.mkdtemp(prefix="overhang-startup-cold-")
        cold_dirs.append(folder)
        return {**os.environ, "OVERHANG_CACHE_DIR": folder}

    command = overhang()
    subprocess.run([*command, "run", "--samples", "1000"], stdout=subprocess.DEVNULL, env=env, check=True)  # warm
    cases = {
        "python -c pass": ([sys.executable, "-c", "pass"], lambda: env),
        'python -c "import numpy"': ([sys.executable, "-c", "import numpy"], lambda: env),
        "--help": ([*command, "--help"], lambda: env),
        "--version": ([*command, "--version"], lambda: env),
        "run --samples 1000": ([*command, "run", "--samples", "1000", "--quiet"], lambda: env),
        "run --samples 1000 (tables built)": ([*command, "run", "--samples", "1000", "--quiet"], cold_env),
        # xarray imports dask.array at its first Variable when dask is installed (the [dask] and
        # test extras): ~0.45 s of the run above. As a plain `pip install overhang-sim` runs it:
        "run --samples 1000 (dask absent)": ([sys.executable, "-c", WITHOUT_DASK], lambda: env),
    }
    if os.environ.get("PYTHONDONTWRITEBYTECODE"):
        compiled = {k: v for k, v in env.items() if k != "PYTHONDONTWRITEBYTECODE"}
        compiled["PYTHONPYCACHEPREFIX"] = tempfile.mkdtemp(prefix="overhang-startup-pyc-")
        cold_dirs.append(compiled["PYTHONPYCACHEPREFIX"])
        subprocess.run([*command, "run", "--samples", "1000", "--quiet"], stdout=subprocess.DEVNULL, env=compiled,
                       check=True)  # writes the bytecode of every module the run imports
        cases["run --samples 1000 (bytecode cached)"] = ([*command, "run", "--samples", "1000", "--quiet"],
                                                          lambda: compiled)
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(repeats):
        for name, (case, environment) in cases.items():
            times[name].append(wall(case, environment()))
    numpy_best, pass_best = min(times['python -c "import numpy"']), min(times["python -c pass"])
    print(f"start-up, {repeats} processes each (best, median), on {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f}"
          + ("; PYTHONDONTWRITEBYTECODE is set" if os.environ.get("PYTHONDONTWRITEBYTECODE") else ""))
    for name, measured in times.items():
        best = min(measured)
        target = TARGETS.get(name.split(" (")[0])
        verdict = "" if target is None or "built" in name else (
            f"  target <= {target:g} s: {'met' if best <= target else 'NOT met'}")
        print(f"  {name:<36} {best:6.3f} s  {statistics.median(measured):6.3f} s   "
              f"{best / numpy_best:5.2f}x import numpy  {best / pass_best:6.1f}x pass{verdict}")
    print("import times in `overhang run --samples 1000` (cumulative, one process, -X importtime):")
    found = import_times(["-m", "overhang_sim.cli", "run", "--samples", "1000", "--quiet"], env)
    for name in MODULES:
        print(f"  {name:<22} {found[name]:6.3f} s" if name in found else f"  {name:<22}  not imported")
    for folder in (warm_dir, *cold_dirs):
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
