"""The ``overhang`` command: argument parsing and printing only."""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys

from . import __version__
from .config import load_experiment
from .designs import METHODS
from .distributions import describe, implied
from .errors import ConfigError, OverhangError
from .sensitivity import METHODS as SENSITIVITY_METHODS
from .sensitivity import sensitivity
from .simulate import simulate
from .storage import check_writable, save
from .summaries import summarize
from .tables import format_value, sensitivity_table, summary_json, summary_table

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


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="overhang", description="Monte Carlo simulator for the compute overhang: "
                     "how many copies of a newly trained model its training hardware can run.")
    parser.add_argument("--version", action="version", version=f"overhang-sim {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = commands.add_parser("run", help="run an experiment and print its credible intervals")
    run.add_argument("experiment", nargs="?", help="experiment TOML file (default: the embedded baseline)")
    run.add_argument("--out", help="save the run as netCDF to this path")
    run.add_argument("--samples", type=_whole, help="total samples (overrides the file); 1e6 is accepted")
    run.add_argument("--chains", type=_whole, help="independent chains (overrides the file)")
    run.add_argument("--seed", type=_whole, help="random seed (overrides the file)")
    run.add_argument("--method", choices=METHODS, help="sampling design (overrides the file)")
    run.add_argument("--json", action="store_true", help="print the summary as JSON instead of a table")

    priors = commands.add_parser("priors", help="list an experiment's priors with their implied quantiles")
    priors.add_argument("experiment", nargs="?", help="experiment TOML file (default: the embedded baseline)")

    sens = commands.add_parser("sensitivity", help="rank an experiment's inputs by how much each output "
                               "depends on them, with confidence intervals")
    sens.add_argument("experiment", nargs="?", help="experiment TOML file (default: the embedded baseline)")
    sens.add_argument("--out", help="save the result as netCDF to this path")
    sens.add_argument("--methods", nargs="+", choices=SENSITIVITY_METHODS,
                      help="default: all (without sobol when the experiment correlates inputs)")
    sens.add_argument("--scale", choices=("log10", "linear"), default="log10",
                      help="indices of log10(output) (default) or of the output itself")
    sens.add_argument("--samples", type=_whole, help="samples of the run behind given_data and voi "
                      "(overrides the file)")
    sens.add_argument("--sobol-samples", type=_whole,
                      help="Sobol' base samples, rounded up to a power of two")
    sens.add_argument("--seed", type=_whole, help="random seed (overrides the file)")
    sens.add_argument("--confidence", type=float, default=0.95, help="mass of the intervals (default 0.95)")
    sens.add_argument("--resamples", type=_whole, default=1000, help="bootstrap resamples (default 1000)")
    sens.add_argument("--json", action="store_true", help="print the result as JSON instead of a table")
    return parser


def _from_command_line(error: OverhangError, args, flags) -> OverhangError:
    """`error` blamed on the command-line flag that set its key, if one did."""
    key = (error.key or "").replace("-", "_")
    if key in flags and getattr(args, key, None) is not None:
        return ConfigError(error.problem, file="command line", key="--" + key.replace("_", "-"))
    return error


def _experiment(args, flags):
    """The experiment file (or the embedded baseline) with the flags in `flags` applied."""
    experiment = load_experiment(args.experiment)
    overrides = {k: getattr(args, k) for k in flags if getattr(args, k, None) is not None}
    try:
        return dataclasses.replace(experiment, **overrides)
    except OverhangError as error:
        raise _from_command_line(error, args, flags) from None


RUN_FLAGS = ("samples", "chains", "method", "seed")


def _run(args) -> None:
    experiment = _experiment(args, RUN_FLAGS)
    if args.out:
        check_writable(args.out)
    try:
        result = simulate(experiment)
    except OverhangError as error:
        raise _from_command_line(error, args, RUN_FLAGS) from None
    summary = summarize(result, experiment.summary)
    if args.out:
        save(result, args.out)
    print(summary_json(summary) if args.json else summary_table(summary))
    if args.out and not args.json:
        print(f"\nsaved {args.out}")


def _priors(args) -> None:
    experiment = load_experiment(args.experiment)
    print(f"{experiment.name}: priors of the {experiment.model} model")
    header = f"{'input':<28}{'unit':<20}{'p01':>11}{'p50':>11}{'p99':>11}{'mean':>11}  prior"
    print(header)
    for name, prior in sorted(experiment.priors.items()):
        stats = implied(prior.dist)
        cells = "".join(f"{format_value(stats[k]):>11}" for k in ("p01", "p50", "p99", "mean"))
        print(f"{name:<28}{prior.unit:<20}{cells}  {describe(prior.dist)}")
        if prior.source:
            print(f"{'':<28}source: {prior.source}")


SENSITIVITY_FLAGS = ("samples", "seed", "sobol_samples", "confidence", "resamples", "methods", "scale")


def _sensitivity(args) -> None:
    experiment = _experiment(args, ("samples", "seed"))
    if args.out:
        check_writable(args.out)
    try:
        result = sensitivity(experiment, methods=args.methods, sobol_samples=args.sobol_samples,
                             scale=args.scale, confidence=args.confidence, resamples=args.resamples)
    except OverhangError as error:
        raise _from_command_line(error, args, SENSITIVITY_FLAGS) from None
    if args.out:
        save(result, args.out)
    print(summary_json(result) if args.json else sensitivity_table(result))
    if args.out and not args.json:
        print(f"\nsaved {args.out}")


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``overhang`` command; returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        {"run": _run, "priors": _priors, "sensitivity": _sensitivity}[args.command](args)
    except OverhangError as error:
        print(f"overhang: error: {error}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into `head` and closed early: not an error
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 -- silence the flush at exit
    return 0


if __name__ == "__main__":
    sys.exit(main())
