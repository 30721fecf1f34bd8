"""The publish flow: a built release folder -> one Hub commit + a version tag, audited in Prefect.

The token never enters a flow parameter (parameters are stored by the Prefect server): it is read
inside the flow from HF_TOKEN or a Prefect Secret block, and redacted from every message.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from huggingface_hub import DatasetCard
from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact

from pipeline.release.card import render_card
from pipeline.release.hub import HubPublisher, PublishError, release_files
from flows.artifacts import artifact_key

DEFAULT_SECRET_BLOCK = "hf-token"


def hub_token(secret_block: str = DEFAULT_SECRET_BLOCK) -> str:
    """HF_TOKEN from the environment, else the named Prefect Secret block."""
    token = os.environ.get("HF_TOKEN", "").strip()
    if token:
        return token
    from prefect.blocks.system import Secret

    try:
        return str(Secret.load(secret_block).get())
    except (ValueError, KeyError):  # Prefect raises ValueError for a block that does not exist
        raise PublishError(
            f"no Hub token: set HF_TOKEN, or store one in a Prefect Secret block named {secret_block!r} "
            f"(`prefect block create secret`)"
        ) from None


def card_for_repo(run_dir: Path, repo: str) -> bytes | None:
    """The card rendered again so its usage examples load `repo`, or None when the built card
    already names it. The local folder keeps the card as built (it is the build's output)."""
    context_path = run_dir / "publish" / "card.json"
    if not context_path.is_file():
        return None
    context = json.loads(context_path.read_text())
    if context.get("repo") == repo:
        return None
    built = DatasetCard((run_dir / "hub" / "README.md").read_text())
    return render_card(context, built.data, repo).encode()


ACTIONS = {"published": "published", "unchanged": "already published, nothing changed",
           "pull-request": "pull request opened", "dry-run": "dry run, nothing changed"}  # fmt: skip


def release_lines(result: dict[str, Any]) -> list[str]:
    """What a publish did, one fact a line (the CLI prints them; the artifact lists them)."""
    lines = [f"{result['repo']} {result['version']}: {ACTIONS[result['action']]}",
             f"uploaded: {', '.join(result['uploaded']) or 'nothing'}",
             f"deleted: {', '.join(result['deleted']) or 'nothing'}"]  # fmt: skip
    if result["commit"]:
        lines.append(f"commit: {result['commit']}")
    if result["tag"]:
        lines.append(f"tag: {result['url']}/tree/{result['tag']}")
    if result["pr_url"]:
        lines.append(f"pull request: {result['pr_url']} (publish again after the merge to tag it)")
    return lines


def release_markdown(result: dict[str, Any]) -> str:
    first, *rest = release_lines(result)
    return "\n".join([f"## Hub release: {first}", ""] + [f"- {line}" for line in rest])


@flow(name="publish-release")
def publish_release(
    version: str, repo: str, output_dir: str = "outputs", private: bool = False, create_pr: bool = False,
    dry_run: bool = False, endpoint: str | None = None, secret_block: str = DEFAULT_SECRET_BLOCK,
) -> dict[str, Any]:  # fmt: skip
    """Push outputs/<version>/hub to the dataset repo `repo` and tag the commit `version`."""
    logger = get_run_logger()
    run_dir = Path(output_dir) / version
    folder = run_dir / "hub"
    if not folder.is_dir():
        raise PublishError(f"{folder}: no release folder for version {version!r}; run `rb build` first")
    files = release_files(folder, card_for_repo(run_dir, repo))
    publisher = HubPublisher(repo, hub_token(secret_block), endpoint, log=logger.info)
    result = publisher.publish(version, files, private=private, create_pr=create_pr, dry_run=dry_run).as_dict()
    create_markdown_artifact(key=artifact_key(version, "hub-release"), markdown=release_markdown(result),
                             description=f"Hub release of {version}")  # fmt: skip
    return result
