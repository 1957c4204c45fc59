"""S3 behaviour only a real S3 API shows (moto server over HTTP): listings past one page of 1,000
keys, a bucket made outside us-east-1, and a forged multi-object manifest's version pins.

Written against the three gaps that `make mutation` left in tasks/storage.py and tasks/tamper.py
(`S3Store.list` dropping the continuation token, `S3Store.ensure_writable` dropping the
LocationConstraint, `tamper` dropping the version ids of the objects it did not rewrite).
"""

from __future__ import annotations

import io
import itertools
import json

import boto3
import pandas as pd

from labelguard.tasks.dataset import MANIFEST_KEY, load_verified, seal_dataset, to_parquet_bytes
from labelguard.tasks.manifest import ColumnSpec, load_signing_key, load_verify_key
from labelguard.tasks.storage import S3Store, open_store
from labelguard.tasks.synthetic import make_reviews
from labelguard.tasks.tamper import tamper

_bucket = itertools.count()


def _raw(endpoint: str, region: str = "us-east-1"):
    return boto3.client("s3", endpoint_url=endpoint, region_name=region)


def test_listing_follows_the_continuation_token_past_1000_keys(s3_uri, s3_endpoint):
    """S3 answers at most 1,000 keys a page: a store of 1,234 objects lists all 1,234, in key order."""
    from moto.backends import get_backend
    from moto.core import DEFAULT_ACCOUNT_ID

    store = open_store(s3_uri)
    store.ensure_writable()
    keys = [f"part-{i:05d}.bin" for i in range(1234)]
    # The objects are seeded straight into the embedded server's backend (it runs in this process):
    # 1,234 puts over HTTP take 10-30 s here. The listing under test goes over HTTP, page by page.
    backend = get_backend("s3")[DEFAULT_ACCOUNT_ID]["global"]
    for k in keys[:-1]:
        backend.put_object(store.bucket, f"{store.prefix}/{k}", b"x")
    store.put(keys[-1], b"x")
    # a neighbouring prefix sharing the name's start is not part of this store
    _raw(s3_endpoint).put_object(Bucket=store.bucket, Key=f"{store.prefix}-other/part-00000.bin", Body=b"y")
    assert store.list() == keys
    assert store.list(limit=1001) == keys[:1001]
    assert store.list(limit=1000) == keys[:1000]
    assert store.list(limit=1500) == keys
    assert store.child("none").list() == []


def test_bucket_outside_us_east_1_is_created_in_its_region(s3_endpoint, monkeypatch):
    """A client in eu-west-1 must send the LocationConstraint; without it S3 refuses the bucket."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    name = f"labelguard-eu-{next(_bucket):03d}"
    store = open_store(f"s3://{name}/ds")
    assert isinstance(store, S3Store) and store.client.meta.region_name == "eu-west-1"
    assert not store.exists()
    store.ensure_writable()
    raw = _raw(s3_endpoint, "eu-west-1")
    assert raw.get_bucket_location(Bucket=name)["LocationConstraint"] == "eu-west-1"
    assert raw.get_bucket_versioning(Bucket=name)["Status"] == "Enabled"
    info = store.put("a.bin", b"abc")
    assert info.version_id and store.get("a.bin") == b"abc" and store.list() == ["a.bin"]
    store.ensure_writable()  # a second ingest into the same bucket finds it there


def test_bucket_in_us_east_1_is_created_without_a_location_constraint(s3_endpoint, monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_REGION", raising=False)
    name = f"labelguard-use-{next(_bucket):03d}"
    store = open_store(f"s3://{name}/ds")
    store.ensure_writable()
    assert _raw(s3_endpoint).get_bucket_location(Bucket=name)["LocationConstraint"] is None


# ---------------------------------------------------------------- a forged manifest of several S3 objects


def _three_part_s3_lake(s3_uri, keys):
    """Parts of 300, 20 and 20 rows; only part-1's rows have polarity above 50."""
    store = open_store(s3_uri)
    store.ensure_writable()
    frame = make_reviews(340, seed=21)
    frame.loc[300:319, "polarity"] = 100.0
    for i, (lo, hi) in enumerate(((0, 300), (300, 320), (320, 340))):
        store.put(f"part-{i}.parquet", to_parquet_bytes(frame.iloc[lo:hi].reset_index(drop=True)))
    seal_dataset(store, load_signing_key(keys[0]), spec=ColumnSpec(), keys=[f"part-{i}.parquet" for i in range(3)])
    return store, frame


