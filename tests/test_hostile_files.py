"""The same hostile data shapes in `caseworker ingest tickets` files and `caseworker triage` input: each bad
row is a reject naming the field (the rest import), or is sanitised and then stored and indexed fine."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from caseworker.ticket_input import parse_tickets
from config.components import Components
from knowledge.importers import ImportFileError, read_tickets

DEEP = "[" * 900 + "]" * 900
ROWS = [
    '{"id": "ok-surrogate", "subject": "Reset", "body": "Reset link \\ud800 broken", "queue": "account"}',
    '{"id": "ok-nul", "subject": "Reset\\u0000", "body": "Link\\u0000 broken\\u001b", "queue": "account"}',
    '{"id": "late", "subject": "s", "body": "b", "created_at": "9999-12-31T23:59:59Z"}',
    '{"id": "early", "subject": "s", "body": "b", "created_at": "0001-01-01T00:00:00Z"}',
    '{"id": "deep", "subject": "s", "body": "b", "extra": {"x": ' + DEEP + "}}",
    '{"id": "nan", "subject": "s", "body": "b", "customer": {"mrr": NaN}}',
    '{"id": "huge", "subject": "s", "body": "b", "n": ' + "9" * 5000 + "}",
    '{"id": "two\\nlines", "subject": "s", "body": "b"}',
    '{"id": "' + "x" * 300 + '", "subject": "s", "body": "b"}',
]


def test_jsonl_rows_are_sanitised_or_rejected_naming_the_field(tmp_path: Path, workspace: Components) -> None:
    path = tmp_path / "hostile.jsonl"
    path.write_text("\n".join(ROWS) + "\n")
    report = read_tickets(path)
    reasons = {reject.line: f"{reject.field}: {reject.reason}" for reject in report.rejects}
    assert reasons[3].startswith("created_at: 9999-12-31T23:59:59+00:00 is outside the supported range")
    assert reasons[4].startswith("created_at: 0001-01-01T00:00:00+00:00 is outside the supported range")
    assert reasons[5] == "row: invalid JSON: nested deeper than 100 levels"
    assert reasons[6] == "row: invalid JSON: NaN is not a JSON number"
    assert reasons[7].startswith("row: invalid JSON: an integer of 5000 digits is out of range")
    assert reasons[8] == "id: must not contain control characters or line breaks"
    assert reasons[9] == "id: String should have at most 256 characters"
    surrogate, nul = report.tickets
    assert surrogate.body == "Reset link \ufffd broken"
    assert (nul.subject, nul.body) == ("Reset", "Link broken")
    counts = workspace.ingest.tickets(report.tickets)  # SQLite and Chroma take them
    assert counts.inserted == 2
    assert workspace.history.get_ticket("default", "ok-surrogate") == surrogate


def test_json_array_and_csv_are_sanitised_too(tmp_path: Path) -> None:
    array = tmp_path / "tickets.json"
    array.write_text('[{"id": "a", "subject": "s\\udfff", "body": "b\\u0000c"}]')
    [ticket] = read_tickets(array).tickets
    assert (ticket.subject, ticket.body) == ("s\ufffd", "bc")
    deep = tmp_path / "deep.json"
    deep.write_text('[{"id": "a", "subject": "s", "body": "b", "x": ' + DEEP + "}]")
    with pytest.raises(ImportFileError, match="invalid JSON: nested deeper than 100 levels"):
        read_tickets(deep)
    csv = tmp_path / "tickets.csv"
    csv.write_bytes(b"id,subject,body\nc1,Reset\x00 link,Broken\x07 again\n")
    [row] = read_tickets(csv).tickets
    assert (row.subject, row.body) == ("Reset link", "Broken again")


def test_triage_input_reports_each_bad_ticket_and_keeps_the_rest() -> None:
    parsed = parse_tickets("\n".join(ROWS), "in.jsonl")
    assert [t.id for t in parsed.tickets] == ["ok-surrogate", "ok-nul"]
    assert parsed.tickets[0].body == "Reset link \ufffd broken"
    errors = "\n".join(parsed.errors)
    assert "in.jsonl:3: created_at: Value error, 9999-12-31T23:59:59+00:00 is outside the supported range" in errors
    assert "in.jsonl:5: json: nested deeper than 100 levels" in errors
    assert "in.jsonl:6: json: NaN is not a JSON number" in errors
    one = parse_tickets(json.dumps({"id": "x", "subject": "s", "body": "\ud800"}), "one.json")
    assert one.tickets[0].body == "\ufffd"
