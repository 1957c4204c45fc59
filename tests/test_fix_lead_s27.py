"""Found by the lead while trying the CLI as a user (session 27): fixes whose messages pointed at something that is not there."""

from __future__ import annotations

from labelguard.tasks.dataset import to_parquet_bytes
from labelguard.tasks.storage import LocalStore
from labelguard.tasks.synthetic import make_reviews
from tests.clirun import invoke


def test_a_sealed_lake_passed_as_reference_is_told_to_make_a_baseline_not_pointed_at_a_holdout_it_lacks(tmp_path, keys):
    """A lake sealed in place has no holdout: the fix named `ref/holdout`, which does not exist. It now says how to make
    a baseline of it, and following that fix works (exit 0 on a clean candidate)."""
    frame = make_reviews(500, seed=8)
    LocalStore(tmp_path / "lake").put("part-0.parquet", to_parquet_bytes(frame.iloc[:400]))
    LocalStore(tmp_path / "ref").put("part-0.parquet", to_parquet_bytes(frame.iloc[400:]))
    for name in ("lake", "ref"):
        assert invoke("seal", tmp_path / name, "--signing-key", keys[0], "--ledger", "none").exit_code == 0
    args = ("--verify-key", keys[1], "--ledger", "none", "--guards", "class_balance")
    res = invoke("verify", tmp_path / "lake", "--reference", tmp_path / "ref", *args)
    ref_id = res.stderr.split("(dataset ")[1].split(",")[0]
    assert (res.exit_code, res.stderr) == (2, (
        f"error: the reference at {tmp_path / 'ref'} is a training set (dataset {ref_id}, role 'data', signed and intact), not "
        f"baseline or holdout data (fix: if its rows are trusted (labelled apart from the data you check), make a baseline of them "
        f"with `labelguard baseline {tmp_path / 'ref'} --out DIR` and pass DIR)\n"))
    assert sorted(p.name for p in (tmp_path / "ref").iterdir()) == ["_manifest.json", "_rows.parquet", "_rows.sig.json", "part-0.parquet"]
    made = invoke("baseline", tmp_path / "ref", "--out", tmp_path / "base", "--signing-key", keys[0], "--verify-key", keys[1], "--ledger", "none")
    assert made.exit_code == 0, made.output
    # 100 trusted rows cannot rule out a 20 % flip (inconclusive), so the fix is checked with --allow-inconclusive
    assert invoke("verify", tmp_path / "lake", "--reference", tmp_path / "base", *args, "--allow-inconclusive").exit_code == 0


def test_a_class_the_trusted_rows_hold_and_the_data_lost_is_judged_not_a_crash(tmp_path, keys):
    """A 3-class lake sealed after every row of class 2 was relabelled 1 (the class emptied before sealing, so its signed
    class set is {0, 1}), checked against a baseline holding all three: the detectors met label 2 outside the data's class
    set and stopped with `unexpected IndexError` (exit 2). The trusted rows' classes now join the class set: the class
    balance sees 0 % against the trusted share and fires, and the reference model names the relabelled rows."""
    import json

    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(2)
    x = rng.normal(size=(600, 3))
    label = np.digitize(x[:, 0] + x[:, 1], [-0.5, 0.5])
    frame = pd.DataFrame({"id": np.arange(600), "a": x[:, 0], "b": x[:, 1], "c": x[:, 2], "label": label})
    lake = frame.iloc[:480].copy()
    emptied = lake.loc[lake["label"] == 2, "id"].tolist()
    lake.loc[lake["label"] == 2, "label"] = 1
    LocalStore(tmp_path / "lake").put("part-0.parquet", to_parquet_bytes(lake))
    LocalStore(tmp_path / "ref").put("part-0.parquet", to_parquet_bytes(frame.iloc[480:]))
    for name in ("lake", "ref"):
        assert invoke("seal", tmp_path / name, "--label-col", "label", "--id-col", "id", "--signing-key", keys[0], "--ledger", "none").exit_code == 0
    assert invoke("baseline", tmp_path / "ref", "--out", tmp_path / "base", "--signing-key", keys[0], "--verify-key", keys[1], "--ledger", "none").exit_code == 0
    out = tmp_path / "v.json"
    res = invoke("verify", tmp_path / "lake", "--reference", tmp_path / "base", "--verify-key", keys[1], "--ledger", "none",
                 "--guards", "class_balance,reference_model", "--json", out)
    assert (res.exit_code, res.stderr) == (1, "guard fired: class_balance, reference_model\n")
    doc = json.loads(out.read_text())
    balance = {g["name"]: g for g in doc["guards"]}["class_balance"]
    assert balance["detail"] == ("class 0: 39.6% vs 39.2% (p=1), class 1: 60.4% vs 30.0% (p=2.9e-09), class 2: 0.0% vs 30.8% (p=8.5e-29); "
                                 "fires below 0.00033 per class; power: sees a flip of 57% of any class")
    named = set(doc["suspect_ids"])
    assert doc["suspects_from"] == ["flip_posterior"]
    assert (len(emptied), len(named & set(emptied)), len(named - set(emptied))) == (168, 148, 6)


