"""Users: a pending TOTP seed, kept apart from the active one until its first code checks out.

Seeds of enrollments that were never confirmed move to the pending column, so the active column
only ever holds a seed that is switched on.

Revision ID: 5a7c0e2d9b14
Revises: bf4ac46af253
Create Date: 2026-12-06 05:10:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '5a7c0e2d9b14'
down_revision = 'bf4ac46af253'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                'totp_pending_secret_encrypted',
                sa.String(length=255),
                server_default='',
                nullable=False,
            )
        )
    op.execute(
        "UPDATE users SET totp_pending_secret_encrypted = totp_secret_encrypted, "
        "totp_secret_encrypted = '' "
        "WHERE totp_enabled_at IS NULL AND totp_secret_encrypted != ''"
    )


def downgrade():
    op.execute(
        "UPDATE users SET totp_secret_encrypted = totp_pending_secret_encrypted "
        "WHERE totp_enabled_at IS NULL AND totp_pending_secret_encrypted != ''"
    )
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('totp_pending_secret_encrypted')
