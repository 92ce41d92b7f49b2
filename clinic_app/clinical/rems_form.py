"""The SPRAVATO REMS Patient Monitoring Form, built from a signed esketamine session.

Each edition of the paper form is data: its sections in the form's order, each field with the
form's wording, whether it is required (an asterisk on the form) and the fact it is filled
from. A new edition is a new entry in EDITIONS; the builder does not change. Sources:
the 11/2021 form text (manualspro / manuzoid copies) and, for the current edition, the J&J
walkthrough and Osmind's field list (`reference/turn2.md` §1.3-1.4). The wording of the current
form's second half (sedation, dissociation, respiratory depression, SAE) could not be read in
any source: those labels follow the REMS goal and must be checked against the current PDF.
"""

import hashlib
import json
from dataclasses import dataclass, fields
from datetime import date
from typing import Any

from clinic_app.dates import format_local

YES_NO, TEXT, DATE, SEX, DOSE, MINUTES, BP, LOTS = (
    "yes_no",
    "text",
    "date",
    "sex",
    "dose",
    "minutes",
    "bp",
    "lots",
)

# The concomitant-medication classes the form asks about (codes of clinical/codes.py).
REMS_MEDICATION_CLASSES = (
    "benzodiazepine",
    "non_benzo_hypnotic",
    "psychostimulant",
    "maoi",
    "opioid",
)


@dataclass(frozen=True)
class FieldSpec:
    """One box of the form: `key` names the fact it shows and its CSV column."""

    key: str
    label: str
    required: bool = True
    kind: str = TEXT
    # Required only when this yes/no field is Yes (e.g. "enrolled?" after "first treatment?").
    required_if: str = ""


@dataclass(frozen=True)
class Section:
    title: str
    fields: tuple[FieldSpec, ...]


@dataclass(frozen=True)
class Edition:
    code: str
    title: str
    sections: tuple[Section, ...]

    @property
    def field_specs(self) -> tuple[FieldSpec, ...]:
        return tuple(f for s in self.sections for f in s.fields)


def _patient(first_treatment: bool) -> Section:
    specs = [
        FieldSpec("patient_first_name", "First Name"),
        FieldSpec("patient_middle_initial", "MI", required=False),
        FieldSpec("patient_last_name", "Last Name"),
        FieldSpec("patient_birthdate", "Birthdate (MM/DD/YYYY)", kind=DATE),
        FieldSpec("patient_sex", "Sex", kind=SEX),
    ]
    if first_treatment:
        specs += [
            FieldSpec("first_treatment", "Is this the patient's first treatment?", kind=YES_NO),
            FieldSpec(
                "rems_enrolled",
                "If yes, is the patient enrolled in the SPRAVATO REMS?",
                required=False,
                kind=YES_NO,
                required_if="first_treatment",
            ),
        ]
    return Section("Patient Information", tuple(specs))


def _medications(opioids: bool) -> Section:
    specs = [
        FieldSpec("med_benzodiazepine", "Benzodiazepines", kind=YES_NO),
        FieldSpec("med_non_benzo_hypnotic", "Non-benzodiazepine sedative hypnotics", kind=YES_NO),
        FieldSpec("med_psychostimulant", "Psychostimulants", kind=YES_NO),
        FieldSpec("med_maoi", "Monoamine oxidase inhibitors (MAOIs)", kind=YES_NO),
    ]
    if opioids:
        specs.append(FieldSpec("med_opioid", "Opioids", kind=YES_NO))
    return Section("Concomitant Medication", tuple(specs))


