"""Break-it round 12: the findings of bench/findings/breakit-r12.md (PostgreSQL as source and attack vector, ids as
people have them, the CI gate). Small data of our own against the session's throwaway PostgreSQL; each test failed on
the code before its fix."""

from __future__ import annotations

import json

import psycopg

from labelguard.tasks import postgres as pg
from tests.clirun import invoke


def _sql(url: str, statement: str, params=None) -> None:
    with psycopg.connect(url.split("?")[0]) as conn:
        conn.execute(statement, params)


def _table(url: str, name: str) -> str:
    return url.replace("table=reviews", f"table={name}")


# ---------------------------------------------------------------- finding 10: another table's fingerprint


def test_another_tables_fingerprint_is_a_usage_error_not_every_row_changed(pg_url, keys, tmp_path):
    """Passing t_small's snapshot while checking reviews read as "every label changed, some deleted" (exit 1)."""
    pg.seed_db(pg.parse_table_url(pg_url), 60, seed=1)
    other = _table(pg_url, "other")
    pg.seed_db(pg.parse_table_url(other), 80, seed=2)
    fp = tmp_path / "other.json"
    assert invoke("snapshot", other, "--out", fp, "--signing-key", keys[0]).exit_code == 0
    db = pg_url.split("/")[-1].split("?")[0]
    line = f"error: {fp} is the snapshot of table other in database {db}, not of reviews in {db} (fix: pass reviews's own fingerprint, or take one: labelguard snapshot URL)\n"
    res = invoke("verify", pg_url, "--fingerprint", fp, "--verify-key", keys[1])
    assert (res.exit_code, res.stderr, res.stdout) == (2, line, "")
    res = invoke("ingest", "--source", pg_url, "--dest", tmp_path / "ds", "--fingerprint", fp, "--signing-key", keys[0])
    assert (res.exit_code, res.stderr) == (2, line)
    assert not (tmp_path / "ds").exists()
    # its own table still verifies against it
    res = invoke("verify", other, "--fingerprint", fp, "--verify-key", keys[1])
    assert res.exit_code == 0


# ---------------------------------------------------------------- finding 11: --guards manifest and the dataset's holdout


def test_integrity_only_verify_checks_the_datasets_own_holdout(tmp_path, keys):
    """`verify DS --guards manifest` of a dataset whose holdout was tampered at rest (or holds an unlisted Parquet file)
    exited 0 "pass": the manifest guard alone never read the signed holdout. Now exit 1, as a full verify says."""
    import hashlib

    from tests.test_fix_findings_r9 import _env, _ingest

    ds = _ingest(tmp_path, "ds", keys)
    res = invoke("verify", ds, "--guards", "manifest", "--ledger", "none", env=_env(keys))
    assert res.exit_code == 0
    signed = json.loads((ds / "holdout" / "manifest.json").read_text())["payload"]["objects"][0]["sha256"]
    res = invoke("tamper", ds / "holdout", "--attack", "random", "--rate", 0.1, "--seed", 1, "--truth-out", tmp_path / "t.json", env=_env(keys))
    assert res.exit_code == 0
    now = hashlib.sha256((ds / "holdout" / "data.parquet").read_bytes()).hexdigest()
    flipped = sorted(f["id"] for f in json.loads((tmp_path / "t.json").read_text())["flipped"])
    # finding 4: the rows the holdout's signed sidecar names are said too (the count alone was)
    line = (f"guard fired: holdout fired, cannot be trusted (the holdout at {ds}/holdout failed verification: digest-mismatch: "
            f"holdout/data.parquet: SHA-256 {now[:12]}… differs from signed {signed[:12]}…; 4 label(s) changed, 0 row(s) otherwise edited, "
            f"0 added, 0 missing; rows: {', '.join(map(str, flipped))}) (fix: restore the trusted data from a signed copy, or point at another signed baseline/holdout)\n")
    res = invoke("verify", ds, "--guards", "manifest", "--ledger", "none", env=_env(keys))
    assert (res.exit_code, res.stderr) == (1, line)
    res = invoke("verify", ds, "--guards", "manifest,schema", "--ledger", "none", env=_env(keys))
    assert (res.exit_code, res.stderr) == (1, line)


# ---------------------------------------------------------------- finding 18: a table's labels pass a file's label checks


