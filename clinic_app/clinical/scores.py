"""Rating scales: item ranges, totals and severity bands.

Sources: PHQ-9 (Kroenke, Spitzer & Williams, J Gen Intern Med 2001) and GAD-7 (Spitzer et al.,
Arch Intern Med 2006) with their published bands; MOAA/S 0-5 (the sedation scale of the SPRAVATO
label's §5.1 data); CADSS-6, six items of the CADSS (Bremner et al., J Trauma Stress 1998), with
no published bands.
"""

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Instrument:
    """A scale: how many items, each item's range, and the bands over the total."""

    code: str
    label: str
    items: int
    item_max: int
    # (lowest total in band, band name), ascending.
    bands: tuple[tuple[int, str], ...] = ()

    @property
    def max_total(self) -> int:
        return self.items * self.item_max


PHQ9 = Instrument(
    "phq9",
    "PHQ-9",
    9,
    3,
    ((0, "minimal"), (5, "mild"), (10, "moderate"), (15, "moderately severe"), (20, "severe")),
)
GAD7 = Instrument(
    "gad7", "GAD-7", 7, 3, ((0, "minimal"), (5, "mild"), (10, "moderate"), (15, "severe"))
)
# Band names fit Assessment.band (30 characters); the full MOAA/S wording is on the chart form.
MOAAS = Instrument(
    "moaas",
    "MOAA/S",
    1,
    5,
    (
        (0, "no response to pain"),
        (1, "responds only to pain"),
        (2, "responds only to prodding"),
        (3, "responds to loud name"),
        (4, "lethargic response to name"),
        (5, "responds readily to name"),
    ),
)
CADSS6 = Instrument("cadss6", "CADSS-6", 6, 4)

INSTRUMENTS: dict[str, Instrument] = {i.code: i for i in (PHQ9, GAD7, MOAAS, CADSS6)}


class ScoreError(ValueError):
    """Item responses that do not fit the instrument."""


def score(instrument: Instrument, items: Sequence[int]) -> tuple[int, str]:
    """(total, band) for complete item responses. Raises ScoreError on a wrong count or range."""
    if len(items) != instrument.items:
        raise ScoreError(f"{instrument.label} has {instrument.items} items, got {len(items)}.")
    for number, value in enumerate(items, start=1):
        if not 0 <= value <= instrument.item_max:
            raise ScoreError(f"Item {number} must be between 0 and {instrument.item_max}.")
    total = sum(items)
    band = ""
    for lowest, name in instrument.bands:
        if total >= lowest:
            band = name
    return total, band


def phq9_item9_positive(items: Sequence[int]) -> bool:
    """Any answer above 0 on PHQ-9 item 9 (thoughts of self-harm) needs same-day follow-up."""
    return len(items) == PHQ9.items and items[8] > 0
