"""The attacker's tools: at-rest tampering (local and S3) and poisoning at the source."""

import json

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from labelguard.cli import app
from labelguard.errors import BadInput, UnknownName
from labelguard.tasks.dataset import DATA_KEY, MANIFEST_KEY, from_parquet_bytes, load_verified, write_dataset
from labelguard.tasks.manifest import ColumnSpec, key_id, load_signing_key, load_verify_key
from labelguard.tasks.storage import LocalStore, open_store
from labelguard.tasks.synthetic import make_reviews
from labelguard.tasks.tamper import poison_file, tamper


@pytest.fixture(params=["local", "s3"])
def dataset_uri(request, tmp_path, keys):
    if request.param == "local":
        uri = str(tmp_path / "ds")
        store = LocalStore(tmp_path / "ds")
    else:
        uri = request.getfixturevalue("s3_uri")
        store = open_store(uri)
        store.ensure_writable()
    write_dataset(store, make_reviews(1000, seed=8), ColumnSpec(), load_signing_key(keys[0]), source={})
    return uri


def _truth_matches_changes(uri, truth_path):
    store = open_store(uri)
    truth = json.loads(truth_path.read_text())
    before = make_reviews(1000, seed=8).set_index("review_id")["label"]
    after = from_parquet_bytes(store.get(DATA_KEY)).set_index("review_id")["label"]
    changed = sorted(after.index[after != before.loc[after.index]])
    assert sorted(f["id"] for f in truth["flipped"]) == changed
    assert all(before[f["id"]] == f["old"] and after[f["id"]] == f["new"] for f in truth["flipped"])
    return truth


@pytest.mark.parametrize("attack", ["random", "greedy", "subset"])
def test_tamper_truth_matches_changed_rows_exactly(dataset_uri, tmp_path, keys, attack):
    original = open_store(dataset_uri).get(DATA_KEY)
    tamper(dataset_uri, attack=attack, rate=0.05, seed=3, truth_out=tmp_path / "truth.json")
    truth = _truth_matches_changes(dataset_uri, tmp_path / "truth.json")
    assert truth["attack"] == attack and truth["rate"] == 0.05 and truth["seed"] == 3
    rep = load_verified(open_store(dataset_uri), load_verify_key(keys[1]))
    assert rep.code in ("digest-mismatch", "version-swapped")
    # plausible layout: same Arrow schema, compression and row groups as the original object
    new = open_store(dataset_uri).get(DATA_KEY)
    a, b = pq.ParquetFile(pa.BufferReader(original)), pq.ParquetFile(pa.BufferReader(new))
    assert a.schema_arrow == b.schema_arrow
    assert a.metadata.num_row_groups == b.metadata.num_row_groups
    assert a.metadata.row_group(0).column(1).compression == b.metadata.row_group(0).column(1).compression


def test_forged_manifest_fails_signature_and_resigned_fails_key(dataset_uri, tmp_path, keys, other_keys):
    tamper(dataset_uri, attack="targeted", rate=0.1, seed=0, truth_out=tmp_path / "t1.json", forge_manifest=True)
    store = open_store(dataset_uri)
    manifest = json.loads(store.get(MANIFEST_KEY))["payload"]
    assert manifest["objects"][0]["version_id"] == store.head(DATA_KEY).version_id
    assert load_verified(store, load_verify_key(keys[1])).code == "bad-signature"
    tamper(dataset_uri, attack="random", rate=0.01, seed=1, truth_out=tmp_path / "t2.json", resign_key=load_signing_key(other_keys[0]))
    assert load_verified(store, load_verify_key(keys[1])).code == "unknown-key"
    # consistent under the attacker's key: every data object matches the forged manifest; only the sidecar's own
    # signature, which the re-signer left under the real key (so the real key can still name the rows), is not theirs
    rep = load_verified(store, load_verify_key(other_keys[1]))
    assert (rep.code, rep.suspect_ids) == ("unknown-key", [])
    assert rep.detail == (
        f"row sidecar signature rows.sig.json is signed by key {key_id(load_verify_key(keys[1]))}, not the trusted key "
        f"{key_id(load_verify_key(other_keys[1]))} (the data objects match the signed manifest)"
    )


@pytest.mark.parametrize(
    "kwargs, error",
    [
        ({"attack": "nope"}, UnknownName),
        ({"rate": 2.0}, BadInput),
        ({"attack": "targeted", "rate": 0.9}, BadInput),
        ({"options": {"bogus": 1}}, BadInput),
    ],
)
def test_bad_input_leaves_the_object_untouched(dataset_uri, tmp_path, kwargs, error):
    store = open_store(dataset_uri)
    before = store.get(DATA_KEY), store.get(MANIFEST_KEY)
    args = {"attack": "random", "rate": 0.1, "seed": 0, "truth_out": tmp_path / "t.json", **kwargs}
    with pytest.raises(error):
        tamper(dataset_uri, **args)
    assert (store.get(DATA_KEY), store.get(MANIFEST_KEY)) == before
    assert not (tmp_path / "t.json").exists()


def test_forge_without_manifest_and_existing_truth_file(tmp_path):
    obj = tmp_path / "raw" / "reviews.parquet"
    obj.parent.mkdir()
    make_reviews(200, seed=1).to_parquet(obj)
    before = obj.read_bytes()
    with pytest.raises(BadInput, match="no manifest"):
        tamper(str(obj), attack="random", rate=0.1, seed=0, truth_out=tmp_path / "t.json", forge_manifest=True)
    (tmp_path / "t.json").write_text("{}")
    with pytest.raises(BadInput, match="already exists"):
        tamper(str(obj), attack="random", rate=0.1, seed=0, truth_out=tmp_path / "t.json")
    assert obj.read_bytes() == before


