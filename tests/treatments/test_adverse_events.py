"""Adverse events through the views: recorded with a description, edited until signed, resolved
with a time and who, cleared for discharge by the psychiatrist; each step audited and shown."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from clinic_app import clock
from clinic_app.clinical.codes import AlertKind
from clinic_app.errors import RuleViolation
from clinic_app.extensions import db
from clinic_app.models import AdverseEvent, AuditEvent, ClinicalAlert, TreatmentSession
from clinic_app.treatments import services
from clinic_app.treatments.queries import load_session
from tests import factories
from tests.helpers import (
    CLINIC_ZONE,
    PASSWORD,
    audit_actions,
    count,
    count_statements,
    field_errors,
    flashes,
    soup,
)
from tests.treatments.builders import make_session

EVENT = {
    "kind": "nausea",
    "severity": "mild",
    "description": "Queasy after the dose.",
    "intervention": "Rest.",
}


def _event(app, sid, **changes) -> int:
    """An event recorded through the service at the current clock time."""
    with app.app_context():
        treatment = load_session(sid)
        event = services.add_adverse_event(
            factories.user("nurse"), treatment, dict(EVENT, **changes)
        )
        db.session.commit()
        return event.id


def _get(app, event_id) -> AdverseEvent:
    with app.app_context():
        event = db.session.get(AdverseEvent, event_id)
        db.session.expunge(event)
        return event


def _local(moment) -> str:
    return moment.astimezone(CLINIC_ZONE).strftime("%H:%M")


def _edit(client, sid, event_id, **data):
    fields = dict(EVENT, **data)
    return client.post(
        f"/sessions/{sid}/adverse-events/{event_id}",
        data={f"event{event_id}-{k}": v for k, v in fields.items()},
    )


# --- recording -----------------------------------------------------------------------------


def test_untouched_event_form_starts_on_choose_and_is_refused(app, as_role):
    sid = make_session(app, stage="dosed")
    nurse = as_role("nurse")
    form = soup(nurse.get(f"/sessions/{sid}")).find(
        "form", action=f"/sessions/{sid}/adverse-events"
    )
    for name in ("kind", "severity"):  # the browser shows the first option; none is selected
        options = form.find("select", attrs={"name": name}).find_all("option")
        assert (options[0]["value"], options[0].get_text()) == ("", "Choose…")
        assert not any(option.has_attr("selected") for option in options)
    response = nurse.post(f"/sessions/{sid}/adverse-events", data={"intervention": "Rest."})
    assert response.status_code == 400
    assert field_errors(response) == {
        "kind": "Choose the event.",
        "severity": "Choose the severity.",
    }
    assert count(app, AdverseEvent) == 0
    assert "adverse_event.add" not in audit_actions(app)


def test_other_event_without_a_description_is_refused_next_to_the_field(app, as_role):
    sid = make_session(app, stage="dosed")
    response = as_role("nurse").post(
        f"/sessions/{sid}/adverse-events", data={"kind": "other", "severity": "mild"}
    )
    assert response.status_code == 400
    assert field_errors(response) == {
        "description": 'Describe the event: "Other" needs a description.'
    }
    assert count(app, AdverseEvent) == 0
    assert "adverse_event.add" not in audit_actions(app)


SERIOUS_NEEDS = "Describe the event: a serious adverse event needs a description."


@pytest.mark.parametrize(
    "marked", [{"serious": "y"}, {"severity": "severe"}], ids=["ticked", "severe"]
)
def test_serious_event_without_a_description_is_refused_next_to_the_field(app, as_role, marked):
    sid = make_session(app, stage="dosed")
    data = dict(EVENT, description="  ", **marked)
    response = as_role("nurse").post(f"/sessions/{sid}/adverse-events", data=data)
    assert response.status_code == 400
    assert field_errors(response) == {"description": SERIOUS_NEEDS}
    assert count(app, AdverseEvent) == 0
    assert count(app, ClinicalAlert) == 0
    assert "adverse_event.add" not in audit_actions(app)


def test_service_refuses_a_serious_event_without_a_description(app, staff):
    """The service checks it too (a caller other than the form: CLI, import)."""
    sid = make_session(app, stage="dosed")
    with app.app_context():
        treatment = load_session(sid)
        with pytest.raises(RuleViolation) as refused:
            services.add_adverse_event(
                factories.user("nurse"),
                treatment,
                dict(EVENT, description="", serious=True, onset_at=None),
            )
        assert (refused.value.field, refused.value.message) == ("description", SERIOUS_NEEDS)
        db.session.rollback()
    assert count(app, AdverseEvent) == 0
    assert count(app, ClinicalAlert) == 0


def test_making_an_event_serious_without_a_description_is_refused(app, as_role):
    sid = make_session(app, stage="dosed")
    event_id = _event(app, sid, description="")
    response = _edit(as_role("nurse"), sid, event_id, serious="y", description="")
    assert response.status_code == 400
    assert field_errors(response) == {f"event{event_id}-description": SERIOUS_NEEDS}
    assert _get(app, event_id).serious is False
    assert count(app, ClinicalAlert) == 0
    with app.app_context():
        treatment = load_session(sid)
        with pytest.raises(RuleViolation, match="serious adverse event needs a description"):
            services.edit_adverse_event(
                factories.user("nurse"),
                treatment,
                treatment.adverse_events[0],
                dict(EVENT, description="", serious=True, onset_at=None),
            )
        db.session.rollback()
    assert _get(app, event_id).serious is False


def test_other_event_with_a_description_shows_it_and_who_recorded_it(app, as_role):
    sid = make_session(app, stage="dosed")  # 10:00
    clock.advance(timedelta(minutes=20))
    nurse = as_role("nurse")
    response = nurse.post(
        f"/sessions/{sid}/adverse-events",
        data={"kind": "other", "severity": "mild", "description": "Tingling in both hands."},
    )
    assert response.status_code == 302
    with app.app_context():
        event = db.session.scalar(select(AdverseEvent))
        assert (event.kind, event.description, event.resolved) == (
            "other",
            "Tingling in both hands.",
            False,
        )
    page = nurse.get(f"/sessions/{sid}").get_data(as_text=True)
    assert "Tingling in both hands." in page
    assert "Recorded by Test nurse, RN at 10:20" in page


def test_recorded_as_already_resolved_keeps_time_and_who(app, as_role):
    sid = make_session(app, stage="dosed")
    clock.advance(timedelta(minutes=30))  # 10:30
    response = as_role("nurse").post(
        f"/sessions/{sid}/adverse-events",
        data=dict(EVENT, onset_at="10:10", resolved="y", resolved_at="10:25"),
    )
    assert response.status_code == 302
    with app.app_context():
        event = db.session.scalar(select(AdverseEvent))
        assert event.resolved and _local(event.resolved_at) == "10:25"
        assert event.resolved_by_id == factories.user("nurse").id


def test_event_onset_before_check_in_is_refused(app, as_role):
    sid = make_session(app, stage="dosed")  # checked in at 10:00
    response = as_role("nurse").post(
        f"/sessions/{sid}/adverse-events", data=dict(EVENT, onset_at="09:40")
    )
    assert response.status_code == 400
    assert field_errors(response) == {"onset_at": "This time is before check-in at 10:00."}
    assert count(app, AdverseEvent) == 0


# --- editing -------------------------------------------------------------------------------


def test_nurse_edits_an_event_and_the_change_is_audited(app, as_role):
    sid = make_session(app, stage="dosed")
    clock.advance(timedelta(minutes=15))
    event_id = _event(app, sid)
    response = _edit(
        as_role("nurse"), sid, event_id, severity="moderate", intervention="Ondansetron 4 mg."
    )
    assert response.status_code == 302
    event = _get(app, event_id)
    assert (event.severity, event.intervention, event.serious) == (
        "moderate",
        "Ondansetron 4 mg.",
        False,
    )
    with app.app_context():
        row = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "adverse_event.edit"))
        assert row.entity_id == event_id
        assert row.detail["fields"] == ["intervention", "severity"]


def test_editing_to_other_without_a_description_is_refused(app, as_role):
    sid = make_session(app, stage="dosed")
    event_id = _event(app, sid)
    response = _edit(as_role("nurse"), sid, event_id, kind="other", description=" ")
    assert response.status_code == 400
    assert field_errors(response) == {
        f"event{event_id}-description": 'Describe the event: "Other" needs a description.'
    }
    assert _get(app, event_id).kind == "nausea"
    assert "adverse_event.edit" not in audit_actions(app)


@pytest.mark.parametrize("change", [{"serious": "y"}, {"severity": "severe"}])
def test_making_an_event_serious_raises_the_serious_ae_alert(app, as_role, change):
    sid = make_session(app, stage="dosed")
    event_id = _event(app, sid)
    assert count(app, ClinicalAlert) == 0
    assert _edit(as_role("nurse"), sid, event_id, **change).status_code == 302
    with app.app_context():
        alert = db.session.scalar(select(ClinicalAlert))
        assert alert.kind == AlertKind.SERIOUS_AE
        assert alert.session_id == sid
        assert alert.detail["adverse_event_id"] == event_id


def test_editing_a_serious_event_raises_the_alert_again_once_acknowledged(app, as_role):
    sid = make_session(app, stage="dosed")
    event_id = _event(app, sid, serious=True)
    with app.app_context():
        alert = db.session.scalar(select(ClinicalAlert))
        alert.acknowledged_at = clock.utcnow()
        alert.acknowledged_by_id = factories.user("psychiatrist").id
        alert.acknowledge_note = "Seen."
        db.session.commit()
    assert (
        _edit(as_role("nurse"), sid, event_id, serious="y", severity="moderate").status_code == 302
    )
    assert count(app, ClinicalAlert, ClinicalAlert.acknowledged_at.is_(None)) == 1


INSTEAD = "resolve the event instead, or ask the psychiatrist."
LOWER = f"Only the psychiatrist may lower the severity: {INSTEAD}"
UNTICK = f'Only the psychiatrist may untick "serious": {INSTEAD}'


@pytest.mark.parametrize(
    "recorded, edit, errors",
    [
        ({"severity": "severe"}, {"severity": "moderate", "serious": "y"}, {"severity": LOWER}),
        ({"severity": "severe"}, {"severity": "mild"}, {"severity": LOWER, "serious": UNTICK}),
        ({"severity": "moderate", "serious": True}, {"severity": "moderate"}, {"serious": UNTICK}),
        ({"severity": "moderate"}, {"severity": "mild"}, {"severity": LOWER}),
    ],
    ids=["severe-to-moderate", "severe-to-mild-not-serious", "untick-serious", "moderate-to-mild"],
)
def test_nurse_cannot_downgrade_an_event(app, as_role, recorded, edit, errors):
    sid = make_session(app, stage="dosed")
    event_id = _event(app, sid, **recorded)
    before = _get(app, event_id)
    response = _edit(as_role("nurse"), sid, event_id, intervention="Changed.", **edit)
    assert response.status_code == 400
    assert field_errors(response) == {f"event{event_id}-{k}": v for k, v in errors.items()}
    after = _get(app, event_id)
    assert (after.severity, after.serious, after.intervention) == (
        before.severity,
        before.serious,
        "Rest.",
    )
    assert "adverse_event.edit" not in audit_actions(app)


def test_psychiatrist_downgrades_an_event_and_the_page_shows_who_last_edited(app, as_role):
    sid = make_session(app, stage="dosed")  # 10:00
    clock.advance(timedelta(minutes=10))
    event_id = _event(app, sid, severity="severe")
    nurse = as_role("nurse")
    assert "last edited" not in nurse.get(f"/sessions/{sid}").get_data(as_text=True)
    clock.advance(timedelta(minutes=15))  # 10:25
    response = _edit(as_role("psychiatrist"), sid, event_id, severity="mild")
    assert response.status_code == 302
    event = _get(app, event_id)
    assert (event.severity, event.serious) == ("mild", False)
    page = nurse.get(f"/sessions/{sid}").get_data(as_text=True)
    assert (
        "Recorded by Test nurse, RN at 10:10 · last edited by Test psychiatrist, MD at 10:25"
        in page
    )
    clock.advance(timedelta(minutes=5))  # 10:30: the nurse may raise it again
    assert _edit(nurse, sid, event_id, severity="moderate").status_code == 302
    page = nurse.get(f"/sessions/{sid}").get_data(as_text=True)
    assert "last edited by Test nurse, RN at 10:30" in page
    assert "last edited by Test psychiatrist" not in page


def test_who_last_edited_loads_in_one_statement_for_all_events(app, as_role):
    sid = make_session(app, stage="dosed")
    nurse = as_role("nurse")
    first = _event(app, sid)
    _edit(nurse, sid, first, intervention="Water.")
    nurse.get(f"/sessions/{sid}")  # warm up
    with count_statements(app) as one:
        nurse.get(f"/sessions/{sid}")
    for n in range(3):
        event_id = _event(app, sid)
        _edit(nurse, sid, event_id, intervention=f"Edit {n}.")
        _edit(nurse, sid, event_id, intervention=f"Edit {n} again.")
    with count_statements(app) as four:
        page = nurse.get(f"/sessions/{sid}").get_data(as_text=True)
    assert page.count("last edited by Test nurse, RN") == 4
    assert len(four) == len(one)
    assert sum("FROM audit_events" in s and "max(" in s.lower() for s in four) == 1


def test_events_stay_editable_after_discharge_until_signed(app, as_role):
    sid = make_session(app, stage="dosed")
    clock.advance(timedelta(minutes=10))
    event_id = _event(app, sid)
    with app.app_context():
        treatment = db.session.get(TreatmentSession, sid)
        nurse = factories.user("nurse")
        clock.advance(timedelta(minutes=40))
        services.add_vitals(nurse, treatment, dict(factories.NORMAL_BP))
        factories.chart_settled(treatment)
        clock.advance(timedelta(minutes=81))
        services.add_vitals(nurse, treatment, dict(factories.NORMAL_BP))
        factories.chart_settled(treatment)
        services.resolve_adverse_event(nurse, treatment, treatment.adverse_events[0], None)
        factories.rems_answered(treatment)
        services.discharge(nurse, treatment, factories.GOOD_ATTESTATION, treatment.version_id)
        db.session.commit()
    nurse = as_role("nurse")
    assert _edit(nurse, sid, event_id, intervention="Rest, then water.").status_code == 302
    assert nurse.post(f"/sessions/{sid}/sign", data={"password": PASSWORD}).status_code == 302
    response = _edit(nurse, sid, event_id, intervention="Changed after signing.")
    assert response.status_code == 400
    assert (
        "danger",
        "This session is signed and locked; add an addendum instead.",
    ) in flashes(response)
    assert _get(app, event_id).intervention == "Rest, then water."


def test_event_of_another_session_is_not_found(app, as_role):
    first = make_session(app, stage="dosed")
    event_id = _event(app, first)
    with app.app_context():
        other = factories.dosed_session()
        db.session.commit()
        other_id = other.id
    response = _edit(as_role("nurse"), other_id, event_id, severity="moderate")
    assert response.status_code == 404
    assert _get(app, event_id).severity == "mild"


# --- resolving -----------------------------------------------------------------------------


def test_resolving_records_the_time_and_who(app, as_role):
    sid = make_session(app, stage="dosed")  # 10:00
    clock.advance(timedelta(minutes=10))
    event_id = _event(app, sid)  # onset 10:10
    clock.advance(timedelta(minutes=30))  # 10:40
    psychiatrist = as_role("psychiatrist")
    response = psychiatrist.post(
        f"/sessions/{sid}/adverse-events/{event_id}/resolve",
        data={f"resolve{event_id}-resolved_at": "10:35"},
    )
    assert response.status_code == 302
    event = _get(app, event_id)
    with app.app_context():
        assert event.resolved and event.resolved_by_id == factories.user("psychiatrist").id
    assert _local(event.resolved_at) == "10:35"
    assert "adverse_event.resolve" in audit_actions(app)
    page = psychiatrist.get(f"/sessions/{sid}").get_data(as_text=True)
    assert "resolved 10:35 by Test psychiatrist, MD" in page


def test_resolving_blank_means_now(app, as_role):
    sid = make_session(app, stage="dosed")
    event_id = _event(app, sid)
    clock.advance(timedelta(minutes=25))
    response = as_role("nurse").post(f"/sessions/{sid}/adverse-events/{event_id}/resolve", data={})
    assert response.status_code == 302
    assert _get(app, event_id).resolved_at == clock.utcnow()


def test_resolving_before_the_onset_is_refused(app, as_role):
    sid = make_session(app, stage="dosed")
    clock.advance(timedelta(minutes=20))
    event_id = _event(app, sid)  # onset 10:20
    response = as_role("nurse").post(
        f"/sessions/{sid}/adverse-events/{event_id}/resolve",
        data={f"resolve{event_id}-resolved_at": "10:15"},
    )
    assert response.status_code == 400
    assert field_errors(response) == {
        f"resolve{event_id}-resolved_at": "The event cannot resolve before its onset."
    }
    assert _get(app, event_id).resolved is False


# --- clearing for discharge ----------------------------------------------------------------


def test_psychiatrist_clears_an_unresolved_event_with_a_note(app, as_role):
    sid = make_session(app, stage="dosed")
    event_id = _event(app, sid, severity="moderate")
    clock.advance(timedelta(minutes=5))
    psychiatrist = as_role("psychiatrist")
    url = f"/sessions/{sid}/adverse-events/{event_id}/clear"
    response = psychiatrist.post(url, data={f"clear{event_id}-note": " "})
    assert response.status_code == 400
    assert field_errors(response) == {f"clear{event_id}-note": "This field is required."}
    assert _get(app, event_id).cleared_at is None

    note = "Mild residual headache; safe to go home with the driver."
    assert psychiatrist.post(url, data={f"clear{event_id}-note": note}).status_code == 302
    event = _get(app, event_id)
    assert (event.cleared_at, event.clear_note, event.resolved) == (clock.utcnow(), note, False)
    with app.app_context():
        assert event.cleared_by_id == factories.user("psychiatrist").id
    assert "adverse_event.clear" in audit_actions(app)
    page = psychiatrist.get(f"/sessions/{sid}").get_data(as_text=True)
    assert "cleared for discharge by Test psychiatrist, MD" in page
    assert note in page


def test_only_the_psychiatrist_clears(app, as_role):
    sid = make_session(app, stage="dosed")
    event_id = _event(app, sid, severity="moderate")
    response = as_role("nurse").post(
        f"/sessions/{sid}/adverse-events/{event_id}/clear", data={f"clear{event_id}-note": "Fine."}
    )
    assert response.status_code == 403
    assert _get(app, event_id).cleared_at is None
    assert "Clear for discharge" not in as_role("nurse").get(f"/sessions/{sid}").get_data(
        as_text=True
    )


@pytest.mark.parametrize("role", ["front_desk", "admin"])
def test_front_desk_and_admin_cannot_touch_events(app, as_role, role):
    sid = make_session(app, stage="dosed")
    event_id = _event(app, sid)
    client = as_role(role)
    base = f"/sessions/{sid}/adverse-events/{event_id}"
    assert _edit(client, sid, event_id, severity="severe").status_code == 403
    assert client.post(f"{base}/resolve", data={}).status_code == 403
    assert client.post(f"{base}/clear", data={f"clear{event_id}-note": "x"}).status_code == 403
    event = _get(app, event_id)
    assert (event.severity, event.resolved, event.cleared_at) == ("mild", False, None)


# --- who recorded what on the session page -------------------------------------------------


def test_session_page_names_who_recorded_each_reading_scale_and_event(app, as_role, staff):
    sid = make_session(app, stage="dosed")  # reading by the nurse at 10:00
    clock.advance(timedelta(minutes=40))
    psychiatrist = as_role("psychiatrist")
    assert psychiatrist.post(f"/sessions/{sid}/sedation", data={"score": "4"}).status_code == 302
    _event(app, sid)
    page = psychiatrist.get(f"/sessions/{sid}").get_data(as_text=True)
    vitals = page.split('id="vitals-h"', 1)[1].split("</table>", 1)[0]
    assert "Test nurse, RN" in vitals and "at 10:00" in vitals
    scales = page.split('id="scales-h"', 1)[1].split("</ul>", 1)[0]
    assert "recorded by Test psychiatrist, MD at 10:40" in scales
    assert "Recorded by Test nurse, RN at 10:40" in page
