"""PostgreSQL: the role the app servers connect as. The tables belong to the owner role that runs
migrations; the app role may read and write rows but not change the schema, and may only add to
the append-only tables, so it cannot lift their triggers or rewrite the audit trail."""

from sqlalchemy import text

from clinic_app.extensions import db

APPEND_ONLY_TABLES = ("audit_events", "rems_form_submissions", "stock_movements")


class RoleError(RuntimeError):
    """The role cannot be made the app role; the message says why."""


def app_role_grants(role: str) -> list[str]:
    """The statements that give `role` exactly the app's privileges (idempotent)."""
    quote = db.engine.dialect.identifier_preparer.quote_identifier
    who = quote(role)
    database = quote(db.session.scalar(text("SELECT current_database()")))
    schema = quote(db.session.scalar(text("SELECT current_schema()")))
    statements = [
        f"GRANT CONNECT ON DATABASE {database} TO {who}",
        f"GRANT USAGE ON SCHEMA {schema} TO {who}",
        f"REVOKE ALL ON ALL TABLES IN SCHEMA {schema} FROM {who}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {who}",
        f"REVOKE INSERT, UPDATE, DELETE ON {schema}.alembic_version FROM {who}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO {who}",
    ]
    for table in APPEND_ONLY_TABLES:
        statements.append(f"REVOKE UPDATE, DELETE ON {schema}.{quote(table)} FROM {who}")
    return statements


def check_app_role(role: str) -> None:
    """Refuse a role that does not exist, is a superuser, or owns (or may act as the owner of)
    the tables: any of those could drop the append-only triggers."""
    if db.engine.dialect.name != "postgresql":
        raise RoleError("database roles exist on PostgreSQL only")
    found = db.session.execute(
        text(
            "SELECT r.rolsuper, pg_has_role(r.oid, t.tableowner, 'MEMBER') AS owner "
            "FROM pg_roles r, pg_tables t "
            "WHERE r.rolname = :role AND t.tablename = 'audit_events' "
            "AND t.schemaname = current_schema()"
        ),
        {"role": role},
    ).one_or_none()
    if found is None:
        raise RoleError(
            f"no role {role!r} (or no audit_events table: run `flask db upgrade` first); "
            f"create it with CREATE ROLE … LOGIN PASSWORD '…'"
        )
    if found.rolsuper or found.owner:
        raise RoleError(f"{role!r} is a superuser or owns the tables; the app role must be neither")


def grant_app_role(role: str) -> list[str]:
    """Give `role` the app's privileges; returns the statements run. Run as the owner role."""
    check_app_role(role)
    statements = app_role_grants(role)
    for statement in statements:
        db.session.execute(text(statement))
    return statements
