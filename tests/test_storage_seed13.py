"""Storage behaviour that the fresh seed-13 mutation sample of tasks/storage.py (issue 13, sixth
session) found untested: the endpoint-without-scheme and no-credentials lines, a plain HTTP 500 read
as an endpoint that keeps failing whatever its code, and the SHA-256 checksum sent with every write."""

from __future__ import annotations

import base64
import hashlib
import uuid

import pytest

from labelguard.errors import StoreError
from labelguard.tasks.storage import MAX_ATTEMPTS_ENV, S3Store, open_store


def test_an_endpoint_without_a_scheme_is_refused_naming_it(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    with pytest.raises(StoreError) as err:
        open_store("s3://labelguard-x/p", endpoint_url="localhost:9000")
    assert str(err.value) == "S3 endpoint 'localhost:9000' has no http:// or https:// scheme (fix: write it as http://localhost:9000 (or https://))"


def test_no_credentials_anywhere_is_one_line(monkeypatch, tmp_path):
    from tests.test_storage_full import _no_aws_settings

    _no_aws_settings(monkeypatch, tmp_path)
    with pytest.raises(StoreError) as err:
        open_store("s3://labelguard-x/p", endpoint_url="http://127.0.0.1:9")
    assert str(err.value) == "no AWS credentials found (fix: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE)"


def test_a_plain_500_with_an_unknown_code_is_an_endpoint_that_keeps_failing(monkeypatch):
    from botocore.stub import Stubber

    from labelguard.errors import StoreUnreachable

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.setenv(MAX_ATTEMPTS_ENV, "1")
    store = S3Store("b", "p", endpoint_url="http://127.0.0.1:9")
    with Stubber(store.client) as stub:
        stub.add_client_error("head_object", service_error_code="WeirdError", http_status_code=500)
        with pytest.raises(StoreUnreachable) as err:
            store._call("head_object", Bucket="b", Key="p/k")
    assert str(err.value) == f"the S3 endpoint http://127.0.0.1:9 kept failing (500 WeirdError) (after 1 attempts) (fix: check that it is up, or raise {MAX_ATTEMPTS_ENV})"


def test_every_write_sends_its_sha256_for_the_server_to_keep(s3_endpoint):
    """S3 checks the bytes against ``x-amz-checksum-sha256`` and keeps it (moto neither checks nor
    returns it, so the test reads the header the client sends)."""
    bucket = f"lg-sum-{uuid.uuid4().hex[:10]}"
    store = open_store(f"s3://{bucket}/p", endpoint_url=s3_endpoint)
    store.ensure_writable()
    sent = []
    store.client.meta.events.register("before-send.s3.PutObject", lambda request, **_: sent.append(request.headers.get("x-amz-checksum-sha256")))
    data = b"labelguard seed 13"
    store.put("k.bin", data)
    assert sent == [base64.b64encode(hashlib.sha256(data).digest())]
