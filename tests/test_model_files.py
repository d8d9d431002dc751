"""Model files: the five shipped ones equal the Python paths; the semantics and errors of the format.

Every built-in model file is compared with ``reference_models.MODELS[name]`` (the Python paths the package had before) on random
positive inputs, for every input set the Python path accepts (within 1e-12 relative). The
few deliberate differences are listed here: CHANGED_UNITS (units made consistent so every
formula checks), EXTRA_OUTPUTS (a derived value the Python path computes but drops), and
the formula model's refusal of a given input that nothing uses (the Python compute path
silently ignores gpu_peak_flop_per_s when cluster_flop_per_s is given).
"""

from __future__ import annotations

import itertools
import math
import pickle
import sys
import warnings
import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from reference_models import MODELS, QUANTITIES
from strategies import seeds

from overhang_sim import ConfigError, ModelInputError, OverhangError
from overhang_sim.formulas import FormulaError
from overhang_sim.function_model import FunctionModel, ModelOutputError
from overhang_sim.modelspec import BUILTIN_MODELS, FormulaModel, ModelWarning, builtin_models
from overhang_sim.units import UnitError, parse_unit

BUILTIN = builtin_models()

# quantity -> (unit in models.QUANTITIES and the prior files, unit in the model files)
CHANGED_UNITS = {
    "chinchilla_ratio": ("token/parameter", "data point/parameter"),
    "train_flop_per_param_token": ("FLOP", "FLOP/parameter/token"),
    "infer_flop_per_param_token": ("FLOP", "FLOP/parameter/token"),
    "gpu_peak_flop_per_s": ("FLOP/s", "FLOP/s/GPU"),
}
EXTRA_OUTPUTS = {"budget": {"usd_per_flop"}}
# Issue 10: inputs the Python paths never had, each with a default that leaves their results
# unchanged (or, without a default, needed only by a new output or instead of an old input),
# and the outputs they add (required_tokens_per_s and the throughput path's tokens_per_gpu_s
# became overridable formulas).
SERVING_INPUTS = {"fleet_multiplier", "serving_share", "human_tokens_per_s", "speed_multiple", "tokens_per_human_token"}
SCALING_INPUTS = SERVING_INPUTS | {"serving_peak_ratio", "active_param_fraction", "deploy_param_fraction",
                                   "data_stock_tokens", "context_tokens", "n_layers", "d_attention",
                                   "attention_flop_per_layer_dim"}
NEW_INPUTS = {"throughput": SERVING_INPUTS | {"tokens_per_gpu_s_max", "knee_tokens_per_s", "throughput_slope",
                                             "knee_sharpness"},
              "compute": SCALING_INPUTS, "budget": SCALING_INPUTS}
NEW_OUTPUTS = {"throughput": {"human_equivalents", "required_tokens_per_s", "tokens_per_gpu_s"},
               "compute": {"human_equivalents", "required_tokens_per_s"},
               "budget": {"human_equivalents", "required_tokens_per_s"}}
SCALES = {"cluster_gpus": 1e5, "gpu_peak_flop_per_s": 1e15, "cluster_flop_per_s": 1e20, "train_days": 100,
          "chinchilla_ratio": 20, "required_tokens_per_s": 30, "budget_usd": 1e9, "usd_per_flop": 1e-18,
          "usd_per_pflops_day": 100, "tokens_per_gpu_s": 2000, "fast_stream_tokens_per_s": 300,
          "tokens_per_task": 3e6, "human_seconds": 6e8, "human_bits_per_s": 1e7, "train_tokens_total": 1e13,
          "bits_per_token": 16, "unit_price_usd": 1e4, "unit_flop_per_s": 1e14, "amortization_days": 365,
          "train_flop_per_param_token": 6, "infer_flop_per_param_token": 2}
UNIT_INTERVAL = ("train_utilization", "inference_utilization")

