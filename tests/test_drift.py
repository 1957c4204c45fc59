"""Daily partitions and drift checks: create-only partitions bound to their date, the overdispersed null, the simulation."""

from __future__ import annotations

import json
import re
import shutil

import numpy as np
import pytest
from typer.testing import CliRunner

from labelguard.cli import app
from labelguard.errors import BadInput, DatasetExists, UntrustedInput
from labelguard.tasks import drift
from labelguard.tasks.ledger import Ledger
from labelguard.tasks.manifest import ColumnSpec, load_signing_key, load_verify_key
from labelguard.tasks.simulate import DayPlan, make_day, simulate
from labelguard.tasks.storage import LocalStore

runner = CliRunner()
SPEC = ColumnSpec(positive_class=1)


def _day(i: int, seed: int = 5):
    rng = np.random.default_rng([seed, i])
    return make_day(i, f"2026-03-{i + 1:02d}", rng, np.array([1.0, 0.0]), DayPlan(rows=800))


DAYS = [f"2026-03-{i:02d}" for i in range(1, 9)]


@pytest.fixture
def lake(tmp_path, keys):
    """Eight clean partitions (the first carves the reference) in a local store, with a ledger."""
    root = LocalStore(tmp_path / "lake")
    book = Ledger(tmp_path / "ledger.jsonl")
    key = load_signing_key(keys[0])
    for i in range(8):
        drift.ingest_partition(root, _day(i), SPEC, key, day=f"2026-03-{i + 1:02d}", source={"kind": "test"},
                               holdout_fraction=0.3 if i == 0 else 0.0, dataset_id="reviews-test", ledger=book)
    return root, book


def test_partitions_are_bound_to_dataset_and_date_and_create_only(lake, keys):
    root, book = lake
    assert drift.partition_dates(root) == DAYS
    assert sorted(root.child("date=2026-03-02").list()) == ["manifest.json", "part-00000.parquet", "rows.parquet", "rows.sig.json"]
    manifest = json.loads(root.child("date=2026-03-02").get("manifest.json"))["payload"]
    assert manifest["dataset"] == {"id": "reviews-test", "role": "partition", "part": "date=2026-03-02", "version": 1}
    assert manifest["objects"][0]["key"] == "date=2026-03-02/part-00000.parquet"
    assert json.loads(root.child("holdout").get("manifest.json"))["payload"]["dataset"]["role"] == "holdout"
    entries = book.entries(load_verify_key(keys[1]))
    assert sorted(e.part for e in entries) == [f"date={d}" for d in DAYS] + ["holdout"]
    before = root.child("date=2026-03-02").get("part-00000.parquet")
    with pytest.raises(DatasetExists, match="partition date=2026-03-02 already exists"):
        drift.ingest_partition(root, _day(9), SPEC, load_signing_key(keys[0]), day="2026-03-02", source={})
    assert root.child("date=2026-03-02").get("part-00000.parquet") == before
    with pytest.raises(DatasetExists, match="holds dataset reviews-test, not other"):
        drift.ingest_partition(root, _day(9), SPEC, load_signing_key(keys[0]), day="2026-03-19", source={}, dataset_id="other")


