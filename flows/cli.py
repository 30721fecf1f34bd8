"""`rb`: the command line. Thin: it parses arguments and calls flows or the library."""

from __future__ import annotations

import json
import os
import signal
import threading
from pathlib import Path
from typing import Any, NoReturn, Optional

import typer

from flows.prefect_server import ServerError, start_private_server
from flows.ui import report_to_running_ui, run_ui

app = typer.Typer(add_completion=False, help="Build, validate and publish reward-model benchmarks.")
models_app = typer.Typer(help="Local models shipped in PyPI packages.")
app.add_typer(models_app, name="models")


def _quiet_prefect() -> None:
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_UI_ENABLED", "false")
    # The library's own log lines (each LM retry, engines started and stopped) go to the run's
    # logs in the Prefect UI and to the console, next to the tasks they belong to.
    os.environ.setdefault("PREFECT_LOGGING_EXTRA_LOGGERS", "pipeline")


def _interrupt_on_signals() -> threading.Event:
    """Ctrl-C and SIGTERM both take the KeyboardInterrupt path, whose clean-up stops every engine
    the build started; the event remembers that it happened."""
    interrupted = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        interrupted.set()
        signal.default_int_handler(signum, frame)

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, on_signal)
    return interrupted


def _exit_interrupted() -> NoReturn:
    # The engines were stopped on the way out; finished LM answers are in the response cache.
    typer.secho("interrupted: run the same command again to resume (finished requests are not resent); "
                "provider batches (batch: true models) keep running and are resumed, not resubmitted: "
                "`rb batches list --config FILE` shows them, `rb batches cancel --config FILE` cancels them",
                fg="yellow", err=True)  # fmt: skip
    raise typer.Exit(130) from None


@app.command()
def build(
    config: Path = typer.Option(..., "--config", "-c", help="Benchmark-version config (YAML)."),
    version: Optional[str] = typer.Option(None, "--version", help="Override the config's version name."),
    review: bool = typer.Option(False, "--review", help="Pause after labeling for a review in the Prefect UI "
                                "(the config's `review:` settings, or 3 items per subset and a 1-hour timeout)."),
) -> None:
    """Run the whole build flow for one benchmark version."""
    from pipeline.core.config import ConfigError, load_config
    from pipeline.core.run_location import local_run_dir
    from pipeline.decontam.embed import EmbeddingError
    from pipeline.evaluate.dataset import DatasetError
    from pipeline.evaluate.validate import ReleaseValidationError
    from pipeline.core.io import RunLocked
    from pipeline.core.s3_options import StoreError
    from pipeline.lm import LMError
    from pipeline.core.sources import SourceError

    try:
        cfg = load_config(config, version)  # fail on a bad config before starting Prefect
        missing = cfg.missing_prompt_files(Path.cwd())
        if missing:
            raise ConfigError(f"{config}: prompt templates not found under {cfg.prompts_dir}/: {', '.join(missing)}")
    except ConfigError as exc:
        typer.secho(f"error: {exc}", fg="red", err=True)
        raise typer.Exit(2) from None
    _quiet_prefect()
    interrupted = _interrupt_on_signals()
    try:
        # `rb ui` running here: the build shows up in its UI. No server at all: one of our own.
        if report_to_running_ui(typer.echo) is None and not os.environ.get("PREFECT_API_URL"):
            start_private_server(local_run_dir(cfg, Path(".")) / ".prefect/server.log", typer.echo)
        from flows.build import build as build_flow

        summary = build_flow(config_path=str(config), version=version, review=review)
    except KeyboardInterrupt:
        _exit_interrupted()
    except (
        LMError, SourceError, EmbeddingError, ReleaseValidationError, DatasetError, RunLocked, ServerError,
        StoreError,
    ) as exc:  # fmt: skip
        if interrupted.is_set():
            _exit_interrupted()
        typer.secho(f"error: {exc}", fg="red", err=True)
        raise typer.Exit(1) from None
    except Exception:
        # A terminal's Ctrl-C reaches a server started outside `rb` in the same terminal too; the
        # error its death causes on the way out must not hide the interrupt.
        if interrupted.is_set():
            _exit_interrupted()
        raise
    lm = summary["lm_requests"]
    typer.echo(f"\nBuilt {summary['version']}: {summary['items']} items")
    typer.echo(f"  release (RB2 schema): {summary['release']}")
    if summary.get("release_url"):
        typer.echo(f"  release in the store: {summary['release_url']}")
    typer.echo(f"  Hub-layout folder:    {summary['hub_folder']}")
    typer.echo(f"  evaluation report:    {summary['report']}")
    typer.echo(f"  LM requests: {lm['sent']} sent ({lm['retries']} retries), {lm['cache_hits']} from cache, "
               f"{lm['failed']} failed")  # fmt: skip
    if lm["failed"]:
        typer.echo("  failed requests are failed items in the decision log; run again to retry just those")
    if summary.get("review"):
        from pipeline.label.review import review_line

        typer.echo(f"  {(review_line(summary['review']) or '').removeprefix('- ').replace('**', '')}")


