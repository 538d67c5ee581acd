"""`finetune build` end to end on a real CSV and a real history: filters, dedupe, PII, split without
leakage, determinism, targets with human review first, KB evidence and token limits."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from caseworker.cli_finetune import finetune_app
from config.components import Components
from config.settings import Settings
from finetune.examples import REVIEW_EVENT, reply_example, scrub_candidate, targets_for
from finetune.manifest import cost_estimate
from finetune.pii import Scrubber
from finetune.schemas import BuildOptions, Manifest, ReviewOutcome
from knowledge.embeddings import local_embedder
from knowledge.history import History
from knowledge.importers import parse_mapping, read_tickets
from knowledge.schemas import Ticket
from knowledge.text import model_text
from prompts.loader import render
from tests.conftest import kb_articles
from tests.test_finetune_data import MAP_ARGS, ticket_rows, write_tickets_csv

runner = CliRunner()


def _invoke(*args: str) -> Result:
    return runner.invoke(finetune_app, list(args), catch_exceptions=False)


def _build(tmp: Path, out: str, *extra: str, csv: Path | None = None) -> tuple[Path, Manifest]:
    source = csv or write_tickets_csv(tmp / "tickets.csv")
    target = tmp / out
    result = _invoke(
        "build", "--out", str(target), "--from", str(source), *MAP_ARGS, "--data-dir", str(tmp / "no-data"), *extra
    )
    assert result.exit_code == 0, result.output
    return target, Manifest.model_validate_json((target / "manifest.json").read_text())


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Manifest]:
    return _build(tmp_path_factory.mktemp("build"), "out")


def test_filters_are_counted_by_reason_and_files_validate(built: tuple[Path, Manifest]) -> None:
    out, manifest = built
    assert manifest.tickets_in == 40
    assert manifest.filtered == {
        "unresolved": 2,
        "auto_reply": 1,
        "too_short": 1,
        "exact_duplicate": 2,
        "near_duplicate": 2,
    }
    assert manifest.task_filtered == {"classify": {"unlabelled": 1}, "reply": {}}
    assert manifest.tickets_kept == 32
    assert manifest.examples["classify"].train + manifest.examples["classify"].val == 31
    assert manifest.examples["reply"].train + manifest.examples["reply"].val == 32
    assert manifest.dedupe.near_removed == 2 and manifest.dedupe.exact_removed == 2
    for name in ("train.jsonl", "val.jsonl", "index.jsonl"):
        entry = manifest.files[name]
        assert hashlib.sha256((out / name).read_bytes()).hexdigest() == entry.sha256
        assert len((out / name).read_text().splitlines()) == entry.examples
    result = _invoke("validate", str(out / "train.jsonl"), str(out / "val.jsonl"))
    assert result.exit_code == 0, result.output
    assert "no errors" in result.output


def test_manifest_reports_distributions_tokens_and_cost(built: tuple[Path, Manifest]) -> None:
    _, manifest = built
    assert manifest.class_distribution_before["queue"] == {"billing": 11, "account": 10, "tech": 18}
    after = manifest.class_distribution_after
    assert sum(after["train"]["queue"].values()) + sum(after["val"]["queue"].values()) == 31
    assert set(after["val"]["queue"]) == {"billing", "account", "tech"}  # stratified: every class validates
    train_tokens = manifest.tokens["classify"]["train"].total + manifest.tokens["reply"]["train"].total
    assert manifest.cost.training_tokens_per_epoch == train_tokens
    assert manifest.cost.estimated_training_tokens == 3 * train_tokens
    assert manifest.cost.estimated_cost_usd == pytest.approx(3 * train_tokens / 1e6 * 3.0, abs=1e-4)
    assert manifest.options.seed == 13 and manifest.source.rows_read == 40
    assert set(manifest.prompt_versions) == {
        "finetune_classify_system",
        "finetune_classify_user",
        "finetune_reply_system",
        "finetune_reply_user",
    }


def test_examples_have_the_graph_classification_shape_and_the_actual_reply(built: tuple[Path, Manifest]) -> None:
    out, _ = built
    rows = {row["ticket_id"]: row for row in ticket_rows()}
    index = _jsonl(out / "index.jsonl")
    examples = {"train.jsonl": _jsonl(out / "train.jsonl"), "val.jsonl": _jsonl(out / "val.jsonl")}
    system = render("finetune_reply_system").text.strip()
    for entry in index:
        messages = examples[entry["file"]][entry["line"] - 1]["messages"]
        assert [m["role"] for m in messages] == ["system", "user", "assistant"]
        source = rows[entry["ticket_id"]]
        if entry["task"] == "classify":
            expected_priority = {"low": "P3", "medium": "P2", "high": "P1"}[source["priority"]]
            assert json.loads(messages[2]["content"]) == {"queue": source["queue"], "priority": expected_priority}
            assert '- "queue": one of "account", "billing", "tech"' in messages[0]["content"]
        else:
            assert messages[0]["content"] == system
            assert "(none found)" in messages[1]["content"]  # no KB in this data dir
            if entry["ticket_id"] == "T11":
                assert messages[2]["content"] == "Hi <NAME_1>, check spam; we resent the link to your address."
                assert "<EMAIL_1>" in messages[1]["content"] and "<PHONE_1>" in messages[1]["content"]
            else:
                assert messages[2]["content"] == source["answer"]


def test_no_pii_reaches_the_files(built: tuple[Path, Manifest]) -> None:
    out, manifest = built
    text = (out / "train.jsonl").read_text() + (out / "val.jsonl").read_text()
    for secret in (
        "4111 1111 1111 1111",
        "anna@example.com",
        "DE89 3704",
        "10.20.30.40",
        "Anna",
        "Schmidt",
        "12345678",
    ):
        assert secret not in text
    assert {"CARD", "EMAIL", "IBAN", "IP", "NAME", "PHONE"} <= set(manifest.pii_placeholders)


def test_no_customer_or_near_duplicate_straddles_the_split(built: tuple[Path, Manifest]) -> None:
    out, manifest = built
    side = {e["ticket_id"]: e["file"] for e in _jsonl(out / "index.jsonl")}
    rows = {row["ticket_id"]: row for row in ticket_rows() if row["ticket_id"] in side}
    by_customer: dict[str, set[str]] = {}
    for ticket_id, row in rows.items():
        by_customer.setdefault(row["customer"], set()).add(side[ticket_id])
    assert all(len(sides) == 1 for sides in by_customer.values())
    assert side["T22"] == side["P1"]  # paraphrases (cosine ≈ 0.92 ≥ leak threshold 0.9) stay together
    # And directly: no training ticket is as similar as the leak threshold to any validation ticket.
    ids = sorted(rows)
    vectors = local_embedder(2).embed([model_text(rows[i]["subject"], rows[i]["body"]) for i in ids])
    train = [n for n, i in enumerate(ids) if side[i] == "train.jsonl"]
    val = [n for n, i in enumerate(ids) if side[i] == "val.jsonl"]
    assert train and val
    assert float((vectors[val] @ vectors[train].T).max()) < manifest.options.leak_threshold


def test_same_seed_same_bytes_other_seed_other_split(tmp_path: Path, built: tuple[Path, Manifest]) -> None:
    out, manifest = built
    again, second = _build(tmp_path, "again")
    for name in ("train.jsonl", "val.jsonl", "index.jsonl"):
        assert (again / name).read_bytes() == (out / name).read_bytes()
    different = {"built_at": True, "source": {"path"}}  # the input's path differs; its sha256 must not
    assert second.model_dump(exclude=different) == manifest.model_dump(exclude=different)
    other, _ = _build(tmp_path, "other", "--seed", "7")
    assert (other / "val.jsonl").read_bytes() != (out / "val.jsonl").read_bytes()


def test_time_split_puts_only_the_past_in_training(tmp_path: Path) -> None:
    out, manifest = _build(tmp_path, "time", "--split", "time", "--val-fraction", "0.25")
    created = {row["ticket_id"]: row["created_at"] for row in ticket_rows()}
    index = _jsonl(out / "index.jsonl")
    train_times = [created[e["ticket_id"]] for e in index if e["file"] == "train.jsonl"]
    val_ids = {e["ticket_id"] for e in index if e["file"] == "val.jsonl"}
    assert manifest.split.method == "time" and manifest.split.cutoff is not None
    cutoff = manifest.split.cutoff.isoformat().replace("+00:00", "Z")
    assert max(train_times) <= cutoff
    assert manifest.split.val_tickets == len(val_ids) >= 8


def _history_with_reviews(data: Path, tmp_path: Path) -> History:
    csv = write_tickets_csv(tmp_path / "h.csv")
    specs = [spec for spec in MAP_ARGS if spec != "--map"]
    tickets = read_tickets(csv, parse_mapping(specs)).tickets
    history = History(Settings(data_dir=data).history_path)
    history.upsert_tickets(tickets)
    # T1: labels corrected and the reply edited; T2: the draft on record was rejected; T3: approved as sent;
    # T10: rejected, but an agent then wrote their own reply, which stays a valid target.
    history.audit(
        REVIEW_EVENT,
        {
            "outcome": "edited",
            "labels": {"queue": "account", "priority": "P0"},
            "reply": "Edited: invoices live under Billing.",
        },
        "default",
        "T1",
    )
    history.audit(REVIEW_EVENT, {"outcome": "rejected", "draft": tickets[1].reply}, "default", "T2")
    history.audit(REVIEW_EVENT, {"outcome": "approve", "reply": "Approved reply for T3."}, "default", "T3")
    history.audit(REVIEW_EVENT, {"outcome": "rejected", "draft": "A wrong draft."}, "default", "T10")
    return history


def test_history_build_puts_human_review_over_everything(tmp_path: Path) -> None:
    data = tmp_path / "data"
    _history_with_reviews(data, tmp_path).close()
    out = tmp_path / "out"
    result = _invoke("build", "--out", str(out), "--data-dir", str(data), "--val-fraction", "0.2")
    assert result.exit_code == 0, result.output
    manifest = Manifest.model_validate_json((out / "manifest.json").read_text())
    assert manifest.source.kind == "history"
    assert manifest.task_filtered["reply"] == {"review_rejected": 1}
    assert manifest.label_sources["classify:review_correction"] == 1
    assert manifest.label_sources["reply:review_edited"] == 1 and manifest.label_sources["reply:review_approved"] == 1
    lines = {
        **{("train", i): r for i, r in enumerate(_jsonl(out / "train.jsonl"), 1)},
        **{("val", i): r for i, r in enumerate(_jsonl(out / "val.jsonl"), 1)},
    }
    found: dict[tuple[str, str], str] = {}
    for entry in _jsonl(out / "index.jsonl"):
        example = lines[(entry["file"].removesuffix(".jsonl"), entry["line"])]
        found[(entry["ticket_id"], entry["task"])] = example["messages"][2]["content"]
    assert json.loads(found[("T1", "classify")]) == {"queue": "account", "priority": "P0"}
    assert found[("T1", "reply")] == "Edited: invoices live under Billing."
    assert ("T2", "reply") not in found and ("T2", "classify") in found
    assert found[("T3", "reply")] == "Approved reply for T3."
    assert found[("T10", "reply")] == "Nonprofits get 30 percent off; send us your registration."


def test_no_example_teaches_who_resolved_a_ticket(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The routing person label (settings' routing_person_label) is history the routing profiles learn from; the
    classifier datasets leave it out of targets, the field catalogue and the manifest, like local training."""
    monkeypatch.setenv("CASEWORKER_ROUTING_PERSON_LABEL", "resolver")
    data = tmp_path / "data"
    history = _history_with_reviews(data, tmp_path)
    tickets = list(history.all_tickets("default"))
    people = ("alice", "bob", "carol")
    history.upsert_tickets(
        [t.model_copy(update={"labels": {**t.labels, "resolver": people[i % 3]}}) for i, t in enumerate(tickets)]
    )
    # A reviewer who only picked another assignee corrected no classification.
    history.audit(REVIEW_EVENT, {"outcome": "approved", "labels": {"resolver": "dave"}}, "default", "T4")
    history.close()
    out = tmp_path / "out"
    result = _invoke("build", "--out", str(out), "--data-dir", str(data), "--val-fraction", "0.2")
    assert result.exit_code == 0, result.output
    manifest = Manifest.model_validate_json((out / "manifest.json").read_text())
    assert manifest.options.exclude_fields == ("resolver",)
    assert manifest.label_sources["classify:review_correction"] == 1  # T1's queue and priority, not T4's pick
    examples = _jsonl(out / "train.jsonl") + _jsonl(out / "val.jsonl")
    classify = [e["messages"] for e in examples if "resolver" not in e["messages"][0]["content"]]
    assert len(classify) == len(examples) and manifest.examples["classify"].train > 0
    answers = [json.loads(m[2]["content"]) for m in classify if m[2]["content"].startswith("{")]
    assert answers and all("resolver" not in answer and "queue" in answer for answer in answers)
    assert not any(person in line for line in (out / "train.jsonl").read_text().splitlines() for person in people)
    assert "resolver" not in manifest.class_distribution_before
    assert all("resolver" not in side for side in manifest.class_distribution_after.values())


