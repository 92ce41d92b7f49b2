"""REMS pages by role: the board (the front desk sees only the enrollments to chase), the
monitoring form and marking it submitted, the chairside REMS questions, SAE reports, the CSV,
the navigation badge, and statement counts."""

from datetime import date, timedelta

from sqlalchemy import select

from clinic_app import clock
from clinic_app.clock import utcnow
from clinic_app.extensions import db
from clinic_app.models import Appointment, Chair, RemsSubmission, TreatmentSession
from tests import factories
from tests.helpers import (
    PASSWORD,
    audit_rows,
    count_statements,
    field_error,
    page_statements,
    pdf_pages,
    soup,
    text,
)


def _session(app, **kwargs) -> int:
    with app.app_context():
        return factories.rems_session(**kwargs).id


def _board_rows(response) -> list[tuple[str, str]]:
    """(patient, state) of each form row on the board, top to bottom."""
    return [
        (row.find("strong").get_text(), row.select_one(".rems-state").get_text())
        for row in soup(response).select("table.rems-board tbody tr")
    ]


def _book_first_visit(app, last_name="Unenrolled") -> None:
    with app.app_context():
        patient = factories.make_patient(last_name=last_name, rems_enrolled_on=None)
        course = factories.make_course(patient)
        starts = utcnow() + timedelta(days=2)
        db.session.add(
            Appointment(
                patient_id=patient.id,
                course_id=course.id,
                chair=Chair(name="Chair 1", site=factories.site()),
                starts_at=starts,
                ends_at=starts + timedelta(hours=2),
                visit_kind="induction",
                sequence_no=1,
            )
        )
        db.session.commit()


def test_admin_may_not_open_rems_pages(app, as_role):
    sid = _session(app)
    admin = as_role("admin")
    for url in ("/rems", "/rems/forms.csv", f"/sessions/{sid}/rems-form"):
        assert admin.get(url).status_code == 403


def test_front_desk_sees_only_the_enrollment_list(app, as_role):
    sid = _session(app, last_name="Charted")
    _book_first_visit(app)
    desk = as_role("front_desk")
    response = desk.get("/rems")
    assert response.status_code == 200
    page = text(response)
    assert "Alex Unenrolled" in page
    assert "Charted" not in page
    assert not soup(response).select("table.rems-board, .rems-saes")
    assert "Forms due (CSV)" not in page
    for url in ("/rems/forms.csv", f"/sessions/{sid}/rems-form"):
        assert desk.get(url).status_code == 403
    assert desk.post(f"/sessions/{sid}/rems-form/submitted", data={}).status_code == 403


def test_board_puts_overdue_first_then_ready_and_badges_the_overdue(app, as_role):
    _session(app, days_ago=1, last_name="Recent")
    _session(app, days_ago=10, last_name="Late")
    _session(app, days_ago=2, sign=False, last_name="Unsigned")
    nurse = as_role("nurse")
    response = nurse.get("/rems")
    assert _board_rows(response) == [
        ("Late, Alex", "Overdue"),
        ("Recent, Alex", "Ready to submit"),
        ("Unsigned, Alex", "Due"),
    ]
    badge = soup(response).select_one('a[href="/rems"] .nav-alerts')
    assert badge.get_text(" ").split()[0] == "1"
    assert "days late" in text(response)


def test_the_form_marks_required_and_lists_missing_fields(app, as_role):
    sid = _session(app, complete=False)
    response = as_role("nurse").get(f"/sessions/{sid}/rems-form")
    page = soup(response)
    missing = [li.get_text() for li in page.select("#missing-h + ul li")]
    assert "Concomitant Medication: Benzodiazepines" in missing
    assert page.select(".rems-field.rems-missing")
    assert not page.find("form", action=f"/sessions/{sid}/rems-form/submitted")
    sections = [h.get_text() for h in page.select(".rems-section-title")]
    assert sections[:3] == [
        "Patient Information",
        "Concomitant Medication",
        "Healthcare Provider Conducting Patient Monitoring",
    ]


