"""Checks of exported FHIR resources, for the FHIR tests: parsing by the R4B models of
fhir.resources (structure, required elements, datatypes), and what those models do not check
(turn2.md §3.1): codes and systems as mapped, references that resolve, no empty values, a UTC
offset on every time. The expected codes are written out here, not taken from the app."""

import re
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Any

from fhir.resources.R4B import get_fhir_model_class

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
VITAL_SIGNS = "http://terminology.hl7.org/CodeSystem/observation-category"
# LOINC vital sign -> UCUM unit of its value (BP panel: of both components).
VITAL_UNITS = {
    "85354-9": "mm[Hg]",
    "8867-4": "/min",
    "9279-1": "/min",
    "2708-6": "%",
    "29463-7": "kg",
}
BP_COMPONENTS = {"8480-6", "8462-4"}
SCORE_CODES = {"44261-6", "70274-6"}  # PHQ-9 and GAD-7 totals
QUESTIONNAIRE_LINKS = {
    "http://loinc.org/q/44249-1": [
        "44250-9",
        "44255-8",
        "44259-0",
        "44254-1",
        "44251-7",
        "44258-2",
        "44252-5",
        "44253-3",
        "44260-8",
        "44261-6",
    ],
    "http://loinc.org/q/69737-5": [
        "69725-0",
        "68509-9",
        "69733-4",
        "69734-2",
        "69735-9",
        "69689-8",
        "69736-7",
        "70274-6",
    ],
}
ANSWERS = {"LA6568-5": 0, "LA6569-3": 1, "LA6570-1": 2, "LA6571-9": 3}
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
DRUG_ROUTES = {"6130": "47625008", "2201625": "46713006"}  # ketamine IV, esketamine nasal
STATUSES = {
    "Encounter": {"in-progress", "finished"},
    "Observation": {"final", "preliminary"},
    "MedicationAdministration": {"completed", "in-progress", "stopped", "not-done"},
    "QuestionnaireResponse": {"completed"},
    "EpisodeOfCare": {"active", "finished"},
    "CarePlan": {"active", "completed", "revoked"},
}
TIME_KEYS = {
    "effectiveDateTime",
    "authored",
    "date",
    "recordedDate",
    "start",
    "end",
    "timestamp",
}
WITH_OFFSET = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?([+-]\d\d:\d\d|Z)$")
DAY = re.compile(r"^\d{4}-\d\d-\d\d$")


def parse(resource: dict) -> None:
    """Raise unless the R4B model of the resource's type accepts it."""
    get_fhir_model_class(resource["resourceType"]).model_validate(resource)


