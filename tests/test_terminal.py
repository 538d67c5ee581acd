"""Client text printed by the CLI: escape sequences dropped, controls and bidi overrides made visible as
U+FFFD, Rich markup kept literal, ordinary text of any script untouched, the work bounded."""

from __future__ import annotations

import io

from rich.console import Console

from caseworker.terminal import markup_safe, plain, terminal_safe


def test_escape_sequences_are_dropped() -> None:
    assert terminal_safe("a\x1b[31mred\x1b[0m b") == "ared b"
    assert terminal_safe("x\x1b]0;new title\x07y") == "xy"  # OSC: retitles the window
    assert terminal_safe("x\x1b]8;;http://evil\x1b\\link\x1b]8;;\x1b\\y") == "xlinky"  # OSC 8 hyperlink
    assert terminal_safe("x\x9b2Jy") == "xy"  # 8-bit CSI
    assert terminal_safe("x\x1bcy") == "xy"  # RIS: resets the terminal


def test_controls_bidi_and_separators_become_visible_replacements() -> None:
    assert terminal_safe("a\x00b\x07c\x7fd") == "a\ufffdb\ufffdc\ufffdd"
    assert terminal_safe("invoice\u202efdp.exe") == "invoice\ufffdfdp.exe"
    assert terminal_safe("\u2066x\u2069\u200f\u2028") == "\ufffdx\ufffd\ufffd\ufffd"
    assert terminal_safe("lone \ud800 surrogate") == "lone \ufffd surrogate"
    assert terminal_safe("two\r\nlines\tand tab") == "two  lines and tab"


def test_ordinary_text_of_any_script_is_untouched() -> None:
    text = "Zoë's café — 请帮忙 ✓ [red]not markup[/red] \u00a0nbsp"
    assert terminal_safe(text) == text


def test_the_cut_comes_before_the_work() -> None:
    assert terminal_safe("abcdef" * 1000, max_chars=4) == "abcd"
    assert terminal_safe("\x1b]" + "x" * 100_000, max_chars=10) == ""  # an unterminated OSC is dropped


def test_rich_prints_markup_from_client_text_literally() -> None:
    buffer = io.StringIO()
    console = Console(file=buffer, width=200, color_system=None)
    console.print(plain("[bold red]ALERT[/bold red] \x1b[2J"))
    console.print(f"error: {markup_safe('[link=http://evil]click[/link]')}")
    assert buffer.getvalue() == "[bold red]ALERT[/bold red] \nerror: [link=http://evil]click[/link]\n"
