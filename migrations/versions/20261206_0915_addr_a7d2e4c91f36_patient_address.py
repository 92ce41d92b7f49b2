"""Patients' postal address, for the controlled-substance dispensing record (21 CFR 1304.22(c)).

Existing patients get empty strings: "address not recorded".

Revision ID: a7d2e4c91f36
Revises: b4934ea5cb81
Create Date: 2026-12-06 09:15:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'a7d2e4c91f36'
down_revision = 'b4934ea5cb81'
branch_labels = None
depends_on = None

COLUMNS = (
    ('address_line1', 120),
    ('address_line2', 120),
    ('city', 80),
    ('state', 2),
    ('zip_code', 10),
)


def upgrade():
    with op.batch_alter_table('patients', schema=None) as batch_op:
        for name, length in COLUMNS:
            batch_op.add_column(
                sa.Column(name, sa.String(length=length), server_default='', nullable=False)
            )


def downgrade():
    with op.batch_alter_table('patients', schema=None) as batch_op:
        for name, _ in reversed(COLUMNS):
            batch_op.drop_column(name)
