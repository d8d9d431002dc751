"""Scenario grids, paired comparisons, workers, dask, resume and their bad input."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from strategies import SWEEP, run_on

from overhang_sim import batch, load, simulate
from overhang_sim.errors import ConfigError, OverhangError
from overhang_sim.executors import ThreadPool, executor_for
from overhang_sim.scenarios import load_scenarios
from overhang_sim.storage import Checkpoint, StorageError
from overhang_sim.summaries import compare

ROOT = Path(__file__).resolve().parents[1]
PRIORS = ROOT / "priors" / "baseline.toml"



def _write(tmp_path, text, name="sweep.toml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    path = _write(tmp_path_factory.mktemp("sweep"), SWEEP)
    scenarios = load_scenarios(path)
    return path, scenarios, run_on(scenarios, workers=1)


def test_grid_dims_coords_and_fixed_axis_is_the_coordinate(sweep):
    _, scenarios, result = sweep
    assert scenarios.dims == ("required_tokens_per_s", "year")
    assert result["instances"].dims == ("required_tokens_per_s", "year", "chain", "draw")
    assert list(result["required_tokens_per_s"].values) == [10, 30, 50]
    assert "required_tokens_per_s" not in result.data_vars  # the input is the coordinate
    assert result["quantile"].dims[:2] == ("required_tokens_per_s", "year")


def test_each_scenario_equals_its_own_simulate_run(sweep):
    """A grid cell is exactly the plain run of that scenario's experiment."""
    _, scenarios, result = sweep
    for i, experiment in enumerate(scenarios.experiments):
        labels = scenarios.labels(i)
        alone = simulate(experiment)
        cell = result.sel(labels)
        for name in ("instances", "cluster_gpus", "tokens_per_gpu_s"):
            np.testing.assert_array_equal(cell[name].values, alone[name].values)


def test_common_random_numbers_make_comparisons_exact(sweep):
    """Only the required speed differs: instances scale by exactly 10/30 draw by draw."""
    _, _, result = sweep
    a = result["instances"].sel(required_tokens_per_s=10, year=2026)
    b = result["instances"].sel(required_tokens_per_s=30, year=2026)
    np.testing.assert_allclose(a.values / b.values, 3.0, rtol=1e-13)
    found = compare(result, {"required_tokens_per_s": 10, "year": 2026},
                          {"required_tokens_per_s": 30, "year": 2026})
    assert found["p_a_greater"] == 1.0
    assert found["median_log10_ratio"] == pytest.approx(np.log10(3.0), abs=1e-12)
    # shared inputs are shared across the year axis too (same uniforms, other prior)
    np.testing.assert_array_equal(result["tokens_per_gpu_s"].sel(year=2024, required_tokens_per_s=10),
                                  result["tokens_per_gpu_s"].sel(year=2026, required_tokens_per_s=50))


def test_compare_needs_one_scenario_each_side(sweep):
    _, _, result = sweep
    with pytest.raises(ConfigError, match="exactly one scenario"):
        compare(result, {"required_tokens_per_s": 10}, {"required_tokens_per_s": 30})


def test_two_local_workers_give_identical_results(sweep):
    _, scenarios, result = sweep
    xr.testing.assert_identical(run_on(scenarios, workers=2).drop_attrs(), result.drop_attrs())


def test_dask_local_cluster_gives_identical_results(sweep):
    distributed = pytest.importorskip("distributed")
    _, scenarios, result = sweep
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address=None,
                                  processes=True) as cluster:
        remote = run_on(scenarios, scheduler=cluster.scheduler_address)
    xr.testing.assert_identical(remote.drop_attrs(), result.drop_attrs())


def test_named_scenarios_are_one_axis(tmp_path):
    text = f"""
name = "named"
model = "throughput"
priors = ["{PRIORS}"]
samples = 800
chains = 2

[[scenarios]]
name = "slow"
set.required_tokens_per_s = 10

[[scenarios]]
name = "fast"
set.required_tokens_per_s = 100
"""
    result = run_on(load_scenarios(_write(tmp_path, text)), workers=1)
    assert list(result["scenario"].values) == ["slow", "fast"]
    ratio = result["instances"].sel(scenario="slow") / result["instances"].sel(scenario="fast")
    np.testing.assert_allclose(ratio.values, 10.0, rtol=1e-13)


