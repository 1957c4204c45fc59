"""Ingest from PostgreSQL: read the table in one snapshot, guarded by its signed fingerprint, then write like any source."""

from pathlib import Path
from typing import Any

from prefect import flow
from pydantic import SecretStr

from labelguard.flows._prefect import io_task
from labelguard.flows.ingest import prepare_destination, split_holdout, write_dataset
from labelguard.tasks import dataset, postgres
from labelguard.tasks.manifest import load_signing_key


@io_task(name="read-table")
def read_table(source: SecretStr, signing_key: Path, fingerprint: Path | None, approve_relabel: Path | None, id_col: str, label_col: str, timestamp_col: str | None):
    # The snapshot is signed with the ingest key pair: its public half verifies it.
    verify_key = load_signing_key(signing_key).public_key()
    target = postgres.parse_table_url(source.get_secret_value())
    return postgres.load_table_source(
        target, verify_key, fingerprint=fingerprint, approve_relabel=approve_relabel, id_col=id_col, label_col=label_col, timestamp_col=timestamp_col
    )


@flow(name="labelguard-ingest-table", log_prints=False)
def ingest_table_flow(
    source: SecretStr,
    dest: str,
    signing_key: Path,
    fingerprint: Path | None = None,
    approve_relabel: Path | None = None,
    seed: int = 0,
    id_col: str = "review_id",
    label_col: str = "label",
    timestamp_col: str | None = "created_at",
    holdout_fraction: float = 0.2,
    endpoint_url: str | None = None,
) -> dict[str, Any]:
    """Ingest a PostgreSQL table into ``dest`` (and ``dest/holdout``) as Parquet with signed manifests.

    ``source`` is a secret (the URL may hold a password): Prefect stores it obfuscated.
    """
    key = load_signing_key(signing_key)
    frame, spec, meta = read_table(source, signing_key, fingerprint, approve_relabel, id_col, label_col, timestamp_col)
    with_holdout = holdout_fraction > 0
    train, holdout = split_holdout(frame, spec, holdout_fraction, seed) if with_holdout else (frame, None)
    store = prepare_destination(dest, endpoint_url, with_holdout)
    written = {"dataset": write_dataset(store, train, spec, key, source={**meta, "part": "train"})}
    if holdout is not None:
        written["holdout"] = write_dataset(store.child(dataset.HOLDOUT), holdout, spec, key, source={**meta, "part": "holdout"})
    return {
        part: {
            "uri": store.uri if part == "dataset" else store.child(dataset.HOLDOUT).uri,
            "rows": m.payload["rows"],
            "label_histogram": m.payload["label_histogram"],
            "sha256": m.payload["object"]["sha256"],
            "version_id": m.payload["object"]["version_id"],
            "source": meta,
        }
        for part, m in written.items()
    }
