"""Left from break-it round 7: a batch with a class its reference never had, a batch with a renamed feature column,
and the business sentence on the console for a pipeline on one's own binary data. Small data of our own throughout."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from tests.clirun import invoke


def _env(keys):
    return {"LABELGUARD_SIGNING_KEY": str(keys[0]), "LABELGUARD_VERIFY_KEY": str(keys[1])}


CENTRE = {"pos": 2.0, "neg": -2.0, "neutral": 0.0}


def _rows(n, prefix, seed, classes=("pos", "neg")):
    """``n`` rows of well separated classes: f1, f2 and f3 move with the class, ids ``{prefix}00000`` …"""
    rng = np.random.default_rng(seed)
    label = rng.choice(list(classes), size=n)
    x = np.array([CENTRE[c] for c in label])
    return pd.DataFrame({"id": [f"{prefix}{i:05d}" for i in range(n)], "f1": x + rng.normal(size=n), "f2": -x + rng.normal(size=n),
                         "f3": 0.5 * x + rng.normal(size=n), "label": label})


SPEC = dict(id_col="id", label_col="label", feature_cols=("f1", "f2", "f3"), timestamp_col=None)


def _write(path, frame, keys, classes, role="data", feature_cols=SPEC["feature_cols"], ref=None):
    from labelguard.tasks.dataset import write_dataset
    from labelguard.tasks.manifest import ColumnSpec, DatasetRef, load_signing_key
    from labelguard.tasks.storage import LocalStore

    spec = ColumnSpec(**{**SPEC, "feature_cols": feature_cols}, classes=classes, positive_class="pos")
    write_dataset(LocalStore(path), frame, spec, load_signing_key(keys[0]), source={"kind": "file"},
                  dataset=ref or (None if role == "data" else DatasetRef(path.name, role)))


@pytest.fixture(scope="module")
def new_class_batch(tmp_path_factory, keys):
    """A trusted reference of 'neg'/'pos' (400 rows) and a signed batch of 400 such rows, 20 of them flipped pos -> neg,
    plus 37 rows of 'neutral', a class the reference never had."""
    root = tmp_path_factory.mktemp("newclass")
    _write(root / "reference", _rows(400, "r", 1), keys, ("neg", "pos"), role="holdout")
    batch = pd.concat([_rows(400, "b", 2), _rows(37, "n", 3, classes=("neutral",))], ignore_index=True)
    flipped = batch.index[batch["label"] == "pos"][:20]
    batch.loc[flipped, "label"] = "neg"
    _write(root / "batch", batch, keys, ("neg", "neutral", "pos"))
    return root, sorted(batch.loc[flipped, "id"]), [f"n{i:05d}" for i in range(37)]


# ---------------------------------------------------------------- 1: a batch with a class the reference never had


def test_a_new_class_is_named_by_the_schema_guard_and_its_rows_are_not_called_flips(new_class_batch, keys):
    """All 37 'neutral' rows were named as flipped rows (suspect_ids, flip_posterior) beside the real flips: the reference
    model cannot predict a class it never saw. Now: still exit 1, the schema guard fires naming the class and its rows,
    those rows are listed apart, and the suspect set names the 20 real flips among the known classes."""
    root, flipped, neutral = new_class_batch
    res = invoke("verify", root / "batch", "--reference", root / "reference", "--holdout", root / "reference",
                 "--json", root / "v.json", "--no-progress", env=_env(keys))
    assert res.exit_code == 1, res.output
    assert res.stderr.startswith("guard fired: schema, ")
    doc = json.loads((root / "v.json").read_text())
    line = "class 'neutral' (37 rows) is not among the reference's classes 'neg', 'pos'"
    schema = next(g for g in doc["guards"] if g["name"] == "schema")
    assert (schema["verdict"], schema["detail"]) == ("fired", f"{line}: rows not judged as flips; 400 rows valid")
    assert schema["suspect_ids"] == [] and schema["metrics"]["unknown_class"] == {"classes": {"neutral": 37}, "ids": neutral, "known": ["neg", "pos"]}
    assert doc["unknown_classes"] == {"neutral": 37} and doc["unknown_class_ids"] == neutral
    assert doc["verdict"] == "fired" and doc["verdict_detail"].endswith(f" fired; {line}")
    assert doc["suspect_ids"] == flipped and doc["suspects_from"] == ["flip_posterior"]
    assert ("rows of a class the reference does not have (37, not counted as flips): "
            "n00000, n00001, n00002, n00003, n00004, n00005, n00006, n00007, n00008, n00009 …") in res.stdout.splitlines()
    class_balance = next(g for g in doc["guards"] if g["name"] == "class_balance")
    assert set(class_balance["metrics"]["shares"]) == {"neg", "pos"}  # judged on the known classes only


def test_a_batch_of_known_classes_has_nothing_set_apart(new_class_batch, keys, tmp_path):
    root, _, _ = new_class_batch
    _write(tmp_path / "batch", _rows(300, "k", 4), keys, ("neg", "pos"))
    res = invoke("verify", tmp_path / "batch", "--reference", root / "reference", "--holdout", root / "reference",
                 "--json", tmp_path / "v.json", "--guards", "schema", "--no-progress", env=_env(keys))
    doc = json.loads((tmp_path / "v.json").read_text())
    assert (res.exit_code, doc["unknown_classes"], doc["unknown_class_ids"]) == (0, {}, []), res.output
    assert [g["detail"] for g in doc["guards"]][0] == "300 rows valid"


def test_set_apart_unknown_keeps_the_known_rows_and_classes_in_order():
    from labelguard.tasks.classes import set_apart_unknown
    from labelguard.tasks.manifest import ColumnSpec

    frame = pd.DataFrame({"id": ["a", "b", "c", "d", "e"], "f1": [1.0, 2, 3, 4, 5], "label": ["pos", "meh", "neg", "meh", "new"]})
    holdout = pd.DataFrame({"id": ["h1", "h2", "h3"], "f1": [1.0, 2, 3], "label": ["pos", "meh", "neg"]})
    spec = ColumnSpec(**{**SPEC, "feature_cols": ("f1",)}, classes=("meh", "neg", "new", "pos"), positive_class="pos")
    kept, kept_holdout, judged, unknown = set_apart_unknown(frame, spec, frame.iloc[[0, 2]], holdout)
    assert kept["id"].tolist() == ["a", "c"] and kept_holdout["id"].tolist() == ["h1", "h3"]
    assert (judged.classes, judged.positive_class) == (("neg", "pos"), "pos")
    assert (unknown.counts, unknown.ids) == ({"meh": 2, "new": 1}, ["b", "d", "e"])
    assert unknown.line() == "classes 'meh' (2 rows), 'new' (1 row) are not among the reference's classes 'neg', 'pos'"


@pytest.mark.flow
def test_a_pipeline_of_a_batch_with_a_new_class_names_it_on_the_schema_guard(new_class_batch, keys, tmp_path, prefect_harness):
    """`pipeline` judges as `verify` does: the schema guard fires naming 'neutral', the guards judge the known classes."""
    root, _, neutral = new_class_batch
    res = invoke("pipeline", root / "batch", "--reference", root / "reference", "--holdout", root / "reference", "--observe",
                 "--ledger", "none", "--out", tmp_path / "rep", "--no-progress", env=_env(keys))
    assert res.exit_code == 1, res.output
    run = json.loads((tmp_path / "rep" / "report.json").read_text())["runs"]["pipeline"]
    line = "class 'neutral' (37 rows) is not among the reference's classes 'neg', 'pos'"
    guards = {g["name"]: g for g in run["guards"]}
    assert (guards["schema"]["verdict"], guards["schema"]["detail"]) == ("fired", f"{line}: rows not judged as flips; 400 rows valid")
    assert guards["schema"]["metrics"]["unknown_class"]["ids"] == neutral
    assert guards["label_contract"]["verdict"] == "pass" and set(guards["class_balance"]["metrics"]["shares"]) == {"neg", "pos"}
    assert run["verdict_detail"].endswith(f" fired; {line}")


# ---------------------------------------------------------------- 2: a batch with a renamed feature column


RENAMED = [
    ({"f3": "feat3"}, "error: the reference has no column(s) 'feat3' that the dataset uses, and has 'f3' that the dataset lacks: "
                      "renamed in this batch? ('f3' → 'feat3') (fix: rename 'feat3' back to 'f3' in the batch's source and ingest "
                      "it again, or leave it out: ingest the batch again with --ignore-cols feat3)"),
    ({"f1": "score", "f3": "feat3"}, "error: the reference has no column(s) 'score', 'feat3' that the dataset uses, and has 'f1', 'f3' "
                                     "that the dataset lacks: renamed in this batch? ('f1' → 'score', 'f3' → 'feat3') (fix: rename "
                                     "'score' back to 'f1', 'feat3' back to 'f3' in the batch's source and ingest it again, or leave "
                                     "them out: ingest the batch again with --ignore-cols score,feat3)"),
]


@pytest.mark.parametrize(("renames", "line"), RENAMED, ids=["one", "two"])
def test_a_renamed_feature_column_is_said_to_look_renamed(new_class_batch, keys, tmp_path, renames, line):
    """The batch has 'feat3' where the reference has 'f3': it said "the reference has no column(s) 'feat3' that the dataset
    uses: it belongs to other data (fix: pass as --reference a baseline ... made from this dataset)"."""
    root, _, _ = new_class_batch
    batch = _rows(200, "k", 5).rename(columns=renames)
    _write(tmp_path / "batch", batch, keys, ("neg", "pos"), feature_cols=tuple(renames.get(c, c) for c in SPEC["feature_cols"]))
    res = invoke("verify", tmp_path / "batch", "--reference", root / "reference", "--holdout", root / "reference", "--no-progress", env=_env(keys))
    assert (res.exit_code, res.stderr) == (2, line + "\n")


