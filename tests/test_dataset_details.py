"""What verify reports, value by value: the observed objects, the localization wording, the seal's
schema refusal, and what an S3 write returns. Written against survivors of `make mutation` on
tasks/dataset.py and tasks/storage.py."""

from __future__ import annotations

import hashlib

import pytest

from labelguard.errors import BadInput
from labelguard.tasks.dataset import DATA_KEY, ROWS_KEY, load_verified, seal_dataset, to_parquet_bytes, write_dataset
from labelguard.tasks.manifest import ColumnSpec, load_signing_key, load_verify_key
from labelguard.tasks.storage import LocalStore, open_store
from labelguard.tasks.synthetic import make_reviews


def _s3(uri):
    store = open_store(uri)
    store.ensure_writable()
    return store


def test_observed_objects_are_what_was_read(s3_uri, keys):
    """Each listed object as found: key, SHA-256 of its bytes, its version and rows; a single object's also at the top."""
    store = _s3(s3_uri)
    frame = make_reviews(90, seed=2)
    for i, (lo, hi) in enumerate(((0, 50), (50, 90))):
        store.put(f"part-{i}.parquet", to_parquet_bytes(frame.iloc[lo:hi].reset_index(drop=True)))
    seal_dataset(store, load_signing_key(keys[0]), spec=ColumnSpec(), keys=["part-0.parquet", "part-1.parquet"])
    rep = load_verified(store, load_verify_key(keys[1]))
    assert rep.ok
    expected = [{"key": k, "sha256": hashlib.sha256(store.get(k)).hexdigest(), "version_id": store.head(k).version_id, "rows": r}
                for k, r in (("part-0.parquet", 50), ("part-1.parquet", 40))]
    assert rep.observed == {"objects": expected, "rows": 90}

    single = _s3(s3_uri + "-single")
    write_dataset(single, frame, ColumnSpec(), load_signing_key(keys[0]), source={})
    rep = load_verified(single, load_verify_key(keys[1]))
    data = single.get(DATA_KEY)
    obj = {"key": DATA_KEY, "sha256": hashlib.sha256(data).hexdigest(), "version_id": single.head(DATA_KEY).version_id, "rows": 90}
    assert rep.observed == {"objects": [obj], "rows": 90, "sha256": obj["sha256"], "version_id": obj["version_id"]}


def test_edit_with_the_sidecar_gone_says_it_cannot_localize(tmp_path, keys):
    store = LocalStore(tmp_path / "ds")
    frame = make_reviews(60, seed=3)
    write_dataset(store, frame, ColumnSpec(), load_signing_key(keys[0]), source={})
    edited = frame.copy()
    edited.loc[4, "label"] = 1 - edited.loc[4, "label"]
    store.put(DATA_KEY, to_parquet_bytes(edited), create_only=False)
    store.delete(ROWS_KEY)
    rep = load_verified(store, load_verify_key(keys[1]))
    assert rep.code == "digest-mismatch" and rep.suspect_ids is None
    assert rep.detail.endswith("; row sidecar missing: cannot localize")
    store.put(ROWS_KEY, b"not the sidecar")
    rep = load_verified(store, load_verify_key(keys[1]))
    assert rep.detail.endswith("; row sidecar altered too: cannot localize") and rep.suspect_ids is None


def test_seal_refuses_parts_of_another_schema_naming_each_column(tmp_path, keys):
    store = LocalStore(tmp_path / "lake")
    frame = make_reviews(40, seed=4)
    store.put("a.parquet", to_parquet_bytes(frame))
    other = frame.assign(label=frame["label"].astype("float64"), extra=1)
    store.put("b.parquet", to_parquet_bytes(other))
    with pytest.raises(BadInput) as err:
        seal_dataset(store, load_signing_key(keys[0]), spec=ColumnSpec(), keys=["a.parquet", "b.parquet"])
    assert err.value.problem == "part b.parquet has another schema than a.parquet (extra: absent vs int64; label: int64 vs double)"
    assert err.value.fix == "seal parts with one schema together (a glob or prefix per schema)"
    assert store.list() == ["a.parquet", "b.parquet"]  # nothing written


