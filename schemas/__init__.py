"""labelguard.schemas."""
