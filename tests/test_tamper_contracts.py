"""What the attacker's tools write, exactly: truth files, cells, layouts, forged manifests, refusals.

Written against the surviving mutants of ``make mutation`` on tasks/tamper.py: every assertion is
on a value (the truth file's text, a cell, a row group's size, a digest, a one-line message).
"""

import codecs
import csv
import hashlib
import io
import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from labelguard.errors import BadInput, DatasetMissing, SchemaViolation
from labelguard.tasks.dataset import DATA_KEY, HOLDOUT, MANIFEST_KEY, load_verified, seal_dataset, write_dataset
from labelguard.tasks.manifest import ColumnSpec, DatasetRef, labels_digest, load_signing_key, key_id, load_verify_key, sign_manifest
from labelguard.tasks.storage import LocalStore, open_store
from labelguard.tasks.synthetic import make_reviews
from labelguard.tasks.tamper import _cell, encode_like, poison_file, tamper

FIX_TARGET = "point at a dataset written by `labelguard ingest` or at a .parquet/.csv object"


def _truth(path):
    return json.loads(path.read_text())


def _flipped(path):
    return {f["id"]: (f["old"], f["new"]) for f in _truth(path)["flipped"]}


def _parquet(path, frame, groups=None, compression="snappy"):
    schema = pa.Schema.from_pandas(frame, preserve_index=False)
    with pq.ParquetWriter(path, schema, compression=compression) as writer:
        for lo, hi in groups or [(0, len(frame))]:
            writer.write_table(pa.Table.from_pandas(frame.iloc[lo:hi], schema=schema, preserve_index=False))


# ---------------------------------------------------------------- the truth file


def test_truth_file_is_the_exact_json_in_a_new_folder(tmp_path, keys):
    """Keys in order, indent 1, the target as given; parent folders are created."""
    write_dataset(LocalStore(tmp_path / "ds"), make_reviews(400, seed=1), ColumnSpec(), load_signing_key(keys[0]), source={})
    truth = tmp_path / "deep" / "er" / "truth.json"
    res = tamper(str(tmp_path / "ds"), attack="random", rate=0.01, seed=4, truth_out=truth)
    doc = _truth(truth)
    assert list(doc) == ["target", "attack", "rate", "seed", "budget", "note", "flipped"]
    assert (doc["target"], doc["attack"], doc["rate"], doc["seed"], doc["budget"], doc["note"]) == (str(tmp_path / "ds"), "random", 0.01, 4, 4, "")
    assert [f["id"] for f in doc["flipped"]] == res.flipped["id"].tolist() and len(doc["flipped"]) == 4
    assert all(set(f) == {"id", "old", "new"} and {f["old"], f["new"]} == {0, 1} for f in doc["flipped"])
    assert truth.read_text() == json.dumps(doc, indent=1)


def test_truth_file_that_cannot_be_written_is_one_line_and_nothing_changes(tmp_path, keys):
    write_dataset(LocalStore(tmp_path / "ds"), make_reviews(300, seed=1), ColumnSpec(), load_signing_key(keys[0]), source={})
    before = (tmp_path / "ds" / DATA_KEY).read_bytes()
    (tmp_path / "file").write_text("x")
    truth = tmp_path / "file" / "truth.json"  # its parent is a file
    with pytest.raises(BadInput) as err:
        tamper(str(tmp_path / "ds"), attack="random", rate=0.1, seed=0, truth_out=truth)
    assert str(err.value) == f"cannot write truth file {truth}: File exists (fix: choose a writable --truth-out path)"
    assert (tmp_path / "ds" / DATA_KEY).read_bytes() == before  # the truth comes first, the objects after


def test_existing_truth_file_message(tmp_path):
    obj = tmp_path / "r.parquet"
    make_reviews(100, seed=1).to_parquet(obj)
    (tmp_path / "t.json").write_text("{}")
    with pytest.raises(BadInput) as err:
        tamper(str(obj), attack="random", rate=0.1, seed=0, truth_out=tmp_path / "t.json")
    assert str(err.value) == f"truth file {tmp_path / 't.json'} already exists (fix: choose a new --truth-out path)"
    assert (tmp_path / "t.json").read_text() == "{}"


# ---------------------------------------------------------------- what the target is