BAD_AXES = {
    "unknown axis": ('[[axes]]\nname = "cluster_gpu"\nvalues = [1e4]\n', "axes[0].set", "did you mean"),
    "empty grid": ('[[axes]]\nname = "required_tokens_per_s"\nvalues = []\n', "axes[0].values", "non-empty"),
    "duplicate names": ('[[scenarios]]\nname = "a"\n[[scenarios]]\nname = "a"\n', "scenarios[1].name",
                        "used twice"),
    "axis collides with a fixed input": (
        '[overrides.required_tokens_per_s]\nvalue = 30\nunit = "token/s"\n'
        '[[axes]]\nname = "required_tokens_per_s"\nvalues = [10, 20]\n',
        "overrides.required_tokens_per_s", "already fixes"),
    "reserved name": ('[[axes]]\nname = "chain"\nvalues = [1]\nset.model = ["compute"]\n', "axes[0].name",
                      "reserved"),
    "wrong length": ('[[axes]]\nname = "x"\nvalues = [1, 2]\nset.required_tokens_per_s = [1]\n',
                     "axes[0].set.required_tokens_per_s", "2 entries"),
}


@pytest.mark.parametrize("case", sorted(BAD_AXES))
def test_bad_axes_are_one_line_errors(tmp_path, run_cli, case):
    extra, key, words = BAD_AXES[case]
    base = f'name = "bad"\nmodel = "throughput"\npriors = ["{PRIORS}"]\nsamples = 100\nchains = 2\n'
    path = _write(tmp_path, base + extra)
    out_file = tmp_path / "out.nc"
    code, out, err = run_cli(["run", path, "--out", out_file])
    assert code == 2 and out == "" and err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith(f"overhang: error: {path}: {key}: "), err
    assert words in err, err
    assert not out_file.exists()


def test_bad_value_inside_one_scenario_names_it(tmp_path):
    text = (f'name = "bad"\nmodel = "throughput"\npriors = ["{PRIORS}"]\n'
            '[[axes]]\nname = "required_tokens_per_s"\nvalues = [10, -5]\n')
    with pytest.raises(OverhangError, match="scenario required_tokens_per_s=-5"):
        load_scenarios(_write(tmp_path, text))


def test_unreachable_scheduler_is_a_one_line_error(tmp_path, run_cli):
    path = _write(tmp_path, SWEEP)
    code, out, err = run_cli(["run", path, "--scheduler", "tcp://127.0.0.1:9", "--quiet"])
    assert code == 2 and "cannot reach the dask scheduler" in err and err.count("\n") == 1, err


def test_compare_on_the_command_line(tmp_path, run_cli):
    path = _write(tmp_path, SWEEP)
    code, out, err = run_cli(["run", path, "--compare", "required_tokens_per_s=10,year=2024",
                              "required_tokens_per_s=50,year=2024"])
    assert code == 0, err
    said = " ".join(out.split())  # the sentence may wrap at 80 columns
    assert "A: required_tokens_per_s=10,year=2024 and B: required_tokens_per_s=50,year=2024" in said
    assert "P(A > B) = 1;" in out
    assert max(map(len, out.splitlines())) <= 80
    code, out, err = run_cli(["run", path, "--compare", "speed=10", "year=2024"])
    assert code == 2 and "unknown scenario axis 'speed'" in err


# --------------------------------------------------------------------------- resume


def test_a_leftover_partial_run_is_not_overwritten(tmp_path, run_cli):
    path = _write(tmp_path, SWEEP)
    out_file = tmp_path / "out.nc"
    (tmp_path / "out.nc.partial").mkdir()
    (tmp_path / "out.nc.partial" / "keep.me").write_text("x")
    code, out, err = run_cli(["run", path, "--out", out_file])
    assert code == 2 and "--resume" in err, err
    assert (tmp_path / "out.nc.partial" / "keep.me").exists() and not out_file.exists()


