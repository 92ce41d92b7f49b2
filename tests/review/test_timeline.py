"""The patient timeline: courses as bands, every session in order with its peaks and lows,
accessible SVG charts with data tables, the course status, and a bounded number of statements."""

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from clinic_app import clock
from clinic_app.extensions import db
from clinic_app.models import Assessment, AuditEvent, CourseDecision, VitalsReading
from tests import factories
from tests.helpers import actions_by, audit_rows, count, count_statements, soup, text
from tests.review import builders


def _session_numbers(page) -> list[str]:
    """The first cell (the number within its course) of each row of the sessions table."""
    table = page.find("section", attrs={"aria-labelledby": "sessions-h"}).find("tbody")
    return [row.find("td").get_text() for row in table.find_all("tr")]


def _history(app) -> dict[str, int]:
    """An esketamine course in maintenance (8 induction doses then 2 more) and an IV course."""
    with app.app_context():
        patient, course = builders.patient_with_course(last_name="Timeline")
        course.phase = "maintenance"
        totals = [20, 18, 16, 14, 13, 12, 11, 10, 9, 8]
        for n, total in enumerate(totals):
            builders.add_session(
                patient,
                course,
                days_ago=40 - 3 * n,
                phq9=builders.phq9_items(total),
                gad7=[2, 2, 1, 1, 1, 1, 0],
                moaas=5,
                cadss=[1, 0, 0, 0, 0, 0],
                status="cosigned" if n < 8 else "signed",
            )
        special = builders.add_session(
            patient,
            course,
            days_ago=2,
            pre=(124, 78),
            after=((40, 152, 92, 95), (90, 138, 84, 97), (126, 126, 80, 98)),
            phq9=builders.phq9_items(7),
            moaas=2,
            cadss=[2, 2, 1, 1, 0, 0],
            events=[("nausea", "mild", False)],
            discharge_minutes=131,
        )
        iv = factories.make_course(patient, "iv_ketamine")
        iv_session = builders.add_session(patient, iv, days_ago=1, status="discharged")
        db.session.commit()
        return {
            "patient_id": patient.id,
            "course_id": course.id,
            "iv_course_id": iv.id,
            "special": special.id,
            "iv_session": iv_session.id,
        }


def test_nurse_reads_the_whole_timeline(app, as_role, staff):
    ids = _history(app)
    response = as_role("nurse").get(f"/patients/{ids['patient_id']}/timeline")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    parsed = soup(response)
    page = text(response)
    assert "Timeline: Alex Tester" not in page  # last name set by the builder
    assert "Timeline: Alex Timeline" in page
    # Every session, newest first, with its number within its course.
    assert _session_numbers(parsed) == ["1"] + [str(n) for n in range(11, 0, -1)]
    assert "Session pages" not in html  # one page
    assert "152/92 (+28/+14)" in page  # peak BP and the rise over pre-dose
    assert "95 %" in page  # lowest SpO2
    assert "Nausea (mild)" in page
    assert "131 min" in page  # dose to discharge
    assert "56.0 mg" in page and "40.0 mg 0.50 mg/kg" in page  # esketamine and IV doses
    assert "Test nurse, RN" in page
    assert "co-signed Test psychiatrist, MD" in page
    assert "signed Test nurse, RN" in page and "awaiting co-signature" in page
    assert "discharged" in page
    special_row = parsed.find("a", href=f"/sessions/{ids['special']}").find_parent("tr")
    cells = [cell.get_text() for cell in special_row.find_all("td")]
    assert cells[5:8] == ["95 %", "2", "6"]  # lowest SpO2, deepest MOAA/S, max CADSS-6
    # The course status: baseline 20, latest 7, -65 %, a response after induction.
    assert "Baseline PHQ-9 20" in page
    assert "Latest PHQ-9 7" in page
    assert "Change -65 %" in page
    assert "Response" in page
    assert "Not enough PHQ-9 data" in page  # the IV course has no PHQ-9 yet
    # Nurses read but do not decide on courses.
    assert "Decisions on this course" not in page
    [event] = audit_rows(app, "patient.timeline")
    assert event.patient_id == ids["patient_id"]
    assert event.user_id == staff["nurse"]


