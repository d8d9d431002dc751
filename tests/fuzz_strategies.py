"""Hypothesis strategies that mutate the shipped experiment and prior files (for test_fuzz.py).

A :class:`FuzzCase` is one shipped experiment file plus the files a mutation changed
(the experiment itself and/or one of the prior files it reads). Mutations are either
*structural*, applied to the parsed TOML table and written back with :func:`dumps`
(a small TOML writer that can also write what TOML libraries refuse to: NaN, inf,
integers beyond 64 bits, NUL characters, very deep nesting), or *textual*, applied to
the file's bytes (truncation, duplicate keys, stray bytes), which mostly gives invalid
TOML. Every case carries a one-line description of each mutation, so a failure reads as
a reproducer.

The strategies use nothing of overhang_sim but its list of quantities and models, so they
stay valid while the package is refactored. :func:`invoke` (also used by
test_corruption.py) runs one command in-process and records what a terminal would show.
"""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import gc
import io
import math
import re
import signal
import time
import tomllib
import traceback
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from unittest import mock

from hypothesis import strategies as st

from overhang_sim.models import MODELS, QUANTITIES

REPO = Path(__file__).resolve().parents[1]
EXPERIMENT_FILES = tuple(sorted(p.name for p in (REPO / "experiments").glob("*.toml")))
PRIOR_FILES = tuple(sorted(p.name for p in (REPO / "priors").glob("*.toml")))
TEXTS = {f"experiments/{n}": (REPO / "experiments" / n).read_bytes() for n in EXPERIMENT_FILES} | \
        {f"priors/{n}": (REPO / "priors" / n).read_bytes() for n in PRIOR_FILES}

INPUTS = tuple(sorted({name for m in MODELS.values() for name in m.inputs}))
OUTPUTS = tuple(sorted({name for m in MODELS.values() for name in m.outputs}))
FAMILIES = ("fixed", "lognormal", "normal", "uniform", "loguniform", "beta", "pert", "empirical", "mixture")

# --------------------------------------------------------------------------- a TOML writer


@dataclass(frozen=True)
class Deep:
    """A value nested `depth` levels deep: ``[[[...leaf...]]]`` or ``{a = {a = ...}}``.

    Kept opaque (not built as nested Python objects) so that writing and describing it
    needs no recursion.
    """

    depth: int
    kind: str = "list"  # "list" or "table"
    leaf: object = 1

    def toml(self) -> str:
        leaf = inline(self.leaf)
        if self.kind == "list":
            return "[" * self.depth + leaf + "]" * self.depth
        return "{ a = " * self.depth + leaf + " }" * self.depth

    def __repr__(self) -> str:
        return f"Deep({self.kind} x {self.depth})"


_BARE = re.compile(r"^[A-Za-z0-9_-]+$")


def escape(text: str) -> str:
    """A TOML basic string: control characters (NUL included) as \\uXXXX escapes."""
    out = ['"']
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def key(name) -> str:
    name = str(name)
    return name if _BARE.match(name) else escape(name)


