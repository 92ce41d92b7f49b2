"""Sites, kept by the admin: list, create, edit, close (refused while visits are booked on its
chairs) and reopen, every change audited; bad input refused next to its field with nothing saved;
which sites staff work at, from the user form, the user page and `flask users create --site`."""

from datetime import date, timedelta

import pytest
from bs4 import BeautifulSoup
from sqlalchemy import select

from clinic_app.clinical.us_zones import US_ZONES
from clinic_app.clock import utcnow
from clinic_app.extensions import db
from clinic_app.models import AuditEvent, Chair, Site, User
from tests import factories
from tests.admin import GOOD_SITE, STRONG_PASSWORD, actions, last_event
from tests.helpers import count, field_error, text
from tests.review import builders
from tests.scheduling.builders import book_visit


def _site(app, code: str) -> Site | None:
    with app.app_context():
        site = db.session.scalar(select(Site).where(Site.code == code))
        if site is not None:
            db.session.expunge(site)
        return site


def _make_site(app, code: str, **fields) -> int:
    with app.app_context():
        site_id = factories.site(code, **fields).id
        db.session.commit()
        return site_id


def _chairs(app, code: str, *names: str) -> list[int]:
    with app.app_context():
        chairs = [Chair(name=name, site=factories.site(code)) for name in names]
        db.session.add_all(chairs)
        db.session.commit()
        return [chair.id for chair in chairs]


def _book(app, chair_id: int, hours_from_now: float, status: str = "scheduled") -> None:
    with app.app_context():
        patient, course = builders.patient_with_course(last_name=f"Booked{chair_id}")
        db.session.commit()
        ids = patient.id, course.id
    start = utcnow() + timedelta(hours=hours_from_now)
    book_visit(app, *ids, chair_id, start, minutes=120, status=status)


# --- create --------------------------------------------------------------------------------


def test_the_admin_adds_a_site_and_it_is_listed(app, as_role, staff):
    admin = as_role("admin")
    form = admin.get("/admin/sites/new")
    assert form.status_code == 200
    assert (
        '<option selected value="America/Los_Angeles">' in form.text
    )  # the clinic's zone to start

    response = admin.post("/admin/sites/new", data=GOOD_SITE)
    assert response.status_code == 302
    site = _site(app, "DTLA")
    assert site is not None
    assert (site.name, site.address, site.dea_number, site.rems_certified, site.active) == (
        "Downtown LA",
        "350 S Grand Ave, Suite 400, Los Angeles, CA 90071",
        "BJ1234563",
        True,
        True,
    )
    event = last_event(app, "site.create")
    assert (event.user_id, event.entity_type, event.entity_id, event.detail) == (
        staff["admin"],
        "Site",
        site.id,
        {"code": "DTLA", "name": "Downtown LA"},
    )
    page = text(admin.get("/admin/sites"))
    assert "Downtown LA (DTLA) added." in page
    assert "Downtown LA DTLA 350 S Grand Ave, Suite 400, Los Angeles, CA 90071" in page
    assert "HCS-12345, certified 15 Jan 2026" in page
    assert "BJ1234563" in page


# Two days ahead: in the future in every time zone.
LATER = (date.today() + timedelta(days=2)).isoformat()


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"name": " "}, "name", "Give the site a name."),
        ({"name": "Midtown"}, "name", "Another site already has this name."),
        ({"code": "D"}, "code", "2 to 12 capital letters"),
        ({"code": "DT LA"}, "code", "2 to 12 capital letters"),
        ({"code": "9DT"}, "code", "2 to 12 capital letters"),
        ({"code": "nyc"}, "code", "Another site already has this code."),
        ({"address_line1": ""}, "address_line1", "Give the street address."),
        ({"city": ""}, "city", "Give the city."),
        ({"state": ""}, "state", "Choose the state"),
        ({"state": "ZZ"}, "state", "Not a valid choice"),
        ({"zip_code": "9007"}, "zip_code", "A ZIP code is 5 digits"),
        ({"zip_code": "90071-12"}, "zip_code", "A ZIP code is 5 digits"),
        ({"timezone": "Mars/Olympus"}, "timezone", "Not a valid choice"),
        ({"timezone": "Europe/London"}, "timezone", "Not a valid choice"),
        ({"timezone": "America/Chicago"}, "timezone", "not a time zone of CA"),
        (
            {"city": "Chicago", "state": "IL", "zip_code": "60601"},
            "timezone",
            "America/Los_Angeles is not a time zone of IL: choose America/Chicago.",
        ),
        ({"rems_setting_id": ""}, "rems_setting_id", "Give the REMS healthcare setting ID"),
        ({"rems_certified_on": ""}, "rems_certified_on", "Give the date the REMS certified"),
        ({"rems_certified_on": LATER}, "rems_certified_on", "cannot be in the future"),
        ({"dea_number": "B1234563"}, "dea_number", "two letters then seven digits"),
        ({"dea_number": "BJ12345678"}, "dea_number", "two letters then seven digits"),
        ({"dea_number": "ZJ1234563"}, "dea_number", "Z is not one"),
        ({"dea_number": "BJ1234564"}, "dea_number", "does not match the DEA check digit"),
    ],
)
def test_bad_site_input_is_refused_next_to_its_field(app, as_role, staff, change, field, message):
    _make_site(app, "NYC", name="Midtown")
    admin = as_role("admin")
    before, sites_before = actions(app), count(app, Site)
    response = admin.post("/admin/sites/new", data=GOOD_SITE | change)
    assert response.status_code == 400
    assert message in (field_error(response, field) or "")
    assert 'value="350 S Grand Ave"' in response.text or field == "address_line1"  # input kept
    assert count(app, Site) == sites_before
    assert actions(app) == before


