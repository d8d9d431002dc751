"""Tidy records of a summary (issue 12, item 2): ``--json`` and ``--csv`` round-trip to the summary Dataset.

``records`` -> ``summary_from_records`` gives back the summary's values exactly; through
CSV too (``nan`` and ``-inf`` kept); through strict JSON every finite value (a
non-finite one is null). pandas reads both forms into a table with numeric columns.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from strategies import EXPERIMENTS
from test_screen import WEIGHTED

from overhang_sim import batch, load_experiment, simulate, summarize
from overhang_sim.records import FIELDS, from_csv, records, summary_from_records, to_csv, to_json
from overhang_sim.scenarios import load_scenarios
from overhang_sim.tables import summary_part


@pytest.fixture(scope="module")
def summary():
    experiment = dataclasses.replace(load_experiment(EXPERIMENTS / "baseline.toml"), samples=1600)
    run = simulate(experiment, seed=5).copy(deep=True)
    run["instances"].values[:, ::10] = 0.0  # a tenth of the draws meet no required speed: log10 of 0 is -inf
    return summarize(run)


@pytest.fixture(scope="module")
def weighted(tmp_path_factory):
    path = tmp_path_factory.mktemp("records") / "structure.toml"
    path.write_text(WEIGHTED, encoding="utf-8")
    return summary_part(batch.run(load_scenarios(path), quiet=True)).drop_vars("weight")


def _same(back: xr.Dataset, summary: xr.Dataset) -> None:
    assert set(back.data_vars) == set(summary.data_vars)
    xr.testing.assert_equal(back[list(summary.data_vars)], summary)


def test_records_round_trip_to_the_summary(summary):
    assert np.isneginf(summary["quantile"].sel(output="instances", scale="log10")).any()
    _same(summary_from_records(records(summary)), summary)


def test_records_of_scenarios_and_a_weighted_axis_round_trip(weighted):
    rows = records(weighted)
    assert {"model", "required_tokens_per_s"} <= set(rows[0])
    pooled = [r for r in rows if r["statistic"] == "pooled_quantile"]
    assert pooled and all(r["model"] is None for r in pooled)
    _same(summary_from_records(rows), weighted)


def test_each_record_is_the_summary_at_its_labels(weighted):
    """Independent of summary_from_records: every record's value and error are the summary's own
    numbers at the record's labels (cells are laid out in C order, one list of labels a dim)."""
    axes = ["model", "required_tokens_per_s"]
    for r in records(weighted):
        da = weighted[r["statistic"]]
        where = {d: r[d] for d in da.dims}
        assert float(da.sel(where)) == pytest.approx(r["value"], nan_ok=True, rel=0, abs=0)
        if f"{r['statistic']}_mcse" in weighted:
            error = float(weighted[f"{r['statistic']}_mcse"].sel(where))
            assert error == pytest.approx(r["mcse"], nan_ok=True, rel=0, abs=0)
        assert all(r[a] is None for a in axes if a not in da.dims)


def test_every_record_has_the_same_fields_and_one_value(summary):
    rows = records(summary)
    assert all(list(r) == list(rows[0]) for r in rows)
    assert list(rows[0])[: len(FIELDS)] == list(FIELDS) and list(rows[0])[-4:] == ["value", "mcse", "unit",
                                                                                  "long_name"]
    count = sum(summary[n].size for n in summary.data_vars if not n.endswith("_mcse"))
    assert len(rows) == count


def test_csv_round_trips_exactly(summary, weighted):
    for ds in (summary, weighted):
        _same(summary_from_records(from_csv(to_csv(records(ds)))), ds)


def test_strict_json_round_trips_every_finite_value(summary):
    def refuse(constant):
        raise ValueError(constant)

    back = summary_from_records(json.loads(to_json(records(summary)), parse_constant=refuse))
    for name in summary.data_vars:
        expected = summary[name].where(np.isfinite(summary[name])) if summary[name].dtype.kind == "f" else summary[name]
        xr.testing.assert_equal(back[name], expected)


def test_pandas_reads_both_into_numeric_columns(summary, tmp_path):
    rows = records(summary)
    table = pd.json_normalize(json.loads(to_json(rows)))
    path = tmp_path / "summary.csv"
    path.write_text(to_csv(rows), encoding="utf-8")
    from_file = pd.read_csv(path)
    for frame in (table, from_file):
        assert list(frame.columns) == list(rows[0])
        assert frame["value"].dtype == float and frame["prob"].dtype == float
        median = frame.query("output == 'instances' and statistic == 'quantile' and prob == 0.5 "
                             "and scale == 'linear'")["value"]
        assert median.item() == float(summary["quantile"].sel(output="instances", scale="linear", prob=0.5))


def test_the_command_prints_records_and_their_comparisons(run_cli):
    path = EXPERIMENTS / "required_speed_sweep.toml"
    pair = ["--compare", "required_tokens_per_s=10", "required_tokens_per_s=50"]
    code, out, err = run_cli(["run", path, "--samples", "800", "--quiet", "--json", *pair])
    assert (code, err) == (0, "")
    rows = json.loads(out)
    found = [r for r in rows if r["statistic"] == "p_a_greater"]
    assert len(found) == 1 and found[0]["value"] == 1 and found[0]["a"] == "required_tokens_per_s=10"
    code, csv_out, err = run_cli(["run", path, "--samples", "800", "--quiet", "--csv", *pair])
    assert (code, err) == (0, "")
    back = summary_from_records(from_csv(csv_out))
    assert back["quantile"].dims == ("required_tokens_per_s", "output", "scale", "prob")
    assert list(back["required_tokens_per_s"].values) == [10, 30, 50]
    assert run_cli(["run", path, "--json", "--csv"])[0] == 2


@pytest.mark.skipif(shutil.which("jq") is None, reason="jq is not installed")
def test_jq_reads_the_json(summary):
    text = to_json(records(summary))
    query = '.[] | select(.statistic == "prob_at_least" and .threshold == 1000000) | .value'
    done = subprocess.run(["jq", query], input=text, capture_output=True, text=True, check=True)
    assert float(done.stdout) == float(summary["prob_at_least"].sel(threshold=1e6))