_HCP = Section(
    "Healthcare Provider Conducting Patient Monitoring",
    (
        FieldSpec("hcp_first_name", "First Name"),
        FieldSpec("hcp_last_name", "Last Name"),
        FieldSpec("hcp_phone", "Telephone"),
        FieldSpec("hcp_email", "Email"),
    ),
)
_SETTING = Section(
    "Healthcare Setting Information",
    (
        FieldSpec("setting_name", "Setting Name"),
        FieldSpec("setting_address1", "Address 1"),
        FieldSpec("setting_address2", "Address 2", required=False),
        FieldSpec("setting_city", "City"),
        FieldSpec("setting_state", "State"),
        FieldSpec("setting_zip", "ZIP"),
    ),
)
_SESSION = Section(
    "Patient Treatment Session Information",
    (
        FieldSpec("treatment_date", "Treatment Date (MM/DD/YYYY)", kind=DATE),
        FieldSpec("dose_mg", "Dose Administered", kind=DOSE),
        FieldSpec("lot_numbers", "Lot Number", kind=LOTS),
        FieldSpec(
            "duration_minutes",
            "Treatment Duration: total minutes from 1st device administration to completion "
            "of monitoring",
            kind=MINUTES,
        ),
        FieldSpec(
            "ready_minutes",
            "REMS Evaluation Question: if there was not a 2-hour minimum monitoring "
            "requirement, when would this patient have been ready to leave? (minutes from "
            "start of administration)",
            kind=MINUTES,
        ),
    ),
)
_VITALS = Section(
    "Monitoring of Vital Signs",
    (
        FieldSpec(
            "vitals_ok_pre", "Vital signs in acceptable range prior to administration?", kind=YES_NO
        ),
        FieldSpec(
            "vitals_ok_completion",
            "Vital signs in acceptable range prior to treatment session completion?",
            kind=YES_NO,
        ),
        FieldSpec("bp_pre", "Blood pressure prior to administration (mmHg)", kind=BP),
        FieldSpec("bp_40", "Blood pressure 40 minutes post-administration (mmHg)", kind=BP),
        FieldSpec(
            "bp_completion", "Blood pressure prior to treatment session completion (mmHg)", kind=BP
        ),
    ),
)


def _effects(respiratory: bool) -> Section:
    specs = [
        FieldSpec("sedation_observed", "Did the patient experience sedation?", kind=YES_NO),
        FieldSpec(
            "sedation_resolved",
            "If yes, did sedation resolve before discharge?",
            required=False,
            kind=YES_NO,
            required_if="sedation_observed",
        ),
        FieldSpec("dissociation_observed", "Did the patient experience dissociation?", kind=YES_NO),
        FieldSpec(
            "dissociation_resolved",
            "If yes, did dissociation resolve before discharge?",
            required=False,
            kind=YES_NO,
            required_if="dissociation_observed",
        ),
    ]
    if respiratory:
        specs += [
            FieldSpec(
                "respiratory_observed",
                "Did the patient experience respiratory depression?",
                kind=YES_NO,
            ),
            FieldSpec(
                "respiratory_resolved",
                "If yes, did respiratory depression resolve before discharge?",
                required=False,
                kind=YES_NO,
                required_if="respiratory_observed",
            ),
            FieldSpec("pulse_oximetry_checked", "Was pulse oximetry monitored?", kind=YES_NO),
            FieldSpec("sae_occurred", "Did a serious adverse event occur?", kind=YES_NO),
        ]
    return Section("Sedation, Dissociation and Respiratory Monitoring", tuple(specs))


EDITIONS = {
    "2021-11": Edition(
        "2021-11",
        "Patient Monitoring Form – Outpatient Use Only (© Janssen 11/2021)",
        (_patient(False), _medications(False), _HCP, _SETTING, _SESSION, _VITALS, _effects(False)),
    ),
    "2024-12": Edition(
        "2024-12",
        "Patient Monitoring Form – Outpatient Use Only (respiratory depression added; REMS "
        "update 12/31/2024)",
        (_patient(True), _medications(True), _HCP, _SETTING, _SESSION, _VITALS, _effects(True)),
    ),
}
CURRENT_EDITION = "2024-12"


@dataclass(frozen=True)
class BloodPressure:
    systolic: int
    diastolic: int


