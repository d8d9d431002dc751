"""Mergeable quantile sketch with a stated relative error (DDSketch-style).

A :class:`Sketch` holds integer counts of values in logarithmic buckets: its size grows
with the range of the values, not their number (10 orders of magnitude at ``alpha =
1e-3``: about 11,500 int64 counts, 92 KB). Merging adds counts, which is exact, so the
sketch of a run is bit-identical however its values were split into blocks and in
whatever order the blocks were merged. A sketch holds no float sums (keep means apart).

Buckets. ``gamma = 2**(1/m)`` with ``m`` the fewest buckets per octave for which
``alpha' = (gamma - 1) / (gamma + 1) <= alpha - 2**-46`` (the ``(1 + alpha) / (1 -
alpha)`` of DDSketch, rounded down to a root of 2). Then every edge ``E[k] = gamma**k`` is
``2**(k // m)`` times one of ``m + 1`` doubles (worked out in decimal arithmetic), and
values are put in buckets by exact comparison with them (``log2`` only guesses): the
buckets do not depend on the platform's ``log``. Bucket ``k`` holds positive ``x`` with
``E[k-1] <= x < E[k]`` and negative ``x`` with ``-E[k] <= x < -E[k-1]`` (each bucket is
closed on its left), and its representative is ``+-2 E[k] / (gamma + 1)``. Zeros, +inf
and -inf are counted apart; NaN is refused.

Guarantees, for ``n`` values ``x_(0) <= ... <= x_(n-1)`` (finite nonzero ones of
magnitude ``>= 2**-1021``; below that the representatives are subnormal):

* a representative is within relative error ``alpha' + 3 eps <= alpha`` of every value
  in its bucket; 0 and +-inf are exact;
* ``quantile(sk, p)`` is the representative of ``x_(j)``, ``j = max(ceil(n p - 1), 0)``,
  the rank of ``np.quantile(..., method="inverted_cdf")`` (lower order statistic), so
  ``|quantile - x_(j)| <= alpha |x_(j)|``;
* ``hdi(sk, mass)`` is the narrowest ``[lo, hi]`` spanned by ``K + 1 >= mass n``
  consecutive values, ``K = min(floor(mass n), n - 1)``, of the sample with each value
  replaced by its representative: ``lo`` and ``hi`` are within relative ``alpha`` of
  values ``x_(a)`` and ``x_(a+K)`` (widened by ``alpha |end| / (1 - alpha)`` at each end
  it holds them and all between), and ``hi - lo <= U - L + alpha (|L| + |U|)`` for the
  exact narrowest ``[L, U] = [x_(b), x_(b+K)]`` (the :func:`arviz.hdi` algorithm).

Many sketches at once. :class:`Sketches` holds sketches of one alpha as the rows of flat
arrays (a grid group's scenarios, or its scenarios' chains): :func:`sketch_rows` sketches each
row of a ``(rows, n)`` block, :func:`merge_rows` merges batches row by row, :func:`concat`
and :func:`stack` join them, and :func:`quantiles_and_hdis_rows` reads every row's quantiles
and HDIs in one pass of numpy calls over the non-empty buckets. Each row's numbers are those of
its own :class:`Sketch` through :func:`sketch`, :func:`merge_all` and
:func:`quantiles_and_hdis`, bit for bit (the tests check it).
"""

from __future__ import annotations

import decimal
import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from .errors import OverhangError

__all__ = ["Sketch", "SketchError", "Sketches", "bucket_edges", "concat", "from_arrays", "hdi", "hdis", "merge", "merge_all",
           "merge_rows", "quantiles_and_hdis", "quantiles_and_hdis_rows", "row_range", "sketch_rows", "stack",
           "quantile", "sketch"]

MIN_ALPHA = 1e-6
_SCALAR_COUNTS = ("zeros", "pos_inf", "neg_inf")
_BLOCK = 1 << 17  # values sketched at a time: temporaries of 1 MB stay in cache (2x faster than 1 << 20)


class SketchError(OverhangError, ValueError):
    """Values a sketch cannot hold (NaN), a bad ``alpha``, or sketches that do not merge."""


