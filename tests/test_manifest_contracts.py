"""The manifest module's values, exactly (digests recomputed independently, messages word for word),
written against the survivors of `make mutation` on tasks/manifest.py."""

from __future__ import annotations

import base64
import hashlib
import os
import re
import stat

import numpy as np
import pandas as pd
import pytest
from cryptography.hazmat.primitives import serialization

from labelguard.errors import BadInput, KeyProblem
from labelguard.tasks.manifest import (
    FORMAT,
    ColumnSpec,
    DatasetRef,
    SignedManifest,
    build_manifest,
    canonical_json,
    generate_keypair,
    key_id,
    label_histogram,
    labels_digest,
    load_signing_key,
    load_verify_key,
    new_dataset_id,
    sign_manifest,
    signature_valid,
    to_py,
)


def _independent_digest(frame, id_col, label_col) -> str:
    rows = sorted(zip(frame[id_col].astype(str), frame[label_col].astype(str)))
    return hashlib.sha256("".join(f"{i}\x1f{lab}\n" for i, lab in rows).encode()).hexdigest()


@pytest.mark.parametrize("rows", [0, 1, 7, 600])
def test_labels_digest_is_sha256_of_sorted_id_label_lines(rows):
    frame = pd.DataFrame({"id": [f"r{(i * 7919) % 1000:03d}" for i in range(rows)], "y": [i % 3 for i in range(rows)]})
    assert labels_digest(frame, "id", "y") == _independent_digest(frame, "id", "y")


def test_labels_digest_of_a_slice_and_of_text_labels():
    frame = pd.DataFrame({"id": ["b", "a", "c", "d"], "y": ["pos", "neg", "pos", "neg"]}).iloc[1:]
    assert labels_digest(frame, "id", "y") == _independent_digest(frame, "id", "y")


def test_label_histogram_counts_by_label_text():
    frame = pd.DataFrame({"y": [1, 0, 1, 1, 10, 2]})
    assert list(label_histogram(frame, "y").items()) == [("0", 1), ("1", 3), ("10", 1), ("2", 1)]  # ordered as text


def test_canonical_json_and_to_py():
    assert canonical_json({"b": 1, "a": ["é", 2.5]}) == '{"a":["é",2.5],"b":1}'.encode()
    assert to_py(np.int64(3)) == 3 and type(to_py(np.int64(3))) is int
    assert type(to_py(np.float32(0.5))) is float and to_py("x") == "x"


def test_column_spec_round_trip():
    spec = ColumnSpec(id_col="id", label_col="y", feature_cols=("a", "b", "c"), timestamp_col=None, classes=(np.int64(0), np.int64(2)))
    d = spec.to_dict()
    assert d == {
        "id_col": "id", "label_col": "y", "feature_cols": ["a", "b", "c"], "timestamp_col": None, "classes": [0, 2],
        "positive_class": None, "text_cols": [], "featurizer": None, "domain": None,
    }
    assert [type(c) for c in d["classes"]] == [int, int]
    assert ColumnSpec.from_dict(d) == ColumnSpec(id_col="id", label_col="y", feature_cols=("a", "b", "c"), timestamp_col=None, classes=(0, 2))
    timed = ColumnSpec(timestamp_col="ts")
    assert ColumnSpec.from_dict(timed.to_dict()) == timed
    assert ColumnSpec.from_dict({k: v for k, v in timed.to_dict().items() if k != "timestamp_col"}).timestamp_col is None


def test_signed_manifest_bytes_round_trip_and_damage(keys):
    m = sign_manifest({"x": 1}, load_signing_key(keys[0]))
    raw = m.to_bytes()
    assert raw.decode().startswith('{\n  "algorithm": "ed25519",\n  "key_id": ')  # sorted keys, indent 2
    back = SignedManifest.from_bytes(raw)
    assert back == m and back.algorithm == "ed25519"
    assert SignedManifest.from_bytes(b'{"payload": {}, "signature": "s", "key_id": "k"}').algorithm == "ed25519"
    assert SignedManifest.from_bytes(b'{"payload": {}, "signature": "s", "key_id": "k", "algorithm": "rsa"}').algorithm == "rsa"
    for bad in (b"{ nope", b'{"payload": {}}', b"[1]"):
        with pytest.raises(BadInput) as info:
            SignedManifest.from_bytes(bad)
        assert info.value.problem.startswith("manifest is not valid labelguard JSON: ") and info.value.fix == "re-ingest the dataset"


def test_signature_is_ed25519_over_canonical_json(keys):
    priv, pub = load_signing_key(keys[0]), load_verify_key(keys[1])
    m = sign_manifest({"b": 2, "a": 1}, priv)
    pub.verify(base64.b64decode(m.signature), b'{"a":1,"b":2}')  # raises if not
    raw = pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    assert m.key_id == key_id(pub) == hashlib.sha256(raw).hexdigest()[:16]
    assert not signature_valid(SignedManifest(m.payload, "not base64!", m.key_id), pub)


