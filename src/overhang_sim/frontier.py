"""The copies x speed frontier: a model's main output against the required speed per stream.

For any model with a speed input (``required_tokens_per_s``), :func:`frontier` draws the
other inputs once and evaluates the model at every speed of a grid on those same draws
(common random numbers): the quantities the speed does not reach are computed once, only
the rest again per speed. The result is a Dataset over ``speed`` with the median, the
50 % and 90 % equal-tailed bands and P(main = 0) (speeds above the serial ceiling of the
roofline give zero instances). After a run, the run's own kept draws serve instead
(``inputs=``, :func:`run_inputs`; ``scenario_frontier(..., run=)``): nothing is sampled twice.

An experiment asks for it with a ``[frontier]`` table, which ``overhang run`` honours (on
the run's draws) and ``overhang frontier FILE`` computes on its own::

    [frontier]
    speeds = [2, 5, 10, 20, 50, 100]      # token/s; default: 20 speeds, 1 to 1000, log-spaced
    input = "required_tokens_per_s"      # the speed input (default)

    [[frontier.marks]]                    # published point estimates, drawn on the figure
    label = "MLPerf v6.0 interactive (x 1e5 GPUs)"
    speed = 67
    instances = 1.3e6
"""

from __future__ import annotations

import json
import math
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import xarray as xr

from .config import Experiment
from .errors import ConfigError, ModelInputError, OverhangError, did_you_mean
from .simulation import CHUNK_SIZE, chain_design, draw_inputs, fixed_inputs
from .summaries import chain_error, sorted_quantiles

__all__ = ["FRONTIER_KEYS", "FrontierMark", "FrontierSpec", "default_speeds", "frontier", "frontier_spec",
           "parse_speeds", "run_inputs", "scenario_frontier"]

FRONTIER_KEYS = ("speeds", "input", "marks")
MARK_KEYS = ("label", "speed", "instances")
PROBS = (0.05, 0.25, 0.5, 0.75, 0.95)  # the median and the 50 % and 90 % equal-tailed bands
INTERVALS = (0.5, 0.9)


