"""An append-only, signed, hash-chained ledger of manifests: the verifier's record of each dataset's newest state.

A manifest proves *who* signed a state; only a record kept apart from the store says *which* signed
state is current. Ingest (and baseline, seal) append one entry per manifest they sign; verification
with a ledger rejects an older signed state of the same dataset (``rollback``) and another dataset's
signed files at a location the ledger knows (``wrong-dataset``). Each entry carries the SHA-256 of
the previous line and its own Ed25519 signature, so an edited or reordered middle is detected. What
a ledger cannot see: truncation of its newest lines, or a ledger that never saw the dataset (keep a
copy where the store's writers cannot reach it, e.g. beside the verify key).
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from labelguard.errors import BadInput
from labelguard.tasks.manifest import SignedManifest, canonical_json, key_id, sign_manifest, signature_valid

LEDGER_ENV = "LABELGUARD_LEDGER"
LEDGER_FILE = "ledger.jsonl"
GENESIS = "0" * 64


@dataclass(frozen=True)
class LedgerEntry:
    """One signed manifest: which dataset part, which version, its manifest digest and where it was written."""

    dataset_id: str
    part: str
    role: str
    version: int
    manifest_sha256: str
    uri: str
    created_at: str


class LedgerBroken(Exception):
    """The ledger itself fails its signatures or hash chain (reported by verification as ``bad-ledger``)."""


def default_ledger_path(key_path: Path | None) -> Path | None:
    """``$LABELGUARD_LEDGER``, else ``ledger.jsonl`` beside the key file; None without either, or when the variable
    is ``none`` (as ``--ledger none``: no ledger, rather than a file named "none" in the current folder)."""
    env = os.environ.get(LEDGER_ENV)
    if env and env.strip().lower() == "none":
        return None
    if env:
        return Path(env)
    return Path(key_path).parent / LEDGER_FILE if key_path else None


def normalize_uri(uri: str) -> str:
    """A location as the ledger records it: absolute local paths, ``s3://bucket/prefix`` without slashes at the end."""
    if uri.startswith("s3://"):
        return uri.rstrip("/")
    path = uri[len("file://"):] if uri.startswith("file://") else uri
    return str(Path(path).expanduser().resolve())


class Ledger:
    """A JSON-lines file of signed, chained :class:`LedgerEntry` records.

    Parameters
    ----------
    path
        The ledger file; created on first append.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def ensure_writable(self) -> None:
        """Fail before any data is written when the ledger cannot be appended to, leaving nothing behind.

        An existing file is opened for appending; a missing one is probed by a throwaway temporary file
        in its nearest existing folder (never the ledger's own name, which a concurrent writer may be
        creating), so a command refused after this check has not created an empty ledger or its folders.
        """
        import tempfile

        try:
            if self.path.exists():
                with open(self.path, "a"):
                    pass
                return
            folder = self.path.parent
            while not folder.exists() and folder != folder.parent:
                folder = folder.parent
            if not folder.is_dir():  # a file where a folder must be made
                raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), str(folder))
            fd, probe = tempfile.mkstemp(prefix=".labelguard-probe-", dir=folder)
            os.close(fd)
            os.unlink(probe)
        except OSError as exc:
            raise BadInput(f"cannot write the ledger {self.path}: {exc.strerror or exc}", f"set {LEDGER_ENV} or --ledger to a writable file") from None

    def append(self, entry: LedgerEntry, key: Ed25519PrivateKey) -> None:
        """Append one signed entry, chained to the last line (an exclusive lock serialises writers)."""
        self.ensure_writable()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a+b") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            fh.seek(0)
            lines = fh.read().splitlines()
            prev = hashlib.sha256(lines[-1]).hexdigest() if lines else GENESIS
            signed = sign_manifest({"entry": asdict(entry), "prev": prev}, key)
            fh.seek(0, os.SEEK_END)
            fh.write(json.dumps({"payload": signed.payload, "signature": signed.signature, "key_id": signed.key_id}, sort_keys=True).encode() + b"\n")
            fh.flush()
            os.fsync(fh.fileno())

    def entries(self, verify_key: Ed25519PublicKey) -> list[LedgerEntry]:
        """Every entry signed by ``verify_key``, in order; entries by other keys are another signer's and skipped.

        Raises
        ------
        LedgerBroken
            A line is not valid JSON, a signature by this key fails, or the hash chain is broken.
        """
        if not self.path.is_file():
            return []
        out: list[LedgerEntry] = []
        prev = GENESIS
        trusted = key_id(verify_key)
        for number, line in enumerate(self.path.read_bytes().splitlines(), 1):
            try:
                doc = json.loads(line)
                signed = SignedManifest(doc["payload"], doc["signature"], doc["key_id"])
                chained = signed.payload["prev"]
            except (ValueError, KeyError, TypeError):
                raise LedgerBroken(f"ledger {self.path} line {number} is not a signed entry") from None
            if chained != prev:
                raise LedgerBroken(f"ledger {self.path} line {number} does not chain to the line before it (edited or reordered)")
            prev = hashlib.sha256(line).hexdigest()
            if signed.key_id != trusted:
                continue
            if not signature_valid(signed, verify_key):
                raise LedgerBroken(f"ledger {self.path} line {number}: signature does not verify")
            out.append(LedgerEntry(**signed.payload["entry"]))
        return out


def manifest_digest(manifest: SignedManifest) -> str:
    """SHA-256 of a manifest's signed payload (independent of the JSON layout on disk)."""
    return hashlib.sha256(canonical_json(manifest.payload)).hexdigest()


