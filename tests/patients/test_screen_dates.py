"""A future consent or REMS enrollment date is no consent or enrollment: the screen's service
refuses it (the form does too), and the pre-dose check requires a date on or before the
session's day, whatever is already stored."""

from datetime import timedelta

import pytest

from clinic_app.errors import FieldErrors
from clinic_app.extensions import db
from clinic_app.models import TreatmentSession
from clinic_app.patients.services import record_screen
from clinic_app.settings import clinic_timezone, clinic_today
from tests import factories

PREDOSE = {k: "y" if v is True else v for k, v in factories.PREDOSE_OK.items()}


@pytest.mark.parametrize(
    ("field", "message"),
    [
        ("consent_date", "Consent cannot be signed in the future."),
        ("rems_enrolled_on", "Enrollment cannot be in the future."),
    ],
)
def test_the_screen_service_refuses_a_future_date(app, staff, field, message):
    with app.app_context():
        patient = factories.make_patient(screened=False)
        data = {
            "allergies": "NKDA",
            "contraindications": [],
            "medication_classes": [],
            "failed_trials": 2,
            "consent_date": clinic_today(),
            "rems_enrolled_on": clinic_today(),
            field: clinic_today() + timedelta(days=1),
        }
        with pytest.raises(FieldErrors) as refused:
            record_screen(factories.user("nurse"), patient, data, patient.version_id)
        assert refused.value.errors == {field: message}
        assert patient.screened_at is None


def _session_with(app, **dates) -> tuple[int, str]:
    """An esketamine session started now whose patient's stored dates are `dates`, each given
    in days after the session's day (as an import or a record from before the rule holds)."""
    with app.app_context():
        patient = factories.make_patient()
        treatment = factories.start(patient, factories.make_course(patient))
        day = treatment.started_at.astimezone(clinic_timezone()).date()
        for name, days in dates.items():
            setattr(patient, name, day + timedelta(days=days))
        db.session.commit()
        return treatment.id, str(treatment.version_id)


@pytest.mark.parametrize(
    ("dates", "message"),
    [
        (
            {"consent_date": 1},
            "after this session: correct the date on the clinical screen.",
        ),
        ({"rems_enrolled_on": 1}, "after this session: no dose until enrolled."),
        ({"rems_enrolled_on": 365}, "after this session: no dose until enrolled."),
    ],
)
def test_the_predose_check_refuses_a_date_after_the_session(app, as_role, dates, message):
    sid, version = _session_with(app, **dates)
    response = as_role("nurse").post(
        f"/sessions/{sid}/predose", data=dict(PREDOSE, version_id=version)
    )
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(TreatmentSession, sid).predose_checked_at is None


def test_the_predose_check_takes_dates_on_the_session_day(app, as_role):
    sid, version = _session_with(app, consent_date=0, rems_enrolled_on=0)
    response = as_role("nurse").post(
        f"/sessions/{sid}/predose", data=dict(PREDOSE, version_id=version)
    )
    assert response.status_code == 302
    with app.app_context():
        treatment = db.session.get(TreatmentSession, sid)
        assert treatment.predose_checked_at is not None
