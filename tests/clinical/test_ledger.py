"""The controlled-substance ledger rules: signs, derived balances that never go negative, draws,
count variances and the theft/loss report deadlines (issue 16)."""

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from clinic_app.clinical.ledger import (
    ZERO,
    Balances,
    Classification,
    ContainerState,
    LedgerError,
    Movement,
    MovementKind,
    ReceivedLine,
    StockRules,
    add_business_days,
    adjustment,
    after,
    balances,
    beyond_use_date,
    close_problems,
    discrepancy_problem,
    draw_problem,
    duplicate_receipt_problem,
    expiring,
    lot_expiry_problems,
    mg_of,
    opened_vial_problem,
    pack_problems,
    report_due,
    report_problems,
    reversal_of,
    running_balances,
    shown_mg,
    signed_quantity,
    split_draw,
    to_be_wasted,
    variance,
)

D = Decimal
TODAY = date(2026, 12, 7)  # a Monday
RULES = StockRules()


# --- signs ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "sign"),
    [
        (MovementKind.RECEIVE, 1),
        (MovementKind.ADMINISTER, -1),
        (MovementKind.WASTE, -1),
        (MovementKind.DESTROY, -1),
        (MovementKind.RETURN, -1),
        (MovementKind.LOSS, -1),
    ],
)
def test_each_kind_has_its_sign(kind, sign):
    assert signed_quantity(kind, D("2.5")) == sign * D("2.5")


@pytest.mark.parametrize("quantity", [D(0), D("-1")])
def test_receipts_and_outflows_need_a_positive_quantity(quantity):
    with pytest.raises(LedgerError, match="more than zero"):
        signed_quantity(MovementKind.ADMINISTER, quantity)


def test_an_adjustment_carries_its_own_sign_and_is_never_zero():
    assert signed_quantity(MovementKind.COUNT_ADJUST, D("-0.5")) == D("-0.5")
    assert signed_quantity(MovementKind.COUNT_ADJUST, D("0.5")) == D("0.5")
    with pytest.raises(LedgerError):
        signed_quantity(MovementKind.COUNT_ADJUST, ZERO)


def test_a_reversal_is_made_from_the_movement_it_reverses():
    with pytest.raises(LedgerError, match="reverses"):
        signed_quantity(MovementKind.REVERSAL, D(1))
    target = Movement(1, 1, 1, "L1", 1, MovementKind.ADMINISTER, D("-3"))
    assert reversal_of(target, []) == D(3)
    again = Movement(2, 1, 1, "L1", 1, MovementKind.REVERSAL, D(3), reverses=1)
    with pytest.raises(LedgerError, match="already reversed"):
        reversal_of(target, [again])
    with pytest.raises(LedgerError, match="cannot be reversed"):
        reversal_of(again, [])
    lost = Movement(3, 1, 1, "L1", 1, MovementKind.LOSS, D(-1))
    with pytest.raises(LedgerError, match="A loss is not reversed"):
        reversal_of(lost, [])


def test_a_balance_never_goes_below_zero():
    assert after(D(5), D(-5)) == ZERO
    with pytest.raises(LedgerError, match="Only 5 left"):
        after(D(5), D("-5.01"))


# --- derived balances -------------------------------------------------------------------------


def test_balances_by_container_lot_and_product():
    moves = [
        Movement(1, 1, 10, "A", 100, MovementKind.RECEIVE, D(20)),
        Movement(2, 1, 10, "A", 101, MovementKind.RECEIVE, D(20)),
        Movement(3, 1, 10, "B", 102, MovementKind.RECEIVE, D(20)),
        Movement(4, 1, 10, "A", 100, MovementKind.ADMINISTER, D(-4)),
        Movement(5, 2, 10, "C", 200, MovementKind.RECEIVE, D(20)),
    ]
    got = balances(moves)
    assert got == Balances(
        container={100: D(16), 101: D(20), 102: D(20), 200: D(20)},
        lot={(10, "A"): D(36), (10, "B"): D(20), (10, "C"): D(20)},
        product={(1, 10): D(56), (2, 10): D(20)},
    )
    assert running_balances(moves) == [D(20), D(20), D(20), D(16), D(20)]


# --- draws ------------------------------------------------------------------------------------


