"""Sampling designs: where the uniforms come from.

A design gives ``points(start, stop) -> ndarray`` of shape ``(stop - start, d)`` in
the open interval (0, 1) -- never exactly 0 or 1, where an inverse CDF is infinite or
at the end of its support: the draws ``start`` to ``stop`` of one chain's sequence, computed directly
(random access), so any worker can compute any range of draws and the result never
depends on how the draws are split among chunks or workers. ``random(n)`` continues
the sequence from the previous call. :func:`make_design` builds the three the
package offers from a method name and a :class:`numpy.random.SeedSequence`.

Rank correlations between inputs are imposed afterwards by :func:`gaussian_copula`,
which works on any design's uniforms (and keeps them inside (0, 1) too).
"""

from __future__ import annotations

import threading
import warnings
import zlib
from typing import Protocol

import numpy as np

__all__ = [
    "METHODS",
    "Design",
    "LatinHypercube",
    "MonteCarlo",
    "ScrambledSobol",
    "correlated_columns",
    "gaussian_copula",
    "into_open_interval",
    "make_design",
    "pearson_from_spearman",
    "sobol_balance",
    "stable_key",
]


class Design(Protocol):
    """A source of uniforms on the unit hypercube."""

    def points(self, start: int, stop: int) -> np.ndarray:
        """Draws `start` to `stop` of the sequence, shape ``(stop - start, d)``, in [0, 1)."""

    def random(self, n: int) -> np.ndarray:
        """The next `n` points, shape ``(n, d)``, in [0, 1)."""


# scipy warns on every call whose total is not a power of two; a chain's balance is the
# experiment's business. ``warnings.catch_warnings`` changes process-wide state, so the
# calls that silence it are serialised (dask runs tasks in threads).
_SOBOL_LOCK = threading.Lock()

LOWEST = 2.0**-54  # below the smallest nonzero draw of a 53-bit generator: replaces an exact 0
HIGHEST = 1.0 - 2.0**-53  # the largest double below 1
SOBOL_BITS = 30  # scipy's default: at most 2**30 points per chain


def into_open_interval(u: np.ndarray) -> np.ndarray:
    """`u` with exact 0s and 1s moved just inside (0, 1), in place."""
    return np.clip(u, LOWEST, HIGHEST, out=u)


def stable_key(name: str) -> int:
    """A 32-bit integer for `name` that is the same on every machine and run."""
    return zlib.crc32(name.encode())


class _Sequential:
    """``random(n)``: the next `n` points after those already handed out."""

    _next = 0

    def random(self, n: int) -> np.ndarray:
        out = self.points(self._next, self._next + n)
        self._next += n
        return out


class MonteCarlo(_Sequential):
    """Plain Monte Carlo with one independent PCG64 stream per dimension.

    Parameters
    ----------
    streams : sequence of numpy.random.SeedSequence
        One seed per dimension. Keying streams by input name means adding an
        input leaves the draws of the others unchanged.
    """

    def __init__(self, streams):
        self._streams = list(streams)

    def points(self, start: int, stop: int) -> np.ndarray:
        out = np.empty((stop - start, len(self._streams)), order="F")
        for j, stream in enumerate(self._streams):
            generator = np.random.Generator(np.random.PCG64(stream))
            generator.bit_generator.advance(start)  # one 64-bit step per float64 draw
            generator.random(out=out[:, j])
        # random() is in [0, 1 - 2**-53] = [0, HIGHEST]: only an exact 0 has to move, as into_open_interval does
        return np.maximum(out, LOWEST, out=out)


class ScrambledSobol(_Sequential):
    """Owen-scrambled Sobol' points (:class:`scipy.stats.qmc.Sobol`), centred in their cells.

    scipy's points are multiples of ``2**-30``, so one can be exactly 0; each is moved
    to the middle of its cell (``+ 2**-31``), which keeps every point inside (0, 1) and
    the design's balance intact. Balance is best when each chain's draw count is a
    power of two (:func:`sobol_balance` says when it is not).

    The engine is kept between calls: reading a chain's draws in order continues the
    sequence, so a chain of n draws costs O(n) however it is split into chunks. Only a
    jump (a range that does not start where the last one stopped) rebuilds the
    engine and fast-forwards it.
    """

    def __init__(self, d: int, seed: np.random.SeedSequence):
        self._d, self._seed = d, seed
        self._engine, self._position = None, 0

    def _restart(self, start: int) -> None:
        from scipy.stats import qmc

        # a fresh copy of the seed: scipy spawns from it, which would change the next engine
        seed = np.random.SeedSequence(self._seed.entropy, spawn_key=self._seed.spawn_key)
        self._engine = qmc.Sobol(self._d, scramble=True, bits=SOBOL_BITS, rng=np.random.default_rng(seed))
        if start:  # scipy's fast_forward(0) overflows
            self._engine.fast_forward(start)
        self._position = start

    def points(self, start: int, stop: int) -> np.ndarray:
        if self._engine is None or start != self._position:
            self._restart(start)
        with _SOBOL_LOCK, warnings.catch_warnings():
            warnings.filterwarnings("ignore", "The balance properties of Sobol' points", UserWarning)
            out = self._engine.random(stop - start)
        self._position = stop
        out += 2.0 ** -(SOBOL_BITS + 1)
        return out


