"""Heavy-tail diagnostics: k̂ against known tail indices, and the warnings they give."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from overhang_sim.summaries import summarize
from overhang_sim.tables import summary_table
from overhang_sim.tails import tail_draws, tail_shape, tail_warning

SHAPES = (0.2, 0.7, 1.2)


@pytest.mark.parametrize("k", SHAPES)
def test_shape_within_its_standard_error_on_pareto_samples(k):
    """Over 20 seeds, k̂ lies within 3 s.e. of the true shape each time, and its mean within 3 s.e. / sqrt(20)."""
    estimates = []
    for seed in range(20):
        x = stats.genpareto(c=k).rvs(size=(4, 1000), random_state=seed)
        estimate, se = tail_shape(x)
        assert abs(estimate - k) < 3 * se
        estimates.append(estimate)
    # ArviZ shrinks k̂ towards 0.5 with 10 pseudo-draws (out of 190): a bias of at most 0.05 * |k - 0.5|
    bias = 10 / (tail_draws(4000) + 10) * abs(k - 0.5)
    assert abs(np.mean(estimates) - k) < 3 * se / math.sqrt(20) + bias


@pytest.mark.parametrize("k", SHAPES)
def test_standard_error_is_calibrated(k):
    """The reported s.e. matches the spread of k̂ over independent samples (within 35 %, 30 seeds)."""
    fits = [tail_shape(stats.genpareto(c=k).rvs(size=4000, random_state=100 + s)) for s in range(30)]
    spread = np.std([f[0] for f in fits], ddof=1)
    reported = np.mean([f[1] for f in fits])
    assert 0.65 < spread / reported < 1.35


def test_scale_and_shift_of_the_body_do_not_matter():
    x = stats.genpareto(c=0.7).rvs(size=4000, random_state=3)
    assert tail_shape(1e8 * x)[0] == pytest.approx(tail_shape(x)[0], rel=1e-9)


def test_light_tail_is_below_one_half():
    x = stats.lognorm(s=0.5).rvs(size=4000, random_state=4)
    assert tail_shape(x)[0] < 0.5


@pytest.mark.parametrize("x", [np.full(1000, 3.0), np.zeros(1000), -np.ones(1000), np.ones(10)])
def test_no_tail_is_nan(x):
    assert all(math.isnan(v) for v in tail_shape(x))


def test_zeros_stay_out_of_the_tail():
    x = stats.genpareto(c=0.7).rvs(size=4000, random_state=5)
    x[::2] = 0
    k, se = tail_shape(x)
    assert abs(k - 0.7) < 3 * se


@pytest.mark.parametrize(("k", "words"), [(0.2, None), (0.7, "variance is not finite"),
                                          (1.2, "mean is not finite")])
def test_warning_words(k, words):
    line = tail_warning("instances", k)
    assert (line is None) if words is None else (words in line and "instances" in line)


def _run(x: np.ndarray) -> xr.Dataset:
    run = xr.Dataset({"instances": (("chain", "draw"), x, {"role": "output", "units": "1"})},
                     attrs={"main_output": "instances", "experiment_name": "tails"})
    return run


@pytest.mark.parametrize(("k", "mean_shown", "words"), [(0.2, True, None), (0.7, True, "variance is not finite"),
                                                        (1.2, False, "mean is not finite")])
def test_summary_carries_the_shape_and_the_table_hides_an_infinite_mean(k, mean_shown, words):
    x = 1 + stats.genpareto(c=k).rvs(size=(4, 2000), random_state=7)
    summary = summarize(_run(x))
    estimate = float(summary["tail_shape"].sel(output="instances"))
    assert abs(estimate - k) < 3 * float(summary["tail_shape_se"].sel(output="instances"))
    summary["tail_shape"][:] = k  # the table's rule, apart from the estimate's own noise
    table = summary_table(summary)
    value_row = next(line for line in table.splitlines() if line.strip().startswith("value"))
    assert (value_row.split()[1] != "—") is mean_shown
    assert ("warning" in table) is (words is not None)
    if words:
        assert words in table


def test_report_warns_under_the_summary():
    from overhang_sim.report import _tail_section

    x = 1 + stats.genpareto(c=1.2).rvs(size=(4, 2000), random_state=8)
    summary = summarize(_run(x))
    summary["tail_shape"][:] = 1.2
    assert "mean is not finite" in _tail_section(summary)
    summary["tail_shape"][:] = 0.1
    assert _tail_section(summary) == ""


def test_streamed_summaries_have_no_tail_shape_and_tables_still_render():
    x = 1 + stats.genpareto(c=0.2).rvs(size=(4, 2000), random_state=9)
    summary = summarize(_run(x)).drop_vars(["tail_shape", "tail_shape_se"])
    assert "warning" not in summary_table(summary)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(5, 5000), k=st.sampled_from([-0.2, 0.2, 0.7, 1.2]),
       zeros=st.floats(0, 0.9))
def test_the_shape_is_arviz_psislw_on_the_largest_draws(seed, n, k, zeros):
    """tail_shape reads the top of the sorted draws with psislw's arithmetic: the same k̂ as ArviZ's."""
    import arviz as az

    rng = np.random.default_rng(seed)
    x = stats.genpareto(c=k).rvs(size=n, random_state=rng) * (rng.uniform(size=n) >= zeros)
    ours, _ = tail_shape(x)
    positive = np.count_nonzero(x > 0)
    if min(tail_draws(n), positive) < 5:
        assert np.isnan(ours)
        return
    with np.errstate(divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, theirs = az.psislw(np.log(np.where(x > 0, x, 0.0)), normalize=False)
    if not np.isfinite(theirs):
        assert np.isnan(ours)
    else:
        assert ours == pytest.approx(float(theirs), rel=1e-12, abs=1e-12)


def test_tail_shapes_of_rows_equal_each_row_alone(monkeypatch):
    """Rows fitted together (and, above GPD_VALUES, a grid point at a time) give each row's own k̂ bit for bit."""
    from scipy import stats

    from overhang_sim import tails

    rows = np.sort(np.stack([stats.genpareto(c=c).rvs(size=3000, random_state=i) for i, c in
                             enumerate((0.2, 0.7, 1.2, 0.7))]), axis=1)
    rows[3, -400:] = 5.0  # ties: fewer excesses, a group of its own
    alone = [tails.tail_shape_of_sorted(r) for r in rows]
    for limit in (tails.GPD_VALUES, 10):
        monkeypatch.setattr(tails, "GPD_VALUES", limit)
        k, se = tails.tail_shapes_of_sorted(rows)
        np.testing.assert_array_equal(np.stack([k, se], axis=1), np.array(alone))
    monkeypatch.undo()
    reference = [tails.tail_shape(r) for r in rows]
    np.testing.assert_array_equal(np.array(alone), np.array(reference))
