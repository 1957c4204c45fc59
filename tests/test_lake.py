"""Data labelguard did not write: Parquet part files sealed in place, verified, an edit in one part named exactly."""

from __future__ import annotations

import io
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from labelguard.cli import app
from labelguard.tasks.storage import open_store
from labelguard.tasks.synthetic import make_reviews

runner = CliRunner()


def _parquet(frame) -> bytes:
    sink = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), sink)
    return sink.getvalue()


@pytest.fixture(params=["local", "s3"])
def lake(request, tmp_path):
    """Six Hive-partitioned part files of 200 rows each, written by 'someone else' (plain Parquet, no manifest)."""
    base = str(tmp_path / "lake") if request.param == "local" else request.getfixturevalue("s3_uri") + "/lake"
    store = open_store(base)
    store.ensure_writable()
    frame = make_reviews(1200, seed=9)
    keys = []
    for i in range(6):
        key = f"date=2026-01-0{i // 2 + 1}/part-{i % 2}.parquet"
        store.put(key, _parquet(frame.iloc[i * 200 : (i + 1) * 200]))
        keys.append(key)
    return base, frame, keys


def _run(*args):
    res = runner.invoke(app, [str(a) for a in args])
    return res


def test_seal_in_place_then_an_edit_in_one_part_is_named_exactly(lake, keys, tmp_path):
    base, frame, parts = lake
    store = open_store(base)
    before = {k: store.get(k) for k in parts}
    res = _run("seal", base, "--signing-key", keys[0], "--ledger", tmp_path / "ledger.jsonl")
    assert res.exit_code == 0, res.output
    assert "6 object(s), 1200 rows" in res.stdout
    assert {k: store.get(k) for k in parts} == before  # nothing rewritten
    manifest = json.loads(store.get("_manifest.json"))["payload"]
    assert [o["key"] for o in manifest["objects"]] == sorted(parts)
    # the owner's own readers still read the sealed lake: labelguard's objects start with "_"
    assert sorted(k for k in store.list() if "/" not in k) == ["_manifest.json", "_rows.parquet", "_rows.sig.json"]
    if not base.startswith("s3://"):
        import pandas as pd

        read = pd.read_parquet(base).sort_values("review_id", ignore_index=True)
        assert read["review_id"].tolist() == sorted(frame["review_id"].tolist()) and "date" in read.columns
    ok = _run("verify", base, "--guards", "manifest", "--verify-key", keys[1], "--ledger", tmp_path / "ledger.jsonl")
    assert ok.exit_code == 0, ok.output
    # an attacker edits one label in one part
    target = "date=2026-01-02/part-1.parquet"
    part = pq.read_table(io.BytesIO(store.get(target))).to_pandas()
    victim = part["review_id"].iloc[17]
    part.loc[17, "label"] = 1 - part.loc[17, "label"]
    store.put(target, _parquet(part), create_only=False)
    out = tmp_path / "v.json"
    res = _run("verify", base, "--guards", "manifest", "--verify-key", keys[1], "--json", out, "--ledger", tmp_path / "ledger.jsonl")
    doc = json.loads(out.read_text())
    assert res.exit_code == 1
    assert doc["suspect_ids"] == [victim] and doc["suspects_from"] == ["manifest"]
    assert doc["guards"][0]["detail"].startswith(f"digest-mismatch: {target}: SHA-256")
    # the edit approved: re-sealed as version 2 under the same "_" names, and verified again
    res = _run("seal", base, "--signing-key", keys[0], "--ledger", tmp_path / "ledger.jsonl")
    assert res.exit_code == 0 and " version 2 (data), 6 object(s), 1200 rows; manifest at " in res.stdout and "/_manifest.json" in res.stdout, res.output
    assert sorted(k for k in store.list() if "/" not in k) == ["_manifest.json", "_rows.parquet", "_rows.sig.json"]
    assert _run("verify", base, "--guards", "manifest", "--verify-key", keys[1], "--ledger", tmp_path / "ledger.jsonl").exit_code == 0


def test_seal_a_glob_and_a_single_file(lake, keys, tmp_path):
    base, frame, parts = lake
    res = _run("seal", f"{base}/date=2026-01-0[12]/*.parquet", "--signing-key", keys[0], "--ledger", "none")
    assert res.exit_code == 0 and "4 object(s), 800 rows" in res.stdout, res.output
    assert _run("verify", base, "--guards", "manifest", "--verify-key", keys[1], "--ledger", "none").exit_code == 0
    one = f"{base}/date=2026-01-03/part-0.parquet"
    res = _run("seal", one, "--signing-key", keys[0], "--ledger", "none")
    assert res.exit_code == 0 and "1 object(s), 200 rows" in res.stdout, res.output
    assert _run("verify", f"{base}/date=2026-01-03", "--guards", "manifest", "--verify-key", keys[1], "--ledger", "none").exit_code == 0


def test_seal_bad_input(lake, keys, tmp_path):
    base, frame, parts = lake
    store = open_store(base)
    res = _run("seal", f"{base}/date=2099-*/*.parquet", "--signing-key", keys[0], "--ledger", "none")
    assert res.exit_code == 2
    assert res.stderr.strip().splitlines() == [f"error: the glob 'date=2099-*/*.parquet' under {store.uri} matches no Parquet object (fix: check the pattern (e.g. 'date=*/part-*.parquet'))"]
    store.put("date=2026-01-04/part-0.parquet", _parquet(frame.iloc[:50].assign(label=frame["label"].iloc[:50].astype(str))))
    res = _run("seal", base, "--signing-key", keys[0], "--ledger", "none")
    assert res.exit_code == 2
    line = res.stderr.strip()
    assert line.startswith("error: part date=2026-01-04/part-0.parquet has another schema than date=2026-01-01/part-0.parquet (label: int64 vs ")
    assert store.list() == sorted(parts + ["date=2026-01-04/part-0.parquet"])  # nothing written


