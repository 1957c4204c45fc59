"""Break-it round 5 findings 6, 9 and 12 (keys, verify's JSON and messages, seal, --positive-class): each pinned with
its exit code, the exact one-line message and what was (not) written, on small data of our own."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.clirun import invoke


def _signed_dataset(dest: Path, signing_key: Path, *, rows: int = 160, seed: int = 3, dataset_id: str = "fraud-1") -> Path:
    """What `labelguard ingest --positive-class fraud` writes (data + its holdout), through the same plain functions,
    without starting Prefect: ``rows`` rows of two classes spelt fraud/legit (30 % fraud), text ids."""
    from labelguard.tasks.dataset import write_dataset
    from labelguard.tasks.manifest import DatasetRef, load_signing_key
    from labelguard.tasks.sources import load_source, split_holdout
    from labelguard.tasks.storage import open_store

    rng = np.random.default_rng(seed)
    y = rng.random(rows) < 0.3
    frame = pd.DataFrame(rng.normal(0, 1, (rows, 3)) + 3 * y[:, None], columns=["f0", "f1", "f2"])
    frame.insert(0, "txn", [f"T-{i:04d}" for i in range(rows)])
    frame["status"] = np.where(y, "fraud", "legit")
    source = dest.parent / f"{dest.name}.csv"
    frame.to_csv(source, index=False)
    frame, spec, meta = load_source(str(source), id_col="txn", label_col="status", positive_class="fraud")
    train, holdout = split_holdout(frame, spec, 0.25, 0)
    store, key = open_store(str(dest)), load_signing_key(signing_key)
    write_dataset(store.child("holdout"), holdout, spec, key, source=meta, dataset=DatasetRef(dataset_id, "holdout", "holdout"))
    write_dataset(store, train, spec, key, source=meta, dataset=DatasetRef(dataset_id, "data"))
    source.unlink()
    return dest


def _tree(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


@pytest.fixture
def fraud(tmp_path, own_key_env) -> Path:
    return _signed_dataset(tmp_path / "fraud", Path(own_key_env["LABELGUARD_SIGNING_KEY"]))


# ---------------------------------------------------------------- finding 9: --positive-class against the signed one

CONTRADICTS = ("error: --positive-class 'legit' contradicts the dataset's signed positive class 'fraud' "
               "(fix: drop --positive-class (the signed 'fraud' is used), or ingest the data again with --positive-class legit "
               "to make it the positive class)")


@pytest.mark.parametrize("command", ["verify", "pipeline"])
def test_a_positive_class_contradicting_the_signed_one_is_refused_naming_both(tmp_path, own_key_env, fraud, command):
    """`pipeline store/fpois --positive-class legit` reported '+ = share of class legit' on data signed for 'fraud'."""
    before = _tree(tmp_path)
    out = ["--json", tmp_path / "v.json"] if command == "verify" else ["--out", tmp_path / "rep", "--observe"]
    result = invoke(command, fraud, "--positive-class", "legit", *out, env=own_key_env)
    assert result.exit_code == 2, result.output
    assert result.output.strip() == CONTRADICTS
    assert _tree(tmp_path) == before


def test_the_signed_positive_class_named_again_is_taken_and_a_tampered_manifest_is_not_a_usage_error(tmp_path, own_key_env, fraud):
    """Naming the signed class is fine; a manifest whose positive class an attacker rewrote is tampering (exit 1), not exit 2."""
    from labelguard.tasks.classes import refuse_positive_against_signed
    from labelguard.tasks.dataset import read_manifest
    from labelguard.tasks.storage import open_store

    spec = read_manifest(open_store(str(fraud))).spec
    refuse_positive_against_signed(spec, "fraud")  # the signed class again: no refusal
    refuse_positive_against_signed(spec, None)
    manifest = json.loads((fraud / "manifest.json").read_text())
    manifest["payload"]["columns"]["positive_class"] = "legit"
    (fraud / "manifest.json").write_text(json.dumps(manifest))
    result = invoke("verify", fraud, "--positive-class", "fraud", "--guards", "manifest", env=own_key_env)
    assert result.exit_code == 1, result.output
    assert result.output.strip().splitlines()[-1] == "guard fired: manifest"


# ---------------------------------------------------------------- finding 12: verify's JSON says what the exit code says

def test_an_allowed_inconclusive_verdict_is_ok_in_the_json_and_the_reference_used_is_named(tmp_path, own_key_env, fraud):
    """`verify --allow-inconclusive --json` exited 0 while the JSON said `ok: false` with nothing saying the verdict was
    allowed; without --reference the JSON said `reference_uri: null` though the holdout had served as the reference."""
    args = ["verify", fraud, "--guards", "manifest,schema,model_gate"]  # 40 holdout rows: the gate cannot bound 2 points
    result = invoke(*args, "--allow-inconclusive", "--json", tmp_path / "allowed.json", env=own_key_env)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1] == "cannot tell, allowed by --allow-inconclusive: exit 0"
    doc = json.loads((tmp_path / "allowed.json").read_text())
    assert (doc["ok"], doc["verdict"], doc["allowed_inconclusive"]) == (True, "inconclusive", True)
    assert (doc["reference_uri"], doc["reference_is_holdout"], doc["holdout_uri"]) == (str(fraud / "holdout"), True, str(fraud / "holdout"))
    result = invoke(*args, "--json", tmp_path / "closed.json", env=own_key_env)
    assert result.exit_code == 1, result.output
    doc = json.loads((tmp_path / "closed.json").read_text())
    assert (doc["ok"], doc["verdict"], doc["allowed_inconclusive"]) == (False, "inconclusive", False)
    result = invoke(*args, "--reference", fraud / "holdout", "--json", tmp_path / "given.json", "--allow-inconclusive", env=own_key_env)
    doc = json.loads((tmp_path / "given.json").read_text())
    assert (doc["reference_uri"], doc["reference_is_holdout"]) == (str(fraud / "holdout"), False)


# ---------------------------------------------------------------- finding 6: seal under another key pair, key rotation

@pytest.fixture
def rotation(tmp_path, own_key_env):
    """A dataset signed by the old pair (own_key_env) and the environment of the new pair."""
    from labelguard.tasks.manifest import generate_keypair

    signing, verify = generate_keypair(tmp_path / "new")
    new_env = {"LABELGUARD_SIGNING_KEY": str(signing), "LABELGUARD_VERIFY_KEY": str(verify)}
    return _signed_dataset(tmp_path / "d", Path(own_key_env["LABELGUARD_SIGNING_KEY"])), new_env


def _ids(env):
    from labelguard.tasks.manifest import key_id, load_verify_key

    return key_id(load_verify_key(Path(env["LABELGUARD_VERIFY_KEY"])))


def _bytes(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_seal_of_data_signed_by_another_pair_refuses_and_names_the_rotation(tmp_path, own_key_env, rotation):
    """`seal` under the new key said 'nothing changed since version 1 of …: not re-signed' (exit 0) on data signed by the old pair."""
    ds, new_env = rotation
    before = _bytes(tmp_path)
    result = invoke("seal", ds, env=new_env)
    assert result.exit_code == 2, result.output
    assert result.output.strip() == (
        f"error: the manifest of {ds} is signed by key {_ids(own_key_env)}, not by the signing key's pair (key {_ids(new_env)}): "
        "sealing would re-sign data no key of yours has verified (fix: to move it to the new key pair, verify and re-sign it with "
        f"`labelguard seal {ds} --rotate --old-verify-key OLD/verify.pub`; to approve a change, seal with the key that signed it)")
    assert _bytes(tmp_path) == before


def test_seal_rotate_verifies_under_the_old_key_then_re_signs_data_and_holdout_as_next_version(tmp_path, own_key_env, rotation):
    from labelguard.tasks.dataset import load_verified, read_manifest
    from labelguard.tasks.manifest import load_verify_key
    from labelguard.tasks.storage import LocalStore

    ds, new_env = rotation
    old_pub = own_key_env["LABELGUARD_VERIFY_KEY"]
    data_before = {k: v for k, v in _bytes(ds).items() if k.endswith("data.parquet")}
    result = invoke("seal", ds, "--rotate", "--old-verify-key", old_pub, env=new_env)
    assert result.exit_code == 0, result.output
    old_id, new_id = _ids(own_key_env), _ids(new_env)
    assert result.stdout.splitlines() == [
        f"rotated {ds}: dataset fraud-1 version 2 (data) verified under key {old_id}, re-signed by key {new_id}",
        f"rotated {ds / 'holdout'}: dataset fraud-1 version 2 (holdout) verified under key {old_id}, re-signed by key {new_id}"]
    new_key = load_verify_key(Path(new_env["LABELGUARD_VERIFY_KEY"]))
    for part in (ds, ds / "holdout"):
        assert load_verified(LocalStore(part), new_key).ok
        m = read_manifest(LocalStore(part))
        assert (m.key_id, m.payload["dataset"]["version"], m.payload["source"]["rotated_from"]) == (new_id, 2, old_id)
    assert {k: v for k, v in _bytes(ds).items() if k.endswith("data.parquet")} == data_before  # the objects are not rewritten
    again = invoke("seal", ds, "--rotate", "--old-verify-key", old_pub, env=new_env)  # finished already: nothing re-signed
    assert again.exit_code == 0, again.output
    assert again.stdout.splitlines() == [f"{ds}: already signed by key {new_id}: not re-signed",
                                         f"{ds / 'holdout'}: already signed by key {new_id}: not re-signed"]
    assert invoke("verify", ds, "--guards", "manifest", env=new_env).exit_code == 0


def test_seal_rotate_never_re_signs_data_that_fails_under_the_old_key(tmp_path, own_key_env, rotation):
    ds, new_env = rotation
    assert invoke("tamper", ds, "--attack", "random", "--rate", "0.05", "--truth-out", tmp_path / "t.json", env=own_key_env).exit_code == 0
    before = _bytes(tmp_path)
    result = invoke("seal", ds, "--rotate", "--old-verify-key", own_key_env["LABELGUARD_VERIFY_KEY"], env=new_env)
    assert result.exit_code == 1, result.output
    line = result.output.strip()
    assert line.startswith(f"guard fired: manifest fired, cannot be trusted ({ds} does not verify under the old verify key "
                           f"(key {_ids(own_key_env)}): digest-mismatch: ")
    assert line.endswith("; nothing was re-signed) (fix: restore the data from a signed copy, or approve the change with the old key first "
                         "(`labelguard seal URI` with the old signing key), then rotate)")
    assert _bytes(tmp_path) == before


@pytest.mark.parametrize(("args", "line"), [
    (["--rotate"], "error: --rotate needs --old-verify-key: the data is verified under the old key before it is re-signed "
                   "(fix: pass --old-verify-key with the verify.pub of the pair that signed the data)"),
    (["--old-verify-key", "OLD"], "error: --old-verify-key applies only with --rotate (fix: pass --rotate to re-sign {ds} under the new key pair, "
                                  "or drop --old-verify-key)"),
])
def test_seal_rotate_options_go_together(tmp_path, own_key_env, rotation, args, line):
    ds, new_env = rotation
    before = _bytes(tmp_path)
    result = invoke("seal", ds, *[own_key_env["LABELGUARD_VERIFY_KEY"] if a == "OLD" else a for a in args], env=new_env)
    assert result.exit_code == 2, result.output
    assert result.output.strip() == line.format(ds=ds)
    assert _bytes(tmp_path) == before


def test_a_verify_key_given_twice_is_refused_not_the_last_one_taken(tmp_path, own_key_env, rotation):
    ds, new_env = rotation
    old_pub, new_pub = own_key_env["LABELGUARD_VERIFY_KEY"], new_env["LABELGUARD_VERIFY_KEY"]
    result = invoke("verify", ds, "--verify-key", old_pub, f"--verify-key={new_pub}", "--json", tmp_path / "v.json", env=own_key_env)
    assert result.exit_code == 2, result.output
    assert result.output.strip() == (
        f"error: --verify-key given 2 times ({old_pub}, {new_pub}): labelguard takes one key there, not several (fix: pass --verify-key once "
        "(to move signed data to a new key pair, re-sign it with `labelguard seal URI --rotate --old-verify-key OLD/verify.pub`))")
    assert not (tmp_path / "v.json").exists()


# ---------------------------------------------------------------- finding 12: messages and JSON figures

def test_a_missing_bucket_names_the_endpoint_that_was_asked(tmp_path, own_key_env, s3_endpoint):
    """`no dataset at s3://bkt5/p1: bucket 'bkt5' does not exist` did not say which of the three endpoint settings won."""
    fix = ("(fix: check the URI and the endpoint (--endpoint-url, else AWS_ENDPOINT_URL_S3, else AWS_ENDPOINT_URL, else AWS), "
           "or ingest a dataset there first)")
    result = invoke("verify", "s3://fixleft-c-no-bucket/p1", "--endpoint-url", s3_endpoint, env=own_key_env)
    assert result.exit_code == 2, result.output
    assert result.output.strip() == f"error: no dataset at s3://fixleft-c-no-bucket/p1: bucket 'fixleft-c-no-bucket' does not exist on the S3 endpoint {s3_endpoint} {fix}"


@pytest.mark.parametrize(("option", "line"), [
    (["--guards", "manifest,model-gate"], "error: unknown guard 'model-gate' (did you mean 'model_gate'?) (fix: choose one of: class_balance, class_conditional, "
                                          "confident_learning, duplicate_conflicts, knn_consistency, label_contract, manifest, model_gate, reference_model, schema)"),
    (["--guards", "manifest,nope"], "error: unknown guard 'nope' (fix: choose one of: class_balance, class_conditional, "
                                    "confident_learning, duplicate_conflicts, knn_consistency, label_contract, manifest, model_gate, reference_model, schema)"),
])
def test_a_near_miss_guard_name_gets_did_you_mean(tmp_path, own_key_env, fraud, option, line):
    result = invoke("verify", fraud, *option, "--json", tmp_path / "v.json", env=own_key_env)
    assert result.exit_code == 2, result.output
    assert result.output.strip() == line
    assert not (tmp_path / "v.json").exists()


@pytest.mark.parametrize("with_key", [True, False], ids=["keygen-folder", "other-folder"])
def test_a_key_variable_naming_a_folder_points_at_the_key_inside(tmp_path, own_key_env, fraud, with_key):
    """`LABELGUARD_VERIFY_KEY=keys` said `cannot read verify key keys: [Errno 21] Is a directory`."""
    folder = Path(own_key_env["LABELGUARD_VERIFY_KEY"]).parent if with_key else fraud
    fix = (f"point LABELGUARD_VERIFY_KEY / --verify-key at {folder / 'verify.pub'}" if with_key
           else "point LABELGUARD_VERIFY_KEY / --verify-key at the verify.pub in the folder `labelguard keygen --out` made")
    result = invoke("verify", fraud, env={**own_key_env, "LABELGUARD_VERIFY_KEY": str(folder)})
    assert result.exit_code == 2, result.output
    assert result.output.strip() == f"error: verify key {folder} is a folder, not a key file (fix: {fix})"
    signing_folder = Path(own_key_env["LABELGUARD_SIGNING_KEY"]).parent
    result = invoke("seal", fraud, "--signing-key", signing_folder, env=own_key_env)
    assert result.exit_code == 2, result.output
    assert result.output.strip() == (f"error: signing key {signing_folder} is a folder, not a key file "
                                     f"(fix: point LABELGUARD_SIGNING_KEY / --signing-key at {signing_folder / 'signing.key'})")


def test_power_and_rate_figures_are_written_rounded_but_decided_unrounded():
    """verify's JSON said `power: 0.47000000000000003`, `class_power.bronze: 0.07500000000000001`, `noise_rate: 5.5e-12`."""
    from labelguard.tasks.guards import GuardResult
    from labelguard.tasks.verify import VerifyReport

    g = GuardResult("class_balance", True, "x", power=0.47000000000000003, class_power={"bronze": 0.07500000000000001, "platinum": 0.47000000000000003})
    report = VerifyReport("d", [g], verdict="inconclusive", class_power={"bronze": 0.07500000000000001, "gold": 0.28500000000000003},
                          noise_rate=5.475791671945748e-12)
    text = json.dumps(report.to_dict())
    doc = json.loads(text)
    assert (doc["class_power"], doc["noise_rate"]) == ({"bronze": 0.075, "gold": 0.285}, 0.0)
    assert (doc["guards"][0]["power"], doc["guards"][0]["class_power"]) == (0.47, {"bronze": 0.075, "platinum": 0.47})
    assert "0000000" not in text
    assert (g.power, report.class_power["gold"]) == (0.47000000000000003, 0.28500000000000003)  # what decisions use is untouched


