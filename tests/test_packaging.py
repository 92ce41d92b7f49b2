"""The app runs from its checkout: started from an installed copy without the checkout's
templates, migrations and static files, it refuses with a message instead of failing per page.
(.ci/check-install installs a clean clone and starts it from another working directory.)"""

from pathlib import Path

import pytest

import clinic_app
from config import TestingConfig


def test_refuses_to_start_without_the_checkouts_files(tmp_path, monkeypatch):
    (tmp_path / "clinic_app").mkdir()
    (tmp_path / "templates").mkdir()
    monkeypatch.setattr(clinic_app, "PROJECT_ROOT", tmp_path)

    with pytest.raises(RuntimeError, match="has no migrations, clinic_app/static: run it from"):
        clinic_app.create_app(TestingConfig)


def test_starts_from_the_checkout():
    app = clinic_app.create_app(TestingConfig)
    assert app.jinja_env.get_template("base.html")
    assert (Path(app.static_folder) / "css" / "app.css").is_file()
    assert (clinic_app.PROJECT_ROOT / "migrations" / "env.py").is_file()
