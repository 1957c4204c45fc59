"""Break-it round 13: the findings of bench/findings/breakit-r13.md (what a person sees in reports, scheduled use,
free text and many classes, configuration as Prefect reads it). Each test failed on the code before its fix."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from tests.clirun import invoke


def _text_csv(path, rows: int = 200, long_cell: int = 0):
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, rows)
    review = [f"review {i} très bien 😀 " + ("good" if v else "bad") for i, v in enumerate(y)]
    if long_cell:
        review[0] = ('très long, "avis"\n' * (long_cell // 18 + 1))[:long_cell]
    pd.DataFrame({"rid": [f"r{i}" for i in range(rows)], "f1": y * 3 + rng.normal(0, 1, rows), "f2": rng.normal(0, 1, rows),
                  "review": review, "label": np.where(y == 1, "pos", "neg")}).to_csv(path, index=False)
    return path


# ---------------------------------------------------------------- finding 8: poison and a cell over 131,072 characters


def test_poison_takes_a_csv_whose_cell_is_longer_than_pythons_csv_field_limit(tmp_path):
    """`poison` of a CSV with a 216,000-character review (a file ingest reads) failed: "unexpected Error: field larger than
    field limit (131072)", exit 2."""
    src = _text_csv(tmp_path / "long.csv", long_cell=200_000)
    out, truth = tmp_path / "p.csv", tmp_path / "t.json"
    res = invoke("poison", src, "--attack", "random", "--rate", 0.05, "--out", out, "--truth-out", truth,
                 "--id-col", "rid", "--label-col", "label", "--positive-class", "pos")
    assert (res.exit_code, res.stderr) == (0, "")
    before, after = (pd.read_csv(p, keep_default_na=False) for p in (src, out))
    flipped = {f["id"] for f in json.loads(truth.read_text())["flipped"]}
    assert len(flipped) == 10
    assert set(before.rid[before.label != after.label]) == flipped
    assert before.drop(columns="label").equals(after.drop(columns="label"))
    assert len(after.review[0]) == 200_000


# ---------------------------------------------------------------- finding 4: PREFECT_API_URL set where Prefect reads it


def _dead_api() -> str:
    from labelguard.server import free_port

    return f"http://127.0.0.1:{free_port()}/api"


def test_a_prefect_api_url_in_a_dotenv_file_is_the_one_checked(tmp_path, monkeypatch):
    """Prefect 3 reads PREFECT_API_URL from a `.env` file in the working folder; labelguard looked at the environment
    only: `alert`/`watch` said no server was configured, `ingest`/`pipeline` crashed with "unexpected RuntimeError"."""
    monkeypatch.chdir(tmp_path)
    url = _dead_api()
    (tmp_path / ".env").write_text(f"PREFECT_API_URL={url}\n")
    env = {"PREFECT_API_URL": None, "LABELGUARD_HOME": None, "PREFECT_PROFILES_PATH": str(tmp_path / "no-profiles.toml")}
    res = invoke("alert", "--webhook", "https://hooks.example.com/x", env=env)
    where = tmp_path.resolve() / ".env"
    assert (res.exit_code, res.stdout) == (2, "")
    assert res.stderr == (f"error: the Prefect API at {url} (PREFECT_API_URL in {where}) does not answer (fix: start it (`labelguard server` "
                          f"or `prefect server start`), or set PREFECT_API_URL in {where} to a running one)\n")  # alert needs a server (r15 F7)


def test_a_prefect_api_url_in_the_active_profile_is_the_one_checked(tmp_path, monkeypatch):
    """`prefect config set PREFECT_API_URL=…` writes it to the active profile: the same as a `.env` file."""
    monkeypatch.chdir(tmp_path)
    url = _dead_api()
    profiles = tmp_path / "profiles.toml"
    profiles.write_text(f'active = "ops"\n\n[profiles.ops]\nPREFECT_API_URL = "{url}"\n\n[profiles.other]\n')
    env = {"PREFECT_API_URL": None, "LABELGUARD_HOME": None, "PREFECT_PROFILE": None, "PREFECT_PROFILES_PATH": str(profiles)}
    res = invoke("alert", "--webhook", "https://hooks.example.com/x", env=env)
    assert (res.exit_code, res.stdout) == (2, "")
    assert res.stderr == (f"error: the Prefect API at {url} (PREFECT_API_URL in Prefect profile 'ops' ({profiles})) does not answer (fix: start it "
                          f"(`labelguard server` or `prefect server start`), or set PREFECT_API_URL in Prefect profile 'ops' ({profiles}) "
                          "to a running one)\n")
    # another active profile without the setting: no server configured, as before
    res = invoke("alert", "--webhook", "https://hooks.example.com/x", env={**env, "PREFECT_PROFILE": "other"})
    assert (res.exit_code, res.stderr) == (2, "error: automations need a Prefect server (a temporary API forgets them) (fix: start one with "
                                               "`labelguard server` (or set PREFECT_API_URL))\n")


