"""The IANA time zones of the US states, DC and territories, and which of them fit a state.

The zones offered are the canonical ones tzdata's zone1970.tab gives for the US and for the
territories in `clinic_app.clinical.addresses.US_STATES` (links such as America/St_Thomas or
Pacific/Saipan are left out: their canonical zone is offered). A state fits the general zone of
each US time zone part of it keeps (America/New_York for Eastern, America/Chicago for Central, ...)
and the zones tzdata gives for parts of it (America/Detroit, America/Indiana/..., America/Boise).
Plain data in, message out.
"""

EASTERN = "America/New_York"
CENTRAL = "America/Chicago"
MOUNTAIN = "America/Denver"
PACIFIC = "America/Los_Angeles"

# Zone -> what it covers (zone1970.tab's comment), in the order the picker shows them: east to
# west, then the territories.
US_ZONES: dict[str, str] = {
    EASTERN: "Eastern (most areas)",
    "America/Detroit": "Eastern - MI (most areas)",
    "America/Kentucky/Louisville": "Eastern - KY (Louisville area)",
    "America/Kentucky/Monticello": "Eastern - KY (Wayne)",
    "America/Indiana/Indianapolis": "Eastern - IN (most areas)",
    "America/Indiana/Vincennes": "Eastern - IN (Daviess, Dubois, Knox, Martin)",
    "America/Indiana/Winamac": "Eastern - IN (Pulaski)",
    "America/Indiana/Marengo": "Eastern - IN (Crawford)",
    "America/Indiana/Petersburg": "Eastern - IN (Pike)",
    "America/Indiana/Vevay": "Eastern - IN (Switzerland)",
    CENTRAL: "Central (most areas)",
    "America/Indiana/Tell_City": "Central - IN (Perry)",
    "America/Indiana/Knox": "Central - IN (Starke)",
    "America/Menominee": "Central - MI (Wisconsin border)",
    "America/North_Dakota/Center": "Central - ND (Oliver)",
    "America/North_Dakota/New_Salem": "Central - ND (Morton rural)",
    "America/North_Dakota/Beulah": "Central - ND (Mercer)",
    MOUNTAIN: "Mountain (most areas)",
    "America/Boise": "Mountain - ID (south), OR (east)",
    "America/Phoenix": "Mountain, no daylight saving - AZ (most areas)",
    PACIFIC: "Pacific",
    "America/Anchorage": "Alaska (most areas)",
    "America/Juneau": "Alaska - Juneau area",
    "America/Sitka": "Alaska - Sitka area",
    "America/Metlakatla": "Alaska - Annette Island",
    "America/Yakutat": "Alaska - Yakutat",
    "America/Nome": "Alaska (west)",
    "America/Adak": "Alaska - western Aleutians",
    "Pacific/Honolulu": "Hawaii",
    "America/Puerto_Rico": "Atlantic - PR, VI",
    "Pacific/Guam": "Chamorro - GU, MP",
    "Pacific/Pago_Pago": "Samoa - AS",
}

_INDIANA = tuple(zone for zone in US_ZONES if zone.startswith("America/Indiana/"))
_NORTH_DAKOTA = tuple(zone for zone in US_ZONES if zone.startswith("America/North_Dakota/"))
_ALASKA = (
    "America/Anchorage",
    "America/Juneau",
    "America/Sitka",
    "America/Metlakatla",
    "America/Yakutat",
    "America/Nome",
    "America/Adak",
)
_ONE_ZONE = {
    EASTERN: "CT DC DE GA MA MD ME NC NH NJ NY OH PA RI SC VA VT WV",
    CENTRAL: "AL AR IA IL LA MN MO MS OK WI",
    MOUNTAIN: "CO MT NM UT WY",
    PACIFIC: "CA WA",
    "Pacific/Honolulu": "HI",
    "America/Puerto_Rico": "PR VI",
    "Pacific/Guam": "GU MP",
    "Pacific/Pago_Pago": "AS",
}

# State (USPS code) -> the zones a site there may keep.
STATE_ZONES: dict[str, tuple[str, ...]] = {
    **{state: (zone,) for zone, states in _ONE_ZONE.items() for state in states.split()},
    "AK": _ALASKA,
    "AZ": ("America/Phoenix", MOUNTAIN),  # the Navajo Nation keeps daylight saving
    "FL": (EASTERN, CENTRAL),
    "ID": (MOUNTAIN, "America/Boise", PACIFIC),
    "IN": (EASTERN, *_INDIANA, CENTRAL),
    "KS": (CENTRAL, MOUNTAIN),
    "KY": (EASTERN, "America/Kentucky/Louisville", "America/Kentucky/Monticello", CENTRAL),
    "MI": (EASTERN, "America/Detroit", CENTRAL, "America/Menominee"),
    "ND": (CENTRAL, *_NORTH_DAKOTA, MOUNTAIN),
    "NE": (CENTRAL, MOUNTAIN),
    "NV": (PACIFIC, MOUNTAIN),  # West Wendover keeps Mountain time
    "OR": (PACIFIC, MOUNTAIN, "America/Boise"),
    "SD": (CENTRAL, MOUNTAIN),
    "TN": (EASTERN, CENTRAL),
    "TX": (CENTRAL, MOUNTAIN),
}


def zone_options(kept: str = "") -> list[tuple[str, str]]:
    """The US zones as (name, "name — what it covers") for a picker, east to west; `kept`, a
    zone stored before that is not a US one, is listed last so a form shows what is stored and
    it can be changed."""
    options = [(name, f"{name} — {area}") for name, area in US_ZONES.items()]
    if kept and kept not in US_ZONES:
        options.append((kept, f"{kept} (not a US zone)"))
    return options


def zones_of(state: str) -> tuple[str, ...]:
    """The zones a site in this state may keep (none for a code that names no state)."""
    return STATE_ZONES.get(state, ())


def zone_fit_problem(state: str, zone: str) -> str | None:
    """Why a site in `state` may not keep `zone` (an IANA name), or None when it may. Only US
    zones are kept; a code that names no state is the state check's to refuse, not this one's."""
    if zone not in US_ZONES:
        return "Choose a US time zone from the list."
    allowed = zones_of(state)
    if not allowed or zone in allowed:
        return None
    choose = allowed[0] if len(allowed) == 1 else f"one of {', '.join(allowed)}"
    return f"{zone} is not a time zone of {state}: choose {choose}."
