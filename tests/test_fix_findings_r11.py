"""Break-it round 11: the findings of bench/findings/breakit-r11.md (Parquet parts without the .parquet suffix, a part
rewritten under a new name, a header-less CSV, ...). Small data of our own; each test failed on the code before its fix."""

from __future__ import annotations

import io
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from labelguard.tasks.dataset import to_parquet_bytes
from labelguard.tasks.storage import open_store
from labelguard.tasks.synthetic import make_reviews
from tests.clirun import invoke




@pytest.fixture(params=["local", "s3"])
def lake(request, tmp_path):
    """Four Hive-partitioned parts of 150 rows written by 'someone else', one of them named the Hive way (000000_0, no
    suffix), beside what Spark leaves (_SUCCESS, a .crc) and a text file no Parquet reader would take."""
    base = str(tmp_path / "lake") if request.param == "local" else request.getfixturevalue("s3_uri") + "/lake"
    store = open_store(base)
    store.ensure_writable()
    frame = make_reviews(600, seed=11)
    names = ["date=2026-01-01/part-0.parquet", "date=2026-01-01/part-1.parquet", "date=2026-01-02/part-0.parquet", "date=2026-01-02/000000_0"]
    for i, key in enumerate(names):
        store.put(key, to_parquet_bytes(frame.iloc[i * 150 : (i + 1) * 150]))
    store.put("_SUCCESS", b"")
    store.put("date=2026-01-02/.part-0.parquet.crc", b"crc")
    store.put("NOTES", b"exported by the nightly job\n")
    return base, frame, names


# ---------------------------------------------------------------- finding 1: parts without the .parquet suffix


def test_seal_signs_a_part_named_without_the_parquet_suffix(lake, keys):
    """Finding 1: `seal` of a Hive folder signed only the `.parquet` names ("1 object(s), 300 rows" of 600), exit 0,
    though `pd.read_parquet(folder)` reads `000000_0` too. Now every file a Parquet reader takes is a part."""
    base, frame, names = lake
    res = invoke("seal", base, "--signing-key", keys[0], "--ledger", "none")
    assert res.exit_code == 0 and res.stderr == "", res.output
    assert ", 4 object(s), 600 rows; manifest at " in res.stdout
    manifest = json.loads(open_store(base).get("_manifest.json"))
    assert sorted(o["key"] for o in manifest["payload"]["objects"]) == sorted(names)


def test_a_part_without_the_parquet_suffix_added_after_sealing_fires(lake, keys, tmp_path):
    """Finding 1: 300 poisoned rows added as `part-00002-…-c000` (no suffix) to a sealed lake passed `verify --guards
    manifest`, exit 0 (`"ok": true`), while pandas and Spark read them. Now `unlisted-object`, exit 1, rows named."""
    base, frame, names = lake
    assert invoke("seal", base, "--signing-key", keys[0], "--ledger", "none").exit_code == 0
    injected = frame.iloc[:40].assign(review_id=[f"x{i}" for i in range(40)], label=1 - frame["label"].iloc[:40])
    open_store(base).put("date=2026-01-02/part-00002-3f2a-c000", to_parquet_bytes(injected))
    out = tmp_path / "v.json"
    res = invoke("verify", base, "--guards", "manifest", "--verify-key", keys[1], "--ledger", "none", "--json", out)
    assert (res.exit_code, res.stderr) == (1, "guard fired: manifest\n")
    doc = json.loads(out.read_text())
    assert doc["guards"][0]["detail"] == (
        "unlisted-object: 1 Parquet object(s) under the dataset that the signed manifest does not list: date=2026-01-02/part-00002-3f2a-c000; "
        "0 label(s) changed, 0 row(s) otherwise edited, 40 added, 0 missing"
    )
    assert doc["suspect_ids"] == sorted(injected["review_id"])


# ---------------------------------------------------------------- finding 2: a part rewritten under a new name


