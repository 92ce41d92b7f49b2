"""Session reviews: each signed session's review flags and its peaks and lows, stored when it is
signed so the co-signature queue and the timeline read them; existing signed sessions are
backfilled with the same pure rules (review/summary.py) under the clinic's settings.

Revision ID: c3d5e7f9a1b2
Revises: c3f93dcc387e
Create Date: 2026-12-06 05:10:00

"""
from collections import defaultdict
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from alembic import op
import sqlalchemy as sa

import clinic_app.database


# revision identifiers, used by Alembic.
revision = 'c3d5e7f9a1b2'
down_revision = 'c3f93dcc387e'
branch_labels = None
depends_on = None

BATCH = 1000

# The tables as this revision reads them (frozen here: later revisions may change the models).
DT = clinic_app.database.UTCDateTime(timezone=True)
sessions = sa.table(
    'treatment_sessions',
    *(sa.column(name) for name in (
        'id', 'patient_id', 'status', 'modality', 'planned_minutes', 'escort_kind',
        'discharged_with', 'escort_relationship', 'escort_phone', 'not_dosed_reason',
        'not_dosed_note',
    )),
    *(sa.column(name, DT) for name in (
        'started_at', 'dose_started_at', 'infusion_ended_at', 'discharged_at',
    )),
)
patients = sa.table('patients', sa.column('id'), sa.column('date_of_birth', sa.Date))
readings = sa.table(
    'vitals_readings',
    *(sa.column(name) for name in (
        'id', 'session_id', 'systolic', 'diastolic', 'heart_rate', 'spo2', 'resp_rate',
    )),
    sa.column('taken_at', DT),
)
assessments = sa.table(
    'assessments',
    *(sa.column(name) for name in ('id', 'session_id', 'instrument', 'total')),
    sa.column('items', sa.JSON),
    sa.column('administered_at', DT),
)
events = sa.table(
    'adverse_events',
    *(sa.column(name) for name in ('id', 'session_id', 'kind', 'serious')),
    sa.column('onset_at', DT),
)
overrides = sa.table(
    'overrides', sa.column('id'), sa.column('session_id'), sa.column('rule'),
    sa.column('decided_at', DT),
)
pauses = sa.table(
    'infusion_pauses', sa.column('session_id'), sa.column('paused_at', DT),
    sa.column('resumed_at', DT),
)
settings = sa.table('clinic_settings', sa.column('key'), sa.column('value', sa.JSON))


def upgrade():
    reviews = op.create_table('session_reviews',
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('pre_systolic', sa.Integer(), nullable=True),
    sa.Column('pre_diastolic', sa.Integer(), nullable=True),
    sa.Column('peak_systolic', sa.Integer(), nullable=True),
    sa.Column('peak_diastolic', sa.Integer(), nullable=True),
    sa.Column('lowest_spo2', sa.Integer(), nullable=True),
    sa.Column('lowest_moaas', sa.Integer(), nullable=True),
    sa.Column('max_cadss', sa.Integer(), nullable=True),
    sa.Column('flag_rank', sa.SmallInteger(), nullable=False),
    sa.Column('same_day', sa.Boolean(), nullable=False),
    sa.Column('flags', sa.JSON(), nullable=False),
    sa.Column('stored_at', clinic_app.database.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('flag_rank BETWEEN 0 AND 3', name=op.f('ck_session_reviews_flag_rank_range')),
    sa.ForeignKeyConstraint(['session_id'], ['treatment_sessions.id'], name=op.f('fk_session_reviews_session_id_treatment_sessions')),
    sa.PrimaryKeyConstraint('session_id', name=op.f('pk_session_reviews'))
    )
    _backfill(op.get_bind(), reviews)


def downgrade():
    op.drop_table('session_reviews')


def _grouped(connection, query):
    grouped = defaultdict(list)
    for session_id, *values in connection.execute(query):
        grouped[session_id].append(tuple(values))
    return grouped


def _backfill(connection, reviews):
    """Every signed or co-signed session's summary, a batch of sessions at a time."""
    from clinic_app.clinical.review import ReviewRules
    from clinic_app.clinical.rules import ClinicalRules
    from clinic_app.clinical.vitals import Vitals, age_on
    from clinic_app.review.facts import review_facts
    from clinic_app.review.summary import summarize

    stored = {key: value for key, value in connection.execute(sa.select(settings))}
    clinical_rules = ClinicalRules.with_overrides(stored)
    review_rules = ReviewRules.with_overrides(stored)
    zone = ZoneInfo(stored.get('timezone', 'America/Los_Angeles'))
    signed = sa.select(sessions.c.id).where(sessions.c.status.in_(('signed', 'cosigned')))
    ids = list(connection.scalars(signed.order_by(sessions.c.id)))
    now = datetime.now(UTC)
    for start in range(0, len(ids), BATCH):
        batch = ids[start:start + BATCH]
        read = _grouped(connection, sa.select(
            readings.c.session_id, readings.c.systolic, readings.c.diastolic,
            readings.c.heart_rate, readings.c.spo2, readings.c.resp_rate, readings.c.taken_at,
        ).where(readings.c.session_id.in_(batch)).order_by(readings.c.taken_at, readings.c.id))
        scales = _grouped(connection, sa.select(
            assessments.c.session_id, assessments.c.instrument, assessments.c.total,
            assessments.c['items'],
        ).where(
            assessments.c.session_id.in_(batch),
            assessments.c.instrument.in_(('phq9', 'moaas', 'cadss6')),
        ).order_by(assessments.c.administered_at, assessments.c.id))
        adverse = _grouped(connection, sa.select(
            events.c.session_id, events.c.kind, events.c.serious,
        ).where(events.c.session_id.in_(batch)).order_by(events.c.onset_at, events.c.id))
        overridden = _grouped(connection, sa.select(
            overrides.c.session_id, overrides.c.rule,
        ).where(overrides.c.session_id.in_(batch)).order_by(
            overrides.c.decided_at, overrides.c.id))
        paused = _grouped(connection, sa.select(
            pauses.c.session_id, pauses.c.paused_at, pauses.c.resumed_at,
        ).where(pauses.c.session_id.in_(batch)).order_by(pauses.c.paused_at))
        rows = []
        for row in connection.execute(
            sa.select(sessions, patients.c.date_of_birth)
            .join(patients, patients.c.id == sessions.c.patient_id)
            .where(sessions.c.id.in_(batch))
        ):
            vitals = [Vitals(*values) for values in read.get(row.id, [])]
            own = scales.get(row.id, [])
            facts = review_facts(
                row.modality,
                age_on(row.date_of_birth, row.started_at.astimezone(zone).date()),
                row.dose_started_at,
                row.infusion_ended_at,
                row.discharged_at,
                vitals,
                [(kind, bool(serious)) for kind, serious in adverse.get(row.id, [])],
                [rule for (rule,) in overridden.get(row.id, [])],
                [items for code, _, items in own if code == 'phq9'],
                escort=(
                    row.escort_kind, row.discharged_with, row.escort_relationship,
                    row.escort_phone,
                ),
                planned_minutes=row.planned_minutes,
                pauses=paused.get(row.id, []),
                not_dosed_reason=row.not_dosed_reason,
                not_dosed_note=row.not_dosed_note,
            )
            summary = summarize(
                facts, vitals, [(code, total) for code, total, _ in own],
                clinical_rules, review_rules,
            )
            rows.append({'session_id': row.id, 'stored_at': now, **summary.columns()})
        if rows:
            connection.execute(reviews.insert(), rows)