def test_target_with_trailing_slash_and_a_bare_object_name(tmp_path, keys, monkeypatch):
    """Trailing slashes are dropped, and only slashes (a folder may end in X)."""
    write_dataset(LocalStore(tmp_path / "dsX"), make_reviews(300, seed=2), ColumnSpec(), load_signing_key(keys[0]), source={})
    tamper(str(tmp_path / "dsX") + "/", attack="random", rate=0.02, seed=0, truth_out=tmp_path / "t1.json")
    assert len(_flipped(tmp_path / "t1.json")) == 6
    assert load_verified(open_store(str(tmp_path / "dsX")), load_verify_key(keys[1])).code == "digest-mismatch"
    make_reviews(100, seed=4).to_csv(tmp_path / "obj.csv", index=False)
    tamper(str(tmp_path / "obj.csv") + "/", attack="random", rate=0.1, seed=0, truth_out=tmp_path / "t3.json")
    assert len(_flipped(tmp_path / "t3.json")) == 10
    monkeypatch.chdir(tmp_path)  # an object named without a folder lives in the current directory
    make_reviews(200, seed=3).to_parquet(tmp_path / "Reviews.PARQUET", index=False)
    tamper("Reviews.PARQUET", attack="random", rate=0.05, seed=1, truth_out=tmp_path / "t2.json")
    after = pd.read_parquet(tmp_path / "Reviews.PARQUET")
    before = make_reviews(200, seed=3)
    assert sorted(before.loc[after["label"] != before["label"], "review_id"]) == sorted(_flipped(tmp_path / "t2.json")) and len(_flipped(tmp_path / "t2.json")) == 10


def test_missing_object_and_missing_dataset_are_one_line(tmp_path):
    (tmp_path / "other.txt").write_text("not data")
    with pytest.raises(DatasetMissing) as err:
        tamper(str(tmp_path / "nope.parquet"), attack="random", rate=0.1, seed=0, truth_out=tmp_path / "t.json")
    assert str(err.value) == f"no object 'nope.parquet' under {tmp_path} (fix: {FIX_TARGET})"
    with pytest.raises(DatasetMissing) as err:  # objects there, but neither a manifest nor data.parquet
        tamper(str(tmp_path), attack="random", rate=0.1, seed=0, truth_out=tmp_path / "t.json")
    assert str(err.value) == f"no dataset at {tmp_path} (fix: {FIX_TARGET})"
    assert not (tmp_path / "t.json").exists()


def test_unsigned_data_object_is_tampered_with_the_given_columns(tmp_path):
    """A folder holding data.parquet and no manifest: the object is attacked by the named columns."""
    frame = make_reviews(300, seed=5).rename(columns={"review_id": "rid", "label": "y"})
    (tmp_path / "raw").mkdir()
    frame.to_parquet(tmp_path / "raw" / DATA_KEY, index=False)
    tamper(str(tmp_path / "raw"), attack="random", rate=0.1, seed=0, truth_out=tmp_path / "t.json", id_col="rid", label_col="y")
    after = pd.read_parquet(tmp_path / "raw" / DATA_KEY)
    assert sorted(frame.loc[after["y"] != frame["y"], "rid"]) == sorted(_flipped(tmp_path / "t.json")) and len(_flipped(tmp_path / "t.json")) == 30


def test_manifest_without_objects_falls_back_to_data_object(tmp_path, keys):
    """A signed document that lists no objects (not a dataset manifest) does not hide data.parquet."""
    store = LocalStore(tmp_path / "ds")
    frame = make_reviews(200, seed=6)
    store.put(DATA_KEY, frame.to_parquet(index=False))
    store.put(MANIFEST_KEY, sign_manifest({"note": "no objects here"}, load_signing_key(keys[0])).to_bytes())
    tamper(str(tmp_path / "ds"), attack="random", rate=0.05, seed=2, truth_out=tmp_path / "t.json")
    after = pd.read_parquet(tmp_path / "ds" / DATA_KEY)
    assert sorted(frame.loc[after["label"] != frame["label"], "review_id"]) == sorted(_flipped(tmp_path / "t.json")) and len(_flipped(tmp_path / "t.json")) == 10


