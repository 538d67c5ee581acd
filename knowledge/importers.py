"""Bring history in: tickets from CSV / JSONL / JSON files (the KB importer is kb_importer.py).

A bad row never stops the rest: it becomes a `Reject` that says `file:line: field: reason`, so a
person can fix the source and re-import. Only problems that make the whole file meaningless (it
cannot be read, its format is unknown, a mapped column does not exist) raise `ImportFileError`.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from knowledge import safe_json
from knowledge.label_values import LabelNames, ValueMap
from knowledge.labels import LabelError, normalise_label
from knowledge.rejects import Reject, WritesRejects, emptied_labels, label_summaries
from knowledge.schemas import DEFAULT_TENANT, STANDARD_LABELS, Ticket, stable_id

# Issue bodies and ticket threads can exceed the csv module's 128 KiB default per field; they are data, not errors.
csv.field_size_limit(2**31 - 1)


class MappingError(ValueError):
    """A `--map` spec that cannot be understood."""


class ImportFileError(Exception):
    """A file that cannot be imported at all (as opposed to one bad row in it)."""

    def __init__(self, path: Path | str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = str(path)


@dataclass
class ImportReport(WritesRejects):
    tickets: list[Ticket] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)
    rows_read: int = 0
    #: raw label value -> the label it became, for every imported ticket (the inverse shows users their names)
    names: LabelNames = field(default_factory=LabelNames)

    def summaries(self) -> list[str]:
        return label_summaries(self.rejects, [t.labels for t in self.tickets])

    def emptied_labels(self) -> list[str]:
        """Label fields none of whose values survived (every one rejected): a run on them means nothing."""
        return emptied_labels(self.rejects, [t.labels for t in self.tickets])


# ---------------------------------------------------------------------------------------------
# Column mapping

_SCALAR_TARGETS = (
    "id", "subject", "tenant", "created_at", "channel", "language", "reply",
    "customer_id", "customer_name", "customer_tier", "customer_mrr", "resolved_at",
)  # fmt: skip
_LIST_TARGETS = ("text", "body", "tags")
# Ticket fields that exist but cannot be the target of one column; naming them is a mistake.
_RESERVED_TARGETS = ("customer", "labels", "extra")
_TARGET_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*$")


class ColumnMapping(BaseModel):
    """Which source column feeds which Ticket field; any target not a Ticket field is a label."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str | None = None
    subject: str | None = None
    body: list[str] = Field(default_factory=list)
    text: list[str] = Field(default_factory=list)
    tenant: str | None = None
    created_at: str | None = None
    channel: str | None = None
    language: str | None = None
    tags: list[str] = Field(default_factory=list)
    reply: str | None = None
    customer_id: str | None = None
    customer_name: str | None = None
    customer_tier: str | None = None
    customer_mrr: str | None = None
    #: When the ticket was resolved: kept in `extra.resolved_at` (routing's "how fast" and recency).
    resolved_at: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _text_excludes_subject_body(self) -> ColumnMapping:
        if self.text and (self.subject or self.body):
            raise ValueError("'text' cannot be combined with 'subject' or 'body'")
        return self

    def columns(self) -> list[str]:
        """Every source column the mapping reads, in first-use order."""
        cols: list[str] = []
        for value in self.model_dump(exclude={"labels"}).values():
            cols.extend(value if isinstance(value, list) else [value] if value else [])
        cols.extend(self.labels.values())
        return list(dict.fromkeys(cols))


def parse_mapping(specs: Sequence[str]) -> ColumnMapping:
    """Parse CLI specs like `["text=subject,body", "queue=queue", "id=ticket_id"]`."""
    fields: dict[str, Any] = {}
    labels: dict[str, str] = {}
    for spec in specs:
        if "=" not in spec:
            raise MappingError(f"mapping {spec!r} has no '=' (expected target=column, e.g. queue=queue)")
        target, _, source = (part.strip() for part in spec.partition("="))
        columns = [col.strip() for col in source.split(",")]
        if not target:
            raise MappingError(f"mapping {spec!r} has an empty target before '='")
        if not source or not all(columns):
            raise MappingError(f"mapping {spec!r} has an empty column name after '='")
        if not _TARGET_NAME.match(target):
            raise MappingError(f"mapping {spec!r}: target {target!r} is not a valid field or label name")
        if target in _RESERVED_TARGETS:
            raise MappingError(
                f"mapping {spec!r}: {target!r} cannot be mapped directly "
                "(use customer_id/customer_name/customer_tier/customer_mrr, or a label name)"
            )
        if target in fields or target in labels:
            raise MappingError(f"target {target!r} is mapped twice")
        if target in _LIST_TARGETS:
            fields[target] = columns
        elif len(columns) > 1:
            raise MappingError(f"mapping {spec!r}: target {target!r} takes exactly one column")
        elif target in _SCALAR_TARGETS:
            fields[target] = columns[0]
        else:
            labels[target] = columns[0]
    if "text" in fields and ("subject" in fields or "body" in fields):
        raise MappingError("'text' cannot be combined with 'subject' or 'body' (text=subject,body does both)")
    return ColumnMapping(**fields, labels=labels)