def _walk(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    yield path, value
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _walk(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _walk(item, f"{path}[{index}]")


def _codes(concept: dict, system: str) -> list[str]:
    return [c["code"] for c in concept.get("coding", []) if c.get("system") == system]


def _vital_problems(resource: dict) -> list[str]:
    where = f"Observation/{resource['id']}"
    codes = _codes(resource["code"], LOINC)
    unit = VITAL_UNITS.get(codes[0]) if codes else None
    if unit is None:
        return [f"{where}: vital sign coded {codes}"]
    problems = []
    if codes[0] == "2708-6" and "59408-5" not in codes:
        problems.append(f"{where}: SpO2 without the pulse-oximetry code")
    quantities = [resource.get("valueQuantity")]
    if codes[0] == "85354-9":
        parts = resource.get("component", [])
        if {_codes(p["code"], LOINC)[0] for p in parts} != BP_COMPONENTS:
            problems.append(f"{where}: BP components {parts}")
        quantities = [p.get("valueQuantity") for p in parts]
    for quantity in quantities:
        if not quantity or quantity.get("system") != UCUM or quantity.get("code") != unit:
            problems.append(f"{where}: {quantity} is not UCUM {unit}")
    return problems


def _observation_problems(resource: dict) -> list[str]:
    categories = {c for cat in resource["category"] for c in _codes(cat, VITAL_SIGNS)}
    if "vital-signs" in categories:
        return _vital_problems(resource)
    codes = _codes(resource["code"], LOINC)
    if codes and codes[0] not in SCORE_CODES:
        return [f"Observation/{resource['id']}: score coded {codes}"]
    if "valueInteger" not in resource:
        return [f"Observation/{resource['id']}: score without an integer value"]
    return []


def _questionnaire_problems(resource: dict) -> list[str]:
    where = f"QuestionnaireResponse/{resource['id']}"
    expected = QUESTIONNAIRE_LINKS.get(resource["questionnaire"])
    links = [item["linkId"].lstrip("/") for item in resource["item"]]
    if links != expected:
        return [f"{where}: items {links} for {resource['questionnaire']}"]
    answers = [item["answer"][0] for item in resource["item"][:-1]]
    total = resource["item"][-1]["answer"][0]["valueInteger"]
    values = [ANSWERS[a["valueCoding"]["code"]] for a in answers]
    if sum(values) != total:
        return [f"{where}: items add up to {sum(values)}, total says {total}"]
    return []


def _administration_problems(resource: dict) -> list[str]:
    where = f"MedicationAdministration/{resource['id']}"
    if resource["status"] == "not-done":
        drug = resource["medicationCodeableConcept"]
        return [] if _codes(drug, RXNORM)[0] in DRUG_ROUTES else [f"{where}: drug {drug}"]
    drug = _codes(resource["contained"][0]["code"], RXNORM)[0]
    route = _codes(resource["dosage"]["route"], "http://snomed.info/sct")
    dose = resource["dosage"]["dose"]
    if DRUG_ROUTES.get(drug) is None or route != [DRUG_ROUTES[drug]]:
        return [f"{where}: drug {drug} by route {route}"]
    if dose["system"] != UCUM or dose["code"] != "mg":
        return [f"{where}: dose {dose}"]
    return []


def _adverse_event_problems(resource: dict) -> list[str]:
    severity = resource["severity"]["coding"][0]
    seriousness = resource["seriousness"]["coding"][0]
    if (
        resource["actuality"] != "actual"
        or severity["system"] != "http://terminology.hl7.org/CodeSystem/adverse-event-severity"
        or severity["code"] not in {"mild", "moderate", "severe"}
        or seriousness["code"] not in {"Serious", "Non-serious"}
    ):
        return [f"AdverseEvent/{resource['id']}: {severity} {seriousness}"]
    return []


TYPE_CHECKS = {
    "Observation": _observation_problems,
    "QuestionnaireResponse": _questionnaire_problems,
    "MedicationAdministration": _administration_problems,
    "AdverseEvent": _adverse_event_problems,
}


def _resource_problems(resource: dict, known: set[str]) -> list[str]:
    kind, where = resource["resourceType"], f"{resource['resourceType']}/{resource['id']}"
    problems = []
    if kind in STATUSES and resource["status"] not in STATUSES[kind]:
        problems.append(f"{where}: status {resource['status']}")
    if kind == "Encounter" and resource["class"]["code"] != "AMB":
        problems.append(f"{where}: class {resource['class']}")
    contained = {f"#{item['id']}" for item in resource.get("contained", [])}
    for path, value in _walk(resource):
        key = path.rsplit(".", 1)[-1]
        if value in ("", [], {}, None):
            problems.append(f"{where}{path}: empty")
        elif key == "reference" and value not in known and value not in contained:
            problems.append(f"{where}{path}: {value} does not resolve")
        elif (
            key in TIME_KEYS
            and isinstance(value, str)
            and not (DAY.match(value) or WITH_OFFSET.match(value))
        ):
            problems.append(f"{where}{path}: {value} has no UTC offset")
    return problems + TYPE_CHECKS.get(kind, lambda _r: [])(resource)


def problems(resources: Iterable[dict]) -> list[str]:
    """What is wrong with a set of resources that should reference only each other."""
    resources = list(resources)
    keys = Counter(f"{r['resourceType']}/{r['id']}" for r in resources)
    found = [f"{key}: {n} resources share the id" for key, n in keys.items() if n > 1]
    known = set(keys)
    for resource in resources:
        found.extend(_resource_problems(resource, known))
    return found
