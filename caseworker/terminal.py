"""Client text (ticket ids, subjects, stored errors) made inert before it reaches an operator's terminal.

Webhook senders choose ticket ids and subjects, and errors quote them. Printed raw, an escape sequence
can clear the screen, retitle the window or forge lines; a bidi override reorders what the operator
reads; and Rich would read `[red]` as markup. `terminal_safe` drops escape sequences and turns every
other control, format, surrogate or line-separator character into U+FFFD (a tab, newline or carriage
return into a space); `plain` wraps the result in a `Text`, which Rich never parses for markup.
"""

from __future__ import annotations

import re
import unicodedata

from rich.markup import escape
from rich.text import Text

#: CSI (`ESC [` ... final byte, or the 8-bit CSI), OSC/DCS/APC/PM/SOS strings (up to BEL or ST), and
#: the other escapes (`ESC c` resets, `ESC ( B` picks a charset): the shapes a terminal acts on.
_ESCAPES = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]"
    r"|(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c]{0,4096}(?:\x07|\x1b\\|\x9c)?"
    r"|\x1b[ -/]*[0-~]"
)
_SPACES = str.maketrans({"\t": " ", "\n": " ", "\r": " "})
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
REPLACEMENT = "\ufffd"


def terminal_safe(text: str, max_chars: int | None = None) -> str:
    """`text` with nothing a terminal would act on; cut to `max_chars` first (the work stays bounded)."""
    if max_chars is not None:
        text = text[:max_chars]
    text = _ESCAPES.sub("", text).translate(_SPACES)
    if text.isprintable():  # the common case: no control, format or separator character at all
        return text
    return "".join(REPLACEMENT if unicodedata.category(c) in _UNSAFE_CATEGORIES else c for c in text)


def plain(text: str | None, max_chars: int | None = None) -> Text:
    """A table cell or message part from client text: inert, and never parsed as Rich markup."""
    return Text(terminal_safe(text or "", max_chars))


def markup_safe(text: str, max_chars: int | None = None) -> str:
    """Client text to put inside a Rich markup string (`f"[red]error:[/red] {markup_safe(x)}"`)."""
    return escape(terminal_safe(text, max_chars))
