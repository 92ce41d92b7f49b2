"""The audit trail screen: filters, keyset pages, CSV export, and the chart access report."""

import csv
import io
import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

from bs4 import BeautifulSoup
from sqlalchemy import select

from clinic_app import audit, clock
from clinic_app.admin import queries
from clinic_app.extensions import db
from clinic_app.models import AuditEvent, User
from clinic_app.settings import clinic_today, day_bounds_utc
from tests import factories
from tests.admin import last_event
from tests.helpers import count_statements, page_statements


def _patients(app, count: int) -> list[tuple[int, str]]:
    with app.app_context():
        patients = [factories.make_patient() for _ in range(count)]
        db.session.commit()
        return [(p.id, p.mrn) for p in patients]


def _seed(app, count: int, patients: list[tuple[int, str]], action: str = "test.row") -> None:
    """`count` audit rows numbered n=0.. (oldest first), spread over the staff and `patients`."""
    with app.app_context():
        users = db.session.scalars(select(User).order_by(User.id)).all()
        for n in range(count):
            patient_id = patients[n % len(patients)][0] if patients else None
            audit.record(users[n % len(users)], action, patient_id=patient_id, n=n)
        db.session.commit()


def _numbers(html: str) -> list[int]:
    """The `n` of each audit row's detail, in page order."""
    cells = BeautifulSoup(html, "html.parser").select("tbody td.text-break")
    return [
        int(part.removeprefix("n="))
        for cell in cells
        for part in cell.get_text().split("; ")
        if part.startswith("n=")
    ]


def _older_link(html: str) -> str | None:
    link = BeautifulSoup(html, "html.parser").find("a", rel="next", string="Older")
    return link["href"] if link else None


# --- the page ------------------------------------------------------------------------------


def test_audit_page_shows_rows_newest_first_and_is_itself_audited(app, as_role, staff):
    ((patient_id, mrn),) = _patients(app, 1)
    _seed(app, 3, [(patient_id, mrn)])
    admin = as_role("admin")
    page = admin.get("/admin/audit?action=test.")
    assert page.status_code == 200
    html = page.data.decode()
    assert _numbers(html) == [2, 1, 0]
    for text in ("test.row", mrn, "cli", "success", "psychiatrist</a>"):
        assert text in html
    event = last_event(app, "audit.view")
    assert (event.user_id, event.role, event.patient_id) == (staff["admin"], "admin", None)
    assert event.detail == {"filter": {"action": "test."}}
    assert "Older" not in html


def test_an_unfiltered_view_is_audited_without_a_filter(app, as_role, staff):
    assert as_role("admin").get("/admin/audit").status_code == 200
    event = last_event(app, "audit.view")
    assert (event.user_id, event.patient_id, event.detail) == (staff["admin"], None, {})


def test_audit_times_are_clinic_local(app, as_role):
    clock.freeze(clock.utcnow().replace(year=2031, month=7, day=1, hour=19, minute=5))
    _seed(app, 1, [])
    clock.reset()
    html = as_role("admin").get("/admin/audit?action=test.").data.decode()
    assert "1 Jul 2031 12:05" in html  # 19:05 UTC is 12:05 in Los Angeles (PDT)


def test_search_by_mrn_posts_and_redirects_with_the_patient_id_only(app, as_role, staff):
    (first, second) = _patients(app, 2)
    _seed(app, 6, [first, second])
    admin = as_role("admin")
    response = admin.post("/admin/audit", data={"user_id": "0", "mrn": f"  {second[1]} "})
    assert response.status_code == 302
    location = response.headers["Location"]
    assert second[1] not in location
    assert parse_qs(urlsplit(location).query) == {"patient_id": [str(second[0])]}
    html = admin.get(location).data.decode()
    # The patient's own rows: the seeded odd ones and the registration.
    assert _numbers(html) == [5, 3, 1]
    assert "patient.create" in html
    assert first[1] not in html
    assert f'value="{second[1]}"' in html  # the form shows the MRN typed
    assert f"/admin/patients/{second[0]}/access" in html
    assert last_event(app, "audit.view").patient_id == second[0]


def test_search_by_unknown_mrn_is_a_field_error(app, as_role):
    admin = as_role("admin")
    response = admin.post("/admin/audit", data={"user_id": "0", "mrn": "NOPE-1"})
    assert response.status_code == 400
    assert b'id="mrn-error"' in response.data
    assert b"No patient has this MRN." in response.data


