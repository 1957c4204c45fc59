"""Break-it round 15: the findings of bench/findings/breakit-r15.md (own data as pipelines write it: Parquet types,
plots, the CI-gate view). Each test failed on the code before its fix."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from tests.clirun import invoke


def _frame(n: int = 300, seed: int = 15, labels=(0, 1)) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, len(labels), n)
    return pd.DataFrame({"review_id": np.arange(n), "f1": rng.normal(y * 3.0, 1.0), "f2": rng.normal(-y * 2.0, 1.0),
                         "label": [labels[k] for k in y]})


def _ingest_file(tmp_path, name, keys, src, *, ledger=None, **load):
    """What `ingest --source SRC --dest tmp_path/name` writes, without Prefect (ids in 'review_id' unless given)."""
    from tests.test_fix_findings_r13 import ingest_file

    return ingest_file(tmp_path, name, keys, src, ledger=ledger, **{"id_col": "review_id", **load})


# ---------------------------------------------------------------- finding 1: timestamp ids with a time zone


def test_timestamp_ids_are_written_to_truth_files_and_verify_json_as_text(tmp_path, key_env):
    """Ids that are timestamps with a time zone (`pd.date_range(..., tz="Europe/Berlin")` written to Parquet): `tamper`
    died on `Object of type Timestamp is not JSON serializable` (exit 2) leaving a cut-off truth file, and `verify
    --json` of the edited dataset exited 2 instead of 1. Now the ids are the text the console prints."""
    frame = _frame()
    frame["review_id"] = pd.date_range("2026-03-01", periods=len(frame), freq="min", tz="Europe/Berlin")
    frame.to_parquet(tmp_path / "tsid.parquet")
    ds = _ingest_file(tmp_path, "tsid", key_env, tmp_path / "tsid.parquet")
    res = invoke("tamper", ds, "--attack", "random", "--rate", 0.02, "--seed", 3, "--truth-out", tmp_path / "truth.json")
    assert (res.exit_code, res.stderr) == (0, "")
    flipped = [f["id"] for f in json.loads((tmp_path / "truth.json").read_text())["flipped"]]
    assert len(flipped) == 5 and all(isinstance(i, str) and i.startswith("2026-03-01 ") and i.endswith("+01:00") for i in flipped)
    res = invoke("verify", ds, "--guards", "manifest", "--json", tmp_path / "v.json")
    assert (res.exit_code, res.stderr) == (1, "guard fired: manifest\n")
    assert sorted(json.loads((tmp_path / "v.json").read_text())["suspect_ids"]) == sorted(flipped)


def test_poison_of_timestamp_ids_writes_a_whole_truth_file(tmp_path, key_env):
    frame = _frame()
    frame["review_id"] = pd.date_range("2026-03-01", periods=len(frame), freq="min", tz="UTC")
    frame.to_parquet(tmp_path / "tsid.parquet")
    res = invoke("poison", tmp_path / "tsid.parquet", "--attack", "random", "--rate", 0.05, "--label-col", "label",
                 "--out", tmp_path / "p.parquet", "--truth-out", tmp_path / "truth.json")
    assert (res.exit_code, res.stderr) == (0, "")
    flipped = {f["id"]: f["new"] for f in json.loads((tmp_path / "truth.json").read_text())["flipped"]}
    poisoned = pd.read_parquet(tmp_path / "p.parquet")
    changed = poisoned.loc[poisoned["label"].ne(frame["label"]), ["review_id", "label"]]
    assert len(flipped) == 15
    assert flipped == {str(i): int(v) for i, v in changed.itertuples(index=False)}  # the text of each changed row's timestamp


# ---------------------------------------------------------------- finding 12: a transform that relabels every row of a class


def _imbalanced(n: int = 400, ones: int = 20, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    y = np.zeros(n, int)
    y[:ones] = 1
    rng.shuffle(y)
    return pd.DataFrame({"review_id": np.arange(n), "f1": rng.normal(y * 3.0), "f2": rng.normal(-y * 3.0), "label": y})


def test_a_transform_that_wipes_out_a_class_is_measured_not_an_error(tmp_path, key_env, prefect_harness):
    """`targeted` at the class's own share relabels every training row of class 1: the guards fired, and `--observe`
    (the fix the stopped run gives) exited 2, "the training data holds a single class", writing no report. Now the
    model those rows give predicts 0 for every holdout row, and that is the damage reported: exit 1, report written."""
    _imbalanced().to_csv(tmp_path / "imb.csv", index=False)
    ds = _ingest_file(tmp_path, "imb", key_env, tmp_path / "imb.csv")
    res = invoke("pipeline", ds, "--transform", "targeted", "--rate", 0.05, "--observe", "--out", tmp_path / "rep", "--no-progress")
    assert res.exit_code == 1, res.output
    assert res.stderr == "guard fired: label_contract, class_balance, reference_model (observe mode: trained anyway)\n"
    run = json.loads((tmp_path / "rep" / "report.json").read_text())["runs"]["pipeline"]
    assert run["flipped"] == 16  # every training row of class 1
    m = run["metrics"]
    assert (m["predicted_positive_share"], m["recall"], m["true_positive_share"]) == (0.0, 0.0, 0.05)
    assert m["accuracy"] == 0.95
    assert "Trained after the targeted transform, the model predicts 1 for 0.0% of the trusted holdout, where the true share of 1 is 5.0%: it understates the share of 1 by 5.0 points." in res.stdout


# ---------------------------------------------------------------- finding 5: a signed dataset deleted wholesale


def test_a_dataset_the_ledger_recorded_and_that_is_gone_is_object_missing_not_a_typo(tmp_path, key_env):
    """The whole dataset folder removed: `verify` said "no dataset at … (fix: check the URI (labelguard ingest writes one
    there))", exit 2, though the ledger signed data exactly there; a served watch failed without an alarm. Now it is
    `object-missing` (exit 1) naming what the ledger recorded; a location the ledger never saw is still a typo."""
    import shutil

    from labelguard.tasks.ledger import Ledger

    _frame().to_csv(tmp_path / "src.csv", index=False)
    book = tmp_path / "ledger.jsonl"
    ds = _ingest_file(tmp_path, "ds", key_env, tmp_path / "src.csv", ledger=Ledger(book))
    shutil.rmtree(ds)
    res = invoke("verify", ds, "--guards", "manifest", "--ledger", book, "--json", tmp_path / "v.json")
    assert (res.exit_code, res.stderr) == (1, "guard fired: manifest\n")
    doc = json.loads((tmp_path / "v.json").read_text())
    assert doc["verdict"] == "fired"
    detail = doc["guards"][0]["detail"]
    assert detail.startswith(f"object-missing: the ledger records data of dataset {ds.name}-")
    assert detail.endswith(f" at {ds.resolve()}, and its manifest and every object are gone")
    res = invoke("verify", ds, "--ledger", book)  # every guard asked for: the same verdict, not a typo
    assert (res.exit_code, res.stderr) == (1, "guard fired: manifest\n")
    res = invoke("verify", tmp_path / "dss", "--guards", "manifest", "--ledger", book)
    assert (res.exit_code, res.stderr) == (2, f"error: no dataset at {tmp_path / 'dss'} (fix: check the URI (labelguard ingest writes one there))\n")
    res = invoke("verify", ds, "--guards", "manifest", "--ledger", "none")  # without the ledger nothing tells it from a typo
    assert res.exit_code == 2


# ---------------------------------------------------------------- finding 2: long class names in boundaries.png


def test_a_legend_of_long_class_names_lies_inside_the_image(tmp_path, monkeypatch):
    """25 classes named like 'Überprüfung ausstehend – Kategorie 07 (sehr lange Bezeichnung)': the legend below the plot,
    three columns of them, ran off both edges and the bottom of boundaries.png (one row of ten entries shown, cut).
    Now long names go in fewer columns and the legend lies inside the figure, every entry in it."""
    from tests.test_fix_findings_r8 import boundaries_figure, clustered_classes, legend_extents

    names = [f"Überprüfung ausstehend – Kategorie {k:02d} (sehr lange Bezeichnung)" for k in range(25)]
    fig, real_close = boundaries_figure(*clustered_classes(names, seed=7, spread=6), tmp_path, monkeypatch)
    legend, axes_box, frame_box, texts = legend_extents(fig)
    real_close(fig)
    assert texts == [f"labelled {n!r}" for n in names] + ["this model's boundary"]
    assert (frame_box.x0 <= legend.x0 and legend.x1 <= frame_box.x1 and frame_box.y0 <= legend.y0), (legend, frame_box)
    assert legend.y1 <= axes_box.y0, "the legend covers the plot"


# ---------------------------------------------------------------- finding 15: a Parquet column name written twice


def test_a_parquet_column_written_twice_is_named(tmp_path, key_env):
    """pyarrow (and Spark) write a file with two columns named `f2`: ingest said "dup.parquet is not readable Parquet:
    Multiple matches for FieldRef.Name(f2) … (fix: check that the file is complete Parquet)" of a complete file."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    f = _frame()
    pq.write_table(pa.Table.from_arrays([pa.array(f.review_id), pa.array(f.f1), pa.array(f.f2), pa.array(f.f2 * 2), pa.array(f.label)],
                                        names=["review_id", "f1", "f2", "f2", "label"]), tmp_path / "dup.parquet")
    res = invoke("ingest", "--source", tmp_path / "dup.parquet", "--label-col", "label", "--dest", tmp_path / "ds")
    assert (res.exit_code, res.stderr) == (2, "error: column 'f2' appears 2 times in dup.parquet (fix: rename or drop all but one of them before ingest (columns are read by name))\n")
    assert not (tmp_path / "ds").exists()


