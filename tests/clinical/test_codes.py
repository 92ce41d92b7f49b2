"""Coded values the rules compare against."""

import pytest

from clinic_app.clinical.codes import CoursePhase, Indication, Modality, Role
from clinic_app.clinical.vitals import Tier


def test_modality_values_and_labels():
    assert {m.value: m.label for m in Modality} == {
        "iv_ketamine": "IV ketamine",
        "esketamine_nasal": "Esketamine nasal",
    }


def test_indication_values_and_labels():
    assert Indication.TRD == "trd"
    assert {i.value: i.label for i in Indication} == {
        "trd": "Treatment-resistant depression",
        "mdd_suicidal_ideation": "MDD with suicidal ideation",
        "other": "Other",
    }


@pytest.mark.parametrize(
    "phase, active",
    [
        (CoursePhase.INDUCTION, True),
        (CoursePhase.MAINTENANCE, True),
        (CoursePhase.COMPLETED, False),
        (CoursePhase.STOPPED, False),
    ],
)
def test_course_phase_active(phase, active):
    assert phase.active is active


def test_roles_are_exactly_the_four():
    assert {r.value: r.label for r in Role} == {
        "nurse": "Nurse",
        "psychiatrist": "Psychiatrist",
        "front_desk": "Front desk",
        "admin": "Admin",
    }


def test_alert_tiers_order():
    assert Tier.WATCH < Tier.NOTIFY < Tier.URGENT
