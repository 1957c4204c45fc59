"""Break-it round 14: the findings of bench/findings/breakit-r14.md (the PostgreSQL vector, lakes, the CI-gate view).
Each test failed on the code before its fix."""

from __future__ import annotations

import json

from tests.clirun import invoke
from tests.test_drift import SPEC, _day, lake  # noqa: F401 (lake: a fixture)


# ---------------------------------------------------------------- finding 12: another spelling of the same table


def test_a_snapshot_is_found_under_every_spelling_of_its_table(pg_url, keys, tmp_path, monkeypatch):
    """The table snapshotted as `?table=reviews` and tampered: `?table=public.reviews` (and `localhost` for 127.0.0.1) found
    no snapshot, so `ingest` read it unguarded (exit 0, the flips signed) and `verify` told the user to snapshot it (exit 2)."""
    monkeypatch.setenv("LABELGUARD_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("LABELGUARD_SIGNING_KEY", str(keys[0]))
    monkeypatch.setenv("LABELGUARD_VERIFY_KEY", str(keys[1]))
    assert invoke("seed-db", pg_url, "--rows", 300, "--seed", 3).exit_code == 0
    assert invoke("snapshot", pg_url).exit_code == 0
    res = invoke("tamper", pg_url, "--attack", "targeted", "--rate", 0.02, "--truth-out", tmp_path / "truth.json")
    assert res.exit_code == 0, res.output
    flipped = sorted(f["id"] for f in json.loads((tmp_path / "truth.json").read_text())["flipped"])
    assert len(flipped) == 6
    line = f"guard fired: table_fingerprint: 6 label(s) changed, 0 row(s) otherwise edited, 0 inserted, 0 deleted; changed ids: {', '.join(flipped)}\n"
    for alias in (pg_url.replace("?table=reviews", "?table=public.reviews"), pg_url.replace("@127.0.0.1:", "@localhost:")):
        res = invoke("verify", alias)
        assert (res.exit_code, res.stderr) == (1, line), alias
    refused = invoke("ingest", "--source", pg_url.replace("?table=reviews", "?table=public.reviews"), "--dest", tmp_path / "ds")
    assert refused.exit_code == 1
    assert refused.stderr.startswith("guard fired: table_fingerprint fired, ingest refused (6 label(s) changed, ")
    assert not (tmp_path / "ds").exists()
    assert len(list((tmp_path / "state" / "tables").glob("*.json"))) == 1


# ---------------------------------------------------------------- finding 3: a Delta table is read at its current version


def _delta_table(root, parts: int = 3, rows: int = 100):
    """A Delta table as its log describes it (protocol 1/2): ``parts`` appends of ``rows`` rows in one commit."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(5)
    (root / "_delta_log").mkdir(parents=True)
    names = []
    for i in range(parts):
        y = rng.integers(0, 2, rows)
        name = f"part-0000{i}-{i:04x}-c000.snappy.parquet"
        pd.DataFrame({"id": np.arange(i * 1000, i * 1000 + rows), "f1": rng.normal(0, 1, rows) + 3 * y, "f2": rng.normal(0, 1, rows), "label": y}).to_parquet(root / name, index=False)
        names.append(name)
    actions = [{"protocol": {"minReaderVersion": 1, "minWriterVersion": 2}}, {"metaData": {"id": "t", "format": {"provider": "parquet"}, "partitionColumns": []}}]
    actions += [{"add": {"path": n, "partitionValues": {}, "size": (root / n).stat().st_size, "dataChange": True}} for n in names]
    (root / "_delta_log" / f"{0:020d}.json").write_text("\n".join(json.dumps(a) for a in actions) + "\n")
    return names


def _delta_delete(root, version: int, name: str):
    """A DELETE that drops one whole file: a `remove` action, the file left in the folder until VACUUM."""
    (root / "_delta_log" / f"{version:020d}.json").write_text(json.dumps({"remove": {"path": name, "dataChange": True}}) + "\n")


def test_rows_a_delta_delete_removed_after_the_seal_are_missing_not_verified(tmp_path, keys, monkeypatch):
    """A DELETE after `seal` left the removed file in the folder: verify read it and passed, "300 rows verified", exit 0,
    while every reader of the table took 200."""
    monkeypatch.setenv("LABELGUARD_SIGNING_KEY", str(keys[0]))
    monkeypatch.setenv("LABELGUARD_VERIFY_KEY", str(keys[1]))
    lake = tmp_path / "lake"
    names = _delta_table(lake)
    assert invoke("seal", lake, "--id-col", "id", "--label-col", "label", "--ledger", "none").exit_code == 0
    _delta_delete(lake, 1, names[2])
    res = invoke("verify", lake, "--guards", "manifest", "--ledger", "none", "--json", tmp_path / "v.json")
    assert (res.exit_code, res.stderr) == (1, "guard fired: manifest\n")
    detail = json.loads((tmp_path / "v.json").read_text())["guards"][0]["detail"]
    assert detail.startswith(f"object-missing: data object {names[2]} is removed by the Delta table's log: readers of the table no longer take its rows")
    assert detail.endswith("0 label(s) changed, 0 row(s) otherwise edited, 0 added, 100 missing")


def test_a_delta_folder_holding_a_file_its_log_removed_is_refused_by_seal_and_ingest(tmp_path, keys, monkeypatch):
    """A DELETE of a whole file leaves no id repeated: seal signed all 300 rows and ingest took them, exit 0, where the
    README promised a refusal."""
    monkeypatch.setenv("LABELGUARD_SIGNING_KEY", str(keys[0]))
    lake = tmp_path / "lake"
    names = _delta_table(lake)
    _delta_delete(lake, 1, names[1])
    res = invoke("seal", lake, "--id-col", "id", "--label-col", "label", "--ledger", "none")
    assert res.exit_code == 2
    assert res.stderr == (
        f"error: 1 Parquet file(s) here are removed by the table's log ({names[1]}): {lake} is a Delta table, and its folder keeps the "
        "Parquet files of earlier versions (an UPDATE, DELETE or OPTIMIZE rewrites parts; the log marks the old ones removed, readers of "
        "the table skip them, seal reads every part) (fix: seal a copy of the table's current version (written out as Parquet, e.g. with "
        "Spark or the deltalake package), or VACUUM the table so that only its current files remain, then seal again)\n"
    )
    assert not (lake / "_manifest.json").exists()
    res = invoke("ingest", "--source", lake, "--dest", tmp_path / "ds", "--id-col", "id", "--label-col", "label", "--ledger", "none")
    assert res.exit_code == 2 and res.stderr.startswith("error: 1 Parquet file(s) here are removed by the table's log (")
    assert "ingest reads every part" in res.stderr and not (tmp_path / "ds").exists()


# ---------------------------------------------------------------- finding 1: a dataset's data and manifest deleted


def test_a_dataset_whose_data_and_manifest_were_deleted_cannot_be_vouched_for(tmp_path, keys, monkeypatch):
    """`rm manifest.json data.parquet` (the signed sidecar and holdout left): exit 2, "holds no Parquet outside 1 folder(s)
    signed on their own (holdout) (fix: point at one of them, e.g. …/holdout …)", and the holdout, verified, passes."""
    import numpy as np
    import pandas as pd

    from tests.test_fix_findings_r13 import _ingest_frame

    monkeypatch.setenv("LABELGUARD_VERIFY_KEY", str(keys[1]))
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 300)
    ds = _ingest_frame(tmp_path, "ds", keys, pd.DataFrame({"id": np.arange(300), "f1": y * 3 + rng.normal(0, 1, 300), "f2": rng.normal(0, 1, 300), "label": y}))
    (ds / "manifest.json").unlink()
    (ds / "data.parquet").unlink()
    for guards in (["--guards", "manifest"], []):
        res = invoke("verify", ds, *guards, "--ledger", "none", "--json", tmp_path / "v.json")
        assert (res.exit_code, res.stderr) == (1, "guard fired: manifest\n"), guards
        report = json.loads((tmp_path / "v.json").read_text())
        assert report["verdict"] == "fired" and report["guards"][0]["detail"] == f"missing-manifest: objects at {ds} but no manifest.json: the data cannot be vouched for"


