"""What it takes: boxes of input space where P(output >= t) is high, by PRIM on a run's own draws.

The patient rule induction method (Friedman & Fisher 1999), as used for scenario
discovery (Bryant & Lempert 2010): start from the box holding every draw, and
repeatedly *peel* off the ``alpha`` share of the draws at the low or high end of one
input, choosing the peel that most raises the box's *density* (the share of its
draws with ``output >= t``), until the box holds less than ``min_support`` of the
draws; then *paste* back slices that raise the density again. Each box along the way
trades *coverage* (the share of all ``output >= t`` draws it holds) for density.

Honest errors: the box is chosen on half the chains and its density and coverage are
estimated on the other half (binomial standard errors on that half). Along the
peeling trajectory the box kept is the largest whose held-out density is within one
standard error (of the difference) of the best; restrictions that do not raise the density by more than
a standard error are then dropped, so the conditions printed are the ones that matter.
Further boxes cover what the earlier ones left (``max_boxes``).

Correlated inputs need nothing special: PRIM works on the draws as they are.
Nothing here evaluates the model again.
"""

from __future__ import annotations

import math

import numpy as np
import xarray as xr

from .errors import ConfigError
from .summaries import main_output

__all__ = ["discover", "explain_text", "paste", "peel", "prim_box"]


