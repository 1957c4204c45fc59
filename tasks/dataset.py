"""Datasets in a store: Parquet data written create-only, then its signed manifest, verified on read."""

from __future__ import annotations

import io
import re
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from labelguard.errors import BadInput, DatasetExists, DatasetMissing
from labelguard.tasks.manifest import (
    FORMAT,
    ColumnSpec,
    DatasetRef,
    SignedManifest,
    build_manifest,
    key_id,
    new_dataset_id,
    sign_manifest,
    signature_valid,
)
from labelguard.tasks.storage import Store, sha256_hex

if TYPE_CHECKING:  # pandas is imported where rows are decoded: an intact dataset verifies without it
    import pandas as pd

DATA_KEY = "data.parquet"
MANIFEST_KEY = "manifest.json"
ROWS_KEY = "rows.parquet"
ROWS_SIG_KEY = "rows.sig.json"  # the sidecar's own signature: localization survives a forged manifest
HOLDOUT = "holdout"
# A lake sealed in place (data labelguard did not write) gets the same three objects under names that
# start with "_": Spark, Hive and pyarrow/pandas dataset readers skip such files, so sealing a folder
# never breaks the owner's own `pd.read_parquet(folder)`.
SEALED_PREFIX = "_"


def own_key(store: Store, name: str) -> str:
    """Where labelguard's object ``name`` (``manifest.json``, ``rows.parquet``, ``rows.sig.json``) lives at ``store``.

    The plain name for a dataset labelguard wrote, the ``_``-prefixed one for a lake sealed in
    place; a store with neither manifest gets the plain name.
    """
    if store.head(MANIFEST_KEY) is None and store.head(SEALED_PREFIX + MANIFEST_KEY) is not None:
        return SEALED_PREFIX + name
    return name


def is_own_object(key: str) -> bool:
    """True for labelguard's own objects (manifest, row sidecar, its signature) under either naming."""
    return key.rsplit("/", 1)[-1].removeprefix(SEALED_PREFIX) in (MANIFEST_KEY, ROWS_KEY, ROWS_SIG_KEY)


def to_parquet_bytes(frame: pd.DataFrame) -> bytes:
    sink = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), sink, compression="zstd")
    return sink.getvalue()


def _to_frame(table) -> pd.DataFrame:
    from labelguard.tasks.readers import arrow_to_frame  # pandas only where rows are decoded

    return arrow_to_frame(table)


def read_parquet_file(source, columns: list[str] | None = None, *, as_arrow: bool = False):
    """Decode Parquet from a path or an Arrow buffer; unreadable data raises :class:`BadInput` in one line."""
    try:
        table = pq.read_table(source, columns=columns)
        return table if as_arrow else _to_frame(table)
    except (pa.ArrowInvalid, OSError) as exc:
        raise BadInput(f"data object is not readable Parquet: {exc}", "re-ingest the dataset") from None


def from_parquet_bytes(data: bytes, columns: list[str] | None = None) -> pd.DataFrame:
    return read_parquet_file(pa.BufferReader(data), columns)


def _cleanup(store: Store, written: list[tuple[str, str | None]]) -> None:
    """Remove what this write created (exact versions on S3), newest first; best effort."""
    for object_key, version_id in reversed(written):
        try:
            store.delete(object_key, version_id=version_id)
        except Exception:  # noqa: BLE001 - the original failure is the one to report
            pass


@contextmanager
def _interrupt_deferred():
    """Hold a SIGINT (Ctrl-C) until the block is done: an object written and its record of being written go together.

    Only the main thread receives signals; elsewhere the block runs as is.
    """
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if caught:
        raise KeyboardInterrupt


def remove_part(store: Store, data_key: str = DATA_KEY) -> None:
    """Remove the objects of a dataset part this write completed (used when a later part, or the ledger, fails); best effort."""
    for key in (MANIFEST_KEY, ROWS_SIG_KEY, ROWS_KEY, data_key):
        try:
            head = store.head(key)
            if head is not None:
                store.delete(key, version_id=head.version_id)
        except Exception:  # noqa: BLE001 - the original failure is the one to report
            pass


def _local_folders(store: Store):
    """(folders under a local store's root, its missing ancestors deepest first), or None for a remote store."""
    from labelguard.tasks.storage import LocalStore

    if not isinstance(store, LocalStore):
        return None
    root = store.root.absolute()
    missing = [d for d in (root, *root.parents) if not d.exists()]
    return ({d for d in root.rglob("*") if d.is_dir()} if root.is_dir() else set()), missing


def _remove_new_folders(store: Store, before) -> None:
    """Remove folders a failed write created under a local root (and the root's ancestors it made) that are empty again."""
    if before is None:
        return
    existing, missing = before
    root = store.root.absolute()
    new = sorted((d for d in root.rglob("*") if d.is_dir() and d not in existing), key=lambda d: len(d.parts), reverse=True) if root.is_dir() else []
    for folder in [*new, *missing]:  # deepest first
        try:
            folder.rmdir()  # only an empty one
        except OSError:
            pass


class DatasetWrite:
    """The parts one ingest writes (:func:`writing_dataset`): added as each is completely written."""

    def __init__(self) -> None:
        self.parts: list[tuple[Store, SignedManifest, str]] = []

    def add(self, store: Store, manifest: SignedManifest, data_key: str = DATA_KEY) -> SignedManifest:
        self.parts.append((store, manifest, data_key))
        return manifest


@contextmanager
def writing_dataset(root: Store, *, ledger=None, ledger_uri: str | None = None, key: Ed25519PrivateKey | None = None):
    """One dataset written as a whole: the parts written inside (``DatasetWrite.add``) go to the ledger only
    once every part is written, and a failure or Ctrl-C anywhere inside removes every part added and every
    local folder the write created.

    A ledger line for a part that was removed again (a holdout whose training part then failed) named a
    dataset that never existed, and the folders ``ensure_writable`` and the writes made stayed behind empty.

    Parameters
    ----------
    root
        The dataset's root, as given to ``ingest --dest``; its folders are compared before and after.
    ledger, ledger_uri, key
        Where and with which key the completed parts are recorded (``ledger=None``: no ledger).
    """
    before = _local_folders(root)
    batch = DatasetWrite()
    try:
        yield batch
        if ledger is not None:
            with _interrupt_deferred():  # the whole dataset's lines together, or none
                for _, manifest, _ in batch.parts:
                    record(ledger, manifest, ledger_uri or root.uri, key)
    except BaseException:
        for store, _, data_key in reversed(batch.parts):
            remove_part(store, data_key)
        _remove_new_folders(root, before)
        raise


