"""The psychiatrist's review in real Chromium: work the queue, co-sign a flagged session,
acknowledge an item-9 alert, read a patient's timeline with its charts, change a setting."""

import re

from clinic_app.extensions import db
from clinic_app.models import ClinicalAlert, ClinicSetting, TreatmentSession
from tests import factories
from tests.e2e.browser import assert_accessible, sign_in
from tests.helpers import PASSWORD
from tests.review import builders

NOTE = "Reviewed the 40-minute BP rise; settled without treatment. Agree with discharge."


def _clinic(app) -> dict[str, int]:
    with app.app_context():
        for role in ("nurse", "psychiatrist"):
            factories.make_user(role, password=PASSWORD)
        fiona, course = builders.patient_with_course(first_name="Fiona", last_name="Flagged")
        for n, total in enumerate((21, 18, 15, 13, 12, 10, 9, 8)):
            builders.add_session(
                fiona,
                course,
                days_ago=30 - 3 * n,
                phq9=builders.phq9_items(total),
                gad7=[2, 2, 1, 1, 1, 1, 1],
                moaas=4,
                cadss=[1, 1, 0, 0, 0, 0],
                status="cosigned",
            )
        flagged = builders.add_session(
            fiona,
            course,
            days_ago=1,
            after=((40, 168, 98, 96), (90, 146, 88, 97), (125, 130, 82, 98)),
            phq9=builders.phq9_items(7),
            moaas=2,
            cadss=[2, 2, 1, 1, 0, 0],
            events=[("hypertension", "moderate", False)],
        )
        carl, carl_course = builders.patient_with_course(first_name="Carl", last_name="Calm")
        builders.add_session(carl, carl_course, days_ago=3)
        ivy, ivy_course = builders.patient_with_course(first_name="Ivy", last_name="Itemnine")
        ivy_session = builders.add_session(
            ivy, ivy_course, days_ago=0.3, phq9=builders.phq9_items(16, 2)
        )
        alert = builders.add_alert(ivy, "phq9_item9", ivy_session, item9=2, total=16)
        db.session.commit()
        return {
            "fiona": fiona.id,
            "flagged": flagged.id,
            "alert": alert.id,
            "course": course.id,
            "ivy_session": ivy_session.id,
        }


