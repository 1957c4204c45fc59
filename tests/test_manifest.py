import stat

import pytest

from labelguard.errors import KeyProblem
from labelguard.tasks.manifest import (
    ColumnSpec,
    generate_keypair,
    key_id,
    labels_digest,
    load_signing_key,
    load_verify_key,
    sign_manifest,
    signature_valid,
)


def test_keygen_modes_and_refuses_overwrite(tmp_path):
    sign, verify = generate_keypair(tmp_path)
    assert stat.S_IMODE(sign.stat().st_mode) == 0o600
    assert key_id(load_signing_key(sign).public_key()) == key_id(load_verify_key(verify))
    with pytest.raises(KeyProblem, match="already exists"):
        generate_keypair(tmp_path)


def test_signature_covers_every_field(keys, other_keys):
    priv, pub = load_signing_key(keys[0]), load_verify_key(keys[1])
    signed = sign_manifest({"rows": 10, "labels_digest": "abc", "nested": {"a": [1, 2]}}, priv)
    assert signature_valid(signed, pub)
    assert not signature_valid(signed, load_verify_key(other_keys[1]))
    for edit in ({"rows": 11}, {"labels_digest": "abd"}, {"nested": {"a": [1, 3]}}):
        forged = type(signed)({**signed.payload, **edit}, signed.signature, signed.key_id)
        assert not signature_valid(forged, pub)


def test_labels_digest_ignores_order_but_not_labels(reviews):
    s = ColumnSpec()
    base = labels_digest(reviews, s.id_col, s.label_col)
    assert labels_digest(reviews.sample(frac=1, random_state=0), s.id_col, s.label_col) == base
    flipped = reviews.copy()
    flipped.loc[7, "label"] = 1 - flipped.loc[7, "label"]
    assert labels_digest(flipped, s.id_col, s.label_col) != base
    moved = reviews.copy()
    moved.loc[7, "polarity"] += 1  # features are not the labels digest's business
    assert labels_digest(moved, s.id_col, s.label_col) == base


def test_missing_or_wrong_keys(tmp_path, keys):
    with pytest.raises(KeyProblem, match="no signing key"):
        load_signing_key(None)
    with pytest.raises(KeyProblem):
        load_signing_key(tmp_path / "nope.key")
    with pytest.raises(KeyProblem):
        load_signing_key(keys[1])  # a public key is not a signing key