def write_dataset(
    store: Store,
    frame: pd.DataFrame,
    spec: ColumnSpec,
    key: Ed25519PrivateKey,
    *,
    source: dict[str, Any],
    dataset: DatasetRef | None = None,
    extra: dict[str, Any] | None = None,
    ledger=None,
    ledger_uri: str | None = None,
    data_key: str = DATA_KEY,
) -> SignedManifest:
    """Write ``frame`` as Parquet (``data_key``, default ``data.parquet``), its row sidecar and the sidecar's signature, then the signed
    manifest, all create-only, into ``store`` (the location of part ``dataset.part``).

    The manifest goes last, so a dataset without one is visibly incomplete; if any write fails,
    the objects already written are removed again (on S3 by exact version, so a concurrent
    writer's objects are never touched). With a ``ledger``, the manifest is then recorded there.
    Without ``dataset``, the part is the root of a new dataset in role ``data``.

    Raises
    ------
    DatasetExists
        Something is already at the destination; nothing is written.
    """
    dataset = dataset or DatasetRef(new_dataset_id(store.uri), role="data")
    for existing in dict.fromkeys((MANIFEST_KEY, DATA_KEY, data_key)):
        if store.head(existing) is not None:
            raise DatasetExists(f"{store.uri} already holds a dataset ({existing})", "choose a new destination; datasets are create-only")
    data = to_parquet_bytes(frame)
    sidecar = to_parquet_bytes(row_digests(frame, spec))
    written: list[tuple[str, str | None]] = []
    try:
        with _interrupt_deferred():  # Ctrl-C between a put landing and its note here left the object behind
            info = store.put(data_key, data)
            written.append((data_key, info.version_id))
        with _interrupt_deferred():
            rows_info = store.put(ROWS_KEY, sidecar)
            written.append((ROWS_KEY, rows_info.version_id))
        objects = [{"key": dataset.key(data_key), "sha256": info.sha256 or sha256_hex(data), "bytes": info.size, "version_id": info.version_id, "rows": int(len(frame))}]
        rows_sha256 = rows_info.sha256 or sha256_hex(sidecar)  # a store that reports no checksum: ours, as for the data object
        envelope = sidecar_envelope(dataset, spec, objects, rows_sha256, len(frame), key)
        with _interrupt_deferred():
            sig_info = store.put(ROWS_SIG_KEY, envelope.to_bytes())
            written.append((ROWS_SIG_KEY, sig_info.version_id))
        payload = build_manifest(
            frame, spec, dataset=dataset, objects=objects, source=source,
            created_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        )
        payload.update(extra or {})
        payload["rows_sidecar"] = {"key": dataset.key(ROWS_KEY), "sha256": rows_sha256, "bytes": rows_info.size, "version_id": rows_info.version_id}
        manifest = sign_manifest(payload, key)
        with _interrupt_deferred():
            man_info = store.put(MANIFEST_KEY, manifest.to_bytes())
            written.append((MANIFEST_KEY, man_info.version_id))
        if ledger is not None:
            record(ledger, manifest, ledger_uri or store.uri, key)
    except BaseException:
        _cleanup(store, written)
        raise
    return manifest


def sidecar_envelope(
    dataset: DatasetRef, spec: ColumnSpec, objects: list[dict[str, Any]], sidecar_sha256: str, rows: int, key: Ed25519PrivateKey, *, rows_key: str = ROWS_KEY
) -> SignedManifest:
    """The sidecar's own signed statement: which dataset part, which objects, which sidecar digest."""
    return sign_manifest(
        {
            "dataset": dataset.to_dict(),
            "objects": [o["key"] for o in objects],
            "sidecar_key": dataset.key(rows_key),
            "sidecar_sha256": sidecar_sha256,
            "rows": int(rows),
            "columns": spec.to_dict(),
        },
        key,
    )


def record(ledger, manifest: SignedManifest, root_uri: str, key: Ed25519PrivateKey) -> None:
    """Append a signed manifest to the ledger; ``root_uri`` is the dataset root's location."""
    from labelguard.tasks.ledger import LedgerEntry, manifest_digest, normalize_uri

    ds = manifest.payload["dataset"]
    ledger.append(
        LedgerEntry(ds["id"], ds["part"], ds["role"], int(ds["version"]), manifest_digest(manifest), normalize_uri(root_uri), manifest.payload["created_at"]),
        key,
    )


def row_digests(frame: pd.DataFrame, spec: ColumnSpec) -> pd.DataFrame:
    """The per-row sidecar: id, label, and a 64-bit hash of every other column.

    The sidecar is signed on its own (``rows.sig.json``) and its SHA-256 is in the manifest, so it
    needs only the public key to trust, even when the manifest was forged; it lets verification
    name exactly which rows an at-rest edit changed, without a clean copy.
    Detection never rests on the 64-bit hash: the object's SHA-256 does that.
    """
    import pandas as pd

    rest = [c for c in frame.columns if c not in (spec.id_col, spec.label_col)]
    return pd.DataFrame(
        {
            "id": frame[spec.id_col].to_numpy(),
            "label": frame[spec.label_col].to_numpy(),
            "row_hash": pd.util.hash_pandas_object(_hashable(frame[rest]), index=False).to_numpy() if rest else 0,
        }
    )


def _hashable(frame: pd.DataFrame) -> pd.DataFrame:
    """Nested cells (Parquet lists, structs, maps: arrays, dicts and lists once decoded) as canonical JSON
    text, so a column of them hashes by content; other columns are left as they are."""
    import json

    import numpy as np

    def canonical(value):
        if isinstance(value, np.ndarray):
            value = value.tolist()
        if isinstance(value, (list, tuple, dict)):
            return json.dumps(value, sort_keys=True, default=lambda v: v.tolist() if isinstance(v, np.ndarray) else str(v))
        return value

    def is_nested(col: pd.Series) -> bool:  # a decoded Parquet column is uniform: its first value says
        values = col.dropna() if col.dtype == object else ()
        return len(values) > 0 and isinstance(values.iloc[0], (np.ndarray, list, tuple, dict))

    nested = [c for c in frame.columns if is_nested(frame[c])]
    if not nested:
        return frame
    return frame.assign(**{c: frame[c].map(canonical) for c in nested})


