"""Clinic settings edited by the psychiatrist: every rule field plus the time zone, validated,
stored only when changed, each change audited, and shown with its default and last change."""

import pytest
from sqlalchemy import select

from clinic_app.clinical.ledger import StockRules
from clinic_app.clinical.review import ReviewRules
from clinic_app.clinical.rules import ClinicalRules
from clinic_app.clinical.series import SchedulingRules
from clinic_app.clinical.us_zones import US_ZONES
from clinic_app.extensions import db
from clinic_app.models import ClinicSetting
from clinic_app.review import setting_specs as specs
from clinic_app.settings import clinic_timezone, clinical_rules, review_rules, scheduling_rules
from tests.helpers import actions_by, audit_rows, count, field_error, soup, text


def _form(**changes) -> dict:
    """The settings form as the page sends it, with the defaults and `changes`."""
    data = {}
    for spec in specs.SPECS:
        value = specs.effective({})[spec.key]
        if spec.kind == specs.WEEKDAYS:
            data[spec.key] = [str(day) for day in value]
        elif spec.kind == specs.DATES:
            data[spec.key] = "\n".join(value)
        else:
            data[spec.key] = str(value)
    data.update(changes)
    return data


def _stored(app) -> dict:
    with app.app_context():
        return {row.key: row.value for row in db.session.scalars(select(ClinicSetting))}


def test_every_rule_field_and_the_time_zone_are_on_the_page():
    expected = {"timezone"}
    for rules in (ClinicalRules, ReviewRules, SchedulingRules, StockRules):
        expected |= set(rules.__dataclass_fields__)
    assert set(specs.BY_KEY) == expected
    for spec in specs.SPECS:
        if spec.kind in (specs.INT, specs.FLOAT):
            assert spec.low <= specs.from_rules(spec, spec.default) <= spec.high, spec.key


def test_settings_page_shows_value_default_and_last_change(app, as_role, staff):
    response = as_role("psychiatrist").get("/settings/clinic")
    assert response.status_code == 200
    page = text(response)
    assert "Hold dosing: systolic above" in page
    assert "140 mmHg 140 mmHg never (default)" in page  # in force, default, last change
    assert "America/Los_Angeles" in page
    assert page.count("never (default)") == len(specs.SPECS)
    html = response.get_data(as_text=True)
    assert 'name="hold_systolic"' in html and 'value="140"' in html
    assert 'name="open_weekdays"' in html


def test_changed_settings_are_stored_audited_and_applied(app, as_role, staff):
    psychiatrist = as_role("psychiatrist")
    response = psychiatrist.post(
        "/settings/clinic",
        data=_form(
            hold_systolic="145",
            timezone="America/New_York",
            closed_dates="2030-12-25, 2030-01-01",
            open_weekdays=["0", "1", "2", "3", "4", "5"],
            opening_time="07:30",
            iv_default_mg_per_kg="0.55",
        ),
    )
    assert response.status_code == 302, field_errors_of(response)
    stored = _stored(app)
    assert stored == {
        "hold_systolic": 145,
        "timezone": "America/New_York",
        "closed_dates": ["2030-01-01", "2030-12-25"],
        "open_weekdays": [0, 1, 2, 3, 4, 5],
        "opening_time": "07:30",
        "iv_default_mg_per_kg": 0.55,
    }
    with app.app_context():
        rows = db.session.scalars(select(ClinicSetting)).all()
        assert {row.updated_by_id for row in rows} == {staff["psychiatrist"]}
        assert clinical_rules().hold_systolic == 145
        assert clinical_rules().iv_default_mg_per_kg == 0.55
        assert scheduling_rules().open_weekdays == (0, 1, 2, 3, 4, 5)
        assert str(scheduling_rules().opening_time) == "07:30:00"
        assert str(clinic_timezone()) == "America/New_York"
        assert review_rules() == ReviewRules()
    events = {e.detail["key"]: e for e in audit_rows(app, "settings.change")}
    assert set(events) == set(stored)
    assert (events["hold_systolic"].detail["old"], events["hold_systolic"].detail["new"]) == (
        140,
        145,
    )
    assert events["timezone"].detail["old"] == "America/Los_Angeles"
    assert events["timezone"].user_id == staff["psychiatrist"]

    page = text(psychiatrist.get("/settings/clinic"))
    assert "145 mmHg changed 140 mmHg Test psychiatrist, MD" in page
    assert page.count("never (default)") == len(specs.SPECS) - 6

    # Saving the same values again stores and audits nothing new.
    again = psychiatrist.post(
        "/settings/clinic",
        data=_form(
            hold_systolic="145",
            timezone="America/New_York",
            closed_dates="2030-01-01\n2030-12-25",
            open_weekdays=["0", "1", "2", "3", "4", "5"],
            opening_time="07:30",
            iv_default_mg_per_kg="0.55",
        ),
    )
    assert again.status_code == 302
    assert "Nothing changed." in text(psychiatrist.get("/settings/clinic"))
    assert len(audit_rows(app, "settings.change")) == 6