TOKENS = '''
name = "tokens"
description = "copies from training tokens per second (Davidson-style)"
main = "instances"                       # the main output: headline, thresholds, report
[quantities.train_tokens]                # no formula: an input, which needs a prior
unit = "token"
long_name = "training tokens"
[quantities.train_days]
unit = "day"
low = 0                                  # optional physical domain [low, high]
[quantities.required_tokens_per_s]
unit = "token/s"
[quantities.k_ratio]
unit = "1"
default = 3                              # an input with a default value
[quantities.cluster_tokens_per_s]
unit = "token/s"
formula = "k_ratio * train_tokens / train_days"   # token/day, converted to token/s for you
[quantities.instances]
unit = "instance"
formula = "cluster_tokens_per_s / required_tokens_per_s"
'''


def tokens_model(text=TOKENS, file="tokens.toml"):
    with pytest.warns(ModelWarning, match="quantities.train_days: a formula divides by it"):
        return FormulaModel.from_text(text, file=file)


def accepted_sets(name):
    """Every subset of the Python model's inputs its check_inputs accepts."""
    python = MODELS[name]
    out = []
    for size in range(len(python.inputs) + 1):
        for subset in itertools.combinations(python.inputs, size):
            try:
                python.check_inputs(set(subset))
            except ModelInputError:
                continue
            out.append(frozenset(subset))
    return out


ACCEPTED = {name: accepted_sets(name) for name in MODELS}


def random_inputs(names, rng, n=64, scalars=()):
    values = {}
    for name in sorted(names):
        if name in UNIT_INTERVAL:
            x = rng.uniform(0.01, 1.0, n)
        else:
            x = SCALES.get(name, 1.0) * 10.0 ** rng.uniform(-2, 2, n)
        values[name] = float(x[0]) if name in scalars else x
    return values


def assert_same_as_python(name, values):
    python, formula = MODELS[name]({**values}), BUILTIN[name](values)
    extra = EXTRA_OUTPUTS.get(name, set())
    assert set(formula) - extra == set(python) - set(values), "outputs differ"
    for key, value in formula.items():
        if key in python:
            np.testing.assert_allclose(value, python[key], rtol=1e-12, atol=0, err_msg=key)
    if "usd_per_flop" in formula:
        np.testing.assert_allclose(formula["usd_per_flop"], values["usd_per_pflops_day"] / 8.64e19,
                                   rtol=1e-15)


# --------------------------------------------------------------------------- built-ins vs Python


def test_the_five_paths_ship_as_model_files():
    assert tuple(BUILTIN) == BUILTIN_MODELS
    assert BUILTIN_MODELS[:len(MODELS)] == tuple(MODELS)  # and new paths (roofline) after them


@pytest.mark.parametrize("name", MODELS)
def test_builtin_interface_matches_the_python_model(name):
    python, formula = MODELS[name], BUILTIN[name]
    new = NEW_INPUTS.get(name, set())
    assert formula.name == name
    assert set(formula.inputs) == set(python.inputs) | new
    assert set(formula.outputs) == set(python.outputs) | EXTRA_OUTPUTS.get(name, set()) | NEW_OUTPUTS.get(name, set())
    assert formula.outputs[0] == python.outputs[0] == formula.main
    assert {k: v for k, v in formula.defaults.items() if k not in new} == python.defaults


@pytest.mark.parametrize(("name", "given_names"),
                         [(m, s) for m, sets in ACCEPTED.items() for s in sets],
                         ids=[f"{m}-{'+'.join(sorted(s)) or 'none'}" for m, sets in ACCEPTED.items()
                              for s in sets])
def test_every_accepted_input_set_gives_the_python_results(name, given_names):
    formula = BUILTIN[name]
    try:
        formula.check_inputs(set(given_names))
    except ModelInputError as error:  # the one deliberate difference: an input nothing uses
        assert "is given but not used" in str(error)
        return
    rng = np.random.default_rng(zlib.crc32(" ".join(sorted(given_names)).encode()))
    assert_same_as_python(name, random_inputs(given_names, rng))


@settings(max_examples=150)
@given(data=st.data(), seed=seeds)
def test_random_inputs_and_sets_give_the_python_results(data, seed):
    name = data.draw(st.sampled_from(list(MODELS)))
    sets = [s for s in ACCEPTED[name] if "is given but not used" not in _refusal(name, s)]
    given_names = data.draw(st.sampled_from(sets))
    scalars = data.draw(st.sets(st.sampled_from(sorted(given_names)))) if given_names else set()
    assert_same_as_python(name, random_inputs(given_names, np.random.default_rng(seed), n=17,
                                              scalars=scalars))