def localize(frame: pd.DataFrame, spec: ColumnSpec, sidecar: pd.DataFrame) -> dict[str, Any]:
    """Compare a decoded object with its signed sidecar: which ids changed label, changed otherwise,
    were added or went missing."""
    digests = row_digests(frame, spec)
    now = digests.drop_duplicates("id").set_index("id")
    then = sidecar.drop_duplicates("id").set_index("id")
    common = now.index.intersection(then.index)
    label_changed = common[now.loc[common, "label"].to_numpy() != then.loc[common, "label"].to_numpy()]
    if set(spec.feature_cols) <= set(frame.columns):
        other_changed = common[now.loc[common, "row_hash"].to_numpy() != then.loc[common, "row_hash"].to_numpy()]
    else:  # only id and label were decoded: other edits are detected (SHA-256) but not localized
        other_changed = common[:0]
    # every row beyond the signed count of its id was added: a new id, or a copy of a signed row (with another label,
    # say) appended under its id, which the comparison of each id's first row above cannot see
    extra = digests["id"].value_counts().sub(sidecar["id"].value_counts(), fill_value=0)
    extra = extra[extra > 0]
    missing = then.index.difference(now.index)
    return {
        "label_changed": label_changed.tolist(),
        "other_changed": other_changed.difference(label_changed).tolist(),
        "added": [i for i in sort_ids(extra.index.tolist()) for _ in range(int(extra[i]))],
        "missing": missing.tolist(),
    }


def read_manifest(store: Store) -> SignedManifest:
    """The manifest at ``store``.

    Raises
    ------
    DatasetMissing
        Nothing at all at the location (exit 2: a typo is not tampering).
    ManifestProblem
        Objects are there but the manifest is absent or not labelguard JSON.
    """
    name = own_key(store, MANIFEST_KEY)
    if store.head(name) is None:
        if not store.list(limit=1):
            from labelguard.pathkind import describe_missing

            raise DatasetMissing(*describe_missing(store.uri))
        raise ManifestProblem("missing-manifest", f"objects at {store.uri} but no manifest.json: the data cannot be vouched for")
    try:
        return SignedManifest.from_bytes(store.get(name))
    except BadInput as exc:
        raise ManifestProblem("bad-manifest", exc.problem) from None


