"""Command-line tools: `flask --app wsgi users create …`, `flask --app wsgi demo-data`."""

import sys
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext

from clinic_app.clinical.codes import Role
from clinic_app.errors import RuleViolation
from clinic_app.extensions import db

users = AppGroup("users", help="Manage staff accounts.")
audit_group = AppGroup("audit", help="The audit trail.")
keys_group = AppGroup("keys", help="Keys kept outside the database (see README, Security model).")


def _read_secret(label: str = "Password", confirm: bool = True) -> str:
    """A hidden prompt at a terminal; otherwise the first line of standard input."""
    if sys.stdin.isatty():
        return click.prompt(label, hide_input=True, confirmation_prompt=confirm)
    return sys.stdin.readline().rstrip("\n")


@users.command("create")
@click.argument("username")
@click.option("--role", required=True, type=click.Choice([r.value for r in Role]))
@click.option("--full-name", default="", help="Name shown on records (defaults to the username).")
@click.option("--credentials", default="", help="E.g. RN, MD.")
@click.option(
    "--site",
    "site_codes",
    multiple=True,
    metavar="CODE",
    help="A site the person works at (repeatable); without it, every active site.",
)
def create_user_command(
    username: str, role: str, full_name: str, credentials: str, site_codes: tuple[str, ...]
) -> None:
    """Create a staff account; the password is read from a hidden prompt or standard input."""
    from clinic_app.admin.sites import site_by_code
    from clinic_app.auth.services import create_user
    from clinic_app.clinical.sites import normalise_code

    sites = None
    if site_codes:
        codes = dict.fromkeys(normalise_code(code) for code in site_codes)
        found = {code: site_by_code(code) for code in codes}
        unknown = [code for code, site in found.items() if site is None or not site.active]
        if unknown:
            raise click.ClickException(
                f"No open site has the code {', '.join(unknown)}; "
                "the admin lists the sites at /admin/sites."
            )
        sites = [site for site in found.values() if site is not None]
    password = _read_secret()
    try:
        user = create_user(
            None, username, full_name or username, role, password, credentials, sites
        )
    except RuleViolation as error:
        db.session.rollback()
        raise click.ClickException(error.message) from error
    db.session.commit()
    where = ", ".join(site.code for site in user.sites) or "no site yet"
    click.echo(f"Created {user.username} ({user.role}) at {where}.")


@audit_group.command("verify")
@click.option(
    "--anchor",
    "anchors",
    multiple=True,
    metavar="LENGTH:HASH",
    help="A head printed by an earlier run and kept outside the database; it must still be there.",
)
def verify_audit_command(anchors: tuple[str, ...]) -> None:
    """Recompute the keyed audit hash chain and print its head (LENGTH:HASH) to record elsewhere;
    exit 1 and name the first broken row if it was altered."""
    from clinic_app.audit import hash_at, verify_chain

    checked, broken = verify_chain()
    if broken is None:
        for anchor in anchors:
            position, _, expected = anchor.partition(":")
            if not position.isdigit() or hash_at(int(position)) != expected.strip():
                raise click.ClickException(
                    f"Audit trail does not contain the recorded head {anchor}: "
                    "rows up to it were rewritten or removed."
                )
        head = hash_at(checked) if checked else "0" * 64
        click.echo(f"Audit trail intact: {checked} rows verified.")
        click.echo(f"Head: {checked}:{head}")
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


@audit_group.command("rekey")
def rekey_audit_command() -> None:
    """Re-hash the audit trail under the configured AUDIT_KEY after checking it under the
    previous key (hidden prompt or standard input). Stop the app servers; run as the owner."""
    from clinic_app.audit import ChainBroken, rekey
    from clinic_app.keys import audit_key

    previous = _read_secret("Previous audit key", confirm=False).encode()
    try:
        count = rekey(previous, audit_key(current_app.config))
    except ChainBroken as error:
        db.session.rollback()
        raise click.ClickException(f"{error}; nothing was changed") from error
    db.session.commit()
    click.echo(f"Re-keyed {count} audit rows. Record the new head: flask audit verify.")


@keys_group.command("pin")
def pin_keys_command() -> None:
    """Print AUDIT_KEY / DATA_KEYS lines for what still depends on SECRET_KEY (an unset
    AUDIT_KEY; two-factor seeds DATA_KEYS cannot read); set them in the environment before
    changing SECRET_KEY so the seeds and the audit trail stay readable."""
    from clinic_app.keys import (
        configured_data_keys,
        derived_audit_key,
        derived_data_key,
        secrets_need_derived_key,
    )

    config = current_app.config
    if not config["AUDIT_KEY"]:
        click.echo(f"AUDIT_KEY={derived_audit_key(config['SECRET_KEY'])}")
    if secrets_need_derived_key():
        keys = [*configured_data_keys(config), derived_data_key(config["SECRET_KEY"])]
        click.echo(f"DATA_KEYS={','.join(keys)}")


@keys_group.command("reencrypt")
def reencrypt_command() -> None:
    """Re-encrypt every stored two-factor seed with the first of DATA_KEYS."""
    from clinic_app.keys import reencrypt_stored_secrets

    done, unreadable = reencrypt_stored_secrets()
    db.session.commit()
    click.echo(f"Re-encrypted {done} two-factor secrets with the first data key.")
    if unreadable:
        raise click.ClickException(
            f"{unreadable} secrets match none of DATA_KEYS or the SECRET_KEY-derived key; "
            "those users must enrol two-factor again"
        )


@click.command("grant-app-role")
@with_appcontext
@click.argument("role")
@click.option("--print-sql", is_flag=True, help="Print the statements instead of running them.")
def grant_app_role_command(role: str, print_sql: bool) -> None:
    """PostgreSQL: give ROLE (the app servers' login) row access to every table, only SELECT and
    INSERT on the audit trail, and no DDL. Run as the tables' owner after each upgrade."""
    from clinic_app.db_roles import RoleError, app_role_grants, check_app_role, grant_app_role

    try:
        if print_sql:
            check_app_role(role)
            click.echo(";\n".join(app_role_grants(role)) + ";")
            return
        grant_app_role(role)
    except RoleError as error:
        db.session.rollback()
        raise click.ClickException(str(error)) from error
    db.session.commit()
    click.echo(f"{role} may now read and write rows, and only add to the audit trail.")


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
    from flask_migrate.cli import db as migrate_group

    from clinic_app.demo.command import demo_data_command
    from clinic_app.fhir.command import fhir_group

    migrate_group.add_command(grant_app_role_command)
    app.cli.add_command(users)
    app.cli.add_command(audit_group)
    app.cli.add_command(keys_group)
    app.cli.add_command(backup_command)
    app.cli.add_command(restore_command)
    app.cli.add_command(demo_data_command)
    app.cli.add_command(fhir_group)
