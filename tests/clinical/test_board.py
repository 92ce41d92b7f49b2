"""Today-board status of a patient."""

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clinic_app.clinical.board import BoardStatus, board_status
from clinic_app.clinical.codes import Modality
from clinic_app.clinical.rules import ClinicalRules
from tests.clinical.builders import RULES, T0, at

ESK = Modality.ESKETAMINE_NASAL
IV = Modality.IV_KETAMINE


def status(
    modality=ESK,
    *,
    has_session=True,
    discharged=False,
    not_dosed=False,
    dose_started_at=T0,
    infusion_ended_at=None,
    devices=2,
    blockers=0,
    now=None,
    rules=RULES,
    devices_given=0,
):
    return board_status(
        modality=modality,
        has_session=has_session,
        discharged=discharged,
        not_dosed=not_dosed,
        dose_started_at=dose_started_at,
        infusion_ended_at=infusion_ended_at,
        devices=devices,
        recorded_blockers=blockers,
        devices_given=devices_given,
        now=now or at(60),
        rules=rules,
    )


@pytest.mark.parametrize("modality", list(Modality))
def test_waiting_without_a_session_whatever_else(modality):
    assert status(modality, has_session=False, discharged=True) is BoardStatus.WAITING


@pytest.mark.parametrize("modality", list(Modality))
def test_discharged_beats_everything_but_waiting(modality):
    assert status(modality, discharged=True, dose_started_at=None) is BoardStatus.DISCHARGED
    assert status(modality, discharged=True, blockers=3) is BoardStatus.DISCHARGED


@given(
    modality=st.sampled_from(list(Modality)),
    discharged=st.booleans(),
    blockers=st.integers(0, 5),
    now_minutes=st.integers(-30, 300),
)
def test_not_dosed_whenever_the_session_ended_without_a_dose(
    modality, discharged, blockers, now_minutes
):
    result = status(
        modality,
        not_dosed=True,
        discharged=discharged,
        dose_started_at=None,
        blockers=blockers,
        now=at(now_minutes),
    )
    assert result is BoardStatus.NOT_DOSED


def test_waiting_without_a_session_even_if_marked_not_dosed():
    assert status(has_session=False, not_dosed=True) is BoardStatus.WAITING


@pytest.mark.parametrize("modality", list(Modality))
def test_pre_dose_until_dose_recorded(modality):
    assert status(modality, dose_started_at=None, blockers=1) is BoardStatus.PRE_DOSE


def test_iv_dosing_while_infusion_runs_regardless_of_time_or_blockers():
    assert status(IV, infusion_ended_at=None, blockers=0, now=at(500)) is BoardStatus.DOSING


@pytest.mark.parametrize(
    "blockers, expected",
    [(0, BoardStatus.READY), (1, BoardStatus.OBSERVING), (4, BoardStatus.OBSERVING)],
)
def test_iv_after_infusion_by_blockers(blockers, expected):
    assert status(IV, infusion_ended_at=at(40), blockers=blockers, now=at(45)) is expected


@pytest.mark.parametrize(
    "devices, dosing_until",
    [(2, 10), (3, 15), (None, 5), (0, 5), (1, 5)],
)
def test_esketamine_dosing_covers_device_intervals(devices, dosing_until):
    end = at(dosing_until)
    assert status(devices=devices, now=T0) is BoardStatus.DOSING
    assert status(devices=devices, now=end - timedelta(seconds=1)) is BoardStatus.DOSING
    assert status(devices=devices, now=end, blockers=1) is BoardStatus.OBSERVING
    assert status(devices=devices, now=end, blockers=0) is BoardStatus.READY


def test_esketamine_ignores_infusion_end():
    assert status(ESK, infusion_ended_at=None, now=at(30), blockers=2) is BoardStatus.OBSERVING


def test_device_interval_setting_is_respected():
    rules = ClinicalRules(esketamine_device_interval_minutes=10)
    assert status(devices=2, now=at(15), rules=rules) is BoardStatus.DOSING
    assert status(devices=2, now=at(15)) is BoardStatus.READY


def test_labels():
    assert {s: s.label for s in BoardStatus} == {
        BoardStatus.WAITING: "Waiting",
        BoardStatus.PRE_DOSE: "Pre-dose",
        BoardStatus.DOSING: "Dosing",
        BoardStatus.OBSERVING: "Observing",
        BoardStatus.READY: "Ready for discharge",
        BoardStatus.DISCHARGED: "Discharged",
        BoardStatus.NOT_DOSED: "Not dosed",
    }


@given(
    modality=st.sampled_from(list(Modality)),
    dosed=st.booleans(),
    ended=st.booleans(),
    devices=st.none() | st.integers(0, 3),
    blockers=st.integers(0, 5),
    now_minutes=st.integers(-30, 300),
)
def test_ready_only_when_dosed_done_and_unblocked(
    modality, dosed, ended, devices, blockers, now_minutes
):
    result = status(
        modality,
        dose_started_at=T0 if dosed else None,
        infusion_ended_at=at(40) if ended else None,
        devices=devices,
        blockers=blockers,
        now=at(now_minutes),
    )
    if result is BoardStatus.READY:
        assert dosed and blockers == 0
        assert ended if modality is IV else now_minutes >= 5 * (devices or 1)
    if blockers and dosed:
        assert result in (BoardStatus.DOSING, BoardStatus.OBSERVING)


def test_esketamine_leaves_dosing_once_every_device_is_recorded():
    during = at(7)  # inside the 2 x 5 min device window
    assert status(Modality.ESKETAMINE_NASAL, now=during) is BoardStatus.DOSING
    recorded = status(Modality.ESKETAMINE_NASAL, now=during, devices_given=2, blockers=1)
    assert recorded is BoardStatus.OBSERVING
