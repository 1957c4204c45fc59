"""The demo flow end to end under the Prefect test harness, against the moto S3 server."""

import json

import pytest

from labelguard.errors import GuardFired
from labelguard.flows.demo import demo_flow
from labelguard.flows.ingest import ingest_flow
from labelguard.flows.pipeline import pipeline_flow
from labelguard.tasks.dataset import DATA_KEY, to_parquet_bytes
from labelguard.tasks.storage import open_store

pytestmark = pytest.mark.flow


def test_demo_flow_figures(tmp_path, s3_uri, s3_endpoint, prefect_harness):
    res = demo_flow(out_dir=tmp_path / "report", dest=s3_uri, rows=5000, seed=0, transform="targeted", rate=0.2)
    clean, bad = res["runs"]["clean"], res["runs"]["compromised"]
    assert clean.metrics["accuracy"] >= 0.95
    assert all(g.passed and not g.skipped for g in clean.guards)
    assert clean.verdict == "pass" and bad.verdict == "fired"
    assert bad.metrics["true_positive_share"] - bad.metrics["predicted_positive_share"] >= 0.10
    assert {"label_contract", "class_balance"} <= set(bad.fired)
    assert len(bad.truth.flipped) == 800
    doc = json.loads((tmp_path / "report" / "report.json").read_text())
    assert doc["runs"]["compromised"]["fired"] == bad.fired
    assert (tmp_path / "report" / "boundaries.png").stat().st_size > 10_000
    md = (tmp_path / "report" / "report.md").read_text()
    assert "understates customer satisfaction" in md
    assert md.startswith("# labelguard demo: clean vs compromised pipeline\n")
    assert "Dataset verdict: **pass**" in md and "Dataset verdict: **fired** — " in md


def test_enforced_pipeline_stops_on_tampered_object(tmp_path, s3_uri, keys, prefect_harness):
    ingest_flow(source="synthetic", dest=s3_uri, signing_key=keys[0], rows=1000, seed=4)
    store = open_store(s3_uri)
    from labelguard.tasks.dataset import from_parquet_bytes

    frame = from_parquet_bytes(store.get(DATA_KEY))
    frame.loc[frame.index[:20], "label"] = 0
    store.put(DATA_KEY, to_parquet_bytes(frame), create_only=False)  # the attacker's overwrite
    with pytest.raises(GuardFired) as info:
        pipeline_flow(s3_uri, keys[1])
    assert info.value.failed == ["manifest"]
    observed = pipeline_flow(s3_uri, keys[1], observe=True)
    assert observed.fired == ["manifest"] and observed.metrics is not None


def test_io_tasks_retry_only_an_unreachable_store(prefect_harness):
    from prefect import flow

    from labelguard.errors import BadInput, StoreUnreachable
    from labelguard.flows._prefect import io_task

    calls = {"flaky": 0, "bad": 0}

    @io_task(retry_delay_seconds=0)
    def flaky():
        calls["flaky"] += 1
        if calls["flaky"] < 3:
            raise StoreUnreachable("endpoint down")
        return "ok"

    @io_task(retry_delay_seconds=0)
    def bad():
        calls["bad"] += 1
        raise BadInput("bad rate")

    @flow
    def run_flaky():
        return flaky()

    @flow
    def run_bad():
        return bad()

    assert run_flaky() == "ok" and calls["flaky"] == 3
    with pytest.raises(BadInput):
        run_bad()
    assert calls["bad"] == 1


def test_verify_flow_fails_when_a_guard_fires(tmp_path, keys, prefect_harness):
    from labelguard.flows.verify import verify_flow
    from labelguard.tasks.tamper import tamper

    ds = str(tmp_path / "ds")
    # 1,000 holdout rows: enough for the model gate to see a 2-point accuracy drop, so clean data passes
    ingest_flow(source="synthetic", dest=ds, signing_key=keys[0], rows=5000, seed=2)
    doc = verify_flow(ds, keys[1], reference_uri=f"{ds}/holdout")
    assert doc["ok"] and doc["verdict"] == "pass", doc["verdict_detail"]
    # a scheduled run that cannot tell says so, never "fired", and takes verify's --tolerate / --allow-inconclusive (break-it r5)
    from labelguard.errors import Inconclusive

    with pytest.raises(Inconclusive) as unsure:
        verify_flow(ds, keys[1], reference_uri=f"{ds}/holdout", tolerate=0.01)
    assert unsure.value.failed == [] and unsure.value.problem.startswith(
        "cannot tell: flips of 1% of a class would go unseen (smallest detectable flip rate: class ")
    assert unsure.value.fix.endswith(", or pass --allow-inconclusive on `labelguard watch`") and "--tolerate 0.0" in unsure.value.fix
    assert verify_flow(ds, keys[1], reference_uri=f"{ds}/holdout", tolerate=0.01, allow_inconclusive=True)["verdict"] == "inconclusive"
    res = tamper(ds, attack="random", rate=0.05, seed=0, truth_out=tmp_path / "t.json")
    with pytest.raises(GuardFired) as info:
        verify_flow(ds, keys[1], reference_uri=f"{ds}/holdout")
    assert "manifest" in info.value.failed
    manifest = next(g for g in info.value.results if g.name == "manifest")
    assert sorted(manifest.suspect_ids) == sorted(res.flipped_ids)


def test_pipeline_reaches_verifys_verdict_and_fails_closed_when_it_cannot_tell(tmp_path, s3_uri, keys, prefect_harness):
    """150 rows (a 30-row holdout): no guard fires, but none can vouch for the data either. The pipeline
    used to train on it and exit 0 while `verify` of the same data exits 1; it now stops before training."""
    from labelguard.errors import Inconclusive

    ingest_flow(source="synthetic", dest=s3_uri, signing_key=keys[0], rows=150, seed=4)
    with pytest.raises(Inconclusive) as info:
        pipeline_flow(s3_uri, keys[1])
    assert info.value.failed == [] and {g.name for g in info.value.results} >= {"model_gate", "class_balance"}
    assert info.value.problem.startswith("the guards cannot vouch for the data, training stopped (")
    assert info.value.fix.endswith("or --allow-inconclusive to train anyway (--observe to measure the damage)")
    allowed = pipeline_flow(s3_uri, keys[1], allow_inconclusive=True)
    assert allowed.verdict == "inconclusive" and allowed.fired == [] and allowed.metrics is not None
    assert allowed.summary()["verdict"] == "inconclusive" and allowed.verdict_detail == info.value.problem[len("the guards cannot vouch for the data, training stopped ("):-1]
    observed = pipeline_flow(s3_uri, keys[1], observe=True)
    assert observed.verdict == "inconclusive" and observed.metrics is not None