@app.command()
def publish(
    version: str = typer.Option(..., "--version", help="The built version to publish (outputs/VERSION/hub)."),
    repo: str = typer.Option(..., "--repo", help="Hub dataset repo, ORG/NAME (created if missing)."),
    private: bool = typer.Option(False, "--private", help="Create the repo private (an existing repo keeps its visibility)."),
    create_pr: bool = typer.Option(False, "--create-pr", help="Open a pull request instead of committing to main."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show what would be uploaded, deleted and tagged; change nothing."),
    output_dir: Path = typer.Option(Path("outputs"), help="Where `rb build` wrote the version."),
    endpoint: Optional[str] = typer.Option(None, help="Hub endpoint (default: HF_ENDPOINT or huggingface.co)."),
    secret_block: str = typer.Option("hf-token", help="Prefect Secret block with the token, used when HF_TOKEN is unset."),
) -> None:
    """Upload a built release to the Hub as one commit and tag it with the version. Publishing a
    version again changes nothing; a version already published with other files is refused."""
    from pipeline.release.hub import PublishError

    report_to_running_ui(typer.echo)
    _quiet_prefect()
    from flows.publish import publish_release, release_lines

    try:
        result = publish_release(version=version, repo=repo, output_dir=str(output_dir), private=private,
                                 create_pr=create_pr, dry_run=dry_run, endpoint=endpoint, secret_block=secret_block)  # fmt: skip
    except PublishError as exc:
        typer.secho(f"error: {exc}", fg="red", err=True)
        raise typer.Exit(1) from None
    first, *rest = release_lines(result)
    typer.echo("\n".join([first] + [f"  {line}" for line in rest]))


@app.command()
def ui(
    port: int = typer.Option(4200, help="Port of the Prefect server."),
    host: str = typer.Option("127.0.0.1", help="Address the server listens on."),
    home: Path = typer.Option(Path("outputs/.prefect-home"), help="Its PREFECT_HOME: SQLite database, log."),
    serve: bool = typer.Option(True, "--serve/--no-serve", help="Serve the build flow: the UI's Run starts builds."),
    config: Path = typer.Option(Path("configs/demo.yaml"), "--config", "-c", help="Default config of UI-started builds."),
) -> None:
    """Start a local Prefect server with its UI, where every `rb build` run here reports, and serve
    the build flow on it until Ctrl-C."""
    raise typer.Exit(run_ui(host, port, home, str(config) if serve else None, typer.echo))


@app.command()
def evaluate(
    dataset: str = typer.Option(..., help="Release: a .parquet file, a Hub-layout folder or a Hub dataset id."),
    scorer: Optional[str] = typer.Option(
        None,
        help="longest, shortest, ratings:BACKEND:MODEL or ranking:BACKEND:MODEL (MODEL may end in @BASE_URL), "
        "classifier:PATH_OR_HUB_ID[?batch_size=8&max_length=4096&device=cpu] (a transformers "
        "sequence-classification reward model) or vllm-reward:PATH_OR_HUB_ID[?max_model_len=N&...] "
        "(the same model run by vLLM)",
    ),
    scores: Optional[Path] = typer.Option(None, help="JSONL score file: {\"id\": ..., \"scores\": [...]} per row."),
    out: Path = typer.Option(..., help="Where to write report.json."),
    split: str = typer.Option("test"),
    seed: int = typer.Option(0, help="Seed of the ranking judge's answer shuffling."),
    cache: Path = typer.Option(Path("outputs/.lm-cache/responses.sqlite"), help="LM response cache."),
) -> None:
    """Score a release with one scorer or a score file; print per-subset accuracy next to baselines."""
    from pipeline.evaluate.dataset import load_release, read_score_file
    from pipeline.evaluate.report import accuracy_report
    from pipeline.evaluate.run import baseline_reports, run_scorer_spec
    from pipeline.core.io import atomic_write_text
    from pipeline.lm import LMError
    from pipeline.evaluate.report import results_table

    if (scorer is None) == (scores is None):
        typer.secho("error: give exactly one of --scorer and --scores", fg="red", err=True)
        raise typer.Exit(2)
    try:
        rows = load_release(dataset, split)
        if scores is not None:
            report = accuracy_report(f"score file {scores.name}", rows, read_score_file(scores, rows))
        else:
            assert scorer is not None
            report = run_scorer_spec(scorer, rows, Path("prompts"), cache, Path("models"), seed)
    except (ValueError, LMError, OSError, ImportError) as exc:  # DatasetError, ScorerSpecError are ValueErrors;
        typer.secho(f"error: {exc}", fg="red", err=True)  # OSError: a reward model that will not load
        raise typer.Exit(2) from None
    truncated = report.get("scoring", {}).get("truncated", 0)
    if truncated:
        typer.secho(f"warning: {truncated} completions were truncated before the reward model scored them",
                    fg="yellow", err=True)  # fmt: skip
    reports = baseline_reports(rows) + [report]
    atomic_write_text(out, json.dumps({"dataset": dataset, "items": len(rows), "reports": reports}, indent=2))
    typer.echo(results_table(reports))
    typer.echo(f"\nreport: {out}")


@app.command("ifeval")
def ifeval_score(
    responses: Path = typer.Argument(..., help="JSONL (or .jsonl.gz): rows with instruction_id_list, kwargs and "
                                     "response; with --input, rows with prompt and response."),  # fmt: skip
    input_file: Optional[Path] = typer.Option(None, "--input", help="Official input file (key, prompt, "
                                              "instruction_id_list, kwargs): responses are paired by prompt."),  # fmt: skip
    seed: int = typer.Option(0, help="Seed of the draws the official code makes itself (a letter it refuses)."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Score responses with the official IFEval/IFBench checkers: prompt- and instruction-level
    accuracy, strict and loose, and accuracy per instruction."""
    from pipeline.evaluate.instruction_following import ScoringError, format_report, score_files

    try:
        report = score_files(responses, input_file, seed)
    except (ScoringError, OSError) as exc:
        typer.secho(f"error: {exc}", fg="red", err=True)
        raise typer.Exit(2) from None
    typer.echo(json.dumps(report.as_dict(), indent=2) if as_json else format_report(report))


def _eval_specs(eval_set: list[str], bundled: bool) -> list[str]:
    """The --eval-set values, plus every bundled set with --bundled (paths relative to the cwd)."""
    from pipeline.decontam.evalsets import bundled_specs

    return list(eval_set) + (bundled_specs(Path.cwd()) if bundled else [])


@app.command()
def decontaminate(
    input: Path = typer.Argument(..., help="JSONL, CSV or parquet file with `id` and `prompt` fields."),
    eval_set: list[str] = typer.Option(
        [], "--eval-set", help="NAME=PATH[:FIELD] (a local file) or a registry NAME (read from the Hub). Repeat."
    ),
    bundled: bool = typer.Option(False, help="Add every eval set bundled under data/evalsets/."),
    out: Path = typer.Option(..., help="Folder for kept.parquet and dropped.parquet."),
    threshold: Optional[float] = typer.Option(None, help="Cosine threshold (default: the config default)."),
    ngram_threshold: Optional[float] = typer.Option(None, help="N-gram overlap threshold."),
    model: str = typer.Option("package:all-MiniLM-L6-v2", help="sentence-transformers model name or folder."),
    cache_dir: Path = typer.Option(Path("outputs/.embed-cache"), help="Eval-set embedding cache."),
) -> None:
    """Drop prompts that leak from downstream eval sets; print a one-screen summary."""
    from pydantic import ValidationError

    from pipeline.core.config import DecontaminationConfig, describe_errors
    from pipeline.decontam.file_check import decontaminate_file, summary_lines
    from pipeline.decontam.embed import Embedder, EmbeddingCache, EmbeddingError
    from pipeline.core.sources import SourceError

    specs = _eval_specs(eval_set, bundled)
    if not specs:
        typer.secho("error: give at least one --eval-set (or --bundled)", fg="red", err=True)
        raise typer.Exit(2)
    overrides = {k: v for k, v in (("cosine_threshold", threshold), ("ngram_threshold", ngram_threshold))
                 if v is not None}  # fmt: skip
    try:
        cfg = DecontaminationConfig.model_validate({"eval_sets": specs, **overrides})
    except ValidationError as exc:
        typer.secho(f"error: {describe_errors(exc)}", fg="red", err=True)
        raise typer.Exit(2) from None
    cache = EmbeddingCache(Embedder(model), cache_dir)
    try:
        report = decontaminate_file(input, cfg, cache, Path.cwd(), out)
    except (SourceError, EmbeddingError) as exc:
        typer.secho(f"error: {exc}", fg="red", err=True)
        raise typer.Exit(1) from None
    typer.echo("\n".join(summary_lines(report, cfg, input, out)))


@app.command()
def validate(
    dataset: str = typer.Option(..., help="Release: a .parquet file, a Hub-layout folder or a Hub dataset id."),
    config: Optional[Path] = typer.Option(None, "--config", "-c", help="Take limits and eval sets from this config."),
    eval_set: list[str] = typer.Option([], "--eval-set", help="NAME=PATH[:FIELD] or registry NAME to re-check."),
    bundled: bool = typer.Option(False, help="Re-check against every eval set bundled under data/evalsets/."),
    out: Optional[Path] = typer.Option(None, help="Where to write the validation report (JSON)."),
    split: str = typer.Option("test"),
    cache_dir: Path = typer.Option(Path("outputs/.embed-cache"), help="Embedding cache."),
) -> None:
    """Check a release before publishing: schema, duplicates, baselines, model bias, contamination.
    Exits 1 when a check fails."""
    from pipeline.core.config import ConfigError, DecontaminationConfig, ValidationConfig, load_config
    from pipeline.decontam.detector import Detector
    from pipeline.decontam.embed import Embedder, EmbeddingCache, EmbeddingError
    from pipeline.evaluate.dataset import load_release
    from pipeline.evaluate.validate import checks_table, validate_release
    from pipeline.core.io import atomic_write_text
    from pipeline.core.sources import SourceError

    try:
        cfg = load_config(config) if config else None
        specs = _eval_specs(eval_set, bundled)
        decon = cfg.decontamination if cfg else DecontaminationConfig()
        if specs:
            decon = decon.model_copy(update={"eval_sets": DecontaminationConfig(eval_sets=specs).eval_sets})
        rows = load_release(dataset, split)
        emb = cfg.embeddings if cfg else None
        embedder = Embedder(emb.model, precision=emb.precision, device=emb.device, backend=emb.backend) if emb else \
            Embedder("package:all-MiniLM-L6-v2")
        cache = EmbeddingCache(embedder, cache_dir)
        detector = Detector.load(decon, cache, Path.cwd()) if decon.eval_sets else None
        validation = validate_release(rows, cfg.validation if cfg else ValidationConfig(),
                                      cfg.num_rejected if cfg else 3, detector, cache, cfg.seed if cfg else 0)  # fmt: skip
    except (ConfigError, ValueError, SourceError, EmbeddingError) as exc:  # DatasetError is a ValueError
        typer.secho(f"error: {exc}", fg="red", err=True)
        raise typer.Exit(2) from None
    typer.echo(checks_table(validation))
    if out:
        atomic_write_text(out, json.dumps({"dataset": dataset, "validation": validation}, indent=2))
        typer.echo(f"\nreport: {out}")
    if not validation["passed"]:
        typer.secho("validation FAILED", fg="red", err=True)
        raise typer.Exit(1)
    typer.echo("validation passed")


@models_app.command("prepare")
def prepare_models(models_dir: Path = typer.Option(Path("models"), help="Where to assemble GGUF files.")) -> None:
    """Locate or assemble every packaged local model so the first build does not wait for it."""
    from pipeline.lm.local_models import PACKAGED, resolve_model_file

    for name in PACKAGED:
        path = resolve_model_file(name, models_dir)
        typer.echo(f"{name}: {path} ({path.stat().st_size / 1e6:.0f} MB)")


annotate_app = typer.Typer(help="Human annotations: export items for review, report agreement with labelers.")
app.add_typer(annotate_app, name="annotate")


def _annotate_tables(
    config: Path, version: Optional[str], names: list[str]
) -> tuple[str, Path, dict[str, list]]:
    """The version, the annotation folder and the named stage tables (route/prompts, generate/completions,
    label/labels) of its run dir under the current directory; exits 2 on a bad config, 1 on a missing
    table."""
    from pipeline.core.config import ConfigError, load_config
    from pipeline.core.run_location import local_run_dir
    from pipeline.core.io import read_rows

    try:
        cfg = load_config(config, version)
    except ConfigError as exc:
        typer.secho(f"error: {exc}", fg="red", err=True)
        raise typer.Exit(2) from None
    run_dir = local_run_dir(cfg, Path("."))  # a remote output: its local working copy
    tables = {}
    for name in names:
        path = run_dir / name
        if not path.is_file():
            message = f"{path} not found: run `rb build --config {config}` first"
            typer.secho(f"error: {message}", fg="red", err=True)
            raise typer.Exit(1)
        tables[name] = read_rows(path)
    return cfg.version, Path(getattr(cfg, "annotations_dir", "annotations")), tables


@annotate_app.command("export")
def annotate_export(
    config: Path = typer.Option(..., "--config", "-c", help="Benchmark-version config (YAML)."),
    version: Optional[str] = typer.Option(None, "--version", help="Override the config's version name."),
    per_subset: int = typer.Option(20, "--per-subset", min=1, help="Completions to sample per subset."),
    seed: int = typer.Option(0, "--seed", help="Sampling seed: the same seed picks the same items."),
    out: Optional[Path] = typer.Option(None, "--out", help="Default: <annotations>/review-<version>.jsonl."),
    annotations: Optional[Path] = typer.Option(None, help="Annotation folder (default: annotations_dir)."),
    force: bool = typer.Option(False, "--force", help="Overwrite --out if it exists (its labels are lost)."),
) -> None:
    """Write a sample of labeled completions as JSONL for people to check (not yet annotated first)."""
    from collections import Counter

    from pipeline.core.io import atomic_write_text
    from pipeline.label.human import load_annotations
    from pipeline.label.human_review import export_sample
    from pipeline.core.records import Completion, Label, Prompt

    names = ["route/prompts.parquet", "generate/completions.parquet", "label/labels.parquet"]
    run_version, annotations_dir, tables = _annotate_tables(config, version, names)
    annotations = annotations or annotations_dir
    target = out or annotations / f"review-{run_version}.jsonl"
    if target.exists() and not force:
        message = f"{target} exists (it may hold filled-in labels); pick another --out or pass --force"
        typer.secho(f"error: {message}", fg="red", err=True)
        raise typer.Exit(1)
    prompts = [Prompt(**{**r, "metadata": json.loads(r["metadata"] or "{}")}) for r in tables[names[0]]]
    completions = [Completion(**r) for r in tables[names[1]]]
    labels = [Label(**r) for r in tables[names[2]]]
    already = load_annotations(annotations)
    rows = export_sample(prompts, completions, labels, per_subset, seed, already)
    atomic_write_text(target, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    fresh = Counter(r["subset"] for r in rows if not already.annotated(r["id"]))
    typer.echo(f"Wrote {len(rows)} rows for review to {target}")
    for subset, n in sorted(Counter(r["subset"] for r in rows).items()):
        typer.echo(f"  {subset}: {n} rows ({fresh[subset]} not yet annotated)")
    typer.echo(
        "\nOn each line set `label` to \"correct\" or \"incorrect\", `annotator` to your name and, if useful,"
        f"\n`note`; leave `label` null to skip a line. Files in {annotations}/ override the automatic labels"
        "\non the next `rb build`; `rb annotate report` shows how often the labelers agree with you."
    )
    if target.parent.resolve() != annotations.resolve():
        typer.echo(f"(Move the filled-in file into {annotations}/ for the build to read it.)")


@annotate_app.command("report")
def annotate_report(
    config: Path = typer.Option(..., "--config", "-c", help="Benchmark-version config (YAML)."),
    version: Optional[str] = typer.Option(None, "--version", help="Override the config's version name."),
    annotations: Optional[Path] = typer.Option(None, help="Annotation folder (default: annotations_dir)."),
) -> None:
    """Agreement of the automatic labelers with the human annotations, per subset and labeler."""
    from pipeline.label.human import annotation_issues, automatic_labels, load_annotations
    from pipeline.label.human_review import agreement_report
    from pipeline.core.records import Label

    names = ["route/prompts.parquet", "label/labels.parquet"]
    _, annotations_dir, tables = _annotate_tables(config, version, names)
    annotations = annotations or annotations_dir
    subset_of = {r["prompt_id"]: r["subset"] for r in tables[names[0]] if r.get("subset")}
    labels = automatic_labels(Label(**r) for r in tables[names[1]])
    found = load_annotations(annotations)
    typer.echo(f"{len(found.labels)} annotated completions in {len(found.files)} files under {annotations}/ "
               f"({found.unreviewed} rows not reviewed yet, {len(found.conflicts)} conflicts)\n")  # fmt: skip
    lines = ["| subset | labeler | annotated | agree | disagree | abstained | agreement % | kappa |",
             "|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for r in agreement_report(labels, found, subset_of):
        pct = "-" if r["agreement"] is None else f"{100 * r['agreement']:.1f}"
        kappa = "-" if r["kappa"] is None else f"{r['kappa']:.2f}"
        lines.append(f"| {r['subset']} | {r['labeler']} | {r['annotated']} | {r['agree']} | {r['disagree']} "
                     f"| {r['abstained']} | {pct} | {kappa} |")  # fmt: skip
    typer.echo("\n".join(lines))
    issues = annotation_issues(found, labels)
    if issues:
        typer.echo(f"\nIssues in the annotation files ({len(issues)}):")
        typer.echo("\n".join(f"  {line}" for line in issues))


def _register_cost_commands() -> None:
    from flows.cost_cli import register

    register(app)


_register_cost_commands()

if __name__ == "__main__":
    app()
