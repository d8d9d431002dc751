"""The graph of a model's formulas: parsed, ordered by dependency, unit-checked and compiled.

Used by :class:`overhang_sim.modelspec.FormulaModel` when it is built; every error
names the key of the formula it is about (``quantities.NAME.formula``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from .errors import OverhangError, did_you_mean
from .formula_checks import check_units, divisors, scaled, zero_factors
from .formula_tree import Node, names
from .formulas import FormulaError, compile_tree, parse
from .model_quantity import ModelQuantity
from .units import Unit, UnitError

__all__ = ["Step", "check_names", "compile_step", "dependency_order", "model_divisors", "parse_formula"]


@dataclass(frozen=True)
class Step:
    """One formula quantity, compiled: computed when all of `needs` have values."""

    name: str
    needs: frozenset[str]
    tree: Node
    unit: Unit  # the unit the formula gives, before conversion to the declared one
    run: Callable[[Mapping[str, object]], object] = field(repr=False, compare=False)


def parse_formula(q: ModelQuantity) -> Node:
    """The tree of `q`'s formula; errors carry its key."""
    key = f"quantities.{q.name}.formula"
    try:
        return parse(q.formula)
    except OverhangError as error:
        raise error.located(prefix=key) from None


def check_names(name: str, tree: Node, quantities: Mapping[str, ModelQuantity]) -> None:
    """Refuse a name in the formula of `name` that is not a quantity (with a did-you-mean)."""
    unknown = sorted(n for n in names(tree) if n not in quantities)
    if unknown:
        raise FormulaError(f"unknown name {unknown[0]!r}{did_you_mean(unknown[0], quantities)}",
                           key=f"quantities.{name}.formula")


def dependency_order(trees: Mapping[str, Node]) -> list[str]:
    """Formula quantities so that each comes after those it uses; a cycle is an error."""
    order, state = [], {}  # state: 1 = on the current path, 2 = done

    def visit(name, path):
        if state.get(name) == 2 or name not in trees:
            return
        if state.get(name) == 1:
            cycle = path[path.index(name):] + [name]
            raise FormulaError(f"the formulas form a cycle: {' -> '.join(cycle)}",
                               key=f"quantities.{name}.formula")
        state[name] = 1
        for need in sorted(names(trees[name])):
            visit(need, [*path, name])
        state[name] = 2
        order.append(name)

    for name in trees:
        visit(name, [])
    return order


def compile_step(name: str, tree: Node, units: Mapping[str, Unit]) -> Step:
    """Check the units of `name`'s formula, convert it to the declared unit and compile it."""
    key = f"quantities.{name}.formula"
    try:
        checked, unit = check_units(tree, units)
        declared = units[name]
        if not unit.compatible(declared):
            raise UnitError(f"formula gives {unit}, declared {declared}")
    except UnitError as error:
        raise error.located(prefix=key) from None
    checked = scaled(checked, unit.factor_to(declared))
    return Step(name, names(tree), checked, unit, compile_tree(checked))


def model_divisors(quantities, steps) -> frozenset[str]:
    """Inputs whose value 0 makes some formula divide by zero, through the quantities they feed."""
    trees = {s.name: s.tree for s in steps}

    @functools.cache
    def zeros(name):  # inputs whose 0 makes `name` 0
        if name not in trees:
            return frozenset((name,))
        own = {name} if quantities[name].overridable else set()
        return frozenset(own).union(*map(zeros, zero_factors(trees[name])))

    found = set().union(*(zeros(n) for tree in trees.values() for n in divisors(tree)))
    return frozenset(n for n in found if quantities[n].is_input)
