"""netCDF storage: exact round trip of values and attrs, atomic writes, clear errors."""

from __future__ import annotations

import dataclasses
import datetime
import os

import numpy as np
import pytest
import xarray as xr
from hypothesis import HealthCheck, given, settings
from strategies import COMPUTE_PRIORS, THROUGHPUT_PRIORS, experiment_toml, fixed, methods, seeds

import overhang_sim.storage
from overhang_sim import OverhangError, StorageError, load, load_experiment, save, simulate, summarize


@pytest.fixture(scope="module")
def experiments(tmp_path_factory):
    folder = tmp_path_factory.mktemp("storage")
    out = {}
    for name, priors, model, extra in [
        ("throughput", {**THROUGHPUT_PRIORS, "fast_stream_tokens_per_s": fixed(300.0)}, "throughput", {}),
        ("compute", COMPUTE_PRIORS, "compute",
         {"correlations": [{"inputs": ["cluster_gpus", "train_days"], "rank": -0.3}]}),
    ]:
        path = folder / f"{name}.toml"
        path.write_text("# a comment with unicode: µ ≈ 1e6\n" + experiment_toml(priors, model=model, samples=64,
                                                                                chains=4, **extra),
                        encoding="utf-8")
        out[name] = load_experiment(path)
    return out


def _without_saved(ds: xr.Dataset) -> xr.Dataset:
    ds = ds.copy()
    ds.attrs = {k: v for k, v in ds.attrs.items() if k != "saved"}
    return ds


def _files(folder):
    return sorted(p.name for p in folder.iterdir())


@settings(max_examples=6, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=seeds, method=methods)
def test_run_round_trip(experiments, tmp_path, seed, method):
    for name, experiment in experiments.items():
        run = simulate(dataclasses.replace(experiment, method=method), seed=seed)
        path = tmp_path / f"{name}.nc"
        save(run, path, overwrite=True)  # hypothesis reuses tmp_path across examples
        back = load(path)
        assert "saved" in back.attrs and "saved" not in run.attrs
        xr.testing.assert_identical(_without_saved(back), run)
        for var in run.variables:
            assert back[var].dtype == run[var].dtype
        assert back.attrs["experiment_text"] == run.attrs["experiment_text"]


def test_summary_round_trip(experiments, tmp_path):
    summary = summarize(simulate(experiments["compute"], seed=1))
    path = save(summary, tmp_path / "summary.nc")
    xr.testing.assert_identical(_without_saved(load(path)), summary)


def test_saved_attr_is_a_utc_timestamp(experiments, tmp_path):
    run = simulate(experiments["throughput"], seed=1)
    before = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
    save(run, tmp_path / "run.nc")
    stamp = datetime.datetime.fromisoformat(load(tmp_path / "run.nc").attrs["saved"])
    assert stamp.tzinfo is not None
    assert before <= stamp <= datetime.datetime.now(datetime.UTC)


def test_save_leaves_no_temporary_files_and_replaces_existing(experiments, tmp_path):
    a = simulate(experiments["throughput"], seed=1)
    b = simulate(experiments["throughput"], seed=2)
    path = tmp_path / "run.nc"
    save(a, path)
    save(b, path, overwrite=True)
    assert _files(tmp_path) == ["run.nc"]
    xr.testing.assert_identical(_without_saved(load(path)), b)


@pytest.mark.parametrize("name", ["run.nc", "run.zarr"])
def test_save_refuses_an_existing_result_and_keeps_it(experiments, tmp_path, name):
    """Without overwrite, a saved result is never replaced: one line naming the file, the old data intact."""
    a = simulate(experiments["throughput"], seed=1)
    path = save(a, tmp_path / name)
    with pytest.raises(StorageError) as info:
        save(simulate(experiments["throughput"], seed=2), path)
    assert str(info.value).startswith(f"{path}: already exists") and "\n" not in str(info.value)
    assert _files(tmp_path) == [name]
    xr.testing.assert_identical(_without_saved(load(path)), a)