def test_holdout_part_is_tampered_at_its_root_keys(tmp_path, keys):
    """A part's manifest names keys relative to the dataset root (holdout/data.parquet): the edit lands there."""
    root = LocalStore(tmp_path / "ds")
    sign = load_signing_key(keys[0])
    write_dataset(root, make_reviews(300, seed=7), ColumnSpec(), sign, source={}, dataset=DatasetRef("ds", "data"))
    holdout = make_reviews(200, seed=8)
    write_dataset(root.child(HOLDOUT), holdout, ColumnSpec(), sign, source={}, dataset=DatasetRef("ds", "holdout", HOLDOUT))
    data_before = (tmp_path / "ds" / DATA_KEY).read_bytes()
    tamper(str(tmp_path / "ds" / HOLDOUT), attack="random", rate=0.05, seed=0, truth_out=tmp_path / "t.json", forge_manifest=True)
    after = pd.read_parquet(tmp_path / "ds" / HOLDOUT / DATA_KEY)
    assert sorted(holdout.loc[after["label"] != holdout["label"], "review_id"]) == sorted(_flipped(tmp_path / "t.json")) and len(_flipped(tmp_path / "t.json")) == 10
    assert (tmp_path / "ds" / DATA_KEY).read_bytes() == data_before
    forged = json.loads((tmp_path / "ds" / HOLDOUT / MANIFEST_KEY).read_bytes())["payload"]
    assert forged["objects"][0]["key"] == "holdout/data.parquet"
    assert forged["objects"][0]["sha256"] == hashlib.sha256((tmp_path / "ds" / HOLDOUT / DATA_KEY).read_bytes()).hexdigest()
    assert json.loads((tmp_path / "ds" / MANIFEST_KEY).read_bytes())["payload"]["objects"][0]["sha256"] == hashlib.sha256(data_before).hexdigest()


def test_s3_target_uses_the_endpoint_passed(s3_uri, s3_endpoint, tmp_path, keys, monkeypatch):
    store = open_store(s3_uri)
    store.ensure_writable()
    write_dataset(store, make_reviews(300, seed=9), ColumnSpec(), load_signing_key(keys[0]), source={})
    obj_uri = s3_uri + "-raw/reviews.csv"
    open_store(s3_uri + "-raw").put("reviews.csv", make_reviews(100, seed=9).to_csv(index=False).encode())
    monkeypatch.delenv("AWS_ENDPOINT_URL_S3")  # only the argument says where the store is
    monkeypatch.setenv("LABELGUARD_S3_MAX_ATTEMPTS", "1")
    tamper(s3_uri, attack="random", rate=0.02, seed=0, truth_out=tmp_path / "t1.json", endpoint_url=s3_endpoint)
    tamper(obj_uri, attack="random", rate=0.1, seed=0, truth_out=tmp_path / "t2.json", endpoint_url=s3_endpoint)
    assert (len(_flipped(tmp_path / "t1.json")), len(_flipped(tmp_path / "t2.json"))) == (6, 10)
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3_endpoint)
    assert load_verified(open_store(s3_uri), load_verify_key(keys[1])).code == "digest-mismatch"


# ---------------------------------------------------------------- several objects, forged manifests


SPEC3 = ColumnSpec(classes=("neg", "positive"))


def _three_part_lake(tmp_path, keys):
    """Parts of 300, 20 and 20 rows with classes of unequal length; only part-1's rows have polarity
    above 50, and part-1 is plain-encoded and uncompressed, so a flip changes its size."""
    lake = tmp_path / "lake"
    lake.mkdir()
    frame = make_reviews(340, seed=12)
    frame["label"] = frame["label"].map({0: "neg", 1: "positive"})
    frame.loc[300:319, "polarity"] = 100.0
    for i, (lo, hi) in enumerate(((0, 300), (300, 320), (320, 340))):
        # part-0 without dictionaries: a needless rewrite of it would not come out byte-identical
        plain = {"compression": None, "use_dictionary": False} if i == 1 else {"use_dictionary": False} if i == 0 else {}
        frame.iloc[lo:hi].to_parquet(lake / f"part-{i}.parquet", index=False, **plain)
    seal_dataset(LocalStore(lake), load_signing_key(keys[0]), spec=SPEC3, keys=[f"part-{i}.parquet" for i in range(3)])
    return lake, frame


