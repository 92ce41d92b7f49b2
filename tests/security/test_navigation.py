"""The main navigation comes from the role gates of the views it links to: each role sees
exactly the pages it may open, and changing a view's gate changes the menu with it."""

import pytest

from clinic_app.clinical.codes import Role
from tests.helpers import soup

EXPECTED = {
    "nurse": ["Today", "Patients", "REMS", "Schedule", "Inventory"],
    "psychiatrist": ["Today", "Patients", "Review", "REMS", "Schedule", "Inventory"],
    "front_desk": ["Patients", "REMS", "Schedule"],
    "admin": ["Users", "Sites", "Sessions", "Audit"],
}


def nav_links(response) -> list[tuple[str, str, bool]]:
    """(label, href, current) of each link in the main navigation list."""
    menu = soup(response).find("ul", class_="navbar-nav")
    return [
        (
            "".join(link.find_all(string=True, recursive=False)).strip(),
            link["href"],
            link.has_attr("aria-current"),
        )
        for link in menu.find_all("a", class_="nav-link")
    ]


@pytest.mark.parametrize("role", sorted(EXPECTED))
def test_each_role_sees_the_pages_it_may_open(as_role, role):
    links = nav_links(as_role(role).get("/account"))
    assert [label for label, _, _ in links] == EXPECTED[role]
    assert not any(current for _, _, current in links)  # the account page is none of them


def test_the_current_page_is_marked(as_role):
    links = nav_links(as_role("admin").get("/admin/access"))
    assert [(label, current) for label, _, current in links] == [
        ("Users", False),
        ("Sites", False),
        ("Sessions", False),
        ("Audit", True),
    ]


def test_a_views_role_gate_decides_its_link(app, as_role, monkeypatch):
    view = app.view_functions["scheduling.day"]
    monkeypatch.setattr(view, "allowed_roles", frozenset({Role.FRONT_DESK, Role.ADMIN}))
    admin = nav_links(as_role("admin").get("/account"))
    assert ("Schedule", "/schedule/", False) in admin
    nurse = nav_links(as_role("nurse").get("/account"))
    assert [label for label, _, _ in nurse] == ["Today", "Patients", "REMS", "Inventory"]


def test_nobody_signed_in_sees_no_menu(client, app):
    body = client.get("/login").get_data(as_text=True)
    assert '<ul class="navbar-nav' not in body
