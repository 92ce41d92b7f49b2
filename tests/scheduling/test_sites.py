"""Sites on the schedule: scoped boards and calendars (?site=, one-site users, All sites, 403 for
another site, constant statement counts), each visit on its own site's clock (visit and session
pages, handout, .ics across a DST change, review queue and timeline), per-site booking and moves,
and the patient's usual site."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar
from sqlalchemy import select

from clinic_app import clock
from clinic_app.errors import RuleViolation
from clinic_app.extensions import db
from clinic_app.models import (
    Appointment,
    Chair,
    ClinicSetting,
    Patient,
    Site,
    TreatmentCourse,
    VitalsReading,
)
from clinic_app.patients.services import create_patient
from clinic_app.scheduling import booking, changes
from clinic_app.scheduling.checks import VisitRequest
from clinic_app.treatments import services
from tests import factories
from tests.helpers import (
    PASSWORD,
    field_error,
    flashes,
    form_values,
    markup,
    page_statements,
    pdf_pages,
    sign_in,
    soup,
)
from tests.review.builders import add_session, at_site
from tests.scheduling.builders import (
    MONDAY,
    book_from,
    book_series,
    book_visit,
    make_patient_with_course,
    propose,
)

LA = ZoneInfo("America/Los_Angeles")
NY = ZoneInfo("America/New_York")


def at(zone: ZoneInfo, day: date, hour: int, minute: int = 0) -> datetime:
    """A wall-clock time at a site as aware UTC."""
    return datetime.combine(day, time(hour, minute), tzinfo=zone).astimezone(UTC)


@pytest.fixture
def sites(app, staff, monday) -> dict[str, list[int]]:
    """MAIN (Los Angeles) and NYC (New York), two chairs each. The psychiatrist and the front
    desk work at both; `nurse` only at MAIN, `nycnurse` only at NYC. Chair ids by site."""
    with app.app_context():
        main = factories.site()
        nyc = factories.site("NYC", NY.key, name="Midtown", address_line1="5 W 45th St")
        chairs = {
            "MAIN": [Chair(name=f"LA {n}", site=main) for n in (1, 2)],
            "NYC": [Chair(name=f"NY {n}", site=nyc) for n in (1, 2)],
        }
        db.session.add_all([*chairs["MAIN"], *chairs["NYC"]])
        for username in ("psychiatrist", "front_desk"):
            overseer = factories.user(username)
            overseer.sites.append(nyc)
        nycnurse = factories.make_user("nurse", "nycnurse", password=PASSWORD)
        nycnurse.sites.append(nyc)
        db.session.commit()
        return {code: [c.id for c in rows] for code, rows in chairs.items()}


def _client(app, username: str):
    client = app.test_client()
    assert sign_in(client, username).status_code == 302
    return client


def _patient(app, last_name: str, site: str | None = None, modality="esketamine_nasal"):
    patient_id, course_id = make_patient_with_course(
        app, modality, first_name="Pat", last_name=last_name
    )
    if site is not None:
        with app.app_context():
            person = db.session.get(Patient, patient_id)
            person.usual_site = factories.site(site)
            db.session.commit()
    return patient_id, course_id


@pytest.fixture
def today_at_both(app, sites) -> dict[str, int]:
    """A visit today at 09:00 on each site's own clock (MAIN's at 09:00 Los Angeles time,
    NYC's at 09:00 New York time); appointment ids by site."""
    visits = {}
    for code, name, zone in (("MAIN", "Westside", LA), ("NYC", "Eastside", NY)):
        patient_id, course_id = _patient(app, name, code)
        start = at(zone, MONDAY, 9)
        visits[code] = book_visit(app, patient_id, course_id, sites[code][0], start)
    return visits


def _board_rows(response) -> list[list[str]]:
    body = soup(response).find("table", class_="board").find("tbody")
    return [[td.get_text(" ", strip=True) for td in tr.find_all("td")] for tr in body("tr")]


# --- scoped pages ------------------------------------------------------------------------------


