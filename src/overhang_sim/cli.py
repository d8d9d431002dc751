"""The ``overhang`` command: argument parsing and printing only."""

from __future__ import annotations

import argparse
import math
import os
import sys
import textwrap
import traceback
import warnings
from pathlib import Path

from .errors import ConfigError, OverhangError, did_you_mean

# The parser is built without numpy, scipy or xarray (`overhang --help` starts in a
# fraction of a second): each command imports what it needs when it runs, and the
# choices below are literal copies, checked against the real ones by tests/test_cli.py.
METHODS = ("mc", "lhs", "sobol")  # designs.METHODS
SENSITIVITY_METHODS = ("sobol", "given_data", "tornado", "voi", "shapley")  # sensitivity_analysis.METHODS

ISSUES = "https://github.com/overhang-sim/overhang-sim/issues"

__all__ = ["main"]


class _Parser(argparse.ArgumentParser):
    """argparse, but usage mistakes are one line on stderr and exit status 2."""

    def error(self, message):
        message = message.removeprefix("argument ")  # "argument --seed: ..." -> "--seed: ..."
        self.exit(2, f"overhang: error: command line: {message}\n")


def _whole(text: str) -> int:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value.is_integer():
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number")
    return int(value)


class _Version(argparse.Action):
    """``--version``: the installed package's version, looked up only when asked for."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, help=None):  # noqa: A002
        super().__init__(option_strings, dest, nargs=0, default=default, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        from importlib.metadata import version

        print(f"overhang-sim {version('overhang-sim')}")  # on stdout, as argparse's own
        parser.exit()


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="overhang", description="Monte Carlo simulator for the compute overhang: "
                     "how many copies of a newly trained model its training hardware can run.")
    parser.add_argument("--version", action=_Version, help="show program's version number and exit")
    parser.add_argument("--debug", action="store_true", help="show the traceback of an internal error")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = commands.add_parser("run", help="run an experiment and print its credible intervals")
    run.add_argument("experiment", nargs="?", help="experiment TOML file (default: the embedded baseline)")
    run.add_argument("--out", help="save the run as netCDF to this path (zarr for NAME.zarr)")
    run.add_argument("--overwrite", action="store_true", help="replace the --out file if it exists (default: refuse, and keep it)")
    run.add_argument("--samples", type=_whole, help="total samples (overrides the file); 1e6 is accepted")
    run.add_argument("--chains", type=_whole, help="independent chains (overrides the file)")
    run.add_argument("--seed", type=_whole, help="random seed (overrides the file)")
    run.add_argument("--method", choices=METHODS, help="sampling design (overrides the file)")
    shape = run.add_mutually_exclusive_group()
    shape.add_argument("--json", action="store_true", help="print the summary as JSON records (one object per "
                     "output, statistic and scenario) instead of a table")
    shape.add_argument("--csv", action="store_true", help="print the same records as CSV")
    run.add_argument("--full", "--wide", dest="full", action="store_true",
                     help="every statistic of every output, wider than 80 columns (default: the answer first)")
    run.add_argument("--workers", type=_whole, help="local worker processes (default: threads of this process on "
                     "every core where they pay, measured by a pilot)")
    run.add_argument("--threads", type=_whole, help="threads of this process instead of worker processes")
    run.add_argument("--scheduler", metavar="ADDRESS", help="run on a dask.distributed cluster "
                     "(tcp://host:8786)")
    run.add_argument("--resume", action="store_true", help="continue the unfinished run saved for --out")
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    keep = run.add_mutually_exclusive_group()
    keep.add_argument("--keep-samples", dest="keep_samples", action="store_true", default=None,
                      help="keep every draw (default: when they fit in 2 GB)")
    keep.add_argument("--no-keep-samples", dest="keep_samples", action="store_false",
                      help="stream: keep only the summaries (from quantile sketches)")
    run.add_argument("--precision", type=float, metavar="OOM", help="add chains until every reported quantile "
                     "of log10(main output) has a Monte Carlo error at most this many orders of magnitude "
                     "(e.g. 0.01)")
    run.add_argument("--precision-prob", type=float, default=None, metavar="P", help="with --precision: the "
                     "largest Monte Carlo error of each P(main >= t) (default 0.005)")
    run.add_argument("--max-samples", type=_whole, default=None, help="with --precision: samples per "
                     "scenario it may reach (default 1e8)")
    run.add_argument("--compare", nargs=2, metavar=("A", "B"), action="append", default=[],
                     help="paired comparison of two scenarios, each as axis=value[,axis=value]: "
                          "P(A > B) and the median difference in orders of magnitude")

    models = commands.add_parser("models", help="list the models, or show one: its quantities, units, formulas "
                                 "and which inputs need priors")
    models.add_argument("model", nargs="?", help="a model's name or a model file (NAME.toml)")

    priors = commands.add_parser("priors", help="list an experiment's priors with their implied quantiles")
    priors.add_argument("experiment", nargs="?", help="experiment TOML file (default: the embedded baseline)")
    priors.add_argument("--tolerance", type=float, default=0.02, help="relative difference between a quantile "
                        "asked for and the fitted prior's above which it warns (default 0.02)")

    sens = commands.add_parser("sensitivity", help="rank an experiment's inputs by how much each output "
                               "depends on them, with confidence intervals")
    sens.add_argument("experiment", nargs="?", help="experiment TOML file (default: the embedded baseline)")
    sens.add_argument("--out", help="save the result as netCDF to this path")
    sens.add_argument("--overwrite", action="store_true", help="replace the --out file if it exists (default: refuse, and keep it)")
    sens.add_argument("--methods", nargs="+", choices=SENSITIVITY_METHODS,
                      help="default: all but shapley (and without sobol when the experiment correlates inputs)")
    sens.add_argument("--scale", choices=("log10", "linear"), default="log10",
                      help="indices of log10(output) (default) or of the output itself")
    sens.add_argument("--samples", type=_whole, help="samples of the run behind given_data and voi "
                      "(overrides the file)")
    sens.add_argument("--sobol-samples", type=_whole,
                      help="Sobol' base samples, rounded up to a power of two")
    sens.add_argument("--seed", type=_whole, help="random seed (overrides the file)")
    sens.add_argument("--confidence", type=float, default=0.95, help="mass of the intervals (default 0.95)")
    sens.add_argument("--sobol-replicates", type=_whole, default=8, help="independently scrambled Sobol' "
                      "designs the intervals come from, a power of two (default 8)")
    sens.add_argument("--shapley-samples", type=_whole, help="model runs for the Shapley effects "
                      "(--methods shapley; default: the experiment's samples)")
    sens.add_argument("--json", action="store_true", help="print the result as JSON instead of a table")
    sens.add_argument("--full", "--wide", dest="full", action="store_true", help="every measure with its "
                      "interval, wider than 80 columns (default: the ranking in 80 columns)")
    plot = commands.add_parser("plot", help="draw figures of a saved result (run or sensitivity)")
    plot.add_argument("result", help="a file saved with --out (.nc or .zarr)")
    plot.add_argument("--kind", choices=("all", *FIGURES), default="all",
                      help="which figure (default: every one the result has what it needs for)")
    plot.add_argument("--output", help="the output to draw (default: the run's main output)")
    plot.add_argument("--format", choices=("png", "svg", "pdf"), default="png")
    plot.add_argument("--out-dir", default=".", help="folder for the figure files, created if missing "
                      "(default: here)")

    front = commands.add_parser("frontier", help="instances against the required speed, on one set of draws "
                                "(median, 50/90 %% bands, P(0))")
    front.add_argument("experiment", nargs="?", help="experiment TOML file (default: the embedded baseline)")
    front.add_argument("--speeds", help="required speeds, comma-separated (token/s; default: the file's "
                       "[frontier] speeds, else 20 from 1 to 1000)")
    front.add_argument("--samples", type=_whole, help="total samples (overrides the file)")
    front.add_argument("--seed", type=_whole, help="random seed (overrides the file)")
    front.add_argument("--out", help="save the frontier as netCDF to this path")
    front.add_argument("--overwrite", action="store_true", help="replace the --out file if it exists (default: refuse, and keep it)")
    front.add_argument("--json", action="store_true", help="print the frontier as JSON instead of a table")
    front.add_argument("--full", "--wide", dest="full", action="store_true", help="every band and P(0) of "
                       "every scenario, wider than 80 columns (default: 80 columns)")
    explain = commands.add_parser("explain", help="what it takes: the boxes of input space where the main output "
                                  "is likely at or above a threshold (PRIM on the run's own draws)")
    explain.add_argument("source", help="a run saved with its samples (.nc) or an experiment TOML (runs it)")
    explain.add_argument("--above", type=float, required=True, metavar="T", help="the threshold, in the output's unit")
    explain.add_argument("--output", help="the output (default: the run's main output)")
    explain.add_argument("--alpha", type=float, default=0.05, help="share of a box peeled per step (default 0.05)")
    explain.add_argument("--min-support", type=float, default=0.05, help="smallest share of the draws a box may "
                         "hold (default 0.05)")
    explain.add_argument("--boxes", type=_whole, default=3, help="at most this many boxes (default 3)")
    explain.add_argument("--samples", type=_whole, help="samples, for an experiment file (overrides the file)")
    explain.add_argument("--seed", type=_whole, help="random seed, for an experiment file (overrides the file)")
    explain.add_argument("--scenario", metavar="AXIS=VALUE[,AXIS=VALUE]", help="the scenario to explain, for a run "
                         "with scenario axes")
    explain.add_argument("--json", action="store_true", help="print the boxes as JSON instead of text")
    report = commands.add_parser("report", help="write one self-contained HTML report")
    report.add_argument("source", nargs="?", help="experiment TOML (runs it, with sensitivity) or a saved "
                        "result (default: the embedded baseline)")
    report.add_argument("--out", default="report.html", help="HTML file to write (default: report.html)")
    report.add_argument("--samples", type=_whole, help="samples (overrides the file)")
    report.add_argument("--seed", type=_whole, help="random seed (overrides the file)")
    report.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


FIGURES = ("distribution", "exceedance", "sensitivity", "scenarios", "convergence")


def _figure_names(stem: str, kinds, fmt: str) -> list[str]:
    """A file name per figure in `kinds`; two figures never share one (a number tells a repeat apart)."""
    names: list[str] = []
    for kind in kinds:
        name, k = f"{stem}_{kind}.{fmt}", 1
        while name in names:
            k += 1
            name = f"{stem}_{kind}_{k}.{fmt}"
        names.append(name)
    return names


def _plot(args) -> None:
    from . import distribution_figures, plotting
    from .storage import check_writable, load
    from .summaries import main_output

    result = load(args.result)
    folder = check_writable(Path(args.out_dir) / "figure.png")
    if "band_lower" in result.data_vars and "speed" in result.dims:  # a saved frontier: its one figure
        stem = Path(args.result).name.removesuffix(".nc")
        print(f"saved {plotting.save_figure(plotting.plot_frontier(result), folder / f'{stem}.{args.format}')}")
        return
    is_sensitivity = "estimate" in result.data_vars
    output = args.output or main_output(result)
    wanted = FIGURES if args.kind == "all" else (args.kind,)
    dims = result[output].dims if output in result.data_vars else ()
    several = any(result.sizes[d] > 1 for d in dims if d not in ("chain", "draw"))
    drawers = {"distribution": (distribution_figures.plot_distributions if several  # one panel per scenario
                                else plotting.plot_distribution),
               "exceedance": distribution_figures.plot_exceedance, "sensitivity": plotting.plot_sensitivity,
               "scenarios": plotting.plot_scenarios, "convergence": plotting.plot_convergence}
    stem = Path(args.result).name.removesuffix(".nc").removesuffix(".zarr")
    if args.output and args.output != main_output(result):
        stem = f"{stem}_{args.output}"  # figures of different outputs never share a file name
    names = dict(zip(wanted, _figure_names(stem, wanted, args.format), strict=True))
    written, skipped = [], []
    for kind in wanted:
        if (kind == "sensitivity") != is_sensitivity:
            if args.kind != "all":
                what = "a sensitivity result" if kind == "sensitivity" else "a run result"
                raise ConfigError(f"the {kind} figure needs {what}", file=args.result, key="--kind")
            continue
        try:
            fig = drawers[kind](result, output)
        except OverhangError as error:
            if args.kind != "all":
                raise error.located(file=args.result) from None
            skipped.append(f"{kind} ({error.problem})")
            continue
        written.append(plotting.save_figure(fig, folder / names[kind]))
    if not written:
        raise ConfigError("there is nothing to draw: " + ("; ".join(skipped) or "no figure fits this result"),
                          file=args.result, key="--kind")
    for path in written:
        print(f"saved {path}")
    for why in skipped:
        print(f"skipped {why}")


def _report(args) -> None:
    from . import batch
    from .report import MAX_DISTRIBUTIONS, report_html
    from .sensitivity_analysis import sensitivity
    from .storage import atomic_write_bytes, check_writable, load
    from .tables import spread

    out = Path(args.out)
    check_writable(out)
    source = args.source
    if source is not None and Path(source).suffix in (".nc", ".zarr"):
        result = load(source)
        try:
            html = report_html(result, scenarios=_scenarios_of(result))
        except OverhangError as error:
            raise error.located(file=source) from None
    else:
        args.experiment = source
        scenarios = _scenarios(args, ("samples", "seed"))
        try:
            result = batch.run(scenarios, quiet=args.quiet, keep_samples=True)
        except OverhangError as error:
            raise _from_command_line(error, args, ("samples", "seed")) from None
        experiment = scenarios.base
        methods = ["given_data", "tornado"] + ([] if experiment.correlations else ["sobol"])
        sens = []  # one analysis per scenario, so the report ranks the inputs of every one
        every = scenarios.experiments
        ranked = spread(range(len(every)), MAX_DISTRIBUTIONS)
        if len(ranked) < len(every):
            print(f"overhang: note: sensitivity of {len(ranked)} of the {len(every)} scenarios, evenly spaced "
                  "from the first to the last (overhang sensitivity ranks any other)", file=sys.stderr)
        left_out: dict[str, list[dict]] = {}  # why -> the scenarios
        for index in ranked:
            cell = scenarios.labels(index) if scenarios.dims else {}
            try:  # the run's own draws serve the given-data indices: the model is not evaluated again
                sens.append((cell, sensitivity(every[index], methods=methods, sobol_samples=2**12,
                                               run=result.sel(cell) if cell else result)))
            except OverhangError as error:  # e.g. every input fixed: nothing to rank
                left_out.setdefault(error.problem, []).append(cell)
        for problem, cells in left_out.items():  # one line a reason, not one a scenario
            where = "" if cells == [{}] else f" for {cells[0]}" if len(cells) == 1 else \
                f" for {len(cells)} scenarios ({cells[0]}, ...)"
            print(f"overhang: note: sensitivity left out{where}: {problem}", file=sys.stderr)
        sens = sens or None
        from .frontier import frontier_spec, scenario_frontier

        wanted = frontier_spec(experiment)  # every scenario's frontier, and the pooled one, as overhang run
        html = report_html(result, sensitivity=sens, scenarios=scenarios,
                           frontier=None if wanted is None else scenario_frontier(scenarios, spec=wanted,
                                                                                  run=result))
    atomic_write_bytes(out, html.encode("utf-8"))
    print(f"saved {out}")


def _explain(args) -> None:
    """``overhang explain``: PRIM boxes on a saved run's draws, or on a run of an experiment file."""
    from . import batch
    from .discovery import discover, explain_text
    from .storage import load
    from .tables import summary_json

    if not 0 < args.alpha < 0.5:
        raise ConfigError(f"must lie in (0, 0.5), not {args.alpha:g}", file="command line", key="--alpha")
    if not 0 < args.min_support < 1:
        raise ConfigError(f"must lie in (0, 1), not {args.min_support:g}", file="command line", key="--min-support")
    source = args.source
    if Path(source).suffix in (".nc", ".zarr"):
        result = load(source)
    else:
        args.experiment = source
        scenarios = _scenarios(args, ("samples", "seed"))
        try:
            result = batch.run(scenarios, quiet=True, keep_samples=True)
        except OverhangError as error:
            raise _from_command_line(error, args, ("samples", "seed")) from None
    if args.scenario:
        result = _one_scenario(result, args.scenario)
    try:
        boxes = discover(result, args.above, output=args.output, alpha=args.alpha, min_support=args.min_support,
                         max_boxes=args.boxes)
    except OverhangError as error:
        raise error.located(file=source) from None
    print(summary_json(boxes) if args.json else explain_text(boxes))


