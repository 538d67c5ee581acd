"""Trained models per tenant, versioned, in the history database: candidates, the champion, the past.

The model itself is stored as bytes next to its report, so every process on the data dir (and, with a
shared database, every host) loads the same version without a shared filesystem. This module knows
nothing of how a model is built or serialised; `agent.training` and `agent.model_provider` do.

States: `candidate` (trained, not serving: the gate refused it or promotion was not asked for),
`champion` (serving; at most one per tenant, enforced by a partial unique index), `retired` (served
before). Promotion and rollback are audited.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from knowledge.history import History

ModelState = Literal["candidate", "champion", "retired"]

MODELS_SCHEMA = """
CREATE TABLE IF NOT EXISTS models (
    version TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    state TEXT NOT NULL,
    created_at TEXT NOT NULL,
    promoted_at TEXT,
    n_train INTEGER NOT NULL,
    report TEXT NOT NULL,
    data BLOB
);
CREATE INDEX IF NOT EXISTS models_tenant ON models (tenant, created_at);
CREATE UNIQUE INDEX IF NOT EXISTS models_one_champion ON models (tenant) WHERE state = 'champion';
"""


class RegistryError(ValueError):
    """A promotion or rollback that cannot be done; the message says why."""


@dataclass(frozen=True)
class ModelRecord:
    version: str
    tenant: str
    state: ModelState
    created_at: str
    promoted_at: str | None
    n_train: int
    report: dict[str, Any]
    has_data: bool

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _now() -> str:
    return datetime.now(UTC).isoformat()


_COLUMNS = "version, tenant, state, created_at, promoted_at, n_train, report, data IS NOT NULL AS has_data"


def _record(row: Any) -> ModelRecord:
    return ModelRecord(
        version=row["version"],
        tenant=row["tenant"],
        state=row["state"],
        created_at=row["created_at"],
        promoted_at=row["promoted_at"],
        n_train=int(row["n_train"]),
        report=json.loads(row["report"]),
        has_data=bool(row["has_data"]),
    )


class ModelRegistry:
    def __init__(self, history: History, keep: int = 5) -> None:
        self.history = history
        #: Model bytes kept per tenant (the newest versions, plus the champion); older rows keep their report.
        self.keep = keep

    # --- reading ---------------------------------------------------------------------------------
    def list(self, tenant: str | None = None) -> list[ModelRecord]:
        query, params = f"SELECT {_COLUMNS} FROM models", ()
        if tenant is not None:
            query, params = query + " WHERE tenant = ?", (tenant,)
        return [_record(r) for r in self.history.query(query + " ORDER BY tenant, created_at DESC", params)]

    def get(self, version: str) -> ModelRecord | None:
        row = self.history.query_one(f"SELECT {_COLUMNS} FROM models WHERE version = ?", (version,))
        return _record(row) if row else None

    def champion(self, tenant: str) -> ModelRecord | None:
        row = self.history.query_one(
            f"SELECT {_COLUMNS} FROM models WHERE tenant = ? AND state = 'champion'", (tenant,)
        )
        return _record(row) if row else None

    def champion_version(self, tenant: str) -> str | None:
        """The one cheap query every triage makes: hot reload compares this with what it holds."""
        row = self.history.query_one("SELECT version FROM models WHERE tenant = ? AND state = 'champion'", (tenant,))
        return str(row["version"]) if row else None

    def data(self, version: str) -> bytes | None:
        row = self.history.query_one("SELECT data FROM models WHERE version = ?", (version,))
        return bytes(row["data"]) if row and row["data"] is not None else None

    def tenants(self) -> list[str]:
        return [str(r["tenant"]) for r in self.history.query("SELECT DISTINCT tenant FROM models ORDER BY 1", ())]

    # --- writing ---------------------------------------------------------------------------------
    def add(self, version: str, tenant: str, n_train: int, report: dict[str, Any], data: bytes) -> ModelRecord:
        with self.history.transaction() as conn:
            conn.execute(
                "INSERT INTO models (version, tenant, state, created_at, n_train, report, data) "
                "VALUES (?, ?, 'candidate', ?, ?, ?, ?)",
                (version, tenant, _now(), n_train, json.dumps(report, sort_keys=True), data),
            )
            self._prune(conn, tenant)
        record = self.get(version)
        assert record is not None
        return record

    def update_report(self, version: str, report: dict[str, Any]) -> None:
        with self.history.transaction() as conn:
            conn.execute(
                "UPDATE models SET report = ? WHERE version = ?", (json.dumps(report, sort_keys=True), version)
            )

    def promote(self, version: str, reason: str, actor: str = "gate") -> ModelRecord:
        """Make `version` its tenant's champion; the current one retires. Audited."""
        with self.history.transaction() as conn:
            row = conn.execute("SELECT tenant, state, data IS NOT NULL AS has_data FROM models WHERE version = ?",
                               (version,)).fetchone()  # fmt: skip
            if row is None:
                raise RegistryError(f"no model {version}")
            if row["state"] == "champion":
                raise RegistryError(f"{version} is already the champion of tenant {row['tenant']!r}")
            if not row["has_data"]:
                raise RegistryError(f"{version} was pruned (only its report is kept): train again")
            tenant = row["tenant"]
            previous = conn.execute(
                "SELECT version FROM models WHERE tenant = ? AND state = 'champion'", (tenant,)
            ).fetchone()
            conn.execute("UPDATE models SET state = 'retired' WHERE tenant = ? AND state = 'champion'", (tenant,))
            conn.execute("UPDATE models SET state = 'champion', promoted_at = ? WHERE version = ?", (_now(), version))
            detail = {"version": version, "previous": previous["version"] if previous else None, "reason": reason,
                      "actor": actor}  # fmt: skip
            conn.execute(
                "INSERT INTO audit (at, tenant, ticket_id, event, detail) VALUES (?, ?, NULL, 'model_promoted', ?)",
                (_now(), tenant, json.dumps(detail, sort_keys=True)),
            )
        record = self.get(version)
        assert record is not None
        return record

    def rollback(self, tenant: str, actor: str = "cli") -> ModelRecord:
        """Restore the champion that served before the current one (the newest retired model with bytes)."""
        current = self.champion(tenant)
        if current is None:
            raise RegistryError(f"tenant {tenant!r} has no champion to roll back")
        row = self.history.query_one(
            "SELECT version FROM models WHERE tenant = ? AND state = 'retired' AND promoted_at IS NOT NULL "
            "AND data IS NOT NULL ORDER BY promoted_at DESC LIMIT 1",
            (tenant,),
        )
        if row is None:
            raise RegistryError(f"tenant {tenant!r} has no earlier champion to roll back to")
        return self.promote(str(row["version"]), reason=f"rollback from {current.version}", actor=actor)

    def _prune(self, conn: Any, tenant: str) -> None:
        """Drop the bytes of all but the newest `keep` versions of the tenant (never the champion's)."""
        conn.execute(
            "UPDATE models SET data = NULL WHERE tenant = ? AND state != 'champion' AND data IS NOT NULL AND version "
            "NOT IN (SELECT version FROM models WHERE tenant = ? ORDER BY created_at DESC LIMIT ?)",
            (tenant, tenant, self.keep),
        )
