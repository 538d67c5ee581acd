"""What every `caseworker` sub-command shares: the error console, exit codes, settings and the workspace."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from config.settings import Settings

if TYPE_CHECKING:
    from config.components import Components

err = Console(stderr=True, soft_wrap=True)  # messages name files and lines: never wrap them
EXIT_REJECTS = 1
EXIT_USAGE = 2

DataDir = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Data dir (Chroma, SQLite, models). Env: CASEWORKER_DATA_DIR.", show_default=False),
]


class Mode(StrEnum):
    local = "local"
    llm = "llm"
    cascade = "cascade"


Tenant = Annotated[str | None, typer.Option("--tenant", help="Tenant for rows that name none (default: 'default').")]
LabelValues = Annotated[
    list[str] | None,
    typer.Option(
        "--values",
        help="FIELD=RAW:NORM[,RAW:NORM]: your label codes onto ours, e.g. --values priority=1:P0,2:P1,3:P2,4:P3 "
        "(repeatable). Mapped values are then normalised and checked like any other.",
    ),
]
LabelValuesFile = Annotated[
    Path | None,
    typer.Option("--values-file", help='TOML or JSON of the same: [priority] "1" = "P0" / {"priority": {"1": "P0"}}.'),
]


def settings_for(data_dir: Path | None, **options: object) -> Settings:
    overrides: dict[str, object] = {"data_dir": data_dir} if data_dir is not None else {}
    overrides.update({key: value for key, value in options.items() if value is not None})
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = "; ".join(f"CASEWORKER_{'.'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in exc.errors())
        raise fail(f"invalid settings: {problems}") from exc


def components_for(data_dir: Path | None, **options: object) -> Components:
    # Imported here: loading the graph, Chroma and onnxruntime would make `--help` take seconds.
    from config.components import Components

    return Components(settings_for(data_dir, **options))


@contextmanager
def progress_bar(description: str, total: int) -> Iterator[Progress]:
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err, transient=False) as progress:
        progress.add_task(description, total=total)
        yield progress


def fail(message: str, code: int = EXIT_USAGE) -> typer.Exit:
    err.print(f"[red]error:[/red] {message}")
    return typer.Exit(code)
