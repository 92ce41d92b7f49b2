"""Controlled-substance records per site: products, receipts and their lines, containers (one per
vial or device), the append-only ledger of movements (UPDATE and DELETE refused by triggers, as
on the audit trail), counts, discrepancies and inventories; device rows name the device taken
from stock.

Revision ID: b4934ea5cb81
Revises: f85363f303b2
Create Date: 2026-12-06 08:00:00

"""

import sqlalchemy as sa
from alembic import op

import clinic_app.database

# The same triggers as clinic_app.models.stock creates under create_all().
PG_APPEND_ONLY = [
    """CREATE OR REPLACE FUNCTION stock_movements_append_only() RETURNS trigger
    LANGUAGE plpgsql AS $$ BEGIN
        RAISE EXCEPTION 'stock_movements is append-only';
    END $$""",
    """CREATE TRIGGER stock_movements_append_only BEFORE UPDATE OR DELETE ON stock_movements
    FOR EACH ROW EXECUTE FUNCTION stock_movements_append_only()""",
]
SQLITE_APPEND_ONLY = {
    f"stock_movements_no_{verb.lower()}": f"""CREATE TRIGGER stock_movements_no_{verb.lower()}
    BEFORE {verb} ON stock_movements
    BEGIN SELECT RAISE(ABORT, 'stock_movements is append-only'); END"""
    for verb in ("UPDATE", "DELETE")
}


