"""Feeds each stored triage result to the tenant's surge detector (insights/surge.py), after the job's own
transaction: the triage is done whatever happens here, so an insights failure is logged, never raised.

A proposal that opens is handed to `on_open` (the outbound incident notices, service/incident_notices.py); a
ticket joining an incident that is already open or accepted to `on_attach` (an accepted incident links it
and sends it the broadcast, service/incident_actions.py).
The window itself is read from the store under a per-tenant database lock (workers in other processes see
the same one); this process's lock guards the detector's caches, which its worker threads share.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from agent.schemas import TriageResult
from insights.series import aware
from insights.surge import SurgeDetector
from knowledge.incidents import Incident, Member, Observation
from knowledge.schemas import Ticket

log = logging.getLogger(__name__)

OnOpen = Callable[[Incident], object]
OnAttach = Callable[[Incident, Member], object]


def observation(ticket: Ticket, result: TriageResult, embedding: list[float]) -> Observation:
    category = result.classification.category.value if result.classification.category else None
    customer = ticket.customer
    return Observation(
        tenant=ticket.tenant, ticket_id=ticket.id, at=aware(result.triaged_at), vector=embedding,
        text=f"{ticket.subject}\n{ticket.body}"[:500], category=str(category) if category else None,
        customer_id=customer.id if customer else None, mrr=customer.mrr if customer else None,
    )  # fmt: skip


class SurgeFeed:
    def __init__(self, detector: SurgeDetector, on_open: OnOpen | None = None,
                 on_attach: OnAttach | None = None) -> None:  # fmt: skip
        self.detector = detector
        self.on_open = on_open
        self.on_attach = on_attach
        self._lock = threading.Lock()

    def observe(self, ticket: Ticket, result: TriageResult | None, embedding: list[float] | None) -> Incident | None:
        """The incident the ticket opened or joined, else None (also when anything here fails: logged)."""
        if result is None or not embedding:
            return None
        try:
            obs = observation(ticket, result, embedding)
            with self._lock:
                incident = self.detector.observe(obs)
            if incident is None:
                return None
            if incident.opened_at == obs.at:
                if self.on_open is not None:
                    self.on_open(incident)
            elif self.on_attach is not None:
                member = next((m for m in incident.members if m.ticket_id == obs.ticket_id), None)
                if member is not None:
                    self.on_attach(incident, member)
            return incident
        except Exception:  # insights must never fail the triage job that stored its result already
            log.exception("surge detection failed for %s/%s", ticket.tenant, ticket.id)
            return None
