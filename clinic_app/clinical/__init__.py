"""Pure clinical rules: plain data in, findings out. No Flask, no database.

Every number comes from `ClinicalRules`, whose defaults cite their source; a clinic changes them
through its settings.
"""