def _refusal(name, given_names):
    try:
        BUILTIN[name].check_inputs(set(given_names))
    except ModelInputError as error:
        return str(error)
    return ""


@pytest.mark.parametrize("name", MODELS)
def test_check_inputs_agrees_with_the_python_model(name):
    python = MODELS[name]
    for size in range(len(python.inputs) + 1):
        for subset in map(set, itertools.combinations(python.inputs, size)):
            python_ok, formula_refusal = frozenset(subset) in ACCEPTED[name], _refusal(name, subset)
            if not formula_refusal:
                assert python_ok, subset
            elif python_ok:
                assert "is given but not used" in formula_refusal, subset


def test_the_deliberate_refusal_names_the_shadowing_input():
    given_names = {"cluster_flop_per_s", "gpu_peak_flop_per_s", "train_utilization",
                   "inference_utilization", "train_days", "chinchilla_ratio", "required_tokens_per_s"}
    MODELS["compute"].check_inputs(given_names)  # the Python path ignores gpu_peak_flop_per_s
    with pytest.raises(ModelInputError) as caught:
        BUILTIN["compute"].check_inputs(given_names)
    assert str(caught.value) == ("gpu_peak_flop_per_s: is given but not used: cluster_flop_per_s is given "
                                 "instead of its formula (give one of them)")


@pytest.mark.parametrize("name", MODELS)
def test_model_file_units_are_the_quantities_units_except_the_listed_changes(name):
    for quantity, spec in BUILTIN[name].quantities.items():
        if quantity in NEW_INPUTS.get(name, set()) | {"human_equivalents"}:
            continue
        old, new = CHANGED_UNITS.get(quantity, (QUANTITIES[quantity].unit,) * 2)
        assert QUANTITIES[quantity].unit == old
        assert spec.unit == new, quantity
        assert spec.long_name == QUANTITIES[quantity].long_name, quantity
        assert spec.domain[1] == QUANTITIES[quantity].high, quantity


@pytest.mark.parametrize("name", BUILTIN_MODELS)
def test_builtin_files_load_without_warnings_and_explain_themselves(name):
    from importlib import resources

    text = (resources.files("overhang_sim") / "data" / "models" / f"{name}.toml").read_text("utf-8")
    assert text.startswith(f"# {name}: ")
    assert "Source" in text[:400]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        FormulaModel.from_text(text, file=name)


def test_reference_numbers():
    throughput = BUILTIN["throughput"]({"cluster_gpus": 24_000, "tokens_per_gpu_s": 2000,
                                        "required_tokens_per_s": 40, "fast_stream_tokens_per_s": 300})
    assert throughput["instances"] == pytest.approx(1.2e6, rel=1e-15)
    assert throughput["serial_speedup"] == pytest.approx(7.5)
    seed001 = BUILTIN["compute"]({"cluster_flop_per_s": 1e21, "train_days": 365.25, "chinchilla_ratio": 20,
                                  "train_utilization": 1.0, "inference_utilization": 1.0,
                                  "required_tokens_per_s": 50})
    assert seed001["cluster_tokens_per_s"] == pytest.approx(3.08e7, rel=2e-3)
    assert seed001["instances"] == pytest.approx(6.2e5, rel=1e-2)
    price = BUILTIN["hardware_price"]
    assert price({"unit_price_usd": 1e4, "unit_flop_per_s": 30e12, "amortization_days": 365})[
        "usd_per_pflops_day"] == pytest.approx(913, abs=0.5)
    assert price({"unit_price_usd": 1e3, "unit_flop_per_s": 125e12, "amortization_days": 365})[
        "usd_per_pflops_day"] == pytest.approx(21.9, abs=0.05)
    data = BUILTIN["data_volume"]({"human_seconds": 6e8, "human_bits_per_s": 1e7, "train_tokens_total": 1.5e13,
                                   "bits_per_token": 16})
    assert (data["human_training_bits"], data["model_training_bits"]) == (6e15, 2.4e14)