def test_a_one_site_nurse_sees_her_board_without_a_picker_and_is_refused_another(
    app, today_at_both
):
    nurse = _client(app, "nurse")
    page = nurse.get("/today")
    assert page.status_code == 200
    rows = _board_rows(page)
    assert [row[2].split()[0] for row in rows] == ["Westside,"]
    assert rows[0][0] == "09:00"
    assert soup(page).find("select", id="site-picker") is None
    assert nurse.get("/today?site=NYC").status_code == 403
    # "All" of one site is that site.
    assert _board_rows(nurse.get("/today?site=ALL")) == rows
    assert nurse.get("/schedule/week?site=NYC").status_code == 403
    assert nurse.get("/schedule/drivers?site=NYC").status_code == 403
    # The NYC nurse gets her own site's board, on New York's clock.
    rows = _board_rows(_client(app, "nycnurse").get("/today"))
    assert [(row[0], row[2].split()[0]) for row in rows] == [("09:00", "Eastside,")]


def test_all_sites_shows_every_row_with_its_site_at_its_own_time(app, today_at_both):
    psychiatrist = _client(app, "psychiatrist")
    page = psychiatrist.get("/today?site=ALL")
    assert page.status_code == 200
    rows = _board_rows(page)
    # LA 09:00 is NY 12:00: Eastside (09:00 New York) comes first, each at its own 09:00.
    assert [(row[0], row[1], row[3].split()[0]) for row in rows] == [
        ("09:00", "NYC", "Eastside,"),
        ("09:00", "MAIN", "Westside,"),
    ]
    assert soup(page).find(class_="zones-note")
    picker = soup(page).find("select", id="site-picker")
    assert [o["value"] for o in picker("option")] == ["ALL", "NYC", "MAIN"]
    one = psychiatrist.get("/today?site=NYC")
    assert [(row[0], row[2].split()[0]) for row in _board_rows(one)] == [("09:00", "Eastside,")]
    assert not soup(one).find(class_="zones-note")


def test_calendars_show_the_sites_chairs_and_links_keep_the_site(app, today_at_both):
    desk = _client(app, "front_desk")
    week = desk.get(f"/schedule/week?site=NYC&date={MONDAY.isoformat()}")
    assert week.status_code == 200
    headers = [th.get_text(strip=True) for th in soup(week).find_all("th", scope="col")]
    assert headers == ["Day", "NY 1", "NY 2"]
    assert "Eastside" in markup(week) and "Westside" not in markup(week)
    links = [a["href"] for a in soup(week).select(".btn-group a")]
    assert links and all("site=NYC" in href for href in links)
    jump = soup(week).find("form", class_="jump-form")
    assert jump.find("input", attrs={"name": "site"})["value"] == "NYC"
    day = desk.get("/schedule/?site=NYC")
    visit_time = soup(day).find(class_="visit-time").get_text(strip=True)
    assert visit_time.startswith("09:00")
    every = desk.get("/schedule/?site=ALL")
    assert every.status_code == 403  # the front desk never sees all sites at once


def test_driver_calls_and_maintenance_list_only_the_sites_patients(app, today_at_both, sites):
    tomorrow = MONDAY + timedelta(days=1)
    for code, name, zone in (("MAIN", "Lacall", LA), ("NYC", "Nycall", NY)):
        patient_id, course_id = _patient(app, name, code)
        book_visit(app, patient_id, course_id, sites[code][1], at(zone, tomorrow, 10))
    desk = _client(app, "front_desk")
    page = markup(desk.get(f"/schedule/drivers?site=NYC&date={tomorrow.isoformat()}"))
    assert "Nycall" in page and "Lacall" not in page
    every = markup(_client(app, "psychiatrist").get(f"/schedule/drivers?site=ALL&date={tomorrow}"))
    assert "Nycall" in every and "Lacall" in every
    assert desk.get("/schedule/maintenance?site=NYC").status_code == 200
    assert _client(app, "nurse").get("/schedule/maintenance?site=NYC").status_code == 403


