"""Models written as formulas: a frozen :class:`FormulaModel` from a model file or a dict.

A model file is TOML (the shipped ones are in ``overhang_sim/data/models``)::

    name = "tokens"
    description = "copies from training tokens per second"
    main = "instances"                  # the headline output
    [quantities.train_tokens]           # no formula: an input, which needs a prior
    unit = "token"
    [quantities.k_ratio]
    unit = "1"
    default = 3                         # an input with a default value
    [quantities.cluster_tokens_per_s]
    unit = "token/s"
    formula = "k_ratio * train_tokens / train_days"   # token/day, converted to token/s

Semantics

* A quantity without ``formula`` is an *input*: it needs a prior (or a value, or
  its ``default``). A quantity with a formula is an *output*, computed in
  dependency order on whole arrays.
* ``overridable = true`` on a formula quantity lets a prior replace its formula:
  ``cluster_flop_per_s`` is ``cluster_gpus * gpu_peak_flop_per_s`` unless given.
  Other outputs can never be given; a prior for one is an error.
* An output whose inputs are not all given is left out (``serial_speedup`` needs
  ``fast_stream_tokens_per_s``); an input the main output needs is a
  :class:`~overhang_sim.errors.ModelInputError` when it has neither prior nor
  default, and so is a given input that no computed formula uses.
* A model returns only what it computes: an input, or an output replaced by a
  prior, is not returned again.
* ``low``/``high`` give the physical domain [low, high]. Without ``low`` a quantity
  is positive (0 excluded); ``low = 0`` admits 0, and a formula that divides by an
  input whose domain includes 0 is warned about when the model loads
  (:class:`ModelWarning`); :attr:`FormulaModel.divisors` lists those inputs so a
  loader can check priors too.
* ``[[checks]]`` relate quantities (``params_active <= params_total``): every draw
  must pass them, or the call raises a one-line DomainError with the numbers
  (:mod:`overhang_sim.model_checks`); :meth:`FormulaModel.check_values` runs the
  ones fixed values decide, when an experiment loads.
* Units are checked when the model is built, before anything is sampled: each
  formula's unit (:mod:`overhang_sim.formula_checks`) must convert to the declared
  one, and the conversion (token/day to token/s) is folded into the formula.
"""

from __future__ import annotations

import functools
import tomllib
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from types import MappingProxyType

import numpy as np

from .errors import ConfigError, ModelInputError, OverhangError, did_you_mean
from .formula_fold import fold_step
from .formulas import as_number
from .model_checks import ModelCheck, checks_from_table, compile_check
from .model_graph import Step, check_names, compile_step, dependency_order, model_divisors, parse_formula
from .model_quantity import ModelQuantity, quantity_from_table
from .model_text import describe
from .units import Unit, parse_unit

__all__ = ["BUILTIN_MODELS", "FormulaModel", "ModelQuantity", "ModelWarning", "builtin_models"]

BUILTIN_MODELS = ("throughput", "compute", "budget", "data_volume", "hardware_price", "roofline")
MODEL_KEYS = ("name", "description", "main", "quantities", "checks", "extends")


class ModelWarning(UserWarning):
    """A model that loads but may misbehave: it divides by an input that may be 0, or never uses one."""


