"""Controlled-substance ledger rules: movement kinds and their signs, balances derived from the
movements, draws from a container, count variances and the theft/loss report deadlines.

Sources (see ../shared/reference/turn2.md §2):
- 21 CFR 1304.21(a): a complete and accurate record of each substance received or disposed of,
  per registered location (1304.21(b)); balances here are derived from that record, never typed.
- 21 CFR 1304.11: an initial inventory, then one at least every two years; CIII opened
  containers may be estimated.
- 21 CFR 1301.76(b) and Federal Register 2023-13085: theft or significant loss is notified to the
  DEA Field Division in writing within one business day of discovery, and DEA Form 106 is filed
  within 45 days of discovery.
- 21 U.S.C. 827(b): records kept at least two years; states ask up to five (WI, OH). Seven years
  is the clinic default [D], a setting.
- Expiry warnings 30 days ahead: a clinic default [D] (issue 16).
- Opened vials: USP <797> (multiple-dose containers): a multiple-dose container may be used for
  up to 28 days after it is first entered or punctured, unless the manufacturer's labelling says
  otherwise; a single-dose container is for one patient and one procedure, and what is left once
  it is opened is discarded. CDC injection safety, "Questions about multi-dose vials": date an
  opened multi-dose vial and discard it within 28 days unless the manufacturer specifies another
  date. The 28 days are a setting (a manufacturer's shorter in-use period is set here); a vial's
  beyond-use date never falls after its expiry date.
"""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from clinic_app.clinical.rules import ClinicSettings, setting

ZERO = Decimal(0)
HUNDREDTH = Decimal("0.01")  # quantities are stored to the hundredth (database.Quantity)
# The law's deadline for the written notice, not a clinic choice (21 CFR 1301.76(b)).
NOTICE_BUSINESS_DAYS = 1


@dataclass(frozen=True)
class StockRules(ClinicSettings):
    """Numbers of the controlled-substance records; defaults are the sourced ones above."""

    # fmt: off
    expiry_warning_days: int = setting(
        30, "Stock: warn of expiry within", "stock", 1, 180, "days")
    form106_days: int = setting(
        45, "Theft or significant loss: Form 106 within", "stock", 1, 45, "days")
    retention_years: int = setting(
        7, "Keep controlled-substance records for", "stock", 2, 30, "years")
    multiple_dose_days: int = setting(
        28, "Opened multiple-dose vial: use for at most", "stock", 1, 28, "days")
    # fmt: on


class MovementKind(StrEnum):
    """What happened to a container's contents."""

    RECEIVE = "receive"
    ADMINISTER = "administer"
    WASTE = "waste"
    DESTROY = "destroy"
    RETURN = "return"  # to the supplier or a reverse distributor
    LOSS = "loss"
    COUNT_ADJUST = "count_adjust"
    REVERSAL = "reversal"

    @property
    def label(self) -> str:
        return _LABELS[self]


_LABELS = {
    MovementKind.RECEIVE: "Received",
    MovementKind.ADMINISTER: "Administered",
    MovementKind.WASTE: "Wasted",
    MovementKind.DESTROY: "Destroyed",
    MovementKind.RETURN: "Returned",
    MovementKind.LOSS: "Lost",
    MovementKind.COUNT_ADJUST: "Count adjustment",
    MovementKind.REVERSAL: "Reversal",
}
INFLOWS = frozenset({MovementKind.RECEIVE})
OUTFLOWS = frozenset(
    {
        MovementKind.ADMINISTER,
        MovementKind.WASTE,
        MovementKind.DESTROY,
        MovementKind.RETURN,
        MovementKind.LOSS,
    }
)


class LedgerError(ValueError):
    """A movement the ledger refuses; the message is safe to show."""


def finer_than_a_hundredth(quantity: Decimal) -> bool:
    """Quantities are kept to the hundredth (database.Quantity); a finer one cannot be stored
    exactly, so it is refused rather than rounded."""
    return quantity != quantity.quantize(HUNDREDTH)


def signed_quantity(kind: MovementKind, quantity: Decimal) -> Decimal:
    """The movement's effect on the balance. Receipts and outflows take a positive quantity
    and get their sign from the kind; an adjustment carries its own sign. Reversals are made
    with `reversal_of`, never here."""
    if kind == MovementKind.REVERSAL:
        raise LedgerError("A reversal takes the quantity of the movement it reverses.")
    if finer_than_a_hundredth(quantity):
        raise LedgerError("Give the quantity to the hundredth at most (e.g. 0.35).")
    if kind == MovementKind.COUNT_ADJUST:
        if quantity == ZERO:
            raise LedgerError("An adjustment of nothing is not a movement.")
        return quantity
    if quantity <= ZERO:
        raise LedgerError("The quantity must be more than zero.")
    return quantity if kind in INFLOWS else -quantity


