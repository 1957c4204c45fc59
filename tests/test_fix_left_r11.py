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


def test_seal_refuses_parquet_under_names_readers_skip_and_writes_nothing(tmp_path, keys):
    """A folder with a failed job's `_temporary/0/part-1.parquet` was sealed without it (as Spark and pandas skip it) and
    then failed `verify` at once (`unlisted-object`, exit 1, "40 added"): now `seal` refuses it, exit 2, nothing written."""
    from labelguard.tasks.dataset import to_parquet_bytes as parquet
    from labelguard.tasks.synthetic import make_reviews
    from tests.clirun import invoke

    base = tmp_path / "lake"
    store = LocalStore(base)
    frame = make_reviews(200, seed=3)
    store.put("part-0.parquet", parquet(frame.iloc[:160]))
    store.put("_temporary/0/part-1.parquet", parquet(frame.iloc[160:]))
    before = sorted(store.list())
    res = invoke("seal", str(base), "--signing-key", keys[0], "--ledger", "none")
    assert res.exit_code == 2, res.output
    assert res.stderr.strip() == (
        f"error: 1 Parquet object(s) under {base} have names Spark and pandas skip (_temporary/0/part-1.parquet) but glob readers "
        "read and verify checks, so they cannot be left out of the seal (fix: remove them (an unfinished job's output under "
        "_temporary/, say) or rename them without the leading '_' or '.', then seal again)")
    assert sorted(store.list()) == before
    (base / "_temporary" / "0" / "part-1.parquet").unlink()
    assert invoke("seal", str(base), "--signing-key", keys[0], "--ledger", "none").exit_code == 0
    assert invoke("verify", str(base), "--guards", "manifest", "--verify-key", keys[1], "--ledger", "none").exit_code == 0


def test_a_dataset_whose_only_part_was_rewritten_under_a_new_name_names_the_flipped_rows(tmp_path, keys):
    """Break-it r11 F2 left this case: with the only listed part gone, verify stopped at `object-missing` before looking
    for unlisted parts, so the part written in its place (3 labels flipped) was not named nor its rows localized. An
    unreadable part in its place is named as unlisted, with no rows; nothing in its place reads as before."""
    import json

    from labelguard.tasks.dataset import to_parquet_bytes as parquet
    from labelguard.tasks.synthetic import make_reviews
    from tests.clirun import invoke

    base = tmp_path / "lake"
    store = LocalStore(base)
    frame = make_reviews(120, seed=4)
    store.put("part-0.parquet", parquet(frame))
    assert invoke("seal", str(base), "--signing-key", keys[0], "--ledger", "none").exit_code == 0
    flipped = frame["review_id"].iloc[[2, 40, 117]].tolist()
    edited = frame.copy()
    edited.loc[edited["review_id"].isin(flipped), "label"] = 1 - edited.loc[edited["review_id"].isin(flipped), "label"]
    store.delete("part-0.parquet")
    store.put("part-0-c000.snappy.parquet", parquet(edited))
    out = tmp_path / "v.json"
    args = ("verify", str(base), "--guards", "manifest", "--verify-key", keys[1], "--ledger", "none", "--json", out)
    res = invoke(*args)
    assert (res.exit_code, res.stderr) == (1, "guard fired: manifest\n")
    doc = json.loads(out.read_text())
    assert doc["guards"][0]["detail"] == (
        "object-missing: data object part-0.parquet is gone; and unlisted-object: 1 Parquet object(s) under the dataset that the "
        "signed manifest does not list: part-0-c000.snappy.parquet; 3 label(s) changed, 0 row(s) otherwise edited, 0 added, 0 missing")
    assert doc["suspect_ids"] == sorted(flipped)
    store.delete("part-0-c000.snappy.parquet")
    store.put("part-0-c000.snappy.parquet", b"PAR1 cut short")
    res = invoke(*args)
    assert (res.exit_code, res.stderr) == (1, "guard fired: manifest\n")
    doc = json.loads(out.read_text())
    assert doc["guards"][0]["detail"] == (
        "object-missing: data object part-0.parquet is gone; and unlisted-object: 1 Parquet object(s) under the dataset that the "
        "signed manifest does not list: part-0-c000.snappy.parquet (1 of them unreadable or of another schema: their rows are not named)")
    assert doc["suspect_ids"] == []
    store.delete("part-0-c000.snappy.parquet")
    res = invoke(*args)
    assert (res.exit_code, res.stderr) == (1, "guard fired: manifest\n")
    assert json.loads(out.read_text())["guards"][0]["detail"] == "object-missing: data object part-0.parquet is gone"
