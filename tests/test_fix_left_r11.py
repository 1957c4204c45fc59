"""Break-it round 11's leftovers fixed by the lead: Parquet parts named without .parquet (Hive's 000000_0) in drift's
own listing and in the trusted-folder check (F1 was fixed for seal, ingest and verify on the branch)."""

from __future__ import annotations

import numpy as np

from labelguard.tasks import drift
from labelguard.tasks.manifest import load_verify_key
from labelguard.tasks.simulate import DayPlan, make_day
from labelguard.tasks.storage import LocalStore


def _day(i: int):
    return make_day(i, f"2026-03-{i + 1:02d}", np.random.default_rng([5, i]), np.array([1.0, 0.0]), DayPlan(rows=600))


def test_unsigned_rows_counts_parquet_parts_named_without_the_suffix(tmp_path):
    """A partition without a manifest reads `ALARM: not signed` with the rows its Parquet holds: a Hive-named part
    (000000_0) counts, as pandas and Spark read it (break-it r11 F1, drift's own listing)."""
    folder = tmp_path / "date=2026-03-04"
    folder.mkdir()
    _day(3).head(70).to_parquet(folder / "000000_0", index=False)
    _day(4).head(30).to_parquet(folder / "part-1.parquet", index=False)
    (folder / "_SUCCESS").write_bytes(b"")
    (folder / "notes.txt").write_text("not data")
    assert drift.unsigned_rows(LocalStore(folder)) == (100, 2)


def test_a_reference_folder_of_unsigned_hive_named_parquet_is_data_not_vouched_for(tmp_path, keys):
    """--reference pointing at a folder whose only Parquet is named 000000_0 and unsigned: data that cannot be vouched
    for (exit 1, UntrustedInput), not "holds no Parquet data" (exit 2) as when the folder holds only CSV or notes."""
    import pytest

    from labelguard.errors import BadInput, UntrustedInput
    from labelguard.tasks.verify import load_trusted

    folder = tmp_path / "ref"
    folder.mkdir()
    _day(3).head(50).to_parquet(folder / "000000_0", index=False)
    vkey = load_verify_key(keys[1])
    with pytest.raises(UntrustedInput, match="failed verification: missing-manifest"):
        load_trusted(str(folder), vkey, "reference", None)
    (folder / "000000_0").unlink()
    (folder / "notes.txt").write_text("x")
    with pytest.raises(BadInput, match="holds no Parquet data"):
        load_trusted(str(folder), vkey, "reference", None)