@dataclass(frozen=True)
class FormulaModel:
    """A model whose outputs are formulas over named inputs.

    Build one with :meth:`from_file`, :meth:`from_table` or :meth:`from_formulas`;
    every check runs here, before anything is sampled. It offers the interface the
    simulator uses on :class:`overhang_sim.models.Model`: :attr:`name`,
    :attr:`inputs`, :attr:`outputs`, :attr:`defaults`, :meth:`check_inputs` and
    calling it on a mapping of arrays.

    Parameters
    ----------
    name : str
        Public name (``model = "tokens"`` in an experiment file).
    quantities : mapping of str to ModelQuantity
        Every quantity, in the order the file lists them.
    main : str
        The main output: headline, thresholds and report.
    description : str, optional
    file : str, optional
        Where the model was read from; named by every error.

    Examples
    --------
    >>> model = FormulaModel.from_formulas(
    ...     "speed", main="instances",
    ...     units={"rate": "token/day", "need": "token/s", "instances": "instance"},
    ...     formulas={"instances": "rate / need"})
    >>> float(model({"rate": 8.64e6, "need": 10.0})["instances"])
    10.0
    """

    name: str
    quantities: Mapping[str, ModelQuantity]
    main: str
    description: str = ""
    file: str = field(default="", compare=False)
    checks: tuple[ModelCheck, ...] = ()
    divisors: frozenset[str] = field(init=False, compare=False)
    _steps: tuple[Step, ...] = field(init=False, repr=False, compare=False)
    _checks: tuple = field(init=False, repr=False, compare=False)
    _folded: dict = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        if isinstance(self.quantities, Mapping):
            object.__setattr__(self, "quantities", MappingProxyType(dict(self.quantities)))
        try:
            self._build()
        except OverhangError as error:
            raise error.located(file=self.file or None) from None

    def __reduce__(self):
        # The compiled formulas are closures: pickle the spec and compile again (for worker processes).
        return _rebuild, (self.name, dict(self.quantities), self.main, self.description, self.file, self.checks)

    # ------------------------------------------------------------------ construction

    @classmethod
    def from_file(cls, path: str | Path) -> FormulaModel:
        """Read a model file; errors name the file and the key (``quantities.x.formula``)."""
        try:
            text = Path(path).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigError("no such file", file=str(path)) from None
        except (OSError, UnicodeDecodeError) as error:
            raise ConfigError(f"cannot read: {error}", file=str(path)) from None
        return cls.from_text(text, file=str(path))

    @classmethod
    def from_text(cls, text: str, file: str = "") -> FormulaModel:
        """Build a model from the TOML text of a model file."""
        try:
            table = tomllib.loads(text)
        except tomllib.TOMLDecodeError as error:
            raise ConfigError(f"invalid TOML: {error}", file=file or None) from None
        return cls.from_table(table, file=file)

    @classmethod
    def from_table(cls, table: Mapping, file: str = "") -> FormulaModel:
        """Build a model from a parsed model file (a dict shaped like the TOML)."""
        try:
            return cls(**_model_fields(table), file=file)
        except OverhangError as error:
            raise error.located(file=error.file or file or None) from None

    @classmethod
    def from_formulas(cls, name: str, *, units: Mapping[str, str], formulas: Mapping[str, str],
                      main: str, defaults: Mapping[str, float] | None = None,
                      overridable: tuple[str, ...] = (), long_names: Mapping[str, str] | None = None,
                      description: str = "") -> FormulaModel:
        """Build a model in Python: every quantity's unit, and the formulas of the outputs.

        Parameters
        ----------
        name : str
        units : mapping of str to str
            Every quantity (inputs and outputs) and its unit, in order.
        formulas : mapping of str to str
            The outputs and their formulas.
        main : str
            The main output.
        defaults : mapping of str to float, optional
            Values of inputs that have no prior.
        overridable : tuple of str, optional
            Outputs a prior may replace.
        long_names : mapping of str to str, optional
        description : str, optional
        """
        missing = [n for n in (*formulas, *(defaults or {}), *overridable) if n not in units]
        if missing:
            raise ConfigError("is missing; every quantity states its unit", key=f"quantities.{missing[0]}.unit")
        table = {n: {"unit": u, "formula": formulas.get(n), "default": (defaults or {}).get(n),
                     "overridable": n in overridable, "long_name": (long_names or {}).get(n, "")}
                 for n, u in units.items()}
        quantities = {n: {k: v for k, v in entry.items() if v is not None} for n, entry in table.items()}
        return cls.from_table({"name": name, "main": main, "description": description,
                               "quantities": quantities})

    def _build(self):
        if not isinstance(self.name, str) or not self.name:
            raise ConfigError("must be a non-empty string", key="name")
        if not isinstance(self.quantities, Mapping) or not self.quantities:
            raise ConfigError("must be a non-empty mapping of names to ModelQuantity", key="quantities")
        for name, q in self.quantities.items():
            if not isinstance(q, ModelQuantity) or q.name != name:
                raise ConfigError(f"must be a ModelQuantity named {name!r}, not {q!r}", key=f"quantities.{name}")
        _check_main(self.quantities, self.main)
        trees = {n: parse_formula(q) for n, q in self.quantities.items() if q.formula is not None}
        for name, tree in trees.items():
            check_names(name, tree, self.quantities)
        order = dependency_order(trees)
        units = {n: parse_unit(q.unit) for n, q in self.quantities.items()}
        steps = tuple(compile_step(n, trees[n], units) for n in order)
        object.__setattr__(self, "_steps", steps)
        object.__setattr__(self, "checks", tuple(self.checks))
        object.__setattr__(self, "_checks", tuple(compile_check(i, c, units) for i, c in enumerate(self.checks)))
        object.__setattr__(self, "_folded", {})
        object.__setattr__(self, "divisors", model_divisors(self.quantities, steps))
        self._warn()

    def _warn(self):
        where = f"{self.file}: " if self.file else ""
        for name in sorted(self.divisors):
            q = self.quantities[name]
            if q.may_be_zero:
                warnings.warn(f"{where}quantities.{name}: a formula divides by it and its domain "
                              f"{q.domain_text} includes 0; leave out low (positive) or set low > 0",
                              ModelWarning, stacklevel=4)
        used = set().union(*(s.needs for s in self._steps))
        for name in self.inputs:
            if name not in used and self.quantities[name].formula is None:
                warnings.warn(f"{where}quantities.{name}: no formula uses it", ModelWarning, stacklevel=4)

    # ------------------------------------------------------------------ the Model interface

    @property
    def inputs(self) -> tuple[str, ...]:
        """Every name that may have a prior: the inputs, then overridable outputs, in file order."""
        return tuple(n for n, q in self.quantities.items() if q.is_input)

    @property
    def outputs(self) -> tuple[str, ...]:
        """Every output the model can return, main first, then in file order."""
        rest = [n for n, q in self.quantities.items() if q.formula is not None and n != self.main]
        return (self.main, *rest)

    @property
    def defaults(self) -> dict[str, float]:
        """Values of the inputs that have a default."""
        return {n: float(q.default) for n, q in self.quantities.items() if q.default is not None}

    def unit(self, name: str) -> Unit:
        """The declared unit of quantity `name`."""
        return parse_unit(self.quantities[name].unit)

    @property
    def uses(self) -> dict[str, frozenset[str]]:
        """Each output -> the quantities its formula uses, in the order they are computed."""
        return {s.name: s.needs for s in self._steps}

    @property
    def formula_units(self) -> dict[str, Unit]:
        """Each output -> the unit its formula gives, before conversion to the declared unit."""
        return {s.name: s.unit for s in self._steps}

    def check_inputs(self, given: set[str]) -> None:
        """Raise :class:`ModelInputError` naming the first unknown, missing or unused input.

        Parameters
        ----------
        given : set of str
            The names that have a prior or a value.
        """
        inputs = set(self.inputs)
        for name in sorted(given):
            if name not in inputs:
                if name in self.quantities:
                    raise ModelInputError(f"is computed by the {self.name} model's formula "
                                          f"{self.quantities[name].formula!r} and cannot be given", key=name)
                raise ModelInputError(f"is not an input of the {self.name} model{did_you_mean(name, inputs)}",
                                      key=name)
        have = set(given) | set(self.defaults)
        computed = self._computed(have)
        if self.main not in have | computed:
            self._raise_missing(have, computed)
        used = set().union(*(s.needs for s in self._steps if s.name in computed))
        for name in [n for n in self.inputs if n in given and n not in used]:
            raise ModelInputError(f"is given but not used: {self._why_unused(name, have, computed)}", key=name)

    def __call__(self, values: Mapping[str, np.ndarray | float]) -> dict[str, np.ndarray]:
        """Compute every output whose inputs have values.

        Parameters
        ----------
        values : mapping of str to ndarray or float
            Inputs (arrays broadcast together); names the model does not know are ignored.

        Returns
        -------
        dict of str to ndarray
            The outputs computed, in :attr:`outputs` order; inputs are not repeated.
        """
        inputs = set(self.inputs)
        env = {n: as_number(v) for n, v in {**self.defaults, **values}.items() if n in inputs}
        out = {}
        with np.errstate(all="ignore"):
            for step in self._steps_without(frozenset(n for n in self.defaults if n not in values)):
                if step.name not in env and env.keys() >= step.needs:
                    env[step.name] = out[step.name] = step.run(env)
        if self.main not in env:
            self._raise_missing(set(env), set(out))
        self._run_checks(env)
        return {n: out[n] for n in self.outputs if n in out}

    def steps_after(self, varying: str, targets: tuple[str, ...]) -> tuple[tuple, tuple]:
        """The compiled steps `targets` need, split into those `varying` does not reach and those it does.

        Lets a caller compute the first group once and repeat only the second for each value of
        `varying` (the frontier over required speeds). Each step has ``name``, ``needs`` and
        ``run(env)``; both groups are in dependency order. A formula for `varying` itself (an
        overridable one, such as required_tokens_per_s from human-equivalence) is left out.
        """
        needed, reached = set(targets), {varying}
        steps = [s for s in self._steps if s.name != varying]  # a formula `varying` overrides is not run
        for step in reversed(steps):
            if step.name in needed:
                needed |= step.needs
        for step in steps:
            if step.needs & reached:
                reached.add(step.name)
        steps = [s for s in steps if s.name in needed]
        return tuple(s for s in steps if s.name not in reached), tuple(s for s in steps if s.name in reached)

    def run_checks(self, env: Mapping[str, object]) -> None:
        """Run every ``[[checks]]`` entry whose quantities `env` holds; raise the first failure (DomainError)."""
        self._run_checks(env)

    def check_values(self, values: Mapping[str, float]) -> None:
        """Run the ``[[checks]]`` that `values` (and the defaults) decide; raise the first failure.

        Parameters
        ----------
        values : mapping of str to float or ndarray
            Some of the inputs, e.g. an experiment's fixed values; checks needing others are skipped.

        Raises
        ------
        DomainError
            Naming the check's key and the numbers of the first failing draw.
        """
        inputs = set(self.inputs)
        env = {n: as_number(v) for n, v in {**self.defaults, **values}.items() if n in inputs}
        with np.errstate(all="ignore"):
            for step in self._steps:
                if step.name not in env and env.keys() >= step.needs:
                    env[step.name] = step.run(env)
        self._run_checks(env)

    def _run_checks(self, env) -> None:
        for check in self._checks:
            if env.keys() >= check.needs:
                error = check.failure(env)
                if error is not None:
                    raise error

    def _steps_without(self, defaults: frozenset[str]) -> tuple[Step, ...]:
        """The steps with the defaults not given folded in (:mod:`overhang_sim.formula_fold`), once per set."""
        if not defaults:
            return self._steps
        steps = self._folded.get(defaults)
        if steps is None:
            values = {n: float(self.quantities[n].default) for n in defaults}
            steps = self._folded[defaults] = tuple(fold_step(s, values) for s in self._steps)
        return steps

    def describe(self) -> str:
        """A listing for ``overhang models NAME``: quantities, units, formulas, what needs a prior."""
        return describe(self)

    # ------------------------------------------------------------------ input checks

    def _computed(self, have: set[str]) -> set[str]:
        done = set()
        for step in self._steps:
            if step.name not in have and step.needs <= have | done:
                done.add(step.name)
        return done

    def _raise_missing(self, have, computed):
        missing = self._missing(self.main, frozenset(have | computed))
        first = next(n for n in self.quantities if n in missing)
        via = missing[first]
        unless = f" (or for {' or '.join(via)})" if via else ""
        others = [n for n in self.quantities if n in missing and n != first]
        also = f"; also missing: {', '.join(others)}" if others else ""
        raise ModelInputError(f"the {self.name} model needs a prior for it{unless}{also}", key=first)

    def _missing(self, main, known) -> dict[str, tuple[str, ...]]:
        """Inputs without a value that `main` needs -> the overridable outputs on the way."""
        uses = self.uses

        @functools.cache
        def missing(name, via):
            q = self.quantities[name]
            if q.formula is None:
                return {name: via}
            via = (*via, name) if q.overridable else via
            out = {}
            for need in uses[name] - known:
                for found, path in missing(need, via).items():
                    out.setdefault(found, path)
            return out

        return missing(main, ())

    def _why_unused(self, name, have, computed) -> str:
        for step in self._steps:
            if name in step.needs:
                if step.name in have:
                    return f"{step.name} is given instead of its formula (give one of them)"
                lacking = next(n for n in self.quantities if n in step.needs and n not in have | computed)
                return f"{step.name} also needs {lacking}"
        return "no formula uses it"


