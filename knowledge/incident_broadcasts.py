"""One broadcast reply per accepted incident: drafted on accept, edited by the lead, sent once to every member.

`incident_broadcasts` holds the draft (its citations as JSON) and, once sent, who sent it and when. Sending
marks the row and queues the members' reply write-backs in one transaction, so a crash leaves either both or
neither, and a second send is refused (BroadcastConflict): no member is ever queued twice. Every read and
write names the tenant.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field

from knowledge.db import Tx
from knowledge.jobs import NewJob, insert_job

if TYPE_CHECKING:
    from knowledge.history import History

BroadcastState = Literal["draft", "sent"]

BROADCASTS_SCHEMA = """
CREATE TABLE IF NOT EXISTS incident_broadcasts (
    incident_id TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    state TEXT NOT NULL,
    body TEXT NOT NULL,
    grounded INTEGER NOT NULL,
    citations TEXT NOT NULL,
    note TEXT NOT NULL,
    drafted_at TEXT NOT NULL,
    edited_by TEXT,
    edited_at TEXT,
    sent_by TEXT,
    sent_at TEXT
);
"""


def migrate_broadcasts(conn: Tx) -> None:
    """Databases made before broadcasts existed get the table (the DDL is portable as written)."""
    conn.execute(BROADCASTS_SCHEMA.strip().rstrip(";"))


class Broadcast(BaseModel):
    incident_id: str
    tenant: str
    state: BroadcastState = "draft"
    body: str
    #: False: no KB article answered the incident well enough; the draft is a holding reply.
    grounded: bool
    citations: list[dict[str, Any]] = Field(default_factory=list)
    #: How the draft was made (template or LLM, which article), for the lead.
    note: str = ""
    drafted_at: datetime
    edited_by: str | None = None
    edited_at: datetime | None = None
    sent_by: str | None = None
    sent_at: datetime | None = None


class BroadcastConflict(ValueError):
    """An edit or a send of a broadcast that went out already."""


def _iso(at: datetime) -> str:
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(UTC).isoformat()


class BroadcastBook:
    def __init__(self, history: History) -> None:
        self.history = history

    def draft(self, broadcast: Broadcast) -> Broadcast:
        """Store the first draft of an incident's broadcast; an existing one (a redelivered accept) stays."""
        b = broadcast
        with self.history.transaction() as conn:
            conn.execute(
                "INSERT INTO incident_broadcasts (incident_id, tenant, state, body, grounded, citations, note, "
                "drafted_at) VALUES (?, ?, 'draft', ?, ?, ?, ?, ?) ON CONFLICT (incident_id) DO NOTHING",
                (b.incident_id, b.tenant, b.body, int(b.grounded), json.dumps(b.citations), b.note,
                 _iso(b.drafted_at)),
            )  # fmt: skip
        return self.get(b.tenant, b.incident_id)  # type: ignore[return-value]

    def get(self, tenant: str, incident_id: str) -> Broadcast | None:
        row = self.history.query_one(
            "SELECT * FROM incident_broadcasts WHERE tenant = ? AND incident_id = ?", (tenant, incident_id)
        )
        if row is None:
            return None
        data = dict(row)
        return Broadcast(**{**data, "grounded": bool(data["grounded"]), "citations": json.loads(data["citations"])})

    def _draft_row(self, conn: Tx, tenant: str, incident_id: str) -> None:
        row = conn.execute(
            "SELECT state FROM incident_broadcasts WHERE tenant = ? AND incident_id = ?" + self.history.db.for_update,
            (tenant, incident_id),
        ).fetchone()
        if row is None:
            raise KeyError(incident_id)
        if row[0] != "draft":
            raise BroadcastConflict(f"the broadcast of incident {incident_id} was sent already")

    def edit(self, tenant: str, incident_id: str, body: str, by: str | None, at: datetime) -> Broadcast:
        """Replace the draft's text (KeyError: no draft for this tenant; BroadcastConflict: sent already)."""
        with self.history.transaction() as conn:
            self._draft_row(conn, tenant, incident_id)
            conn.execute(
                "UPDATE incident_broadcasts SET body = ?, edited_by = ?, edited_at = ? WHERE tenant = ? "
                "AND incident_id = ?",
                (body, by, _iso(at), tenant, incident_id),
            )
        return self.get(tenant, incident_id)  # type: ignore[return-value]

    def send(self, tenant: str, incident_id: str, by: str | None, at: datetime, jobs: list[NewJob],
             max_attempts: int, now: float) -> tuple[Broadcast, int]:  # fmt: skip
        """Mark the draft sent and queue `jobs` with it; (the broadcast, how many jobs were new)."""
        created = 0
        with self.history.transaction() as conn:
            self._draft_row(conn, tenant, incident_id)
            conn.execute(
                "UPDATE incident_broadcasts SET state = 'sent', sent_by = ?, sent_at = ? WHERE tenant = ? "
                "AND incident_id = ?",
                (by, _iso(at), tenant, incident_id),
            )
            for job in jobs:
                created += insert_job(conn, job, max_attempts, now)[1]
        return self.get(tenant, incident_id), created  # type: ignore[return-value]
