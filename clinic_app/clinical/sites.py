"""What a site (one physical location of the clinic group) must hold to be saved: a short code,
a US postal address, an IANA time zone of the site's state, a consistent Spravato REMS
healthcare-setting certification and, when given, a well-formed DEA registration number.

The REMS certifies each healthcare setting separately and its name and address go on every
Patient Monitoring Form (SPRAVATO REMS, healthcare setting requirements); the DEA registers each
physical location separately (21 CFR 1301.12). Plain data in, field -> message out.
"""

import re
from dataclasses import dataclass
from datetime import date
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from clinic_app.clinical.addresses import PostalAddress, address_problems
from clinic_app.clinical.dea import dea_number_problem
from clinic_app.clinical.us_zones import zone_fit_problem

# A code names the site in URLs and filters: letters, digits and dashes, starting with a letter.
CODE_PATTERN = re.compile(r"^[A-Z][A-Z0-9-]{1,11}$")


@dataclass(frozen=True)
class SiteDetails:
    """A site's fields as typed (the service normalises them before checking)."""

    name: str
    code: str
    address_line1: str
    address_line2: str
    city: str
    state: str
    zip_code: str
    phone: str
    timezone: str
    rems_certified: bool
    rems_setting_id: str
    rems_certified_on: date | None
    dea_number: str


def normalise_code(value: str) -> str:
    return value.strip().upper()


def _timezone_problem(name: str, state: str) -> str | None:
    """A zone must exist, be a US one and fit the site's state (see `us_zones`)."""
    if not name:
        return "Choose the site's time zone."
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return "Choose a time zone from the list (an IANA name such as America/New_York)."
    return zone_fit_problem(state, name)


def _rems_problems(site: SiteDetails, today: date) -> dict[str, str]:
    problems = {}
    if site.rems_certified_on is not None and site.rems_certified_on > today:
        problems["rems_certified_on"] = "The certification date cannot be in the future."
    if site.rems_certified:
        if not site.rems_setting_id:
            problems["rems_setting_id"] = "Give the REMS healthcare setting ID of a certified site."
        if site.rems_certified_on is None:
            problems.setdefault("rems_certified_on", "Give the date the REMS certified the site.")
    return problems


def site_problems(site: SiteDetails, today: date) -> dict[str, str]:
    """Field name -> message for each field that cannot be saved as is (empty when all can)."""
    problems: dict[str, str] = {}
    if not site.name:
        problems["name"] = "Give the site a name."
    if not CODE_PATTERN.match(site.code):
        problems["code"] = (
            "2 to 12 capital letters, digits or dashes, starting with a letter (for example DTLA)."
        )
    address = PostalAddress(
        site.address_line1, site.address_line2, site.city, site.state, site.zip_code
    )
    problems.update(address_problems(address, required=True))
    timezone = _timezone_problem(site.timezone, site.state)
    if timezone:
        problems["timezone"] = timezone
    problems.update(_rems_problems(site, today))
    if site.dea_number:
        dea = dea_number_problem(site.dea_number)
        if dea:
            problems["dea_number"] = dea
    return problems