# ---------------------------------------------------------------- finding 14: an approval names labels, not only ids


def relabelled_t3(pg_url, keys, tmp_path, monkeypatch) -> str:
    """Table t3 (300 rows, labels a/b/c) snapshotted with the session's keys, then ids 3 (a → c) and 4 (b → a) relabelled
    behind labelguard's back; the table's URL."""
    import psycopg

    monkeypatch.setenv("LABELGUARD_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("LABELGUARD_SIGNING_KEY", str(keys[0]))
    monkeypatch.setenv("LABELGUARD_VERIFY_KEY", str(keys[1]))
    url = pg_url.replace("?table=reviews", "?table=t3")
    with psycopg.connect(url.split("?")[0]) as conn:
        conn.execute("CREATE TABLE t3 AS SELECT g AS id, (g % 3) * 3 + (g % 7) / 7.0 AS f1, (g % 5) / 5.0 AS f2, chr(97 + g % 3) AS label FROM generate_series(1, 300) g")
    assert invoke("snapshot", url, "--id-col", "id", "--label-col", "label").exit_code == 0
    with psycopg.connect(url.split("?")[0]) as conn:
        conn.execute("UPDATE t3 SET label = 'c' WHERE id = 3; UPDATE t3 SET label = 'a' WHERE id = 4")
    return url


def test_a_relabelling_to_another_label_than_the_approved_one_is_refused(pg_url, keys, tmp_path, monkeypatch):
    """The approval said id 3: a → b and id 4: b → c; the table said a → c and b → a. Both were taken as approved: exit 0,
    signed."""
    url = relabelled_t3(pg_url, keys, tmp_path, monkeypatch)
    (tmp_path / "approved.json").write_text(json.dumps({"attack": "manual", "rate": 0, "seed": 0, "flipped": [{"id": 3, "old": "a", "new": "b"}, {"id": 4, "old": "b", "new": "c"}]}))
    res = invoke("ingest", "--source", url, "--dest", tmp_path / "ds", "--approve-relabel", tmp_path / "approved.json", "--positive-class", "a")
    assert res.exit_code == 1
    assert res.stderr.startswith(
        "guard fired: table_fingerprint fired, ingest refused (2 label(s) changed, 0 row(s) otherwise edited, 0 inserted, 0 deleted since the snapshot of ")
    assert "; not approved: 3, 4 (2 relabelled otherwise than approved, e.g. id 3: approved 'a' → 'b', found 'a' → 'c')) (fix: " in res.stderr
    assert not (tmp_path / "ds").exists()


# ---------------------------------------------------------------- finding 7: tamper of a table with NULL labels


def test_tamper_of_a_table_with_null_labels_names_them_not_continuous_values(pg_url, keys, tmp_path, monkeypatch):
    """Integer labels 0/1 with NULLs read as floats: "label column 'label' holds continuous values (fix: label flipping
    needs a categorical label column)", a cause that was not the problem and a fix that could not help."""
    import psycopg

    monkeypatch.setenv("LABELGUARD_STATE_DIR", str(tmp_path / "state"))
    url = pg_url.replace("?table=reviews", "?table=t_null")
    with psycopg.connect(url.split("?")[0]) as conn:
        conn.execute("CREATE TABLE t_null AS SELECT g::bigint AS id, g % 7 + (g % 2) * 5.0 AS f1, "
                     "CASE WHEN g % 50 = 0 THEN NULL ELSE g % 2 END AS label FROM generate_series(1, 300) g")
    res = invoke("tamper", url, "--attack", "random", "--rate", 0.1, "--truth-out", tmp_path / "t.json", "--id-col", "id", "--label-col", "label")
    assert (res.exit_code, res.stderr) == (2, "error: label column 'label' of t_null has 6 NULL label(s), first at id 50 "
                                              "(fix: label every row, or delete the unlabelled rows, before tampering)\n")
    assert not (tmp_path / "t.json").exists()


# ---------------------------------------------------------------- finding 2: a label set to NULL is null in the JSON


def test_a_label_set_to_null_is_reported_as_null_not_as_copys_marker(pg_url, keys, tmp_path, monkeypatch):
    """`UPDATE … SET label = NULL` behind labelguard's back: verify's JSON said `"new": "\\\\N"`, COPY's NULL marker, as if
    it were a label."""
    import psycopg

    monkeypatch.setenv("LABELGUARD_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("LABELGUARD_SIGNING_KEY", str(keys[0]))
    monkeypatch.setenv("LABELGUARD_VERIFY_KEY", str(keys[1]))
    assert invoke("seed-db", pg_url, "--rows", 200, "--seed", 3).exit_code == 0
    with psycopg.connect(pg_url.split("?")[0]) as conn:
        conn.execute("ALTER TABLE reviews ALTER COLUMN label DROP NOT NULL")
    assert invoke("snapshot", pg_url).exit_code == 0
    with psycopg.connect(pg_url.split("?")[0]) as conn:
        old = conn.execute("SELECT label FROM reviews WHERE review_id = 'rev-0000007'").fetchone()[0]
        conn.execute("UPDATE reviews SET label = NULL WHERE review_id = 'rev-0000007'")
    res = invoke("verify", pg_url, "--json", tmp_path / "v.json")
    assert res.exit_code == 1
    assert json.loads((tmp_path / "v.json").read_text())["relabels"] == [{"id": "rev-0000007", "old": str(old), "new": None}]


# ---------------------------------------------------------------- finding 13: drift's alarm line names the class


def test_every_drift_tests_detail_names_its_class(lake, keys):  # noqa: F811 (the lake fixture of tests/test_drift.py)
    """With 20 classes the alarm read "label_prior: share 0.3% vs 5.2% on clean days …": of which class, only report.json's
    `subject` said; noise_rate's detail named it."""
    from labelguard.tasks import drift
    from labelguard.tasks.attacks import flip_labels
    from labelguard.tasks.manifest import load_signing_key, load_verify_key

    root, book = lake
    key = load_signing_key(keys[0])
    poisoned = flip_labels(_day(8), SPEC, attack="targeted", rate=0.2, seed=3)
    drift.ingest_partition(root, poisoned.frame, SPEC, key, day="2026-03-09", source={}, ledger=book)
    day = {r.date: r for r in drift.check_partitions(root.uri, load_verify_key(keys[1]), signing_key=key, ledger=book)}["2026-03-09"]
    tests = [t for t in day.tests if t.guard in ("label_prior", "class_conditional")]
    assert tests and any(t.fired for t in tests)
    for t in tests:
        assert t.detail.startswith(f"{t.subject}'s "), t.detail


# ---------------------------------------------------------------- finding 9: a stopped `pipeline --out` leaves its report.json


def test_a_pipeline_stopped_before_training_writes_why_to_its_out_folder(tmp_path, keys, prefect_harness):
    """`pipeline DS --out DIR` stopped by a fired guard wrote nothing: the CI job archiving DIR got no folder at all, and
    the rows the guards named were on the console only."""
    from tests.test_fix_findings_r9 import _env, _ingest

    ds = _ingest(tmp_path, "ds", keys, n=400)
    res = invoke("tamper", ds, "--attack", "random", "--rate", 0.05, "--truth-out", tmp_path / "t.json", "--forge-manifest", env=_env(keys))
    assert res.exit_code == 0
    flipped = sorted(f["id"] for f in json.loads((tmp_path / "t.json").read_text())["flipped"])
    res = invoke("pipeline", ds, "--ledger", "none", "--out", tmp_path / "out", env=_env(keys))
    assert res.exit_code == 1 and res.stderr.startswith("guard fired: manifest fired, training stopped (")
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert (report["stopped"], report["verdict"], report["fired"], report["suspects_from"]) == (True, "fired", ["manifest"], ["manifest"])
    assert sorted(report["suspect_ids"]) == flipped and report["detail"] == res.stderr.removeprefix("guard fired: ").strip()
    assert report["guards"][0]["name"] == "manifest" and report["guards"][0]["verdict"] == "fired"


# ---------------------------------------------------------------- finding 8: poison of a table names tamper


def test_poison_of_a_table_points_at_tamper_and_hides_the_password(tmp_path):
    """`poison postgresql://…` was told to "write it to a local file or folder (copy it to the store afterwards …)", the fix
    for an output path; poisoning a table is `tamper postgresql://…`."""
    res = invoke("poison", "postgresql://alice:s3cr3t@127.0.0.1:1/db?table=reviews", "--attack", "random", "--rate", 0.1, "--out", tmp_path / "p.csv")
    assert (res.exit_code, res.stderr) == (2, (
        "error: poison takes a local CSV or Parquet file, not the table postgresql://alice:***@127.0.0.1:1/db?table=reviews (fix: to flip "
        "labels in the table as an attacker with a login would: labelguard tamper 'postgresql://alice:***@127.0.0.1:1/db?table=reviews' "
        "--attack NAME --rate R --truth-out FILE)\n"))
    assert not (tmp_path / "p.csv").exists()


# ---------------------------------------------------------------- finding 15: simulate's range errors before its imports


def test_simulates_range_errors_come_before_the_attack_and_drift_imports():
    """`simulate --rate 2` and `--days 3 --poison-day 5` took 6.5 s at load 10 (every other command's flag error 3.5 s):
    the attack registry and the drift statistics were imported (about 3 s) before the ranges were checked."""
    import subprocess
    import sys

    code = ("import sys\nfrom labelguard.errors import BadInput\nfrom labelguard.tasks.simulate import check_args\n"
            "for args in ((3, 5, 'targeted', 0.1, 'source', 800), (14, 10, 'targeted', 2.0, 'source', 800)):\n"
            "    try:\n        check_args(*args)\n    except BadInput as exc:\n        print(exc.one_line())\n"
            "print(sorted(m for m in ('labelguard.tasks.attacks', 'labelguard.tasks.drift') if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.splitlines()
    assert out == ["--poison-day must be in 2..3 (day 1 signs the reference), got 5 (fix: pass e.g. --poison-day 3, or 0 for none)",
                   "rate must be within [0, 1], got 2.0 (fix: pass e.g. --rate 0.2)", "[]"]


# ---------------------------------------------------------------- finding 4: virtual-host addressing names the host it tried


def test_an_unreachable_virtual_host_name_is_named_with_path_style_as_the_fix(tmp_path, keys, monkeypatch):
    """With `addressing_style = virtual`, `lake.localhost` did not resolve while the endpoint answered: "cannot reach the S3
    endpoint http://localhost:PORT (fix: start it, …)", for an endpoint that was up."""
    (tmp_path / "aws.cfg").write_text("[default]\ns3 =\n  addressing_style = virtual\n")
    for name, value in {"AWS_CONFIG_FILE": str(tmp_path / "aws.cfg"), "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "y",
                        "AWS_ENDPOINT_URL": "http://localhost:1", "LABELGUARD_S3_MAX_ATTEMPTS": "1", "LABELGUARD_VERIFY_KEY": str(keys[1])}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL_S3", raising=False)
    res = invoke("verify", "s3://lake/reviews", "--guards", "manifest", "--ledger", "none")
    assert (res.exit_code, res.stderr) == (2, "error: cannot reach lake.localhost:1, the bucket's virtual-host name at the S3 endpoint "
                                              "http://localhost:1 (fix: address the bucket path-style (addressing_style = path under s3 in the "
                                              "AWS config file), or make the bucket's host name resolve)\n")
