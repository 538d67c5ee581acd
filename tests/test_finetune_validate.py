"""`finetune validate`: every cookbook error type is detected, counted and located by line."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from caseworker.cli_finetune import finetune_app
from finetune.validate import ERROR_TYPES, validate_file

runner = CliRunner()
GOOD = {
    "messages": [
        {"role": "system", "content": "s"},
        {"role": "user", "content": "u"},
        {"role": "assistant", "content": "a"},
    ]
}


def _line(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value)


# One line per error type (line numbers are 1-based and count every physical line, blank ones too).
BAD_LINES: list[tuple[str, object]] = [
    ("invalid_json", '{"messages": [}'),
    ("data_type", ["not", "an", "object"]),
    ("missing_messages_list", {"prompt": "x", "completion": "y"}),
    ("message_missing_key", {"messages": [{"role": "user"}, {"role": "assistant", "content": "a"}]}),
    (
        "message_unrecognized_key",
        {"messages": [{"role": "user", "content": "u", "tone": "x"}, {"role": "assistant", "content": "a"}]},
    ),
    ("unrecognized_role", {"messages": [{"role": "customer", "content": "u"}, {"role": "assistant", "content": "a"}]}),
    ("missing_content", {"messages": [{"role": "user", "content": ""}, {"role": "assistant", "content": "a"}]}),
    ("example_missing_assistant_message", {"messages": [{"role": "user", "content": "u"}]}),
    (
        "over_token_limit",
        {"messages": [{"role": "user", "content": "word " * 400}, {"role": "assistant", "content": "a"}]},
    ),
]


def _bad_file(tmp_path: Path) -> Path:
    path = tmp_path / "bad.jsonl"
    lines = [_line(GOOD)]
    for _, value in BAD_LINES:
        lines.append(_line(value))
    lines.insert(3, "")  # a blank line is skipped but still counted
    path.write_bytes(("\n".join(lines) + "\n").encode() + b"\xff\xfe\n" + (_line(GOOD) + "\n").encode())
    return path


def test_each_error_type_is_counted_with_its_line(tmp_path: Path) -> None:
    report = validate_file(_bad_file(tmp_path), max_tokens=200)
    expected_lines = {kind: n + 2 if n < 2 else n + 3 for n, (kind, _) in enumerate(BAD_LINES)}
    expected_lines["invalid_utf8"] = len(BAD_LINES) + 3
    assert set(report.errors) == set(ERROR_TYPES)
    for kind, line in expected_lines.items():
        # As in the cookbook, a message without content is both missing a key and missing content.
        lines = sorted({line, expected_lines["message_missing_key"]}) if kind == "missing_content" else [line]
        assert report.errors[kind].lines == lines, kind
        assert report.errors[kind].count == len(lines), kind
    assert report.examples == len(BAD_LINES) + 3 and not report.ok


def test_one_line_with_several_problems_counts_each_type_once(tmp_path: Path) -> None:
    path = tmp_path / "multi.jsonl"
    example = {"messages": [{"role": "bot", "text": "x"}, {"role": "bot", "text": "y"}]}
    path.write_text(json.dumps(example) + "\n")
    report = validate_file(path)
    assert {k: f.count for k, f in report.errors.items()} == {
        "message_missing_key": 1,
        "message_unrecognized_key": 1,
        "unrecognized_role": 1,
        "missing_content": 1,
        "example_missing_assistant_message": 1,
    }


def test_cli_exit_codes_and_messages(tmp_path: Path) -> None:
    good = tmp_path / "good.jsonl"
    good.write_text("".join(json.dumps(GOOD) + "\n" for _ in range(12)))
    ok = runner.invoke(finetune_app, ["validate", str(good)])
    assert ok.exit_code == 0 and "12 examples, no errors" in ok.output
    bad = runner.invoke(finetune_app, ["validate", str(_bad_file(tmp_path)), "--max-tokens", "200", "--json"])
    assert bad.exit_code == 1
    assert "error unrecognized_role: 1 (lines 8)" in bad.output
    assert "error invalid_json: 1 (lines 2)" in bad.output
    assert '"over_token_limit"' in bad.output
    missing = runner.invoke(finetune_app, ["validate", str(tmp_path / "nope.jsonl")])
    assert missing.exit_code == 2 and "nope.jsonl: no such file" in missing.output


def test_few_examples_and_missing_system_are_warnings_not_errors(tmp_path: Path) -> None:
    path = tmp_path / "w.jsonl"
    path.write_text(json.dumps({"messages": [{"role": "user", "content": "u"}, {"role": "assistant", "content": "a"}]}))
    report = validate_file(path)
    assert report.ok
    assert set(report.warnings) == {"missing_system_message", "too_few_examples"}