# ---------------------------------------------------------------- finding 9: Parquet BINARY strings


def _binary_file(path, *, latin1_row: int | None = None):
    import pyarrow as pa
    import pyarrow.parquet as pq

    f = _frame(labels=("stay", "churn"))
    words = np.array(["great service and a fair price", "slow delivery and a broken lid"])
    review = [s.encode() for s in words[(f.label == "churn").to_numpy().astype(int)]]
    if latin1_row is not None:
        review[latin1_row] = "café très bon, livré à temps".encode("cp1252")
    pq.write_table(pa.table({"review_id": f.review_id, "f1": f.f1, "f2": f.f2, "review": pa.array(review, type=pa.binary()),
                             "label": pa.array([s.encode() for s in f.label], type=pa.binary())}), path)
    return f


def test_binary_label_and_text_columns_are_read_as_text(tmp_path, key_env):
    """Strings stored as Parquet BINARY (Hive, Impala, older Spark): the labels were b'churn'/b'stay', `--positive-class
    churn` was refused with a fix naming b'churn' (which then crashed on JSON), and a review column holding a Latin-1 byte
    was ignored without a reason or, named with --text-cols, an unexpected UnicodeDecodeError. Now they are text."""
    import pyarrow.parquet as pq

    from labelguard.tasks.sources import load_source

    f = _binary_file(tmp_path / "b.parquet", latin1_row=3)
    res = invoke("poison", tmp_path / "b.parquet", "--attack", "targeted", "--rate", 0.1, "--label-col", "label", "--positive-class", "churn",
                 "--out", tmp_path / "p.parquet", "--truth-out", tmp_path / "truth.json")
    assert (res.exit_code, res.stderr) == (0, "")
    flipped = json.loads((tmp_path / "truth.json").read_text())["flipped"]
    assert len(flipped) == 30 and {(x["old"], x["new"]) for x in flipped} == {("churn", "stay")}
    out = pq.read_table(tmp_path / "p.parquet")
    assert str(out.schema.field("label").type) == "binary"  # the file keeps its own types
    assert sum(v == b"churn" for v in out.column("label").to_pylist()) == int((f.label == "churn").sum()) - 30
    frame, spec, _ = load_source(str(tmp_path / "b.parquet"), id_col="review_id", label_col="label", timestamp_col=None,
                                 positive_class="churn", text_cols=["review"])
    assert spec.text_cols == ("review",) and set(spec.classes) == {"churn", "stay"}
    assert frame["review"].iloc[3] == "café très bon, livré à temps"


