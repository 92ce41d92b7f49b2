"""CSV exports cannot carry a formula into a spreadsheet, whatever separator the program splits
on; MRNs have a format that cannot start one."""

import csv
import io

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clinic_app import audit
from clinic_app.extensions import db
from clinic_app.patients.forms import MRN_MESSAGE
from clinic_app.spreadsheet import safe_cell
from tests import factories

SEPARATORS = ";,|\t\r\n"
TRIGGERS = "=+-@\t\r"
tricky = st.text(alphabet=st.sampled_from("=+-@\t\r\n;,| 'aZ1(\"") | st.characters(), max_size=30)


@given(tricky)
def test_no_cell_a_spreadsheet_could_see_starts_a_formula(text):
    safe = safe_cell(text)
    for separator in SEPARATORS:
        for part in [safe, *safe.split(separator)[1:]]:
            assert not part.lstrip(" ").startswith(tuple(TRIGGERS)), (text, safe, separator)


@given(tricky)
def test_only_quote_marks_are_added(text):
    safe = safe_cell(text)
    assert safe.replace("'", "") == text.replace("'", "")


@given(st.text(alphabet="abcXYZ019 ._/:", max_size=30))
def test_text_without_triggers_is_unchanged(text):
    assert safe_cell(text) == text


@pytest.mark.parametrize(
    ("value", "safe"),
    [
        ("KC;=cmd|' /C calc'!A0", "KC;'=cmd|' /C calc'!A0"),
        ("a, =1+1", "a, '=1+1"),
        ("x|@SUM(A1)", "x|'@SUM(A1)"),
        ("\t=1", "'\t'=1"),
        ("-5", "'-5"),
        ("KC-10001", "KC-10001"),
        (42, 42),
        (None, None),
    ],
)
def test_examples(value, safe):
    assert safe_cell(value) == safe


def test_the_audit_export_defuses_a_formula_after_a_separator(app, as_role, staff):
    with app.app_context():
        patient = factories.make_patient(mrn="KC;=HYPERLINK(1)")  # from before the MRN rule
        audit.record(None, "test.row", patient_id=patient.id, note="ok, @SUM(A1)")
        db.session.commit()
    response = as_role("admin").get("/admin/audit/export?action=test.")
    text = response.get_data(as_text=True)
    row = list(csv.reader(io.StringIO(text)))[1]
    assert row[6] == "KC;'=HYPERLINK(1)"
    assert row[9] == '{"note": "ok, \'@SUM(A1)"}'
    semicolon_cells = [cell for line in text.splitlines() for cell in line.split(";")]
    assert not any(cell.lstrip(" ").startswith(tuple(TRIGGERS)) for cell in semicolon_cells)


PATIENT = {
    "first_name": "Ana",
    "last_name": "Okafor",
    "date_of_birth": "1980-05-17",
    "sex": "female",
    "version_id": "0",
}


@pytest.mark.parametrize(
    "mrn", ["KC;=1", "=SUM(A1)", "-5", "@x", "A B", "K.1", "a" * 33, "-KC1", "KC_1", "ＫＣ1"]
)
def test_an_mrn_outside_the_format_is_refused_by_the_field(app, as_role, mrn):
    response = as_role("front_desk").post("/patients/new", data=dict(PATIENT, mrn=mrn))
    assert response.status_code == 400
    assert MRN_MESSAGE.encode() in response.data or b"32 characters" in response.data


@pytest.mark.parametrize("mrn", ["KC-10001", "12345", "a", "Z" * 32, "mrn-7-b"])
def test_an_mrn_in_the_format_is_accepted(app, as_role, mrn):
    response = as_role("front_desk").post("/patients/new", data=dict(PATIENT, mrn=mrn))
    assert response.status_code == 302