def field_errors_of(response) -> str:
    return text(response)[:2000]


def test_unchanged_form_stores_nothing(app, as_role, staff):
    response = as_role("psychiatrist").post("/settings/clinic", data=_form())
    assert response.status_code == 302
    assert _stored(app) == {}
    assert audit_rows(app, "settings.change") == []


def test_back_to_the_default_keeps_who_changed_it(app, as_role, staff):
    psychiatrist = as_role("psychiatrist")
    assert psychiatrist.post("/settings/clinic", data=_form(low_spo2="90")).status_code == 302
    assert psychiatrist.post("/settings/clinic", data=_form(low_spo2="92")).status_code == 302
    assert _stored(app) == {"low_spo2": 92}
    page = text(psychiatrist.get("/settings/clinic"))
    assert "Alert at once: one SpO₂ reading below" in page
    assert "92 % 92 % Test psychiatrist, MD" in page
    assert [e.detail["new"] for e in audit_rows(app, "settings.change")] == [90, 92]


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"hold_systolic": "20"}, "hold_systolic", "Number must be between 100 and 200."),
        ({"hold_systolic": ""}, "hold_systolic", "This field is required."),
        ({"hold_systolic": "high"}, "hold_systolic", None),
        ({"low_spo2": "99"}, "low_spo2", "Number must be between 80 and 98."),
        (
            {"esketamine_min_observation_minutes": "90"},
            "esketamine_min_observation_minutes",
            "Number must be between 120 and 360.",
        ),
        (
            {"iv_default_mg_per_kg": "5"},
            "iv_default_mg_per_kg",
            "Number must be between 0.1 and 2.0.",
        ),
        (
            {"notify_systolic": "130"},
            "notify_systolic",
            "Systolic lines must rise: hold, then notify, then urgent.",
        ),
        (
            {"urgent_diastolic": "100"},
            "urgent_diastolic",
            "Diastolic lines must rise: hold, then notify, then urgent.",
        ),
        (
            {"hold_systolic_older": "130"},
            "hold_systolic_older",
            "The older-patient hold line cannot be below the general one.",
        ),
        (
            {"iv_default_minutes": "70"},
            "iv_max_minutes",
            "The default infusion length must lie between the least and the most.",
        ),
        (
            {"low_spo2": "95"},
            "low_spo2",
            "The two-reading watch line cannot be below the line that alerts on one reading.",
        ),
        (
            {"low_spo2": "95"},
            "respiratory_watch_spo2",
            "The two-reading watch line cannot be below the line that alerts on one reading.",
        ),
        ({"closing_time": "07:00"}, "closing_time", "The clinic must close after it opens."),
        ({"opening_time": "8 am"}, "opening_time", "Not a valid time value."),
        ({"open_weekdays": []}, "open_weekdays", "Choose at least one day."),
        ({"open_weekdays": ["9"]}, "open_weekdays", None),
        ({"closed_dates": "2030-13-40"}, "closed_dates", "Not a date (YYYY-MM-DD): 2030-13-40."),
        ({"timezone": "Mars/Olympus_Mons"}, "timezone", "Not a valid choice."),
        (
            {"iv_maintenance_interval_days": "50"},
            "iv_maintenance_max_days",
            "The default interval must lie between the least and the most.",
        ),
        (
            {"response_drop_percent": "5"},
            "response_drop_percent",
            "Number must be between 25 and 90.",
        ),
    ],
)
def test_bad_settings_are_refused_and_nothing_is_saved(
    app, as_role, staff, changes, field, message
):
    data = _form(hold_systolic="145", **changes) if field != "hold_systolic" else _form(**changes)
    response = as_role("psychiatrist").post("/settings/clinic", data=data)
    assert response.status_code == 400
    error = field_error(response, field)
    assert error if message is None else error == message, error
    assert "Nothing was saved" in text(response)
    assert _stored(app) == {}
    assert audit_rows(app, "settings.change") == []


