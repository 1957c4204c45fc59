"""Break-it round 7: a folder of Parquet parts whose columns hold other kinds of values, German whole numbers
with '.' thousands in a decimal-comma file, labels that differ only in Unicode normalisation, and wrong-kind
folders given as trusted data. Small data of our own throughout (at most 120 rows a file)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.clirun import invoke



def _env(keys):
    return {"LABELGUARD_SIGNING_KEY": str(keys[0]), "LABELGUARD_VERIFY_KEY": str(keys[1])}


def _listing(root):
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


# ---------------------------------------------------------------- finding 1: parts whose columns hold other kinds of values


def _part(path, prefix, label, **extra):
    pd.DataFrame({"id": [f"{prefix}{i}" for i in range(60)], "label": label, "x": np.arange(60.0), **extra}).to_parquet(path, index=False)


PARTS = [
    # two tools' exports of one table: labels as text in one, as integers in the other
    (["1", "0"] * 30, [1, 0] * 30, {}, {}, "label: text vs numbers"),
    ([1.0, 0.0] * 30, [True, False] * 30, {}, {}, "label: numbers vs booleans"),
    ([1, 0] * 30, [1, 0] * 30, {"at": pd.date_range("2026-01-01", periods=60, freq="h", tz="UTC")},
     {"at": [f"2026-02-01 {h % 24:02d}:00" for h in range(60)]}, "at: timestamps with a time zone vs text"),
]


@pytest.mark.parametrize(("first", "second", "extra1", "extra2", "diff"), PARTS, ids=["text-int", "float-bool", "ts-text"])
@pytest.mark.parametrize("command", ["verify", "ingest"])
def test_parts_whose_column_holds_another_kind_of_value_are_refused_naming_the_part(tmp_path, keys, command, first, second, extra1, extra2, diff):
    """Finding 1: `verify lake` said "unexpected ArrowTypeError: ("Expected bytes, got a 'int' object", ...)" and
    `ingest --source lake` "unexpected TypeError: '<' not supported between instances of 'int' and 'str'" (report it);
    now the one line seal gives for such parts, exit 2, nothing written."""
    lake = tmp_path / "lake"
    lake.mkdir()
    _part(lake / "p1.parquet", "a", first, **extra1)
    _part(lake / "p2.parquet", "b", second, **extra2)
    before = _listing(tmp_path)
    args = (["verify", lake, "--id-col", "id", "--label-col", "label", "--no-progress"] if command == "verify"
            else ["ingest", "--source", lake, "--id-col", "id", "--label-col", "label", "--dest", tmp_path / "st"])
    res = invoke(*args, env=_env(keys))
    assert (res.exit_code, res.stderr) == (2, f"error: part p2.parquet has another schema than p1.parquet ({diff}) "
                                              "(fix: point at parts with one schema (a glob or prefix per schema), "
                                              "or export them with one type per column)\n")
    assert _listing(tmp_path) == before


def test_parts_whose_numbers_differ_only_in_width_are_still_one_table(tmp_path, keys):
    """int8 and int64 labels, float32 and float64 features: one kind each, read together as before."""
    lake = tmp_path / "lake"
    lake.mkdir()
    rng = np.random.default_rng(7)
    pd.DataFrame({"id": [f"a{i}" for i in range(60)], "label": np.array([1, 0] * 30, dtype="int8"),
                  "x": rng.normal(size=60).astype("float32")}).to_parquet(lake / "p1.parquet", index=False)
    pd.DataFrame({"id": [f"b{i}" for i in range(60)], "label": np.array([1, 0] * 30, dtype="int64"),
                  "x": rng.normal(size=60)}).to_parquet(lake / "p2.parquet", index=False)
    res = invoke("verify", lake, "--id-col", "id", "--label-col", "label", "--guards", "schema", "--no-progress",
                 env={"LABELGUARD_VERIFY_KEY": str(keys[1])})
    assert res.exit_code == 0, res.stderr
    assert "120 rows valid" in res.stdout


# ---------------------------------------------------------------- finding 3: German whole numbers with '.' thousands


def _semicolon_file(amounts, scores) -> bytes:
    rows = [f"{i:04d};{i % 2};{a};{s}" for i, (a, s) in enumerate(zip(amounts, scores))]
    return ("id;label;amount;score\n" + "\n".join(rows) + "\n").encode()


def test_dotted_whole_numbers_in_a_decimal_comma_file_are_thousands():
    """Finding 3: '2.685' beside '479' in a file whose decimals are commas ('-0,132') was read as 2.685 beside 479,
    signed and used as a feature in silence; '.' there is the thousands separator (German Excel's #.##0)."""
    from labelguard.tasks.readers import read_bytes

    frame, dialect = read_bytes(_semicolon_file(["876", "2.685", "479", "12.500", "-3.083"], ["-0,132", "2,105", "0,362", "1", "2,9"]),
                                "export.csv", id_col="id")
    assert dialect.delimiter == ";"
    assert frame["amount"].tolist() == [876, 2685, 479, 12500, -3083]
    assert frame["amount"].dtype == "int64"
    assert frame["score"].tolist() == [-0.132, 2.105, 0.362, 1.0, 2.9]


@pytest.mark.parametrize(("amounts", "scores", "expected"), [
    (["5.101", "7.512", "0.125"], ["-0.132", "2.105", "0.362"], [5.101, 7.512, 0.125]),   # decimal points everywhere: points stay decimals
    (["5.101", "7.512", "4.571"], ["1", "2", "3"], [5.101, 7.512, 4.571]),                 # no column shows a decimal comma: unchanged
    (["0.125", "2.685", "479"], ["-0,132", "2,105", "0,362"], [0.125, 2.685, 479.0]),    # '0.125' is no grouped number: the column is left as read
])
def test_dotted_numbers_stay_decimals_without_a_decimal_comma_or_grouping(amounts, scores, expected):
    from labelguard.tasks.readers import read_bytes

    frame, _ = read_bytes(_semicolon_file(amounts, scores), "export.csv", id_col="id")
    assert frame["amount"].tolist() == expected


# ---------------------------------------------------------------- finding 4: labels equal after Unicode normalisation


def _labelled_csv(path, labels):
    rng = np.random.default_rng(4)
    lines = ["id,x,label"] + [f"r{i:03d},{rng.normal() + (lab != 'positif'):.3f},{lab}" for i, lab in enumerate(labels)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


NFD = "ne\u0301gatif"  # e + combining acute accent, as macOS tools write it; "négatif" (NFC) looks the same


@pytest.mark.parametrize(("odd", "line"), [
    (NFD, "error: labels 'ne\\u0301gatif', 'n\\xe9gatif' in 'label' differ only in Unicode normalisation, case or spaces, so they "
          "would be separate classes (fix: normalise the label column to one spelling per class before ingest "
          "(Unicode NFKC, e.g. unicodedata.normalize('NFKC', label)))"),
    ("  ", "error: label column 'label' has 1 empty cell(s), first at id 'r007' (fix: label every row, or drop the unlabelled rows before ingest)"),
    ("N\u00e9gatif", "error: labels 'Négatif', 'négatif' in 'label' differ only in case or spaces, so they would be separate classes "
                     "(fix: normalise the label column to one spelling per class before ingest)"),
], ids=["nfd", "spaces-only", "case"])
def test_labels_that_look_alike_are_refused_before_they_become_classes(tmp_path, keys, odd, line):
    """Finding 4: 221 NFD 'négatif' cells among NFC ones were signed as a third class ("labels négatif: 177, négatif: 1000"),
    and a label of two spaces became a class ' '; now exit 2 with one line, nothing written."""
    labels = ["positif", "n\u00e9gatif"] * 30
    labels[7] = odd
    _labelled_csv(tmp_path / "batch.csv", labels)
    res = invoke("ingest", "--source", tmp_path / "batch.csv", "--id-col", "id", "--label-col", "label",
                 "--positive-class", "positif", "--dest", tmp_path / "st", env=_env(keys))
    assert (res.exit_code, res.stderr) == (2, line + "\n")
    assert not (tmp_path / "st").exists()


# ---------------------------------------------------------------- finding 2: a folder of the wrong kind as trusted data


@pytest.fixture(scope="module")
def signed_store(tmp_path_factory, keys):
    """A store root holding one signed dataset (400 synthetic reviews), a folder of CSV exports and a folder of notes."""
    from labelguard.tasks.dataset import write_dataset
    from labelguard.tasks.manifest import ColumnSpec, load_signing_key
    from labelguard.tasks.storage import LocalStore
    from labelguard.tasks.synthetic import make_reviews

    root = tmp_path_factory.mktemp("r7store")
    write_dataset(LocalStore(root / "store" / "ds"), make_reviews(400, seed=1), ColumnSpec(), load_signing_key(keys[0]), source={"kind": "synthetic"})
    (root / "exports").mkdir()
    for day in ("b1", "b2"):
        make_reviews(50, seed=2).to_csv(root / "exports" / f"{day}.csv", index=False)
    (root / "notes").mkdir()
    (root / "notes" / "readme.txt").write_text("batches of December\n")
    return root


@pytest.mark.parametrize(("option", "where", "line"), [
    ("--reference", "exports", "error: the reference at {r}/exports holds no Parquet data, only 2 other file(s) (b1.csv, b2.csv) "
                               "(fix: pass as --reference a signed baseline (labelguard baseline URI/holdout --out DIR) or a dataset's holdout (URI/holdout))"),
    ("--holdout", "notes", "error: the holdout at {r}/notes holds no Parquet data, only 1 other file(s) (readme.txt) "
                           "(fix: pass as --holdout a dataset's holdout (URI/holdout, written by labelguard ingest))"),
    ("--reference", "store", "error: the reference at {r}/store holds no data of its own, only 1 folder(s) signed on their own (ds) "
                             "(fix: pass as --reference one of them, e.g. {r}/store/ds)"),
], ids=["csv-folder-reference", "notes-holdout", "store-root-reference"])
def test_a_folder_without_parquet_as_trusted_data_is_a_usage_error_not_tampering(signed_store, keys, option, where, line):
    """Finding 2: `--reference exports` (CSV files), `--holdout notes`, `--reference store` (the folder holding the
    datasets) were exit 1, "reference fired, cannot be trusted (... missing-manifest ...) (fix: restore the trusted
    data from a signed copy ...)": a slip in a CI variable read as tampering. Now exit 2 naming what is there."""
    r = signed_store
    res = invoke("verify", r / "store" / "ds", option, r / where, "--no-progress", env=_env(keys))
    assert (res.exit_code, res.stderr) == (2, line.format(r=r) + "\n")


def test_unsigned_parquet_as_trusted_data_still_cannot_be_vouched_for(signed_store, keys, tmp_path):
    """Parquet objects that nobody signed are data that cannot be vouched for: still exit 1, missing-manifest."""
    (tmp_path / "lake").mkdir()
    pd.read_parquet(signed_store / "store" / "ds" / "data.parquet").to_parquet(tmp_path / "lake" / "part-0.parquet", index=False)
    res = invoke("verify", signed_store / "store" / "ds", "--reference", tmp_path / "lake", "--no-progress", env=_env(keys))
    assert res.exit_code == 1
    assert res.stderr.startswith(f"guard fired: reference fired, cannot be trusted (the reference at {tmp_path}/lake failed verification: missing-manifest: ")


# ---------------------------------------------------------------- finding 5: one odd label cell in an integer label column


def _binary_csv(path, odd):
    rng = np.random.default_rng(5)
    labels = [str(i % 2) for i in range(60)]
    labels[7] = odd
    lines = ["id;x;label"] + [f"r{i:03d};{rng.normal() + 2 * int(float(lab)):.3f};{lab}" for i, lab in enumerate(labels)]
    path.write_text("\n".join(lines) + "\n")


def test_a_label_with_a_stray_space_stays_an_integer_class():
    """Finding 5: one ' 1' among 0/1 labels made the column float (classes 0.0, 1.0), and `--positive-class 1` was then
    refused as "not one of the classes (0.0, 1.0)"."""
    from labelguard.tasks.readers import read_bytes

    frame, _ = read_bytes(b"id;label;x\na;0;1,5\nb; 1;2,5\nc;1 ;3,5\n", "export.csv", id_col="id")
    assert frame["label"].dtype == "int64"
    assert frame["label"].tolist() == [0, 1, 1]


@pytest.mark.parametrize(("odd", "classes", "positive"), [(" 1", (0, 1), 1), ("1.0", (0.0, 1.0), 1.0)], ids=["space", "float"])
def test_positive_class_one_names_the_class_one_however_the_column_was_read(tmp_path, odd, classes, positive):
    """`--positive-class 1` as ingest reads it (load_source: no Prefect started), on labels written one way each (' 0'/' 1',
    '0.0'/'1.0'). One odd cell among '0'/'1' is refused since break-it r17 F8, as README says of one number written
    two ways (it was merged, and the classes signed as 0.0/1.0 for a single '1.0')."""
    from labelguard.errors import BadInput
    from labelguard.tasks.sources import load_source

    _binary_csv(tmp_path / "b.csv", odd)
    with pytest.raises(BadInput, match=r"^labels ' 1', '1' in 'label' differ only in case or spaces" if odd == " 1" else
                       r"^labels '1', '1.0' in 'label' are the number 1 written 2 ways"):
        load_source(str(tmp_path / "b.csv"), id_col="id", label_col="label", timestamp_col=None, positive_class="1")
    path = tmp_path / "b.csv"
    path.write_text(path.read_text().replace(";0\n", ";" + odd.replace("1", "0") + "\n").replace(";1\n", ";" + odd + "\n"))
    _, spec, _ = load_source(str(path), id_col="id", label_col="label", timestamp_col=None, positive_class="1")
    assert spec.classes == classes and type(spec.classes[1]) is type(positive)
    assert spec.positive_class == positive and type(spec.positive_class) is type(positive)


def test_a_numeric_positive_class_never_names_a_text_class():
    from labelguard.errors import BadInput
    from labelguard.tasks.classes import match_class

    assert match_class("1", [0.0, 1.0]) == 1.0 and match_class("1.0", [0, 1]) == 1 and match_class("010", [1, 2, 10]) == 10
    with pytest.raises(BadInput, match=r"^--positive-class '1.0' is not one of the classes \('0', '1'\) \(fix: pass --positive-class naming one of: '0', '1'\)$"):
        match_class("1.0", ["0", "1"])
    with pytest.raises(BadInput):
        match_class("1", [False, True])


# ---------------------------------------------------------------- finding 8: a batch that gained a column


def test_a_batch_with_a_new_column_is_told_to_leave_it_out_not_that_the_reference_is_other_data(keys, tmp_path):
    """Finding 8: a CI batch with one extra column against the right baseline said "the reference has no column(s)
    'extra_score' that the dataset uses: it belongs to other data (fix: pass as --reference a baseline ... made from
    this dataset)"; the reference was right, the batch had changed."""
    from labelguard.tasks.dataset import write_dataset
    from labelguard.tasks.manifest import ColumnSpec, DatasetRef, load_signing_key
    from labelguard.tasks.storage import LocalStore
    from labelguard.tasks.synthetic import make_reviews

    batch = make_reviews(300, seed=3)
    batch["extra_score"] = np.random.default_rng(3).normal(size=len(batch))
    write_dataset(LocalStore(tmp_path / "batch"), batch, ColumnSpec(feature_cols=("polarity", "intensity", "extra_score")),
                  load_signing_key(keys[0]), source={"kind": "synthetic"})
    write_dataset(LocalStore(tmp_path / "holdout"), make_reviews(300, seed=1), ColumnSpec(), load_signing_key(keys[0]),
                  source={"kind": "synthetic"}, dataset=DatasetRef("trusted", "holdout"))
    res = invoke("verify", tmp_path / "batch", "--reference", tmp_path / "holdout", "--holdout", tmp_path / "holdout", "--no-progress", env=_env(keys))
    assert res.exit_code == 2
    assert res.stderr == ("error: the dataset uses feature column(s) 'extra_score' that the reference does not have (the reference has "
                          "every other column the dataset uses): a column new in this batch? (fix: ingest the batch again with "
                          "--ignore-cols extra_score, or pass as --reference trusted rows that have that column)\n")


# ---------------------------------------------------------------- finding 9: exported-CSV edges


def _rows_text(extra_at_50: str, tail: str = "") -> bytes:
    rows = [f"r{i:03d};{i % 2};{i},5" for i in range(100)]
    rows.insert(50, extra_at_50)
    return ("id;label;x\n" + "\n".join(rows) + "\n" + tail).encode()


def test_a_header_repeated_in_another_case_is_named_by_its_line():
    """Finding 9: 'ID;LABEL;X' after row 50 (another tool's export joined on) made every column text:
    "no feature columns found (numeric or free text)". Now the repeated-header refusal, naming line 52."""
    from labelguard.errors import BadInput
    from labelguard.tasks.readers import read_bytes

    with pytest.raises(BadInput) as err:
        read_bytes(_rows_text(" ID ;LABEL;X"), "joined.csv", id_col="id")
    assert str(err.value) == ("joined.csv repeats its header (id, label, x) at line 52: two exports joined into one file? "
                              "(fix: delete the repeated header line, keeping only line 1)")


def test_rows_of_delimiters_and_spaces_are_skipped_and_named_by_line():
    """Finding 9: ';; ' (a space in the last cell) was not an empty row: "label column 'label' has 1 empty cell(s),
    first at row 49 (its id is empty too)"; a row of spaces only was "an empty cell at id ' '"."""
    from labelguard.tasks.readers import read_bytes, reading_notes

    frame, _ = read_bytes(_rows_text(";; ", tail="   ;  ;  \n"), "export.csv", id_col="id")
    assert len(frame) == 100 and frame["x"].tolist()[:2] == [0.5, 1.5]
    assert reading_notes(frame) == ["skipped 2 rows empty in every column (lines 52, 103)"]


# ---------------------------------------------------------------- finding 11: the rotation's key errors name its option


def test_an_unreadable_old_verify_key_names_old_verify_key(signed_store, keys, tmp_path):
    """Finding 11: `seal --rotate --old-verify-key keys/nope.pub` said "(fix: point --verify-key at a verify.pub ...)",
    an option the user had not passed; nothing is re-signed."""
    ds = signed_store / "store" / "ds"
    before = (ds / "manifest.json").read_bytes()
    missing = tmp_path / "nope.pub"
    res = invoke("seal", ds, "--rotate", "--old-verify-key", missing, env=_env(keys))
    assert (res.exit_code, res.stderr) == (2, f"error: cannot read verify key {missing}: [Errno 2] No such file or directory: '{missing}' "
                                              "(fix: point --old-verify-key at a verify.pub made by `labelguard keygen`)\n")
    res = invoke("seal", ds, "--rotate", "--old-verify-key", keys[1].parent, env=_env(keys))
    assert (res.exit_code, res.stderr) == (2, f"error: verify key {keys[1].parent} is a folder, not a key file (fix: point --old-verify-key at {keys[1]})\n")
    assert (ds / "manifest.json").read_bytes() == before
