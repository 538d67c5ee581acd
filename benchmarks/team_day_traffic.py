"""A team's day of helpdesk traffic: signed deliveries from all five sources, in the shapes each sends.

`make_traffic` plans the posts: new tickets (Zendesk events and triggers, Intercom, Jira, Freshdesk,
generic), redeliveries (the same bytes and idempotency key again), follow-up messages on tickets
delivered earlier, and hostile bodies (huge, deeply nested, control characters and lone surrogates, bad
dates). Bodies are built up front; signatures are made when a post is sent, as a helpdesk does.

A follow-up is one function, `FOLLOW_UP`: today it is the ticket delivered again with the new message
added to its text (the service sees a changed ticket); switch it to the real follow-up event shapes
once the service handles them.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Literal

from tools.helpdesk.generic import sign as sign_generic
from tools.helpdesk.intercom import sign as sign_intercom
from tools.helpdesk.jira import sign as sign_jira
from tools.helpdesk.zendesk import sign as sign_zendesk

SOURCES = ("zendesk", "intercom", "jira", "freshdesk", "generic")
#: (source, shape): Zendesk sends two shapes, ticket events and trigger bodies.
SHAPES = (("zendesk", "event"), ("zendesk", "trigger"), ("intercom", "notification"), ("jira", "issue"),
          ("freshdesk", "automation"), ("generic", "ticket"))  # fmt: skip
FRESHDESK_HEADER = "X-Caseworker-Secret"
HOSTILE_KINDS = ("huge", "deep", "control", "bad_date")
PostKind = Literal["new", "redelivery", "follow_up", "hostile", "probe"]
#: Redeliveries and follow-ups refer to posts at least this many places earlier, so the original has
#: been answered even with a few posts in flight at once.
MIN_GAP = 8


@dataclass(frozen=True)
class TicketSpec:
    """One ticket as a helpdesk holds it; `payload` renders it in its source's shape."""

    source: str
    shape: str
    external_id: str
    subject: str
    body: str
    created_at: str | int  # ISO 8601; Intercom sends Unix seconds
    requester: str
    update: bool = False  # the event says "updated" rather than "created"
    #: Extra fields merged into the payload (hostile posts use it for deep nesting).
    extra: dict[str, Any] | None = None

    @property
    def ticket_id(self) -> str:
        """The id the service gives the ticket (the generic source keeps the sender's)."""
        return self.external_id if self.source == "generic" else f"{self.source}:{self.external_id}"


@dataclass(frozen=True)
class Post:
    source: str
    body: bytes
    #: The idempotency key the source carries in a header or in the body (Freshdesk: a hash of the body).
    delivery_id: str
    kind: PostKind
    ticket_id: str
    hostile: str | None = None
    #: For redeliveries: the index of the post it repeats.
    repeats: int | None = None

    @property
    def path(self) -> str:
        return f"/webhooks/{self.source}"

    def headers(self, secret: str, now: float) -> dict[str, str]:
        signed = {
            "zendesk": lambda: {**sign_zendesk(secret, self.body, now), "X-Zendesk-Webhook-Invocation-Id":
                                self.delivery_id},
            "intercom": lambda: sign_intercom(secret, self.body),
            "jira": lambda: {**sign_jira(secret, self.body), "X-Atlassian-Webhook-Identifier": self.delivery_id},
            "freshdesk": lambda: {FRESHDESK_HEADER: secret},
            "generic": lambda: {**sign_generic(secret, self.body, now), "X-Caseworker-Delivery": self.delivery_id},
        }[self.source]()  # fmt: skip
        return {**signed, "Content-Type": "application/json"}


def _zendesk_event(t: TicketSpec, delivery: str, sent_at: float) -> dict[str, Any]:
    kind = "comment_added" if t.update else "created"
    return {"type": f"zen:event-type:ticket.{kind}", "account_id": 88888888, "id": delivery, "time": t.created_at,
            "zendesk_event_version": "2022-11-06", "subject": f"zen:ticket:{t.external_id}",
            "detail": {"id": t.external_id, "subject": t.subject, "description": t.body, "priority": "NORMAL",
                       "requester_id": t.requester, "status": "OPEN" if t.update else "NEW", "tags": ["web"],
                       "created_at": t.created_at, "via": {"channel": "web"}},
            "event": {"meta": {"sequence": {"id": delivery, "position": 1}}}}  # fmt: skip


def _zendesk_trigger(t: TicketSpec, delivery: str, sent_at: float) -> dict[str, Any]:
    return {"ticket": {"id": t.external_id, "subject": t.subject, "description": t.body, "priority": "normal",
                       "tags": "web", "requester": {"id": t.requester, "name": "Ada", "email": "ada@example.com"},
                       "created_at": t.created_at}}  # fmt: skip


