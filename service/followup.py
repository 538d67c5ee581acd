"""A customer's new message on a known ticket (a follow-up): continue the thread its last triage saw, and key
the job by everything the triage reads, so a new message is new work while a redelivered one is not."""

from __future__ import annotations

from pydantic import ValidationError

from knowledge.schemas import MAX_THREAD_MESSAGES, Message, Ticket, stable_id
from tools.helpdesk.normalise import same_text


def content_key(ticket: Ticket) -> str:
    """What the triage depends on: an update that changes none of it (our own note, a tag) is a repeat."""
    return stable_id(ticket.subject, ticket.body, *(message.body for message in ticket.thread))


def previous_ticket(payload: str | None) -> Ticket | None:
    """The ticket a stored job triaged, or None (no job, or one whose payload no longer validates)."""
    if payload is None:
        return None
    try:
        return Ticket.model_validate_json(payload)
    except ValidationError:
        return None


def continue_thread(ticket: Ticket, previous: Ticket | None) -> Ticket:
    """A follow-up (`ticket.body` is the new message) with the conversation `previous` (the ticket as last
    triaged) knew before it, oldest first: a helpdesk event carries only part of the thread."""
    if previous is None:
        return ticket
    thread = list(previous.thread)
    if previous.body.strip() and not same_text(previous.body, ticket.body):
        thread.append(Message(author="customer", body=previous.body, at=None))
    for message in ticket.thread:
        if not any(same_text(message.body, known.body) for known in thread):
            thread.append(message)
    thread = [message for message in thread if not same_text(message.body, ticket.body)]
    return ticket.model_copy(update={"thread": thread[-MAX_THREAD_MESSAGES:]})
