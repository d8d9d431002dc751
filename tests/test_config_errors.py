"""Bad input: every mistake a user can make in a file or on the command line ends in exit
status 2 and one line ``overhang: error: FILE: KEY: problem`` on stderr, with no traceback
and no output file. Plus the library-level contract of the errors themselves."""

from __future__ import annotations

import dataclasses
import math
import re
from pathlib import Path

import pytest
from strategies import THROUGHPUT_PRIORS, experiment_toml, fixed, lognormal, normal, prior_table, uniform

from overhang_sim import (
    ConfigError,
    DomainError,
    ModelInputError,
    OverhangError,
    PriorError,
    StorageError,
    load_experiment,
    load_priors,
)

COMPUTE_FIXED = {
    "cluster_gpus": fixed(2e4), "gpu_peak_flop_per_s": fixed(1e15), "train_utilization": fixed(0.4),
    "inference_utilization": fixed(0.3), "train_days": fixed(90.0), "chinchilla_ratio": fixed(20.0),
    "required_tokens_per_s": fixed(40.0),
}


def _with(name, entry, base=THROUGHPUT_PRIORS):
    return {**base, name: entry}


def _without(name, base=THROUGHPUT_PRIORS):
    return {k: v for k, v in base.items() if k != name}


# Each case: id -> (experiment text, extra CLI args, key named or None, words the message must hold).
# A text of None means "the experiment file does not exist".
CASES = {
    "unknown family": (experiment_toml(_with("cluster_gpus", {"dist": "lognormall", "p05": 1e4, "p95": 1e5})),
                       [], "cluster_gpus.dist", "did you mean 'lognormal'"),
    "unknown prior key": (experiment_toml(_with("cluster_gpus", lognormal(1e4, 1e5, sorce="x"))),
                          [], "cluster_gpus.sorce", "did you mean 'source'"),
    "unknown experiment key": (experiment_toml(THROUGHPUT_PRIORS, extra={"sample": 100}),
                               [], "sample", "did you mean 'samples'"),
    "unknown input name": (experiment_toml(_with("cluster_gpu", fixed(1e4, unit="GPU"))), [], "cluster_gpu",
                           "did you mean 'cluster_gpus'"),
    "unknown model": (experiment_toml(THROUGHPUT_PRIORS, model="througput"), [], "model",
                      "did you mean 'throughput'"),
    "p05 equals p95": (experiment_toml(_with("cluster_gpus", lognormal(1e4, 1e4))), [], "cluster_gpus.p05",
                       "less than p95"),
    "p05 above p95": (experiment_toml(_with("cluster_gpus", lognormal(1e5, 1e4))), [], "cluster_gpus.p05",
                      "less than p95"),
    "lognormal p05 zero": (experiment_toml(_with("cluster_gpus", lognormal(0, 1e4))), [], "cluster_gpus.p05",
                           "> 0"),
    "lognormal p05 negative": (experiment_toml(_with("tokens_per_gpu_s", lognormal(-5.0, 1e4))), [],
                               "tokens_per_gpu_s.p05", "> 0"),
    "loguniform low negative": (experiment_toml(_with("cluster_gpus", {"dist": "loguniform", "low": -1.0,
                                                                       "high": 1e5})),
                                [], "cluster_gpus.low", "> 0"),
    "loguniform low zero": (experiment_toml(_with("cluster_gpus", {"dist": "loguniform", "low": 0.0,
                                                                   "high": 1e5})),
                            [], "cluster_gpus.low", "> 0"),
    "summary quantile above 1": (experiment_toml(THROUGHPUT_PRIORS, summary={"quantiles": [0.5, 1.5]}), [],
                                 "summary.quantiles[1]", "probability"),
    "summary quantile negative": (experiment_toml(THROUGHPUT_PRIORS, summary={"quantiles": [-0.1]}), [],
                                  "summary.quantiles[0]", "probability"),
    "summary interval of 1": (experiment_toml(THROUGHPUT_PRIORS, summary={"intervals": [1.0]}), [],
                              "summary.intervals[0]", "probability"),
    "nan parameter": (experiment_toml(_with("cluster_gpus", lognormal(math.nan, 1e5))), [], "cluster_gpus.p05",
                      "finite"),
    "inf parameter": (experiment_toml(_with("cluster_gpus", lognormal(1e4, math.inf))), [], "cluster_gpus.p95",
                      "finite"),
    "inf fixed value": (experiment_toml(_with("required_tokens_per_s", fixed(math.inf))), [],
                        "required_tokens_per_s.value", "finite"),
    "nan samples": (experiment_toml(THROUGHPUT_PRIORS, samples=math.nan), [], "samples", "whole number"),
    "nan quantile": (experiment_toml(THROUGHPUT_PRIORS, summary={"quantiles": [math.nan]}), [],
                     "summary.quantiles[0]", "probability"),
    "inf threshold": (experiment_toml(THROUGHPUT_PRIORS, summary={"thresholds": [math.inf]}), [],
                      "summary.thresholds[0]", "positive number"),
    "nan rank": (experiment_toml(THROUGHPUT_PRIORS, correlations=[{"inputs": ["cluster_gpus", "tokens_per_gpu_s"],
                                                                   "rank": math.nan}]),
                 [], "correlations[0].rank", "(-1, 1)"),
    "string for a number": (experiment_toml(_with("cluster_gpus", lognormal("1e4", 1e5))), [], "cluster_gpus.p05",
                            "number"),
    "string for samples": (experiment_toml(THROUGHPUT_PRIORS, samples="many"), [], "samples", "whole number"),
    "fraction for chains": (experiment_toml(THROUGHPUT_PRIORS, chains=2.5), [], "chains", "whole number"),
    "string for lower": (experiment_toml(_with("cluster_gpus", normal(1e4, 1e3, lower="0"))), [],
                         "cluster_gpus.lower", "number"),
    "number for unit": (experiment_toml(_with("cluster_gpus", lognormal(1e4, 1e5, unit=1))), [],
                        "cluster_gpus.unit", "unit"),
    "zero samples": (experiment_toml(THROUGHPUT_PRIORS, samples=0), [], "samples", "positive"),
    "negative samples": (experiment_toml(THROUGHPUT_PRIORS, samples=-10), [], "samples", "positive"),
    "zero samples on the command line": (experiment_toml(THROUGHPUT_PRIORS), ["--samples", "0"], "--samples",
                                         "positive"),
    "negative samples on the command line": (experiment_toml(THROUGHPUT_PRIORS), ["--samples=-5"], "--samples",
                                             "positive"),
    "fewer samples than chains": (experiment_toml(THROUGHPUT_PRIORS, samples=3, chains=4), [], "samples",
                                  "at least chains"),
    "input with no prior": (experiment_toml(_without("tokens_per_gpu_s")), [], "tokens_per_gpu_s_max",
                            "needs a prior"),
    "compute input with no prior": (experiment_toml(_without("train_days", COMPUTE_FIXED), model="compute"), [],
                                    "train_days", "needs a prior"),
    "both compute alternatives": (experiment_toml(_with("cluster_flop_per_s", fixed(1e19), COMPUTE_FIXED),
                                                  model="compute"), [], "gpu_peak_flop_per_s",
                                  "cluster_flop_per_s is given instead of its formula"),
    "override for another model's input": (experiment_toml(_with("train_days", fixed(90.0))), [],
                                           "overrides.train_days", "not an input of the throughput model"),
    "normal cluster_gpus without truncation": (experiment_toml(_with("cluster_gpus", normal(2e4, 5e3))), [],
                                               "cluster_gpus", "physical domain"),
    "utilization above 1": (experiment_toml(_with("train_utilization", uniform(0.5, 1.5), COMPUTE_FIXED),
                                            model="compute"), [], "train_utilization", "physical domain"),
    "wrong unit": (experiment_toml(_with("cluster_gpus", lognormal(1e4, 1e5, unit="GPUs"))), [],
                   "cluster_gpus.unit", "'GPU'"),
    "missing unit": (experiment_toml(THROUGHPUT_PRIORS).replace('unit = "GPU"\n', ""), [], "cluster_gpus.unit",
                     "missing"),
    "correlation not positive definite": (
        experiment_toml(THROUGHPUT_PRIORS, correlations=[
            {"inputs": ["cluster_gpus", "tokens_per_gpu_s"], "rank": 0.9},
            {"inputs": ["cluster_gpus", "required_tokens_per_s"], "rank": 0.9},
            {"inputs": ["tokens_per_gpu_s", "required_tokens_per_s"], "rank": -0.9}]),
        [], "correlations", "positive definite"),
    "correlation with a fixed input": (
        experiment_toml(_with("required_tokens_per_s", fixed(40.0)),
                        correlations=[{"inputs": ["cluster_gpus", "required_tokens_per_s"], "rank": 0.5}]),
        [], "correlations[0].inputs", "fixed"),
    "unknown summary output": (experiment_toml(THROUGHPUT_PRIORS, summary={"outputs": ["params"]}), [],
                               "summary.outputs", "not an output"),
    "unknown method": (experiment_toml(THROUGHPUT_PRIORS, method="sobel"), [], "method", "did you mean 'sobol'"),
    "negative seed in the file": (experiment_toml(THROUGHPUT_PRIORS, seed=-1), [], "seed", "whole number"),
    "empty name": (experiment_toml(THROUGHPUT_PRIORS, name=""), [], "name", "non-empty"),
    "bad TOML syntax": ("name = 'x'\nmodel = \n", [], None, "invalid TOML"),
    "duplicate TOML key": ("name = 'x'\nname = 'y'\n", [], None, "invalid TOML"),
    "missing file": (None, [], None, "no such file"),
    "pert mode outside": (experiment_toml(_with("cluster_gpus", {"dist": "pert", "low": 1e4, "mode": 2e5,
                                                                 "high": 1e5})),
                          [], "cluster_gpus.mode", "[low, high]"),
    "empirical weights mismatch": (experiment_toml(_with("cluster_gpus", {"dist": "empirical",
                                                                          "values": [1e4, 2e4],
                                                                          "weights": [1.0]})),
                                   [], "cluster_gpus.weights", "entries"),
    "mixture component error": (experiment_toml(_with("cluster_gpus", {
        "dist": "mixture", "weights": [1.0, 1.0],
        "components": [{"dist": "lognormal", "p05": 1e4, "p95": 1e5}, {"dist": "lognormal", "p05": 1e5,
                                                                          "p95": 1e4}]})),
        [], "cluster_gpus.components[1].p05", "less than p95"),
}

