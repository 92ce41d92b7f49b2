"""DEA registration numbers: the format and the check digit.

A DEA number is two letters then seven digits (DEA Diversion Control Division, "DEA Registration
Record Layout"; the check-digit recipe as documented on Wikipedia, "DEA number"):
- the first letter is the registrant type: A, B, F or G for practitioners, hospitals, clinics,
  pharmacies and teaching institutions; M for mid-level practitioners; the others for
  manufacturers, distributors, researchers, labs, importers, exporters, reverse distributors,
  narcotic treatment programs and (until 2023) buprenorphine-waivered prescribers (X);
- the second is the first letter of the registrant's surname or business name, or 9 for a
  registrant known by a business address;
- the seventh digit checks the first six: (d1 + d3 + d5) + 2 x (d2 + d4 + d6), last digit.
The check catches every single-digit typo except a doubled digit (d2, d4, d6) off by exactly 5.
A number that passes is well formed, not proof of a current registration (the DEA's
registration validation service says that).
"""

import re

REGISTRANT_TYPES = "ABCDEFGHJKLMPRSTUX"
_SHAPE = re.compile(r"^[A-Z][A-Z9][0-9]{7}$")
# The shape of the number with a valid check digit, for messages.
EXAMPLE = "BJ1234563"


def normalise_dea_number(value: str) -> str:
    """Upper case without spaces or dashes (as printed on certificates: "BJ 123456 3")."""
    return re.sub(r"[\s-]", "", value).upper()


def check_digit(first_six: str) -> int:
    """The DEA check digit of six digits."""
    if len(first_six) != 6 or not first_six.isdigit():
        raise ValueError("six digits expected")
    d = [int(c) for c in first_six]
    return (d[0] + d[2] + d[4] + 2 * (d[1] + d[3] + d[5])) % 10


def dea_number_problem(value: str) -> str | None:
    """Why `value` (normalised first) is not a well-formed DEA number, or None when it is."""
    number = normalise_dea_number(value)
    if not _SHAPE.match(number):
        return f"A DEA number is two letters then seven digits, for example {EXAMPLE}."
    if number[0] not in REGISTRANT_TYPES:
        return (
            f"The first letter is the registrant type ({', '.join(REGISTRANT_TYPES)}); "
            f"{number[0]} is not one."
        )
    if check_digit(number[2:8]) != int(number[8]):
        return (
            "The last digit does not match the DEA check digit: "
            "copy the number again from the registration certificate."
        )
    return None
