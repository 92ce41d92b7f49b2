"""PDF records: the session record, the treatment summary and the handout, opened with pypdf
(page count, the patient on every page, the chart's values, DRAFT on unsigned sessions), who may
download them, the audit row of each download and the statements each costs."""

import io
import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from pypdf import PdfReader
from sqlalchemy import func, select

from clinic_app import clock
from clinic_app.extensions import db
from clinic_app.models import (
    Addendum,
    Appointment,
    Assessment,
    AuditEvent,
    Chair,
    User,
    VitalsReading,
)
from clinic_app.records.fetcher import StaticFilesOnly
from clinic_app.records.render import BASE_URL, chart_css, pdf_response
from clinic_app.treatments import services
from tests import factories
from tests.helpers import (
    audit_rows,
    clinic_today,
    count,
    count_statements,
    field_error,
    pdf_pages,
    soup,
    text,
)
from tests.review import builders

# 18:00 UTC: 13:00 in New York, 10:00 in Los Angeles (the clinic's zone) on a winter day.
STARTED = datetime(2026, 1, 14, 18, 0, tzinfo=UTC)


def assert_every_page_names(texts: list[str], *names: str) -> None:
    for number, page in enumerate(texts, 1):
        for name in names:
            assert name in page, f"{name!r} missing on page {number}"
        assert f"Page {number} of {len(texts)}" in page


def _visit_at_site(patient, course, started: datetime) -> int:
    site = factories.site(
        "NYC",
        "America/New_York",
        name="Midtown Clinic",
        address_line1="12 Park Ave",
        city="New York",
        state="NY",
        zip_code="10016",
    )
    for user in db.session.scalars(select(User)):  # everyone works at both sites
        user.sites.append(site)
    appointment = Appointment(
        patient_id=patient.id,
        course_id=course.id,
        chair=Chair(name="Chair 1", site=site),
        starts_at=started,
        ends_at=started + timedelta(hours=3),
        visit_kind="induction",
        sequence_no=1,
        status="completed",
    )
    db.session.add(appointment)
    db.session.flush()
    return appointment.id


def _cosigned_session(app) -> dict:
    """A co-signed esketamine session at the New York site: a reading over the notify line, a
    PHQ-9, an adverse event and an addendum."""
    with app.app_context():
        patient, course = builders.patient_with_course(first_name="Dana", last_name="Record")
        treatment = builders.add_session(
            patient,
            course,
            started=STARTED,
            after=((40, 168, 96, 95), (90, 130, 82, 97), (125, 124, 79, 98)),
            phq9=builders.phq9_items(17),
            gad7=[2, 2, 1, 1, 1, 1, 1],
            moaas=4,
            events=[("nausea", "mild", False)],
            status="cosigned",
        )
        treatment.appointment_id = _visit_at_site(patient, course, STARTED)
        db.session.add(
            Addendum(
                session_id=treatment.id,
                author_id=factories.user("nurse").id,
                reason="Late entry",
                body="Patient reported mild headache on the way out.",
            )
        )
        db.session.commit()
        return {"session": treatment.id, "patient": patient.id, "mrn": patient.mrn}


