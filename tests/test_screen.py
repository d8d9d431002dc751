"""The first screen of ``overhang run`` (issue 12, item 1): the answer first, every line in 80 columns.

Checked by the width of every line the command prints, for the default run, the shipped
experiments with axes, a weighted axis and the seed reproductions; once through a
pseudo-terminal; and against the summary's own numbers (the digits from the Monte Carlo
error, as in the full tables).
"""

from __future__ import annotations

import dataclasses
import os
import pty
import subprocess
import sys

import numpy as np
import pytest
from strategies import EXPERIMENTS, REPO

from overhang_sim import load_experiment, simulate, summarize
from overhang_sim.screen import MAX_ROWS, WIDTH, fit_table, quoted_mass, run_lines
from overhang_sim.tables import format_value

WEIGHTED = f'''
name = "structure"
model = "compute"
priors = ["{(REPO / "priors" / "baseline.toml").as_posix()}"]
samples = 1600

[[axes]]
name = "model"
values = ["compute", "throughput"]
weights = [0.6, 0.4]

[[axes]]
name = "required_tokens_per_s"
values = [10, 30]
'''
SHIPPED = sorted(p.name for p in EXPERIMENTS.glob("*.toml"))


def _fits(out: str, width: int = WIDTH) -> None:
    too_wide = [line for line in out.splitlines() if len(line) > width]
    assert not too_wide, "\n".join(too_wide)


def test_the_default_run_fits_80_columns_and_opens_with_the_answer(run_cli, embedded_default):
    code, out, err = run_cli(["run", "--samples", "2000", "--quiet"])
    assert (code, err) == (0, "")
    _fits(out)
    head = out.splitlines()[:10]  # within the first screen: how many, and how sure
    assert any(line.split()[:1] == ["median"] for line in head)
    assert any("90 % interval" in line for line in head)
    assert sum(line.strip().startswith("P(instances >= ") for line in head) == 4


@pytest.mark.parametrize("name", SHIPPED)
def test_every_shipped_experiment_fits_80_columns(run_cli, name):
    experiment = load_experiment(EXPERIMENTS / name)
    code, out, err = run_cli(["run", EXPERIMENTS / name, "--samples", str(16 * experiment.chains), "--quiet"])
    assert (code, err) == (0, "")
    _fits(out)


@pytest.mark.parametrize(("name", "scenarios"), [("required_speed_sweep.toml", 3), ("path_comparison.toml", 2),
                                                 ("seed_reproductions.toml", 8)])
def test_axes_print_one_line_per_scenario_main_output_first(run_cli, name, scenarios):
    code, out, err = run_cli(["run", EXPERIMENTS / name, "--samples", "800", "--quiet"])
    assert (code, err) == (0, "")
    _fits(out)
    lines = out.splitlines()
    header = next(i for i, line in enumerate(lines) if "median" in line and "90 % interval" in line)
    assert lines[header].split()[-1].startswith("P>=")  # at least the main threshold
    assert all(line.strip() for line in lines[header + 1: header + 1 + scenarios])
    assert not lines[header + 1 + scenarios].strip()


def test_a_weighted_axis_adds_its_pooled_rows_in_80_columns(run_cli, tmp_path):
    path = tmp_path / "structure.toml"
    path.write_text(WEIGHTED, encoding="utf-8")
    code, out, err = run_cli(["run", path, "--quiet"])
    assert (code, err) == (0, "")
    _fits(out)
    assert sum(line.strip().startswith("pooled ") for line in out.splitlines()) == 2
    assert "explains a share" in out


def test_a_comparison_fits_80_columns(run_cli):
    code, out, err = run_cli(["run", EXPERIMENTS / "required_speed_sweep.toml", "--samples", "800", "--quiet",
                              "--compare", "required_tokens_per_s=10", "required_tokens_per_s=50"])
    assert (code, err) == (0, "")
    _fits(out)
    assert "P(A > B) = 1;" in out