def inline(value) -> str:
    """`value` as an inline TOML value (any depth; NaN, inf and big integers included)."""
    if isinstance(value, Deep):
        return value.toml()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return escape(value)
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(inline(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key(k)} = {inline(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"cannot write {value!r} as TOML")


def _is_array_of_tables(value) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def dumps(table: dict) -> str:
    """`table` as TOML text: top-level tables as ``[sections]`` (one level of sub-sections,
    as ``[overrides.NAME]``), top-level arrays of tables as ``[[sections]]``, the rest inline."""
    lines = []
    tables, arrays = {}, {}
    for k, v in table.items():
        if isinstance(v, dict):
            tables[k] = v
        elif _is_array_of_tables(v):
            arrays[k] = v
        else:
            lines.append(f"{key(k)} = {inline(v)}")
    for k, v in tables.items():
        subtables = {s: w for s, w in v.items() if isinstance(w, dict)}
        lines.append(f"\n[{key(k)}]")
        lines += [f"{key(s)} = {inline(w)}" for s, w in v.items() if s not in subtables]
        for s, w in subtables.items():
            lines.append(f"\n[{key(k)}.{key(s)}]")
            lines += [f"{key(a)} = {inline(b)}" for a, b in w.items()]
    for k, items in arrays.items():
        for item in items:
            lines.append(f"\n[[{key(k)}]]")
            lines += [f"{key(a)} = {inline(b)}" for a, b in item.items()]
    return "\n".join(lines) + "\n"


_LONG_INT = re.compile(r"(?<![\w.])(-?)1(0{24,})(?![\w.])")


def short(value, limit: int = 70) -> str:
    """`value` as TOML, cut to `limit` characters (long strings say how long they are, 10**400 is
    written so)."""
    if isinstance(value, str) and len(value) > limit:
        return f'"{value[:8]}..." ({len(value)} chars)'
    text = _LONG_INT.sub(lambda m: f"{m.group(1)}10**{len(m.group(2))}", inline(value))
    return text if len(text) <= limit else text[: limit - 12] + f"... ({len(text)} chars)"


# --------------------------------------------------------------------------- values

SPECIAL_NUMBERS = (math.nan, math.inf, -math.inf, 1e308, -1e308, 10**400, -(10**400), 2**63, 2**64,
                   -(2**63) - 1, -1, -1.0, 0, 0.0, -0.0, 5e-324, 1e-300, -1e-300, 1.5, 1e12 + 1)
special_numbers = st.sampled_from(SPECIAL_NUMBERS)
any_numbers = st.one_of(special_numbers, st.integers(), st.floats(allow_nan=True, allow_infinity=True))

LONG = "x" * 100_000
SPECIAL_STRINGS = ("", "\x00", "a\x00b", "nul\x00", LONG, "é ü 日本", "\x7f", "\n", " ",
                   "../priors/baseline.toml", "instances", "lognormal", "mixture", "mc", "compute", "unit",
                   "chain", "1e6", "nan")
characters = st.characters(blacklist_categories=("Cs",))
special_strings = st.one_of(st.sampled_from(SPECIAL_STRINGS), st.text(characters, max_size=12))
dates = st.sampled_from((dt.datetime(2024, 1, 1, 12, 0), dt.date(2024, 1, 1), dt.time(12, 30)))
deep = st.builds(Deep, st.sampled_from((3, 50, 400, 1000, 3000)), st.sampled_from(("list", "table")),
                 st.sampled_from((1, "x", math.nan)))

scalars = st.one_of(special_numbers, special_strings, st.booleans(), dates)
weird_values = st.recursive(
    scalars,
    lambda children: st.one_of(st.lists(children, max_size=3),
                               st.dictionaries(st.sampled_from(("a", "dist", "value", "name", "x y", "")),
                                               children, max_size=3)),
    max_leaves=6,
)
weird_values = st.one_of(weird_values, weird_values, weird_values, deep)  # deep nesting: one draw in four


def sane_positive():
    return st.floats(min_value=1e-3, max_value=1e6, allow_nan=False)


numbers = st.one_of(sane_positive(), sane_positive(), special_numbers)


@st.composite
def distribution_tables(draw, depth: int = 0, weird: bool = True):
    """A distribution table of any family, its parameters mostly sane, sometimes not."""
    family = draw(st.sampled_from(FAMILIES if depth < 2 else FAMILIES[:-1]))
    n = numbers if weird else sane_positive()
    a, b = sorted((draw(n), draw(n)), key=lambda v: 0 if isinstance(v, float) and math.isnan(v) else v)
    if family == "fixed":
        table = {"value": draw(n)}
    elif family == "lognormal":
        table = {"dist": family, "p05": a, "p95": b}
    elif family == "normal":
        table = {"dist": family, "mean": a, "sd": b}
    elif family in ("uniform", "loguniform"):
        table = {"dist": family, "low": a, "high": b}
    elif family == "beta":
        table = {"dist": family, "alpha": a, "beta": b}
        if draw(st.booleans()):
            table |= {"low": 0.0, "high": draw(st.sampled_from((0.5, 1.0, 10.0)))}
    elif family == "pert":
        table = {"dist": family, "low": a, "mode": draw(st.sampled_from((a, b, "mid"))), "high": b}
        if table["mode"] == "mid":
            try:
                table["mode"] = (a + b) / 2
            except OverflowError:  # 10**400 + a float
                table["mode"] = a
        if draw(st.booleans()):
            table["lam"] = draw(n)
    elif family == "empirical":
        table = {"dist": family, "values": draw(st.lists(n, min_size=0, max_size=4))}
        if draw(st.booleans()):
            table["weights"] = draw(st.lists(n, min_size=0, max_size=4))
    else:
        k = draw(st.integers(1, 3))
        components = draw(st.lists(distribution_tables(depth + 1, weird), min_size=k, max_size=k))
        if weird and draw(st.integers(0, 5)) == 0:
            components[0] = draw(weird_values)  # not a table
        weights = draw(st.one_of(st.just([1.0] * k), st.lists(n, min_size=k, max_size=k),
                                 st.lists(n, max_size=4) if weird else st.just([1.0] * k)))
        table = {"dist": family, "components": components, "weights": weights}
    if draw(st.integers(0, 3)) == 0:
        table["lower"] = draw(st.sampled_from((0, 0.0, 1e-9, a)))
    if draw(st.integers(0, 3)) == 0:
        table["upper"] = draw(st.sampled_from((1, 1.0, b, 1e308, math.inf)))
    return table


@st.composite
def valid_distribution_tables(draw, name: str, depth: int = 0):
    """A prior the checks should accept for input `name` (inside its physical domain), with
    parameters anywhere from ordinary to extreme-but-finite."""
    quantity = QUANTITIES.get(name)
    unit_interval = quantity is not None and quantity.high == 1.0
    tiny, huge = st.sampled_from((5e-324, 1e-300, 1e-12)), st.sampled_from((1e12, 1e300, 1e308))
    positive = st.one_of(sane_positive(), sane_positive(), sane_positive(), tiny, huge)
    inside = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)
    families = ("fixed", "uniform", "beta", "pert", "empirical") + \
        (() if unit_interval else ("lognormal", "loguniform", "normal")) + (("mixture",) if depth < 2 else ())
    family = draw(st.sampled_from(families))
    value = inside if unit_interval else positive
    a, b = sorted((draw(value), draw(value)))
    if a == b:
        a, b = (a / 2, b) if b > 0 else (0.0, 1.0)
    if family == "fixed":
        return {"value": draw(st.sampled_from((a, b, 0.0) if not unit_interval else (a, b, 0.0, 1.0)))}
    if family in ("lognormal", "loguniform"):
        keys = ("p05", "p95") if family == "lognormal" else ("low", "high")
        return {"dist": family, keys[0]: a if a > 0 else 1e-3, keys[1]: b}
    if family == "normal":
        return {"dist": family, "mean": a, "sd": b, "lower": 0.0}
    if family == "uniform":
        return {"dist": family, "low": a, "high": b}
    if family == "beta":
        table = {"dist": family, "alpha": draw(st.sampled_from((0.5, 1.0, 2.0, 30.0, 1e-3, 1e3))),
                 "beta": draw(st.sampled_from((0.5, 1.0, 5.0, 1e-3, 1e3)))}
        return table | ({} if unit_interval or draw(st.booleans()) else {"low": a, "high": b})
    if family == "pert":
        mode = draw(st.sampled_from((a, b, a + (b - a) / 3)))
        table = {"dist": family, "low": a, "mode": mode, "high": b}
        return table | ({"lam": draw(st.sampled_from((0.1, 4.0, 100.0)))} if draw(st.booleans()) else {})
    if family == "empirical":
        values = draw(st.lists(value, min_size=1, max_size=5))
        table = {"dist": family, "values": values}
        if draw(st.booleans()):
            table["weights"] = [float(i + 1) for i in range(len(values))]
        return table
    k = draw(st.integers(1, 3))
    components = [draw(valid_distribution_tables(name, depth + 1)) for _ in range(k)]
    return {"dist": "mixture", "components": components,
            "weights": draw(st.sampled_from(([1.0] * k, [1 / k] * k, [float(i + 1) for i in range(k)])))}



# --------------------------------------------------------------------------- mutations of a table


def paths(tree, prefix=()):
    """Every path into `tree` (dict keys and list indices), containers included."""
    out = []
    if isinstance(tree, dict):
        for k, v in tree.items():
            out.append((*prefix, k))
            out += paths(v, (*prefix, k))
    elif isinstance(tree, list):
        for i, v in enumerate(tree):
            out.append((*prefix, i))
            out += paths(v, (*prefix, i))
    return out


def dotted(path) -> str:
    text = "".join(f"[{p}]" if isinstance(p, int) else (f".{p}" if i else str(p)) for i, p in enumerate(path))
    return text or "(top)"


def get(tree, path):
    for p in path:
        tree = tree[p]
    return tree


def put(tree, path, value):
    get(tree, path[:-1])[path[-1]] = value


def delete(tree, path):
    del get(tree, path[:-1])[path[-1]]


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


@st.composite
def set_any(draw, table, ops):
    """Any node (leaf or container) replaced by a value of another type."""
    candidates = paths(table)
    if not candidates:
        return
    path = draw(st.sampled_from(candidates))
    value = draw(weird_values)
    put(table, path, value)
    ops.append(f"set {dotted(path)} = {short(value)}")


@st.composite
def delete_any(draw, table, ops):
    """A key or list entry deleted (required ones included)."""
    candidates = paths(table)
    if not candidates:
        return
    path = draw(st.sampled_from(candidates))
    delete(table, path)
    ops.append(f"delete {dotted(path)}")


REQUIRED = ("name", "model", "unit", "dist", "value", "p05", "p95", "low", "high", "mean", "sd", "alpha",
            "beta", "mode", "values", "components", "weights", "inputs", "rank", "set")


@st.composite
def delete_required(draw, table, ops):
    candidates = [p for p in paths(table) if p[-1] in REQUIRED]
    if not candidates:
        return draw(delete_any(table, ops))
    path = draw(st.sampled_from(candidates))
    delete(table, path)
    ops.append(f"delete {dotted(path)}")


UNKNOWN_KEYS = ("sample", "seeds", "extra", "dist_", "Name", "p5", "units", "priors_", "x y", "", "\x00",
                "instances", "cluster_gpus", "axes", "scenarios", "overrides", "summary")


@st.composite
def add_unknown(draw, table, ops):
    """A key added to the top level or to any table inside."""
    tables = [()] + [p for p in paths(table) if isinstance(get(table, p), dict)]
    where = draw(st.sampled_from(tables))
    name = draw(st.one_of(st.sampled_from(UNKNOWN_KEYS), st.text(characters, min_size=1, max_size=8)))
    target = get(table, where)
    if name in target:
        return
    value = draw(st.one_of(weird_values, st.just(1)))
    target[name] = value
    ops.append(f"add {dotted((*where, name))} = {short(value)}")


@st.composite
def special_number(draw, table, ops):
    """A number (anywhere, list entries included) replaced by NaN, inf, 1e308, 10**400, a negative, zero..."""
    candidates = [p for p in paths(table) if _is_number(get(table, p))]
    if not candidates:
        return draw(set_any(table, ops))
    path = draw(st.sampled_from(candidates))
    value = draw(special_numbers)
    put(table, path, value)
    ops.append(f"set {dotted(path)} = {short(value)}")


NAME_KEYS = ("name", "description", "source", "unit", "note", "model", "method", "dist")


@st.composite
def weird_name(draw, table, ops):
    """A name-like string replaced by NUL-containing, very long, empty or non-ASCII text."""
    candidates = [p for p in paths(table) if p[-1] in NAME_KEYS or isinstance(get(table, p), str)]
    if not candidates:
        return
    path = draw(st.sampled_from(candidates))
    value = draw(st.sampled_from(SPECIAL_STRINGS + ("x" * 70_000, "\x00" * 10)))
    if draw(st.booleans()) and isinstance(get(table, path), str):
        value = get(table, path) + value  # keep it recognisable: 'baseline\x00'
    put(table, path, value)
    ops.append(f"set {dotted(path)} = {short(value)}")


@st.composite
def list_entry(draw, table, ops):
    """An entry of a list (outputs, quantiles, priors, inputs, axis values...) replaced or appended."""
    candidates = [p for p in paths(table) if isinstance(get(table, p), list)]
    if not candidates:
        return draw(set_any(table, ops))
    path = draw(st.sampled_from(candidates))
    items = get(table, path)
    value = draw(st.one_of(weird_values, st.sampled_from((1, True, {"a": 1}, ["instances"], {"dist": "x"}))))
    if items and draw(st.booleans()):
        i = draw(st.integers(0, len(items) - 1))
        items[i] = value
        ops.append(f"set {dotted((*path, i))} = {short(value)}")
    else:
        items.append(value)
        ops.append(f"append to {dotted(path)}: {short(value)}")


@st.composite
def table_for_name(draw, table, ops):
    """A table or list where a name is expected: dist, model, method, correlations.inputs, outputs, priors."""
    value = draw(st.sampled_from(({"a": 1}, {"dist": "lognormal"}, ["lognormal"], [], {}, [["x"]])))
    candidates = [p for p in paths(table) if p[-1] in ("dist", "model", "method", "name", "unit")]
    candidates += [(*p, i) for p in paths(table) if p[-1] in ("inputs", "outputs", "priors")
                   and isinstance(get(table, p), list) for i in range(len(get(table, p)))]
    if not candidates:
        return draw(set_any(table, ops))
    path = draw(st.sampled_from(candidates))
    put(table, path, value)
    ops.append(f"set {dotted(path)} = {short(value)}")


def prior_tables(table, is_prior_file):
    """Paths of the prior tables of a priors file or of an experiment's [overrides]."""
    if is_prior_file:
        return [(k,) for k, v in table.items() if isinstance(v, dict)]
    overrides = table.get("overrides")
    return [("overrides", k) for k, v in overrides.items() if isinstance(v, dict)] \
        if isinstance(overrides, dict) else []


@st.composite
def new_prior(draw, table, ops, is_prior_file, mixture=True, valid=False):
    """A prior (a mixture, or any family) replacing an existing one or added for a model input."""
    existing = prior_tables(table, is_prior_file)
    if existing and draw(st.booleans()):
        path = draw(st.sampled_from(existing))
    else:
        path = ((draw(st.sampled_from(INPUTS)),) if is_prior_file
                else ("overrides", draw(st.sampled_from(INPUTS))))
        if not is_prior_file and not isinstance(table.get("overrides"), dict):
            table["overrides"] = {}
    name = path[-1]
    if valid or draw(st.booleans()):  # a prior the checks should accept: it reaches sampling and saving
        if mixture:
            k = draw(st.integers(1, 3))
            components = [draw(valid_distribution_tables(name, 1)) for _ in range(k)]
            dist = {"dist": "mixture", "components": components, "weights": [1.0] * k}
        else:
            dist = draw(valid_distribution_tables(name))
    elif mixture:
        k = draw(st.integers(1, 3))
        components = draw(st.lists(distribution_tables(1), min_size=k, max_size=k))
        dist = {"dist": "mixture", "components": components,
                "weights": draw(st.one_of(st.just([1 / k] * k), st.lists(numbers, min_size=k, max_size=k),
                                          st.lists(numbers, max_size=4)))}
    else:
        dist = draw(distribution_tables())
    entry = {**dist, "unit": QUANTITIES[name].unit if name in QUANTITIES else "1", "source": "fuzz (2025)"}
    put(table, path, entry)
    ops.append(f"set {dotted(path)} = {short(entry, 200)}")


@st.composite
def deep_nesting(draw, table, ops):
    """A value nested hundreds or thousands of levels deep."""
    candidates = [()] + [p for p in paths(table) if isinstance(get(table, p), dict)]
    where = draw(st.sampled_from(candidates))
    target = get(table, where)
    name = draw(st.sampled_from(sorted(target) + ["deep"])) if target else "deep"
    value = draw(deep)
    target[name] = value
    ops.append(f"set {dotted((*where, name))} = {value!r}")


AXIS_NAMES = ("unit", "chain", "mean", "output", "draw", "scale", "prob", "interval", "threshold",
              "scenario_index", "long_name", "quantile", "quantile_mcse", "hdi_lower", "prob_at_least",
              "model", "priors", "year", "scenario", "name", "seed", "samples", "role", "units", "instances",
              "required_tokens_per_s", "cluster_gpus", "train_days", "1x", "a-b", "", "é", "x" * 300)


@st.composite
def add_axis(draw, table, ops):
    """An [[axes]] entry with an odd name, odd values and/or an odd `set`."""
    name = draw(st.sampled_from(AXIS_NAMES))
    n = draw(st.integers(1, 3))
    values = draw(st.one_of(
        st.just(list(range(10, 10 * n + 1, 10))),
        st.lists(st.one_of(st.integers(1, 100), st.sampled_from((2**63, 2**64, 10**400, 1.5, 1e308)),
                           special_strings), min_size=0, max_size=n)))
    axis = {"name": name, "values": values}
    choice = draw(st.integers(0, 3))
    k = len(values)
    if choice == 1:  # a fixed value for a model input per axis value
        target = draw(st.sampled_from(("required_tokens_per_s", "train_days", "cluster_gpus",
                                       "tokens_per_gpu_s")))
        axis["set"] = {target: [10.0 * (i + 1) for i in range(k)]}
    elif choice == 2:  # a prior per axis value
        target = draw(st.sampled_from(("required_tokens_per_s", "cluster_gpus", "train_utilization")))
        tables = valid_distribution_tables(target) if draw(st.booleans()) else distribution_tables()
        axis["set"] = {target: draw(st.lists(tables, min_size=k, max_size=k))}
    elif choice == 3:
        axis["set"] = draw(weird_values)
    axes = table.get("axes")
    if not isinstance(axes, list):
        axes = table["axes"] = []
    axes.append(axis)
    ops.append(f"add [[axes]] {short(axis, 200)}")


@st.composite
def add_scenarios(draw, table, ops):
    """[[scenarios]] entries: names odd or repeated, models and prior files odd."""
    n = draw(st.integers(1, 3))
    entries = []
    for i in range(n):
        entry = {"name": draw(st.one_of(st.just(f"s{i}"), st.just("same"), special_strings))}
        if draw(st.booleans()):
            entry["model"] = draw(st.one_of(st.sampled_from(tuple(MODELS)), scalars))
        if draw(st.booleans()):
            entry["priors"] = draw(st.one_of(st.just(["../priors/baseline.toml"]), st.just([]),
                                             st.lists(special_strings, max_size=2), weird_values))
        if draw(st.booleans()):
            target = draw(st.sampled_from(INPUTS + ("unit", "x")))
            entry["set"] = {target: draw(st.one_of(numbers, distribution_tables(), weird_values,
                                                   valid_distribution_tables(target)))}
        entries.append(entry)
    scenarios = table.get("scenarios")
    if not isinstance(scenarios, list):
        scenarios = table["scenarios"] = []
    scenarios += entries
    ops.append(f"add [[scenarios]] {short(entries, 200)}")


# Inputs a grid axis can set without clashing with an alternative (cluster_gpus x gpu_peak_flop_per_s
# or cluster_flop_per_s; usd_per_flop or usd_per_pflops_day), optional ones first.
GRID_INPUTS = ("fast_stream_tokens_per_s", "tokens_per_task", "required_tokens_per_s", "train_days",
               "chinchilla_ratio", "horizon_length", "tokens_per_gpu_s", "human_seconds", "human_bits_per_s",
               "train_tokens_total", "bits_per_token", "unit_price_usd", "unit_flop_per_s",
               "amortization_days", "budget_usd", "train_utilization", "inference_utilization")


@st.composite
def huge_grid(draw, table, ops):
    """Three or four axes of 1000+ values: more than 1e12 samples even at --samples 2000.

    The README refuses runs of more than 1e12 samples; a grid this size cannot be built
    in memory either, so it must be refused at once, not attempted.
    """
    count = draw(st.sampled_from((3, 4)))
    length = draw(st.sampled_from((1000, 1500)))
    model = table.get("model")
    model = model if isinstance(model, str) and model in MODELS else "compute"
    taken = set()
    for axis in table.get("axes", []) if isinstance(table.get("axes"), list) else []:
        if isinstance(axis, dict):
            taken |= {str(k) for k in axis.get("set", {})} if isinstance(axis.get("set"), dict) else set()
            taken.add(str(axis.get("name")))
    for scenario in table.get("scenarios", []) if isinstance(table.get("scenarios"), list) else []:
        if isinstance(scenario, dict) and isinstance(scenario.get("set"), dict):
            taken |= {str(k) for k in scenario["set"]}
    taken |= set(table.get("overrides", {})) if isinstance(table.get("overrides"), dict) else set()
    free = [i for i in GRID_INPUTS if i in MODELS[model].inputs and i not in taken]
    free = free or list(MODELS[model].inputs)
    axes = table.get("axes")
    if not isinstance(axes, list):
        axes = table["axes"] = []
    for j in range(count):
        target = free[j % len(free)]
        scale = 1.0 / length if QUANTITIES[target].high == 1.0 else 1.0  # inside the input's domain
        axes.append({"name": f"grid{j}", "values": list(range(1, length + 1)),
                     "set": {target: [scale * v for v in range(1, length + 1)]}})
    ops.append(f"add {count} [[axes]] grid0..grid{count - 1}, each {length} values setting "
               f"{', '.join(free[j % len(free)] for j in range(count))}: {length ** count:.1e} scenarios")


@st.composite
def beyond_int64(draw, table, ops):
    """Seeds and thresholds beyond int64 (or negative)."""
    value = draw(st.sampled_from((2**63, 2**64, 10**400, -1, 2**63 - 1, 10**20)))
    if draw(st.booleans()):
        table["seed"] = value
        ops.append(f"set seed = {short(value)}")
    else:
        summary = table.get("summary")
        if not isinstance(summary, dict):
            summary = table["summary"] = {}
        thresholds = summary.get("thresholds")
        thresholds = list(thresholds) if isinstance(thresholds, list) else [1e5, 1e6]
        thresholds.append(value)
        summary["thresholds"] = thresholds
        ops.append(f"set summary.thresholds = {short(thresholds)}")


@st.composite
def summary_lists(draw, table, ops):
    """[summary] lists emptied, duplicated or filled with non-numbers / non-names."""
    summary = table.get("summary")
    if not isinstance(summary, dict):
        summary = table["summary"] = {}
    which = draw(st.sampled_from(("outputs", "quantiles", "intervals", "thresholds")))
    value = draw(st.one_of(
        st.just([]),
        st.lists(st.sampled_from(OUTPUTS + ("x", 1, True, {"a": 1}, ["instances"])), max_size=3)
        if which == "outputs" else st.lists(st.one_of(st.sampled_from((0.0, 0.5, 0.5, 1.0, 1e-300)), numbers),
                                            min_size=0, max_size=4),
        weird_values))
    summary[which] = value
    ops.append(f"set summary.{which} = {short(value)}")


@st.composite
def samples_and_chains(draw, table, ops):
    which = draw(st.sampled_from(("samples", "chains", "method")))
    value = draw(st.sampled_from(("MC", "sobol", "lhs", 1, "")) if which == "method" else
                 st.one_of(special_numbers,
                           st.sampled_from((1e6, 10**12, 10**12 + 1, 1, 2, 3, 7, 10**6, 3.0)),
                           weird_values))
    table[which] = value
    ops.append(f"set {which} = {short(value)}")


@st.composite
def extreme_valid(draw, table, ops):
    """A value the checks should accept but that is far from the shipped ones: it reaches the run."""
    what = draw(st.sampled_from(("seed", "name", "description", "quantiles", "intervals", "thresholds",
                                 "chains", "method", "samples")))
    value = draw({
        "seed": st.sampled_from((0, 2**63 - 1, 2**63, 2**64, 10**20, 10**400)),
        "name": st.sampled_from(("x" * 70_000, "é ü 日本", "a\x00b", "line\nbreak", "nan", " ")),
        "description": st.sampled_from(("x" * 70_000, "", "a\x00b", "line\nbreak")),
        "quantiles": st.sampled_from(([0.0, 1.0], [1e-300, 0.5], [0.5, 0.5], [0.5], [0.999999999])),
        "intervals": st.sampled_from(([1e-300], [0.999999999], [0.5, 0.5], [0.5])),
        "thresholds": st.sampled_from(([5e-324], [1e308], [2**64], [1e5, 1e5], [1], [2**63 - 1])),
        "chains": st.sampled_from((1, 2, 3, 7, 2000)),
        "method": st.sampled_from(("lhs", "sobol")),
        "samples": st.sampled_from((1, 1e6, 10**12, 3)),
    }[what])
    if what in ("quantiles", "intervals", "thresholds"):
        if not isinstance(table.get("summary"), dict):
            table["summary"] = {}
        table["summary"][what] = value
        ops.append(f"set summary.{what} = {short(value)}")
    else:
        table[what] = value
        ops.append(f"set {what} = {short(value)}")


STRUCTURAL = {
    "set_any": set_any, "delete_any": delete_any, "delete_required": delete_required,
    "add_unknown": add_unknown,
    "special_number": special_number, "weird_name": weird_name, "list_entry": list_entry,
    "table_for_name": table_for_name, "deep_nesting": deep_nesting, "beyond_int64": beyond_int64,
    "summary_lists": summary_lists, "samples_and_chains": samples_and_chains,
}
EXPERIMENT_ONLY = {"add_axis": add_axis, "add_scenarios": add_scenarios, "huge_grid": huge_grid,
                   "extreme_valid": extreme_valid}
PRIOR_MUTATIONS = ("new_prior", "mixture", "valid_prior")


# --------------------------------------------------------------------------- mutations of the text


@st.composite
def text_mutation(draw, data: bytes, ops):
    kind = draw(st.sampled_from(("truncate", "duplicate_key", "duplicate_table", "raw_bytes")))
    if kind == "truncate":
        at = draw(st.one_of(st.integers(1, max(1, len(data) - 1)), st.just(0)))
        ops.append(f"truncate at byte {at} of {len(data)}")
        return data[:at]
    lines = data.split(b"\n")
    if kind == "duplicate_key":
        keyed = [i for i, line in enumerate(lines) if re.match(rb"^\s*[A-Za-z_][\w.-]*\s*=", line)]
        if keyed:
            i = draw(st.sampled_from(keyed))
            ops.append(f"duplicate line {i + 1}: {lines[i][:60].decode(errors='replace')!r}")
            return b"\n".join(lines[: i + 1] + [lines[i]] + lines[i + 1:])
    if kind == "duplicate_table":
        headers = [i for i, line in enumerate(lines) if re.match(rb"^\[[^\[]", line)]
        if headers:
            i = draw(st.sampled_from(headers))
            ops.append(f"append a second {lines[i].decode(errors='replace')!r} table")
            return data + b"\n" + lines[i] + b"\nunit = \"x\"\n"
    junk = draw(st.sampled_from((b"\x00", b"\xff\xfe", b"\xef\xbb\xbf", b"\x80", b"\r", b"\x1b[2J",
                                 b"\t=\n")))
    at = draw(st.integers(0, len(data)))
    ops.append(f"insert bytes {junk!r} at byte {at}")
    return data[:at] + junk + data[at:]


# --------------------------------------------------------------------------- the cases


class FuzzCase:
    """One shipped experiment, with the mutated files that replace the shipped ones.

    Attributes
    ----------
    experiment : str
        Relative path of the experiment file the command is given, e.g. ``experiments/baseline.toml``.
    files : dict of str to bytes
        Relative path -> mutated content (the experiment itself and/or prior files).
    ops : list of str
        One line per mutation, ``FILE: what``.
    """

    def __init__(self, experiment: str, files: dict[str, bytes] | None = None, ops: list[str] | None = None):
        self.experiment, self.files, self.ops = experiment, dict(files or {}), list(ops or [])

    def describe(self) -> str:
        return f"{self.experiment}: " + "; ".join(self.ops)

    def write(self, folder: Path) -> None:
        """Copy the shipped experiments/ and priors/ into `folder`, then the mutated files over them."""
        for name, data in TEXTS.items():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_bytes(data)
        for name, data in self.files.items():
            (folder / name).write_bytes(data)

    def __repr__(self) -> str:  # what hypothesis prints for a falsifying example (not the 100 kB files)
        return f"FuzzCase({self.describe()!r})"


def prior_files_of(experiment: str) -> list[str]:
    """The shipped prior files an experiment (or one of its scenarios) reads."""
    table = tomllib.loads(TEXTS[experiment].decode())
    names = list(table.get("priors", []))
    for scenario in table.get("scenarios", []):
        names += scenario.get("priors", [])
    found = []
    for name in names:
        relative = f"priors/{Path(name).name}"
        if relative in TEXTS and relative not in found:
            found.append(relative)
    return found


@st.composite
def fuzz_cases(draw, experiments=EXPERIMENT_FILES, max_ops: int = 3):
    experiment = f"experiments/{draw(st.sampled_from(experiments))}"
    case = FuzzCase(experiment)
    # mostly one mutation: the first bad value found hides the others
    for _ in range(draw(st.sampled_from((1, 1, 1, 2, max_ops)))):
        priors = prior_files_of(experiment)
        target = experiment if not priors or draw(st.integers(0, 3)) else draw(st.sampled_from(priors))
        is_prior_file = target != experiment
        current = case.files.get(target, TEXTS[target])
        ops: list[str] = []
        try:
            table = tomllib.loads(current.decode())
        except (UnicodeDecodeError, tomllib.TOMLDecodeError, RecursionError):
            table = None  # an earlier mutation broke it (or nests too deep to read): text mutations only
        kinds = ["text"] + ([] if table is None else
                            [*STRUCTURAL, *PRIOR_MUTATIONS, *([] if is_prior_file else EXPERIMENT_ONLY)])
        if table is not None:  # values the checks should accept, twice as often: they reach the run
            kinds += ["valid_prior"] + ([] if is_prior_file else ["extreme_valid"])
        kind = draw(st.sampled_from(kinds))
        if kind == "text":
            case.files[target] = draw(text_mutation(current, ops))
        else:
            table = copy.deepcopy(table)
            if kind in PRIOR_MUTATIONS:
                draw(new_prior(table, ops, is_prior_file, mixture=kind == "mixture",
                               valid=kind == "valid_prior"))
            else:
                draw({**STRUCTURAL, **EXPERIMENT_ONLY}[kind](table, ops))
            case.files[target] = dumps(table).encode()
        case.ops += [f"{target}: {op}" for op in ops] or [f"{target}: rewritten unchanged"]
    return case


# --------------------------------------------------------------------------- running a command in-process
# (shared with test_corruption.py)


# Categories the interpreter's default warning filters do not show (outside __main__).
HIDDEN_WARNINGS = (DeprecationWarning, PendingDeprecationWarning, ImportWarning, ResourceWarning)


class Hung(BaseException):
    """Raised by the alarm inside a command that takes longer than TIMEOUT (a BaseException,
    so no ``except Exception`` or ``except TimeoutError`` in the code under test swallows it)."""


@contextlib.contextmanager
def time_limit(seconds: float):
    def alarm(signum, frame):
        raise Hung(f"still running after {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@dataclass
class Outcome:
    argv: list[str]
    code: object = None
    out: str = ""
    err: str = ""  # what stderr would show on a terminal: the text written, then the warnings
    error: BaseException | None = None
    frames: list = field(default_factory=list)
    warnings: list = field(default_factory=list)  # (category, "file:line", message)
    started: bool = False  # tasks were handed to the executor
    seconds: float = 0.0


def frame_name(filename: str, lineno: int) -> str:
    path = Path(filename)
    if "overhang_sim" in path.parts:
        return f"src/overhang_sim/{'/'.join(path.parts[path.parts.index('overhang_sim') + 1:])}:{lineno}"
    return f"{path.name}:{lineno}"


def last_package_frame(frames) -> str:
    """The innermost frame inside overhang_sim (where the bug is), else the innermost frame."""
    inside = [f for f in frames if "overhang_sim" in Path(f.filename).parts]
    chosen = inside[-1] if inside else (frames[-1] if frames else None)
    return frame_name(chosen.filename, chosen.lineno) if chosen else "?"


def invoke(argv: list[str], folder: Path, timeout: float = 60.0) -> Outcome:
    """Run ``overhang_sim.cli.main(argv)`` in `folder` as the command line would, catching everything.

    stdout and stderr are captured; warnings are recorded and appended to stderr as the
    interpreter would print them; a command still running after `timeout` seconds is
    interrupted (:class:`Hung`); ``outcome.started`` says whether tasks reached the executor.
    """
    from overhang_sim import batch
    from overhang_sim.cli import main

    outcome = Outcome([str(a) for a in argv])
    argv = outcome.argv
    out, err = io.StringIO(), io.StringIO()
    real_completed = getattr(batch, "_completed", None)

    def completed(*args, **kwargs):
        outcome.started = True
        return real_completed(*args, **kwargs)

    patch = mock.patch.object(batch, "_completed", completed) if real_completed else contextlib.nullcontext()
    gc.collect()  # finalizers of earlier commands (unclosed files...) warn now, not during this one
    start = time.perf_counter()
    with contextlib.chdir(folder), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), \
            warnings.catch_warnings(record=True) as caught, patch:
        warnings.simplefilter("always")
        try:
            with time_limit(timeout):
                outcome.code = main(argv)
        except SystemExit as exit_:  # argparse
            outcome.code = exit_.code
        except (Exception, Hung) as error:  # noqa: BLE001 -- everything but KeyboardInterrupt
            outcome.error = error
            outcome.frames = traceback.extract_tb(error.__traceback__)
        gc.collect()  # ... and this command's, while they are recorded
    outcome.seconds = time.perf_counter() - start
    shown = {}
    for w in caught:  # the interpreter's default filters: some categories hidden, the rest once per place
        if issubclass(w.category, HIDDEN_WARNINGS):
            continue
        place = frame_name(w.filename, w.lineno)
        shown.setdefault((w.category, place, str(w.message)),
                         warnings.formatwarning(w.message, w.category, w.filename, w.lineno))
    outcome.warnings = [(c.__name__, place, m) for c, place, m in shown]
    outcome.out, outcome.err = out.getvalue(), err.getvalue() + "".join(shown.values())
    return outcome
