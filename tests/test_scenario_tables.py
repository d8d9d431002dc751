"""``overhang run --full`` of a grid: each scenario's row holds that scenario's own numbers.

The table is built from whole columns (:func:`~overhang_sim.tables.cell_values`, one selection
for every scenario), so a row's labels and its numbers must come from the same cell. A 2 x 3
grid whose axes give visibly different answers checks every row against ``.sel`` of its
labels, and the labels' order against C order over the axes.
"""

from __future__ import annotations

import itertools

from strategies import PRIORS

from overhang_sim import batch
from overhang_sim.scenarios import load_scenarios
from overhang_sim.tables import format_value, scenario_tables, summary_part

GRID = f'''
name = "grid_2x3"
model = "compute"
priors = ["{(PRIORS / "baseline.toml").as_posix()}"]
samples = 800
chains = 4
method = "mc"
seed = 7

[[axes]]
name = "required_tokens_per_s"
values = [5, 500]

[[axes]]
name = "train_days"
values = [30, 90, 270]

[summary]
outputs = ["instances"]
quantiles = [0.05, 0.5, 0.95]
intervals = [0.9]
thresholds = [1e6]
'''


def test_each_row_of_a_two_axis_table_is_its_own_scenario(tmp_path):
    path = tmp_path / "grid.toml"
    path.write_text(GRID, encoding="utf-8")
    scenarios = load_scenarios(path)
    result = batch.run(scenarios, quiet=True)
    lines = scenario_tables(result, scenarios.dims).splitlines()
    rows = [line.split() for line in lines if line.split()[:1] and line.split()[0] in ("5", "500")]
    assert len(rows) == 6
    s = summary_part(result).sel(output="instances", scale="log10")
    for row, (speed, days) in zip(rows, itertools.product([5, 500], [30, 90, 270])):
        assert row[:2] == [str(speed), str(days)]
        cell = s.sel(required_tokens_per_s=speed, train_days=days)
        quantiles = [format_value(float(q), float(e)) for q, e in zip(cell["quantile"].values,
                                                                      cell["quantile_mcse"].values)]
        assert row[2:5] == quantiles
        assert row[5] == format_value(float(cell["prob_at_least"].sel(threshold=1e6)),
                                      float(cell["prob_at_least_mcse"].sel(threshold=1e6)))
    medians = [float(v) for v in s["quantile"].sel(prob=0.5).values.ravel()]
    assert len(set(medians)) == 6  # the cells differ, so a swapped row would show
