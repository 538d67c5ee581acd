"""Tickets handed to `caseworker triage`: a JSON object, a JSON array, or JSON Lines, from a file or
stdin. Strict: `id`, `subject` and `body` are required; each bad ticket is reported, the rest run."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from pydantic import ValidationError

from knowledge import safe_json
from knowledge.schemas import Ticket


@dataclass
class ParsedTickets:
    tickets: list[Ticket] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def _validate(position: str, data: object, out: ParsedTickets) -> None:
    """`position` names where the ticket sits: `file:line` or `file: item N`."""
    if not isinstance(data, dict):
        out.errors.append(f"{position}: ticket: expected a JSON object, got {type(data).__name__}")
        return
    try:
        out.tickets.append(Ticket.model_validate(data))
    except ValidationError as exc:
        for error in exc.errors():
            where = ".".join(str(part) for part in error["loc"]) or "ticket"
            out.errors.append(f"{position}: {where}: {error['msg']}")
    except ValueError as exc:
        out.errors.append(f"{position}: ticket: {exc}")


def parse_tickets(text: str, source: str) -> ParsedTickets:
    out = ParsedTickets()
    stripped = text.lstrip()
    if not stripped:
        out.errors.append(f"{source}:1: input: no tickets given")
        return out
    if stripped[0] in "[{":
        try:
            whole = safe_json.loads(text)
        except ValueError:
            # Not one JSON document, or one refused (too deep, NaN): read it line by line below, which
            # reports each bad line and still runs the good ones.
            whole = None
        if isinstance(whole, list):
            for index, item in enumerate(whole, start=1):
                _validate(f"{source}: item {index}", item, out)
            return out
        if isinstance(whole, dict):
            _validate(f"{source}:1", whole, out)
            return out
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            data = safe_json.loads(line)
        except json.JSONDecodeError as exc:
            out.errors.append(f"{source}:{number}: json: {exc.msg} (column {exc.colno})")
            continue
        except ValueError as exc:
            out.errors.append(f"{source}:{number}: json: {exc}")
            continue
        _validate(f"{source}:{number}", data, out)
    return out