def test_the_zone_list_offers_us_zones_only(app, as_role, staff):
    page = BeautifulSoup(as_role("admin").get("/admin/sites/new").text, "html.parser")
    offered = [option["value"] for option in page.select("select[name=timezone] option")]
    assert offered[0] == ""
    assert offered[1:] == list(US_ZONES)
    assert {"America/Chicago", "America/Indiana/Indianapolis", "Pacific/Honolulu"} <= set(offered)
    assert not {"Europe/London", "UTC", "Asia/Tokyo", "US/Pacific"} & set(offered)


def test_a_site_saved_before_on_another_states_zone_shows_it_and_must_change_it(
    app, as_role, staff
):
    site_id = _make_site(
        app, "CHI", name="Loop", city="Chicago", state="IL", timezone="America/Los_Angeles"
    )
    _make_site(app, "OLD", name="Old", state="IL", timezone="UTC")
    admin = as_role("admin")
    data = GOOD_SITE | {"name": "Loop", "code": "CHI", "city": "Chicago", "state": "IL"}
    data |= {"zip_code": "60601", "dea_number": ""}
    response = admin.post(f"/admin/sites/{site_id}", data=data | {"phone": "312-555-0100"})
    assert response.status_code == 400
    assert field_error(response, "timezone").startswith("America/Los_Angeles is not a time zone")
    assert _site(app, "CHI").phone == ""  # nothing saved
    response = admin.post(f"/admin/sites/{site_id}", data=data | {"timezone": "America/Chicago"})
    assert response.status_code == 302
    assert _site(app, "CHI").timezone == "America/Chicago"
    # A zone outside the list is shown as stored, and refused.
    old = _site(app, "OLD")
    page = admin.get(f"/admin/sites/{old.id}")
    assert '<option selected value="UTC">UTC (not a US zone)</option>' in page.text
    data = GOOD_SITE | {"name": "Old", "code": "OLD", "state": "IL", "dea_number": ""}
    response = admin.post(f"/admin/sites/{old.id}", data=data | {"timezone": "UTC"})
    assert response.status_code == 400
    assert field_error(response, "timezone") == "Choose a US time zone from the list."


def test_every_rule_the_service_refuses_is_shown_at_once(app, as_role, staff):
    response = as_role("admin").post(
        "/admin/sites/new",
        data=GOOD_SITE | {"zip_code": "1", "dea_number": "BJ1234560", "rems_setting_id": ""},
    )
    assert response.status_code == 400
    assert field_error(response, "zip_code").startswith("A ZIP code is 5 digits")
    assert field_error(response, "dea_number").startswith("The last digit does not match")
    assert field_error(response, "rems_setting_id").startswith("Give the REMS")


def test_an_uncertified_site_needs_no_rems_id_and_no_dea_number(app, as_role, staff):
    data = GOOD_SITE | {"rems_setting_id": "", "rems_certified_on": "", "dea_number": ""}
    del data["rems_certified"]
    assert as_role("admin").post("/admin/sites/new", data=data).status_code == 302
    site = _site(app, "DTLA")
    assert (site.rems_certified, site.rems_setting_id, site.dea_number) == (False, "", "")
    assert "not certified" in text(as_role("admin").get("/admin/sites"))


# --- edit ----------------------------------------------------------------------------------


