"""The clinical screen belongs to clinicians (DESIGN §2): nurses and the psychiatrist record
allergies, contraindications, medications, consent and REMS enrollment on their own page; the
front desk registers demographics and sees only whether the screen is complete; an unscreened
patient reads "not screened", never "none found"."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from clinic_app import clock
from clinic_app.extensions import db
from clinic_app.models import AuditEvent, Patient, TreatmentSession
from tests import factories
from tests.helpers import CLINIC_ZONE, field_errors, freeze_local, markup, soup

SCREEN_FIELDS = (
    "allergies",
    "contraindications",
    "medication_classes",
    "consent_date",
    "rems_enrolled_on",
    "failed_trials",
    "weight_kg",
)
SCREEN = {
    "allergies": "Penicillin (rash)",
    "contraindications": "psychosis_mania",
    "medication_classes": "benzodiazepine",
    "consent_date": "2020-01-15",
    "rems_enrolled_on": "2020-01-16",
    "failed_trials": "3",
    "weight_kg": "81.5",
}
PREDOSE = {k: "y" if v is True else v for k, v in factories.PREDOSE_OK.items()}


def patient_row(app, pid: int) -> dict:
    with app.app_context():
        patient = db.session.get(Patient, pid)
        row = {name: getattr(patient, name) for name in SCREEN_FIELDS}
        row.update(
            version_id=patient.version_id,
            screened_at=patient.screened_at,
            screened_by_id=patient.screened_by_id,
        )
        return row


def screen_events(app) -> list[AuditEvent]:
    with app.app_context():
        return list(
            db.session.scalars(
                select(AuditEvent)
                .where(AuditEvent.action == "patient.screen")
                .order_by(AuditEvent.id)
            )
        )


def make_patient(app, **overrides) -> int:
    with app.app_context():
        patient = factories.make_patient(**overrides)
        db.session.commit()
        return patient.id


def make_session(app, **patient) -> tuple[int, int]:
    """(patient id, session id) of a started esketamine session."""
    with app.app_context():
        p = factories.make_patient(**patient)
        course = factories.make_course(p, indication_reason="Trials documented in the referral.")
        treatment = factories.start(p, course)
        db.session.commit()
        return p.id, treatment.id


def register(as_role) -> int:
    """A patient registered by the front desk through the form; returns the id."""
    response = as_role("front_desk").post(
        "/patients/new",
        data={
            "mrn": "REG-1",
            "first_name": "Rae",
            "last_name": "Newcomer",
            "date_of_birth": "1984-06-01",
            "sex": "female",
            "driver_name": "Kim Newcomer",
            "version_id": "0",
        },
    )
    assert response.status_code == 302
    return int(response.headers["Location"].rsplit("/", 1)[1])


# --- the front desk ------------------------------------------------------------------------


def test_front_desk_can_neither_open_nor_post_the_screen(app, as_role, staff):
    pid = make_patient(app, allergies="Latex")
    before = patient_row(app, pid)
    desk = as_role("front_desk")
    assert desk.get(f"/patients/{pid}/screen").status_code == 403
    data = dict(SCREEN, allergies="NKDA", version_id=str(before["version_id"]))
    response = desk.post(f"/patients/{pid}/screen", data=data)
    assert response.status_code == 403
    assert "NKDA" not in markup(response)
    assert patient_row(app, pid) == before
    assert [e.user_id for e in screen_events(app)] == [staff["psychiatrist"]]  # the factory's
    with app.app_context():
        refused = db.session.scalar(
            select(func.count()).where(
                AuditEvent.user_id == staff["front_desk"], AuditEvent.action == "access.denied"
            )
        )
    assert refused == 2


def test_front_desk_sees_only_whether_the_screen_is_complete(app, as_role):
    screened = make_patient(app, allergies="Sulfa drugs", contraindications=["aneurysm_avm"])
    unscreened = make_patient(app, screened=False, allergies="Latex")
    desk = as_role("front_desk")

    response = desk.get(f"/patients/{screened}")
    page = markup(response)
    # The page itself (the navigation's REMS board link is the front desk's too).
    main = str(soup(response).find("main"))
    assert "Clinical screen: complete" in page
    assert "REMS" not in main
    for hidden in ("Sulfa drugs", "Aneurysmal", "AVM", "Allergies", "Contraindications"):
        assert hidden not in page, hidden
    assert "Edit clinical screen" not in page
    assert f"/patients/{screened}/screen" not in page

    page = markup(desk.get(f"/patients/{unscreened}"))
    assert "Clinical screen incomplete" in page
    assert "Latex" not in page
    assert "none found" not in page


def test_demographics_form_has_no_clinical_fields(app, as_role):
    pid = make_patient(app, allergies="Latex")
    desk = as_role("front_desk")
    for url in ("/patients/new", f"/patients/{pid}/edit"):
        page = desk.get(url).get_data(as_text=True)
        assert 'name="driver_name"' in page
        for name in SCREEN_FIELDS:
            assert f'name="{name}"' not in page, (url, name)
        assert "Latex" not in page

    # Clinical values posted to the demographics form are ignored; the demographics save.
    before = patient_row(app, pid)
    response = desk.post(
        f"/patients/{pid}/edit",
        data={
            "mrn": "DESK-1",
            "first_name": "Alex",
            "last_name": "Tester",
            "date_of_birth": "1980-05-17",
            "sex": "male",
            "phone": "555-0177",
            **dict(SCREEN, allergies="NKDA", contraindications=""),
            "version_id": str(before["version_id"]),
        },
    )
    assert response.status_code == 302
    after = patient_row(app, pid)
    assert after["version_id"] == before["version_id"] + 1
    assert {k: v for k, v in after.items() if k != "version_id"} == {
        k: v for k, v in before.items() if k != "version_id"
    }
    with app.app_context():
        assert db.session.get(Patient, pid).phone == "555-0177"


def test_front_desk_registration_creates_an_unscreened_patient(app, as_role):
    pid = register(as_role)
    row = patient_row(app, pid)
    assert (row["screened_at"], row["screened_by_id"]) == (None, None)
    assert screen_events(app) == []


# --- nurses and the psychiatrist -----------------------------------------------------------


def test_nurse_corrects_an_allergy_found_at_the_chair(app, as_role, staff):
    pid = make_patient(app, allergies="NKDA", medication_classes=["antidepressant"])
    before = patient_row(app, pid)
    now = freeze_local(11)
    nurse = as_role("nurse")
    form = nurse.get(f"/patients/{pid}/screen")
    assert form.status_code == 200
    assert "NKDA" in markup(form)
    data = {
        "allergies": "Latex (hives)",
        "medication_classes": "antidepressant",
        "consent_date": before["consent_date"].isoformat(),
        "rems_enrolled_on": before["rems_enrolled_on"].isoformat(),
        "failed_trials": str(before["failed_trials"]),
        "weight_kg": str(before["weight_kg"]),
        "version_id": str(before["version_id"]),
    }
    response = nurse.post(f"/patients/{pid}/screen", data=data)
    assert response.status_code == 302
    assert response.headers["Location"] == f"/patients/{pid}"

    after = patient_row(app, pid)
    assert after["allergies"] == "Latex (hives)"
    assert (after["screened_at"], after["screened_by_id"]) == (now, staff["nurse"])
    assert after["version_id"] == before["version_id"] + 1
    assert after["medication_classes"] == ["antidepressant"]
    event = screen_events(app)[-1]
    assert (event.user_id, event.role, event.patient_id) == (staff["nurse"], "nurse", pid)
    assert event.detail == {"fields": ["allergies"]}
    assert "Latex" not in str(event.detail)  # codes, never the free text

    page = markup(nurse.get(f"/patients/{pid}"))
    assert "Latex (hives)" in page
    assert "Test nurse" in page  # who screened


def test_psychiatrist_edits_both_demographics_and_the_screen(app, as_role, staff):
    pid = make_patient(app, screened=False)
    psychiatrist = as_role("psychiatrist")
    version = patient_row(app, pid)["version_id"]
    assert psychiatrist.get(f"/patients/{pid}/edit").status_code == 200
    assert psychiatrist.get(f"/patients/{pid}/screen").status_code == 200
    response = psychiatrist.post(
        f"/patients/{pid}/screen", data=dict(SCREEN, version_id=str(version))
    )
    assert response.status_code == 302
    row = patient_row(app, pid)
    assert row["allergies"] == "Penicillin (rash)"
    assert row["contraindications"] == ["psychosis_mania"]
    assert row["medication_classes"] == ["benzodiazepine"]
    assert (row["failed_trials"], str(row["weight_kg"])) == (3, "81.5")
    assert row["consent_date"].isoformat() == "2020-01-15"
    assert row["rems_enrolled_on"].isoformat() == "2020-01-16"
    assert row["screened_by_id"] == staff["psychiatrist"]
    assert sorted(screen_events(app)[-1].detail["fields"]) == sorted(SCREEN_FIELDS)


def test_nurse_views_demographics_but_does_not_edit_them(app, as_role):
    pid = make_patient(app)
    nurse = as_role("nurse")
    page = markup(nurse.get(f"/patients/{pid}"))
    assert "Sam Tester" in page
    assert "Edit clinical screen" in page
    assert "Edit record" not in page
    assert nurse.get(f"/patients/{pid}/edit").status_code == 403


def test_a_first_screen_asks_for_failed_trials_rather_than_showing_zero(app, as_role):
    pid = register(as_role)
    page = as_role("nurse").get(f"/patients/{pid}/screen")
    assert not soup(page).find("input", attrs={"name": "failed_trials"}).get("value")
    assert "not screened yet" in page.get_data(as_text=True)


# --- "not screened" is not "none found" ----------------------------------------------------


def test_an_unscreened_patient_reads_not_screened_until_a_clinician_screens(app, as_role):
    pid = register(as_role)
    nurse = as_role("nurse")
    page = markup(nurse.get(f"/patients/{pid}"))
    assert "not screened" in page
    assert "none found" not in page
    assert "none recorded" not in page

    version = patient_row(app, pid)["version_id"]
    data = {"allergies": "NKDA", "failed_trials": "2", "version_id": str(version)}
    assert nurse.post(f"/patients/{pid}/screen", data=data).status_code == 302
    response = nurse.get(f"/patients/{pid}")
    page = markup(response)
    assert "not screened" not in page
    section = page.split('id="screen-h"')[1].split('id="courses-h"')[0]
    screen = soup(response).find(id="screen-h").find_parent("section")
    for term in ("Contraindications", "Medications"):
        assert screen.find("dt", string=term).find_next_sibling("dd").text.startswith("none found")
    assert "NKDA" in section


def test_the_session_header_reads_not_screened_and_links_to_the_screen(app, as_role):
    pid, sid = make_session(app, screened=False)
    nurse = as_role("nurse")
    page = nurse.get(f"/sessions/{sid}").get_data(as_text=True)
    header = page.split('class="session-head')[1].split("</div>\n</div>")[0]
    assert "not screened" in header
    assert "none found" not in header and "none on screen" not in header
    link = f"/patients/{pid}/screen?session_id={sid}"
    assert f'href="{link}"' in header
    assert "Edit clinical screen" in header

    # Screening from the session returns to it; with no items found it says so.
    form = nurse.get(link)
    assert form.status_code == 200
    assert f'href="/sessions/{sid}"' in form.get_data(as_text=True)  # Cancel goes back too
    version = patient_row(app, pid)["version_id"]
    data = {"allergies": "NKDA", "failed_trials": "2", "version_id": str(version)}
    response = nurse.post(link, data=data)
    assert response.status_code == 302
    assert response.headers["Location"] == f"/sessions/{sid}"
    header = nurse.get(f"/sessions/{sid}").get_data(as_text=True).split('class="session-head')[1]
    header = header.split("</div>\n</div>")[0]
    assert "not screened" not in header
    assert "<strong>Allergies:</strong> NKDA" in header
    assert header.count("none found") == 2  # contraindications and medications


def test_returning_to_a_session_of_another_patient_is_ignored(app, as_role):
    _, other_sid = make_session(app)
    pid = make_patient(app)
    version = patient_row(app, pid)["version_id"]
    response = as_role("nurse").post(
        f"/patients/{pid}/screen?session_id={other_sid}",
        data=dict(SCREEN, version_id=str(version)),
    )
    assert response.status_code == 302
    assert response.headers["Location"] == f"/patients/{pid}"


# --- bad input, stale records --------------------------------------------------------------


@pytest.mark.parametrize(
    "changes, field, message",
    [
        ({"allergies": "  "}, "allergies", "Write the allergies, or NKDA when there are none."),
        ({"allergies": "x" * 2001}, "allergies", "Field cannot be longer than 2000 characters."),
        ({"failed_trials": ""}, "failed_trials", "This field is required."),
        ({"failed_trials": "-1"}, "failed_trials", "Number must be between 0 and 30."),
        ({"weight_kg": "10"}, "weight_kg", "Number must be between 30 and 250."),
        ({"weight_kg": "260"}, "weight_kg", "Number must be between 30 and 250."),
        (
            {"contraindications": "not_a_screen_item"},
            "contraindications",
            "'not_a_screen_item' is not a valid choice for this field.",
        ),
        (
            {"medication_classes": "not_a_class"},
            "medication_classes",
            "'not_a_class' is not a valid choice for this field.",
        ),
        ({"consent_date": "2020-13-40"}, "consent_date", "Not a valid date value."),
        ({"consent_date": "+1"}, "consent_date", "Consent cannot be signed in the future."),
        ({"rems_enrolled_on": "+1"}, "rems_enrolled_on", "Enrollment cannot be in the future."),
    ],
    ids=[
        "allergies-blank",
        "allergies-too-long",
        "failed-trials-missing",
        "failed-trials-negative",
        "weight-10",
        "weight-260",
        "contraindication-unknown",
        "medication-unknown",
        "consent-malformed",
        "consent-future",
        "rems-future",
    ],
)
@pytest.mark.parametrize("role", ["nurse", "psychiatrist"])
def test_screen_refuses_bad_input_and_saves_nothing(app, as_role, role, changes, field, message):
    freeze_local(10)
    pid = make_patient(app, screened=False)
    before = patient_row(app, pid)
    tomorrow = (clock.utcnow().astimezone(CLINIC_ZONE).date() + timedelta(days=1)).isoformat()
    changes = {k: tomorrow if v == "+1" else v for k, v in changes.items()}
    data = dict(SCREEN, version_id=str(before["version_id"]), **changes)
    response = as_role(role).post(f"/patients/{pid}/screen", data=data)
    assert response.status_code == 400
    assert field_errors(response) == {field: message}
    assert patient_row(app, pid) == before
    assert screen_events(app) == []


def test_a_screen_saved_on_an_old_version_gets_409_and_keeps_the_input(app, as_role, staff):
    pid = make_patient(app, allergies="NKDA")
    version = str(patient_row(app, pid)["version_id"])
    nurse, psychiatrist = as_role("nurse"), as_role("psychiatrist")
    url = f"/patients/{pid}/screen"
    for client in (nurse, psychiatrist):
        page = client.get(url).get_data(as_text=True)
        assert f'name="version_id" type="hidden" value="{version}"' in page

    first = psychiatrist.post(url, data=dict(SCREEN, allergies="Codeine", version_id=version))
    assert first.status_code == 302
    late = nurse.post(url, data=dict(SCREEN, allergies="Latex", version_id=version))
    assert late.status_code == 409
    body = markup(late)
    assert "Someone else saved this record while you were editing." in body
    assert "Latex" in body  # what the nurse typed is still there...
    current = patient_row(app, pid)["version_id"]
    assert f'name="version_id" type="hidden" value="{current}"' in body  # ...on the new version
    row = patient_row(app, pid)
    assert (row["allergies"], row["screened_by_id"]) == ("Codeine", staff["psychiatrist"])
    assert [e.user_id for e in screen_events(app)][-1] == staff["psychiatrist"]
    assert staff["nurse"] not in [e.user_id for e in screen_events(app)]

    again = nurse.post(url, data=dict(SCREEN, allergies="Latex", version_id=str(current)))
    assert again.status_code == 302
    assert patient_row(app, pid)["allergies"] == "Latex"


# --- consent at the chair ------------------------------------------------------------------


def test_the_nurse_records_missing_consent_on_the_screen_and_the_checks_pass(app, as_role):
    pid, sid = make_session(app, consent_date=None)
    nurse = as_role("nurse")
    with app.app_context():
        version = db.session.get(Patient, pid).version_id
        checks = dict(PREDOSE, version_id=str(db.session.get(TreatmentSession, sid).version_id))
    refused = nurse.post(f"/sessions/{sid}/predose", data=checks)
    assert refused.status_code == 400
    assert field_errors(refused)["consent_confirmed"] == (
        "No signed consent is on file; record its date on the clinical screen."
    )
    today = clock.utcnow().astimezone(CLINIC_ZONE).date().isoformat()
    data = dict(SCREEN, consent_date=today, version_id=str(version))
    response = nurse.post(f"/patients/{pid}/screen?session_id={sid}", data=data)
    assert response.headers["Location"] == f"/sessions/{sid}"
    accepted = nurse.post(f"/sessions/{sid}/predose", data=checks)
    assert accepted.status_code == 302, field_errors(accepted)
