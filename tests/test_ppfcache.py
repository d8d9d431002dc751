"""The on-disk cache of PPF tables: round trip, same draws with and without it, damage, no folder.

Every test points ``OVERHANG_CACHE_DIR`` at its own folder and empties the in-process
cache of :func:`overhang_sim.ppftable.table_of`, so each starts as a fresh process would.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import warnings

import numpy as np
import pytest
import xarray as xr

from overhang_sim import Beta, LogNormal, Mixture, Pert, load_experiment, ppfcache, simulate
from overhang_sim.ppftable import PPFTable, table_of

SPEC = Pert(0.04, 0.3, 0.5)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """An empty cache folder of this test (the ``ppf`` folder inside it holds the entries)."""
    monkeypatch.setenv("OVERHANG_CACHE_DIR", str(tmp_path / "cache"))
    table_of.cache_clear()
    yield tmp_path / "cache" / "ppf"
    table_of.cache_clear()


def _entries(folder):
    return sorted(folder.glob("*.table")) if folder.is_dir() else []


@functools.cache
def _fresh(dist) -> PPFTable:
    """`dist`'s table built without any cache (once per test session: it takes about a second)."""
    return PPFTable(dist.as_beta.exact_ppf if isinstance(dist, Pert) else dist.exact_ppf)


def test_a_table_is_written_once_and_read_back_bit_for_bit(cache):
    built = table_of(SPEC.as_beta)
    (entry,) = _entries(cache)
    table_of.cache_clear()
    read = table_of(SPEC.as_beta)
    fresh = _fresh(SPEC)
    assert _entries(cache) == [entry]
    assert read is not built
    np.testing.assert_array_equal(read.nodes, fresh.nodes)
    assert read.max_error == fresh.max_error == built.max_error
    u = np.random.default_rng(3).random(10_000)
    np.testing.assert_array_equal(read(u), fresh(u))


def test_the_cached_nodes_cannot_be_changed(cache):
    table_of(SPEC.as_beta)
    table_of.cache_clear()
    with pytest.raises(ValueError, match="read-only"):
        table_of(SPEC.as_beta).nodes[0] = 1.0


def test_draws_are_the_same_bits_with_and_without_the_cache(cache, monkeypatch, embedded_default):
    """The reproducibility contract: no cache, a cold cache and a warm one give one run."""
    experiment = dataclasses.replace(load_experiment(embedded_default), samples=4000)
    assert any(isinstance(p.dist, Pert) for p in experiment.priors.values())  # the baseline's tables
    runs = []
    for setting in ("", str(cache.parent), str(cache.parent)):  # off, cold, warm
        monkeypatch.setenv("OVERHANG_CACHE_DIR", setting)
        table_of.cache_clear()
        runs.append(simulate(experiment, seed=11))
        assert bool(_entries(cache)) == bool(setting)
    for run in runs[1:]:
        for name in runs[0].data_vars:
            np.testing.assert_array_equal(run[name].values, runs[0][name].values, err_msg=name)
    xr.testing.assert_equal(runs[1].drop_attrs(), runs[2].drop_attrs())


def test_a_mixture_of_betas_is_cached_too(cache):
    mixture = Mixture((Beta(2.0, 5.0), LogNormal(0.5, 2.0)), (0.3, 0.7))
    fresh = PPFTable(mixture.exact_ppf)
    table_of(mixture)
    table_of.cache_clear()
    np.testing.assert_array_equal(table_of(mixture).nodes, fresh.nodes)
    assert len(_entries(cache)) == 2  # the mixture's and its Beta component's (its exact ppf uses that)


