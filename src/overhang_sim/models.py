"""Every model the package knows, by name: the shipped model files and the ones users add.

A model is a :class:`~overhang_sim.modelspec.FormulaModel` (a model file: named
quantities with units and formulas) or a :class:`~overhang_sim.function_model.FunctionModel`
(a Python function with the same interface, for what formulas cannot say). The five
paths of the source essays ship as model files in ``overhang_sim/data/models``
(``overhang models NAME`` prints one); they are the documentation of the equations.

An experiment names its model in one of three ways (:func:`resolve_model`): a name
(``model = "compute"``, a shipped model or one added with :func:`register`), a path
to a model file relative to the experiment file (``model = "models/tokens.toml"``), or
an inline ``[model]`` table.

Examples
--------
A Python function as a model, then used by name:

>>> doubling = Model.from_function(
...     "doubling", lambda v: {"instances": 2 * v["copies"]},
...     inputs={"copies": "instance"}, outputs={"instances": "instance"})
>>> register(doubling) is doubling
True
>>> MODELS["doubling"].main
'instances'
"""

from __future__ import annotations

import abc
from collections.abc import Iterator, Mapping
from pathlib import Path

from .errors import ConfigError, OverhangError, did_you_mean
from .function_model import FunctionModel
from .model_quantity import ModelQuantity
from .modelspec import FormulaModel, builtin_models, builtin_quantity_names

__all__ = ["MODELS", "QUANTITIES", "Model", "model_names", "register", "resolve_model"]

class Model(abc.ABC):
    """What every model is: a :class:`FormulaModel` or a :class:`FunctionModel` (``isinstance`` works).

    Build one with :meth:`from_file`, :meth:`from_text`, :meth:`from_formulas` (a model
    file's quantities, units and formulas) or :meth:`from_function` (a vectorised Python
    function with declared units). Every model has ``name``, ``main``, ``quantities``,
    ``inputs``, ``outputs``, ``defaults``, ``divisors``, ``check_inputs(given)``,
    ``describe()`` and is called on a mapping of arrays.
    """

    from_file = staticmethod(FormulaModel.from_file)
    from_text = staticmethod(FormulaModel.from_text)
    from_formulas = staticmethod(FormulaModel.from_formulas)
    from_function = staticmethod(FunctionModel.from_function)


Model.register(FormulaModel)
Model.register(FunctionModel)

_REGISTERED: dict[str, Model] = {}


class _Models(Mapping):
    """The known models by name: the shipped ones, then the registered ones (read-only).

    Looking one up builds only that one (a shipped model is built from its file on first use).
    """

    def __getitem__(self, name: str) -> Model:
        return _REGISTERED[name] if name in _REGISTERED else builtin_models()[name]

    def __contains__(self, name: object) -> bool:
        return name in _REGISTERED or name in builtin_models()

    def __iter__(self) -> Iterator[str]:
        return iter({**dict.fromkeys(builtin_models()), **_REGISTERED})

    def __len__(self) -> int:
        return len({**dict.fromkeys(builtin_models()), **_REGISTERED})


class _Quantities(Mapping):
    """Every quantity of a known model, by name (the first model to declare it wins)."""

    def _all(self) -> dict[str, ModelQuantity]:
        out: dict[str, ModelQuantity] = {}
        for model in MODELS.values():
            for name, quantity in model.quantities.items():
                out.setdefault(name, quantity)
        return out

    def __getitem__(self, name: str) -> ModelQuantity:
        return self._all()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())


def quantity_names() -> frozenset[str]:
    """The names of :data:`QUANTITIES` (every known model's quantities), without building the
    shipped models when none has been built yet."""
    return builtin_quantity_names().union(*(m.quantities for m in _REGISTERED.values()))


MODELS: Mapping[str, Model] = _Models()
QUANTITIES: Mapping[str, ModelQuantity] = _Quantities()


def register(model: Model) -> Model:
    """Make `model` known by its name, so experiment files can say ``model = "NAME"``.

    A registered model lives for this process; the shipped models cannot be replaced.

    Raises
    ------
    ConfigError
        If the name is a shipped model's.
    """
    if not isinstance(model, Model):
        raise ConfigError(f"must be a FormulaModel or a FunctionModel, not {type(model).__name__}", key="model")
    if model.name in builtin_models():
        raise ConfigError(f"{model.name!r} is a shipped model; give yours another name", key="model")
    _REGISTERED[model.name] = model
    return model


def model_names() -> tuple[str, ...]:
    """Names of every known model, shipped first."""
    return tuple(MODELS)


def resolve_model(spec: object, base: str | Path | None = None, key: str = "model") -> Model:
    """The model an experiment's ``model`` entry names.

    Parameters
    ----------
    spec : str or mapping
        A model's name, a path ending in ``.toml`` (relative to `base`), or an inline
        model table (the contents of a model file).
    base : path, optional
        The experiment file, whose folder relative paths start from.
    key : str
        The key errors name.

    Raises
    ------
    OverhangError
        One line: an unknown name (with did-you-mean), a missing or invalid model file.
    """
    if isinstance(spec, Mapping):
        try:
            return FormulaModel.from_table(spec, file=str(base or ""))
        except OverhangError as error:
            raise error.located(prefix=key) from None
    if not isinstance(spec, str) or not spec:
        raise ConfigError(f"must be a model's name, a model file or a [model] table, not {spec!r:.40}", key=key)
    if spec.endswith(".toml"):
        path = Path(spec) if base is None else Path(base).parent / spec
        if not path.is_file():
            raise ConfigError(f"no model file {str(path)!r}", key=key)
        return FormulaModel.from_file(path)
    if spec not in MODELS:
        raise ConfigError(f"unknown model {spec!r}{did_you_mean(spec, MODELS)}; choose one of "
                          f"{', '.join(MODELS)}, or give a model file (NAME.toml)", key=key)
    return MODELS[spec]
