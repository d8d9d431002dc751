"""Provenance: the root attributes every result carries, in one schema.

:func:`simulate` and :func:`overhang_sim.batch.run` both label their results with
:func:`provenance`, so a saved file says the same things however it was made: the
experiment's text and its SHA-256, each scenario's resolved priors, the design,
seed and sample counts, the main output, the package and dependency versions, the
git commit of the experiment's folder and the start and end times.
"""

from __future__ import annotations

import hashlib
import json
import platform
import subprocess
from collections.abc import Sequence
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

import numpy as np
import scipy
import xarray as xr

from .config import Experiment

__all__ = ["now", "provenance"]


def now() -> str:
    """The current UTC time, ISO 8601, to the second."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def provenance(experiments: Sequence[Experiment], *, text: str, path: str, seed: int, keep_samples: bool,
               axes: Sequence[str] = (), started: str = "", quantiles_from: str = "samples (exact)") -> dict:
    """The root attrs of a result made from `experiments` (the scenarios of one file).

    Parameters
    ----------
    experiments : sequence of Experiment
        Every scenario, in grid order; the first gives the shared settings.
    text, path : str
        The experiment file's text and path.
    seed : int
        The seed the run used.
    keep_samples : bool
        Whether the result holds every draw.
    axes : sequence of str
        Names of the scenario axes.
    started : str
        When the run started (ISO 8601); default: now.
    quantiles_from : str
        How the quantiles were computed (exactly from samples, or from sketches).
    """
    base = experiments[0]
    return {
        "title": f"overhang-sim run of experiment {base.name!r}",
        "experiment_name": base.name,
        "experiment_path": str(path),
        "experiment_text": text,
        "experiment_sha256": hashlib.sha256(text.encode()).hexdigest(),
        "resolved_priors": json.dumps([{n: p.dist.describe() for n, p in sorted(e.priors.items())}
                                       for e in experiments]),
        "correlations": json.dumps([[{"inputs": list(c.inputs), "rank": c.rank} for c in e.correlations]
                                    for e in experiments]),
        "scenario_axes": json.dumps(list(axes)),
        "model": ", ".join(dict.fromkeys(e.model for e in experiments)),
        "main_output": base.main,
        "seed": int(seed),
        "method": base.method,
        "samples": base.chains * base.draws,
        "chains": base.chains,
        "draws": base.draws,
        "keep_samples": int(keep_samples),
        "quantiles_from": quantiles_from,
        "summary_spec": json.dumps({"outputs": list(base.summary.outputs), "quantiles": list(base.summary.quantiles),
                                    "intervals": list(base.summary.intervals),
                                    "thresholds": list(base.summary.thresholds)}),
        "overhang_sim_version": version("overhang-sim"),
        "versions": json.dumps({"python": platform.python_version(), "numpy": np.__version__,
                                "scipy": scipy.__version__, "xarray": xr.__version__}),
        "git_commit": _git_commit(Path(path).parent) if path else "",
        "started": started or now(),
        "finished": now(),
    }


def _git_commit(folder: Path) -> str:
    if not folder.is_dir():
        return ""
    try:
        out = subprocess.run(["git", "-C", str(folder), "rev-parse", "HEAD"], capture_output=True,
                             text=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.stdout.strip() if out.returncode == 0 else ""