# ---------------------------------------------------------------- finding 13: the "before" line on 3+ classes with a named class


def test_the_before_line_of_a_named_class_among_many_gives_its_own_move():
    """12 classes, `--positive-class c3`, targeted 5 %: the line said "accuracy 0.804 and macro F1 0.914 (after it 0.773,
    0.578); its largest shift was 'c2'" — 0.914 was c3's F1 (macro F1: 0.809), and c3's move (10.5 % → 3.6 % predicted,
    8.8 % true) was not said. Now the named class's share before and after, with its recall and F1 named as its own."""
    from labelguard.tasks import train
    from labelguard.tasks.manifest import ColumnSpec
    from labelguard.tasks.report import RunResult, before_sentence

    rng = np.random.default_rng(11)
    names = ["a", "b", "c", "d"]
    y = rng.integers(0, 4, 1200)
    centres = np.array([[0, 0], [4, 0], [0, 4], [4, 4]])
    frame = pd.DataFrame({"review_id": range(1200), "f1": centres[y, 0] + rng.normal(size=1200), "f2": centres[y, 1] + rng.normal(size=1200),
                          "label": np.array(names)[y]})
    spec = ColumnSpec(feature_cols=("f1", "f2"), classes=tuple(names), positive_class="c")
    tr, ho = frame.iloc[:900], frame.iloc[900:]
    poisoned = tr.copy()
    cs = poisoned.index[poisoned.label == "c"][:150]
    poisoned.loc[cs, "label"] = "a"
    b = train.evaluate(train.train_model(tr, spec), ho, spec)
    m = train.evaluate(train.train_model(poisoned, spec), ho, spec)
    run = RunResult("ds", "targeted", 0.17, 0, True, spec, metrics=m, before=b)
    pred, bpred, true = m["predicted_positive_share"], b["predicted_positive_share"], m["true_positive_share"]
    assert (pred - bpred) * 100 < -5  # the named class lost share to the flips
    own, was = (pred - bpred) * 100, (bpred - true) * 100
    error = f"the model's own error before it: {abs(was):.1f} points {'under' if was < 0 else 'over'}" if abs(was) >= 0.05 else "before it the model matched it within 0.05 points"
    assert before_sentence(run) == (
        f"Before the transform (the same rows as verified, the same model), the model predicts 'c' for {bpred:.1%} of the trusted holdout "
        f"(accuracy {b['accuracy']:.3f}, recall of 'c' {b['recall']:.3f}, F1 of 'c' {b['f1']:.3f}; after it {m['accuracy']:.3f}, "
        f"{m['recall']:.3f}, {m['f1']:.3f}): the transform moved it {abs(own):.1f} points down, to {pred:.1%}, against a true {true:.1%} ({error}).")


