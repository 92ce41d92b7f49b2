"""Command-line tools: `flask --app wsgi users create …`, `flask --app wsgi demo-data`."""

import sys
from pathlib import Path

import click
from flask import Flask
from flask.cli import AppGroup, with_appcontext

from clinic_app.clinical.codes import Role
from clinic_app.errors import RuleViolation
from clinic_app.extensions import db

users = AppGroup("users", help="Manage staff accounts.")
audit_group = AppGroup("audit", help="The audit trail.")


def _read_password() -> str:
    """A hidden prompt at a terminal; otherwise the first line of standard input."""
    if sys.stdin.isatty():
        return click.prompt("Password", hide_input=True, confirmation_prompt=True)
    return sys.stdin.readline().rstrip("\n")


@users.command("create")
@click.argument("username")
@click.option("--role", required=True, type=click.Choice([r.value for r in Role]))
@click.option("--full-name", default="", help="Name shown on records (defaults to the username).")
@click.option("--credentials", default="", help="E.g. RN, MD.")
def create_user_command(username: str, role: str, full_name: str, credentials: str) -> None:
    """Create a staff account; the password is read from a hidden prompt or standard input."""
    from clinic_app.auth.services import create_user

    password = _read_password()
    try:
        user = create_user(None, username, full_name or username, role, password, credentials)
    except RuleViolation as error:
        db.session.rollback()
        raise click.ClickException(error.message) from error
    db.session.commit()
    click.echo(f"Created {user.username} ({user.role}).")


@audit_group.command("verify")
def verify_audit_command() -> None:
    """Recompute the audit hash chain; exit 1 and name the first broken row if it was altered."""
    from clinic_app.audit import verify_chain

    checked, broken = verify_chain()
    if broken is None:
        click.echo(f"Audit trail intact: {checked} rows verified.")
        return
    if broken == -1:
        raise click.ClickException(
            f"Audit trail broken after row {checked}: its end does not match the chain head "
            "(rows removed from or added at the end)."
        )
    raise click.ClickException(
        f"Audit trail broken at row id {broken} (after {checked} intact rows): "
        "it was changed, deleted or inserted out of order."
    )


@click.command("backup")
@with_appcontext
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
def backup_command(path: Path) -> None:
    """Back up the whole database to PATH (SQLite online backup, or pg_dump custom format)."""
    from clinic_app.backup import BackupError, backup

    try:
        backup(path)
    except BackupError as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"Backed up to {path} ({path.stat().st_size} bytes).")


@click.command("restore")
@with_appcontext
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="Confirm replacing the current database content.")
def restore_command(path: Path, yes: bool) -> None:
    """Replace the database content with the backup at PATH (stop the app servers first)."""
    from clinic_app.backup import BackupError, restore

    if not yes:
        raise click.ClickException("restore replaces every row in the database; add --yes")
    try:
        restore(path)
    except BackupError as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"Restored from {path}.")


def register_commands(app: Flask) -> None:
    from clinic_app.demo.command import demo_data_command

    app.cli.add_command(users)
    app.cli.add_command(audit_group)
    app.cli.add_command(backup_command)
    app.cli.add_command(restore_command)
    app.cli.add_command(demo_data_command)
