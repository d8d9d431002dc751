"""Plain-text listings of a model for ``overhang models NAME``: what it needs and computes."""

from __future__ import annotations

import functools

__all__ = ["describe", "input_status", "table"]


def describe(model) -> str:
    """Quantities, units and formulas of a :class:`~overhang_sim.modelspec.FormulaModel`.

    Inputs come first, each with what it needs (a prior, a prior unless an
    overridable output is given, a default, or nothing: optional); then the outputs
    in file order with their formulas, and the conversion a formula's unit needs.
    """
    q = model.quantities
    head = f"{model.name}: {model.description}" if model.description else model.name
    lines = [head, f"main output: {model.main} ({q[model.main].unit})", "", "inputs"]
    status = input_status(model)
    lines += table([(n, q[n].unit, status[n], q[n].long_name) for n in model.inputs
                     if q[n].formula is None])
    lines += ["", "outputs (formulas)"]
    given = {n: " (or give it a prior)" for n in model.inputs if q[n].formula is not None}
    rows = []
    for name in (n for n in q if q[n].formula is not None):
        formula_unit = model.formula_units[name]
        factor = formula_unit.factor_to(model.unit(name))
        converted = f"  [{formula_unit} x {factor:.6g}]" if factor != 1 else ""
        rows.append((name, q[name].unit, f"= {q[name].formula}{given.get(name, '')}{converted}"))
    return "\n".join(lines + table(rows))


def input_status(model) -> dict[str, str]:
    """Each input of `model` -> what it needs, e.g. ``needs a prior unless cluster_flop_per_s is given``."""
    uses, q = model.uses, model.quantities
    direct, unless = set(), {}

    @functools.cache
    def walk(name, via):
        if q[name].formula is None:
            if via:
                unless.setdefault(name, set()).update(via)
            else:
                direct.add(name)
            return
        via = via | {name} if q[name].overridable else via
        for need in uses[name]:
            walk(need, via)

    walk(model.main, frozenset())
    out = {}
    for name in model.inputs:
        if q[name].default is not None:
            out[name] = f"default {q[name].default:g}"
        elif name in direct:
            out[name] = "needs a prior"
        elif name in unless:
            out[name] = f"needs a prior unless {' or '.join(sorted(unless[name]))} is given"
        else:
            gives = [o for o in model.outputs if name in uses.get(o, ())]
            out[name] = f"optional: gives {', '.join(gives)}" if gives else "optional"
    return out


def table(rows) -> list[str]:
    """Rows of cells in aligned columns (the last column is not padded)."""
    if not rows:
        return ["  (none)"]
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    return [("  " + "  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True))).rstrip()
            for r in rows]
