"""Odd input never makes a 500: numbers the database cannot hold, arbitrary text and odd
Unicode in every route's URL parameters and query string, and in the patient search.

The property test walks app.url_map route group by route group (blueprint), signed in as a
role the matrix allows, so each request reaches the view. The app runs in testing mode, where
an unexpected exception propagates out of the test client instead of becoming a 500 page."""

import re
from urllib.parse import quote, urlencode

import pytest
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import update

from clinic_app.extensions import db
from clinic_app.ids import MAX_ID
from clinic_app.models import User
from tests.helpers import sign_in
from tests.security.matrix import first_allowed_role, record_ids

PLACEHOLDER = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")
# Every query parameter a view reads, and a few it does not.
QUERY_NAMES = (
    "before_id",
    "user_id",
    "patient_id",
    "session_id",
    "course_id",
    "page",
    "date",
    "kind",
    "start",
    "end",
    "action",
    "next",
    "q",
    "_passive",
)
GROUPS = ("health", "auth", "patients", "treatments", "scheduling", "review", "admin")
SIGNED_OUT = ("/login", "/account/password")


def _numbers(known: list[int]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(known),
        st.integers(),
        st.integers(min_value=MAX_ID - 2, max_value=2**70),
        st.sampled_from([0, -1, MAX_ID, MAX_ID + 1, 2**63, 2**64, -(2**63) - 1]),
    ).map(str)


def _values(known: list[int]) -> st.SearchStrategy[str]:
    return st.one_of(
        _numbers(known),
        st.text(max_size=24),
        st.sampled_from(["\ud7ff", "٣", "１２", "1e3", "0x10", " 7", "7 ", "+7", "-0", "\x00"]),
    )


class Clients:
    """A signed-in client per role; a view that ends the test's own sign-in session (an admin
    ending sessions or resetting a password with a random id) is undone and retried."""

    def __init__(self, app):
        self.app = app
        self.by_role: dict[str | None, FlaskClient] = {}

    def get(self, role: str | None) -> FlaskClient:
        if role not in self.by_role:
            client = self.app.test_client()
            if role is not None:
                assert sign_in(client, role).status_code == 302
            self.by_role[role] = client
        return self.by_role[role]

    def restore_accounts(self) -> None:
        with self.app.app_context():
            db.session.execute(
                update(User).values(
                    active=True, must_change_password=False, locked_until=None, failed_logins=0
                )
            )
            db.session.commit()
        self.by_role.clear()

    def request(self, role: str | None, method: str, url: str, endpoint: str) -> int:
        for _attempt in range(2):
            response = self.get(role).open(url, method=method)
            response.close()
            where = response.headers.get("Location", "")
            lost = role is not None and where.startswith(SIGNED_OUT)
            if not lost or endpoint.startswith("auth."):
                break
            self.restore_accounts()
        return response.status_code


def _url(rule, values: dict[str, str], query: dict[str, str]) -> str:
    path = PLACEHOLDER.sub(lambda m: quote(values[m[1]], safe=""), rule.rule)
    return f"{path}?{urlencode(query)}" if query else path


@pytest.mark.parametrize("group", GROUPS)
def test_no_route_answers_500_to_odd_parameters(app, staff, group):
    ids, admin_ids = record_ids(app)
    known = sorted(set(ids.values()) | set(admin_ids.values()) | set(staff.values()))
    rules = [r for r in app.url_map.iter_rules() if r.endpoint.split(".")[0] == group]
    assert rules, group
    clients = Clients(app)

    @settings(
        max_examples=25,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(
        values=st.fixed_dictionaries({name: _values(known) for r in rules for name in r.arguments}),
        query=st.dictionaries(st.sampled_from(QUERY_NAMES) | st.text(max_size=8), _values(known)),
    )
    def walk(values, query):
        clients.restore_accounts()
        for rule in rules:
            url = _url(rule, values, query)
            role = first_allowed_role(rule.endpoint)
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                status = clients.request(role, method, url, rule.endpoint)
                assert status < 500, (rule.endpoint, method, url, status)

    walk()


def _int_rules(app):
    return [r for r in app.url_map.iter_rules() if r.arguments and r.endpoint != "static"]


@pytest.mark.parametrize("number", [MAX_ID + 1, 2**63, 2**64 + 5, 10**30])
def test_an_id_the_database_cannot_hold_is_not_found_on_every_route(app, staff, number):
    clients = Clients(app)
    for rule in _int_rules(app):
        url = _url(rule, dict.fromkeys(rule.arguments, str(number)), {})
        role = first_allowed_role(rule.endpoint)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            assert clients.request(role, method, url, rule.endpoint) == 404, rule.endpoint


def test_the_largest_id_is_still_routed(app, as_role):
    assert as_role("nurse").get(f"/patients/{MAX_ID}").status_code == 404
    assert app.url_map.bind("").match(f"/patients/{MAX_ID}") == (
        "patients.detail",
        {"patient_id": MAX_ID},
    )


@pytest.mark.parametrize(
    ("role", "url"),
    [
        ("admin", "/admin/audit?before_id={n}"),
        ("admin", "/admin/audit?user_id={n}"),
        ("admin", "/admin/audit?patient_id={n}"),
        ("admin", "/admin/audit/export?user_id={n}"),
        ("admin", "/admin/patients/{patient}/access?before_id={n}"),
        ("nurse", "/patients/{patient}/screen?session_id={n}"),
    ],
)
@pytest.mark.parametrize(
    "number", [str(MAX_ID + 1), str(2**63), str(2**64), "-" + str(2**63 + 1), "x"]
)
def test_an_id_in_the_query_string_out_of_range_or_not_a_number_is_400(
    app, as_role, role, url, number
):
    ids, _ = record_ids(app)
    response = as_role(role).get(url.format(n=quote(number), patient=ids["patient_id"]))
    assert response.status_code == 400
    assert b"The request could not be completed." in response.data


def test_patient_search_takes_any_text(app, as_role):
    clients = {role: as_role(role) for role in ("nurse", "front_desk")}

    @settings(max_examples=40, deadline=None, database=None)
    @given(text=st.text(max_size=12) | st.sampled_from(["\ud7ff", "a\ud7ff", "\U0010ffff", "\x00"]))
    def search(text):
        assert clients["nurse"].post("/patients/", data={"q": text}).status_code == 200
        found = clients["front_desk"].post("/schedule/patients", data={"q": text})
        assert found.status_code == 200

    search()
