"""Quantile sketch: its stated error bounds against exact sample statistics, exact merges,
storage round trips and clear refusals.

Every tolerance is one of the guarantees in the docstring of ``overhang_sim.sketch``:
each value lies in a bucket whose representative is within relative error ``alpha`` of
it (rounding included: the sketch keeps ``2**-46`` in hand), so

* a quantile is within ``alpha |q|`` of ``np.quantile(x, p, method="inverted_cdf")``
  (same rank, same bucket);
* the count at or above ``t`` is off by at most the count of the bucket holding ``t``,
  and exact at bucket edges (buckets are closed on the left on the real line);
* the HDI ends are within ``alpha`` of the ends of a window of ``K + 1`` consecutive
  sorted values, ``K = floor(mass n)``, and its width exceeds the exact narrowest
  window's ``U - L`` by at most ``alpha (|L| + |U|)``.

Merges add integer counts, so equality is tested array for array, never approximately.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import xarray as xr
from hypothesis import given
from hypothesis import strategies as st

import overhang_sim.sketch
from overhang_sim import OverhangError
from overhang_sim.sketch import (
    Sketch,
    bucket_edges,
    concat,
    from_arrays,
    hdi,
    merge,
    merge_all,
    merge_rows,
    quantile,
    quantiles_and_hdis,
    quantiles_and_hdis_rows,
    row_range,
    sketch,
    sketch_rows,
    stack,
)

ALPHAS = st.one_of(st.sampled_from([1e-3, 1e-2]), st.floats(1e-4, 0.3))
KINDS = ("lognormal", "normal", "signed_with_zeros", "ties", "edges", "infinite")
FINITE_KINDS = KINDS[:-1]


def draw_sample(kind: str, n: int, alpha: float, rng: np.random.Generator) -> np.ndarray:
    """n values of one of KINDS: wide lognormal (~20 orders of magnitude), negatives, zeros,
    repeated values, values exactly on bucket edges, or Cauchy with some +-inf."""
    sign = rng.choice([-1.0, 1.0], n)
    if kind == "lognormal":
        return rng.lognormal(0.0, 10.0, n)
    if kind == "normal":
        return rng.normal(0.5, 1.0, n)
    if kind == "signed_with_zeros":
        return np.where(rng.random(n) < 0.3, 0.0, sign * rng.lognormal(0.0, 2.0, n))
    if kind == "ties":
        return rng.integers(-3, 4, n) * 10.0 ** rng.integers(-2, 3, n)
    if kind == "edges":
        return sign * bucket_edges(alpha, rng.integers(-300, 300, n))
    x = rng.standard_cauchy(n)
    x[rng.random(n) < 0.05] = np.inf
    x[rng.random(n) < 0.02] = -np.inf
    return x


@st.composite
def cases(draw, kinds=KINDS, max_size=3000):
    """(sample, alpha) with the sample drawn from a hypothesis-drawn seed."""
    alpha = draw(ALPHAS)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    return draw_sample(draw(st.sampled_from(kinds)), draw(st.integers(1, max_size)), alpha, rng), alpha


def assert_same(a: Sketch, b: Sketch):
    """Bit-for-bit equality of two sketches, dtypes included."""
    arrays_a, arrays_b = a.to_arrays(), b.to_arrays()
    assert arrays_a.keys() == arrays_b.keys()
    for name, value in arrays_a.items():
        assert value.dtype == arrays_b[name].dtype, name
        np.testing.assert_array_equal(value, arrays_b[name], err_msg=name, strict=True)
    assert a.count == b.count


def within_alpha(got, exact, alpha):
    """Relative error <= alpha; infinities and zeros must match exactly."""
    got, exact = np.asarray(got), np.asarray(exact)
    finite = np.isfinite(exact)
    return np.array_equal(got[~finite], exact[~finite]) and bool(
        np.all(np.abs(got[finite] - exact[finite]) <= alpha * np.abs(exact[finite])))


# ------------------------------------------------------------------------------ buckets


@given(alpha=ALPHAS)
def test_gamma_is_the_coarsest_root_of_two_within_alpha(alpha):
    gamma = float(bucket_edges(alpha, 1))
    m = round(1 / math.log2(gamma))
    assert bucket_edges(alpha, m) == 2.0 and bucket_edges(alpha, 0) == 1.0
    assert (gamma - 1) / (gamma + 1) <= alpha
    coarser = 2.0 ** (1 / (m - 1)) if m > 1 else math.inf
    assert (coarser - 1) / (coarser + 1) > alpha - 2**-40
    ks = np.arange(-3 * m, 3 * m)
    np.testing.assert_allclose(bucket_edges(alpha, ks), 2.0 ** (ks / m), rtol=4 * np.finfo(float).eps)


@given(alpha=ALPHAS, value=st.floats(2.0**-1021, np.finfo(float).max))
def test_each_value_lies_in_its_bucket_and_near_its_representative(alpha, value):
    k = sketch([value], alpha).pos_offset
    lower, upper = bucket_edges(alpha, [k - 1, k])
    assert lower <= value < upper  # positive buckets are [E[k-1], E[k])
    assert sketch([-value], alpha).neg_offset == (k - 1 if value == lower else k)  # negative: (E[k-1], E[k]]
    gamma = float(bucket_edges(alpha, 1))
    tight = (gamma - 1) / (gamma + 1) + 4 * np.finfo(float).eps  # alpha' + roundings of edge, rep, test
    assert within_alpha(quantile(sketch([value], alpha), 0.5), value, tight)
    assert within_alpha(quantile(sketch([-value], alpha), 0.5), -value, tight)


@given(alpha=ALPHAS, k=st.integers(-2000, 2000))
def test_edges_and_their_neighbours_go_to_the_right_bucket(alpha, k):
    edge = bucket_edges(alpha, k)
    below, above = np.nextafter(edge, 0.0), np.nextafter(edge, np.inf)
    assert [sketch([v], alpha).pos_offset for v in (below, edge, above)] == [k, k + 1, k + 1]
    assert [sketch([-v], alpha).neg_offset for v in (below, edge, above)] == [k, k, k + 1]


def test_ten_orders_of_magnitude_take_about_11500_buckets():
    sk = sketch(np.logspace(0, 10, 100_000), alpha=1e-3)
    assert sk.count == 100_000 and 11_500 <= sk.pos_counts.size <= 11_560
    assert sk.pos_counts.dtype == np.int64 and not sk.pos_counts.flags.writeable


# ------------------------------------------------------------------------------ quantiles


@given(case=cases(), probs=st.lists(st.floats(0.0, 1.0), min_size=1, max_size=8),
       ranks=st.lists(st.integers(0, 3000), max_size=4))
def test_quantiles_are_within_alpha_of_numpy_inverted_cdf(case, probs, ranks):
    x, alpha = case
    probs = np.array([0.0, 1.0, *probs, *(min(r, x.size) / x.size for r in ranks)])  # + exact k/n
    assert within_alpha(quantile(sketch(x, alpha), probs),
                        np.quantile(x, probs, method="inverted_cdf"), alpha)


def test_quantile_keeps_the_shape_of_probs_and_refuses_bad_ones():
    sk = sketch(np.arange(1.0, 101.0))
    assert quantile(sk, 0.5).shape == () and quantile(sk, [[0.1], [0.9]]).shape == (2, 1)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        quantile(sk, [0.5, 1.5])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        quantile(sk, np.nan)


def test_infinite_values_are_counted_and_reported_as_quantiles():
    sk = sketch([-np.inf, 1.0, 2.0, np.inf, np.inf])
    assert (sk.neg_inf, sk.pos_inf, sk.count) == (1, 2, 5)
    assert list(quantile(sk, [0.0, 0.2, 0.5, 1.0])[[0, 1, 3]]) == [-np.inf, -np.inf, np.inf]


# ------------------------------------------------------------------------------ merges


@given(case=cases(), cut=st.floats(0.0, 1.0))
def test_merge_equals_the_sketch_of_the_concatenation(case, cut):
    x, alpha = case
    i = int(cut * x.size)
    assert_same(merge(sketch(x[:i], alpha), sketch(x[i:], alpha)), sketch(x, alpha))


@given(case=cases(), cuts=st.lists(st.floats(0.0, 1.0), min_size=2, max_size=6), seed=st.integers(0, 99))
def test_merge_is_commutative_and_associative_bit_for_bit(case, cuts, seed):
    x, alpha = case
    parts = [sketch(p, alpha) for p in np.split(x, sorted(int(c * x.size) for c in cuts))]
    a, b, c = parts[0], parts[1], merge_all(parts[2:])
    assert_same(merge(a, b), merge(b, a))
    assert_same(merge(merge(a, b), c), merge(a, merge(b, c)))
    shuffled = [parts[i] for i in np.random.default_rng(seed).permutation(len(parts))]
    assert_same(merge_all(shuffled), sketch(x, alpha))


@given(case=cases(max_size=500), block=st.integers(1, 64), seed=st.integers(0, 99))
def test_sketch_ignores_value_order_block_size_and_memory_layout(case, block, seed):
    x, alpha = case
    whole = sketch(x, alpha)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(overhang_sim.sketch, "_BLOCK", block)
        assert_same(sketch(np.random.default_rng(seed).permutation(x), alpha), whole)
    assert_same(sketch(np.stack([x, x])[:, ::-1].T, alpha), merge(whole, whole))  # strided, 2-d


def test_sketches_of_different_alphas_do_not_merge():
    with pytest.raises(ValueError, match="different alphas"):
        merge(sketch([1.0], 1e-3), sketch([1.0], 1e-2))
    with pytest.raises(ValueError, match="at least one"):
        merge_all([])


# ------------------------------------------------------------------------------ HDI


@given(case=cases(kinds=FINITE_KINDS), mass=st.floats(0.05, 0.99))
def test_hdi_is_within_alpha_of_the_exact_narrowest_interval(case, mass):
    x, alpha = case
    s = np.sort(x)
    n = s.size
    k = min(math.floor(mass * n), n - 1)
    i = int(np.argmin(s[k:] - s[:n - k]))
    exact_lo, exact_hi = s[i], s[i + k]
    lo, hi = hdi(sketch(x, alpha), mass)
    assert hi - lo <= (exact_hi - exact_lo) + alpha * (abs(exact_lo) + abs(exact_hi))
    # the ends are within alpha of the ends of some window of k + 1 consecutive values ...
    near = (np.abs(s[:n - k] - lo) <= alpha * np.abs(s[:n - k])) & (np.abs(s[k:] - hi) <= alpha * np.abs(s[k:]))
    assert near.any()
    # ... so, widened by the most a representative can be off, the interval holds >= mass of them
    widened = (x >= lo - alpha * abs(lo) / (1 - alpha)) & (x <= hi + alpha * abs(hi) / (1 - alpha))
    assert np.count_nonzero(widened) >= mass * n


def test_hdi_of_a_constant_is_that_constant_and_mass_is_checked():
    assert within_alpha(hdi(sketch(np.full(10, 3.0)), 0.9), [3.0, 3.0], 1e-3)
    assert hdi(sketch([np.inf] * 3 + [1.0]), 0.5) == (np.inf, np.inf)
    with pytest.raises(ValueError, match="mass"):
        hdi(sketch([1.0]), 0.0)


# ------------------------------------------------------------------------------ storage, edge cases


@given(case=cases())
def test_arrays_and_xarray_round_trip_exactly(case):
    x, alpha = case
    sk = sketch(x, alpha)
    assert_same(from_arrays(sk.to_arrays()), sk)
    ds = xr.Dataset({k: ((f"{k}_bucket",) if v.ndim else (), v) for k, v in sk.to_arrays().items()})
    assert_same(from_arrays(ds), sk)


def test_netcdf_round_trip_is_exact(tmp_path):
    x = draw_sample("infinite", 5000, 1e-3, np.random.default_rng(3))
    sk = sketch(np.concatenate([x, [0.0, -0.0]]))
    ds = xr.Dataset({k: ((f"{k}_bucket",) if v.ndim else (), v) for k, v in sk.to_arrays().items()})
    ds.to_netcdf(tmp_path / "sketch.nc", engine="h5netcdf")
    with xr.open_dataset(tmp_path / "sketch.nc", engine="h5netcdf") as loaded:
        assert_same(from_arrays(loaded.load()), sk)


def test_from_arrays_refuses_incomplete_or_bad_arrays():
    arrays = sketch([1.0, -2.0]).to_arrays()
    with pytest.raises(ValueError, match="missing neg_inf"):
        from_arrays({k: v for k, v in arrays.items() if k != "neg_inf"})
    with pytest.raises(ValueError, match="pos_counts must be a 1-d array of non-negative integers"):
        from_arrays({**arrays, "pos_counts": np.array([1.5])})
    with pytest.raises(ValueError, match="neg_counts must be"):
        from_arrays({**arrays, "neg_counts": np.array([-1])})


def test_scalar_counts_must_be_non_negative_integers():
    with pytest.raises(ValueError, match="zeros must be a non-negative integer"):
        Sketch(1e-3, zeros=-1)
    with pytest.raises(ValueError, match="pos_inf must be a non-negative integer"):
        Sketch(1e-3, pos_inf=1.5)


def test_padded_counts_are_trimmed_so_equal_contents_have_equal_arrays():
    sk = Sketch(1e-3, pos_offset=5, pos_counts=np.array([0, 0, 2, 0, 1, 0]), neg_counts=np.zeros(3, int))
    assert (sk.pos_offset, list(sk.pos_counts), sk.neg_offset, sk.neg_counts.size) == (7, [2, 0, 1], 0, 0)


def test_nan_is_refused_with_a_clear_message():
    with pytest.raises(ValueError, match=r"2 of 4 values are NaN \(the first at flat index 1\)") as error:
        sketch([1.0, np.nan, 2.0, np.nan])
    assert isinstance(error.value, OverhangError)
    with pytest.raises(ValueError, match="probabilities must be in"):
        quantile(sketch([1.0]), [np.nan])


@pytest.mark.parametrize("alpha", [0.0, 1e-7, 1.0, -0.1, np.nan])
def test_alpha_out_of_range_is_refused(alpha):
    with pytest.raises(ValueError, match="alpha must be in"):
        sketch([1.0], alpha)


def test_empty_sketch_gives_nan_not_a_crash():
    empty = sketch(np.array([]))
    assert empty.count == 0 and empty.pos_counts.size == 0
    assert np.isnan(quantile(empty, [0.1, 0.5])).all() and quantile(empty, [0.1, 0.5]).shape == (2,)
    assert np.isnan(hdi(empty, 0.9)).all()
    assert_same(merge(empty, sketch([2.0])), sketch([2.0]))


# ------------------------------------------------------------------------------ many sketches at once


@st.composite
def row_cases(draw, max_rows=5, max_size=400):
    """((rows, n) values, alpha): a kind of KINDS per row (a constant row now and then), n may be 0."""
    alpha = draw(ALPHAS)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n = draw(st.integers(0, max_size))
    kinds = draw(st.lists(st.sampled_from(KINDS), min_size=0, max_size=max_rows))
    x = np.stack([draw_sample(k, n, alpha, rng) for k in kinds]) if kinds else np.zeros((0, n))
    if kinds and n and draw(st.booleans()):
        x[0] = x[0, 0]
    return x, alpha


def assert_bits(a, b):
    a, b = np.asarray(a), np.asarray(b)
    np.testing.assert_array_equal(a, b, strict=True)
    assert np.array_equal(np.signbit(a), np.signbit(b))


@given(case=row_cases())
def test_sketch_rows_equals_the_sketch_of_each_row(case):
    x, alpha = case
    rows = sketch_rows(x, alpha)
    assert rows.rows == x.shape[0]
    for r in range(x.shape[0]):
        assert_same(rows.row(r), sketch(x[r], alpha))
    np.testing.assert_array_equal(rows.count, [sketch(row, alpha).count for row in x])


@given(case=row_cases(max_rows=5), start=st.integers(0, 5), length=st.integers(0, 5))
def test_row_range_is_those_rows(case, start, length):
    x, alpha = case
    start = min(start, x.shape[0])
    stop = min(start + length, x.shape[0])
    rows = row_range(sketch_rows(x, alpha), start, stop)
    assert rows.rows == stop - start
    for r in range(rows.rows):
        assert_same(rows.row(r), sketch(x[start + r], alpha))
    np.testing.assert_array_equal(rows.count, [sketch(row, alpha).count for row in x[start:stop]])


@given(case=row_cases(max_rows=4), cuts=st.lists(st.floats(0.0, 1.0), min_size=1, max_size=3))
def test_merge_rows_equals_merge_all_of_each_row(case, cuts):
    """Blocks of columns sketched as rows and merged row by row: each row's merge_all, and its whole sketch."""
    x, alpha = case
    edges = sorted({0, x.shape[1], *(int(c * x.shape[1]) for c in cuts)})
    blocks = [x[:, a:b] for a, b in zip(edges[:-1], edges[1:])] or [x]
    merged = merge_rows([sketch_rows(b, alpha) for b in blocks])
    for r in range(x.shape[0]):
        assert_same(merged.row(r), merge_all(sketch(b[r], alpha) for b in blocks))
        assert_same(merged.row(r), sketch(x[r], alpha))


