"""Rejected rows and files: `file:line: field: reason`, what `ingest` prints and `eval` fails with.

Kept apart from the importers so the wording of a rejection, and of the per-field summary that tells
the user how to map codes we do not know, lives in one place for tickets, KB files and evals.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from knowledge.schemas import PRIORITIES


@dataclass(frozen=True)
class Reject:
    file: str
    line: int
    field: str
    reason: str
    #: The rejected value itself, when one value was the problem (it names the codes to map in a summary).
    value: str | None = None

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.field}: {self.reason}"


class WritesRejects:
    rejects: list[Reject]

    def summaries(self) -> list[str]:
        return []

    def problem_lines(self, limit: int = 10) -> list[str]:
        """What `ingest` prints and `eval` fails with: the first rejects, then any per-field summary."""
        lines = [str(r) for r in self.rejects[:limit]]
        if len(self.rejects) > limit:
            lines.append(f"... and {len(self.rejects) - limit:,} more")
        return [*lines, *self.summaries()]

    def write_rejects(self, path: Path) -> Path | None:
        """Write one reject per line; with none, remove `path` instead. Returns the path written."""
        # A rejects file left over from an earlier run would blame rows that now import fine.
        if not self.rejects:
            path.unlink(missing_ok=True)
            return None
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(f"{reject}\n" for reject in self.rejects), encoding="utf-8")
        return path


def _label_fields(rejects: Sequence[Reject]) -> list[str]:
    return list(dict.fromkeys(r.field for r in rejects if r.value is not None))


def emptied_labels(rejects: Sequence[Reject], kept: Sequence[Mapping[str, str]]) -> list[str]:
    """Label fields with rejected values and none kept (`kept` = the labels of the imported tickets)."""
    return [name for name in _label_fields(rejects) if not any(name in labels for labels in kept)]


def label_summaries(rejects: Sequence[Reject], kept: Sequence[Mapping[str, str]]) -> list[str]:
    """One line per label field that lost values, e.g. "priority: all 1,500 values rejected: ..."."""
    lines = []
    for name in _label_fields(rejects):
        rejected = [r for r in rejects if r.field == name and r.value is not None]
        n_kept = sum(name in labels for labels in kept)
        total = len(rejected) + n_kept
        how = f"all {total:,} values" if not n_kept else f"{len(rejected):,} of {total:,} values"
        codes = list(dict.fromkeys(r.value for r in rejected if r.value))
        lines.append(f"{name}: {how} rejected: {rejected[0].reason}; {_map_hint(name, codes)}")
    return lines


def _map_hint(name: str, codes: list[str]) -> str:
    codes = sorted(codes, key=lambda c: (not c.isdigit(), int(c) if c.isdigit() else 0, c))
    target = "P?" if name == "priority" else "NAME"
    example = ",".join(f"{code}:{target}" for code in codes[:8]) + (",..." if len(codes) > 8 else "")
    goal = f"each to one of {', '.join(PRIORITIES)}" if name == "priority" else "each to the label you mean"
    return f"map {goal} with --values {name}={example} or a --values-file"
