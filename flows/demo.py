"""Demo flow: ingest synthetic reviews, run the pipeline clean and compromised in observe mode, compare."""

import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from prefect import flow

from labelguard.flows._prefect import publish, step_task
from labelguard.flows.ingest import ingest_flow
from labelguard.flows.pipeline import pipeline_flow
from labelguard.tasks import report
from labelguard.tasks.manifest import generate_keypair
from labelguard.tasks.transforms import HONEST

write_report = step_task(report.write_report, name="write-report")


def demo_dest(bucket: str = "labelguard-demo") -> str:
    """A fresh prefix per demo run: the store is create-only, so runs never collide."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
    return f"s3://{bucket}/reviews-{stamp}-{time.monotonic_ns() % 100000:05d}"


@flow(name="labelguard-demo", log_prints=False)
def demo_flow(
    out_dir: Path,
    dest: str | None = None,
    rows: int = 5000,
    seed: int = 0,
    transform: str = "targeted",
    rate: float = 0.2,
    endpoint_url: str | None = None,
) -> dict[str, Any]:
    """The whole drill on synthetic data; returns the report's figures and paths.

    A throwaway Ed25519 key pair is made in a temporary directory outside the store and removed
    when the flow ends.
    """
    dest = dest or demo_dest()
    with tempfile.TemporaryDirectory(prefix="labelguard-keys-") as keydir:
        signing, verify = generate_keypair(Path(keydir))
        ingested = ingest_flow(source="synthetic", dest=dest, signing_key=signing, rows=rows, seed=seed, endpoint_url=endpoint_url)
        runs = {
            "clean": pipeline_flow(dest, verify, transform=HONEST, seed=seed, observe=True, endpoint_url=endpoint_url),
            "compromised": pipeline_flow(dest, verify, transform=transform, rate=rate, seed=seed, observe=True, endpoint_url=endpoint_url),
        }
    paths = write_report(runs, Path(out_dir), extra={"ingest": ingested}, title="labelguard demo: clean vs compromised pipeline")
    publish(
        "labelguard-demo",
        report.render_markdown(runs, title="labelguard demo"),
        table=report.summary_rows(runs),
        description="Clean vs. compromised pipeline",
    )
    return {"dest": dest, "runs": runs, "paths": paths, "ingest": ingested}
