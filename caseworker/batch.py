"""Triage many tickets in batches (agent/batch.py), and sum up what happened (decisions, LLM use)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from agent.batch import BATCH_SIZE, triage_many
from agent.schemas import TriageResult
from agent.state import TriageContext
from knowledge.schemas import Ticket


@dataclass
class BatchSummary:
    mode: str
    tickets: int = 0
    actions: Counter[str] = field(default_factory=Counter)
    llm_calls: int = 0
    llm_calls_saved: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0

    def add(self, result: TriageResult) -> None:
        self.tickets += 1
        self.actions[result.decision.action.value] += 1
        self.llm_calls += result.meta.llm_calls
        self.llm_calls_saved += result.meta.llm_calls_saved
        self.tokens_in += result.meta.tokens_in
        self.tokens_out += result.meta.tokens_out
        self.cost_usd += result.meta.cost_usd

    def describe(self) -> str:
        mix = ", ".join(f"{n} {action}" for action, n in sorted(self.actions.items())) or "nothing"
        text = f"{self.tickets} tickets triaged in {self.mode} mode: {mix}"
        if self.mode != "local":
            text += f"; {self.llm_calls} LLM calls, {self.tokens_in} tokens in / {self.tokens_out} out"
            text += f", ${self.cost_usd:.4f}"
        if self.mode == "cascade":
            text += f"; cascade saved {self.llm_calls_saved} classification calls"
        return text


def triage_all(
    tickets: Sequence[Ticket],
    context: TriageContext,
    *,
    workers: int = 1,
    batch_size: int = BATCH_SIZE,
    emit: Callable[[TriageResult], object] = lambda _result: None,
    progress: Callable[[], object] = lambda: None,
) -> BatchSummary:
    """Batched (agent/batch.py), in input order. Each result is stored by the graph before `emit` sees it,
    so an interrupted run keeps its work; a ticket whose run fails stops the command, as before."""
    summary = BatchSummary(mode=context.mode)
    for result in triage_many(tickets, context, batch_size=batch_size, workers=workers):
        if isinstance(result, Exception):
            raise result
        summary.add(result)
        emit(result)
        progress()
    return summary