def _in_box(x: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    return np.all((x >= lower) & (x <= upper), axis=1)


def peel(x: np.ndarray, y: np.ndarray, alpha: float = 0.05, min_support: float = 0.05) -> list:
    """The PRIM peeling trajectory of draws `x` (n, d) with outcome `y` (n, bool).

    Returns
    -------
    list of (lower, upper)
        Box bounds (each shape (d,), -inf/inf where unrestricted), from the whole
        space to the last box holding at least ``min_support * n`` draws.
    """
    n, d = x.shape
    lower, upper = np.full(d, -np.inf), np.full(d, np.inf)
    boxes = [(lower.copy(), upper.copy())]
    inside = np.ones(n, dtype=bool)
    while True:
        xb, yb = x[inside], y[inside]
        best = None
        for j in range(d):
            low_cut, high_cut = np.quantile(xb[:, j], [alpha, 1 - alpha])
            for side, keep in ((0, xb[:, j] >= low_cut), (1, xb[:, j] <= high_cut)):
                kept = np.count_nonzero(keep)
                if kept == len(yb) or kept < min_support * n:  # removes nothing (ties), or too small
                    continue
                density = yb[keep].mean()
                if best is None or density > best[0]:
                    best = (density, j, side, low_cut if side == 0 else high_cut)
        if best is None:
            return boxes
        _, j, side, cut = best
        (lower if side == 0 else upper)[j] = cut
        inside &= (x[:, j] >= cut) if side == 0 else (x[:, j] <= cut)
        boxes.append((lower.copy(), upper.copy()))


def paste(x: np.ndarray, y: np.ndarray, lower: np.ndarray, upper: np.ndarray, alpha: float = 0.05):
    """Widen the box (`lower`, `upper`) by slices of ``alpha`` of its draws while that raises its density."""
    lower, upper = lower.copy(), upper.copy()
    while True:
        inside = _in_box(x, lower, upper)
        density, size = y[inside].mean(), np.count_nonzero(inside)
        best = None
        for j in range(x.shape[1]):
            others = np.delete(np.arange(x.shape[1]), j)
            near = np.all((x[:, others] >= lower[others]) & (x[:, others] <= upper[others]), axis=1)
            step = max(1, int(alpha * size))
            for side in (0, 1):
                outside = near & ((x[:, j] < lower[j]) if side == 0 else (x[:, j] > upper[j]))
                if not outside.any():
                    continue
                values = np.sort(x[outside, j])
                bound = values[-min(step, len(values))] if side == 0 else values[min(step, len(values)) - 1]
                trial = inside | (outside & ((x[:, j] >= bound) if side == 0 else (x[:, j] <= bound)))
                trial_density = y[trial].mean()
                if trial_density > density and (best is None or trial_density > best[0]):
                    best = (trial_density, j, side, bound)
        if best is None:
            return lower, upper
        _, j, side, bound = best
        (lower if side == 0 else upper)[j] = bound


def _rate(y):
    """A share and its binomial standard error.

    The error is taken at ``(k + 1/2) / (n + 1)`` rather than at ``k / n``, so that a
    share of 0 or 1 does not claim an error of 0 (Jeffreys' half count).
    """
    n = len(y)
    if not n:
        return math.nan, math.nan
    k = float(np.count_nonzero(y))
    centre = (k + 0.5) / (n + 1)
    return k / n, math.sqrt(centre * (1 - centre) / n)


def _prune(x, y, lower, upper):
    """Drop bounds (one side of one input at a time) whose removal costs less than a standard error of density."""
    bounds = np.stack([lower, upper]).copy()  # (side, input)
    while True:
        density, se = _rate(y[_in_box(x, *bounds)])
        candidates = []
        for side, j in zip(*np.nonzero(np.isfinite(bounds))):
            relaxed = bounds.copy()
            relaxed[side, j] = -np.inf if side == 0 else np.inf
            share, _ = _rate(y[_in_box(x, *relaxed)])
            if share >= density - se:
                candidates.append((share, side, j))
        if not candidates:
            return bounds[0], bounds[1]
        _, side, j = max(candidates)
        bounds[side, j] = -np.inf if side == 0 else np.inf


def prim_box(x_fit, y_fit, x_test, y_test, alpha=0.05, min_support=0.05, pasting=True):
    """One PRIM box: peeled on the fitting draws, chosen on the test draws, then pasted and pruned.

    Returns
    -------
    (lower, upper)
        The box kept: the largest on the peeling trajectory whose test density is
        within one standard error (of their difference) of the best, pasted (on the
        fitting draws), then pruned of the bounds that do not matter.
    """
    trajectory = peel(x_fit, y_fit, alpha, min_support)
    scores = []
    for lo, hi in trajectory:
        inside = _in_box(x_test, lo, hi)
        scores.append(_rate(y_test[inside]) if np.count_nonzero(inside) >= 10 else (-math.inf, math.inf))
    best = int(np.argmax([s[0] for s in scores]))
    top, top_se = scores[best]
    chosen = next(i for i, (d, se) in enumerate(scores) if d >= top - math.hypot(se, top_se))
    lower, upper = trajectory[chosen]
    if pasting and chosen:
        lower, upper = paste(x_fit, y_fit, lower, upper, alpha)
    return _prune(x_fit, y_fit, lower, upper)


def _halves(chains: int, draws: int) -> tuple[np.ndarray, np.ndarray]:
    """Which draws fit the boxes and which test them: alternate chains, or alternate draws with one chain."""
    if chains >= 2:
        fit = np.repeat(np.arange(chains) % 2 == 0, draws)
    else:
        fit = np.arange(draws) % 2 == 0
    return fit, ~fit


def _samples(run: xr.Dataset, output: str):
    if output not in run or "draw" not in run[output].dims:
        raise ConfigError(f"the result has no draws of {output!r}; save the run with its samples "
                          "(overhang run --keep-samples --out FILE)", key="output")
    extra = [dim for dim in run[output].dims if dim not in ("chain", "draw")]
    if extra:
        raise ConfigError(f"has scenario axes ({', '.join(extra)}); explain one scenario at a time "
                          f"(--scenario {extra[0]}=VALUE)", key="output")
    inputs = [n for n in run.data_vars if run[n].attrs.get("role") == "input" and "draw" in run[n].dims
              and set(run[n].dims) <= {"chain", "draw"}]
    if not inputs:
        raise ConfigError("the run has no sampled inputs to explain its output by", key="inputs")
    x = np.stack([run[n].transpose("chain", "draw").values.ravel() for n in inputs], axis=1)
    return inputs, x, run[output].transpose("chain", "draw").values.ravel()


def discover(run: xr.Dataset, threshold: float, *, output: str | None = None, alpha: float = 0.05,
             min_support: float = 0.05, max_boxes: int = 3, pasting: bool = True) -> xr.Dataset:
    """PRIM boxes where ``output >= threshold`` is likely, from the run's own draws.

    Parameters
    ----------
    run : xarray.Dataset
        A run with samples (dims ``chain``, ``draw``) and no scenario axes.
    threshold : float
        In the output's unit.
    output : str, optional
        Default: the run's main output.
    alpha, min_support : float
        Share of a box's draws peeled per step; smallest share of all draws a box may hold.
    max_boxes : int
        At most this many boxes, each covering what the earlier ones left.
    pasting : bool
        Paste after peeling.

    Returns
    -------
    xarray.Dataset
        Dims ``box`` and ``input``: ``lower``/``upper`` bounds (-inf/inf: unrestricted),
        ``density``, ``coverage`` and ``support`` of each box (less the earlier boxes)
        on the held-out draws, with ``*_se`` binomial standard errors; attrs give the
        overall ``base_rate`` and its ``base_rate_se`` on all draws.

    Raises
    ------
    ConfigError
        If the run has no draws, no sampled inputs, or no (or only) draws at or above `threshold`.
    """
    output = output or main_output(run)
    names, x, values = _samples(run, output)
    y = values >= threshold
    if not y.any() or y.all():
        share = "no" if not y.any() else "every"
        raise ConfigError(f"{share} draw of {output} is >= {threshold:g} (its draws span {np.nanmin(values):.3g} to "
                          f"{np.nanmax(values):.3g}); choose a threshold in between", key="--above")
    fit, test = _halves(run.sizes["chain"], run.sizes["draw"])
    left_fit, left_test = fit.copy(), test.copy()
    base, base_se = _rate(y)
    rows = []
    for _ in range(max_boxes):
        if np.count_nonzero(y[left_fit]) < 10 or np.count_nonzero(y[left_test]) < 10:
            break
        lower, upper = prim_box(x[left_fit], y[left_fit], x[left_test], y[left_test], alpha, min_support, pasting)
        if not (np.isfinite(lower) | np.isfinite(upper)).any():
            break
        inside_test = left_test & _in_box(x, lower, upper)
        density = _rate(y[inside_test])
        if not density[0] > base + 2 * density[1]:  # no better than the whole space: stop
            break
        rows.append((lower, upper, density, _rate(inside_test[test & y]), _rate(inside_test[test])))
        left_fit &= ~_in_box(x, lower, upper)
        left_test &= ~inside_test
    return _boxes_dataset(rows, names, run, output, threshold, base, base_se, alpha, min_support, pasting)


def _boxes_dataset(rows, names, run, output, threshold, base, base_se, alpha, min_support, pasting):
    data = {"lower": (("box", "input"), np.array([r[0] for r in rows]).reshape(len(rows), len(names))),
            "upper": (("box", "input"), np.array([r[1] for r in rows]).reshape(len(rows), len(names)))}
    for k, key in enumerate(("density", "coverage", "support"), start=2):
        data[key] = (("box",), np.array([r[k][0] for r in rows]))
        data[f"{key}_se"] = (("box",), np.array([r[k][1] for r in rows]))
    units = [run[n].attrs.get("units", "") for n in names]
    ds = xr.Dataset(data, coords={"box": np.arange(1, len(rows) + 1), "input": names, "unit": ("input", units)})
    ds["density"].attrs["long_name"] = f"P({output} >= threshold) among the box's held-out draws"
    ds["coverage"].attrs["long_name"] = f"share of the held-out draws with {output} >= threshold that the box holds"
    ds["support"].attrs["long_name"] = "share of all held-out draws the box holds"
    ds.attrs = {"output": output, "threshold": float(threshold), "base_rate": base, "base_rate_se": base_se,
                "draws": int(run.sizes["chain"] * run.sizes["draw"]), "chains": int(run.sizes["chain"]),
                "alpha": alpha, "min_support": min_support, "pasting": int(pasting),
                "experiment_name": run.attrs.get("experiment_name", "")}
    return ds


def _number(value: float) -> str:
    return f"{value:.3g}"


def _conditions(box: xr.Dataset) -> str:
    parts = []
    for name in box["input"].values:
        lo, hi = float(box["lower"].sel(input=name)), float(box["upper"].sel(input=name))
        if math.isfinite(lo) and math.isfinite(hi):
            parts.append(f"{_number(lo)} <= {name} <= {_number(hi)}")
        elif math.isfinite(lo):
            parts.append(f"{name} >= {_number(lo)}")
        elif math.isfinite(hi):
            parts.append(f"{name} <= {_number(hi)}")
    return " and ".join(parts)


def explain_text(boxes: xr.Dataset) -> str:
    """The boxes of :func:`discover` as readable conditions, with their densities and coverages."""
    a = boxes.attrs
    event = f"{a['output']} >= {a['threshold']:g}"
    split = "half the chains" if a["chains"] >= 2 else "every other draw (one chain)"
    lines = [f"{a.get('experiment_name', '')}: what it takes for {event}",
             f"  overall P({event}) = {_number(a['base_rate'])} (s.e. {a['base_rate_se']:.1g}) over {a['draws']:,} draws",
             f"  PRIM (peeling alpha {a['alpha']:g}, min support {a['min_support']:g}"
             f"{', pasting' if a['pasting'] else ''}): boxes chosen on {split}, figures from the other half",
             ""]
    if boxes.sizes["box"] == 0:
        lines.append(f"  no box of inputs makes {event} clearly likelier than overall")
    for b in boxes["box"].values:
        box = boxes.sel(box=b)
        later = " (outside the boxes above)" if b > 1 else ""
        lines += [f"box {b}: {_conditions(box)}{later}",
                  f"  P({event}) is {_number(float(box['density']))} (s.e. {float(box['density_se']):.1g}) here, "
                  f"against {_number(a['base_rate'])} overall; this box holds "
                  f"{100 * float(box['coverage']):.0f} % (s.e. {100 * float(box['coverage_se']):.1g} %) of such draws "
                  f"and {100 * float(box['support']):.1f} % of all draws"]
    lines += ["", "density: P(event) inside the box; coverage: share of the event's draws inside it; s.e.: binomial, "
              "on the held-out half the box was not chosen on."]
    return "\n".join(lines)