def test_clean_days_pass_and_are_recorded_then_skipped(lake, keys):
    root, book = lake
    vkey = load_verify_key(keys[1])
    first = drift.check_partitions(root.uri, vkey, signing_key=load_signing_key(keys[0]), ledger=book)
    assert [r.date for r in first] == DAYS
    assert [r.alarm for r in first] == [False] * 8
    # the first day is the reference's own day; statistics start once five clean days (the reference counts) exist
    assert [r.warming_up for r in first] == [True] * 5 + [False] * 3
    assert first[5].clean_days == ["2026-03-02", "2026-03-03", "2026-03-04", "2026-03-05"]
    # warm-up: only noise_rate runs, against the signed reference alone (Fisher's exact test); the others say what they wait for
    assert [sorted({t.guard for t in r.tests}) for r in first[:5]] == [["noise_rate"]] * 5
    g = first[4].guard_summary()
    assert g["label_prior"]["detail"] == "warm-up: 4 of 5 clean days (the reference counts as one), manifest checked; this guard needs 5"
    assert g["label_prior"]["z"] is None and g["class_conditional"]["z"] is None
    from scipy.stats import fisher_exact

    ref = drift.load_reference(root, vkey, ledger=book)
    noise = {t.subject: t for t in first[4].tests}
    assert sorted(noise) == ["class 0", "class 1"] and not any(t.fired for t in noise.values())
    for c in (0, 1):
        day, base = first[4].stats["classes"][c], ref.stats["classes"][c]
        table = [[day["confident"], day["rows"] - day["confident"]], [base["confident"], base["rows"] - base["confident"]]]
        assert noise[f"class {c}"].p_value == pytest.approx(fisher_exact(table, alternative="greater")[1])
        assert np.isfinite(noise[f"class {c}"].z) and noise[f"class {c}"].threshold == pytest.approx(3.4029, abs=1e-4)  # norm.isf(0.05 / 150)
    assert "in the signed reference (Fisher's exact test, p=" in noise["class 0"].detail
    # the noise rate's clean-day null needs five clean partitions (the reference's rate is out of fold): by day 7
    assert {t.guard for t in first[5].tests} == {"label_prior", "class_conditional", "noise_rate"}
    # day 7, right after: the reference test runs, as it would fire on a smaller flip than t with 3 df (test_drift_bridge.py)
    assert "in the signed reference" in first[5].tests[-1].detail
    assert "the test chosen while the clean days' null rests on 5 of 14 partitions" in first[6].tests[-1].detail
    assert drift.warmup_note([r.to_dict() for r in first]) == (
        "warm-up 2026-03-01 to 2026-03-05: fewer than 5 clean days (the reference counts as one), so the manifest was checked and "
        "noise_rate compared with the signed reference alone (noise_rate until 2026-03-06: its clean-day null leaves the reference out "
        "and needs 5 clean partitions); label_prior, class_conditional need 5 clean days")
    assert {t.guard for t in first[6].tests} == {"label_prior", "class_conditional", "noise_rate"}
    assert first[6].level == pytest.approx(0.05 / (5 * 30))
    assert sorted(drift.read_records(root, vkey)) == DAYS
    assert drift.check_partitions(root.uri, vkey, signing_key=load_signing_key(keys[0]), ledger=book) == []  # nothing unchecked
    again = drift.check_partitions(root.uri, vkey, signing_key=load_signing_key(keys[0]), since="2026-03-03", until="2026-03-03", ledger=book)
    assert [r.date for r in again] == ["2026-03-03"]


def test_flipped_day_fires_and_at_rest_edit_names_rows(lake, keys, tmp_path):
    from labelguard.tasks.attacks import flip_labels
    from labelguard.tasks.tamper import tamper

    root, book = lake
    vkey, key = load_verify_key(keys[1]), load_signing_key(keys[0])
    drift.check_partitions(root.uri, vkey, signing_key=load_signing_key(keys[0]), ledger=book)
    poisoned = flip_labels(_day(8), SPEC, attack="targeted", rate=0.05, seed=3)
    drift.ingest_partition(root, poisoned.frame, SPEC, key, day="2026-03-09", source={}, ledger=book)
    drift.ingest_partition(root, _day(9), SPEC, key, day="2026-03-10", source={}, ledger=book)
    flipped = tamper(root.child("date=2026-03-10").uri, attack="random", rate=0.02, seed=4, truth_out=tmp_path / "truth.json")
    res = {r.date: r for r in drift.check_partitions(root.uri, vkey, signing_key=load_signing_key(keys[0]), ledger=book)}
    day5, day6 = res["2026-03-09"], res["2026-03-10"]
    assert day5.integrity == "ok" and day5.alarm
    assert "noise_rate" in day5.fired
    noise0 = next(t for t in day5.tests if t.guard == "noise_rate" and t.subject == "class 0")
    assert noise0.fired and noise0.z > noise0.threshold
    assert set(poisoned.flipped_ids) & set(day5.suspect_ids)  # the reference model's disagreements include flipped rows
    assert day6.integrity == "digest-mismatch" and day6.fired[0] == "manifest"
    assert sorted(map(str, day6.suspect_ids)) == sorted(map(str, flipped.flipped_ids)) and len(flipped.flipped_ids) == round(0.02 * len(flipped.frame)) == 18
    assert day6.clean_days == DAYS[1:]  # the alarmed day is not a clean day, nor the reference's own day


