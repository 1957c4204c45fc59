"""Dataset behaviour the seed-3 mutation sample of tasks/dataset.py found untested: what an
untrusted manifest's report keeps, how many schema differences a seal refusal names, sealing a
folder with no manifest and no column spec, and sealing every part of a folder found by itself."""

from __future__ import annotations

import json

import pytest

from labelguard.errors import BadInput
from labelguard.tasks.dataset import MANIFEST_KEY, ROWS_SIG_KEY, load_verified, seal_dataset, to_parquet_bytes, write_dataset
from labelguard.tasks.manifest import ColumnSpec, load_signing_key, load_verify_key
from labelguard.tasks.storage import LocalStore
from labelguard.tasks.synthetic import make_reviews


def test_an_untrusted_manifest_stays_in_the_report_when_nothing_can_be_localized(tmp_path, keys, other_keys):
    """The report of a manifest signed by another key carries that manifest (its version and source
    go into verify's audit record), also when the sidecar's signature is gone."""
    store = LocalStore(tmp_path / "ds")
    write_dataset(store, make_reviews(30, seed=6), ColumnSpec(), load_signing_key(other_keys[0]), source={"kind": "theirs"})
    store.delete(ROWS_SIG_KEY)
    rep = load_verified(store, load_verify_key(keys[1]))
    assert rep.code == "unknown-key" and rep.suspect_ids is None
    assert rep.detail.endswith("; row sidecar signature missing or invalid: cannot localize")
    assert rep.manifest is not None and rep.manifest.payload == json.loads(store.get(MANIFEST_KEY))["payload"]
    assert rep.manifest.payload["source"] == {"kind": "theirs"}


def test_a_seal_refusal_names_at_most_three_differing_columns(tmp_path, keys):
    store = LocalStore(tmp_path / "lake")
    frame = make_reviews(20, seed=4)
    store.put("a.parquet", to_parquet_bytes(frame))
    store.put("b.parquet", to_parquet_bytes(frame.assign(w=1, x=1, y=1, z=1)))
    with pytest.raises(BadInput) as err:
        seal_dataset(store, load_signing_key(keys[0]), spec=ColumnSpec(), keys=["a.parquet", "b.parquet"])
    assert err.value.problem == "part b.parquet has another schema than a.parquet (w: absent vs int64; x: absent vs int64; y: absent vs int64)"


def test_sealing_parquet_without_a_manifest_needs_the_columns(tmp_path, keys):
    store = LocalStore(tmp_path / "lake")
    store.put("a.parquet", to_parquet_bytes(make_reviews(20, seed=4)))
    with pytest.raises(BadInput) as err:
        seal_dataset(store, load_signing_key(keys[0]))
    assert str(err.value) == f"no manifest at {store.uri} to take the columns from (fix: pass --id-col and --label-col)"
    assert store.list() == ["a.parquet"]


def test_sealing_a_folder_finds_every_part_below_it(tmp_path, keys):
    store = LocalStore(tmp_path / "lake")
    frame = make_reviews(50, seed=5)
    store.put("date=2026-01-01/part-0.parquet", to_parquet_bytes(frame.iloc[:20].reset_index(drop=True)))
    store.put("date=2026-01-02/part-0.parquet", to_parquet_bytes(frame.iloc[20:].reset_index(drop=True)))
    manifest = seal_dataset(store, load_signing_key(keys[0]), spec=ColumnSpec())
    assert [(o["key"], o["rows"]) for o in manifest.payload["objects"]] == [
        ("date=2026-01-01/part-0.parquet", 20), ("date=2026-01-02/part-0.parquet", 30)]
    assert load_verified(store, load_verify_key(keys[1])).ok


