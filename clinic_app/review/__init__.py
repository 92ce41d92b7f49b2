"""The psychiatrist's review: co-signature queue, alerts, timeline, course decisions, settings."""
