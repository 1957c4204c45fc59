"""The attacker with write access: rewrite a stored object's labels, or poison a file before ingest."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from labelguard.errors import BadInput, DatasetMissing
from labelguard.tasks.attacks import FlipResult, flip_labels
from labelguard.tasks.classes import with_positive
from labelguard.tasks.dataset import DATA_KEY, MANIFEST_KEY, from_parquet_bytes, read_manifest
from labelguard.tasks.manifest import ColumnSpec, SignedManifest, label_histogram, labels_digest, sign_manifest
from labelguard.tasks.sources import infer_spec
from labelguard.tasks.storage import Store, open_store, sha256_hex

OBJECT_SUFFIXES = (".parquet", ".pq", ".csv")


def decode(data: bytes, key: str) -> pd.DataFrame:
    if key.lower().endswith(".csv"):
        return pd.read_csv(io.BytesIO(data))
    return from_parquet_bytes(data)


def encode_like(original: bytes, key: str, frame: pd.DataFrame, spec: ColumnSpec, changed: pd.Series) -> bytes:
    """Re-encode ``frame`` the way the original object was laid out, so the edit looks plausible.

    Parquet keeps the original Arrow schema (and pandas metadata), compression and row-group size;
    CSV keeps every byte of every field except the label cells of the changed rows.
    """
    if key.lower().endswith(".csv"):
        text = original.decode()
        rows = list(csv.reader(io.StringIO(text)))
        col = rows[0].index(spec.label_col)
        labels = frame[spec.label_col].astype(str).to_numpy()
        for i in changed.to_numpy().nonzero()[0]:
            rows[i + 1][col] = labels[i]
        sink = io.StringIO()
        csv.writer(sink, lineterminator="\r\n" if "\r\n" in text[:4096] else "\n").writerows(rows)
        return sink.getvalue().encode()
    meta = pq.ParquetFile(pa.BufferReader(original)).metadata
    schema = pq.read_schema(pa.BufferReader(original))
    first = meta.row_group(0).column(0) if meta.num_row_groups else None
    table = pa.Table.from_pandas(frame, schema=schema, preserve_index=False)
    sink = io.BytesIO()
    pq.write_table(
        table,
        sink,
        compression=(first.compression.lower() if first else "snappy"),
        row_group_size=max(1, meta.row_group(0).num_rows) if meta.num_row_groups else None,
    )
    return sink.getvalue()


@dataclass(frozen=True)
class TamperTarget:
    store: Store
    key: str
    spec: ColumnSpec
    manifest: SignedManifest | None


def resolve_target(uri: str, *, endpoint_url: str | None, id_col: str, label_col: str) -> TamperTarget:
    """A dataset URI (its manifest names the object and the columns) or a direct object URI."""
    uri = uri.rstrip("/")
    if uri.lower().endswith(OBJECT_SUFFIXES):
        parent, _, key = uri.rpartition("/")
        store = open_store(parent or ".", endpoint_url=endpoint_url)
        manifest = _manifest_or_none(store)
        if manifest is not None and manifest.payload["object"]["key"] != key:
            manifest = None
    else:
        store = open_store(uri, endpoint_url=endpoint_url)
        manifest = _manifest_or_none(store)
        key = manifest.payload["object"]["key"] if manifest else DATA_KEY
    if store.head(key) is None:
        raise DatasetMissing(f"no object {key!r} under {store.uri}", "point at a dataset written by `labelguard ingest` or at a .parquet/.csv object")
    spec = manifest.spec if manifest else None
    return TamperTarget(store, key, spec, manifest) if spec else TamperTarget(store, key, ColumnSpec(id_col=id_col, label_col=label_col), None)


def _manifest_or_none(store: Store) -> SignedManifest | None:
    try:
        return read_manifest(store)
    except DatasetMissing:
        return None


def tamper(
    uri: str,
    *,
    attack: str,
    rate: float,
    seed: int,
    truth_out: Path,
    forge_manifest: bool = False,
    resign_key: Ed25519PrivateKey | None = None,
    endpoint_url: str | None = None,
    id_col: str = "review_id",
    label_col: str = "label",
    options: dict[str, Any] | None = None,
    positive_class: Any = None,
) -> FlipResult:
    """Flip labels in a stored object in place, as an attacker with write access would.

    Everything that can fail is checked before the store is touched; the truth file is written
    before the object is overwritten. With ``forge_manifest`` every unsigned field of the manifest
    is rewritten to match (the old signature stays, so it no longer verifies); with ``resign_key``
    the forged manifest is re-signed under the attacker's own key.

    Raises
    ------
    BadInput
        Unknown attack, bad rate or budget, missing columns, ``forge_manifest`` without a manifest,
        an existing truth file.
    """
    target = resolve_target(uri, endpoint_url=endpoint_url, id_col=id_col, label_col=label_col)
    if (forge_manifest or resign_key is not None) and target.manifest is None:
        raise BadInput(f"no manifest at {target.store.uri} to forge", "drop --forge-manifest, or point at a dataset written by `labelguard ingest`")
    truth_out = Path(truth_out)
    if truth_out.exists():
        raise BadInput(f"truth file {truth_out} already exists", "choose a new --truth-out path")
    original = target.store.get(target.key)
    frame = decode(original, target.key)
    spec = target.spec if target.manifest else infer_spec(frame, id_col=id_col, label_col=label_col, timestamp_col=None)
    spec = with_positive(spec, positive_class)
    result = flip_labels(frame, spec, attack=attack, rate=rate, seed=seed, **(options or {}))
    changed = frame[spec.label_col].ne(result.frame[spec.label_col])
    data = encode_like(original, target.key, result.frame, spec, changed)
    manifest = _forged(target.manifest, result.frame, spec, data) if (forge_manifest or resign_key) else None
    _write_truth(truth_out, result, uri)
    info = target.store.put(target.key, data, create_only=False)
    if manifest is not None:
        payload = {**manifest.payload, "object": {**manifest.payload["object"], "version_id": info.version_id}}
        forged = sign_manifest(payload, resign_key) if resign_key else SignedManifest(payload, manifest.signature, manifest.key_id)
        target.store.put(MANIFEST_KEY, forged.to_bytes(), create_only=False)
    return result


def _forged(manifest: SignedManifest, frame: pd.DataFrame, spec: ColumnSpec, data: bytes) -> SignedManifest:
    payload = json.loads(json.dumps(manifest.payload))
    payload["object"].update({"sha256": sha256_hex(data), "bytes": len(data)})
    payload["rows"] = int(len(frame))
    payload["label_histogram"] = label_histogram(frame, spec.label_col)
    payload["labels_digest"] = labels_digest(frame, spec.id_col, spec.label_col)
    return SignedManifest(payload, manifest.signature, manifest.key_id)


def _write_truth(path: Path, result: FlipResult, uri: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "x") as fh:
            json.dump({"target": uri, **result.truth()}, fh, indent=1)
    except OSError as exc:
        raise BadInput(f"cannot write truth file {path}: {exc.strerror or exc}", "choose a writable --truth-out path") from None


def poison_file(
    path: Path,
    out: Path,
    *,
    attack: str,
    rate: float,
    seed: int,
    truth_out: Path | None = None,
    id_col: str = "review_id",
    label_col: str = "label",
    options: dict[str, Any] | None = None,
    positive_class: Any = None,
) -> FlipResult:
    """Write a poisoned copy of a local CSV/Parquet file before it is ever ingested (create-only)."""
    path, out = Path(path), Path(out)
    if not path.is_file():
        raise BadInput(f"no such file: {path}", "pass an existing .csv or .parquet file")
    if not path.name.lower().endswith(OBJECT_SUFFIXES) or path.suffix.lower() != out.suffix.lower():
        raise BadInput(f"{path.name} -> {out.name}: need .csv or .parquet on both sides, same type", "name --out with the input's suffix")
    for target in filter(None, (out, truth_out)):
        if Path(target).exists():
            raise BadInput(f"{target} already exists", "choose a new output path; poison never overwrites")
    original = path.read_bytes()
    frame = decode(original, path.name)
    spec = infer_spec(frame, id_col=id_col, label_col=label_col, timestamp_col="created_at", positive_class=positive_class)
    result = flip_labels(frame, spec, attack=attack, rate=rate, seed=seed, **(options or {}))
    data = encode_like(original, path.name, result.frame, spec, frame[spec.label_col].ne(result.frame[spec.label_col]))
    if truth_out is not None:
        _write_truth(Path(truth_out), result, str(path))
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "xb") as fh:
        fh.write(data)
    return result
