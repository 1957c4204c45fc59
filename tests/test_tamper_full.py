"""Tamper behaviour that the first full mutation run of tasks/tamper.py (issue 13, ninth session)
found untested: a poisoned Parquet file keeps a string or dictionary label type and the first
column's codec, and poison reads the columns its ``--text-cols``/``--ignore-cols`` choose."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from labelguard.tasks.attacks import flip_labels
from labelguard.tasks.sources import infer_spec
from labelguard.tasks.synthetic import make_reviews
from labelguard.tasks.tamper import poison_file


@pytest.mark.parametrize("kind", ["string", "dictionary"])
def test_poisoned_parquet_keeps_a_string_or_dictionary_label_type(tmp_path, kind):
    df = make_reviews(100, seed=3)
    words = pa.array(df["label"].map({0: "neg", 1: "pos"}).tolist(), pa.string())
    labels = words if kind == "string" else words.dictionary_encode()
    table = pa.Table.from_pandas(df.drop(columns="label"), preserve_index=False).append_column("label", labels)
    pq.write_table(table, tmp_path / "in.parquet")
    res = poison_file(tmp_path / "in.parquet", tmp_path / "out.parquet", attack="random", rate=0.1, seed=1)
    assert pq.read_schema(tmp_path / "out.parquet") == pq.read_schema(tmp_path / "in.parquet")
    after = pq.read_table(tmp_path / "out.parquet").to_pandas().set_index("review_id")["label"].astype(str)
    assert after.loc[res.flipped_ids].tolist() == res.flipped["new"].tolist()
    assert len(res.flipped) == 10 and (after != words.to_pandas().set_axis(after.index)).sum() == 10


def test_poisoned_parquet_is_written_with_the_first_columns_codec(tmp_path):
    df = make_reviews(100, seed=3)  # review_id first, then label
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), tmp_path / "in.parquet",
                   compression={c: ("zstd" if c == "review_id" else "snappy") for c in df.columns})
    poison_file(tmp_path / "in.parquet", tmp_path / "out.parquet", attack="random", rate=0.1, seed=1)
    group = pq.ParquetFile(tmp_path / "out.parquet").metadata.row_group(0)
    assert [group.column(j).compression for j in range(group.num_columns)] == ["ZSTD"] * len(df.columns)


def test_poison_ignores_the_columns_it_is_told_to(tmp_path):
    df = make_reviews(200, seed=3)
    df.to_csv(tmp_path / "in.csv", index=False)
    res = poison_file(tmp_path / "in.csv", tmp_path / "out.csv", attack="subset", rate=0.03, seed=1, ignore_cols=["polarity"])
    # the default segment is the top 3 % of the first feature: intensity, once polarity is ignored
    top = df.nlargest(6, "intensity")["review_id"]
    assert sorted(res.flipped_ids) == sorted(top)


def test_poison_featurizes_the_text_columns_it_is_given(tmp_path):
    df = make_reviews(200, seed=3)
    df["note"] = np.random.default_rng(0).choice(["good value", "bad fit", "late again", "great"], size=200)
    df.to_csv(tmp_path / "in.csv", index=False)
    res = poison_file(tmp_path / "in.csv", tmp_path / "out.csv", attack="cluster", rate=0.1, seed=2, text_cols=["note"])
    frame = pd.read_csv(tmp_path / "in.csv")
    with_text = infer_spec(frame, id_col="review_id", label_col="label", timestamp_col="created_at", text_cols=["note"])
    without = infer_spec(frame, id_col="review_id", label_col="label", timestamp_col="created_at")
    assert (with_text.text_cols, without.text_cols) == (("note",), ())  # a short-word column is not free text unless named
    expected = flip_labels(frame, with_text, attack="cluster", rate=0.1, seed=2).flipped_ids
    assert sorted(res.flipped_ids) == sorted(expected)
    assert sorted(expected) != sorted(flip_labels(frame, without, attack="cluster", rate=0.1, seed=2).flipped_ids)


def test_tamper_of_an_unsigned_csv_reads_its_ids_as_written(tmp_path):
    """Ids with leading zeros in a column named by --id-col: read as text, as ingest reads them."""
    from labelguard.tasks.tamper import tamper

    df = make_reviews(40, seed=5).rename(columns={"review_id": "rid", "label": "y"})
    df["rid"] = [f"{i:04d}" for i in range(40)]
    (tmp_path / "d").mkdir()
    df.to_csv(tmp_path / "d" / "rows.csv", index=False)
    res = tamper(str(tmp_path / "d" / "rows.csv"), attack="random", rate=0.1, seed=3, truth_out=tmp_path / "t.json",
                 id_col="rid", label_col="y")
    assert len(res.flipped_ids) == 4 and all(isinstance(i, str) and len(i) == 4 for i in res.flipped_ids)
    after = pd.read_csv(tmp_path / "d" / "rows.csv", dtype={"rid": str}).set_index("rid")["y"]
    assert sorted(after.index[after != df.set_index("rid")["y"]]) == sorted(res.flipped_ids)


@pytest.mark.parametrize("parts", [2, 3])
def test_tamper_of_a_lake_rewrites_the_last_part_holding_the_flips(tmp_path, keys, parts):
    """Parts of 20 rows each; only the last part's rows have polarity above 50, so every flip lands in it."""
    import json

    from labelguard.tasks.dataset import seal_dataset
    from labelguard.tasks.manifest import ColumnSpec, load_signing_key
    from labelguard.tasks.storage import LocalStore
    from labelguard.tasks.tamper import tamper

    lake = tmp_path / "lake"
    lake.mkdir()
    frame = make_reviews(20 * parts, seed=12)
    last = slice(20 * (parts - 1), 20 * parts)
    frame.loc[frame.index[last], "polarity"] = 100.0
    for i in range(parts):
        frame.iloc[20 * i:20 * (i + 1)].to_parquet(lake / f"part-{i}.parquet", index=False)
    seal_dataset(LocalStore(lake), load_signing_key(keys[0]), spec=ColumnSpec(), keys=[f"part-{i}.parquet" for i in range(parts)])
    before = {i: (lake / f"part-{i}.parquet").read_bytes() for i in range(parts - 1)}
    tamper(str(lake), attack="subset", rate=0.1, seed=3, truth_out=tmp_path / "t.json", options={"where": "polarity > 50"})
    truth = json.loads((tmp_path / "t.json").read_text())
    assert truth["budget"] == 2 * parts and len(truth["flipped"]) == 2 * parts
    assert all((lake / f"part-{i}.parquet").read_bytes() == before[i] for i in range(parts - 1))
    after = pd.read_parquet(lake / f"part-{parts - 1}.parquet")
    changed = after["review_id"][after["label"].to_numpy() != frame["label"].iloc[last].to_numpy()]
    assert sorted(changed) == sorted(f["id"] for f in truth["flipped"])


