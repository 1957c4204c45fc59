"""Streaming ingest of a PostgreSQL table: batches from one snapshot straight into Parquet, a signed manifest per part.

The in-memory ingest (pandas frame, pandera, split, ``dataset.write_dataset``) holds the whole
table several times over; at a million rows that exceeds the memory target. This path keeps only
the label column (for the holdout split), the compact row sidecar (id, label, 64-bit row hash)
and one batch at a time, and writes the same objects as ``write_dataset``: data, sidecar, the
sidecar's signature, then the manifest, create-only, removed again when a write fails.
"""

from __future__ import annotations

import hashlib
import tempfile
from concurrent.futures import ThreadPoolExecutor
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from labelguard.errors import DatasetExists, SchemaViolation
from labelguard.schemas.reviews import review_schema, validate_reviews
from labelguard.tasks import dataset
from labelguard.tasks.manifest import FORMAT, ColumnSpec, DatasetRef, new_dataset_id, sign_manifest, to_py
from labelguard.tasks.postgres import BATCH_BYTES, RowTagger, TableTarget, _approval, compare_tags, resolve_fingerprint, table_session
from labelguard.tasks.storage import Store, sha256_hex


class _PartWriter:
    """One output part (training or holdout): Parquet on local disk, the sidecar, counts and the labels digest, batch by batch."""

    def __init__(self, path: Path, schema: pa.Schema, spec: ColumnSpec) -> None:
        self.path, self.spec = path, spec
        # ids and features are (nearly) all distinct: dictionary-encoding them only costs time
        self.writer = pq.ParquetWriter(path, schema, compression="zstd", use_dictionary=[spec.label_col])
        self.sidecar: list[pa.Table] = []
        self.histogram: Counter = Counter()
        self.labels_sha = hashlib.sha256()  # same bytes as manifest.labels_digest: rows arrive sorted by id, bytewise
        self.rows = 0

    def add(self, batch: pa.RecordBatch, frame: pd.DataFrame) -> None:
        if not len(frame):
            return
        self.writer.write_batch(batch)
        # hashed from the decoded batch, exactly as verify decodes the Parquet later
        self.sidecar.append(pa.Table.from_pandas(dataset.row_digests(frame, self.spec), preserve_index=False))
        ids = batch.column(self.spec.id_col).cast(pa.large_string())
        labels = batch.column(self.spec.label_col).cast(pa.large_string())
        sep, newline, empty = (pa.scalar(v, pa.large_string()) for v in ("\x1f", "\n", ""))
        joined = pc.binary_join_element_wise(pc.binary_join_element_wise(ids, labels, sep), empty, newline)  # "id\x1flabel\n"
        offsets = np.frombuffer(joined.buffers()[1], dtype=np.int64)[joined.offset : joined.offset + len(joined) + 1]
        self.labels_sha.update(memoryview(joined.buffers()[2])[offsets[0] : offsets[-1]])
        counts = pc.value_counts(labels)
        self.histogram.update(dict(zip(counts.field("values").to_pylist(), counts.field("counts").to_pylist())))
        self.rows += len(frame)

    def close(self) -> bytes:
        self.writer.close()
        sink = pa.BufferOutputStream()
        table = pa.concat_tables(self.sidecar) if self.sidecar else pa.table({"id": pa.array([], pa.string()), "label": pa.array([], pa.int64()), "row_hash": pa.array([], pa.uint64())})
        pq.write_table(table, sink, compression="zstd")
        self.sidecar = []
        return sink.getvalue().to_pybytes()


class HoldoutDraw:
    """The stratified holdout of :func:`labelguard.tasks.sources.split_holdout`, drawn from class counts alone.

    ``split_holdout`` takes, per class in sorted order, ``rng.choice(positions_of_class, k)``;
    which positions that picks depends only on the class size, ``k`` and the generator, so the
    same within-class ranks can be drawn up front and matched while the rows stream past.
    """

    def __init__(self, counts: dict, fraction: float, seed: int, classes=None) -> None:
        if not 0.0 < fraction < 1.0:
            from labelguard.errors import BadInput

            raise BadInput(f"holdout fraction must be in (0, 1), got {fraction}", "pass e.g. --holdout-fraction 0.2")
        from labelguard.tasks.sources import holdout_size

        rng = np.random.default_rng([seed, 0x401D])  # the seed sequence split_holdout uses
        self.chosen: dict = {}
        # classes outside the class set are the schema's to refuse (per batch, naming the row), not a size problem
        sizes = {
            cls: holdout_size(cls, counts[cls], fraction) if classes is None or cls in classes else int(round(fraction * counts[cls]))
            for cls in sorted(counts)
        }
        for cls in sorted(counts):
            n = counts[cls]
            picked = np.zeros(n, dtype=bool)
            picked[rng.choice(n, size=sizes[cls], replace=False)] = True
            self.chosen[cls] = picked
        self.seen = {cls: 0 for cls in self.chosen}

    def take(self, labels: np.ndarray) -> np.ndarray:
        """Holdout mask for the next rows, given their labels in table order."""
        mask = np.zeros(len(labels), dtype=bool)
        for cls, picked in self.chosen.items():
            rows = np.flatnonzero(labels == cls)
            start = self.seen[cls]
            mask[rows] = picked[start : start + len(rows)]
            self.seen[cls] = start + len(rows)
        return mask


