"""The provider-neutral chat example (`{"messages": [...]}`) and its token count."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from knowledge.tokens import count_tokens

Role = Literal["system", "user", "assistant"]

# The OpenAI cookbook's accounting for chat fine-tuning data: every message costs 3 tokens of
# framing (plus 1 for a name) and every example 3 more for the assistant's reply priming.
TOKENS_PER_MESSAGE = 3
TOKENS_PER_NAME = 1
TOKENS_PER_EXAMPLE = 3


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    role: Role
    content: str = Field(min_length=1)


class ChatExample(BaseModel):
    """One training example exactly as written to train.jsonl / val.jsonl."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    messages: list[ChatMessage] = Field(min_length=2)

    def to_json(self) -> dict[str, Any]:
        return {"messages": [{"role": m.role, "content": m.content} for m in self.messages]}

    @property
    def tokens(self) -> int:
        return chat_tokens(m.model_dump() for m in self.messages)

    @property
    def assistant_tokens(self) -> int:
        return sum(count_tokens(m.content) for m in self.messages if m.role == "assistant")


def chat_tokens(messages: Iterable[Mapping[str, Any]]) -> int:
    """Tokens of a chat example as the cookbook counts them (cl100k; string values only)."""
    total = TOKENS_PER_EXAMPLE
    for message in messages:
        total += TOKENS_PER_MESSAGE
        for key, value in message.items():
            if isinstance(value, str):
                total += count_tokens(value)
            if key == "name":
                total += TOKENS_PER_NAME
    return total