# ---------------------------------------------------------------- finding 1: a second watch of the same --name


def test_a_second_watch_of_a_served_name_is_refused_and_leaves_the_first_serving(tmp_path, keys, labelguard_server):
    """A second `watch --name w1` replaced the first's schedule without a word, and stopping it paused the deployment
    the first still served: the first sat there saying it served '* * * * *' while nothing ran."""
    import subprocess
    import sys
    import time
    from pathlib import Path

    import httpx

    from labelguard.tasks.dataset import HOLDOUT, write_dataset
    from labelguard.tasks.manifest import ColumnSpec, DatasetRef, load_signing_key
    from labelguard.tasks.storage import LocalStore
    from labelguard.tasks.synthetic import make_reviews
    from tests.test_served import _stop

    api, env = labelguard_server
    root = tmp_path / "ds"
    sign = load_signing_key(keys[0])
    write_dataset(LocalStore(root), make_reviews(600, seed=1), ColumnSpec(), sign, source={"kind": "synthetic"}, dataset=DatasetRef("twice", "data"))
    write_dataset(LocalStore(root / HOLDOUT), make_reviews(200, seed=2), ColumnSpec(), sign, source={"kind": "synthetic"}, dataset=DatasetRef("twice", "holdout", HOLDOUT))
    env = {**env, "LABELGUARD_VERIFY_KEY": str(keys[1]), "LABELGUARD_LEDGER": "none"}
    first = subprocess.Popen([str(Path(sys.executable).parent / "labelguard"), "watch", str(root), "--cron", "0 3 * * *", "--name", "twice"],
                             env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 240
        while True:  # served: the runner has polled the deployment
            resp = httpx.get(f"{api}/deployments/name/labelguard-verify/twice", timeout=30)
            if resp.status_code == 200 and resp.json().get("status") == "READY":
                polled = resp.json()["last_polled"]
                break
            assert first.poll() is None and time.monotonic() < deadline, "the first watch did not serve its deployment"
            time.sleep(1)
        # a subprocess with a deadline: before the fix it was accepted and served until stopped
        second = subprocess.Popen([str(Path(sys.executable).parent / "labelguard"), "watch", str(root), "--cron", "*/2 * * * *", "--name", "twice"],
                                  env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
        try:
            stdout, stderr = second.communicate(timeout=180)
        except subprocess.TimeoutExpired:
            _stop(second)
            raise AssertionError("the second watch of a served name was accepted and served") from None
        assert (second.returncode, stdout) == (2, "")
        polled_now = stderr.split("last polled at ")[1].split(")")[0]  # the runner polls again meanwhile
        assert polled_now >= polled
        assert stderr == (f"error: deployment labelguard-verify/twice is already served on {api} (its runner last polled at {polled_now}): a second watch "
                              "of the same --name would replace its schedule, and stopping either would pause both (fix: pass another --name, or stop the "
                              "watch that serves it first (a watch that died without stopping is marked not ready within a minute))\n")
        found = httpx.get(f"{api}/deployments/name/labelguard-verify/twice", timeout=30).json()
        assert [s["schedule"]["cron"] for s in found["schedules"]] == ["0 3 * * *"]
        assert found["paused"] is False
    finally:
        _stop(first)


# ---------------------------------------------------------------- finding 6: --reference naming the dataset itself


def test_the_fix_for_a_self_reference_names_rows_taken_apart_not_a_baseline_of_the_data(tmp_path, keys):
    """`verify DS --reference DS` said to make `labelguard baseline DS DIR`; verify against that baseline then read
    "838 of the reference's 838 rows are rows of the data … compare the data with itself": cannot tell, exit 1."""
    from tests.test_fix_findings_r9 import _env, _ingest

    ds = _ingest(tmp_path, "ds", keys)
    for command, option in (("verify", "--reference"), ("verify", "--holdout"), ("pipeline", "--holdout")):
        res = invoke(command, ds, option, ds, env=_env(keys))
        assert (res.exit_code, res.stdout) == (2, "")
        assert res.stderr == (f"error: {option} {ds} is the dataset being checked: comparing it with itself passes whatever it holds (fix: leave "
                              f"{option} out to use the dataset's own trusted holdout, or give a baseline of rows taken apart from the data, "
                              f"e.g. `labelguard baseline {ds}/holdout DIR`)\n")
    # the fix, followed, is accepted and checks against trusted rows that are not the data's
    assert invoke("baseline", ds / "holdout", "--out", tmp_path / "base", env=_env(keys)).exit_code == 0
    res = invoke("verify", ds, "--reference", tmp_path / "base", "--guards", "manifest,schema,class_balance", "--allow-inconclusive",
                 "--json", tmp_path / "v.json", env=_env(keys))
    assert res.exit_code == 0  # 200 rows: too few to vouch for 20 % flips, let through; not "the data compared with itself"
    report = json.loads((tmp_path / "v.json").read_text())
    assert "compare the data with itself" not in report["verdict_detail"]
    assert report["reference_is_holdout"] is False


# ---------------------------------------------------------------- finding 2: many classes in boundaries.png


def test_forty_classes_are_each_drawn_their_own_way_and_the_legend_stays_inside_the_image(tmp_path, monkeypatch):
    """15 classes: class i and class i+8 were drawn with the same colour and marker; 40 classes: the legend ran off the
    bottom of boundaries.png (18 classes shown) and covered the data. Now every class has its own (colour, marker) and the
    legend lies inside the figure, below the plot."""
    from tests.test_fix_findings_r8 import boundaries_figure, clustered_classes, legend_extents

    names = [f"catégorie {k:02d}" for k in range(40)]
    fig, real_close = boundaries_figure(*clustered_classes(names, seed=5, spread=4), tmp_path, monkeypatch)
    drawn = {c.get_label(): (tuple(np.round(c.get_facecolor()[0][:3], 3)), c.get_paths()[0].vertices.round(3).tobytes())
             for c in fig.axes[0].collections if c.get_label().startswith("labelled ")}
    legend, axes_box, frame_box, texts = legend_extents(fig)
    real_close(fig)
    assert sorted(drawn) == sorted(f"labelled {n!r}" for n in names)
    assert len(set(drawn.values())) == 40, "two classes share colour and marker"
    assert texts[:40] == [f"labelled {n!r}" for n in names] and texts[40:] == ["this model's boundary"]
    assert frame_box.y0 <= legend.y0 and legend.x0 >= frame_box.x0 and legend.x1 <= frame_box.x1, (legend, frame_box)
    assert legend.y1 <= axes_box.y0, "the legend covers the plot"


# ---------------------------------------------------------------- finding 13: the artifact a failed watch run names


def test_a_fired_watch_run_names_the_artifact_key_it_published(tmp_path, keys, prefect_harness):
    """`watch --name "Nightly_Check 1"`: the failed run said "inspect the guard table artifact 'Nightly_Check 1'", but
    Prefect keys allow lowercase letters, digits and dashes: the artifact is `nightly-check-1`."""
    import pytest
    from prefect.client.orchestration import get_client

    from labelguard.errors import GuardFired
    from labelguard.flows.drift import alarm_fix
    from labelguard.flows.verify import verify_flow
    from tests.test_fix_findings_r9 import _env, _ingest

    ds = _ingest(tmp_path, "ds", keys)
    assert invoke("tamper", ds, "--attack", "random", "--rate", 0.05, "--truth-out", tmp_path / "t.json", env=_env(keys)).exit_code == 0
    with pytest.raises(GuardFired) as fired:
        verify_flow(str(ds), str(keys[1]), name="Nightly_Check 1", ledger="none")
    assert fired.value.fix == "inspect the guard table artifact 'nightly-check-1' and the suspect rows"

    async def keys_published():
        from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

        async with get_client() as client:
            found = await client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["nightly-check-1"])))
        return {a.key for a in found}

    import asyncio

    assert asyncio.run(keys_published()) == {"nightly-check-1"}
    assert alarm_fix([], "Nightly Drift") == "inspect the drift artifact 'nightly-drift'"


