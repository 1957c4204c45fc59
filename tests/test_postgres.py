"""The PostgreSQL vector against a real server: seed, snapshot, tamper, verify, ingest, and the bad input around them."""

import json

import pandas as pd
import psycopg
import pytest
from typer.testing import CliRunner

from labelguard.cli import app
from labelguard.errors import BadInput
from labelguard.tasks import postgres as pg
from labelguard.tasks.manifest import load_signing_key, load_verify_key
from labelguard.tasks.synthetic import make_reviews

runner = CliRunner()
REFUSED = "postgresql://alice:s3cr3t-pw@127.0.0.1:1/db?table=reviews"
CONNECT_FIX = "(fix: check that the server runs and that user, password (URL, PGPASSWORD or ~/.pgpass) and database are right)"


def invoke(*args, env=None):
    return runner.invoke(app, [str(a) for a in args], env=env)


def _sql(url: str, statement: str, params=None) -> None:
    with psycopg.connect(url.split("?")[0]) as conn:
        conn.execute(statement, params)


# ---------------------------------------------------------------- no server needed


@pytest.mark.parametrize(
    "url, message",
    [
        ("mysql://alice:s3cr3t-pw@h/db?table=r", "not a PostgreSQL URL: mysql://alice:***@h/db?table=r"),
        ("postgresql://alice:s3cr3t-pw@h:port/db?table=r", "cannot parse postgresql://alice:***@h:port/db?table=r: Port could not be cast to integer value as 'port'"),
        ("postgresql://alice:s3cr3t-pw@h/db", "no table named in postgresql://alice:***@h/db"),
        ("postgresql://alice:s3cr3t-pw@h/db?table=r;drop", "invalid table name 'r;drop' in postgresql://alice:***@h/db?table=r;drop"),
        ("postgresql://alice@h/db?table=r&password=s3cr3t-pw&nope=1", 'cannot parse postgresql://alice@h/db?table=r&password=***&nope=1: invalid URI query parameter: "nope"'),
    ],
)
def test_bad_urls_are_named_without_the_password(url, message):
    with pytest.raises(BadInput) as info:
        pg.parse_table_url(url)
    assert info.value.problem == message
    assert "s3cr3t-pw" not in info.value.one_line()


def test_parse_keeps_libpq_parameters_and_hides_the_password():
    target = pg.parse_table_url("postgresql://alice:s3cr%40t@db.example:6543/shop?sslmode=require&table=sales.reviews")
    assert target.table == "sales.reviews"
    assert target.shown == "postgresql://alice:***@db.example:6543/shop?sslmode=require&table=sales.reviews"
    assert target.conninfo == "postgresql://alice:s3cr%40t@db.example:6543/shop?sslmode=require"
    assert target.secret == "s3cr@t" and "s3cr" not in repr(target)


@pytest.mark.parametrize("command", ["seed-db", "snapshot", "verify", "ingest", "tamper"])
def test_refused_connection_exits_2_in_one_line(command, keys, tmp_path):
    args = {
        "seed-db": ("seed-db", REFUSED),
        "snapshot": ("snapshot", REFUSED, "--signing-key", keys[0]),
        "verify": ("verify", REFUSED, "--verify-key", keys[1]),
        "ingest": ("ingest", "--source", REFUSED, "--dest", tmp_path / "ds", "--signing-key", keys[0]),
        "tamper": ("tamper", REFUSED, "--attack", "random", "--rate", 0.1, "--truth-out", tmp_path / "truth.json"),
    }[command]
    res = invoke(*args)
    assert res.exit_code == 2
    assert res.stderr == (
        'error: cannot connect to postgresql://alice:***@127.0.0.1:1/db?table=reviews: connection to server at "127.0.0.1", '
        f"port 1 failed: Connection refused {CONNECT_FIX}\n"
    )
    assert res.stdout == "" and list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- against the throwaway cluster


def test_seed_then_read_round_trips_every_value(pg_url):
    target = pg.parse_table_url(pg_url)
    assert pg.seed_db(target, 300, seed=5) == 300
    frame, spec = pg.read_frame(target)
    expected = make_reviews(300, seed=5)
    assert spec.feature_cols == ("polarity", "intensity") and spec.classes == (0, 1) and spec.timestamp_col == "created_at"
    pd.testing.assert_frame_equal(frame, expected, check_dtype=False)  # floats exact: COPY prints shortest round-trip text
    with pytest.raises(BadInput, match=r"^table 'reviews' already exists in postgresql://labelguard:\*\*\*@"):
        pg.seed_db(target, 10)


