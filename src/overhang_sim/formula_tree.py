"""The tree a formula is parsed into: frozen nodes, and functions that walk it.

:func:`overhang_sim.formulas.parse` builds these nodes from Python's :mod:`ast`
after checking every node against a whitelist; :func:`overhang_sim.formulas.compile_tree`
turns them into numpy calls; :mod:`overhang_sim.formula_checks` derives units on them.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Binary", "Call", "Compare", "Const", "Name", "Node", "Scale", "Unary", "children", "names",
           "render"]


@dataclass(frozen=True, slots=True)
class Const:
    """A number written in the formula (always a finite float)."""

    value: float


@dataclass(frozen=True, slots=True)
class Name:
    """A quantity of the model, by name."""

    id: str


@dataclass(frozen=True, slots=True)
class Unary:
    op: str  # only "-"
    operand: Node


@dataclass(frozen=True, slots=True)
class Binary:
    op: str  # + - * / **
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class Compare:
    ops: tuple[str, ...]  # < <= > >= == !=
    operands: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Call:
    function: str
    args: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Scale:
    """``operand * factor``: a unit conversion inserted by the unit check."""

    operand: Node
    factor: float


Node = Const | Name | Unary | Binary | Compare | Call | Scale


def children(node: Node) -> tuple[Node, ...]:
    """The direct operands of `node`."""
    match node:
        case Unary(_, x) | Scale(x, _):
            return (x,)
        case Binary(_, a, b):
            return (a, b)
        case Compare(_, xs) | Call(_, xs):
            return xs
    return ()


def names(node: Node) -> frozenset[str]:
    """Every quantity name the formula uses."""
    if isinstance(node, Name):
        return frozenset((node.id,))
    return frozenset().union(*map(names, children(node)))


_PRECEDENCE = {"+": 1, "-": 1, "*": 2, "/": 2, "**": 4}


def render(node: Node, outer: int = 0) -> str:
    """Formula text for `node`, with the parentheses precedence needs."""
    match node:
        case Const(value):
            return f"{value:g}" if value >= 0 else f"({value:g})"
        case Name(id):
            return id
        case Scale(x, factor):
            text, level = f"{render(x, 2)} * {factor:.6g}", 2
        case Unary(_, x):
            text, level = f"-{render(x, 3)}", 3
        case Binary(op, a, b):
            level = _PRECEDENCE[op]
            right = level + (op != "**")
            text = f"{render(a, level + (op == '**'))} {op} {render(b, right if op != '**' else level)}"
        case Compare(ops, xs):
            parts = [render(xs[0], 1)] + [f"{op} {render(x, 1)}" for op, x in zip(ops, xs[1:], strict=True)]
            text, level = " ".join(parts), 0
        case Call(function, args):
            return f"{function}({', '.join(render(a) for a in args)})"
    return f"({text})" if level < outer else text
