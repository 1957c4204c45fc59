"""Storage refusals word for word (written against survivors of `make mutation --sample` on tasks/storage.py)."""

import pytest

from labelguard.errors import DatasetExists
from labelguard.tasks.storage import LocalStore


def test_local_create_only_conflict_is_one_line_and_keeps_the_first_object(tmp_path):
    store = LocalStore(tmp_path / "s")
    store.put("a/b.bin", b"first")
    with pytest.raises(DatasetExists) as err:
        store.put("a/b.bin", b"second")
    assert str(err.value) == f"{tmp_path / 's' / 'a' / 'b.bin'} already exists; writes are create-only (fix: choose a new destination or remove the old dataset yourself)"
    assert (tmp_path / "s" / "a" / "b.bin").read_bytes() == b"first"
    assert sorted(p.name for p in (tmp_path / "s" / "a").iterdir()) == ["b.bin"]  # no temp file left behind
