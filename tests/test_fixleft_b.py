"""Known findings in the drill report, drift, watch, attacks, simulate and id order, each pinned on small data of our own."""

from __future__ import annotations

import os
import re
import socket
from datetime import datetime, timezone

import pytest

from labelguard.tasks import drill, drill_report


def _cell(attack, rate, vector, verdict, acc_points, *, seed=0, share_points=0.0):
    return {"attack": attack, "rate": rate, "seed": seed, "model": "logreg", "vector": vector, "flips": round(rate * 400),
            "verdict": verdict, "verdict_detail": f"why {verdict}", "caught": verdict == "fired", "fired": ["class_balance"] if verdict == "fired" else [],
            "first_guard": "class_balance" if verdict == "fired" else None, "guards": {}, "suspects": {"count": 0, "precision": None, "recall": None, "f1": None},
            "clean": {"accuracy": 0.95}, "poisoned": {"accuracy": 0.95 - acc_points / 100},
            "damage": {"accuracy_points": acc_points, "share_points": share_points, "share_class": "1",
                       "material": acc_points >= drill.MATERIAL_POINTS or abs(share_points) >= drill.MATERIAL_POINTS}}


@pytest.fixture
def heatmap(monkeypatch):
    """The drill heat map's matplotlib figure, drawn on a plan of three vectors with two uncaught cells."""
    import matplotlib

    matplotlib.use("Agg")
    plan = drill.plan_drill(attacks=["targeted", "random"], rates=[0.1, 0.3], seeds=2, models=["logreg"], vectors=["transform", "at-rest", "source"])
    cells = [_cell(a, r, v, "fired", 3.0, seed=s) for a in plan.attacks for r in plan.rates for v in plan.vectors for s in (0, 1)]
    cells = [c for c in cells if not (c["attack"] == "random" and c["rate"] == 0.1 and c["vector"] == "source")]
    cells += [
        # the poisoned model scored 0.5 points *higher* (accuracy lost -0.5) while the positive share rose 0.5 points
        _cell("random", 0.1, "source", "inconclusive", -0.5, seed=0, share_points=0.5),
        _cell("random", 0.1, "source", "pass", 0.25, seed=1, share_points=-2.0),
    ]
    figures = []
    monkeypatch.setattr(drill_report, "_png", lambda fig: figures.append(fig) or "png")
    drill_report.plot_heatmap(cells, plan)
    return figures[0], cells


def test_heatmap_uncaught_cell_reads_as_the_tables_do(heatmap):
    """An uncaught cell shows the worst missed seed's accuracy lost and share moved with the tables'
    signs, both from that seed (before: `-0.5/0.5`, the maximum accuracy points and the unsigned
    maximum share, possibly of two different seeds, under a legend reading "points lost")."""
    fig, cells = heatmap
    source = fig.axes[2]
    texts = [t.get_text() for t in source.texts if "/" in t.get_text()]
    assert texts == ["silent 2/2\nacc lost 0.2\nshare -2.0"]
    # the uncaught-cells table of report.md lists that seed with the same figures
    plan = drill.plan_drill(attacks=["targeted", "random"], rates=[0.1, 0.3], seeds=2, models=["logreg"], vectors=["transform", "at-rest", "source"])
    md = drill_report.render_markdown(drill_report.summarize(cells, [], plan), plan).splitlines()
    assert "| random | 0.1 | 1 | logreg | source | 40 | silent pass | 0.2 | -2.0 (1) |" in md
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert labels[:2] == ["silent pass: seeds missed / run; the worst missed seed's accuracy lost and share moved (points, as in the tables)",
                          "cannot tell (inconclusive): the same figures"]


def test_heatmap_cannot_tell_cell_keeps_the_sign_of_an_accuracy_gain():
    missed = [_cell("random", 0.1, "source", "inconclusive", -0.5, share_points=0.5)]
    assert drill_report.missed_figures(missed) == "acc lost -0.5\nshare +0.5"


def test_heatmap_legend_covers_no_x_axis_label(heatmap):
    fig, _ = heatmap
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    legend = fig.legends[0].get_window_extent(renderer)
    labels = [ax.xaxis.label.get_window_extent(renderer) for ax in fig.axes]
    ticks = [t.get_window_extent(renderer) for ax in fig.axes for t in ax.get_xticklabels()]
    assert [b.overlaps(legend) for b in labels + ticks] == [False] * (len(labels) + len(ticks))
    assert legend.y1 < min(b.y0 for b in labels)  # below the x-axis labels, not beside them