def test_every_kind_of_change_is_named_exactly(pg_url, keys, tmp_path):
    target = pg.parse_table_url(pg_url)
    pg.seed_db(target, 500, seed=1)
    fp = pg.take_fingerprint(target, load_signing_key(keys[0]), out=tmp_path / "fp.json")
    assert fp.payload["rows"] == 500 and fp.payload["columns"]["classes"] == [0, 1]
    verify_key = load_verify_key(keys[1])
    diff, _ = pg.verify_table(target, verify_key, fingerprint=tmp_path / "fp.json")
    assert diff.ok
    _sql(pg_url, "UPDATE reviews SET label = 1 - label WHERE review_id IN ('rev-0000007', 'rev-0000300')")
    _sql(pg_url, "UPDATE reviews SET polarity = polarity + 1e-9 WHERE review_id = 'rev-0000042'")
    _sql(pg_url, "UPDATE reviews SET created_at = created_at + interval '1 second' WHERE review_id = 'rev-0000043'")
    _sql(pg_url, "DELETE FROM reviews WHERE review_id = 'rev-0000499'")
    _sql(pg_url, "INSERT INTO reviews SELECT 'rev-9999999', label, polarity, intensity, created_at FROM reviews WHERE review_id = 'rev-0000001'")
    diff, _ = pg.verify_table(target, verify_key, fingerprint=tmp_path / "fp.json")
    assert diff.label_changed == ["rev-0000007", "rev-0000300"]
    assert diff.other_changed == ["rev-0000042", "rev-0000043"]
    assert diff.inserted == ["rev-9999999"] and diff.deleted == ["rev-0000499"]


def test_a_snapshot_read_ignores_concurrent_writes(pg_url):
    target = pg.parse_table_url(pg_url)
    pg.seed_db(target, 200, seed=2)
    with pg.table_session(target) as session:
        before = session.count()
        _sql(pg_url, "DELETE FROM reviews WHERE label = 1")
        _sql(pg_url, "UPDATE reviews SET label = 1")
        table = session.read_arrow(["review_id", "label"], order_by="review_id")
    assert before == table.num_rows == 200
    assert table.column("label").to_pylist() == make_reviews(200, seed=2)["label"].tolist()


def test_altered_fingerprint_is_untrusted(pg_url, keys, other_keys, tmp_path):
    url = pg_url
    pg.seed_db(pg.parse_table_url(url), 100)
    assert invoke("snapshot", url, "--out", tmp_path / "fp.json", "--signing-key", keys[0]).exit_code == 0
    doc = json.loads((tmp_path / "fp.json").read_text())
    doc["payload"]["rows"] = 99
    (tmp_path / "fp.json").write_text(json.dumps(doc))
    res = invoke("verify", url, "--fingerprint", tmp_path / "fp.json", "--verify-key", keys[1])
    assert res.exit_code == 1
    assert res.stderr == (
        f"guard fired: table_fingerprint fired, cannot be trusted (signature of {tmp_path / 'fp.json'} does not verify: it was edited) "
        "(fix: take a fresh snapshot (labelguard snapshot URL) after checking the table)\n"
    )
    res = invoke("snapshot", url, "--out", tmp_path / "fp2.json", "--signing-key", keys[0])
    res = invoke("verify", url, "--fingerprint", tmp_path / "fp2.json", "--verify-key", other_keys[1])
    assert res.exit_code == 1 and "not the trusted key" in res.stderr