# ---------------------------------------------------------------- finding 7: a class too small for the gate's recall test


def ingest_file(tmp_path, name, keys, src, *, holdout=0.2, ledger=None, **load):
    """What `ingest --source SRC --dest tmp_path/name` writes, without Prefect: ``load`` holds load_source's options
    (labels in 'label' and no timestamp unless given), ``ledger`` the writer's (none by default)."""
    from labelguard.tasks import dataset
    from labelguard.tasks.manifest import DatasetRef, load_signing_key, new_dataset_id
    from labelguard.tasks.sources import load_source, split_holdout
    from labelguard.tasks.storage import LocalStore

    frame, spec, meta = load_source(str(src), **{"label_col": "label", "timestamp_col": None, **load})
    train, test = split_holdout(frame, spec, holdout, 0)
    key, dest = load_signing_key(keys[0]), str(tmp_path / name)
    ds_id, store = new_dataset_id(dest), LocalStore(dest)
    with dataset.writing_dataset(store, ledger=ledger, key=key) as parts:
        parts.add(store.child(dataset.HOLDOUT), dataset.write_dataset(store.child(dataset.HOLDOUT), test, spec, key, source={**meta, "part": "holdout"},
                                                                       dataset=DatasetRef(ds_id, role="holdout", part=dataset.HOLDOUT)))
        parts.add(store, dataset.write_dataset(store, train, spec, key, source={**meta, "part": "train"}, dataset=DatasetRef(ds_id, role="data")))
    return tmp_path / name


