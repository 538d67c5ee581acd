"""`caseworker eval` end to end on tiny synthetic datasets written here: real store, real graph, real files."""

from __future__ import annotations

import csv
import json
import random
import sqlite3
from pathlib import Path

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from caseworker.cli_eval import eval_command
from evals.datasets import DatasetSpec, load_dataset
from evals.report import build_report
from evals.runner import CachedEmbedder, RunConfig, run_eval
from knowledge.text import model_text

TOPICS = {
    "billing": (
        "finance",
        [
            "I need a copy of my invoice for {m}",
            "Please resend the {m} invoice with our VAT number",
            "Where can I download the invoice from {m}",
            "The {m} invoice shows the wrong company address",
            "We were charged twice on the {m} invoice",
        ],
    ),
    "account": (
        "identity",
        [
            "I forgot my password and cannot log in since {m}",
            "The password reset email never arrives, tried in {m}",
            "Locked out of my account after a password change in {m}",
            "My two-factor login code is rejected since {m}",
            "Cannot sign in, it says my password is invalid since {m}",
        ],
    ),
    "outage": (
        "sre",
        [
            "The dashboard is down with 502 errors since {m}",
            "The whole app returns 503 for our team since {m}",
            "Site is not loading at all, outage in the EU region since {m}",
            "Nobody can reach the service, every request times out since {m}",
            "API is down: all requests fail with server errors since {m}",
        ],
    ),
}
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October"]


def _rows(seed: int, per_topic: int) -> list[dict[str, str]]:
    rng = random.Random(seed)
    rows = []
    for queue, (team, templates) in TOPICS.items():
        for i in range(per_topic):
            text = rng.choice(templates).format(m=rng.choice(MONTHS)) + f" (account {seed}-{queue}-{i})"
            rows.append(
                {
                    "subject": text.split(",")[0][:50],
                    "body": text,
                    "queue": queue,
                    "team": team,
                    "lang": "en" if i % 2 else "de",
                    "priority": "high" if queue == "outage" else "low",
                }
            )
    rng.shuffle(rows)
    return rows


def _write_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("eval-data")
    _write_csv(folder / "train.csv", _rows(1, 12))
    _write_csv(folder / "test.csv", _rows(2, 4))
    return folder


def _app() -> typer.Typer:
    app = typer.Typer()
    app.command("eval")(eval_command)
    app.callback()(lambda: None)  # keeps `eval` a named subcommand, as in caseworker.cli
    return app


MAP = ["--map", "text=subject,body", "--map", "queue=queue", "--map", "team=team", "--map", "priority=priority"]