@settings(max_examples=50)
@given(seed=seeds)
def test_compute_identity(seed):
    v = random_inputs(["cluster_gpus", "gpu_peak_flop_per_s", *UNIT_INTERVAL, "train_days",
                       "chinchilla_ratio", "horizon_length", "required_tokens_per_s"], np.random.default_rng(seed))
    out = BUILTIN["compute"](v)
    expected = 3 * v["inference_utilization"] / v["train_utilization"] * out["train_tokens"] / out["train_seconds"]
    np.testing.assert_allclose(out["cluster_tokens_per_s"], expected, rtol=1e-12)


# --------------------------------------------------------------------------- the tokens example


def test_tokens_example_converts_token_per_day_to_token_per_s():
    model = tokens_model()
    assert (model.name, model.main) == ("tokens", "instances")
    assert model.inputs == ("train_tokens", "train_days", "required_tokens_per_s", "k_ratio")
    assert model.outputs == ("instances", "cluster_tokens_per_s")
    assert model.defaults == {"k_ratio": 3.0}
    assert model.divisors == {"train_days", "required_tokens_per_s"}
    assert str(model.formula_units["cluster_tokens_per_s"]) == "token/day"
    assert model.formula_units["cluster_tokens_per_s"].factor_to(parse_unit("token/s")) == 1 / 86_400
    days = np.array([50.0, 100.0, 200.0])
    out = model({"train_tokens": 1.5e13, "train_days": days, "required_tokens_per_s": 30.0})
    np.testing.assert_allclose(out["cluster_tokens_per_s"], 3 * 1.5e13 / days / 86_400, rtol=1e-15)
    np.testing.assert_allclose(out["instances"], 3 * 1.5e13 / days / 86_400 / 30, rtol=1e-15)
    assert list(out) == ["instances", "cluster_tokens_per_s"]


def test_tokens_example_check_inputs():
    model = tokens_model()
    model.check_inputs({"train_tokens", "train_days", "required_tokens_per_s"})
    with pytest.raises(ModelInputError) as caught:
        model.check_inputs({"train_days"})
    assert str(caught.value) == ("train_tokens: the tokens model needs a prior for it; also missing: "
                                 "required_tokens_per_s")
    with pytest.raises(ModelInputError, match="train_tokns: is not an input of the tokens model "
                                              r"\(did you mean 'train_tokens'\?\)"):
        model.check_inputs({"train_tokns"})
    with pytest.raises(ModelInputError, match="instances: is computed by the tokens model's formula"):
        model.check_inputs({"train_tokens", "train_days", "required_tokens_per_s", "instances"})


def test_tokens_example_describe():
    text = tokens_model().describe()
    assert text.startswith("tokens: copies from training tokens per second")
    assert "main output: instances (instance)" in text
    for line in ("train_tokens           token    needs a prior  training tokens",
                 "k_ratio                1        default 3",
                 "= k_ratio * train_tokens / train_days  [token/day x 1.15741e-05]"):
        assert line in text


def test_describe_of_compute_says_what_needs_a_prior():
    text = BUILTIN["compute"].describe()
    assert "needs a prior unless cluster_flop_per_s is given" in text
    assert "optional: gives serial_speedup" in text
    assert "= cluster_gpus * gpu_peak_flop_per_s (or give it a prior)" in text
    assert "FLOP/parameter/token" in text


# --------------------------------------------------------------------------- semantics


def test_outputs_whose_inputs_are_missing_are_left_out():
    base = {"cluster_gpus": 24_000.0, "tokens_per_gpu_s": 2000.0, "required_tokens_per_s": 40.0}
    assert set(BUILTIN["throughput"](base)) == {"instances", "cluster_tokens_per_s"}
    out = BUILTIN["throughput"]({**base, "tokens_per_task": 2.6e6})
    assert out["tasks_per_day"] == pytest.approx(4.8e7 * 86_400 / 2.6e6, rel=1e-15)


def test_a_given_overridable_output_replaces_its_formula_and_is_not_returned():
    v = {"cluster_flop_per_s": 1e21, "cluster_gpus": 1e5, "train_days": 100.0, "chinchilla_ratio": 20.0,
         "train_utilization": 0.5, "inference_utilization": 0.5, "required_tokens_per_s": 30.0}
    out = BUILTIN["compute"](v)
    assert "cluster_flop_per_s" not in out and "cluster_gpus" not in out
    assert out["train_flop"] == pytest.approx(1e21 * 0.5 * 100 * 86_400, rel=1e-15)
    assert out["tokens_per_gpu_s"] == pytest.approx(out["cluster_tokens_per_s"] / 1e5, rel=1e-15)


