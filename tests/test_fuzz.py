"""Fuzz the ``overhang`` command with mutated copies of the shipped experiment and prior files.

The contract every command must meet, whatever the files say:

- good input exits 0; bad input exits 2 with exactly one line on stderr,
  ``overhang: error: FILE: KEY: problem``, naming the file, and no traceback;
- no other exception leaves :func:`overhang_sim.cli.main` (the planned fix turns any other
  into ``overhang: internal error: ...`` and exit status 1, which this test still counts as
  a bug: a mutated input file is the user's mistake, not an internal error);
- nothing already saved is lost or overwritten by a failed command, a refusal before the
  run starts leaves no ``OUT.partial/`` and no ``.tmp`` file behind, and an exit 0 with
  ``--out`` leaves a file that :func:`overhang_sim.load` reads back;
- no ``RuntimeWarning`` from overhang_sim (pyproject turns them into errors in the tests;
  on a terminal they are extra lines on stderr).

Each example copies ``experiments/`` and ``priors/`` into a fresh folder, applies one to
three mutations (see ``fuzz_strategies.py``) and runs one command in-process, from that
folder, with relative paths. The run commands override ``--samples`` so every example is
fast; the file's own values are still parsed and checked.

These tests are expected to FAIL until the input checks are complete: they assert the
contract, they do not mark known failures.

Environment variables:

``OVERHANG_FUZZ_EXAMPLES``
    Examples for ``run`` and ``priors`` (default 40); ``run --out x.nc`` gets half,
    ``run --out x.zarr`` a quarter and ``sensitivity`` a fifth (at least 2 each).
``OVERHANG_FUZZ_TIMEOUT``
    Seconds one command may take before it counts as hung (default 20).
``OVERHANG_FUZZ_LOG``
    Append one JSON line per example (command, mutations, exit status, violations) to this file.
``OVERHANG_FUZZ_SURVEY=1``
    Do not stop at the first failure: run every example, then fail once with a count of
    each kind of violation (use with ``OVERHANG_FUZZ_LOG`` to catalogue them).
``OVERHANG_FUZZ_SHRINK=1``
    Let hypothesis shrink a failure to a minimal example (off by default: slow).
``OVERHANG_FUZZ_RANDOM=1``
    Random generation instead of the fixed (derandomized) sequence CI uses.
"""

from __future__ import annotations

import collections
import hashlib
import json
import os
import tempfile
import traceback
from pathlib import Path

import pytest
from fuzz_strategies import FuzzCase, Hung, Outcome, fuzz_cases, invoke, last_package_frame
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import overhang_sim

EXAMPLES = int(os.environ.get("OVERHANG_FUZZ_EXAMPLES", "40"))
TIMEOUT = float(os.environ.get("OVERHANG_FUZZ_TIMEOUT", "20"))
LOG = os.environ.get("OVERHANG_FUZZ_LOG")
SURVEY = os.environ.get("OVERHANG_FUZZ_SURVEY") == "1"
SHRINK = os.environ.get("OVERHANG_FUZZ_SHRINK") == "1"
RANDOM = os.environ.get("OVERHANG_FUZZ_RANDOM") == "1"

PREFIX = "overhang: error: "
SENTINEL = b"a result saved earlier: must survive a failed command\n"

# command -> (argv after the experiment file, --out file or None, share of EXAMPLES)
COMMANDS = {
    "run": (["--samples", "2000", "--quiet"], None, 1.0),
    "run_netcdf": (["--samples", "2000", "--quiet", "--out", "out.nc"], "out.nc", 0.5),
    "run_zarr": (["--samples", "2000", "--quiet", "--out", "out.zarr"], "out.zarr", 0.25),
    "priors": ([], None, 1.0),
    # 8000, not 4000: with the shipped 8 chains 4000 samples are 500 draws a chain, which the
    # given-data indices refuse (>= 1000 a chain) before any of the file's priors is used.
    "sensitivity": (["--samples", "8000", "--sobol-samples", "256", "--sobol-replicates", "8"], None, 0.2),
}


