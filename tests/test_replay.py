"""Integrity bound to identity and time: mix-and-match replays and rollbacks, on local and S3 stores."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from labelguard.cli import app
from labelguard.tasks.dataset import DATA_KEY, MANIFEST_KEY, ROWS_KEY, ROWS_SIG_KEY, from_parquet_bytes, load_verified, to_parquet_bytes, write_dataset
from labelguard.tasks.ledger import Ledger
from labelguard.tasks.manifest import ColumnSpec, DatasetRef, load_signing_key, load_verify_key
from labelguard.tasks.storage import open_store
from labelguard.tasks.synthetic import make_reviews

runner = CliRunner()
FILES = (DATA_KEY, ROWS_KEY, ROWS_SIG_KEY, MANIFEST_KEY)


@pytest.fixture(params=["local", "s3"])
def base(request, tmp_path):
    return str(tmp_path) if request.param == "local" else request.getfixturevalue("s3_uri")


def _ingest_plain(uri: str, keys, ledger: Ledger | None, seed: int = 1) -> None:
    store = open_store(uri)
    store.ensure_writable()
    sign = load_signing_key(keys[0])
    ds_id = f"ds{seed}-{abs(hash(uri)) % 10**6}"
    frame = make_reviews(500, seed=seed)
    write_dataset(store.child("holdout"), frame.iloc[:100], ColumnSpec(), sign, source={}, dataset=DatasetRef(ds_id, "holdout", "holdout"), ledger=ledger, ledger_uri=store.uri)
    write_dataset(store, frame.iloc[100:].reset_index(drop=True), ColumnSpec(), sign, source={}, dataset=DatasetRef(ds_id, "data"), ledger=ledger, ledger_uri=store.uri)


def _copy(src, dst, names=FILES):
    for name in names:
        dst.put(name, src.get(name), create_only=False)


def _code(uri, keys, ledger=None):
    args = ["verify", uri, "--guards", "manifest", "--verify-key", str(keys[1]), "--ledger", str(ledger.path) if ledger else "none"]
    res = runner.invoke(app, args)
    return res.exit_code, res.output


def test_holdout_swapped_over_its_dataset_is_wrong_dataset(base, keys):
    uri = f"{base}/reviews"
    _ingest_plain(uri, keys, None)
    assert _code(uri, keys)[0] == 0
    store = open_store(uri)
    _copy(store.child("holdout"), store)
    code, output = _code(uri, keys)
    assert code == 1 and "wrong-dataset" in output
    rep = load_verified(store, load_verify_key(keys[1]))
    assert rep.code == "wrong-dataset" and "does not live at" in rep.detail


def test_root_manifest_copied_into_the_holdout_folder_is_wrong_dataset(base, keys):
    uri = f"{base}/reviews"
    _ingest_plain(uri, keys, None)
    store = open_store(uri)
    _copy(store, store.child("holdout"))
    rep = load_verified(store.child("holdout"), load_verify_key(keys[1]))
    assert rep.code == "wrong-dataset" and "sits in its subfolder 'holdout'" in rep.detail


def test_another_datasets_files_at_a_known_location_are_wrong_dataset(base, keys, tmp_path):
    ledger = Ledger(tmp_path / "ledger.jsonl")
    a, b = f"{base}/a", f"{base}/b"
    _ingest_plain(a, keys, ledger, seed=1)
    _ingest_plain(b, keys, ledger, seed=2)
    assert _code(b, keys, ledger)[0] == 0
    _copy(open_store(a), open_store(b))
    unbound = _code(b, keys)
    if b.startswith("s3://"):  # the manifest pins a's object versions; b's copies are other versions
        assert unbound[0] == 1 and "version-swapped" in unbound[1]
    else:  # without a ledger nothing says this folder ever held another dataset (README: limits)
        assert unbound[0] == 0
    code, output = _code(b, keys, ledger)
    assert code == 1 and "wrong-dataset" in output
    rep = load_verified(open_store(b), load_verify_key(keys[1]), ledger=ledger)
    assert rep.code == "wrong-dataset" and "the ledger records dataset ds2-" in rep.detail


def test_rollback_to_an_older_signed_state_is_caught_with_a_ledger(base, keys, tmp_path):
    ledger = Ledger(tmp_path / "ledger.jsonl")
    uri = f"{base}/reviews"
    _ingest_plain(uri, keys, ledger)
    store = open_store(uri)
    v1 = {name: store.get(name) for name in FILES}
    # an approved relabelling: fix one label, then seal the new state as version 2
    frame = from_parquet_bytes(v1[DATA_KEY])
    frame.loc[0, "label"] = 1 - frame.loc[0, "label"]
    store.put(DATA_KEY, to_parquet_bytes(frame), create_only=False)
    res = runner.invoke(app, ["seal", uri, "--signing-key", str(keys[0]), "--ledger", str(ledger.path)])
    assert res.exit_code == 0 and "version 2" in res.stdout, res.output
    assert _code(uri, keys, ledger)[0] == 0
    for name, data in v1.items():  # the attacker restores the older, validly signed files
        store.put(name, data, create_only=False)
    code, output = _code(uri, keys, ledger)
    assert code == 1 and "rollback" in output
    rep = load_verified(store, load_verify_key(keys[1]), ledger=ledger)
    assert rep.code == "rollback" and rep.detail.startswith("manifest is version 1 of ds1-") and "newest is version 2" in rep.detail


def test_edited_ledger_is_bad_ledger(tmp_path, keys):
    ledger = Ledger(tmp_path / "ledger.jsonl")
    uri = str(tmp_path / "reviews")
    _ingest_plain(uri, keys, ledger)
    lines = ledger.path.read_bytes().splitlines()
    ledger.path.write_bytes(b"\n".join([lines[1], lines[0]]) + b"\n")  # reordered
    rep = load_verified(open_store(uri), load_verify_key(keys[1]), ledger=ledger)
    assert rep.code == "bad-ledger" and "does not chain" in rep.detail