def _model_fields(table: Mapping) -> dict:
    if not isinstance(table, Mapping):
        raise ConfigError(f"a model is a table, not {type(table).__name__}")
    for key in table:
        if key not in MODEL_KEYS:
            raise ConfigError(f"unknown key{did_you_mean(key, MODEL_KEYS)}", key=key)
    entries = table.get("quantities")
    if not isinstance(entries, Mapping) or not entries:
        raise ConfigError("must be a non-empty table of [quantities.NAME] tables", key="quantities")
    for key in ("name", "description", "main"):
        if not isinstance(table.get(key, ""), str):
            raise ConfigError("must be a string", key=key)
    base = _extended(table.get("extends"))
    quantities = dict(base.quantities) if base else {}
    quantities.update({n: quantity_from_table(n, e) for n, e in entries.items()})
    return {"name": table.get("name", ""), "description": table.get("description", ""),
            "main": table.get("main", "") or (base.main if base else ""),
            "quantities": MappingProxyType(quantities),
            "checks": (base.checks if base else ()) + tuple(checks_from_table(table.get("checks", [])))}


def _extended(name) -> FormulaModel | None:
    """The shipped model an ``extends = "compute"`` entry names: its quantities and checks come first.

    The file's own quantities add to them or replace them whole (a base input may become
    a formula: ``cluster_gpus = cluster_gpus_2024 * cluster_gpus_growth ** (year - 2024)``).
    """
    if name is None:
        return None
    if not isinstance(name, str) or name not in BUILTIN_MODELS:
        raise ConfigError(f"must name a shipped model ({', '.join(BUILTIN_MODELS)}), not {name!r}"
                          f"{did_you_mean(str(name), BUILTIN_MODELS)}", key="extends")
    return builtin_models()[name]