def vial(**changes):
    values = {"site": 1, "expiry": date(2027, 6, 30), "remaining": D(5), "unit": "mL"}
    return ContainerState(**(values | changes))


def test_a_draw_within_the_vial_is_fine():
    assert draw_problem(vial(), D(5), 1, TODAY) is None


@pytest.mark.parametrize(
    ("container", "quantity", "site", "expected"),
    [
        (vial(site=2), D(1), 1, "another site"),
        (vial(expiry=date(2026, 12, 6)), D(1), 1, "expired on 2026-12-06"),
        (vial(remaining=ZERO), D(1), 1, "empty"),
        (vial(), D("5.1"), 1, "holds only 5 mL"),
        (vial(), ZERO, 1, "more than zero"),
        (vial(unit="device", remaining=D(1), site=3), D(1), 1, "This device is stocked"),
        (vial(unsettled_count=True), D(1), 1, "count discrepancy"),
        (vial(unit="device", remaining=D(1), unsettled_count=True), D(1), 1, "This device has"),
    ],
)
def test_draw_refusals(container, quantity, site, expected):
    assert expected in draw_problem(container, quantity, site, TODAY)


def test_an_unclassified_count_discrepancy_holds_the_vial():
    message = (
        "This vial has a count discrepancy the registrant has not classified yet; "
        "use another vial until it is."
    )
    assert discrepancy_problem(vial(unsettled_count=True)) == message
    assert discrepancy_problem(vial()) is None
    # Even a draw that would otherwise be fine (the balance is what is in doubt).
    assert draw_problem(vial(unsettled_count=True), D("0.1"), 1, TODAY) == message


def test_a_vial_expiring_today_may_still_be_used():
    assert draw_problem(vial(expiry=TODAY), D(1), 1, TODAY) is None


# --- opened vials: beyond-use dates (USP <797>) -------------------------------------------


def test_a_multiple_dose_vial_is_used_until_28_days_after_its_first_puncture():
    opened = date(2026, 11, 1)
    assert StockRules().multiple_dose_days == 28
    assert beyond_use_date(opened, date(2027, 6, 30), True, 28) == date(2026, 11, 29)
    assert beyond_use_date(None, date(2027, 6, 30), True, 28) is None
    # Never after the manufacturer's expiry date.
    assert beyond_use_date(opened, date(2026, 11, 10), True, 28) == date(2026, 11, 10)
    # A single-dose vial's last day is the day it was opened.
    assert beyond_use_date(opened, date(2027, 6, 30), False, 28) == opened


def test_a_draw_after_the_beyond_use_date_is_refused_with_the_date():
    opened = vial(opened_on=date(2026, 11, 1), opened_for=7)
    assert draw_problem(opened, D(1), 1, date(2026, 11, 29), session=8) is None
    assert draw_problem(opened, D(1), 1, date(2026, 11, 30), session=8) == (
        "This vial was first punctured on 2026-11-01; its beyond-use date was 2026-11-29. "
        "Waste what is left and use another vial."
    )
    shorter = vial(opened_on=date(2026, 11, 1), in_use_days=7)
    assert "2026-11-08" in draw_problem(shorter, D(1), 1, date(2026, 11, 9))
    assert to_be_wasted(opened, date(2026, 11, 30))
    assert not to_be_wasted(opened, date(2026, 11, 29))
    assert not to_be_wasted(vial(opened_on=date(2026, 11, 1), remaining=ZERO), date(2027, 1, 1))


def test_an_opened_single_dose_vial_serves_only_the_session_that_opened_it():
    single = vial(opened_on=TODAY, opened_for=7, multiple_dose=False)
    assert draw_problem(single, D(1), 1, TODAY, session=7) is None
    message = draw_problem(single, D(1), 1, TODAY, session=8)
    assert message == (
        f"This single-dose vial was opened on {TODAY.isoformat()} for another dose and is not "
        "kept once opened; waste what is left and use another vial."
    )
    assert opened_vial_problem(single, None, TODAY) == message
    # Sealed single-dose vials, and devices, have no beyond-use date.
    assert draw_problem(vial(multiple_dose=False), D(1), 1, TODAY, session=8) is None
    device = vial(unit="device", remaining=D(1), opened_on=date(2026, 1, 1), multiple_dose=False)
    assert device.beyond_use is None
    assert draw_problem(device, D(1), 1, TODAY, session=8) is None


