"""Storage behaviour the seed-3 mutation sample of tasks/storage.py found untested: a local write
never depends on the system temp folder, and a retried S3 create that landed returns the same
record (digest included) as a first-time create."""

from __future__ import annotations

import hashlib
import tempfile

import pytest

from labelguard.errors import StoreError
from labelguard.tasks.storage import LocalStore, ObjectInfo, S3Store


def test_local_writes_stage_their_temp_file_beside_the_object(tmp_path, monkeypatch):
    """The temp file is linked (or renamed) into place, which works only on the same filesystem: it is
    made in the object's own folder, so an unusable system temp folder changes nothing."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "no-such-tmp"))
    store = LocalStore(tmp_path / "s")
    info = store.put("a/b.bin", b"abc")
    store.put("a/b.bin", b"abcd", create_only=False)
    assert info == ObjectInfo("a/b.bin", 3, hashlib.sha256(b"abc").hexdigest())
    assert (tmp_path / "s" / "a" / "b.bin").read_bytes() == b"abcd"
    assert sorted(p.name for p in (tmp_path / "s" / "a").iterdir()) == ["b.bin"]


def test_s3_retried_create_that_landed_returns_the_digest_of_its_bytes(faulty_store):
    server, _, store = faulty_store
    server.fail("PUT", "/landed", "drop-response", times=1)  # stored; the client never heard and retries
    info = store.put("landed", b"mine")
    head = store.head("landed")
    assert info == ObjectInfo("landed", 4, hashlib.sha256(b"mine").hexdigest(), head.version_id, head.write_id)
    assert head.write_id is not None and head.version_id is not None


def test_s3_calls_without_credentials_are_one_store_error(s3_endpoint, monkeypatch, tmp_path):
    """A client whose credential chain comes up empty at call time (not only at creation) is named with the fix."""
    import boto3

    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    client = boto3.session.Session().client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    store = S3Store("labelguard-words", "nocreds", client=client)
    with pytest.raises(StoreError) as err:
        store.head("x")
    assert str(err.value) == ("no AWS credentials for s3://labelguard-words/nocreds "
                              "(fix: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE)")


def test_an_unwritable_local_destination_says_why_in_the_systems_words(tmp_path):
    """The reason is the OS's own short text (strerror), not the exception's repr with errno and path."""
    (tmp_path / "f").write_text("x")
    with pytest.raises(StoreError) as err:
        LocalStore(tmp_path / "f" / "ds").ensure_writable()
    assert str(err.value) == f"cannot write to {tmp_path / 'f' / 'ds'}: Not a directory (fix: choose a writable destination directory)"


@pytest.mark.parametrize("code", ["AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch"])
def test_s3_refusals_of_the_credentials_are_access_denied(faulty_store, code):
    server, _, store = faulty_store
    server.fail("GET", "/obj", f"403 {code}")
    with pytest.raises(StoreError) as err:
        store.get("obj")
    assert str(err.value) == f"access denied to {store.uri} ({code}) (fix: check the credentials and bucket policy)"


@pytest.mark.parametrize("code", ["SlowDown", "Throttling"])
def test_s3_throttling_codes_are_unreachable_whatever_the_status(faulty_store, code):
    """Throttling is named by its code: an endpoint answering it with a 4xx status is still 'kept failing', not a store error."""
    from labelguard.errors import StoreUnreachable

    server, endpoint, store = faulty_store
    server.fail("GET", "/obj", f"400 {code}", times=5)
    with pytest.raises(StoreUnreachable) as err:
        store.get("obj")
    assert str(err.value) == (f"the S3 endpoint {endpoint} kept failing (400 {code}) (after 2 attempts) "
                              "(fix: check that it is up, or raise LABELGUARD_S3_MAX_ATTEMPTS)")
