"""Break-it round 2 findings, each pinned with its exact exit code and one-line message (small data of our own)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from labelguard.cli import app
from labelguard.tasks.synthetic import make_reviews

runner = CliRunner()


def invoke(*args, env=None):
    return runner.invoke(app, [str(a) for a in args], env=env)


@pytest.fixture
def env(keys):
    return {"LABELGUARD_VERIFY_KEY": str(keys[1]), "LABELGUARD_SIGNING_KEY": str(keys[0])}


@pytest.fixture
def day_csvs(tmp_path):
    """Two clean days and three that do not fit: a new class, a feature gone, labels re-spelt."""
    rows = make_reviews(400, seed=3)
    paths = {}
    for name, frame in {
        "day1": rows.iloc[:200],
        "day2": rows.iloc[200:],
        "newclass": rows.iloc[200:].assign(label=[2, 2, 2] + rows["label"].iloc[203:].tolist()),
        "nocol": rows.iloc[200:].drop(columns=["intensity"]),
        "str": rows.iloc[200:].assign(label=rows["label"].iloc[200:].map({0: "neg", 1: "pos"})),
    }.items():
        paths[name] = tmp_path / f"{name}.csv"
        frame.to_csv(paths[name], index=False)
    return paths


def test_partition_that_does_not_fit_the_signed_dataset_is_refused(tmp_path, env, day_csvs):
    lake = tmp_path / "lake"
    first = invoke("ingest", "--dest", lake, "--source", day_csvs["day1"], "--partition", "date=2026-03-01", env=env)
    assert first.exit_code == 0, first.output
    fix = ("(fix: export the day with the dataset's columns and labels (features: polarity, intensity; text: none; classes: 0, 1), "
           "or ingest it into a new --dest)")
    cases = {
        "newclass": "label 2 not in the class set [0, 1]",
        "nocol": "column 'intensity' missing",
        "str": "labels are str ('neg', 'pos'), the dataset's are int (0, 1)",
    }
    for i, (name, why) in enumerate(cases.items(), start=2):
        extra = ("--positive-class", "pos") if name == "str" else ()
        result = invoke("ingest", "--dest", lake, "--source", day_csvs[name], "--partition", f"date=2026-03-0{i}", *extra, env=env)
        assert result.exit_code == 2, result.output
        assert result.output.strip() == f"error: the day does not fit dataset {lake} (signed in holdout): {why} {fix}"
        assert not (lake / f"date=2026-03-0{i}").exists()
    ok = invoke("ingest", "--dest", lake, "--source", day_csvs["day2"], "--partition", "date=2026-03-09", env=env)
    assert ok.exit_code == 0, ok.output
    assert (lake / "date=2026-03-09" / "manifest.json").exists()


@pytest.mark.flow
def test_table_ingest_chooses_columns_as_the_file_ingest_does(pg_url, keys, tmp_path, monkeypatch, prefect_harness):
    """Text featurized, bool/timestamp kept but ignored, --text-cols/--ignore-cols honoured, the same columns: line."""
    import json

    import pandas as pd
    import psycopg

    monkeypatch.setenv("LABELGUARD_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("LABELGUARD_SIGNING_KEY", str(keys[0]))
    with psycopg.connect(pg_url.split("?")[0]) as conn:
        conn.execute(
            "CREATE TABLE mine AS SELECT g AS id, CASE WHEN g % 3 = 0 THEN 'neg' WHEN g % 3 = 1 THEN 'neu' ELSE 'pos' END AS stars, "
            "'review number ' || g || ' is ' || (CASE WHEN g % 3 = 0 THEN 'awful bad terrible' WHEN g % 3 = 1 THEN 'okay fine average' "
            "ELSE 'great good lovely' END) AS body, ((g % 17)::numeric / 3)::numeric(10, 2) AS helpful, g % 2 = 0 AS flag, "
            "timestamp '2026-01-01' + g * interval '1 minute' AS ts FROM generate_series(1, 300) g"
        )
    url = pg_url.split("?")[0] + "?table=mine"
    text = "text (TF-IDF + SVD to 50 dimensions, fitted on the text of the dataset and its trusted rows (labels never used)): body"
    for dest, extra, columns, features, texts in (
        ("auto", (), f"features: helpful; {text}; ignored: flag, ts", ["helpful"], ["body"]),
        ("named", ("--text-cols", "body", "--ignore-cols", "helpful"), f"features: none; {text}; ignored: helpful, flag, ts", [], ["body"]),
    ):
        res = invoke("ingest", "--source", url, "--id-col", "id", "--label-col", "stars", "--dest", tmp_path / dest, *extra)
        assert res.exit_code == 0, res.output
        assert res.stdout.splitlines()[1] == f"columns: {columns}; positive class: none (3 classes: every class's share is reported)"
        spec = json.loads((tmp_path / dest / "manifest.json").read_text())["payload"]["columns"]
        assert (spec["feature_cols"], spec["text_cols"]) == (features, texts)
        assert pd.read_parquet(tmp_path / dest / "data.parquet").columns.tolist() == ["id", "stars", "body", "helpful", "flag", "ts"]
    bad = invoke("ingest", "--source", url, "--id-col", "id", "--label-col", "stars", "--dest", tmp_path / "bad", "--text-cols", "bdy")
    assert bad.exit_code == 2
    assert bad.stderr == "error: --text-cols names column 'bdy', which is not in the data (have: 'id', 'stars', 'body', 'helpful', 'flag', 'ts') (fix: did you mean 'body'? pass --text-cols body, or --text-cols naming an existing column)\n"
    assert not (tmp_path / "bad").exists()


@pytest.fixture
def four_classes(tmp_path):
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(2)
    y = rng.integers(0, 4, 240)
    frame = pd.DataFrame(rng.normal(0, 4, (4, 3))[y] + rng.normal(0, 1, (240, 3)), columns=["f0", "f1", "f2"])
    frame.insert(0, "id", [f"r{i:04d}" for i in range(240)])
    frame["label"] = y
    frame.to_csv(tmp_path / "c4.csv", index=False)
    frame.drop(columns=["id"]).to_csv(tmp_path / "noid.csv", index=False)
    return tmp_path


@pytest.mark.parametrize(
    "args, message",
    [
        (("--data", "{d}/c4.csv", "--label-col", "label", "--id-col", "id", "--attacks", "random,targeted", "--rates", "0.1", "--seeds", "1", "--models", "logreg"),
         "error: cannot tell which class is positive among 0, 1, 2, 3 (fix: pass --positive-class naming the class the business figure and the targeted attack are about)"),
        (("--rates", "1.5"), "error: --rates must be numbers in [0, 1], got 1.5 (fix: pass e.g. --rates 0.05,0.2)"),
        (("--data", "{d}/nosuch.csv"), "error: no such file: {d}/nosuch.csv (fix: pass --data synthetic, an existing .csv/.parquet file or folder, or s3:// Parquet objects)"),
    ],
    ids=["positive-class", "rates", "data"],
)
def test_drill_refuses_before_any_work_naming_its_own_flags(four_classes, args, message):
    d = four_classes
    res = invoke("drill", *[a.format(d=d) for a in args], "--out", d / "out")
    assert res.exit_code == 2, res.output
    assert res.stderr == message.format(d=d) + "\n"
    assert not (d / "out").exists()


def test_drill_refuses_an_out_that_cannot_be_created():
    res = invoke("drill", "--attacks", "random", "--rates", "0.05", "--seeds", "1", "--models", "logreg", "--out", "/proc/labelguard-x")
    assert res.exit_code == 2
    assert res.stderr == "error: --out /proc/labelguard-x cannot be written (No such file or directory) (fix: pass a directory you can write to)\n"


def test_missing_id_column_with_no_close_name_offers_auto(four_classes, env):
    d = four_classes
    res = invoke("ingest", "--source", d / "noid.csv", "--label-col", "label", "--dest", d / "ds", env=env)
    assert res.exit_code == 2
    assert res.stderr == "error: column 'review_id' not found (have: 'f0', 'f1', 'f2', 'label') (fix: pass --id-col auto to key rows by position, or --id-col naming a unique column)\n"
    near = invoke("ingest", "--source", d / "c4.csv", "--label-col", "label", "--id-col", "idd", "--dest", d / "ds", env=env)
    assert near.stderr == "error: column 'idd' not found (have: 'id', 'f0', 'f1', 'f2', 'label') (fix: did you mean 'id'? pass --id-col id, or --id-col naming an existing column)\n"
    assert not (d / "ds").exists()


def test_verify_of_a_partitioned_root_points_at_drift(tmp_path, env, day_csvs):
    lake = tmp_path / "lake"
    assert invoke("ingest", "--dest", lake, "--source", day_csvs["day1"], "--partition", "date=2026-03-01", env=env).exit_code == 0
    res = invoke("verify", lake, env=env)
    assert res.exit_code == 2
    assert res.stderr == (f"error: {lake} holds daily partitions (fix: check them with `labelguard drift {lake}` "
                          f"or verify one partition, e.g. {lake}/date=2026-03-01)\n")


def test_a_holdout_the_model_trained_on_makes_the_gate_inconclusive_and_is_recorded(tmp_path, env):
    """The same 600 rows ingested twice with other split seeds: 94 of the first holdout's 120 ids are training rows of the second."""
    import json

    make_reviews(600, seed=4, separation=2.8).to_csv(tmp_path / "r.csv", index=False)
    for dest, seed in (("a", 0), ("b", 1)):
        assert invoke("ingest", "--source", tmp_path / "r.csv", "--dest", tmp_path / dest, "--seed", seed, env=env).exit_code == 0
    line = "94 of the holdout's 120 ids are also training rows: the gate measures the model on rows it trained on"
    res = invoke("verify", tmp_path / "b", "--holdout", tmp_path / "a" / "holdout", "--json", tmp_path / "v.json", env=env)
    assert res.exit_code == 1
    assert res.stderr == (f"cannot tell: model gate: {line} (78% of the holdout, more than the 2% accuracy drop it must see); "
                          "flips of 20% of a class would go unseen (smallest detectable flip rate: class 1: 32.5%, class 0: 24.5%) "
                          "(fix: pass a --holdout whose rows are not in the data (e.g. the dataset's own URI/holdout); for the flips no guard "
                          "would see, add trusted reference rows, accept more unseen flips with --tolerate 0.325; or --allow-inconclusive)\n")
    doc = json.loads((tmp_path / "v.json").read_text())
    gate = next(g for g in doc["guards"] if g["name"] == "model_gate")
    assert gate["verdict"] == "inconclusive" and gate["detail"].endswith(f"; {line}")
    assert gate["metrics"]["holdout_overlap"] == {"shared": 94, "of": 120}
    assert (doc["overlap"], doc["holdout_uri"], doc["reference_uri"], doc["manifest_version"]) == (
        {"holdout": {"shared": 94, "of": 120}}, str(tmp_path / "a" / "holdout"), str(tmp_path / "a" / "holdout"), 1)
    own = invoke("verify", tmp_path / "b", "--json", tmp_path / "own.json", env=env)  # its own holdout: disjoint, nothing said
    doc = json.loads((tmp_path / "own.json").read_text())
    assert (doc["overlap"], doc["holdout_uri"]) == ({"holdout": {"shared": 0, "of": 120}}, str(tmp_path / "b" / "holdout")), own.output
    assert "training rows" not in own.stdout


