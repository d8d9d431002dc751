"""Formulas: the ast whitelist, evaluation on whole arrays, units on the same tree.

A hypothesis property draws random expression trees (all operators and functions of the
language) over random positive arrays and checks them against the same expression written
directly in numpy. Units must be consistent under algebraic rewriting (a*b/b has a's unit).
A corpus of hostile formulas is refused with a one-line error, and nothing is ever passed
to eval or exec.
"""

from __future__ import annotations

import builtins
import re
import sys
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import expressions, positive_arrays, units

from overhang_sim import OverhangError
from overhang_sim.formula_checks import check_units, divisors, scaled, zero_factors
from overhang_sim.formula_tree import Binary, Const, Name, Scale, names, render
from overhang_sim.formulas import MAX_DEPTH, Formula, FormulaError, compile_tree, parse
from overhang_sim.units import UnitError, parse_unit

A = np.array([0.5, 1.0, 2.0, 4.0])
B = np.array([3.0, 3.0, 1.0, 0.25])

# --------------------------------------------------------------------------- known answers


@pytest.mark.parametrize(("text", "expected"), [
    ("a + b", A + B),
    ("a - b - 1", A - B - 1),
    ("a * b / 2", A * B / 2),
    ("a ** 2 + b ** 0.5 + a ** -1 + a ** 3", A**2 + B**0.5 + 1 / A + A**3),
    ("-a ** 2", -(A**2)),
    ("(-a) ** 2", A**2),
    ("2 ** 3 ** 2 * a", 512 * A),
    ("sqrt(a) + exp(b) - log(a) + log10(b) + abs(-a)", np.sqrt(A) + np.exp(B) - np.log(A) + np.log10(B) + A),
    ("min(a, b) + max(a, b, 2)", np.minimum(A, B) + np.maximum(np.maximum(A, B), 2)),
    ("clip(a, 1, 2)", np.clip(A, 1, 2)),
    ("where(a > b, a, b)", np.maximum(A, B)),
    ("where(a <= 1, 0, a) + where(a == b, 1, 0) + where(a != 1, 1, 0)",
     np.where(A <= 1, 0, A) + np.where(A == B, 1, 0) + np.where(A != 1, 1, 0)),
    ("where(1 < a < 4, 1, 0)", np.array([0.0, 0.0, 1.0, 0.0])),
    ("a * (b > 1)", A * (B > 1)),
    ("+a", A),
    ("1e3 * a", 1000 * A),
])
def test_known_answers(text, expected):
    np.testing.assert_allclose(Formula(text)({"a": A, "b": B}), expected, rtol=1e-15)


def test_floats_in_floats_out():
    value = Formula("sqrt(a * b) + where(a > 1, 1, 0)")({"a": 4.0, "b": 9})
    assert np.ndim(value) == 0 and value == 7.0


def test_integer_inputs_are_floats():
    # numpy refuses integer ** negative integer; the formula converts first
    assert Formula("a ** -1")({"a": 2}) == 0.5
    np.testing.assert_array_equal(Formula("a ** -1")({"a": np.array([2, 4])}), [0.5, 0.25])


def test_scalars_broadcast_with_arrays():
    out = Formula("a * b + c")({"a": A, "b": 2.0, "c": np.ones((3, 1))})
    assert out.shape == (3, 4)
    np.testing.assert_allclose(out[1], A * 2 + 1)


def test_inputs_are_never_overwritten():
    a, b = A.copy(), B.copy()
    Formula("-(sqrt(a * b + a) / b) ** 2 + min(a, b)")({"a": a, "b": b})
    np.testing.assert_array_equal(a, A)
    np.testing.assert_array_equal(b, B)


def test_division_by_zero_and_overflow_stay_quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = Formula("a / b + exp(a * 1000) - log(b) + sqrt(b - 1)")({"a": np.array([1.0, -1.0]),
                                                                        "b": np.array([0.0, 0.0])})
    assert np.isinf(out).all() or np.isnan(out).any()


