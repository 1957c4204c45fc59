"""drift on a lake with a day missing and a day that is an earlier day's rows again (break-it r11 F7): each is named, and the
repeated day does not join the clean window (it would count one day's variation twice)."""

from __future__ import annotations

import numpy as np

from labelguard.tasks import drift
from labelguard.tasks.manifest import ColumnSpec, load_signing_key, load_verify_key
from labelguard.tasks.simulate import DayPlan, make_day
from labelguard.tasks.storage import LocalStore

SPEC = ColumnSpec(positive_class=1)


def _day(i: int):
    return make_day(i, f"2026-03-{i + 1:02d}", np.random.default_rng([5, i]), np.array([1.0, 0.0]), DayPlan(rows=600))


def test_a_repeated_day_and_a_missing_day_are_named_and_the_repeat_is_not_a_clean_day(tmp_path, keys):
    root = LocalStore(tmp_path / "lake")
    key = load_signing_key(keys[0])
    frames = {i: _day(i) for i in (0, 1, 2, 4, 5)}  # no 2026-03-04
    frames[6] = frames[5].sample(frac=1.0, random_state=1)  # 2026-03-07: the rows of 2026-03-06 again, shuffled
    for i, frame in frames.items():
        drift.ingest_partition(root, frame, SPEC, key, day=f"2026-03-{i + 1:02d}", source={"kind": "test"},
                               holdout_fraction=0.3 if i == 0 else 0.0, dataset_id="reviews-test")
    results = drift.check_partitions(root.uri, load_verify_key(keys[1]), signing_key=key)
    by = {r.date: r for r in results}
    assert [r.date for r in results] == ["2026-03-01", "2026-03-02", "2026-03-03", "2026-03-05", "2026-03-06", "2026-03-07"]
    assert {d: r.repeat_of for d, r in by.items()} == {**{d: "" for d in by}, "2026-03-07": "2026-03-06"}
    assert {d: r.missing_before for d, r in by.items()} == {**{d: [] for d in by}, "2026-03-05": ["2026-03-04"]}
    assert not by["2026-03-07"].alarm and by["2026-03-07"].status == "no alarm; the rows of 2026-03-06 again: not a clean day"
    records = drift.read_records(root, load_verify_key(keys[1]), dataset_id="reviews-test")
    assert records["2026-03-07"]["repeat_of"] == "2026-03-06" and not drift.is_clean(records["2026-03-07"])
    assert drift.is_clean(records["2026-03-06"])
    assert drift.day_notes([r.to_dict() for r in results]) == [
        "2026-03-05: no partition for 2026-03-04 before it (ingest a late day with --partition date=2026-03-04 and run drift again: "
        "unchecked days are checked)",
        f"2026-03-07: its {len(frames[5])} rows are the rows of 2026-03-06 again (same ids, labels and features): a re-run export? "
        "it was checked but does not count as a clean day (delete the partition if it is a copy)",
    ]
    assert "the rows of 2026-03-06 again" in drift.markdown_table(results)


def test_rows_digest_ignores_row_order_but_not_a_label():
    frame = _day(1)
    assert drift.rows_digest(frame) == drift.rows_digest(frame.iloc[::-1])
    flipped = frame.copy()
    flipped.loc[flipped.index[0], "label"] = 1 - flipped.loc[flipped.index[0], "label"]
    assert drift.rows_digest(flipped) != drift.rows_digest(frame)
