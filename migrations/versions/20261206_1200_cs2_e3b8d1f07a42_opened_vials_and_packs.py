"""Opened vials: whether a product's vial is single-dose (not kept once opened; any other vial is
multiple-dose, kept until its beyond-use date, USP <797>) and the session whose draw opened a
container (a single-dose vial serves only that session).

Existing vial products were kept once opened until now: they stay multiple-dose (the registrant
checks each label on the products page). A container already opened takes the session of its
first administration, when it has one.

Receipt lines bought in packs (Spravato kits of 2 or 3 devices): how many packs, of which pack
(its NDC) and how many containers each; the line's containers are then the packs'. Earlier lines
were loose containers.

Revision ID: e3b8d1f07a42
Revises: a7d2e4c91f36
Create Date: 2026-12-06 12:00:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "e3b8d1f07a42"
down_revision = "a7d2e4c91f36"
branch_labels = None
depends_on = None


PACKS_CHECK = (
    "(packs IS NULL AND per_pack IS NULL AND pack_ndc IS NULL) OR "
    "(packs > 0 AND per_pack > 0 AND pack_ndc IS NOT NULL "
    "AND containers = packs * per_pack)"
)


def upgrade():
    with op.batch_alter_table("stock_products", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("single_dose", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    with op.batch_alter_table("stock_containers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("opened_session_id", sa.Integer(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_stock_containers_opened_session_id"), ["opened_session_id"]
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_stock_containers_opened_session_id_treatment_sessions"),
            "treatment_sessions",
            ["opened_session_id"],
            ["id"],
        )
    op.execute(
        """UPDATE stock_containers SET opened_session_id = (
            SELECT m.session_id FROM stock_movements m
            WHERE m.container_id = stock_containers.id AND m.kind = 'administer'
            ORDER BY m.id LIMIT 1)
        WHERE opened_at IS NOT NULL"""
    )
    with op.batch_alter_table("stock_receipt_lines", schema=None) as batch_op:
        batch_op.add_column(sa.Column("packs", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("per_pack", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("pack_ndc", sa.String(length=14), nullable=True))
        batch_op.create_check_constraint(
            batch_op.f("ck_stock_receipt_lines_packs_make_the_containers"), PACKS_CHECK
        )


def downgrade():
    with op.batch_alter_table("stock_receipt_lines", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("ck_stock_receipt_lines_packs_make_the_containers"), type_="check"
        )
        batch_op.drop_column("pack_ndc")
        batch_op.drop_column("per_pack")
        batch_op.drop_column("packs")
    with op.batch_alter_table("stock_containers", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_stock_containers_opened_session_id_treatment_sessions"),
            type_="foreignkey",
        )
        batch_op.drop_index(batch_op.f("ix_stock_containers_opened_session_id"))
        batch_op.drop_column("opened_session_id")
    with op.batch_alter_table("stock_products", schema=None) as batch_op:
        batch_op.drop_column("single_dose")