def test_full_keeps_every_output_and_its_columns_line_up(run_cli, embedded_default):
    code, out, err = run_cli(["run", "--samples", "2000", "--quiet", "--full"])
    assert (code, err) == (0, "")
    summary = summarize(simulate(dataclasses.replace(load_experiment(EXPERIMENTS / "baseline.toml"), samples=800)))
    for output in summary["output"].values:
        assert f"\n{output} [" in out
    lines = out.splitlines()
    for i, line in enumerate(lines):
        if line.strip().startswith("mean"):  # a header: each name ends where its column's cells end
            heads = line.split("   ")
            ends = [line.index(h) + len(h) for h in (h.strip() for h in heads if h.strip())]
            for row in lines[i + 1: i + 3]:
                assert all(row[end - 1] in "0123456789]" and (end == len(row) or row[end] == " ")
                           for end in ends), (line, row)


def test_the_first_screen_shows_the_summary_numbers():
    experiment = load_experiment(EXPERIMENTS / "baseline.toml")
    summary = summarize(simulate(dataclasses.replace(experiment, samples=4000), seed=3))
    mass = quoted_mass(summary)
    s = summary.sel(output="instances", scale="linear")
    median = format_value(float(s["quantile"].sel(prob=0.5)), float(s["quantile_mcse"].sel(prob=0.5)))
    low = format_value(float(s["eti_lower"].sel(interval=mass)), float(s["eti_lower_mcse"].sel(interval=mass)))
    high = format_value(float(s["eti_upper"].sel(interval=mass)), float(s["eti_upper_mcse"].sel(interval=mass)))
    lines = run_lines(summary)
    assert mass == 0.9
    assert lines[3].split()[:2] == ["median", median]
    assert f"{low} to {high}" in lines[4]
    p = summary["prob_at_least"].sel(threshold=1e6)
    row = next(line for line in lines if "P(instances >= 1e+06)" in line)
    assert row.split()[3] == format_value(float(p), float(summary["prob_at_least_mcse"].sel(threshold=1e6)))


def test_a_name_too_long_is_shortened_to_fit():
    rows = [["x" * 90, "1.5", "[1, 2]"], ["short", "2", "[3, 4]"]]
    lines = fit_table(rows, width=40)
    assert all(len(line) <= 40 for line in lines) and "…" in lines[0] and "short" in lines[1]


def test_through_a_pseudo_terminal_of_80_columns():
    """What a user sees in an 80-column terminal: nothing wraps."""
    env = {**os.environ, "COLUMNS": "80", "LINES": "24", "PYTHONPATH": str(REPO / "src")}
    leader, follower = pty.openpty()
    process = subprocess.Popen([sys.executable, "-m", "overhang_sim.cli", "run", str(EXPERIMENTS / "baseline.toml"),
                                "--samples", "2000"], stdin=follower, stdout=follower, stderr=follower, env=env)
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    assert process.wait(timeout=120) == 0
    text = b"".join(chunks).decode("utf-8")
    screen = [line.split("\r")[-1] for line in text.split("\r\n")]  # a progress bar redraws with \r
    assert any(line.startswith("instances: ") for line in screen)
    _fits("\n".join(screen))


@pytest.mark.parametrize(("summary", "axes"), [
    ('quantiles = [0.1, 0.9]\nintervals = []\nthresholds = []', False),  # no median, no interval
    ('quantiles = [0.5]\nintervals = [0.5]', False),  # one quantile: not a point-value run
    ('outputs = ["params"]\nintervals = [0.8]', False),  # the main output not summarised
    ('outputs = ["params"]\nintervals = [0.8]', True),
])
def test_a_summary_section_of_its_own_still_fits(run_cli, tmp_path, summary, axes):
    text = (f'name = "edge"\nmodel = "compute"\npriors = ["{(REPO / "priors" / "baseline.toml").as_posix()}"]\n'
            f'samples = 800\n\n[summary]\n{summary}\n')
    if axes:
        text += '\n[[axes]]\nname = "required_tokens_per_s"\nvalues = [10, 30]\n'
    path = tmp_path / "edge.toml"
    path.write_text(text, encoding="utf-8")
    code, out, err = run_cli(["run", path, "--quiet"])
    assert (code, err) == (0, "")
    _fits(out)
    assert "point values" not in out
    if "params" in summary:  # P(>= t) is of the main output (instances): not shown against params
        assert out.splitlines()[2].startswith("params: ") and "P>=" not in out and "P(" not in out


