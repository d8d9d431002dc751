"""Fixtures shared by the overhang-sim tests."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from hypothesis import settings
from strategies import EXPERIMENTS, experiment_toml

import overhang_sim.config
import overhang_sim.storage
from overhang_sim import load_experiment
from overhang_sim.cli import main

# Properties that run the simulator are expensive: they pick their own small
# max_examples; none of them may be cut short by a per-example deadline.
settings.register_profile("overhang", deadline=None, print_blob=True)
settings.load_profile("overhang")


@pytest.fixture
def write_experiment(tmp_path):
    """Write experiment text (or experiment_toml keyword arguments) to a file; return its path."""

    def write(text: str | None = None, filename: str = "experiment.toml", **kwargs) -> Path:
        if text is None:
            text = experiment_toml(**kwargs)
        path = tmp_path / filename
        path.write_text(text, encoding="utf-8")
        return path

    return write


@pytest.fixture
def make_experiment(write_experiment):
    """Load an experiment built by :func:`strategies.experiment_toml`."""

    def make(priors, filename="experiment.toml", **kwargs):
        return load_experiment(write_experiment(priors=priors, filename=filename, **kwargs))

    return make


@pytest.fixture
def embedded_default(monkeypatch):
    """Make ``load_experiment(None)`` work when the package is imported from the source tree.

    The wheel copies experiments/ and priors/ into ``overhang_sim/data`` (pyproject
    force-include). Imported from ``src/`` (PYTHONPATH=src) that folder does not exist,
    so point the default at the file the wheel would embed. Installed, nothing changes.
    """
    if not overhang_sim.config.default_experiment_path().exists():
        monkeypatch.setattr(overhang_sim.config, "default_experiment_path",
                            lambda: EXPERIMENTS / "baseline.toml")
    return overhang_sim.config.default_experiment_path()


@pytest.fixture
def unwritable_dir(tmp_path, monkeypatch):
    """A folder nobody may write to.

    Its mode is 0o555. Root ignores file modes, so when the tests run as root the
    refusal the kernel would give is simulated: ``os.access`` reports the folder
    unwritable and creating a file in it raises PermissionError.
    """
    folder = tmp_path / "readonly"
    folder.mkdir()
    folder.chmod(0o555)
    if os.geteuid() == 0:
        real_access = os.access

        def access(path, mode, *args, **kwargs):
            if Path(path).resolve() == folder.resolve() and mode & os.W_OK:
                return False
            return real_access(path, mode, *args, **kwargs)

        monkeypatch.setattr(overhang_sim.storage.os, "access", access)
    yield folder
    folder.chmod(0o755)


@pytest.fixture
def run_cli(capsys):
    """Run ``overhang_sim.cli.main(argv)``; return (exit code, stdout, stderr).

    argparse reports usage mistakes by raising SystemExit(2); that is accepted and
    turned into the same (code, out, err) triple.
    """

    def run(argv):
        try:
            code = main([str(a) for a in argv])
        except SystemExit as exit_:
            code = exit_.code
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.fixture(scope="module")
def clone(tmp_path_factory):
    """A folder holding what a fresh clone has where the commands look: experiments/, priors/."""
    folder = tmp_path_factory.mktemp("clone")
    for name in ("experiments", "priors"):
        shutil.copytree(Path(__file__).resolve().parents[1] / name, folder / name)
    return folder


@pytest.fixture(scope="session", autouse=True)
def ppf_cache_of_the_session(tmp_path_factory):
    """PPF tables cached in a folder of this session (subprocesses too), not in the user's ~/.cache.

    Hypothesis draws many distinct Beta and mixture specs; each would leave a 2 MB entry.
    """
    previous = os.environ.get("OVERHANG_CACHE_DIR")
    os.environ["OVERHANG_CACHE_DIR"] = str(tmp_path_factory.mktemp("cache"))
    yield
    if previous is None:
        os.environ.pop("OVERHANG_CACHE_DIR", None)
    else:
        os.environ["OVERHANG_CACHE_DIR"] = previous