def test_search_by_user_dates_and_action(app, as_role, staff):
    patients = _patients(app, 1)
    with app.app_context():
        today = clinic_today()
        start, _ = day_bounds_utc(today - timedelta(days=3))
    clock.freeze(start + timedelta(hours=10))
    _seed(app, 4, patients)  # three days ago
    clock.freeze(start + timedelta(days=2, hours=10))
    _seed(app, 4, patients, action="test.other")  # yesterday
    clock.reset()
    admin = as_role("admin")

    response = admin.post(
        "/admin/audit",
        data={
            "user_id": str(staff["nurse"]),
            "start": (today - timedelta(days=4)).isoformat(),
            "end": (today - timedelta(days=2)).isoformat(),
            "action": "test.",
        },
    )
    assert response.status_code == 302
    query = parse_qs(urlsplit(response.headers["Location"]).query)
    assert set(query) == {"user_id", "start", "end", "action"}
    html = admin.get(response.headers["Location"]).data.decode()
    nurse_rows = [n for n in range(4) if n % 4 == sorted(staff.values()).index(staff["nurse"])]
    assert _numbers(html) == nurse_rows
    assert "test.other" not in html

    html = admin.get("/admin/audit?action=test.oth").data.decode()
    assert _numbers(html) == [3, 2, 1, 0]
    assert "test.row" not in html

    yesterday = (today - timedelta(days=1)).isoformat()
    html = admin.get(f"/admin/audit?start={yesterday}&end={yesterday}").data.decode()
    assert _numbers(html) == [3, 2, 1, 0]
    assert "test.row" not in html


def test_bad_search_input_is_a_400_with_field_errors(app, as_role):
    admin = as_role("admin")
    response = admin.post(
        "/admin/audit",
        data={"user_id": "0", "start": "2030-02-02", "end": "2030-01-01", "action": "x'; --"},
    )
    assert response.status_code == 400
    assert b'id="end-error"' in response.data
    assert b'id="action-error"' in response.data
    for query in ("before_id=abc", "start=yesterday", "action=DROP%20TABLE", "user_id=-1"):
        assert admin.get(f"/admin/audit?{query}").status_code == 400, query
    assert admin.get("/admin/audit?patient_id=9999").status_code == 404


# --- keyset pages --------------------------------------------------------------------------


def test_older_pages_are_disjoint_and_in_order(app, as_role):
    _seed(app, 120, [])
    admin = as_role("admin")
    url = "/admin/audit?action=test."
    pages = []
    while url:
        html = admin.get(url).data.decode()
        pages.append(_numbers(html))
        url = _older_link(html)
        if url:
            assert "before_id=" in url
            assert "action=test." in url  # the filter carries over
    assert [len(p) for p in pages] == [50, 50, 20]
    last_view = last_event(app, "audit.view")
    assert last_view.detail["filter"] == {"action": "test."}
    assert isinstance(last_view.detail["before_id"], int)
    everything = [n for page in pages for n in page]
    assert everything == list(range(119, -1, -1))


def test_audit_page_query_uses_ids_not_offsets(app, staff):
    _seed(app, 7, [])
    with app.app_context():
        where = queries.AuditFilter(action="test.")
        first, older = queries.audit_page(where, size=3)
        second, older2 = queries.audit_page(where, older, size=3)
        third, older3 = queries.audit_page(where, older2, size=3)
        ids = [r.event.id for r in first + second + third]
        assert ids == sorted(ids, reverse=True)
        assert len(set(ids)) == 7
        assert older3 is None
        assert older == first[-1].event.id
    with count_statements(app) as statements, app.app_context():
        queries.audit_page(queries.AuditFilter(), older, size=3)
    # Paged by "id < before_id" (SQLite renders every LIMIT as "LIMIT ? OFFSET ?", with 0).
    assert re.search(r"audit_events\.id < (\?|%\(id_1\)s)", statements[-1])


def test_the_audit_page_runs_the_same_statements_for_5_or_120_rows(app, as_role, staff):
    patients = _patients(app, 30)
    admin = as_role("admin")
    clock.freeze(clock.utcnow())  # no "last seen" touch between the two requests
    _seed(app, 5, patients)
    few = page_statements(app, admin, "/admin/audit")
    _seed(app, 115, patients)
    many = page_statements(app, admin, "/admin/audit")
    assert few == many, (few, many)
    assert few <= 12, few


