"""The throughput curve's knee and slope, fitted to the shipped MLPerf table with their uncertainty.

The throughput path's reduced form (docs/models.rst 1; the ``tokens_per_gpu_s``
formula of ``throughput.toml``) is

    tokens_per_gpu_s(s) = tokens_per_gpu_s_max * (1 + (s / knee)^gamma)^(-beta / gamma)

for a required per-stream speed ``s``. The package ships the public MLPerf Inference
results it is calibrated against (``overhang_sim/data/calibration/mlperf.csv``: round,
year, model, system, GPU count, precision when stated, scenario, per-user speed target,
tokens per second per GPU, source). An offline result has no speed target and is read
as ``s = 0``: it gives its system's ``tokens_per_gpu_s_max``.

:func:`fit_throughput_curve` fits, by weighted least squares on log throughput
(:func:`scipy.optimize.least_squares`), one ``tokens_per_gpu_s_max`` per (round, model,
system) and one knee and one slope beta shared by all; gamma (``knee_sharpness``) is
*fixed* (default 2, the model file's default): the v6.0 DeepSeek-R1 rows are three
points for the three parameters of their system, so the shape of the knee is not
identified (gamma 4 gives beta 1.1, the two-point slope; gamma 2 gives about 1.35).
The fit is exact when the table has no more rows than parameters, so its uncertainty
comes from an assumed measurement error ``sigma`` on log throughput (default 0.1,
about 10 %, an assumption, not a measurement: the spread of one system's results
between submitters and software versions): the covariance is ``(J^T J)^-1`` of the
residuals scaled by sigma, and :meth:`CurveFit.prior` turns it into log-normal priors
with their rank correlation. ``python benchmarks/fit_throughput_curve.py`` refits and
prints them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import optimize, stats

from .errors import ConfigError

__all__ = ["COLUMNS", "CurveFit", "curve", "fit_throughput_curve", "load_mlperf", "mlperf_path"]

COLUMNS = ("round", "year", "model", "system", "gpus", "precision", "scenario", "per_user_tokens_per_s",
           "tokens_per_gpu_s", "source")
GROUP = ("round", "model", "system")
Z95 = stats.norm.ppf(0.95)


def mlperf_path() -> Path:
    """Where the shipped MLPerf table is."""
    return Path(str(resources.files("overhang_sim") / "data" / "calibration" / "mlperf.csv"))


def load_mlperf(path: str | Path | None = None) -> pd.DataFrame:
    """The calibration table: one row per MLPerf result, speeds in tok/s per user (0 = offline).

    Raises
    ------
    ConfigError
        Naming the file and the column, for a missing column, a row without a source
        with a year, or a throughput that is not positive.
    """
    path = mlperf_path() if path is None else Path(path)
    try:
        table = pd.read_csv(path, dtype={"precision": str}, keep_default_na=False, na_values={"per_user_tokens_per_s": ""})
    except (OSError, pd.errors.ParserError) as error:
        raise ConfigError(f"cannot read: {error}", file=str(path)) from None
    missing = [c for c in COLUMNS if c not in table.columns]
    if missing:
        raise ConfigError("is missing", file=str(path), key=missing[0])
    table["per_user_tokens_per_s"] = pd.to_numeric(table["per_user_tokens_per_s"], errors="coerce").fillna(0.0)
    if not (pd.to_numeric(table["tokens_per_gpu_s"], errors="coerce") > 0).all():
        raise ConfigError("must be a positive number in every row", file=str(path), key="tokens_per_gpu_s")
    if not table["source"].str.contains(r"\b(?:19|20)\d\d\b").all():
        raise ConfigError("every row cites its source with a year", file=str(path), key="source")
    return table


def curve(speed, tokens_max, knee, slope, sharpness=2.0):
    """tokens_per_gpu_s at per-stream `speed` [tok/s]: ``tokens_max (1 + (speed/knee)^g)^(-slope/g)``."""
    return tokens_max * (1.0 + (np.asarray(speed, dtype=float) / knee) ** sharpness) ** (-slope / sharpness)


@dataclass(frozen=True)
class CurveFit:
    """A least-squares fit of the throughput curve.

    Attributes
    ----------
    names : tuple of str
        Parameters, in order: ``log_tokens_per_gpu_s_max[ROUND MODEL SYSTEM]`` per group,
        then ``log_knee_tokens_per_s`` and ``log_throughput_slope`` (natural logs).
    estimate : ndarray
        Their fitted values.
    covariance : ndarray
        Their covariance, from sigma and the Jacobian.
    sigma : float
        Assumed error of one log throughput.
    sharpness : float
        The fixed gamma.
    table : pandas.DataFrame
        The data, with a ``group`` column (index into the first parameters).
    """

    names: tuple[str, ...]
    estimate: np.ndarray
    covariance: np.ndarray
    sigma: float
    sharpness: float
    table: pd.DataFrame

    @property
    def knee(self) -> float:
        """Fitted knee [tok/s]."""
        return math.exp(self.estimate[-2])

    @property
    def slope(self) -> float:
        """Fitted slope beta."""
        return math.exp(self.estimate[-1])

    def log_error(self, name: str) -> float:
        """Standard error of a parameter (on its natural-log scale)."""
        i = self.names.index(name)
        return math.sqrt(self.covariance[i, i])

    def predict(self) -> tuple[np.ndarray, np.ndarray]:
        """(fitted tokens_per_gpu_s of each row, standard error of its log)."""
        log_t, jac = _log_model(self.estimate, self.table, self.sharpness)
        return np.exp(log_t), np.sqrt(np.einsum("ij,jk,ik->i", jac, self.covariance, jac))

    def prior(self) -> dict[str, dict]:
        """Log-normal priors (90 % intervals) of knee and slope, and their Spearman rank correlation."""
        out = {}
        for name, unit in (("knee_tokens_per_s", "token/s"), ("throughput_slope", "1")):
            mu, sd = self.estimate[self.names.index(f"log_{name}")], self.log_error(f"log_{name}")
            out[name] = {"dist": "lognormal", "p05": math.exp(mu - Z95 * sd), "p95": math.exp(mu + Z95 * sd),
                         "unit": unit}
        i, j = len(self.names) - 2, len(self.names) - 1
        pearson = self.covariance[i, j] / math.sqrt(self.covariance[i, i] * self.covariance[j, j])
        out["rank"] = 6 / math.pi * math.asin(pearson / 2)  # Spearman's rho of a Gaussian copula
        return out

    def prior_toml(self) -> str:
        """The priors as a priors-file fragment, with a source line naming the fit."""
        p = self.prior()
        rounds = ", ".join(sorted({f"{r} ({y})" for r, y in zip(self.table["round"], self.table["year"], strict=True)}))
        lines = []
        for name in ("knee_tokens_per_s", "throughput_slope"):
            q = p[name]
            lines += [f"[{name}]", 'dist = "lognormal"', f"p05 = {q['p05']:.3g}", f"p95 = {q['p95']:.3g}",
                      f'unit = "{q["unit"]}"',
                      f'source = "fit to MLPerf Inference {rounds}, gamma = {self.sharpness:g} fixed, '
                      f'sigma = {self.sigma:g} on log throughput (overhang_sim.calibration)"', ""]
        lines += ["[[correlations]]  # in the experiment file",
                  'inputs = ["knee_tokens_per_s", "throughput_slope"]', f"rank = {p['rank']:.2f}"]
        return "\n".join(lines)


def _log_model(theta, table, sharpness):
    """log tokens_per_gpu_s of each row and its Jacobian with respect to theta."""
    groups = table["group"].to_numpy()
    speed = table["per_user_tokens_per_s"].to_numpy(dtype=float)
    knee, slope = np.exp(theta[-2]), np.exp(theta[-1])
    x = (speed / knee) ** sharpness
    log1p = np.log1p(x)
    log_t = theta[groups] - slope / sharpness * log1p
    jac = np.zeros((len(table), len(theta)))
    jac[np.arange(len(table)), groups] = 1.0
    jac[:, -2] = slope * x / (1.0 + x)        # d/d log knee
    jac[:, -1] = -slope / sharpness * log1p   # d/d log slope
    return log_t, jac


def fit_throughput_curve(table: pd.DataFrame | None = None, *, sigma: float = 0.1,
                         sharpness: float = 2.0) -> CurveFit:
    """Fit the throughput curve to `table` (the shipped MLPerf table by default).

    Parameters
    ----------
    table : pandas.DataFrame, optional
        Rows as :func:`load_mlperf` returns them.
    sigma : float
        Assumed standard error of one log throughput (0.1: about 10 %).
    sharpness : float
        The fixed gamma of the knee.

    Returns
    -------
    CurveFit

    Raises
    ------
    ConfigError
        When the rows with a speed target cannot fix both the knee and the slope.
    """
    table = load_mlperf() if table is None else table.copy()
    if not (sigma > 0 and sharpness > 0):
        raise ConfigError(f"sigma and sharpness must be positive, not {sigma!r} and {sharpness!r}", key="sigma")
    keys = list(zip(*(table[c] for c in GROUP), strict=True))
    labels = list(dict.fromkeys(keys))
    table["group"] = [labels.index(k) for k in keys]
    timed = table["per_user_tokens_per_s"] > 0
    if timed.sum() < 2 or table.loc[timed, "per_user_tokens_per_s"].nunique() < 2:
        raise ConfigError("needs results at two or more per-user speeds to fit a knee and a slope",
                          key="per_user_tokens_per_s")
    log_obs = np.log(table["tokens_per_gpu_s"].to_numpy(dtype=float))
    start = np.concatenate([[log_obs[table["group"] == g].max() for g in range(len(labels))],
                            [np.log(np.median(table.loc[timed, "per_user_tokens_per_s"])), 0.0]])

    def residuals(theta):
        return (_log_model(theta, table, sharpness)[0] - log_obs) / sigma

    def jacobian(theta):
        return _log_model(theta, table, sharpness)[1] / sigma

    result = optimize.least_squares(residuals, start, jac=jacobian, method="lm", xtol=1e-14, ftol=1e-14)
    jac = jacobian(result.x)
    if np.linalg.matrix_rank(jac) < len(start):
        raise ConfigError("the table cannot fix every parameter (the Jacobian is rank-deficient)",
                          key="per_user_tokens_per_s")
    names = tuple(f"log_tokens_per_gpu_s_max[{' '.join(map(str, k))}]" for k in labels)
    return CurveFit(names=(*names, "log_knee_tokens_per_s", "log_throughput_slope"), estimate=result.x,
                    covariance=np.linalg.inv(jac.T @ jac), sigma=float(sigma), sharpness=float(sharpness),
                    table=table)
