"""Break-it round 4 findings left open (ingest, readers, seal, snapshot, partitions), each pinned with its exit code
and exact one-line message, on small data of our own."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.clirun import invoke


@pytest.fixture
def env(own_key_env):
    return own_key_env


def pos_neg(n: int, seed: int, prefix: str = "c") -> pd.DataFrame:
    """``n`` rows of two well separated classes spelt pos/neg, text ids ``{prefix}-0000``..."""
    rng = np.random.default_rng(seed)
    y = rng.choice(2, n)
    frame = pd.DataFrame(rng.normal(0, 1, (n, 3)) + 3 * y[:, None], columns=["f0", "f1", "f2"])
    frame.insert(0, "id", [f"{prefix}-{i:04d}" for i in range(n)])
    frame["label"] = np.where(y == 1, "pos", "neg")
    return frame


def files_under(path) -> list[str]:
    return sorted(str(p.relative_to(path)) for p in path.rglob("*"))


def test_a_later_partition_takes_the_positive_class_its_dataset_signed(env, tmp_path):
    """Finding 11: day 2 was refused with 'cannot tell which class is positive' although the dataset's signed
    manifest says 'pos'; naming another class is refused in one line that says whose class it is."""
    from labelguard.tasks.dataset import MANIFEST_KEY
    from labelguard.tasks.manifest import SignedManifest

    for day in (1, 2):
        pos_neg(80, day, prefix=f"d{day}").to_csv(tmp_path / f"day{day}.csv", index=False)
    lake = tmp_path / "lake"
    common = ["--dest", lake, "--id-col", "id", "--label-col", "label"]
    result = invoke("ingest", *common, "--source", tmp_path / "day1.csv", "--positive-class", "pos", "--partition", "date=2026-03-01", env=env)
    assert result.exit_code == 0, result.output
    before = files_under(tmp_path)
    result = invoke("ingest", *common, "--source", tmp_path / "day2.csv", "--positive-class", "neg", "--partition", "date=2026-03-02", env=env)
    assert result.exit_code == 2, result.output
    assert result.output.strip() == (f"error: --positive-class 'neg' differs from the positive class 'pos' that dataset {lake} signed (in holdout) "
                                     f"(fix: leave --positive-class out: every day of {lake} takes the dataset's)")
    assert files_under(tmp_path) == before  # nothing written, the ledger included
    result = invoke("ingest", *common, "--source", tmp_path / "day2.csv", "--partition", "date=2026-03-02", env=env)
    assert result.exit_code == 0, result.output
    signed = SignedManifest.from_bytes((lake / "date=2026-03-02" / MANIFEST_KEY).read_bytes())
    assert signed.spec.positive_class == "pos" and signed.payload["rows"] == 80


def test_decimal_parquet_columns_are_read_as_float_features_and_a_poisoned_copy_keeps_them(env, tmp_path):
    """Finding 12: a Parquet decimal128 column (SQL NUMERIC, money) was silently ignored ('ignored: f1'). It is
    read as a float64 feature; a rewrite of the file (poison, tamper) keeps the column's decimal type and values."""
    import decimal

    import pyarrow.parquet as pq

    from labelguard.tasks.sources import load_source

    frame = pos_neg(60, 3)
    frame["f1"] = [decimal.Decimal(f"{v:.3f}") for v in frame["f1"]]
    frame.to_parquet(tmp_path / "dec.parquet", index=False)
    assert str(pq.read_schema(tmp_path / "dec.parquet").field("f1").type) == "decimal128(4, 3)"
    read, spec, _ = load_source(str(tmp_path / "dec.parquet"), id_col="id", label_col="label", positive_class="pos")
    assert spec.feature_cols == ("f0", "f1", "f2")
    assert read["f1"].dtype == np.float64 and read["f1"].tolist() == [float(v) for v in frame["f1"]]
    result = invoke("poison", tmp_path / "dec.parquet", "--attack", "random", "--rate", "0.1", "--id-col", "id",
                    "--positive-class", "pos", "--out", tmp_path / "p.parquet", env=env)
    assert result.exit_code == 0, result.output
    before, after = pq.read_table(tmp_path / "dec.parquet"), pq.read_table(tmp_path / "p.parquet")
    assert after.schema == before.schema and after.drop_columns(["label"]).equals(before.drop_columns(["label"]))
    assert sum(a != b for a, b in zip(after["label"].to_pylist(), before["label"].to_pylist())) == 6


