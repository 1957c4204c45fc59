"""One write/verify/tamper contract over every store back-end (local disk, S3 over the moto server):
exact failure codes, the rows the signed sidecar names, and cleanup after a failed write."""

from __future__ import annotations

import boto3
import pytest

from labelguard.tasks.dataset import DATA_KEY, MANIFEST_KEY, ROWS_KEY, ROWS_SIG_KEY, load_verified, to_parquet_bytes, write_dataset
from labelguard.tasks.manifest import ColumnSpec, load_signing_key, load_verify_key
from labelguard.tasks.storage import LocalStore, S3Store, open_store
from labelguard.tasks.synthetic import make_reviews


@pytest.fixture(params=["local", "s3"])
def store(request, tmp_path):
    if request.param == "local":
        return LocalStore(tmp_path / "ds")
    s = open_store(request.getfixturevalue("s3_uri"))
    s.ensure_writable()
    return s


@pytest.fixture
def written(store, keys):
    frame = make_reviews(400, seed=17)
    write_dataset(store, frame, ColumnSpec(), load_signing_key(keys[0]), source={"kind": "test"})
    return store, frame


def _verify(store, keys):
    return load_verified(store, load_verify_key(keys[1]))


def test_every_object_written_and_verified(written, keys):
    store, frame = written
    assert sorted(store.list()) == sorted([DATA_KEY, MANIFEST_KEY, ROWS_KEY, ROWS_SIG_KEY])
    rep = _verify(store, keys)
    assert rep.code == "ok" and rep.suspect_ids is None
    assert rep.frame.equals(frame)


def test_deleted_data_object_is_object_missing(written, keys):
    store, _ = written
    store.delete(DATA_KEY, version_id=store.head(DATA_KEY).version_id)
    rep = _verify(store, keys)
    assert rep.code == "object-missing"
    assert rep.detail == "data object data.parquet is gone"


def test_deleted_sidecar_is_object_missing(written, keys):
    store, _ = written
    store.delete(ROWS_KEY, version_id=store.head(ROWS_KEY).version_id)
    rep = _verify(store, keys)
    assert rep.code == "object-missing" and rep.detail.startswith("row sidecar rows.parquet is gone")


def test_added_rows_are_named_by_the_sidecar(written, keys):
    store, frame = written
    extra = make_reviews(3, seed=99).assign(review_id=["added-1", "added-2", "added-3"])
    import pandas as pd

    store.put(DATA_KEY, to_parquet_bytes(pd.concat([frame, extra], ignore_index=True)), create_only=False)
    rep = _verify(store, keys)
    assert rep.code == "row-count"
    assert rep.suspect_ids == ["added-1", "added-2", "added-3"]
    assert rep.detail.endswith("0 label(s) changed, 0 row(s) otherwise edited, 3 added, 0 missing")


def test_feature_and_label_edits_are_named_apart(written, keys):
    store, frame = written
    edited = frame.copy()
    edited.loc[10, "intensity"] = edited.loc[10, "intensity"] + 0.5
    edited.loc[20, "label"] = 1 - edited.loc[20, "label"]
    edited.loc[30, "created_at"] = edited.loc[30, "created_at"] + pd_timedelta()
    store.put(DATA_KEY, to_parquet_bytes(edited), create_only=False)
    rep = _verify(store, keys)
    assert rep.code == "digest-mismatch"
    assert rep.suspect_ids == sorted(frame.loc[[10, 20, 30], "review_id"])
    assert rep.detail.endswith("1 label(s) changed, 2 row(s) otherwise edited, 0 added, 0 missing")


def pd_timedelta():
    import pandas as pd

    return pd.Timedelta(seconds=1)


class _FailOn:
    """Wrap a store's put so that writing ``key`` fails, as a store that drops the connection would."""

    def __init__(self, store, key):
        self.store, self.key, self.inner = store, key, store.put

    def __call__(self, key, data, **kw):
        if key == self.key:
            raise OSError(f"injected failure writing {key}")
        return self.inner(key, data, **kw)


@pytest.mark.parametrize("fail_on", [ROWS_KEY, ROWS_SIG_KEY, MANIFEST_KEY])
def test_failed_write_removes_every_earlier_object(store, keys, fail_on, s3_endpoint):
    store.put = _FailOn(store, fail_on)
    with pytest.raises(OSError, match="injected"):
        write_dataset(store, make_reviews(100, seed=1), ColumnSpec(), load_signing_key(keys[0]), source={})
    assert store.list() == []
    if isinstance(store, S3Store):  # removed by exact version: no version and no delete marker remains
        raw = boto3.client("s3", endpoint_url=s3_endpoint)
        listing = raw.list_object_versions(Bucket=store.bucket, Prefix=store.prefix)
        assert listing.get("Versions", []) == [] and listing.get("DeleteMarkers", []) == []


