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


from tests.test_drift import lake  # noqa: E402,F401 - eight clean signed days with a reference and a ledger


def test_drift_json_on_a_forged_day_record_says_which_record_and_why(lake, keys, tmp_path):
    """Break-it r14 F16: `drift --json FILE` on a forged day record exited 1 and wrote no JSON, so a CI job reading the
    JSON on exit 1 (as it does for verify) found no file. Now a one-entry list: the refusal, with the record's date and path."""
    import json

    from tests.clirun import invoke
    from tests.test_drift import _alarmed_lake

    root, book, _, _ = _alarmed_lake(lake, keys)
    path = root.root / "_drift" / "date=2026-03-09.json"
    doc = json.loads(path.read_text())
    doc["payload"]["alarm"] = False
    path.write_text(json.dumps(doc))
    out = tmp_path / "d.json"
    res = invoke("drift", root.uri, "--ledger", book.path, "--json", out,
                 env={"LABELGUARD_VERIFY_KEY": str(keys[1]), "LABELGUARD_SIGNING_KEY": str(keys[0]), "PREFECT_API_URL": "http://127.0.0.1:9/api"})
    where = f"{root.uri}/_drift/date=2026-03-09.json"
    assert res.exit_code == 1, res.stderr
    assert res.stderr.startswith(f"guard fired: day-record fired, cannot be trusted (the drift record {where} failed verification: bad-signature)")
    assert json.loads(out.read_text()) == [{
        "date": "2026-03-09", "uri": where, "rows": None, "alarm": True, "fired": ["day-record"], "integrity": "untrusted-input",
        "integrity_detail": f"the drift record {where} failed verification: bad-signature", "guards": {}, "tests": [], "suspect_ids": [],
        "status": "untrusted input",
        "untrusted_input": {"role": "day-record", "uri": where, "detail": f"the drift record {where} failed verification: bad-signature"},
    }]