def test_signed_session_record_holds_the_chart_on_pages_naming_the_patient(app, as_role, staff):
    ids = _cosigned_session(app)
    response = as_role("nurse").get(f"/sessions/{ids['session']}.pdf")
    texts = pdf_pages(response)
    assert_every_page_names(texts, "Dana Record", f"MRN {ids['mrn']}")
    whole = "\n".join(texts)
    # Letterhead: the visit's site; times in its zone (dose at 18:15 UTC = 13:15 in New York).
    assert "Midtown Clinic" in whole and "12 Park Ave, New York, NY 10016" in whole
    assert "13:15" in whole and "10:15" not in whole
    # Dose and devices, every reading with its flag, the scales, the event.
    assert "56.0 mg" in whole and "2 × 28 mg" in whole and "LOT-B" in whole
    for bp in ("122/78", "168/96", "130/82", "124/79"):
        assert bp in whole
    assert "notify" in whole.lower()  # 168/96 is over the 160 notify line
    assert re.search(r"PHQ-9\s+17", whole) and re.search(r"MOAA/S\s+4", whole)
    assert "Nausea" in whole
    # Discharge, signatures and the addendum.
    assert "leaving with Sam Tester" in whole
    assert "Signed by Test nurse, RN" in whole and "Co-signed by Test psychiatrist, MD" in whole
    assert "Patient reported mild headache" in whole
    assert not any("DRAFT" in page for page in texts)
    # The file's metadata names the document, not the patient.
    reader = PdfReader(io.BytesIO(response.data))
    assert reader.metadata.title == "Session record 14 Jan 2026"
    assert "Dana" not in str(dict(reader.metadata))
    [row] = audit_rows(app, "pdf.session")
    assert (row.patient_id, row.entity_id, row.user_id) == (
        ids["patient"],
        ids["session"],
        staff["nurse"],
    )
    assert row.detail == {"draft": False}
    # The chart's access report lists the download.
    report = text(as_role("admin").get(f"/admin/patients/{ids['patient']}/access"))
    assert "pdf.session × 1" in report


def test_unsigned_session_says_draft_on_every_page(app, as_role, staff):
    with app.app_context():
        treatment = factories.dosed_session(first_name="Eli", last_name="Draft")
        nurse_id = factories.user("nurse").id
        for minute in range(1, 45):  # enough readings for a second page
            db.session.add(
                VitalsReading(
                    session_id=treatment.id,
                    taken_at=treatment.dose_started_at + timedelta(minutes=minute),
                    phase="post_dose",
                    systolic=120 + minute,
                    diastolic=80,
                    heart_rate=70,
                    spo2=97,
                    recorded_by_id=nurse_id,
                )
            )
        db.session.commit()
        sid, mrn = treatment.id, treatment.patient.mrn
    texts = pdf_pages(as_role("psychiatrist").get(f"/sessions/{sid}.pdf"))
    assert len(texts) >= 2
    assert_every_page_names(texts, "Eli Draft", f"MRN {mrn}", "DRAFT")
    assert "164/80" in "\n".join(texts)
    assert audit_rows(app, "pdf.session")[0].detail == {"draft": True}


def test_iv_session_record_shows_the_infusion_and_vial(app, as_role, staff):
    with app.app_context():
        patient, course = builders.patient_with_course("iv_ketamine", last_name="Infusion")
        sid = builders.add_session(patient, course, status="signed").id
        db.session.commit()
    whole = "\n".join(pdf_pages(as_role("nurse").get(f"/sessions/{sid}.pdf")))
    assert "40.0 mg" in whole and "0.50 mg/kg" in whole and "80.0 kg" in whole
    assert "Vial lot" in whole and "LOT-B" in whole
    assert "Infusion ended" in whole and "(40 min)" in whole
    assert "REMS" not in whole and "for 24 hours" in whole


def test_session_ended_without_a_dose_says_so(app, as_role, staff):
    with app.app_context():
        patient = factories.make_patient(last_name="Undosed")
        treatment = factories.start(patient, factories.make_course(patient))
        services.end_not_dosed(
            factories.user("nurse"), treatment, "patient_declined", "", treatment.version_id
        )
        db.session.commit()
        sid = treatment.id
    texts = pdf_pages(as_role("nurse").get(f"/sessions/{sid}.pdf"))
    whole = "\n".join(texts)
    assert "Not dosed." in whole and "Patient declined" in whole
    assert "Discharge" not in whole
    assert all("DRAFT" in page for page in texts)  # not signed yet


def test_session_record_statements_do_not_grow_with_the_chart(app, as_role, staff):
    with app.app_context():
        small = factories.dosed_session().id
        large = builders.add_session(
            *builders.patient_with_course(),
            after=tuple((m, 130, 80, 97) for m in range(5, 125, 5)),
            events=[("nausea", "mild", False), ("headache", "mild", False)],
            phq9=builders.phq9_items(10),
            status="signed",
        ).id
        db.session.commit()
    nurse = as_role("nurse")
    counts = []
    for sid in (small, large):
        with count_statements(app) as statements:
            assert nurse.get(f"/sessions/{sid}.pdf").status_code == 200
        counts.append(len(statements))
    assert counts[0] == counts[1] <= 18, counts  # 13 today


