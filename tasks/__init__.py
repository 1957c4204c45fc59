"""labelguard.tasks."""
