"""The session header and the Today board once a session is closed: the signature state, and the
minutes since the dose frozen at discharge."""

from datetime import timedelta

from clinic_app import clock
from clinic_app.extensions import db
from clinic_app.models import TreatmentSession
from clinic_app.review import services as review_services
from tests import factories
from tests.helpers import PASSWORD, soup
from tests.treatments.builders import make_session


def _header(response):
    """The session page's header card."""
    return soup(response).find("div", class_="session-head")


def _dose_minutes(header) -> tuple[str, str, bool]:
    """(label, minutes shown, ticking) of the header's time since the dose."""
    label = header.find("strong", string=["Since dose:", "Dose to discharge:"])
    minutes = label.find_next_sibling("span")
    return label.get_text(), minutes.get_text(), minutes.has_attr("data-since")


def _board_minutes(response) -> list[tuple[str, bool]]:
    """(minutes shown, ticking) of each session's time since the dose on the Today board."""
    return [
        (span.get_text(), span.has_attr("data-since"))
        for span in soup(response).find_all("span", string=lambda s: s and s.endswith(" min"))
    ]


def _badges(header) -> list[tuple[str, str]]:
    return [(" ".join(b["class"]), b.get_text()) for b in header.find_all("span", class_="badge")]


def test_open_session_ticks_since_the_dose(app, as_role):
    sid = make_session(app, stage="dosed")
    clock.advance(timedelta(minutes=12))
    nurse = as_role("nurse")
    header = _header(nurse.get(f"/sessions/{sid}"))
    assert _dose_minutes(header) == ("Since dose:", "12 min", True)
    assert ("12 min", True) in _board_minutes(nurse.get("/today"))


def test_discharged_session_shows_the_final_minutes_without_ticking(app, as_role):
    sid = make_session(app, stage="discharged")  # discharged 121 min after the dose
    clock.advance(timedelta(minutes=30))
    nurse = as_role("nurse")
    page = nurse.get(f"/sessions/{sid}")
    header = _header(page)
    assert _dose_minutes(header) == ("Dose to discharge:", "121 min", False)
    assert not soup(page).select("[data-since]")
    assert ("badge status-discharged", "Discharged") in _badges(header)
    board = nurse.get("/today")
    assert ("121 min", False) in _board_minutes(board)
    assert not soup(board).select("[data-since]")


def test_header_says_signed_then_co_signed(app, as_role):
    sid = make_session(app, stage="signed")
    nurse = as_role("nurse")
    header = _header(nurse.get(f"/sessions/{sid}"))
    assert ("badge sig-signed", "Signed") in _badges(header)
    assert "Discharged" not in [text for _, text in _badges(header)]
    with app.app_context():
        treatment = db.session.get(TreatmentSession, sid)
        review_services.cosign(factories.user("psychiatrist"), treatment, "Reviewed.", PASSWORD)
        db.session.commit()
    header = _header(nurse.get(f"/sessions/{sid}"))
    assert ("badge sig-cosigned", "Co-signed") in _badges(header)
    assert not header.select(".sig-signed")