def _history(app, sessions: int = 6) -> dict:
    """An esketamine course with a PHQ-9 falling from 20 and a booked visit tomorrow."""
    with app.app_context():
        patient, course = builders.patient_with_course(first_name="Fay", last_name="Summary")
        for n in range(sessions):
            builders.add_session(
                patient,
                course,
                days_ago=30 - 4 * n,
                phq9=builders.phq9_items(20 - 3 * n),
                gad7=[2, 2, 2, 1, 1, 1, 1],
                after=((40, 150 + n, 90, 96), (90, 130, 80, 97)),
                events=[("dizziness", "moderate", False)] if n == 1 else (),
                status="cosigned",
            )
        tomorrow = clock.utcnow() + timedelta(days=1)
        db.session.add(
            Appointment(
                patient_id=patient.id,
                course_id=course.id,
                chair=Chair(name="Chair 9", site=factories.site()),
                starts_at=tomorrow,
                ends_at=tomorrow + timedelta(hours=2),
                visit_kind="induction",
                sequence_no=sessions + 1,
                driver_name="Sam Tester",
            )
        )
        db.session.commit()
        return {"patient": patient.id, "mrn": patient.mrn}


def test_treatment_summary_holds_courses_doses_scores_and_peaks(app, as_role, staff):
    ids = _history(app)
    texts = pdf_pages(as_role("psychiatrist").get(f"/patients/{ids['patient']}/summary.pdf"))
    assert_every_page_names(texts, "Fay Summary", f"MRN {ids['mrn']}")
    whole = "\n".join(texts)
    assert "Doses given (6)" in whole
    for total in (20, 17, 14, 11, 8, 5):  # PHQ-9 table
        assert re.search(rf"\b{total}\b", whole)
    assert "Remission" in whole or "Responder" in whole  # 20 -> 5 is a response
    for peak in ("150/90", "155/90"):
        assert peak in whole
    assert "Dizziness" in whole and "GAD-7" in whole
    assert "Booked visits" in whole
    [row] = audit_rows(app, "pdf.summary")
    assert row.patient_id == ids["patient"]
    assert row.detail == {"first": None, "last": None}


def test_summary_date_range_keeps_only_its_sessions(app, as_role, staff):
    ids = _history(app)
    first = clinic_today() - timedelta(days=20)  # the last 3 sessions (18, 14, 10 days ago)
    response = as_role("nurse").get(f"/patients/{ids['patient']}/summary.pdf?from={first}")
    whole = "\n".join(pdf_pages(response))
    assert "Doses given (3)" in whole
    assert "152/90" not in whole and "153/90" in whole
    # The course's status still counts from its baseline of 20, before the range.
    assert re.search(r"Baseline PHQ-9\s*20", whole)
    assert audit_rows(app, "pdf.summary")[0].detail == {"first": first.isoformat(), "last": None}


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ("from=2026-13-01", "from", "Not a valid date value."),
        ("from=2026-03-01&to=2026-02-01", "to", "before its start"),
    ],
)
def test_bad_summary_range_is_a_400_with_the_message(app, as_role, staff, query, field, message):
    ids = _history(app, sessions=1)
    response = as_role("nurse").get(f"/patients/{ids['patient']}/summary.pdf?{query}")
    assert response.status_code == 400
    assert message in (field_error(response, field) or "")
    assert count(app, AuditEvent, AuditEvent.action == "pdf.summary") == 0


def test_summary_statements_do_not_grow_with_the_history(app, as_role, staff):
    with app.app_context():
        small, small_course = builders.patient_with_course()
        builders.bulk_history(small, small_course, 3)
        large, large_course = builders.patient_with_course()
        builders.bulk_history(large, large_course, 12)
        db.session.commit()
        small_id, large_id = small.id, large.id
    nurse = as_role("nurse")
    counts = []
    for patient_id in (small_id, large_id):
        with count_statements(app) as statements:
            assert nurse.get(f"/patients/{patient_id}/summary.pdf").status_code == 200
        counts.append(len(statements))
    assert counts[0] == counts[1] <= 20, counts  # 15 today


