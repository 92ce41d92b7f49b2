"""A US postal address: blank or complete, a USPS state code and a 5 or 5-4 ZIP code."""

import string
from dataclasses import replace

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from clinic_app.clinical.addresses import (
    US_STATES,
    PostalAddress,
    address_problems,
    clean_text,
    one_line,
)

GOOD = PostalAddress("555 Example St", "Apt 3", "Pasadena", "CA", "91101")
BLANK = PostalAddress("", "", "", "", "")


def test_states_are_the_usps_codes():
    assert len(US_STATES) == len(set(US_STATES)) == 56  # 50 states, DC and 5 territories
    assert {"CA", "NY", "DC", "PR"} <= set(US_STATES)


def test_a_complete_address_has_no_problems_required_or_not():
    for required in (True, False):
        assert address_problems(GOOD, required) == {}
        assert address_problems(replace(GOOD, line2="", zip_code="91101-0555"), required) == {}


def test_a_blank_address_is_fine_only_when_optional():
    assert address_problems(BLANK, required=False) == {}
    assert set(address_problems(BLANK, required=True)) == {
        "address_line1",
        "city",
        "state",
        "zip_code",
    }


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"line1": ""}, "address_line1"),
        ({"city": ""}, "city"),
        ({"state": ""}, "state"),
        ({"state": "ca"}, "state"),  # the service upper-cases first
        ({"state": "XX"}, "state"),
        ({"zip_code": ""}, "zip_code"),
        ({"zip_code": "9110"}, "zip_code"),
        ({"zip_code": "91101-55"}, "zip_code"),
        ({"zip_code": "91101 0555"}, "zip_code"),
    ],
)
def test_a_partial_or_malformed_address_names_the_field(change, field):
    for required in (True, False):
        assert list(address_problems(replace(GOOD, **change), required)) == [field]


def test_only_a_second_line_is_still_a_partial_address():
    problems = address_problems(replace(BLANK, line2="Apt 3"), required=False)
    assert set(problems) == {"address_line1", "city", "state", "zip_code"}


@example("00000")
@example("00000-1234")
@given(st.text(alphabet=string.digits + "- A", max_size=12))
def test_a_zip_code_is_five_digits_and_an_optional_four(zip_code):
    digits = zip_code.replace("-", "")
    well_formed = (
        zip_code.isascii()
        and (
            (len(zip_code) == 5 and zip_code.isdigit())
            or (
                len(zip_code) == 10 and zip_code[5] == "-" and digits.isdigit() and len(digits) == 9
            )
        )
        and not zip_code.startswith("00000")
    )  # never issued
    problems = address_problems(replace(GOOD, zip_code=zip_code), required=True)
    assert ("zip_code" not in problems) == well_formed


@given(st.text(max_size=3))
def test_a_state_is_one_of_the_usps_codes(state):
    problems = address_problems(replace(GOOD, state=state), required=True)
    assert ("state" not in problems) == (state in US_STATES)


@given(st.lists(st.sampled_from([" ", "\t", "\n", "a", "B"]), max_size=12).map("".join))
def test_clean_text_trims_and_keeps_single_spaces(value):
    cleaned = clean_text(value)
    assert cleaned == cleaned.strip() and "  " not in cleaned
    assert cleaned.replace(" ", "") == "".join(value.split())


def test_one_line():
    assert one_line(GOOD) == "555 Example St, Apt 3, Pasadena, CA 91101"
    assert one_line(replace(GOOD, line2="")) == "555 Example St, Pasadena, CA 91101"
    assert one_line(BLANK) == ""