def test_a_missing_value_names_it():
    with pytest.raises(FormulaError, match="needs a value for b"):
        Formula("a + b")({"a": 1.0})


def test_constant_subtrees_are_folded_once():
    run = compile_tree(parse("2 * 3 * a"))  # (2*3)*a: one multiplication of the array
    assert run({"a": 1.5}) == 9.0
    assert parse("2 * 3 * a") == Binary("*", Binary("*", Const(2.0), Const(3.0)), Name("a"))


def test_names_and_render():
    tree = parse("sqrt(train_flop / (k * ratio)) + where(x > 0, x, 0)")
    assert names(tree) == {"train_flop", "k", "ratio", "x"}
    assert render(tree) == "sqrt(train_flop / (k * ratio)) + where(x > 0, x, 0)"
    assert render(parse("a - (b - c)")) == "a - (b - c)"
    assert render(parse("(a ** b) ** c")) == "(a ** b) ** c"


@settings(max_examples=200)
@given(expression=expressions())
def test_render_reads_back_as_the_same_tree(expression):
    tree = parse(expression[0])
    assert parse(render(tree)) == tree


# --------------------------------------------------------------------------- random trees vs numpy


@settings(max_examples=300)
@given(expression=expressions(), values=positive_arrays())
def test_random_expressions_equal_the_same_numpy_expression(expression, values):
    text, direct = expression
    with np.errstate(all="ignore"):
        expected = np.broadcast_to(direct(values), (6,))
    got = np.broadcast_to(Formula(text)(values), (6,))
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=0, equal_nan=True)


@settings(max_examples=100)
@given(expression=expressions(), values=positive_arrays())
def test_random_expressions_on_floats_equal_the_arrays(expression, values):
    text, _ = expression
    formula = Formula(text)
    whole = np.broadcast_to(formula(values), (6,))
    first = formula({n: float(v[0]) for n, v in values.items()})
    np.testing.assert_allclose(first, whole[0], rtol=1e-9, equal_nan=True)


# --------------------------------------------------------------------------- hostile formulas

HOSTILE = [
    "__import__('os').system('touch /tmp/overhang-pwned')",
    "().__class__.__bases__[0].__subclasses__()",
    "a.__class__",
    "a.real",
    "sqrt.__globals__",
    "a[0]",
    "a[1:2]",
    "lambda: 1",
    "(lambda x: x)(a)",
    "[x for x in a]",
    "{x for x in a}",
    "{x: 1 for x in a}",
    "sum(x for x in a)",
    "'a string'",
    "b'bytes'",
    "f'{a}'",
    "open('/etc/passwd')",
    "eval('1')",
    "exec('1')",
    "getattr(a, 'real')",
    "globals()",
    "sqrt(x=a)",
    "max(a, b, key=abs)",
    "sqrt(*a)",
    "sqrt(**a)",
    "sqrt(a)(b)",
    "a if b else c",
    "a and b",
    "a or b",
    "not a",
    "(x := 1)",
    "[a, b]",
    "(a, b)",
    "{a, b}",
    "{a: b}",
    "a // b",
    "a % b",
    "a @ b",
    "a << 1",
    "a | b",
    "~a",
    "a is b",
    "a in b",
    "True",
    "None",
    "...",
    "1j",
    "1e999",
    "await a",
    "yield a",
    "a = 1",
    "import os",
    "a; b",
    "",
    "   ",
    "sqrt",
    "max(a)",
    "sqrt(a, b)",
    "clip(a, b)",
    "where(a > b, a)",
    "-" * 300 + "a",
    "(" * 300 + "a" + ")" * 300,
    "a\x00",
    "a +",
    "a" + " + a" * 2000,
]