# revision identifiers, used by Alembic.
revision = "b4934ea5cb81"
down_revision = "f85363f303b2"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "stock_products",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("ndc", sa.String(length=14), nullable=False),
        sa.Column("schedule", sa.String(length=4), nullable=False),
        sa.Column(
            "modality",
            sa.Enum(
                "iv_ketamine",
                "esketamine_nasal",
                name="stock_product_modality",
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("dosage_form", sa.String(length=40), nullable=False),
        sa.Column("mg_per_unit", sa.Numeric(precision=10, scale=2), nullable=False),
        sa.Column(
            "base_unit",
            sa.Enum(
                "mL",
                "device",
                name="stock_base_unit",
                native_enum=False,
                create_constraint=True,
                length=8,
            ),
            nullable=False,
        ),
        sa.Column("container_size", sa.Numeric(precision=10, scale=2), nullable=False),
        sa.Column("witness_required", sa.Boolean(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", clinic_app.database.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "container_size > 0", name=op.f("ck_stock_products_container_size_positive")
        ),
        sa.CheckConstraint("mg_per_unit > 0", name=op.f("ck_stock_products_mg_per_unit_positive")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stock_products")),
        sa.UniqueConstraint("ndc", name=op.f("uq_stock_products_ndc")),
    )
    op.create_table(
        "stock_counts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("counted_at", clinic_app.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("counted_by_id", sa.Integer(), nullable=False),
        sa.Column("witness_id", sa.Integer(), nullable=False),
        sa.Column("created_at", clinic_app.database.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("counted_by_id <> witness_id", name=op.f("ck_stock_counts_two_people")),
        sa.ForeignKeyConstraint(
            ["counted_by_id"], ["users.id"], name=op.f("fk_stock_counts_counted_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.id"], name=op.f("fk_stock_counts_site_id_sites")
        ),
        sa.ForeignKeyConstraint(
            ["witness_id"], ["users.id"], name=op.f("fk_stock_counts_witness_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stock_counts")),
    )
    with op.batch_alter_table("stock_counts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_stock_counts_counted_at"), ["counted_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_stock_counts_counted_by_id"), ["counted_by_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_stock_counts_site_id"), ["site_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_stock_counts_witness_id"), ["witness_id"], unique=False
        )

    op.create_table(
        "stock_inventories",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "initial",
                "biennial",
                name="stock_inventory_kind",
                native_enum=False,
                create_constraint=True,
                length=10,
            ),
            nullable=False,
        ),
        sa.Column("taken_at", clinic_app.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("opening_of_business", sa.Boolean(), nullable=False),
        sa.Column("signed_by_id", sa.Integer(), nullable=False),
        sa.Column("created_at", clinic_app.database.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["signed_by_id"], ["users.id"], name=op.f("fk_stock_inventories_signed_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.id"], name=op.f("fk_stock_inventories_site_id_sites")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stock_inventories")),
    )
    with op.batch_alter_table("stock_inventories", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_stock_inventories_signed_by_id"), ["signed_by_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_stock_inventories_site_id"), ["site_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_stock_inventories_taken_at"), ["taken_at"], unique=False
        )

    op.create_table(
        "stock_receipts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("received_on", sa.Date(), nullable=False),
        sa.Column("supplier_name", sa.String(length=120), nullable=False),
        sa.Column("supplier_address", sa.String(length=240), nullable=False),
        sa.Column("supplier_dea", sa.String(length=9), nullable=False),
        sa.Column("invoice_number", sa.String(length=40), nullable=False),
        sa.Column("received_by_id", sa.Integer(), nullable=False),
        sa.Column("checked_by_id", sa.Integer(), nullable=False),
        sa.Column("created_at", clinic_app.database.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "received_by_id <> checked_by_id", name=op.f("ck_stock_receipts_checked_by_second_user")
        ),
        sa.ForeignKeyConstraint(
            ["checked_by_id"], ["users.id"], name=op.f("fk_stock_receipts_checked_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["received_by_id"], ["users.id"], name=op.f("fk_stock_receipts_received_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.id"], name=op.f("fk_stock_receipts_site_id_sites")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stock_receipts")),
    )
    with op.batch_alter_table("stock_receipts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_stock_receipts_checked_by_id"), ["checked_by_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_stock_receipts_received_by_id"), ["received_by_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_stock_receipts_received_on"), ["received_on"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_stock_receipts_site_id"), ["site_id"], unique=False)

    op.create_table(
        "stock_inventory_lines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("inventory_id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("lot", sa.String(length=40), nullable=False),
        sa.Column("full_containers", sa.Integer(), nullable=False),
        sa.Column("opened_containers", sa.Integer(), nullable=False),
        sa.Column("opened_quantity", clinic_app.database.Quantity(), nullable=False),
        sa.Column("total", clinic_app.database.Quantity(), nullable=False),
        sa.ForeignKeyConstraint(
            ["inventory_id"],
            ["stock_inventories.id"],
            name=op.f("fk_stock_inventory_lines_inventory_id_stock_inventories"),
        ),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["stock_products.id"],
            name=op.f("fk_stock_inventory_lines_product_id_stock_products"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stock_inventory_lines")),
    )
    with op.batch_alter_table("stock_inventory_lines", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_stock_inventory_lines_inventory_id"), ["inventory_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_stock_inventory_lines_product_id"), ["product_id"], unique=False
        )

    op.create_table(
        "stock_receipt_lines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("receipt_id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("lot", sa.String(length=40), nullable=False),
        sa.Column("expiry_date", sa.Date(), nullable=False),
        sa.Column("containers", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "containers > 0", name=op.f("ck_stock_receipt_lines_containers_positive")
        ),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["stock_products.id"],
            name=op.f("fk_stock_receipt_lines_product_id_stock_products"),
        ),
        sa.ForeignKeyConstraint(
            ["receipt_id"],
            ["stock_receipts.id"],
            name=op.f("fk_stock_receipt_lines_receipt_id_stock_receipts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stock_receipt_lines")),
    )
    with op.batch_alter_table("stock_receipt_lines", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_stock_receipt_lines_expiry_date"), ["expiry_date"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_stock_receipt_lines_product_id"), ["product_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_stock_receipt_lines_receipt_id"), ["receipt_id"], unique=False
        )

    op.create_table(
        "stock_containers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("line_id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("storage_location", sa.String(length=80), nullable=False),
        sa.Column("remaining", clinic_app.database.Quantity(), nullable=False),
        sa.Column("opened_at", clinic_app.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", clinic_app.database.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "remaining >= 0", name=op.f("ck_stock_containers_remaining_not_negative")
        ),
        sa.ForeignKeyConstraint(
            ["line_id"],
            ["stock_receipt_lines.id"],
            name=op.f("fk_stock_containers_line_id_stock_receipt_lines"),
        ),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.id"], name=op.f("fk_stock_containers_site_id_sites")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stock_containers")),
    )
    with op.batch_alter_table("stock_containers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_stock_containers_line_id"), ["line_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_stock_containers_opened_at"), ["opened_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_stock_containers_site_id"), ["site_id"], unique=False)

    op.create_table(
        "stock_count_lines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("count_id", sa.Integer(), nullable=False),
        sa.Column("container_id", sa.Integer(), nullable=False),
        sa.Column("expected", clinic_app.database.Quantity(), nullable=False),
        sa.Column("counted", clinic_app.database.Quantity(), nullable=False),
        sa.ForeignKeyConstraint(
            ["container_id"],
            ["stock_containers.id"],
            name=op.f("fk_stock_count_lines_container_id_stock_containers"),
        ),
        sa.ForeignKeyConstraint(
            ["count_id"],
            ["stock_counts.id"],
            name=op.f("fk_stock_count_lines_count_id_stock_counts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stock_count_lines")),
    )
    with op.batch_alter_table("stock_count_lines", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_stock_count_lines_container_id"), ["container_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_stock_count_lines_count_id"), ["count_id"], unique=False
        )

    op.create_table(
        "stock_discrepancies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("count_line_id", sa.Integer(), nullable=False),
        sa.Column("variance", clinic_app.database.Quantity(), nullable=False),
        sa.Column("discovered_at", clinic_app.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "classification",
            sa.Enum(
                "recording_error",
                "explained",
                "unexplained",
                "suspected_theft",
                "significant_loss",
                name="stock_discrepancy_classification",
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            nullable=True,
        ),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("notice_due", sa.Date(), nullable=True),
        sa.Column("notice_ref", sa.String(length=80), nullable=False),
        sa.Column("form106_due", sa.Date(), nullable=True),
        sa.Column("form106_ref", sa.String(length=80), nullable=False),
        sa.Column("closed_at", clinic_app.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column("closed_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["closed_by_id"], ["users.id"], name=op.f("fk_stock_discrepancies_closed_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["count_line_id"],
            ["stock_count_lines.id"],
            name=op.f("fk_stock_discrepancies_count_line_id_stock_count_lines"),
        ),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.id"], name=op.f("fk_stock_discrepancies_site_id_sites")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stock_discrepancies")),
        sa.UniqueConstraint("count_line_id", name=op.f("uq_stock_discrepancies_count_line_id")),
    )
    with op.batch_alter_table("stock_discrepancies", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_stock_discrepancies_closed_at"), ["closed_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_stock_discrepancies_closed_by_id"), ["closed_by_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_stock_discrepancies_discovered_at"), ["discovered_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_stock_discrepancies_site_id"), ["site_id"], unique=False
        )

    op.create_table(
        "stock_movements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("container_id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "receive",
                "administer",
                "waste",
                "destroy",
                "return",
                "loss",
                "count_adjust",
                "reversal",
                name="stock_movement_kind",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("quantity", clinic_app.database.Quantity(), nullable=False),
        sa.Column("quantity_mg", clinic_app.database.Quantity(), nullable=True),
        sa.Column("occurred_at", clinic_app.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=False),
        sa.Column("witness_id", sa.Integer(), nullable=True),
        sa.Column("second_witness_id", sa.Integer(), nullable=True),
        sa.Column("patient_id", sa.Integer(), nullable=True),
        sa.Column("session_id", sa.Integer(), nullable=True),
        sa.Column("method", sa.String(length=80), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("document_ref", sa.String(length=80), nullable=False),
        sa.Column("reverses_id", sa.Integer(), nullable=True),
        sa.Column("created_at", clinic_app.database.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(kind = 'reversal') = (reverses_id IS NOT NULL)",
            name=op.f("ck_stock_movements_reversal_names_its_row"),
        ),
        sa.CheckConstraint("quantity <> 0", name=op.f("ck_stock_movements_quantity_not_zero")),
        sa.CheckConstraint(
            "second_witness_id IS NULL OR (second_witness_id <> actor_id AND second_witness_id <> witness_id)",
            name=op.f("ck_stock_movements_second_witness_distinct"),
        ),
        sa.CheckConstraint(
            "witness_id IS NULL OR witness_id <> actor_id",
            name=op.f("ck_stock_movements_witness_not_actor"),
        ),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["users.id"], name=op.f("fk_stock_movements_actor_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["container_id"],
            ["stock_containers.id"],
            name=op.f("fk_stock_movements_container_id_stock_containers"),
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_stock_movements_patient_id_patients")
        ),
        sa.ForeignKeyConstraint(
            ["reverses_id"],
            ["stock_movements.id"],
            name=op.f("fk_stock_movements_reverses_id_stock_movements"),
        ),
        sa.ForeignKeyConstraint(
            ["second_witness_id"],
            ["users.id"],
            name=op.f("fk_stock_movements_second_witness_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["treatment_sessions.id"],
            name=op.f("fk_stock_movements_session_id_treatment_sessions"),
        ),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.id"], name=op.f("fk_stock_movements_site_id_sites")
        ),
        sa.ForeignKeyConstraint(
            ["witness_id"], ["users.id"], name=op.f("fk_stock_movements_witness_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stock_movements")),
        sa.UniqueConstraint("reverses_id", name=op.f("uq_stock_movements_reverses_id")),
    )
    with op.batch_alter_table("stock_movements", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_stock_movements_actor_id"), ["actor_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_stock_movements_container_id"), ["container_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_stock_movements_occurred_at"), ["occurred_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_stock_movements_patient_id"), ["patient_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_stock_movements_second_witness_id"), ["second_witness_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_stock_movements_session_id"), ["session_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_stock_movements_site_id"), ["site_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_stock_movements_witness_id"), ["witness_id"], unique=False
        )

    with op.batch_alter_table("device_administrations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("container_id", sa.Integer(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_device_administrations_container_id"), ["container_id"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_device_administrations_container_id_stock_containers"),
            "stock_containers",
            ["container_id"],
            ["id"],
        )

    if op.get_bind().dialect.name == "postgresql":
        for statement in PG_APPEND_ONLY:
            op.execute(statement)
    else:
        for statement in SQLITE_APPEND_ONLY.values():
            op.execute(statement)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS stock_movements_append_only ON stock_movements")
        op.execute("DROP FUNCTION IF EXISTS stock_movements_append_only()")
    else:
        for name in SQLITE_APPEND_ONLY:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    with op.batch_alter_table("device_administrations", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_device_administrations_container_id_stock_containers"),
            type_="foreignkey",
        )
        batch_op.drop_index(batch_op.f("ix_device_administrations_container_id"))
        batch_op.drop_column("container_id")

    with op.batch_alter_table("stock_movements", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_stock_movements_witness_id"))
        batch_op.drop_index(batch_op.f("ix_stock_movements_site_id"))
        batch_op.drop_index(batch_op.f("ix_stock_movements_session_id"))
        batch_op.drop_index(batch_op.f("ix_stock_movements_second_witness_id"))
        batch_op.drop_index(batch_op.f("ix_stock_movements_patient_id"))
        batch_op.drop_index(batch_op.f("ix_stock_movements_occurred_at"))
        batch_op.drop_index(batch_op.f("ix_stock_movements_container_id"))
        batch_op.drop_index(batch_op.f("ix_stock_movements_actor_id"))

    op.drop_table("stock_movements")
    with op.batch_alter_table("stock_discrepancies", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_stock_discrepancies_site_id"))
        batch_op.drop_index(batch_op.f("ix_stock_discrepancies_discovered_at"))
        batch_op.drop_index(batch_op.f("ix_stock_discrepancies_closed_by_id"))
        batch_op.drop_index(batch_op.f("ix_stock_discrepancies_closed_at"))

    op.drop_table("stock_discrepancies")
    with op.batch_alter_table("stock_count_lines", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_stock_count_lines_count_id"))
        batch_op.drop_index(batch_op.f("ix_stock_count_lines_container_id"))

    op.drop_table("stock_count_lines")
    with op.batch_alter_table("stock_containers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_stock_containers_site_id"))
        batch_op.drop_index(batch_op.f("ix_stock_containers_opened_at"))
        batch_op.drop_index(batch_op.f("ix_stock_containers_line_id"))

    op.drop_table("stock_containers")
    with op.batch_alter_table("stock_receipt_lines", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_stock_receipt_lines_receipt_id"))
        batch_op.drop_index(batch_op.f("ix_stock_receipt_lines_product_id"))
        batch_op.drop_index(batch_op.f("ix_stock_receipt_lines_expiry_date"))

    op.drop_table("stock_receipt_lines")
    with op.batch_alter_table("stock_inventory_lines", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_stock_inventory_lines_product_id"))
        batch_op.drop_index(batch_op.f("ix_stock_inventory_lines_inventory_id"))

    op.drop_table("stock_inventory_lines")
    with op.batch_alter_table("stock_receipts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_stock_receipts_site_id"))
        batch_op.drop_index(batch_op.f("ix_stock_receipts_received_on"))
        batch_op.drop_index(batch_op.f("ix_stock_receipts_received_by_id"))
        batch_op.drop_index(batch_op.f("ix_stock_receipts_checked_by_id"))

    op.drop_table("stock_receipts")
    with op.batch_alter_table("stock_inventories", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_stock_inventories_taken_at"))
        batch_op.drop_index(batch_op.f("ix_stock_inventories_site_id"))
        batch_op.drop_index(batch_op.f("ix_stock_inventories_signed_by_id"))

    op.drop_table("stock_inventories")
    with op.batch_alter_table("stock_counts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_stock_counts_witness_id"))
        batch_op.drop_index(batch_op.f("ix_stock_counts_site_id"))
        batch_op.drop_index(batch_op.f("ix_stock_counts_counted_by_id"))
        batch_op.drop_index(batch_op.f("ix_stock_counts_counted_at"))

    op.drop_table("stock_counts")
    op.drop_table("stock_products")