def test_histograms_of_integer_classes_read_in_numeric_order():
    from labelguard.cli import _histogram

    assert _histogram({"0": 5, "1": 4, "10": 3, "11": 2, "2": 1}) == "0: 5, 1: 4, 2: 1, 10: 3, 11: 2"
    assert _histogram({"neg": 1, "pos": 2}) == "neg: 1, pos: 2"


def test_table_tamper_takes_the_snapshot_columns_and_verify_types_ids_and_gives_a_verdict(pg_url, keys, tmp_path, monkeypatch):
    import json

    import psycopg

    monkeypatch.setenv("LABELGUARD_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("LABELGUARD_SIGNING_KEY", str(keys[0]))
    monkeypatch.setenv("LABELGUARD_VERIFY_KEY", str(keys[1]))
    with psycopg.connect(pg_url.split("?")[0]) as conn:
        conn.execute("CREATE TABLE mine AS SELECT g AS id, CASE WHEN g % 2 = 0 THEN 'neg' ELSE 'pos' END AS stars, "
                     "(g % 2) * 3.0 + (g % 7) / 7.0 AS helpful FROM generate_series(1, 200) g")
    url = pg_url.split("?")[0] + "?table=mine"
    assert invoke("snapshot", url, "--id-col", "id", "--label-col", "stars").exit_code == 0
    res = invoke("tamper", url, "--attack", "random", "--rate", 0.05, "--seed", 1, "--truth-out", tmp_path / "t.json")
    assert res.exit_code == 0, res.output
    flipped = sorted(f["id"] for f in json.loads((tmp_path / "t.json").read_text())["flipped"])
    assert len(flipped) == 10 and all(isinstance(i, int) for i in flipped)
    res = invoke("verify", url, "--json", tmp_path / "v.json")
    assert res.exit_code == 1
    assert res.stderr == f"guard fired: table_fingerprint: 10 label(s) changed, 0 row(s) otherwise edited, 0 inserted, 0 deleted; changed ids: {', '.join(map(str, flipped))}\n"
    doc = json.loads((tmp_path / "v.json").read_text())
    assert (doc["verdict"], doc["suspect_ids"], doc["label_changed"], doc["guards"][0]["verdict"]) == ("fired", flipped, flipped, "fired")


@pytest.mark.flow
def test_alert_refuses_a_missing_deployment_and_a_second_automation_of_a_name(prefect_server, tmp_path):
    import os
    import subprocess
    import sys

    run_env = {**os.environ, "PREFECT_API_URL": prefect_server, "PREFECT_HOME": str(tmp_path / "prefect-home")}

    def alert(*args):
        return subprocess.run([sys.executable, "-m", "labelguard.cli", "alert", *args], env=run_env, capture_output=True, text=True, timeout=180)

    missing = alert("--deployment", "labelguard-drift/nightly")
    assert missing.returncode == 2
    assert missing.stderr == (f"error: no deployment labelguard-drift/nightly on {prefect_server} (fix: serve it first "
                              "(labelguard watch URI --cron '0 * * * *' --name NAME, or prefect deploy), or name an existing FLOW/DEPLOYMENT)\n")
    first = alert("--webhook", "http://127.0.0.1:9/hook")
    assert first.returncode == 0, first.stderr
    automation_id = first.stdout.split("(", 1)[1].split(")", 1)[0]
    again = alert("--webhook", "http://127.0.0.1:9/hook")
    assert again.returncode == 2
    assert again.stderr == (f"error: an automation named 'labelguard-guard-fired' exists already on {prefect_server} ({automation_id}) "
                            "(fix: keep it, pass another --name, or delete it first: prefect automation delete labelguard-guard-fired)\n")


def test_holdout_overlap_is_material_only_beyond_the_accuracy_drop_the_gate_must_see():
    from labelguard.tasks.guards import GuardResult
    from labelguard.tasks.verify import note_holdout_overlap

    def gate(passed=True):
        return GuardResult("model_gate", passed, "holdout accuracy 0.9 vs reference 0.9", tolerance=0.2)

    small, large, fired = gate(), gate(), gate(passed=False)
    assert note_holdout_overlap([small], {"shared": 20, "of": 100}) is None
    assert (small.verdict, small.detail) == ("pass", "holdout accuracy 0.9 vs reference 0.9; 20 of the holdout's 100 ids are also training rows: "
                                                     "the gate measures the model on rows it trained on")
    assert note_holdout_overlap([large], {"shared": 21, "of": 100}) == (
        "21 of the holdout's 100 ids are also training rows: the gate measures the model on rows it trained on "
        "(21% of the holdout, more than the 20% accuracy drop it must see)")
    assert large.verdict == "inconclusive" and large.metrics["holdout_overlap"] == {"shared": 21, "of": 100}
    assert note_holdout_overlap([fired], {"shared": 90, "of": 100}) is None and fired.verdict == "fired"
    assert note_holdout_overlap([gate()], {"shared": 0, "of": 100}) is None