def test_resume_refuses_a_changed_experiment(tmp_path):
    path = _write(tmp_path, SWEEP)
    out = tmp_path / "out.nc"
    scenarios = load_scenarios(path)
    box = batch._Saved(Checkpoint(f"{out}.partial", batch._fingerprint(scenarios, 11, True), False, str(path)))
    box.save(("chain", (0, 0)), {"samples": {"x": np.zeros(3)}})
    changed = load_scenarios(_write(tmp_path, SWEEP.replace("[10, 30, 50]", "[10, 30, 60]")))
    with pytest.raises(ConfigError, match="the experiment or its prior files have changed"):
        run_on(changed, out=out, resume=True, workers=1, seed=11)


def test_resume_after_kill_equals_an_uninterrupted_run(tmp_path):
    """kill -9 part-way through, then --resume: the same data and attrs but the timestamps."""
    text = SWEEP.replace("samples = 4000", "samples = 400000").replace("chains = 4", "chains = 8")
    path = _write(tmp_path, text)
    out_file = tmp_path / "out.nc"
    command = [sys.executable, "-m", "overhang_sim.cli", "run", str(path), "--out", str(out_file),
               "--workers", "1", "--quiet"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    partial = tmp_path / "out.nc.partial"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(list(partial.glob("*.npz"))) < 5:
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert not out_file.exists()
    finished = len(list(partial.glob("*.npz")))
    assert 5 <= finished < 48
    resumed = subprocess.run([*command, "--resume"], capture_output=True, text=True, check=False)
    assert resumed.returncode == 0, resumed.stderr
    assert not partial.exists()
    whole = run_on(load_scenarios(path), workers=1)
    saved = load(out_file)
    stamps = ("saved", "started", "finished")
    xr.testing.assert_identical(saved.drop_attrs(), whole.drop_attrs())
    assert {k: v for k, v in saved.attrs.items() if k not in stamps} == \
        {k: v for k, v in whole.attrs.items() if k not in stamps}


# --------------------------------------------------------------------------- streamed summaries


@pytest.fixture(scope="module")
def streamed(sweep):
    _, scenarios, exact = sweep
    return exact, run_on(scenarios, workers=1, keep_samples=False)


def test_streamed_run_keeps_no_samples_and_says_how_it_summarised(streamed):
    _, result = streamed
    assert "instances" not in result.data_vars and "draw" not in result.dims
    assert result.attrs["quantiles_from"].startswith("sketches")


def test_streamed_quantiles_within_the_sketch_accuracy(streamed):
    """Pooled and per-chain quantiles are the sketch's: within relative alpha of numpy's
    inverted-CDF quantile of the same draws (the exact run)."""
    exact, result = streamed
    for output in ("instances", "cluster_tokens_per_s"):
        for cell in ({"required_tokens_per_s": 10, "year": 2024}, {"required_tokens_per_s": 50, "year": 2026}):
            x = exact[output].sel(cell).values
            probs = result["prob"].values
            expected = np.quantile(x, probs, method="inverted_cdf")
            got = result["quantile"].sel({**cell, "output": output, "scale": "linear"}).values
            np.testing.assert_array_less(np.abs(got / expected - 1), batch.SKETCH_ALPHA)


def test_streamed_means_and_exceedance_are_exact(streamed):
    exact, result = streamed
    np.testing.assert_allclose(result["mean"].values, exact["mean"].values, rtol=1e-12)
    np.testing.assert_allclose(result["mean_mcse"].values, exact["mean_mcse"].values, rtol=1e-9)
    np.testing.assert_allclose(result["prob_at_least"].values, exact["prob_at_least"].values, rtol=1e-12)
    np.testing.assert_allclose(result["prob_at_least_mcse"].values, exact["prob_at_least_mcse"].values,
                               rtol=1e-9, atol=1e-15)


def test_streamed_runs_are_identical_for_any_number_of_workers(sweep, streamed):
    _, scenarios, _ = sweep
    _, result = streamed
    xr.testing.assert_identical(run_on(scenarios, workers=2, keep_samples=False).drop_attrs(),
                                result.drop_attrs())


def test_streamed_resume_from_a_checkpoint(tmp_path, sweep, streamed):
    """Half the chains saved, the rest computed on resume: the same result."""
    _, scenarios, _ = sweep
    _, result = streamed
    out = tmp_path / "run.nc"
    box = batch._Saved(Checkpoint(f"{out}.partial", batch._fingerprint(scenarios, scenarios.base.seed, False),
                                  False, "x"))
    outputs = batch._summary_outputs(scenarios)
    for s, experiment in enumerate(scenarios.experiments[:3]):
        for c in range(experiment.chains):
            box.save(("chain", (s, c)), batch.chain_task(experiment, scenarios.base.seed, c, False, outputs))
    resumed = run_on(scenarios, workers=1, keep_samples=False, out=out, resume=True)
    assert not Path(f"{out}.partial").exists()
    xr.testing.assert_identical(load(out).drop_attrs(), result.drop_attrs())
    xr.testing.assert_identical(resumed.drop_attrs(), result.drop_attrs())


def test_zarr_output_round_trips(tmp_path, sweep, run_cli):
    path, _, _ = sweep
    out_file = tmp_path / "run.zarr"
    code, out, err = run_cli(["run", path, "--out", out_file, "--quiet"])
    assert code == 0 and err == "", err
    saved = load(out_file)
    direct = run_on(load_scenarios(path), workers=1)
    xr.testing.assert_identical(saved.drop_attrs(), direct.drop_attrs())
    assert saved.attrs["experiment_text"] == direct.attrs["experiment_text"]
    code, out, err = run_cli(["run", path, "--out", out_file, "--quiet", "--seed", "9"])  # kept, not replaced
    assert code == 2 and err.count("\n") == 1 and "already exists" in err
    xr.testing.assert_identical(load(out_file), saved)
    code, out, err = run_cli(["run", path, "--out", out_file, "--quiet", "--overwrite"])  # replaced by a complete one
    assert code == 0 and sorted(p.name for p in tmp_path.iterdir()) == ["run.zarr"]


@pytest.mark.parametrize("route", ["run", "run_until_precise"])
def test_an_existing_out_is_refused_before_anything_runs(sweep, tmp_path, monkeypatch, route):
    """batch.run and run_until_precise never replace a saved result unless told to (overwrite=True)."""
    from overhang_sim.precision import PrecisionTarget, run_until_precise

    path, _, _ = sweep
    out_file = tmp_path / "run.nc"
    out_file.write_bytes(b"an earlier result")
    for name in ("evaluate", "sample_chain"):  # every task draws through one of them
        monkeypatch.setattr(batch, name, lambda *a, **k: pytest.fail("ran although out exists"))
    go = batch.run if route == "run" else lambda s, **k: run_until_precise(s, PrecisionTarget(0.5, 0.5, 4000), **k)
    with pytest.raises(StorageError, match="already exists"):
        go(load_scenarios(path), out=out_file)
    assert out_file.read_bytes() == b"an earlier result" and [p.name for p in tmp_path.iterdir()] == ["run.nc"]
    monkeypatch.undo()
    result = go(load_scenarios(path), out=out_file, overwrite=True)
    xr.testing.assert_identical(load(out_file).drop_attrs(), result.drop_attrs())


def test_streamed_quantile_errors_include_the_sketch_resolution(streamed):
    """Per-chain sketch quantiles move in bucket steps; the reported error never falls below them."""
    _, result = streamed
    q = result["quantile"].sel(scale="linear")
    floor = batch.SKETCH_ALPHA * np.abs(q) / np.sqrt(3)
    assert bool((result["quantile_mcse"].sel(scale="linear") >= floor * (1 - 1e-12)).all())
    log_floor = np.log10(1 + batch.SKETCH_ALPHA) / np.sqrt(3)
    assert bool((result["quantile_mcse"].sel(scale="log10") >= log_floor * (1 - 1e-12)).all())


@pytest.mark.parametrize("keep", [True, False], ids=["samples", "streamed"])
def test_scenario_tasks_equal_chain_tasks(sweep, streamed, monkeypatch, keep):
    """Files with many scenarios run one task per scenario: the same result as per-chain tasks."""
    _, scenarios, exact = sweep
    expected = exact if keep else streamed[1]
    monkeypatch.setattr(batch, "SCENARIO_TASKS_MIN", 1)
    for workers in (1, 2):
        got = run_on(scenarios, workers=workers, keep_samples=keep)
        xr.testing.assert_identical(got.drop_attrs(), expected.drop_attrs())


def test_scenario_tasks_resume_from_a_checkpoint(tmp_path, sweep, streamed, monkeypatch):
    _, scenarios, _ = sweep
    _, expected = streamed
    monkeypatch.setattr(batch, "SCENARIO_TASKS_MIN", 1)
    out = tmp_path / "run.nc"
    box = batch._Saved(Checkpoint(f"{out}.partial", batch._fingerprint(scenarios, scenarios.base.seed, False),
                                  False, "x"))
    outputs = batch._summary_outputs(scenarios)
    for s in (0, 4):
        e = scenarios.experiments[s]
        box.save(("scenario", s), batch.scenario_task(e, scenarios.base.seed, False, outputs))
    resumed = run_on(scenarios, workers=1, keep_samples=False, out=out, resume=True)
    xr.testing.assert_identical(resumed.drop_attrs(), expected.drop_attrs())


def test_local_workers_write_kept_draws_in_place(tmp_path, sweep):
    """With shared files (local workers), a chain task writes its rows into the final arrays and sends
    back nothing that was written there; the rows are the in-process run's, bit for bit."""
    from overhang_sim import batch

    _, scenarios, result = sweep
    experiment = scenarios.experiments[1]
    seed = experiment.seed
    paths, arrays = batch._shared_files(experiment, seed, tmp_path, 1)
    outputs = batch._summary_outputs(scenarios)
    for chain in range(experiment.chains):
        sent = batch.chain_task(experiment, seed, chain, True, outputs, shared=paths)
        assert sent == {"samples": {}}
    expected = result.sel(scenarios.labels(1))
    for name, values in arrays.items():
        if name in expected and "draw" in expected[name].dims:
            np.testing.assert_array_equal(values, expected[name].transpose("chain", "draw").values)


def test_kept_resume_on_local_workers_uses_the_saved_chains(tmp_path, sweep, monkeypatch):
    """Some chains from a checkpoint, the rest drawn by local workers into shared memory: the saved
    rows land in the same final arrays, and the result equals an uninterrupted in-process run."""
    from overhang_sim import batch

    _, scenarios, result = sweep
    out = tmp_path / "kept.nc"

    def full_disk(*args, **kwargs):
        raise OSError("no space left on device")

    monkeypatch.setattr(batch, "save", full_disk)
    with pytest.raises(OSError):
        batch.run(scenarios, keep_samples=True, out=out)  # every chain saved in the checkpoint, no result
    monkeypatch.undo()
    saved = sorted((tmp_path / "kept.nc.partial").glob("*.npz"))
    assert saved
    for file in saved[1::2]:  # these chains are drawn again on the workers, after a saved one of theirs
        file.unlink()
    from overhang_sim.errors import CheckpointWarning

    with pytest.warns(CheckpointWarning, match="computed again"):  # the files removed above
        resumed = run_on(scenarios, workers=2, keep_samples=True, out=out, resume=True)
    xr.testing.assert_identical(resumed.drop_attrs(), result.drop_attrs())


def test_threads_give_identical_results(sweep):
    """Issue 11: chains drawn on threads of this process write their own rows of the final arrays;
    the result is bit-identical to one thread's, whatever the scheduling."""
    _, scenarios, result = sweep
    with executor_for(threads=2) as executor:
        assert isinstance(executor, ThreadPool)
        threaded = batch.run(scenarios, executor=executor)
    xr.testing.assert_identical(threaded.drop_attrs(), result.drop_attrs())


def test_threads_give_identical_streamed_and_scenario_results(sweep, monkeypatch):
    """Streamed chains and whole-scenario tasks on threads equal this process's runs too."""
    _, scenarios, _ = sweep
    alone = batch.run(scenarios, keep_samples=False)
    with executor_for(threads=2) as executor:
        threaded = batch.run(scenarios, executor=executor, keep_samples=False)
        monkeypatch.setattr(batch, "SCENARIO_TASKS_MIN", 1)
        by_scenario = batch.run(scenarios, executor=executor)
    xr.testing.assert_identical(threaded.drop_attrs(), alone.drop_attrs())
    xr.testing.assert_identical(by_scenario.drop_attrs(), batch.run(scenarios).drop_attrs())


def test_kept_draws_on_plain_pages_are_ordinary_arrays():
    """The final (chain, draw) arrays from 4 MB on live in anonymous memory of their own (no huge-page
    compaction stalls): writable float64, kept alive by their views, and pickled like any array."""
    import pickle

    big = batch._plain_pages((2, 2**18))
    assert big.shape == (2, 2**18) and big.dtype == np.float64 and big.flags.writeable
    row = big[1]
    del big
    row[:] = np.arange(row.size)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(row)), np.arange(2**18))
    assert not isinstance(batch._plain_pages((2, 8)).base, memoryview)  # small: numpy's own