def test_bad_input_against_the_server(pg_cluster, pg_url, keys, tmp_path):
    wrong = pg_url.replace(pg_cluster.password, "not-the-password")
    res = invoke("seed-db", wrong)
    assert res.exit_code == 2
    assert res.stderr == (
        f'error: cannot connect to postgresql://labelguard:***@127.0.0.1:{pg_cluster.port}/{pg_url.split("/")[-1].split("?")[0]}?table=reviews: '
        f'connection to server at "127.0.0.1", port {pg_cluster.port} failed: FATAL: password authentication failed for user "labelguard" {CONNECT_FIX}\n'
    )
    assert "not-the-password" not in res.output
    missing = pg_url.replace("table=reviews", "table=nope")
    res = invoke("snapshot", missing, "--signing-key", keys[0], "--out", tmp_path / "fp.json")
    assert res.exit_code == 2 and res.stderr.startswith("error: no table 'nope' in postgresql://labelguard:***@")
    pg.seed_db(pg.parse_table_url(pg_url), 50)
    res = invoke("snapshot", pg_url, "--label-col", "stars", "--signing-key", keys[0], "--out", tmp_path / "fp.json")
    assert res.exit_code == 2
    assert res.stderr == "error: column 'stars' not in table reviews (have: 'review_id', 'label', 'polarity', 'intensity', 'created_at') (fix: pass --label-col naming an existing column)\n"
    res = invoke("verify", pg_url, "--fingerprint", tmp_path / "none.json", "--verify-key", keys[1])
    assert res.exit_code == 2
    assert res.stderr == f"error: no table fingerprint at {tmp_path / 'none.json'} (fix: take one first: labelguard snapshot URL)\n"
    assert not (tmp_path / "fp.json").exists()


def test_credentials_from_pgpassword_as_libpq_reads_them(pg_cluster, pg_url, monkeypatch):
    monkeypatch.setenv("PGPASSWORD", pg_cluster.password)
    bare = pg_url.replace(f":{pg_cluster.password}@", "@")
    res = invoke("seed-db", bare, "--rows", 20)
    assert res.exit_code == 0, res.output
    assert res.stdout.startswith("created reviews with 20 synthetic reviews in postgresql://labelguard@127.0.0.1:")


# ---------------------------------------------------------------- the done-when scenario


