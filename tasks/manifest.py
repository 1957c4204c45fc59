"""Signed manifests: what was ingested, pinned by digest and version, signed with Ed25519."""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from labelguard.errors import BadInput, KeyProblem

if TYPE_CHECKING:
    import pandas as pd

FORMAT = "labelguard-manifest/2"
ROLES = ("data", "holdout", "baseline", "partition")
SIGNING_KEY_FILE = "signing.key"
VERIFY_KEY_FILE = "verify.pub"


@dataclass(frozen=True)
class ColumnSpec:
    """Which columns are the id, the label, the features and the timestamp, and the class set."""

    id_col: str = "review_id"
    label_col: str = "label"
    feature_cols: tuple[str, ...] = ("polarity", "intensity")
    timestamp_col: str | None = "created_at"
    classes: tuple[Any, ...] = (0, 1)
    # The class the business figure and the default targeted attack are about; None = resolved by
    # the default rule (labelguard.tasks.classes.positive_class), absent in older manifests.
    positive_class: Any = None
    # Free-text columns, featurized by the recorded featurizer (labelguard.tasks.features).
    text_cols: tuple[str, ...] = ()
    featurizer: dict[str, Any] | None = field(default=None, hash=False)
    domain: str | None = None  # "reviews": the report speaks of customer satisfaction
    # The featurizer fitted on trusted rows at run time; never serialized.
    fitted: Any = field(default=None, compare=False, hash=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id_col": self.id_col,
            "label_col": self.label_col,
            "feature_cols": list(self.feature_cols),
            "timestamp_col": self.timestamp_col,
            "classes": [to_py(c) for c in self.classes],
            "positive_class": to_py(self.positive_class),
            "text_cols": list(self.text_cols),
            "featurizer": self.featurizer,
            "domain": self.domain,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ColumnSpec":
        return cls(
            id_col=data["id_col"],
            label_col=data["label_col"],
            feature_cols=tuple(data["feature_cols"]),
            timestamp_col=data.get("timestamp_col"),
            classes=tuple(data["classes"]),
            positive_class=data.get("positive_class"),
            text_cols=tuple(data.get("text_cols") or ()),
            featurizer=data.get("featurizer"),
            domain=data.get("domain"),
        )


def to_py(value: Any) -> Any:
    """A numpy scalar as the plain Python value (for JSON and messages); anything else unchanged."""
    return value.item() if isinstance(value, np.generic) else value


JSON_SAFE_INT = 2**53  # beyond it a JSON reader that uses doubles (jq, JavaScript) reads another integer


def json_safe(data: Any) -> Any:
    """``data`` for a JSON report a person's tools read: integers beyond ±2^53 as their decimal text, so an id such as
    9007199254741013 is not read back as 9007199254741012 (break-it r12 finding 1); everything else unchanged."""
    if isinstance(data, dict):
        return {k: json_safe(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [json_safe(v) for v in data]
    value = to_py(data)
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > JSON_SAFE_INT:
        return str(value)
    if isinstance(value, (datetime.datetime, datetime.date, datetime.timedelta)):
        # a timestamp id (pandas Timestamp, with its time zone) as the console prints it: JSON has no time type, and
        # json.dumps refused it, leaving a cut-off truth file and a CI gate's exit 2 (break-it r15 finding 1)
        return str(value)
    return value


def canonical_json(data: Any) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


# ---------------------------------------------------------------- keys


def generate_keypair(out_dir: Path) -> tuple[Path, Path]:
    """Write ``signing.key`` (PKCS#8 PEM, mode 0600) and ``verify.pub`` into ``out_dir``.

    Raises
    ------
    KeyProblem
        If either file already exists (keys are never overwritten) or the directory is unwritable.
    """
    out_dir = Path(out_dir)
    private = Ed25519PrivateKey.generate()
    priv_pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    pub_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    sign_path, verify_path = out_dir / SIGNING_KEY_FILE, out_dir / VERIFY_KEY_FILE
    for path in (sign_path, verify_path):
        if path.exists():
            raise KeyProblem(f"{path} already exists", "choose another --out directory; keys are never overwritten")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(sign_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(priv_pem)
        fd = os.open(verify_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        with os.fdopen(fd, "wb") as fh:
            fh.write(pub_pem)
    except OSError as exc:
        raise KeyProblem(f"cannot write keys to {out_dir}: {exc.strerror or exc}", "choose a writable --out directory") from None
    return sign_path, verify_path


def _refuse_key_text(path: Path, which: str, env: str | None, flag: str) -> None:
    """A key's PEM text where its path belongs (the usual CI secret): refuse without ever echoing it."""
    if "-----BEGIN" in str(path):
        raise KeyProblem(
            f"{f'{env} / ' if env else ''}{flag} holds a PEM key itself, not the path of a {which} key file",
            f"write the key to a file (mode 0600) and point {env or flag} at that file",
        )


def _refuse_key_folder(path: Path, which: str, name: str, env: str | None, flag: str) -> None:
    """A key variable pointing at the folder `labelguard keygen --out` made (``LABELGUARD_VERIFY_KEY=keys``) read as
    "cannot read verify key keys: [Errno 21] Is a directory": name the key file inside it when there is one."""
    if not Path(path).is_dir():
        return
    inside = Path(path) / name
    named = f"{env} / {flag}" if env else flag
    raise KeyProblem(
        f"{which} key {path} is a folder, not a key file",
        f"point {named} at {inside}" if inside.is_file() else f"point {named} at the {name} in the folder `labelguard keygen --out` made",
    )


def _relative_hint(path) -> str:
    """What a key's fix adds for a relative path that is not there: where it was read from (the current folder)."""
    return "; a relative path is read from the current folder" if not Path(path).is_absolute() and not Path(path).exists() else ""


def load_signing_key(path: Path | None) -> Ed25519PrivateKey:
    if path is None:
        raise KeyProblem("no signing key configured", "set LABELGUARD_SIGNING_KEY or pass --signing-key; `labelguard keygen` makes one")
    _refuse_key_text(path, "signing", "LABELGUARD_SIGNING_KEY", "--signing-key")
    _refuse_key_folder(path, "signing", SIGNING_KEY_FILE, "LABELGUARD_SIGNING_KEY", "--signing-key")
    try:
        key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        relative = _relative_hint(path)
        raise KeyProblem(f"cannot read signing key {path}: {exc}", f"point LABELGUARD_SIGNING_KEY / --signing-key at a key made by `labelguard keygen`{relative}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyProblem(f"{path} is not an Ed25519 private key", "make one with `labelguard keygen`")
    return key


def load_verify_key(path: Path | None, *, flag: str = "--verify-key") -> Ed25519PublicKey:
    """The Ed25519 verify key at ``path``; ``flag`` is the option that named it (``--old-verify-key`` for a rotation)."""
    if path is None:
        raise KeyProblem("no verify key configured", "set LABELGUARD_VERIFY_KEY or pass --verify-key")
    env = "LABELGUARD_VERIFY_KEY" if flag == "--verify-key" else None  # --old-verify-key has no variable
    _refuse_key_text(path, "verify", env, flag)
    _refuse_key_folder(path, "verify", VERIFY_KEY_FILE, env, flag)
    try:
        key = serialization.load_pem_public_key(Path(path).read_bytes())
    except (OSError, ValueError, TypeError) as exc:
        # the path may have come from LABELGUARD_VERIFY_KEY, which the fix named no more than a --verify-key never passed (break-it r15 F14)
        where = f"{env} / {flag}" if env else flag
        relative = _relative_hint(path)
        raise KeyProblem(f"cannot read verify key {path}: {exc}", f"point {where} at a verify.pub made by `labelguard keygen`{relative}") from None
    if not isinstance(key, Ed25519PublicKey):
        raise KeyProblem(f"{path} is not an Ed25519 public key", "use the verify.pub from `labelguard keygen`")
    return key


def key_id(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


# ---------------------------------------------------------------- digests


def labels_digest(frame: pd.DataFrame, id_col: str, label_col: str) -> str:
    """SHA-256 over ``f"{id}\x1f{label}\n"`` for every row, sorted by id: independent of row order."""
    import pyarrow as pa
    import pyarrow.compute as pc

    ids = pa.array(frame[id_col].astype(str).to_numpy(dtype=object), type=pa.large_string())
    labels = pa.array(frame[label_col].astype(str).to_numpy(dtype=object), type=pa.large_string())
    order = pc.sort_indices(ids)
    sep, newline, empty = (pa.scalar(v, pa.large_string()) for v in ("\x1f", "\n", ""))
    joined = pc.binary_join_element_wise(pc.take(ids, order), pc.take(labels, order), sep)
    joined = pc.binary_join_element_wise(joined, empty, newline)  # a trailing newline on every row
    digest = hashlib.sha256()
    for chunk in (joined.chunks if isinstance(joined, pa.ChunkedArray) else [joined]):
        offsets = np.frombuffer(chunk.buffers()[1], dtype=np.int64)[chunk.offset : chunk.offset + len(chunk) + 1]
        if len(offsets):
            digest.update(memoryview(chunk.buffers()[2])[offsets[0] : offsets[-1]])
    return digest.hexdigest()


def label_histogram(frame: pd.DataFrame, label_col: str) -> dict[str, int]:
    counts = frame[label_col].value_counts()
    return {str(k): int(v) for k, v in sorted(counts.items(), key=lambda kv: str(kv[0]))}


# ---------------------------------------------------------------- manifests


@dataclass(frozen=True)
class SignedManifest:
    """A manifest payload and its detached signature."""

    payload: dict[str, Any]
    signature: str
    key_id: str
    algorithm: str = "ed25519"

    def to_bytes(self) -> bytes:
        doc = {"payload": self.payload, "signature": self.signature, "key_id": self.key_id, "algorithm": self.algorithm}
        return json.dumps(doc, sort_keys=True, indent=2).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> "SignedManifest":
        try:
            doc = json.loads(data)
            return cls(payload=doc["payload"], signature=doc["signature"], key_id=doc["key_id"], algorithm=doc.get("algorithm", "ed25519"))
        except (ValueError, KeyError, TypeError) as exc:
            raise BadInput(f"manifest is not valid labelguard JSON: {exc}", "re-ingest the dataset") from None

    @property
    def spec(self) -> ColumnSpec:
        return ColumnSpec.from_dict(self.payload["columns"])


@dataclass(frozen=True)
class DatasetRef:
    """The identity a manifest is bound to: which dataset, which part of it, in which role, which version.

    ``part`` is the part's path relative to the dataset root (``""`` for the root itself,
    ``"holdout"``, ``"date=2026-01-31"``); every object key in the manifest is relative to the root
    too, so a manifest copied to another part's location no longer matches where it sits.
    ``version`` grows by one each time the same dataset part is signed again (``labelguard seal``).
    """

    id: str
    role: str = "data"
    part: str = ""
    version: int = 1

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise BadInput(f"unknown dataset role {self.role!r}", f"choose one of: {', '.join(ROLES)}")

    def key(self, name: str) -> str:
        """An object name in this part, as a key relative to the dataset root."""
        return f"{self.part}/{name}" if self.part else name

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "role": self.role, "part": self.part, "version": int(self.version)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "DatasetRef":
        return cls(id=str(data["id"]), role=str(data["role"]), part=str(data.get("part", "")), version=int(data.get("version", 1)))


def new_dataset_id(dest: str) -> str:
    """A fresh dataset id: the destination's last path segment plus 12 random hex digits."""
    import re
    import uuid

    stem = re.sub(r"[^a-z0-9]+", "-", dest.rstrip("/").rsplit("/", 1)[-1].lower()).strip("-") or "dataset"
    return f"{stem[:40]}-{uuid.uuid4().hex[:12]}"


def build_manifest(
    frame: pd.DataFrame,
    spec: ColumnSpec,
    *,
    dataset: DatasetRef,
    objects: list[dict[str, Any]],
    source: dict[str, Any],
    created_at: str,
) -> dict[str, Any]:
    """The payload that gets signed: identity, objects (key relative to the root, digest, version,
    rows), counts, labels digest, columns."""
    return {
        "format": FORMAT,
        "dataset": dataset.to_dict(),
        "created_at": created_at,
        "source": source,
        "columns": spec.to_dict(),
        "objects": objects,
        "rows": int(len(frame)),
        "label_histogram": label_histogram(frame, spec.label_col),
        "labels_digest": labels_digest(frame, spec.id_col, spec.label_col),
    }


def sign_manifest(payload: dict[str, Any], key: Ed25519PrivateKey) -> SignedManifest:
    signature = key.sign(canonical_json(payload))
    return SignedManifest(payload=payload, signature=base64.b64encode(signature).decode(), key_id=key_id(key.public_key()))


def signature_valid(manifest: SignedManifest, key: Ed25519PublicKey) -> bool:
    try:
        key.verify(base64.b64decode(manifest.signature), canonical_json(manifest.payload))
    except (InvalidSignature, ValueError):
        return False
    return True
