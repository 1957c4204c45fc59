"""`labelguard drill`: bad input refused before anything runs, a tiny drill end to end, its HTML in a real browser."""

from __future__ import annotations

import json
import os
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
    cert = doc["certificates"][0]
    assert (cert["method"], cert["voters"]) == ("dpa", 24)
    curve = [p["certified_accuracy"] for p in cert["curve"]]
    assert len(curve) == 13 and curve[0] >= 0.95 and curve == sorted(curve, reverse=True)
    md = (out / "report.md").read_text()
    assert md.startswith("# labelguard drill\n\n**Worst case over all attacks: targeted at 20% takes logreg")
    assert (out / "report.html").stat().st_size < 1_500_000


@pytest.mark.flow
def test_a_clean_control_that_cannot_be_vouched_for_is_not_counted_as_quiet(tmp_path, prefect_harness):
    """Fail closed: a clean control whose verdict is "cannot tell" is reported as inconclusive, apart
    from the passed and the fired ones. Built so: 240 training rows cannot show flips of 1 % of a class."""
    from labelguard.flows.drill import drill_flow

    plan = drill.plan_drill(attacks=["targeted"], rates=[0.2], seeds=1, models=["logreg"], vectors=["transform"], rows=300, tolerate=0.01)
    res = drill_flow(plan=plan, out_dir=tmp_path / "d")
    control = next(c for c in res["cells"] if c["attack"] == drill.CLEAN)
    assert (control["verdict"], control["fired"], control["caught"]) == ("inconclusive", [], False)
    ctl = json.loads((tmp_path / "d" / "report.json").read_text())["summary"]["controls"]
    assert ctl == {"runs": 1, "passed": 0, "inconclusive": 1, "fired": 0, "false_alarm_rate": 0.0, "could_not_vouch_rate": 1.0, "by_guard": {}}
    md = (tmp_path / "d" / "report.md").read_text().splitlines()
    assert md[4] == "**Clean controls 1: passed 0, inconclusive 1, fired 0 (false-alarm rate 0.0%, could not vouch 100.0%).**"
    assert "clean controls 1: passed 0, inconclusive 1, fired 0" in (tmp_path / "d" / "report.html").read_text()


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