@pytest.mark.parametrize("kind", ["epoch", "iso"])
def test_empty_timestamp_cells_are_counted_and_named_by_id_and_the_fix_works(env, tmp_path, kind):
    """Finding 13: epoch seconds with a few empty cells read as floats and were refused as 'holds non-integer
    numbers', with fixes (--timestamp-unit, --timestamp-col none) that did not help; ISO text said 'NaT at row 0'."""
    frame = pos_neg(60, 5)
    times = pd.date_range("2026-01-01", periods=60, freq="h", tz="UTC")
    written = [str(int(t.timestamp())) for t in times] if kind == "epoch" else [t.isoformat() for t in times]
    frame["created_at"] = ["" if i in (7, 30, 31) else w for i, w in enumerate(written)]
    frame.to_csv(tmp_path / "gaps.csv", index=False)
    before = files_under(tmp_path)
    args = ["ingest", "--source", tmp_path / "gaps.csv", "--id-col", "id", "--positive-class", "pos", "--dest", tmp_path / "d"]
    result = invoke(*args, env=env)
    assert result.exit_code == 2, result.output
    assert result.output.strip() == ("error: timestamp column 'created_at' has 3 empty cell(s), first at id 'c-0007' "
                                     "(fix: fill them, or pass --timestamp-col none --ignore-cols created_at to keep 'created_at' out of the checks)")
    assert files_under(tmp_path) == before
    result = invoke(*args, "--timestamp-col", "none", "--ignore-cols", "created_at", "--partition", "date=2026-01-01", env=env)
    assert result.exit_code == 0, result.output


def test_the_ledger_check_before_a_refused_ingest_leaves_no_file_or_folder(tmp_path):
    """The writability check created an empty ledger (and its folders) on every run, so a refused ingest, which
    must write nothing, left `keys/ledger.jsonl` behind."""
    from labelguard.tasks.ledger import Ledger

    Ledger(tmp_path / "a" / "b" / "ledger.jsonl").ensure_writable()
    Ledger(tmp_path / "ledger.jsonl").ensure_writable()
    assert files_under(tmp_path) == []


def test_times_with_an_offset_are_stored_utc_aware_and_a_column_mixing_naive_and_offset_times_is_refused(env, tmp_path):
    """Finding 14 (time zones): '2026-01-01 00:00:00+01:00' was stored as a naive 2025-12-31 23:00 (Parquet
    timestamp without tz), and a file mixing naive and offset times was accepted, the naive ones taken as UTC."""
    import pyarrow.parquet as pq

    frame = pos_neg(60, 6)
    frame["created_at"] = [f"2026-01-01 {i // 6:02d}:00:00+01:00" for i in range(60)]
    frame.to_csv(tmp_path / "tz.csv", index=False)
    common = ["--id-col", "id", "--positive-class", "pos", "--holdout-fraction", "0", "--partition", "date=2026-01-01"]
    result = invoke("ingest", "--source", tmp_path / "tz.csv", "--dest", tmp_path / "tz", *common, env=env)
    assert result.exit_code == 0, result.output
    stored = pq.read_table(tmp_path / "tz" / "date=2026-01-01" / "part-00000.parquet")
    assert str(stored.schema.field("created_at").type) == "timestamp[ns, tz=UTC]"
    assert stored["created_at"][0].as_py().isoformat() == "2025-12-31T23:00:00+00:00"
    frame["created_at"] = ["2026-01-01T01:00:00+02:00" if i == 9 else f"2026-01-01T{i // 6:02d}:00:00" for i in range(60)]
    frame.to_csv(tmp_path / "mixed.csv", index=False)
    before = files_under(tmp_path)
    result = invoke("ingest", "--source", tmp_path / "mixed.csv", "--dest", tmp_path / "mixed", *common, env=env)
    assert result.exit_code == 2, result.output
    assert result.output.strip() == ("error: timestamp column 'created_at' mixes times with and without a UTC offset: id 'c-0009' has "
                                     "'2026-01-01T01:00:00+02:00', id 'c-0000' has '2026-01-01T00:00:00' (fix: write every time with its "
                                     "offset (or every time in UTC without one), or --timestamp-col none --ignore-cols created_at)")
    assert files_under(tmp_path) == before


