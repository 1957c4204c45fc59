"""Drift flow: check the newest unchecked daily partitions, publish artifacts, emit an event per alarm, fail on an alarm."""

from pathlib import Path
from typing import Any

from prefect import flow

from labelguard.errors import GuardFired, Inconclusive, LabelguardError
from labelguard.flows._prefect import io_task, publish
from labelguard.tasks import drift
from labelguard.tasks.manifest import load_verify_key

EVENT = "labelguard.guard.fired"


@io_task(name="check-partitions")
def _check(uri: str, verify_key: Path, signing_key: Path | None, since: str | None, until: str | None, reference_uri: str | None, endpoint_url: str | None,
           ledger: Path | None, alpha: float, horizon_days: int, window: int) -> list[drift.DayResult]:
    from labelguard.config import Settings
    from labelguard.tasks.ledger import Ledger
    from labelguard.tasks.manifest import load_signing_key

    book = Ledger(Path(ledger)) if ledger and Path(ledger).is_file() else None
    sign = load_signing_key(Settings.resolve(signing_key=signing_key).signing_key)  # day records are signed: $LABELGUARD_SIGNING_KEY by default
    return drift.check_partitions(uri, load_verify_key(verify_key), signing_key=sign, since=since, until=until, reference_uri=reference_uri,
                                  endpoint_url=endpoint_url, ledger=book, alpha=alpha, horizon_days=horizon_days, window=window)


def resource_id(uri: str, day: str) -> str:
    """The event resource of a partition: ``labelguard.partition.<dataset root>/date=<day>``."""
    return f"labelguard.partition.{uri.rstrip('/')}/{drift.part_name(day)}"


def dataset_resource_id(uri: str) -> str:
    """The event resource of a dataset a served ``watch`` verifies: ``labelguard.dataset.<URI>``."""
    return f"labelguard.dataset.{uri.rstrip('/')}"


def emit_fired(uri: str, report) -> None:
    """Emit ``labelguard.guard.fired`` for a verify run whose guards fired: the dataset as resource; the fired guards,
    the check's date and the suspect rows as payload (the same keys as a drift alarm's, so one ``alert`` serves both)."""
    from datetime import datetime, timezone

    from prefect.events import emit_event

    fired = [g for g in report.guards if g.fired]
    emit_event(
        event=EVENT,
        resource={"prefect.resource.id": dataset_resource_id(uri), "prefect.resource.name": uri.rstrip("/").rsplit("/", 1)[-1], "labelguard.dataset": uri},
        payload={
            "date": datetime.now(timezone.utc).date().isoformat(), "dataset": uri, "guards": [g.name for g in fired],
            "details": {g.name: g.detail for g in fired},
            "suspects": len(report.suspect_ids), "suspect_ids": [str(i) for i in report.suspect_ids[:20]],
        },
    )


def emit_alarm(uri: str, res: drift.DayResult) -> None:
    """Emit ``labelguard.guard.fired`` for an alarmed day: the partition as resource, guards and statistics as payload."""
    from prefect.events import emit_event

    guards = res.guard_summary()
    emit_event(
        event=EVENT,
        resource={"prefect.resource.id": resource_id(uri, res.date), "prefect.resource.name": drift.part_name(res.date), "labelguard.dataset": uri},
        payload={
            "date": res.date, "partition": res.uri, "guards": res.fired,
            "statistics": {name: {k: v for k, v in g.items() if k in ("z", "threshold", "p_value", "subject", "detail")} for name, g in guards.items() if g["fired"]},
            "suspects": len(res.suspect_ids), "suspect_ids": [str(i) for i in res.suspect_ids[:20]],
        },
    )


@flow(name="labelguard-drift", log_prints=False)
def drift_flow(
    uri: str,
    verify_key: Path,
    signing_key: Path | None = None,
    since: str | None = None,
    until: str | None = None,
    reference_uri: str | None = None,
    endpoint_url: str | None = None,
    ledger: Path | None = None,
    alpha: float = drift.ALPHA,
    horizon_days: int = drift.HORIZON_DAYS,
    window: int = drift.WINDOW,
    name: str = "labelguard-drift",
    report_path: Path | None = None,
) -> list[dict[str, Any]]:
    """Check the newest unchecked partitions of ``uri`` (or ``since``..``until``); Failed when any day raises an alarm
    (:class:`GuardFired`), or else when a day's rows are too few to tell (:class:`DriftCannotTell`).

    ``report_path`` (optional) receives the days' results as JSON before the flow ends, alarm or not.
    ``signing_key`` (default ``$LABELGUARD_SIGNING_KEY``) signs each day's record.
    """
    results = _check(uri, verify_key, signing_key, since, until, reference_uri, endpoint_url, ledger, alpha, horizon_days, window)
    if report_path is not None:
        import json

        Path(report_path).write_text(json.dumps([r.to_dict() for r in results], indent=1, default=str))
    if results:
        lines = [f"Drift check of `{uri}`: {len(results)} partition(s), per-test level {results[0].level:.2g}", "", drift.markdown_table(results), ""]
        for r in results:
            if r.alarm:
                g = r.guard_summary()
                lines.append(f"- **{r.date}**: " + "; ".join(f"{n}: {g[n]['detail']}" for n in r.fired)
                             + (f" — {len(r.suspect_ids)} suspect row(s)" if r.suspect_ids else ""))
        table = [{"date": r.date, "rows": r.rows, "alarm": r.alarm, "fired": ", ".join(r.fired) or "-",
                  **{n: (None if g.get("z") is None else round(float(g["z"]), 2)) for n, g in r.guard_summary().items() if n not in ("manifest", "schema")},
                  "manifest": r.integrity, "schema": "; ".join(r.schema_problems) or "ok", "status": r.status, "suspects": len(r.suspect_ids)} for r in results]
        publish(name, "\n".join(lines), table=table, description=f"Drift check of {uri}")
    else:
        publish(name, f"Drift check of `{uri}`: every partition was already checked", description=f"Drift check of {uri}")
    alarms = [r for r in results if r.alarm]
    for r in alarms:
        emit_alarm(uri, r)
    if alarms:
        raise GuardFired(sorted({g for r in alarms for g in r.fired}), f"alarm on {', '.join(r.date for r in alarms)}", stopped="", fix=alarm_fix(alarms, name))
    unsure = [r for r in results if r.cannot_tell]
    if unsure:  # fail closed, as `drift` exits 1: a day too small to check is not a clean day, and the served run says so
        raise DriftCannotTell(unsure)
    return [r.to_dict() for r in results]