def _tiny_report(tmp_path, **kw):
    import re

    plan = drill.plan_drill(attacks=["targeted"], rates=[0.1], seeds=1, models=["logreg"], vectors=["transform"])
    cells = [_cell("clean", 0.0, "transform", "pass", 0.0), _cell("targeted", 0.1, "transform", "fired", 9.0)]
    paths = drill_report.write_drill_report(cells, [], plan, tmp_path, seconds=26.4, **kw)
    return re.findall(r"<p class='note'>([^<]*)</p>", paths["html"].read_text())[-1], paths


def test_drill_html_names_the_clock_it_read(tmp_path):
    """The HTML said `drill took 30 s` (the flow's time) while the console said `done in 58 s` (the
    command's, with Prefect's start): the report now names both clocks."""
    note, paths = _tiny_report(tmp_path, command_seconds=55.2)
    assert note == ("wall time: this report was written 55 s after `labelguard drill` started, 26 s of it in the drill flow "
                    "(the rest: checking the data, starting Prefect and S3)")
    import json

    doc = json.loads(paths["json"].read_text())
    assert (doc["seconds"], doc["command_seconds"]) == (26.4, 55.2)


def test_drill_html_run_as_a_bare_flow_says_so(tmp_path):
    note, _ = _tiny_report(tmp_path)
    assert note == "wall time of the drill flow: 26 s to this report (checking the data and starting Prefect before it not counted)"


def test_ids_kept_as_text_numbers_sort_by_value():
    from labelguard.tasks.dataset import sort_ids

    assert sort_ids(["20.0", "263.0", "305.0", "42.0"]) == ["20.0", "42.0", "263.0", "305.0"]
    assert sort_ids(["7", "007", "10", "6.5", 3, "b", "a"]) == [3, "6.5", "007", "7", "10", "a", "b"]
    assert sort_ids(["r10", "r9", "extra-10", "extra-2"]) == ["extra-10", "extra-2", "r10", "r9"]  # text ids: as text, as before


def test_verify_lists_float_ids_in_numeric_order(tmp_path, own_key_env):
    """Float ids are stored as their text ('20.0'); verify listed the suspects as text (`138.0, 147.0, 15.0, ...`)."""
    import json

    from typer.testing import CliRunner

    from labelguard.cli import app
    from labelguard.tasks.dataset import write_dataset
    from labelguard.tasks.manifest import ColumnSpec, load_signing_key
    from labelguard.tasks.sources import make_reviews
    from labelguard.tasks.storage import LocalStore

    frame = make_reviews(200, seed=1)
    frame["review_id"] = [f"{float(i * 7 % 211)}" for i in range(200)]  # '0.0', '7.0', ... '210.0', not in order
    write_dataset(LocalStore(tmp_path / "ds"), frame, ColumnSpec(), load_signing_key(own_key_env["LABELGUARD_SIGNING_KEY"]), source={"kind": "test"})
    runner = CliRunner()
    res = runner.invoke(app, ["tamper", str(tmp_path / "ds"), "--attack", "random", "--rate", "0.05", "--seed", "3", "--truth-out", str(tmp_path / "t.json")], env=own_key_env)
    assert res.exit_code == 0, res.output
    truth = [f["id"] for f in json.loads((tmp_path / "t.json").read_text())["flipped"]]
    numeric = sorted(truth, key=float)
    assert len(truth) == 10 and numeric != sorted(truth)  # text order would differ
    res = runner.invoke(app, ["verify", str(tmp_path / "ds"), "--guards", "manifest", "--json", str(tmp_path / "v.json")], env=own_key_env)
    assert res.exit_code == 1
    doc = json.loads((tmp_path / "v.json").read_text())
    assert doc["suspect_ids"] == numeric and doc["guards"][0]["suspect_ids"] == numeric
    assert f"suspect rows (10, from manifest): {', '.join(numeric)}" in res.stdout


# ---------------------------------------------------------------- drift: unsigned days, tiny days, two runs at once

DRIFT_DAYS = ["2026-03-01", "2026-03-02", "2026-03-03"]


@pytest.fixture
def small_lake(tmp_path):
    """Three clean 400-row partitions (the first carves the reference), signed with a key pair of this test's own."""
    import numpy as np

    from labelguard.tasks import drift
    from labelguard.tasks.manifest import ColumnSpec, generate_keypair, load_signing_key, load_verify_key
    from labelguard.tasks.simulate import DayPlan, make_day
    from labelguard.tasks.storage import LocalStore

    signing, verify = generate_keypair(tmp_path / "keys")
    root = LocalStore(tmp_path / "lake")
    for i, day in enumerate(DRIFT_DAYS):
        frame = make_day(i, day, np.random.default_rng([7, i]), np.array([1.0, 0.0]), DayPlan(rows=400, volume_sd=0.0))
        drift.ingest_partition(root, frame, ColumnSpec(positive_class=1), load_signing_key(signing), day=day, source={"kind": "test"},
                               holdout_fraction=0.3 if i == 0 else 0.0, dataset_id="lake-test")
    return root, load_signing_key(signing), load_verify_key(verify), (signing, verify)


