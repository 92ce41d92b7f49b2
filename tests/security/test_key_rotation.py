"""Keys outside the database: SECRET_KEY can change without losing the two-factor seeds or the
audit trail (after `flask keys pin`), and DATA_KEYS rotate with `flask keys reencrypt`."""

from cryptography.fernet import Fernet

from clinic_app.auth import mfa
from clinic_app.extensions import db
from clinic_app.keys import derived_data_key
from clinic_app.models import AuditEvent, User
from tests import factories

OLD_SECRET = "old-secret-key-" + "o" * 32
NEW_SECRET = "new-secret-key-" + "n" * 32


def _enrolled_user(app) -> tuple[int, str]:
    with app.app_context():
        user = factories.make_user("nurse")
        seed = mfa.store_new_secret(user)
        # As confirming the first code does: the pending seed becomes the enabled one.
        user.totp_secret_encrypted, user.totp_pending_secret_encrypted = (
            user.totp_pending_secret_encrypted,
            "",
        )
        db.session.commit()
        return user.id, seed


def _seed(app, user_id: int) -> str | None:
    with app.app_context():
        return mfa.secret_of(db.session.get(User, user_id))


def _invoke(app, *args: str):
    return app.test_cli_runner().invoke(args=list(args))


def test_secret_key_rotation_keeps_seeds_and_trail_once_the_keys_are_pinned(make_app):
    old = make_app(SECRET_KEY=OLD_SECRET)
    user_id, seed = _enrolled_user(old)
    pinned = _invoke(old, "keys", "pin")
    assert pinned.exit_code == 0, pinned.output
    settings = dict(line.split("=", 1) for line in pinned.output.split())
    assert set(settings) == {"AUDIT_KEY", "DATA_KEYS"}

    # Without the pinned keys a new SECRET_KEY loses both.
    bare = make_app(SECRET_KEY=NEW_SECRET, empty=False)
    assert _seed(bare, user_id) is None
    assert _invoke(bare, "audit", "verify").exit_code != 0

    rotated = make_app(SECRET_KEY=NEW_SECRET, empty=False, **settings)
    assert _seed(rotated, user_id) == seed
    verified = _invoke(rotated, "audit", "verify")
    assert verified.exit_code == 0, verified.output
    # Pinned keys are no longer printed: nothing depends on SECRET_KEY any more.
    assert _invoke(rotated, "keys", "pin").output == ""


def test_data_keys_rotate_from_the_derived_key_to_new_keys(make_app):
    first, second = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    legacy = make_app(SECRET_KEY=OLD_SECRET)
    user_id, seed = _enrolled_user(legacy)  # encrypted with the key derived from SECRET_KEY

    # A new key first; the derived one still decrypts what it encrypted.
    added = make_app(SECRET_KEY=OLD_SECRET, DATA_KEYS=first, empty=False)
    assert _seed(added, user_id) == seed
    derived = derived_data_key(OLD_SECRET)
    assert f"DATA_KEYS={first},{derived}" in _invoke(added, "keys", "pin").output.split()
    result = _invoke(added, "keys", "reencrypt")
    assert result.exit_code == 0 and "Re-encrypted 1 " in result.output, result.output
    with added.app_context():
        row = db.session.scalars(db.select(AuditEvent).order_by(AuditEvent.id.desc())).first()
        assert (row.action, row.detail) == ("keys.reencrypt", {"reencrypted": 1, "unreadable": 0})

    # Now SECRET_KEY plays no part, and the next key takes over the same way.
    assert "DATA_KEYS" not in _invoke(added, "keys", "pin").output
    assert _seed(make_app(SECRET_KEY=NEW_SECRET, DATA_KEYS=first, empty=False), user_id) == seed
    both = make_app(SECRET_KEY=OLD_SECRET, DATA_KEYS=f"{second},{first}", empty=False)
    assert _invoke(both, "keys", "reencrypt").exit_code == 0
    assert _seed(make_app(SECRET_KEY=NEW_SECRET, DATA_KEYS=second, empty=False), user_id) == seed
    assert _seed(make_app(SECRET_KEY=NEW_SECRET, DATA_KEYS=first, empty=False), user_id) is None


def test_reencrypt_reports_seeds_no_key_can_read(make_app):
    user_id, _ = _enrolled_user(make_app(SECRET_KEY=OLD_SECRET))
    lost = make_app(SECRET_KEY=NEW_SECRET, DATA_KEYS=Fernet.generate_key().decode(), empty=False)
    result = _invoke(lost, "keys", "reencrypt")
    assert result.exit_code != 0
    assert "1 secrets match none of DATA_KEYS" in result.output
    assert _seed(lost, user_id) is None
