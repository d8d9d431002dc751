"""Formulas of model files: a whitelist over :mod:`ast`, compiled once to numpy calls.

A formula is one Python *expression* over quantity names::

    k_ratio * train_tokens / train_days
    sqrt(train_flop / (train_flop_per_param_token * chinchilla_ratio * horizon_length))
    where(train_days > 0, train_tokens / train_days, 0)

Allowed: numbers, names, ``+ - * / **``, unary minus, parentheses, comparisons
(``< <= > >= == !=``, chained like ``0 < x < 1``) and the functions of
:data:`FUNCTIONS`, each applied elementwise over the draws. ``floor`` counts whole
things (streams, replicas); ``wrightomega(y)`` is the w with w + log(w) = y, the Lambert W
of e^y, which solves ``a exp(-l B) = c + k B`` for B in closed form (the roofline's
bandwidth bound for a mixture of experts) without overflow. Everything else is
refused while parsing, with a one-line :class:`FormulaError`: attribute access,
subscripts, calls to anything else, keyword or starred arguments, lambdas,
comprehensions, conditional expressions, ``and``/``or``/``not``, strings, lists and
other containers, ``:=``, ``//``, ``%``, ``@`` and bit operators. The text is never
passed to ``eval``: :func:`parse` builds a tree of frozen nodes and
:func:`compile_tree` turns it into nested numpy calls, so a formula costs a few
Python calls per *array*, none per draw. Units are derived on the same tree
(:mod:`overhang_sim.formula_checks`).

A long formula may span lines inside parentheses, as in Python.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from .errors import OverhangError
from .formula_tree import Binary, Call, Compare, Const, Name, Node, Scale, Unary, names

__all__ = ["FUNCTIONS", "Formula", "FormulaError", "as_number", "compile_tree", "constant_value", "parse"]

MAX_LENGTH = 4000  # characters
MAX_DEPTH = 100  # nested operations

FUNCTIONS: Mapping[str, tuple[int, int | None]] = {
    "sqrt": (1, 1), "exp": (1, 1), "log": (1, 1), "log10": (1, 1), "abs": (1, 1), "floor": (1, 1),
    "wrightomega": (1, 1),
    "min": (2, None), "max": (2, None), "clip": (3, 3), "where": (3, 3),
}
"""Function name -> (fewest, most) arguments; ``None`` is no limit."""

_ALLOWED = ("numbers, quantity names, + - * / **, comparisons and "
            + ", ".join(FUNCTIONS))


class FormulaError(OverhangError, ValueError):
    """A formula that is not an allowed expression, or names what it cannot."""


# --------------------------------------------------------------------------- parsing

_BINARY_OPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**"}
_COMPARE_OPS = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!="}
_REFUSED = {
    ast.Attribute: "attribute access (x.y)",
    ast.Subscript: "subscripts (x[i])",
    ast.Slice: "slices",
    ast.Lambda: "lambda",
    ast.ListComp: "comprehensions",
    ast.SetComp: "comprehensions",
    ast.DictComp: "comprehensions",
    ast.GeneratorExp: "comprehensions",
    ast.IfExp: "conditional expressions (write where(condition, a, b))",
    ast.BoolOp: "and/or (nest where(...) instead)",
    ast.NamedExpr: "assignment (:=)",
    ast.List: "lists",
    ast.Tuple: "tuples",
    ast.Set: "sets",
    ast.Dict: "dicts",
    ast.JoinedStr: "strings",
    ast.Starred: "starred arguments",
    ast.Await: "await",
    ast.Yield: "yield",
    ast.YieldFrom: "yield",
    ast.Not: "not",
    ast.Invert: "~",
    ast.FloorDiv: "// (write a / b)",
    ast.Mod: "%",
    ast.MatMult: "@",
    **dict.fromkeys((ast.LShift, ast.RShift, ast.BitAnd, ast.BitOr, ast.BitXor), "bit operators"),
}


def parse(text: str) -> Node:
    """Parse and check one formula.

    Parameters
    ----------
    text : str
        A Python expression over quantity names (see the module docstring).

    Returns
    -------
    Node
        An immutable tree of :class:`Const`, :class:`Name`, :class:`Unary`,
        :class:`Binary`, :class:`Compare` and :class:`Call` nodes.

    Raises
    ------
    FormulaError
        One line saying what is not allowed.
    """
    if not isinstance(text, str):
        raise FormulaError(f"must be a string such as 'a * b', not {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise FormulaError(f"is {len(text)} characters long; split it into quantities of at most "
                           f"{MAX_LENGTH}")
    if not text.strip():
        raise FormulaError("is empty")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as error:
        raise FormulaError(f"is not an expression ({error.msg}): {_quote(text)}") from None
    except (RecursionError, MemoryError, ValueError):  # ValueError: a NUL character
        raise FormulaError(f"cannot be parsed (too deeply nested or a NUL character): {_quote(text)}") from None
    return _Whitelist(text).visit(tree)


def _quote(text: str, limit: int = 80) -> str:
    """`text` quoted for a one-line message, cut to about `limit` characters."""
    return repr(text) if len(text) <= limit else repr(text[:limit]) + "..."


class _Whitelist(ast.NodeVisitor):
    """Turn an allowed :mod:`ast` tree into :data:`Node`; refuse every other node type."""

    def __init__(self, text: str):
        self.text = text
        self.depth = 0

    def visit(self, node):
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise FormulaError(f"nests more than {MAX_DEPTH} operations deep; split it into quantities")
        try:
            return super().visit(node)
        finally:
            self.depth -= 1

    def refuse(self, what: str):
        raise FormulaError(f"{_quote(self.text)} uses {what}, which a formula cannot (allowed: {_ALLOWED})")

    def generic_visit(self, node):
        self.refuse(_REFUSED.get(type(node), type(node).__name__))

    def visit_Expression(self, node):
        return self.visit(node.body)

    def visit_Constant(self, node):
        value = node.value
        if type(value) not in (int, float):
            kind = "strings" if isinstance(value, (str, bytes)) else repr(value)
            self.refuse(kind)
        try:
            value = float(value)
        except OverflowError:
            value = math.inf
        if not math.isfinite(value):
            raise FormulaError(f"has a number beyond 1.8e308, the largest float: {_quote(self.text)}")
        return Const(value)

    def visit_Name(self, node):
        if node.id in FUNCTIONS:
            raise FormulaError(f"{node.id} is a function; call it as {node.id}(...): {_quote(self.text)}")
        return Name(node.id)

    def visit_UnaryOp(self, node):
        if isinstance(node.op, ast.UAdd):
            return self.visit(node.operand)
        if isinstance(node.op, ast.USub):
            return Unary("-", self.visit(node.operand))
        return self.generic_visit(node.op)

    def visit_BinOp(self, node):
        op = _BINARY_OPS.get(type(node.op))
        if op is None:
            return self.generic_visit(node.op)
        return Binary(op, self.visit(node.left), self.visit(node.right))

    def visit_Compare(self, node):
        ops = tuple(_COMPARE_OPS.get(type(op)) for op in node.ops)
        if None in ops:
            self.refuse("'is' or 'in'")
        return Compare(ops, tuple(self.visit(x) for x in (node.left, *node.comparators)))

    def visit_Call(self, node):
        if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
            what = node.func.id if isinstance(node.func, ast.Name) else "something other than a listed function"
            self.refuse(f"calling {what}")
        name = node.func.id
        if node.keywords:
            self.refuse(f"keyword arguments (in {name}(...))")
        low, high = FUNCTIONS[name]
        if len(node.args) < low or (high is not None and len(node.args) > high):
            count = f"{low}" if low == high else f"at least {low}"
            raise FormulaError(f"{name} takes {count} argument{'s' * (count != '1')}, "
                               f"not {len(node.args)}: {_quote(self.text)}")
        return Call(name, tuple(self.visit(a) for a in node.args))


def constant_value(node: Node) -> float | None:
    """The value of a subtree without names (``-(1/2)`` -> -0.5), else None."""
    if names(node):
        return None
    with np.errstate(all="ignore"):
        return float(_compile(node, fold=False)({})[0])


# --------------------------------------------------------------------------- evaluation

Evaluator = Callable[[Mapping[str, object]], tuple[object, bool]]
def _wrightomega(x, out=None):
    """Wright's omega, the root w of w + log(w) = x (scipy, imported on first use: it is slow to import)."""
    from scipy.special import wrightomega

    return wrightomega(x) if out is None else wrightomega(x, out=out)


