"""Manifest behaviour that the full mutation run of tasks/manifest.py (issue 13, fifth session: 496
mutants, 32 of them added since the earlier full run) found untested through the manifest's own
tests: every column-spec field surviving a signed manifest, older manifests without the newer
fields, and a key's PEM text given where its path belongs; the seventh session's full run (539 mutants)
added a key path naming a folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from labelguard.errors import KeyProblem
from labelguard.tasks.features import featurizer_config
from labelguard.tasks.manifest import (
    ColumnSpec,
    DatasetRef,
    SignedManifest,
    build_manifest,
    load_signing_key,
    load_verify_key,
    sign_manifest,
    signature_valid,
)


def test_every_column_spec_field_survives_a_signed_manifest(keys):
    spec = ColumnSpec(id_col="rid", label_col="y", feature_cols=("polarity",), timestamp_col=None, classes=("neg", "pos"),
                      positive_class=np.str_("pos"), text_cols=("body",), featurizer=featurizer_config(["body"]), domain="reviews")
    frame = pd.DataFrame({"rid": ["a", "b"], "y": ["neg", "pos"], "polarity": [0.5, -1.0], "body": ["fine", "bad"]})
    payload = build_manifest(frame, spec, dataset=DatasetRef("ds-m", "data"), objects=[], source={}, created_at="2026-11-30T00:00:00Z")
    assert payload["columns"]["positive_class"] == "pos" and type(payload["columns"]["positive_class"]) is str
    signed = SignedManifest.from_bytes(sign_manifest(payload, load_signing_key(keys[0])).to_bytes())
    assert signature_valid(signed, load_verify_key(keys[1]))
    back = signed.spec
    assert back == spec
    assert (back.positive_class, back.text_cols, back.featurizer, back.domain) == ("pos", ("body",), featurizer_config(["body"]), "reviews")


def test_a_manifest_written_before_the_newer_fields_reads_with_their_defaults():
    spec = ColumnSpec.from_dict({"id_col": "rid", "label_col": "y", "feature_cols": ["x"], "classes": [0, 1]})
    assert spec == ColumnSpec(id_col="rid", label_col="y", feature_cols=("x",), timestamp_col=None, classes=(0, 1),
                              positive_class=None, text_cols=(), featurizer=None, domain=None)


@pytest.mark.parametrize(("load", "which", "env", "flag"), [
    (load_signing_key, "signing", "LABELGUARD_SIGNING_KEY", "--signing-key"),
    (load_verify_key, "verify", "LABELGUARD_VERIFY_KEY", "--verify-key"),
])
def test_a_key_given_as_pem_text_is_refused_without_echoing_it(load, which, env, flag):
    pem = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIsecret\n-----END PRIVATE KEY-----\n"
    with pytest.raises(KeyProblem) as err:
        load(pem)
    assert str(err.value) == (f"{env} / {flag} holds a PEM key itself, not the path of a {which} key file "
                              f"(fix: write the key to a file (mode 0600) and point {env} at that file)")


@pytest.mark.parametrize(("load", "which", "name", "env", "flag"), [
    (load_signing_key, "signing", "signing.key", "LABELGUARD_SIGNING_KEY", "--signing-key"),
    (load_verify_key, "verify", "verify.pub", "LABELGUARD_VERIFY_KEY", "--verify-key"),
])
@pytest.mark.parametrize("holds_key", [True, False], ids=["keygen-folder", "other-folder"])
def test_a_key_path_naming_a_folder_is_refused_and_points_at_the_key_inside(tmp_path, load, which, name, env, flag, holds_key):
    """Seventh session's full run of tasks/manifest.py: the folder refusal (problem, fix, which file it names) was
    only checked through the CLI, whose tests are not among the manifest's; each of its words is checked here."""
    folder = tmp_path / "keys"
    folder.mkdir()
    if holds_key:
        (folder / name).write_text("not read: the folder is refused first")
    fix = f"point {env} / {flag} at {folder / name}" if holds_key else f"point {env} / {flag} at the {name} in the folder `labelguard keygen --out` made"
    with pytest.raises(KeyProblem) as err:
        load(folder)
    assert (err.value.problem, err.value.fix) == (f"{which} key {folder} is a folder, not a key file", fix)


def test_json_safe_writes_integers_beyond_2_53_as_text_and_leaves_everything_else():
    """``json_safe`` (no test in manifest's mutation selection: its 10 mutants were "no tests" in the fifteenth session's
    fresh-clone run): beyond ±2^53 an integer is its decimal text, in dicts, lists and tuples at any depth, numpy
    integers included; 2^53 itself, booleans, floats, text and None stay as they are."""
    from labelguard.tasks.manifest import JSON_SAFE_INT, json_safe

    big = 2**53 + 1
    assert JSON_SAFE_INT == 9007199254740992
    data = {"ids": [big, -big, 2**53, -(2**53), np.int64(big), True, 1.5, "x", None], "nested": {"t": (big, 3)}, "n": np.int64(7)}
    out = json_safe(data)
    assert out == {"ids": ["9007199254740993", "-9007199254740993", 2**53, -(2**53), "9007199254740993", True, 1.5, "x", None],
                   "nested": {"t": ["9007199254740993", 3]}, "n": 7}
    assert type(out["n"]) is int and out["ids"][5] is True


def test_an_old_verify_key_folder_names_only_its_own_flag(tmp_path):
    """``--old-verify-key`` has no variable: a folder given to it names the key file inside and the flag alone, while
    ``--verify-key`` names ``LABELGUARD_VERIFY_KEY / --verify-key`` (``_refuse_key_folder`` 8, ``load_verify_key`` 15
    of the fifteenth session's fresh-clone run)."""
    from labelguard.tasks.manifest import generate_keypair, load_verify_key

    generate_keypair(tmp_path)
    with pytest.raises(KeyProblem) as err:
        load_verify_key(tmp_path, flag="--old-verify-key")
    assert str(err.value) == (f"verify key {tmp_path} is a folder, not a key file (fix: point --old-verify-key at {tmp_path / 'verify.pub'})")
    with pytest.raises(KeyProblem) as err:
        load_verify_key(tmp_path)
    assert str(err.value) == (f"verify key {tmp_path} is a folder, not a key file "
                              f"(fix: point LABELGUARD_VERIFY_KEY / --verify-key at {tmp_path / 'verify.pub'})")


def test_pem_text_given_to_old_verify_key_names_that_flag_alone():
    """``--old-verify-key`` has no variable: PEM text where its path belongs names the flag without a variable before it
    (``_refuse_key_text`` 10, 11 of the fifteenth session's fresh-clone run), and the text is never echoed."""
    from labelguard.tasks.manifest import load_verify_key

    pem = Path("-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAsecret\n-----END PUBLIC KEY-----")
    with pytest.raises(KeyProblem) as err:
        load_verify_key(pem, flag="--old-verify-key")
    assert str(err.value) == ("--old-verify-key holds a PEM key itself, not the path of a verify key file "
                              "(fix: write the key to a file (mode 0600) and point --old-verify-key at that file)")