def _as_text(value: Any) -> str:
    return "" if value is None else (value if isinstance(value, str) else str(value)).strip()


def _cell(row: dict[str, Any], column: str | None) -> Any:
    """The stripped value of `column`, or None when the mapping has no column or the cell is blank."""
    value = row.get(column) if column else None
    value = value.strip() if isinstance(value, str) else value
    return None if value is None or value == "" else value


def _apply_mapping(row: dict[str, Any], mapping: ColumnMapping, tenant: str) -> dict[str, Any]:
    if mapping.text:
        parts = [_as_text(row.get(col)) for col in mapping.text]
        subject, body_parts = ("", parts) if len(parts) == 1 else (parts[0], parts[1:])
    else:
        subject, body_parts = (
            _as_text(_cell(row, mapping.subject)),
            [_as_text(row.get(c)) for c in mapping.body],
        )
    data: dict[str, Any] = {"subject": subject, "body": "\n\n".join(part for part in body_parts if part)}
    if mapping.id:
        # A mapped but blank id is a data problem worth reporting, not something to paper over.
        data["id"] = _as_text(row.get(mapping.id))
    data["tenant"] = _as_text(_cell(row, mapping.tenant)) or tenant
    for name in ("created_at", "channel", "language", "reply"):
        if (value := _cell(row, getattr(mapping, name))) is not None:
            data[name] = value
    tags: list[Any] = []
    for column in mapping.tags:
        value = _cell(row, column)
        # Split, then strip: a pattern with `\s*` around the separator is quadratic on a long blank run.
        tags.extend(value if isinstance(value, list) else [t.strip() for t in re.split("[,;]", _as_text(value))])
    if tags := [tag for tag in dict.fromkeys(tags) if tag]:
        data["tags"] = tags
    customer = {
        name: _as_text(value) if name != "mrr" else value
        for name in ("id", "name", "tier", "mrr")
        if (value := _cell(row, getattr(mapping, f"customer_{name}"))) is not None
    }
    if customer:
        data["customer"] = customer
    if (resolved := _cell(row, mapping.resolved_at)) is not None:
        data["extra"] = {"resolved_at": _as_text(resolved)}
    data["labels"] = {label: row.get(column) for label, column in mapping.labels.items()}
    return data


# ---------------------------------------------------------------------------------------------
# Tickets


@dataclass
class _Record:
    line: int
    data: dict[str, Any] | None
    problem: str | None = None


#: One row as read, with its line; what other importers (the roster) get from `read_records`.
Record = _Record


def read_tickets(
    path: Path,
    mapping: ColumnMapping | None = None,
    *,
    tenant: str = DEFAULT_TENANT,
    values: ValueMap | None = None,
) -> ImportReport:
    """Tickets from a `.csv`, `.jsonl`/`.ndjson` or `.json` file; bad rows become rejects.

    `values` maps the user's label codes first (`--values`); every label then goes through the same
    normalisation and validation, mapped or not."""
    path = Path(path)
    if mapping is not None and values is not None:
        # A misspelt field (--values prority=...) would otherwise map nothing, silently.
        values.check_fields(mapping.labels)
    suffix = path.suffix.lower()
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ImportFileError(path, f"cannot read file: {exc.strerror or exc}") from exc
    if suffix == ".csv":
        available, records = _csv_records(path, raw)
    elif suffix in (".jsonl", ".ndjson"):
        records = list(_jsonl_records(raw))
        available = _object_keys(records)
    elif suffix == ".json":
        records = _json_records(path, raw)
        available = _object_keys(records)
    else:
        raise ImportFileError(path, f"unknown ticket file type {suffix or '(none)'!r} (use .csv, .jsonl, .json)")

    # JSON has no header: judge the mapping by the keys its objects use, if any object parsed at all.
    if mapping is not None and (suffix == ".csv" or any(r.data is not None for r in records)):
        missing = [col for col in mapping.columns() if col not in available]
        if missing:
            raise ImportFileError(
                path,
                f"mapped column(s) not found: {', '.join(missing)} (available: {', '.join(available) or 'none'})",
            )

    file = str(path)
    report = ImportReport()
    first_seen: dict[tuple[str, str], int] = {}
    for record in records:
        report.rows_read += 1
        if record.data is None:
            report.rejects.append(Reject(file, record.line, "row", record.problem or "unreadable row"))
            continue
        if mapping is not None:
            data = _apply_mapping(record.data, mapping, tenant)
        elif suffix == ".csv":
            # An empty CSV cell means "not given", not an empty date or channel.
            data = {k: v for k, v in record.data.items() if v != "" or k in ("id", "subject", "body")}
        else:
            data = dict(record.data)
        renamed: list[tuple[str, str, str]] = []
        ticket_or_problem = _build_ticket(data, tenant, values or ValueMap(), renamed)
        if isinstance(ticket_or_problem, Reject):
            report.rejects.append(replace(ticket_or_problem, file=file, line=record.line))
            continue
        ticket = ticket_or_problem
        key = (ticket.tenant, ticket.id)
        if key in first_seen:
            reason = f"duplicate id, first seen on line {first_seen[key]}"
            report.rejects.append(Reject(file, record.line, "id", reason))
            continue
        first_seen[key] = record.line
        report.tickets.append(ticket)
        for name, raw, label in renamed:
            report.names.record(name, raw, label)
    return report


