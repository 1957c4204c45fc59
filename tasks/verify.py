"""`labelguard verify`: every guard on a stored dataset, no Prefect needed (a CI gate starts fast)."""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from labelguard.errors import UntrustedInput
from labelguard.tasks import guards
from labelguard.tasks.classes import with_positive
from labelguard.tasks.dataset import HOLDOUT, MANIFEST_KEY, IntegrityReport, ManifestProblem, load_verified, read_manifest, sort_ids, write_dataset
from labelguard.tasks.features import with_featurizer
from labelguard.tasks.manifest import DatasetRef, SignedManifest, load_verify_key, new_dataset_id, to_py
from labelguard.tasks.storage import LocalStore, open_store

GOLDEN = "golden_holdout"
EXACT = ("manifest", "label_contract", "schema")  # guards whose suspects are facts, not estimates
ESTIMATED = ("reference_model", "confident_learning")  # in order of preference


@dataclass
class VerifyReport:
    dataset: str
    guards: list[guards.GuardResult]
    suspect_ids: list = field(default_factory=list)
    suspects_from: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(g.passed for g in self.guards)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "dataset": self.dataset,
            "guards": [g.to_dict() for g in self.guards],
            "suspect_ids": [to_py(i) for i in self.suspect_ids],
            "suspects_from": self.suspects_from,
        }


def golden_holdout() -> tuple[LocalStore, Ed25519PublicKey]:
    """The signed golden holdout shipped under ``data/`` for the default synthetic reviews, and its key."""
    root = Path(str(resources.files("labelguard.data").joinpath(GOLDEN)))
    return LocalStore(root), load_verify_key(root / "verify.pub")


def _default_synthetic(source: dict) -> bool:
    """The golden holdout only represents reviews generated with the default parameters."""
    defaults = {"separation": 5.0, "spread": 1.0, "positive_share": 0.5}
    return source.get("kind") == "synthetic" and all(float(source.get(k, v)) == v for k, v in defaults.items())


TRUSTED_ROLES = {"reference": ("baseline", "holdout"), "holdout": ("holdout",), "golden holdout": ("holdout",), "trusted source": ("data", "holdout", "baseline", "partition")}


def load_trusted(uri_or_store, key: Ed25519PublicKey, what: str, endpoint_url: str | None, *, ledger=None) -> IntegrityReport:
    """Verify data that must be trusted; anything but ``ok`` raises :class:`UntrustedInput`.

    ``what`` names the use (``reference``, ``holdout``, ``golden holdout``, ``trusted source``)
    and so the roles a manifest may have there: a training set passed as ``--reference`` is a
    ``wrong-dataset``, not a baseline.
    """
    store = open_store(uri_or_store, endpoint_url=endpoint_url) if isinstance(uri_or_store, str) else uri_or_store
    rep = load_verified(store, key, roles=TRUSTED_ROLES.get(what), ledger=ledger)
    if not rep.ok:
        raise UntrustedInput([what], f"the {what} at {store.uri} failed verification: {rep.code}: {rep.detail}")
    return rep


def suite_suspects(results: list[guards.GuardResult]) -> tuple[list, list[str]]:
    """The rows the suite stands behind: exact localizers when they fired; otherwise the best fired
    content guard's estimate."""
    fired = {g.name: g for g in results if not g.passed and g.suspect_ids}
    exact = [n for n in EXACT if n in fired]
    if exact:
        ids = sort_ids({i for n in exact for i in fired[n].suspect_ids})
        return ids, exact
    for name in ESTIMATED:
        if name in fired:
            return list(fired[name].suspect_ids), [name]
    return [], []