def test_missing_inputs_under_an_overridable_output_name_the_alternative():
    with pytest.raises(ModelInputError) as caught:
        BUILTIN["compute"].check_inputs({"train_utilization", "inference_utilization", "train_days",
                                         "chinchilla_ratio", "required_tokens_per_s"})
    assert str(caught.value).startswith("cluster_gpus: the compute model needs a prior for it "
                                        "(or for cluster_flop_per_s)")


def test_calling_without_a_needed_input_is_a_model_input_error():
    with pytest.raises(ModelInputError, match=r"human_tokens_per_s: the throughput model needs a prior for it "
                                              r"\(or for required_tokens_per_s\)"):
        BUILTIN["throughput"]({"cluster_gpus": 1.0, "tokens_per_gpu_s": 1.0})


def test_calling_ignores_names_the_model_does_not_know():
    out = BUILTIN["throughput"]({"cluster_gpus": 2.0, "tokens_per_gpu_s": 3.0, "required_tokens_per_s": 1.0,
                                 "instances": 99.0, "whatever": 1.0})
    assert out["instances"] == 6.0


def test_an_input_an_output_also_needs_is_reported():
    model = FormulaModel.from_formulas("pair", units={"a": "1", "b": "1", "c": "1", "x": "1", "z": "1"},
                                       formulas={"x": "a * 2", "z": "b * c"}, main="x")
    model.check_inputs({"a"})
    model.check_inputs({"a", "b", "c"})
    with pytest.raises(ModelInputError, match="b: is given but not used: z also needs c"):
        model.check_inputs({"a", "b"})


def test_defaults_can_be_overridden_and_ints_become_floats():
    model = tokens_model()
    out = model({"train_tokens": 86_400, "train_days": 1, "required_tokens_per_s": 1, "k_ratio": 2})
    assert out["instances"] == 2.0 and isinstance(out["instances"], float)


def test_warnings_for_divisors_that_may_be_zero_and_unused_inputs():
    with pytest.warns(ModelWarning, match="quantities.b: a formula divides by it and its domain"):
        FormulaModel.from_table({"name": "m", "main": "x", "quantities": {
            "a": {"unit": "1"}, "b": {"unit": "1", "low": 0}, "x": {"unit": "1", "formula": "a / b"}}})
    with pytest.warns(ModelWarning, match="quantities.c: no formula uses it"):
        FormulaModel.from_formulas("m", units={"a": "1", "c": "1", "x": "1"}, formulas={"x": "a"}, main="x")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        FormulaModel.from_formulas("m", units={"a": "1", "b": "1", "x": "1"}, formulas={"x": "a / b"}, main="x")


def test_divisors_follow_the_quantities_a_formula_divides_by():
    assert BUILTIN["compute"].divisors == {
        "chinchilla_ratio", "cluster_flop_per_s", "cluster_gpus", "gpu_peak_flop_per_s", "horizon_length",
        "infer_flop_per_param_token", "required_tokens_per_s", "tokens_per_task", "train_days",
        "train_flop_per_param_token", "train_utilization",
        # issue 10: the serving fleet, the mixture of experts, the data cap and the human speed
        "active_param_fraction", "data_stock_tokens", "deploy_param_fraction", "fleet_multiplier",
        "human_tokens_per_s", "serving_share",
        "speed_multiple", "tokens_per_human_token"}
    assert BUILTIN["hardware_price"].divisors == {"amortization_days", "unit_flop_per_s"}


def test_a_thirty_quantity_model_has_no_per_draw_python():
    units = {f"x{i}": "1" for i in range(5)} | {f"q{i}": "1" for i in range(5, 30)}
    formulas = {f"q{i}": f"sqrt({_q(i - 1)} * {_q(i - 2)}) + {_q(i - 3)} / (1 + {_q(i - 5)})"
                for i in range(5, 30)}
    model = FormulaModel.from_formulas("chain", units=units, formulas=formulas, main="q29")
    calls = [_python_calls(model, {f"x{i}": np.full(n, 1.0 + i) for i in range(5)}) for n in (10, 100_000)]
    assert calls[0] == calls[1]


