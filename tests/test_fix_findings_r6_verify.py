"""Break-it round 6 findings 1 and 6 and two known gaps: verify's per-guard progress on stderr, a CSV file or one
Parquet file where a dataset belongs said as such before anything heavy loads, every reason of an inconclusive
verdict named, and the pipeline's metrics table saying "macro" when its figures are macro averages.
Small data throughout: each verify runs on 400 rows."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from labelguard.tasks import guards
from labelguard.tasks.dataset import write_dataset
from labelguard.tasks.manifest import ColumnSpec, load_signing_key
from labelguard.tasks.storage import LocalStore
from labelguard.tasks.synthetic import make_reviews
from tests.clirun import invoke

STEP = re.compile(r"\[(\d+)/(\d+)\] ([a-z_]+) … (\d+\.\d) s")


@pytest.fixture(scope="module")
def signed(tmp_path_factory, keys):
    """400 signed synthetic reviews (default parameters: the golden holdout is the model gate's)."""
    root = tmp_path_factory.mktemp("r6v")
    write_dataset(LocalStore(root / "ds"), make_reviews(400, seed=1), ColumnSpec(), load_signing_key(keys[0]), source={"kind": "synthetic"})
    return root


def _json(path):
    doc = json.loads(path.read_text())
    doc.pop("checked_at")
    return doc


def test_progress_is_one_stderr_line_per_guard_in_order_and_leaves_stdout_and_json_alone(signed, keys):
    """Finding 1: a 100k-row verify said nothing for 14 minutes. --progress: `[i/N] name … s` per guard (and the flip
    posterior behind the suspect set) on stderr, in the registry's order; stdout and the JSON are what they were."""
    quiet = invoke("verify", signed / "ds", "--json", signed / "quiet.json", "--verify-key", keys[1])
    loud = invoke("verify", signed / "ds", "--json", signed / "loud.json", "--verify-key", keys[1], "--progress")
    assert quiet.exit_code == loud.exit_code == 0, (quiet.stderr, loud.stderr)
    assert quiet.stderr == ""  # 400 rows: no progress unless asked for (PROGRESS_ROWS)
    assert loud.stdout == quiet.stdout and _json(signed / "loud.json") == _json(signed / "quiet.json")
    lines = loud.stderr.splitlines()
    steps = [STEP.fullmatch(line) for line in lines]
    assert all(steps), lines
    names = [*guards.REGISTRY, "flip_posterior"]
    assert [(int(m[1]), int(m[2]), m[3]) for m in steps] == [(i, len(names), n) for i, n in enumerate(names, 1)]


def test_progress_turns_itself_on_for_large_data_and_off_with_no_progress(signed, keys, monkeypatch):
    """The default is on from PROGRESS_ROWS rows (here lowered to the data's 400), --no-progress silences it; the guards
    chosen with --guards are counted as chosen, and without a content guard there is no posterior step."""
    from labelguard import cli

    monkeypatch.setattr(cli, "PROGRESS_ROWS", 400)
    res = invoke("verify", signed / "ds", "--verify-key", keys[1], "--guards", "schema,manifest")
    assert res.exit_code == 0, res.stderr
    assert [STEP.fullmatch(line).group(1, 2, 3) for line in res.stderr.splitlines()] == [("1", "2", "schema"), ("2", "2", "manifest")]
    monkeypatch.setattr(cli, "PROGRESS_ROWS", 401)
    assert invoke("verify", signed / "ds", "--verify-key", keys[1], "--guards", "schema").stderr == ""
    monkeypatch.setattr(cli, "PROGRESS_ROWS", 1)
    res = invoke("verify", signed / "ds", "--verify-key", keys[1], "--guards", "schema", "--no-progress")
    assert res.exit_code == 0 and res.stderr == ""


def test_verify_dataset_reports_each_step_starting_and_done_with_its_rows():
    """The plain-function path: the callback sees every guard start and end (done, seconds) with the rows checked."""
    from labelguard.tasks.verify import _timed

    seen = []
    ctx = guards.GuardContext(frame=make_reviews(60, seed=3), spec=ColumnSpec())
    guards.run_guards(ctx, ["schema", "duplicate_conflicts"], on_progress=seen.append)
    assert [(p.index, p.total, p.name, p.done, p.rows) for p in seen] == [
        (1, 2, "schema", False, 60), (1, 2, "schema", True, 60), (2, 2, "duplicate_conflicts", False, 60), (2, 2, "duplicate_conflicts", True, 60)]
    assert all(p.seconds == 0.0 for p in seen if not p.done) and all(p.seconds > 0 for p in seen if p.done)
    assert _timed(seen.append, 3, "flip_posterior", 60, lambda: 42) == 42
    assert [(p.index, p.total, p.name, p.done) for p in seen[-2:]] == [(3, 3, "flip_posterior", False), (3, 3, "flip_posterior", True)]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("r6files")
    frame = pd.DataFrame({"id": range(60), "x": np.linspace(0, 1, 60), "class": ["a", "b"] * 30})
    frame.to_csv(root / "batch.csv", index=False)
    (root / "lake").mkdir()
    frame.to_parquet(root / "lake" / "b1.parquet", index=False)
    (root / "ds").mkdir()
    (root / "ds" / "manifest.json").write_text("{}")
    frame.to_parquet(root / "ds" / "data.parquet", index=False)
    return root


CASES = [
    (("verify", "batch.csv", "--id-col", "id", "--label-col", "class"),
     "error: {r}/batch.csv is a CSV file; verify checks a stored dataset or a folder of Parquet "
     "(fix: labelguard ingest --source {r}/batch.csv --dest DIR first, then labelguard verify DIR)"),
    (("verify", "lake/b1.parquet", "--id-col", "id", "--label-col", "class", "--guards", "schema"),
     "error: {r}/lake/b1.parquet is a single Parquet file; verify checks a stored dataset or a folder of Parquet "
     "(fix: sign it with labelguard seal {r}/lake/b1.parquet, then labelguard verify {r}/lake (its folder), "
     "or labelguard ingest --source {r}/lake/b1.parquet --dest DIR first)"),
    (("verify", "ds/data.parquet"),
     "error: {r}/ds/data.parquet is a file of the dataset at {r}/ds; verify checks a stored dataset or a folder of Parquet (fix: labelguard verify {r}/ds)"),
    (("seal", "batch.csv", "--id-col", "id", "--label-col", "class"),
     "error: {r}/batch.csv is a CSV file; seal signs Parquet objects (a folder, a prefix, one .parquet file or a glob) "
     "(fix: labelguard ingest --source {r}/batch.csv --dest DIR, which signs what it writes)"),
    (("pipeline", "batch.csv"),
     "error: {r}/batch.csv is a CSV file; pipeline trains on a dataset written by `labelguard ingest` "
     "(fix: labelguard ingest --source {r}/batch.csv --dest DIR first, then labelguard pipeline DIR)"),
    (("pipeline", "lake/b1.parquet"),
     "error: {r}/lake/b1.parquet is a single Parquet file; pipeline trains on a dataset written by `labelguard ingest` "
     "(fix: labelguard ingest --source {r}/lake/b1.parquet --dest DIR first, then labelguard pipeline DIR)"),
    (("baseline", "batch.csv", "--out", "bl"),
     "error: {r}/batch.csv is a CSV file; baseline copies a verified dataset (fix: labelguard ingest --source {r}/batch.csv --dest DIR first, then labelguard baseline DIR)"),
    (("drift", "batch.csv"),
     "error: {r}/batch.csv is a CSV file; drift checks a folder of daily partitions "
     "(fix: labelguard ingest --source {r}/batch.csv --dest DIR --partition date=YYYY-MM-DD first, then labelguard drift DIR)"),
    (("verify", "batch.txt.gz"),
     "error: {r}/batch.txt.gz is a CSV file; verify checks a stored dataset or a folder of Parquet "
     "(fix: labelguard ingest --source {r}/batch.txt.gz --dest DIR first, then labelguard verify DIR)"),
    (("verify", "notes.json"),
     "error: {r}/notes.json is a file, not a dataset folder; verify checks a stored dataset or a folder of Parquet "
     "(fix: pass the folder `labelguard ingest --dest` wrote)"),
]


@pytest.mark.parametrize("args,line", CASES, ids=[" ".join(a[:2]) for a, _ in CASES])
def test_a_file_where_a_dataset_belongs_is_named_for_what_it_is(files, args, line):
    """Finding 6: `verify batch.csv` said "no dataset at batch.csv (fix: check the URI)"; now exit 2 with what the path
    is and what to do, and nothing written (seal's file is one Parquet file it takes: only its CSV is refused)."""
    (files / "batch.txt.gz").write_bytes(b"")
    (files / "notes.json").write_text("{}")
    before = sorted(p.name for p in files.rglob("*"))
    command, path, *rest = args
    res = invoke(command, files / path, *[files / a if a == "bl" else a for a in rest],
                 env={"LABELGUARD_VERIFY_KEY": "", "LABELGUARD_SIGNING_KEY": ""})
    assert (res.exit_code, res.stderr) == (2, line.format(r=files) + "\n")
    assert res.stdout == "" and sorted(p.name for p in files.rglob("*")) == before


def test_the_file_refusal_comes_before_pandas_sklearn_or_prefect_load(files):
    """The README's "about a second" for checks that need no store: the refusal is decided before the heavy imports
    (the r6 refusals took 10 s). Checked by the modules loaded, not by a clock."""
    code = ("import sys\nfrom labelguard.cli import app\n"
            f"rc = app(['verify', {str(files / 'batch.csv')!r}], standalone_mode=False)\n"
            "print(rc, sorted({m.split('.')[0] for m in sys.modules} & {'pandas', 'sklearn', 'prefect', 'scipy', 'cleanlab'}))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.stdout.strip() == "2 []", proc.stdout + proc.stderr
    assert proc.stderr.startswith(f"error: {files / 'batch.csv'} is a CSV file; ")


def _gate(drop_upper: float) -> guards.GuardResult:
    return guards.GuardResult("model_gate", True, "", metrics={"accuracy_drop_upper": drop_upper, "holdout_rows": 36},
                              inconclusive=True, tolerance=0.02)


def test_an_inconclusive_verdict_names_every_reason_and_its_fix_covers_them():
    """Known gap (r5 finding 12): with an undecided model gate and a class whose flips no guard would see, the detail
    named the gate only; after a larger holdout the user met the second refusal. Both are named, both fixes offered."""
    from labelguard.tasks.verify import dataset_verdict, inconclusive_fix, suite_verdict

    blind = guards.GuardResult("reference_model", True, "", class_power={"fraud": 0.28, "ok": 0.05}, power=0.28, inconclusive=True)
    verdict, why, covered = dataset_verdict([blind, _gate(0.031)], 0.2)
    assert verdict == "inconclusive" and why == (
        "model gate cannot rule out an accuracy drop of 2% (95 % upper bound 3.1% on 36 holdout rows); "
        "flips of 20% of a class would go unseen (smallest detectable flip rate: class fraud: 28%)")
    assert inconclusive_fix([blind, _gate(0.031)], covered, None, tolerate=0.2) == (
        "pass a larger trusted --holdout (the gate's bound on the damage shrinks with its rows); "
        "for the flips no guard would see, add trusted reference rows, accept more unseen flips with --tolerate 0.28; or --allow-inconclusive")
    # one reason: the detail and the fix as before
    seen = guards.GuardResult("reference_model", True, "", class_power={"fraud": 0.1}, power=0.1)
    assert dataset_verdict([seen, _gate(0.031)], 0.2)[1] == "model gate cannot rule out an accuracy drop of 2% (95 % upper bound 3.1% on 36 holdout rows)"
    assert inconclusive_fix([seen, _gate(0.031)], {"fraud": 0.1}, None, tolerate=0.2) == (
        "pass a larger trusted --holdout (the gate's bound on the damage shrinks with its rows), or --allow-inconclusive")
    # a holdout the model trained on comes first, the other reasons follow it
    assert suite_verdict([blind, _gate(0.031)], 0.2, None, "9 of the holdout's 36 ids are also training rows")[1] == (
        "model gate: 9 of the holdout's 36 ids are also training rows; model gate cannot rule out an accuracy drop of 2% "
        "(95 % upper bound 3.1% on 36 holdout rows); flips of 20% of a class would go unseen (smallest detectable flip rate: class fraud: 28%)")
    # a gate whose own bound vouches (1.4%) but whose holdout was trained on is named by that note alone, not as "cannot rule out"
    assert suite_verdict([blind, _gate(0.014)], 0.2, None, "9 of the holdout's 36 ids are also training rows")[1] == (
        "model gate: 9 of the holdout's 36 ids are also training rows; "
        "flips of 20% of a class would go unseen (smallest detectable flip rate: class fraud: 28%)")
    assert inconclusive_fix([blind, _gate(0.014)], covered, None, holdout_leak=True, tolerate=0.2) == (
        "pass a --holdout whose rows are not in the data (e.g. the dataset's own URI/holdout); for the flips no guard would see, "
        "add trusted reference rows, accept more unseen flips with --tolerate 0.28; or --allow-inconclusive")
    # no reference at all: an estimated noise rate above the tolerance is named beside the gate
    assert dataset_verdict([_gate(0.05)], 0.2, noise_rate=0.3)[1] == (
        "model gate cannot rule out an accuracy drop of 2% (95 % upper bound 5.0% on 36 holdout rows); "
        "no trusted reference: estimated noise rate 30.0% is above the tolerated 20%, and flips cannot be told from ambiguity without one")


class _Fixed:
    """A fitted model whose holdout predictions are given (evaluate only calls predict)."""

    def __init__(self, predictions):
        self.predictions = np.array(predictions, dtype=object)

    def predict(self, X):
        return self.predictions


@pytest.mark.parametrize("positive", [None, "b"])
def test_the_metrics_table_says_macro_exactly_when_its_figures_are_macro_averages(positive):
    """Known gap: with 3+ classes and none named, prec/recall/F1 are macro averages (0.867 / 0.778 / 0.750 here) under a
    header about "the positive class (none named)"; a named class keeps its own figures (0.600 / 1.000 / 0.750) and header."""
    from labelguard import cli
    from labelguard.tasks.report import RunResult, render_markdown
    from labelguard.tasks.train import evaluate

    holdout = pd.DataFrame({"review_id": [f"h{i}" for i in range(10)], "f0": np.arange(10.0), "label": ["a"] * 4 + ["b"] * 3 + ["c"] * 3})
    spec = ColumnSpec(feature_cols=("f0",), classes=("a", "b", "c"), positive_class=positive)
    run = RunResult(dataset="d", transform="honest", rate=0.0, seed=0, observe=True, spec=spec,
                    metrics=evaluate(_Fixed(["a"] * 4 + ["b"] * 5 + ["c"]), holdout, spec))
    with cli.out.capture() as captured:
        cli._print_runs({"pipeline": run})
    lines = captured.get().splitlines()
    header = [c.strip() for c in lines[2].strip("┃").split("┃")]
    figures = [c.strip() for c in lines[4].strip("│").split("│")][4:8]
    markdown = next(line for line in render_markdown({"pipeline": run}).splitlines() if line.startswith("| run |"))
    if positive is None:
        assert lines[0] == "impact on the model (trusted holdout; no positive class named: prec, recall and F1 are macro averages over the 3 classes)"
        assert header[4:8] == ["acc", "macro prec", "macro recall", "macro F1"] and figures == ["0.800", "0.867", "0.778", "0.750"]
        assert "| accuracy | macro precision | macro recall | macro F1 |" in markdown
    else:
        assert lines[0] == "impact on the model (trusted holdout; + = share of class 'b')"
        assert header[4:8] == ["acc", "prec", "recall", "F1"] and figures == ["0.800", "0.600", "1.000", "0.750"]
        assert "| accuracy | precision | recall | F1 |" in markdown and "macro" not in markdown


def test_ingest_says_when_the_source_is_read_before_the_long_write(files, keys, tmp_path):
    """Finding 8 (ingest printed nothing for 84 s on 100,000 rows): one stderr line once the source is read and checked
    (--progress here, on by default from PROGRESS_ROWS rows); stdout keeps its lines, and without --progress stderr is empty."""
    csv = files / "day.csv"
    pd.DataFrame({"id": [f"d{i:02d}" for i in range(60)], "x": np.linspace(0, 1, 60), "label": [0, 1] * 30}).to_csv(csv, index=False)
    args = ("ingest", "--source", csv, "--id-col", "id", "--signing-key", keys[0], "--ledger", "none", "--timestamp-col", "none")
    loud = invoke(*args, "--dest", tmp_path / "a", "--partition", "date=2026-01-01", "--progress")
    quiet = invoke(*args, "--dest", tmp_path / "b", "--partition", "date=2026-01-01")
    assert loud.exit_code == quiet.exit_code == 0, (loud.stderr, quiet.stderr)
    assert re.fullmatch(r"read and checked 60 rows in \d+\.\d s; writing the signed dataset …\n", loud.stderr), loud.stderr
    assert quiet.stderr == "" and loud.stdout.replace(str(tmp_path / "a"), "D").split("dataset=")[0] == quiet.stdout.replace(str(tmp_path / "b"), "D").split("dataset=")[0]


def test_a_guard_failing_mid_line_leaves_its_progress_line_ended_before_the_error(signed, keys, monkeypatch):
    """The progress line is started before the guard runs: a guard that raises must not glue the error onto it."""
    from labelguard.errors import BadInput

    def broken(ctx):
        raise BadInput("the schema cannot be read", "fix the schema")

    monkeypatch.setitem(guards.REGISTRY, "schema", guards.GuardSpec("schema", broken, "broken"))
    res = invoke("verify", signed / "ds", "--verify-key", keys[1], "--guards", "manifest,schema", "--progress")
    assert res.exit_code == 2
    first, second, third = res.stderr.splitlines()
    assert STEP.fullmatch(first).group(3) == "manifest" and second == "[2/2] schema …"
    assert third == "error: the schema cannot be read (fix: fix the schema)"
