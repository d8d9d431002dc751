"""Corrupted checkpoints and result files: resumed correctly or refused in one line, never worse.

(a) Checkpoints. ``overhang run experiments/required_speed_sweep.toml --samples 40000 --out
out.nc`` is interrupted at its final save (``cli.save`` patched to raise, as a ``kill -9``
there would), which leaves every finished task in ``out.nc.partial/``; an *interrupted*
variant also drops the later half of the tasks, as a crash part-way through would. One
file of it is then corrupted and the same command is run with ``--resume``. Allowed:

- exit 0, and the saved data identical to an uninterrupted run (all but the
  ``started``/``finished``/``saved`` timestamps), or
- exit 2 with exactly one ``overhang: error: ...`` line on stderr.

Never a traceback, never another exception, never code from the checkpoint executed.
Files with 8 scenarios or more checkpoint whole scenarios (today a pickle each); they get
the same corruptions and a crafted pickle whose unpickling would create a marker file.

(b) Result files given to ``overhang report``, ``overhang plot`` and ``overhang_sim.load``:
a folder named like a netCDF file, a garbage zarr folder, a truncated netCDF file, a
netCDF file from another tool, a sensitivity result given to ``report``, and a result
with nothing ``plot`` can draw. Each must exit 2 with one line naming the file (``load``:
raise an OverhangError naming it).

These tests are expected to fail until checkpoints and result files are validated.
"""

from __future__ import annotations

import os
import pickle
import random
import shutil
import traceback
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
import xarray as xr
from fuzz_strategies import TEXTS, invoke, last_package_frame

import overhang_sim
import overhang_sim.batch
import overhang_sim.cli
from overhang_sim.errors import OverhangError

PREFIX = "overhang: error: "
TIMESTAMPS = ("started", "finished", "saved")
SWEEP = "experiments/required_speed_sweep.toml"
SWEEP8 = "experiments/required_speed_sweep8.toml"  # 8 scenarios: whole-scenario tasks


def run_argv(experiment: str, *extra: str) -> list[str]:
    return ["run", experiment, "--samples", "8000", "--quiet", "--out", "out.nc", *extra]


class Crash(BaseException):
    """Stands in for a kill at the final save: not an Exception, so nothing catches it."""


