"""Knowledge-base articles from a folder of Markdown files (optional `---` front matter).

Like the ticket importer, a bad file never stops the rest: it becomes a `Reject`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from knowledge.importers import ImportFileError
from knowledge.rejects import Reject, WritesRejects
from knowledge.schemas import DEFAULT_TENANT, Article, stable_id


@dataclass
class KBImport(WritesRejects):
    articles: list[Article] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)
    files_read: int = 0


def read_kb(directory: Path, *, tenant: str = DEFAULT_TENANT) -> KBImport:
    """Articles from every `*.md` under `directory` (recursive, in path order)."""
    directory = Path(directory)
    if not directory.is_dir():
        raise ImportFileError(directory, "not a directory")
    files = sorted(
        (p for p in directory.rglob("*.md") if p.is_file()),
        key=lambda p: p.relative_to(directory).as_posix(),
    )
    result = KBImport()
    first_seen: dict[tuple[str, str], str] = {}
    for file in files:
        relative = file.relative_to(directory)
        if any(part.startswith(".") for part in relative.parts):
            continue  # .git, editor backups and the like are not articles
        result.files_read += 1
        article_or_reject = _read_article(file, relative, tenant)
        if isinstance(article_or_reject, Reject):
            result.rejects.append(article_or_reject)
            continue
        article = article_or_reject
        key = (article.tenant, article.id)
        if key in first_seen:
            reason = f"duplicate id {article.id!r}, first seen in {first_seen[key]}"
            result.rejects.append(Reject(str(file), 1, "id", reason))
            continue
        first_seen[key] = str(file)
        result.articles.append(article)
    return result


def _read_article(file: Path, relative: Path, tenant: str) -> Article | Reject:
    name = str(file)
    try:
        raw = file.read_bytes()
    except OSError as exc:
        return Reject(name, 1, "file", f"cannot read: {exc.strerror or exc}")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        bad_line = raw[: exc.start].count(b"\n") + 1
        return Reject(name, 1, "file", f"not valid UTF-8 (byte 0x{raw[exc.start]:02x} on line {bad_line})")
    lines = text.replace("\r\n", "\n").split("\n")
    meta: dict[str, str] = {}
    if lines and lines[0].strip() == "---":
        closing = next((i for i in range(1, len(lines)) if lines[i].strip() == "---"), None)
        if closing is None:
            return Reject(name, 1, "front_matter", "opening '---' has no closing '---'")
        meta = _front_matter(lines[1:closing])
        lines = lines[closing + 1 :]
    body = "\n".join(lines).strip()
    if not body:
        return Reject(name, 1, "body", "empty body")
    title = meta.get("title") or next((h for h in map(_h1_title, body.split("\n")) if h), file.stem)
    data: dict[str, Any] = {
        "id": meta.get("id") or f"kb-{_slug(relative.with_suffix('').as_posix())}",
        "title": title,
        "body": body,
        "tenant": meta.get("tenant") or tenant,
        "category": meta.get("category") or None,
        "tags": [tag.strip() for tag in meta.get("tags", "").strip("[]").split(",") if tag.strip()],
        "source": relative.as_posix(),
    }
    try:
        return Article.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"]) or "file"
        return Reject(name, 1, where, str(error["msg"]).removeprefix("Value error, "))


def _h1_title(line: str) -> str | None:
    """The title of a Markdown `# Title #` line, else None. String operations, not a pattern: the
    pattern this replaces (`^#\s+(.+?)\s*#*\s*$`) backtracked cubically on a run of inner spaces."""
    if len(line) < 3 or line[0] != "#" or not line[1].isspace():
        return None
    inner = line[1:].strip()
    return inner.rstrip("#").rstrip() or inner or None


def _front_matter(lines: list[str]) -> dict[str, str]:
    meta: dict[str, str] = {}
    for line in lines:
        if not line.strip() or line.lstrip().startswith("#") or ":" not in line:
            continue
        key, _, value = line.partition(":")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        meta[key.strip().lower()] = value
    return meta


def _slug(text: str) -> str:
    slug = re.sub(r"[\W_]+", "-", text.lower()).strip("-")
    # A path of only punctuation still needs a stable, unique id.
    return slug or stable_id(text).removeprefix("t-")