def test_only_objects_holding_flipped_rows_are_rewritten_and_the_forgery_matches_them(tmp_path, keys):
    lake, frame = _three_part_lake(tmp_path, keys)
    before = {i: (lake / f"part-{i}.parquet").read_bytes() for i in range(3)}
    old = json.loads((lake / ("_" + MANIFEST_KEY)).read_bytes())  # a lake sealed in place: "_"-prefixed names
    tamper(str(lake), attack="subset", rate=0.02, seed=3, truth_out=tmp_path / "t.json", forge_manifest=True, options={"where": "polarity > 50"})
    flipped = _flipped(tmp_path / "t.json")
    assert len(flipped) == 7 and set(flipped) <= set(frame["review_id"].iloc[300:320])
    assert (lake / "part-0.parquet").read_bytes() == before[0] and (lake / "part-2.parquet").read_bytes() == before[2]
    part1 = pd.read_parquet(lake / "part-1.parquet")
    assert part1["review_id"].tolist() == frame["review_id"].iloc[300:320].tolist()
    assert {r: (o, n) for r, o, n in zip(part1["review_id"], frame["label"].iloc[300:320], part1["label"]) if o != n} == flipped
    assert not (lake / MANIFEST_KEY).exists()  # the forgery replaces the sealed manifest where it is
    new = json.loads((lake / ("_" + MANIFEST_KEY)).read_bytes())
    assert (new["signature"], new["key_id"]) == (old["signature"], old["key_id"])  # the old signature stays
    objects = {o["key"]: o for o in new["payload"]["objects"]}
    for i in range(3):
        data = (lake / f"part-{i}.parquet").read_bytes()
        assert (objects[f"part-{i}.parquet"]["sha256"], objects[f"part-{i}.parquet"]["bytes"]) == (hashlib.sha256(data).hexdigest(), len(data))
    assert objects["part-0.parquet"] == old["payload"]["objects"][0]
    assert objects["part-1.parquet"]["bytes"] != old["payload"]["objects"][1]["bytes"]  # the flips changed its size
    assert pq.ParquetFile(lake / "part-1.parquet").metadata.row_group(0).column(1).compression == "UNCOMPRESSED"
    after = pd.concat([pd.read_parquet(lake / f"part-{i}.parquet") for i in range(3)], ignore_index=True)
    counts = after["label"].value_counts()
    assert new["payload"]["rows"] == 340
    assert new["payload"]["label_histogram"] == {"neg": int(counts["neg"]), "positive": int(counts["positive"])} != old["payload"]["label_histogram"]
    assert new["payload"]["labels_digest"] == labels_digest(after, "review_id", "label") != old["payload"]["labels_digest"]
    unchanged = {k for k in old["payload"] if old["payload"][k] == new["payload"][k]}
    assert set(old["payload"]) - unchanged == {"objects", "label_histogram", "labels_digest"}
    rep = load_verified(LocalStore(lake), load_verify_key(keys[1]))
    assert rep.code == "bad-signature" and rep.manifest.payload == new["payload"]
    assert sorted(rep.suspect_ids) == sorted(flipped)  # the separately signed sidecar still names the rows


def test_forged_labels_digest_is_the_one_a_resigned_manifest_verifies_with(tmp_path, keys, other_keys):
    """Re-signed under the attacker's key, the forged manifest is self-consistent: every field recomputed."""
    lake, _ = _three_part_lake(tmp_path, keys)
    tamper(str(lake), attack="random", rate=0.05, seed=1, truth_out=tmp_path / "t.json", resign_key=load_signing_key(other_keys[0]))
    rep = load_verified(LocalStore(lake), load_verify_key(other_keys[1]))
    # every data object matches the forged manifest; only the sidecar's own signature is still the real key's
    assert rep.code == "unknown-key" and rep.suspect_ids == [] and len(rep.frame) == 340
    assert rep.detail.startswith(f"row sidecar signature _rows.sig.json is signed by key {key_id(load_verify_key(keys[1]))},")


# ---------------------------------------------------------------- encode_like: layout and cells


def test_cell_writes_integers_without_a_decimal_point():
    assert [_cell(1.0), _cell(np.float64(-2.0)), _cell(0.5), _cell(np.int64(3)), _cell("pos"), _cell(True)] == ["1", "-2", "0.5", "3", "pos", "True"]


def test_encode_like_csv_sniffs_the_dialect_when_none_is_given(tmp_path):
    frame = pd.DataFrame({"review_id": ["a", "b", "c"], "label": [1.0, 0.0, 1.0], "polarity": [0.5, -1.25, 2.0]})
    original = codecs.BOM_UTF8 + "review_id;label;polarity\r\na;1;0.5\r\nb;0;-1.25\r\nc;1;2.0\r\n".encode()
    flipped = frame.assign(label=[0.0, 0.0, 1.0])
    out = encode_like(original, "x.csv", flipped, ColumnSpec(), pd.Series([True, False, False]))
    assert out == codecs.BOM_UTF8 + "review_id;label;polarity\r\na;0;0.5\r\nb;0;-1.25\r\nc;1;2.0\r\n".encode()


