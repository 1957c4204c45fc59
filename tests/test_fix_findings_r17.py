"""Break-it round 17, findings F5-F13 (bench/findings/breakit-r17.md): a data engineer's own files, whose exit code
was right and whose line (or a documented behaviour) was not. The data here are this file's own (seeds 1700-1799),
not the round's. Each test failed on the code before its fix."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from labelguard.server import free_port
from tests.clirun import invoke

# a refusal must come before Prefect starts: a case that reached Prefect would fail with Prefect's message instead
DEAD_PREFECT = {"PREFECT_API_URL": f"http://127.0.0.1:{free_port()}/api"}


def _frame(n: int = 300, seed: int = 1700) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    return pd.DataFrame({"id": [f"r{i:04d}" for i in range(n)], "label": y, "f1": rng.normal(y * 3.0, 1.0), "f2": rng.normal(-y * 2.0, 1.0)})


def _refused(tmp_path, *args, dest: str = "refused") -> str:
    """Run `ingest ARGS --dest tmp_path/DEST`: exit 2 and nothing written; returns its stderr."""
    res = invoke("ingest", *args, "--dest", tmp_path / dest, env=DEAD_PREFECT)
    assert res.exit_code == 2, res.output
    assert not (tmp_path / dest).exists()
    return res.stderr


# ---------------------------------------------------------------- F8: one number written two ways in the label column


@pytest.mark.parametrize("spelling, line", [
    ("1.0", "error: labels '1', '1.0' in 'label' are the number 1 written 2 ways, so they would be separate classes "
            "(fix: write each class one way before ingest (e.g. '1' in the 4 row(s) with '1.0'))\n"),
    ("1e0", "error: labels '1', '1e0' in 'label' are the number 1 written 2 ways, so they would be separate classes "
            "(fix: write each class one way before ingest (e.g. '1' in the 4 row(s) with '1e0'))\n"),
    (" 1", "error: labels ' 1', '1' in 'label' differ only in case or spaces, so they would be separate classes "
           "(fix: normalise the label column to one spelling per class before ingest)\n"),
])
def test_a_label_number_written_two_ways_is_refused_as_the_readme_says(spelling, line, tmp_path, key_env):
    """README: labels that are one number written two ways are refused. '1' beside four '1.0' cells was read as floats and
    signed as classes 0.0/1.0 (exit 0); ' 1' was merged into 1 in silence."""
    f = _frame().astype({"label": object})
    ones = np.flatnonzero(f["label"].to_numpy() == 1)
    f.loc[ones[[3, 9, 27, 81]], "label"] = spelling
    f.to_csv(tmp_path / "two_ways.csv", index=False)
    assert _refused(tmp_path, "--source", tmp_path / "two_ways.csv", "--id-col", "id") == line


def test_labels_written_one_way_each_still_read_as_numbers(tmp_path):
    """Every class written one way ('0.0'/'1.0' throughout, or ' 0'/' 1' after a ', ' delimiter) is still one number each."""
    from labelguard.tasks.sources import load_source

    f = _frame()
    f.assign(label=f["label"].map({0: "0.0", 1: "1.0"})).to_csv(tmp_path / "floats.csv", index=False)
    f.assign(label=f["label"].map({0: " 0", 1: " 1"})).to_csv(tmp_path / "spaced.csv", index=False)
    assert load_source(str(tmp_path / "floats.csv"), id_col="id", timestamp_col=None)[1].classes == (0.0, 1.0)
    assert load_source(str(tmp_path / "spaced.csv"), id_col="id", timestamp_col=None)[1].classes == (0, 1)


# ---------------------------------------------------------------- F13: a Spark lake with an empty part file


def _lake(root, frame: pd.DataFrame, empty: bool = True):
    """Three daily folders of Parquet parts; with ``empty`` day 2 also holds a part of no rows (schema only), as Spark writes
    for a task whose partition had no rows, and the folder a ``_SUCCESS`` marker."""
    for day, rows in enumerate(np.array_split(np.arange(len(frame)), 3), 1):
        folder = root / f"date=2026-01-0{day}"
        folder.mkdir(parents=True)
        frame.iloc[rows].to_parquet(folder / "part-00000-c000.snappy.parquet", index=False)
    if empty:
        frame.iloc[:0].to_parquet(root / "date=2026-01-02" / "part-00001-c000.snappy.parquet", index=False)
        (root / "_SUCCESS").write_bytes(b"")
    return root


@pytest.mark.flow
def test_ingest_takes_a_lake_with_an_empty_part_as_seal_does(tmp_path, key_env, prefect_harness):
    """`ingest --source LAKE` refused it: "date=2026-01-02/part-00001-c000.snappy.parquet has no rows (fix: write the data
    with at least one row)", which a Spark user cannot do about one empty task output; seal took the same folder."""
    lake = _lake(tmp_path / "lake", _frame())
    res = invoke("ingest", "--source", lake, "--label-col", "label", "--id-col", "id", "--dest", tmp_path / "ds", "--holdout-fraction", 0)
    assert res.exit_code == 0, res.output
    assert "rows=300  labels 0: 154, 1: 146  dataset=ds-" in res.stdout.splitlines()[1]
    # every part empty: nothing to ingest, said of the folder
    none = tmp_path / "none" / "date=2026-01-01"
    none.mkdir(parents=True)
    _frame().iloc[:0].to_parquet(none / "part-00000.parquet", index=False)
    line = _refused(tmp_path, "--source", tmp_path / "none", "--label-col", "label", "--id-col", "id")
    assert line == f"error: {tmp_path / 'none'} has no rows: its 1 part file(s) are all empty (fix: write the data with at least one row)\n"


