"""Scenario axes: one experiment file -> a grid of checked experiments.

An experiment file may declare axes; every combination of their values is a
scenario, an :class:`~overhang_sim.config.Experiment` of its own, built by the
same checks as a plain file after the axis values are written into the file's
table. Two spellings, which combine into one grid::

    [[axes]]                              # a grid axis
    name = "required_tokens_per_s"        # an input: its fixed value per scenario
    values = [10, 30, 50]

    [[axes]]
    name = "year"                         # any other name: `set` says what each value sets
    values = [2024, 2025]
    set.cluster_gpus = [{dist = "lognormal", p05 = 2e4, p95 = 8e4},
                        {dist = "lognormal", p05 = 5e4, p95 = 2e5}]

    [[scenarios]]                         # named scenarios: together one axis "scenario"
    name = "seed 000"
    model = "throughput"                  # optional: model, priors (files), set.INPUT
    priors = ["../priors/seed000.toml"]
    set.required_tokens_per_s = 30

What a value may set: ``model`` (a model name), ``priors`` (a list of prior files,
replacing the file's list) and any input of the model: a number fixes it (in the
input's unit), a table is its prior (``unit`` defaults to the input's).
"""

from __future__ import annotations

import copy
import dataclasses
import itertools
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import xarray as xr

from .config import Experiment, cached_model, default_experiment_path, experiment_from_table, read_toml
from .errors import ConfigError, OverhangError, did_you_mean
from .models import quantity_names

__all__ = ["MAX_SCENARIOS", "RESERVED", "ScenarioSet", "load_scenarios", "scenarios_from_table", "stack_scenarios"]

AXIS_KEYS = ("name", "values", "set", "weights", "description")
SCENARIO_KEYS = ("name", "description", "model", "priors", "set", "weight")
MAX_SCENARIOS = 10_000  # a larger grid is refused before it is expanded
# Every dimension, coordinate and variable name a result or a summary uses: an axis of
# the same name would collide with it when the scenarios are stacked.
RESERVED = frozenset({
    "chain", "draw", "scenario_index",
    "output", "scale", "prob", "interval", "threshold", "unit", "long_name",
    "input", "measure", "input_unit", "output_unit", "output_long_name", "measure_unit", "measure_long_name",
    "mean", "mean_mcse", "quantile", "quantile_mcse", "eti_lower", "eti_upper", "eti_lower_mcse",
    "eti_upper_mcse", "hdi_lower", "hdi_upper", "hdi_lower_mcse", "hdi_upper_mcse", "prob_at_least",
    "prob_at_least_mcse", "estimate", "lower", "upper", "rank", "tornado_at_p05", "tornado_at_p95",
    "tornado_median", "voi_width",
    "weight", "variance_share", "variance_share_mcse", "between_variance", "between_variance_mcse",
    "total_variance", "total_variance_mcse", "conditional_mean", "conditional_mean_mcse",
})
POOLED = "pooled_"  # the summary of the mixture over a weighted axis: pooled_quantile, ...


@dataclass(frozen=True)
class ScenarioSet:
    """The scenarios of one experiment file, in grid order (last axis fastest).

    Attributes
    ----------
    dims : tuple of str
        Axis names; empty for a file without axes (one scenario).
    coords : dict of str to tuple
        Each axis's values.
    experiments : tuple of Experiment
        One per grid cell, ``len == prod(shape)``.
    fixed_axes : tuple of str
        Axes that are an input's fixed value: that input is the coordinate itself.
    text, path : str
        The experiment file's text and path (provenance).
    weights : dict of str to tuple of float
        The weighted axis, if any: the credence in each of its values (they sum to 1).
        Its scenarios are also pooled into one mixture (:mod:`~overhang_sim.pooling`).
    """

    dims: tuple[str, ...]
    coords: dict
    experiments: tuple[Experiment, ...]
    fixed_axes: tuple[str, ...] = ()
    text: str = ""
    path: str = ""
    weights: dict = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, ...]:
        """Length of each axis."""
        return tuple(len(self.coords[d]) for d in self.dims)

    @property
    def base(self) -> Experiment:
        """The first scenario (name, seed, design and summary are shared by all)."""
        return self.experiments[0]

    def labels(self, index: int) -> dict:
        """Axis values of scenario number `index`, e.g. ``{"required_tokens_per_s": 30}``."""
        cell = _unravel(index, self.shape)
        return {d: self.coords[d][i] for d, i in zip(self.dims, cell)}


