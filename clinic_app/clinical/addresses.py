"""A US postal address and its checks, shared by a site's address and a patient's.

A patient's address goes on the controlled-substance dispensing record (21 CFR 1304.22(c): the
name and address of the person dispensed to); a site's on the REMS forms and DEA records.
Plain data in, field -> message out; the field names are the model columns'.
"""

import re
from dataclasses import dataclass

# USPS two-letter codes: the states, DC and the territories with US DEA registrations.
US_STATES = [
    "AK",
    "AL",
    "AR",
    "AS",
    "AZ",
    "CA",
    "CO",
    "CT",
    "DC",
    "DE",
    "FL",
    "GA",
    "GU",
    "HI",
    "IA",
    "ID",
    "IL",
    "IN",
    "KS",
    "KY",
    "LA",
    "MA",
    "MD",
    "ME",
    "MI",
    "MN",
    "MO",
    "MP",
    "MS",
    "MT",
    "NC",
    "ND",
    "NE",
    "NH",
    "NJ",
    "NM",
    "NV",
    "NY",
    "OH",
    "OK",
    "OR",
    "PA",
    "PR",
    "RI",
    "SC",
    "SD",
    "TN",
    "TX",
    "UT",
    "VA",
    "VI",
    "VT",
    "WA",
    "WI",
    "WV",
    "WY",
]
ZIP_PATTERN = re.compile(r"^[0-9]{5}(-[0-9]{4})?$")


@dataclass(frozen=True)
class PostalAddress:
    """An address as typed, after trimming (the state upper case)."""

    line1: str
    line2: str
    city: str
    state: str
    zip_code: str

    @property
    def blank(self) -> bool:
        return not any((self.line1, self.line2, self.city, self.state, self.zip_code))


def clean_text(value: object) -> str:
    """A typed value with its spaces trimmed and runs of whitespace made one space."""
    return " ".join(str(value or "").split())


def address_problems(address: PostalAddress, required: bool) -> dict[str, str]:
    """Field name -> message for each part that cannot be saved. An address that is not
    `required` may be left wholly blank; once any part is given, it must be complete."""
    if not required and address.blank:
        return {}
    problems = {}
    if not address.line1:
        problems["address_line1"] = "Give the street address."
    if not address.city:
        problems["city"] = "Give the city."
    if address.state not in US_STATES:
        problems["state"] = "Choose the state (two-letter postal code, for example CA)."
    if not ZIP_PATTERN.match(address.zip_code):
        problems["zip_code"] = "A ZIP code is 5 digits, or 5 digits, a dash and 4 more."
    elif address.zip_code.startswith("00000"):
        problems["zip_code"] = "00000 is not a ZIP code in use."
    return problems


def one_line(address: PostalAddress) -> str:
    """The address on one line ("" when blank)."""
    parts = (address.line1, address.line2, address.city, f"{address.state} {address.zip_code}")
    return ", ".join(part.strip() for part in parts if part.strip())