def recorded_at(entries: list[LedgerEntry], uri: str) -> list[LedgerEntry]:
    """The entries the ledger signed for the dataset part at ``uri`` (its root's location and part joined), oldest first."""
    here = normalize_uri(uri)
    return [e for e in entries if (f"{e.uri}/{e.part}" if e.part else e.uri) == here]


def gone_from(entries: list[LedgerEntry], uri: str) -> str | None:
    """What the ledger recorded at ``uri`` where nothing is now, or None when it recorded nothing there.

    Nothing at a location is a typo (exit 2) unless the ledger signed data there: then the data was removed, manifest
    and all, and reading it as a typo told the user to ingest again whatever is left (break-it r15 F5)."""
    mine = recorded_at(entries, uri)
    if not mine:
        return None
    last = mine[-1]
    return (f"the ledger records {last.role} of dataset {last.dataset_id} (version {last.version}, signed {last.created_at}) at "
            f"{normalize_uri(uri)}, and its manifest and every object are gone")


def check_against_ledger(entries: list[LedgerEntry], manifest: SignedManifest, root_uri: str) -> tuple[str, str] | None:
    """Compare a verified manifest with the ledger: ``None`` when consistent, else ``(code, detail)``.

    ``wrong-dataset``: the ledger records another dataset at this location. ``rollback``: the ledger
    records a newer signed state of this dataset part, or a different one at the same version.
    """
    ds: dict[str, Any] = manifest.payload["dataset"]
    here = normalize_uri(root_uri)
    at_location = [e for e in entries if e.uri == here and e.part == ds["part"]]
    if at_location and at_location[-1].dataset_id != ds["id"]:
        return "wrong-dataset", f"the ledger records dataset {at_location[-1].dataset_id} at {here}, but the manifest is for {ds['id']}"
    mine = [e for e in entries if e.dataset_id == ds["id"] and e.part == ds["part"]]
    if not mine:
        return None
    latest = max(mine, key=lambda e: e.version)
    digest = manifest_digest(manifest)
    if ds["version"] < latest.version:
        return "rollback", f"manifest is version {ds['version']} of {ds['id']}, the ledger's newest is version {latest.version} ({latest.created_at})"
    if ds["version"] == latest.version and digest != latest.manifest_sha256:
        return "rollback", f"manifest version {ds['version']} of {ds['id']} is not the state the ledger recorded for it"
    return None
