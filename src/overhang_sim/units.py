"""Units of model quantities: a small dimension algebra with the project's own base units.

A :class:`Unit` is a product of named units with rational exponents, such as
``token/s/GPU`` = token¹ s⁻¹ GPU⁻¹. Named units keep the text readable (a formula
over ``day`` gives ``token/day``, not ``1.157e-05 token/s``); each name also has a
factor and a dimension, so two units are *compatible* when their dimensions agree and
one converts to the other by :meth:`Unit.factor_to`.

Base dimensions (distinct: one never converts to another)

    FLOP, token, parameter, GPU, USD, bit, data point, task, s (time)

Derived and prefixed units

    byte = 8 bit; min = 60 s, h = 3600 s, day = 86400 s, week = 7 day,
    year = 365.25 day (Julian); SI prefixes k M G T P E Z Y on FLOP, token,
    parameter, bit and byte (``PFLOP`` = 1e15 FLOP); ``PFLOP/s-day`` is
    (PFLOP/s)·day = 8.64e19 FLOP.

Counts (dimensionless, like the radian in SI)

    ``instance`` and ``1``. An instance count is a ratio of rates:
    ``cluster_tokens_per_s / required_tokens_per_s`` is a plain number, declared
    ``instance``. The other nouns are dimensions, so ``token/s/GPU`` cannot be
    mistaken for ``token/s``.

Syntax: names joined by ``*`` (or ``·``), ``/`` and ``-`` (a product, as in
``PFLOP/s-day``), evaluated left to right (``token/s/GPU`` = token/(s·GPU));
parentheses; powers ``^`` or ``**`` with a signed integer or fraction
(``s^-1``, ``parameter^(1/2)``); ``1`` for a plain number. Names with a space
(``data point``) are one unit.

Why not pint: measured on this project's machine (2 shared cores; pint 0.25.3,
Python 3.11), ``import pint`` takes 0.41-1.10 s, and building a registry with
the project's ten units another 0.38-0.76 s (0.04-0.13 s from pint's disk cache),
against a start-up budget of 0.3 s for ``overhang --help`` and 1 s for a 1000-sample
run. This module imports in 4-15 ms on the same machine, and the algebra the formulas
need (products, rational powers, compatibility, a conversion factor) takes about 300
lines.

Examples
--------
>>> parse_unit("token/day").factor_to(parse_unit("token/s"))  # doctest: +ELLIPSIS
1.157407407407...e-05
>>> str(parse_unit("FLOP/parameter/token") * parse_unit("token/parameter"))
'FLOP/parameter^2'
>>> parse_unit("USD/(PFLOP/s-day)").factor_to(parse_unit("USD/FLOP"))
1.1574074074074075e-20
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from fractions import Fraction

from .errors import OverhangError, did_you_mean

__all__ = ["DIMENSIONLESS", "UNITS", "Unit", "UnitError", "parse_unit"]


class UnitError(OverhangError, ValueError):
    """A unit string that cannot be read, or units that do not fit together."""


Exponent = Fraction
_BASE = ("FLOP", "token", "parameter", "GPU", "USD", "bit", "data point", "task", "s")
_PREFIXES = {"k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18,
             "Z": 10**21, "Y": 10**24}
_PREFIXABLE = ("FLOP", "token", "parameter", "bit", "byte")
_DAY = 86_400


def _table() -> dict[str, tuple[Fraction, tuple[tuple[str, Fraction], ...]]]:
    """Every named unit -> (factor to base units, dimension as sorted (base, exponent))."""
    table = {name: (Fraction(1), ((name, Fraction(1)),)) for name in _BASE}
    table["instance"] = (Fraction(1), ())
    table["byte"] = (Fraction(8), table["bit"][1])
    seconds = table["s"][1]
    for name, factor in (("min", 60), ("h", 3600), ("day", _DAY), ("week", 7 * _DAY),
                         ("year", Fraction(36525, 100) * _DAY)):
        table[name] = (Fraction(factor), seconds)
    for name in _PREFIXABLE:
        factor, dims = table[name]
        for prefix, scale in _PREFIXES.items():
            table[prefix + name] = (factor * scale, dims)
    return table


UNITS = _table()
"""Named unit -> (exact factor to base units, dimension)."""


@dataclass(frozen=True, eq=False)
class Unit:
    """A product of named units with rational exponents.

    Parameters
    ----------
    terms : tuple of (str, Fraction)
        Named units (keys of :data:`UNITS`) and their nonzero exponents, in the
        order they first appeared; equality ignores the order.
    label : str, optional
        How the unit was written, used by ``str``; units computed by ``*``, ``/``
        and ``**`` have none and are written in a canonical form.
    """

    terms: tuple[tuple[str, Fraction], ...] = ()
    label: str = field(default="", compare=False)

    def __post_init__(self):
        for name, _ in self.terms:
            if name not in UNITS:
                raise UnitError(f"unknown unit {name!r}{did_you_mean(name, UNITS)}")

    def __eq__(self, other) -> bool:
        return isinstance(other, Unit) and dict(self.terms) == dict(other.terms)

    def __hash__(self) -> int:
        return hash(frozenset(self.terms))

    def __mul__(self, other: Unit) -> Unit:
        return Unit(_combine(self.terms, other.terms, 1))

    def __truediv__(self, other: Unit) -> Unit:
        return Unit(_combine(self.terms, other.terms, -1))

    def __pow__(self, power: Fraction | int) -> Unit:
        power = Fraction(power)
        return Unit(tuple((n, e * power) for n, e in self.terms if e * power != 0))

    @functools.cached_property  # a Unit is immutable; checking a large grid asks for these ~50,000 times
    def dimension(self) -> tuple[tuple[str, Fraction], ...]:
        """Base dimensions and their exponents, sorted by name; ``()`` for a number."""
        total: dict[str, Fraction] = {}
        for name, exponent in self.terms:
            for base, e in UNITS[name][1]:
                total[base] = total.get(base, Fraction(0)) + e * exponent
        return tuple(sorted((b, e) for b, e in total.items() if e != 0))

    @property
    def dimensionless(self) -> bool:
        """True for plain numbers and counts (``1``, ``instance``, ``s/day``)."""
        return not self.dimension

    @property
    def factor(self) -> float:
        """The size of this unit in base units (``day`` -> 86400.0)."""
        return float(self._exact_factor)

    @functools.cached_property
    def _exact_factor(self) -> Fraction | float:
        out: Fraction | float = Fraction(1)
        for name, exponent in self.terms:
            base = UNITS[name][0]
            out *= base**exponent.numerator if exponent.denominator == 1 else float(base) ** exponent
        return out

    def compatible(self, other: Unit) -> bool:
        """True when `other` has the same dimension, so values convert by a factor."""
        return self.dimension == other.dimension

    def factor_to(self, other: Unit) -> float:
        """Number that converts a value in this unit to `other` (``day`` -> ``s``: 86400.0).

        Raises
        ------
        UnitError
            If the dimensions differ.
        """
        if not self.compatible(other):
            raise UnitError(f"{self} does not convert to {other}")
        ratio = self._exact_factor / other._exact_factor
        return float(ratio)

    def __str__(self) -> str:
        return self.label or _format(self.terms)

    def __repr__(self) -> str:
        return f"Unit({str(self)!r})"


DIMENSIONLESS = Unit((), "1")


def _combine(left, right, sign):
    total = dict(left)
    for name, exponent in right:
        total[name] = total.get(name, Fraction(0)) + sign * exponent
    return tuple((n, e) for n, e in total.items() if e != 0)


def _format(terms) -> str:
    up = [_power(n, e) for n, e in terms if e > 0]
    down = [_power(n, -e) for n, e in terms if e < 0]
    return "/".join(["*".join(up) or "1", *down])


def _power(name: str, exponent: Fraction) -> str:
    if exponent == 1:
        return name
    text = str(exponent) if exponent.denominator == 1 else f"({exponent})"
    return f"{name}^{text}"


# --------------------------------------------------------------------------- parsing

_TOKEN = re.compile(r"\s*(?:(?P<number>\d+)|(?P<name>[A-Za-z_]+(?: +[A-Za-z_]+)*)|(?P<op>\*\*|[*/^()\-·]))")


def parse_unit(text: str) -> Unit:
    """Read a unit string such as ``"token/s/GPU"`` or ``"USD/(PFLOP/s-day)"``.

    Parameters
    ----------
    text : str
        The unit as written in a model or prior file.

    Returns
    -------
    Unit
        With ``label`` set to `text` (stripped), so ``str`` gives it back.

    Raises
    ------
    UnitError
        Naming the part that cannot be read (with a did-you-mean for names).
    """
    if not isinstance(text, str):
        raise UnitError(f"must be a string such as 'token/s', not {text!r}")
    return _parse(text)


@functools.lru_cache(maxsize=512)
def _parse(text: str) -> Unit:
    tokens = _tokens(text)
    parser = _Parser(tokens, text)
    unit = parser.product()
    if parser.peek() is not None:
        raise UnitError(f"cannot read unit {text!r}: unexpected {parser.peek()!r}")
    return Unit(unit.terms, text.strip())


def _tokens(text: str) -> list[str]:
    tokens, at = [], 0
    text = text.rstrip()
    while at < len(text):
        match = _TOKEN.match(text, at)
        if match is None or match.end() == at:
            raise UnitError(f"cannot read unit {text!r} at {text[at:].strip()!r}")
        tokens.append(" ".join(match.group(match.lastgroup).split()))
        at = match.end()
    if not tokens:
        raise UnitError("is empty; write 1 for a plain number")
    return tokens


class _Parser:
    """Recursive descent over the tokens of one unit string (grammar in the module doc)."""

    def __init__(self, tokens: list[str], text: str):
        self.tokens, self.at, self.text = tokens, 0, text

    def peek(self) -> str | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def take(self) -> str:
        token = self.peek()
        if token is None:
            raise UnitError(f"cannot read unit {self.text!r}: it ends too early")
        self.at += 1
        return token

    def product(self) -> Unit:
        unit = self.power()
        while self.peek() in ("*", "·", "-", "/"):
            op = self.take()
            unit = unit / self.power() if op == "/" else unit * self.power()
        return unit

    def power(self) -> Unit:
        unit = self.atom()
        if self.peek() in ("^", "**"):
            self.take()
            unit = unit ** self.exponent()
        return unit

    def atom(self) -> Unit:
        token = self.take()
        if token == "(":
            unit = self.product()
            self.expect(")")
            return unit
        if token == "1":
            return Unit()
        if token[0].isdigit():
            raise UnitError(f"cannot read unit {self.text!r}: {token} is a number, not a unit; "
                            "put scale factors in the formula")
        if token not in UNITS:
            raise UnitError(f"unknown unit {token!r} in {self.text!r}{did_you_mean(token, UNITS)}")
        return Unit(((token, Fraction(1)),))

    def exponent(self) -> Fraction:
        if self.peek() == "(":
            self.take()
            value = self.signed()
            if self.peek() == "/":
                self.take()
                denominator = self.integer()
                if denominator == 0:
                    raise UnitError(f"cannot read unit {self.text!r}: an exponent divides by 0")
                value /= denominator
            self.expect(")")
            return value
        return self.signed()

    def signed(self) -> Fraction:
        if self.peek() == "-":
            self.take()
            return -self.integer()
        return self.integer()

    def integer(self) -> Fraction:
        token = self.take()
        if not token.isdigit():
            raise UnitError(f"cannot read unit {self.text!r}: the exponent {token!r} is not a whole number")
        return Fraction(int(token))

    def expect(self, token: str) -> None:
        if self.take() != token:
            raise UnitError(f"cannot read unit {self.text!r}: expected {token!r}")