def test_dataset_ref():
    root = DatasetRef("d")
    assert (root.role, root.part, root.version) == ("data", "", 1)
    assert root.key("data.parquet") == "data.parquet"
    part = DatasetRef("d", "holdout", "holdout", 3)
    assert part.key("data.parquet") == "holdout/data.parquet"
    assert part.to_dict() == {"id": "d", "role": "holdout", "part": "holdout", "version": 3}
    assert DatasetRef.from_dict({"id": 5, "role": "baseline"}) == DatasetRef("5", "baseline", "", 1)
    assert DatasetRef.from_dict(part.to_dict()) == part
    with pytest.raises(BadInput) as info:
        DatasetRef("d", role="training")
    assert info.value.problem == "unknown dataset role 'training'" and info.value.fix == "choose one of: data, holdout, baseline, partition"


@pytest.mark.parametrize(
    "dest, stem",
    [("s3://bucket/My Reviews_2026/", "my-reviews-2026"), ("/tmp/x/", "x"), ("s3://b/---", "dataset"), ("/d/" + "a" * 60, "a" * 40),
     ("/d/INBOX/", "inbox"), ("plainname", "plainname")],
)
def test_new_dataset_id(dest, stem):
    ds_id = new_dataset_id(dest)
    assert re.fullmatch(re.escape(stem) + r"-[0-9a-f]{12}", ds_id), ds_id
    assert new_dataset_id(dest) != ds_id


def test_build_manifest_payload():
    frame = pd.DataFrame({"review_id": ["b", "a"], "label": [1, 0], "polarity": [0.1, 0.2], "intensity": [1.0, 2.0]})
    spec = ColumnSpec(timestamp_col=None)
    payload = build_manifest(frame, spec, dataset=DatasetRef("d"), objects=[{"key": "data.parquet"}], source={"kind": "t"}, created_at="now")
    assert payload == {
        "format": FORMAT, "dataset": {"id": "d", "role": "data", "part": "", "version": 1}, "created_at": "now", "source": {"kind": "t"},
        "columns": spec.to_dict(), "objects": [{"key": "data.parquet"}], "rows": 2, "label_histogram": {"0": 1, "1": 1},
        "labels_digest": _independent_digest(frame, "review_id", "label"),
    }


def test_keypair_files_and_errors(tmp_path):
    sign, verify = generate_keypair(tmp_path / "new" / "dir")
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(verify.stat().st_mode) == 0o644 & ~umask
    assert stat.S_IMODE(sign.stat().st_mode) == 0o600
    assert sign.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----") and verify.read_bytes().startswith(b"-----BEGIN PUBLIC KEY-----")
    with pytest.raises(KeyProblem) as info:
        generate_keypair(tmp_path / "new" / "dir")
    assert info.value.problem == f"{sign} already exists" and info.value.fix == "choose another --out directory; keys are never overwritten"
    (tmp_path / "file").write_text("x")
    with pytest.raises(KeyProblem) as info:
        generate_keypair(tmp_path / "file" / "k")
    assert info.value.problem == f"cannot write keys to {tmp_path / 'file' / 'k'}: Not a directory" and info.value.fix == "choose a writable --out directory"


def test_key_loading_messages(tmp_path, keys):
    with pytest.raises(KeyProblem) as info:
        load_verify_key(None)
    assert (info.value.problem, info.value.fix) == ("no verify key configured", "set LABELGUARD_VERIFY_KEY or pass --verify-key")
    with pytest.raises(KeyProblem) as info:
        load_signing_key(None)
    assert info.value.problem == "no signing key configured"
    assert info.value.fix == "set LABELGUARD_SIGNING_KEY or pass --signing-key; `labelguard keygen` makes one"
    with pytest.raises(KeyProblem) as info:
        load_verify_key(keys[0])  # the private key where the public one goes
    assert info.value.problem.startswith(f"cannot read verify key {keys[0]}: ")
    assert info.value.fix == "point LABELGUARD_VERIFY_KEY / --verify-key at a verify.pub made by `labelguard keygen`"
    with pytest.raises(KeyProblem) as info:
        load_signing_key(tmp_path / "none.key")
    assert info.value.problem.startswith(f"cannot read signing key {tmp_path / 'none.key'}: ")
    assert info.value.fix == "point LABELGUARD_SIGNING_KEY / --signing-key at a key made by `labelguard keygen`"
    from cryptography.hazmat.primitives.asymmetric import ec

    other = ec.generate_private_key(ec.SECP256R1())
    (tmp_path / "ec.key").write_bytes(other.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    (tmp_path / "ec.pub").write_bytes(other.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    with pytest.raises(KeyProblem) as info:
        load_signing_key(tmp_path / "ec.key")
    assert (info.value.problem, info.value.fix) == (f"{tmp_path / 'ec.key'} is not an Ed25519 private key", "make one with `labelguard keygen`")
    with pytest.raises(KeyProblem) as info:
        load_verify_key(tmp_path / "ec.pub")
    assert (info.value.problem, info.value.fix) == (f"{tmp_path / 'ec.pub'} is not an Ed25519 public key", "use the verify.pub from `labelguard keygen`")