def test_an_empty_feature_cell_is_named_by_the_id_as_written_not_the_row_position(env, tmp_path):
    """Finding 14 (NaN feature): 'an empty cell at row 3' where the row's id is 1003; the label check names the id."""
    frame = pos_neg(40, 7)
    frame["id"] = range(1000, 1040)
    frame.loc[[3, 17], "f1"] = np.nan
    frame.to_csv(tmp_path / "nan.csv", index=False)
    before = files_under(tmp_path)
    result = invoke("ingest", "--source", tmp_path / "nan.csv", "--id-col", "id", "--positive-class", "pos", "--dest", tmp_path / "d", env=env)
    assert result.exit_code == 2, result.output
    assert result.output.strip() == ("error: 2 schema failure(s), first: column 'f1' check 'not_nullable' an empty cell at id 1003 "
                                     "(fix: make every value of feature 'f1' a finite number (no NaN or inf))")
    assert files_under(tmp_path) == before


def test_seal_refuses_parts_that_repeat_ids_naming_an_id_and_both_parts(env, tmp_path):
    """Finding 14 (seal): a part copied twice was sealed ('240 rows'), and verify then fired `schema` on it for ever."""
    lake = tmp_path / "lake"
    lake.mkdir()
    frame = pos_neg(40, 8)
    frame.iloc[:25].to_parquet(lake / "a.parquet", index=False)
    frame.iloc[20:].to_parquet(lake / "b.parquet", index=False)  # rows 20-24 in both
    before = files_under(tmp_path)
    result = invoke("seal", lake, "--id-col", "id", "--label-col", "label", env=env)
    assert result.exit_code == 2, result.output
    assert result.output.strip() == ("error: id 'c-0020' is in both a.parquet and b.parquet (5 repeated id(s) in 45 rows) "
                                     "(fix: seal parts whose ids are unique (drop the copy), or pass --id-col naming a unique column)")
    assert files_under(tmp_path) == before
    (lake / "b.parquet").unlink()
    frame.iloc[25:].to_parquet(lake / "b.parquet", index=False)
    result = invoke("seal", lake, "--id-col", "id", "--label-col", "label", env=env)
    assert result.exit_code == 0, result.output


def test_seal_takes_parts_whose_columns_differ_only_in_order_and_names_an_edit_in_either(env, tmp_path):
    """r3 finding 12 (seal): parts with the same columns in another order (a `select` in the writer), which pyarrow,
    pandas and Spark read as one table, were refused as '(column order)'. They are sealed and read by name."""
    import json

    lake = tmp_path / "lake"
    lake.mkdir()
    frame = pos_neg(60, 9)
    frame.iloc[:30].to_parquet(lake / "a.parquet", index=False)
    frame.iloc[30:][["label", "f2", "id", "f0", "f1"]].to_parquet(lake / "b.parquet", index=False)
    result = invoke("seal", lake, "--id-col", "id", "--label-col", "label", env=env)
    assert result.exit_code == 0, result.output
    assert invoke("verify", lake, "--guards", "manifest,schema", env=env).exit_code == 0
    result = invoke("tamper", lake, "--attack", "random", "--rate", "0.1", "--seed", "3", "--truth-out", tmp_path / "t.json", env=env)
    assert result.exit_code == 0, result.output
    truth = sorted(f["id"] for f in json.loads((tmp_path / "t.json").read_text())["flipped"])
    assert len(truth) == 6 and {int(i[2:]) >= 30 for i in truth} == {False, True}  # flips in both parts
    result = invoke("verify", lake, "--guards", "manifest", "--json", tmp_path / "v.json", env=env)
    assert result.exit_code == 1, result.output
    assert json.loads((tmp_path / "v.json").read_text())["suspect_ids"] == truth


def test_snapshot_refuses_a_table_with_null_labels_naming_the_first_id(pg_url, env, tmp_path):
    """Finding 14 (snapshot): NULL labels were signed into the fingerprint; the file readers refuse empty labels by id."""
    import psycopg

    with psycopg.connect(pg_url.split("?")[0]) as conn:
        conn.execute("CREATE TABLE reviews (review_id bigint PRIMARY KEY, label text, polarity float8)")
        conn.execute("INSERT INTO reviews SELECT i, CASE WHEN i IN (17, 23) THEN NULL WHEN i % 2 = 0 THEN 'pos' ELSE 'neg' END, i FROM generate_series(1, 40) i")
    result = invoke("snapshot", pg_url, "--out", tmp_path / "fp.json", env=env)
    assert result.exit_code == 2, result.output
    assert result.output.strip() == ("error: label column 'label' of reviews has 2 NULL label(s), first at id 17 "
                                     "(fix: label every row, or delete the unlabelled rows, before the snapshot)")
    assert not (tmp_path / "fp.json").exists() and not list(tmp_path.glob("fp*"))


