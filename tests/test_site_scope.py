"""The current site: which sites a user may open, what they see by default, and the picker that
remembers their choice in the database."""

import pytest
from flask import g
from flask_login import login_user
from sqlalchemy import select
from werkzeug.exceptions import NotFound

from clinic_app import site_scope
from clinic_app.errors import PermissionDenied, RuleViolation
from clinic_app.extensions import db
from clinic_app.models import AuditEvent, User
from tests import factories
from tests.helpers import flashes

NY = "America/New_York"


@pytest.fixture
def two_sites(app, staff):
    """MAIN (Los Angeles, every role) and NYC (New York): the psychiatrist, the admin and a
    second nurse work at both; `nurse` only at MAIN."""
    with app.app_context():
        nyc = factories.site("NYC", NY, name="Midtown")
        for username in ("psychiatrist", "admin"):
            overseer = factories.user(username)
            overseer.sites.append(nyc)
        both = factories.make_user("nurse", "nurse2", password="correct-horse-battery")
        both.sites.extend([factories.site(), nyc])
        db.session.commit()
        return {"MAIN": factories.site().id, "NYC": nyc.id}


def _scope(app, username: str, requested: str | None):
    with app.app_context():
        return _codes(site_scope.resolve_scope(factories.user(username), requested))


def _codes(scope) -> tuple[str, tuple[str, ...], bool]:
    return scope.code, tuple(site.code for site in scope.choices), scope.may_see_all


def test_a_one_site_user_always_gets_their_site_and_no_picker(app, two_sites):
    assert _scope(app, "nurse", None) == ("MAIN", ("MAIN",), False)
    assert _scope(app, "nurse", "main") == ("MAIN", ("MAIN",), False)
    with app.app_context():
        assert not site_scope.resolve_scope(factories.user("nurse"), None).shows_picker


def test_another_sites_code_is_refused_and_an_unknown_code_is_not_found(app, two_sites):
    with app.app_context():
        nurse = factories.user("nurse")
        with pytest.raises(PermissionDenied):
            site_scope.resolve_scope(nurse, "NYC")
        with pytest.raises(LookupError):
            site_scope.resolve_scope(nurse, "NOPE")
        with pytest.raises(PermissionDenied):
            site_scope.require_site_access(nurse, two_sites["NYC"])
        site_scope.require_site_access(nurse, two_sites["MAIN"])


def test_all_sites_is_for_the_psychiatrist_and_the_admin(app, two_sites):
    assert _scope(app, "psychiatrist", None) == ("ALL", ("NYC", "MAIN"), True)
    assert _scope(app, "admin", "all") == ("ALL", ("NYC", "MAIN"), True)
    assert _scope(app, "psychiatrist", "NYC")[0] == "NYC"
    assert _scope(app, "nurse2", None)[0] == "NYC"  # first by name: Midtown before Site MAIN
    with app.app_context(), pytest.raises(PermissionDenied):
        site_scope.resolve_scope(factories.user("nurse2"), "ALL")


def test_all_sites_filters_on_every_site_of_the_user(app, two_sites):
    with app.app_context():
        scope = site_scope.resolve_scope(factories.user("psychiatrist"), "ALL")
        assert set(scope.site_ids) == set(two_sites.values())
        assert scope.spans_sites and scope.label == "All sites"
        assert scope.url_args == {"site": "ALL"}


def test_a_closed_site_is_no_longer_offered(app, two_sites):
    with app.app_context():
        factories.site("NYC").active = False
        db.session.commit()
    assert _scope(app, "nurse2", None) == ("MAIN", ("MAIN",), False)
    with app.app_context(), pytest.raises(LookupError):  # no open site has that code: 404
        site_scope.resolve_scope(factories.user("nurse2"), "NYC")


def test_a_user_at_no_open_site_is_refused(app, staff):
    with app.app_context():
        factories.site().active = False
        db.session.commit()
        with pytest.raises(PermissionDenied):
            site_scope.resolve_scope(factories.user("nurse"), None)


def test_a_scoped_page_shows_its_times_in_the_sites_zone(app, two_sites):
    with app.test_request_context("/today?site=nyc"):
        login_user(factories.user("nurse2"))
        assert site_scope.page_scope().code == "NYC"
        assert g.page_timezone == NY
    with app.test_request_context("/today?site=ALL"):
        login_user(factories.user("psychiatrist"))
        assert site_scope.page_scope().site is None
        assert "page_timezone" not in g  # rows show their own site's zone
    with app.test_request_context("/today?site=WHERE"):
        login_user(factories.user("nurse2"))
        with pytest.raises(NotFound):
            site_scope.page_scope()


def test_the_picker_remembers_the_choice_in_the_database(app, two_sites, as_role):
    client = as_role("psychiatrist")
    response = client.post("/current-site", data={"site": "nyc", "next": "/today?site=ALL&x=1"})
    assert response.status_code == 303
    assert response.headers["Location"] == "/today?x=1"
    assert ("info", "Showing Midtown.") in flashes(client.get("/account"))
    with app.app_context():
        psychiatrist = factories.user("psychiatrist")
        assert psychiatrist.current_site_id == two_sites["NYC"]
        assert site_scope.resolve_scope(psychiatrist, None).code == "NYC"
        audited = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "site.choose")
        ).all()
        assert [event.detail for event in audited] == [{"site": "NYC"}]
    client.post("/current-site", data={"site": "ALL", "next": "/today"})
    with app.app_context():
        assert db.session.get(User, factories.user("psychiatrist").id).current_site_id is None


def test_the_picker_refuses_another_site_and_keeps_the_choice(app, two_sites, as_role):
    client = as_role("nurse2")
    assert client.post("/current-site", data={"site": "NYC"}).status_code == 303
    assert client.post("/current-site", data={"site": "ALL"}).status_code == 403
    response = client.post("/current-site", data={"site": "ZZZ", "next": "//evil.example/"})
    assert response.status_code == 303 and response.headers["Location"].startswith("/")
    assert ("danger", "Choose one of your sites.") in flashes(client.get("/account"))
    assert client.post("/current-site", data={"site": ""}).status_code == 400
    with app.app_context():
        assert factories.user("nurse2").current_site_id == two_sites["NYC"]


def test_choose_site_needs_a_code(app, two_sites):
    with app.app_context(), pytest.raises(RuleViolation):
        site_scope.choose_site(factories.user("psychiatrist"), "")