_UFUNCS = {"+": np.add, "-": np.subtract, "*": np.multiply, "/": np.divide, "**": np.power,
           "sqrt": np.sqrt, "exp": np.exp, "log": np.log, "log10": np.log10, "abs": np.abs,
           "floor": np.floor, "wrightomega": _wrightomega}
_COMPARISONS = {"<": np.less, "<=": np.less_equal, ">": np.greater, ">=": np.greater_equal,
                "==": np.equal, "!=": np.not_equal}
_POWERS = {2.0: np.square, 0.5: np.sqrt, -1.0: np.reciprocal}


def compile_tree(node: Node) -> Callable[[Mapping[str, object]], object]:
    """Compile `node` once into ``evaluate(values) -> array or float``.

    `values` maps every name in the formula to a float or an ndarray; arrays
    broadcast. Intermediate arrays are reused in place (``out=``), so a formula of
    k operations on n draws allocates about one array of n, not k. Call it inside
    ``np.errstate`` if floating-point warnings matter (:class:`Formula` does).
    """
    run = _compile(node)
    return lambda values: run(values)[0]


def _compile(node: Node, fold: bool = True) -> Evaluator:
    """`node` -> ``run(values) -> (value, owned)``; owned values are temporaries to overwrite.

    With `fold`, subtrees without names are evaluated once, here.
    """
    if fold and not isinstance(node, Const) and not names(node):
        return _compile(Const(constant_value(node)))
    compile_ = _compile if fold else _compile_unfolded
    match node:
        case Const(value):
            return lambda values: (value, False)
        case Name(id):
            return lambda values: (values[id], False)
        case Scale(x, factor):
            return _ufunc(np.multiply, compile_(x), compile_(Const(factor)))
        case Unary(_, x):
            return _ufunc(np.negative, compile_(x))
        case Binary("**", a, b) if constant_value(b) in _POWERS:
            return _ufunc(_POWERS[constant_value(b)], compile_(a))
        case Binary(op, a, b):
            return _ufunc(_UFUNCS[op], compile_(a), compile_(b))
        case Compare(ops, xs):
            return _compare(ops, [compile_(x) for x in xs])
        case Call("min" | "max" as function, args):
            ufunc = np.minimum if function == "min" else np.maximum
            run = compile_(args[0])
            for arg in args[1:]:
                run = _ufunc(ufunc, run, compile_(arg))
            return run
        case Call("clip", (x, low, high)):
            return _ufunc(np.minimum, _ufunc(np.maximum, compile_(x), compile_(low)), compile_(high))
        case Call("where", args):
            return _where(*(compile_(x) for x in args))
        case Call(function, (x,)):
            return _ufunc(_UFUNCS[function], compile_(x))
    raise TypeError(f"not a formula node: {node!r}")  # pragma: no cover - parse builds only the above