def _dead_pid() -> int:
    """The PID of a process that has already exited."""
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True)
    return int(done.stdout)


def test_a_shared_folder_left_by_a_killed_run_is_removed_by_the_next(tmp_path, sweep, monkeypatch):
    """A SIGKILL of the main process left its /dev/shm folder of kept draws behind for good: a run
    with local workers now removes the folders of dead owners (a live owner's and foreign names stay)."""
    from overhang_sim import shared_folders

    _, scenarios, result = sweep
    shm = tmp_path / "shm"
    shm.mkdir()
    monkeypatch.setattr(shared_folders, "SHARED_MEMORY", shm)
    stale = shm / f"overhang-{_dead_pid()}-k1ll3d"
    stale.mkdir()
    (stale / "s000000_0000.npy").write_bytes(b"\0" * 1024)
    live = shm / f"overhang-{os.getppid()}-running"  # pytest's parent: alive
    live.mkdir()
    foreign = [shm / "overhang-abc123xy", shm / "other-1"]  # no owner in the name: not ours to judge
    for folder in foreign:
        folder.mkdir()
    made = []
    real = shared_folders.owned_folder
    monkeypatch.setattr(shared_folders, "owned_folder", lambda folder=None: made.append(real(folder)) or made[-1])
    kept = run_on(scenarios, workers=2, keep_samples=True)
    assert len(made) == 1 and shared_folders.owner(Path(made[0].name).name) == os.getpid()  # named after us
    assert sorted(p.name for p in shm.iterdir()) == sorted(p.name for p in [live, *foreign])  # ours removed too
    xr.testing.assert_identical(kept.drop_attrs(), result.drop_attrs())