@pytest.mark.flow
def test_seed_snapshot_tamper_verify_ingest(pg_cluster, pg_url, keys, tmp_path, monkeypatch, prefect_harness):
    """Seed, snapshot, tamper 2 % targeted: verify exits 1 naming exactly the updated ids; ingest
    refuses; after an approved relabelling it accepts and records the approval."""
    monkeypatch.setenv("LABELGUARD_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("LABELGUARD_SIGNING_KEY", str(keys[0]))
    monkeypatch.setenv("LABELGUARD_VERIFY_KEY", str(keys[1]))
    url = pg_url
    assert invoke("seed-db", url, "--rows", 1500, "--seed", 3).exit_code == 0
    snap = invoke("snapshot", url)
    assert snap.exit_code == 0, snap.output
    assert len(list((tmp_path / "state" / "tables").glob("*.json"))) == 1  # found again by default below
    assert invoke("verify", url).exit_code == 0

    res = invoke("tamper", url, "--attack", "targeted", "--rate", 0.02, "--truth-out", tmp_path / "truth.json")
    assert res.exit_code == 0, res.output
    truth = json.loads((tmp_path / "truth.json").read_text())
    flipped = sorted(f["id"] for f in truth["flipped"])
    assert len(flipped) == 30 and {(f["old"], f["new"]) for f in truth["flipped"]} == {(1, 0)}

    res = invoke("verify", url, "--json", tmp_path / "v.json")
    assert res.exit_code == 1
    assert res.stderr == f"guard fired: table_fingerprint: 30 label(s) changed, 0 row(s) otherwise edited, 0 inserted, 0 deleted; changed ids: {', '.join(flipped)}\n"
    report = json.loads((tmp_path / "v.json").read_text())
    assert report["label_changed"] == flipped and report["changed_ids"] == flipped and not report["ok"]

    refused = invoke("ingest", "--source", url, "--dest", tmp_path / "refused")
    assert refused.exit_code == 1
    assert refused.stderr.startswith(
        "guard fired: table_fingerprint fired, ingest refused (30 label(s) changed, 0 row(s) otherwise edited, 0 inserted, 0 deleted since the snapshot of "
    )
    assert f"not approved: {', '.join(flipped[:10])} …)" in refused.stderr
    assert not (tmp_path / "refused").exists()

    (tmp_path / "approved.txt").write_text("\n".join(flipped[:-1]) + "\n")  # one relabelling not approved: still refused
    partial = invoke("ingest", "--source", url, "--dest", tmp_path / "partial", "--approve-relabel", tmp_path / "approved.txt")
    assert partial.exit_code == 1 and f"not approved: {flipped[-1]})" in partial.stderr
    assert not (tmp_path / "partial").exists()

    ok = invoke("ingest", "--source", url, "--dest", tmp_path / "ds", "--approve-relabel", tmp_path / "truth.json")
    assert ok.exit_code == 0, ok.output
    assert ok.stdout.startswith("read 1500 rows of reviews in one snapshot at ")
    payload = json.loads((tmp_path / "ds" / "manifest.json").read_text())["payload"]
    source = payload["source"]
    assert source["kind"] == "postgresql" and source["table"] == "reviews" and source["rows"] == 1500 and source["snapshot_time"]
    assert [r["id"] for r in source["approved_relabel"]["relabelled"]] == flipped
    assert source["fingerprint"]["taken_at"] and payload["rows"] == 1200
    holdout = json.loads((tmp_path / "ds" / "holdout" / "manifest.json").read_text())["payload"]
    assert holdout["rows"] == 300
    # the password is nowhere: not in the store, the truth file, the fingerprint, nor Prefect's record of the run
    for path in [*tmp_path.rglob("*.json"), *tmp_path.rglob("*.txt")]:
        assert pg_cluster.password not in path.read_text(errors="replace"), path
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs()
    stored = [json.dumps(r.parameters, default=str) for r in runs if r.name and "source" in r.parameters]
    assert stored and all(pg_cluster.password not in s for s in stored)


@pytest.mark.flow
def test_ingest_refuses_labels_outside_the_class_set(pg_url, keys, tmp_path, monkeypatch, prefect_harness):
    monkeypatch.setenv("LABELGUARD_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("LABELGUARD_SIGNING_KEY", str(keys[0]))
    pg.seed_db(pg.parse_table_url(pg_url), 200, seed=4)
    assert invoke("snapshot", pg_url).exit_code == 0
    _sql(pg_url, "UPDATE reviews SET label = 7 WHERE review_id = 'rev-0000010'")
    (tmp_path / "ok.json").write_text('["rev-0000010"]')
    res = invoke("ingest", "--source", pg_url, "--dest", tmp_path / "ds", "--approve-relabel", tmp_path / "ok.json")
    assert res.exit_code == 2
    assert res.stderr == (
        "error: table reviews: schema failure in column 'label' check 'isin([0, 1])' value 7 at id 'rev-0000010' "
        "(fix: use labels from the class set [0, 1])\n"
    )
    assert not (tmp_path / "ds").exists()



def test_streamed_ingest_writes_what_the_in_memory_path_writes(pg_url, keys, tmp_path):
    """Many small batches: same split, same rows, same manifest digests and sidecar as write_dataset,
    and the result verifies (and localizes an at-rest edit) like any dataset."""
    from labelguard.tasks import dataset, sources
    from labelguard.tasks.storage import open_store
    from labelguard.tasks.table_ingest import ingest_table
    from labelguard.tasks.tamper import tamper
    from labelguard.tasks.verify import verify_dataset

    target = pg.parse_table_url(pg_url)
    pg.seed_db(target, 3000, seed=9)
    key = load_signing_key(keys[0])
    out = ingest_table(target, open_store(str(tmp_path / "streamed")), key, seed=9, block_bytes=4096)
    frame, spec = pg.read_frame(target)
    train, holdout = sources.split_holdout(frame, spec, 0.2, 9)
    ref = {"dataset": dataset.write_dataset(open_store(str(tmp_path / "ref")), train, spec, key, source={}),
           "holdout": dataset.write_dataset(open_store(str(tmp_path / "ref" / "holdout")), holdout, spec, key, source={})}
    for part, sub in (("dataset", ""), ("holdout", "holdout")):
        got, want = out[part].payload, ref[part].payload
        assert (got["rows"], got["label_histogram"], got["labels_digest"], got["columns"]) == (want["rows"], want["label_histogram"], want["labels_digest"], want["columns"])
        pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "streamed" / sub / "data.parquet"), pd.read_parquet(tmp_path / "ref" / sub / "data.parquet"), check_dtype=False)
        pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "streamed" / sub / "rows.parquet"), pd.read_parquet(tmp_path / "ref" / sub / "rows.parquet"))
    assert out["source"]["rows"] == 3000 and out["source"]["fingerprint"] is None
    verify_key = load_verify_key(keys[1])
    assert verify_dataset(str(tmp_path / "streamed"), verify_key, names=["manifest"]).ok
    flipped = tamper(str(tmp_path / "streamed"), attack="random", rate=0.01, seed=1, truth_out=tmp_path / "t.json")
    report = verify_dataset(str(tmp_path / "streamed"), verify_key, names=["manifest"])
    assert not report.ok, report
    assert report.guards[0].detail.endswith(f"{len(flipped.flipped)} label(s) changed, 0 row(s) otherwise edited, 0 added, 0 missing")
    assert sorted(report.guards[0].suspect_ids) == sorted(flipped.flipped_ids), report.guards[0]


