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
    labels_digest,
    sign_manifest,
    signature_valid,
)
from labelguard.tasks.storage import Store, sha256_hex

DATA_KEY = "data.parquet"
MANIFEST_KEY = "manifest.json"
HOLDOUT = "holdout"


def to_parquet_bytes(frame: pd.DataFrame) -> bytes:
    sink = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), sink, compression="zstd")
    return sink.getvalue()


def from_parquet_bytes(data: bytes) -> pd.DataFrame:
    try:
        return pq.read_table(pa.BufferReader(data)).to_pandas()
    except (pa.ArrowInvalid, OSError) as exc:
        raise BadInput(f"data object is not readable Parquet: {exc}", "re-ingest the dataset") from None


def write_dataset(
    store: Store,
    frame: pd.DataFrame,
    spec: ColumnSpec,
    key: Ed25519PrivateKey,
    *,
    source: dict[str, Any],
) -> SignedManifest:
    """Write ``frame`` as Parquet, then its signed manifest, both create-only.

    The manifest goes last, so a dataset without one is visibly incomplete; if the manifest write
    fails, the data object is removed again.

    Raises
    ------
    DatasetExists
        Something is already at the destination; nothing is written.
    """
    for existing in (MANIFEST_KEY, DATA_KEY):
        if store.head(existing) is not None:
            raise DatasetExists(f"{store.uri} already holds a dataset ({existing})", "choose a new --dest; datasets are create-only")
    data = to_parquet_bytes(frame)
    info = store.put(DATA_KEY, data)
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
    manifest = sign_manifest(payload, key)
    try:
        store.put(MANIFEST_KEY, manifest.to_bytes())
    except BaseException:
        store.delete(DATA_KEY)
        raise
    return manifest


def read_manifest(store: Store) -> SignedManifest:
    if store.head(MANIFEST_KEY) is None:
        raise DatasetMissing(f"no manifest at {store.uri}", "ingest a dataset there first (labelguard ingest)")
    return SignedManifest.from_bytes(store.get(MANIFEST_KEY))


@dataclass
class IntegrityReport:
    """The outcome of verifying a stored dataset against its signed manifest.

    ``code`` is ``ok`` or one distinct failure: ``missing-manifest``, ``unknown-key``,
    ``bad-signature``, ``object-missing``, ``version-swapped``, ``digest-mismatch``,
    ``row-count``, ``labels-digest``.
    """

    code: str
    detail: str
    manifest: SignedManifest | None = None
    frame: pd.DataFrame | None = None
    observed: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.code == "ok"


def load_verified(store: Store, verify_key: Ed25519PublicKey) -> IntegrityReport:
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
        return IntegrityReport(
            "unknown-key",
            f"manifest signed by key {manifest.key_id}, not the trusted key {expected_key}",
            manifest,
        )
    if not signature_valid(manifest, verify_key):
        return IntegrityReport("bad-signature", "manifest signature does not verify: the manifest was edited", manifest)
    obj = manifest.payload["object"]
    head = store.head(obj["key"])
    if head is None:
        return IntegrityReport("object-missing", f"data object {obj['key']} is gone", manifest)
    data = store.get(obj["key"])
    digest = sha256_hex(data)
    frame = from_parquet_bytes(data)
    spec = manifest.spec
    observed = {"sha256": digest, "version_id": head.version_id, "rows": len(frame)}

    def report(code: str, detail: str) -> IntegrityReport:
        return IntegrityReport(code, detail, manifest, frame, observed)

    if obj.get("version_id") and head.version_id and head.version_id != obj["version_id"]:
        return report("version-swapped", f"object version is {head.version_id}, manifest pins {obj['version_id']}")
    if digest != obj["sha256"]:
        return report("digest-mismatch", f"object SHA-256 {digest[:12]}… differs from signed {obj['sha256'][:12]}…")
    if len(frame) != manifest.payload["rows"]:
        return report("row-count", f"{len(frame)} rows, manifest says {manifest.payload['rows']}")
    if labels_digest(frame, spec.id_col, spec.label_col) != manifest.payload["labels_digest"]:
        return report("labels-digest", "(id, label) digest differs from the signed one")
    return report("ok", f"signature, version, SHA-256, {len(frame)} rows and labels digest verified")
