"""Key rotation: re-sign a signed dataset under a new key pair, only after it verifies under the old one."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from labelguard.errors import BadInput, KeyProblem, UntrustedInput
from labelguard.tasks.dataset import HOLDOUT, MANIFEST_KEY, ManifestProblem, load_verified, own_key, read_manifest, seal_dataset
from labelguard.tasks.manifest import SignedManifest, key_id
from labelguard.tasks.storage import Store


def manifest_signer(store: Store) -> str | None:
    """The key id a dataset part's manifest names as its signer, or None when there is no readable manifest."""
    if store.head(own_key(store, MANIFEST_KEY)) is None:
        return None
    try:
        manifest = read_manifest(store)
    except (ManifestProblem, BadInput):
        return None
    return manifest.key_id if "dataset" in manifest.payload else None


def refuse_reseal_under_another_key(store: Store, uri: str, signing_key: Ed25519PrivateKey) -> None:
    """``seal`` re-signs a part as its next version with the key that signed it: a manifest signed by another
    key pair was reported as "nothing changed: not re-signed" (exit 0), or re-signed unverified when
    objects had changed (break-it r5 finding 6). A key change is a rotation (:func:`rotate_keys`).

    Raises
    ------
    KeyProblem
        The part's manifest is signed by another key than ``signing_key``'s pair.
    """
    signer, own = manifest_signer(store), key_id(signing_key.public_key())
    if signer is not None and signer != own:
        raise KeyProblem(
            f"the manifest of {store.uri} is signed by key {signer}, not by the signing key's pair (key {own}): sealing would re-sign data no key of yours has verified",
            f"to move it to the new key pair, verify and re-sign it with `labelguard seal {uri} --rotate --old-verify-key OLD/verify.pub`; "
            "to approve a change, seal with the key that signed it",
        )


def rotate_keys(store: Store, old_verify_key: Ed25519PublicKey, signing_key: Ed25519PrivateKey, *, old_ledger=None, ledger=None) -> list[tuple[str, SignedManifest | None]]:
    """Re-sign the dataset part at ``store`` (and its ``holdout`` part, when it has one) under a new key pair.

    Every part is verified completely under ``old_verify_key`` first (manifest signature, identity,
    ledger, every object's digest and rows, no unlisted objects); only when all verify is any of them
    re-signed, each as its next version (so the new key's ledger rejects the old-key state as a
    rollback) with ``source.rotated_from`` naming the old key. The objects themselves are not
    rewritten. A part already signed by the new key is left as it is, so a rotation interrupted
    half-way is finished by running it again.

    Parameters
    ----------
    store
        A dataset part written by ``ingest``, ``baseline`` or ``seal`` (its root, a holdout, a baseline).
    old_verify_key
        The public key the data is signed by now.
    signing_key
        The new private key.
    old_ledger, ledger
        The ledgers to verify against (old key) and to record the new versions in (new key); None: none.

    Returns
    -------
    list of (uri, manifest)
        Each part in order (the part itself, then its holdout); the manifest is None for a part that
        was already signed by the new key.

    Raises
    ------
    BadInput
        No signed manifest at ``store`` (nothing to rotate).
    KeyProblem
        The old and the new key are one pair.
    UntrustedInput
        A part does not verify under ``old_verify_key``: nothing is re-signed.
    """
    old_id, new_id = key_id(old_verify_key), key_id(signing_key.public_key())
    if old_id == new_id:
        raise KeyProblem(f"--old-verify-key (key {old_id}) is the pair of the signing key: there is nothing to rotate",
                         "pass as --old-verify-key the verify key of the pair the data is signed by now")
    parts = [store]
    if store.child(HOLDOUT).head(MANIFEST_KEY) is not None:
        parts.append(store.child(HOLDOUT))
    todo = []
    for part in parts:
        signer = manifest_signer(part)
        if signer is None:
            from labelguard.tasks.drift import partition_dates

            if part is store and partition_dates(store):
                # the fix said "seal unsigned objects as a new dataset", i.e. re-sign signed partitions as one new dataset (break-it r8 F19)
                raise BadInput(f"{store.uri} is a root of daily partitions: --rotate does not cover it yet (each partition, the reference "
                               "and drift's signed day records would need re-signing)",
                               "keep this lake on its current key pair for now (README: Key rotation)")
            raise BadInput(f"no signed manifest at {part.uri}: nothing to rotate", "seal unsigned objects as a new dataset with `labelguard seal URI --id-col … --label-col …`")
        if signer == new_id:
            continue
        rep = load_verified(part, old_verify_key, ledger=old_ledger)
        if not rep.ok:
            raise UntrustedInput(
                ["manifest"], f"{part.uri} does not verify under the old verify key (key {old_id}): {rep.code}: {rep.detail}; nothing was re-signed",
                fix="restore the data from a signed copy, or approve the change with the old key first (`labelguard seal URI` with the old signing key), then rotate",
            )
        todo.append(part)
    done = []
    for part in parts:
        done.append((part.uri, seal_dataset(part, signing_key, ledger=ledger, rotated_from=old_id) if part in todo else None))
    return done