class _BatchSink:
    """Per-batch work of the table ingest, batch after batch in stream order: validate, check id
    uniqueness across batches, draw the holdout, write both parts. After the first schema failure
    later batches are skipped (the stream is still read to finish the fingerprint comparison)."""

    def __init__(self, table: str, spec: ColumnSpec, schema, draw: HoldoutDraw | None, tmp: Path) -> None:
        self.table, self.spec, self.schema, self.draw, self.tmp = table, spec, schema, draw, tmp
        self.parts: dict[str, _PartWriter] = {}
        self.position, self.last_id, self.failure = 0, None, None

    def add(self, batch: pa.RecordBatch) -> None:
        spec = self.spec
        if self.failure is not None:
            return
        if not self.parts:
            self.parts = {"dataset": _PartWriter(self.tmp / "train.parquet", batch.schema, spec)}
            if self.draw is not None:
                self.parts["holdout"] = _PartWriter(self.tmp / "holdout.parquet", batch.schema, spec)
        frame = batch.to_pandas()
        _, failures = validate_reviews(frame, spec, self.schema)
        if failures is not None:
            first = failures.iloc[0]
            # as a file's failure is told: NULL not "nan", the row's id, a fix for that column (break-it r12 finding 3)
            from labelguard.tasks.sources import _schema_fix, _where

            case, column = first["failure_case"], str(first["column"])
            shown = "NULL" if case is None or (isinstance(case, float) and np.isnan(case)) or case is pd.NA else f"value {to_py(case)!r}"
            where = f" at {_where(frame, spec, column, first['index'])}" if column != spec.id_col else ""
            fix = _schema_fix(column, str(first["check"]), spec)
            if column == spec.id_col and str(first["check"]) == "not_nullable":
                fix = f"give every row an id in {column!r} (a primary key), or delete the rows without one"
            self.failure = SchemaViolation(
                f"table {self.table}: schema failure in column {column!r} check {first['check']!r} {shown}{where}", fix, failure_cases=failures,
            )
            return
        # ids arrive sorted bytewise: a duplicate sits next to its twin, within a batch or across the boundary
        ids = batch.column(spec.id_col).cast(pa.large_string())
        same = np.asarray(pc.equal(ids[1:], ids[:-1]).fill_null(False)) if len(ids) > 1 else np.zeros(0, dtype=bool)
        if same.any() or (self.last_id is not None and ids[0].as_py() == self.last_id):
            dup = ids[int(np.argmax(same)) + 1].as_py() if same.any() else self.last_id
            self.failure = SchemaViolation(f"table {self.table}: ids in column {spec.id_col!r} are not unique (e.g. {dup})", "fix the table: one row per id (a primary key)")
            return
        self.last_id = ids[-1].as_py()
        held = self.draw.take(batch.column(spec.label_col).to_numpy(zero_copy_only=False)) if self.draw else np.zeros(len(frame), dtype=bool)
        self.position += len(frame)
        self.parts["dataset"].add(batch.filter(pa.array(~held)), frame[~held])
        if self.draw is not None:
            self.parts["holdout"].add(batch.filter(pa.array(held)), frame[held])