def test_encode_like_csv_quotes_labels_the_way_csv_needs(tmp_path):
    """String classes holding the delimiter and quotes are written as valid, re-readable cells."""
    text = 'review_id,label,polarity\r\n1,"good, really",0.5\r\n2,"say ""meh""",1.5\r\n3,bad,2.5\r\n'
    frame = pd.DataFrame({"review_id": [1, 2, 3], "label": ["good, really", 'say "meh"', "bad"], "polarity": [0.5, 1.5, 2.5]})
    flipped = frame.assign(label=['say "meh"', "good, really", "bad"])
    out = encode_like(text.encode(), "x.csv", flipped, ColumnSpec(), pd.Series([True, True, False])).decode()
    assert out == 'review_id,label,polarity\r\n1,"say ""meh""",0.5\r\n2,"good, really",1.5\r\n3,bad,2.5\r\n'
    assert [r[1] for r in csv.reader(io.StringIO(out))][1:] == ['say "meh"', "good, really", "bad"]


def test_encode_like_parquet_keeps_schema_metadata_index_and_compression():
    """Arrow schema with its pandas metadata, no index column added even for a shifted index, codec per column."""
    frame = make_reviews(50, seed=1)
    sink = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), sink, compression="zstd")
    original = sink.getvalue()
    flipped = frame.assign(label=1 - frame["label"]).set_axis(range(100, 150))  # an index a caller may carry
    out = encode_like(original, "x.parquet", flipped, ColumnSpec(), pd.Series([True] * 50))
    a, b = pq.ParquetFile(pa.BufferReader(original)), pq.ParquetFile(pa.BufferReader(out))
    assert b.schema_arrow.equals(a.schema_arrow, check_metadata=True)
    assert b.schema_arrow.names == list(frame.columns)
    assert [b.metadata.row_group(0).column(c).compression for c in range(b.metadata.num_columns)] == ["ZSTD"] * len(frame.columns)
    back = pq.read_table(pa.BufferReader(out)).to_pandas()
    assert back.index.tolist() == list(range(50)) and back["label"].tolist() == (1 - frame["label"]).tolist()


def test_encode_like_parquet_keeps_a_row_group_over_a_million_rows():
    """One row group of 1,100,000 rows stays one row group (not the writer's default of 1,048,576)."""
    n = 1_100_000
    frame = pd.DataFrame({"review_id": np.arange(n, dtype=np.int32), "label": np.zeros(n, dtype=np.int8)})
    sink = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), sink, row_group_size=n, compression="lz4")
    changed = np.zeros(n, dtype=bool)
    changed[[0, n - 1]] = True
    out = encode_like(sink.getvalue(), "big.parquet", frame.assign(label=changed.astype(np.int8)), ColumnSpec(feature_cols=()), pd.Series(changed))
    meta = pq.ParquetFile(pa.BufferReader(out)).metadata
    assert [meta.row_group(i).num_rows for i in range(meta.num_row_groups)] == [n]
    assert meta.row_group(0).column(1).compression == pq.ParquetFile(pa.BufferReader(sink.getvalue())).metadata.row_group(0).column(1).compression
    labels = pq.read_table(pa.BufferReader(out), columns=["label"]).column(0).to_numpy()
    assert labels[0] == 1 and labels[-1] == 1 and int(labels.sum()) == 2


def test_tamper_keeps_one_row_groups_and_string_labels(tmp_path):
    """Row groups 1/299 (a one-row group stays one row) and string classes written as the same strings."""
    frame = make_reviews(300, seed=13)
    frame["label"] = frame["label"].map({0: "neg", 1: "pos"})
    path = tmp_path / "obj.parquet"
    _parquet(path, frame, groups=[(0, 1), (1, 300)], compression="zstd")
    schema = pq.read_schema(path)
    tamper(str(path), attack="random", rate=0.1, seed=5, truth_out=tmp_path / "t.json")
    meta = pq.ParquetFile(path).metadata
    assert [meta.row_group(i).num_rows for i in range(meta.num_row_groups)] == [1, 299]
    after = pd.read_parquet(path)
    flipped = _flipped(tmp_path / "t.json")
    assert len(flipped) == 30
    assert {r: (o, n) for r, o, n in zip(after["review_id"], frame["label"], after["label"]) if o != n} == flipped
    assert set(after["label"]) == {"neg", "pos"} and pq.read_schema(path).equals(schema, check_metadata=True)


