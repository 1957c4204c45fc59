"""Datasets in a store: Parquet data written create-only, then its signed manifest, verified on read."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from labelguard.errors import BadInput, DatasetExists, DatasetMissing
from labelguard.tasks.manifest import (
    ColumnSpec,
    SignedManifest,
    build_manifest,
    key_id,
    sign_manifest,
    signature_valid,
)
from labelguard.tasks.storage import Store, sha256_hex

DATA_KEY = "data.parquet"
MANIFEST_KEY = "manifest.json"
ROWS_KEY = "rows.parquet"
ROWS_SIG_KEY = "rows.sig.json"  # the sidecar's own signature: localization survives a forged manifest
HOLDOUT = "holdout"


def to_parquet_bytes(frame: pd.DataFrame) -> bytes:
    sink = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), sink, compression="zstd")
    return sink.getvalue()


def read_parquet_file(source, columns: list[str] | None = None, *, as_arrow: bool = False):
    """Decode Parquet from a path or an Arrow buffer; unreadable data is the user's problem, in one line."""
    try:
        table = pq.read_table(source, columns=columns)
        return table if as_arrow else table.to_pandas()
    except (pa.ArrowInvalid, OSError) as exc:
        raise BadInput(f"data object is not readable Parquet: {exc}", "re-ingest the dataset") from None


def from_parquet_bytes(data: bytes, columns: list[str] | None = None) -> pd.DataFrame:
    return read_parquet_file(pa.BufferReader(data), columns)


def write_dataset(
    store: Store,
    frame: pd.DataFrame,
    spec: ColumnSpec,
    key: Ed25519PrivateKey,
    *,
    source: dict[str, Any],
    extra: dict[str, Any] | None = None,
) -> SignedManifest:
    """Write ``frame`` as Parquet, its row sidecar and the sidecar's signature, then the signed
    manifest, all create-only.

    The manifest goes last, so a dataset without one is visibly incomplete; if any write fails,
    the objects already written are removed again.

    Raises
    ------
    DatasetExists
        Something is already at the destination; nothing is written.
    """
    for existing in (MANIFEST_KEY, DATA_KEY):
        if store.head(existing) is not None:
            raise DatasetExists(f"{store.uri} already holds a dataset ({existing})", "choose a new --dest; datasets are create-only")
    data = to_parquet_bytes(frame)
    sidecar = to_parquet_bytes(row_digests(frame, spec))
    written: list[str] = []
    try:
        info = store.put(DATA_KEY, data)
        written.append(DATA_KEY)
        rows_info = store.put(ROWS_KEY, sidecar)
        written.append(ROWS_KEY)
        envelope = sign_manifest(
            {"data_key": DATA_KEY, "sidecar_key": ROWS_KEY, "sidecar_sha256": rows_info.sha256, "rows": int(len(frame)), "columns": spec.to_dict()},
            key,
        )
        store.put(ROWS_SIG_KEY, envelope.to_bytes())
        written.append(ROWS_SIG_KEY)
        payload = build_manifest(
            frame,
            spec,
            data_key=DATA_KEY,
            data_sha256=info.sha256 or sha256_hex(data),
            data_size=info.size,
            version_id=info.version_id,
            source=source,
            created_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        )
        payload.update(extra or {})
        payload["rows_sidecar"] = {"key": ROWS_KEY, "sha256": rows_info.sha256, "bytes": rows_info.size, "version_id": rows_info.version_id}
        manifest = sign_manifest(payload, key)
        store.put(MANIFEST_KEY, manifest.to_bytes())
    except BaseException:
        for object_key in written:
            store.delete(object_key)
        raise
    return manifest


def row_digests(frame: pd.DataFrame, spec: ColumnSpec) -> pd.DataFrame:
    """The per-row sidecar: id, label, and a 64-bit hash of every other column.

    The sidecar is signed on its own (``rows.sig.json``) and its SHA-256 is in the manifest, so it
    needs only the public key to trust, even when the manifest was forged; it lets verification
    name exactly which rows an at-rest edit changed, without a clean copy.
    Detection never rests on the 64-bit hash: the object's SHA-256 does that.
    """
    rest = [c for c in frame.columns if c not in (spec.id_col, spec.label_col)]
    return pd.DataFrame(
        {
            "id": frame[spec.id_col].to_numpy(),
            "label": frame[spec.label_col].to_numpy(),
            "row_hash": pd.util.hash_pandas_object(frame[rest], index=False).to_numpy() if rest else 0,
        }
    )


def localize(frame: pd.DataFrame, spec: ColumnSpec, sidecar: pd.DataFrame) -> dict[str, Any]:
    """Compare a decoded object with its signed sidecar: which ids changed label, changed otherwise,
    were added or went missing."""
    now = row_digests(frame, spec).drop_duplicates("id").set_index("id")
    then = sidecar.drop_duplicates("id").set_index("id")
    common = now.index.intersection(then.index)
    label_changed = common[now.loc[common, "label"].to_numpy() != then.loc[common, "label"].to_numpy()]
    if set(spec.feature_cols) <= set(frame.columns):
        other_changed = common[now.loc[common, "row_hash"].to_numpy() != then.loc[common, "row_hash"].to_numpy()]
    else:  # only id and label were decoded: other edits are detected (SHA-256) but not localized
        other_changed = common[:0]
    added = now.index.difference(then.index)
    missing = then.index.difference(now.index)
    return {
        "label_changed": label_changed.tolist(),
        "other_changed": other_changed.difference(label_changed).tolist(),
        "added": added.tolist(),
        "missing": missing.tolist(),
    }


