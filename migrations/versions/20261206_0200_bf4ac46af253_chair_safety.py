"""Chair safety: escort, dissociation attestation and not-dosed ending on sessions; pre-dose
checklist additions; IV pump settings and pauses; esketamine devices one by one; adverse events
described, resolved (when, who) and cleared; the clinical screen's review time on patients;
reasons for high doses and TRD courses; BP and hold alerts; the not-dosed visit status.

Revision ID: bf4ac46af253
Revises: fcc4c645c020
Create Date: 2026-12-06 02:00:00

"""
from alembic import op
import sqlalchemy as sa

import clinic_app.database
from clinic_app.database import search_key
from clinic_app.models.patient import SEARCH_COLUMNS


# revision identifiers, used by Alembic.
revision = 'bf4ac46af253'
down_revision = 'fcc4c645c020'
branch_labels = None
depends_on = None

FALSE = sa.false()

SESSION_STATUSES_OLD = "status IN ('in_progress', 'discharged', 'signed', 'cosigned')"
SESSION_STATUSES_NEW = (
    "status IN ('in_progress', 'discharged', 'not_dosed', 'signed', 'cosigned')"
)
CLOSED_OLD = "status = 'in_progress' OR discharged_at IS NOT NULL"
CLOSED_NEW = "status = 'in_progress' OR discharged_at IS NOT NULL OR not_dosed_at IS NOT NULL"
APPOINTMENT_STATUSES_OLD = (
    "status IN ('scheduled', 'confirmed', 'checked_in', 'in_treatment', 'completed', "
    "'cancelled', 'no_show')"
)
APPOINTMENT_STATUSES_NEW = (
    "status IN ('scheduled', 'confirmed', 'checked_in', 'in_treatment', 'completed', "
    "'not_dosed', 'cancelled', 'no_show')"
)
ALERT_KINDS_OLD = "kind IN ('phq9_item9', 'serious_ae', 'missed_induction')"
ALERT_KINDS_NEW = (
    "kind IN ('phq9_item9', 'serious_ae', 'missed_induction', 'bp_notify', 'bp_urgent', "
    "'spo2_low', 'predose_hold')"
)


