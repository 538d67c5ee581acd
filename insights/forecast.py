"""Count forecasts with 80 % and 95 % intervals: seasonal statistical models from `statsforecast` (the
optional `caseworker[insights]` extra), or seasonal naive when the history is short or the package absent.

- daily counts: AutoETS with a weekly season (7);
- hourly counts: MSTL with daily and weekly seasons (24, 168), its trend by a non-seasonal AutoETS;
- fallback (history under three weeks, or no statsforecast): seasonal naive (the value one season back: a
  week of days; for hours a week once two weeks are seen, else a day), its interval from the residuals of
  the same rule on the history, widened with the horizon (sqrt of seasons ahead) and by Student-t
  quantiles with the residuals' degrees of freedom, so less history gives wider bands; under one season
  of history: the mean, with the same small-sample band.
Counts are never negative (every bound is clipped at 0) and a band starts no narrower than Poisson noise
around its mean; a model's bands are then calibrated (split-conformal) on rolling origins inside the
history: refit before each of the last three weeks, scored on that week, stretched or shrunk so the
stated share of those weeks' counts would have fallen inside. Nothing is downloaded: statsforecast 2
computes with coreforecast, compiled in its wheel.
"""

from __future__ import annotations

import logging
import math
from datetime import datetime
from typing import Literal

import numpy as np
from pydantic import BaseModel
from scipy.stats import t as student_t

from insights.series import SEASON, WEEK, Freq, bin_starts

log = logging.getLogger(__name__)

Method = Literal["auto", "statsforecast", "seasonal_naive"]
LEVELS = (80, 95)
#: Seasons of the longest period (a week) the models need before they are trusted over seasonal naive.
MIN_WEEKS_FOR_MODEL = 3
#: Rolling origins inside the history (a week apart, the newest a week before its end) whose errors
#: calibrate a model's bands; origins with under MIN_WEEKS_FOR_MODEL weeks before them are skipped.
CALIBRATION_ORIGINS = 3


class ForecastPoint(BaseModel):
    at: datetime
    mean: float
    lo80: float
    hi80: float
    lo95: float
    hi95: float


class Forecast(BaseModel):
    freq: Freq
    method: str
    history_points: int
    points: list[ForecastPoint]


Bands = dict[str, np.ndarray]


def statsforecast_available() -> bool:
    try:
        import statsforecast  # noqa: F401
    except ImportError:
        return False
    return True


def _model(freq: Freq) -> tuple[str, object]:
    from statsforecast.models import MSTL, AutoETS

    if freq == "day":
        return "AutoETS", AutoETS(season_length=7)
    return "MSTL", MSTL(season_length=[24, 168], trend_forecaster=AutoETS(model="ZZN"))


def _statsforecast(y: np.ndarray, freq: Freq, horizon: int) -> tuple[str, Bands]:
    name, model = _model(freq)
    out = model.forecast(y=y.astype(float), h=horizon, level=list(LEVELS))  # type: ignore[attr-defined]
    bands = {"mean": np.asarray(out["mean"], dtype=float)}
    for level in LEVELS:
        bands[f"lo{level}"] = np.asarray(out[f"lo-{level}"], dtype=float)
        bands[f"hi{level}"] = np.asarray(out[f"hi-{level}"], dtype=float)
    return f"statsforecast:{name}", bands


def conformal_factors(y: np.ndarray, freq: Freq, horizon: int) -> dict[int, float]:
    """Per level, how much the model's band must be stretched (> 1) or shrunk (< 1) to have held that share
    of the history's own recent weeks: split-conformal on rolling origins inside `y` only (refit on what
    came before each, forecast a week, score each actual against the band: |actual - mean| over the band's
    half-width). The finite-sample quantile ceil((n + 1) × level) / n keeps it honest on a
    few dozen scores. Empty when the history is too short for one origin."""
    week = WEEK[freq]
    scores: dict[int, list[np.ndarray]] = {level: [] for level in LEVELS}
    for k in range(1, CALIBRATION_ORIGINS + 1):
        origin = len(y) - k * week
        if origin < MIN_WEEKS_FOR_MODEL * week:
            break
        steps = min(horizon, week)
        bands = _floored(_statsforecast(y[:origin], freq, steps)[1])
        actual, mean = y[origin : origin + steps], bands["mean"]
        for level in LEVELS:
            # The half-width above the mean: bands are symmetric until clipped at 0, and a zero count under a
            # clipped lower bound must still score how far below the mean it fell.
            half = np.maximum(bands[f"hi{level}"] - mean, 1e-9)
            scores[level].append(np.abs(actual - mean) / half)
    factors = {}
    for level, parts in scores.items():
        if parts:
            flat = np.sort(np.concatenate(parts))
            rank = min(math.ceil((len(flat) + 1) * level / 100), len(flat)) - 1
            factors[level] = float(flat[rank])
    return factors