def test_the_default_person_label_is_never_a_target() -> None:
    ticket = Ticket(id="T", subject="s", body="b", reply="r", labels={"queue": "billing", "assignee": "alice"})
    review = ReviewOutcome(outcome="rejected", labels={"assignee": "bob"})
    targets = targets_for(ticket, review, BuildOptions())
    assert targets.labels == {"queue": "billing"} and targets.label_source == "ticket"


def test_reply_examples_carry_the_kb_excerpts_the_graph_would_retrieve(tmp_path: Path) -> None:
    data = tmp_path / "data"
    workspace = Components(Settings(data_dir=data))
    workspace.ingest.kb(kb_articles())
    rows = [r for r in ticket_rows() if r["ticket_id"] in {"T1", "T3", "T11", "T12", "T13", "T21"}]
    csv = write_tickets_csv(tmp_path / "few.csv", rows)
    out = tmp_path / "out"
    result = _invoke(
        "build",
        "--out",
        str(out),
        "--from",
        str(csv),
        *MAP_ARGS,
        "--data-dir",
        str(data),
        "--task",
        "reply",
        "--k-kb",
        "1",
        "--val-fraction",
        "0.3",
    )
    assert result.exit_code == 0, result.output
    assert "KB evidence from" in result.output
    examples = _jsonl(out / "train.jsonl") + _jsonl(out / "val.jsonl")
    by_subject = {e["messages"][1]["content"].splitlines()[0]: e["messages"][1]["content"] for e in examples}
    assert "[KB-1] Reset your password" in by_subject["Subject: Password reset mail missing"]
    assert "[KB-2] Download invoices" in by_subject["Subject: Invoice missing"]


