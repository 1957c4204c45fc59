"""Every S3 answer turned into one labelguard error, word for word, and the local store's edges.

Plain store calls against the moto server (and the fault-injecting layer of tests/faults.py in
front of the same backend), no Prefect: these are the fast tests `make mutation` runs on
tasks/storage.py. A typo must never read as tampering, and an outage never as a missing dataset.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import stat

import pytest

from labelguard.errors import DatasetExists, DatasetMissing, StoreError, StoreUnreachable
from labelguard.tasks.storage import EMBEDDED_CREDENTIALS, LocalStore, S3Store, embedded_s3, open_store

_n = itertools.count()


def _err(exc_info) -> tuple[str, str]:
    return exc_info.value.problem, exc_info.value.fix


def test_s3_missing_object_bucket_and_create_only_conflict_word_for_word(faulty_store):
    _, endpoint, store = faulty_store
    with pytest.raises(DatasetMissing) as err:
        store.get("nope.bin")
    assert _err(err) == (f"no object '{store.prefix}/nope.bin' in bucket labelguard-words", "check the URI")
    store.put("obj", b"one")
    with pytest.raises(DatasetExists) as err:
        store.put("obj", b"two")
    assert type(err.value) is DatasetExists
    assert _err(err) == (f"s3://labelguard-words/{store.prefix}/obj already exists; writes are create-only", "choose a new destination prefix")
    gone = S3Store("labelguard-no-such-bucket", "p", endpoint_url=endpoint)
    assert gone.exists() is False
    with pytest.raises(DatasetMissing) as err:
        gone.get("x")
    assert _err(err) == (f"no dataset at s3://labelguard-no-such-bucket/p: bucket 'labelguard-no-such-bucket' does not exist on the S3 endpoint {endpoint}",
                         "check the URI and the endpoint (--endpoint-url, else AWS_ENDPOINT_URL_S3, else AWS_ENDPOINT_URL, else AWS), "
                         "or ingest a dataset there first")
    assert store.head("nope.bin") is None
    with pytest.raises(DatasetMissing):
        store.get("obj", version_id="not-a-version")


@pytest.mark.parametrize("action, status_code", [("503", "503 ServiceUnavailable"), ("500", "500 InternalError"), ("slowdown", "503 SlowDown")])
def test_s3_that_keeps_failing_is_unreachable_after_the_budget(faulty_store, action, status_code):
    server, endpoint, store = faulty_store
    server.fail("GET", "/obj", action, times=100)
    store.put("obj", b"x")
    with pytest.raises(StoreUnreachable) as err:
        store.get("obj")
    assert _err(err) == (f"the S3 endpoint {endpoint} kept failing ({status_code}) (after 2 attempts)", "check that it is up, or raise LABELGUARD_S3_MAX_ATTEMPTS")
    assert sum(1 for m, p in server.log if m == "GET" and p.endswith("/obj")) == 2


def test_s3_fault_once_is_retried_and_the_bytes_come_back_whole(faulty_store):
    server, _, store = faulty_store
    store.put("obj", b"0123456789" * 1000)
    server.fail("GET", "/obj", "truncate-response", times=1)
    with store.fetch("obj") as (path, digest):
        assert path.read_bytes() == b"0123456789" * 1000
        assert digest == hashlib.sha256(b"0123456789" * 1000).hexdigest() and path.suffix == ""
    server.fail("GET", "/obj", "truncate-response", times=100)
    with pytest.raises(StoreUnreachable) as err:
        store.get("obj")
    assert err.value.problem.endswith("cut the download of obj short (after 2 attempts)")


def test_s3_connection_dropped_and_endpoint_down_word_for_word(faulty_store, monkeypatch):
    server, endpoint, store = faulty_store
    server.fail("PUT", "/dropped", "drop-request", times=100)
    with pytest.raises(StoreUnreachable) as err:
        store.put("dropped", b"y" * 10000)
    assert _err(err) == (f"the S3 endpoint {endpoint} dropped the connection (after 2 attempts)", "check that it is up, or raise LABELGUARD_S3_MAX_ATTEMPTS")
    down = S3Store("labelguard-words", "p", endpoint_url="http://127.0.0.1:9")
    with pytest.raises(StoreUnreachable) as err:
        down.head("x")
    assert _err(err) == ("cannot reach the S3 endpoint http://127.0.0.1:9", "start it, or point AWS_ENDPOINT_URL_S3 at a running endpoint")


def test_s3_retried_create_that_landed_returns_its_own_object(faulty_store):
    server, _, store = faulty_store
    server.fail("PUT", "/landed", "drop-response", times=1)  # stored; the client never heard and retries
    info = store.put("landed", b"mine")
    head = store.head("landed")
    assert (info.key, info.size, info.version_id, info.write_id) == ("landed", 4, head.version_id, head.write_id)
    assert store.get("landed") == b"mine"
    with pytest.raises(DatasetExists):  # someone else's object with the same key is still a conflict
        store.put("landed", b"other")


def test_s3_exact_delete_and_uri_forms(faulty_store):
    _, endpoint, store = faulty_store
    first = store.put("v", b"1")
    second = store.put("v", b"2", create_only=False)
    store.delete("v", version_id=second.version_id)
    assert store.get("v") == b"1" and store.head("v").version_id == first.version_id
    root = S3Store("labelguard-words", "", endpoint_url=endpoint)
    assert root.uri == "s3://labelguard-words" and root._key("k") == "k" and store.child("a").uri == f"{store.uri}/a"
    assert store.child("a").child("b").ancestor("a/b/").uri == store.uri


def test_local_store_edges(tmp_path):
    old = os.umask(0o027)
    try:
        store = LocalStore(tmp_path / "s")
        store.put("a/b.bin", b"abc")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "s" / "a" / "b.bin").stat().st_mode) == 0o640  # the umask's mode, not mkstemp's 0600
    with pytest.raises(DatasetMissing) as err:
        store.get("nope")
    assert _err(err) == (f"no object 'nope' under {tmp_path / 's'}", "check the URI")
    with pytest.raises(DatasetMissing) as err:
        with store.fetch("nope"):
            pass
    assert _err(err) == (f"no object 'nope' under {tmp_path / 's'}", "check the URI")
    with store.fetch("a/b.bin") as (path, digest):
        assert path == tmp_path / "s" / "a" / "b.bin" and digest == hashlib.sha256(b"abc").hexdigest()
    head = store.head("a/b.bin")
    assert (head.key, head.size, head.version_id, head.sha256) == ("a/b.bin", 3, None, None)
    assert store.head("a") is None  # a folder is not an object
    (tmp_path / "s" / ".lg-probe-x").write_bytes(b"")
    store.put("c.bin", b"c")
    assert store.list() == ["a/b.bin", "c.bin"] and store.list(limit=1) == ["a/b.bin"]
    store.delete("gone")  # deleting nothing is fine
    store.ensure_writable()
    assert [p.name for p in (tmp_path / "s").iterdir() if p.name.startswith(".lg-probe-") and p.name != ".lg-probe-x"] == []
    assert LocalStore(tmp_path / "none").list() == [] and not LocalStore(tmp_path / "none").exists()
    assert LocalStore(tmp_path / "x").ancestor("x").uri == str(tmp_path) and LocalStore("x").ancestor("x").uri == "."
    assert open_store(f"file://{tmp_path}/s").uri == str(tmp_path / "s")


def test_local_unwritable_put_leaves_no_temp_file(tmp_path):
    store = LocalStore(tmp_path / "s")
    store.put("k", b"1")
    with pytest.raises(DatasetExists):
        store.put("k", b"2")
    store.put("k", b"3", create_only=False)
    assert store.get("k") == b"3" and sorted(os.listdir(tmp_path / "s")) == ["k"]


def test_embedded_server_sets_and_restores_the_environment(monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "http://elsewhere:1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "mine")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY", raising=False)
    with embedded_s3() as endpoint:
        assert os.environ["AWS_ENDPOINT_URL_S3"] == endpoint and endpoint.startswith("http://127.0.0.1:")
        assert {k: os.environ[k] for k in EMBEDDED_CREDENTIALS} == EMBEDDED_CREDENTIALS
        store = open_store(f"s3://labelguard-embedded/p-{os.getpid()}-{next(_n)}")  # the backend outlives a test run in one process
        store.ensure_writable()
        assert store.put("k", b"v").version_id
    assert os.environ["AWS_ENDPOINT_URL_S3"] == "http://elsewhere:1" and os.environ["AWS_ACCESS_KEY_ID"] == "mine"
    assert "AWS_SECRET_ACCESS_KEY" not in os.environ


def test_store_error_wording_for_bad_uris():
    with pytest.raises(StoreError) as err:
        open_store("s3://ab/x")
    assert err.value.problem == "'ab' in 's3://ab/x' is not a valid S3 bucket name"
    with pytest.raises(StoreError) as err:
        open_store("s3://a..b/x")
    assert err.value.problem == "'a..b' in 's3://a..b/x' is not a valid S3 bucket name"
