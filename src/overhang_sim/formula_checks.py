"""What a formula's tree says before anything is sampled: its unit, and what it divides by.

Unit rules (:func:`check_units`)

* numbers are plain (unit ``1``), except a literal ``0``, which fits any unit
  (``max(x, 0)``, ``where(x > 0, x, 0)``);
* ``*`` and ``/`` multiply and divide units; ``sqrt`` halves the exponents;
* ``+ -``, comparisons, ``min max clip`` and the two branches of ``where`` need
  compatible units; the later operands are converted to the first one's unit
  (``train_days + train_seconds`` is in day);
* ``exp log log10 floor wrightomega`` need a plain-number argument (``floor`` counts: a batch of
  streams, whole replicas), which is first converted to ``1``
  (``log(train_seconds / train_days)`` is log of the true ratio, 0 for equal times);
* ``x ** p`` needs a plain-number ``p``; if ``x`` has a dimension, ``p`` must be a
  constant simple fraction (``2``, ``-1``, ``1/2``), and the unit's exponents are
  multiplied by it;
* the condition of ``where`` must be a comparison.

Each conversion becomes a :class:`~overhang_sim.formula_tree.Scale` node in the
returned tree, so the compiled formula applies it on whole arrays.
"""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction

from .formula_tree import Binary, Call, Compare, Const, Name, Node, Scale, Unary, children, render
from .formulas import constant_value
from .units import DIMENSIONLESS, Unit, UnitError

__all__ = ["check_units", "divisors", "scaled", "zero_factors"]

_VERBS = {"+": "add", "-": "subtract", "min": "take the min of", "max": "take the max of",
          "clip": "clip", "where": "choose (where) between"}


def check_units(node: Node, units: Mapping[str, Unit]) -> tuple[Node, Unit]:
    """Derive the unit of a formula and insert the conversions it needs.

    Parameters
    ----------
    node : Node
        A tree from :func:`overhang_sim.formulas.parse`.
    units : mapping of str to Unit
        The unit of every name in the formula.

    Returns
    -------
    tree : Node
        `node` with :class:`Scale` nodes wherever an operand is converted.
    unit : Unit
        The unit of the formula's value.

    Raises
    ------
    UnitError
        Naming both units and the part of the formula where they meet.

    Examples
    --------
    >>> from overhang_sim.formulas import parse
    >>> from overhang_sim.units import parse_unit
    >>> units = {"a": parse_unit("token"), "t": parse_unit("day")}
    >>> tree, unit = check_units(parse("a / t"), units)
    >>> str(unit), unit.factor_to(parse_unit("token/s"))  # doctest: +ELLIPSIS
    ('token/day', 1.157407407407...e-05)
    """
    match node:
        case Const():
            return node, DIMENSIONLESS
        case Name(id):
            if id not in units:
                raise UnitError(f"no unit is known for {id!r}")
            return node, units[id]
        case Unary(op, x):
            x, unit = check_units(x, units)
            return Unary(op, x), unit
        case Binary("+" | "-" as op, a, b):
            (a, b), unit = _alike((a, b), units, _VERBS[op], node)
            return Binary(op, a, b), unit
        case Binary("*" | "/" as op, a, b):
            (a, ua), (b, ub) = check_units(a, units), check_units(b, units)
            return Binary(op, a, b), ua * ub if op == "*" else ua / ub
        case Binary("**", a, b):
            return _power(a, b, units, node)
        case Compare(ops, xs):
            xs, _ = _alike(xs, units, "compare", node)
            return Compare(ops, xs), DIMENSIONLESS
        case Call("sqrt" | "abs" as f, (x,)):
            x, unit = check_units(x, units)
            return Call(f, (x,)), unit ** Fraction(1, 2) if f == "sqrt" else unit
        case Call("exp" | "log" | "log10" | "floor" | "wrightomega" as f, (x,)):
            return Call(f, (_plain(*check_units(x, units), f"the argument of {f}", node),)), DIMENSIONLESS
        case Call("min" | "max" | "clip" as f, args):
            args, unit = _alike(args, units, _VERBS[f], node)
            return Call(f, args), unit
        case Call("where", (condition, a, b)):
            if not isinstance(condition, Compare):
                raise UnitError(f"the condition of where must be a comparison such as x > 0, not "
                                f"{_shown(condition)}: {_shown(node)}")
            condition, _ = check_units(condition, units)
            (a, b), unit = _alike((a, b), units, _VERBS["where"], node)
            return Call("where", (condition, a, b)), unit
    raise TypeError(f"not a parsed formula node: {node!r}")  # pragma: no cover


