"""The demo's controlled-substance records: a receipt at each site, the demo doses drawn from
their vials and devices, a witnessed waste, an explained count variance, an expired vial, and a
ledger that reconciles."""

from sqlalchemy import func, select

from clinic_app.clinical.ledger import Classification
from clinic_app.extensions import db
from clinic_app.models import (
    Site,
    StockContainer,
    StockDiscrepancy,
    StockMovement,
    StockReceipt,
    TreatmentSession,
)
from clinic_app.settings import clinic_today


def test_the_demo_stock_reconciles(app, runner):
    result = runner.invoke(args=["demo-data"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        sites = db.session.scalars(select(Site.id)).all()
        received_at = set(db.session.scalars(select(StockReceipt.site_id)))
        assert received_at == set(sites)
        for container in db.session.scalars(select(StockContainer)):
            total = db.session.scalar(
                select(func.sum(StockMovement.quantity)).where(
                    StockMovement.container_id == container.id
                )
            )
            assert total == container.remaining >= 0
        dosed = db.session.scalars(
            select(TreatmentSession.id).where(TreatmentSession.dose_started_at.is_not(None))
        ).all()
        drawn = set(
            db.session.scalars(
                select(StockMovement.session_id).where(StockMovement.kind == "administer")
            )
        )
        assert drawn == set(dosed)
        (wasted,) = db.session.scalars(
            select(StockMovement).where(StockMovement.kind == "waste")
        ).all()
        assert wasted.witness_id is not None and wasted.witness_id != wasted.actor_id
        (found,) = db.session.scalars(select(StockDiscrepancy)).all()
        assert found.classification == Classification.EXPLAINED and found.closed_at is not None
        expired = [
            c for c in db.session.scalars(select(StockContainer)) if c.expiry_date < clinic_today()
        ]
        assert len(expired) == 1 and expired[0].remaining > 0
