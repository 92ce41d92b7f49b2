"""The psychiatrist's queue: signed sessions, flagged first with the reason, and same-day alerts
on top until acknowledged."""

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from clinic_app import clock
from clinic_app.auth.services import create_user
from clinic_app.extensions import db
from clinic_app.models import AuditEvent, ClinicalAlert, Patient, TreatmentSession
from tests import factories
from tests.helpers import (
    actions_by,
    audit_rows,
    count,
    count_statements,
    field_error,
    page_statements,
    soup,
    text,
)
from tests.review import builders


def _queue_order(page: str, names: list[str]) -> list[str]:
    """The given names in the order they appear in the co-signature table."""
    table = page.split("Awaiting co-signature", 1)[1]
    return sorted(names, key=lambda name: table.index(name))


def _flagged_clinic(app) -> dict[str, int]:
    """One signed session per flag kind (a patient each), plus sessions not awaiting review."""
    ids = {}
    with app.app_context():

        def session(last, **kw):
            patient, course = builders.patient_with_course(last_name=last)
            treatment = builders.add_session(patient, course, **kw)
            ids[last] = treatment.id
            return patient, treatment

        session("Calm", days_ago=9)
        session(
            "Notify", days_ago=2, after=((40, 166, 96, 97), (90, 140, 86, 98), (125, 128, 80, 98))
        )
        session(
            "Urgent", days_ago=3, after=((40, 184, 104, 97), (90, 150, 90, 98), (125, 130, 82, 98))
        )
        session(
            "Oxygen", days_ago=4, after=((40, 134, 84, 90), (90, 128, 80, 97), (125, 124, 79, 98))
        )
        session("Override", days_ago=5, pre=(146, 88), override=True)
        session("Late", days_ago=6, discharge_minutes=200)
        session(
            "Rise",
            days_ago=7,
            pre=(110, 70),
            after=((40, 152, 84, 97), (90, 128, 80, 98), (125, 118, 76, 98)),
        )
        patient, treatment = session(
            "Serious", days_ago=8, events=[("respiratory_depression", "severe", True)]
        )
        builders.add_alert(patient, "serious_ae", treatment, kind="respiratory_depression")
        patient, treatment = session("Selfharm", days_ago=1, phq9=builders.phq9_items(14, 2))
        builders.add_alert(patient, "phq9_item9", treatment, item9=2, total=14)
        session("Zcosigned", days_ago=10, status="cosigned", after=((40, 190, 112, 88),))
        session("Zunsigned", days_ago=0.2, status="discharged")
        db.session.commit()
    return ids


def test_queue_lists_signed_sessions_flagged_first_each_with_its_reason(app, as_role, staff):
    _flagged_clinic(app)
    response = as_role("psychiatrist").get("/review")
    assert response.status_code == 200
    page = text(response)
    # Only nurse-signed sessions wait for co-signature.
    assert "Zcosigned" not in page
    assert "Zunsigned" not in page
    # Why each one is flagged, in the rules' own words.
    for reason in (
        "BP reached 166/96 40 min after the dose, at or above the notify-prescriber line 160/100.",
        "BP reached 184/104 40 min after the dose, at or above the urgent line 180/110.",
        "SpO₂ fell to 90 % 40 min after the dose, below 92 %.",
        "Override used: pre-dose BP hold.",
        "Discharged 80 min after the earliest discharge time (grace 30 min)",
        "BP rose +42/+14 over pre-dose 110/70 to 152/84 40 min after the dose",
        "Serious adverse event: Respiratory depression / desaturation.",
        "PHQ-9 item 9 (thoughts of self-harm) scored 2: same-day follow-up needed.",
    ):
        assert reason in page, reason
    order = _queue_order(
        page,
        ["Calm", "Notify", "Urgent", "Oxygen", "Override", "Late", "Rise", "Serious", "Selfharm"],
    )
    # Open same-day alerts first (oldest first), then urgent, warning, info, unflagged.
    assert order[:2] == ["Serious", "Selfharm"]
    assert set(order[2:4]) == {"Urgent", "Oxygen"}
    assert order[2:4] == ["Oxygen", "Urgent"]  # both urgent: the longer-waiting first
    assert order[4:6] == ["Override", "Notify"]
    assert order[6:8] == ["Rise", "Late"]
    assert order[8] == "Calm"
    assert "No flags" in page


