"""Every command and file in the README works as written on a fresh clone (issue 8, item 3).

The README's shell blocks are run in order, in a copy of the repository's
``experiments/`` and ``priors/`` (so ``--out results/...`` and ``--out-dir figures/`` start
from folders that do not exist), through ``overhang_sim.cli.main``. To keep the suite
fast, sample counts are capped at :data:`SAMPLES` (``--samples 1e9`` becomes 2e4; the
command is otherwise unchanged) and the placeholder scheduler address is replaced by a
local dask cluster. The set-up commands are what ``.ci/run`` runs; here they are checked
to say the same. TOML blocks are loaded as the priors or experiment files they are, and
Python blocks are executed.
"""

from __future__ import annotations

import os
import re
import shlex
import tomllib

import pytest
from strategies import REPO

from overhang_sim import load_priors
from overhang_sim.cli import main
from overhang_sim.modelspec import FormulaModel
from overhang_sim.scenarios import load_scenarios

README = (REPO / "README.md").read_text(encoding="utf-8")
SAMPLES = 20_000
SCHEDULER = "tcp://10.0.0.5:8786"


def blocks(language: str) -> list[str]:
    """The fenced code blocks of the README in `language`, in order."""
    return re.findall(rf"^```{language}\n(.*?)^```", README, flags=re.DOTALL | re.MULTILINE)


def commands() -> list[str]:
    """Every command line of the README's shell blocks, comments removed."""
    out = []
    for block in blocks("sh"):
        for line in block.splitlines():
            line = re.split(r"\s{2,}#", line)[0].strip()
            if line:
                out.append(line)
    return out


def _capped(argv: list[str]) -> list[str]:
    argv = list(argv)
    if "--samples" in argv:
        i = argv.index("--samples") + 1
        argv[i] = str(min(float(argv[i]), SAMPLES))
    elif argv[0] in ("run", "report", "sensitivity") and not any(a.endswith(".nc") or a.endswith(".zarr")
                                                                  for a in argv[1:2]):
        argv += ["--samples", str(SAMPLES)]
    return argv


def test_the_setup_commands_are_what_ci_runs():
    setup = blocks("sh")[:2]
    assert setup[0].strip() == "python3 -m venv .venv && . .venv/bin/activate && pip install . && overhang run"
    assert setup[1].strip() == 'pip install ".[test]" && python -m pytest'
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert 'pip install ".[test]" && python -m pytest' in ci
    assert "overhang run --quiet" in ci and 'pip install -q "$root"' in ci  # the user's install, no extras


def test_every_toml_block_is_a_valid_file(clone):
    """Each TOML block loads as what it is: priors, or an experiment (relative paths from experiments/)."""
    checked = 0
    for i, text in enumerate(blocks("toml")):
        table = tomllib.loads(text)
        if "quantities" in table:
            model = FormulaModel.from_text(text, file=f"README.md block {i}")
            assert model.main in model.outputs
        elif "name" in table:
            path = clone / "experiments" / f"readme_{i}.toml"
            path.write_text(text, encoding="utf-8")
            assert load_scenarios(path).experiments
        elif table and all(isinstance(v, dict) and "unit" in v for v in table.values()):
            path = clone / "priors" / f"readme_{i}.toml"
            path.write_text(text, encoding="utf-8")
            assert set(load_priors(path)) == set(table)
        else:
            continue
        checked += 1
    assert checked >= 4


def test_every_shell_command_runs_as_written(clone, capsys, monkeypatch):
    distributed = pytest.importorskip("distributed")
    axes = next(t for t in blocks("toml") if 'name = "axes_example"' in t)
    (clone / "experiments" / "axes_example.toml").write_text(axes, encoding="utf-8")  # where the README saves it
    monkeypatch.chdir(clone)
    ran = []
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, host="127.0.0.1", dashboard_address=None,
                                  processes=True) as cluster:
        for line in [*commands(), "overhang run experiments/axes_example.toml"]:
            if not line.startswith("overhang "):
                assert line.startswith(("python3 -m venv", "pip install")), line
                continue
            argv = _capped(shlex.split(line.replace(SCHEDULER, cluster.scheduler_address))[1:])
            code = main(argv)
            out, err = capsys.readouterr()
            assert code == 0, f"{line}\n{err}"
            ran.append(line)
    assert len(ran) >= 15
    assert (clone / "results" / "years.nc").is_file() and (clone / "results" / "big.zarr").is_dir()
    assert list((clone / "figures").glob("*.svg"))


def test_every_python_block_runs(clone, monkeypatch):
    monkeypatch.chdir(clone)
    for text in blocks("python"):
        text = text.replace('load_experiment("experiments/baseline.toml")',
                            f'dataclasses.replace(load_experiment("experiments/baseline.toml"), samples={SAMPLES})')
        exec(compile("import dataclasses\n" + text, "README.md", "exec"), {"__name__": "readme"})  # noqa: S102


def test_the_documented_dask_extra_exists():
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    assert 'pip install ".[dask]"' in README and "dask" in pyproject["project"]["optional-dependencies"]
    assert "overhang-sim[dask]" not in README  # the package is not on PyPI
    assert os.path.exists(REPO / ".ci" / "run")


def test_the_run_excerpt_is_what_overhang_run_prints(capsys):
    """The README shows the real first screen: every line in 80 columns, the same lines as a run prints."""
    excerpt = re.search(r"^```\n(baseline: .*?)^```", README, flags=re.DOTALL | re.MULTILINE).group(1)
    assert max(map(len, excerpt.splitlines())) <= 80
    assert main(["run", str(REPO / "experiments" / "baseline.toml"), "--samples", str(SAMPLES), "--quiet"]) == 0
    printed = capsys.readouterr().out

    def skeleton(text):  # the numbers differ with the sample count; the words and the layout do not
        return [" ".join(re.sub(r"\d[\d.]*(e[+-]\d+)?", "#", line).split()) for line in text.splitlines()]

    assert skeleton(excerpt) == skeleton(printed)
