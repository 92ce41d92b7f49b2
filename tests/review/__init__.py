"""Tests of the psychiatrist's review: queue, co-signing, timeline, scales, decisions."""