def test_front_desk_prints_the_handout_pdf(app, as_role, staff):
    ids = _history(app, sessions=1)
    desk = as_role("front_desk")
    texts = pdf_pages(desk.get(f"/schedule/patients/{ids['patient']}/handout.pdf"))
    assert_every_page_names(texts, "Fay Summary", f"MRN {ids['mrn']}")
    whole = "\n".join(texts)
    assert "Your upcoming visits" in whole and "Do not eat for 2 hours" in whole
    assert "Sam Tester" in whole
    assert "mg" not in whole  # no dose on the patient's handout
    [row] = audit_rows(app, "pdf.handout")
    assert (row.patient_id, row.user_id) == (ids["patient"], staff["front_desk"])
    # The handout page links to its PDF.
    page = desk.get(f"/schedule/patients/{ids['patient']}/handout")
    assert f"/schedule/patients/{ids['patient']}/handout.pdf" in page.get_data(as_text=True)


@pytest.mark.parametrize("role", ["front_desk", "admin"])
def test_front_desk_and_admin_get_no_clinical_pdf(app, as_role, staff, role):
    ids = _cosigned_session(app)
    client = as_role(role)
    assert client.get(f"/sessions/{ids['session']}.pdf").status_code == 403
    assert client.get(f"/patients/{ids['patient']}/summary.pdf").status_code == 403
    expected = 200 if role == "front_desk" else 403
    handout = client.get(f"/schedule/patients/{ids['patient']}/handout.pdf")
    assert handout.status_code == expected
    assert count(app, AuditEvent, AuditEvent.action.in_(["pdf.session", "pdf.summary"])) == 0


def test_unknown_records_are_404(app, as_role, staff):
    nurse = as_role("nurse")
    assert nurse.get("/sessions/999999.pdf").status_code == 404
    assert nurse.get("/patients/999999/summary.pdf").status_code == 404
    assert nurse.get("/schedule/patients/999999/handout.pdf").status_code == 404


# --- rendering --------------------------------------------------------------------------------


def test_fetcher_serves_static_files_only(app):
    fetcher = StaticFilesOnly(app.static_folder)
    css = fetcher.fetch(f"{BASE_URL}static/css/print.css")
    assert css.content_type == "text/css" and b"@page" in css.read()
    for url in (
        "https://example.com/static/css/print.css",
        f"{BASE_URL}static/../../config.py",
        f"{BASE_URL}static/css/none.css",
        f"{BASE_URL}sessions/1",
        "file:///etc/passwd",
    ):
        with pytest.raises(ValueError):
            fetcher.fetch(url)


def test_download_names_carry_no_quotes_or_paths(app):
    with app.test_request_context(), pytest.raises(ValueError):
        pdf_response("records/handout.html", 'x".pdf')


def test_chart_rules_have_their_colours_written_out(app):
    with app.test_request_context():
        rules = chart_css()
    assert ".s-systolic" in rules and ".chart-svg .grid" in rules
    assert "var(" not in rules and "#b02a37" in rules  # --danger
    assert ".handout" not in rules and "@media" not in rules


def test_session_page_and_timeline_link_to_their_pdfs(app, as_role, staff):
    ids = _cosigned_session(app)
    nurse = as_role("nurse")
    session_page = soup(nurse.get(f"/sessions/{ids['session']}"))
    assert session_page.find("a", href=f"/sessions/{ids['session']}.pdf")
    timeline = soup(nurse.get(f"/patients/{ids['patient']}/timeline"))
    form = timeline.find("form", action=f"/patients/{ids['patient']}/summary.pdf")
    assert form["method"] == "get"
    assert {i["name"] for i in form.find_all("input")} == {"from", "to"}