# Issue 10: conventions (precision, accelerator) and the new efficiencies, each one line, exit 2.
_BF16 = {**COMPUTE_FIXED, "gpu_peak_flop_per_s": fixed(1e15, precision="bf16"),
         "train_utilization": fixed(0.4, precision="bf16"), "inference_utilization": fixed(0.3, precision="bf16")}
CASES.update({
    "BF16 MFU on an FP8 peak": (experiment_toml(_with("gpu_peak_flop_per_s", fixed(2e15, precision="fp8"), _BF16),
                                                model="compute"), [], "train_utilization.precision",
                                "is bf16 but gpu_peak_flop_per_s is fp8"),
    "serving precision without a conversion": (
        experiment_toml(_with("inference_utilization", fixed(0.1, precision="fp8"), _BF16), model="compute"), [],
        "inference_utilization.precision", 'give serving_peak_ratio a prior with precision = "fp8/bf16"'),
    "a conversion between the wrong precisions": (
        experiment_toml({**_with("inference_utilization", fixed(0.1, precision="fp8"), _BF16),
                         "serving_peak_ratio": fixed(6.0, unit="1", precision="fp4/bf16")}, model="compute"), [],
        "serving_peak_ratio.precision", "the serving precision is fp4 but inference_utilization is fp8"),
    "a conversion that does not say what it converts": (
        experiment_toml({**_with("inference_utilization", fixed(0.1, precision="fp8"), _BF16),
                         "serving_peak_ratio": fixed(2.0, unit="1")}, model="compute"), [],
        "serving_peak_ratio.precision", 'precision = "fp8/bf16"'),
    "unknown precision": (experiment_toml(_with("gpu_peak_flop_per_s", fixed(1e15, precision="fp9"), COMPUTE_FIXED),
                                          model="compute"), [], "gpu_peak_flop_per_s.precision",
                          "unknown precision 'fp9'"),
    "H100-equivalents with a B200 peak": (
        experiment_toml({**COMPUTE_FIXED, "cluster_gpus": fixed(2e5, accelerator="H100e"),
                         "gpu_peak_flop_per_s": fixed(4.5e15, accelerator="B200")}, model="compute"), [],
        "gpu_peak_flop_per_s.accelerator", "is B200 but cluster_gpus is H100e"),
    "throughput per B200 for H100-equivalents": (
        experiment_toml({**THROUGHPUT_PRIORS, "cluster_gpus": fixed(2e5, accelerator="H100e"),
                         "tokens_per_gpu_s": fixed(8000.0, accelerator="B200")}), [],
        "tokens_per_gpu_s.accelerator", "is B200 but cluster_gpus is H100e"),
    "serving share above 1": (experiment_toml(_with("serving_share", fixed(1.5, unit="1"))), [], "serving_share",
                              "outside the physical domain (0, 1]"),
    "serving share of 0": (experiment_toml(_with("serving_share", fixed(0.0, unit="1"))), [], "serving_share",
                           "outside the physical domain (0, 1]"),
    "active parameters above the total": (
        experiment_toml(_with("active_param_fraction", uniform(0.02, 1.3, unit="1"), COMPUTE_FIXED),
                        model="compute"), [], "active_param_fraction", "outside the physical domain (0, 1]"),
    "distilled model larger than the trained one": (
        experiment_toml(_with("deploy_param_fraction", fixed(2.0, unit="1"), COMPUTE_FIXED), model="compute"), [],
        "deploy_param_fraction", "outside the physical domain (0, 1]"),
    "inference utilization above 1": (
        experiment_toml(_with("inference_utilization", fixed(1.2, precision="bf16"), _BF16), model="compute"), [],
        "inference_utilization", "outside the physical domain [0, 1]"),
})