def test_tamper_reads_an_unsigned_csv_with_the_delimiter_it_is_given(tmp_path):
    """Colon-separated, with commas in a text cell: the sniffer alone takes the commas for the separator."""
    from labelguard.tasks.tamper import tamper

    df = make_reviews(40, seed=5).drop(columns="created_at")
    df["note"] = "a, b, c, d"
    (tmp_path / "d").mkdir()
    df.to_csv(tmp_path / "d" / "rows.csv", index=False, sep=":")
    res = tamper(str(tmp_path / "d" / "rows.csv"), attack="random", rate=0.1, seed=3, truth_out=tmp_path / "t.json", delimiter=":")
    after = pd.read_csv(tmp_path / "d" / "rows.csv", sep=":").set_index("review_id")["label"]
    assert len(res.flipped_ids) == 4
    assert sorted(after.index[after != df.set_index("review_id")["label"]]) == sorted(res.flipped_ids)


# ---------------------------------------------------------------- the fresh-clone run's survivors (sixteenth session)


def _coded_csv(path, n=40):
    """Rows keyed ``rid``, labelled ``y`` with zero-padded codes 001/002: read as numbers they would be 1 and 2."""
    df = make_reviews(n, seed=5).drop(columns="created_at").rename(columns={"review_id": "rid", "label": "y"})
    df["y"] = df["y"].map({0: "001", 1: "002"})
    df.to_csv(path, index=False)
    return df


def _cells(path, id_col):
    rows = pd.read_csv(path, dtype=str)
    return dict(zip(rows[id_col], rows["y"]))