def test_sessions_page_newest_first_while_charts_keep_the_whole_history(
    app, as_role, staff, monkeypatch
):
    ids = _history(app)
    monkeypatch.setattr("clinic_app.review.timeline.TIMELINE_PAGE_SIZE", 5)
    nurse = as_role("nurse")
    url = f"/patients/{ids['patient_id']}/timeline"

    first_response = nurse.get(f"{url}?page=1")
    first = soup(first_response)
    assert _session_numbers(first) == ["1", "11", "10", "9", "8"]
    assert _session_numbers(soup(nurse.get(f"{url}?page=3"))) == ["2", "1"]
    assert "Sessions 1–5 of 12, newest first" in text(first_response)
    assert first.find("a", href=f"{url}?page=2#sessions-h")
    # The peak systolic table beside the chart still lists every dosed esketamine session.
    peak_section = first.select_one('section[aria-labelledby^="peak-h-"]')
    peak_rows = peak_section.find("tbody").find_all("tr")
    assert len(peak_rows) == 11
    assert all(row.find("td").get_text().isdigit() for row in peak_rows)
    assert _session_numbers(soup(nurse.get(f"{url}?page=9"))) == ["2", "1"]


def test_charts_are_accessible_svg_with_tables(app, as_role, staff):
    ids = _history(app)
    response = as_role("psychiatrist").get(f"/patients/{ids['patient_id']}/timeline")
    html = response.get_data(as_text=True)
    parsed = soup(response)
    svgs = [svg["id"] for svg in parsed.find_all("svg", class_="chart-svg", role="img")]
    assert svgs == [
        "course-chart",
        "phq9-chart",
        "gad7-chart",
        f"peak-chart-{ids['course_id']}",
        f"peak-chart-{ids['iv_course_id']}",
    ]
    for chart_id in svgs:
        svg = parsed.find("svg", id=chart_id)
        assert svg["aria-labelledby"] == f"{chart_id}-title"
        assert svg["aria-describedby"] == f"{chart_id}-desc"
        assert svg.find("title", id=f"{chart_id}-title").get_text().strip()
        assert svg.find("desc", id=f"{chart_id}-desc").get_text().strip()
    assert "<script" not in html.split("</head>", 1)[1]
    assert 'style="' not in html
    # PHQ-9 with the course baseline, the response line (50 % of baseline) and remission (< 5).
    assert ">baseline 20<" in html
    assert ">response ≤ 10<" in html
    assert ">remission &lt; 5<" in html
    assert "11 PHQ-9 scores from" in html
    assert ">moderate ≥ 10<" in html  # GAD-7 evaluation line
    # Peak systolic per session with the hold and alert lines.
    assert ">hold &gt; 140<" in html and ">notify ≥ 160<" in html
    assert "Highest peak 152" in html
    # Course bands: induction then maintenance.
    assert "induction from" in html and "maintenance from" in html
    # The same data as tables beside the charts.
    for caption in (
        "Course phases",
        "PHQ-9 scores, oldest first",
        "GAD-7 scores, oldest first",
        "Peak and pre-dose systolic per session",
    ):
        assert f'<caption class="visually-hidden">{caption}</caption>' in html
    # The link's name, hidden part included, reads as one phrase (no stray colon).
    links = [
        " ".join(link.get_text(" ").split())
        for link in parsed.select('a[href^="/review/courses/"]')
        if link["href"].removeprefix("/review/courses/").isdigit()
    ]
    assert [re.sub(r"\d{1,2} \w{3} \d{4}", "DATE", link) for link in links] == [
        "Decisions on this course (Esketamine nasal, from DATE)",
        "Decisions on this course (IV ketamine, from DATE)",
    ]


def test_session_page_shows_the_bp_chart_with_hold_and_alert_lines(app, as_role, staff):
    ids = _history(app)
    html = as_role("nurse").get(f"/sessions/{ids['special']}").get_data(as_text=True)
    assert '<svg class="chart-svg" id="bp-chart"' in html
    assert '<title id="bp-chart-title">Blood pressure during the session</title>' in html
    assert "Highest 152/92 at +40 min. Pre-dose 124/78." in html
    for label in (
        ">hold S &gt; 140<",
        ">hold D &gt; 90<",
        ">rise S +40 (164)<",
        ">notify S ≥ 160<",
    ):
        assert label in html, label
    assert ">dose<" in html


