"""Human labels for figures and reports: names and units as people write them in papers.

One place decides how a quantity is named on an axis or in a table: :data:`LABELS`
holds the short names of the quantities people quote (``instances`` is "concurrent
copies"); any other quantity is named by the ``long_name`` its model gives it. Units
come from the model's unit strings (``token/s/GPU``) and are written as prose
(``tokens/s per GPU``): counts in the plural, a time in the denominator after a
slash, anything else after "per", and no unit at all for a pure number (``1``) or a
count the name already says (``instance``).

Examples
--------
>>> axis_label("instances", "instance")
'concurrent copies'
>>> axis_label("gpu_peak_flop_per_s", "FLOP/s/GPU", "dense peak throughput per accelerator")
'dense peak throughput per accelerator (FLOP/s per GPU)'
>>> human_unit("FLOP/parameter/token")
'FLOP per parameter per token'
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["LABELS", "axis_label", "human_unit", "quantity_label"]

#: Short names of the quantities people quote, by variable name; others use their ``long_name``.
LABELS: Mapping[str, str] = {
    "instances": "concurrent copies",
    "required_tokens_per_s": "required speed per copy",
    "cluster_flop_per_s": "cluster peak compute",
    "train_flop": "training compute",
    "params": "model parameters",
    "train_tokens": "training tokens",
    "cluster_tokens_per_s": "cluster serving throughput",
    "tokens_per_gpu_s": "serving throughput per GPU",
    "tasks_per_day": "tasks per day",
    "serial_speedup": "speed relative to the required speed",
    "cluster_gpus": "GPUs in the training cluster",
    "train_days": "training time",
}

#: Plurals of the count units (a unit not listed is written as it is: FLOP, s, USD).
_PLURALS = {"token": "tokens", "task": "tasks", "parameter": "parameters", "instance": "instances",
            "GPU": "GPUs", "data point": "data points", "day": "days", "bit": "bits", "byte": "bytes",
            "sample": "samples", "year": "years"}
#: Counts that a quantity's name already says: no unit is written after it.
_BARE_COUNTS = frozenset({"instance", "GPU", "parameter", "token", "task", "data point", "sample"})
_TIMES = frozenset({"s", "h", "day", "year", "min"})


def human_unit(unit: str | None) -> str:
    """`unit` (a model unit string such as ``token/s/GPU``) as written in prose; ``""`` for ``1``."""
    text = (unit or "").strip()
    if text in ("", "1"):
        return ""
    numerator, *denominators = (part.strip() for part in text.split("/"))
    written = "1" if numerator == "1" else _PLURALS.get(numerator, numerator)
    for k, part in enumerate(denominators):
        joined_by_slash = k == 0 and part in _TIMES and numerator != "1"
        written += f"/{part}" if joined_by_slash else f" per {part}"
    return written.removeprefix("1 ")


def quantity_label(name: str, long_name: str | None = None) -> str:
    """The name of quantity `name`: from :data:`LABELS`, else its `long_name`, else `name`."""
    return LABELS.get(name) or (long_name or "").strip() or name


def axis_label(name: str, unit: str | None = None, long_name: str | None = None) -> str:
    """``"name (unit)"`` for an axis or a column, without a unit for pure numbers and bare counts."""
    written = "" if (unit or "").strip() in _BARE_COUNTS else human_unit(unit)
    label = quantity_label(name, long_name)
    return f"{label} ({written})" if written else label
