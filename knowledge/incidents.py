"""Emerging-incident proposals and the observations that find them, in the history database.

`surge_observations` keeps each triaged ticket's vector (JSON), category, customer and time so a detector
in any process can rebuild its recent window; `incidents` holds proposals (open → accepted | dismissed, a
dismissal suppressing that cluster until `suppress_until`); `incident_members` the tickets attached. DDL
uses only types both engines share (TEXT, INTEGER, DOUBLE PRECISION), so the migration step runs as is.
Every read and write names the tenant.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal

import numpy as np
from pydantic import BaseModel, Field

from knowledge.db import Tx, named_lock

if TYPE_CHECKING:
    from knowledge.history import History

IncidentState = Literal["open", "accepted", "dismissed"]

INCIDENTS_SCHEMA = """
CREATE TABLE IF NOT EXISTS surge_observations (
    tenant TEXT NOT NULL,
    ticket_id TEXT NOT NULL,
    at TEXT NOT NULL,
    category TEXT,
    customer_id TEXT,
    mrr DOUBLE PRECISION,
    text TEXT NOT NULL,
    vector TEXT NOT NULL,
    PRIMARY KEY (tenant, ticket_id)
);
CREATE INDEX IF NOT EXISTS surge_observations_time ON surge_observations (tenant, at);
CREATE TABLE IF NOT EXISTS incidents (
    id TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    state TEXT NOT NULL,
    label TEXT NOT NULL,
    category TEXT,
    centroid TEXT NOT NULL,
    expected DOUBLE PRECISION NOT NULL,
    severity TEXT NOT NULL,
    first_seen TEXT NOT NULL,
    opened_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    decided_by TEXT,
    decided_at TEXT,
    suppress_until TEXT
);
CREATE INDEX IF NOT EXISTS incidents_tenant ON incidents (tenant, state, updated_at);
CREATE TABLE IF NOT EXISTS incident_members (
    incident_id TEXT NOT NULL,
    tenant TEXT NOT NULL,
    ticket_id TEXT NOT NULL,
    at TEXT NOT NULL,
    customer_id TEXT,
    mrr DOUBLE PRECISION,
    PRIMARY KEY (incident_id, ticket_id)
);
CREATE INDEX IF NOT EXISTS incident_members_ticket ON incident_members (tenant, ticket_id);
"""


def migrate_incidents(conn: Tx) -> None:
    """Databases made before incidents existed get the tables (the DDL is portable as written)."""
    for statement in (s.strip() for s in INCIDENTS_SCHEMA.split(";")):
        if statement:
            conn.execute(statement)


class Observation(BaseModel):
    tenant: str
    ticket_id: str
    at: datetime
    vector: list[float]
    text: str = ""
    category: str | None = None
    customer_id: str | None = None
    mrr: float | None = None


class Member(BaseModel):
    ticket_id: str
    at: datetime
    customer_id: str | None = None
    mrr: float | None = None


class Incident(BaseModel):
    id: str
    tenant: str
    state: IncidentState
    label: str
    category: str | None
    centroid: list[float] = Field(repr=False)
    expected: float
    severity: str
    first_seen: datetime
    opened_at: datetime
    updated_at: datetime
    decided_by: str | None = None
    decided_at: datetime | None = None
    suppress_until: datetime | None = None
    members: list[Member] = Field(default_factory=list)

    @property
    def customers(self) -> dict[str, float]:
        """Affected customers and their MRR (0 where unknown)."""
        out: dict[str, float] = {}
        for m in self.members:
            if m.customer_id:
                out[m.customer_id] = max(out.get(m.customer_id, 0.0), m.mrr or 0.0)
        return out

    @property
    def growth_per_hour(self) -> float:
        """Members per hour since the first one (the first quarter hour counts as a quarter hour)."""
        if not self.members:
            return 0.0
        span = (max(m.at for m in self.members) - self.first_seen).total_seconds() / 3600
        return round(len(self.members) / max(span, 0.25), 2)

    def summary(self) -> dict[str, object]:
        data = self.model_dump(mode="json", exclude={"centroid", "members"})
        customers = self.customers
        data.update(members=len(self.members), ticket_ids=[m.ticket_id for m in self.members],
                    customers=len(customers), mrr=round(sum(customers.values()), 2),
                    growth_per_hour=self.growth_per_hour)  # fmt: skip
        return data


@dataclass(frozen=True)
class Cluster:
    """What the surge detector matches an incident by."""

    id: str
    category: str | None
    updated_at: datetime
    suppress_until: datetime | None
    centroid: np.ndarray


class IncidentConflict(ValueError):
    """A decision on an incident that is not open (accepted or dismissed already)."""


def _iso(at: datetime) -> str:
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(UTC).isoformat()


_RECENT = "SELECT * FROM surge_observations WHERE tenant = ? AND at >= ? AND at < ? ORDER BY at DESC LIMIT ?"


def _observation(row: object) -> Observation:
    data = dict(row)  # type: ignore[call-overload]
    return Observation(**{**data, "vector": json.loads(data["vector"])})


class IncidentBook:
    """Observations, incidents and members for every tenant of one history database."""

    def __init__(self, history: History) -> None:
        self.history = history
        #: Unit centroids by incident id (immutable once stored), for the detector's hot path.
        self._centroids: dict[str, np.ndarray] = {}

    @contextmanager
    def locked(self, tenant: str) -> Iterator[Tx]:
        """One transaction holding the tenant's surge lock: detectors in any number of processes decide one
        ticket at a time per tenant, each seeing what the others committed (so a burst split across workers
        is counted whole and opens one incident)."""
        with self.history.transaction() as conn:
            named_lock(conn, self.history.db.dialect, f"surge:{tenant}")
            yield conn

    def observe(self, obs: Observation) -> None:
        with self.history.transaction() as conn:
            self.insert_observation(conn, obs)

    @staticmethod
    def insert_observation(conn: Tx, obs: Observation) -> None:
        conn.execute(
            "INSERT INTO surge_observations (tenant, ticket_id, at, category, customer_id, mrr, text, vector) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (tenant, ticket_id) DO NOTHING",
            (obs.tenant, obs.ticket_id, _iso(obs.at), obs.category, obs.customer_id, obs.mrr, obs.text[:500],
             json.dumps(np.round(np.asarray(obs.vector, dtype=float), 5).tolist())),
        )  # fmt: skip

    def observations(self, tenant: str, since: datetime, until: datetime, limit: int = 5000) -> list[Observation]:
        rows = self.history.query(_RECENT, (tenant, _iso(since), _iso(until), limit))
        return [_observation(r) for r in reversed(rows)]

    @staticmethod
    def recent(conn: Tx, tenant: str, since: datetime, until: datetime, limit: int,
               known: Mapping[str, Observation] | None = None) -> list[Observation]:  # fmt: skip
        """The newest `limit` observations in [since, until), oldest first; those in `known` (by ticket id)
        are reused rather than parsed again (a detector re-reads its window on every ticket)."""
        rows = conn.execute(_RECENT, (tenant, _iso(since), _iso(until), limit)).fetchall()
        known = known or {}
        return [known.get(r["ticket_id"]) or _observation(r) for r in reversed(rows)]

    @staticmethod
    def arrival_times(conn: Tx, tenant: str, since: datetime, until: datetime, limit: int) -> list[datetime]:
        """When the newest `limit` observations in [since, until) arrived (no vectors read)."""
        rows = conn.execute(
            "SELECT at FROM surge_observations WHERE tenant = ? AND at >= ? AND at < ? ORDER BY at DESC LIMIT ?",
            (tenant, _iso(since), _iso(until), limit),
        ).fetchall()
        return [datetime.fromisoformat(r[0]) for r in rows]

    def open(self, incident: Incident, members: list[Observation]) -> Incident:
        with self.history.transaction() as conn:
            self.insert_incident(conn, incident, members)
        return self.get(incident.tenant, incident.id)  # type: ignore[return-value]

    @classmethod
    def insert_incident(cls, conn: Tx, incident: Incident, members: list[Observation]) -> None:
        conn.execute(
            "INSERT INTO incidents (id, tenant, state, label, category, centroid, expected, severity, first_seen,"
            " opened_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (incident.id, incident.tenant, incident.state, incident.label, incident.category,
             json.dumps([round(v, 5) for v in incident.centroid]), incident.expected, incident.severity,
             _iso(incident.first_seen), _iso(incident.opened_at), _iso(incident.updated_at)),
        )  # fmt: skip
        for obs in members:
            cls._member(conn, incident.id, obs)

    @staticmethod
    def _member(conn: Tx, incident_id: str, obs: Observation) -> None:
        conn.execute(
            "INSERT INTO incident_members (incident_id, tenant, ticket_id, at, customer_id, mrr) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (incident_id, ticket_id) DO NOTHING",
            (incident_id, obs.tenant, obs.ticket_id, _iso(obs.at), obs.customer_id, obs.mrr),
        )

    def attach(self, tenant: str, incident_id: str, obs: Observation) -> None:
        with self.history.transaction() as conn:
            self.attach_in(conn, tenant, incident_id, obs)

    @classmethod
    def attach_in(cls, conn: Tx, tenant: str, incident_id: str, obs: Observation) -> None:
        cls._member(conn, incident_id, obs)
        conn.execute("UPDATE incidents SET updated_at = ? WHERE tenant = ? AND id = ?",
                     (_iso(obs.at), tenant, incident_id))  # fmt: skip

    def clusters_in(self, conn: Tx, tenant: str, states: tuple[str, ...], limit: int = 50) -> list[Cluster]:
        """The tenant's incidents in `states` (newest first) as this transaction sees them, as the detector
        matches them: no members, the centroid as a unit vector (parsed once per incident: it never changes)."""
        marks = ", ".join("?" for _ in states)
        rows = conn.execute(
            f"SELECT id, category, updated_at, suppress_until, centroid FROM incidents WHERE tenant = ? "
            f"AND state IN ({marks}) ORDER BY opened_at DESC LIMIT ?",
            (tenant, *states, limit),
        ).fetchall()
        out = []
        for r in rows:
            if (centroid := self._centroids.get(r["id"])) is None:
                vector = np.asarray(json.loads(r["centroid"]), dtype=np.float32)
                centroid = self._centroids[r["id"]] = vector / max(float(np.linalg.norm(vector)), 1e-12)
            until = datetime.fromisoformat(r["suppress_until"]) if r["suppress_until"] else None
            updated = datetime.fromisoformat(r["updated_at"])
            out.append(Cluster(r["id"], r["category"], updated, until, centroid))
        return out

    def get(self, tenant: str, incident_id: str) -> Incident | None:
        row = self.history.query_one("SELECT * FROM incidents WHERE tenant = ? AND id = ?", (tenant, incident_id))
        return self._incident(row) if row else None

    def list(self, tenant: str, states: tuple[str, ...] = ("open", "accepted", "dismissed"),
             limit: int = 200, with_members: bool = True) -> list[Incident]:  # fmt: skip
        marks = ", ".join("?" for _ in states)
        rows = self.history.query(
            f"SELECT * FROM incidents WHERE tenant = ? AND state IN ({marks}) ORDER BY opened_at DESC LIMIT ?",
            (tenant, *states, limit),
        )
        return [self._incident(r, with_members) for r in rows]

    def _incident(self, row: object, with_members: bool = True) -> Incident:
        data = dict(row)  # type: ignore[call-overload]
        if not with_members:
            return Incident(**{**data, "centroid": json.loads(data["centroid"])})
        members = self.history.query(
            "SELECT ticket_id, at, customer_id, mrr FROM incident_members WHERE tenant = ? AND incident_id = ? "
            "ORDER BY at, ticket_id",
            (data["tenant"], data["id"]),
        )
        return Incident(**{**data, "centroid": json.loads(data["centroid"]), "members": [dict(m) for m in members]})

    def member_texts(self, tenant: str, incident_id: str, limit: int = 5) -> list[str]:
        """The first members' texts (subject and body, as observed), the earliest first."""
        rows = self.history.query(
            "SELECT o.text FROM incident_members m JOIN surge_observations o ON o.tenant = m.tenant AND "
            "o.ticket_id = m.ticket_id WHERE m.tenant = ? AND m.incident_id = ? ORDER BY m.at, m.ticket_id LIMIT ?",
            (tenant, incident_id, limit),
        )
        return [str(r["text"]) for r in rows]

    def decide(self, tenant: str, incident_id: str, state: Literal["accepted", "dismissed"], by: str | None,
               at: datetime, suppress_until: datetime | None = None) -> Incident:  # fmt: skip
        """Accept or dismiss an open incident (IncidentConflict otherwise; KeyError when the tenant has none)."""
        with self.history.transaction() as conn:
            row = conn.execute(
                "SELECT state FROM incidents WHERE tenant = ? AND id = ?" + self.history.db.for_update,
                (tenant, incident_id),
            ).fetchone()
            if row is None:
                raise KeyError(incident_id)
            if row[0] != "open":
                raise IncidentConflict(f"incident {incident_id} is {row[0]} already")
            conn.execute(
                "UPDATE incidents SET state = ?, decided_by = ?, decided_at = ?, suppress_until = ?, updated_at = ? "
                "WHERE tenant = ? AND id = ?",
                (state, by, _iso(at), _iso(suppress_until) if suppress_until else None, _iso(at), tenant,
                 incident_id),
            )  # fmt: skip
        return self.get(tenant, incident_id)  # type: ignore[return-value]


def new_incident_id() -> str:
    return f"inc-{uuid.uuid4().hex[:12]}"
