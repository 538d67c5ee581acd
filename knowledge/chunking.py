"""Split knowledge-base articles into token-bounded chunks for the vector index.

Each chunk is prefixed with the article title so a retrieved chunk reads on its own, and the whole
chunk text (title included) stays within `max_tokens`: 200 cl100k tokens keeps it under the
256-token window of the embedding model, so nothing is silently truncated at embedding time.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from knowledge.schemas import Article, ArticleChunk
from knowledge.tokens import char_safe_cuts, count_tokens, encoding, truncate_tokens

_HEADING = re.compile(r"^#{1,6}\s")
_FENCE = re.compile(r"^\s*(```|~~~)")
#: A title longer than this share of the budget is cut, so every chunk still has room for body text.
_MAX_TITLE_SHARE = 0.25


def chunk_article(article: Article, max_tokens: int = 200, overlap: int = 30) -> list[ArticleChunk]:
    """Chunks of `article.body`, each `"<title>\\n\\n<text>"` with at most `max_tokens` tokens.

    Paragraphs (and fenced code blocks) are packed whole; a heading stays with the paragraph after
    it, and a heading starts a new chunk when the current one is already half full. A block too big
    for one chunk is cut into token windows that overlap by `overlap` tokens, so a sentence cut at a
    window edge still appears whole in one of them. Same input, same chunks.
    """
    if max_tokens < 8:
        raise ValueError(f"max_tokens must be at least 8, got {max_tokens}")
    if overlap < 0:
        raise ValueError(f"overlap must not be negative, got {overlap}")

    title = article.title.strip()
    if count_tokens(title) > int(max_tokens * _MAX_TITLE_SHARE):
        title = truncate_tokens(title, int(max_tokens * _MAX_TITLE_SHARE)).rstrip()
    prefix = f"{title}\n\n"

    def fits(text: str) -> bool:
        return count_tokens(prefix + text) <= max_tokens

    pieces: list[str] = []
    for block in _pack(_blocks(article.body), fits, max_tokens):
        if fits(block):
            pieces.append(block)
        else:
            budget = max_tokens - count_tokens(prefix)
            pieces.extend(_windows(block, budget, min(overlap, budget // 2), fits))

    return [
        ArticleChunk(
            id=f"{article.id}#{i}",
            article_id=article.id,
            title=article.title,
            text=prefix + piece,
            tenant=article.tenant,
            category=article.category,
            position=i,
        )
        for i, piece in enumerate(pieces)
    ]


def _blocks(body: str) -> list[str]:
    """Paragraph-level blocks; a heading is glued to the block that follows it."""
    raw: list[list[str]] = []
    current: list[str] = []
    in_fence = False
    for line in body.replace("\r\n", "\n").split("\n"):
        if _FENCE.match(line):
            in_fence = not in_fence
        elif not in_fence and not line.strip():
            if current:
                raw.append(current)
            current = []
            continue
        elif not in_fence and _HEADING.match(line) and current:
            raw.append(current)
            current = []
        current.append(line.rstrip())
    if current:
        raw.append(current)

    blocks: list[str] = []
    pending_heading: str | None = None
    for lines in raw:
        text = "\n".join(lines).strip("\n")
        if len(lines) == 1 and _HEADING.match(lines[0]):
            # An orphaned heading at a chunk's end says nothing; keep it with its content.
            pending_heading = text if pending_heading is None else f"{pending_heading}\n\n{text}"
            continue
        if pending_heading is not None:
            text = f"{pending_heading}\n\n{text}"
            pending_heading = None
        blocks.append(text)
    if pending_heading is not None:
        blocks.append(pending_heading)
    return blocks


def _pack(blocks: list[str], fits: Callable[[str], bool], max_tokens: int) -> list[str]:
    """Greedily join consecutive blocks while the result fits; oversized blocks pass through alone."""
    packed: list[str] = []
    current = ""
    for block in blocks:
        if not current:
            current = block
            continue
        starts_section = bool(_HEADING.match(block))
        half_full = count_tokens(current) * 2 >= max_tokens
        candidate = f"{current}\n\n{block}"
        if fits(candidate) and not (starts_section and half_full):
            current = candidate
        else:
            packed.append(current)
            current = block
    if current:
        packed.append(current)
    return packed


def _windows(text: str, budget: int, overlap: int, fits: Callable[[str], bool]) -> list[str]:
    """Token windows of at most `budget` tokens over `text`, consecutive ones sharing `overlap` tokens.

    Cuts only between whole characters; a window whose re-encoding comes out longer than its token
    slice (BPE merges differ at the edges) is shrunk until it fits.
    """
    enc = encoding()
    tokens = enc.encode(text, disallowed_special=())
    safe = char_safe_cuts(tokens)
    out: list[str] = []
    start = 0
    while start < len(tokens):
        end = min(start + budget, len(tokens))
        while end > start + 1 and not safe[end]:
            end -= 1
        piece = enc.decode(tokens[start:end])
        while end > start + 1 and not fits(piece.strip()):
            end -= 1
            while end > start + 1 and not safe[end]:
                end -= 1
            piece = enc.decode(tokens[start:end])
        out.append(piece.strip())
        if end >= len(tokens):
            break
        next_start = max(end - overlap, start + 1)
        while next_start > start + 1 and not safe[next_start]:
            next_start -= 1
        start = next_start
    return [piece for piece in out if piece]