def test_summary_shows_each_rows_time_on_its_sites_clock(app, as_role, staff):
    """Sessions in Los Angeles and New York, both with scales at 09:05 local: the summary shows
    09:05 for both (not 06:05 for New York on the clinic's Los Angeles clock) and names the
    sites; the PHQ-9 outside a session is on the usual site's (New York's) clock."""
    with app.app_context():
        patient_id = builders.two_site_patient("NYC")
        db.session.commit()
    whole = "\n".join(pdf_pages(as_role("psychiatrist").get(f"/patients/{patient_id}/summary.pdf")))
    assert "Times are each site's local time (America/Los_Angeles, America/New_York)" in whole
    for shown in ("09:05 MAIN", "09:05 NYC", "14:00 NYC", "09:06 MAIN", "09:06 NYC"):
        assert shown in whole, shown
    assert "06:05" not in whole and "06:06" not in whole and "11:00" not in whole


def test_summary_of_one_site_states_its_zone(app, as_role, staff):
    with app.app_context():
        patient, course = builders.patient_with_course()
        treatment = builders.add_session(
            patient, course, started=builders.local_at(builders.NY, 3, 9), phq9=[1] * 9
        )
        builders.at_site(treatment, factories.site("NYC", "America/New_York", state="NY"))
        db.session.commit()
        patient_id = patient.id
    whole = "\n".join(pdf_pages(as_role("nurse").get(f"/patients/{patient_id}/summary.pdf")))
    assert "Times in America/New_York" in whole
    assert "09:05" in whole and "06:05" not in whole and "NYC" not in whole


def _first_phq9_day(app, patient_id: int) -> str:
    """The clinic-local date of the patient's first PHQ-9, as the summary writes dates."""
    with app.app_context():
        given = db.session.scalar(
            select(func.min(Assessment.administered_at)).where(
                Assessment.patient_id == patient_id, Assessment.instrument == "phq9"
            )
        )
    day = given.replace(tzinfo=given.tzinfo or UTC).astimezone(ZoneInfo("America/Los_Angeles"))
    return f"{day.day} {day:%b %Y}"


def test_a_ranged_summary_states_the_baseline_it_compares_against(app, as_role, staff):
    """The range holds the last 3 sessions (PHQ-9 11, 8, 5); the course's baseline is the 20 of
    its first session, 30 days ago: the summary says so, with its date, says that date is
    before the range, and its PHQ-9 chart draws that baseline (not the range's first 11)."""
    ids = _history(app)
    baseline_day = _first_phq9_day(app, ids["patient"])
    first = clinic_today() - timedelta(days=20)
    response = as_role("nurse").get(f"/patients/{ids['patient']}/summary.pdf?from={first}")
    whole = " ".join(" ".join(pdf_pages(response)).split())
    shown_first = f"{first.day} {first:%b %Y}"
    assert re.search(
        rf"Compared against the course's baseline PHQ-9 of 20, given {baseline_day} \d\d:\d\d, "
        rf"before this summary's period \(from {shown_first}\)\.",
        whole,
    ), whole[:1500]
    assert re.search(rf"Baseline PHQ-9 20 \({baseline_day} \d\d:\d\d\)", whole)
    assert "baseline 20" in whole and "baseline 11" not in whole  # the chart's line


def test_a_summary_holding_its_baseline_says_only_when_it_was_given(app, as_role, staff):
    ids = _history(app)
    baseline_day = _first_phq9_day(app, ids["patient"])
    nurse = as_role("nurse")
    first = clinic_today() - timedelta(days=40)
    for query in ("", f"?from={first}"):
        response = nurse.get(f"/patients/{ids['patient']}/summary.pdf{query}")
        whole = " ".join(" ".join(pdf_pages(response)).split())
        assert f"baseline PHQ-9 of 20, given {baseline_day}" in whole
        assert "before this summary's period" not in whole


def test_a_summary_ending_before_the_baseline_says_so(app, as_role, staff):
    ids = _history(app)
    last = clinic_today() - timedelta(days=35)  # before any session or score
    response = as_role("nurse").get(f"/patients/{ids['patient']}/summary.pdf?to={last}")
    whole = " ".join(" ".join(pdf_pages(response)).split())
    assert f"after this summary's period (to {last.day} {last:%b %Y})" in whole