@pytest.mark.parametrize("role", ["nurse", "front_desk", "admin"])
def test_only_the_psychiatrist_changes_settings(app, as_role, staff, role):
    client = as_role(role)
    assert client.get("/settings/clinic").status_code == 403
    assert client.post("/settings/clinic", data=_form(hold_systolic="150")).status_code == 403
    assert count(app, ClinicSetting) == 0
    assert actions_by(app, staff[role]) == set()


def test_the_settings_service_refuses_other_roles(app, staff):
    from clinic_app.errors import PermissionDenied
    from clinic_app.review import services
    from tests import factories

    with app.app_context():
        with pytest.raises(PermissionDenied):
            services.update_settings(factories.user("nurse"), {"hold_systolic": 150})
        db.session.rollback()
    assert count(app, ClinicSetting) == 0


def test_other_clinic_settings_rows_are_left_alone(app, as_role, staff):
    with app.app_context():
        db.session.add(ClinicSetting(key="mfa_required_roles", value=["admin"]))
        db.session.commit()
    response = as_role("psychiatrist").post("/settings/clinic", data=_form(hold_diastolic="95"))
    assert response.status_code == 302
    assert _stored(app) == {"mfa_required_roles": ["admin"], "hold_diastolic": 95}


def _zone_options(response) -> dict[str, str]:
    select_ = soup(response).find("select", id="timezone")
    return {o["value"]: o.get_text(strip=True) for o in select_("option")}


def test_the_clinic_time_zone_offers_the_us_zones_site_forms_use(app, as_role, staff):
    psychiatrist = as_role("psychiatrist")
    options = _zone_options(psychiatrist.get("/settings/clinic"))
    assert list(options) == list(US_ZONES)
    assert options["America/New_York"] == "America/New_York — Eastern (most areas)"
    refused = psychiatrist.post("/settings/clinic", data=_form(timezone="Europe/London"))
    assert refused.status_code == 400
    assert field_error(refused, "timezone") == "Not a valid choice."
    assert "timezone" not in _stored(app)


def test_a_stored_non_us_clinic_zone_is_shown_and_can_be_changed(app, as_role, staff):
    with app.app_context():
        db.session.add(ClinicSetting(key="timezone", value="Europe/London"))
        db.session.commit()
    psychiatrist = as_role("psychiatrist")
    page = psychiatrist.get("/settings/clinic")
    options = _zone_options(page)
    assert options["Europe/London"] == "Europe/London (not a US zone)"
    chosen = soup(page).find("select", id="timezone").find("option", selected=True)
    assert chosen["value"] == "Europe/London"
    # Saving another setting keeps it; another non-US zone is refused; a US one replaces it.
    kept = psychiatrist.post(
        "/settings/clinic", data=_form(timezone="Europe/London", hold_systolic="145")
    )
    assert kept.status_code == 302
    assert _stored(app)["timezone"] == "Europe/London"
    other = psychiatrist.post("/settings/clinic", data=_form(timezone="Europe/Paris"))
    assert other.status_code == 400
    changed = psychiatrist.post("/settings/clinic", data=_form(timezone="America/Chicago"))
    assert changed.status_code == 302
    assert _stored(app)["timezone"] == "America/Chicago"
    assert "Europe/London" not in _zone_options(psychiatrist.get("/settings/clinic"))


def test_the_settings_service_refuses_a_new_non_us_zone_but_keeps_a_stored_one(app, staff):
    from clinic_app.errors import FieldErrors
    from clinic_app.review import services
    from tests import factories

    with app.app_context():
        psychiatrist = factories.user("psychiatrist")
        with pytest.raises(FieldErrors) as refused:
            services.update_settings(psychiatrist, {"timezone": "Europe/Paris"})
        assert refused.value.errors == {"timezone": "Choose a US time zone from the list."}
        db.session.rollback()
        db.session.add(ClinicSetting(key="timezone", value="Europe/London"))
        db.session.commit()
        assert services.update_settings(psychiatrist, {"timezone": "Europe/London"}) == []
        assert services.update_settings(psychiatrist, {"timezone": "America/Denver"}) == [
            "timezone"
        ]