def _ingest_frame(tmp_path, name, keys, frame, holdout=0.2):
    """`ingest --source name.csv --id-col id --dest tmp_path/name` without Prefect, as tests/test_fix_findings_r9._ingest, for a frame of ours."""
    src = tmp_path / f"{name}.csv"
    frame.to_csv(src, index=False)
    return ingest_file(tmp_path, name, keys, src, holdout=holdout, id_col="id")


def test_the_gate_does_not_claim_to_see_a_recall_drop_on_a_class_too_small_for_its_test(tmp_path, keys):
    """A class with 4 holdout rows (15 classes: 1 row; 40 classes: 7 rows) read "a drop the test sees: 100%", JSON power
    1.0: the exact test cannot fire on so few rows at all (0.5^4 = 0.06 against 0.0005), as Cat_18 showed, losing all 7
    rows without firing. Now the line says no drop of its rows reaches the test's level, and the JSON power is null."""
    from tests.test_fix_findings_r9 import _env

    rng = np.random.default_rng(8)
    y = np.array([0] * 380 + [1] * 20)
    frame = pd.DataFrame({"id": range(400), "x": 5 * y + rng.normal(size=400), "z": rng.normal(size=400), "label": y})
    ds = _ingest_frame(tmp_path, "ds", keys, frame)
    res = invoke("verify", ds, "--guards", "model_gate", "--json", tmp_path / "v.json", "--ledger", "none", env=_env(keys))
    gate = json.loads((tmp_path / "v.json").read_text())["guards"][0]
    small = gate["metrics"]["per_class_recall"]["1"]
    assert (res.exit_code, small["rows"], small["power"]) == (1, 4, None)
    assert gate["detail"].endswith(f"worst class recall bound: class 1's drop {small['drop_upper']:.1%} on its 4 holdout rows "
                                   "(cannot rule out 20%; no drop of its 4 rows reaches the test's level)")
    assert "a drop the test sees" not in res.stdout + res.stderr


# ---------------------------------------------------------------- finding 11: the drill report's damage on named classes


def test_the_drill_report_names_the_class_whose_share_moved_and_the_class_that_lost_its_recall():
    """15 string classes, no positive class: the headline and the per-attack table said "predicted share moved -6.2
    points" of no class, and that 'rare_a' lost all of its recall was in report.json alone."""
    from labelguard.tasks import drill
    from labelguard.tasks.drill_report import render_markdown, summarize
    from tests.test_drill import _cell

    plan = drill.plan_drill(attacks=["cluster", "random"], rates=[0.1], seeds=1, models=["logreg"], vectors=["source"])
    worst = _cell("cluster", 0.1, "source", "fired", 10.0, share_points=-6.19)
    worst["damage"] |= {"share_class": "vêtements", "recall_class": "rare_a", "recall_points": 100.0, "recall_material": True}
    mild = _cell("random", 0.1, "source", "fired", 5.2, share_points=-1.43)
    mild["damage"] |= {"share_class": "auto-moto", "recall_class": "rare_b", "recall_points": 12.5, "recall_material": False}
    md = render_markdown(summarize([_cell("clean", 0.0, "source", "inconclusive", 0.0), worst, mild], [], plan), plan).splitlines()
    assert md[2] == ("**Worst case over all attacks: cluster at 10% takes logreg from 0.950 to 0.850 holdout accuracy (10.0 points; predicted share "
                     "moved -6.2 points (vêtements); class rare_a lost 100.0 points of its recall), caught in 1 of 1 cells.**")
    at = md.index("| model | attack | rate | accuracy (min–max) | accuracy lost | share moved | recall lost | caught | cannot tell | silent pass |")
    assert md[at + 2 : at + 4] == ["| logreg | cluster | 0.1 | 0.850 (0.850–0.850) | 10.0 | -6.2 (vêtements) | 100.0 (rare_a) | 1/1 | 0 | 0 |",
                                   "| logreg | random | 0.1 | 0.898 (0.898–0.898) | 5.2 | -1.4 (auto-moto) | — | 1/1 | 0 | 0 |"]


