"""The current site each user's boards and calendars open on, remembered in the database.

Revision ID: d5a1c0de5175
Revises: ca4329bc681b
Create Date: 2026-12-06 08:00:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'd5a1c0de5175'
down_revision = 'ca4329bc681b'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('current_site_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_users_current_site_id'), ['current_site_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_users_current_site_id_sites'), 'sites', ['current_site_id'], ['id'])


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_users_current_site_id_sites'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_users_current_site_id'))
        batch_op.drop_column('current_site_id')
