"""Exceptions raised by overhang-sim.

Every error a user can cause derives from :class:`OverhangError` (first, so its
constructor and one-line ``str`` win) and also from the builtin that fits it, so ``except ValueError`` keeps working. An error knows the file
and the key it is about; ``str(error)`` is one line: ``file: key: problem``.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = [
    "CheckpointWarning",
    "DesignWarning",
    "ConfigError",
    "DomainError",
    "ModelInputError",
    "OverhangError",
    "PriorError",
    "StorageError",
    "did_you_mean",
]


class OverhangError(Exception):
    """Base class of every error overhang-sim raises on purpose.

    Parameters
    ----------
    problem : str
        What is wrong, in one sentence.
    file : str, optional
        The file the problem was found in.
    key : str, optional
        The dotted key inside that file, e.g. ``cluster_gpus.p05``.
    """

    def __init__(self, problem: str, *, file: str | None = None, key: str | None = None):
        super().__init__(problem)
        self.problem = problem
        self.file = file
        self.key = key

    def __str__(self) -> str:
        parts = [p for p in (self.file, self.key) if p]
        return ": ".join([*parts, self.problem])

    def __reduce__(self):  # keep file and key across processes (Exception pickles only args)
        return _rebuild_error, (type(self), self.problem, self.file, self.key)

    def located(self, file: str | None = None, prefix: str | None = None) -> OverhangError:
        """Return a copy that names `file` and puts `prefix` in front of the key."""
        key = ".".join(p for p in (prefix, self.key) if p) or None
        return type(self)(self.problem, file=file or self.file, key=key)


def _rebuild_error(cls, problem, file, key):
    return cls(problem, file=file, key=key)


class ConfigError(OverhangError, ValueError):
    """A malformed experiment or prior file (unknown key, wrong type, bad value)."""


class PriorError(OverhangError, ValueError):
    """A distribution whose parameters are invalid (p05 >= p95, negative scale, ...)."""


class DomainError(OverhangError, ValueError):
    """A prior that can produce values outside its input's physical domain."""


class ModelInputError(OverhangError, KeyError):
    """A model input that has no prior, or a prior for a name the model does not know."""


class StorageError(OverhangError, OSError):
    """A result that cannot be written or read."""


class DesignWarning(UserWarning):
    """A sampling design that will run but loses accuracy (Sobol' points out of balance)."""


class CheckpointWarning(UserWarning):
    """Saved tasks of an unfinished run that could not be used and were computed again."""


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """Return ``" (did you mean 'x'?)"`` for the closest choices (ties listed), or ``""``."""
    choices = list(choices)
    scores = {c: difflib.SequenceMatcher(None, word, c).ratio() for c in choices}
    best = max(scores.values(), default=0.0)
    if best < 0.6:
        return ""
    close = " or ".join(f"'{c}'" for c in choices if scores[c] == best)
    return f" (did you mean {close}?)"