def test_tamper_of_a_csv_object_writes_zero_padded_label_codes_as_the_file_does(tmp_path):
    """A CSV object named directly, its label column given by --label-col: the flipped cells are written `001`/`002`
    like the rest, and the truth names the codes, not 1 and 2 (resolve_target's and read_bytes' label column)."""
    import json

    from labelguard.tasks.tamper import tamper

    (tmp_path / "d").mkdir()
    df = _coded_csv(tmp_path / "d" / "rows.csv")
    before = _cells(tmp_path / "d" / "rows.csv", "rid")
    res = tamper(str(tmp_path / "d" / "rows.csv"), attack="random", rate=0.1, seed=3, truth_out=tmp_path / "t.json",
                 id_col="rid", label_col="y")
    flipped = json.loads((tmp_path / "t.json").read_text())["flipped"]
    assert len(flipped) == 4 and sorted(f["id"] for f in flipped) == sorted(res.flipped_ids)
    assert all((f["old"], f["new"]) in {("001", "002"), ("002", "001")} and before[str(f["id"])] == f["old"] for f in flipped)
    after = _cells(tmp_path / "d" / "rows.csv", "rid")
    assert {k: v for k, v in after.items() if v != before[k]} == {str(f["id"]): f["new"] for f in flipped}
    assert set(after.values()) == {"001", "002"} and len(after) == len(df)


def test_poison_writes_zero_padded_label_codes_as_the_file_does(tmp_path):
    import json

    _coded_csv(tmp_path / "in.csv")
    before = _cells(tmp_path / "in.csv", "rid")
    poison_file(tmp_path / "in.csv", tmp_path / "out.csv", attack="random", rate=0.1, seed=3, truth_out=tmp_path / "t.json",
                id_col="rid", label_col="y")
    flipped = json.loads((tmp_path / "t.json").read_text())["flipped"]
    assert len(flipped) == 4 and all((f["old"], f["new"]) in {("001", "002"), ("002", "001")} for f in flipped)
    after = _cells(tmp_path / "out.csv", "rid")
    assert {k: v for k, v in after.items() if v != before[k]} == {str(f["id"]): f["new"] for f in flipped}


def test_poison_with_id_col_auto_keys_rows_by_position_and_reads_a_column_named_auto_as_ingest_does(tmp_path):
    """--id-col auto: the truth's ids are the rows' 0-based positions (the row_key ingest signs), and a column that
    happens to be named `auto` is a feature read as numbers, as ingest reads it, not an id kept as text."""
    import json

    df = make_reviews(200, seed=3).drop(columns=["review_id", "created_at"])
    rng = np.random.default_rng(4)
    df.insert(0, "auto", [f"{v:03d}" for v in rng.permutation(200)])  # the first feature: subset's default segment
    df.to_csv(tmp_path / "in.csv", index=False)
    res = poison_file(tmp_path / "in.csv", tmp_path / "out.csv", attack="subset", rate=0.03, seed=1, truth_out=tmp_path / "t.json",
                      id_col="auto")
    top = sorted(int(i) for i in np.argsort(-df["auto"].astype(int).to_numpy(), kind="stable")[:6])
    assert sorted(res.flipped_ids) == top
    truth = json.loads((tmp_path / "t.json").read_text())
    assert sorted(f["id"] for f in truth["flipped"]) == top
    out = pd.read_csv(tmp_path / "out.csv", dtype={"auto": str})
    assert out["auto"].tolist() == df["auto"].tolist() and "row_key" not in out.columns
    assert sorted(np.nonzero(out["label"].to_numpy() != df["label"].to_numpy())[0].tolist()) == top


def test_a_forged_manifest_has_exactly_the_sealed_manifest_s_fields(tmp_path, keys):
    """The forgery rewrites fields in place: no field is added, and rows is the table's row count."""
    import json

    from labelguard.tasks.dataset import MANIFEST_KEY, seal_dataset
    from labelguard.tasks.manifest import ColumnSpec, load_signing_key
    from labelguard.tasks.storage import LocalStore
    from labelguard.tasks.tamper import tamper

    lake = tmp_path / "lake"
    lake.mkdir()
    frame = make_reviews(40, seed=12)
    for i in range(2):
        frame.iloc[20 * i:20 * (i + 1)].to_parquet(lake / f"part-{i}.parquet", index=False)
    seal_dataset(LocalStore(lake), load_signing_key(keys[0]), spec=ColumnSpec(), keys=["part-0.parquet", "part-1.parquet"])
    old = json.loads((lake / ("_" + MANIFEST_KEY)).read_bytes())["payload"]
    tamper(str(lake), attack="random", rate=0.1, seed=3, truth_out=tmp_path / "t.json", forge_manifest=True)
    new = json.loads((lake / ("_" + MANIFEST_KEY)).read_bytes())["payload"]
    assert sorted(new) == sorted(old) and new["rows"] == old["rows"] == 40
