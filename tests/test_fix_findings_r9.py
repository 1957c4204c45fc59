"""Break-it round 9: a dataset whose signed holdout was deleted at rest, a drift lake missing a day it recorded
clean, and the other findings of bench/findings/breakit-r9.md. Small data of our own throughout (at most 300 rows a file)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd

from tests.clirun import invoke


def _env(keys):
    return {"LABELGUARD_SIGNING_KEY": str(keys[0]), "LABELGUARD_VERIFY_KEY": str(keys[1])}


def _listing(root):
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def _ingest(tmp_path, name, keys, *, holdout=0.2, ledger=None, n=200, labels=(0, 1)):
    """What `ingest --source name.csv --id-col id --dest tmp_path/name` writes, without Prefect (the flow's steps as
    plain functions, as flows/ingest.py runs them: a Prefect start alone would cost this file half a minute)."""
    from labelguard.tasks import dataset
    from labelguard.tasks.ledger import Ledger
    from labelguard.tasks.manifest import DatasetRef, load_signing_key, new_dataset_id
    from labelguard.tasks.sources import load_source, split_holdout
    from labelguard.tasks.storage import LocalStore

    rng = np.random.default_rng(len(name))
    y = np.array(list(labels) * (n // len(labels)))
    src = tmp_path / f"{name}.csv"
    pd.DataFrame({"id": range(len(y)), "x": rng.normal(size=len(y)) + 2 * (y == y[-1]), "z": rng.normal(size=len(y)), "label": y}).to_csv(src, index=False)
    frame, spec, meta = load_source(str(src), id_col="id", label_col="label", timestamp_col=None)
    train, test = split_holdout(frame, spec, holdout, 0) if holdout else (frame, None)
    key, dest = load_signing_key(keys[0]), str(tmp_path / name)
    ds_id = new_dataset_id(dest)
    store = LocalStore(dest)
    with dataset.writing_dataset(store, ledger=ledger and Ledger(ledger), key=key) as parts:
        if test is not None:
            parts.add(store.child(dataset.HOLDOUT), dataset.write_dataset(store.child(dataset.HOLDOUT), test, spec, key, source={**meta, "part": "holdout"},
                                                                           dataset=DatasetRef(ds_id, role="holdout", part=dataset.HOLDOUT)))
        parts.add(store, dataset.write_dataset(store, train, spec, key, source={**meta, "part": "train"}, dataset=DatasetRef(ds_id, role="data")))
    return tmp_path / name


# ---------------------------------------------------------------- finding 1: the dataset's holdout deleted at rest


def test_a_deleted_holdout_cannot_be_vouched_for(tmp_path, keys):
    """Finding 1: `rm -rf DS/holdout; verify DS` exited 0 ("no trusted reference: estimated noise rate 0.0% …"), every
    reference guard skipped: deleting the signed holdout turned them off without a word (and pipeline said the dataset
    was "ingested with --holdout-fraction 0"). Now both say the holdout is gone, exit 1, from the signed manifest alone."""
    ds = _ingest(tmp_path, "ds", keys)
    shutil.rmtree(ds / "holdout")
    line = (f"guard fired: holdout fired, cannot be trusted (the holdout at {ds}/holdout failed verification: object-missing: "
            "the signed manifest records 200 source rows, 160 of them in the training part; the other 40 went to a holdout that is gone) "
            "(fix: restore the holdout from a signed copy, or pass --holdout naming a signed holdout)\n")
    res = invoke("verify", ds, "--guards", "manifest,class_balance", "--ledger", "none", "--no-progress", env=_env(keys))
    assert (res.exit_code, res.stderr) == (1, line)
    res = invoke("pipeline", ds, "--ledger", "none", env=_env(keys))
    assert (res.exit_code, res.stderr) == (1, line)


def test_a_dataset_ingested_without_a_holdout_still_verifies(tmp_path, keys):
    """The other side: --holdout-fraction 0 wrote no holdout, so none is missing (exit 0; pipeline asks for --holdout)."""
    ds = _ingest(tmp_path, "nh", keys, holdout=0)
    res = invoke("verify", ds, "--guards", "manifest,class_balance", "--ledger", "none", "--no-progress", env=_env(keys))
    assert res.exit_code == 0, res.stderr
    res = invoke("pipeline", ds, "--ledger", "none", env=_env(keys))
    assert (res.exit_code, res.stderr) == (2, f"error: {ds} has no trusted holdout (ingested with --holdout-fraction 0) (fix: pass --holdout URI)\n")


def test_a_deleted_holdout_of_a_resealed_dataset_is_found_through_the_ledger(tmp_path, keys):
    """After `seal` the manifest's source no longer counts the rows that went to the holdout; the ledger still
    records the holdout ingest wrote."""
    ledger = tmp_path / "ledger.jsonl"
    ds = _ingest(tmp_path, "rs", keys, ledger=ledger)
    frame = pd.read_parquet(ds / "data.parquet")
    frame.loc[0, "label"] = 1 - frame.loc[0, "label"]
    frame.to_parquet(ds / "data.parquet", index=False)
    sealed = invoke("seal", ds, "--ledger", ledger, env=_env(keys))
    assert sealed.exit_code == 0, sealed.stderr
    shutil.rmtree(ds / "holdout")
    dsid = json.loads((ds / "manifest.json").read_text())["payload"]["dataset"]["id"]
    res = invoke("verify", ds, "--guards", "manifest,class_balance", "--ledger", ledger, "--no-progress", env=_env(keys))
    assert (res.exit_code, res.stderr) == (1, f"guard fired: holdout fired, cannot be trusted (the holdout at {ds}/holdout failed verification: "
                                              f"object-missing: the ledger records a holdout of dataset {dsid}, and it is gone) "
                                              "(fix: restore the holdout from a signed copy, or pass --holdout naming a signed holdout)\n")


# ---------------------------------------------------------------- finding 3: a day recorded clean, deleted from the lake


def test_a_deleted_partition_recorded_clean_alarms_on_the_next_run(tmp_path, keys):
    """Finding 3: `rm -rf lake/date=2026-03-03; drift lake` said "every partition of lake was checked already", exit 0,
    while deleting only the day's Parquet alarmed (object-missing). Now the re-check of the clean window alarms on a day
    whose signed clean record has no partition any more, once, and the day leaves the window."""
    from labelguard.tasks import drift
    from labelguard.tasks.manifest import ColumnSpec, load_signing_key, load_verify_key
    from labelguard.tasks.simulate import DayPlan, make_day
    from labelguard.tasks.storage import LocalStore

    root, key, vkey = LocalStore(tmp_path / "lake"), load_signing_key(keys[0]), load_verify_key(keys[1])
    for i in range(3):
        day = make_day(i, f"2026-03-{i + 1:02d}", np.random.default_rng([9, i]), np.array([1.0, 0.0]), DayPlan(rows=200, volume_sd=0.0))
        drift.ingest_partition(root, day, ColumnSpec(positive_class=1), key, day=f"2026-03-{i + 1:02d}", source={"kind": "test"},
                               holdout_fraction=0.3 if i == 0 else 0.0, dataset_id="r9-lake")
    assert [r.alarm for r in drift.check_partitions(root.uri, vkey, signing_key=key)] == [False] * 3
    checked = drift.read_records(root, vkey)["2026-03-02"]["checked_at"]
    shutil.rmtree(tmp_path / "lake" / "date=2026-03-02")
    (res,) = drift.check_partitions(root.uri, vkey, signing_key=key)
    assert (res.date, res.integrity, res.fired, res.alarm) == ("2026-03-02", "object-missing", ["manifest"], True)
    assert res.integrity_detail == (f"changed since it was checked clean at {checked}: the partition date=2026-03-02 is gone "
                                    "(its signed clean record remains)")
    assert sorted(root.child("_drift").child("alarms").list()) == ["date=2026-03-02.json"]
    assert drift.check_partitions(root.uri, vkey, signing_key=key) == []  # alarmed once, not every run


# ---------------------------------------------------------------- finding 2: a finite feature too large to compute with


def test_a_feature_too_large_to_compute_with_is_refused_at_ingest(tmp_path, keys):
    """Finding 2: a cell of 1e308 passed the schema's `finite` check, was signed, and every verify then died in the
    first scaler: "unexpected ValueError: Input X contains NaN …" (exit 2, a traceback's message cut off). Now ingest
    refuses it in one line naming the column, the cell and the fix; nothing is written."""
    rng = np.random.default_rng(2)
    frame = pd.DataFrame({"id": [f"t{i:03d}" for i in range(100)], "amt": rng.normal(size=100), "label": [0, 1] * 50})
    frame.loc[7, "amt"] = 1e308
    frame.to_csv(tmp_path / "huge.csv", index=False)
    before = _listing(tmp_path)
    res = invoke("ingest", "--source", tmp_path / "huge.csv", "--id-col", "id", "--dest", tmp_path / "ds", "--ledger", "none", env=_env(keys))
    assert (res.exit_code, res.stderr) == (2, "error: 1 schema failure(s), first: column 'amt' check 'magnitude' value 1e+308 at id 't007' "
                                              "(fix: rescale feature 'amt' (every value below 1e150 in size, e.g. in other units), "
                                              "or leave it out with --ignore-cols amt)\n")
    assert _listing(tmp_path) == before


def test_unsealed_parquet_with_a_huge_feature_is_one_line_not_unexpected(tmp_path, keys):
    """The same cell in Parquet nobody signed (`verify DIR --id-col …`, or data signed before the bound): the
    guards' matrix refuses it in one line (exit 2) instead of scikit-learn's NaN error."""
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"id": range(120), "amt": rng.normal(size=120), "label": [0, 1] * 60})
    frame.loc[5, "amt"] = -1e300
    (tmp_path / "lake").mkdir()
    frame.to_parquet(tmp_path / "lake" / "part-0.parquet", index=False)
    res = invoke("verify", tmp_path / "lake", "--id-col", "id", "--label-col", "label", "--guards", "confident_learning",
                 "--ledger", "none", "--no-progress", env=_env(keys))
    assert (res.exit_code, res.stderr) == (2, "error: feature 'amt' holds -1e+300, too large to compute with (every value must be below 1e150 in size) "
                                              "(fix: rescale 'amt' (e.g. in other units) and ingest again, or leave it out with --ignore-cols amt)\n")


# ---------------------------------------------------------------- finding 5: pipeline's targeted refusals after Prefect's start


def test_pipeline_targeted_refusals_come_before_prefect(tmp_path, keys, monkeypatch):
    """Finding 5: `pipeline DS --transform targeted` on 3+ classes with no positive class, or at a rate beyond the
    source class, was refused inside the flow, after Prefect's start (~50 s), where `tamper` says the same in seconds.
    PREFECT_API_URL points at a closed port: a check that ran after Prefect would print Prefect's message instead."""
    from labelguard.server import free_port

    monkeypatch.setenv("PREFECT_API_URL", f"http://127.0.0.1:{free_port()}/api")
    three = _ingest(tmp_path, "three", keys, labels=("bug", "billing", "spam"), n=210)
    res = invoke("pipeline", three, "--transform", "targeted", "--rate", "0.1", "--ledger", "none", env=_env(keys))
    assert (res.exit_code, res.stderr) == (2, "error: cannot tell which class is positive among 'billing', 'bug', 'spam' (fix: pass --positive-class "
                                              "naming the class the business figure and the targeted attack are about)\n")
    res = invoke("pipeline", three, "--transform", "targeted", "--rate", "0.5", "--positive-class", "spam", "--ledger", "none", env=_env(keys))
    assert (res.exit_code, res.stderr) == (2, "error: targeted needs 84 rows of class 'spam' but only 56 are available "
                                              "(fix: pass --rate 0.33 or lower (56 flips of 168 rows), or choose another source class)\n")
    two = _ingest(tmp_path, "two", keys)
    res = invoke("pipeline", two, "--transform", "targeted", "--rate", "0.9", "--ledger", "none", env=_env(keys))
    assert (res.exit_code, res.stderr) == (2, "error: targeted needs 144 rows of class 1 but only 80 are available "
                                              "(fix: pass --rate 0.5 or lower (80 flips of 160 rows), or choose another source class)\n")
    res = invoke("pipeline", two, "--transform", "targeted", "--rate", "0.5", "--ledger", "none", env=_env(keys))
    assert res.exit_code == 2 and res.stderr.startswith("error: the Prefect API at "), res.stderr  # within the budget: on to Prefect


# ---------------------------------------------------------------- finding 4: the width class_conditional compares


def test_class_conditional_names_the_width_of_a_text_matrix():
    """Finding 4: on text data class_conditional said "not tested (no more rows than the 3 features …)" for classes of
    121 and 30 rows: it counted the numeric columns, while the matrix it tests is 53 columns wide (50 text components).
    Now it names the width it tests (here 1 numeric column + 50 text components)."""
    from labelguard.tasks import guards
    from labelguard.tasks.features import feature_matrix, with_featurizer
    from labelguard.tasks.manifest import ColumnSpec

    rng = np.random.default_rng(4)
    words = {"bug": "crash error broken fails exception", "billing": "invoice charge refund payment card", "spam": "cheap pills click link winner"}

    def rows(counts, start):
        y = np.array([c for c, k in counts.items() for _ in range(k)])
        text = [" ".join(rng.choice(words[c].split() + "the a my it to this app and".split(), size=10)) for c in y]
        return pd.DataFrame({"id": range(start, start + len(y)), "x": rng.normal(size=len(y)), "review": text, "label": y})

    data, ref = rows({"bug": 240, "billing": 240, "spam": 24}, 0), rows({"bug": 60, "billing": 60, "spam": 6}, 1000)
    spec = with_featurizer(ColumnSpec(id_col="id", feature_cols=("x",), text_cols=("review",), timestamp_col=None,
                                      classes=("billing", "bug", "spam"), featurizer={"kind": "tfidf-svd"}), data, ref)
    assert feature_matrix(ref, spec).shape[1] == 51
    res = guards.class_conditional_guard(guards.GuardContext(frame=data, spec=spec, reference=ref))
    assert res.detail.startswith("class billing: mean shift "), res.detail
    assert "; not tested (no more rows than the 51 features in the data or the reference): class spam; fires below 0.0005 (Bonferroni)" in res.detail


# ---------------------------------------------------------------- findings 6 and 7: two usage errors


def test_simulate_poison_day_fix_names_a_day_that_exists(tmp_path):
    """Finding 6: `simulate --days 3 --poison-day 10` said "(fix: pass e.g. --poison-day 10 …)": the refused value."""
    res = invoke("simulate", "--days", "3", "--poison-day", "10", "--out", tmp_path / "sim")
    assert (res.exit_code, res.stderr) == (2, "error: --poison-day must be in 2..3 (day 1 signs the reference), got 10 "
                                              "(fix: pass e.g. --poison-day 3, or 0 for none)\n")
    assert _listing(tmp_path) == []


def test_sample_of_more_rows_than_memory_holds_is_a_usage_error(tmp_path):
    """Finding 7: `sample --rows 10000000000000` was "unexpected MemoryError: Unable to allocate 72.8 TiB … report it"."""
    res = invoke("sample", "--out", tmp_path / "s.csv", "--rows", "10000000000000")
    assert (res.exit_code, res.stderr) == (2, "error: rows must be at most 100,000,000, got 10,000,000,000,000 (fix: pass --rows 100000000 or fewer)\n")
    assert _listing(tmp_path) == []


# ---------------------------------------------------------------- finding 11: a class list cut without saying so


def test_a_reference_of_six_other_classes_is_listed_with_how_many_more():
    """Finding 11: "the reference's classes ('account', 'billing', 'bug', 'feature', 'other') are not the dataset's
    (0.0, 1.0)" — the reference has six classes; 'spam' was cut off without a word. Now "…, … (1 more)"."""
    import pytest

    from labelguard.errors import BadInput
    from labelguard.tasks.manifest import ColumnSpec
    from labelguard.tasks.verify import check_columns

    spec = ColumnSpec(id_col="id", feature_cols=("x",), timestamp_col=None, classes=(0.0, 1.0))
    ref = pd.DataFrame({"id": range(6), "x": 0.5, "label": ["spam", "other", "feature", "bug", "billing", "account"]})
    with pytest.raises(BadInput) as err:
        check_columns(spec, ref, "reference", "--reference", ["id", "x", "label"])
    assert str(err.value).startswith("the reference's classes ('account', 'billing', 'bug', 'feature', 'other', … (1 more)) "
                                     "are not the dataset's (0.0, 1.0): it labels another way")


# ---------------------------------------------------------------- finding 10: a partition folder that names no day


def test_drift_fix_for_a_folder_that_names_no_day_does_not_send_to_ingest():
    """Finding 10: an unsigned folder date=2026-02-30 got "ingest those rows with `labelguard ingest --partition
    date=DAY`", which refuses 2026-02-30 as not a date. Now the fix says the folder names no calendar day."""
    from labelguard.flows.drift import alarm_fix
    from labelguard.tasks.drift import DayResult

    days = [DayResult(d, f"lake/date={d}", 576, "missing-manifest", "no signed manifest") for d in ("2026-02-28", "2026-02-30")]
    assert alarm_fix(days, "labelguard-drift") == (
        "inspect the drift artifact 'labelguard-drift'; 2026-02-28 not signed: ingest those rows with `labelguard ingest --partition date=DAY`, "
        "or remove the folder; date=2026-02-30 names no calendar day: move the rows to the folder of their real date (then ingest them there), "
        "or remove the folder")


# ---------------------------------------------------------------- finding 9: verify --json into another signed dataset


def test_verify_json_inside_another_signed_dataset_is_refused(tmp_path, keys):
    """Finding 9: `verify A --json B/v.json` (B another dataset, or a baseline) exited 0 and left v.json among B's signed
    objects; only A, its holdout and the reference were refused. Now any folder holding a manifest is."""
    a, b = _ingest(tmp_path, "a", keys), _ingest(tmp_path, "b", keys)
    before = _listing(tmp_path)
    for target, inside in ((b / "v.json", b), (b / "holdout" / "v.json", b / "holdout")):
        res = invoke("verify", a, "--guards", "manifest", "--json", target, "--ledger", "none", "--no-progress", env=_env(keys))
        assert (res.exit_code, res.stderr) == (2, f"error: --json {target} is inside the signed dataset {inside}: it would add to its signed data "
                                                  "(fix: write the JSON outside the store)\n")
    assert _listing(tmp_path) == before
    ok = invoke("verify", a, "--guards", "manifest", "--json", tmp_path / "v.json", "--ledger", "none", "--no-progress", env=_env(keys))
    assert ok.exit_code == 0, ok.stderr


# ---------------------------------------------------------------- finding 13: files written among a dataset's signed objects


def test_poison_and_sample_out_inside_a_signed_dataset_are_refused(tmp_path, keys):
    """Finding 13: `poison … --out DS/p.parquet` and `sample --out DS/holdout/s.parquet` wrote there (exit 0), and the next
    `verify DS` read "holdout fired, cannot be trusted (… unlisted-object …)", exit 1: a slip of --out read as tampering.
    Now one line, exit 2, nothing written; outside the store both still write."""
    ds = _ingest(tmp_path, "ds", keys)
    src = tmp_path / "ds.csv"
    before = _listing(tmp_path)
    res = invoke("poison", src, "--attack", "random", "--rate", "0.05", "--out", ds / "p.csv", "--id-col", "id")
    assert (res.exit_code, res.stderr) == (2, f"error: --out {ds / 'p.csv'} is inside the signed dataset {ds}: the file would land among "
                                              "its signed objects (fix: write it outside the store)\n")
    res = invoke("poison", src, "--attack", "random", "--rate", "0.05", "--out", tmp_path / "p.csv", "--id-col", "id", "--truth-out", ds / "t.json")
    assert (res.exit_code, res.stderr) == (2, f"error: --truth-out {ds / 't.json'} is inside the signed dataset {ds}: the file would land among "
                                              "its signed objects (fix: write it outside the store)\n")
    res = invoke("sample", "--out", ds / "holdout" / "s.parquet", "--rows", "50")
    assert (res.exit_code, res.stderr) == (2, f"error: --out {ds / 'holdout' / 's.parquet'} is inside the signed dataset {ds / 'holdout'}: "
                                              "the file would land among its signed objects (fix: write it outside the store)\n")
    assert _listing(tmp_path) == before
    assert invoke("sample", "--out", tmp_path / "s.parquet", "--rows", "50").exit_code == 0


def test_ingest_dest_inside_a_signed_dataset_is_refused(tmp_path, keys):
    """Finding 14: `ingest --dest DS/holdout/nested` wrote a whole dataset among another's signed objects (exit 0; verify
    of DS ignores it, `seal --rotate DS` would leave it on the old key). Now refused before anything is read or written."""
    ds = _ingest(tmp_path, "ds", keys)
    before = _listing(tmp_path)
    res = invoke("ingest", "--source", tmp_path / "ds.csv", "--id-col", "id", "--dest", ds / "holdout" / "nested", "--ledger", "none", env=_env(keys))
    assert (res.exit_code, res.stderr) == (2, f"error: --dest {ds / 'holdout' / 'nested'} is inside the signed dataset {ds / 'holdout'}: the new dataset "
                                              "would land among its signed objects (fix: choose a --dest outside any dataset folder, e.g. beside it)\n")
    assert _listing(tmp_path) == before


# ---------------------------------------------------------------- finding 15: zero-padded label codes


def test_zero_padded_label_codes_stay_as_written(tmp_path):
    """Finding 15: labels written `001`…`003` were read as the integers 1…3: the classes ingest signs lost their zeros,
    and `poison` wrote a flipped cell back as `3` beside the untouched `001`s (truth: old 1, new 3). Ids keep their
    zeros; now zero-padded label codes do too (classes '001'…, a flipped cell written `003`)."""
    from labelguard.tasks.sources import load_source

    rng = np.random.default_rng(15)
    codes = np.array(["001", "002", "003"] * 40)
    pd.DataFrame({"id": [f"{i:04d}" for i in range(120)], "x": rng.normal(size=120) + (codes == "003"), "category": codes}).to_csv(
        tmp_path / "codes.csv", index=False)
    _, spec, _ = load_source(str(tmp_path / "codes.csv"), id_col="id", label_col="category", timestamp_col=None, positive_class="003")
    assert spec.classes == ("001", "002", "003") and spec.positive_class == "003"
    res = invoke("poison", tmp_path / "codes.csv", "--attack", "random", "--rate", "0.05", "--out", tmp_path / "p.csv", "--id-col", "id",
                 "--label-col", "category", "--truth-out", tmp_path / "t.json")
    assert res.exit_code == 0, res.stderr
    flipped = json.loads((tmp_path / "t.json").read_text())["flipped"]
    assert len(flipped) == 6 and all(f["old"] in {"001", "002", "003"} and f["new"] in {"001", "002", "003"} for f in flipped)
    poisoned = pd.read_csv(tmp_path / "p.csv", dtype=str)
    assert set(poisoned["category"]) == {"001", "002", "003"}
    written = dict(zip(poisoned["id"], poisoned["category"]))
    assert all(written[f["id"]] == f["new"] for f in flipped)
