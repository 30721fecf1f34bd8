"""S3 settings for a run store: the endpoint and credentials as boto finds them, in the two
spellings the store needs (s3fs for files, polars' object_store for tables), and one-line errors.

Settings come from the standard AWS variables (`AWS_ENDPOINT_URL_S3`, `AWS_ENDPOINT_URL`,
`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION` /
`AWS_DEFAULT_REGION`) unless explicit `storage_options` name them. Secrets never enter a message:
every error text is scrubbed of them before it is raised.
"""

from __future__ import annotations

import os
from typing import Any, Mapping

SECRET_KEYS = ("key", "secret", "token")


class StoreError(RuntimeError):
    """The object store cannot be used as configured; one line naming the URL, never a secret."""


def s3fs_options(storage_options: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Keyword arguments for `s3fs.S3FileSystem`: explicit options win over the environment.
    Retries are few and the connect timeout short, so an unreachable endpoint fails in seconds."""
    opts: dict[str, Any] = dict(storage_options or {})
    env = os.environ
    endpoint = opts.pop("endpoint_url", None) or env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL")
    client = dict(opts.pop("client_kwargs", {}) or {})
    if endpoint:
        client.setdefault("endpoint_url", endpoint)
    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")
    if region:
        client.setdefault("region_name", region)
    config = {"connect_timeout": 5, "read_timeout": 60, "retries": {"max_attempts": 2, "mode": "standard"}}
    config.update(opts.pop("config_kwargs", {}) or {})
    for name, var in (("key", "AWS_ACCESS_KEY_ID"), ("secret", "AWS_SECRET_ACCESS_KEY"), ("token", "AWS_SESSION_TOKEN")):
        if opts.get(name) is None and env.get(var):
            opts[name] = env[var]
    # A fresh instance with no listings cache: another machine may have written since the last look.
    return {**opts, "client_kwargs": client, "config_kwargs": config, "skip_instance_cache": True,
            "use_listings_cache": False}  # fmt: skip


def polars_options(fs_opts: Mapping[str, Any]) -> dict[str, str]:
    """The same settings for polars' object_store reader and writer (`aws_*` keys)."""
    client = fs_opts.get("client_kwargs", {})
    out = {"aws_region": client.get("region_name") or "us-east-1"}
    endpoint = client.get("endpoint_url")
    if endpoint:
        out["aws_endpoint_url"] = endpoint
        if endpoint.startswith("http://"):
            out["aws_allow_http"] = "true"
    for name, key in (("key", "aws_access_key_id"), ("secret", "aws_secret_access_key"), ("token", "aws_session_token")):
        if fs_opts.get(name):
            out[key] = str(fs_opts[name])
    return out


def endpoint_of(fs_opts: Mapping[str, Any]) -> str:
    return str(fs_opts.get("client_kwargs", {}).get("endpoint_url") or "the default AWS endpoint")


def scrub(text: str, fs_opts: Mapping[str, Any]) -> str:
    """`text` without any credential the options or the environment hold."""
    secrets = [str(fs_opts.get(k)) for k in SECRET_KEYS if fs_opts.get(k)]
    secrets += [os.environ[v] for v in ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ACCESS_KEY_ID")
                if os.environ.get(v)]  # fmt: skip
    for secret in secrets:
        text = text.replace(secret, "***")
    return text


def explain(exc: BaseException, url: str, fs_opts: Mapping[str, Any]) -> StoreError:
    """One line naming the URL and what is wrong (no traceback chain, no secret)."""
    name, text = type(exc).__name__, str(exc)
    lowered = f"{name} {text}".lower()
    if "nosuchbucket" in lowered or "bucket does not exist" in lowered:
        reason = "the bucket does not exist"
    elif "nocredentials" in lowered or "unable to locate credentials" in lowered:
        reason = "no AWS credentials found (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or a profile)"
    elif "connect" in lowered or "timed out" in lowered or "timeout" in lowered:
        reason = f"cannot reach the S3 endpoint {endpoint_of(fs_opts)}"
    elif "accessdenied" in lowered or "invalidaccesskeyid" in lowered or "signaturedoesnotmatch" in lowered \
            or isinstance(exc, PermissionError):  # fmt: skip
        reason = "access denied (check the credentials and the bucket policy)"
    else:
        first = text.strip().splitlines()[0][:300] if text.strip() else ""
        reason = f"{name}: {first}" if first else name
    return StoreError(scrub(f"{url}: {reason}", fs_opts))