# ---------------------------------------------------------------- F12: a header cell with a trailing space


@pytest.mark.flow
def test_the_ignore_cols_fix_for_a_header_with_a_trailing_space_is_a_command_that_works(tmp_path, key_env, prefect_harness):
    """verify named the renamed column well but offered `--ignore-cols polarity`, which ingest refused ("the data has
    'polarity ' (with a trailing space): pass --ignore-cols 'polarity '"), and that too was refused: the CLI stripped the
    space from every --ignore-cols name. The fix now quotes the name as it must be typed, and typed so it works."""
    import shlex

    from tests.test_fix_findings_r13 import ingest_file

    f = _frame(600, seed=1712).rename(columns={"f1": "polarity", "f2": "intensity"})
    f.iloc[:300].to_csv(tmp_path / "trusted.csv", index=False)
    f.iloc[300:].rename(columns={"polarity": "polarity "}).to_csv(tmp_path / "batch.csv", index=False)
    trusted = ingest_file(tmp_path, "trusted", key_env, tmp_path / "trusted.csv", id_col="id")
    batch = ingest_file(tmp_path, "batch", key_env, tmp_path / "batch.csv", id_col="id")
    res = invoke("verify", batch, "--holdout", trusted / "holdout")
    assert res.exit_code == 2, res.output
    assert res.stderr == ("error: the holdout has no column(s) 'polarity ' that the dataset uses, and has 'polarity' that the dataset lacks: "
                          "renamed in this batch? ('polarity' → 'polarity ') (fix: rename 'polarity ' back to 'polarity' in the batch's source "
                          "and ingest it again, or leave it out: ingest the batch again with --ignore-cols 'polarity ')\n")
    suggested = shlex.split(res.stderr.rsplit("ingest the batch again with ", 1)[1][:-2])
    assert suggested == ["--ignore-cols", "polarity "]
    again = invoke("ingest", "--source", tmp_path / "batch.csv", "--id-col", "id", "--dest", tmp_path / "again", "--holdout-fraction", 0, *suggested)
    assert again.exit_code == 0, again.output
    assert again.stdout.splitlines()[0] == "columns: features: intensity; ignored: polarity ; positive class: 1"
    # unquoted, the name is still no column: refused, the fix saying how to type it (spaces around commas still separate names)
    line = _refused(tmp_path, "--source", tmp_path / "batch.csv", "--id-col", "id", "--ignore-cols", "polarity")
    assert line.endswith("(fix: the data has 'polarity ' (with a trailing space): pass --ignore-cols 'polarity ', or fix the header)\n")
    from labelguard.tasks.features import named_columns

    assert named_columns(["intensity", " polarity "], ["id", "polarity ", "intensity"]) == ["intensity", "polarity"]


# ---------------------------------------------------------------- F6: a gzip or Parquet file named .csv


def test_a_compressed_or_parquet_file_named_csv_is_told_what_it_is_and_the_name_to_give_it(tmp_path, key_env):
    """Both were told "is not text in any encoding labelguard recognises (fix: pass --encoding (e.g. latin-1))", a fix
    that led to a second refusal ("cannot parse ... as CSV"). The fix given now works: the renamed file reads."""
    import gzip

    from labelguard.tasks.sources import load_source

    f = _frame(seed=1706)
    (tmp_path / "gz.csv").write_bytes(gzip.compress(f.to_csv(index=False).encode()))
    f.to_parquet(tmp_path / "pq.csv", index=False)
    assert _refused(tmp_path, "--source", tmp_path / "gz.csv", "--id-col", "id") == (
        "error: gz.csv is gzip-compressed, not CSV text (fix: name it gz.csv.gz (labelguard decompresses .csv.gz), or decompress it)\n")
    assert _refused(tmp_path, "--source", tmp_path / "pq.csv", "--id-col", "id") == (
        "error: pq.csv is a Parquet file, not CSV text (fix: name it pq.parquet (labelguard reads .parquet as Parquet))\n")
    (tmp_path / "gz.csv").rename(tmp_path / "gz.csv.gz")
    (tmp_path / "pq.csv").rename(tmp_path / "pq.parquet")
    for name in ("gz.csv.gz", "pq.parquet"):
        frame, spec, _ = load_source(str(tmp_path / name), id_col="id", timestamp_col=None)
        assert len(frame) == 300 and spec.feature_cols == ("f1", "f2")



