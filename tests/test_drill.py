"""`labelguard drill`: bad input refused before anything runs, a tiny drill end to end, its HTML in a real browser."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from labelguard.cli import app
from labelguard.errors import BadInput
from labelguard.server import free_port
from labelguard.tasks import drill

runner = CliRunner()
DEAD_PREFECT = f"http://127.0.0.1:{free_port()}/api"


@pytest.mark.parametrize(
    "args, line",
    [
        (["--attacks", "targeted,nope"], "error: unknown attack 'nope' (fix: choose one of: cluster, farthest, greedy, nearest, random, subset, targeted)"),
        (["--rates", "0.1,1.5"], "error: --rates must be numbers in [0, 1], got 1.5 (fix: pass e.g. --rates 0.05,0.2)"),
        (["--rates", "0.1,x"], "error: --rates must be numbers in [0, 1], got '0.1,x' (fix: pass e.g. --rates 0.05,0.2)"),
        (["--models", "svm"], "error: unknown model 'svm' (fix: choose one of: gboost, knn, logreg)"),
        (["--vectors", "at-rest,email"], "error: unknown vector 'email' (fix: choose one of: at-rest, source, transform)"),
        (["--seeds", "0"], "error: --seeds must be at least 1, got 0 (fix: pass e.g. --seeds 2)"),
        (["--rows", "300", "--partitions", "200"], "error: 240 training rows are too few for 200 partitions (at least 2 rows each) (fix: pass --partitions 12 or fewer, or more data)"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_nothing_written(tmp_path, args, line):
    out = tmp_path / "out"
    res = runner.invoke(app, ["drill", "--out", str(out), *args], env={"PREFECT_API_URL": DEAD_PREFECT})
    assert res.exit_code == 2
    assert res.stderr.strip().splitlines() == [line]
    assert not out.exists()


def test_dask_options_are_checked_before_anything_runs(tmp_path):
    out = tmp_path / "out"
    fix = "(fix: pass --dask local, or a scheduler address such as tcp://127.0.0.1:8786)"
    port = free_port()  # nothing listens there
    cases = [
        (["--dask", "tcp://host:port"], f"error: --dask 'tcp://host:port' is not a Dask scheduler address {fix}"),
        (["--dask", "http://127.0.0.1:8786"], f"error: --dask 'http://127.0.0.1:8786' is not a Dask scheduler address {fix}"),
        (["--dask", "127.0.0.1:8786", "--workers", "2"], "error: --workers 2 with --dask tcp://127.0.0.1:8786: an existing cluster has its own workers (fix: drop --workers, or use --dask local --workers N)"),
        (["--dask", "local", "--workers", "0"], "error: --workers must be at least 1, got 0 (fix: pass e.g. --workers 2)"),
        (["--dask", f"127.0.0.1:{port}"], f"error: no Dask scheduler answers at tcp://127.0.0.1:{port} (connection refused) "
                                          f"(fix: start one with 'dask scheduler --port {port}' and 'dask worker tcp://127.0.0.1:{port}', or pass --dask local)"),
    ]
    for args, line in cases:
        res = runner.invoke(app, ["drill", "--out", str(out), *args], env={"PREFECT_API_URL": DEAD_PREFECT})
        assert (res.exit_code, res.stderr.strip().splitlines()) == (2, [line]), args
        assert not out.exists()


def test_units_are_chunked_by_attack_rate_and_seed():
    plan = drill.plan_drill(attacks=["targeted", "random"], rates=[0.1, 0.2], seeds=2, models=["logreg"])
    chunks = drill.chunk_units(plan.units())
    assert len(chunks) == 2 + 2 * 2 * 2  # clean per seed, then attack x rate x seed
    assert all([u["vector"] for u in c] == list(drill.VECTORS) for c in chunks)
    assert [drill.chunk_key(c[0]) for c in chunks[:3]] == ["clean|0|0", "clean|0|1", "targeted|0.1|0"]
    assert sorted(drill.unit_key(u) for c in chunks for u in c) == sorted(map(drill.unit_key, plan.units()))


def test_out_that_is_a_file_or_full_is_refused(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    res = runner.invoke(app, ["drill", "--out", str(f)], env={"PREFECT_API_URL": DEAD_PREFECT})
    assert (res.exit_code, res.stderr.strip()) == (2, f"error: --out {f} is a file (fix: pass a directory for the drill's reports)")
    full = tmp_path / "full"
    full.mkdir()
    (full / "keep.txt").write_text("mine")
    res = runner.invoke(app, ["drill", "--out", str(full)], env={"PREFECT_API_URL": DEAD_PREFECT})
    assert (res.exit_code, res.stderr.strip()) == (2, f"error: --out {full} is not empty (fix: pass a new directory, or --resume to continue the drill there)")
    assert [p.name for p in full.iterdir()] == ["keep.txt"]


def test_resume_refuses_another_configuration_and_skips_finished_units(tmp_path):
    plan = drill.plan_drill(attacks=["targeted"], rates=[0.1], seeds=1, models=["logreg"], vectors=["transform", "at-rest"])
    out = tmp_path / "d"
    out.mkdir()
    (out / drill.PLAN_FILE).write_text(json.dumps(plan.to_dict()))
    done = [{**plan.units()[0], "model": "logreg"}, {**plan.units()[2], "model": "logreg"}]
    (out / drill.CELLS_FILE).write_text("\n".join(json.dumps(c) for c in done) + "\n{\"cut short")
    assert drill.check_out_dir(out, plan, resume=True) == done
    assert [drill.unit_key(u) for u in drill.iter_pending(plan, done)] == ["clean|0|0|at-rest", "targeted|0.1|0|at-rest"]
    other = drill.plan_drill(attacks=["targeted"], rates=[0.2], seeds=1, models=["logreg"], vectors=["transform", "at-rest"])
    with pytest.raises(BadInput, match=r"another configuration \(rates differ\)"):
        drill.check_out_dir(out, other, resume=True)
    with pytest.raises(BadInput, match="no drill at"):
        drill.check_out_dir(tmp_path / "new", plan, resume=True)


def test_localization_scores_against_the_truth():
    truth = {"a", "b", "c", "d"}
    m = drill.localization(["a", "b", "x"], truth, 100)
    assert (m["precision"], m["recall"], m["f1"]) == (2 / 3, 0.5, 4 / 7)
    # weighted by support over the per-row call, as scikit-learn computes it: rows a, b, c, d flipped, a, b, x named
    from sklearn.metrics import f1_score

    rows = ["a", "b", "c", "d", "x"] + [f"r{i}" for i in range(95)]
    assert m["weighted_f1"] == pytest.approx(f1_score([r in truth for r in rows], [r in {"a", "b", "x"} for r in rows], average="weighted"))
    assert drill.localization([], set(), 10)["f1"] is None


@pytest.fixture(scope="module")
def tiny_drill(tmp_path_factory, prefect_harness):
    from labelguard.flows.drill import drill_flow

    plan = drill.plan_drill(attacks=["targeted", "random"], rates=[0.2], seeds=1, models=["logreg"], rows=600)
    out = tmp_path_factory.mktemp("drill") / "out"
    res = drill_flow(plan=plan, out_dir=out)
    return plan, out, res


@pytest.mark.flow
def test_tiny_drill_scorecard(tiny_drill):
    plan, out, res = tiny_drill
    doc = json.loads((out / "report.json").read_text())
    cells = doc["cells"]
    # one entry per cell: (3 controls + 2 attacks x 1 rate x 3 vectors) x 1 seed x 1 model
    assert len(cells) == 9 and not [c for c in cells if "error" in c]
    by = {(c["attack"], c["vector"]): c for c in cells}
    for v in drill.VECTORS:
        ctl = by[("clean", v)]
        assert (ctl["caught"], ctl["fired"], ctl["flips"]) == (False, [], 0)
        hit = by[("targeted", v)]
        assert hit["flips"] == 96 and hit["caught"] is True  # round(0.2 x 480 training rows)
        assert set(hit) >= {"first_guard", "fired", "guards", "suspects", "clean", "poisoned", "damage", "model", "seed", "rate"}
        assert set(hit["poisoned"]["per_class"]) == {"0", "1"} and set(hit["poisoned"]["class_shares"]) == {"0", "1"}
        assert hit["damage"]["share_class"] == "1" and hit["damage"]["share_points"] < -5  # positives relabelled negative
    # the vector decides who sees it first: the signed sidecar at rest, the label contract in a transform
    assert by[("targeted", "at-rest")]["first_guard"] == "manifest"
    assert by[("targeted", "transform")]["first_guard"] == "label_contract"
    assert by[("targeted", "source")]["first_guard"] == "class_balance"
    for v in ("at-rest", "transform"):
        s = by[("targeted", v)]["suspects"]
        assert (s["count"], s["precision"], s["recall"], s["f1"]) == (96, 1.0, 1.0, 1.0)
    # no clean control fires; on 600 rows (a 120-row holdout) the model gate cannot bound the accuracy drop
    # below its 2-point gap (95 % upper bound), so each clean control reads "cannot tell", counted apart
    assert doc["summary"]["controls"] == {"runs": 3, "passed": 0, "inconclusive": 3, "fired": 0, "false_alarm_rate": 0.0, "could_not_vouch_rate": 1.0, "by_guard": {}}
    # material damage: targeted only (random 20 % moves logistic regression by under a point), caught in every vector
    assert doc["summary"]["caught_share"] == {v: {"material_cells": 1, "caught": 1, "cannot_tell": 0, "silent": 0} for v in drill.VECTORS}
    assert doc["summary"]["uncaught_material"] == []
    cert = doc["certificates"][0]
    assert (cert["method"], cert["voters"]) == ("dpa", 24)
    curve = [p["certified_accuracy"] for p in cert["curve"]]
    assert len(curve) == 13 and curve[0] >= 0.95 and curve == sorted(curve, reverse=True)
    md = (out / "report.md").read_text()
    assert md.startswith("# labelguard drill\n\n**Worst case over all attacks: targeted at 20% takes logreg")
    assert (out / "report.html").stat().st_size < 1_500_000


def _wine_csv(folder: Path) -> Path:
    from sklearn.datasets import load_wine

    frame = load_wine(as_frame=True).frame.rename(columns={"target": "label"})
    frame.insert(0, "row_id", [f"row-{i:04d}" for i in range(len(frame))])
    path = folder / "wine.csv"
    frame.to_csv(path, index=False)
    return path


def _latest_markdown_artifact(key: str) -> str:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
    from prefect.client.schemas.sorting import ArtifactSort

    with get_client(sync_client=True) as client:
        found = client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])), sort=ArtifactSort.CREATED_DESC, limit=1)
    assert found, f"no artifact {key!r}"
    return found[0].data


@pytest.mark.flow
def test_small_real_data_reads_cannot_tell_for_clean_and_uncaught_attacked_cells(tmp_path, prefect_harness):
    """Fail closed, and said so: on wine (178 rows: a 36-row trusted holdout, one row 2.8 accuracy
    points) the model gate cannot bound an accuracy drop below 2 points, so the clean control reads
    "cannot tell" (inconclusive, not quiet), and a damaging poison at the source that no guard fires on
    is counted and listed as "cannot tell", apart from the caught cells and from silent passes, in
    report.json, report.md, the HTML and the Prefect artifact."""
    from labelguard.flows.drill import drill_flow

    plan = drill.plan_drill(attacks=["random"], rates=[0.1], seeds=1, models=["logreg"], vectors=["transform", "source"],
                            data=str(_wine_csv(tmp_path)), reader={"id_col": "row_id", "positive_class": "1"})
    res = drill_flow(plan=plan, out_dir=tmp_path / "d")
    by = {(c["attack"], c["vector"]): c for c in res["cells"]}
    assert [(k, c["verdict"], c["fired"]) for k, c in by.items() if k[0] == drill.CLEAN] == [
        (("clean", "transform"), "inconclusive", []), (("clean", "source"), "inconclusive", [])]
    doc = json.loads((tmp_path / "d" / "report.json").read_text())
    s = doc["summary"]
    assert s["controls"] == {"runs": 2, "passed": 0, "inconclusive": 2, "fired": 0, "false_alarm_rate": 0.0, "could_not_vouch_rate": 1.0, "by_guard": {}}
    # 14 flips (10 % of 142 training rows) cost logistic regression 6 of 36 holdout rows in both vectors:
    # the label contract names them in a transform; at the source nothing fires and the gate cannot tell
    assert (by[("random", "transform")]["first_guard"], by[("random", "source")]["fired"]) == ("label_contract", [])
    assert s["caught_share"] == {"transform": {"material_cells": 1, "caught": 1, "cannot_tell": 0, "silent": 0},
                                 "source": {"material_cells": 1, "caught": 0, "cannot_tell": 1, "silent": 0}}
    [u] = s["uncaught_material"]
    assert (u["attack"], u["vector"], u["flips"], u["verdict"], round(u["accuracy_points"], 2)) == ("random", "source", 14, "inconclusive", 16.67)
    assert u["verdict_detail"].startswith("model gate cannot rule out an accuracy drop of 2% (95 % upper bound ")
    md = (tmp_path / "d" / "report.md").read_text()
    lines = md.splitlines()
    assert lines[4] == "**Clean controls 2: passed 0, inconclusive 2, fired 0 (false-alarm rate 0.0%, could not vouch 100.0%).**"
    per_vector = "| transform | 1 | 1 | 0 | 0 |\n| source | 1 | 0 | 1 | 0 |"
    uncaught_row = "| random | 0.1 | 0 | logreg | source | 14 | cannot tell | 16.7 | +0.0 (1) |"
    assert per_vector in md and uncaught_row in lines
    page = re.sub(r' style="[^"]*"', "", (tmp_path / "d" / "report.html").read_text())
    assert "<td>source</td>\n<td>1</td>\n<td>0</td>\n<td>1</td>\n<td>0</td>" in page and "<td>cannot tell</td>" in page
    assert "clean controls 2: passed 0, inconclusive 2, fired 0" in page
    artifact = _latest_markdown_artifact("labelguard-drill")
    assert per_vector in artifact and uncaught_row in artifact.splitlines()


def _comparable(cells):
    """Cells without their timings, in a fixed order."""
    return sorted(({k: v for k, v in c.items() if k not in ("seconds", "cpu_seconds")} for c in cells), key=drill.unit_key)


@pytest.mark.flow
def test_drill_on_a_local_two_worker_dask_cluster_equals_one_worker(tiny_drill, tmp_path):
    from labelguard.flows.drill import run_drill

    plan, out, _ = tiny_drill
    res = run_drill(plan, tmp_path / "dask", workers=2, dask="local")
    assert res["timing"]["runner"].startswith("dask tcp://127.0.0.1:") and res["timing"]["workers"] == 2
    assert res["timing"]["tasks"] == 3  # clean, targeted, random: one task each for their three vectors
    one = json.loads((out / "report.json").read_text())
    two = json.loads((tmp_path / "dask" / "report.json").read_text())
    assert len(two["cells"]) == 9
    assert _comparable(two["cells"]) == _comparable(one["cells"])  # same verdicts, same numbers
    untimed = lambda certs: [{k: v for k, v in c.items() if k != "seconds"} for c in certs]  # noqa: E731
    assert untimed(two["certificates"]) == untimed(one["certificates"])


@pytest.mark.flow
def test_drill_in_two_worker_processes_equals_one_worker(tiny_drill, tmp_path):
    from labelguard.flows.drill import run_drill

    plan, out, _ = tiny_drill
    res = run_drill(plan, tmp_path / "procs", workers=2)
    assert (res["timing"]["runner"], res["timing"]["workers"], res["timing"]["tasks"]) == ("processes", 2, 3)
    one = json.loads((out / "report.json").read_text())
    two = json.loads((tmp_path / "procs" / "report.json").read_text())
    assert len(two["cells"]) == 9
    assert _comparable(two["cells"]) == _comparable(one["cells"])  # same verdicts, same numbers


def _registry_names(_):
    return {name: list(reg) for name, reg in drill._registries().items()}


def test_worker_processes_get_the_parents_registries(monkeypatch):
    """A fresh (spawned) process has only the entries its imports register: the drill's workers are
    given the parent's, in the parent's order (the guards' order decides the first guard), entries
    registered at runtime included."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from labelguard.tasks import train

    monkeypatch.setitem(train.REGISTRY, "runtime-model", train.REGISTRY["logreg"])
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"), initializer=drill.init_worker, initargs=(drill.registry_snapshot(),)) as pool:
        seen = pool.submit(_registry_names, None).result(timeout=120)
    assert seen == _registry_names(None)
    assert seen["models"][-1] == "runtime-model"


def _chromium() -> tuple[str, str]:
    browser, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not (browser and driver):
        reason = "chromium / chromedriver are not installed (fix: run `make test` as root to install them, or apt-get install chromium chromium-driver)"
        from labelguard.testing import missing_service

        missing_service(reason, "the real browser")
    return browser, driver


@pytest.mark.flow
def test_report_html_renders_in_a_real_headless_browser(tiny_drill, tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    browser, driver_path = _chromium()
    _, out, _ = tiny_drill
    opts = webdriver.ChromeOptions()
    opts.binary_location = browser
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1280,2400"):
        opts.add_argument(flag)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(driver_path), options=opts)
    try:
        driver.get((out / "report.html").resolve().as_uri())
        assert driver.title == "labelguard drill"
        assert driver.find_element("tag name", "h1").text == "labelguard drill"
        imgs = driver.find_elements("tag name", "img")
        assert len(imgs) == 6  # accuracy, heat map, localization, business figure, certificate, decision regions
        widths = [driver.execute_script("return arguments[0].complete && arguments[0].naturalWidth", i) for i in imgs]
        assert all(w and w > 200 for w in widths), widths
        errors = [e for e in driver.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]
        assert errors == []
        shot = tmp_path / "report.png"
        driver.save_screenshot(str(shot))
        assert shot.stat().st_size > 20_000
        if os.environ.get("LABELGUARD_SCREENSHOT"):
            shutil.copy(shot, os.environ["LABELGUARD_SCREENSHOT"])
    finally:
        driver.quit()


def _cell(attack, rate, vector, verdict, acc_points, *, seed=0, share_points=0.0):
    clean_acc = 0.95
    return {"attack": attack, "rate": rate, "seed": seed, "model": "logreg", "vector": vector, "flips": round(rate * 400),
            "verdict": verdict, "verdict_detail": f"why {verdict}", "caught": verdict == "fired", "fired": ["class_balance"] if verdict == "fired" else [],
            "first_guard": "class_balance" if verdict == "fired" else None, "guards": {}, "suspects": {"count": 0},
            "clean": {"accuracy": clean_acc}, "poisoned": {"accuracy": clean_acc - acc_points / 100},
            "damage": {"accuracy_points": acc_points, "share_points": share_points, "share_class": "1",
                       "material": acc_points >= drill.MATERIAL_POINTS or abs(share_points) >= drill.MATERIAL_POINTS}}


def test_uncaught_material_cells_split_into_cannot_tell_and_silent_passes():
    """A material cell the suite did not fire on is either "cannot tell" (inconclusive) or a silent
    pass, counted apart per vector and listed with its verdict and damage; cells below 5 % or
    without material damage are not counted."""
    from labelguard.tasks.drill_report import render_markdown, summarize

    plan = drill.plan_drill(attacks=["targeted", "random"], rates=[0.01, 0.1], seeds=1, models=["logreg"], vectors=["transform", "source"])
    cells = [
        _cell("clean", 0.0, "transform", "pass", 0.0), _cell("clean", 0.0, "source", "inconclusive", 0.0),
        _cell("targeted", 0.1, "transform", "fired", 9.0),
        _cell("targeted", 0.1, "source", "inconclusive", 5.0),
        _cell("random", 0.1, "source", "pass", 0.5, share_points=-3.25),  # material by the share alone
        _cell("random", 0.1, "transform", "pass", 1.0),  # not material
        _cell("targeted", 0.01, "source", "pass", 2.5),  # below 5 %
        _cell("random", 0.01, "transform", "inconclusive", 0.0),
    ]
    s = summarize(cells, [], plan)
    assert s["caught_share"] == {"transform": {"material_cells": 1, "caught": 1, "cannot_tell": 0, "silent": 0},
                                 "source": {"material_cells": 2, "caught": 0, "cannot_tell": 1, "silent": 1}}
    assert [(u["attack"], u["vector"], u["verdict"], u["verdict_detail"], u["accuracy_points"], u["share_points"]) for u in s["uncaught_material"]] == [
        ("targeted", "source", "inconclusive", "why inconclusive", 5.0, 0.0), ("random", "source", "pass", "why pass", 0.5, -3.25)]
    assert (s["controls"]["passed"], s["controls"]["inconclusive"], s["controls"]["fired"]) == (1, 1, 0)
    by = {(g["attack"], g["rate"]): g for g in s["by_attack"]}
    assert {k: (g["caught"], g["cannot_tell"], g["silent"], g["cells"]) for k, g in by.items()} == {
        ("targeted", 0.1): (1, 1, 0, 2), ("random", 0.1): (0, 0, 2, 2), ("targeted", 0.01): (0, 0, 1, 1), ("random", 0.01): (0, 1, 0, 1)}
    md = render_markdown(s, plan).splitlines()
    assert md[2] == ("**Worst case over all attacks: targeted at 10% takes logreg from 0.950 to 0.880 holdout accuracy "
                     "(7.0 points; predicted share moved +0.0 points (1)), caught in 1 of 2 cells (1 cannot tell).**")
    at = md.index("| vector | cells with material damage | caught | cannot tell | silent pass |")
    assert md[at + 2 : at + 4] == ["| transform | 1 | 1 | 0 | 0 |", "| source | 2 | 0 | 1 | 1 |"]
    at = md.index("| attack | rate | seed | model | vector | flips | verdict | accuracy lost (points) | share moved (points) |")
    assert md[at + 2 : at + 4] == ["| targeted | 0.1 | 0 | logreg | source | 40 | cannot tell | 5.0 | +0.0 (1) |",
                                   "| random | 0.1 | 0 | logreg | source | 40 | silent pass | 0.5 | -3.2 (1) |"]