# ---------------------------------------------------------------- finding 12: pipeline --out into a signed dataset

@pytest.mark.parametrize("where", ["uri", "inside-uri", "holdout", "reference"])
def test_pipeline_out_inside_a_signed_dataset_is_refused_before_anything_runs(tmp_path, own_key_env, fraud, where):
    """`pipeline store/tiers --out store/tiers` wrote report.* and boundaries.png beside the signed objects, exit 0."""
    trusted = _signed_dataset(tmp_path / "base", Path(own_key_env["LABELGUARD_SIGNING_KEY"]), dataset_id="base-1") / "holdout"
    out, named, extra = {"uri": (fraud, fraud, []), "inside-uri": (fraud / "holdout" / "rep", fraud, []),
                         "holdout": (trusted / "rep", trusted, ["--holdout", trusted]),
                         "reference": (trusted, trusted, ["--reference", trusted])}[where]
    before = _bytes(tmp_path)
    result = invoke("pipeline", fraud, *extra, "--observe", "--out", out, env=own_key_env)
    assert result.exit_code == 2, result.output
    assert result.output.strip() == (f"error: --out {out} is inside the dataset {named}: the report files would land beside the signed data "
                                     "(fix: write the report outside the store)")
    assert _bytes(tmp_path) == before


def test_seal_refuses_a_signing_key_of_another_pair_than_the_verify_key(tmp_path, own_key_env, rotation):
    """As ingest since r5: a slip in --signing-key would re-sign data that every verify then reads as signed by an unknown key."""
    ds, new_env = rotation
    before = _bytes(tmp_path)
    result = invoke("seal", ds, "--signing-key", new_env["LABELGUARD_SIGNING_KEY"], env=own_key_env)
    assert result.exit_code == 2, result.output
    assert result.output.strip() == (
        f"error: the signing key {new_env['LABELGUARD_SIGNING_KEY']} (key {_ids(new_env)}) is not the pair of the verify key "
        f"{own_key_env['LABELGUARD_VERIFY_KEY']} (key {_ids(own_key_env)}): every verify would report the data as signed by an unknown key "
        "(fix: point the signing key and LABELGUARD_VERIFY_KEY / --verify-key at one `labelguard keygen` folder)")
    assert _bytes(tmp_path) == before