def _q(i):
    return f"x{i}" if i < 5 else f"q{i}"


def _python_calls(model, values):
    count = 0

    def profile(frame, event, arg):
        nonlocal count
        count += event == "call"

    sys.setprofile(profile)
    try:
        model(values)
    finally:
        sys.setprofile(None)
    return count


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(("old", "new", "message"), [
    ('formula = "cluster_tokens_per_s / required_tokens_per_s"', 'formula = "cluster_token_per_s / 2"',
     ("tokens.toml: quantities.instances.formula: unknown name 'cluster_token_per_s' "
      "(did you mean 'cluster_tokens_per_s'?)")),
    ('formula = "cluster_tokens_per_s / required_tokens_per_s"', 'formula = "cluster_tokens_per_s"',
     "tokens.toml: quantities.instances.formula: formula gives token/s, declared instance"),
    ('main = "instances"', 'main = "instance"',
     "tokens.toml: main: 'instance' is not a quantity of the model (did you mean 'instances'?)"),
    ('main = "instances"', 'main = "train_tokens"',
     "tokens.toml: main: 'train_tokens' is an input; the main output needs a formula"),
    ("default = 3", "defualt = 3", "tokens.toml: quantities.k_ratio.defualt: unknown key (did you mean 'default'?)"),
    ('unit = "token"\n', 'unit = "tokn"\n',
     "tokens.toml: quantities.train_tokens.unit: unknown unit 'tokn' in 'tokn' (did you mean 'token'?)"),
    ('unit = "token"\n', 'note = "x"\n',
     "tokens.toml: quantities.train_tokens.unit: is missing; every quantity states its unit (1 for a plain number)"),
    ("default = 3", "default = -3", "tokens.toml: quantities.k_ratio.default: -3 is outside the domain (0, inf]"),
    ("default = 3", 'default = "3"', "tokens.toml: quantities.k_ratio.default: must be a number, not '3'"),
    ("default = 3", "default = 3\nformula = \"train_days\"",
     "tokens.toml: quantities.k_ratio.default: a quantity with a formula has no default (it would hide the formula)"),
    ("default = 3", "overridable = true",
     "tokens.toml: quantities.k_ratio.overridable: only a quantity with a formula can be overridable"),
    ("low = 0 ", "low = 5\nhigh = 1 ", "tokens.toml: quantities.train_days.high: the domain [5, 1] is empty"),
    ('name = "tokens"', 'nme = "tokens"', "tokens.toml: nme: unknown key (did you mean 'name'?)"),
    ('name = "tokens"', 'name = ""', "tokens.toml: name: must be a non-empty string"),
    ("[quantities.k_ratio]", "[quantities.lambda]", "tokens.toml: quantities.lambda: 'lambda' is not a valid"),
    ("[quantities.k_ratio]", "[quantities.sqrt]", "tokens.toml: quantities.sqrt: 'sqrt' is the name of a formula"),
    ('main = "instances"', 'main = "instances"\nmain = "x"', "tokens.toml: invalid TOML"),
])
def test_errors_name_the_file_the_key_and_the_problem(old, new, message):
    assert old in TOKENS
    with pytest.raises(OverhangError) as caught, warnings.catch_warnings():
        warnings.simplefilter("ignore", ModelWarning)
        FormulaModel.from_text(TOKENS.replace(old, new, 1), file="tokens.toml")
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize(("formulas", "cycle"), [
    ({"a": "b * 2", "b": "a / 2"}, "a -> b -> a"),
    ({"a": "a + 1"}, "a -> a"),
    ({"a": "b", "b": "c + x", "c": "sqrt(a)"}, "a -> b -> c -> a"),
])
def test_cycles_are_named(formulas, cycle):
    units = {n: "1" for n in ("x", *formulas)}
    with pytest.raises(FormulaError) as caught:
        FormulaModel.from_formulas("loop", units=units, formulas=formulas, main="a")
    assert str(caught.value) == f"quantities.a.formula: the formulas form a cycle: {cycle}"


