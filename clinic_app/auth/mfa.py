"""Two-factor sign-in: TOTP (pyotp) with single-use codes, and hashed single-use backup codes."""

import hmac
import secrets
from datetime import UTC, datetime

import pyotp
import segno
from cryptography.fernet import InvalidToken
from sqlalchemy import select

from clinic_app.auth.passwords import hash_password, verify_password
from clinic_app.clock import utcnow
from clinic_app.extensions import db
from clinic_app.keys import data_cipher
from clinic_app.models import BackupCode, User

ISSUER = "Ketamine Clinic"
BACKUP_CODE_COUNT = 10
# One 30-second step either side absorbs phone clock drift.
VALID_WINDOW = 1


def store_new_secret(user: User) -> str:
    """Give `user` a fresh, not yet enabled TOTP seed (encrypted at rest); returns the seed."""
    secret = pyotp.random_base32()
    user.totp_secret_encrypted = data_cipher().encrypt(secret.encode()).decode()
    user.totp_enabled_at = None
    user.totp_last_timecode = None
    return secret


def secret_of(user: User) -> str | None:
    if not user.totp_secret_encrypted:
        return None
    try:
        return data_cipher().decrypt(user.totp_secret_encrypted.encode()).decode()
    except InvalidToken:
        return None


def provisioning_qr(user: User) -> tuple[str, str]:
    """(otpauth URI, QR code as an SVG data URI) for the authenticator app."""
    uri = pyotp.TOTP(secret_of(user)).provisioning_uri(name=user.username, issuer_name=ISSUER)
    return uri, segno.make(uri, error="m").svg_data_uri(scale=5)


def verify_totp(user: User, code: str) -> bool:
    """True for a current code not used before; records its time step so it cannot be replayed."""
    secret = secret_of(user)
    code = code.strip().replace(" ", "")
    if secret is None or not code.isdigit():
        return False
    totp = pyotp.TOTP(secret)
    now = utcnow()
    for step in range(-VALID_WINDOW, VALID_WINDOW + 1):
        moment = now.timestamp() + step * totp.interval
        if hmac.compare_digest(totp.at(moment), code):
            timecode = totp.timecode(datetime.fromtimestamp(moment, UTC))
            if user.totp_last_timecode is not None and timecode <= user.totp_last_timecode:
                return False
            user.totp_last_timecode = timecode
            return True
    return False


def new_backup_codes(user: User) -> list[str]:
    """Replace the user's backup codes with fresh ones; the plain codes are shown once."""
    for old in db.session.scalars(select(BackupCode).where(BackupCode.user_id == user.id)):
        db.session.delete(old)
    codes = [f"{secrets.token_hex(3)}-{secrets.token_hex(3)}" for _ in range(BACKUP_CODE_COUNT)]
    for code in codes:
        db.session.add(BackupCode(user_id=user.id, code_hash=hash_password(code)))
    return codes


def use_backup_code(user: User, code: str) -> bool:
    """Spend one unused backup code matching `code`."""
    code = code.strip().lower()
    unused = db.session.scalars(
        select(BackupCode).where(BackupCode.user_id == user.id, BackupCode.used_at.is_(None))
    )
    for candidate in unused:
        if verify_password(candidate.code_hash, code):
            candidate.used_at = utcnow()
            return True
    return False


def disable(user: User) -> None:
    user.totp_secret_encrypted = ""
    user.totp_enabled_at = None
    user.totp_last_timecode = None
    for old in db.session.scalars(select(BackupCode).where(BackupCode.user_id == user.id)):
        db.session.delete(old)
