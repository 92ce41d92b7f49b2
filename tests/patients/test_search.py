"""Patient search by prefix: the range bound of the last character, and odd characters."""

from hypothesis import given
from hypothesis import strategies as st

from clinic_app.extensions import db
from clinic_app.patients.services import prefix_upper_bound
from tests.factories import make_patient


@given(prefix=st.text(min_size=1), rest=st.text())
def test_the_upper_bound_is_above_every_match_and_encodable(prefix, rest):
    upper = prefix_upper_bound(prefix)
    if upper is None:
        assert prefix.endswith("\U0010ffff")
        return
    upper.encode()  # never a lone surrogate
    assert prefix <= prefix + rest < upper
    assert upper.encode() > (prefix + rest).encode()  # byte order agrees


@given(prefix=st.text(min_size=1))
def test_nothing_that_can_be_stored_lies_between_the_matches_and_the_bound(prefix):
    upper = prefix_upper_bound(prefix)
    if upper is not None:
        below = upper[:-1] + chr(ord(upper[-1]) - 1)
        assert below.startswith(prefix) or 0xD800 <= ord(below[-1]) <= 0xDFFF


def test_the_bound_steps_over_the_surrogates():
    assert prefix_upper_bound("a\ud7ff") == "a\ue000"
    assert prefix_upper_bound("ab") == "ac"


def test_a_search_ending_in_the_last_character_before_the_surrogates(app, as_role):
    with app.app_context():
        make_patient(last_name="Zed\ud7ff\ud7ffx")
        make_patient(last_name="Zed\ue000")
        db.session.commit()
    response = as_role("nurse").post("/patients/", data={"q": "zed\ud7ff"})
    assert response.status_code == 200
    assert "Zed\ud7ff\ud7ffx".encode() in response.data
    assert "Zed\ue000".encode() not in response.data
