"""The routing suggestion on the review page: who the reviewer may pick instead, and checking their pick.

The pick is stored like any corrected label: `labels[<routing_person_label>]` on approve or reject becomes a
`human_corrected` label on the ticket (agent.review.reviewed_labels). That label trains the next build of the
tenant's skill profiles (tools.routing.build) and never the classifier (TrainingOptions.exclude_fields).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from knowledge.labels import normalise_label
from service.roster_api import agent_view
from service.runtime import ServiceRuntime


def assignee_choices(runtime: ServiceRuntime, tenant: str) -> dict[str, Any]:
    """The label a pick is stored under and the tenant's active agents (its roster only), for the picker."""
    routing = runtime.components.routing
    load = routing.assignments.open_load(tenant)
    now = datetime.now(UTC)
    agents = [agent_view(a, load.get(a.id, 0), now) for a in routing.roster.agents(tenant)]
    return {"label": runtime.settings.routing_person_label, "agents": agents}


def check_assignee(runtime: ServiceRuntime, tenant: str, value: Any) -> str:
    """The picked agent's id; LabelError naming the label when it is not an active agent of this tenant."""
    known = {agent.id for agent in runtime.components.routing.roster.agents(tenant)}
    return normalise_label(runtime.settings.routing_person_label, value, known)