# --- receipts in packs ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("containers", "packs", "per_pack", "problems"),
    [
        (4, None, None, {}),
        (None, 4, 2, {}),
        (12, 4, 3, {}),
        (None, None, None, {"containers": "Give the number of containers (1 to 200)."}),
        (201, None, None, {"containers": "Give the number of containers (1 to 200)."}),
        (4, 2, None, {"pack": "Choose the pack these packs are of, or leave the packs blank."}),
        (None, None, 2, {"packs": "Give the number of packs on the invoice."}),
        (
            6,
            4,
            2,
            {"containers": "4 packs of 2 are 8 containers, not 6: check the invoice."},
        ),
        (None, 67, 3, {"packs": "At most 200 containers on one line; split the packs over lines."}),
    ],
)
def test_a_line_bought_in_packs_counts_the_packs_containers(containers, packs, per_pack, problems):
    assert pack_problems(containers, packs, per_pack, 200) == problems


def test_a_dose_is_drawn_from_the_vials_in_the_order_picked():
    assert split_draw(D(7), [D(5), D(5)]) == [D(5), D(2)]
    assert split_draw(D(3), [D(5)]) == [D(3)]
    with pytest.raises(LedgerError, match="too little"):
        split_draw(D(11), [D(5), D(5)])
    with pytest.raises(LedgerError, match="pick fewer"):
        split_draw(D(3), [D(5), D(5)])


@given(
    total=st.decimals(min_value=D("0.01"), max_value=D(50), places=2),
    held=st.lists(st.decimals(min_value=D("0.01"), max_value=D(20), places=2), max_size=5),
)
def test_a_split_draw_takes_exactly_the_dose_and_no_vial_beyond_what_it_holds(total, held):
    try:
        draws = split_draw(total, held)
    except LedgerError:
        return
    assert sum(draws, ZERO) == total
    assert all(ZERO < d <= h for d, h in zip(draws, held, strict=True))


def test_expiry_warning_window():
    assert expiring(date(2027, 1, 6), TODAY, RULES)
    assert not expiring(date(2027, 1, 7), TODAY, RULES)


# --- counts and discrepancies -----------------------------------------------------------------


def test_variance_is_counted_minus_expected():
    assert variance(D(20), D("19.5")) == D("-0.5")
    assert variance(D(1), D(1)) == ZERO
    with pytest.raises(LedgerError):
        variance(D(1), D(-1))


def test_theft_notice_is_due_the_next_business_day_and_form_106_in_45_days():
    friday = date(2026, 12, 11)
    due = report_due(friday, RULES)
    assert due.notice == date(2026, 12, 14)  # Monday
    assert due.form106 == date(2027, 1, 25)
    assert report_due(TODAY, RULES).notice == date(2026, 12, 8)
    assert add_business_days(friday, 1, frozenset({date(2026, 12, 14)})) == date(2026, 12, 15)


def test_theft_or_significant_loss_cannot_close_without_both_references():
    theft = Classification.SUSPECTED_THEFT
    assert set(close_problems(theft, "Vial missing", "", "")) == {"notice_ref", "form106_ref"}
    assert close_problems(theft, "Vial missing", "DEA-LA 123", "TLR-456") == {}
    assert close_problems(Classification.EXPLAINED, "Spill, witnessed", "", "") == {}
    assert set(close_problems(None, "", "", "")) == {"classification", "note"}


def test_the_adjustment_after_classification():
    assert adjustment(Classification.SIGNIFICANT_LOSS, D(-2)) == (MovementKind.LOSS, D(2))
    assert adjustment(Classification.EXPLAINED, D("-0.2")) == (
        MovementKind.COUNT_ADJUST,
        D("-0.2"),
    )
    assert adjustment(Classification.RECORDING_ERROR, D("0.3")) == (
        MovementKind.COUNT_ADJUST,
        D("0.3"),
    )


# --- the state machine: any sequence keeps the books ------------------------------------------

QUANTITY = st.decimals(min_value=D("0.01"), max_value=D(25), places=2)
OUT_KINDS = {
    MovementKind.ADMINISTER: "administered",
    MovementKind.WASTE: "wasted",
    MovementKind.DESTROY: "destroyed",
    MovementKind.LOSS: "lost",
}