def test_duplicate_ids_across_batches_are_refused_and_nothing_is_written(pg_url, keys, tmp_path):
    from labelguard.errors import SchemaViolation
    from labelguard.tasks.storage import open_store
    from labelguard.tasks.table_ingest import ingest_table

    _sql(pg_url, "CREATE TABLE reviews (review_id text, label int, polarity float8)")
    _sql(pg_url, "INSERT INTO reviews SELECT 'r' || lpad(i::text, 5, '0'), i % 2, i FROM generate_series(1, 2000) i")
    _sql(pg_url, "INSERT INTO reviews VALUES ('r01500', 1, 0.5)")
    with pytest.raises(SchemaViolation) as info:
        ingest_table(pg.parse_table_url(pg_url), open_store(str(tmp_path / "ds")), load_signing_key(keys[0]), block_bytes=1024)
    assert info.value.problem == "table reviews: ids in column 'review_id' are not unique (e.g. r01500)"
    assert not (tmp_path / "ds").exists()


def test_streamed_ingest_to_s3_verifies(pg_url, keys, s3_uri):
    from labelguard.tasks.storage import open_store
    from labelguard.tasks.table_ingest import ingest_table
    from labelguard.tasks.verify import verify_dataset

    target = pg.parse_table_url(pg_url)
    pg.seed_db(target, 1000, seed=6)
    out = ingest_table(target, open_store(s3_uri), load_signing_key(keys[0]))
    assert (out["dataset"].payload["rows"], out["holdout"].payload["rows"]) == (800, 200)
    assert out["dataset"].payload["objects"][0]["version_id"]  # versioned bucket: the manifest pins the version
    for uri in (s3_uri, f"{s3_uri}/holdout"):
        assert verify_dataset(uri, load_verify_key(keys[1]), names=["manifest"]).ok


def test_ingest_guard_fires_inside_the_snapshot_before_schema_complaints(pg_url, keys, tmp_path):
    """Without the CLI's early check: an unapproved change is refused by the streaming ingest itself,
    and a tampered label outside the class set reads as tampering (exit 1), not as bad input."""
    from labelguard.errors import GuardFired
    from labelguard.tasks.storage import open_store
    from labelguard.tasks.table_ingest import ingest_table

    target = pg.parse_table_url(pg_url)
    pg.seed_db(target, 400, seed=8)
    key = load_signing_key(keys[0])
    pg.take_fingerprint(target, key, out=tmp_path / "fp.json")
    _sql(pg_url, "UPDATE reviews SET label = 7 WHERE review_id = 'rev-0000003'")
    _sql(pg_url, "UPDATE reviews SET intensity = 0 WHERE review_id = 'rev-0000004'")
    with pytest.raises(GuardFired) as info:
        ingest_table(target, open_store(str(tmp_path / "ds")), key, fingerprint=tmp_path / "fp.json", block_bytes=2048)
    assert info.value.failed == ["table_fingerprint"]
    assert "1 label(s) changed, 1 row(s) otherwise edited, 0 inserted, 0 deleted" in info.value.problem
    assert info.value.problem.endswith("not approved: rev-0000003, rev-0000004)")
    assert not (tmp_path / "ds").exists()