@dataclass(frozen=True)
class FrontierMark:
    """A published point estimate to draw on the frontier: `instances` at `speed` (token/s)."""

    label: str
    speed: float
    instances: float

    def __post_init__(self):
        if not isinstance(self.label, str):
            raise ConfigError("must be a string", key="label")
        for key in ("speed", "instances"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < math.inf:
                raise ConfigError(f"must be a positive number, not {value!r:.40}", key=key)


@dataclass(frozen=True)
class FrontierSpec:
    """The ``[frontier]`` table: speeds (in the speed input's unit), the speed input and marks."""

    speeds: tuple[float, ...] = ()
    input: str = "required_tokens_per_s"
    marks: tuple[FrontierMark, ...] = field(default=())

    def __post_init__(self):
        object.__setattr__(self, "speeds", parse_speeds(self.speeds, key="speeds") if self.speeds else ())
        if not isinstance(self.input, str) or not self.input:
            raise ConfigError("must be the name of the model's speed input", key="input")

    @property
    def grid(self) -> np.ndarray:
        """The speeds to evaluate: the given ones, sorted, or :func:`default_speeds`."""
        return np.array(sorted(self.speeds)) if self.speeds else default_speeds()


def default_speeds(n: int = 20, low: float = 1.0, high: float = 1000.0) -> np.ndarray:
    """`n` speeds from `low` to `high` (token/s), evenly spaced in log10."""
    return np.logspace(math.log10(low), math.log10(high), n)


def parse_speeds(values: object, key: str = "--speeds") -> tuple[float, ...]:
    """Speeds from a list of numbers or a comma-separated string (``"1,10,100"``); each positive and finite."""
    if isinstance(values, str):
        parts = [p.strip() for p in values.split(",") if p.strip()]
        try:
            values = [float(p) for p in parts]
        except ValueError:
            raise ConfigError(f"must be numbers separated by commas, such as 1,10,100, not {values!r:.60}",
                              key=key) from None
    if not isinstance(values, (list, tuple)) or not values:
        raise ConfigError("must be a non-empty list of speeds (token/s)", key=key)
    for i, v in enumerate(values):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 < v < math.inf:
            raise ConfigError(f"must be a positive number, not {v!r:.40}", key=f"{key}[{i}]")
    if len(set(values)) != len(values):
        raise ConfigError("lists a speed twice", key=key)
    return tuple(float(v) for v in values)


def frontier_spec(experiment: Experiment) -> FrontierSpec | None:
    """The experiment's ``[frontier]`` table (read from its text), checked, or None; errors name the file."""
    try:
        table = tomllib.loads(experiment.text).get("frontier") if experiment.text else None
    except tomllib.TOMLDecodeError:
        return None
    if table is None:
        return None
    try:
        return _spec_from_table(table, experiment)
    except OverhangError as error:
        raise error.located(file=experiment.path or None, prefix="frontier") from None


def _spec_from_table(table, experiment) -> FrontierSpec:
    if not isinstance(table, Mapping):
        raise ConfigError("must be a table")
    for key in table:
        if key not in FRONTIER_KEYS:
            raise ConfigError(f"unknown key{did_you_mean(key, FRONTIER_KEYS)}", key=key)
    marks = table.get("marks", [])
    if not isinstance(marks, list):
        raise ConfigError("must be a list of [[frontier.marks]] tables", key="marks")
    parsed = []
    for i, mark in enumerate(marks):
        try:
            if not isinstance(mark, Mapping) or set(mark) - set(MARK_KEYS) or not {"speed", "instances"} <= set(mark):
                raise ConfigError(f"must be a table with speed and instances (and a label), not {mark!r:.60}")
            parsed.append(FrontierMark(mark.get("label", ""), mark["speed"], mark["instances"]))
        except OverhangError as error:
            raise error.located(prefix=f"marks[{i}]") from None
    spec = FrontierSpec(tuple(table.get("speeds", ())), table.get("input", "required_tokens_per_s"), tuple(parsed))
    check_speed_input(experiment, spec.input)
    return spec


def check_speed_input(experiment: Experiment, name: str) -> None:
    """Refuse a speed input the experiment's model does not have."""
    model = experiment.model_spec
    if name not in model.inputs:
        raise ModelInputError(f"is not an input of the {model.name} model{did_you_mean(name, model.inputs)}",
                              key="input")


def frontier(experiment: Experiment, speeds: Sequence[float] | None = None, *, seed: int | None = None,
             spec: FrontierSpec | None = None, inputs: Mapping[str, np.ndarray] | None = None) -> xr.Dataset:
    """The main output against the required speed, on one set of draws (drawn here, or a run's).

    Parameters
    ----------
    experiment : Experiment
        Any experiment whose model has the speed input (its prior, if any, is replaced).
    speeds : sequence of float, optional
        Speeds in the speed input's unit (token/s); default: ``spec``'s, else
        :func:`default_speeds`.
    seed : int, optional
        Overrides ``experiment.seed``.
    spec : FrontierSpec, optional
        Speed input and marks (default: the experiment's ``[frontier]``, else the defaults).
    inputs : mapping of str to ndarray, optional
        Draws already made, such as a run's (:func:`run_inputs`): every sampled input
        but the speed, by name, each ``(chain, draw)`` in the model's unit. Nothing is
        then sampled; the seed only labels the result. Default: draw them here, as
        :func:`~overhang_sim.simulation.simulate` does with `seed` (plain MC gives the
        same draws as a run of `experiment`; LHS and Sobol' designs, or a correlation
        with the speed, change once the speed's prior is dropped).

    Returns
    -------
    xarray.Dataset
        Dims ``speed`` (with the speed's ``units``), ``prob`` and ``interval``:
        ``quantile`` (speed, prob) of the main output, ``median`` and its ``median_mcse``
        (between chains), ``band_lower``/``band_upper`` (interval, speed) for the 50 %
        and 90 % equal-tailed bands, ``prob_zero`` and its MCSE. Attrs: ``output``,
        ``marks`` (JSON), the experiment's name, seed and samples, and ``draws``:
        ``"run"`` when `inputs` were given, ``"drawn"`` when drawn here.

    Examples
    --------
    >>> from overhang_sim import load_experiment
    >>> import dataclasses
    >>> run = frontier(dataclasses.replace(load_experiment(), samples=800), [10, 100])
    >>> bool((run["median"].sel(speed=10) / run["median"].sel(speed=100)).round(6) == 10)
    True
    """
    spec = spec or frontier_spec(experiment) or FrontierSpec()
    check_speed_input(experiment, spec.input)
    grid = _grid(speeds, spec)
    seed = experiment.seed if seed is None else seed
    chunks, shape = _input_chunks(experiment, spec.input, seed, inputs)
    summaries = _summaries(_speed_rows(experiment, spec.input, grid, chunks, shape), len(grid))
    return _dataset(experiment, spec, grid, summaries, seed, shape, given=inputs is not None)


def _grid(speeds, spec) -> np.ndarray:
    return np.array(sorted(parse_speeds(list(speeds)))) if speeds is not None else spec.grid


def _without(experiment: Experiment, name: str) -> Experiment:
    """`experiment` with the speed input's prior dropped (each speed is given instead)."""
    if name not in experiment.priors:
        return experiment
    priors = {n: p for n, p in experiment.priors.items() if n != name}
    keep = tuple(n for n in experiment.design if n != name) if experiment.design_inputs else ()
    correlations = tuple(c for c in experiment.correlations if name not in c.inputs)
    model = experiment.model_spec
    checked = _ModelWithInput(model, name)
    return replace(experiment, priors=priors, design_inputs=keep, correlations=correlations, model_spec=checked)


class _ModelWithInput:
    """A model wrapper that accepts `name` as given (the frontier supplies it), for the experiment's checks."""

    def __init__(self, model, name):
        self._model, self._name = model, name

    def __getattr__(self, attr):
        return getattr(self._model, attr)

    def check_inputs(self, given):
        self._model.check_inputs(set(given) | {self._name})

    def check_values(self, values):  # the speed is not known at load time
        return None


def run_inputs(run: xr.Dataset | None, experiment: Experiment, name: str,
               cell: Mapping[str, object] | None = None) -> dict[str, np.ndarray] | None:
    """A run's kept draws of `experiment`'s sampled inputs but the speed `name`, or None if it kept none.

    Parameters
    ----------
    run : xarray.Dataset or None
        A result of :func:`~overhang_sim.batch.run` (or of
        :func:`~overhang_sim.precision.run_until_precise`), its samples kept.
    experiment : Experiment
        The scenario the draws belong to.
    name : str
        The speed input (left out: the frontier gives it).
    cell : mapping, optional
        The scenario's labels on the run's axes (``ScenarioSet.labels``).

    Returns
    -------
    dict of str to ndarray, or None
        ``(chain, draw)`` views of the run's arrays (the run's chains, the scenario's
        draws per chain); None when the run streamed its summaries, or lacks an input.
    """
    if run is None or "draw" not in run.dims:
        return None
    part = run.sel(cell) if cell else run
    chains = int(run.attrs.get("precision_chains", experiment.chains))
    arrays = {}
    for n in experiment.sampled:
        if n == name:
            continue
        if n not in part.data_vars or part[n].dims != ("chain", "draw"):
            return None
        values = part[n].values
        if values.shape[0] < chains or values.shape[1] < experiment.draws:
            return None
        arrays[n] = values[:chains, :experiment.draws]  # other scenarios may pad the stacked run
    return arrays


def _input_chunks(experiment, name, seed, inputs):
    """Every input but the speed, chunk by chunk as ``(chain, start, stop, values)``, and the shape.

    Drawn from `seed` as a run draws them, or, when `inputs` are given, sliced from those
    arrays (the fixed inputs added): both feed :func:`_speed_rows` the same way.
    """
    base = _without(experiment, name)
    if inputs is None:
        def drawn():
            for chain in range(base.chains):
                design = chain_design(base, seed, chain)
                for start, stop in _spans(base.draws):
                    yield chain, start, stop, draw_inputs(base, design, start, stop)

        return drawn(), (base.chains, base.draws)
    missing = [n for n in base.sampled if n not in inputs]
    if missing:
        raise ValueError(f"inputs lacks the sampled input {missing[0]!r}")
    arrays = {n: np.asarray(inputs[n], dtype=float) for n in base.sampled}
    shapes = {a.shape for a in arrays.values()}
    if len(shapes) > 1 or any(len(s) != 2 for s in shapes):
        raise ValueError(f"inputs must all have one (chain, draw) shape, not {sorted(shapes)}")
    shape = next(iter(shapes), (base.chains, base.draws))
    fixed = fixed_inputs(base)

    def given():
        for chain in range(shape[0]):
            for start, stop in _spans(shape[1]):
                yield chain, start, stop, {**fixed, **{n: a[chain, start:stop] for n, a in arrays.items()}}

    return given(), shape


def _spans(draws: int):
    return ((start, min(draws, start + CHUNK_SIZE)) for start in range(0, draws, CHUNK_SIZE))


def _samples(experiment, name, grid, chunks, shape) -> np.ndarray:
    """The main output at every speed of `grid` on the chunks' draws, shape (speed, chain, draw)."""
    out = np.empty((len(grid), *shape))
    for i, row in enumerate(_speed_rows(experiment, name, grid, chunks, shape)):
        out[i] = row
    return out


def _speed_rows(experiment, name, grid, chunks, shape):
    """The main output at each speed of `grid` in turn, shape (chain, draw), on the draws of `chunks`.

    `chunks` (:func:`_input_chunks`) gives the inputs once, chunk by chunk; the
    speed-independent quantities are computed once, and only what the remaining steps need
    is kept. Each speed's row is written into one reused buffer (copy it to keep it), so a
    frontier holds one speed's draws at a time.
    """
    model = experiment.model_spec
    main = model.main
    split = getattr(model, "steps_after", None)
    once, again = split(name, (main,)) if split is not None else ((), ())
    keep = {main} | {s.name for s in again} | {n for s in again for n in s.needs}
    states = []
    for chain, start, stop, values in chunks:
        if split is not None:
            values = {n: v for n, v in _environment(model, values, once).items() if n in keep}
        states.append((chain, start, stop, values))
    row = np.empty(shape)
    for speed in grid:
        for chain, start, stop, values in states:
            row[chain, start:stop] = _at_speed(model, values, again, name, float(speed), split is None)
        yield row


def _at_speed(model, env, again, name, speed, whole):
    """The main output on one chunk at `speed`: the whole model (a Python function) or only the `again` steps."""
    if whole:
        return model({**env, name: speed})[model.main]
    speed_env = {**env, name: speed}
    with np.errstate(all="ignore"):
        for step in again:
            if step.name not in env:  # a prior that overrides a formula stays as drawn
                speed_env[step.name] = step.run(speed_env)
    return speed_env[model.main]


def _environment(model, values, once) -> dict:
    """Inputs with defaults, and every speed-independent quantity the main output needs (computed once)."""
    inputs = set(model.inputs)
    env = {n: np.asarray(v, dtype=float) if isinstance(v, np.ndarray) else float(v)
           for n, v in {**model.defaults, **values}.items() if n in inputs}
    with np.errstate(all="ignore"):
        for step in once:
            if step.name not in env:
                env[step.name] = step.run(env)
    model.run_checks(env)  # the [[checks]] the speed does not enter (a replica that holds the weights ...)
    return env


def _summaries(rows, n_speeds: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pooled quantiles at PROBS (speed, prob), per-chain medians and P(= 0) (chain, speed).

    `rows` gives each speed's (chain, draw) draws in turn (a (speed, chain, draw) array will do).

    Bit for bit ``np.quantile(pooled, PROBS)``, ``np.median`` and ``mean(== 0)``, at less
    cost: each speed's pooled draws copied into a reused buffer and partitioned at only the
    ranks :func:`~.summaries.sorted_quantiles` reads (:func:`_select`), and each chain's
    median from a partition at one rank.
    """
    quant, medians, zeros, pooled = np.empty((n_speeds, len(PROBS))), None, None, None
    for i, draws in enumerate(rows):
        if pooled is None:
            chains = len(draws)
            medians, zeros = np.empty((chains, n_speeds)), np.empty((chains, n_speeds))
            pooled, row_buffer = np.empty(draws.size), np.empty(draws.shape[1])
        np.copyto(pooled, draws.reshape(-1))
        _select(pooled, _ranks(len(pooled), PROBS))
        quant[i] = sorted_quantiles(pooled, PROBS)
        for c, row in enumerate(draws):
            medians[c, i] = _median(row, row_buffer)
        zeros[:, i] = np.count_nonzero(draws == 0, axis=1) / draws.shape[1]
    return quant, medians, zeros


def _ranks(n: int, probs) -> list[int]:
    """The order statistics :func:`~.summaries.sorted_quantiles` reads for `probs` of `n` values (and the last)."""
    virtual = (n - 1) * np.asarray(probs, dtype=float)
    previous = np.floor(virtual).astype(np.intp)
    return sorted({int(r) for r in np.r_[previous, np.minimum(previous + 1, n - 1), n - 1]})


def _select(buffer: np.ndarray, ranks: list[int]) -> None:
    """Partition `buffer` in place so that ``buffer[r]`` is its r-th smallest value for each of the sorted `ranks`.

    What ``buffer.partition(ranks)`` guarantees, but each rank is partitioned only within the
    segment between its already placed neighbours (the middle rank first): about 4 ms at 1e6
    values and 11 ranks, against 21 ms for numpy's rank-by-rank partition and 9 ms for a sort.
    NaN ends up last, as numpy's partition leaves it.
    """
    def split(lo, hi, inside):  # buffer[lo:hi] holds exactly the order statistics lo .. hi - 1
        if inside:
            mid = len(inside) // 2
            rank = inside[mid]
            buffer[lo:hi].partition(rank - lo)
            split(lo, rank, inside[:mid])
            split(rank + 1, hi, inside[mid + 1:])

    split(0, len(buffer), ranks)


def _median(row: np.ndarray, buffer: np.ndarray) -> float:
    """``np.median(row)`` (the mean of the two middle values for an even length; NaN if any), via `buffer`."""
    if np.isnan(row).any():
        return math.nan
    np.copyto(buffer, row)
    half = len(row) // 2
    buffer.partition(half)
    if len(row) % 2:
        return float(buffer[half])
    return float((buffer[:half].max() + buffer[half]) / 2)


def _dataset(experiment, spec, grid, summaries, seed, shape, given) -> xr.Dataset:
    quant, per_chain_median, zeros = summaries
    chains, draws = shape
    lower = np.stack([quant[:, PROBS.index(round((1 - m) / 2, 10))] for m in INTERVALS])
    upper = np.stack([quant[:, PROBS.index(round((1 + m) / 2, 10))] for m in INTERVALS])
    model = experiment.model_spec
    main = model.main
    speed_unit = model.quantities[spec.input].unit
    main_unit = model.quantities[main].unit
    attrs = {"units": main_unit, "long_name": model.quantities[main].long_name or main}
    ds = xr.Dataset(
        {"quantile": (("speed", "prob"), quant, attrs),
         "median": (("speed",), quant[:, PROBS.index(0.5)], attrs),
         "median_mcse": (("speed",), chain_error(per_chain_median, 0), {"units": main_unit, "long_name":
                         "Monte Carlo standard error of the median (between chains)"}),
         "band_lower": (("interval", "speed"), lower, {**attrs, "long_name": "lower end of the equal-tailed band"}),
         "band_upper": (("interval", "speed"), upper, {**attrs, "long_name": "upper end of the equal-tailed band"}),
         "prob_zero": (("speed",), zeros.mean(axis=0), {"units": "1", "long_name": f"P({main} = 0)"}),
         "prob_zero_mcse": (("speed",), chain_error(zeros, 0), {"units": "1", "long_name":
                            "Monte Carlo standard error of prob_zero"})},
        coords={"speed": ("speed", grid, {"units": speed_unit, "long_name": f"required speed ({spec.input})"}),
                "prob": list(PROBS), "interval": list(INTERVALS)})
    ds.attrs = {"output": main, "speed_input": spec.input, "experiment_name": experiment.name,
                "model": model.name, "seed": int(seed), "samples": int(chains * draws), "chains": int(chains),
                "draws": "run" if given else "drawn",
                "marks": json.dumps([{"label": m.label, "speed": m.speed, "instances": m.instances}
                                     for m in spec.marks])}
    return ds


def scenario_frontier(scenarios, speeds: Sequence[float] | None = None, *, seed: int | None = None,
                      spec: FrontierSpec | None = None, run: xr.Dataset | None = None) -> xr.Dataset:
    """The frontier of every scenario of an experiment file, and of their mixture along a weighted axis.

    Each scenario's frontier is :func:`frontier` on that scenario's draws: inputs of one
    name share their random numbers across scenarios (common random numbers, as in a run),
    so the frontiers of a model axis are paired. With a weighted axis the *pooled*
    frontier is the mixture ``sum_s w_s F_s`` at each speed (its quantiles by
    :func:`~overhang_sim.pooling.mixture_quantiles`, P(= 0) the weighted sum), with
    Monte Carlo errors from the per-chain mixtures, as :func:`~overhang_sim.pooling.pool`.

    Parameters
    ----------
    scenarios : ScenarioSet
        From :func:`~overhang_sim.scenarios.load_scenarios`; each scenario's model needs
        the speed input.
    speeds, seed, spec
        As for :func:`frontier` (the spec defaults to the first scenario's ``[frontier]``).
    run : xarray.Dataset, optional
        The run of `scenarios` (:func:`~overhang_sim.batch.run`): where it kept its samples,
        each scenario's frontier is evaluated on the run's own draws (:func:`run_inputs`)
        and nothing is sampled again; a scenario whose draws were not kept is drawn again
        from the run's seed. Attr ``draws`` says which (``"run"`` only if every scenario's
        were the run's).

    Returns
    -------
    xarray.Dataset
        One scenario: what :func:`frontier` returns. Several: its variables with the
        scenario axes as leading dims, and with a weighted axis ``pooled_quantile``,
        ``pooled_median`` (+ ``_mcse``), ``pooled_band_lower``/``upper`` and
        ``pooled_prob_zero`` (+ ``_mcse``) over ``speed``; attrs ``weighted_axis`` and
        ``weights`` (JSON).
    """
    from .pooling import _positive
    from .scenarios import stack_scenarios

    base = scenarios.base
    spec = spec or frontier_spec(base) or FrontierSpec()
    if seed is None:
        seed = base.seed if run is None else int(run.attrs.get("seed", base.seed))
    if len(scenarios.experiments) == 1:
        return frontier(base, speeds, seed=seed, spec=spec, inputs=run_inputs(run, base, spec.input))
    grid = _grid(speeds, spec)
    parts, datasets = [], []
    for i, experiment in enumerate(scenarios.experiments):
        try:
            check_speed_input(experiment, spec.input)
        except OverhangError as error:
            label = ", ".join(f"{k}={v}" for k, v in scenarios.labels(i).items())
            raise type(error)(f"scenario {label}: {error.problem}", key="frontier.input",
                              file=scenarios.path or None) from None
        inputs = run_inputs(run, experiment, spec.input, scenarios.labels(i))
        chunks, shape = _input_chunks(experiment, spec.input, seed, inputs)
        samples = _samples(experiment, spec.input, grid, chunks, shape)
        parts.append(samples)
        datasets.append(_dataset(experiment, spec, grid, _summaries(samples, len(grid)), seed, shape,
                                 given=inputs is not None))
    stacked = stack_scenarios(replace(scenarios, fixed_axes=()), datasets)
    stacked.attrs = {**datasets[0].attrs, "model": ", ".join(dict.fromkeys(e.model_spec.name for e in
                                                                            scenarios.experiments)),
                     "axes": json.dumps(list(scenarios.dims)),
                     "draws": "run" if all(d.attrs["draws"] == "run" for d in datasets) else "drawn"}
    if not scenarios.weights or len(scenarios.dims) != 1:
        return stacked
    axis, weights = next(iter(scenarios.weights.items()))
    keep, w = _positive(np.asarray(weights, dtype=float))
    return stacked.assign(_pooled_frontier([parts[k] for k in keep], w, stacked)).assign_attrs(
        weighted_axis=axis, weights=json.dumps([float(x) for x in weights]))


def _pooled_frontier(parts: list[np.ndarray], weights: np.ndarray, stacked: xr.Dataset) -> dict:
    """The mixture's frontier variables from each scenario's (speed, chain, draw) samples."""
    from .pooling import mixture_quantiles

    n_speeds, chains, _ = parts[0].shape
    quant = np.empty((n_speeds, len(PROBS)))
    per_chain_median = np.empty((chains, n_speeds))
    for i in range(n_speeds):
        ordered = [np.sort(p[i].ravel()) for p in parts]
        quant[i] = mixture_quantiles(ordered, weights, PROBS)
        for c in range(chains):
            per_chain_median[c, i] = mixture_quantiles([np.sort(p[i, c]) for p in parts], weights, [0.5])[0]
    zeros = sum(w * np.ascontiguousarray((p == 0).mean(axis=2).T) for p, w in zip(parts, weights))  # (chain, speed)
    lower = np.stack([quant[:, PROBS.index(round((1 - m) / 2, 10))] for m in INTERVALS])
    upper = np.stack([quant[:, PROBS.index(round((1 + m) / 2, 10))] for m in INTERVALS])
    attrs = dict(stacked["median"].attrs)
    unit = attrs.get("units", "")
    return {"pooled_quantile": (("speed", "prob"), quant, attrs),
            "pooled_median": (("speed",), quant[:, PROBS.index(0.5)], attrs),
            "pooled_median_mcse": (("speed",), chain_error(per_chain_median, 0),
                                   {"units": unit, "long_name": "Monte Carlo standard error of pooled_median"}),
            "pooled_band_lower": (("interval", "speed"), lower, {**attrs, "long_name": "lower end of the pooled band"}),
            "pooled_band_upper": (("interval", "speed"), upper, {**attrs, "long_name": "upper end of the pooled band"}),
            "pooled_prob_zero": (("speed",), zeros.mean(axis=0), {"units": "1", "long_name": "pooled P(= 0)"}),
            "pooled_prob_zero_mcse": (("speed",), chain_error(zeros, 0),
                                      {"units": "1", "long_name": "Monte Carlo standard error of pooled_prob_zero"})}
