"""TOML files -> frozen :class:`Prior` and :class:`Experiment` specs.

Every problem is reported as one :class:`~overhang_sim.errors.OverhangError` that
names the file, the dotted key and what is wrong; nothing is sampled before the
whole experiment has been checked. The file formats are documented in README.md.
"""

from __future__ import annotations

import functools
import hashlib
import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np

from . import distributions as d
from .conventions import CONVENTIONS, check_conventions, check_value
from .designs import METHODS, pearson_from_spearman
from .errors import ConfigError, DomainError, ModelInputError, OverhangError, did_you_mean
from .models import Model, quantity_names, resolve_model
from .modelspec import FormulaModel
from .units import UnitError, parse_unit

__all__ = [
    "Correlation",
    "Experiment",
    "Prior",
    "SummarySpec",
    "default_experiment_path",
    "experiment_from_table",
    "load_experiment",
    "load_priors",
    "parse_distribution",
]

PRIOR_KEYS = ("dist", "unit", "source", "note", "lower", "upper", *CONVENTIONS)
EXPERIMENT_KEYS = ("name", "description", "model", "priors", "overrides", "samples", "chains",
                   "method", "seed", "correlations", "summary")
SUMMARY_KEYS = ("outputs", "quantiles", "intervals", "thresholds")
MAX_SAMPLES = 10**12
MAX_SEED = 2**63 - 1  # seeds are stored in result files as int64
MAX_SOBOL_DRAWS = 2**30  # scipy's Sobol' engine, 30 bits
MAX_NESTING = 8  # mixtures of mixtures, at most this deep


@dataclass(frozen=True)
class Prior:
    """A distribution for one model input, with its unit and where it comes from."""

    name: str
    dist: d.Distribution
    unit: str
    source: str = ""
    file: str = ""
    precision: str = ""
    accelerator: str = ""
    asked: tuple[tuple[float, float], ...] = ()  # (probability, value) the prior was fitted to, if any

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name.isidentifier():
            raise ConfigError(f"{self.name!r:.40} is not a quantity's name", key=str(self.name)[:40])
        try:
            parse_unit(self.unit)
        except UnitError as error:
            raise ConfigError(error.problem, key=f"{self.name}.unit") from None

    @property
    def fixed(self) -> bool:
        """True when the prior is a single known value."""
        return isinstance(self.dist, d.Fixed)


@dataclass(frozen=True)
class Correlation:
    """A Spearman rank correlation between two sampled inputs."""

    inputs: tuple[str, str]
    rank: float

    def __post_init__(self):
        if len(self.inputs) != 2 or self.inputs[0] == self.inputs[1]:
            raise ConfigError(f"must name two different inputs, not {list(self.inputs)}", key="inputs")
        if not (isinstance(self.rank, (int, float)) and -1 < self.rank < 1):
            raise ConfigError(f"must be a number in (-1, 1), not {self.rank!r}", key="rank")


@dataclass(frozen=True)
class SummarySpec:
    """What to summarise: outputs, quantile probabilities, interval masses, thresholds."""

    outputs: tuple[str, ...] = ()
    quantiles: tuple[float, ...] = (0.05, 0.25, 0.5, 0.75, 0.95)
    intervals: tuple[float, ...] = (0.5, 0.9)
    thresholds: tuple[float, ...] = (1e5, 1e6, 1e7, 1e8)

    def __post_init__(self):
        for i, name in enumerate(self.outputs):
            if not isinstance(name, str):
                raise ConfigError(f"must be an output's name, not {name!r:.40}", key=f"outputs[{i}]")
        _probabilities("quantiles", self.quantiles, closed=True)
        _probabilities("intervals", self.intervals, closed=False)
        for i, t in enumerate(self.thresholds):
            if not _number(t) or t <= 0:
                raise ConfigError(f"must be a positive number, not {t!r:.40}", key=f"thresholds[{i}]")
        for key in ("quantiles", "intervals", "thresholds"):
            object.__setattr__(self, key, tuple(float(v) for v in getattr(self, key)))