def test_only_columns_that_pair_up_one_for_one_look_renamed(new_class_batch, keys, tmp_path):
    """The reference's 'amount' is in the batch too (ignored at ingest): only 'f3' can be the renamed 'feat3'. One feature
    missing but two columns only the reference has: no pairs to name, it is other data (the line as before)."""
    from labelguard.errors import BadInput
    from labelguard.tasks.manifest import ColumnSpec
    from labelguard.tasks.verify import check_columns

    spec = ColumnSpec(**{**SPEC, "feature_cols": ("f1", "f2", "feat3")}, classes=("neg", "pos"))
    reference = _rows(10, "r", 1).assign(amount=1.5)
    with pytest.raises(BadInput, match=r"\('f3' → 'feat3'\)"):
        check_columns(spec, reference, "reference", "--reference", ["id", "f1", "f2", "feat3", "label", "amount"])
    with pytest.raises(BadInput, match="it belongs to other data"):  # 'amount' unknown to the batch: two candidates for one column
        check_columns(spec, reference, "reference", "--reference", ["id", "f1", "f2", "feat3", "label"])

    root, _, _ = new_class_batch
    _write(tmp_path / "batch", _rows(200, "k", 6).rename(columns={"f3": "feat3"}).drop(columns="f2"), keys, ("neg", "pos"),
           feature_cols=("f1", "feat3"))
    res = invoke("verify", tmp_path / "batch", "--reference", root / "reference", "--holdout", root / "reference", "--no-progress", env=_env(keys))
    assert (res.exit_code, res.stderr) == (2, "error: the reference has no column(s) 'feat3' that the dataset uses: it belongs to other data "
                                              "(fix: pass as --reference a baseline or holdout made from this dataset "
                                              "(e.g. labelguard baseline URI/holdout --out …))\n")


