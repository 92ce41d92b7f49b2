"""Schedule test fixtures: a frozen Monday morning, chairs, and an esketamine patient with a
course. The data builders are in tests/scheduling/builders.py."""

import pytest

from clinic_app import clock
from clinic_app.extensions import db
from clinic_app.models import Chair
from tests import factories
from tests.scheduling.builders import MONDAY, local, make_patient_with_course


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


@pytest.fixture
def esk(app, staff, chairs) -> tuple[int, int]:
    """(patient id, course id) of an esketamine TRD patient with a driver on file."""
    return make_patient_with_course(app, first_name="Erin", last_name="Esk")