def _one_scenario(result, text: str):
    """The scenario of `result` that ``axis=value,axis=value`` names (values matched as text or number)."""
    axes = [d for d in result.dims if d not in ("chain", "draw")]
    chosen = {}
    for item in filter(None, text.split(",")):
        axis, _, value = (part.strip() for part in item.partition("="))
        if axis not in axes:
            hint = did_you_mean(axis, axes) if axes else " (this run has no axes)"
            raise ConfigError(f"unknown scenario axis {axis!r}{hint}", file="command line", key="--scenario")
        coords = list(result[axis].values)
        match = [c for c in coords if str(c) == value or _same_number(c, value)]
        if not match:
            raise ConfigError(f"{axis} has no value {value!r}; it has {', '.join(map(str, coords))}",
                              file="command line", key="--scenario")
        chosen[axis] = match[0]
    return result.sel(chosen)


def _scenarios_of(result):
    """The experiment behind a saved result, read back from its text (None if its files moved)."""
    import tomllib

    from .scenarios import scenarios_from_table

    text, path = result.attrs.get("experiment_text", ""), result.attrs.get("experiment_path", "")
    try:
        return scenarios_from_table(tomllib.loads(text), text, path)
    except (OverhangError, tomllib.TOMLDecodeError):
        return None


def _from_command_line(error: OverhangError, args, flags) -> OverhangError:
    """`error` blamed on the command-line flag that set its key, if one did."""
    key = (error.key or "").replace("-", "_")
    if key in flags and getattr(args, key, None) is not None:
        return ConfigError(error.problem, file="command line", key="--" + key.replace("_", "-"))
    return error