def test_psychiatrist_works_the_review_queue(live_app, page, shots):
    app, base = live_app
    ids = _clinic(app)
    sign_in(page, base, "psychiatrist", accessible=True)
    page.wait_for_url(base + "/review")

    # The queue: the open item-9 alert on top, then sessions with the flagged one first.
    assert page.locator("#alerts-h").inner_text().startswith("Alerts needing action today")
    alert_card = page.locator(f"#alert-{ids['alert']}")
    assert "PHQ-9 item 9 above 0: Ivy Itemnine" in alert_card.inner_text()
    assert "answered 2" in alert_card.inner_text()
    rows = page.locator("table.queue-table tbody tr")
    assert rows.count() == 3
    assert "Ivy Itemnine" in rows.nth(0).inner_text()  # pinned by its open alert
    assert "Fiona Flagged" in rows.nth(1).inner_text()
    assert "BP reached 168/98 40 min after the dose" in rows.nth(1).inner_text()
    assert "Carl Calm" in rows.nth(2).inner_text() and "No flags" in rows.nth(2).inner_text()
    assert_accessible(page)
    shots("review-queue")

    # Review and co-sign the flagged session.
    rows.nth(1).get_by_role("link", name=re.compile("^Review")).click()
    page.wait_for_url(f"{base}/review/sessions/{ids['flagged']}")
    assert page.locator("svg#bp-chart[role=img]").is_visible()
    assert "Why this session is flagged" in page.content()
    assert_accessible(page)
    shots("review-session")
    page.get_by_label("Attestation note").fill(NOTE)
    page.get_by_label("Your password").fill("wrong-password")
    page.get_by_role("button", name="Co-sign session").click()
    page.wait_for_load_state()
    assert "The password is not correct." in page.locator("#password-error").inner_text()
    assert page.get_by_label("Attestation note").input_value() == NOTE
    assert_accessible(page)
    shots("cosign-wrong-password")
    page.get_by_label("Your password").fill(PASSWORD)
    page.get_by_role("button", name="Co-sign session").click()
    page.wait_for_url(base + "/review")
    assert "Session co-signed." in page.locator(".flash-stack").inner_text()
    assert page.locator("table.queue-table tbody tr").count() == 2
    assert "Fiona Flagged" not in page.locator("table.queue-table").inner_text()

    # Acknowledge the item-9 alert with a note.
    card = page.locator(f"#alert-{ids['alert']}")
    card.get_by_label("Action taken").fill("Called Ivy: no plan or intent; safety plan reviewed.")
    card.get_by_role("button", name=re.compile("^Acknowledge")).click()
    page.wait_for_url(base + "/review")
    assert "alert acknowledged" in page.locator(".flash-stack").inner_text()
    assert "No open alerts." in page.content()
    assert_accessible(page)
    shots("alert-acknowledged")

    # The timeline, from the patient record: charts with their tables, co-signature shown.
    page.goto(f"{base}/patients/{ids['fiona']}")
    page.get_by_role("link", name="Timeline").click()
    page.wait_for_url(f"{base}/patients/{ids['fiona']}/timeline")
    charts = page.locator("svg.chart-svg[role=img]")
    assert charts.count() == 4  # courses, PHQ-9, GAD-7, peak systolic
    for chart_id in ("course-chart", "phq9-chart", "gad7-chart", f"peak-chart-{ids['course']}"):
        chart = page.locator(f"svg#{chart_id}")
        assert chart.is_visible()
        box = chart.bounding_box()
        assert box["width"] > 400 and box["height"] > 60
        assert chart.locator(f"#{chart_id}-title").text_content()
    assert "baseline 21" in page.locator("svg#phq9-chart").text_content()
    assert page.locator("svg#phq9-chart circle").count() == 9
    assert "co-signed" in page.locator("table.timeline-table tbody tr").last.inner_text()
    assert "168/98 (+46/+20)" in page.locator("table.timeline-table").inner_text()
    assert_accessible(page)
    shots("timeline")

    # The course decision page and the settings page are accessible too.
    page.get_by_role("link", name=re.compile("^Decisions on this course")).click()
    page.wait_for_url(f"{base}/review/courses/{ids['course']}")
    assert "Response" in page.locator("#status-h").locator("..").inner_text()
    assert_accessible(page)
    shots("course-decisions")
    page.goto(base + "/review")
    page.get_by_role("link", name="Clinic settings").click()
    page.wait_for_url(base + "/settings/clinic")
    page.get_by_label("Hold dosing: systolic above").fill("20")
    page.get_by_role("button", name="Save settings").click()
    page.wait_for_load_state()
    assert (
        "Number must be between 100 and 200." in page.locator("#hold_systolic-error").inner_text()
    )
    assert_accessible(page)
    shots("settings-refused")
    page.get_by_label("Hold dosing: systolic above").fill("145")
    page.get_by_role("button", name="Save settings").click()
    page.wait_for_url(base + "/settings/clinic")
    assert "1 setting(s) changed: hold_systolic." in page.locator(".flash-stack").inner_text()
    shots("settings-saved")

    # Chairs: add one by keyboard-friendly labels; a duplicate is refused by the field.
    page.get_by_role("link", name="Chairs").click()
    page.wait_for_url(base + "/settings/chairs")
    page.get_by_label("Chair name").fill("Recliner B")
    page.get_by_role("button", name="Add chair").click()
    page.wait_for_url(base + "/settings/chairs")
    assert "Recliner B added" in page.locator(".flash-stack").inner_text()
    page.get_by_label("Chair name").fill("recliner b")
    page.get_by_role("button", name="Add chair").click()
    page.wait_for_load_state()
    assert "There is already a chair called recliner b." in page.locator("#name-error").inner_text()
    assert_accessible(page)
    shots("chairs")

    # The session page shows the co-signature with its note and the BP chart.
    page.goto(f"{base}/sessions/{ids['flagged']}")
    signature = page.locator("#sign-h").locator("..").inner_text()
    assert "Co-signed by Test psychiatrist, MD" in signature
    assert NOTE in signature
    assert page.locator("svg#bp-chart").is_visible()
    assert_accessible(page)
    shots("session-cosigned")

    with app.app_context():
        treatment = db.session.get(TreatmentSession, ids["flagged"])
        assert treatment.status == "cosigned"
        assert treatment.cosign_note == NOTE
        alert = db.session.get(ClinicalAlert, ids["alert"])
        assert alert.acknowledged_at is not None
        assert alert.acknowledge_note.startswith("Called Ivy")
        assert db.session.get(ClinicSetting, "hold_systolic").value == 145
