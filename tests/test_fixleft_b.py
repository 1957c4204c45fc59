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