RUN_FLAGS = ("samples", "chains", "method", "seed")


def _scenarios(args, flags):
    """The experiment file's scenarios with the flags in `flags` applied to each."""
    import dataclasses

    from .scenarios import load_scenarios

    scenarios = load_scenarios(args.experiment)
    overrides = {k: getattr(args, k) for k in flags if getattr(args, k, None) is not None}
    if not overrides:  # checking every scenario again would take seconds for a large grid
        return scenarios
    try:
        experiments = tuple(dataclasses.replace(e, **overrides) for e in scenarios.experiments)
    except OverhangError as error:
        raise _from_command_line(error, args, flags) from None
    return dataclasses.replace(scenarios, experiments=experiments)


def _run(args) -> None:
    from . import batch
    from .executors import executor_for
    from .frontier import frontier_spec
    from .storage import check_writable
    from .summaries import compare
    from .tables import format_value, scenario_tables, summary_part

    scenarios = _scenarios(args, RUN_FLAGS)
    if args.resume and not args.out:
        raise ConfigError("needs --out: the unfinished run is saved next to that file", file="command line",
                          key="--resume")
    comparisons = [tuple(_selection(text, scenarios) for text in pair) for pair in args.compare]
    keep = args.keep_samples
    if comparisons:
        if keep is False:
            raise ConfigError("needs every draw to pair the scenarios; drop --no-keep-samples",
                              file="command line", key="--compare")
        keep = True
    wanted = frontier_spec(scenarios.base)  # checked before anything runs
    if args.out:
        check_writable(args.out, overwrite=args.overwrite)
        if wanted is not None:  # the frontier is saved next to the run
            check_writable(_frontier_path(args.out), overwrite=args.overwrite)
    samples = sum(e.samples for e in scenarios.experiments)
    target = _precision_target(args)
    pilot, bytes_per_sample = _cost(scenarios, keep)
    try:
        with executor_for(args.workers, args.scheduler, samples, pilot=pilot,
                          bytes_per_sample=bytes_per_sample, threads=args.threads) as executor:
            if target is None:
                result = batch.run(scenarios, keep_samples=keep, executor=executor, out=args.out,
                                   resume=args.resume, overwrite=args.overwrite, quiet=args.quiet)
            else:
                from .precision import run_until_precise

                result = run_until_precise(scenarios, target, keep_samples=keep, executor=executor,
                                           quiet=args.quiet, out=args.out, resume=args.resume,
                                           overwrite=args.overwrite)
    except OverhangError as error:
        raise _from_command_line(error, args, RUN_FLAGS + ("workers", "threads", "scheduler", "precision",
                                                           "precision_prob", "max_samples")) from None
    found = [compare(result, a, b) for a, b in comparisons]
    if args.json or args.csv:
        from .records import comparison_records, records, to_csv, to_json

        rows = records(summary_part(result)) + comparison_records(
            [(_label(a), _label(b), f) for (a, b), f in zip(comparisons, found)])
        print(to_json(rows) if args.json else to_csv(rows), end="" if args.csv else "\n")
        return
    if args.full:
        print(scenario_tables(result, scenarios.dims))
    else:
        from .screen import first_screen

        print("\n".join(first_screen(result, scenarios.dims)))
    if target is not None:
        print(_precision_line(result))
    for (a, b), f in zip(comparisons, found):
        if args.full:
            print(f"\nP({_label(a)} > {_label(b)}) = {format_value(f['p_a_greater'], f['p_a_greater_mcse'])}; "
                  f"median log10 ratio {format_value(f['median_log10_ratio'], f['median_log10_ratio_mcse'])} "
                  "orders of magnitude (paired draws)")
        else:
            from .screen import comparison_lines

            print("\n" + "\n".join(comparison_lines(_label(a), _label(b), f)))
    if args.out:
        print(f"\nsaved {args.out}")
    if wanted is not None:
        print()
        _frontier(args, scenarios, wanted, run=result)  # on the run's own draws when it kept them