def test_copied_partition_and_missing_manifest_fire(lake, keys):
    root, book = lake
    vkey = load_verify_key(keys[1])
    shutil.copytree(root.root / "date=2026-03-02", root.root / "date=2026-03-17")
    (root.root / "date=2026-03-18").mkdir()
    shutil.copy(root.root / "date=2026-03-02" / "part-00000.parquet", root.root / "date=2026-03-18")
    res = {r.date: r for r in drift.check_partitions(root.uri, vkey, signing_key=load_signing_key(keys[0]), since="2026-03-17", ledger=book)}
    assert res["2026-03-17"].integrity == "wrong-dataset" and res["2026-03-17"].alarm
    assert "part 'date=2026-03-02'" in res["2026-03-17"].integrity_detail
    assert res["2026-03-18"].integrity == "missing-manifest" and res["2026-03-18"].fired == ["manifest"]


def test_forged_reference_is_untrusted(lake, keys):
    root, book = lake
    path = root.root / "holdout" / "manifest.json"
    doc = json.loads(path.read_text())
    doc["payload"]["rows"] += 1
    path.write_text(json.dumps(doc))
    with pytest.raises(UntrustedInput, match="the reference at .*holdout failed verification: bad-signature"):
        drift.check_partitions(root.uri, load_verify_key(keys[1]), signing_key=load_signing_key(keys[0]), ledger=book)


def test_overdispersed_null_holds_its_level_where_a_binomial_test_does_not():
    """Clean days whose class share varies beyond sampling (sd 0.04, 800 rows): the test's false-alarm
    rate stays at or below its level; the binomial test that ignores day-to-day variation does not."""
    from scipy import stats

    rng = np.random.default_rng(7)
    level, trials, n, m = 0.01, 4000, 800, 7
    alarms = naive = 0
    for _ in range(trials):
        p = np.clip(rng.normal(0.5, 0.04, m + 1), 0.05, 0.95)
        x = rng.binomial(n, p) / n
        hist = [(xi, 0.25 / n) for xi in x[:m]]
        t = drift.overdispersed_test(x[m], 0.25 / n, hist, side="two-sided", level=level)
        alarms += t["p_value"] < level
        naive += abs(x[m] - x[:m].mean()) / np.sqrt(0.25 / n * (1 + 1 / m)) > stats.norm.isf(level / 2)
    assert alarms / trials <= level
    assert naive / trials > 0.2


def test_overdispersed_test_without_spread_is_the_sampling_z_on_t():
    from scipy import stats

    with pytest.raises(ValueError, match="at least 3 clean days, got 2"):
        drift.overdispersed_test(0.30, 0.0004, [(0.20, 0.0004)] * 2, side="greater", level=0.001)
    t = drift.overdispersed_test(0.30, 0.0004, [(0.20, 0.0004)] * 4, side="greater", level=0.001)
    assert t["tau"] == 0.0
    assert t["z"] == pytest.approx(0.10 / np.sqrt(0.0004 + 0.0001))
    assert t["threshold"] == pytest.approx(stats.t(2).isf(0.001)) == pytest.approx(22.327, abs=1e-3)
    assert t["p_value"] == pytest.approx(stats.t(2).sf(4.4721), rel=1e-3)