def read_manifest(store: Store) -> SignedManifest:
    if store.head(MANIFEST_KEY) is None:
        raise DatasetMissing(f"no manifest at {store.uri}", "ingest a dataset there first (labelguard ingest)")
    return SignedManifest.from_bytes(store.get(MANIFEST_KEY))


@dataclass
class IntegrityReport:
    """The outcome of verifying a stored dataset against its signed manifest.

    ``code`` is ``ok`` or one distinct failure: ``missing-manifest``, ``unknown-key``,
    ``bad-signature``, ``object-missing``, ``row-count``, ``digest-mismatch``,
    ``version-swapped`` (identical bytes re-uploaded as another version).
    """

    code: str
    detail: str
    manifest: SignedManifest | None = None
    data: pa.Table | pd.DataFrame | None = None  # decoded lazily into `frame`: an intact object needs no pandas
    observed: dict[str, Any] = field(default_factory=dict)
    suspect_ids: list | None = None  # rows an at-rest edit touched, from the signed sidecar

    @property
    def ok(self) -> bool:
        return self.code == "ok"

    @property
    def frame(self) -> pd.DataFrame | None:
        if isinstance(self.data, pa.Table):
            self.data = self.data.to_pandas()
        return self.data


def load_verified(store: Store, verify_key: Ed25519PublicKey, *, columns: list[str] | None = None) -> IntegrityReport:
    """Verify the manifest (key, signature) and the object (version, digest, rows, labels).

    The frame is decoded whenever the object is readable, so observe mode can train on tampered
    data; callers that enforce must check ``ok`` before using it.
    """
    try:
        manifest = read_manifest(store)
    except DatasetMissing as exc:
        return IntegrityReport("missing-manifest", exc.problem)
    expected_key = key_id(verify_key)
    if manifest.key_id != expected_key:
        return _untrusted_manifest(store, verify_key, manifest, "unknown-key", f"manifest signed by key {manifest.key_id}, not the trusted key {expected_key}", columns)
    if not signature_valid(manifest, verify_key):
        return _untrusted_manifest(store, verify_key, manifest, "bad-signature", "manifest signature does not verify: the manifest was edited", columns)
    obj = manifest.payload["object"]
    head = store.head(obj["key"])
    if head is None:
        return IntegrityReport("object-missing", f"data object {obj['key']} is gone", manifest)
    with store.fetch(obj["key"]) as (path, digest):
        table = read_parquet_file(path, columns=columns, as_arrow=True)
    observed = {"sha256": digest, "version_id": head.version_id, "rows": table.num_rows}
    pinned = obj.get("version_id")
    intact = digest == obj["sha256"] and table.num_rows == manifest.payload["rows"]
    # The object's SHA-256 covers every byte: nothing else needs recomputing when it matches.
    if intact and not (pinned and head.version_id and head.version_id != pinned):
        return IntegrityReport("ok", f"signature, version, SHA-256 and {table.num_rows} rows verified", manifest, table, observed)
    frame = table.to_pandas()
    version_note = f" (version {head.version_id}, manifest pins {pinned})" if pinned and head.version_id != pinned else ""
    if len(frame) != manifest.payload["rows"]:
        code, detail = "row-count", f"{len(frame)} rows, manifest says {manifest.payload['rows']}{version_note}"
    elif digest != obj["sha256"]:
        code, detail = "digest-mismatch", f"object SHA-256 {digest[:12]}… differs from signed {obj['sha256'][:12]}…{version_note}"
    else:
        code, detail = "version-swapped", f"same bytes, but object version is {head.version_id}, manifest pins {pinned}"
    suspects, where = _localize_with_sidecar(store, verify_key, frame)
    return IntegrityReport(code, f"{detail}; {where}", manifest, frame, observed, suspects)


def _untrusted_manifest(store: Store, verify_key, manifest: SignedManifest, code: str, detail: str, columns) -> IntegrityReport:
    """The manifest cannot be trusted, but the independently signed sidecar can still say which rows changed."""
    head = store.head(DATA_KEY)
    if head is None:
        return IntegrityReport(code, detail, manifest)
    with store.fetch(DATA_KEY) as (path, digest):
        frame = read_parquet_file(path, columns=columns)
    suspects, where = _localize_with_sidecar(store, verify_key, frame)
    observed = {"sha256": digest, "version_id": head.version_id, "rows": len(frame)}
    return IntegrityReport(code, f"{detail}; {where}", manifest, frame, observed, suspects)


def _localize_with_sidecar(store: Store, verify_key, frame: pd.DataFrame) -> tuple[list | None, str]:
    if store.head(ROWS_SIG_KEY) is None or store.head(ROWS_KEY) is None:
        return None, "row sidecar or its signature missing: cannot localize"
    envelope = SignedManifest.from_bytes(store.get(ROWS_SIG_KEY))
    if envelope.key_id != key_id(verify_key) or not signature_valid(envelope, verify_key):
        return None, "row sidecar signature does not verify: cannot localize"
    raw = store.get(envelope.payload["sidecar_key"])
    if sha256_hex(raw) != envelope.payload["sidecar_sha256"]:
        return None, "row sidecar altered too: cannot localize"
    spec = ColumnSpec.from_dict(envelope.payload["columns"])
    if spec.id_col not in frame.columns or spec.label_col not in frame.columns:
        return None, "id or label column gone: cannot localize"
    diff = localize(frame, spec, from_parquet_bytes(raw))
    suspects = sorted(diff["label_changed"] + diff["other_changed"] + diff["added"], key=str)
    where = (
        f"{len(diff['label_changed'])} label(s) changed, {len(diff['other_changed'])} row(s) otherwise edited, "
        f"{len(diff['added'])} added, {len(diff['missing'])} missing"
    )
    return suspects, where