@dataclass(frozen=True)
class Experiment:
    """A complete, checked experiment: model, priors, design and summary.

    Build one with :func:`load_experiment`; change it with :func:`dataclasses.replace`
    (the checks run again).
    """

    name: str
    model: str
    priors: Mapping[str, Prior]
    samples: int = 100_000
    chains: int = 8
    method: str = "mc"
    seed: int = 0
    correlations: tuple[Correlation, ...] = ()
    summary: SummarySpec = field(default_factory=SummarySpec)
    description: str = ""
    text: str = ""
    path: str = ""
    design_inputs: tuple[str, ...] = ()
    model_spec: Model | None = None

    def __post_init__(self):
        if self.model_spec is None:
            object.__setattr__(self, "model_spec", resolve_model(self.model))
        if self.model != self.model_spec.name:
            raise ConfigError(f"is {self.model!r} but the model given is {self.model_spec.name!r}", key="model")
        for key in ("samples", "chains"):
            value = getattr(self, key)
            if not _integer(value) or value < 1:
                raise ConfigError(f"must be a positive whole number, not {value!r}", key=key)
        if self.samples > MAX_SAMPLES:
            raise ConfigError(f"must be at most {MAX_SAMPLES:.0e} (about a day of computing per 1e12 on "
                              f"one core), not {_magnitude(self.samples)}", key="samples")
        if self.samples < self.chains:
            raise ConfigError(f"must be at least chains = {self.chains}, not {self.samples}", key="samples")
        if self.method == "sobol" and self.draws > MAX_SOBOL_DRAWS:
            raise ConfigError(f"sobol designs give at most 2**30 draws per chain, not {_magnitude(self.draws)}; "
                              "use more chains", key="samples")
        if self.method not in METHODS:
            raise ConfigError(f"unknown method {self.method!r}{did_you_mean(str(self.method), METHODS)}; "
                              f"choose one of {', '.join(METHODS)}", key="method")
        if not _integer(self.seed) or not 0 <= self.seed <= MAX_SEED:
            shown = _magnitude(self.seed) if _integer(self.seed) else repr(self.seed)
            raise ConfigError(f"must be a whole number from 0 to 2**63 - 1, not {shown:.40}", key="seed")
        self.model_spec.check_inputs(set(self.priors))
        for name, prior in self.priors.items():
            _check_prior(prior, self.model_spec)
        check_conventions(self.model_spec, self.priors)
        for name in self.model_spec.divisors:
            if name in self.priors and d.reaches_zero(self.priors[name].dist):
                raise DomainError(f"the prior reaches 0 and the {self.model} model divides by it, so its outputs "
                                  "would have no finite mean; keep it away from 0 (e.g. lower = a small "
                                  "positive value, or a log-normal)", key=name, file=self.priors[name].file or None)
        self._check_fixed_values()
        missing = [n for n in self.sampled if n not in self.design_inputs]
        if self.design_inputs and missing:
            raise ConfigError(f"design_inputs must include every sampled input; {missing[0]!r} is missing",
                              key="design_inputs")
        for output in self.summary.outputs:
            if output not in self.model_spec.outputs:
                hint = did_you_mean(output, self.model_spec.outputs)
                raise ConfigError(f"{output!r} is not an output of the {self.model} model{hint}",
                                  key="summary.outputs")
        self.cholesky  # noqa: B018 -- validates the correlations

    def _check_fixed_values(self) -> None:
        """The model's ``[[checks]]`` that the fixed values and defaults decide, before anything is sampled."""
        check = getattr(self.model_spec, "check_values", None)
        if check is None:
            return
        fixed = {n: float(p.dist.value) * self.scales.get(n, 1.0) for n, p in self.priors.items() if p.fixed}
        try:
            check(fixed)
        except DomainError as error:
            raise located_check(error, self) from None

    @property
    def main(self) -> str:
        """The main output (the model's): headline, thresholds and report."""
        return self.model_spec.main

    @property
    def design(self) -> tuple[str, ...]:
        """The inputs the sampling design spans, one dimension each.

        The sampled inputs, unless :attr:`design_inputs` names more: scenarios of one
        file share one design over all their inputs, so that with LHS and Sobol'
        an input shared by two scenarios gets the same uniforms in both (paired).
        """
        return self.design_inputs or self.sampled

    @property
    def identity(self) -> dict:
        """Everything that determines the draws and their summary, as JSON-able data."""
        return {"model": model_identity(self.model_spec), "method": self.method, "samples": self.samples,
                "chains": self.chains,
                "priors": {n: repr(p.dist) for n, p in sorted(self.priors.items())},
                "correlations": [[*c.inputs, c.rank] for c in self.correlations],
                "design": list(self.design), "summary": repr(self.summary)}

    @functools.cached_property
    def scales(self) -> dict[str, float]:
        """Factors that take each input from its prior's unit to the model's (only those != 1)."""
        out = {}
        for name, prior in self.priors.items():
            factor = parse_unit(prior.unit).factor_to(parse_unit(self.model_spec.quantities[name].unit))
            if factor != 1.0:
                out[name] = factor
        return out

    @functools.cached_property  # asked for in every block of every task
    def sampled(self) -> tuple[str, ...]:
        """Inputs drawn from a distribution, in a stable (sorted) order."""
        return tuple(sorted(n for n, p in self.priors.items() if not p.fixed))

    @property
    def draws(self) -> int:
        """Draws per chain (``samples / chains``, rounded up)."""
        return -(-self.samples // self.chains)

    @property
    def digest(self) -> str:
        """SHA-256 of the experiment text."""
        return hashlib.sha256(self.text.encode()).hexdigest()

    @functools.cached_property
    def cholesky(self) -> np.ndarray | None:
        """Cholesky factor of the copula correlation over :attr:`sampled` (read-only), or None."""
        if not self.correlations:
            return None
        names = self.sampled
        matrix = np.eye(len(names))
        for i, c in enumerate(self.correlations):
            for name in c.inputs:
                if name not in names:
                    why = "is fixed" if name in self.priors else "has no prior"
                    raise ConfigError(f"{name!r} {why}; only sampled inputs can be correlated",
                                      key=f"correlations[{i}].inputs")
            a, b = (names.index(n) for n in c.inputs)
            matrix[a, b] = matrix[b, a] = pearson_from_spearman(c.rank)
        try:
            factor = np.linalg.cholesky(matrix)
        except np.linalg.LinAlgError:
            raise ConfigError("the rank correlations together are not a valid (positive definite) "
                              "correlation matrix", key="correlations") from None
        factor.setflags(write=False)  # one array for every caller
        return factor


def located_check(error: OverhangError, experiment: Experiment) -> OverhangError:
    """A failed model check, naming the file of the prior it is about (else the experiment's)."""
    prior = experiment.priors.get(error.key or "")
    return error.located(file=(prior.file if prior is not None else "") or experiment.path or None)


def model_identity(model: Model) -> dict:
    """What a model computes, as JSON-able data: its quantities and formulas, or its function's name."""
    if isinstance(model, FormulaModel):
        return {"name": model.name, "main": model.main,
                "quantities": {n: [q.unit, q.formula, q.default, q.overridable, q.low, q.high]
                               for n, q in model.quantities.items()},
                **({"checks": [[c.condition, c.key] for c in model.checks]} if model.checks else {})}
    function = getattr(model, "function", None)
    return {"name": model.name, "function": f"{getattr(function, '__module__', '')}."
                                           f"{getattr(function, '__qualname__', repr(function))}"}


def _check_prior(prior: Prior, model: Model) -> None:
    """`prior`'s unit converts to its quantity's, and its support lies in the quantity's domain."""
    quantity = model.quantities[prior.name]
    try:
        factor = parse_unit(prior.unit).factor_to(parse_unit(quantity.unit))
    except UnitError:
        raise ConfigError(f"unit is {prior.unit!r} but {prior.name} is in {quantity.unit!r} in the {model.name} "
                          "model, and they do not convert", key=f"{prior.name}.unit", file=prior.file or None) from None
    support = prior.dist.support()
    low, high = (v * factor for v in support)
    domain_low, domain_high = quantity.domain
    # no mass at or below 0 when the support starts above it (and no cdf call: a Beta's imports scipy.special)
    atom_at_low = quantity.low is None and support[0] <= 0 and float(prior.dist.cdf(0.0)) > 0
    if low < domain_low or high > domain_high or atom_at_low:
        raise DomainError(f"prior reaches [{low:g}, {high:g}] {quantity.unit}, outside the physical domain "
                          f"{quantity.domain_text}; truncate it with lower/upper", key=prior.name,
                          file=prior.file or None)


def default_experiment_path() -> Path:
    """Path of the baseline experiment shipped inside the package.

    A wheel carries it under ``overhang_sim/data``; an editable install of a source
    checkout reads it from the checkout's ``experiments/`` folder.
    """
    packaged = Path(str(resources.files("overhang_sim") / "data" / "experiments" / "baseline.toml"))
    checkout = Path(__file__).resolve().parents[2] / "experiments" / "baseline.toml"
    return packaged if packaged.exists() or not checkout.exists() else checkout


def load_priors(path: str | Path) -> dict[str, Prior]:
    """Read a priors file: one table per input.

    Raises
    ------
    OverhangError
        Naming the file and the key, for any malformed entry.
    """
    _, table = read_toml(path)
    try:
        return {name: parse_prior(name, entry, file=str(path)) for name, entry in table.items()}
    except OverhangError as error:
        raise error.located(file=str(path)) from None


def parse_prior(name: str, entry: object, file: str = "") -> Prior:
    """Build a :class:`Prior` from one TOML table."""
    if not isinstance(entry, dict):
        raise ConfigError(f"must be a table like [{name}], not {type(entry).__name__}", key=name)
    try:
        dist = parse_distribution(entry)
        unit = entry.get("unit")
        if not isinstance(unit, str):
            raise ConfigError("is missing; every prior states its unit", key="unit")
        source = entry.get("source", "")
        if not isinstance(source, str):
            raise ConfigError("must be a string", key="source")
        conventions = {c: check_value(c, entry[c]) for c in CONVENTIONS if c in entry}
        asked = _asked(entry)
    except OverhangError as error:
        raise error.located(prefix=name) from None
    return Prior(name, dist, unit, source, file, **conventions, asked=asked)


def _asked(entry: Mapping) -> tuple:
    """The quantiles a fitted prior was asked to have, () for a prior given by its parameters."""
    family = entry.get("dist", "fixed" if "value" in entry else None)
    if not _elicited(entry, family):
        return ()
    from .elicitation import asked_quantiles

    return asked_quantiles(entry)


def parse_distribution(entry: Mapping, depth: int = 0) -> d.Distribution:
    """Build a distribution from a TOML table such as ``{dist = "lognormal", p05 = 1, p95 = 10}``.

    Lists become tuples (specs are frozen and hashable); a mixture's components are
    parsed the same way, at most :data:`MAX_NESTING` deep.
    """
    family = entry.get("dist", "fixed" if "value" in entry else None)
    if _elicited(entry, family):
        return _fitted(entry, family)
    if family is None:
        raise ConfigError("is missing (or give 'value' for a fixed input)", key="dist")
    if not isinstance(family, str) or family not in d.FAMILIES:
        hint = did_you_mean(family, d.FAMILIES) if isinstance(family, str) else ""
        raise ConfigError(f"unknown family {family!r:.40}{hint}; choose one of {', '.join(d.FAMILIES)} "
                          "(or metalog, from quantiles)", key="dist")
    cls, required, optional = d.FAMILIES[family]
    params = {k: v for k, v in entry.items() if k not in PRIOR_KEYS}
    for key in params:
        if key not in required + optional:
            hint = did_you_mean(key, required + optional + PRIOR_KEYS)
            raise ConfigError(f"unknown key for a {family} prior{hint}", key=key)
    for key in required:
        if key not in params:
            raise ConfigError(f"is missing; a {family} prior needs {', '.join(required)}", key=key)
    for key in ("values", "weights", "components"):
        if key in params:
            params[key] = tuple(_sequence(key, params[key]))
    if family == "mixture":
        if depth >= MAX_NESTING:
            raise ConfigError(f"mixtures nest more than {MAX_NESTING} deep", key="components")
        params["components"] = tuple(_component(i, c, depth + 1) for i, c in enumerate(params["components"]))
    dist = cls(**params)
    if "lower" in entry or "upper" in entry:
        dist = d.Truncated(dist, entry.get("lower", -math.inf), entry.get("upper", math.inf))
    return dist


def _elicited(entry: Mapping, family) -> bool:
    """Whether `entry` gives quantiles to fit rather than a family's parameters (see :mod:`.elicitation`)."""
    from .elicitation import uses_quantiles

    return (family is None or isinstance(family, str)) and uses_quantiles(entry, family)


def _fitted(entry: Mapping, family: str | None) -> d.Distribution:
    """A prior fitted to the quantiles `entry` gives: a metalog, or the named family by least squares."""
    from .elicitation import FITTED_FAMILIES, QUANTILE_KEY, from_quantiles

    family = family or "metalog"
    if family != "metalog" and family not in FITTED_FAMILIES:
        if not isinstance(family, str) or family not in d.FAMILIES:
            hint = did_you_mean(family, [*FITTED_FAMILIES, "metalog"]) if isinstance(family, str) else ""
            raise ConfigError(f"unknown family {family!r:.40}{hint} to fit to quantiles; choose metalog or one of "
                              f"{', '.join(FITTED_FAMILIES)}", key="dist")
        raise ConfigError(f"a {family} prior cannot be fitted to quantiles; use metalog or one of "
                          f"{', '.join(FITTED_FAMILIES)}", key="dist")
    own = ("terms",) if family == "metalog" else d.FAMILIES[family].optional
    allowed = (*PRIOR_KEYS, "quantiles", *own)
    for key in entry:
        if key not in allowed and not QUANTILE_KEY.fullmatch(key):
            hint = did_you_mean(key, allowed)
            raise ConfigError(f"unknown key for a {family} prior fitted to quantiles{hint}", key=key)
    return from_quantiles({**entry, "dist": family})


def _component(i, entry, depth):
    if not isinstance(entry, dict):
        raise ConfigError("must be a table with a 'dist' key", key=f"components[{i}]")
    try:
        return parse_distribution(entry, depth)
    except OverhangError as error:
        raise error.located(prefix=f"components[{i}]") from None


def load_experiment(path: str | Path | None = None) -> Experiment:
    """Read and check an experiment file (the embedded baseline when `path` is None).

    Prior files are resolved relative to the experiment file; ``[overrides.NAME]``
    tables replace single priors.

    Examples
    --------
    >>> from overhang_sim import load_experiment, simulate, summarize
    >>> experiment = load_experiment()            # the embedded baseline
    >>> summary = summarize(simulate(experiment, seed=1))
    """
    path = default_experiment_path() if path is None else Path(path)
    text, table = read_toml(path)
    if "axes" in table or "scenarios" in table:  # its correlations may name inputs of another scenario's model
        from .scenarios import file_models

        cache: dict = {}
        return experiment_from_table(table, text, path, models=file_models(table, path, cache) or None, cache=cache)
    return experiment_from_table(table, text, path)


def experiment_from_table(table: dict, text: str, path: str | Path,
                          extra_keys: tuple[str, ...] = ("axes", "scenarios", "frontier"),
                          models: tuple[Model, ...] | None = None, cache: dict | None = None,
                          unit_from_model: frozenset[str] = frozenset()) -> Experiment:
    """Build and check an :class:`Experiment` from the parsed TOML `table` of file `path`.

    `extra_keys` are top-level keys another layer handles (the scenario axes, the frontier);
    they are accepted and ignored here. `models` are all the models the file's
    scenarios use (default: this table's): a correlation must name inputs of one of
    them, and applies where its model has both. `cache` keeps the prior files and
    model files already read (scenarios of one file share it). Overrides of the
    inputs in `unit_from_model` may leave out ``unit`` (an axis wrote them).
    """
    path = Path(path)
    file = str(path)
    try:
        _known_keys(table, EXPERIMENT_KEYS + extra_keys)
        if "model" not in table:
            raise ConfigError("is missing: a model's name, a model file (NAME.toml) or a [model] table",
                              key="model")
        model = cached_model(table["model"], path, cache)
        priors = _file_priors(table, path, model, cache)
        inputs = model.inputs
        correlations = _correlations(table.get("correlations", []))
        _check_correlation_names(correlations, models or (model,))
        overrides = table.get("overrides", {})
        if not isinstance(overrides, dict):
            raise ConfigError("must be a table of [overrides.NAME] tables", key="overrides")
        for name, entry in overrides.items():
            try:
                if name not in inputs:
                    raise ModelInputError(f"is not an input of the {model.name} model{did_you_mean(name, inputs)}",
                                          key=name)
                if name in unit_from_model and isinstance(entry, dict):
                    entry = {"unit": model.quantities[name].unit, **entry}
                priors[name] = parse_prior(name, entry, file)
            except OverhangError as error:
                raise error.located(prefix="overrides") from None
        used = {n: p for n, p in priors.items() if n in inputs}
        options = {k: _whole(table[k]) for k in ("samples", "chains", "method", "seed", "description")
                   if k in table}
        return Experiment(
            name=_string(table, "name"),
            model=model.name,
            model_spec=model,
            priors=used,
            correlations=tuple(c for c in correlations if set(c.inputs) <= set(inputs)),
            summary=_summary(table.get("summary", {})),
            text=text,
            path=file,
            **options,
        )
    except OverhangError as error:
        if error.file:
            raise
        raise error.located(file=file) from None


def _file_priors(table: dict, path: Path, model: Model, cache: dict | None) -> dict[str, Prior]:
    """The priors of the files `table` lists, later files winning; a name no model knows is an error."""
    priors: dict[str, Prior] = {}
    known = {*quantity_names(), *model.quantities}
    for i, prior_file in enumerate(_sequence("priors", table.get("priors", []))):
        if not isinstance(prior_file, str) or not prior_file.strip():
            raise ConfigError(f"must be a file name, not {prior_file!r:.40}", key=f"priors[{i}]")
        if (path.parent / prior_file).is_dir():
            raise ConfigError(f"{prior_file!r} is a folder, not a priors file", key=f"priors[{i}]")
        for name, prior in _cached_priors(path.parent / prior_file, cache).items():
            if name not in known:
                raise ConfigError(f"is not a quantity of the {model.name} model or of any shipped model"
                                  f"{did_you_mean(name, known)}", file=prior.file, key=name)
            priors[name] = prior
    return priors


def _cached_priors(path: Path, cache: dict | None) -> dict[str, Prior]:
    if cache is None:
        return load_priors(path)
    key = ("priors", str(path.resolve()))
    if key not in cache:
        cache[key] = load_priors(path)
    return cache[key]


def cached_model(spec: object, path: str | Path, cache: dict | None) -> Model:
    """:func:`~overhang_sim.models.resolve_model`, each distinct spec of one file resolved once."""
    if cache is None:
        return resolve_model(spec, path)
    key = ("model", repr(spec))
    if key not in cache:
        cache[key] = resolve_model(spec, path)
    return cache[key]


def _check_correlation_names(correlations, models) -> None:
    """Every input a correlation names is an input of one of `models` (else a did-you-mean error)."""
    known = {n for m in models for n in m.inputs}
    quantities = {n for m in models for n in m.quantities} | quantity_names()
    names = " or ".join(sorted({m.name for m in models}))
    for i, c in enumerate(correlations):
        for name in c.inputs:
            if name not in known:
                what = "an output" if name in quantities else "not a quantity"
                raise ConfigError(f"{name!r} is {what}, not an input of the {names} model"
                                  f"{did_you_mean(name, known)}", key=f"correlations[{i}].inputs")


def _correlations(entries):
    out = []
    for i, entry in enumerate(_sequence("correlations", entries)):
        if not isinstance(entry, dict):
            raise ConfigError("must be a table with inputs and rank", key=f"correlations[{i}]")
        try:
            _known_keys(entry, ("inputs", "rank"))
            names = tuple(_sequence("inputs", entry.get("inputs", [])))
            for j, name in enumerate(names):
                if not isinstance(name, str):
                    raise ConfigError(f"must be an input's name, not {name!r:.40}", key=f"inputs[{j}]")
            out.append(Correlation(names, entry.get("rank")))
        except OverhangError as error:
            raise error.located(prefix=f"correlations[{i}]") from None
    return tuple(out)


def _summary(entry):
    if not isinstance(entry, dict):
        raise ConfigError("must be a table", key="summary")
    try:
        _known_keys(entry, SUMMARY_KEYS)
        return SummarySpec(**{k: tuple(_sequence(k, v)) for k, v in entry.items()})
    except OverhangError as error:
        raise error.located(prefix="summary") from None


def read_toml(path: Path | str) -> tuple[str, dict]:
    try:
        text = Path(path).read_text(encoding="utf-8")
        table = tomllib.loads(text)
    except FileNotFoundError:
        raise ConfigError("no such file", file=str(path)) from None
    except IsADirectoryError:
        raise ConfigError("is a folder, not a TOML file", file=str(path)) from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"cannot read: {error}", file=str(path)) from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"invalid TOML: {' '.join(str(error).split())}", file=str(path)) from None
    except RecursionError:
        raise ConfigError("tables or lists are nested too deeply to read", file=str(path)) from None
    check_strings(table, str(path))
    return text, table


