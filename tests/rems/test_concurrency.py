"""Two nurses mark the same REMS form submitted at the same moment: one submission is recorded,
the other is refused. Real concurrent connections on PostgreSQL (SQLite's single writer
serialises them anyway)."""

from datetime import date

import pytest
from sqlalchemy import func, select

from clinic_app.errors import RuleViolation
from clinic_app.extensions import db
from clinic_app.models import RemsSubmission, TreatmentSession
from clinic_app.rems import monitoring
from clinic_app.settings import clinical_rules
from tests import factories
from tests.helpers import race


def test_two_nurses_marking_one_form_submitted_record_it_once(app, staff):
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("real concurrent writers need PostgreSQL (set TEST_DATABASE_URL)")
        sid = factories.rems_session().id
        factories.make_user("nurse", "second.nurse")
        db.session.commit()

    def submit(index, barrier):
        nurse = factories.user(("nurse", "second.nurse")[index])
        treatment = db.session.get(TreatmentSession, sid)
        data = {"submitted_on": date.today(), "channel": "fax", "confirmation_number": f"F{index}"}
        barrier.wait()
        monitoring.mark_submitted(nurse, treatment, data, clinical_rules())
        db.session.commit()
        return "submitted"

    results = race(app, submit)
    assert results.count("submitted") == 1, results
    refused = next(r for r in results if r != "submitted")
    assert isinstance(refused, RuleViolation) and "already submitted" in str(refused)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(RemsSubmission)) == 1