def _delta_table(base, frame, *, rewritten=None):
    """A Delta Lake table as Spark leaves it: a part, the JSON log and a checkpoint in `_delta_log/`; with `rewritten`,
    a second version whose part replaced the first (an UPDATE), the first kept on disk until VACUUM."""
    import json

    import pyarrow as pa
    import pyarrow.parquet as pq

    store = LocalStore(base)
    store.put("part-00000-a1.snappy.parquet", to_parquet_bytes(frame))
    log = [json.dumps({"add": {"path": "part-00000-a1.snappy.parquet"}})]
    if rewritten is not None:
        store.put("part-00001-b2.snappy.parquet", to_parquet_bytes(rewritten))
        log += [json.dumps({"remove": {"path": "part-00000-a1.snappy.parquet"}}), json.dumps({"add": {"path": "part-00001-b2.snappy.parquet"}})]
    store.put("_delta_log/00000000000000000000.json", "\n".join(log).encode())
    sink = pa.BufferOutputStream()
    pq.write_table(pa.table({"add": [{"path": "part-00000-a1.snappy.parquet"}]}), sink)
    store.put("_delta_log/00000000000000000010.checkpoint.parquet", sink.getvalue().to_pybytes())
    return store


def test_a_delta_table_with_checkpoints_seals_and_a_later_checkpoint_is_not_an_unlisted_part(tmp_path, keys):
    """Delta's `_delta_log/*.checkpoint.parquet` is the table's log: seal refused the table, telling the user to remove
    it (which breaks the table), and a checkpoint written after sealing would have read as an unlisted data part (exit 1)."""
    frame = make_reviews(200, seed=9)
    store = _delta_table(tmp_path / "t", frame)
    res = invoke("seal", tmp_path / "t", "--signing-key", keys[0], "--ledger", "none")
    assert res.exit_code == 0, res.output
    assert "1 object(s), 200 rows" in res.stdout
    store.put("_delta_log/00000000000000000020.checkpoint.parquet", store.get("_delta_log/00000000000000000010.checkpoint.parquet"))
    args = ("verify", tmp_path / "t", "--guards", "manifest", "--verify-key", keys[1], "--ledger", "none")
    assert invoke(*args).exit_code == 0
    store.put("part-00002-c3.snappy.parquet", to_parquet_bytes(make_reviews(220, seed=9).iloc[200:]))  # rows added as data: still caught
    assert (invoke(*args).exit_code, invoke(*args).stderr) == (1, "guard fired: manifest\n")


def test_a_delta_table_keeping_an_earlier_versions_parts_is_refused_naming_delta(tmp_path, keys):
    """After an UPDATE, a Delta folder holds the old part beside its rewrite: seal read both and refused "id … is in
    both …" with a fix (drop the copy) that does not fit a table whose log says which part is current."""
    frame = make_reviews(200, seed=9)
    rewritten = frame.copy()
    rewritten.loc[:4, "label"] = 1 - rewritten.loc[:4, "label"]
    store = _delta_table(tmp_path / "t", frame, rewritten=rewritten)
    before = sorted(store.list())
    res = invoke("seal", tmp_path / "t", "--signing-key", keys[0], "--ledger", "none")
    first = frame["review_id"].iloc[0]
    assert (res.exit_code, res.stderr) == (2, (
        f"error: id {first!r} is in both part-00000-a1.snappy.parquet and part-00001-b2.snappy.parquet (200 repeated id(s) in 400 rows): "
        f"{tmp_path / 't'} is a Delta table, and its folder keeps the Parquet files of earlier versions (an UPDATE, DELETE or OPTIMIZE "
        "rewrites parts; the log marks the old ones removed, readers of the table skip them, seal reads every part) (fix: seal a copy "
        "of the table's current version (written out as Parquet, e.g. with Spark or the deltalake package), or VACUUM the table so "
        "that only its current files remain, then seal again)\n"))
    assert sorted(store.list()) == before


