"""Found by the lead while trying the CLI as a user (session 29)."""

from __future__ import annotations

import pandas as pd
import pytest

from labelguard.errors import SchemaViolation
from labelguard.tasks.manifest import ColumnSpec
from labelguard.tasks.sources import check_schema


def _frame(ids) -> pd.DataFrame:
    return pd.DataFrame({"review_id": pd.array(ids, dtype=object), "polarity": [0.5] * len(ids), "intensity": [1.0] * len(ids),
                         "label": [i % 2 for i in range(len(ids))]})


def test_repeated_ids_are_counted_as_ids_and_rows_with_where_the_first_three_are():
    """An ingest of 40 rows with 5 repeated ids said '10 schema failure(s), first: ... value 0 at row 0': the user had one
    row of ten to go on, and 'failures' counted rows, not ids."""
    ids = [i % 30 if i < 35 else i for i in range(40)]
    with pytest.raises(SchemaViolation) as err:
        check_schema(_frame(ids), ColumnSpec(classes=(0, 1), timestamp_col=None))
    assert err.value.problem == "5 ids repeat in 'review_id' (10 rows): 0 at rows 0 and 30, 1 at rows 1 and 31, 2 at rows 2 and 32, ..."
    assert len(err.value.failure_cases) == 10


def test_an_id_repeated_more_than_four_times_lists_three_rows_and_the_rest_as_a_count():
    ids = ["a", "b", "a", "a", "c", "a", "a", "c", "a"]
    with pytest.raises(SchemaViolation) as err:
        check_schema(_frame(ids), ColumnSpec(classes=(0, 1), timestamp_col=None))
    assert err.value.problem == "2 ids repeat in 'review_id' (8 rows): 'a' at rows 0, 2, 3 and 3 more, 'c' at rows 4 and 7"