def _manifest(store):
    return json.loads(store.get("_" + MANIFEST_KEY))


def test_forged_s3_manifest_keeps_the_version_pins_of_objects_it_did_not_rewrite(s3_uri, tmp_path, keys, other_keys):
    store, frame = _three_part_s3_lake(s3_uri, keys)
    old = _manifest(store)
    before = {o["key"]: o for o in old["payload"]["objects"]}
    assert all(o["version_id"] for o in before.values())  # the seal pinned every object's version
    tamper(s3_uri, attack="subset", rate=0.02, seed=3, truth_out=tmp_path / "t.json",
           resign_key=load_signing_key(other_keys[0]), options={"where": "polarity > 50"})
    flipped = {f["id"] for f in json.loads((tmp_path / "t.json").read_text())["flipped"]}
    assert len(flipped) == 7 and flipped <= set(frame["review_id"].iloc[300:320])
    forged = {o["key"]: o for o in _manifest(store)["payload"]["objects"]}
    # untouched objects: the forged entry is the sealed one, version pin included
    assert forged["part-0.parquet"] == before["part-0.parquet"] and forged["part-2.parquet"] == before["part-2.parquet"]
    assert store.head("part-0.parquet").version_id == before["part-0.parquet"]["version_id"]
    # the rewritten object: pinned at the version the attacker's write made
    assert forged["part-1.parquet"]["version_id"] == store.head("part-1.parquet").version_id != before["part-1.parquet"]["version_id"]
    rep = load_verified(store, load_verify_key(other_keys[1]))
    # every object matches the forged manifest; only the sidecar's own signature is still the real key's
    assert rep.code == "unknown-key" and rep.suspect_ids == [] and len(rep.frame) == 340
    assert rep.detail.startswith("row sidecar signature _rows.sig.json is signed by key ")
    # the pins still mean something: the same bytes written again to an untouched part are a version swap
    store.put("part-2.parquet", store.get("part-2.parquet"), create_only=False)
    rep = load_verified(store, load_verify_key(other_keys[1]))
    assert rep.code == "version-swapped"
    assert rep.detail.startswith(f"part-2.parquet: same bytes, but object version is {store.head('part-2.parquet').version_id}, "
                                 f"manifest pins {before['part-2.parquet']['version_id']}")


def test_forged_s3_manifest_without_resigning_keeps_pins_and_the_old_signature(s3_uri, tmp_path, keys):
    store, frame = _three_part_s3_lake(s3_uri, keys)
    old = _manifest(store)
    tamper(s3_uri, attack="subset", rate=0.02, seed=5, truth_out=tmp_path / "t.json", forge_manifest=True, options={"where": "polarity > 50"})
    new = _manifest(store)
    assert (new["signature"], new["key_id"]) == (old["signature"], old["key_id"])
    versions = {o["key"]: o["version_id"] for o in new["payload"]["objects"]}
    assert versions == {k: store.head(k).version_id for k in ("part-0.parquet", "part-1.parquet", "part-2.parquet")}
    assert [versions[k] == o["version_id"] for k, o in ((o["key"], o) for o in old["payload"]["objects"])] == [True, False, True]
    rep = load_verified(store, load_verify_key(keys[1]))
    assert rep.code == "bad-signature"
    flipped = {f["id"] for f in json.loads((tmp_path / "t.json").read_text())["flipped"]}
    assert sorted(rep.suspect_ids) == sorted(flipped)
    assert pd.read_parquet(io.BytesIO(store.get("part-0.parquet")))["label"].tolist() == frame["label"].iloc[:300].tolist()