@pytest.mark.parametrize("text", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_formulas_are_refused_in_one_line(text, monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("eval/exec must never run")

    monkeypatch.setattr(builtins, "eval", forbidden)
    monkeypatch.setattr(builtins, "exec", forbidden)
    with pytest.raises(FormulaError) as caught:
        parse(text)
    message = str(caught.value)
    assert "\n" not in message and "Traceback" not in message and len(message) < 400
    assert isinstance(caught.value, OverhangError) and isinstance(caught.value, ValueError)


def test_the_os_payload_has_no_effect(tmp_path):
    target = tmp_path / "pwned"
    with pytest.raises(FormulaError):
        Formula(f"__import__('os').system('touch {target}')")
    assert not target.exists()


def test_hostile_corpus_is_large_enough():
    assert len(HOSTILE) >= 25


def test_depth_limit_is_a_formula_error_not_a_recursion_error():
    text = "a" + " * (a" * (MAX_DEPTH + 5) + ")" * (MAX_DEPTH + 5)
    with pytest.raises(FormulaError, match="nests more than"):
        parse(text)
    assert sys.getrecursionlimit() >= 1000  # the whitelist never gets near it


@pytest.mark.parametrize(("text", "message"), [
    ("a.b", "uses attribute access"),
    ("f(a)", "uses calling f"),
    ("sqrt(x=a)", "uses keyword arguments (in sqrt(...))"),
    ("a if b else c", "write where(condition, a, b)"),
    ("a // b", "write a / b"),
    ("sqrt", "sqrt is a function; call it as sqrt(...)"),
    ("max(a)", "max takes at least 2 arguments, not 1"),
    ("sqrt(a, b)", "sqrt takes 1 argument, not 2"),
    ("a = 1", "is not an expression (invalid syntax)"),
    ("1e999", "has a number beyond 1.8e308"),
])
def test_refusals_say_what_is_wrong(text, message):
    with pytest.raises(FormulaError, match=re.escape(message)):
        parse(text)


# --------------------------------------------------------------------------- units on the tree

U = {"tokens": parse_unit("token"), "days": parse_unit("day"), "seconds": parse_unit("s"),
     "x": parse_unit("1"), "p2": parse_unit("parameter^2"), "n": parse_unit("instance"),
     "rate": parse_unit("token/s"), "gpus": parse_unit("GPU")}


@pytest.mark.parametrize(("text", "unit"), [
    ("tokens / days", "token/day"),
    ("rate / gpus", "token/s/GPU"),
    ("sqrt(p2)", "parameter"),
    ("p2 ** 0.5", "parameter"),
    ("p2 ** (1/2)", "parameter"),
    ("p2 ** -1", "1/parameter^2"),
    ("days + seconds", "day"),
    ("seconds + days", "s"),
    ("max(days, seconds, 0)", "day"),
    ("where(days > seconds, days, 0)", "day"),
    ("clip(seconds, days, 2 * days)", "s"),
    ("log(seconds / days)", "1"),
    ("exp(x) + x ** x", "1"),
    ("n + 1", "instance"),
    ("rate / rate", "1"),
    ("-days", "day"),
    ("abs(days)", "day"),
    ("0 + tokens", "token"),
    ("tokens * (days > 0)", "token"),
])
def test_derived_units(text, unit):
    assert check_units(parse(text), U)[1] == parse_unit(unit)


@pytest.mark.parametrize(("text", "message"), [
    ("tokens + days", "cannot add token and day: tokens + days"),
    ("tokens - x", "cannot subtract token and 1"),
    ("tokens + 1", "cannot add token and 1"),
    ("tokens < days", "cannot compare token and day"),
    ("min(tokens, days)", "cannot take the min of token and day"),
    ("clip(tokens, 0, days)", "cannot clip token and day"),
    ("where(x > 0, tokens, days)", "cannot choose (where) between token and day"),
    ("where(x, tokens, tokens)", "the condition of where must be a comparison"),
    ("log(tokens)", "the argument of log must be a plain number, not token"),
    ("exp(days)", "the argument of exp must be a plain number, not day"),
    ("x ** tokens", "an exponent must be a plain number, not token"),
    ("days ** x", "the exponent of a quantity in day must be a constant number"),
    ("days ** 0.123", "must be a simple fraction such as 2 or 1/2, not 0.123"),
])
def test_unit_mismatches_name_both_units(text, message):
    with pytest.raises(UnitError) as caught:
        check_units(parse(text), U)
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_conversions_are_scale_nodes_folded_into_the_tree():
    tree, unit = check_units(parse("days + seconds"), U)
    assert tree == Binary("+", Name("days"), Scale(Name("seconds"), 1 / 86_400))
    value = compile_tree(tree)({"days": 1.0, "seconds": 43_200.0})
    assert value == 1.5 and str(unit) == "day"


def test_a_plain_ratio_of_times_is_converted_before_log():
    tree, _ = check_units(parse("log(seconds / days)"), U)
    assert compile_tree(tree)({"seconds": 86_400.0, "days": 1.0}) == pytest.approx(0.0, abs=1e-15)


def test_scaled_folds():
    assert scaled(Name("a"), 1.0) == Name("a")
    assert scaled(Const(2.0), 3.0) == Const(6.0)
    assert scaled(scaled(Name("a"), 2.0), 3.0) == Scale(Name("a"), 6.0)


REWRITES = [
    ("a * b / b", "a"),
    ("a / b * b", "a"),
    ("(a * b) ** 2", "a ** 2 * b ** 2"),
    ("sqrt(a * a)", "a"),
    ("sqrt(a) * sqrt(a)", "a"),
    ("a ** (1/2) * a ** 0.5", "a"),
    ("1 / (1 / a)", "a"),
    ("a * b", "b * a"),
    ("a / (b * c)", "a / b / c"),
    ("(a / b) ** -1", "b / a"),
    ("a + a * b / b", "a"),
    ("min(a, a * c / c)", "a"),
    ("where(a > a * b / b, a, a * c / c)", "a"),
    ("-a * b", "b * -a"),
    ("a * b ** 3 / (b * b)", "a * b"),
]


@pytest.mark.parametrize(("left", "right"), REWRITES)
@settings(max_examples=40)
@given(ua=units(), ub=units(), uc=units())
def test_units_are_consistent_under_rewriting(left, right, ua, ub, uc):
    env = {"a": ua, "b": ub, "c": uc}
    assert check_units(parse(left), env)[1] == check_units(parse(right), env)[1]


@given(ua=units(), uc=units(), scale=st.sampled_from(["s", "min", "h", "day", "year"]),
       values=positive_arrays())
def test_converted_sums_agree_in_either_unit(ua, uc, scale, values):
    # a [day-ish] + b [s-ish]: computed in a's unit and in b's, the results convert to each other
    env = {"a": ua * parse_unit("day"), "b": ua * parse_unit(scale), "c": uc}
    ab, unit_ab = check_units(parse("a + b"), env)
    ba, unit_ba = check_units(parse("b + a"), env)
    np.testing.assert_allclose(compile_tree(ab)(values) * unit_ab.factor_to(unit_ba),
                               compile_tree(ba)(values), rtol=1e-12)


# --------------------------------------------------------------------------- division by zero


@pytest.mark.parametrize(("text", "zeros", "divides"), [
    ("a * sqrt(b) / c", {"a", "b"}, {"c"}),
    ("a / (b * c) + d ** -1", set(), {"b", "c", "d"}),
    ("a / (b + c)", set(), set()),
    ("a / (b ** 2)", set(), {"b"}),
    ("(a / b) ** -0.5", set(), {"a", "b"}),
    ("a / max(b, 1)", {"a"}, set()),
    ("-a * abs(b) ** 2", {"a", "b"}, set()),
])
def test_zero_factors_and_divisors(text, zeros, divides):
    tree = parse(text)
    if zeros:
        assert zero_factors(tree) == zeros
    assert divisors(tree) == divides
