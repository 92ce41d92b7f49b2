"""Records out as PDF: the signed session record, the treatment summary and the patient's
handout, rendered from the app's own templates by WeasyPrint (no browser, no network)."""