def test_failed_write_keeps_the_existing_file(experiments, tmp_path, monkeypatch):
    path = tmp_path / "run.nc"
    path.write_bytes(b"previous result")

    def fail(self, *args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(xr.DataTree, "to_netcdf", fail)
    with pytest.raises(StorageError) as info:
        save(simulate(experiments["throughput"], seed=1), path)
    assert str(info.value).startswith(f"{path}: ")
    assert path.read_bytes() == b"previous result"
    assert _files(tmp_path) == ["run.nc"]


def test_unwritable_folder(experiments, unwritable_dir):
    path = unwritable_dir / "run.nc"
    unwritable_dir.chmod(0o755)
    path.write_bytes(b"previous result")
    unwritable_dir.chmod(0o555)
    with pytest.raises(StorageError) as info:
        save(simulate(experiments["throughput"], seed=1), path)
    assert isinstance(info.value, OSError) and isinstance(info.value, OverhangError)
    assert info.value.file == str(path)
    assert path.read_bytes() == b"previous result"
    assert _files(unwritable_dir) == ["run.nc"]


def test_folder_that_does_not_exist_and_folder_as_file(experiments, tmp_path):
    run = simulate(experiments["throughput"], seed=1)
    save(run, tmp_path / "missing" / "deeper" / "run.nc")  # missing folders are created, as --out documents
    assert (tmp_path / "missing" / "deeper" / "run.nc").is_file()
    (tmp_path / "blocker").write_text("a file where a folder is needed")
    with pytest.raises(StorageError, match="cannot create the folder"):
        save(run, tmp_path / "blocker" / "run.nc")
    (tmp_path / "adir").mkdir()
    with pytest.raises(StorageError, match="folder"):
        save(run, tmp_path / "adir")
    assert _files(tmp_path) == ["adir", "blocker", "missing"]


def test_a_failed_write_is_a_storage_error_and_leaves_nothing(experiments, tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(overhang_sim.storage.os, "replace", refuse)
    with pytest.raises(StorageError, match="cannot write: Permission denied"):
        save(simulate(experiments["throughput"], seed=1), tmp_path / "run.nc")
    assert _files(tmp_path) == []


def test_load_errors(tmp_path):
    with pytest.raises(StorageError, match="no such file"):
        load(tmp_path / "missing.nc")
    garbage = tmp_path / "garbage.nc"
    garbage.write_text("not netCDF")
    with pytest.raises(StorageError) as info:
        load(garbage)
    assert str(info.value).startswith(f"{garbage}: cannot read")


def test_loaded_dataset_is_in_memory(experiments, tmp_path):
    """load() reads everything, so the file can be replaced or removed afterwards."""
    run = simulate(experiments["throughput"], seed=1)
    path = save(run, tmp_path / "run.nc")
    back = load(path)
    os.remove(path)
    np.testing.assert_array_equal(back["instances"].values, run["instances"].values)


# --------------------------------------------------------------------------- ArviZ's layout (issue 12, item 3)


@pytest.fixture(scope="module")
def saved_run(experiments, tmp_path_factory):
    """A run with a fixed input (a 0-d variable), saved as netCDF."""
    run = simulate(experiments["throughput"], seed=3)
    assert any(not {"chain", "draw"} <= set(v.dims) for v in run.data_vars.values())
    return run, save(run, tmp_path_factory.mktemp("arviz") / "run.nc")


def test_arviz_reads_the_draws_as_its_prior_group(saved_run):
    az = pytest.importorskip("arviz")
    run, path = saved_run
    idata = az.from_netcdf(path)
    assert "prior" in idata.groups()
    sampled = [n for n, v in run.data_vars.items() if {"chain", "draw"} <= set(v.dims)]
    assert sorted(idata.prior.data_vars) == sorted(sampled)
    np.testing.assert_array_equal(idata.prior["instances"].values, run["instances"].values)
    fixed_inputs = sorted(n for n in run.data_vars if n not in sampled)
    assert sorted(idata.constant_data.data_vars) == fixed_inputs
    table = az.summary(idata.prior, kind="stats")  # no var_names: fixed inputs are not in the group
    assert table.loc["instances", "mean"] == pytest.approx(float(run["instances"].mean()))
    assert idata.prior.attrs["experiment_sha256"] == run.attrs["experiment_sha256"]


def test_plain_xarray_opens_the_prior_group_with_provenance(saved_run):
    run, path = saved_run
    with xr.open_dataset(path, group="prior", engine="h5netcdf") as prior:
        xr.testing.assert_identical(prior["instances"].load(), run["instances"])
        assert prior.attrs["experiment_text"] == run.attrs["experiment_text"]
    with xr.open_dataset(path, engine="h5netcdf") as root:
        assert root.attrs["experiment_sha256"] == run.attrs["experiment_sha256"] and "saved" in root.attrs


def test_zarr_store_has_the_same_groups(experiments, tmp_path):
    az = pytest.importorskip("arviz")
    run = simulate(experiments["throughput"], seed=4)
    path = save(run, tmp_path / "run.zarr")
    xr.testing.assert_identical(_without_saved(load(path)), run)
    with xr.open_dataset(path, group="prior", engine="zarr") as prior:
        np.testing.assert_array_equal(prior["instances"].values, run["instances"].values)
    idata = az.InferenceData.from_datatree(xr.open_datatree(path, engine="zarr"))
    assert "instances" in idata.prior


def test_files_in_the_old_flat_layout_still_load(experiments, tmp_path):
    """Runs saved before the grouped layout hold every variable in the root group."""
    run = simulate(experiments["compute"], seed=5)
    run.to_netcdf(tmp_path / "old.nc", engine="h5netcdf")
    run.to_zarr(tmp_path / "old.zarr", zarr_format=2, consolidated=True)
    xr.testing.assert_identical(load(tmp_path / "old.nc"), run)
    xr.testing.assert_identical(load(tmp_path / "old.zarr"), run)


def test_a_summary_is_saved_flat(experiments, tmp_path):
    summary = summarize(simulate(experiments["compute"], seed=1))
    path = save(summary, tmp_path / "summary.nc")
    with xr.open_dataset(path, engine="h5netcdf") as flat:
        assert set(flat.data_vars) == set(summary.data_vars)