def test_mark_submitted_moves_the_form_and_an_addendum_reopens_it(app, as_role):
    sid = _session(app, last_name="Done")
    nurse = as_role("nurse")
    data = {
        "submitted_on": date.today().isoformat(),
        "channel": "online",
        "confirmation_number": "RX-77",
    }
    refused = nurse.post(
        f"/sessions/{sid}/rems-form/submitted", data=dict(data, confirmation_number="")
    )
    assert refused.status_code == 400
    assert field_error(refused, "confirmation_number")
    response = nurse.post(f"/sessions/{sid}/rems-form/submitted", data=data)
    assert response.status_code == 302
    board = nurse.get("/rems")
    assert _board_rows(board) == []
    assert "RX-77" in text(board)
    nurse.post(f"/sessions/{sid}/addenda", data={"reason": "Late entry", "body": "Lot re-read."})
    assert _board_rows(nurse.get("/rems")) == [("Done, Alex", "Changed since submitted")]
    form = nurse.get(f"/sessions/{sid}/rems-form")
    assert "Changed since submitted" in text(form)
    assert (
        nurse.post(
            f"/sessions/{sid}/rems-form/submitted", data=dict(data, confirmation_number="RX-78")
        ).status_code
        == 302
    )
    with app.app_context():
        assert db.session.scalars(select(RemsSubmission.confirmation_number)).all() == [
            "RX-77",
            "RX-78",
        ]


def test_session_page_carries_the_rems_questions_prefilled(app, as_role):
    with app.app_context():
        treatment = factories.dosed_session()
        sid, dosed_at = treatment.id, treatment.dose_started_at
        db.session.commit()
    nurse = as_role("nurse")
    page = soup(nurse.get(f"/sessions/{sid}"))
    assert page.find(id="rems-meds-h") and page.find(id="rems-answers-h")
    response = nurse.post(
        f"/sessions/{sid}/rems/medications", data={"remsmeds-classes": ["opioid"]}
    )
    assert response.status_code == 302
    answered = {
        "rems-ready_minutes": "80",
        "rems-vitals_ok_pre": "yes",
        "rems-vitals_ok_completion": "yes",
        "rems-sedation_observed": "no",
        "rems-dissociation_observed": "no",
        "rems-respiratory_observed": "no",
    }
    early = nurse.post(f"/sessions/{sid}/rems/answers", data=answered)
    assert early.status_code == 400
    assert "at the end of monitoring" in text(early)
    clock.freeze(dosed_at + timedelta(minutes=121))
    bad = nurse.post(f"/sessions/{sid}/rems/answers", data={"rems-ready_minutes": "-5"})
    assert bad.status_code == 400
    assert field_error(bad, "rems-ready_minutes")
    good = nurse.post(f"/sessions/{sid}/rems/answers", data=answered)
    assert good.status_code == 302
    with app.app_context():
        saved = db.session.get(TreatmentSession, sid)
        assert saved.rems_answers.ready_minutes == 80
        assert saved.patient.medication_classes == ["opioid"]


def test_iv_session_page_has_no_rems_questions(app, as_role):
    with app.app_context():
        sid = factories.dosed_session("iv_ketamine").id
        db.session.commit()
    page = soup(as_role("nurse").get(f"/sessions/{sid}"))
    assert not page.find(id="rems-answers-h")


def test_an_sae_stays_on_the_board_until_reported_to_the_rems(app, as_role):
    with app.app_context():
        treatment = factories.rems_session()
        event = factories.serious_event(treatment)
        db.session.commit()
        event_id, sid = event.id, treatment.id
    psychiatrist = as_role("psychiatrist")
    session_page = soup(psychiatrist.get(f"/sessions/{sid}"))
    assert session_page.find("a", href=f"/adverse-events/{event_id}/sae-report")
    badge = session_page.select_one('a[href="/rems"] .nav-alerts')
    assert badge.get_text(" ").split()[0] == "1"
    assert "1 serious adverse event not reported to the REMS" in badge.get_text()
    assert f"/adverse-events/{event_id}/sae-report" in str(
        soup(psychiatrist.get("/rems")).select(".rems-saes a")
    )
    report = {
        "reported_to": "manufacturer",
        "reported_on": date.today().isoformat(),
        "reported_time": "00:00",
        "reference": "JNJ-1",
    }
    assert (
        psychiatrist.post(f"/adverse-events/{event_id}/sae-report", data=report).status_code == 302
    )
    assert soup(psychiatrist.get("/rems")).select(".rems-saes a")  # the REMS has not heard yet
    refused = psychiatrist.post(
        f"/adverse-events/{event_id}/sae-report", data=dict(report, reference="")
    )
    assert refused.status_code == 400 and field_error(refused, "reference")
    psychiatrist.post(
        f"/adverse-events/{event_id}/sae-report",
        data=dict(report, reported_to="rems", reference="REMS-9"),
    )
    reported = soup(psychiatrist.get("/rems"))
    assert not reported.select(".rems-saes a")
    assert not reported.select_one('a[href="/rems"] .nav-alerts')
    assert "REMS-9" in text(psychiatrist.get(f"/adverse-events/{event_id}/sae-report"))