def test_the_main_threshold_is_the_one_nearest_the_scenarios_median(tmp_path):
    """P(>= t) is shown first for the t nearest the middle median of the main output (not of every output)."""

    from overhang_sim import batch
    from overhang_sim.scenarios import load_scenarios
    from overhang_sim.screen import scenario_lines

    path = tmp_path / "sweep.toml"
    path.write_text(f'''name = "sweep"
model = "compute"
priors = ["{(REPO / "priors" / "baseline.toml").as_posix()}"]
samples = 800

[summary]
outputs = ["instances", "params", "train_flop"]
thresholds = [1e6, 1e11, 1e12]

[[axes]]
name = "required_tokens_per_s"
values = [10, 30]
''', encoding="utf-8")
    scenarios = load_scenarios(path)
    result = batch.run(scenarios, quiet=True)
    middle = float(np.median(result["quantile"].sel(output="instances", scale="log10", prob=0.5)))
    nearest = min(result["threshold"].values, key=lambda t: abs(np.log10(t) - middle))
    assert nearest == 1e6  # the median over every output (params ~1e11.7) would pick 1e12
    for width in (80, 60):
        lines = scenario_lines(result, scenarios.dims, width=width)
        header = next(line for line in lines if "median" in line and "interval" in line)
        assert f"P>={format_value(float(nearest))}" in header and all(len(line) <= width for line in lines)


EMPTY_LISTS = f'''
name = "empty_lists"
model = "roofline"
priors = ["{(REPO / "priors" / "structure_matters.toml").as_posix()}"]
samples = 800

[[axes]]
name = "model"
values = ["roofline", "compute"]
weights = [0.6, 0.4]

[summary]
outputs = ["instances", "params", "compute_binds"]
'''


@pytest.mark.parametrize("lists", ["intervals = []", "quantiles = []", "thresholds = []",
                                   "quantiles = []\nintervals = []\nthresholds = []"])
def test_an_axes_run_with_an_empty_summary_list_prints_saves_and_reports(run_cli, tmp_path, lists,
                                                                          monkeypatch):
    """A `[summary]` list left empty in a study with a weighted axis and a 0/1 output (roofline's
    compute_binds): every way of showing the run works (stacking the scenarios once failed on
    the empty interval or quantile dimension, and the report on the indicator test)."""
    import json

    monkeypatch.chdir(tmp_path)  # `saved run.nc`: the width checked is the table's, not tmp_path's
    path = tmp_path / "empty.toml"
    path.write_text(EMPTY_LISTS + lists + "\n", encoding="utf-8")
    code, out, err = run_cli(["run", path, "--quiet", "--out", "run.nc"])
    assert (code, err) == (0, ""), err
    _fits(out)
    assert [line.split()[0] for line in out.splitlines() if line.split()[:1] in (["roofline"], ["compute"],
                                                                               ["pooled"])] == \
        ["roofline", "compute", "pooled"]
    if "intervals" in lists:
        assert "interval" not in out.splitlines()[5]  # the table's heads: no column for an interval not asked for
    code, out, err = run_cli(["run", path, "--quiet", "--full"])
    assert (code, err) == (0, ""), err
    assert "compute_binds" in out
    code, out, err = run_cli(["run", path, "--quiet", "--json"])
    assert (code, err) == (0, ""), err
    assert {r["model"] for r in json.loads(out) if r["output"] == "instances"} >= {"roofline", "compute"}
    code, out, err = run_cli(["report", tmp_path / "run.nc", "--out", tmp_path / "report.html", "--quiet"])
    assert (code, err) == (0, ""), err
    assert (tmp_path / "report.html").stat().st_size > 0