def test_a_long_queue_pages_in_queue_order(app, as_role, staff, monkeypatch):
    _flagged_clinic(app)
    monkeypatch.setattr("clinic_app.review.queue.QUEUE_PAGE_SIZE", 4)
    psychiatrist = as_role("psychiatrist")
    names = [
        "Calm",
        "Notify",
        "Urgent",
        "Oxygen",
        "Override",
        "Late",
        "Rise",
        "Serious",
        "Selfharm",
    ]
    expected = ["Serious", "Selfharm", "Oxygen", "Urgent", "Override", "Notify", "Rise", "Late"]

    pages = [text(psychiatrist.get(f"/review?page={n}")) for n in (1, 2, 3)]

    shown = [[n for n in names if n in page.split("Awaiting co-signature", 1)[1]] for page in pages]
    assert [_queue_order(pages[i], shown[i]) for i in (0, 1)] == [expected[:4], expected[4:]]
    assert shown[2] == ["Calm"]
    assert "Sessions 1–4 of 9" in pages[0]
    assert "Sessions 9–9 of 9" in pages[2]
    first = psychiatrist.get("/review").get_data(as_text=True)
    assert 'href="/review?page=2&amp;site=MAIN"' in first  # the pages keep the site
    # Out-of-range or malformed page numbers show the nearest page.
    assert "Sessions 9–9 of 9" in text(psychiatrist.get("/review?page=99"))
    assert "Sessions 1–4 of 9" in text(psychiatrist.get("/review?page=x"))


def test_course_status_shows_in_the_queue(app, as_role, staff):
    with app.app_context():
        patient, course = builders.patient_with_course(last_name="Responder")
        for day, total in ((20, 20), (16, 16), (12, 12), (8, 9)):
            builders.add_session(patient, course, days_ago=day, phq9=builders.phq9_items(total))
        db.session.commit()
    page = text(as_role("psychiatrist").get("/review"))
    assert "In induction" in page  # 4 of 8 esketamine induction doses
    assert "PHQ-9 baseline 20 → latest 9 (-55 %)" in page