def examples(command: str) -> int:
    return max(2, round(EXAMPLES * COMMANDS[command][2]))


# --------------------------------------------------------------------------- the contract


def stray_files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if ".tmp" in p.name)


def unchanged(previous: Path) -> bool:
    sentinel = previous / "PREVIOUS" if previous.name.endswith(".zarr") else previous
    return sentinel.is_file() and sentinel.read_bytes() == SENTINEL


def violations(outcome: Outcome, folder: Path, out: str | None, had_previous: bool) -> list[tuple[str, str]]:
    """(kind, detail) for each way `outcome` breaks the contract; kinds group the failures."""
    found = []
    if outcome.error is not None:
        what = "hung" if isinstance(outcome.error, Hung) else type(outcome.error).__name__
        found.append((f"{what} at {last_package_frame(outcome.frames)}",
                      f"{type(outcome.error).__name__}: {str(outcome.error)[:300]}"))
    for category, place, message in outcome.warnings:
        if category == "RuntimeWarning" and place.startswith("src/overhang_sim/"):
            found.append((f"RuntimeWarning at {place}", message[:200]))
    code = outcome.code
    if outcome.error is None and code not in (0, 2):
        found.append((f"exit status {code!r}", outcome.err[-300:]))
    lines = outcome.err.removesuffix("\n").split("\n") if outcome.err else []  # a terminal's lines
    if code == 2:
        if len(lines) != 1:
            extra = "warnings" if outcome.warnings else "text"
            found.append((f"exit 2 with {extra} on stderr besides the error line", outcome.err[:400]))
        if not lines or not lines[0].startswith(PREFIX) or not lines[0][len(PREFIX):].strip():
            found.append(("exit 2 without an 'overhang: error: ' line", outcome.err[:400]))
        elif not lines[0][len(PREFIX):].startswith(("experiments/", "priors/", "command line", "out.", "/")):
            found.append(("exit 2 with a message that names no file", lines[0][:300]))
        if "Traceback" in outcome.err:
            found.append(("exit 2 with a traceback on stderr", outcome.err[:400]))
    if code in (0, 2) or outcome.error is not None:
        if strays := stray_files(folder):
            found.append(("temporary files left behind", ", ".join(strays)))
    if out is not None:
        target, partial = folder / out, folder / f"{out}.partial"
        if had_previous and code != 0 and not unchanged(target):
            found.append(("a result saved earlier was changed by a failed command", out))
        if code == 2 and not outcome.started:
            if partial.exists():
                found.append(("refused before the run started but left OUT.partial/", out))
            if not had_previous and target.exists():
                found.append(("refused before the run started but created OUT", out))
        if code == 0:
            if partial.exists():
                found.append(("exit 0 but OUT.partial/ left behind", out))
            if not target.exists():
                found.append(("exit 0 with --out but nothing saved", out))
            else:
                try:
                    overhang_sim.load(target)
                except Exception as error:  # noqa: BLE001
                    found.append((f"exit 0 but the saved file does not load: {type(error).__name__}",
                                  str(error)[:300]))
    return found


# --------------------------------------------------------------------------- one example


SURVEYED: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)


