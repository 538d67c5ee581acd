"""`caseworker serve`, `caseworker worker` and `caseworker jobs`: the helpdesk service and its queue.

Heavy imports (FastAPI, the graph, Chroma) happen inside the commands so `--help` stays fast.
"""

from __future__ import annotations

import json
import logging
import signal
import threading
from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from caseworker.terminal import markup_safe, plain

if TYPE_CHECKING:
    from config.settings import Settings
    from service.queue import JobQueue

err = Console(stderr=True, soft_wrap=True)
out = Console(soft_wrap=True)
EXIT_USAGE = 2

DataDirOption = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Data dir (Chroma, SQLite, models). Env: CASEWORKER_DATA_DIR.", show_default=False),
]

jobs_app = typer.Typer(
    help="Inspect and retry the durable job queue (triage and write-back jobs).", no_args_is_help=True
)


def _settings(data_dir: Path | None) -> Settings:
    from caseworker.cli import settings_for

    return settings_for(data_dir)


def _queue(data_dir: Path | None) -> JobQueue:
    from knowledge.history import History
    from service.queue import JobQueue

    settings = _settings(data_dir)
    path = settings.history_path
    if settings.database_url is None and not path.is_file():
        err.print(f"[red]error:[/red] no history at {path}: nothing was ever queued there (wrong --data-dir?)")
        raise typer.Exit(EXIT_USAGE)
    return JobQueue(History(path, settings.database_url))


def _warn_untrained(settings: Settings) -> None:
    from knowledge.history import History
    from knowledge.model_registry import ModelRegistry

    with closing(History(settings.history_path, settings.database_url)) as history:
        tenants = ModelRegistry(history).tenants()
    if not tenants:
        err.print(f"[yellow]warning:[/yellow] no trained model in {settings.data_dir}: run `caseworker ingest tickets` "
                  "and `caseworker train` first; until then triage runs on rules only")  # fmt: skip


def _logging(level: str) -> None:
    logging.basicConfig(level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def serve_command(
    data_dir: DataDirOption = None,
    host: Annotated[
        str, typer.Option(help="Interface to bind. Beyond loopback needs CASEWORKER_API_TOKEN (32+ characters).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8080,
    workers: Annotated[
        int,
        typer.Option(min=0, help="Worker threads in this process; 0 = intake only (run `caseworker worker`)."),
    ] = 1,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "info",
) -> None:
    """Run the helpdesk service: signed webhooks (202 + job id before any triage), worker threads, the
    review page at /review, the API (OpenAPI at /docs), /livez, /readyz and /metrics."""
    import uvicorn

    from service.app import create_app
    from service.auth import UnsafeBind, check_bind

    settings = _settings(data_dir)
    try:
        check_bind(host, settings.api_token.get_secret_value() if settings.api_token else None)
    except UnsafeBind as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(EXIT_USAGE) from exc
    _logging(log_level)
    if workers:
        _warn_untrained(settings)
    from tools.helpdesk.registry import CONNECTORS

    configured = [connector.name for connector in CONNECTORS if connector.secret(settings)]
    err.print(f"Webhooks configured: {', '.join(configured) or 'none (set CASEWORKER_<SOURCE>_SECRET)'}")
    err.print(f"Review page: http://{host}:{port}/review  API docs: http://{host}:{port}/docs")
    uvicorn.run(create_app(settings, workers=workers), host=host, port=port, log_level=log_level)


def worker_command(
    data_dir: DataDirOption = None,
    concurrency: Annotated[int, typer.Option(min=1, help="Worker threads in this process.")] = 1,
    once: Annotated[bool, typer.Option("--once", help="Drain the queue, then exit.")] = False,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "info",
) -> None:
    """Run queued jobs (triage and write-back) without serving HTTP. Safe to run several: jobs are leased,
    and a worker that dies leaves its job to be picked up again when the lease lapses."""
    from service.runtime import ServiceRuntime
    from service.worker import Worker, start_workers

    _logging(log_level)
    settings = _settings(data_dir)
    _warn_untrained(settings)
    runtime = ServiceRuntime(settings)
    stop = threading.Event()
    if once:
        done = Worker(runtime, stop).run_until_idle()
        err.print(f"{done} job(s) run; queue: {runtime.queue.depth()}")
        return
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    runtime.context  # noqa: B018 - load the model before claiming anything, so the first lease isn't spent loading
    threads = start_workers(runtime, concurrency, stop)
    err.print(f"{concurrency} worker(s) running on {runtime.settings.data_dir}; Ctrl+C to stop")
    while not stop.wait(1.0):
        pass
    for thread in threads:
        thread.join(timeout=120)
    runtime.close()


@jobs_app.command("list")
def jobs_list(
    data_dir: DataDirOption = None,
    state: Annotated[str | None, typer.Option(help="queued, running, done, failed or dead.")] = None,
    kind: Annotated[str | None, typer.Option(help="triage or writeback.")] = None,
    limit: Annotated[int, typer.Option(min=1)] = 50,
) -> None:
    """The newest jobs, with the queue depth by state."""
    queue = _queue(data_dir)
    table = Table()
    for column in ("job", "kind", "ticket", "state", "tries"):
        table.add_column(column, no_wrap=True)
    table.add_column("updated")
    table.add_column("last error", overflow="fold")
    for job in queue.list(state=state, kind=kind, limit=limit):
        table.add_row(plain(job.id), job.kind, plain(job.ticket_id, 200), job.state, str(job.attempts),
                      job.updated_at[:19], plain(job.last_error, 80))  # fmt: skip
    out.print(table)
    out.print("queue: " + ", ".join(f"{k} {v}" for k, v in queue.depth().items()))


@jobs_app.command("show")
def jobs_show(job_id: Annotated[str, typer.Argument(help="Job id (j-…).")], data_dir: DataDirOption = None) -> None:
    """One job as JSON: state, attempts, lease, last error, payload."""
    job = _queue(data_dir).get(job_id)
    if job is None:
        err.print(f"[red]error:[/red] no job {markup_safe(job_id, 200)}")
        raise typer.Exit(EXIT_USAGE)
    # ensure_ascii: every control, bidi and surrogate character prints as a \u escape, never raw.
    out.print_json(json.dumps({**job.as_dict(), "payload": json.loads(job.payload)}, default=str), ensure_ascii=True)


@jobs_app.command("retry")
def jobs_retry(
    job_ids: Annotated[list[str] | None, typer.Argument(help="Job ids to retry.")] = None,
    data_dir: DataDirOption = None,
    all_dead: Annotated[bool, typer.Option("--all-dead", help="Retry every dead job.")] = False,
) -> None:
    """Queue failed or dead jobs again with a fresh attempt budget."""
    queue = _queue(data_dir)
    ids = list(job_ids or []) + ([j.id for j in queue.list(state="dead", limit=100_000)] if all_dead else [])
    if not ids:
        err.print("[red]error:[/red] name job ids, or pass --all-dead")
        raise typer.Exit(EXIT_USAGE)
    problems = 0
    for job_id in ids:
        try:
            queue.retry(job_id)
            out.print(f"{markup_safe(job_id, 200)}: queued")
        except KeyError:
            err.print(f"[red]error:[/red] no job {markup_safe(job_id, 200)}")
            problems += 1
        except ValueError as exc:
            err.print(f"[red]error:[/red] {markup_safe(str(exc), 500)}")
            problems += 1
    if problems:
        raise typer.Exit(1)