def test_remove_stale_names_what_it_removed(tmp_path):
    from overhang_sim.shared_folders import owner, remove_stale

    dead, alive = tmp_path / f"overhang-{_dead_pid()}-a", tmp_path / f"overhang-{os.getpid()}-b"
    dead.mkdir()
    alive.mkdir()
    (tmp_path / f"overhang-{_dead_pid()}-file").write_text("not a folder")
    assert remove_stale(tmp_path) == [dead]
    assert remove_stale(tmp_path) == [] and alive.is_dir()
    assert owner("overhang-123-x") == 123 and owner("overhang-abc") is None and owner("overhang--1-x") is None


@pytest.mark.parametrize("keep", [True, False], ids=["samples", "streamed"])
def test_stacking_alike_scenarios_with_numpy_equals_xr_concat(sweep, monkeypatch, keep):
    """The numpy stacking of a grid's alike scenario Datasets is exactly what ``xr.concat`` gave."""
    from overhang_sim import scenarios as scenario_module

    _, scenarios, _ = sweep
    outputs = batch._summary_outputs(scenarios)
    datasets = [batch.scenario_task(e, scenarios.base.seed, keep, outputs) for e in scenarios.experiments]
    assert scenario_module._stack_alike(datasets) is not None  # the fast path is the one tested
    fast = scenario_module.stack_scenarios(scenarios, datasets)
    monkeypatch.setattr(scenario_module, "_stack_alike", lambda datasets: None)
    slow = scenario_module.stack_scenarios(scenarios, datasets)
    xr.testing.assert_identical(fast, slow)
    for name in slow.variables:
        assert (fast[name].dims, fast[name].attrs) == (slow[name].dims, slow[name].attrs), name