def _write_part(store: Store, part: _PartWriter, sidecar: bytes, spec: ColumnSpec, key, source: dict[str, Any], ref: DatasetRef, ledger=None, ledger_uri: str | None = None):
    """``dataset.write_dataset`` for a part already encoded on disk: data, sidecar, its signature, manifest last,
    with the same identity binding (dataset id, role, part, keys relative to the root) and ledger entry."""
    for existing in (dataset.MANIFEST_KEY, dataset.DATA_KEY):
        if store.head(existing) is not None:
            raise DatasetExists(f"{store.uri} already holds a dataset ({existing})", "choose a new --dest; datasets are create-only")
    written: list[tuple[str, str | None]] = []
    try:
        data = part.path.read_bytes()
        info = store.put(dataset.DATA_KEY, data)
        written.append((dataset.DATA_KEY, info.version_id))
        digest = info.sha256 or sha256_hex(data)
        del data
        rows_info = store.put(dataset.ROWS_KEY, sidecar)
        written.append((dataset.ROWS_KEY, rows_info.version_id))
        objects = [{"key": ref.key(dataset.DATA_KEY), "sha256": digest, "bytes": info.size, "version_id": info.version_id, "rows": part.rows}]
        envelope = dataset.sidecar_envelope(ref, spec, objects, rows_info.sha256, part.rows, key)
        sig_info = store.put(dataset.ROWS_SIG_KEY, envelope.to_bytes())
        written.append((dataset.ROWS_SIG_KEY, sig_info.version_id))
        payload = {
            "format": FORMAT,
            "dataset": ref.to_dict(),
            "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "source": source,
            "columns": spec.to_dict(),
            "objects": objects,
            "rows": part.rows,
            "label_histogram": {k: int(v) for k, v in sorted(part.histogram.items())},
            "labels_digest": part.labels_sha.hexdigest(),
            "rows_sidecar": {"key": ref.key(dataset.ROWS_KEY), "sha256": rows_info.sha256, "bytes": rows_info.size, "version_id": rows_info.version_id},
        }
        manifest = sign_manifest(payload, key)
        man_info = store.put(dataset.MANIFEST_KEY, manifest.to_bytes())
        written.append((dataset.MANIFEST_KEY, man_info.version_id))
        if ledger is not None:
            dataset.record(ledger, manifest, ledger_uri or store.uri, key)
    except BaseException:
        dataset._cleanup(store, written)
        raise
    return manifest