def sobol_balance(draws: int) -> str:
    """A note when `draws` per chain break the balance of Sobol' points, else ``""``."""
    if draws & (draws - 1) == 0:
        return ""
    lower, upper = 1 << (draws.bit_length() - 1), 1 << draws.bit_length()
    return (f"{draws:,} draws per chain is not a power of two, which loses the balance of Sobol' points "
            f"(and some of their accuracy); {lower:,} or {upper:,} per chain would keep it")


class LatinHypercube(_Sequential):
    """Latin hypercube of `total` points (:class:`scipy.stats.qmc.LatinHypercube`).

    The whole hypercube is drawn on first use and kept, so a range of draws is a
    slice of it (a worker computing part of an LHS chain draws all of it).
    """

    def __init__(self, d: int, total: int, seed: np.random.SeedSequence):
        from scipy.stats import qmc

        self._engine = qmc.LatinHypercube(d, rng=np.random.default_rng(seed))
        self._total = total
        self._points = None

    def points(self, start: int, stop: int) -> np.ndarray:
        if self._points is None:
            self._points = into_open_interval(self._engine.random(self._total))
        return self._points[start:stop]


METHODS = ("mc", "lhs", "sobol")


def make_design(method: str, names: list[str], total: int, seed: np.random.SeedSequence) -> Design:
    """Build the design called `method` for inputs `names` and one chain.

    Parameters
    ----------
    method : {"mc", "lhs", "sobol"}
        Plain Monte Carlo, Latin hypercube or scrambled Sobol'.
    names : list of str
        The sampled inputs, one dimension each, in this order.
    total : int
        Draws this chain will take in all.
    seed : numpy.random.SeedSequence
        This chain's seed; streams are spawned from it by stable keys.
    """
    if method == "mc":
        return MonteCarlo([_child(seed, stable_key(n)) for n in names])
    if method == "sobol":
        return ScrambledSobol(len(names), _child(seed, stable_key("sobol")))
    if method == "lhs":
        return LatinHypercube(len(names), total, _child(seed, stable_key("lhs")))
    raise ValueError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")


def _child(seed: np.random.SeedSequence, key: int) -> np.random.SeedSequence:
    return np.random.SeedSequence(seed.entropy, spawn_key=(*seed.spawn_key, key))


def pearson_from_spearman(rank: np.ndarray) -> np.ndarray:
    """Normal-scores correlation that yields Spearman correlation `rank` (``2 sin(pi r / 6)``)."""
    return 2.0 * np.sin(np.pi * np.asarray(rank) / 6.0)


def gaussian_copula(u: np.ndarray, cholesky: np.ndarray) -> np.ndarray:
    """Correlate the columns of `u` through a Gaussian copula.

    The matrix product is summed column by column in a fixed order rather than
    by BLAS, so a row's result does not depend on how many rows are passed
    (chunked runs stay bit-identical). Columns whose Cholesky row is a row of the
    identity are returned untouched, so uncorrelated inputs cost nothing.

    Parameters
    ----------
    u : ndarray, shape (n, k)
        Independent uniforms.
    cholesky : ndarray, shape (k, k)
        Lower Cholesky factor of the normal-scores correlation matrix.

    Returns
    -------
    ndarray, shape (n, k)
        Uniforms with the same margins and the requested dependence.
    """
    out = np.array(u, order="F")  # columns contiguous, as MonteCarlo draws them
    for i, column in correlated_columns([u[:, j] for j in range(len(cholesky))], cholesky).items():
        out[:, i] = column
    return out


def correlated_columns(columns: list[np.ndarray], cholesky: np.ndarray) -> dict[int, np.ndarray]:
    """The columns :func:`gaussian_copula` changes, by index: only those whose Cholesky row is not
    a row of the identity (the others stay as they are, and need no copy).

    Parameters
    ----------
    columns : list of ndarray, each shape (n,)
        Independent uniforms, one array per input.
    cholesky : ndarray, shape (k, k)
        Lower Cholesky factor of the normal-scores correlation matrix, k = ``len(columns)``.
    """
    mixed = [i for i in range(len(cholesky)) if np.any(cholesky[i, :i] != 0.0)]
    if not mixed:
        return {}
    from scipy import special  # here, not at the top: scipy.stats.qmc and .special cost 0.2-0.4 s to import

    z = {j: special.ndtri(columns[j]) for j in range(len(cholesky)) if np.any(cholesky[mixed, j] != 0.0)}
    out = {}
    for i in mixed:  # rows of the identity leave their column as it is
        column = np.zeros(len(columns[i]))
        for j in range(i + 1):
            if cholesky[i, j] != 0.0:
                column += cholesky[i, j] * z[j]
        out[i] = into_open_interval(special.ndtr(column, out=column))
    return out
