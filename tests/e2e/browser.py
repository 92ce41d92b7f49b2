"""Helpers for the browser tests: signing in through the login page, numbered screenshots and
the axe-core accessibility check."""

import shutil
from pathlib import Path

from tests.helpers import PASSWORD

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"


def sign_in(page, base: str, username: str, password: str = PASSWORD, accessible=False) -> None:
    """Sign in through the login page (checking that page with axe-core if `accessible`)."""
    page.goto(base + "/login")
    if accessible:
        assert_accessible(page)
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


class Shots:
    """Numbered screenshots of one test, saved under test-artifacts/screenshots/<test>/."""

    def __init__(self, page, name: str):
        self.page = page
        self.folder = ARTIFACTS / name
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder.mkdir(parents=True)
        self.count = 0

    def __call__(self, step: str) -> None:
        self.count += 1
        self.page.screenshot(path=str(self.folder / f"{self.count:02d}-{step}.png"), full_page=True)


def assert_accessible(page) -> None:
    """axe-core: no serious or critical violations on the current page."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    bad = [v for v in results.response["violations"] if v.get("impact") in ("serious", "critical")]
    assert not bad, "\n".join(
        f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:5]}"
        for v in bad
    )
