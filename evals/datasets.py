"""Labelled datasets for an eval: a training set (becomes the history) and a test set (triaged).

Two formats:

* **tabular** — CSV / JSONL / JSON read by the importers with the same `--map` specs as
  `caseworker ingest tickets`; every mapped label is a field to learn and score;
* **clinc** — one JSON object of splits, ``{"train": [[text, label], ...], "test": ..., "oos_test": ...}``
  (the CLINC150 layout); rows of the out-of-scope splits are labelled `oos_label`.

Test tickets lose their labels and reply before triage (the graph must never see the answer) and get
ids of their own, so a test row can never be excluded from retrieval as "the same ticket" as a
training row with the same content-derived id.
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from evals.splits import drop_self_assigned, time_split
from knowledge.importers import ImportFileError, ImportReport, Reject, parse_mapping, read_tickets
from knowledge.label_values import LabelNames, ValueMap, check_values
from knowledge.schemas import Ticket

_SLICE_PREFIX = "__slice__"
#: Stands in for a reply on training tickets that have none: retrieval only searches resolved tickets.
RESOLVED_PLACEHOLDER = "(labelled in the eval training set; no reply recorded)"


class DatasetError(Exception):
    """A dataset that cannot be used at all (missing file, no labels, bad split names).

    `lines` are details printed one per line under the message (the importer's rejects)."""

    def __init__(self, message: str, lines: list[str] | None = None) -> None:
        self.message = message
        self.lines = lines or []
        super().__init__("\n".join([message, *self.lines]))


class DatasetSpec(BaseModel):
    """Where the labelled tickets are and how to read them (CLI options and suite TOML both build one)."""

    model_config = ConfigDict(extra="forbid")

    format: Literal["auto", "tabular", "clinc"] = "auto"
    train: Path
    #: Omitted for tabular data: `test_fraction` of the training file is held out (stratified).
    test: Path | None = None
    map: list[str] = Field(default_factory=list)
    #: The user's label codes onto ours, FIELD -> {RAW: NORM} (`--values`, `--values-file`, or a suite's
    #: `[dataset.values.priority]` table); applied before the usual normalisation, as in `ingest tickets`.
    values: dict[str, dict[str, str]] = Field(default_factory=dict)
    #: CLINC-style JSON: the label name, the splits to use, and whether oos_train joins the training set.
    label: str = "intent"
    train_splits: list[str] = Field(default_factory=lambda: ["train"])
    test_splits: list[str] = Field(default_factory=lambda: ["test"])
    oos_test_splits: list[str] = Field(default_factory=lambda: ["oos_test"])
    oos_train_splits: list[str] = Field(default_factory=list)
    #: The label value meaning "out of scope" (test rows with it score the novelty flag, not the field).
    oos_label: str | None = "oos"
    slices: list[str] = Field(default_factory=list)
    #: Subsample the training set to this many rows per class of `primary_field` (few-shot runs).
    #: `primary_field` (default: the first mapped label) also stratifies the held-out test split.
    per_class: int | None = Field(default=None, ge=1)
    primary_field: str | None = None
    test_fraction: float = Field(default=0.2, gt=0, lt=1)
    limit_test: int | None = Field(default=None, ge=1)
    seed: int = 0
    #: A label that says whether the ticket should have been escalated; scored against the decision.
    escalation_label: str | None = None
    escalation_values: list[str] = Field(default_factory=lambda: ["1", "true", "yes", "escalate", "escalated"])
    #: Give reply-less training tickets a placeholder reply so retrieval treats them as resolved history.
    mark_resolved: bool = True
    #: How a test set is held out when there is no test file: `stratified` by `primary_field`, or `time`:
    #: the newest `test_fraction` of the rows that carry `primary_field` (a person field when there is one).
    split: Literal["stratified", "time"] = "stratified"
    #: Labels naming a person (who resolved the ticket): scored as rankings of the routing suggestion
    #: (top-k, MRR), never learned by the classifier.
    person_fields: list[str] = Field(default_factory=list)
    #: Score a person field only on tickets routed by someone else: drop test rows whose person is the
    #: ticket's requester (customer id), i.e. self-assigned tickets.
    exclude_self_assigned: bool = False
    #: Time split only: rebuild the routing profiles and refit the ranking baselines every N days of the test
    #: period from the training rows plus the test-period rows resolved by then (evals/refresh.py); None = frozen.
    refresh_days: int | None = Field(default=None, ge=1)

    @field_validator("values", mode="before")
    @classmethod
    def _check_values(cls, value: object) -> object:
        if isinstance(value, ValueMap):
            return value.fields
        return check_values(value, "values").fields if isinstance(value, dict) else value

    def value_map(self) -> ValueMap:
        return ValueMap(fields=self.values)

    @model_validator(mode="after")
    def _check(self) -> DatasetSpec:
        if self.resolved_format() == "tabular" and not self.map:
            raise ValueError("tabular datasets need a column mapping (--map text=COLUMN --map LABEL=COLUMN)")
        if self.refresh_days is not None and (self.split != "time" or self.test is not None):
            raise ValueError("refresh_days needs a time split of one file (split = 'time', no test file)")
        return self

    def resolved_format(self) -> Literal["tabular", "clinc"]:
        if self.format != "auto":
            return self.format
        return "clinc" if self.train.suffix.lower() == ".json" and self.test is None and not self.map else "tabular"


@dataclass
class TestCase:
    ticket: Ticket  # labels and reply removed, id unique within the run
    truth: dict[str, str]
    source_id: str
    slices: dict[str, str] = field(default_factory=dict)
    out_of_scope: bool = False
    should_escalate: bool | None = None


@dataclass
class EvalDataset:
    train: list[Ticket]
    test: list[TestCase]
    fields: list[str]
    rejects: list[Reject] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: FIELD -> our label -> the user's own names for it (only labels renamed on the way in)
    label_names: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    person_fields: list[str] = field(default_factory=list)
    #: A time split's whole test period as read (labels and resolution times kept, self-assigned rows too):
    #: what a deployment learns of as it goes (evals/refresh.py). Empty for other splits.
    period: list[Ticket] = field(default_factory=list)

    def known_labels(self, name: str) -> set[str]:
        return {t.labels[name] for t in self.train if name in t.labels} | {
            c.truth[name] for c in self.test if name in c.truth
        }


def load_dataset(spec: DatasetSpec) -> EvalDataset:
    for path in (spec.train, spec.test):
        if path is not None and not path.is_file():
            raise DatasetError(f"{path}: no such file")
    names = LabelNames()
    if spec.resolved_format() == "clinc":
        train, test_rows, notes, rejects = _load_clinc(spec, names)
    else:
        train, test_rows, notes, rejects = _load_tabular(spec, names)
    if spec.per_class is not None:
        train, note = _per_class(train, spec)
        notes.append(note)
    fields = sorted({name for t in train for name in t.labels})
    if spec.escalation_label:
        fields = [f for f in fields if f != spec.escalation_label]
    persons = [f for f in spec.person_fields if f in fields]
    fields = [f for f in fields if f not in spec.person_fields]
    if not fields and not persons:
        raise DatasetError("the training set has no labels: map at least one label (e.g. --map queue=queue)")
    if spec.mark_resolved:
        missing = sum(not t.is_resolved for t in train)
        if missing:
            train = [t if t.is_resolved else t.model_copy(update={"reply": RESOLVED_PLACEHOLDER}) for t in train]
            notes.append(
                f"{missing} training tickets had no reply and were marked resolved with a placeholder, "
                "so retrieval (which only searches resolved tickets) can use them"
            )
    if spec.escalation_label:
        # The escalation truth is scored against the decision, never learned as a field.
        train = [_without_label(t, spec.escalation_label) for t in train]
    period = [_strip_slices(t) for t in test_rows] if spec.split == "time" and spec.test is None else []
    if spec.limit_test is not None and len(test_rows) > spec.limit_test:
        rng = random.Random(spec.seed)
        test_rows = sorted(rng.sample(test_rows, spec.limit_test), key=lambda t: t.id)
        notes.append(f"test set limited to a random {spec.limit_test} rows (seed {spec.seed})")
    if spec.exclude_self_assigned and persons:
        test_rows, note = drop_self_assigned(test_rows, persons)
        notes.append(note)
    test = [_test_case(i, ticket, spec) for i, ticket in enumerate(test_rows)]
    return EvalDataset(
        train=train,
        test=test,
        fields=fields,
        rejects=rejects,
        notes=notes,
        label_names=names.inverse(),
        person_fields=persons,
        period=period,
    )


def _without_label(ticket: Ticket, name: str) -> Ticket:
    return ticket.model_copy(update={"labels": {k: v for k, v in ticket.labels.items() if k != name}})


def _test_case(index: int, ticket: Ticket, spec: DatasetSpec) -> TestCase:
    truth = dict(ticket.labels)
    slices = {name: truth.pop(_SLICE_PREFIX + name, "") for name in spec.slices}
    should_escalate = None
    if spec.escalation_label:
        raw = truth.pop(spec.escalation_label, None)
        should_escalate = None if raw is None else raw.strip().lower() in {v.lower() for v in spec.escalation_values}
    out_of_scope = spec.oos_label is not None and spec.oos_label in truth.values()
    # When the ticket was resolved is the future at triage time.
    extra = {k: v for k, v in ticket.extra.items() if k != "resolved_at"}
    clean = ticket.model_copy(update={"id": f"eval-{index:06d}", "labels": {}, "reply": None, "extra": extra})
    return TestCase(clean, truth, ticket.id, slices, out_of_scope, should_escalate)


def _strip_slices(ticket: Ticket) -> Ticket:
    labels = {k: v for k, v in ticket.labels.items() if not k.startswith(_SLICE_PREFIX)}
    return ticket.model_copy(update={"labels": labels})


def _read(path: Path, spec: DatasetSpec, names: LabelNames) -> ImportReport:
    """`ingest tickets`' reader with the same value mapping; a label that lost every value fails with the
    lines `ingest tickets` prints for the same file, not a vaguer complaint later on."""
    # Slice columns ride along as prefixed labels, so rows the importer rejects drop their slice too.
    specs = [*spec.map, *(f"{_SLICE_PREFIX}{name}={name}" for name in spec.slices)]
    report = read_tickets(path, parse_mapping(specs), values=spec.value_map())
    emptied = report.emptied_labels()
    if emptied or (report.rejects and not report.tickets):
        what = f"every {' and '.join(emptied)} value" if emptied else "every row"
        raise DatasetError(f"{path}: {what} was rejected:", report.problem_lines())
    names.update(report.names)
    return report


def _load_tabular(spec: DatasetSpec, names: LabelNames) -> tuple[list[Ticket], list[Ticket], list[str], list[Reject]]:
    train_report = _read(spec.train, spec, names)
    notes: list[str] = train_report.summaries()
    rejects = list(train_report.rejects)
    if spec.test is not None:
        test_report = _read(spec.test, spec, names)
        notes.extend(test_report.summaries())
        rejects.extend(test_report.rejects)
        train_tickets, test_tickets = train_report.tickets, test_report.tickets
    elif spec.split == "time":
        field_name = spec.primary_field or (
            spec.person_fields[0] if spec.person_fields else _first_label(parse_mapping(spec.map).labels)
        )
        train_tickets, test_tickets, note = time_split(train_report.tickets, field_name, spec.test_fraction)
        notes.append(note)
    else:
        field_name = spec.primary_field or _first_label(parse_mapping(spec.map).labels)
        train_tickets, test_tickets = stratified_split(train_report.tickets, field_name, spec.test_fraction, spec.seed)
        notes.append(
            f"no test file: a stratified {spec.test_fraction:.0%} of {spec.train.name} by {field_name!r} "
            f"is held out (seed {spec.seed})"
        )
    if rejects:
        notes.append(f"{len(rejects)} rows rejected by the importer (listed in rejects.txt)")
    return [_strip_slices(t) for t in train_tickets], test_tickets, notes, rejects


def _first_label(labels: dict[str, str]) -> str:
    names = [n for n in labels if not n.startswith(_SLICE_PREFIX)]
    if not names:
        raise DatasetError("the mapping names no label column")
    return names[0]


def stratified_split(
    tickets: list[Ticket], field_name: str, fraction: float, seed: int
) -> tuple[list[Ticket], list[Ticket]]:
    """Per class, a seeded `fraction` goes to test; a class with one row stays in training only."""
    groups: dict[str, list[Ticket]] = defaultdict(list)
    for ticket in tickets:
        groups[ticket.labels.get(field_name, "")].append(ticket)
    rng = random.Random(seed)
    train: list[Ticket] = []
    test: list[Ticket] = []
    for label in sorted(groups):
        members = groups[label][:]
        rng.shuffle(members)
        k = 0 if len(members) < 2 else min(max(round(len(members) * fraction), 1), len(members) - 1)
        test.extend(members[:k])
        train.extend(members[k:])
    order = {id(t): i for i, t in enumerate(tickets)}
    return sorted(train, key=lambda t: order[id(t)]), sorted(test, key=lambda t: order[id(t)])


def _per_class(train: list[Ticket], spec: DatasetSpec) -> tuple[list[Ticket], str]:
    field_name = spec.primary_field or (spec.label if spec.resolved_format() == "clinc" else None)
    if field_name is None:
        field_name = _first_label(parse_mapping(spec.map).labels)
    groups: dict[str, list[int]] = defaultdict(list)
    for i, ticket in enumerate(train):
        groups[ticket.labels.get(field_name, "")].append(i)
    rng = random.Random(spec.seed)
    keep: set[int] = set()
    for label in sorted(groups):
        rows = groups[label]
        keep.update(rows if len(rows) <= (spec.per_class or 0) else rng.sample(rows, spec.per_class or 0))
    picked = [t for i, t in enumerate(train) if i in keep]
    return picked, f"training set subsampled to {spec.per_class} rows per {field_name!r} class (seed {spec.seed})"


def _load_clinc(spec: DatasetSpec, names: LabelNames) -> tuple[list[Ticket], list[Ticket], list[str], list[Reject]]:
    try:
        data = json.loads(spec.train.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ImportFileError(spec.train, f"cannot read CLINC-style JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise DatasetError(f"{spec.train}: expected an object of splits, e.g. {{'train': [[text, label], ...]}}")
    wanted = [*spec.train_splits, *spec.test_splits, *spec.oos_test_splits, *spec.oos_train_splits]
    missing = [s for s in wanted if s not in data]
    if missing:
        raise DatasetError(f"{spec.train}: split(s) {', '.join(missing)} not found (has: {', '.join(data)})")
    rejects: list[Reject] = []
    values = spec.value_map()

    def rows(splits: list[str], oos: bool) -> list[Ticket]:
        out = []
        for split in splits:
            for i, item in enumerate(data[split]):
                if not (isinstance(item, list) and len(item) == 2 and all(isinstance(x, str) for x in item)):
                    rejects.append(Reject(str(spec.train), i + 1, split, "expected [text, label]"))
                    continue
                text, raw = item
                label = spec.oos_label if oos and spec.oos_label else values.apply(spec.label, raw)
                if not text.strip():
                    rejects.append(Reject(str(spec.train), i + 1, split, "empty text"))
                    continue
                out.append(Ticket(id=f"{split}-{i}", subject="", body=text, labels={spec.label: label}))
                if not oos:
                    names.record(spec.label, raw.strip(), label)
        return out

    train = rows(spec.train_splits, False) + rows(spec.oos_train_splits, True)
    test = rows(spec.test_splits, False) + rows(spec.oos_test_splits, True)
    notes = [
        f"CLINC-style JSON: train = {' + '.join(spec.train_splits + spec.oos_train_splits)}, "
        f"test = {' + '.join(spec.test_splits + spec.oos_test_splits)}"
    ]
    return train, test, notes, rejects
