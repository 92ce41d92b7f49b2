"""Patients' postal address, for the controlled-substance dispensing record (21 CFR 1304.22(c)).

Existing patients get empty strings: "address not recorded".

Revision ID: a7d2e4c91f36
Revises: b4934ea5cb81
Create Date: 2026-12-06 09:15:00

"""

import sqlalchemy as sa
from alembic import op

from clinic_app.database import search_key
from clinic_app.models.patient import SEARCH_COLUMNS

# revision identifiers, used by Alembic.
revision = "a7d2e4c91f36"
down_revision = "b4934ea5cb81"
branch_labels = None
depends_on = None

COLUMNS = (
    ("address_line1", 120),
    ("address_line2", 120),
    ("city", 80),
    ("state", 2),
    ("zip_code", 10),
)


def upgrade():
    _drop_search_indexes()  # SQLite rebuilds the table and would lose them
    with op.batch_alter_table("patients", schema=None) as batch_op:
        for name, length in COLUMNS:
            batch_op.add_column(
                sa.Column(name, sa.String(length=length), server_default="", nullable=False)
            )
    _create_search_indexes()


def downgrade():
    _drop_search_indexes()
    with op.batch_alter_table("patients", schema=None) as batch_op:
        for name, _ in reversed(COLUMNS):
            batch_op.drop_column(name)
    _create_search_indexes()


def _drop_search_indexes():
    for column in SEARCH_COLUMNS:
        op.drop_index(f"ix_patients_search_{column.key}", table_name="patients")


def _create_search_indexes():
    for column in SEARCH_COLUMNS:
        op.create_index(f"ix_patients_search_{column.key}", "patients", [search_key(column)])