COMMAND_LINE_CASES = {
    "negative --seed": (experiment_toml(THROUGHPUT_PRIORS), ["--seed=-1"], "--seed",
                       "from 0 to 2**63 - 1, not -1"),
    "absurd --samples": (experiment_toml(THROUGHPUT_PRIORS), ["--samples", "1e30"], "--samples",
                         "must be at most 1e+12"),
    "samples that do not fit with --keep-samples": (experiment_toml(THROUGHPUT_PRIORS),
                                                    ["--samples", "1e12", "--keep-samples"], "--samples",
                                                    "GB to hold in memory"),
    "fractional --chains": (experiment_toml(THROUGHPUT_PRIORS), ["--chains", "2.5"], "--chains", "whole number"),
}


def _check_one_line_error(code, out, err, file, key, words):
    assert code == 2, err
    assert out == ""
    assert "Traceback" not in err
    assert err.endswith("\n") and err.count("\n") == 1, err
    assert err.startswith("overhang: error: "), err
    if file is not None:
        assert err.startswith(f"overhang: error: {file}: "), err
    if key is not None:
        located = re.escape(file) + ": " if file is not None else ""
        assert re.match(rf"overhang: error: {located}(overrides\.)?{re.escape(key)}: ", err), err
    assert words in err, err


def _run_case(tmp_path, run_cli, text, args, **kwargs):
    experiment = tmp_path / "experiment.toml"
    if text is not None:
        experiment.write_text(text, encoding="utf-8")
    out_file = tmp_path / "run.nc"
    code, out, err = run_cli(["run", experiment, "--out", out_file, *args])
    return experiment, out_file, code, out, err


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_is_one_line_and_exit_2(tmp_path, run_cli, case):
    text, args, key, words = CASES[case]
    experiment, out_file, code, out, err = _run_case(tmp_path, run_cli, text, args)
    file = "command line" if any(a.startswith("--samples") for a in args) else str(experiment)
    _check_one_line_error(code, out, err, file, key, words)
    assert not out_file.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ([] if text is None else ["experiment.toml"])


