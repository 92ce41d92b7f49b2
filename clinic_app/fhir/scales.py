"""Rating scales: PHQ-9 and GAD-7 as a QuestionnaireResponse (item answers from LOINC answer
list LL358-3, the total as its own item) plus an Observation of the total derived from it;
MOAA/S and CADSS-6 (no LOINC codes) as Observations of the total under the clinic's own code
system."""

from collections.abc import Iterator

from clinic_app.clinical.scores import INSTRUMENTS
from clinic_app.fhir import codes
from clinic_app.fhir.codes import LOINC, OBSERVATION_CATEGORY, ORDINAL_VALUE
from clinic_app.fhir.common import Visit, coding, prune, reference
from clinic_app.models import Assessment

# instrument -> (panel code, item codes, total (code, display)); scales with LOINC codes.
QUESTIONNAIRES = {
    "phq9": (codes.PHQ9_PANEL, codes.PHQ9_ITEMS, codes.PHQ9_TOTAL),
    "gad7": (codes.GAD7_PANEL, codes.GAD7_ITEMS, codes.GAD7_TOTAL),
}
# The observed scales' Observation category: MOAA/S is an examination, CADSS a rated survey.
CATEGORIES = {"phq9": "survey", "gad7": "survey", "moaas": "exam", "cadss6": "survey"}


def questionnaire_id(assessment_id: int) -> str:
    return f"qr-{assessment_id}"


def _answer(value: int) -> dict:
    code, display = codes.FREQUENCY_ANSWERS[value]
    return {
        "valueCoding": {
            **coding(LOINC, code, display),
            "extension": [{"url": ORDINAL_VALUE, "valueDecimal": value}],
        }
    }


def questionnaire_response(row: Assessment, visit: Visit) -> dict:
    """PHQ-9 or GAD-7 item by item; linkIds are the LOINC item codes (US Core style)."""
    panel, item_codes, (total_code, total_display) = QUESTIONNAIRES[row.instrument]
    items = [
        {"linkId": f"/{code}", "answer": [_answer(value)]}
        for code, value in zip(item_codes, row.items, strict=True)
    ]
    items.append(
        {"linkId": f"/{total_code}", "text": total_display, "answer": [{"valueInteger": row.total}]}
    )
    return prune(
        {
            "resourceType": "QuestionnaireResponse",
            "id": questionnaire_id(row.id),
            "questionnaire": f"http://loinc.org/q/{panel}",
            "status": "completed",
            "subject": visit.subject,
            "encounter": visit.encounter,
            "authored": visit.at(row.administered_at),
            "item": items,
        }
    )


def _code(row: Assessment, base: str) -> dict:
    if row.instrument in QUESTIONNAIRES:
        code, display = QUESTIONNAIRES[row.instrument][2]
        return {"coding": [coding(LOINC, code, display)], "text": display}
    label = INSTRUMENTS[row.instrument].label
    return {
        "coding": [coding(f"{base}/CodeSystem/scales", row.instrument, f"{label} total")],
        "text": f"{label} total",
    }


def score_observation(row: Assessment, visit: Visit, base: str) -> dict:
    """The scale's total (and band as interpretation text)."""
    derived = (
        [reference("QuestionnaireResponse", questionnaire_id(row.id))]
        if row.instrument in QUESTIONNAIRES
        else []
    )
    category = CATEGORIES[row.instrument]
    return prune(
        {
            "resourceType": "Observation",
            "id": f"obs-score-{row.id}",
            "status": visit.status,
            "category": [
                {"coding": [coding(OBSERVATION_CATEGORY, category, category.capitalize())]}
            ],
            "code": _code(row, base),
            "subject": visit.subject,
            "encounter": visit.encounter,
            "effectiveDateTime": visit.at(row.administered_at),
            "valueInteger": row.total,
            "interpretation": [{"text": row.band}] if row.band else [],
            "derivedFrom": derived,
        }
    )


def assessment_resources(row: Assessment, visit: Visit, base: str) -> Iterator[dict]:
    """The QuestionnaireResponse (PHQ-9, GAD-7) and the total's Observation of one scale."""
    if row.instrument in QUESTIONNAIRES:
        yield questionnaire_response(row, visit)
    yield score_observation(row, visit, base)