@functools.lru_cache(maxsize=32)
def _octave(alpha: float) -> tuple[int, np.ndarray, np.ndarray]:
    """Buckets per octave ``m``, edges ``2**(r/m)`` (r = 0..m) and representatives (r < m)."""
    if not MIN_ALPHA <= alpha < 1:
        raise SketchError(f"alpha must be in [{MIN_ALPHA:g}, 1), got {alpha!r}")
    with decimal.localcontext(decimal.Context(prec=50)):
        a, ln2 = decimal.Decimal(alpha), decimal.Decimal(2).ln()
        m = int((ln2 / ((1 + a) / (1 - a)).ln()).to_integral_value(decimal.ROUND_CEILING))
        g = (ln2 / m).exp()
        while (g - 1) / (g + 1) > a - decimal.Decimal(2) ** -46:
            m, g = m + 1, (ln2 / (m + 1)).exp()
        powers = [decimal.Decimal(1)]
        for _ in range(m):
            powers.append(powers[-1] * g)
        edges = np.array([float(p) for p in powers[:m]] + [2.0])
        reps = np.array([float(2 * p / (g + 1)) for p in powers[:m]])
    edges.flags.writeable = reps.flags.writeable = False
    return m, edges, reps


def _trimmed(offset: int, counts: npt.ArrayLike, name: str) -> tuple[int, np.ndarray]:
    """`counts` as read-only int64 without zero counts at either end (empty: offset 0)."""
    counts = np.asarray(counts)
    if counts.ndim != 1 or (counts.size and counts.dtype.kind not in "iu") or np.any(counts < 0):
        raise SketchError(f"{name} must be a 1-d array of non-negative integers, got {counts!r:.80}")
    used = np.flatnonzero(counts)
    counts = counts[used[0]:used[-1] + 1].astype(np.int64) if used.size else np.zeros(0, np.int64)
    counts.flags.writeable = False
    return (int(offset) + int(used[0]) if used.size else 0), counts


