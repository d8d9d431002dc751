"""Defaults folded into compiled formulas: inputs left at their default cost no array pass.

An input with a default that an experiment does not give (``fleet_multiplier = 1``,
``context_tokens = 0``, ``data_stock_tokens = inf``) is the same number in every draw.
:func:`fold_step` replaces its name by that number, folds the subtrees that no longer
name anything, and drops the operations that then do nothing: ``x * 1``, ``x / 1``,
``x + 0``, ``x - 0``, ``x ** 1``, ``min(x, inf)``, ``max(x, -inf)``, ``0 / x`` and
``x / inf`` (both 0), and ``max(x, 0)`` when x is a ``sqrt`` or ``abs``. Every rule but
the two divisions gives the same bits as the unfolded formula; those two differ only
where x is 0, inf or NaN, draws that a divisor check refuses at load time
(:attr:`overhang_sim.modelspec.FormulaModel.divisors`) or that have overflowed.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping

from .formula_tree import Binary, Call, Compare, Const, Name, Node, Scale, Unary, names
from .formulas import compile_tree, constant_value

__all__ = ["fold", "fold_step"]


def fold(node: Node, values: Mapping[str, float]) -> Node:
    """`node` with the names in `values` replaced by their values, simplified."""
    match node:
        case Name(id) if id in values:
            return Const(float(values[id]))
        case Name() | Const():
            return node
        case Unary(op, x):
            node = Unary(op, fold(x, values))
        case Scale(x, factor):
            node = Scale(fold(x, values), factor)
        case Binary(op, a, b):
            node = Binary(op, fold(a, values), fold(b, values))
        case Compare(ops, xs):
            node = Compare(ops, tuple(fold(x, values) for x in xs))
        case Call(function, xs):
            node = Call(function, tuple(fold(x, values) for x in xs))
    if not names(node) and not isinstance(node, Compare):
        return Const(constant_value(node))
    return _simplify(node)


def _simplify(node: Node) -> Node:
    match node:
        case Binary("*", a, Const(1.0)) | Binary("/", a, Const(1.0)) | Binary("**", a, Const(1.0)):
            return a
        case Binary("+" | "-", a, Const(0.0)):
            return a
        case Binary("*", Const(1.0), b) | Binary("+", Const(0.0), b):
            return b
        case Binary("/", Const(0.0), _):
            return Const(0.0)
        case Binary("/", _, Const(value)) if value == math.inf:
            return Const(0.0)
        case Call("min" | "max" as function, args):
            drop = math.inf if function == "min" else -math.inf
            kept = [a for a in args if a != Const(drop)]
            if function == "max" and any(isinstance(a, Call) and a.function in ("sqrt", "abs") for a in kept):
                kept = [a for a in kept if a != Const(0.0)] or kept
            return kept[0] if len(kept) == 1 else Call(function, tuple(kept)) if kept else Const(drop)
    return node


def fold_step(step, values: Mapping[str, float]):
    """A :class:`~overhang_sim.model_graph.Step` with `values` folded in (itself if it names none of them)."""
    if not names(step.tree) & set(values):
        return step
    tree = fold(step.tree, values)
    return dataclasses.replace(step, needs=names(tree), tree=tree, run=compile_tree(tree))