def _failing_put(monkeypatch, failing_key: str, exc: BaseException, *, nth: int = 1):
    """LocalStore.put raising ``exc`` on the ``nth`` put of ``failing_key`` (a full disk, a Ctrl-C): the writes before it land."""
    from labelguard.tasks.storage import LocalStore

    put, seen = LocalStore.put, []

    def failing(self, key, data, **kwargs):
        if key == failing_key:
            seen.append(key)
            if len(seen) == nth:
                raise exc
        return put(self, key, data, **kwargs)

    monkeypatch.setattr(LocalStore, "put", failing)


def test_a_day_interrupted_after_its_reference_was_written_leaves_no_ledger_line_object_or_folder(tmp_path, keys, monkeypatch):
    """Finding 14 (interrupted ingest): Ctrl-C after the reference (holdout) was signed and recorded left its ledger line,
    naming a dataset that never existed, and the partition's empty folders behind."""
    from labelguard.tasks.drift import ingest_partition
    from labelguard.tasks.ledger import Ledger
    from labelguard.tasks.manifest import ColumnSpec, load_signing_key
    from labelguard.tasks.storage import LocalStore

    frame = pos_neg(60, 10)
    spec = ColumnSpec(id_col="id", label_col="label", feature_cols=("f0", "f1", "f2"), timestamp_col=None, classes=("neg", "pos"), positive_class="pos")
    book = Ledger(tmp_path / "ledger.jsonl")
    _failing_put(monkeypatch, "part-00000.parquet", KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        ingest_partition(LocalStore(tmp_path / "lake" / "x"), frame, spec, load_signing_key(keys[0]), day="2026-03-01",
                         source={"kind": "file"}, holdout_fraction=0.2, ledger=book)
    assert files_under(tmp_path) == []  # no ledger, no reference, no folder lake/x/date=2026-03-01, no lake/


def test_an_ingest_whose_training_part_fails_removes_its_holdout_and_folders_and_records_nothing(prefect_harness, env, tmp_path, monkeypatch):
    """The same for the Prefect ingest flow: the holdout's ledger line stayed although the holdout was removed again."""
    pos_neg(60, 11).to_csv(tmp_path / "src.csv", index=False)
    before = files_under(tmp_path)
    _failing_put(monkeypatch, "rows.sig.json", OSError(28, "No space left on device"), nth=2)  # the holdout's landed
    result = invoke("ingest", "--source", tmp_path / "src.csv", "--id-col", "id", "--positive-class", "pos", "--dest", tmp_path / "a" / "d", env=env)
    assert result.exit_code == 2, result.output
    assert result.output.strip().startswith("error: unexpected OSError: [Errno 28] No space left on device")
    assert files_under(tmp_path) == before


def test_pipeline_on_a_dataset_without_its_own_holdout_asks_for_one_before_prefect_starts(env, tmp_path, monkeypatch):
    """Finding 14 (holdout fraction 0): `pipeline store/hf0` said 'no dataset at store/hf0/holdout (fix: check the URI
    (labelguard ingest writes one there))', a URI the user never typed; r3 finding 12 the same for a sealed lake."""
    from labelguard.tasks.dataset import write_dataset
    from labelguard.tasks.manifest import ColumnSpec, load_signing_key

    monkeypatch.chdir(tmp_path)
    frame = pos_neg(40, 12)
    spec = ColumnSpec(id_col="id", label_col="label", feature_cols=("f0", "f1", "f2"), timestamp_col=None, classes=("neg", "pos"), positive_class="pos")
    from labelguard.tasks.storage import LocalStore

    write_dataset(LocalStore(tmp_path / "store" / "hf0"), frame, spec, load_signing_key(env["LABELGUARD_SIGNING_KEY"]), source={"kind": "file"})
    (tmp_path / "lake").mkdir()
    frame.to_parquet(tmp_path / "lake" / "part-0.parquet", index=False)
    assert invoke("seal", "lake", "--id-col", "id", "--label-col", "label", env=env).exit_code == 0
    for uri, why in (("store/hf0", "ingested with --holdout-fraction 0"), ("lake", "sealed lakes carry none")):
        result = invoke("pipeline", uri, env=env)
        assert result.exit_code == 2, result.output
        assert result.output.strip() == f"error: {uri} has no trusted holdout ({why}) (fix: pass --holdout URI)"
