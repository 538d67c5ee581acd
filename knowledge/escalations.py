"""Escalations (results whose decision is `escalate`) as work for people: open → acknowledged → resolved.

An escalation row is created in the same transaction that stores its triage result (History.record_result),
so none is lost. Agents acknowledge it, assign it to a person or team and resolve it; each change records
who and when, bumps `version`, and writes its audit event in the same transaction. A change made against
an older version, or one that no longer applies (acknowledging what someone else acknowledged), is a
conflict: two agents never silently overwrite each other. A newer triage that escalates the same ticket
supersedes the older escalation and keeps who acknowledged it and who it was assigned to.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from knowledge.db import Tx

if TYPE_CHECKING:
    from knowledge.history import History

EscalationState = Literal["open", "acknowledged", "resolved", "superseded"]
ESCALATION_STATES: tuple[str, ...] = ("open", "acknowledged", "resolved", "superseded")
#: What an agent still has to act on.
ACTIVE_STATES: tuple[str, ...] = ("open", "acknowledged")

ESCALATIONS_SCHEMA = """
CREATE TABLE IF NOT EXISTS escalations (
    id TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    ticket_id TEXT NOT NULL,
    job_id TEXT NOT NULL UNIQUE,
    result_seq INTEGER NOT NULL,
    state TEXT NOT NULL,
    reason TEXT NOT NULL,
    priority TEXT,
    subject TEXT NOT NULL,
    summary TEXT NOT NULL,
    suggested_team TEXT,
    secondary_team TEXT,
    packet TEXT NOT NULL,
    source TEXT,
    external_id TEXT,
    first_response_due TEXT,
    resolution_due TEXT,
    at_risk INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    version INTEGER NOT NULL DEFAULT 1,
    acknowledged_by TEXT,
    acknowledged_at TEXT,
    assignee TEXT,
    assigned_by TEXT,
    assigned_at TEXT,
    resolved_by TEXT,
    resolved_at TEXT,
    superseded_by TEXT
);
CREATE INDEX IF NOT EXISTS escalations_due ON escalations (state, first_response_due);
CREATE INDEX IF NOT EXISTS escalations_ticket ON escalations (tenant, ticket_id, state);
"""


class EscalationConflict(RuntimeError):
    """The escalation changed since the agent saw it, or the change no longer applies to it."""


def escalation_id_for(job_id: str) -> str:
    return f"e-{job_id.removeprefix('j-')}"


@dataclass(frozen=True)
class Escalation:
    id: str
    tenant: str
    ticket_id: str
    job_id: str
    result_seq: int
    state: EscalationState
    reason: str
    priority: str | None
    subject: str
    summary: str
    suggested_team: str | None
    secondary_team: str | None
    packet: str
    source: str | None
    external_id: str | None
    first_response_due: str | None
    resolution_due: str | None
    at_risk: int
    created_at: str
    updated_at: str
    version: int
    acknowledged_by: str | None
    acknowledged_at: str | None
    assignee: str | None
    assigned_by: str | None
    assigned_at: str | None
    resolved_by: str | None
    resolved_at: str | None
    superseded_by: str | None

    def as_dict(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        out["packet"] = json.loads(self.packet)
        out["at_risk"] = bool(self.at_risk)
        return out


def _now() -> str:
    return datetime.now(UTC).isoformat()


_INHERITED = ("state", "acknowledged_by", "acknowledged_at", "assignee", "assigned_by", "assigned_at")


def insert_escalation(conn: Tx, job_id: str, result_seq: int, result: dict[str, Any]) -> str:
    """Open the escalation of a stored result (inside the caller's transaction); its ticket comes from the job."""
    escalation_id = escalation_id_for(job_id)
    packet, sla = result["escalation"], result.get("sla") or {}
    row = conn.execute("SELECT payload FROM jobs WHERE id = ?", (job_id,)).fetchone()
    payload = json.loads(row["payload"]) if row else {}
    extra = payload.get("extra") or {}
    job = {"subject": payload.get("subject"), "source": extra.get("source"), "external_id": extra.get("external_id")}
    previous = conn.execute(
        "SELECT * FROM escalations WHERE tenant = ? AND ticket_id = ? AND state IN ('open', 'acknowledged') "
        "ORDER BY created_at DESC LIMIT 1",
        (result["tenant"], result["ticket_id"]),
    ).fetchone()
    conn.execute(
        "UPDATE escalations SET state = 'superseded', superseded_by = ?, updated_at = ?, version = version + 1 "
        "WHERE tenant = ? AND ticket_id = ? AND state IN ('open', 'acknowledged')",
        (escalation_id, _now(), result["tenant"], result["ticket_id"]),
    )
    kept = {name: previous[name] for name in _INHERITED} if previous else {"state": "open"}
    values = {
        "id": escalation_id,
        "tenant": result["tenant"],
        "ticket_id": result["ticket_id"],
        "job_id": job_id,
        "result_seq": result_seq,
        "reason": packet["reason"],
        "priority": ((result.get("classification") or {}).get("priority") or {}).get("value") or sla.get("priority"),
        "subject": job["subject"] or result["ticket_id"],
        "summary": packet.get("summary") or "",
        "suggested_team": packet.get("suggested_team"),
        "secondary_team": packet.get("secondary_team"),
        "packet": json.dumps(packet, sort_keys=True),
        "source": job["source"],
        "external_id": job["external_id"],
        "first_response_due": sla.get("first_response_due"),
        "resolution_due": sla.get("resolution_due"),
        "at_risk": int(bool(sla.get("at_risk"))),
        "created_at": _now(),
        "updated_at": _now(),
        **kept,
    }
    names = ", ".join(values)
    conn.execute(f"INSERT INTO escalations ({names}) VALUES ({', '.join('?' for _ in values)})", tuple(values.values()))
    return escalation_id


def backfill_escalations(conn: Tx) -> int:
    """Open escalations for results stored before the table existed (service results only), oldest first."""
    rows = conn.execute(
        "SELECT seq, job_id, data FROM results WHERE action = 'escalate' AND job_id IS NOT NULL ORDER BY seq"
    ).fetchall()
    for row in rows:
        result = json.loads(row["data"])
        if result.get("escalation"):
            insert_escalation(conn, row["job_id"], row["seq"], result)
    return len(rows)


def _audit(conn: Tx, row: Any, event: str, detail: dict[str, Any]) -> None:
    conn.execute(
        "INSERT INTO audit (at, tenant, ticket_id, event, detail) VALUES (?, ?, ?, ?, ?)",
        (_now(), row["tenant"], row["ticket_id"], event, json.dumps({"escalation_id": row["id"], **detail},
                                                                    sort_keys=True)),
    )  # fmt: skip


def _why_not(row: Any) -> str:
    """Why an escalation can't take a change, naming who got there first."""
    name = row["id"]
    if row["state"] == "superseded":
        return f"escalation {name} was superseded by a newer triage of {row['ticket_id']} ({row['superseded_by']})"
    if row["state"] == "resolved":
        return f"escalation {name} was already resolved by {row['resolved_by']} at {row['resolved_at']}"
    return f"escalation {name} was already acknowledged by {row['acknowledged_by']} at {row['acknowledged_at']}"


class EscalationBook:
    """Reads and updates escalations over the history database's connection."""

    def __init__(self, history: History) -> None:
        self.history = history

    def get(self, escalation_id: str) -> Escalation | None:
        row = self.history.query_one("SELECT * FROM escalations WHERE id = ?", (escalation_id,))
        return Escalation(**dict(row)) if row else None

    def list(
        self,
        state: str | None = "active",
        tenant: str | None = None,
        reason: str | None = None,
        team: str | None = None,
        limit: int = 100,
    ) -> list[Escalation]:
        """The first response due soonest first: that is the escalation to pick up next."""
        query, params = "SELECT * FROM escalations WHERE 1 = 1", []
        if state == "active":
            query += f" AND state IN ({', '.join('?' for _ in ACTIVE_STATES)})"
            params += ACTIVE_STATES
        elif state and state != "all":
            query, params = query + " AND state = ?", [*params, state]
        for column, value in (("tenant", tenant), ("reason", reason)):
            if value:
                query, params = query + f" AND {column} = ?", [*params, value]
        if team:
            query, params = query + " AND (suggested_team = ? OR assignee = ?)", [*params, team, team]
        query += " ORDER BY first_response_due IS NULL, first_response_due, created_at LIMIT ?"
        return [Escalation(**dict(r)) for r in self.history.query(query, (*params, limit))]

    def teams(self, tenant: str | None = None) -> list[str]:
        """Teams and people escalations were suggested for or assigned to, and the review queues' names."""
        where = "WHERE tenant = ?" if tenant else ""
        params = (tenant,) * 4 if tenant else ()
        rows = self.history.query(
            f"SELECT suggested_team AS name FROM escalations {where} UNION SELECT secondary_team FROM escalations "
            f"{where} UNION SELECT assignee FROM escalations {where} UNION SELECT queue FROM reviews {where} "
            "ORDER BY name LIMIT 500",
            params,
        )
        return [row["name"] for row in rows if row["name"]]

    def acknowledge(self, escalation_id: str, by: str, version: int | None = None) -> Escalation:
        def change(conn: Tx, row: Any) -> dict[str, Any]:
            if row["state"] != "open":
                raise EscalationConflict(_why_not(row))
            conn.execute(
                "UPDATE escalations SET state = 'acknowledged', acknowledged_by = ?, acknowledged_at = ? WHERE id = ?",
                (by, _now(), escalation_id),
            )
            return {"by": by}

        return self._update(escalation_id, version, "escalation_acknowledged", change)

    def assign(self, escalation_id: str, assignee: str, by: str, version: int) -> Escalation:
        """Assign to a person or team; assigning an open escalation acknowledges it too."""

        def change(conn: Tx, row: Any) -> dict[str, Any]:
            if row["state"] not in ACTIVE_STATES:
                raise EscalationConflict(_why_not(row))
            conn.execute(
                "UPDATE escalations SET assignee = ?, assigned_by = ?, assigned_at = ?, state = 'acknowledged', "
                "acknowledged_by = COALESCE(acknowledged_by, ?), acknowledged_at = COALESCE(acknowledged_at, ?) "
                "WHERE id = ?",
                (assignee, by, _now(), by, _now(), escalation_id),
            )
            return {"by": by, "assignee": assignee, "previous_assignee": row["assignee"]}

        return self._update(escalation_id, version, "escalation_assigned", change)

    def resolve(self, escalation_id: str, by: str, version: int | None = None) -> Escalation:
        def change(conn: Tx, row: Any) -> dict[str, Any]:
            if row["state"] not in ACTIVE_STATES:
                raise EscalationConflict(_why_not(row))
            conn.execute(
                "UPDATE escalations SET state = 'resolved', resolved_by = ?, resolved_at = ? WHERE id = ?",
                (by, _now(), escalation_id),
            )
            return {"by": by}

        return self._update(escalation_id, version, "escalation_resolved", change)

    def _update(
        self, escalation_id: str, version: int | None, event: str,
        change: Callable[[Tx, Any], dict[str, Any]],
    ) -> Escalation:  # fmt: skip
        """Check the version the agent saw, apply `change`, bump the version and audit, in one transaction."""
        with self.history.transaction() as conn:
            row = conn.execute(
                "SELECT * FROM escalations WHERE id = ?" + self.history.db.for_update, (escalation_id,)
            ).fetchone()
            if row is None:
                raise KeyError(escalation_id)
            if version is not None and version != row["version"]:
                raise EscalationConflict(
                    f"escalation {escalation_id} changed since you loaded it (now version {row['version']}, "
                    f"yours {version}); reload it and try again"
                )
            detail = change(conn, row)
            conn.execute(
                "UPDATE escalations SET version = version + 1, updated_at = ? WHERE id = ?", (_now(), escalation_id)
            )
            _audit(conn, row, event, {**detail, "version": row["version"] + 1})
            updated = conn.execute("SELECT * FROM escalations WHERE id = ?", (escalation_id,)).fetchone()
            return Escalation(**dict(updated))

    def counts(self) -> dict[str, int]:
        rows = self.history.query("SELECT state, COUNT(*) AS n FROM escalations GROUP BY state", ())
        return {row["state"]: int(row["n"]) for row in rows}
