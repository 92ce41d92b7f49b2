"""Two-factor sign-in: TOTP (pyotp) with single-use codes, and single-use backup codes.

Every check-and-consume is one conditional UPDATE whose row count decides, so two simultaneous
posts of one code cannot both succeed. Backup codes are letters-and-digits in three dashed groups,
a shape no TOTP code has; they are random (60 bits), so a keyed HMAC stores them safely and
checking a wrong code costs one hash, not one argon2 per stored code."""

import hashlib
import hmac
import re
import secrets
from datetime import UTC, datetime
from typing import Any, cast

import pyotp
import segno
from cryptography.fernet import InvalidToken
from flask import current_app
from sqlalchemy import CursorResult, delete, or_, select, update
from sqlalchemy.orm.attributes import set_committed_value

from clinic_app.auth.passwords import verify_password
from clinic_app.clock import utcnow
from clinic_app.extensions import db
from clinic_app.keys import data_cipher, data_keys
from clinic_app.models import BackupCode, User

ISSUER = "Ketamine Clinic"
BACKUP_CODE_COUNT = 10
# One 30-second step either side absorbs phone clock drift.
VALID_WINDOW = 1
TOTP_CODE = re.compile(r"[0-9]{6}")
# Backup codes: 3 groups of 4 from the RFC 4648 base32 alphabet (a-z, 2-7), 60 random bits.
BACKUP_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"
BACKUP_CODE = re.compile(r"([a-z2-7]{4})-?([a-z2-7]{4})-?([a-z2-7]{4})")
# Codes issued before the keyed hash: 6 + 6 hex digits, stored as argon2 hashes.
LEGACY_BACKUP_CODE = re.compile(r"[0-9a-f]{6}-[0-9a-f]{6}")
LEGACY_HASH_PREFIX = "$argon2"


def normalise(code: str) -> str:
    """The code as typed, without spaces, in lower case (what every check compares)."""
    return "".join(code.split()).lower()


def store_new_secret(user: User) -> str:
    """Give `user` a fresh pending TOTP seed (encrypted at rest); returns the seed. The current
    seed and backup codes, if any, keep working until the new seed's first code is verified."""
    secret = pyotp.random_base32()
    user.totp_pending_secret_encrypted = data_cipher().encrypt(secret.encode()).decode()
    return secret


def _decrypt(token: str) -> str | None:
    if not token:
        return None
    try:
        return data_cipher().decrypt(token.encode()).decode()
    except InvalidToken:
        return None


def secret_of(user: User) -> str | None:
    """The seed of the switched-on two-factor sign-in."""
    return _decrypt(user.totp_secret_encrypted)


def pending_secret_of(user: User) -> str | None:
    """The seed being set up, not yet confirmed by a code."""
    return _decrypt(user.totp_pending_secret_encrypted)


def provisioning_qr(user: User) -> tuple[str, str]:
    """(otpauth URI, QR code as an SVG data URI) of the pending seed for the authenticator app."""
    secret = pending_secret_of(user)
    if secret is None:
        raise ValueError("No two-factor setup is waiting for this account.")
    uri = pyotp.TOTP(secret).provisioning_uri(name=user.username, issuer_name=ISSUER)
    return uri, segno.make(uri, error="m").svg_data_uri(scale=5)


def _matching_step(secret: str | None, code: str) -> int | None:
    """The time step within the drift window whose code is `code`, or None."""
    code = normalise(code)
    if secret is None or not TOTP_CODE.fullmatch(code):
        return None
    totp = pyotp.TOTP(secret)
    now = utcnow().timestamp()
    for offset in range(-VALID_WINDOW, VALID_WINDOW + 1):
        moment = now + offset * totp.interval
        if hmac.compare_digest(totp.at(moment), code):
            return totp.timecode(datetime.fromtimestamp(moment, UTC))
    return None