@pytest.mark.parametrize("case", sorted(COMMAND_LINE_CASES))
def test_bad_command_line_values(tmp_path, run_cli, case):
    text, args, key, words = COMMAND_LINE_CASES[case]
    experiment, out_file, code, out, err = _run_case(tmp_path, run_cli, text, args)
    _check_one_line_error(code, out, err, "command line", key, words)
    assert not out_file.exists()


def test_bad_prior_file_is_named(tmp_path, run_cli):
    (tmp_path / "my_priors.toml").write_text(prior_table("cluster_gpus", "cluster_gpus", lognormal(1e5, 1e4)))
    text = experiment_toml(_without("cluster_gpus"), prior_files=["my_priors.toml"])
    experiment, out_file, code, out, err = _run_case(tmp_path, run_cli, text, [])
    _check_one_line_error(code, out, err, str(tmp_path / "my_priors.toml"), "cluster_gpus.p05", "less than")
    assert not out_file.exists()


def test_missing_prior_file_is_named(tmp_path, run_cli):
    text = experiment_toml(THROUGHPUT_PRIORS, prior_files=["nope.toml"])
    _, out_file, code, out, err = _run_case(tmp_path, run_cli, text, [])
    _check_one_line_error(code, out, err, str(tmp_path / "nope.toml"), None, "no such file")