def _precision_target(args):
    """The --precision target, or None; its companion flags without it are an error."""
    if args.precision is None:
        for flag in ("precision_prob", "max_samples"):
            if getattr(args, flag) is not None:
                raise ConfigError("needs --precision", file="command line", key="--" + flag.replace("_", "-"))
        return None
    from .precision import DEFAULT_MAX_SAMPLES, DEFAULT_PROB, PrecisionTarget

    try:
        return PrecisionTarget(args.precision, DEFAULT_PROB if args.precision_prob is None else args.precision_prob,
                               DEFAULT_MAX_SAMPLES if args.max_samples is None else args.max_samples)
    except OverhangError as error:
        raise ConfigError(error.problem, file="command line", key="--" + error.key.replace("_", "-")) from None


def _precision_line(result) -> str:
    a = result.attrs
    verdict = "met" if a["precision_met"] else f"NOT met: the budget of {a['precision_max_samples']:.3g} samples ran out"
    return "\n" + textwrap.fill(f"precision {verdict}: {a['precision_samples']:,} samples per scenario in {a['precision_chains']} "
            f"chains ({a['precision_rounds']} rounds, each draw evaluated once); largest Monte Carlo error "
            f"{a['precision_quantile_mcse']:.2g} orders of magnitude on a quantile (target {a['precision_target']:g}), "
            f"{a['precision_prob_mcse']:.2g} on a P(>= t) (target {a['precision_prob_target']:g})", width=80)