def test_simulation_writes_reports_and_alarms_only_on_the_poisoned_day(tmp_path):
    res = simulate(tmp_path / "sim", days=10, poison_day=9, attack="random", rate=0.2, vector="source", seed=201)
    recs = res["records"]
    assert [r["day"] for r in recs] == list(range(1, 11))
    assert [r["date"] for r in recs if r["alarm"]] == ["2026-03-09"]
    assert "noise_rate" in recs[8]["fired"]
    doc = json.loads((tmp_path / "sim" / "report.json").read_text())
    assert doc["summary"]["detected"] is True and doc["summary"]["false_alarms"] == []
    assert doc["records"][8]["guards"]["noise_rate"]["z"] > doc["records"][8]["guards"]["noise_rate"]["threshold"]
    assert "| 9 | 2026-03-09 | " in (tmp_path / "sim" / "report.md").read_text()
    assert (tmp_path / "sim" / "timeline.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def invoke(*args, env=None):
    return runner.invoke(app, [str(a) for a in args], env=env)


def test_cli_bad_input_is_one_line(tmp_path, keys, lake):
    root, _ = lake
    env = {"LABELGUARD_VERIFY_KEY": str(keys[1]), "LABELGUARD_SIGNING_KEY": str(keys[0])}
    (tmp_path / "flat").mkdir()
    (tmp_path / "flat" / "x.parquet").write_bytes(b"x")
    cases = [
        (("drift", tmp_path / "flat"), f"error: no partitions (date=YYYY-MM-DD/) under {tmp_path / 'flat'} (fix: ingest daily partitions with `labelguard ingest --dest URI --partition date=YYYY-MM-DD`)"),
        (("drift", tmp_path / "nothing"), f"error: no dataset at {tmp_path / 'nothing'} (fix: check the URI (labelguard ingest --partition date=YYYY-MM-DD writes one there))"),
        (("drift", root.uri, "--since", "2026-02-30"), "error: --since '2026-02-30' is not a date (fix: write --since YYYY-MM-DD, e.g. 2026-01-31)"),
        (("simulate", "--poison-day", "1"), "error: --poison-day must be in 2..14 (day 1 signs the reference), got 1 (fix: pass e.g. --poison-day 10, or 0 for none)"),
        (("simulate", "--vector", "wire"), "error: unknown vector 'wire' (fix: choose one of: source, transform, at-rest)"),
        (("ingest", "--dest", tmp_path / "l2", "--partition", "yesterday"), "error: --partition 'yesterday' is not a date (fix: write --partition date=YYYY-MM-DD, e.g. date=2026-01-31)"),
        (("ingest", "--dest", root.uri, "--rows", "100", "--partition", "date=2026-03-01"),
         f"error: partition date=2026-03-01 already exists under {root.uri} (fix: partitions are create-only: ingest a new date)"),
        (("alert",), "error: pass exactly one of --webhook URL and --deployment FLOW/DEPLOYMENT (fix: e.g. labelguard alert --webhook https://hooks.example.com/labelguard)"),
    ]
    for args, line in cases:
        res = invoke(*args, env=env)
        assert (res.exit_code, res.stderr.strip()) == (2, line), args


def test_cli_drift_refuses_an_edited_reference_before_prefect(lake, keys, tmp_path):
    from labelguard.tasks.tamper import tamper

    root, _ = lake
    tamper(root.child("holdout").uri, attack="random", rate=0.05, seed=1, truth_out=tmp_path / "t.json")
    res = invoke("drift", root.uri, "--ledger", "none", env={"LABELGUARD_VERIFY_KEY": str(keys[1]), "LABELGUARD_SIGNING_KEY": str(keys[0]), "PREFECT_API_URL": "http://127.0.0.1:9/api"})
    assert res.exit_code == 1, res.stderr
    assert res.stderr.strip().startswith(f"guard fired: reference fired, cannot be trusted (the reference at {root.uri}/holdout failed verification: digest-mismatch")


def test_prefect_yaml_deploys_the_drift_flow_with_its_parameters():
    import inspect
    from pathlib import Path

    import yaml

    from labelguard.flows.drift import drift_flow

    root = Path(__file__).resolve().parents[1]
    doc = yaml.safe_load((root / "prefect.yaml").read_text())
    (dep,) = doc["deployments"]
    assert dep["entrypoint"] == "flows/drift.py:drift_flow"
    path, name = dep["entrypoint"].split(":")
    assert (root / path).is_file() and f"def {name}(" in (root / path).read_text()
    assert set(dep["parameters"]) <= set(inspect.signature(drift_flow.fn).parameters)
    assert dep["schedules"] == [{"cron": "0 6 * * *", "timezone": "UTC"}]
    assert dep["work_pool"]["name"] == "labelguard-process"


@pytest.mark.flow
def test_cli_drift_runs_the_flow_and_exits_1_on_an_alarm(lake, keys, prefect_harness, tmp_path):
    from labelguard.tasks.attacks import flip_labels

    root, book = lake
    env = {"LABELGUARD_VERIFY_KEY": str(keys[1]), "LABELGUARD_SIGNING_KEY": str(keys[0])}
    first = invoke("drift", root.uri, "--ledger", book.path, "--json", tmp_path / "clean.json", env=env)
    assert first.exit_code == 0, first.stderr
    assert [d["alarm"] for d in json.loads((tmp_path / "clean.json").read_text())] == [False] * 8
    poisoned = flip_labels(_day(8), SPEC, attack="random", rate=0.2, seed=3)
    drift.ingest_partition(root, poisoned.frame, SPEC, load_signing_key(keys[0]), day="2026-03-09", source={}, ledger=book)
    res = invoke("drift", root.uri, "--ledger", book.path, env=env)
    assert res.exit_code == 1
    assert res.stderr.strip() == ("guard fired: class_conditional, noise_rate fired (alarm on 2026-03-09) (fix: inspect the drift artifact "
                                  "'labelguard-drift' and the suspect rows of those partitions)")
    assert "│ 2026-03-09 │" in res.stdout and "ALARM" in res.stdout
    assert invoke("drift", root.uri, "--ledger", book.path, env=env).stdout.strip() == (
        f"every partition of {root.uri} was checked already (pass --since/--until to check again)")


def test_simulation_transform_vector_flips_the_budget_and_writes_the_truth(tmp_path):
    import pandas as pd

    res = simulate(tmp_path / "sim", days=3, poison_day=3, attack="targeted", rate=0.1, vector="transform", seed=5, plot=False)
    truth = json.loads((tmp_path / "sim" / "truth.json").read_text())
    stored = pd.read_parquet(tmp_path / "sim" / "store" / "date=2026-03-03" / "part-00000.parquet")
    # the README's truth format, as tamper and poison write it
    assert sorted(truth) == ["attack", "budget", "date", "day", "flipped", "note", "rate", "seed", "vector"]
    assert (truth["attack"], truth["rate"], truth["seed"], truth["vector"], truth["date"]) == ("targeted", 0.1, 5, "transform", "2026-03-03")
    assert len(truth["flipped"]) == round(0.1 * len(stored)) and {(f["old"], f["new"]) for f in truth["flipped"]} == {(1, 0)}
    # targeted: positives relabelled negative, the stored (signed) partition carries the flipped labels
    assert set(stored.loc[stored["review_id"].isin([f["id"] for f in truth["flipped"]]), "label"]) == {0}
    assert res["records"][2]["integrity"] == "ok" and res["records"][2]["warming_up"]
    assert (tmp_path / "sim" / "report.md").read_text().startswith("# Drift simulation: 3 days, targeted 10% via transform on day 3 (seed 5)")


def _alarmed_lake(lake, keys):
    """The lake checked once, then a poisoned ninth day checked: its signed record says alarm."""
    from labelguard.tasks.attacks import flip_labels

    root, book = lake
    vkey, key = load_verify_key(keys[1]), load_signing_key(keys[0])
    drift.check_partitions(root.uri, vkey, signing_key=key, ledger=book)
    drift.ingest_partition(root, flip_labels(_day(8), SPEC, attack="random", rate=0.2, seed=3).frame, SPEC, key, day="2026-03-09", source={}, ledger=book)
    (res,) = drift.check_partitions(root.uri, vkey, signing_key=key, ledger=book)
    assert res.alarm
    return root, book, vkey, key


def test_day_records_are_signed_and_a_forged_one_is_untrusted(lake, keys):
    root, book, vkey, key = _alarmed_lake(lake, keys)
    path = root.root / "_drift" / "date=2026-03-09.json"
    doc = json.loads(path.read_text())
    assert doc["payload"]["kind"] == "labelguard.drift.day" and doc["payload"]["dataset"] == "reviews-test" and doc["payload"]["alarm"] is True
    assert sorted(drift.read_records(root, vkey, dataset_id="reviews-test")) == DAYS + ["2026-03-09"]
    # someone marks the poisoned day clean, so it would join the baseline: refused, not used
    doc["payload"]["alarm"], doc["payload"]["fired"] = False, []
    path.write_text(json.dumps(doc))
    line = (f"the drift record {root.uri}/_drift/date=2026-03-09.json failed verification: bad-signature")
    drift.ingest_partition(root, _day(9), SPEC, key, day="2026-03-10", source={}, ledger=book)
    with pytest.raises(UntrustedInput, match=re.escape(line)):
        drift.check_partitions(root.uri, vkey, signing_key=key, ledger=book)
    assert not (root.root / "_drift" / "date=2026-03-10.json").exists()  # nothing written on an untrusted history
    res = invoke("drift", root.uri, "--ledger", book.path, env={"LABELGUARD_VERIFY_KEY": str(keys[1]), "LABELGUARD_SIGNING_KEY": str(keys[0]),
                                                                "PREFECT_API_URL": "http://127.0.0.1:9/api"})
    assert res.exit_code == 1, res.stderr
    assert res.stderr.strip() == (f"guard fired: day-record fired, cannot be trusted ({line}) (fix: find out who wrote it, then delete it "
                                  "so the day is checked again (or restore the signed record))")


def test_moved_or_unsigned_day_records_are_untrusted(lake, keys):
    root, book, vkey, key = _alarmed_lake(lake, keys)
    records = root.root / "_drift"
    # a clean day's signed record copied over the alarmed day's: signed, but for another date
    (records / "date=2026-03-09.json").write_bytes((records / "date=2026-03-08.json").read_bytes())
    with pytest.raises(UntrustedInput, match=re.escape("date=2026-03-09.json failed verification: wrong-date (the record is for '2026-03-08')")):
        drift.read_records(root, vkey)
    # an unsigned record (the format before records were signed)
    doc = json.loads((records / "date=2026-03-08.json").read_text())["payload"]
    (records / "date=2026-03-09.json").write_text(json.dumps({**doc, "date": "2026-03-09"}))
    with pytest.raises(UntrustedInput, match=re.escape("date=2026-03-09.json failed verification: unsigned (not a signed labelguard record)")):
        drift.read_records(root, vkey)


def test_drift_needs_the_datasets_own_signing_key(lake, keys, tmp_path):
    from labelguard.tasks.manifest import generate_keypair

    root, _ = lake
    other, _ = generate_keypair(tmp_path / "other")
    cases = [
        ({"LABELGUARD_VERIFY_KEY": str(keys[1])},
         "error: no signing key for the drift records (fix: set LABELGUARD_SIGNING_KEY or pass --signing-key (the dataset's own, which signed its manifests))"),
        ({"LABELGUARD_VERIFY_KEY": str(keys[1]), "LABELGUARD_SIGNING_KEY": str(other)},
         f"error: the signing key {other} does not belong to the verify key {keys[1]} (fix: pass the dataset's own key pair)"),
    ]
    for env, line in cases:
        res = invoke("drift", root.uri, "--ledger", "none", env=env)
        assert (res.exit_code, res.stderr.strip()) == (2, line)
    assert not (root.root / "_drift").exists()
    with pytest.raises(BadInput, match="the signing key does not belong to the verify key"):
        drift.check_partitions(root.uri, load_verify_key(keys[1]), signing_key=load_signing_key(other))


def test_confident_class_is_cleanlabs_confident_joint():
    from cleanlab.count import compute_confident_joint

    rng = np.random.default_rng(11)
    proba = rng.dirichlet([0.6, 0.6, 0.6], size=400)
    labels = rng.integers(0, 3, 400)
    thresholds = drift._thresholds(labels, proba, 3)
    confident = drift.confident_class(proba, thresholds)
    _, off = compute_confident_joint(labels, proba, thresholds=thresholds, calibrate=False, return_indices_of_off_diagonals=True)
    mine = np.flatnonzero((confident >= 0) & (confident != labels))
    assert sorted(mine.tolist()) == sorted(np.asarray(off).tolist()) and len(mine) > 50


@pytest.mark.parametrize("name", list(drift.DRIFT_GUARDS))
def test_every_drift_guard_keeps_the_bonferroni_budget_and_its_level(name):
    """Each registered guard runs at most the tests it declares (the per-test level divides alpha by
    that count) and fires exactly when its p-value is under the level; quiet on a clean day."""
    from labelguard.tasks.attacks import flip_labels

    fn, description, count = drift.DRIFT_GUARDS[name]
    frames = [_day(i, seed=31) for i in range(8)]
    ref = drift.fit_reference(frames[0], SPEC)
    history = [ref.stats] + [drift.day_stats(f, ref)[0] for f in frames[1:7]]
    level = drift.ALPHA / (drift.tests_per_day(2) * drift.HORIZON_DAYS)
    for frame in (frames[7], flip_labels(frames[7], SPEC, attack="random", rate=0.3, seed=1).frame):
        tests = fn(drift.day_stats(frame, ref)[0], history, ref, level)
        assert 0 < len(tests) <= count(2) and description
        for t in tests:
            assert t.guard == name and 0.0 <= t.p_value <= 1.0 and t.fired == (t.p_value < level)
        if frame is frames[7]:
            assert not any(t.fired for t in tests)