def _labelled_table(url: str, name: str, odd: dict[int, str]) -> str:
    _sql(url, f"CREATE TABLE {name} (review_id int PRIMARY KEY, f1 float8 NOT NULL, label text NOT NULL)")
    _sql(url, f"INSERT INTO {name} SELECT i, i % 2 * 2 + i / 1000.0, CASE WHEN i % 2 = 0 THEN 'good' ELSE 'bad' END FROM generate_series(1, 120) i")
    for rid, label in odd.items():
        _sql(url, f"UPDATE {name} SET label = %s WHERE review_id = %s", (label, rid))
    return _table(url, name)


def test_table_labels_differing_only_in_case_or_spaces_are_refused_as_in_a_file(pg_url, keys, tmp_path, monkeypatch):
    """Labels 'good ', 'Bad' beside 'good', 'bad' were signed as four classes from a table (a file is refused); 'N/A'
    labels became a class (a file's are unlabelled rows)."""
    monkeypatch.setenv("LABELGUARD_STATE_DIR", str(tmp_path / "state"))
    spaced = _labelled_table(pg_url, "spaced", {2: "good ", 3: "Bad", 5: "Bad"})
    line = "error: labels 'Bad', 'bad' in 'label' differ only in case or spaces, so they would be separate classes (fix: normalise the label column to one spelling per class before ingest)\n"
    res = invoke("snapshot", spaced, "--label-col", "label", "--signing-key", keys[0])
    assert (res.exit_code, res.stderr) == (2, line)
    res = invoke("ingest", "--source", spaced, "--dest", tmp_path / "ds", "--positive-class", "good", "--signing-key", keys[0])
    assert (res.exit_code, res.stderr) == (2, line)
    marked = _labelled_table(pg_url, "marked", {2: "N/A", 4: "N/A", 7: "n/a"})
    line = ("error: label column 'label' of marked has 3 label(s) written as a missing value ('N/A', 'n/a'): they would be a class of their own "
            "(fix: label every row, or delete the unlabelled rows, before the snapshot)\n")
    res = invoke("snapshot", marked, "--label-col", "label", "--signing-key", keys[0])
    assert (res.exit_code, res.stderr) == (2, line)
    assert not (tmp_path / "ds").exists() and not (tmp_path / "state").exists()


# ---------------------------------------------------------------- finding 17: a new snapshot says what it signs anew


def test_a_new_snapshot_names_what_changed_since_the_one_it_replaces(pg_url, keys, tmp_path, monkeypatch):
    """A nightly `snapshot` replaced the signed fingerprint in silence, so an UPDATE made since the last one became the
    signed state without a word. Now the replaced snapshot is compared and the changes named."""
    monkeypatch.setenv("LABELGUARD_STATE_DIR", str(tmp_path / "state"))
    pg.seed_db(pg.parse_table_url(pg_url), 50, seed=3)
    res = invoke("snapshot", pg_url, "--signing-key", keys[0])
    assert res.exit_code == 0 and "replaced" not in res.stdout
    then = json.loads(next((tmp_path / "state" / "tables").glob("*.json")).read_text())["payload"]["taken_at"]
    res = invoke("snapshot", pg_url, "--signing-key", keys[0])
    assert res.exit_code == 0 and res.stdout.splitlines()[1] == f"replaced the snapshot of {then}: the table is unchanged since it"
    then = json.loads(next((tmp_path / "state" / "tables").glob("*.json")).read_text())["payload"]["taken_at"]
    _sql(pg_url, "UPDATE reviews SET label = 1 - label WHERE review_id IN ('rev-0000007', 'rev-0000030')")
    _sql(pg_url, "DELETE FROM reviews WHERE review_id = 'rev-0000041'")
    res = invoke("snapshot", pg_url, "--signing-key", keys[0])
    assert res.exit_code == 0
    assert res.stdout.splitlines()[1] == (f"replaced the snapshot of {then}: since it 2 label(s) changed, 0 row(s) otherwise edited, 0 inserted, "
                                          "1 deleted, now signed as the table's state: rev-0000007, rev-0000030, rev-0000041")


# ---------------------------------------------------------------- finding 7: tamper of a table takes --positive-class