def _check_main(quantities, main):
    if main not in quantities:
        raise ConfigError(f"{main!r} is not a quantity of the model{did_you_mean(main, quantities)}", key="main")
    if quantities[main].formula is None:
        raise ConfigError(f"{main!r} is an input; the main output needs a formula", key="main")
    if quantities[main].overridable:
        raise ConfigError(f"the main output {main!r} cannot be overridable", key="main")


def _rebuild(name, quantities, main, description, file, checks=()) -> FormulaModel:
    with warnings.catch_warnings():  # already warned when it was first built
        warnings.simplefilter("ignore", ModelWarning)
        return FormulaModel(name, quantities, main, description, file, checks)


@functools.cache
def _builtin(name: str) -> FormulaModel:
    """The shipped model `name`, built from its file the first time it is asked for."""
    folder = resources.files("overhang_sim") / "data" / "models"
    return FormulaModel.from_text((folder / f"{name}.toml").read_text("utf-8"),
                                  file=f"overhang_sim/data/models/{name}.toml")


class _Builtins(Mapping):
    """The shipped models by name, each built on first access (a run uses one of six: 0.05-0.2 s saved)."""

    def __getitem__(self, name: str) -> FormulaModel:
        if name not in BUILTIN_MODELS:
            raise KeyError(name)
        return _builtin(name)

    def __contains__(self, name: object) -> bool:
        return name in BUILTIN_MODELS

    def __iter__(self) -> Iterator[str]:
        return iter(BUILTIN_MODELS)

    def __len__(self) -> int:
        return len(BUILTIN_MODELS)


_BUILTINS = _Builtins()


@functools.cache
def builtin_quantity_names() -> frozenset[str]:
    """The quantity names of the shipped models, read from their files without building them.

    Building the six models compiles every formula (0.1-0.3 s); checking a name needs only
    the ``[quantities]`` keys, the same names as ``builtin_models()[m].quantities``.
    """
    folder = resources.files("overhang_sim") / "data" / "models"
    return frozenset(name for model in BUILTIN_MODELS
                     for name in tomllib.loads((folder / f"{model}.toml").read_text("utf-8"))["quantities"])


def builtin_models() -> Mapping[str, FormulaModel]:
    """The model files shipped with the package, by name (each read when first looked up, then cached).

    Examples
    --------
    >>> sorted(builtin_models())
    ['budget', 'compute', 'data_volume', 'hardware_price', 'roofline', 'throughput']
    >>> builtin_models()["throughput"].main
    'instances'
    """
    return _BUILTINS
