"""Verify flow: the guard suite on a stored dataset as a Prefect flow, for scheduled drift-detection runs."""

from pathlib import Path
from typing import Any

from prefect import flow

from labelguard.errors import GuardFired, Inconclusive
from labelguard.flows._prefect import artifact_key, io_task, publish
from labelguard.tasks.manifest import load_verify_key
from labelguard.tasks.verify import DEFAULT_TOLERATE, inconclusive_fix, verify_dataset


@io_task(name="verify-dataset")
def _verify(uri: str, verify_key: Path, reference_uri: str | None, holdout_uri: str | None, endpoint_url: str | None,
            tolerate: float, ledger: str | None, share_gap: float | None):
    from labelguard.tasks.ledger import Ledger

    return verify_dataset(uri, load_verify_key(verify_key), reference_uri=reference_uri, holdout_uri=holdout_uri, endpoint_url=endpoint_url,
                          tolerate=tolerate, ledger=Ledger(ledger) if ledger else None, share_gap=share_gap)


@flow(name="labelguard-verify", log_prints=False)
def verify_flow(
    uri: str,
    verify_key: Path,
    reference_uri: str | None = None,
    holdout_uri: str | None = None,
    endpoint_url: str | None = None,
    name: str = "labelguard-verify",
    tolerate: float = DEFAULT_TOLERATE,
    allow_inconclusive: bool = False,
    ledger: str | None = None,
    share_gap: float | None = None,
) -> dict[str, Any]:
    """Run `labelguard verify` as a flow: publishes the guard table as an artifact and fails as `verify` exits 1.

    A fired guard fails the run with :class:`GuardFired`; an ``inconclusive`` verdict with
    :class:`Inconclusive` ("the guards cannot vouch for the data", never "fired"), unless
    ``allow_inconclusive``. ``tolerate``, ``ledger`` and ``share_gap`` are `verify`'s.
    """
    report = _verify(uri, verify_key, reference_uri, holdout_uri, endpoint_url, tolerate, ledger, share_gap)
    publish(
        name,
        "\n".join(f"- **{g.name}**: {g.verdict} — {g.detail}" for g in report.guards)
        + (f"\n\n{report.suspects_heading.capitalize()} ({len(report.suspect_ids)}, from {', '.join(report.suspects_from)})" if report.suspect_ids else ""),
        table=[{"guard": g.name, "verdict": g.verdict, "suspects": len(g.suspect_ids or []), "detail": g.detail} for g in report.guards],
        description=f"Guard suite on {uri}",
    )
    if report.verdict == "fired":
        from labelguard.flows.drift import emit_fired

        emit_fired(uri, report)  # what `labelguard alert` listens for
        raise GuardFired([g.name for g in report.guards if g.fired], results=report.guards, stopped="", fix=f"inspect the guard table artifact {artifact_key(name)!r} and the suspect rows")  # the key it is stored under
    if report.verdict == "inconclusive" and not allow_inconclusive:
        fix = inconclusive_fix(report.guards, report.class_power, report.judged_noise_rate, holdout_leak=bool(report.inputs.get("holdout_leak")),
                               last_resort="--allow-inconclusive on `labelguard watch`", tolerate=report.tolerate,
                               reference_leak=bool(report.inputs.get("reference_leak")))
        raise CannotTell(report, fix)
    report.allowed_inconclusive = allow_inconclusive
    return report.to_dict()


class CannotTell(Inconclusive):
    """The scheduled check's ``inconclusive`` verdict: no guard fired, the suite could not vouch for the data.

    Worded as ``verify`` words it (``cannot tell: …``): the run used to say the inconclusive guards *fired*, which
    reads as poisoning found on clean data, and advised a tolerance the served flow did not take.
    """

    def __init__(self, report, fix: str) -> None:
        from labelguard.errors import LabelguardError

        LabelguardError.__init__(self, f"cannot tell: {report.verdict_detail}", fix)
        self.failed = []
        self.results = list(report.guards)
