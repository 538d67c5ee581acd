"""Volume forecasts, Erlang C staffing and anomalies over real stores (SQLite and Postgres)."""

from __future__ import annotations

import math
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest

from insights.forecast import forecast, predict, seasonal_naive, statsforecast_available
from insights.series import counts
from insights.staffing import StaffingPolicy, agents_needed, erlang_c, service_level
from insights.volume import ALL, anomalies, volume_forecast
from knowledge.history import History
from tests.insights_data import EPOCH, stream


def test_erlang_c_matches_the_hand_computed_case() -> None:
    # 24 tickets an hour, 5 minutes each: A = 24 * 5 / 60 = 2 erlangs. With N = 3 agents:
    # A^N/N! * N/(N-A) = 8/6 * 3 = 4; sum_{k<3} A^k/k! = 1 + 2 + 2 = 5; C = 4 / (5 + 4) = 4/9.
    assert erlang_c(3, 2.0) == pytest.approx(4 / 9)
    # Share answered within T = 5 minutes: 1 - C * exp(-(N - A) * T / AHT) = 1 - (4/9) / e = 0.8365.
    assert service_level(3, 2.0, 5, 5) == pytest.approx(1 - (4 / 9) / math.e)
    policy = StaffingPolicy(handle_minutes=5, answer_within_minutes=5, service_level=0.8)
    assert agents_needed(24, policy) == 3  # 0.8365 >= 0.8; two agents can't carry 2 erlangs at all
    assert agents_needed(24, policy.model_copy(update={"service_level": 0.85})) == 4
    assert agents_needed(0, policy) == 0
    assert erlang_c(2, 2.0) == 1.0


def test_forecast_has_ordered_nonnegative_bands() -> None:
    y = counts([t.created_at for t in stream("a", 35, 6)], EPOCH, EPOCH + timedelta(days=35), "hour")
    result = forecast(y, EPOCH + timedelta(days=35), "hour", 168)
    assert len(result.points) == 168
    assert result.points[0].at == EPOCH + timedelta(days=35)
    for p in result.points:
        assert 0 <= p.lo95 <= p.lo80 <= p.mean <= p.hi80 <= p.hi95
    expected = "statsforecast:MSTL" if statsforecast_available() else "seasonal_naive"
    assert result.method == expected
    daily = forecast(counts([EPOCH], EPOCH, EPOCH + timedelta(days=35), "day"), EPOCH, "day", 7)
    assert len(daily.points) == 7


def _width(y: np.ndarray, method: str = "auto") -> float:
    _, bands = predict(y, "day", 7, method)  # type: ignore[arg-type]
    return float(np.mean(bands["hi95"] - bands["lo95"]))


def test_intervals_widen_with_less_history() -> None:
    # The same process seen for 8 weeks, 12 days and 5 days (under a season: the mean), over ten draws.
    widths = np.zeros(3)
    for seed in range(10):
        times = [t.created_at for t in stream("a", 56, 6, seed=seed)]
        y = counts(times, EPOCH, EPOCH + timedelta(days=56), "day")
        widths += [_width(y, "seasonal_naive"), _width(y[-12:]), _width(y[-5:])]
    assert widths[0] < widths[1] < widths[2]
    assert seasonal_naive(y[-5:], 7, 7)[0] == "mean"
    # Same residuals, fewer of them: the Student-t quantile alone widens the band.
    pattern = np.tile([10.0, 12, 11, 9, 10, 3, 2], 8) + np.tile([1.0, -1], 28)
    assert _width(pattern, "seasonal_naive") < _width(pattern[-15:], "seasonal_naive") < _width(pattern[-9:])


@pytest.fixture
def history(tmp_path: Path, database_url: str | None) -> History:
    store = History(tmp_path / "history.sqlite3", database_url)
    yield store
    store.close()


