"""The triage graph, wiring only: prepare → retrieve → classify → decide → route → draft | escalate → record
(→ await_review → apply_review in the service)."""

from __future__ import annotations

from functools import cache

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph

from agent import nodes, review
from agent.schemas import TriageResult
from agent.state import TriageContext, TriageState
from knowledge.schemas import Ticket


def _triage_steps() -> StateGraph:
    graph = StateGraph(TriageState, context_schema=TriageContext)
    graph.add_node("prepare", nodes.prepare)
    graph.add_node("retrieve", nodes.retrieve)
    graph.add_node("classify", nodes.classify)
    graph.add_node("decide", nodes.decide_action)
    graph.add_node("route", nodes.route)
    graph.add_node("draft", nodes.draft)
    graph.add_node("escalate", nodes.escalate)
    graph.add_node("record", nodes.record)
    graph.add_edge(START, "prepare")
    graph.add_edge("prepare", "retrieve")
    graph.add_edge("retrieve", "classify")
    graph.add_edge("classify", "decide")
    graph.add_edge("decide", "route")
    graph.add_conditional_edges("route", nodes.route_after_decision, {"draft": "draft", "escalate": "escalate"})
    graph.add_edge("draft", "record")
    graph.add_edge("escalate", "record")
    return graph


@cache
def build_graph() -> CompiledStateGraph:
    """The batch graph (CLI, evals): triage and record, no pause."""
    graph = _triage_steps()
    graph.add_edge("record", END)
    return graph.compile()


def build_service_graph(checkpointer: BaseCheckpointSaver) -> CompiledStateGraph:
    """The service graph: after `record`, a draft that needs a human waits (interrupt) for a review."""
    graph = _triage_steps()
    graph.add_node("await_review", review.await_review)
    graph.add_node("apply_review", review.apply_review)
    graph.add_conditional_edges("record", review.route_after_record, {"await_review": "await_review", END: END})
    graph.add_edge("await_review", "apply_review")
    graph.add_edge("apply_review", END)
    return graph.compile(checkpointer=checkpointer)


def triage(ticket: Ticket, context: TriageContext) -> TriageResult:
    """Run one ticket through the graph; the result is already stored in the history when this returns."""
    final = build_graph().invoke({"ticket": ticket}, context=context)
    return final["result"]
