"""The respiratory watch and the discharge blocker it raises for esketamine."""

from hypothesis import given
from hypothesis import strategies as st

from clinic_app.clinical.discharge import chart_blockers
from clinic_app.clinical.respiratory import (
    RespiratoryAnswer,
    respiratory_problem,
    respiratory_watch,
)
from tests.clinical.builders import RULES, at, esketamine_facts, iv_facts, vitals


def readings(*spo2s, start=40, step=5):
    return [vitals(spo2=s, taken_at=at(start + i * step)) for i, s in enumerate(spo2s)]


def test_two_consecutive_low_readings_fire_the_watch():
    run = respiratory_watch(readings(97, 92, 91, 96), 93)
    assert [r.spo2 for r in run] == [92, 91]


def test_low_readings_that_are_not_consecutive_do_not():
    assert respiratory_watch(readings(92, 95, 92, 95), 93) == ()


def test_the_line_is_strictly_below():
    assert respiratory_watch(readings(93, 93), 93) == ()
    assert respiratory_watch(readings(93, 93), 94)


def test_order_is_by_time_not_by_entry():
    late, early_low, mid_low = (
        vitals(spo2=90, taken_at=at(60)),
        vitals(spo2=91, taken_at=at(40)),
        vitals(spo2=97, taken_at=at(50)),
    )
    assert respiratory_watch([late, early_low, mid_low], 93) == ()


@given(st.lists(st.integers(80, 100), max_size=12), st.integers(85, 98))
def test_watch_fires_exactly_when_two_neighbours_are_below(values, line):
    fired = bool(respiratory_watch(readings(*values), line))
    assert fired == any(a < line and b < line for a, b in zip(values, values[1:], strict=False))


def test_unanswered_watch_blocks_with_the_readings_named():
    code, message = respiratory_problem(readings(92, 90), None, 93)
    assert code == "respiratory_question"
    assert "92 %, 90 %" in message


def test_an_answer_clears_the_watch_unless_unresolved():
    low = readings(92, 90)
    assert respiratory_problem(low, RespiratoryAnswer(observed=True, resolved=True), 93) is None
    assert respiratory_problem(low, RespiratoryAnswer(observed=False, resolved=False), 93) is None
    code, _ = respiratory_problem(low, RespiratoryAnswer(observed=True, resolved=False), 93)
    assert code == "respiratory_unresolved"


def codes(blockers):
    return [b.code for b in blockers]


def test_esketamine_discharge_waits_for_the_answer():
    facts = esketamine_facts(readings(92, 91, 97, 97, 97, 97, start=40, step=15))
    assert "respiratory_question" in codes(chart_blockers(facts, at(125), RULES))


def test_iv_sessions_have_no_respiratory_question():
    facts = iv_facts(readings(92, 91, 97))
    assert "respiratory_question" not in codes(chart_blockers(facts, at(125), RULES))
