"""One quantity of a model file: its unit, domain, default and formula, checked on its own.

The checks that need the whole model (names in formulas, cycles, units of formulas)
are in :mod:`overhang_sim.model_graph`, run by :class:`overhang_sim.modelspec.FormulaModel`.
"""

from __future__ import annotations

import keyword
import math
from collections.abc import Mapping
from dataclasses import dataclass

from .errors import ConfigError, OverhangError, did_you_mean
from .formulas import FUNCTIONS
from .units import UnitError, parse_unit

__all__ = ["QUANTITY_KEYS", "ModelQuantity", "quantity_from_table"]

QUANTITY_KEYS = ("unit", "long_name", "low", "high", "default", "formula", "overridable", "source", "note",
                 "precision", "accelerator")


@dataclass(frozen=True)
class ModelQuantity:
    """One quantity of a model file, checked on its own.

    Parameters
    ----------
    name : str
        A Python identifier, not a keyword or a function name of the formulas.
    unit : str
        Its unit, as :func:`overhang_sim.units.parse_unit` reads it.
    long_name : str, optional
        A few words for tables and plots.
    low, high : float, optional
        Physical domain [low, high]; without `low` the quantity is positive.
    default : float, optional
        Value of an input that has no prior.
    formula : str, optional
        How the quantity is computed; without one it is an input.
    overridable : bool
        Whether a prior may replace the formula.
    source, note : str, optional
        Where the quantity's numbers come from; anything else worth saying.
    precision, accelerator : str, optional
        Convention slots (:mod:`overhang_sim.conventions`): quantities of one slot must be
        stated on one precision (or count one kind of accelerator); ``"a/b"`` marks a
        ratio that converts slot b to slot a.
    """

    name: str
    unit: str
    long_name: str = ""
    low: float | None = None
    high: float = math.inf
    default: float | None = None
    formula: str | None = None
    overridable: bool = False
    source: str = ""
    note: str = ""
    precision: str = ""
    accelerator: str = ""

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name.isidentifier() or keyword.iskeyword(self.name):
            raise ConfigError(f"{self.name!r} is not a valid quantity name (letters, digits and _)")
        if self.name in FUNCTIONS:
            raise ConfigError(f"{self.name!r} is the name of a formula function; choose another name")
        parse_unit(self.unit)  # raises UnitError naming the problem
        self._check_numbers()
        for key in ("long_name", "source", "note", "precision", "accelerator"):
            if not isinstance(getattr(self, key), str):
                raise ConfigError("must be a string", key=key)
        if self.formula is not None and not isinstance(self.formula, str):
            raise ConfigError(f"must be a string such as 'a * b', not {self.formula!r}", key="formula")
        if not isinstance(self.overridable, bool):
            raise ConfigError(f"must be true or false, not {self.overridable!r}", key="overridable")
        if self.overridable and self.formula is None:
            raise ConfigError("only a quantity with a formula can be overridable; an input always is",
                              key="overridable")
        if self.default is not None and self.formula is not None:
            raise ConfigError("a quantity with a formula has no default (it would hide the formula)",
                              key="default")

    def _check_numbers(self):
        for key in ("low", "high", "default"):
            value = getattr(self, key)
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                                      or math.isnan(value)):
                raise ConfigError(f"must be a number, not {value!r}", key=key)
        low, high = self.domain
        if low > high or (self.low is None and high <= 0):
            raise ConfigError(f"the domain {self.domain_text} is empty", key="high")
        if self.default is not None and not self.contains(self.default):
            raise ConfigError(f"{self.default:g} is outside the domain {self.domain_text}", key="default")

    @property
    def is_input(self) -> bool:
        """True if the quantity can be given a prior (an input, or an overridable output)."""
        return self.formula is None or self.overridable

    @property
    def domain(self) -> tuple[float, float]:
        """Closed bounds (low, high); a positive quantity has low = 0."""
        return (0.0 if self.low is None else float(self.low)), float(self.high)

    @property
    def may_be_zero(self) -> bool:
        """Whether 0 is inside the domain (never for a quantity without `low`)."""
        return self.low is not None and self.low <= 0 <= self.high

    def contains(self, value: float) -> bool:
        """Whether `value` is inside the domain."""
        low, high = self.domain
        return (low < value if self.low is None else low <= value) and value <= high

    @property
    def domain_text(self) -> str:
        """``(0, inf]`` for a positive quantity, else ``[low, high]``."""
        low, high = self.domain
        return f"{'(' if self.low is None else '['}{low:g}, {high:g}]"


def quantity_from_table(name: str, entry: Mapping) -> ModelQuantity:
    """Build a :class:`ModelQuantity` from its ``[quantities.NAME]`` table; errors carry that key."""
    try:
        if not isinstance(entry, Mapping):
            raise ConfigError(f"must be a table like [quantities.{name}] with a unit")
        for key in entry:
            if key not in QUANTITY_KEYS:
                raise ConfigError(f"unknown key{did_you_mean(key, QUANTITY_KEYS)}", key=key)
        if "unit" not in entry:
            raise ConfigError("is missing; every quantity states its unit (1 for a plain number)", key="unit")
        return ModelQuantity(name=name, **entry)
    except UnitError as error:
        raise error.located(prefix=f"quantities.{name}.unit") from None
    except OverhangError as error:
        raise error.located(prefix=f"quantities.{name}") from None
