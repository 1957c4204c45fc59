"""S3 faults survived, nothing half-written: a fault-injecting layer in front of a real moto server."""

from __future__ import annotations

import itertools
import threading

import pytest
from typer.testing import CliRunner

from labelguard.cli import app
from labelguard.errors import DatasetExists, StoreUnreachable
from labelguard.tasks.dataset import load_verified, write_dataset
from labelguard.tasks.manifest import ColumnSpec, load_signing_key, load_verify_key
from labelguard.tasks.storage import S3Store, open_store
from labelguard.tasks.synthetic import make_reviews

runner = CliRunner()
_n = itertools.count()


@pytest.fixture
def fresh(faulty, monkeypatch):
    server, endpoint = faulty
    server.clear()
    monkeypatch.setenv("LABELGUARD_S3_MAX_ATTEMPTS", "4")
    return server, endpoint, f"s3://labelguard-faults/ds-{next(_n):03d}"


def _objects(endpoint: str, uri: str) -> list[str]:
    bucket, _, prefix = uri.removeprefix("s3://").partition("/")
    store = S3Store(bucket, prefix, endpoint_url=endpoint)
    return store.list() if store.exists() else []


def _ingest(uri, endpoint, keys, *extra):
    return runner.invoke(app, ["ingest", "--dest", uri, "--rows", "400", "--signing-key", str(keys[0]), "--ledger", "none", "--endpoint-url", endpoint, *extra])


def _verify(uri, endpoint, keys):
    return runner.invoke(app, ["verify", uri, "--guards", "manifest", "--verify-key", str(keys[1]), "--ledger", "none", "--endpoint-url", endpoint])


@pytest.mark.flow
@pytest.mark.parametrize(
    "method, path, action",
    [
        ("PUT", "/data.parquet", "503"),
        ("PUT", "/manifest.json", "slowdown"),
        ("PUT", "/rows.parquet", "500"),
        ("PUT", "/data.parquet", "drop-request"),  # connection drops mid-upload
        ("PUT", "holdout/data.parquet", "drop-response"),  # stored, but the client never heard: the retry meets its own object
    ],
)
def test_ingest_survives_transient_faults(fresh, keys, prefect_harness, method, path, action):
    server, endpoint, uri = fresh
    rule = server.fail(method, path, action, times=1)
    res = _ingest(uri, endpoint, keys)
    assert res.exit_code == 0, res.output
    assert rule.hits == 1
    server.clear()
    ok = _verify(uri, endpoint, keys)
    assert ok.exit_code == 0, ok.output
    assert sorted(_objects(endpoint, uri)) == sorted(
        ["data.parquet", "rows.parquet", "rows.sig.json", "manifest.json", "holdout/data.parquet", "holdout/rows.parquet", "holdout/rows.sig.json", "holdout/manifest.json"]
    )


@pytest.mark.flow
@pytest.mark.parametrize("path", ["holdout/data.parquet", "holdout/manifest.json", "/rows.sig.json", "ds-", ])
def test_ingest_that_keeps_failing_exits_2_and_leaves_nothing(fresh, keys, prefect_harness, path):
    server, endpoint, uri = fresh
    if path == "ds-":  # the root manifest, after the whole holdout and the root data were written
        path = uri.rsplit("/", 1)[1] + "/manifest.json"
    server.fail("PUT", path, "503", times=100)
    res = _ingest(uri, endpoint, keys)
    assert res.exit_code == 2, res.output
    assert res.stderr.strip().splitlines()[-1].startswith("error: the S3 endpoint")
    assert "kept failing (503" in res.stderr
    server.clear()
    assert _objects(endpoint, uri) == []


def test_verify_never_reads_a_fault_as_tampering(fresh, keys):
    server, endpoint, uri = fresh
    store = open_store(uri, endpoint_url=endpoint)
    store.ensure_writable()
    write_dataset(store, make_reviews(300, seed=3), ColumnSpec(), load_signing_key(keys[0]), source={})
    server.fail("GET", "/data.parquet", "truncate-response", times=1)  # a body cut short: retried
    assert _verify(uri, endpoint, keys).exit_code == 0
    server.fail("GET", "/data.parquet", "truncate-response", times=100)
    res = _verify(uri, endpoint, keys)
    assert res.exit_code == 2 and "cut the download of data.parquet short" in res.stderr
    assert "digest-mismatch" not in res.output
    server.clear()
    server.fail("GET", "/data.parquet", "503", times=100)
    res = _verify(uri, endpoint, keys)
    assert res.exit_code == 2 and "kept failing (503 ServiceUnavailable)" in res.stderr
    server.clear()
    assert _verify(uri, endpoint, keys).exit_code == 0


def test_concurrent_writers_exactly_one_wins(fresh, keys):
    _, endpoint, uri = fresh
    open_store(uri, endpoint_url=endpoint).ensure_writable()
    barrier = threading.Barrier(2)
    outcomes: list = [None, None]
    frames = [make_reviews(500, seed=1), make_reviews(500, seed=2)]

    def writer(i):
        store = open_store(uri, endpoint_url=endpoint)
        barrier.wait()
        try:
            outcomes[i] = write_dataset(store, frames[i], ColumnSpec(), load_signing_key(keys[0]), source={"writer": i})
        except DatasetExists as exc:
            outcomes[i] = exc

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    won = [o for o in outcomes if not isinstance(o, DatasetExists)]
    assert len(won) == 1, outcomes
    rep = load_verified(open_store(uri, endpoint_url=endpoint), load_verify_key(keys[1]))
    assert rep.ok and rep.manifest.payload["source"] == won[0].payload["source"]


def test_retry_budget_is_configurable(fresh, keys, monkeypatch):
    server, endpoint, uri = fresh
    monkeypatch.setenv("LABELGUARD_S3_MAX_ATTEMPTS", "2")
    store = open_store(uri, endpoint_url=endpoint)
    store.ensure_writable()
    server.fail("PUT", "/obj", "503", times=100)
    with pytest.raises(StoreUnreachable, match=r"after 2 attempts"):
        store.put("obj", b"x")
    assert sum(1 for m, p in server.log if m == "PUT" and p.endswith("/obj")) == 2
    monkeypatch.setenv("LABELGUARD_S3_MAX_ATTEMPTS", "zero")
    res = _verify(uri, endpoint, keys)
    assert res.exit_code == 2 and "LABELGUARD_S3_MAX_ATTEMPTS='zero' is not a positive whole number" in res.stderr
