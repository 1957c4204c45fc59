"""labelguard.data."""
