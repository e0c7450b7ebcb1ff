"""Write-once homes for audit checkpoints: a local directory that only ever adds files, and an S3 bucket with
Object Lock in compliance mode (boto3; any S3-compatible server that implements Object Lock).

Both refuse to replace a checkpoint that exists: the directory opens each file with O_EXCL and leaves it
read-only; S3 puts with ``If-None-Match: *`` and a COMPLIANCE retention, so not even the bucket's owner can
delete or overwrite that version before the retention ends (AWS's documented semantics; see docs/audit.md).
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit


class StorageError(RuntimeError):
    """The checkpoint storage refused or failed an operation; the message names it and the fix."""


class CheckpointStorage(Protocol):
    def put(self, name: str, data: bytes) -> None: ...
    def get(self, name: str) -> bytes: ...
    def names(self, prefix: str) -> list[str]: ...


class LocalDirectory:
    """Files under a directory, created once and never replaced (O_EXCL), left read-only (0444)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def put(self, name: str, data: bytes) -> None:
        path = self._path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)
        except FileExistsError:
            raise StorageError(f"{path} exists: checkpoints are written once, never replaced") from None
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())

    def get(self, name: str) -> bytes:
        return self._path(name).read_bytes()

    def names(self, prefix: str) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(
            p.relative_to(self.root).as_posix()
            for p in self.root.rglob("*")
            if p.is_file() and p.relative_to(self.root).as_posix().startswith(prefix)
        )

    def _path(self, name: str) -> Path:
        path = (self.root / name).resolve()
        if self.root.resolve() not in path.parents:
            raise StorageError(f"checkpoint name {name!r} leaves {self.root}")
        return path


class S3ObjectLock:
    """Objects in a bucket created with Object Lock, each put with a COMPLIANCE retention."""

    def __init__(self, client: Any, bucket: str, prefix: str = "", retention_days: int = 2557) -> None:
        self.client, self.bucket, self.prefix, self.retention_days = (
            client,
            bucket,
            prefix.strip("/"),
            retention_days,
        )

    def _key(self, name: str) -> str:
        return f"{self.prefix}/{name}" if self.prefix else name

    def put(self, name: str, data: bytes) -> None:
        until = dt.datetime.now(dt.UTC) + dt.timedelta(days=self.retention_days)
        try:
            self.client.put_object(
                Bucket=self.bucket,
                Key=self._key(name),
                Body=data,
                IfNoneMatch="*",  # never replace: an existing checkpoint fails the put
                ObjectLockMode="COMPLIANCE",
                ObjectLockRetainUntilDate=until,
                ContentType="application/json",
            )
        except Exception as exc:  # botocore's ClientError and connection errors
            raise StorageError(f"s3://{self.bucket}/{self._key(name)}: {_reason(exc)}") from None

    def get(self, name: str) -> bytes:
        try:
            body: bytes = self.client.get_object(Bucket=self.bucket, Key=self._key(name))["Body"].read()
            return body
        except Exception as exc:
            raise StorageError(f"s3://{self.bucket}/{self._key(name)}: {_reason(exc)}") from None

    def names(self, prefix: str) -> list[str]:
        found: list[str] = []
        start = f"{self.prefix}/" if self.prefix else ""
        try:
            for page in self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=start + prefix
            ):
                found.extend(obj["Key"][len(start) :] for obj in page.get("Contents", []))
        except Exception as exc:
            raise StorageError(f"s3://{self.bucket}/{start}: {_reason(exc)}") from None
        return sorted(found)


def _reason(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict) and "Error" in response:
        error = response["Error"]
        return f"{error.get('Code', '')}: {error.get('Message', '')}".strip(": ")
    return f"{type(exc).__name__}: {exc}"


def open_storage(
    target: str, *, s3_endpoint: str | None = None, retention_days: int = 2557
) -> CheckpointStorage:
    """``s3://bucket/prefix`` (boto3, credentials from its usual settings: AWS_ACCESS_KEY_ID, ...) or a
    directory path (``file://`` optional)."""
    parts = urlsplit(target)
    if parts.scheme == "s3":
        if not parts.netloc:
            raise StorageError(f"{target}: name a bucket, s3://BUCKET[/PREFIX]")
        try:
            import boto3
        except ImportError:
            raise StorageError("S3 checkpoints need boto3: pip install 'dana-workflows[s3]'") from None
        client = boto3.client("s3", endpoint_url=s3_endpoint) if s3_endpoint else boto3.client("s3")
        return S3ObjectLock(client, parts.netloc, parts.path, retention_days)
    if parts.scheme in ("", "file"):
        return LocalDirectory(Path(parts.path if parts.scheme == "file" else target).expanduser())
    raise StorageError(f"{target}: checkpoints go to a directory or to s3://BUCKET[/PREFIX]")