def test_tamper_of_a_table_takes_the_positive_class_it_is_given(pg_url, keys, tmp_path, monkeypatch):
    """`tamper postgresql://… --attack targeted --positive-class good` answered "cannot tell which class is positive …
    (fix: pass --positive-class …)", exit 2: the flag was dropped on the way to the table."""
    monkeypatch.setenv("LABELGUARD_STATE_DIR", str(tmp_path / "state"))
    url = _labelled_table(pg_url, "named", {})
    assert invoke("snapshot", url, "--label-col", "label", "--signing-key", keys[0]).exit_code == 0
    res = invoke("tamper", url, "--attack", "targeted", "--rate", 0.05, "--positive-class", "good", "--truth-out", tmp_path / "t.json")
    assert res.exit_code == 0, res.stderr
    flipped = json.loads((tmp_path / "t.json").read_text())["flipped"]
    assert len(flipped) == 6 and {(f["old"], f["new"]) for f in flipped} == {("good", "bad")}
    res = invoke("verify", url, "--verify-key", keys[1], "--json", tmp_path / "v.json")
    assert res.exit_code == 1
    assert sorted(json.loads((tmp_path / "v.json").read_text())["suspect_ids"]) == sorted(f["id"] for f in flipped)
    res = invoke("tamper", url, "--attack", "targeted", "--rate", 0.05, "--positive-class", "gud", "--truth-out", tmp_path / "t2.json")
    assert (res.exit_code, res.stderr) == (2, "error: --positive-class 'gud' is not one of the classes ('bad', 'good') (fix: pass --positive-class naming one of: 'bad', 'good')\n")


# ---------------------------------------------------------------- finding 5: a column added after the snapshot


def test_a_column_added_after_the_snapshot_is_named_and_the_fix_can_work(pg_url, keys, tmp_path):
    """`ALTER TABLE … ADD COLUMN` made every row read "otherwise edited" with no word of the column, and ingest's fix
    offered --approve-relabel, which can never cover an edit: following it gave the same refusal."""
    pg.seed_db(pg.parse_table_url(pg_url), 4, seed=5)
    fp = tmp_path / "fp.json"
    assert invoke("snapshot", pg_url, "--out", fp, "--signing-key", keys[0]).exit_code == 0
    then = json.loads(fp.read_text())["payload"]["taken_at"]
    _sql(pg_url, "ALTER TABLE reviews ADD COLUMN updated_at timestamptz DEFAULT now()")
    ids = "rev-0000000, rev-0000001, rev-0000002, rev-0000003"
    res = invoke("verify", pg_url, "--fingerprint", fp, "--verify-key", keys[1])
    assert (res.exit_code, res.stderr) == (1, "guard fired: table_fingerprint: 0 label(s) changed, 4 row(s) otherwise edited, 0 inserted, 0 deleted; "
                                              f"columns changed: added 'updated_at'; changed ids: {ids}\n")
    line = (f"guard fired: table_fingerprint fired, ingest refused (0 label(s) changed, 4 row(s) otherwise edited, 0 inserted, 0 deleted; "
            f"columns changed: added 'updated_at' since the snapshot of {then}; not approved: {ids}) (fix: inspect with `labelguard verify URL`; "
            "edited, inserted and deleted rows cannot be approved with --approve-relabel (it covers relabellings only): review them, "
            "then take a new snapshot (labelguard snapshot URL))\n")
    res = invoke("ingest", "--source", pg_url, "--dest", tmp_path / "ds", "--fingerprint", fp, "--signing-key", keys[0])
    assert (res.exit_code, res.stderr) == (1, line)
    (tmp_path / "ok.txt").write_text(ids.replace(", ", "\n"))
    res = invoke("ingest", "--source", pg_url, "--dest", tmp_path / "ds", "--fingerprint", fp, "--signing-key", keys[0], "--approve-relabel", tmp_path / "ok.txt")
    assert (res.exit_code, res.stderr) == (1, line)
    assert not (tmp_path / "ds").exists()


# ---------------------------------------------------------------- finding 1: ids beyond 2^53 in JSON