def check(command: str, case: FuzzCase, previous: bool) -> None:
    extra, out, _ = COMMANDS[command]
    with tempfile.TemporaryDirectory(prefix="overhang-fuzz-") as tmp:
        folder = Path(tmp)
        case.write(folder)
        had_previous = bool(out) and previous
        if had_previous:
            if out.endswith(".zarr"):
                (folder / out).mkdir()
                (folder / out / "PREVIOUS").write_bytes(SENTINEL)
            else:
                (folder / out).write_bytes(SENTINEL)
        argv = [command.split("_")[0], case.experiment, *extra]
        outcome = invoke(argv, folder, timeout=TIMEOUT)
        found = violations(outcome, folder, out, had_previous)
    if LOG:
        with open(LOG, "a", encoding="utf-8") as log:
            log.write(json.dumps({
                "command": command, "case": case.describe(), "argv": argv, "previous": had_previous,
                "code": outcome.code, "seconds": round(outcome.seconds, 3), "started": outcome.started,
                "stderr": outcome.err[:600], "violations": found,
                "traceback": traceback.format_list(outcome.frames[-6:]) if outcome.frames else [],
            }) + "\n")
    if not found:
        return
    if SURVEY:
        SURVEYED[command].update(kind for kind, _ in found)
        return
    kept = keep(case)
    tail = "".join(traceback.format_list(outcome.frames[-4:])) if outcome.frames else ""
    report = "\n".join(f"  - {kind}: {detail}" for kind, detail in found)
    raise AssertionError(f"`overhang {' '.join(argv)}` after mutating {case.describe()}\n"
                         f"exit status {outcome.code!r}; stderr: {outcome.err[:500]!r}\n"
                         f"contract broken:\n{report}\n{tail}"
                         f"to reproduce: cd {kept} && overhang {' '.join(argv)}")


def keep(case: FuzzCase) -> Path:
    """The mutated files of a failing case, kept in a folder of their own (named by the mutation)."""
    name = hashlib.sha1(case.describe().encode()).hexdigest()[:12]
    folder = Path(tempfile.gettempdir()) / "overhang-fuzz-failures" / name
    folder.mkdir(parents=True, exist_ok=True)
    case.write(folder)
    (folder / "MUTATIONS.txt").write_text(case.describe() + "\n", encoding="utf-8")
    return folder


def fuzz_settings(command: str):
    phases = [Phase.explicit, Phase.reuse, Phase.generate] + ([Phase.shrink] if SHRINK else [])
    return settings(max_examples=examples(command), derandomize=not RANDOM, database=None, deadline=None,
                    phases=phases, print_blob=False,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.large_base_example, HealthCheck.filter_too_much])


def finish(command: str) -> None:
    if SURVEY and SURVEYED[command]:
        kinds = "\n".join(f"  {n:5d}  {kind}" for kind, n in SURVEYED[command].most_common())
        total = sum(SURVEYED[command].values())
        pytest.fail(f"{total} contract violations in {examples(command)} examples of "
                    f"`overhang {command}`:\n{kinds}", pytrace=False)


# --------------------------------------------------------------------------- the tests (one per command)


@fuzz_settings("run")
@given(case=fuzz_cases(), previous=st.just(False))
def _fuzz_run(case, previous):
    check("run", case, previous)


def test_fuzz_run():
    """``overhang run FILE --samples 2000 --quiet`` on a mutated file: exit 0 or one error line."""
    _fuzz_run()
    finish("run")


@fuzz_settings("run_netcdf")
@given(case=fuzz_cases(), previous=st.booleans())
def _fuzz_run_netcdf(case, previous):
    check("run_netcdf", case, previous)


def test_fuzz_run_out_netcdf():
    """``... --out out.nc``: and a saved result, or nothing written (an earlier out.nc kept)."""
    _fuzz_run_netcdf()
    finish("run_netcdf")


@fuzz_settings("run_zarr")
@given(case=fuzz_cases(), previous=st.booleans())
def _fuzz_run_zarr(case, previous):
    check("run_zarr", case, previous)


def test_fuzz_run_out_zarr():
    """``... --out out.zarr``: as netCDF."""
    _fuzz_run_zarr()
    finish("run_zarr")


@fuzz_settings("priors")
@given(case=fuzz_cases(), previous=st.just(False))
def _fuzz_priors(case, previous):
    check("priors", case, previous)


def test_fuzz_priors():
    """``overhang priors FILE`` on a mutated file."""
    _fuzz_priors()
    finish("priors")


@fuzz_settings("sensitivity")
@given(case=fuzz_cases(), previous=st.just(False))
def _fuzz_sensitivity(case, previous):
    check("sensitivity", case, previous)


def test_fuzz_sensitivity():
    """``overhang sensitivity FILE --samples 8000 --sobol-samples 256 --resamples 100`` (slower: fewer)."""
    _fuzz_sensitivity()
    finish("sensitivity")
