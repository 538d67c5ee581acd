"""Volume forecast quality on real incident arrivals: the UCI ServiceNow incident log.

Counts each incident once at `opened_at` over 2016-02-29..2016-05-31 (the dense period), then evaluates
rolling origins over the period's last 4 weeks: from every midnight whose next 7 days lie inside those
weeks, forecast the next 7 days of daily counts and the next 168 hourly counts from everything before
the origin. Prints, per frequency and method:
- MAE, and MASE (Hyndman & Koehler: MAE over the in-sample MAE of seasonal naive on the training series;
  weekly season for days, daily season for hours), averaged over origins;
- relative MAE: the method's MAE over seasonal naive's (season 7 days / 24 hours) on the same windows;
- coverage of the 80 % and 95 % intervals over all forecast points (each origin's bands calibrated only on
  the weeks before that origin: insights.forecast.conformal_factors).

    .venv/bin/python benchmarks/forecast_uci.py [--methods statsforecast:raw,statsforecast,snaive:7,snaive:24]
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.uci_incidents import DENSE_END, DENSE_START, opened_times
from insights.forecast import Bands, predict, seasonal_naive
from insights.series import SEASON, Freq, counts

HORIZON_DAYS = 7
EVAL_DAYS = 28


def _run(train: np.ndarray, freq: Freq, horizon: int, method: str) -> Bands:
    """`statsforecast` / `auto` go through insights.forecast.predict (conformally calibrated bands, Poisson
    floor); `statsforecast:raw` the same without the calibration (the model's own bands); `snaive:N` is
    plain seasonal naive with season N (the benchmark's baseline: 7 for days, 24 for hours)."""
    if method.startswith("snaive:"):
        return seasonal_naive(train, int(method.split(":")[1]), horizon)[1]
    if method == "statsforecast:raw":
        return predict(train, freq, horizon, "statsforecast", calibrate=False)[1]
    return predict(train, freq, horizon, method)[1]  # type: ignore[arg-type]


def _evaluate(y: np.ndarray, freq: Freq, per_day: int, method: str) -> dict[str, float]:
    season = SEASON[freq]
    horizon = HORIZON_DAYS * per_day
    first_origin = len(y) - EVAL_DAYS * per_day
    maes, mases, naive_maes, hits80, hits95, n = [], [], [], 0, 0, 0
    for origin in range(first_origin, len(y) - horizon + 1, per_day):
        train, actual = y[:origin], y[origin : origin + horizon]
        bands = _run(train, freq, horizon, method)
        naive = seasonal_naive(train, season, horizon)[1]
        scale = float(np.mean(np.abs(train[season:] - train[:-season])))
        mae = float(np.mean(np.abs(bands["mean"] - actual)))
        maes.append(mae)
        mases.append(mae / scale)
        naive_maes.append(float(np.mean(np.abs(naive["mean"] - actual))))
        hits80 += int(np.sum((actual >= bands["lo80"]) & (actual <= bands["hi80"])))
        hits95 += int(np.sum((actual >= bands["lo95"]) & (actual <= bands["hi95"])))
        n += len(actual)
    return {
        "origins": len(maes),
        "mae": float(np.mean(maes)),
        "mase": float(np.mean(mases)),
        "rel_mae": float(np.sum(maes) / np.sum(naive_maes)),
        "cover80": hits80 / n,
        "cover95": hits95 / n,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", default="statsforecast:raw,statsforecast,snaive:7,snaive:24,snaive:168")
    args = parser.parse_args()
    times = opened_times()
    print(f"{len(times)} incidents opened {DENSE_START.date()} .. {(DENSE_END - timedelta(days=1)).date()}")
    print(f"rolling origins over the last {EVAL_DAYS} days, horizon {HORIZON_DAYS} days\n")
    print(f"{'series':<7} {'method':<14} {'origins':>7} {'MAE':>7} {'MASE':>6} {'MAE/snaive':>10} "
          f"{'cover80':>8} {'cover95':>8} {'seconds':>8}")  # fmt: skip
    for freq, per_day in (("day", 1), ("hour", 24)):
        y = counts(times, DENSE_START, DENSE_END, freq)  # type: ignore[arg-type]
        for method in args.methods.split(","):
            if method.startswith("snaive:") and not per_day <= int(method.split(":")[1]) <= 7 * per_day:
                continue  # a season shorter than a day for hours, or longer than a week for days
            started = time.perf_counter()
            row = _evaluate(y, freq, per_day, method)  # type: ignore[arg-type]
            took = time.perf_counter() - started
            print(f"{freq:<7} {method:<14} {row['origins']:>7} {row['mae']:>7.2f} {row['mase']:>6.3f} "
                  f"{row['rel_mae']:>10.3f} {row['cover80']:>8.1%} {row['cover95']:>8.1%} {took:>8.1f}")  # fmt: skip


if __name__ == "__main__":
    main()