def test_a_sealed_lake_signs_its_sidecar_and_an_edited_sidecar_fails(tmp_path, keys):
    import hashlib

    store = LocalStore(tmp_path / "lake")
    store.put("part-0.parquet", to_parquet_bytes(make_reviews(30, seed=8)))
    manifest = seal_dataset(store, load_signing_key(keys[0]), spec=ColumnSpec(), keys=["part-0.parquet"])
    raw = store.get("_rows.parquet")
    assert manifest.payload["rows_sidecar"] == {"key": "_rows.parquet", "sha256": hashlib.sha256(raw).hexdigest(), "bytes": len(raw), "version_id": None}
    assert manifest.payload["source"] == {"kind": "sealed", "previous_version": None}
    store.put("_rows.parquet", raw + b"\0", create_only=False)
    rep = load_verified(store, load_verify_key(keys[1]))
    assert (rep.code, rep.detail.split("; ")[0]) == ("digest-mismatch", "row sidecar _rows.parquet differs from its signed SHA-256")


def test_each_reseal_names_the_version_it_follows(tmp_path, keys):
    store = LocalStore(tmp_path / "ds")
    frame = make_reviews(30, seed=9)
    write_dataset(store, frame, ColumnSpec(), load_signing_key(keys[0]), source={})
    for version in (2, 3):
        frame.loc[version, "label"] = 1 - frame.loc[version, "label"]  # an approved relabelling
        store.put("data.parquet", to_parquet_bytes(frame), create_only=False)
        manifest = seal_dataset(store, load_signing_key(keys[0]))
        assert manifest.payload["dataset"]["version"] == version
        assert manifest.payload["source"] == {"kind": "sealed", "previous_version": version - 1}


def test_a_single_sealed_file_claims_nothing_about_its_folder_but_a_prefix_does(tmp_path, keys):
    frame = make_reviews(30, seed=10)
    for scope, code in (({"kind": "files"}, "ok"), (None, "unlisted-object")):
        store = LocalStore(tmp_path / f"lake-{code}")
        store.put("a.parquet", to_parquet_bytes(frame))
        seal_dataset(store, load_signing_key(keys[0]), spec=ColumnSpec(), keys=["a.parquet"], scope=scope)
        store.put("b.parquet", to_parquet_bytes(frame))
        assert load_verified(store, load_verify_key(keys[1])).code == code


def test_an_unsigned_object_beside_a_nested_part_is_unlisted_but_the_part_is_not(tmp_path, keys):
    """A folder holding its own manifest (two levels down here) is its own part; an object next to it is not."""
    store = LocalStore(tmp_path / "ds")
    frame = make_reviews(40, seed=11)
    write_dataset(store, frame, ColumnSpec(), load_signing_key(keys[0]), source={})
    write_dataset(store.child("sub").child("part"), frame, ColumnSpec(), load_signing_key(keys[0]), source={})
    store.put("sub/extra.parquet", to_parquet_bytes(frame))
    rep = load_verified(store, load_verify_key(keys[1]))
    assert rep.code == "unlisted-object"
    assert rep.detail.startswith("1 Parquet object(s) under the dataset that the signed manifest does not list: sub/extra.parquet;")


def test_a_sidecar_signature_that_no_longer_verifies_is_not_used_to_localize(tmp_path, keys):
    """An edited rows.sig.json (still naming its dataset) must not vouch for the sidecar."""
    from labelguard.tasks.dataset import DATA_KEY

    store = LocalStore(tmp_path / "ds")
    frame = make_reviews(40, seed=12)
    write_dataset(store, frame, ColumnSpec(), load_signing_key(keys[0]), source={})
    envelope = json.loads(store.get(ROWS_SIG_KEY))
    envelope["payload"]["rows"] = 41
    store.put(ROWS_SIG_KEY, json.dumps(envelope).encode(), create_only=False)
    edited = frame.copy()
    edited.loc[5, "label"] = 1 - edited.loc[5, "label"]
    store.put(DATA_KEY, to_parquet_bytes(edited), create_only=False)
    rep = load_verified(store, load_verify_key(keys[1]))
    assert rep.code == "digest-mismatch" and rep.suspect_ids is None
    assert rep.detail.endswith("; row sidecar or its signature missing or invalid: cannot localize")
