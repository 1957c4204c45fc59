"""Ingest flow: load reviews, validate, split off a trusted holdout, write Parquet + signed manifests."""

from pathlib import Path
from typing import Any

from prefect import flow

from labelguard.errors import DatasetExists
from labelguard.flows._prefect import io_task, publish, step_task
from labelguard.tasks import dataset, sources
from labelguard.tasks.features import describe_columns
from labelguard.tasks.ledger import Ledger
from labelguard.tasks.manifest import DatasetRef, load_signing_key, new_dataset_id
from labelguard.tasks.storage import open_store

load_source = step_task(sources.load_source, name="load-source")
split_holdout = step_task(sources.split_holdout, name="split-holdout")


@io_task(name="prepare-destination")
def prepare_destination(dest: str, endpoint_url: str | None, with_holdout: bool):
    store = open_store(dest, endpoint_url=endpoint_url)
    store.ensure_writable()
    targets = [store, store.child(dataset.HOLDOUT)] if with_holdout else [store]
    for target in targets:
        for key in (dataset.MANIFEST_KEY, dataset.DATA_KEY):
            if target.head(key) is not None:
                raise DatasetExists(f"{target.uri} already holds a dataset ({key})", "choose a new --dest; datasets are create-only")
    return store


write_dataset = io_task(dataset.write_dataset, name="write-dataset")


@flow(name="labelguard-ingest", log_prints=False)
def ingest_flow(
    source: str,
    dest: str,
    signing_key: Path,
    rows: int = 5000,
    seed: int = 0,
    id_col: str = "review_id",
    label_col: str = "label",
    timestamp_col: str | None = "created_at",
    holdout_fraction: float = 0.2,
    endpoint_url: str | None = None,
    synthetic: dict[str, float] | None = None,
    dataset_id: str | None = None,
    ledger: Path | None = None,
    reader: dict[str, str | None] | None = None,
    positive_class: Any = None,
    text_cols: list[str] | None = None,
    ignore_cols: list[str] | None = None,
    domain: str | None = None,
) -> dict[str, Any]:
    """Ingest reviews into ``dest`` (training part) and ``dest/holdout`` (trusted holdout).

    Everything is checked before the first byte is written: source schema, key, destination
    writable and empty. Data objects go first, each manifest last.
    """
    key = load_signing_key(signing_key)
    frame, spec, meta = load_source(
        source, rows=rows, seed=seed, id_col=id_col, label_col=label_col, timestamp_col=timestamp_col, synthetic=synthetic,
        positive_class=positive_class, text_cols=text_cols, ignore_cols=ignore_cols or [], domain=domain, **(reader or {})
    )
    with_holdout = holdout_fraction > 0
    if with_holdout:
        train, holdout = split_holdout(frame, spec, holdout_fraction, seed)
    else:
        train, holdout = frame, None
    ds_id = dataset_id or new_dataset_id(dest)
    book = Ledger(ledger) if ledger else None
    written = {}
    root = open_store(dest, endpoint_url=endpoint_url)
    # one dataset as a whole: ledger lines only once both parts are written; a failure removes both and the folders made
    with dataset.writing_dataset(root, ledger=book, ledger_uri=root.uri, key=key) as parts:
        store = prepare_destination(dest, endpoint_url, with_holdout)
        if holdout is not None:  # the holdout first: the root's manifest, written last, completes the dataset
            written["holdout"] = parts.add(store.child(dataset.HOLDOUT), write_dataset(
                store.child(dataset.HOLDOUT), holdout, spec, key, source={**meta, "part": "holdout"},
                dataset=DatasetRef(ds_id, role="holdout", part=dataset.HOLDOUT),
            ))
        written["dataset"] = parts.add(store, write_dataset(store, train, spec, key, source={**meta, "part": "train"}, dataset=DatasetRef(ds_id, role="data")))
    written = {"dataset": written["dataset"], **({"holdout": written["holdout"]} if "holdout" in written else {})}
    summary = {
        part: {
            "uri": store.uri if part == "dataset" else store.child(dataset.HOLDOUT).uri,
            "rows": m.payload["rows"],
            "label_histogram": m.payload["label_histogram"],
            "sha256": m.payload["objects"][0]["sha256"],
            "version_id": m.payload["objects"][0]["version_id"],
            "key_id": m.key_id,
            "dataset_id": m.payload["dataset"]["id"],
            "columns": describe_columns(frame, spec),
            "positive_class": spec.positive_class,
        }
        for part, m in written.items()
    }
    publish(
        "labelguard-ingest",
        "\n".join(f"- **{p}** `{s['uri']}`: {s['rows']} rows, labels {s['label_histogram']}, sha256 `{s['sha256'][:16]}…`" for p, s in summary.items()),
        description="What was ingested and signed",
    )
    return summary
