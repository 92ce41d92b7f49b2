"""Patient search: prefix matching on lower(name or MRN), and the expression indexes that serve it
exist after the migrations and are the ones the database uses (SQLite and PostgreSQL)."""

import pytest
from sqlalchemy import event, inspect, text

from clinic_app import create_app
from clinic_app.extensions import db
from clinic_app.patients.services import search_patients
from config import TestingConfig
from tests.factories import make_patient

SEARCH_INDEXES = {
    "ix_patients_search_last_name",
    "ix_patients_search_first_name",
    "ix_patients_search_mrn",
}


@pytest.fixture
def ctx(app, staff):
    with app.app_context():
        yield


def _names(patients) -> list[str]:
    return [p.full_name for p in patients]


def test_prefix_of_last_first_name_or_mrn_in_any_case(ctx):
    make_patient(first_name="Ana", last_name="Smith", mrn="MRN-100")
    make_patient(first_name="Smita", last_name="Okafor", mrn="MRN-101")
    make_patient(first_name="Bo", last_name="Smyth", mrn="MRN-102")
    make_patient(first_name="Cy", last_name="Asmith", mrn="SMI-900")
    db.session.commit()

    make_patient(first_name="Al", last_name="Smith", mrn="MRN-103")
    db.session.commit()

    # Last-name matches (by last, then first name), then first-name matches, then MRN matches.
    assert _names(search_patients("  sMi ")) == [
        "Al Smith",
        "Ana Smith",
        "Smita Okafor",
        "Cy Asmith",
    ]
    assert _names(search_patients("mrn-10")) == [
        "Ana Smith",
        "Smita Okafor",
        "Bo Smyth",
        "Al Smith",
    ]
    assert _names(search_patients("smy")) == ["Bo Smyth"]
    assert search_patients("mith") == []


def test_wildcards_are_plain_characters(ctx):
    make_patient(first_name="Per", last_name="Cent%", mrn="A_1")
    make_patient(first_name="Un", last_name="Centre", mrn="AB1")
    db.session.commit()

    assert _names(search_patients("cent%")) == ["Per Cent%"]
    assert _names(search_patients("a_")) == ["Per Cent%"]


def test_last_character_of_the_prefix_is_not_cut_off_by_the_range(ctx):
    make_patient(first_name="Zed", last_name="Zz", mrn="Z-1")
    make_patient(first_name="Zoe", last_name="Zz\u00e9", mrn="Z-2")
    db.session.commit()

    assert _names(search_patients("zz")) == ["Zed Zz", "Zoe Zz\u00e9"]
    assert _names(search_patients("zz\u00e9")) == ["Zoe Zz\u00e9"]


def test_a_patient_matching_twice_is_listed_once_and_the_limit_holds(ctx):
    make_patient(first_name="Lee", last_name="Lee", mrn="LEE-1")
    for n in range(4):
        make_patient(first_name=f"Leo{n}", last_name="Zed")
    db.session.commit()

    assert _names(search_patients("lee")) == ["Lee Lee"]
    assert len(search_patients("le", limit=3)) == 3
    assert _names(search_patients("le", limit=3))[0] == "Lee Lee"


def test_each_part_of_the_search_uses_its_expression_index(ctx):
    plans = _plans(db.session, "smi")
    assert "ix_patients_search_last_name" in plans[0]
    assert "ix_patients_search_first_name" in plans[1]
    assert "ix_patients_search_mrn" in plans[2]


def test_migrations_create_the_search_indexes(empty_database_url):
    app = create_app(TestingConfig, SQLALCHEMY_DATABASE_URI=empty_database_url)
    result = app.test_cli_runner().invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            rows = db.session.execute(text("PRAGMA index_list(patients)"))
            names = {row[1] for row in rows}
        else:
            names = {i["name"] for i in inspect(db.engine).get_indexes("patients")}
        assert names >= SEARCH_INDEXES
        assert "ix_patients_search_last_name" in _plans(db.session, "smi")[0]
        db.session.remove()
        db.engine.dispose()


def _plans(session, term: str) -> list[str]:
    """The query plan of each statement of a search, with sequential scans discouraged on
    PostgreSQL (the planner would rightly scan a table this small)."""
    statements = []

    def grab(conn, cursor, statement, parameters, context, executemany):
        statements.append((statement, parameters))

    engine = session.get_bind()
    event.listen(engine, "before_cursor_execute", grab)
    try:
        search_patients(term, limit=1)
    finally:
        event.remove(engine, "before_cursor_execute", grab)
    connection = session.connection()
    plans = []
    for statement, parameters in statements:
        if engine.dialect.name == "sqlite":
            rows = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
            plans.append("\n".join(str(row[-1]) for row in rows))
        else:
            connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
            rows = connection.exec_driver_sql(f"EXPLAIN {statement}", parameters)
            plans.append("\n".join(row[0] for row in rows))
    return plans
