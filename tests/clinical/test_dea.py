"""DEA registration numbers: two letters (registrant type; surname initial or 9) and seven digits
whose last is the check digit of the first six."""

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clinic_app.clinical.dea import (
    EXAMPLE,
    REGISTRANT_TYPES,
    check_digit,
    dea_number_problem,
    normalise_dea_number,
)

six_digits = st.text(alphabet=string.digits, min_size=6, max_size=6)


@st.composite
def valid_numbers(draw) -> str:
    first_six = draw(six_digits)
    return (
        draw(st.sampled_from(REGISTRANT_TYPES))
        + draw(st.sampled_from(string.ascii_uppercase + "9"))
        + first_six
        + str(check_digit(first_six))
    )


@given(valid_numbers())
def test_every_well_formed_number_passes(number):
    assert dea_number_problem(number) is None
    assert dea_number_problem(number.lower()) is None  # typed in lower case


# Positions (in the 9-character number) of the digits the check doubles: d2, d4, d6.
DOUBLED = (3, 5, 7)


def _change(number: str, position: int, shift: int) -> str:
    digits = list(number)
    digits[position] = str((int(digits[position]) + shift) % 10)
    return "".join(digits)


@given(valid_numbers(), st.integers(min_value=2, max_value=8), st.integers(1, 9))
def test_changing_any_one_digit_fails(number, position, shift):
    """Every single-digit change is refused, except one the recipe cannot see: a doubled digit
    changed by 5 moves the sum by 10 (2 is not invertible modulo 10)."""
    changed = _change(number, position, shift)
    if position in DOUBLED and shift == 5:
        assert dea_number_problem(changed) is None
    else:
        assert dea_number_problem(changed) == (
            "The last digit does not match the DEA check digit: "
            "copy the number again from the registration certificate."
        )


@given(valid_numbers(), st.sampled_from((2, 4, 6, 8)), st.integers(1, 9))
def test_changing_the_check_digit_or_an_undoubled_digit_always_fails(number, position, shift):
    assert dea_number_problem(_change(number, position, shift)) is not None


@pytest.mark.parametrize(
    ("first_six", "digit"),
    [("123456", 3), ("142432", 6), ("000000", 0), ("999999", 1), ("101010", 3)],
)
def test_check_digit_worked_examples(first_six, digit):
    # 1+3+5 + 2*(2+4+6) = 33 -> 3; 1+2+3 + 2*(4+4+2) = 26 -> 6; 27 + 2*27 = 81 -> 1
    assert check_digit(first_six) == digit


def test_the_example_in_messages_is_itself_valid():
    assert dea_number_problem(EXAMPLE) is None


@pytest.mark.parametrize(
    ("value", "start"),
    [
        ("", "A DEA number is two letters then seven digits"),
        ("B1234563", "A DEA number is two letters then seven digits"),
        ("BJ123456", "A DEA number is two letters then seven digits"),
        ("BJ12345633", "A DEA number is two letters then seven digits"),
        ("B91234563X", "A DEA number is two letters then seven digits"),
        ("9J1234563", "A DEA number is two letters then seven digits"),
        ("B81234563", "A DEA number is two letters then seven digits"),
        ("BJ12E4563", "A DEA number is two letters then seven digits"),
        ("IJ1234563", "The first letter is the registrant type"),
        ("ZJ1234563", "The first letter is the registrant type"),
        ("BJ1234564", "The last digit does not match the DEA check digit"),
    ],
)
def test_malformed_numbers_say_what_is_wrong(value, start):
    assert (dea_number_problem(value) or "").startswith(start)


@pytest.mark.parametrize("letter", sorted(set(string.ascii_uppercase) - set(REGISTRANT_TYPES)))
def test_letters_that_are_no_registrant_type_are_refused(letter):
    assert dea_number_problem(f"{letter}J1234563") == (
        f"The first letter is the registrant type ({', '.join(REGISTRANT_TYPES)}); "
        f"{letter} is not one."
    )


def test_business_address_registrants_have_9_as_second_character():
    assert dea_number_problem("F91234563") is None


def test_spaces_and_dashes_from_a_certificate_are_ignored():
    assert normalise_dea_number(" bj 123456-3 ") == "BJ1234563"
    assert dea_number_problem("bj 123456-3") is None


@pytest.mark.parametrize("bad", ["12345", "1234567", "12a456"])
def test_check_digit_needs_six_digits(bad):
    with pytest.raises(ValueError):
        check_digit(bad)