@dataclass(frozen=True)
class MonitoringFacts:
    """What the form needs from one session, taken from the chart (None: not recorded).

    `medications` holds the REMS classes the patient takes as reviewed at this session's
    pre-dose check (None: not reviewed at this session)."""

    patient_first_name: str = ""
    patient_middle_initial: str = ""
    patient_last_name: str = ""
    patient_birthdate: date | None = None
    patient_sex: str = ""
    first_treatment: bool | None = None
    rems_enrolled: bool | None = None
    medications: frozenset[str] | None = None
    hcp_first_name: str = ""
    hcp_last_name: str = ""
    hcp_phone: str = ""
    hcp_email: str = ""
    setting_name: str = ""
    setting_address1: str = ""
    setting_address2: str = ""
    setting_city: str = ""
    setting_state: str = ""
    setting_zip: str = ""
    treatment_date: date | None = None
    dose_mg: int | None = None
    lot_numbers: tuple[str, ...] = ()
    duration_minutes: int | None = None
    ready_minutes: int | None = None
    vitals_ok_pre: bool | None = None
    vitals_ok_completion: bool | None = None
    bp_pre: BloodPressure | None = None
    bp_40: BloodPressure | None = None
    bp_completion: BloodPressure | None = None
    sedation_observed: bool | None = None
    sedation_resolved: bool | None = None
    dissociation_observed: bool | None = None
    dissociation_resolved: bool | None = None
    pulse_oximetry_checked: bool | None = None
    respiratory_observed: bool | None = None
    respiratory_resolved: bool | None = None
    sae_occurred: bool | None = None


FACT_NAMES = frozenset(f.name for f in fields(MonitoringFacts))


@dataclass(frozen=True)
class BuiltField:
    spec: FieldSpec
    value: Any
    text: str
    required: bool

    @property
    def missing(self) -> bool:
        return self.required and self.text == ""


@dataclass(frozen=True)
class BuiltSection:
    title: str
    fields: tuple[BuiltField, ...]


@dataclass(frozen=True)
class BuiltForm:
    edition: Edition
    sections: tuple[BuiltSection, ...]

    @property
    def missing(self) -> tuple[str, ...]:
        """The required fields with no value, by name ("Section: Field"), in form order."""
        return tuple(
            f"{s.title}: {f.spec.label}" for s in self.sections for f in s.fields if f.missing
        )

    @property
    def values(self) -> dict[str, str]:
        """Field key -> the text on the form, in form order (the CSV row)."""
        return {f.spec.key: f.text for s in self.sections for f in s.fields}

    @property
    def fingerprint(self) -> str:
        """SHA-256 of the edition and every value: what a submission is compared against."""
        content = json.dumps([self.edition.code, self.values], sort_keys=True)
        return hashlib.sha256(content.encode()).hexdigest()


def fact_value(facts: MonitoringFacts, key: str) -> Any:
    """The value of field `key`: a fact, or a medication class's Yes/No from the review."""
    if key.startswith("med_"):
        if facts.medications is None:
            return None
        return key.removeprefix("med_") in facts.medications
    return getattr(facts, key)


def field_text(kind: str, value: Any) -> str:
    """How a value is written on the form; "" when there is none."""
    if value is None or value == "" or value == ():
        return ""
    if kind == YES_NO:
        return "Yes" if value else "No"
    if kind == DATE:
        return format_local(value, "form_date")
    if kind == SEX:
        return str(value).capitalize()
    if kind == DOSE:
        return f"{value} mg" if value in (56, 84) else f"Other: {value} mg"
    if kind == MINUTES:
        return str(value)
    if kind == BP:
        return f"{value.systolic}/{value.diastolic}"
    if kind == LOTS:
        return ", ".join(dict.fromkeys(value))
    return str(value).strip()


def build_form(facts: MonitoringFacts, edition_code: str = CURRENT_EDITION) -> BuiltForm:
    """The form of `edition_code` filled from `facts`, with each field's required flag."""
    edition = EDITIONS[edition_code]
    sections = []
    for section in edition.sections:
        built = []
        for spec in section.fields:
            value = fact_value(facts, spec.key)
            required = spec.required or (
                bool(spec.required_if) and fact_value(facts, spec.required_if) is True
            )
            built.append(BuiltField(spec, value, field_text(spec.kind, value), required))
        sections.append(BuiltSection(section.title, tuple(built)))
    return BuiltForm(edition, tuple(sections))