def test_s3_put_returns_the_key_it_was_given(s3_uri):
    store = _s3(s3_uri)
    info = store.put("sub/obj.bin", b"abc")
    assert (info.key, info.size, info.sha256) == ("sub/obj.bin", 3, hashlib.sha256(b"abc").hexdigest())
    assert info.version_id == store.head("sub/obj.bin").version_id and info.write_id == store.head("sub/obj.bin").write_id
    over = store.put("sub/obj.bin", b"abcd", create_only=False)
    assert (over.key, over.size) == ("sub/obj.bin", 4) and over.version_id != info.version_id


def _labels_flipped(store, frame, rows):
    edited = frame.copy()
    edited.loc[rows, "label"] = 1 - edited.loc[rows, "label"]
    store.put(DATA_KEY, to_parquet_bytes(edited), create_only=False)


def test_seal_changes_names_what_a_reseal_would_approve(tmp_path, keys):
    from labelguard.tasks.dataset import seal_changes

    vk = load_verify_key(keys[1])
    store = LocalStore(tmp_path / "ds")
    frame = make_reviews(40, seed=5)
    write_dataset(store, frame, ColumnSpec(), load_signing_key(keys[0]), source={})
    assert seal_changes(store, vk) == ""
    _labels_flipped(store, frame, list(range(10)))
    ids = ", ".join(f"rev-{i:07d}" for i in range(10))
    assert seal_changes(store, vk) == f"approving digest-mismatch: 10 label(s) changed, 0 row(s) otherwise edited, 0 added, 0 missing (rows {ids})"
    _labels_flipped(store, frame, list(range(11)))
    assert seal_changes(store, vk) == f"approving digest-mismatch: 11 label(s) changed, 0 row(s) otherwise edited, 0 added, 0 missing (rows {ids} …)"
    assert seal_changes(LocalStore(tmp_path / "nothing"), vk) == ""  # a summary only: a real problem is the seal's to report


def test_untrusted_manifest_still_localizes_or_says_why_not(tmp_path, keys, other_keys):
    import json

    from labelguard.tasks.dataset import MANIFEST_KEY
    from labelguard.tasks.manifest import key_id

    store = LocalStore(tmp_path / "ds")
    frame = make_reviews(40, seed=6)
    write_dataset(store, frame, ColumnSpec(), load_signing_key(keys[0]), source={})
    wrong = load_verified(store, load_verify_key(other_keys[1]))  # the verifier holds another public key
    signer = key_id(load_signing_key(keys[0]).public_key())
    assert wrong.code == "unknown-key" and wrong.suspect_ids is None
    assert wrong.detail.endswith(f"; row sidecar signed by the same key {signer} (is LABELGUARD_VERIFY_KEY / --verify-key the right public key?): cannot localize")
    doc = json.loads(store.get(MANIFEST_KEY))
    doc["payload"]["source"] = {"kind": "forged"}  # the signature no longer covers the payload
    store.put(MANIFEST_KEY, json.dumps(doc).encode(), create_only=False)
    _labels_flipped(store, frame, [3])
    rep = load_verified(store, load_verify_key(keys[1]))
    assert rep.code == "bad-signature" and rep.suspect_ids == ["rev-0000003"] and rep.observed == {"rows": 40}
    assert rep.detail.endswith("; 1 label(s) changed, 0 row(s) otherwise edited, 0 added, 0 missing")
    store.delete(DATA_KEY)
    rep = load_verified(store, load_verify_key(keys[1]))
    assert rep.code == "bad-signature" and rep.detail.endswith(f"; data object {DATA_KEY} is gone") and rep.suspect_ids is None


def test_reseal_without_a_change_is_refused_word_for_word(tmp_path, keys):
    from labelguard.tasks.dataset import NothingToSeal

    store = LocalStore(tmp_path / "ds")
    manifest = write_dataset(store, make_reviews(30, seed=7), ColumnSpec(), load_signing_key(keys[0]), source={})
    with pytest.raises(NothingToSeal) as err:
        seal_dataset(store, load_signing_key(keys[0]))
    ref = manifest.payload["dataset"]
    assert (err.value.problem, err.value.fix) == (f"nothing changed since version {ref['version']} of {ref['id']}: not re-signed", "seal again after an approved change")


def test_sort_ids_numbers_first_then_text():
    from labelguard.tasks.dataset import sort_ids

    assert sort_ids([10, "b", 2, "a", 1.5]) == [1.5, 2, 10, "a", "b"]
    assert sort_ids(["r10", "r9"]) == ["r10", "r9"] and sort_ids([]) == []


