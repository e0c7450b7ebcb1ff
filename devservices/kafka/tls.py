"""The launcher's TLS listeners: a self-signed CA and a broker certificate made with the JRE's keytool."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from dana_workflows.devservices.kafka.errors import HOST, INSTALL_HINT, KafkaLauncherError

CA_FILE = "ca.pem"
_KEYSTORE = "broker.p12"
_KEYSTORE_PASS = "keystore.pass"
_CA_NAME = "CN=dana-wf local Kafka CA"
_TLS_DAYS = "3650"


def ssl_properties(keystore: Path, password: str) -> dict[str, str]:
    """The TLS listeners' settings: the broker's key and certificate chain (signed by the launcher's CA) in
    a PKCS12 keystore; clients are not asked for certificates (no mTLS)."""
    return {
        "ssl.keystore.type": "PKCS12",
        "ssl.keystore.location": str(keystore),
        "ssl.keystore.password": password,
        "ssl.key.password": password,
        "ssl.client.auth": "none",
    }


@dataclass(frozen=True)
class TlsFiles:
    """What ``ensure_tls`` made: the CA certificate (PEM, for clients) and the broker's PKCS12 keystore."""

    cafile: Path
    keystore: Path
    password: str


def find_keytool(java: str | None = None) -> str:
    """``keytool`` from the same Java as the broker (it ships with every JRE), else the one on PATH."""
    candidates = []
    if java:
        candidates.append(Path(java).resolve().parent / "keytool")
    java_home = os.environ.get("JAVA_HOME")
    if java_home:
        candidates.append(Path(java_home) / "bin" / "keytool")
    candidates.append(Path(shutil.which("keytool") or "/nonexistent"))
    for c in candidates:
        if c.is_file() and os.access(c, os.X_OK):
            return str(c)
    raise KafkaLauncherError(
        f"no `keytool` found beside {java or 'java'}, in $JAVA_HOME/bin or on PATH: the TLS listener's "
        f"certificates are made with it (it comes with every JRE; `{INSTALL_HINT}`)"
    )


def ensure_tls(directory: Path | str, java: str | None = None) -> TlsFiles:
    """A self-signed CA and a broker certificate it signed (for ``127.0.0.1`` and ``localhost``) in
    ``directory``, made with the JDK's ``keytool`` on the first call and reused afterwards.

    Files: ``ca.pem`` (the CA certificate: what clients trust, DWF_KAFKA_SSL_CAFILE), ``broker.pem`` (the
    broker's chain, for reading), ``broker.p12`` (its key and chain, what the broker serves) and
    ``keystore.pass`` (both mode 0600). The CA's private key is thrown away once it signed the broker
    certificate, so nothing else can be issued under that CA. Keys are EC P-256, valid 10 years.
    """
    target = Path(directory).expanduser().resolve()
    files = TlsFiles(target / CA_FILE, target / _KEYSTORE, "")
    pass_file = target / _KEYSTORE_PASS
    if files.cafile.is_file() and files.keystore.is_file() and pass_file.is_file():
        return TlsFiles(files.cafile, files.keystore, pass_file.read_text().strip())
    keytool = find_keytool(java)  # the broker passes its own java; else $JAVA_HOME or PATH
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f"{target.name}.", dir=target.parent))  # mode 0700
    password = secrets.token_urlsafe(24)
    env = {**os.environ, "DWF_KEYSTORE_PASS": password}
    ca_store, store = str(staging / "ca.p12"), str(staging / _KEYSTORE)
    common = ["-storetype", "PKCS12", "-storepass:env", "DWF_KEYSTORE_PASS"]
    ec = ["-keyalg", "EC", "-groupname", "secp256r1", "-validity", _TLS_DAYS]
    steps = [
        ["-genkeypair", "-alias", "ca", *ec, "-dname", _CA_NAME, "-ext", "bc:c",
         "-ext", "KeyUsage:c=keyCertSign,cRLSign", "-keystore", ca_store],
        ["-exportcert", "-rfc", "-alias", "ca", "-keystore", ca_store, "-file", str(staging / CA_FILE)],
        ["-genkeypair", "-alias", "broker", *ec, "-dname", "CN=localhost", "-keystore", store],
        ["-certreq", "-alias", "broker", "-keystore", store, "-file", str(staging / "broker.csr")],
        ["-gencert", "-alias", "ca", "-keystore", ca_store, "-rfc", "-validity", _TLS_DAYS,
         "-infile", str(staging / "broker.csr"), "-outfile", str(staging / "broker.crt"),
         "-ext", f"SAN=dns:localhost,ip:{HOST}", "-ext", "KeyUsage:c=digitalSignature",
         "-ext", "ExtendedKeyUsage=serverAuth"],
    ]  # fmt: skip
    try:
        for args in steps:
            _keytool(keytool, [*args, *common], env)
        chain = staging / "broker.pem"
        chain.write_text((staging / "broker.crt").read_text() + (staging / CA_FILE).read_text())
        _keytool(keytool, ["-importcert", "-noprompt", "-alias", "broker", "-keystore", store,
                           "-file", str(chain), *common], env)  # fmt: skip
        for name in ("ca.p12", "broker.csr", "broker.crt"):
            (staging / name).unlink()
        (staging / _KEYSTORE_PASS).write_text(password + "\n")
        (staging / _KEYSTORE_PASS).chmod(0o600)
        (staging / _KEYSTORE).chmod(0o600)
        (staging / CA_FILE).chmod(0o644)
        if target.exists():  # a half-made folder of an older launcher, or another process won the race
            if (target / CA_FILE).is_file() and (target / _KEYSTORE_PASS).is_file():
                shutil.rmtree(staging)
                return ensure_tls(target)
            shutil.rmtree(target)
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return TlsFiles(target / CA_FILE, target / _KEYSTORE, password)


def _keytool(keytool: str, args: list[str], env: Mapping[str, str]) -> None:
    proc = subprocess.run([keytool, *args], capture_output=True, text=True, env=env, timeout=120, check=False)
    if proc.returncode != 0:
        tail = (proc.stdout + proc.stderr).strip()[-2000:]
        raise KafkaLauncherError(f"`keytool {' '.join(args[:1])}` failed (exit {proc.returncode}):\n{tail}")