# ---------------------------------------------------------------- finding 5: the first daily partition into a new bucket


def test_the_first_partition_into_a_bucket_not_made_yet_creates_it(tmp_path, keys, s3_endpoint):
    """`ingest --partition` to `s3://new-bucket/…` was refused "no dataset at …: bucket does not exist (fix: … or ingest a
    dataset there first)" — to the ingest that makes it; a plain ingest creates the bucket. Now the first day does too."""
    import boto3

    from tests.test_fix_findings_r9 import _env

    rng = np.random.default_rng(3)
    y = np.array([0, 1] * 150)
    pd.DataFrame({"id": [f"d1-{i}" for i in range(300)], "x": 3 * y + rng.normal(size=300), "z": rng.normal(size=300), "label": y}).to_csv(tmp_path / "day1.csv", index=False)
    bucket = f"fresh-{tmp_path.name.lower().replace('_', '-')[-20:]}"
    res = invoke("ingest", "--source", tmp_path / "day1.csv", "--id-col", "id", "--dest", f"s3://{bucket}/reviews", "--partition", "date=2026-03-01",
                 "--timestamp-col", "none", "--ledger", "none", env=_env(keys))
    assert (res.exit_code, res.stderr) == (0, "")
    assert res.stdout.startswith(f"holdout: s3://{bucket}/reviews/holdout  rows=60  labels 0: 30, 1: 30")
    assert f"partition: s3://{bucket}/reviews/date=2026-03-01  rows=240  labels 0: 120, 1: 120" in res.stdout
    s3 = boto3.client("s3", endpoint_url=s3_endpoint)
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"


# ---------------------------------------------------------------- finding 9: "rerun with -v" where there was no -v


def test_every_command_takes_the_v_that_an_unexpected_errors_fix_asks_for(tmp_path):
    """An unexpected error's line says "rerun with -v for the traceback"; `poison … -v` then said "No such option: -v"
    and `labelguard -v poison …` "No such option: -v" too (poison, tamper, seal, baseline and watch had no -v)."""
    src = _text_csv(tmp_path / "reviews.csv")
    common = ("--attack", "random", "--rate", 0.05, "--id-col", "rid", "--label-col", "label", "--positive-class", "pos")
    res = invoke("poison", src, *common, "--out", tmp_path / "a.csv", "--truth-out", tmp_path / "a.json", "-v")
    assert (res.exit_code, res.stderr) == (0, "")
    res = invoke("-v", "poison", src, *common, "--out", tmp_path / "b.csv", "--truth-out", tmp_path / "b.json")
    assert (res.exit_code, res.stderr) == (0, "")
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    res = invoke("poison", src, *common, "--out", tmp_path / "c.csv", "--truth-out", tmp_path / "c.json", "--verbose")
    assert (res.exit_code, res.stderr) == (0, "")


# ---------------------------------------------------------------- finding 10: a cron with five fields told to write five fields


def test_a_cron_out_of_range_is_told_its_ranges_and_a_nickname_its_five_fields(tmp_path):
    ds = tmp_path / "nothing-needed"  # the cron is checked before the dataset
    res = invoke("watch", ds, "--cron", "61 * * * *")
    assert (res.exit_code, res.stdout) == (2, "")
    assert res.stderr == ("error: invalid cron expression '61 * * * *': Bad minute (fix: each field within its range: minute 0-59, hour 0-23, "
                          'day of month 1-31, month 1-12, day of week 0-7 (e.g. "0 * * * *": every hour on the hour))\n')
    res = invoke("watch", ds, "--cron", "@daily")
    assert (res.exit_code, res.stderr) == (2, "error: invalid cron expression '@daily': Wrong number of fields (fix: write it as five fields: \"0 0 * * *\")\n")
    res = invoke("watch", ds, "--cron", "0 6 * *")
    assert (res.exit_code, res.stderr) == (2, "error: invalid cron expression '0 6 * *': Wrong number of fields (fix: write five fields "
                                              "(minute hour day-of-month month day-of-week), e.g. \"0 * * * *\"; this has 4)\n")