@dataclass(frozen=True, eq=False)
class Sketch:
    """Counts of values in logarithmic buckets (see the module docstring); made by :func:`sketch`.

    Parameters
    ----------
    alpha : float
        Relative accuracy, in [1e-6, 1).
    pos_offset, pos_counts : int and ndarray of int64, shape (buckets,)
        Positive values per bucket, from bucket `pos_offset` on.
    neg_offset, neg_counts : int and ndarray of int64, shape (buckets,)
        Negative values per bucket of their magnitude. Zero counts at either end of a
        store are trimmed (an empty store has offset 0): equal contents, equal arrays.
    zeros, pos_inf, neg_inf : int
        Values equal to 0 (or -0), +inf, -inf.

    Attributes
    ----------
    count : int
        Number of values.
    """

    alpha: float
    pos_offset: int = 0
    pos_counts: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64), repr=False)
    neg_offset: int = 0
    neg_counts: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64), repr=False)
    zeros: int = 0
    pos_inf: int = 0
    neg_inf: int = 0
    count: int = field(init=False)

    def __post_init__(self):
        set_ = functools.partial(object.__setattr__, self)
        set_("alpha", float(self.alpha))
        _octave(self.alpha)  # checks alpha
        for store in ("pos", "neg"):
            offset, counts = getattr(self, f"{store}_offset"), getattr(self, f"{store}_counts")
            set_(f"{store}_offset", (trimmed := _trimmed(offset, counts, f"{store}_counts"))[0])
            set_(f"{store}_counts", trimmed[1])
        for name in _SCALAR_COUNTS:
            if (value := int(given := getattr(self, name))) != given or value < 0:
                raise SketchError(f"{name} must be a non-negative integer, got {given!r}")
            set_(name, value)
        stores = int(self.pos_counts.sum() + self.neg_counts.sum())
        set_("count", stores + self.zeros + self.pos_inf + self.neg_inf)

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Every field as a numpy array (0-d for scalars); :func:`from_arrays` inverts it.

        To keep it in an xarray Dataset (netCDF, zarr): ``xr.Dataset({k: ((f"{k}_bucket",)
        if v.ndim else (), v) for k, v in sk.to_arrays().items()})``.
        """
        return {name: np.asarray(getattr(self, name)) for name in _FIELDS}


_FIELDS = ("alpha", "pos_offset", "pos_counts", "neg_offset", "neg_counts", *_SCALAR_COUNTS)


def from_arrays(arrays: Mapping[str, npt.ArrayLike]) -> Sketch:
    """The sketch saved by :meth:`Sketch.to_arrays`, from a mapping of its arrays or an xr.Dataset."""
    if missing := [name for name in _FIELDS if name not in arrays]:
        raise SketchError(f"not a saved sketch: missing {', '.join(missing)}")
    return Sketch(**{k: v if (v := np.asarray(arrays[k])).ndim else v.item() for k in _FIELDS})


def _keys(magnitudes: np.ndarray, alpha: float, closed_right: bool) -> np.ndarray:
    """Bucket of each finite positive magnitude: E[k-1] < a <= E[k] if `closed_right`, else <=, <."""
    m, edges, _ = _octave(alpha)
    u, e = np.frexp(magnitudes)  # a = (2 u) 2**(e - 1), 2 u in [1, 2): only r = m log2(2 u) is inexact
    u *= 2.0
    r = (np.log2(u) * m).astype(np.int64) + 1  # within 1 of the answer; exact tests below set it right
    np.clip(r, 1, m, out=r)
    above = np.greater if closed_right else np.greater_equal
    k = (e.astype(np.int64) - 1) * m + r
    k += above(u, edges[r])
    k -= ~above(u, edges[r - 1])
    return k


def _sketch_block(x: np.ndarray, alpha: float) -> Sketch:
    pos = x if x.size and x.min() > 0 else x[x > 0]
    neg = -x[x < 0] if pos.size < x.size else x[:0]
    infs = np.count_nonzero(pos == np.inf), np.count_nonzero(neg == np.inf)
    stores = []
    for v, inf, closed_right in ((pos, infs[0], False), (neg, infs[1], True)):
        keys = _keys(v[v < np.inf] if inf else v, alpha, closed_right)
        lo = int(keys.min()) if keys.size else 0
        stores += [lo, np.bincount(keys - lo)]
    zeros = x.size - pos.size - neg.size
    return Sketch(alpha, *stores, zeros=zeros, pos_inf=infs[0], neg_inf=infs[1])


def sketch(values: npt.ArrayLike, alpha: float = 1e-3) -> Sketch:
    """Sketch `values` with relative accuracy `alpha`.

    Parameters
    ----------
    values : array_like of float, any shape (flattened), any unit
        May hold +-inf (counted apart) but not NaN.
    alpha : float, optional
        Relative accuracy, in [1e-6, 1).

    Returns
    -------
    Sketch

    Raises
    ------
    SketchError
        (a ValueError) if a value is NaN or `alpha` is out of range.

    Examples
    --------
    >>> x = np.random.default_rng(1).lognormal(0.0, 3.0, size=100_000)
    >>> bool(abs(quantile(sketch(x), 0.5) / np.quantile(x, 0.5, method="inverted_cdf") - 1) <= 1e-3)
    True
    """
    x = np.ascontiguousarray(values, dtype=np.float64).ravel()
    if nans := np.count_nonzero(np.isnan(x)):
        raise SketchError(f"{nans} of {x.size} values are NaN (the first at flat index "
                          f"{np.argmax(np.isnan(x))}); a sketch cannot place NaN: drop or count them first")
    blocks = (_sketch_block(x[i:i + _BLOCK], float(alpha)) for i in range(0, max(x.size, 1), _BLOCK))
    return functools.reduce(merge, blocks)


def merge_all(sketches: Iterable[Sketch]) -> Sketch:
    """Sketch of the values of all `sketches` (at least one, of one alpha): exact, in any order."""
    if not (sketches := list(sketches)):
        raise SketchError("merge_all needs at least one sketch")
    if len(alphas := {sk.alpha for sk in sketches}) > 1:
        raise SketchError(f"cannot merge sketches of different alphas {sorted(alphas)}")
    stores = []
    for name in ("pos", "neg"):
        parts = [(getattr(sk, f"{name}_offset"), c) for sk in sketches
                 if (c := getattr(sk, f"{name}_counts")).size] or [(0, np.zeros(0, np.int64))]
        lo = min(o for o, _ in parts)
        total = np.zeros(max(o + c.size for o, c in parts) - lo, np.int64)
        for o, c in parts:
            total[o - lo:o - lo + c.size] += c
        stores += [lo, total]
    return Sketch(sketches[0].alpha, *stores,
                  **{name: sum(getattr(sk, name) for sk in sketches) for name in _SCALAR_COUNTS})


def merge(a: Sketch, b: Sketch) -> Sketch:
    """Sketch of the values of `a` and `b` together; exact, commutative and associative."""
    return merge_all([a, b])


def _times_octaves(table: np.ndarray, m: int, k: np.ndarray) -> np.ndarray:
    octave, r = np.divmod(k, m)
    with np.errstate(over="ignore"):  # the edge above the largest double is inf
        return np.ldexp(table[r], octave.astype(np.int32))


def bucket_edges(alpha: float, k: npt.ArrayLike) -> np.ndarray:
    """Edges ``E[k] = gamma**k`` of buckets `k`, as the doubles the sketch compares values with."""
    m, edges, _ = _octave(float(alpha))
    return _times_octaves(edges, m, np.asarray(k, dtype=np.int64))


def _histogram(sk: Sketch) -> tuple[np.ndarray, np.ndarray]:
    """Representatives (ascending) and counts of the non-empty buckets, +-inf included."""
    m, _, reps = _octave(sk.alpha)
    pos, neg = (_times_octaves(reps, m, np.arange(o, o + c.size))
                for o, c in ((sk.pos_offset, sk.pos_counts), (sk.neg_offset, sk.neg_counts)))
    values = np.concatenate([[-np.inf], -neg[::-1], [0.0], pos, [np.inf]])
    counts = np.concatenate([[sk.neg_inf], sk.neg_counts[::-1], [sk.zeros], sk.pos_counts, [sk.pos_inf]])
    return values[counts > 0], counts[counts > 0]


def quantile(sk: Sketch, probs: npt.ArrayLike) -> np.ndarray:
    """Quantiles of the sketched values, to relative error `alpha`.

    Parameters
    ----------
    sk : Sketch
    probs : array_like of float, in [0, 1]

    Returns
    -------
    ndarray, shape of `probs`, unit of the values
        The value of 0-based rank ``max(ceil(n p - 1), 0)``, the rank that
        ``np.quantile(..., method="inverted_cdf")`` takes; NaN for an empty sketch.
    """
    p = np.asarray(probs, dtype=np.float64)
    if not np.all((p >= 0) & (p <= 1)):
        raise SketchError(f"probabilities must be in [0, 1], got {p!r:.80}")
    if sk.count == 0:
        return np.full(p.shape, np.nan)
    return _quantiles_of(*_histogram(sk), sk.count, p)


def _quantiles_of(values: np.ndarray, counts: np.ndarray, count: int, p: np.ndarray) -> np.ndarray:
    """:func:`quantile` from the histogram (representatives `values`, `counts`) of `count` values."""
    rank = np.maximum(np.ceil(count * p - 1), 0)
    return values[np.searchsorted(np.cumsum(counts), rank, side="right")]


def hdi(sk: Sketch, mass: float, transform=None) -> tuple[float, float]:
    """Narrowest interval holding `mass` (in (0, 1]) of the values, from the buckets.

    Returns ``(lo, hi)`` in the unit of the values, ``(nan, nan)`` for an empty sketch;
    its guarantee is in the module docstring. With `transform` (an increasing
    function such as ``np.log10``) it is the narrowest interval of the transformed
    values, in their unit.
    """
    lo, hi = hdis(sk, [mass], (transform,))[0, 0]
    return float(lo), float(hi)


def hdis(sk: Sketch, masses: Sequence[float], transforms: Sequence = (None,)) -> np.ndarray:
    """:func:`hdi` of `sk` for every mass and transform (None: the values), from one histogram.

    Returns
    -------
    ndarray, shape ``(len(transforms), len(masses), 2)``
        ``(lo, hi)`` of each, in the unit of the (transformed) values.
    """
    return quantiles_and_hdis(sk, [], masses, transforms)[1]


def quantiles_and_hdis(sk: Sketch, probs: npt.ArrayLike, masses: Sequence[float],
                       transforms: Sequence = (None,)) -> tuple[np.ndarray, np.ndarray]:
    """:func:`quantile` at `probs` and :func:`hdis` of `sk`, from one histogram (a summary asks for both)."""
    p = np.asarray(probs, dtype=np.float64)
    if not np.all((p >= 0) & (p <= 1)):
        raise SketchError(f"probabilities must be in [0, 1], got {p!r:.80}")
    if bad := [m for m in masses if not 0 < m <= 1]:
        raise SketchError(f"mass must be in (0, 1], got {bad[0]!r}")
    out = np.full((len(transforms), len(masses), 2), np.nan)
    if sk.count == 0:
        return np.full(p.shape, np.nan), out
    values, counts = _histogram(sk)
    ends = np.cumsum(counts)
    for t, transform in enumerate(transforms):
        shown = values
        if transform is not None:
            with np.errstate(divide="ignore", invalid="ignore"):
                shown = transform(values)
        for j, mass in enumerate(masses):
            out[t, j] = _window(shown, counts, ends, sk.count, mass)
    return _quantiles_of(values, counts, sk.count, p), out


def _window(values: np.ndarray, counts: np.ndarray, ends: np.ndarray, count: int, mass: float) -> tuple[float, float]:
    """The narrowest run of buckets (representatives `values`, `counts`, cumulative `ends`) holding `mass`."""
    k = min(int(np.floor(mass * count)), count - 1)
    starts = np.flatnonzero(ends - counts + k < count)  # buckets whose first value starts a window
    last = np.searchsorted(ends, ends[starts] - counts[starts] + k, side="right")
    with np.errstate(invalid="ignore"):  # inf - inf within the one inf bucket
        width = np.where(last == starts, 0.0, values[last] - values[starts])
    best = int(np.argmin(width))
    return float(values[starts[best]]), float(values[last[best]])


# --------------------------------------------------------------------------- many sketches at once


@dataclass(frozen=True, eq=False)
class Sketches:
    """Many sketches of one alpha in flat arrays, a row each: a grid group's scenarios and chains
    sketched, merged and read in one pass of numpy calls (:func:`sketch_rows`, :func:`merge_rows`,
    :func:`quantiles_and_hdis_rows`), with the numbers each row's own :class:`Sketch` gives.

    Made by those functions and :func:`stack`, which know their inputs are good: nothing is
    checked here (:class:`Sketch` checks what users pass).

    Parameters
    ----------
    alpha : float
        Relative accuracy, in [1e-6, 1).
    pos_offset, neg_offset : ndarray of int64, shape (rows,)
        First bucket of each row's positive (negative) store; 0 for an empty store.
    pos_bounds, neg_bounds : ndarray of int64, shape (rows + 1,)
        Row ``r``'s store is ``pos_counts[pos_bounds[r]:pos_bounds[r + 1]]``, trimmed as a Sketch's.
    pos_counts, neg_counts : ndarray of int64, shape (buckets of all rows,)
    zeros, pos_inf, neg_inf : ndarray of int64, shape (rows,)
    """

    alpha: float
    pos_offset: np.ndarray
    pos_bounds: np.ndarray
    pos_counts: np.ndarray
    neg_offset: np.ndarray
    neg_bounds: np.ndarray
    neg_counts: np.ndarray
    zeros: np.ndarray
    pos_inf: np.ndarray
    neg_inf: np.ndarray

    @property
    def rows(self) -> int:
        return self.zeros.size

    @property
    def count(self) -> np.ndarray:
        """Values of each row, shape (rows,)."""
        return _row_sums(self.pos_counts, self.pos_bounds) + _row_sums(self.neg_counts, self.neg_bounds) \
            + self.zeros + self.pos_inf + self.neg_inf

    def row(self, r: int) -> Sketch:
        """Row `r` as a :class:`Sketch`."""
        pos, neg = (slice(*b[r:r + 2]) for b in (self.pos_bounds, self.neg_bounds))
        return Sketch(self.alpha, int(self.pos_offset[r]), self.pos_counts[pos], int(self.neg_offset[r]),
                      self.neg_counts[neg], zeros=int(self.zeros[r]), pos_inf=int(self.pos_inf[r]),
                      neg_inf=int(self.neg_inf[r]))


def _row_sums(counts: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    ends = np.concatenate([[0], np.cumsum(counts)])
    return ends[bounds[1:]] - ends[bounds[:-1]]


def _bounds(widths: np.ndarray) -> np.ndarray:
    return np.concatenate([[0], np.cumsum(widths, dtype=np.int64)])


def stack(sketches: Sequence[Sketch]) -> Sketches:
    """Sketches of one alpha as the rows of one :class:`Sketches`."""
    if len(alphas := {s.alpha for s in sketches}) != 1:
        raise SketchError(f"stack needs sketches of one alpha, got {sorted(alphas)}")
    fields = {}
    for store in ("pos", "neg"):
        counts = [getattr(s, f"{store}_counts") for s in sketches]
        fields[f"{store}_offset"] = np.array([getattr(s, f"{store}_offset") for s in sketches], np.int64)
        fields[f"{store}_bounds"] = _bounds(np.array([c.size for c in counts]))
        fields[f"{store}_counts"] = np.concatenate(counts).astype(np.int64, copy=False)
    scalars = {name: np.array([getattr(s, name) for s in sketches], np.int64) for name in _SCALAR_COUNTS}
    return Sketches(sketches[0].alpha, **fields, **scalars)


def concat(batches: Sequence[Sketches]) -> Sketches:
    """The rows of every batch (of one alpha), in order."""
    fields = {}
    for store in ("pos", "neg"):
        fields[f"{store}_offset"] = np.concatenate([getattr(b, f"{store}_offset") for b in batches])
        fields[f"{store}_bounds"] = _bounds(np.concatenate([np.diff(getattr(b, f"{store}_bounds")) for b in batches]))
        fields[f"{store}_counts"] = np.concatenate([getattr(b, f"{store}_counts") for b in batches])
    scalars = {name: np.concatenate([getattr(b, name) for b in batches]) for name in _SCALAR_COUNTS}
    return Sketches(batches[0].alpha, **fields, **scalars)


def row_range(b: Sketches, start: int, stop: int) -> Sketches:
    """Rows `start` to `stop` of `b` (views of its arrays)."""
    fields = {}
    for store in ("pos", "neg"):
        bounds = getattr(b, f"{store}_bounds")
        fields[f"{store}_offset"] = getattr(b, f"{store}_offset")[start:stop]
        fields[f"{store}_bounds"] = bounds[start:stop + 1] - bounds[start]
        fields[f"{store}_counts"] = getattr(b, f"{store}_counts")[bounds[start]:bounds[stop]]
    return Sketches(b.alpha, **fields, **{name: getattr(b, name)[start:stop] for name in _SCALAR_COUNTS})


def _store_rows(x: np.ndarray, negative: bool, alpha: float):
    """Offset, bounds and flat counts of the positive (or `negative`) stores of the rows of `x` ``(rows, n)``."""
    inside = (x < 0) & (x > -np.inf) if negative else (x > 0) & (x < np.inf)
    rows = x.shape[0]
    if not inside.any():
        return np.zeros(rows, np.int64), np.zeros(rows + 1, np.int64), np.zeros(0, np.int64)
    every = bool(inside.all())  # the usual case: no masks to apply
    magnitudes = -x if negative else x
    keys = _keys(magnitudes if every else np.where(inside, magnitudes, 1.0), alpha, closed_right=negative)
    big = np.iinfo(np.int64).max
    used = inside.any(axis=1)
    lo = np.where(used, np.min(keys if every else np.where(inside, keys, big), axis=1), 0)
    hi = np.max(keys if every else np.where(inside, keys, -big), axis=1)
    bounds = _bounds(np.where(used, hi - lo + 1, 0))
    keys += bounds[:-1, None] - lo[:, None]
    flat = np.bincount(keys.ravel() if every else keys[inside], minlength=int(bounds[-1]))
    return lo, bounds, flat.astype(np.int64, copy=False)


def _sketch_rows_block(x: np.ndarray, alpha: float) -> Sketches:
    stores = {}
    for store in ("pos", "neg"):
        stores.update(zip((f"{store}_offset", f"{store}_bounds", f"{store}_counts"), _store_rows(x, store == "neg", alpha)))
    counts = {name: np.count_nonzero(x == v, axis=1).astype(np.int64)
              for name, v in (("zeros", 0.0), ("pos_inf", np.inf), ("neg_inf", -np.inf))}
    return Sketches(alpha, **stores, **counts)


def sketch_rows(values: npt.ArrayLike, alpha: float = 1e-3) -> Sketches:
    """Each row of `values` ``(rows, n)`` sketched as :func:`sketch` sketches it alone, in one pass.

    Raises
    ------
    SketchError
        if `values` is not 2-d, holds NaN, or `alpha` is out of range.
    """
    x = np.asarray(values, dtype=np.float64)
    if x.ndim != 2:
        raise SketchError(f"sketch_rows needs a 2-d array (rows, values), got shape {x.shape}")
    if nans := np.count_nonzero(np.isnan(x)):
        raise SketchError(f"{nans} of {x.size} values are NaN (the first at index "
                          f"{np.unravel_index(np.argmax(np.isnan(x)), x.shape)}); a sketch cannot place NaN")
    alpha = float(alpha)
    _octave(alpha)  # checks alpha
    step = max(1, _BLOCK // max(x.shape[1], 1))  # rows at a time: temporaries stay in cache
    blocks = [_sketch_rows_block(x[i:i + step], alpha) for i in range(0, max(x.shape[0], 1), step)]
    return blocks[0] if len(blocks) == 1 else concat(blocks)


def _nonzero(counts: np.ndarray, bounds: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Flat index and row of every non-zero count of flat stores, and how many each row has."""
    at = np.flatnonzero(counts != 0)  # of a bool array: ~3x faster than of the counts
    per_row = np.diff(np.searchsorted(at, bounds))
    return at, np.repeat(np.arange(per_row.size), per_row), per_row


