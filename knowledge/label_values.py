"""Label value mapping: the user's own codes (`1`, `Sev-2`, `Billing Dept`) onto the names we use.

One parser and one mapping step for `caseworker ingest tickets` and `caseworker eval`:

* `--values FIELD=RAW:NORM,RAW:NORM` (repeatable), e.g. `--values priority=1:P0,2:P1,3:P2,4:P3`;
* `--values-file mapping.toml|json`, one table per field: `[priority]` then `"1" = "P0"` (TOML) or
  `{"priority": {"1": "P0"}}` (JSON). Values holding `,` or `:` can only be written in a file.

A mapped value then goes through the same normalisation as an unmapped one (priority names become
P0–P3), so a mapping may target `P1` or `high` alike; a raw value the mapping does not name passes
through unchanged. `LabelNames` records which raw value became which label, so reports can show the
user's own name next to ours (`P1 (yours: "2")`).
"""

from __future__ import annotations

import json
import re
import tomllib
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from knowledge.schemas import normalise_priority

_FIELD_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*$")
_EXAMPLE = "--values priority=1:P0,2:P1,3:P2,4:P3"


class ValueMapError(ValueError):
    """A `--values` spec or `--values-file` that cannot be used; the message names the option."""


class ValueMap(BaseModel):
    """FIELD -> raw value -> the label it stands for (before the field's own normalisation)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    fields: dict[str, dict[str, str]] = Field(default_factory=dict)

    def apply(self, field: str, raw: str) -> str:
        return self.fields.get(field, {}).get(raw.strip(), raw)

    def check_fields(self, labels: Iterable[str]) -> None:
        """Every mapped field must be one of `labels` (the labels a `--map` produces)."""
        unknown = sorted(set(self.fields) - set(labels))
        if unknown:
            raise ValueMapError(
                f"--values {', '.join(unknown)}: no label of that name is mapped (map it too, e.g. "
                f"--map {unknown[0]}=COLUMN)"
            )

    def specs(self) -> list[str]:
        """The mapping written back as `--values` specs (for reports)."""
        return [f"{name}={','.join(f'{r}:{n}' for r, n in pairs.items())}" for name, pairs in self.fields.items()]


def check_values(fields: Mapping[str, Mapping[str, Any]], where: str) -> ValueMap:
    """Validate FIELD -> {RAW: NORM}; `where` starts every error message (the option or file it came from)."""
    out: dict[str, dict[str, str]] = {}
    for name, pairs in fields.items():
        if not _FIELD_NAME.match(str(name)):
            raise ValueMapError(f"{where}: {name!r} is not a valid label name")
        if not isinstance(pairs, Mapping) or not pairs:
            raise ValueMapError(f'{where}: {name}: expected a table of RAW = NORM pairs (e.g. "1" = "P0")')
        for raw, norm in pairs.items():
            _add(out.setdefault(str(name), {}), str(name), str(raw), norm, where)
    return ValueMap(fields=out)


def _add(pairs: dict[str, str], name: str, raw: str, norm: Any, where: str) -> None:
    if isinstance(norm, bool) or not isinstance(norm, str | int | float):
        raise ValueMapError(f"{where}: {name}: value for {raw!r} must be a string, not {type(norm).__name__}")
    raw, norm = raw.strip(), str(norm).strip()
    if not raw or not norm:
        raise ValueMapError(f"{where}: {name}: empty value in {raw or '(empty)'}:{norm or '(empty)'}")
    if name == "priority":
        try:
            normalise_priority(norm)
        except ValueError as exc:
            raise ValueMapError(f"{where}: priority: {raw!r} maps to {exc}") from None
    if pairs.get(raw, norm) != norm:
        raise ValueMapError(f"{where}: {name}: {raw!r} is mapped twice ({pairs[raw]!r} and {norm!r})")
    pairs[raw] = norm


def parse_value_specs(specs: Sequence[str]) -> ValueMap:
    """`["priority=1:P0,2:P1", "queue=B:billing"]` -> ValueMap; a field may be given in several specs."""
    out: dict[str, dict[str, str]] = {}
    for spec in specs:
        where = f"--values {spec!r}"
        name, sep, body = (part.strip() for part in spec.partition("="))
        if not sep or not name or not body:
            raise ValueMapError(f"{where}: expected FIELD=RAW:NORM[,RAW:NORM...] (e.g. {_EXAMPLE})")
        if not _FIELD_NAME.match(name):
            raise ValueMapError(f"{where}: {name!r} is not a valid label name")
        for pair in body.split(","):
            raw, colon, norm = pair.partition(":")
            if not colon:
                raise ValueMapError(f"{where}: {pair.strip()!r} has no ':' (expected RAW:NORM, e.g. 1:P0)")
            _add(out.setdefault(name, {}), name, raw, norm, where)
    return ValueMap(fields=out)


def read_value_file(path: Path) -> ValueMap:
    where = f"--values-file {path}"
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ValueMapError(f"{where}: cannot read: {exc.strerror or exc}") from exc
    suffix = path.suffix.lower()
    try:
        if suffix == ".toml":
            data: Any = tomllib.loads(text)
        elif suffix == ".json":
            data = json.loads(text)
        else:
            raise ValueMapError(f"{where}: unknown file type {suffix or '(none)'!r} (use .toml or .json)")
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise ValueMapError(f"{where}: invalid {suffix[1:].upper()}: {exc}") from exc
    if not isinstance(data, dict) or not data:
        raise ValueMapError(f'{where}: expected one table per field, e.g. [priority] "1" = "P0"')
    return check_values(data, where)


def load_value_map(specs: Sequence[str] = (), file: Path | None = None) -> ValueMap:
    """`--values-file` and `--values` together."""
    sources = [read_value_file(file)] if file is not None else []
    return merge_value_maps([*sources, parse_value_specs(specs)], "--values and --values-file")


def merge_value_maps(maps: Iterable[ValueMap], where: str) -> ValueMap:
    """The same raw value mapped two ways is an error, not a silent override."""
    merged: dict[str, dict[str, str]] = {}
    for source in maps:
        for name, pairs in source.fields.items():
            for raw, norm in pairs.items():
                _add(merged.setdefault(name, {}), name, raw, norm, where)
    return ValueMap(fields=merged)


class LabelNames:
    """Which raw value became which label, counted: the inverse mapping reports show as "yours"."""

    def __init__(self) -> None:
        self._seen: dict[str, dict[str, Counter[str]]] = defaultdict(lambda: defaultdict(Counter))

    def record(self, field: str, raw: str, label: str) -> None:
        self._seen[field][label][raw] += 1

    def update(self, other: LabelNames) -> None:
        for field, labels in other._seen.items():
            for label, raws in labels.items():
                self._seen[field][label].update(raws)

    def inverse(self) -> dict[str, dict[str, list[str]]]:
        """FIELD -> label -> the user's names for it, most used first; only labels renamed on the way in."""
        out: dict[str, dict[str, list[str]]] = {}
        for field, labels in sorted(self._seen.items()):
            renamed = {}
            for label, raws in sorted(labels.items()):
                ordered = [raw for raw, _ in sorted(raws.items(), key=lambda kv: (-kv[1], kv[0])) if raw != label]
                if ordered:
                    renamed[label] = ordered
            if renamed:
                out[field] = renamed
        return out


def display(label: str, names: Mapping[str, Iterable[str]] | None) -> str:
    """`P1 (yours: "2")` when the user called this label something else; the label alone otherwise."""
    theirs = list((names or {}).get(label, ()))[:3]
    if not theirs:
        return label
    return f"{label} (yours: {', '.join(json.dumps(n, ensure_ascii=False) for n in theirs)})"