def ingest_table(
    target: TableTarget,
    store: Store,
    signing_key,
    *,
    fingerprint: Path | None = None,
    approve_relabel: Path | None = None,
    id_col: str = "review_id",
    label_col: str = "label",
    timestamp_col: str | None = "created_at",
    holdout_fraction: float = 0.2,
    seed: int = 0,
    block_bytes: int = BATCH_BYTES,
    ledger=None,
    text_cols: list[str] | None = None,
    ignore_cols=(),
    positive_class: Any = None,
) -> dict[str, Any]:
    """Ingest a table into ``store`` (training part) and ``store/holdout``, streaming, in one snapshot.

    Inside one read-only REPEATABLE READ transaction: count the classes to draw the same
    stratified holdout as ``sources.split_holdout``, then stream every column in id order via
    ``COPY … TO STDOUT`` in Arrow batches, with the fingerprint's row tags and stream digest
    computed from the same COPY bytes as they pass (:class:`~labelguard.tasks.postgres.RowTagger`),
    validating each batch with the review schema (ids unique across batches: sorted, a duplicate
    is adjacent) and writing it to the part's Parquet file on local disk. When the stream digest
    does not match the signed fingerprint, the streamed tags name the rows (no second pass) and
    the change is refused unless approved; only then do the objects reach the store, each part
    manifest last.
    Rows written by others meanwhile are not seen.

    Parameters
    ----------
    target
        The parsed table URL.
    store
        Destination (empty); the holdout goes to ``store.child("holdout")``.
    signing_key
        Ed25519 private key; its public half verifies the table's fingerprint.
    fingerprint, approve_relabel
        The fingerprint file (default: the table's file under the state directory; none there
        means no guard, recorded as ``fingerprint: null``) and the approved relabelling.
    holdout_fraction, seed
        As for every source; 0 writes no holdout.
    block_bytes
        CSV bytes per Arrow batch (about 8 MiB: some 100,000 review rows).
    text_cols, ignore_cols, positive_class
        As for the file ingest (``--text-cols``, ``--ignore-cols``, ``--positive-class``): the columns
        are chosen by the same rule (:meth:`~labelguard.tasks.postgres.TableSession.ingest_spec`) and
        every column of the table is stored, used or not, as the file ingest stores every column.

    Returns
    -------
    ``{"dataset": SignedManifest, "holdout": SignedManifest?, "source": provenance, "columns": the one-line column summary}``.

    Raises
    ------
    GuardFired
        The table changed since its fingerprint and the change is not an approved relabelling.
    UntrustedInput
        The fingerprint was altered or signed by another key.
    SchemaViolation
        Duplicate ids, labels outside the class set, missing or non-finite values (nothing written).
    """
    with tempfile.TemporaryDirectory(prefix="labelguard-ingest-") as tmp:
        with table_session(target) as s:
            fp = resolve_fingerprint(s, fingerprint, signing_key.public_key(), required=fingerprint is not None)
            if fp is not None:
                id_col, label_col = fp.spec.id_col, fp.spec.label_col
            spec = s.ingest_spec(id_col=id_col, label_col=label_col, timestamp_col=timestamp_col, classes=fp.spec.classes if fp else None,
                                 text_cols=text_cols, ignore_cols=ignore_cols, positive_class=positive_class)
            # the review schema, except that id uniqueness is checked across batches below, not per batch
            schema = review_schema(spec).update_column(spec.id_col, unique=False)
            with_holdout = holdout_fraction > 0
            draw = HoldoutDraw(s.label_counts(spec.label_col), holdout_fraction, seed, spec.classes) if with_holdout else None
            cols = list(s.columns)  # every column, used or not, as the file ingest keeps them
            # the fingerprint's row tags are computed from the data stream itself: one pass, one sort
            tagger = RowTagger() if fp is not None else None
            live_ids, live_labels = [], []
            batches = _BatchSink(target.table, spec, schema, draw, Path(tmp))
            # the next batch is read and parsed while the last one is validated, hashed and encoded:
            # one worker, batches in order (ids are checked for duplicates across batch boundaries)
            with ThreadPoolExecutor(max_workers=1, thread_name_prefix="labelguard-ingest") as pool:
                pending = None
                for batch in s.stream(cols, order_by=spec.id_col, block_bytes=block_bytes, tagger=tagger):
                    if tagger is not None:  # as parsed: cast to text only if the digest differs
                        live_ids.append(batch.column(spec.id_col))
                        live_labels.append(batch.column(spec.label_col))
                    if pending is not None:
                        pending.result()
                    pending = pool.submit(batches.add, batch)
                if pending is not None:
                    pending.result()
            parts, position, schema_failure, approval = batches.parts, batches.position, batches.failure, None
            # a changed table is the news (guard fired) even when it also breaks the schema (bad input)
            if fp is not None:
                diff = compare_tags(fp, lambda: tagger.table(live_ids, live_labels), tagger.hexdigest(), s.columns)
                live_ids = live_labels = tagger = None  # freed before the sidecars are assembled
                if not diff.ok:
                    approval = _approval(diff, fp, approve_relabel)
            if schema_failure is not None:
                raise schema_failure
            if not parts:
                raise SchemaViolation(f"table {target.table} is empty", "ingest a table with rows")
            if draw and draw.seen != {c: len(p) for c, p in draw.chosen.items()}:  # one snapshot: counts and stream agree
                raise AssertionError(f"streamed {draw.seen} rows per class, counted {({c: len(p) for c, p in draw.chosen.items()})}")
            source = {
                "kind": "postgresql",
                "url": target.shown,
                "table": target.table,
                "server": s.server,
                "snapshot_time": s.snapshot_time,
                "isolation": "repeatable read, read only",
                "rows": position,
                "fingerprint": None if fp is None else {"path": str(fp.path), "taken_at": fp.payload["taken_at"], "stream_sha256": fp.payload["stream_sha256"], "key_id": fp.key_id},
                "approved_relabel": approval,
            }
            sidecars = {name: part.close() for name, part in parts.items()}
        ds_id = new_dataset_id(store.uri)
        written = {}
        # one dataset as a whole: ledger lines only once both parts are written; a failure removes both and the folders made
        with dataset.writing_dataset(store, ledger=ledger, ledger_uri=store.uri, key=signing_key) as done:
            store.ensure_writable()  # only now: a refused or failed read leaves the destination untouched
            if with_holdout:  # the holdout first: the root's manifest, written last, completes the dataset
                written["holdout"] = done.add(store.child(dataset.HOLDOUT), _write_part(
                    store.child(dataset.HOLDOUT), parts["holdout"], sidecars.pop("holdout"), spec, signing_key, {**source, "part": "holdout"},
                    DatasetRef(ds_id, "holdout", dataset.HOLDOUT),
                ))
            written["dataset"] = done.add(store, _write_part(store, parts["dataset"], sidecars.pop("dataset"), spec, signing_key, {**source, "part": "train"}, DatasetRef(ds_id, "data")))
    from labelguard.tasks.features import describe_columns

    return {**written, "source": source, "columns": describe_columns(pd.DataFrame(columns=cols), spec)}
