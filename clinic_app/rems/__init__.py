"""Spravato REMS paperwork: the monitoring form of each esketamine session, the deadline
board, enrollment chasing and serious-adverse-event reports."""
