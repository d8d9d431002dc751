"""Units: parsing the strings the project uses, conversion factors, counts vs dimensions, algebra.

Known answers first (every unit string of QUANTITIES and of the prior files parses; day is
86400 s; a PFLOP/s-day is 8.64e19 FLOP), then properties over random units: a*b/b is a,
powers compose, conversion factors chain, and the canonical text reads back as the same unit.
"""

from __future__ import annotations

import math
import subprocess
import sys
import tomllib
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import EXPONENTS, PRIORS, units

from overhang_sim import OverhangError
from overhang_sim.models import QUANTITIES
from overhang_sim.units import DIMENSIONLESS, UNITS, Unit, UnitError, parse_unit

DISTINCT = ("FLOP", "token", "parameter", "GPU", "USD", "bit", "data point", "task", "s")
COUNTS = ("1", "instance")


def prior_units():
    return [pytest.param(entry["unit"], id=f"{path.stem}-{name}")
            for path in sorted(PRIORS.glob("*.toml"))
            for name, entry in tomllib.loads(path.read_text()).items()]


@pytest.mark.parametrize("text", sorted({q.unit for q in QUANTITIES.values()}))
def test_every_unit_of_the_quantities_parses_and_prints_as_written(text):
    unit = parse_unit(text)
    assert str(unit) == text
    assert parse_unit(str(Unit(unit.terms))) == unit  # the canonical form reads back


@pytest.mark.parametrize("text", prior_units())
def test_every_unit_in_the_prior_files_parses(text):
    assert parse_unit(text) == parse_unit(text.strip())


@pytest.mark.parametrize(("source", "target", "factor"), [
    ("day", "s", 86_400.0),
    ("token/day", "token/s", 1 / 86_400),
    ("task/s", "task/day", 86_400.0),
    ("PFLOP/s-day", "FLOP", 8.64e19),
    ("USD/(PFLOP/s-day)", "USD/FLOP", 1 / 8.64e19),
    ("USD/(FLOP/s*day)", "USD/(PFLOP/s-day)", 1e15),
    ("byte", "bit", 8.0),
    ("kbyte/s", "bit/s", 8000.0),
    ("year", "day", 365.25),
    ("h", "min", 60.0),
    ("week", "day", 7.0),
    ("TFLOP/s", "FLOP/s", 1e12),
    ("Gtoken", "token", 1e9),
    ("Mparameter", "parameter", 1e6),
    ("EFLOP", "PFLOP", 1e3),
    ("token/s/GPU", "token/day/GPU", 86_400.0),
    ("instance", "1", 1.0),
])
def test_conversion_factors(source, target, factor):
    assert parse_unit(source).factor_to(parse_unit(target)) == pytest.approx(factor, rel=1e-15)


def test_conversion_factors_are_exact_rationals_rounded_once():
    assert parse_unit("USD/(PFLOP/s-day)").factor_to(parse_unit("USD/FLOP")) == float(
        Fraction(1, 10**15 * 86_400))
    assert parse_unit("token/day").factor_to(parse_unit("token/s")) == float(Fraction(1, 86_400))


@pytest.mark.parametrize("same", ["token/s/GPU", "token/(s*GPU)", "token/GPU/s", "token*s^-1*GPU^-1",
                                  "token * s**-1 * GPU**-1", "token·GPU^-1/s", "(token/s)/GPU"])
def test_spellings_of_one_unit(same):
    assert parse_unit(same) == parse_unit("token/s/GPU")


def test_hyphen_is_a_product_left_to_right():
    assert parse_unit("PFLOP/s-day") == parse_unit("PFLOP/s*day")
    assert parse_unit("PFLOP/s-day").dimension == parse_unit("FLOP").dimension


def test_data_point_is_one_unit_with_a_space():
    assert parse_unit("token/data point").terms == (("token", 1), ("data point", -1))
    assert parse_unit("token/data  point") == parse_unit("token/data point")


@pytest.mark.parametrize(("a", "b"), [(a, b) for i, a in enumerate(DISTINCT) for b in DISTINCT[i + 1:]])
def test_base_dimensions_are_distinct(a, b):
    assert not parse_unit(a).compatible(parse_unit(b))
    with pytest.raises(UnitError, match="does not convert"):
        parse_unit(a).factor_to(parse_unit(b))


@pytest.mark.parametrize("name", DISTINCT)
def test_base_dimensions_are_not_plain_numbers(name):
    assert not parse_unit(name).dimensionless


