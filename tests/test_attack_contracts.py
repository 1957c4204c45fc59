"""Two-sided attack contracts over every registered strategy: exact flip budget (no escape hatch),
seed sensitivity, truth == changed rows, on binary and multi-class data with more than two features."""

from __future__ import annotations

import pandas as pd
import pytest

from labelguard.tasks import attacks
from labelguard.tasks.attacks import flip_labels
from labelguard.tasks.manifest import ColumnSpec
from labelguard.tasks.synthetic import make_reviews
from tests.test_guard_contracts import with_extra_features

ALL = sorted(attacks.REGISTRY)
ROWS = 300

# Strategies whose choice is fully determined by the data: the seed only breaks exact ties, which
# continuous features never produce. Everything else must pick other rows under another seed.
SEED_FREE = {"nearest", "farthest"}


def _data(n_classes: int, n_extra: int) -> tuple[pd.DataFrame, ColumnSpec]:
    frame = with_extra_features(make_reviews(ROWS, n_classes=n_classes, separation=3.0, seed=31), n_extra, 31)
    feats = ("polarity", "intensity") + tuple(f"noise_{j}" for j in range(n_extra))
    # a named positive class: with more than two classes the default targeted attack needs one
    return frame, ColumnSpec(feature_cols=feats, classes=tuple(range(n_classes)), positive_class=n_classes - 1)


SHAPES = [(2, 0), (2, 2), (3, 1)]


@pytest.mark.parametrize("n_classes, n_extra", SHAPES, ids=["binary-2f", "binary-4f", "3class-3f"])
@pytest.mark.parametrize("rate", [0.01, 0.1])
@pytest.mark.parametrize("name", ALL)
def test_attack_spends_exactly_its_budget_and_truth_is_the_changed_rows(name, rate, n_classes, n_extra):
    df, spec = _data(n_classes, n_extra)
    res = flip_labels(df, spec, attack=name, rate=rate, seed=3)
    budget = round(rate * ROWS)
    assert res.budget == budget
    if name == "subset":
        # the default segment is the top 3 % of the first feature: 9 rows; the budget beyond it cannot be spent
        segment = int((df["polarity"] >= df["polarity"].quantile(0.97)).sum())
        assert segment == 9
        assert len(res.flipped) == min(budget, segment)
        assert res.note == ("" if budget <= segment else f"spent {segment} of {budget} flips: the segment holds only {segment} rows, fewer than the budget of {budget}")
    else:
        assert len(res.flipped) == budget and res.note == ""
    changed = df.loc[df[spec.label_col].to_numpy() != res.frame[spec.label_col].to_numpy(), spec.id_col]
    assert sorted(changed) == sorted(res.flipped_ids)
    truth = res.flipped.set_index("id")
    now = res.frame.set_index(spec.id_col)[spec.label_col]
    before = df.set_index(spec.id_col)[spec.label_col]
    assert (truth["new"].to_numpy() == now.loc[truth.index].to_numpy()).all()
    assert (truth["old"].to_numpy() == before.loc[truth.index].to_numpy()).all()
    assert set(res.frame[spec.label_col]) <= set(spec.classes)
    untouched = [c for c in df.columns if c != spec.label_col]
    pd.testing.assert_frame_equal(res.frame[untouched], df[untouched])


@pytest.mark.parametrize("n_classes, n_extra", [(2, 0), (3, 2)], ids=["binary-2f", "3class-4f"])
@pytest.mark.parametrize("name", ALL)
def test_seed_decides_the_flips(name, n_classes, n_extra):
    df, spec = _data(n_classes, n_extra)
    opts = {"segment_share": 0.2} if name == "subset" else {}  # a segment larger than the budget, so the seed has a choice
    a = flip_labels(df, spec, attack=name, rate=0.1, seed=1, **opts).flipped
    again = flip_labels(df, spec, attack=name, rate=0.1, seed=1, **opts).flipped
    b = flip_labels(df, spec, attack=name, rate=0.1, seed=2, **opts).flipped
    pd.testing.assert_frame_equal(a, again)
    assert len(a) == len(b) == 30
    if name in SEED_FREE:
        pd.testing.assert_frame_equal(a, b)
    else:
        assert sorted(a["id"]) != sorted(b["id"]), f"{name} ignores its seed"


def test_multiclass_random_flips_reach_every_other_class():
    df, spec = _data(3, 1)
    res = flip_labels(df, spec, attack="random", rate=0.5, seed=0)
    pairs = set(zip(res.flipped["old"], res.flipped["new"]))
    assert pairs == {(a, b) for a in range(3) for b in range(3) if a != b}


def test_cluster_flips_a_spatially_tight_group():
    """The flipped rows are the budget nearest to one anchor: no unflipped row is closer to their centre
    than the farthest flipped one (in standardized feature space)."""
    import numpy as np

    df, spec = _data(2, 2)
    res = flip_labels(df, spec, attack="cluster", rate=0.1, seed=4)
    X = df[list(spec.feature_cols)].to_numpy()
    Z = (X - X.mean(0)) / X.std(0)
    is_flipped = df[spec.id_col].isin(res.flipped_ids).to_numpy()
    spread_in = np.linalg.norm(Z[is_flipped] - Z[is_flipped].mean(0), axis=1).mean()
    spread_all = np.linalg.norm(Z - Z.mean(0), axis=1).mean()
    assert spread_in < 0.5 * spread_all