# ---------------------------------------------------------------- finding 6: a served run's verdict logged as a crash


@pytest.mark.filterwarnings("ignore:Logger 'prefect.flow_runs' attempted to send logs")
def test_a_flow_run_failing_on_a_verdict_is_logged_without_a_traceback():
    """A served `watch` printed, for every run that fired or could not tell, Prefect's "Encountered exception during
    execution" with a 15-line traceback and "Engine execution exited with unexpected exception" with a second one. Now
    the run loggers keep the first as its one line and drop the second; another exception keeps its traceback."""
    import io
    import logging

    import labelguard.flows._prefect  # noqa: F401 - installs the filter, as every flow module does
    from labelguard.errors import GuardFired

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger = logging.getLogger("prefect.flow_runs")
    logger.addHandler(handler)
    try:
        for exc in (GuardFired(["manifest"], fix="inspect the guard table artifact 'wt1'"), ZeroDivisionError("division by zero")):
            try:
                raise exc
            except Exception as caught:
                logger.exception("Encountered exception during execution: %r", caught)
                logger.error("Engine execution exited with unexpected exception", exc_info=True)
    finally:
        logger.removeHandler(handler)
    lines = stream.getvalue().splitlines()
    assert lines[0] == """Encountered exception during execution: GuardFired("manifest fired, training stopped (fix: inspect the guard table artifact 'wt1')")"""
    assert lines[1] == "Encountered exception during execution: ZeroDivisionError('division by zero')"
    assert lines[2] == "Traceback (most recent call last):"
    assert sum(line == "Traceback (most recent call last):" for line in lines) == 2  # both of the unexpected one's
    assert sum(line.startswith("Engine execution exited") for line in lines) == 1


