"""Audit checkpoints in S3 with Object Lock, against a real S3-compatible server this test starts (moto's
server, from PyPI) on loopback, through boto3; and the CLI end to end on a run of the claims example.

Checked: `dana-wf audit checkpoint create --to s3://...` writes a COMPLIANCE-locked object; the same name is
never written twice (If-None-Match); the locked version cannot be deleted; `verify` passes on the untouched
log and names a row missing from it (a store holding the log without its last row)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import httpx
import pytest
from botocore.exceptions import ClientError

from dana_workflows.devservices.processes import free_port
from dana_workflows.sinks.checkpoint_storage import S3ObjectLock, StorageError

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
BUCKET = "dwf-checkpoints"
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@pytest.fixture
def s3_server(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    log = (tmp_path / "moto.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=log
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, (tmp_path / "moto.log").read_text()
            try:
                httpx.get(url, timeout=1)
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, "the S3 server did not answer within 60 s"
                time.sleep(0.1)
        client = boto3.client("s3", endpoint_url=url, **_boto_credentials())
        client.create_bucket(Bucket=BUCKET, ObjectLockEnabledForBucket=True)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def _boto_credentials() -> dict[str, str]:
    return {
        "aws_access_key_id": CREDENTIALS["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        "region_name": CREDENTIALS["AWS_DEFAULT_REGION"],
    }


def _dana_wf(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("dana-wf")
    cmd = [exe] if exe else [sys.executable, "-m", "dana_workflows.cli"]
    return subprocess.run(
        [*cmd, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False
    )


def test_a_locked_checkpoint_cannot_be_replaced_or_deleted(s3_server: str) -> None:
    client = boto3.client("s3", endpoint_url=s3_server, **_boto_credentials())
    storage = S3ObjectLock(client, BUCKET, "audit", retention_days=1)
    storage.put("wf/00000000.json", b'{"first": true}')
    with pytest.raises(StorageError, match="PreconditionFailed"):
        storage.put("wf/00000000.json", b'{"forged": true}')
    assert storage.get("wf/00000000.json") == b'{"first": true}'
    head = client.head_object(Bucket=BUCKET, Key="audit/wf/00000000.json")
    assert head["ObjectLockMode"] == "COMPLIANCE"
    with pytest.raises(ClientError) as refused:
        client.delete_object(Bucket=BUCKET, Key="audit/wf/00000000.json", VersionId=head["VersionId"])
    assert refused.value.response["Error"]["Code"] == "AccessDenied"
    assert storage.names("wf/") == ["wf/00000000.json"]


def test_cli_checkpoints_a_run_into_s3_and_names_a_cut_tail(s3_server: str, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DWF_")}
    env.update(CREDENTIALS)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env["DWF_CHECKPOINT_S3_ENDPOINT"] = s3_server
    env["DWF_AUDIT_SIGNING_KEY_FILE"] = str(tmp_path / "signing.pem")
    events = tmp_path / "events.jsonl"
    lines = (ROOT / "docs/examples/claims/events.jsonl").read_text().splitlines()[:50]
    events.write_text("\n".join(lines) + "\n")
    audit = f"chdb://{tmp_path / 'audit'}"
    create = ("audit", "checkpoint", "create", "--to", f"s3://{BUCKET}/cli", "--audit", audit)
    verify = ("audit", "checkpoint", "verify", "--from", f"s3://{BUCKET}/cli")
    public = ("--public-key", str(tmp_path / "signing.pem.pub"))

    made = _dana_wf(
        "audit", "checkpoint", "keygen", "--out", str(tmp_path / "signing.pem"), cwd=tmp_path, env=env
    )
    assert made.returncode == 0, made.stderr
    no_key = {**env, "DWF_AUDIT_SIGNING_KEY_FILE": str(tmp_path / "nope.pem")}
    missing_key = _dana_wf(*create, cwd=tmp_path, env=no_key)
    assert missing_key.returncode == 2 and "cannot read it" in missing_key.stderr
    spec = str(ROOT / "docs/examples/claims/claims.yaml")
    run = _dana_wf("run", spec, "--input", str(events), "--audit", audit, "--out", str(tmp_path / "out"),
                   cwd=tmp_path, env=env)  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    made = _dana_wf(*create, "--lag-s", "0", cwd=tmp_path, env=env)
    assert made.returncode == 0, made.stderr
    assert '"index": 0' in made.stdout
    ok = _dana_wf(*verify, *public, "--audit", audit, cwd=tmp_path, env=env)
    assert ok.returncode == 0 and "log extends every checkpoint" in ok.stdout, ok.stdout + ok.stderr

    # the same log without the last leaf the checkpoint holds: what an attacker who cut the tail would leave
    from dana_workflows.sinks.reader import read_rows
    from dana_workflows.sinks.stores import open_store

    original = open_store(audit)
    try:
        rows = read_rows(original)
    finally:
        original.close()
    last = max(rows, key=lambda r: (r.ts_us, r.run_id, r.seq))
    cut = open_store(f"chdb://{tmp_path / 'cut'}")
    try:
        cut.ensure_schema()
        cut.insert([r for r in rows if r is not last])
    finally:
        cut.close()
    found = _dana_wf(*verify, *public, "--audit", f"chdb://{tmp_path / 'cut'}", cwd=tmp_path, env=env)
    assert found.returncode == 3, found.stdout + found.stderr
    assert f"tail_cut: claims-triage: run {last.run_id} seq {last.seq}" in found.stdout
