"""The roster: the people tickets can be routed to, per tenant, in the history database.

An agent has our id, a display name, an e-mail, their own id in each helpdesk (so an assignment
event from Zendesk or Jira finds them), the teams/queues they work, declared skills and languages,
a capacity (max open tickets), working hours in their time zone, and a seniority flag for VIP
routing. `caseworker agents import` fills it (see knowledge.roster_import); the routing step reads it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import UTC, datetime, time
from typing import TYPE_CHECKING, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

from knowledge.schemas import DEFAULT_TENANT

if TYPE_CHECKING:
    from knowledge.history import History

Helpdesk = Literal["zendesk", "jira", "freshdesk", "intercom"]
HELPDESKS: tuple[str, ...] = ("zendesk", "jira", "freshdesk", "intercom")
DAY_NAMES: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

ROSTER_SCHEMA = """
CREATE TABLE IF NOT EXISTS agents (
    tenant TEXT NOT NULL,
    id TEXT NOT NULL,
    data TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (tenant, id)
);
CREATE TABLE IF NOT EXISTS routing_profiles (
    tenant TEXT PRIMARY KEY,
    version TEXT NOT NULL,
    built_at TEXT NOT NULL,
    data BLOB NOT NULL
);
"""

_HOURS = re.compile(
    r"^\s*(?P<days>[A-Za-z]{3}(?:\s*-\s*[A-Za-z]{3})?(?:\s*,\s*[A-Za-z]{3}(?:\s*-\s*[A-Za-z]{3})?)*)\s+"
    r"(?P<start>\d{1,2}:\d{2})\s*-\s*(?P<end>\d{1,2}:\d{2})\s*$"
)
_LANGUAGE = re.compile(r"^[a-z]{2,3}$")


def _days(spec: str) -> list[int]:
    """`Mon-Fri`, `Sat,Sun`, `Sun-Thu` (wrapping) → weekday numbers, Monday = 0."""
    days: list[int] = []
    for part in spec.split(","):
        first, _, last = (p.strip().lower() for p in part.partition("-"))
        for name in (first, last or first):
            if name not in DAY_NAMES:
                raise ValueError(f"unknown day {name!r} (use {', '.join(d.title() for d in DAY_NAMES)})")
        start, end = DAY_NAMES.index(first), DAY_NAMES.index(last or first)
        days.extend((start + i) % 7 for i in range((end - start) % 7 + 1))
    return sorted(set(days))


def _clock(value: str) -> time:
    hours, _, minutes = value.partition(":")
    if not (0 <= int(hours) <= 24 and 0 <= int(minutes) < 60) or (int(hours) == 24 and int(minutes)):
        raise ValueError(f"{value!r} is not a time of day (HH:MM)")
    return time(0, 0) if int(hours) == 24 else time(int(hours), int(minutes))


class WorkingHours(BaseModel):
    """When an agent works, in their own time zone. A shift whose end is before its start runs past midnight
    (it belongs to the day it starts on); start == end means the whole day."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    timezone: str
    days: tuple[int, ...] = Field(min_length=1)
    start: time
    end: time

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value.strip())
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (an IANA name such as Europe/Berlin)") from None
        return value.strip()

    @field_validator("days")
    @classmethod
    def _weekdays(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if any(day not in range(7) for day in value):
            raise ValueError("days are weekday numbers 0 (Monday) to 6 (Sunday)")
        return tuple(sorted(set(value)))

    @classmethod
    def parse(cls, spec: str, timezone: str) -> WorkingHours:
        """`Mon-Fri 09:00-17:00` (or `Sun-Thu 22:00-06:00`) in the given IANA time zone."""
        match = _HOURS.match(spec[:200])
        if match is None:
            raise ValueError(f"{spec[:60]!r} does not look like 'Mon-Fri 09:00-17:00'")
        return cls(
            timezone=timezone,
            days=tuple(_days(match["days"])),
            start=_clock(match["start"]),
            end=_clock(match["end"]),
        )

    def on_shift(self, at: datetime) -> bool:
        local = (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(ZoneInfo(self.timezone))
        day, now = local.weekday(), local.time().replace(tzinfo=None)
        if self.start == self.end:
            return day in self.days
        if self.start < self.end:
            return day in self.days and self.start <= now < self.end
        # Overnight: the evening part belongs to today's shift, the early-morning part to yesterday's.
        return (day in self.days and now >= self.start) or ((day - 1) % 7 in self.days and now < self.end)

    def describe(self) -> str:
        days = ",".join(DAY_NAMES[d].title() for d in self.days)
        return f"{days} {self.start:%H:%M}-{self.end:%H:%M} {self.timezone}"


def _text_list(value: Any) -> Any:
    """Lists arrive as JSON arrays or as `a; b` / `a, b` cells."""
    if isinstance(value, str):
        return [part.strip() for part in re.split(r"[;,]", value) if part.strip()]
    return value


class Agent(BaseModel):
    """One person tickets can be routed to."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1)
    tenant: str = DEFAULT_TENANT
    name: str = Field(min_length=1)
    email: str | None = None
    #: This person's id in each helpdesk: Zendesk user id, Jira accountId, Freshdesk agent id, Intercom admin id.
    helpdesk_ids: dict[Helpdesk, str] = Field(default_factory=dict)
    #: Teams or queues this person works (the routing step's team, and the on-call/specialist group).
    teams: list[str] = Field(default_factory=list)
    #: Declared skills: categories, queues, components or tags this person handles.
    skills: list[str] = Field(default_factory=list)
    #: ISO 639-1 codes this person answers in; empty means unknown (never a mismatch).
    languages: list[str] = Field(default_factory=list)
    #: Max open tickets; None means no limit was declared.
    capacity: int | None = Field(default=None, ge=0)
    hours: WorkingHours | None = None
    #: Marked senior: the routing policy may reserve VIP / high-MRR accounts for these people.
    senior: bool = False
    active: bool = True

    @field_validator("id", "tenant", "name")
    @classmethod
    def _strip(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("must not be empty")
        return value

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        value = value.strip()
        if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", value[:320]):
            raise ValueError(f"{value[:60]!r} is not an e-mail address")
        return value

    @field_validator("teams", "skills", "languages", mode="before")
    @classmethod
    def _lists(cls, value: Any) -> Any:
        return _text_list(value)

    @field_validator("languages")
    @classmethod
    def _language_codes(cls, value: list[str]) -> list[str]:
        codes = [code.strip().lower() for code in value]
        bad = [code for code in codes if not _LANGUAGE.match(code)]
        if bad:
            raise ValueError(f"{bad[0]!r} is not an ISO 639-1 language code (e.g. en, de)")
        return list(dict.fromkeys(codes))

    @field_validator("helpdesk_ids")
    @classmethod
    def _ids(cls, value: dict[str, str]) -> dict[str, str]:
        return {k: str(v).strip() for k, v in value.items() if str(v).strip()}

    def on_shift(self, at: datetime) -> bool:
        """No declared hours means always available."""
        return self.hours is None or self.hours.on_shift(at)


def _now() -> str:
    return datetime.now(UTC).isoformat()


class Roster:
    """The agents of every tenant, in the history database; every read names its tenant."""

    def __init__(self, history: History) -> None:
        self.history = history

    def upsert(self, agents: Sequence[Agent]) -> tuple[int, int]:
        """Insert or replace by (tenant, id) in one transaction; returns (new, updated)."""
        new = updated = 0
        with self.history.transaction() as conn:
            for agent in agents:
                exists = conn.execute(
                    "SELECT 1 FROM agents WHERE tenant = ? AND id = ?", (agent.tenant, agent.id)
                ).fetchone()
                conn.execute(
                    "INSERT INTO agents (tenant, id, data, updated_at) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT (tenant, id) DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at",
                    (agent.tenant, agent.id, agent.model_dump_json(), _now()),
                )
                updated += exists is not None
                new += exists is None
        return new, updated

    def agents(self, tenant: str, *, active_only: bool = True) -> list[Agent]:
        rows = self.history.query("SELECT data FROM agents WHERE tenant = ? ORDER BY id", (tenant,))
        agents = [Agent.model_validate(json.loads(row["data"])) for row in rows]
        return [a for a in agents if a.active or not active_only]

    def get(self, tenant: str, agent_id: str) -> Agent | None:
        row = self.history.query_one("SELECT data FROM agents WHERE tenant = ? AND id = ?", (tenant, agent_id))
        return Agent.model_validate(json.loads(row["data"])) if row else None

    def find(self, tenant: str, helpdesk: str, external_id: str) -> Agent | None:
        """The agent whose id in `helpdesk` is `external_id` (assignment events name people this way)."""
        for agent in self.agents(tenant, active_only=False):
            if agent.helpdesk_ids.get(helpdesk) == external_id:  # type: ignore[call-overload]
                return agent
        return None

    def tenants(self) -> list[str]:
        return [row["tenant"] for row in self.history.query("SELECT DISTINCT tenant FROM agents ORDER BY tenant", ())]


# --- skill profiles: built by tools.routing from resolution history, stored here as bytes ------------------
def save_profiles(history: History, tenant: str, version: str, data: bytes) -> None:
    with history.transaction() as conn:
        conn.execute(
            "INSERT INTO routing_profiles (tenant, version, built_at, data) VALUES (?, ?, ?, ?) ON CONFLICT (tenant) "
            "DO UPDATE SET version = excluded.version, built_at = excluded.built_at, data = excluded.data",
            (tenant, version, datetime.now(UTC).isoformat(), data),
        )


def profiles_version(history: History, tenant: str) -> str | None:
    row = history.query_one("SELECT version FROM routing_profiles WHERE tenant = ?", (tenant,))
    return str(row["version"]) if row else None


def profiles_data(history: History, tenant: str) -> tuple[str, bytes] | None:
    row = history.query_one("SELECT version, data FROM routing_profiles WHERE tenant = ?", (tenant,))
    return (str(row["version"]), bytes(row["data"])) if row else None