# ---------------------------------------------------------------- finding 4: one class code written two ways


def test_a_label_code_written_with_and_without_zero_padding_is_refused(tmp_path, key_env):
    """Labels 1/0 with every 10th row exported as 01/00: ingest signed a 4-class dataset (0: 207, 00: 26, 01: 22, 1: 225),
    with no positive class, where `TRUE`/`True` in one column is refused as an export slip. Now it is refused the same way;
    codes padded alike throughout ('007') stay as written."""
    f = _frame()
    f["label"] = f["label"].astype(str)
    f.loc[f.index[::10], "label"] = f.loc[f.index[::10], "label"].map({"1": "01", "0": "00"})
    f.to_csv(tmp_path / "pad.csv", index=False)
    res = invoke("ingest", "--source", tmp_path / "pad.csv", "--label-col", "label", "--dest", tmp_path / "ds")
    assert (res.exit_code, res.stderr) == (2, "error: labels '0', '00' in 'label' are the number 0 written 2 ways (zero padding or a sign), so they would be "
                                              "separate classes (fix: write each class code one way before ingest (all padded to one width, or none))\n")
    assert not (tmp_path / "ds").exists()
    from labelguard.tasks.sources import load_source

    f["label"] = f["label"].map({"1": "01", "0": "00", "01": "01", "00": "00"})
    f.to_csv(tmp_path / "padded.csv", index=False)
    assert load_source(str(tmp_path / "padded.csv"), id_col="review_id", label_col="label", timestamp_col=None)[1].classes == ("00", "01")


# ---------------------------------------------------------------- finding 14: a key path from the variable


def test_a_verify_key_from_the_variable_is_named_in_the_fix(tmp_path, key_env, monkeypatch):
    """`LABELGUARD_VERIFY_KEY=keys/verify.pub` from another folder: "(fix: point --verify-key at a verify.pub …)", an option
    never passed, and nothing said of the relative path. Now the fix names the variable too and says where a relative path
    is read from."""
    _frame().to_csv(tmp_path / "src.csv", index=False)
    ds = _ingest_file(tmp_path, "ds", key_env, tmp_path / "src.csv")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LABELGUARD_VERIFY_KEY", "keys/verify.pub")
    res = invoke("verify", ds, "--guards", "manifest")
    assert (res.exit_code, res.stderr) == (2, "error: cannot read verify key keys/verify.pub: [Errno 2] No such file or directory: 'keys/verify.pub' (fix: point "
                                              "LABELGUARD_VERIFY_KEY / --verify-key at a verify.pub made by `labelguard keygen`; a relative path is read from the current folder)\n")


# ---------------------------------------------------------------- finding 7: watch and alert need the server that does not answer


def test_watch_and_alert_with_an_unanswering_api_are_told_to_start_it(tmp_path, key_env, monkeypatch):
    """`PREFECT_API_URL` at a server that does not answer: `watch` and `alert` were told "…, or unset PREFECT_API_URL to
    run on a temporary local API", which only led to "scheduled runs need a Prefect server". `pipeline` keeps that fix."""
    from labelguard.server import free_port

    dead = f"http://127.0.0.1:{free_port()}/api"
    monkeypatch.setenv("PREFECT_API_URL", dead)
    monkeypatch.chdir(tmp_path)
    _frame().to_csv(tmp_path / "src.csv", index=False)
    ds = _ingest_file(tmp_path, "ds", key_env, tmp_path / "src.csv")
    line = (f"error: the Prefect API at {dead} does not answer (fix: start it (`labelguard server` or `prefect server start`), "
            "or point PREFECT_API_URL at a running one)\n")
    res = invoke("watch", ds, "--cron", "0 * * * *", "--name", "w")
    assert (res.exit_code, res.stderr) == (2, line)
    res = invoke("alert", "--webhook", "https://hooks.example.com/x")
    assert (res.exit_code, res.stderr) == (2, line)