def _calibrated(y: np.ndarray, freq: Freq, bands: Bands) -> Bands:
    """The model's bands scaled about the mean by the conformal factors (unchanged without any)."""
    factors = conformal_factors(y, freq, len(bands["mean"]))
    mean = bands["mean"]
    for level, factor in factors.items():
        half = factor * (bands[f"hi{level}"] - mean)
        bands[f"lo{level}"] = np.clip(mean - half, 0, None)
        bands[f"hi{level}"] = mean + half
    # Stretching each level by its own factor may cross them; the 95 % band stays the wider.
    bands["lo95"] = np.minimum(bands["lo95"], bands["lo80"])
    bands["hi95"] = np.maximum(bands["hi95"], bands["hi80"])
    return bands


def _band(mean: np.ndarray, sd: np.ndarray, df: int) -> Bands:
    bands = {"mean": mean}
    for level in LEVELS:
        q = float(student_t.ppf(0.5 + level / 200, max(df, 1)))
        bands[f"lo{level}"] = mean - q * sd
        bands[f"hi{level}"] = mean + q * sd
    return bands


def seasonal_naive(y: np.ndarray, season: int, horizon: int) -> tuple[str, Bands]:
    """Seasonal naive with residual-based, horizon- and sample-size-aware intervals (see the module doc)."""
    steps = np.arange(1, horizon + 1)
    n = len(y)
    if n == 0:
        zero = np.zeros(horizon)
        return "empty", {"mean": zero, **{f"{s}{lv}": zero for s in ("lo", "hi") for lv in LEVELS}}
    if n <= season:
        mean = float(np.mean(y))
        sd = math.sqrt(max(float(np.var(y, ddof=1)) if n > 1 else 0.0, mean, 1.0) * (1 + 1 / n))
        return "mean", _band(np.full(horizon, mean), np.full(horizon, sd), n - 1)
    last = y[-season:]
    mean = np.array([last[(h - 1) % season] for h in steps], dtype=float)
    residuals = y[season:] - y[:-season]
    # Counts: one season's difference of two Poisson counts varies at least by 2 * mean (a floor for short runs).
    sd = math.sqrt(max(float(np.mean(residuals**2)), 2 * float(np.mean(y)), 1e-9))
    seasons_ahead = np.ceil(steps / season)
    return "seasonal_naive", _band(mean, sd * np.sqrt(seasons_ahead), len(residuals) - 1)


def predict(y: np.ndarray, freq: Freq, horizon: int, method: Method = "auto",
            calibrate: bool = True) -> tuple[str, Bands]:  # fmt: skip
    """Point forecast and bands (`mean`, `lo80`, `hi80`, `lo95`, `hi95`) for the next `horizon` bins; a
    model's bands are conformally calibrated on the history's own recent weeks (`calibrate`)."""
    y = np.asarray(y, dtype=float)
    use_model = method == "statsforecast" or (
        method == "auto" and len(y) >= MIN_WEEKS_FOR_MODEL * WEEK[freq] and statsforecast_available()
    )
    name, bands = "", {}
    if use_model:
        try:
            name, bands = _statsforecast(y, freq, horizon)
            bands = _floored(bands)
            if calibrate:
                bands = _calibrated(y, freq, bands)
        except Exception:  # a model that fails to fit must not take the forecast down: fall back
            log.exception("statsforecast failed on %d points; using seasonal naive", len(y))
    if bands and all(np.all(np.isfinite(v)) for v in bands.values()):
        return name, {key: np.clip(value, 0, None) for key, value in bands.items()}
    # Hours follow a weekly rhythm too (Monday morning is not Sunday's): a week back once two are seen.
    season = WEEK[freq] if len(y) >= 2 * WEEK[freq] else SEASON[freq]
    name, bands = seasonal_naive(y, season, horizon)
    return name, _floored(bands)


def _floored(bands: Bands) -> Bands:
    return _poisson_floor({key: np.clip(value, 0, None) for key, value in bands.items()})


def _poisson_floor(bands: Bands) -> Bands:
    """A count is at least as uncertain as a Poisson count of the same mean: each band is widened to the
    normal approximation of that (a model fitted on a few weeks can be surer of itself than that). For a
    model this is the prior only: the conformal calibration that follows may narrow it again where the
    history's own errors were smaller (counts can be less dispersed than Poisson)."""
    mean = bands["mean"]
    for level in LEVELS:
        half = float(student_t.ppf(0.5 + level / 200, 10_000)) * np.sqrt(mean)
        bands[f"lo{level}"] = np.clip(np.minimum(bands[f"lo{level}"], mean - half), 0, None)
        bands[f"hi{level}"] = np.maximum(bands[f"hi{level}"], mean + half)
    return bands


def forecast(y: np.ndarray, first_bin: datetime, freq: Freq, horizon: int, method: Method = "auto") -> Forecast:
    """The forecast of the `horizon` bins starting at `first_bin` (the bin after the history's last)."""
    name, bands = predict(y, freq, horizon, method)
    points = [
        ForecastPoint(
            at=at,
            mean=round(float(bands["mean"][i]), 3),
            lo80=round(float(bands["lo80"][i]), 3),
            hi80=round(float(bands["hi80"][i]), 3),
            lo95=round(float(bands["lo95"][i]), 3),
            hi95=round(float(bands["hi95"][i]), 3),
        )
        for i, at in enumerate(bin_starts(first_bin, horizon, freq))
    ]
    return Forecast(freq=freq, method=name, history_points=len(y), points=points)
