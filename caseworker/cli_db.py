"""`caseworker db migrate` and `caseworker db copy --to URL`: schema upgrades, and moving to Postgres."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from caseworker.cli_common import DataDir, err, fail, settings_for
from config.settings import Settings

db_app = typer.Typer(help="The history database: schema migrations, and copying it to Postgres.")


@db_app.command("migrate")
def migrate_command(data_dir: DataDir = None) -> None:
    """Create the tables and apply the schema migrations the database lacks (every process does the same when
    it opens the database; run this to upgrade ahead of a deploy and see what was applied)."""
    from knowledge.history import History
    from knowledge.migrations import LATEST, applied_versions

    settings = settings_for(data_dir)
    history = History(settings.history_path, settings.database_url)
    try:
        versions = sorted(applied_versions(history.db))
        where = "Postgres" if history.dialect == "postgres" else str(settings.history_path)
        err.print(f"{where}: schema migrations {versions[0] if versions else 0}..{versions[-1] if versions else 0} "
                  f"of {LATEST} applied", highlight=False)  # fmt: skip
    finally:
        history.close()


@db_app.command("copy")
def copy_command(
    to: Annotated[str, typer.Option("--to", help="postgresql://… of an empty database (or schema) to copy into.")],
    chroma_to: Annotated[
        str | None, typer.Option("--chroma-to", help="Also copy the vector store to this Chroma server (http://…).")
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """Copy everything in the configured database (tickets, results, audit, jobs, reviews, escalations, models,
    taxonomy) into an empty Postgres database, then compare row counts table by table. Exits 1 on a mismatch."""
    from knowledge.db import is_postgres_url
    from knowledge.db_copy import CopyError, copy_database
    from knowledge.history import History

    if not is_postgres_url(to):
        raise fail("--to must be a postgresql:// URL")
    settings = settings_for(data_dir)
    source = History(settings.history_path, settings.database_url)
    target = History(settings.history_path, to)
    try:
        with err.status("Copying...") as status:
            counts = copy_database(source, target, lambda table, n: status.update(f"Copying {table}..."))
    except CopyError as exc:
        raise fail(str(exc)) from exc
    finally:
        source.close()
        target.close()
    table = Table("table", "source rows", "copied rows", "", title=f"Copied to {to.split('@')[-1]}")
    for count in counts:
        table.add_row(count.table, str(count.source), str(count.target), "ok" if count.ok else "MISMATCH")
    err.print(table)
    if chroma_to:
        _copy_vectors(settings_for(data_dir), chroma_to)
    if not all(c.ok for c in counts):
        raise typer.Exit(1)
    err.print(
        f"done: set CASEWORKER_DATABASE_URL={to!r}" + (f" and CASEWORKER_CHROMA_URL={chroma_to!r}" if chroma_to else "")
    )


def _copy_vectors(settings: Settings, chroma_to: str) -> None:
    from knowledge.embeddings import local_embedder
    from knowledge.store import KnowledgeStore

    embedder = local_embedder(settings.embedding_threads)
    source = KnowledgeStore(settings.chroma_dir, embedder, url=settings.chroma_url)
    target = KnowledgeStore(settings.chroma_dir, embedder, url=chroma_to)
    if any(target.counts().values()):
        raise fail(f"the Chroma server at {chroma_to} already holds records: copy into an empty one")
    with err.status("Copying vectors..."):
        source.copy_into(target)
    before, after = source.counts(), target.counts()
    for name in before:
        err.print(f"{name}: {before[name]} → {after[name]} {'ok' if before[name] == after[name] else 'MISMATCH'}")
    if before != after:
        raise typer.Exit(1)