def _compile_unfolded(node: Node) -> Evaluator:
    return _compile(node, fold=False)


def _where(condition: Evaluator, a: Evaluator, b: Evaluator) -> Evaluator:
    def run(values):
        out = np.where(condition(values)[0], a(values)[0], b(values)[0])
        return (out[()] if out.ndim == 0 else out), True
    return run


def _ufunc(ufunc: np.ufunc, *parts: Evaluator) -> Evaluator:
    def run(values):
        results = [part(values) for part in parts]
        args = [value for value, _ in results]
        out = _reusable(results, args)
        return (ufunc(*args) if out is None else ufunc(*args, out=out)), True
    return run


def _reusable(results, args) -> np.ndarray | None:
    """An owned float64 temporary among `results` with the shape of the result, or None."""
    for value, owned in results:
        if (owned and type(value) is np.ndarray and value.dtype == np.float64
                and value.shape == np.broadcast_shapes(*(np.shape(a) for a in args))):
            return value
    return None


def _compare(ops, parts) -> Evaluator:
    def run(values):
        args = [part(values)[0] for part in parts]
        out = _COMPARISONS[ops[0]](args[0], args[1])
        for op, a, b in zip(ops[1:], args[1:], args[2:], strict=False):
            out = np.logical_and(out, _COMPARISONS[op](a, b))
        return out, False
    return run


@dataclass(frozen=True)
class Formula:
    """One parsed formula, ready to evaluate on arrays.

    Parameters
    ----------
    text : str
        The formula as written.

    Examples
    --------
    >>> import numpy as np
    >>> f = Formula("sqrt(a * b) / 2")
    >>> sorted(f.names)
    ['a', 'b']
    >>> f({"a": np.array([1.0, 4.0]), "b": 4.0})
    array([1., 2.])
    """

    text: str

    def __post_init__(self):
        tree = parse(self.text)
        object.__setattr__(self, "tree", tree)
        object.__setattr__(self, "_run", compile_tree(tree))

    @property
    def names(self) -> frozenset[str]:
        """The quantity names the formula uses."""
        return names(self.tree)

    def __call__(self, values: Mapping[str, object]):
        """Evaluate on `values` (floats or broadcastable ndarrays), without floating-point warnings."""
        missing = self.names - set(values)
        if missing:
            raise FormulaError(f"needs a value for {', '.join(sorted(missing))}: {_quote(self.text)}")
        with np.errstate(all="ignore"):
            return self._run({n: as_number(values[n]) for n in self.names})


def as_number(value):
    """A float or a float ndarray for `value` (ints would overflow or refuse negative powers)."""
    if isinstance(value, np.ndarray):
        return value if value.dtype.kind in "fb" else value.astype(np.float64)
    return value if isinstance(value, (float, np.floating)) else float(value)
