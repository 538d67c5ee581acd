"""Who holds which ticket now: one row per (tenant, ticket) with its assignee and open/closed state.

An agent's open load is the count of their open rows. Rows change through `apply_event`, fed by
our own write-backs (helpdesk = "caseworker", assignee = our agent id) and by the assignment and
status events helpdesks send. Those events name people by the helpdesk's own id; `apply_event`
maps them to our agent id through the roster (`Agent.helpdesk_ids`).

What each helpdesk sends (the webhook wiring that turns these into `AssignmentEvent`s comes later):

* **Zendesk** — ticket events / trigger payloads: `ticket.id`, `ticket.assignee_id` (user id, null
  when unassigned), `ticket.group_id`, `ticket.status` ∈ new, open, pending, hold, solved, closed
  (custom statuses map onto these categories). Open: new/open/pending/hold.
* **Jira** — `jira:issue_updated` (`issue_event_type_name` = issue_assigned, issue_generic, ...):
  `issue.key`, `issue.fields.assignee.accountId` (null when unassigned), `issue.fields.status.name`
  and `issue.fields.status.statusCategory.key` ∈ new, indeterminate, done; the `changelog.items`
  name the changed field ("assignee", "status"). Closed: category done (or a Resolved/Closed/Done name).
* **Freshdesk** — ticket update automations: `ticket.id`, `ticket.responder_id` (agent id, null when
  unassigned), `ticket.group_id`, `ticket.status` 2 Open, 3 Pending, 4 Resolved, 5 Closed (6, 7 and
  custom statuses are open). Closed: 4, 5.
* **Intercom** — `conversation.admin.assigned`, `conversation.admin.closed`, ... topics: `data.item.id`,
  `data.item.admin_assignee_id` (admin id; null/0 when unassigned), `data.item.team_assignee_id`,
  `data.item.state` ∈ open, closed, snoozed (and `open` true/false). Closed: closed.

Events can arrive late or twice: an event older than the stored one for the same ticket changes nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from knowledge.db import Tx
from knowledge.roster import Roster

if TYPE_CHECKING:
    from knowledge.history import History

EventSource = Literal["caseworker", "zendesk", "jira", "freshdesk", "intercom"]
AssignmentState = Literal["open", "closed"]

ASSIGNMENTS_SCHEMA = """
CREATE TABLE IF NOT EXISTS assignments (
    tenant TEXT NOT NULL,
    ticket_id TEXT NOT NULL,
    agent_id TEXT,
    state TEXT NOT NULL,
    source TEXT NOT NULL,
    event_at TEXT NOT NULL,
    opened_at TEXT,
    closed_at TEXT,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (tenant, ticket_id)
);
CREATE INDEX IF NOT EXISTS assignments_agent ON assignments (tenant, agent_id, state);
"""

_CLOSED: dict[str, frozenset[str]] = {
    "caseworker": frozenset({"closed", "solved", "resolved", "done"}),
    "zendesk": frozenset({"solved", "closed"}),
    "jira": frozenset({"done", "resolved", "closed"}),
    "freshdesk": frozenset({"4", "5", "resolved", "closed"}),
    "intercom": frozenset({"closed"}),
}
#: Values that mean "nobody" in the helpdesks' assignee fields (Intercom uses 0).
_UNASSIGNED = frozenset({"", "0", "null", "none"})


def normalise_state(source: str, status: str | int | None) -> AssignmentState:
    """A helpdesk's status value → open/closed (see the module docstring for each helpdesk's values)."""
    value = "" if status is None else str(status).strip().lower()
    return "closed" if value in _CLOSED[source] else "open"


class AssignmentEvent(BaseModel):
    """A ticket's assignee and/or status changed, as one helpdesk (or our own write-back) reported it."""

    model_config = ConfigDict(extra="forbid")

    tenant: str = Field(min_length=1)
    ticket_id: str = Field(min_length=1)
    source: EventSource
    #: The assignee as the source names them: our agent id for "caseworker", else the helpdesk's user id.
    #: None or an unassigned marker ("0", "") means nobody holds the ticket.
    assignee: str | None = None
    #: The raw status (Zendesk "solved", Jira status category key or name, Freshdesk 4, Intercom "closed").
    status: str | int | None = None
    at: datetime

    @field_validator("at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        return value if value.tzinfo else value.replace(tzinfo=UTC)


class Assignment(BaseModel):
    tenant: str
    ticket_id: str
    agent_id: str | None
    state: AssignmentState
    source: str
    event_at: datetime
    opened_at: datetime | None
    closed_at: datetime | None


class Assignments:
    """Open load per agent, kept current from assignment and status events."""

    def __init__(self, history: History) -> None:
        self.history = history
        self.roster = Roster(history)

    def _agent_id(self, event: AssignmentEvent) -> str | None:
        raw = (event.assignee or "").strip()
        if raw.lower() in _UNASSIGNED:
            return None
        if event.source == "caseworker":
            return raw
        agent = self.roster.find(event.tenant, event.source, raw)
        # Someone not on the roster still holds the ticket; keep their helpdesk id so the row is honest.
        return agent.id if agent else f"{event.source}:{raw}"

    def apply_event(self, event: AssignmentEvent) -> bool:
        """Store the event's effect; False when a newer event for this ticket is already stored."""
        agent_id = self._agent_id(event)
        state = normalise_state(event.source, event.status)
        at = event.at.astimezone(UTC).isoformat()
        with self.history.transaction() as conn:
            row = conn.execute(
                "SELECT event_at, opened_at, state FROM assignments WHERE tenant = ? AND ticket_id = ?"
                + self.history.db.for_update,
                (event.tenant, event.ticket_id),
            ).fetchone()
            if row is not None and row["event_at"] > at:
                return False
            opened = row["opened_at"] if row is not None and row["state"] == "open" else None
            self._write(conn, event, agent_id, state, at, opened_at=opened or (at if state == "open" else None))
        return True

    @staticmethod
    def _write(
        conn: Tx,
        event: AssignmentEvent,
        agent_id: str | None,
        state: AssignmentState,
        at: str,
        opened_at: str | None,
    ) -> None:
        conn.execute(
            "INSERT INTO assignments (tenant, ticket_id, agent_id, state, source, event_at, opened_at, closed_at, "
            "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (tenant, ticket_id) DO UPDATE SET "
            "agent_id = excluded.agent_id, state = excluded.state, source = excluded.source, "
            "event_at = excluded.event_at, opened_at = excluded.opened_at, closed_at = excluded.closed_at, "
            "updated_at = excluded.updated_at",
            (
                event.tenant,
                event.ticket_id,
                agent_id,
                state,
                event.source,
                at,
                opened_at,
                at if state == "closed" else None,
                datetime.now(UTC).isoformat(),
            ),
        )

    def get(self, tenant: str, ticket_id: str) -> Assignment | None:
        row = self.history.query_one(
            "SELECT * FROM assignments WHERE tenant = ? AND ticket_id = ?", (tenant, ticket_id)
        )
        return Assignment.model_validate(dict(row)) if row else None

    def open_load(self, tenant: str) -> dict[str, int]:
        """Open tickets per agent id in this tenant (agents holding none are absent)."""
        rows = self.history.query(
            "SELECT agent_id, COUNT(*) AS n FROM assignments WHERE tenant = ? AND state = 'open' "
            "AND agent_id IS NOT NULL GROUP BY agent_id",
            (tenant,),
        )
        return {row["agent_id"]: int(row["n"]) for row in rows}
