"""Storage behaviour that the first full mutation run of tasks/storage.py (issue 13, seventh session:
every one of its mutants, not a sample) found untested: object modes under the common umask, a
destination where no file can be made, stores derived from a store keeping its client and endpoint,
an ancestor whose remaining prefix ends in the trimmed characters, a plain S3 delete, and a listing
that stops asking once it holds its limit."""

from __future__ import annotations

import os
import stat
import uuid

import pytest

from labelguard.errors import DatasetMissing, StoreError
from labelguard.tasks.storage import LocalStore, S3Store, open_store


def test_a_local_object_under_the_common_umask_022_is_0644(tmp_path):
    """Readable by everyone, writable by its owner, executable by nobody: 0o666 less the umask."""
    old = os.umask(0o022)
    try:
        LocalStore(tmp_path / "s").put("a.bin", b"a")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "s" / "a.bin").stat().st_mode) == 0o644


def test_a_destination_where_no_file_can_be_made_is_refused_by_its_probe():
    """/proc exists (so the folder check passes) but takes no regular file, not even from root: the
    probe must be made in the destination itself, not in the system temp folder."""
    with pytest.raises(StoreError) as err:
        LocalStore("/proc").ensure_writable()
    assert str(err.value) == "cannot write to /proc: No such file or directory (fix: choose a writable destination directory)"


def test_children_and_ancestors_of_an_s3_store_keep_its_client_and_endpoint(monkeypatch, tmp_path):
    """A store opened with its own client (explicit credentials, none in the environment) hands the
    same client and endpoint to the stores derived from it: they never build another client from
    the environment, which here has no credentials at all."""
    import boto3

    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    client = boto3.session.Session(aws_access_key_id="k", aws_secret_access_key="s", region_name="us-east-1").client(
        "s3", endpoint_url="http://127.0.0.1:9")
    store = S3Store("b", "lake/region=MX", endpoint_url="http://127.0.0.1:9", client=client)
    child, up = store.child("day=1"), store.ancestor("region=MX")
    assert (child.uri, up.uri) == ("s3://b/lake/region=MX/day=1", "s3://b/lake")
    assert child.client is client and up.client is client and child.ancestor("region=MX/day=1").client is client
    assert (child.endpoint_url, up.endpoint_url) == ("http://127.0.0.1:9", "http://127.0.0.1:9")


def test_an_ancestor_keeps_the_last_letters_of_what_remains(monkeypatch):
    """Only the slash left between the remaining prefix and the part is trimmed: ``lake/X`` stays ``lake/X``."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")  # a client is made, no call is sent
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    assert S3Store("b", "lake/X/region=MX", endpoint_url="http://127.0.0.1:9").ancestor("region=MX").uri == "s3://b/lake/X"


def test_a_plain_s3_delete_hides_the_object_and_keeps_its_versions(s3_endpoint):
    """Without a version id the delete is S3's ordinary one: the key reads as missing, the versions stay."""
    store = open_store(f"s3://lg-del-{uuid.uuid4().hex[:10]}/p", endpoint_url=s3_endpoint)
    store.ensure_writable()
    first = store.put("k.bin", b"one")
    store.delete("k.bin")
    assert store.head("k.bin") is None and store.list() == []
    with pytest.raises(DatasetMissing):
        store.get("k.bin")
    assert store.get("k.bin", version_id=first.version_id) == b"one"


def test_a_listing_stops_asking_once_it_holds_its_limit(s3_endpoint):
    """Three keys, a limit of two: one request for two keys, no second request for none."""
    store = open_store(f"s3://lg-lim-{uuid.uuid4().hex[:10]}/p", endpoint_url=s3_endpoint)
    store.ensure_writable()
    for key in ("a", "b", "c"):
        store.put(key, b"x")
    asked = []
    store.client.meta.events.register("before-parameter-build.s3.ListObjectsV2", lambda params, **_: asked.append(params.get("MaxKeys")))
    assert store.list(limit=2) == ["a", "b"]
    assert asked == [2]
    assert store.list() == ["a", "b", "c"]  # pages of S3's largest, 1,000 keys
    assert asked == [2, 1000]


def test_a_page_marked_truncated_without_a_continuation_token_ends_the_listing(monkeypatch):
    """A store that says 'more' but gives no token to ask for it would have the listing re-read its
    first page forever: the keys it gave are the listing (botocore's Stubber plays the server)."""
    from botocore.stub import Stubber

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    store = S3Store("b", "p", endpoint_url="http://127.0.0.1:9")
    with Stubber(store.client) as stub:
        stub.add_response("list_objects_v2", {"IsTruncated": True, "Contents": [{"Key": "p/a.bin"}]},
                          {"Bucket": "b", "Prefix": "p/", "MaxKeys": 1000})
        assert store.list() == ["a.bin"]
        stub.assert_no_pending_responses()


def test_a_plain_folder_path_is_kept_whole_even_with_url_characters(tmp_path):
    """Only a ``file://`` URI is read as a URL; a plain path holding ``#`` or ``?`` names that folder."""
    for name in ("run#1", "what?"):
        assert open_store(str(tmp_path / name)).uri == str(tmp_path / name)
    assert open_store(f"file://{tmp_path}/run").uri == str(tmp_path / "run")


def test_an_error_answer_without_a_code_names_its_status_alone(monkeypatch):
    """An S3-compatible store (or a proxy) answering ``<Error><Message>busy</Message></Error>`` with
    a 503: botocore parses an Error without a Code, and the endpoint reads as one that keeps
    failing, named by its status (the answer is played at botocore's before-send hook, so the real
    parser reads it)."""
    from botocore.awsrequest import AWSResponse

    from labelguard.errors import StoreUnreachable
    from labelguard.tasks.storage import MAX_ATTEMPTS_ENV

    class Body:
        def stream(self, **_):
            yield b"<?xml version='1.0' encoding='UTF-8'?><Error><Message>busy</Message></Error>"

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.setenv(MAX_ATTEMPTS_ENV, "1")
    store = S3Store("b", "p", endpoint_url="http://127.0.0.1:9")
    store.client.meta.events.register("before-send.s3.HeadObject", lambda request, **_: AWSResponse(request.url, 503, {}, Body()))
    with pytest.raises(StoreUnreachable) as err:
        store.head("k")
    assert str(err.value) == f"the S3 endpoint http://127.0.0.1:9 kept failing (503) (after 1 attempts) (fix: check that it is up, or raise {MAX_ATTEMPTS_ENV})"


def test_a_conditional_write_that_lost_a_race_is_an_existing_object(monkeypatch):
    """S3 answers 409 ``ConditionalRequestConflict`` when another If-None-Match write of the same key
    is under way: the key is being created by someone else, so it is the create-only refusal, not a
    store failure (botocore's Stubber plays the server)."""
    from botocore.stub import Stubber

    from labelguard.errors import DatasetExists

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    store = S3Store("b", "p", endpoint_url="http://127.0.0.1:9")
    with Stubber(store.client) as stub:
        stub.add_client_error("put_object", service_error_code="ConditionalRequestConflict", http_status_code=409)
        with pytest.raises(DatasetExists) as err:
            store._call("put_object", Bucket="b", Key="p/part-0.parquet", Body=b"x", IfNoneMatch="*")
    assert str(err.value) == "s3://b/p/part-0.parquet already exists; writes are create-only (fix: choose a new destination prefix)"
