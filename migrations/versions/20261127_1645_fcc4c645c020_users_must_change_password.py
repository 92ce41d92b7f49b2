"""Users: must_change_password, set when an admin chose the password (new account or reset).

Revision ID: fcc4c645c020
Revises: b4e79a8b22bd
Create Date: 2026-11-27 16:45:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'fcc4c645c020'
down_revision = 'b4e79a8b22bd'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('must_change_password', sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('must_change_password')
