"""Storage behaviour that the fresh seed-12 mutation sample of tasks/storage.py (issue 13, fifth
session) found untested: the lines for half-set credentials and a bad bucket name, a missing bucket
answered ``NotFound`` on a listing, a bucket another ingest created first, and the writability
probe of a local destination being a hidden file."""

from __future__ import annotations

import os

import pytest

from labelguard.errors import DatasetMissing, StoreError
from labelguard.tasks.storage import LocalStore, S3Store, open_store


def test_half_set_credentials_name_the_missing_variable(monkeypatch, tmp_path):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY", raising=False)
    for var in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    with pytest.raises(StoreError) as err:
        open_store("s3://bucket/prefix", endpoint_url="http://127.0.0.1:9")
    assert str(err.value) == "partial AWS credentials in env: AWS_SECRET_ACCESS_KEY is missing (fix: set AWS_SECRET_ACCESS_KEY too, or neither)"


def test_a_bad_bucket_name_says_what_a_bucket_name_is():
    with pytest.raises(StoreError) as err:
        open_store("s3://Bad_Bucket/prefix")
    assert str(err.value) == ("'Bad_Bucket' in 's3://Bad_Bucket/prefix' is not a valid S3 bucket name (fix: bucket names are 3-63 "
                              "characters: lowercase letters, digits, dots and hyphens, starting and ending with a letter or digit)")


# NoSuchKey/NoSuchVersion too: a listing names no object, so any not-found answer to it is about the bucket (full storage run)
@pytest.mark.parametrize("code", ["404", "NotFound", "NoSuchBucket", "NoSuchKey", "NoSuchVersion"])
def test_a_listing_answered_not_found_is_a_missing_bucket(code, monkeypatch):
    """A request without a key that comes back not found is about the bucket: no object is named
    (some S3-compatible stores answer ``NotFound``; botocore's Stubber plays the server)."""
    from botocore.stub import Stubber

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    store = S3Store("b", "p", endpoint_url="http://127.0.0.1:9")
    with Stubber(store.client) as stub:
        stub.add_client_error("list_objects_v2", service_error_code=code, http_status_code=404)
        with pytest.raises(DatasetMissing) as err:
            store.list()
    assert str(err.value) == ("no dataset at s3://b/p: bucket 'b' does not exist on the S3 endpoint http://127.0.0.1:9 (fix: check the URI and the endpoint "
                              "(--endpoint-url, else AWS_ENDPOINT_URL_S3, else AWS_ENDPOINT_URL, else AWS), or ingest a dataset there first)")


def test_a_bucket_another_ingest_created_first_is_used_not_refused(monkeypatch):
    """Between this ingest's look for the bucket and its create, another made it: S3 answers
    ``BucketAlreadyOwnedByYou`` (outside us-east-1; moto does not, so botocore's Stubber plays the
    server), which means the bucket is there and ours. Someone else's bucket is refused."""
    from botocore.stub import Stubber

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    store = S3Store("b", "p", endpoint_url="http://127.0.0.1:9")
    monkeypatch.setattr(store, "exists", lambda: False)  # it looked before the other ingest created the bucket
    with Stubber(store.client) as stub:
        stub.add_client_error("create_bucket", service_error_code="BucketAlreadyOwnedByYou", http_status_code=409)
        stub.add_response("put_bucket_versioning", {}, {"Bucket": "b", "VersioningConfiguration": {"Status": "Enabled"}})
        store.ensure_writable()
        stub.assert_no_pending_responses()  # versioning was still switched on
        stub.add_client_error("create_bucket", service_error_code="BucketAlreadyExists", http_status_code=409)
        with pytest.raises(StoreError) as err:
            store.ensure_writable()
    assert str(err.value) == "S3 create_bucket on s3://b/p failed: BucketAlreadyExists (fix: check the endpoint and bucket)"


def test_the_writability_probe_of_a_local_destination_is_a_hidden_file(tmp_path, monkeypatch):
    """The probe lives for an instant, but a listing then (or after a crash) must show no visible stray file."""
    made = []
    real_open = os.open

    def spy(path, *args, **kwargs):  # tempfile creates the probe with os.open
        made.append(os.path.basename(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", spy)
    LocalStore(tmp_path / "dest").ensure_writable()
    assert len(made) == 1 and made[0].startswith(".lg-probe-")
    assert list((tmp_path / "dest").iterdir()) == []


def test_an_unknown_aws_profile_is_named(monkeypatch, tmp_path):
    """Seed 11's sample, the part it never reached: ``AWS_PROFILE`` naming a profile the config files lack."""
    monkeypatch.setenv("AWS_PROFILE", "lg-no-such-profile")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    with pytest.raises(StoreError) as err:
        open_store("s3://bucket/prefix", endpoint_url="http://127.0.0.1:9")
    assert str(err.value) == ("AWS profile 'lg-no-such-profile' (AWS_PROFILE) is not in the AWS config files "
                              "(fix: name an existing profile, or unset AWS_PROFILE)")


def test_the_s3_client_waits_3_s_to_connect_and_60_s_for_a_reply(monkeypatch):
    """A slow store is not a dead one: a read may take a minute (a large object, a busy server) before
    it counts as dropped; a connection that cannot be made in 3 s is an unreachable endpoint."""
    from labelguard.tasks.storage import s3_max_attempts

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    config = S3Store("b", "p", endpoint_url="http://127.0.0.1:9").client.meta.config
    assert (config.connect_timeout, config.read_timeout) == (3, 60)
    assert config.retries == {"total_max_attempts": s3_max_attempts(), "mode": "standard"}
