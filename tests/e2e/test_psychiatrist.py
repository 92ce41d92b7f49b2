"""The psychiatrist's review in real Chromium: work the queue, co-sign a flagged session,
acknowledge an item-9 alert, read a patient's timeline with its charts, change a setting."""

import re

from playwright.sync_api import expect

from clinic_app.extensions import db
from clinic_app.models import ClinicalAlert, ClinicSetting, TreatmentSession
from tests import factories
from tests.e2e.browser import assert_accessible, sign_in
from tests.helpers import PASSWORD
from tests.review import builders

NOTE = "Reviewed the 40-minute BP rise; settled without treatment. Agree with discharge."


def _clinic(app) -> dict[str, int]:
    with app.app_context():
        factories.site()  # first, so the staff work at it
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
        factories.site()  # where the psychiatrist adds a chair
        db.session.commit()
        return {
            "fiona": fiona.id,
            "flagged": flagged.id,
            "alert": alert.id,
            "course": course.id,
            "ivy_session": ivy_session.id,
        }


def test_psychiatrist_works_the_review_queue(live_app, page):
    app, base = live_app
    ids = _clinic(app)
    sign_in(page, base, "psychiatrist", accessible=True)
    page.wait_for_url(base + "/review")

    # The queue: the open item-9 alert on top, then sessions with the flagged one first.
    assert page.locator("#alerts-h").inner_text().startswith("Alerts needing action today")
    alert_card = page.locator(f"#alert-{ids['alert']}")
    expect(alert_card).to_contain_text("PHQ-9 item 9 above 0: Ivy Itemnine", use_inner_text=True)
    expect(alert_card).to_contain_text("answered 2", use_inner_text=True)
    rows = page.locator("table.queue-table tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.nth(0)).to_contain_text(
        "Ivy Itemnine", use_inner_text=True
    )  # pinned by its open alert
    expect(rows.nth(1)).to_contain_text("Fiona Flagged", use_inner_text=True)
    expect(rows.nth(1)).to_contain_text(
        "BP reached 168/98 40 min after the dose", use_inner_text=True
    )
    assert "Carl Calm" in rows.nth(2).inner_text() and "No flags" in rows.nth(2).inner_text()
    assert_accessible(page)

    # Review and co-sign the flagged session.
    rows.nth(1).get_by_role("link", name=re.compile("^Review")).click()
    page.wait_for_url(f"{base}/review/sessions/{ids['flagged']}")
    expect(page.locator("svg#bp-chart[role=img]")).to_be_visible()
    assert "Why this session is flagged" in page.content()
    assert_accessible(page)
    page.get_by_label("Attestation note").fill(NOTE)
    page.get_by_label("Your password").fill("wrong-password")
    page.get_by_role("button", name="Co-sign session").click()
    page.wait_for_load_state()
    expect(page.locator("#password-error")).to_contain_text(
        "The password is not correct.", use_inner_text=True
    )
    expect(page.get_by_label("Attestation note")).to_have_value(NOTE)
    assert_accessible(page)
    page.get_by_label("Your password").fill(PASSWORD)
    page.get_by_role("button", name="Co-sign session").click()
    page.wait_for_url(base + "/review")
    expect(page.locator(".flash-stack")).to_contain_text("Session co-signed.", use_inner_text=True)
    expect(page.locator("table.queue-table tbody tr")).to_have_count(2)
    expect(page.locator("table.queue-table")).not_to_contain_text(
        "Fiona Flagged", use_inner_text=True
    )

    # Acknowledge the item-9 alert with a note.
    card = page.locator(f"#alert-{ids['alert']}")
    card.get_by_label("Action taken").fill("Called Ivy: no plan or intent; safety plan reviewed.")
    card.get_by_role("button", name=re.compile("^Acknowledge")).click()
    page.wait_for_url(base + "/review")
    expect(page.locator(".flash-stack")).to_contain_text("alert acknowledged", use_inner_text=True)
    assert "No open alerts." in page.content()
    assert_accessible(page)

    # The timeline, from the patient record: charts with their tables, co-signature shown.
    page.goto(f"{base}/patients/{ids['fiona']}")
    page.get_by_role("link", name="Timeline").click()
    page.wait_for_url(f"{base}/patients/{ids['fiona']}/timeline")
    charts = page.locator("svg.chart-svg[role=img]")
    expect(charts).to_have_count(4)  # courses, PHQ-9, GAD-7, peak systolic
    for chart_id in ("course-chart", "phq9-chart", "gad7-chart", f"peak-chart-{ids['course']}"):
        chart = page.locator(f"svg#{chart_id}")
        expect(chart).to_be_visible()
        box = chart.bounding_box()
        assert box["width"] > 400 and box["height"] > 60
        assert chart.locator(f"#{chart_id}-title").text_content()
    assert "baseline 21" in page.locator("svg#phq9-chart").text_content()
    expect(page.locator("svg#phq9-chart circle")).to_have_count(9)
    expect(page.locator("table.timeline-table tbody tr").last).to_contain_text(
        "co-signed", use_inner_text=True
    )
    expect(page.locator("table.timeline-table")).to_contain_text(
        "168/98 (+46/+20)", use_inner_text=True
    )
    assert_accessible(page)

    # The course decision page and the settings page are accessible too.
    page.get_by_role("link", name=re.compile("^Decisions on this course")).click()
    page.wait_for_url(f"{base}/review/courses/{ids['course']}")
    expect(page.locator("#status-h").locator("..")).to_contain_text("Response", use_inner_text=True)
    assert_accessible(page)
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
    page.get_by_label("Hold dosing: systolic above").fill("145")
    page.get_by_role("button", name="Save settings").click()
    page.wait_for_url(base + "/settings/clinic")
    expect(page.locator(".flash-stack")).to_contain_text(
        "1 setting(s) changed: hold_systolic.", use_inner_text=True
    )

    # Chairs: add one by keyboard-friendly labels; a duplicate is refused by the field.
    page.get_by_role("link", name="Chairs").click()
    page.wait_for_url(base + "/settings/chairs")
    page.get_by_label("Chair name").fill("Recliner B")
    page.get_by_role("button", name="Add chair").click()
    page.wait_for_url(base + "/settings/chairs")
    expect(page.locator(".flash-stack")).to_contain_text("Recliner B added", use_inner_text=True)
    page.get_by_label("Chair name").fill("recliner b")
    page.get_by_role("button", name="Add chair").click()
    page.wait_for_load_state()
    expect(page.locator("#name-error")).to_contain_text(
        "Site MAIN already has a chair called recliner b.", use_inner_text=True
    )
    assert_accessible(page)

    # The session page shows the co-signature with its note and the BP chart.
    page.goto(f"{base}/sessions/{ids['flagged']}")
    signature = page.locator("#sign-h").locator("..").inner_text()
    assert "Co-signed by Test psychiatrist, MD" in signature
    assert NOTE in signature
    expect(page.locator("svg#bp-chart")).to_be_visible()
    assert_accessible(page)

    with app.app_context():
        treatment = db.session.get(TreatmentSession, ids["flagged"])
        assert treatment.status == "cosigned"
        assert treatment.cosign_note == NOTE
        alert = db.session.get(ClinicalAlert, ids["alert"])
        assert alert.acknowledged_at is not None
        assert alert.acknowledge_note.startswith("Called Ivy")
        assert db.session.get(ClinicSetting, "hold_systolic").value == 145