def workspace(folder: Path) -> Path:
    """`folder` with copies of the shipped experiments/ and priors/, and the 8-scenario sweep."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in TEXTS.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    sweep = (folder / SWEEP).read_text(encoding="utf-8")
    assert "values = [10, 30, 50]" in sweep
    eight = sweep.replace("values = [10, 30, 50]", "values = [5, 10, 15, 20, 25, 30, 40, 50]")
    (folder / SWEEP8).write_text(eight, encoding="utf-8")
    return folder


def run_ok(argv, folder: Path) -> None:
    outcome = invoke(argv, folder, timeout=300)
    assert outcome.error is None and outcome.code == 0, (outcome.code, outcome.err, outcome.error)


def interrupted_run(argv, folder: Path) -> Path:
    """Run `argv` until its final save, which crashes; return the checkpoint folder it leaves."""
    with mock.patch.object(overhang_sim.batch, "save", side_effect=Crash("killed at the final save")):
        with pytest.raises(Crash):
            _main_in(folder, argv)
    partial = folder / "out.nc.partial"
    assert partial.is_dir() and (partial / "manifest.json").is_file(), sorted(os.listdir(folder))
    return partial


def _main_in(folder: Path, argv) -> int:
    cwd = os.getcwd()
    os.chdir(folder)
    try:
        return overhang_sim.cli.main(list(argv))
    finally:
        os.chdir(cwd)


def task_files(partial: Path) -> list[Path]:
    """The finished-task files of a checkpoint (everything but the manifest and temporaries)."""
    return sorted(p for p in partial.iterdir()
                  if p.name not in ("manifest.json", "index.jsonl") and not p.name.startswith("."))


def without_timestamps(ds: xr.Dataset) -> xr.Dataset:
    ds = ds.copy()
    ds.attrs = {k: v for k, v in ds.attrs.items() if k not in TIMESTAMPS}
    return ds


@dataclass
class Runs:
    """Results and checkpoints of one experiment, computed once per module."""

    experiment: str
    reference: xr.Dataset  # uninterrupted run, the file's seed
    reference_seed7: xr.Dataset  # uninterrupted run with --seed 7
    partial: Path  # checkpoint of the file's seed, every task finished
    partial_seed7: Path  # checkpoint of a --seed 7 run


def _runs(base: Path, experiment: str) -> Runs:
    ref, ref7 = workspace(base / "reference"), workspace(base / "reference7")
    run_ok(run_argv(experiment), ref)
    run_ok(run_argv(experiment, "--seed", "7"), ref7)
    partial = interrupted_run(run_argv(experiment), workspace(base / "crash"))
    partial7 = interrupted_run(run_argv(experiment, "--seed", "7"), workspace(base / "crash7"))
    return Runs(experiment, overhang_sim.load(ref / "out.nc"), overhang_sim.load(ref7 / "out.nc"),
                partial, partial7)


@pytest.fixture(scope="module")
def sweep(tmp_path_factory) -> Runs:
    return _runs(tmp_path_factory.mktemp("sweep"), SWEEP)


@pytest.fixture(scope="module")
def sweep8(tmp_path_factory) -> Runs:
    return _runs(tmp_path_factory.mktemp("sweep8"), SWEEP8)


def assert_resumed_or_refused(outcome, folder: Path, expected: xr.Dataset, what: str) -> None:
    """Exit 0 with the expected data, or exit 2 with one error line; nothing else."""
    frame = last_package_frame(outcome.frames) if outcome.error is not None else ""
    assert outcome.error is None, f"{what}: {type(outcome.error).__name__} at {frame}: {outcome.error}"
    assert "Traceback" not in outcome.err, f"{what}: {outcome.err}"
    assert outcome.code in (0, 2), f"{what}: exit status {outcome.code!r}; stderr {outcome.err!r}"
    if outcome.code == 2:
        lines = outcome.err.removesuffix("\n").split("\n")
        assert len(lines) == 1 and lines[0].startswith(PREFIX), f"{what}: stderr {outcome.err!r}"
        assert (folder / "out.nc.partial").exists(), f"{what}: refused, but deleted the checkpoint it refused"
        return
    saved = overhang_sim.load(folder / "out.nc")
    try:
        xr.testing.assert_identical(without_timestamps(saved), without_timestamps(expected))
    except AssertionError as error:
        raise AssertionError(f"{what}: --resume exited 0 but its data differ from an uninterrupted run:\n"
                             f"{str(error)[:1500]}") from None


# --------------------------------------------------------------------------- corruptions of one task file


def _truncate(path: Path, runs: Runs) -> None:
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])


def _random_bytes(path: Path, runs: Runs) -> None:
    path.write_bytes(random.Random(1).randbytes(path.stat().st_size))


def _empty(path: Path, runs: Runs) -> None:
    path.write_bytes(b"")


def _directory(path: Path, runs: Runs) -> None:
    path.unlink()
    path.mkdir()


def _other_seed(path: Path, runs: Runs) -> None:
    """A valid task file of the same name from the --seed 7 run."""
    shutil.copyfile(runs.partial_seed7 / path.name, path)


def _other_task(path: Path, runs: Runs) -> None:
    """A valid task file of this run, but another task's (another chain or scenario)."""
    shutil.copyfile(task_files(path.parent)[-1], path)


def _npz_without_arrays(path: Path, runs: Runs) -> None:
    with open(path, "wb") as handle:
        np.savez(handle)


def _npz_wrong_length(path: Path, runs: Runs) -> None:
    """The same arrays, each cut to 10 draws."""
    with np.load(path) as npz:
        arrays = {k: npz[k][..., :10] if npz[k].ndim else npz[k] for k in npz.files}
    with open(path, "wb") as handle:
        np.savez(handle, **arrays)