@pytest.mark.parametrize("role", ["front_desk", "admin"])
def test_front_desk_and_admin_cannot_open_the_timeline(app, as_role, staff, role):
    ids = _history(app)
    client = as_role(role)
    assert client.get(f"/patients/{ids['patient_id']}/timeline").status_code == 403
    assert actions_by(app, staff[role]) == set()
    assert count(app, AuditEvent, AuditEvent.action == "patient.timeline") == 0


def test_patient_record_links_to_the_timeline_for_clinical_staff_only(app, as_role, staff):
    ids = _history(app)
    url = f"/patients/{ids['patient_id']}"
    link = f'href="/patients/{ids["patient_id"]}/timeline"'.encode()
    assert link in as_role("nurse").get(url).data
    assert link in as_role("psychiatrist").get(url).data
    assert link not in as_role("front_desk").get(url).data


def test_an_empty_timeline(app, as_role, staff):
    with app.app_context():
        patient = factories.make_patient(last_name="Newcomer")
        db.session.commit()
        patient_id = patient.id
    page = text(as_role("nurse").get(f"/patients/{patient_id}/timeline"))
    assert "No course prescribed." in page
    assert "No PHQ-9 scores recorded yet." in page
    assert "No sessions yet." in page


def test_course_bands_follow_the_decisions(app, as_role, staff):
    with app.app_context():
        patient, course = builders.patient_with_course(last_name="Bands")
        for n in range(3):
            builders.add_session(patient, course, days_ago=10 - 3 * n)
        course.phase = "maintenance"
        course.maintenance_interval_days = 7
        db.session.add(
            CourseDecision(
                course_id=course.id,
                kind="to_maintenance",
                from_value="induction",
                to_value="maintenance every 7 days",
                decided_by_id=factories.user("psychiatrist").id,
                decided_at=clock.utcnow() - timedelta(days=5),
            )
        )
        db.session.commit()
        patient_id = patient.id
    page = text(as_role("nurse").get(f"/patients/{patient_id}/timeline"))
    assert "maintenance every 7 days" in page
    assert "to_maintenance" not in page and "to maintenance: induction → maintenance" in page


# --- statements -----------------------------------------------------------------------------


def _timeline_statements(app, client, patient_id) -> list[str]:
    with count_statements(app) as statements:
        response = client.get(f"/patients/{patient_id}/timeline")
    assert response.status_code == 200
    return statements


def test_timeline_of_150_sessions_runs_the_same_statements_as_15(app, as_role, staff):
    with app.app_context():
        small, small_course = builders.patient_with_course(last_name="Fifteen")
        builders.bulk_history(small, small_course, 15)
        large, large_course = builders.patient_with_course(last_name="Hundredfifty")
        builders.bulk_history(large, large_course, 150)
        db.session.commit()
        small_id, large_id = small.id, large.id
    assert count(app, VitalsReading) == 1650
    nurse = as_role("nurse")
    nurse.get(f"/patients/{small_id}/timeline")  # warm up
    few = _timeline_statements(app, nurse, small_id)
    many = _timeline_statements(app, nurse, large_id)
    assert len(many) == len(few) <= 30
    # Signed sessions bring the peaks and flags stored when they were signed: no reading is
    # read, never one statement per session.
    assert [s for s in many if "FROM vitals_readings" in s] == []
    page = text(nurse.get(f"/patients/{large_id}/timeline"))
    assert "Sessions 150" in page


def test_sessions_not_signed_yet_are_worked_out_in_a_fixed_number_of_statements(
    app, as_role, staff
):
    """Sessions not signed yet have no stored summary: their readings, scales, events,
    overrides and pauses are read in one statement each, however many there are."""
    with app.app_context():
        one, one_course = builders.patient_with_course(last_name="Onedischarged")
        builders.bulk_history(one, one_course, 5)
        builders.add_session(one, one_course, days_ago=0.5, status="discharged")
        three, three_course = builders.patient_with_course(last_name="Threedischarged")
        builders.bulk_history(three, three_course, 5)
        for days in (0.2, 0.4, 0.6):
            builders.add_session(
                three,
                three_course,
                days_ago=days,
                status="discharged",
                after=((40, 166, 96, 97), (125, 128, 80, 98)),
            )
        db.session.commit()
        one_id, three_id = one.id, three.id
    nurse = as_role("nurse")
    nurse.get(f"/patients/{one_id}/timeline")  # warm up
    few = _timeline_statements(app, nurse, one_id)
    many = _timeline_statements(app, nurse, three_id)
    assert len(many) == len(few)
    assert len([s for s in many if "FROM vitals_readings" in s]) == 1
    page = text(nurse.get(f"/patients/{three_id}/timeline"))
    assert page.count("166/96") == 3  # each discharged session's peak, worked out live