def test_unwritable_out_folder(tmp_path, run_cli, unwritable_dir):
    experiment = tmp_path / "experiment.toml"
    experiment.write_text(experiment_toml(THROUGHPUT_PRIORS), encoding="utf-8")
    out_file = unwritable_dir / "run.nc"
    code, out, err = run_cli(["run", experiment, "--out", out_file])
    _check_one_line_error(code, out, err, str(out_file), None, "not writable")
    assert list(unwritable_dir.iterdir()) == []


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux's /proc, where nobody (root included) "
                    "may create a file")
@pytest.mark.parametrize("out", ["/proc/run.nc", "/proc/run.zarr"])
def test_out_in_a_folder_the_kernel_refuses_names_the_out_file(tmp_path, run_cli, out):
    """os.access lets root write anywhere; /proc still refuses files. The refusal names --out, before any work
    (it named the run's checkpoint folder OUT.partial, after the pilot)."""
    experiment = tmp_path / "experiment.toml"
    experiment.write_text(experiment_toml(THROUGHPUT_PRIORS), encoding="utf-8")
    code, out_text, err = run_cli(["run", experiment, "--out", out])
    _check_one_line_error(code, out_text, err, out, None, "cannot write in the folder '/proc'")


def test_missing_out_folder_is_created(tmp_path, run_cli):
    """``--out results/x.nc`` on a fresh clone: the folder is made, as the README's commands need."""
    experiment = tmp_path / "experiment.toml"
    experiment.write_text(experiment_toml(THROUGHPUT_PRIORS), encoding="utf-8")
    out_file = tmp_path / "nowhere" / "deeper" / "run.nc"
    code, out, err = run_cli(["run", experiment, "--out", out_file])
    assert (code, err) == (0, "") and out_file.is_file()


def test_out_folder_that_cannot_be_made(tmp_path, run_cli):
    experiment = tmp_path / "experiment.toml"
    experiment.write_text(experiment_toml(THROUGHPUT_PRIORS), encoding="utf-8")
    (tmp_path / "blocker").write_text("a file")
    out_file = tmp_path / "blocker" / "run.nc"
    code, out, err = run_cli(["run", experiment, "--out", out_file])
    _check_one_line_error(code, out, err, str(out_file), None, "cannot create the folder")


def test_bad_input_leaves_an_existing_out_file_untouched(tmp_path, run_cli):
    text, args, _, _ = CASES["p05 above p95"]
    out_file = tmp_path / "run.nc"
    out_file.write_bytes(b"previous result")
    experiment = tmp_path / "experiment.toml"
    experiment.write_text(text, encoding="utf-8")
    code, _, _ = run_cli(["run", experiment, "--out", out_file])
    assert code == 2
    assert out_file.read_bytes() == b"previous result"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["experiment.toml", "run.nc"]


@pytest.mark.parametrize("args", [["--method", "halton"], ["--samples", "1.5"], ["--chains", "two"], ["--bogus"]])
def test_usage_mistakes_are_one_line_and_exit_2(tmp_path, run_cli, args):
    experiment = tmp_path / "experiment.toml"
    experiment.write_text(experiment_toml(THROUGHPUT_PRIORS), encoding="utf-8")
    code, out, err = run_cli(["run", experiment, *args])
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("overhang: error: ") and "Traceback" not in err


# ---------------------------------------------------------------------------- accepted inputs


