"""Conventions a number is stated on, checked across the priors of one model before sampling.

A peak FLOP/s and a utilization only multiply to a meaningful FLOP/s when both are on
one numeric precision: a BF16 MFU applied to an FP8 peak doubles the FLOP. A count of
accelerators and a per-accelerator figure only multiply when they count the same
accelerators: H100-equivalents times a B200's peak counts hardware progress twice.

Model files mark the quantities that carry such a convention with a *slot*::

    [quantities.gpu_peak_flop_per_s]
    precision = "training"          # on the training precision
    accelerator = "cluster"         # per accelerator as cluster_gpus counts them
    [quantities.serving_peak_ratio]
    precision = "serving/training"  # converts a training-precision peak to the serving one

and prior entries state the value they are on::

    [gpu_peak_flop_per_s]
    ...
    precision = "bf16"
    accelerator = "H100e"           # any label; labels in one slot must agree
    [serving_peak_ratio]
    value = 2
    precision = "fp8/bf16"          # serving / training

:func:`check_conventions` then requires, for each convention, that the priors of one
slot agree, that a converter's prior names the two slots' values in order, and that
two slots joined by a converter without a prior (its default 1: no conversion) agree.
A prior that states no convention is not checked; :func:`unstated` lists them.
"""

from __future__ import annotations

from collections.abc import Mapping

from .errors import ConfigError, did_you_mean

__all__ = ["CONVENTIONS", "PRECISIONS", "check_conventions", "check_value", "unstated"]

CONVENTIONS = ("precision", "accelerator")
PRECISIONS = ("fp64", "fp32", "tf32", "bf16", "fp16", "fp8", "fp6", "fp4", "int8", "int4")


def check_value(convention: str, value: object) -> str:
    """A prior's convention value, checked: ``"bf16"``, ``"fp8/bf16"`` (a converter), any label for accelerators.

    Raises
    ------
    ConfigError
        Keyed by the convention, for a value that is not a string or an unknown precision.
    """
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"must be a non-empty string such as {'bf16' if convention == 'precision' else 'H100e'!r}",
                          key=convention)
    parts = [p.strip() for p in value.split("/")]
    if len(parts) > 2 or not all(parts):
        raise ConfigError(f"{value!r} is neither one value nor a ratio 'a/b'", key=convention)
    if convention == "precision":
        for part in parts:
            if part.casefold() not in PRECISIONS:
                raise ConfigError(f"unknown precision {part!r}{did_you_mean(part.casefold(), PRECISIONS)}; "
                                  f"choose one of {', '.join(PRECISIONS)}", key=convention)
    return "/".join(parts)


def _slots(quantity, convention: str) -> tuple[str, ...]:
    return tuple(s.strip() for s in (getattr(quantity, convention, "") or "").split("/") if s.strip())


def unstated(model, priors: Mapping) -> list[tuple[str, str]]:
    """(prior name, convention) of every prior in a slot of `model` that states no value for it."""
    return [(name, c) for name, prior in priors.items() for c in CONVENTIONS
            if name in model.quantities and _slots(model.quantities[name], c) and not getattr(prior, c, "")]


def check_conventions(model, priors: Mapping) -> None:
    """Refuse priors of `model` whose stated conventions disagree (see the module docstring).

    Parameters
    ----------
    model : Model
        Its quantities may carry ``precision``/``accelerator`` slots.
    priors : mapping of str to Prior
        The experiment's priors; each may state ``precision``/``accelerator``.

    Raises
    ------
    ConfigError
        One line naming the prior file and ``NAME.precision`` (or ``.accelerator``).
    """
    for convention in CONVENTIONS:
        _check_one(model, priors, convention)


def _fail(prior, convention, problem):
    raise ConfigError(problem, file=prior.file or None, key=f"{prior.name}.{convention}")


def _check_one(model, priors, convention):
    values: dict[str, tuple[str, object]] = {}  # slot -> (value, prior that set it)
    converters = []
    for name, quantity in model.quantities.items():
        slots = _slots(quantity, convention)
        if len(slots) == 2:
            converters.append((name, slots))
        prior = priors.get(name)
        value = getattr(prior, convention, "") if prior is not None else ""
        if len(slots) != 1 or not value:
            continue
        slot = slots[0]
        if "/" in value:
            _fail(prior, convention, f"is {value!r}, a ratio, but {name} is on one {convention} (the {slot} one)")
        if slot in values and values[slot][0].casefold() != value.casefold():
            other = values[slot][1]
            _fail(prior, convention, f"is {value} but {other.name} is {values[slot][0]}"
                  f"{_where(other)}; both are on the {slot} {convention} of the {model.name} model, "
                  "so state them on one (or convert one of them)")
        values.setdefault(slot, (value, prior))
    for name, (to, frm) in converters:
        prior = priors.get(name)
        known = [values.get(to), values.get(frm)]
        if prior is None:
            if all(known) and known[0][0].casefold() != known[1][0].casefold():
                (v_to, p_to), (v_frm, p_frm) = known
                _fail(p_to, convention, f"is {v_to} (the {to} {convention}) but {p_frm.name} is {v_frm} "
                      f"(the {frm} {convention}){_where(p_frm)}, and {name} converts between them only when given: "
                      f"give {name} a prior with {convention} = \"{v_to}/{v_frm}\", or state both on one")
            continue
        value = getattr(prior, convention, "")
        if not value:
            if all(known) and known[0][0].casefold() != known[1][0].casefold():
                _fail(prior, convention, f"is missing: {name} converts the {frm} {convention} "
                      f"({known[1][0]}) to the {to} one ({known[0][0]}); say so with "
                      f"{convention} = \"{known[0][0]}/{known[1][0]}\"")
            continue
        parts = value.split("/")
        if len(parts) != 2:
            _fail(prior, convention, f"is {value!r}, but {name} is a ratio {to}/{frm}: write it as 'a/b'")
        for slot, part, seen in ((to, parts[0], known[0]), (frm, parts[1], known[1])):
            if seen and seen[0].casefold() != part.casefold():
                _fail(prior, convention, f"says the {slot} {convention} is {part} but {seen[1].name} is "
                      f"{seen[0]}{_where(seen[1])}")


def _where(prior) -> str:
    return f" (in {prior.file})" if getattr(prior, "file", "") else ""