def _normalise_labels(data: dict[str, Any], values: ValueMap, renamed: list[tuple[str, str, str]]) -> Reject | None:
    """The one mapping step: the user's codes (`values`), then the field's own normalisation, in place.

    Labels live in `data["labels"]` (mapped columns) or at the top level (standard label names in an
    unmapped file). Appends (field, raw, label) to `renamed`; returns the reject for a bad value."""
    labels = data.get("labels")
    places = [(labels, None)] if isinstance(labels, dict) else []
    places.append((data, STANDARD_LABELS))
    for holder, only in places:
        for name in [k for k in holder if only is None or k in only]:
            raw = _as_text(holder[name])
            if not raw or not isinstance(holder[name], str | int | float):
                continue
            label = values.apply(name, raw)
            if name == "priority":
                # Normalised here rather than left to Ticket so a bad value is blamed on `priority`, not `labels`.
                try:
                    label = normalise_label(name, label)
                except LabelError as exc:
                    return Reject("", 0, exc.field, exc.reason, raw)
            holder[name] = label
            renamed.append((name, raw, label))
    return None


def _build_ticket(
    data: dict[str, Any], tenant: str, values: ValueMap, renamed: list[tuple[str, str, str]]
) -> Ticket | Reject:
    """A Ticket, or the Reject (file and line left blank) that keeps this row out."""
    data.setdefault("tenant", tenant)
    for name in ("subject", "body"):
        if data.get(name) is None:
            data[name] = ""
    if not _as_text(data["subject"]) and not _as_text(data["body"]):
        return Reject("", 0, "text", "subject and body are both empty")
    if data.get("id") is None:
        data["id"] = stable_id(_as_text(data["tenant"]), data["subject"], data["body"])
    elif isinstance(data["id"], int) and not isinstance(data["id"], bool):
        data["id"] = str(data["id"])
    if (problem := _normalise_labels(data, values, renamed)) is not None:
        return problem
    try:
        return Ticket.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"]) or "row"
        return Reject("", 0, where, str(error["msg"]).removeprefix("Value error, "))


def _object_keys(records: list[_Record]) -> list[str]:
    keys: dict[str, None] = {}
    for record in records:
        if record.data is not None:
            keys.update(dict.fromkeys(record.data))
    return list(keys)


def _decode_lines(raw: bytes) -> tuple[list[str], set[int]]:
    """Lines with their endings, decoded one by one so a bad byte costs one row, not the file."""
    raw = raw.removeprefix(b"\xef\xbb\xbf")
    lines: list[str] = []
    bad: set[int] = set()
    for number, chunk in enumerate(raw.splitlines(keepends=True), start=1):
        try:
            lines.append(chunk.decode("utf-8"))
        except UnicodeDecodeError:
            lines.append(chunk.decode("utf-8", errors="replace"))
            bad.add(number)
    return lines, bad