def test_truncated_normal_on_gpus_is_accepted(tmp_path, run_cli):
    experiment = tmp_path / "experiment.toml"
    experiment.write_text(experiment_toml(_with("cluster_gpus", normal(2e4, 5e3, lower=0.0))), encoding="utf-8")
    code, out, err = run_cli(["run", experiment, "--out", tmp_path / "run.nc"])
    assert (code, err) == (0, "")
    assert "instances" in out
    assert (tmp_path / "run.nc").exists()


def test_whole_float_samples_are_accepted(write_experiment):
    experiment = load_experiment(write_experiment(priors=THROUGHPUT_PRIORS, samples=1e3))
    assert experiment.samples == 1000 and isinstance(experiment.samples, int)


@pytest.mark.parametrize("entry", [
    {"dist": "uniform", "low": 1e4, "high": 2e4},
    {"dist": "loguniform", "low": 1e4, "high": 1e6},
    {"dist": "beta", "alpha": 2.0, "beta": 3.0, "low": 1e4, "high": 1e5},
    {"dist": "pert", "low": 1e4, "mode": 3e4, "high": 1e5, "lam": 6.0},
    {"dist": "empirical", "values": [1e4, 2e4, 5e4], "weights": [1.0, 2.0, 1.0]},
    {"dist": "mixture", "weights": [0.3, 0.7],
     "components": [{"dist": "lognormal", "p05": 1e4, "p95": 1e5}, {"dist": "uniform", "low": 1e3, "high": 1e4}]},
    {"dist": "normal", "mean": 2e4, "sd": 5e3, "lower": 1e3, "upper": 1e5},
    {"value": 24_000},
], ids=lambda e: e.get("dist", "fixed"))
def test_every_family_parses_from_toml(write_experiment, entry):
    experiment = load_experiment(write_experiment(priors=_with("cluster_gpus", entry)))
    low, high = experiment.priors["cluster_gpus"].dist.support()
    assert 0 <= low <= high


# ---------------------------------------------------------------------------- error classes


def test_error_hierarchy():
    assert issubclass(ConfigError, ValueError) and issubclass(ConfigError, OverhangError)
    assert issubclass(PriorError, ValueError) and issubclass(PriorError, OverhangError)
    assert issubclass(DomainError, ValueError) and issubclass(DomainError, OverhangError)
    assert issubclass(ModelInputError, KeyError) and issubclass(ModelInputError, OverhangError)
    assert issubclass(StorageError, OSError) and issubclass(StorageError, OverhangError)


@pytest.mark.parametrize("cls", [ConfigError, PriorError, DomainError, ModelInputError, StorageError])
def test_error_str_is_file_key_problem(cls):
    assert str(cls("is wrong", file="a.toml", key="x.p05")) == "a.toml: x.p05: is wrong"
    assert str(cls("is wrong", file="a.toml")) == "a.toml: is wrong"
    assert str(cls("is wrong")) == "is wrong"


@pytest.mark.parametrize(("case", "cls"), [
    ("p05 above p95", PriorError), ("unknown family", ConfigError), ("utilization above 1", DomainError),
    ("input with no prior", ModelInputError), ("normal cluster_gpus without truncation", DomainError),
    ("unknown experiment key", ConfigError),
])
def test_load_experiment_raises_the_specific_error(write_experiment, case, cls):
    path = write_experiment(CASES[case][0])
    with pytest.raises(cls) as info:
        load_experiment(path)
    assert info.value.file == str(path)


def test_replace_reruns_the_checks(write_experiment):
    experiment = load_experiment(write_experiment(priors=THROUGHPUT_PRIORS))
    for change in ({"samples": 0}, {"chains": 0}, {"method": "halton"}, {"seed": -1}, {"samples": 2, "chains": 4}):
        with pytest.raises(ConfigError):
            dataclasses.replace(experiment, **change)
    assert dataclasses.replace(experiment, samples=100, chains=5, method="sobol").draws == 20


def test_load_priors_names_file_and_key(tmp_path):
    path = tmp_path / "p.toml"
    path.write_text(prior_table("train_days", "train_days", {"dist": "normal", "mean": 90.0, "sd": -1.0}))
    with pytest.raises(PriorError) as info:
        load_priors(path)
    assert str(info.value) == f"{path}: train_days.sd: must be > 0, not -1.0"
