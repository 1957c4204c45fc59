"""`--reference` and `--holdout` given what cannot be a trusted dataset: a CSV file, one Parquet file, a file of a
dataset, an S3 object named like a CSV, or the very dataset being checked. Each said for what it is (exit 2, one line,
nothing written) before any store is read; the last one compared the data with itself and passed whatever it held."""

from __future__ import annotations

import uuid

import pytest

from labelguard.tasks.dataset import write_dataset
from labelguard.tasks.manifest import ColumnSpec, load_signing_key
from labelguard.tasks.storage import LocalStore
from labelguard.tasks.synthetic import make_reviews
from tests.clirun import invoke


@pytest.fixture(scope="module")
def place(tmp_path_factory, keys):
    """A signed 120-review dataset `ds` (with its holdout) beside a CSV and a loose Parquet file."""
    root = tmp_path_factory.mktemp("optpaths")
    sign = load_signing_key(keys[0])
    write_dataset(LocalStore(root / "ds"), make_reviews(120, seed=4), ColumnSpec(), sign, source={"kind": "synthetic"})
    write_dataset(LocalStore(root / "ds" / "holdout"), make_reviews(60, seed=5), ColumnSpec(), sign, source={"kind": "synthetic"})
    (root / "ref.csv").write_text("review_id,text,label\n1,fine,1\n")
    (root / "loose.parquet").write_bytes((root / "ds" / "holdout" / "data.parquet").read_bytes())
    return root


CASES = [
    (("verify", "ds", "--reference", "ref.csv"),
     "--reference {r}/ref.csv is a CSV file; --reference takes a signed dataset folder "
     "(fix: labelguard ingest --source {r}/ref.csv --dest DIR first, then --reference DIR)"),
    (("pipeline", "ds", "--holdout", "loose.parquet"),
     "--holdout {r}/loose.parquet is a single Parquet file; --holdout takes a signed dataset folder "
     "(fix: labelguard ingest --source {r}/loose.parquet --dest DIR first, then --holdout DIR)"),
    (("verify", "ds", "--holdout", "ds/holdout/data.parquet"),
     "--holdout {r}/ds/holdout/data.parquet is a file of the dataset at {r}/ds/holdout; --holdout takes the dataset folder "
     "(fix: --holdout {r}/ds/holdout)"),
    (("drift", "ds", "--reference", "ds"),
     "--reference {r}/ds is the dataset being checked: comparing it with itself passes whatever it holds "
     "(fix: leave --reference out to use the dataset's own trusted holdout, or give a baseline of rows taken apart from the data, "
     "e.g. `labelguard baseline {r}/ds/holdout DIR`)"),
    (("watch", "ds", "--cron", "0 3 * * *", "--reference", "ref.csv"),
     "--reference {r}/ref.csv is a CSV file; --reference takes a signed dataset folder "
     "(fix: labelguard ingest --source {r}/ref.csv --dest DIR first, then --reference DIR)"),
]


@pytest.mark.parametrize("args,line", CASES, ids=[" ".join(a[::2]) for a, _ in CASES])
def test_an_option_naming_what_cannot_be_a_trusted_dataset_is_refused_for_what_it_is(place, keys, args, line):
    before = sorted(str(p) for p in place.rglob("*"))
    res = invoke(*[place / a if a in ("ds", "ref.csv", "loose.parquet", "ds/holdout/data.parquet") else a for a in args],
                 env={"LABELGUARD_VERIFY_KEY": str(keys[1]), "LABELGUARD_SIGNING_KEY": str(keys[0])})
    assert (res.exit_code, res.stderr) == (2, "error: " + line.format(r=place) + "\n")
    assert res.stdout == "" and sorted(str(p) for p in place.rglob("*")) == before


