"""Break-it round 5 findings 5, 10, 11 and parts of 12 (console business figure, poison's column options, targeted on
a rare class in poison and drill, watch's Ctrl-C, drift's served flow, `list` of attack options), each pinned with
its exit code, its exact one-line message and exact values, on small data of our own."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from tests.clirun import invoke
from tests.conftest import wait_for_sigterm_handler
from tests.test_fix_findings_r5 import _Fixed  # a fitted model whose holdout predictions are given
from tests.test_fixleft_b import small_lake  # noqa: F401 - a fixture: three clean signed days of a lake


def test_a_multi_class_run_without_a_named_class_prints_its_class_share_figure_on_the_console():
    """Finding 5: with 3+ classes and none named the console's "pred +"/"true +" were `—` and nothing else said
    which class's predicted share moved; only `--out`'s report.md had the sentence."""
    from labelguard import cli
    from labelguard.tasks.manifest import ColumnSpec
    from labelguard.tasks.report import RunResult
    from labelguard.tasks.train import evaluate

    holdout = pd.DataFrame({"review_id": [f"h{i}" for i in range(10)], "f0": np.arange(10.0),
                            "label": ["a", "a", "a", "a", "b", "b", "b", "c", "c", "c"]})
    spec = ColumnSpec(feature_cols=("f0",), classes=("a", "b", "c"), positive_class=None)
    run = RunResult(dataset="d", transform="honest", rate=0.0, seed=0, observe=True, spec=spec,
                    metrics=evaluate(_Fixed(["a", "a", "a", "a", "b", "b", "b", "b", "b", "c"]), holdout, spec))
    with cli.out.capture() as captured:
        cli._print_runs({"pipeline": run})
    lines = captured.get().splitlines()
    assert "│ pipeline │ honest" in lines[-3] and lines[-3].rstrip().endswith("│      — │      — │")
    assert lines[-1] == ("Trained after the honest transform, the model's predicted vs. true class shares on the trusted holdout are "
                         "'a' 40.0% vs 40.0%, 'b' 50.0% vs 30.0%, 'c' 10.0% vs 30.0%: the largest shift is 'b', overstated by 20.0 points.")


@pytest.fixture
def rare(tmp_path):
    """200 rows of four string classes, the rare one 'p' with 10 rows; ids r000.. ."""
    rng = np.random.default_rng(7)
    labels = np.repeat(["a", "b", "c", "p"], [80, 60, 50, 10])
    rng.shuffle(labels)
    centre = {"a": (0, 0), "b": (4, 0), "c": (0, 4), "p": (4, 4)}
    xy = np.array([centre[c] for c in labels]) + rng.normal(0, 0.7, (200, 2))
    frame = pd.DataFrame({"id": [f"r{i:03d}" for i in range(200)], "f0": xy[:, 0], "f1": xy[:, 1], "tier": labels})
    path = tmp_path / "tiers.csv"
    frame.to_csv(path, index=False)
    return path


def test_targeted_beyond_a_rare_class_is_refused_naming_the_largest_rate_that_works(rare, tmp_path):
    """Finding 11 (poison): the exact flip budget is kept, so 20 flips of 'p' (10 rows) are refused, and the fix
    now names the largest rate that works instead of "lower --rate"."""
    args = ("poison", rare, "--attack", "targeted", "--id-col", "id", "--label-col", "tier", "--positive-class", "p",
            "--out", tmp_path / "p.csv", "--truth-out", tmp_path / "t.json")
    res = invoke(*args, "--rate", "0.1")
    assert res.exit_code == 2, res.output
    assert res.stderr == ("error: targeted needs 20 rows of class 'p' but only 10 are available "
                          "(fix: pass --rate 0.05 or lower (10 flips of 200 rows), or choose another source class)\n")
    assert not (tmp_path / "p.csv").exists() and not (tmp_path / "t.json").exists()
    ok = invoke(*args, "--rate", "0.05")  # the advised rate works: every 'p' row flipped
    assert ok.exit_code == 0, ok.output
    assert (pd.read_csv(tmp_path / "p.csv")["tier"] == "p").sum() == 0


def test_a_flip_matrix_beyond_its_classes_names_the_rate_at_which_every_source_class_has_its_rows():
    from labelguard.errors import BadInput
    from labelguard.tasks.attacks import flip_labels, targeted_capacity
    from labelguard.tasks.manifest import ColumnSpec

    frame = pd.DataFrame({"review_id": [f"r{i}" for i in range(20)], "f0": np.arange(20.0), "label": ["a"] * 10 + ["b"] * 3 + ["c"] * 7})
    spec = ColumnSpec(feature_cols=("f0",), classes=("a", "b", "c"))
    matrix = {"b": {"a": 0.5}, "c": {"a": 0.5}}
    assert targeted_capacity(frame["label"].to_numpy(), np.array(["a", "b", "c"]), flip_matrix=matrix) == (6, "b")
    with pytest.raises(BadInput) as caught:
        flip_labels(frame, spec, attack="targeted", rate=0.4, seed=0, flip_matrix=matrix)
    assert caught.value.one_line() == ("targeted needs 4 rows of class 'b' but only 3 are available "
                                       "(fix: pass --rate 0.3 or lower (6 flips of 20 rows), or choose another source class)")
    assert len(flip_labels(frame, spec, attack="targeted", rate=0.3, seed=0, flip_matrix=matrix).flipped) == 6


def test_a_drill_of_only_cells_the_data_cannot_hold_is_refused_before_any_work(rare, tmp_path):
    """Finding 11 (drill): `--attacks targeted` on a class too small for the rate ran, errored in every cell and
    exited 0. Asked for exactly such cells, the drill now refuses up front, naming the rate that works."""
    from tests.test_drill import DEAD_PREFECT

    res = invoke("drill", "--data", rare, "--id-col", "id", "--label-col", "tier", "--positive-class", "p", "--attacks", "targeted",
                 "--rates", "0.1", "--seeds", "1", "--models", "logreg", "--out", tmp_path / "out", env={"PREFECT_API_URL": DEAD_PREFECT})
    assert res.exit_code == 2, res.output
    assert res.stderr == ("error: no attacked cell of this drill can run: targeted at 0.1 needs 16 flips, the training part holds only "
                          "8 rows of class 'p' (fix: pass --rates 0.05 or lower, or add an attack the data can hold)\n")
    assert not (tmp_path / "out").exists()


@pytest.mark.flow
def test_drill_reports_cells_the_data_cannot_hold_as_not_applicable_and_exits_2_on_an_errored_cell(rare, tmp_path, monkeypatch, prefect_harness):
    """Finding 11 (drill): the targeted cells read as errors and the drill exited 0 with errored cells. Now a cell
    beyond the class is "not applicable" (not run, not counted, not an error), and a cell that errors makes it exit 2."""
    from labelguard.tasks import attacks

    def boom(inp):
        """Always fails (a broken strategy)."""
        raise RuntimeError("boom in the strategy")

    monkeypatch.setitem(attacks.REGISTRY, "boom", attacks.AttackSpec("boom", boom, "always fails"))
    out = tmp_path / "out"
    res = invoke("drill", "--data", rare, "--id-col", "id", "--label-col", "tier", "--positive-class", "p", "--attacks", "targeted,boom",
                 "--rates", "0.1", "--seeds", "1", "--models", "logreg", "--vectors", "transform,source", "--out", out)
    assert res.exit_code == 2, res.output
    assert res.stderr.splitlines()[-1] == (f"error: 2 of 6 cells errored (in {out / 'report.json'}), the first: RuntimeError: boom in the strategy")
    assert ("not applicable (not run, not counted): 2 cell(s): targeted at 0.1: only 8 rows of class 'p', 16 flips needed "
            "(1 seed(s) x 2 vector(s))") in res.stdout.splitlines()
    cells = [c for c in map(json.loads, (out / "cells.jsonl").read_text().splitlines()) if c["attack"] == "targeted"]
    assert sorted((c["vector"], c["not_applicable"], "error" in c) for c in cells) == [
        ("source", "only 8 rows of class 'p', 16 flips needed", False), ("transform", "only 8 rows of class 'p', 16 flips needed", False)]
    md = (out / "report.md").read_text().splitlines()
    assert "- cells: 6 (2 errored, 2 not applicable)" in md


@pytest.fixture
def leaky(tmp_path):
    """120 rows, two classes 0/1 on f0/f1, and a column `leak` that is the label plus noise (a user would ignore it)."""
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 120)
    frame = pd.DataFrame({"id": [f"k{i:03d}" for i in range(120)], "f0": rng.normal(0, 1, 120) + 1.5 * y,
                          "f1": rng.normal(0, 1, 120), "leak": y + rng.normal(0, 0.05, 120), "label": y})
    path = tmp_path / "leaky.csv"
    frame.to_csv(path, index=False)
    return path


def test_poison_takes_ingests_column_options_so_feature_based_attacks_see_the_features_ingest_will(leaky, tmp_path, own_key_env):
    """Finding 10: `poison` had no --text-cols/--ignore-cols (exit 2: No such option), so `nearest` & co. chose rows by
    the auto-detected columns, a leaky column the user ignores at ingest included."""
    import json as _json

    from labelguard.tasks.attacks import flip_labels
    from labelguard.tasks.readers import read_bytes
    from labelguard.tasks.sources import infer_spec

    base = ("poison", leaky, "--attack", "nearest", "--rate", "0.1", "--id-col", "id")
    bad = invoke(*base, "--ignore-cols", "lek", "--out", tmp_path / "x.csv")
    line = "error: --ignore-cols names column 'lek', which is not in the data (have: 'id', 'f0', 'f1', 'leak', 'label') (fix: did you mean 'leak'? pass --ignore-cols leak, or --ignore-cols naming an existing column)\n"
    assert bad.exit_code == 2 and bad.stderr == line
    same = invoke("ingest", "--source", leaky, "--id-col", "id", "--ignore-cols", "lek", "--dest", tmp_path / "ds", env=own_key_env)
    assert same.exit_code == 2 and same.stderr == line  # ingest's own check, word for word
    assert invoke(*base, "--text-cols", "f0", "--out", tmp_path / "y.csv").stderr == (
        "error: text column 'f0' holds float64 values, not text (fix: leave 'f0' out of --text-cols)\n")
    assert not (tmp_path / "x.csv").exists() and not (tmp_path / "y.csv").exists() and not (tmp_path / "ds").exists()

    ok = invoke(*base, "--ignore-cols", "leak", "--out", tmp_path / "p.csv", "--truth-out", tmp_path / "t.json")
    assert ok.exit_code == 0, ok.output
    flipped = [f["id"] for f in _json.loads((tmp_path / "t.json").read_text())["flipped"]]
    frame, _ = read_bytes(leaky.read_bytes(), leaky.name, id_col="id")
    as_ingested = infer_spec(frame, id_col="id", label_col="label", timestamp_col=None, ignore_cols=["leak"])
    assert as_ingested.feature_cols == ("f0", "f1")
    assert flipped == flip_labels(frame, as_ingested, attack="nearest", rate=0.1, seed=0).flipped_ids and len(flipped) == 12
    auto = infer_spec(frame, id_col="id", label_col="label", timestamp_col=None)
    assert flipped != flip_labels(frame, auto, attack="nearest", rate=0.1, seed=0).flipped_ids  # the leak steered it before


@pytest.fixture(scope="module")
def tiny_signed(tmp_path_factory, keys):
    """A signed 200-review dataset with its holdout, as ingest lays it out (only for `watch` to serve)."""
    from labelguard.tasks.dataset import HOLDOUT, write_dataset
    from labelguard.tasks.manifest import ColumnSpec, DatasetRef, load_signing_key
    from labelguard.tasks.storage import LocalStore
    from labelguard.tasks.synthetic import make_reviews

    root = tmp_path_factory.mktemp("watched") / "ds"
    sign = load_signing_key(keys[0])
    write_dataset(LocalStore(root), make_reviews(200, seed=1), ColumnSpec(), sign, source={"kind": "synthetic"}, dataset=DatasetRef("w", "data"))
    write_dataset(LocalStore(root / HOLDOUT), make_reviews(100, seed=2), ColumnSpec(), sign, source={"kind": "synthetic"}, dataset=DatasetRef("w", "holdout", HOLDOUT))
    return root


@pytest.mark.flow
def test_ctrl_c_on_watch_exits_130_naming_the_paused_deployment_and_sigterm_stays_a_quiet_0(labelguard_server, tiny_signed, keys):
    """Finding 12: Ctrl-C (SIGINT) on `watch` exited 0, where tamper, baseline, pipeline and drill exit 130; the
    deployment is left paused on the server (Prefect's behaviour), which the user is now told."""
    import os
    import signal
    import subprocess
    import time

    import httpx

    from tests.test_served import LABELGUARD

    api, env = labelguard_server
    for sig, name in ((signal.SIGINT, "lg-int"), (signal.SIGTERM, "lg-term")):
        proc = subprocess.Popen([LABELGUARD, "watch", str(tiny_signed), "--cron", "0 3 * * *", "--name", name, "--verify-key", str(keys[1])],
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
        try:
            deadline = time.monotonic() + 120
            while httpx.get(f"{api}/deployments/name/labelguard-verify/{name}", timeout=10).status_code != 200:
                assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read()
                time.sleep(0.5)
            wait_for_sigterm_handler(proc.pid)  # no sleep: a signal as soon as the deployment exists must still leave it paused
            os.kill(proc.pid, sig)  # the command itself, as a terminal's Ctrl-C or a supervisor's SIGTERM reaches it
            stdout, stderr = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)
        assert httpx.get(f"{api}/deployments/name/labelguard-verify/{name}", timeout=10).json()["paused"] is True, (sig, proc.returncode, stdout, stderr)
        if sig == signal.SIGINT:
            assert proc.returncode == 130, (stdout, stderr)
            assert stderr == (f"interrupted: watch stopped; deployment labelguard-verify/{name} is left paused on {api}, no more scheduled runs "
                              f"(fix: resume it with `prefect deployment resume labelguard-verify/{name}`, or run `labelguard watch` again)\n")
        else:
            assert (proc.returncode, stderr) == (0, "")
            assert stdout.splitlines()[-1] == f"watch stopped: deployment labelguard-verify/{name} paused, no more scheduled runs"



@pytest.mark.flow
def test_a_drift_day_too_small_to_tell_fails_the_flow_run_too_not_only_the_command(small_lake, prefect_harness):
    """Finding 12 (drift): a "cannot tell" day made `drift` exit 1, while the same flow, served on a schedule,
    completed: the on-call person read a clean check. The flow run now ends Failed with the "cannot tell" line."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName
    from prefect.client.schemas.sorting import FlowRunSort

    from labelguard.tasks.manifest import ColumnSpec
    from labelguard.tasks.simulate import DayPlan, make_day
    from labelguard.tasks import drift

    root, sign, _, (signing, verify) = small_lake
    frame = make_day(3, "2026-03-04", np.random.default_rng([7, 3]), np.array([1.0, 0.0]), DayPlan(rows=400, volume_sd=0.0))
    drift.ingest_partition(root, frame.groupby("label").head(2).head(3), ColumnSpec(positive_class=1), sign, day="2026-03-04", source={"kind": "test"})
    res = invoke("drift", root.uri, "--verify-key", verify, "--signing-key", signing, "--ledger", "none")
    assert res.exit_code == 1, res.output
    why = "2026-03-04: 3 row(s), too few to tell (a day needs 123 for a 20% flip to show at the per-test level)"
    assert res.stderr == f"cannot tell: {why} (fix: check those rows by hand; such a day never joins the clean window)\n"
    with get_client(sync_client=True) as client:
        [run] = client.read_flow_runs(flow_filter=FlowFilter(name=FlowFilterName(any_=["labelguard-drift"])), sort=FlowRunSort.START_TIME_DESC, limit=1)
    assert run.state.type.value == "FAILED"
    assert f"cannot tell: {why}" in run.state.message


@pytest.mark.parametrize("name", sorted(__import__("labelguard.tasks.attacks", fromlist=["REGISTRY"]).REGISTRY))
def test_every_attack_declares_exactly_the_options_its_strategy_takes_and_list_shows_them(name, monkeypatch):
    """Finding 12: `labelguard list` showed only each attack's first docstring line, and an unknown option's error
    pointed at "each attack's docstring". The options are now declared on the registration (a contract: exactly
    the strategy's keyword-only parameters), listed, and named by the refusal of an unknown one."""
    import inspect

    from labelguard.errors import BadInput
    from labelguard.tasks.attacks import REGISTRY, check_options

    spec = REGISTRY[name]
    keyword_only = [p.name for p in inspect.signature(spec.fn).parameters.values() if p.kind is inspect.Parameter.KEYWORD_ONLY]
    assert list(spec.options) == keyword_only
    assert check_options(name, dict.fromkeys(spec.options, 1)) == dict.fromkeys(spec.options, 1)
    with pytest.raises(BadInput) as caught:
        check_options(name, {"nope": 1})
    usage = " ".join(f"--option {k}={v}" for k, v in spec.options.items())
    assert caught.value.one_line() == (f"attack {name!r} does not take option(s) nope (fix: its options are {usage})" if spec.options
                                       else f"attack {name!r} does not take option(s) nope (fix: it takes none: drop --option)")
    from labelguard import cli

    monkeypatch.setattr(cli.out, "width", 400)  # one table line per line of text
    listed = [" ".join(line.split()) for line in invoke("list").stdout.splitlines()]
    at = listed.index(f"│ attack │ {name} │ {spec.description} │")
    assert listed[at + 1] == f"│ │ │ options: {usage or '(none)'} │"


def test_an_unknown_attack_option_is_refused_before_the_data_is_read_naming_the_valid_ones(rare, tmp_path):
    res = invoke("poison", rare, "--attack", "targeted", "--rate", "0.05", "--id-col", "id", "--label-col", "tier", "--positive-class", "p",
                 "--option", "src=a", "--out", tmp_path / "p.csv")
    assert res.exit_code == 2, res.output
    assert res.stderr == ("error: attack 'targeted' does not take option(s) src (fix: its options are --option source=CLASS --option target=CLASS "
                          "--option flip_matrix='{\"SOURCE\": {\"TARGET\": SHARE}}')\n")
    assert not (tmp_path / "p.csv").exists()
    ok = invoke("poison", rare, "--attack", "targeted", "--rate", "0.05", "--id-col", "id", "--label-col", "tier", "--option", "source=a",
                "--option", "target=b", "--out", tmp_path / "p.csv")
    assert ok.exit_code == 0 and ok.stdout == f"wrote {tmp_path / 'p.csv'}: 10 labels flipped with targeted\n"
