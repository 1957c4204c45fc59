"""Drift orchestration: days that do not fit the schema, re-verified clean windows, warm-up labels, references, report files."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from labelguard.cli import app
from labelguard.errors import BadInput
from labelguard.tasks import drift
from labelguard.tasks.ledger import Ledger
from labelguard.tasks.manifest import ColumnSpec, load_signing_key, load_verify_key
from labelguard.tasks.simulate import DayPlan, make_day
from labelguard.tasks.storage import LocalStore

runner = CliRunner()
SPEC = ColumnSpec(positive_class=1)
DAYS = [f"2026-03-{i:02d}" for i in range(1, 6)]


def _day(i: int, rows: int = 500):
    rng = np.random.default_rng([11, i])
    return make_day(i, f"2026-03-{i + 1:02d}", rng, np.array([1.0, 0.0]), DayPlan(rows=rows, volume_sd=0.0))


@pytest.fixture
def small_lake(tmp_path, keys):
    """Five clean 500-row partitions (the first carves the reference), checked once."""
    root, book = LocalStore(tmp_path / "lake"), Ledger(tmp_path / "ledger.jsonl")
    key = load_signing_key(keys[0])
    for i in range(5):
        drift.ingest_partition(root, _day(i), SPEC, key, day=DAYS[i], source={"kind": "test"},
                               holdout_fraction=0.3 if i == 0 else 0.0, dataset_id="reviews-test", ledger=book)
    first = drift.check_partitions(root.uri, load_verify_key(keys[1]), signing_key=key, ledger=book)
    assert [r.alarm for r in first] == [False] * 5
    return root, book


def _ingest_misfits(root, book, key):
    """Three days that do not fit the signed reference, and a clean one after them."""
    d = _day(5)
    drift.ingest_partition(root, d.drop(columns=["intensity"]), ColumnSpec(feature_cols=("polarity",), positive_class=1), key,
                           day="2026-03-06", source={}, ledger=book)
    drift.ingest_partition(root, d.assign(label=d["label"].map({0: "neg", 1: "pos"})), ColumnSpec(classes=("neg", "pos"), positive_class="pos"), key,
                           day="2026-03-07", source={}, ledger=book)
    d2 = d.copy()
    d2.loc[d2.index[:10], "label"] = 2
    drift.ingest_partition(root, d2, ColumnSpec(classes=(0, 1, 2), positive_class=1), key, day="2026-03-08", source={}, ledger=book)
    drift.ingest_partition(root, _day(8), SPEC, key, day="2026-03-09", source={}, ledger=book)
    return d


def test_a_day_that_does_not_fit_the_schema_alarms_and_later_days_are_still_checked(small_lake, keys):
    root, book = small_lake
    key, vkey = load_signing_key(keys[0]), load_verify_key(keys[1])
    d = _ingest_misfits(root, book, key)
    res = {r.date: r for r in drift.check_partitions(root.uri, vkey, signing_key=key, ledger=book)}
    assert sorted(res) == ["2026-03-06", "2026-03-07", "2026-03-08", "2026-03-09"]
    assert [res[k].fired for k in sorted(res)] == [["schema"], ["schema"], ["schema"], []]
    assert res["2026-03-06"].schema_problems == ["column intensity missing"]
    assert res["2026-03-06"].rows == 500  # read, not taken for an empty day
    n_neg = int((d["label"] == 0).sum())
    assert res["2026-03-07"].schema_problems == [f"label 'neg' not in the class set (0, 1): {n_neg} rows",
                                                 f"label 'pos' not in the class set (0, 1): {500 - n_neg} rows"]
    assert res["2026-03-08"].schema_problems == ["label 2 not in the class set (0, 1): 10 rows"]
    assert res["2026-03-08"].suspect_ids == d["review_id"].iloc[:10].tolist()
    assert res["2026-03-06"].guard_summary()["schema"] == {"fired": True, "detail": "column intensity missing"}
    # the misfits never serve as clean days
    assert res["2026-03-09"].clean_days == ["2026-03-02", "2026-03-03", "2026-03-04", "2026-03-05"]
    assert res["2026-03-09"].integrity == "ok" and not res["2026-03-09"].alarm


def test_an_at_rest_edit_of_a_checked_day_alarms_on_the_next_run_and_leaves_the_window(small_lake, keys, tmp_path):
    from labelguard.tasks.tamper import tamper

    root, book = small_lake
    key, vkey = load_signing_key(keys[0]), load_verify_key(keys[1])
    edit = tamper(root.child("date=2026-03-03").uri, attack="random", rate=0.05, seed=1, truth_out=tmp_path / "t.json")
    (res,) = drift.check_partitions(root.uri, vkey, signing_key=key, ledger=book)  # nothing unchecked: the window is re-verified
    assert (res.date, res.integrity, res.fired) == ("2026-03-03", "digest-mismatch", ["manifest"])
    checked = drift.read_records(root, vkey)["2026-03-03"]["checked_at"]
    assert res.integrity_detail.startswith(f"changed since it was checked clean at {checked}: date=2026-03-03/part-00000.parquet: SHA-256 ")
    assert sorted(map(str, res.suspect_ids)) == sorted(map(str, edit.flipped_ids)) and len(edit.flipped_ids) == 25
    # the day's own record stays as written (create-only); a signed later alarm takes the day out of the window
    assert drift.read_records(root, vkey)["2026-03-03"]["alarm"] is False
    assert sorted(root.child("_drift").child("alarms").list()) == ["date=2026-03-03.json"]
    assert drift.check_partitions(root.uri, vkey, signing_key=key, ledger=book) == []  # alarmed once, not every run
    drift.ingest_partition(root, _day(5), SPEC, key, day="2026-03-06", source={}, ledger=book)
    (day6,) = drift.check_partitions(root.uri, vkey, signing_key=key, ledger=book)
    assert day6.clean_days == ["2026-03-02", "2026-03-04", "2026-03-05"] and not day6.alarm
    # a forged later alarm is refused like a forged day record
    root.child("_drift").child("alarms").put("date=2026-03-04.json", b'{"payload": {}, "signature": "00"}')
    with pytest.raises(Exception, match=r"_drift/alarms/date=2026-03-04.json failed verification"):
        drift.check_partitions(root.uri, vkey, signing_key=key, ledger=book)


def test_a_recheck_that_alarms_takes_the_day_out_of_the_window(small_lake, keys, tmp_path):
    from labelguard.tasks.tamper import tamper

    root, book = small_lake
    key, vkey = load_signing_key(keys[0]), load_verify_key(keys[1])
    tamper(root.child("date=2026-03-04").uri, attack="random", rate=0.05, seed=1, truth_out=tmp_path / "t.json")
    (res,) = drift.check_partitions(root.uri, vkey, signing_key=key, since="2026-03-04", until="2026-03-04", ledger=book)
    assert res.alarm and res.integrity == "digest-mismatch"
    records = drift.read_records(root, vkey)
    drift.later_alarms(root, vkey, records)
    assert not drift.is_clean(records["2026-03-04"]) and drift.is_clean(records["2026-03-05"])


def test_warm_up_days_say_what_was_checked(small_lake, keys):
    root, _ = small_lake
    records = drift.read_records(root, load_verify_key(keys[1]))
    assert [records[d]["status"] for d in DAYS] == [
        "warming up (1 of 5 clean days): manifest checked", "warming up (1 of 5 clean days): manifest checked",
        "warming up (2 of 5 clean days): manifest checked", "warming up (3 of 5 clean days): manifest checked",
        "warming up (4 of 5 clean days): manifest checked"]
    # a warm-up day enters the window only when it was checked against the signed reference (noise_rate ran)
    assert all(drift.is_clean(records[d]) for d in DAYS)
    assert not drift.is_clean({**records["2026-03-03"], "tests": []})


def test_reference_of_this_dataset_is_accepted_and_another_datasets_is_bad_input(small_lake, keys, tmp_path):
    from labelguard.tasks.verify import make_baseline

    root, book = small_lake
    key, vkey = load_signing_key(keys[0]), load_verify_key(keys[1])
    mine = make_baseline(root.child("holdout").uri, str(tmp_path / "mine"), vkey, key)
    assert mine.payload["dataset"]["id"] != "reviews-test"
    drift.ingest_partition(root, _day(5), SPEC, key, day="2026-03-06", source={}, ledger=book)
    (res,) = drift.check_partitions(root.uri, vkey, signing_key=key, reference_uri=str(tmp_path / "mine"), ledger=book)
    assert (res.date, res.integrity, res.alarm) == ("2026-03-06", "ok", False)
    assert res.clean_days == ["2026-03-02", "2026-03-03", "2026-03-04", "2026-03-05"]  # the holdout's own day is not counted twice
    other = LocalStore(tmp_path / "other")
    drift.ingest_partition(other, _day(0), SPEC, key, day="2026-03-01", source={}, holdout_fraction=0.3, dataset_id="other-test")
    make_baseline(other.child("holdout").uri, str(tmp_path / "theirs"), vkey, key)
    line = f"--reference {tmp_path / 'theirs'} belongs to dataset other-test, the partitions to reviews-test"
    with pytest.raises(BadInput) as exc:
        drift.load_reference(root, vkey, reference_uri=str(tmp_path / "theirs"))
    assert exc.value.problem == line
    env = {"LABELGUARD_VERIFY_KEY": str(keys[1]), "LABELGUARD_SIGNING_KEY": str(keys[0]), "PREFECT_API_URL": "http://127.0.0.1:9/api"}
    for ref in (tmp_path / "theirs", other.child("holdout").uri):
        out = runner.invoke(app, ["drift", root.uri, "--reference", str(ref), "--ledger", "none"], env=env)
        assert (out.exit_code, out.stderr.strip()) == (2, f"error: --reference {ref} belongs to dataset other-test, the partitions to reviews-test "
                                                          "(fix: pass a reference of this dataset: its holdout, or `labelguard baseline URI/holdout --out DIR`)")


def test_simulation_report_lists_every_suspect_and_truth_is_the_readme_format(tmp_path):
    from labelguard.tasks.simulate import simulate

    res = simulate(tmp_path / "sim", days=3, poison_day=3, attack="random", rate=0.2, vector="source", seed=7, plot=False)
    doc = json.loads((tmp_path / "sim" / "report.json").read_text())
    day3 = doc["records"][2]
    assert day3["alarm"] and day3["suspects"] == len(day3["suspect_ids"]) == len(res["records"][2]["suspect_ids"]) > 50
    truth = json.loads((tmp_path / "sim" / "truth.json").read_text())
    assert (truth["attack"], truth["rate"], truth["seed"], truth["date"]) == ("random", 0.2, 7, "2026-03-03")
    assert [sorted(f) for f in truth["flipped"][:1]] == [["id", "new", "old"]] and all(f["old"] != f["new"] for f in truth["flipped"])
    md = (tmp_path / "sim" / "report.md").read_text()
    assert "| 2 | 2026-03-02 | " in md and "| warming up (1 of 5 clean days): manifest checked |" in md


def test_cli_drift_alarms_on_a_misfit_day_and_an_edited_checked_day(small_lake, keys, prefect_harness, tmp_path):
    from labelguard.tasks.tamper import tamper

    root, book = small_lake
    key = load_signing_key(keys[0])
    d = _day(5)
    drift.ingest_partition(root, d.drop(columns=["intensity"]), ColumnSpec(feature_cols=("polarity",), positive_class=1), key,
                           day="2026-03-06", source={}, ledger=book)
    tamper(root.child("date=2026-03-03").uri, attack="random", rate=0.05, seed=1, truth_out=tmp_path / "t.json")
    env = {"LABELGUARD_VERIFY_KEY": str(keys[1]), "LABELGUARD_SIGNING_KEY": str(keys[0])}
    res = runner.invoke(app, ["drift", root.uri, "--ledger", str(book.path), "--json", str(tmp_path / "d.json")], env=env)
    assert (res.exit_code, res.stderr.strip()) == (1, "guard fired: manifest, schema fired (alarm on 2026-03-03, 2026-03-06) (fix: inspect the drift "
                                                      "artifact 'labelguard-drift' and the suspect rows of those partitions)")
    days = json.loads((tmp_path / "d.json").read_text())
    assert [(x["date"], x["fired"], x["rows"]) for x in days] == [("2026-03-03", ["manifest"], 500), ("2026-03-06", ["schema"], 500)]
    assert "2026-03-06: schema: column intensity missing" in res.stdout.splitlines()
    again = runner.invoke(app, ["drift", root.uri, "--ledger", str(book.path)], env=env)
    assert (again.exit_code, again.stdout.strip()) == (0, f"every partition of {root.uri} was checked already (pass --since/--until to check again)")