def test_scoped_pages_cost_the_same_statements_with_more_visits(app, sites):
    patient_id, course_id = _patient(app, "First", "MAIN")
    book_visit(app, patient_id, course_id, sites["MAIN"][0], at(LA, MONDAY, 9))
    psychiatrist = _client(app, "psychiatrist")
    urls = ["/today?site=MAIN", "/today?site=ALL", "/schedule/week?site=MAIN"]
    urls += ["/schedule/week?site=ALL", "/schedule/?site=NYC", "/schedule/drivers?site=ALL"]
    urls += ["/schedule/maintenance?site=MAIN"]
    for url in urls:
        psychiatrist.get(url)
    before = {url: page_statements(app, psychiatrist, url) for url in urls}
    for n in range(6):
        code, zone = ("MAIN", LA) if n % 2 else ("NYC", NY)
        other_id, other_course = _patient(app, f"More{n}", code)
        chair = sites[code][n % 2]
        book_visit(
            app, other_id, other_course, chair, at(zone, MONDAY + timedelta(days=n // 2), 13)
        )
    after = {url: page_statements(app, psychiatrist, url) for url in urls}
    assert after == before


# --- one visit on its site's clock --------------------------------------------------------------


def test_the_visit_page_shows_its_sites_time(app, today_at_both):
    page = _client(app, "front_desk").get(f"/schedule/appointments/{today_at_both['NYC']}")
    heading = soup(page).find("h1").get_text(strip=True)
    assert heading.endswith("09:00–11:30")
    assert "Midtown (NYC)" in markup(page) and "America/New_York" in markup(page)
    values = form_values(page, f"/schedule/appointments/{today_at_both['NYC']}/move")
    assert values["move-start"] == "09:00"


def test_handout_and_ics_put_each_visit_on_its_sites_clock_across_dst(app, sites):
    """US daylight saving starts on Sunday 8 March 2026: a 09:00 visit stays 09:00 locally at
    each site on both sides of the change."""
    clock.freeze(at(LA, date(2026, 3, 2), 8))
    patient_id, course_id = _patient(app, "Traveller", "MAIN")
    before = book_visit(app, patient_id, course_id, sites["MAIN"][0], at(LA, date(2026, 3, 6), 9))
    after = book_visit(app, patient_id, course_id, sites["NYC"][0], at(NY, date(2026, 3, 10), 9))
    desk = _client(app, "front_desk")
    raw = desk.get(f"/schedule/patients/{patient_id}/visits.ics").get_data(as_text=True)
    assert "DTSTART;TZID=America/Los_Angeles:20260306T090000" in raw
    assert "DTSTART;TZID=America/New_York:20260310T090000" in raw
    calendar = Calendar.from_ical(raw)
    assert sorted(tz["tzid"] for tz in calendar.walk("VTIMEZONE")) == [LA.key, NY.key]
    events = list(calendar.walk("VEVENT"))
    assert "Midtown, 5 W 45th St" in str(events[1]["location"])
    with app.app_context():
        for event, visit_id in zip(events, (before, after), strict=True):
            assert event["dtstart"].dt == db.session.get(Appointment, visit_id).starts_at
    handout = desk.get(f"/schedule/patients/{patient_id}/handout")
    rows = [
        [td.get_text(" ", strip=True) for td in tr("td")]
        for tr in soup(handout).find("table").find("tbody")("tr")
    ]
    assert [row[:3] for row in rows] == [
        ["Fri 6 Mar 2026", "09:00", "Site MAIN"],
        ["Tue 10 Mar 2026", "09:00", "Midtown 5 W 45th St"],
    ]
    assert "America/Los_Angeles, America/New_York" in markup(handout)


def test_a_handout_over_two_sites_gives_each_sites_phone(app, sites):
    with app.app_context():
        db.session.add(ClinicSetting(key="clinic_phone", value="510-555-0100"))
        factories.site("MAIN", phone="213-555-0142", address_line1="1 Main St")
        factories.site("NYC", phone="212-555-0177")
        db.session.commit()
    clock.freeze(at(LA, date(2026, 3, 2), 8))
    patient_id, course_id = _patient(app, "Traveller", "MAIN")
    book_visit(app, patient_id, course_id, sites["MAIN"][0], at(LA, date(2026, 3, 6), 9))
    book_visit(app, patient_id, course_id, sites["NYC"][0], at(NY, date(2026, 3, 10), 9))
    desk = _client(app, "front_desk")
    handout = desk.get(f"/schedule/patients/{patient_id}/handout")
    block = soup(handout).select_one("address.handout-clinic").get_text(" ", strip=True)
    assert "Site MAIN, 1 Main St · Phone 213-555-0142" in block
    assert "Midtown, 5 W 45th St · Phone 212-555-0177" in block
    where = [
        tr("td")[2].get_text(" ", strip=True)
        for tr in soup(handout).find("table").find("tbody")("tr")
    ]
    assert where == [
        "Site MAIN 1 Main St Phone 213-555-0142",
        "Midtown 5 W 45th St Phone 212-555-0177",
    ]
    assert "510-555-0100" not in markup(handout)
    text = " ".join(pdf_pages(desk.get(f"/schedule/patients/{patient_id}/handout.pdf")))
    assert "212-555-0177" in text and "213-555-0142" in text


# --- booking per site ---------------------------------------------------------------------------


def _propose(app, patient_id, course_id, site_code=None):
    with app.app_context():
        desk = factories.user("front_desk")
        person = db.session.get(Patient, patient_id)
        course = db.session.get(TreatmentCourse, course_id)
        site = factories.site(site_code) if site_code else None
        first = MONDAY + timedelta(days=1)
        return booking.propose(desk, person, course, "induction", first, time(9), [], None, site)


def test_a_series_is_planned_at_the_usual_site_in_its_chairs_on_its_clock(app, sites):
    patient_id, course_id = _patient(app, "Newyorker", "NYC")
    proposal = _propose(app, patient_id, course_id)
    assert proposal.site.code == "NYC"
    assert {row.chair_id for row in proposal.rows} <= set(sites["NYC"])
    assert all(row.start == time(9) and not row.conflict for row in proposal.rows)
    with app.app_context():
        requests = [VisitRequest(r.day, r.start, r.chair_id) for r in proposal.rows]
        booked = booking.book_series(
            factories.user("front_desk"),
            db.session.get(Patient, patient_id),
            db.session.get(TreatmentCourse, course_id),
            "induction",
            requests,
        )
        db.session.commit()
        first = booked.visits[0]
        assert first.starts_at == at(NY, proposal.rows[0].day, 9)
        assert first.site.code == "NYC"


def test_the_desk_may_plan_a_series_at_another_site(app, sites):
    patient_id, course_id = _patient(app, "Visitor", "NYC")
    proposal = _propose(app, patient_id, course_id, "MAIN")
    assert {row.chair_id for row in proposal.rows} <= set(sites["MAIN"])
    # Through the page: the plan form offers the sites, the usual one chosen.
    desk = _client(app, "front_desk")
    plan = desk.get(f"/schedule/patients/{patient_id}/plan")
    chosen = soup(plan).find("select", id="site_id").find("option", selected=True)
    assert chosen.get_text(strip=True) == "Midtown (NYC)"


def test_a_chair_taken_at_one_site_suggests_a_free_chair_at_the_same_site(app, sites):
    other_id, other_course = _patient(app, "Holder", "NYC")
    day = MONDAY + timedelta(days=1)
    book_visit(app, other_id, other_course, sites["NYC"][0], at(NY, day, 9))
    patient_id, course_id = _patient(app, "Asker", "NYC")
    with app.app_context():
        course = db.session.get(TreatmentCourse, course_id)
        check = booking.check_series(
            db.session.get(Patient, patient_id),
            course,
            booking.VisitKind.INDUCTION,
            [VisitRequest(day, time(9), sites["NYC"][0])],
            150,
        )
    code, message = check.problems[0]
    assert code == "chair"
    assert "Nearest free: NY 2 at 09:00." in message


# --- the patient's usual site --------------------------------------------------------------------

PATIENT = {
    "mrn": "SITE-1",
    "first_name": "Uma",
    "last_name": "Usual",
    "date_of_birth": "1980-01-02",
    "sex": "female",
    "version_id": "0",
}


def test_the_patient_form_keeps_the_usual_site_and_refuses_a_closed_one(app, sites):
    desk = _client(app, "front_desk")
    form = desk.get("/patients/new")
    options = [
        o.get_text(strip=True) for o in soup(form).find("select", id="usual_site_id")("option")
    ]
    assert options == ["Not known yet", "Midtown (NYC)", "Site MAIN (MAIN)"]
    with app.app_context():
        nyc_id = factories.site("NYC").id
        closed = Site(name="Closed", code="OLD", timezone=LA.key, active=False)
        db.session.add(closed)
        db.session.commit()
        closed_id = closed.id
    refused = desk.post("/patients/new", data={**PATIENT, "usual_site_id": str(closed_id)})
    assert refused.status_code == 400
    assert field_error(refused, "usual_site_id")
    saved = desk.post("/patients/new", data={**PATIENT, "usual_site_id": str(nyc_id)})
    assert saved.status_code == 302
    with app.app_context():
        person = db.session.scalar(db.select(Patient).where(Patient.mrn == "SITE-1"))
        assert person.usual_site_id == nyc_id
        patient_id = person.id
    edit = desk.get(f"/patients/{patient_id}/edit")
    chosen = soup(edit).find("select", id="usual_site_id").find("option", selected=True)
    assert chosen["value"] == str(nyc_id)
    assert "Midtown (NYC)" in markup(desk.get(f"/patients/{patient_id}"))


def test_the_service_refuses_a_usual_site_that_is_not_open(app, sites):

    with app.app_context():
        closed = Site(name="Closed", code="OLD", timezone=LA.key, active=False)
        db.session.add(closed)
        db.session.flush()
        data = {**PATIENT, "date_of_birth": date(1980, 1, 2), "usual_site_id": closed.id}
        with pytest.raises(RuleViolation) as refused:
            create_patient(factories.user("front_desk"), data)
        assert refused.value.field == "usual_site_id"


# --- pages spanning sites ------------------------------------------------------------------------


def test_review_queue_and_timeline_show_each_session_at_its_sites_time(app, sites):
    """One patient treated in Los Angeles and then in New York, both at 09:00 local time."""

    patient_id, course_id = _patient(app, "Commuter", "MAIN")
    with app.app_context():
        person = db.session.get(Patient, patient_id)
        course = db.session.get(TreatmentCourse, course_id)
        for code, zone, days_back in (("MAIN", LA, 7), ("NYC", NY, 3)):
            started = at(zone, MONDAY - timedelta(days=days_back), 9)
            treatment = add_session(person, course, started=started)
            at_site(treatment, db.session.get(Chair, sites[code][0]).site)
        db.session.commit()
    psychiatrist = _client(app, "psychiatrist")
    for url in ("/review", f"/patients/{patient_id}/timeline"):
        page = psychiatrist.get(url)
        assert page.status_code == 200, url
        assert soup(page).find(class_="zones-note"), url
        table = soup(page).find("table", class_=["queue-table", "timeline-table"])
        # The session's date and time: the timeline's second column, with the site's code; the
        # queue (all sites) names the site in its own column before it.
        column = 2 if url == "/review" else 1
        rows = table.tbody("tr")
        times = [tr("td")[column].get_text(" ", strip=True) for tr in rows]
        assert all(" 09:00" in cell for cell in times), (url, times)
        where = [" ".join(tr("td")[i].get_text(" ") for i in (1, column)) for tr in rows]
        assert any("NYC" in cell for cell in where) and any("MAIN" in cell for cell in where)


def test_the_session_page_and_its_charted_times_are_on_the_sites_clock(app, sites):
    """Monday 08:00 in Los Angeles is 11:00 in New York: a New York session checked in then
    shows New York times, and a reading charted "at 11:20" there is 11:20 New York time."""

    patient_id, course_id = _patient(app, "Charted", "NYC")
    start = at(NY, MONDAY, 10, 30)
    visit_id = book_visit(app, patient_id, course_id, sites["NYC"][0], start)
    with app.app_context():
        treatment = services.start_session(
            factories.user("psychiatrist"),
            db.session.get(Patient, patient_id),
            db.session.get(TreatmentCourse, course_id),
            db.session.get(Appointment, visit_id),
        )
        db.session.commit()
        sid = treatment.id
    nurse = _client(app, "nycnurse")
    early = {"taken_at": "10:50", "systolic": "122", "diastolic": "78", "heart_rate": "70"}
    refused = nurse.post(f"/sessions/{sid}/vitals", data={**early, "spo2": "98"})
    assert field_error(refused, "taken_at") == "This time is before check-in at 11:00."
    clock.advance(timedelta(minutes=30))
    reading = {"taken_at": "11:20", "systolic": "122", "diastolic": "78"}
    saved = nurse.post(
        f"/sessions/{sid}/vitals", data={**reading, "heart_rate": "70", "spo2": "98"}
    )
    assert saved.status_code == 302
    with app.app_context():
        taken = db.session.scalar(db.select(VitalsReading.taken_at))
        assert taken == at(NY, MONDAY, 11, 20)
    shown = soup(nurse.get(f"/sessions/{sid}")).find("main").get_text(" ")
    assert "done 11:20" in shown and "08:20" not in shown  # New York's time, not LA's
    review = soup(_client(app, "psychiatrist").get(f"/review/sessions/{sid}")).find("main")
    assert "11:20" in review.get_text(" ") and "08:20" not in review.get_text(" ")


def test_only_the_visits_sites_staff_check_in_and_chart_its_session(app, sites):
    """The Los Angeles nurse may read the patient's record (one chart across the group) but
    not check in, open or chart a New York visit's session."""
    patient_id, course_id = _patient(app, "Elsewhere", "NYC")
    visit_id = book_visit(app, patient_id, course_id, sites["NYC"][0], at(NY, MONDAY, 10, 30))
    start = {"patient_id": patient_id, "course_id": course_id, "appointment_id": visit_id}
    nurse = _client(app, "nurse")
    assert nurse.post("/sessions/start", data=start).status_code == 403
    assert nurse.get(f"/patients/{patient_id}").status_code == 200
    checked_in = _client(app, "nycnurse").post("/sessions/start", data=start)
    assert checked_in.status_code == 302
    sid = int(checked_in.headers["Location"].rsplit("/", 1)[1])
    reading = {"taken_at": "11:00", "systolic": "122", "diastolic": "78", "heart_rate": "70"}
    assert nurse.get(f"/sessions/{sid}").status_code == 403
    assert nurse.post(f"/sessions/{sid}/vitals", data={**reading, "spo2": "98"}).status_code == 403
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(VitalsReading.id))) == 0
    assert _client(app, "nycnurse").get(f"/sessions/{sid}").status_code == 200
    assert _client(app, "psychiatrist").get(f"/review/sessions/{sid}").status_code == 200