def test_unit_mismatch_inside_a_formula_names_both_units():
    with pytest.raises(UnitError) as caught:
        FormulaModel.from_formulas("m", units={"t": "day", "n": "token", "x": "day"},
                                   formulas={"x": "t + n"}, main="x")
    assert str(caught.value) == "quantities.x.formula: cannot add day and token: t + n"


def test_from_file_names_the_file(tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text(TOKENS.replace('formula = "cluster_tokens_per_s / required_tokens_per_s"',
                                   'formula = "cluster_tokens_per_s.real"'))
    with pytest.raises(FormulaError) as caught, warnings.catch_warnings():
        warnings.simplefilter("ignore", ModelWarning)
        FormulaModel.from_file(path)
    assert str(caught.value).startswith(f"{path}: quantities.instances.formula: 'cluster_tokens_per_s.real' "
                                        "uses attribute access")
    with pytest.raises(ConfigError, match="missing.toml: no such file"):
        FormulaModel.from_file(tmp_path / "missing.toml")


def test_from_file_reads_the_example(tmp_path):
    path = tmp_path / "tokens.toml"
    path.write_text(TOKENS)
    with pytest.warns(ModelWarning, match=str(path)):
        model = FormulaModel.from_file(path)
    assert model == tokens_model() and model.file == str(path)


@pytest.mark.parametrize("text", ["__import__('os').system('true')", "a.__class__", "a[0]", "lambda: a",
                                  "[x for x in a]", "'s'", "open('f')", "sqrt(x=a)", "a if b else c",
                                  "a and b", "(x := 1)", "a // b", "f'{a}'", "getattr(a, 'b')", "()",
                                  "{a: 1}", "a @ b", "~a", "a is b", "None", "1j", "await a", "eval('1')",
                                  "exec('1')", "sqrt(*a)", "a = 1"])
def test_hostile_formulas_in_a_model_name_the_key(text):
    with pytest.raises(FormulaError) as caught:
        FormulaModel.from_formulas("evil", units={"a": "1", "b": "1", "c": "1", "x": "1"},
                                   formulas={"x": text}, main="x")
    assert str(caught.value).startswith("quantities.x.formula: ")
    assert "\n" not in str(caught.value)


def test_from_formulas_needs_every_unit():
    with pytest.raises(ConfigError, match="quantities.y.unit: is missing"):
        FormulaModel.from_formulas("m", units={"a": "1"}, formulas={"y": "a"}, main="y")


def test_main_cannot_be_overridable():
    with pytest.raises(ConfigError, match="main: the main output 'x' cannot be overridable"):
        FormulaModel.from_formulas("m", units={"a": "1", "x": "1"}, formulas={"x": "a"}, main="x",
                                   overridable=("x",))


# --------------------------------------------------------------------------- Python functions as models


def _doubling(v):
    return {"speedup": v["a"] * v["b"], "half": v["a"] / 2}


def function_model(**kwargs):
    return FunctionModel.from_function("doubling", _doubling, inputs={"a": "token/s", "b": "1"},
                                       outputs={"speedup": "token/s", "half": "token/s"},
                                       **{"defaults": {"b": 2.0}, **kwargs})


def test_a_python_function_is_a_model():
    model = function_model(description="a test")
    assert (model.name, model.main, model.inputs, model.outputs) == ("doubling", "speedup", ("a", "b"),
                                                                     ("speedup", "half"))
    assert model.defaults == {"b": 2.0}
    out = model({"a": np.array([1.0, 3.0])})
    np.testing.assert_array_equal(out["speedup"], [2.0, 6.0])
    assert list(out) == ["speedup", "half"]
    assert "computed by the Python function _doubling" in model.describe()
    assert function_model(main="half").outputs == ("half", "speedup")


def test_a_python_model_checks_its_inputs():
    model = function_model(defaults={})
    with pytest.raises(ModelInputError, match="b: the doubling model needs a prior for it"):
        model.check_inputs({"a"})
    with pytest.raises(ModelInputError, match="c: is not an input of the doubling model"):
        model.check_inputs({"a", "b", "c"})
    function_model(defaults={}, optional=("b",)).check_inputs({"a"})


@pytest.mark.parametrize(("function", "message"), [
    (lambda v: {"other": 1.0}, "returned 'other', which is not a declared output"),
    (lambda v: {"half": 1.0}, "did not return its main output 'speedup'"),
    (lambda v: [1.0], "returned list, not a dict of outputs"),
])
def test_a_python_model_that_returns_the_wrong_thing(function, message):
    model = FunctionModel.from_function("bad", function, inputs={"a": "1"},
                                        outputs={"speedup": "1", "half": "1"})
    with pytest.raises(ModelOutputError, match=message):
        model({"a": 1.0})


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"inputs": {"a": "tokn"}}, "unknown unit 'tokn'"),
    ({"outputs": {}}, "must name at least one output"),
    ({"main": "nope"}, "'nope' is not an output"),
    ({"defaults": {"z": 1.0}}, "'z' is not an input"),
    ({"inputs": {"a": "1", "speedup": "1"}}, "'speedup' is both an input and an output"),
    ({"optional": ("speedup",)}, "'speedup' is an output, not an input"),
])
def test_python_model_declarations_are_checked(kwargs, message):
    arguments = {"inputs": {"a": "1"}, "outputs": {"speedup": "1"}, **kwargs}
    with pytest.raises(OverhangError, match=message):
        FunctionModel.from_function("bad", _doubling, **arguments)