class Ledger(RuleBasedStateMachine):
    """Receipts, administrations, wastes, destructions, losses, adjustments and reversals in any
    order, each applied only when the rules accept it, as the services do."""

    @initialize()
    def start(self):
        self.moves: list[Movement] = []
        self.per_container: dict[int, dict[str, Decimal]] = {}

    def _add(self, container: int, kind: MovementKind, change: Decimal, reverses=None):
        current = balances(self.moves).container.get(container, ZERO)
        after(current, change)  # raises LedgerError: refused, nothing recorded
        product = container % 2
        self.moves.append(
            Movement(
                len(self.moves) + 1,
                1,
                product,
                f"L{container % 3}",
                container,
                kind,
                change,
                reverses,
            )
        )
        book = self.per_container.setdefault(
            container, dict.fromkeys(("received", *OUT_KINDS.values(), "adjusted"), ZERO)
        )
        return book

    @rule(container=st.integers(0, 4), quantity=QUANTITY)
    def receive(self, container, quantity):
        book = self._add(
            container, MovementKind.RECEIVE, signed_quantity(MovementKind.RECEIVE, quantity)
        )
        book["received"] += quantity

    @rule(container=st.integers(0, 4), quantity=QUANTITY, kind=st.sampled_from(list(OUT_KINDS)))
    def take_out(self, container, quantity, kind):
        try:
            book = self._add(container, kind, signed_quantity(kind, quantity))
        except LedgerError:
            return
        book[OUT_KINDS[kind]] += quantity

    @rule(container=st.integers(0, 4), quantity=QUANTITY, up=st.booleans())
    def adjust(self, container, quantity, up):
        change = quantity if up else -quantity
        try:
            book = self._add(
                container,
                MovementKind.COUNT_ADJUST,
                signed_quantity(MovementKind.COUNT_ADJUST, change),
            )
        except LedgerError:
            return
        book["adjusted"] += change

    @precondition(lambda self: self.moves)
    @rule(pick=st.integers(0, 10_000))
    def reverse(self, pick):
        target = self.moves[pick % len(self.moves)]
        try:
            change = reversal_of(target, self.moves)
            book = self._add(target.container, MovementKind.REVERSAL, change, target.id)
        except LedgerError:
            return
        # A reversal undoes the reversed movement's part of the books.
        if target.kind == MovementKind.RECEIVE:
            book["received"] -= target.quantity
        elif target.kind == MovementKind.COUNT_ADJUST:
            book["adjusted"] -= target.quantity
        else:
            book[OUT_KINDS[target.kind]] += target.quantity

    @invariant()
    def balances_add_up_and_never_go_negative(self):
        derived = balances(self.moves)
        per_product: dict[int, Decimal] = {}
        for container, book in self.per_container.items():
            expected = (
                book["received"]
                - book["administered"]
                - book["wasted"]
                - book["destroyed"]
                - book["lost"]
                + book["adjusted"]
            )
            assert derived.container.get(container, ZERO) == expected
            assert expected >= ZERO
            per_product[container % 2] = per_product.get(container % 2, ZERO) + expected
        for product, total in per_product.items():
            assert derived.product.get((1, product), ZERO) == total
        assert all(b >= ZERO for b in running_balances(self.moves))
        assert sum(derived.lot.values(), ZERO) == sum(derived.product.values(), ZERO)


Ledger.TestCase.settings = settings(max_examples=150, stateful_step_count=30, deadline=None)
test_ledger_state_machine = Ledger.TestCase


# --- receipts ---------------------------------------------------------------------------------


def line(lot="A1", expiry=date(2027, 6, 30), product=1, invoice="INV-1", received_on=None):
    return ReceivedLine(product, lot, expiry, invoice, received_on)


def test_the_same_invoice_and_lot_again_is_a_duplicate_receipt():
    earlier = [line(received_on=date(2026, 12, 1))]
    assert duplicate_receipt_problem("INV-1", ["A1"], earlier) == (
        "Invoice INV-1 with lot A1 from this supplier was already received at this site on "
        "2026-12-01; it is not recorded twice."
    )
    # Whatever the case or surrounding spaces, and when the lot is one line of several.
    assert "already received" in duplicate_receipt_problem(" inv-1 ", ["B2", "a1"], earlier)