def test_the_patients_schedule_names_each_visits_site_when_there_are_several(app, sites):
    patient_id, course_id = _patient(app, "Twosites", "MAIN")
    book_visit(app, patient_id, course_id, sites["MAIN"][0], at(LA, MONDAY + timedelta(days=1), 9))
    desk = _client(app, "front_desk")
    assert not soup(desk.get(f"/schedule/patients/{patient_id}")).find(class_="zones-note")
    book_visit(app, patient_id, course_id, sites["NYC"][0], at(NY, MONDAY + timedelta(days=3), 9))
    page = desk.get(f"/schedule/patients/{patient_id}")
    assert soup(page).find(class_="zones-note")
    rows = [
        [td.get_text(" ", strip=True) for td in tr("td")] for tr in soup(page).table.tbody("tr")
    ]
    assert [(row[1], row[2]) for row in rows] == [
        ("09:00–11:30", "LA 1 · MAIN"),
        ("09:00–11:30", "NY 1 · NYC"),
    ]


def test_moving_a_visit_reads_the_new_time_on_its_sites_clock(app, sites):
    patient_id, course_id = _patient(app, "Mover", "NYC")
    day = MONDAY + timedelta(days=1)
    visit_id = book_visit(app, patient_id, course_id, sites["NYC"][0], at(NY, day, 9))
    with app.app_context():
        visit = db.session.get(Appointment, visit_id)
        changes.move(factories.user("front_desk"), visit, day, time(10), None)
        db.session.commit()
        assert visit.starts_at == at(NY, day, 10)