def load_scenarios(path: str | Path | None = None) -> ScenarioSet:
    """Read an experiment file and expand its scenario axes (the embedded baseline if None)."""
    path = default_experiment_path() if path is None else Path(path)
    text, table = read_toml(path)
    return scenarios_from_table(table, text, path)


def scenarios_from_table(table: dict, text: str, path: str | Path) -> ScenarioSet:
    """Expand the axes of a parsed experiment file into checked experiments."""
    file = str(path)
    cache: dict = {}
    try:
        known = _known_names(table, path, cache)
        axes = _axes(table, known)
        weights = _weights(table)
        dims = tuple(a[0] for a in axes)
        coords = {name: tuple(values) for name, values, _ in axes}
        fixed_axes = tuple(name for name, _, sets in axes if sets == {name: list(coords[name])}
                           and name in known)
        count = math.prod(len(values) for _, values, _ in axes)
        if count > MAX_SCENARIOS:
            raise ConfigError(f"the axes make {count:,} scenarios; at most {MAX_SCENARIOS:,} are run from one "
                              "file (split it into several)", key="axes")
        variants, labels = [], []
        base = {k: v for k, v in table.items() if k not in ("axes", "scenarios")}  # a copy each: not the axes' values
        for cell in itertools.product(*(range(len(values)) for _, values, _ in axes)):
            variant = copy.deepcopy(base)
            labels.append(", ".join(f"{name}={values[i]}" for (name, values, _), i in zip(axes, cell)))
            for (name, _, sets), i in zip(axes, cell):
                for key, values in sets.items():
                    _apply(variant, key, values[i], name)
            variants.append(variant)
        models = _models_of(variants, path, cache)
        _own_outputs(variants, path, cache)
        unit_from_model = frozenset(k for _, _, sets in axes for k in sets if k not in ("model", "priors"))
        experiments = []
        for variant, label in zip(variants, labels):
            try:
                experiments.append(experiment_from_table(variant, text, path, models=models or None, cache=cache,
                                                         unit_from_model=unit_from_model))
            except OverhangError as error:
                where = f"scenario {label}: " if label else ""
                raise type(error)(where + error.problem, file=error.file, key=error.key) from None
    except OverhangError as error:
        raise (error if error.file else error.located(file=file)) from None
    return ScenarioSet(dims, coords, _shared_design(experiments), fixed_axes, text, file, weights)


def _weights(table: dict) -> dict[str, tuple[float, ...]]:
    """The weighted axis (at most one): ``weights`` of an [[axes]] entry, or ``weight`` of every [[scenarios]]."""
    from .pooling import check_weights  # pooling needs this module's names

    found = {}
    for i, axis in enumerate(table.get("axes", [])):
        if "weights" in axis:
            found[axis["name"]] = tuple(check_weights(axis["weights"], axis["values"], key=f"axes[{i}].weights"))
    scenarios = table.get("scenarios", [])
    weighted = [i for i, entry in enumerate(scenarios) if "weight" in entry]
    if weighted and len(weighted) < len(scenarios):
        missing = next(i for i in range(len(scenarios)) if i not in weighted)
        raise ConfigError("is missing: give every [[scenarios]] a weight, or none", key=f"scenarios[{missing}].weight")
    if weighted:
        found["scenario"] = tuple(check_weights([e["weight"] for e in scenarios], scenarios, key="scenarios.weight"))
    if len(found) > 1:
        raise ConfigError(f"only one axis may be weighted (the pooled distribution mixes along it), not "
                          f"{', '.join(found)}", key="axes")
    return found


def _model_entries(table: dict) -> list:
    """Every ``model`` entry of a file, before any check: its own, its axes' and its scenarios'."""
    entries = [table.get("model")]
    for axis in table.get("axes", []) if isinstance(table.get("axes"), list) else []:
        if isinstance(axis, dict):
            sets = axis.get("set") if isinstance(axis.get("set"), dict) else {}
            if axis.get("name") == "model" and "set" not in axis and isinstance(axis.get("values"), list):
                entries += axis["values"]
            if isinstance(sets.get("model"), list):
                entries += sets["model"]
    for scenario in table.get("scenarios", []) if isinstance(table.get("scenarios"), list) else []:
        if isinstance(scenario, dict) and "model" in scenario:
            entries.append(scenario["model"])
    return entries


