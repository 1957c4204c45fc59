"""Attack behaviour that the fresh seed-11 mutation sample of tasks/attacks.py (issue 13, fourth
session) found untested: the greedy attack breaks ties between identical rows with its seed, not by
row order (without it, every seed would flip the first copies of a duplicated row)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from labelguard.tasks.attacks import flip_labels
from labelguard.tasks.manifest import ColumnSpec

SPEC = ColumnSpec(timestamp_col=None)


def test_greedy_breaks_ties_between_identical_rows_with_its_seed():
    """Four feature points, ten identical rows each: every copy of a point scores the same, so which
    copies the greedy attack flips is decided by the seed's tie-breaking noise alone."""
    points = np.array([[0.0, 0.0], [1.0, 0.2], [2.0, 1.0], [3.0, 1.4]])
    frame = pd.DataFrame({"review_id": [f"r{i:02d}" for i in range(40)], "label": np.repeat([0, 0, 1, 1], 10),
                          "polarity": np.repeat(points[:, 0], 10), "intensity": np.repeat(points[:, 1], 10)})
    firsts = set(range(0, 40, 10)) | set(range(1, 40, 10))  # the first two copies of each point
    picked = []
    for seed in range(6):
        res = flip_labels(frame, SPEC, attack="greedy", rate=0.05, seed=seed)
        positions = [int(r[1:]) for r in res.flipped_ids]
        assert len(positions) == res.budget == 2
        picked.append(positions)
    assert not all(set(p) <= firsts for p in picked), picked
    assert len({tuple(sorted(p)) for p in picked}) > 1
