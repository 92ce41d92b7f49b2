"""Coded values shared by the rules, the models and the forms."""

from enum import StrEnum


class Modality(StrEnum):
    IV_KETAMINE = "iv_ketamine"
    ESKETAMINE_NASAL = "esketamine_nasal"

    @property
    def label(self) -> str:
        return {"iv_ketamine": "IV ketamine", "esketamine_nasal": "Esketamine nasal"}[self.value]


class Indication(StrEnum):
    TRD = "trd"
    MDSI = "mdd_suicidal_ideation"
    OTHER = "other"

    @property
    def label(self) -> str:
        return {
            "trd": "Treatment-resistant depression",
            "mdd_suicidal_ideation": "MDD with suicidal ideation",
            "other": "Other",
        }[self.value]


class CoursePhase(StrEnum):
    INDUCTION = "induction"
    MAINTENANCE = "maintenance"
    COMPLETED = "completed"
    STOPPED = "stopped"

    @property
    def active(self) -> bool:
        return self in (CoursePhase.INDUCTION, CoursePhase.MAINTENANCE)


class SessionStatus(StrEnum):
    IN_PROGRESS = "in_progress"
    DISCHARGED = "discharged"
    # Ended without a dose (REMS check failed, hold not overridden, patient declined...).
    NOT_DOSED = "not_dosed"
    SIGNED = "signed"
    COSIGNED = "cosigned"


class VitalsPhase(StrEnum):
    PRE_DOSE = "pre_dose"
    INTRA = "intra"
    POST_DOSE = "post_dose"


class AppointmentStatus(StrEnum):
    SCHEDULED = "scheduled"
    CONFIRMED = "confirmed"
    CHECKED_IN = "checked_in"
    IN_TREATMENT = "in_treatment"
    COMPLETED = "completed"
    # Came and was checked in, but the session ended without a dose.
    NOT_DOSED = "not_dosed"
    CANCELLED = "cancelled"
    NO_SHOW = "no_show"


class DriverStatus(StrEnum):
    UNCONFIRMED = "unconfirmed"
    CONFIRMED = "confirmed"
    UNREACHABLE = "unreachable"
    NO_DRIVER = "no_driver"


class AlertKind(StrEnum):
    """Alerts that stay at the top of the psychiatrist's queue until acknowledged."""

    PHQ9_ITEM9 = "phq9_item9"
    SERIOUS_AE = "serious_ae"
    MISSED_INDUCTION = "missed_induction"
    # Raised from the chair: a reading at the notify or urgent line, a low SpO2, and a pre-dose
    # BP hold waiting for the psychiatrist's override.
    BP_NOTIFY = "bp_notify"
    BP_URGENT = "bp_urgent"
    SPO2_LOW = "spo2_low"
    PREDOSE_HOLD = "predose_hold"

    @property
    def label(self) -> str:
        return {
            "phq9_item9": "PHQ-9 item 9 above 0",
            "serious_ae": "Serious adverse event",
            "missed_induction": "Missed induction visits",
            "bp_notify": "Blood pressure: notify prescriber",
            "bp_urgent": "Urgent blood pressure",
            "spo2_low": "Low SpO₂",
            "predose_hold": "Pre-dose BP hold: override or not",
        }[self.value]


class DecisionKind(StrEnum):
    INDUCTION_REVIEW = "induction_review"
    TO_MAINTENANCE = "to_maintenance"
    DOSE_CHANGE = "dose_change"
    STOP = "stop"


class VisitKind(StrEnum):
    INDUCTION = "induction"
    MAINTENANCE = "maintenance"
    CONSULT = "consult"


class Role(StrEnum):
    NURSE = "nurse"
    PSYCHIATRIST = "psychiatrist"
    FRONT_DESK = "front_desk"
    ADMIN = "admin"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize()


CONTRAINDICATIONS = {
    "uncontrolled_hypertension": "Uncontrolled hypertension",
    "aneurysm_avm": "Aneurysmal vascular disease or AVM",
    "intracerebral_haemorrhage": "History of intracerebral haemorrhage",
    "psychosis_mania": "History of psychosis or mania",
    "pregnancy": "Pregnancy",
    "substance_use": "Substance use disorder",
    "hypersensitivity": "Hypersensitivity to ketamine or esketamine",
}

MEDICATION_CLASSES = {
    "benzodiazepine": "Benzodiazepine",
    "non_benzo_hypnotic": "Non-benzodiazepine hypnotic",
    "psychostimulant": "Psychostimulant",
    "maoi": "MAOI",
    "opioid": "Opioid",
    "antidepressant": "SSRI or other antidepressant",
}

ADVERSE_EVENT_KINDS = {
    "hypertension": "Blood pressure increase",
    "nausea": "Nausea",
    "vomiting": "Vomiting",
    "dizziness": "Dizziness or vertigo",
    "dissociation": "Distressing dissociation",
    "sedation": "Excessive sedation",
    "respiratory_depression": "Respiratory depression / desaturation",
    "headache": "Headache",
    "anxiety": "Anxiety or agitation",
    "emergence": "Emergence reaction",
    "other": "Other",
}


class EventSeverity(StrEnum):
    """How bad an adverse event is, mildest first."""

    MILD = "mild"
    MODERATE = "moderate"
    SEVERE = "severe"


# How the patient leaves: with the driver confirmed at the pre-dose check, or with another named
# adult whose phone and relationship the nurse records (flagged for review).
ESCORT_KINDS = {
    "confirmed_driver": "The confirmed driver",
    "other_adult": "Another responsible adult",
}

NOT_DOSED_REASONS = {
    "rems_not_met": "REMS requirement not met",
    "bp_hold": "Blood-pressure hold not overridden",
    "patient_declined": "Patient declined",
    "contraindication": "Contraindication found at the chair",
    "fasting_not_met": "Fasting not met",
    "no_driver": "No driver for the trip home",
    "unwell": "Patient unwell",
    "other": "Other",
}