def _cost(scenarios, keep):
    """What the default number of workers is measured from: a pilot of the first scenario's first
    chain (run in this process: its tables are then shared with forked workers) and the bytes per
    sample that workers would send back (the kept draws of whole-scenario tasks; ~0 otherwise)."""
    from . import batch
    from .simulation import chain_design, draw_range, result_bytes

    experiment = scenarios.base
    if keep is None:
        keep = sum(result_bytes(e) for e in scenarios.experiments) <= batch.KEEP_SAMPLES_BYTES

    def pilot(n: int) -> int:
        n = min(n, experiment.draws)
        draw_range(experiment, chain_design(experiment, experiment.seed, 0), 0, n)
        return n

    # local workers write kept chains into shared memory (batch._shared_folder) unless whole scenarios are
    # the tasks: only then do the draws travel back through a pipe
    sent_back = keep and len(scenarios.experiments) >= batch.SCENARIO_TASKS_MIN
    return pilot, (result_bytes(experiment) / experiment.samples if sent_back else 0.0)


def _frontier(args, scenarios=None, spec=None, run=None) -> None:
    """``overhang frontier``; also what ``overhang run`` prints for an experiment with [frontier].

    A file with scenario axes gives every scenario's frontier, and the pooled one over a weighted axis.
    After a run (`run`), the frontier is evaluated on the run's kept draws; only a run that
    streamed its summaries has its inputs drawn again.
    """
    import dataclasses

    from .frontier import FrontierSpec, frontier_spec, parse_speeds, scenario_frontier
    from .storage import check_writable, save
    from .tables import frontier_table, summary_json

    if scenarios is None:
        scenarios = _scenarios(args, ("samples", "seed"))
        spec = frontier_spec(scenarios.base) or FrontierSpec()
        if args.speeds:
            try:
                spec = dataclasses.replace(spec, speeds=parse_speeds(args.speeds))
            except OverhangError as error:
                raise error.located(file="command line") from None
        if args.out:
            check_writable(args.out, overwrite=args.overwrite)
    try:
        result = scenario_frontier(scenarios, spec=spec, run=run)
    except OverhangError as error:  # the default speed input, of a file without [frontier]: name file and key
        if error.file or error.key != "input":
            raise
        raise ConfigError(f"{spec.input} (the speed the frontier varies) {error.problem}; name another in "
                          "[frontier] input", file=str(args.experiment), key="frontier.input") from None
    if getattr(args, "json", False):
        print(summary_json(result))
    elif not args.full:  # 80 columns
        from .screen import frontier_lines

        print("\n".join(frontier_lines(result)))
    else:
        print(frontier_table(result))
    if args.out:
        out = args.out if args.command == "frontier" else _frontier_path(args.out)
        save(result, out, overwrite=args.overwrite)
        print(f"saved {out}")


