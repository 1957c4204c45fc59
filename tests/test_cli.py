"""The command line as users script against it: exit codes 0 / 1 / 2 and one-line errors."""

import json

import pytest
from typer.testing import CliRunner

from labelguard.cli import app
from tests.test_cli_contracts import fired_from_stderr

runner = CliRunner()


def invoke(*args, env=None):
    return runner.invoke(app, [str(a) for a in args], env=env)


def test_every_subcommand_has_help():
    top = invoke("--help")
    assert top.exit_code == 0
    for cmd in ("keygen", "ingest", "pipeline", "demo", "serve-s3", "tamper", "poison", "verify", "baseline", "list", "watch", "seed-db", "snapshot"):
        res = invoke(cmd, "--help")
        assert res.exit_code == 0, cmd
        assert "Usage" in res.output


def test_keygen_then_refuses_to_overwrite(tmp_path):
    res = invoke("keygen", "--out", tmp_path / "k")
    assert res.exit_code == 0 and (tmp_path / "k" / "signing.key").exists()
    res = invoke("keygen", "--out", tmp_path / "k")
    assert res.exit_code == 2 and "already exists" in res.output


@pytest.mark.parametrize(
    "args, message",
    [
        (("--transform", "nope"), "unknown transform 'nope'"),
        (("--rate", "1.5"), "rate must be within [0, 1]"),
        (("--model", "svm"), "unknown model"),
    ],
)
def test_pipeline_bad_input_exits_2_before_any_work(args, message, keys, tmp_path):
    res = invoke("pipeline", tmp_path / "nothing", *args, "--verify-key", keys[1])
    assert res.exit_code == 2
    assert message in res.output
    assert len(res.output.strip().splitlines()) == 1
    assert not (tmp_path / "nothing").exists()


def test_ingest_without_signing_key(tmp_path, monkeypatch):
    monkeypatch.delenv("LABELGUARD_SIGNING_KEY", raising=False)
    res = invoke("ingest", "--dest", tmp_path / "ds")
    assert res.exit_code == 2 and "no signing key configured" in res.output
    assert not (tmp_path / "ds").exists()


def test_ingest_bad_csv_writes_nothing(tmp_path, keys, prefect_harness):
    csv = tmp_path / "reviews.csv"
    csv.write_text("review_id,label,score\na,1,0.5\na,0,inf\n")
    res = invoke("ingest", "--source", csv, "--dest", tmp_path / "ds", "--signing-key", keys[0])
    assert res.exit_code == 2, res.output
    assert res.output == ("error: 1 id repeats in 'review_id' (2 rows): 'a' at rows 0 and 1 (and 1 other schema failure(s)) "
                          "(fix: make the ids in 'review_id' unique (or pass --id-col naming a unique column))\n")
    assert not (tmp_path / "ds").exists()


@pytest.mark.flow
def test_ingest_pipeline_round_trip_local(tmp_path, keys, prefect_harness):
    ds = tmp_path / "ds"
    res = invoke("ingest", "--dest", ds, "--rows", 1500, "--signing-key", keys[0])
    assert res.exit_code == 0, res.output
    manifest = json.loads((ds / "manifest.json").read_text())
    assert manifest["payload"]["rows"] == 1200
    assert json.loads((ds / "holdout" / "manifest.json").read_text())["payload"]["rows"] == 300
    # an existing dataset at the destination: refused, nothing touched
    before = (ds / "manifest.json").read_bytes()
    res = invoke("ingest", "--dest", ds, "--signing-key", keys[0])
    assert res.exit_code == 2 and "already holds a dataset" in res.output
    assert (ds / "manifest.json").read_bytes() == before

    env = {"LABELGUARD_VERIFY_KEY": str(keys[1])}
    clean = invoke("pipeline", ds, env=env)
    assert clean.exit_code == 0, clean.output
    fired = invoke("pipeline", ds, "--transform", "targeted", "--rate", 0.2, env=env)
    assert fired.exit_code == 1
    names = fired_from_stderr(fired.stderr)  # parsed from the one stderr line, not a substring of the table
    assert {"label_contract", "class_balance"} <= names and "manifest" not in names
    observed = invoke("pipeline", ds, "--transform", "random", "--rate", 0.1, "--observe", env=env)
    assert observed.exit_code == 1 and observed.stderr.strip().endswith("(observe mode: trained anyway)")
    assert "label_contract" in fired_from_stderr(observed.stderr)


@pytest.mark.flow
def test_pipeline_with_wrong_key_fires_manifest(tmp_path, keys, other_keys, prefect_harness):
    ds = tmp_path / "ds"
    assert invoke("ingest", "--dest", ds, "--rows", 800, "--signing-key", keys[0]).exit_code == 0
    res = invoke("pipeline", ds, "--verify-key", other_keys[1])
    assert res.exit_code == 1
    # the trusted holdout cannot be trusted under an unknown key
    assert res.stderr.strip().startswith("guard fired: holdout fired, cannot be trusted (trusted holdout failed verification: unknown-key: ")