def test_edit_that_drops_the_label_column_cannot_be_localized(tmp_path, keys):
    store = LocalStore(tmp_path / "ds")
    frame = make_reviews(30, seed=8)
    write_dataset(store, frame, ColumnSpec(), load_signing_key(keys[0]), source={})
    store.put(DATA_KEY, to_parquet_bytes(frame.drop(columns=["label"])), create_only=False)
    rep = load_verified(store, load_verify_key(keys[1]))
    assert rep.code == "digest-mismatch" and rep.suspect_ids is None
    assert rep.detail.endswith("; id or label column gone: cannot localize")


class _FullLedger:
    def append(self, entry, key):
        raise OSError("ledger disk full")


@pytest.mark.parametrize("backend", ["local", "s3"])
def test_ledger_failure_after_the_manifest_removes_every_object(backend, tmp_path, keys, request):
    store = LocalStore(tmp_path / "ds") if backend == "local" else _s3(request.getfixturevalue("s3_uri"))
    with pytest.raises(OSError, match="ledger disk full"):
        write_dataset(store, make_reviews(20, seed=9), ColumnSpec(), load_signing_key(keys[0]), source={}, ledger=_FullLedger())
    assert store.list() == []


def test_writing_over_a_dataset_is_refused_naming_what_is_there(tmp_path, keys):
    from labelguard.errors import DatasetExists

    store = LocalStore(tmp_path / "ds")
    store.put(DATA_KEY, b"x")
    with pytest.raises(DatasetExists) as err:
        write_dataset(store, make_reviews(20, seed=9), ColumnSpec(), load_signing_key(keys[0]), source={})
    assert (err.value.problem, err.value.fix) == (f"{store.uri} already holds a dataset ({DATA_KEY})", "choose a new destination; datasets are create-only")
    assert store.list() == [DATA_KEY]


def test_glob_scope_flags_only_matching_unlisted_parts(tmp_path, keys):
    store = LocalStore(tmp_path / "lake")
    frame = make_reviews(40, seed=10)
    store.put("part-0.parquet", to_parquet_bytes(frame.iloc[:20].reset_index(drop=True)))
    seal_dataset(store, load_signing_key(keys[0]), spec=ColumnSpec(), keys=["part-0.parquet"], scope={"kind": "glob", "pattern": "part-*.parquet"})
    store.put("other.parquet", to_parquet_bytes(frame.iloc[20:30].reset_index(drop=True)))  # outside the glob: not the dataset's
    assert load_verified(store, load_verify_key(keys[1])).ok
    store.put("part-1.parquet", to_parquet_bytes(frame.iloc[30:].reset_index(drop=True)))
    rep = load_verified(store, load_verify_key(keys[1]))
    assert rep.code == "unlisted-object"
    assert rep.detail.startswith("1 Parquet object(s) under the dataset that the signed manifest does not list: part-1.parquet")


def test_unlisted_objects_are_counted_shown_five_at_most_and_read_as_added_rows(tmp_path, keys):
    store = LocalStore(tmp_path / "lake")
    frame = make_reviews(60, seed=11)
    store.put("part-0.parquet", to_parquet_bytes(frame.iloc[:20].reset_index(drop=True)))
    seal_dataset(store, load_signing_key(keys[0]), spec=ColumnSpec(), keys=["part-0.parquet"])
    names = [f"extra-{i}.parquet" for i in range(6)]
    for i, name in enumerate(names[:5]):
        store.put(name, to_parquet_bytes(frame.iloc[[20 + i]].reset_index(drop=True)))
    rep = load_verified(store, load_verify_key(keys[1]))
    assert rep.detail.startswith(f"5 Parquet object(s) under the dataset that the signed manifest does not list: {', '.join(names[:5])}; ")
    assert rep.suspect_ids == [f"rev-{i:07d}" for i in range(20, 25)]  # their rows are named as added
    # a sixth, with labels stored as floats: shown as "+1 more", its row still read (types promoted)
    store.put(names[5], to_parquet_bytes(frame.iloc[[25]].reset_index(drop=True).astype({"label": "float64"})))
    rep = load_verified(store, load_verify_key(keys[1]))
    assert rep.code == "unlisted-object"
    assert rep.detail.startswith(f"6 Parquet object(s) under the dataset that the signed manifest does not list: {', '.join(names[:5])} (+1 more); ")
    assert rep.suspect_ids == [f"rev-{i:07d}" for i in range(20, 26)]
