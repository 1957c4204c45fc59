"""labelguard.flows."""