# ---------------------------------------------------------------- F5: UTF-16 without a byte-order mark


@pytest.mark.parametrize("codec, order", [("utf-16-le", "little-endian"), ("utf-16-be", "big-endian")])
def test_utf16_without_a_byte_order_mark_is_told_its_encoding_not_to_pass_another_id_col(codec, order, tmp_path, key_env):
    """NUL bytes are valid UTF-8: the file was read as UTF-8, its header as 'i\\x00d\\x00', and the fix was "pass --id-col
    naming an existing column". The fix now names the encoding, and with it the file reads."""
    from labelguard.tasks.sources import load_source

    f = _frame(seed=1705).assign(note="très bon")
    (tmp_path / "wide.csv").write_bytes(f.to_csv(index=False).encode(codec))
    assert _refused(tmp_path, "--source", tmp_path / "wide.csv", "--id-col", "id") == (
        f"error: wide.csv looks like UTF-16 text without a byte-order mark ({order}: every other byte is 0) (fix: pass --encoding {codec})\n")
    frame, spec, _ = load_source(str(tmp_path / "wide.csv"), id_col="id", timestamp_col=None, encoding=codec)
    assert len(frame) == 300 and frame["note"].iloc[0] == "très bon" and spec.classes == (0, 1)
    # with its byte-order mark the same text is read without --encoding, as before
    (tmp_path / "bom.csv").write_bytes(f.to_csv(index=False).encode("utf-16"))
    frame, _, meta = load_source(str(tmp_path / "bom.csv"), id_col="id", timestamp_col=None)
    assert len(frame) == 300 and frame["note"].iloc[0] == "très bon" and meta["encoding"] == "utf-16"


# ---------------------------------------------------------------- F7: 'NA' / 'None' labels, numbers and text


@pytest.mark.parametrize("token", ["NA", "None", "-"])
def test_a_missing_value_token_among_number_labels_is_named_as_written_not_called_an_empty_cell(token, tmp_path, key_env):
    """40 cells 'NA' among 0/1 labels read "has 40 empty cell(s)" of a file with no empty cell (a user grepping for one
    finds none); README's rule is now said as it applies: among numbers every such token is an unlabelled row."""
    f = _frame(seed=1707).astype({"label": object})
    f.loc[[11, 40, 41], "label"] = token
    f.to_csv(tmp_path / "na.csv", index=False)
    assert _refused(tmp_path, "--source", tmp_path / "na.csv", "--id-col", "id") == (
        f"error: label column 'label' has 3 cell(s) written as a missing value ({token!r}) among number labels, first at id 'r0011': "
        "unlabelled rows, not a class (fix: label every row, or drop the unlabelled rows before ingest)\n")
    f.loc[50, "label"] = None  # an empty cell beside them is counted apart
    f.to_csv(tmp_path / "na.csv", index=False)
    assert _refused(tmp_path, "--source", tmp_path / "na.csv", "--id-col", "id") == (
        f"error: label column 'label' has 3 cell(s) written as a missing value ({token!r}) among number labels (and 1 empty cell(s)), "
        "first at id 'r0011': unlabelled rows, not a class (fix: label every row, or drop the unlabelled rows before ingest)\n")


@pytest.mark.flow
def test_a_text_class_named_na_is_kept_and_said(tmp_path, key_env, prefect_harness):
    """Text labels with 3 cells 'NA' (R's write.csv for a missing label) were signed as a class 'NA' without a word; it
    stays a class (README), and ingest now says what it may be."""
    f = _frame(seed=1707).astype({"label": object})
    f["label"] = f["label"].map({0: "neg", 1: "pos"})
    f.loc[[11, 40, 41], "label"] = "NA"
    f.to_csv(tmp_path / "na.csv", index=False)
    res = invoke("ingest", "--source", tmp_path / "na.csv", "--id-col", "id", "--positive-class", "pos", "--dest", tmp_path / "ds", "--holdout-fraction", 0)
    assert res.exit_code == 0, res.output
    lines = res.stdout.splitlines()
    assert lines[1] == ("class 'NA' (3 rows) in 'label' is also how R writes a missing value: kept as a class, as text labels 'NA' and "
                        "'None' are (fix: if those rows are unlabelled, drop them and ingest again)")
    assert "labels NA: 3, neg: " in lines[2]


