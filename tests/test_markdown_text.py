"""KB Markdown as the plain text a reply body holds."""

from __future__ import annotations

from agent.markdown_text import MAX_MARKDOWN_CHARS, markdown_to_text

ARTICLE = """## Reset a forgotten password

1. Go to the [sign-in page](https://app.example.com/login).
2. Click **Forgot password?** and _wait_ for the email.
   - check `spam`
   - ask IT to allowlist it

```
curl https://api.example.com/reset
```

See https://help.example.com/reset for more.
"""


def test_headings_emphasis_lists_links_and_code() -> None:
    assert markdown_to_text(ARTICLE) == (
        "Reset a forgotten password\n"
        "\n"
        "1. Go to the sign-in page (https://app.example.com/login).\n"
        "2. Click Forgot password? and wait for the email.\n"
        "   - check spam\n"
        "   - ask IT to allowlist it\n"
        "\n"
        "curl https://api.example.com/reset\n"
        "\n"
        "See https://help.example.com/reset for more."
    )


def test_no_markdown_markers_survive_in_a_real_kb_article() -> None:
    from caseworker.demo import sample_dir

    for path in sorted((sample_dir() / "kb").glob("*.md")):
        text = markdown_to_text(path.read_text(encoding="utf-8").split("---", 2)[2])
        assert "**" not in text and "## " not in text and "](" not in text, path.name


def test_raw_html_stays_text_and_ordered_lists_keep_their_start() -> None:
    assert markdown_to_text("<script>alert(1)</script>\n\n3. third\n4. fourth") == (
        "<script>alert(1)</script>\n\n3. third\n4. fourth"
    )


def test_a_link_whose_text_is_its_address_is_written_once() -> None:
    assert markdown_to_text("[https://x.example](https://x.example)") == "https://x.example"


def test_tables_become_rows_and_input_is_bounded() -> None:
    assert markdown_to_text("| a | b |\n|---|---|\n| 1 | 2 |") == "a | b\n1 | 2"
    assert len(markdown_to_text("x" * (MAX_MARKDOWN_CHARS * 2))) == MAX_MARKDOWN_CHARS
