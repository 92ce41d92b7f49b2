"""The main navigation comes from the role gates of the views it links to: each role sees
exactly the pages it may open, and changing a view's gate changes the menu with it."""

import re

import pytest

from clinic_app.clinical.codes import Role

EXPECTED = {
    "nurse": ["Today", "Patients", "Schedule", "Inventory"],
    "psychiatrist": ["Today", "Patients", "Review", "Schedule", "Inventory"],
    "front_desk": ["Patients", "Schedule"],
    "admin": ["Users", "Sites", "Sessions", "Audit"],
}


def nav_links(body: str) -> list[tuple[str, str, bool]]:
    """(label, href, current) of each link in the main navigation list."""
    menu = body.split('<ul class="navbar-nav me-auto">', 1)[1].split("</ul>", 1)[0]
    return [
        (re.sub(r"<[^>]+>.*", "", label, flags=re.S).strip(), href, "aria-current" in attrs)
        for attrs, href, label in re.findall(
            r'<a class="nav-link([^"]*"[^>]*?) href="([^"]+)">(.*?)</a>', menu, flags=re.S
        )
    ]


@pytest.mark.parametrize("role", sorted(EXPECTED))
def test_each_role_sees_the_pages_it_may_open(as_role, role):
    links = nav_links(as_role(role).get("/account").get_data(as_text=True))
    assert [label for label, _, _ in links] == EXPECTED[role]
    assert not any(current for _, _, current in links)  # the account page is none of them


def test_the_current_page_is_marked(as_role):
    links = nav_links(as_role("admin").get("/admin/access").get_data(as_text=True))
    assert [(label, current) for label, _, current in links] == [
        ("Users", False),
        ("Sites", False),
        ("Sessions", False),
        ("Audit", True),
    ]


def test_a_views_role_gate_decides_its_link(app, as_role, monkeypatch):
    view = app.view_functions["scheduling.day"]
    monkeypatch.setattr(view, "allowed_roles", frozenset({Role.FRONT_DESK, Role.ADMIN}))
    admin = nav_links(as_role("admin").get("/account").get_data(as_text=True))
    assert ("Schedule", "/schedule/", False) in admin
    nurse = nav_links(as_role("nurse").get("/account").get_data(as_text=True))
    assert [label for label, _, _ in nurse] == ["Today", "Patients", "Inventory"]


def test_nobody_signed_in_sees_no_menu(client, app):
    body = client.get("/login").get_data(as_text=True)
    assert '<ul class="navbar-nav' not in body
