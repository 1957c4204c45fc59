"""Attack behaviour that the fresh seed-12 mutation sample of tasks/attacks.py (issue 13, fifth
session) found untested: the exact lines of the targeted attack's two refusals (tests elsewhere
matched only part of the problem)."""

from __future__ import annotations

import pytest

from labelguard.errors import BadInput
from labelguard.tasks.attacks import flip_labels
from labelguard.tasks.manifest import ColumnSpec
from labelguard.tasks.synthetic import make_reviews


@pytest.mark.parametrize(("options", "rate", "line"), [
    ({"source": 1, "target": 1}, 0.1, "targeted source and target are both 1 (fix: pick two different classes)"),
    ({"source": 1, "target": 0}, 0.9, "targeted needs 90 rows of class 1 but only 51 are available (fix: pass --rate 0.51 or lower (51 flips of 100 rows), or choose another source class)"),
])
def test_targeted_refusals_are_one_line_with_their_fix(options, rate, line):
    frame = make_reviews(100, seed=2)
    assert int((frame["label"] == 1).sum()) == 51
    with pytest.raises(BadInput) as err:
        flip_labels(frame, ColumnSpec(), attack="targeted", rate=rate, seed=0, **options)
    assert str(err.value) == line
