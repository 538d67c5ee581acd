"""What the graph asks the LLM: classify, draft a grounded reply, brief an escalation.

Each task renders its prompts from prompts/, fits the evidence into the token budget (least similar
evidence dropped first), asks for a pydantic-typed answer and checks what a schema cannot (a draft may
only cite sources it was given). Ticket text is always delimited and labelled as data.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, create_model

from agent.llm import LLMClient, LLMError, StructuredReply, ToolTurn
from prompts.loader import RenderedPrompt, render

T = TypeVar("T", bound=BaseModel)
_MARGIN_TOKENS = 64  # chat-template overhead the servers add around messages


@dataclass
class LLMUsage:
    """What the LLM cost one ticket; summed over its calls."""

    calls: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0
    prompt_versions: dict[str, str] = field(default_factory=dict)

    def add_turn(self, turn: ToolTurn) -> None:
        self.calls += 1
        self.tokens_in += turn.tokens_in
        self.tokens_out += turn.tokens_out
        self.cost_usd += turn.cost_usd

    def add(self, reply: StructuredReply[Any], *prompts: RenderedPrompt) -> None:
        self.calls += 1
        self.tokens_in += reply.tokens_in
        self.tokens_out += reply.tokens_out
        self.cost_usd += reply.cost_usd
        self.prompt_versions.update({p.name: p.version for p in prompts})


def as_data(text: str) -> str:
    """Ticket text inside our delimiters; a closing tag inside it must not end the data early."""
    return text.replace("</ticket", "</ ticket").replace("<ticket", "< ticket").replace("</source", "</ source")


def fit_evidence(llm: LLMClient, fixed: str, items: Sequence[str]) -> list[str]:
    """Keep evidence items (ordered most similar first) while the prompt stays within budget."""
    budget = llm.config.context_tokens - llm.config.max_output_tokens - _MARGIN_TOKENS
    used = llm.count(fixed)
    kept: list[str] = []
    for item in items:
        cost = llm.count(item) + 1
        if used + cost > budget:
            break
        kept.append(item)
        used += cost
    return kept


def _ask(
    llm: LLMClient,
    usage: LLMUsage,
    task: str,
    system: RenderedPrompt,
    user: RenderedPrompt,
    output: type[T],
    ticket_id: str,
    tenant: str,
    check: Callable[[T], None] | None = None,
) -> T:
    """One structured call of a task, its cost and prompt versions added to the ticket's usage."""
    reply = llm.structured(
        task=task,
        prompt_version=user.version,
        system=system.text,
        user=user.text,
        output=output,
        check=check,
        ticket_id=ticket_id,
        tenant=tenant,
    )
    usage.add(reply, system, user)
    return reply.value


# --- classification ------------------------------------------------------------------------------
class _Answer(BaseModel):
    model_config = ConfigDict(extra="forbid")
    confidence: float = Field(ge=0, le=1)


def classification_model(fields: dict[str, Sequence[str]]) -> type[BaseModel]:
    """A model whose schema lists, per field, exactly the allowed values (an enum the server enforces)."""
    answers: dict[str, Any] = {}
    for name, allowed in fields.items():
        answer = create_model(
            f"{name.title().replace('_', '')}Answer",
            __base__=_Answer,
            value=(Literal[tuple(allowed)], ...),  # type: ignore[valid-type]
        )
        answers[name] = (answer, ...)
    return create_model("TicketClassification", __config__=ConfigDict(extra="forbid"), **answers)


@dataclass(frozen=True)
class LabelledExample:
    text: str
    labels: dict[str, str]
    score: float


def classify_with_llm(
    llm: LLMClient,
    *,
    ticket_text: str,
    fields: dict[str, Sequence[str]],
    descriptions: dict[str, dict[str, str]],
    examples: Sequence[LabelledExample],
    usage: LLMUsage,
    ticket_id: str,
    tenant: str,
) -> dict[str, tuple[str, float]]:
    """{field: (value, confidence)} for the requested fields; raises LLMError when it cannot."""
    lines = []
    for name, allowed in fields.items():
        described = descriptions.get(name, {})
        values = "; ".join(f"{v} ({described[v]})" if described.get(v) else v for v in allowed)
        lines.append(f"- {name}: one of {values}")
    field_text = "\n".join(lines)
    system = render("classify_system")
    skeleton = render("classify", fields=field_text, examples="", ticket=as_data(ticket_text))
    rendered = [
        f"<example similarity={e.score:.2f}>\n{as_data(e.text)[:1500]}\nlabels: "
        + ", ".join(f"{k}={v}" for k, v in e.labels.items() if k in fields)
        + "\n</example>"
        for e in examples
    ]
    kept = fit_evidence(llm, system.text + skeleton.text, rendered)
    user = render("classify", fields=field_text, examples="\n".join(kept) or "(none)", ticket=as_data(ticket_text))
    value = _ask(llm, usage, "classify", system, user, classification_model(fields), ticket_id, tenant)
    answers = value.model_dump()
    return {name: (str(answer["value"]), float(answer["confidence"])) for name, answer in answers.items()}


