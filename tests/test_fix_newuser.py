"""Findings of a new user trying the detector-model choice (session 22).

When the trusted rows are fewer than 50, the model family is chosen on the candidate's rows (the data being checked,
whose labels may be flipped); the console called them "trusted rows" and the JSON did not say whose rows they were."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_circles

from labelguard.tasks.detectors import CHOICE_MIN_ROWS, detector_model
from labelguard.tasks.manifest import ColumnSpec

SPEC = ColumnSpec(feature_cols=("x1", "x2"), timestamp_col=None, classes=(0, 1))


def rings(n: int, seed: int) -> pd.DataFrame:
    X, y = make_circles(n, noise=0.08, factor=0.5, random_state=seed)
    frame = pd.DataFrame(X, columns=["x1", "x2"])
    frame["label"], frame["review_id"] = y, np.arange(n)
    return frame


def test_the_choice_says_whose_rows_it_was_measured_on():
    cand, ref = rings(300, 1), rings(100, 2)
    with detector_model(cand, SPEC, ref.iloc[:CHOICE_MIN_ROWS]) as on_ref:
        pass
    with detector_model(cand, SPEC, ref.iloc[: CHOICE_MIN_ROWS - 1]) as on_cand:
        pass
    assert (on_ref.measured_on, on_ref.rows, on_ref.to_dict()["measured_on"]) == ("reference", 50, "reference")
    assert (on_cand.measured_on, on_cand.rows, on_cand.to_dict()["measured_on"]) == ("candidate", 300, "candidate")


@pytest.fixture(scope="module")
def small_holdout_rings(tmp_path_factory, keys):
    from tests.test_detector_model import signed_rings

    root = tmp_path_factory.mktemp("rings_small_holdout")
    frame = rings(240, 3)
    cand, ref = frame.iloc[:200].reset_index(drop=True), frame.iloc[200:].reset_index(drop=True)  # 40 trusted rows
    return root, signed_rings(root, cand, ref, keys)


def test_verify_does_not_call_the_candidates_rows_trusted(small_holdout_rings):
    from tests.clirun import invoke

    root, env = small_holdout_rings
    res = invoke("verify", root / "ds", "--guards", "manifest,schema,confident_learning",
                 "--json", root / "v.json", "--ledger", "none", env=env)
    model = json.loads((root / "v.json").read_text())["detector_model"]
    assert (model["family"], model["rows"], model["measured_on"]) == ("kernel", 200, "candidate")
    assert (f"detector model: kernel logistic regression (RBF, Nystroem): on the candidate's 200 rows (fewer than 50 trusted "
            f"rows to choose on) its out-of-fold log-loss is {model['kernel_log_loss']:.3f} against "
            f"{model['linear_log_loss']:.3f} for a linear model\n") in res.stdout
    assert "trusted rows its out-of-fold" not in res.stdout
