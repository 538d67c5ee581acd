"""Rebuild each tenant's skill profiles from the history tickets that name their resolver, and store them."""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Sequence
from datetime import UTC, datetime

import numpy as np

from knowledge.embeddings import Embedder
from knowledge.history import History
from knowledge.roster import save_profiles
from knowledge.schemas import Ticket
from knowledge.store import KnowledgeStore
from knowledge.text import ticket_model_text
from tools.routing.profiles import build_profiles

EMBED_BATCH = 64


def build_tenant_profiles(
    history: History,
    store: KnowledgeStore,
    embedder: Embedder,
    person_label: str,
    half_life_days: float,
    tenants: Collection[str] | None = None,
) -> dict[str, int]:
    """Resolutions profiled per tenant (`tenants`, or every one; tenants without any get none); each tenant's
    profiles replace its old ones in the history database, where every process picks them up."""
    by_tenant: dict[str, list[Ticket]] = {}
    for ticket in history.all_tickets():
        if tenants is not None and ticket.tenant not in tenants:
            continue
        if ticket.trainable_labels().get(person_label):
            by_tenant.setdefault(ticket.tenant, []).append(ticket)
    counts: dict[str, int] = {}
    for tenant, tickets in by_tenant.items():
        counts[tenant] = store_tenant_profiles(history, store, embedder, tenant, tickets, person_label, half_life_days)
    history.audit("routing_profiles", {"tenants": counts})
    return counts


def store_tenant_profiles(
    history: History,
    store: KnowledgeStore,
    embedder: Embedder,
    tenant: str,
    tickets: Sequence[Ticket],
    person_label: str,
    half_life_days: float,
) -> int:
    """Profile `tenant` from exactly `tickets` (those naming their person) and store them as its newest version.

    Vectors come from the store where it holds the ticket, else from `embedder`."""
    tickets = [t for t in tickets if t.trainable_labels().get(person_label)]
    if not tickets:
        return 0
    stored = {ticket_id: vector for _, ticket_id, vector in store.ticket_embeddings(tenant)}
    missing = [t for t in tickets if t.id not in stored]
    for start in range(0, len(missing), EMBED_BATCH):
        batch = missing[start : start + EMBED_BATCH]
        stored.update(zip((t.id for t in batch), embedder.embed([ticket_model_text(t) for t in batch]), strict=True))
    escalated = {
        row["ticket_id"]
        for row in history.query(
            "SELECT DISTINCT ticket_id FROM results WHERE tenant = ? AND action = 'escalate'", (tenant,)
        )
    }
    profiles = build_profiles(
        tenant,
        tickets,
        np.vstack([stored[t.id] for t in tickets]),
        texts=[ticket_model_text(t) for t in tickets],
        person_label=person_label,
        half_life_days=half_life_days,
        escalated=escalated,
    )
    data = profiles.to_bytes()
    version = f"rp-{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{hashlib.sha256(data).hexdigest()[:8]}"
    save_profiles(history, tenant, version, data)
    return len(tickets)