def _merge_store(batches: Sequence[Sketches], store: str):
    offsets = np.stack([getattr(b, f"{store}_offset") for b in batches])  # (batch, row)
    widths = np.stack([np.diff(getattr(b, f"{store}_bounds")) for b in batches])
    big = np.iinfo(np.int64).max
    used = widths > 0
    any_used = used.any(axis=0)
    lo = np.where(any_used, np.min(np.where(used, offsets, big), axis=0), 0)
    hi = np.max(np.where(used, offsets + widths, -big), axis=0)
    bounds = _bounds(np.where(any_used, hi - lo, 0))
    total = np.zeros(int(bounds[-1]), np.int64)
    for b, batch in enumerate(batches):  # a batch's buckets go to distinct places: += adds each once
        counts = getattr(batch, f"{store}_counts")
        at, row, _ = _nonzero(counts, getattr(batch, f"{store}_bounds"))
        total[at + (bounds[:-1] + offsets[b] - lo - getattr(batch, f"{store}_bounds")[:-1])[row]] += counts[at]
    return lo, bounds, total


def merge_rows(batches: Sequence[Sketches]) -> Sketches:
    """Row ``r`` the :func:`merge_all` of row ``r`` of every batch (at least one; equal rows, one alpha)."""
    if not batches or len({b.rows for b in batches}) != 1 or len({b.alpha for b in batches}) != 1:
        raise SketchError("merge_rows needs one or more batches of equal rows and one alpha")
    fields = {}
    for store in ("pos", "neg"):
        fields.update(zip((f"{store}_offset", f"{store}_bounds", f"{store}_counts"), _merge_store(batches, store)))
    scalars = {name: np.sum([getattr(b, name) for b in batches], axis=0, dtype=np.int64) for name in _SCALAR_COUNTS}
    return Sketches(batches[0].alpha, **fields, **scalars)


