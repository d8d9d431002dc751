"""overhang-sim: how many copies of a newly trained model can its training hardware run?

The pipeline in three calls::

    from overhang_sim import load_experiment, simulate, summarize
    experiment = load_experiment("experiments/baseline.toml")
    run = simulate(experiment, seed=1)        # xarray.Dataset, dims (chain, draw)
    summary = summarize(run)                  # xarray.Dataset of intervals and errors
"""

import importlib

# Each public name and the submodule it lives in. The submodules are imported on
# first use (PEP 562), so `import overhang_sim` and the `overhang` command's start-up
# cost only what is used: `overhang --help` never imports numpy.
_HOMES = {
    **dict.fromkeys(("Experiment", "Prior", "SummarySpec", "load_experiment", "load_priors"), "config"),
    **dict.fromkeys(("Beta", "Empirical", "Fixed", "LogNormal", "LogUniform", "Mixture", "Normal", "Pert",
                     "Truncated", "Uniform", "describe", "implied"), "distributions"),
    **dict.fromkeys(("ConfigError", "DomainError", "ModelInputError", "OverhangError", "PriorError",
                     "StorageError"), "errors"),
    "FunctionModel": "function_model",
    **dict.fromkeys(("MODELS", "QUANTITIES", "Model", "register"), "models"),
    "FormulaModel": "modelspec",
    "sensitivity": "sensitivity_analysis",
    "simulate": "simulation",
    **dict.fromkeys(("load", "save"), "storage"),
    "summarize": "summaries",
}


def __getattr__(name: str):
    if name == "__version__":
        from importlib.metadata import version

        value = version("overhang-sim")
    elif name in _HOMES:
        value = getattr(importlib.import_module(f".{_HOMES[name]}", __name__), name)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value  # looked up once
    return value


def __dir__():
    return sorted({*globals(), *__all__})


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
