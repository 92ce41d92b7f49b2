"""Rating scales: totals, bands, validation and the PHQ-9 item 9 flag."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clinic_app.clinical.scores import (
    CADSS6,
    GAD7,
    INSTRUMENTS,
    MOAAS,
    PHQ9,
    Instrument,
    ScoreError,
    phq9_item9_positive,
    score,
)


def items_totalling(instrument: Instrument, total: int) -> list[int]:
    """Item responses that add up to `total`, filling items from the first."""
    items = []
    for _ in range(instrument.items):
        value = min(instrument.item_max, total)
        items.append(value)
        total -= value
    assert total == 0
    return items


def test_registry_and_sizes():
    assert INSTRUMENTS == {"phq9": PHQ9, "gad7": GAD7, "moaas": MOAAS, "cadss6": CADSS6}
    assert [(i.items, i.item_max, i.max_total) for i in (PHQ9, GAD7, MOAAS, CADSS6)] == [
        (9, 3, 27),
        (7, 3, 21),
        (1, 5, 5),
        (6, 4, 24),
    ]
    assert [i.label for i in (PHQ9, GAD7, MOAAS, CADSS6)] == ["PHQ-9", "GAD-7", "MOAA/S", "CADSS-6"]


@pytest.mark.parametrize(
    "total, band",
    [
        (0, "minimal"),
        (4, "minimal"),
        (5, "mild"),
        (9, "mild"),
        (10, "moderate"),
        (14, "moderate"),
        (15, "moderately severe"),
        (19, "moderately severe"),
        (20, "severe"),
        (27, "severe"),
    ],
)
def test_phq9_bands(total, band):
    assert score(PHQ9, items_totalling(PHQ9, total)) == (total, band)


@pytest.mark.parametrize(
    "total, band",
    [
        (0, "minimal"),
        (4, "minimal"),
        (5, "mild"),
        (9, "mild"),
        (10, "moderate"),
        (14, "moderate"),
        (15, "severe"),
        (21, "severe"),
    ],
)
def test_gad7_bands(total, band):
    assert score(GAD7, items_totalling(GAD7, total)) == (total, band)


@pytest.mark.parametrize(
    "value, band",
    [
        (0, "no response to pain"),
        (1, "responds only to pain"),
        (2, "responds only to prodding"),
        (3, "responds to loud name"),
        (4, "lethargic response to name"),
        (5, "responds readily to name"),
    ],
)
def test_moaas_levels(value, band):
    assert score(MOAAS, [value]) == (value, band)


@pytest.mark.parametrize("items, total", [([0] * 6, 0), ([4] * 6, 24), ([1, 0, 2, 4, 3, 0], 10)])
def test_cadss6_total_without_band(items, total):
    assert score(CADSS6, items) == (total, "")


@pytest.mark.parametrize(
    "instrument, items, message",
    [
        (PHQ9, [0] * 8, "PHQ-9 has 9 items, got 8."),
        (PHQ9, [0] * 10, "PHQ-9 has 9 items, got 10."),
        (GAD7, [], "GAD-7 has 7 items, got 0."),
        (MOAAS, [3, 3], "MOAA/S has 1 items, got 2."),
        (CADSS6, [0] * 5, "CADSS-6 has 6 items, got 5."),
    ],
)
def test_wrong_item_count(instrument, items, message):
    with pytest.raises(ScoreError) as caught:
        score(instrument, items)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    "instrument, items, message",
    [
        (PHQ9, [0, 0, 4, 0, 0, 0, 0, 0, 0], "Item 3 must be between 0 and 3."),
        (PHQ9, [-1, 0, 0, 0, 0, 0, 0, 0, 0], "Item 1 must be between 0 and 3."),
        (GAD7, [0, 0, 0, 0, 0, 0, 9], "Item 7 must be between 0 and 3."),
        (MOAAS, [6], "Item 1 must be between 0 and 5."),
        (MOAAS, [-1], "Item 1 must be between 0 and 5."),
        (CADSS6, [4, 4, 5, 4, 4, 4], "Item 3 must be between 0 and 4."),
        (CADSS6, [0, 0, 0, 0, 0, -1], "Item 6 must be between 0 and 4."),
    ],
)
def test_item_out_of_range(instrument, items, message):
    with pytest.raises(ScoreError) as caught:
        score(instrument, items)
    assert str(caught.value) == message


def test_first_bad_item_is_reported():
    with pytest.raises(ScoreError, match="^Item 2 "):
        score(PHQ9, [0, 7, 9, 0, 0, 0, 0, 0, 0])


def test_score_error_is_a_value_error():
    assert issubclass(ScoreError, ValueError)


@pytest.mark.parametrize(
    "items, positive",
    [
        ([0] * 9, False),
        ([3] * 8 + [0], False),
        ([0] * 8 + [1], True),
        ([0] * 8 + [3], True),
        ([1] * 8, False),  # incomplete: no item 9
        ([0] * 8 + [1, 0], False),  # not a PHQ-9
        ([], False),
    ],
)
def test_phq9_item9(items, positive):
    assert phq9_item9_positive(items) is positive


instruments = st.sampled_from([PHQ9, GAD7, MOAAS, CADSS6])


@st.composite
def responses(draw):
    instrument = draw(instruments)
    items = draw(
        st.lists(
            st.integers(0, instrument.item_max),
            min_size=instrument.items,
            max_size=instrument.items,
        )
    )
    return instrument, items


def band_rank(instrument: Instrument, band: str) -> int:
    names = [name for _, name in instrument.bands]
    return names.index(band) if names else -1


@given(first=responses(), data=st.data())
def test_total_is_sum_and_band_monotone(first, data):
    instrument, items = first
    other = data.draw(
        st.lists(
            st.integers(0, instrument.item_max),
            min_size=instrument.items,
            max_size=instrument.items,
        )
    )
    total, band = score(instrument, items)
    other_total, other_band = score(instrument, other)
    assert total == sum(items)
    assert 0 <= total <= instrument.max_total
    if total <= other_total:
        assert band_rank(instrument, band) <= band_rank(instrument, other_band)
    expected = [name for lowest, name in instrument.bands if total >= lowest]
    assert band == (expected[-1] if expected else "")


@given(
    instrument=instruments,
    data=st.data(),
)
def test_any_out_of_range_item_is_refused(instrument, data):
    items = data.draw(
        st.lists(
            st.integers(0, instrument.item_max),
            min_size=instrument.items,
            max_size=instrument.items,
        )
    )
    position = data.draw(st.integers(0, instrument.items - 1))
    items[position] = data.draw(
        st.integers(max_value=-1) | st.integers(min_value=instrument.item_max + 1)
    )
    with pytest.raises(ScoreError, match=f"^Item {position + 1} must be between"):
        score(instrument, items)


@given(items=st.lists(st.integers(0, 3), min_size=9, max_size=9))
def test_item9_flag_matches_the_ninth_answer(items):
    assert phq9_item9_positive(items) is (items[8] > 0)