def _frontier_path(out: str) -> str:
    """Where ``overhang run --out X.nc`` saves the frontier: ``X.frontier.nc``."""
    path = Path(out)
    return str(path.with_name(path.name.removesuffix(".nc").removesuffix(".zarr") + ".frontier.nc"))


def _selection(text: str, scenarios) -> dict:
    """``"axis=value,axis=value"`` -> {axis: value} with values typed like the axis's coords."""
    chosen = {}
    for item in filter(None, text.split(",")):
        axis, _, value = item.partition("=")
        axis = axis.strip()
        if axis not in scenarios.dims:
            hint = did_you_mean(axis, scenarios.dims) if scenarios.dims else " (this experiment has no axes)"
            raise ConfigError(f"unknown scenario axis {axis!r}{hint}", file="command line", key="--compare")
        coords = scenarios.coords[axis]
        match = [c for c in coords if str(c) == value.strip() or _same_number(c, value)]
        if not match:
            raise ConfigError(f"{axis} has no value {value!r}; it has {', '.join(map(str, coords))}",
                              file="command line", key="--compare")
        chosen[axis] = match[0]
    return chosen


def _same_number(coord, text) -> bool:
    try:
        return not isinstance(coord, str) and float(coord) == float(text)
    except ValueError:
        return False