def _resign(path, key_path, **changes) -> None:
    """Rewrite a fingerprint's payload and sign it again with the trusted key (as an older or odd labelguard would have)."""
    from labelguard.tasks.manifest import SignedManifest, sign_manifest

    payload = {**SignedManifest.from_bytes(path.read_bytes()).payload, **changes}
    path.write_bytes(sign_manifest(payload, load_signing_key(key_path)).to_bytes())


def test_row_tags_are_blake2b_of_each_copy_line_and_the_digest_covers_the_stream(pg_url, keys, tmp_path):
    """The fingerprint's tags and digest, recomputed independently from a plain COPY of every column."""
    import hashlib

    _sql(pg_url, "CREATE TABLE reviews (review_id bigint PRIMARY KEY, label text, polarity float8, note text, created_at timestamptz)")
    _sql(pg_url, "INSERT INTO reviews VALUES (10, 'neg', 0.1, 'a \"quoted\", two-line\nnote', '2024-05-01 12:00:00+02'), "
                 "(9, 'pos', -2.5e-7, NULL, '2024-05-02 00:00:00+00'), (100, 'pos', 3, '', '2024-05-03 00:00:00+00')")
    fp = pg.take_fingerprint(pg.parse_table_url(pg_url), load_signing_key(keys[0]), out=tmp_path / "fp.json", timestamp_col=None)
    with psycopg.connect(pg_url.split("?")[0]) as conn:
        conn.execute("SET extra_float_digits = 1; SET TimeZone = 'UTC'")
        with conn.cursor().copy("COPY (SELECT review_id, label, polarity, note, created_at AT TIME ZONE 'UTC' FROM reviews ORDER BY review_id::text COLLATE \"C\") TO STDOUT (FORMAT csv)") as copy:
            lines = [bytes(row) for row in copy]
    assert lines == [b'10,neg,0.1,"a ""quoted"", two-line\nnote",2024-05-01 10:00:00\n', b"100,pos,3,\"\",2024-05-03 00:00:00\n", b"9,pos,-2.5e-07,,2024-05-02 00:00:00\n"]
    tags = fp.tags()
    assert tags.column("id").to_pylist() == ["10", "100", "9"] and tags.column("label").to_pylist() == ["neg", "pos", "pos"]
    assert tags.column("tag").to_pylist() == [hashlib.blake2b(line, digest_size=16).digest() for line in lines]
    assert fp.payload["stream_sha256"] == hashlib.sha256(b"".join(lines)).hexdigest()
    assert fp.payload["format"] == "labelguard-table-fingerprint/2"
    _sql(pg_url, "UPDATE reviews SET note = 'b' WHERE review_id = 100")  # a column no guard reads is still covered (and integer ids come back as ints)
    diff, _ = pg.verify_table(pg.parse_table_url(pg_url), load_verify_key(keys[1]), fingerprint=tmp_path / "fp.json")
    assert (diff.label_changed, diff.other_changed, diff.inserted, diff.deleted) == ([], [100], [], [])


def test_an_id_inserted_twice_after_the_snapshot_is_named(pg_url, keys, tmp_path):
    _sql(pg_url, "CREATE TABLE reviews (review_id text, label int, polarity float8)")
    _sql(pg_url, "INSERT INTO reviews SELECT 'r' || i, i % 2, i FROM generate_series(1, 50) i")
    pg.take_fingerprint(pg.parse_table_url(pg_url), load_signing_key(keys[0]), out=tmp_path / "fp.json", timestamp_col=None)
    _sql(pg_url, "INSERT INTO reviews VALUES ('r7', 0, 7), ('r8', 0, 8)")  # same ids: one with another label, one with the same row text
    res = invoke("verify", pg_url, "--fingerprint", tmp_path / "fp.json", "--verify-key", keys[1])
    assert res.exit_code == 1
    assert res.stderr == "guard fired: table_fingerprint: 0 label(s) changed, 0 row(s) otherwise edited, 2 inserted, 0 deleted; changed ids: r7, r8\n"