def test_drift_day_without_a_manifest_reads_not_signed_with_its_rows(small_lake):
    """A day of Parquet without a manifest read `rows 0` and a bare ALARM, with a fix pointing at suspect rows there are none of."""
    import shutil

    from labelguard.flows.drift import alarm_fix
    from labelguard.tasks import drift

    root, sign, verify, _ = small_lake
    (root.root / "date=2026-03-04").mkdir()
    shutil.copy(root.root / "date=2026-03-02" / "part-00000.parquet", root.root / "date=2026-03-04")
    res = {r.date: r for r in drift.check_partitions(root.uri, verify, signing_key=sign)}
    day = res["2026-03-04"]
    assert (day.rows, day.integrity, day.fired, day.status) == (400, "missing-manifest", ["manifest"], "ALARM: not signed, not checked")
    assert day.integrity_detail == "no signed manifest: 400 row(s) in 1 Parquet object(s) are not signed, so the day was not checked"
    assert alarm_fix([day], "labelguard-drift") == ("inspect the drift artifact 'labelguard-drift'; 2026-03-04 not signed: ingest those rows with "
                                                    "`labelguard ingest --partition date=DAY`, or remove the folder")


def test_drift_day_of_three_rows_cannot_tell_and_is_never_clean(small_lake):
    import numpy as np

    from labelguard.tasks import drift
    from labelguard.tasks.manifest import ColumnSpec
    from labelguard.tasks.simulate import DayPlan, make_day

    root, sign, verify, _ = small_lake
    frame = make_day(3, "2026-03-04", np.random.default_rng([7, 3]), np.array([1.0, 0.0]), DayPlan(rows=400, volume_sd=0.0))
    tiny = frame.groupby("label").head(2).head(3)  # 3 rows, both classes
    drift.ingest_partition(root, tiny, ColumnSpec(positive_class=1), sign, day="2026-03-04", source={"kind": "test"})
    drift.ingest_partition(root, frame.iloc[3:], ColumnSpec(positive_class=1), sign, day="2026-03-05", source={"kind": "test"})
    res = {r.date: r for r in drift.check_partitions(root.uri, verify, signing_key=sign)}
    day = res["2026-03-04"]
    assert drift.min_rows(day.level) == 123  # 0.05 over 5 tests x 30 days, two classes
    assert (day.rows, day.alarm, day.cannot_tell) == (3, False, "3 row(s), too few to tell (a day needs 123 for a 20% flip to show at the per-test level)")
    assert day.status == "cannot tell: 3 row(s), too few to tell (a day needs 123 for a 20% flip to show at the per-test level)"
    records = drift.read_records(root, verify, dataset_id="lake-test")
    assert drift.is_clean(records["2026-03-04"]) is False and drift.is_clean(records["2026-03-03"]) is True
    assert res["2026-03-05"].clean_days == ["2026-03-02", "2026-03-03"]  # the tiny day stays out of the window


_RUN = """
import json, sys
from labelguard.errors import BadInput
from labelguard.tasks import drift
from labelguard.tasks.manifest import load_signing_key, load_verify_key
try:
    res = drift.check_partitions(sys.argv[1], load_verify_key(sys.argv[3]), signing_key=load_signing_key(sys.argv[2]), since="2026-03-01")
    print(json.dumps([r.date for r in res]))
except BadInput as exc:
    print("busy: " + exc.one_line())
"""