# ---------------------------------------------------------------- finding 10: a column name holding a comma


def test_a_column_whose_name_holds_a_comma_can_be_named(tmp_path, key_env):
    """A spreadsheet column "Preis, EUR" (with an empty and an 'n/a' cell): `--ignore-cols "Preis, EUR"` was split into
    'Preis' and 'EUR' — "names column 'Preis', which is not in the data" — and no quoting got through: the file's header had
    to be edited. Now pieces that join back into a column's name are that column."""
    f = _frame()
    f["Preis, EUR"] = "3.5"
    f.loc[0, "Preis, EUR"], f.loc[1, "Preis, EUR"] = "", "n/a"
    f.to_csv(tmp_path / "comma.csv", index=False)
    for written in ("Preis, EUR", "Preis,EUR", "f2,Preis, EUR"):
        out = tmp_path / f"p{len(written)}.csv"
        res = invoke("poison", tmp_path / "comma.csv", "--attack", "random", "--rate", 0.05, "--label-col", "label", "--ignore-cols", written, "--out", out)
        assert (res.exit_code, res.stderr) == (0, ""), written
        assert res.stdout == f"wrote {out}: 15 labels flipped with random\n"
    from labelguard.tasks.sources import load_source

    spec = load_source(str(tmp_path / "comma.csv"), id_col="review_id", label_col="label", timestamp_col=None, ignore_cols=["Preis", "EUR"])[1]
    assert spec.feature_cols == ("f1", "f2")


# ---------------------------------------------------------------- finding 8: parts stored with other widths or encodings


def test_a_lake_whose_parts_store_the_same_values_differently_is_sealed_and_checked(tmp_path, key_env):
    """Part 0 as pandas writes a categorical label (dictionary<string>), part 1 with plain strings, an int32 id and a
    float32 feature: every reader takes the folder as one table, but seal refused it ("part part-1.parquet has another
    schema than part-0.parquet (label: dictionary<…> vs large_string)") with a fix that split it in two datasets. Now it
    is sealed, and an edit of one label in the second part is named."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    f = _frame(labels=("stay", "churn"))
    lake = tmp_path / "lake"
    lake.mkdir()
    a, b = f.iloc[:150].copy(), f.iloc[150:].copy()
    a["label"] = pd.Categorical(a["label"])
    b["review_id"], b["f1"] = b["review_id"].astype(np.int32), b["f1"].astype(np.float32)
    a.to_parquet(lake / "part-0.parquet")
    b.to_parquet(lake / "part-1.parquet")
    res = invoke("seal", lake, "--id-col", "review_id", "--label-col", "label")
    assert (res.exit_code, res.stderr) == (0, "")
    res = invoke("verify", lake, "--guards", "manifest")
    assert (res.exit_code, res.stderr) == (0, "")
    t = pq.read_table(lake / "part-1.parquet")
    labels = t.column("label").to_pylist()
    labels[7] = "stay" if labels[7] == "churn" else "churn"
    pq.write_table(t.set_column(t.schema.get_field_index("label"), "label", pa.array(labels, type=t.schema.field("label").type)), lake / "part-1.parquet")
    res = invoke("verify", lake, "--guards", "manifest", "--json", tmp_path / "v.json")
    assert (res.exit_code, res.stderr) == (1, "guard fired: manifest\n")
    assert json.loads((tmp_path / "v.json").read_text())["suspect_ids"] == [157]
    other = tmp_path / "kinds"  # a change of kind is another schema still
    other.mkdir()
    f.iloc[:150].to_parquet(other / "part-0.parquet")
    f.iloc[150:].assign(f1=lambda d: d["f1"].round(2).astype(str)).to_parquet(other / "part-1.parquet")
    res = invoke("seal", other, "--id-col", "review_id", "--label-col", "label")
    assert res.exit_code == 2 and res.stderr.startswith("error: part part-1.parquet has another schema than part-0.parquet (f1: double vs ")