class ManifestProblem(Exception):
    """A manifest that is absent (with data present) or unreadable: a verification outcome, not bad input."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code, self.detail = code, detail


@dataclass
class IntegrityReport:
    """The outcome of verifying a stored dataset against its signed manifest.

    ``code`` is ``ok`` or one distinct failure: ``missing-manifest``, ``bad-manifest``,
    ``unknown-key``, ``bad-signature``, ``wrong-dataset`` (a manifest of another dataset, part or
    role), ``rollback`` (an older signed state than the ledger's), ``bad-ledger``,
    ``object-missing``, ``row-count``, ``digest-mismatch``, ``version-swapped`` (identical bytes
    re-uploaded as another version).
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


def load_verified(
    store: Store,
    verify_key: Ed25519PublicKey,
    *,
    columns: list[str] | None = None,
    roles: tuple[str, ...] | None = None,
    ledger=None,
) -> IntegrityReport:
    """Verify the manifest (key, signature, identity, ledger) and every object (version, digest, rows).

    Parameters
    ----------
    store
        The location of the dataset part to verify.
    verify_key
        The trusted Ed25519 public key.
    columns
        Decode only these columns (integrity-only checks); default all.
    roles
        Accepted roles (``data``, ``holdout``, ``baseline``, ``partition``); default any.
    ledger
        A :class:`labelguard.tasks.ledger.Ledger`; with one, older or foreign signed states fail.

    The frame is decoded whenever the objects are readable, so observe mode can train on tampered
    data; callers that enforce must check ``ok`` before using it.

    Raises
    ------
    DatasetMissing
        Nothing at all at ``store`` (no manifest, no objects).
    """
    try:
        manifest = read_manifest(store)
    except ManifestProblem as exc:
        return IntegrityReport(exc.code, exc.detail)
    except DatasetMissing:
        if (gone := gone_by_ledger(store, verify_key, ledger)) is None:
            raise
        return IntegrityReport("object-missing", gone)
    expected_key = key_id(verify_key)
    if manifest.key_id != expected_key:
        return _untrusted_manifest(store, verify_key, manifest, "unknown-key", f"manifest signed by key {manifest.key_id}, not the trusted key {expected_key}", columns)
    if not signature_valid(manifest, verify_key):
        return _untrusted_manifest(store, verify_key, manifest, "bad-signature", "manifest signature does not verify: the manifest was edited", columns)
    if manifest.payload.get("format") != FORMAT:
        return IntegrityReport("bad-manifest", f"manifest format {manifest.payload.get('format')!r} is not {FORMAT}: re-ingest with this labelguard", manifest)
    if "dataset" not in manifest.payload:  # signed by the trusted key in this format, yet it names no dataset
        return IntegrityReport("bad-manifest", f"manifest in format {FORMAT} names no dataset (no 'dataset' entry): re-ingest with this labelguard", manifest)
    ref = DatasetRef.from_dict(manifest.payload["dataset"])
    root = store.ancestor(ref.part)
    problem = _identity_problem(store, root, ref, roles, manifest, verify_key, ledger)
    if problem:
        return IntegrityReport(*problem, manifest)
    return _verify_objects(store, root, verify_key, manifest, ref, columns)


def gone_by_ledger(store: Store, verify_key, ledger) -> str | None:
    """Why nothing at ``store`` is signed data removed, not a typo: the ledger recorded a dataset part there (None when
    there is no ledger, it records nothing there, or it does not verify: then nothing tells a deletion from a typo)."""
    if ledger is None:
        return None
    from labelguard.tasks.ledger import LedgerBroken, gone_from

    try:
        return gone_from(ledger.entries(verify_key), store.uri)
    except (LedgerBroken, OSError):
        return None


def _identity_problem(store: Store, root: Store | None, ref: DatasetRef, roles, manifest: SignedManifest, verify_key, ledger) -> tuple[str, str] | None:
    where = f"part {ref.part!r} of dataset {ref.id}" if ref.part else f"dataset {ref.id}"
    if root is None:
        return "wrong-dataset", f"the manifest is for {where} ({ref.role}), which does not live at {store.uri}"
    if roles and ref.role not in roles:
        return "wrong-dataset", f"the manifest is for {where} in role {ref.role!r}; expected {' or '.join(roles)}"
    if not ref.part:
        # a root manifest copied into a part's folder: the parent is the root of the same dataset
        parent_name = store.uri.rstrip("/").rsplit("/", 1)[-1]
        parent = store.ancestor(parent_name) if parent_name else None
        if parent is not None and parent.uri != store.uri and parent.head(own_key(parent, MANIFEST_KEY)) is not None:
            try:
                above = SignedManifest.from_bytes(parent.get(own_key(parent, MANIFEST_KEY)))
            except BadInput:
                above = None
            if above is not None and (above.payload.get("dataset") or {}).get("id") == ref.id:
                return "wrong-dataset", f"the manifest of {where}'s root sits in its subfolder {parent_name!r}"
    if ledger is not None:
        from labelguard.tasks.ledger import LedgerBroken, check_against_ledger

        try:
            entries = ledger.entries(verify_key)
        except LedgerBroken as exc:
            return "bad-ledger", str(exc)
        return check_against_ledger(entries, manifest, root.uri)
    return None


def _decoded(table: pa.Table) -> pa.Table:
    """``table`` with dictionary-encoded columns cast to their values (a label column the same in both tables)."""
    return pa.table([c.cast(c.type.value_type) if pa.types.is_dictionary(c.type) else c for c in table.columns], names=table.schema.names)


def _verify_objects(store: Store, root: Store, verify_key, manifest: SignedManifest, ref: DatasetRef, columns) -> IntegrityReport:
    from labelguard.tasks.lake import delta_live_parts

    tables, observed, failures = [], {"objects": []}, []
    live = delta_live_parts(root) if root is store else None  # a sealed Delta table: its log says which files are rows
    for obj in manifest.payload["objects"]:
        head = root.head(obj["key"])
        if head is None:  # the others still decode, so the sidecar can name the rows that went with it
            failures.append(("object-missing", f"data object {obj['key']} is gone"))
            continue
        if live is not None and obj["key"] not in live:  # a DELETE or UPDATE since the seal: the file stays until VACUUM
            failures.append(("object-missing", f"data object {obj['key']} is removed by the Delta table's log: readers of the table no longer take its rows"))
            continue
        pinned = obj.get("version_id")
        version_note = f" (version {head.version_id}, manifest pins {pinned})" if pinned and head.version_id != pinned else ""
        with root.fetch(obj["key"]) as (path, digest):
            try:
                table = read_parquet_file(path, columns=columns, as_arrow=True)
            except BadInput:
                if digest == obj["sha256"]:
                    raise  # the signed bytes themselves do not decode: not an edit at rest
                # Overwritten or cut short at rest: the signed digest decides, not the Parquet reader.
                observed["objects"].append({"key": obj["key"], "sha256": digest, "version_id": head.version_id, "rows": None})
                failures.append(("digest-mismatch", f"{obj['key']}: SHA-256 {digest[:12]}… differs from signed {obj['sha256'][:12]}… and the object is not readable Parquet{version_note}"))
                continue
        tables.append(table)
        observed["objects"].append({"key": obj["key"], "sha256": digest, "version_id": head.version_id, "rows": table.num_rows})
        if table.num_rows != obj["rows"]:
            failures.append(("row-count", f"{obj['key']}: {table.num_rows} rows, manifest says {obj['rows']}{version_note}"))
        elif digest != obj["sha256"]:
            failures.append(("digest-mismatch", f"{obj['key']}: SHA-256 {digest[:12]}… differs from signed {obj['sha256'][:12]}…{version_note}"))
        elif pinned and head.version_id and head.version_id != pinned:
            failures.append(("version-swapped", f"{obj['key']}: same bytes, but object version is {head.version_id}, manifest pins {pinned}"))
    all_gone = all(c == "object-missing" for c, _ in failures)
    # also beside a missing or edited part: a part rewritten under a new name (break-it r11 F2), even the only one
    extra = unlisted_objects(store, manifest, ref) if tables or all_gone else []
    if not tables and not extra:  # no listed object decodes and nothing else is there: nothing to localize
        code, detail = failures[0]
        more = f" (+{len(failures) - 1} more object(s))" if len(failures) > 1 else ""
        unreadable = "" if all_gone else "; no object readable: cannot localize"
        return IntegrityReport(code, f"{detail}{more}{unreadable}", manifest, None, observed)
    table = concat_parts(tables) if tables else None
    if extra:
        shown = ", ".join(extra[:5]) + (f" (+{len(extra) - 5} more)" if len(extra) > 5 else "")
        unnamed = []  # objects whose rows cannot be named (unreadable, or another schema); the objects can
        for object_key in extra:  # their rows are what a reader would take in: localize them as added
            with root.fetch(object_key) as (path, _):
                try:
                    added = read_parquet_file(path, columns=columns, as_arrow=True)
                except BadInput:
                    unnamed.append(object_key)
                    continue
            if table is None:  # every listed object is gone: the rows a reader takes in start with this one
                table = added
                continue
            try:
                if sorted(added.schema.names) != sorted(table.schema.names):
                    raise pa.ArrowInvalid("other columns")
                try:
                    table = pa.concat_tables([table, added], promote_options="permissive")
                except (pa.ArrowInvalid, pa.ArrowTypeError):  # e.g. labels dictionary-encoded by Spark, plain by pandas
                    table = pa.concat_tables([_decoded(table), _decoded(added)], promote_options="permissive")
            except (pa.ArrowInvalid, pa.ArrowTypeError):
                unnamed.append(object_key)
        note = f" ({len(unnamed)} of them unreadable or of another schema: their rows are not named)" if unnamed else ""
        failures.append(("unlisted-object", f"{len(extra)} Parquet object(s) under the dataset that the signed manifest does not list: {shown}{note}"))
    if table is not None:
        observed["rows"] = table.num_rows
    if len(manifest.payload["objects"]) == 1 and observed["objects"]:
        observed.update({k: v for k, v in observed["objects"][0].items() if k in ("sha256", "version_id")})
    sidecar = manifest.payload.get("rows_sidecar")
    if sidecar and not failures:
        head = root.head(sidecar["key"])
        if head is None:
            failures.append(("object-missing", f"row sidecar {sidecar['key']} is gone"))
        elif sha256_hex(root.get(sidecar["key"])) != sidecar["sha256"]:
            failures.append(("digest-mismatch", f"row sidecar {sidecar['key']} differs from its signed SHA-256"))
        else:
            problem = _sidecar_signature_problem(store, verify_key, ref, sidecar)
            if problem:  # the data objects match the signed manifest: no row changed, nothing to localize
                return IntegrityReport(*problem, manifest, _to_frame(table), observed, [])
    if not failures:
        # The objects' SHA-256 covers every byte: nothing else needs recomputing when they match.
        return IntegrityReport("ok", f"signature, identity ({ref.id}, {ref.role}), version, SHA-256 and {table.num_rows} rows verified", manifest, table, observed)
    code, detail = failures[0]
    listed = [d for c, d in failures[1:] if c != "unlisted-object"]
    if listed:
        detail += f" (+{len(listed)} more object(s))"
    if code != "unlisted-object" and len(listed) < len(failures) - 1:
        detail += f"; and unlisted-object: {failures[-1][1]}"
    if table is None:  # every listed object gone and no unlisted one readable: no rows to name
        return IntegrityReport(code, detail, manifest, None, observed)
    frame = _to_frame(table)
    suspects, where = _localize_with_sidecar(store, root, verify_key, frame, ref)
    return IntegrityReport(code, f"{detail}; {where}", manifest, frame, observed, suspects)


def signed_source_problem(source: str, verify_key: Ed25519PublicKey, *, endpoint_url: str | None = None, ledger=None) -> tuple[str, IntegrityReport] | None:
    """Verify a Parquet source that carries a labelguard manifest (a sealed lake, a dataset's folder) before it is ingested.

    Ingest signs what it reads as a new dataset, so a source whose own signed manifest no longer
    holds (an edit at rest) would come out of it re-signed and trusted.

    Parameters
    ----------
    source
        The ``--source`` of ``ingest``: a local folder or ``.parquet`` file, or an ``s3://`` prefix or
        object. Globs, CSV files and sources without a manifest are not checked (``None``).
    verify_key
        The trusted Ed25519 public key.
    ledger
        A :class:`labelguard.tasks.ledger.Ledger`, or ``None``.

    Returns
    -------
    ``(location, report)``: where the manifest lives and its failing :class:`IntegrityReport`;
    ``None`` when there is no manifest or it verifies.
    """
    from pathlib import Path

    from labelguard.tasks.storage import open_store

    if any(ch in source for ch in "*?[") or source.lower().endswith((".csv", ".tsv", ".txt", ".gz", ".bz2", ".xz")):
        return None
    remote = source.startswith("s3://")
    target = source.rstrip("/")
    if not remote and target and not target.startswith("/"):  # a relative path's walk up reaches the working directory,
        target = "./" + target  # as `./part.parquet`'s does (a local store's path drops the `./` again)
    is_file = target.lower().endswith((".parquet", ".pq")) if remote else Path(source).is_file()
    # The manifest lives at the dataset's root, which may be above the source (one part of a sealed
    # lake): the nearest folder up to 8 levels above that holds one. The walk goes on past folders
    # that are gone (a listed part deleted with its folder is `object-missing`, locally as on S3).
    location = target.rsplit("/", 1)[0] if is_file else target
    for _ in range(8):
        store = open_store(location, endpoint_url=endpoint_url)
        if store.head(own_key(store, MANIFEST_KEY)) is not None:
            rel = target[len(location):].lstrip("/")
            # Only a manifest whose signature holds may say the source is not its data: one whose entry for an
            # edited part (or its whole `objects` list) was removed must not let the part be re-signed as new.
            try:
                manifest = read_manifest(store)
                trusted = manifest.key_id == key_id(verify_key) and signature_valid(manifest, verify_key)
                listed = [o["key"] for o in manifest.payload["objects"]] if trusted else []
            except (ManifestProblem, BadInput, KeyError, TypeError):
                trusted, listed = False, []  # an unreadable manifest is for load_verified to report
            if trusted and rel and not any(k == rel or k.startswith(rel + "/") for k in listed):
                return None  # a signed dataset that does not claim the source (a file beside a single sealed file)
            rep = load_verified(store, verify_key, ledger=ledger)
            return None if rep.ok else (store.uri, rep)
        if any(store.head(name) is not None for name in (ROWS_SIG_KEY, SEALED_PREFIX + ROWS_SIG_KEY)):
            # the manifest deleted, the signed row sidecar left: a signed dataset or sealed lake that can no longer be
            # vouched for (`missing-manifest`), not a folder nobody signed (a new user's report: the edit was re-signed)
            return store.uri, load_verified(store, verify_key, ledger=ledger)
        parent = location.rsplit("/", 1)[0] if "/" in location.removeprefix("s3://") else ""
        if not parent or parent == location:
            return None
        location = parent
    return None


class NothingToSeal(BadInput):
    """A re-seal found every object as its manifest already signs it."""


def seal_changes(store: Store, verify_key) -> str:
    """What a re-seal would approve: the rows changed since the signed sidecar, as one line."""
    try:
        rep = load_verified(store, verify_key)
    except Exception:  # noqa: BLE001 - a summary only; sealing itself reports real problems
        return ""
    if rep.ok:
        return ""
    ids = rep.suspect_ids or []
    shown = ", ".join(map(str, ids[:10])) + (" …" if len(ids) > 10 else "")
    return f"approving {rep.code}: {rep.detail.split('; ', 1)[-1]}" + (f" (rows {shown})" if ids else "")


def unlisted_objects(store: Store, manifest: SignedManifest, ref: DatasetRef) -> list[str]:
    """Parquet objects in the part's folder that its manifest does not list (keys relative to the root).

    A reader of the folder would take them as data, so they must be signed too. The manifest's
    ``scope`` says what belongs: ``prefix`` (default: every Parquet object below the part, parts
    with their own manifest such as ``holdout/`` excepted), ``glob`` (objects matching its pattern)
    or ``files`` (only the listed objects: a single sealed file claims nothing about its folder).
    """
    import fnmatch

    from labelguard.tasks.lake import in_any, is_data_part, is_table_log, signed_subfolders

    scope = manifest.payload.get("scope") or {"kind": "prefix"}
    if scope.get("kind") == "files":
        return []
    keys = store.list()
    nested = signed_subfolders(keys)
    listed = {o["key"] for o in manifest.payload["objects"]}
    found = []
    for key in keys:
        if is_own_object(key) or in_any(key, nested) or ref.key(key) in listed or is_table_log(key):
            continue
        if scope.get("kind") == "glob" and not fnmatch.fnmatchcase(key, scope.get("pattern", "*")):
            continue
        if key.lower().endswith((".parquet", ".pq")) or is_data_part(store, key):  # or Parquet bytes under another name (break-it r11 F1)
            found.append(ref.key(key))
    return sorted(found)


def _untrusted_manifest(store: Store, verify_key, manifest: SignedManifest, code: str, detail: str, columns) -> IntegrityReport:
    """The manifest cannot be trusted, but the independently signed sidecar can still say which rows changed."""
    envelope = _sidecar_envelope(store, verify_key)
    if envelope is None:
        why = "row sidecar signature missing or invalid"
        sig_key = own_key(store, ROWS_SIG_KEY)
        if code == "unknown-key" and store.head(sig_key) is not None:
            try:
                other = SignedManifest.from_bytes(store.get(sig_key)).key_id
                if other == manifest.key_id:
                    why = f"row sidecar signed by the same key {other} (is LABELGUARD_VERIFY_KEY / --verify-key the right public key?)"
            except BadInput:
                pass
        return IntegrityReport(code, f"{detail}; {why}: cannot localize", manifest)
    ref = DatasetRef.from_dict(envelope.payload["dataset"])
    root = store.ancestor(ref.part)
    if root is None:
        return IntegrityReport(code, f"{detail}; row sidecar belongs to another dataset part: cannot localize", manifest)
    tables = []
    for object_key in envelope.payload["objects"]:
        if root.head(object_key) is None:
            return IntegrityReport(code, f"{detail}; data object {object_key} is gone", manifest)
        with root.fetch(object_key) as (path, _):
            tables.append(read_parquet_file(path, columns=columns, as_arrow=True))
    frame = _to_frame(concat_parts(tables))
    suspects, where = _localize_with_sidecar(store, root, verify_key, frame, ref)
    return IntegrityReport(code, f"{detail}; {where}", manifest, frame, {"rows": len(frame)}, suspects)


def _sidecar_signature_problem(store: Store, verify_key, ref: DatasetRef, sidecar: dict[str, Any]) -> tuple[str, str] | None:
    """``(code, detail)`` when the sidecar's own signature (``rows.sig.json``) is gone or no longer vouches
    for the sidecar the manifest pins; ``None`` when it does.

    The manifest alone vouches for the data, so the rows are intact either way; but an object ingest
    wrote and signed was removed or edited at rest, and with it the localization a forged manifest
    would need (break-it r9 F8).
    """
    sig_key = own_key(store, ROWS_SIG_KEY)
    intact = "the data objects match the signed manifest"
    if store.head(sig_key) is None:
        return "object-missing", f"row sidecar signature {ref.key(sig_key)} is gone ({intact})"
    envelope = _read_envelope(store)
    if envelope is not None and envelope.key_id != key_id(verify_key):
        return "unknown-key", f"row sidecar signature {ref.key(sig_key)} is signed by key {envelope.key_id}, not the trusted key {key_id(verify_key)} ({intact})"
    if not _vouches(envelope, verify_key) or DatasetRef.from_dict(envelope.payload["dataset"]) != ref or envelope.payload.get("sidecar_sha256") != sidecar["sha256"]:
        return "bad-signature", f"row sidecar signature {ref.key(sig_key)} does not vouch for the signed sidecar: it was edited at rest ({intact})"
    return None


def _read_envelope(store: Store) -> SignedManifest | None:
    """The sidecar's signature object as written, or None when it is missing or not a signed envelope."""
    sig_key = own_key(store, ROWS_SIG_KEY)
    if store.head(sig_key) is None:
        return None
    try:
        return SignedManifest.from_bytes(store.get(sig_key))
    except BadInput:
        return None


def _vouches(envelope: SignedManifest | None, verify_key) -> bool:
    """Signed by the trusted key, the signature valid, and naming its dataset part."""
    return envelope is not None and envelope.key_id == key_id(verify_key) and signature_valid(envelope, verify_key) and "dataset" in envelope.payload


def _sidecar_envelope(store: Store, verify_key) -> SignedManifest | None:
    envelope = _read_envelope(store)
    return envelope if _vouches(envelope, verify_key) else None


def _localize_with_sidecar(store: Store, root: Store, verify_key, frame: pd.DataFrame, ref: DatasetRef) -> tuple[list | None, str]:
    envelope = _sidecar_envelope(store, verify_key)
    if envelope is None:
        return None, "row sidecar or its signature missing or invalid: cannot localize"
    if DatasetRef.from_dict(envelope.payload["dataset"]) != ref:
        return None, "row sidecar belongs to another dataset or version: cannot localize"
    if root.head(envelope.payload["sidecar_key"]) is None:
        return None, "row sidecar missing: cannot localize"
    raw = root.get(envelope.payload["sidecar_key"])
    if sha256_hex(raw) != envelope.payload["sidecar_sha256"]:
        return None, "row sidecar altered too: cannot localize"
    spec = ColumnSpec.from_dict(envelope.payload["columns"])
    if spec.id_col not in frame.columns or spec.label_col not in frame.columns:
        return None, "id or label column gone: cannot localize"
    diff = localize(frame, spec, from_parquet_bytes(raw))
    suspects = sort_ids(dict.fromkeys(diff["label_changed"] + diff["other_changed"] + diff["added"]))  # an id once, also when copied
    where = (
        f"{len(diff['label_changed'])} label(s) changed, {len(diff['other_changed'])} row(s) otherwise edited, "
        f"{len(diff['added'])} added, {len(diff['missing'])} missing"
    )
    return suspects, where


def same_columns(a: pa.Schema, b: pa.Schema) -> bool:
    """The same columns (names, and kinds of values) in any order.

    Parts whose columns differ only in order (a ``select`` in the writer) are one table to pyarrow,
    pandas and Spark, which read them by name; labelguard concatenates them by name too. So are parts whose types
    differ only in how a writer stored the same values — int32/int64, float32/float64, a pandas categorical
    (dictionary) beside plain strings, nullability — which every reader unifies: seal refused them, and its fix split
    one table into two datasets (break-it r15 F8). A change of kind (numbers to text) is still another schema.
    """
    if len(set(a.names)) != len(a.names) or len(set(b.names)) != len(b.names):  # a repeated name has no by-name reading
        return a.equals(b, check_metadata=False)
    return sorted(a.names) == sorted(b.names) and all(_kind(a.field(n).type) == _kind(b.field(n).type) for n in a.names)


def _kind(t: pa.DataType) -> str:
    """A column's type as readers unify it: the stored width, dictionary encoding and string size left out."""
    if pa.types.is_dictionary(t):
        return _kind(t.value_type)
    if pa.types.is_integer(t):
        return "int"
    if pa.types.is_floating(t):
        return "float"
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return "string"
    if pa.types.is_binary(t) or pa.types.is_large_binary(t):
        return "binary"
    if pa.types.is_timestamp(t):
        return f"timestamp[{t.tz}]"
    return str(t)


def concat_parts(tables: list[pa.Table]) -> pa.Table:
    """Parts read as one table, as a reader of the folder takes them; parts of one schema exactly as before (their
    dictionary columns kept), parts stored differently with their dictionary columns decoded and widths promoted."""
    if len(tables) == 1:
        return tables[0]
    if all(t.schema.equals(tables[0].schema, check_metadata=False) for t in tables[1:]):
        return pa.concat_tables(tables, promote_options="permissive")
    return pa.concat_tables([_decoded(t) for t in tables], promote_options="permissive")


def _schema_diff(a: pa.Schema, b: pa.Schema) -> str:
    def shown(f: pa.Field) -> str:
        return str(f.type) + ("" if f.nullable else " not null")

    fa, fb = {f.name: shown(f) for f in a}, {f.name: shown(f) for f in b}
    diffs = [f"{n}: {fa.get(n, 'absent')} vs {fb.get(n, 'absent')}" for n in sorted(set(fa) | set(fb)) if fa.get(n) != fb.get(n)]
    return "; ".join(diffs[:3]) or "a column name repeated"


_NUMERIC_ID = re.compile(r"\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*")


def _id_order(v) -> tuple:
    if isinstance(v, str):
        if _NUMERIC_ID.fullmatch(v):  # a number kept as text ('20.0', '007'): by its value, exactly
            return (0, Decimal(v.strip()), v)
        return (1, 0, v)
    v = v.item() if hasattr(v, "item") and not isinstance(v, (str, bytes)) else v  # numpy scalars compare with Decimal as Python numbers
    if isinstance(v, (int, float)) and not isinstance(v, bool) and v == v:
        return (0, v, str(v))
    return (1, 0, str(v))


def sort_ids(ids) -> list:
    """Ids in their natural order: numbers numerically, also when kept as text (``'20.0'``, ``'007'``:
    by value, ties by text), other strings as text; numbers first.

    Parameters
    ----------
    ids : iterable of int, float or str
        Row ids as stored.

    Returns
    -------
    list
        The same ids, sorted (``['20.0', '263.0', '42.0']`` → ``['20.0', '42.0', '263.0']``; ``['r10', 'r9']`` stays).
    """
    return sorted(ids, key=_id_order)


def _refuse_repeated_ids(frame: pd.DataFrame, spec: ColumnSpec, objects: list[dict[str, Any]]) -> None:
    """Refuse to seal rows whose ids repeat (a part copied twice, an export appended to itself): signed, every
    later verify fires ``schema`` on them for ever, and a flip in one copy cannot be told from the other."""
    import numpy as np

    from labelguard.tasks.manifest import to_py

    if spec.id_col not in frame.columns:
        return
    ids = frame[spec.id_col]
    ends = np.cumsum([o["rows"] for o in objects])
    empty = ids.isna().to_numpy()
    if empty.any():  # named by position: pandas' <NA> is not an id
        at = int(np.flatnonzero(empty)[0])
        part = int(np.searchsorted(ends, at, side="right"))
        raise BadInput(
            f"{int(empty.sum())} row(s) have an empty id in {spec.id_col!r}, first row {at - (int(ends[part - 1]) if part else 0)} of {objects[part]['key']}",
            f"fill in the ids in {spec.id_col!r}, or pass --id-col naming a column with an id in every row",
        )
    again = ids.duplicated().to_numpy()
    if not again.any():
        return
    second = int(np.flatnonzero(again)[0])
    value = ids.iloc[second]
    first = int(np.flatnonzero((ids == value).to_numpy())[0])
    a, b = (objects[int(np.searchsorted(ends, pos, side="right"))]["key"] for pos in (first, second))
    where = f"twice in {a}" if a == b else f"in both {a} and {b}"
    raise BadInput(
        f"id {to_py(value)!r} is {where} ({int(again.sum())} repeated id(s) in {len(frame)} rows)",
        "seal parts whose ids are unique (drop the copy), or pass --id-col naming a unique column",
    )


def _refuse_hidden_parquet(store: Store) -> None:
    """Refuse to seal a folder holding Parquet under names Spark and pandas skip (``_temporary/0/part-1.parquet``,
    ``.x.parquet``): seal would leave them out as those readers do, but glob readers (DuckDB's ``**/*.parquet``) read
    them and verify reports them as unlisted objects, so the new seal would fail at once (exit 1).

    Raises
    ------
    BadInput
        Such objects, the first two named.
    """
    from labelguard.tasks.lake import _skipped, in_any, is_table_log, signed_subfolders

    keys = [k for k in store.list() if not is_table_log(k)]  # a Delta table's checkpoints are its log, not hidden data
    nested = signed_subfolders(keys)
    hidden = sorted(k for k in keys if k.lower().endswith((".parquet", ".pq")) and _skipped(k) and not is_own_object(k) and not in_any(k, nested))
    if hidden:
        raise BadInput(
            f"{len(hidden)} Parquet object(s) under {store.uri} have names Spark and pandas skip ({', '.join(hidden[:2])}{', …' if len(hidden) > 2 else ''}) "
            "but glob readers read and verify checks, so they cannot be left out of the seal",
            "remove them (an unfinished job's output under _temporary/, say) or rename them without the leading '_' or '.', then seal again",
        )


def seal_dataset(
    store: Store,
    key: Ed25519PrivateKey,
    *,
    spec: ColumnSpec | None = None,
    dataset_id: str | None = None,
    role: str = "data",
    ledger=None,
    keys: list[str] | None = None,
    scope: dict[str, Any] | None = None,
    rotated_from: str | None = None,
) -> SignedManifest:
    """Sign the objects at ``store`` as they are now, without rewriting them (``labelguard seal``).

    A labelguard dataset part is re-signed as the next version of the same dataset (after an
    approved relabelling, say), so a ledger then rejects the older state as ``rollback``. Parquet
    objects without a manifest (``keys`` relative to ``store``, default every part file found by
    :func:`labelguard.tasks.lake.resolve_parts`) become version 1 of a new dataset whose root is
    ``store`` (``spec`` required); every part must have the first part's columns (in any order).

    ``rotated_from`` (a key id) re-signs a part that verified under that old key with ``key``
    (:func:`labelguard.tasks.rotation.rotate_keys`): a new version although nothing changed, and
    ``source.rotated_from`` records the old key.

    Raises
    ------
    DatasetMissing
        No Parquet objects at ``store``.
    BadInput
        No manifest and no ``spec``; objects that do not decode; a part with another schema; ids that
        repeat; with ``rotated_from``, objects that changed since the manifest signed them.
    """
    try:
        old = read_manifest(store)
    except ManifestProblem:
        old = None
    if old is not None and "dataset" in old.payload:
        prev = DatasetRef.from_dict(old.payload["dataset"])
        ref = DatasetRef(prev.id, prev.role, prev.part, prev.version + 1)
        spec = spec or old.spec
        root = store.ancestor(ref.part) or store
        # The lake as it is now: objects added since (unlisted) are signed too, objects gone are dropped;
        # `labelguard seal` prints what it approves (seal_changes) before it signs.
        keys = [o["key"] for o in old.payload["objects"] if root.head(o["key"]) is not None]
        keys += [k for k in unlisted_objects(store, old, prev) if k not in keys]
        if not keys:
            raise DatasetMissing(f"every object the manifest of {store.uri} lists is gone", "restore them, or seal the objects that are there as a new dataset")
    else:
        if spec is None:
            raise BadInput(f"no manifest at {store.uri} to take the columns from", "pass --id-col and --label-col")
        if keys is None:
            from labelguard.tasks.lake import resolve_parts

            keys = resolve_parts(store.uri, endpoint_url=getattr(store, "endpoint_url", None))[1]
        if (scope or {"kind": "prefix"}).get("kind") == "prefix":  # the folder is the dataset: all its Parquet must be signed
            _refuse_hidden_parquet(store)
        ref = DatasetRef(dataset_id or new_dataset_id(store.uri), role)
        root = store
    # a labelguard part keeps its names; a lake sealed in place gets "_"-prefixed ones its readers skip
    prefix = "" if store.head(MANIFEST_KEY) is not None else SEALED_PREFIX
    objects, tables = [], []
    for object_key in keys:
        head = root.head(object_key)
        if head is None:
            raise DatasetMissing(f"object {object_key} is gone from {root.uri}", "restore it, or seal what is there")
        with root.fetch(object_key) as (path, digest):
            table = read_parquet_file(path, as_arrow=True)
        if tables and not same_columns(table.schema, tables[0].schema):
            raise BadInput(
                f"part {object_key} has another schema than {keys[0]} ({_schema_diff(tables[0].schema, table.schema)})",
                "seal parts with one schema together (a glob or prefix per schema)",
            )
        objects.append({"key": object_key, "sha256": digest, "bytes": head.size, "version_id": head.version_id, "rows": table.num_rows})
        tables.append(table)
    frame = _to_frame(concat_parts(tables))
    gone = [c for c in (spec.id_col, spec.label_col) if c not in frame.columns]
    if gone and old is not None and "dataset" in old.payload:  # a re-seal keeps the signed columns: the parts lost one (a KeyError before)
        raise BadInput(
            f"the parts at {store.uri} have no column {' or '.join(map(repr, gone))}, which version {ref.version - 1} of dataset {ref.id} "
            f"is keyed by (they have: {', '.join(map(repr, frame.columns))})",
            f"restore the column in the parts, or sign them as a new dataset: move {store.uri}'s {own_key(store, MANIFEST_KEY)}, "
            f"{own_key(store, ROWS_KEY)} and {own_key(store, ROWS_SIG_KEY)} away, then seal with --id-col and --label-col",
        )
    try:
        _refuse_repeated_ids(frame, spec, objects)
    except BadInput as exc:
        from labelguard.tasks.lake import delta_stale_parts

        if (delta := delta_stale_parts(exc.problem, root, "seal")) is not None:  # a Delta table keeps removed files until VACUUM
            raise BadInput(*delta) from exc
        raise
    from labelguard.tasks.lake import refuse_delta_removed

    refuse_delta_removed(root, keys, "seal")  # a DELETE of a whole file repeats no id (break-it r14 F3)
    if old is not None and "dataset" in old.payload:
        before = {o["key"]: o["sha256"] for o in old.payload["objects"]}
        if rotated_from is not None and before != {o["key"]: o["sha256"] for o in objects}:
            raise BadInput(f"objects at {store.uri} changed while it was being rotated: not re-signed", "verify it again, then rotate")
        if rotated_from is None and before == {o["key"]: o["sha256"] for o in objects}:
            raise NothingToSeal(f"nothing changed since version {ref.version - 1} of {ref.id}: not re-signed", "seal again after an approved change")
    sidecar = to_parquet_bytes(row_digests(frame, spec))
    rows_info = store.put(prefix + ROWS_KEY, sidecar, create_only=False)
    store.put(prefix + ROWS_SIG_KEY, sidecar_envelope(ref, spec, objects, rows_info.sha256, len(frame), key, rows_key=prefix + ROWS_KEY).to_bytes(), create_only=False)
    payload = build_manifest(
        frame, spec, dataset=ref, objects=objects,
        source={"kind": "sealed", "previous_version": ref.version - 1 if ref.version > 1 else None, **({"rotated_from": rotated_from} if rotated_from else {})},
        created_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
    )
    payload["rows_sidecar"] = {"key": ref.key(prefix + ROWS_KEY), "sha256": rows_info.sha256, "bytes": rows_info.size, "version_id": rows_info.version_id}
    payload["scope"] = scope or (old.payload.get("scope") if old is not None else None) or {"kind": "prefix"}
    manifest = sign_manifest(payload, key)
    store.put(prefix + MANIFEST_KEY, manifest.to_bytes(), create_only=False)
    if ledger is not None:
        record(ledger, manifest, root.uri, key)
    return manifest