def _label(selection: dict) -> str:
    return ",".join(f"{k}={v}" for k, v in selection.items())


def _models(args) -> None:
    from .models import MODELS, resolve_model

    if args.model is None:
        rows = [(name, model.main, getattr(model, "description", "")) for name, model in MODELS.items()]
        width = max(len(r[0]) for r in rows)
        main = max(len(r[1]) for r in rows)
        print(f"{'model':<{width}}  {'main output':<{main}}  description")
        for name, out, text in rows:
            print(f"{name:<{width}}  {out:<{main}}  {text}")
        print("\noverhang models NAME shows one; a model file of your own: overhang models path/to/model.toml")
        return
    try:
        model = resolve_model(args.model)
    except OverhangError as error:
        raise (error if error.file else error.located(file="command line")) from None
    print(model.describe())


def _priors(args) -> None:
    from .distributions import describe, implied
    from .scenarios import load_scenarios
    from .tables import format_value

    scenarios = load_scenarios(args.experiment)  # an input an axis fixes is that axis's values, not a prior
    axes = {a: scenarios.coords[a] for a in scenarios.fixed_axes}
    models = list(dict.fromkeys(e.model for e in scenarios.experiments))
    print(f"{scenarios.base.name}: priors of the {', '.join(models)} model{'s' * (len(models) > 1)}")
    names = sorted({n for e in scenarios.experiments for n in e.priors})
    width = max(28, 1 + max(map(len, names), default=0))
    print(f"{'input':<{width}}{'unit':<20}{'p01':>11}{'p50':>11}{'p99':>11}{'mean':>11}  prior")
    for name in names:
        variants = _prior_variants(scenarios, name)
        if name in axes:
            print(f"{name:<{width}}{variants[0][0].unit:<20}  set per scenario by [[axes]] {name}: "
                  + ", ".join(format_value(float(v)) for v in axes[name]))
            continue
        for prior, where in variants:
            stats = implied(prior.dist)
            cells = "".join(f"{format_value(stats[k]):>11}" for k in ("p01", "p50", "p99", "mean"))
            print(f"{name:<{width}}{prior.unit:<20}{cells}  {describe(prior.dist)}")
            if len(where) < len(scenarios.experiments):  # not every scenario has this prior
                print(f"{'':<{width}}in: {_scenario_label(scenarios, where)}")
            if prior.source:
                print(f"{'':<{width}}source: {prior.source}")
            if prior.asked:
                _fitted_quantiles(name, prior, args.tolerance)


def _prior_variants(scenarios, name: str) -> list[tuple]:
    """The distinct priors of input `name` across the scenarios, each with the scenarios that have it."""
    variants: dict = {}
    for i, experiment in enumerate(scenarios.experiments):
        if name in experiment.priors:
            variants.setdefault(experiment.priors[name], []).append(i)
    return list(variants.items())


def _scenario_label(scenarios, where: list[int], most: int = 6) -> str:
    """Which scenarios `where` (indices) are: ``model=compute`` where they are a block of the grid
    (every combination of some axis values), else each scenario's labels, the first `most` of them."""
    cells = [scenarios.labels(i) for i in where]
    values = {d: list(dict.fromkeys(c[d] for c in cells)) for d in scenarios.dims}
    if len(cells) == math.prod(len(v) for v in values.values()):  # a block: name the axes it narrows
        return "; ".join(f"{d}={','.join(map(str, v))}" for d, v in values.items()
                         if len(v) < len(scenarios.coords[d]))
    shown = ["(" + ", ".join(f"{d}={c[d]}" for d in scenarios.dims) + ")" for c in cells[:most]]
    return " ".join(shown) + (f" and {len(cells) - most} more" if len(cells) > most else "")