def _representatives(reps: np.ndarray, m: int, k: np.ndarray) -> np.ndarray:
    """``_times_octaves(reps, m, k)``, worked out once for each bucket from the least to the greatest of `k` and
    looked up (the buckets of a batch's rows mostly overlap), unless that range is much wider than `k` is long."""
    if not k.size:
        return np.zeros(0)
    least, span = k.min(), k.max() - k.min() + 1
    if span > 4 * k.size:  # rows far apart: a table would be mostly unused
        return _times_octaves(reps, m, k)
    table = _times_octaves(reps, m, np.arange(least, least + span))
    k = k - least
    return table[k]


def _histograms(b: Sketches) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`_histogram` of every row, end to end: representatives, counts, the row of each bucket and
    the bounds of each row's buckets (``(rows + 1,)``), from the non-empty buckets alone."""
    m, _, reps = _octave(b.alpha)
    neg_at, neg_row, n_neg = _nonzero(b.neg_counts, b.neg_bounds)
    pos_at, pos_row, n_pos = _nonzero(b.pos_counts, b.pos_bounds)
    pos_values = _representatives(reps, m, pos_at + (b.pos_offset - b.pos_bounds[:-1])[pos_row])
    if not (neg_at.size or b.zeros.any() or b.pos_inf.any() or b.neg_inf.any()):  # the positive stores are all
        return pos_values, b.pos_counts[pos_at], pos_row, _bounds(n_pos)
    neg_inf, zeros = (b.neg_inf > 0).astype(np.int64), (b.zeros > 0).astype(np.int64)
    before_zero = neg_inf + n_neg  # in each row: -inf, the negative store reversed, 0, the positive store, +inf
    before_pos = before_zero + zeros
    bounds = _bounds(before_pos + n_pos + (b.pos_inf > 0))
    counts, values = np.empty(int(bounds[-1]), np.int64), np.empty(int(bounds[-1]))
    start = bounds[:-1]
    for at, value, count in ((start, -np.inf, b.neg_inf), (start + before_zero, 0.0, b.zeros),
                             (bounds[1:] - 1, np.inf, b.pos_inf)):
        r = np.flatnonzero(count)
        counts[at[r]], values[at[r]] = count[r], value
    # a bucket's place: its rank among the row's non-empty ones (its flat index less the row's first), shifted
    at = (start + before_zero - 1 + _bounds(n_neg)[:-1])[neg_row] - np.arange(neg_at.size)
    counts[at] = b.neg_counts[neg_at]
    values[at] = -_representatives(reps, m, neg_at + (b.neg_offset - b.neg_bounds[:-1])[neg_row])
    at = np.arange(pos_at.size) + (start + before_pos - _bounds(n_pos)[:-1])[pos_row]
    counts[at], values[at] = b.pos_counts[pos_at], pos_values
    return values, counts, np.repeat(np.arange(b.rows), np.diff(bounds)), bounds