def _ingest_frame(tmp_path, name, keys, frame):
    """What `ingest --source name.csv --id-col id --dest tmp_path/name` writes for ``frame``, without Prefect (as
    tests/test_fix_findings_r9.py's _ingest does)."""
    from labelguard.tasks import dataset
    from labelguard.tasks.manifest import DatasetRef, load_signing_key, new_dataset_id
    from labelguard.tasks.sources import load_source, split_holdout
    from labelguard.tasks.storage import LocalStore

    src = tmp_path / f"{name}.csv"
    frame.to_csv(src, index=False)
    frame, spec, meta = load_source(str(src), id_col="id", label_col="label", timestamp_col=None)
    train, test = split_holdout(frame, spec, 0.2, 0)
    key, dest = load_signing_key(keys[0]), str(tmp_path / name)
    ds_id, store = new_dataset_id(dest), LocalStore(dest)
    with dataset.writing_dataset(store, key=key) as parts:
        parts.add(store.child(dataset.HOLDOUT), dataset.write_dataset(store.child(dataset.HOLDOUT), test, spec, key, source={**meta, "part": "holdout"},
                                                                       dataset=DatasetRef(ds_id, role="holdout", part=dataset.HOLDOUT)))
        parts.add(store, dataset.write_dataset(store, train, spec, key, source={**meta, "part": "train"}, dataset=DatasetRef(ds_id, role="data")))
    return tmp_path / name


def test_ids_beyond_2_53_are_written_to_json_as_text(tmp_path, keys):
    """Ids 2^53 + i went into the truth file and `verify --json` as JSON numbers: jq and JavaScript read
    9007199254741013 as 9007199254741012, another row. Now such integers are written as their text."""
    import numpy as np
    import pandas as pd

    from tests.test_fix_findings_r9 import _env

    y = np.array([0, 1] * 100)
    frame = pd.DataFrame({"id": [2**53 + i for i in range(200)], "x": np.arange(200) / 200 + 2 * y, "label": y})
    ds = _ingest_frame(tmp_path, "big", keys, frame)
    res = invoke("tamper", ds, "--attack", "random", "--rate", 0.05, "--seed", 1, "--truth-out", tmp_path / "t.json", env=_env(keys))
    assert res.exit_code == 0
    truth = json.loads((tmp_path / "t.json").read_text())["flipped"]
    assert len(truth) == 8 and all(isinstance(f["id"], str) and int(f["id"]) >= 2**53 for f in truth)
    res = invoke("verify", ds, "--guards", "manifest", "--ledger", "none", "--json", tmp_path / "v.json", env=_env(keys))
    assert res.exit_code == 1
    doc = json.loads((tmp_path / "v.json").read_text())
    assert doc["suspect_ids"] == sorted((f["id"] for f in truth), key=int) and doc["guards"][0]["suspect_ids"] == doc["suspect_ids"]
    # ids a double holds exactly stay numbers
    small = _ingest_frame(tmp_path, "small", keys, frame.assign(id=range(200)))
    invoke("tamper", small, "--attack", "random", "--rate", 0.05, "--seed", 1, "--truth-out", tmp_path / "t2.json", env=_env(keys))
    assert all(isinstance(f["id"], int) for f in json.loads((tmp_path / "t2.json").read_text())["flipped"])


# ---------------------------------------------------------------- finding 13: dataset options on a table verify


def test_verify_of_a_table_refuses_the_options_of_a_dataset_verify(pg_url, keys, tmp_path):
    """`verify postgresql://… --guards bogus --holdout nowhere` exited 0 on the fingerprint alone: options that say guards
    ran on the table were taken and ignored (a guard name that does not exist included)."""
    pg.seed_db(pg.parse_table_url(pg_url), 20, seed=6)
    fp = tmp_path / "fp.json"
    assert invoke("snapshot", pg_url, "--out", fp, "--signing-key", keys[0]).exit_code == 0
    fix = "(fix: drop them, or ingest the table (labelguard ingest --source URL --dest DIR) and verify the dataset with them)"
    res = invoke("verify", pg_url, "--fingerprint", fp, "--verify-key", keys[1], "--guards", "bogus", "--holdout", tmp_path / "nowhere")
    assert (res.exit_code, res.stderr, res.stdout) == (2, f"error: --holdout, --guards do not apply to a table: verify postgresql://… compares the table with its signed snapshot {fix}\n", "")
    res = invoke("verify", pg_url, "--fingerprint", fp, "--verify-key", keys[1], "--tolerate", 0.05)
    assert (res.exit_code, res.stderr) == (2, f"error: --tolerate does not apply to a table: verify postgresql://… compares the table with its signed snapshot {fix}\n")
    res = invoke("verify", pg_url, "--fingerprint", fp, "--verify-key", keys[1], "--no-progress", "--json", tmp_path / "v.json")
    assert res.exit_code == 0 and json.loads((tmp_path / "v.json").read_text())["verdict"] == "pass"


# ---------------------------------------------------------------- findings 14 and 3: NULL ids and NULL features of a table


