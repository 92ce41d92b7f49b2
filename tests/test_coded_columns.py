"""Coded columns (the status, kind, role and modality columns typed with their enums): the
database holds exactly the strings it held when they were plain VARCHARs with hand-written
CHECKs, the models hand back enum members, and an unknown code never reaches a row."""

from datetime import timedelta
from decimal import Decimal

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import CheckConstraint, Enum, String, cast, inspect, literal, select, text
from sqlalchemy.exc import IntegrityError, StatementError

from clinic_app import PROJECT_ROOT, create_app
from clinic_app.clinical.codes import DecisionKind, Role, VisitKind
from clinic_app.clinical.ledger import Classification, MovementKind
from clinic_app.clock import utcnow
from clinic_app.extensions import db
from clinic_app.inventory.catalogue import ensure_standard_products
from clinic_app.models import (
    Appointment,
    CourseDecision,
    RemsMonitoringForm,
    RemsSubmission,
    SaeReport,
    StockContainer,
    StockCount,
    StockCountLine,
    StockDiscrepancy,
    StockInventory,
    StockMovement,
    StockReceipt,
    StockReceiptLine,
    User,
)
from clinic_app.models.rems import SaeRecipient, SubmissionChannel
from clinic_app.models.stock import InventoryKind
from clinic_app.treatments import services
from config import TestingConfig
from tests import factories

# What the rows written by _write_rows() store, column by column: the strings of the old schema.
STORED = {
    ("users", "role"): {"nurse", "psychiatrist", "front_desk", "admin"},
    ("treatment_courses", "modality"): {"esketamine_nasal"},
    ("treatment_courses", "indication"): {"trd"},
    ("treatment_courses", "phase"): {"induction"},
    ("course_decisions", "kind"): {"dose_change"},
    ("appointments", "status"): {"scheduled"},
    ("appointments", "visit_kind"): {"induction"},
    ("appointments", "driver_status"): {"unconfirmed"},
    ("treatment_sessions", "modality"): {"esketamine_nasal"},
    ("treatment_sessions", "status"): {"in_progress"},
    ("vitals_readings", "phase"): {"pre_dose"},
    ("adverse_events", "severity"): {"severe"},
    ("clinical_alerts", "kind"): {"serious_ae"},
    ("stock_products", "modality"): {"iv_ketamine", "esketamine_nasal"},
    ("stock_products", "base_unit"): {"mL", "device"},
    ("stock_movements", "kind"): {"receive"},
    ("stock_discrepancies", "classification"): {"explained"},
    ("stock_inventories", "kind"): {"biennial"},
    ("rems_form_submissions", "channel"): {"fax"},
    ("rems_sae_reports", "reported_to"): {"fda_medwatch"},
}


def _coded_columns():
    return [
        column
        for table in db.metadata.sorted_tables
        for column in table.columns
        if isinstance(column.type, Enum)
    ]


def _write_rows() -> None:
    """One row per coded column at least, written by the services and models as the app does."""
    for role in ("nurse", "psychiatrist", "front_desk", "admin"):
        factories.make_user(role)
    treatment = factories.dosed_session()
    event = services.add_adverse_event(
        factories.user("nurse"),
        treatment,
        {"kind": "nausea", "severity": "severe", "description": "Vomited twice."},
    )
    start = utcnow() + timedelta(days=1)
    db.session.add_all(
        [
            CourseDecision(
                course_id=treatment.course_id,
                kind=DecisionKind.DOSE_CHANGE,
                from_value="56",
                to_value="84",
                decided_by_id=factories.user("psychiatrist").id,
                decided_at=utcnow(),
            ),
            Appointment(
                patient_id=treatment.patient_id,
                course_id=treatment.course_id,
                starts_at=start,
                ends_at=start + timedelta(hours=2),
                visit_kind=VisitKind.INDUCTION,
            ),
        ]
    )
    db.session.commit()
    _write_stock_rows()
    _write_rems_rows(treatment.id, event.id)


def _write_rems_rows(session_id: int, event_id: int) -> None:
    """A monitoring form with a submission, and an SAE report."""
    nurse = factories.user("nurse")
    today = utcnow().date()
    form = RemsMonitoringForm(
        session_id=session_id,
        edition="2024-12",
        treatment_date=today,
        due_on=today + timedelta(days=7),
        late_from=utcnow() + timedelta(days=8),
    )
    db.session.add(form)
    db.session.flush()
    db.session.add_all(
        [
            RemsSubmission(
                form_id=form.id,
                submitted_on=today,
                channel=SubmissionChannel.FAX,
                confirmation_number="C",
                edition="2024-12",
                sent_values={},
                fingerprint="0" * 64,
                submitted_by_id=nurse.id,
            ),
            SaeReport(
                adverse_event_id=event_id,
                reported_to=SaeRecipient.FDA_MEDWATCH,
                reported_at=utcnow(),
                reference="R",
                reported_by_id=nurse.id,
            ),
        ]
    )
    db.session.commit()


