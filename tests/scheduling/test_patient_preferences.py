"""The patient's preferred weekdays and start time, on the registration form and in the plan."""

from datetime import time

import pytest

from clinic_app.extensions import db
from clinic_app.models import Patient
from tests.helpers import checked, count, field_error

FORM = {
    "mrn": "PREF-1",
    "first_name": "Pia",
    "last_name": "Prefers",
    "date_of_birth": "1985-02-03",
    "sex": "female",
    "failed_trials": "2",
    "driver_name": "Dee Driver",
    "driver_phone": "555-0300",
    "version_id": "0",
}


def test_preferences_are_saved_and_shown_again(app, as_role, staff, monday):
    desk = as_role("front_desk")
    response = desk.post(
        "/patients/new",
        data={**FORM, "preferred_weekdays": ["1", "3"], "preferred_time": "13:30"},
    )
    assert response.status_code == 302
    with app.app_context():
        person = db.session.scalar(db.select(Patient).where(Patient.mrn == "PREF-1"))
        assert person.preferred_weekdays == [1, 3]
        assert person.preferred_time == time(13, 30)
        patient_id = person.id
    form = desk.get(f"/patients/{patient_id}/edit")
    assert checked(form, "preferred_weekdays") == ["1", "3"]
    assert 'value="13:30"' in form.get_data(as_text=True)
    edited = desk.post(
        f"/patients/{patient_id}/edit",
        data={**FORM, "preferred_time": "", "version_id": "1"},
    )
    assert edited.status_code == 302
    with app.app_context():
        person = db.session.get(Patient, patient_id)
        assert (person.preferred_weekdays, person.preferred_time) == ([], None)


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"preferred_weekdays": "7"}, "preferred_weekdays"),
        ({"preferred_time": "25:00"}, "preferred_time"),
    ],
)
def test_bad_preferences_are_400_and_nothing_is_saved(app, as_role, staff, monday, extra, field):
    response = as_role("front_desk").post("/patients/new", data={**FORM, **extra})
    assert response.status_code == 400
    assert field_error(response, field)
    assert count(app, Patient) == 0
