"""Checkpoint storage (sinks/checkpoint_storage.py) against its module docstring: the S3 home puts each object
once (``If-None-Match: *``) under a COMPLIANCE Object Lock retention of ``retention_days``, as JSON, under the
bucket's prefix; errors name the object and the server's code and message. ``open_storage`` picks S3 (with
an optional endpoint) or a directory (``file://`` optional); the directory writes each file once, read-only.

The S3 client is a stand-in recording boto3 calls (the real server with Object Lock is the integration
tests' moto); the clock for the retention date is injected.
"""

from __future__ import annotations

import datetime as dt
import stat
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from dana_workflows.sinks import checkpoint_storage
from dana_workflows.sinks.checkpoint_storage import LocalDirectory, S3ObjectLock, StorageError, open_storage

pytestmark = pytest.mark.unit

NOW = dt.datetime(2026, 1, 31, 12, 0, tzinfo=dt.UTC)


class ClientError(Exception):
    """Shaped like botocore's: a ``response`` dict with an ``Error`` entry."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.response = {"Error": {"Code": code, "Message": message}}


class FakeS3:
    def __init__(self, fail: Exception | None = None) -> None:
        self.puts: list[dict[str, Any]] = []
        self.objects: dict[str, bytes] = {}
        self.fail = fail
        self.listed: list[dict[str, Any]] = []

    def put_object(self, **kwargs: Any) -> None:
        if self.fail:
            raise self.fail
        self.puts.append(kwargs)
        self.objects[kwargs["Key"]] = kwargs["Body"]

    def get_object(self, Bucket: str, Key: str) -> dict[str, Any]:
        if self.fail:
            raise self.fail
        return {"Body": SimpleNamespace(read=lambda: self.objects[Key])}

    def get_paginator(self, name: str) -> Any:
        assert name == "list_objects_v2"
        s3 = self

        class Paginator:
            def paginate(self, **kwargs: Any) -> list[dict[str, Any]]:
                if s3.fail:
                    raise s3.fail
                s3.listed.append(kwargs)
                keys = sorted(k for k in s3.objects if k.startswith(kwargs["Prefix"]))
                return [
                    {"Contents": [{"Key": k} for k in keys[:1]]},
                    {"Contents": [{"Key": k} for k in keys[1:]]},
                    {},
                ]

        return Paginator()


@pytest.fixture(autouse=True)
def fixed_now(monkeypatch: pytest.MonkeyPatch) -> None:
    class Clock(dt.datetime):
        @classmethod
        def now(cls, tz: dt.tzinfo | None = None) -> Clock:
            assert tz is dt.UTC
            return cls.fromtimestamp(NOW.timestamp(), tz)

    monkeypatch.setattr(
        checkpoint_storage, "dt", SimpleNamespace(datetime=Clock, timedelta=dt.timedelta, UTC=dt.UTC)
    )


def test_a_put_is_once_only_json_under_compliance_retention() -> None:
    s3 = FakeS3()
    store = S3ObjectLock(s3, "audit", "/runs/2026/", retention_days=30)
    store.put("w/cp-1.json", b'{"a":1}')
    assert s3.puts == [
        {
            "Bucket": "audit",
            "Key": "runs/2026/w/cp-1.json",
            "Body": b'{"a":1}',
            "IfNoneMatch": "*",
            "ObjectLockMode": "COMPLIANCE",
            "ObjectLockRetainUntilDate": dt.datetime(2026, 3, 2, 12, 0, tzinfo=dt.UTC),
            "ContentType": "application/json",
        }
    ]
    assert store.get("w/cp-1.json") == b'{"a":1}'


def test_the_default_retention_is_seven_years_of_days() -> None:
    s3 = FakeS3()
    S3ObjectLock(s3, "audit").put("x", b"")
    assert s3.puts[0]["Key"] == "x"  # no prefix: the name is the key
    assert s3.puts[0]["ObjectLockRetainUntilDate"] == NOW + dt.timedelta(days=2557)


def test_names_strip_the_prefix_across_pages_sorted() -> None:
    s3 = FakeS3()
    store = S3ObjectLock(s3, "audit", "pre")
    for name in ("w/b", "w/a", "x/c"):
        store.put(name, b"1")
    s3.objects["other/w/z"] = b"outside the prefix"
    assert store.names("w/") == ["w/a", "w/b"]
    assert s3.listed[-1] == {"Bucket": "audit", "Prefix": "pre/w/"}
    assert store.names("") == ["w/a", "w/b", "x/c"]
    bare = S3ObjectLock(s3, "audit")
    assert bare.names("other") == ["other/w/z"]
    assert s3.listed[-1] == {"Bucket": "audit", "Prefix": "other"}


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (
            ClientError("PreconditionFailed", "At least one of the pre-conditions failed"),
            "PreconditionFailed: At least one of the pre-conditions failed",
        ),
        (ClientError("AccessDenied", ""), "AccessDenied"),
        (ConnectionError("connection refused"), "ConnectionError: connection refused"),
    ],
)
def test_errors_name_the_object_and_the_reason(error: Exception, reason: str) -> None:
    store = S3ObjectLock(FakeS3(fail=error), "audit", "pre")
    with pytest.raises(StorageError) as err:
        store.put("w/cp.json", b"{}")
    assert str(err.value) == f"s3://audit/pre/w/cp.json: {reason}"
    with pytest.raises(StorageError) as err:
        store.get("w/cp.json")
    assert str(err.value) == f"s3://audit/pre/w/cp.json: {reason}"
    with pytest.raises(StorageError) as err:
        store.names("w/")
    assert str(err.value) == f"s3://audit/pre/: {reason}"


# -- open_storage --------------------------------------------------------------------------------------


def test_open_storage_s3_uses_the_endpoint_when_given(monkeypatch: pytest.MonkeyPatch) -> None:
    import boto3

    calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = []

    def client(*args: Any, **kwargs: Any) -> str:
        calls.append((args, kwargs))
        return "client"

    monkeypatch.setattr(boto3, "client", client)
    store = open_storage("s3://audit/runs/a", s3_endpoint="http://127.0.0.1:9000", retention_days=9)
    assert isinstance(store, S3ObjectLock)
    assert (store.client, store.bucket, store.prefix, store.retention_days) == (
        "client",
        "audit",
        "runs/a",
        9,
    )
    assert calls == [(("s3",), {"endpoint_url": "http://127.0.0.1:9000"})]
    store = open_storage("s3://audit")
    assert isinstance(store, S3ObjectLock)
    assert (store.bucket, store.prefix, store.retention_days) == ("audit", "", 2557)
    assert calls[-1] == (("s3",), {})


def test_open_storage_refuses_what_it_cannot_use() -> None:
    with pytest.raises(StorageError) as err:
        open_storage("s3:///prefix")
    assert str(err.value) == "s3:///prefix: name a bucket, s3://BUCKET[/PREFIX]"
    with pytest.raises(StorageError) as err:
        open_storage("https://example.com/cp")
    assert (
        str(err.value) == "https://example.com/cp: checkpoints go to a directory or to s3://BUCKET[/PREFIX]"
    )


def test_open_storage_directories(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = open_storage(f"file://{tmp_path}/cp")
    assert isinstance(store, LocalDirectory) and store.root == tmp_path / "cp"
    store = open_storage(str(tmp_path / "plain"))
    assert isinstance(store, LocalDirectory) and store.root == tmp_path / "plain"
    monkeypatch.setenv("HOME", str(tmp_path))
    store = open_storage("~/cps")
    assert isinstance(store, LocalDirectory) and store.root == tmp_path / "cps"
    store = open_storage("relative/dir")
    assert isinstance(store, LocalDirectory) and store.root == Path("relative/dir")


# -- the directory -------------------------------------------------------------------------------------


def test_a_directory_writes_each_file_once_read_only(tmp_path: Path) -> None:
    store = LocalDirectory(tmp_path / "cp")
    assert store.names("") == []  # no folder yet
    store.put("w/1.json", b"one")
    store.put("w/2.json", b"two")
    store.put("v/1.json", b"v")
    assert stat.S_IMODE((tmp_path / "cp" / "w" / "1.json").stat().st_mode) == 0o444
    assert store.get("w/2.json") == b"two"
    assert store.names("w/") == ["w/1.json", "w/2.json"]
    assert store.names("") == ["v/1.json", "w/1.json", "w/2.json"]
    with pytest.raises(StorageError) as err:
        store.put("w/1.json", b"replaced")
    first = (tmp_path / "cp" / "w" / "1.json").resolve()
    assert str(err.value) == f"{first} exists: checkpoints are written once, never replaced"
    assert store.get("w/1.json") == b"one"
    with pytest.raises(StorageError) as err:
        store.put("../escape.json", b"x")
    assert str(err.value) == f"checkpoint name '../escape.json' leaves {tmp_path / 'cp'}"
    assert not (tmp_path / "escape.json").exists()