def test_scenarios_that_differ_in_variables_are_stacked_by_xr_concat(sweep):
    """A Dataset lacking a variable, or with other coordinates, is not 'alike': NaN fills it as before."""
    from overhang_sim import scenarios as scenario_module

    _, scenarios, _ = sweep
    outputs = batch._summary_outputs(scenarios)
    datasets = [batch.scenario_task(e, scenarios.base.seed, False, outputs) for e in scenarios.experiments]
    assert scenario_module._stack_alike([datasets[0], datasets[1].drop_vars("mean")]) is None
    assert scenario_module._stack_alike([datasets[0], datasets[1].assign_coords(prob=datasets[1]["prob"] + 0.01)]) \
        is None
    datasets[1] = datasets[1].drop_vars("mean")
    stacked = scenario_module.stack_scenarios(scenarios, datasets)
    assert bool(stacked["mean"].isel(required_tokens_per_s=0, year=1).isnull().all())
    assert not bool(stacked["mean"].isel(required_tokens_per_s=0, year=0).isnull().any())


FIXED_SWEEP = f"""
name = "fixed_sweep"
model = "compute"
priors = ["{PRIORS}"]
samples = 1200
chains = 3
seed = 5

[[correlations]]
inputs = ["train_utilization", "inference_utilization"]
rank = 0.5

[[axes]]
name = "required_tokens_per_s"
values = [10, 20, 40, 80, 160]

[[axes]]
name = "cluster_gpus"
values = [2e4, 1e5]
"""


