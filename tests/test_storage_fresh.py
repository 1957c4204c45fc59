"""Storage behaviour that the fresh seed-11 mutation sample of tasks/storage.py (issue 13, fourth
session) found untested: while a local write is under way, the bytes sit in a hidden temp file
next to the object (pyarrow and Hive-style readers skip dot-files), never under a visible name."""

from __future__ import annotations

import os

from labelguard.tasks.storage import LocalStore


def test_a_local_write_in_progress_is_a_hidden_temp_file_named_after_the_object(tmp_path, monkeypatch):
    store = LocalStore(tmp_path / "ds")
    seen = []
    real_fsync = os.fsync

    def spy(fd):  # the moment the bytes are written but not yet linked into place
        seen.append(sorted(p.name for p in (tmp_path / "ds" / "part").iterdir()))
        return real_fsync(fd)

    monkeypatch.setattr(os, "fsync", spy)
    store.put("part/data.parquet", b"x" * 10)
    assert len(seen) == 1 and len(seen[0]) == 1 and seen[0][0].startswith(".data.parquet.")
    assert sorted(p.name for p in (tmp_path / "ds" / "part").iterdir()) == ["data.parquet"]
