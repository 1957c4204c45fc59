"""Heavy-tailed features and the detectors' model (break-it r16 F4: clean Cauchy features fired the model gate in 3 of
10 seeds). The standardised logistic regression took its scale from the few largest values a sample drew, so a model
fitted on 2,000 clean rows scored 8-11 points below one fitted on 500; far-out values are now clipped at Tukey's outer
fences first. The data here are this file's own (four Cauchy features of unequal scale, seeds 3200-3202), not the
round's."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from labelguard.tasks import attacks, detectors, guards
from labelguard.tasks.detectors import OuterFence, feature_scaler
from labelguard.tasks.manifest import ColumnSpec

SPEC = ColumnSpec(feature_cols=("x1", "x2", "x3", "x4"), timestamp_col=None, classes=(0, 1))


def cauchy(seed: int, n: int = 2500) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Candidate (80 %) and trusted reference (20 %): Cauchy features, the label a bounded score of three of them plus noise."""
    rng = np.random.default_rng(seed)
    X = rng.standard_cauchy((n, 4)) * [1.0, 2.0, 50.0, 0.5]
    score = np.arctan(X[:, 0]) - np.arctan(X[:, 1] / 2) + 0.5 * np.arctan(X[:, 3] / 0.5)
    y = (score + rng.normal(0, 0.5, n) > 0).astype(int)
    frame = pd.DataFrame(X, columns=list(SPEC.feature_cols))
    frame["label"], frame["review_id"] = y, np.arange(n)
    cut = int(n * 0.8)
    return frame.iloc[:cut].reset_index(drop=True), frame.iloc[cut:].reset_index(drop=True)


def _standardised_only(family: str = "linear", rows: int | None = None):
    """The detectors' linear model before the fence (what r16 F4 ran)."""
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))


def _gate(cand: pd.DataFrame, ref: pd.DataFrame) -> guards.GuardResult:
    return guards.run_guards(guards.GuardContext(frame=cand, spec=SPEC, reference=ref, holdout=ref), ["model_gate"])[0]


def test_the_fence_clips_at_tukeys_outer_fences_and_leaves_coinciding_quartiles_alone():
    X = np.column_stack([np.arange(1.0, 101.0), np.r_[np.zeros(90), np.full(10, 7.0)], np.r_[np.arange(99.0), 1e6]])
    fence = OuterFence().fit(X)
    # column 0: quartiles 25.75 and 75.25, IQR 49.5: fences at 25.75 - 148.5 and 75.25 + 148.5 (nothing clipped)
    assert fence.low_[0] == pytest.approx(-122.75) and fence.high_[0] == pytest.approx(223.75)
    # column 1: both quartiles 0 (a mostly-zero count): no fence, the 7s stay
    assert fence.low_[1] == -np.inf and fence.high_[1] == np.inf
    out = fence.transform(X)
    assert np.array_equal(out[:, :2], X[:, :2])
    # column 2: quartiles 24.75 and 74.25 of 0..98 and 1e6: the 1e6 is clipped to 74.25 + 3 * 49.5
    assert out[-1, 2] == pytest.approx(222.75) and np.array_equal(out[:-1, 2], X[:-1, 2])
    # Gaussian features: the fences sit at about 4.7 standard deviations; 100,000 values, none clipped at this seed
    g = np.random.default_rng(3).normal(size=(100_000, 1))
    assert np.array_equal(OuterFence().fit(g).transform(g), g)
    assert [type(s).__name__ for s in feature_scaler()] == ["OuterFence", "StandardScaler"]
    assert [type(s).__name__ for s in detectors._model("linear")] == ["OuterFence", "StandardScaler", "LogisticRegression"]


@pytest.mark.parametrize("seed", [3200, 3202])
def test_clean_cauchy_features_pass_the_model_gate_that_a_standardised_model_fired(seed, monkeypatch):
    cand, ref = cauchy(seed)
    g = _gate(cand, ref)
    assert g.verdict == "pass", g.detail
    # both models now fit the bulk of the data: the candidate's model within a point of the reference's, both above 0.84
    assert g.metrics["accuracy"] >= g.metrics["reference_accuracy"] - 0.01
    assert min(g.metrics["accuracy"], g.metrics["reference_accuracy"]) > 0.84
    # the model before the fence, on the same clean rows: the candidate's 2,000 rows give the worse model, and it fires
    monkeypatch.setattr(detectors, "_model", _standardised_only)
    monkeypatch.setattr(detectors, "_CHOICES", {})
    old = _gate(cand, ref)
    assert old.verdict == "fired"
    assert old.metrics["reference_accuracy"] - old.metrics["accuracy"] > 0.08


def test_flips_on_cauchy_features_still_fire_the_gate():
    """The fence is on features only: 20 % of the class-1 rows relabelled 0 (targeted) still costs accuracy the gate sees."""
    cand, ref = cauchy(3200)
    res = attacks.flip_labels(cand, SPEC, attack="targeted", rate=0.1, seed=5)
    assert len(res.flipped) == 200
    g = _gate(res.frame, ref)
    assert g.verdict == "fired", g.detail
    assert g.metrics["reference_accuracy"] - g.metrics["accuracy"] > 0.02