@pytest.mark.parametrize("keep", [True, False], ids=["samples", "streamed"])
@pytest.mark.parametrize("workers", [1, 2])
def test_scenarios_differing_in_fixed_inputs_share_draws_and_equal_their_own_runs(tmp_path, monkeypatch, keep,
                                                                                     workers):
    """Grouped tasks (inputs drawn once per group) give exactly what a task per scenario gives."""
    scenarios = load_scenarios(_write(tmp_path, FIXED_SWEEP))
    assert batch.shares_draws(scenarios)
    monkeypatch.setattr(batch, "GROUP_SCENARIOS", 3)  # groups of 3, 3, 3, 1: a short last one
    grouped = run_on(scenarios, workers=workers, keep_samples=keep)
    monkeypatch.setattr(batch, "shares_draws", lambda scenarios: False)
    alone = run_on(scenarios, workers=workers, keep_samples=keep)
    xr.testing.assert_identical(grouped.drop_attrs(), alone.drop_attrs())
    if keep:  # and the draws are those of each scenario's own plain run
        for i in (0, 7):
            cell = grouped.sel(scenarios.labels(i))
            np.testing.assert_array_equal(cell["instances"].values, simulate(scenarios.experiments[i])["instances"].values)


def test_an_axis_that_sets_a_prior_is_not_grouped(sweep):
    _, scenarios, _ = sweep
    assert not batch.shares_draws(scenarios)  # `year` sets cluster_gpus's prior: other draws


