"""Break-it round 16: the findings of bench/findings/breakit-r16.md (adaptive flips on data labelguard was never tuned
on; the CI-gate view). Each test failed on the code before its fix."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from tests.clirun import invoke
from tests.test_fix_findings_r13 import ingest_file


def _pocket(n: int = 2500, seed: int = 1) -> pd.DataFrame:
    """bench/findings/r16/gen.py's `pocket`: a linear rule on f0 + f1 whose labels are inverted where f5 > 1.645 (5 %):
    an exception gradient boosting learns and a linear model cannot."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 10))
    lin = (X[:, 0] + X[:, 1] + rng.normal(scale=0.3, size=n) > 0).astype(int)
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(10)])
    frame.insert(0, "review_id", np.arange(n))
    frame["label"] = np.where(X[:, 5] > 1.645, 1 - lin, lin)
    return frame


# ---------------------------------------------------------------- finding 1: the gate measures the detectors' model


GATE_NOTE = ("the model gate measured logistic regression models, not the gboost model this run trains: "
             "damage that only gboost feels is not bounded by it")


def test_pipeline_says_its_gate_did_not_measure_the_model_it_trains(tmp_path, key_env, prefect_harness):
    """`pipeline --model gboost` on data where flips that only a tree model feels cost it 4.6 points passed with a verdict
    that spoke for the model it trained; the gate had measured logistic regression. The verdict says so now, and
    report.json names the model (it named none)."""
    src = tmp_path / "pocket.csv"
    _pocket().to_csv(src, index=False)
    ds = ingest_file(tmp_path, "pocket", key_env, src, id_col="review_id")

    res = invoke("pipeline", ds, "--model", "gboost", "--out", tmp_path / "gb", "--no-progress")
    assert res.exit_code == 0, res.stderr
    verdict = [line for line in res.stdout.splitlines() if line.startswith("verdict: ")]
    assert len(verdict) == 1 and verdict[0].startswith("verdict: pass — no guard fired; ") and verdict[0].endswith(f"; {GATE_NOTE}"), verdict
    run = json.loads((tmp_path / "gb" / "report.json").read_text())["runs"]["pipeline"]
    assert run["model"] == "gboost" and run["verdict"] == "pass" and run["verdict_detail"].endswith(f"; {GATE_NOTE}")

    res = invoke("pipeline", ds, "--out", tmp_path / "lr", "--no-progress")  # logreg: the family the gate measured
    assert res.exit_code == 0, res.stderr
    assert "model gate measured" not in res.stdout
    run = json.loads((tmp_path / "lr" / "report.json").read_text())["runs"]["pipeline"]
    assert run["model"] == "logreg" and "model gate measured" not in run["verdict_detail"]