def _alike(nodes, units, verb, whole) -> tuple[tuple[Node, ...], Unit]:
    """Convert every operand to the unit of the first one that is not a literal 0."""
    checked = [check_units(x, units) for x in nodes]
    target = next((u for x, u in checked if not _zero(x)), DIMENSIONLESS)
    out = []
    for x, unit in checked:
        if _zero(x):
            out.append(x)
        elif not unit.compatible(target):
            raise UnitError(f"cannot {verb} {target} and {unit}: {_shown(whole)}")
        else:
            out.append(scaled(x, unit.factor_to(target)))
    return tuple(out), target


def _shown(node: Node, limit: int = 80) -> str:
    """The formula text of `node` for a one-line message, cut to about `limit` characters."""
    text = render(node)
    return text if len(text) <= limit else text[:limit] + "..."


def _zero(node: Node) -> bool:
    return isinstance(node, Const) and node.value == 0


def _plain(node: Node, unit: Unit, what: str, whole: Node) -> Node:
    """`node` converted to a plain number; refused if its unit has a dimension."""
    if not unit.dimensionless:
        raise UnitError(f"{what} must be a plain number, not {unit}: {_shown(whole)}")
    return scaled(node, unit.factor_to(DIMENSIONLESS))


def _power(base: Node, exponent: Node, units, whole) -> tuple[Node, Unit]:
    exponent = _plain(*check_units(exponent, units), "an exponent", whole)
    base, unit = check_units(base, units)
    value = constant_value(exponent)
    power = _fraction(value) if value is not None else None
    if power is not None:
        return Binary("**", base, exponent), unit**power
    if unit.dimensionless:
        return Binary("**", _plain(base, unit, "a base", whole), exponent), DIMENSIONLESS
    kind = "a constant number" if value is None else f"a simple fraction such as 2 or 1/2, not {value:g}"
    raise UnitError(f"the exponent of a quantity in {unit} must be {kind}: {_shown(whole)}")


def _fraction(value: float) -> Fraction | None:
    """`value` as a fraction with a denominator up to 100 (0.5 -> 1/2), or None."""
    fraction = Fraction(value).limit_denominator(100)
    close = abs(float(fraction) - value) <= 1e-12 * max(1.0, abs(value))
    return fraction if close and abs(fraction) <= 1000 else None


def scaled(node: Node, factor: float) -> Node:
    """``node * factor``, folding factors of 1, numbers and nested scales."""
    if factor == 1:
        return node
    if isinstance(node, Const):
        return Const(node.value * factor)
    if isinstance(node, Scale):
        return scaled(node.operand, node.factor * factor)
    return Scale(node, factor)


# --------------------------------------------------------------------------- division by zero


def zero_factors(node: Node) -> frozenset[str]:
    """Names whose value 0 makes `node` 0 (its factors): ``a * sqrt(b) / c`` -> {a, b}."""
    match node:
        case Name(id):
            return frozenset((id,))
        case Unary(_, x) | Scale(x, _) | Call("sqrt" | "abs", (x,)):
            return zero_factors(x)
        case Binary("*", a, b):
            return zero_factors(a) | zero_factors(b)
        case Binary("/", a, _):
            return zero_factors(a)
        case Binary("**", a, b) if (constant_value(b) or 0) > 0:
            return zero_factors(a)
        case Call("max", args):  # of quantities >= 0: 0 only when every argument is
            return frozenset.intersection(*map(zero_factors, args))
        case Call("min", args):  # of quantities >= 0: 0 when any argument is
            return frozenset.union(*map(zero_factors, args))
    return frozenset()


def divisors(node: Node) -> frozenset[str]:
    """Names whose value 0 makes `node` divide by zero: ``a / (b * c) + d ** -1`` -> {b, c, d}."""
    own = frozenset()
    match node:
        case Binary("/", _, b):
            own = zero_factors(b)
        case Binary("**", a, b) if (constant_value(b) or 0) < 0:
            own = zero_factors(a)
    return own.union(*map(divisors, children(node)))