# --- times on each site's clock --------------------------------------------------------------

LA, NY = builders.LA, builders.NY
_local = builders.local_at


def two_site_history(app, usual: str | None = "NYC") -> int:
    with app.app_context():
        patient_id = builders.two_site_patient(usual)
        db.session.commit()
        return patient_id


def _scale_times(page, heading: str) -> list[str]:
    section = page.find("section", attrs={"aria-labelledby": heading})
    return [tr.find("td").get_text(" ", strip=True) for tr in section.find("tbody")("tr")]


def _after_date(cell: str) -> str:
    """What follows "6 Dec 2026": the time of day and any site code."""
    return " ".join(cell.split()[3:])


def test_scale_tables_show_each_scale_on_its_sites_clock(app, as_role, staff):
    patient_id = two_site_history(app)
    page = soup(as_role("psychiatrist").get(f"/patients/{patient_id}/timeline"))
    phq9 = _scale_times(page, "phq-h")
    assert [_after_date(cell) for cell in phq9] == ["09:05 MAIN", "09:05 NYC", "14:00 NYC"]
    gad7 = _scale_times(page, "gad-h")
    assert [_after_date(cell) for cell in gad7] == ["09:06 MAIN", "09:06 NYC"]
    notes = page.find("section", attrs={"aria-labelledby": "phq-h"}).find(class_="zones-note")
    assert notes is not None


def test_a_scale_outside_a_session_without_a_usual_site_is_on_the_clinics_clock(
    app, as_role, staff
):
    patient_id = two_site_history(app, usual=None)
    page = soup(as_role("psychiatrist").get(f"/patients/{patient_id}/timeline"))
    # The clinic's zone is Los Angeles: the outside PHQ-9 shows without a site code.
    assert _scale_times(page, "phq-h")[-1].endswith(" 14:00")


def test_scales_of_one_zone_name_no_site(app, as_role, staff):
    with app.app_context():
        patient, course = builders.patient_with_course()
        treatment = builders.add_session(
            patient, course, started=_local(NY, 3, 9), phq9=builders.phq9_items(9)
        )
        builders.at_site(treatment, factories.site("NYC", "America/New_York", state="NY"))
        db.session.commit()
        patient_id = patient.id
    page = soup(as_role("psychiatrist").get(f"/patients/{patient_id}/timeline"))
    assert _scale_times(page, "phq-h")[0].endswith(" 09:05")  # New York's time, no code
    section = page.find("section", attrs={"aria-labelledby": "phq-h"})
    assert section.find(class_="zones-note") is None


def test_a_scale_typed_outside_a_session_is_read_on_the_usual_sites_clock(app, as_role, staff):
    with app.app_context():
        nyc = factories.site("NYC", "America/New_York", state="NY")
        patient, _ = builders.patient_with_course(usual_site_id=nyc.id)
        db.session.commit()
        patient_id = patient.id
    given = _local(NY, 1, 14, 30)
    data = {f"phq9-item{n}": "1" for n in range(1, 10)} | {"phq9-item9": "0"}
    data["phq9-administered_at"] = given.strftime("%Y-%m-%dT%H:%M")
    nurse = as_role("nurse")
    assert nurse.post(f"/patients/{patient_id}/questionnaires/phq9", data=data).status_code == 302
    with app.app_context():
        assert db.session.scalar(select(Assessment.administered_at)) == given
    page = soup(nurse.get(f"/patients/{patient_id}/timeline"))
    assert _scale_times(page, "phq-h") == [f"{given:%-d %b %Y} 14:30"]