# --- CSV export ----------------------------------------------------------------------------


def test_csv_export_has_a_header_and_the_filtered_rows(app, as_role, staff):
    (first, second) = _patients(app, 2)
    _seed(app, 6, [first, second])
    admin = as_role("admin")
    response = admin.get(f"/admin/audit/export?patient_id={first[0]}&action=test.")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment; filename=")
    assert first[1] not in disposition
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0] == list(
        (
            "time",
            "username",
            "role",
            "action",
            "entity_type",
            "entity_id",
            "patient_mrn",
            "outcome",
            "request_id",
            "detail",
        )
    )
    body = rows[1:]
    assert [r[9] for r in body] == ['{"n": 4}', '{"n": 2}', '{"n": 0}']
    assert {r[6] for r in body} == {first[1]}
    assert {r[3] for r in body} == {"test.row"}
    event = last_event(app, "audit.export")
    assert (event.user_id, event.patient_id, event.detail) == (
        staff["admin"],
        first[0],
        {"filter": {"action": "test."}},
    )


def test_csv_export_streams_every_page_and_defuses_formulas(app, as_role, staff):
    _seed(app, 230, [])
    with app.app_context():
        patient = factories.make_patient(mrn="=SUM(A1)")
        audit.record(None, "test.row", patient_id=patient.id, n=999)
        db.session.commit()
    admin = as_role("admin")
    response = admin.get("/admin/audit/export?action=test.")
    assert response.is_streamed
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert len(rows) == 1 + 231
    assert rows[1][1] == ""  # no user
    assert rows[1][6] == "'=SUM(A1)"
    assert not any(cell.startswith("=") for row in rows for cell in row)


# --- chart access report -------------------------------------------------------------------


def test_access_report_lists_a_nurses_view_of_the_chart(app, as_role, staff):
    ((patient_id, mrn),) = _patients(app, 1)
    nurse = as_role("nurse")
    assert nurse.get(f"/patients/{patient_id}").status_code == 200
    assert nurse.get(f"/patients/{patient_id}").status_code == 200
    with app.app_context():
        view = db.session.scalar(
            select(AuditEvent).where(
                AuditEvent.action == "patient.view", AuditEvent.user_id == staff["nurse"]
            )
        )
        assert view.patient_id == patient_id
    admin = as_role("admin")

    response = admin.post("/admin/access", data={"mrn": mrn})
    assert response.status_code == 302
    assert response.headers["Location"] == f"/admin/patients/{patient_id}/access"
    assert mrn not in response.headers["Location"]
    page = admin.get(response.headers["Location"])
    assert page.status_code == 200
    html = page.data.decode()
    assert mrn in html
    who = html.split('id="who-h"')[1].split('id="events-h"')[0]
    assert f'/admin/users/{staff["nurse"]}">nurse</a>' in who
    assert "<code>patient.view</code> × 2" in who
    assert "<code>patient.create</code> × 1" in who  # the psychiatrist registered them
    assert f'/admin/users/{staff["psychiatrist"]}">psychiatrist</a>' in who
    assert "Alex" not in html and "Tester" not in html  # no demographics for the admin
    event = last_event(app, "audit.patient_access")
    assert (event.user_id, event.patient_id) == (staff["admin"], patient_id)


def test_access_report_lookup_by_unknown_mrn_is_a_field_error(app, as_role):
    admin = as_role("admin")
    assert admin.get("/admin/access").status_code == 200
    response = admin.post("/admin/access", data={"mrn": "NOPE-9"})
    assert response.status_code == 400
    assert b"No patient has this MRN." in response.data
    assert admin.post("/admin/access", data={"mrn": ""}).status_code == 400
    assert admin.get("/admin/patients/9999/access").status_code == 404


def test_access_report_pages_its_events(app, as_role, staff):
    ((patient_id, mrn),) = _patients(app, 1)
    _seed(app, 60, [(patient_id, mrn)])
    admin = as_role("admin")
    html = admin.get(f"/admin/patients/{patient_id}/access").data.decode()
    assert _numbers(html) == list(range(59, 9, -1))
    older = _older_link(html)
    assert older.startswith(f"/admin/patients/{patient_id}/access?before_id=")
    html = admin.get(older).data.decode()
    assert _numbers(html) == list(range(9, -1, -1))
