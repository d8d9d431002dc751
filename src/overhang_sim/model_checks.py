"""Checks of a model file: conditions across quantities that every draw must meet.

A domain (``low``/``high``) bounds one quantity; a check relates several::

    [[checks]]
    condition = "params_active <= params_total"
    key = "params_active"                     # the input the error names
    message = "params_active {params_active} exceeds params_total {params_total}"

The condition is a comparison in the formula language over any quantities (inputs or
outputs), unit-checked like a formula. ``{name}`` in the message is replaced by that
quantity's value, with its unit, in the first draw that fails. A check runs twice: when
an experiment loads, on its fixed values and defaults (only the checks those decide), and
on every array of draws the model computes; a failure is a
:class:`~overhang_sim.errors.DomainError` naming the key, one line.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from .errors import ConfigError, DomainError, OverhangError, did_you_mean
from .formula_checks import check_units
from .formula_tree import Compare, names
from .formulas import compile_tree, parse
from .units import Unit, UnitError

__all__ = ["CHECK_KEYS", "ModelCheck", "checks_from_table", "compile_check"]

CHECK_KEYS = ("condition", "key", "message")
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass(frozen=True)
class ModelCheck:
    """One ``[[checks]]`` entry of a model file.

    Parameters
    ----------
    condition : str
        A comparison such as ``params_active <= params_total``.
    key : str
        The quantity an error names (default: the first name in the condition).
    message : str
        What is wrong, with ``{name}`` placeholders for values (default: the condition).
    """

    condition: str
    key: str = ""
    message: str = ""

    def __post_init__(self):
        for name in CHECK_KEYS:
            if not isinstance(getattr(self, name), str):
                raise ConfigError(f"must be a string, not {getattr(self, name)!r:.40}", key=name)


@dataclass(frozen=True)
class CompiledCheck:
    """A check ready to run: the names it needs and its compiled condition."""

    check: ModelCheck
    needs: frozenset[str]
    units: Mapping[str, str]
    run: Callable[[Mapping[str, object]], object] = field(repr=False, compare=False)

    def failure(self, env: Mapping[str, object]) -> DomainError | None:
        """The error for the first draw of `env` that fails, or None if every draw passes."""
        with np.errstate(all="ignore"):
            ok = np.asarray(self.run({n: env[n] for n in self.needs}))
        if ok.all():
            return None
        bad = ~ok
        first = np.unravel_index(np.argmax(bad), bad.shape) if bad.ndim else ()
        shape = bad.shape

        def shown(match):
            value = np.broadcast_to(np.asarray(env[match.group(1)], dtype=float), shape)[first]
            unit = self.units[match.group(1)]
            return f"{value:.4g}" + ("" if unit == "1" else f" {unit}")

        text = _PLACEHOLDER.sub(shown, self.check.message or f"{self.check.condition} fails")
        count = int(bad.sum())
        where = f" (in {count} of {bad.size} draws)" if bad.size > 1 else ""
        return DomainError(f"{text}{where}", key=self.check.key)


def checks_from_table(entries: object) -> tuple[ModelCheck, ...]:
    """The ``[[checks]]`` of a model file; errors carry ``checks[i].key``."""
    if not isinstance(entries, list):
        raise ConfigError("must be a list of [[checks]] tables", key="checks")
    out = []
    for i, entry in enumerate(entries):
        try:
            if not isinstance(entry, Mapping):
                raise ConfigError("must be a table with a condition")
            for key in entry:
                if key not in CHECK_KEYS:
                    raise ConfigError(f"unknown key{did_you_mean(key, CHECK_KEYS)}", key=key)
            if "condition" not in entry:
                raise ConfigError("is missing: a comparison such as a <= b", key="condition")
            out.append(ModelCheck(**entry))
        except OverhangError as error:
            raise error.located(prefix=f"checks[{i}]") from None
    return tuple(out)


def compile_check(i: int, check: ModelCheck, units: Mapping[str, Unit]) -> CompiledCheck:
    """Parse, name-check and unit-check `check` (the i-th) against a model's quantity units."""
    prefix = f"checks[{i}]"
    try:
        tree = parse(check.condition)
        if not isinstance(tree, Compare):
            raise ConfigError(f"must be a comparison such as a <= b, not {check.condition!r:.60}")
        needed = names(tree)
        unknown = sorted(needed - set(units))
        if unknown:
            raise ConfigError(f"unknown name {unknown[0]!r}{did_you_mean(unknown[0], units)}")
        tree, _ = check_units(tree, units)
    except (OverhangError, UnitError) as error:
        raise error.located(prefix=f"{prefix}.condition") from None
    key = check.key or min(needed)
    if key not in units:
        raise ConfigError(f"{key!r} is not a quantity{did_you_mean(key, units)}", key=f"{prefix}.key")
    placeholders = set(_PLACEHOLDER.findall(check.message))
    unknown = sorted(placeholders - set(units))
    if unknown:
        raise ConfigError(f"{{{unknown[0]}}} is not a quantity{did_you_mean(unknown[0], units)}",
                          key=f"{prefix}.message")
    check = ModelCheck(check.condition, key, check.message)
    return CompiledCheck(check, needed | placeholders, {n: str(units[n]) for n in needed | placeholders},
                         compile_tree(tree))
