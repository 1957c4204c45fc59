"""Property tests: any small frame, written as CSV or Parquet, reads back without a crash outside the
labelguard error family, and keeps its ids and labels exactly as written."""

from __future__ import annotations

import io

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labelguard.errors import LabelguardError
from labelguard.tasks.readers import read_bytes
from labelguard.tasks.sources import check_schema, infer_spec

ID_TEXT = st.one_of(
    st.from_regex(r"0[0-9]{1,6}", fullmatch=True),  # zero-padded
    st.from_regex(r"[1-9][0-9]{0,5}", fullmatch=True),
    st.from_regex(r"[A-Za-z][A-Za-z0-9_\-]{0,8}", fullmatch=True),
    st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=6),
)
LABELS = st.sampled_from([["0", "1"], ["neg", "pos"], ["satisfied", "unsatisfied"], ["-1", "1"], ["a", "b", "c"]])
CELL = st.one_of(st.floats(allow_nan=True, allow_infinity=True, width=32), st.integers(-10**6, 10**6), st.text(max_size=5), st.none())


@st.composite
def frames(draw):
    n = draw(st.integers(1, 25))
    ids = draw(st.lists(ID_TEXT, min_size=n, max_size=n))
    classes = draw(LABELS)
    labels = draw(st.lists(st.sampled_from(classes + [""]), min_size=n, max_size=n))
    feats = draw(st.lists(st.lists(CELL, min_size=n, max_size=n), min_size=0, max_size=3))
    data = {"review_id": ids, "label": labels}
    for i, col in enumerate(feats):
        data[f"f{i}"] = col
    return pd.DataFrame(data)


def _encode(frame: pd.DataFrame, kind: str, sep: str, bom: bool) -> tuple[bytes, str]:
    if kind == "csv":
        text = frame.to_csv(index=False, sep=sep)
        return (b"\xef\xbb\xbf" if bom else b"") + text.encode(), "f.csv"
    sink = io.BytesIO()
    frame.astype({c: "string" for c in frame.columns if frame[c].dtype == object}).to_parquet(sink)
    return sink.getvalue(), "f.parquet"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frame=frames(), kind=st.sampled_from(["csv", "parquet"]), sep=st.sampled_from([",", ";", "\t", "|"]), bom=st.booleans(), cut=st.floats(0, 1))
def test_reading_never_crashes_outside_the_error_family(frame, kind, sep, bom, cut):
    try:
        raw, name = _encode(frame, kind, sep, bom)
    except (ValueError, TypeError, OverflowError):
        return  # pandas/pyarrow cannot even write this frame: nothing to read
    for data in (raw, raw[: int(len(raw) * cut)]):  # the file as written, and truncated anywhere
        try:
            read, _ = read_bytes(data, name, id_col="review_id")
            spec = infer_spec(read, id_col="review_id", label_col="label", timestamp_col=None)
            check_schema(read, spec)
        except LabelguardError:
            pass


@st.composite
def clean_frames(draw):
    n = draw(st.integers(2, 30))
    ids = draw(st.lists(st.one_of(st.from_regex(r"0[0-9]{2,6}", fullmatch=True), st.from_regex(r"[A-Za-z][A-Za-z0-9]{0,6}", fullmatch=True)), min_size=n, max_size=n, unique=True))
    classes = draw(LABELS)
    labels = [classes[i % len(classes)] for i in range(n)]
    x = draw(st.lists(st.floats(-1e6, 1e6, allow_nan=False, width=32), min_size=n, max_size=n))
    return pd.DataFrame({"review_id": ids, "label": labels, "x": x})


@settings(max_examples=100, deadline=None)
@given(frame=clean_frames(), kind=st.sampled_from(["csv", "parquet"]), sep=st.sampled_from([",", ";", "\t"]), bom=st.booleans())
def test_ids_and_labels_read_back_exactly_as_written(frame, kind, sep, bom):
    raw, name = _encode(frame, kind, sep, bom)
    read, _ = read_bytes(raw, name, id_col="review_id")
    assert [str(v) for v in read["review_id"]] == list(frame["review_id"])
    assert [str(v) for v in read["label"]] == list(frame["label"])
    assert read["x"].to_numpy(dtype=float) == pytest.approx(frame["x"].to_numpy(dtype=float), rel=1e-6)


