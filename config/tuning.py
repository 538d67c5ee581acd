"""`caseworker train --tune-encoder`: tune MiniLM on one tenant's labelled history, then move the data dir
onto it (re-embed every record, retrain the classifier on the new vectors).

Which tickets: the same ones `train` learns from (imported or human labels, the routing label left out), and
only the older part: the newest `holdout_share` is held out from the encoder exactly as from the classifier,
so the classifier's holdout scores still judge tickets neither model saw.

Tenants: the data dir's collections are shared by its tenants, and a tuned encoder serves one tenant only
(knowledge/embeddings_tuned.py), so tuning refuses a data dir whose history or collections hold another tenant.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from agent.training import holdout_size
from config.components import Components
from knowledge.embeddings_tuned import ENCODER_DIR, install
from knowledge.encoder_tuning import TuneOptions, TuneResult, require_tuning_packages, tune_encoder
from knowledge.reembed import ReembedReport
from knowledge.store import KB_CHUNKS, TICKETS, KnowledgeStore
from knowledge.text import ticket_model_text


class TuningRefusedError(ValueError):
    """Tuning cannot be done on this data dir as it is; the message says why and what to do."""


@dataclass(frozen=True)
class TunedDataDir:
    tenant: str
    result: TuneResult
    model_id: str
    reembedded: ReembedReport
    components: Components  # the data dir's components on the tuned encoder (train with these)


def stored_tenants(components: Components) -> set[str]:
    """Tenants with tickets in the history or records in either collection (ids are `tenant\\x1fid`)."""
    s = components.settings
    store = KnowledgeStore(s.chroma_dir, components.embedder, threads=s.embedding_threads, url=s.chroma_url,
                           check_model=False)  # fmt: skip
    found = set(components.history.tenants())
    for collection in (TICKETS, KB_CHUNKS):
        found |= {record_id.split("\x1f", 1)[0] for record_id in store.record_ids(collection)}
    return found


def tuning_tenant(components: Components, tenant: str | None) -> str:
    tenants = stored_tenants(components)
    if tenant is None and len(tenants) == 1:
        return next(iter(tenants))
    if not tenants or (tenant is not None and tenants == {tenant}):
        if tenant is None:
            raise TuningRefusedError("no labelled tickets in the history: run `caseworker ingest tickets` first")
        return tenant
    raise TuningRefusedError(
        f"this data dir holds tenants {', '.join(sorted(tenants))}: an encoder tuned on one tenant's labels serves "
        "that tenant alone, and the data dir's collections are shared, so give each tenant its own data dir "
        "(--data-dir) and tune there"
    )


def training_split(components: Components, tenant: str) -> tuple[list[str], dict[str, list[str | None]], int]:
    """(texts, labels per field, tickets held out) of the tickets `train` would learn from, holdout removed."""
    s = components.settings
    exclude = {s.routing_person_label}
    tickets, rows = [], []
    for ticket in components.history.tickets_in_time_order(tenant):
        labels = {k: v for k, v in ticket.trainable_labels().items() if k not in exclude}
        if labels:
            tickets.append(ticket)
            rows.append(labels)
    cut = len(tickets) - holdout_size(len(tickets), s.holdout_share)
    fields = sorted({name for labels in rows[:cut] for name in labels})
    counts = {name: sum(name in labels for labels in rows[:cut]) for name in fields}
    learned = [name for name in fields if counts[name] >= s.min_labels_per_field]
    if not learned:
        raise TuningRefusedError(
            f"tenant {tenant!r}: no field has {s.min_labels_per_field} labelled tickets to tune on "
            f"({', '.join(f'{k} {v}' for k, v in counts.items()) or 'none'})"
        )
    texts = [ticket_model_text(t) for t in tickets[:cut]]
    return texts, {name: [labels.get(name) for labels in rows[:cut]] for name in learned}, len(tickets) - cut


def tune_data_dir(
    components: Components,
    tenant: str | None,
    options: TuneOptions,
    progress: Callable[[float, float, str], None] | None = None,
    reembed_progress: Callable[[str, int], None] | None = None,
) -> TunedDataDir:
    """Tune, install the export as the data dir's encoder and re-embed every record with it. The caller
    retrains (`result.components.train`): a classifier trained on the old vectors is not served."""
    require_tuning_packages()
    name = tuning_tenant(components, tenant)
    texts, labels, _held_out = training_split(components, name)
    directory = components.settings.data_dir / ENCODER_DIR
    result = tune_encoder(texts, labels, directory, options, progress)
    install(directory, result.path, result.sha256, name, result.quantized, result.model_dump(mode="json"))
    tuned = Components(components.settings.model_copy(update={"embedder": "tuned"}))
    report = tuned.reembed(reembed_progress)
    return TunedDataDir(tenant=name, result=result, model_id=tuned.embedder.model_id, reembedded=report,
                        components=tuned)  # fmt: skip