# ---------------------------------------------------------------- finding 12: pipeline stopped on an edit at rest names no row


def test_a_pipeline_stopped_by_an_edit_at_rest_names_the_rows_as_verify_does(tmp_path, keys, prefect_harness):
    """`pipeline DS` on a dataset whose labels were edited at rest (manifest forged): "16 label(s) changed", training
    stopped, exit 1 — and the ids nowhere (no line, no report). Now the same `suspect rows (N, from manifest): …` line as verify."""
    from tests.test_fix_findings_r9 import _env, _ingest

    ds = _ingest(tmp_path, "ds", keys, n=400)
    res = invoke("tamper", ds, "--attack", "random", "--rate", 0.05, "--truth-out", tmp_path / "t.json", "--forge-manifest", env=_env(keys))
    assert res.exit_code == 0
    flipped = [str(i) for i in sorted(f["id"] for f in json.loads((tmp_path / "t.json").read_text())["flipped"])]
    line = f"suspect rows ({len(flipped)}, from manifest): {', '.join(flipped[:10])}{' …' if len(flipped) > 10 else ''}"
    res = invoke("verify", ds, "--guards", "manifest", "--ledger", "none", env=_env(keys))
    assert res.exit_code == 1 and line in res.stdout.splitlines()
    res = invoke("pipeline", ds, "--ledger", "none", env=_env(keys))
    assert res.exit_code == 1 and line in res.stdout.splitlines()
    assert res.stderr.startswith("guard fired: manifest fired, training stopped (")


# ---------------------------------------------------------------- finding 3: the confusion matrix as one line of code


def test_the_report_gives_the_confusion_matrix_as_a_table_with_class_names():
    from labelguard.tasks.manifest import ColumnSpec
    from labelguard.tasks.report import RunResult, render_markdown

    names = ["animaux", "sports 🏀", "日本の本"]
    metrics = {"accuracy": 0.9, "precision": 0.9, "recall": 0.9, "f1": 0.9, "confusion_matrix": [[5, 1, 0], [0, 6, 0], [1, 0, 7]], "classes": names,
               "positive_class": None, "predicted_positive_share": None, "true_positive_share": None, "rows": 20,
               "class_shares": {n: {"predicted": p, "true": t} for n, p, t in zip(names, (0.3, 0.35, 0.35), (0.3, 0.3, 0.4))},
               "largest_shift": {"class": "sports 🏀", "points": 5.0}}
    run = RunResult(dataset="d", transform="random", rate=0.1, seed=0, observe=True, spec=ColumnSpec(classes=tuple(names)), metrics=metrics)
    md = render_markdown({"pipeline": run}).splitlines()
    at = md.index("Confusion matrix (holdout rows; rows: true class, columns: predicted class):")
    assert md[at + 2 : at + 7] == ["| true \\ predicted | animaux | sports 🏀 | 日本の本 |", "|---|---:|---:|---:|",
                                   "| animaux | 5 | 1 | 0 |", "| sports 🏀 | 0 | 6 | 0 |", "| 日本の本 | 1 | 0 | 7 |"]


# ---------------------------------------------------------------- finding 14: simulate's timeline axis without ticks


def test_the_timeline_z_axes_have_ticks_to_read_the_values_by(tmp_path, monkeypatch, keys):
    """noise_rate's panel was ticked `0` and `10^0` only: a fired z of 6.1 against a threshold of 3.4 could not be read."""
    import matplotlib.pyplot as plt

    from labelguard.tasks.simulate import timeline_plot

    res = invoke("simulate", "--no-prefect", "--days", 7, "--poison-day", 6, "--seed", 0, "--out", tmp_path / "sim")
    assert res.exit_code == 0
    doc = json.loads((tmp_path / "sim" / "report.json").read_text())
    figures = []
    real_close = plt.close
    monkeypatch.setattr(plt, "close", lambda fig=None: figures.append(fig))
    timeline_plot(doc, tmp_path / "t.png")
    fig = figures[0]
    for ax in fig.axes[:-1]:  # the z panels (the last is the manifest row)
        lo, hi = ax.get_ylim()
        shown = [t for t in ax.get_yticks() if lo <= t <= hi]
        assert len([t for t in shown if t > 0]) >= 3, (ax.get_ylabel(), shown, (lo, hi))
    real_close(fig)
