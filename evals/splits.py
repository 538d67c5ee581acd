"""Time-ordered hold-out and the self-assignment filter, for evals of who a ticket is routed to.

A random split lets a model learn from tickets that came after the ones it is tested on; routing
is judged on the future. `time_split` trains on everything up to a cut and tests on what came after,
and hides from the training set what was not yet known at the cut (resolution times after it).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from knowledge.schemas import Ticket
from tools.routing.profiles import resolved_at


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _resolved_after(ticket: Ticket, cut: datetime) -> bool:
    when = resolved_at(ticket)
    return when is not None and when > cut


def time_split(tickets: Sequence[Ticket], field_name: str, fraction: float) -> tuple[list[Ticket], list[Ticket], str]:
    """The rows carrying `field_name` and a creation time, oldest first: the newest `fraction` is the test set.

    Training rows resolved after the cut lose their resolution time (at the cut it was not known yet);
    they keep their label, as the published protocol for this split does."""
    usable = [(i, t) for i, t in enumerate(tickets) if field_name in t.labels and t.created_at is not None]
    ordered = [t for _, t in sorted(usable, key=lambda it: (_aware(it[1].created_at), it[0]))]  # type: ignore[arg-type]
    n_test = min(max(round(len(ordered) * fraction), 1), len(ordered) - 1) if len(ordered) > 1 else 0
    train, test = ordered[: len(ordered) - n_test], ordered[len(ordered) - n_test :]
    cut = _aware(train[-1].created_at) if train else datetime.max.replace(tzinfo=UTC)  # type: ignore[arg-type]
    censored = 0
    for i, ticket in enumerate(train):
        if _resolved_after(ticket, cut):
            extra = {k: v for k, v in ticket.extra.items() if k != "resolved_at"}
            train[i] = ticket.model_copy(update={"extra": extra})
            censored += 1
    dropped = len(tickets) - len(usable)
    note = (
        f"time split on {field_name!r}: train = the {len(train)} oldest rows (created up to {cut:%Y-%m-%d}), "
        f"test = the newest {len(test)}; {dropped} rows without {field_name!r} or created_at left out; "
        f"{censored} training rows resolved after the cut lose their resolution time"
    )
    return train, test, note


def drop_self_assigned(tickets: Sequence[Ticket], person_fields: Sequence[str]) -> tuple[list[Ticket], str]:
    """Test rows whose person is their own requester (customer id) were never routed by anyone: drop them."""
    kept = [
        t
        for t in tickets
        if not (t.customer and t.customer.id and any(t.labels.get(f) == t.customer.id for f in person_fields))
    ]
    note = (
        f"{len(tickets) - len(kept)} self-assigned test rows dropped ({'/'.join(person_fields)} = requester); "
        f"{len(kept)} remain"
    )
    return kept, note