def _intercom(t: TicketSpec, delivery: str, sent_at: float) -> dict[str, Any]:
    topic = "conversation.user.replied" if t.update else "conversation.user.created"
    return {"type": "notification_event", "app_id": "abc123", "id": delivery, "topic": topic,
            "created_at": int(sent_at), "delivery_attempts": 1,
            "data": {"type": "notification_event_data", "item": {
                "type": "conversation", "id": t.external_id, "created_at": t.created_at, "priority": "not_priority",
                "source": {"type": "conversation", "subject": t.subject, "body": f"<p>{t.body}</p>",
                           "author": {"type": "user", "id": t.requester, "name": "Dana", "email": "dana@example.com"}},
                "tags": {"type": "tag.list", "tags": [{"type": "tag", "id": "1", "name": "web"}]}}}}  # fmt: skip


def _jira(t: TicketSpec, delivery: str, sent_at: float) -> dict[str, Any]:
    description = {"type": "doc", "version": 1,
                   "content": [{"type": "paragraph", "content": [{"type": "text", "text": t.body}]}]}  # fmt: skip
    event = "jira:issue_updated" if t.update else "jira:issue_created"
    return {"timestamp": int(sent_at * 1000), "webhookEvent": event,
            "issue": {"id": t.external_id.split("-")[-1], "key": t.external_id,
                      "fields": {"summary": t.subject, "description": description, "priority": {"name": "Medium"},
                                 "labels": ["web"], "created": t.created_at,
                                 "reporter": {"accountId": t.requester, "displayName": "Sam Lee"}}}}  # fmt: skip


def _freshdesk(t: TicketSpec, delivery: str, sent_at: float) -> dict[str, Any]:
    return {"freshdesk_webhook": {"ticket_id": t.external_id, "ticket_subject": t.subject,
                                  "ticket_description": f"<div>{t.body}</div>", "ticket_priority": "Medium",
                                  "ticket_tags": "web", "ticket_contact_name": "Lee",
                                  "ticket_contact_email": f"{t.requester}@example.com",
                                  "ticket_created_at": t.created_at}}  # fmt: skip


def _generic(t: TicketSpec, delivery: str, sent_at: float) -> dict[str, Any]:
    return {"id": t.external_id, "subject": t.subject, "body": t.body, "created_at": t.created_at,
            "customer": {"id": t.requester, "name": "Kim", "tier": "pro"}, "tags": ["web"]}  # fmt: skip


_RENDER: dict[tuple[str, str], Callable[[TicketSpec, str, float], dict[str, Any]]] = {
    ("zendesk", "event"): _zendesk_event, ("zendesk", "trigger"): _zendesk_trigger,
    ("intercom", "notification"): _intercom, ("jira", "issue"): _jira, ("freshdesk", "automation"): _freshdesk,
    ("generic", "ticket"): _generic,
}  # fmt: skip
#: Where each shape keeps its extra fields (hostile deep nesting goes there).
_EXTRA_AT: dict[tuple[str, str], tuple[str, ...]] = {
    ("zendesk", "event"): ("event",), ("zendesk", "trigger"): ("ticket",), ("intercom", "notification"):
    ("data", "item"), ("jira", "issue"): ("issue", "fields"), ("freshdesk", "automation"): ("freshdesk_webhook",),
    ("generic", "ticket"): (),
}  # fmt: skip


def render(t: TicketSpec, delivery: str, sent_at: float) -> bytes:
    payload = _RENDER[(t.source, t.shape)](t, delivery, sent_at)
    if t.extra:
        node = payload
        for key in _EXTRA_AT[(t.source, t.shape)]:
            node = node[key]
        node.update(t.extra)
    return json.dumps(payload).encode()  # ensure_ascii: a lone surrogate travels as a \ud800 escape


def post_for(t: TicketSpec, delivery: str, kind: PostKind, sent_at: float, hostile: str | None = None) -> Post:
    body = render(t, delivery, sent_at)
    return Post(t.source, body, delivery, kind, t.ticket_id, hostile)


def changed_ticket_follow_up(original: TicketSpec, message: str) -> TicketSpec:
    """Today's follow-up: the helpdesk's update event for the ticket, its text now ending with the new message."""
    return replace(original, body=f"{original.body}\n\nFollow-up from the customer: {message}", update=True)


FOLLOW_UP: Callable[[TicketSpec, str], TicketSpec] = changed_ticket_follow_up


def _nested(depth: int) -> dict[str, Any]:
    node: dict[str, Any] = {"leaf": True}
    for _ in range(depth - 1):
        node = {"n": node}
    return node


