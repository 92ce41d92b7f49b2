"""Application factory for the ketamine clinic session tracker."""

import logging
import os
import secrets
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine
from werkzeug.middleware.proxy_fix import ProxyFix

from clinic_app import files, keys
from clinic_app.ids import IdConverter
from config import CONFIGS, Config

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def create_app(config_class: type[Config] | None = None, **overrides: Any) -> Flask:
    """Build the app for CLINIC_ENV (default development). Raises RuntimeError on unsafe config."""
    _check_checkout()
    if config_class is None:
        env = os.environ.get("CLINIC_ENV", "development")
        if env not in CONFIGS:
            raise RuntimeError(f"CLINIC_ENV must be one of {', '.join(CONFIGS)}, not {env!r}")
        config_class = CONFIGS[env]
    app = Flask(
        __name__,
        template_folder=str(PROJECT_ROOT / "templates"),
        instance_path=str(PROJECT_ROOT / "instance"),
    )
    # Every <int:...> in a route is a record id: numbers the database cannot hold are a 404.
    app.url_map.converters["int"] = IdConverter
    app.config.from_object(config_class)
    app.config.update(overrides)
    _finish_config(app)
    register_extensions(app)
    register_blueprints(app)
    from clinic_app import errors, schema_check, security, templating
    from clinic_app.cli import register_commands

    errors.register(app)
    security.register(app)
    templating.register(app)
    register_commands(app)
    schema_check.register(app, str(PROJECT_ROOT / "migrations"))
    if app.config.get("PROXY_COUNT"):
        # Client address and scheme from the reverse proxy's X-Forwarded-* headers, trusting
        # exactly that many proxies (rate limits and audit rows see the real address).
        hops = app.config["PROXY_COUNT"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]
    return app


def _check_checkout() -> None:
    """Refuse to start from a plain `pip install .`: its wheel holds the Python modules only, and
    the app reads templates/, migrations/ and its static files from the checkout."""
    needed = ("templates", "migrations", "clinic_app/static")
    missing = [name for name in needed if not (PROJECT_ROOT / name).is_dir()]
    if missing:
        raise RuntimeError(
            f"clinic_app at {PROJECT_ROOT} has no {', '.join(missing)}: run it from its git"
            " checkout, installed with `pip install -e .` (README, Production deployment)."
        )


def _finish_config(app: Flask) -> None:
    """Fill in the SQLite default and the development secret; refuse missing or weak keys."""
    files.private_directory(Path(app.instance_path))
    if not app.config.get("SQLALCHEMY_DATABASE_URI"):
        app.config["SQLALCHEMY_DATABASE_URI"] = (
            f"sqlite:///{Path(app.instance_path) / 'clinic.sqlite'}"
        )
    if not app.config.get("SECRET_KEY"):
        if app.config["ENV_NAME"] != "development":
            raise RuntimeError("SECRET_KEY must be set outside development")
        app.config["SECRET_KEY"] = _development_secret(Path(app.instance_path) / "secret_key")
    keys.validate(app.config)
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        files.protect_sqlite_database(app.config["SQLALCHEMY_DATABASE_URI"])
        # pool_pre_ping is pointless for a local file.
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {
            "connect_args": {"timeout": 15},
            "hide_parameters": True,
        }
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("clinic_app").setLevel(logging.INFO)


def _development_secret(path: Path) -> str:
    """A random key generated once per checkout and kept in instance/."""
    if not path.exists():
        files.write_private(path, secrets.token_hex(32).encode())
    return path.read_text().strip()


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection: Any, connection_record: Any) -> None:
    """SQLite: enforce foreign keys, let readers run beside the writer, wait instead of failing."""
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=15000")
        cursor.close()


def register_extensions(app: Flask) -> None:
    from clinic_app.dates import LOCALE
    from clinic_app.extensions import babel, csrf, db, limiter, login_manager, migrate
    from clinic_app.settings import page_timezone

    db.init_app(app)
    babel.init_app(app, default_locale=LOCALE, timezone_selector=page_timezone)
    limiter.init_app(app)
    migrate.init_app(app, db, directory=str(PROJECT_ROOT / "migrations"), compare_type=True)
    login_manager.init_app(app)
    csrf.init_app(app)


def register_blueprints(app: Flask) -> None:
    from clinic_app.admin.views import bp as admin_bp
    from clinic_app.auth.views import bp as auth_bp
    from clinic_app.fhir.views import bp as fhir_bp
    from clinic_app.health import bp as health_bp
    from clinic_app.inventory.views import bp as inventory_bp
    from clinic_app.patients.views import bp as patients_bp
    from clinic_app.records.views import bp as records_bp
    from clinic_app.rems.views import bp as rems_bp
    from clinic_app.review.views import bp as review_bp
    from clinic_app.scheduling.views import bp as scheduling_bp
    from clinic_app.treatments.views import bp as treatments_bp

    for blueprint in (
        health_bp,
        auth_bp,
        patients_bp,
        treatments_bp,
        scheduling_bp,
        review_bp,
        records_bp,
        rems_bp,
        inventory_bp,
        admin_bp,
        fhir_bp,
    ):
        app.register_blueprint(blueprint)