# ---------------------------------------------------------------- poison at the source


def test_poison_parquet_copy_keeps_layout_and_truth_names_the_source(tmp_path):
    frame = make_reviews(500, seed=14)
    src = tmp_path / "src.parquet"
    _parquet(src, frame, groups=[(0, 200), (200, 500)], compression="gzip")
    out = tmp_path / "a" / "b" / "poisoned.parquet"  # folders are created
    res = poison_file(src, out, attack="random", rate=0.04, seed=2, truth_out=tmp_path / "t" / "truth.json")
    meta = pq.ParquetFile(out).metadata
    assert [meta.row_group(i).num_rows for i in range(meta.num_row_groups)] == [200, 300]
    assert meta.row_group(1).column(2).compression == "GZIP"
    assert pq.read_schema(out).equals(pq.read_schema(src), check_metadata=True)
    after = pd.read_parquet(out)
    assert after.drop(columns="label").equals(frame.drop(columns="label"))
    doc = _truth(tmp_path / "t" / "truth.json")
    assert doc["target"] == str(src) and len(doc["flipped"]) == 20 == len(res.flipped)
    assert {r: (o, n) for r, o, n in zip(after["review_id"], frame["label"], after["label"]) if o != n} == _flipped(tmp_path / "t" / "truth.json")


