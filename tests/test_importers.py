"""Importers: tickets from CSV/JSONL/JSON with column mappings, KB articles from Markdown folders."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from knowledge.importers import (
    ColumnMapping,
    ImportFileError,
    MappingError,
    Reject,
    parse_mapping,
    read_tickets,
)
from knowledge.kb_importer import read_kb
from knowledge.schemas import stable_id

MAPPING_SPECS = [
    "text=subject,body",
    "id=ticket_id",
    "queue=queue",
    "priority=priority",
    "customer_tier=tier",
    "customer_mrr=mrr",
    "created_at=created",
    "reply=answer",
    "intent=intent",
]

# Line 1 header; record A1 spans lines 2-4 (quoted multi-line body), so later rows start later.
CSV_TEXT = (
    "ticket_id,subject,body,queue,priority,tier,mrr,created,answer,intent\n"
    'A1,Login broken,"cannot log in\n\nsince yesterday",auth,urgent,gold,100,2024-01-02T10:00:00,,login\n'
    "A2,,,billing,low,,,,,\n"
    "A3,Refund,please refund,billing,whenever,,,,,\n"
    'A4,Hi,"multi\nline body",billing,low,silver,-5,,,\n'
    "A5,Export,where is export,data,p2,,,not-a-date,,\n"
    "A1,Again,same id later,auth,p1,,,,,\n"
    "A6,Invoice copy,send my invoice,billing,Low,,,,Sent it.,invoice\n"
)


def write(path: Path, text: str, *, bom: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
    return path


@pytest.fixture
def csv_file(tmp_path: Path) -> Path:
    return write(tmp_path / "tickets.csv", CSV_TEXT, bom=True)


# --- mapping -------------------------------------------------------------------------------------


def test_parse_mapping_targets() -> None:
    mapping = parse_mapping([*MAPPING_SPECS, "tags=t1, t2", "tenant=org"])
    assert mapping.text == ["subject", "body"]
    assert mapping.id == "ticket_id"
    assert mapping.customer_tier == "tier"
    assert mapping.tags == ["t1", "t2"]
    assert mapping.labels == {"queue": "queue", "priority": "priority", "intent": "intent"}
    assert "ticket_id" in mapping.columns() and "org" in mapping.columns()
    assert isinstance(mapping, ColumnMapping)


@pytest.mark.parametrize(
    ("specs", "message"),
    [
        (["queue"], "no '='"),
        (["=queue"], "empty target"),
        (["queue="], "empty column"),
        (["text=a,,b"], "empty column"),
        (["queue=a", "queue=b"], "mapped twice"),
        (["text=a,b", "subject=s"], "'text' cannot be combined"),
        (["body=b", "text=a"], "'text' cannot be combined"),
        (["queue=a,b"], "exactly one column"),
        (["customer=c"], "cannot be mapped directly"),
    ],
)
def test_parse_mapping_errors(specs: list[str], message: str) -> None:
    with pytest.raises(MappingError, match=message):
        parse_mapping(specs)
    assert issubclass(MappingError, ValueError)


# --- CSV -----------------------------------------------------------------------------------------


def test_csv_with_mapping_imports_good_rows_and_rejects_bad(csv_file: Path) -> None:
    report = read_tickets(csv_file, parse_mapping(MAPPING_SPECS), tenant="acme")
    f = str(csv_file)
    assert [str(r) for r in report.rejects] == [
        f"{f}:5: text: subject and body are both empty",
        f"{f}:6: priority: unknown priority 'whenever' (accepted: P0, P1, P2, P3, blocker, critical, "
        "high, low, normal, urgent, ...)",
        f"{f}:7: customer.mrr: Input should be greater than or equal to 0",
        f"{f}:9: created_at: Input should be a valid datetime or date, invalid character in year",
        f"{f}:10: id: duplicate id, first seen on line 2",
    ]
    assert report.rows_read == 7
    assert [t.id for t in report.tickets] == ["A1", "A6"]

    first, last = report.tickets
    assert first.subject == "Login broken"  # the BOM did not leak into the first header
    assert first.body == "cannot log in\n\nsince yesterday"
    assert first.tenant == "acme"
    assert first.labels == {"queue": "auth", "priority": "P0", "intent": "login"}
    assert first.customer is not None and first.customer.tier == "gold" and first.customer.mrr == 100
    assert first.created_at is not None and first.created_at.year == 2024
    assert first.reply is None and not first.is_resolved
    assert last.labels["priority"] == "P3"
    assert last.reply == "Sent it." and last.is_resolved


def test_reject_str_format() -> None:
    assert str(Reject("a.csv", 3, "priority", "bad")) == "a.csv:3: priority: bad"


def test_multiline_field_reports_start_line_of_later_row(tmp_path: Path) -> None:
    path = write(
        tmp_path / "m.csv",
        'id,subject,body,priority\nx1,One,"line a\nline b\nline c",p1\nx2,Two,"ok\nstill ok",nope\n',
    )
    report = read_tickets(path)
    assert [str(r) for r in report.rejects] == [
        f"{path}:5: priority: unknown priority 'nope' (accepted: P0, P1, P2, P3, blocker, critical, "
        "high, low, normal, urgent, ...)"
    ]
    assert report.tickets[0].body == "line a\nline b\nline c"


def test_csv_without_mapping_uses_headers_as_fields(tmp_path: Path) -> None:
    path = write(
        tmp_path / "plain.csv",
        "id,subject,body,channel,created_at,queue,priority,tags,region\n"
        "p1,Hello,World,email,,billing,urgent,a;b,emea\n",
    )
    report = read_tickets(path)
    assert report.rejects == []
    (ticket,) = report.tickets
    assert ticket.channel == "email"
    assert ticket.created_at is None  # an empty cell is "not given", not a bad date
    assert ticket.labels == {"queue": "billing", "priority": "P0"}
    assert ticket.tags == ["a", "b"]
    assert ticket.extra == {"region": "emea"}


def test_single_text_column_and_tenant_column(tmp_path: Path) -> None:
    path = write(tmp_path / "t.csv", "msg,org\nPrinter on fire,north\nPaper jam,\n")
    report = read_tickets(path, parse_mapping(["text=msg", "tenant=org"]), tenant="fallback")
    assert [(t.subject, t.body, t.tenant) for t in report.tickets] == [
        ("", "Printer on fire", "north"),
        ("", "Paper jam", "fallback"),
    ]


def test_stable_ids_repeatable_and_content_based(tmp_path: Path) -> None:
    path = write(tmp_path / "noid.csv", "subject,body\nA,same body\nB,other body\n")
    mapping = parse_mapping(["text=subject,body"])
    first = [t.id for t in read_tickets(path, mapping, tenant="t1").tickets]
    second = [t.id for t in read_tickets(path, mapping, tenant="t1").tickets]
    assert first == second
    assert first[0] != first[1]
    assert first[0] == stable_id("t1", "A", "same body")
    assert first[0].startswith("t-")
    # Same content for another tenant is another ticket.
    assert read_tickets(path, mapping, tenant="t2").tickets[0].id != first[0]


def test_identical_rows_without_ids_are_duplicates(tmp_path: Path) -> None:
    path = write(tmp_path / "dups.csv", "subject,body\nA,x\nA,x\n")
    report = read_tickets(path, parse_mapping(["subject=subject", "body=body"]))
    assert len(report.tickets) == 1
    assert [str(r) for r in report.rejects] == [f"{path}:3: id: duplicate id, first seen on line 2"]


def test_missing_mapped_column_is_a_file_error(csv_file: Path) -> None:
    mapping = parse_mapping(["text=subject,description", "queue=team"])
    with pytest.raises(ImportFileError) as info:
        read_tickets(csv_file, mapping)
    message = str(info.value)
    assert str(csv_file) in message
    assert "description" in message and "team" in message
    assert "available: ticket_id, subject, body" in message


def test_unknown_extension_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ImportFileError, match="unknown ticket file type"):
        read_tickets(write(tmp_path / "t.xlsx", "x"))
    with pytest.raises(ImportFileError, match="cannot read"):
        read_tickets(tmp_path / "absent.csv")


def test_csv_bad_utf8_and_wrong_field_count_reject_one_row(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(b"id,subject,body\nb1,ok,fine\nb2,caf\xe9,bad bytes\nb3,too,many,fields\nb4,ok,fine\n")
    report = read_tickets(path)
    assert [str(r) for r in report.rejects] == [
        f"{path}:3: row: not valid UTF-8",
        f"{path}:4: row: has 4 fields, the header has 3",
    ]
    assert [t.id for t in report.tickets] == ["b1", "b4"]


def test_csv_malformed_quoting_rejects_from_its_start_line(tmp_path: Path) -> None:
    path = write(tmp_path / "q.csv", 'id,subject,body\nq1,ok,fine\nq2,"bad"x,y\nq3,ok,fine\nq4,"never closed,\nz\n')
    report = read_tickets(path)
    assert [t.id for t in report.tickets] == ["q1", "q3"]
    assert [str(r) for r in report.rejects] == [
        f"{path}:3: row: malformed CSV: ',' expected after '\"'",
        f"{path}:5: row: malformed CSV: unexpected end of data",
    ]


def test_blank_mapped_id_is_rejected(tmp_path: Path) -> None:
    path = write(tmp_path / "blank.csv", "key,subject,body\n,Hi,there\n")
    report = read_tickets(path, parse_mapping(["id=key", "subject=subject", "body=body"]))
    assert [str(r) for r in report.rejects] == [f"{path}:2: id: String should have at least 1 character"]


# --- JSONL / JSON --------------------------------------------------------------------------------


def test_jsonl_broken_line_non_object_and_extras(tmp_path: Path) -> None:
    lines = [
        json.dumps(
            {
                "id": "j1",
                "subject": "S",
                "body": "B",
                "queue": "q1",
                "priority": "low",
                "plan": "pro",
                "customer": {"id": "c1", "mrr": 10},
            }
        ),
        "",
        '{"id": "j2", "subject": "broken"',
        "[1, 2]",
        json.dumps({"id": 7, "subject": "numeric id", "body": "x", "labels": {"priority": "urgent"}}),
        json.dumps({"id": "j3", "subject": "neg", "body": "x", "customer": {"mrr": -1}}),
    ]
    path = write(tmp_path / "t.jsonl", "\n".join(lines) + "\n")
    report = read_tickets(path)
    assert [str(r) for r in report.rejects] == [
        f"{path}:3: row: invalid JSON: Expecting ',' delimiter (column 33)",
        f"{path}:4: row: expected a JSON object, got array",
        f"{path}:6: customer.mrr: Input should be greater than or equal to 0",
    ]
    assert report.rows_read == 5  # the blank line is not a row
    j1, j7 = report.tickets
    assert j1.labels == {"queue": "q1", "priority": "P3"}
    assert j1.extra == {"plan": "pro"}
    assert j1.customer is not None and j1.customer.id == "c1"
    assert j7.id == "7" and j7.labels == {"priority": "P0"}


def test_jsonl_with_mapping(tmp_path: Path) -> None:
    path = write(
        tmp_path / "t.ndjson",
        json.dumps({"key": "k1", "title": "T", "text": "body", "team": "ops", "cust": {"x": 1}}) + "\n",
    )
    report = read_tickets(path, parse_mapping(["id=key", "text=title,text", "queue=team"]))
    (ticket,) = report.tickets
    assert (ticket.id, ticket.subject, ticket.body, ticket.labels) == ("k1", "T", "body", {"queue": "ops"})
    with pytest.raises(ImportFileError, match="mapped column"):
        read_tickets(path, parse_mapping(["text=nope"]))


def test_json_array_reports_element_lines(tmp_path: Path) -> None:
    text = (
        '[\n  {"id": "a", "subject": "s", "body": "b"},\n  "oops",\n'
        '  {\n    "id": "c", "subject": "s", "body": "b",\n    "priority": "meh"\n  }\n]\n'
    )
    path = write(tmp_path / "t.json", text)
    report = read_tickets(path)
    assert [t.id for t in report.tickets] == ["a"]
    assert [str(r) for r in report.rejects] == [
        f"{path}:3: row: expected a JSON object, got string",
        f"{path}:4: priority: unknown priority 'meh' (accepted: P0, P1, P2, P3, blocker, critical, "
        "high, low, normal, urgent, ...)",
    ]
    with pytest.raises(ImportFileError, match="expected a JSON array"):
        read_tickets(write(tmp_path / "obj.json", '{"id": "x"}'))
    with pytest.raises(ImportFileError, match="invalid JSON at line 1"):
        read_tickets(write(tmp_path / "broken.json", '[{"id": '))


# --- rejects file --------------------------------------------------------------------------------


def test_write_rejects_writes_and_clears(csv_file: Path, tmp_path: Path) -> None:
    target = tmp_path / "out" / "rejects.txt"
    report = read_tickets(csv_file, parse_mapping(MAPPING_SPECS))
    assert report.write_rejects(target) == target
    assert target.read_text(encoding="utf-8").splitlines() == [str(r) for r in report.rejects]

    clean = read_tickets(write(tmp_path / "ok.csv", "id,subject,body\n1,a,b\n"))
    assert clean.write_rejects(target) is None
    assert not target.exists()  # a stale rejects file would blame rows that now import fine


# --- knowledge base ------------------------------------------------------------------------------


def test_read_kb_with_and_without_front_matter(tmp_path: Path) -> None:
    kb = tmp_path / "kb"
    write(
        kb / "billing" / "refunds.md",
        '---\nid: refund-policy\ntitle: "Refund policy"\ncategory: billing\n'
        "tags: refunds, money\nowner: finance\n---\n# Refunds\n\nWe refund within 30 days.\n",
    )
    write(kb / "Reset Password.md", "Intro line.\n\n# How to reset your password\n\nClick *Forgot*.\n")
    write(kb / "notes.md", "Plain text, no heading.\n")
    write(kb / ".hidden" / "skip.md", "# Ignored\n\nbody\n")
    result = read_kb(kb, tenant="acme")
    assert result.rejects == []
    by_id = {a.id: a for a in result.articles}
    assert list(by_id) == ["kb-reset-password", "refund-policy", "kb-notes"]  # sorted by path

    refund = by_id["refund-policy"]
    assert refund.title == "Refund policy"
    assert refund.category == "billing"
    assert refund.tags == ["refunds", "money"]
    assert refund.body == "# Refunds\n\nWe refund within 30 days."
    assert "---" not in refund.body
    assert refund.tenant == "acme"
    assert refund.source == "billing/refunds.md"

    assert by_id["kb-reset-password"].title == "How to reset your password"
    assert by_id["kb-notes"].title == "notes"
    assert by_id["kb-notes"].category is None


def test_read_kb_default_id_uses_relative_path(tmp_path: Path) -> None:
    write(tmp_path / "How To" / "Set_up SSO.md", "# SSO\n\nSteps.\n")
    (article,) = read_kb(tmp_path).articles
    assert article.id == "kb-how-to-set-up-sso"
    assert article.tenant == "default"


def test_read_kb_bad_files(tmp_path: Path) -> None:
    write(tmp_path / "a_good.md", "# Good\n\nBody.\n")
    empty = write(tmp_path / "b_empty.md", "---\ntitle: Nothing here\n---\n\n   \n")
    binary = tmp_path / "c_binary.md"
    binary.write_bytes(b"# Title\n\ncaf\xe9\n")
    unclosed = write(tmp_path / "d_unclosed.md", "---\ntitle: x\n\nbody\n")
    dup = write(tmp_path / "e_dup.md", "---\nid: kb-a-good\n---\nSame id as the first.\n")
    result = read_kb(tmp_path)
    assert [a.id for a in result.articles] == ["kb-a-good"]
    assert [str(r) for r in result.rejects] == [
        f"{empty}:1: body: empty body",
        f"{binary}:1: file: not valid UTF-8 (byte 0xe9 on line 3)",
        f"{unclosed}:1: front_matter: opening '---' has no closing '---'",
        f"{dup}:1: id: duplicate id 'kb-a-good', first seen in {tmp_path / 'a_good.md'}",
    ]
    assert result.files_read == 5


def test_read_kb_not_a_directory(tmp_path: Path) -> None:
    with pytest.raises(ImportFileError, match="not a directory"):
        read_kb(tmp_path / "missing")
