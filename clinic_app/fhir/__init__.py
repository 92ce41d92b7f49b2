"""FHIR R4 export: one mapping module per resource (pure functions from loaded rows to JSON
dicts), the one-patient Bundle (views, services) and the whole-clinic NDJSON export (bulk)."""
