"""`caseworker train` and `caseworker models list|show|promote|rollback`: one model per tenant, versioned."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Annotated

import typer
from rich.table import Table

from caseworker.cli_common import DataDir, components_for, err, fail

models_app = typer.Typer(help="The local models per tenant: versions, metrics, promotion and rollback.")

TenantOption = Annotated[str | None, typer.Option("--tenant", help="One tenant (default: every tenant).")]


class PromoteWhen(StrEnum):
    auto = "auto"
    always = "always"
    never = "never"


def train_command(
    tenant: TenantOption = None,
    promote: Annotated[
        PromoteWhen,
        typer.Option(help="auto: only when not worse than the champion on the holdout; always; never."),
    ] = PromoteWhen.auto,
    tune_encoder: Annotated[
        bool,
        typer.Option(
            help="First fine-tune the embedding model on this data dir's one tenant's labelled history, "
            "re-embed everything with it and then train on it (pip install 'caseworker[tune]')."
        ),
    ] = False,
    time_budget: Annotated[
        float, typer.Option(min=5, help="With --tune-encoder: seconds the tuning (export included) may take.")
    ] = 600.0,
    objective: Annotated[str, typer.Option(help="With --tune-encoder: head (default) or pairs (SetFit).")] = "head",
    quantize: Annotated[
        str, typer.Option(help="With --tune-encoder: auto (int8 when it keeps the vectors), always or never.")
    ] = "auto",
    data_dir: DataDir = None,
) -> None:
    """Train a candidate model per tenant on its labelled history (the gate decides whether it serves), and
    rebuild the routing skill profiles from resolutions that name their resolver."""
    from agent.local_model import ModelNotTrainedError
    from agent.training import report_lines

    components = components_for(data_dir)
    if tune_encoder:
        from caseworker.cli_tune import tune_then_train

        if objective not in ("head", "pairs") or quantize not in ("auto", "always", "never"):
            raise fail("--objective is head or pairs; --quantize is auto, always or never")
        components = tune_then_train(components, tenant, time_budget, objective, quantize)
        # The old champion was trained on the stock vectors and cannot be served with these.
        promote = PromoteWhen.always
    problem: ModelNotTrainedError | None = None
    reports = []
    with err.status("Training...") as status:
        try:
            reports = components.train(tenant, promote=promote.value,
                                       progress=lambda message: status.update(f"Training: {message}"))  # fmt: skip
        except ModelNotTrainedError as exc:
            problem = exc
        status.update("Building routing skill profiles...")
        profiled = components.build_routing_profiles()
    if problem is not None and not profiled:
        raise fail(str(problem))
    for report in reports:
        for line in report_lines(report):
            err.print(line, highlight=False, markup=False)
    if problem is not None:
        err.print(f"[yellow]warning:[/yellow] no classifier trained: {problem}", highlight=False)
    if profiled:
        label = components.settings.routing_person_label
        tenants = ", ".join(f"{name} {n}" for name, n in sorted(profiled.items()))
        err.print(f"routing profiles from resolutions naming their {label!r}: {tenants}", highlight=False)


@models_app.command("list")
def list_models(tenant: TenantOption = None, data_dir: DataDir = None) -> None:
    """Every model version, newest first per tenant, with its state and holdout scores."""
    workspace = components_for(data_dir)
    table = Table(title="Models")
    for column in ("tenant", "version", "state", "created", "trained on", "holdout macro-F1"):
        table.add_column(column, no_wrap=column != "holdout macro-F1")
    for record in workspace.registry.list(tenant):
        scores = ", ".join(f"{k} {v['macro_f1']:.3f}" for k, v in record.report.get("holdout", {}).items())
        table.add_row(record.tenant, record.version, record.state, record.created_at[:19], str(record.n_train),
                      scores or "-")  # fmt: skip
    err.print(table)


@models_app.command("show")
def show_model(version: str, data_dir: DataDir = None) -> None:
    """One model's report: fields, holdout scores, the champion it was compared with, the gate's reasons."""
    record = components_for(data_dir).registry.get(version)
    if record is None:
        raise fail(f"no model {version}")
    typer.echo(json.dumps(record.as_dict(), indent=2, sort_keys=True))


@models_app.command("promote")
def promote_model(version: str, data_dir: DataDir = None) -> None:
    """Serve this version for its tenant now (bypasses the gate; audited). Running services switch at once."""
    from knowledge.model_registry import RegistryError

    try:
        record = components_for(data_dir).registry.promote(version, reason="promoted by hand", actor="cli")
    except RegistryError as exc:
        raise fail(str(exc)) from exc
    err.print(f"{record.version} is now the champion of tenant {record.tenant}")


@models_app.command("rollback")
def rollback_model(
    tenant: Annotated[str, typer.Option("--tenant", help="The tenant whose previous champion comes back.")] = "default",
    data_dir: DataDir = None,
) -> None:
    """Restore the tenant's previous champion (audited). Running services switch at once."""
    from knowledge.model_registry import RegistryError

    try:
        record = components_for(data_dir).registry.rollback(tenant, actor="cli")
    except RegistryError as exc:
        raise fail(str(exc)) from exc
    err.print(f"{record.version} is the champion of tenant {record.tenant} again")


