"""Break-it round 5 findings 5, 10, 11 and parts of 12 (console business figure, poison's column options, targeted on
a rare class in poison and drill, watch's Ctrl-C, drift's served flow, `list` of attack options), each pinned with
its exit code, its exact one-line message and exact values, on small data of our own."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.clirun import invoke


class _Fixed:
    """A fitted model whose holdout predictions are given (evaluate only calls predict)."""

    def __init__(self, predictions):
        self.predictions = np.array(predictions, dtype=object)

    def predict(self, X):
        assert len(X) == len(self.predictions)
        return self.predictions


def test_a_multi_class_run_without_a_named_class_prints_its_class_share_figure_on_the_console():
    """Finding 5: with 3+ classes and none named the console's "pred +"/"true +" were `—` and nothing else said
    which class's predicted share moved; only `--out`'s report.md had the sentence."""
    from labelguard import cli
    from labelguard.tasks.manifest import ColumnSpec
    from labelguard.tasks.report import RunResult
    from labelguard.tasks.train import evaluate

    holdout = pd.DataFrame({"review_id": [f"h{i}" for i in range(10)], "f0": np.arange(10.0),
                            "label": ["a", "a", "a", "a", "b", "b", "b", "c", "c", "c"]})
    spec = ColumnSpec(feature_cols=("f0",), classes=("a", "b", "c"), positive_class=None)
    run = RunResult(dataset="d", transform="honest", rate=0.0, seed=0, observe=True, spec=spec,
                    metrics=evaluate(_Fixed(["a", "a", "a", "a", "b", "b", "b", "b", "b", "c"]), holdout, spec))
    with cli.out.capture() as captured:
        cli._print_runs({"pipeline": run})
    lines = captured.get().splitlines()
    assert "│ pipeline │ honest" in lines[-3] and lines[-3].rstrip().endswith("│      — │      — │")
    assert lines[-1] == ("Trained after the honest transform, the model's predicted vs. true class shares on the trusted holdout are "
                         "'a' 40.0% vs 40.0%, 'b' 50.0% vs 30.0%, 'c' 10.0% vs 30.0%: the largest shift is 'b', overstated by 20.0 points.")
