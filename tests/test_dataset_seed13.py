"""Dataset behaviour that the fresh seed-13 mutation sample of tasks/dataset.py (issue 13, sixth
session) found untested in the module's selection: the repeated-id refusal of seal (which id, which
parts, how many), a passing verify's report (its manifest and observed objects), the count of further
failing objects, the re-seal of a dataset whose objects are all gone, and the sidecar's pinned version."""

from __future__ import annotations

import pytest

from labelguard.errors import BadInput, DatasetMissing
from labelguard.tasks.dataset import load_verified, seal_dataset, to_parquet_bytes, write_dataset
from labelguard.tasks.manifest import ColumnSpec, load_signing_key, load_verify_key
from labelguard.tasks.storage import LocalStore
from labelguard.tasks.synthetic import make_reviews


def _lake(tmp_path, parts):
    store = LocalStore(tmp_path / "lake")
    for key, frame in parts.items():
        store.put(key, to_parquet_bytes(frame.reset_index(drop=True)))
    return store


def test_seal_refuses_repeated_ids_naming_the_first_repeat_its_parts_and_the_count(tmp_path, keys):
    frame = make_reviews(30, seed=5)
    store = _lake(tmp_path, {"a.parquet": frame.iloc[:20], "b.parquet": frame.iloc[17:]})  # rows 17-19 twice
    with pytest.raises(BadInput) as err:
        seal_dataset(store, load_signing_key(keys[0]), spec=ColumnSpec())
    assert err.value.problem == "id 'rev-0000017' is in both a.parquet and b.parquet (3 repeated id(s) in 33 rows)"
    assert err.value.fix == "seal parts whose ids are unique (drop the copy), or pass --id-col naming a unique column"


def test_a_passing_verify_reports_its_manifest_and_each_object_as_observed(tmp_path, keys):
    store = LocalStore(tmp_path / "ds")
    signed = write_dataset(store, make_reviews(20, seed=3), ColumnSpec(), load_signing_key(keys[0]), source={"kind": "test"})
    rep = load_verified(store, load_verify_key(keys[1]))
    assert rep.code == "ok"
    assert rep.manifest.payload == signed.payload
    obj = signed.payload["objects"][0]
    assert rep.observed["objects"] == [{"key": obj["key"], "sha256": obj["sha256"], "version_id": None, "rows": 20}]
    sidecar = signed.payload["rows_sidecar"]
    assert set(sidecar) == {"key", "sha256", "bytes", "version_id"} and sidecar["version_id"] is None


def test_three_edited_objects_report_the_first_and_two_more(tmp_path, keys):
    frame = make_reviews(30, seed=6)
    parts = {f"p{i}.parquet": frame.iloc[10 * i : 10 * i + 10] for i in range(3)}
    store = _lake(tmp_path, parts)
    seal_dataset(store, load_signing_key(keys[0]), spec=ColumnSpec())
    for key, part in parts.items():
        edited = part.reset_index(drop=True)
        edited.loc[0, "label"] = 1 - edited.loc[0, "label"]
        store.put(key, to_parquet_bytes(edited), create_only=False)
    rep = load_verified(store, load_verify_key(keys[1]))
    assert rep.code == "digest-mismatch"
    assert "(+2 more object(s))" in rep.detail and rep.detail.startswith("p0.parquet: SHA-256 ")
    assert rep.suspect_ids == ["rev-0000000", "rev-0000010", "rev-0000020"]


def test_resealing_a_dataset_whose_objects_are_all_gone_says_what_to_do(tmp_path, keys):
    store = _lake(tmp_path, {"a.parquet": make_reviews(10, seed=2)})
    seal_dataset(store, load_signing_key(keys[0]), spec=ColumnSpec())
    (tmp_path / "lake" / "a.parquet").unlink()
    with pytest.raises(DatasetMissing) as err:
        seal_dataset(store, load_signing_key(keys[0]))
    assert err.value.problem == f"every object the manifest of {store.uri} lists is gone"
    assert err.value.fix == "restore them, or seal the objects that are there as a new dataset"


def test_an_object_overwritten_with_other_bytes_is_observed_without_rows(tmp_path, keys):
    store = LocalStore(tmp_path / "ds")
    signed = write_dataset(store, make_reviews(20, seed=4), ColumnSpec(), load_signing_key(keys[0]), source={"kind": "test"})
    obj = signed.payload["objects"][0]
    (tmp_path / "ds" / obj["key"]).write_bytes(b"not parquet at all")
    rep = load_verified(store, load_verify_key(keys[1]))
    assert rep.code == "digest-mismatch"
    assert rep.detail.endswith("… and the object is not readable Parquet; no object readable: cannot localize")
    assert rep.observed["objects"] == [{"key": obj["key"], "sha256": rep.observed["objects"][0]["sha256"], "version_id": None, "rows": None}]
    assert rep.observed["objects"][0]["sha256"] != obj["sha256"]


def test_nested_cells_hash_by_content_in_the_row_sidecar():
    import numpy as np
    import pandas as pd

    from labelguard.tasks.dataset import row_digests

    frame = pd.DataFrame({"review_id": ["a", "b", "c"], "label": [0, 1, 0],
                          "tags": [np.array([1, 2]), np.array([1, 2]), np.array([2, 1])]})
    hashes = row_digests(frame, ColumnSpec())["row_hash"].tolist()
    assert hashes[0] == hashes[1] != hashes[2]  # equal lists hash alike, another order does not


def test_a_failed_write_removes_only_the_folders_it_made(tmp_path):
    from labelguard.tasks.dataset import writing_dataset

    root = tmp_path / "dest"
    (root / "kept-empty").mkdir(parents=True)
    with pytest.raises(RuntimeError), writing_dataset(LocalStore(root)):
        (root / "made" / "deeper").mkdir(parents=True)
        raise RuntimeError("a later part failed")
    assert sorted(p.name for p in root.iterdir()) == ["kept-empty"]


def test_parts_with_a_repeated_column_name_are_compared_as_whole_schemas():
    import pyarrow as pa

    from labelguard.tasks.dataset import same_columns

    twice = pa.schema([("x", pa.int64()), ("x", pa.int64())])
    assert same_columns(twice, twice)
    assert not same_columns(twice, pa.schema([("x", pa.int64()), ("x", pa.float64())]))
