"""Key the audit hash chain: every existing row is checked against the plain SHA-256 chain and
re-hashed with HMAC-SHA-256 under the app's AUDIT_KEY (set it, or it is derived from SECRET_KEY,
before running this). A trail that is already broken stops the upgrade, so that re-keying never
launders an edit; downgrade goes back to the plain chain. No schema change.

Revision ID: c3f93dcc387e
Revises: 5a7c0e2d9b14
Create Date: 2026-12-06 05:10:00

"""
import hashlib
import hmac
import json
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op
from flask import current_app

from clinic_app.keys import audit_key


# revision identifiers, used by Alembic.
revision = 'c3f93dcc387e'
down_revision = '5a7c0e2d9b14'
branch_labels = None
depends_on = None

GENESIS = "0" * 64
# The recipe of clinic_app.audit.row_hash as of this revision.
HASHED = ("occurred_at", "user_id", "role", "action", "entity_type", "entity_id", "patient_id",
          "outcome", "request_id", "detail", "prev_hash")
SQLITE_TRIGGERS = {"audit_events_no_update": "UPDATE", "audit_events_no_delete": "DELETE"}


def _plain(message: bytes) -> str:
    return hashlib.sha256(message).hexdigest()


def _keyed(message: bytes) -> str:
    return hmac.new(audit_key(current_app.config), message, hashlib.sha256).hexdigest()


def upgrade():
    _rehash(check=_plain, write=_keyed)


def downgrade():
    _rehash(check=_keyed, write=_plain)


def _rehash(check, write) -> None:
    """Walk the trail checking each row under `check`, then rewrite the chain under `write`."""
    bind = op.get_bind()
    rows = bind.execute(sa.text(
        "SELECT id, occurred_at, user_id, role, action, entity_type, entity_id, patient_id, "
        "outcome, request_id, detail, prev_hash, row_hash FROM audit_events ORDER BY id"
    )).mappings().all()
    old_prev = new_prev = GENESIS
    updates = []
    for row in rows:
        content = {name: row[name] for name in HASHED}
        occurred = content["occurred_at"]
        if isinstance(occurred, str):  # SQLite hands back text through a plain query
            occurred = datetime.fromisoformat(occurred)
        occurred = occurred.replace(tzinfo=UTC) if occurred.tzinfo is None else occurred.astimezone(UTC)
        content["occurred_at"] = occurred.isoformat()
        if isinstance(content["detail"], str):
            content["detail"] = json.loads(content["detail"])
        message = json.dumps(content, sort_keys=True, default=str).encode()
        if row["prev_hash"] != old_prev or check(message) != row["row_hash"]:
            raise RuntimeError(
                f"audit trail broken at row id {row['id']} before re-keying it; investigate "
                "(flask audit verify on the previous release) before upgrading"
            )
        old_prev = row["row_hash"]
        content["prev_hash"] = new_prev
        new_prev = write(json.dumps(content, sort_keys=True, default=str).encode())
        updates.append({"i": row["id"], "p": content["prev_hash"], "h": new_prev})
    if not updates:
        return
    postgresql = bind.dialect.name == "postgresql"
    if postgresql:
        op.execute("ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only")
    else:
        for name in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    bind.execute(sa.text("UPDATE audit_events SET prev_hash = :p, row_hash = :h WHERE id = :i"),
                 updates)
    bind.execute(sa.text("UPDATE audit_chain_head SET head_hash = :h WHERE id = 1"),
                 {"h": new_prev})
    if postgresql:
        op.execute("ALTER TABLE audit_events ENABLE TRIGGER audit_events_append_only")
    else:
        for name, verb in SQLITE_TRIGGERS.items():
            op.execute(f"""
                CREATE TRIGGER {name} BEFORE {verb} ON audit_events
                BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END""")