TASK_CORRUPTIONS = {"truncated": _truncate, "random bytes": _random_bytes, "empty": _empty,
                    "a directory": _directory, "from a --seed 7 run": _other_seed,
                    "another task's": _other_task}
NPZ_CORRUPTIONS = {"npz without arrays": _npz_without_arrays, "npz of the wrong length": _npz_wrong_length}


def _checkpoint(runs: Runs, tmp_path: Path, interrupted: bool) -> tuple[Path, Path]:
    folder = workspace(tmp_path / "work")
    partial = folder / "out.nc.partial"
    shutil.copytree(runs.partial, partial)
    tasks = task_files(partial)
    if interrupted:  # the later tasks never finished
        for path in tasks[len(tasks) // 2:]:
            path.unlink()
    return folder, partial


@pytest.mark.parametrize("interrupted", [False, True], ids=["all tasks saved", "half the tasks saved"])
@pytest.mark.parametrize("corruption", sorted({**TASK_CORRUPTIONS, **NPZ_CORRUPTIONS}))
def test_corrupted_chain_task_is_recomputed_or_refused(sweep, tmp_path, corruption, interrupted):
    """A chain task's .npz corrupted, then --resume (3 scenarios: one task per chain)."""
    folder, partial = _checkpoint(sweep, tmp_path, interrupted)
    victim = task_files(partial)[0]
    assert victim.suffix == ".npz", "chain tasks are expected to be .npz files"
    {**TASK_CORRUPTIONS, **NPZ_CORRUPTIONS}[corruption](victim, sweep)
    outcome = invoke(run_argv(SWEEP, "--resume"), folder, timeout=300)
    assert_resumed_or_refused(outcome, folder, sweep.reference, f"task file {victim.name} {corruption}")


@pytest.mark.parametrize("interrupted", [False, True], ids=["all tasks saved", "half the tasks saved"])
@pytest.mark.parametrize("corruption", sorted(TASK_CORRUPTIONS))
def test_corrupted_scenario_task_is_recomputed_or_refused(sweep8, tmp_path, corruption, interrupted):
    """A whole-scenario task file corrupted, then --resume (8 scenarios: one task per scenario)."""
    folder, partial = _checkpoint(sweep8, tmp_path, interrupted)
    victim = task_files(partial)[0]
    TASK_CORRUPTIONS[corruption](victim, sweep8)
    outcome = invoke(run_argv(SWEEP8, "--resume"), folder, timeout=300)
    assert_resumed_or_refused(outcome, folder, sweep8.reference, f"scenario task {victim.name} {corruption}")


def test_a_leftover_temporary_file_is_ignored(sweep, tmp_path):
    """An atomic write interrupted by the crash leaves a hidden temporary next to the tasks: the control."""
    folder, partial = _checkpoint(sweep, tmp_path, interrupted=True)
    victim = task_files(partial)[0]
    (partial / f".{victim.name}.tmp").write_bytes(victim.read_bytes()[:100])
    outcome = invoke(run_argv(SWEEP, "--resume"), folder, timeout=300)
    assert_resumed_or_refused(outcome, folder, sweep.reference, "a leftover .tmp in the checkpoint")


class _Payload:
    """Unpickled, it would create the marker file: proof that the checkpoint ran code."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.mark.parametrize("interrupted", [False, True], ids=["all tasks saved", "half the tasks saved"])
def test_a_crafted_scenario_task_runs_no_code(sweep8, tmp_path, interrupted):
    """A task file replaced by a pickle that calls open(marker, "w"): --resume must not run it."""
    folder, partial = _checkpoint(sweep8, tmp_path, interrupted)
    marker = tmp_path / "CODE_FROM_THE_CHECKPOINT_RAN"
    victim = task_files(partial)[0]
    victim.write_bytes(pickle.dumps(_Payload(marker), protocol=pickle.HIGHEST_PROTOCOL))
    outcome = invoke(run_argv(SWEEP8, "--resume"), folder, timeout=300)
    assert not marker.exists(), f"--resume executed code from {victim.name} (a crafted pickle)"
    assert_resumed_or_refused(outcome, folder, sweep8.reference, f"crafted pickle in {victim.name}")


# --------------------------------------------------------------------------- the manifest


def _manifest_garbage(partial: Path) -> None:
    (partial / "manifest.json").write_bytes(b"\x00{not json at all")


def _manifest_empty(partial: Path) -> None:
    (partial / "manifest.json").write_bytes(b"")


def _manifest_deleted(partial: Path) -> None:
    (partial / "manifest.json").unlink()


def _manifest_directory(partial: Path) -> None:
    (partial / "manifest.json").unlink()
    (partial / "manifest.json").mkdir()


def _manifest_not_an_object(partial: Path) -> None:
    (partial / "manifest.json").write_text("[1, 2, 3]")


MANIFEST_CORRUPTIONS = {"garbage": _manifest_garbage, "empty": _manifest_empty, "deleted": _manifest_deleted,
                        "a directory": _manifest_directory, "a JSON list": _manifest_not_an_object}


@pytest.mark.parametrize("experiment", ["sweep", "sweep8"])
@pytest.mark.parametrize("corruption", sorted(MANIFEST_CORRUPTIONS))
def test_corrupted_manifest_is_recomputed_or_refused(request, tmp_path, corruption, experiment):
    runs = request.getfixturevalue(experiment)
    folder, partial = _checkpoint(runs, tmp_path, interrupted=True)
    MANIFEST_CORRUPTIONS[corruption](partial)
    outcome = invoke(run_argv(runs.experiment, "--resume"), folder, timeout=300)
    assert_resumed_or_refused(outcome, folder, runs.reference, f"manifest.json {corruption}")


@pytest.mark.parametrize("experiment", ["sweep", "sweep8"])
def test_resume_without_manifest_under_another_seed_never_mixes(request, tmp_path, experiment):
    """manifest.json deleted, then --resume --seed 7: a fresh --seed 7 run's data, or refused."""
    runs = request.getfixturevalue(experiment)
    folder, partial = _checkpoint(runs, tmp_path, interrupted=True)
    (partial / "manifest.json").unlink()
    outcome = invoke(run_argv(runs.experiment, "--seed", "7", "--resume"), folder, timeout=300)
    assert_resumed_or_refused(outcome, folder, runs.reference_seed7, "no manifest, resumed with --seed 7")


@pytest.mark.parametrize("experiment", ["sweep", "sweep8"])
def test_resume_after_the_priors_changed_never_mixes(request, tmp_path, experiment):
    """priors/baseline.toml edited between the interrupted run and --resume: refused, or a fresh
    run on the edited priors -- never old tasks mixed with new ones."""
    runs = request.getfixturevalue(experiment)
    folder, partial = _checkpoint(runs, tmp_path, interrupted=True)
    priors = folder / "priors" / "baseline.toml"
    text = priors.read_text(encoding="utf-8")
    assert "p95 = 1e6" in text
    priors.write_text(text.replace("p95 = 1e6", "p95 = 3e6", 1), encoding="utf-8")  # cluster_gpus
    fresh = workspace(tmp_path / "fresh")
    (fresh / "priors" / "baseline.toml").write_text(priors.read_text(encoding="utf-8"), encoding="utf-8")
    run_ok(run_argv(runs.experiment), fresh)
    outcome = invoke(run_argv(runs.experiment, "--resume"), folder, timeout=300)
    expected = overhang_sim.load(fresh / "out.nc")
    assert_resumed_or_refused(outcome, folder, expected, "priors edited before --resume")


# --------------------------------------------------------------------------- result files


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> Path:
    """A folder of result files, good and bad, for report / plot / load."""
    folder = workspace(tmp_path_factory.mktemp("results"))
    run_ok(["run", "experiments/baseline_throughput.toml", "--samples", "4000", "--quiet",
            "--out", "good.nc"], folder)
    run_ok(["run", "experiments/seed003_price_v100.toml", "--quiet", "--out", "nothing_to_draw.nc"], folder)
    run_ok(["sensitivity", "experiments/baseline_throughput.toml", "--samples", "8000",
            "--sobol-samples", "256", "--sobol-replicates", "8", "--out", "sensitivity.nc"], folder)
    (folder / "folder.nc").mkdir()
    garbage = folder / "garbage.zarr"
    garbage.mkdir()
    (garbage / ".zgroup").write_bytes(b"\x00\xff not json")
    (garbage / "zarr.json").write_bytes(b"{\"zarr_format\": ")
    (garbage / "junk").write_bytes(random.Random(2).randbytes(1000))
    data = (folder / "good.nc").read_bytes()
    (folder / "truncated.nc").write_bytes(data[: len(data) // 2])
    xr.Dataset({"temperature": (("time",), np.arange(5.0))}, coords={"time": np.arange(5)},
               attrs={"title": "written by another tool"}).to_netcdf(folder / "foreign.nc", engine="h5netcdf")
    return folder


UNREADABLE = ("folder.nc", "garbage.zarr", "truncated.nc")


def assert_refused_naming(outcome, name: str, what: str) -> None:
    frame = last_package_frame(outcome.frames) if outcome.error is not None else ""
    assert outcome.error is None, f"{what}: {type(outcome.error).__name__} at {frame}: {outcome.error}"
    lines = outcome.err.removesuffix("\n").split("\n") if outcome.err else []
    assert outcome.code == 2, f"{what}: exit status {outcome.code!r}, stdout {outcome.out[-300:]!r}, " \
                              f"stderr {outcome.err[-300:]!r}"
    assert len(lines) == 1 and lines[0].startswith(PREFIX), f"{what}: stderr {outcome.err!r}"
    assert name in lines[0], f"{what}: the error does not name {name}: {lines[0]!r}"
    assert "Traceback" not in outcome.err


def _fresh(results: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "here"
    shutil.copytree(results, folder)
    return folder


@pytest.mark.parametrize("name", UNREADABLE + ("foreign.nc", "sensitivity.nc"))
def test_report_of_a_bad_result_file_is_refused(results, tmp_path, name):
    folder = _fresh(results, tmp_path)
    outcome = invoke(["report", name, "--out", "report.html"], folder, timeout=300)
    assert_refused_naming(outcome, name, f"overhang report {name}")
    assert not (folder / "report.html").exists()


@pytest.mark.parametrize("name", UNREADABLE + ("foreign.nc", "nothing_to_draw.nc"))
def test_plot_of_a_bad_result_file_is_refused(results, tmp_path, name):
    """Unreadable files, and files with nothing to draw: exit 2 saying so, not exit 0 having drawn nothing."""
    folder = _fresh(results, tmp_path)
    figures = folder / "figures"
    figures.mkdir()
    outcome = invoke(["plot", name, "--out-dir", "figures"], folder, timeout=300)
    assert_refused_naming(outcome, name, f"overhang plot {name}")
    assert not list(figures.iterdir())


@pytest.mark.parametrize("name", UNREADABLE)
def test_load_of_an_unreadable_file_raises_an_overhang_error(results, name):
    path = results / name
    try:
        overhang_sim.load(path)
    except OverhangError as error:
        assert name in str(error), str(error)
    except Exception as error:  # noqa: BLE001
        where = last_package_frame(traceback.extract_tb(error.__traceback__))
        pytest.fail(f"overhang_sim.load({name!r}) raised {type(error).__name__} at {where}: "
                    f"{str(error)[:300]}")
    else:
        pytest.fail(f"overhang_sim.load({name!r}) read an unreadable file without an error")


def test_the_good_result_file_is_accepted(results, tmp_path):
    """The control: the same commands on a good file exit 0."""
    folder = _fresh(results, tmp_path)
    assert invoke(["report", "good.nc", "--out", "report.html"], folder).code == 0
    assert (folder / "report.html").is_file()
    (folder / "figures").mkdir()
    outcome = invoke(["plot", "good.nc", "--out-dir", "figures"], folder)
    assert outcome.code == 0 and list((folder / "figures").iterdir()), outcome.err
