"""Two nurses draw the last of one vial at the same moment: exactly one wins.

Real concurrent connections on PostgreSQL (skipped on SQLite, whose single writer serialises
the two transactions anyway): two threads, each with its own app context and connection, meet
at a barrier and then draw. The container's balance changes only by a conditional UPDATE
(`remaining >= quantity`), so the second UPDATE waits for the first transaction and then
matches no row."""

import time
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from clinic_app.clinical.ledger import MovementKind
from clinic_app.errors import RuleViolation
from clinic_app.extensions import db
from clinic_app.inventory import waste
from clinic_app.inventory.movements import move, reverse
from clinic_app.models import StockContainer, StockMovement, TreatmentSession
from clinic_app.treatments import services
from tests import factories
from tests.helpers import PASSWORD, race
from tests.inventory.builders import IV_DOSE, receive_stock, session_at, stocked_site


@pytest.fixture
def postgres(app):
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("real concurrent writers need PostgreSQL (set TEST_DATABASE_URL)")


def _last_half_ml(app) -> tuple[int, list[int]]:
    """A vial with 0.4 mL left (one IV dose of 40 mg at 100 mg/mL) and two sessions ready."""
    with app.app_context():
        factories.make_user("nurse", username="nurse2", password=PASSWORD)
        site = stocked_site()
        (vial,) = receive_stock(site, containers=1)
        nurse = factories.user("nurse")
        move(nurse, vial, MovementKind.ADMINISTER, Decimal("0.1"))
        waste.waste(
            nurse,
            vial,
            {
                "quantity": "4.5",
                "method": "Drug-waste container",
                "witness_username": "psychiatrist",
                "witness_password": PASSWORD,
            },
        )
        sessions = [session_at(site).id, session_at(site).id]
        db.session.commit()
        assert vial.remaining == Decimal("0.40")
        return vial.id, sessions


def _outcome(app, vial_id):
    with app.app_context():
        vial = db.session.get(StockContainer, vial_id)
        drawn = db.session.scalars(
            select(StockMovement).where(
                StockMovement.container_id == vial_id,
                StockMovement.session_id.is_not(None),
            )
        ).all()
        total = db.session.scalar(
            select(func.sum(StockMovement.quantity)).where(StockMovement.container_id == vial_id)
        )
        return vial.remaining, total, drawn


def test_two_conditional_updates_on_the_last_ml_exactly_one_wins(app, postgres, staff):
    vial_id, sessions = _last_half_ml(app)

    def work(index, barrier):
        with app.app_context():
            nurse = factories.user("nurse" if index == 0 else "nurse2")
            treatment = db.session.get(TreatmentSession, sessions[index])
            vial = db.session.get(StockContainer, vial_id)
            assert vial.remaining == Decimal("0.40")  # both saw enough left
            barrier.wait()
            move(
                nurse,
                vial,
                MovementKind.ADMINISTER,
                Decimal("0.40"),
                session_id=treatment.id,
                patient_id=treatment.patient_id,
            )
            time.sleep(0.5)  # the winner holds its row lock while the other waits
            db.session.commit()
            return "drawn"

    results = race(app, work)
    assert results.count("drawn") == 1, results
    (refused,) = [r for r in results if r != "drawn"]
    assert isinstance(refused, RuleViolation) and "holds only 0" in refused.message
    remaining, total, drawn = _outcome(app, vial_id)
    assert remaining == total == 0
    assert len(drawn) == 1


def test_two_nurses_dosing_from_the_last_of_one_vial_exactly_one_dose_is_recorded(
    app, postgres, staff
):
    vial_id, sessions = _last_half_ml(app)

    def work(index, barrier):
        nurse = factories.user("nurse" if index == 0 else "nurse2")
        treatment = db.session.get(TreatmentSession, sessions[index])
        barrier.wait()
        services.record_dose(nurse, treatment, dict(IV_DOSE, vial_id=vial_id), treatment.version_id)
        db.session.commit()
        return "dosed"

    results = race(app, work)
    assert results.count("dosed") == 1, results
    remaining, total, drawn = _outcome(app, vial_id)
    assert remaining == total == 0
    assert len(drawn) == 1
    with app.app_context():
        dosed = [db.session.get(TreatmentSession, sid).dose_started_at for sid in sessions]
        assert sum(d is not None for d in dosed) == 1


def test_two_reversals_of_one_movement_at_once_one_is_refused_by_the_rule(app, postgres, staff):
    with app.app_context():
        (vial,) = receive_stock(stocked_site(), containers=1)
        drawn = move(factories.user("nurse"), vial, MovementKind.ADMINISTER, Decimal("1"))
        db.session.commit()
        movement_id = drawn.id

    def work(index, barrier):
        with app.app_context():
            movement = db.session.get(StockMovement, movement_id)
            barrier.wait()
            reverse(
                factories.user("psychiatrist"),
                movement,
                f"Charted twice ({index})",
                "nurse",
                PASSWORD,
            )
            time.sleep(0.5)  # the first holds the container's row while the other waits
            db.session.commit()
            return "reversed"

    results = race(app, work)
    assert results.count("reversed") == 1, results
    (refused,) = [r for r in results if r != "reversed"]
    assert isinstance(refused, RuleViolation), refused
    with app.app_context():
        count = db.session.scalar(
            select(func.count()).where(StockMovement.reverses_id == movement_id)
        )
        assert count == 1
