"""Labels as people and files hand them in, checked one way: `caseworker ingest` rows and review decisions.

Priority is normalised to P0–P3 (`normalise_priority`, whose error names the accepted values). Given the
known label space (field -> the values the taxonomy and the history know, None: any value), an unknown
field or a value outside its field's known values is refused too.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from knowledge.schemas import normalise_priority

#: How many known values an error message lists before "...".
_LISTED = 12

LabelSpace = Mapping[str, Collection[str] | None]


class LabelError(ValueError):
    """A label that is refused; `field` names it, the message says why."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


def label_text(value: Any) -> str:
    return "" if value is None else (value if isinstance(value, str) else str(value)).strip()


def normalise_label(name: str, value: Any, known: Collection[str] | None = None) -> str:
    """The label's value as stored; raises LabelError naming `name` when it is not acceptable."""
    text = label_text(value)
    if name == "priority":
        try:
            return normalise_priority(text)
        except ValueError as exc:
            raise LabelError(name, str(exc)) from None
    if known is not None and text not in known:
        listed = sorted(known)
        shown = ", ".join(listed[:_LISTED]) + (", ..." if len(listed) > _LISTED else "")
        raise LabelError(name, f"unknown {name} {text!r} (known: {shown or 'none'})")
    return text


def check_labels(labels: Mapping[str, Any], space: LabelSpace | None = None) -> dict[str, str]:
    """Every non-blank label normalised; blank ones mean "not given" and are dropped. With a `space`, a field
    it does not name is refused. Raises LabelError for the first bad label."""
    checked: dict[str, str] = {}
    for name, value in labels.items():
        if not label_text(value):
            continue
        if space is not None and name not in space:
            known = ", ".join(sorted(space)) or "none"
            raise LabelError(name, f"unknown label field {name!r} (known: {known})")
        checked[name] = normalise_label(name, value, space.get(name) if space is not None else None)
    return checked
