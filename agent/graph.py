"""The triage graph, wiring only: prepare → retrieve → classify → decide → draft | escalate → record."""

from __future__ import annotations

from functools import cache

from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph

from agent import nodes
from agent.schemas import TriageResult
from agent.state import TriageContext, TriageState
from knowledge.schemas import Ticket


@cache
def build_graph() -> CompiledStateGraph:
    graph = StateGraph(TriageState, context_schema=TriageContext)
    graph.add_node("prepare", nodes.prepare)
    graph.add_node("retrieve", nodes.retrieve)
    graph.add_node("classify", nodes.classify)
    graph.add_node("decide", nodes.decide_action)
    graph.add_node("draft", nodes.draft)
    graph.add_node("escalate", nodes.escalate)
    graph.add_node("record", nodes.record)
    graph.add_edge(START, "prepare")
    graph.add_edge("prepare", "retrieve")
    graph.add_edge("retrieve", "classify")
    graph.add_edge("classify", "decide")
    graph.add_conditional_edges("decide", nodes.route_after_decision, {"draft": "draft", "escalate": "escalate"})
    graph.add_edge("draft", "record")
    graph.add_edge("escalate", "record")
    graph.add_edge("record", END)
    return graph.compile()


def triage(ticket: Ticket, context: TriageContext) -> TriageResult:
    """Run one ticket through the graph; the result is already stored in the history when this returns."""
    final = build_graph().invoke({"ticket": ticket}, context=context)
    return final["result"]
