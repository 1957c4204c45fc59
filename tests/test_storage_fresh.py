"""Storage behaviour that the fresh seed-11 mutation sample of tasks/storage.py (issue 13, fourth
session) found untested: while a local write is under way, the bytes sit in a hidden temp file
next to the object (pyarrow and Hive-style readers skip dot-files), never under a visible name."""

from __future__ import annotations

import os

import pytest

from labelguard.tasks.storage import LocalStore


def test_a_local_write_in_progress_is_a_hidden_temp_file_named_after_the_object(tmp_path, monkeypatch):
    store = LocalStore(tmp_path / "ds")
    seen = []
    real_fsync = os.fsync

    def spy(fd):  # the moment the bytes are written but not yet linked into place
        seen.append(sorted(p.name for p in (tmp_path / "ds" / "part").iterdir()))
        return real_fsync(fd)

    monkeypatch.setattr(os, "fsync", spy)
    store.put("part/data.parquet", b"x" * 10)
    assert len(seen) == 1 and len(seen[0]) == 1 and seen[0][0].startswith(".data.parquet.")
    assert sorted(p.name for p in (tmp_path / "ds" / "part").iterdir()) == ["data.parquet"]


def test_the_ancestor_of_a_partition_whose_value_ends_in_x_is_the_lake(monkeypatch):
    """``region=MX``: only slashes are trimmed from a part, never letters of its value."""
    from labelguard.tasks.storage import S3Store

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")  # a client is made, no call is sent
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    lake = S3Store("b", "lake/region=MX", endpoint_url="http://127.0.0.1:9")  # no call is made
    assert lake.ancestor("region=MX").uri == "s3://b/lake" and lake.ancestor("/region=MX/").uri == "s3://b/lake"
    assert S3Store("b", "lake/X", endpoint_url="http://127.0.0.1:9").ancestor("X").uri == "s3://b/lake"
    assert lake.ancestor("region=M") is None


def test_a_bucket_root_store_lists_its_keys_whole(s3_endpoint):
    from labelguard.tasks.storage import open_store

    import uuid

    root = open_store(f"s3://lg-root-{uuid.uuid4().hex[:12]}", endpoint_url=s3_endpoint)  # a bucket of its own: the server outlives a run
    root.ensure_writable()  # creates the bucket
    root.put("a.parquet", b"a")
    root.put("day=1/b.parquet", b"b")
    assert root.list() == ["a.parquet", "day=1/b.parquet"]


@pytest.mark.parametrize("code", ["NoSuchKey", "404", "NotFound", "NoSuchVersion"])
def test_every_not_found_code_of_an_object_read_is_dataset_missing(code, monkeypatch):
    """S3-compatible stores answer a missing object with any of these codes (botocore's Stubber plays the server)."""
    from botocore.stub import Stubber

    from labelguard.errors import DatasetMissing
    from labelguard.tasks.storage import S3Store

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    store = S3Store("b", "p", endpoint_url="http://127.0.0.1:9")
    with Stubber(store.client) as stub:
        stub.add_client_error("head_object", service_error_code=code, http_status_code=404)
        with pytest.raises(DatasetMissing) as err:
            store._call("head_object", Bucket="b", Key="p/k")
    assert str(err.value) == "no object 'p/k' in bucket b (fix: check the URI)"