def test_grouped_run_resumes_from_saved_scenarios(tmp_path, monkeypatch):
    scenarios = load_scenarios(_write(tmp_path, FIXED_SWEEP))
    monkeypatch.setattr(batch, "GROUP_SCENARIOS", 4)
    expected = run_on(scenarios, workers=1, keep_samples=False)
    out = tmp_path / "run.nc"
    box = batch._Saved(Checkpoint(f"{out}.partial", batch._fingerprint(scenarios, scenarios.base.seed, False),
                                  False, "x"))
    outputs = batch._summary_outputs(scenarios)
    for s in (1, 6):
        box.save(("scenario", s), batch.scenario_task(scenarios.experiments[s], scenarios.base.seed, False, outputs))
    resumed = run_on(scenarios, workers=1, keep_samples=False, out=out, resume=True)
    xr.testing.assert_identical(resumed.drop_attrs(), expected.drop_attrs())


@pytest.mark.parametrize("keep", [True, False], ids=["samples", "streamed"])
@pytest.mark.parametrize("group", [1, 4, 25])
@pytest.mark.parametrize("block", [2**16, 800, 300], ids=["chains-at-once", "two-chains-at-once", "blocks-of-a-chain"])
def test_a_group_is_one_dataset_along_scenario_index_equal_to_its_scenarios_alone(tmp_path, monkeypatch, keep,
                                                                                   group, block):
    """Issue 11 target 4: group_task builds and summarises its scenarios once, as one Dataset along
    scenario_index (before: a list of per-scenario Datasets), each index identical to scenario_task's
    Dataset of that scenario; groups of 1, 4 and all 10 scenarios (a short last group for 4). The
    chains of 400 draws are evaluated all 3 at once, 2 and 1 at a time (BLOCK 800), or one in blocks
    of 300 and 100 draws (BLOCK 300): the same numbers as a chain at a time."""
    monkeypatch.setattr(batch, "BLOCK", block)
    scenarios = load_scenarios(_write(tmp_path, FIXED_SWEEP))
    outputs = batch._summary_outputs(scenarios)
    seed = scenarios.base.seed
    for members in batch._groups(list(range(len(scenarios.experiments))), group):
        block = batch.group_task(tuple(scenarios.experiments[s] for s in members), seed, keep, outputs)
        assert isinstance(block, xr.Dataset) and block.sizes["scenario_index"] == len(members)
        for k, s in enumerate(members):
            alone = batch.scenario_task(scenarios.experiments[s], seed, keep, outputs)
            xr.testing.assert_identical(block.isel(scenario_index=k).drop_attrs(), alone.drop_attrs())


def test_groups_are_consecutive_blocks_of_the_grid():
    assert batch._groups([0, 1, 2, 3, 4], 2) == [(0, 1), (2, 3), (4,)]
    assert batch._groups([0, 2, 3, 4, 7], 3) == [(0,), (2, 3, 4), (7,)]  # a resumed scenario starts a new group


@pytest.mark.parametrize("keep", [True, False], ids=["samples", "streamed"])
def test_grouped_run_resumes_from_saved_scenarios_and_groups(tmp_path, monkeypatch, keep):
    """Resume from scenarios saved by scenario_task and by a finished group (saved scenario by scenario)."""
    scenarios = load_scenarios(_write(tmp_path, FIXED_SWEEP))
    monkeypatch.setattr(batch, "GROUP_SCENARIOS", 3)
    expected = run_on(scenarios, workers=1, keep_samples=keep)
    out = tmp_path / "run.nc"
    box = batch._Saved(Checkpoint(f"{out}.partial", batch._fingerprint(scenarios, scenarios.base.seed, keep),
                                  False, "x"))
    outputs = batch._summary_outputs(scenarios)
    box.save(("scenario", 0), batch.scenario_task(scenarios.experiments[0], scenarios.base.seed, keep, outputs))
    block = batch.group_task(tuple(scenarios.experiments[4:6]), scenarios.base.seed, keep, outputs)
    for k, s in enumerate((4, 5)):
        box.save(("scenario", s), block.isel(scenario_index=k))
    resumed = run_on(scenarios, workers=1, keep_samples=keep, out=out, resume=True)
    xr.testing.assert_identical(resumed.drop_attrs(), expected.drop_attrs())