@given(case=row_cases(), probs=st.lists(st.floats(0.0, 1.0), min_size=0, max_size=6),
       masses=st.lists(st.floats(0.01, 1.0), min_size=0, max_size=3))
def test_quantiles_and_hdis_rows_equal_each_sketchs_own(case, probs, masses):
    """Every row's quantiles and HDIs (linear and log10, NaN and -inf included) are those of its own
    Sketch, bit for bit, for rows made by sketch_rows and by stack, empty rows among them."""
    x, alpha = case
    rows = concat([sketch_rows(x, alpha), stack([sketch(row, alpha) for row in x[::-1]] or [sketch([], alpha)])])
    transforms = (None, np.log10)
    quantiles, hdis = quantiles_and_hdis_rows(rows, probs, masses, transforms)
    assert quantiles.shape == (rows.rows, len(probs)) and hdis.shape == (rows.rows, 2, len(masses), 2)
    for r in range(rows.rows):
        q, h = quantiles_and_hdis(rows.row(r), probs, masses, transforms)
        assert_bits(quantiles[r], q)
        assert_bits(hdis[r], h)


def test_rows_refuse_nan_bad_shapes_and_mixed_alphas():
    with pytest.raises(overhang_sim.sketch.SketchError, match="NaN"):
        sketch_rows([[1.0, np.nan]])
    with pytest.raises(overhang_sim.sketch.SketchError, match="2-d"):
        sketch_rows([1.0, 2.0])
    with pytest.raises(overhang_sim.sketch.SketchError, match="equal rows"):
        merge_rows([sketch_rows([[1.0]]), sketch_rows([[1.0], [2.0]])])
    with pytest.raises(overhang_sim.sketch.SketchError, match="one alpha"):
        stack([sketch([1.0], 1e-3), sketch([1.0], 1e-2)])
    with pytest.raises(overhang_sim.sketch.SketchError, match="mass"):
        quantiles_and_hdis_rows(sketch_rows([[1.0]]), [0.5], [0.0])