class DriftCannotTell(Inconclusive):
    """No alarm, but a day's rows were too few to tell (``cannot tell: DAY: …``): the flow run ends Failed, as the
    ``drift`` command exits 1, never reading as a clean check (a scheduled run used to complete on such a day)."""

    FIX = "check those rows by hand; such a day never joins the clean window"

    def __init__(self, days: list[drift.DayResult]) -> None:
        LabelguardError.__init__(self, "cannot tell: " + "; ".join(f"{r.date}: {r.cannot_tell}" for r in days), self.FIX)
        self.failed = []
        self.results = []
        self.days = [r.date for r in days]


def alarm_fix(alarms: list[drift.DayResult], name: str) -> str:
    """The fix of a drift alarm: the artifact, the suspect rows when there are any, and how to sign a day that has no manifest."""
    fix = f"inspect the drift artifact {artifact_key_name(name)!r}" + (" and the suspect rows of those partitions" if any(r.suspect_ids for r in alarms) else "")
    unsigned = [r.date for r in alarms if r.integrity == "missing-manifest"]
    # a folder like date=2026-02-30 names no day: ingest --partition refuses it, so renaming is the way (break-it r9 F10)
    dated, undated = [d for d in unsigned if _a_date(d)], [d for d in unsigned if not _a_date(d)]
    if dated:
        fix += f"; {', '.join(dated)} not signed: ingest those rows with `labelguard ingest --partition date=DAY`, or remove the folder"
    if undated:
        fix += (f"; {', '.join(f'date={d}' for d in undated)} {'names no calendar day' if len(undated) == 1 else 'name no calendar day'}: "
                "move the rows to the folder of their real date (then ingest them there), or remove the folder")
    return fix


def _a_date(day: str) -> bool:
    """Whether ``ingest --partition date=DAY`` would take ``day`` (its own check, :func:`drift.parse_date`)."""
    from labelguard.errors import BadInput

    try:
        drift.parse_date(day)
    except BadInput:
        return False
    return True


WEBHOOK_PAYLOAD = (
    '{"event": "{{ event.event }}", "partition": "{{ event.resource.id }}", "date": "{{ event.payload.date }}", '
    '"guards": "{{ event.payload.guards | join(\',\') }}", "suspects": "{{ event.payload.suspects }}"}'
)


def create_alert(name: str, *, webhook: str | None = None, deployment: str | None = None, dataset: str | None = None) -> str:
    """Create an automation reacting to every ``labelguard.guard.fired`` event: a drift alarm on a partition, or a served
    ``watch`` run whose guards fired on a dataset (of ``dataset`` alone, its partitions or itself, if given).

    Its action POSTs the event to ``webhook`` (through a Webhook block saved under the same name)
    or runs ``deployment`` (``FLOW/DEPLOYMENT``). Returns the automation id.
    """
    from prefect.automations import Automation, CallWebhook, EventTrigger, Posture, RunDeployment

    if webhook:
        from prefect.blocks.webhook import Webhook

        block_id = Webhook(url=webhook, method="POST", headers={"Content-Type": "application/json"}, allow_private_urls=True).save(
            artifact_key_name(name), overwrite=True)
        action = CallWebhook(block_document_id=block_id, payload=WEBHOOK_PAYLOAD)
    else:
        from prefect.client.orchestration import get_client

        with get_client(sync_client=True) as client:
            dep = client.read_deployment_by_name(deployment)
        action = RunDeployment(source="selected", deployment_id=dep.id, parameters={})
    ids = [f"labelguard.partition.{dataset.rstrip('/')}/*", dataset_resource_id(dataset)] if dataset else ["labelguard.partition.*", "labelguard.dataset.*"]
    match = {"prefect.resource.id": ids}
    automation = Automation(
        name=name, trigger=EventTrigger(expect={EVENT}, match=match, posture=Posture.Reactive, threshold=1, within=0), actions=[action],
    ).create()
    return str(automation.id)


def artifact_key_name(name: str) -> str:
    from labelguard.flows._prefect import artifact_key

    return artifact_key(name)
