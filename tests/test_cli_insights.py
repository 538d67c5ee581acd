"""`caseworker insights …` over a real data dir: incidents listed, accepted and dismissed; a forecast with
staffing; anomalies; accounts as a table, JSON and CSV; every command sees its own tenant only."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import numpy as np
from typer.testing import CliRunner, Result

from caseworker.cli import app
from config.components import Components
from config.settings import Settings
from knowledge.incidents import Observation
from knowledge.schemas import Customer, Ticket
from tests.insights_data import EPOCH, stream

runner = CliRunner()
NOW = EPOCH + timedelta(days=28)


def cli(*args: str) -> Result:
    return runner.invoke(app, list(args), catch_exceptions=False, env={"COLUMNS": "240"})


def _seed(data: Path) -> str:
    components = Components(Settings(data_dir=data))
    history = components.history
    history.upsert_tickets(stream("acme", 28, 4, seed=1))
    angry = [Ticket(id=f"x{i}", tenant="acme", subject="s", body="b", created_at=NOW - timedelta(days=i + 1),
                    customer=Customer(id="acct-angry", mrr=5000)) for i in range(4)]  # fmt: skip
    history.upsert_tickets(angry)
    rng = np.random.default_rng(0)
    topic = rng.normal(size=32)
    for hour in range(8 * 24, 1, -1):  # a week of varied traffic, then a burst
        at = NOW - timedelta(hours=hour)
        vector = rng.normal(size=32).tolist()
        components.incidents.observe(Observation(tenant="acme", ticket_id=f"bg{hour}", at=at, vector=vector))
    incident = None
    for i in range(6):
        vector = (topic + rng.normal(scale=0.2, size=32)).tolist()
        at = NOW - timedelta(minutes=60 - 5 * i)
        obs = Observation(tenant="acme", ticket_id=f"b{i}", at=at, vector=vector, text="checkout error 502")
        incident = components.surge.observe(obs) or incident
    assert incident is not None
    history.close()
    return incident.id


def test_incidents_listed_accepted_and_scoped_to_the_tenant(tmp_path: Path) -> None:
    incident_id = _seed(tmp_path)
    listed = [json.loads(line) for line in cli("insights", "incidents", "--tenant", "acme", "--json",
                                               "--data-dir", str(tmp_path)).output.splitlines()]  # fmt: skip
    assert [i["id"] for i in listed] == [incident_id] and listed[0]["members"] >= 4
    assert "checkout" in cli("insights", "incidents", "--tenant", "acme", "--data-dir", str(tmp_path)).output
    assert cli("insights", "incidents", "--tenant", "globex", "--json", "--data-dir", str(tmp_path)).output == ""
    other = cli("insights", "accept", incident_id, "--tenant", "globex", "--data-dir", str(tmp_path))
    assert other.exit_code == 2 and "no incident" in other.output
    assert cli("insights", "accept", incident_id, "--tenant", "acme", "--by", "lead", "--data-dir", str(tmp_path)
               ).exit_code == 0  # fmt: skip
    again = cli("insights", "dismiss", incident_id, "--tenant", "acme", "--data-dir", str(tmp_path))
    assert again.exit_code == 2 and "accepted already" in again.output


def test_forecast_anomalies_and_accounts(tmp_path: Path) -> None:
    _seed(tmp_path)
    base = ("--tenant", "acme", "--now", NOW.isoformat(), "--data-dir", str(tmp_path))
    forecasts = [json.loads(line) for line in cli("insights", "forecast", "--json", *base).output.splitlines()]
    assert {f["queue"] for f in forecasts} == {"*", "billing"}
    billing = next(f for f in forecasts if f["queue"] == "billing")
    assert len(billing["daily"]["points"]) == 7 and max(s["agents"] for s in billing["staffing"]) >= 1
    assert "peak agents/h" in cli("insights", "forecast", *base).output
    assert cli("insights", "anomalies", "--json", *base).exit_code == 0
    csv_file = tmp_path / "accounts.csv"
    shown = cli("insights", "accounts", "--csv", str(csv_file), *base)
    assert "acct-angry" in shown.output and "4 tickets in 30 days" in shown.output
    assert any(line.startswith("acct-angry,") for line in csv_file.read_text().splitlines()[1:])
    other = cli("insights", "accounts", "--json", "--tenant", "globex", "--data-dir", str(tmp_path))
    assert other.output == ""