@pytest.mark.parametrize("flags", [[], ["--full"]])
def test_a_run_without_axes_whose_summary_lists_are_all_empty_prints(run_cli, tmp_path, flags):
    """No quantile and no interval: the point-value test (is_point) reduced an empty dimension."""
    path = tmp_path / "bare.toml"
    path.write_text(f'name = "bare"\nmodel = "compute"\npriors = ["{(REPO / "priors" / "baseline.toml").as_posix()}"]\n'
                    'samples = 800\n\n[summary]\nquantiles = []\nintervals = []\nthresholds = []\n', encoding="utf-8")
    code, out, err = run_cli(["run", path, "--quiet", *flags])
    assert (code, err) == (0, ""), err
    assert "point values" not in out and "instances" in out
    if not flags:
        _fits(out)


def _sweep(tmp_path, values: int, model: str = "throughput", prior: str = "baseline", outputs: str = "") -> tuple:
    """A one-axis sweep of `values` required speeds (10 to 50 token/s), its batch result and dims."""
    from overhang_sim import batch
    from overhang_sim.scenarios import load_scenarios

    path = tmp_path / "sweep.toml"
    path.write_text(f'''name = "sweep"
model = "{model}"
priors = ["{(REPO / "priors" / f"{prior}.toml").as_posix()}"]
samples = 160
{outputs}
[[axes]]
name = "required_tokens_per_s"
values = {[float(v) for v in np.linspace(10, 50, values)]}
''', encoding="utf-8")
    scenarios = load_scenarios(path)
    return batch.run(scenarios, quiet=True), scenarios.dims


def _table(lines: list[str], first: str) -> list[list[str]]:
    """The rows (split on spaces) of the table whose header line starts with `first`, up to a blank or prose line."""
    start = next(i for i, line in enumerate(lines) if line.split()[:1] == [first])
    rows = []
    for line in lines[start + 1:]:
        if not line.strip() or not line.startswith(" "):
            break
        rows.append(line.split())
    return rows


@pytest.mark.parametrize("values", [MAX_ROWS - 1, MAX_ROWS, MAX_ROWS + 1, 3 * MAX_ROWS + 2])
def test_a_long_sweep_shows_max_rows_spread_over_its_whole_range(tmp_path, values):
    """More scenarios than MAX_ROWS: MAX_ROWS rows, the first and the last among them, evenly spaced, each with
    its own scenario's median; and a line saying how many of how many, and where all of them are."""
    from overhang_sim.screen import scenario_lines

    result, dims = _sweep(tmp_path, values)
    lines = scenario_lines(result, dims)
    _fits("\n".join(lines))
    rows = _table(lines, "required_tokens_per_s")
    labels = [str(v) for v in result["required_tokens_per_s"].values.tolist()]
    expected = labels if values <= MAX_ROWS else [labels[round(i * (values - 1) / (MAX_ROWS - 1))]
                                                   for i in range(MAX_ROWS)]
    assert [row[0] for row in rows] == expected
    for row in rows:
        s = result.sel(output="instances", required_tokens_per_s=float(row[0]), scale="linear", prob=0.5)
        assert row[1] == format_value(float(s["quantile"]), float(s["quantile_mcse"]))
    note = f"{MAX_ROWS} of the {values} scenario rows, evenly spaced from the first to the last; all of them: " \
        "--full, --json or --csv."
    text = " ".join(lines)
    assert (note in text) == ("evenly spaced" in text) == (values > MAX_ROWS)


def test_a_long_sweep_spreads_its_indicator_rows_too(tmp_path):
    """The 0/1 outputs' block (one row per output and scenario) keeps to MAX_ROWS rows the same way."""
    from overhang_sim.screen import scenario_lines

    values = MAX_ROWS + 5
    result, dims = _sweep(tmp_path, values, model="roofline", prior="structure_matters",
                          outputs='[summary]\noutputs = ["instances", "compute_binds"]\n')
    lines = scenario_lines(result, dims)
    _fits("\n".join(lines))
    start = next(i for i, line in enumerate(lines) if line.startswith("P(indicator = 1)"))
    block = [line.split() for line in lines[start + 1:] if line.split()[:1] == ["compute_binds"]]
    assert len(block) == MAX_ROWS and block[0][1] == "10.0" and block[-1][1] == "50.0"
    assert f"{MAX_ROWS} of the {values} rows, evenly spaced from the first to the last" in " ".join(lines[start:])
    assert len(_table(lines, "required_tokens_per_s")) == MAX_ROWS
