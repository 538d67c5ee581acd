"""Batch mode (agent/batch.py) gives every ticket the result it gets alone: on the bundled sample company,
the batched pipeline and one-at-a-time triage agree on every field of every result; a ticket that fails
fails alone, and a batch step that fails falls back to one ticket at a time."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from agent.batch import prefetch, triage_many
from agent.graph import triage
from agent.schemas import TriageResult
from agent.state import TriageContext
from caseworker.demo import sample_dir
from config.components import Components
from config.settings import Settings
from knowledge.importers import read_tickets
from knowledge.kb_importer import read_kb
from knowledge.schemas import Ticket

NOW = datetime(2025, 3, 3, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Components, list[Ticket]]]:
    """The sample company ingested and trained; its unseen tickets plus history tickets (excluded from their
    own retrieval by id) and one of another tenant (no model: rules only)."""
    samples = sample_dir()
    ws = Components(Settings(data_dir=tmp_path_factory.mktemp("batch") / "data"))
    history = read_tickets(samples / "history.jsonl").tickets
    ws.install_taxonomy(samples / "taxonomy.toml")
    ws.ingest.tickets(history)
    ws.ingest.kb(read_kb(samples / "kb").articles)
    ws.train()
    incoming = read_tickets(samples / "incoming.jsonl").tickets
    other = incoming[0].model_copy(update={"id": "other-1", "tenant": "globex"})
    yield ws, [*incoming, *history[:40:3], other]
    ws.history.close()


def _context(ws: Components) -> TriageContext:
    return replace(ws.context(), clock=lambda: NOW)


def _comparable(result: TriageResult) -> dict[str, Any]:
    data = result.model_dump(mode="json")
    data["meta"].pop("latency_ms")  # wall time, the one thing two runs never share
    return data


def _differences(a: Any, b: Any, path: str = "") -> list[str]:
    """Where two results differ. Numbers may differ by float summation order: scoring a batch sums in
    another order than scoring one row (≈1e-9), which can move a value rounded to 4 decimals by one step;
    everything else (labels, actions, evidence, order, text) must be identical."""
    if isinstance(a, dict) and isinstance(b, dict):
        if a.keys() != b.keys():
            return [f"{path}: keys {sorted(a)} != {sorted(b)}"]
        return [d for key in a for d in _differences(a[key], b[key], f"{path}.{key}")]
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{path}: {len(a)} items != {len(b)}"]
        return [d for i, (x, y) in enumerate(zip(a, b, strict=True)) for d in _differences(x, y, f"{path}[{i}]")]
    if isinstance(a, float) and isinstance(b, float) and not isinstance(a, bool):
        return [] if abs(a - b) <= 2e-4 else [f"{path}: {a} != {b}"]
    return [] if a == b else [f"{path}: {a!r} != {b!r}"]


def test_batched_results_equal_one_at_a_time(sample: tuple[Components, list[Ticket]]) -> None:
    ws, tickets = sample
    context = _context(ws)
    alone = [_comparable(triage(ticket, context)) for ticket in tickets]
    batched = list(triage_many(tickets, context, batch_size=8))
    assert all(isinstance(r, TriageResult) for r in batched)
    together = [_comparable(r) for r in batched if isinstance(r, TriageResult)]
    assert _differences(together, alone) == []
    actions = {r["decision"]["action"] for r in alone}
    assert len(actions) >= 2, "the sample should exercise more than one decision"
    # The batch really supplied the inputs: every ticket of the trained tenant was scored with its batch.
    pre = prefetch(tickets, context)
    assert [p.model_version is not None for p in pre] == [t.tenant == "default" for t in tickets]


def test_a_failing_ticket_fails_alone(sample: tuple[Components, list[Ticket]]) -> None:
    ws, tickets = sample
    context = _context(ws)
    bad = tickets[3].id

    def run(ticket: Ticket, ctx: TriageContext) -> TriageResult:
        if ticket.id == bad:
            raise RuntimeError("this ticket breaks")
        return triage(ticket, ctx)

    out = list(triage_many(tickets[:8], context, batch_size=8, run=run))
    assert [isinstance(r, Exception) for r in out] == [t.id == bad for t in tickets[:8]]
    assert [r.ticket_id for r in out if isinstance(r, TriageResult)] == [t.id for t in tickets[:8] if t.id != bad]


def test_a_failing_batch_step_falls_back_to_one_at_a_time(
    sample: tuple[Components, list[Ticket]], monkeypatch: pytest.MonkeyPatch
) -> None:
    ws, tickets = sample
    context = _context(ws)
    expected = [_comparable(triage(t, context)) for t in tickets[:4]]

    def broken(*_args: object, **_kwargs: object) -> None:
        raise ValueError("the batch search failed")

    monkeypatch.setattr(type(context.retriever), "retrieve_many", broken)
    with pytest.raises(ValueError):
        prefetch(tickets[:4], context)
    monkeypatch.undo()
    monkeypatch.setattr("agent.batch.prefetch", broken)
    out = list(triage_many(tickets[:4], context, batch_size=4))
    assert [_comparable(r) for r in out if isinstance(r, TriageResult)] == expected
