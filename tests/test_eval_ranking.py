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
from tools.routing.profiles import resolved_at


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


# --- the deployment protocol: profiles and baselines rebuilt every N days of the test period ---------------------
def _stamp(day: float) -> str:
    return (datetime(2020, 1, 1, tzinfo=UTC) + timedelta(days=day)).strftime("%Y-%m-%dT%H:%M:%S.000+0000")


TEZ = ("Tez session", "tez session hangs on the yarn queue")


def _refresh_rows() -> list[dict[str, str]]:
    """24 training bugs (days 0-23, cut = day 23), then a test period where new people arrive:

    * with a 10-day refresh the points are days 23, 33 and 43;
    * H-30 dee fixes a Tez bug on day 31 (scored at day 23, before anyone knew dee); H-45 (day 45) is another Tez
      bug by dee, scored with the day-43 history;
    * H-35 fay fixes a Tez bug only on day 60: nothing scored before day 60 may know fay;
    * H-50 eve's only bug claims to be resolved on day 40, before it was created (day 50): never history;
    * H-32 is gus's self-assigned bug, resolved day 34: history from day 43 on, never scored.
    """
    rows = []
    for i in range(24):
        person = list(TOPICS)[i % 3]
        subject, body = TOPICS[person]
        rows.append((f"H-{i}", i, i + 1, person, f"user{i}", subject, body, person.upper()))
    rows += [
        ("H-30", 30, 31, "dee", "user30", *TEZ, "TEZ"),
        ("H-32", 32, 34, "gus", "gus", "Beeline prompt", "beeline prompt is garbled", "BEELINE"),
        ("H-35", 35, 60, "fay", "user35", *TEZ, "TEZ"),
        ("H-45", 45, 46, "dee", "user45", *TEZ, "TEZ"),
        ("H-50", 50, 40, "eve", "user50", *TEZ, "TEZ"),
        ("H-52", 52, 53, "ann", "user52", *TOPICS["ann"], "ANN"),
    ]
    return [
        {"key": key, "summary": f"{subject} {key}", "description": body, "created": _stamp(created),
         "resolutiondate": _stamp(done), "assignee": person, "reporter": reporter, "components": component}
        for key, created, done, person, reporter, subject, body, component in rows
    ]  # fmt: skip


def _refresh_spec(path: Path, days: int | None) -> DatasetSpec:
    return DatasetSpec(train=path, map=[*MAP, "resolved_at=resolutiondate"], split="time", test_fraction=0.2,
                       person_fields=["assignee"], exclude_self_assigned=True, refresh_days=days)  # fmt: skip


def test_refresh_rebuilds_profiles_and_baselines_from_what_was_resolved_by_then(tmp_path: Path) -> None:
    path = _csv(tmp_path / "bugs.csv", _refresh_rows())
    record = run_eval(RunConfig(dataset=_refresh_spec(path, 10), workers=1, bootstrap=0))
    sources = [o.case.source_id for o in record.outcomes]
    assert sources == ["H-30", "H-35", "H-45", "H-50", "H-52"]  # H-32 is self-assigned: history only
    # The schedule: points at the cut (day 23) + 10k; every addition resolved and created by its point, each
    # scored row created at or after its point, and no scored row in its own point's history.
    cut = datetime(2020, 1, 24, tzinfo=UTC)
    assert [w.at - cut for w in record.refresh] == [timedelta(days=0), timedelta(days=10), timedelta(days=20)]
    for window in record.refresh:
        for ticket in window.added:
            assert ticket.created_at <= window.at and resolved_at(ticket) <= window.at  # type: ignore[operator]
        for i in window.rows:
            assert record.outcomes[i].case.ticket.created_at >= window.at  # type: ignore[operator]
            assert sources[i] not in {t.id for t in window.added}
    assert [sorted(t.id for t in w.added) for w in record.refresh] == [[], ["H-30"], ["H-30", "H-32"]]

    lists = {name: dict(zip(sources, ranked, strict=True)) for name, ranked in record.rankings["assignee"].items()}
    lists["ours"] = {o.case.source_id: o.ranked["assignee"] for o in record.outcomes}
    assert set(lists) == {"ours", "most_frequent", "per_component", "tfidf_svm"}
    for name, by_row in lists.items():
        # Fewer than ten people: every list names everyone its history knows, so a leak would show here.
        assert "eve" not in {p for ranked in by_row.values() for p in ranked}, name  # own label, bad dates
        assert "fay" not in {p for ranked in by_row.values() for p in ranked}, name  # resolved after every row
        assert "dee" not in by_row["H-30"], name  # scored at day 23: dee's fix came on day 31
        assert "dee" in by_row["H-35"] and "gus" not in by_row["H-35"], name  # day 33: dee known, gus not yet
        assert "dee" in by_row["H-45"] and "gus" in by_row["H-45"], name  # day 43: both known
    assert lists["ours"]["H-45"][0] == "dee" and lists["per_component"]["H-45"][0] == "dee"

    report = build_report(record)
    ranking = report.ranking["assignee"]
    assert set(ranking.baselines) == {"most_frequent", "per_component", "tfidf_svm"}
    assert all(s.n == 5 for s in ranking.baselines.values()) and ranking.n == 5
    assert ranking.top["1"] == pytest.approx(2 / 5)  # H-45 (dee) and H-52 (ann); fay and eve are unknowable
    assert any(n.startswith("routing refresh every 10 days") for n in report.notes)


def test_frozen_profiles_never_learn_the_test_period(tmp_path: Path) -> None:
    path = _csv(tmp_path / "bugs.csv", _refresh_rows())
    record = run_eval(RunConfig(dataset=_refresh_spec(path, None), workers=1, bootstrap=0))
    assert record.refresh == [] and not any("routing refresh" in n for n in record.notes)
    ours = {o.case.source_id: o.ranked["assignee"] for o in record.outcomes}
    assert not {"dee", "gus", "fay", "eve"} & {p for ranked in ours.values() for p in ranked}
    for ranked in record.rankings["assignee"].values():
        assert not {"dee", "gus", "fay", "eve"} & {p for lists in ranked for p in lists}


def test_refresh_needs_a_time_split(tmp_path: Path) -> None:
    path = _csv(tmp_path / "bugs.csv", _refresh_rows())
    with pytest.raises(ValueError, match="refresh_days needs a time split"):
        DatasetSpec(train=path, map=MAP, person_fields=["assignee"], refresh_days=30)


def test_suite_refresh_days_and_the_cli_override(tmp_path: Path) -> None:
    import typer
    from typer.testing import CliRunner

    from caseworker.cli_eval import eval_command

    _csv(tmp_path / "bugs.csv", _refresh_rows())
    suite = tmp_path / "bugs.toml"
    mapping = ", ".join(f'"{m}"' for m in [*MAP, "resolved_at=resolutiondate"])
    suite.write_text(f"""name = "bugs"\ndata_root = "{tmp_path}"\n[dataset]\ntrain = "bugs.csv"\nmap = [{mapping}]
split = "time"\nperson_fields = ["assignee"]\nexclude_self_assigned = true\nrefresh_days = 10\n[run]\nworkers = 1\n""")
    app = typer.Typer()
    app.command("eval")(eval_command)
    app.callback()(lambda: None)
    for extra, refreshed in (([], True), (["--refresh-days", "0"], False)):
        out = tmp_path / f"out-{refreshed}"
        result = CliRunner().invoke(app, ["eval", str(suite), "--out", str(out), *extra], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        assert ("routing refresh every 10 days" in (out / "report.md").read_text()) is refreshed