def test_tamper_csv_object_changes_only_label_cells(tmp_path):
    obj = tmp_path / "reviews.csv"
    make_reviews(300, seed=2).to_csv(obj, index=False)
    before = obj.read_text().splitlines()
    res = tamper(str(obj), attack="random", rate=0.1, seed=0, truth_out=tmp_path / "t.json")
    after = obj.read_text().splitlines()
    diff = [i for i, (a, b) in enumerate(zip(before, after)) if a != b]
    assert len(before) == len(after) and len(diff) == len(res.flipped) == 30
    for i in diff:
        a, b = before[i].split(","), after[i].split(",")
        assert [x for j, x in enumerate(a) if j != 1] == [x for j, x in enumerate(b) if j != 1]


def test_poison_at_source_is_a_create_only_copy(tmp_path):
    src = tmp_path / "reviews.csv"
    make_reviews(400, seed=3).to_csv(src, index=False)
    original = src.read_bytes()
    res = poison_file(src, tmp_path / "poisoned.csv", attack="targeted", rate=0.2, seed=1, truth_out=tmp_path / "truth.json")
    assert src.read_bytes() == original
    poisoned = pd.read_csv(tmp_path / "poisoned.csv")
    assert (poisoned["label"] != pd.read_csv(src)["label"]).sum() == len(res.flipped) == 80
    with pytest.raises(BadInput, match="already exists"):
        poison_file(src, tmp_path / "poisoned.csv", attack="random", rate=0.1, seed=0)


def test_cli_tamper_and_poison_exit_codes(tmp_path, keys):
    runner = CliRunner()
    store = LocalStore(tmp_path / "ds")
    write_dataset(store, make_reviews(500, seed=5), ColumnSpec(), load_signing_key(keys[0]), source={})
    ok = runner.invoke(app, ["tamper", str(tmp_path / "ds"), "--attack", "nearest", "--rate", "0.02", "--truth-out", str(tmp_path / "t.json")])
    assert ok.exit_code == 0, ok.output
    assert "flipped 10 labels" in ok.output
    bad = runner.invoke(app, ["tamper", str(tmp_path / "ds"), "--attack", "random", "--rate", "0.1", "--truth-out", str(tmp_path / "t2.json"), "--option", "nokey"])
    assert bad.exit_code == 2 and "key=value" in bad.output
    src = tmp_path / "s.parquet"
    make_reviews(100, seed=0).to_parquet(src)
    res = runner.invoke(app, ["poison", str(src), "--out", str(tmp_path / "p.parquet"), "--attack", "subset", "--rate", "0.1", "--option", "where=polarity > 2"])
    assert res.exit_code == 0, res.output


def test_tamper_keeps_every_row_group_size_and_row_order(tmp_path, keys):
    """700/500/800 stays 700/500/800 (a rewrite that evened them out would betray the edit)."""
    frame = make_reviews(2000, seed=21)
    path = tmp_path / "obj.parquet"
    with pq.ParquetWriter(path, pa.Schema.from_pandas(frame, preserve_index=False), compression="gzip") as w:
        for lo, hi in ((0, 700), (700, 1200), (1200, 2000)):
            w.write_table(pa.Table.from_pandas(frame.iloc[lo:hi], preserve_index=False))
    tamper(str(path), attack="random", rate=0.05, seed=2, truth_out=tmp_path / "t.json")
    meta = pq.ParquetFile(path).metadata
    assert [meta.row_group(i).num_rows for i in range(meta.num_row_groups)] == [700, 500, 800]
    assert meta.row_group(2).column(0).compression == "GZIP"
    after = pd.read_parquet(path)
    assert after["review_id"].tolist() == frame["review_id"].tolist()
    flipped = {f["id"]: f["new"] for f in json.loads((tmp_path / "t.json").read_text())["flipped"]}
    assert len(flipped) == 100
    changed = after.loc[after["label"] != frame["label"], "review_id"].tolist()
    assert sorted(changed) == sorted(flipped)
    assert after.drop(columns="label").equals(frame.drop(columns="label"))


def test_tamper_csv_changes_only_label_cells_keeping_dialect(tmp_path):
    """A BOM, semicolons and CRLF survive; each changed label cell holds the new class as the file writes it."""
    frame = make_reviews(300, seed=4).drop(columns="created_at")
    text = frame.to_csv(index=False, sep=";", lineterminator="\r\n")
    path = tmp_path / "obj.csv"
    path.write_bytes(b"\xef\xbb\xbf" + text.encode())
    tamper(str(path), attack="random", rate=0.1, seed=0, truth_out=tmp_path / "t.json")
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and raw.count(b"\r\n") == text.count("\r\n")
    before, after = text.split("\r\n"), raw[3:].decode().split("\r\n")
    flipped = {f["id"]: f["new"] for f in json.loads((tmp_path / "t.json").read_text())["flipped"]}
    assert len(flipped) == 30
    for old, new in zip(before, after):
        cells_old, cells_new = old.split(";"), new.split(";")
        if cells_new and cells_new[0] in flipped:
            assert cells_new[1] == str(flipped[cells_new[0]])  # "1", never "1.0" or "X"
            assert cells_old[:1] + cells_old[2:] == cells_new[:1] + cells_new[2:]
        else:
            assert old == new