def test_null_ids_and_features_of_a_table_are_named_before_anything_runs(pg_url, keys, tmp_path, monkeypatch):
    """A NULL id was signed by `snapshot` (then shown as "None"); a NULL feature stopped ingest after Prefect had
    started, as "value nan", without its row."""
    monkeypatch.setenv("LABELGUARD_STATE_DIR", str(tmp_path / "state"))
    url = _labelled_table(pg_url, "holes", {})
    _sql(pg_url, "ALTER TABLE holes ADD COLUMN f2 float8")
    _sql(pg_url, "UPDATE holes SET f2 = review_id")
    _sql(pg_url, "UPDATE holes SET f2 = NULL WHERE review_id IN (17, 40)")
    res = invoke("ingest", "--source", url, "--dest", tmp_path / "ds", "--positive-class", "good", "--signing-key", keys[0])
    assert (res.exit_code, res.stderr) == (2, "error: table holes: column 'f2' is NULL at id 17 (fix: make every value of feature 'f2' a finite number (no NaN or inf))\n")
    _sql(pg_url, "CREATE TABLE noid (review_id text, f1 float8, label int)")
    _sql(pg_url, "INSERT INTO noid SELECT CASE WHEN i = 5 THEN NULL ELSE 'r' || i END, i % 2 * 2 + i / 1000.0, i % 2 FROM generate_series(1, 60) i")
    noid = _table(pg_url, "noid")
    res = invoke("snapshot", noid, "--label-col", "label", "--signing-key", keys[0])
    assert (res.exit_code, res.stderr) == (2, "error: id column 'review_id' of noid has 1 NULL id(s) (fix: give every row an id (a primary key), or delete the rows without one, before the snapshot)\n")
    res = invoke("ingest", "--source", noid, "--dest", tmp_path / "ds", "--signing-key", keys[0])
    assert (res.exit_code, res.stderr) == (2, "error: table noid: column 'review_id' has a NULL id (fix: give every row an id in 'review_id' (a primary key), or delete the rows without one)\n")
    assert not (tmp_path / "ds").exists() and not (tmp_path / "state").exists()


# ---------------------------------------------------------------- finding 2: an id with a trailing space, on the console


def test_a_suspect_id_with_a_trailing_space_is_quoted_on_the_console(tmp_path, keys):
    """Ids 'k2' and 'k2 ' are two rows; the one edited at rest was listed as `k2`, the untouched row's spelling."""
    import numpy as np
    import pandas as pd
    import pyarrow.parquet as pq

    from tests.test_fix_findings_r9 import _env

    y = np.array([0, 1] * 100)
    ids = [f"k{i}" for i in range(200)]
    ids[150] = "k2 "
    ds = _ingest_frame(tmp_path, "spaced", keys, pd.DataFrame({"id": ids, "x": np.arange(200) / 200 + 2 * y, "label": y}))
    table = pq.read_table(ds / "data.parquet").to_pandas()
    assert "k2 " in set(table["id"]) and "k2" in set(table["id"])
    table.loc[table["id"] == "k2 ", "label"] = 1 - table.loc[table["id"] == "k2 ", "label"]
    table.to_parquet(ds / "data.parquet", index=False)
    res = invoke("verify", ds, "--guards", "manifest", "--ledger", "none", env=_env(keys))
    assert res.exit_code == 1 and "suspect rows (1, from manifest): 'k2 '\n" in res.stdout


# ---------------------------------------------------------------- finding 15: a table where a dataset belongs


def test_a_table_url_where_a_dataset_belongs_says_to_ingest_it(tmp_path, keys):
    """`pipeline postgresql://…` said "unsupported URI scheme 'postgresql'" (fix: s3:// or a directory), and drill cut the
    URL at its '?'; neither named the step that reads a table."""
    url = "postgresql://alice:s3cr3t-pw@127.0.0.1:1/shop?table=reviews"
    res = invoke("pipeline", url, env={"LABELGUARD_VERIFY_KEY": str(keys[1])})
    assert (res.exit_code, res.stderr) == (2, "error: postgresql://alice:***@127.0.0.1:1/shop?table=reviews is a PostgreSQL table, not a dataset "
                                              "(fix: ingest it first (labelguard ingest --source URL --dest DIR), then pass DIR)\n")
    res = invoke("drill", "--data", url, "--out", tmp_path / "d")
    assert (res.exit_code, res.stderr) == (2, "error: --data postgresql://alice:***@127.0.0.1:1/shop?table=reviews is a PostgreSQL table "
                                              "(fix: ingest it first (labelguard ingest --source URL --dest DIR), then pass --data DIR/data.parquet)\n")
    assert not (tmp_path / "d").exists()


