"""Helpers for the browser tests: signing in through the login page, the axe-core
accessibility check and a clinic morning to freeze the clock at."""

from datetime import UTC, datetime

from tests.helpers import PASSWORD

DESKTOP = {"width": 1280, "height": 900}


def sign_in(page, base: str, username: str, password: str = PASSWORD, accessible=False) -> None:
    """Sign in through the login page (checking that page with axe-core if `accessible`)."""
    page.goto(base + "/login")
    if accessible:
        assert_accessible(page)
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


def assert_accessible(page) -> None:
    """axe-core: no serious or critical violations on the current page."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    bad = [v for v in results.response["violations"] if v.get("impact") in ("serious", "critical")]
    assert not bad, "\n".join(
        f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:5]}"
        for v in bad
    )


def clinic_morning() -> datetime:
    """17:00 UTC: morning in the default clinic zone, same calendar day as UTC."""
    return datetime.now(UTC).replace(hour=17, minute=0, second=0, microsecond=0)