def test_editing_a_site_saves_and_audits_the_changed_fields(app, as_role, staff):
    admin = as_role("admin")
    admin.post("/admin/sites/new", data=GOOD_SITE)
    site = _site(app, "DTLA")
    page = admin.get(f"/admin/sites/{site.id}")
    assert page.status_code == 200 and 'value="HCS-12345"' in page.text

    moved = {"name": "Downtown Los Angeles", "state": "NV", "timezone": "America/Denver"}
    response = admin.post(f"/admin/sites/{site.id}", data=GOOD_SITE | moved)
    assert response.status_code == 302
    site = _site(app, "DTLA")
    assert (site.name, site.timezone) == ("Downtown Los Angeles", "America/Denver")
    assert last_event(app, "site.update").detail == {
        "fields": ["name", "state", "timezone"],
        "code": "DTLA",
    }
    # The same values again change nothing and write nothing.
    admin.post(f"/admin/sites/{site.id}", data=GOOD_SITE | moved)
    assert actions(app).count("site.update") == 1
    assert "Nothing changed." in text(admin.get("/admin/sites"))


def test_an_edit_may_keep_its_own_code_but_not_take_another(app, as_role, staff):
    other = _make_site(app, "NYC", name="Midtown")
    admin = as_role("admin")
    admin.post("/admin/sites/new", data=GOOD_SITE)
    site = _site(app, "DTLA")
    response = admin.post(f"/admin/sites/{site.id}", data=GOOD_SITE | {"code": "NYC"})
    assert response.status_code == 400
    assert field_error(response, "code") == "Another site already has this code."
    assert _site(app, "NYC").id == other
    assert admin.get("/admin/sites/999").status_code == 404


# --- close and reopen ----------------------------------------------------------------------


def test_a_site_with_visits_booked_ahead_cannot_be_closed(app, as_role, staff):
    site_id = _make_site(app, "DTLA", name="Downtown LA")
    chair_id, _ = _chairs(app, "DTLA", "Chair 1", "Chair 2")
    _book(app, chair_id, hours_from_now=3)
    _book(app, chair_id, hours_from_now=26)
    admin = as_role("admin")
    assert "2 visits" in text(admin.get("/admin/sites"))

    response = admin.post(f"/admin/sites/{site_id}/deactivate")
    assert response.status_code == 400
    assert "Downtown LA has 2 visits booked from now on: move them to another site first." in text(
        response
    )
    assert _site(app, "DTLA").active
    with app.app_context():
        assert all(chair.active for chair in db.session.scalars(select(Chair)))
    assert "site.deactivate" not in actions(app)


def test_closing_takes_its_chairs_out_of_service_and_reopening_leaves_them_out(app, as_role, staff):
    site_id = _make_site(app, "DTLA", name="Downtown LA")
    _make_site(app, "NYC", name="Midtown")
    chair_id, resting_id = _chairs(app, "DTLA", "Chair 1", "Chair 2")
    (elsewhere_id,) = _chairs(app, "NYC", "Chair 1")
    _book(app, chair_id, hours_from_now=-30)  # past visits do not hold a site open
    _book(app, chair_id, hours_from_now=30, status="cancelled")  # nor do cancelled ones
    _book(app, elsewhere_id, hours_from_now=5)  # nor visits at another site
    with app.app_context():
        db.session.get(Chair, resting_id).active = False
        db.session.commit()
    admin = as_role("admin")

    response = admin.post(f"/admin/sites/{site_id}/deactivate")
    assert response.status_code == 302
    assert "Downtown LA (DTLA) is closed; 1 chair left service with it." in text(
        admin.get("/admin/sites")
    )
    with app.app_context():
        active = {chair.id: chair.active for chair in db.session.scalars(select(Chair))}
    assert active == {chair_id: False, resting_id: False, elsewhere_id: True}
    assert last_event(app, "site.deactivate").detail == {
        "code": "DTLA",
        "chairs_out_of_service": [chair_id],
    }
    again = admin.post(f"/admin/sites/{site_id}/deactivate")
    assert again.status_code == 400 and "Downtown LA is already inactive." in text(again)

    assert admin.post(f"/admin/sites/{site_id}/reactivate").status_code == 302
    assert _site(app, "DTLA").active
    with app.app_context():
        assert not db.session.get(Chair, chair_id).active
    assert actions(app, staff["admin"])[-2:] == ["site.deactivate", "site.reactivate"]


# --- staff at sites ------------------------------------------------------------------------

NEW_USER = {
    "username": "jsmith",
    "full_name": "Jo Smith",
    "role": "nurse",
    "password": STRONG_PASSWORD,
    "confirm": STRONG_PASSWORD,
}


def _sites_of(app, username: str) -> list[str]:
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == username))
        return [site.code for site in user.sites]