@st.composite
def awkward_sources(draw):
    n = draw(st.integers(2, 25))
    ids = draw(st.lists(st.one_of(st.from_regex(r"0[0-9]{1,6}", fullmatch=True), st.from_regex(r"[A-Za-z#][A-Za-z0-9 _\-]{0,6}[A-Za-z0-9]", fullmatch=True)), min_size=n, max_size=n, unique=True))
    classes = draw(LABELS)
    labels = [classes[i % len(classes)] for i in range(n)]
    seconds = draw(st.lists(st.integers(1_600_000_000, 1_900_000_000), min_size=n, max_size=n))
    as_epoch = draw(st.booleans())
    times = seconds if as_epoch else [pd.Timestamp(s, unit="s", tz="UTC").strftime("%Y-%m-%dT%H:%M:%SZ") for s in seconds]
    x = draw(st.lists(st.floats(-1e6, 1e6, allow_nan=False, width=32), min_size=n, max_size=n))
    return pd.DataFrame({"review_id": ids, "label": labels, "x": x, "created_at": times}), seconds


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(source=awkward_sources(), kind=st.sampled_from(["csv", "parquet"]), sep=st.sampled_from([",", ";", "\t"]), bom=st.booleans())
def test_ingested_values_read_back_equal_to_the_source(source, kind, sep, bom, tmp_path_factory, keys):
    """Ingest (the same plain functions the flow runs) keeps ids, labels, features and epoch or ISO
    timestamps exactly as the source has them."""
    from labelguard.tasks.dataset import DATA_KEY, load_verified, write_dataset
    from labelguard.tasks.manifest import load_signing_key, load_verify_key
    from labelguard.tasks.sources import load_source
    from labelguard.tasks.storage import LocalStore

    frame, seconds = source
    raw, name = _encode(frame, kind, sep, bom)
    work = tmp_path_factory.mktemp("ingest")
    (work / name).write_bytes(raw)
    loaded, spec, meta = load_source(str(work / name), positive_class=frame["label"].iloc[0])  # named: 'neg'/'pos' is ambiguous
    store = LocalStore(work / "ds")
    write_dataset(store, loaded, spec, load_signing_key(keys[0]), source=meta)
    back = load_verified(store, load_verify_key(keys[1])).frame
    assert [str(v) for v in back["review_id"]] == list(frame["review_id"])
    assert [str(v) for v in back["label"]] == list(frame["label"])
    assert back["x"].to_numpy(dtype=float) == pytest.approx(frame["x"].to_numpy(dtype=float), rel=1e-6)
    assert [int(t.timestamp()) for t in back["created_at"]] == seconds
    assert (work / "ds" / DATA_KEY).is_file()


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(-1e6, 1e6, allow_nan=False).map(lambda v: round(v, 3)), min_size=1, max_size=20), st.sampled_from([";", "\t", "|"]))
def test_decimal_commas_in_a_non_comma_file_read_as_the_numbers_written(values, sep):
    """European exports: ';'-delimited with "0,868"; the number is what the cell says, never text."""
    lines = [f"id{sep}x{sep}label"] + [f"{i}{sep}{repr(v).replace('.', ',')}{sep}{i % 2}" for i, v in enumerate(values)]
    frame, _ = read_bytes(("\n".join(lines) + "\n").encode(), "eu.csv", id_col="id", delimiter=sep)
    assert frame["x"].dtype == "float64" and frame["x"].tolist() == [float(v) for v in values]
    # and sniffed, on a file of a few rows like a real export
    frame, dialect = read_bytes(b"id;x1;x2;label\n0;0,868;0,640;1\n1;1,105;-0,536;1\n2;-3;12,5;0\n", "eu.csv", id_col="id")
    assert dialect.delimiter == ";" and frame[["x1", "x2"]].to_numpy().tolist() == [[0.868, 0.64], [1.105, -0.536], [-3.0, 12.5]]


def test_a_comma_delimited_file_keeps_quoted_decimal_commas_as_text():
    """In a ','-delimited file a quoted "1,5" is text (a list, a range): only other delimiters imply a decimal comma."""
    frame, _ = read_bytes(b'id,x,label\n1,"1,5",0\n2,"2,5",1\n3,"7,25",0\n', "us.csv", id_col="id")
    assert frame["x"].tolist() == ["1,5", "2,5", "7,25"]


@pytest.mark.parametrize(
    "encoding, texts",
    [
        ("latin-1", ["Très bon produit, je le recommande à tous.", "Déçu : la qualité n'est pas au rendez-vous."]),
        ("cp1252", ["très bon – “vraiment” génial", "Produit arrivé cassé, à éviter"]),
        ("cp1252", ["Sehr gut, würde wieder kaufen", "Größe passt nicht, schade"]),
        ("cp1251", ["Отличный товар, рекомендую всем", "Плохое качество, не покупайте"]),
    ],
)
def test_legacy_encodings_read_as_written(encoding, texts):
    """Not UTF-8: Western exports read as Windows-1252 (charset detection alone garbled them), Cyrillic as itself."""
    rows = "".join(f"{i},\"{texts[i % 2]} {i}\",{i % 2}\n" for i in range(120))
    frame, dialect = read_bytes(("id,review,label\n" + rows).encode(encoding), "legacy.csv", id_col="id")
    assert frame["review"].tolist() == [f"{texts[i % 2]} {i}" for i in range(120)]
    assert dialect.encoding == ("cp1251" if encoding == "cp1251" else "cp1252")


def test_parquet_with_the_id_as_its_pandas_index_reads_the_id_as_a_column():
    """`df.set_index("id").to_parquet()` stores id as a column plus pandas metadata; --id-col id must find it."""
    frame = pd.DataFrame({"id": ["a7", "b3", "c9"], "x": [0.5, 1.5, 2.5], "label": [0, 1, 0]})
    sink = io.BytesIO()
    frame.set_index("id").to_parquet(sink)
    read, _ = read_bytes(sink.getvalue(), "indexed.parquet", id_col="id")
    assert list(read.columns) == ["id", "x", "label"] and read["id"].tolist() == ["a7", "b3", "c9"]
    sink = io.BytesIO()
    frame.set_index("id").reset_index(drop=True).to_parquet(sink, index=True)  # an unnamed RangeIndex stays out
    assert list(read_bytes(sink.getvalue(), "plain.parquet")[0].columns) == ["x", "label"]