def _known_names(table: dict, path, cache: dict) -> set[str]:
    """Quantity names an axis may fix or set: the shipped models' and those of the models this file uses."""
    known = set(quantity_names())
    for entry in _model_entries(table):
        try:
            known |= set(cached_model(entry, path, cache).quantities)
        except OverhangError:
            pass  # reported where the scenario that uses it is built
    return known


def _own_outputs(variants: list[dict], path, cache: dict) -> None:
    """With several models, each scenario summarises the listed outputs its model has.

    An output only some of the models produce (the roofline's ``compute_binds``) is then
    summarised where it exists and is NaN elsewhere (and is not pooled); an output no
    scenario's model produces is left in, to be refused with the first scenario's model.
    """
    resolved = []
    for variant in variants:
        try:
            resolved.append(set(cached_model(variant.get("model"), path, cache).outputs))
        except OverhangError:
            return  # reported with its scenario
    if len({frozenset(r) for r in resolved}) < 2:
        return
    for variant, outputs in zip(variants, resolved):
        summary = variant.get("summary")
        listed = summary.get("outputs") if isinstance(summary, dict) else None
        if not isinstance(listed, list):
            continue
        if any(o not in set().union(*resolved) for o in listed if isinstance(o, str)):
            continue  # an output of no model: the scenario's own check names it
        kept = [o for o in listed if o in outputs]
        if kept:
            summary["outputs"] = kept


def file_models(table: dict, path, cache: dict) -> tuple:
    """Every model a parsed experiment file uses (its own, its axes' and its scenarios'), as far as they resolve."""
    found = {}
    for entry in _model_entries(table):
        try:
            model = cached_model(entry, path, cache)
        except OverhangError:
            continue  # reported where the experiment that uses it is built
        found.setdefault(model.name, model)
    return tuple(found.values())


def _models_of(variants: list[dict], path, cache: dict) -> tuple:
    """The distinct models of the scenarios (for the correlation names), as far as they resolve."""
    found = {}
    for variant in variants:
        try:
            model = cached_model(variant.get("model"), path, cache)
        except OverhangError:
            continue  # reported with its scenario
        found.setdefault(model.name, model)
    return tuple(found.values())


def _shared_design(experiments: list[Experiment]) -> tuple[Experiment, ...]:
    """Give every scenario one design over all the file's sampled inputs.

    With LHS and Sobol' the design is joint over its dimensions, so scenarios that
    sample different inputs would otherwise draw a shared input differently and a
    comparison would not be paired. (Plain Monte Carlo streams are keyed by input
    name and need no help, but the rule is the same for every method.)
    """
    union = tuple(sorted({n for e in experiments for n in e.sampled}))
    if all(e.sampled == union for e in experiments):
        return tuple(experiments)
    return tuple(dataclasses.replace(e, design_inputs=union) for e in experiments)


def _axes(table, known):
    """[(name, values, {key: values})] from [[axes]] and [[scenarios]], checked."""
    entries = table.get("axes", [])
    if not isinstance(entries, list):
        raise ConfigError("must be an array of [[axes]] tables", key="axes")
    axes = [_axis(i, entry, known) for i, entry in enumerate(entries)]
    if "scenarios" in table:
        axes.append(_named_scenarios(table["scenarios"], known))
    names = [a[0] for a in axes]
    for i, name in enumerate(names):
        if name in names[:i]:
            raise ConfigError(f"axis {name!r} is declared twice", key=f"axes[{i}].name")
    set_by = {}
    for name, _, sets in axes:
        for key in sets:
            if key in set_by:
                raise ConfigError(f"{key!r} is set by both axis {set_by[key]!r} and axis {name!r}",
                                  key=f"axes.{name}")
            set_by[key] = name
            if key in table.get("overrides", {}):
                raise ConfigError(f"axis {name!r} sets {key!r}, which [overrides.{key}] already fixes; "
                                  "remove one of them", key=f"overrides.{key}")
    return axes


def _table(entry, key: str, allowed: tuple[str, ...], what: str) -> dict:
    """`entry` checked to be a table with only `allowed` keys."""
    if not isinstance(entry, dict):
        raise ConfigError(f"must be a table with {what}", key=key)
    for k in entry:
        if k not in allowed:
            raise ConfigError(f"unknown key{did_you_mean(k, allowed)}", key=f"{key}.{k}")
    return entry