def test_the_same_dataset_spelled_another_way_is_still_itself(place, keys, monkeypatch):
    """`./ds/` and `ds` are one folder: the self-comparison is caught on the resolved path, not the spelling."""
    monkeypatch.chdir(place)
    res = invoke("verify", "ds", "--reference", "./ds/", env={"LABELGUARD_VERIFY_KEY": str(keys[1])})
    assert (res.exit_code, res.stderr.split(":")[0]) == (2, "error")
    assert res.stderr.startswith("error: --reference ./ds/ is the dataset being checked: ")
    ok = invoke("verify", "ds", "--reference", "ds/holdout", "--allow-inconclusive", env={"LABELGUARD_VERIFY_KEY": str(keys[1])})
    assert ok.exit_code in (0, 1) and "is the dataset being checked" not in ok.stderr  # its own holdout is another dataset


def test_an_s3_object_named_like_a_csv_is_named_as_such_when_nothing_is_there(place, keys, s3_endpoint):
    """`--holdout s3://bucket/batch.csv` said "no dataset at s3://bucket/batch.csv (fix: check the URI)": the object is
    there, the URI is right, and the user went looking for a typo. The kind is read from the name, after the store says
    no dataset is under it; a plain missing prefix reads as before."""
    import boto3

    bucket = f"lg-optpaths-{uuid.uuid4().hex[:10]}"
    raw = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    raw.create_bucket(Bucket=bucket)
    raw.put_object(Bucket=bucket, Key="batch.csv", Body=b"review_id,text,label\n1,fine,1\n")
    env = {"LABELGUARD_VERIFY_KEY": str(keys[1])}
    res = invoke("verify", place / "ds", "--holdout", f"s3://{bucket}/batch.csv", "--endpoint-url", s3_endpoint, env=env)
    assert (res.exit_code, res.stderr) == (2, f"error: no dataset at s3://{bucket}/batch.csv: it names a CSV object, and labelguard checks "
                                              "a dataset folder (prefix) that ingest wrote (fix: copy it locally and run labelguard ingest --source FILE --dest DIR, then pass DIR)\n")
    raw.put_object(Bucket=bucket, Key="one.parquet", Body=(place / "loose.parquet").read_bytes())
    res = invoke("pipeline", place / "ds", "--reference", f"s3://{bucket}/one.parquet", "--endpoint-url", s3_endpoint, env=env)
    assert (res.exit_code, res.stderr) == (2, f"error: no dataset at s3://{bucket}/one.parquet: it names one Parquet object, and labelguard checks "
                                              f"a dataset folder (prefix) that ingest wrote (fix: labelguard ingest --source s3://{bucket}/one.parquet --dest DIR first, then pass DIR)\n")
    res = invoke("verify", place / "ds", "--reference", f"s3://{bucket}/nothing", "--endpoint-url", s3_endpoint, env=env)
    assert (res.exit_code, res.stderr) == (2, f"error: no dataset at s3://{bucket}/nothing (fix: check the URI (labelguard ingest writes one there))\n")


def test_a_baseline_signed_with_a_key_of_another_pair_is_refused_before_it_is_written(place, keys, other_keys, tmp_path):
    """`baseline` with a signing key whose public half is not the verify key wrote a baseline that every
    `verify --reference` then reported as signed by an unknown key (exit 1: a slip read as tampering). Refused up front,
    as ingest and seal refuse it; nothing written. With the pair it writes, and verify takes it as a reference."""
    from labelguard.tasks.manifest import key_id, load_signing_key, load_verify_key

    bl = tmp_path / "bl"
    res = invoke("baseline", place / "ds", "--out", bl, "--signing-key", other_keys[0], "--verify-key", keys[1], env={})
    own, trusted = key_id(load_signing_key(other_keys[0]).public_key()), key_id(load_verify_key(keys[1]))
    assert (res.exit_code, res.stderr) == (2, (
        f"error: the signing key {other_keys[0]} (key {own}) is not the pair of the verify key {keys[1]} (key {trusted}): every verify would "
        "report the data as signed by an unknown key (fix: point the signing key and LABELGUARD_VERIFY_KEY / --verify-key at one "
        "`labelguard keygen` folder)\n"))
    assert not bl.exists()
    ok = invoke("baseline", place / "ds", "--out", bl, "--signing-key", keys[0], "--verify-key", keys[1], env={})
    assert ok.exit_code == 0 and ok.stdout.startswith(f"baseline: {bl}  rows=120  ")