def test_an_older_fingerprint_format_is_refused_and_an_unnamed_change_is_untrusted(pg_url, keys, tmp_path):
    pg.seed_db(pg.parse_table_url(pg_url), 60, seed=2)
    fp = tmp_path / "fp.json"
    assert invoke("snapshot", pg_url, "--out", fp, "--signing-key", keys[0]).exit_code == 0
    original = fp.read_bytes()
    _resign(fp, keys[0], format="labelguard-table-fingerprint/1")
    fix = "(fix: check the table with the labelguard that took the snapshot, or take a fresh one (labelguard snapshot URL))"
    res = invoke("verify", pg_url, "--fingerprint", fp, "--verify-key", keys[1])
    assert res.exit_code == 2
    assert res.stderr == f"error: {fp} is a table fingerprint of format labelguard-table-fingerprint/1; this labelguard reads labelguard-table-fingerprint/2 {fix}\n"
    res = invoke("ingest", "--source", pg_url, "--dest", tmp_path / "ds", "--fingerprint", fp, "--signing-key", keys[0])
    assert res.exit_code == 2 and res.stderr.startswith(f"error: {fp} is a table fingerprint of format labelguard-table-fingerprint/1;")
    assert not (tmp_path / "ds").exists()
    fp.write_bytes(original)
    _resign(fp, keys[0], stream_sha256="0" * 64)  # the digest disagrees, yet every row's tag matches
    res = invoke("verify", pg_url, "--fingerprint", fp, "--verify-key", keys[1])
    assert res.exit_code == 1
    assert res.stderr.startswith("guard fired: table_fingerprint fired, cannot be trusted (the table's content differs from the snapshot of ")
    assert res.stderr.endswith(" but no row can be named) (fix: inspect the table, then take a fresh snapshot (labelguard snapshot URL))\n")


@pytest.mark.parametrize("command", ["seed-db", "snapshot", "verify", "ingest", "tamper"])
def test_a_url_that_does_not_parse_exits_2_naming_it_without_the_password(command, keys, tmp_path):
    bad = "postgresql://alice:s3cr3t-pw@db.example:54x2/shop?table=reviews"
    args = {
        "seed-db": ("seed-db", bad),
        "snapshot": ("snapshot", bad, "--signing-key", keys[0], "--out", tmp_path / "fp.json"),
        "verify": ("verify", bad, "--verify-key", keys[1]),
        "ingest": ("ingest", "--source", bad, "--dest", tmp_path / "ds", "--signing-key", keys[0]),
        "tamper": ("tamper", bad, "--attack", "random", "--rate", 0.1, "--truth-out", tmp_path / "truth.json"),
    }[command]
    res = invoke(*args)
    assert res.exit_code == 2
    assert res.stderr == (
        "error: cannot parse postgresql://alice:***@db.example:54x2/shop?table=reviews: Port could not be cast to integer value as '54x2' "
        "(fix: write postgresql://USER@HOST:PORT/DB?table=reviews (password from PGPASSWORD or ~/.pgpass))\n"
    )
    assert res.stdout == "" and list(tmp_path.iterdir()) == []


def test_ingest_and_verify_name_a_missing_table_or_column_and_write_nothing(pg_cluster, pg_url, keys, tmp_path):
    db = pg_url.split("/")[-1].split("?")[0]
    shown = f"postgresql://labelguard:***@127.0.0.1:{pg_cluster.port}/{db}"
    missing = pg_url.replace("table=reviews", "table=nope")
    fix = "(fix: create it (labelguard seed-db URL) or name an existing table with ?table=)"
    res = invoke("ingest", "--source", missing, "--dest", tmp_path / "ds", "--signing-key", keys[0])
    assert (res.exit_code, res.stderr) == (2, f"error: no table 'nope' in {shown}?table=nope {fix}\n")
    res = invoke("verify", missing, "--verify-key", keys[1])
    assert res.exit_code == 2 and res.stderr == f"error: no table 'nope' in {shown}?table=nope {fix}\n"
    pg.seed_db(pg.parse_table_url(pg_url), 30)
    res = invoke("ingest", "--source", pg_url, "--dest", tmp_path / "ds", "--signing-key", keys[0], "--id-col", "rid")
    assert res.exit_code == 2
    assert res.stderr == "error: column 'rid' not in table reviews (have: 'review_id', 'label', 'polarity', 'intensity', 'created_at') (fix: 'review_id' is the table's primary key: pass --id-col review_id)\n"
    assert not (tmp_path / "ds").exists() and res.stdout == ""
