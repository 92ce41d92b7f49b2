"""Controlled-substance records per site: receipts, the ledger, draws from the chart, waste,
counts and discrepancies, and the inventory pages (issue 16)."""
