"""The graph's route step: a routing block from the tenant's own roster and profiles, none without a roster,
and no tenant ever sees another tenant's people or resolution history."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent.graph import triage
from agent.schemas import SCHEMA_VERSION, TriageResult
from caseworker.cli import app
from config.components import Components
from config.settings import Settings
from knowledge.roster import Agent, Roster
from knowledge.schemas import Ticket
from tests.conftest import SMALL_HISTORY, history_tickets

# The same people names in both tenants, with opposite specialities.
RESOLVERS = {
    "acme": {"account": "alice", "billing": "bob", "reliability": "carol"},
    "globex": {"account": "carol", "billing": "alice", "reliability": "bob"},
}
REFUND = Ticket(id="new-1", subject="Refund please", body="My card was charged twice this month, refund one charge.")


@pytest.fixture(scope="module")
def two_tenants(tmp_path_factory: pytest.TempPathFactory) -> Components:
    ws = Components(Settings(data_dir=tmp_path_factory.mktemp("routing") / "data", **SMALL_HISTORY))
    tickets = []
    for tenant, people in RESOLVERS.items():
        for t in history_tickets(tenant=tenant, prefix=f"{tenant}-"):
            tickets.append(t.model_copy(update={"labels": {**t.labels, "assignee": people[t.labels["queue"]]}}))
    # A third tenant has history but no roster.
    tickets += history_tickets(tenant="initech", prefix="i-")
    ws.ingest.tickets(tickets)
    ws.train()
    assert ws.build_routing_profiles() == {"acme": 12, "globex": 12}
    roster = Roster(ws.history)
    for tenant in RESOLVERS:
        roster.upsert([Agent(id=name, name=name.title(), tenant=tenant) for name in ("alice", "bob", "carol")])
    roster.upsert([Agent(id="dora", name="Dora", tenant="globex")])
    return ws


def test_profiles_are_built_per_tenant_from_that_tenants_history_only(two_tenants: Components) -> None:
    acme = two_tenants.routing.profiles("acme")
    globex = two_tenants.routing.profiles("globex")
    assert acme is not None and globex is not None
    assert acme.agents["bob"].skills["queue"] == {"billing": pytest.approx(5.0)}
    assert globex.agents["bob"].skills["queue"] == {"reliability": pytest.approx(3.0)}
    assert sum(p.resolved for p in acme.agents.values()) == 12 and acme.embeddings.shape[0] == 12


def test_each_tenant_routes_to_its_own_people_by_its_own_history(two_tenants: Components) -> None:
    context = two_tenants.context()
    acme = triage(REFUND.model_copy(update={"tenant": "acme"}), context)
    globex = triage(REFUND.model_copy(update={"tenant": "globex", "id": "new-2"}), context)
    assert acme.schema_version == SCHEMA_VERSION == "1.1"
    assert acme.routing is not None and globex.routing is not None
    assert acme.routing.assignee is not None and acme.routing.assignee.agent_id == "bob"
    assert globex.routing.assignee is not None and globex.routing.assignee.agent_id == "alice"
    assert "dora" not in acme.routing.ranked and "dora" in globex.routing.ranked
    assert len(acme.routing.alternatives) == 2 and acme.routing.assignee.reason.startswith("Bob: ")
    stored = two_tenants.history.latest_result("acme", "new-1")
    assert stored is not None and stored["routing"]["assignee"]["agent_id"] == "bob"


def test_a_tenant_without_a_roster_gets_no_routing(two_tenants: Components) -> None:
    result = triage(REFUND.model_copy(update={"tenant": "initech", "id": "new-3"}), two_tenants.context())
    assert result.routing is None


def test_results_stored_before_routing_still_validate(two_tenants: Components) -> None:
    current = triage(REFUND.model_copy(update={"tenant": "initech", "id": "new-4"}), two_tenants.context())
    old = current.model_dump(mode="json")
    old["schema_version"] = "1.0"
    del old["routing"]
    assert TriageResult.model_validate(old).routing is None


def test_the_person_label_never_trains_the_classifier(two_tenants: Components, tmp_path: Path) -> None:
    for tenant in RESOLVERS:
        model = two_tenants.models.for_tenant(tenant)
        assert model is not None and "assignee" not in model.fields and "queue" in model.fields


def test_agents_show_explains_the_learned_profile(two_tenants: Components) -> None:
    shown = CliRunner().invoke(
        app, ["agents", "show", "bob", "--tenant", "acme", "--data-dir", str(two_tenants.settings.data_dir)]
    )
    assert shown.exit_code == 0, shown.output
    assert "Profile from 5 resolved tickets" in shown.stdout
    assert (
        "queue: billing (5.0)" in shown.stdout
        and "category: invoice_request (3.0), refund_request (2.0)" in shown.stdout
    )
    assert "words that point to them:" in shown.stdout