def test_watch_refuses_without_a_prefect_server(tmp_path, keys, monkeypatch):
    from labelguard.tasks.dataset import write_dataset
    from labelguard.tasks.manifest import ColumnSpec, load_signing_key
    from labelguard.tasks.sources import make_reviews
    from labelguard.tasks.storage import LocalStore

    ds = tmp_path / "ds"
    write_dataset(LocalStore(ds), make_reviews(200, seed=1), ColumnSpec(), load_signing_key(keys[0]), source={"kind": "synthetic"})
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    res = invoke("watch", ds, "--cron", "0 * * * *", "--verify-key", keys[1])
    assert res.exit_code == 2 and res.stderr.strip() == (
        "error: scheduled runs need a Prefect server (fix: start one with `labelguard server` (or `prefect server start` and set PREFECT_API_URL))"
    )
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:9/api")
    res = invoke("watch", ds, "--cron", "not a cron", "--verify-key", keys[1])
    assert res.exit_code == 2 and "invalid cron" in res.output
    # a reference or holdout that is not there would fail every scheduled run: refused before anything is served
    for flag in ("--reference", "--holdout"):
        res = invoke("watch", ds, flag, tmp_path / "nope", "--cron", "0 * * * *", "--verify-key", keys[1])
        assert res.exit_code == 2 and res.stderr.strip() == f"error: no dataset at {tmp_path / 'nope'} (fix: check the URI (labelguard ingest writes one there))"
    res = invoke("watch", ds, "--cron", "0 * * * *", "--verify-key", keys[1])
    assert res.exit_code == 2 and "the Prefect API at http://127.0.0.1:9/api does not answer" in res.output
    # verify's --tolerate / --share-gap / --ledger are watch's too (break-it r5): bad values refused before anything is served
    res = invoke("watch", ds, "--cron", "0 * * * *", "--tolerate", "0", "--verify-key", keys[1])
    assert res.exit_code == 2 and res.stderr == "error: --tolerate must be a rate in (0, 1], got 0 (fix: pass e.g. --tolerate 0.05 (5 % of a class's rows))\n"
    res = invoke("watch", ds, "--cron", "0 * * * *", "--share-gap", "1.5", "--verify-key", keys[1])
    assert res.exit_code == 2 and res.stderr.startswith("error: --share-gap must be a share in (0, 1], got 1.5 (fix: ")
    res = invoke("watch", ds, "--cron", "0 * * * *", "--ledger", tmp_path / "typo.jsonl", "--verify-key", keys[1])
    assert res.exit_code == 2 and res.stderr == f"error: --ledger {tmp_path / 'typo.jsonl'} does not exist (fix: pass the ledger file ingest wrote (or --ledger none to check without one))\n"


@pytest.mark.flow
def test_demo_command_is_quiet_and_complete(tmp_path):
    """The real console script, as `make demo` runs it: embedded moto server, ephemeral Prefect, report."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PREFECT_"))}
    exe = os.path.join(os.path.dirname(sys.executable), "labelguard")
    proc = subprocess.run([exe, "demo", "--rows", "2000", "--out", str(tmp_path / "r")], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    output = proc.stdout + proc.stderr
    for noise in ("Traceback", "HTTP/1.1", "| INFO", "| WARNING", "database is locked"):
        assert noise not in output
    assert "embedded S3 (moto server) at http://127.0.0.1:" in proc.stdout
    assert "understates customer satisfaction" in proc.stdout
    assert {p.name for p in (tmp_path / "r").iterdir()} == {"report.md", "report.json", "boundaries.png"}



def test_pipeline_refuses_a_missing_reference_or_holdout_before_prefect(tmp_path, keys, monkeypatch):
    from labelguard.tasks.dataset import write_dataset
    from labelguard.tasks.manifest import ColumnSpec, load_signing_key
    from labelguard.tasks.sources import make_reviews
    from labelguard.tasks.storage import LocalStore

    ds = tmp_path / "ds"
    write_dataset(LocalStore(ds), make_reviews(200, seed=1), ColumnSpec(), load_signing_key(keys[0]), source={"kind": "synthetic"})
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:9/api")  # nothing listens: the check must come first
    for flag in ("--reference", "--holdout"):
        res = invoke("pipeline", ds, flag, tmp_path / "nope", "--verify-key", keys[1])
        assert res.exit_code == 2 and res.stderr.strip() == f"error: no dataset at {tmp_path / 'nope'} (fix: check the URI (labelguard ingest writes one there))"