def _csv_records(path: Path | str, raw: bytes) -> tuple[list[str], list[_Record]]:
    lines, bad = _decode_lines(raw)
    # strict: an unclosed quote is reported instead of silently swallowing the rest of the file.
    reader = csv.reader(lines, strict=True)
    header: list[str] | None = None
    records: list[_Record] = []
    end = 0
    while True:
        start = end + 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            end = reader.line_num
            if header is None:
                raise ImportFileError(path, f"unreadable header row: {exc}") from exc
            records.append(_Record(start, None, f"malformed CSV: {exc}"))
            continue
        end = reader.line_num
        if not row:
            continue
        if header is None:
            if bad.intersection(range(start, end + 1)):
                raise ImportFileError(path, "header row is not valid UTF-8")
            header = [name.strip() for name in row]
            duplicates = sorted({name for name in header if name and header.count(name) > 1})
            if duplicates:
                raise ImportFileError(path, f"duplicate column(s) in header: {', '.join(duplicates)}")
            continue
        if bad.intersection(range(start, end + 1)):
            records.append(_Record(start, None, "not valid UTF-8"))
        elif len(row) < len(header) or any(cell.strip() for cell in row[len(header) :]):
            records.append(_Record(start, None, f"has {len(row)} fields, the header has {len(header)}"))
        else:
            # Unnamed columns (a trailing comma in the header) carry nothing we can name.
            cells = zip(header, row, strict=False)
            records.append(_Record(start, {name: safe_json.clean_text(cell) for name, cell in cells if name}))
    if header is None:
        raise ImportFileError(path, "empty file, expected a header row")
    return [name for name in header if name], records


_JSON_TYPES = {dict: "object", list: "array", str: "string", bool: "boolean", int: "number", float: "number"}


def _json_type(value: Any) -> str:
    return "null" if value is None else _JSON_TYPES.get(type(value), type(value).__name__)


def _jsonl_records(raw: bytes) -> Iterator[_Record]:
    raw = raw.removeprefix(b"\xef\xbb\xbf")
    # Split on \n only: a JSON string may legally hold U+2028 and other characters splitlines() breaks on.
    for number, chunk in enumerate(raw.split(b"\n"), start=1):
        if not chunk.strip():
            continue
        try:
            text = chunk.decode("utf-8")
        except UnicodeDecodeError:
            yield _Record(number, None, "not valid UTF-8")
            continue
        try:
            value = safe_json.loads(text)
        except json.JSONDecodeError as exc:
            yield _Record(number, None, f"invalid JSON: {exc.msg} (column {exc.colno})")
            continue
        except ValueError as exc:
            yield _Record(number, None, f"invalid JSON: {exc}")
            continue
        if not isinstance(value, dict):
            yield _Record(number, None, f"expected a JSON object, got {_json_type(value)}")
            continue
        yield _Record(number, value)


def _json_records(path: Path | str, raw: bytes) -> list[_Record]:
    try:
        text = raw.decode("utf-8-sig")
        document = safe_json.loads(text)
    except UnicodeDecodeError as exc:
        raise ImportFileError(path, f"not valid UTF-8 (byte offset {exc.start})") from exc
    except json.JSONDecodeError as exc:
        raise ImportFileError(path, f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from exc
    except ValueError as exc:
        raise ImportFileError(path, f"invalid JSON: {exc}") from exc
    if not isinstance(document, list):
        raise ImportFileError(path, f"expected a JSON array of objects, got {_json_type(document)}")
    # The document is known valid; walk it again only to learn on which line each element starts.
    decoder = json.JSONDecoder()
    records: list[_Record] = []
    ws = re.compile(r"[\s,]*")
    pos = ws.match(text, text.index("[") + 1).end()  # type: ignore[union-attr]
    line, counted = 1, 0
    for _ in document:
        line += text.count("\n", counted, pos)
        counted = pos
        value, end = decoder.raw_decode(text, pos)
        if isinstance(value, dict):
            records.append(_Record(line, safe_json.clean(value)))
        else:
            records.append(_Record(line, None, f"expected a JSON object, got {_json_type(value)}"))
        pos = ws.match(text, end).end()  # type: ignore[union-attr]
    return records


def read_records(path: Path) -> tuple[list[str], list[_Record]]:
    """The rows of a `.csv`, `.jsonl`/`.ndjson` or `.json` file with their line numbers, as `read_tickets` reads
    them: for importers of other things (the roster). Returns the column names and the records."""
    path = Path(path)
    suffix = path.suffix.lower()
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ImportFileError(path, f"cannot read file: {exc.strerror or exc}") from exc
    return parse_records(str(path), raw, suffix)


def parse_records(name: str, raw: bytes, suffix: str) -> tuple[list[str], list[_Record]]:
    """`read_records` over bytes already in hand (a request body): `name` stands for the file in messages,
    `suffix` (.csv, .jsonl, .ndjson, .json) says how to read them."""
    if suffix == ".csv":
        return _csv_records(name, raw)
    if suffix in (".jsonl", ".ndjson"):
        records = list(_jsonl_records(raw))
    elif suffix == ".json":
        records = _json_records(name, raw)
    else:
        raise ImportFileError(name, f"unknown file type {suffix or '(none)'!r} (use .csv, .jsonl, .json)")
    return _object_keys(records), records