class _Hit:
    def __init__(self, number: int, text: str) -> None:
        self.article_id, self.title, self.text = f"KB-{number}", f"Article {number}", text


def test_overlong_examples_lose_evidence_first_then_ticket_text_or_are_dropped() -> None:
    ticket = Ticket(
        id="x",
        subject="Export fails",
        body="The export fails every night. " * 40,
        reply="Fixed it.",
        labels={"queue": "tech"},
    )
    options = BuildOptions()
    candidate = scrub_candidate(ticket, targets_for(ticket, None, options), Scrubber())
    hits = [_Hit(n, f"Excerpt {n}: " + "details about exports. " * 60) for n in (1, 2, 3)]
    full = reply_example(candidate, hits, options).example
    bare = reply_example(candidate, [], options).example
    assert full is not None and bare is not None and full.tokens > bare.tokens + 300
    # A limit that fits the ticket plus one excerpt: the last (least relevant) excerpts go first.
    limit = bare.tokens + (full.tokens - bare.tokens) // 3 + 5
    fitted = reply_example(candidate, hits, options.model_copy(update={"max_tokens": limit}))
    assert fitted.trimmed and fitted.example is not None and fitted.example.tokens <= limit
    user = fitted.example.messages[1].content
    assert "[KB-1]" in user and "[KB-2]" not in user and "[KB-3]" not in user
    # Below the bare ticket: evidence is gone and the ticket body is cut, marked, under the limit.
    tight = reply_example(candidate, hits, options.model_copy(update={"max_tokens": bare.tokens - 100}))
    assert tight.example is not None and tight.example.tokens <= bare.tokens - 100
    assert "[KB-" not in tight.example.messages[1].content and "[…]" in tight.example.messages[1].content
    assert (
        reply_example(candidate, hits, options.model_copy(update={"max_tokens": limit, "overlong": "drop"})).example
        is None
    )
    # When the answer alone is over the limit nothing can be trimmed: the example is dropped.
    long_reply = ticket.model_copy(update={"reply": "We fixed the export. " * 80})
    too_long = scrub_candidate(long_reply, targets_for(long_reply, None, options), Scrubber())
    assert reply_example(too_long, hits, options.model_copy(update={"max_tokens": 256})).example is None