def test_the_user_form_picks_one_or_more_open_sites(app, as_role, staff):
    dtla = _make_site(app, "DTLA", name="Downtown LA")
    nyc = _make_site(app, "NYC", name="Midtown", timezone="America/New_York")
    closed = _make_site(app, "OLD", name="Old Town", active=False)
    admin = as_role("admin")
    form = admin.get("/admin/users/new").text
    assert "Downtown LA (DTLA)" in form and "Midtown (NYC)" in form
    assert "Old Town" not in form

    none = admin.post("/admin/users/new", data=NEW_USER)
    assert none.status_code == 400
    assert field_error(none, "sites") == "Choose at least one site."
    bad = admin.post("/admin/users/new", data=NEW_USER | {"sites": [dtla, closed]})
    assert bad.status_code == 400 and field_error(bad, "sites") == (
        f"'{closed}' is not a valid choice for this field."
    )
    assert count(app, User, User.username == "jsmith") == 0

    response = admin.post("/admin/users/new", data=NEW_USER | {"sites": [nyc, dtla]})
    assert response.status_code == 302
    assert _sites_of(app, "jsmith") == ["DTLA", "NYC"]
    assert last_event(app, "user.create").detail == {
        "role_assigned": "nurse",
        "sites": ["DTLA", "NYC"],
    }


def test_without_an_open_site_the_user_form_says_to_add_one(app, as_role, staff):
    with app.app_context():
        factories.site().active = False
        db.session.commit()
    page = text(as_role("admin").get("/admin/users/new"))
    assert "No site is open yet: add a site first" in page


def test_the_admin_changes_which_sites_someone_works_at(app, as_role, staff):
    _make_site(app, "DTLA", name="Downtown LA")
    nyc = _make_site(app, "NYC", name="Midtown")
    _make_site(app, "OLD", name="Old Town")
    with app.app_context():
        nurse = db.session.get(User, staff["nurse"])
        nurse.sites = [factories.site("DTLA"), factories.site("OLD")]
        factories.site("OLD").active = False
        db.session.commit()
    admin = as_role("admin")
    page = admin.get(f"/admin/users/{staff['nurse']}")
    assert "Also at closed site: Old Town (OLD)." in text(page)

    refused = admin.post(f"/admin/users/{staff['nurse']}/sites", data={})
    assert refused.status_code == 400
    assert field_error(refused, "sites") == "Choose at least one site."

    response = admin.post(f"/admin/users/{staff['nurse']}/sites", data={"sites": [nyc]})
    assert response.status_code == 302
    assert _sites_of(app, "nurse") == ["NYC", "OLD"]  # a closed site stays as it was
    assert last_event(app, "user.sites").detail == {
        "before": ["DTLA", "OLD"],
        "after": ["NYC", "OLD"],
    }
    admin.post(f"/admin/users/{staff['nurse']}/sites", data={"sites": [nyc]})
    assert actions(app).count("user.sites") == 1


# --- the CLI -------------------------------------------------------------------------------


def _create(runner, *args: str):
    return runner.invoke(
        args=["users", "create", "rita", "--role", "nurse", *args],
        input="a-long-enough-password\n",
    )


def test_cli_users_join_the_sites_named(app, runner):
    _make_site(app, "DTLA", name="Downtown LA")
    _make_site(app, "NYC", name="Midtown")
    _make_site(app, "SFO", name="Mission")
    result = _create(runner, "--site", "nyc", "--site", "DTLA", "--site", "NYC")
    assert result.exit_code == 0, result.output
    assert "Created rita (nurse) at DTLA, NYC." in result.output
    assert _sites_of(app, "rita") == ["DTLA", "NYC"]


def test_cli_users_without_site_join_every_open_site(app, runner):
    _make_site(app, "DTLA", name="Downtown LA")
    _make_site(app, "NYC", name="Midtown")
    _make_site(app, "OLD", name="Old Town", active=False)
    result = _create(runner)
    assert result.exit_code == 0, result.output
    assert _sites_of(app, "rita") == ["DTLA", "NYC"]


@pytest.mark.parametrize("code", ["LAX", "OLD"])
def test_cli_refuses_an_unknown_or_closed_site(app, runner, code):
    _make_site(app, "DTLA", name="Downtown LA")
    _make_site(app, "OLD", name="Old Town", active=False)
    result = _create(runner, "--site", "DTLA", "--site", code)
    assert result.exit_code != 0
    assert f"No open site has the code {code}" in result.output
    with app.app_context():
        assert db.session.scalar(select(User).where(User.username == "rita")) is None
        assert (
            db.session.scalar(select(AuditEvent).where(AuditEvent.action == "user.create")) is None
        )


def test_a_dea_number_another_site_has_is_refused(app, as_role, staff):
    _make_site(app, "NYC", name="Midtown", dea_number="BJ1234563")
    response = as_role("admin").post("/admin/sites/new", data=GOOD_SITE)
    assert response.status_code == 400
    assert field_error(response, "dea_number") == (
        "Another site already has this DEA registration number."
    )