# ---------------------------------------------------------------- 3: the business sentence for a pipeline on one's own data


def test_the_console_gives_the_business_sentence_for_a_binary_class_named_positive():
    """`labelguard pipeline` on one's own binary data printed the metrics table and no sentence (only 3+ classes without a
    positive one got theirs); the demo's sentences are printed by the same code, once."""
    from labelguard import cli
    from labelguard.tasks.manifest import ColumnSpec
    from labelguard.tasks.report import RunResult
    from labelguard.tasks.train import evaluate
    from tests.test_fix_findings_r5 import _Fixed

    holdout = pd.DataFrame({"id": [f"h{i}" for i in range(10)], "f1": np.arange(10.0), "label": ["pos"] * 5 + ["neg"] * 5})
    spec = ColumnSpec(**{**SPEC, "feature_cols": ("f1",)}, classes=("neg", "pos"), positive_class="pos")
    run = RunResult(dataset="d", transform="targeted", rate=0.2, seed=0, observe=True, spec=spec,
                    metrics=evaluate(_Fixed(["pos"] * 3 + ["neg"] * 7), holdout, spec))
    with cli.out.capture() as captured:
        cli._print_runs({"pipeline": run})
    assert captured.get().splitlines()[-1] == ("Trained after the targeted transform, the model predicts 'pos' for 30.0% of the trusted "
                                               "holdout, where the true share of 'pos' is 50.0%: it understates the share of 'pos' by 20.0 points.")


@pytest.mark.flow
def test_pipeline_on_own_binary_data_prints_the_figure_of_its_own_training(tmp_path, keys, prefect_harness):
    """Through the CLI: the sentence is printed below the metrics table, its shares those of the model the run trained
    (report.json's metrics)."""
    from labelguard.tasks.manifest import DatasetRef

    frame = _rows(500, "r", 7)
    _write(tmp_path / "ds" / "holdout", frame.iloc[400:], keys, ("neg", "pos"), ref=DatasetRef("ds", "holdout", "holdout"))
    _write(tmp_path / "ds", frame.iloc[:400], keys, ("neg", "pos"), ref=DatasetRef("ds", "data"))
    res = invoke("pipeline", tmp_path / "ds", "--transform", "targeted", "--rate", 0.2, "--observe", "--ledger", "none",
                 "--out", tmp_path / "rep", "--no-progress", env=_env(keys))
    assert res.exit_code == 1, res.output
    m = json.loads((tmp_path / "rep" / "report.json").read_text())["runs"]["pipeline"]["metrics"]
    pred, true = m["predicted_positive_share"], m["true_positive_share"]
    assert pred < true - 0.05  # the targeted flips pos -> neg moved the trained model
    assert res.stdout.splitlines()[-2:] == [
        f"Trained after the targeted transform, the model predicts 'pos' for {pred:.1%} of the trusted holdout, where the true "
        f"share of 'pos' is {true:.1%}: it understates the share of 'pos' by {(true - pred) * 100:.1f} points.",
        f"report: {tmp_path}/rep/report.md  {tmp_path}/rep/report.json  {tmp_path}/rep/boundaries.png"]