def test_the_plan_page_proposes_at_the_site_picked(app, sites):
    patient_id, course_id = _patient(app, "Picker", "NYC")
    desk = _client(app, "front_desk")
    with app.app_context():
        main_id = str(factories.site("MAIN").id)
    page = propose(desk, patient_id, course_id, site_id=main_id)
    assert page.status_code == 200
    book = soup(page).find("form", action=f"/schedule/patients/{patient_id}/book")
    chosen = {s.find("option", selected=True).get_text(strip=True) for s in book("select")}
    assert chosen and all(name.endswith("· MAIN") for name in chosen), chosen
    assert book.find("input", attrs={"name": "book-plan_site"})["value"] == main_id


# --- a series over two sites --------------------------------------------------------------------

ALTERNATES = "Visits 3 and 5 are at Midtown; the others at Westside LA."


def _name_main(app) -> None:
    with app.app_context():
        factories.site("MAIN", name="Westside LA")
        db.session.commit()


def test_a_series_planned_over_two_sites_is_warned_then_booked(app, sites):
    patient_id, course_id = _patient(app, "Traveller", "MAIN")
    _name_main(app)
    desk = _client(app, "front_desk")
    page = propose(desk, patient_id, course_id)
    assert page.status_code == 200
    assert (
        "Midtown"
        not in soup(page).find("form", action=f"/schedule/patients/{patient_id}/book").get_text()
    )
    # Visits 3 and 5 at Midtown at 09:00 New York time: each visit's clinic hours are read on
    # its own site's clock (09:00 in New York is 06:00 in Los Angeles, before the LA opening).
    moved = {}
    for index in (2, 4):
        moved[f"book-visits-{index}-chair_id"] = str(sites["NYC"][index // 4])
        moved[f"book-visits-{index}-start"] = "09:00"
    checked = book_from(desk, patient_id, page, action="check", **moved)
    assert checked.status_code == 200
    note = soup(checked).find("div", class_="alert-warning", role="note")
    assert ALTERNATES in [li.get_text(strip=True) for li in note("li")]
    booked = book_from(desk, patient_id, page, **moved)
    assert booked.status_code == 302
    shown = desk.get(booked.headers["Location"])
    assert ("warning", ALTERNATES) in flashes(shown)
    with app.app_context():
        rows = db.session.scalars(
            select(Appointment)
            .where(Appointment.patient_id == patient_id)
            .order_by(Appointment.sequence_no)
        ).all()
        assert [r.site.code for r in rows][:6] == ["MAIN", "MAIN", "NYC", "MAIN", "NYC", "MAIN"]
        assert rows[2].starts_at == at(NY, rows[2].starts_at.astimezone(NY).date(), 9)


def test_moving_one_visit_of_a_series_to_another_sites_chair_is_warned(app, sites):
    patient_id, course_id = _patient(app, "Shifter", "MAIN")
    _name_main(app)
    ids = book_series(app, patient_id, course_id)
    with app.app_context():
        second = db.session.get(Appointment, ids[1])
        day = second.starts_at.astimezone(LA).date()
        moved = changes.move(factories.user("front_desk"), second, day, time(12), sites["NYC"][0])
        db.session.commit()
        assert moved.warnings == ["Visit 2 is at Midtown; the others at Westside LA."]
        # Back at its own site: nothing to warn.
        back = changes.move(factories.user("front_desk"), second, day, time(9), sites["MAIN"][1])
        assert back.warnings == []


# --- the All-sites day calendar -----------------------------------------------------------------


def _day_sections(response) -> dict[str, dict[str, list[str]]]:
    """Per site section of the day grid (its heading): the names of the patients whose visit
    starts in each time row."""
    sections = {}
    for section in soup(response).select("section.day-site"):
        heading = section.find(["h2", "h3"]).get_text(" ", strip=True)
        rows: dict[str, list[str]] = {}
        for tr in section.find("table").find("tbody")("tr"):
            names = [c.get_text(" ", strip=True) for c in tr.select(".visit-patient")]
            if names:
                rows[tr.find("th").get_text(strip=True)] = names
        sections[heading] = rows
    return sections


def test_the_all_sites_day_has_a_section_per_site_each_on_its_own_clock(app, today_at_both):
    psychiatrist = _client(app, "psychiatrist")
    page = psychiatrist.get(f"/schedule/?site=ALL&date={MONDAY.isoformat()}")
    assert page.status_code == 200
    sections = _day_sections(page)
    headings = list(sections)
    assert len(headings) == 2
    midtown, main = headings  # by site name: "Midtown", then "Site MAIN"
    assert midtown.startswith("Midtown") and "America/New_York" in midtown and "EDT" in midtown
    assert main.startswith("Site MAIN") and "America/Los_Angeles" in main and "PDT" in main
    assert [list(v) for v in sections.values()] == [["09:00"], ["09:00"]]
    assert "Eastside" in sections[midtown]["09:00"][0]
    assert "Westside" in sections[main]["09:00"][0]
    # Each section's columns are its own site's chairs.
    columns = [
        [th.get_text(strip=True) for th in s.find("thead")("th")]
        for s in soup(page).select("section.day-site")
    ]
    assert columns == [["Time", "NY 1", "NY 2"], ["Time", "LA 1", "LA 2"]]
    # One site: one grid, no site heading.
    one = psychiatrist.get(f"/schedule/?site=NYC&date={MONDAY.isoformat()}")
    assert len(soup(one).select("section.day-site")) == 1
    assert soup(one).select_one("section.day-site h2") is None


def test_the_all_sites_day_costs_the_same_statements_with_more_visits(app, sites):
    psychiatrist = _client(app, "psychiatrist")
    url = f"/schedule/?site=ALL&date={MONDAY.isoformat()}"
    psychiatrist.get(url)
    before = page_statements(app, psychiatrist, url)
    for n in range(4):
        code, zone = ("MAIN", LA) if n % 2 else ("NYC", NY)
        patient_id, course_id = _patient(app, f"Day{n}", code)
        book_visit(app, patient_id, course_id, sites[code][n // 2], at(zone, MONDAY, 10))
    consult_id, _ = _patient(app, "Walkin", "NYC")
    book_visit(app, consult_id, None, None, at(NY, MONDAY, 14), 30, visit_kind="consult")
    page = psychiatrist.get(url)
    assert page_statements(app, psychiatrist, url) == before
    sections = _day_sections(page)
    midtown = next(v for k, v in sections.items() if k.startswith("Midtown"))
    # The consult without a chair sits in its patient's usual site's section, on its clock.
    assert any("Walkin" in name for name in midtown["14:00"])


def test_the_timelines_peak_systolic_table_and_chart_use_each_sessions_site_clock(app, sites):
    """A New York session dosed at 00:30 New York time on Wednesday 1 April is Tuesday evening
    in Los Angeles (the clinic's zone): the peak table and chart say Wednesday."""
    patient_id, course_id = _patient(app, "Latenight", "NYC")
    started = at(NY, date(2026, 4, 1), 0, 15)
    with app.app_context():
        person = db.session.get(Patient, patient_id)
        course = db.session.get(TreatmentCourse, course_id)
        treatment = add_session(person, course, started=started)
        at_site(treatment, db.session.get(Chair, sites["NYC"][0]).site)
        db.session.commit()
    psychiatrist = _client(app, "psychiatrist")
    url = f"/patients/{patient_id}/timeline"
    page = soup(psychiatrist.get(url))
    table = page.find("caption", string="Peak and pre-dose systolic per session").parent
    assert [td.get_text(strip=True) for td in table.tbody.tr("td")][1] == "1 Apr 2026"
    chart = page.find("svg", id=f"peak-chart-{course_id}")
    desc = chart.find("desc").get_text(" ", strip=True)
    assert "from 1 Apr 2026 to 1 Apr 2026" in desc and "31 Mar" not in desc
    labels = " ".join(t.get_text(" ", strip=True) for t in chart.find_all("title"))
    assert "1 Apr 2026: peak" in labels and "31 Mar 2026" not in labels
    # The same statements as a timeline whose session is in the clinic's zone.
    with app.app_context():
        treatment = db.session.get(Appointment, treatment.appointment.id)
        treatment.chair_id = sites["MAIN"][0]
        db.session.commit()
    main = page_statements(app, psychiatrist, url)
    with app.app_context():
        db.session.get(Appointment, treatment.id).chair_id = sites["NYC"][0]
        db.session.commit()
    assert page_statements(app, psychiatrist, url) == main
