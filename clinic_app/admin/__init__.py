"""Administration: staff accounts, the two-factor policy, sign-in sessions and the audit trail."""