def _axis(i, entry, known):
    key = f"axes[{i}]"
    _table(entry, key, AXIS_KEYS, "name and values")
    name = entry.get("name")
    if not isinstance(name, str) or not name.isidentifier():
        raise ConfigError(f"must be a name like required_tokens_per_s, not {name!r}", key=f"{key}.name")
    if name in RESERVED or name.startswith(POOLED):
        raise ConfigError(f"{name!r} is reserved for the result's own dimensions", key=f"{key}.name")
    values = entry.get("values")
    if not isinstance(values, list) or not values:
        raise ConfigError("must be a non-empty list (an empty axis leaves no scenario)", key=f"{key}.values")
    for j, v in enumerate(values):
        if isinstance(v, bool) or not isinstance(v, (int, float, str)) or (isinstance(v, float)
                                                                          and not math.isfinite(v)):
            raise ConfigError(f"must be a number or a string, not {v!r}", key=f"{key}.values[{j}]")
        if v in values[:j]:
            raise ConfigError(f"{v!r} appears twice; axis values label scenarios and must differ",
                              key=f"{key}.values[{j}]")
    sets = entry.get("set")
    if sets is None:
        if name == "model" or name in known:
            sets = {name: values}
        else:
            raise ConfigError(f"{name!r} is neither an input nor 'model'; say what each value sets with "
                              f"set.INPUT = [...]{did_you_mean(name, known)}", key=f"{key}.set")
    elif name in known:
        raise ConfigError(f"an axis named after the quantity {name!r} fixes it; give it no 'set' or "
                          "another name", key=f"{key}.name")
    return name, values, _sets(sets, len(values), f"{key}.set", known)


def _sets(sets, n, key, known):
    if not isinstance(sets, dict) or not sets:
        raise ConfigError("must be a table like set.cluster_gpus = [...]", key=key)
    for k, values in sets.items():
        if k not in ("model", "priors") and k not in known:
            raise ConfigError(f"can set model, priors or an input{did_you_mean(k, known)}",
                              key=f"{key}.{k}")
        if not isinstance(values, list) or len(values) != n:
            raise ConfigError(f"must be a list of {n} entries, one per axis value", key=f"{key}.{k}")
    return sets


def _named_scenarios(entries, known):
    if not isinstance(entries, list) or not entries:
        raise ConfigError("must be a non-empty array of [[scenarios]] tables", key="scenarios")
    names, sets = [], {}
    for i, entry in enumerate(entries):
        key = f"scenarios[{i}]"
        _table(entry, key, SCENARIO_KEYS, "a name")
        name = entry.get("name")
        if not isinstance(name, str) or not name:
            raise ConfigError("must be a non-empty string", key=f"{key}.name")
        if name in names:
            raise ConfigError(f"scenario name {name!r} is used twice", key=f"{key}.name")
        names.append(name)
        chosen = {k: entry[k] for k in ("model", "priors") if k in entry}
        extra = entry.get("set", {})
        if not isinstance(extra, dict):
            raise ConfigError("must be a table like set.cluster_gpus = 1e5", key=f"{key}.set")
        chosen.update(extra)
        for k, value in chosen.items():
            if k not in ("model", "priors") and k not in known:
                raise ConfigError(f"can set model, priors or an input{did_you_mean(k, known)}",
                                  key=f"{key}.set.{k}")
            sets.setdefault(k, [None] * len(entries))[i] = value
    return "scenario", names, sets


def _apply(table, key, value, axis):
    """Write one axis value into an experiment table (None: this scenario leaves it alone)."""
    if value is None:
        return
    if key in ("model", "priors"):
        table[key] = value
        return
    # no unit: the scenario's model gives the input's (see experiment_from_table's unit_from_model)
    if isinstance(value, dict):
        entry = {"source": f"scenario axis {axis}", **value}
    else:
        entry = {"value": value, "source": f"scenario axis {axis}"}
    table.setdefault("overrides", {})[key] = entry


def _unravel(index, shape):
    cell = []
    for n in reversed(shape):
        index, i = divmod(index, n)
        cell.append(i)
    return tuple(reversed(cell))


