"""`labelguard verify` end to end: at-rest tampering is caught and localized exactly; clean data passes."""

import json

import pytest
from typer.testing import CliRunner

from labelguard.cli import app
from labelguard.tasks import attacks
from labelguard.tasks.dataset import write_dataset
from labelguard.tasks.manifest import ColumnSpec, DatasetRef, load_signing_key, load_verify_key
from labelguard.tasks.storage import open_store
from labelguard.tasks.synthetic import make_reviews
from labelguard.tasks.verify import make_baseline, verify_dataset

runner = CliRunner()


@pytest.fixture(params=["local", "s3"])
def stored(request, tmp_path, keys):
    if request.param == "local":
        base = str(tmp_path)
    else:
        base = request.getfixturevalue("s3_uri")
    ds, ref_src, ref = f"{base}/ds", f"{base}/trusted", f"{base}/baseline"
    sign = load_signing_key(keys[0])
    for uri, frame in ((ds, make_reviews(3000, seed=1)), (ref_src, make_reviews(1000, seed=2))):
        store = open_store(uri)
        store.ensure_writable()
        write_dataset(store, frame, ColumnSpec(), sign, source={"kind": "synthetic"})
    make_baseline(ref_src, ref, load_verify_key(keys[1]), sign)
    return ds, ref


def _verify(ds, ref, keys, tmp_path, *extra):
    out = tmp_path / "v.json"
    res = runner.invoke(app, ["verify", ds, "--reference", ref, "--json", str(out), "--verify-key", str(keys[1]), *extra])
    return res, json.loads(out.read_text()) if out.exists() else None


def test_clean_dataset_passes_every_guard(stored, keys, tmp_path):
    res, doc = _verify(*stored, keys, tmp_path)
    assert res.exit_code == 0, res.output
    # the pooled flip posterior still names the few rows most likely flipped; on clean data they are a sliver
    assert doc["ok"] and doc["verdict"] == "pass" and len(doc["suspect_ids"]) <= 15
    assert {g["name"] for g in doc["guards"] if not g["skipped"]} >= {"manifest", "class_conditional", "reference_model", "model_gate"}


# every pair of (attack, store), (attack, forged manifest or not) and (store, forged or not) once: 14 runs, not the
# 28 of the full cross (localization reads the signed sidecar, so which attack chose the rows is not what varies it)
AT_REST = [(store, (i % 2 == 0) == (store == "s3"), attack) for i, attack in enumerate(sorted(attacks.REGISTRY)) for store in ("local", "s3")]


@pytest.mark.parametrize(("stored", "forge", "attack"), AT_REST, indirect=["stored"])
def test_at_rest_tampering_is_localized_exactly(stored, keys, tmp_path, attack, forge):
    ds, ref = stored
    truth = tmp_path / "truth.json"
    args = ["tamper", ds, "--attack", attack, "--rate", "0.01", "--seed", "5", "--truth-out", str(truth)] + (["--forge-manifest"] if forge else [])
    assert runner.invoke(app, args).exit_code == 0
    res, doc = _verify(ds, ref, keys, tmp_path)
    assert res.exit_code == 1
    flipped = sorted(f["id"] for f in json.loads(truth.read_text())["flipped"])
    manifest = next(g for g in doc["guards"] if g["name"] == "manifest")
    assert manifest["detail"].startswith("bad-signature" if forge else "digest-mismatch")
    # the sidecar carries its own signature, so even a forged manifest does not hide which rows changed
    assert sorted(doc["suspect_ids"]) == flipped and doc["suspects_from"] == ["manifest"]


def test_resigned_manifest_still_localized(stored, keys, tmp_path, other_keys):
    ds, ref = stored
    truth = tmp_path / "truth.json"
    runner.invoke(app, ["tamper", ds, "--attack", "random", "--rate", "0.02", "--truth-out", str(truth), "--resign-key", str(other_keys[0])])
    res, doc = _verify(ds, ref, keys, tmp_path)
    assert res.exit_code == 1
    assert next(g for g in doc["guards"] if g["name"] == "manifest")["detail"].startswith("unknown-key")
    assert sorted(doc["suspect_ids"]) == sorted(f["id"] for f in json.loads(truth.read_text())["flipped"])


def test_source_poisoning_fires_on_content_and_statistics(tmp_path, keys):
    sign, pub = load_signing_key(keys[0]), load_verify_key(keys[1])
    from labelguard.tasks.attacks import flip_labels

    clean = make_reviews(4000, separation=2.8, seed=3)
    poisoned = flip_labels(clean, ColumnSpec(), attack="targeted", rate=0.2, seed=3)
    write_dataset(open_store(str(tmp_path / "ds")), poisoned.frame, ColumnSpec(), sign, source={"kind": "file"})
    write_dataset(open_store(str(tmp_path / "ref")), make_reviews(1000, separation=2.8, seed=4), ColumnSpec(), sign, source={"kind": "file"}, dataset=DatasetRef("ref", role="baseline"))
    report = verify_dataset(str(tmp_path / "ds"), pub, reference_uri=str(tmp_path / "ref"))
    fired = {g.name for g in report.guards if not g.passed}
    assert {"class_balance", "class_conditional", "reference_model"} <= fired and "manifest" not in fired
    truth = set(poisoned.flipped_ids)
    f1 = 2 * len(truth & set(report.suspect_ids)) / (len(truth) + len(report.suspect_ids))
    assert report.suspects_from == ["flip_posterior"] and f1 > 0.8


def test_verify_bad_input_and_untrusted_reference(stored, keys, other_keys, tmp_path):
    ds, ref = stored
    res = runner.invoke(app, ["verify", ds, "--verify-key", str(keys[1]), "--guards", "manifest,nope"])
    assert res.exit_code == 2 and "unknown guard 'nope'" in res.output
    res = runner.invoke(app, ["verify", ds, "--reference", ref, "--verify-key", str(other_keys[1])])
    assert res.exit_code == 1
    assert res.stderr.strip().startswith(f"guard fired: reference fired, cannot be trusted (the reference at {ref} failed verification: unknown-key: ")
    res = runner.invoke(app, ["verify", ds + "-missing", "--verify-key", str(keys[1])])
    assert res.exit_code == 2 and res.stderr.strip().startswith(f"error: no dataset at {ds}-missing")


def test_id_and_label_columns_that_contradict_the_signed_manifest_are_refused(stored, keys, tmp_path):
    ds, _ = stored
    out = tmp_path / "v.json"
    for flag, given, signed, what in (("--label-col", "sentiment", "label", "label"), ("--id-col", "id", "review_id", "id")):
        res = runner.invoke(app, ["verify", ds, "--guards", "manifest", "--json", str(out), "--verify-key", str(keys[1]), flag, given])
        assert res.exit_code == 2, res.output
        assert res.stderr.strip() == f"error: the dataset's signed manifest names {signed!r} as its {what} column, not {given!r} (fix: drop {flag}: it applies only to data without a manifest)"
        assert not out.exists()
    # naming the columns the manifest names is fine
    res = runner.invoke(app, ["verify", ds, "--guards", "manifest", "--verify-key", str(keys[1]), "--label-col", "label", "--id-col", "review_id"])
    assert res.exit_code == 0, res.output