@pytest.mark.parametrize("damage", ["truncated", "flipped", "garbage", "empty", "longer"])
def test_a_damaged_entry_is_rebuilt_silently_and_replaced(cache, damage):
    table_of(SPEC.as_beta)
    (entry,) = _entries(cache)
    data = bytearray(entry.read_bytes())
    if damage == "truncated":
        data = data[: len(data) // 2]
    elif damage == "flipped":
        data[-100] ^= 0x01  # one bit of one node: only the checksum sees it
    elif damage == "garbage":
        data = bytearray(b"not a table" * 10)
    elif damage == "empty":
        data = bytearray()
    else:
        data += b"\0" * 8
    entry.write_bytes(bytes(data))
    assert ppfcache.read(entry.stem, PPFTable.cells) is None
    table_of.cache_clear()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rebuilt = table_of(SPEC.as_beta)
    np.testing.assert_array_equal(rebuilt.nodes, _fresh(SPEC).nodes)
    stored = ppfcache.read(entry.stem, PPFTable.cells)  # the damaged file was replaced by a good one
    assert stored is not None
    np.testing.assert_array_equal(stored[0], rebuilt.nodes)


def test_a_folder_that_cannot_be_made_means_no_cache(tmp_path, monkeypatch):
    blocker = tmp_path / "a file"
    blocker.write_text("")
    monkeypatch.setenv("OVERHANG_CACHE_DIR", str(blocker / "cache"))  # below a file: mkdir fails
    table_of.cache_clear()
    table = table_of(SPEC.as_beta)
    np.testing.assert_array_equal(table.nodes, _fresh(SPEC).nodes)
    assert ppfcache.read(ppfcache.table_key(SPEC.as_beta, table.cells, table.tail), table.cells) is None
    table_of.cache_clear()


def test_a_read_only_folder_means_the_table_is_just_computed(cache, monkeypatch):
    """As root, file modes do not stop a write: the refusal is simulated where the file would land."""
    cache.mkdir(parents=True)

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(ppfcache.os, "replace", refuse)
    table = table_of(SPEC.as_beta)
    np.testing.assert_array_equal(table.nodes, _fresh(SPEC).nodes)
    assert list(cache.iterdir()) == []  # no entry and no temporary file left behind


def test_an_empty_cache_dir_setting_turns_the_cache_off(tmp_path, monkeypatch):
    monkeypatch.setenv("OVERHANG_CACHE_DIR", "")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert ppfcache.cache_folder() is None
    table_of.cache_clear()
    table_of(SPEC.as_beta)
    table_of.cache_clear()
    assert list(tmp_path.iterdir()) == []


def test_the_folder_follows_xdg_cache_home_then_home(tmp_path, monkeypatch):
    monkeypatch.delenv("OVERHANG_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert ppfcache.cache_folder() == tmp_path / "xdg" / "overhang-sim" / "ppf"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert ppfcache.cache_folder() == tmp_path / "home" / ".cache" / "overhang-sim" / "ppf"


def test_the_least_recently_used_entries_go_beyond_the_limit(cache, monkeypatch):
    monkeypatch.setattr(ppfcache, "MAX_ENTRIES", 2)
    nodes = np.linspace(0.0, 1.0, 5)
    for i, key in enumerate(["a", "b", "c"]):
        ppfcache.write(key, nodes, 0.0)
        os.utime(cache / f"{key}.table", (1e9 + i, 1e9 + i))  # a, then b, then c
    assert [p.stem for p in _entries(cache)] == ["b", "c"]
    os.utime(cache / "b.table", (1e9, 1e9))
    assert ppfcache.read("b", 4) is not None  # reading b makes it the most recent
    ppfcache.write("d", nodes, 0.0)
    assert [p.stem for p in _entries(cache)] == ["b", "d"]


def test_the_key_is_the_spec_and_the_grid():
    key = ppfcache.table_key
    assert key(Beta(2.0, 3.0), 2**18, 2.0**-9) == key(Beta(2.0, 3.0), 2**18, 2.0**-9)
    assert len({key(Beta(2.0, 3.0), 2**18, 2.0**-9), key(Beta(2.0, 3.0 + 2**-50), 2**18, 2.0**-9),
                key(Beta(3.0, 2.0), 2**18, 2.0**-9), key(Beta(2.0, 3.0), 2**17, 2.0**-9),
                key(Beta(2.0, 3.0), 2**18, 2.0**-10), key(Pert(0.0, 0.4, 1.0), 2**18, 2.0**-9)}) == 6


def test_stored_nodes_of_the_wrong_size_are_refused():
    with pytest.raises(ValueError, match="nodes"):
        PPFTable(SPEC.as_beta.exact_ppf, cells=8, stored=(np.zeros(5), 0.0))


def test_cached_nodes_are_aligned(cache):
    """Issue 11: a cached table's nodes sit at an odd offset of the file's bytes; gathering from
    unaligned float64 is ~3x slower, so the table keeps an aligned copy (the same values)."""
    table_of(SPEC.as_beta)
    table_of.cache_clear()
    read = table_of(SPEC.as_beta)
    assert read.nodes.flags.aligned and not read.nodes.flags.writeable
    np.testing.assert_array_equal(read.nodes, _fresh(SPEC).nodes)