def test_token_limit_drops_and_trims_are_counted_in_the_manifest(tmp_path: Path, built: tuple[Path, Manifest]) -> None:
    # Just under the longest examples: a few are over by a few tokens, which trimming the ticket can fix.
    limit = max(built[1].tokens["classify"][side].max for side in ("train", "val")) - 4
    _, dropped = _build(tmp_path, "drop", "--max-tokens", str(limit), "--overlong", "drop", "--task", "classify")
    over = dropped.task_filtered["classify"].get("over_token_limit", 0)
    kept = dropped.examples["classify"].train + dropped.examples["classify"].val
    assert over >= 1 and kept + over == 31 and dropped.trimmed == {"classify": 0}
    assert max(dropped.tokens["classify"][side].max for side in ("train", "val")) <= limit
    _, trimmed = _build(tmp_path, "trim", "--max-tokens", str(limit), "--task", "classify")
    assert trimmed.trimmed["classify"] == over and "over_token_limit" not in trimmed.task_filtered["classify"]
    assert max(trimmed.tokens["classify"][side].max for side in ("train", "val")) <= limit


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--map", "queue=queue"], "--map only applies with --from"),
        (["--from", "missing.csv"], "missing.csv"),
        (["--from", "{csv}", "--map", "queue=team"], "team"),
        (["--from", "{csv}", "--pii-pattern", "ORDER"], "--pii-pattern"),
        (["--from", "{csv}", "--leak-threshold", "0.99"], "leak_threshold"),
        (["--from", "{csv}", "--val-fraction", "1.5"], "--val-fraction"),
        ([], "no history at"),
        (["--from", "{csv}", "--stratify", "team"], "cannot stratify by 'team': no ticket has that label"),
        (["--from", "{csv}", "--price-table", "missing.json"], "--price-table: missing.json: cannot read"),
    ],
)
def test_usage_errors_exit_2_with_a_clear_message(tmp_path: Path, args: list[str], message: str) -> None:
    csv = str(write_tickets_csv(tmp_path / "t.csv"))
    args = [a.replace("{csv}", csv) for a in args]
    if "--from" in args and "--map" not in args:
        args += MAP_ARGS
    result = _invoke("build", "--out", str(tmp_path / "out"), "--data-dir", str(tmp_path / "d"), *args)
    assert result.exit_code == 2, result.output
    assert message in result.output


def test_price_table_file_sets_the_cost_and_an_unknown_model_has_none(tmp_path: Path) -> None:
    table = tmp_path / "prices.json"
    table.write_text(json.dumps({"acme-small": 10.0}))
    _, manifest = _build(
        tmp_path,
        "priced",
        "--price-table",
        str(table),
        "--target-model",
        "acme-small",
        "--epochs",
        "4",
        "--task",
        "classify",
    )
    tokens = manifest.tokens["classify"]["train"].total
    assert manifest.cost.price_source == str(table) and manifest.cost.usd_per_million_tokens == 10.0
    assert manifest.cost.estimated_cost_usd == pytest.approx(4 * tokens / 1e6 * 10.0, abs=1e-4)
    unknown = cost_estimate(1000, "mystery-model", 3, {"acme-small": 10.0}, str(table))
    assert unknown.estimated_cost_usd is None and unknown.estimated_training_tokens == 3000
    assert "mystery-model not in" in unknown.price_source