def test_csv_of_forms_due_is_formula_safe(app, as_role):
    _session(app, last_name="=HYPERLINK(1)")
    response = as_role("nurse").get("/rems/forms.csv?site=MAIN")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    lines = response.get_data(as_text=True).splitlines()
    assert lines[0].startswith("Due date,State,Patient Information: First Name")
    assert "'=HYPERLINK(1)" in lines[1]


def test_contact_details_are_checked_and_saved(app, as_role):
    nurse = as_role("nurse")
    bad = nurse.post("/account/rems-contact", data={"phone": "12", "email": "nope"})
    assert bad.status_code == 400 and field_error(bad, "phone")
    assert (
        nurse.post(
            "/account/rems-contact", data={"phone": "555-010-0200", "email": "n@clinic.org"}
        ).status_code
        == 302
    )
    assert "555-010-0200" in text(nurse.get("/account"))


def test_board_and_form_load_in_a_bounded_number_of_statements(app, as_role):
    first = _session(app, days_ago=1)
    nurse = as_role("nurse")
    one = page_statements(app, nurse, "/rems")
    form_one = page_statements(app, nurse, f"/sessions/{first}/rems-form")
    for days in (2, 3, 9):
        _session(app, days_ago=days)
    assert page_statements(app, nurse, "/rems") == one
    assert page_statements(app, nurse, f"/sessions/{first}/rems-form") == form_one
    assert one <= 25 and form_one <= 25


def test_the_badge_is_one_count(app, as_role):
    _session(app, days_ago=10)
    nurse = as_role("nurse")
    with count_statements(app) as statements:
        nurse.get("/account")
    assert sum("rems_monitoring_forms" in s for s in statements) == 1


def test_the_form_prints_as_a_pdf_with_the_charts_values(app, as_role, staff):
    sid = _session(app, last_name="Printed")
    with app.app_context():
        mrn = db.session.get(TreatmentSession, sid).patient.mrn
    assert as_role("front_desk").get(f"/sessions/{sid}/rems-form.pdf").status_code == 403
    texts = pdf_pages(as_role("nurse").get(f"/sessions/{sid}/rems-form.pdf"))
    assert len(texts) == 2  # the paper form's two pages
    assert all("Alex Printed" in page and f"MRN {mrn}" in page for page in texts)
    whole = "\n".join(texts)
    assert "SPRAVATO® REMS Patient Monitoring Form" in whole
    assert "56 mg" in whole and "LOT-1" in whole  # the dose and the device lot from the chart
    assert "138/78" in whole and "with an asterisk" not in whole
    assert "DRAFT" not in whole
    [row] = audit_rows(app, "pdf.rems_form")
    assert row.patient_id is not None and row.detail == {"draft": False}


def test_an_unsigned_sessions_form_pdf_says_draft_on_every_page(app, as_role, staff):
    sid = _session(app, sign=False)
    texts = pdf_pages(as_role("nurse").get(f"/sessions/{sid}/rems-form.pdf"))
    assert texts and all("DRAFT" in page for page in texts)


def test_the_signature_card_says_what_the_rems_is_owed_and_signing_waits(app, as_role):
    sid = _session(app, sign=False, complete=False)
    nurse = as_role("nurse")
    owed = soup(nurse.get(f"/sessions/{sid}")).select_one(".rems-owed")
    assert [a["href"] for a in owed.find_all("a")] == ["#rems-meds", "#rems-answers"]
    refused = nurse.post(f"/sessions/{sid}/sign", data={"password": PASSWORD})
    assert refused.status_code in (400, 409)
    assert "for the REMS before signing" in text(refused)
    with app.app_context():
        assert db.session.get(TreatmentSession, sid).signed_at is None


def test_signed_answers_are_shown_not_offered_for_change(app, as_role):
    sid = _session(app)
    nurse = as_role("nurse")
    card = soup(nurse.get(f"/sessions/{sid}")).select_one("#rems-answers")
    assert not card.find("form")
    assert "Correct them with an addendum" in card.get_text()
    assert "90 min" in card.select_one(".rems-signed-answers").get_text()
    refused = nurse.post(
        f"/sessions/{sid}/rems/answers",
        data={
            "rems-ready_minutes": "80",
            "rems-vitals_ok_pre": "yes",
            "rems-vitals_ok_completion": "yes",
            "rems-sedation_observed": "yes",
            "rems-sedation_resolved": "yes",
            "rems-dissociation_observed": "no",
            "rems-respiratory_observed": "no",
        },
    )
    assert refused.status_code == 400
    assert "correct the REMS answers with an addendum" in text(refused)
    with app.app_context():
        assert db.session.get(TreatmentSession, sid).rems_answers.sedation_observed is False