@dataclass(frozen=True)
class Movement:
    """One ledger row as the rules see it: where, which container, what and how much (signed)."""

    id: int
    site: int
    product: int
    lot: str
    container: int
    kind: MovementKind
    quantity: Decimal
    reverses: int | None = None


def reversal_of(target: Movement, earlier: Iterable[Movement]) -> Decimal:
    """The signed quantity of a reversal of `target`: its negation. A reversal is never
    reversed (record the movement again instead), nor a loss, and a movement is reversed at
    most once."""
    if target.kind == MovementKind.REVERSAL:
        raise LedgerError("A reversal cannot be reversed; record the movement again instead.")
    if target.kind == MovementKind.LOSS:
        # A loss may already be reported to the DEA (notice, Form 106); stock that turns up is
        # counted again by two people, and the count's discrepancy says what happened.
        raise LedgerError("A loss is not reversed: take a count to record stock that turned up.")
    if any(m.reverses == target.id for m in earlier):
        raise LedgerError("This movement is already reversed.")
    return -target.quantity


def mg_of(quantity: Decimal, mg_per_unit: Decimal) -> Decimal:
    """The mg in `quantity` (mL or devices, either sign) at the container's concentration, to
    the hundredth as the ledger stores it (0.33 mL of 50 mg/mL: 16.5 mg)."""
    return (abs(quantity) * mg_per_unit).quantize(HUNDREDTH, ROUND_HALF_UP)


def shown_mg(
    kind: MovementKind, quantity: Decimal, quantity_mg: Decimal | None, mg_per_unit: Decimal
) -> Decimal | None:
    """The mg a ledger row stands for: as recorded (administrations, and waste since it is
    recorded), else for waste from the container's concentration; None for other movements."""
    if quantity_mg is not None:
        return quantity_mg
    if kind == MovementKind.WASTE:
        return mg_of(quantity, mg_per_unit)
    return None


def after(balance: Decimal, change: Decimal) -> Decimal:
    """The balance after a signed change; LedgerError if it would go below zero."""
    result = balance + change
    if result < ZERO:
        raise LedgerError(f"Only {balance.normalize():f} left: this would go below zero.")
    return result


@dataclass(frozen=True)
class Balances:
    """Balances derived from movements, by container, by (product, lot), by (site, product)."""

    container: dict[int, Decimal]
    lot: dict[tuple[int, str], Decimal]
    product: dict[tuple[int, int], Decimal]


def balances(movements: Iterable[Movement]) -> Balances:
    """Add the movements up. Balances are never stored as editable numbers: this is them."""
    container: dict[int, Decimal] = defaultdict(lambda: ZERO)
    lot: dict[tuple[int, str], Decimal] = defaultdict(lambda: ZERO)
    product: dict[tuple[int, int], Decimal] = defaultdict(lambda: ZERO)
    for m in movements:
        container[m.container] += m.quantity
        lot[(m.product, m.lot)] += m.quantity
        product[(m.site, m.product)] += m.quantity
    return Balances(dict(container), dict(lot), dict(product))


def running_balances(movements: Iterable[Movement]) -> list[Decimal]:
    """Each movement's container balance after it, in the order given (the ledger CSV)."""
    seen: dict[int, Decimal] = defaultdict(lambda: ZERO)
    out = []
    for m in movements:
        seen[m.container] += m.quantity
        out.append(seen[m.container])
    return out


@dataclass(frozen=True)
class ContainerState:
    """What a draw needs to know about a vial or device."""

    site: int
    expiry: date
    remaining: Decimal
    unit: str  # "mL" or "device"
    # A count found other than the ledger's balance and the registrant has not classified it.
    unsettled_count: bool = False
    # The clinic-local day of the vial's first draw (None while sealed), whether it may be
    # entered again (multiple-dose), the session that opened it, and the in-use days allowed.
    opened_on: date | None = None
    multiple_dose: bool = True
    opened_for: int | None = None
    in_use_days: int = 28

    @property
    def noun(self) -> str:
        return "device" if self.unit == "device" else "vial"

    @property
    def beyond_use(self) -> date | None:
        """The last day an opened vial may be drawn from (None while sealed, and for devices)."""
        if self.unit == "device":
            return None
        return beyond_use_date(self.opened_on, self.expiry, self.multiple_dose, self.in_use_days)


def beyond_use_date(
    opened_on: date | None, expiry: date, multiple_dose: bool, in_use_days: int
) -> date | None:
    """The last day an opened vial may be drawn from: a multiple-dose vial `in_use_days` after
    its first puncture, a single-dose vial the day it was opened (and then only by the session
    that opened it); never after the expiry date. None while sealed."""
    if opened_on is None:
        return None
    last = opened_on + timedelta(days=in_use_days) if multiple_dose else opened_on
    return min(last, expiry)


