"""Start-up: what the package and the ``overhang`` command import before they need it.

Each check runs in a fresh interpreter (``sys.modules`` of this one is full): the
parser and ``--help``/``--version`` import no numpy, the package namespace imports a
submodule on first use, and a Monte Carlo run imports no scipy.stats. Timings are in
benchmarks/startup.py, not here.
"""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

import overhang_sim
from overhang_sim import cli

HEAVY = ("numpy", "scipy", "xarray", "pandas", "matplotlib")


def _run(script: str) -> str:
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_parser_builds_without_numpy():
    _run("import sys; from overhang_sim import cli; cli._parser(); "
         f"assert not [m for m in {HEAVY!r} if m in sys.modules], sorted(sys.modules)")


@pytest.mark.parametrize("flag", ["--help", "--version", "run --help"])
def test_help_and_version_import_nothing_heavy(flag):
    out = _run("import sys\nfrom overhang_sim import cli\n"
               f"try:\n    cli.main({flag.split()!r})\nexcept SystemExit as stop:\n    assert stop.code == 0\n"
               f"print([m for m in {HEAVY!r} if m in sys.modules])")
    assert out.strip().splitlines()[-1] == "[]"


def test_the_parsers_choices_are_the_real_ones():
    """cli.py keeps literal copies so that building the parser imports neither module."""
    from overhang_sim import designs, sensitivity_analysis

    assert cli.METHODS == designs.METHODS
    assert cli.SENSITIVITY_METHODS == sensitivity_analysis.METHODS


def test_importing_the_package_imports_no_submodule_until_used():
    _run("import sys, overhang_sim\n"
         f"assert not [m for m in {HEAVY!r} if m in sys.modules]\n"
         "assert 'overhang_sim.simulation' not in sys.modules\n"
         "overhang_sim.simulate\n"
         "assert 'overhang_sim.simulation' in sys.modules and 'numpy' in sys.modules")


@pytest.mark.parametrize("name", overhang_sim.__all__)
def test_every_public_name_resolves_to_its_modules_object(name):
    value = getattr(overhang_sim, name)
    if name == "__version__":
        from importlib.metadata import version

        assert value == version("overhang-sim")
        return
    module = importlib.import_module(f"overhang_sim.{overhang_sim._HOMES[name]}")
    assert value is getattr(module, name)
    assert name in dir(overhang_sim)


def test_the_lazy_table_and_all_name_the_same_things():
    assert set(overhang_sim._HOMES) | {"__version__"} == set(overhang_sim.__all__)
    assert len(overhang_sim.__all__) == len(set(overhang_sim.__all__))


def test_an_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'simulat'"):
        overhang_sim.simulat  # noqa: B018


def test_star_import_gives_every_public_name():
    namespace = {}
    exec("from overhang_sim import *", namespace)  # noqa: S102 -- the star import itself is the subject
    assert set(overhang_sim.__all__) <= set(namespace)


def test_a_monte_carlo_run_imports_no_scipy_stats(embedded_default):
    """scipy.stats costs about 0.4 s to import, more than a 1000-sample run; mc and the
    Beta/PERT priors of the baseline do without it (lhs and sobol import qmc when used)."""
    script = ("import sys, dataclasses, overhang_sim as o\n"
              f"e = dataclasses.replace(o.load_experiment({str(embedded_default)!r}), samples=800, method='mc')\n"
              "o.summarize(o.simulate(e, seed=1))\n"
              "print([m for m in sys.modules if m == 'scipy.stats' or m.startswith('scipy.stats.')])")
    assert _run(script).strip().splitlines()[-1] == "[]"


def _run_process(argv: list[str]) -> list[str]:
    """Heavy optional modules imported by `overhang ARGV` run as its own process (``main()``)."""
    script = ("import sys\n"
              f"sys.argv = ['overhang', *{argv!r}]\n"
              "from overhang_sim.cli import main\n"
              "status = main()\n"
              "print(status, [m for m in ('dask', 'dask.array', 'scipy.optimize') if sys.modules.get(m)])")
    return _run(script).strip().splitlines()[-1]