def verify_totp(user: User, code: str) -> bool:
    """True for a current code of a time step later than the last accepted one. The step is
    recorded by a compare-and-set in the same statement, so a code is accepted at most once."""
    step = _matching_step(secret_of(user), code)
    if step is None or user.totp_enabled_at is None:
        return False
    result = db.session.execute(
        update(User)
        .where(
            User.id == user.id,
            User.totp_secret_encrypted == user.totp_secret_encrypted,
            or_(User.totp_last_timecode.is_(None), User.totp_last_timecode < step),
        )
        .values(totp_last_timecode=step)
        .execution_options(synchronize_session=False)
    )
    if cast("CursorResult[Any]", result).rowcount != 1:
        return False
    set_committed_value(user, "totp_last_timecode", step)
    return True


def confirm_pending(user: User, code: str) -> bool:
    """Switch the pending seed on when `code` is its current code: the old seed (if any) is
    replaced in the same conditional statement, and that code's step cannot be replayed."""
    pending = user.totp_pending_secret_encrypted
    step = _matching_step(pending_secret_of(user), code)
    if step is None:
        return False
    now = utcnow()
    result = db.session.execute(
        update(User)
        .where(User.id == user.id, User.totp_pending_secret_encrypted == pending)
        .values(
            totp_secret_encrypted=pending,
            totp_pending_secret_encrypted="",
            totp_enabled_at=now,
            totp_last_timecode=step,
        )
        .execution_options(synchronize_session=False)
    )
    if cast("CursorResult[Any]", result).rowcount != 1:
        return False
    # Mirror the row just written onto the loaded object without a second write.
    for name, value in (
        ("totp_secret_encrypted", pending),
        ("totp_pending_secret_encrypted", ""),
        ("totp_enabled_at", now),
        ("totp_last_timecode", step),
    ):
        set_committed_value(user, name, value)
    return True


def _backup_hashes(user_id: int, code: str) -> list[str]:
    """The code's keyed hash under each data key, newest first: codes stored under a key that
    DATA_KEYS still lists keep working after a rotation."""
    message = f"{user_id}:{code}".encode()
    return [
        hmac.new(
            hashlib.sha256(b"backup-code:" + key.encode()).digest(), message, hashlib.sha256
        ).hexdigest()
        for key in data_keys(current_app.config)
    ]


def new_backup_codes(user: User) -> list[str]:
    """Replace the user's backup codes with fresh ones; the plain codes are shown once."""
    db.session.execute(delete(BackupCode).where(BackupCode.user_id == user.id))
    codes = [
        "-".join("".join(secrets.choice(BACKUP_ALPHABET) for _ in range(4)) for _ in range(3))
        for _ in range(BACKUP_CODE_COUNT)
    ]
    db.session.add_all(
        BackupCode(user_id=user.id, code_hash=_backup_hashes(user.id, code.replace("-", ""))[0])
        for code in codes
    )
    return codes


def _consume(condition) -> bool:
    """Mark one unused code matching `condition` used; True only for the request that did."""
    result = db.session.execute(
        update(BackupCode)
        .where(condition, BackupCode.used_at.is_(None))
        .values(used_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return cast("CursorResult[Any]", result).rowcount == 1


def use_backup_code(user: User, code: str) -> bool:
    """Spend one unused backup code matching `code`. Input that is not shaped like a backup code
    is refused without hashing; a current code costs one HMAC. Codes issued before the keyed hash
    (argon2) are checked only for input of their own shape."""
    code = normalise(code)
    shaped = BACKUP_CODE.fullmatch(code)
    if shaped:
        digests = _backup_hashes(user.id, "".join(shaped.groups()))
        return _consume((BackupCode.user_id == user.id) & BackupCode.code_hash.in_(digests))
    if not LEGACY_BACKUP_CODE.fullmatch(code):
        return False
    legacy = db.session.execute(
        select(BackupCode.id, BackupCode.code_hash).where(
            BackupCode.user_id == user.id,
            BackupCode.used_at.is_(None),
            BackupCode.code_hash.startswith(LEGACY_HASH_PREFIX, autoescape=True),
        )
    )
    for row_id, code_hash in legacy:
        if verify_password(code_hash, code):
            return _consume(BackupCode.id == row_id)
    return False


def disable(user: User) -> None:
    user.totp_secret_encrypted = ""
    user.totp_pending_secret_encrypted = ""
    user.totp_enabled_at = None
    user.totp_last_timecode = None
    db.session.execute(delete(BackupCode).where(BackupCode.user_id == user.id))
