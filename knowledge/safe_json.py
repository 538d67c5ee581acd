"""JSON from outside (webhook bodies, ticket files), parsed so that every later step can carry it.

`json.loads` accepts things that fail much later, in a worker, where a retry cannot help:
- a lone surrogate (`"\\ud800"`) is a Python str that no UTF-8 encoder (SQLite, Chroma, httpx) will
  write: replaced with U+FFFD here;
- NUL and other C0 control characters (Postgres rejects NUL in text): removed, keeping tab and newlines;
- nesting deep enough to reach a recursion limit in json, pydantic (200) or msgpack: refused by an
  iterative scan *before* parsing, so parsing itself never recurses that deep;
- NaN and Infinity (not JSON), numbers that overflow a double, integers longer than any id: refused.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import numpy as np

#: Deepest nesting accepted: far above any helpdesk payload (a Jira description tree included), far below
#: the limits that fail later (pydantic parses 200 levels; the job payload wraps the body in a few more).
MAX_DEPTH = 100
#: Longest integer literal accepted; the longest real ids and millisecond timestamps have about 20 digits.
MAX_INT_DIGITS = 100

# A JSON string, escapes included: removed before counting, so brackets inside strings don't count.
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKET = bytes(b for b in range(256) if b not in b"[]{}")
_UNSAFE_CHAR = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
# Where an unsafe character can come from in JSON text: an escape (\ud800, \u0000), or a raw DEL or surrogate
# (raw C0 controls are invalid JSON). Without one, parsed strings need no cleaning and the walk is skipped.
_UNSAFE_ESCAPE = re.compile(r"\\u(?:[dD][89a-fA-F][0-9a-fA-F]{2}|00[01][0-9a-fA-F]|007[fF])")
_SURROGATE = re.compile("[\ud800-\udfff]")


class UnsafeJson(ValueError):
    """JSON this project refuses to parse; the message says why (and where, when it can)."""


def check_depth(text: str, limit: int = MAX_DEPTH) -> None:
    """Raise UnsafeJson when a JSON text nests deeper than `limit`; linear, without recursion or parsing.

    Past an unmatched closing bracket the count may fall short, but a parser stops there anyway.
    """
    if text.count("[") + text.count("{") <= limit:
        return  # cannot be deeper: the common case costs two counts
    brackets = _STRING.sub("", text).encode("utf-8", "surrogatepass").translate(None, _NOT_BRACKET)
    codes = np.frombuffer(brackets, dtype=np.uint8)
    depth = np.cumsum(np.where((codes == ord("[")) | (codes == ord("{")), 1, -1))
    if int(depth.max(initial=0)) > limit:
        raise UnsafeJson(f"nested deeper than {limit} levels")


def clean_text(text: str) -> str:
    """Text any store can hold: lone surrogates become U+FFFD, control characters but tab/newlines go."""
    if _UNSAFE_CHAR.search(text) is None:
        return text
    return _UNSAFE_CHAR.sub(lambda m: "\ufffd" if m.group() >= "\ud800" else "", text)


def clean(value: Any) -> Any:
    """`clean_text` applied to every string (keys included) of a parsed JSON value, iteratively, in place."""
    if isinstance(value, str):
        return clean_text(value)
    stack = [value] if isinstance(value, dict | list) else []
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            for key in [k for k in node if isinstance(k, str) and _UNSAFE_CHAR.search(k)]:
                node[clean_text(key)] = node.pop(key)
            items = node.items()
        else:
            items = enumerate(node)
        for key, item in list(items):
            if isinstance(item, str):
                node[key] = clean_text(item)
            elif isinstance(item, dict | list):
                stack.append(item)
    return value


def _refuse_constant(name: str) -> Any:
    raise UnsafeJson(f"{name} is not a JSON number")


def _finite_float(literal: str) -> float:
    number = float(literal)
    if not math.isfinite(number):
        raise UnsafeJson(f"number {literal[:40]} is out of range")
    return number


def _bounded_int(literal: str) -> int:
    digits = len(literal.lstrip("-"))
    if digits > MAX_INT_DIGITS:
        raise UnsafeJson(f"an integer of {digits} digits is out of range (at most {MAX_INT_DIGITS})")
    return int(literal)


def loads(data: str | bytes, max_depth: int = MAX_DEPTH) -> Any:
    """Parse JSON text (bytes must be UTF-8) with the checks above; raises ValueError (UnsafeJson,
    json.JSONDecodeError or UnicodeDecodeError, all ValueErrors) naming the problem."""
    if isinstance(data, bytes | bytearray):
        try:
            text = bytes(data).decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise UnsafeJson(f"not valid UTF-8 (byte offset {exc.start})") from None
    else:
        text = data
    check_depth(text, max_depth)
    value = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float, parse_int=_bounded_int)
    return clean(value) if _may_hold_unsafe(text) else value


def _may_hold_unsafe(text: str) -> bool:
    # Substring tests and isascii() run in C without a regex; most bodies stop here.
    if "\\u" in text and _UNSAFE_ESCAPE.search(text) is not None:
        return True
    return "\x7f" in text or (not text.isascii() and _SURROGATE.search(text) is not None)