def test_a_part_rewritten_under_a_new_name_names_the_flipped_rows(lake, keys, tmp_path):
    """Finding 2: a part deleted and written again under another name (Spark's overwrite: a new uuid), 3 labels flipped,
    read as "object-missing: … is gone; … 0 label(s) changed, … 150 missing", suspect_ids [], the new object not named at
    all. Now both reasons, and the rows of the new part compared with the sidecar: exactly the 3 flipped ids. The new
    part stores the label dictionary-encoded (as Spark does), which the sealed parts do not."""
    base, frame, names = lake
    assert invoke("seal", base, "--signing-key", keys[0], "--ledger", "none").exit_code == 0
    store = open_store(base)
    rows = frame.iloc[150:300].copy()
    flipped = rows["review_id"].iloc[[4, 50, 99]].tolist()
    rows.loc[rows["review_id"].isin(flipped), "label"] = 1 - rows.loc[rows["review_id"].isin(flipped), "label"]
    table = pa.Table.from_pandas(rows, preserve_index=False)
    table = table.set_column(table.schema.get_field_index("label"), "label", table["label"].dictionary_encode())
    sink = io.BytesIO()
    pq.write_table(table, sink)
    store.delete(names[1])
    store.put("date=2026-01-01/part-1-9b9b-c000.parquet", sink.getvalue())
    out = tmp_path / "v.json"
    res = invoke("verify", base, "--guards", "manifest", "--verify-key", keys[1], "--ledger", "none", "--json", out)
    assert (res.exit_code, res.stderr) == (1, "guard fired: manifest\n")
    doc = json.loads(out.read_text())
    assert doc["guards"][0]["detail"] == (
        f"object-missing: data object {names[1]} is gone; and unlisted-object: 1 Parquet object(s) under the dataset that the signed "
        "manifest does not list: date=2026-01-01/part-1-9b9b-c000.parquet; 3 label(s) changed, 0 row(s) otherwise edited, 0 added, 0 missing"
    )
    assert doc["suspect_ids"] == sorted(flipped)


# ---------------------------------------------------------------- finding 10: an S3 endpoint that never answers


@pytest.fixture
def black_hole():
    """A TCP port that accepts connections and never answers (a firewall or proxy holding them)."""
    import socket
    import threading

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    held, stop = [], threading.Event()

    def accept():
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    server.close()


def test_an_s3_endpoint_that_never_answers_is_named_as_such_and_the_wait_can_be_set(black_hole, keys):
    """Finding 10: a CI gate pointed at an endpoint that accepts and never answers hung 305 s (60 s x 5 attempts), then
    said "dropped the connection … (fix: check that it is up, or raise LABELGUARD_S3_MAX_ATTEMPTS)": not what happened,
    and a fix that makes the wait longer. Now the line says it did not answer, and LABELGUARD_S3_READ_TIMEOUT sets the wait."""
    import time

    env = {"AWS_ENDPOINT_URL_S3": black_hole, "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "y", "AWS_DEFAULT_REGION": "us-east-1",
           "LABELGUARD_VERIFY_KEY": str(keys[1]), "LABELGUARD_S3_MAX_ATTEMPTS": "2", "LABELGUARD_S3_READ_TIMEOUT": "1"}
    start = time.monotonic()
    res = invoke("verify", "s3://labelguard-hole/reviews", "--guards", "manifest", "--ledger", "none", env=env)
    assert (res.exit_code, res.stdout) == (2, "")
    assert res.stderr == (
        f"error: the S3 endpoint {black_hole} accepted the connection but did not answer within 1 s (after 2 attempts) (fix: check that an "
        "S3 service answers there (not a firewall or proxy holding the connection); LABELGUARD_S3_READ_TIMEOUT sets the wait)\n"
    )
    assert time.monotonic() - start < 30
    res = invoke("verify", "s3://labelguard-hole/reviews", "--guards", "manifest", "--ledger", "none", env={**env, "LABELGUARD_S3_READ_TIMEOUT": "soon"})
    assert (res.exit_code, res.stderr) == (2, "error: LABELGUARD_S3_READ_TIMEOUT='soon' is not a positive number of seconds (fix: set LABELGUARD_S3_READ_TIMEOUT to e.g. 60)\n")


# ---------------------------------------------------------------- finding 3: a CSV exported without its header line