def _write_stock_rows() -> None:
    """A product of each kind, a received vial, a classified discrepancy, an inventory."""
    nurse, psychiatrist = factories.user("nurse"), factories.user("psychiatrist")
    site = factories.site()
    products = ensure_standard_products()
    receipt = StockReceipt(
        site_id=site.id,
        received_on=utcnow().date(),
        supplier_name="S",
        supplier_address="A",
        supplier_dea="RC0123454",
        invoice_number="I",
        received_by_id=nurse.id,
        checked_by_id=psychiatrist.id,
    )
    db.session.add(receipt)
    db.session.flush()
    line = StockReceiptLine(
        receipt_id=receipt.id,
        product_id=products[0].id,
        lot="L",
        expiry_date=utcnow().date(),
        containers=1,
    )
    db.session.add(line)
    db.session.flush()
    container = StockContainer(
        line_id=line.id, site_id=site.id, storage_location="C", remaining=Decimal(20)
    )
    db.session.add(container)
    db.session.flush()
    count = StockCount(
        site_id=site.id, counted_at=utcnow(), counted_by_id=nurse.id, witness_id=psychiatrist.id
    )
    db.session.add(count)
    db.session.flush()
    counted = StockCountLine(
        count_id=count.id, container_id=container.id, expected=Decimal(20), counted=Decimal(20)
    )
    db.session.add(counted)
    db.session.flush()
    db.session.add_all(
        [
            StockMovement(
                site_id=site.id,
                container_id=container.id,
                kind=MovementKind.RECEIVE,
                quantity=Decimal(20),
                occurred_at=utcnow(),
                actor_id=nurse.id,
            ),
            StockDiscrepancy(
                site_id=site.id,
                count_line_id=counted.id,
                variance=Decimal(0),
                discovered_at=utcnow(),
                classification=Classification.EXPLAINED,
            ),
            StockInventory(
                site_id=site.id,
                kind=InventoryKind.BIENNIAL,
                taken_at=utcnow(),
                opening_of_business=True,
                signed_by_id=psychiatrist.id,
            ),
        ]
    )
    db.session.commit()


def _stored() -> dict[tuple[str, str], list]:
    """Each coded column's values as the database driver returns them (no model types)."""
    return {
        (table, column): db.session.execute(text(f"SELECT {column} FROM {table}")).scalars().all()  # noqa: S608 - names from STORED
        for table, column in STORED
    }


def _loaded() -> dict[tuple[str, str], list]:
    """Each coded column's values read through the models."""
    db.session.expire_all()
    return {
        (column.table.name, column.name): db.session.scalars(select(column)).all()
        for column in _coded_columns()
    }


def _checks(table_name: str) -> tuple[set[str], set[str]]:
    """(CHECK names the models declare, CHECK names the database has) for one table."""
    table = db.metadata.tables[table_name]
    declared = {c.name for c in table.constraints if isinstance(c, CheckConstraint)}
    present = {c["name"] for c in inspect(db.engine).get_check_constraints(table_name)}
    return declared, present


def _migrate(app, *args) -> None:
    result = app.test_cli_runner().invoke(args=["db", *args])
    assert result.exit_code == 0, (result.output, repr(result.exception))


def test_every_coded_column_is_listed(app):
    with app.app_context():
        assert {(c.table.name, c.name) for c in _coded_columns()} == set(STORED)


def test_rows_keep_their_strings_through_a_migration_round_trip(empty_database_url):
    """On a migrated database: the new models store the old strings and read them back as
    members, before and after the newest revision goes down and up again with the rows in
    place, and the database keeps every CHECK the models declare."""
    app = create_app(TestingConfig, SQLALCHEMY_DATABASE_URI=empty_database_url)
    _migrate(app, "upgrade")
    with app.app_context():
        _write_rows()
        stored = _stored()
        db.session.remove()
        db.engine.dispose()
    assert {key: set(values) for key, values in stored.items()} == STORED
    assert all(type(value) is str for values in stored.values() for value in values)

    script = ScriptDirectory(str(PROJECT_ROOT / "migrations"))
    _migrate(app, "downgrade", script.get_revision(script.get_current_head()).down_revision)
    with app.app_context():
        # Tables the newest revision creates go with their rows; the rest keep theirs.
        kept = set(inspect(db.engine).get_table_names())
        stored = {key: values for key, values in stored.items() if key[0] in kept}
        db.engine.dispose()
    _migrate(app, "upgrade")
    with app.app_context():
        assert {k: v for k, v in _stored().items() if k in stored} == stored
        loaded = _loaded()
        for column in _coded_columns():
            key = (column.table.name, column.name)
            if key not in stored:
                continue
            assert all(type(v) is column.type.enum_class for v in loaded[key]), key
            assert sorted(v.value for v in loaded[key]) == sorted(stored[key]), key
        for table in db.metadata.sorted_tables:
            declared, present = _checks(table.name)
            assert declared == present, table.name
        db.session.remove()
        db.engine.dispose()


def test_every_code_binds_as_its_string_and_loads_as_its_member(app):
    with app.app_context():
        # SQLAlchemy's cache key for an Enum type leaves out its enum, so bare literals of two
        # coded types would share one compiled statement; statements on columns never do.
        connection = db.session.connection().execution_options(compiled_cache=None)
        for column in _coded_columns():
            for member in column.type.enum_class:
                as_text = connection.scalar(select(cast(literal(member, column.type), String)))
                assert type(as_text) is str and as_text == member.value, (column, member)
                assert connection.scalar(select(literal(member.value, column.type))) is member


def test_an_unknown_code_is_refused_before_and_by_the_database(app, staff):
    with app.app_context():
        nurse = db.session.get(User, staff["nurse"])
        nurse.role = "owner"
        with pytest.raises(StatementError, match="owner"):
            db.session.flush()
        db.session.rollback()
        assert nurse.role is Role.NURSE

        with pytest.raises(IntegrityError, match="ck_users_role_known"):
            db.session.execute(
                text("UPDATE users SET role = 'owner' WHERE id = :id"), {"id": staff["nurse"]}
            )
        db.session.rollback()
        assert db.session.get(User, staff["nurse"]).role is Role.NURSE