# ------------------------------------------------------------------ the Store interface itself


def test_store_interface_same_answers_on_both_backends(store):
    from labelguard.tasks.storage import sha256_hex

    assert store.list() == [] and store.head("a") is None
    info = store.put("a", b"12345")
    assert (info.key, info.size, info.sha256) == ("a", 5, sha256_hex(b"12345"))
    nested = store.put("sub/b.bin", b"xy")
    assert nested.size == 2
    head = store.head("a")
    assert (head.key, head.size) == ("a", 5)
    assert store.list() == ["a", "sub/b.bin"] and store.list(limit=1) == ["a"]
    with store.fetch("sub/b.bin") as (path, digest):
        assert path.read_bytes() == b"xy" and digest == sha256_hex(b"xy")
    assert store.child("sub").get("b.bin") == b"xy" and store.child("sub").list() == ["b.bin"]
    store.delete("a", version_id=head.version_id)
    assert store.head("a") is None and store.list() == ["sub/b.bin"]
    assert store.exists()


def test_ancestor_strips_exactly_the_part(store):
    part = store.child("holdout").child("p=1")
    assert part.ancestor("holdout/p=1").uri == store.uri
    assert part.ancestor("p=1").uri == store.child("holdout").uri
    assert part.ancestor("").uri == part.uri
    assert part.ancestor("other") is None and store.ancestor("holdout") is None


@pytest.mark.parametrize(
    "uri, kind, where",
    [
        ("s3://bucket/a/b/", "s3", ("bucket", "a/b")),
        ("s3://bucket", "s3", ("bucket", "")),
        ("file:///tmp/x/y", "local", "/tmp/x/y"),
        ("rel/dir", "local", "rel/dir"),
    ],
)
def test_open_store_parses_uris(uri, kind, where, s3_endpoint):
    store = open_store(uri)
    if kind == "s3":
        assert isinstance(store, S3Store) and (store.bucket, store.prefix) == where
        assert store.uri == (f"s3://{where[0]}/{where[1]}" if where[1] else f"s3://{where[0]}")
    else:
        assert isinstance(store, LocalStore) and str(store.root) == where


def test_store_uri_errors_word_for_word():
    from labelguard.errors import StoreError

    with pytest.raises(StoreError) as info:
        open_store("s3:///x")
    assert (info.value.problem, info.value.fix) == ("no bucket in 's3:///x'", "write it as s3://bucket/prefix")
    with pytest.raises(StoreError) as info:
        open_store("gs://b/x")
    assert (info.value.problem, info.value.fix) == ("unsupported URI scheme 'gs' in 'gs://b/x'", "use s3://bucket/prefix or a directory path")


@pytest.mark.parametrize("raw, ok", [("3", 3), ("1", 1), ("0", None), ("-2", None), ("many", None)])
def test_s3_attempt_budget_from_the_environment(raw, ok, monkeypatch):
    from labelguard.errors import StoreError
    from labelguard.tasks.storage import s3_max_attempts

    monkeypatch.setenv("LABELGUARD_S3_MAX_ATTEMPTS", raw)
    if ok is not None:
        assert s3_max_attempts() == ok
    else:
        with pytest.raises(StoreError) as info:
            s3_max_attempts()
        assert info.value.problem == f"LABELGUARD_S3_MAX_ATTEMPTS={raw!r} is not a positive whole number"
    monkeypatch.delenv("LABELGUARD_S3_MAX_ATTEMPTS")
    assert s3_max_attempts() == 5


def test_local_unwritable_root_word_for_word(tmp_path):
    from labelguard.errors import StoreError

    (tmp_path / "f").write_text("x")
    with pytest.raises(StoreError) as info:
        LocalStore(tmp_path / "f" / "ds").ensure_writable()
    assert info.value.problem.startswith(f"cannot write to {tmp_path / 'f' / 'ds'}: ") and info.value.fix == "choose a writable destination directory"
    LocalStore(tmp_path / "new" / "deep").ensure_writable()
    assert LocalStore(tmp_path / "new" / "deep").list() == []  # the write probe leaves nothing behind
