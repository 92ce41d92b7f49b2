"""The `demo-data` command: the small demo clinic, and with `--patients N` the bulk history."""

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import func, select

from clinic_app.demo.bulk import run_command
from clinic_app.demo.clinic import DEMO_LOGINS, load_demo_data
from clinic_app.demo.stock import load_demo_stock
from clinic_app.extensions import db
from clinic_app.models import User


def _echo_logins() -> None:
    click.echo("Demo logins (username / password / role):")
    for login in DEMO_LOGINS:
        click.echo(f"  {login.username:<13} {login.password:<17} {login.role}")


@click.command("demo-data")
@click.option(
    "--patients",
    type=click.IntRange(min=1),
    default=None,
    help="Also add a large history for N patients (benchmarks; see clinic_app/demo/bulk.py).",
)
@with_appcontext
def demo_data_command(patients: int | None) -> None:
    """Load a realistic demo clinic when the database is empty (development only).

    With --patients N, also add N patients with ~2 years of history at several sites (once per
    database; the small demo is loaded first when the database is empty)."""
    if current_app.config["ENV_NAME"] == "production":
        raise click.ClickException("demo-data refuses to run in production.")
    if db.session.scalar(select(func.count()).select_from(User)):
        click.echo(
            "Demo data is already loaded (or users exist); nothing changed."
            if patients is None
            else "Users exist: the small demo is not loaded again."
        )
    else:
        counts = load_demo_data()
        counts["stock_movements"] = load_demo_stock()
        db.session.commit()
        click.echo(
            "Loaded the demo clinic: "
            + ", ".join(f"{n} {name}" for name, n in counts.items())
            + "."
        )
    if patients is not None:
        run_command(patients)
    _echo_logins()