def test_counts_are_plain_numbers():
    for text in COUNTS:
        assert parse_unit(text).dimensionless
        assert parse_unit(text).compatible(DIMENSIONLESS)
    assert parse_unit("token/s") / parse_unit("token/s") == DIMENSIONLESS
    assert (parse_unit("token/s") / parse_unit("token/s")).compatible(parse_unit("instance"))


def test_per_gpu_rates_are_not_cluster_rates():
    assert not parse_unit("token/s/GPU").compatible(parse_unit("token/s"))
    assert (parse_unit("token/s/GPU") * parse_unit("GPU")).compatible(parse_unit("token/s"))


def test_scaling_law_units_check():
    k_t = parse_unit("FLOP/parameter/token")
    ratio = parse_unit("data point/parameter") * parse_unit("token/data point")
    params = (parse_unit("FLOP") / (k_t * ratio)) ** Fraction(1, 2)
    assert params == parse_unit("parameter")
    assert ratio * params == parse_unit("token")


def test_rational_powers():
    assert parse_unit("parameter^2") ** Fraction(1, 2) == parse_unit("parameter")
    assert str(parse_unit("s") ** Fraction(-1, 2)) == "1/s^(1/2)"
    assert parse_unit("parameter^(1/2)") ** 2 == parse_unit("parameter")
    assert parse_unit("s^(-3/2)") == parse_unit("s") ** Fraction(-3, 2)
    assert parse_unit("day") ** Fraction(1, 2) * parse_unit("day") ** Fraction(1, 2) == parse_unit("day")
    assert parse_unit("day^(1/2)").factor == pytest.approx(math.sqrt(86_400), rel=1e-15)


@pytest.mark.parametrize(("text", "message"), [
    ("tokn/s", "unknown unit 'tokn' in 'tokn/s' (did you mean 'token'?)"),
    ("data pont", "did you mean 'data point'"),
    ("token/", "ends too early"),
    ("", "is empty; write 1 for a plain number"),
    ("  ", "is empty"),
    ("2 token", "2 is a number, not a unit"),
    ("1e15 FLOP", "cannot read unit"),
    ("s^x", "the exponent 'x' is not a whole number"),
    ("s^(1/0)", "divides by 0"),
    ("(token", "ends too early"),
    ("token)", "unexpected ')'"),
    ("token s", "unknown unit 'token s'"),
    ("token$", "cannot read unit"),
    ("tokens", "did you mean 'token'"),
    (3, "must be a string"),
    (None, "must be a string"),
])
def test_bad_units_are_one_line_errors(text, message):
    with pytest.raises(UnitError) as caught:
        parse_unit(text)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)
    assert isinstance(caught.value, OverhangError) and isinstance(caught.value, ValueError)


def test_every_named_unit_has_an_exact_positive_factor():
    for name, (factor, dims) in UNITS.items():
        assert factor > 0 and isinstance(factor, Fraction), name
        assert all(base in DISTINCT for base, _ in dims), name


def test_units_import_fast_without_pint():
    code = ("import sys, time; t = time.perf_counter(); import overhang_sim.units; "
            "print(time.perf_counter() - t, 'pint' in sys.modules)")
    # Measure the module itself: the package __init__ is imported first, outside the timer.
    out = subprocess.run([sys.executable, "-c", "import overhang_sim; " + code], capture_output=True,
                         text=True, check=True).stdout.split()
    assert float(out[0]) < 0.25 and out[1] == "False"  # pint alone takes 0.4 s or more


# --------------------------------------------------------------------------- properties


@given(a=units(), b=units())
def test_product_then_quotient_gives_back_the_unit(a, b):
    assert a * b / b == a
    assert a / b * b == a
    assert (a * b).dimension == (b * a).dimension


@given(a=units(), p=st.sampled_from(EXPONENTS), q=st.sampled_from(EXPONENTS))
def test_powers_compose(a, p, q):
    assert (a**p) ** q == a ** (p * q)
    assert a**p * a**q == a ** (p + q)


@given(a=units(), b=units())
def test_factors_multiply(a, b):
    assert (a * b).factor == pytest.approx(a.factor * b.factor, rel=1e-12)
    assert (a / b).factor == pytest.approx(a.factor / b.factor, rel=1e-12)


@given(a=units())
def test_canonical_text_reads_back(a):
    assert parse_unit(str(a)) == a


@given(a=units(), b=units(), c=units())
def test_conversion_factors_chain(a, b, c):
    # a*b and a*c*(b/c) have one dimension; their factors chain through a third spelling
    x, y, z = a * b, a * c * (b / c), b * a
    assert x.factor_to(y) * y.factor_to(z) == pytest.approx(x.factor_to(z), rel=1e-12)
    assert x.factor_to(x) == 1.0
