"""Skill profiles from resolution history, one set per tenant: who resolved what, how recently, how fast.

Every resolved history ticket that names its resolver (the person label, `assignee` by default)
is evidence about that person, weighted by recency: a resolution `half_life_days` old counts half
as much as one today (today = the newest resolution in the tenant's history, so a profile means the
same whenever it is read). Recency is the signal static classifiers miss: people change teams,
go on leave and leave; last year's expert on a component is often not this year's.

A profile keeps, per tenant:

* the embeddings of the resolved tickets with their resolver and recency weight (kNN over the
  person's own tickets: "who resolved tickets like this one, lately");
* a recency-weighted linear text model over the recently active people (tools.routing.text_model);
* recency-weighted counts per label value (queue, category, tags/components) per person;
* per person: resolutions, recency-weighted activity, last resolution, median hours created →
  resolved (all and recent), reopen and escalation rates where the history records them, and
  the languages of the tickets they resolved.

Profiles never mix tenants: `build_profiles` takes one tenant's tickets; they are stored per tenant.
"""

from __future__ import annotations

import io
import math
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from statistics import median

import joblib
import numpy as np
from pydantic import BaseModel

from knowledge.schemas import Ticket
from tools.routing.text_model import TextModel

FORMAT_VERSION = 2
#: The label fields whose values are skills (tags, e.g. Jira components, count as one more field).
SKILL_FIELDS: tuple[str, ...] = ("queue", "category", "type", "tags")
#: How many of a person's latest resolutions "recent speed" looks at.
RECENT_RESOLUTIONS = 20
#: Recency-weighted resolutions (~ resolutions at today's rate) a person needs to enter the text model.
MIN_ACTIVITY = 0.3
_DAY_S = 86400.0


class ProfileError(RuntimeError):
    """A stored profile that cannot be read (missing, or written by another format version)."""


class AgentProfile(BaseModel):
    agent_id: str
    resolved: int
    #: Sum of recency weights of their resolutions: ~ "resolutions at today's rate".
    activity: float
    first_resolved_at: datetime | None
    last_resolved_at: datetime | None
    median_hours: float | None = None
    recent_median_hours: float | None = None
    reopen_rate: float | None = None
    escalation_rate: float | None = None
    #: field -> value -> recency-weighted resolutions (the strongest few are shown by `agents show`).
    skills: dict[str, dict[str, float]]
    languages: dict[str, int]


@dataclass
class TenantProfiles:
    tenant: str
    person_label: str
    half_life_days: float
    #: The newest resolution time (UTC epoch days): recency weights are relative to it.
    as_of: float
    agents: dict[str, AgentProfile]
    names: list[str]  # agent ids, indexed by `owner`
    owner: np.ndarray  # (n,) int32: which person resolved each ticket
    weight: np.ndarray  # (n,) float32 recency weight of each resolution
    embeddings: np.ndarray  # (n, d) float32, L2-normalised
    #: field -> value -> {agent index: recency-weighted count}
    label_weights: dict[str, dict[str, dict[int, float]]] = field(default_factory=dict)
    tenant_median_hours: float | None = None
    text_model: TextModel | None = None

    @property
    def activity(self) -> np.ndarray:
        """Recency-weighted resolutions per person, indexed like `names`."""
        return np.bincount(self.owner, weights=self.weight, minlength=len(self.names)).astype(np.float64)

    def index(self) -> dict[str, int]:
        return {name: i for i, name in enumerate(self.names)}

    # --- storage: bytes in the history database (knowledge.roster), so every process and host reads them ---
    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        joblib.dump({"format_version": FORMAT_VERSION, "profiles": self}, buffer, compress=3)
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes, tenant: str) -> TenantProfiles:
        try:
            state = joblib.load(io.BytesIO(data))
        except Exception as exc:  # truncated, or unpicklable under other library versions
            raise ProfileError(f"the routing profiles of tenant {tenant!r} cannot be read: {exc}") from exc
        profiles = state.get("profiles") if isinstance(state, dict) else None
        if state.get("format_version") != FORMAT_VERSION or not isinstance(profiles, cls) or profiles.tenant != tenant:
            raise ProfileError(f"the routing profiles of tenant {tenant!r} were written by another Caseworker version")
        return profiles


def _epoch_days(value: datetime) -> float:
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp() / _DAY_S


def _parse_time(value: object) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()[:40].replace("Z", "+00:00")
    # Jira writes offsets without a colon (+0000); fromisoformat wants +00:00.
    text = re.sub(r"([+-]\d{2})(\d{2})$", r"\1:\2", text)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def resolved_at(ticket: Ticket) -> datetime | None:
    """When the ticket was resolved, if the history says (`extra.resolved_at`, from the import mapping)."""
    return _parse_time(ticket.extra.get("resolved_at"))


def _reopened(value: object) -> bool | None:
    """`extra.reopened` (true/false) or `extra.reopens` (a count), where the history records it."""
    if value is None or str(value).strip() == "":
        return None
    text = str(value).strip().lower()
    return text in {"true", "yes"} or (text.isdigit() and int(text) > 0)


def skill_values(ticket: Ticket) -> dict[str, list[str]]:
    """The skill-bearing values of a ticket: its queue/category/type labels and its tags."""
    out = {name: [ticket.labels[name]] for name in SKILL_FIELDS if name != "tags" and name in ticket.labels}
    if ticket.tags:
        out["tags"] = list(dict.fromkeys(tag.strip().lower() for tag in ticket.tags if tag.strip()))
    return out


