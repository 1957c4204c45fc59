"""Dataset behaviour that the fresh seed-12 mutation sample of tasks/dataset.py (issue 13, fifth
session) found untested: the wrong-dataset line for a part copied elsewhere, re-sealing a part after
an approved change, localizing through the sidecar over two objects when the manifest is edited,
no version note when the pinned version is the one there (S3 with versioning suspended), and the
compression of the objects labelguard writes."""

from __future__ import annotations

import io
import json
import shutil
import uuid

import pandas as pd
import pyarrow.parquet as pq

from labelguard.tasks.dataset import MANIFEST_KEY, load_verified, seal_dataset, to_parquet_bytes, write_dataset
from labelguard.tasks.manifest import ColumnSpec, DatasetRef, load_signing_key, load_verify_key
from labelguard.tasks.storage import LocalStore, open_store
from labelguard.tasks.synthetic import make_reviews


def _holdout_part(tmp_path, keys):
    write_dataset(LocalStore(tmp_path / "ds" / "holdout"), make_reviews(20, seed=9), ColumnSpec(), load_signing_key(keys[0]),
                  source={"kind": "test"}, dataset=DatasetRef("ds-s12", role="holdout", part="holdout"))
    return tmp_path / "ds" / "holdout"


def test_a_part_copied_elsewhere_is_named_as_a_part_of_its_dataset(tmp_path, keys):
    shutil.copytree(_holdout_part(tmp_path, keys), tmp_path / "elsewhere")
    rep = load_verified(LocalStore(tmp_path / "elsewhere"), load_verify_key(keys[1]))
    assert (rep.ok, rep.code) == (False, "wrong-dataset")
    assert rep.detail == f"the manifest is for part 'holdout' of dataset ds-s12 (holdout), which does not live at {tmp_path / 'elsewhere'}"


def test_a_part_relabelled_and_sealed_again_is_the_next_version_of_the_same_part(tmp_path, keys):
    """The part's objects are listed relative to the dataset's root (``holdout/data.parquet``): the
    re-seal looks them up there, not in the part's own folder."""
    part = _holdout_part(tmp_path, keys)
    frame = pd.read_parquet(part / "data.parquet")
    frame.loc[0, "label"] = 1 - frame.loc[0, "label"]  # an approved relabelling
    (part / "data.parquet").write_bytes(to_parquet_bytes(frame))
    verify = load_verify_key(keys[1])
    assert load_verified(LocalStore(part), verify).code == "digest-mismatch"
    resealed = seal_dataset(LocalStore(part), load_signing_key(keys[0]))
    assert resealed.payload["dataset"] == {"id": "ds-s12", "role": "holdout", "part": "holdout", "version": 2}
    assert [o["key"] for o in resealed.payload["objects"]] == ["holdout/data.parquet"]
    rep = load_verified(LocalStore(part), verify)
    assert (rep.code, rep.detail) == ("ok", "signature, identity (ds-s12, holdout), version, SHA-256 and 20 rows verified")
    assert rep.frame["label"].tolist() == frame["label"].tolist()


def test_an_edited_manifest_of_a_two_part_lake_still_names_the_changed_row_in_the_second_part(tmp_path, keys):
    store = LocalStore(tmp_path / "lake")
    frame = make_reviews(40, seed=7)
    store.put("date=1/part-0.parquet", to_parquet_bytes(frame.iloc[:20].reset_index(drop=True)))
    store.put("date=2/part-0.parquet", to_parquet_bytes(frame.iloc[20:].reset_index(drop=True)))
    seal_dataset(store, load_signing_key(keys[0]), spec=ColumnSpec())
    doc = json.loads((tmp_path / "lake" / f"_{MANIFEST_KEY}").read_text())
    doc["payload"]["rows"] += 1
    (tmp_path / "lake" / f"_{MANIFEST_KEY}").write_text(json.dumps(doc))
    edited = frame.iloc[20:].reset_index(drop=True)
    edited.loc[3, "label"] = 1 - edited.loc[3, "label"]
    store.put("date=2/part-0.parquet", to_parquet_bytes(edited), create_only=False)
    rep = load_verified(store, load_verify_key(keys[1]))
    assert (rep.code, rep.suspect_ids) == ("bad-signature", ["rev-0000023"])
    assert rep.detail == ("manifest signature does not verify: the manifest was edited; "
                          "1 label(s) changed, 0 row(s) otherwise edited, 0 added, 0 missing")
    assert rep.frame["review_id"].tolist() == frame["review_id"].tolist()


def test_an_object_edited_in_a_bucket_with_versioning_suspended_gets_no_version_note(s3_endpoint, keys):
    """Real S3 answers every write and head in a bucket whose versioning is suspended with version
    id ``null`` (moto leaves the header out; a botocore hook puts it back, as S3 sends it). The pinned
    ``null`` is the version there, so the digest line must not claim a version change."""
    import boto3

    bucket = f"lg-suspended-{uuid.uuid4().hex[:10]}"
    raw = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    raw.create_bucket(Bucket=bucket)
    raw.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})
    frame = make_reviews(30, seed=3)
    raw.put_object(Bucket=bucket, Key="lake/part-0.parquet", Body=to_parquet_bytes(frame))
    store = open_store(f"s3://{bucket}/lake", endpoint_url=s3_endpoint)

    def null_version(parsed, **_):
        parsed.setdefault("VersionId", "null")

    for op in ("HeadObject", "PutObject"):
        store.client.meta.events.register(f"after-call.s3.{op}", null_version)
    sealed = seal_dataset(store, load_signing_key(keys[0]), spec=ColumnSpec())
    assert [o["version_id"] for o in sealed.payload["objects"]] == ["null"]
    edited = frame.copy()
    edited.loc[2, "label"] = 1 - edited.loc[2, "label"]
    raw.put_object(Bucket=bucket, Key="lake/part-0.parquet", Body=to_parquet_bytes(edited))
    rep = load_verified(store, load_verify_key(keys[1]))
    new, old = rep.observed["objects"][0]["sha256"][:12], sealed.payload["objects"][0]["sha256"][:12]
    assert (rep.code, rep.suspect_ids) == ("digest-mismatch", ["rev-0000002"])
    assert rep.detail == (f"part-0.parquet: SHA-256 {new}… differs from signed {old}…; "
                          "1 label(s) changed, 0 row(s) otherwise edited, 0 added, 0 missing")


def test_objects_labelguard_writes_are_zstd_compressed():
    meta = pq.ParquetFile(io.BytesIO(to_parquet_bytes(make_reviews(10, seed=1)))).metadata
    assert {meta.row_group(0).column(i).compression for i in range(meta.num_columns)} == {"ZSTD"}
