"""Deny by default, declared explicitly: every route of the app against every role.

The matrix lives in tests/security/matrix.py. A new route fails here until it is declared there;
a route whose role gate or login gate is removed fails the walk."""

from urllib.parse import urlsplit

from sqlalchemy import func, select

from clinic_app import security
from clinic_app.extensions import db
from clinic_app.models import AuditEvent
from tests.helpers import sign_in
from tests.security.matrix import (
    MATRIX,
    PUBLIC,
    ROLES,
    SIGNED_IN,
    allows,
    declared,
    record_ids,
    routes,
)


def test_every_endpoint_is_declared_in_the_matrix(app):
    endpoints = set(app.view_functions) - {"static"}
    undeclared = sorted(e for e in endpoints if declared(e) is None)
    assert not undeclared, f"declare these routes in tests/security/matrix.py: {undeclared}"
    stale = sorted(set(MATRIX) - endpoints)
    assert not stale, f"the matrix names routes that no longer exist: {stale}"


def test_public_endpoints_are_exactly_the_declared_ones():
    declared_public = {e for e, entry in MATRIX.items() if entry == PUBLIC}
    assert security.PUBLIC_ENDPOINTS - {"static"} == declared_public


def test_role_decorators_agree_with_the_matrix(app):
    """Where a view carries role_required(...), its roles are the declared ones."""
    for endpoint, view in app.view_functions.items():
        roles = getattr(view, "allowed_roles", None)
        if roles is None:
            continue
        entry = declared(endpoint)
        assert entry not in (PUBLIC, SIGNED_IN, None), endpoint
        assert {str(r) for r in roles} == set(entry), endpoint


def _denials(app) -> int:
    with app.app_context():
        return db.session.scalar(
            select(func.count()).where(
                AuditEvent.action == "access.denied", AuditEvent.outcome == "denied"
            )
        )


def _request(client, route) -> tuple[int, str]:
    """(status, redirect path); the response is closed so a streamed body cannot leave its
    request context pushed into the next request."""
    with client.open(route.url, method=route.method) as response:
        return response.status_code, urlsplit(response.headers.get("Location", "")).path


def test_every_route_for_every_role_and_anonymous(app, staff):
    ids, admin_ids = record_ids(app)
    walk = routes(app, ids, admin_ids)
    assert {r.endpoint for r in walk} == set(app.view_functions) - {"static"}
    clients: dict[str, object] = {}

    def client_for(role):
        # Allowed POSTs may end or change the session (logout, admin actions): a fresh sign-in
        # follows each. Refused requests change nothing.
        if role not in clients:
            client = app.test_client()
            assert sign_in(client, role).status_code == 302
            clients[role] = client
        return clients[role]

    problems = []
    expected_denials = 0
    for route in walk:
        status, location = _request(app.test_client(), route)
        if allows(route.endpoint, None):
            if status == 403:
                problems.append(f"anonymous {route.method} {route.url}: 403 on a public route")
        elif status != 302 or location != "/login":
            problems.append(f"anonymous {route.method} {route.url}: {status} {location}")
        for role in ROLES:
            status, location = _request(client_for(role), route)
            if route.method != "GET" and allows(route.endpoint, role):
                del clients[role]  # an allowed POST may have ended or changed the session
            if not allows(route.endpoint, role):
                expected_denials += 1
                if status != 403:
                    problems.append(f"{role} {route.method} {route.url}: {status}, expected 403")
                continue
            if status == 403:
                problems.append(f"{role} {route.method} {route.url}: 403 on an allowed route")
            may_leave = declared(route.endpoint) == PUBLIC or route.endpoint == "auth.logout"
            if location == "/login" and not may_leave:
                problems.append(f"{role} {route.method} {route.url}: sent to sign in")
    assert not problems, "\n".join(problems)
    # Every refusal is on the audit trail, and nothing else was refused.
    assert _denials(app) == expected_denials