def opened_vial_problem(container: ContainerState, session: int | None, today: date) -> str | None:
    """Why an opened vial may not be drawn from today by `session`, or None: past its beyond-use
    date, or a single-dose vial opened for another session (it is not kept once opened)."""
    last = container.beyond_use
    if last is None or container.opened_on is None:
        return None
    opened = container.opened_on.isoformat()
    if not container.multiple_dose and (session is None or session != container.opened_for):
        return (
            f"This single-dose vial was opened on {opened} for another dose and is not kept "
            "once opened; waste what is left and use another vial."
        )
    if last < today:
        return (
            f"This vial was first punctured on {opened}; its beyond-use date was "
            f"{last.isoformat()}. Waste what is left and use another vial."
        )
    return None


def to_be_wasted(container: ContainerState, today: date) -> bool:
    """An opened vial with something left that no later dose may use: past its beyond-use date,
    or a single-dose vial opened on an earlier day."""
    last = container.beyond_use
    if last is None or container.remaining <= ZERO:
        return False
    return last < today


def discrepancy_problem(container: ContainerState) -> str | None:
    """Why nothing may be drawn from or wasted out of `container` while a count discrepancy on
    it is unclassified, or None: the balance a draw is checked against is in doubt until the
    registrant's classification brings the ledger to the count (or says the count was wrong)."""
    if not container.unsettled_count:
        return None
    noun = container.noun
    return (
        f"This {noun} has a count discrepancy the registrant has not classified yet; "
        f"use another {noun} until it is."
    )


def draw_problem(
    container: ContainerState,
    quantity: Decimal,
    site: int,
    today: date,
    session: int | None = None,
) -> str | None:
    """Why `quantity` cannot be drawn from `container` at `site` on `today` for `session`, or
    None."""
    noun = container.noun
    if container.site != site:
        return f"This {noun} is stocked at another site; use one from this site."
    if problem := discrepancy_problem(container):
        return problem
    if container.expiry < today:
        return f"This {noun} expired on {container.expiry.isoformat()}; do not use it."
    if container.remaining <= ZERO:
        return f"This {noun} is empty."
    if problem := opened_vial_problem(container, session, today):
        return problem
    if quantity <= ZERO:
        return "The quantity must be more than zero."
    if quantity > container.remaining:
        held = f"{container.remaining.normalize():f} {container.unit}"
        return f"This {noun} holds only {held}; pick another as well."
    return None


def _same(a: str, b: str) -> bool:
    """Two invoice or lot numbers are the same whatever their case or surrounding spaces."""
    return a.strip().lower() == b.strip().lower()


@dataclass(frozen=True)
class ReceivedLine:
    """A receipt line as the receiving rules see it (an earlier one or one being received)."""

    product: int
    lot: str
    expiry: date
    invoice: str = ""
    received_on: date | None = None


def duplicate_receipt_problem(
    invoice: str, lots: Iterable[str], earlier: Iterable[ReceivedLine]
) -> str | None:
    """Why a delivery on `invoice` with `lots` repeats a receipt already recorded, or None.
    `earlier` are the lines received at the same site from the same supplier: the same invoice
    and lot again is the same delivery entered twice (its containers would be counted twice)."""
    wanted = list(lots)
    for line in earlier:
        if _same(line.invoice, invoice) and any(_same(line.lot, lot) for lot in wanted):
            day = f" on {line.received_on.isoformat()}" if line.received_on else ""
            return (
                f"Invoice {line.invoice} with lot {line.lot} from this supplier was already "
                f"received at this site{day}; it is not recorded twice."
            )
    return None


def lot_expiry_problems(
    lines: list[ReceivedLine], on_record: Iterable[ReceivedLine]
) -> dict[int, str]:
    """Line index -> why its expiry differs from the one already on record for the same lot of
    the same product (at any site, or on an earlier line of this receipt): a manufacturer's lot
    has one expiry date, so a different one is a typing or labelling mistake."""
    known = list(on_record)
    problems: dict[int, str] = {}
    for number, line in enumerate(lines):
        recorded = next(
            (
                other.expiry
                for other in known
                if other.product == line.product and _same(other.lot, line.lot)
            ),
            None,
        )
        if recorded is not None and recorded != line.expiry:
            problems[number] = (
                f"Lot {line.lot.strip()} of this product is on record as expiring on "
                f"{recorded.isoformat()}; one lot has one expiry date: check the label."
            )
        known.append(line)
    return problems


