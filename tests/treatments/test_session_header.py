"""The session header and the Today board once a session is closed: the signature state, and the
minutes since the dose frozen at discharge."""

import re
from datetime import timedelta

from clinic_app import clock
from clinic_app.extensions import db
from clinic_app.models import TreatmentSession
from clinic_app.review import services as review_services
from tests import factories
from tests.helpers import PASSWORD
from tests.treatments.builders import make_session


def _header(page: str) -> str:
    return page.split('class="session-head', 1)[1].split("</div>\n</div>", 1)[0]


def test_open_session_ticks_since_the_dose(app, as_role):
    sid = make_session(app, stage="dosed")
    clock.advance(timedelta(minutes=12))
    nurse = as_role("nurse")
    header = _header(nurse.get(f"/sessions/{sid}").get_data(as_text=True))
    assert re.search(r'<strong>Since dose:</strong> <span data-since="[^"]+">12 min</span>', header)
    board = nurse.get("/today").get_data(as_text=True)
    assert re.search(r'<span data-since="[^"]+">12 min</span>', board)


def test_discharged_session_shows_the_final_minutes_without_ticking(app, as_role):
    sid = make_session(app, stage="discharged")  # discharged 121 min after the dose
    clock.advance(timedelta(minutes=30))
    nurse = as_role("nurse")
    page = nurse.get(f"/sessions/{sid}").get_data(as_text=True)
    header = _header(page)
    assert "<strong>Dose to discharge:</strong> <span>121 min</span>" in header
    assert "data-since" not in page
    assert '<span class="badge status-discharged">Discharged</span>' in header
    board = nurse.get("/today").get_data(as_text=True)
    assert "<span>121 min</span>" in board
    assert "data-since" not in board


def test_header_says_signed_then_co_signed(app, as_role):
    sid = make_session(app, stage="signed")
    nurse = as_role("nurse")
    header = _header(nurse.get(f"/sessions/{sid}").get_data(as_text=True))
    assert '<span class="badge sig-signed">Signed</span>' in header
    assert "Discharged</span>" not in header
    with app.app_context():
        treatment = db.session.get(TreatmentSession, sid)
        review_services.cosign(factories.user("psychiatrist"), treatment, "Reviewed.", PASSWORD)
        db.session.commit()
    header = _header(nurse.get(f"/sessions/{sid}").get_data(as_text=True))
    assert '<span class="badge sig-cosigned">Co-signed</span>' in header
    assert "sig-signed" not in header