# --------------------------------------------------------------------------- one interface for all models


def all_models():
    yield from (pytest.param(m, id=f"python-{n}") for n, m in MODELS.items())
    # the roofline (not a Python path) has checks across inputs: tests/test_roofline.py covers its contract
    yield from (pytest.param(m, id=f"file-{n}") for n, m in BUILTIN.items() if n in MODELS)
    yield pytest.param(function_model(), id="function")


class TestModelContract:
    """What the simulator relies on, for the Python paths, the model files and Python functions."""

    @pytest.fixture(params=list(all_models()))
    def model(self, request):
        return request.param

    def test_names(self, model):
        assert isinstance(model.name, str) and model.name
        assert len(set(model.inputs)) == len(model.inputs) and model.outputs
        assert set(model.defaults) <= set(model.inputs)
        assert not set(model.inputs) & set(model.outputs) - {"cluster_flop_per_s", "usd_per_flop",
                                                             "required_tokens_per_s", "tokens_per_gpu_s"}

    def test_unknown_input_is_named(self, model):
        with pytest.raises(ModelInputError) as caught:
            model.check_inputs({"no_such_input"})
        assert caught.value.key == "no_such_input"

    def test_smallest_accepted_set_runs(self, model):
        given_names = _smallest_accepted(model)
        out = model(random_inputs(given_names, np.random.default_rng(1), n=5))
        assert model.outputs[0] in out and set(out) <= set(model.outputs)
        assert all(np.all(np.isfinite(v)) and np.all(np.asarray(v) > 0) for v in out.values())


def _smallest_accepted(model):
    needed = [n for n in model.inputs if n not in model.defaults]
    for size in range(len(needed) + 1):
        for subset in itertools.combinations(needed, size):
            try:
                model.check_inputs(set(subset))
            except ModelInputError:
                continue
            return set(subset)
    raise AssertionError("no input set is accepted")


def test_infinite_domains_print():
    assert BUILTIN["compute"].quantities["train_days"].domain == (0.0, math.inf)
    assert BUILTIN["compute"].quantities["inference_utilization"].domain_text == "[0, 1]"
    assert BUILTIN["compute"].quantities["train_utilization"].domain_text == "(0, 1]"


@pytest.mark.parametrize("model", [*(BUILTIN[n] for n in MODELS), function_model()], ids=[*MODELS, "function"])
def test_models_pickle_for_worker_processes(model):
    copy = pickle.loads(pickle.dumps(model))
    assert copy == model and copy.inputs == model.inputs and copy.outputs == model.outputs
    given_names = _smallest_accepted(model)
    values = random_inputs(given_names, np.random.default_rng(3), n=4)
    for key, value in model(values).items():
        np.testing.assert_array_equal(copy(values)[key], value)


def test_quantities_cannot_be_changed_after_the_checks():
    with pytest.raises(TypeError):
        BUILTIN["compute"].quantities["instances"] = None