def test_a_csv_without_its_header_line_is_named_as_such(tmp_path, keys):
    """Finding 3: the first row of a header-less export was taken as the header; the fix offered (`--id-col auto`) then
    led, with `--label-col negative`, to a signed dataset one row short whose id column was a feature named '1'. Now
    both are refused in one line naming the cause, exit 2, nothing written."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(3)
    y = np.tile(["negative", "positive"], 30)
    src = tmp_path / "export.csv"
    frame = pd.DataFrame({"id": range(1, 61), "x": rng.normal(size=60).round(3), "z": rng.normal(size=60).round(3), "label": y})
    frame.loc[0, "x"], frame.loc[0, "z"] = -1.117, 0.665
    frame.to_csv(src, index=False, header=False)
    env = {"LABELGUARD_SIGNING_KEY": str(keys[0]), "LABELGUARD_VERIFY_KEY": str(keys[1])}
    dest = tmp_path / "store"
    res = invoke("ingest", "--source", src, "--dest", dest, "--ledger", "none", env=env)
    assert (res.exit_code, res.stdout) == (2, "")
    assert res.stderr == ("error: column 'review_id' not found: the first line reads as a row of data, not a header (have: '1', '-1.117', "
                          "'0.665', 'negative') (fix: add a header line naming the columns (the first line of a CSV is read as its header))\n")
    res = invoke("ingest", "--source", src, "--dest", dest, "--ledger", "none", "--id-col", "auto", "--label-col", "negative", env=env)
    assert (res.exit_code, res.stdout) == (2, "")
    assert res.stderr == ("error: the first line of the file reads as a row of data, not a header (columns: '1', '-1.117', '0.665', "
                          "'negative') (fix: add a header line naming the columns (the first line of a CSV is read as its header))\n")
    assert not dest.exists()


def test_a_header_of_numbers_is_still_a_header():
    """The other side: pandas' integer column names and a header of years are headers, not data."""
    import pandas as pd

    from labelguard.tasks.readers import _header_reads_as_data

    frame = pd.DataFrame({"0": [0.5, 1.5], "1": [2.0, 3.0], "2": [1.0, 0.0], "label": ["a", "b"]})
    assert not _header_reads_as_data(list(frame.columns), frame)
    years = pd.DataFrame({"2019": [3, 4], "2020": [5, 6], "label": ["a", "b"]})
    assert not _header_reads_as_data(list(years.columns), years)
    data = pd.DataFrame({"7": [8, 9], "0.25": [0.1, 0.2], "neg": ["pos", "neg"]})
    assert _header_reads_as_data(list(data.columns), data)


# ---------------------------------------------------------------- finding 5: verify --json into a folder that cannot be written


def test_verify_json_into_a_folder_that_cannot_be_written_is_refused_before_any_guard(tmp_path, keys):
    """Finding 5: `verify --json` into a read-only folder (or /proc) ran every guard, printed the table, and only then
    said "cannot write …" (exit 2, 18 s here; minutes on 100,000 rows), the verdict lost. `pipeline --out` checks first;
    now so does verify: the line alone, exit 2, no table, nothing written."""
    import os

    from tests.test_fix_findings_r9 import _env, _ingest

    _ingest(tmp_path, "ds", keys)
    if os.geteuid() == 0:  # root writes a read-only folder; /proc refuses a new file to everyone
        target, why = "/proc/labelguard-r11-v.json", "No such file or directory"
    else:
        folder = tmp_path / "ro"
        folder.mkdir(mode=0o555)
        target, why = str(folder / "v.json"), "Permission denied"
    res = invoke("verify", tmp_path / "ds", "--ledger", "none", "--json", target, env=_env(keys))
    assert (res.exit_code, res.stdout) == (2, "")
    assert res.stderr == f"error: cannot write {target}: {why} (fix: choose a writable --json path (or - for stdout))\n"
    assert not os.path.exists(target)


# ---------------------------------------------------------------- finding 6: what the flips themselves cost


def _overlapping(n, prefix, seed):
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    label = rng.choice(["pos", "neg"], size=n, p=[0.2, 0.8])
    x = np.where(label == "pos", 0.8, -0.8)
    return pd.DataFrame({"id": [f"{prefix}{i:05d}" for i in range(n)], "f1": x + rng.normal(size=n), "f2": -x + rng.normal(size=n),
                         "f3": 0.5 * x + rng.normal(size=n), "label": label})


def test_the_console_says_how_much_of_the_gap_the_transform_made():
    """Finding 6: `pipeline`'s sentence ("understates the share of 'fraud' by 4.4 points") counted the model's own error on
    clean rows (2.9 of those points) as the transform's. With the same model's figures on the rows before the transform,
    the table shows them as a row and a line says how much of the gap the flips made."""
    import numpy as np
    import pandas as pd

    from labelguard import cli
    from labelguard.tasks.manifest import ColumnSpec
    from labelguard.tasks.report import RunResult
    from labelguard.tasks.train import evaluate
    from tests.test_fix_findings_r5 import _Fixed

    holdout = pd.DataFrame({"id": [f"h{i}" for i in range(20)], "f1": np.arange(20.0), "label": ["pos"] * 5 + ["neg"] * 15})
    spec = ColumnSpec(id_col="id", label_col="label", feature_cols=("f1",), timestamp_col=None, classes=("neg", "pos"), positive_class="pos")
    after = evaluate(_Fixed(["pos"] * 1 + ["neg"] * 19), holdout, spec)  # 1 of 5 'pos' found: 5.0% predicted
    before = evaluate(_Fixed(["pos"] * 3 + ["neg"] * 17), holdout, spec)  # 3 of 5: 15.0%
    run = RunResult(dataset="d", transform="targeted", rate=0.2, seed=0, observe=True, spec=spec, metrics=after, before=before)
    with cli.out.capture() as captured:
        cli._print_runs({"pipeline": run})
    lines = captured.get().splitlines()
    assert lines[-2:] == [
        "Before the transform (the same rows as verified, the same model), the model predicts 'pos' for 15.0% of the trusted holdout "
        "(accuracy 0.900, recall 0.600, F1 0.750; after it 0.800, 0.200, 0.333): the transform moved it 10.0 points down, to 5.0%, against a true 25.0% (the model's own error before it: 10.0 points under).",
        "Trained after the targeted transform, the model predicts 'pos' for 5.0% of the trusted holdout, where the true share of 'pos' "
        "is 25.0%: it understates the share of 'pos' by 20.0 points.",
    ]
    assert "│ before   │ (none)       │     0 │ —      │ 0.900 │ 1.000 │  0.600 │ 0.750 │  15.0% │  25.0% │" in lines


