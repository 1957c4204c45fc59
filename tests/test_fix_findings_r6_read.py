"""Break-it round 6 findings 2-5, 7, 8: users' exported files read as they mean it, or refused naming the line (small data of our own)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from labelguard.errors import BadInput
from labelguard.tasks.features import describe_columns
from labelguard.tasks.readers import read_bytes, reading_notes
from labelguard.tasks.sources import load_source
from tests.clirun import invoke


@pytest.fixture
def iris_like():
    """30 rows, 3 classes, integer ids 0..29 and two features with exact decimal values."""
    rng = np.random.default_rng(6)
    y = np.repeat(["setosa", "versicolor", "virginica"], 10)
    frame = pd.DataFrame({"id": range(30), "f0": np.round(rng.normal(5, 1, 30) + (y == "virginica") * 3, 2),
                          "f1": np.round(rng.normal(3, 1, 30), 2), "class": y})
    return frame


def _lines(frame: pd.DataFrame, sep: str) -> list[str]:
    return [sep.join(frame.columns)] + [sep.join(str(v) for v in row) for row in frame.itertuples(index=False)]


# ---------------------------------------------------------------- finding 2: thousands separators


@pytest.mark.parametrize(("sep", "cells", "numbers"), [
    (";", ["4.900,00", "12,5", "1.234.567,25", "-7"], [4900.0, 12.5, 1234567.25, -7.0]),      # German Excel
    ("\t", ["4,900.00", "12.5", "1,234,567.25", "-7"], [4900.0, 12.5, 1234567.25, -7.0]),     # US Excel, tab-separated
    (",", ['"4,900.00"', "12.5", '"1,234,567.25"', "-7"], [4900.0, 12.5, 1234567.25, -7.0]),  # US, quoted in a comma file
    (";", ["4 900,00", "12,5", "1 234 567,25", "-7"], [4900.0, 12.5, 1234567.25, -7.0]),      # French, a plain space
    (";", ["4\u202f900,00", "12,5", "1\u202f234\u202f567,25", "-7"], [4900.0, 12.5, 1234567.25, -7.0]),  # narrow no-break space
    ("\t", ["4'900.00", "12.5", "1'234'567.25", "-7"], [4900.0, 12.5, 1234567.25, -7.0]),     # Swiss
    (";", ["4.900", "12", "1.234.567", "-7"], [4900, 12, 1234567, -7]),                       # integers stay integers
])
def test_numbers_with_thousands_separators_read_as_the_numbers_written(sep, cells, numbers):
    """A '4.900,00' column became text and was ignored as a feature in silence."""
    text = "\n".join([sep.join(["id", "x", "label"])] + [sep.join([str(i), c, str(i % 2)]) for i, c in enumerate(cells)]) + "\n"
    frame, dialect = read_bytes(text.encode(), "export.csv", id_col="id")
    assert dialect.delimiter == sep
    assert frame["x"].tolist() == numbers
    assert frame["x"].dtype == ("int64" if all(isinstance(n, int) for n in numbers) else "float64")


@pytest.mark.parametrize(("cells", "why"), [
    (["4.900,00", "4,900.00", "12"], "numbers with '.' thousands and ',' decimals, but also '4,900.00': write every number one way"),
    (["1.234", "5,678", "12"], "numbers readable as ',' thousands and '.' decimals or '.' thousands and ',' decimals: write them without thousands separators"),
])
def test_a_column_of_numbers_written_two_ways_is_ignored_saying_why(tmp_path, iris_like, cells, why):
    frame = iris_like.assign(x=(cells * 10)[:30])
    (tmp_path / "two.csv").write_text("\n".join(_lines(frame, ";")) + "\n")
    loaded, spec, _ = load_source(str(tmp_path / "two.csv"), id_col="id", label_col="class", timestamp_col=None)
    assert describe_columns(loaded, spec) == f"features: f0, f1; ignored: x ({why})"
    assert loaded["x"].tolist() == (cells * 10)[:30]  # kept as written


def test_dates_and_codes_with_dots_are_not_taken_for_numbers(tmp_path, iris_like):
    """Only cells grouped by threes read as thousands: '01.02.2026' stays text, with no reason to give."""
    frame = iris_like.assign(day=[f"{d:02d}.11.2026" for d in range(1, 31)])
    (tmp_path / "days.csv").write_text("\n".join(_lines(frame, ";")) + "\n")
    loaded, spec, _ = load_source(str(tmp_path / "days.csv"), id_col="id", label_col="class", timestamp_col=None)
    assert describe_columns(loaded, spec) == "features: f0, f1; ignored: day"


# ---------------------------------------------------------------- findings 3, 5, 8 (and 2) through one real ingest


def test_an_excel_export_with_every_finding_ingests_saying_what_it_skipped(tmp_path, iris_like, own_key_env, prefect_harness):
    """sep=; first line, '.' thousands with ',' decimals, trailing ';;' on every line, a row of bare delimiters
    mid-file and at the end, a blank line: read as the spreadsheet means it; the skipped rows named by line."""
    frame = iris_like.assign(f0=iris_like["f0"] * 1000)
    body = [line + ";;" for line in _lines(frame.assign(f0=[f"{v:,.2f}".replace(",", "X").replace(".", ",").replace("X", ".") for v in frame["f0"]],
                                                         f1=[str(v).replace(".", ",") for v in frame["f1"]]), ";")]
    lines = ["sep=;"] + body[:11] + [";;;;;"] + body[11:] + ["", ";;;;;"]
    src = tmp_path / "excel.csv"
    src.write_bytes(("\r\n".join(lines) + "\r\n").encode("utf-8-sig"))
    res = invoke("ingest", "--source", src, "--id-col", "id", "--label-col", "class", "--holdout-fraction", "0", "--dest", tmp_path / "ds", env=own_key_env)
    assert res.exit_code == 0, res.output
    out = res.stdout.splitlines()
    assert out[0] == ("columns: features: f0, f1; ignored: none; dropped: 2 empty columns without a header (trailing delimiters); "
                      "positive class: none (3 classes: every class's share is reported)")
    assert out[1] == "skipped 2 rows empty in every column (lines 13, 35)"
    stored = pd.read_parquet(tmp_path / "ds" / "data.parquet")
    assert stored.columns.tolist() == ["id", "f0", "f1", "class"]
    assert stored["id"].tolist() == list(range(30))
    assert stored["f0"].tolist() == frame["f0"].round(2).tolist() and stored["f1"].tolist() == frame["f1"].tolist()
    assert stored["class"].tolist() == frame["class"].tolist()


@pytest.mark.parametrize("sep", [";", "|", "\t", ","])
def test_excel_sep_line_names_the_delimiter_whatever_it_is(sep, iris_like):
    """'sep=;' was read as the header: "column 'id' not found (have: sep=, Unnamed: 1)"."""
    text = f"sep={sep}\n" + "\n".join(_lines(iris_like, sep)) + "\n"
    frame, dialect = read_bytes(text.encode(), "hint.csv", id_col="id")
    assert (dialect.delimiter, dialect.sep_hint) == (sep, True)
    assert frame.columns.tolist() == ["id", "f0", "f1", "class"] and frame["f1"].tolist() == iris_like["f1"].tolist()


def test_poison_rewrites_the_right_rows_of_a_file_with_a_sep_line_blank_and_empty_rows(tmp_path, iris_like):
    """Row i of the frame is the i-th record kept by the reader: the sep line, blank lines and empty rows stay as they were."""
    lines = ["sep=;"] + _lines(iris_like, ";")[:6] + ["", ";;;"] + _lines(iris_like, ";")[6:] + [";;;"]
    src = tmp_path / "hint.csv"
    src.write_text("\n".join(lines) + "\n")
    res = invoke("poison", src, "--out", tmp_path / "p.csv", "--attack", "random", "--rate", "0.2", "--id-col", "id", "--label-col", "class",
                 "--truth-out", tmp_path / "t.json")
    assert res.exit_code == 0, res.output
    flipped = {str(f["id"]): f["new"] for f in json.loads((tmp_path / "t.json").read_text())["flipped"]}
    assert len(flipped) == 6
    written = (tmp_path / "p.csv").read_text().split("\n")
    assert written[0] == "sep=;" and written[7:9] == ["", ";;;"]
    for before, after in zip(lines, written):
        cells, now = before.split(";"), after.split(";")
        if len(cells) == 4 and cells[0] in flipped:
            assert now == cells[:3] + [flipped[cells[0]]]
        else:
            assert after == before
    back, _ = read_bytes((tmp_path / "p.csv").read_bytes(), "p.csv", id_col="id")
    assert back["f0"].tolist() == iris_like["f0"].tolist()


# ---------------------------------------------------------------- finding 4: a header repeated mid-file


def test_a_repeated_header_line_is_refused_naming_its_line(tmp_path, iris_like, own_key_env):
    """Two exports concatenated read every number as text: "no feature columns found"."""
    src = tmp_path / "joined.csv"
    src.write_text(iris_like.iloc[:12].to_csv(index=False) + iris_like.iloc[12:].to_csv(index=False))
    res = invoke("ingest", "--source", src, "--id-col", "id", "--label-col", "class", "--dest", tmp_path / "ds", env=own_key_env)
    assert res.exit_code == 2
    assert res.stderr == ("error: joined.csv repeats its header (id, f0, f1, …) at line 14: two exports joined into one file? "
                          "(fix: delete the repeated header line, keeping only line 1)\n")
    assert not (tmp_path / "ds").exists()
    three = iris_like.iloc[:5].to_csv(index=False) + iris_like.iloc[5:9].to_csv(index=False) + iris_like.iloc[9:].to_csv(index=False)
    with pytest.raises(BadInput) as err:
        read_bytes(("sep=,\n" + three).encode(), "three.csv", id_col="id")
    assert str(err.value) == ("three.csv repeats its header (id, f0, f1, …) at 2 lines, first line 8: two exports joined into one file? "
                              "(fix: delete the repeated header lines, keeping only line 2)")


# ---------------------------------------------------------------- finding 5: no pandas NA as an id


def test_an_unlabelled_row_without_an_id_is_named_by_position_not_as_id_na(tmp_path, iris_like, own_key_env):
    """The message read "first at id <NA>"."""
    src = tmp_path / "holes.csv"
    src.write_text("\n".join(_lines(iris_like, ",")[:8] + [",4.5,2.5,"] + _lines(iris_like, ",")[8:]) + "\n")
    res = invoke("ingest", "--source", src, "--id-col", "id", "--label-col", "class", "--dest", tmp_path / "ds", env=own_key_env)
    assert res.exit_code == 2
    assert res.stderr == ("error: label column 'class' has 1 empty cell(s), first at row 7 (its id is empty too) "
                          "(fix: label every row, or drop the unlabelled rows before ingest)\n")
    stamped = iris_like.assign(created_at=["2026-11-01T10:00:00"] * 30).astype({"id": "string"})
    stamped.loc[4, ["id", "created_at"]] = None
    stamped.to_csv(tmp_path / "times.csv", index=False)
    res = invoke("ingest", "--source", tmp_path / "times.csv", "--id-col", "id", "--label-col", "class", "--timestamp-col", "created_at",
                 "--dest", tmp_path / "ds", env=own_key_env)
    assert res.exit_code == 2
    assert res.stderr.startswith("error: timestamp column 'created_at' has 1 empty cell(s), first at row 4 (its id is empty too) (fix: ")
    assert not (tmp_path / "ds").exists()


def test_seal_of_parts_with_empty_ids_names_the_row_not_a_crash(tmp_path, iris_like, own_key_env):
    """Sealing Parquet whose id column had two nulls was "unexpected TypeError: boolean value of NA is ambiguous"."""
    (tmp_path / "lake").mkdir()
    iris_like.astype({"id": "string"}).assign(id=lambda f: f["id"].mask(f.index.isin([3, 7]))).to_parquet(tmp_path / "lake" / "p.parquet", index=False)
    res = invoke("seal", tmp_path / "lake", "--id-col", "id", "--label-col", "class", env=own_key_env)
    assert res.exit_code == 2
    assert res.stderr == ("error: 2 row(s) have an empty id in 'id', first row 3 of p.parquet "
                          "(fix: fill in the ids in 'id', or pass --id-col naming a column with an id in every row)\n")
    assert sorted(p.name for p in (tmp_path / "lake").iterdir()) == ["p.parquet"]


# ---------------------------------------------------------------- finding 7: column names with spaces


@pytest.mark.parametrize(("header", "flag", "given", "fix"), [
    ("class ", "--label-col", "class", "the data has 'class ' (with a trailing space): pass --label-col 'class ', or fix the header"),
    (" class", "--label-col", "class", "the data has ' class' (with a leading space): pass --label-col ' class', or fix the header"),
    ("Class", "--label-col", "class", "the data has 'Class' (in other case): pass --label-col Class, or fix the header"),
    ("class", "--label-col", "clss", "did you mean 'class'? pass --label-col class, or --label-col naming an existing column"),
])
def test_a_column_not_found_shows_names_quoted_and_the_near_spelling(tmp_path, iris_like, own_key_env, header, flag, given, fix):
    """'class ' was listed as "class " at the end of the line, invisible, and the fix said "naming an existing column"."""
    src = tmp_path / "hdr.csv"
    iris_like.rename(columns={"class": header}).to_csv(src, index=False)
    res = invoke("ingest", "--source", src, "--id-col", "id", flag, given, "--dest", tmp_path / "ds", env=own_key_env)
    assert res.exit_code == 2
    assert res.stderr == f"error: column {given!r} not found (have: 'id', 'f0', 'f1', {header!r}) (fix: {fix})\n"
    assert not (tmp_path / "ds").exists()


# ---------------------------------------------------------------- finding 8: a Hive source folder


def test_a_hive_source_folder_keeps_its_partition_key_as_a_column(tmp_path, iris_like):
    """`ingest --source hive` dropped `date`, which pd.read_parquet('hive') shows, and said nothing."""
    for day in range(3):
        (tmp_path / "hive" / f"date=2026-11-0{day + 1}").mkdir(parents=True)
        iris_like.iloc[day * 10:(day + 1) * 10].to_parquet(tmp_path / "hive" / f"date=2026-11-0{day + 1}" / "part-0.parquet", index=False)
    loaded, spec, _ = load_source(str(tmp_path / "hive"), id_col="id", label_col="class", timestamp_col=None)
    assert loaded.columns.tolist() == ["id", "f0", "f1", "class", "date"]
    assert loaded["date"].tolist() == [f"2026-11-0{d}" for d in (1, 2, 3) for _ in range(10)]
    assert loaded["date"].tolist() == pd.read_parquet(tmp_path / "hive").sort_values("id")["date"].astype(str).tolist()
    assert describe_columns(loaded, spec) == "features: f0, f1; ignored: date"
    assert reading_notes(loaded) == []


def test_trailing_delimiters_the_header_lacks_are_dropped_and_cells_past_the_header_refused(iris_like):
    """Rows one or two ';' longer than the header turned their first cells into a pandas index: every column shifted."""
    lines = _lines(iris_like.assign(f0=iris_like["f0"].astype(str).str.replace(".", ",")), ";")
    frame, dialect = read_bytes(("\n".join([lines[0]] + [line + ";;" for line in lines[1:]]) + "\n").encode(), "short_header.csv", id_col="id")
    assert dialect.delimiter == ";" and frame.columns.tolist() == ["id", "f0", "f1", "class"]
    assert frame["id"].tolist() == list(range(30)) and frame["f0"].tolist() == iris_like["f0"].tolist()
    assert frame.attrs["reading"] == {"trailing": True}
    longer = [lines[0]] + [line + (";7;" if i == 9 else ";;") for i, line in enumerate(lines[1:], 1)]
    with pytest.raises(BadInput) as err:
        read_bytes(("\n".join(longer) + "\n").encode(), "extra.csv", id_col="id")
    assert str(err.value) == ("line 10 of extra.csv has 6 cells, more than the header's 4, and the ones past the header are not empty "
                              "(fix: give every column a name in the header (line 1), or remove the extra cells)")