def test_two_drift_runs_at_once_one_holds_the_lake(small_lake, tmp_path):
    """Two processes on one lake: the second is refused while the first holds `_drift/lock.json`; the records stay signed
    and whole; a lock left by a process that died is taken over."""
    import json
    import subprocess
    import sys

    from labelguard.tasks import drift

    root, sign, verify, (signing, verify_path) = small_lake
    args = [sys.executable, "-c", _RUN, root.uri, str(signing), str(verify_path)]
    procs = [subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = sorted(p.communicate(timeout=240)[0].strip() for p in procs)
    assert [p.returncode for p in procs] == [0, 0]
    done = [o for o in outs if o.startswith("[")]
    busy = [o for o in outs if o.startswith("busy: ")]
    assert json.loads(done[0]) == DRIFT_DAYS
    if busy:  # they overlapped (the usual case): one line naming the lock
        assert len(done) == 1 and re.fullmatch(
            rf"busy: another drift run holds {re.escape(root.uri)} \(pid \d+ on .+, since .+\) "
            rf"\(fix: wait for it to finish; if it died, delete {re.escape(root.uri)}/_drift/lock\.json\)", busy[0])
    assert sorted(drift.read_records(root, verify, dataset_id="lake-test")) == DRIFT_DAYS  # every record verifies
    assert not (root.root / "_drift" / "lock.json").exists()
    # the lock held by a live process (this one) refuses; one of a dead process is taken over
    with drift.drift_lock(root):
        out = subprocess.run(args, capture_output=True, text=True, timeout=240).stdout
        assert out.startswith(f"busy: another drift run holds {root.uri} (pid {os.getpid()} on ")
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True).stdout.strip()
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")  # fresh, but its process is gone
    (root.root / "_drift" / "lock.json").write_text(json.dumps({"pid": int(dead), "host": socket.gethostname(), "started": now, "token": "x"}))
    assert [r.date for r in drift.check_partitions(root.uri, verify, signing_key=sign, since="2026-03-01")] == DRIFT_DAYS
    assert not (root.root / "_drift" / "lock.json").exists()


# ---------------------------------------------------------------- subset attack on data whose first feature is constant


def test_subset_takes_the_first_feature_that_varies():
    """digits-like data: pixel 0 is always 0; `subset` made every row its segment and flipped anywhere."""
    import numpy as np
    import pandas as pd

    from labelguard.tasks.attacks import flip_labels, segment_mask
    from labelguard.tasks.manifest import ColumnSpec

    rng = np.random.default_rng(11)
    frame = pd.DataFrame({"review_id": np.arange(200), "pixel0": 0.0, "pixel1": rng.permutation(200).astype(float), "pixel2": rng.normal(size=200),
                          "label": rng.choice([0, 1], 200)})
    spec = ColumnSpec(feature_cols=("pixel0", "pixel1", "pixel2"), timestamp_col=None)
    X = frame[["pixel0", "pixel1", "pixel2"]].to_numpy()
    assert np.flatnonzero(segment_mask(X)).tolist() == np.flatnonzero(frame["pixel1"].to_numpy() >= 194).tolist()  # top 3 %: 6 rows
    res = flip_labels(frame, spec, attack="subset", rate=0.02, seed=0)
    # 4 flips (2 % of 200), all in the segment: pixel1 of 195, 196, 198 and 199
    assert frame.set_index("review_id").loc[res.flipped["id"].astype(int), "pixel1"].sort_values().tolist() == [195.0, 196.0, 198.0, 199.0]
    # heavy ties at the quantile: 0/1 pixels with 10 % ones; the segment is the ones, not every row
    binary = np.zeros((200, 2))
    binary[:20, 1] = 1.0
    assert np.flatnonzero(segment_mask(binary)).tolist() == list(range(20))
    with pytest.raises(Exception, match="every feature column is constant"):
        segment_mask(np.zeros((50, 3)))


# ---------------------------------------------------------------- unknown options, simulate --rows


@pytest.mark.parametrize("args, line", [
    (["simulate", "--size", "5"], "error: No such option: --size (simulate's options: --days, --poison-day, --attack, --rate, --vector, --seed, --out, "
                                  "--no-prefect, --rows, --verbose) (fix: see `labelguard simulate --help`)"),
    (["simulate", "--day", "5"], "error: No such option: --day (did you mean --days?) (fix: see `labelguard simulate --help`)"),
    (["verify", "x", "--gaurds", "manifest"], "error: No such option: --gaurds (did you mean --guards?) (fix: see `labelguard verify --help`)"),
    (["simulate", "--rows", "5"], "error: --rows must be at least 203, got 5: smaller days cannot show a 20% flip (drift reads them 'cannot tell') "
                                  "(fix: pass e.g. --rows 800)"),
])
def test_unknown_options_name_the_real_ones(tmp_path, args, line):
    """`simulate --rows 5` answered `No such option: --rows (Possible options: --verbose)`."""
    from typer.testing import CliRunner

    from labelguard.cli import app

    res = CliRunner().invoke(app, args + (["--out", str(tmp_path / "sim")] if args[0] == "simulate" else []))
    assert (res.exit_code, res.stderr.strip()) == (2, line)
    assert not (tmp_path / "sim").exists()
