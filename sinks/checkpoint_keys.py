"""Ed25519 keys of the audit checkpoints: the signing key from settings, a verifying key from a file."""

from __future__ import annotations

import base64
import binascii
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
    load_pem_private_key,
    load_pem_public_key,
)

from dana_workflows.core.settings import Settings


class CheckpointKeyError(RuntimeError):
    """A checkpoint key is missing or unreadable; the message names the setting or file and the fix."""


HOW = "make one with `dana-wf audit checkpoint keygen --out KEY.pem`"


def signing_key(settings: Settings) -> Ed25519PrivateKey:
    """DWF_AUDIT_SIGNING_KEY (PEM text) or DWF_AUDIT_SIGNING_KEY_FILE; a clear error when neither is set."""
    if settings.audit_signing_key is not None:
        return _private(settings.audit_signing_key.get_secret_value().encode(), "DWF_AUDIT_SIGNING_KEY")
    if settings.audit_signing_key_file is not None:
        path = settings.audit_signing_key_file
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise CheckpointKeyError(
                f"DWF_AUDIT_SIGNING_KEY_FILE={path}: cannot read it ({exc.strerror})"
            ) from None
        return _private(data, f"DWF_AUDIT_SIGNING_KEY_FILE={path}")
    raise CheckpointKeyError(
        f"no signing key: set DWF_AUDIT_SIGNING_KEY_FILE (or DWF_AUDIT_SIGNING_KEY); {HOW}"
    )


def _private(data: bytes, where: str) -> Ed25519PrivateKey:
    try:
        key = load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise CheckpointKeyError(f"{where}: not an unencrypted PEM private key ({exc}); {HOW}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise CheckpointKeyError(f"{where}: a {type(key).__name__}, not an Ed25519 key; {HOW}")
    return key


def key_to_verify(public_key: Path | None, settings: Settings) -> Ed25519PublicKey:
    """The key checkpoints are verified with: the auditors' public key file, else the signing key's public
    half. With neither, the fix is the public key, not a new key: a new key cannot verify old checkpoints."""
    if public_key is not None:
        return verifying_key(public_key)
    if settings.audit_signing_key is None and settings.audit_signing_key_file is None:
        raise CheckpointKeyError(
            "no key to verify the checkpoints with: give --public-key FILE (the public key of the key that "
            "signed them, KEY.pem.pub), or set DWF_AUDIT_SIGNING_KEY_FILE to that signing key"
        )
    return signing_key(settings).public_key()


def verifying_key(path: Path) -> Ed25519PublicKey:
    """A PEM public key, or the raw 32 bytes in base64 (as `keygen` prints them)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CheckpointKeyError(f"{path}: cannot read the public key ({exc.strerror})") from None
    try:
        if b"BEGIN" in data:
            key = load_pem_public_key(data)
            if not isinstance(key, Ed25519PublicKey):
                raise ValueError(f"a {type(key).__name__}")
            return key
        return Ed25519PublicKey.from_public_bytes(base64.b64decode(data.strip(), validate=True))
    except (ValueError, TypeError, binascii.Error) as exc:
        raise CheckpointKeyError(f"{path}: not an Ed25519 public key ({exc})") from None


def write_new_key(out: Path) -> Path:
    """A new private key at ``out`` (0600, never over an existing file) and its public key at ``out.pub``."""
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    try:
        with out.open("xb") as f:
            out.chmod(0o600)
            f.write(pem)
    except FileExistsError:
        raise CheckpointKeyError(f"{out} exists: choose another path (a key is never overwritten)") from None
    except OSError as exc:  # a folder that does not exist, or one we may not write to
        problem = f"cannot write the key ({exc.strerror})"
        raise CheckpointKeyError(f"{out}: {problem}; choose a writable path") from None
    public = out.with_name(out.name + ".pub")
    try:
        public.write_bytes(key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo))
    except OSError as exc:
        raise CheckpointKeyError(f"{public}: cannot write the public key ({exc.strerror})") from None
    return public
