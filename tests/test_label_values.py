"""`--values` / `--values-file`: one parser and one mapping step for `ingest tickets` and `eval`, the same
error text in both, and reports that keep the user's own label names."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from caseworker.cli import app
from evals.datasets import DatasetError, DatasetSpec, load_dataset
from knowledge.importers import parse_mapping, read_tickets
from knowledge.label_values import ValueMapError, load_value_map, parse_value_specs, read_value_file
from tests.test_eval_run import _rows, _write_csv

CODES = {"high": "2", "low": "4"}  # the tiny eval set's priorities, written as a helpdesk's numeric codes
MAP = ["--map", "text=subject,body", "--map", "queue=queue", "--map", "priority=priority"]


def _invoke(*args: str) -> Result:
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def coded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("coded")
    for name, seed, per_topic in (("train", 1, 12), ("test", 2, 4)):
        rows = _rows(seed, per_topic)
        for row in rows:
            row["priority"] = CODES[row["priority"]]
        _write_csv(folder / f"{name}.csv", rows)
    return folder


def test_parse_specs_and_files_agree(tmp_path: Path) -> None:
    from_specs = parse_value_specs(["priority=1:P0, 2:P1", "priority=3:low", "queue=B:billing"])
    assert from_specs.fields == {"priority": {"1": "P0", "2": "P1", "3": "low"}, "queue": {"B": "billing"}}
    toml = tmp_path / "v.toml"
    toml.write_text('[priority]\n"1" = "P0"\n"2" = "P1"\n"3" = "low"\n[queue]\nB = "billing"\n')
    js = tmp_path / "v.json"
    js.write_text(json.dumps({"priority": {"1": "P0", "2": "P1", "3": "low"}, "queue": {"B": "billing"}}))
    assert read_value_file(toml) == read_value_file(js) == from_specs
    # A file and specs together; the same value mapped the same way twice is fine, two ways is not.
    assert load_value_map(["priority=1:P0,4:P3"], toml).fields["priority"] == {
        "1": "P0",
        "2": "P1",
        "3": "low",
        "4": "P3",
    }
    with pytest.raises(ValueMapError, match=r"'1' is mapped twice \('P0' and 'P2'\)"):
        load_value_map(["priority=1:P2"], toml)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            "priority",
            r"^--values 'priority': expected FIELD=RAW:NORM\[,RAW:NORM\.\.\.\] \(e\.g\. --values priority=1:P0",
        ),
        ("=1:P0", r"^--values '=1:P0': expected FIELD=RAW:NORM"),
        ("priority=", r"^--values 'priority=': expected FIELD=RAW:NORM"),
        ("priority=1P0", r"^--values 'priority=1P0': '1P0' has no ':' \(expected RAW:NORM, e\.g\. 1:P0\)"),
        ("priority=1:P0,,2:P1", r"^--values 'priority=1:P0,,2:P1': '' has no ':'"),
        ("priority=1:", r"^--values 'priority=1:': priority: empty value in 1:\(empty\)"),
        ("queue=:billing", r"^--values 'queue=:billing': queue: empty value"),
        ("priority=1:P9", r"^--values 'priority=1:P9': priority: '1' maps to unknown priority 'P9' \(accepted: P0"),
        ("priority=1:P0,1:P1", r"^--values 'priority=1:P0,1:P1': priority: '1' is mapped twice"),
        ("bad name=1:x", r"^--values 'bad name=1:x': 'bad name' is not a valid label name"),
    ],
)
def test_bad_specs_name_the_option(spec: str, message: str) -> None:
    with pytest.raises(ValueMapError, match=message):
        parse_value_specs([spec])


def test_bad_files_name_the_option_and_file(tmp_path: Path) -> None:
    cases = {
        "v.yaml": ("priority: {1: P0}", "unknown file type '.yaml'"),
        "a.toml": ("[priority\n", "invalid TOML"),
        "b.json": ("{", "invalid JSON"),
        "c.json": ('["priority"]', "expected one table per field"),
        "d.json": ('{"priority": ["1", "P0"]}', "priority: expected a table of RAW = NORM pairs"),
        "e.json": ('{"priority": {"1": ["P0"]}}', "priority: value for '1' must be a string, not list"),
        "f.toml": ('[priority]\n"1" = "P7"\n', "priority: '1' maps to unknown priority 'P7'"),
    }
    for name, (text, message) in cases.items():
        (tmp_path / name).write_text(text)
        with pytest.raises(ValueMapError) as caught:
            read_value_file(tmp_path / name)
        assert str(caught.value).startswith(f"--values-file {tmp_path / name}: "), caught.value
        assert message in str(caught.value)
    with pytest.raises(ValueMapError, match="cannot read"):
        read_value_file(tmp_path / "missing.toml")


def test_importer_maps_then_normalises_and_records_the_user_names(coded: Path) -> None:
    mapping = parse_mapping(["text=subject,body", "queue=queue", "priority=priority"])
    values = parse_value_specs(["priority=2:high,4:P3", "queue=billing:finance"])  # "high" is then normalised
    report = read_tickets(coded / "train.csv", mapping, values=values)
    assert not report.rejects and len(report.tickets) == 36
    assert {t.labels["priority"] for t in report.tickets if t.labels["queue"] == "outage"} == {"P1"}
    assert {t.labels["priority"] for t in report.tickets if t.labels["queue"] != "outage"} == {"P3"}
    assert "finance" in {t.labels["queue"] for t in report.tickets}
    assert report.names.inverse() == {"priority": {"P1": ["2"], "P3": ["4"]}, "queue": {"finance": ["billing"]}}


def test_values_for_a_label_no_map_produces_is_an_error(coded: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueMapError, match=r"^--values prority: no label of that name is mapped"):
        read_tickets(
            coded / "train.csv", parse_mapping(["text=subject,body"]), values=parse_value_specs(["prority=1:P0"])
        )
    result = _invoke(
        "eval", "--train", str(coded / "train.csv"), *MAP, "--values", "prority=2:P1", "--out", str(tmp_path)
    )
    assert result.exit_code == 2
    assert "--values prority: no label of that name is mapped" in result.output


def test_unmapped_codes_and_names_like_high_are_recorded_and_rejected_as_before(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_text(
        '{"subject": "a", "body": "x", "priority": "High"}\n{"subject": "b", "body": "y", "priority": 7}\n'
        '{"subject": "c", "body": "z", "labels": {"priority": "1"}}\n'
    )
    report = read_tickets(path, values=parse_value_specs(["priority=1:P0"]))
    assert [str(r) for r in report.rejects] == [
        f"{path}:2: priority: unknown priority '7' (accepted: P0, P1, P2, P3, blocker, critical, high, low, "
        "normal, urgent, ...)"
    ]
    assert [t.labels["priority"] for t in report.tickets] == ["P1", "P0"]
    assert report.names.inverse() == {"priority": {"P0": ["1"], "P1": ["High"]}}
    assert report.summaries() == [
        "priority: 1 of 3 values rejected: unknown priority '7' (accepted: P0, P1, P2, P3, blocker, critical, high, "
        "low, normal, urgent, ...); map each to one of P0, P1, P2, P3 with --values priority=7:P? or a --values-file"
    ]


def _indented(output: str) -> list[str]:
    return [line.strip() for line in output.splitlines() if line.startswith("  ") and "━" not in line]


def test_every_value_rejected_reads_the_same_in_ingest_and_eval(coded: Path, tmp_path: Path) -> None:
    train = coded / "train.csv"
    ingest = _invoke("ingest", "tickets", str(train), "--data-dir", str(tmp_path / "d"), *MAP,
                     "--rejects", str(tmp_path / "rejects.txt"))  # fmt: skip
    assert ingest.exit_code == 1
    summary = (
        "priority: all 36 values rejected: unknown priority '2' (accepted: P0, P1, P2, P3, blocker, critical, high, "
        "low, normal, urgent, ...); map each to one of P0, P1, P2, P3 with --values priority=2:P?,4:P? or a "
        "--values-file"
    )
    assert summary in ingest.output
    evaluated = _invoke("eval", "--train", str(train), "--test", str(coded / "test.csv"), *MAP,
                        "--out", str(tmp_path / "out"))  # fmt: skip
    assert evaluated.exit_code == 2
    assert "the training set has no labels" not in evaluated.output
    assert f"error: {train}: every priority value was rejected:" in evaluated.output
    # Word for word the lines ingest printed: the first ten rejects, the count of the rest, the summary.
    lines = _indented(evaluated.output)
    assert lines == _indented(ingest.output)
    assert lines[0] == f"{train}:2: priority: unknown priority '{CODES[_rows(1, 12)[0]['priority']]}' " + (
        "(accepted: P0, P1, P2, P3, blocker, critical, high, low, normal, urgent, ...)"
    )
    assert lines[-2:] == ["... and 26 more", summary]
    with pytest.raises(DatasetError, match="every priority value was rejected"):
        load_dataset(DatasetSpec(train=train, map=["text=subject,body", "priority=priority"]))


def test_values_work_the_same_in_ingest_and_eval(coded: Path, tmp_path: Path) -> None:
    mapping = tmp_path / "codes.toml"
    mapping.write_text('[priority]\n"2" = "P1"\n')
    ingest = _invoke("ingest", "tickets", str(coded / "train.csv"), "--data-dir", str(tmp_path / "d"), *MAP,
                     "--values", "priority=4:P3", "--values-file", str(mapping))  # fmt: skip
    assert ingest.exit_code == 0, ingest.output
    assert "36 rows read: 36 new, 0 updated, 0 unchanged, 0 rejected" in ingest.output
    bad = _invoke("ingest", "tickets", str(coded / "train.csv"), "--data-dir", str(tmp_path / "d"), *MAP,
                  "--values", "priority=4")  # fmt: skip
    assert bad.exit_code == 2
    assert "--values 'priority=4': '4' has no ':'" in bad.output
    bad_eval = _invoke("eval", "--train", str(coded / "train.csv"), *MAP, "--values", "priority=4")
    assert bad_eval.exit_code == 2
    assert "--values 'priority=4': '4' has no ':'" in bad_eval.output

    out = tmp_path / "out"
    result = _invoke("eval", "--train", str(coded / "train.csv"), "--test", str(coded / "test.csv"), *MAP,
                     "--values", "priority=4:P3", "--values-file", str(mapping), "--workers", "2",
                     "--out", str(out))  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    assert report["dataset"]["values"] == {"priority": {"2": "P1", "4": "P3"}}
    assert report["fields"]["priority"]["label_names"] == {"P1": ["2"], "P3": ["4"]}
    assert report["fields"]["queue"]["label_names"] == {}
    assert {c["label"] for c in report["fields"]["priority"]["per_class"]} == {"P1", "P3"}
    rows = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
    for row in rows:
        assert row["truth_yours"] == {"priority": {"P1": "2", "P3": "4"}[row["truth"]["priority"]]}
        predicted = row["predicted"]["priority"]
        assert predicted["yours"] == {"P1": "2", "P3": "4"}[predicted["value"]]
        assert "yours" not in row["predicted"]["queue"]
    md = (out / "report.md").read_text()
    assert '| P1 (yours: "2") |' in md and '| P3 (yours: "4") |' in md
    assert "Mapped on the way in (`--values`): `priority`: 2 → P1, 4 → P3." in md
    html = (out / "report.html").read_text()
    assert "P1 (yours: &quot;2&quot;)" in html
    # The baseline comparison carries a paired bootstrap interval, in JSON and in the page.
    delta = report["fields"]["queue"]["baseline_delta"]["macro_f1"]
    assert delta["low"] <= delta["delta"] <= delta["high"]
    assert report["baseline"] == "tfidf_lr" and report["baseline_config"]["char_analyzer"] == "char_wb"
    assert "Δ macro-F1 vs `tfidf_lr`" in md and "paired bootstrap" in html


def test_suite_values_table_and_clinc_labels(tmp_path: Path) -> None:
    spec = DatasetSpec.model_validate(
        {"train": str(tmp_path / "x.json"), "values": {"intent": {"a1": "billing"}}, "format": "clinc"}
    )
    (tmp_path / "x.json").write_text(json.dumps({"train": [["pay my bill", "a1"]] * 3, "test": [["bill", "a1"]]}))
    data = load_dataset(spec.model_copy(update={"oos_test_splits": []}))
    assert {t.labels["intent"] for t in data.train} == {"billing"}
    assert data.label_names == {"intent": {"billing": ["a1"]}}
    with pytest.raises(ValueError, match=r"values: priority: '1' maps to unknown priority 'P8'"):
        DatasetSpec.model_validate({"train": "t.csv", "map": ["text=t"], "values": {"priority": {"1": "P8"}}})