def hostile_ticket(kind: str, t: TicketSpec, filler: str) -> TicketSpec:
    """A ticket a careless or malicious sender might produce; the service must answer 2xx or a 4xx naming
    the field, and never leave a job that can only die."""
    if kind == "huge":
        filler = filler.encode("ascii", "ignore").decode() or "x"  # ASCII: the JSON stays ~900 KB, under 1 MB
        body = (filler + " ") * (900_000 // (len(filler) + 1) + 1)
        return replace(t, body=body[:900_000])
    if kind == "deep":
        return replace(t, extra={"custom": _nested(900)})
    if kind == "control":
        return replace(t, subject="Help\x00\x1b[2J\x1b]0;owned\x07 [red]now[/red] \u202egnp.exe",
                       body=f"{t.body}\x08\x7f lone \ud800 surrogate \udfff and \x9b31m C1")  # fmt: skip
    if kind == "bad_date":
        return replace(t, created_at="9999-12-31T23:59:59Z")
    raise ValueError(f"unknown hostile kind {kind}")


@dataclass
class TrafficPlan:
    posts: list[Post]
    specs: dict[str, TicketSpec]  # ticket id -> its latest version, for follow-ups

    def count(self, kind: PostKind) -> int:
        return sum(1 for p in self.posts if p.kind == kind)


def _kinds(n: int, redeliveries: float, follow_ups: float, hostile: float, rng: random.Random) -> list[PostKind]:
    counts = {"redelivery": round(n * redeliveries), "follow_up": round(n * follow_ups), "hostile": round(n * hostile)}
    rest: list[PostKind] = [k for k, c in counts.items() for _ in range(c)]  # type: ignore[misc]
    rest += ["new"] * (n - len(rest) - MIN_GAP)
    rng.shuffle(rest)
    return ["new"] * MIN_GAP + rest


def make_traffic(
    texts: list[tuple[str, str]],
    n: int = 500,
    redeliveries: float = 0.10,
    follow_ups: float = 0.10,
    hostile: float = 0.05,
    seed: int = 11,
    sent_at: float | None = None,
) -> TrafficPlan:
    """`n` posts: the given shares of redeliveries, follow-ups and hostile bodies, the rest new tickets."""
    rng = random.Random(seed)
    sent_at = time.time() if sent_at is None else sent_at
    created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(sent_at - 600))
    posts: list[Post] = []
    specs: dict[str, TicketSpec] = {}
    firsts: list[int] = []  # indexes of posts that may be repeated or followed up (not hostile)
    for i, kind in enumerate(_kinds(n, redeliveries, follow_ups, hostile, rng)):
        if kind in ("redelivery", "follow_up"):
            earlier = [j for j in firsts if j <= i - MIN_GAP]
            if not earlier:
                kind = "new"
        if kind == "redelivery":
            j = rng.choice(earlier)
            posts.append(replace(posts[j], kind="redelivery", repeats=j))
            continue
        if kind == "follow_up":
            spec = specs[posts[rng.choice(earlier)].ticket_id]
            spec = FOLLOW_UP(spec, rng.choice(texts)[1].split("\n")[0][:300])
            specs[spec.ticket_id] = spec
            posts.append(post_for(spec, f"fu-{i}", "follow_up", sent_at))
            firsts.append(len(posts) - 1)
            continue
        # Hostile posts walk every (kind, shape) pair; the others take the shapes in turn.
        h = sum(1 for p in posts if p.kind == "hostile")
        source, shape = SHAPES[(h // len(HOSTILE_KINDS) if kind == "hostile" else i) % len(SHAPES)]
        subject, body = texts[i % len(texts)]
        external = f"TD-{i}" if source == "jira" else str(70_000 + i) if source != "generic" else f"td-{i}"
        epoch: Any = int(sent_at - 600) if source == "intercom" else created
        spec = TicketSpec(source, shape, external, subject, body, epoch, f"cus-{i % 40}")
        if kind == "hostile":
            what = HOSTILE_KINDS[h % len(HOSTILE_KINDS)]
            bad = hostile_ticket(what, spec, body)
            if what == "bad_date" and source == "intercom":
                bad = replace(bad, created_at=253_402_300_799)  # 9999-12-31 as Unix seconds
            posts.append(post_for(bad, f"h-{i}", "hostile", sent_at, hostile=what))
            continue
        specs[spec.ticket_id] = spec
        posts.append(post_for(spec, f"d-{i}", "new", sent_at))
        firsts.append(len(posts) - 1)
    return TrafficPlan(posts, specs)


def probe_post(i: int, text: tuple[str, str], sent_at: float) -> Post:
    """A plain generic ticket, to see that a given worker still takes work at the end of the day."""
    spec = TicketSpec("generic", "ticket", f"probe-{i}", text[0], text[1], "2026-11-29T06:00:00Z", "cus-probe")
    return post_for(spec, f"probe-{i}", "probe", sent_at)
