import pytest

from labelguard.errors import DatasetExists
from labelguard.tasks.dataset import (
    DATA_KEY,
    MANIFEST_KEY,
    from_parquet_bytes,
    load_verified,
    read_manifest,
    to_parquet_bytes,
    write_dataset,
)
from labelguard.tasks.manifest import SignedManifest, load_signing_key, load_verify_key, sign_manifest
from labelguard.tasks.storage import LocalStore, open_store


@pytest.fixture(params=["local", "s3"])
def store(request, tmp_path):
    if request.param == "local":
        return LocalStore(tmp_path / "ds")
    uri = request.getfixturevalue("s3_uri")
    s = open_store(uri)
    s.ensure_writable()
    return s


def _write(store, reviews, spec, keys):
    return write_dataset(store, reviews, spec, load_signing_key(keys[0]), source={"kind": "test"})


def test_round_trip_verifies(store, reviews, spec, keys):
    manifest = _write(store, reviews, spec, keys)
    assert manifest.payload["rows"] == len(reviews)
    assert manifest.payload["label_histogram"] == {"0": int((reviews.label == 0).sum()), "1": int((reviews.label == 1).sum())}
    rep = load_verified(store, load_verify_key(keys[1]))
    assert rep.ok, rep.detail
    assert rep.frame.equals(reviews)
    if isinstance(store, LocalStore):
        assert manifest.payload["objects"][0]["version_id"] is None
    else:
        assert manifest.payload["objects"][0]["version_id"] == store.head(DATA_KEY).version_id


def test_second_write_refused_and_original_kept(store, reviews, spec, keys):
    _write(store, reviews, spec, keys)
    before = store.get(MANIFEST_KEY)
    with pytest.raises(DatasetExists):
        _write(store, reviews.head(10), spec, keys)
    assert store.get(MANIFEST_KEY) == before


def _flip_one(store, reviews):
    tampered = reviews.copy()
    tampered.loc[3, "label"] = 1 - tampered.loc[3, "label"]
    store.put(DATA_KEY, to_parquet_bytes(tampered), create_only=False)


def test_edit_at_rest_detected(store, reviews, spec, keys):
    _write(store, reviews, spec, keys)
    _flip_one(store, reviews)
    rep = load_verified(store, load_verify_key(keys[1]))
    assert rep.code == "digest-mismatch"
    assert rep.frame is not None and (rep.frame.label != reviews.label).sum() == 1
    assert rep.suspect_ids == [reviews.loc[3, "review_id"]]  # localized from the signed sidecar alone
    assert "1 label(s) changed" in rep.detail


def test_row_count_and_swapped_version(store, reviews, spec, keys):
    _write(store, reviews, spec, keys)
    original = store.get(DATA_KEY)
    store.put(DATA_KEY, to_parquet_bytes(reviews.drop(index=[4, 5])), create_only=False)
    rep = load_verified(store, load_verify_key(keys[1]))
    assert rep.code == "row-count" and rep.suspect_ids == []
    assert "2 missing" in rep.detail
    store.put(DATA_KEY, original, create_only=False)
    rep = load_verified(store, load_verify_key(keys[1]))
    assert rep.code == ("ok" if isinstance(store, LocalStore) else "version-swapped")


def test_sidecar_tampered_too(store, reviews, spec, keys):
    from labelguard.tasks.dataset import ROWS_KEY

    _write(store, reviews, spec, keys)
    _flip_one(store, reviews)
    store.put(ROWS_KEY, b"junk", create_only=False)
    rep = load_verified(store, load_verify_key(keys[1]))
    assert rep.code == "digest-mismatch" and rep.suspect_ids is None
    assert "sidecar altered" in rep.detail


def test_forged_unsigned_fields_break_signature(store, reviews, spec, keys):
    _write(store, reviews, spec, keys)
    m = read_manifest(store)
    forged = SignedManifest({**m.payload, "rows": 1}, m.signature, m.key_id)
    store.put(MANIFEST_KEY, forged.to_bytes(), create_only=False)
    rep = load_verified(store, load_verify_key(keys[1]))
    assert rep.code == "bad-signature" and rep.suspect_ids == []  # object untouched: nothing to name


def test_resigned_under_unknown_key(store, reviews, spec, keys, other_keys):
    _write(store, reviews, spec, keys)
    m = read_manifest(store)
    store.put(MANIFEST_KEY, sign_manifest(m.payload, load_signing_key(other_keys[0])).to_bytes(), create_only=False)
    assert load_verified(store, load_verify_key(keys[1])).code == "unknown-key"


def test_nothing_at_the_uri_is_bad_input_not_tampering(store, keys):
    from labelguard.errors import DatasetMissing

    with pytest.raises(DatasetMissing, match="no dataset at"):
        load_verified(store, load_verify_key(keys[1]))


def test_data_without_manifest_is_missing_manifest(store, keys, reviews):
    store.ensure_writable()
    store.put(DATA_KEY, to_parquet_bytes(reviews))
    assert load_verified(store, load_verify_key(keys[1])).code == "missing-manifest"


def test_parquet_round_trip_keeps_dtypes(reviews):
    back = from_parquet_bytes(to_parquet_bytes(reviews))
    assert list(back.dtypes) == list(reviews.dtypes)