@pytest.mark.flow
def test_ingest_from_s3_parts(s3_uri, keys, tmp_path, prefect_harness):
    base = s3_uri + "/lake"
    store = open_store(base)
    store.ensure_writable()
    frame = make_reviews(600, seed=5)
    for i in range(3):
        store.put(f"date=2026-02-0{i + 1}/part-0.parquet", _parquet(frame.iloc[i * 200 : (i + 1) * 200]))
    res = _run("ingest", "--source", f"{base}/date=*/part-*.parquet", "--dest", tmp_path / "ds", "--signing-key", keys[0], "--ledger", "none")
    assert res.exit_code == 0, res.output
    stored = pq.read_table(tmp_path / "ds" / "data.parquet").to_pandas()
    held = pq.read_table(tmp_path / "ds" / "holdout" / "data.parquet").to_pandas()
    assert sorted(stored["review_id"].tolist() + held["review_id"].tolist()) == sorted(frame["review_id"])


def test_an_unsigned_part_added_after_sealing_fires(lake, keys, tmp_path):
    """A reader of the folder would take an injected part as data: the manifest must list every part."""
    base, frame, parts = lake
    store = open_store(base)
    assert _run("seal", base, "--signing-key", keys[0], "--ledger", "none").exit_code == 0
    again = _run("seal", base, "--signing-key", keys[0], "--ledger", "none")
    assert again.exit_code == 0 and again.stdout.startswith("nothing changed since version 1 of ")
    injected = frame.iloc[:50].assign(review_id=[f"x{i}" for i in range(50)], label=1 - frame["label"].iloc[:50])
    store.put("date=2026-01-09/part-0.parquet", _parquet(injected))
    out = tmp_path / "v.json"
    res = _run("verify", base, "--guards", "manifest", "--verify-key", keys[1], "--ledger", "none", "--json", out)
    assert res.exit_code == 1
    doc = json.loads(out.read_text())
    assert doc["guards"][0]["detail"] == (
        "unlisted-object: 1 Parquet object(s) under the dataset that the signed manifest does not list: date=2026-01-09/part-0.parquet; "
        "0 label(s) changed, 0 row(s) otherwise edited, 50 added, 0 missing"
    )
    assert doc["suspect_ids"] == sorted(injected["review_id"])


def test_a_sealed_single_file_claims_nothing_about_its_folder(lake, keys):
    base, frame, parts = lake
    one = f"{base}/date=2026-01-02/part-0.parquet"
    assert _run("seal", one, "--signing-key", keys[0], "--ledger", "none").exit_code == 0
    res = _run("verify", f"{base}/date=2026-01-02", "--guards", "manifest", "--verify-key", keys[1], "--ledger", "none")
    assert res.exit_code == 0, res.output  # its sibling part-1 is not part of what was sealed


def test_verify_unsealed_parquet_runs_the_guards_that_need_no_manifest(tmp_path, keys):
    """Data nobody signed: the manifest guard says so; schema, statistics and content still judge it."""
    from labelguard.tasks.attacks import flip_labels
    from labelguard.tasks.dataset import write_dataset
    from labelguard.tasks.manifest import ColumnSpec, DatasetRef, load_signing_key

    clean = make_reviews(3000, separation=2.8, seed=31)
    poisoned = flip_labels(clean, ColumnSpec(), attack="targeted", rate=0.2, seed=3).frame
    for name, frame in (("clean", clean), ("poisoned", poisoned)):
        for i in range(2):
            path = tmp_path / name / f"part-{i}.parquet"
            path.parent.mkdir(exist_ok=True)
            pq.write_table(pa.Table.from_pandas(frame.iloc[i * 1500 : (i + 1) * 1500], preserve_index=False), path)
    base = open_store(str(tmp_path / "base"))
    write_dataset(base, make_reviews(1000, separation=2.8, seed=32), ColumnSpec(), load_signing_key(keys[0]), source={}, dataset=DatasetRef("b", "baseline"))
    guards = "schema,class_balance,class_conditional,reference_model"
    common = ["--reference", tmp_path / "base", "--verify-key", keys[1], "--ledger", "none"]
    assert _run("verify", tmp_path / "clean", "--guards", guards, *common).exit_code == 0
    out = tmp_path / "p.json"
    res = _run("verify", tmp_path / "poisoned", "--guards", guards, "--json", out, *common)
    fired = {g["name"] for g in json.loads(out.read_text())["guards"] if g["verdict"] == "fired"}
    assert res.exit_code == 1 and {"class_balance", "reference_model"} <= fired
    out = tmp_path / "all.json"
    res = _run("verify", tmp_path / "clean", "--json", out, *common)
    doc = {g["name"]: g for g in json.loads(out.read_text())["guards"]}
    assert res.exit_code == 1 and doc["manifest"]["detail"].startswith("missing-manifest: objects at ")
    assert doc["schema"]["verdict"] == "pass" and doc["class_balance"]["verdict"] == "pass"
    # a part with another schema is named, not blamed on the reference
    extra = make_reviews(10, separation=2.8, seed=33).assign(extra=1)
    pq.write_table(pa.Table.from_pandas(extra, preserve_index=False), tmp_path / "clean" / "part-2.parquet")
    res = _run("verify", tmp_path / "clean", *common)
    assert res.exit_code == 2 and res.stderr.strip().splitlines() == [
        "error: part part-2.parquet has other columns than part-0.parquet ('extra' in one, not the other) (fix: point at parts with one schema (a glob or prefix per schema))"
    ]
