"""The whole graph on a small real data dir: results validate, decisions follow the policy, and
every result is stored with its audit row."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from agent.graph import triage
from agent.schemas import Action, DecisionReason, TriageResult
from config.components import Components
from knowledge.schemas import Ticket


def _ticket(tid: str, subject: str, body: str, **extra: object) -> Ticket:
    return Ticket.model_validate({"id": tid, "subject": subject, "body": body, **extra})


def test_routine_ticket_gets_a_grounded_draft(trained_workspace: Components) -> None:
    context = trained_workspace.context()
    result = triage(
        _ticket("n1", "Can't remember my password", "Hi, I forgot my password. How do I reset it?\n\nThanks,\nBob"),
        context,
    )
    TriageResult.model_validate_json(result.model_dump_json())
    assert result.classification.category.value == "password_reset"
    assert result.decision.action in (Action.AUTO_RESOLVE, Action.DRAFT_FOR_REVIEW)
    assert result.draft is not None and result.escalation is None
    assert result.draft.citations[0].kind == "kb" and result.draft.citations[0].id == "KB-1"
    assert "Forgot password" in result.draft.body
    assert result.evidence.similar_tickets[0].labels["category"] == "password_reset"
    assert result.meta.prompt_versions and result.meta.mode == "local"


def test_security_report_escalates_with_context(trained_workspace: Components) -> None:
    result = triage(
        _ticket(
            "n2",
            "Security issue in your invoice page",
            "I found an IDOR vulnerability: changing the invoice id in the URL shows other customers' invoices. "
            "I already tried it with two test accounts.",
            customer={"id": "cus_x", "name": "Researcher", "tier": "free", "mrr": 0},
        ),
        trained_workspace.context(),
    )
    assert result.decision.action == Action.ESCALATE
    assert result.decision.reason == DecisionReason.SECURITY
    assert result.draft is None and result.escalation is not None
    assert result.escalation.reason == DecisionReason.SECURITY
    assert "already tried" in " ".join(result.escalation.customer_tried)
    assert PRIORITY_ORDER.index(result.classification.priority.value) <= 1  # lifted to at least P1
    assert result.sla.first_response_due > result.triaged_at - timedelta(days=1)


PRIORITY_ORDER = ["P0", "P1", "P2", "P3"]


def test_outage_escalates_as_p0_with_sla(trained_workspace: Components) -> None:
    created = datetime(2026, 11, 20, 9, 45, tzinfo=UTC)
    result = triage(
        _ticket(
            "n3",
            "Whole app is down",
            "Nobody in our company can load the dashboard, 502 errors since 9:40.",
            created_at=created.isoformat(),
        ),
        trained_workspace.context(),
    )
    assert result.decision.action == Action.ESCALATE
    assert result.classification.priority.value == "P0"
    assert result.sla.first_response_due == created + timedelta(minutes=15)
    assert result.sla.resolution_due == created + timedelta(hours=4)
    assert result.sla.at_risk  # created days before "now"
    assert result.escalation.suggested_team == "reliability"


def test_novel_ticket_escalates_as_novel(trained_workspace: Components) -> None:
    result = triage(
        _ticket("n4", "Sourdough starter smells odd", "My rye starter has a grey liquid layer after feeding."),
        trained_workspace.context(),
    )
    assert result.evidence.novel
    assert result.decision.reason == DecisionReason.NOVEL_ISSUE


def test_results_and_audit_are_stored(trained_workspace: Components) -> None:
    ticket = _ticket("n5", "Invoice copy", "Please send me the invoice for September.")
    result = triage(ticket, trained_workspace.context())
    stored = trained_workspace.history.latest_result("default", "n5")
    assert stored is not None and TriageResult.model_validate(stored) == result
    audit = trained_workspace.history.audit_rows("n5")
    assert [row["event"] for row in audit] == ["triaged"]
    assert audit[0]["detail"]["action"] == result.decision.action.value
    assert audit[0]["detail"]["model"] == result.meta.model


def test_without_a_trained_model_results_still_validate_and_need_review(workspace: Components) -> None:
    result = triage(_ticket("n6", "Hello", "Just a question about my account."), workspace.context())
    assert result.classification.needs_review
    assert result.meta.model == "rules-only"
    assert result.decision.action == Action.ESCALATE  # empty store: nothing similar, so it is novel