def upgrade():
    op.create_table('device_administrations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('device_number', sa.Integer(), nullable=False),
    sa.Column('given_at', clinic_app.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('lot_number', sa.String(length=40), nullable=False),
    sa.Column('complete', sa.Boolean(), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('recorded_by_id', sa.Integer(), nullable=False),
    sa.Column('created_at', clinic_app.database.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("complete OR note <> ''", name=op.f('ck_device_administrations_partial_explained')),
    sa.CheckConstraint('device_number BETWEEN 1 AND 3', name=op.f('ck_device_administrations_device_number_range')),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['users.id'], name=op.f('fk_device_administrations_recorded_by_id_users')),
    sa.ForeignKeyConstraint(['session_id'], ['treatment_sessions.id'], name=op.f('fk_device_administrations_session_id_treatment_sessions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_device_administrations')),
    sa.UniqueConstraint('session_id', 'device_number', name='uq_device_administrations_number')
    )
    with op.batch_alter_table('device_administrations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_device_administrations_recorded_by_id'), ['recorded_by_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_device_administrations_session_id'), ['session_id'], unique=False)

    op.create_table('infusion_pauses',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('paused_at', clinic_app.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('resumed_at', clinic_app.database.UTCDateTime(timezone=True), nullable=True),
    sa.Column('reason', sa.String(length=200), nullable=False),
    sa.Column('recorded_by_id', sa.Integer(), nullable=False),
    sa.Column('created_at', clinic_app.database.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('resumed_at IS NULL OR resumed_at > paused_at', name=op.f('ck_infusion_pauses_resumes_after_pause')),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['users.id'], name=op.f('fk_infusion_pauses_recorded_by_id_users')),
    sa.ForeignKeyConstraint(['session_id'], ['treatment_sessions.id'], name=op.f('fk_infusion_pauses_session_id_treatment_sessions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_infusion_pauses'))
    )
    with op.batch_alter_table('infusion_pauses', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_infusion_pauses_recorded_by_id'), ['recorded_by_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_infusion_pauses_session_id'), ['session_id'], unique=False)

    with op.batch_alter_table('adverse_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('description', sa.Text(), server_default='', nullable=False))
        batch_op.add_column(sa.Column('resolved_at', clinic_app.database.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('resolved_by_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('cleared_at', clinic_app.database.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('cleared_by_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('clear_note', sa.Text(), server_default='', nullable=False))
        batch_op.create_index(batch_op.f('ix_adverse_events_cleared_by_id'), ['cleared_by_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_adverse_events_resolved_by_id'), ['resolved_by_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_adverse_events_resolved_by_id_users'), 'users', ['resolved_by_id'], ['id'])
        batch_op.create_foreign_key(batch_op.f('fk_adverse_events_cleared_by_id_users'), 'users', ['cleared_by_id'], ['id'])

    # Events marked resolved before this revision: resolved when recorded, by whoever recorded.
    op.execute(
        "UPDATE adverse_events SET resolved_at = created_at, resolved_by_id = recorded_by_id "
        "WHERE resolved"
    )
    op.execute(
        "UPDATE adverse_events SET description = 'Not described (recorded before descriptions "
        "were required)' WHERE kind = 'other'"
    )
    with op.batch_alter_table('adverse_events', schema=None) as batch_op:
        batch_op.create_check_constraint(
            op.f('ck_adverse_events_other_described'), "kind <> 'other' OR description <> ''"
        )
        batch_op.create_check_constraint(
            op.f('ck_adverse_events_resolved_has_time_and_who'),
            "NOT resolved OR (resolved_at IS NOT NULL AND resolved_by_id IS NOT NULL)",
        )
        batch_op.create_check_constraint(
            op.f('ck_adverse_events_cleared_has_who_and_note'),
            "cleared_at IS NULL OR (cleared_by_id IS NOT NULL AND clear_note <> '')",
        )

    _drop_search_indexes()  # SQLite rebuilds the table and would lose them
    with op.batch_alter_table('patients', schema=None) as batch_op:
        batch_op.add_column(sa.Column('screened_at', clinic_app.database.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('screened_by_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_patients_screened_by_id'), ['screened_by_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_patients_screened_by_id_users'), 'users', ['screened_by_id'], ['id'])
    _create_search_indexes()

    with op.batch_alter_table('treatment_courses', schema=None) as batch_op:
        batch_op.add_column(sa.Column('dose_reason', sa.Text(), server_default='', nullable=False))
        batch_op.add_column(sa.Column('indication_reason', sa.Text(), server_default='', nullable=False))

    with op.batch_alter_table('treatment_sessions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('nasal_spray_checked', sa.Boolean(), server_default=FALSE, nullable=False))
        batch_op.add_column(sa.Column('prescriber_on_site', sa.Boolean(), server_default=FALSE, nullable=False))
        batch_op.add_column(sa.Column('oximeter_available', sa.Boolean(), server_default=FALSE, nullable=False))
        batch_op.add_column(sa.Column('pump_concentration_mg_per_ml', sa.Numeric(precision=6, scale=2), nullable=True))
        batch_op.add_column(sa.Column('pump_rate_ml_per_hour', sa.Numeric(precision=6, scale=1), nullable=True))
        batch_op.add_column(sa.Column('infused_volume_ml', sa.Numeric(precision=6, scale=1), nullable=True))
        batch_op.add_column(sa.Column('escort_kind', sa.String(length=20), server_default='', nullable=False))
        batch_op.add_column(sa.Column('escort_phone', sa.String(length=32), server_default='', nullable=False))
        batch_op.add_column(sa.Column('escort_relationship', sa.String(length=40), server_default='', nullable=False))
        batch_op.add_column(sa.Column('dissociation_attested', sa.Boolean(), server_default=FALSE, nullable=False))
        batch_op.add_column(sa.Column('not_dosed_at', clinic_app.database.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('not_dosed_reason', sa.String(length=30), server_default='', nullable=False))
        batch_op.add_column(sa.Column('not_dosed_note', sa.Text(), server_default='', nullable=False))
        batch_op.add_column(sa.Column('not_dosed_by_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_treatment_sessions_not_dosed_by_id'), ['not_dosed_by_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_treatment_sessions_not_dosed_by_id_users'), 'users', ['not_dosed_by_id'], ['id'])
        _replace_check(batch_op, 'treatment_sessions', 'status_known', SESSION_STATUSES_NEW)
        _replace_check(batch_op, 'treatment_sessions', 'closed_after_discharge', CLOSED_NEW)
        batch_op.create_check_constraint(
            op.f('ck_treatment_sessions_not_dosed_has_reason_and_no_dose'),
            "not_dosed_at IS NULL OR (dose_started_at IS NULL AND discharged_at IS NULL"
            " AND not_dosed_reason <> '')",
        )
        batch_op.create_check_constraint(
            op.f('ck_treatment_sessions_escort_kind_known'),
            "escort_kind = '' OR escort_kind IN ('confirmed_driver', 'other_adult')",
        )
        batch_op.create_check_constraint(
            op.f('ck_treatment_sessions_not_dosed_reason_known'),
            "not_dosed_reason = '' OR not_dosed_reason IN ('rems_not_met', 'bp_hold', "
            "'patient_declined', 'contraindication', 'fasting_not_met', 'no_driver', 'unwell', "
            "'other')",
        )

    with op.batch_alter_table('clinical_alerts', schema=None) as batch_op:
        _replace_check(batch_op, 'clinical_alerts', 'kind_known', ALERT_KINDS_NEW)

    _drop_double_booking_triggers()  # SQLite rebuilds the table and would lose them
    with op.batch_alter_table('appointments', schema=None) as batch_op:
        _replace_check(batch_op, 'appointments', 'status_known', APPOINTMENT_STATUSES_NEW)
    _create_double_booking_triggers()



def downgrade():
    op.execute(
        "UPDATE appointments SET status = 'completed' WHERE status = 'not_dosed'"
    )
    _drop_double_booking_triggers()
    with op.batch_alter_table('appointments', schema=None) as batch_op:
        _replace_check(batch_op, 'appointments', 'status_known', APPOINTMENT_STATUSES_OLD)
    _create_double_booking_triggers()
    op.execute(
        "DELETE FROM clinical_alerts WHERE kind IN ('bp_notify', 'bp_urgent', 'spo2_low', "
        "'predose_hold')"
    )
    with op.batch_alter_table('clinical_alerts', schema=None) as batch_op:
        _replace_check(batch_op, 'clinical_alerts', 'kind_known', ALERT_KINDS_OLD)

    with op.batch_alter_table('treatment_sessions', schema=None) as batch_op:
        for name in (
            'not_dosed_reason_known', 'escort_kind_known', 'not_dosed_has_reason_and_no_dose'
        ):
            batch_op.drop_constraint(op.f(f'ck_treatment_sessions_{name}'), type_='check')
        _replace_check(batch_op, 'treatment_sessions', 'closed_after_discharge', CLOSED_OLD)
        _replace_check(batch_op, 'treatment_sessions', 'status_known', SESSION_STATUSES_OLD)
    with op.batch_alter_table('treatment_sessions', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_treatment_sessions_not_dosed_by_id_users'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_treatment_sessions_not_dosed_by_id'))
        batch_op.drop_column('not_dosed_by_id')
        batch_op.drop_column('not_dosed_note')
        batch_op.drop_column('not_dosed_reason')
        batch_op.drop_column('not_dosed_at')
        batch_op.drop_column('dissociation_attested')
        batch_op.drop_column('escort_relationship')
        batch_op.drop_column('escort_phone')
        batch_op.drop_column('escort_kind')
        batch_op.drop_column('infused_volume_ml')
        batch_op.drop_column('pump_rate_ml_per_hour')
        batch_op.drop_column('pump_concentration_mg_per_ml')
        batch_op.drop_column('oximeter_available')
        batch_op.drop_column('prescriber_on_site')
        batch_op.drop_column('nasal_spray_checked')

    with op.batch_alter_table('treatment_courses', schema=None) as batch_op:
        batch_op.drop_column('indication_reason')
        batch_op.drop_column('dose_reason')

    _drop_search_indexes()
    with op.batch_alter_table('patients', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_patients_screened_by_id_users'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_patients_screened_by_id'))
        batch_op.drop_column('screened_by_id')
        batch_op.drop_column('screened_at')
    _create_search_indexes()

    with op.batch_alter_table('adverse_events', schema=None) as batch_op:
        for name in ('cleared_has_who_and_note', 'resolved_has_time_and_who', 'other_described'):
            batch_op.drop_constraint(op.f(f'ck_adverse_events_{name}'), type_='check')
        batch_op.drop_constraint(batch_op.f('fk_adverse_events_cleared_by_id_users'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_adverse_events_resolved_by_id_users'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_adverse_events_resolved_by_id'))
        batch_op.drop_index(batch_op.f('ix_adverse_events_cleared_by_id'))
        batch_op.drop_column('clear_note')
        batch_op.drop_column('cleared_by_id')
        batch_op.drop_column('cleared_at')
        batch_op.drop_column('resolved_by_id')
        batch_op.drop_column('resolved_at')
        batch_op.drop_column('description')

    with op.batch_alter_table('infusion_pauses', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_infusion_pauses_session_id'))
        batch_op.drop_index(batch_op.f('ix_infusion_pauses_recorded_by_id'))

    op.drop_table('infusion_pauses')
    with op.batch_alter_table('device_administrations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_device_administrations_session_id'))
        batch_op.drop_index(batch_op.f('ix_device_administrations_recorded_by_id'))

    op.drop_table('device_administrations')


def _replace_check(batch_op, table: str, name: str, sql: str) -> None:
    batch_op.drop_constraint(op.f(f'ck_{table}_{name}'), type_='check')
    batch_op.create_check_constraint(op.f(f'ck_{table}_{name}'), sql)


def _drop_search_indexes() -> None:
    for column in SEARCH_COLUMNS:
        op.drop_index(f"ix_patients_search_{column.key}", table_name="patients")


def _create_search_indexes() -> None:
    for column in SEARCH_COLUMNS:
        op.create_index(f"ix_patients_search_{column.key}", "patients", [search_key(column)])


GUARDS = (("chair", "chair_id"), ("patient", "patient_id"))


def _drop_double_booking_triggers() -> None:
    """SQLite only: PostgreSQL's exclusion constraints survive the ALTER."""
    if op.get_bind().dialect.name != "sqlite":
        return
    for who, _ in GUARDS:
        for verb in ("insert", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS appointments_no_{who}_overlap_{verb}")


def _create_double_booking_triggers() -> None:
    """The same triggers as revision c91d2f88dc74 creates."""
    if op.get_bind().dialect.name != "sqlite":
        return
    for who, column in GUARDS:
        for verb in ("INSERT", "UPDATE"):
            op.execute(f"""
                CREATE TRIGGER appointments_no_{who}_overlap_{verb.lower()}
                BEFORE {verb} ON appointments
                WHEN NEW.status NOT IN ('cancelled', 'no_show') AND EXISTS (
                    SELECT 1 FROM appointments AS other
                    WHERE other.{column} = NEW.{column} AND other.id IS NOT NEW.id
                      AND other.status NOT IN ('cancelled', 'no_show')
                      AND other.starts_at < NEW.ends_at AND NEW.starts_at < other.ends_at)
                BEGIN SELECT RAISE(ABORT, '{who}_not_double_booked'); END""")
