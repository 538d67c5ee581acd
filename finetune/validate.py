"""`finetune validate`: the chat-format checks of the OpenAI cookbook ("Data preparation and analysis
for chat model fine-tuning"), each error type counted with the lines it occurs on.

Error names follow the cookbook (`data_type`, `missing_messages_list`, `message_missing_key`,
`message_unrecognized_key`, `unrecognized_role`, `missing_content`,
`example_missing_assistant_message`) plus what a JSONL file can add before those checks can run
(`invalid_json`, `invalid_utf8`) and the token limit (`over_token_limit`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from finetune.chat import chat_tokens
from finetune.manifest import token_stats
from finetune.schemas import TokenStats

ERROR_TYPES: dict[str, str] = {
    "invalid_utf8": "the line is not valid UTF-8",
    "invalid_json": "the line is not valid JSON",
    "data_type": "the example is not a JSON object",
    "missing_messages_list": "no non-empty 'messages' list",
    "message_missing_key": "a message lacks 'role' or 'content'",
    "message_unrecognized_key": "a message has a key other than role, content, name, function_call, weight",
    "unrecognized_role": "a role other than system, user, assistant, function",
    "missing_content": "a message's content is missing, empty or not a string",
    "example_missing_assistant_message": "no assistant message to learn from",
    "over_token_limit": "the example is longer than the token limit",
}
WARNING_TYPES: dict[str, str] = {
    "missing_system_message": "no system message",
    "missing_user_message": "no user message",
    "too_few_examples": "fewer than 10 examples (OpenAI's minimum)",
}
ALLOWED_KEYS = frozenset({"role", "content", "name", "function_call", "weight"})
ALLOWED_ROLES = frozenset({"system", "user", "assistant", "function"})
DEFAULT_MAX_TOKENS = 16_385  # the cookbook's limit; pass the target model's own with --max-tokens
MIN_EXAMPLES = 10
LINES_KEPT = 50  # per type: enough to find and fix them, bounded for a file of a million bad lines


class Finding(BaseModel):
    model_config = ConfigDict(extra="forbid")

    count: int = 0
    lines: list[int] = Field(default_factory=list, description=f"The first {LINES_KEPT} line numbers (1-based).")

    def add(self, line: int) -> None:
        self.count += 1
        if len(self.lines) < LINES_KEPT:
            self.lines.append(line)


class ValidationReport(BaseModel):
    model_config = ConfigDict(extra="forbid")

    file: str
    examples: int = 0
    max_tokens: int
    errors: dict[str, Finding] = Field(default_factory=dict)
    warnings: dict[str, Finding] = Field(default_factory=dict)
    tokens: TokenStats = Field(default_factory=TokenStats)

    @property
    def error_count(self) -> int:
        return sum(f.count for f in self.errors.values())

    @property
    def ok(self) -> bool:
        return self.error_count == 0

    def _add(self, table: dict[str, Finding], kind: str, line: int) -> None:
        table.setdefault(kind, Finding()).add(line)


def _lines(raw: bytes) -> Iterator[tuple[int, bytes]]:
    for number, chunk in enumerate(raw.removeprefix(b"\xef\xbb\xbf").split(b"\n"), start=1):
        if chunk.strip():
            yield number, chunk


def validate_file(path: Path, max_tokens: int = DEFAULT_MAX_TOKENS) -> ValidationReport:
    """Check every line; raises OSError only when the file cannot be read at all."""
    report = ValidationReport(file=str(path), max_tokens=max_tokens)
    counts: list[int] = []
    for number, chunk in _lines(path.read_bytes()):
        report.examples += 1
        try:
            example: Any = json.loads(chunk.decode("utf-8"))
        except UnicodeDecodeError:
            report._add(report.errors, "invalid_utf8", number)
            continue
        except json.JSONDecodeError:
            report._add(report.errors, "invalid_json", number)
            continue
        tokens = check_example(example, number, report)
        if tokens is not None:
            counts.append(tokens)
    if report.examples < MIN_EXAMPLES:
        report._add(report.warnings, "too_few_examples", 0)
    report.tokens = token_stats(counts)
    return report


def check_example(example: Any, line: int, report: ValidationReport) -> int | None:
    """Record the example's errors (each type once per line, as the cookbook counts); its tokens if countable."""
    if not isinstance(example, dict):
        report._add(report.errors, "data_type", line)
        return None
    messages = example.get("messages")
    if not messages or not isinstance(messages, list):
        report._add(report.errors, "missing_messages_list", line)
        return None
    found: set[str] = set()
    for message in messages:
        if not isinstance(message, dict):
            found.add("data_type")
            continue
        if "role" not in message or "content" not in message:
            found.add("message_missing_key")
        if any(key not in ALLOWED_KEYS for key in message):
            found.add("message_unrecognized_key")
        if message.get("role") not in ALLOWED_ROLES:
            found.add("unrecognized_role")
        content, function_call = message.get("content"), message.get("function_call")
        if (not content and not function_call) or not isinstance(content, str):
            found.add("missing_content")
    roles = [m.get("role") for m in messages if isinstance(m, dict)]
    if "assistant" not in roles:
        found.add("example_missing_assistant_message")
    if "system" not in roles:
        report._add(report.warnings, "missing_system_message", line)
    if "user" not in roles:
        report._add(report.warnings, "missing_user_message", line)
    tokens = chat_tokens(m for m in messages if isinstance(m, dict))
    if tokens > report.max_tokens:
        found.add("over_token_limit")
    for kind in sorted(found, key=list(ERROR_TYPES).index):
        report._add(report.errors, kind, line)
    return tokens
