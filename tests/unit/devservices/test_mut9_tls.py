"""The broker's TLS material without a JVM: ``ensure_tls`` drives keytool through its steps in a staging
folder, keeps ca.pem, broker.pem, broker.p12 and keystore.pass (modes as documented), throws the CA's key
away and renames the folder into place; ``find_keytool`` and ``_keytool``'s error.

keytool is replaced at its seam (tls._keytool, or subprocess.run for _keytool itself) by a stand-in that
writes the files each keytool command names; expected values come from ensure_tls's docstring.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from dana_workflows.devservices.kafka import tls
from dana_workflows.devservices.kafka.errors import KafkaLauncherError

pytestmark = pytest.mark.unit


class FakeKeytool:
    """Writes what each keytool command would write, and records the commands and their environment."""

    def __init__(self, fail_on: str | None = None) -> None:
        self.calls: list[tuple[str, list[str], dict[str, str]]] = []
        self.fail_on = fail_on

    def __call__(self, keytool: str, args: list[str], env: Mapping[str, str]) -> None:
        self.calls.append((keytool, list(args), dict(env)))
        if args[0] == self.fail_on:
            raise KafkaLauncherError(f"`keytool {args[0]}` failed (exit 1):\nboom")

        def value(flag: str) -> str:
            return args[args.index(flag) + 1]

        if args[0] == "-genkeypair":
            Path(value("-keystore")).write_bytes(b"p12:" + value("-alias").encode())
        elif args[0] == "-exportcert":
            Path(value("-file")).write_text("-----CA CERT-----\n")
        elif args[0] == "-certreq":
            Path(value("-file")).write_text("csr\n")
        elif args[0] == "-gencert":
            Path(value("-outfile")).write_text("-----BROKER CERT-----\n")


@pytest.fixture
def keytool(monkeypatch: pytest.MonkeyPatch) -> FakeKeytool:
    fake = FakeKeytool()
    monkeypatch.setattr(tls, "_keytool", fake)
    monkeypatch.setattr(tls, "find_keytool", lambda java=None: "/jdk/bin/keytool")
    return fake


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_ensure_tls_makes_the_ca_and_the_broker_keystore(tmp_path: Path, keytool: FakeKeytool) -> None:
    target = tmp_path / "tls"
    files = tls.ensure_tls(target, "/jdk/bin/java")
    assert files.cafile == target / "ca.pem"
    assert files.keystore == target / "broker.p12"
    assert sorted(p.name for p in target.iterdir()) == ["broker.p12", "broker.pem", "ca.pem", "keystore.pass"]
    assert (target / "ca.pem").read_text() == "-----CA CERT-----\n"
    assert (
        target / "broker.pem"
    ).read_text() == "-----BROKER CERT-----\n-----CA CERT-----\n"  # leaf, then CA
    assert (target / "keystore.pass").read_text() == files.password + "\n"
    assert len(files.password) >= 32  # token_urlsafe(24): 32 characters
    assert (_mode(target / "keystore.pass"), _mode(target / "broker.p12"), _mode(target / "ca.pem")) == (
        0o600,
        0o600,
        0o644,
    )
    assert [p.name for p in tmp_path.iterdir()] == ["tls"]  # no staging folder left behind

    # the commands, in order, each with the PKCS12 store and the password from the environment only
    assert [args[0] for _, args, _ in keytool.calls] == [
        "-genkeypair",
        "-exportcert",
        "-genkeypair",
        "-certreq",
        "-gencert",
        "-importcert",
    ]
    for tool, args, env in keytool.calls:
        assert tool == "/jdk/bin/keytool"
        assert args[-4:] == ["-storetype", "PKCS12", "-storepass:env", "DWF_KEYSTORE_PASS"]
        assert env["DWF_KEYSTORE_PASS"] == files.password
        assert files.password not in " ".join(args)
    ca_key, _, broker_key, _, gencert, importcert = (args for _, args, _ in keytool.calls)
    assert ca_key[ca_key.index("-dname") + 1] == "CN=dana-wf local Kafka CA"
    assert ca_key[ca_key.index("-groupname") + 1] == "secp256r1"
    assert ca_key[ca_key.index("-validity") + 1] == "3650"
    assert "bc:c" in ca_key
    assert broker_key[broker_key.index("-dname") + 1] == "CN=localhost"
    assert "SAN=dns:localhost,ip:127.0.0.1" in gencert
    assert "ExtendedKeyUsage=serverAuth" in gencert
    assert importcert[importcert.index("-alias") + 1] == "broker"
    assert Path(importcert[importcert.index("-file") + 1]).name == "broker.pem"
    assert "-noprompt" in importcert


def test_ensure_tls_reuses_what_it_made(tmp_path: Path, keytool: FakeKeytool) -> None:
    first = tls.ensure_tls(tmp_path / "tls")
    calls = len(keytool.calls)
    again = tls.ensure_tls(tmp_path / "tls")
    assert again == first
    assert len(keytool.calls) == calls


def test_a_failing_keytool_leaves_nothing_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeKeytool(fail_on="-gencert")
    monkeypatch.setattr(tls, "_keytool", fake)
    monkeypatch.setattr(tls, "find_keytool", lambda java=None: "/jdk/bin/keytool")
    with pytest.raises(KafkaLauncherError, match="keytool -gencert"):
        tls.ensure_tls(tmp_path / "tls")
    assert list(tmp_path.iterdir()) == []


def test_a_half_made_folder_is_replaced(tmp_path: Path, keytool: FakeKeytool) -> None:
    target = tmp_path / "tls"
    target.mkdir()
    (target / "ca.pem").write_text("old CA, no keystore\n")
    files = tls.ensure_tls(target)
    assert (target / "ca.pem").read_text() == "-----CA CERT-----\n"
    assert (target / "keystore.pass").read_text() == files.password + "\n"
    assert [p.name for p in tmp_path.iterdir()] == ["tls"]


def test_a_folder_another_process_completed_meanwhile_wins(
    tmp_path: Path, keytool: FakeKeytool, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "tls"
    real = keytool.__call__

    def racing(tool: str, args: list[str], env: Mapping[str, str]) -> None:
        real(tool, args, env)
        if args[0] == "-importcert":  # the other process finishes first
            target.mkdir()
            for name, text in (
                ("ca.pem", "theirs\n"),
                ("broker.p12", "theirs"),
                ("keystore.pass", "their-pass\n"),
            ):
                (target / name).write_text(text)

    monkeypatch.setattr(tls, "_keytool", racing)
    files = tls.ensure_tls(target)
    assert files == tls.TlsFiles(target / "ca.pem", target / "broker.p12", "their-pass")
    assert (target / "ca.pem").read_text() == "theirs\n"
    assert [p.name for p in tmp_path.iterdir()] == ["tls"]  # our staging folder is gone


# -- keytool itself ------------------------------------------------------------------------------------


def test_keytool_failure_names_the_command_and_shows_its_output(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[list[str], dict[str, Any]]] = []

    def run(cmd: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        seen.append((cmd, kwargs))
        return subprocess.CompletedProcess(cmd, 2, "out\n", "keytool error: bad alias\n")

    monkeypatch.setattr(subprocess, "run", run)
    with pytest.raises(KafkaLauncherError) as err:
        tls._keytool("/jdk/bin/keytool", ["-gencert", "-alias", "ca"], {"DWF_KEYSTORE_PASS": "pw"})
    assert str(err.value) == "`keytool -gencert` failed (exit 2):\nout\nkeytool error: bad alias"
    [(cmd, kwargs)] = seen
    assert cmd == ["/jdk/bin/keytool", "-gencert", "-alias", "ca"]
    assert kwargs["env"] == {"DWF_KEYSTORE_PASS": "pw"}
    assert kwargs["timeout"] == 120


def test_keytool_success_is_silent(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(subprocess, "run", lambda cmd, **kw: subprocess.CompletedProcess(cmd, 0, "", ""))
    tls._keytool("/jdk/bin/keytool", ["-list"], {})


def _executable(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755)
    return path


def test_find_keytool_beside_java_then_java_home_then_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    beside = _executable(tmp_path / "jdk" / "bin" / "keytool")
    _executable(tmp_path / "jdk" / "bin" / "java")
    home = _executable(tmp_path / "home" / "bin" / "keytool")
    on_path = _executable(tmp_path / "path" / "keytool")
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(shutil, "which", lambda name: str(on_path) if name == "keytool" else None)
    assert tls.find_keytool(str(tmp_path / "jdk" / "bin" / "java")) == str(beside)
    assert tls.find_keytool(None) == str(home)
    assert tls.find_keytool(str(tmp_path / "nojdk" / "java")) == str(home)
    monkeypatch.delenv("JAVA_HOME")
    assert tls.find_keytool() == str(on_path)
    (tmp_path / "home" / "bin" / "keytool").chmod(0o644)  # not executable: skipped
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "home"))
    assert tls.find_keytool() == str(on_path)
    assert home.is_file()


def test_no_keytool_anywhere_names_the_java_and_the_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(KafkaLauncherError) as err:
        tls.find_keytool(str(tmp_path / "java"))
    assert str(err.value) == (
        f"no `keytool` found beside {tmp_path / 'java'}, in $JAVA_HOME/bin or on PATH: the TLS listener's "
        "certificates are made with it "
        "(it comes with every JRE; `apt-get install openjdk-17-jre-headless maven`)"
    )
    with pytest.raises(KafkaLauncherError, match="no `keytool` found beside java, in"):
        tls.find_keytool()
    assert os.environ.get("JAVA_HOME") is None