def verify_dataset(
    uri: str,
    verify_key: Ed25519PublicKey,
    *,
    reference_uri: str | None = None,
    holdout_uri: str | None = None,
    names: list[str] | None = None,
    endpoint_url: str | None = None,
    ledger=None,
    positive_class: Any = None,
) -> VerifyReport:
    """Verify a stored dataset and run the guard suite on it.

    The reference (a signed baseline from ``labelguard baseline``) and the holdout are verified
    first; either failing raises :class:`UntrustedInput`. Without ``holdout_uri``, a dataset of
    default synthetic reviews uses the golden holdout shipped with labelguard.

    Raises
    ------
    DatasetMissing
        Nothing at ``uri`` (exit 2: a typo is not tampering).
    UntrustedInput
        The reference or holdout failed its own verification.
    """
    for name in names or []:
        guards.get_guard(name)
    store = open_store(uri, endpoint_url=endpoint_url)
    columns = None
    if names and set(names) <= {"manifest"}:
        # integrity only: decode just the columns localization needs
        try:
            spec_ = read_manifest(store).spec
            columns = [spec_.id_col, spec_.label_col]
        except (ManifestProblem, KeyError, TypeError):
            pass
    integrity: IntegrityReport = load_verified(store, verify_key, columns=columns, ledger=ledger)
    reference = load_trusted(reference_uri, verify_key, "reference", endpoint_url, ledger=ledger).frame if reference_uri else None
    holdout = None
    if holdout_uri:
        holdout = load_trusted(holdout_uri, verify_key, "holdout", endpoint_url, ledger=ledger).frame
    elif integrity.manifest is not None and _default_synthetic(integrity.manifest.payload.get("source", {})):
        golden, golden_key = golden_holdout()
        holdout = load_trusted(golden, golden_key, "golden holdout", None).frame
    spec = integrity.manifest.spec if integrity.manifest else None
    if columns is not None or integrity.data is None or spec is None:  # integrity only, or nothing to read
        results = [guards.manifest_guard(guards.GuardContext(frame=None, spec=spec, integrity=integrity))]
    else:
        if reference is not None and holdout is not None and _same_rows(reference, holdout, spec.id_col):
            # a baseline copied from the holdout is one trusted sample: the model gate must compare out of
            # fold (it checks `reference is holdout`), else the reference model is scored in-sample
            holdout = reference
        trusted = holdout if holdout is not None or not spec.text_cols else _own_holdout(store, verify_key, endpoint_url)
        spec = with_featurizer(with_positive(spec, positive_class), integrity.frame, trusted, reference)
        ctx = guards.GuardContext(frame=integrity.frame, spec=spec, integrity=integrity, reference=reference, holdout=holdout)
        results = guards.run_guards(ctx, names)
    ids, sources = suite_suspects(results)
    return VerifyReport(uri, results, ids, sources)


def _same_rows(a, b, id_col: str) -> bool:
    if len(a) != len(b) or id_col not in a.columns or id_col not in b.columns:
        return False
    return a[id_col].astype(str).sort_values().tolist() == b[id_col].astype(str).sort_values().tolist()


def _own_holdout(store, verify_key, endpoint_url):
    """The signed holdout under the dataset (None when there is none): the pipeline fits the text
    featurizer on the dataset and this holdout, so verify refits it on the same rows."""
    own = store.child(HOLDOUT)
    return load_trusted(own, verify_key, "holdout", endpoint_url).frame if own.head(MANIFEST_KEY) is not None else None


def make_baseline(
    uri: str,
    out_uri: str,
    verify_key: Ed25519PublicKey,
    signing_key: Ed25519PrivateKey,
    *,
    endpoint_url: str | None = None,
    ledger=None,
    writer_ledger=None,
) -> SignedManifest:
    """Copy a verified, trusted dataset to ``out_uri`` as a signed reference baseline (role ``baseline``).

    The payload adds summary statistics (class counts, per-class feature means) for people to read;
    the guards recompute everything from the signed rows.
    """
    source = load_trusted(uri, verify_key, "trusted source", endpoint_url, ledger=ledger)
    frame, spec = source.frame, source.manifest.spec
    out = open_store(out_uri, endpoint_url=endpoint_url)
    out.ensure_writable()
    means = frame.groupby(spec.label_col)[list(spec.feature_cols)].mean()
    stats = {
        "from": uri,
        "class_counts": {str(k): int(v) for k, v in frame[spec.label_col].value_counts().sort_index().items()},
        "class_means": {str(k): [float(x) for x in row] for k, row in means.iterrows()},
    }
    return write_dataset(
        out, frame, spec, signing_key, source={"kind": "baseline", "from": uri, "from_dataset": source.manifest.payload["dataset"]},
        dataset=DatasetRef(new_dataset_id(out_uri), role="baseline"), extra={"baseline": stats}, ledger=writer_ledger, ledger_uri=out.uri,
    )
