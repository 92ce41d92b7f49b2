"""Schedule test fixtures: a frozen Monday morning, chairs, patients with courses, and helpers to
read forms back out of rendered pages."""

import html
import re
from datetime import UTC, date, datetime, time, timedelta
from html.parser import HTMLParser
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from clinic_app import clock
from clinic_app.extensions import db
from clinic_app.models import Appointment, AuditEvent, Chair
from tests import factories

ZONE = ZoneInfo("America/Los_Angeles")  # the default clinic zone
# Monday 6 April 2026, 08:00 clinic time (PDT): every test starts here unless it moves the clock.
MONDAY = date(2026, 4, 6)
DOSE_STRINGS = ("56 mg", "84 mg", " mg", "mg/kg", "LOT-", "Systolic", "SpO", "PHQ-9", "Sedation")


def local(day: date, hour: int, minute: int = 0) -> datetime:
    """A clinic wall-clock time as aware UTC."""
    return datetime.combine(day, time(hour, minute), tzinfo=ZONE).astimezone(UTC)


@pytest.fixture
def monday(app):
    clock.freeze(local(MONDAY, 8, 0))
    return MONDAY


@pytest.fixture
def chairs(app, monday) -> list[int]:
    with app.app_context():
        rows = [Chair(name=f"Chair {n}", site=factories.site()) for n in range(1, 5)]
        db.session.add_all(rows)
        db.session.commit()
        return [c.id for c in rows]


def make_patient_with_course(app, modality="esketamine_nasal", **patient) -> tuple[int, int]:
    with app.app_context():
        person = factories.make_patient(**patient)
        course = factories.make_course(person, modality, started_on=clock.utcnow().date())
        db.session.commit()
        return person.id, course.id


@pytest.fixture
def esk(app, staff, chairs) -> tuple[int, int]:
    """(patient id, course id) of an esketamine TRD patient with a driver on file."""
    return make_patient_with_course(app, first_name="Erin", last_name="Esk")


def book_visit(
    app,
    patient_id: int,
    course_id: int | None,
    chair_id: int | None,
    start: datetime,
    minutes: int = 150,
    **values,
) -> int:
    """An appointment row written directly (bypassing the booking rules), its id."""
    with app.app_context():
        row = Appointment(
            patient_id=patient_id,
            course_id=course_id,
            chair_id=chair_id,
            starts_at=start,
            ends_at=start + timedelta(minutes=minutes),
            visit_kind=values.pop("visit_kind", "induction"),
            driver_name=values.pop("driver_name", "Sam Tester"),
            driver_phone=values.pop("driver_phone", "555-0199"),
            **values,
        )
        db.session.add(row)
        db.session.commit()
        return row.id


def count(app, model, *where) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model).where(*where))


def audit_actions(app) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def field_error(response, field_id: str) -> str | None:
    """The error the form macro renders under a field, or None."""
    match = re.search(
        rf'<div id="{re.escape(field_id)}-error" class="invalid-feedback d-block">(.*?)</div>',
        response.get_data(as_text=True),
        re.S,
    )
    return html.unescape(match.group(1)).strip() if match else None


class _FormReader(HTMLParser):
    """Collects the successful controls of the first form posting to `action`."""

    def __init__(self, action: str):
        super().__init__()
        self.action = action
        self.inside = False
        self.select: str | None = None
        self.values: dict[str, str] = {}

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.inside = a.get("action") == self.action and not self.values
        elif not self.inside:
            return
        elif tag == "input" and a.get("name"):
            if a.get("type") in ("checkbox", "radio") and "checked" not in a:
                return
            if a.get("type") == "submit":
                return
            self.values[a["name"]] = a.get("value") or ""
        elif tag == "select":
            self.select = a.get("name")
            self.values.setdefault(self.select, "")
        elif tag == "option" and self.select and "selected" in a:
            self.values[self.select] = a.get("value") or ""

    def handle_endtag(self, tag):
        if tag == "form":
            self.inside = False
        elif tag == "select":
            self.select = None


def checked(response, name: str) -> list[str]:
    """Values of the checked checkboxes or radios called `name`."""
    found = []
    for tag in re.findall(r"<input[^>]*>", response.get_data(as_text=True)):
        if f'name="{name}"' in tag and re.search(r"\schecked[\s>]", tag):
            found.append(re.search(r'value="([^"]*)"', tag).group(1))
    return found


def form_values(response, action: str) -> dict[str, str]:
    reader = _FormReader(action)
    reader.feed(response.get_data(as_text=True))
    assert reader.values, f"no form posting to {action}"
    return reader.values


def plan_data(course_id: int, **overrides) -> dict:
    data = {
        "course_id": str(course_id),
        "visit_kind": "induction",
        "first_date": (MONDAY + timedelta(days=1)).isoformat(),
        "preferred_time": "09:00",
        "count": "4",
    }
    data.update(overrides)
    return data


def propose(client, patient_id: int, course_id: int, **overrides):
    return client.post(
        f"/schedule/patients/{patient_id}/plan", data=plan_data(course_id, **overrides)
    )


def book_from(client, patient_id: int, proposal, action: str = "book", **changes):
    """Post the proposal page's booking form back, with `changes` applied."""
    url = f"/schedule/patients/{patient_id}/book"
    data = form_values(proposal, url)
    data.update(changes)
    data["action"] = action
    return client.post(url, data=data)


def series_rows(app, patient_id: int) -> list[Appointment]:
    with app.app_context():
        rows = db.session.scalars(
            select(Appointment)
            .where(Appointment.patient_id == patient_id)
            .order_by(Appointment.starts_at)
        ).all()
        db.session.expunge_all()
        return list(rows)
