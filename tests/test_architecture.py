"""The house's import arrows (DESIGN.md): `caseworker → service, evals, finetune, insights → agent → tools →
knowledge`; config sits under caseworker, service and evals only; nothing imports caseworker."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: Each folder and the project folders it may import (besides itself).
ALLOWED = {
    "knowledge": set(),
    "tools": {"knowledge"},
    "prompts": set(),
    "agent": {"tools", "knowledge", "prompts"},
    "insights": {"agent", "tools", "knowledge"},
    # Fine-tuning examples carry the system prompt the model will be served with.
    "finetune": {"knowledge", "agent", "tools", "prompts"},
    "config": {"agent", "tools", "knowledge", "insights"},
    "evals": {"config", "agent", "tools", "knowledge", "insights"},
    # The service renders the helpdesk note from its template file under prompts/.
    "service": {"config", "agent", "tools", "knowledge", "insights", "finetune", "prompts"},
}
PROJECT = set(ALLOWED) | {"caseworker"}


def _modules(path: Path) -> set[str]:
    """Every module `path` imports (`from a.b import c` gives a.b and a.b.c)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def _imports(path: Path) -> set[str]:
    return {name.split(".")[0] for name in _modules(path)} & PROJECT


def test_imports_follow_the_arrows() -> None:
    wrong = []
    for folder, allowed in ALLOWED.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            for top in _imports(path) - allowed - {folder}:
                wrong.append(f"{path.relative_to(ROOT)} imports {top}")
    assert not wrong, "\n".join(wrong)


def test_the_graph_knows_no_queue_review_table_or_http() -> None:
    forbidden = ("knowledge.jobs", "knowledge.reviews.ReviewBook", "httpx", "fastapi", "starlette")
    found = [
        f"{path.relative_to(ROOT)}: {name}"
        for path in sorted((ROOT / "agent").rglob("*.py"))
        for name in _modules(path)
        if name.startswith(forbidden)
    ]
    assert not found, found