def test_poison_without_truth_file_writes_only_the_copy(tmp_path, monkeypatch):
    src = tmp_path / "src" / "REVIEWS.CSV"
    src.parent.mkdir()
    make_reviews(100, seed=15).to_csv(src, index=False)
    monkeypatch.chdir(tmp_path / "src")
    res = poison_file(src, tmp_path / "out.csv", attack="random", rate=0.1, seed=0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv", "src"] and sorted(p.name for p in src.parent.iterdir()) == ["REVIEWS.CSV"]
    before, after = pd.read_csv(src), pd.read_csv(tmp_path / "out.csv")
    assert (before["label"] != after["label"]).sum() == len(res.flipped) == 10


@pytest.mark.parametrize(
    "src_name, out_name, message",
    [
        ("missing.csv", "out.csv", "no such file: {src} (fix: pass an existing .csv or .parquet file)"),
        ("r.csv", "out.parquet", "r.csv -> out.parquet: need .csv or .parquet on both sides, same type (fix: name --out with the input's suffix)"),
        ("r.json", "out.json", "r.json -> out.json: need .csv or .parquet on both sides, same type (fix: name --out with the input's suffix)"),
        ("r.csv", "taken.csv", "{out} already exists (fix: choose a new output path; poison never overwrites)"),
    ],
)
def test_poison_refusals_are_one_line_and_write_nothing(tmp_path, src_name, out_name, message):
    for name in ("r.csv", "r.json"):
        make_reviews(50, seed=1).to_csv(tmp_path / name, index=False)
    (tmp_path / "taken.csv").write_text("mine")
    listing = sorted(p.name for p in tmp_path.iterdir())
    src, out = tmp_path / src_name, tmp_path / out_name
    with pytest.raises(BadInput) as err:
        poison_file(src, out, attack="random", rate=0.1, seed=0, truth_out=tmp_path / "t.json")
    assert str(err.value) == message.format(src=src, out=out)
    assert sorted(p.name for p in tmp_path.iterdir()) == listing and (tmp_path / "taken.csv").read_text() == "mine"


def test_poison_refuses_an_existing_truth_file_before_writing_the_copy(tmp_path):
    make_reviews(50, seed=1).to_csv(tmp_path / "r.csv", index=False)
    (tmp_path / "t.json").write_text("{}")
    with pytest.raises(BadInput) as err:
        poison_file(tmp_path / "r.csv", tmp_path / "p.csv", attack="random", rate=0.1, seed=0, truth_out=tmp_path / "t.json")
    assert str(err.value) == f"{tmp_path / 't.json'} already exists (fix: choose a new output path; poison never overwrites)"
    assert not (tmp_path / "p.csv").exists()


def test_poison_passes_delimiter_encoding_columns_options_and_positive_class(tmp_path):
    """An EBCDIC file with ':' between cells is read only with the named codec and delimiter; named
    columns, a segment predicate and a positive class of three reach the attack."""
    frame = make_reviews(300, seed=16).rename(columns={"review_id": "rid", "label": "grade"})
    frame["grade"] = np.where(frame["polarity"] > 1, "b", np.where(frame["polarity"] < -1, "a", "c"))
    text = frame.to_csv(index=False, sep=":")
    src = tmp_path / "r.csv"
    src.write_bytes(text.encode("cp500"))
    out = tmp_path / "p.csv"
    res = poison_file(
        src, out, attack="targeted", rate=0.05, seed=0, truth_out=tmp_path / "t.json", id_col="rid", label_col="grade",
        delimiter=":", encoding="cp500", positive_class="b",
    )
    flipped = _flipped(tmp_path / "t.json")
    assert len(flipped) == 15 == len(res.flipped) and {o for o, _ in flipped.values()} == {"b"}
    lines_before, lines_after = text.splitlines(), out.read_bytes().decode("cp500").splitlines()
    assert len(lines_before) == len(lines_after) and lines_before[0] == lines_after[0]
    changed = [(a, b) for a, b in zip(lines_before, lines_after) if a != b]
    assert len(changed) == 15
    for a, b in changed:
        ca, cb = a.split(":"), b.split(":")
        assert ca[0] in flipped and cb[1] == flipped[ca[0]][1] and ca[:1] + ca[2:] == cb[:1] + cb[2:]
    res2 = poison_file(
        src, tmp_path / "p2.csv", attack="subset", rate=0.05, seed=0, id_col="rid", label_col="grade",
        delimiter=":", encoding="cp500", options={"where": "polarity < -1"},
    )
    assert len(res2.flipped) == 15 and set(res2.flipped["old"]) == {"a"}


def test_poison_ignores_how_times_are_written_but_refuses_what_ingest_refuses(tmp_path):
    frame = make_reviews(100, seed=17)
    frame["created_at"] = "last tuesday"  # not a time: a poisoner does not care
    frame.to_csv(tmp_path / "r.csv", index=False)
    res = poison_file(tmp_path / "r.csv", tmp_path / "p.csv", attack="random", rate=0.1, seed=0)
    assert len(res.flipped) == 10 and pd.read_csv(tmp_path / "p.csv")["created_at"].eq("last tuesday").all()
    dup = make_reviews(100, seed=17)
    dup.loc[5, "review_id"] = dup.loc[4, "review_id"]
    dup.to_csv(tmp_path / "d.csv", index=False)
    with pytest.raises(SchemaViolation):
        poison_file(tmp_path / "d.csv", tmp_path / "pd.csv", attack="random", rate=0.1, seed=0)
    assert not (tmp_path / "pd.csv").exists()


def test_poison_timestamp_column_is_not_a_feature(tmp_path):
    """created_at is the time column, not a feature, even as epoch seconds (a number): a model-aware
    attack sees the same features whether or not the column is in the file."""
    frame = make_reviews(300, seed=18)
    frame["created_at"] = frame["created_at"].astype("int64") // 10**9
    frame.to_csv(tmp_path / "with.csv", index=False)
    frame.drop(columns="created_at").to_csv(tmp_path / "without.csv", index=False)
    a = poison_file(tmp_path / "with.csv", tmp_path / "pa.csv", attack="nearest", rate=0.05, seed=0)
    b = poison_file(tmp_path / "without.csv", tmp_path / "pb.csv", attack="nearest", rate=0.05, seed=0)
    assert a.flipped["id"].tolist() == b.flipped["id"].tolist() and len(a.flipped) == 15


def test_poison_keeps_ids_as_written(tmp_path):
    """Ids like 007 stay 007 in the truth file (README: ids are reported exactly as written)."""
    frame = make_reviews(100, seed=19)
    frame["review_id"] = [f"{i:03d}" for i in range(100)]
    frame.to_csv(tmp_path / "r.csv", index=False)
    res = poison_file(tmp_path / "r.csv", tmp_path / "p.csv", attack="random", rate=0.1, seed=3, truth_out=tmp_path / "t.json")
    ids = [f["id"] for f in _truth(tmp_path / "t.json")["flipped"]]
    assert len(ids) == 10 and all(isinstance(i, str) and len(i) == 3 for i in ids) and ids == res.flipped["id"].tolist()
    after = pd.read_csv(tmp_path / "p.csv", dtype=str)
    assert sorted(after.loc[after["label"] != frame["label"].astype(str), "review_id"]) == sorted(ids)


def test_poison_reads_with_the_encoding_passed(tmp_path):
    """UTF-16 without a byte-order mark is not recognisable: only --encoding reads it, and the copy keeps it."""
    frame = make_reviews(100, seed=20)
    text = frame.to_csv(index=False)
    (tmp_path / "r.csv").write_bytes(text.encode("utf-16-le"))
    res = poison_file(tmp_path / "r.csv", tmp_path / "p.csv", attack="random", rate=0.1, seed=0, encoding="utf-16-le")
    before, after = text.splitlines(), (tmp_path / "p.csv").read_bytes().decode("utf-16-le").splitlines()
    assert len(res.flipped) == 10 == sum(a != b for a, b in zip(before, after)) and len(before) == len(after)


def test_poison_rewrites_only_the_flipped_label_cells(tmp_path):
    """Labels written as 1.0/0.0: every row the attack did not flip stays byte for byte as it was."""
    frame = make_reviews(100, seed=21)
    frame["label"] = frame["label"].astype(float)
    text = frame.to_csv(index=False)
    assert ",1.0," in text
    (tmp_path / "r.csv").write_text(text)
    res = poison_file(tmp_path / "r.csv", tmp_path / "p.csv", attack="random", rate=0.1, seed=0)
    flipped = set(res.flipped["id"])
    for old, new in zip(text.splitlines()[1:], (tmp_path / "p.csv").read_text().splitlines()[1:]):
        assert (old != new) == (old.split(",")[0] in flipped)



@pytest.mark.parametrize("spelling", [{0: "0.0", 1: "1.0"}, {0: "0", 1: "1"}, {0: "00", 1: "01.00"}])
def test_poison_spells_a_flipped_label_as_the_file_spells_that_class(tmp_path, spelling):
    """A flipped cell is written as the unchanged rows write its new class (break-it r9 F12: `0` among `0.0`/`1.0`)."""
    frame = make_reviews(100, seed=23)
    frame["label"] = frame["label"].map(spelling)
    frame.to_csv(tmp_path / "r.csv", index=False)
    res = poison_file(tmp_path / "r.csv", tmp_path / "p.csv", attack="random", rate=0.1, seed=0, truth_out=tmp_path / "t.json")
    after = pd.read_csv(tmp_path / "p.csv", dtype=str)
    changed = after["label"] != frame["label"]
    assert changed.sum() == len(res.flipped) == 10
    assert sorted(after.loc[changed, "label"].unique()) == sorted(set(frame.loc[changed, "label"].map({spelling[0]: spelling[1], spelling[1]: spelling[0]})))
    assert set(after["label"]) == set(spelling.values())

def test_tamper_passes_encoding_and_positive_class(tmp_path):
    """An at-rest UTF-16 CSV object is read with --encoding; a named positive class of three is the one flipped."""
    frame = make_reviews(120, seed=22)
    frame["label"] = np.where(frame["polarity"] > 1, "b", np.where(frame["polarity"] < -1, "a", "c"))
    text = frame.to_csv(index=False)
    obj = tmp_path / "r.csv"
    obj.write_bytes(text.encode("utf-16-le"))
    res = tamper(str(obj), attack="targeted", rate=0.05, seed=0, truth_out=tmp_path / "t.json", encoding="utf-16-le", positive_class="b")
    assert len(res.flipped) == 6 and set(res.flipped["old"]) == {"b"}
    after = obj.read_bytes().decode("utf-16-le").splitlines()
    assert sum(a != b for a, b in zip(text.splitlines(), after)) == 6


def test_forged_then_resigned_manifest_keeps_the_dataset_identity_and_sealed_source(tmp_path, keys, other_keys):
    """What the attacker re-signs is the sealed manifest with only the forged fields changed."""
    lake, _ = _three_part_lake(tmp_path, keys)
    old = json.loads((lake / ("_" + MANIFEST_KEY)).read_bytes())["payload"]
    assert old["source"] == {"kind": "sealed", "previous_version": None}
    tamper(str(lake), attack="random", rate=0.05, seed=1, truth_out=tmp_path / "t.json", resign_key=load_signing_key(other_keys[0]))
    new = json.loads((lake / ("_" + MANIFEST_KEY)).read_bytes())["payload"]
    assert (new["source"], new["dataset"], new["columns"]) == (old["source"], old["dataset"], old["columns"])
