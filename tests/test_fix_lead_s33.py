"""Twentieth session: what the signed manifest above an `ingest --source` decides (issue 13's last dataset survivors,
`signed_source_problem` 78, 80 and 120, decided for the product). This file's own lake: two day parts of 200 rows,
seed 33001."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd

from tests.clirun import invoke


def _lake(tmp_path, keys, monkeypatch):
    monkeypatch.setenv("LABELGUARD_SIGNING_KEY", str(keys[0]))
    monkeypatch.setenv("LABELGUARD_VERIFY_KEY", str(keys[1]))
    rng = np.random.default_rng(33001)
    lake = tmp_path / "lake"
    for i, day in enumerate(("2026-01-01", "2026-01-02")):
        y = rng.integers(0, 2, 200)
        (lake / f"date={day}").mkdir(parents=True)
        pd.DataFrame({"id": np.arange(i * 1000, i * 1000 + 200), "f1": rng.normal(0, 1, 200) + 2 * y, "f2": rng.normal(0, 1, 200), "label": y}).to_parquet(
            lake / f"date={day}" / "part-0.parquet", index=False)
    res = invoke("seal", lake, "--id-col", "id", "--label-col", "label", "--ledger", "none")
    assert res.exit_code == 0, res.stderr
    return lake


def _ingest(source, dest):
    return invoke("ingest", "--source", source, "--dest", dest, "--id-col", "id", "--label-col", "label", "--ledger", "none")


def test_ingest_of_an_edited_part_whose_manifest_entry_was_removed_is_refused_as_tampering(tmp_path, keys, monkeypatch):
    """Before: the manifest no longer listing the part was read as "not this lake's data" and ingest signed the 31 flips, exit 0."""
    lake = _lake(tmp_path, keys, monkeypatch)
    doc = json.loads((lake / "_manifest.json").read_text())
    doc["payload"]["objects"] = [o for o in doc["payload"]["objects"] if not o["key"].startswith("date=2026-01-02/")]
    (lake / "_manifest.json").write_text(json.dumps(doc))
    part = lake / "date=2026-01-02" / "part-0.parquet"
    frame = pd.read_parquet(part)
    frame.loc[:30, "label"] = 1 - frame.loc[:30, "label"]
    frame.to_parquet(part, index=False)
    res = _ingest(part, tmp_path / "ds")
    assert res.exit_code == 1
    assert res.stderr == (
        f"guard fired: source manifest fired, cannot be trusted ({lake} carries a signed manifest that fails verification: bad-signature: "
        "manifest signature does not verify: the manifest was edited; 31 label(s) changed, 0 row(s) otherwise edited, 0 added, 0 missing) "
        f"(fix: restore the source from a signed copy, or approve the change with `labelguard seal {lake}` first)\n"
    )
    assert not (tmp_path / "ds").exists()


def test_ingest_of_a_listed_part_deleted_with_its_folder_is_object_missing_and_a_mistyped_one_is_a_missing_file(tmp_path, keys, monkeypatch):
    """Before: both were "no such file" (exit 2), though the first path is one the signed manifest lists (as on S3, where it
    was already `object-missing`). A path it does not list stays a usage error: a typo never reads as tampering."""
    lake = _lake(tmp_path, keys, monkeypatch)
    shutil.rmtree(lake / "date=2026-01-02")
    res = _ingest(lake / "date=2026-01-02" / "part-0.parquet", tmp_path / "ds")
    assert res.exit_code == 1
    assert res.stderr.startswith(
        f"guard fired: source manifest fired, cannot be trusted ({lake} carries a signed manifest that fails verification: object-missing: "
        "data object date=2026-01-02/part-0.parquet is gone; 0 label(s) changed, 0 row(s) otherwise edited, 0 added, 200 missing)")
    typo = lake / "date=2026-01-03" / "part-0.parquet"
    res = _ingest(typo, tmp_path / "ds")
    assert (res.exit_code, res.stderr) == (2, f"error: no such file: {typo} (fix: pass --source synthetic, an existing .csv/.parquet file, "
                                               "or an s3:// object, prefix or glob)\n")
    assert not (tmp_path / "ds").exists()


def test_verify_of_one_part_of_a_sealed_lake_names_the_lake_not_a_second_seal(tmp_path, keys, monkeypatch):
    """It said "sign it with labelguard seal …/part-0.parquet, then labelguard verify …/date=2026-01-01", which writes a
    second manifest into the sealed lake (a new user followed it); a part is verified through its lake."""
    lake = _lake(tmp_path, keys, monkeypatch)
    part = lake / "date=2026-01-01" / "part-0.parquet"
    res = invoke("verify", part, "--ledger", "none")
    assert res.exit_code == 2
    assert res.stderr.startswith(f"error: {part} is a file of the lake sealed at {lake} (signed by its _manifest.json); ")
    assert res.stderr.endswith(f" (fix: labelguard verify {lake})\n")
    assert sorted(p.name for p in lake.rglob("*manifest*")) == ["_manifest.json"]


def test_a_class_too_small_for_the_holdout_named_na_or_none_is_said_to_be_maybe_unlabelled():
    """A 2-row class 'None' was told only to get more rows; it is nearly always Python's missing value."""
    import pytest

    from labelguard.errors import BadInput
    from labelguard.tasks.sources import holdout_size

    with pytest.raises(BadInput) as exc:
        holdout_size("None", 2, 0.2)
    assert exc.value.problem == "class 'None' has 2 row(s): a holdout fraction of 0.2 leaves the trusted holdout without it"
    assert exc.value.fix == ("if its rows are unlabelled ('NA' is how R writes a missing value, 'None' how Python does), drop them; else "
                             "give every class at least 3 rows, pass another --holdout-fraction, or --holdout-fraction 0 for no holdout")
    with pytest.raises(BadInput) as exc:
        holdout_size("neutral", 2, 0.2)
    assert exc.value.fix == "give every class at least 3 rows, pass another --holdout-fraction, or --holdout-fraction 0 for no holdout"