@pytest.mark.parametrize(
    ("invoice", "lots"),
    [("INV-2", ["A1"]), ("INV-1", ["B2"]), ("INV-1", [])],
    ids=["another-invoice", "another-lot", "no-lots"],
)
def test_another_invoice_or_lot_is_not_a_duplicate(invoice, lots):
    assert duplicate_receipt_problem(invoice, lots, [line()]) is None


def test_a_lot_has_one_expiry_date():
    on_record = [line(expiry=date(2027, 6, 30))]
    received = [
        line(expiry=date(2027, 6, 30)),  # as on record
        line(lot="a1 ", expiry=date(2027, 7, 31)),  # the same lot, another date
        line(product=2, expiry=date(2027, 7, 31)),  # another product's lot A1
        line(lot="B2", expiry=date(2028, 1, 31)),  # new lot ...
        line(lot="B2", expiry=date(2028, 2, 29)),  # ... and again on the same receipt
    ]
    assert lot_expiry_problems(received, on_record) == {
        1: "Lot a1 of this product is on record as expiring on 2027-06-30; one lot has one "
        "expiry date: check the label.",
        4: "Lot B2 of this product is on record as expiring on 2028-01-31; one lot has one "
        "expiry date: check the label.",
    }
    assert lot_expiry_problems(received[:1], []) == {}


@pytest.mark.parametrize(
    ("note", "notice_ref", "form106_ref", "saves"),
    [
        ("", "DEA-LA-1", "", True),  # the notice alone, within a business day
        ("", "", "TLR-99", True),  # Form 106 alone
        ("Police report filed", "", "", True),
        ("", "DEA-LA-1", "TLR-99", True),
        (" ", " ", "", False),
    ],
)
def test_each_reference_is_saved_on_its_own(note, notice_ref, form106_ref, saves):
    problems = report_problems(note, notice_ref, form106_ref)
    assert (problems == {}) is saves
    if not saves:
        assert set(problems) == {"notice_ref"}


def test_closing_a_theft_still_needs_both_references():
    theft = Classification.SUSPECTED_THEFT
    assert set(close_problems(theft, "Missing", "DEA-LA-1", "")) == {"form106_ref"}
    assert set(close_problems(theft, "Missing", "", "TLR-99")) == {"notice_ref"}
    assert close_problems(theft, "Missing", "DEA-LA-1", "TLR-99") == {}


@pytest.mark.parametrize(
    ("quantity", "mg_per_unit", "mg"),
    [
        (D("-0.37"), D(100), D("37.00")),  # a waste row is negative; its mg is not
        (D("0.33"), D(50), D("16.50")),
        (D("0.01"), D("0.5"), D("0.01")),  # half a hundredth rounds up
        (D(-1), D(28), D("28.00")),  # a device
    ],
)
def test_mg_of_a_quantity_at_the_concentration(quantity, mg_per_unit, mg):
    assert mg_of(quantity, mg_per_unit) == mg
    assert mg_of(quantity, mg_per_unit).as_tuple().exponent == -2


def test_waste_shows_mg_even_when_not_recorded():
    waste, given, destroyed = MovementKind.WASTE, MovementKind.ADMINISTER, MovementKind.DESTROY
    assert shown_mg(waste, D("-0.25"), None, D(100)) == D(25)
    assert shown_mg(waste, D("-0.25"), D(25), D(50)) == D(25)  # as recorded wins
    assert shown_mg(given, D("-0.4"), D(40), D(100)) == D(40)
    assert shown_mg(destroyed, D(-5), None, D(100)) is None


def test_a_quantity_finer_than_a_hundredth_is_refused_not_rounded():
    with pytest.raises(LedgerError, match="to the hundredth"):
        signed_quantity(MovementKind.WASTE, D("0.333"))
    with pytest.raises(LedgerError, match="to the hundredth"):
        signed_quantity(MovementKind.COUNT_ADJUST, D("-0.005"))
    with pytest.raises(LedgerError, match="to the hundredth"):
        variance(D(5), D("4.333"))
    assert signed_quantity(MovementKind.WASTE, D("0.330")) == D("-0.33")
    assert variance(D(5), D("4.30")) == D("-0.70")