def test_open_alerts_stay_on_top_until_acknowledged(app, as_role, staff):
    with app.app_context():
        patient, course = builders.patient_with_course(last_name="Alerted")
        treatment = builders.add_session(
            patient, course, days_ago=1, phq9=builders.phq9_items(12, 1)
        )
        alert = builders.add_alert(patient, "phq9_item9", treatment, item9=1, total=12)
        other, other_course = builders.patient_with_course(last_name="Urgentbp")
        builders.add_session(
            other, other_course, days_ago=3, after=((40, 186, 100, 97), (125, 128, 80, 98))
        )
        missed, _ = builders.patient_with_course(last_name="Missing")
        missed_alert = builders.add_alert(missed, "missed_induction", missed=2)
        db.session.commit()
        alert_id, missed_id = alert.id, missed_alert.id
    psychiatrist = as_role("psychiatrist")
    page = text(psychiatrist.get("/review"))
    alerts_part = page.split("Awaiting co-signature", 1)[0]
    assert "PHQ-9 item 9 above 0: Alex Alerted" in alerts_part
    assert "Item 9 (thoughts of self-harm) answered 1; PHQ-9 total 12." in alerts_part
    assert "Missed induction visits: Alex Missing" in alerts_part
    assert "2 induction visits missed in a row" in alerts_part
    assert _queue_order(page, ["Alerted", "Urgentbp"]) == ["Alerted", "Urgentbp"]

    response = psychiatrist.post(
        f"/review/alerts/{alert_id}/acknowledge",
        data={f"alert{alert_id}-note": "Called the patient; safety plan reviewed."},
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/review")
    with app.app_context():
        row = db.session.get(ClinicalAlert, alert_id)
        assert row.acknowledged_at is not None
        assert row.acknowledged_by_id == staff["psychiatrist"]
        assert row.acknowledge_note == "Called the patient; safety plan reviewed."
        assert db.session.get(ClinicalAlert, missed_id).acknowledged_at is None
    [event] = audit_rows(app, "alert.acknowledge")
    assert event.user_id == staff["psychiatrist"]
    assert event.entity_id == alert_id
    assert event.detail == {"kind": "phq9_item9"}  # no free text in the audit trail

    page = text(psychiatrist.get("/review"))
    alerts_part = page.split("Awaiting co-signature", 1)[0]
    assert "Alex Alerted" not in alerts_part
    assert "Alex Missing" in alerts_part
    # Acknowledged: the session keeps its item-9 flag but no longer outranks an urgent BP.
    assert _queue_order(page, ["Alerted", "Urgentbp"]) == ["Urgentbp", "Alerted"]


def _one_alert(app) -> int:
    with app.app_context():
        patient, _ = builders.patient_with_course(last_name="Alerted")
        alert = builders.add_alert(patient, "phq9_item9", item9=3, total=20)
        db.session.commit()
        return alert.id


@pytest.mark.parametrize("note", ["", "   ", "x" * 501])
def test_acknowledging_needs_a_short_note(app, as_role, staff, note):
    alert_id = _one_alert(app)
    response = as_role("psychiatrist").post(
        f"/review/alerts/{alert_id}/acknowledge", data={f"alert{alert_id}-note": note}
    )
    assert response.status_code == 400
    assert field_error(response, f"alert{alert_id}-note")
    with app.app_context():
        assert db.session.get(ClinicalAlert, alert_id).acknowledged_at is None
    assert audit_rows(app, "alert.acknowledge") == []


def test_an_alert_is_acknowledged_once(app, as_role, staff):
    alert_id = _one_alert(app)
    psychiatrist = as_role("psychiatrist")
    data = {f"alert{alert_id}-note": "Seen in clinic."}
    assert psychiatrist.post(f"/review/alerts/{alert_id}/acknowledge", data=data).status_code == 302
    again = psychiatrist.post(
        f"/review/alerts/{alert_id}/acknowledge", data={f"alert{alert_id}-note": "Again."}
    )
    assert again.status_code == 400
    assert "already acknowledged" in text(again)
    with app.app_context():
        assert db.session.get(ClinicalAlert, alert_id).acknowledge_note == "Seen in clinic."
    assert len(audit_rows(app, "alert.acknowledge")) == 1


@pytest.mark.parametrize("role", ["nurse", "front_desk", "admin"])
def test_only_the_psychiatrist_sees_the_queue_and_acknowledges(app, as_role, staff, role):
    alert_id = _one_alert(app)
    client = as_role(role)
    assert client.get("/review").status_code == 403
    response = client.post(
        f"/review/alerts/{alert_id}/acknowledge", data={f"alert{alert_id}-note": "Done."}
    )
    assert response.status_code == 403
    with app.app_context():
        assert db.session.get(ClinicalAlert, alert_id).acknowledged_at is None
    assert actions_by(app, staff[role]) == set()
    with app.app_context():
        denied = db.session.scalars(
            select(AuditEvent.outcome).where(
                AuditEvent.user_id == staff[role], AuditEvent.action == "access.denied"
            )
        ).all()
    assert denied == ["denied", "denied"]


def test_the_psychiatrist_starts_on_the_queue(app, staff):
    client = app.test_client()
    response = client.post(
        "/login", data={"username": "psychiatrist", "password": "correct-horse-battery"}
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/review")
    page = client.get("/review")
    assert b'href="/review"' in page.data  # the nav link
    assert 'aria-current="page"' in page.get_data(as_text=True)
    nurse = app.test_client()
    nurse.post("/login", data={"username": "nurse", "password": "correct-horse-battery"})
    assert b'href="/review"' not in nurse.get("/today").data


def test_queue_statements_do_not_grow_with_the_queue(app, as_role, staff):
    with app.app_context():
        for n in range(3):
            patient, course = builders.patient_with_course(last_name=f"Q{n}")
            builders.add_session(patient, course, days_ago=n + 1, phq9=builders.phq9_items(10))
        db.session.commit()
    psychiatrist = as_role("psychiatrist")
    psychiatrist.get("/review")
    with count_statements(app) as few:
        assert psychiatrist.get("/review").status_code == 200
    with app.app_context():
        for n in range(3, 30):
            patient, course = builders.patient_with_course(last_name=f"Q{n}")
            builders.add_session(
                patient,
                course,
                days_ago=n + 1,
                phq9=builders.phq9_items(10),
                events=[("nausea", "mild", False)],
            )
        db.session.commit()
    with count_statements(app) as many:
        assert psychiatrist.get("/review").status_code == 200
    assert len(many) == len(few)
    assert count(app, TreatmentSession) == 30


def test_queue_and_review_page_name_the_nurse_who_signed(app, as_role, staff):
    with app.app_context():
        create_user(None, "night", "Nia Night", "nurse", "correct-horse-battery", "RN")
        patient, course = builders.patient_with_course(last_name="Handover")
        treatment = builders.add_session(
            patient, course, days_ago=1, events=[("nausea", "mild", False)]
        )
        treatment.signed_by_id = factories.user("night").id
        db.session.commit()
        sid = treatment.id
    psychiatrist = as_role("psychiatrist")
    queue = text(psychiatrist.get("/review"))
    row = queue.split("Handover", 1)[1].split("Review", 1)[0]
    assert "Nia Night, RN" in row
    assert "Test nurse" not in row
    review = text(psychiatrist.get(f"/review/sessions/{sid}"))
    assert "Signed by Nia Night, RN" in review
    assert "Checked in by Test nurse, RN" in review
    # Every reading, scale and event names who recorded it.
    assert review.count("Test nurse, RN") >= 3
    assert "Recorded by Test nurse, RN" in review
    assert "resolved" in review and "by Test nurse, RN" in review


def test_leaving_with_another_adult_is_flagged_with_their_phone(app, as_role, staff):
    with app.app_context():
        patient, course = builders.patient_with_course(last_name="Escort")
        treatment = builders.add_session(
            patient, course, days_ago=1, escort=("Jo Park", "sister", "555-0111")
        )
        db.session.commit()
        sid = treatment.id
    psychiatrist = as_role("psychiatrist")
    flag = "Left with Jo Park (sister, 555-0111), not the driver confirmed before the dose."
    assert flag in text(psychiatrist.get("/review"))
    assert flag in text(psychiatrist.get(f"/review/sessions/{sid}"))


# --- sites ------------------------------------------------------------------------------------


def _queue_at_two_sites(app, per_site: int = 1, days_back: int = 1) -> None:
    """Signed sessions at MAIN (Los Angeles) and NYC (New York), and a walk-in of a patient
    with no usual site; the psychiatrist works at both sites."""
    with app.app_context():
        main = factories.site()
        nyc = factories.site("NYC", "America/New_York", name="Midtown", state="NY")
        psychiatrist = factories.user("psychiatrist")
        if nyc not in psychiatrist.sites:
            psychiatrist.sites.append(nyc)
        for site in (main, nyc):
            for n in range(per_site):
                patient, course = builders.patient_with_course(last_name=f"At{site.code}{n}")
                treatment = builders.add_session(patient, course, days_ago=n + days_back)
                builders.at_site(treatment, site)
        walk_in = select(TreatmentSession.id).where(TreatmentSession.appointment_id.is_(None))
        if db.session.scalar(walk_in) is None:
            patient, course = builders.patient_with_course(last_name="Walkin")
            builders.add_session(patient, course, days_ago=1)
        db.session.commit()


def _queue_table(response):
    table = soup(response).find("table", class_="queue-table")
    heads = [th.get_text(strip=True) for th in table.thead("th")]
    rows = [[td.get_text(" ", strip=True) for td in tr("td")] for tr in table.tbody("tr")]
    return heads, rows


def test_all_sites_names_each_sessions_site(app, as_role, staff):
    _queue_at_two_sites(app)
    heads, rows = _queue_table(as_role("psychiatrist").get("/review?site=ALL"))
    assert heads[:3] == ["Patient", "Site", "Session"]
    sites = {row[0].split(" MRN")[0]: row[1] for row in rows}
    assert sites == {"Alex AtMAIN0": "MAIN", "Alex AtNYC0": "NYC", "Alex Walkin": "—"}


def test_one_site_shows_its_sessions_without_a_site_column(app, as_role, staff):
    _queue_at_two_sites(app)
    psychiatrist = as_role("psychiatrist")
    heads, rows = _queue_table(psychiatrist.get("/review?site=NYC"))
    assert "Site" not in heads
    # Its own sessions, and the walk-in of a patient with no usual site (shown everywhere).
    assert sorted(row[0].split(" MRN")[0] for row in rows) == ["Alex AtNYC0", "Alex Walkin"]
    _, rows = _queue_table(psychiatrist.get("/review?site=MAIN"))
    assert sorted(row[0].split(" MRN")[0] for row in rows) == ["Alex AtMAIN0", "Alex Walkin"]


def test_all_sites_statements_do_not_grow_with_the_queue(app, as_role, staff):
    _queue_at_two_sites(app)
    psychiatrist = as_role("psychiatrist")
    few = page_statements(app, psychiatrist, "/review?site=ALL")
    _queue_at_two_sites(app, per_site=4, days_back=10)
    assert page_statements(app, psychiatrist, "/review?site=ALL") == few


def test_alerts_name_their_site_and_show_its_clock_whatever_site_is_chosen(app, as_role, staff):
    _queue_at_two_sites(app)
    with app.app_context():
        clock.freeze(datetime(2026, 12, 3, 21, 39, tzinfo=UTC))  # 13:39 in LA, 16:39 in New York
        treatment = db.session.scalar(
            select(TreatmentSession)
            .join(TreatmentSession.patient)
            .where(Patient.last_name == "AtMAIN0")
        )
        builders.add_alert(treatment.patient, "serious_ae", treatment, kind="vomiting")
        db.session.commit()
        clock.reset()
    card = soup(as_role("psychiatrist").get("/review?site=NYC")).select_one(".alert-card")
    assert card is not None  # an alert reaches the psychiatrist from any site
    heading = card.select_one(".text-body-secondary").get_text(" ", strip=True)
    assert heading.startswith("MRN") and " · MAIN · " in heading
    assert "raised 3 Dec 2026 13:39 MAIN time" in heading
