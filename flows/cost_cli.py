"""`rb plan` and `rb batches list|cancel`: cost before a build, and the batches a build left running."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

batches_app = typer.Typer(help="Provider batches a build created (batch: true models).")

CONFIG = typer.Option(..., "--config", "-c", help="Benchmark-version config (YAML).")
VERSION = typer.Option(None, "--version", help="Override the config's version name.")


def _config(config: Path, version: Optional[str]):  # type: ignore[no-untyped-def]
    from pipeline.core.config import ConfigError, load_config

    try:
        return load_config(config, version)
    except ConfigError as exc:
        typer.secho(f"error: {exc}", fg="red", err=True)
        raise typer.Exit(2) from None


def plan(config: Path = CONFIG, version: Optional[str] = VERSION,
         as_json: bool = typer.Option(False, "--json", help="Print the plan as JSON.")) -> None:  # fmt: skip
    """Requests, tokens and cost per stage and model, without sending anything."""
    from pipeline.cost.plan import build_plan, plan_markdown

    cfg = _config(config, version)
    result = build_plan(cfg, Path.cwd(), cache_path=Path(cfg.lm_cache))
    typer.echo(json.dumps(result, indent=1) if as_json else plan_markdown(result))


def _store(cfg) -> "BatchStore":  # type: ignore[no-untyped-def, name-defined]  # noqa: F821
    from pipeline.lm.batch import BatchStore

    from pipeline.core.run_location import local_run_dir

    return BatchStore(local_run_dir(cfg, Path(".")) / "batches")


@batches_app.command("list")
def list_batches(config: Path = CONFIG, version: Optional[str] = VERSION) -> None:
    """The batches this version's builds created, with their last known state."""
    saved = _store(_config(config, version)).all()
    if not saved:
        typer.echo("no batches saved for this version")
    for b in saved:
        typer.echo(f"{b.batch_id}  {b.provider:9}  {b.model}  {len(b.custom_ids)} requests  {b.state}"
                   f"{'  (' + b.last_status + ')' if b.last_status else ''}")  # fmt: skip


@batches_app.command("cancel")
def cancel_batches(config: Path = CONFIG, version: Optional[str] = VERSION) -> None:
    """Ask the providers to cancel every open batch; a later build reads what they had answered."""
    from pipeline.lm.batch import batch_provider

    cfg = _config(config, version)
    store = _store(cfg)
    open_batches = [b for b in store.all() if b.state == "open"]
    for b in open_batches:
        provider = batch_provider(cfg.model(b.model))
        try:
            status = provider.cancel(b.batch_id)
        finally:
            provider.close()
        store.mark(b.batch_id, "cancel", status)
        typer.echo(f"{b.batch_id}: {status}")
    if not open_batches:
        typer.echo("no open batches")


def register(app: typer.Typer) -> None:
    app.command("plan")(plan)
    app.add_typer(batches_app, name="batches")