# ---------------------------------------------------------------- finding 9: report.md's impact table and the before row


def test_report_md_shows_the_before_row_the_console_shows():
    """The console's impact table had a `before` row (the same model on the rows before the transform); report.md's
    table had only the run's row, the before figures only in a sentence."""
    import numpy as np
    import pandas as pd

    from labelguard import cli
    from labelguard.tasks.manifest import ColumnSpec
    from labelguard.tasks.report import RunResult, render_markdown
    from labelguard.tasks.train import evaluate
    from tests.test_fix_findings_r5 import _Fixed

    holdout = pd.DataFrame({"id": [f"h{i}" for i in range(20)], "f1": np.arange(20.0), "label": ["pos"] * 5 + ["neg"] * 15})
    spec = ColumnSpec(id_col="id", label_col="label", feature_cols=("f1",), timestamp_col=None, classes=("neg", "pos"), positive_class="pos")
    after = evaluate(_Fixed(["pos"] * 1 + ["neg"] * 19), holdout, spec)
    before = evaluate(_Fixed(["pos"] * 3 + ["neg"] * 17), holdout, spec)
    run = RunResult(dataset="d", transform="targeted", rate=0.2, seed=0, observe=True, spec=spec, metrics=after, before=before)
    table = [line for line in render_markdown({"pipeline": run}).splitlines() if line.startswith("| before") or line.startswith("| pipeline")]
    assert table == ["| before | (none) | 0 | — | 0.900 | 1.000 | 0.600 | 0.750 | 15.0% | 25.0% |",
                     "| pipeline | targeted 20% | 0 | none | 0.800 | 1.000 | 0.200 | 0.333 | 5.0% | 25.0% |"]
    with cli.out.capture() as captured:
        cli._print_runs({"pipeline": run})
    assert "│ before   │ (none)       │     0 │ —      │ 0.900 │ 1.000 │  0.600 │ 0.750 │  15.0% │  25.0% │" in captured.get().splitlines()


# ---------------------------------------------------------------- finding 16: a composite key


def test_a_composite_key_is_named_rather_than_sending_to_row_positions(tmp_path):
    """Rows keyed by (shop, order) and no id column: the fix offered only `--id-col auto` (row positions, which a
    reordered or deleted row breaks)."""
    import pandas as pd

    (tmp_path / "orders.csv").write_text(pd.DataFrame({"shop": [i % 3 for i in range(60)], "order": [i // 3 for i in range(60)],
                                                        "amount": [float(i) for i in range(60)], "label": [i % 2 for i in range(60)]}).to_csv(index=False))
    res = invoke("poison", tmp_path / "orders.csv", "--attack", "random", "--rate", 0.1, "--out", tmp_path / "p.csv")
    assert (res.exit_code, res.stderr) == (2, "error: column 'review_id' not found (have: 'shop', 'order', 'amount', 'label'); no single column is unique, "
                                              "but 'shop' and 'order' together are (fix: add a column joining them (e.g. shop-order) in the source and pass "
                                              "--id-col naming it (--id-col auto keys rows by position, which a reordered or deleted row breaks))\n")
    assert not (tmp_path / "p.csv").exists()


# ---------------------------------------------------------------- finding 6: a table's id column is its primary key


def test_a_missing_id_column_of_a_table_names_its_primary_key(pg_url, keys, tmp_path):
    """`snapshot` of a table keyed by `id` said only "pass --id-col naming an existing column"; a file's likely id
    column is named."""
    _sql(pg_url, "CREATE TABLE keyed (id bigint PRIMARY KEY, f1 float8, label int)")
    _sql(pg_url, "INSERT INTO keyed SELECT i, i % 2 * 2 + i / 1000.0, i % 2 FROM generate_series(1, 40) i")
    res = invoke("snapshot", _table(pg_url, "keyed"), "--signing-key", keys[0], "--out", tmp_path / "fp.json")
    assert (res.exit_code, res.stderr) == (2, "error: column 'review_id' not in table keyed (have: 'id', 'f1', 'label') (fix: 'id' is the table's primary key: pass --id-col id)\n")
    assert not (tmp_path / "fp.json").exists()