def stats_command(
    tenant: TenantOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
    data_dir: DataDir = None,
) -> None:
    """How reviewers answer the model, per tenant: approvals, corrections per field, draft edits, auto-resolves."""
    from insights.feedback_stats import all_stats

    workspace = components_for(data_dir)
    stats = all_stats(workspace.history, workspace.registry, tenant)
    if as_json:
        typer.echo(json.dumps(stats, indent=2, sort_keys=True))
        return
    for item in stats:
        rate = item["approval_rate"]
        edits = item["draft_edits"]
        auto = item["auto_resolve"]
        err.print(
            f"[bold]tenant {item['tenant']}[/bold]: decisions {item['decisions'] or 'none'}, approval rate "
            f"{'-' if rate is None else f'{rate:.1%}'}; edited replies {edits['edited_replies']} (mean edit "
            f"distance {edits['mean_edit_distance'] if edits['mean_edit_distance'] is not None else '-'}); "
            f"auto-resolved {auto.get('count', 0)}, came back {auto.get('came_back', 0)}",
            highlight=False,
        )
        table = Table("field", "seen", "corrected", "correction rate")
        for name, row in item["fields"].items():
            table.add_row(name, str(row["seen"]), str(row["corrected"]), f"{row['correction_rate']:.1%}")
        if item["fields"]:
            err.print(table)
        for model in item["models"]:
            err.print(f"  model {model['version']} {model['state']} (created {model['created_at'][:19]})",
                      highlight=False, markup=False)  # fmt: skip


def drift_command(
    tenant: TenantOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    data_dir: DataDir = None,
) -> None:
    """Population stability index of each champion's recent predictions vs its training data; alerts are
    recorded as `drift_alert` audit events. Exits 1 when any field crosses CASEWORKER_DRIFT_THRESHOLD."""
    from dataclasses import asdict

    from insights.drift import drift, raise_alerts

    workspace = components_for(data_dir)
    s = workspace.settings
    tenants = [tenant] if tenant else workspace.registry.tenants()
    rows = [r for t in tenants for r in drift(workspace.history, workspace.registry, t, s.drift_window,
                                              s.drift_threshold)]  # fmt: skip
    raise_alerts(workspace.history, rows)
    if as_json:
        typer.echo(json.dumps([asdict(r) for r in rows], indent=2))
    else:
        table = Table("tenant", "field", "view", "PSI", "recent", "model", "alert", title="Drift (PSI)")
        for r in rows:
            table.add_row(
                r.tenant, r.field, r.view, f"{r.psi:.3f}", str(r.n_recent), r.model, "ALERT" if r.alert else ""
            )
        err.print(table if rows else "no champion has enough recent results to compare (needs 50)")
    if any(r.alert for r in rows):
        raise typer.Exit(1)
