"""The roster: import errors name file:line:field, working hours honour time zones, open load follows events."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from caseworker.cli import app
from knowledge.assignments import AssignmentEvent, Assignments
from knowledge.history import History
from knowledge.importers import ImportFileError
from knowledge.roster import Agent, Roster, WorkingHours
from knowledge.roster_import import read_roster

ROSTER_CSV = """id,name,email,teams,skills,languages,capacity,hours,timezone,senior,zendesk_id,jira_id
alice,Alice,alice@example.com,billing;on-call,refund_request,en;de,8,Mon-Fri 09:00-17:00,Europe/Berlin,true,101,acc-a
bob,Bob,bob@example.com,billing,invoice_request,en,many,Mon-Fri 09:00-17:00,Europe/Berlin,false,102,
carol,Carol,carol@example.com,support,,en,5,Mon-Fri 09:00-17:00,Mars/Olympus,false,,
dave,Dave,dave@example,support,,en,5,,,false,,
erin,Erin,erin@example.com,support,,english,5,,,false,,
alice,Alice Again,alice2@example.com,support,,en,5,,,false,,
frank,Frank,,support,,,3,Sun-Thu 22:00-06:00,Asia/Tokyo,maybe,,
"""


def test_import_errors_name_file_line_and_field(tmp_path: Path) -> None:
    path = tmp_path / "roster.csv"
    path.write_text(ROSTER_CSV)
    report = read_roster(path)
    assert [a.id for a in report.agents] == ["alice"]
    rejects = [str(r) for r in report.rejects]
    assert rejects[0] == f"{path}:3: capacity: 'many' is not a whole number of open tickets"
    assert rejects[1].startswith(f"{path}:4: timezone: unknown time zone 'Mars/Olympus'")
    assert rejects[2].startswith(f"{path}:5: email: ")
    assert rejects[3].startswith(f"{path}:6: languages: 'english' is not an ISO 639-1 language code")
    assert rejects[4] == f"{path}:7: id: duplicate id, first seen on line 2"
    assert rejects[5] == f"{path}:8: senior: 'maybe' is not true or false"
    alice = report.agents[0]
    assert alice.helpdesk_ids == {"zendesk": "101", "jira": "acc-a"}
    assert alice.teams == ["billing", "on-call"] and alice.languages == ["en", "de"] and alice.senior


def test_json_roster_errors_name_the_line_of_the_object(tmp_path: Path) -> None:
    path = tmp_path / "roster.json"
    rows = [
        {"id": "a1", "name": "Ann", "capacity": 4, "hours": {"days": "Mon-Fri", "start": "08:00", "end": "16:00",
                                                             "timezone": "America/New_York"}},
        {"id": "a2", "name": "Ben", "hours": "weekdays 9 to 5", "timezone": "UTC"},
        {"id": "a3", "name": "Cy", "helpdesk_ids": {"servicenow": "x"}},
        {"id": "a4", "name": "Di", "capcity": 4},
    ]  # fmt: skip
    path.write_text("[\n" + ",\n".join(json.dumps(r) for r in rows) + "\n]\n")
    report = read_roster(path)
    assert [a.id for a in report.agents] == ["a1"]
    assert report.agents[0].hours == WorkingHours.parse("Mon-Fri 08:00-16:00", "America/New_York")
    assert [(r.line, r.field) for r in report.rejects] == [(3, "hours"), (4, "helpdesk_ids"), (5, "capcity")]


def test_an_unknown_csv_column_fails_the_whole_file(tmp_path: Path) -> None:
    path = tmp_path / "roster.csv"
    path.write_text("id,name,capcity\na,A,3\n")
    with pytest.raises(ImportFileError, match=r"unknown column.*capcity"):
        read_roster(path)


def test_working_hours_in_the_agents_time_zone_including_overnight_shifts() -> None:
    berlin = WorkingHours.parse("Mon-Fri 09:00-17:00", "Europe/Berlin")
    # 2026-01-05 is a Monday; 08:30 UTC is 09:30 in Berlin (CET), 16:30 UTC is 17:30.
    assert berlin.on_shift(datetime(2026, 1, 5, 8, 30, tzinfo=UTC))
    assert not berlin.on_shift(datetime(2026, 1, 5, 16, 30, tzinfo=UTC))
    assert not berlin.on_shift(datetime(2026, 1, 10, 10, 0, tzinfo=UTC))  # Saturday
    night = WorkingHours.parse("Sun-Thu 22:00-06:00", "UTC")
    assert night.on_shift(datetime(2026, 1, 4, 23, 0, tzinfo=UTC))  # Sunday night
    assert night.on_shift(datetime(2026, 1, 5, 5, 0, tzinfo=UTC))  # Monday early: Sunday's shift
    assert not night.on_shift(datetime(2026, 1, 9, 23, 0, tzinfo=UTC))  # Friday night: no shift starts
    assert night.on_shift(datetime(2026, 1, 9, 5, 0, tzinfo=UTC))  # Friday early: Thursday's shift


def test_open_load_follows_helpdesk_events_mapped_through_helpdesk_ids(tmp_path: Path) -> None:
    history = History(tmp_path / "h.sqlite3")
    Roster(history).upsert([Agent(id="alice", name="Alice", helpdesk_ids={"zendesk": "101", "freshdesk": "9"})])
    book = Assignments(history)
    at = datetime(2026, 1, 5, 10, tzinfo=UTC)
    book.apply_event(
        AssignmentEvent(tenant="default", ticket_id="1", source="zendesk", assignee="101", status="open", at=at)
    )
    book.apply_event(
        AssignmentEvent(tenant="default", ticket_id="2", source="freshdesk", assignee="9", status=2, at=at)
    )
    book.apply_event(
        AssignmentEvent(tenant="default", ticket_id="3", source="jira", assignee="acc-x", status="In Progress", at=at)
    )
    book.apply_event(AssignmentEvent(tenant="other", ticket_id="1", source="caseworker", assignee="alice", at=at))
    assert book.open_load("default") == {"alice": 2, "jira:acc-x": 1}
    # Freshdesk 4 = Resolved; an older event arriving late changes nothing.
    later = datetime(2026, 1, 5, 11, tzinfo=UTC)
    assert book.apply_event(
        AssignmentEvent(tenant="default", ticket_id="2", source="freshdesk", assignee="9", status=4, at=later)
    )
    assert not book.apply_event(
        AssignmentEvent(tenant="default", ticket_id="2", source="freshdesk", assignee="9", status=2, at=at)
    )
    # Intercom unassigns with 0.
    book.apply_event(
        AssignmentEvent(tenant="default", ticket_id="1", source="intercom", assignee="0", status="open", at=later)
    )
    assert book.open_load("default") == {"jira:acc-x": 1}
    assert book.open_load("other") == {"alice": 1}


def test_agents_cli_import_list_show(tmp_path: Path) -> None:
    path = tmp_path / "roster.csv"
    path.write_text(ROSTER_CSV.split("\n")[0] + "\n" + ROSTER_CSV.split("\n")[1] + "\n")
    data = ["--data-dir", str(tmp_path / "data")]
    runner = CliRunner()
    imported = runner.invoke(app, ["agents", "import", str(path), *data])
    assert imported.exit_code == 0, imported.output
    listed = runner.invoke(app, ["agents", "list", "--json", *data])
    assert json.loads(listed.stdout)["id"] == "alice"
    shown = runner.invoke(app, ["agents", "show", "alice", *data])
    assert shown.exit_code == 0 and "No skill profiles for this tenant yet" in shown.stdout
    missing = runner.invoke(app, ["agents", "show", "zed", *data])
    assert missing.exit_code == 2
    nowhere = runner.invoke(app, ["agents", "list", "--data-dir", str(tmp_path / "typo")])
    assert nowhere.exit_code == 2 and not (tmp_path / "typo").exists()
    bad = tmp_path / "bad.csv"
    bad.write_text("id,name,capacity\nx,X,-1\n")
    rejected = runner.invoke(app, ["agents", "import", str(bad), *data])
    assert rejected.exit_code == 1 and f"{bad}:2: capacity" in rejected.output