def check_strings(table, file: str, prefix: str = "") -> None:
    """Refuse control characters (NUL …) in any string of a parsed TOML table: they cannot be saved."""
    items = table.items() if isinstance(table, dict) else enumerate(table)
    for key, value in items:
        where = f"{prefix}[{key}]" if isinstance(key, int) else f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, str) and any(ord(c) < 32 and c not in "\t\n\r" for c in value):
            raise ConfigError("contains a control character (such as NUL); remove it", file=file, key=where)
        if isinstance(key, str) and any(ord(c) < 32 for c in key):
            raise ConfigError("a key contains a control character (such as NUL)", file=file, key=where)
        if isinstance(value, dict | list):
            check_strings(value, file, where)


def _known_keys(table, allowed):
    for key in table:
        if key not in allowed:
            raise ConfigError(f"unknown key{did_you_mean(key, allowed)}", key=key)


def _string(table, key):
    value = table.get(key)
    if not isinstance(value, str) or not value:
        raise ConfigError("must be a non-empty string", key=key)
    return value


def _sequence(key, value):
    if not isinstance(value, list):
        raise ConfigError(f"must be a list, not {type(value).__name__}", key=key)
    return value


def _whole(value):
    """``1e6`` in TOML is a float; accept it where a whole number is meant."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _number(value):
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an integer beyond float64
        return False


def _magnitude(value: int) -> str:
    """A whole number for a message, however large (``10**400`` cannot become a float)."""
    digits = str(abs(int(value)))
    sign = "-" if value < 0 else ""
    return f"{sign}{digits[0]}.{digits[1:3]}e+{len(digits) - 1}" if len(digits) > 6 else f"{sign}{digits}"


def _integer(value):
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _probabilities(key, values, closed):
    for i, p in enumerate(values):
        inside = _number(p) and (0 <= p <= 1 if closed else 0 < p < 1)
        if not inside:
            bounds = "[0, 1]" if closed else "(0, 1)"
            raise ConfigError(f"must be a probability in {bounds}, not {p!r}", key=f"{key}[{i}]")
