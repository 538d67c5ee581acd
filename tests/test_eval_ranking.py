"""Evals of a person-valued field: ranking metrics on a hand-computed case, the time split, the self-assignment
filter, the ranking baselines, and a whole run through the graph's routing step."""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from evals.datasets import DatasetSpec, load_dataset
from evals.ranking import most_frequent, per_component, ranking_scores
from evals.report import build_report
from evals.runner import RunConfig, run_eval
from evals.splits import time_split
from knowledge.schemas import Ticket


def test_top_k_and_mrr_on_a_hand_computed_case() -> None:
    truth = ["a", "b", "c", "d", "e"]
    ranked = [
        ["a", "x", "y"],  # rank 1
        ["x", "y", "b"],  # rank 3
        ["p", "q", "r", "s", "t", "c"],  # rank 6
        ["x"],  # absent
        [*"pqrstuvwx", "e", "z"],  # rank 10; lists are cut at 10
    ]
    scores = ranking_scores(truth, ranked)
    assert scores.top == {"1": 0.2, "3": 0.4, "5": 0.4, "10": 0.8}
    assert scores.mrr == pytest.approx((1 + 1 / 3 + 1 / 6 + 0 + 1 / 10) / 5)
    beyond = ranking_scores(["e"], [[*"pqrstuvwxyz", "e"]])  # rank 12: beyond the list, counts as absent
    assert beyond.top["10"] == 0.0 and beyond.mrr == 0.0


def test_most_frequent_and_per_component_baselines() -> None:
    people = ["ann", "ann", "bob", "cy", "cy", "cy"]
    components = [["ql"], ["ql"], ["jdbc"], ["metastore"], ["metastore"], ["ql"]]
    assert most_frequent(people, 2) == [["cy", "ann", "bob"]] * 2
    assert per_component(people, components, [["ql"], ["jdbc"], []]) == [
        ["ann", "cy", "bob"],
        ["bob", "cy", "ann"],
        ["cy", "ann", "bob"],
    ]


def _ticket(i: int, assignee: str, reporter: str, resolved_days: float | None = None) -> Ticket:
    created = datetime(2020, 1, 1, tzinfo=UTC) + timedelta(days=i)
    extra = {"resolved_at": (created + timedelta(days=resolved_days)).isoformat()} if resolved_days is not None else {}
    return Ticket(id=f"T-{i}", subject=f"s{i}", body="b", created_at=created, labels={"assignee": assignee},
                  customer={"id": reporter}, extra=extra)  # fmt: skip


def test_time_split_holds_out_the_newest_and_hides_later_resolutions() -> None:
    tickets = [_ticket(i, "ann", "x", resolved_days=30) for i in range(10)][::-1]  # shuffled order in the file
    tickets.append(Ticket(id="unlabelled", subject="s", body="b", created_at=datetime(2021, 1, 1, tzinfo=UTC)))
    train, test, note = time_split(tickets, "assignee", 0.2)
    assert [t.id for t in train] == [f"T-{i}" for i in range(8)]
    assert [t.id for t in test] == ["T-8", "T-9"]
    # Cut = T-7's creation (day 7): T-0 was resolved on day 30, after the cut, so it loses that date.
    assert all("resolved_at" not in t.extra for t in train)
    assert "1 rows without 'assignee'" in note and "8 training rows resolved after the cut" in note


def _csv(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


TOPICS = {
    "ann": ("Metastore partition", "metastore lock timeout on partition add"),
    "bob": ("JDBC driver", "jdbc connection string rejects kerberos principal"),
    "cy": ("Vectorized join", "vectorized map join returns wrong rows"),
}


def _rows(n: int) -> list[dict[str, str]]:
    rows = []
    for i in range(n):
        person = list(TOPICS)[i % 3]
        subject, body = TOPICS[person]
        reporter = person if i % 4 == 0 else f"user{i}"  # every fourth bug is self-assigned
        created = (datetime(2020, 1, 1, tzinfo=UTC) + timedelta(days=i)).strftime("%Y-%m-%dT%H:%M:%S.000+0000")
        rows.append({"key": f"H-{i}", "summary": f"{subject} {i}", "description": body, "created": created,
                     "assignee": person, "reporter": reporter, "components": person.upper()})  # fmt: skip
    return rows


MAP = ["id=key", "text=summary,description", "created_at=created", "customer_id=reporter", "tags=components",
       "assignee=assignee"]  # fmt: skip


def test_self_assigned_test_rows_are_dropped(tmp_path: Path) -> None:
    path = _csv(tmp_path / "bugs.csv", _rows(40))
    spec = DatasetSpec(train=path, map=MAP, split="time", person_fields=["assignee"], exclude_self_assigned=True)
    data = load_dataset(spec)
    assert data.fields == [] and data.person_fields == ["assignee"]
    assert len(data.train) == 32 and {c.source_id for c in data.test} == {f"H-{i}" for i in range(32, 40) if i % 4}
    assert all(c.truth["assignee"] != c.ticket.customer.id for c in data.test)  # type: ignore[union-attr]


def test_a_person_field_is_scored_on_the_routing_suggestion_against_three_baselines(tmp_path: Path) -> None:
    path = _csv(tmp_path / "bugs.csv", _rows(36))
    spec = DatasetSpec(train=path, map=MAP, split="time", person_fields=["assignee"], exclude_self_assigned=True)
    record = run_eval(RunConfig(dataset=spec, workers=1, bootstrap=0))
    report = build_report(record)
    ranking = report.ranking["assignee"]
    assert ranking.n == len(record.outcomes) == 6
    assert set(ranking.baselines) == {"most_frequent", "per_component", "tfidf_svm"}
    # Three people with three distinct topics: routing ranks the right one first every time.
    assert ranking.top["1"] == 1.0 and ranking.mrr == 1.0
    assert ranking.baselines["most_frequent"].top["1"] < 1.0
    assert record.model_version == "rules-only" and any("roster derived" in n for n in record.notes)


def test_compare_reports_ranking_changes() -> None:
    from evals.report import compare

    old = {"ranking": {"assignee": {"top": {"1": 0.2, "5": 0.3}, "mrr": 0.25}}}
    new = {"ranking": {"assignee": {"top": {"1": 0.25, "5": 0.3}, "mrr": 0.2}}}
    changes = {c.key: c.better for c in compare(old, new)}
    assert changes == {"ranking.assignee.top.1": True, "ranking.assignee.top.5": None, "ranking.assignee.mrr": False}