def _runs(row: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First index and length of each run of equal values of `row`."""
    firsts = np.flatnonzero(np.concatenate([[True], row[1:] != row[:-1]])) if row.size else row
    return firsts, np.diff(np.append(firsts, row.size))


def _first_minima(width: np.ndarray, firsts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Per run of `width` (first indices, lengths: :func:`_runs`), the index of its first minimum (its first NaN
    if it has one, as :func:`numpy.argmin`)."""
    if not firsts.size:
        return firsts
    least = np.minimum.reduceat(width, firsts)  # NaN where the run has one
    hits = np.flatnonzero((width == np.repeat(least, lengths)) | np.isnan(width))
    return hits[np.searchsorted(hits, firsts)]


def quantiles_and_hdis_rows(b: Sketches, probs: npt.ArrayLike, masses: Sequence[float],
                            transforms: Sequence = (None,)) -> tuple[np.ndarray, np.ndarray]:
    """:func:`quantiles_and_hdis` of every row of `b`, in one pass over their buckets.

    Returns
    -------
    quantiles : ndarray, shape ``(rows, *probs.shape)``
    hdis : ndarray, shape ``(rows, len(transforms), len(masses), 2)``
        Each row's numbers are those of ``quantiles_and_hdis(b.row(r), ...)``, bit for bit.
    """
    p = np.asarray(probs, dtype=np.float64)
    if not np.all((p >= 0) & (p <= 1)):
        raise SketchError(f"probabilities must be in [0, 1], got {p!r:.80}")
    if bad := [m for m in masses if not 0 < m <= 1]:
        raise SketchError(f"mass must be in (0, 1], got {bad[0]!r}")
    values, counts, row, bounds = _histograms(b)
    ends = np.cumsum(counts)  # of all rows end to end: a row's ranks are offset by the values before it
    before = np.concatenate([[0], ends])[bounds]
    count = np.diff(before)
    before = before[:-1]
    total = ends[-1] if ends.size else 0
    n = count.reshape(-1, *(1,) * p.ndim)  # against probs of any shape
    rank = np.maximum(np.ceil(n * p - 1), 0).astype(np.int64)
    target = np.where(n > 0, rank + before.reshape(n.shape), total)
    quantiles = np.append(values, np.nan)[np.searchsorted(ends, target, side="right")]  # empty rows: NaN
    out = np.full((b.rows, len(transforms), len(masses), 2), np.nan)
    shown = []
    for transform in transforms:
        with np.errstate(divide="ignore", invalid="ignore"):
            shown.append(values if transform is None else transform(values))
    lead = ends - counts  # values before each bucket, all rows
    row_end = (before + count)[row]
    for j, mass in enumerate(masses):
        window = lead + np.minimum(np.floor(mass * count), count - 1).astype(np.int64)[row]  # its last value
        starts = np.flatnonzero(window < row_end)  # buckets whose first value starts a window
        last = np.searchsorted(ends, window[starts], side="right")
        firsts, lengths = _runs(row[starts])
        rows, one = row[starts[firsts]], last == starts
        for t, v in enumerate(shown):
            with np.errstate(invalid="ignore"):  # inf - inf within the one inf bucket
                width = np.where(one, 0.0, v[last] - v[starts])
            best = _first_minima(width, firsts, lengths)
            out[rows, t, j, 0], out[rows, t, j, 1] = v[starts[best]], v[last[best]]
    return quantiles, out