def pack_problems(
    containers: int | None, packs: int | None, per_pack: int | None, most: int
) -> dict[str, str]:
    """What is wrong with a receipt line's count, by field ("containers", "packs", "pack"), for
    a line of loose containers (`per_pack` None) or of `packs` packs of `per_pack` containers
    each (Spravato kits of 2 or 3 devices): the invoice counts packs, the ledger containers, and
    a container count typed as well must be the packs' (one device is not a kit)."""
    if per_pack is None:
        if packs:
            return {"pack": "Choose the pack these packs are of, or leave the packs blank."}
        if not 1 <= (containers or 0) <= most:
            return {"containers": f"Give the number of containers (1 to {most})."}
        return {}
    if not packs or packs < 1:
        return {"packs": "Give the number of packs on the invoice."}
    total = packs * per_pack
    if total > most:
        return {"packs": f"At most {most} containers on one line; split the packs over lines."}
    if containers and containers != total:
        return {
            "containers": f"{packs} packs of {per_pack} are {total} containers, not "
            f"{containers}: check the invoice."
        }
    return {}


def split_draw(total: Decimal, remaining: list[Decimal]) -> list[Decimal]:
    """How much to draw from each picked vial, in the order picked: each emptied before the
    next. LedgerError when together they hold too little or one would be left untouched."""
    if total <= ZERO:
        raise LedgerError("The quantity must be more than zero.")
    if sum(remaining, ZERO) < total:
        raise LedgerError("The vials picked hold too little for this dose; pick another.")
    draws: list[Decimal] = []
    left = total
    for held in remaining:
        if left <= ZERO:
            raise LedgerError("More vials were picked than the dose needs; pick fewer.")
        take = min(held, left)
        draws.append(take)
        left -= take
    return draws


def expiring(expiry: date, today: date, rules: StockRules) -> bool:
    """Inside the warning window (or past it)."""
    return expiry <= today + timedelta(days=rules.expiry_warning_days)


def variance(expected: Decimal, counted: Decimal) -> Decimal:
    """Counted minus expected: below zero is missing stock. Any non-zero variance opens a
    discrepancy; it is never adjusted silently."""
    if counted < ZERO:
        raise LedgerError("A count cannot be below zero.")
    if finer_than_a_hundredth(counted):
        raise LedgerError("Give what was found to the hundredth at most (e.g. 4.35).")
    return counted - expected


class Classification(StrEnum):
    RECORDING_ERROR = "recording_error"
    EXPLAINED = "explained"
    UNEXPLAINED = "unexplained"
    SUSPECTED_THEFT = "suspected_theft"
    SIGNIFICANT_LOSS = "significant_loss"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize()

    @property
    def reportable(self) -> bool:
        """Theft or significant loss: DEA notice and Form 106."""
        return self in (Classification.SUSPECTED_THEFT, Classification.SIGNIFICANT_LOSS)


def add_business_days(day: date, days: int, closed: frozenset[date] = frozenset()) -> date:
    """`days` business days after `day` (weekends and `closed` dates skipped)."""
    while days > 0:
        day += timedelta(days=1)
        if day.weekday() < 5 and day not in closed:
            days -= 1
    return day


@dataclass(frozen=True)
class ReportDue:
    notice: date
    form106: date


def report_due(
    discovered: date, rules: StockRules, closed: frozenset[date] = frozenset()
) -> ReportDue:
    """When the DEA notice and Form 106 are due, counted from discovery."""
    return ReportDue(
        notice=add_business_days(discovered, NOTICE_BUSINESS_DAYS, closed),
        form106=discovered + timedelta(days=rules.form106_days),
    )


def close_problems(
    classification: Classification | None, note: str, notice_ref: str, form106_ref: str
) -> dict[str, str]:
    """What stops a discrepancy from closing, by field."""
    problems: dict[str, str] = {}
    if classification is None:
        problems["classification"] = "Classify the discrepancy."
    if not note.strip():
        problems["note"] = "Say what was found."
    if classification is not None and classification.reportable:
        if not notice_ref.strip():
            problems["notice_ref"] = "Theft or significant loss: record the DEA notice reference."
        if not form106_ref.strip():
            problems["form106_ref"] = "Theft or significant loss: record the Form 106 reference."
    return problems


def report_problems(note: str, notice_ref: str, form106_ref: str) -> dict[str, str]:
    """What stops an update of a classified, still open discrepancy from saving anything: each
    reference is saved on its own (the DEA notice is due within one business day, Form 106
    within 45 days), but an update with neither nor a note saves nothing."""
    if notice_ref.strip() or form106_ref.strip() or note.strip():
        return {}
    return {
        "notice_ref": "Record the DEA notice reference, the Form 106 reference, or both.",
    }


def adjustment(classification: Classification, found: Decimal) -> tuple[MovementKind, Decimal]:
    """The movement (kind, positive quantity for a loss, signed for an adjustment) that brings
    the ledger to the count once classified: missing stock after a theft or significant loss is
    a loss; anything else an adjustment."""
    if found < ZERO and classification.reportable:
        return MovementKind.LOSS, -found
    return MovementKind.COUNT_ADJUST, found
