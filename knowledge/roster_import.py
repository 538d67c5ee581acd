"""`caseworker agents import roster.csv|json`: agents from a file, bad rows as `file:line: field: reason`.

Columns (CSV header or JSON keys): id, name, email, tenant, teams, skills, languages (lists as
`a; b`), capacity (max open tickets), hours (`Mon-Fri 09:00-17:00`) with timezone (IANA name),
senior, active (true/false), and the agent's id in each helpdesk: zendesk_id, jira_id, freshdesk_id,
intercom_id (JSON may give them as a `helpdesk_ids` object instead). An unknown column fails the
whole file: a misspelt `capcity` must not silently drop every capacity.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from knowledge.importers import ImportFileError, Record, parse_records, read_records
from knowledge.rejects import Reject, WritesRejects
from knowledge.roster import HELPDESKS, Agent, WorkingHours
from knowledge.schemas import DEFAULT_TENANT

_SCALARS = ("id", "tenant", "name", "email", "teams", "skills", "languages", "capacity", "senior", "active")
_HELPDESK_COLUMNS = {f"{helpdesk}_id": helpdesk for helpdesk in HELPDESKS}
COLUMNS: tuple[str, ...] = (*_SCALARS, "hours", "timezone", *_HELPDESK_COLUMNS, "helpdesk_ids")
_TRUE = frozenset({"true", "yes", "y", "1"})
_FALSE = frozenset({"false", "no", "n", "0", ""})


@dataclass
class RosterImport(WritesRejects):
    agents: list[Agent] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)
    rows_read: int = 0


class _RowError(ValueError):
    def __init__(self, field_name: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field_name


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _flag(name: str, value: Any, default: bool) -> bool:
    if _blank(value):
        return default
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE or text in _FALSE:
        return text in _TRUE
    raise _RowError(name, f"{str(value)[:40]!r} is not true or false")


def _capacity(value: Any) -> int | None:
    if _blank(value):
        return None
    try:
        number = int(str(value).strip()) if not isinstance(value, int | float) else int(value)
    except ValueError:
        raise _RowError("capacity", f"{str(value)[:40]!r} is not a whole number of open tickets") from None
    if isinstance(value, float) and value != number:
        raise _RowError("capacity", f"{value!r} is not a whole number of open tickets")
    return number


def _hours(row: dict[str, Any]) -> WorkingHours | None:
    raw, zone = row.get("hours"), row.get("timezone")
    if _blank(raw):
        if not _blank(zone):
            raise _RowError("hours", "a timezone is given but no working hours (e.g. 'Mon-Fri 09:00-17:00')")
        return None
    try:
        if isinstance(raw, dict):
            spec = f"{raw.get('days', '')} {raw.get('start', '')}-{raw.get('end', '')}"
            zone = raw.get("timezone", zone)
        else:
            spec = str(raw)
        if _blank(zone):
            raise _RowError("timezone", "working hours need a time zone (an IANA name such as Europe/Berlin)")
        return WorkingHours.parse(spec, str(zone))
    except ValidationError as exc:
        raise _RowError("timezone", str(exc.errors()[0]["msg"]).removeprefix("Value error, ")) from None
    except ValueError as exc:
        if isinstance(exc, _RowError):
            raise
        raise _RowError("hours", str(exc)) from None


def _helpdesk_ids(row: dict[str, Any]) -> dict[str, str]:
    ids: dict[str, str] = {}
    nested = row.get("helpdesk_ids")
    if not _blank(nested):
        if not isinstance(nested, dict) or any(key not in HELPDESKS for key in nested):
            raise _RowError("helpdesk_ids", f"must be an object with keys among {', '.join(HELPDESKS)}")
        ids.update({k: str(v) for k, v in nested.items() if not _blank(v)})
    for column, helpdesk in _HELPDESK_COLUMNS.items():
        if not _blank(row.get(column)):
            ids[helpdesk] = str(row[column]).strip()
    return ids


def _agent(row: dict[str, Any], tenant: str) -> Agent:
    unknown = [key for key in row if key not in COLUMNS]
    if unknown:
        raise _RowError(unknown[0], f"unknown field (known: {', '.join(COLUMNS)})")
    data: dict[str, Any] = {name: row[name] for name in ("id", "name", "email") if not _blank(row.get(name))}
    if isinstance(data.get("id"), int):
        data["id"] = str(data["id"])
    data["tenant"] = str(row.get("tenant") or "").strip() or tenant
    for name in ("teams", "skills", "languages"):
        if not _blank(row.get(name)):
            data[name] = row[name]
    data["capacity"] = _capacity(row.get("capacity"))
    data["senior"] = _flag("senior", row.get("senior"), False)
    data["active"] = _flag("active", row.get("active"), True)
    data["hours"] = _hours(row)
    data["helpdesk_ids"] = _helpdesk_ids(row)
    if "id" not in data:
        raise _RowError("id", "missing: every agent needs an id")
    data.setdefault("name", data["id"])
    try:
        return Agent.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = str(error["loc"][0]) if error["loc"] else "row"
        raise _RowError(where, str(error["msg"]).removeprefix("Value error, ")) from None


def read_roster(path: Path, *, tenant: str = DEFAULT_TENANT) -> RosterImport:
    """Agents from a `.csv`, `.jsonl` or `.json` file; a bad row becomes a reject, the rest import."""
    columns, records = read_records(path)
    return _roster(str(path), path.suffix.lower(), columns, records, tenant, only_tenant=False)


def parse_roster(name: str, raw: bytes, suffix: str, *, tenant: str) -> RosterImport:
    """Agents from bytes in hand (the service API's request body), read as `read_roster` reads a file; `name`
    stands for the file in messages. Every row belongs to `tenant`: a row naming another is rejected."""
    columns, records = parse_records(name, raw, suffix)
    return _roster(name, suffix, columns, records, tenant, only_tenant=True)


def _roster(
    name: str, suffix: str, columns: list[str], records: list[Record], tenant: str, *, only_tenant: bool
) -> RosterImport:
    if suffix == ".csv":
        unknown = [column for column in columns if column not in COLUMNS]
        if unknown:
            raise ImportFileError(name, f"unknown column(s) {', '.join(unknown)} (known: {', '.join(COLUMNS)})")
    report = RosterImport()
    first_seen: dict[tuple[str, str], int] = {}
    for record in records:
        report.rows_read += 1
        if record.data is None:
            report.rejects.append(Reject(name, record.line, "row", record.problem or "unreadable row"))
            continue
        try:
            agent = _agent(record.data, tenant)
            if only_tenant and agent.tenant != tenant:
                raise _RowError("tenant", f"{agent.tenant[:60]!r} is another tenant: this import is for {tenant!r}")
        except _RowError as exc:
            report.rejects.append(Reject(name, record.line, exc.field, str(exc)))
            continue
        key = (agent.tenant, agent.id)
        if key in first_seen:
            duplicate = f"duplicate id, first seen on line {first_seen[key]}"
            report.rejects.append(Reject(name, record.line, "id", duplicate))
            continue
        first_seen[key] = record.line
        report.agents.append(agent)
    return report