def test_a_manifest_in_this_format_without_a_dataset_entry_says_so_without_contradicting_itself(tmp_path, keys):
    """Found by the dataset mutation run: it read "manifest format 'labelguard-manifest/2' is not labelguard-manifest/2"."""
    from labelguard.tasks.dataset import FORMAT, MANIFEST_KEY, load_verified, write_dataset
    from labelguard.tasks.manifest import ColumnSpec, load_signing_key, load_verify_key, sign_manifest

    store = LocalStore(tmp_path / "ds")
    signed = write_dataset(store, make_reviews(20, seed=49), ColumnSpec(), load_signing_key(keys[0]), source={"kind": "test"})
    payload = {k: v for k, v in signed.payload.items() if k != "dataset"}
    store.put(MANIFEST_KEY, sign_manifest(payload, load_signing_key(keys[0])).to_bytes(), create_only=False)
    rep = load_verified(store, load_verify_key(keys[1]))
    assert (rep.code, rep.detail) == ("bad-manifest", f"manifest in format {FORMAT} names no dataset (no 'dataset' entry): re-ingest with this labelguard")


def test_a_store_that_reports_no_checksum_gets_the_sidecars_digest_computed_too(tmp_path, keys):
    """Found by the dataset mutation run: write_dataset hashed the data object itself when the store's write reported
    no SHA-256, but not the row sidecar: the manifest signed `null` for it and verify failed the new dataset at once
    (digest-mismatch)."""
    import hashlib

    from labelguard.tasks.dataset import load_verified, write_dataset
    from labelguard.tasks.manifest import ColumnSpec, load_signing_key, load_verify_key

    class NoChecksum(LocalStore):  # a store whose writes report no digest (ObjectInfo.sha256 is optional)
        def put(self, key, data, **kw):
            import dataclasses

            return dataclasses.replace(super().put(key, data, **kw), sha256=None)

    store = NoChecksum(tmp_path / "ds")
    signed = write_dataset(store, make_reviews(30, seed=50), ColumnSpec(), load_signing_key(keys[0]), source={"kind": "test"})
    assert signed.payload["rows_sidecar"]["sha256"] == hashlib.sha256((tmp_path / "ds" / "rows.parquet").read_bytes()).hexdigest()
    rep = load_verified(LocalStore(tmp_path / "ds"), load_verify_key(keys[1]))
    assert (rep.code, len(rep.frame)) == ("ok", 30)


def test_a_reseal_whose_parts_lost_the_signed_id_column_is_refused(tmp_path, keys):
    """Found trying `seal` as a new user: a sealed lake whose part was rewritten with another id column crashed on
    re-seal (`unexpected KeyError: 'review_id'`). Now one line naming the lost column, exit 2, nothing written."""
    import pandas as pd

    store = LocalStore(tmp_path / "lake")
    frame = make_reviews(60, seed=12)
    store.put("part-0.parquet", to_parquet_bytes(frame))
    assert invoke("seal", tmp_path / "lake", "--signing-key", keys[0], "--ledger", "none").exit_code == 0
    ds_id = __import__("json").loads((tmp_path / "lake" / "_manifest.json").read_text())["payload"]["dataset"]["id"]
    store.put("part-0.parquet", to_parquet_bytes(frame.rename(columns={"review_id": "id"})), create_only=False)
    before = {p.name: p.read_bytes() for p in (tmp_path / "lake").iterdir()}
    res = invoke("seal", tmp_path / "lake", "--id-col", "id", "--signing-key", keys[0], "--ledger", "none")
    assert (res.exit_code, res.stderr) == (2, (
        f"error: the parts at {tmp_path / 'lake'} have no column 'review_id', which version 1 of dataset {ds_id} is keyed by "
        f"(they have: {', '.join(map(repr, pd.read_parquet(tmp_path / 'lake' / 'part-0.parquet').columns))}) (fix: restore the column "
        f"in the parts, or sign them as a new dataset: move {tmp_path / 'lake'}'s _manifest.json, _rows.parquet and _rows.sig.json "
        "away, then seal with --id-col and --label-col)\n"))
    assert {p.name: p.read_bytes() for p in (tmp_path / "lake").iterdir()} == before
