"""Problems break-it round 9 saw but did not file, fixed later (see bench/findings/breakit-r9.md)."""

from __future__ import annotations

import pytest

from labelguard.errors import DatasetMissing
from labelguard.tasks.lake import resolve_parts


def test_sealing_a_folder_of_csv_says_seal_signs_parquet_and_ingest_reads_csv(tmp_path):
    lake = tmp_path / "csvlake"
    lake.mkdir()
    for name in ("b.csv", "a.csv"):
        (lake / name).write_text("id,label,x\n1,0,0.5\n2,1,1.5\n")
    with pytest.raises(DatasetMissing) as err:
        resolve_parts(str(lake))
    assert err.value.problem == f"no Parquet objects at {lake}, only 2 CSV file(s) (a.csv, b.csv)"
    # break-it r14 F5: the fix spoke of seal to an ingest user, and its one-file command ingested half the folder as the whole
    assert err.value.fix == (
        "a folder of CSV files is not read as one dataset: join them into one file and pass it to `labelguard ingest --source FILE --dest URI`, "
        f"or ingest each as a daily partition (`labelguard ingest --source {lake}/a.csv --dest URI --partition date=YYYY-MM-DD`); "
        "seal signs only Parquet where it lies"
    )
    (lake / "b.csv").unlink()
    with pytest.raises(DatasetMissing) as err:
        resolve_parts(str(lake))
    assert err.value.fix == f"`labelguard ingest --source {lake}/a.csv --dest URI` reads one CSV file into a signed dataset; seal signs only Parquet where it lies"


def test_a_folder_with_neither_parquet_nor_csv_keeps_the_plain_message(tmp_path):
    (tmp_path / "notes.json").write_text("x")
    with pytest.raises(DatasetMissing) as err:
        resolve_parts(str(tmp_path))
    assert err.value.problem == f"no Parquet objects at {tmp_path}"


from tests.test_fixleft_b import small_lake  # noqa: E402,F401 - three clean signed 400-row days


def test_a_drift_day_copied_from_another_date_shows_the_rows_it_holds_not_0(small_lake):
    """Another day's signed files copied under a new date: `wrong-dataset`, and the table says 400 rows, not `rows 0`."""
    import shutil

    from labelguard.tasks import drift

    root, sign, verify, _ = small_lake
    shutil.copytree(root.root / "date=2026-03-02", root.root / "date=2026-03-04")
    res = {r.date: r for r in drift.check_partitions(root.uri, verify, signing_key=sign)}
    day = res["2026-03-04"]
    assert (day.rows, day.integrity, day.alarm) == (400, "wrong-dataset", True)
    assert res["2026-03-02"].rows == 400


def test_the_warm_up_note_says_noise_rate_compares_with_the_reference_one_day_longer():
    """simulate --days 8: noise_rate's day-6 test was still against the signed reference alone (the plot shaded it so)
    while the note said the warm-up ended on day 5."""
    from labelguard.tasks.drift import warmup_note

    def day(date, warming, detail):
        return {"date": date, "warming_up": warming, "guards": {"noise_rate": {"detail": detail}}}

    alone = "0.0% of rows labelled 0 confidently disagree with the reference model vs 0.0% in the signed reference (z=0.0)"
    clean = "0.3% of rows labelled 0 confidently disagree with the reference model vs 0.1% on clean days (z=0.4)"
    days = [day(f"2026-03-0{i}", i <= 5, alone if i <= 6 else clean) for i in range(1, 9)]
    head = ("warm-up 2026-03-01 to 2026-03-05: fewer than 5 clean days (the reference counts as one), so the manifest was checked "
            "and noise_rate compared with the signed reference alone")
    tail = "; label_prior, class_conditional need 5 clean days"
    assert warmup_note(days) == head + " (noise_rate until 2026-03-06: its clean-day null leaves the reference out and needs 5 clean partitions)" + tail
    days[5]["guards"]["noise_rate"]["detail"] = clean  # noise_rate's own null from day 6: nothing more to say
    assert warmup_note(days) == head + tail
