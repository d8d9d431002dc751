"""The five model paths as the package wrote them in Python before they became model files.

Kept as an independent reference: the shipped model files (``overhang_sim/data/models``)
must give the same outputs as these functions on any inputs (within 1e-12 relative),
and the shipped experiments the same results. Units here are the ones the prior files
used before the model files made them consistent (see ``UNIT_CHANGES``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from overhang_sim.errors import ModelInputError, did_you_mean

__all__ = [
    "MODELS",
    "QUANTITIES",
    "SECONDS_PER_DAY",
    "Model",
    "Quantity",
    "budget_path",
    "compute_path",
    "data_volume_path",
    "hardware_price_path",
    "throughput_path",
    "usd_per_pflops_day",
]

SECONDS_PER_DAY = 86_400.0
FLOP_PER_PFLOPS_DAY = 1e15 * SECONDS_PER_DAY


@dataclass(frozen=True)
class Quantity:
    """A named model quantity with its unit and physical domain [low, high]."""

    name: str
    unit: str
    long_name: str
    low: float = 0.0
    high: float = math.inf


def _q(name, unit, long_name, low=0.0, high=math.inf):
    return name, Quantity(name, unit, long_name, low, high)


QUANTITIES: Mapping[str, Quantity] = dict(
    [
        _q("cluster_gpus", "GPU", "accelerators in the training cluster"),
        _q("gpu_peak_flop_per_s", "FLOP/s", "dense peak throughput per accelerator"),
        _q("cluster_flop_per_s", "FLOP/s", "peak throughput of the training cluster"),
        _q("train_utilization", "1", "model FLOP utilization during training", 0.0, 1.0),
        _q("inference_utilization", "1", "FLOP utilization while serving", 0.0, 1.0),
        _q("train_days", "day", "wall-clock training time"),
        _q("chinchilla_ratio", "token/parameter", "training data points per parameter"),
        _q("horizon_length", "token/data point", "token-equivalents per data point (horizon length H)"),
        _q("train_flop_per_param_token", "FLOP", "training FLOP per parameter per token (k_t)"),
        _q("infer_flop_per_param_token", "FLOP", "inference FLOP per parameter per token (k_i)"),
        _q("tokens_per_gpu_s", "token/s/GPU", "serving throughput per accelerator"),
        _q("required_tokens_per_s", "token/s", "speed each instance must run at"),
        _q("budget_usd", "USD", "training compute budget"),
        _q("usd_per_flop", "USD/FLOP", "price of one FLOP of training compute"),
        _q("usd_per_pflops_day", "USD/(PFLOP/s-day)", "price of one PFLOP/s-day of training compute"),
        _q("fast_stream_tokens_per_s", "token/s", "single-stream speed on a latency-optimised accelerator"),
        _q("tokens_per_task", "token/task", "tokens spent on one task (e.g. one software patch)"),
        _q("human_seconds", "s", "seconds of human experience up to adulthood"),
        _q("human_bits_per_s", "bit/s", "sensory data rate of a human"),
        _q("train_tokens_total", "token", "tokens in a model's training set"),
        _q("bits_per_token", "bit/token", "information per training token"),
        _q("unit_price_usd", "USD", "price of one accelerator"),
        _q("unit_flop_per_s", "FLOP/s", "throughput of one accelerator"),
        _q("amortization_days", "day", "days over which an accelerator's price is spread"),
        # outputs
        _q("instances", "instance", "concurrent model instances at the required speed"),
        _q("cluster_tokens_per_s", "token/s", "tokens per second the cluster can serve"),
        _q("train_seconds", "s", "wall-clock training time"),
        _q("train_flop", "FLOP", "training compute"),
        _q("params", "parameter", "parameters of the compute-optimal model"),
        _q("train_tokens", "token", "training token-equivalents"),
        _q("serial_speedup", "1", "single-stream speed relative to the required speed"),
        _q("tasks_per_day", "task/day", "tasks the cluster completes per day"),
        _q("human_training_bits", "bit", "data a human absorbs up to adulthood"),
        _q("model_training_bits", "bit", "data in the model's training set"),
        _q("human_to_model_data_ratio", "1", "human data divided by model training data"),
    ]
)


@dataclass(frozen=True)
class Model:
    """A named path from inputs to outputs.

    Parameters
    ----------
    name : str
        Public name, used in experiment files (``model = "compute"``).
    function : callable
        ``function(values) -> dict`` of outputs; `values` maps input names to arrays.
    required : tuple of str
        Inputs that must have a prior (or a default).
    alternatives : tuple of tuple of tuple of str
        Each entry lists groups of inputs of which exactly one group must be given.
    optional : tuple of str
        Inputs the path uses when given (derived outputs appear only then).
    defaults : mapping
        Values used for inputs that have no prior.
    outputs : tuple of str
        Every output the path can return, the main one (:attr:`main`) first.
    divisors : tuple of str
        Inputs the path divides by: a prior that reaches 0 on one of them gives an
        output without a finite mean, and is refused.
    """

    name: str
    function: Callable[[Mapping[str, np.ndarray]], dict[str, np.ndarray]]
    required: tuple[str, ...]
    alternatives: tuple[tuple[tuple[str, ...], ...], ...] = ()
    optional: tuple[str, ...] = ()
    defaults: Mapping[str, float] = field(default_factory=dict)
    outputs: tuple[str, ...] = ()
    divisors: tuple[str, ...] = ()

    @property
    def main(self) -> str:
        """The main output: the headline, the thresholds of P(main >= t), the report's subject."""
        return self.outputs[0]

    @property
    def inputs(self) -> tuple[str, ...]:
        """Every input name the model knows."""
        grouped = [n for groups in self.alternatives for group in groups for n in group]
        return tuple(dict.fromkeys([*self.required, *grouped, *self.optional, *self.defaults]))

    def check_inputs(self, given: set[str]) -> None:
        """Raise :class:`ModelInputError` naming the first missing or unknown input."""
        for name in sorted(given):
            if name not in self.inputs:
                hint = did_you_mean(name, self.inputs)
                raise ModelInputError(f"is not an input of the {self.name} model{hint}", key=name)
        have = given | set(self.defaults)
        for name in self.required:
            if name not in have:
                raise ModelInputError(f"the {self.name} model needs a prior for it", key=name)
        for groups in self.alternatives:
            complete = [g for g in groups if set(g) <= have]
            options = " or ".join(" and ".join(g) for g in groups)
            if len(complete) != 1:
                problem = "give exactly one of" if complete else "the model needs a prior for"
                raise ModelInputError(f"{problem} {options}", key=groups[0][0])

    def __call__(self, values: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Every output the path derives from `values` (never one of the inputs it was given)."""
        given = {**self.defaults, **values}
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            out = self.function(given)
        return {name: value for name, value in out.items() if name not in given}


def throughput_path(v: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Instances from measured serving throughput (seed 000).

    ``instances = cluster_gpus * tokens_per_gpu_s / required_tokens_per_s``
    """
    cluster_tokens_per_s = v["cluster_gpus"] * v["tokens_per_gpu_s"]
    return {
        "instances": cluster_tokens_per_s / v["required_tokens_per_s"],
        "cluster_tokens_per_s": cluster_tokens_per_s,
        **_derived(v, cluster_tokens_per_s),
    }


def compute_path(v: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Instances from training compute via compute-optimal scaling (seeds 001/002).

    Uses ``cluster_flop_per_s`` if given, else ``cluster_gpus * gpu_peak_flop_per_s``.
    """
    cluster_flop_per_s = v.get("cluster_flop_per_s")
    if cluster_flop_per_s is None:
        cluster_flop_per_s = v["cluster_gpus"] * v["gpu_peak_flop_per_s"]
    train_seconds = v["train_days"] * SECONDS_PER_DAY
    train_flop = cluster_flop_per_s * v["train_utilization"] * train_seconds
    out = _from_train_flop(v, cluster_flop_per_s, train_flop, train_seconds)
    if "cluster_flop_per_s" in v:  # given, not derived: it is an input, not an output
        del out["cluster_flop_per_s"]
    return out


def budget_path(v: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Instances from a training budget and a compute price (seed 003).

    ``train_flop = budget_usd / usd_per_flop``; the cluster is as large as needed to
    spend it in ``train_days`` at ``train_utilization``.
    """
    usd_per_flop = v.get("usd_per_flop")
    if usd_per_flop is None:
        usd_per_flop = v["usd_per_pflops_day"] / FLOP_PER_PFLOPS_DAY
    train_seconds = v["train_days"] * SECONDS_PER_DAY
    train_flop = v["budget_usd"] / usd_per_flop
    cluster_flop_per_s = train_flop / (v["train_utilization"] * train_seconds)
    return _from_train_flop(v, cluster_flop_per_s, train_flop, train_seconds)


def _from_train_flop(v, cluster_flop_per_s, train_flop, train_seconds):
    tokens_per_param = v["chinchilla_ratio"] * v["horizon_length"]
    params = np.sqrt(train_flop / (v["train_flop_per_param_token"] * tokens_per_param))
    cluster_tokens_per_s = cluster_flop_per_s * v["inference_utilization"] / (
        v["infer_flop_per_param_token"] * params
    )
    out = {
        "instances": cluster_tokens_per_s / v["required_tokens_per_s"],
        "cluster_tokens_per_s": cluster_tokens_per_s,
        "cluster_flop_per_s": cluster_flop_per_s,
        "train_seconds": train_seconds,
        "train_flop": train_flop,
        "params": params,
        "train_tokens": tokens_per_param * params,
    }
    if "cluster_gpus" in v:
        out["tokens_per_gpu_s"] = cluster_tokens_per_s / v["cluster_gpus"]
    return {**out, **_derived(v, cluster_tokens_per_s)}


def _derived(v, cluster_tokens_per_s):
    out = {}
    if "fast_stream_tokens_per_s" in v:
        out["serial_speedup"] = v["fast_stream_tokens_per_s"] / v["required_tokens_per_s"]
    if "tokens_per_task" in v:
        out["tasks_per_day"] = cluster_tokens_per_s * SECONDS_PER_DAY / v["tokens_per_task"]
    return out


def data_volume_path(v: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Data a human absorbs against a model's training data (seed 000 appendix)."""
    human = v["human_seconds"] * v["human_bits_per_s"]
    model = v["train_tokens_total"] * v["bits_per_token"]
    return {
        "human_to_model_data_ratio": human / model,
        "human_training_bits": human,
        "model_training_bits": model,
    }


def hardware_price_path(v: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Price of compute from an accelerator's price, speed and life (seed 003)."""
    unit_pflops = v["unit_flop_per_s"] / 1e15
    return {"usd_per_pflops_day": usd_per_pflops_day(v["unit_price_usd"], unit_pflops,
                                                     v["amortization_days"])}


def usd_per_pflops_day(unit_price_usd, unit_pflops, amortization_days):
    """Price of a PFLOP/s-day from hardware cost (seed 003's unit).

    Parameters
    ----------
    unit_price_usd : float or ndarray
        Price of one accelerator, USD.
    unit_pflops : float or ndarray
        Its throughput, PFLOP/s.
    amortization_days : float or ndarray
        Days over which its price is spread.

    Examples
    --------
    >>> round(usd_per_pflops_day(10_000, 0.030, 365))
    913
    """
    return unit_price_usd / (unit_pflops * amortization_days)


_SCALING = ("train_utilization", "inference_utilization", "train_days", "chinchilla_ratio",
            "required_tokens_per_s")
_SCALING_DEFAULTS = {"train_flop_per_param_token": 6.0, "infer_flop_per_param_token": 2.0,
                     "horizon_length": 1.0}
_SCALING_DIVISORS = ("required_tokens_per_s", "chinchilla_ratio", "horizon_length",
                     "train_flop_per_param_token", "infer_flop_per_param_token", "tokens_per_task")
_COMPUTE_OUTPUTS = ("instances", "cluster_tokens_per_s", "tokens_per_gpu_s", "params", "train_flop",
                    "train_tokens", "cluster_flop_per_s", "train_seconds", "serial_speedup",
                    "tasks_per_day")

MODELS: Mapping[str, Model] = {
    m.name: m
    for m in (
        Model(
            "throughput",
            throughput_path,
            required=("cluster_gpus", "tokens_per_gpu_s", "required_tokens_per_s"),
            optional=("fast_stream_tokens_per_s", "tokens_per_task"),
            outputs=("instances", "cluster_tokens_per_s", "serial_speedup", "tasks_per_day"),
            divisors=("required_tokens_per_s", "tokens_per_task"),
        ),
        Model(
            "compute",
            compute_path,
            required=_SCALING,
            alternatives=((("cluster_gpus", "gpu_peak_flop_per_s"), ("cluster_flop_per_s",)),),
            optional=("cluster_gpus", "fast_stream_tokens_per_s", "tokens_per_task"),
            defaults=_SCALING_DEFAULTS,
            outputs=_COMPUTE_OUTPUTS,
            divisors=(*_SCALING_DIVISORS, "cluster_gpus"),
        ),
        Model(
            "budget",
            budget_path,
            required=("budget_usd", *_SCALING),
            alternatives=((("usd_per_flop",), ("usd_per_pflops_day",)),),
            optional=("cluster_gpus", "fast_stream_tokens_per_s", "tokens_per_task"),
            defaults=_SCALING_DEFAULTS,
            outputs=_COMPUTE_OUTPUTS,
            divisors=(*_SCALING_DIVISORS, "cluster_gpus", "usd_per_flop", "usd_per_pflops_day",
                      "train_utilization", "train_days"),
        ),
        Model(
            "data_volume",
            data_volume_path,
            required=("human_seconds", "human_bits_per_s", "train_tokens_total", "bits_per_token"),
            outputs=("human_to_model_data_ratio", "human_training_bits", "model_training_bits"),
            divisors=("train_tokens_total", "bits_per_token"),
        ),
        Model(
            "hardware_price",
            hardware_price_path,
            required=("unit_price_usd", "unit_flop_per_s", "amortization_days"),
            outputs=("usd_per_pflops_day",),
            divisors=("unit_flop_per_s", "amortization_days"),
        ),
    )
}


# quantity -> (unit these paths and the old prior files used, unit of the model files)
UNIT_CHANGES = {
    "chinchilla_ratio": ("token/parameter", "data point/parameter"),
    "train_flop_per_param_token": ("FLOP", "FLOP/parameter/token"),
    "infer_flop_per_param_token": ("FLOP", "FLOP/parameter/token"),
    "gpu_peak_flop_per_s": ("FLOP/s", "FLOP/s/GPU"),
}