def test_a_run_process_imports_neither_dask_nor_scipy_optimize(tmp_path, monkeypatch):
    """xarray imported dask.array at the first Variable whenever dask is installed (0.5-1 s);
    scipy.optimize is needed only to fit a prior to quantiles (0.3 s)."""
    pytest.importorskip("dask")
    monkeypatch.setenv("OVERHANG_CACHE_DIR", str(tmp_path))
    assert _run_process(["run", "--samples", "1000", "--quiet"]) == "0 []"


def test_a_callers_main_keeps_dask_importable():
    pytest.importorskip("dask")
    out = _run("import sys\nfrom overhang_sim.cli import main\nmain(['run', '--samples', '200', '--quiet'])\n"
               "import dask.array\nprint('dask ok')")
    assert out.strip().splitlines()[-1] == "dask ok"


def test_the_shipped_quantity_names_are_those_of_the_built_models():
    from overhang_sim.models import QUANTITIES, quantity_names

    assert quantity_names() == set(QUANTITIES)


def test_a_run_of_the_baseline_builds_only_its_model():
    """Each shipped model is built on first use (its formulas compiled, its units checked):
    the baseline uses "compute", which extends no other, so the other five stay unbuilt."""
    script = ("import dataclasses, overhang_sim as o\nfrom overhang_sim import modelspec\n"
              "o.load_experiment(None)\n"
              "print(modelspec._builtin.cache_info().currsize, 'compute' in modelspec.builtin_models())")
    assert _run(script).strip().splitlines()[-1] == "1 True"


def test_the_lazy_shipped_models_are_the_files_models_in_order():
    from overhang_sim.models import MODELS
    from overhang_sim.modelspec import BUILTIN_MODELS, FormulaModel, builtin_models

    assert tuple(builtin_models()) == BUILTIN_MODELS == tuple(MODELS)[:len(BUILTIN_MODELS)]
    assert "nope" not in builtin_models() and "nope" not in MODELS
    with pytest.raises(KeyError):
        builtin_models()["nope"]
    for name in BUILTIN_MODELS:
        assert isinstance(MODELS[name], FormulaModel) and MODELS[name] is builtin_models()[name]


def test_importing_the_run_path_imports_no_scipy_special():
    """scipy.special costs 0.2-0.3 s (it loads numpy.f2py and numpy.testing); the methods
    that call it import it, so building priors and models needs none of it."""
    _run("import sys\nimport overhang_sim.batch, overhang_sim.config, overhang_sim.designs\n"
         "from overhang_sim import distributions as d\n"
         "d.LogNormal(p05=1.0, p95=10.0).sigma, d.Normal(mean=0.0, sd=1.0)\n"
         "assert 'scipy.special' not in sys.modules, 'scipy.special imported'")


def test_a_run_of_uniform_priors_imports_no_scipy_special(write_experiment):
    """Uniform and log-uniform priors invert in numpy: such a run has no use for scipy.special.

    (A Beta or PERT prior's table still calls the exact inverse CDF in its outer 2**-9
    tails, and lognormal and normal priors call ndtri: runs with those import it.)
    """
    from strategies import uniform

    priors = {"cluster_gpus": uniform(1e4, 1e5), "required_tokens_per_s": uniform(10.0, 100.0),
              "tokens_per_gpu_s": {"dist": "loguniform", "low": 100.0, "high": 5000.0}}
    path = write_experiment(priors=priors, samples=400)
    script = ("import sys\n"  # as its own process: main() without arguments (no dask, which imports scipy.fft)
              f"sys.argv = ['overhang', 'run', {str(path)!r}, '--quiet']\n"
              "from overhang_sim.cli import main\nassert main() == 0\n"
              "print('scipy.special' in sys.modules)")
    assert _run(script).strip().splitlines()[-1] == "False"


def test_a_prior_starting_above_zero_is_checked_without_its_cdf(write_experiment):
    """A PERT prior's support starts at its low: the domain check needs no scipy.special for it."""
    from strategies import uniform

    priors = {"cluster_gpus": uniform(1e4, 1e5), "required_tokens_per_s": uniform(10.0, 100.0),
              "tokens_per_gpu_s": {"dist": "pert", "low": 100.0, "mode": 500.0, "high": 5000.0}}
    path = write_experiment(priors=priors)
    _run(f"import sys\nimport overhang_sim as o\no.load_experiment({str(path)!r})\n"
         "assert 'scipy.special' not in sys.modules, 'scipy.special imported'")