@dataclass
class _Resolution:
    agent: int
    at: float
    hours: float | None
    reopened: bool | None
    escalated: bool | None
    language: str | None
    skills: dict[str, list[str]]


def _resolutions(
    tickets: Sequence[Ticket], person_label: str, escalated: set[str], index: dict[str, int]
) -> list[_Resolution]:
    out = []
    for ticket in tickets:
        created, done = ticket.created_at, resolved_at(ticket)
        when = done or created
        hours = None
        if created is not None and done is not None and done >= _aware(created):
            hours = (done - _aware(created)).total_seconds() / 3600
        out.append(
            _Resolution(
                agent=index.setdefault(ticket.labels[person_label], len(index)),
                at=_epoch_days(when) if when is not None else math.nan,
                hours=hours,
                reopened=_reopened(ticket.extra.get("reopened", ticket.extra.get("reopens"))),
                escalated=(ticket.id in escalated) if escalated else None,
                language=(ticket.language or "").lower() or None,
                skills=skill_values(ticket),
            )
        )
    return out


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _rate(values: list[bool | None]) -> float | None:
    known = [v for v in values if v is not None]
    return round(sum(known) / len(known), 4) if known else None


def build_profiles(
    tenant: str,
    tickets: Sequence[Ticket],
    embeddings: np.ndarray,
    *,
    texts: Sequence[str] | None = None,
    person_label: str = "assignee",
    half_life_days: float = 180.0,
    escalated: set[str] | None = None,
) -> TenantProfiles:
    """Profiles from one tenant's resolved tickets that carry `person_label`; rows of `embeddings` and
    `texts` (the text the embedder saw; None: no text model) align with `tickets`."""
    if any(t.tenant != tenant for t in tickets):
        raise ValueError("build_profiles takes the tickets of one tenant only")
    index: dict[str, int] = {}
    found = _resolutions(tickets, person_label, escalated or set(), index)
    names = sorted(index, key=index.__getitem__)
    times = np.array([r.at for r in found], dtype=np.float64)
    known = times[~np.isnan(times)]
    as_of = float(known.max()) if known.size else _epoch_days(datetime.now(UTC))
    # Undated resolutions count as old as the oldest dated one: evidence, but never "recent".
    times = np.where(np.isnan(times), known.min() if known.size else as_of, times)
    weight = np.power(0.5, (as_of - times) / half_life_days).astype(np.float32)
    label_weights: dict[str, dict[str, dict[int, float]]] = defaultdict(lambda: defaultdict(dict))
    per_agent: dict[int, list[int]] = defaultdict(list)
    for j, r in enumerate(found):
        per_agent[r.agent].append(j)
        for name, values in r.skills.items():
            for value in values:
                owners = label_weights[name][value]
                owners[r.agent] = owners.get(r.agent, 0.0) + float(weight[j])
    hours_all = [r.hours for r in found if r.hours is not None]
    dated = np.array([r.at for r in found], dtype=np.float64)
    agents = {
        names[a]: _agent_profile(names[a], [found[j] for j in rows], weight[rows], dated[rows])
        for a, rows in per_agent.items()
    }
    owner = np.array([r.agent for r in found], dtype=np.int32)
    activity = np.bincount(owner, weights=weight, minlength=len(names)) if len(found) else np.zeros(len(names))
    text_model = TextModel.train(texts, owner, weight, activity, MIN_ACTIVITY) if texts is not None else None
    return TenantProfiles(
        tenant=tenant,
        person_label=person_label,
        half_life_days=half_life_days,
        as_of=as_of,
        agents=agents,
        names=names,
        owner=owner,
        weight=weight,
        embeddings=np.asarray(embeddings, dtype=np.float32).reshape(len(found), -1),
        label_weights={f: dict(v) for f, v in label_weights.items()},
        tenant_median_hours=round(median(hours_all), 2) if hours_all else None,
        text_model=text_model,
    )


def _day(value: float) -> datetime | None:
    return None if math.isnan(value) else datetime.fromtimestamp(value * _DAY_S, UTC)


def _agent_profile(agent_id: str, rows: list[_Resolution], weight: np.ndarray, times: np.ndarray) -> AgentProfile:
    """`times` are epoch days, NaN where the history gives no date."""
    order = np.argsort(np.nan_to_num(times, nan=-np.inf))
    hours = [rows[i].hours for i in order if rows[i].hours is not None]
    skills: dict[str, dict[str, float]] = defaultdict(dict)
    languages: dict[str, int] = defaultdict(int)
    for r, w in zip(rows, weight, strict=True):
        for name, values in r.skills.items():
            for value in values:
                skills[name][value] = round(skills[name].get(value, 0.0) + float(w), 4)
        if r.language:
            languages[r.language] += 1
    return AgentProfile(
        agent_id=agent_id,
        resolved=len(rows),
        activity=round(float(weight.sum()), 4),
        first_resolved_at=_day(float(np.nanmin(times))) if not np.isnan(times).all() else None,
        last_resolved_at=_day(float(np.nanmax(times))) if not np.isnan(times).all() else None,
        median_hours=round(median(hours), 2) if hours else None,
        recent_median_hours=round(median(hours[-RECENT_RESOLUTIONS:]), 2) if hours else None,
        reopen_rate=_rate([r.reopened for r in rows]),
        escalation_rate=_rate([r.escalated for r in rows]),
        skills={name: dict(values) for name, values in skills.items()},
        languages=dict(languages),
    )
