"""Helpers every connector's parser shares: validation with field-path reasons, text, priority, time."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from html import unescape
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from knowledge.assignments import AssignmentEvent
from knowledge.schemas import MAX_THREAD_MESSAGES, Message, Ticket, bounded_datetime, normalise_priority
from tools.helpdesk.delivery import WebhookRejected

M = TypeVar("M", bound=BaseModel)

_DATETIME = TypeAdapter(datetime)

#: Idempotency keys are stored per job; the helpdesks' own ids are far shorter than this.
MAX_DELIVERY_ID = 256
#: A helpdesk's own ticket id; with the source prefix it stays inside the Ticket id bound.
MAX_EXTERNAL_ID = 200
ExternalId = Annotated[str, Field(min_length=1, max_length=MAX_EXTERNAL_ID)]


class Payload(BaseModel):
    """A part of a helpdesk's webhook body: unknown keys ignored, numeric ids read as strings."""

    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True)


def validation_reason(error: ValidationError) -> str:
    """`ticket.subject: Field required; ...`, so the sender can find the field in its template."""
    parts = []
    for item in error.errors():
        path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in item["loc"]).lstrip(".")
        parts.append(f"{path or 'body'}: {item['msg']}")
    return "; ".join(parts)


def validate(model: type[M], data: Any) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise WebhookRejected(422, validation_reason(error)) from None


def build_ticket(data: dict[str, Any]) -> Ticket:
    try:
        return Ticket.model_validate(data)
    except ValidationError as error:
        raise WebhookRejected(422, f"normalised ticket: {validation_reason(error)}") from None


def helpdesk_ticket(
    source: str,
    external_id: str,
    *,
    subject: str,
    body: str,
    created_at: datetime | None = None,
    customer: dict[str, str | None] | None = None,
    tags: list[str] | None = None,
    priority: Any = None,
    thread: list[Message] | None = None,
) -> Ticket:
    """The one shape the four helpdesks normalise to; `extra` tells the write-back where to write.

    `created_at` is already parsed (`parse_time`); a follow-up passes its new message as `body` and the
    conversation before it as `thread`.
    """
    return build_ticket(
        {
            "id": f"{source}:{external_id}",
            "subject": subject,
            "body": body,
            "channel": source,
            "created_at": created_at,
            "customer": customer,
            "tags": tags or [],
            "labels": priority_label(priority),
            # A long conversation keeps its newest messages rather than being refused.
            "thread": (thread or [])[-MAX_THREAD_MESSAGES:],
            "extra": {"source": source, "external_id": external_id},
        }
    )


def assignment_event(
    source: str, external_id: str, *, assignee: str | None, status: str | None, at: datetime | None
) -> AssignmentEvent:
    """The ticket's assignee (the helpdesk's own user id; None or "" is nobody) and raw status, for the open
    load. The router sets the tenant; without a time in the payload, the time it was read stands in."""
    return AssignmentEvent(
        tenant="default",
        ticket_id=f"{source}:{external_id}",
        source=source,  # type: ignore[arg-type]
        assignee=blank(assignee),
        status=blank(status),
        at=at or datetime.now(UTC),
    )


def same_text(a: str, b: str) -> bool:
    """One message twice, whitespace aside (a ticket's first comment and its description)."""
    return " ".join(a.split()) == " ".join(b.split())


def delivery_key(headers: Mapping[str, str], name: str) -> str:
    value = (headers.get(name) or headers.get(name.lower()) or "").strip()
    if not value:
        raise WebhookRejected(400, f"missing {name} header (the delivery's idempotency key)")
    if len(value) > MAX_DELIVERY_ID:
        raise WebhookRejected(400, f"{name} header longer than {MAX_DELIVERY_ID} characters")
    return value


def blank(value: str | None) -> str | None:
    """Unset template placeholders render as empty strings; treat them as absent."""
    if value is None:
        return None
    value = value.strip()
    return value or None


def customer(id: str | None = None, name: str | None = None) -> dict[str, str | None] | None:
    """The requester as Ticket data (validated with the ticket, so an error names `customer.<field>`)."""
    id, name = blank(id), blank(name)
    return {"id": id, "name": name} if id or name else None


def priority_label(value: Any) -> dict[str, str]:
    """{"priority": "P1"} when the helpdesk's value maps onto P0–P3; otherwise nothing (never a wrong label)."""
    if value is None or isinstance(value, bool):
        return {}
    try:
        return {"priority": normalise_priority(str(value))}
    except ValueError:
        return {}


def parse_time(value: Any, *, epoch_seconds: bool = False) -> datetime | None:
    """Lenient: a helpdesk date we cannot read, or one outside the supported range (9999-12-31, year 1),
    leaves the date unset rather than rejecting the ticket; naive means UTC. `epoch_seconds`: a number is
    unix seconds (Intercom), never guessed to be milliseconds."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        if epoch_seconds and isinstance(value, int | float) and not isinstance(value, bool):
            parsed = datetime.fromtimestamp(value, UTC)
        else:
            parsed = _DATETIME.validate_python(value.strip() if isinstance(value, str) else value)
        return bounded_datetime(parsed)
    except (ValidationError, ValueError, OverflowError, OSError):
        return None


# HTML to text in one forward pass. The standard library's HTMLParser rescans its buffer on
# malformed markup and is quadratic on a crafted body ("<a" repeated: 100 KB took over 5 s here),
# and intake accepts bodies up to a megabyte. Here every character is read a bounded number of times.
_BLOCKS = frozenset({"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre"})
_SKIPPED = ("script", "style", "head")
_MARKUP = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9:-]*)|<!--|<[!?/]")
_TAG_STOP = re.compile(r"[>\"']")
_SKIPPED_END = {name: re.compile(rf"</{name}(?![A-Za-z0-9:-])", re.IGNORECASE) for name in _SKIPPED}


def _tag_end(html: str, pos: int) -> int:
    """Index of the `>` closing the tag whose attributes start at `pos` (quotes respected), or -1."""
    while found := _TAG_STOP.search(html, pos):
        if found.group() == ">":
            return found.start()
        close = html.find(found.group(), found.end())
        if close < 0:
            return -1
        pos = close + 1
    return -1


def _html_parts(html: str) -> list[str]:
    parts: list[str] = []
    pos = 0
    while found := _MARKUP.search(html, pos):
        parts.append(unescape(html[pos : found.start()]))
        name = (found.group(2) or "").lower()
        if found.group() == "<!--":
            end = html.find("-->", found.end())
            pos = len(html) if end < 0 else end + 3
            continue
        end = _tag_end(html, found.end()) if name else html.find(">", found.end())
        if end < 0:
            pos = found.start()  # an unterminated tag: the rest is text, as HTMLParser kept it
            break
        pos = end + 1
        if name in _SKIPPED_END and not found.group(1):
            closing = _SKIPPED_END[name].search(html, pos)
            pos = len(html) if closing is None else closing.start()
        elif name in _BLOCKS:
            parts.append("\n")
    parts.append(unescape(html[pos:]))
    return parts


def html_to_text(html: str) -> str:
    """Visible text of an HTML fragment, one line per block, so the classifier sees words, not markup."""
    if "<" not in html and "&" not in html:
        return html.strip()
    lines = (" ".join(line.split()) for line in "".join(_html_parts(html)).splitlines())
    return "\n".join(line for line in lines if line)
