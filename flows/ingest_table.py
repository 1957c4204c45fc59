"""Ingest from PostgreSQL: stream the table from one snapshot, guarded by its signed fingerprint, into Parquet + signed manifests."""

from pathlib import Path
from typing import Any

from prefect import flow
from pydantic import SecretStr

from labelguard.flows._prefect import io_task
from labelguard.errors import DatasetExists
from labelguard.tasks import dataset, postgres
from labelguard.tasks.manifest import load_signing_key
from labelguard.tasks.storage import open_store
from labelguard.tasks.table_ingest import ingest_table


@io_task(name="check-destination")
def check_destination(dest: str, endpoint_url: str | None, with_holdout: bool):
    """Refuse an occupied destination before reading; nothing is created until the table has been read."""
    store = open_store(dest, endpoint_url=endpoint_url)
    for target in [store, store.child(dataset.HOLDOUT)] if with_holdout else [store]:
        for key in (dataset.MANIFEST_KEY, dataset.DATA_KEY):
            if target.head(key) is not None:
                raise DatasetExists(f"{target.uri} already holds a dataset ({key})", "choose a new --dest; datasets are create-only")
    return store


@io_task(name="ingest-table")
def stream_table(source: SecretStr, store, signing_key: Path, **options):
    # one step: the snapshot is read and written batch by batch, never held whole
    from labelguard.tasks.ledger import Ledger

    ledger = options.pop("ledger", None)
    return ingest_table(postgres.parse_table_url(source.get_secret_value()), store, load_signing_key(signing_key), ledger=Ledger(ledger) if ledger else None, **options)


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
    ledger: Path | None = None,
    text_cols: list[str] | None = None,
    ignore_cols: list[str] | None = None,
    positive_class: Any = None,
) -> dict[str, Any]:
    """Ingest a PostgreSQL table into ``dest`` (and ``dest/holdout``) as Parquet with signed manifests.

    ``source`` is a secret (the URL may hold a password): Prefect stores it obfuscated.
    """
    load_signing_key(signing_key)
    store = check_destination(dest, endpoint_url, holdout_fraction > 0)
    written = stream_table(
        source, store, signing_key, fingerprint=fingerprint, approve_relabel=approve_relabel, id_col=id_col,
        label_col=label_col, timestamp_col=timestamp_col, holdout_fraction=holdout_fraction, seed=seed, ledger=ledger,
        text_cols=text_cols, ignore_cols=ignore_cols or (), positive_class=positive_class,
    )
    meta = written.pop("source")
    columns = written.pop("columns")
    return {
        part: {
            "uri": store.uri if part == "dataset" else store.child(dataset.HOLDOUT).uri,
            "rows": m.payload["rows"],
            "label_histogram": m.payload["label_histogram"],
            "sha256": m.payload["objects"][0]["sha256"],
            "version_id": m.payload["objects"][0]["version_id"],
            "dataset_id": m.payload["dataset"]["id"],
            "source": meta,
            "columns": columns,
            "positive_class": m.payload["columns"].get("positive_class"),
        }
        for part, m in written.items()
    }
