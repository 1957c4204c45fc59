"""The attacker with write access: rewrite a stored object's labels, or poison a file before ingest."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from labelguard.errors import BadInput, DatasetMissing
from labelguard.tasks.attacks import FlipResult, flip_labels
from labelguard.tasks.classes import with_positive
from labelguard.tasks.dataset import DATA_KEY, MANIFEST_KEY, ManifestProblem, own_key, read_manifest
from labelguard.tasks.manifest import ColumnSpec, SignedManifest, label_histogram, labels_digest, sign_manifest, to_py
from labelguard.tasks.readers import CsvDialect, compression_of, is_csv, read_bytes, sniff_csv, write_csv_like
from labelguard.tasks.sources import AUTO_ID, ROW_KEY, check_schema, infer_spec, with_row_key
from labelguard.tasks.storage import Store, open_store, sha256_hex

OBJECT_SUFFIXES = (".parquet", ".pq", ".csv", ".tsv", ".txt")


def encode_like(original: bytes, key: str, frame: pd.DataFrame, spec: ColumnSpec, changed: pd.Series, dialect: CsvDialect | None = None) -> bytes:
    """Re-encode ``frame`` the way the original object was laid out, so the edit looks plausible.

    Parquet keeps the original Arrow schema (and pandas metadata), compression and the size of
    every row group; CSV keeps delimiter, encoding, byte-order mark and line ending, and changes
    only the label cells of the changed rows.
    """
    if is_csv(key):
        labels = frame[spec.label_col].to_numpy()
        new_labels = {int(i): _cell(labels[i]) for i in changed.to_numpy().nonzero()[0]}
        cells = [_cell(v) for v in labels]  # each class written as the file's unchanged rows write it
        return write_csv_like(original, dialect or sniff_csv(original, name=key), spec.label_col, new_labels, cells)
    meta = pq.ParquetFile(pa.BufferReader(original)).metadata
    schema = pq.read_schema(pa.BufferReader(original))
    first = meta.row_group(0).column(0) if meta.num_row_groups else None
    # only the label column is re-encoded: every other column keeps its stored values and type (a decimal
    # column is read as float64, which does not convert back to the decimal bytes it came from)
    table = pq.read_table(pa.BufferReader(original))
    at = table.schema.get_field_index(spec.label_col)
    table = table.set_column(at, table.schema.field(at), pa.Array.from_pandas(frame[spec.label_col], type=schema.field(at).type))
    sink = io.BytesIO()
    codec = first.compression.lower() if first else "snappy"
    # the metadata says UNCOMPRESSED where the writer wants "none"
    with pq.ParquetWriter(sink, schema, compression="none" if codec == "uncompressed" else codec) as writer:
        offset = 0
        for g in range(meta.num_row_groups):  # the same row-group boundaries as the original
            rows = meta.row_group(g).num_rows
            writer.write_table(table.slice(offset, rows), row_group_size=max(1, rows))
            offset += rows
    return sink.getvalue()


def _cell(value) -> str:
    """A label as a CSV cell: integers without a decimal point."""
    value = to_py(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


@dataclass(frozen=True)
class TamperTarget:
    store: Store  # where the objects live (the dataset root for a dataset)
    keys: tuple[str, ...]  # object keys relative to ``store``
    spec: ColumnSpec
    manifest: SignedManifest | None
    part_store: Store | None = None  # where the manifest lives


def resolve_target(uri: str, *, endpoint_url: str | None, id_col: str, label_col: str) -> TamperTarget:
    """A dataset URI (its manifest names the objects and the columns) or a direct object URI."""
    uri = uri.rstrip("/")
    if uri.lower().endswith(OBJECT_SUFFIXES):
        parent, _, key = uri.rpartition("/")
        store = open_store(parent or ".", endpoint_url=endpoint_url)
        if store.head(key) is None:
            raise DatasetMissing(f"no object {key!r} under {store.uri}", "point at a dataset written by `labelguard ingest` or at a .parquet/.csv object")
        return TamperTarget(store, (key,), ColumnSpec(id_col=id_col, label_col=label_col), None)
    part = open_store(uri, endpoint_url=endpoint_url)
    try:
        manifest = read_manifest(part)
    except ManifestProblem:
        manifest = None
    if manifest is None or "objects" not in manifest.payload:
        if part.head(DATA_KEY) is None:
            raise DatasetMissing(f"no dataset at {part.uri}", "point at a dataset written by `labelguard ingest` or at a .parquet/.csv object")
        return TamperTarget(part, (DATA_KEY,), ColumnSpec(id_col=id_col, label_col=label_col), None)
    ref = manifest.payload["dataset"]
    root = part.ancestor(ref["part"]) or part
    keys = tuple(o["key"] for o in manifest.payload["objects"])
    return TamperTarget(root, keys, manifest.spec, manifest, part)


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
    delimiter: str | None = None,
    encoding: str | None = None,
    positive_class: Any = None,
) -> FlipResult:
    """Flip labels in stored objects in place, as an attacker with write access would.

    Everything that can fail is checked before the store is touched; the truth file is written
    before any object is overwritten. With ``forge_manifest`` every unsigned field of the manifest
    is rewritten to match (the old signature stays, so it no longer verifies); with ``resign_key``
    the forged manifest is re-signed under the attacker's own key. A dataset of several objects is
    attacked as one table; only the objects holding flipped rows are rewritten.

    Raises
    ------
    BadInput
        Unknown attack, bad rate or budget, missing columns, ``forge_manifest`` without a manifest,
        an existing truth file, an unreadable object.
    """
    target = resolve_target(uri, endpoint_url=endpoint_url, id_col=id_col, label_col=label_col)
    if (forge_manifest or resign_key is not None) and target.manifest is None:
        raise BadInput(f"no manifest at {uri} to forge", "drop --forge-manifest, or point at a dataset written by `labelguard ingest`")
    truth_out = Path(truth_out)
    if truth_out.exists():
        raise BadInput(f"truth file {truth_out} already exists", "choose a new --truth-out path")
    originals, frames, dialects = [], [], []
    for key in target.keys:
        raw = target.store.get(key)
        frame, dialect = read_bytes(raw, key, id_col=target.spec.id_col, delimiter=delimiter, encoding=encoding, label_col=target.spec.label_col)
        originals.append(raw)
        frames.append(frame)
        dialects.append(dialect)
    whole = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    spec = target.spec if target.manifest else infer_spec(whole, id_col=id_col, label_col=label_col, timestamp_col=None)
    spec = with_positive(spec, positive_class)
    result = flip_labels(whole, spec, attack=attack, rate=rate, seed=seed, **(options or {}))
    changed = whole[spec.label_col].ne(result.frame[spec.label_col]).to_numpy()
    rewrites = []
    offset = 0
    for key, raw, frame, dialect in zip(target.keys, originals, frames, dialects):
        rows = slice(offset, offset + len(frame))
        offset += len(frame)
        if changed[rows].any():
            part = result.frame.iloc[rows].reset_index(drop=True)
            rewrites.append((key, encode_like(raw, key, part, spec, pd.Series(changed[rows]), dialect)))
    forged = _forged(target.manifest, result.frame, spec, dict(rewrites)) if (forge_manifest or resign_key) else None
    _write_truth(truth_out, result, uri)
    versions = {key: target.store.put(key, data, create_only=False).version_id for key, data in rewrites}
    if forged is not None:
        payload = {**forged.payload, "objects": [{**o, "version_id": versions.get(o["key"], o.get("version_id"))} for o in forged.payload["objects"]]}
        forged = sign_manifest(payload, resign_key) if resign_key else SignedManifest(payload, forged.signature, forged.key_id)
        target.part_store.put(own_key(target.part_store, MANIFEST_KEY), forged.to_bytes(), create_only=False)
    return result


def _forged(manifest: SignedManifest, frame: pd.DataFrame, spec: ColumnSpec, rewritten: dict[str, bytes]) -> SignedManifest:
    payload = json.loads(json.dumps(manifest.payload))
    for obj in payload["objects"]:
        if obj["key"] in rewritten:
            obj.update({"sha256": sha256_hex(rewritten[obj["key"]]), "bytes": len(rewritten[obj["key"]])})
    payload["rows"] = int(len(frame))
    payload["label_histogram"] = label_histogram(frame, spec.label_col)
    payload["labels_digest"] = labels_digest(frame, spec.id_col, spec.label_col)
    return SignedManifest(payload, manifest.signature, manifest.key_id)


def _write_truth(path: Path, result: FlipResult, uri: str) -> None:
    from labelguard.tasks.manifest import json_safe

    text = json.dumps(json_safe({"target": uri, **result.truth()}), indent=1)  # whole before the file exists: never a cut-off file
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "x") as fh:
            fh.write(text)
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
    delimiter: str | None = None,
    encoding: str | None = None,
    positive_class: Any = None,
    text_cols: list[str] | None = None,
    ignore_cols: list[str] = (),
) -> FlipResult:
    """Write a poisoned copy of a local CSV/Parquet file before it is ever ingested (create-only).

    The file goes through the same readers and checks as ``ingest`` (ids unique, labels present
    and categorical, features finite), so a file ingest would refuse is refused here too.
    ``text_cols`` / ``ignore_cols`` choose the columns as ingest's ``--text-cols`` / ``--ignore-cols``
    do (same meaning, same checks), so a strategy that picks rows by their features sees the
    features ingest will sign, not the auto-detected ones.
    """
    path, out = Path(path), Path(out)
    if not path.is_file():
        raise BadInput(f"no such file: {path}", "pass an existing .csv or .parquet file")
    if compression_of(path.name):
        raise BadInput(f"{path.name} is compressed; poison rewrites label cells in place and writes plain files", f"decompress it first (e.g. gunzip -k {path.name}) and poison the plain file")
    if not path.name.lower().endswith(OBJECT_SUFFIXES) or path.suffix.lower() != out.suffix.lower():
        raise BadInput(f"{path.name} -> {out.name}: need .csv or .parquet on both sides, same type", "name --out with the input's suffix")
    for target in filter(None, (out, truth_out)):
        if Path(target).exists():
            raise BadInput(f"{target} already exists", "choose a new output path; poison never overwrites")
    original = path.read_bytes()
    auto = id_col == AUTO_ID  # keyed by position as ingest --id-col auto keys them: the truth's ids are the row_keys ingest signs
    frame, dialect = read_bytes(original, path.name, id_col=None if auto else id_col, delimiter=delimiter, encoding=encoding, label_col=label_col)
    if auto:
        frame, id_col = with_row_key(frame), ROW_KEY
    spec = infer_spec(frame, id_col=id_col, label_col=label_col, timestamp_col="created_at", positive_class=positive_class,
                      text_cols=text_cols, ignore_cols=list(ignore_cols))
    check_schema(frame, replace(spec, timestamp_col=None))  # a poisoner does not care how times are written
    result = flip_labels(frame, spec, attack=attack, rate=rate, seed=seed, **(options or {}))
    data = encode_like(original, path.name, result.frame, spec, frame[spec.label_col].ne(result.frame[spec.label_col]), dialect)
    if truth_out is not None:
        _write_truth(Path(truth_out), result, str(path))
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "xb") as fh:
        fh.write(data)
    return result