# --- drafting ------------------------------------------------------------------------------------
class DraftReply(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # A length bound in the schema lets grammar-constrained servers stop a rambling model in time.
    body: str = Field(min_length=1, max_length=2500)
    citations: list[str]


@dataclass(frozen=True)
class Source:
    id: str
    title: str
    text: str
    score: float


@dataclass
class DraftTools:
    """Look-ups the drafting model may call; each is bound to the ticket's tenant by its caller."""

    search_kb: Callable[[str], list[Source]]
    similar_tickets: Callable[[str], list[Source]]
    customer: Callable[[], str]
    max_rounds: int = 2

    def specs(self) -> list[dict[str, Any]]:
        query = {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]}
        return [
            _tool("search_kb", "Search the knowledge base for articles about a topic.", query),
            _tool("similar_tickets", "Find resolved tickets similar to a description, with their replies.", query),
            _tool("customer", "Look up this customer's plan, MRR and recent ticket count.", {"type": "object"}),
        ]


def _tool(name: str, description: str, parameters: dict[str, Any]) -> dict[str, Any]:
    return {"type": "function", "function": {"name": name, "description": description, "parameters": parameters}}


def gather_sources(
    llm: LLMClient, tools: DraftTools, opening: list[dict[str, Any]], usage: LLMUsage, ticket_id: str, tenant: str
) -> list[Source]:
    """The bounded tool loop: the model may look things up for a few rounds before it writes.
    Servers without tool support answer None on the first turn and the draft goes single-shot."""
    found: list[Source] = []
    messages = list(opening)
    for _round in range(tools.max_rounds):
        try:
            turn = llm.tool_turn(messages=messages, tools=tools.specs(), ticket_id=ticket_id, tenant=tenant)
        except LLMError:
            break  # the look-ups are optional: write from what retrieval already found
        if turn is None:
            break
        usage.add_turn(turn)  # a turn that asks for nothing still cost its prompt
        if not turn.calls:
            break
        messages.append(
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {"id": cid, "type": "function", "function": {"name": name, "arguments": args}}
                    for cid, name, args in turn.calls
                ],
            }
        )
        for cid, name, args in turn.calls:
            try:
                query = str(json.loads(args or "{}").get("query", ""))[:500]
            except (json.JSONDecodeError, AttributeError):
                query = ""
            if name == "customer":
                content = tools.customer()
            elif name in ("search_kb", "similar_tickets") and query:
                hits = tools.search_kb(query) if name == "search_kb" else tools.similar_tickets(query)
                found.extend(hits)
                content = "\n".join(f'<source id="{s.id}">{as_data(s.title)}</source>' for s in hits) or "nothing"
            else:
                content = f"unknown tool or missing query: {name}"
            messages.append({"role": "tool", "tool_call_id": cid, "content": content})
    return found


def draft_with_llm(
    llm: LLMClient,
    *,
    ticket_text: str,
    classification: str,
    sources: Sequence[Source],
    usage: LLMUsage,
    ticket_id: str,
    tenant: str,
    tools: DraftTools | None = None,
) -> DraftReply:
    system = render("draft_system")
    if tools is not None:
        opening = [
            {"role": "system", "content": system.text + "\nYou may call the tools to find more sources first."},
            {"role": "user", "content": f"<ticket>\n{as_data(ticket_text)}\n</ticket>"},
        ]
        known = {s.id for s in sources}
        extra = [s for s in gather_sources(llm, tools, opening, usage, ticket_id, tenant) if s.id not in known]
        sources = sorted([*sources, *{s.id: s for s in extra}.values()], key=lambda s: s.score, reverse=True)
    skeleton = render("draft", classification=classification, sources="", ticket=as_data(ticket_text))
    rendered = [f'<source id="{s.id}" title="{as_data(s.title)}">\n{as_data(s.text)}\n</source>' for s in sources]
    kept = fit_evidence(llm, system.text + skeleton.text, rendered)
    allowed = {s.id for s, text in zip(sources, rendered, strict=True) if text in kept}
    user = render("draft", classification=classification, sources="\n".join(kept), ticket=as_data(ticket_text))

    def grounded(reply: DraftReply) -> None:
        if not reply.citations:
            raise ValueError("cite at least one source id")
        unknown = [c for c in reply.citations if c not in allowed]
        if unknown:
            raise ValueError(f"citations {unknown} are not among the given sources {sorted(allowed)}")

    return _ask(llm, usage, "draft", system, user, DraftReply, ticket_id, tenant, check=grounded)


# --- escalation brief ----------------------------------------------------------------------------
class EscalationBrief(BaseModel):
    model_config = ConfigDict(extra="forbid")
    summary: str = Field(min_length=1, max_length=1200)
    customer_tried: list[str]


def brief_with_llm(
    llm: LLMClient, *, ticket_text: str, reason: str, usage: LLMUsage, ticket_id: str, tenant: str
) -> EscalationBrief:
    system = render("escalate_system")
    user = render("escalate", reason=reason, ticket=as_data(ticket_text))
    return _ask(llm, usage, "escalate", system, user, EscalationBrief, ticket_id, tenant)
