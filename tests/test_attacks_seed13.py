"""Attack behaviour that the fresh seed-13 mutation sample of tasks/attacks.py (issue 13, sixth
session) found untested: the fix of the spread-over-classes targeted refusal, float labels that are
whole numbers, and the subset attack's segment where the top quantile is tied or nothing varies."""

from __future__ import annotations

import numpy as np
import pytest

from labelguard.errors import BadInput
from labelguard.tasks.attacks import flip_labels, segment_mask
from labelguard.tasks.manifest import ColumnSpec
from labelguard.tasks.synthetic import make_reviews


def test_targeted_over_several_classes_beyond_the_source_says_what_to_do():
    df = make_reviews(300, n_classes=3, separation=3.0, seed=21)
    spec = ColumnSpec(classes=(0, 1, 2), positive_class=2)
    with pytest.raises(BadInput) as err:
        flip_labels(df, spec, attack="targeted", rate=0.9, seed=0)
    assert err.value.problem == f"targeted needs 270 rows of class 2 but only {int((df['label'] == 2).sum())} are available"
    n_source = int((df["label"] == 2).sum())
    # the fix names the largest rate the source class can carry (floored to 2 places, so it fits)
    # and the flips that rate stands for: every row of the source class
    largest = int(n_source / 300 * 100) / 100
    assert err.value.fix == (
        f"pass --rate {largest:g} or lower ({n_source} flips of 300 rows), "
        "or choose another source class"
    )


def test_float_labels_that_are_whole_numbers_are_flipped_as_classes():
    df = make_reviews(200, seed=3)
    df["label"] = df["label"].astype(float)
    res = flip_labels(df, ColumnSpec(), attack="random", rate=0.1, seed=1)
    assert len(res.flipped_ids) == 20
    assert set(res.frame["label"].unique()) == {0.0, 1.0}


def test_a_tied_top_quantile_takes_only_the_values_above_it():
    col = np.array([0.0] * 90 + [1.0] * 8 + [2.0] * 2)
    mask = segment_mask(col[:, None], segment_share=0.03)
    assert np.flatnonzero(mask).tolist() == [98, 99]


def test_constant_features_leave_no_segment_and_say_how_to_name_one():
    with pytest.raises(BadInput) as err:
        segment_mask(np.ones((10, 2)))
    assert err.value.problem == "every feature column is constant: the subset attack has no segment to take"
    assert err.value.fix == "pass a segment with --option where=\"COLUMN > VALUE\""