def test_cli_eval_writes_reports_and_gates_on_bars(data: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = ["eval", "--train", str(data / "train.csv"), "--test", str(data / "test.csv"), *MAP,
            "--slice", "lang", "--out", str(out), "--workers", "2", "--min", "queue.accuracy=0.8"]  # fmt: skip
    result = CliRunner().invoke(_app(), args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())

    # The keys the issue promises, for a standard field, a custom field and the priority scale.
    assert report["n"] == 12
    assert set(report["fields"]) == {"queue", "team", "priority"}
    for name in ("queue", "team", "priority"):
        for key in ("accuracy", "macro_f1", "weighted_f1", "ece", "accuracy_ci95", "per_class", "confusion"):
            assert key in report["fields"][name]
        for baseline in ("majority", "tfidf_lr"):
            assert set(report["baselines"][baseline][name]) >= {"accuracy", "macro_f1", "weighted_f1", "ece"}
    assert report["latency_ms"]["p50"] > 0 and report["latency_ms"]["p95"] >= report["latency_ms"]["p50"]
    assert report["fields"]["queue"]["confusion"]["columns"][-1] == "invalid"
    # Three well-separated topics: the model gets them right, the majority baseline cannot.
    assert report["fields"]["queue"]["accuracy"] >= 0.8
    assert report["baselines"]["majority"]["queue"]["accuracy"] == pytest.approx(1 / 3)
    assert report["fields"]["queue"]["delta"]["majority"]["accuracy"] > 0.4
    assert set(report["fields"]["team"]["slices"]["lang"]["values"]) == {"de", "en"}
    # The peer is scored slice by slice too, so a gap between languages can be read against its own gap.
    peer_by_lang = report["baselines"]["tfidf_lr"]["team"]["slice_values"]["lang"]
    assert set(peer_by_lang) == {"de", "en"} and all(0.0 <= v <= 1.0 for v in peer_by_lang.values())
    mean = report["baselines"]["tfidf_lr"]["team"]["slices"]["lang"]
    assert mean == pytest.approx(sum(peer_by_lang.values()) / 2)
    assert "lang=de: n 6, macro-F1" in " ".join(result.output.split())
    assert sum(report["decisions"]["counts"].values()) == 12
    assert report["errors"] == 0

    # report.json agrees with the per-ticket predictions it was computed from.
    rows = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
    assert len(rows) == 12
    right = sum(r["predicted"]["team"]["value"] == r["truth"]["team"] for r in rows)
    assert report["fields"]["team"]["accuracy"] == pytest.approx(right / 12)

    html = (out / "report.html").read_text()
    assert html.count("<svg") >= 3 * 3  # reliability, coverage, confusion per field
    for external in ("<script", "src=", "href=", "@import", "cdn"):
        assert external not in html
    md = (out / "report.md").read_text()
    assert "| accuracy (%) |" in md and "tfidf_lr" in md
    assert "| lang | n | accuracy % | macro-F1 | majority macro-F1 | tfidf_lr macro-F1 |" in md

    # Same run compared with itself, and a bar it cannot reach: exit 1, the failure named.
    again = CliRunner().invoke(
        _app(),
        [
            *args[:-2],
            "--out",
            str(tmp_path / "again"),
            "--compare",
            str(out / "report.json"),
            "--min",
            "team.macro_f1=1.01",
            "--min",
            "team.acuracy=0.1",
        ],
        catch_exceptions=False,
    )
    assert again.exit_code == 1
    assert "team.macro_f1 ≥ 1.01" in again.output and "FAIL" in again.output
    assert "team.acuracy ≥ 0.1: missing from the report FAIL" in again.output
    assert "compared with" in again.output


def test_suite_file_runs_with_its_bars(data: Path, tmp_path: Path) -> None:
    suite = tmp_path / "tiny.toml"
    suite.write_text(
        f"""
name = "tiny"
data_root = "{data}"
[dataset]
train = "train.csv"
test = "test.csv"
map = ["text=subject,body", "team=team"]
[settings]
novelty_similarity = 0.2
[run]
workers = 2
baselines = false
[min]
"team.accuracy" = 0.99999
"""
    )
    result = CliRunner().invoke(_app(), ["eval", str(suite), "--out", str(tmp_path / "o")], catch_exceptions=False)
    report = json.loads((tmp_path / "o" / "report.json").read_text())
    assert report["name"] == "tiny"
    assert report["settings"]["novelty_similarity"] == 0.2
    assert report["baselines"] == {}
    assert [b["key"] for b in report["bars"]] == ["team.accuracy"]
    assert result.exit_code == (0 if report["bars"][0]["passed"] else 1)

    missing = tmp_path / "missing.toml"
    missing.write_text(suite.read_text().replace('"train.csv"', '"nope.csv"'))
    gone = CliRunner().invoke(_app(), ["eval", str(missing), "--out", str(tmp_path / "m")])
    assert gone.exit_code == 2
    assert "dataset file(s) not found" in gone.output


def test_clinc_json_out_of_scope_rows_score_the_novelty_flag(tmp_path: Path) -> None:
    rng = random.Random(3)
    split = {"train": [], "test": [], "oos_test": []}
    for queue, (_team, templates) in TOPICS.items():
        for i in range(10):
            split["train"].append([rng.choice(templates).format(m=MONTHS[i]) + f" #{i}", queue])
        for i in range(3):
            split["test"].append([rng.choice(templates).format(m=MONTHS[i + 5]) + f" ref {i}", queue])
    split["oos_test"] = [
        ["what is the airspeed velocity of an unladen swallow", "oos"],
        ["recommend a good lasagne recipe for tonight", "oos"],
        ["how tall is mount kilimanjaro in feet", "oos"],
    ]
    path = tmp_path / "clinc.json"
    path.write_text(json.dumps(split))
    store = tmp_path / "store"
    config = RunConfig(
        dataset=DatasetSpec(train=path, label="topic"),
        settings={"novelty_similarity": 0.45},
        workers=2,
        store_dir=store,
        embedding_cache=tmp_path / "cache",
    )
    record = run_eval(config)
    report = build_report(record)
    # In-scope rows score the field; out-of-scope rows score the novelty flag.
    assert report.fields["topic"].n == 9
    assert report.oos is not None
    assert (report.oos.n_out_of_scope, report.oos.n_in_scope) == (3, 9)
    flagged = sum(o.novel for o in record.outcomes if o.case.out_of_scope)
    assert report.oos.by_novelty_flag.recall == pytest.approx(flagged / 3)
    assert report.oos.by_label is None  # no out-of-scope class was trained
    assert [p.threshold for p in report.oos.similarity_curve][:2] == [0.3, 0.35]
    assert report.decisions.counts.get("escalate", 0) >= flagged  # novel tickets escalate

    # A custom label comes back under classification.custom in the stored TriageResult.
    with sqlite3.connect(store / "history.sqlite3") as db:
        stored = [json.loads(row[0]) for row in db.execute("SELECT data FROM results WHERE ticket_id LIKE 'eval-%'")]
    assert stored and all("topic" in r["classification"]["custom"] for r in stored)

    # Every text the run embedded is cached: a wrapped embedder that refuses to work is never asked.
    class Refuses:
        model_id = record_model_id()

        def embed(self, texts: list[str]) -> np.ndarray:
            raise AssertionError(f"not cached: {texts}")

    cached = CachedEmbedder(Refuses(), tmp_path / "cache")
    texts = [model_text(c.ticket.subject, c.ticket.body) for c in record.dataset.test]
    assert cached.embed(texts).shape == (12, 384)


def record_model_id() -> str:
    from knowledge.embeddings import MODEL_ID

    return MODEL_ID


def test_dataset_options(data: Path, tmp_path: Path) -> None:
    # No test file: a stratified hold-out; per-class subsampling; labels never reach the triaged ticket.
    spec = DatasetSpec(train=data / "train.csv", map=["text=subject,body", "team=team"], test_fraction=0.25)
    dataset = load_dataset(spec)
    assert len(dataset.test) == 9 and len(dataset.train) == 27  # 3 of each team's 12 rows held out
    assert {c.truth["team"] for c in dataset.test} == {"finance", "identity", "sre"}
    assert all(not c.ticket.labels and c.ticket.reply is None for c in dataset.test)
    assert all(t.is_resolved for t in dataset.train)  # marked resolved so retrieval can use them
    few = load_dataset(spec.model_copy(update={"per_class": 2}))
    assert len(few.train) == 6


def test_misspelt_setting_fails_before_any_work(data: Path, tmp_path: Path) -> None:
    spec = DatasetSpec(train=data / "train.csv", test=data / "test.csv", map=["text=subject,body", "team=team"])
    with pytest.raises(ValueError, match=r"unknown setting.*novelty_similarty"):
        run_eval(RunConfig(dataset=spec, settings={"novelty_similarty": 0.5}))
