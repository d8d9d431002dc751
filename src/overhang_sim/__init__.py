"""overhang-sim: how many copies of a newly trained model can its training hardware run?

The pipeline in three calls::

    from overhang_sim import load_experiment, simulate, summarize
    experiment = load_experiment("experiments/baseline.toml")
    run = simulate(experiment, seed=1)        # xarray.Dataset, dims (chain, draw)
    summary = summarize(run)                  # xarray.Dataset of intervals and errors
"""

from importlib.metadata import version

__version__ = version("overhang-sim")

from .config import Experiment, Prior, SummarySpec, load_experiment, load_priors
from .distributions import (
    Beta,
    Empirical,
    Fixed,
    LogNormal,
    LogUniform,
    Mixture,
    Normal,
    Pert,
    Truncated,
    Uniform,
    describe,
    implied,
)
from .errors import (
    ConfigError,
    DomainError,
    ModelInputError,
    OverhangError,
    PriorError,
    StorageError,
)
from .function_model import FunctionModel
from .models import MODELS, QUANTITIES, Model, register
from .modelspec import FormulaModel
from .sensitivity_analysis import sensitivity
from .simulation import simulate
from .storage import load, save
from .summaries import summarize

__all__ = [
    "__version__",
    # pipeline
    "load_experiment",
    "load_priors",
    "simulate",
    "summarize",
    "sensitivity",
    "save",
    "load",
    # specs
    "Experiment",
    "Prior",
    "SummarySpec",
    "Model",
    "FormulaModel",
    "FunctionModel",
    "MODELS",
    "QUANTITIES",
    "register",
    # distributions
    "Beta",
    "Empirical",
    "Fixed",
    "LogNormal",
    "LogUniform",
    "Mixture",
    "Normal",
    "Pert",
    "Truncated",
    "Uniform",
    "describe",
    "implied",
    # errors
    "OverhangError",
    "ConfigError",
    "DomainError",
    "ModelInputError",
    "PriorError",
    "StorageError",
]
