"""Co-signing a nurse-signed session: attestation note, password re-entry, a content hash, and
never a second co-signature."""

import pytest

from clinic_app.errors import PermissionDenied, RuleViolation
from clinic_app.extensions import db
from clinic_app.models import AuditEvent, TreatmentSession
from clinic_app.review import services
from clinic_app.treatments.closing import content_hash
from clinic_app.treatments.queries import load_session
from tests import factories
from tests.helpers import PASSWORD, actions_by, audit_rows, count, field_error, text
from tests.review import builders

NOTE = "Reviewed vitals and the BP rise; agree with the nurse's management."


def _flagged_session(app, status="signed") -> int:
    with app.app_context():
        patient, course = builders.patient_with_course(last_name="Flagged")
        treatment = builders.add_session(
            patient,
            course,
            status=status,
            after=((40, 168, 98, 97), (90, 142, 88, 98), (125, 128, 80, 98)),
            events=[("hypertension", "moderate", False)],
        )
        db.session.commit()
        return treatment.id


def _row(app, sid) -> dict:
    with app.app_context():
        t = db.session.get(TreatmentSession, sid)
        return {
            "status": t.status,
            "cosigned_by_id": t.cosigned_by_id,
            "cosigned_at": t.cosigned_at,
            "cosignature_hash": t.cosignature_hash,
            "cosign_note": t.cosign_note,
            "version_id": t.version_id,
        }


def test_psychiatrist_cosigns_a_flagged_session(app, as_role, staff):
    sid = _flagged_session(app)
    psychiatrist = as_role("psychiatrist")
    page = psychiatrist.get(f"/review/sessions/{sid}")
    assert page.status_code == 200
    body = text(page)
    assert "BP reached 168/98 40 min after the dose" in body
    assert "Blood pressure during the session" in body  # the chart's title
    assert 'role="img"' in page.get_data(as_text=True)
    assert "Co-sign session" in body

    response = psychiatrist.post(
        f"/review/sessions/{sid}/cosign", data={"note": NOTE, "password": PASSWORD}
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/review")
    with app.app_context():
        t = load_session(sid)
        assert t.status == "cosigned"
        assert t.cosigned_by_id == staff["psychiatrist"]
        assert t.cosigned_at is not None
        assert t.cosign_note == NOTE
        assert t.cosignature_hash == content_hash(t)
        assert len(t.cosignature_hash) == 64
    [event] = audit_rows(app, "session.cosign")
    assert event.outcome == "success"
    assert event.detail == {"content_hash": _row(app, sid)["cosignature_hash"]}

    # Who and when on the session page and the timeline; no form to co-sign again.
    session_page = psychiatrist.get(f"/sessions/{sid}")
    body = text(session_page)
    assert "Co-signed by Test psychiatrist, MD at" in body
    assert NOTE in body
    assert "Review and co-sign" not in body
    with app.app_context():
        patient_id = db.session.get(TreatmentSession, sid).patient_id
    timeline = text(psychiatrist.get(f"/patients/{patient_id}/timeline"))
    assert "co-signed Test psychiatrist, MD" in timeline
    review_page = psychiatrist.get(f"/review/sessions/{sid}")
    assert b"/cosign" not in review_page.data
    assert "A co-signature is final" in text(review_page)
    assert "Flagged" not in text(psychiatrist.get("/review")).split("Awaiting co-signature")[1]


def test_a_second_cosignature_is_refused(app, as_role, staff):
    sid = _flagged_session(app)
    psychiatrist = as_role("psychiatrist")
    data = {"note": NOTE, "password": PASSWORD}
    assert psychiatrist.post(f"/review/sessions/{sid}/cosign", data=data).status_code == 302
    first = _row(app, sid)
    again = psychiatrist.post(
        f"/review/sessions/{sid}/cosign", data={"note": "Changed my mind.", "password": PASSWORD}
    )
    assert again.status_code == 400
    assert "already co-signed" in text(again)
    assert _row(app, sid) == first
    with app.app_context():
        other = factories.make_user("psychiatrist", username="second.md", password=PASSWORD)
        db.session.commit()
        t = load_session(sid)
        with pytest.raises(RuleViolation, match="already co-signed"):
            services.cosign(other, t, "Another note.", PASSWORD)
        db.session.rollback()
    assert _row(app, sid) == first


def test_wrong_password_is_refused_and_audited(app, as_role, staff):
    sid = _flagged_session(app)
    before = _row(app, sid)
    response = as_role("psychiatrist").post(
        f"/review/sessions/{sid}/cosign", data={"note": NOTE, "password": "not-my-password"}
    )
    assert response.status_code == 400
    assert field_error(response, "password") == "The password is not correct."
    assert NOTE in text(response)  # the note is kept
    assert _row(app, sid) == before
    [event] = audit_rows(app, "session.cosign")
    assert event.outcome == "failure"
    assert event.detail == {"reason": "bad_password"}


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"note": "", "password": PASSWORD}, "note"),
        ({"note": "   ", "password": PASSWORD}, "note"),
        ({"note": NOTE, "password": ""}, "password"),
        ({"note": "x" * 2001, "password": PASSWORD}, "note"),
    ],
)
def test_cosign_needs_a_note_and_the_password(app, as_role, staff, data, field):
    sid = _flagged_session(app)
    before = _row(app, sid)
    response = as_role("psychiatrist").post(f"/review/sessions/{sid}/cosign", data=data)
    assert response.status_code == 400
    assert field_error(response, field)
    assert _row(app, sid) == before
    assert count(app, AuditEvent, AuditEvent.action == "session.cosign") == 0


def test_only_signed_sessions_can_be_cosigned(app, as_role, staff):
    sid = _flagged_session(app, status="discharged")
    response = as_role("psychiatrist").post(
        f"/review/sessions/{sid}/cosign", data={"note": NOTE, "password": PASSWORD}
    )
    assert response.status_code == 400
    assert "Only a session the nurse has signed can be co-signed." in text(response)
    assert _row(app, sid)["status"] == "discharged"


@pytest.mark.parametrize("role", ["nurse", "front_desk", "admin"])
def test_only_the_psychiatrist_cosigns(app, as_role, staff, role):
    sid = _flagged_session(app)
    before = _row(app, sid)
    client = as_role(role)
    assert client.get(f"/review/sessions/{sid}").status_code == 403
    response = client.post(
        f"/review/sessions/{sid}/cosign", data={"note": NOTE, "password": PASSWORD}
    )
    assert response.status_code == 403
    assert _row(app, sid) == before
    assert actions_by(app, staff[role]) == set()


def test_the_service_refuses_a_nurse_too(app, staff):
    sid = _flagged_session(app)
    with app.app_context():
        t = load_session(sid)
        with pytest.raises(PermissionDenied):
            services.cosign(factories.user("nurse"), t, NOTE, PASSWORD)
        db.session.rollback()
    assert _row(app, sid)["status"] == "signed"


def test_the_session_page_offers_review_to_the_psychiatrist_only(app, as_role, staff):
    sid = _flagged_session(app)
    assert "Review and co-sign" in text(as_role("psychiatrist").get(f"/sessions/{sid}"))
    nurse_page = text(as_role("nurse").get(f"/sessions/{sid}"))
    assert "Awaiting the psychiatrist's co-signature." in nurse_page
    assert "Review and co-sign" not in nurse_page
