"""Code systems and codes the FHIR R4 export uses (sources: shared/reference/turn2.md §3).

LOINC for vital signs and the PHQ-9/GAD-7 items and totals, UCUM units, SNOMED CT routes,
RxNorm for the drugs, and the HL7 terminology code systems for categories, encounter class,
participation types and adverse-event severity, seriousness and outcome.
"""

from clinic_app.clinical.codes import Modality

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
SNOMED = "http://snomed.info/sct"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
PARTICIPATION_TYPE = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
AE_SEVERITY = "http://terminology.hl7.org/CodeSystem/adverse-event-severity"
AE_SERIOUSNESS = "http://terminology.hl7.org/CodeSystem/adverse-event-seriousness"
AE_OUTCOME = "http://terminology.hl7.org/CodeSystem/adverse-event-outcome"
ORDINAL_VALUE = "http://hl7.org/fhir/StructureDefinition/ordinalValue"
VITAL_SIGNS_PROFILE = "http://hl7.org/fhir/StructureDefinition/vitalsigns"

# Vital signs (FHIR vital-signs profile): LOINC code and display, UCUM code and unit.
BP_PANEL = ("85354-9", "Blood pressure panel with all children optional")
SYSTOLIC = ("8480-6", "Systolic blood pressure")
DIASTOLIC = ("8462-4", "Diastolic blood pressure")
HEART_RATE = ("8867-4", "Heart rate")
RESP_RATE = ("9279-1", "Respiratory rate")
# Core R4 SpO2 code, and US Core's pulse-oximetry code: both, as US Core requires.
SPO2 = ("2708-6", "Oxygen saturation in Arterial blood")
SPO2_PULSE_OX = ("59408-5", "Oxygen saturation in Arterial blood by Pulse oximetry")
BODY_WEIGHT = ("29463-7", "Body weight")

# PHQ-9 and GAD-7: panel, items in order, total (US Core / LOINC assignments, turn2.md §3.6).
PHQ9_PANEL = "44249-1"
PHQ9_ITEMS = (
    "44250-9",
    "44255-8",
    "44259-0",
    "44254-1",
    "44251-7",
    "44258-2",
    "44252-5",
    "44253-3",
    "44260-8",
)
PHQ9_TOTAL = ("44261-6", "Patient Health Questionnaire 9 item (PHQ-9) total score [Reported]")
GAD7_PANEL = "69737-5"
GAD7_ITEMS = ("69725-0", "68509-9", "69733-4", "69734-2", "69735-9", "69689-8", "69736-7")
GAD7_TOTAL = ("70274-6", "Generalized anxiety disorder 7 item (GAD-7) total score [Reported]")
# Answer list LL358-3, by item value 0-3.
FREQUENCY_ANSWERS = (
    ("LA6568-5", "Not at all"),
    ("LA6569-3", "Several days"),
    ("LA6570-1", "More than half the days"),
    ("LA6571-9", "Nearly every day"),
)

# Routes (SNOMED CT route codes value set) and drugs (RxNorm), by modality. Esketamine: the
# Spravato branded dose form (SBDF 2201625). Ketamine: the ingredient (6130, as commonly cited;
# turn2.md §3.9 could not confirm it), since the chart records the bag's concentration, not the
# vial product a strength-level code would name.
ROUTES = {
    Modality.IV_KETAMINE: ("47625008", "Intravenous route"),
    Modality.ESKETAMINE_NASAL: ("46713006", "Nasal route"),
}
MEDICATIONS = {
    Modality.IV_KETAMINE: ("6130", "ketamine"),
    Modality.ESKETAMINE_NASAL: ("2201625", "esketamine Nasal Spray [Spravato]"),
}

# Encounter: ambulatory class; the nurse is the primary performer, the psychiatrist secondary.
AMBULATORY = ("AMB", "ambulatory")
PRIMARY_PERFORMER = ("PPRF", "primary performer")
SECONDARY_PERFORMER = ("SPRF", "secondary performer")

SERIOUS = ("Serious", "Serious")
NON_SERIOUS = ("Non-serious", "Non-serious")