# ---------------------------------------------------------------- F10: an id in two parts of a lake


def test_an_id_repeated_across_a_lakes_parts_is_named_by_part_and_row(tmp_path, key_env):
    """`ingest --source LAKE` said "'r0000' at rows 0 and 300": rows of the concatenation, in no file. It now names the
    parts and each one's own row, as seal names the two parts."""
    f = _frame(seed=1710)
    lake = _lake(tmp_path / "lake", pd.concat([f, f.iloc[[0, 1]].assign(label=1 - f["label"].iloc[[0, 1]])], ignore_index=True), empty=False)
    assert _refused(tmp_path, "--source", lake, "--id-col", "id") == (
        "error: 2 ids repeat in 'id' (4 rows): 'r0000' at date=2026-01-01/part-00000-c000.snappy.parquet row 0 and "
        "date=2026-01-03/part-00000-c000.snappy.parquet row 98, ... (fix: make the ids in 'id' unique (or pass --id-col naming a unique column))\n")


# ---------------------------------------------------------------- F9: a part's own 'date' column against its date= folder


def test_a_partition_column_in_the_files_that_disagrees_with_its_folder_is_refused(tmp_path, key_env):
    """Every part holding date = '1999-12-31' inside date=2026-01-0N/: ingest kept the file's value for all rows in silence,
    where pd.read_parquet of the folder refuses it. Refused now, naming the part, the value and the folder; a column that
    agrees with its folder (as text or as the same date) is read as before."""
    from labelguard.tasks.sources import load_source

    f = _frame(seed=1709)
    lake = _lake(tmp_path / "lake", f.assign(date="1999-12-31"), empty=False)
    assert _refused(tmp_path, "--source", lake, "--id-col", "id") == (
        "error: part date=2026-01-01/part-00000-c000.snappy.parquet has a column 'date' holding '1999-12-31', but its folder says "
        "date=2026-01-01: which one is the row's value? (fix: rename or drop the 'date' column in the part files (pd.read_parquet "
        "refuses such a folder too), or file the parts under folders that agree with it)\n")
    days = np.repeat(pd.to_datetime(["2026-01-01", "2026-01-02", "2026-01-03"]), [100, 100, 100])
    agree = _lake(tmp_path / "agree", f.assign(date=days), empty=False)
    frame, _, _ = load_source(str(agree), id_col="id", timestamp_col=None)
    assert len(frame) == 300 and frame["date"].iloc[[0, 299]].tolist() == list(pd.to_datetime(["2026-01-01", "2026-01-03"]))


# ---------------------------------------------------------------- F11: a day-first timestamp column


@pytest.mark.parametrize("written, fix", [
    # 20 can only be a day: the one format that reads it, not "(or '%m/%d/%Y %H:%M')" beside it
    ("%d/%m/%Y %H:%M", "the dates are written day first ('20/03/2026 00:00': 20 is no month): pass --timestamp-format '%d/%m/%Y %H:%M'"),
    ("%m/%d/%Y %H:%M", "the dates are written month first ('03/20/2026 00:00': 20 is no month): pass --timestamp-format '%m/%d/%Y %H:%M'"),
    # every day and month at most 12: the text does not say, both formats are offered as before
    ("%d.%m.%Y", "day and month order is not written in '01.01.2026': pass --timestamp-format '%d.%m.%Y' (or '%m.%d.%Y')"),
])
def test_a_day_first_timestamp_is_offered_the_format_that_reads_it(written, fix, tmp_path, key_env):
    start = "2026-01-01" if "." in written else "2026-03-20"
    f = _frame(seed=1711).assign(created_at=pd.date_range(start, periods=300, freq="50min" if "." in written else "30min").strftime(written))
    f.to_csv(tmp_path / "days.csv", index=False)
    first = f["created_at"].iloc[0]
    assert _refused(tmp_path, "--source", tmp_path / "days.csv", "--id-col", "id") == (
        f"error: timestamp column 'created_at' does not parse as ISO 8601: Time data {first} is not ISO8601 format "
        f"(fix: {fix}, or --timestamp-col none to keep 'created_at' as data)\n")
    fmt = fix.split("--timestamp-format '")[1].split("'")[0]
    from labelguard.tasks.sources import load_source

    frame, _, _ = load_source(str(tmp_path / "days.csv"), id_col="id", timestamp_format=fmt)
    assert frame["created_at"].iloc[0] == pd.Timestamp(start, tz="UTC")
