"""The sidecar's own signature (``rows.sig.json``) is an object ingest wrote and signed: removed or
edited at rest, it must be named, not pass (break-it round 9, F8). The data objects still match the
signed manifest, so no row is named."""

from __future__ import annotations

import json

import pytest

from labelguard.tasks.dataset import ROWS_SIG_KEY, load_verified, seal_dataset, write_dataset
from labelguard.tasks.manifest import ColumnSpec, key_id, load_signing_key, load_verify_key
from labelguard.tasks.storage import LocalStore
from labelguard.tasks.synthetic import make_reviews

INTACT = "(the data objects match the signed manifest)"


@pytest.fixture
def written(tmp_path, keys):
    store = LocalStore(tmp_path / "ds")
    write_dataset(store, make_reviews(40, seed=21), ColumnSpec(), load_signing_key(keys[0]), source={})
    assert load_verified(store, load_verify_key(keys[1])).code == "ok"
    return store


def test_a_removed_sidecar_signature_is_object_missing_with_no_row_named(written, keys):
    written.delete(ROWS_SIG_KEY)
    rep = load_verified(written, load_verify_key(keys[1]))
    assert (rep.code, rep.detail) == ("object-missing", f"row sidecar signature rows.sig.json is gone {INTACT}")
    assert rep.suspect_ids == [] and len(rep.frame) == 40


@pytest.mark.parametrize("edit", ["empty-object", "payload-edited", "another-datasets"])
def test_an_edited_sidecar_signature_is_bad_signature(written, keys, tmp_path, edit):
    if edit == "empty-object":
        raw = b"{}"
    elif edit == "payload-edited":  # still parses and names its dataset, but the signature no longer verifies
        envelope = json.loads(written.get(ROWS_SIG_KEY))
        envelope["payload"]["rows"] = 41
        raw = json.dumps(envelope).encode()
    else:  # validly signed by the same key, for another dataset
        other = LocalStore(tmp_path / "other")
        write_dataset(other, make_reviews(40, seed=22), ColumnSpec(), load_signing_key(keys[0]), source={})
        raw = other.get(ROWS_SIG_KEY)
    written.put(ROWS_SIG_KEY, raw, create_only=False)
    rep = load_verified(written, load_verify_key(keys[1]))
    assert (rep.code, rep.detail) == (
        "bad-signature", f"row sidecar signature rows.sig.json does not vouch for the signed sidecar: it was edited at rest {INTACT}"
    )
    assert rep.suspect_ids == [] and len(rep.frame) == 40


def test_a_sealed_lake_names_its_own_signature_object(tmp_path, keys):
    """A lake sealed in place keeps its objects `_`-prefixed: the message names the object as it is."""
    from labelguard.tasks.dataset import to_parquet_bytes

    lake = LocalStore(tmp_path / "lake")
    lake.put("part-0.parquet", to_parquet_bytes(make_reviews(30, seed=23)))
    seal_dataset(lake, load_signing_key(keys[0]), spec=ColumnSpec())
    assert load_verified(lake, load_verify_key(keys[1])).code == "ok"
    lake.delete("_rows.sig.json")
    rep = load_verified(lake, load_verify_key(keys[1]))
    assert (rep.code, rep.detail) == ("object-missing", f"row sidecar signature _rows.sig.json is gone {INTACT}")


def test_a_sidecar_signature_under_another_key_is_unknown_key(written, keys, other_keys, tmp_path):
    """Replaced by one a key other than the trusted one signed (validly, for this very dataset)."""
    from labelguard.tasks.dataset import sidecar_envelope
    from labelguard.tasks.manifest import DatasetRef, SignedManifest

    theirs = SignedManifest.from_bytes(written.get(ROWS_SIG_KEY)).payload
    forged = sidecar_envelope(
        DatasetRef.from_dict(theirs["dataset"]), ColumnSpec.from_dict(theirs["columns"]), [{"key": k} for k in theirs["objects"]],
        theirs["sidecar_sha256"], theirs["rows"], load_signing_key(other_keys[0]),
    )
    written.put(ROWS_SIG_KEY, forged.to_bytes(), create_only=False)
    rep = load_verified(written, load_verify_key(keys[1]))
    assert (rep.code, rep.suspect_ids) == ("unknown-key", [])
    assert rep.detail == (
        f"row sidecar signature rows.sig.json is signed by key {key_id(load_verify_key(other_keys[1]))}, "
        f"not the trusted key {key_id(load_verify_key(keys[1]))} {INTACT}"
    )
