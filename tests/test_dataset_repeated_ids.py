"""Which row and which part a seal refusal names, over several parts (the 8 survivors of the eleventh session's
mutation run of ``_refuse_repeated_ids``: part offsets at and past a boundary, and "twice in" vs "in both")."""

from __future__ import annotations

import pandas as pd
import pytest

from labelguard.errors import BadInput
from labelguard.tasks.dataset import _refuse_repeated_ids
from labelguard.tasks.manifest import ColumnSpec

OBJECTS = [{"key": "p0.parquet", "rows": 3}, {"key": "p1.parquet", "rows": 4}, {"key": "p2.parquet", "rows": 5}]  # rows 0-2, 3-6, 7-11


def _ids(**at) -> pd.DataFrame:
    ids = pd.array([f"r{i}" for i in range(12)], dtype="string")
    for pos, value in at.items():
        ids[int(pos.removeprefix("at"))] = value
    return pd.DataFrame({"review_id": ids, "label": [0, 1] * 6})


@pytest.mark.parametrize(("position", "named"), [(3, "first row 0 of p1.parquet"), (8, "first row 1 of p2.parquet"), (2, "first row 2 of p0.parquet")])
def test_an_empty_id_is_named_by_its_row_within_its_own_part(position, named):
    with pytest.raises(BadInput) as err:
        _refuse_repeated_ids(_ids(**{f"at{position}": None}), ColumnSpec(), OBJECTS)
    assert err.value.problem == f"1 row(s) have an empty id in 'review_id', {named}"


@pytest.mark.parametrize(("first", "second", "where"), [(4, 9, "in both p1.parquet and p2.parquet"), (4, 6, "twice in p1.parquet"),
                                                         (0, 11, "in both p0.parquet and p2.parquet")])
def test_a_repeated_id_names_the_parts_of_its_first_and_second_rows(first, second, where):
    frame = _ids()
    frame.loc[second, "review_id"] = frame.loc[first, "review_id"]
    with pytest.raises(BadInput) as err:
        _refuse_repeated_ids(frame, ColumnSpec(), OBJECTS)
    assert err.value.problem == f"id 'r{first}' is {where} (1 repeated id(s) in 12 rows)"
