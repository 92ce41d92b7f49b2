"""Patient search: expression indexes on the byte-order lower case of last name, first name and
MRN (clinic_app.database.search_key), so a prefix search stays fast at 100,000 patients.

Revision ID: b4e79a8b22bd
Revises: c91d2f88dc74
Create Date: 2026-11-27 16:00:00

"""
from alembic import op

from clinic_app.database import search_key
from clinic_app.models.patient import SEARCH_COLUMNS

# revision identifiers, used by Alembic.
revision = 'b4e79a8b22bd'
down_revision = 'c91d2f88dc74'
branch_labels = None
depends_on = None


def upgrade():
    for column in SEARCH_COLUMNS:
        op.create_index(f"ix_patients_search_{column.key}", "patients", [search_key(column)])


def downgrade():
    for column in SEARCH_COLUMNS:
        op.drop_index(f"ix_patients_search_{column.key}", table_name="patients")
