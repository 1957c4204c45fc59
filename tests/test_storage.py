import os

import boto3
import pytest

from labelguard.errors import DatasetExists, StoreError, StoreUnreachable
from labelguard.tasks.storage import LocalStore, S3Store, open_store, sha256_hex


def test_local_put_is_create_only_and_leaves_no_temp_files(tmp_path):
    store = LocalStore(tmp_path / "ds")
    info = store.put("a.bin", b"first")
    assert info.sha256 == sha256_hex(b"first") and info.size == 5
    with pytest.raises(DatasetExists):
        store.put("a.bin", b"second")
    assert store.get("a.bin") == b"first"
    assert sorted(os.listdir(tmp_path / "ds")) == ["a.bin"]
    store.put("a.bin", b"attacker", create_only=False)
    assert store.get("a.bin") == b"attacker"


def test_local_unwritable_destination(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StoreError, match="cannot write"):
        LocalStore(blocker / "sub").ensure_writable()


def test_s3_over_http_versioned_create_only(s3_uri, s3_endpoint):
    store = open_store(s3_uri)
    assert isinstance(store, S3Store)
    store.ensure_writable()
    first = store.put("obj", b"one")
    assert first.version_id and first.sha256 == sha256_hex(b"one")
    with pytest.raises(DatasetExists):
        store.put("obj", b"two")
    assert store.get("obj") == b"one"
    second = store.put("obj", b"two", create_only=False)
    assert second.version_id != first.version_id
    assert store.head("obj").version_id == second.version_id
    assert store.get("obj", version_id=first.version_id) == b"one"
    # The bucket really lives on the HTTP server: an independent client sees it.
    raw = boto3.client("s3", endpoint_url=s3_endpoint)
    versioning = raw.get_bucket_versioning(Bucket=store.bucket)
    assert versioning["Status"] == "Enabled"
    assert store.head("missing") is None


def test_unreachable_endpoint_is_one_line_error(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "y")
    store = S3Store("labelguard-test", "p", endpoint_url="http://127.0.0.1:9")
    with pytest.raises(StoreUnreachable, match="cannot reach"):
        store.head("x")


def test_missing_credentials(monkeypatch, tmp_path):
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with pytest.raises(StoreError, match="no AWS credentials"):
        open_store("s3://labelguard-test/x", endpoint_url="http://127.0.0.1:9")


@pytest.mark.parametrize("uri", ["s3:///nobucket", "gs://bucket/x"])
def test_bad_uris(uri):
    with pytest.raises(StoreError):
        open_store(uri)