def test_volume_forecast_per_queue_and_tenant_isolation(history: History) -> None:
    history.upsert_tickets(stream("quiet", 28, 2, seed=1) + stream("busy", 28, 40, seed=2, queue="tech"))
    now = EPOCH + timedelta(days=28)
    quiet = {f.queue: f for f in volume_forecast(history, "quiet", now)}
    busy = {f.queue: f for f in volume_forecast(history, "busy", now)}
    assert set(quiet) == {ALL, "billing"} and set(busy) == {ALL, "tech"}
    quiet_day = sum(p.mean for p in quiet[ALL].daily.points) / 7
    busy_day = sum(p.mean for p in busy[ALL].daily.points) / 7
    assert quiet_day < 40 < 200 < busy_day  # ~2/h vs ~40/h at peak: nothing of one tenant in the other
    staffing = busy["tech"].staffing
    assert len(staffing) == 168 and max(h.agents for h in staffing) > max(h.agents for h in quiet[ALL].staffing)
    assert all(h.agents_hi80 >= h.agents for h in staffing)
    assert volume_forecast(history, "nobody", now) == []


def test_anomalies_up_and_down(history: History) -> None:
    now = EPOCH + timedelta(days=21, hours=12)  # a Monday noon
    steady = stream("a", 21, 10, seed=4) + stream("a", 1, 10, seed=5, start=EPOCH + timedelta(days=21), prefix="U")
    history.upsert_tickets([t for t in steady if t.created_at < now])
    assert [a for a in anomalies(history, "a", now, 6) if a.queue == ALL] == []
    flood = [t for t in stream("a", 1, 60, seed=6, start=now - timedelta(hours=1), prefix="F") if t.created_at < now]
    history.upsert_tickets(flood + stream("b", 21, 10, seed=7))
    found = [a for a in anomalies(history, "a", now + timedelta(minutes=1), 6) if a.queue == ALL]
    assert [(a.direction, a.at) for a in found] == [("up", now - timedelta(hours=1))]
    assert all(a.tenant == "b" and a.direction == "down" for a in anomalies(history, "b", now, 6))
    # A busy queue gone silent for a working morning: the intake is broken.
    silent = now + timedelta(days=1)  # Tuesday noon, nothing since Monday noon
    down = [a for a in anomalies(history, "a", silent, 6) if a.queue == ALL]
    assert down and {a.direction for a in down} == {"down"}


@pytest.mark.slow
def test_statsforecast_runs_with_the_network_guarded(tmp_path: Path) -> None:
    import subprocess
    import sys

    from tests.test_offline import REPO, SOCKET_GUARD

    if not statsforecast_available():
        pytest.skip("statsforecast is not installed (pip install 'caseworker[insights]'); the fallback is tested")
    script = SOCKET_GUARD + (
        "import numpy as np\nfrom insights.forecast import predict\n"
        "y = np.random.default_rng(0).poisson(5, 24 * 28).astype(float)\n"
        "assert predict(y, 'hour', 168)[0] == 'statsforecast:MSTL'\n"
        "assert predict(y[:70], 'day', 7)[0] == 'statsforecast:AutoETS'\nprint('OFFLINE-OK')\n"
    )
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and "OFFLINE-OK" in done.stdout, done.stderr[-3000:]


def test_conformal_factors_come_from_the_history_alone_and_fix_overconfident_bands() -> None:
    if not statsforecast_available():
        pytest.skip("statsforecast is not installed (pip install 'caseworker[insights]'); the fallback is tested")
    from insights.forecast import conformal_factors

    rng = np.random.default_rng(3)
    weekly = np.tile([60.0, 62, 58, 61, 55, 20, 15], 10)
    # Overdispersed counts (a negative binomial around the weekly shape): AutoETS's own bands, fitted on
    # few weeks, are narrower than the spread; the calibration must widen them.
    y = rng.negative_binomial(4, 4 / (4 + weekly)).astype(float)
    factors = conformal_factors(y, "day", 7)
    assert set(factors) == {80, 95} and factors[95] >= factors[80] > 0
    assert conformal_factors(y[:27], "day", 7) == {}  # no origin with three weeks before it: no calibration
    hits = {"raw": 0, "calibrated": 0}
    for seed in range(6):
        series = np.random.default_rng(seed).negative_binomial(3, 3 / (3 + weekly)).astype(float)
        train, actual = series[:63], series[63:70]
        for name, calibrate in (("raw", False), ("calibrated", True)):
            _, bands = predict(train, "day", 7, "statsforecast", calibrate=calibrate)
            hits[name] += int(np.sum((actual >= bands["lo95"]) & (actual <= bands["hi95"])))
    assert hits["calibrated"] >= hits["raw"]
