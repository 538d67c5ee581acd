"""The graph hands its result to the run's ResultSink and knows nothing of where it goes (issue 12)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from agent.graph import triage
from agent.schemas import TriageResult
from agent.sink import ReviewOutcome
from config.components import Components
from knowledge.schemas import Ticket


class CollectingSink:
    reviews_drafts = False

    def __init__(self) -> None:
        self.stored: list[tuple[Ticket, TriageResult, dict[str, Any]]] = []

    def store_result(self, ticket: Ticket, result: TriageResult, audit: dict[str, Any]) -> None:
        self.stored.append((ticket, result, audit))

    def store_review(self, ticket: Ticket, result: TriageResult, outcome: ReviewOutcome) -> None:
        raise AssertionError("a run whose sink takes no reviews never pauses")


def test_the_result_goes_to_the_sink_the_run_was_given(trained_workspace: Components) -> None:
    sink = CollectingSink()
    ticket = Ticket(id="sink-1", subject="Refund", body="I was charged twice, please refund the second charge.")
    context = replace(trained_workspace.context(), sink=sink)

    result = triage(ticket, context)

    ((stored_ticket, stored, audit),) = sink.stored
    assert stored_ticket.id == "sink-1" and stored == result
    assert audit["action"] == result.decision.action.value and audit["ticket_hash"] == ticket.content_hash()
    assert trained_workspace.history.latest_result("default", "sink-1") is None


def test_without_a_sink_a_batch_run_records_to_the_history(trained_workspace: Components) -> None:
    ticket = Ticket(id="sink-2", subject="Login", body="I cannot log in since this morning, the password reset fails.")
    result = triage(ticket, trained_workspace.context())
    stored = trained_workspace.history.latest_result("default", "sink-2")
    assert stored is not None and stored["decision"]["action"] == result.decision.action.value
