"""A Python function as a model, for what formulas cannot say (loops, solvers, tables).

:class:`FunctionModel` wraps ``function(values) -> dict`` behind the interface of
:class:`~overhang_sim.modelspec.FormulaModel`: it declares the unit of every input
and output, which inputs are optional and which have defaults, so a missing or
unknown input is reported by name before anything is sampled. The function gets
whole arrays (one per input, broadcastable) and must return arrays too: keep it
vectorised, with no per-draw Python.

Examples
--------
Serving throughput that falls with context length, read off a table (a made-up
one here) by interpolation, which a formula cannot write:

>>> import numpy as np
>>> CONTEXT = np.array([1e3, 8e3, 32e3, 128e3])  # tokens of context
>>> RELATIVE = np.array([1.0, 0.6, 0.3, 0.1])    # throughput relative to 1k tokens
>>> def long_context(v):
...     factor = np.interp(np.log(v["context_tokens"]), np.log(CONTEXT), RELATIVE)
...     return {"tokens_per_gpu_s": v["short_context_tokens_per_gpu_s"] * factor}
>>> model = FunctionModel.from_function(
...     "long_context", long_context,
...     inputs={"context_tokens": "token", "short_context_tokens_per_gpu_s": "token/s/GPU"},
...     outputs={"tokens_per_gpu_s": "token/s/GPU"},
...     defaults={"short_context_tokens_per_gpu_s": 3000.0})
>>> model({"context_tokens": np.array([1e3, 32e3])})["tokens_per_gpu_s"]
array([3000.,  900.])
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

from .errors import ConfigError, ModelInputError, OverhangError, did_you_mean
from .formulas import as_number
from .model_quantity import ModelQuantity
from .model_text import table

__all__ = ["FunctionModel", "ModelOutputError"]


class ModelOutputError(OverhangError, ValueError):
    """A Python model that returned something other than its declared outputs."""


@dataclass(frozen=True)
class FunctionModel:
    """A model computed by a Python function of named arrays.

    Parameters
    ----------
    name : str
        Public name (``model = "doubling"``).
    function : callable
        ``function(values) -> mapping`` of output arrays; `values` maps every input
        that has a value (given or default) to a float or ndarray.
    quantities : mapping of str to ModelQuantity
        Every input and output with its unit; outputs are those named in `outputs`.
    outputs : tuple of str
        Every output the function can return, main first.
    optional : tuple of str, optional
        Inputs the function can do without (it then leaves out what needs them).
    divisors : frozenset of str, optional
        Inputs the function divides by, for a loader's zero checks.
    description : str, optional
    """

    name: str
    function: Callable[[Mapping[str, np.ndarray]], Mapping[str, np.ndarray]]
    quantities: Mapping[str, ModelQuantity]
    outputs: tuple[str, ...]
    optional: tuple[str, ...] = ()
    divisors: frozenset[str] = frozenset()
    description: str = ""

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name:
            raise ConfigError("must be a non-empty string", key="name")
        if not callable(self.function):
            raise ConfigError(f"must be callable, not {type(self.function).__name__}", key="function")
        if not self.outputs:
            raise ConfigError("must name at least one output", key="outputs")
        for name in (*self.outputs, *self.optional, *self.divisors):
            if name not in self.quantities:
                raise ConfigError(f"{name!r} has no unit{did_you_mean(name, self.quantities)}", key=name)
        for name in (*self.optional, *self.divisors):
            if name in self.outputs:
                raise ConfigError(f"{name!r} is an output, not an input", key=name)
        object.__setattr__(self, "quantities", MappingProxyType(dict(self.quantities)))

    def __reduce__(self):  # a mapping proxy does not pickle; the function must be importable
        return type(self), (self.name, self.function, dict(self.quantities), self.outputs, self.optional,
                            self.divisors, self.description)

    @classmethod
    def from_function(cls, name: str, function: Callable, *, inputs: Mapping[str, str],
                      outputs: Mapping[str, str], main: str | None = None,
                      defaults: Mapping[str, float] | None = None, optional: tuple[str, ...] = (),
                      divisors: tuple[str, ...] = (), long_names: Mapping[str, str] | None = None,
                      description: str = "") -> FunctionModel:
        """Register a Python function as a model.

        Parameters
        ----------
        name : str
        function : callable
            ``function(values) -> dict`` of output arrays.
        inputs, outputs : mapping of str to str
            Names and units (``{"train_flop": "FLOP"}``), in order.
        main : str, optional
            The main output; the first of `outputs` by default.
        defaults : mapping of str to float, optional
            Values of inputs that have no prior.
        optional : tuple of str, optional
            Inputs the function can do without.
        divisors : tuple of str, optional
            Inputs it divides by.
        long_names : mapping of str to str, optional
        description : str, optional

        Returns
        -------
        FunctionModel
        """
        if not outputs:
            raise ConfigError("must name at least one output", key="outputs")
        both = [n for n in inputs if n in outputs]
        if both:
            raise ConfigError(f"{both[0]!r} is both an input and an output", key=both[0])
        defaults, long_names = dict(defaults or {}), dict(long_names or {})
        for key in defaults:
            if key not in inputs:
                raise ConfigError(f"{key!r} is not an input{did_you_mean(key, inputs)}", key=f"defaults.{key}")
        quantities = {n: ModelQuantity(n, u, long_name=long_names.get(n, ""), default=defaults.get(n))
                      for n, u in {**inputs, **outputs}.items()}
        main = next(iter(outputs), "") if main is None else main
        if main not in outputs:
            raise ConfigError(f"{main!r} is not an output{did_you_mean(main, outputs)}", key="main")
        order = (main, *(n for n in outputs if n != main))
        return cls(name, function, quantities, order, tuple(optional), frozenset(divisors), description)

    @property
    def main(self) -> str:
        """The main output."""
        return self.outputs[0]

    @property
    def inputs(self) -> tuple[str, ...]:
        """Every input name, in the order given."""
        return tuple(n for n in self.quantities if n not in self.outputs)

    @property
    def defaults(self) -> dict[str, float]:
        """Values of the inputs that have a default."""
        return {n: float(q.default) for n, q in self.quantities.items() if q.default is not None}

    def check_inputs(self, given: set[str]) -> None:
        """Raise :class:`ModelInputError` naming the first unknown or missing input."""
        for name in sorted(given):
            if name not in self.inputs:
                hint = did_you_mean(name, self.inputs)
                raise ModelInputError(f"is not an input of the {self.name} model{hint}", key=name)
        have = set(given) | set(self.defaults)
        for name in self.inputs:
            if name not in have and name not in self.optional:
                raise ModelInputError(f"the {self.name} model needs a prior for it", key=name)

    def __call__(self, values: Mapping[str, np.ndarray | float]) -> dict[str, np.ndarray]:
        """Run the function on the inputs that have values; return its outputs in :attr:`outputs` order."""
        env = {n: as_number(v) for n, v in {**self.defaults, **values}.items() if n in self.inputs}
        self.check_inputs(set(env))
        with np.errstate(all="ignore"):
            result = self.function(MappingProxyType(env))
        if not isinstance(result, Mapping):
            raise ModelOutputError(f"returned {type(result).__name__}, not a dict of outputs", key=self.name)
        for name in result:
            if name not in self.outputs:
                raise ModelOutputError(f"returned {name!r}, which is not a declared output", key=self.name)
        if self.main not in result:
            raise ModelOutputError(f"did not return its main output {self.main!r}", key=self.name)
        return {n: result[n] for n in self.outputs if n in result}

    def describe(self) -> str:
        """A listing of the inputs, outputs and units, and what each input needs."""
        q = self.quantities
        head = f"{self.name}: {self.description}" if self.description else self.name
        function = getattr(self.function, "__qualname__", repr(self.function))
        need = {n: (f"default {q[n].default:g}" if q[n].default is not None else
                    "optional" if n in self.optional else "needs a prior") for n in self.inputs}
        return "\n".join([head, f"main output: {self.main} ({q[self.main].unit})",
                          f"computed by the Python function {function}", "", "inputs",
                          *table([(n, q[n].unit, need[n], q[n].long_name) for n in self.inputs]),
                          "", "outputs", *table([(n, q[n].unit, q[n].long_name) for n in self.outputs])])
