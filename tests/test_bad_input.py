"""The bad-input corpus, through the CLI: each case exits with its documented code, prints exactly one
line on stderr naming the problem and the fix, and writes or changes nothing.

Ingest cases run with PREFECT_API_URL pointing at a closed port: a case that reached Prefect would
fail with the Prefect message instead of its own, so each one proves it was caught before Prefect.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from labelguard.cli import app
from labelguard.server import free_port

runner = CliRunner()
DEAD_PREFECT = f"http://127.0.0.1:{free_port()}/api"


def good_frame(n: int = 60) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    labels = np.tile([0, 1], n // 2)
    return pd.DataFrame({"review_id": [f"r{i:03d}" for i in range(n)], "label": labels, "polarity": rng.normal(labels * 3, 1), "intensity": rng.normal(labels * 3, 1)})


def _csv(frame: pd.DataFrame, path: Path, **kw) -> Path:
    frame.to_csv(path, index=False, **kw)
    return path


def _tree(root: Path) -> dict[str, str]:
    """Every file under root with its SHA-256: 'nothing written or changed' is this, unchanged."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def world(tmp_path, keys):
    """Input files of every kind of badness, and a signed dataset to point verify/tamper at."""
    w = tmp_path / "in"
    w.mkdir()
    f = good_frame()
    _csv(f, w / "good.csv")
    (w / "empty.csv").write_bytes(b"")
    (w / "header_only.csv").write_text("review_id,label,polarity,intensity\n")
    _csv(f, w / "semicolon.csv", sep=";")
    f.to_parquet(w / "good.parquet")
    raw = (w / "good.parquet").read_bytes()
    (w / "truncated.parquet").write_bytes(raw[: len(raw) // 2])
    (w / "garbage.parquet").write_bytes(b"PAR1 this is not parquet at all")
    f.head(0).to_parquet(w / "empty.parquet")
    _csv(f.drop(columns=["review_id"]), w / "no_id.csv")
    _csv(f.assign(label=f["label"].astype(float).where(f.index % 17 != 5)), w / "nan_labels.csv")
    _csv(f.assign(review_id=["dup"] * 2 + list(f["review_id"][2:])), w / "dup_ids.csv")
    _csv(f.assign(polarity=f["polarity"].where(f.index != 7, np.inf)), w / "inf_feature.csv")
    _csv(f.assign(label=f["polarity"] * 1.37), w / "continuous.csv")
    _csv(f.assign(label=1), w / "one_class.csv")
    _csv(f.assign(created_at="yesterday-ish"), w / "bad_time.csv")
    _csv(f.assign(created_at=np.arange(len(f)) * 7), w / "small_int_time.csv")
    (w / "sheet.xlsx").write_bytes(b"PK\x03\x04 not really")
    (w / "garbage.key").write_text("-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n")
    _csv(f.assign(created_at=[f"{i % 28 + 1:02d}/01/2026 02:51" for i in range(len(f))]), w / "day_month_time.csv")
    _csv(f.assign(label=[("Positive" if i % 3 else "positive ") if v else "negative" for i, v in enumerate(f["label"])]), w / "label_spellings.csv")
    (w / "dup_header.csv").write_text("review_id,label,polarity,polarity\n" + "".join(f"r{i},{i % 2},{i * 0.5},{i}\n" for i in range(30)))
    _csv(f.head(5), w / "tiny.csv")
    _csv(f.assign(polarity=f["polarity"].round(3).astype(str).where(f.index % 20 != 4, "N/A")), w / "na_feature.csv")
    _csv(f.assign(review_id=f["review_id"].where(f.index != 3)), w / "empty_id.csv")  # class 0: 3 rows, class 1: 2 rows
    _csv(f.assign(label=np.where(f["label"] == 1, "positive", "negative")), w / "words.csv")
    ds = tmp_path / "store"
    _ingest_plain(w / "good.csv", ds, keys[0])
    _ingest_plain(w / "words.csv", tmp_path / "words", keys[0])  # the same rows, labels spelled as words
    return {"in": w, "ds": ds, "keys": keys, "tmp": tmp_path}


def _ingest_plain(source: Path, dest: Path, signing_key: Path) -> None:
    """What `labelguard ingest` writes, through the same plain functions, without starting Prefect."""
    from labelguard.tasks.dataset import write_dataset
    from labelguard.tasks.manifest import DatasetRef, load_signing_key
    from labelguard.tasks.sources import load_source, split_holdout
    from labelguard.tasks.storage import open_store

    frame, spec, meta = load_source(str(source))
    train, holdout = split_holdout(frame, spec, 0.2, 0)
    store = open_store(str(dest))
    key = load_signing_key(signing_key)
    write_dataset(store.child("holdout"), holdout, spec, key, source=meta, dataset=DatasetRef("bad-input-world", "holdout", "holdout"))
    write_dataset(store, train, spec, key, source=meta, dataset=DatasetRef("bad-input-world", "data"))


S, V = "--signing-key", "--verify-key"

# (id, argv template, expected exit code, exact start of the one stderr line, a fragment of its fix)
CASES = [
    ("empty-csv", "ingest --source {in}/empty.csv --dest {out} {S} {sk}", 2, "error: empty.csv is empty (no header, no rows)", "export the data with a header row"),
    ("header-only-csv", "ingest --source {in}/header_only.csv --dest {out} {S} {sk}", 2, "error: header_only.csv has a header but no rows", "at least one row"),
    ("truncated-parquet", "ingest --source {in}/truncated.parquet --dest {out} {S} {sk}", 2, "error: truncated.parquet is not readable Parquet", "complete Parquet"),
    ("corrupt-parquet", "ingest --source {in}/garbage.parquet --dest {out} {S} {sk}", 2, "error: garbage.parquet is not readable Parquet", "complete Parquet"),
    ("empty-parquet", "ingest --source {in}/empty.parquet --dest {out} {S} {sk}", 2, "error: empty.parquet has no rows", "at least one row"),
    ("wrong-delimiter", "ingest --source {in}/semicolon.csv --delimiter , --dest {out} {S} {sk}", 2, "error: column 'review_id' not found: the header reads as one column", "pass --delimiter ';'"),
    ("missing-id-column", "ingest --source {in}/no_id.csv --dest {out} {S} {sk}", 2, "error: column 'review_id' not found (have: 'label', 'polarity', 'intensity')", "pass --id-col"),
    ("missing-label-column", "ingest --source {in}/good.csv --label-col sentiment --dest {out} {S} {sk}", 2, "error: column 'sentiment' not found (have: 'review_id', 'label', 'polarity', 'intensity')", "pass --label-col"),
    ("nan-labels", "ingest --source {in}/nan_labels.csv --dest {out} {S} {sk}", 2, "error: label column 'label' has 4 empty cell(s), first at id 'r005'", "label every row"),
    ("duplicate-ids", "ingest --source {in}/dup_ids.csv --dest {out} {S} {sk}", 2, "error: 1 id repeats in 'review_id' (2 rows): 'dup' at rows 0 and 1", "make the ids in 'review_id' unique"),
    ("non-finite-feature", "ingest --source {in}/inf_feature.csv --dest {out} {S} {sk}", 2, "error: 1 schema failure(s), first: column 'polarity' check 'finite'", "finite number"),
    ("continuous-labels", "ingest --source {in}/continuous.csv --dest {out} {S} {sk}", 2, "error: label column 'label' holds continuous values", "categorical label column"),
    ("single-class", "ingest --source {in}/one_class.csv --dest {out} {S} {sk}", 2, "error: label column 'label' has fewer than two classes", "at least two classes"),
    ("unparseable-timestamps", "ingest --source {in}/bad_time.csv --dest {out} {S} {sk}", 2, "error: timestamp column 'created_at' does not parse as ISO 8601", "--timestamp-unit"),
    ("ambiguous-int-timestamps", "ingest --source {in}/small_int_time.csv --dest {out} {S} {sk}", 2, "error: timestamp column 'created_at' holds integers that are not epoch times", "--timestamp-unit"),
    ("unsupported-file-type", "ingest --source {in}/sheet.xlsx --dest {out} {S} {sk}", 2, "error: unsupported file type '.xlsx'", "use a .csv"),
    ("no-such-source", "ingest --source {in}/nope.csv --dest {out} {S} {sk}", 2, "error: no such file:", "existing .csv/.parquet"),
    ("day-month-timestamps", "ingest --source {in}/day_month_time.csv --dest {out} {S} {sk}", 2, "error: timestamp column 'created_at' does not parse as ISO 8601: Time data 01/01/2026 02:51 is not ISO8601 format (fix: the dates are written day first ('13/01/2026 02:51': 13 is no month)", "--timestamp-format '%d/%m/%Y %H:%M'"),
    ("explicit-wrong-delimiter", "ingest --source {in}/good.csv --delimiter ; --dest {out} {S} {sk}", 2, "error: column 'review_id' not found: the header reads as one column 'review_id,label,polarity,intensity', so the file looks ','-delimited", "leave --delimiter out"),
    ("na-tokens-in-a-numeric-feature", "ingest --source {in}/na_feature.csv --dest {out} {S} {sk}", 2, "error: 3 schema failure(s), first: column 'polarity' check 'not_nullable' an empty cell at id 'r004'", "finite number"),
    ("empty-id", "ingest --source {in}/empty_id.csv --dest {out} {S} {sk}", 2, "error: 1 schema failure(s), first: column 'review_id' check 'not_nullable' an empty cell at row 3", "fill in the empty ids in 'review_id'"),
    ("label-spelling-variants", "ingest --source {in}/label_spellings.csv --dest {out} {S} {sk}", 2, "error: labels 'Positive', 'positive ' in 'label' differ only in case or spaces, so they would be separate classes", "one spelling per class"),
    ("duplicate-column-name", "ingest --source {in}/dup_header.csv --dest {out} {S} {sk}", 2, "error: dup_header.csv has the column name 'polarity' more than once (columns 3, 4)", "rename one of them"),
    ("invalid-bucket-name", "ingest --source {in}/good.csv --dest s3://lg/x {S} {sk}", 2, "error: 'lg' in 's3://lg/x' is not a valid S3 bucket name", "3-63 characters"),
    ("truth-inside-dataset", "tamper {ds} --attack random --rate 0.1 --truth-out {ds}/truth.json", 2, "error: --truth-out {ds}/truth.json is inside the dataset {ds}", "outside the store"),
    ("class-too-small-for-holdout", "ingest --source {in}/tiny.csv --dest {out} {S} {sk}", 2, "error: class 1 has 2 row(s): a holdout fraction of 0.2 leaves the trusted holdout without it", "give every class at least 3 rows"),
    ("holdout-fraction", "ingest --holdout-fraction 1.5 --dest {out} {S} {sk}", 2, "error: --holdout-fraction must be 0 (none) or in (0, 1), got 1.5", "--holdout-fraction 0.2"),
    ("bad-encoding-name", "ingest --source {in}/good.csv --encoding klingon --dest {out} {S} {sk}", 2, "error: unknown encoding 'klingon'", "--encoding utf-8"),
    ("long-delimiter", "ingest --source {in}/good.csv --delimiter ;; --dest {out} {S} {sk}", 2, "error: --delimiter must be one character, got ';;'", "--delimiter ';'"),
    ("existing-destination", "ingest --source {in}/good.csv --dest {ds} {S} {sk}", 2, "error: {ds} already holds a dataset", "choose a new --dest"),
    ("no-signing-key", "ingest --dest {out} --signing-key {tmp}/none.key", 2, "error: cannot read signing key {tmp}/none.key", "labelguard keygen"),
    ("malformed-signing-key", "ingest --dest {out} {S} {in}/garbage.key", 2, "error: cannot read signing key {in}/garbage.key", "labelguard keygen"),
    ("public-key-as-signing-key", "ingest --dest {out} {S} {vk}", 2, "error: cannot read signing key", "labelguard keygen"),
    ("unknown-option", "ingest --dest {out} --nope 3", 2, "error: No such option: --nope", "labelguard ingest --help"),
    ("bad-option-value", "ingest --dest {out} --rows many", 2, "error: Invalid value for '--rows'", "labelguard ingest --help"),
    ("missing-required-option", "tamper {ds} --attack random --rate 0.1", 2, "error: Missing option '--truth-out'", "labelguard tamper --help"),
    ("rate-above-one", "poison {in}/good.csv --out {tmp}/p.csv --attack random --rate 1.5", 2, "error: rate must be within [0, 1], got 1.5", "--rate 0.2"),
    ("rate-nan", "poison {in}/good.csv --out {tmp}/p.csv --attack random --rate nan", 2, "error: rate must be within [0, 1], got nan", "--rate 0.2"),
    ("unknown-attack", "poison {in}/good.csv --out {tmp}/p.csv --attack nope --rate 0.1", 2, "error: unknown attack 'nope'", "choose one of: cluster, farthest, greedy"),
    ("label-outside-class-set", "poison {in}/good.csv --out {tmp}/p.csv --attack targeted --rate 0.1 --option source=7", 2, "error: 7 is not one of the classes [0, 1]", "name an existing class"),
    ("bad-attack-option", "poison {in}/good.csv --out {tmp}/p.csv --attack random --rate 0.1 --option nokey", 2, "error: --option 'nokey' is not key=value", "--option where="),
    ("poison-nan-labels", "poison {in}/nan_labels.csv --out {tmp}/p.csv --attack random --rate 0.1", 2, "error: label column 'label' has 4 empty cell(s)", "label every row"),
    ("poison-dup-ids", "poison {in}/dup_ids.csv --out {tmp}/p.csv --attack random --rate 0.1", 2, "error: 1 id repeats in 'review_id' (2 rows): 'dup' at rows 0 and 1", "unique"),
    ("poison-empty-csv", "poison {in}/empty.csv --out {tmp}/p.csv --attack random --rate 0.1", 2, "error: empty.csv is empty", "header row"),
    ("unknown-transform", "pipeline {ds} --transform nope {V} {vk}", 2, "error: unknown transform 'nope'", "choose one of"),
    ("unknown-model", "pipeline {ds} --model svm {V} {vk}", 2, "error: unknown model 'svm'", "choose one of: gboost, knn, logreg"),
    ("pipeline-no-dataset", "pipeline {tmp}/typo {V} {vk}", 2, "error: no dataset at {tmp}/typo", "check the URI"),
    ("pipeline-bad-tolerate", "pipeline {ds} --tolerate 0 {V} {vk}", 2, "error: --tolerate must be a rate in (0, 1], got 0", "--tolerate 0.05"),
    ("unknown-guard", "verify {ds} --guards manifest,nope {V} {vk}", 2, "error: unknown guard 'nope'", "choose one of"),
    ("reference-labels-spelled-otherwise", "verify {ds} --reference {tmp}/words/holdout {V} {vk}", 2, "error: the reference's classes ('negative', 'positive') are not the dataset's (0, 1): it labels another way", "with its label spelling"),
    ("verify-typo-path", "verify {tmp}/nope {V} {vk}", 2, "error: no dataset at {tmp}/nope", "check the URI"),
    ("verify-missing-verify-key", "verify {ds} --verify-key {tmp}/none.pub", 2, "error: cannot read verify key {tmp}/none.pub", "verify.pub"),
    ("verify-unreachable-endpoint", "verify s3://bucket/ds {V} {vk} --endpoint-url http://127.0.0.1:{deadport}", 2, "error: cannot reach the S3 endpoint http://127.0.0.1:{deadport}", "start it"),
    ("verify-absent-bucket", "verify s3://labelguard-no-such-bucket/ds {V} {vk}", 2, "error: no dataset at s3://labelguard-no-such-bucket/ds: bucket 'labelguard-no-such-bucket' does not exist", "check the URI"),
    ("verify-absent-prefix", "verify s3://labelguard-test/never-written {V} {vk}", 2, "error: no dataset at s3://labelguard-test/never-written", "check the URI"),
    ("tamper-existing-truth", "tamper {ds} --attack random --rate 0.1 --truth-out {in}/good.csv", 2, "error: truth file {in}/good.csv already exists", "new --truth-out"),
    ("tamper-no-dataset", "tamper {tmp}/typo --attack random --rate 0.1 --truth-out {tmp}/t.json", 2, "error: no dataset at {tmp}/typo", "labelguard ingest"),
    ("watch-bad-cron", "watch {ds} --cron 'every day' {V} {vk}", 2, "error: invalid cron expression 'every day'", "five fields"),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_input_one_line_documented_exit_nothing_written(case, world, s3_endpoint, monkeypatch):
    name, template, code, starts, fix = case
    tmp, keys = world["tmp"], world["keys"]
    fmt = {"in": world["in"], "ds": world["ds"], "tmp": tmp, "out": tmp / "out", "S": S, "V": V, "sk": keys[0], "vk": keys[1], "deadport": free_port()}
    import shlex

    argv = [a.format(**fmt) for a in shlex.split(template)]
    if name == "verify-absent-prefix":
        from labelguard.tasks.storage import open_store

        open_store("s3://labelguard-test/other").ensure_writable()  # the bucket exists; the prefix does not
    monkeypatch.setenv("PREFECT_API_URL", DEAD_PREFECT)
    before = _tree(tmp)
    res = runner.invoke(app, ["--help"] if False else argv, catch_exceptions=False)
    lines = res.stderr.strip().splitlines()
    assert res.exit_code == code, res.output
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith(starts.format(**fmt)), lines[0]
    assert "(fix: " in lines[0] and fix.format(**fmt) in lines[0].split("(fix: ", 1)[1], lines[0]
    assert res.stdout.strip() == ""
    assert "Traceback" not in res.output
    assert _tree(tmp) == before  # nothing written, nothing changed
    assert not (tmp / "out").exists() and not (tmp / "p.csv").exists() and not (tmp / "t.json").exists()


def test_prefect_api_down_is_exit_2_after_input_checks(world, monkeypatch):
    monkeypatch.setenv("PREFECT_API_URL", DEAD_PREFECT)
    before = _tree(world["tmp"])
    res = runner.invoke(app, ["ingest", "--source", str(world["in"] / "good.csv"), "--dest", str(world["tmp"] / "out"), S, str(world["keys"][0])])
    assert res.exit_code == 2
    assert res.stderr.strip().splitlines() == [f"error: the Prefect API at {DEAD_PREFECT} does not answer (fix: start it (`labelguard server` or `prefect server start`), or unset PREFECT_API_URL to run on a temporary local API)"]
    assert _tree(world["tmp"]) == before


def test_damaged_manifest_and_sidecar_are_guard_failures_not_input_errors(world):
    """The dataset is there but cannot be vouched for: exit 1 with a reason, never exit 2."""
    ds, keys = world["ds"], world["keys"]
    sidecar = ds / "rows.parquet"
    sidecar.write_bytes(sidecar.read_bytes()[:100])
    import json

    out = world["tmp"] / "v.json"
    res = runner.invoke(app, ["verify", str(ds), V, str(keys[1]), "--ledger", "none", "--json", str(out)])
    manifest = {g["name"]: g for g in json.loads(out.read_text())["guards"]}["manifest"]
    assert res.exit_code == 1 and manifest["detail"].startswith("digest-mismatch: row sidecar rows.parquet differs from its signed SHA-256")
    (ds / "manifest.json").write_text("{ not json")
    out.unlink()
    res = runner.invoke(app, ["verify", str(ds), V, str(keys[1]), "--ledger", "none", "--json", str(out)])
    manifest = {g["name"]: g for g in json.loads(out.read_text())["guards"]}["manifest"]
    assert res.exit_code == 1 and manifest["detail"].startswith("bad-manifest: manifest is not valid labelguard JSON")
    assert res.stderr.strip() == "guard fired: manifest"


def test_unexpected_exception_is_one_line_exit_2_traceback_only_with_verbose(world, monkeypatch):
    import labelguard.tasks.verify as verify_mod

    def boom(*a, **k):
        raise RuntimeError("something\nwent wrong")

    monkeypatch.setattr(verify_mod, "verify_dataset", boom)
    res = runner.invoke(app, ["verify", str(world["ds"]), V, str(world["keys"][1])])
    assert res.exit_code == 2
    assert res.stderr.strip().splitlines() == ["error: unexpected RuntimeError: something went wrong (fix: rerun with -v for the traceback and report it)"]
    res = runner.invoke(app, ["verify", str(world["ds"]), V, str(world["keys"][1]), "-v"])
    assert res.exit_code == 2 and "Traceback" in res.stderr
    # -v before the command means the same; a command without a --verbose of its own takes it too (break-it r13 F9:
    # the fix above says "rerun with -v" whatever the command)
    res = runner.invoke(app, ["-v", "verify", str(world["ds"]), V, str(world["keys"][1])])
    assert res.exit_code == 2 and "Traceback" in res.stderr and res.stderr.strip().splitlines()[-1].startswith("error: unexpected RuntimeError")
    res = runner.invoke(app, ["-v", "list"])
    assert (res.exit_code, res.stderr) == (0, "") and res.stdout == runner.invoke(app, ["list"]).stdout


def test_secrets_never_appear_in_output_of_failing_runs(world, monkeypatch):
    """Credentials and key material stay out of every message, even when the failure is about them."""
    secret = "wJalrXUtnFEMI-K7MDENG-bPxRfiCYEXAMPLEKEY"
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLEEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
    pem = world["keys"][0].read_text()
    outputs = []
    for argv in (
        ["verify", "s3://labelguard-test/x", V, str(world["keys"][1]), "--endpoint-url", f"http://127.0.0.1:{free_port()}"],
        ["ingest", "--dest", str(world["tmp"] / "o"), S, str(world["keys"][1])],  # a public key where the private one goes
        ["verify", str(world["ds"]), V, str(world["keys"][0])],  # the private key where the public one goes
        ["tamper", str(world["ds"]), "--attack", "random", "--rate", "0.1", "--truth-out", str(world["tmp"] / "t.json"), "--resign-key", str(world["in"] / "garbage.key")],
    ):
        res = runner.invoke(app, argv)
        assert res.exit_code == 2, res.output
        outputs.append(res.output)
    text = "\n".join(outputs)
    assert secret not in text and "AKIAEXAMPLEEXAMPLE" not in text
    for line in pem.splitlines()[1:-1]:
        assert line not in text


def test_reference_of_other_data_is_one_line_exit_2(world, tmp_path):
    """A signed baseline of another dataset's shape is a usage mistake, not a crash and not tampering."""
    from labelguard.tasks.dataset import write_dataset
    from labelguard.tasks.manifest import ColumnSpec, DatasetRef, load_signing_key
    from labelguard.tasks.storage import open_store
    from labelguard.tasks.synthetic import make_reviews

    other = open_store(str(tmp_path / "other-baseline"))
    frame = make_reviews(200, seed=1).rename(columns={"polarity": "stars"})
    spec = ColumnSpec(feature_cols=("stars", "intensity"))
    write_dataset(other, frame, spec, load_signing_key(world["keys"][0]), source={}, dataset=DatasetRef("other", "baseline"))
    res = runner.invoke(app, ["verify", str(world["ds"]), "--reference", str(tmp_path / "other-baseline"), V, str(world["keys"][1]), "--ledger", "none"])
    assert res.exit_code == 2
    # one feature column missing, one other number column in its place: said to look renamed (break-it r7 left, finding 2)
    assert res.stderr.strip().splitlines() == [
        "error: the reference has no column(s) 'polarity' that the dataset uses, and has 'stars' that the dataset lacks: "
        "renamed in this batch? ('stars' → 'polarity') (fix: rename 'polarity' back to 'stars' in the batch's source and "
        "ingest it again, or leave it out: ingest the batch again with --ignore-cols polarity)"
    ]


def test_stored_files_follow_the_umask(world):
    import stat

    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in world["ds"].iterdir() if p.is_file()}
    assert modes == {name: 0o644 for name in ("data.parquet", "rows.parquet", "rows.sig.json", "manifest.json")}


def test_split_holdout_takes_round_fraction_of_each_class_and_refuses_a_class_it_would_empty():
    from labelguard.errors import BadInput
    from labelguard.tasks.sources import infer_spec, split_holdout

    f = pd.concat([good_frame(60), good_frame(60).iloc[:7].assign(review_id=lambda d: d["review_id"] + "x", label=2)], ignore_index=True)
    spec = infer_spec(f, id_col="review_id", label_col="label", timestamp_col=None)
    train, holdout = split_holdout(f, spec, 0.2, 0)
    assert holdout["label"].value_counts().sort_index().tolist() == [6, 6, 1]  # round(0.2 * 30), round(0.2 * 30), round(0.2 * 7)
    assert len(train) == 67 - 13 and not set(train["review_id"]) & set(holdout["review_id"])
    with pytest.raises(BadInput) as exc:
        split_holdout(f, spec, 0.95, 0)  # class 2: round(0.95 * 7) = 7 of 7 rows
    assert exc.value.one_line() == (
        "class 2 has 7 row(s): a holdout fraction of 0.95 leaves the training set without it "
        "(fix: give every class at least 10 rows, pass another --holdout-fraction, or --holdout-fraction 0 for no holdout)"
    )