def stack_scenarios(scenarios: ScenarioSet, datasets: list[xr.Dataset]) -> xr.Dataset:
    """One Dataset per scenario (grid order) -> one Dataset with the scenario axes as dims.

    A Dataset may also hold several consecutive scenarios along a first dim ``scenario_index``
    (a group run and summarised together, :func:`overhang_sim.batch.group_task`).
    Variables a scenario lacks are NaN there; an axis that fixes an input replaces
    that input's variable (the coordinate is the input).
    """
    if not scenarios.dims:
        return datasets[0]
    if any("scenario_index" in d.dims for d in datasets):
        datasets = [d if "scenario_index" in d.dims else d.expand_dims("scenario_index") for d in datasets]
        stacked = _stack_alike(datasets, along=True)
    else:
        stacked = _stack_alike(datasets)
    if stacked is None:
        stacked = xr.concat(datasets, dim="scenario_index", data_vars="all", coords="minimal",
                            compat="override", join="outer", combine_attrs="override")
    count = stacked.sizes["scenario_index"]
    index = {d: ("scenario_index", [scenarios.labels(i)[d] for i in range(count)])
             for d in scenarios.dims}
    stacked = stacked.drop_vars([d for d in scenarios.fixed_axes if d in stacked.data_vars])
    stacked = stacked.assign_coords(index)
    if "output" in stacked.coords and "unit" in stacked.coords:  # label outputs a first scenario lacks
        names = [str(o) for o in stacked["output"].values]
        quantities = {}
        for experiment in reversed(scenarios.experiments):
            quantities.update(experiment.model_spec.quantities)
        stacked = stacked.assign_coords(unit=("output", [quantities[o].unit for o in names]),
                                        long_name=("output", [quantities[o].long_name for o in names]))
    if len(scenarios.dims) == 1:
        stacked = stacked.swap_dims(scenario_index=scenarios.dims[0])
    else:
        stacked = stacked.set_index(scenario_index=list(scenarios.dims))
        stacked = stacked.unstack("scenario_index").transpose(*scenarios.dims, ...)
    for axis in scenarios.fixed_axes:  # the coordinate is the input: it carries the input's unit
        quantity = scenarios.base.model_spec.quantities[axis]
        stacked[axis].attrs = {"units": quantity.unit, "long_name": quantity.long_name or axis}
    return stacked


def _stack_alike(datasets: list[xr.Dataset], along: bool = False) -> xr.Dataset | None:
    """The datasets stacked along a new first dim ``scenario_index`` with numpy (`along`: concatenated
    along the first dim ``scenario_index`` they have), or None unless they are alike.

    Alike: the same variables, each with the same dims, shape (but along ``scenario_index``) and dtype,
    and equal coordinates, as the scenarios of a grid that differ only in values. The result is what
    ``xr.concat`` gives (``data_vars="all"``, the first's coordinates and attrs) for those, in one step
    instead of aligning and copying per dataset, which took most of the time of a grid of small scenarios.
    Variables are read as ``Dataset.variables`` (``ds[name]`` builds a DataArray: ~0.1 ms each).
    """
    first = datasets[0]
    names = list(first.data_vars)
    if any(not _alike(first, d, names, along) for d in datasets[1:]):
        return None
    if along:
        data = {n: xr.Variable(first.variables[n].dims, np.concatenate([d.variables[n].values for d in datasets]),
                               first.variables[n].attrs) for n in names}
    else:
        data = {n: xr.Variable(("scenario_index", *first.variables[n].dims),
                               np.stack([d.variables[n].values for d in datasets]), first.variables[n].attrs)
                for n in names}
    return xr.Dataset(data, coords=first.coords, attrs=first.attrs)


def _alike(first: xr.Dataset, other: xr.Dataset, names: list[str], along: bool = False) -> bool:
    """`other` has `first`'s data variables `names` (same dims, shape -- but the first, `along` -- and dtype)
    and equal coordinates."""
    mine, theirs = first.variables, other.variables
    if list(other.data_vars) != names or set(other.coords) != set(first.coords):
        return False
    if along and any(theirs[n].dims[:1] != ("scenario_index",) or mine[n].dims[:1] != ("scenario_index",)
                     for n in names):
        return False
    cut = 1 if along else 0
    if any((theirs[n].dims, theirs[n].shape[cut:], theirs[n].dtype) != (mine[n].dims, mine[n].shape[cut:], mine[n].dtype)
           for n in names):
        return False
    return all(theirs[c].dims == mine[c].dims and np.array_equal(theirs[c].values, mine[c].values)
               for c in first.coords)