@pytest.mark.flow
def test_pipeline_reports_the_same_model_on_the_rows_before_the_transform(tmp_path, keys, prefect_harness):
    """Through the CLI on own 80:20 data: report.json's `before_transform` is scikit-learn's own logistic regression on the
    rows before the flips (checked here by hand), and the console's line gives its share beside the run's."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from labelguard.tasks.manifest import DatasetRef
    from tests.test_fix_left_r7a import _write

    frame = _overlapping(600, "r", 5)
    data, holdout = frame.iloc[:450], frame.iloc[450:]
    _write(tmp_path / "ds" / "holdout", holdout, keys, ("neg", "pos"), ref=DatasetRef("ds", "holdout", "holdout"))
    _write(tmp_path / "ds", data, keys, ("neg", "pos"), ref=DatasetRef("ds", "data"))
    env = {"LABELGUARD_SIGNING_KEY": str(keys[0]), "LABELGUARD_VERIFY_KEY": str(keys[1])}
    res = invoke("pipeline", tmp_path / "ds", "--transform", "targeted", "--rate", 0.05, "--observe", "--ledger", "none",
                 "--out", tmp_path / "rep", "--no-progress", env=env)
    assert res.exit_code == 1, res.output
    run = json.loads((tmp_path / "rep" / "report.json").read_text())["runs"]["pipeline"]
    m, b = run["metrics"], run["before_transform"]
    features = ["f1", "f2", "f3"]
    clean = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(data[features], data["label"]).predict(holdout[features])
    assert b["accuracy"] == pytest.approx(float(np.mean(clean == holdout["label"].to_numpy())), abs=1e-12)
    assert b["predicted_positive_share"] == pytest.approx(float(np.mean(clean == "pos")), abs=1e-12)
    pred, bpred, true = m["predicted_positive_share"], b["predicted_positive_share"], m["true_positive_share"]
    from labelguard.tasks.report import MATCH_POINTS

    own, was = (pred - bpred) * 100, (bpred - true) * 100
    error = (f"the model's own error before it: {abs(was):.1f} points {'under' if was < 0 else 'over'}" if abs(was) >= MATCH_POINTS
             else f"before it the model matched it within {MATCH_POINTS} points")
    effect = (f"the transform moved it {abs(own):.1f} points {'down' if own < 0 else 'up'}, to {pred:.1%}, against a true {true:.1%} ({error})"
              if abs(own) >= MATCH_POINTS else f"the transform itself did not move it (within {MATCH_POINTS} points; {error})")
    assert res.stdout.splitlines()[-3] == (
        f"Before the transform (the same rows as verified, the same model), the model predicts 'pos' for {bpred:.1%} of the trusted "
        f"holdout (accuracy {b['accuracy']:.3f}, recall {b['recall']:.3f}, F1 {b['f1']:.3f}; after it {m['accuracy']:.3f}, "
        f"{m['recall']:.3f}, {m['f1']:.3f}): {effect}."
    )


# ---------------------------------------------------------------- finding 9: a class with two trailing spaces


def test_a_class_padded_with_spaces_is_shown_as_stored_and_named_in_the_fix(tmp_path):
    """Finding 9: classes exported as 'POSITIVE  ' (two trailing spaces) were shown as 'POSITIVE ' in the refusal of
    `--positive-class POSITIVE`, and that value was refused in turn: the line collapsed the spaces inside the names. Now
    the names are shown as stored and the fix names the class that differs only in spaces or case, quoted for a shell."""
    import numpy as np
    import pandas as pd

    from labelguard.errors import BadInput
    from labelguard.tasks.sources import load_source

    rng = np.random.default_rng(4)
    path = tmp_path / "padded.csv"
    pd.DataFrame({"review_id": range(60), "x": rng.normal(size=60), "label": ["POSITIVE  ", "NEGATIVE  "] * 30}).to_csv(path, index=False)
    with pytest.raises(BadInput) as err:
        load_source(str(path), timestamp_col=None, positive_class="POSITIVE")
    assert err.value.one_line() == ("--positive-class 'POSITIVE' is not one of the classes ('NEGATIVE  ', 'POSITIVE  ') (fix: the class "
                                    "'POSITIVE  ' differs from it only in spaces or case: pass --positive-class 'POSITIVE  ')")
    with pytest.raises(BadInput) as err:
        load_source(str(path), timestamp_col=None, positive_class="maybe")
    assert err.value.one_line() == ("--positive-class 'maybe' is not one of the classes ('NEGATIVE  ', 'POSITIVE  ') "
                                    "(fix: pass --positive-class naming one of: 'NEGATIVE  ', 'POSITIVE  ')")
    _, spec, _ = load_source(str(path), timestamp_col=None, positive_class="POSITIVE  ")
    assert spec.positive_class == "POSITIVE  "


# ---------------------------------------------------------------- finding 8: a lake partitioned by its label


def test_seal_of_a_lake_partitioned_by_its_label_names_the_partition_key(tmp_path, keys):
    """Finding 8: `seal` of `label=churn/part-0.parquet`, `label=stay/part-0.parquet` said "column 'label' not found (have:
    'id', …) (fix: pass --label-col naming an existing column)", though pandas and `ingest` read the folder with a label
    column. Now the line says the label is in the folder names and names the command that keeps it, exit 2, nothing written."""
    frame = make_reviews(200, seed=12)
    lake = tmp_path / "bylabel"
    for value, rows in frame.groupby("label"):
        (lake / f"label={value}").mkdir(parents=True)
        rows.drop(columns="label").to_parquet(lake / f"label={value}" / "part-0.parquet", index=False)
    before = sorted(p.name for p in lake.rglob("*"))
    res = invoke("seal", lake, "--label-col", "label", "--signing-key", keys[0], "--ledger", "none")
    assert (res.exit_code, res.stdout) == (2, "")
    assert res.stderr == (f"error: --label-col 'label' is a Hive partition key (label=… folders) of {lake}, not a column inside its Parquet files, "
                          f"which seal signs as they are (fix: ingest the folder, which keeps the key as a column: labelguard ingest --source "
                          f"{lake} --dest URI)\n")
    assert sorted(p.name for p in lake.rglob("*")) == before


# ---------------------------------------------------------------- finding 4: missing-value spellings as labels


def test_labels_written_as_a_missing_value_are_unlabelled_rows_not_a_class(tmp_path, keys):
    """Finding 4: an empty label was refused, but 'N/A' (30 rows) was signed as a third class beside negative/positive,
    exit 0, and 2 such rows drew "class 'N/A' has 2 row(s) … (fix: give every class at least 3 rows …)". Now the cells
    are named as unlabelled rows, exit 2, nothing written; a class really named 'NA' stays a class."""
    import numpy as np
    import pandas as pd

    from labelguard.tasks.sources import load_source

    rng = np.random.default_rng(6)
    labels = np.array(["negative", "positive"] * 30, dtype=object)
    labels[[5, 17, 40]] = ["N/A", "#N/A", "n/a "]
    src = tmp_path / "export.csv"
    pd.DataFrame({"review_id": range(1, 61), "x": rng.normal(size=60), "label": labels}).to_csv(src, index=False)
    env = {"LABELGUARD_SIGNING_KEY": str(keys[0]), "LABELGUARD_VERIFY_KEY": str(keys[1])}
    res = invoke("ingest", "--source", src, "--dest", tmp_path / "store", "--ledger", "none", env=env)
    assert (res.exit_code, res.stdout) == (2, "")
    assert res.stderr == ("error: label column 'label' has 3 cell(s) written as a missing value ('#N/A', 'N/A', 'n/a '), first at id 6: "
                          "they would be a class of their own (fix: label every row, or drop the unlabelled rows before ingest)\n")
    assert not (tmp_path / "store").exists()
    named = tmp_path / "named.csv"
    pd.DataFrame({"review_id": range(60), "x": rng.normal(size=60), "label": ["NA", "EU", "APAC"] * 20}).to_csv(named, index=False)
    _, spec, _ = load_source(str(named), timestamp_col=None)
    assert sorted(spec.classes) == ["APAC", "EU", "NA"]