def _fitted_quantiles(name, prior, tolerance) -> None:
    """The quantiles a fitted prior was asked for beside its own, with a warning where they differ."""
    from .distributions import describe
    from .elicitation import quantile_table

    rows = quantile_table(prior.asked, prior.dist, tolerance)
    print(f"{'':<28}{'quantile':>10}{'asked':>12}{'fitted':>12}{'rel. diff':>11}")
    for r in rows:
        label = f"p{100 * r['prob']:g}"
        print(f"{'':<28}{label:>10}{r['asked']:>12.4g}{r['fitted']:>12.4g}"
              f"{r['relative_error']:>11.2g}" + ("  <- off" if r["off"] else ""))
    off = [f"p{100 * r['prob']:g}" for r in rows if r["off"]]
    if off:
        print(f"overhang: warning: {prior.file or 'experiment'}: {name}: the fitted {describe(prior.dist)} misses "
              f"{', '.join(off)} by more than {tolerance:g} (relative); give other quantiles, a metalog or more "
              "terms", file=sys.stderr)


SENSITIVITY_FLAGS = ("samples", "seed", "sobol_samples", "confidence", "sobol_replicates", "methods", "scale",
                     "shapley_samples")


def _sensitivity(args) -> None:
    from .sensitivity_analysis import scenario_sensitivity
    from .storage import check_writable, save
    from .sensitivity_screen import sensitivity_lines
    from .tables import sensitivity_table, summary_json

    def table(ds) -> str:  # the default fits 80 columns; --full: every measure with its interval
        return sensitivity_table(ds) if args.full else "\n".join(sensitivity_lines(ds))

    scenarios = _scenarios(args, ("samples", "seed"))
    if args.out:
        check_writable(args.out, overwrite=args.overwrite)
    options = {"methods": args.methods, "sobol_samples": args.sobol_samples, "scale": args.scale,
               "confidence": args.confidence, "sobol_replicates": args.sobol_replicates,
               "shapley_samples": args.shapley_samples}
    try:
        result = scenario_sensitivity(scenarios, **options)
    except OverhangError as error:
        raise _from_command_line(error, args, SENSITIVITY_FLAGS) from None
    if args.out:
        save(result, args.out, overwrite=args.overwrite)
    if args.json:
        print(summary_json(result))
    elif not scenarios.dims:
        print(table(result))
    else:
        tables = []
        for i in range(len(scenarios.experiments)):
            labels = scenarios.labels(i)
            one = result.sel(labels)
            heading = ", ".join(f"{k} = {v}" for k, v in labels.items())
            tables.append(f"=== scenario {heading} ===\n{table(one)}")
        print("\n\n".join(tables))
    if args.out and not args.json:
        print(f"\nsaved {args.out}")


def _warn(message, category, filename, lineno, file=None, line=None) -> None:
    """Warnings as one line each on stderr, no source line."""
    print(f"overhang: warning: {' '.join(str(message).split())}", file=sys.stderr)


def _hide_unused_dask(args) -> None:
    """Make dask unimportable in an ``overhang run`` process that does not use a dask cluster.

    xarray imports dask (0.5-1 s, half a small run) at the first Variable it builds
    whenever dask is installed, to ask whether the data is a dask array; a run's data
    never is, and only ``--scheduler`` uses dask. So the process started for such a run
    behaves as if the optional ``dask`` extra were not installed. Only for the process's
    own command line (``main()`` without arguments), before xarray is imported, so a
    program or test calling ``main([...])`` keeps dask.
    """
    if args.command != "run" or getattr(args, "scheduler", None) or {"xarray", "dask"} & set(sys.modules):
        return
    sys.modules["dask"] = None  # `import dask` raises ImportError; importlib.util.find_spec gives None


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``overhang`` command; returns the exit status.

    0 on success; 2 for bad input (one line naming the file, the key and the problem);
    130 when interrupted (Ctrl-C); 1 for an internal error (a bug: one line, and the
    traceback with ``--debug``).
    """
    args = _parser().parse_args(argv)
    if argv is None:  # this process's own command line, not a caller's list
        _hide_unused_dask(args)
    commands = {"run": _run, "frontier": _frontier, "models": _models, "priors": _priors, "sensitivity": _sensitivity, "plot": _plot,
                "report": _report, "explain": _explain}
    with warnings.catch_warnings():
        warnings.showwarning = _warn
        try:
            commands[args.command](args)
        except OverhangError as error:
            print(f"overhang: error: {' '.join(str(error).split())}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            resumable = args.command == "run" and getattr(args, "out", None)
            print("overhang: interrupted" + ("; rerun the same command with --resume to continue" if resumable
                                             else ""), file=sys.stderr)
            return 130
        except BrokenPipeError:  # output piped into `head` and closed early: not an error
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 -- silence the flush at exit
        except Exception as error:  # noqa: BLE001 -- any other exception is a bug: say so in one line
            if args.debug:
                traceback.print_exc()
            print(f"overhang: internal error: {type(error).__name__}: {' '.join(str(error).split())[:300]}; "
                  f"please report it at {ISSUES} with the output of --debug", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
