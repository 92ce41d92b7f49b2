"""The app's keys besides SECRET_KEY: DATA_KEYS encrypt stored two-factor seeds, AUDIT_KEY keys
the audit hash chain. Either may be left unset, and is then derived from SECRET_KEY (installs
that predate them keep working); `flask keys pin` prints the derived values so that SECRET_KEY
can change without losing what they protect."""

import base64
import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import current_app

MIN_SECRET_BYTES = 32
# User columns holding a two-factor seed encrypted with the data keys (the enabled one and a
# re-enrollment waiting for its first code).
SEED_COLUMNS = ("totp_secret_encrypted", "totp_pending_secret_encrypted")


def derived_data_key(secret_key: str) -> str:
    """The Fernet key two-factor seeds were encrypted with before DATA_KEYS existed."""
    digest = hashlib.sha256(b"totp-seed:" + secret_key.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode()


def derived_audit_key(secret_key: str) -> str:
    """The audit chain key used when AUDIT_KEY is unset (64 hex characters)."""
    return hmac.new(secret_key.encode(), b"clinic audit chain", hashlib.sha256).hexdigest()


def configured_data_keys(config: Mapping[str, Any]) -> list[str]:
    """DATA_KEYS as a list, newest first."""
    return (config.get("DATA_KEYS") or "").replace(",", " ").split()


def data_keys(config: Mapping[str, Any]) -> list[str]:
    """DATA_KEYS newest first, then the key derived from SECRET_KEY (read-only fallback)."""
    keys = configured_data_keys(config)
    legacy = derived_data_key(config["SECRET_KEY"])
    return keys + ([legacy] if legacy not in keys else [])


def audit_key(config: Mapping[str, Any]) -> bytes:
    """The HMAC key of the audit chain: AUDIT_KEY, else derived from SECRET_KEY."""
    return (config.get("AUDIT_KEY") or derived_audit_key(config["SECRET_KEY"])).encode()


def data_cipher() -> MultiFernet:
    """Encrypts with the first data key, decrypts with any of them."""
    return MultiFernet([Fernet(key) for key in data_keys(current_app.config)])


def validate(config: Mapping[str, Any]) -> None:
    """Refuse short secrets outside testing and malformed data keys anywhere (RuntimeError)."""
    if config["ENV_NAME"] != "testing":
        for name in ("SECRET_KEY", "AUDIT_KEY"):
            value = config.get(name)
            if value and len(value.encode()) < MIN_SECRET_BYTES:
                raise RuntimeError(
                    f"{name} must be at least {MIN_SECRET_BYTES} bytes; generate one with "
                    "`python3 -c 'import secrets; print(secrets.token_hex(32))'`"
                )
    for key in data_keys(config):
        try:
            Fernet(key)
        except ValueError as error:
            raise RuntimeError(
                "DATA_KEYS must hold Fernet keys (32 url-safe base64-encoded bytes), separated "
                "by commas; generate one with `python3 -c 'from cryptography.fernet import "
                "Fernet; print(Fernet.generate_key().decode())'`"
            ) from error


def secrets_need_derived_key() -> bool:
    """True when some stored two-factor seed is not readable with DATA_KEYS alone."""
    from sqlalchemy import select

    from clinic_app.extensions import db
    from clinic_app.models import User

    configured = configured_data_keys(current_app.config)
    if not configured:
        return True
    cipher = MultiFernet([Fernet(key) for key in configured])
    rows = db.session.execute(
        select(User.totp_secret_encrypted, User.totp_pending_secret_encrypted)
    )
    for token in (token for row in rows for token in row if token):
        try:
            cipher.decrypt(token.encode())
        except InvalidToken:
            return True
    return False


def reencrypt_stored_secrets() -> tuple[int, int]:
    """Re-encrypt every stored two-factor seed with the first data key,
    with an audit row; returns (re-encrypted, unreadable under every key). Flushes, no commit."""
    from sqlalchemy import select

    from clinic_app.audit import record
    from clinic_app.extensions import db
    from clinic_app.models import User

    cipher = data_cipher()
    done = unreadable = 0
    for user in db.session.scalars(select(User)):
        for column in SEED_COLUMNS:
            token = getattr(user, column)
            if not token:
                continue
            try:
                setattr(user, column, cipher.rotate(token.encode()).decode())
            except InvalidToken:
                unreadable += 1
                continue
            done += 1
    record(None, "keys.reencrypt", reencrypted=done, unreadable=unreadable)
    db.session.flush()
    return done, unreadable
